"""A Celery worker run natively with the command of the `celery` service in
the rendered docker-compose.prod.yml."""

import subprocess
from pathlib import Path

import yaml

from .processes import start, stop, wait_until


def compose_command(project: Path, service: str) -> list[str]:
    compose = yaml.safe_load((project / "docker-compose.prod.yml").read_text())
    return list(compose["services"][service]["command"])


class CeleryWorker:
    def __init__(
        self, project: Path, venv: Path, env: dict[str, str], log: Path, name: str = "worker", concurrency: int = 2
    ):
        command = compose_command(project, "celery")
        assert command[0] == "celery"
        self.command = [
            str(venv / "bin" / "celery"),
            *command[1:],
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}@%h",
        ]
        self.project = project
        self.env = {**env, **compose_environment(project, "celery")}
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "CeleryWorker":
        self.process = start(self.command, self.log, cwd=self.project, env=self.env)
        wait_until(
            lambda: " ready." in self.log.read_text(errors="replace"),
            timeout,
            "Celery worker",
            interval=0.2,
            process=self.process,
            log=self.log,
        )
        return self

    def stop(self, timeout: float = 90) -> int:
        return stop(self.process, timeout=timeout) if self.process else 0


def compose_environment(project: Path, service: str) -> dict[str, str]:
    """The fixed (non-interpolated) variables the compose file gives a service,
    such as REMAP_SIGTERM; those built from .env are the test's business."""
    compose = yaml.safe_load((project / "docker-compose.prod.yml").read_text())
    environment = compose["services"][service].get("environment", {})
    return {key: str(value) for key, value in environment.items() if "${" not in str(value)}
