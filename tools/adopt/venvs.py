"""Virtualenvs the settings are evaluated in, made once per set of
requirements (named by a hash of the requirement files, as the template's
tests name theirs, so that both reuse the same ones)."""

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

from . import AdoptionError


def requirement_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def venv_with(files: list[Path], install: Path, cache: Path) -> Path:
    """A virtualenv with `install` (a requirements file) installed, cached
    under `cache` by the content of `files`; its python."""
    venv = cache / requirement_digest(files)
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
            result = subprocess.run(
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                    str(install.resolve()),
                ],
                cwd=install.parent,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
                last = (errors or result.stderr.strip().splitlines() or ["no output"])[-1]
                raise AdoptionError(f"pip could not install {install.name}: {last}")
            (venv / ".complete").touch()
    return venv / "bin" / "python"
