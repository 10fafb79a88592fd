"""The rendered compose files: read as data, and run through the real
Compose binary (`docker-compose config` needs no daemon)."""

import os
import subprocess
from pathlib import Path

import yaml

from .binaries import require

PRODUCTION = "docker-compose.prod.yml"


def compose_file(project: Path, name: str = PRODUCTION) -> dict:
    """A rendered compose file, as written (nothing interpolated)."""
    return yaml.safe_load((project / name).read_text())


def services(project: Path, name: str = PRODUCTION) -> dict[str, dict]:
    """The services of a rendered compose file, as written."""
    return compose_file(project, name)["services"]


def compose_command(project: Path, service: str) -> list[str]:
    return list(services(project)[service]["command"])


def compose_environment(project: Path, service: str) -> dict[str, str]:
    """The fixed (non-interpolated) variables the compose file gives a service,
    such as REMAP_SIGTERM; those built from .env are the test's business."""
    environment = services(project)[service].get("environment", {})
    return {key: str(value) for key, value in environment.items() if "${" not in str(value)}


def compose_config(
    workdir: Path, compose_file: str, *extra: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    """The real Compose binary, with nothing but the files in workdir (it reads
    .env there itself) and the given variables."""
    return subprocess.run(
        [require("docker-compose"), "-f", compose_file, "config", *extra],
        cwd=workdir,
        env={"PATH": os.environ["PATH"], "HOME": str(workdir), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def plain_compose(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`docker compose ARGS` as the scripts and the runbook run it: no -f, so
    the files are those of COMPOSE_FILE in workdir's .env."""
    return subprocess.run(
        [require("docker-compose"), *args],
        cwd=workdir,
        env={"PATH": os.environ["PATH"], "HOME": str(workdir), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
