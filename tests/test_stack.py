"""The running stack: real nginx (rendered conf, self-signed certificate) ->
gunicorn (rendered gunicorn.conf.py, production settings) -> PostgreSQL, Redis."""

import http.client
import json
import re
import time

import pytest

from support.facts import computed_values
from support.http import request
from support.processes import wait_until
from support.project import shell, signed_in_session
from support.stack import ADMIN_PASSWORD, DOMAIN, admin_session, login_form, running_stack


@pytest.fixture(scope="module")
def stack(default_project, venv, postgres, tmp_path_factory):
    with running_stack(default_project, venv, postgres, tmp_path_factory.mktemp("stack"), "stack") as running:
        yield running


def test_health_answers_json_over_https(stack):
    response = stack.https("/health/")
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body)["status"] == "healthy"


def test_readiness_follows_redis_without_restarting_gunicorn(stack):
    assert stack.direct("/ready/").status == 200
    master = stack.gunicorn.process.pid

    stack.redis.stop()
    stopped = time.monotonic()
    while (response := stack.direct("/ready/")).status != 503:
        assert time.monotonic() - stopped < 3, "still ready 3 s after Redis stopped"
        time.sleep(0.1)
    assert json.loads(response.body)["checks"] == {"database": True, "cache": False}
    assert time.monotonic() - stopped < 3

    stack.redis.start()  # the same port again
    back = time.monotonic()
    while stack.direct("/ready/").status != 200:
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
    # HSTS as a new .env has it: an hour, no preload (the runbook raises it).
    first = computed_values()["hsts_seconds_first"]
    assert response.header("strict-transport-security") == f"max-age={first}; includeSubDomains"
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


def test_admin_login_post_over_https_passes_csrf(stack):
    response = login_form(stack, "admin", ADMIN_PASSWORD)
    assert response.status == 302, response.body[:500]
    assert response.header("location") == "/admin/"
    session = next(c for c in response.cookies if c.startswith("sessionid="))
    assert "Secure" in session and "HttpOnly" in session
    dashboard = stack.https("/admin/", headers={"Cookie": session.split(";")[0]})
    assert dashboard.status == 200 and b"Site administration" in dashboard.body


# Uploads that would run as part of the site if sent as they are: a page, a
# drawing with a script, a script, and a PNG that is also a page (a polyglot).
HOSTILE_UPLOADS = {
    "evil.html": b"<script>alert(document.cookie)</script>",
    "evil.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "evil.js": b"alert(document.cookie)",
    "evil.png": b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
}
UPLOAD_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


@pytest.fixture(scope="module")
def admin_cookie(stack):
    return admin_session(stack)


@pytest.fixture(scope="module")
def hostile_uploads(stack) -> dict[str, str]:
    """Saved through the project's own storage, as an upload form saves
    them: the stored name of each."""
    code = f"""
import json
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
files = {HOSTILE_UPLOADS!r}
print(json.dumps({{name: default_storage.save("uploads/" + name, ContentFile(body)) for name, body in files.items()}}))
"""
    return shell(stack.project, stack.venv, stack.env, code).data


def test_upload_names_carry_a_random_part(hostile_uploads, stack, admin_cookie):
    for file_name, stored in hostile_uploads.items():
        stem, suffix = file_name.split(".")
        assert re.fullmatch(rf"uploads/{stem}_[A-Za-z0-9]{{22}}\.{suffix}", stored), stored
    assert stack.https("/media/uploads/evil.html", headers={"Cookie": admin_cookie}).status == 404


@pytest.mark.parametrize("file_name", list(HOSTILE_UPLOADS))
def test_uploads_sent_by_nginx_are_sandboxed_data(stack, admin_cookie, hostile_uploads, file_name):
    """Through the protected media view and nginx's X-Accel-Redirect: a
    download of bytes (an image shown as an image), sandboxed, not sniffed."""
    response = stack.https(f"/media/{hostile_uploads[file_name]}", headers={"Cookie": admin_cookie})
    assert response.status == 200
    assert response.body == HOSTILE_UPLOADS[file_name], "nginx sent the file itself"
    assert "x-accel-redirect" not in response.headers
    if file_name == "evil.png":
        assert response.header("content-type") == "image/png"
        assert response.header("content-disposition") == 'inline; filename="evil.png"'
    else:
        assert response.header("content-type") == "application/octet-stream"
        assert response.header("content-disposition") == f'attachment; filename="{file_name}"'
    assert response.header("content-security-policy") == UPLOAD_POLICY
    assert response.header("x-content-type-options") == "nosniff"
    assert response.header("x-frame-options") == "DENY"


def test_uploads_are_for_the_users_media_access_allows(stack, hostile_uploads):
    """The default media_access.can_read_media: active staff only."""
    path = f"/media/{hostile_uploads['evil.html']}"
    anonymous = stack.https(path)
    assert anonymous.status == 302 and anonymous.header("location").startswith("/admin/login/")
    reader = signed_in_session(stack.project, stack.venv, stack.env, "reader")
    refused = stack.https(path, headers={"Cookie": reader})
    assert refused.status == 403
    assert HOSTILE_UPLOADS["evil.html"] not in refused.body
    staff = signed_in_session(stack.project, stack.venv, stack.env, "clerk", is_staff=True)
    assert stack.https(path, headers={"Cookie": staff}).status == 200
    # The media volume is not reachable without Django's answer.
    assert stack.https(f"/protected-media/{hostile_uploads['evil.html']}").status == 404


def test_access_log_leaves_out_the_liveness_probe(stack):
    stack.https("/health/")
    status = stack.direct("/ready/").status
    # gunicorn writes the line just after it answered.
    wait_until(lambda: f'"GET /ready/ HTTP/1.1" {status}' in stack.gunicorn.log.read_text(), 5, "the access log line")
    assert "GET /health/" not in stack.gunicorn.log.read_text()
