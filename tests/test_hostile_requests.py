"""Attacks on the running stack (nginx -> gunicorn -> PostgreSQL, Redis, as
rendered): each is refused with the right status, and nothing is stored,
leaked or counted against someone else.

Clients come from different loopback addresses (127.0.0.x) so that nginx's
and Django's per-address limits see different clients."""

import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.processes import wait_until
from support.stack import ADMIN_PASSWORD, DOMAIN, login_form, login_page, post_login, running_stack

FORGED_CSRF_COOKIE = "csrftoken=" + "f" * 32
BIG = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def stack(default_project, venv, postgres, tmp_path_factory):
    with running_stack(default_project, venv, postgres, tmp_path_factory.mktemp("hostile"), "hostile") as running:
        yield running


def gunicorn_requests(stack, path: str) -> int:
    """How many requests for path gunicorn's access log shows."""
    return stack.gunicorn.log.read_text().count(f" {path} HTTP/1.")


# ------------------------------------------------------------------ nginx


def test_nginx_names_no_version(stack):
    response = stack.https("/no-such-page/")
    assert response.header("server") == "nginx"
    assert b"nginx/" not in response.body
    refused = stack.https("/ready/")
    assert refused.header("server") == "nginx" and b"nginx/" not in refused.body


# -------------------------------------------------------------- readiness


def test_ready_is_not_found_from_outside_and_answered_inside(stack):
    before = gunicorn_requests(stack, "/ready/")
    assert stack.https("/ready/").status == 404
    assert gunicorn_requests(stack, "/ready/") == before, "nginx answered itself"
    # A proxy that passes it on anyway (Traefik, a changed nginx conf) adds
    # X-Forwarded-For: Django refuses too.
    assert stack.direct("/ready/", headers={"X-Forwarded-For": "203.0.113.9"}).status == 404
    assert stack.direct("/ready/").status == 200, "probes inside the network"


# ---------------------------------------------------------- request bodies


def multipart_head(path: str, length: int, cookie: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nX-Forwarded-Proto: https\r\n"
        f"Origin: https://{DOMAIN}\r\nCookie: {cookie}\r\n"
        f"Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


FILE_PART = (
    b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)


def test_an_anonymous_upload_with_a_forged_csrf_cookie_is_refused_unread(stack):
    """The attack: a large file posted to the login form with a made-up CSRF
    cookie. The CSRF check would parse the form, writing the file to the
    temporary directory, before refusing it. Sent to gunicorn directly (as
    Traefik passes bodies on); a megabyte of the declared 20 is sent, then
    the sender waits: nothing may be stored meanwhile."""
    # gunicorn keeps its own files there too (the metrics of its workers).
    before = set(stack.upload_temp.iterdir())
    with socket.create_connection(("127.0.0.1", stack.gunicorn.port), timeout=10) as sock:
        sock.sendall(multipart_head("/admin/login/", BIG, FORGED_CSRF_COOKIE) + FILE_PART + b"x" * 1024 * 1024)
        time.sleep(1.0)
        stored = sorted(path.name for path in set(stack.upload_temp.iterdir()) - before)
        answer = sock.recv(4096).decode(errors="replace")
    assert stored == [], f"written to the temporary directory: {stored}"
    assert answer.startswith("HTTP/1.1 413 "), answer[:300]
    assert "needs a signed-in user" in answer


def test_a_large_login_post_is_refused_by_nginx_before_it_is_read(stack):
    body = FILE_PART + b"x" * (BIG - len(FILE_PART))
    response = stack.https(
        "/admin/login/",
        method="POST",
        body=body,
        headers={"Cookie": FORGED_CSRF_COOKIE, "Content-Type": "multipart/form-data; boundary=b0undary"},
        source="127.0.0.3",
    )
    assert response.status == 413
    assert b"nginx" in response.body, "nginx's own page: Django never saw it"
    assert not list(stack.nginx.body_dir.iterdir()), "nginx buffered none of it"


def test_a_large_anonymous_post_elsewhere_gets_djangos_refusal(stack):
    """Any other path: nginx passes bodies up to client_max_body_size on,
    and Django refuses one from someone not signed in without reading it.

    gunicorn then closes the connection with the body unread, and the
    kernel resets it: nginx, still sending the body or not yet done reading
    the answer, may meet the reset first and answer 502 (its error log
    names the reset) instead of passing Django's 413 on. Draining the body
    first would make the answer certain, but would let a slow sender talking
    to gunicorn directly (behind Traefik) hold a worker. So what is certain
    is checked: gunicorn's log shows Django's 413, and the client gets
    either it or nginx's 502 for the reset."""
    path = "/admin/auth/user/add/"
    refused = re.compile(rf'"POST {re.escape(path)} HTTP/1\.\d" 413 ')
    refusals_before = len(refused.findall(stack.gunicorn.log.read_text()))
    error_log = stack.nginx.base / "error.log"
    errors_before = len(error_log.read_bytes())
    body = FILE_PART + b"x" * (3 * 1024 * 1024)
    response = stack.https(
        path,
        method="POST",
        body=body,
        headers={"Cookie": FORGED_CSRF_COOKIE, "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    if response.status == 502:
        errors = error_log.read_bytes()[errors_before:].decode(errors="replace")
        assert re.search(r"\(104: Connection reset by peer\)|\(32: Broken pipe\)", errors), errors
    else:
        assert response.status == 413
        assert b"needs a signed-in user" in response.body
    # Django refused it (wait_until fails when its log never shows that).
    wait_until(lambda: len(refused.findall(stack.gunicorn.log.read_text())) > refusals_before, 10, "Django's 413")


# ------------------------------------------------------------ login throttling


def test_password_guessing_locks_the_guesser_out_not_the_user(stack):
    """Five wrong passwords for admin from one address (each with a new
    forged X-Forwarded-For): that address is locked out, even with the right
    password; the admin elsewhere, and the addresses the guesser named, are not."""
    guesser = "127.0.0.7"
    statuses = [
        login_form(stack, "admin", "wrong", source=guesser, headers={"X-Forwarded-For": f"192.0.2.{n}"}).status
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429], "the form again four times, then locked out"
    assert login_form(stack, "admin", ADMIN_PASSWORD, source=guesser).status == 429
    assert login_form(stack, "admin", ADMIN_PASSWORD, source="127.0.0.8").status == 302
    assert login_form(stack, "admin", ADMIN_PASSWORD, source="127.0.0.9").status == 302


def test_nginx_slows_a_flood_of_login_posts_from_one_address(stack):
    """16 posts at once from one address, each for another username (so no
    lockout applies): nginx lets the first and a burst of 10 through and
    answers the other 5 with 429 itself."""
    flooder = "127.0.0.10"
    token, cookie = login_page(stack, source=flooder)
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(
            pool.map(
                lambda n: post_login(stack, token, cookie, f"user{n}", "wrong", source=flooder, timeout=60), range(16)
            )
        )
    statuses = sorted(response.status for response in responses)
    assert statuses == [200] * 11 + [429] * 5, statuses
    assert all(b"nginx" in response.body for response in responses if response.status == 429)
    assert login_form(stack, "admin", ADMIN_PASSWORD, source="127.0.0.11").status == 302, "others are not slowed"
