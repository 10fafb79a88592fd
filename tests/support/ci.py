"""Running the rendered project's CI scripts (scripts/ci/) as its workflow does."""

import subprocess
from pathlib import Path


def ci_env(project: Path, venv: Path, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """What CI's runner gives the scripts: the project's requirements on PATH,
    the service URLs; no .env and no settings module of its own."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(project),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **extra,
    }


def run_script(project: Path, script: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    """scripts/<script> of the project, from its root."""
    return subprocess.run(
        [f"scripts/{script}", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
