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
    """Through the published port: the probes, a hashed static file, the
    admin login page."""
    health = deployment.get("/health/")
    assert health.status == 200 and json.loads(health.body)["status"] == "healthy"
    ready = deployment.get("/ready/")
    assert ready.status == 200, ready.body
    assert json.loads(ready.body)["checks"] == {"database": True, "cache": True}
    login = deployment.get("/admin/login/")
    assert login.status == 200 and b"Log in" in login.body
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body.decode())
    assert css, "the login page links the hashed stylesheet"
    static = deployment.get(css.group(1), headers={"Accept-Encoding": "br, gzip"})
    assert static.status == 200
    assert static.header("content-encoding") == "br"
    assert "immutable" in static.header("cache-control")


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
    anonymous = deployment.get(f"/media/{name}")
    assert anonymous.status == 302 and "/admin/login/" in anonymous.header("location")
    response = deployment.get(f"/media/{name}", headers={"Cookie": cookie})
    assert response.status == 200, response.body[:300]
    assert response.body == content


def save_upload(deployment: Deployment, name: str, content: bytes) -> str:
    """Save a file through Django's default storage, as an upload view does."""
    code = (
        "from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage; "
        f"print(default_storage.save({name!r}, ContentFile({content!r})))"
    )
    return deployment.django_shell(code).strip()
