"""Running the rendered project's CI scripts (scripts/ci/) as its workflow does."""

import shutil
import subprocess
from pathlib import Path

from .facts import owner_markers
from .owner import insert_after
from .render import project_package

# Apps that the tests add to a rendered project (see its README.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ci"


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


def run_script(project: Path, script: str, env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """scripts/<script> of the project, from its root."""
    return subprocess.run(
        [f"scripts/{script}", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_app(project: Path, name: str) -> Path:
    """tests/fixtures/ci/<name> into src/, and into the owner's INSTALLED_APPS."""
    app = project / "src" / name
    shutil.copytree(FIXTURES / name, app)
    base = project / "src" / project_package(project) / "settings" / "base.py"
    insert_after(base, owner_markers()["apps"], f'    "{name}",\n')
    return app
