"""The monitoring profile for real: Prometheus runs the rendered scrape
config and alert rules against the running stack (nginx, gunicorn with two
workers, a Celery worker, the celery_metrics exporter, PostgreSQL, Redis,
node-exporter, postgres-exporter, blackbox-exporter), finds every series the
rules and the runbook use, and when a worker or PostgreSQL stops, the
matching alert fires in Alertmanager, whose config `manage.py
alertmanager_config` made from the project's e-mail settings, and its
e-mail reaches an SMTP server.

Each service has its own loopback address with the rendered port, and
Prometheus and blackbox-exporter see them under their compose names (see
support/monitoring.py). Only waiting times change: scrapes and rule
evaluations every second or two, `for:` and Alertmanager's grouping times
cut to seconds."""

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from support import monitoring
from support.backup import run_script, script_env
from support.binaries import require
from support.celery import CeleryMetricsExporter, CeleryWorker
from support.compose import compose_environment
from support.gunicorn import GunicornServer
from support.http import request
from support.nginx import NginxServer, make_certificate
from support.postgres import PostgresServer
from support.processes import Listener, wait_until
from support.project import manage, shell, signed_in_session
from support.redis import RedisServer
from support.render import profile_answers, project_env, project_venv, render
from support.smtp import SmtpSink, subject

DOMAIN = "obcms.gov.ph"
# Their order gives each its address in the test's 127.x.y.0/24 block.
SERVICES = [
    "web",
    "nginx",
    "celery-metrics",
    "node-exporter",
    "postgres-exporter",
    "blackbox-exporter",
    "alertmanager",
    "prometheus",
    "db",
    "redis",
    "smtp",
]
SMTP_PORT = 2525
# Prometheus evaluates rules every this many seconds and scrapes every two;
# `for:` and Alertmanager's group timings become seconds too.
TICK = 1
REQUESTS = 7


@dataclass
class MonitoringStack:
    project: Path
    venv: Path
    env: dict
    address: dict[str, str]
    postgres: PostgresServer
    worker: CeleryWorker
    smtp: SmtpSink
    ca: Path
    processes: list = field(default_factory=list)

    def at(self, service: str, port: int) -> str:
        return f"{self.address[service]}:{port}"

    @property
    def prometheus(self) -> str:
        return self.at("prometheus", 9090)

    @property
    def alertmanager(self) -> str:
        return self.at("alertmanager", 9093)

    def https(self, path: str, **kwargs):
        return request(443, path, host=self.address["nginx"], host_header=DOMAIN, tls_ca=self.ca, **kwargs)

    def start(self, server: Listener) -> Listener:
        self.processes.append(server)
        return server.start()

    def query(self, promql: str) -> list[dict]:
        try:
            return monitoring.query(self.prometheus, promql)
        except OSError:
            return []


def start_server(stack: MonitoringStack, command: list[str], log: Path, address: str, **popen) -> Listener:
    host, port = address.rsplit(":", 1)
    return stack.start(Listener(command, log, host, int(port), **popen))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("monitoring")
    project = render(base / "project", profile_answers("monitoring"))
    venv = project_venv(project)
    prefix = monitoring.loopback_block()
    address = {name: f"{prefix}{number}" for number, name in enumerate(SERVICES, 1)}
    rendered = project / monitoring.MONITORING_DIR

    postgres = PostgresServer(host=address["db"]).start()  # its own: a test stops it
    redis = RedisServer(base / "redis", host=address["redis"]).start()
    media = Path(tempfile.mkdtemp(prefix="obcms-test-media-"))
    media.chmod(0o755)
    upload_temp = base / "upload-temp"  # the compose file's upload_tmp volume
    upload_temp.mkdir()
    database_url = postgres.create_database("monitoring")
    smtp = SmtpSink(base / "smtp", host=address["smtp"], port=SMTP_PORT)
    env = {
        **compose_environment(project, "web"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "MEDIA_ROOT": str(media),
        "FILE_UPLOAD_TEMP_DIR": str(upload_temp),
        "CELERY_SOFT_SHUTDOWN_TIMEOUT": "1",
        # Alerts go through the project's own e-mail settings, to the sink.
        **smtp.settings,
    }
    env = project_env(project, venv, **env)
    worker = CeleryWorker(project, venv, env, base / "worker.log")
    ca = make_certificate(base / "certs", [DOMAIN, f"www.{DOMAIN}"])
    stack = MonitoringStack(project, venv, env, address, postgres, worker, smtp, ca)
    gunicorn = nginx = None
    try:  # from here on, whatever fails stops the servers already started
        manage(project, venv, env, "collectstatic", "--noinput").checked()
        manage(project, venv, env, "migrate_safely").checked()
        # The backup job leaves its success time where node-exporter reads it.
        (project / "src" / "media").mkdir(exist_ok=True)
        backup = run_script(project, script_env(env, database_url, "app-password"), "scripts/backup.sh")
        assert backup.returncode == 0, backup.stdout + backup.stderr

        gunicorn = GunicornServer(project, venv, env, base / "gunicorn.log", host=address["web"], port=8000).start()
        nginx = NginxServer(
            base / "nginx",
            project / "deploy/nginx/obcms.conf",
            f"{address['web']}:8000",
            base / "certs",
            media,
            address=address["nginx"],
        ).start()
        worker.start()
        # On the port prometheus.yml scrapes, which the compose service passes.
        stack.start(
            CeleryMetricsExporter(project, venv, env, base / "celery-metrics.log", address["celery-metrics"], 9808)
        )
        start_server(
            stack,
            [
                require(monitoring.NODE_EXPORTER),
                f"--web.listen-address={stack.at('node-exporter', 9100)}",
                f"--collector.textfile.directory={project / 'metrics'}",
            ],
            base / "node-exporter.log",
            stack.at("node-exporter", 9100),
        )
        postgres_dsn = database_url.replace("postgres://", "postgresql://") + "?sslmode=disable"
        start_server(
            stack,
            [require(monitoring.POSTGRES_EXPORTER), f"--web.listen-address={stack.at('postgres-exporter', 9187)}"],
            base / "postgres-exporter.log",
            stack.at("postgres-exporter", 9187),
            env={"DATA_SOURCE_NAME": postgres_dsn},
        )
        hosts = monitoring.hosts_file(base / "hosts", {"localhost": "127.0.0.1", **address})
        start_server(
            stack,
            monitoring.in_mount_namespace(
                [
                    require(monitoring.BLACKBOX_EXPORTER),
                    f"--config.file={rendered / 'blackbox.yml'}",
                    f"--web.listen-address={stack.at('blackbox-exporter', 9115)}",
                ],
                hosts=hosts,
            ),
            base / "blackbox-exporter.log",
            stack.at("blackbox-exporter", 9115),
        )
        smtp.start()
        template = base / "alertmanager.template.yml"
        template.write_text(monitoring.shortened((rendered / "alertmanager.yml").read_text(), TICK))
        config = base / "alertmanager.yml"
        manage(project, venv, env, "alertmanager_config", str(config), "--template", str(template)).checked()
        start_server(
            stack,
            [
                require(monitoring.ALERTMANAGER),
                f"--config.file={config}",
                f"--storage.path={base / 'alertmanager-data'}",
                f"--web.listen-address={stack.at('alertmanager', 9093)}",
                "--cluster.listen-address=",
            ],
            base / "alertmanager.log",
            stack.at("alertmanager", 9093),
        )
        config_dir = base / "prometheus"
        config_dir.mkdir()
        scrape = yaml.safe_load((rendered / "prometheus.yml").read_text())
        # Two ticks: postgres-exporter takes a second to report pg_up 0.
        scrape["global"] = {"scrape_interval": f"{2 * TICK}s", "evaluation_interval": f"{TICK}s"}
        (config_dir / "prometheus.yml").write_text(yaml.safe_dump(scrape, sort_keys=False))
        (config_dir / "alerts.yml").write_text(monitoring.shortened((rendered / "alerts.yml").read_text(), 2 * TICK))
        start_server(
            stack,
            monitoring.in_mount_namespace(
                [
                    require(monitoring.PROMETHEUS),
                    f"--config.file={config_dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={base / 'prometheus-data'}",
                    f"--web.listen-address={stack.prometheus}",
                ],
                hosts=hosts,
                run_secrets=monitoring.secrets_dir(base, env["METRICS_TOKEN"]),
            ),
            base / "prometheus.log",
            stack.prometheus,
        )
        yield stack
    finally:
        for process in reversed(stack.processes):
            process.stop()
        smtp.stop()
        worker.stop()
        if nginx:
            nginx.stop()
        if gunicorn:
            gunicorn.stop()
        redis.stop()
        postgres.remove()
        shutil.rmtree(media, ignore_errors=True)


def test_metrics_are_not_public(stack):
    token = stack.env["METRICS_TOKEN"]
    assert stack.https("/metrics").status == 401
    assert stack.https("/metrics", headers={"Authorization": f"Bearer {token[:-1]}"}).status == 401
    assert stack.https("/metrics", headers={"Authorization": token}).status == 401
    assert stack.https("/metrics", headers={"Authorization": f"Bearer {token}"}).status == 200


def test_prometheus_scrapes_every_target_and_finds_every_series(stack):
    jobs = [
        job["job_name"]
        for job in yaml.safe_load((stack.project / "deploy/monitoring/prometheus.yml").read_text())["scrape_configs"]
    ]

    def targets_up():
        up = {sample["metric"]["job"]: sample["value"][1] for sample in stack.query("up")}
        return set(up) == set(jobs) and set(up.values()) == {"1"}

    wait_until(targets_up, 30, f"every job of prometheus.yml up: {jobs}", interval=0.5)

    # A signed-in user's requests read the session and the user: queries.
    cookie = signed_in_session(stack.project, stack.venv, stack.env, "editor")
    for _ in range(REQUESTS):
        assert stack.https("/admin/login/", headers={"Cookie": cookie}).status == 200
    task = "from common.tasks import record_heartbeat; record_heartbeat.delay().get(timeout=30)"
    shell(stack.project, stack.venv, stack.env, task, timeout=60).checked()

    # Counted once, whichever of the two gunicorn workers served each request.
    logins = 'sum(django_http_responses_total_by_status_view_method_total{view="admin:login", status="200"})'
    wait_until(lambda: [float(s["value"][1]) for s in stack.query(logins)] == [REQUESTS], 30, logins, interval=0.5)
    expected = [
        f'django_http_requests_latency_seconds_by_view_method_count{{view="admin:login"}} == {REQUESTS}',
        "django_db_execute_total > 0",
        "django_cache_get_total > 0",
        'celery_tasks_total{name="common.tasks.record_heartbeat", state="succeeded"} == 1',
        'celery_task_last_sent_timestamp_seconds{name="common.tasks.record_heartbeat"}',
        'celery_task_runtime_seconds_count{name="common.tasks.record_heartbeat"} == 1',
        "celery_workers_online == 1",
        'celery_queue_length{queue="celery"} == 0',
        'time() - backup_last_success_timestamp_seconds{kind="local"} < 600',
        'node_filesystem_avail_bytes{mountpoint="/"}',
        "pg_up == 1",
        "pg_stat_activity_count",
        "pg_settings_max_connections",
        'probe_success{job="readiness", instance="http://web:8000/ready/"} == 1',
        'probe_success{job="site", instance="https://nginx/health/"} == 1',
        'probe_ssl_earliest_cert_expiry{job="site"} > time()',
    ]
    missing = expected
    deadline = time.monotonic() + 90  # scrapes run late on a loaded machine
    while missing and time.monotonic() < deadline:
        missing = [promql for promql in missing if not stack.query(promql)]
        time.sleep(0.5)
    assert missing == [], "series Prometheus does not find"
    firing = {alert["labels"]["alertname"] for alert in monitoring.firing_alerts(stack.alertmanager)}
    assert "CertificateExpiresSoon" in firing, "the test's certificate expires in 2 days"
    # No beat runs here; and DiskFilling's prediction, fed seconds of samples
    # instead of hours, extrapolates whatever the tests write meanwhile.
    assert firing - {"CertificateExpiresSoon", "CeleryBeatSilent", "DiskFilling"} == set()


def test_the_runbooks_queries_run(stack):
    """Every query the runbook gives operators to paste is valid PromQL
    against these metrics, and finds data."""
    queries = monitoring.runbook_queries(stack.project)
    assert len(queries) >= 10
    # No task has failed and no error was served: those two find nothing.
    nothing_yet = [
        'sum by (view) (rate(django_http_responses_total_by_status_view_method_total{status=~"5.."}[5m]))',
        'sum by (name) (increase(celery_tasks_total{state="failed"}[1h]))',
    ]
    # A rate needs two samples of a series: new series get a few scrapes
    # (late ones on a loaded machine).
    deadline = time.monotonic() + 90
    while (empty := [promql for promql in queries if not stack.query(promql)]) != nothing_yet:
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    assert empty == nothing_yet


def test_a_stopped_worker_and_a_stopped_database_reach_the_admins_by_mail(stack):
    def mailed(alertname: str):
        return [message for message in stack.smtp.messages() if alertname in subject(message)]

    def firing(alertname: str) -> bool:
        return alertname in {alert["labels"]["alertname"] for alert in monitoring.firing_alerts(stack.alertmanager)}

    assert stack.worker.stop() == 0
    wait_until(lambda: firing("CeleryWorkersGone"), 30, "CeleryWorkersGone in Alertmanager", interval=0.5)
    (message,) = wait_until(lambda: mailed("CeleryWorkersGone"), 30, "the CeleryWorkersGone e-mail", interval=0.5)
    assert message["To"] == "admin@obcms.gov.ph"
    assert message["From"] == "admin@obcms.gov.ph"

    stack.postgres.stop()
    for alertname in ("PostgresDown", "SiteDown"):
        wait_until(lambda: firing(alertname), 30, f"{alertname} in Alertmanager", interval=0.5)  # noqa: B023
        wait_until(lambda: mailed(alertname), 30, f"the {alertname} e-mail", interval=0.5)  # noqa: B023
