"""db_pooling: pgbouncer, native and persistent, each serving a database-backed
page under 256 concurrent connections from a PostgreSQL that allows only 20.

The rendered app runs with production settings under gunicorn with the
rendered gunicorn.conf.py. The skeleton has no public page that reads the
database (/ready/ does, but opens a connection of its own on purpose, so that
it can time out), and a deployment skeleton should not ship one: each test
adds a page to its private copy of the render, through the owner's extension
point (settings/overrides.py sets ROOT_URLCONF to a urls module the test
writes next to the project's).
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from support.binaries import postgres_bin
from support.celery import CeleryWorker
from support.gunicorn import GunicornServer
from support.load import run_load
from support.pgbouncer import PgBouncerServer
from support.postgres import PostgresServer
from support.project import manage, shell
from support.render import profile_answers, project_env, project_venv, render

DOMAIN = "obcms.gov.ph"
MAX_CONNECTIONS = 20
CLIENTS = 256
REQUESTS_PER_CLIENT = 4
USERS = 7
# As nginx forwards a request: HTTPS ended at the proxy.
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}

TEST_URLS = '''"""Test-only routes: the project's own, plus a page that reads the database."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import JsonResponse
from django.urls import path

from {package}.urls import urlpatterns as project_urlpatterns


def database_page(request):
    users = get_user_model().objects
    with transaction.atomic():
        count = users.count()
        names = list(users.order_by("pk").values_list("username", flat=True)[:3])
    # Outside a transaction: with server-side cursors this would DECLARE a
    # cursor on one server connection and FETCH from it on another.
    streamed = sum(1 for _ in users.values_list("pk", flat=True).iterator(chunk_size=2))
    return JsonResponse({{"count": count, "names": names, "streamed": streamed}})


urlpatterns = [path("db-page/", database_page), *project_urlpatterns]
'''


def expected_page(body: bytes) -> bool:
    page = json.loads(body)
    return page["count"] == USERS and page["streamed"] == USERS and page["names"] == ["user0", "user1", "user2"]


@pytest.fixture
def small_postgres() -> PostgresServer:
    """A PostgreSQL of its own for one profile, that allows 20 connections."""
    server = PostgresServer(max_connections=MAX_CONNECTIONS).start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def pgbouncer_postgres() -> PostgresServer:
    server = PostgresServer(max_connections=MAX_CONNECTIONS).start()
    yield server
    server.remove()


def with_database_page(rendered: Path, target: Path, extra_overrides: str = "") -> Path:
    """A private copy of a render with the test page added through overrides.py."""
    shutil.copytree(rendered, target, symlinks=True)
    (target / "src" / "pooling_test_urls.py").write_text(TEST_URLS.format(package="obc_management"))
    overrides = target / "src" / "obc_management" / "settings" / "overrides.py"
    overrides.write_text(overrides.read_text() + '\nROOT_URLCONF = "pooling_test_urls"\n' + extra_overrides)
    return target


def prepare_database(project, venv, env) -> None:
    """Migrations (straight to PostgreSQL, as the migrate job) and USERS users."""
    assert manage(project, venv, env, "migrate_safely").returncode == 0
    code = (
        "import json; from django.contrib.auth import get_user_model; "
        f"[get_user_model().objects.get_or_create(username=f'user{{i}}') for i in range({USERS})]; "
        "print(json.dumps(get_user_model().objects.count()))"
    )
    assert shell(project, venv, env, code).data == USERS


def load(server: GunicornServer):
    return run_load(
        server.port,
        "/db-page/",
        clients=CLIENTS,
        requests_per_client=REQUESTS_PER_CLIENT,
        headers=FORWARDED,
        host_header=DOMAIN,
        check=expected_page,
        deadline_seconds=120,
    )


def app_connections(postgres: PostgresServer) -> int:
    return int(postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'"))


def count(pool: dict[str, str], prefix: str) -> int:
    """Connections of a SHOW POOLS row in every state (cl_active, cl_waiting...)."""
    states = ("active", "idle", "used", "tested", "login", "waiting")
    return sum(int(value) for key, value in pool.items() if key.startswith(prefix) and key[len(prefix) :] in states)


def report(name: str, text: str) -> None:
    print(f"\n[{name}] {text}")


# -------------------------------------------------------------------- PgBouncer


@pytest.fixture(scope="module")
def pgbouncer_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("pgbouncer") / "project", profile_answers("pgbouncer"))


@pytest.fixture(scope="module")
def pgbouncer_venv(pgbouncer_project) -> Path:
    return project_venv(pgbouncer_project)


@pytest.fixture(scope="module")
def direct_url(pgbouncer_postgres) -> str:
    return pgbouncer_postgres.create_database("pooled")


@pytest.fixture(scope="module")
def pgbouncer(pgbouncer_project, pgbouncer_postgres, direct_url) -> PgBouncerServer:
    server = PgBouncerServer(pgbouncer_project / "deploy/pgbouncer", pgbouncer_postgres)
    server.write_scram_auth("app", "pooled")
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def pgbouncer_env(pgbouncer_project, pgbouncer_venv, pgbouncer, direct_url, redis) -> dict:
    """web and celery through PgBouncer; the migrations before, straight to PostgreSQL."""
    direct = project_env(pgbouncer_project, pgbouncer_venv, DATABASE_URL=direct_url, REDIS_URL=redis.url)
    prepare_database(pgbouncer_project, pgbouncer_venv, direct)
    return project_env(pgbouncer_project, pgbouncer_venv, DATABASE_URL=pgbouncer.url("pooled"), REDIS_URL=redis.url)


def test_pgbouncer_pools_in_transaction_mode(pgbouncer, pgbouncer_env):
    """SHOW POOLS on the admin console, as the application's user (stats_users)."""
    assert psql_as_app(pgbouncer.port, "app-password", "SELECT 1").stdout.strip() == "1"
    pools = pgbouncer.admin("SHOW POOLS")
    assert {pool["pool_mode"] for pool in pools if pool["database"] == "pooled"} == {"transaction"}
    config = {row["key"]: row["value"] for row in pgbouncer.admin("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert config["auth_type"] == "scram-sha-256"
    assert config["ignore_startup_parameters"] == "extra_float_digits"


def test_the_page_survives_256_connections_through_pgbouncer(
    pgbouncer_project, pgbouncer_venv, pgbouncer_env, pgbouncer, pgbouncer_postgres, tmp_path
):
    """32 gunicorn threads (4 gthread workers x 8), each with its own
    connection to PgBouncer: more than PostgreSQL's 20 connections allow."""
    project = with_database_page(pgbouncer_project, tmp_path / "project")
    env = {**pgbouncer_env, "GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "8"}
    server = GunicornServer(project, pgbouncer_venv, env, tmp_path / "gunicorn.log", workers=4).start()
    try:
        result = load(server)
        pools = [pool for pool in pgbouncer.admin("SHOW POOLS") if pool["database"] == "pooled"]
        stats = next(row for row in pgbouncer.admin("SHOW STATS") if row["database"] == "pooled")
        postgres_side = app_connections(pgbouncer_postgres)
    finally:
        server.stop()
    report("pgbouncer", result.summary())
    report("pgbouncer", f"SHOW POOLS after the load: {pools}")
    report("pgbouncer", f"SHOW STATS: {stats}")
    report("pgbouncer", f"connections of the app role in PostgreSQL: {postgres_side}")
    assert result.errors == 0, result.failures
    assert result.seconds < 120
    (pool,) = pools
    assert pool["pool_mode"] == "transaction"
    clients = count(pool, "cl_")
    servers = count(pool, "sv_")
    report("pgbouncer", f"{clients} client connections to PgBouncer, {servers} server connections to PostgreSQL")
    assert clients > MAX_CONNECTIONS, "more clients than PostgreSQL would take"
    assert servers <= 15
    assert postgres_side <= 15
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log and "does not exist" not in log


def test_server_side_binding_with_prepared_statements_would_break_under_pgbouncer(
    pgbouncer_project, pgbouncer_venv, pgbouncer_env, tmp_path
):
    """The control: the load above does catch what transaction pooling breaks.
    With psycopg's server-side binding and prepared statements turned on (what
    the settings leave off), statements prepared on one server connection are
    looked for on another."""
    turn_on = (
        "from .base import DATABASES\n"
        'DATABASES["default"]["OPTIONS"].update({"server_side_binding": True, "prepare_threshold": 5})\n'
    )
    project = with_database_page(pgbouncer_project, tmp_path / "project", turn_on)
    env = {**pgbouncer_env, "GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "8"}
    server = GunicornServer(project, pgbouncer_venv, env, tmp_path / "gunicorn.log", workers=4).start()
    try:
        result = load(server)
    finally:
        server.stop()
    report("pgbouncer, prepared statements on", result.summary())
    assert result.errors > 0
    assert "prepared statement" in (tmp_path / "gunicorn.log").read_text()


def run_celery_task(project: Path, venv: Path, env: dict, log: Path) -> None:
    """A worker runs clear_expired_sessions, which deletes an expired session."""
    env = {**env, "CELERY_SOFT_SHUTDOWN_TIMEOUT": "1"}
    worker = CeleryWorker(project, venv, env, log).start()
    try:
        code = """
import json
from datetime import timedelta
from django.contrib.sessions.models import Session
from django.utils import timezone
from common.tasks import clear_expired_sessions
yesterday = timezone.now() - timedelta(days=1)
Session.objects.create(session_key="expired-session-of-the-test", session_data="", expire_date=yesterday)
before = Session.objects.filter(expire_date__lt=timezone.now()).count()
result = clear_expired_sessions.delay()
result.get(timeout=30)
print(json.dumps([before, Session.objects.filter(expire_date__lt=timezone.now()).count(), result.status]))
"""
        before, after, status = shell(project, venv, env, code).data
    finally:
        assert worker.stop() == 0
    assert (before, after, status) == (1, 0, "SUCCESS")
    assert "common.tasks.clear_expired_sessions" in log.read_text()


def test_a_celery_task_reaches_the_database_through_pgbouncer(
    pgbouncer_project, pgbouncer_venv, pgbouncer_env, pgbouncer, tmp_path
):
    before = next(row for row in pgbouncer.admin("SHOW STATS") if row["database"] == "pooled")
    run_celery_task(pgbouncer_project, pgbouncer_venv, pgbouncer_env, tmp_path / "worker.log")
    after = next(row for row in pgbouncer.admin("SHOW STATS") if row["database"] == "pooled")
    assert int(after["total_xact_count"]) > int(before["total_xact_count"])


def psql_as_app(port: int, password: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "app", "-d", "pooled", "-Atc", sql],
        capture_output=True,
        text=True,
        check=False,
        timeout=15,
        env={"PATH": "/usr/bin:/bin", "PGPASSWORD": password},
    )


def test_the_image_entrypoint_authenticates_with_the_password(pgbouncer_project, pgbouncer_postgres, direct_url):
    """The container's way: entrypoint.sh writes the auth file from
    APP_DATABASE_USER and APP_DATABASE_PASSWORD and starts PgBouncer, which logs in to
    PostgreSQL with SCRAM; PGBOUNCER_* variables override pgbouncer.ini; the
    image's health check sees it answer."""
    server = PgBouncerServer(pgbouncer_project / "deploy/pgbouncer", pgbouncer_postgres)
    try:
        server.start_with_entrypoint("app", "app-password", "pooled", default_pool_size="3")
        assert server.healthcheck().returncode == 0
        config = {row["key"]: row["value"] for row in server.admin("SHOW CONFIG")}
        assert config["default_pool_size"] == "3"
        assert config["stats_users"] == "app"
        assert oct((server.base / "userlist.txt").stat().st_mode & 0o777) == "0o600"
        assert psql_as_app(server.port, "app-password", "SELECT current_user").stdout.strip() == "app"
        wrong = psql_as_app(server.port, "not-the-password", "SELECT 1")
        assert wrong.returncode != 0 and "authentication failed" in wrong.stderr
        server.stop()
        assert server.healthcheck().returncode != 0, "the health check notices PgBouncer is gone"
    finally:
        server.remove()


# -------------------------------------------------------------- native, persistent


@pytest.fixture(scope="module")
def native_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("native") / "project", profile_answers("native"))


def test_a_celery_task_reaches_the_database_with_the_native_pool(native_project, small_postgres, redis, tmp_path):
    """Each prefork child opens a pool of its own after the fork."""
    venv = project_venv(native_project)
    env = project_env(native_project, venv, DATABASE_URL=small_postgres.create_database("native"), REDIS_URL=redis.url)
    assert manage(native_project, venv, env, "migrate_safely").returncode == 0
    run_celery_task(native_project, venv, env, tmp_path / "worker.log")


def test_the_page_survives_256_connections_with_the_native_pool(native_project, small_postgres, redis, tmp_path):
    """3 gthread workers x 4 threads: pools of at most 4 connections each."""
    venv = project_venv(native_project)
    env = project_env(native_project, venv, DATABASE_URL=small_postgres.create_database("native"), REDIS_URL=redis.url)
    prepare_database(native_project, venv, env)
    project = with_database_page(native_project, tmp_path / "project")
    env = {**env, "GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"}
    server = GunicornServer(project, venv, env, tmp_path / "gunicorn.log", workers=3).start()
    try:
        result = load(server)
        postgres_side = app_connections(small_postgres)
        # Every pooled connection breaks when PostgreSQL restarts; each is
        # checked before it is handed out, so no request sees a broken one.
        small_postgres.stop()
        small_postgres.start()
        after_restart = run_load(
            server.port, "/db-page/", clients=12, requests_per_client=5, headers=FORWARDED, host_header=DOMAIN
        )
    finally:
        server.stop()
    report("native", result.summary())
    report("native", f"connections of the app role in PostgreSQL: {postgres_side}")
    report("native", f"after a PostgreSQL restart: {after_restart.summary()}")
    assert result.errors == 0, result.failures
    assert postgres_side <= 3 * 4
    assert after_restart.errors == 0, after_restart.failures


def test_the_page_survives_256_connections_with_persistent_connections(
    default_project, venv, small_postgres, redis, tmp_path
):
    """4 sync workers, one persistent connection each. (The rendered default,
    gthread with 8 threads, keeps one per thread: 32, more than this
    PostgreSQL's 20.)"""
    database_url = small_postgres.create_database("persistent")
    env = project_env(
        default_project,
        venv,
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        GUNICORN_WORKER_CLASS="sync",
        GUNICORN_THREADS="1",
    )
    prepare_database(default_project, venv, env)
    project = with_database_page(default_project, tmp_path / "project")
    server = GunicornServer(project, venv, env, tmp_path / "gunicorn.log", workers=4).start()
    try:
        result = load(server)
        postgres_side = app_connections(small_postgres)
    finally:
        server.stop()
    report("persistent", result.summary())
    report("persistent", f"connections of the app role in PostgreSQL: {postgres_side}")
    assert result.errors == 0, result.failures
    assert postgres_side <= 4
