"""Rotating secrets as the runbook says, with scripts/rotate-secrets.sh on a
rendered project, real PostgreSQL and gunicorn with the production settings.
Each restart reads .env again, as `docker compose up` recreates containers.

- SECRET_KEY: sessions and password-reset links signed with the old key
  keep working while it is a fallback (a session used then is moved to the
  new key), and are refused once the fallback is dropped.
- The database password: set in PostgreSQL and in .env; the old one is
  refused, the app restarted with .env works; a failed change leaves .env
  as it was."""

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.binaries import postgres_bin
from support.gunicorn import GunicornServer
from support.http import request
from support.postgres import PostgresServer
from support.project import manage, shell, signed_in_session
from support.render import project_env, read_env_file
from support.text import replace_required

DOMAIN = "obcms.gov.ph"
ADMIN_PASSWORD = "a-long-test-password-for-the-admin"
SCRIPT = "scripts/rotate-secrets.sh"


@dataclass
class Deployment:
    project: Path
    venv: Path
    postgres: PostgresServer
    redis_url: str

    def values(self) -> dict[str, str]:
        return read_env_file(self.project / ".env")

    def env(self) -> dict[str, str]:
        """What the containers get from .env now: DATABASE_URL is built from
        POSTGRES_* as docker-compose.prod.yml builds it."""
        values = self.values()
        server = f"{self.postgres.host}:{self.postgres.port}"
        url = f"postgres://{values['POSTGRES_USER']}:{values['POSTGRES_PASSWORD']}@{server}/{values['POSTGRES_DB']}"
        return project_env(self.project, self.venv, DATABASE_URL=url, REDIS_URL=self.redis_url)


@pytest.fixture
def deployment(project_copy, venv, postgres, redis) -> Deployment:
    """A copy of the default render whose .env names a role and database of
    their own, made as the db image makes them from .env on its first start."""
    name = f"rotation_{secrets.token_hex(4)}"
    env_file = project_copy / ".env"
    text = replace_required(env_file.read_text(), "POSTGRES_USER=obcms\n", f"POSTGRES_USER={name}\n", "the .env")
    env_file.write_text(replace_required(text, "POSTGRES_DB=obcms\n", f"POSTGRES_DB={name}\n", "the .env"))
    postgres.create_database(name, owner=name, password=read_env_file(env_file)["POSTGRES_PASSWORD"])
    return Deployment(project_copy, venv, postgres, redis.url)


def rotate(deployment: Deployment, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The script as an operator runs it, its database step right here."""
    return subprocess.run(
        ["bash", SCRIPT, *args],
        cwd=deployment.project,
        env={**deployment.env(), "ROTATE_APP_EXEC": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Web:
    """gunicorn with the environment .env gives it now; restarted at will."""

    def __init__(self, deployment: Deployment, log: Path):
        self.deployment = deployment
        self.log = log
        self.server: GunicornServer | None = None

    def restart(self) -> "Web":
        self.stop()
        deployment = self.deployment
        self.server = GunicornServer(deployment.project, deployment.venv, deployment.env(), self.log, workers=1).start()
        return self

    def send(self, path: str, **kwargs):
        headers = {"X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        return request(self.server.port, path, host_header=DOMAIN, headers=headers, **kwargs)

    def admin(self, cookie: str):
        """A page for signed-in staff only (the admin's translations: no
        template, so no collected static files needed); else a redirect."""
        return self.send("/admin/jsi18n/", headers={"Cookie": cookie})

    def signed_in(self, cookie: str) -> bool:
        response = self.admin(cookie)
        assert response.status in (200, 302), response.status
        return response.status == 200

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None


def session_cookie(response) -> str:
    return next(cookie for cookie in response.cookies if cookie.startswith("sessionid=")).split(";")[0]


def reset_token(deployment: Deployment, check: str | None = None):
    """A new password-reset token of the admin, or whether `check` is valid."""
    call = f"check_token(user, {check!r})" if check else "make_token(user)"
    code = (
        "import json; from django.contrib.auth import get_user_model; "
        "from django.contrib.auth.tokens import default_token_generator as tokens; "
        f"user = get_user_model().objects.get(username='admin'); print(json.dumps(tokens.{call}))"
    )
    return shell(deployment.project, deployment.venv, deployment.env(), code).data


def test_the_secret_key_rotates_without_logging_anyone_out_until_the_fallback_goes(deployment, tmp_path):
    project, venv, env = deployment.project, deployment.venv, deployment.env()
    old_key = env["SECRET_KEY"]
    manage(project, venv, env, "migrate_safely").checked()
    admin = {**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD}
    manage(project, venv, admin, "createsuperuser", "--noinput", "--username", "admin", "--email", "a@b.org").checked()
    web = Web(deployment, tmp_path / "gunicorn.log").restart()
    try:
        # Two browsers signed in, and a password-reset link, all under the old key.
        active, idle = (signed_in_session(project, venv, env, "admin") for _ in range(2))
        assert web.signed_in(active) and web.signed_in(idle)
        token = reset_token(deployment)

        rotated = rotate(deployment, "secret-key")
        assert rotated.returncode == 0, rotated.stderr
        assert "docker compose up --detach --wait" in rotated.stdout
        values = deployment.values()
        assert values["SECRET_KEY_FALLBACKS"] == old_key
        assert values["SECRET_KEY"] != old_key and len(values["SECRET_KEY"]) == 64
        assert (project / ".env").stat().st_mode & 0o777 == 0o600

        web.restart()
        response = web.admin(active)
        assert response.status == 200, "a session of the old key is still signed in"
        moved = session_cookie(response)  # Django re-signs it with the new key
        assert reset_token(deployment, check=token) is True

        dropped = rotate(deployment, "drop-fallbacks")
        assert dropped.returncode == 0, dropped.stderr
        assert deployment.values()["SECRET_KEY_FALLBACKS"] == ""
        web.restart()
        assert web.signed_in(moved), "the session used during the rotation lives on"
        assert not web.signed_in(idle), "a session of the old key, unused since, is signed out"
        assert reset_token(deployment, check=token) is False

        again = rotate(deployment, "drop-fallbacks")
        assert again.returncode == 1 and "SECRET_KEY_FALLBACKS is empty already" in again.stderr
    finally:
        web.stop()


def psql_login(postgres: PostgresServer, user: str, password: str, database: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [postgres_bin("psql"), "-h", postgres.host, "-p", str(postgres.port), "-U", user, "-d", database]
        + ["-At", "-c", "SELECT current_user"],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_database_password_rotates_and_the_old_one_is_refused(deployment, tmp_path):
    before = deployment.values()
    user, database, old_password = before["POSTGRES_USER"], before["POSTGRES_DB"], before["POSTGRES_PASSWORD"]
    manage(deployment.project, deployment.venv, deployment.env(), "migrate_safely").checked()

    rotated = rotate(deployment, "database-password")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    after = deployment.values()
    new_password = after.pop("POSTGRES_PASSWORD")
    assert new_password != old_password and len(new_password) == 40
    assert after == {key: value for key, value in before.items() if key != "POSTGRES_PASSWORD"}
    assert (deployment.project / ".env").stat().st_mode & 0o777 == 0o600

    refused = psql_login(deployment.postgres, user, old_password, database)
    assert refused.returncode != 0 and "password authentication failed" in refused.stderr
    assert psql_login(deployment.postgres, user, new_password, database).stdout.strip() == user
    # Hashed before it was sent: PostgreSQL's log never saw the password.
    assert new_password not in deployment.postgres.log.read_text(errors="replace")

    web = Web(deployment, tmp_path / "gunicorn.log").restart()
    try:
        response = web.send("/ready/")
        assert response.status == 200, response.body
    finally:
        web.stop()

    # A change PostgreSQL refuses leaves .env as it was: here the database
    # step connects with a password that no longer works.
    text = (deployment.project / ".env").read_text()
    env_files = sorted(path.name for path in deployment.project.glob(".env*"))
    stale_url = deployment.env()["DATABASE_URL"].replace(new_password, old_password)
    failed = rotate(deployment, "database-password", DATABASE_URL=stale_url)
    assert failed.returncode == 1
    assert "PostgreSQL kept the old password; .env is unchanged." in failed.stderr
    assert (deployment.project / ".env").read_text() == text
    assert sorted(path.name for path in deployment.project.glob(".env*")) == env_files, "no draft left"
