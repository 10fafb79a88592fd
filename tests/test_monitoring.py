"""The monitoring files of a render with use_monitoring: true, checked with
the field's own tools (promtool, amtool, blackbox-exporter), and what
`manage.py alertmanager_config` makes of the project's e-mail settings.
test_monitoring_stack.py runs them for real."""

import json
import shutil

import pytest
import yaml

from support import coolify, monitoring, output_checks
from support.compose import PRODUCTION, compose_config
from support.project import manage, shell
from support.render import profile_answers, project_env, project_venv, read_answers, render
from support.text import replace_required


@pytest.fixture(scope="session")
def monitoring_project(tmp_path_factory):
    return render(tmp_path_factory.mktemp("monitoring-render") / "project", profile_answers("monitoring"))


@pytest.fixture(scope="session")
def monitoring_venv(monitoring_project):
    return project_venv(monitoring_project)


def test_rules_configs_and_unit_tests_pass_the_tools(monitoring_project, monitoring_venv, tmp_path):
    # No database is reached: only the settings are read.
    url = "postgres://app:unused@127.0.0.1:1/unused"
    problems = output_checks.monitoring_problems(
        monitoring_project, monitoring_venv, tmp_path / "work", url, "redis://127.0.0.1:1/0"
    )
    assert problems == []


def test_a_changed_threshold_fails_the_rules_unit_tests(monitoring_project, tmp_path):
    """The unit tests pin the rules: a rule that fires too late fails them."""
    changed = tmp_path / "monitoring"
    shutil.copytree(monitoring_project / monitoring.MONITORING_DIR, changed)
    rules = changed / "alerts.yml"
    old, new = "expr: celery_workers_online == 0\n        for: 2m", "expr: celery_workers_online == 0\n        for: 3m"
    rules.write_text(replace_required(rules.read_text(), old, new, "the rendered alerts.yml"))
    result = monitoring.run(
        [monitoring.require(monitoring.PROMTOOL), "test", "rules", str(changed / "alerts.test.yml")]
    )
    assert result.returncode != 0
    assert "CeleryWorkersGone" in result.stdout + result.stderr


def settings_env(project, venv, **overrides):
    return project_env(
        project,
        venv,
        DATABASE_URL="postgres://app:unused@127.0.0.1:1/unused",
        REDIS_URL="redis://127.0.0.1:1/0",
        **overrides,
    )


def test_alertmanager_mails_through_the_projects_smtp_settings(monitoring_project, monitoring_venv, tmp_path):
    env = settings_env(
        monitoring_project,
        monitoring_venv,
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="465",
        EMAIL_HOST_USER="alerts",
        EMAIL_HOST_PASSWORD='a "quoted" pa$$word: with # and \\',
        EMAIL_USE_TLS="no",
        DEFAULT_FROM_EMAIL="OBCMS <noreply@obcms.gov.ph>",
        ADMINS="ops@obcms.gov.ph, oncall@obcms.gov.ph",
    )
    output = tmp_path / "alertmanager.yml"
    manage(monitoring_project, monitoring_venv, env, "alertmanager_config", str(output)).checked()
    config = yaml.safe_load(output.read_text())
    assert config["global"] == {
        "smtp_smarthost": "smtp.example.org:465",
        "smtp_hello": "obcms.gov.ph",
        "smtp_from": "OBCMS <noreply@obcms.gov.ph>",
        "smtp_auth_username": "alerts",
        "smtp_auth_password": 'a "quoted" pa$$word: with # and \\',
        "smtp_require_tls": False,
    }
    assert config["receivers"] == [
        {"name": "admins", "email_configs": [{"to": "ops@obcms.gov.ph, oncall@obcms.gov.ph", "send_resolved": True}]}
    ]
    assert monitoring.run([monitoring.require(monitoring.AMTOOL), "check-config", str(output)]).returncode == 0
    assert oct(output.stat().st_mode & 0o777) == "0o644", "Alertmanager's own user reads it"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"EMAIL_HOST": "localhost"}, "EMAIL_HOST is 'localhost': Alertmanager runs in its own container"),
        ({"ADMINS": ""}, "ADMINS is empty: alerts would go to nobody"),
    ],
)
def test_alertmanager_config_refuses_settings_that_would_lose_alerts(
    monitoring_project, monitoring_venv, tmp_path, overrides, message
):
    env = settings_env(monitoring_project, monitoring_venv, **overrides)
    output = tmp_path / "alertmanager.yml"
    result = manage(monitoring_project, monitoring_venv, env, "alertmanager_config", str(output))
    assert result.returncode != 0
    assert message in result.stderr
    assert not output.exists()


def test_without_use_monitoring_nothing_of_it_is_rendered(default_project):
    assert not (default_project / monitoring.MONITORING_DIR).exists()


def test_grafana_dashboard_is_importable_and_graphs_the_runbooks_queries(monitoring_project):
    """Grafana is not run here: the dashboard's structure is checked, and its
    queries are the runbook's, which test_monitoring_stack.py runs against
    a real Prometheus."""
    dashboard = json.loads((monitoring_project / monitoring.MONITORING_DIR / "grafana-dashboard.json").read_text())
    (source,) = dashboard["__inputs"]
    assert source["type"] == "datasource" and source["pluginId"] == "prometheus"
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells = [(panel["gridPos"]["x"], panel["gridPos"]["y"]) for panel in panels]
    assert len(set(cells)) == len(cells), "no two panels in the same place"
    for panel in panels:
        assert panel["type"] == "timeseries" and panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${" + source["name"] + "}"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    expressions = [target["expr"] for panel in panels for target in panel["targets"]]
    assert expressions == monitoring.runbook_queries(monitoring_project)


@pytest.fixture(scope="session")
def coolify_monitoring_project(tmp_path_factory):
    answers = {**profile_answers("monitoring"), "deploy_target": "coolify", "use_celery_beat": False}
    return render(tmp_path_factory.mktemp("monitoring-coolify") / "project", answers)


def compose_services(project, workdir) -> dict:
    """docker-compose.prod.yml as the real Compose parser resolves it."""
    if read_answers(project)["deploy_target"] == "coolify":
        coolify.prepare_deployment(project, workdir)
        result = compose_config(workdir, PRODUCTION, "--format", "json")
    else:
        result = compose_config(project, PRODUCTION, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


@pytest.mark.parametrize("target", ["compose", "coolify"])
def test_every_target_prometheus_scrapes_is_a_service_it_can_reach(
    target, monitoring_project, coolify_monitoring_project, tmp_path
):
    """No registry is reachable here, so the monitoring images cannot run in
    the container tier: what Compose resolves is checked instead. Each host
    prometheus.yml and blackbox.yml name is a service on a network they
    share, on the port it listens on."""
    project = monitoring_project if target == "compose" else coolify_monitoring_project
    services = compose_services(project, tmp_path / "compose")

    def networks(name: str) -> set[str]:
        return set(services[name].get("networks") or {"default": None})

    def reachable(client: str, target: str) -> bool:
        host = target.split("://")[-1].split("/")[0].split(":")[0]
        return host in services and bool(networks(client) & networks(host))

    scrape = yaml.safe_load((project / monitoring.MONITORING_DIR / "prometheus.yml").read_text())
    for job in scrape["scrape_configs"]:
        for target_ in [t for static in job["static_configs"] for t in static["targets"]]:
            if job.get("metrics_path") == "/probe":
                assert reachable("prometheus", "blackbox-exporter:9115")
                assert reachable("blackbox-exporter", target_), target_
            else:
                assert reachable("prometheus", target_), target_
    for alertmanagers in scrape["alerting"]["alertmanagers"]:
        assert all(reachable("prometheus", t) for static in alertmanagers["static_configs"] for t in static["targets"])
    (celery,) = [
        job["static_configs"][0]["targets"][0] for job in scrape["scrape_configs"] if job["job_name"] == "celery"
    ]
    assert f"--port {celery.split(':')[1]}" in " ".join(services["celery-metrics"]["command"])
    # Prometheus holds the token web asks for; Alertmanager reads what monitoring-config writes.
    assert services["prometheus"]["secrets"] == [{"source": "metrics_token", "target": "/run/secrets/metrics_token"}]
    (written,) = [v for v in services["monitoring-config"]["volumes"] if v["target"] == "/run/alertmanager"]
    assert {"source": written["source"], "target": "/etc/alertmanager", "read_only": True}.items() <= next(
        v for v in services["alertmanager"]["volumes"] if v["target"] == "/etc/alertmanager"
    ).items()
    assert services["alertmanager"]["depends_on"]["monitoring-config"]["condition"] == "service_completed_successfully"
    published = [p for name in ("prometheus", "alertmanager") for p in services[name].get("ports", [])]
    assert all(port["host_ip"] == "127.0.0.1" for port in published), "never on a public address"
    assert published if target == "compose" else not published


def test_production_instruments_requests_queries_and_cache_once(project_copy, venv):
    """What settings/production.py adds, also where base.py already lists
    django-prometheus's middlewares (as OBCMS's old settings did)."""
    base = next(project_copy.glob("src/*/settings/base.py"))
    first = '    "common.middleware.HealthCheckMiddleware",\n'
    before = '    "django_prometheus.middleware.PrometheusAfterMiddleware",\n' + first
    base.write_text(replace_required(base.read_text(), first, before, "the rendered base.py"))
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.MIDDLEWARE, settings.DATABASES['default']['ENGINE'], "
        "settings.CACHES['default']['BACKEND']]))"
    )
    env = settings_env(project_copy, venv)
    middleware, engine, cache = shell(project_copy, venv, env, script).data
    assert middleware[0] == "django_prometheus.middleware.PrometheusBeforeMiddleware"
    assert middleware[-1] == "django_prometheus.middleware.PrometheusAfterMiddleware"
    assert len([name for name in middleware if name.startswith("django_prometheus.")]) == 2
    assert engine == "django_prometheus.db.backends.postgresql"
    assert cache == "django_prometheus.cache.backends.redis.NativeRedisCache"
