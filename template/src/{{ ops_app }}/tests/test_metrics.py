import pytest
from prometheus_client import CONTENT_TYPE_LATEST, Counter

pytestmark = pytest.mark.django_db

PROBE_COUNT = Counter("test_metrics_probe", "Counted by this test module only.")


def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token(client, settings):
    settings.METRICS_TOKEN = "right-token"
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong-token"}, {"HTTP_AUTHORIZATION": "right-token"}):
        response = client.get("/metrics", **header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics?token=right-token").status_code == 401


def test_metrics_answer_the_token_in_prometheus_text_format(client, settings):
    settings.METRICS_TOKEN = "right-token"
    PROBE_COUNT.inc(3)
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer right-token", HTTP_HOST="web:8000")
    assert response.status_code == 200, "answered before host validation, like the probes"
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "test_metrics_probe_total 3.0" in response.content.decode()
