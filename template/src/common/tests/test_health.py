import pytest
from django.core.cache import cache

from common.tasks import record_heartbeat

pytestmark = pytest.mark.django_db

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


def test_probes_only_answer_get_and_head(client):
    assert client.post("/health/").status_code == 405
    assert client.head("/health/").status_code == 200


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
    settings.CELERY_BEAT_SCHEDULE = {"record-heartbeat": {"task": "common.tasks.record_heartbeat", "schedule": 60}}
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
