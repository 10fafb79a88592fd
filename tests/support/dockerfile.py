"""Reading a Dockerfile's stages: their ENV and RUN instructions, so that a
test can run the build commands natively with exactly that environment."""

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

# What the official python image sets before our ENV lines.
BASE_IMAGE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass
class Stage:
    name: str
    base: str
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_IMAGE_ENV))
    runs: list[tuple[str, dict[str, str], str]] = field(default_factory=list)  # (command, env, workdir)
    workdir: str = "/"


def instructions(text: str):
    """(keyword, arguments) pairs, with continuation lines joined."""
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, arguments = logical.partition(" ")
        yield keyword.upper(), arguments.strip()
        logical = ""


def expand(value: str, env: dict[str, str]) -> str:
    for name, current in env.items():
        value = value.replace(f"${{{name}}}", current).replace(f"${name}", current)
    return value


def parse(path: Path) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    args: dict[str, str] = {}
    stage: Stage | None = None
    for keyword, arguments in instructions(path.read_text()):
        if keyword == "ARG" and stage is None:
            name, _, default = arguments.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = arguments.split()
            stage = Stage(
                name=words[-1] if "AS" in (w.upper() for w in words) else str(len(stages)), base=expand(words[0], args)
            )
            stages[stage.name] = stage
        elif keyword == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                stage.env[name] = expand(value, stage.env)
        elif keyword == "WORKDIR":
            stage.workdir = arguments
        elif keyword == "RUN":
            stage.runs.append((arguments, dict(stage.env), stage.workdir))
    return stages


def healthcheck(path: Path) -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK."""
    for keyword, arguments in instructions(path.read_text()):
        if keyword == "HEALTHCHECK":
            return json.loads(arguments.split(" CMD ", 1)[1])
    raise AssertionError(f"{path} has no HEALTHCHECK")


def healthcheck_options(path: Path) -> dict[str, str]:
    """The options of the Dockerfile's HEALTHCHECK: {"interval": "30s", ...}."""
    for keyword, arguments in instructions(path.read_text()):
        if keyword == "HEALTHCHECK":
            options = arguments.split(" CMD ", 1)[0].split()
            return dict(option.removeprefix("--").split("=", 1) for option in options)
    raise AssertionError(f"{path} has no HEALTHCHECK")
