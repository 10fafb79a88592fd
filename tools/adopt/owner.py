"""Reading the owner's project: where its Django package, settings modules,
URLconf, Celery app, requirements and Python are."""

import ast
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import AdoptionError

# What each of the template's settings modules is for, and the names owners
# give to the module for the same purpose.
ROLES = {
    "base": ("base", "common", "defaults"),
    "production": ("production", "prod"),
    "development": ("development", "dev", "local"),
    "test": ("test", "tests", "testing"),
}


@dataclass
class OwnerProject:
    root: Path
    package: str
    # "module": src/<package>/settings.py; "package": src/<package>/settings/.
    settings_kind: str
    # role (base, production, development, test, or the module's own name) -> module name
    settings_modules: dict[str, str]
    # settings/ modules that are not settings modules themselves (constants, helpers)
    helper_modules: list[str] = field(default_factory=list)
    celery_module: str | None = None

    @property
    def src(self) -> Path:
        return self.root / "src"

    def module_file(self, module: str) -> Path:
        path = self.src / Path(*module.split("."))
        return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")

    def kept_roles(self) -> list[str]:
        """Settings modules the template has no counterpart for (staging, ...)."""
        return [role for role in self.settings_modules if role not in ROLES and role != "single"]


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True).stdout
    return [name for name in out.split("\0") if name]


def is_settings_module(path: Path) -> bool:
    """Defines INSTALLED_APPS, or star-imports a sibling that may."""
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError as error:
        raise AdoptionError(f"{path} does not parse: {error}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names) and node.level:
            return True
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == "INSTALLED_APPS" for target in targets):
                return True
    return False


def find_package(root: Path, answer: str | None) -> str:
    if answer:
        return answer
    src = root / "src"
    if not (src / "manage.py").is_file():
        raise AdoptionError(
            "expected src/manage.py: the template keeps the Django project under src/ "
            "(move it there, commit, and run again)"
        )
    candidates = sorted(
        {path.parent.name for path in src.glob("*/settings.py")}
        | {path.parent.parent.name for path in src.glob("*/settings/__init__.py")}
    )
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise AdoptionError(
            f"cannot tell the Django package (settings found in: {found}): pass --data django_package=NAME"
        )
    return candidates[0]


def read_project(root: Path, package_answer: str | None) -> OwnerProject:
    package = find_package(root, package_answer)
    base = root / "src" / package
    if (base / "settings.py").is_file():
        project = OwnerProject(root, package, "module", {"single": f"{package}.settings"})
    elif (base / "settings" / "__init__.py").is_file():
        modules, helpers = {}, []
        for path in sorted((base / "settings").glob("*.py")):
            if path.stem == "__init__":
                continue
            name = f"{package}.settings.{path.stem}"
            if not is_settings_module(path):
                helpers.append(name)
                continue
            role = next((role for role, names in ROLES.items() if path.stem in names), path.stem)
            if role in modules:
                raise AdoptionError(f"both {modules[role]} and {name} look like the {role} settings: rename one")
            modules[role] = name
        if "base" not in modules:
            raise AdoptionError(f"src/{package}/settings/ has no base.py that the others build on")
        project = OwnerProject(root, package, "package", modules, helpers)
    else:
        raise AdoptionError(f"src/{package} has neither settings.py nor settings/")
    if (base / "celery.py").is_file():
        project.celery_module = f"{package}.celery"
    return project


def owner_python(root: Path, given: Path | None) -> Path | None:
    """The owner's own interpreter: --python, or a virtualenv in the repository."""
    if given:
        if not given.exists():
            raise AdoptionError(f"--python {given} does not exist")
        return given
    for name in (".venv", "venv", "env"):
        python = root / name / "bin" / "python"
        if python.exists():
            return python
    return None


def requirement_files(root: Path) -> list[Path]:
    return sorted([*root.glob("requirements/*.txt"), *root.glob("requirements*.txt")])


def development_requirements(root: Path) -> Path:
    """The file that installs everything the owner's tests need."""
    for name in (
        "requirements/development.txt",
        "requirements/dev.txt",
        "requirements/local.txt",
        "requirements/test.txt",
        "requirements-dev.txt",
        "requirements/base.txt",
        "requirements.txt",
    ):
        if (root / name).is_file():
            return root / name
    raise AdoptionError("found no requirements file (requirements/*.txt or requirements.txt)")


def settings_imports(src: Path, package: str) -> list[tuple[str, str]]:
    """(module, name) that the owner's code imports from its settings package
    (from obc_management.settings.constants import REGIONS): they must still
    import after adoption."""
    found = set()
    prefix = f"{package}.settings"

    def outside_settings(path: Path) -> bool:
        parts = path.relative_to(src).parts
        return "migrations" not in parts and parts[:2] != (package, "settings")

    for _, node in python_nodes(src, outside_settings):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == prefix or node.module.startswith(prefix + "."):
                found |= {(node.module, alias.name) for alias in node.names if alias.name != "*"}
    return sorted(found)


def python_nodes(src: Path, wanted: Callable[[Path], bool]) -> Iterator[tuple[Path, ast.AST]]:
    """(path, node) for every syntax node of the .py files under src that
    wanted(path) accepts; a file that does not parse is left out."""
    for path in sorted(src.rglob("*.py")):
        if not wanted(path):
            continue
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            yield path, node
