"""A throwaway image registry (Distribution, the registry behind Docker Hub
and GHCR's protocol, Debian's docker-registry) on a free loopback port,
storing in a directory of its own. Docker treats registries on 127.0.0.0/8
as insecure (plain HTTP) without any setting."""

import subprocess
from pathlib import Path

from .binaries import require
from .processes import free_port, port_open, start, stop, wait_until


class Registry:
    def __init__(self, base: Path, host: str = "127.0.0.1"):
        self.base = base
        self.host = host
        self.port = free_port(host)
        self.log = base / "registry.log"
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """What image names start with: <address>/<name>:<tag>."""
        return f"{self.host}:{self.port}"

    def start(self) -> "Registry":
        self.base.mkdir(parents=True, exist_ok=True)
        config = self.base / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.base / 'data'}\n"
            f"http:\n  addr: {self.address}\n"
        )
        self.process = start([require("docker-registry"), "serve", str(config)], self.log)
        wait_until(lambda: port_open(self.host, self.port), 15, "registry", process=self.process, log=self.log)
        return self

    def stop(self) -> None:
        if self.process:
            stop(self.process)
            self.process = None
