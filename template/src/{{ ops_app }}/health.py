"""Liveness, readiness and monitoring probes (served by HealthCheckMiddleware;
under gunicorn, /health/ is answered even earlier, by LivenessFirst).

/health/          liveness: the process answers; no I/O. Restart it if this fails.
/ready/           readiness: the database and the cache each answer within
                  CHECK_TIMEOUT_SECONDS; 503 otherwise. Send traffic only if 200.
                  For probes from inside (Docker, Coolify, a load balancer on
                  the private network): a request that came through the proxy
                  in front gets 404 unless it carries the X-Health-Token.
/health/monitor/  readiness with timings and the Celery heartbeat, for an
                  external monitor; it needs the X-Health-Token header to equal
                  HEALTH_CHECK_TOKEN and is off while that setting is empty.
/metrics          metrics for Prometheus, to holders of METRICS_TOKEN (metrics.py).

However many probes arrive, each process runs one round of checks at a time
and shares its result for RESULT_MAX_AGE_SECONDS: a flood of probes opens at
most one database connection per process.
"""

import hmac
import json
import logging
import os
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse

from .metrics import metrics
from .tasks import HEARTBEAT_CACHE_KEY

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
RESULT_MAX_AGE_SECONDS = 1.0
# The heartbeat task runs every minute; three missed beats mean trouble.
HEARTBEAT_MAX_AGE_SECONDS = 180


def database_ok() -> bool:
    """A connection of the probe's own, made with Django's settings but outside
    its connection pool: a probe must neither wait for nor take a connection
    that requests need, and a fresh connection proves the database accepts
    new ones."""
    connection = connections["default"]
    params = connection.get_connection_params()
    if connection.vendor == "postgresql":
        params["connect_timeout"] = 2  # seconds; libpq's smallest
        # No transaction left open at close: PgBouncer would otherwise throw
        # away the server connection behind it on every probe.
        params["autocommit"] = True
    raw = connection.Database.connect(**params)
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT 1")
        return tuple(cursor.fetchone()) == (1,)
    finally:
        raw.close()


def cache_ok() -> bool:
    cache.set("health:ready", "ok", timeout=10)
    return cache.get("health:ready") == "ok"


CHECKS = {"database": database_ok, "cache": cache_ok}


def run_checks_now() -> dict[str, dict]:
    """Run every check in its own thread; one that has not answered by the
    deadline counts as failed, so a hung dependency cannot hang the probe."""
    results: dict[str, dict] = {}

    def run(name: str, check) -> None:
        started = time.monotonic()
        try:
            ok = bool(check())
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            logger.warning("readiness check %s failed: %s", name, error)
            ok = False
        results[name] = {"ok": ok, "ms": round((time.monotonic() - started) * 1000, 1)}

    threads = [threading.Thread(target=run, args=(name, check), daemon=True) for name, check in CHECKS.items()]
    deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    timed_out = {"ok": False, "ms": CHECK_TIMEOUT_SECONDS * 1000, "error": "timed out"}
    return {name: results.get(name, timed_out) for name in CHECKS}


class SharedChecks:
    """One round of checks at a time in this process; requests that arrive
    meanwhile wait for it and share its result, which is reused while it is
    younger than RESULT_MAX_AGE_SECONDS."""

    def __init__(self):
        self.lock = threading.Lock()
        self.results: dict[str, dict] | None = None
        self.finished = 0.0

    def forget(self) -> None:
        """Run the checks afresh next time (tests change what they check)."""
        self.results = None

    def fresh(self) -> dict[str, dict] | None:
        if self.results is not None and time.monotonic() - self.finished < RESULT_MAX_AGE_SECONDS:
            return self.results
        return None

    def __call__(self) -> dict[str, dict]:
        if (results := self.fresh()) is not None:
            return results
        # A round takes at most CHECK_TIMEOUT_SECONDS; waiting longer means
        # the checks are stuck: answer not ready rather than queue up.
        if not self.lock.acquire(timeout=CHECK_TIMEOUT_SECONDS + 1):
            busy = {"ok": False, "ms": 0.0, "error": "checks busy"}
            return {name: busy for name in CHECKS}
        try:
            if (results := self.fresh()) is None:
                results = self.results = run_checks_now()
                self.finished = time.monotonic()
            return results
        finally:
            self.lock.release()


run_checks = SharedChecks()


def probe_response(data: dict, status: int) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def liveness() -> dict:
    return {"status": "healthy", "version": os.environ.get("APP_VERSION") or "unknown"}


def health(request: HttpRequest) -> JsonResponse:
    return probe_response(liveness(), 200)


def token_matches(request: HttpRequest) -> bool:
    """The X-Health-Token header equals HEALTH_CHECK_TOKEN (compared in
    constant time); never when no token is set."""
    expected = settings.HEALTH_CHECK_TOKEN
    given = request.headers.get("X-Health-Token", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def through_proxy(request: HttpRequest) -> bool:
    """The request came through the proxy in front (nginx, Traefik and
    Cloudflare always add X-Forwarded-For), so from outside: the app's port
    is published nowhere else."""
    return "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META


def ready(request: HttpRequest) -> JsonResponse:
    if through_proxy(request) and not token_matches(request):
        return probe_response({"error": "not found"}, 404)
    results = run_checks()
    ok = all(result["ok"] for result in results.values())
    checks = {name: result["ok"] for name, result in results.items()}
    return probe_response({"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503)


def heartbeat_age() -> float | None:
    try:
        beat = cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:  # noqa: BLE001 - the cache check reports the cause
        return None
    return None if beat is None else round(time.time() - beat, 1)


def monitor(request: HttpRequest) -> JsonResponse:
    if not settings.HEALTH_CHECK_TOKEN:
        return JsonResponse({"error": "monitoring endpoint is off"}, status=404)
    if not token_matches(request):
        return JsonResponse({"error": "unauthorized"}, status=401)
    results = dict(run_checks())  # a copy: the shared result stays as it was
    ok = all(result["ok"] for result in results.values())
    if "record-heartbeat" in settings.CELERY_BEAT_SCHEDULE:
        age = heartbeat_age()
        results["celery"] = {"ok": age is not None and age < HEARTBEAT_MAX_AGE_SECONDS, "heartbeat_age_seconds": age}
        ok = ok and results["celery"]["ok"]
    return probe_response({"status": "ready" if ok else "not_ready", "checks": results}, 200 if ok else 503)


PROBES = {"/health/": health, "/ready/": ready, "/health/monitor/": monitor, "/metrics": metrics}


class LivenessFirst:
    """WSGI wrapper (wsgi.py) that answers /health/ before Django sees the
    request: liveness needs nothing from Django, and skipping its request
    cycle keeps Docker's probe cheap when the container is busy. The same
    answer as health() above; the other probes still go through
    HealthCheckMiddleware."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/health/":
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        body = json.dumps(liveness()).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Content-Length", str(len(body))),
        ]
        start_response("200 OK", headers)
        return [b""] if method == "HEAD" else [body]
