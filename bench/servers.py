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
from support.nginx import NginxServer, make_certificate
from support.pgbouncer import PgBouncerServer
from support.postgres import PostgresServer
from support.processes import Process, free_port
from support.project import manage
from support.redis import RedisServer
from support.render import project_env, project_venv, render
from support.text import replace_required

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
    tls_ca: Path | None = None  # HTTPS, checked against this CA for HOST
    boot_seconds: float = 0.0
    stop_timeout = 40

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_ca else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.path}"

    def get(self, path: str | None = None, timeout: float = 5, extra_headers: dict | None = None) -> Response:
        headers = {**self.headers, **(extra_headers or {})}
        return request(self.port, path or self.path, headers=headers, timeout=timeout, **self.tls())

    def ready(self) -> bool:
        return answers(self.port, self.ready_path, headers=self.headers, timeout=5, **self.tls())

    def tls(self) -> dict:
        return {"tls_ca": self.tls_ca, "host_header": HOST} if self.tls_ca else {}

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

    def nginx_rendered(self, name: str, project: Path, upstream: Server, path: str, edit=None) -> Server:
        """The render's own nginx conf (HTTPS, self-signed) in front of
        upstream; edit(text) changes the conf for a variant. wrk sends no
        server name nginx knows (it connects to an address), so the site's
        server is made the default one: the only change to the conf."""
        base = self.workdir / "nginx" / name
        certs = self.workdir / "nginx" / "certs"
        if not certs.exists():
            make_certificate(certs, [HOST])
        conf = next((project / "deploy" / "nginx").glob("*.conf"))
        nginx = NginxServer(base, conf, upstream.port, certs, base / "media", static_cache=base / "static-cache")
        port = nginx.https_port
        text = (base / "server.conf").read_text()
        for old, new in (
            ("    ssl_reject_handshake on;\n", ""),
            (f"listen 127.0.0.1:{port} ssl default_server;", f"listen 127.0.0.1:{port} ssl;"),
            (f"listen 127.0.0.1:{port} ssl http2;", f"listen 127.0.0.1:{port} ssl http2 default_server;"),
        ):
            text = replace_required(text, old, new, "the rendered nginx conf")
        (base / "server.conf").write_text(edit(text) if edit else text)
        server = Server(
            name, nginx.command(), base, dict(os.environ), port, path, self.log(name), tls_ca=certs / "fullchain.pem"
        )
        return self.add(server)

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
