"""The answer files in tests/answers/ are the realistic deployment profiles
CI renders. Each renders with the documented non-interactive command, passes
the output checks, and its own test suite passes on real PostgreSQL/Redis."""

import pytest
import yaml

from support import output_checks
from support.ci import ci_env, run_script
from support.matrix import question_values
from support.render import ANSWERS_DIR, project_venv, render, run_project_tests

ANSWER_FILES = sorted(ANSWERS_DIR.glob("*.yml"))


def profile_values(path) -> dict:
    data = yaml.safe_load(path.read_text())
    storage = data.get("media_storage", "volume")
    if storage == "s3":
        data["media_storage"] = f"s3:{data.get('s3_provider', 'aws')}"
    return data


def test_answer_files_cover_every_choice_value():
    profiles = [profile_values(path) for path in ANSWER_FILES]
    assert len(profiles) >= 4
    for question, values in question_values().items():
        used = {profile.get(question) for profile in profiles}
        assert set(values) <= used, f"no answer file uses {question}: {set(values) - used}"


@pytest.mark.slow
@pytest.mark.parametrize("answer_file", ANSWER_FILES, ids=lambda path: path.stem)
def test_answer_file_renders_and_runs(answer_file, database_url, redis, tmp_path):
    project = tmp_path / "project"
    # The command docs/generate.md gives for CI renders.
    rendered = render(project, data_file=answer_file, cli=True)
    assert rendered.returncode == 0, rendered.stderr
    venv = project_venv(project)
    assert output_checks.all_problems(project, venv, tmp_path / "work", database_url, redis.url) == []
    # CI's deployment check: the profile's production settings with CI's values.
    check = run_script(project, "ci/check-deploy.sh", ci_env(project, venv, database_url, redis.url))
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    suite = run_project_tests(project, venv, database_url, redis.url, "-q")
    assert suite.returncode == 0, suite.stdout[-5000:]
