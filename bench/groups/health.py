"""/health/: the rendered gunicorn.conf.py against a raw WSGI app (the limit),
Django's request cycle, other gunicorn settings and cookiecutter-django's
command; with keep-alive, and with a connection per request."""

import json

from ..measure import measure, measure_closing
from ..page import gunicorn_conf
from ..report import Report
from ..servers import Stack


def group_health(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    raw_conf = gunicorn_conf(project, "raw", 'wsgi_app = "bench_raw:application"')
    django_conf = gunicorn_conf(project, "django", 'wsgi_app = "bench_django:application"')
    # What the rendered settings pay for their access log and their threads.
    quiet_conf = gunicorn_conf(project, "quiet", "accesslog = None")
    sync = {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_WORKERS": "5", "GUNICORN_THREADS": "1"}
    servers = [
        stack.gunicorn("template", project, venv, "/health/").start(),
        stack.gunicorn("raw-wsgi", project, venv, "/health/", conf=raw_conf).start(),
        stack.gunicorn("django", project, venv, "/health/", conf=django_conf).start(),
        stack.gunicorn("no-access-log", project, venv, "/health/", conf=quiet_conf).start(),
        stack.gunicorn("sync-no-access-log", project, venv, "/health/", conf=quiet_conf, **sync).start(),
        stack.gunicorn_bare("no-config", project, venv, "/health/", []).start(),
        # cookiecutter-django's compose/production/django/start, with its
        # .envs/.production/.django (WEB_CONCURRENCY=4).
        stack.gunicorn_bare(
            "cookiecutter", project, venv, "/health/", [f"--chdir={project / 'src'}"], WEB_CONCURRENCY="4"
        ).start(),
    ]
    for server in servers:
        response = server.get()
        assert response.status == 200 and json.loads(response.body)["status"] == "healthy", (server.name, response)
    labels = {
        "template": "rendered gunicorn.conf.py",
        "raw-wsgi": "raw WSGI app, same settings",
        "django": "/health/ through Django (first middleware), same settings",
        "no-access-log": "rendered gunicorn.conf.py without access log",
        "sync-no-access-log": "rendered gunicorn.conf.py, sync x 5, without access log",
        "no-config": "gunicorn, no config (1 sync worker)",
        "cookiecutter": "cookiecutter-django command (WEB_CONCURRENCY=4)",
    }
    targets = [
        ("template / raw WSGI (the limit)", "template", "raw-wsgi", ">= 0.6"),
        ("template / cookiecutter-django command", "template", "cookiecutter", ">= 1.1, p99 <= 1"),
    ]
    closing_names = ("template", "raw-wsgi", "cookiecutter")
    results = measure(servers, args.rounds, args.seconds)
    closing = measure_closing(servers, closing_names, args)
    stack.stop_servers()
    report.ratio_table(
        "/health/",
        results,
        [
            *targets,
            ("template / Django's request cycle (HealthCheckMiddleware)", "template", "django", ""),
            ("template / gunicorn without config", "template", "no-config", ""),
            ("template without access log / cookiecutter-django command", "no-access-log", "cookiecutter", ""),
            ("sync x 5 without access log / cookiecutter-django command", "sync-no-access-log", "cookiecutter", ""),
            ("cookiecutter-django command / raw WSGI", "cookiecutter", "raw-wsgi", ""),
        ],
    )
    report.context_table("/health/", results, labels)
    report.ratio_table("/health/, a connection per request (as behind the rendered nginx)", closing, targets)
    report.context_table("/health/, a connection per request", closing, {name: labels[name] for name in closing_names})
