"""What the backup tests share: data to back up, running the rendered
scripts natively, a later release of the code (one more app and migration),
and fingerprints of a database and of a directory."""

import hashlib
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from .project import manage, shell
from .render import project_package

SEED = """
import json, random
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

rng = random.Random(20260131)
# One password hash for all: hashing is slow on purpose.
password = make_password("a-long-password-of-every-test-user")
users = User.objects.bulk_create(
    User(username=f"user{n}", email=f"user{n}@example.org", password=password) for n in range(40)
)
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
    return shell(project, venv, env, SEED).checked().data


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


# A later release of the project: one more app, whose migration makes a
# table (registered through the owner's settings/overrides.py).
NEWER_APP = "newerapp"
NEWER_MIGRATION = f"{NEWER_APP}.0001_initial"
NEWER_FILES = {
    "__init__.py": "",
    "models.py": """from django.db import models


class Note(models.Model):
    text = models.TextField()
""",
    "migrations/__init__.py": "",
    "migrations/0001_initial.py": """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False)), ("text", models.TextField())],
        ),
    ]
""",
}


def add_newer_release(project: Path) -> Path:
    """Turn a copy of a render into its next release: the app and its migration."""
    for name, text in NEWER_FILES.items():
        path = project / "src" / NEWER_APP / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    overrides = project / "src" / project_package(project) / "settings" / "overrides.py"
    overrides.write_text(
        overrides.read_text()
        + f"\nfrom .base import INSTALLED_APPS\n\nINSTALLED_APPS = [*INSTALLED_APPS, {NEWER_APP!r}]\n"
    )
    return project
