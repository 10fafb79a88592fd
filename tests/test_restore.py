"""scripts/restore.sh where a plain restore goes wrong, run natively against
the suite's PostgreSQL (as test_backup.py does):

- the database moved on since the backup (a later release applied its
  migration and wrote rows): the restore gives back the backup's rows and
  drops the later table, and the migrate job (scripts/migrate.sh) then exits
  0 and makes it again;
- a backup made by that later release, restored with the older code (its
  migration unknown there), a backup of another project, and a restore while
  another session uses the database are refused before anything changes.

One database and two releases of the project (the default render, and a
copy with one more app and migration) share the setup. About 40 s."""

import shutil
import subprocess
from pathlib import Path

import pytest

from support.backup import (
    NEWER_APP,
    NEWER_MIGRATION,
    SEED,
    add_newer_release,
    database_fingerprint,
    run_script,
    script_env,
)
from support.binaries import postgres_bin
from support.processes import Process
from support.project import manage, shell
from support.render import project_env

NEWER_ROWS = f"from {NEWER_APP}.models import Note; Note.objects.bulk_create(Note(text=str(n)) for n in range(7))"


# Tables that the migrate job writes to for every new migration and model.
MIGRATION_BOOKKEEPING = ("django_migrations", "django_content_type", "auth_permission")


def data_rows(fingerprint: dict[str, str]) -> dict[str, str]:
    """The fingerprint without those tables and their sequences."""
    return {
        name: rows
        for name, rows in fingerprint.items()
        if name.removeprefix("sequence ").removesuffix("_id_seq") not in MIGRATION_BOOKKEEPING
    }


def migrate_job(project: Path, env: dict) -> subprocess.CompletedProcess:
    """What the migrate service runs."""
    job = ["sh", "scripts/migrate.sh"]
    return subprocess.run(job, cwd=project, env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def releases(default_project, tmp_path) -> tuple[Path, Path]:
    older = tmp_path / "older"
    shutil.copytree(default_project, older, symlinks=True)
    (older / "src" / "media").mkdir(exist_ok=True)
    newer = add_newer_release(shutil.copytree(older, tmp_path / "newer", symlinks=True))
    return older, newer


def test_a_restore_onto_a_database_that_moved_on_lets_the_migrate_job_succeed(
    releases, venv, postgres, redis, tmp_path
):
    older, newer = releases
    database = "restore_moved_on"
    database_url = postgres.create_database(database)

    def env_of(project: Path) -> dict:
        env = project_env(project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
        return script_env(env, database_url, "app-password")

    # The older release: migrated, with rows and files; its backup.
    manage(older, venv, env_of(older), "migrate_safely").checked()
    shell(older, venv, env_of(older), SEED).checked()
    rows_before = database_fingerprint(postgres, database)
    backup = run_script(older, env_of(older), "scripts/backup.sh", str(tmp_path / "backup"))
    assert backup.returncode == 0, backup.stdout + backup.stderr
    manifest = (tmp_path / "backup" / "MANIFEST").read_text()
    assert "project obcms\n" in manifest and f"postgres {postgres.psql('SHOW server_version_num')[:2]}\n" in manifest

    # The newer release moves the database on: its migration, its rows.
    migrated = subprocess.run(
        ["sh", "scripts/migrate.sh"], cwd=newer, env=env_of(newer), capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    shell(newer, venv, env_of(newer), NEWER_ROWS).checked()
    assert postgres.psql(f"SELECT count(*) FROM {NEWER_APP}_note", database) == "7"

    # A backup of the newer release is refused by the older code, which
    # does not know its migration: nothing changes.
    newer_backup = run_script(newer, env_of(newer), "scripts/backup.sh", str(tmp_path / "newer-backup"))
    assert newer_backup.returncode == 0, newer_backup.stdout + newer_backup.stderr
    moved_on = database_fingerprint(postgres, database)
    refused = run_script(older, env_of(older), "scripts/restore.sh", str(tmp_path / "newer-backup"), "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "The backup has migrations that this code does not know:\n  " + NEWER_MIGRATION in refused.stderr
    assert "Nothing was changed." in refused.stderr
    assert database_fingerprint(postgres, database) == moved_on

    # The older backup with the newer code: the backup's rows, the later
    # table gone; then the migrate job makes it again and exits 0.
    restore = run_script(newer, env_of(newer), "scripts/restore.sh", str(tmp_path / "backup"), "--yes")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    print("\n" + restore.stdout)
    assert database_fingerprint(postgres, database) == rows_before
    safety = sorted((newer / "backups").glob("before-restore-*"))
    assert len(safety) == 1 and (safety[0] / "database.dump").stat().st_size > 0, "the database was saved first"
    migrated = subprocess.run(
        ["sh", "scripts/migrate.sh"], cwd=newer, env=env_of(newer), capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"Applying {NEWER_MIGRATION}... OK" in migrated.stdout
    after = database_fingerprint(postgres, database)
    assert after.pop(f"{NEWER_APP}_note") == "0", "the later table, made again, empty"
    after.pop(f"sequence {NEWER_APP}_note_id_seq")
    assert data_rows(after) == data_rows(rows_before), "the old rows, as they were"


def test_a_foreign_backup_or_a_busy_database_is_refused_before_anything_changes(
    project_copy, venv, postgres, redis, tmp_path
):
    (project_copy / "src" / "media").mkdir(exist_ok=True)
    database = "restore_refused"
    database_url = postgres.create_database(database)
    env = project_env(project_copy, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
    manage(project_copy, venv, env, "migrate_safely").checked()
    env = script_env(env, database_url, "app-password")
    backup = tmp_path / "backup"
    assert run_script(project_copy, env, "scripts/backup.sh", str(backup)).returncode == 0
    shell(project_copy, venv, env, "from django.contrib.auth.models import Group; Group(name='kept').save()").checked()
    before = database_fingerprint(postgres, database)

    # Another project's backup, whole and with matching checksums.
    foreign = shutil.copytree(backup, tmp_path / "foreign")
    (foreign / "MANIFEST").write_text((foreign / "MANIFEST").read_text().replace("project obcms", "project other"))
    subprocess.run("sha256sum -- $(ls | grep -v SHA256SUMS) > SHA256SUMS", shell=True, cwd=foreign, check=True)
    refused = run_script(project_copy, env, "scripts/restore.sh", str(foreign), "--yes")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f'{foreign} is a backup of "other", not of obcms: refusing to restore it here. Nothing was changed.'
    )

    # A session holds the database, as a serving web does.
    holder = Process()
    holder.launch(
        [postgres_bin("psql"), database_url.replace("postgres://", "postgresql://") + "?application_name=web",
         "-c", "SELECT pg_sleep(60)"],
        tmp_path / "holder.log",
        lambda: postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'web'") == "1",
        5,
        "a session holding the database",
    )  # fmt: skip
    try:
        refused = run_script(project_copy, env, "scripts/restore.sh", str(backup), "--yes")
    finally:
        holder.stop(timeout=10)
    assert refused.returncode == 1
    assert "Other sessions use the database: app (web) from 127.0.0.1." in refused.stderr
    assert "docker compose stop web celery beat backup" in refused.stderr
    assert database_fingerprint(postgres, database) == before
