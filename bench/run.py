"""Benchmark of the rendered project: prints ratios measured side by side.

    bench/run [--rounds 5] [--seconds 6] [--only health,static,db,metrics,workers,memory,render]

Renders the template into a private directory, starts real PostgreSQL,
Redis, nginx and gunicorn on loopback (the test suite's helpers), and loads
them with wrk. The variants of a group run in the same round, in an order
that rotates from round to round; every figure is the median over rounds,
and every ratio is the median of the ratios of the same round, so that a
machine whose speed drifts still compares like with like. Absolute numbers
are context only: they depend on the machine and on what else runs on it.

Cells are short and rounds many: on a shared machine the load of other
processes drifts within seconds, and the cells a ratio compares run back
to back. This is not a test: it never fails on a slow result, it reports.
"""

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.binaries import postgres_bin, require  # noqa: E402
from support.matrix import all_pairs, answers, question_values  # noqa: E402
from support.postgres import PostgresServer  # noqa: E402
from support.processes import free_port, start, stop, wait_until  # noqa: E402
from support.project import manage as run_manage  # noqa: E402
from support.redis import RedisServer  # noqa: E402
from support.render import project_env, project_venv, render  # noqa: E402
from support.wrk import parse as parse_wrk  # noqa: E402

HOST = "obcms.gov.ph"
# What nginx sends on: the host, and the scheme it saw (else Django redirects).
PROXY_HEADERS = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
CONNECTIONS = (64, 256)
PAGE_ROWS = 20

# The limit: a WSGI app that does nothing, with /health/'s body.
RAW_APP = """def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "43")])
    return [b'{"status": "healthy", "version": "unknown"}']
"""

# ------------------------------------------------------- the test-only page
# A page that reads 20 rows through the ORM and renders them with a Django
# template, added to the benchmark's private copy of the render only.

PAGE_MODELS = """from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    quantity = models.IntegerField()
    created = models.DateTimeField(auto_now_add=True)
"""

PAGE_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("quantity", models.IntegerField()),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
"""

PAGE_VIEWS = """from django.shortcuts import render

from .models import Item


def items(request):
    return render(request, "benchpage/items.html", {"items": Item.objects.order_by("id")[:20]})
"""

PAGE_TEMPLATE = """<!doctype html>
<title>Items</title>
<table>
{% for item in items %}<tr><td>{{ item.id }}</td><td>{{ item.name }}</td><td>{{ item.quantity }}</td>\
<td>{{ item.created|date:"Y-m-d H:i" }}</td></tr>
{% endfor %}</table>
"""

PAGE_SEED = f"""from benchpage.models import Item
Item.objects.all().delete()
Item.objects.bulk_create(Item(name=f"item {{n}}", quantity=n) for n in range({PAGE_ROWS}))
"""


def add_page(project: Path) -> None:
    app = project / "src" / "benchpage"
    (app / "migrations").mkdir(parents=True)
    (app / "templates" / "benchpage").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "models.py").write_text(PAGE_MODELS)
    (app / "migrations" / "0001_initial.py").write_text(PAGE_MIGRATION)
    (app / "views.py").write_text(PAGE_VIEWS)
    (app / "templates" / "benchpage" / "items.html").write_text(PAGE_TEMPLATE)
    package = next(path.parent for path in (project / "src").glob("*/urls.py"))
    with (package / "urls.py").open("a") as urls:
        urls.write(
            '\nfrom benchpage.views import items  # noqa: E402\n\nurlpatterns += [path("bench/items/", items)]\n'
        )
    with (package / "settings" / "overrides.py").open("a") as overrides:
        overrides.write('\nfrom .base import INSTALLED_APPS\n\nINSTALLED_APPS = [*INSTALLED_APPS, "benchpage"]\n')
    (project / "src" / "bench_raw.py").write_text(RAW_APP)
    # Django's own request cycle, without the WSGI wrapper that answers /health/ first.
    (project / "src" / "bench_django.py").write_text(
        f"from {package.name}.wsgi import application as wrapped\n\napplication = getattr(wrapped, 'app', wrapped)\n"
    )


def gunicorn_conf(project: Path, name: str, extra: str) -> str:
    """The rendered gunicorn.conf.py with lines appended (they win)."""
    path = project / f"bench-{name}.conf.py"
    path.write_text((project / "gunicorn.conf.py").read_text() + "\n# benchmark variant\n" + extra + "\n")
    return path.name


# ------------------------------------------------------------------ servers


@dataclass
class Server:
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
    process: subprocess.Popen | None = None
    boot_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def get(self, path: str | None = None, timeout: float = 5, extra_headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path or self.path, headers={**self.headers, **(extra_headers or {})})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def answers(self) -> bool:
        try:
            return self.get(self.ready_path)[0] == 200
        except OSError:
            return False

    def start(self, timeout: float = 60) -> "Server":
        started = time.monotonic()
        self.process = start(self.argv, self.log, cwd=self.cwd, env=self.env)
        wait_until(self.answers, timeout, self.name, interval=0.01, process=self.process, log=self.log)
        self.boot_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        if self.process:
            stop(self.process, timeout=40)
            self.process = None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the master and its live children used so far."""
        total = 0
        for pid in [self.process.pid, *children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / os.sysconf("SC_CLK_TCK")

    def pss_kib(self) -> int:
        """Proportional set size of the master and its children, in KiB."""
        pids = [self.process.pid, *children(self.process.pid)]
        total = 0
        for pid in pids:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            total += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1))
        return total


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
        self.pgbouncers: list = []

    def services(self) -> None:
        if self.postgres:
            return
        self.postgres = PostgresServer(self.workdir / "postgres", max_connections=200).start()
        self.redis = RedisServer(self.workdir / "redis").start()
        self.database_url = self.postgres.create_database("bench")

    def project(self, profile: str, answers_: dict) -> tuple[Path, Path]:
        """A render with the test-only page, its virtualenv, migrated and seeded."""
        if profile not in self.projects:
            self.services()
            project = render(self.workdir / "renders" / profile, answers_)
            add_page(project)
            venv = project_venv(project)
            env = self.env(project, venv)
            manage(project, venv, env, "collectstatic", "--noinput")
            if not self.projects:
                manage(project, venv, env, "migrate", "--noinput")
                manage(project, venv, env, "shell", "-c", PAGE_SEED)
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
        from support.pgbouncer import PgBouncerServer

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
        base = self.workdir / "nginx"
        base.mkdir(exist_ok=True)
        relative = static_path.removeprefix("/static/")
        brotli_file = project / "src" / "staticfiles" / (relative + ".br")
        conf = f"""
worker_processes auto;
pid {base}/nginx.pid;
error_log {base}/error.log;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log {base}/access.log;
    client_body_temp_path {base}/client_body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        location = {static_path} {{
            alias {brotli_file};
            add_header Content-Encoding br;
            add_header Vary Accept-Encoding;
            add_header Cache-Control "max-age=315360000, public, immutable";
        }}
    }}
}}
"""
        (base / "nginx.conf").write_text(conf)
        argv = [require("nginx"), "-p", str(base), "-c", str(base / "nginx.conf"), "-g", "daemon off;"]
        return self.add(
            Server(name, argv, base, dict(os.environ), port, static_path, self.log(name), ready_path=static_path)
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


def manage(project: Path, venv: Path, env: dict, *args: str) -> None:
    outcome = run_manage(project, venv, env, *args, timeout=300)
    if outcome.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{outcome.stdout}{outcome.stderr}")


# ---------------------------------------------------------------------- wrk


@dataclass
class Load:
    rps: float
    p99_ms: float
    errors: int  # socket errors and non-2xx/3xx answers


CLOSE = {"Connection": "close"}


def wrk(server: Server, connections: int, seconds: float, extra_headers: dict | None = None) -> Load:
    headers = {**server.headers, **(extra_headers or {})}
    argv = [require("wrk"), "--threads", "2", "--connections", str(connections), "--duration", f"{round(seconds)}s"]
    argv += ["--timeout", "10s", "--latency"]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    result = subprocess.run([*argv, server.url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    try:
        if result.returncode != 0:
            raise ValueError(result.stderr)
        summary = parse_wrk(result.stdout)
    except ValueError as error:
        raise RuntimeError(f"wrk failed on {server.url}:\n{result.stdout}{error}") from None
    return Load(summary.rps, summary.p99_ms, summary.failures)


def measure_closing(servers: list[Server], names: tuple[str, ...], args) -> dict:
    """measure() of the named servers with a connection per request, as the
    rendered nginx sends them on (it keeps no upstream connection open)."""
    return measure([server for server in servers if server.name in names], args.rounds, args.seconds, CLOSE)


def measure(servers: list[Server], rounds: int, seconds: float, headers: dict | None = None, log=print) -> dict:
    """Each round runs every server at one connection count, then at the
    next, so that the cells a ratio compares run back to back; the order of
    the servers rotates from round to round. Returns {(name, connections):
    [Load per round]}."""
    for server in servers:  # warm-up, not counted
        wrk(server, CONNECTIONS[0], min(2, seconds), headers)
    results: dict = {(server.name, connections): [] for server in servers for connections in CONNECTIONS}
    for number in range(rounds):
        shift = number % len(servers)
        for connections in CONNECTIONS:
            for server in servers[shift:] + servers[:shift]:
                load = wrk(server, connections, seconds, headers)
                results[(server.name, connections)].append(load)
                log(
                    f"  round {number + 1} {server.name:<22} c={connections:<3} {load.rps:9.1f} req/s  "
                    f"p99 {load.p99_ms:8.1f} ms  errors {load.errors}"
                )
    return results


# ------------------------------------------------------------------ reports


def median(values) -> float:
    return statistics.median(values)


def spread(values) -> float:
    """(max - min) / median: how much the rounds disagreed."""
    middle = median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    spreads: list[float] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)
        print(*lines, sep="\n", flush=True)

    def ratio_table(self, title: str, results: dict, pairs: list[tuple[str, str, str, str]]) -> None:
        """pairs: (label, numerator, denominator, target) where target is
        like '>= 0.6' on the req/s ratio, or ''."""
        self.add("", f"#### {title}: ratios (median of per-round ratios)", "")
        header = "| comparison |" + "".join(f" req/s c={c} | p99 c={c} |" for c in CONNECTIONS) + " target |"
        self.add(header, "|---|" + "---:|---:|" * len(CONNECTIONS) + "---|")
        for label, top, bottom, target in pairs:
            row = f"| {label} |"
            verdicts = []
            for connections in CONNECTIONS:
                a, b = results[(top, connections)], results[(bottom, connections)]
                rps = median([x.rps / y.rps for x, y in zip(a, b, strict=True)])
                p99 = median([x.p99_ms / y.p99_ms for x, y in zip(a, b, strict=True)])
                row += f" {rps:.2f} | {p99:.2f} |"
                if target:
                    verdicts.append(check_target(target, rps, p99))
            verdict = ""
            if target:
                verdict = f"{target}: " + ("met" if all(verdicts) else "MISSED")
                self.targets.append(f"{title} / {label}: {verdict}")
            self.add(row + f" {verdict} |")

    def context_table(self, title: str, results: dict, labels: dict[str, str]) -> None:
        self.add("", f"#### {title}: context (medians; min–max spread of req/s across rounds)", "")
        header = "| variant |" + "".join(f" req/s c={c} | p99 ms c={c} | spread | errors |" for c in CONNECTIONS)
        self.add(header, "|---|" + "---:|---:|---:|---:|" * len(CONNECTIONS))
        for name, label in labels.items():
            row = f"| {label} |"
            for connections in CONNECTIONS:
                loads = results[(name, connections)]
                rates = [load.rps for load in loads]
                self.spreads.append(spread(rates))
                row += (
                    f" {median(rates):.0f} | {median(load.p99_ms for load in loads):.1f} |"
                    f" {spread(rates):.0%} | {sum(load.errors for load in loads)} |"
                )
            self.add(row)


def check_target(target: str, rps_ratio: float, p99_ratio: float) -> bool:
    """'>= 0.6' on req/s; '>= 1.1, p99 <= 1' also bounds the p99 ratio."""
    ok = rps_ratio >= float(re.search(r">= ([\d.]+)", target).group(1))
    p99_bound = re.search(r"p99 <= ([\d.]+)", target)
    return ok and (not p99_bound or p99_ratio <= float(p99_bound.group(1)))


# ------------------------------------------------------------------- groups


def group_health(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    raw_conf = gunicorn_conf(project, "raw", 'wsgi_app = "bench_raw:application"')
    django_conf = gunicorn_conf(project, "django", 'wsgi_app = "bench_django:application"')
    # What the rendered settings pay for their access log and their threads.
    quiet_conf = gunicorn_conf(project, "quiet", "accesslog = None")
    sync = {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_WORKERS": "5", "GUNICORN_THREADS": "1"}
    servers = [
        stack.gunicorn("template", project, venv, "/health/").start(),
        stack.gunicorn("raw-wsgi", project, venv, "/health/", conf=raw_conf).start(),
        stack.gunicorn("django", project, venv, "/health/", conf=django_conf).start(),
        stack.gunicorn("no-access-log", project, venv, "/health/", conf=quiet_conf).start(),
        stack.gunicorn("sync-no-access-log", project, venv, "/health/", conf=quiet_conf, **sync).start(),
        stack.gunicorn_bare("no-config", project, venv, "/health/", []).start(),
        # cookiecutter-django's compose/production/django/start, with its
        # .envs/.production/.django (WEB_CONCURRENCY=4).
        stack.gunicorn_bare(
            "cookiecutter", project, venv, "/health/", [f"--chdir={project / 'src'}"], WEB_CONCURRENCY="4"
        ).start(),
    ]
    for server in servers:
        status, headers, body = server.get()
        assert status == 200 and json.loads(body)["status"] == "healthy", (server.name, status, body)
    labels = {
        "template": "rendered gunicorn.conf.py",
        "raw-wsgi": "raw WSGI app, same settings",
        "django": "/health/ through Django (first middleware), same settings",
        "no-access-log": "rendered gunicorn.conf.py without access log",
        "sync-no-access-log": "rendered gunicorn.conf.py, sync x 5, without access log",
        "no-config": "gunicorn, no config (1 sync worker)",
        "cookiecutter": "cookiecutter-django command (WEB_CONCURRENCY=4)",
    }
    targets = [
        ("template / raw WSGI (the limit)", "template", "raw-wsgi", ">= 0.6"),
        ("template / cookiecutter-django command", "template", "cookiecutter", ">= 1.1, p99 <= 1"),
    ]
    closing_names = ("template", "raw-wsgi", "cookiecutter")
    results = measure(servers, args.rounds, args.seconds)
    closing = measure_closing(servers, closing_names, args)
    stack.stop_servers()
    report.ratio_table(
        "/health/",
        results,
        [
            *targets,
            ("template / Django's request cycle (HealthCheckMiddleware)", "template", "django", ""),
            ("template / gunicorn without config", "template", "no-config", ""),
            ("template without access log / cookiecutter-django command", "no-access-log", "cookiecutter", ""),
            ("sync x 5 without access log / cookiecutter-django command", "sync-no-access-log", "cookiecutter", ""),
            ("cookiecutter-django command / raw WSGI", "cookiecutter", "raw-wsgi", ""),
        ],
    )
    report.context_table("/health/", results, labels)
    report.ratio_table("/health/, a connection per request (as behind the rendered nginx)", closing, targets)
    report.context_table("/health/, a connection per request", closing, {name: labels[name] for name in closing_names})


def group_static(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    manifest = json.loads((project / "src" / "staticfiles" / "staticfiles.json").read_text())
    static_path = "/static/" + manifest["paths"]["admin/css/base.css"]
    brotli = {"Accept-Encoding": "br"}
    servers = [
        stack.gunicorn("whitenoise", project, venv, static_path).start(),
        stack.nginx_static("nginx", project, static_path).start(),
    ]
    bodies = set()
    for server in servers:
        server.headers.update(brotli)
        status, headers, body = server.get()
        assert status == 200 and headers.get("content-encoding") == "br", (server.name, status, headers)
        bodies.add(body)
    assert len(bodies) == 1, "WhiteNoise and nginx must send the same bytes"
    results = measure(servers, args.rounds, args.seconds)
    stack.stop_servers()
    size = len(bodies.pop())
    report.ratio_table(
        f"hashed static file, brotli ({size} bytes)",
        results,
        [
            ("WhiteNoise in gunicorn / nginx from disk", "whitenoise", "nginx", ""),
        ],
    )
    report.context_table(
        "hashed static file",
        results,
        {
            "whitenoise": "WhiteNoise, rendered gunicorn.conf.py",
            "nginx": "nginx from disk (worker_processes auto)",
        },
    )


def db_variants(stack: Stack) -> dict[str, Server]:
    default, default_venv = stack.project("default", {})
    native, native_venv = stack.project("native", {"db_pooling": "native"})
    pgbouncer, pgbouncer_venv = stack.project("pgbouncer", {"db_pooling": "pgbouncer"})
    page = "/bench/items/"
    servers = {
        "conn-max-age-0": stack.gunicorn("conn-max-age-0", default, default_venv, page, DB_CONN_MAX_AGE="0"),
        "persistent": stack.gunicorn("persistent", default, default_venv, page),
        "native": stack.gunicorn("native", native, native_venv, page),
    }
    url = stack.pgbouncer_url(pgbouncer)
    if url:
        servers["pgbouncer"] = stack.gunicorn("pgbouncer", pgbouncer, pgbouncer_venv, page, DATABASE_URL=url)
    else:
        print("  db_pooling: pgbouncer renders no deploy/pgbouncer/pgbouncer.ini here: left out", flush=True)
    return servers


def group_db(stack: Stack, report: Report, args) -> None:
    servers = db_variants(stack)
    for server in servers.values():
        server.start()
        status, _, body = server.get()
        assert status == 200 and body.count(b"<tr>") == PAGE_ROWS, (server.name, status, body[:300])
    results = measure(list(servers.values()), args.rounds, args.seconds)
    stack.stop_servers()
    pairs = [
        (f"{name} / CONN_MAX_AGE=0", name, "conn-max-age-0", ">= 4") for name in servers if name != "conn-max-age-0"
    ]
    pairs += [(f"{name} / persistent", name, "persistent", "") for name in ("native", "pgbouncer") if name in servers]
    report.ratio_table(f"database page ({PAGE_ROWS} rows)", results, pairs)
    labels = {
        "conn-max-age-0": "CONN_MAX_AGE=0 (the plan's current state)",
        "persistent": "db_pooling: persistent",
        "native": "db_pooling: native (psycopg pool)",
        "pgbouncer": "db_pooling: pgbouncer (rendered pgbouncer.ini, transaction mode)",
    }
    report.context_table("database page", results, {name: labels[name] for name in servers})


# The rendered production settings without django-prometheus (its two
# middlewares, database backend and cache backend): what /metrics costs.
WITHOUT_METRICS = """from .production import *  # noqa: F403
from .production import CACHES, DATABASES, MIDDLEWARE

MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("django_prometheus.")]
for _database in DATABASES.values():
    _database["ENGINE"] = _database["ENGINE"].replace("django_prometheus.db.", "django.db.")
for _cache in CACHES.values():
    if _cache["BACKEND"].startswith("django_prometheus."):
        _cache["BACKEND"] = "django.core.cache.backends.redis.RedisCache"
"""


def group_metrics(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    settings = next((project / "src").glob("*/settings"))
    (settings / "bench_without_metrics.py").write_text(WITHOUT_METRICS)
    page = "/bench/items/"
    # No worker recycling: the CPU time of a worker that exited is not counted.
    servers = [
        stack.gunicorn("metrics", project, venv, page, GUNICORN_MAX_REQUESTS="0").start(),
        stack.gunicorn(
            "no-metrics",
            project,
            venv,
            page,
            GUNICORN_MAX_REQUESTS="0",
            DJANGO_SETTINGS_MODULE=f"{settings.parent.name}.settings.bench_without_metrics",
        ).start(),
    ]
    token = stack.env(project, venv)["METRICS_TOKEN"]
    for server in servers:
        status, _, body = server.get()
        assert status == 200 and body.count(b"<tr>") == PAGE_ROWS, (server.name, status, body[:300])
        status, _, body = server.get("/metrics", extra_headers={"Authorization": f"Bearer {token}"})
        counted = b'view="benchpage.views.items"' in body
        assert status == 200 and counted == (server.name == "metrics"), (server.name, status, body[:300])
    results = measure(servers, args.rounds, args.seconds)
    closing = measure_closing(servers, ("metrics", "no-metrics"), args)
    # CPU time per request: what throughput shows on an idle machine, but
    # far less sensitive to what else runs on a shared one.
    cpu: dict[str, list[float]] = {server.name: [] for server in servers}
    for number in range(args.rounds):
        for server in servers[number % 2 :] + servers[: number % 2]:
            before = server.cpu_seconds()
            load = wrk(server, CONNECTIONS[0], args.seconds)
            cpu[server.name].append((server.cpu_seconds() - before) / (load.rps * args.seconds))
    stack.stop_servers()
    labels = {"metrics": "rendered settings (django-prometheus)", "no-metrics": "the same without django-prometheus"}
    for title, measured in (
        ("/metrics' cost, database page", results),
        ("/metrics' cost, database page, a connection per request", closing),
    ):
        report.ratio_table(title, measured, [("with metrics / without", "metrics", "no-metrics", ">= 0.9")])
        report.context_table(title, measured, labels)
    ratio = median([bare / full for full, bare in zip(cpu["metrics"], cpu["no-metrics"], strict=True)])
    report.add(
        "",
        f"#### /metrics' cost, database page: CPU time per request (c={CONNECTIONS[0]}, median of {args.rounds})",
        "",
        "| variant | CPU ms per request | spread |",
        "|---|---:|---:|",
        *(f"| {labels[name]} | {median(values) * 1000:.2f} | {spread(values):.0%} |" for name, values in cpu.items()),
        f"| ratio without / with (requests per CPU second, with / without) | {ratio:.2f} | |",
    )


# Worker settings to choose the rendered defaults from, on the database
# page; the first is compared with each of the others.
WORKER_VARIANTS = {
    "rendered": ("rendered defaults", {}),
    "sync-5": (
        "sync, 2 x CPUs + 1 = 5 workers, max_requests 1000 (the previous defaults)",
        {
            "GUNICORN_WORKER_CLASS": "sync",
            "GUNICORN_WORKERS": "5",
            "GUNICORN_THREADS": "1",
            "GUNICORN_MAX_REQUESTS": "1000",
        },
    ),
    "gthread-5x4": (
        "gthread, 5 workers x 4 threads",
        {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_WORKERS": "5", "GUNICORN_THREADS": "4"},
    ),
    "gthread-2x8": (
        "gthread, 2 workers x 8 threads",
        {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "8"},
    ),
    "recycle-1000": ("rendered defaults, max_requests 1000", {"GUNICORN_MAX_REQUESTS": "1000"}),
    "no-recycling": ("rendered defaults, max_requests 0", {"GUNICORN_MAX_REQUESTS": "0"}),
}

# As behind the rendered nginx (a connection per request): the rendered
# defaults against sync workers, whose strength that is.
CLOSING_WORKER_VARIANTS = ("rendered", "sync-5", "gthread-5x4")


def group_workers(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    servers = [
        stack.gunicorn(name, project, venv, "/bench/items/", **env).start()
        for name, (_, env) in WORKER_VARIANTS.items()
    ]
    results = measure(servers, args.rounds, args.seconds)
    closing = measure_closing(servers, CLOSING_WORKER_VARIANTS, args)
    stack.stop_servers()
    base = next(iter(WORKER_VARIANTS))
    for title, measured, names in (
        ("worker settings, database page", results, list(WORKER_VARIANTS)),
        ("worker settings, database page, a connection per request", closing, list(CLOSING_WORKER_VARIANTS)),
    ):
        report.ratio_table(title, measured, [(f"{name} / {base}", name, base, "") for name in names[1:]])
        report.context_table(title, measured, {name: WORKER_VARIANTS[name][0] for name in names})


MEMORY_VARIANTS = {
    "preload+freeze": ("preload_app, gc.freeze() (rendered)", ""),
    "preload": ("preload_app, no gc.freeze()", "def when_ready(server):\n    pass"),
    "no-preload": ("no preload_app", "preload_app = False"),
}


def group_memory(stack: Stack, report: Report, args) -> None:
    """Boot to the first 200, and PSS once the workers served the database
    page (no worker recycling, so every worker has served)."""
    project, venv = stack.project("default", {})
    boots: dict[str, list[float]] = {name: [] for name in MEMORY_VARIANTS}
    memory: dict[str, list[int]] = {name: [] for name in MEMORY_VARIANTS}
    names = list(MEMORY_VARIANTS)
    for number in range(max(args.rounds, 3)):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            conf = gunicorn_conf(project, name, MEMORY_VARIANTS[name][1])
            server = stack.gunicorn(
                f"memory-{name}", project, venv, "/bench/items/", conf=conf, GUNICORN_MAX_REQUESTS="0"
            ).start()
            wrk(server, 16, min(3, args.seconds))
            time.sleep(0.5)
            boots[name].append(server.boot_seconds)
            memory[name].append(server.pss_kib())
            stack.stop_servers()
            print(
                f"  round {number + 1} {name:<16} boot {server.boot_seconds:.2f} s"
                f"  PSS {memory[name][-1] / 1024:.0f} MiB",
                flush=True,
            )
    report.add(
        "", "#### gunicorn boot and memory (rendered settings; PSS after 3 s of the database page, no recycling)", ""
    )
    report.add(
        "| variant | boot to first 200, s | ratio | PSS master + workers, MiB | ratio | spread (PSS) |",
        "|---|---:|---:|---:|---:|---:|",
    )
    base = names[0]
    for name in names:
        boot_ratio = median([a / b for a, b in zip(boots[name], boots[base], strict=True)])
        pss_ratio = median([a / b for a, b in zip(memory[name], memory[base], strict=True)])
        report.add(
            f"| {MEMORY_VARIANTS[name][0]} | {median(boots[name]):.2f} | {boot_ratio:.2f} |"
            f" {median(memory[name]) / 1024:.0f} | {pss_ratio:.2f} | {spread(memory[name]):.0%} |"
        )


def group_render(stack: Stack, report: Report, args) -> None:
    out = stack.workdir / "render-timing"
    times = []
    for number in range(max(args.rounds, 3)):
        started = time.perf_counter()
        render(out / f"default-{number}", {})
        times.append(time.perf_counter() - started)
    rows = all_pairs(question_values())
    matrix = []
    for number in range(max(1, args.rounds // 2)):
        started = time.perf_counter()
        for index, row in enumerate(rows):
            render(out / f"matrix-{number}-{index}", answers(row))
        matrix.append(time.perf_counter() - started)
    shutil.rmtree(out, ignore_errors=True)
    report.add("", "#### Rendering (copier copy in-process, as the tests render)", "")
    report.add("| what | median, s | min–max, s | ratio to one default render |", "|---|---:|---:|---:|")
    report.add(f"| default profile | {median(times):.2f} | {min(times):.2f}–{max(times):.2f} | 1.00 |")
    report.add(
        f"| render matrix, {len(rows)} profiles, render only | {median(matrix):.1f} |"
        f" {min(matrix):.1f}–{max(matrix):.1f} | {median(matrix) / median(times):.1f} |"
    )


GROUPS = {
    "render": group_render,
    "health": group_health,
    "static": group_static,
    "db": group_db,
    "metrics": group_metrics,
    "workers": group_workers,
    "memory": group_memory,
}


# ------------------------------------------------------------------ machine


def machine(stack: Stack) -> list[str]:
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    _, venv = stack.project("default", {})
    versions = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys, importlib.metadata as m; print(sys.version.split()[0], *(m.version(p) for p in "
            "('django', 'gunicorn', 'psycopg', 'whitenoise', 'brotli')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    def first_line(*argv: str) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (result.stdout or result.stderr).strip().splitlines()[0].split(" Copyright")[0]

    memory_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return [
        f"- CPU: {cpu.group(1) if cpu else platform.processor()}, {os.cpu_count()} cores "
        f"({len(os.sched_getaffinity(0))} usable); memory {memory_gib:.0f} GiB",
        f"- kernel {platform.release()}; {platform.platform(terse=True)}",
        f"- project Python {versions[0]}; Django {versions[1]}, gunicorn {versions[2]}, psycopg {versions[3]}, "
        f"whitenoise {versions[4]}, brotli {versions[5]}",
        f"- {first_line(postgres_bin('postgres'), '--version')}; "
        f"{' '.join(first_line(require('redis-server'), '--version').split()[:3])}",
        f"- {first_line(require('nginx'), '-v')}; {first_line(require('wrk'), '-v')}; "
        f"{first_line(require('pgbouncer'), '--version')}",
        f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def main() -> int:
    warnings.simplefilter("ignore")  # copier warns that the working tree is dirty
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every cell (default 5)")
    parser.add_argument("--seconds", type=int, default=6, help="seconds of load per cell (default 6)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"groups to run, of {','.join(GROUPS)}")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (renders, logs)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(GROUPS)
    if unknown or not 1 <= args.rounds <= 20 or not 1 <= args.seconds <= 120:
        parser.error(f"unknown groups {sorted(unknown)}, or rounds not in 1..20, or seconds not in 1..120")

    workdir = Path(tempfile.mkdtemp(prefix="obcms-bench-"))
    os.chmod(workdir, 0o755)  # PostgreSQL runs as its own user under it
    stack = Stack(workdir)
    report = Report()
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        report.add("### Machine", "", *machine(stack))
        report.add(
            "",
            f"wrk: 2 threads, {args.seconds:g} s per cell, {args.rounds} rounds, connections "
            f"{' and '.join(map(str, CONNECTIONS))}; keep-alive as each server allows.",
        )
        for name in chosen:
            print(f"\n== {name}", flush=True)
            GROUPS[name](stack, report, args)
        report.add(
            "",
            "### Noise",
            "",
            f"- req/s spread across rounds per cell (max-min over median): "
            f"{min(report.spreads, default=0):.0%} to {max(report.spreads, default=0):.0%}, "
            f"median {median(report.spreads or [0]):.0%}",
            f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"- whole run: {(time.monotonic() - started) / 60:.1f} min",
        )
        if report.targets:
            report.add("", "### Targets", "", *(f"- {line}" for line in report.targets))
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.close()
        if args.keep:
            print(f"\nwork directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
