"""tools/adopt.py brings the template into a repository shaped like OBCMS
before it (the deployment plan's "current state": one settings module with
DEBUG on by default, a Dockerfile that collects static files with a missing
settings_minimal, migrations in the web container's start command,
psycopg2-binary), keeps the owner's apps, routes and requirements, and leaves
a project that passes its tests and `check --deploy` and can be updated."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.binaries import require
from support.locks import add_owner_requirement
from support.project import manage
from support.releases import GIT_IDENTITY, git, releases
from support.render import TEMPLATE_ROOT, project_env, project_venv, read_answers, run_project_tests

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy-obcms"
OWNER_APPS = ["common", "communities", "mana"]


@pytest.fixture
def legacy(tmp_path) -> Path:
    repository = tmp_path / "obcms"
    shutil.copytree(LEGACY, repository)
    git(repository, "init", "--quiet")
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--message", "OBCMS before the template")
    return repository


def adopt(repository: Path, template: Path, *args: str):
    return subprocess.run(
        [sys.executable, str(TEMPLATE_ROOT / "tools/adopt.py"), "--template", str(template), *args, str(repository)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **GIT_IDENTITY},
    )


def test_adopted_repository_keeps_the_owners_code_passes_its_checks_and_updates(
    legacy, template_clone, database_url, redis
):
    release = releases()[-1][0]
    result = adopt(legacy, template_clone, "--vcs-ref", release)
    assert result.returncode == 0, result.stdout + result.stderr
    for review in (
        "setting LOGIN_REDIRECT_URL was not carried",
        "middleware mana.middleware.WorkshopContextMiddleware was not carried",
        "`if settings.DEBUG:` was not carried",
        "dropped psycopg2-binary>=2.9.5",
        "django-debug-toolbar>=4.2 from your requirements/development.txt",
    ):
        assert review in result.stdout

    # The plan's current state is gone...
    package = "obc_management"
    assert not (legacy / "src" / package / "settings.py").exists()
    assert "settings_minimal" not in (legacy / "Dockerfile").read_text()
    web = yaml.safe_load((legacy / "docker-compose.yml").read_text())["services"]["web"]
    assert "migrate" not in str(web["command"])
    requirements = (legacy / "requirements" / "base.txt").read_text()
    assert "psycopg2" not in requirements and "Django>=4.2" not in requirements

    # ...the owner's code, apps, routes and requirements are kept...
    for path in sorted(LEGACY.glob("src/[cm]*/**/*.py")):
        relative = path.relative_to(LEGACY)
        assert (legacy / relative).read_bytes() == path.read_bytes(), relative
    base = (legacy / "src" / package / "settings" / "base.py").read_text()
    for app in ["django.contrib.humanize", *OWNER_APPS]:
        assert f'    "{app}",' in base
    urls = (legacy / "src" / package / "urls.py").read_text()
    for route in ('path("communities/", include("communities.urls"))', 'path("mana/", include("mana.urls"))'):
        assert route in urls
    assert urls.count("admin.site.urls") == 1
    for requirement in ("XlsxWriter>=3.1.0", "django-environ>=0.11.0"):
        assert requirement in requirements
    assert (legacy / "README.md").read_text().startswith((LEGACY / "README.md").read_text())

    # ...and .copier-answers.yml makes the next update work.
    answers = read_answers(legacy)
    assert answers["_commit"] == release
    assert answers["_src_path"] == str(template_clone)
    # OBCMS's own common app is kept; the template's app went beside it.
    assert answers["ops_app"] == "ops"
    assert (legacy / "src" / "ops" / "health.py").is_file()
    assert (legacy / "src" / "common" / "middleware.py").read_text() == (
        LEGACY / "src/common/middleware.py"
    ).read_text()
    git(legacy, "add", "--all")
    git(legacy, "commit", "--quiet", "--message", "Adopt the deployment template")

    # The step the adoption's notes ask for: lock the carried requirements.
    add_owner_requirement(legacy, "XlsxWriter>=3.1.0", answers["python_version"])
    venv = project_venv(legacy)
    ruff = [str(venv / "bin" / "ruff"), "check", "--no-cache", "."]
    lint = subprocess.run(ruff, cwd=legacy, capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    tests = run_project_tests(legacy, venv, database_url, redis.url, "-v")
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-3000:]
    for test in (
        "src/communities/tests.py::CommunityViewsTests::test_home_counts_communities PASSED",
        "src/communities/tests.py::CommunityViewsTests::test_export PASSED",
        "src/mana/tests.py::WorkshopTests::test_detail PASSED",
        "src/mana/tests.py::WorkshopTests::test_past_workshops_are_closed PASSED",
    ):
        assert test in tests.stdout
    env = project_env(legacy, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
    manage(legacy, venv, env, "check", "--deploy", "--fail-level", "WARNING").checked()

    copier_dir = Path(require("copier")).parent
    update = subprocess.run(
        [str(legacy / "scripts" / "update-template.sh"), "--vcs-ref", "HEAD"],
        cwd=legacy,
        env={**os.environ, **GIT_IDENTITY, "PATH": f"{copier_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert update.returncode == 0, update.stdout + update.stderr
    assert "Updated cleanly" in update.stdout
    assert all(f'    "{app}",' in (legacy / "src" / package / "settings" / "base.py").read_text() for app in OWNER_APPS)


def test_adoption_changes_nothing_when_a_file_of_the_owner_would_be_overwritten(legacy, template_clone):
    # Told to put the template's app where OBCMS has its own common app.
    result = adopt(legacy, template_clone, "--vcs-ref", releases()[-1][0], "--data", "ops_app=common")
    assert result.returncode == 1
    assert "src/common/middleware.py" in result.stderr
    assert git(legacy, "status", "--porcelain", "--ignored") == ""
