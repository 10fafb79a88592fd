"""Carrying the owner's settings into the adopted settings modules.

For one settings module of the owner and the adopted module it maps to, it
compares the evaluated values and writes, for each difference the template
does not decide (governed.py), Python that makes the adopted value keep the
owner's: list items placed where they were relative to the template's,
missing dict entries, or the whole setting. A setting whose value was read
from the environment is carried as the owner's statements (with what they
need, such as `env = environ.Env()`), so that it still is; one whose value
has no literal form (an object) likewise. What it cannot carry, it returns
as a loss.
"""

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import markers
from .compare import key
from .governed import ADDITIVE, GOVERNED
from .pysource import Statement, needed, statements
from .values import Unwritable, Writer

# Lists whose appended items go into the template's marked list of base.py.
MARKED_LISTS = {"INSTALLED_APPS": markers.APPS}
BEAT = "CELERY_BEAT_SCHEDULE"
MARKED_BEAT = markers.BEAT_SCHEDULE


@dataclass
class Carried:
    """What carrying one module produced."""

    marked: dict[str, list[str]] = field(default_factory=dict)  # marked list opening -> lines
    imports: list[str] = field(default_factory=list)
    block: list[str] = field(default_factory=list)  # statements for the end of the file
    notes: dict[str, str] = field(default_factory=dict)  # setting -> how it was carried
    losses: dict[str, str] = field(default_factory=dict)  # setting -> why it was not


def placement(template: list, owner: list) -> tuple[list, list[tuple[object, object]], list[tuple[object, object]]]:
    """Where the owner's items go in the template's list, keeping their order:
    (appended at the end, [(item, the item it goes before)], order conflicts)."""
    keys = [key(item) for item in template]
    shared = [item for item in owner if key(item) in keys]
    conflicts = [
        (first, second)
        for first, second in zip(shared, shared[1:], strict=False)
        if keys.index(key(first)) > keys.index(key(second))
    ]
    appended, inserted = [], []
    for index, item in enumerate(owner):
        if key(item) in keys:
            continue
        following = next((other for other in owner[index + 1 :] if key(other) in keys), None)
        if following is None:
            appended.append(item)
        else:
            inserted.append((item, following))
    return appended, inserted, conflicts


class SettingsCarrier:
    def __init__(self, writer: Writer, owner_sources: list[tuple[Path, str]], env_reads: list, destination: str):
        """owner_sources: the owner's module and the modules it star-imports,
        (path, text), the module itself first; destination: the adopted
        module's source text (for the names it already defines)."""
        self.writer = writer
        self.carried = Carried()
        self.pool: list[Statement] = []
        for path, text in owner_sources:
            lines = {line for file, line, _ in env_reads if Path(file) == path}
            self.pool += statements(text, lines)
        self.destination_names = {name for statement in statements(destination) for name in statement.defines}
        self.destination_imports = {
            statement.text.strip() for statement in statements(destination) if statement.is_import
        }

    # -- the three ways of carrying ------------------------------------------------

    def value(self, expression: str, value) -> str:
        return f"{expression} = {self.writer.source(value)}"

    def by_source(self, name: str, owner_settings: dict, template_settings: dict) -> list[Statement] | None:
        """The owner's statements that set `name`, with what they need; None
        when they cannot stand on their own in the adopted module."""
        own = []
        for statement in self.pool:
            if name not in statement.defines:
                continue
            if statement.is_simple:
                own.append(statement)
                continue
            # In an if/try block: the statement that ran and read the environment.
            ran = [inner for inner in statement.inner if name in inner.defines]
            if len(ran) != 1:
                return None
            own.append(ran[0])
        if not own:
            return None
        deps = needed(own, self.pool, self.destination_names - self.conflicting(owner_settings, template_settings))
        for statement in deps:
            clash = statement.defines & self.destination_names
            if clash and not (statement.is_import and statement.text.strip() in self.destination_imports):
                return None
        return [*deps, *own]

    def conflicting(self, owner_settings: dict, template_settings: dict) -> set[str]:
        return {
            name
            for name in self.destination_names
            if name in owner_settings
            and name in template_settings
            and key(owner_settings[name]) != key(template_settings[name])
        }

    def take_statements(self, chosen: list[Statement], setting: str | None = None) -> None:
        for statement in chosen:
            text = statement.text.strip("\n")
            if statement.is_import:
                if setting in statement.defines:
                    text += "  # noqa: F401  (settings)"
                if text not in self.carried.imports:
                    self.carried.imports.append(text)
            elif text not in self.carried.block:
                self.carried.block.append(text)

    # -- one setting -----------------------------------------------------------------

    def carry(self, name: str, owner, current, owner_settings: dict, template_settings: dict, marked: bool) -> None:
        if name in GOVERNED:
            return
        reads_env = any(name in statement.defines and statement.reads_env for statement in self.pool)
        imported = any(name in statement.defines and statement.is_import for statement in self.pool)
        if imported and current is None:
            chosen = self.by_source(name, owner_settings, template_settings)
            if chosen:
                self.take_statements(chosen, setting=name)
                self.carried.notes[name] = "your import of it"
                return
        try:
            if current is None or reads_env and name not in ADDITIVE:
                self.whole(name, owner, owner_settings, template_settings, reads_env)
            elif name == BEAT and marked:
                self.beat(owner, current)
            else:
                self.patch(name, name, owner, current, marked, depth=0, additive=ADDITIVE.get(name))
        except Unwritable as error:
            self.carried.losses[name] = f"its value has no literal form ({error}) and its statements need others"

    def whole(self, name: str, owner, owner_settings: dict, template_settings: dict, reads_env: bool) -> None:
        own = [statement for statement in self.pool if name in statement.defines]
        if len(own) == 1 and isinstance(own[0].node, ast.Assign) and not reads_env:
            # One plain assignment: the owner's own words (8 * 3600, BASE_DIR / "static", comments).
            chosen = self.by_source(name, owner_settings, template_settings)
            if chosen:
                self.take_statements(chosen)
                self.carried.notes[name] = "your statement"
                return
        if reads_env:
            chosen = self.by_source(name, owner_settings, template_settings)
            if chosen:
                self.take_statements(chosen)
                self.carried.notes[name] = "your statements (it reads the environment)"
                return
        try:
            self.carried.block.append(self.value(name, owner))
            self.carried.notes[name] = "as evaluated" + (" (its condition read the environment)" if reads_env else "")
        except Unwritable:
            chosen = self.by_source(name, owner_settings, template_settings)
            if not chosen:
                raise
            self.take_statements(chosen)
            self.carried.notes[name] = "your statements (its value is an object)"

    def patch(self, name: str, expression: str, owner, current, marked: bool, depth: int, additive: int | None) -> None:
        if key(owner) == key(current):
            return
        if isinstance(owner, list) and isinstance(current, list):
            self.place(name, expression, owner, current, marked)
        elif isinstance(owner, dict) and isinstance(current, dict) and "dict" in owner and "dict" in current:
            for entry, value in owner["dict"].items():
                inner = f"{expression}[{json.dumps(entry)}]"
                if entry not in current["dict"]:
                    self.carried.block.append(self.value(inner, value))
                    self.carried.notes.setdefault(name, "entries added")
                elif additive is None or depth + 1 < additive:
                    self.patch(name, inner, value, current["dict"][entry], False, depth + 1, additive)
        elif additive is not None and depth >= additive:
            return
        else:
            self.carried.block.append(self.value(expression, owner))
            self.carried.notes.setdefault(name, "replaced")

    def place(self, name: str, expression: str, owner: list, current: list, marked: bool) -> None:
        if owner and all(isinstance(item, dict) for item in owner) and len(owner) == len(current):
            for index, (mine, theirs) in enumerate(zip(owner, current, strict=True)):
                self.patch(name, f"{expression}[{index}]", mine, theirs, False, 1, None)
            return
        appended, inserted, conflicts = placement(current, owner)
        if conflicts:
            pairs = "; ".join(f"{json.dumps(a)} before {json.dumps(b)}" for a, b in conflicts)
            self.carried.losses[name] = f"your order ({pairs}) is the reverse of the template's"
            return
        for item, following in inserted:
            index = f"{expression}.index({self.writer.source(following)})"
            self.carried.block.append(f"{expression}.insert({index}, {self.writer.source(item)})")
        if appended:
            opening = MARKED_LISTS.get(name) if marked and expression == name else None
            if opening:
                self.carried.marked.setdefault(opening, []).extend(
                    f"    {self.writer.source(item)}," for item in appended
                )
            else:
                items = ", ".join(self.writer.source(item) for item in appended)
                self.carried.block.append(f"{expression} += [{items}]")
        if inserted or appended:
            self.carried.notes.setdefault(name, "your entries added in your order")

    def beat(self, owner, current) -> None:
        entries = owner["dict"] if isinstance(owner, dict) and "dict" in owner else {}
        theirs = current["dict"] if isinstance(current, dict) and "dict" in current else {}
        lines = [
            f"    {json.dumps(entry)}: {self.writer.source(value)},"
            for entry, value in entries.items()
            if key(theirs.get(entry)) != key(value)
        ]
        if lines:
            self.carried.marked.setdefault(MARKED_BEAT, []).extend(lines)
            self.carried.notes[BEAT] = "your entries added"


def carry_module(
    carrier: SettingsCarrier, owner_settings: dict, current_settings: dict, marked: bool, defaults_differ: set[str]
) -> Carried:
    """Everything the owner's module sets that the adopted one does not keep;
    defaults_differ: settings that agree with the environment's values but
    not without them (both read a variable, with different defaults)."""
    for name, owner in owner_settings.items():
        current = current_settings.get(name)
        if name in GOVERNED or key(current) == key(owner) and name not in defaults_differ:
            continue
        carrier.carry(name, owner, current, owner_settings, current_settings, marked)
    return carrier.carried
