"""Running Django code in a rendered project, as its containers would."""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    command: str = "manage.py"

    def checked(self) -> "Outcome":
        """Itself, if the command exited 0; otherwise the test (or the tool)
        fails with its output."""
        if self.returncode != 0:
            raise AssertionError(
                f"{self.command} exited {self.returncode}:\n{self.stdout[-3000:]}{self.stderr[-3000:]}"
            )
        return self

    @property
    def data(self):
        """The JSON the code printed last."""
        assert self.returncode == 0, self.stdout[-3000:] + self.stderr[-3000:]
        return json.loads(self.stdout.strip().splitlines()[-1])


def manage(project: Path, venv: Path, env: dict, *args: str, timeout: float = 120) -> Outcome:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "manage.py", *args],
        cwd=project / "src",
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(result.returncode, result.stdout, result.stderr, f"manage.py {' '.join(args)}")


def as_deployed(project: Path, venv: Path, env: dict, admin_email: str | None = None) -> None:
    """What a deployment runs before web serves: collectstatic (the image
    build) and migrate_safely (the migrate job); with admin_email, an `admin`
    superuser whose password is env's DJANGO_SUPERUSER_PASSWORD."""
    manage(project, venv, env, "collectstatic", "--noinput").checked()
    manage(project, venv, env, "migrate_safely").checked()
    if admin_email:
        manage(
            project, venv, env, "createsuperuser", "--noinput", "--username", "admin", "--email", admin_email
        ).checked()


def migrate_job(project: Path, env: dict, owner_url: str, app_url: str, timeout: float = 300) -> Outcome:
    """scripts/migrate.sh, as the migrate service runs it: as the database's
    owner, creating the application's role of app_url."""
    result = subprocess.run(
        ["sh", "scripts/migrate.sh"],
        cwd=project,
        env={**env, "DATABASE_URL": owner_url, "APP_DATABASE_URL": app_url},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(result.returncode, result.stdout, result.stderr)


def shell(project: Path, venv: Path, env: dict, code: str, timeout: float = 120) -> Outcome:
    """`manage.py shell -c code`; end the code with print(json.dumps(...))."""
    return manage(project, venv, env, "shell", "--verbosity", "0", "-c", code, timeout=timeout)


def signed_in_session(project: Path, venv: Path, env: dict, username: str, is_staff: bool = False) -> str:
    """A user (staff or not) and a session of theirs in the database; the session cookie."""
    code = f"""
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user, _ = get_user_model().objects.get_or_create(username={username!r}, defaults={{"is_staff": {is_staff!r}}})
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(json.dumps(session.session_key))
"""
    return f"sessionid={shell(project, venv, env, code).data}"
