"""A Celery worker run natively with the command of the `celery` service in
the rendered docker-compose.prod.yml."""

from pathlib import Path

from .compose import compose_command, compose_environment
from .processes import Process


class CeleryWorker(Process):
    stop_timeout = 90

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

    def start(self, timeout: float = 60) -> "CeleryWorker":
        def ready() -> bool:
            return " ready." in self.log.read_text(errors="replace")

        self.launch(
            self.command, self.log, ready, timeout, "Celery worker", interval=0.2, cwd=self.project, env=self.env
        )
        return self
