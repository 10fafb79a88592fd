"""Finding the programs the tests run; a missing one fails the test loudly."""

import glob
import shutil
import sys
from pathlib import Path

import pytest

INSTALL_HINT = "install it with bin/test (which apt-get/pip installs everything) or see docs/develop.md"


def require(name: str, *fallback_globs: str) -> str:
    """Path of a program: beside the running Python (tools installed with
    the test requirements), on PATH, or from the given globs (newest first)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    for pattern in fallback_globs:
        matches = sorted(glob.glob(pattern), reverse=True)
        if matches:
            return matches[0]
    pytest.fail(f"'{name}' is needed by this test and was not found: {INSTALL_HINT}", pytrace=False)


def postgres_bin(name: str) -> str:
    """initdb, postgres, pg_ctl...: Debian keeps them out of PATH."""
    return require(name, f"/usr/lib/postgresql/*/bin/{name}")


def venv_bin(venv: Path, name: str) -> str:
    path = venv / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing from the project's virtualenv", pytrace=False)
    return str(path)
