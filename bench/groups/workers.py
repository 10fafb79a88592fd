"""Worker settings to choose the rendered defaults from, on the database
page, with keep-alive and with a connection per request."""

from ..measure import measure, measure_closing
from ..report import Report
from ..servers import Stack

# Worker settings to choose the rendered defaults from, on the database
# page; the first is compared with each of the others.
WORKER_VARIANTS = {
    "rendered": ("rendered defaults", {}),
    "sync-5": (
        "sync, 2 x CPUs + 1 = 5 workers, max_requests 1000 (the previous defaults)",
        {
            "GUNICORN_WORKER_CLASS": "sync",
            "GUNICORN_WORKERS": "5",
            "GUNICORN_THREADS": "1",
            "GUNICORN_MAX_REQUESTS": "1000",
        },
    ),
    "gthread-5x4": (
        "gthread, 5 workers x 4 threads",
        {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_WORKERS": "5", "GUNICORN_THREADS": "4"},
    ),
    "gthread-2x8": (
        "gthread, 2 workers x 8 threads",
        {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "8"},
    ),
    "recycle-1000": ("rendered defaults, max_requests 1000", {"GUNICORN_MAX_REQUESTS": "1000"}),
    "no-recycling": ("rendered defaults, max_requests 0", {"GUNICORN_MAX_REQUESTS": "0"}),
}

# As behind the rendered nginx (a connection per request): the rendered
# defaults against sync workers, whose strength that is.
CLOSING_WORKER_VARIANTS = ("rendered", "sync-5", "gthread-5x4")


def group_workers(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    servers = [
        stack.gunicorn(name, project, venv, "/bench/items/", **env).start()
        for name, (_, env) in WORKER_VARIANTS.items()
    ]
    results = measure(servers, args.rounds, args.seconds)
    closing = measure_closing(servers, CLOSING_WORKER_VARIANTS, args)
    stack.stop_servers()
    base = next(iter(WORKER_VARIANTS))
    for title, measured, names in (
        ("worker settings, database page", results, list(WORKER_VARIANTS)),
        ("worker settings, database page, a connection per request", closing, list(CLOSING_WORKER_VARIANTS)),
    ):
        report.ratio_table(title, measured, [(f"{name} / {base}", name, base, "") for name in names[1:]])
        report.context_table(title, measured, {name: WORKER_VARIANTS[name][0] for name in names})
