"""Writes the template's lock files: template/requirements/*.lock.jinja.

A rendered project installs its requirements from lock files, every package
with the hashes of its files on PyPI, so `pip install --require-hashes`
refuses anything else. Which packages a render pins depends on a few
answers (OPTIONS), so this renders the template for every combination of
them, has uv compile each render's requirements with the command of the
rendered scripts/lock-requirements.sh, and merges the results into one Jinja
file per lock, each package under the condition that brings it in.

    .venv/bin/python tools/lock_requirements.py [NAME...]

NAMEs (build, production, ...) limit it to those lock files.

Run it after changing a pin in template/requirements/; tests/test_locks.py
fails while a lock is stale. It needs PyPI (uv caches what it fetched).
"""

import itertools
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE_ROOT / "tests"))

from support.binaries import require  # noqa: E402
from support.render import render  # noqa: E402

# The answers that change what requirements/*.txt pin, each with the Jinja
# test that is true when it does.
OPTIONS = {
    "db_pooling": ("native", 'db_pooling == "native"'),
    "media_storage": ("s3", 'media_storage == "s3"'),
    "use_flower": (True, "use_flower"),
}
# The Python versions the image may have (copier.yml's python_version): one
# lock serves both, so uv must pin the same for each.
PYTHON_VERSIONS = ("3.12", "3.13")
VERSION_PLACEHOLDER = "{{ python_version }}"


def lock_names(project: Path) -> list[str]:
    """The lock files the render's scripts/lock-requirements.sh writes, each
    from the requirements file of its name (its `for name in ...` line)."""
    script = (project / "scripts" / "lock-requirements.sh").read_text()
    return re.search(r"^for name in ([\w ]+); do$", script, re.M).group(1).split()


def compile_command(project: Path, name: str, python_version: str) -> list[str]:
    """The uv command of the render's scripts/lock-requirements.sh (run in
    requirements/), for one lock file and one Python version."""
    script = (project / "scripts" / "lock-requirements.sh").read_text()
    line = next(line.strip() for line in script.splitlines() if line.strip().startswith("uv pip compile "))
    command = shlex.split(line.replace("$name", name))
    command[command.index("--python-version") + 1] = python_version
    return command


def compile_lock(project: Path, name: str, python_version: str) -> str:
    """uv's lock of requirements/<name>.txt, in a copy of its own (runs in parallel)."""
    with tempfile.TemporaryDirectory(prefix=f"{name}-{python_version}-") as copy:
        shutil.copytree(project / "requirements", copy, dirs_exist_ok=True)
        command = compile_command(project, name, python_version)
        subprocess.run([require("uv"), *command[1:]], cwd=copy, check=True, timeout=600)
        return (Path(copy) / f"{name}.lock").read_text()


def split_lock(text: str) -> tuple[list[str], dict[str, str]]:
    """uv's header lines, and each package's block by name, in order."""
    header, blocks, current = [], {}, None
    for line in text.splitlines(keepends=True):
        if current is None and line.startswith("#"):
            header.append(line)
            continue
        match = re.match(r"([A-Za-z0-9._-]+)==", line)
        if match:
            current = match.group(1)
            blocks[current] = ""
        if current is None:
            raise ValueError(f"unexpected line in a lock file: {line!r}")
        blocks[current] += line
    return header, blocks


def condition(present: set[tuple], combinations: list[tuple]) -> str | None:
    """The Jinja test under which a package is pinned: None when always; else
    the smallest set of options such that the package is pinned exactly when
    one of them is chosen."""
    if len(present) == len(combinations):
        return None
    names = list(OPTIONS)
    for size in range(1, len(names) + 1):
        for chosen in itertools.combinations(range(len(names)), size):
            if {combo for combo in combinations if any(combo[i] for i in chosen)} == present:
                return " or ".join(OPTIONS[names[i]][1] for i in chosen)
    raise ValueError(f"no combination of {names} brings in exactly these renders: {sorted(present)}")


def lock_template(name: str, renders: dict[tuple, Path]) -> str:
    combinations = list(renders)
    header, merged, present = None, {}, {}
    jobs = {(combo, version): (project, version) for combo, project in renders.items() for version in PYTHON_VERSIONS}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(compile_lock, project, name, version) for key, (project, version) in jobs.items()}
    for combo in renders:
        compiled = {version: futures[(combo, version)].result() for version in PYTHON_VERSIONS}
        bodies = {version: split_lock(text)[1] for version, text in compiled.items()}
        if len({tuple(body.items()) for body in bodies.values()}) != 1:
            raise ValueError(f"{name}.lock differs between Python {' and '.join(PYTHON_VERSIONS)}")
        combo_header, blocks = split_lock(compiled[PYTHON_VERSIONS[-1]])
        latest = f"--python-version {PYTHON_VERSIONS[-1]}"
        header = [line.replace(latest, f"--python-version {VERSION_PLACEHOLDER}") for line in combo_header]
        for package, block in blocks.items():
            if merged.setdefault(package, block) != block:
                raise ValueError(f"{package} is pinned differently depending on the answers")
            present.setdefault(package, set()).add(combo)
    parts = list(header)
    for package in sorted(merged):
        test = condition(present[package], combinations)
        parts += [merged[package]] if test is None else [f"{{% if {test} %}}\n", merged[package], "{% endif %}\n"]
    return "".join(parts)


def main(output: Path, only: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="lock-requirements-") as work:
        renders = {}
        for combo in itertools.product([False, True], repeat=len(OPTIONS)):
            chosen_options = zip(OPTIONS.items(), combo, strict=True)
            answers = {name: value for (name, (value, _)), chosen in chosen_options if chosen}
            renders[combo] = render(Path(work) / "-".join(map(str, map(int, combo))), answers)
        for name in lock_names(next(iter(renders.values()))):
            if only and name not in only:
                continue
            target = output / f"{name}.lock.jinja"
            target.write_text(lock_template(name, renders))
            print(f"wrote {target}")


if __name__ == "__main__":
    main(TEMPLATE_ROOT / "template" / "requirements", sys.argv[1:])
