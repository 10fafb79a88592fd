"""The rendered project's own test suite passes on a real PostgreSQL and Redis."""

import re
import subprocess

from support.binaries import venv_bin


def test_rendered_test_suite_passes(project_copy, venv, database_url, redis):
    result = subprocess.run(
        [venv_bin(venv, "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=project_copy,
        env={
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(project_copy),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    assert passed >= 30, result.stdout[-2000:]
    assert "skipped" not in result.stdout
