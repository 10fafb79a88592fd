""".gitignore: the owner's patterns stay, and none of them may hide a file
of the template's. A file that git ignores is never committed, so the next
`copier update` would delete it, and updates after that break.

The owner's patterns go above the template's; for each template file that
they would still hide, lines at the end re-include it and each of its
directories, while the rest of those directories' contents stays ignored:

    !/docs/
    /docs/*
    !/docs/deployment.md
"""

import subprocess
from pathlib import Path

HEADER = "# This repository's own"
REINCLUDE_HEADER = (
    "# The deployment template's files, which the patterns above would hide\n"
    "# (a hidden file is never committed, and `copier update` would delete it)."
)


def owner_block(old: str, rendered: str) -> str:
    have = {line.strip() for line in rendered.splitlines()}
    lines = [
        line for line in old.splitlines() if line.strip() and not line.startswith("#") and line.strip() not in have
    ]
    return HEADER + "\n" + "\n".join(lines) + "\n\n" if lines else ""


def ignored(work: Path, paths: list[str]) -> list[str]:
    """Which of paths (directories end with /) git ignores in the work tree."""
    if not paths:
        return []
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=work,
        input="\n".join(paths) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if line]


def reincluded(work: Path, template_files: list[str], text: str) -> tuple[str, list[str]]:
    """The .gitignore text with lines that re-include the hidden template
    files; and the files that needed it."""
    (work / ".gitignore").write_text(text)
    hidden = ignored(work, template_files)
    if not hidden:
        return text, []
    lines: list[str] = []
    for name in sorted(hidden):
        parts = Path(name).parts
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            (work / ".gitignore").write_text(text + "\n".join(lines) + "\n")
            if ignored(work, [directory + "/"]) and f"!/{directory}/" not in lines:
                lines += [f"!/{directory}/", f"/{directory}/*"]
        lines.append(f"!/{name}")
    result = text.rstrip("\n") + "\n\n" + REINCLUDE_HEADER + "\n" + "\n".join(lines) + "\n"
    (work / ".gitignore").write_text(result)
    still = ignored(work, template_files)
    if still:
        raise RuntimeError(f"still hidden by .gitignore: {', '.join(still)}")
    return result, sorted(hidden)
