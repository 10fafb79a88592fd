"""A Celery worker started from the rendered celery.py, as the compose file does."""

import subprocess
from pathlib import Path

from .binaries import venv_bin
from .processes import start, stop, wait_until


class CeleryWorker:
    def __init__(
        self, project: Path, venv: Path, env: dict[str, str], log: Path, name: str = "worker", concurrency: int = 2
    ):
        self.log = log
        self.command = [
            venv_bin(venv, "celery"),
            "--workdir",
            "src",
            "--app",
            project_package_name(project),
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}@%h",
        ]
        self.project = project
        # As docker-compose.prod.yml: SIGTERM starts the soft shutdown.
        self.env = {**env, "REMAP_SIGTERM": "SIGQUIT"}
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


def project_package_name(project: Path) -> str:
    from .render import project_package

    return project_package(project)
