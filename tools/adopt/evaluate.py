"""Evaluating a settings module for real: probe.py in a subprocess, with the
project's own Python and placeholder values for the environment."""

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import AdoptionError

PROBE = Path(__file__).resolve().with_name("probe.py")
MARKER = "\0adopt-probe\0"

# What a production deployment gives every process; the same for the owner's
# settings and the adopted ones, so values read from the environment compare
# equal when both read the same variable.
PLACEHOLDERS = {
    "DEBUG": "False",
    "DJANGO_DEBUG": "False",
    "SECRET_KEY": "adopt-placeholder-8cJ2vQm5Tn0xWb7Lr4Yh9Kd3Fs6Gp1Za-Xe_Uo",
    "DJANGO_SECRET_KEY": "adopt-placeholder-8cJ2vQm5Tn0xWb7Lr4Yh9Kd3Fs6Gp1Za-Xe_Uo",
    "ALLOWED_HOSTS": "adopt.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://adopt.example.org",
    "DATABASE_URL": "postgres://adopt:adopt@127.0.0.1:5432/adopt",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/0",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}

# Paths the template answers ahead of any route of the owner's, and why. Every
# evaluation resolves them too, so that an owner's route on one shows up.
TEMPLATE_PATHS = {
    **dict.fromkeys(("/health/", "/ready/", "/health/monitor/"), "the template's probe answers it first"),
    "/metrics": "the template's /metrics answers it first, only to Authorization: Bearer METRICS_TOKEN",
}


@dataclass
class Evaluation:
    module: str
    settings: dict
    env_reads: list = field(default_factory=list)
    routes: list | None = None
    resolved: dict | None = None
    celery: dict | None = None
    import_errors: dict = field(default_factory=dict)


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                if value.strip():
                    values[key.strip()] = value.strip().strip("'\"")
    return values


def placeholder_env(*examples: Path, debug: bool = False) -> dict[str, str]:
    """The owner's and the template's .env.example values (non-empty ones),
    then the placeholders above; DEBUG on only for development settings."""
    env = {}
    for example in examples:
        env.update(env_file_values(example))
    env.update(PLACEHOLDERS)
    if debug:
        env["DEBUG"] = env["DJANGO_DEBUG"] = "True"
    env.update({"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
    return env


def evaluate(
    python: Path,
    src: Path,
    module: str,
    env: dict[str, str],
    *,
    trace: list[Path] = (),
    urls: bool = False,
    paths: list[str] = (),
    celery: str | None = None,
    imports: list[str] = (),
    names: list[tuple[str, str]] = (),
) -> Evaluation:
    request = {
        "src": str(src),
        "settings": module,
        "env": env,
        "trace": [str(path) for path in trace],
        "urls": urls,
        "paths": [*paths, *TEMPLATE_PATHS],
        "celery": celery,
        "imports": list(imports),
        "names": [list(pair) for pair in names],
    }
    try:
        result = subprocess.run(
            [str(python), str(PROBE), json.dumps(request)],
            cwd=src,
            env={
                "PATH": env["PATH"],
                "HOME": os.environ.get("HOME", "/tmp"),
                "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AdoptionError(f"evaluating {module} took more than 300 s") from None
    found = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    if not found:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise AdoptionError(f"{module} could not be evaluated with {python}: {last}")
    data = json.loads(found[-1][len(MARKER) :])
    if "error" in data:
        raise AdoptionError(f"{module} does not load with {python}: {data['error']}")
    return Evaluation(
        module=module,
        settings=data["settings"],
        env_reads=data.get("env_reads", []),
        routes=data.get("routes"),
        resolved=data.get("resolved"),
        celery=data.get("celery"),
        import_errors=data.get("import_errors", {}),
    )
