"""Carrying the owner's pytest configuration into the template's pyproject.toml.

pytest reads one configuration file, the first it finds from the directory
it runs in upwards; the template's is `[tool.pytest.ini_options]` of
pyproject.toml at the repository's root, where the tests run. The owner's
(pytest.ini, tox.ini or setup.cfg anywhere in the tree, or their own
pyproject.toml) would be ignored or would shadow it, so its options move
there: markers and filterwarnings are added, addopts are appended, and the
settings module and test paths are the template's. Other tables of the
owner's pyproject.toml are kept after the template's.
"""

import configparser
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

TABLE = "[tool.pytest.ini_options]"
# pytest's ini types: one entry per line, or words separated by spaces.
LINE_LISTS = {"markers", "filterwarnings"}
WORD_LISTS = {"python_files", "python_classes", "python_functions", "norecursedirs", "testpaths", "usefixtures"}
TEMPLATE_DECIDES = {
    "DJANGO_SETTINGS_MODULE",
    "pythonpath",
    "python_paths",
    "testpaths",
    "rootdir",
    "django_find_project",
}
SKIPPED_DIRS = {".git", ".venv", "venv", "env", "node_modules", "build", "dist"}


@dataclass
class PytestConfig:
    options: dict[str, list[str] | str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # where they were
    removed: list[str] = field(default_factory=list)  # files that go
    rewritten: dict[str, str] = field(default_factory=dict)  # file -> its text without the pytest section
    other_tables: str = ""  # of the owner's pyproject.toml
    notes: list[str] = field(default_factory=list)


def candidates(root: Path, tracked: list[str]) -> list[str]:
    names = ("pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
    return sorted(
        name
        for name in tracked
        if Path(name).name in names and not SKIPPED_DIRS & set(Path(name).parts) and (root / name).is_file()
    )


def ini_options(text: str, section: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return dict(parser[section]) if parser.has_section(section) else None


def without_section(text: str, section: str) -> str:
    """The ini text without [section] and its lines."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            skipping = header.group(1).strip() == section
        if not skipping:
            out.append(line)
    return "".join(out).strip("\n") + "\n" if "".join(out).strip() else ""


def split_tables(text: str) -> list[tuple[str, str]]:
    """(header, text) of each table of a TOML file, the part before the first as ""."""
    tables, header, chunk = [], "", []
    for line in text.splitlines(keepends=True):
        if re.match(r"^\[[^\[].*\]\s*$", line) or re.match(r"^\[\[.*\]\]\s*$", line):
            tables.append((header, "".join(chunk)))
            header, chunk = line.strip(), [line]
        else:
            chunk.append(line)
    tables.append((header, "".join(chunk)))
    return [(header, body) for header, body in tables if body.strip()]


def read(root: Path, tracked: list[str], rendered_pyproject: str) -> PytestConfig:
    config = PytestConfig()
    template_headers = {header for header, _ in split_tables(rendered_pyproject)}
    for name in candidates(root, tracked):
        text = (root / name).read_text()
        kind = Path(name).name
        if kind == "pyproject.toml":
            data = tomllib.loads(text)
            options = data.get("tool", {}).get("pytest", {}).get("ini_options")
            if name == "pyproject.toml":
                kept = [
                    body
                    for header, body in split_tables(text)
                    if header not in template_headers and header != TABLE and header
                ]
                dropped = [header for header, _ in split_tables(text) if header in template_headers and header != TABLE]
                config.other_tables = "".join(kept)
                for header in dropped:
                    config.notes.append(f"pyproject.toml {header}: the template's")
            if options is None:
                continue
            options = {
                key: value if isinstance(value, list | str) else json.dumps(value) for key, value in options.items()
            }
        else:
            section = "tool:pytest" if kind == "setup.cfg" else "pytest"
            options = ini_options(text, section)
            if options is None:
                continue
            if kind == "pytest.ini":
                config.removed.append(name)
            else:
                rest = without_section(text, section)
                if rest:
                    config.rewritten[name] = rest
                else:
                    config.removed.append(name)
        config.sources.append(name)
        for option, value in options.items():
            if isinstance(value, str) and option in LINE_LISTS:
                value = [line.strip() for line in value.splitlines() if line.strip()]
            elif isinstance(value, str) and option in WORD_LISTS:
                value = value.split()
            config.options[option] = value
    return config


def toml_value(value) -> str:
    if isinstance(value, list):
        return "[\n" + "".join(f"    {json.dumps(item)},\n" for item in value) + "]"
    return json.dumps(value)


def merge(rendered: str, config: PytestConfig) -> str:
    """The template's pyproject.toml with the owner's pytest options (and tables)."""
    lines = rendered.splitlines(keepends=True)
    start = next(index for index, line in enumerate(lines) if line.strip() == TABLE)
    end = next((index for index in range(start + 1, len(lines)) if lines[index].startswith("[")), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    table = tomllib.loads("".join(lines[start:end]))["tool"]["pytest"]["ini_options"]
    added = []
    for option, value in config.options.items():
        if option in TEMPLATE_DECIDES:
            if table.get(option) != value:
                config.notes.append(f"pytest {option}: the template's ({table.get(option)!r}; yours was {value!r})")
            continue
        if option == "addopts":
            theirs = value if isinstance(value, str) else " ".join(value)
            ours = table.get("addopts", "")
            extra = [word for word in theirs.split() if word not in ours.split()]
            if extra:
                merged = (ours + " " + " ".join(extra)).strip()
                index = next(i for i in range(start, end) if lines[i].startswith("addopts"))
                lines[index] = f"addopts = {json.dumps(merged)}\n"
            continue
        if option in table:
            if isinstance(table[option], list) and isinstance(value, list):
                union = table[option] + [item for item in value if item not in table[option]]
                if union != table[option]:
                    index = next(i for i in range(start, end) if lines[i].startswith(option))
                    stop = index + 1
                    if lines[index].rstrip().endswith("["):
                        while not lines[stop - 1].strip().startswith("]"):
                            stop += 1
                    lines[index:stop] = [f"{option} = {toml_value(union)}\n"]
            elif table[option] != value:
                config.notes.append(f"pytest {option}: the template's ({table[option]!r}; yours was {value!r})")
            continue
        added.append(f"{option} = {toml_value(value)}\n")
    end = next((index for index in range(start + 1, len(lines)) if lines[index].startswith("[")), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    lines[end:end] = added
    text = "".join(lines)
    if config.other_tables:
        text = text.rstrip("\n") + "\n\n" + config.other_tables.strip("\n") + "\n"
    return text
