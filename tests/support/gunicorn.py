"""gunicorn started from the rendered gunicorn.conf.py, on loopback."""

import subprocess
from pathlib import Path

from .binaries import venv_bin
from .http import request
from .processes import free_port, start, stop, wait_until


class GunicornServer:
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
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "GunicornServer":
        self.process = start(self.command, self.log, cwd=self.project, env=self.env)
        wait_until(self.healthy, timeout, "gunicorn", interval=0.2, process=self.process, log=self.log)
        return self

    def healthy(self) -> bool:
        try:
            return request(self.port, "/health/", host=self.host, timeout=2).status == 200
        except OSError:
            return False

    def stop(self) -> int:
        return stop(self.process) if self.process else 0
