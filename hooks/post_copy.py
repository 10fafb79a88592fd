"""Copier task: run in the rendered project after `copier copy` and `copier update`.

- copy: writes .env from .env.example with freshly generated secrets (mode
  0600; .env is git-ignored), and .env.backup from .env.backup.example where
  the render has one (the backup service's restic password), and starts a
  git repository if there is none.
- update: never touches .env or .env.backup; names the variables that their
  examples gained and they lack, so the owner can add them before the next
  deploy.

Standard library only: it runs under the Python that runs Copier.
"""

import secrets
import subprocess
import sys
from pathlib import Path

# Variables whose value is generated here, never asked: name -> generator.
GENERATED = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(64),
    "POSTGRES_PASSWORD": lambda: secrets.token_urlsafe(32),
    "POSTGRES_APP_PASSWORD": lambda: secrets.token_urlsafe(32),
    "REDIS_PASSWORD": lambda: secrets.token_urlsafe(32),
    "HEALTH_CHECK_TOKEN": lambda: secrets.token_urlsafe(32),
    "METRICS_TOKEN": lambda: secrets.token_urlsafe(32),
    "FLOWER_PASSWORD": lambda: secrets.token_urlsafe(24),
    "RESTIC_PASSWORD": lambda: secrets.token_urlsafe(32),
}
# Each env file that copy writes from its example.
ENV_FILES = {".env": ".env.example", ".env.backup": ".env.backup.example"}


def variable_name(line: str) -> str | None:
    """The variable a KEY=value line of an env file sets, or None."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or "=" not in stripped:
        return None
    return stripped.split("=", 1)[0].strip()


def write_env(example: Path, target: Path) -> None:
    lines = []
    for line in example.read_text().splitlines():
        name = variable_name(line)
        if name in GENERATED and line.strip() == f"{name}=":
            line = f"{name}={GENERATED[name]()}"
        lines.append(line)
    target.touch(mode=0o600)
    target.write_text("\n".join(lines) + "\n")
    print(f"Wrote {target.name} with fresh secrets (git-ignored, mode 600).")


def report_missing(example: Path, target: Path) -> None:
    have = {variable_name(line) for line in target.read_text().splitlines()}
    missing = [name for line in example.read_text().splitlines() if (name := variable_name(line)) and name not in have]
    if missing:
        print(
            f"{target.name} lacks variables that {example.name} now documents: "
            + ", ".join(missing)
            + f". Add them to {target.name} (and to your platform's environment)."
        )


def init_git() -> None:
    try:
        inside = subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        print("git is not installed: skipped `git init`.")
        return
    if inside.returncode != 0:
        subprocess.run(["git", "init", "--quiet"], check=True)
        print("Started a git repository (nothing committed yet).")


def main(operation: str) -> None:
    for name, example_name in ENV_FILES.items():
        example, target = Path(example_name), Path(name)
        if not example.exists():
            continue
        if operation == "copy":
            if not target.exists():
                write_env(example, target)
        elif target.exists():
            report_missing(example, target)
    if operation == "copy":
        init_git()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "copy")
