"""Test-only code written into a test's private copy of the render (never
into the template): settings, routes."""

from pathlib import Path

from .render import project_package

TEST_URLS = '''"""Routes for the template's tests only, written into a private copy."""

import os
import time

from django.db import connection
from django.http import HttpResponse
from django.urls import include, path
from django.utils.html import escape
from django.views.generic import RedirectView


def sleep(request, milliseconds):
    # One line per request that started, for a test waiting until all are in flight.
    if os.environ.get("TEST_REQUEST_LOG"):
        with open(os.environ["TEST_REQUEST_LOG"], "a") as log:
            log.write(f"{{request.GET.get('n', '')}}\\n")
    time.sleep(milliseconds / 1000)
    return HttpResponse(f"slept {{milliseconds}} ms")


def scripts(request):
    # A page of the site that loads each ?src= as a script (the site's policy allows its own URLs).
    tags = "".join(f'<script src="{{escape(src)}}"></script>' for src in request.GET.getlist("src"))
    return HttpResponse(f"<!doctype html><title>scripts</title>{{tags}}")


def control_script(request):
    # A script that runs: shows that a browser test would see one.
    return HttpResponse('console.log("UPLOAD-SCRIPT-RAN control");', content_type="text/javascript")


def database(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        return HttpResponse(f"{{cursor.fetchone()[0]}} migrations")


urlpatterns = [
    # A front page, as the real system has one; scanners start at /.
    path("", RedirectView.as_view(url="/admin/")),
    path("test/sleep/<int:milliseconds>/", sleep),
    path("test/database/", database),
    path("test/scripts/", scripts),
    path("test/control.js", control_script),
    path("", include("{package}.urls")),
]
'''


def add_settings(project: Path, text: str) -> None:
    """Append to settings/overrides.py, the owner's extension point that
    production.py imports last."""
    overrides = project / "src" / project_package(project) / "settings" / "overrides.py"
    overrides.write_text(overrides.read_text() + "\n" + text.strip() + "\n")


def add_test_urls(project: Path) -> None:
    """/ (redirects to the admin), /test/sleep/<ms>/, /test/database/ (one
    query), /test/scripts/?src=URL (a page that loads scripts) and
    /test/control.js on top of the project's urls."""
    (project / "src" / "testonly_urls.py").write_text(TEST_URLS.format(package=project_package(project)))
    add_settings(project, 'ROOT_URLCONF = "testonly_urls"')
