"""Run by tools/adopt with a project's own Python: imports one settings module
the way Django would, with the environment it is given, and prints as JSON
what it holds: its settings, where it read the environment, the paths its
URLconf answers and the views they reach, and its Celery app's tasks, beat
schedule and signal handlers.

Standard library only (besides the project's Django and Celery): it runs in
the owner's virtualenv as well as in the adopted project's.

    python probe.py '{"src": ..., "settings": "pkg.settings", ...}'
"""

import datetime
import importlib
import json
import os
import pathlib
import re
import sys
import traceback
import weakref

try:
    from re import _parser as sre_parse
except ImportError:  # Python before 3.11
    import sre_parse

MARKER = "\0adopt-probe\0"


def encode(value, depth=0):
    """A JSON form of a setting's value that keeps what comparison and
    writing it back as Python need."""
    if depth > 20:
        return {"repr": "..."}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [encode(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(item, depth + 1) for item in value]}
    if isinstance(value, set | frozenset):
        return {"set": sorted((encode(item, depth + 1) for item in value), key=json.dumps)}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {"dict": {key: encode(item, depth + 1) for key, item in value.items()}}
        return {"pairs": [[encode(key, depth + 1), encode(item, depth + 1)] for key, item in value.items()]}
    if isinstance(value, pathlib.PurePath):
        return {"path": str(value)}
    if isinstance(value, datetime.timedelta):
        return {"timedelta": value.total_seconds()}
    kind = type(value)
    if kind.__name__ == "crontab" and hasattr(value, "_orig_minute"):
        fields = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
        return {"crontab": {field: str(getattr(value, "_orig_" + field)) for field in fields}}
    if kind.__name__ == "schedule" and hasattr(value, "run_every"):
        return {"timedelta": value.run_every.total_seconds()}
    name = getattr(value, "__qualname__", None) if isinstance(value, type) or callable(value) else None
    if isinstance(name, str):
        return {"object": f"{getattr(value, '__module__', '?')}.{name}"}
    if isinstance(value, re.Pattern):
        return {"regex": value.pattern}
    try:
        text = re.sub(r" at 0x[0-9a-f]+", "", repr(value))
    except Exception:  # noqa: BLE001 - some objects cannot even say what they are
        text = "?"
    return {"repr": text, "type": f"{kind.__module__}.{kind.__qualname__}"}


class EnvReads:
    """Records which lines of the traced files read which environment variables."""

    def __init__(self, files):
        self.files = {os.path.realpath(path) for path in files}
        self.reads = []
        self.original = os._Environ.__getitem__

    def install(self):
        reads, files, original = self.reads, self.files, self.original

        def getitem(environ, key):
            frame = sys._getframe(1)
            while frame is not None:
                code = frame.f_code
                if code.co_name == "<module>" and os.path.realpath(code.co_filename) in files:
                    reads.append([os.path.realpath(code.co_filename), frame.f_lineno, key])
                    break
                frame = frame.f_back
            return original(environ, key)

        os._Environ.__getitem__ = getitem

    def remove(self):
        os._Environ.__getitem__ = self.original


def sample(regex):
    """A path that the regular expression matches, or None."""
    try:
        parsed = sre_parse.parse(regex)
    except Exception:  # noqa: BLE001 - an unusual pattern is reported, not fatal
        return None
    text = emit(parsed)
    return text if text is not None and re.search(regex, text) else None


def category_char(category):
    name = str(category).upper()
    if "NOT_DIGIT" in name or "NOT_SPACE" in name:
        return "a"
    if "NOT_WORD" in name:
        return "-"
    if "DIGIT" in name:
        return "1"
    if "SPACE" in name:
        return " "
    return "a"


def in_set(char, items):
    for op, av in items:
        name = str(op).upper()
        if name == "LITERAL" and chr(av) == char:
            return True
        if name == "RANGE" and av[0] <= ord(char) <= av[1]:
            return True
        if name == "CATEGORY" and re.fullmatch(sre_category(av), char):
            return True
    return False


def sre_category(category):
    name = str(category).upper()
    for key, pattern in (
        ("NOT_DIGIT", r"\D"),
        ("NOT_WORD", r"\W"),
        ("NOT_SPACE", r"\S"),
        ("DIGIT", r"\d"),
        ("WORD", r"\w"),
        ("SPACE", r"\s"),
    ):
        if key in name:
            return pattern
    return r"."


def pick(items):
    if items and str(items[0][0]).upper() == "NEGATE":
        rest = items[1:]
        return next((char for char in "a1x_-~" if not in_set(char, rest)), None)
    for char in "a1x_-":
        if in_set(char, items):
            return char
    op, av = items[0]
    name = str(op).upper()
    if name == "LITERAL":
        return chr(av)
    if name == "RANGE":
        return chr(av[0])
    if name == "CATEGORY":
        return category_char(av)
    return None


def emit(items):
    out = []
    for op, av in items:
        name = str(op).upper()
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(av) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            char = pick(av)
            if char is None:
                return None
            out.append(char)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _, sub = av
            part = emit(sub)
            if part is None:
                return None
            out.append(part * low)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            part = emit(av[-1])
            if part is None:
                return None
            out.append(part)
        elif name == "BRANCH":
            part = emit(av[1][0])
            if part is None:
                return None
            out.append(part)
        elif name == "CATEGORY":
            out.append(category_char(av))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            return None
    return "".join(out)


def view_of(match):
    return {"view": match._func_path, "name": match.view_name}


def route_samples():
    """One sample path per URL pattern, with the top-level entry it came from."""
    from django.urls import URLResolver, get_resolver

    found = []

    def walk(patterns, prefix, top):
        for index, pattern in enumerate(patterns):
            here = top if top is not None else index
            part = sample(pattern.pattern.regex.pattern)
            if part is None:
                found.append({"path": None, "pattern": prefix + str(pattern.pattern), "top": here})
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + part, here)
            else:
                found.append({"path": "/" + prefix + part, "pattern": prefix + str(pattern.pattern), "top": here})

    walk(get_resolver().url_patterns, "", None)
    return found


def resolve_all(paths):
    from django.urls import Resolver404, resolve

    answers = {}
    for path in paths:
        try:
            answers[path] = view_of(resolve(path))
        except Resolver404:
            answers[path] = None
    return answers


def celery_facts(module_name):
    from celery import Celery, signals
    from celery.utils.dispatch import Signal

    module = importlib.import_module(module_name)
    apps = [value for value in vars(module).values() if isinstance(value, Celery)]
    if not apps:
        return None
    app = apps[0]
    app.loader.import_default_modules()
    schedule = encode({name: dict(entry) for name, entry in (app.conf.beat_schedule or {}).items()})
    handlers = {}
    for name, signal in vars(signals).items():
        if not isinstance(signal, Signal):
            continue
        for _, receiver in signal.receivers:
            function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
            module_of = getattr(function, "__module__", "") or ""
            qualname = getattr(function, "__qualname__", None)
            if not isinstance(qualname, str) or module_of.split(".")[0] in (
                "celery",
                "kombu",
                "django",
                "billiard",
                "vine",
            ):
                continue
            handlers.setdefault(name, []).append(f"{module_of}.{qualname}")
    return {
        "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
        "beat_schedule": schedule,
        "signals": handlers,
    }


def probe(request):
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["DJANGO_SETTINGS_MODULE"] = request["settings"]
    sys.path.insert(0, request["src"])
    os.chdir(request["src"])
    reads = EnvReads(request.get("trace", []))
    reads.install()
    try:
        module = importlib.import_module(request["settings"])
    finally:
        reads.remove()
    settings = {name: encode(value) for name, value in vars(module).items() if name.isupper()}
    result = {"settings": settings, "env_reads": reads.reads, "file": getattr(module, "__file__", None)}

    import django

    django.setup()
    for name in request.get("imports", []):
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - reported as a loss
            result.setdefault("import_errors", {})[name] = f"{type(error).__name__}: {error}"
    for module, name in request.get("names", []):
        try:
            getattr(importlib.import_module(module), name)
        except Exception as error:  # noqa: BLE001 - reported as a loss
            result.setdefault("import_errors", {})[f"{module}.{name}"] = f"{type(error).__name__}: {error}"
    if request.get("urls"):
        routes = route_samples()
        paths = [route["path"] for route in routes if route["path"]] + request["paths"]
        result["routes"] = routes
        result["resolved"] = resolve_all(dict.fromkeys(paths))
    if request.get("celery"):
        result["celery"] = celery_facts(request["celery"])
    return result


def main():
    request = json.loads(sys.argv[1])
    try:
        result = probe(request)
    except BaseException as error:  # noqa: BLE001 - the caller reports it in one line
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        result = {"error": f"{type(error).__name__}: {error}".splitlines()[0], "traceback": "".join(lines)}
    sys.stdout.write(MARKER + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
