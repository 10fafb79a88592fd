"""Each answer reaches every rendered file that depends on it."""

import pytest
import yaml

from support.render import read_env_file, render

ANSWERS = {
    # Letters beyond ASCII and punctuation are fine; control and invisible
    # characters are not (test_bad_answers.py).
    "project_name": "Sistema ng Pamamahala — Komunidad ng Bangsamoro (Ñ)",
    "project_slug": "bangsamoro-cms",
    "django_package": "bcms",
    "ops_app": "ops",
    "domain_name": "cms.example.gov.ph",
    "extra_domains": ["www.cms.example.gov.ph", "intranet.example.gov.ph"],
    "admin_email": "ops@example.gov.ph",
    "time_zone": "Asia/Tokyo",
    "python_version": "3.12",
    "postgres_version": "18",
    "use_celery_beat": False,
    "use_flower": True,
    "max_request_body_mb": 250,
}
HOSTS = ["cms.example.gov.ph", "www.cms.example.gov.ph", "intranet.example.gov.ph"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return render(tmp_path_factory.mktemp("reach") / "project", ANSWERS)


def read(project, name):
    return (project / name).read_text()


def test_names_reach_the_package_and_the_compose_project(project):
    assert (project / "src/bcms/settings/production.py").is_file()
    assert 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bcms.settings.production")' in read(
        project, "src/bcms/wsgi.py"
    )
    assert "DJANGO_SETTINGS_MODULE=bcms.settings.production" in read(project, "Dockerfile")
    compose = yaml.safe_load(read(project, "docker-compose.prod.yml"))
    assert compose["name"] == "bangsamoro-cms"
    assert compose["services"]["web"]["image"].startswith("bangsamoro-cms:")
    assert "--app" in compose["services"]["celery"]["command"] and "bcms" in compose["services"]["celery"]["command"]
    assert (project / "deploy/nginx/bangsamoro-cms.conf").is_file()
    assert 'wsgi_app = "bcms.wsgi:application"' in read(project, "gunicorn.conf.py")


def test_a_name_beyond_ascii_reaches_the_docs_and_package_metadata(project):
    name = ANSWERS["project_name"]
    assert read(project, "README.md").startswith(f"# {name}\n")
    assert f'description = "{name}"' in read(project, "pyproject.toml")
    assert read(project, "requirements/base.txt").startswith(f"# Runtime dependencies of {name}, pinned")


def test_versions_reach_the_images(project):
    assert "ARG PYTHON_VERSION=3.12" in read(project, "Dockerfile")
    for name in ("docker-compose.prod.yml", "docker-compose.yml"):
        compose = yaml.safe_load(read(project, name))
        assert compose["services"]["db"]["image"] == "postgres:18-trixie"
        # PostgreSQL 18 images keep their data below /var/lib/postgresql.
        assert any(volume.endswith(":/var/lib/postgresql") for volume in compose["services"]["db"]["volumes"])


def test_time_zone_reaches_django_and_celery(project):
    base = read(project, "src/bcms/settings/base.py")
    assert 'TIME_ZONE = "Asia/Tokyo"' in base
    assert "CELERY_TIMEZONE = TIME_ZONE" in base


def test_domains_reach_hosts_origins_and_nginx(project):
    env = read_env_file(project / ".env")
    assert env["ALLOWED_HOSTS"] == ",".join(HOSTS)
    assert env["CSRF_TRUSTED_ORIGINS"] == ",".join(f"https://{host}" for host in HOSTS)
    nginx = read(project, "deploy/nginx/bangsamoro-cms.conf")
    assert nginx.count("server_name " + " ".join(HOSTS) + ";") == 2
    assert "client_max_body_size 250m;" in nginx
    assert env["DEFAULT_FROM_EMAIL"] == "ops@example.gov.ph"


def test_flower_on_and_beat_off_reach_every_file(project):
    compose = yaml.safe_load(read(project, "docker-compose.prod.yml"))
    assert "flower" in compose["services"] and "beat" not in compose["services"]
    assert compose["services"]["flower"]["ports"] == ["127.0.0.1:5555:5555"]
    assert "flower==" in read(project, "requirements/base.txt")
    assert read_env_file(project / ".env")["FLOWER_PASSWORD"]
    assert "CELERY_BEAT_SCHEDULE = {}" in read(project, "src/bcms/settings/base.py")
    runbook = read(project, "docs/deployment.md")
    assert "`flower`" in runbook and "`beat`" not in runbook


def test_the_template_app_name_reaches_settings_servers_and_docs(project):
    assert (project / "src/ops/apps.py").is_file() and not (project / "src/common").exists()
    base = read(project, "src/bcms/settings/base.py")
    assert '    "ops",\n' in base
    assert '"ops.middleware.HealthCheckMiddleware"' in base
    assert '"()": "ops.json_logging.JsonFormatter"' in base
    assert 'name = "ops"' in read(project, "src/ops/apps.py")
    assert "from ops.health import LivenessFirst" in read(project, "src/bcms/wsgi.py")
    assert '"()": "ops.json_logging.JsonFormatter"' in read(project, "gunicorn.conf.py")
    assert "`src/ops/`" in read(project, "README.md")
