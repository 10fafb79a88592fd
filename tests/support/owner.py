"""What an owner typically does to a rendered project, at any release.

Each edit goes where that release's files tell the owner to put it: the
marked lists and sections where they exist, the end of the template's list
or file in the first release, which had none. `apply_owner_edits` returns,
per file, the lines that must still be there after an update.
"""

import shutil
from pathlib import Path

from .facts import owner_markers

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "owner"

ENV_EDITS = "EMAIL_HOST_USER=mailer@obcms.gov.ph\nREPORTS_TITLE=Quarterly reports\n"
REQUIREMENT = "XlsxWriter==3.2.9"
README_SECTION = "## Our team's notes\n\nReports are exported every quarter.\n"
OVERRIDE = "SESSION_COOKIE_AGE = 8 * 3600\n"
BEAT_ENTRY = '    "count-reports": {"task": "reports.tasks.count_reports", "schedule": 3600},\n'


def insert_after(path: Path, anchor: str, text: str) -> None:
    """Insert text after the first line that is exactly `anchor`."""
    lines = path.read_text().splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.rstrip("\n") == anchor:
            lines.insert(number + 1, text)
            path.write_text("".join(lines))
            return
    raise AssertionError(f"{path.name}: no line {anchor!r} to add the owner's edit after")


def insert_before_closing(path: Path, opening: str, text: str, closing: str) -> None:
    """Insert text before the line `closing` that ends the block opened by `opening`."""
    lines = path.read_text().splitlines(keepends=True)
    start = next(number for number, line in enumerate(lines) if line.rstrip("\n") == opening)
    end = next(number for number in range(start, len(lines)) if lines[number].rstrip("\n") == closing)
    lines.insert(end, text)
    path.write_text("".join(lines))


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise AssertionError(f"{path.name}: expected {old!r} once")
    path.write_text(text.replace(old, new))


def apply_owner_edits(project: Path, package: str, beat: bool) -> dict[str, list[str]]:
    shutil.copytree(FIXTURE / "src", project / "src", dirs_exist_ok=True)
    settings = project / "src" / package / "settings"
    base, urls = settings / "base.py", project / "src" / package / "urls.py"
    markers = owner_markers()
    marked = markers["apps"] in base.read_text()

    # An app of their own, in INSTALLED_APPS.
    if marked:
        insert_after(base, markers["apps"], '    "reports",\n')
    else:
        insert_after(base, '    "common",', '    "reports",\n')

    # Its routes (ruff's isort joins the owner's `include` to the template's import).
    replace_once(urls, "from django.urls import path\n", "from django.urls import include, path\n")
    route = '    path("reports/", include("reports.urls")),\n'
    if markers["routes"] in urls.read_text():
        insert_after(urls, markers["routes"], route)
    else:
        insert_before_closing(urls, "urlpatterns = [", route, "]")

    # A requirement of theirs.
    requirements = project / "requirements" / "base.txt"
    if markers["requirements"] in requirements.read_text():
        insert_after(requirements, markers["requirements"], REQUIREMENT + "\n")
    else:
        with requirements.open("a") as out:
            out.write(f"\n# Ours\n{REQUIREMENT}\n")

    # A shared setting changed in place.
    replace_once(base, '"OPTIONS": {"min_length": 12}', '"OPTIONS": {"min_length": 14}')

    # A scheduled task.
    if beat:
        if markers["beat_schedule"] in base.read_text():
            insert_after(base, markers["beat_schedule"], BEAT_ENTRY)
        else:
            insert_before_closing(base, "CELERY_BEAT_SCHEDULE = {", BEAT_ENTRY, "}")

    # Production-only settings in their own module, notes in the README,
    # values in .env.
    with (settings / "overrides.py").open("a") as out:
        out.write("\n" + OVERRIDE)
    with (project / "README.md").open("a") as out:
        out.write("\n" + README_SECTION)
    with (project / ".env").open("a") as out:
        out.write(ENV_EDITS)

    witnesses = {
        f"src/{package}/settings/base.py": ['    "reports",', '"OPTIONS": {"min_length": 14}'],
        f"src/{package}/urls.py": ["from django.urls import include, path", route.rstrip("\n")],
        "requirements/base.txt": [REQUIREMENT],
        f"src/{package}/settings/overrides.py": [OVERRIDE.rstrip("\n")],
        "README.md": [README_SECTION.rstrip("\n")],
    }
    if beat:
        witnesses[f"src/{package}/settings/base.py"].append(BEAT_ENTRY.rstrip("\n"))
    for path in sorted((FIXTURE / "src").rglob("*.py")):
        witnesses[str(path.relative_to(FIXTURE))] = [path.read_text()]
    return witnesses


def add_app(project: Path, package: str, source: Path, app: str) -> None:
    """Copy the app under source/src into the project, install it and route
    /<app>/ to its urls, where an owner would (the marked sections)."""
    shutil.copytree(source / "src", project / "src", dirs_exist_ok=True)
    markers = owner_markers()
    insert_after(project / "src" / package / "settings" / "base.py", markers["apps"], f'    "{app}",\n')
    urls = project / "src" / package / "urls.py"
    replace_once(urls, "from django.urls import path\n", "from django.urls import include, path\n")
    insert_after(urls, markers["routes"], f'    path("{app}/", include("{app}.urls")),\n')
