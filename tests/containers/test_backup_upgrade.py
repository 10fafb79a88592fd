"""Backups, a PostgreSQL major upgrade and a new host, in containers, with
the rendered compose file and scripts as an operator runs them (plain
`docker compose`, from the project directory).

One deployment's life, in file order:

1. PostgreSQL 15 (postgres_version: 15): the backup service sends a backup
   to a restic repository in a bucket (SeaweedFS on the default network's
   gateway, as in test_deploy_pgbouncer_s3.py) and scripts/restore-drill.sh
   restores it into a throwaway database;
2. the project moves to postgres_version 17 (the default render's files
   over the old ones, as `copier update` does): compose refuses to start db
   on the old data and names the upgrade script; the script refuses while
   backups/ has no room, then moves the data: the rows and a login are kept,
   the old data stays in a volume of its own;
3. a new host (another compose project: empty volumes, no .env) fetches the
   backup with restic's image and .env.backup alone, runs the drill on its
   empty stack, restores it and comes up with the rows, the files and the
   login of step 1.

The app image is the default profile's (the same code), tagged for each
step; only the backup image is built (FROM each step's PostgreSQL)."""

from __future__ import annotations

import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.compose import compose_file
from support.render import read_env_file, render
from support.s3 import S3Server

from .checks import check_services_came_up, check_upload_served_to_signed_in_users, save_upload
from .conftest import AppImages, BuiltImage
from .deployment import Deployment, private_copy, timed
from .standins import IMAGES, OLDER_POSTGRES_VERSION

pytestmark = pytest.mark.timeout(1800)

ADMIN_PASSWORD = "a-long-password-for-the-backup-tests"
BUCKET = "obcms-backups"
# Exact row counts of every table of the application's database.
COUNT_ROWS = (
    "SELECT table_name || ' ' || (xpath('/row/c/text()', query_to_xml("
    "format('SELECT count(*) AS c FROM public.%I', table_name), false, true, '')))[1]::text "
    "FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
)


@dataclass
class Stack:
    deployment: Deployment
    default: BuiltImage  # the default profile: its image and its render (postgres_version 17)
    server: S3Server
    base: Path
    rows: dict[str, str] = field(default_factory=dict)  # at the time of the backup
    upload: tuple[str, bytes] = ("", b"")


def row_counts(deployment: Deployment) -> dict[str, str]:
    env = read_env_file(deployment.project / ".env")
    out = deployment.exec("db", "psql", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-tAc", COUNT_ROWS)
    return dict(line.split(" ", 1) for line in out.split("\n") if line)


def data_version(deployment: Deployment, volume: str) -> str:
    return deployment.engine.docker(
        "run", "--rm", "--network", "none", "--volume", f"{volume}:/data:ro", "--entrypoint", "cat",
        IMAGES["postgres_image"], "/data/PG_VERSION",
    ).stdout.strip()  # fmt: skip


def use_restic_repository(project: Path, server: S3Server, keys: dict[str, str]) -> None:
    """What the owner fills in .env.backup (RESTIC_PASSWORD was generated on copy)."""
    values = {"RESTIC_REPOSITORY": f"s3:{server.endpoint_url}/{BUCKET}/obcms", **keys}
    lines = [
        f"{name}={values[name]}" if (name := line.split("=", 1)[0]) in values else line
        for line in (project / ".env.backup").read_text().splitlines()
    ]
    (project / ".env.backup").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def stack(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    default = app_images.get("default")
    engine = app_images.engine
    base = tmp_path_factory.mktemp("backup-upgrade")
    project = render(base / "project", {"postgres_version": OLDER_POSTGRES_VERSION})
    engine.docker("tag", default.image, "obcms:test-pg15")
    deployment = Deployment(engine, "backup-upgrade", project, base / "work", "test-pg15")
    keys = {"AWS_ACCESS_KEY_ID": "backuptest" + secrets.token_hex(4), "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20)}
    server: S3Server | None = None
    try:
        with timed("backup-upgrade: build the backup image (PostgreSQL 15), compose up --wait"):
            deployment.compose("build", "backup", timeout=600)
            # The networks first: the repository's server binds to the gateway.
            deployment.compose("up", "--no-start", "--no-build", timeout=120)
            server = S3Server(base / "s3", *keys.values(), [BUCKET], host=deployment.gateway("default")).start()
            use_restic_repository(project, server, keys)
            deployment.up()
        yield Stack(deployment, default, server, base)
    finally:
        with timed("backup-upgrade: compose down --volumes"):
            deployment.down(volumes=True)
            engine.docker("volume", "rm", f"{deployment.project_name}_postgres_data_postgres15", check=False)
        if server is not None:
            server.stop()


def test_the_backup_service_sends_a_backup_off_site_and_the_drill_restores_it(stack: Stack) -> None:
    deployment = stack.deployment
    containers = check_services_came_up(deployment)
    assert containers["db-version-check"]["State"]["ExitCode"] == 0
    assert containers["backup"]["State"]["Status"] == "running"
    assert "Next backup: " in deployment.logs("backup")

    deployment.create_superuser("admin", ADMIN_PASSWORD)
    content = f"uploaded before the backup {secrets.token_hex(8)}\n".encode()
    stack.upload = (save_upload(deployment, "reports/before-backup.txt", content), content)
    groups = "Group.objects.bulk_create(Group(name=f'g{n}') for n in range(25))"
    deployment.django_shell(f"from django.contrib.auth.models import Group; {groups}")
    stack.rows = row_counts(deployment)
    assert stack.rows["auth_group"] == "25" and stack.rows["auth_user"] == "1"

    with timed("backup-upgrade: restic init, an off-site backup in the backup service"):
        deployment.compose("run", "--rm", "-T", "backup", "restic", "init", timeout=120)
        out = deployment.exec("backup", "scripts/backup-offsite.sh", timeout=300)
    assert "Off-site backup complete" in out, out
    metric = (deployment.project / "metrics" / "backup-offsite.prom").read_text()
    assert re.search(r'^backup_last_success_timestamp_seconds\{kind="offsite"\} \d+$', metric, re.M), metric
    metric = (deployment.project / "metrics" / "backup.prom").read_text()
    assert re.search(r'^backup_last_success_timestamp_seconds\{kind="local"\} \d+$', metric, re.M), metric
    local = list((deployment.project / "backups").iterdir())
    assert len(local) == 1 and (local[0] / "env").exists(), "the backup holds .env"

    with timed("backup-upgrade: restore drill (PostgreSQL 15)"):
        drill = deployment.run_script("scripts/restore-drill.sh")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    print("\n" + drill.stdout)
    assert "Restore drill passed" in drill.stdout and "1 files checked" in drill.stdout


def test_postgres_17_refuses_the_15_data_until_the_upgrade_script_moves_it(stack: Stack) -> None:
    deployment, engine = stack.deployment, stack.deployment.engine
    volume = f"{deployment.project_name}_postgres_data"
    # `copier update` to postgres_version 17: the owner's .env files, backups
    # and metrics stay; the rendered files change.
    keep = {".env", ".env.backup", ".git", "backups", "metrics"}
    shutil.copytree(
        stack.default.project, deployment.project, dirs_exist_ok=True, ignore=lambda d, names: keep & set(names)
    )
    engine.docker("tag", stack.default.image, "obcms:test-pg17")
    deployment.image_tag = "test-pg17"
    deployment.rendered = compose_file(deployment.project, deployment.compose_file)
    deployment.write_files()
    deployment.compose("build", "backup", timeout=600)

    with timed("backup-upgrade: compose up with PostgreSQL 17 on 15's data (refused)"):
        refused = deployment.up(check=False, timeout=120)
    output, log = refused.stdout + refused.stderr, deployment.logs("db-version-check")
    assert refused.returncode != 0, output
    assert 'service "db-version-check" didn\'t complete successfully: exit 1' in output, output + log
    assert (
        "Refusing to start PostgreSQL 17: the postgres_data volume holds the data of PostgreSQL 15 (in its top "
        "directory)." in log
    ), log
    assert deployment.containers()["db"]["State"]["Status"] != "running"
    assert data_version(deployment, volume) == "15"

    deployment.compose("stop", "web", "celery", "beat", "backup", timeout=120)
    (deployment.project / "backups").mkdir(exist_ok=True)
    small_disk = deployment.run_script(
        "-c",
        "unshare --mount --propagation private bash -c "
        "'mount -t tmpfs -o size=1m tmpfs backups && exec bash scripts/upgrade-postgres.sh --yes'",
    )
    assert small_disk.returncode == 1, small_disk.stdout + small_disk.stderr
    assert "Not enough free disk space: the dump needs about" in small_disk.stderr
    assert re.search(r"in backups/ \([01] MB free\)", small_disk.stderr) and "Nothing was changed." in small_disk.stderr
    assert data_version(deployment, volume) == "15"
    assert engine.docker("volume", "inspect", f"{volume}_postgres15", check=False).returncode != 0
    assert not engine.docker("ps", "--all", "--quiet", "--filter", "name=postgres15-upgrade").stdout.strip()

    with timed("backup-upgrade: scripts/upgrade-postgres.sh 15 -> 17"):
        upgrade = deployment.run_script("scripts/upgrade-postgres.sh", "--yes")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    print("\n" + upgrade.stdout)
    assert "PostgreSQL 15 -> 17: " in upgrade.stdout and "logs in with its password" in upgrade.stdout
    with timed("backup-upgrade: compose up --wait on PostgreSQL 17"):
        deployment.up()
    check_services_came_up(deployment)
    assert deployment.exec("db", "postgres", "--version").split()[2].startswith("17.")
    assert row_counts(deployment) == stack.rows
    cookie = deployment.login("admin", ADMIN_PASSWORD)
    check_upload_served_to_signed_in_users(deployment, *stack.upload, cookie)
    assert data_version(deployment, f"{volume}_postgres15") == "15", "the old data stays until the owner removes it"


def test_a_new_host_restores_the_off_site_backup(stack: Stack, tmp_path: Path) -> None:
    old_host = stack.deployment
    # The old host is gone (its networks stay: the repository's server listens on one).
    old_host.compose("stop", timeout=240)
    # A clone of the repository and .env.backup from the password manager: no .env.
    project = private_copy(stack.default.project, tmp_path / "project")
    (project / ".env").unlink()
    shutil.copy(old_host.project / ".env.backup", project / ".env.backup")
    deployment = Deployment(old_host.engine, "backup-newhost", project, tmp_path / "work", "test-pg17")
    try:
        restic = (
            f"docker run --rm --network host --env-file .env.backup --volume {project}/backups:/backup/backups "
            f"--workdir /backup {IMAGES['restic_image']}"
        )
        with timed("backup-newhost: fetch the latest backup with restic's image"):
            fetched = deployment.run_script("scripts/fetch-backup.sh", env={"BACKUP_RESTIC": restic})
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        backup = project / fetched.stdout.strip().splitlines()[-1]
        shutil.copy(backup / "env", project / ".env")
        assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600

        with timed("backup-newhost: db on an empty volume, restore drill, restore, compose up --wait"):
            deployment.up("db")
            drill = deployment.run_script("scripts/restore-drill.sh")
            assert drill.returncode == 0, drill.stdout + drill.stderr
            restore = deployment.run_script("scripts/restore.sh", str(backup.relative_to(project)), "--yes")
            assert restore.returncode == 0, restore.stdout + restore.stderr
            print("\n" + restore.stdout)
            assert not list((project / "backups").glob("before-restore-*")), "nothing to save on an empty database"
            deployment.up()
        check_services_came_up(deployment)
        assert row_counts(deployment) == stack.rows
        cookie = deployment.login("admin", ADMIN_PASSWORD)
        check_upload_served_to_signed_in_users(deployment, *stack.upload, cookie)
        assert deployment.ready()[1]["status"] == "ready"
    finally:
        deployment.down(volumes=True)
