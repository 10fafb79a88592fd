"""The facts copier.yml states once, for the tests and the stand-in images.

copier.yml's computed values (`when: false`: image names, the development
database, the Celery command, the owner's markers, ...) are what the
templates read; `computed_values()` works them out for given answers the
way a render does, so that nothing here repeats them.
"""

import copy
from functools import cache

import jinja2
import yaml

from .render import TEMPLATE_ROOT


@cache
def copier_config() -> dict:
    return yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())


@cache
def _parsed_yaml(text: str):
    return yaml.safe_load(text)


def _typed(kind: str | None, value):
    if not isinstance(value, str):
        return value
    if kind == "int":
        return int(value)
    if kind == "bool":
        return value.strip().lower() in {"true", "yes", "on", "1", "y"}
    if kind == "yaml":
        return copy.deepcopy(_parsed_yaml(value))
    return value


@cache
def _template(source: str) -> jinja2.Template:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, loader=jinja2.FileSystemLoader(TEMPLATE_ROOT))
    return environment.from_string(source)


def render_value(source: str, context: dict) -> str:
    """A default or validator of copier.yml, rendered as Copier would."""
    return _template(source).render(context)


def answer_context(**answers) -> dict:
    """Every question and computed value of copier.yml for these answers
    (defaults for the rest), rendered in the order copier.yml gives them."""
    context = {}
    for name, entry in copier_config().items():
        if name.startswith("_") or not isinstance(entry, dict):
            continue
        if name in answers and entry.get("when") is not False:
            context[name] = answers[name]
            continue
        value = entry.get("default")
        if isinstance(value, str) and "{" in value:
            value = render_value(value, context)
        context[name] = _typed(entry.get("type"), value)
    return context


def computed_values(**answers) -> dict:
    """copier.yml's computed values for these answers (defaults for the
    rest), rendered in the order copier.yml gives them."""
    context = answer_context(**answers)
    return {name: context[name] for name, entry in copier_config().items() if _is_computed(entry)}


def _is_computed(entry) -> bool:
    return isinstance(entry, dict) and entry.get("when") is False


def images(**answers) -> dict[str, str]:
    """The images a render with these answers may name: copier.yml's
    computed values called *_image, by name."""
    return {name: value for name, value in computed_values(**answers).items() if name.endswith("_image")}


def owner_markers() -> dict[str, str]:
    """The lines that open the owner's parts of the shared files (plain
    strings, so tools read them from copier.yml without rendering)."""
    return dict(copier_config()["owner_markers"]["default"])
