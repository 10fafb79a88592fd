"""PostgreSQL goes away under a running gunicorn (the rendered
gunicorn.conf.py, production settings): /ready/ says 503 within 3 seconds
while /health/ stays 200, and when PostgreSQL is back on the same port,
/ready/ and pages that query the database work again without restarting
anything. The PostgreSQL server is the test's own."""

import json
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.gunicorn import GunicornServer
from support.http import request
from support.load import run_load
from support.postgres import PostgresServer
from support.processes import wait_until
from support.project import manage
from support.render import project_env
from support.testonly import add_test_urls


@pytest.fixture
def own_postgres():
    server = PostgresServer().start()
    yield server
    if server.process and server.process.poll() is None:
        server.process.send_signal(signal.SIGCONT)
    server.remove()


@pytest.fixture
def app(project_copy, venv, own_postgres, redis, tmp_path):
    project = project_copy
    add_test_urls(project)
    env = project_env(project, venv, DATABASE_URL=own_postgres.create_database("readiness"), REDIS_URL=redis.url)
    manage(project, venv, env, "migrate_safely").checked()
    server = GunicornServer(project, venv, env, tmp_path / "gunicorn.log", workers=2).start()
    yield server
    server.stop()


def get(server: GunicornServer, path: str):
    """As the probes and nginx send it; returns (status, body, seconds)."""
    started = time.monotonic()
    response = request(
        server.port, path, host_header="obcms.gov.ph", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    return response.status, response.body, time.monotonic() - started


def wait_for(server: GunicornServer, path: str, status: int, within: float) -> float:
    """Seconds until path answers status; fails after `within` seconds."""
    began = time.monotonic()
    wait_until(lambda: get(server, path)[0] == status, within, f"{path} answering {status}", interval=0.05)
    return time.monotonic() - began


def shared_seconds(project: Path) -> float:
    """How long each process reuses a round of readiness checks (the
    rendered health.py): a probe may answer from a round that old."""
    text = (project / "src" / "common" / "health.py").read_text()
    return float(re.search(r"^RESULT_MAX_AGE_SECONDS = ([0-9.]+)$", text, re.MULTILINE).group(1))


def worker_pids(server: GunicornServer) -> set[str]:
    log = server.log.read_text()
    return {line.rsplit("pid: ", 1)[1].strip(")") for line in log.splitlines() if "Booting worker with pid" in line}


def test_ready_follows_postgresql_stopped_and_started(app, own_postgres):
    for _ in range(6):  # every worker holds a persistent connection now
        assert get(app, "/test/database/")[0] == 200
    assert get(app, "/ready/")[0] == 200
    workers = worker_pids(app)

    stopping = time.monotonic()
    own_postgres.stop()  # fast shutdown; returns when the server has exited
    stopped = time.monotonic()
    stop_seconds = stopped - stopping
    wait_for(app, "/ready/", 503, within=3 - stop_seconds)
    to_503 = time.monotonic() - stopping
    # Every process's last round from before the stop has expired by then:
    # from now on, whichever worker answers says 503.
    time.sleep(max(0.0, stopped + shared_seconds(app.project) - time.monotonic()))
    answers = [get(app, "/ready/") for _ in range(4)]
    for status, body, _ in answers:
        assert status == 503 and json.loads(body)["checks"] == {"database": False, "cache": True}
    seconds = max(s for _, _, s in answers)
    health = [get(app, "/health/") for _ in range(10)]
    assert {status for status, _, _ in health} == {200}
    assert get(app, "/test/database/")[0] == 500

    own_postgres.start()  # the same port
    to_200 = wait_for(app, "/ready/", 200, within=10)
    pages = [get(app, "/test/database/")[0] for _ in range(10)]
    print(
        f"\nPostgreSQL stopped (in {stop_seconds:.2f} s): /ready/ 503 {to_503:.2f} s after the stop began "
        f"(answering in {seconds * 1000:.0f} ms), "
        f"/health/ 200 in {max(s for _, _, s in health) * 1000:.0f} ms at most; "
        f"started again: /ready/ 200 after {to_200:.2f} s; database pages then: {pages}"
    )
    assert pages == [200] * 10, "stale persistent connections were replaced"
    assert app.process.poll() is None and worker_pids(app) == workers, "nothing was restarted"


def test_ready_gives_up_on_a_hung_postgresql(app, own_postgres):
    """A PostgreSQL that accepts connections but never answers (its
    postmaster stopped with SIGSTOP): /ready/ still answers, 503, because
    each check has a deadline."""
    assert get(app, "/ready/")[0] == 200
    own_postgres.process.send_signal(signal.SIGSTOP)
    try:
        # Rounds from before the SIGSTOP have expired (each process reuses one that long).
        time.sleep(shared_seconds(app.project))
        status, body, seconds = get(app, "/ready/")
        health = get(app, "/health/")
    finally:
        own_postgres.process.send_signal(signal.SIGCONT)
    to_200 = wait_for(app, "/ready/", 200, within=10)
    print(
        f"\nPostgreSQL hung: /ready/ {status} in {seconds:.2f} s, /health/ {health[0]} in {health[2] * 1000:.0f} ms; "
        f"resumed: /ready/ 200 after {to_200:.2f} s"
    )
    assert status == 503 and json.loads(body)["checks"]["database"] is False
    assert seconds < 3
    assert health[0] == 200


def test_the_migrate_job_waits_for_a_database_that_is_still_starting(
    default_project, venv, own_postgres, redis, tmp_path
):
    """Where nothing starts the migrate job after PostgreSQL (a swarm's first
    deploy), migrate_safely waits for it, saying so once; with no time to
    wait it fails with one line naming the database."""
    env = project_env(default_project, venv, DATABASE_URL=own_postgres.create_database("starting"), REDIS_URL=redis.url)
    own_postgres.stop()
    gave_up = manage(default_project, venv, env, "migrate_safely", "--database-wait", "0")
    assert gave_up.returncode == 1
    assert "CommandError: The database did not accept connections within 0 s" in gave_up.stderr

    # PostgreSQL starts only once the job has found it missing.
    log = tmp_path / "migrate.log"
    command = [str(venv / "bin" / "python"), "manage.py", "migrate_safely"]
    with log.open("w") as out:
        job = subprocess.Popen(command, cwd=default_project / "src", env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Waiting for the database" not in log.read_text():
            assert job.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "migrate_safely said nothing about the missing database"
            time.sleep(0.2)
        time.sleep(3)
        assert job.poll() is None, "migrate_safely gave up on a database that was still starting"
        own_postgres.start()  # the same port
        job.wait(timeout=120)
    finally:
        if job.poll() is None:
            job.kill()
    output = log.read_text()
    assert job.returncode == 0, output
    assert output.count("Waiting for the database to accept connections") == 1, output
    assert own_postgres.psql("SELECT count(*) FROM django_migrations", database="starting") != "0"


# gunicorn's rendered defaults: each thread may keep a database connection.
WORKERS, THREADS = 2, 8
# Room for those connections and one probe connection per worker, not for a
# probe connection per thread. PostgreSQL keeps 3 more for superusers (the
# test's own sampling).
FLOOD_MAX_CONNECTIONS = WORKERS * THREADS + WORKERS + 3


def test_a_flood_of_probes_cannot_exhaust_postgresql(project_copy, venv, redis, tmp_path):
    """500 clients ask /ready/ at once (twice each) while pages that query
    the database are served: every probe gets an answer, every page works,
    PostgreSQL never runs out of connections."""
    server = PostgresServer(max_connections=FLOOD_MAX_CONNECTIONS).start()
    project = project_copy
    add_test_urls(project)
    env = project_env(project, venv, DATABASE_URL=server.create_database("flood"), REDIS_URL=redis.url)
    manage(project, venv, env, "migrate_safely").checked()
    env["GUNICORN_THREADS"] = str(THREADS)
    app = GunicornServer(project, venv, env, tmp_path / "gunicorn.log", workers=WORKERS).start()
    headers = {"X-Forwarded-Proto": "https"}
    peak = {"connections": 0}
    flooding = threading.Event()

    def sample_connections():
        while flooding.is_set():
            try:
                count = int(server.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'flood'"))
            except RuntimeError:  # even the superuser's reserve is gone; the log says so
                continue
            peak["connections"] = max(peak["connections"], count)
            time.sleep(0.02)

    try:
        # Every thread of every worker holds its persistent connection first.
        warm = run_load(
            app.port,
            "/test/database/",
            clients=4 * WORKERS * THREADS,
            requests_per_client=2,
            host_header="obcms.gov.ph",
            headers=headers,
        )
        assert warm.errors == 0, warm.summary()
        flooding.set()
        with ThreadPoolExecutor(max_workers=3) as pool:
            sampler = pool.submit(sample_connections)
            probes = pool.submit(run_load, app.port, "/ready/", clients=500, requests_per_client=2, deadline_seconds=90)
            time.sleep(0.5)
            pages = pool.submit(
                run_load,
                app.port,
                "/test/database/",
                clients=WORKERS * THREADS,
                requests_per_client=10,
                host_header="obcms.gov.ph",
                headers=headers,
                deadline_seconds=90,
            )
            probes, pages = probes.result(), pages.result()
            flooding.clear()
            sampler.result()
    finally:
        flooding.clear()
        app.stop()
        refused = server.log.read_text().count("too many clients")
        server.remove()
    print(
        f"\n/ready/ flood: {probes.summary()}\npages meanwhile: {pages.summary()}\n"
        f"peak connections to the database: {peak['connections']} (max_connections {FLOOD_MAX_CONNECTIONS})"
    )
    assert refused == 0, "PostgreSQL refused connections: too many clients"
    assert probes.errors == 0, probes.summary() + str(probes.failures[:3])
    assert pages.errors == 0, pages.summary() + str(pages.failures[:3])
    assert peak["connections"] <= WORKERS * THREADS + WORKERS
