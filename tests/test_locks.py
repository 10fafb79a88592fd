"""Requirements are installed from lock files, every file's hash checked
(pip --require-hashes): by the image, the README's commands and the
template-update workflow. The template's locks (template/requirements/
*.lock.jinja, written by tools/lock_requirements.py) hold exactly the pins of
each render's requirements files, and are what the render's own
scripts/lock-requirements.sh makes of them. The venvs of these tests and the
container tier's images install from them."""

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.binaries import require
from support.render import render

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.MULTILINE)
LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", re.M)
LOCKS = ("build", "production", "development", "copier")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: Path, name: str) -> dict[str, str]:
    """name -> version of a requirements file and the files it includes (-r)."""
    found = {}
    for line in (requirements / f"{name}.txt").read_text().splitlines():
        if line.startswith("-r "):
            found |= pins(requirements, line.split()[1].removesuffix(".txt"))
        elif match := PIN.match(line):
            found[normalized(match.group(1))] = match.group(2)
    return found


def locked(lock: Path) -> dict[str, str]:
    """name -> version of a lock file, every package with at least one hash."""
    text = lock.read_text()
    entries = {normalized(name): version for name, version, _ in LOCKED.findall(text)}
    assert len(entries) == len(re.findall(r"^[A-Za-z0-9]", text, re.M)), f"{lock.name}: a package without hashes"
    return entries


# Every combination of the answers that change what is pinned (native pool,
# S3, Flower), each with other answers that do not (or should not).
COMBINATIONS = [
    {"db_pooling": pooling, "media_storage": storage, "use_flower": flower, **others}
    for (pooling, storage, flower), others in zip(
        itertools.product(["pgbouncer", "native"], ["volume", "s3"], [False, True]),
        itertools.cycle([{"python_version": "3.12"}, {"deploy_target": "coolify"}, {}]),
        strict=False,
    )
]


@pytest.mark.parametrize("combination", COMBINATIONS, ids=lambda answers: "-".join(map(str, answers.values())))
def test_each_lock_pins_what_the_requirements_pin(combination, tmp_path):
    project = render(tmp_path / "project", combination)
    requirements = project / "requirements"
    for name in LOCKS:
        wanted, have = pins(requirements, name), locked(requirements / f"{name}.lock")
        assert {package: have.get(package) for package in wanted} == wanted, name
        if name != "copier":  # the others pin every package they need themselves
            assert have == wanted, name


def test_the_locks_are_what_the_lock_script_makes(default_project, tmp_path):
    """scripts/lock-requirements.sh, run with uv on PyPI: the same files."""
    project = tmp_path / "project"
    shutil.copytree(default_project, project)
    uv_dir = Path(require("uv")).parent
    result = subprocess.run(
        ["sh", "scripts/lock-requirements.sh"],
        cwd=project,
        # The machine's environment: its certificates and proxies reach PyPI.
        env={**os.environ, "PATH": f"{uv_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in LOCKS:
        lock = f"requirements/{name}.lock"
        assert (project / lock).read_text() == (default_project / lock).read_text(), f"{lock} is stale"


def test_the_image_and_the_readme_install_with_hashes(default_project):
    dockerfile = (default_project / "Dockerfile").read_text()
    installs = re.findall(r"pip install [^\n&\\]*", dockerfile)
    for lock in ("build.lock", "production.lock"):
        assert [line for line in installs if f"/tmp/requirements/{lock}" in line and "--require-hashes" in line], lock
    # Every other install only checks (no index to download from).
    assert [line for line in installs if "--require-hashes" not in line and "--no-index" not in line] == []
    readme = (default_project / "README.md").read_text()
    assert "pip install --require-hashes -r requirements/development.lock" in readme
    workflow = (default_project / ".github/workflows/template-update.yml").read_text()
    assert "pip install --require-hashes --requirement requirements/copier.lock" in workflow
