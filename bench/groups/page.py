"""The database page (20 rows) through the rendered nginx: the rendered
gunicorn.conf.py against cookiecutter-django's serving command and against
startproject's settings under the same gunicorn settings (the limit for this
page); then what each production middleware costs, straight to gunicorn."""

from ..measure import measure
from ..page import PAGE_ROWS, gunicorn_conf
from ..report import Report
from ..servers import Stack

PAGE = "/bench/items/"

# startproject's settings (Django 5), with the benchmark's app, a URLconf of
# the page only, and the same PostgreSQL kept between requests as the render.
BARE_SETTINGS = """from .base import DATABASES, SECRET_KEY  # noqa: F401

DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "benchpage",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

BENCH_URLS = """from benchpage.views import items
from django.urls import path

urlpatterns = [path("bench/items/", items)]
"""

# The production settings without some middlewares (names end with these).
WITHOUT = """from .production import *  # noqa: F403
from .production import MIDDLEWARE

MIDDLEWARE = [name for name in MIDDLEWARE if not name.endswith({suffixes!r})]
"""

# label: the middlewares left out. Seven servers of 24 threads each keep at
# most 168 PostgreSQL connections (the benchmark's server allows 200).
LEFT_OUT = {
    "prometheus": ("PrometheusBeforeMiddleware", "PrometheusAfterMiddleware"),
    "real-client-ip": ("RealClientIPMiddleware",),
    "security-headers": ("SecurityHeadersMiddleware",),
    "whitenoise": ("WhiteNoiseMiddleware",),
    "sessions-auth-messages": ("SessionMiddleware", "AuthenticationMiddleware", "MessageMiddleware"),
    "csrf": ("CsrfViewMiddleware",),
}


# The rendered gunicorn.conf.py with cookiecutter-django's worker model
# (4 sync workers), then without what the rendered file adds on top of it:
# which of the two explains the gap between them on this page.
SYNC_4 = {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_WORKERS": "4", "GUNICORN_THREADS": "1"}
WITHOUT_ACCESS_LOG = "accesslog = None"
# prometheus_client decides at import (after this file) between metrics in
# memory and metrics in files shared by the workers.
WITHOUT_SHARED_METRICS = WITHOUT_ACCESS_LOG + '\nos.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)'


def check(servers) -> None:
    for server in servers:
        response = server.get()
        assert response.status == 200 and response.body.count(b"<tr>") == PAGE_ROWS, (server.name, response)


def group_page(stack: Stack, report: Report, args) -> None:
    project, venv = stack.project("default", {})
    settings = next((project / "src").glob("*/settings"))
    package = settings.parent.name
    (settings / "bench_bare.py").write_text(BARE_SETTINGS)
    (project / "src" / "bench_urls.py").write_text(BENCH_URLS)
    template = stack.gunicorn("template", project, venv, PAGE).start()
    # cookiecutter-django's compose/production/django/start with 4 workers:
    # gunicorn config.wsgi --bind 0.0.0.0:5000 --chdir=/app, nothing else.
    cookiecutter = stack.gunicorn_bare(
        "cookiecutter", project, venv, PAGE, [f"--chdir={project / 'src'}"], WEB_CONCURRENCY="4"
    ).start()
    bare = stack.gunicorn("bare", project, venv, PAGE, DJANGO_SETTINGS_MODULE=f"{package}.settings.bench_bare").start()
    sync = stack.gunicorn("sync-4", project, venv, PAGE, **SYNC_4).start()
    quiet = gunicorn_conf(project, "no-access-log", WITHOUT_ACCESS_LOG)
    sync_quiet = stack.gunicorn("sync-4-quiet", project, venv, PAGE, quiet, **SYNC_4).start()
    local = gunicorn_conf(project, "local-metrics", WITHOUT_SHARED_METRICS)
    sync_local = stack.gunicorn("sync-4-local", project, venv, PAGE, local, **SYNC_4).start()
    servers = [
        stack.nginx_rendered(f"nginx-{upstream.name}", project, upstream, PAGE).start()
        for upstream in (template, cookiecutter, bare, sync, sync_quiet, sync_local)
    ]
    check(servers)
    results = measure(servers, args.rounds, args.seconds)
    stack.stop_servers()
    report.ratio_table(
        f"database page ({PAGE_ROWS} rows) through the rendered nginx, HTTPS",
        results,
        [
            (
                "rendered gunicorn.conf.py / cookiecutter-django command",
                "nginx-template",
                "nginx-cookiecutter",
                ">= 1.2, p99 <= 1",
            ),
            ("rendered settings / startproject settings, same gunicorn", "nginx-template", "nginx-bare", ">= 0.8"),
            ("rendered gunicorn.conf.py / the same with 4 sync workers", "nginx-template", "nginx-sync-4", ""),
            ("rendered conf, 4 sync workers / cookiecutter-django command", "nginx-sync-4", "nginx-cookiecutter", ""),
            ("... and no access log / cookiecutter-django command", "nginx-sync-4-quiet", "nginx-cookiecutter", ""),
            (
                "... and metrics in each worker's memory / cookiecutter-django command",
                "nginx-sync-4-local",
                "nginx-cookiecutter",
                "",
            ),
        ],
    )
    report.context_table(
        "database page through nginx",
        results,
        {
            "nginx-template": "rendered nginx -> rendered gunicorn.conf.py, production settings",
            "nginx-cookiecutter": "rendered nginx -> gunicorn -w 4 (sync, defaults), production settings",
            "nginx-bare": "rendered nginx -> rendered gunicorn.conf.py, startproject settings",
            "nginx-sync-4": "rendered nginx -> rendered gunicorn.conf.py with 4 sync workers",
            "nginx-sync-4-quiet": "... and no access log",
            "nginx-sync-4-local": "... and metrics in memory, not in files shared by the workers",
        },
    )

    servers = [stack.gunicorn("production", project, venv, PAGE, GUNICORN_MAX_REQUESTS="0").start()]
    for label, suffixes in LEFT_OUT.items():
        (settings / f"bench_without_{label.replace('-', '_')}.py").write_text(WITHOUT.format(suffixes=suffixes))
        module = f"{package}.settings.bench_without_{label.replace('-', '_')}"
        servers.append(
            stack.gunicorn(label, project, venv, PAGE, GUNICORN_MAX_REQUESTS="0", DJANGO_SETTINGS_MODULE=module).start()
        )
    check(servers)
    results = measure(servers, args.rounds, args.seconds)
    stack.stop_servers()
    report.ratio_table(
        f"database page ({PAGE_ROWS} rows): what each production middleware costs (straight to gunicorn)",
        results,
        [
            (f"without {', '.join(LEFT_OUT[label])} / production settings", label, "production", "")
            for label in LEFT_OUT
        ],
    )
