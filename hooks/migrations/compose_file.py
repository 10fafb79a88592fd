"""Copier migration: point `docker compose` at the production files through .env.

    compose_file.py COMPOSE_FILE_VALUE

From v0.5.0 the scripts and the runbook run plain `docker compose`, which
reads COMPOSE_FILE from .env: docker-compose.prod.yml, then the owner's
docker-compose.owner.yml (the update renders that file when it is missing).
.env is the owner's and no release renders it, so this appends the line to
an .env that lacks it, in the "after" stage of `copier update`, and changes
nothing else. An .env that sets COMPOSE_FILE already is left as it is, with
a word when it leaves out the owner's file.

Standard library only: it runs under the Python that runs Copier.
"""

import re
import sys
from pathlib import Path

SETTING = re.compile(r"^\s*COMPOSE_FILE\s*=\s*(.*)$", re.MULTILINE)
OWNER_FILE = "docker-compose.owner.yml"


def add_compose_file(text: str, value: str) -> tuple[str, str]:
    """The .env text with COMPOSE_FILE=value appended when missing, and what was done."""
    found = SETTING.search(text)
    if found:
        if OWNER_FILE not in found.group(1):
            return text, f"COMPOSE_FILE in .env leaves out {OWNER_FILE}: add it (COMPOSE_FILE={value})"
        return text, "COMPOSE_FILE is set in .env already"
    lines = [
        "",
        "# `docker compose` reads these files, in this order: the template's, then",
        f"# yours ({OWNER_FILE}, which an update never changes). Every script",
        "# and runbook command relies on it.",
        f"COMPOSE_FILE={value}",
    ]
    separator = "" if not text or text.endswith("\n") else "\n"
    return text + separator + "\n".join(lines) + "\n", f"added COMPOSE_FILE={value} to .env (nothing to add by hand)"


def main(value: str) -> None:
    env = Path(".env")
    if not env.exists():
        print(f"Template migration: no .env here; set COMPOSE_FILE={value} where the deployment's .env is.")
        return
    text, done = add_compose_file(env.read_text(), value)
    if text != env.read_text():
        env.write_text(text)
    print(f"Template migration: {done}.")


if __name__ == "__main__":
    main(*sys.argv[1:])
