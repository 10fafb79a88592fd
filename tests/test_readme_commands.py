"""The README's demo command works as written."""

import subprocess

from support.render import TEMPLATE_ROOT


def test_bin_demo_check_serves_health_ready_and_the_admin_login():
    result = subprocess.run(
        [str(TEMPLATE_ROOT / "bin" / "demo"), "--check"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Checked: /health/ 200, /ready/ 200, /admin/login/ 200" in result.stdout
    assert "Stopped." in result.stdout
