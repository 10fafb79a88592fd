"""A Celery worker run natively with the command of the `celery` service in
the rendered docker-compose.prod.yml."""

from pathlib import Path

from .compose import compose_command, compose_environment
from .http import request
from .processes import Listener, Process, free_port


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


class CeleryMetricsExporter(Listener):
    """`manage.py celery_metrics`, as the celery-metrics service runs it, on
    host:port (a free loopback port unless given)."""

    def __init__(
        self, project: Path, venv: Path, env: dict[str, str], log: Path, host: str = "127.0.0.1", port: int = 0
    ):
        port = port or free_port(host)
        command = [str(venv / "bin" / "python"), "manage.py", "celery_metrics", "--address", host, "--port", str(port)]
        super().__init__(command, log, host, port, cwd=project / "src", env=env)

    def metrics(self) -> str:
        """What it serves on /metrics; "" while it does not answer."""
        try:
            return request(self.port, "/metrics", host=self.host, timeout=10).body.decode()
        except OSError:
            return ""
