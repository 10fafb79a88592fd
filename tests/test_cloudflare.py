"""use_cloudflare: the client address comes from CF-Connecting-IP only when the
hop in front of the proxy is one of Cloudflare's addresses.

On loopback, 127.0.0.64/28 stands in for a Cloudflare range: the tests add it
the way a deployment adds ranges Cloudflare publishes later (nginx:
deploy/nginx/cloudflare-extra.conf; Django: CLOUDFLARE_EXTRA_RANGES), and
send requests from different 127.x.y.z source addresses. What each side
settled on is read from its access log: nginx logs $remote_addr, gunicorn
logs REMOTE_ADDR as RealClientIPMiddleware left it.
"""

import re
from pathlib import Path

import pytest

from support.facts import copier_config
from support.gunicorn import GunicornServer
from support.http import request
from support.nginx import Nginx, NginxServer, make_certificate
from support.processes import free_port, wait_until
from support.project import as_deployed, manage, shell
from support.render import profile_answers, project_env, project_venv, render

DOMAIN = "obcms.gov.ph"
TEST_CLOUDFLARE_RANGE = "127.0.0.64/28"
CLOUDFLARE_EDGE = "127.0.0.66"  # in the test range
ELSEWHERE = "127.0.0.99"  # not in any Cloudflare range, not a trusted proxy
VISITOR = "203.0.113.7"
FORGED = "198.51.100.23"


@pytest.fixture(scope="module")
def cloudflare_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("cloudflare") / "project", profile_answers("cloudflare"))


@pytest.fixture(scope="module")
def cloudflare_venv(cloudflare_project) -> Path:
    return project_venv(cloudflare_project)


@pytest.fixture(scope="module")
def app(cloudflare_project, cloudflare_venv, postgres, redis, tmp_path_factory):
    """gunicorn with the production settings. Only 127.0.0.1 (nginx, or the
    stand-in for Traefik) is a trusted proxy, so that other 127.x.y.z
    addresses can play Cloudflare and strangers."""
    env = project_env(
        cloudflare_project,
        cloudflare_venv,
        DATABASE_URL=postgres.create_database("cloudflare"),
        REDIS_URL=redis.url,
        TRUSTED_PROXY_NETWORKS="127.0.0.1/32",
        CLOUDFLARE_EXTRA_RANGES=TEST_CLOUDFLARE_RANGE,
    )
    as_deployed(cloudflare_project, cloudflare_venv, env)
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    server = GunicornServer(cloudflare_project, cloudflare_venv, env, log).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nginx(cloudflare_project, app, tmp_path_factory):
    """The rendered nginx conf in front of gunicorn, with the test range added
    to the owner's cloudflare-extra.conf."""
    base = tmp_path_factory.mktemp("nginx")
    extra = base / "cloudflare-extra.conf"
    rendered_extra = cloudflare_project / "deploy/nginx/cloudflare-extra.conf"
    extra.write_text(rendered_extra.read_text() + f"set_real_ip_from {TEST_CLOUDFLARE_RANGE};\n")
    make_certificate(base / "certs", [DOMAIN])
    server = NginxServer(
        base / "nginx",
        cloudflare_project / "deploy/nginx/obcms.conf",
        app.port,
        base / "certs",
        base / "media",
        cloudflare_extra=extra,
    ).start()
    server.ca = base / "certs" / "fullchain.pem"
    yield server
    server.stop()


def logged_client(log: Path, marker: str, timeout: float = 5) -> str:
    """The first field of the access log line of the request marked `marker`."""
    pattern = re.compile(rf"^(\S+) .*[?&]case={re.escape(marker)}[ &]", re.MULTILINE)

    def line():
        return pattern.search(log.read_text(errors="replace")) if log.exists() else None

    return wait_until(line, timeout, f"an access log line for case={marker} in {log}", interval=0.05).group(1)


def via_nginx(nginx, marker: str, source: str, headers: dict[str, str]):
    response = request(
        nginx.https_port,
        f"/admin/login/?case={marker}",
        host_header=DOMAIN,
        tls_ca=nginx.ca,
        source=source,
        headers=headers,
    )
    assert response.status == 200, response.body[:300]
    return response


NGINX_CASES = {
    # marker: (source address, headers, client address expected in both logs)
    "cloudflare": (CLOUDFLARE_EDGE, {"CF-Connecting-IP": VISITOR}, VISITOR),
    "cloudflare-ipv6-visitor": (CLOUDFLARE_EDGE, {"CF-Connecting-IP": "2001:db8::7"}, "2001:db8::7"),
    "forged-direct": (ELSEWHERE, {"CF-Connecting-IP": FORGED}, ELSEWHERE),
    "forged-with-x-forwarded-for": (ELSEWHERE, {"CF-Connecting-IP": FORGED, "X-Forwarded-For": FORGED}, ELSEWHERE),
}


@pytest.mark.parametrize("marker", list(NGINX_CASES))
def test_through_nginx_cf_connecting_ip_counts_only_from_cloudflare(nginx, app, marker):
    source, headers, expected = NGINX_CASES[marker]
    via_nginx(nginx, marker, source, headers)
    assert logged_client(nginx.base / "access.log", marker) == expected, "the address nginx recorded"
    assert logged_client(app.log, marker) == expected, "the address Django recorded"


# ------------------------------------------------- Django behind another proxy
# Coolify's Traefik appends the address it received a request from to
# X-Forwarded-For. An nginx that does only that (no real_ip, no Cloudflare
# knowledge) stands in for it here, on 127.0.0.1, the trusted proxy.

TRAEFIK_STAND_IN = """
server {{
    listen 127.0.0.1:{port};
    location / {{
        proxy_pass http://127.0.0.1:{upstream};
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
}}
"""


@pytest.fixture(scope="module")
def traefik_stand_in(app, tmp_path_factory):
    port = free_port()
    server_text = TRAEFIK_STAND_IN.format(port=port, upstream=app.port)
    server = Nginx(tmp_path_factory.mktemp("traefik-stand-in"), server_text).start()
    yield port
    server.stop()


PROXY_CASES = {
    "behind-proxy-cloudflare": (CLOUDFLARE_EDGE, {"CF-Connecting-IP": VISITOR}, VISITOR),
    "behind-proxy-forged": (ELSEWHERE, {"CF-Connecting-IP": FORGED}, ELSEWHERE),
    # A client that writes a Cloudflare address into X-Forwarded-For itself:
    # the proxy appends the real peer after it.
    "behind-proxy-prepended": (ELSEWHERE, {"CF-Connecting-IP": FORGED, "X-Forwarded-For": CLOUDFLARE_EDGE}, ELSEWHERE),
}


@pytest.mark.parametrize("marker", list(PROXY_CASES))
def test_behind_another_proxy_django_takes_cf_connecting_ip_only_from_cloudflare(traefik_stand_in, app, marker):
    source, headers, expected = PROXY_CASES[marker]
    response = request(
        traefik_stand_in, f"/admin/login/?case={marker}", host_header=DOMAIN, source=source, headers=headers
    )
    assert response.status == 200, response.body[:300]
    assert logged_client(app.log, marker) == expected


DIRECT_CASES = {
    # Straight to gunicorn, bypassing every proxy, with forged headers.
    "direct-forged": (ELSEWHERE, {"CF-Connecting-IP": FORGED, "X-Forwarded-For": CLOUDFLARE_EDGE}, ELSEWHERE),
    # Straight from a Cloudflare address (no proxy of ours in between).
    "direct-from-cloudflare": (CLOUDFLARE_EDGE, {"CF-Connecting-IP": VISITOR}, VISITOR),
}


@pytest.mark.parametrize("marker", list(DIRECT_CASES))
def test_straight_to_django_the_same_rule_holds(app, marker):
    source, headers, expected = DIRECT_CASES[marker]
    response = request(
        app.port,
        f"/admin/login/?case={marker}",
        host_header=DOMAIN,
        source=source,
        headers={"X-Forwarded-Proto": "https", **headers},
    )
    assert response.status == 200, response.body[:300]
    assert logged_client(app.log, marker) == expected


# ------------------------------------------------ one list, in both places


def cloudflare_networks_of_the_template() -> list[str]:
    return copier_config()["cloudflare_networks"]["default"]


def test_the_ranges_are_written_once_and_rendered_into_nginx_and_django(
    cloudflare_project, cloudflare_venv, postgres, redis
):
    ranges = cloudflare_networks_of_the_template()
    assert any(":" in network for network in ranges) and any("." in network for network in ranges), "IPv4 and IPv6"
    conf = (cloudflare_project / "deploy/nginx/obcms.conf").read_text()
    assert re.findall(r"^set_real_ip_from (\S+);$", conf, re.MULTILINE) == ranges
    assert "real_ip_header CF-Connecting-IP;" in conf
    env = project_env(
        cloudflare_project,
        cloudflare_venv,
        DATABASE_URL="postgres://app:app@127.0.0.1:9/unused",
        REDIS_URL=redis.url,
    )
    code = "import json; from django.conf import settings; print(json.dumps(settings.CLOUDFLARE_NETWORKS))"
    assert shell(cloudflare_project, cloudflare_venv, env, code).data == ranges
    extended = {**env, "CLOUDFLARE_EXTRA_RANGES": "192.0.2.0/24, 2001:db8::/32"}
    assert shell(cloudflare_project, cloudflare_venv, extended, code).data == [*ranges, "192.0.2.0/24", "2001:db8::/32"]
    wrong = manage(cloudflare_project, cloudflare_venv, {**env, "CLOUDFLARE_EXTRA_RANGES": "192.0.2.1/24"}, "check")
    assert wrong.returncode != 0 and "CLOUDFLARE_EXTRA_RANGES must list networks" in wrong.stderr


def test_without_cloudflare_nothing_of_it_is_rendered(default_project):
    conf = (default_project / "deploy/nginx/obcms.conf").read_text()
    assert "real_ip" not in conf and "cloudflare" not in conf.lower()
    assert not (default_project / "deploy/nginx/cloudflare-extra.conf").exists()
    compose = (default_project / "docker-compose.prod.yml").read_text()
    assert "cloudflare" not in compose


def test_the_runbook_says_which_ssl_mode_and_why(cloudflare_project):
    runbook = (cloudflare_project / "docs/deployment.md").read_text()
    section = runbook.split("## Cloudflare", 1)[1].split("\n## ", 1)[0]
    assert "Full (strict)" in section
    assert "Flexible" in section, "why not the other modes"
    assert "Authenticated Origin Pulls" in section
    assert "CLOUDFLARE_EXTRA_RANGES" in section and "cloudflare-extra.conf" in section


def test_the_owners_extra_ranges_file_survives_updates():
    config = copier_config()
    assert "deploy/nginx/cloudflare-extra.conf" in config["_skip_if_exists"]
