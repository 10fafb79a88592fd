"""A throwaway Redis server on a free loopback port; it can be stopped and
started again on the same port (to test recovery)."""

import json
import shlex
from pathlib import Path

from .binaries import require
from .compose import PRODUCTION, compose_config
from .processes import Process, free_port, port_open


class RedisServer(Process):
    def __init__(
        self, base: Path, host: str = "127.0.0.1", password: str | None = None, options: list[str] | None = None
    ):
        self.base = base
        self.host = host
        self.port = free_port(host)
        self.password = password
        # More redis-server options; later ones win over the defaults below.
        self.options = options or []
        self.log = base / "redis.log"

    def database_url(self, database: int) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.database_url(0)

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
                *(["--requirepass", self.password] if self.password else []),
                *self.options,
            ],
            self.log,
            lambda: port_open(self.host, self.port),
            15,
            "Redis",
        )
        return self


def compose_redis_options(project: Path, service: str, env: dict[str, str] | None = None) -> list[str]:
    """The options docker-compose.prod.yml gives redis-server in `service`, as
    the real Compose binary reads them (with the project's .env and env).
    The service runs `sh -c 'exec redis-server - OPTIONS <<EOF ...'` (the
    password arrives on standard input); its first line holds the options."""
    result = compose_config(project, PRODUCTION, "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    command = json.loads(result.stdout)["services"][service]["command"]
    assert command[:2] == ["sh", "-c"], command
    words = shlex.split(command[2].splitlines()[0])
    assert words[:3] == ["exec", "redis-server", "-"] and words[-1] == "<<EOF", words
    return words[3:-1]
