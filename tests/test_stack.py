"""The running stack: real nginx (rendered conf, self-signed certificate) ->
gunicorn (rendered gunicorn.conf.py, production settings) -> PostgreSQL, Redis."""

import http.client
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from support.compose import compose_environment
from support.gunicorn import GunicornServer
from support.http import Response, request
from support.nginx import NginxServer, make_certificate
from support.project import as_deployed
from support.redis import RedisServer
from support.render import project_env

DOMAIN = "obcms.gov.ph"
ADMIN_PASSWORD = "a-long-test-password-for-the-admin"


@dataclass
class Stack:
    project: Path
    env: dict
    redis: RedisServer
    gunicorn: GunicornServer
    nginx: NginxServer
    ca: Path
    media: Path

    def https(self, path: str, **kwargs) -> Response:
        return request(self.nginx.https_port, path, host_header=DOMAIN, tls_ca=self.ca, **kwargs)

    def http(self, path: str, **kwargs) -> Response:
        return request(self.nginx.http_port, path, host_header=DOMAIN, **kwargs)


@pytest.fixture(scope="module")
def stack(default_project, venv, postgres, tmp_path_factory):
    base = tmp_path_factory.mktemp("stack")
    project = base / "project"
    shutil.copytree(default_project, project)
    redis = RedisServer(base / "redis").start()
    # Readable by nginx's unprivileged workers, as the media volume is in the
    # container (pytest's own temporary directories are root-only).
    media = Path(tempfile.mkdtemp(prefix="obcms-test-media-"))
    media.chmod(0o755)
    env = project_env(
        project,
        venv,
        # What the compose file gives web (MEDIA_X_ACCEL_PREFIX: nginx sends uploads).
        **compose_environment(project, "web"),
        DATABASE_URL=postgres.create_database("stack"),
        REDIS_URL=redis.url,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        MEDIA_ROOT=str(media),
    )
    as_deployed(project, venv, env, admin_email=f"admin@{DOMAIN}")
    gunicorn = GunicornServer(project, venv, env, base / "gunicorn.log").start()
    ca = make_certificate(base / "certs", [DOMAIN, f"www.{DOMAIN}"])
    nginx = NginxServer(
        base / "nginx", project / "deploy/nginx/obcms.conf", gunicorn.port, base / "certs", media
    ).start()
    yield Stack(project, env, redis, gunicorn, nginx, ca, media)
    nginx.stop()
    gunicorn.stop()
    redis.stop()
    shutil.rmtree(media)


def test_health_answers_json_over_https(stack):
    response = stack.https("/health/")
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body)["status"] == "healthy"


def test_readiness_follows_redis_without_restarting_gunicorn(stack):
    assert stack.https("/ready/").status == 200
    master = stack.gunicorn.process.pid

    stack.redis.stop()
    stopped = time.monotonic()
    while (response := stack.https("/ready/")).status != 503:
        assert time.monotonic() - stopped < 3, "still ready 3 s after Redis stopped"
        time.sleep(0.1)
    assert json.loads(response.body)["checks"] == {"database": True, "cache": False}
    assert time.monotonic() - stopped < 3

    stack.redis.start()  # the same port again
    back = time.monotonic()
    while stack.https("/ready/").status != 200:
        assert time.monotonic() - back < 10, "not ready 10 s after Redis came back"
        time.sleep(0.2)
    assert stack.gunicorn.process.pid == master and stack.gunicorn.process.poll() is None


def test_plain_http_redirects_to_https(stack):
    response = stack.http("/admin/?page=2")
    assert response.status == 301
    assert response.header("location") == f"https://{DOMAIN}/admin/?page=2"


def test_a_forged_forwarded_proto_over_plain_http_is_not_believed(stack):
    response = stack.http("/admin/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.status == 301
    assert response.header("location").startswith("https://")


def test_a_forged_forwarded_proto_over_https_is_replaced(stack):
    """nginx overwrites the header with the scheme it saw: no redirect loop."""
    assert stack.https("/admin/login/", headers={"X-Forwarded-Proto": "http"}).status == 200


def test_unknown_host_names_are_dropped_by_nginx(stack):
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        request(stack.nginx.http_port, "/admin/", host_header="attacker.example")


def test_https_responses_carry_security_headers_and_secure_cookies(stack):
    response = stack.https("/admin/login/")
    assert response.status == 200
    assert response.header("strict-transport-security") == "max-age=31536000; includeSubDomains; preload"
    assert response.header("x-content-type-options") == "nosniff"
    assert response.header("x-frame-options") == "DENY"
    assert response.header("referrer-policy") == "same-origin"
    csrf_cookie = next(cookie for cookie in response.cookies if cookie.startswith("csrftoken="))
    assert "Secure" in csrf_cookie and "HttpOnly" in csrf_cookie


def test_admin_css_is_hashed_immutable_and_compressed(stack):
    page = stack.https("/admin/login/").body.decode()
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert css, "the login page links the hashed stylesheet"
    response = stack.https(css.group(1), headers={"Accept-Encoding": "br, gzip"})
    assert response.status == 200
    assert response.header("content-encoding") == "br"
    cache_control = response.header("cache-control")
    assert "immutable" in cache_control
    assert int(re.search(r"max-age=(\d+)", cache_control).group(1)) >= 365 * 24 * 3600


# What WhiteNoise says about a file, which nginx's copy must repeat.
STATIC_HEADERS = (
    "cache-control",
    "content-encoding",
    "content-type",
    "content-length",
    "vary",
    "etag",
    "last-modified",
)


def test_nginx_keeps_hashed_static_files_and_never_other_names(stack):
    """nginx answers a hashed name from its own copy, with WhiteNoise's
    headers and bytes for each encoding, even when web is down; a name
    without a hash always comes from web, so no deploy leaves it stale."""
    page = stack.https("/admin/login/").body.decode()
    hashed = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page).group(1)
    unhashed = re.sub(r"\.[0-9a-f]{12}\.", ".", hashed)
    encodings = {"br": "br, gzip, deflate", "gzip": "gzip, deflate", "": "identity"}
    from_web = {}
    for encoding, accept in encodings.items():
        direct = request(
            stack.gunicorn.port,
            hashed,
            host_header=DOMAIN,
            headers={"Accept-Encoding": accept, "X-Forwarded-Proto": "https"},
        )
        assert direct.status == 200 and direct.header("content-encoding") == encoding, (encoding, direct.headers)
        assert "immutable" in direct.header("cache-control")
        from_web[encoding] = direct
        stack.https(hashed, headers={"Accept-Encoding": accept})  # nginx keeps a copy
    assert stack.https(unhashed).status == 200
    assert "immutable" not in stack.https(unhashed).header("cache-control")
    missing = "/static/admin/css/missing.0123456789ab.css"
    assert stack.https(missing).status == 404

    stack.gunicorn.stop()
    try:
        for encoding, accept in encodings.items():
            kept = stack.https(hashed, headers={"Accept-Encoding": accept})
            assert kept.status == 200, (encoding, kept.status)
            assert kept.body == from_web[encoding].body
            for name in STATIC_HEADERS:
                assert kept.header(name) == from_web[encoding].header(name), (encoding, name)
        assert stack.https(unhashed).status == 502, "a name without a hash must come from web every time"
        assert stack.https(missing).status == 502, "an error must not be kept"
    finally:
        stack.gunicorn.start()


def log_in(stack) -> Response:
    """The admin login form, posted over HTTPS as a browser does."""
    page = stack.https("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode()).group(1)
    csrf_cookie = next(c for c in page.cookies if c.startswith("csrftoken=")).split(";")[0]
    form = urlencode(
        {"csrfmiddlewaretoken": token, "username": "admin", "password": ADMIN_PASSWORD, "next": "/admin/"}
    ).encode()
    return stack.https(
        "/admin/login/?next=/admin/",
        method="POST",
        body=form,
        headers={
            "Cookie": csrf_cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"https://{DOMAIN}",
            "Referer": f"https://{DOMAIN}/admin/login/",
        },
    )


def admin_session(stack) -> str:
    response = log_in(stack)
    assert response.status == 302, response.body[:500]
    return next(c for c in response.cookies if c.startswith("sessionid=")).split(";")[0]


def test_admin_login_post_over_https_passes_csrf(stack):
    response = log_in(stack)
    assert response.status == 302, response.body[:500]
    assert response.header("location") == "/admin/"
    session = next(c for c in response.cookies if c.startswith("sessionid="))
    assert "Secure" in session and "HttpOnly" in session
    dashboard = stack.https("/admin/", headers={"Cookie": session.split(";")[0]})
    assert dashboard.status == 200 and b"Site administration" in dashboard.body


def test_uploads_sent_by_nginx_cannot_run_as_pages_of_the_site(stack):
    """An uploaded HTML file comes back through the protected media view and
    nginx's X-Accel-Redirect, sandboxed and not sniffed: data, not a page."""
    upload = stack.media / "reports/quarterly.html"
    upload.parent.mkdir(mode=0o755)
    upload.write_bytes(b"<script>alert(document.cookie)</script>")
    upload.chmod(0o644)
    assert stack.https("/media/reports/quarterly.html").status == 302, "signed-in users only"

    response = stack.https("/media/reports/quarterly.html", headers={"Cookie": admin_session(stack)})
    assert response.status == 200
    assert response.body == upload.read_bytes(), "nginx sent the file itself"
    policy = response.header("content-security-policy")
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert response.header("x-content-type-options") == "nosniff"


def test_access_log_leaves_out_the_liveness_probe(stack):
    stack.https("/health/")
    stack.https("/ready/")
    log = stack.gunicorn.log.read_text()
    assert '"GET /ready/ HTTP/1.1" 200' in log
    assert "GET /health/" not in log
