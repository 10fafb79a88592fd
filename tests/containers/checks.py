"""Checks every deployed profile must pass, shared by the test modules."""

from __future__ import annotations

import json
import re

from support.processes import wait_until

from .deployment import Deployment

# What the rendered Dockerfile's HEALTHCHECK runs; web keeps it (compose adds none).
WEB_HEALTHCHECK = ["CMD", "python", "scripts/healthcheck.py", "/health/"]


def check_services_came_up(deployment: Deployment) -> dict[str, dict]:
    """db, redis and cache healthy, migrate exited 0, web healthy by the image's own check,
    celery healthy (its ping answered) and ready, beat running."""
    containers = deployment.containers()
    state = {name: c["State"] for name, c in containers.items()}
    assert state["db"]["Health"]["Status"] == "healthy"
    assert state["redis"]["Health"]["Status"] == "healthy"
    assert state["cache"]["Health"]["Status"] == "healthy"
    assert (state["migrate"]["Status"], state["migrate"]["ExitCode"]) == ("exited", 0)
    assert containers["web"]["Config"]["Healthcheck"]["Test"] == WEB_HEALTHCHECK
    assert state["web"]["Health"]["Status"] == "healthy"
    assert state["celery"]["Health"]["Status"] == "healthy"
    assert re.search(r"celery@\S+ ready\.", deployment.logs("celery"))
    if deployment.answers["use_celery_beat"]:
        assert state["beat"]["Status"] == "running"
    if deployment.has_nginx:
        assert state["nginx"]["Status"] == "running"
    for service in ("migrate", "web", "celery", "beat"):
        if service in containers:
            config = containers[service]["HostConfig"]
            assert config["ReadonlyRootfs"] is True, service
            assert containers[service]["Config"]["User"] == "app", service
    return containers


def check_front_door(deployment: Deployment) -> None:
    """Through the published port: liveness, a hashed static file, the admin
    login page; readiness inside the network only."""
    health = deployment.get("/health/")
    assert health.status == 200 and json.loads(health.body)["status"] == "healthy"
    assert deployment.ready() == (200, {"status": "ready", "checks": {"database": True, "cache": True}})
    # nginx refuses it itself; Traefik adds X-Forwarded-For, and Django refuses.
    proxied = {} if deployment.has_nginx else {"headers": {"X-Forwarded-For": "203.0.113.9"}}
    assert deployment.get("/ready/", **proxied).status == 404
    login = deployment.get("/admin/login/")
    assert login.status == 200 and b"Log in" in login.body
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body.decode())
    assert css, "the login page links the hashed stylesheet"
    static = deployment.get(css.group(1), headers={"Accept-Encoding": "br, gzip"})
    assert static.status == 200
    assert static.header("content-encoding") == "br"
    assert "immutable" in static.header("cache-control")
    if deployment.has_nginx:
        check_nginx_writes_where_it_must(deployment)


def check_nginx_writes_where_it_must(deployment: Deployment) -> None:
    """nginx's root file system is read-only, yet it keeps its copy of the
    hashed file just fetched, and a deploy can write its switch file."""
    # As nginx's user: the workers' cache directories are theirs alone, and
    # root in the container has no capability to read them.
    find = ("exec", "-T", "--user", "nginx", "nginx", "find", "/var/cache/nginx/static", "-type", "f")
    wait_until(
        lambda: deployment.compose(*find).stdout.strip(),
        10,
        "nginx's copy of the hashed stylesheet in /var/cache/nginx/static",
    )
    switch = "/etc/nginx/deploy/probe.conf"
    deployment.exec("nginx", "sh", "-c", f"printf '# probe\\n' >{switch} && rm {switch}")
    assert "Read-only file system" in deployment.exec("nginx", "sh", "-c", "touch /etc/nginx/probe 2>&1 || true")


def check_monitor_sees_the_celery_heartbeat(deployment: Deployment, token: str) -> None:
    """/health/monitor/: database, cache, and a heartbeat that went beat ->
    Redis -> worker -> cache, all inside the deployment (beat sends the first
    one soon after it starts)."""
    wait_until(
        lambda: deployment.get("/health/monitor/", headers={"X-Health-Token": token}).status == 200,
        60,
        "the Celery heartbeat sent by beat",
        interval=0.25,
    )
    response = deployment.get("/health/monitor/", headers={"X-Health-Token": token})
    assert response.status == 200, response.body
    checks = json.loads(response.body)["checks"]
    assert checks["celery"]["ok"] is True, checks
    assert deployment.get("/health/monitor/", headers={"X-Health-Token": "wrong"}).status == 401


def check_upload_served_to_signed_in_users(deployment: Deployment, name: str, content: bytes, cookie: str) -> None:
    """A text file: a download, sandboxed, not sniffed (by nginx or Django)."""
    anonymous = deployment.get(f"/media/{name}")
    assert anonymous.status == 302 and "/admin/login/" in anonymous.header("location")
    response = deployment.get(f"/media/{name}", headers={"Cookie": cookie})
    assert response.status == 200, response.body[:300]
    assert response.body == content
    assert response.header("content-type") == "application/octet-stream"
    assert response.header("content-disposition").startswith("attachment;")
    assert response.header("content-security-policy").endswith("; sandbox")
    assert response.header("x-content-type-options") == "nosniff"


# What each service of the stack may do beyond an unprivileged process: the
# capabilities of its first process (CapEff of /proc/1/status) and whether
# it runs as root. nginx's master binds 80 and 443 and starts its workers as
# the nginx user (CHOWN for its temporary directories).
CAPABILITY_BITS = {"CHOWN": 0, "SETGID": 6, "SETUID": 7, "NET_BIND_SERVICE": 10}
PRIVILEGES = {
    "db": ([], False),
    "redis": ([], False),
    "pgbouncer": ([], False),
    "nginx": (["CHOWN", "SETGID", "SETUID", "NET_BIND_SERVICE"], True),
    "web": ([], False),
    "celery": ([], False),
    "beat": ([], False),
    "flower": ([], False),
}


def check_least_privilege(deployment: Deployment) -> None:
    """Every running service: a read-only root file system, no new
    privileges, every capability dropped but the ones it needs, non-root
    unless it must start as root. The Redis password is on no command line.
    The application connects to PostgreSQL as a role that cannot run
    programs on the database server."""
    containers = deployment.containers()
    running = [name for name in PRIVILEGES if name in containers]
    assert {"db", "redis", "web"} <= set(running)
    for name in running:
        host = containers[name]["HostConfig"]
        added, as_root = PRIVILEGES[name]
        assert host["ReadonlyRootfs"] is True, name
        # The engine reports the added capabilities as CAP_<NAME>.
        granted = sorted(cap.removeprefix("CAP_") for cap in host["CapAdd"] or [])
        assert host["CapDrop"] == ["ALL"] and granted == sorted(added), (name, host["CapAdd"])
        assert "no-new-privileges:true" in host["SecurityOpt"], name
        status = deployment.exec(name, "cat", "/proc/1/status")
        effective = int(re.search(r"^CapEff:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
        assert effective == sum(1 << CAPABILITY_BITS[cap] for cap in added), (name, hex(effective))
        uid = re.search(r"^Uid:\s*(\d+)", status, re.M).group(1)
        assert (uid == "0") == as_root, (name, uid)

    redis = containers["redis"]
    password = next(e.split("=", 1)[1] for e in redis["Config"]["Env"] if e.startswith("REDISCLI_AUTH="))
    assert password not in json.dumps([redis["Config"]["Cmd"], redis["Args"], redis["Path"]])
    assert password not in deployment.exec("redis", "cat", "/proc/1/cmdline")
    assert "NOAUTH" in deployment.exec("redis", "sh", "-c", "REDISCLI_AUTH= redis-cli ping 2>&1 || true")

    # An entry without "=" is a variable the compose file names but leaves unset.
    web_env = dict(e.split("=", 1) for e in containers["web"]["Config"]["Env"] if "=" in e)
    app_role = deployment.answers["project_slug"].replace("-", "_") + "_app"
    assert web_env["DATABASE_URL"].startswith(f"postgres://{app_role}:")
    attempt = (
        "from django.db import connection\n"
        "try:\n"
        "    connection.cursor().execute(\"COPY (SELECT 1) TO PROGRAM 'id'\")\n"
        "    print('ran')\n"
        "except Exception as error:\n"
        "    print(error.__cause__.sqlstate)"
    )
    assert deployment.django_shell(attempt).strip().splitlines()[-1] == "42501", "insufficient privilege"


def save_upload(deployment: Deployment, name: str, content: bytes) -> str:
    """Save a file through Django's default storage, as an upload view does."""
    code = (
        "from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage; "
        f"print(default_storage.save({name!r}, ContentFile({content!r})))"
    )
    return deployment.django_shell(code).strip()
