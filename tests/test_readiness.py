"""PostgreSQL goes away under a running gunicorn (the rendered
gunicorn.conf.py, production settings): /ready/ says 503 within 3 seconds
while /health/ stays 200, and when PostgreSQL is back on the same port,
/ready/ and pages that query the database work again without restarting
anything. The PostgreSQL server is the test's own."""

import json
import signal
import subprocess
import time

import pytest

from support.gunicorn import GunicornServer
from support.http import request
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
    stop_seconds = time.monotonic() - stopping
    wait_for(app, "/ready/", 503, within=3 - stop_seconds)
    to_503 = time.monotonic() - stopping
    status, body, seconds = get(app, "/ready/")
    assert status == 503 and json.loads(body)["checks"] == {"database": False, "cache": True}
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
