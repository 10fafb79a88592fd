"""Rendering the template, and the rendered project's environment."""

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from copier import run_copy

from .binaries import require

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = TEMPLATE_ROOT / ".cache"
# One answer file per deployment profile (CI renders each of them).
ANSWERS_DIR = TEMPLATE_ROOT / "tests" / "answers"


def render(
    dst: Path,
    answers: dict | None = None,
    *,
    data_file: Path | None = None,
    vcs_ref: str = "HEAD",
    template: Path = TEMPLATE_ROOT,
    cli: bool = False,
):
    """Render like `copier copy --defaults --trust` (answers are validated) and
    return dst. With cli=True, through the real command line, as CI and
    newcomers run it, for tests of what that command does: returns the
    finished process (its exit code and messages), whatever they are."""
    if cli:
        data = [
            f"--data={name}={value if isinstance(value, str) else json.dumps(value)}"
            for name, value in (answers or {}).items()
        ]
        if data_file is not None:
            data.append(f"--data-file={data_file}")
        command = [
            require("copier"),
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            vcs_ref,
            *data,
            str(template),
            str(dst),
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if data_file is not None:
        answers = {**yaml.safe_load(data_file.read_text()), **(answers or {})}
    run_copy(str(template), str(dst), data=answers or {}, defaults=True, unsafe=True, quiet=True, vcs_ref=vcs_ref)
    return dst


def profile_answers(name: str) -> dict:
    """The answers of tests/answers/<name>.yml."""
    return yaml.safe_load((ANSWERS_DIR / f"{name}.yml").read_text()) or {}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file (as Compose reads unquoted values)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def requirement_files(root: Path) -> list[Path]:
    return sorted((root / "requirements").glob("*.txt")) + sorted((root / "requirements").glob("*.lock"))


def install_command(project: Path) -> list[str]:
    """pip's arguments for the development requirements, as the README gives
    them: from the lock file, every file's hash checked (releases before the
    lock files: the .txt file)."""
    lock = project / "requirements" / "development.lock"
    if lock.exists():
        return ["--require-hashes", "--no-deps", "-r", str(lock)]
    return ["-r", str(project / "requirements" / "development.txt")]


def project_venv(project: Path) -> Path:
    """A virtualenv with the project's development requirements, cached by
    their content (a rerun with the same pins reuses it)."""
    digest = hashlib.sha256()
    for path in requirement_files(project):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(sys.version.encode())
    venv = CACHE_DIR / "venvs" / digest.hexdigest()[:16]
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers build it once
        if not (venv / ".complete").exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *install_command(project),
                ],
                check=True,
            )
            (venv / ".complete").touch()
    return venv


def project_package(project: Path) -> str:
    answers = read_answers(project)
    return answers.get("django_package", "obc_management")


def read_answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def project_env(project: Path, venv: Path, settings: str = "production", **overrides: str) -> dict[str, str]:
    """The environment a production container gets: its .env, the variables
    the compose file adds, and the image's PATH; overrides win."""
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(read_env_file(project / ".env"))
    env["DJANGO_SETTINGS_MODULE"] = f"{project_package(project)}.settings.{settings}"
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run_project_tests(project: Path, venv: Path, database_url: str, redis_url: str, *args: str, where: str = "."):
    """The rendered project's own pytest suite, as its README runs it (from
    the project's root, or the folder `where` an adopted one keeps it in)."""
    return subprocess.run(
        [str(venv / "bin" / "pytest"), "-p", "no:cacheprovider", *args],
        cwd=project / where,
        env={
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(project),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
