"""The facts copier.yml states once, for the tests and the stand-in images.

copier.yml's computed values (`when: false`: image names, the development
database, the Celery command, the owner's markers, ...) are what the
templates read; `computed_values()` works them out for given answers the
way a render does, so that nothing here repeats them.
"""

from functools import cache

import jinja2
import yaml

from .render import TEMPLATE_ROOT


@cache
def copier_config() -> dict:
    return yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())


def _typed(kind: str | None, value):
    if not isinstance(value, str):
        return value
    if kind == "int":
        return int(value)
    if kind == "bool":
        return value.strip().lower() in {"true", "yes", "on", "1", "y"}
    if kind == "yaml":
        return yaml.safe_load(value)
    return value


def computed_values(**answers) -> dict:
    """copier.yml's computed values for these answers (defaults for the
    rest), rendered in the order copier.yml gives them."""
    # The loader finds includes/ (macros that computed values import).
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, loader=jinja2.FileSystemLoader(TEMPLATE_ROOT))
    context, computed = {}, {}
    for name, entry in copier_config().items():
        if name.startswith("_") or not isinstance(entry, dict):
            continue
        is_computed = entry.get("when") is False
        if name in answers and not is_computed:
            context[name] = answers[name]
            continue
        value = entry.get("default")
        if isinstance(value, str):
            value = environment.from_string(value).render(context)
        context[name] = _typed(entry.get("type"), value)
        if is_computed:
            computed[name] = context[name]
    return computed


def images(**answers) -> dict[str, str]:
    """The images a render with these answers may name: copier.yml's
    computed values called *_image, by name."""
    return {name: value for name, value in computed_values(**answers).items() if name.endswith("_image")}


def owner_markers() -> dict[str, str]:
    """The lines that open the owner's parts of the shared files (plain
    strings, so tools read them from copier.yml without rendering)."""
    return dict(copier_config()["owner_markers"]["default"])
