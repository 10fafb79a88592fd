"""/metrics: the application's metrics in Prometheus's text format.

Only requests with the header "Authorization: Bearer <METRICS_TOKEN>" get
them (Prometheus sends it from a credentials file); while METRICS_TOKEN is
empty the endpoint is off. The metrics themselves come from
django-prometheus (settings/production.py).

Under gunicorn every worker process counts its own requests. gunicorn.conf.py
sets PROMETHEUS_MULTIPROC_DIR, where each worker keeps its counts in a file,
and this view adds up the files of all workers, those that have been
recycled included (prometheus_client's multiprocess mode): whichever worker
answers a scrape, it reports the whole server.
"""

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


def registry():
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY  # one process (manage.py runserver, tests)
    collected = CollectorRegistry()
    MultiProcessCollector(collected)
    return collected


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"error": "metrics endpoint is off"}, status=404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = JsonResponse({"error": "unauthorized"}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    response = HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
