"""Copier migration: give a recorded answer its new name.

    rename_answer.py ANSWERS_FILE OLD NEW [FROM TO]

Runs in the "before" stage of `copier update`, in the project, before the new
release is rendered: Copier then reads the answers again and the owner's value
carries over under the new name (without this, the renamed question would get
its default). Only the key changes; every other byte of the file stays.

Standard library only: it runs under the Python that runs Copier.
"""

import re
import sys
from pathlib import Path


def rename(text: str, old: str, new: str) -> tuple[str, str]:
    """The answers text with top-level key `old` renamed to `new`, and what was done."""
    old_key = re.compile(rf"^{re.escape(old)}:(?=\s|$)", re.MULTILINE)
    new_key = re.compile(rf"^{re.escape(new)}:(?=\s|$)", re.MULTILINE)
    if not old_key.search(text):
        return text, f"no {old} answer recorded, nothing to rename"
    if new_key.search(text):
        # Both present: the new name wins, the stale one goes.
        lines = [line for line in text.splitlines(keepends=True) if not old_key.match(line)]
        return "".join(lines), f"dropped {old}: {new} is already recorded"
    return old_key.sub(f"{new}:", text, count=1), f"renamed answer {old} to {new}"


def main(answers_file: str, old: str, new: str, version_from: str = "?", version_to: str = "?") -> None:
    path = Path(answers_file)
    text, done = rename(path.read_text(), old, new)
    path.write_text(text)
    print(f"Template migration ({version_from} -> {version_to}): {done} in {path}.")


if __name__ == "__main__":
    main(*sys.argv[1:])
