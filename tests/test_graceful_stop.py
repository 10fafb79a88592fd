"""gunicorn (the rendered gunicorn.conf.py, production settings) is stopped
with SIGTERM while requests are in flight: they complete.

The requests go to a two-second view of a test-only urls module in the
test's private copy of the render. gunicorn's rendered defaults are kept,
except what the documented variables change for the test: 50 requests in
flight need 50 threads (GUNICORN_WORKER_CLASS=gthread,
GUNICORN_THREADS=50, GUNICORN_WORKERS=2: any split of the connections
between the two workers fits)."""

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.gunicorn import GunicornServer
from support.http import request
from support.nginx import NginxServer, make_certificate
from support.render import project_env
from support.testonly import add_test_urls

SLOW_MS = 2000
DOMAIN = "obcms.gov.ph"


@pytest.fixture
def slow_project(project_copy) -> Path:
    add_test_urls(project_copy)
    return project_copy


def outcome(send, n: int) -> tuple[str, float]:
    """(status or error, when it ended) of one slow request."""
    try:
        result = str(send(f"/test/sleep/{SLOW_MS}/?n={n}").status)
    except OSError as error:
        result = type(error).__name__
    return result, time.monotonic()


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def straight_to(server: GunicornServer):
    def send(path: str):
        # X-Forwarded-Proto as nginx sends it, or Django redirects to HTTPS.
        headers = {"X-Forwarded-Proto": "https"}
        return request(server.port, path, host_header=DOMAIN, headers=headers, timeout=60)

    return send


def tcp_sockets(port: int) -> tuple[int, int]:
    """(established connections to port, connections waiting in its listen
    queue), from /proc/net/tcp: for a listening socket, rx_queue is the
    number of connections the kernel accepted that no process took yet."""
    connected = waiting = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if fields[3] == "01" and remote_port == port:
            connected += 1
        elif fields[3] == "0A" and local_port == port:
            waiting = int(fields[4].split(":")[1], 16)
    return connected, waiting


def send_and_stop(server: GunicornServer, send, total: int, in_flight: int, started_log: Path):
    """Send `total` slow requests at once; once `in_flight` of them run and
    every connection has reached gunicorn (taken by a worker, or waiting in
    the listen queue), SIGTERM gunicorn's master. Returns the outcomes, when
    SIGTERM was sent, the seconds from SIGTERM to the master's exit, its exit
    code, and how many connections waited in the listen queue then."""
    with ThreadPoolExecutor(total) as pool:
        futures = [pool.submit(outcome, send, n) for n in range(total)]
        deadline = time.monotonic() + 15
        while lines(started_log) < in_flight or tcp_sockets(server.port)[0] < total:
            assert time.monotonic() < deadline, f"{lines(started_log)} of {in_flight} requests started"
            time.sleep(0.02)
        # Workers that take connections as they come have taken them once
        # the listen queue stays the same for a while.
        queued, steady_since = tcp_sockets(server.port)[1], time.monotonic()
        while time.monotonic() - steady_since < 0.5:
            assert time.monotonic() < deadline, "the listen queue never settled"
            if tcp_sockets(server.port)[1] != queued:
                queued, steady_since = tcp_sockets(server.port)[1], time.monotonic()
            time.sleep(0.02)
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        results = [future.result(timeout=90) for future in futures]
    code = server.process.wait(60)
    return results, signalled, time.monotonic() - signalled, code, queued


def slow_gunicorn(project, venv, database_url, redis, tmp_path, worker_class: str, threads: int):
    """Two workers of the given class and threads, serving the slow view;
    each request that starts is written to the returned log."""
    started_log = tmp_path / "started.log"
    env = project_env(
        project,
        venv,
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        GUNICORN_WORKER_CLASS=worker_class,
        GUNICORN_THREADS=str(threads),
        TEST_REQUEST_LOG=str(started_log),
    )
    return GunicornServer(project, venv, env, tmp_path / "gunicorn.log", workers=2).start(), started_log


def test_sigterm_lets_fifty_requests_in_flight_finish(slow_project, venv, database_url, redis, tmp_path):
    server, started_log = slow_gunicorn(slow_project, venv, database_url, redis, tmp_path, "gthread", 50)
    try:
        results, signalled, stop_seconds, code, _ = send_and_stop(server, straight_to(server), 50, 50, started_log)
    finally:
        server.stop()
    log = (tmp_path / "gunicorn.log").read_text()
    after = [ended - signalled for _, ended in results]
    print(
        f"\n50 in flight at SIGTERM: {sorted({result for result, _ in results})}, answered "
        f"{min(after):.2f}-{max(after):.2f} s after SIGTERM; master exited {code} {stop_seconds:.2f} s after it"
    )
    assert [result for result, _ in results] == ["200"] * 50, log[-3000:]
    assert min(after) > 0, "every request was still in flight when SIGTERM came"
    assert code == 0
    assert stop_seconds < 30, "well within graceful_timeout"
    assert "Handling signal: term" in log


@pytest.mark.parametrize(
    ("worker_class", "listen_queue", "expected"),
    [
        # sync: a worker takes a connection only when it is free; the eight
        # wait in the listen queue and are reset when gunicorn exits.
        ("sync", 8, {"200": 2, "502": 8}),
        # gthread: each worker accepts connections at once and queues them
        # for its threads; it serves them all (within graceful_timeout).
        ("gthread", 0, {"200": 10}),
    ],
)
def test_requests_waiting_for_a_worker_at_sigterm(
    worker_class, listen_queue, expected, slow_project, venv, database_url, redis, tmp_path
):
    """Two workers of one thread behind the rendered nginx, ten requests: two
    in flight, eight waiting, when gunicorn gets SIGTERM. What the clients
    of the eight see is what the runbook describes."""
    server, started_log = slow_gunicorn(slow_project, venv, database_url, redis, tmp_path, worker_class, 1)
    ca = make_certificate(tmp_path / "certs", [DOMAIN])
    conf = slow_project / "deploy/nginx/obcms.conf"
    nginx = NginxServer(tmp_path / "nginx", conf, server.port, tmp_path / "certs", tmp_path / "media").start()

    def through_nginx(path: str):
        return request(nginx.https_port, path, host_header=DOMAIN, tls_ca=ca, timeout=60)

    try:
        results, _, stop_seconds, code, queued = send_and_stop(server, through_nginx, 10, 2, started_log)
    finally:
        nginx.stop()
        server.stop()
    summary = {}
    for result, _ in results:
        summary[result] = summary.get(result, 0) + 1
    print(
        f"\n{worker_class}: 2 in flight + 8 waiting at SIGTERM ({queued} in the listen queue) -> {summary}; "
        f"master exited {code} {stop_seconds:.2f} s after SIGTERM"
    )
    assert queued == listen_queue
    assert summary == expected
    assert code == 0
