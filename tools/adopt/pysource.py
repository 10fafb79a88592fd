"""Reading and editing Python source: which statements define which names,
the statements a name needs, and the places in the template's files where
the owner's lines go."""

import ast
import builtins
import textwrap
from dataclasses import dataclass, field

from . import AdoptionError

BUILTINS = set(dir(builtins)) | {"__file__", "__name__"}


@dataclass
class Statement:
    node: ast.stmt
    text: str
    defines: set[str]
    uses: set[str]
    reads_env: bool = False
    # For if/try blocks: the plain statements inside that read the environment
    # (so ran, in the branch taken), each as if it stood at the top level.
    inner: list["Statement"] = field(default_factory=list)

    @property
    def is_import(self) -> bool:
        return isinstance(self.node, ast.Import | ast.ImportFrom)

    @property
    def is_simple(self) -> bool:
        return not isinstance(self.node, ast.If | ast.Try | ast.For | ast.While | ast.With | ast.Match)


def defined_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds or changes in place (X = , X += ,
    X[...] = , X.append(...), imports, def, class), also inside if/try blocks."""
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, ast.Subscript | ast.Attribute) and isinstance(child.ctx, ast.Store | ast.Del):
            base = child
            while isinstance(base, ast.Subscript | ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
        elif isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
            if isinstance(child.func.value, ast.Name) and child.func.attr in MUTATORS:
                names.add(child.func.value.id)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in child.names if alias.name != "*"}
        elif isinstance(child, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef) and child is node:
            names.add(child.name)
    return names


MUTATORS = {"append", "extend", "insert", "remove", "update", "pop", "setdefault", "clear", "discard", "add"}


def used_names(node: ast.stmt) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)}


def statements(source: str, env_lines: set[int] = frozenset()) -> list[Statement]:
    tree = ast.parse(source)
    found = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # the docstring
        found.append(statement(source, node, env_lines))
    return found


def statement(source: str, node: ast.stmt, env_lines: set[int]) -> Statement:
    lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
    found = Statement(
        node=node,
        text=textwrap.dedent(segment(source, node)),
        defines=defined_names(node),
        uses=used_names(node) - BUILTINS,
        reads_env=any(line in env_lines for line in lines),
    )
    if found.reads_env and isinstance(node, ast.If | ast.Try):
        for child in ast.walk(node):
            if child is not node and isinstance(child, ast.Assign | ast.AugAssign | ast.AnnAssign):
                inner = statement(source, child, env_lines)
                if inner.reads_env:
                    found.inner.append(inner)
    return found


def segment(source: str, node: ast.stmt, comments: bool = True) -> str:
    """A top-level statement's lines, its decorators and (by default) the
    comment lines right above it included."""
    lines = source.splitlines(keepends=True)
    start = min([node.lineno, *(decorator.lineno for decorator in getattr(node, "decorator_list", []))]) - 1
    while comments and start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return "".join(lines[start : node.end_lineno]).rstrip("\n")


def leading_comments(source: str, node: ast.stmt) -> str:
    """The comment lines right above a statement: they say why it is there."""
    lines = source.splitlines(keepends=True)
    start = node.lineno - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return "".join(lines[start : node.lineno - 1])


def needed(name_statements: list[Statement], pool: list[Statement], available: set[str]) -> list[Statement]:
    """The statements of `pool` that define what `name_statements` use and
    `available` lacks, recursively, in source order."""
    wanted, chosen = set(), []
    todo = [name for statement in name_statements for name in statement.uses]
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen or name in available:
            continue
        seen.add(name)
        for statement in pool:
            if name in statement.defines and id(statement) not in wanted and statement not in name_statements:
                wanted.add(id(statement))
                chosen.append(statement)
                todo += list(statement.uses)
    return [statement for statement in pool if id(statement) in wanted]


def insert_before_closing(text: str, opening: str, new_lines: list[str], closing: str = "]") -> str:
    """Insert lines before the `closing` line of the block opened by the line `opening`."""
    lines = text.splitlines(keepends=True)
    try:
        start = next(number for number, line in enumerate(lines) if line.rstrip("\n") == opening)
        end = next(number for number in range(start, len(lines)) if lines[number].rstrip("\n") == closing)
    except StopIteration:
        raise AdoptionError(f"the rendered file has no `{opening}` block: adopt release v0.2.0 or later") from None
    lines[end:end] = [line if line.endswith("\n") else line + "\n" for line in new_lines]
    return "".join(lines)


def add_imports(text: str, imports: list[str]) -> str:
    """Import lines after the file's last top-level import (ruff's isort then
    puts them in order); those the file already has are left out."""
    tree = ast.parse(text)
    have = {ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
    new = [line for line in dict.fromkeys(imports) if ast.unparse(ast.parse(line).body[0]) not in have]
    if not new:
        return text
    last = max((node.end_lineno for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)), default=0)
    if not last:
        docstring = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
        last = docstring.end_lineno if docstring else 0
    lines = text.splitlines(keepends=True)
    lines[last:last] = [line.rstrip("\n") + "\n" for line in new]
    return "".join(lines)


def append_block(text: str, header: str, body: list[str]) -> str:
    if not body:
        return text
    return (
        text.rstrip("\n") + "\n\n" + header.rstrip("\n") + "\n" + "\n".join(line.rstrip("\n") for line in body) + "\n"
    )
