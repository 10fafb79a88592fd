"""Backup and restore with the rendered scripts (scripts/backup.sh and
scripts/restore.sh): a backup, a wipe of the database and the media, and a
restore give back the same rows and the same files (compared by checksum).

The scripts run here rather than in containers: BACKUP_DB_EXEC and
BACKUP_APP_EXEC, their documented prefixes, are empty, so pg_dump,
pg_restore, psql and tar (or the app's media_archive command) run natively
against the test's PostgreSQL, with the libpq variables the db container
would have."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.render import project_env
from support.testonly import manage

SEED = """
import json, random
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

rng = random.Random(20260131)
users = [User.objects.create_user(f"user{n}", f"user{n}@example.org", f"password-{n:04}-long") for n in range(40)]
group = Group.objects.create(name="Encoders")
group.user_set.add(*users[:15])
files = {
    "reports/2026/q1 summary.pdf": rng.randbytes(200_000),
    "photos/ñandú.jpg": rng.randbytes(50_000),
    "empty.txt": b"",
    "notes.txt": "Bangsamoro ✓\\n".encode(),
    "big/archive.bin": rng.randbytes(9 * 1024 * 1024),
}
print(json.dumps(sorted(default_storage.save(name, ContentFile(data)) for name, data in files.items())))
"""


def run_script(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def script_env(env: dict, database_url: str, password: str) -> dict:
    """What the scripts need here: no container prefixes, and the variables
    the db container has (POSTGRES_USER, POSTGRES_DB) plus where it is."""
    url = urlsplit(database_url)
    return {
        **env,
        "BACKUP_DB_EXEC": "",
        "BACKUP_APP_EXEC": "",
        "PGHOST": url.hostname,
        "PGPORT": str(url.port),
        "PGPASSWORD": password,
        "POSTGRES_USER": url.username,
        "POSTGRES_DB": url.path.lstrip("/"),
    }


def database_fingerprint(postgres, database: str) -> dict[str, str]:
    """Every table's rows (md5 of them, in a fixed order) and every sequence's
    position."""
    tables = postgres.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", database
    ).splitlines()
    found = {}
    for table in tables:
        found[table] = postgres.psql(
            f"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') "
            f'FROM public."{table}" t',
            database,
        )
    for sequence in postgres.psql(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'", database
    ).split():
        found[f"sequence {sequence}"] = postgres.psql(f'SELECT last_value FROM public."{sequence}"', database)
    return found


def files_fingerprint(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def volume_project(default_project, tmp_path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(default_project, project)
    (project / "src" / "media").mkdir(exist_ok=True)
    return project


def test_backup_wipe_restore_gives_back_rows_and_files(volume_project, venv, postgres, redis, tmp_path):
    project, media = volume_project, volume_project / "src" / "media"
    database = "backup_volume"
    database_url = postgres.create_database(database)
    env = project_env(project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
    manage(project, venv, env, "migrate_safely")
    saved = json.loads(manage(project, venv, env, "shell", "--verbosity", "0", "-c", SEED).stdout)
    env = script_env(env, database_url, "app-password")

    rows_before = database_fingerprint(postgres, database)
    files_before = files_fingerprint(media)
    assert sorted(files_before) == saved and rows_before["auth_user"].startswith("40 ")

    backup = run_script(project, env, "scripts/backup.sh", str(tmp_path / "backup"))
    assert backup.returncode == 0, backup.stdout + backup.stderr
    print("\n" + backup.stdout)
    listed = sorted(path.name for path in (tmp_path / "backup").iterdir())
    assert listed == ["SHA256SUMS", "database.dump", "database.rows", "media.tar"]
    assert "auth_user 40" in (tmp_path / "backup" / "database.rows").read_text().replace("public.", "")

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
    manage(project, venv, env, "migrate_safely")
    env = script_env(env, database_url, "app-password")
    assert run_script(project, env, "scripts/backup.sh", str(tmp_path / "backup")).returncode == 0
    dump = tmp_path / "backup" / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    manage(project, venv, env, "shell", "-c", "from django.contrib.auth.models import Group; Group(name='new').save()")

    restore = run_script(project, env, "scripts/restore.sh", str(tmp_path / "backup"), "--yes")
    assert restore.returncode != 0
    assert "database.dump: FAILED" in restore.stdout + restore.stderr
    assert postgres.psql("SELECT name FROM auth_group", database) == "new", "the database was not touched"
