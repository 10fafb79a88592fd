"""Backup and restore with the rendered scripts (scripts/backup.sh and
scripts/restore.sh): a backup, a wipe of the database and the media, and a
restore give back the same rows and the same files (compared by checksum).

Here the media volume (tar); test_backup_s3.py does the same with a bucket.

The scripts run here rather than in containers: BACKUP_DB_EXEC and
BACKUP_APP_EXEC, their documented prefixes, are empty, so pg_dump,
pg_restore, psql and tar run natively
against the test's PostgreSQL, with the libpq variables the db container
would have."""

import re
import shutil
import stat
import time
from pathlib import Path

import pytest

from support.backup import database_fingerprint, files_fingerprint, run_script, script_env, seed
from support.compose import services as compose_services
from support.project import manage
from support.render import project_env


@pytest.fixture
def volume_project(project_copy) -> Path:
    (project_copy / "src" / "media").mkdir(exist_ok=True)
    return project_copy


def test_backup_wipe_restore_gives_back_rows_and_files(volume_project, venv, postgres, redis, tmp_path):
    project, media = volume_project, volume_project / "src" / "media"
    database = "backup_volume"
    database_url = postgres.create_database(database)
    env = project_env(project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
    saved = seed(project, venv, env)
    env = script_env(env, database_url, "app-password")

    rows_before = database_fingerprint(postgres, database)
    files_before = files_fingerprint(media)
    assert sorted(files_before) == saved and rows_before["auth_user"].startswith("40 ")

    backup = run_script(project, env, "scripts/backup.sh", str(tmp_path / "backup"))
    assert backup.returncode == 0, backup.stdout + backup.stderr
    print("\n" + backup.stdout)
    listed = sorted(path.name for path in (tmp_path / "backup").iterdir())
    assert listed == ["MANIFEST", "SHA256SUMS", "database.dump", "database.rows", "env", "media.sha256", "media.tar"]
    assert (tmp_path / "backup" / "env").read_bytes() == (project / ".env").read_bytes()
    assert "auth_user 40" in (tmp_path / "backup" / "database.rows").read_text().replace("public.", "")
    # For monitoring, the time of the success, where node-exporter reads it.
    metric = (project / "metrics" / "backup.prom").read_text()
    written = re.search(r'^backup_last_success_timestamp_seconds\{kind="local"\} (\d+)$', metric, re.M)
    assert written and abs(int(written.group(1)) - time.time()) < 300, metric
    assert stat.S_IMODE((project / "metrics" / "backup.prom").stat().st_mode) == 0o644
    assert stat.S_IMODE((project / "metrics").stat().st_mode) == 0o755, "made under umask 077, opened for node-exporter"

    # The wipe: an empty database of the same name, an empty media volume.
    postgres.psql(f"DROP DATABASE {database}")
    postgres.psql(f"CREATE DATABASE {database} OWNER app")
    shutil.rmtree(media)
    media.mkdir()

    refused = run_script(project, env, "scripts/restore.sh", str(tmp_path / "backup"))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    restore = run_script(project, env, "scripts/restore.sh", str(tmp_path / "backup"), "--yes")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    print(restore.stdout)

    assert database_fingerprint(postgres, database) == rows_before
    assert files_fingerprint(media) == files_before


def test_restore_refuses_a_damaged_backup_before_changing_anything(volume_project, venv, postgres, redis, tmp_path):
    project = volume_project
    database = "backup_damaged"
    database_url = postgres.create_database(database)
    env = project_env(project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
    manage(project, venv, env, "migrate_safely").checked()
    env = script_env(env, database_url, "app-password")
    assert run_script(project, env, "scripts/backup.sh", str(tmp_path / "backup")).returncode == 0
    dump = tmp_path / "backup" / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    manage(
        project, venv, env, "shell", "-c", "from django.contrib.auth.models import Group; Group(name='new').save()"
    ).checked()

    restore = run_script(project, env, "scripts/restore.sh", str(tmp_path / "backup"), "--yes")
    assert restore.returncode != 0
    assert "database.dump: FAILED" in restore.stdout + restore.stderr
    assert postgres.psql("SELECT name FROM auth_group", database) == "new", "the database was not touched"


def test_the_default_prefixes_reach_what_the_scripts_expect(default_project):
    """Without the prefixes set, the scripts run in the compose file's db,
    web and backup services: db has the variables their commands read, web
    mounts the media volume where they look for it (its working directory is
    /app), and so does the backup service, where they run with no prefix."""
    services = compose_services(default_project)
    assert {"POSTGRES_USER", "POSTGRES_DB"} <= set(services["db"]["environment"])
    assert "media:/app/src/media" in services["web"]["volumes"]
    for script in ("backup.sh", "restore.sh"):
        text = (default_project / "scripts" / script).read_text()
        assert '"${MEDIA_ROOT:-src/media}"' in text
    lib = (default_project / "scripts" / "backup-lib.sh").read_text()
    assert "BACKUP_DB_EXEC-docker compose exec -T db}" in lib
    assert "BACKUP_APP_EXEC-docker compose run --rm --no-deps -T web}" in lib
    assert "BACKUP_RESTIC-docker compose run --rm --no-deps -T backup restic}" in lib
    # The backup service reaches db by name and mounts the media volume where it says.
    backup = services["backup"]
    assert backup["environment"]["PGHOST"] == "db" and backup["environment"]["MEDIA_ROOT"] == "/backup/media"
    assert "media:/backup/media:ro" in backup["volumes"] and "./.env:/backup/.env:ro" in backup["volumes"]
    # Its metrics go where node-exporter reads (use_monitoring), whatever .env's METRICS_TEXTFILE_DIR.
    assert "${METRICS_TEXTFILE_DIR:-./metrics}:/backup/metrics" in backup["volumes"]
    assert backup["environment"]["METRICS_TEXTFILE_DIR"] == "/backup/metrics"
