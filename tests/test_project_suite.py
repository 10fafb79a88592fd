"""The rendered project's own test suite passes on a real PostgreSQL and Redis."""

import re

from support.render import run_project_tests


def test_rendered_test_suite_passes(project_copy, venv, database_url, redis):
    result = run_project_tests(project_copy, venv, database_url, redis.url, "-q")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    assert passed >= 30, result.stdout[-2000:]
    assert "skipped" not in result.stdout
