"""What the backup tests share: data to back up, running the rendered
scripts natively, and fingerprints of a database and of a directory."""

import hashlib
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from .project import manage, shell

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


def seed(project: Path, venv: Path, env: dict) -> list[str]:
    """The migrations, then SEED's users, group and files; the names the files
    were saved under."""
    manage(project, venv, env, "migrate_safely").checked()
    return json.loads(shell(project, venv, env, SEED).checked().stdout)


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
