"""Off-site backups with restic, as the backup service makes them, run
natively: the rendered scripts, Debian's restic and the suite's PostgreSQL,
and a restic repository in a bucket of a real S3-compatible server that
checks signatures (SeaweedFS on 127.0.0.2).

One deployment's life in one test (about 60 s): a backup before the
repository exists stays local and says what to do; then scripts/backup-offsite.sh
sends backups whose data cannot be read in the bucket, records its success
for monitoring, and thins snapshots and local copies out by the retention
settings; scripts/restore-drill.sh restores the latest into a throwaway
database and checks rows and file checksums; a wrong password is refused;
and scripts/backup-schedule.sh, the backup service's loop, makes a backup
at the time it is given."""

import json
import re
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from support.backup import SEED, run_script, script_env
from support.binaries import require
from support.facts import computed_values
from support.processes import Process
from support.project import manage, shell
from support.render import project_env
from support.s3 import S3Server

BUCKET = "obcms-backups"
ACCESS_KEY = "obcms-backup-access-key"
SECRET_KEY = "obcms-backup-secret-key-0123456789abcdef"
LOCAL_BACKUP = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")


@pytest.fixture
def repository_server(tmp_path):
    server = S3Server(tmp_path / "seaweedfs", ACCESS_KEY, SECRET_KEY, [BUCKET]).start()
    yield server
    server.stop()


def stored_objects(server: S3Server) -> dict[str, bytes]:
    """Every object of the bucket as the server keeps it (read behind the S3 gateway)."""
    keys = [entry["FullPath"].removeprefix(f"/buckets/{BUCKET}/") for entry in server.files(BUCKET)]
    return {key: server.stored(BUCKET, quote(key)) for key in keys}


def snapshots(env: dict) -> list[dict]:
    listed = subprocess.run(
        [env["BACKUP_RESTIC"], "snapshots", "--json"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(listed.stdout)


def local_backups(project: Path) -> list[str]:
    return sorted(path.name for path in (project / "backups").iterdir() if LOCAL_BACKUP.match(path.name))


def test_backups_go_off_site_encrypted_are_thinned_out_and_restore_in_a_drill(
    project_copy, venv, postgres, redis, repository_server, tmp_path
):
    project = project_copy
    (project / "src" / "media").mkdir(exist_ok=True)
    database = "backup_offsite"
    database_url = postgres.create_database(database)
    env = project_env(project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
    manage(project, venv, env, "migrate_safely").checked()
    shell(project, venv, env, SEED).checked()
    env = script_env(env, database_url, "app-password") | {
        "BACKUP_RESTIC": require("restic"),
        "RESTIC_REPOSITORY": f"s3:{repository_server.endpoint_url}/{BUCKET}/obcms",
        "RESTIC_PASSWORD": "a-long-restic-password-for-the-tests",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "RESTIC_CACHE_DIR": str(tmp_path / "restic-cache"),
        "BACKUP_KEEP_LOCAL": "1",
    }

    # No repository yet: the backup stays here, and the script says why.
    early = run_script(project, env, "scripts/backup-offsite.sh")
    assert early.returncode == 1
    assert "restic cannot open the off-site repository (above)" in early.stderr
    assert "docker compose run --rm backup restic init" in early.stderr
    assert len(local_backups(project)) == 1
    assert not (project / "metrics" / "backup-offsite.prom").exists()

    subprocess.run([env["BACKUP_RESTIC"], "init"], env=env, capture_output=True, check=True)
    first = run_script(project, env, "scripts/backup-offsite.sh")
    assert first.returncode == 0, first.stdout + first.stderr
    print("\n" + first.stdout)
    metric = (project / "metrics" / "backup-offsite.prom").read_text()
    written = re.search(r'^backup_last_success_timestamp_seconds\{kind="offsite"\} (\d+)$', metric, re.M)
    assert written and abs(int(written.group(1)) - time.time()) < 120, metric
    assert len(snapshots(env)) == 1 and len(local_backups(project)) == 1

    # Encrypted: no plain row, file or secret is in the bucket.
    stored = stored_objects(repository_server)
    assert any(key.startswith("obcms/data/") for key in stored), sorted(stored)
    secret_key = next(line for line in (project / ".env").read_text().splitlines() if line.startswith("SECRET_KEY="))
    for plain in (b"user7@example.org", "Bangsamoro ✓".encode(), secret_key.encode()):
        assert not any(plain in data for data in stored.values()), plain

    # Retention: one of each kind kept, all on this day: the newest only.
    time.sleep(1)  # backup directories are named by the second
    second = run_script(
        project, env | {"BACKUP_KEEP_DAILY": "1", "BACKUP_KEEP_WEEKLY": "1", "BACKUP_KEEP_MONTHLY": "1"},
        "scripts/backup-offsite.sh",
    )  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    kept = snapshots(env)
    assert len(kept) == 1 and kept[0]["paths"][0].endswith("/backups/" + local_backups(project)[0])

    drill = run_script(project, env, "scripts/restore-drill.sh")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    print(drill.stdout + drill.stderr)
    assert "Restore drill passed" in drill.stdout and "5 files checked" in drill.stdout
    assert postgres.psql("SELECT count(*) FROM pg_database WHERE datname = 'obcms_restore_drill'") == "0"
    assert sorted(path.name for path in (project / "backups").iterdir()) == local_backups(project)

    wrong = run_script(project, env | {"RESTIC_PASSWORD": "not-the-password"}, "scripts/fetch-backup.sh")
    assert wrong.returncode == 1
    assert "wrong password" in wrong.stderr and "restic could not fetch snapshot latest" in wrong.stderr

    # The backup service's loop, told to back up two seconds from now.
    at = (datetime.now() + timedelta(seconds=3)).strftime("%H:%M:%S")
    log = tmp_path / "schedule.log"
    loop = Process()
    loop.launch(
        ["bash", "scripts/backup-schedule.sh"],
        log,
        lambda: "Off-site backup complete" in log.read_text(),
        90,
        "the scheduled backup",
        interval=0.5,
        cwd=project,
        env=env | {"BACKUP_TIME": at},
    )
    assert loop.stop(timeout=30) == 0, log.read_text()
    assert f"Next backup: {datetime.now():%Y-%m-%d} {at}" in log.read_text()
    shutil.rmtree(tmp_path / "restic-cache")


@pytest.mark.parametrize(
    ("environment", "env_line", "commands", "refused"),
    [
        ({}, None, ["docker compose exec -T db"], True),  # compose would take the development stack
        ({}, "COMPOSE_FILE=", ["docker compose exec -T db"], True),  # empty counts as unset
        ({"COMPOSE_FILE": ""}, None, ["", "docker compose run --rm --no-deps -T backup restic"], True),
        ({}, "COMPOSE_FILE=docker-compose.prod.yml:mine.yml", ["docker compose exec -T db"], False),
        ({"COMPOSE_FILE": "a.yml:b.yml"}, None, ["docker compose exec -T db"], False),
        ({}, None, ["", "docker exec -i db-1", "restic"], False),  # no compose: nothing to read
    ],
)
def test_the_scripts_refuse_plain_docker_compose_without_compose_file(
    default_project, tmp_path, environment, env_line, commands, refused
):
    """Plain `docker compose` without COMPOSE_FILE (environment or .env)
    would take docker-compose.yml, the development stack, and leave out the
    owner's file: the backup scripts stop, as deploy.sh does, before
    anything changes; commands that do not run compose need no COMPOSE_FILE."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(default_project / "scripts" / "backup-lib.sh", tmp_path / "scripts")
    if env_line:
        (tmp_path / ".env").write_text(f"SECRET_KEY=x\n{env_line}\n")
    sourced = subprocess.run(
        ["bash", "-c", '. scripts/backup-lib.sh && require_compose_file "$@" && echo ran', "bash", *commands],
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", **environment}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if refused:
        assert (sourced.returncode, sourced.stdout) == (2, "")
        compose_file = computed_values()["compose_file"]
        assert sourced.stderr == f"COMPOSE_FILE is not set in .env: add the line COMPOSE_FILE={compose_file}\n"
    else:
        assert (sourced.returncode, sourced.stdout, sourced.stderr) == (0, "ran\n", "")
