"""Backup and restore with the rendered scripts, media_storage: s3: the
bucket on a real S3-compatible server that checks signatures (SeaweedFS on
127.0.0.2) is copied with the app's own settings (manage.py media_archive).
A backup, a wipe of the database and the bucket, and a restore give back
the same rows and the same objects (checksums and Content-Type, read from
SeaweedFS's filer rather than through the app's S3 client).

As in test_backup.py, the scripts run natively (BACKUP_DB_EXEC and
BACKUP_APP_EXEC empty)."""

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from support.backup import database_fingerprint, run_script, script_env, seed
from support.http import request
from support.render import profile_answers, project_env, project_venv, render
from support.s3 import HOST, S3Server

BUCKET = "obcms-media"  # AWS_STORAGE_BUCKET_NAME in the rendered .env
ACCESS_KEY = "obcms-test-access-key"
SECRET_KEY = "obcms-test-secret-key-0123456789abcdef"


def bucket_entries(server: S3Server) -> list[dict]:
    """Every file of the bucket, read from SeaweedFS's filer (behind the S3
    gateway, so the app's S3 client is not the judge of its own work)."""
    return server.files(BUCKET)


def bucket_fingerprint(server: S3Server) -> dict[str, str]:
    """sha256 and Content-Type of each object."""
    found = {}
    for entry in bucket_entries(server):
        key = entry["FullPath"].removeprefix(f"/buckets/{BUCKET}/")
        found[key] = f"{hashlib.sha256(server.stored(BUCKET, quote(key))).hexdigest()} {entry['Mime']}"
    return found


def wipe_bucket(server: S3Server) -> None:
    for entry in json.loads(server.filer_get(f"/buckets/{BUCKET}/").body).get("Entries") or []:
        response = request(
            server.ports["filer"][0],
            quote(entry["FullPath"]) + "?recursive=true",
            host=HOST,
            method="DELETE",
            timeout=10,
        )
        assert response.status in (200, 204), response.status


@pytest.fixture(scope="module")
def s3_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("backup-s3") / "project", profile_answers("s3-minio"))


@pytest.fixture
def s3_server(tmp_path):
    server = S3Server(tmp_path / "seaweedfs", ACCESS_KEY, SECRET_KEY, [BUCKET]).start()
    yield server
    server.stop()


def test_backup_wipe_restore_of_an_s3_bucket(s3_project, s3_server, postgres, redis, tmp_path):
    project, venv = s3_project, project_venv(s3_project)
    database = "backup_s3"
    database_url = postgres.create_database(database)
    env = project_env(
        project,
        venv,
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_S3_ENDPOINT_URL=s3_server.endpoint_url,
    )
    assert env["AWS_STORAGE_BUCKET_NAME"] == BUCKET
    saved = seed(project, venv, env)
    env = script_env(env, database_url, "app-password")

    rows_before = database_fingerprint(postgres, database)
    objects_before = bucket_fingerprint(s3_server)
    assert sorted(objects_before) == saved
    # Stored names carry a random part; the types are S3MediaStorage's (a
    # download unless an inline image type), which the restore must keep.
    types = {
        re.sub(r"_[A-Za-z0-9]{22}(?=\.[^./]*$)", "", key): entry.split(" ")[1] for key, entry in objects_before.items()
    }
    assert types["photos/ñandú.jpg"] == "image/jpeg"
    # SeaweedFS's filer records application/octet-stream as no type.
    assert types["notes.txt"] in ("", "application/octet-stream")

    backup = run_script(project, env, "scripts/backup.sh", str(tmp_path / "backup"))
    assert backup.returncode == 0, backup.stdout + backup.stderr
    print("\n" + backup.stdout + backup.stderr)

    postgres.psql(f"DROP DATABASE {database}")
    postgres.psql(f"CREATE DATABASE {database} OWNER app")
    wipe_bucket(s3_server)
    assert bucket_entries(s3_server) == []

    restore = run_script(project, env, "scripts/restore.sh", str(tmp_path / "backup"), "--yes")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    print(restore.stdout + restore.stderr)

    assert database_fingerprint(postgres, database) == rows_before
    assert bucket_fingerprint(s3_server) == objects_before
