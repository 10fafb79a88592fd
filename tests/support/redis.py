"""A throwaway Redis server on a free loopback port; it can be stopped and
started again on the same port (to test recovery)."""

from pathlib import Path

from .binaries import require
from .processes import Process, free_port, port_open


class RedisServer(Process):
    def __init__(self, base: Path, host: str = "127.0.0.1"):
        self.base = base
        self.host = host
        self.port = free_port(host)
        self.log = base / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> "RedisServer":
        self.base.mkdir(parents=True, exist_ok=True)
        self.launch(
            [
                require("redis-server"),
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base),
            ],
            self.log,
            lambda: port_open(self.host, self.port),
            15,
            "Redis",
        )
        return self
