"""A throwaway image registry (Distribution, the registry behind Docker Hub
and GHCR's protocol, Debian's docker-registry) on a free loopback port,
storing in a directory of its own. Docker treats registries on 127.0.0.0/8
as insecure (plain HTTP) without any setting."""

from pathlib import Path

from .binaries import require
from .processes import Process, free_port, port_open


class Registry(Process):
    def __init__(self, base: Path, host: str = "127.0.0.1"):
        self.base = base
        self.host = host
        self.port = free_port(host)
        self.log = base / "registry.log"

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
        self.launch(
            [require("docker-registry"), "serve", str(config)],
            self.log,
            lambda: port_open(self.host, self.port),
            15,
            "registry",
        )
        return self
