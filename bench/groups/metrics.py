"""What /metrics costs: the database page with the rendered production
settings, against the same settings without django-prometheus."""

from ..measure import CONNECTIONS, measure, measure_closing
from ..page import PAGE_ROWS
from ..report import Report
from ..servers import Stack
from ..stats import median, median_ratio, spread
from ..wrk import wrk

# The rendered production settings without django-prometheus (its two
# middlewares, database backend and cache backend).
WITHOUT_METRICS = """from .production import *  # noqa: F403
from .production import CACHES, DATABASES, MIDDLEWARE

MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("django_prometheus.")]
for _database in DATABASES.values():
    _database["ENGINE"] = _database["ENGINE"].replace("django_prometheus.db.", "django.db.")
for _cache in CACHES.values():
    if _cache["BACKEND"].startswith("django_prometheus."):
        _cache["BACKEND"] = "django.core.cache.backends.redis.RedisCache"
"""

LABELS = {"metrics": "rendered settings (django-prometheus)", "no-metrics": "the same without django-prometheus"}


def group_metrics(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    settings = next((project / "src").glob("*/settings"))
    (settings / "bench_without_metrics.py").write_text(WITHOUT_METRICS)
    page = "/bench/items/"
    # No worker recycling: the CPU time of a worker that exited is not counted.
    servers = [
        stack.gunicorn("metrics", project, venv, page, GUNICORN_MAX_REQUESTS="0").start(),
        stack.gunicorn(
            "no-metrics",
            project,
            venv,
            page,
            GUNICORN_MAX_REQUESTS="0",
            DJANGO_SETTINGS_MODULE=f"{settings.parent.name}.settings.bench_without_metrics",
        ).start(),
    ]
    token = stack.env(project, venv)["METRICS_TOKEN"]
    for server in servers:
        response = server.get()
        assert response.status == 200 and response.body.count(b"<tr>") == PAGE_ROWS, (server.name, response)
        response = server.get("/metrics", extra_headers={"Authorization": f"Bearer {token}"})
        counted = b'view="benchpage.views.items"' in response.body
        assert response.status == 200 and counted == (server.name == "metrics"), (server.name, response)
    results = measure(servers, args.rounds, args.seconds)
    closing = measure_closing(servers, ("metrics", "no-metrics"), args)
    # CPU time per request: what throughput shows on an idle machine, but
    # far less sensitive to what else runs on a shared one.
    # A cell that finished no request (a very short one on a busy machine) has no figure.
    cpu: dict[str, list[float | None]] = {server.name: [] for server in servers}
    for number in range(args.rounds):
        for server in servers[number % 2 :] + servers[: number % 2]:
            before = server.cpu_seconds()
            load = wrk(server, CONNECTIONS[0], args.seconds)
            used = server.cpu_seconds() - before
            cpu[server.name].append(used / (load.rps * args.seconds) if load.rps else None)
    stack.stop_servers()
    for title, measured in (
        ("/metrics' cost, database page", results),
        ("/metrics' cost, database page, a connection per request", closing),
    ):
        report.ratio_table(title, measured, [("with metrics / without", "metrics", "no-metrics", ">= 0.9")])
        report.context_table(title, measured, LABELS)
    ratio = median_ratio(cpu["no-metrics"], cpu["metrics"])
    figures = {name: [value for value in values if value is not None] for name, values in cpu.items()}
    report.add(
        "",
        f"#### /metrics' cost, database page: CPU time per request (c={CONNECTIONS[0]}, median of {args.rounds})",
        "",
        "| variant | CPU ms per request | spread |",
        "|---|---:|---:|",
        *(
            f"| {LABELS[name]} | {median(values) * 1000:.2f} | {spread(values):.0%} |"
            for name, values in figures.items()
            if values
        ),
        f"| ratio without / with (requests per CPU second, with / without) | {ratio:.2f} | |",
    )
