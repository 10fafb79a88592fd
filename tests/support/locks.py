"""The owner's step after adding a requirement: scripts/lock-requirements.sh
adds it, with the hashes of its files, to the lock files that the image and
the development install read.

Tests whose owner adds a requirement (support/owner.py, the adopted OBCMS)
add to the locks what the script would add for it: uv's lock entry of that
one requirement, made once and kept in .cache/locks. Running the whole
script (four uv runs over PyPI) in every update test would cost minutes;
test_locks.py runs the script itself."""

import fcntl
import hashlib
import subprocess
import tempfile
from pathlib import Path

from .binaries import require
from .render import CACHE_DIR

# The locks that include base.txt, where the owner's requirements go.
OWNER_LOCKS = ("production.lock", "development.lock")


def lock_entry(requirement: str, python_version: str) -> str:
    """uv's lock lines (with hashes) for one requirement and what it needs."""
    key = hashlib.sha256(f"{requirement} {python_version}".encode()).hexdigest()[:16]
    cached = CACHE_DIR / "locks" / f"{key}.lock"
    cached.parent.mkdir(parents=True, exist_ok=True)
    with (cached.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.exists():
            with tempfile.TemporaryDirectory() as work:
                (Path(work) / "owner.txt").write_text(requirement + "\n")
                options = ["--quiet", "--generate-hashes", "--no-annotate", "--no-header", "--python-platform", "linux"]
                subprocess.run(
                    [require("uv"), "pip", "compile", *options, "--python-version", python_version]
                    + ["owner.txt", "-o", "owner.lock"],
                    cwd=work,
                    check=True,
                    timeout=600,
                )
                cached.write_text((Path(work) / "owner.lock").read_text())
    return cached.read_text()


def add_owner_requirement(project: Path, requirement: str, python_version: str) -> None:
    """What scripts/lock-requirements.sh adds to the locks for the owner's
    requirement (nothing when the project has no locks: releases before them)."""
    for name in OWNER_LOCKS:
        lock = project / "requirements" / name
        if lock.exists():
            lock.write_text(lock.read_text() + lock_entry(requirement, python_version))
