"""What a benchmark run starts, all under one work directory: the servers
wrk loads, and the stack beneath them (renders with the test page,
PostgreSQL, Redis, PgBouncer). Processes are the test suite's: started in
their own session, stopped by their own pid."""

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.http import Response, answers, request
from support.nginx import Nginx
from support.pgbouncer import PgBouncerServer
from support.postgres import PostgresServer
from support.processes import Process, free_port
from support.project import manage
from support.redis import RedisServer
from support.render import project_env, project_venv, render

from .page import PAGE_SEED, add_page

HOST = "obcms.gov.ph"
# What nginx sends on: the host, and the scheme it saw (else Django redirects).
PROXY_HEADERS = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@dataclass
class Server(Process):
    """A server process on a loopback port; `url` is what wrk loads."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    path: str
    log: Path
    headers: dict[str, str] = field(default_factory=lambda: dict(PROXY_HEADERS))
    ready_path: str = "/health/"
    boot_seconds: float = 0.0
    stop_timeout = 40

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def get(self, path: str | None = None, timeout: float = 5, extra_headers: dict | None = None) -> Response:
        headers = {**self.headers, **(extra_headers or {})}
        return request(self.port, path or self.path, headers=headers, timeout=timeout)

    def ready(self) -> bool:
        return answers(self.port, self.ready_path, headers=self.headers, timeout=5)

    def start(self, timeout: float = 60) -> "Server":
        started = time.monotonic()
        self.launch(self.argv, self.log, self.ready, timeout, self.name, interval=0.01, cwd=self.cwd, env=self.env)
        self.boot_seconds = time.monotonic() - started
        return self

    def proc_files(self, name: str):
        """/proc/<pid>/<name> of the master and its live children."""
        for pid in [self.process.pid, *children(self.process.pid)]:
            try:
                yield Path(f"/proc/{pid}/{name}").read_text()
            except OSError:  # the process exited meanwhile
                continue

    def pss_kib(self) -> int:
        """Proportional set size of the master and its children, in KiB."""
        return sum(
            int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1)) for rollup in self.proc_files("smaps_rollup")
        )

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the master and its live children used so far."""
        ticks = 0
        for stat in self.proc_files("stat"):
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class Stack:
    """Renders, databases and servers of one benchmark run, all under workdir."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.projects: dict[str, tuple[Path, Path]] = {}
        self.servers: list[Server] = []
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.database_url = ""
        self.pgbouncers: list[PgBouncerServer] = []

    def services(self) -> None:
        if self.postgres:
            return
        self.postgres = PostgresServer(self.workdir / "postgres", max_connections=200).start()
        self.redis = RedisServer(self.workdir / "redis").start()
        self.database_url = self.postgres.create_database("bench")

    def project(self, profile: str, answers: dict) -> tuple[Path, Path]:
        """A render with the test page, its virtualenv, migrated and seeded."""
        if profile not in self.projects:
            self.services()
            project = render(self.workdir / "renders" / profile, answers)
            add_page(project)
            venv = project_venv(project)
            env = self.env(project, venv)
            for command in (["makemigrations", "benchpage"], ["collectstatic", "--noinput"]):
                manage(project, venv, env, *command, timeout=300).checked()
            if not self.projects:
                manage(project, venv, env, "migrate", "--noinput", timeout=300).checked()
                manage(project, venv, env, "shell", "-c", PAGE_SEED, timeout=300).checked()
            self.projects[profile] = (project, venv)
        return self.projects[profile]

    def env(self, project: Path, venv: Path, **overrides: str) -> dict[str, str]:
        home = self.workdir / "home"  # gunicorn's control socket goes under $HOME when not disabled
        home.mkdir(exist_ok=True)
        values = {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis.url, "HOME": str(home), **overrides}
        return project_env(project, venv, **values)

    def pgbouncer_url(self, project: Path) -> str:
        """The render's own PgBouncer (deploy/pgbouncer/pgbouncer.ini) in front
        of the benchmark's PostgreSQL; "" when the render has none."""
        rendered = project / "deploy" / "pgbouncer"
        if not (rendered / "pgbouncer.ini").exists():
            return ""
        server = PgBouncerServer(rendered, self.postgres)
        server.write_scram_auth("app")
        self.pgbouncers.append(server.start())
        return server.url("bench")

    def gunicorn(
        self, name: str, project: Path, venv: Path, path: str, conf: str = "gunicorn.conf.py", **env
    ) -> Server:
        """gunicorn with a config file, as the image's CMD starts it."""
        port = free_port()
        environment = self.env(project, venv, GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}", **env)
        argv = [str(venv / "bin" / "gunicorn"), "--config", conf]
        return self.add(Server(name, argv, project, environment, port, path, self.log(name)))

    def gunicorn_bare(self, name: str, project: Path, venv: Path, path: str, extra: list[str], **env) -> Server:
        """gunicorn without a config file, run from src/ (which has none)."""
        port = free_port()
        package = next(p.parent.name for p in (project / "src").glob("*/wsgi.py"))
        argv = [str(venv / "bin" / "gunicorn"), f"{package}.wsgi", "--bind", f"127.0.0.1:{port}", *extra]
        environment = self.env(project, venv, **env)
        return self.add(Server(name, argv, project / "src", environment, port, path, self.log(name)))

    def nginx_static(self, name: str, project: Path, static_path: str) -> Server:
        """nginx serving the file WhiteNoise serves, the same brotli bytes, from disk."""
        port = free_port()
        relative = static_path.removeprefix("/static/")
        brotli_file = project / "src" / "staticfiles" / (relative + ".br")
        server_text = f"""
server {{
    listen 127.0.0.1:{port};
    sendfile on;
    location = {static_path} {{
        alias {brotli_file};
        add_header Content-Encoding br;
        add_header Vary Accept-Encoding;
        add_header Cache-Control "max-age=315360000, public, immutable";
    }}
}}
"""
        nginx = Nginx(self.workdir / "nginx", server_text, worker_processes="auto", error_level="error")
        return self.add(
            Server(
                name,
                nginx.command(),
                nginx.base,
                dict(os.environ),
                port,
                static_path,
                self.log(name),
                ready_path=static_path,
            )
        )

    def add(self, server: Server) -> Server:
        self.servers.append(server)
        return server

    def log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def stop_servers(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    def close(self) -> None:
        self.stop_servers()
        for pgbouncer in self.pgbouncers:
            pgbouncer.remove()
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.remove()
