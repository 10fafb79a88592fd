"""gunicorn started from the rendered gunicorn.conf.py, on loopback."""

from pathlib import Path

from .binaries import venv_bin
from .http import answers
from .processes import Process, free_port


class GunicornServer(Process):
    def __init__(
        self,
        project: Path,
        venv: Path,
        env: dict[str, str],
        log: Path,
        workers: int = 2,
        unix_socket: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
    ):
        self.project = project
        self.host = host
        self.port = port or free_port(host)
        # GUNICORN_CMD_ARGS overrides the config file: keep the test server on
        # loopback (and on a Unix socket, which a network namespace can reach).
        binds = f"--bind {host}:{self.port}" + (f" --bind unix:{unix_socket}" if unix_socket else "")
        self.env = {**env, "GUNICORN_WORKERS": str(workers), "GUNICORN_CMD_ARGS": binds}
        self.command = [venv_bin(venv, "gunicorn"), "--config", "gunicorn.conf.py"]
        self.log = log

    def start(self, timeout: float = 30) -> "GunicornServer":
        self.launch(
            self.command, self.log, self.healthy, timeout, "gunicorn", interval=0.2, cwd=self.project, env=self.env
        )
        return self

    def healthy(self) -> bool:
        return answers(self.port, "/health/", host=self.host, timeout=2)
