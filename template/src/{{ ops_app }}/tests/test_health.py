import json
import logging

import pytest
from django.core.cache import cache

from ..health import LivenessFirst, run_checks
from ..tasks import record_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_checks():
    """Each test sees its own settings checked, not a result shared from before."""
    run_checks.forget()


# A Redis address where nothing listens: the cache check fails at once.
UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


def test_health_answers_any_host_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/", HTTP_HOST="container-probe.invalid")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response["Cache-Control"] == "no-store"


def test_ready_when_database_and_cache_answer(client):
    response = client.get("/ready/")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": True, "cache": True}}


def test_not_ready_when_the_cache_is_unreachable(client, settings):
    settings.CACHES = UNREACHABLE_CACHE
    response = client.get("/ready/")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "cache": False}


def test_ready_through_the_proxy_needs_the_token(client, settings):
    """nginx, Traefik and Cloudflare add X-Forwarded-For: such a request came
    from outside, where /ready/ is not for everyone."""
    settings.HEALTH_CHECK_TOKEN = "right-token"
    proxied = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert client.get("/ready/", **proxied).status_code == 404
    assert client.get("/ready/", **proxied, HTTP_X_HEALTH_TOKEN="wrong-token").status_code == 404
    assert client.get("/ready/", **proxied, HTTP_X_HEALTH_TOKEN="right-token").status_code == 200
    assert client.get("/ready/", HTTP_FORWARDED="for=203.0.113.9").status_code == 404
    settings.HEALTH_CHECK_TOKEN = ""
    assert client.get("/ready/", **proxied, HTTP_X_HEALTH_TOKEN="").status_code == 404


def test_a_failing_probe_is_a_warning_never_an_error_to_mail(client, settings, caplog):
    settings.CACHES = UNREACHABLE_CACHE
    request_log = logging.getLogger("django.request")  # does not propagate to caplog's root handler
    request_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING):
            assert client.get("/ready/").status_code == 503
    finally:
        request_log.removeHandler(caplog.handler)
    assert [record.name for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert "/ready/ answered 503" in caplog.text


def test_probes_only_answer_get_and_head(client):
    assert client.post("/health/").status_code == 405
    assert client.head("/health/").status_code == 200


def call_wsgi(app, method: str, path: str) -> tuple[str, dict, bytes]:
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response))
    return seen["status"], seen["headers"], body


def test_wsgi_answers_liveness_like_the_middleware_without_calling_django(client):
    def django(environ, start_response):
        raise AssertionError("/health/ reached Django")

    status, headers, body = call_wsgi(LivenessFirst(django), "GET", "/health/")
    assert status == "200 OK"
    assert json.loads(body) == client.get("/health/").json()
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
    assert call_wsgi(LivenessFirst(django), "HEAD", "/health/")[:2] == (status, headers)
    assert call_wsgi(LivenessFirst(django), "POST", "/health/")[0].startswith("405")


def test_wsgi_passes_every_other_path_to_django():
    def django(environ, start_response):
        start_response("204 No Content", [])
        return [environ["PATH_INFO"].encode()]

    for path in ("/ready/", "/health/monitor/", "/health", "/admin/"):
        assert call_wsgi(LivenessFirst(django), "GET", path) == ("204 No Content", {}, path.encode())


def test_monitor_is_off_without_a_token(client, settings):
    settings.HEALTH_CHECK_TOKEN = ""
    assert client.get("/health/monitor/", HTTP_X_HEALTH_TOKEN="").status_code == 404


def test_monitor_refuses_a_wrong_token(client, settings):
    settings.HEALTH_CHECK_TOKEN = "right-token"
    assert client.get("/health/monitor/").status_code == 401
    assert client.get("/health/monitor/", HTTP_X_HEALTH_TOKEN="wrong-token").status_code == 401
    assert client.get("/health/monitor/?token=right-token").status_code == 401


def test_monitor_reports_checks_and_the_celery_heartbeat(client, settings):
    settings.HEALTH_CHECK_TOKEN = "right-token"
    settings.CELERY_BEAT_SCHEDULE = {"record-heartbeat": {"task": record_heartbeat.name, "schedule": 60}}
    cache.clear()
    stale = client.get("/health/monitor/", HTTP_X_HEALTH_TOKEN="right-token")
    assert stale.status_code == 503
    assert stale.json()["checks"]["celery"]["heartbeat_age_seconds"] is None

    record_heartbeat.delay()
    fresh = client.get("/health/monitor/", HTTP_X_HEALTH_TOKEN="right-token")
    assert fresh.status_code == 200
    body = fresh.json()
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"]
    assert 0 <= body["checks"]["celery"]["heartbeat_age_seconds"] < 5
