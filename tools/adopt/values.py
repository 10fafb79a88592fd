"""Settings' values as the probe encodes them, written back as Python."""

import json
from pathlib import Path


class Unwritable(Exception):
    """A value that has no Python literal form (an object, a function)."""


class Writer:
    """Writes encoded values as Python source; collects the imports it needs."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.imports: set[str] = set()

    def source(self, value) -> str:
        if value is None or isinstance(value, bool | int | float):
            return repr(value)
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, list):
            return "[" + ", ".join(self.source(item) for item in value) + "]"
        (kind, inner), *rest = value.items()
        if kind == "tuple":
            items = [self.source(item) for item in inner]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if kind == "dict":
            return "{" + ", ".join(f"{json.dumps(key)}: {self.source(item)}" for key, item in inner.items()) + "}"
        if kind == "pairs":
            return "{" + ", ".join(f"{self.source(key)}: {self.source(item)}" for key, item in inner) + "}"
        if kind == "set":
            return "{" + ", ".join(self.source(item) for item in inner) + "}" if inner else "set()"
        if kind == "path":
            return self.path(Path(inner))
        if kind == "timedelta":
            self.imports.add("from datetime import timedelta")
            return timedelta_source(inner)
        if kind == "crontab":
            self.imports.add("from celery.schedules import crontab")
            fields = [f"{name}={json.dumps(text)}" for name, text in inner.items() if text != "*"]
            return f"crontab({', '.join(fields)})"
        if kind == "regex":
            self.imports.add("import re")
            return f"re.compile({inner!r})"
        raise Unwritable(value.get("repr") or value.get("object") or str(value))

    def path(self, path: Path) -> str:
        for expression, root in (("BASE_DIR", self.base_dir), ("BASE_DIR.parent", self.base_dir.parent)):
            if path == root:
                return expression
            if path.is_relative_to(root):
                return f"{expression} / {json.dumps(path.relative_to(root).as_posix())}"
        self.imports.add("from pathlib import Path")
        return f"Path({json.dumps(str(path))})"


def timedelta_source(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds and seconds % size == 0:
            return f"timedelta({unit}={int(seconds // size)})"
    return f"timedelta(seconds={int(seconds) if float(seconds).is_integer() else seconds})"


def brief(value, width: int = 60) -> str:
    """A short human form of an encoded value, for the before/after table."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return f"{len(value)} entries"
    if isinstance(value, dict):
        kind, inner = next(iter(value.items()))
        if kind in ("dict", "pairs", "tuple", "set"):
            return f"{len(inner)} entries" if kind != "tuple" else f"{len(inner)} entries"
        if kind == "path":
            return inner if len(inner) <= width else "..." + inner[-width + 3 :]
        if kind == "timedelta":
            return timedelta_source(inner)
        text = str(inner)
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
