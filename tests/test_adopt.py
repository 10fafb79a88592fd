"""tools/adopt brings the template into Django repositories shaped like OBCMS:

- adopt-single-settings: OBCMS before its settings package. One settings.py
  with django-environ, apps concatenated from three lists plus one under
  `if DEBUG:`, middleware inserted, appended and conditional, template dirs
  and context processors, LOGGING and CACHES and e-mail inside if blocks, a
  beat schedule in settings and in celery.py, a Celery signal handler and a
  task on the app; a urls.py with a DRF router, `admin_url = env(...)`, a
  side-effect import and a route that must come before the admin; its own
  /health/; a .gitignore that hides docs/, static/ and .github/; markers and
  --cov options in src/pytest.ini; templates with inline and CDN scripts.
- adopt-settings-package: OBCMS today. settings/{base,development,
  production,staging,test}.py and constants.py, which the apps import;
  `+=` and `insert` app and middleware lists, a custom user model, django-
  axes, auditlog, django-prometheus, DRF with JWT; its own /health/ and
  /ready/; a route that the template's admin would take; pytest options in
  setup.cfg.

For each: adoption reports no loss; `check --deploy` with the production
settings, `migrate` on PostgreSQL, and the fixture's own tests (the same
results as before adoption) pass without a hand edit; the effective
settings, routes and Celery parts compare as kept (evaluated here, apart
from the tool's own comparison); and two successive `copier update`s work.
A repository with losses is refused, naming each, and left as it was.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.locks import lock_requirements
from support.project import manage
from support.releases import GIT_IDENTITY, git, run_update
from support.render import (
    CACHE_DIR,
    TEMPLATE_ROOT,
    project_env,
    project_venv,
    read_answers,
    render,
    run_project_tests,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROBE = TEMPLATE_ROOT / "tools" / "adopt" / "probe.py"
ADOPT = TEMPLATE_ROOT / "tools" / "adopt"
VENVS = CACHE_DIR / "venvs"
# The same stand-in environment before and after, as a production deployment has.
PROBE_ENV = {
    "DEBUG": "False",
    "DJANGO_DEBUG": "False",
    "SECRET_KEY": "probe-placeholder-5Yq1mZ8rT3vW6xB9nC2kL7pD4sF0gH-jU_oIe",
    "DJANGO_SECRET_KEY": "probe-placeholder-5Yq1mZ8rT3vW6xB9nC2kL7pD4sF0gH-jU_oIe",
    "ALLOWED_HOSTS": "obcms.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://obcms.example.org",
    "DATABASE_URL": "postgres://obcms:obcms@127.0.0.1:5432/obcms",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PATH": "/usr/bin:/bin",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# What the template decides on purpose (its README says why); every other
# setting the owner set must keep its value.
TEMPLATE_DECIDES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "BASE_DIR",
    "STATIC_URL",
    "STATIC_ROOT",
    "MEDIA_URL",
    "MEDIA_ROOT",
    "DATABASES",
    "CACHES",
    "EMAIL_BACKEND",
    "CELERY_BROKER_URL",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "PASSWORD_HASHERS",
}
OUTCOME = re.compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED)", re.MULTILINE)


@dataclass
class Shape:
    fixture: str
    tests_from: str  # where the owner ran pytest before adoption
    owner_settings: str  # the settings module production used before
    carried_lines: dict[str, list[str]]  # file -> lines adoption must have written there


SHAPES = {
    "single-settings": Shape(
        fixture="adopt-single-settings",
        tests_from="src",
        owner_settings="obc_management.settings",
        carried_lines={
            "src/obc_management/settings/base.py": [
                '    "rest_framework",',
                '    "communities",',
                '"weekly-digest": {',
            ],
            "src/obc_management/settings/development.py": ['INSTALLED_APPS += ["debug_toolbar"]'],
            "src/obc_management/urls.py": ["api_router = DefaultRouter()", "from . import admin as obcms_admin"],
            "src/obc_management/celery_hooks.py": ["def log_task_failure("],
        },
    ),
    "settings-package": Shape(
        fixture="adopt-settings-package",
        tests_from=".",
        owner_settings="obc_management.settings.production",
        carried_lines={
            "src/obc_management/settings/base.py": ['AUTH_USER_MODEL = "common.User"', "from .constants import"],
            "src/obc_management/settings/overrides.py": ["SESSION_COOKIE_AGE = 8 * 3600"],
            "src/obc_management/urls.py": ["urlpatterns[:0] = ["],
        },
    ),
}


@dataclass
class Adoption:
    repository: Path
    output: str
    returncode: int
    seconds: float
    before_tests: dict[str, str]
    before: dict
    after: dict | None = None


ADOPTIONS: dict[str, Adoption] = {}


def commit_fixture(fixture: str, destination: Path) -> Path:
    shutil.copytree(FIXTURES / fixture, destination)
    git(destination, "init", "--quiet")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "--message", "Before the deployment template")
    return destination


def owner_outcomes(output: str, prefix: str) -> dict[str, str]:
    """node id (from the repository's root) -> PASSED/FAILED/...; the owner's tests only."""
    found = {}
    for node, result in OUTCOME.findall(output):
        node = node if prefix in ("", ".") else f"{prefix}/{node}"
        if "/ops/" not in node:
            found[node] = result
    return found


def probe(python: Path, repository: Path, module: str, paths: list[str] = ()) -> dict:
    request = {
        "src": str(repository / "src"),
        "settings": module,
        "env": PROBE_ENV,
        "urls": True,
        "paths": list(paths),
        "celery": "obc_management.celery",
    }
    result = subprocess.run(
        [str(python), str(PROBE), json.dumps(request)], capture_output=True, text=True, timeout=300, check=False
    )
    data = json.loads(result.stdout.split("\0adopt-probe\0")[-1])
    assert "error" not in data, data.get("traceback")
    return data


def owner_tests(repository: Path, venv: Path, where: str, database_url: str, redis_url: str) -> dict[str, str]:
    result = run_project_tests(repository, venv, database_url, redis_url, "-v", where=where)
    return owner_outcomes(result.stdout, where)


def run_adopt(*args: str, cwd: Path | None = None, tool: Path | str = ADOPT) -> subprocess.CompletedProcess:
    """tools/adopt ARGS (this clone's, or the one at `tool`), as an owner runs it."""
    return subprocess.run(
        [sys.executable, str(tool), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env={**os.environ, **GIT_IDENTITY, "OBCMS_ADOPT_VENVS": str(VENVS)},
    )


def readme_commands() -> list[str]:
    """The shell commands of the README's adoption section."""
    text = (TEMPLATE_ROOT / "README.md").read_text()
    section = text.split("## Adopt the template", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def adopt_as_the_readme_says(repository: Path, template_clone: Path, workspace: Path) -> subprocess.CompletedProcess:
    """The README's two commands, with its placeholders filled in: a fresh
    clone of the template (no tags, as clones often have), then adopt."""
    clone, adopt = readme_commands()
    origin = workspace / "origin.git"
    git(workspace, "clone", "--quiet", "--bare", "--no-tags", str(template_clone), str(origin))
    clone = clone.replace("<TEMPLATE-URL>", str(origin))
    subprocess.run(
        shlex.split(clone), cwd=workspace, check=True, capture_output=True, env={**os.environ, **GIT_IDENTITY}
    )
    assert git(workspace / "obcms-deployment-template", "tag", "--list") == ""
    adopt = adopt.replace("path/to/your-repository", str(repository))
    assert adopt.startswith("python ")
    _, tool, *args = shlex.split(adopt)
    return run_adopt(*args, cwd=workspace, tool=tool)


def adopted(name: str, template_clone: Path, tmp_path_factory, database_url: str, redis_url: str) -> Adoption:
    """The fixture adopted once per test session (the README's commands for the first shape)."""
    if name not in ADOPTIONS:
        shape = SHAPES[name]
        workspace = tmp_path_factory.mktemp(f"adopt-{name}")
        repository = commit_fixture(shape.fixture, workspace / "obcms")
        venv = project_venv(repository)
        before_tests = owner_tests(repository, venv, shape.tests_from, database_url, redis_url)
        before = probe(venv / "bin" / "python", repository, shape.owner_settings)
        started = time.monotonic()
        if name == "single-settings":
            result = adopt_as_the_readme_says(repository, template_clone, workspace)
        else:
            result = run_adopt("--template", str(template_clone), "--vcs-ref", "HEAD", str(repository))
        ADOPTIONS[name] = Adoption(
            repository=repository,
            output=result.stdout + result.stderr,
            returncode=result.returncode,
            seconds=time.monotonic() - started,
            before_tests=before_tests,
            before=before,
        )
        if result.returncode == 0:
            # The step the adoption's notes ask for: the carried requirements into the lock files.
            lock_requirements(repository)
            git(repository, "add", "--all")
            git(repository, "commit", "--quiet", "--message", "Adopt the deployment template")
    adoption = ADOPTIONS[name]
    assert adoption.returncode == 0, adoption.output[-6000:]
    return adoption


@pytest.mark.parametrize("name", list(SHAPES))
def test_adoption_says_what_changes_and_loses_nothing(name, template_clone, tmp_path_factory, database_url, redis):
    adoption = adopted(name, template_clone, tmp_path_factory, database_url, redis.url)
    print(f"adoption of {name}: {adoption.seconds:.1f} s")
    output = adoption.output
    assert "What changes for you:" in output
    assert re.search(r"Django 4\.2\.\d+ -> 5\.2\.\d+: a major version", output)
    assert "psycopg2-binary" in output and "the template uses psycopg 3" in output
    assert "Before and after" in output
    assert "LOST" not in output and "Would be lost" not in output
    if name == "single-settings":
        assert "pytest 7.4.4 -> 9.2.0: a major version" in output
        assert "2 inline scripts, 1 inline event handlers, 1 inline styles" in output
        assert "cdn.jsdelivr.net (1), unpkg.com (1)" in output and "CSP_REPORT_ONLY=1" in output
        assert "the template's probe answers it first" in output  # its own /health/
    for path, lines in SHAPES[name].carried_lines.items():
        text = (adoption.repository / path).read_text()
        assert all(line in text for line in lines), (path, text)


@pytest.mark.parametrize("name", list(SHAPES))
def test_the_owners_tests_give_the_same_results_and_the_project_deploys(
    name, template_clone, tmp_path_factory, database_url, redis
):
    adoption = adopted(name, template_clone, tmp_path_factory, database_url, redis.url)
    repository = adoption.repository
    venv = project_venv(repository)
    started = time.monotonic()
    tests = run_project_tests(repository, venv, database_url, redis.url, "-v")
    after = owner_outcomes(tests.stdout, ".")
    print(f"{name}: {len(after)} owner tests before and after; suite {time.monotonic() - started:.1f} s")
    assert adoption.before_tests and set(adoption.before_tests.values()) == {"PASSED"}
    changed = {test for test in after if after[test] != adoption.before_tests.get(test)}
    if name == "settings-package":
        # Its open django_prometheus /metrics becomes the template's, token only: said up front, the one change.
        assert "/metrics (your django_prometheus" in adoption.output.split("Before and after")[0]
        assert changed == {"src/communities/tests.py::test_metrics_are_exported"}, tests.stdout[-4000:]
    else:
        assert not changed and tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    assert set(after) == set(adoption.before_tests), tests.stdout[-4000:]
    assert "src/ops/tests/test_media.py::test_anonymous_users_are_sent_to_sign_in PASSED" in tests.stdout
    assert "coverage: " in tests.stdout or "Cover" in tests.stdout  # the owner's --cov options still apply

    env = project_env(repository, venv, DATABASE_URL=database_url, REDIS_URL=redis.url)
    manage(repository, venv, env, "check", "--deploy", "--fail-level", "WARNING").checked()
    migrated = manage(repository, venv, env, "migrate", "--no-input").checked()
    assert "Applying communities.0001_initial... OK" in migrated.stdout
    ruff = subprocess.run(
        [str(venv / "bin" / "ruff"), "check", "--no-cache", "."], cwd=repository, capture_output=True, text=True
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def kept(before, after) -> bool:
    """Lists keep the owner's items in order, dicts their entries, others their value."""
    if isinstance(before, list) and isinstance(after, list):
        if before and len(before) == len(after) and all(isinstance(item, dict) for item in before + after):
            return all(kept(mine, theirs) for mine, theirs in zip(before, after, strict=True))
        remaining = iter(json.dumps(item, sort_keys=True) for item in after)
        return all(json.dumps(item, sort_keys=True) in remaining for item in before)
    if isinstance(before, dict) and isinstance(after, dict) and "dict" in before and "dict" in after:
        return all(key in after["dict"] and kept(value, after["dict"][key]) for key, value in before["dict"].items())
    return before == after


@pytest.mark.parametrize("name", list(SHAPES))
def test_effective_settings_routes_and_celery_are_kept(name, template_clone, tmp_path_factory, database_url, redis):
    adoption = adopted(name, template_clone, tmp_path_factory, database_url, redis.url)
    before = adoption.before
    paths = [route["path"] for route in before["routes"] if route["path"]]
    after = probe(
        project_venv(adoption.repository) / "bin" / "python",
        adoption.repository,
        "obc_management.settings.production",
        paths,
    )
    settings_before, settings_after = before["settings"], after["settings"]

    def items(name, *keys):
        value = settings_before[name], settings_after[name]
        for key in keys:
            value = tuple(part["dict"][key] if isinstance(key, str) else part[key] for part in value)
        return value

    apps, apps_after = items("INSTALLED_APPS")
    assert kept(apps, apps_after) and len(apps) >= 11
    assert kept(*items("MIDDLEWARE"))
    assert kept(*items("TEMPLATES", 0, "OPTIONS", "context_processors"))
    assert kept(*items("TEMPLATES", 0, "DIRS"))
    for setting in ("AUTH_USER_MODEL", "AUTHENTICATION_BACKENDS", "LOGIN_URL", "REST_FRAMEWORK", "SIMPLE_JWT"):
        if setting in settings_before:
            assert kept(settings_before[setting], settings_after.get(setting)), setting
    lost = [
        setting
        for setting, value in settings_before.items()
        if setting not in TEMPLATE_DECIDES and not kept(value, settings_after.get(setting))
    ]
    assert lost == []

    probes = {"/health/", "/ready/", "/health/monitor/"}
    moved = [
        (path, view, after["resolved"].get(path))
        for path, view in before["resolved"].items()
        if view and path not in probes and (after["resolved"].get(path) or {}).get("view") != view["view"]
    ]
    assert moved == []
    assert before["resolved"]["/admin/reports/"]["view"] == "communities.views.admin_report"

    celery_before, celery_after = before["celery"], after["celery"]
    assert set(celery_before["tasks"]) <= set(celery_after["tasks"])
    assert kept(celery_before["beat_schedule"], celery_after["beat_schedule"])
    for signal, handlers in celery_before["signals"].items():
        names = {handler.rsplit(".", 1)[-1] for handler in celery_after["signals"].get(signal, [])}
        assert {handler.rsplit(".", 1)[-1] for handler in handlers} <= names


@pytest.mark.parametrize("name", list(SHAPES))
def test_two_successive_updates_merge_cleanly(name, template_clone, tmp_path_factory, database_url, redis):
    adoption = adopted(name, template_clone, tmp_path_factory, database_url, redis.url)
    repository = adoption.repository
    # No template file hides behind the owner's ignore rules: all are committed.
    for path in ("docs/deployment.md", "src/static/README.md", ".github/workflows/template-update.yml"):
        assert git(repository, "ls-files", path).strip() == path
    for attempt in (1, 2):
        started = time.monotonic()
        update = run_update(repository, "--vcs-ref", "HEAD")
        print(f"{name}: update {attempt} took {time.monotonic() - started:.1f} s")
        assert update.returncode == 0, update.stdout + update.stderr
        assert "Updated cleanly" in update.stdout
        git(repository, "add", "--all")
        if git(repository, "status", "--porcelain"):
            git(repository, "commit", "--quiet", "--message", f"Template update {attempt}")
    for path, lines in SHAPES[name].carried_lines.items():
        text = (repository / path).read_text()
        assert all(line in text for line in lines), path
    assert read_answers(repository)["django_package"] == "obc_management"


def test_a_repository_with_losses_is_refused_and_left_as_it_was(template_clone, tmp_path):
    repository = commit_fixture("adopt-settings-package", tmp_path / "obcms")
    # Uploads served by a view of its own, where the template's protected media view is...
    urls = repository / "src/obc_management/urls.py"
    urls.write_text(
        urls.read_text().replace(
            '    path("communities/", include("communities.urls")),\n',
            '    path("communities/", include("communities.urls")),\n'
            '    path("media/<path:name>", community_views.export, name="download"),\n',
        )
    )
    # ...and CommonMiddleware before SessionMiddleware, the reverse of the template's order.
    base = repository / "src/obc_management/settings/base.py"
    text = base.read_text()
    session = '    "django.contrib.sessions.middleware.SessionMiddleware",\n'
    common = '    "django.middleware.common.CommonMiddleware",\n'
    base.write_text(text.replace(session + common, common + session))
    git(repository, "commit", "--quiet", "--all", "--message", "Shapes the template cannot keep")
    head = git(repository, "rev-parse", "HEAD")

    result = run_adopt("--template", str(template_clone), "--vcs-ref", "HEAD", str(repository))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Would be lost:" in result.stdout
    assert "route /media/a: was communities.views.export, would be ops.views.protected_media" in result.stdout
    assert re.search(
        r"setting MIDDLEWARE \(base\): your order \(.*CommonMiddleware.* before .*SessionMiddleware", result.stdout
    )
    assert result.stderr.strip().count("\n") == 0 and "nothing was changed" in result.stderr
    assert git(repository, "status", "--porcelain", "--ignored") == ""
    assert git(repository, "rev-parse", "HEAD") == head


def test_failures_are_one_line_and_change_nothing(template_clone, tmp_path):
    repository = commit_fixture("adopt-single-settings", tmp_path / "obcms")
    cases = {
        ("--template", str(tmp_path / "nowhere")): "no such directory; give the path of your clone",
        (
            "--template",
            str(template_clone),
            "--vcs-ref",
            "v9.9.9",
        ): "--vcs-ref v9.9.9 is neither a release nor a commit",
        ("--template", str(template_clone), "--data", "ops_app=common"): "src/common/middleware.py",
    }
    for args, message in cases.items():
        result = run_adopt(*args, str(repository))
        assert result.returncode == 1, args
        assert result.stderr.startswith("Not adopted: ") and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert git(repository, "status", "--porcelain", "--ignored") == ""
    (repository / "README.md").write_text("changed\n")
    result = run_adopt(str(repository))
    assert "has uncommitted changes: commit or stash them first" in result.stderr


def test_releases_are_found_without_tags(template_clone, tmp_path):
    """A clone without tags: the CHANGELOG names each release's commit, and
    the release asked for is tagged there so that updates find it later."""
    clone = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", "--no-tags", str(template_clone), str(clone))
    assert git(clone, "tag", "--list") == ""
    not_django = tmp_path / "not-django"
    not_django.mkdir()
    (not_django / "README.md").write_text("no Django here\n")
    git(not_django, "init", "--quiet")
    git(not_django, "add", "--all")
    git(not_django, "commit", "--quiet", "--message", "first")
    result = run_adopt("--template", str(clone), "--vcs-ref", "v0.3.1", str(not_django))
    assert result.stderr.startswith("Not adopted: expected src/manage.py"), result.stderr
    assert "v0.3.1" in git(clone, "tag", "--list").split()


def test_updates_work_after_the_owner_deleted_a_rendered_file(template_clone, tmp_path):
    """Copier reads _skip_if_exists before it has the answers when a rendered
    file is gone: a `{{ django_package }}` there stopped every later update."""
    project = render(tmp_path / "project", vcs_ref="HEAD", template=template_clone)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "Rendered")
    git(project, "rm", "--quiet", "docs/deployment.md")
    git(project, "commit", "--quiet", "--message", "Our runbook lives elsewhere")
    for _ in (1, 2):
        update = run_update(project, "--vcs-ref", "HEAD", copier_alone=True)
        assert update.returncode == 0, update.stdout + update.stderr
        assert not (project / "docs/deployment.md").exists()
