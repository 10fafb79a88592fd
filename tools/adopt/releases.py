"""Where the template is and which of its commits to adopt.

Releases are git tags, but tags do not always travel with a clone; the
template's CHANGELOG names each release's commit. In a local clone that
lacks them, the release tags are made from those lines, because `copier
update` later looks the recorded release up by its tag.
"""

import re
import subprocess
from pathlib import Path

from . import AdoptionError

RELEASE_LINE = re.compile(r"^## (v\d+\.\d+\.\d+) \(commit ([0-9a-f]{40})\)$", re.MULTILINE)


def git(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=False)


def resolve(template: str, vcs_ref: str | None) -> tuple[str, str | None, list[str]]:
    """(template location, ref to render, notes)."""
    path = Path(template).expanduser()
    if not path.exists():
        if re.match(r"^([a-z+]+://|git@|gh:|gl:)", template):
            return template, vcs_ref, []
        raise AdoptionError(
            f"--template {template}: no such directory; give the path of your clone of the template "
            "(e.g. ~/src/obcms-deployment-template) or its git URL"
        )
    if git(path, "rev-parse", "--git-dir").returncode != 0:
        raise AdoptionError(f"--template {template} is not a git clone; `copier update` needs one (git clone it)")
    changelog = path / "CHANGELOG.md"
    releases = dict(RELEASE_LINE.findall(changelog.read_text())) if changelog.is_file() else {}
    tags = set(git(path, "tag", "--list").stdout.split())
    notes, made = [], []
    for tag, commit in releases.items():
        if tag in tags:
            continue
        if git(path, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
            if vcs_ref == tag:
                raise AdoptionError(
                    f"release {tag} (commit {commit[:12]}) is not in {path}: fetch the template's whole "
                    "history (git fetch --unshallow) and run again"
                )
            continue
        if git(path, "tag", tag, commit).returncode == 0:
            made.append(tag)
    if made:
        notes.append(
            f"tagged the releases {', '.join(made)} in {path} from its CHANGELOG (the clone had no tags; "
            "copier update finds releases by their tags)"
        )
    ref = vcs_ref or "HEAD"
    if git(path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        known = ", ".join(sorted(releases)) or "none listed in its CHANGELOG"
        raise AdoptionError(f"--vcs-ref {ref} is neither a release nor a commit of {path} (releases: {known})")
    return str(path.resolve()), ref, notes
