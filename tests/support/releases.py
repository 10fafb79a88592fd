"""The template's releases, and a clone of the template that has them.

Tags may not travel between machines; CHANGELOG.md names each release's
commit, so the update tests tag those commits in a clone of their own. The
clone's HEAD is this working tree as it is, uncommitted changes included.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from packaging.version import Version

from .binaries import require
from .facts import copier_config
from .render import TEMPLATE_ROOT

RELEASE_LINE = re.compile(r"^## (v\d+\.\d+\.\d+) \(commit ([0-9a-f]{40})\)$", re.MULTILINE)
# A migration that renames an answer runs this hook with OLD NEW after the answers file.
RENAME_HOOK = "hooks/migrations/rename_answer.py"

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "Template tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **GIT_IDENTITY},
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{result.stdout}{result.stderr}")
    return result.stdout


def run_update(project: Path, *args: str, copier_alone: bool = False) -> subprocess.CompletedProcess:
    """The project's scripts/update-template.sh ARGS, as its README runs it;
    with copier_alone (or in a render of a release before the script),
    `copier update --defaults --trust ARGS`. The tests' Copier is on PATH."""
    copier = require("copier")
    script = project / "scripts" / "update-template.sh"
    command = [copier, "update", "--defaults", "--trust"] if copier_alone or not script.exists() else [str(script)]
    return subprocess.run(
        [*command, *args],
        cwd=project,
        env={**os.environ, **GIT_IDENTITY, "PATH": f"{Path(copier).parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def releases() -> list[tuple[str, str]]:
    """(tag, commit) of every release in CHANGELOG.md, oldest first."""
    found = RELEASE_LINE.findall((TEMPLATE_ROOT / "CHANGELOG.md").read_text())
    return sorted(found, key=lambda release: Version(release[0]))


def clone_with_releases(destination: Path) -> Path:
    """A clone of the template whose tags are the CHANGELOG's releases and whose
    HEAD holds the working tree (a commit on top when it differs)."""
    git(destination.parent, "clone", "--quiet", "--no-tags", str(TEMPLATE_ROOT), destination.name)
    for tag, commit in releases():
        git(destination, "tag", tag, commit)
    wanted = git(TEMPLATE_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    wanted = {name for name in wanted if name and (TEMPLATE_ROOT / name).is_file()}
    for name in git(destination, "ls-files", "-z").split("\0"):
        if name and name not in wanted:
            (destination / name).unlink()
    for name in wanted:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TEMPLATE_ROOT / name, target)
    git(destination, "add", "--all")
    if git(destination, "status", "--porcelain"):
        git(destination, "commit", "--quiet", "--message", "The template's working tree")
    return destination


def answer_renames() -> list[tuple[Version, str, str]]:
    """(release, old name, new name) of each answer that a migration renames."""
    config = copier_config()
    renames = []
    for migration in config.get("_migrations", []):
        command = migration["command"]
        hooks = [index for index, part in enumerate(command) if str(part).endswith(RENAME_HOOK)]
        if hooks:
            old, new = command[hooks[0] + 2 : hooks[0] + 4]
            renames.append((Version(migration["version"]), old, new))
    return renames


def answers_at(release: str, answers: dict) -> dict:
    """HEAD's answers under the names that `release` used."""
    renamed = dict(answers)
    for version, old, new in sorted(answer_renames(), reverse=True):
        if version > Version(release) and new in renamed:
            renamed[old] = renamed.pop(new)
    return renamed
