"""Least privilege in PostgreSQL. The migrate job (scripts/migrate.sh)
connects as the database's owner, a superuser as the postgres image makes
it, and creates the application's role; the application connects as that
role, straight to PostgreSQL, through PgBouncer (the image's entrypoint.sh)
and with Django's native pool. It reads and writes rows; everything an SQL
injection would try next is refused."""

import json
import subprocess

import pytest
import yaml

from support.binaries import postgres_bin
from support.pgbouncer import PgBouncerServer
from support.postgres import PostgresServer
from support.project import manage, migrate_job, shell
from support.render import profile_answers, project_env, project_venv, render

APP_ROLE = "obcms_app"
INSUFFICIENT_PRIVILEGE = "42501"

# What an attacker who can run SQL as the application would try.
ATTACKS = {
    "create a table": "CREATE TABLE stolen (data text)",
    "create a temporary table": "CREATE TEMP TABLE stolen (data text)",
    "drop a table": "DROP TABLE django_session",
    "alter a table": "ALTER TABLE auth_user ADD COLUMN backdoor text",
    "truncate a table": "TRUNCATE django_migrations",
    "run a program": "COPY django_session (session_key) FROM PROGRAM 'id'",
    "write a file": "COPY (SELECT 1) TO '/tmp/written-by-the-app'",
    "read a file": "SELECT pg_read_file('/etc/passwd')",
    "list a directory": "SELECT pg_ls_dir('.')",
    "create a role": "CREATE ROLE intruder LOGIN SUPERUSER",
    "create a function": "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "grant itself a role": f"GRANT pg_execute_server_program TO {APP_ROLE}",
}

ATTEMPTS = f"""
import json
from django.contrib.auth import get_user_model
from django.db import connection, transaction

attacks = {ATTACKS!r}
results = {{}}
for name, statement in attacks.items():
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        results[name] = "done"
    except Exception as error:
        results[name] = getattr(getattr(error, "__cause__", None), "sqlstate", None) or repr(error)
# What it may do: rows.
users = get_user_model().objects
user = users.create_user("role-test")
user.email = "role-test@example.org"
user.save()
rows = [users.filter(email="role-test@example.org").count()]
user.delete()
rows.append(users.filter(username="role-test").count())
with connection.cursor() as cursor:
    cursor.execute("SELECT current_user")
    role = cursor.fetchone()[0]
print(json.dumps({{"role": role, "rows": rows, "attacks": results}}))
"""


@pytest.fixture(scope="module")
def roles_postgres():
    server = PostgresServer().start()
    yield server
    server.remove()


def as_the_application(project, venv, env) -> dict:
    return shell(project, venv, env, ATTEMPTS).data


def assert_rows_only(outcome: dict) -> None:
    assert outcome["role"] == APP_ROLE
    assert outcome["rows"] == [1, 0], "it reads, writes and deletes rows"
    assert outcome["attacks"] == dict.fromkeys(ATTACKS, INSUFFICIENT_PRIVILEGE)


@pytest.mark.parametrize("profile", ["default", "native"])
def test_the_application_role_reads_and_writes_rows_only(profile, roles_postgres, redis, tmp_path):
    """Straight to PostgreSQL (persistent connections) and with the native pool."""
    project = render(tmp_path / "project", profile_answers(profile))
    venv = project_venv(project)
    owner_url, app_url = roles_postgres.create_owned_database(f"roles_{profile}")
    env = project_env(project, venv, DATABASE_URL=app_url, REDIS_URL=redis.url)
    for _ in range(2):  # a second deploy changes nothing
        job = migrate_job(project, env, owner_url, app_url).checked()
    assert f"The role {APP_ROLE} may read and write the rows of roles_{profile}, nothing more." in job.stdout
    assert_rows_only(as_the_application(project, venv, env))
    attributes = roles_postgres.psql(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, "
        f"(SELECT count(*) FROM pg_auth_members WHERE member = oid) FROM pg_roles WHERE rolname = '{APP_ROLE}'"
    )
    assert attributes == "f|f|f|f|f|0"


def test_through_pgbouncer_only_to_the_application_database(roles_postgres, redis, tmp_path):
    project = render(tmp_path / "project", profile_answers("pgbouncer"))
    venv = project_venv(project)
    owner_url, app_url = roles_postgres.create_owned_database("roles_pgbouncer")
    migrate_job(project, project_env(project, venv, REDIS_URL=redis.url), owner_url, app_url).checked()
    pgbouncer = PgBouncerServer(project / "deploy/pgbouncer", roles_postgres)
    try:
        pgbouncer.start_with_entrypoint(APP_ROLE, "app-role-password", "roles_pgbouncer")
        pooled_url = pgbouncer.url("roles_pgbouncer", APP_ROLE, "app-role-password")
        env = project_env(project, venv, DATABASE_URL=pooled_url, REDIS_URL=redis.url)
        assert_rows_only(as_the_application(project, venv, env))
        # The db service holds other databases (postgres, template1): PgBouncer
        # knows only the application's.
        other = subprocess.run(
            [postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(pgbouncer.port), "-U", APP_ROLE, "-d", "postgres"]
            + ["-c", "SELECT 1"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
            env={"PATH": "/usr/bin:/bin", "PGPASSWORD": "app-role-password"},
        )
        assert other.returncode != 0 and "no such database: postgres" in other.stderr, other.stderr
    finally:
        pgbouncer.remove()


def test_the_migrate_job_refuses_an_application_role_with_more_rights(roles_postgres, default_project, venv, redis):
    owner_url, app_url = roles_postgres.create_owned_database("roles_refused")
    env = project_env(default_project, venv, REDIS_URL=redis.url)
    same = migrate_job(default_project, env, owner_url, owner_url)
    assert same.returncode != 0
    assert "APP_DATABASE_URL names 'postgres', the owner that DATABASE_URL connects as" in same.stderr
    roles_postgres.psql("CREATE ROLE mighty_app LOGIN CREATEDB PASSWORD 'x'")
    mighty_url = app_url.replace(f"{APP_ROLE}:", "mighty_app:")
    mighty = migrate_job(default_project, env, owner_url, mighty_url)
    assert mighty.returncode != 0
    assert "The role mighty_app has rights the application must not have: CREATEDB." in mighty.stderr
    missing = manage(default_project, venv, {**env, "DATABASE_URL": owner_url}, "app_database_role")
    assert missing.returncode != 0 and "APP_DATABASE_URL is not set" in missing.stderr


def test_the_compose_file_gives_the_owner_to_the_migrate_job_only(default_project):
    services = yaml.safe_load((default_project / "docker-compose.prod.yml").read_text())["services"]

    def default(value: str, variable: str, operator: str = ":-") -> str:
        """The URL the compose file builds when .env does not set variable
        (.env sets it for a database elsewhere)."""
        prefix = f"${{{variable}{operator}"
        assert value.startswith(prefix) and value.endswith("}"), (variable, value)
        return value[len(prefix) : -1]

    app_url = default(services["web"]["environment"]["DATABASE_URL"], "DATABASE_URL")
    assert app_url.startswith(f"postgres://{APP_ROLE}:${{POSTGRES_APP_PASSWORD:?"), app_url
    for name in ("celery", "beat"):
        assert default(services[name]["environment"]["DATABASE_URL"], "DATABASE_URL") == app_url, name
    migrate = services["migrate"]["environment"]
    owner_url = default(default(migrate["DATABASE_URL"], "MIGRATE_DATABASE_URL"), "DATABASE_URL")
    assert owner_url.startswith("postgres://${POSTGRES_USER:?"), owner_url
    assert default(migrate["APP_DATABASE_URL"], "APP_DATABASE_URL", "-") == app_url
    knows_the_owner = {name for name, service in services.items() if "${POSTGRES_PASSWORD" in json.dumps(service)}
    # backup: pg_dump of the whole database as its owner, for restore.sh.
    assert knows_the_owner == {"db", "migrate", "backup"}
