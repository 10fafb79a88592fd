"""Adoption from start to end, in a scratch copy of the repository: render
the template, evaluate the owner's settings, bring the template's files in,
carry the owner's settings, routes, Celery parts, requirements, pytest
options and ignore rules, evaluate again and compare. Only when nothing is
lost (or the owner accepts the listed losses) are the results written into
the repository."""

import filecmp
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from copier import run_copy

from . import AdoptionError, celery_app, changes, ignores, pytest_config, releases, requirements, urls
from .compare import covers, key, status
from .evaluate import TEMPLATE_PATHS, Evaluation, evaluate, placeholder_env
from .governed import GOVERNED
from .owner import (
    OwnerProject,
    development_requirements,
    owner_python,
    read_project,
    settings_imports,
    tracked_files,
)
from .owner import requirement_files as owner_requirement_files
from .pysource import add_imports, append_block, insert_before_closing
from .settings import SettingsCarrier, carry_module
from .values import Writer, brief
from .venvs import venv_with

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
# Old deployment files whose template versions replace them ({package}: the
# Django package). The old versions stay in git history.
REPLACED = [
    ".dockerignore",
    ".env.example",
    "Dockerfile",
    "docker-compose.prod.yml",
    "docker-compose.yml",
    "gunicorn.conf.py",
    "src/manage.py",
    "src/{package}/__init__.py",
    "src/{package}/asgi.py",
    "src/{package}/wsgi.py",
]
SETTINGS_FILES = {
    "base": "src/{package}/settings/base.py",
    "production": "src/{package}/settings/overrides.py",
    "development": "src/{package}/settings/development.py",
    "test": "src/{package}/settings/test.py",
}
CARRIED_HEADER = "# Your settings, carried from {source}\n# when this repository adopted the deployment template."


@dataclass
class Options:
    template: str
    vcs_ref: str | None
    answers: dict
    python: Path | None
    venv_cache: Path
    accept_losses: bool = False


@dataclass
class Row:
    area: str
    name: str
    before: str
    after: str
    how: str


@dataclass
class Outcome:
    upfront: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Refused(AdoptionError):
    def __init__(self, outcome: Outcome):
        super().__init__(f"{len(outcome.losses)} setting(s) or route(s) would be lost")
        self.outcome = outcome


@dataclass
class Comparison:
    """One of the owner's settings modules, evaluated in one environment, and
    the adopted module it must match."""

    label: str
    owner_module: str
    env: dict
    adopted_module: str
    destination: str | None  # the file the differences are carried into
    main: bool = False  # the one whose routes and Celery app are compared

    @property
    def bare_env(self) -> dict:
        """Only the placeholders: where both sides read a variable that is
        unset, their defaults must agree too."""
        return placeholder_env(debug=self.env.get("DEBUG") == "True")


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


def check_repository(repository: Path) -> None:
    if not (repository / ".git").exists():
        raise AdoptionError(f"{repository} is not a git repository: adoption works on a committed work tree")
    if git(repository, "status", "--porcelain"):
        raise AdoptionError(f"{repository} has uncommitted changes: commit or stash them first")
    if (repository / ".copier-answers.yml").exists():
        raise AdoptionError("it already has .copier-answers.yml: use `copier update` (scripts/update-template.sh)")


def comparisons(project: OwnerProject, env_prod: dict, env_dev: dict) -> list[Comparison]:
    package = project.package
    adopted = f"{package}.settings"
    if project.settings_kind == "module":
        module = project.settings_modules["single"]
        return [
            Comparison("production", module, env_prod, f"{adopted}.production", SETTINGS_FILES["base"], main=True),
            Comparison("development", module, env_dev, f"{adopted}.development", SETTINGS_FILES["development"]),
        ]
    found = []
    for role, module in project.settings_modules.items():
        env = env_dev if role == "development" else env_prod
        found.append(
            Comparison(
                role,
                module,
                env,
                f"{adopted}.{role}" if role in SETTINGS_FILES else module,
                SETTINGS_FILES.get(role),
                main=role == "production",
            )
        )
    if not any(comparison.main for comparison in found):
        found[0].main = True  # no production module: compare routes with base
    order = ["base", "production", "development", "test"]
    return sorted(found, key=lambda c: order.index(c.label) if c.label in order else len(order))


def star_imports(project: OwnerProject, module: str, sources: dict[str, str]) -> list[str]:
    """The module and the owner's settings modules it star-imports, recursively."""
    import ast

    found, todo = [], [module]
    while todo:
        name = todo.pop(0)
        if name in found or name not in sources:
            continue
        found.append(name)
        for node in ast.parse(sources[name]).body:
            if isinstance(node, ast.ImportFrom) and node.level and any(alias.name == "*" for alias in node.names):
                parent = name.rsplit(".", node.level)[0]
                todo.append(f"{parent}.{node.module}" if node.module else parent)
    return found


def render(template: str, ref: str | None, answers: dict, destination: Path) -> None:
    # The template's post-copy task speaks of the scratch render's .env: not the owner's business.
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        run_copy(template, str(destination), data=answers, defaults=True, unsafe=True, quiet=True, vcs_ref=ref)
    except Exception as error:  # noqa: BLE001 - Copier's errors become one line
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AdoptionError(f"copier could not render the template: {message}") from None
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def load_report_missing():
    spec = importlib.util.spec_from_file_location("post_copy", TEMPLATE_ROOT / "hooks" / "post_copy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.report_missing


def copy_tracked(repository: Path, work: Path) -> list[str]:
    names = tracked_files(repository)
    for name in names:
        source = repository / name
        if source.is_file() or source.is_symlink():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    subprocess.run(["git", "init", "--quiet"], cwd=work, check=True)
    return names


def ruff(python: Path, work: Path, files: list[str]) -> None:
    """Imports sorted and the carried code formatted as the template's is."""
    binary = python.parent / "ruff"
    paths = [name for name in dict.fromkeys(files) if name.endswith(".py") and (work / name).exists()]
    if not binary.exists() or not paths:
        return
    subprocess.run(
        [str(binary), "check", "--no-cache", "--fix", "--select", "I", *paths],
        cwd=work,
        capture_output=True,
        check=False,
    )
    subprocess.run([str(binary), "format", "--no-cache", *paths], cwd=work, capture_output=True, check=False)


def adopt(repository: Path, options: Options) -> Outcome:
    check_repository(repository)
    outcome = Outcome()
    template, ref, notes = releases.resolve(options.template, options.vcs_ref)
    outcome.notes += notes
    answers = dict(options.answers)
    project = read_project(repository, answers.get("django_package"))
    answers["django_package"] = package = project.package
    if "ops_app" not in answers:
        free = [name for name in ("common", "ops") if not (repository / "src" / name).exists()]
        if not free:
            raise AdoptionError("src/common and src/ops are both taken: pass --data ops_app=NAME")
        answers["ops_app"] = free[0]

    with tempfile.TemporaryDirectory(prefix="adopt-") as scratch_name:
        scratch = Path(scratch_name)
        subprocess.run(["git", "init", "--quiet"], cwd=scratch, check=True)  # the render starts no repository
        rendered = scratch / "render"
        render(template, ref, answers, rendered)
        work = scratch / "work"
        tracked = copy_tracked(repository, work)
        project.root = work
        src = work / "src"

        # -- before: the owner's project as it is --------------------------------------
        python_before = owner_python(repository, options.python)
        if python_before is None:
            python_before = venv_with(owner_requirement_files(work), development_requirements(work), options.venv_cache)
        env_prod = placeholder_env(work / ".env.example", rendered / ".env.example")
        env_dev = placeholder_env(work / ".env.example", rendered / ".env.example", debug=True)
        plan = comparisons(project, env_prod, env_dev)
        # The owner's settings modules, read before the template's files replace them.
        modules = [*project.settings_modules.values(), *project.helper_modules]
        files = {module: project.module_file(module) for module in modules}
        sources = {module: path.read_text() for module, path in files.items()}
        settings_files = list(files.values())
        before: dict[str, Evaluation] = {}
        bare: dict[str, Evaluation] = {}
        for comparison in plan:
            before[comparison.label] = evaluate(
                python_before,
                src,
                comparison.owner_module,
                comparison.env,
                trace=settings_files,
                urls=comparison.main,
                celery=project.celery_module if comparison.main else None,
            )
            if comparison.destination and comparison.label in ("base", "production"):
                bare[comparison.label] = evaluate(python_before, src, comparison.owner_module, comparison.bare_env)
        main = next(comparison for comparison in plan if comparison.main)
        owner_urls_module = before[main.label].settings.get("ROOT_URLCONF") or f"{package}.urls"
        owner_urls_file = project.module_file(owner_urls_module)
        owner_urls = owner_urls_file.read_text() if owner_urls_file.is_file() else ""
        owner_celery = (src / package / "celery.py").read_text() if project.celery_module else ""

        # -- what changes, said up front -------------------------------------------------
        owner_reqs = owner_requirement_files(work)
        reqs = requirements.read(owner_reqs, work, rendered)
        outcome.upfront = changes.up_front(
            changes.installed(python_before),
            requirements.template_pins(rendered),
            reqs,
            src,
            locks=(rendered / "scripts" / "lock-requirements.sh").exists(),
        )

        # -- the template's files ---------------------------------------------------------
        template_files = sorted(
            path.relative_to(rendered).as_posix()
            for path in rendered.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(rendered).parts
        )
        replaced = {name.format(package=package) for name in REPLACED}
        if project.settings_kind == "package":
            replaced |= {
                f"src/{package}/settings/{role}.py"
                for role in ("__init__", "base", "development", "production", "test")
            }
        merged = {
            "README.md",
            ".gitignore",
            "pyproject.toml",
            f"src/{package}/urls.py",
            f"src/{package}/celery.py",
            *(path.relative_to(work).as_posix() for path in owner_reqs),
        }
        collisions = [
            name
            for name in template_files
            if (work / name).is_file()
            and name not in replaced | merged
            and name != ".env"
            and not filecmp.cmp(work / name, rendered / name, shallow=False)
        ]
        if collisions:
            raise AdoptionError(
                "these files exist here and the template writes them too; move or rename yours, commit, "
                "and run again: " + ", ".join(collisions)
            )
        originals = {
            name: (work / name).read_text()
            for name in ("README.md", ".gitignore", "pyproject.toml")
            if (work / name).is_file()
        }
        for name in template_files:
            target = work / name
            if name == ".env":
                continue
            if name in replaced and target.is_file() and not filecmp.cmp(target, rendered / name, shallow=False):
                outcome.notes.append(f"replaced {name} (yours: git show HEAD:{name})")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(rendered / name, target)
        if project.settings_kind == "module":
            files[project.settings_modules["single"]].unlink()
            outcome.notes.append(f"removed src/{package}/settings.py: the settings/ package replaces it")

        # -- requirements, and the adopted project's virtualenv ----------------------------
        for purpose, lines in reqs.carried.items():
            path = work / "requirements" / f"{purpose}.txt"
            path.write_text(requirements.merge(path.read_text(), lines))
        for name in reqs.removed_files:
            (work / name).unlink(missing_ok=True)
            outcome.notes.append(f"removed {name}: its requirements are in requirements/")
        python_after = venv_with(
            sorted((work / "requirements").glob("*.txt")), work / "requirements" / "development.txt", options.venv_cache
        )

        # -- settings ---------------------------------------------------------------------
        changed = []
        owner_beat = (before[main.label].celery or {}).get("beat_schedule")
        for comparison in plan:
            if not comparison.destination:
                continue
            destination = comparison.destination.format(package=package)
            current = evaluate(python_after, src, comparison.adopted_module, comparison.env)
            defaults_differ = set()
            if comparison.label in bare:
                current_bare = evaluate(python_after, src, comparison.adopted_module, comparison.bare_env)
                defaults_differ = {
                    name
                    for name, value in bare[comparison.label].settings.items()
                    if key(value) != key(current_bare.settings.get(name))
                }
            owner_settings = dict(before[comparison.label].settings)
            if owner_beat and destination.endswith("base.py") and comparison.destination.endswith("base.py"):
                owner_settings["CELERY_BEAT_SCHEDULE"] = owner_beat
            text = (work / destination).read_text()
            own = star_imports(project, comparison.owner_module, sources)
            carrier = SettingsCarrier(
                Writer(src),
                [(files[module], sources[module]) for module in own],
                before[comparison.label].env_reads,
                text,
            )
            carried = carry_module(
                carrier, owner_settings, current.settings, destination.endswith("base.py"), defaults_differ
            )
            for opening, lines in carried.marked.items():
                closing = "}" if opening.endswith("{") else "]"
                text = insert_before_closing(text, opening, lines, closing)
            from_base = base_names_used(carried.block, text, work / SETTINGS_FILES["base"].format(package=package))
            if from_base and not destination.endswith("base.py"):
                carried.imports.append(f"from .base import {', '.join(from_base)}")
            text = add_imports(text, [*carried.imports, *sorted(carrier.writer.imports)])
            source_name = files[comparison.owner_module].relative_to(work).as_posix()
            text = append_block(text, CARRIED_HEADER.format(source=source_name), carried.block)
            (work / destination).write_text(text)
            changed.append(destination)
            for name, how in carried.notes.items():
                outcome.notes.append(f"{name} ({comparison.label}): carried into {destination}, {how}")
            for name, why in carried.losses.items():
                outcome.losses.append(f"setting {name} ({comparison.label}): {why}")

        # -- urls.py and celery.py -----------------------------------------------------------
        urls_plan = urls.plan(owner_urls) if owner_urls else None
        urls_file = f"src/{package}/urls.py"
        rendered_urls = (rendered / urls_file).read_text()

        def write_urls(early: set[int]) -> None:
            text = urls.merge(rendered_urls, urls_plan, early)
            text = add_imports(text, urls_plan.imports)
            (work / urls_file).write_text(text)
            ruff(python_after, work, [urls_file])

        if urls_plan:
            write_urls(set())
            outcome.notes += [f"urls.py: {note}" for note in urls_plan.notes]
        if owner_celery:
            imports, statements, celery_notes = celery_app.hooks(owner_celery, package)
            hooks_file = f"src/{package}/celery_hooks.py"
            if statements:
                if not (work / hooks_file).exists():
                    outcome.losses.append(
                        "celery.py: signal handlers and tasks need celery_hooks.py (template v0.4.0 or later)"
                    )
                else:
                    text = add_imports((work / hooks_file).read_text(), imports)
                    text = text.rstrip("\n") + "\n\n\n" + "\n\n\n".join(s.strip("\n") for s in statements) + "\n"
                    (work / hooks_file).write_text(text)
                    changed.append(hooks_file)
            outcome.notes += celery_notes
        ruff(python_after, work, changed)

        # -- pytest, README, .gitignore, .env ---------------------------------------------------
        config = pytest_config.read(repository, tracked, (rendered / "pyproject.toml").read_text())
        if config.sources:
            (work / "pyproject.toml").write_text(pytest_config.merge((work / "pyproject.toml").read_text(), config))
            outcome.notes.append(f"pytest options of {', '.join(config.sources)} carried into pyproject.toml")
            for name in config.removed:
                (work / name).unlink(missing_ok=True)
                outcome.notes.append(f"removed {name}: its options are in pyproject.toml")
            for name, text in config.rewritten.items():
                (work / name).write_text(text)
        elif config.other_tables:
            (work / "pyproject.toml").write_text(pytest_config.merge((work / "pyproject.toml").read_text(), config))
        outcome.notes += config.notes
        if "README.md" in originals:
            (work / "README.md").write_text(
                originals["README.md"].rstrip("\n") + "\n\n" + (rendered / "README.md").read_text()
            )
        gitignore = ignores.owner_block(originals.get(".gitignore", ""), (rendered / ".gitignore").read_text())
        gitignore += (rendered / ".gitignore").read_text()
        visible = [name for name in template_files if name != ".env"]
        _, hidden = ignores.reincluded(work, visible, gitignore)
        if hidden:
            outcome.notes.append(f".gitignore: re-included the template's {', '.join(hidden)}, which your patterns hid")

        # -- after: evaluate again and compare ---------------------------------------------------
        kept_modules = [module for module in project.helper_modules if files[module].exists()]
        owner_imports = settings_imports(src, package)
        owner_routes = before[main.label].routes or []
        owner_paths = [route["path"] for route in owner_routes if route["path"]]
        after: dict[str, Evaluation] = {}

        def evaluate_after() -> None:
            for comparison in plan:
                after[comparison.label] = evaluate(
                    python_after,
                    src,
                    comparison.adopted_module,
                    comparison.env,
                    urls=comparison.main,
                    paths=owner_paths,
                    celery=f"{package}.celery" if comparison.main and project.celery_module else None,
                    imports=kept_modules if comparison.main else [],
                    names=owner_imports if comparison.main else [],
                )

        try:
            evaluate_after()
        except AdoptionError as error:
            outcome.losses.append(f"the adopted settings do not load: {error}")
            raise Refused(outcome) from None
        if urls_plan:
            early = shadowed_routes(
                before[main.label], after[main.label], owner_routes, rendered_settings_media(after[main.label])
            )
            if early:
                write_urls(early)
                evaluate_after()
        compare_all(plan, before, after, owner_routes, outcome)
        for comparison in plan:
            if comparison.label not in bare:
                continue
            now = evaluate(python_after, src, comparison.adopted_module, comparison.bare_env).settings
            for name, value in bare[comparison.label].settings.items():
                if status(name, value, now.get(name)) == "lost":
                    outcome.losses.append(
                        f"setting {name} ({comparison.label}, optional variables unset): "
                        f"was {brief(value)}, would be {brief(now.get(name))}"
                    )

        if outcome.losses and not options.accept_losses:
            raise Refused(outcome)

        # -- write into the repository --------------------------------------------------------
        report_missing = load_report_missing()
        if (repository / ".env").exists():
            report_missing(rendered / ".env.example", repository / ".env")
            outcome.notes.append("kept .env; add the variables named above")
        else:
            shutil.copy2(rendered / ".env", work / ".env")
            os.chmod(work / ".env", 0o600)
            outcome.notes.append("wrote .env with fresh secrets (git-ignored)")
        apply(work, repository, tracked, outcome)
    return outcome


def base_names_used(block: list[str], destination: str, base: Path) -> list[str]:
    """Names of base.py that carried statements use and the destination
    module does not define itself (a star import does not count: ruff asks
    for them by name, and overrides.py has none)."""
    import ast

    from .pysource import BUILTINS, statements

    code = "\n".join(block)
    if not code.strip():
        return []
    used = {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)} - BUILTINS
    defined_here = {name for statement in statements(destination) for name in statement.defines}
    defined_by_block = {
        target.id
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    in_base = {name for statement in statements(base.read_text()) for name in statement.defines}
    return sorted((used - defined_here - defined_by_block) & in_base)


def rendered_settings_media(evaluation: Evaluation) -> str:
    media = evaluation.settings.get("MEDIA_URL") or "media/"
    return "/" + str(media).strip("/") + "/"


def shadowed_routes(before: Evaluation, after: Evaluation, routes: list[dict], media: str) -> set[int]:
    """The owner's top-level routes whose paths the template's routes answer
    first (and that may go in front of them: not under MEDIA_URL)."""
    early = set()
    for route in routes:
        path = route["path"]
        if not path or path in TEMPLATE_PATHS or path.startswith(media):
            continue
        mine, theirs = (before.resolved or {}).get(path), (after.resolved or {}).get(path)
        if mine and theirs and mine["view"] != theirs["view"]:
            early.add(route["top"])
    return early


def compare_all(plan, before, after, owner_routes, outcome: Outcome) -> None:
    for comparison in plan:
        mine, theirs = before[comparison.label].settings, after[comparison.label].settings
        for name, value in mine.items():
            result = status(name, value, theirs.get(name))
            how = {"same": "kept", "template": f"the template's: {GOVERNED.get(name, '')}", "lost": "LOST"}[result]
            if result == "same" and key(value) == key(theirs.get(name)):
                how = "same"
            outcome.rows.append(Row(f"settings ({comparison.label})", name, brief(value), brief(theirs.get(name)), how))
            if result == "lost":
                outcome.losses.append(
                    f"setting {name} ({comparison.label}): was {brief(value)}, would be {brief(theirs.get(name))}"
                )
        for module, error in after[comparison.label].import_errors.items():
            outcome.losses.append(f"module {module} no longer imports: {error}")
            outcome.rows.append(Row("modules", module, "imports", "fails", "LOST"))
    main = next(comparison for comparison in plan if comparison.main)
    was, now = before[main.label], after[main.label]
    for route in owner_routes:
        path = route["path"]
        if path is None:
            outcome.notes.append(f"route {route['pattern']}: no sample path could be made, not compared")
            continue
        mine = (was.resolved or {}).get(path)
        theirs = (now.resolved or {}).get(path)
        if path in TEMPLATE_PATHS:
            how = f"{TEMPLATE_PATHS[path]} (your view stays routed, for reverse())"
        elif mine and theirs and mine["view"] == theirs["view"]:
            how = "same"
        else:
            how = "LOST"
            was_view, now_view = (mine or {}).get("view", "nothing"), (theirs or {}).get("view", "nothing")
            outcome.losses.append(f"route {path}: was {was_view}, would be {now_view}")
        outcome.rows.append(Row("routes", path, mine["view"] if mine else "-", theirs["view"] if theirs else "-", how))
    if was.celery:
        celery_before, celery_after = was.celery, now.celery or {}
        for task in celery_before["tasks"]:
            ok = task in celery_after.get("tasks", [])
            outcome.rows.append(
                Row("celery tasks", task, "registered", "registered" if ok else "-", "same" if ok else "LOST")
            )
            if not ok:
                outcome.losses.append(f"celery task {task}: no longer registered")
        beat_before = celery_before["beat_schedule"].get("dict", {})
        beat_after = (celery_after.get("beat_schedule") or {}).get("dict", {})
        for entry, value in beat_before.items():
            ok = entry in beat_after and covers(beat_after[entry], value)
            outcome.rows.append(
                Row("beat schedule", entry, brief(value), brief(beat_after.get(entry)), "kept" if ok else "LOST")
            )
            if not ok:
                outcome.losses.append(f"beat schedule entry {entry}: not in the adopted schedule")
        for signal, handlers in celery_before["signals"].items():
            kept = {handler.rsplit(".", 1)[-1] for handler in celery_after.get("signals", {}).get(signal, [])}
            for handler in handlers:
                ok = handler.rsplit(".", 1)[-1] in kept
                outcome.rows.append(
                    Row(
                        "celery signals",
                        f"{signal}: {handler}",
                        "connected",
                        "connected" if ok else "-",
                        "kept" if ok else "LOST",
                    )
                )
                if not ok:
                    outcome.losses.append(f"celery signal handler {handler} ({signal}): no longer connected")
    for path, how in TEMPLATE_PATHS.items():
        mine = (was.resolved or {}).get(path)
        if not mine:
            continue
        if all(row.name != path for row in outcome.rows):
            outcome.rows.append(Row("routes", path, mine["view"], "the template's view", how))
        if path == "/metrics":
            outcome.upfront.append(
                f"{path} (your {mine['view']}) is answered by the template's view, which is off until METRICS_TOKEN "
                "is set and then answers only requests with Authorization: Bearer <METRICS_TOKEN>; "
                "a test or scraper that reads it without the token gets 404 or 401"
            )


def apply(work: Path, repository: Path, tracked: list[str], outcome: Outcome) -> None:
    present = {
        path.relative_to(work).as_posix()
        for path in work.rglob("*")
        if (path.is_file() or path.is_symlink()) and ".git" not in path.relative_to(work).parts
    }
    for name in sorted(present):
        target = repository / name
        if target.is_file() and filecmp.cmp(work / name, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(work / name, target, follow_symlinks=False)
        outcome.written.append(name)
    for name in tracked:
        if name not in present and (repository / name).exists():
            (repository / name).unlink()
            outcome.removed.append(name)
