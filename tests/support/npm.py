"""The npm tools of the tests (tests/npm/package.json, pinned, with its
lockfile), installed once per content into .cache/npm with --ignore-scripts:
no package runs code at install time, and nothing downloads a browser (the
tests use Debian's chromium)."""

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

from .binaries import require
from .render import CACHE_DIR, TEMPLATE_ROOT

SPEC_DIR = TEMPLATE_ROOT / "tests" / "npm"
SPEC_FILES = ("package.json", "package-lock.json")


def npm_tools() -> Path:
    """The directory whose node_modules holds the pinned tools."""
    digest = hashlib.sha256()
    for name in SPEC_FILES:
        digest.update(name.encode() + (SPEC_DIR / name).read_bytes())
    target = CACHE_DIR / "npm" / digest.hexdigest()[:16]
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install once
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            for name in SPEC_FILES:
                shutil.copy(SPEC_DIR / name, target / name)
            result = subprocess.run(
                [require("npm"), "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel", "error"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"npm ci failed in {target}:\n{result.stdout}{result.stderr}")
            # The Observatory's install script would download Chromium's HSTS
            # preload list; with scripts off it needs an empty one.
            (observatory(target) / "conf" / "hsts-preload.json").write_text("{}")
            (target / ".complete").touch()
    return target


def observatory(tools: Path) -> Path:
    return tools / "node_modules" / "@mdn" / "mdn-http-observatory"
