"""Errors reach a person: the rendered project under gunicorn with its
production settings, a Celery worker, PostgreSQL and Redis, an SMTP server
that keeps what it receives (aiosmtpd) and a stand-in for Sentry's
endpoint that records every byte posted to it (support/sentry.py).

An owner's app (tests/fixtures/failing) fails in a view and in a task with
secrets close at hand: in local variables, a log line, the exception's
message, the request's headers and form. The error mail reaches ADMINS in
both log formats, once per kind of error; Sentry receives both errors with
the release, and neither the mail nor anything Sentry received holds a
secret."""

import json
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from support.celery import CeleryWorker
from support.gunicorn import GunicornServer
from support.http import request
from support.owner import add_app
from support.processes import wait_until
from support.project import manage, shell
from support.redis import RedisServer
from support.render import project_env
from support.sentry import SentryRecorder
from support.smtp import SmtpSink, body, subject

DOMAIN = "obcms.gov.ph"
ADMIN = "admin@obcms.gov.ph"
FAILING_APP = Path(__file__).parent / "fixtures" / "failing"
RELEASE = "3f2a9c1e7b"
# Seconds between two mails about one kind of error, in the web tests.
MAIL_INTERVAL = 3


@dataclass
class Reporting:
    project: Path
    venv: Path
    env: dict
    smtp: SmtpSink
    sentry: SentryRecorder
    # Every secret of the test, by what it is: none may leave in a report.
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def reporting(default_project, venv, postgres, tmp_path_factory):
    base = tmp_path_factory.mktemp("errors")
    project = base / "project"
    shutil.copytree(default_project, project)
    add_app(project, "obc_management", FAILING_APP, "failing")
    database_password = secrets.token_urlsafe(24)
    database_url = postgres.create_database("errors", owner="errors_owner", password=database_password)
    redis = RedisServer(base / "redis", password=secrets.token_urlsafe(24)).start()
    smtp = SmtpSink(base / "smtp").start()
    sentry = SentryRecorder().start()
    env = project_env(
        project,
        venv,
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        SENTRY_DSN=sentry.dsn,
        IMAGE_TAG=RELEASE,
        EMAIL_HOST_PASSWORD=secrets.token_urlsafe(24),
        CELERY_SOFT_SHUTDOWN_TIMEOUT="1",
        **smtp.settings,
    )
    found = {name: env[name] for name in ("SECRET_KEY", "EMAIL_HOST_PASSWORD", "METRICS_TOKEN", "HEALTH_CHECK_TOKEN")}
    found |= {"database password": database_password, "Redis password": redis.password, "Sentry key": sentry.key}
    assert all(len(value) >= 20 for value in found.values()), found
    manage(project, venv, env, "migrate_safely").checked()
    # Every failed task is mailed: the worker's tests must not wait out the interval.
    worker = CeleryWorker(project, venv, {**env, "ERROR_MAIL_INTERVAL": "0"}, base / "worker.log").start()
    try:
        yield Reporting(project, venv, env, smtp, sentry, found)
    finally:
        worker.stop()
        sentry.stop()
        smtp.stop()
        redis.stop()


def start_web(reporting: Reporting, log: Path, **env: str) -> GunicornServer:
    # One worker: its mail throttle sees every request.
    return GunicornServer(reporting.project, reporting.venv, {**reporting.env, **env}, log, workers=1).start()


def get(web: GunicornServer, path: str, **kwargs):
    headers = {"X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
    return request(web.port, path, host_header=DOMAIN, headers=headers, **kwargs)


def secrets_in(text: str, found: dict[str, str], allowed: tuple[str, ...] = ()) -> list[str]:
    """Where text holds any 12 characters in a row of a secret: the secret's
    name and what surrounds it."""
    leaks = []
    for name, value in found.items():
        for start in range(len(value) - 11) if name not in allowed else ():
            if (at := text.find(value[start : start + 12])) >= 0:
                leaks.append(f"{name}: ...{text[max(at - 300, 0) : at + 60]}")
                break
    return leaks


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_unhandled_errors_are_mailed_to_the_admins_once_per_kind(reporting, log_format, tmp_path):
    log = tmp_path / "gunicorn.log"
    web = start_web(reporting, log, LOG_FORMAT=log_format, ERROR_MAIL_INTERVAL=str(MAIL_INTERVAL))
    try:
        seen = len(reporting.smtp.messages())
        # Mail is sent before the response: when a 500 arrives, its mail is in the sink.
        for _ in range(3):
            assert get(web, "/failing/crash/").status == 500
        assert get(web, "/failing/other-crash/").status == 500
        mails = reporting.smtp.messages()[seen:]
        assert sorted(subject(message) for message in mails) == [
            "[obcms] ERROR (EXTERNAL IP): Internal Server Error: /failing/crash/",
            "[obcms] ERROR (EXTERNAL IP): Internal Server Error: /failing/other-crash/",
        ]
        crash = next(message for message in mails if "/failing/crash/" in subject(message))
        assert crash["To"] == ADMIN and crash["From"] == ADMIN
        text = body(crash)
        assert "RuntimeError at /failing/crash/\ncannot reach postgres://errors_owner:[Filtered]@" in text
        assert secrets_in(crash.as_string(), reporting.secrets) == []

        time.sleep(MAIL_INTERVAL + 0.2)
        assert get(web, "/failing/crash/").status == 500
        (later,) = reporting.smtp.messages()[seen + 2 :]
        assert subject(later).endswith("/failing/crash/ (and 2 more like it, not mailed)")
    finally:
        web.stop()

    lines = [line for line in log.read_text().splitlines() if "Internal Server Error: /failing/crash/" in line]
    assert len(lines) == 4, "each error is logged, mailed or not"
    if log_format == "json":
        entry = json.loads(lines[0])
        assert entry["level"] == "ERROR" and entry["logger"] == "django.request"
        assert "RuntimeError" in entry["exception"]
    else:
        assert lines[0].startswith("[ERROR] ") and " django.request " in lines[0]


def test_sendtestemail_reaches_the_admins(reporting):
    manage(reporting.project, reporting.venv, reporting.env, "sendtestemail", "--admins").checked()
    (message,) = reporting.smtp.wait_for(lambda message: "Test email from" in subject(message))
    assert message["To"] == ADMIN
    assert subject(message).startswith("[obcms] ")


def test_a_failed_task_is_mailed_to_the_admins(reporting):
    code = "from failing.tasks import crash_task; crash_task.delay()"
    shell(reporting.project, reporting.venv, reporting.env, code).checked()
    (message,) = reporting.smtp.wait_for(lambda message: "failing.tasks.crash_task" in subject(message))
    assert message["To"] == ADMIN
    assert "RuntimeError" in body(message)
    assert secrets_in(message.as_string(), reporting.secrets) == []


def test_sentry_receives_errors_of_requests_and_tasks_without_a_secret(reporting, tmp_path):
    sentry = reporting.sentry
    typed = {
        "password typed in the form": secrets.token_urlsafe(24),
        "bearer token": secrets.token_urlsafe(24),
        "session cookie": secrets.token_urlsafe(24),
        "task's password argument": secrets.token_urlsafe(24),
    }
    web = start_web(reporting, tmp_path / "gunicorn.log")
    try:
        response = get(
            web,
            "/failing/crash/?page=2",
            method="POST",
            body=urlencode({"password": typed["password typed in the form"], "note": "hello"}).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"Bearer {typed['bearer token']}",
                "Cookie": f"sessionid={typed['session cookie']}",
            },
        )
        assert response.status == 500
    finally:
        web.stop()
    task_password = typed["task's password argument"]
    code = f"from failing.tasks import crash_task; crash_task.delay(password={task_password!r})"
    shell(reporting.project, reporting.venv, reporting.env, code).checked()

    def errors() -> dict[str, dict]:
        """The RuntimeError events, by where they happened (a task's has no request)."""
        found = {}
        for event in sentry.events():
            if event.get("exception", {}).get("values", [{}])[-1].get("type") == "RuntimeError":
                found["web" if "request" in event else "task"] = event
        return found if len(found) == 2 else {}

    events = wait_until(errors, 30, "both errors in Sentry", interval=0.2)
    web_event, task_event = events["web"], events["task"]
    for event in (web_event, task_event):
        assert event["release"] == RELEASE
        assert event["environment"] == "production"
    assert web_event["request"]["url"].endswith("/failing/crash/")
    assert web_event["request"]["data"] == {"password": "[Filtered]", "note": "hello"}
    assert web_event["exception"]["values"][-1]["value"].startswith("cannot reach postgres://errors_owner:[Filtered]@")
    assert "Connecting to postgres://errors_owner:[Filtered]@" in json.dumps(web_event["breadcrumbs"])
    assert task_event["transaction"] == "failing.tasks.crash_task"
    assert task_event["exception"]["values"][-1]["value"].startswith("the broker redis://:[Filtered]@")

    # Every byte received: the Sentry key only where the protocol puts it
    # (the auth header and the envelope's header, both for Sentry itself).
    everything = {**reporting.secrets, **typed}
    assert sentry.received
    for received in sentry.received:
        header, items = received.envelope()
        headers = json.dumps(received.headers)
        assert secrets_in(headers, everything, allowed=("Sentry key",)) == []
        assert secrets_in(json.dumps(header), everything, allowed=("Sentry key",)) == []
        assert header.get("trace", {}).get("public_key", sentry.key) == sentry.key, "Sentry's sampling needs it"
        for _, payload in items:
            assert secrets_in(payload.decode(), everything) == []
