"""Carrying the owner's requirements into the template's requirement files.

Each of the owner's requirements goes into the marked section of the file
for the same purpose (base, production, development), unless the template
pins the same package (its pin wins: "re-pinned") or it is psycopg2 (the
template uses psycopg 3). The owner's files that the template has no
counterpart for (requirements.txt, requirements/local.txt, ...) are removed
once carried.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import markers

OWNER_SECTION = markers.REQUIREMENTS
OLD_DRIVERS = {"psycopg2", "psycopg2-binary"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PURPOSES = {
    "base": ("base.txt", "common.txt", "requirements.txt"),
    "production": ("production.txt", "prod.txt"),
    "development": (
        "development.txt",
        "dev.txt",
        "local.txt",
        "test.txt",
        "testing.txt",
        "requirements-dev.txt",
        "requirements-test.txt",
    ),
}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    match = NAME.match(line)
    return normalized(match.group()) if match else None


def purpose(path: Path) -> str:
    return next((name for name, files in PURPOSES.items() if path.name in files), "base")


@dataclass
class Requirements:
    carried: dict[str, list[str]] = field(default_factory=dict)  # purpose -> lines
    repinned: list[tuple[str, str, str]] = field(default_factory=list)  # (name, owner's line, template's pin)
    dropped: list[str] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)


def template_pins(render: Path) -> dict[str, str]:
    pins = {}
    for path in sorted((render / "requirements").glob("*.txt")):
        for line in path.read_text().splitlines():
            if name := requirement_name(line):
                pins[name] = line.split("#", 1)[0].strip()
    return pins


def read(owner_files: list[Path], root: Path, render: Path) -> Requirements:
    pins = template_pins(render)
    result = Requirements()
    seen = set()
    for path in owner_files:
        relative = path.relative_to(root).as_posix()
        if not (render / relative).exists():
            result.removed_files.append(relative)
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith(("-r ", "-c ", "--requirement", "--constraint")):
                continue
            name = requirement_name(line)
            if name and name in seen:
                continue
            seen.add(name or line)
            if name in OLD_DRIVERS:
                result.dropped.append(f"{line}: the template uses psycopg 3 (psycopg[c])")
            elif name in pins:
                if line.split("#", 1)[0].strip() != pins[name]:
                    result.repinned.append((name, line, pins[name]))
            else:
                result.carried.setdefault(purpose(path), []).append(line)
                if name and "==" not in line and "@" not in line:
                    result.unpinned.append(line)
    return result


def merge(rendered: str, lines: list[str]) -> str:
    """The owner's lines right below the marked section's heading; at the end
    when the file has no such section (releases before v0.4.0)."""
    if not lines:
        return rendered
    text = rendered.splitlines(keepends=True)
    for index, line in enumerate(text):
        if line.rstrip("\n") == OWNER_SECTION:
            text[index + 1 : index + 1] = [entry + "\n" for entry in lines]
            return "".join(text)
    return rendered.rstrip("\n") + "\n\n# Yours\n" + "\n".join(lines) + "\n"
