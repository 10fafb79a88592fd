"""Bring the template into an existing OBCMS-style repository that was not
rendered from it, keeping the owner's apps, routes and requirements, and
writing .copier-answers.yml so that `copier update` works from then on.

    python tools/adopt.py [--template URL] [--vcs-ref TAG] [--data-file FILE]
                          [--data NAME=VALUE ...] REPOSITORY

It renders the template (a release: the latest unless --vcs-ref says) into a
temporary directory, then, in REPOSITORY (a git work tree without changes):

- adds the template's new files;
- replaces the old deployment files the template supersedes (REPLACED);
- merges the shared files: the apps of the single settings module go into
  the owner's list of settings/base.py, the routes of urls.py into the
  owner's list of urls.py, requirements the template does not pin into the
  first section of requirements/base.txt, the old README and .gitignore
  lines above the template's; then removes the old settings module;
- keeps .env (writes one with fresh secrets when there is none).

The template's own app goes to src/common/ unless the repository has an app
of that name (OBCMS does): then to src/ops/ (the `ops_app` answer). It stops
before changing anything when a file the template writes exists with other
content and is not in REPLACED. The
changes stay uncommitted: it prints what it did and what to review by hand
(settings it did not carry, middleware, dropped requirements).

Run it with a Python that has Copier (pip install copier==9.19.1). Pass the
template's canonical URL as --template: .copier-answers.yml records it for
later updates.
"""

import argparse
import ast
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from copier import run_copy

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))

from post_copy import report_missing  # noqa: E402

# Old deployment files whose template versions replace them ({package}: the
# Django package). The old versions stay in git history.
REPLACED = [
    ".dockerignore",
    ".env.example",
    "Dockerfile",
    "docker-compose.prod.yml",
    "docker-compose.yml",
    "gunicorn.conf.py",
    "pyproject.toml",
    "requirements/development.txt",
    "requirements/production.txt",
    "src/manage.py",
    "src/{package}/__init__.py",
    "src/{package}/asgi.py",
    "src/{package}/celery.py",
    "src/{package}/wsgi.py",
]
# The template's PostgreSQL driver is psycopg 3; these give way to it.
OLD_DRIVERS = {"psycopg2", "psycopg2-binary"}
# Where the rendered shared files take the owner's lines (see template/).
OWNER_APPS = "INSTALLED_APPS += ["
OWNER_ROUTES = "urlpatterns += ["
OWNER_REQUIREMENTS = "# ---- Your requirements ----"

REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class AdoptionError(Exception):
    pass


def git(repository: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repository, capture_output=True, text=True, check=True).stdout


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    match = REQUIREMENT_NAME.match(line)
    return normalized(match.group()) if match else None


def insert_before_closing(text: str, opening: str, new_lines: list[str], what: str) -> str:
    """Insert lines before the `]` that closes the list opened by the line `opening`."""
    lines = text.splitlines(keepends=True)
    try:
        start = next(number for number, line in enumerate(lines) if line.rstrip("\n") == opening)
        end = next(number for number in range(start, len(lines)) if lines[number].rstrip("\n") == "]")
    except StopIteration:
        raise AdoptionError(f"the rendered {what} has no `{opening}` list: adopt release v0.2.0 or later") from None
    lines[end:end] = [line + "\n" for line in new_lines]
    return "".join(lines)


def assignments(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level NAME = value assignments of upper-case names."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id.isupper():
                found[node.targets[0].id] = node.value
    return found


def literal(node: ast.expr | None):
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def merge_settings(old: str, base: str, notes: list[str]) -> str:
    """The owner's apps into base.py's owner list; what it cannot carry, into notes."""
    old_settings, template = assignments(ast.parse(old)), assignments(ast.parse(base))
    template_apps = literal(template["INSTALLED_APPS"]) or []
    owner_apps = [app for app in literal(old_settings.get("INSTALLED_APPS")) or [] if app not in template_apps]
    merged = insert_before_closing(base, OWNER_APPS, [f'    "{app}",' for app in owner_apps], "settings/base.py")
    if owner_apps:
        notes.append(f"carried into INSTALLED_APPS (settings/base.py): {', '.join(owner_apps)}")

    template_middleware = literal(template["MIDDLEWARE"]) or []
    for entry in literal(old_settings.get("MIDDLEWARE")) or []:
        if entry not in template_middleware:
            notes.append(f"review: middleware {entry} was not carried; add it to MIDDLEWARE where its order needs")
    for name, value in old_settings.items():
        if name in {"INSTALLED_APPS", "MIDDLEWARE"}:
            continue
        if name not in template:
            notes.append(f"review: setting {name} was not carried; add it to settings/base.py or overrides.py")
            continue
        ours, theirs = literal(value), literal(template[name])
        if ours is not None and theirs is not None and ours != theirs:
            notes.append(f"review: {name} was {ours!r}; the template sets {theirs!r}")
    return merged


def sorted_import_key(line: str) -> tuple:
    """isort's order within a section: `import x` lines, then `from x import`."""
    words = line.split()
    return (words[0] == "from", words[1].lower())


def add_imports(lines: list[str], new_imports: list[str], first_party: set[str]) -> list[str]:
    """The new import lines in the section ruff's isort puts them in (the
    project's own packages last, everything else before), each kept sorted."""
    end = max(index for index, line in enumerate(lines) if line.startswith(("import ", "from ")))
    start = min(index for index, line in enumerate(lines) if line.startswith(("import ", "from ")))
    sections: list[list[str]] = [[]]
    for line in lines[start : end + 1]:
        if line.strip():
            sections[-1].append(line)
        elif sections[-1]:
            sections.append([])
    third_party, own = (sections[0], sections[-1]) if len(sections) > 1 else (sections[0], [])
    for line in new_imports:
        (own if line.split()[1].split(".")[0] in first_party else third_party).append(line)
    blocks = [sorted(section, key=sorted_import_key) for section in (third_party, *sections[1:-1], own) if section]
    merged = "\n".join("".join(block) for block in blocks)
    return lines[:start] + [merged] + lines[end + 1 :]


def merge_urls(old: str, rendered: str, notes: list[str], first_party: set[str]) -> str:
    """The owner's routes into urls.py's owner list, with the imports they use."""
    tree = ast.parse(old)
    routes = []
    for node in tree.body:
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        is_patterns = any(isinstance(target, ast.Name) and target.id == "urlpatterns" for target in targets)
        if isinstance(node, ast.Assign) and is_patterns and isinstance(node.value, ast.List):
            for element in node.value.elts:
                source = ast.get_source_segment(old, element)
                if "admin.site.urls" not in source:  # the template routes the admin
                    routes.append((element, source))
        elif is_patterns or (isinstance(node, ast.If) and "urlpatterns" in ast.unparse(node)):
            first_line = ast.get_source_segment(old, node).splitlines()[0]
            notes.append(f"review: urls.py `{first_line}` was not carried (static and media are served already)")

    used = {name.id for element, _ in routes for name in ast.walk(element) if isinstance(name, ast.Name)}
    rendered_tree = ast.parse(rendered)
    imported = {
        (getattr(node, "module", None), alias.name)
        for node in rendered_tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    lines = rendered.splitlines(keepends=True)
    new_imports = []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom | ast.Import):
            continue
        wanted = [alias for alias in node.names if (alias.asname or alias.name).split(".")[0] in used]
        wanted = [alias for alias in wanted if (getattr(node, "module", None), alias.name) not in imported]
        if not wanted:
            continue
        same_module = [
            index
            for index, line in enumerate(lines)
            if isinstance(node, ast.ImportFrom)
            and re.fullmatch(rf"from {re.escape(node.module or '')} import [\w, ]+\n", line)
        ]
        if same_module:
            index = same_module[0]
            names = lines[index].split(" import ", 1)[1].strip().split(", ")
            names += [ast.unparse(alias) for alias in wanted]
            lines[index] = f"from {node.module} import {', '.join(sorted(set(names)))}\n"
        elif isinstance(node, ast.ImportFrom):
            new_imports.append(ast.unparse(ast.ImportFrom(module=node.module, names=wanted, level=node.level)) + "\n")
        else:
            new_imports.append(ast.unparse(ast.Import(names=wanted)) + "\n")
    lines = add_imports(lines, new_imports, first_party)
    indented = ["    " + source.replace("\n", "\n    ") + "," for _, source in routes]
    if routes:
        notes.append(f"carried into urls.py: {len(routes)} route(s)")
    return insert_before_closing("".join(lines), OWNER_ROUTES, indented, "urls.py")


def merge_requirements(old: str, rendered: str, pinned: set[str], notes: list[str]) -> str:
    """Requirements the template does not pin go into base.txt's first section."""
    carried = []
    for line in old.splitlines():
        name = requirement_name(line)
        if line.strip().startswith("-") and not line.strip().startswith("-r"):
            notes.append(f"review: requirements/base.txt `{line.strip()}` was not carried")
        if name is None:
            continue
        if name in pinned:
            notes.append(f"dropped {line.strip()}: the template pins {name}")
        elif name in OLD_DRIVERS:
            notes.append(f"dropped {line.strip()}: the template uses psycopg 3 (psycopg[c])")
        else:
            carried.append(line.strip())
            if "==" not in line:
                notes.append(f"review: pin {line.strip()} to the version you test with (e.g. {name}==X.Y.Z)")
    if carried and "lock-requirements.sh" in rendered:
        notes.append(
            "review: the carried requirements are not in the lock files yet: "
            "run scripts/lock-requirements.sh (the image build stops until you do)"
        )
    lines = rendered.splitlines(keepends=True)
    try:
        index = next(number for number, line in enumerate(lines) if line.rstrip("\n") == OWNER_REQUIREMENTS)
    except StopIteration:
        raise AdoptionError("the rendered requirements/base.txt has no section for the owner's requirements") from None
    lines[index + 1 : index + 1] = [line + "\n" for line in carried]
    return "".join(lines)


def dropped_requirements(name: str, old: str, pinned: set[str]) -> list[str]:
    """Notes on the requirements of a replaced file that no template file pins."""
    return [
        f"review: {line.strip()} from your {name} is not in the template's; add it back if you need it"
        for line in old.splitlines()
        if (requirement := requirement_name(line)) and requirement not in pinned and requirement not in OLD_DRIVERS
    ]


def pinned_names(render: Path) -> set[str]:
    return {
        name
        for path in (render / "requirements").glob("*.txt")
        for line in path.read_text().splitlines()
        if (name := requirement_name(line))
    }


def answers_from(args: argparse.Namespace, repository: Path) -> dict:
    answers = yaml.safe_load(Path(args.data_file).read_text()) if args.data_file else {}
    for item in args.data:
        name, _, value = item.partition("=")
        answers[name] = yaml.safe_load(value)
    if "django_package" not in answers:
        candidates = sorted(path.parent.name for path in repository.glob("src/*/settings.py"))
        if len(candidates) != 1:
            raise AdoptionError(
                "cannot tell the Django package from src/*/settings.py: pass --data django_package=NAME"
            )
        answers["django_package"] = candidates[0]
    if "ops_app" not in answers:
        free = [name for name in ("common", "ops") if not (repository / "src" / name).exists()]
        if not free:
            raise AdoptionError("src/common and src/ops are both taken: pass --data ops_app=NAME")
        answers["ops_app"] = free[0]
    return answers


def check_repository(repository: Path) -> None:
    if git(repository, "status", "--porcelain"):
        raise AdoptionError(f"{repository} has uncommitted changes: commit or stash them first")
    if (repository / ".copier-answers.yml").exists():
        raise AdoptionError("it already has .copier-answers.yml: use `copier update` (scripts/update-template.sh)")


def adopt(repository: Path, template: str, vcs_ref: str | None, answers: dict) -> list[str]:
    package = answers["django_package"]
    old_settings = repository / "src" / package / "settings.py"
    if not old_settings.is_file():
        raise AdoptionError(f"expected the single settings module src/{package}/settings.py")

    with tempfile.TemporaryDirectory(prefix="adopt-") as scratch:
        render = Path(scratch) / "render"
        # Inside a work tree, the template's post-copy task starts no repository of its own.
        git(Path(scratch), "init", "--quiet")
        run_copy(template, str(render), data=answers, defaults=True, unsafe=True, quiet=True, vcs_ref=vcs_ref)
        replaced = {name.format(package=package) for name in REPLACED}
        # What ruff's isort counts as the project's own: the packages under src/.
        first_party = {path.name for path in (repository / "src").iterdir() if path.is_dir()} | {
            package,
            answers["ops_app"],
        }
        notes: list[str] = []

        def old_text(name: str) -> str:
            path = repository / name
            return path.read_text() if path.is_file() else ""

        merged = {
            f"src/{package}/settings/base.py": lambda text: merge_settings(old_settings.read_text(), text, notes),
            f"src/{package}/urls.py": lambda text: merge_urls(
                old_text(f"src/{package}/urls.py"), text, notes, first_party
            ),
            "requirements/base.txt": lambda text: merge_requirements(
                old_text("requirements/base.txt"), text, pinned_names(render), notes
            ),
            "README.md": lambda text: old_text("README.md") + ("\n" if old_text("README.md") else "") + text,
            ".gitignore": lambda text: owner_ignores(old_text(".gitignore"), text) + text,
        }
        files = sorted(
            path.relative_to(render).as_posix()
            for path in render.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(render).parts
        )
        collisions = [
            name
            for name in files
            if (repository / name).is_file()
            and name not in replaced
            and name not in merged
            and name != ".env"
            and (repository / name).read_bytes() != (render / name).read_bytes()
        ]
        if collisions:
            raise AdoptionError(
                "these files exist here and the template writes them too; move or rename yours, commit, "
                "and run again:\n  " + "\n  ".join(collisions)
            )

        contents = {name: merge((render / name).read_text()) for name, merge in merged.items()}
        for name in files:
            target = repository / name
            if name == ".env":
                if target.exists():
                    report_missing(render / ".env.example", target)
                    notes.append("kept .env; add the variables named above")
                    continue
                notes.append("wrote .env with fresh secrets (git-ignored)")
            elif name in replaced and target.is_file() and target.read_bytes() != (render / name).read_bytes():
                notes.append(f"replaced {name} (yours: git show HEAD:{name})")
                if name.startswith("requirements/"):
                    notes += dropped_requirements(name, target.read_text(), pinned_names(render))
            target.parent.mkdir(parents=True, exist_ok=True)
            if name in contents:
                target.write_text(contents[name])
            else:
                shutil.copy2(render / name, target)
        old_settings.unlink()
        notes.append(f"removed src/{package}/settings.py: the settings/ package replaces it")
    return notes


def owner_ignores(old: str, rendered: str) -> str:
    """The owner's .gitignore patterns that the template's lacks, as a block on top."""
    have = {line.strip() for line in rendered.splitlines()}
    lines = [
        line for line in old.splitlines() if line.strip() and not line.startswith("#") and line.strip() not in have
    ]
    return "# This repository's own\n" + "\n".join(lines) + "\n\n" if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--template", default=str(TEMPLATE_ROOT), help="the template's URL (recorded for updates)")
    parser.add_argument("--vcs-ref", help="the release to adopt (default: the latest)")
    parser.add_argument("--data-file", help="a YAML file of answers, as for copier copy")
    parser.add_argument("--data", action="append", default=[], metavar="NAME=VALUE", help="an answer")
    args = parser.parse_args()
    repository = args.repository.resolve()
    try:
        check_repository(repository)
        notes = adopt(repository, args.template, args.vcs_ref, answers_from(args, repository))
    except AdoptionError as error:
        print(f"Not adopted: {error}", file=sys.stderr)
        return 1
    print("Adopted the template:")
    for note in notes:
        print(f"  - {note}")
    print(
        "Next: review `git status` and `git diff`, settle the review items, run the tests and\n"
        "`manage.py check --deploy` (README.md), then commit everything with `git add --all`.\n"
        "From then on, scripts/update-template.sh brings the template's releases."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
