"""The owner's compose file, honoured by plain `docker compose` and by the
scripts: it adds a service, and points the app at a PostgreSQL outside the
compose file (a managed database: here the suite's PostgreSQL on the host,
bound to the default network's gateway), as its commented example shows.
scripts/backup.sh then dumps that database, run exactly as an owner runs it.

What the test adds to the rendered files is what an owner writes: lines in
.env (DATABASE_URL) and docker-compose.owner.yml."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.facts import computed_values
from support.postgres import PostgresServer
from support.render import read_env_file

from .checks import check_front_door
from .conftest import AppImages
from .deployment import Deployment, private_copy, timed

pytestmark = pytest.mark.timeout(1200)

ADMIN_PASSWORD = "a-long-password-for-the-owner-file-test"


# docker-compose.owner.yml as an owner writes it: the rendered example for a
# managed PostgreSQL (db keeps only the client tools, pointed at the server,
# and so does the backup service's pg_dump), and a service of their own (here a container of the app image with the
# app's settings, for reports).
OWNER_FILE = """\
services:
  migrate:
    networks:
      - default
  db:
    entrypoint: ["sleep", "infinity"]
    environment:
      PGHOST: {gateway}
      PGPORT: "{port}"
      PGPASSWORD: ${{POSTGRES_PASSWORD}}
      PGSSLMODE: disable
    volumes: !reset []
    networks:
      - default
  backup:
    environment:
      PGHOST: {gateway}
      PGPORT: "{port}"
      PGSSLMODE: disable
  reports:
    image: {image}
    command: ["sleep", "infinity"]
    # The image's HEALTHCHECK asks gunicorn, which this service does not run.
    healthcheck:
      disable: true
    env_file: [.env]
    environment:
      DATABASE_URL: ${{DATABASE_URL}}
      REDIS_URL: redis://:${{REDIS_PASSWORD}}@redis:6379/0
      REDIS_CACHE_URL: redis://:${{REDIS_PASSWORD}}@cache:6379/0
    read_only: true
    networks:
      - default
      - backend
"""


@pytest.fixture(scope="module")
def stack(
    app_images: AppImages, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, PostgresServer]]:
    image = app_images.get("default")
    base = tmp_path_factory.mktemp("deploy-owner-file")
    deployment = Deployment(
        app_images.engine, "owner-file", private_copy(image.project, base / "project"), base / "work", image.tag
    )
    env = read_env_file(deployment.project / ".env")
    server: PostgresServer | None = None
    try:
        with timed("owner file: compose up --wait (PostgreSQL on the host)"):
            deployment.compose("up", "--no-start", "--no-build", timeout=120)
            gateway = deployment.gateway("default")
            server = PostgresServer(host=gateway)
            server.init()
            # The managed database accepts the deployment's network.
            with (server.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {deployment.subnets['default']} scram-sha-256\n")
            server.start()
            # The owner of the tables (the migrate job's; the db service's client
            # tools) may create the application's role, as on a managed server.
            owner_url = server.create_database(env["POSTGRES_DB"], env["POSTGRES_USER"], env["POSTGRES_PASSWORD"])
            server.psql(f"ALTER ROLE {env['POSTGRES_USER']} CREATEROLE")
            app_user = computed_values()["app_database_user"]
            app_url = (
                f"postgres://{app_user}:{env['POSTGRES_APP_PASSWORD']}@{gateway}:{server.port}/{env['POSTGRES_DB']}"
            )
            # The containers `up --no-start` made go (the networks stay): a
            # container that compose recreates keeps the volumes of the old
            # one at the image's VOLUME paths, so db would still mount
            # postgres_data. An owner who moves an existing deployment sees
            # that (the runbook says so); this one starts without.
            deployment.compose("rm", "--force", "--stop", timeout=120)
            with (deployment.project / ".env").open("a") as dotenv:
                dotenv.write(f"MIGRATE_DATABASE_URL={owner_url}\nDATABASE_URL={app_url}\nAPP_DATABASE_URL={app_url}\n")
            image_name = f"{deployment.answers['project_slug']}:{image.tag}"
            owner = OWNER_FILE.format(gateway=gateway, port=server.port, image=image_name)
            (deployment.project / "docker-compose.owner.yml").write_text(owner)
            deployment.up()
        # Both tests look for this user in the outside database.
        deployment.create_superuser("owner", ADMIN_PASSWORD)
        yield deployment, server
    finally:
        with timed("owner file: compose down --volumes"):
            deployment.down(volumes=True)
        if server is not None:
            server.remove()


def test_the_app_runs_on_the_database_outside_the_compose_file(stack: tuple[Deployment, PostgresServer]) -> None:
    deployment, server = stack
    check_front_door(deployment)
    containers = deployment.containers()
    assert "reports" in containers and containers["reports"]["State"]["Running"]
    # db mounts none of the deployment's volumes (postgres_data). The image's
    # VOLUME still gets an anonymous, empty volume: Docker makes one for
    # every container of the image, and no PostgreSQL runs on it.
    names = [mount.get("Name", "") for mount in containers["db"]["Mounts"]]
    assert [name for name in names if name.startswith(f"{deployment.project_name}_")] == []
    # The user is in the host's PostgreSQL, where the migrate job made the
    # tables and the application's role (the reports service below counts
    # users through it).
    env = read_env_file(deployment.project / ".env")
    assert server.psql("SELECT username FROM auth_user", env["POSTGRES_DB"]) == "owner"
    app_user = computed_values()["app_database_user"]
    assert server.psql(f"SELECT rolcreaterole FROM pg_roles WHERE rolname = '{app_user}'") == "f"
    count = "from django.contrib.auth.models import User; print(User.objects.count())"
    assert deployment.django_shell(count, service="reports").strip().splitlines()[-1] == "1"


def test_backup_sh_dumps_the_database_outside_the_compose_file(stack: tuple[Deployment, PostgresServer]) -> None:
    """scripts/backup.sh as the owner runs it: plain `docker compose` in the
    project (COMPOSE_FILE from .env), the docker client pointed at the
    test's engine; the test's override and project name ride along in the
    environment."""
    deployment, _ = stack
    target = deployment.workdir / "backup"
    files = ":".join(str(path) for path in [*deployment.compose_files, deployment.override_file])
    env = {
        **os.environ,
        **deployment.engine.env(),
        "COMPOSE_FILE": files,
        "COMPOSE_PROJECT_NAME": deployment.project_name,
        "IMAGE_TAG": deployment.image_tag,
    }
    with timed("owner file: scripts/backup.sh"):
        result = subprocess.run(
            ["bash", "scripts/backup.sh", str(target)],
            cwd=deployment.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = dict(line.rsplit(" ", 1) for line in (target / "database.rows").read_text().splitlines())
    assert rows["public.auth_user"] == "1", "the dump holds the user created on the outside database"
    assert Path(target / "SHA256SUMS").exists()
