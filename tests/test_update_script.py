"""The rendered scripts/update-template.sh: it reports a newer release, and
fails naming the file when the owner edited a template-owned line that the
next release changes (Copier itself exits 0 there)."""

from pathlib import Path

import pytest
from packaging.version import Version

from support.releases import git, releases, run_update
from support.render import TEMPLATE_ROOT, render

OWNER_LINE = "# Our own build notes\n"
RELEASE_LINE = "# Container image, changed by the next release\n"


def replace_first_line(path: Path, line: str) -> None:
    path.write_text(line + path.read_text().split("\n", 1)[1])


@pytest.fixture
def conflicting(template_clone, tmp_path):
    """A project rendered at HEAD whose owner edited the Dockerfile's first
    line, and a template (its own clone) that has not released yet."""
    template = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(template_clone), template.name)
    project = render(tmp_path / "project", vcs_ref="HEAD", template=template)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "Rendered")
    replace_first_line(project / "Dockerfile", OWNER_LINE)
    git(project, "commit", "--quiet", "--all", "--message", "The owner edits a template-owned line")
    return template, project


def release_next(template: Path) -> str:
    """Change the Dockerfile's first line and tag a release above every other."""
    newest = max(Version(tag) for tag in git(template, "tag", "--list", "v*").split())
    tag = f"v{newest.major}.{newest.minor + 1}.0"
    replace_first_line(template / "template" / "Dockerfile.jinja", RELEASE_LINE)
    git(template, "commit", "--quiet", "--all", "--message", "The next release changes the Dockerfile's first line")
    git(template, "tag", tag)
    return tag


def test_check_reports_a_newer_release(conflicting):
    template, project = conflicting
    result = run_update(project, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Up to date with the template" in result.stdout

    tag = release_next(template)
    result = run_update(project, "--check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"Template {tag.lstrip('v')} is out" in result.stdout


def test_a_conflict_fails_the_update_and_names_the_file(conflicting):
    template, project = conflicting
    release_next(template)

    # Copier alone: exit 0, with the conflict left in the file.
    copier = run_update(project, copier_alone=True)
    assert copier.returncode == 0, copier.stderr
    assert "<<<<<<< before updating" in (project / "Dockerfile").read_text()
    git(project, "reset", "--quiet", "--hard", "HEAD")

    result = run_update(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Dockerfile: unmerged" in result.stderr
    assert "Dockerfile: conflict markers" in result.stderr
    assert "Updated cleanly" not in result.stdout


def test_rejected_hunks_fail_the_update_and_name_the_file(conflicting):
    template, project = conflicting
    release_next(template)
    result = run_update(project, "--conflict", "rej")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Dockerfile.rej: hunks that did not apply" in result.stderr
    # Copier took the release's line and put the owner's into the .rej file.
    assert (project / "Dockerfile").read_text().startswith(RELEASE_LINE)
    assert OWNER_LINE.strip() in (project / "Dockerfile.rej").read_text()


def test_update_refuses_a_dirty_tree(conflicting):
    template, project = conflicting
    release_next(template)
    (project / "notes.txt").write_text("not committed\n")
    result = run_update(project)
    assert result.returncode == 1
    assert "Commit or stash your changes first" in result.stderr
    assert (project / "Dockerfile").read_text().startswith(OWNER_LINE)


def test_the_script_keeps_its_bytes_up_to_copier_update_for_every_release():
    """bash reads a script as it runs it, and `copier update` rewrites this
    one: the old copy, which runs the update, reads on at the same byte
    offset of the new file. So every byte up to the end of the `copier
    update` line must stay as in each release that has the script, or the
    update ends in the middle of a line ("command not found")."""
    path = "template/scripts/update-template.sh"
    head = "\ncopier update --defaults --trust"
    now = (TEMPLATE_ROOT / path).read_text()
    assert head in now
    prefix = now[: now.index("\n", now.index(head) + 1) + 1]
    compared = 0
    for tag, commit in releases():
        try:
            old = git(TEMPLATE_ROOT, "show", f"{commit}:{path}")
        except RuntimeError:
            continue  # the release before the script existed
        assert old.startswith(prefix), f"{tag}'s script differs before its `copier update` line"
        compared += 1
    assert compared >= 2
