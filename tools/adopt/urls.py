"""Carrying the owner's urls.py into the template's.

Everything the owner's module does is kept, in its order: its imports (one
that nothing uses is imported for its side effects and stays, marked so for
ruff), its module-level statements (routers and what is registered on them,
names such as `admin_url = env(...)`, admin site titles, handler404), and its
routes, which go into the template's marked list. Routes that the
template's own routes would answer first go in front of them. Two things are
the template's: the admin at "admin/" (an admin route of the owner's at
another path replaces the template's), and serving static and media files
under `if settings.DEBUG:` (WhiteNoise and the protected media view do it).
"""

import ast
from dataclasses import dataclass, field

from . import markers
from .pysource import BUILTINS, insert_before_closing, segment

OWNER_ROUTES = markers.ROUTES
TEMPLATE_ADMIN_ROUTE = '    path("admin/", admin.site.urls),\n'
STATIC_HELPERS = {"static", "staticfiles_urlpatterns"}


@dataclass
class Route:
    source: str
    index: int  # its place among the owner's top-level routes
    admin: bool = False


@dataclass
class UrlsPlan:
    imports: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)  # if blocks, after the routes
    spaced: list[bool] = field(default_factory=list)  # a blank line above each statement
    notes: list[str] = field(default_factory=list)
    keeps_admin: bool = False


def route_expressions(node: ast.expr, source: str) -> list[tuple[str, str]]:
    """The entries of a urlpatterns value, (with the comments above, alone):
    list items, and *expr for the rest."""
    if isinstance(node, ast.List):
        lines = source.splitlines()
        found = []
        for element in node.elts:
            above, start = [], element.lineno - 1
            while start > 0 and lines[start - 1].strip().startswith("#"):
                start -= 1
                above.insert(0, lines[start].strip())
            text = ast.get_source_segment(source, element)
            found.append(("\n    ".join([*above, text]), text))
        return found
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return route_expressions(node.left, source) + route_expressions(node.right, source)
    text = f"*{ast.get_source_segment(source, node)}"
    return [(text, text)]


def assigns_urlpatterns(node: ast.stmt) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return any(isinstance(target, ast.Name) and target.id == "urlpatterns" for target in targets)


def only_static(node: ast.If) -> bool:
    """An `if settings.DEBUG:` block that only serves static or media files."""
    for statement in node.body:
        calls = [child for child in ast.walk(statement) if isinstance(child, ast.Call)]
        names = {call.func.id for call in calls if isinstance(call.func, ast.Name)}
        if not (names & STATIC_HELPERS and assigns_urlpatterns(statement)):
            return False
    return not node.orelse


def blank_line_above(source: str, node: ast.stmt) -> bool:
    """Whether a blank line separates the statement (and its comments) from the one above."""
    lines = source.splitlines()
    start = min([node.lineno, *(decorator.lineno for decorator in getattr(node, "decorator_list", []))]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return start > 0 and not lines[start - 1].strip()


def plan(source: str) -> UrlsPlan:
    tree = ast.parse(source)
    result = UrlsPlan()
    imports = []
    kept_nodes: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]:
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif isinstance(node, ast.Assign | ast.AugAssign) and assigns_urlpatterns(node):
            for text, expression in route_expressions(node.value, source):
                admin = "admin.site.urls" in expression
                if admin and expression.split(",")[0].strip() in ('path("admin/"', "path('admin/'"):
                    result.notes.append(f"route `{expression}` is the template's")
                    continue
                result.keeps_admin |= admin
                result.routes.append(Route(text, len(result.routes), admin))
                kept_nodes.append(ast.parse(expression.lstrip("*"), mode="eval"))
        elif isinstance(node, ast.If) and "urlpatterns" in ast.unparse(node):
            first = ast.get_source_segment(source, node).splitlines()[0]
            if only_static(node):
                result.notes.append(f"`{first}` (static and media files) is the template's: WhiteNoise and /media/")
            else:
                result.tail.append(segment(source, node))
                kept_nodes.append(node)
        else:
            result.statements.append(segment(source, node))
            result.spaced.append(blank_line_above(source, node))
            kept_nodes.append(node)

    used = {child.id for node in kept_nodes for child in ast.walk(node) if isinstance(child, ast.Name)} | {
        child.value.id
        for node in kept_nodes
        for child in ast.walk(node)
        if isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name)
    }
    everywhere = {child.id for child in ast.walk(tree) if isinstance(child, ast.Name)} - BUILTINS
    for node in imports:
        aliases = []
        for alias in node.names:
            bound = (alias.asname or alias.name).split(".")[0]
            if bound in used:
                aliases.append((alias, False))
            elif bound not in everywhere:
                aliases.append((alias, True))  # imported for its side effects
            else:
                result.notes.append(f"import of {alias.name} dropped: only the template's parts used it")
        for alias, side_effect in aliases:
            single = (
                ast.ImportFrom(module=node.module, names=[alias], level=node.level)
                if isinstance(node, ast.ImportFrom)
                else ast.Import(names=[alias])
            )
            line = ast.unparse(single)
            if side_effect:
                line += "  # noqa: F401  (imported for its side effects)"
            result.imports.append(line)
    return result


def merge(rendered: str, owner: UrlsPlan, early: set[int]) -> str:
    """The template's urls.py with the owner's parts; routes whose index is in
    `early` go in front of the template's routes."""
    text = rendered
    if owner.keeps_admin:
        text = text.replace(TEMPLATE_ADMIN_ROUTE, "", 1)
    lines = text.splitlines(keepends=True)
    marked = next(index for index, line in enumerate(lines) if line.rstrip("\n") == OWNER_ROUTES)
    comment = marked
    while comment > 0 and lines[comment - 1].startswith("#"):
        comment -= 1
    statements = [
        ("\n" if spaced and index else "") + text
        for index, (text, spaced) in enumerate(zip(owner.statements, owner.spaced, strict=True))
    ]
    first = [route for route in owner.routes if route.index in early]
    if first:
        body = "".join(f"    {route.source},\n" for route in first)
        statements.append(
            f"# Answered before the template's routes, which would take these paths.\nurlpatterns[:0] = [\n{body}]"
        )
    if statements:
        block = "\n".join(statement.rstrip("\n") for statement in statements)
        lines[comment:comment] = [block + "\n\n"]
    text = "".join(lines)
    rest = [f"    {route.source}," for route in owner.routes if route.index not in early]
    text = insert_before_closing(text, OWNER_ROUTES, rest)
    if owner.tail:
        text = text.rstrip("\n") + "\n\n" + "\n\n".join(block.rstrip("\n") for block in owner.tail) + "\n"
    return text
