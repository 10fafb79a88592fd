"""The default render: complete, no leftover Jinja, clean text, secrets only in .env."""

import re
import stat
import subprocess

import yaml

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

JINJA_LEFTOVER = re.compile(r"\{\{-? *[\w.]+|\{%-? *\w+|\{#")


def text_files(root):
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            yield path


def test_default_render_has_the_documented_layout(default_project):
    missing = [name for name in EXPECTED_FILES if not (default_project / name).is_file()]
    assert missing == []


def test_no_jinja_is_left_in_names_or_contents(default_project):
    leftovers = []
    for path in text_files(default_project):
        relative = path.relative_to(default_project)
        if path.suffix == ".jinja" or "{{" in str(relative):
            leftovers.append(f"{relative}: file name")
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if JINJA_LEFTOVER.search(line):
                leftovers.append(f"{relative}:{number}: {line.strip()}")
    assert leftovers == []


def test_rendered_text_is_tidy(default_project):
    """As clear as a hand-written file: no runs of blank lines, no trailing
    spaces, one final newline."""
    problems = []
    for path in text_files(default_project):
        relative = path.relative_to(default_project)
        text = path.read_text()
        if not text:
            continue  # an empty __init__.py
        if not text.endswith("\n") or text.endswith("\n\n"):
            problems.append(f"{relative}: must end with exactly one newline")
        if text.startswith("\n"):
            problems.append(f"{relative}: starts with a blank line")
        if "\n\n\n\n" in text or (path.suffix != ".py" and "\n\n\n" in text):
            problems.append(f"{relative}: a run of blank lines")
        for number, line in enumerate(text.splitlines(), 1):
            if line != line.rstrip():
                problems.append(f"{relative}:{number}: trailing white space")
    assert problems == []


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


def test_answers_file_records_the_contract(default_project):
    answers = yaml.safe_load((default_project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "obcms"
    assert answers["django_package"] == "obc_management"
    assert answers["domain_name"] == "obcms.gov.ph"
    assert answers["extra_domains"] == ["www.obcms.gov.ph"]
    assert "allowed_hosts" not in answers, "computed values are not answers"
