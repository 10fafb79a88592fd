"""The owner's step after changing a requirements file: the project's own
scripts/lock-requirements.sh, which writes requirements/*.lock (every
package pinned, with the hashes of its files) for the image and the
development install.

Tests whose owner adds requirements (support/owner.py, the adopted
repositories) run it as the owner would. Its result is kept in
.cache/locks, keyed by the requirement files and the script, so that the
same requirements are locked over PyPI once."""

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from .binaries import require
from .render import CACHE_DIR


def lock_requirements(project: Path) -> None:
    """scripts/lock-requirements.sh in the project (nothing for releases
    before the lock files)."""
    script = project / "scripts" / "lock-requirements.sh"
    if not script.exists():
        return
    requirements = project / "requirements"
    digest = hashlib.sha256(script.read_bytes())
    for path in sorted(requirements.glob("*.txt")):
        digest.update(path.name.encode() + path.read_bytes())
    cached = CACHE_DIR / "locks" / digest.hexdigest()[:16]
    cached.parent.mkdir(parents=True, exist_ok=True)
    with (cached.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cached / ".complete").exists():
            subprocess.run(
                ["sh", str(script)],
                cwd=project,
                # The machine's environment: its certificates and proxies reach PyPI.
                env={**os.environ, "PATH": f"{Path(require('uv')).parent}:{os.environ['PATH']}"},
                check=True,
                capture_output=True,
                timeout=900,
            )
            shutil.rmtree(cached, ignore_errors=True)
            cached.mkdir()
            for path in requirements.glob("*.lock"):
                shutil.copy(path, cached / path.name)
            (cached / ".complete").touch()
    for path in cached.glob("*.lock"):
        shutil.copy(path, requirements / path.name)
