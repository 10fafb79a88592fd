"""Smoke test of the private Docker engine and the stand-in images.

Proves what the template's tests will need: builds from the python stand-in
reach PyPI and Debian with ``--network host``; a compose project of the
postgres, redis and nginx stand-ins on a bridge network with a fixed subnet
comes up healthy, publishes a port on 127.0.0.1 only, resolves service names
between containers, shuts postgres down cleanly and keeps its data, and
leaves nothing behind after ``down -v``. Every wait is bounded.
"""

from __future__ import annotations

import shutil
import textwrap
import time
from pathlib import Path

from support.http import answers, request
from support.processes import free_port, wait_until

from .engine import TEST_PROJECT_PREFIX, CommandError, DockerEngine
from .standins import IMAGES, STANDINS, ImageReport, format_report

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SUBNET = "172.30.231.0/24"  # explicit, so test addresses are known
BACKEND_SUBNET = "172.30.232.0/24"
DB_PASSWORD = "smoke-db-pw"
REDIS_PASSWORD = "smoke-redis-pw"


def test_standins_exist(standin_images: list[ImageReport]) -> None:
    print("\n" + format_report(standin_images))
    assert [r.image for r in standin_images] == [s.image for s in STANDINS]
    assert all(r.size_bytes > 0 for r in standin_images)


def _build(engine: DockerEngine, tmp_path: Path, tag: str, dockerfile: str) -> float:
    (tmp_path / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    t0 = time.monotonic()
    # --network host: the build's RUN steps use the host's network (PyPI,
    # Debian mirrors); the engine itself has no NAT.
    engine.docker("build", "--network", "host", "--no-cache", "--force-rm", "-t", tag, str(tmp_path), timeout=600)
    return time.monotonic() - t0


def test_build_venv_and_pip_install_from_pypi(
    docker_engine: DockerEngine, standin_images: list[ImageReport], tmp_path: Path
) -> None:
    tag = f"{TEST_PROJECT_PREFIX}/pip:latest"
    # The host reaches PyPI through a TLS proxy whose CA is only in the host bundle.
    shutil.copy(HOST_CA_BUNDLE, tmp_path / "host-ca.crt")
    try:
        seconds = _build(
            docker_engine,
            tmp_path,
            tag,
            f"""\
            FROM {IMAGES["python_image"]}
            COPY host-ca.crt /usr/local/share/host-ca.crt
            ENV PIP_CERT=/usr/local/share/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1
            RUN python -m venv /opt/venv \\
             && /opt/venv/bin/pip install --no-cache-dir six==1.17.0
            """,
        )
        out = docker_engine.docker(
            "run", "--rm", "--network", "none", tag, "/opt/venv/bin/python", "-c", "import six; print(six.__version__)"
        ).stdout
        assert out.strip() == "1.17.0"
        # Debian's pip refuses system-wide installs (PEP 668), unlike the official image's.
        res = docker_engine.docker("run", "--rm", "--network", "none", tag, "pip", "install", "six", check=False)
        assert res.returncode != 0 and "externally-managed-environment" in res.stderr
        print(f"\nbuild with venv + pip install from PyPI: {seconds:.1f} s")
    finally:
        docker_engine.docker("image", "rm", "-f", tag, check=False)


def test_build_apt_installs_compiler_and_libpq(
    docker_engine: DockerEngine, standin_images: list[ImageReport], tmp_path: Path
) -> None:
    tag = f"{TEST_PROJECT_PREFIX}/apt:latest"
    try:
        # Python's and libpq's headers, gcc and the linker all work together.
        (tmp_path / "t.c").write_text(
            "#include <Python.h>\n#include <libpq-fe.h>\nint main(void) { return PQlibVersion() > 0 ? 0 : 1; }\n"
        )
        seconds = _build(
            docker_engine,
            tmp_path,
            tag,
            f"""\
            FROM {IMAGES["python_image"]}
            RUN apt-get update \\
             && apt-get install -y --no-install-recommends gcc libpq-dev \\
             && rm -rf /var/lib/apt/lists/*
            COPY t.c /tmp/t.c
            RUN gcc $(python3-config --includes) -I"$(pg_config --includedir)" /tmp/t.c -lpq -o /tmp/t && /tmp/t
            """,
        )
        print(f"\nbuild with apt-get install gcc libpq-dev: {seconds:.1f} s")
    finally:
        docker_engine.docker("image", "rm", "-f", tag, check=False)


def _compose_file(port: int) -> str:
    # Shaped like the template's docker-compose.prod.yml: db and redis only on
    # an internal "backend" network, nginx only on "default", the app on both.
    return textwrap.dedent(f"""\
        services:
          db:
            image: {IMAGES["postgres_image"]}
            environment:
              POSTGRES_USER: smoke
              POSTGRES_PASSWORD: {DB_PASSWORD}
              POSTGRES_DB: smokedb
            volumes:
              - dbdata:/var/lib/postgresql/data
              - ./initdb:/docker-entrypoint-initdb.d:ro
            shm_size: 256m
            healthcheck:
              test: ["CMD-SHELL", "pg_isready --username \\"$${{POSTGRES_USER}}\\" --dbname \\"$${{POSTGRES_DB}}\\""]
              interval: 1s
              timeout: 3s
              retries: 60
            networks: [backend]
          redis:
            image: {IMAGES["redis_image"]}
            command: ["redis-server", "--appendonly", "yes", "--requirepass", "{REDIS_PASSWORD}"]
            environment:
              REDISCLI_AUTH: {REDIS_PASSWORD}
            volumes:
              - redisdata:/data
            healthcheck:
              test: ["CMD-SHELL", "redis-cli ping | grep -q PONG"]
              interval: 1s
              timeout: 3s
              retries: 30
            networks: [backend]
          app:
            image: {IMAGES["python_image"]}
            working_dir: /srv
            command: ["sh", "-c", "echo hello-from-app > hello.txt && exec python -m http.server 8000"]
            stop_signal: SIGINT  # python as pid 1 ignores SIGTERM
            healthcheck:
              test: ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/')"]
              interval: 1s
              timeout: 3s
              retries: 30
            depends_on:
              db:
                condition: service_healthy
              redis:
                condition: service_healthy
            networks: [default, backend]
          web:
            image: {IMAGES["nginx_image"]}
            ports:
              - "127.0.0.1:{port}:80"
            volumes:
              - ./site.conf:/etc/nginx/conf.d/default.conf:ro
            depends_on:
              app:
                condition: service_healthy
            healthcheck:
              test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/healthz"]
              interval: 1s
              timeout: 3s
              retries: 30
            networks: [default]
        networks:
          default:
            ipam:
              config:
                - subnet: {SUBNET}
          backend:
            internal: true
            ipam:
              config:
                - subnet: {BACKEND_SUBNET}
        volumes:
          dbdata:
          redisdata:
        """)


SITE_CONF = """\
server {
    listen 80;
    location = /healthz { return 200 "ok\\n"; }
    # "app" is a compose service name, resolved by docker's embedded DNS.
    location / { proxy_pass http://app:8000; }
}
"""

# From the app container: redis by service name, with the password.
REDIS_PING = f"""\
import socket
s = socket.create_connection(("redis", 6379), timeout=5)
s.sendall(b"AUTH {REDIS_PASSWORD}\\r\\nPING\\r\\nCONFIG GET appendonly\\r\\nQUIT\\r\\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
print(data.decode())
"""


def test_compose_stack(docker_engine: DockerEngine, standin_images: list[ImageReport], tmp_path: Path) -> None:
    project = f"{TEST_PROJECT_PREFIX}-smoke"
    port = free_port()
    (tmp_path / "compose.yml").write_text(_compose_file(port))
    (tmp_path / "site.conf").write_text(SITE_CONF)
    (tmp_path / "initdb").mkdir()
    (tmp_path / "initdb" / "01-smoke.sql").write_text(
        "CREATE TABLE from_initdb (note text); INSERT INTO from_initdb VALUES ('ran');\n"
    )

    def compose(*args: str, timeout: float = 180.0, check: bool = True):
        return docker_engine.compose(
            project, *args, files=[tmp_path / "compose.yml"], cwd=tmp_path, timeout=timeout, check=check
        )

    t0 = time.monotonic()
    try:
        compose("up", "--wait", "--wait-timeout", "120", timeout=180)
        up_seconds = time.monotonic() - t0

        # Host -> nginx on 127.0.0.1 only -> app by service name.
        wait_until(lambda: answers(port, "/hello.txt", timeout=5), 30, "nginx stand-in", interval=0.5)
        response = request(port, "/hello.txt")
        status, body = response.status, response.body.decode()
        assert (status, body.strip()) == (200, "hello-from-app")
        assert compose("port", "web", "80").stdout.strip() == f"127.0.0.1:{port}"

        # The network has the subnet we asked for.
        for network, subnet in (("default", SUBNET), ("backend", BACKEND_SUBNET)):
            got = docker_engine.docker(
                "network", "inspect", f"{project}_{network}", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"
            ).stdout.strip()
            assert got == subnet

        # Another container -> db by name, over TCP with the password (scram).
        psql = [
            "--rm",
            "--no-deps",
            "-T",
            "--entrypoint",
            "psql",
            "db",
            "-h",
            "db",
            "-U",
            "smoke",
            "-d",
            "smokedb",
            "-tAc",
        ]
        out = compose(
            "run",
            "-e",
            f"PGPASSWORD={DB_PASSWORD}",
            *psql,
            "create table smoke(x int); insert into smoke values (42); "
            "select current_user || ' ' || current_setting('password_encryption')",
        ).stdout
        assert "smoke scram-sha-256" in out
        bad = compose("run", "-e", "PGPASSWORD=wrong", *psql, "select 1", check=False)
        assert bad.returncode != 0 and "password authentication failed" in bad.stderr

        # app -> redis by name, with the password from `command:`.
        out = compose("exec", "-T", "app", "python", "-c", REDIS_PING).stdout
        assert "+PONG" in out and "yes" in out
        # nginx is only on the default network, so db and redis are out of its reach.
        # (Not probed with a lookup: names docker does not know are forwarded to the
        # host's resolver, which a bridge container cannot reach here: ~20 s timeout.)
        web_nets = docker_engine.docker(
            "inspect", f"{project}-web-1", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"
        ).stdout.split()
        assert web_nets == [f"{project}_default"]

        # The servers dropped root like the official entrypoints do.
        for service, uid in (("db", "999"), ("redis", "999")):
            status_text = compose("exec", "-T", service, "cat", "/proc/1/status").stdout
            assert f"Uid:\t{uid}\t" in status_text, service

        # Clean shutdown, then a restart on existing data skips initdb.
        compose("stop", "db", timeout=60)
        code = docker_engine.docker("inspect", "-f", "{{.State.ExitCode}}", f"{project}-db-1").stdout.strip()
        assert code == "0"
        compose("up", "--wait", "--wait-timeout", "60", "db", timeout=90)
        logs = compose("logs", "db").stdout
        assert "database system is shut down" in logs
        assert "Skipping initialization" in logs
        out = compose("exec", "-T", "db", "psql", "-U", "smoke", "-d", "smokedb", "-tAc", "select x from smoke").stdout
        assert out.strip() == "42"
        out = compose(
            "exec", "-T", "db", "psql", "-U", "smoke", "-d", "smokedb", "-tAc", "select note from from_initdb"
        )
        assert out.stdout.strip() == "ran"
        # nginx logs requests to stdout, like the official image.
        assert "GET /hello.txt" in compose("logs", "web").stdout
        print(f"\ncompose up --wait: {up_seconds:.1f} s, whole stack test: {time.monotonic() - t0:.1f} s")
    except CommandError:
        print(compose("logs", "--no-color", check=False, timeout=60).stdout[-4000:])
        raise
    finally:
        compose("down", "-v", "--remove-orphans", "--timeout", "10", timeout=120, check=False)

    label = f"label=com.docker.compose.project={project}"
    for kind in (["ps", "-a"], ["volume", "ls"], ["network", "ls"]):
        assert docker_engine.docker(*kind, "-q", "--filter", label).stdout == "", kind


def test_remove_leftovers_keeps_images(docker_engine: DockerEngine, standin_images: list[ImageReport]) -> None:
    project = f"{TEST_PROJECT_PREFIX}-leftover"
    docker_engine.docker("volume", "create", "--label", f"com.docker.compose.project={project}", f"{project}_v")
    label = f"com.docker.compose.project={project}"
    docker_engine.docker("create", "--label", label, "--network", "none", IMAGES["debian_image"], "true")
    removed = docker_engine.remove_leftovers()
    assert any(r.startswith("container ") for r in removed) and f"volume {project}_v" in removed
    for report in standin_images:
        docker_engine.docker("image", "inspect", report.image)
