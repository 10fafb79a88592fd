"""Carrying the owner's celery.py: the template's celery.py replaces it, and
what the owner's did besides making the app goes into celery_hooks.py, which
the template's celery.py imports last: signal handlers, tasks defined on the
app (under their old names, so that queued and scheduled ones still run),
changes to app.conf. Its beat schedule goes into the settings' schedule (the
caller takes it from the evaluated app), where the template's entries are.
"""

import ast

from .pysource import segment

# What the template's celery.py does already.
TEMPLATE_DOES = ("config_from_object", "autodiscover_tasks", "DJANGO_SETTINGS_MODULE")


def app_names(tree: ast.Module) -> set[str]:
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", getattr(node.value.func, "attr", "")) == "Celery"
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def is_template_part(node: ast.stmt, source: str, apps: set[str]) -> bool:
    text = ast.get_source_segment(source, node)
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in apps for t in node.targets):
        return True
    if "beat_schedule" in text and not isinstance(node, ast.FunctionDef):
        return True
    return any(part in text for part in TEMPLATE_DOES) and not isinstance(node, ast.FunctionDef | ast.ClassDef)


def named_task(source: str, node: ast.FunctionDef, apps: set[str], module: str) -> str:
    """The function's text, its `@app.task` given the name the task had."""
    text = segment(source, node)
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if not (isinstance(target, ast.Attribute) and target.attr in ("task", "shared_task")):
            continue
        if not (isinstance(target.value, ast.Name) and target.value.id in apps):
            continue
        if isinstance(decorator, ast.Call) and any(keyword.arg == "name" for keyword in decorator.keywords):
            continue
        old = ast.get_source_segment(source, decorator)
        name = f'name="{module}.{node.name}"'
        new = (
            f"{old[:-1]}, {name})"
            if isinstance(decorator, ast.Call) and (decorator.args or decorator.keywords)
            else (f"{old[:-2]}({name})" if isinstance(decorator, ast.Call) else f"{old}({name})")
        )
        text = text.replace("@" + old, "@" + new, 1)
    return text


def hooks(source: str, package: str) -> tuple[list[str], list[str], list[str]]:
    """(imports, statements, notes) of the owner's celery.py that are not the template's."""
    tree = ast.parse(source)
    apps = app_names(tree) or {"app"}
    module = f"{package}.celery"
    kept, imports, notes = [], [], []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]:
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
            continue
        if is_template_part(node, source, apps):
            continue
        if isinstance(node, ast.FunctionDef):
            kept.append(named_task(source, node, apps, module))
        else:
            kept.append(segment(source, node))
    if not kept:
        return [], [], notes
    used = {child.id for text in kept for child in ast.walk(ast.parse(text)) if isinstance(child, ast.Name)}
    lines = []
    for node in imports:
        for alias in node.names:
            if (alias.asname or alias.name).split(".")[0] in used:
                single = (
                    ast.ImportFrom(module=node.module, names=[alias], level=node.level)
                    if isinstance(node, ast.ImportFrom)
                    else ast.Import(names=[alias])
                )
                lines.append(ast.unparse(single))
    for name in sorted(apps & used):
        lines.append(f"from {package}.celery import app" + (f" as {name}" if name != "app" else ""))
    notes.append(f"celery.py: {len(kept)} statement(s) carried into celery_hooks.py")
    return lines, kept, notes
