"""A release whose migration fails: the migrate job exits non-zero, compose
names it, and web, celery, beat and nginx never start. The broken migration
is added to a private copy of the default render, which is built into its
own image (the builder stage comes from the session's layer cache)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.render import read_env_file

from .conftest import AppImages
from .deployment import Deployment, private_copy, timed

# Session fixtures build images on the first test that needs them (and on a new
# machine make the stand-ins first): more than the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

BROKEN_MIGRATION = '''\
"""Injected by the container tests: a migration that fails half-way."""

from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("broken migration injected by the container tests")


class Migration(migrations.Migration):
    dependencies = [("sessions", "0001_initial")]
    operations = [
        migrations.RunSQL("CREATE TABLE containertest_half_done (id int)"),
        migrations.RunPython(fail),
    ]
'''
NEVER_STARTED = "0001-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def deployment(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    default = app_images.get("default")
    base = tmp_path_factory.mktemp("migrate-failure")
    project = private_copy(default.project, base / "project")
    migrations = project / "src" / "common" / "migrations"
    migrations.mkdir()
    (migrations / "__init__.py").write_text("")
    (migrations / "0001_broken.py").write_text(BROKEN_MIGRATION)
    deployment = Deployment(app_images.engine, "migrate-failure", project, base / "work", "test-broken-migration")
    app_images.build("broken migration", deployment)
    try:
        yield deployment
    finally:
        deployment.down(volumes=True)


def test_a_failing_migration_keeps_the_app_from_starting(deployment: Deployment) -> None:
    with timed("broken migration: compose up --wait (fails)"):
        result = deployment.up(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'service "migrate" didn\'t complete successfully: exit 1' in output, output[-3000:]

    containers = deployment.containers()
    assert (containers["migrate"]["State"]["Status"], containers["migrate"]["State"]["ExitCode"]) == ("exited", 1)
    for service in ("web", "celery", "beat", "nginx"):
        state = containers[service]["State"]
        assert (state["Status"], state["StartedAt"]) == ("created", NEVER_STARTED), service
    assert containers["db"]["State"]["Health"]["Status"] == "healthy"
    assert "broken migration injected by the container tests" in deployment.logs("migrate")

    # The migration ran in one transaction: nothing of it stayed behind.
    env = read_env_file(deployment.project / ".env")
    query = (
        "SELECT (SELECT count(*) FROM django_migrations WHERE app = 'common'), "
        "to_regclass('containertest_half_done') IS NULL"
    )
    out = deployment.exec("db", "psql", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-tAc", query)
    assert out.strip() == "0|t"
