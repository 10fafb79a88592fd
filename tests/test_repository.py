"""The template repository's own code is as clean as what it renders."""

import subprocess

import yaml

from support.binaries import require
from support.render import TEMPLATE_ROOT


def run(*args):
    return subprocess.run(args, cwd=TEMPLATE_ROOT, capture_output=True, text=True, check=False)


def test_repository_python_passes_ruff():
    check = run(require("ruff"), "check", "--no-cache", ".")
    assert check.returncode == 0, check.stdout
    fmt = run(require("ruff"), "format", "--no-cache", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout


def test_repository_shell_passes_shellcheck():
    scripts = sorted(str(path) for path in (TEMPLATE_ROOT / "bin").iterdir() if path.is_file())
    result = run(require("shellcheck"), *scripts, str(TEMPLATE_ROOT / ".ci" / "run"))
    assert result.returncode == 0, result.stdout


def test_workflows_pass_actionlint():
    workflows = sorted(str(path) for path in (TEMPLATE_ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = run(require("actionlint"), *workflows)
    assert result.returncode == 0, result.stdout


def test_ci_workflow_renders_every_answer_file():
    workflow = yaml.safe_load((TEMPLATE_ROOT / ".github" / "workflows" / "profiles.yml").read_text())
    listed = workflow["jobs"]["profile"]["strategy"]["matrix"]["profile"]
    files = sorted(path.stem for path in (TEMPLATE_ROOT / "tests" / "answers").glob("*.yml"))
    assert sorted(listed) == files
