"""The template repository's own code is as clean as what it renders."""

import json
import re
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
    result = run(
        require("shellcheck"), *scripts, str(TEMPLATE_ROOT / ".ci" / "run"), str(TEMPLATE_ROOT / "bench" / "run")
    )
    assert result.returncode == 0, result.stdout


def test_workflows_pass_actionlint():
    workflows = sorted(str(path) for path in (TEMPLATE_ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = run(require("actionlint"), *workflows)
    assert result.returncode == 0, result.stdout


def test_ci_workflow_renders_every_answer_file(tmp_path):
    """The profile jobs' matrix is what the list job's step writes: run that step."""
    workflow = yaml.safe_load((TEMPLATE_ROOT / ".github" / "workflows" / "profiles.yml").read_text())
    matrix = workflow["jobs"]["profile"]["strategy"]["matrix"]
    assert matrix["profile"] == "${{ fromJSON(needs.list.outputs.profiles) }}"
    step = next(step for step in workflow["jobs"]["list"]["steps"] if step.get("id") == "answers")
    output = tmp_path / "github_output"
    env = {"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"}
    ran = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=TEMPLATE_ROOT, env=env, check=False)
    assert ran.returncode == 0
    name, _, value = output.read_text().strip().partition("=")
    assert name == "profiles"
    listed = json.loads(value)
    files = sorted(path.stem for path in (TEMPLATE_ROOT / "tests" / "answers").glob("*.yml"))
    assert sorted(listed) == files


def test_every_github_action_is_pinned_by_commit_with_its_tag_named(default_project):
    """A tag can be moved to other code, a commit cannot: the template's own
    workflows and the rendered ones use actions by commit, the tag beside."""
    pinned = re.compile(r"^\s*- uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
    workflows = [*(TEMPLATE_ROOT / ".github" / "workflows").glob("*.yml")]
    workflows += [*(default_project / ".github" / "workflows").glob("*.yml")]
    uses = [line for path in workflows for line in path.read_text().splitlines() if "uses:" in line]
    assert len(uses) >= 5
    assert [line for line in uses if not pinned.match(line)] == []
