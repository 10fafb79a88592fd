"""The default render: complete, no leftover Jinja, clean text, secrets only in .env."""

import stat
import subprocess

import yaml

from support import output_checks
from support.compose import services
from support.render import read_env_file

EXPECTED_FILES = [
    ".copier-answers.yml",
    ".dockerignore",
    ".env",
    ".env.example",
    ".github/workflows/template-update.yml",
    ".gitignore",
    "Dockerfile",
    "README.md",
    "docker-compose.prod.yml",
    "docker-compose.yml",
    "docs/deployment.md",
    "deploy/nginx/obcms.conf",
    "gunicorn.conf.py",
    "pyproject.toml",
    "requirements/base.txt",
    "requirements/copier.txt",
    "requirements/development.txt",
    "requirements/production.txt",
    "scripts/check_migrations.sh",
    "scripts/healthcheck.py",
    "scripts/migrate.sh",
    "scripts/update-template.sh",
    "src/manage.py",
    "src/common/health.py",
    "src/common/middleware.py",
    "src/common/tasks.py",
    "src/common/checks.py",
    "src/obc_management/celery.py",
    "src/obc_management/urls.py",
    "src/obc_management/wsgi.py",
    "src/obc_management/asgi.py",
    "src/obc_management/settings/__init__.py",
    "src/obc_management/settings/base.py",
    "src/obc_management/settings/development.py",
    "src/obc_management/settings/production.py",
    "src/obc_management/settings/overrides.py",
    "src/obc_management/settings/test.py",
]


def test_no_jinja_is_left_in_names_or_contents(default_project):
    assert output_checks.jinja_leftovers(default_project) == []


def test_rendered_text_is_tidy(default_project):
    assert output_checks.untidy_text(default_project) == []


def test_env_holds_fresh_secrets_and_is_ignored(default_project):
    env = (default_project / ".env").read_text()
    values = dict(line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#"))
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "HEALTH_CHECK_TOKEN"):
        assert len(values[name]) >= 32, name
    assert len(values["SECRET_KEY"]) >= 50
    assert stat.S_IMODE((default_project / ".env").stat().st_mode) == 0o600
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=default_project, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
    answers = (default_project / ".copier-answers.yml").read_text()
    assert values["SECRET_KEY"] not in answers
    example = (default_project / ".env.example").read_text()
    assert values["SECRET_KEY"] not in example


def test_env_backup_holds_a_fresh_restic_password_and_is_ignored(default_project):
    """The backup service's own env file: the app containers never read it."""
    path = default_project / ".env.backup"
    values = read_env_file(path)
    assert len(values["RESTIC_PASSWORD"]) >= 32 and values["RESTIC_REPOSITORY"] == ""
    assert values["RESTIC_PASSWORD"] not in (default_project / ".env.backup.example").read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env.backup"], cwd=default_project, check=False)
    assert ignored.returncode == 0, ".env.backup must be git-ignored"
    kept = subprocess.run(["git", "check-ignore", "-q", ".env.backup.example"], cwd=default_project, check=False)
    assert kept.returncode == 1, "its example is committed"
    readers = [
        name for name, service in services(default_project).items() if ".env.backup" in str(service.get("env_file"))
    ]
    assert readers == ["backup"]


def test_answers_file_records_the_contract(default_project):
    answers = yaml.safe_load((default_project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "obcms"
    assert answers["django_package"] == "obc_management"
    assert answers["domain_name"] == "obcms.gov.ph"
    assert answers["extra_domains"] == ["www.obcms.gov.ph"]
    assert "allowed_hosts" not in answers, "computed values are not answers"
