"""`manage.py celery_metrics` keeps following Celery's events when Redis
restarts (a deploy, a crash): it must not report "no workers" for ever,
nor hang its scrapes while Redis is down."""

import time

from support.celery import CeleryMetricsExporter, CeleryWorker
from support.processes import wait_until
from support.redis import RedisServer
from support.render import project_env


def test_the_exporter_sees_workers_again_after_redis_restarts(default_project, venv, database_url, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()  # its own: this test stops it
    env = project_env(
        default_project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url, CELERY_SOFT_SHUTDOWN_TIMEOUT="1"
    )
    exporter = CeleryMetricsExporter(default_project, venv, env, tmp_path / "exporter.log")
    metrics = exporter.metrics
    worker = CeleryWorker(default_project, venv, env, tmp_path / "worker.log")
    try:
        exporter.start()
        wait_until(lambda: "celery_workers_online 0.0" in metrics(), 30, "the exporter", process=exporter.process)
        worker.start()
        wait_until(lambda: "celery_workers_online 1.0" in metrics(), 30, "the worker seen", process=exporter.process)
        assert worker.stop() == 0
        wait_until(lambda: "celery_workers_online 0.0" in metrics(), 30, "the worker gone", process=exporter.process)

        redis.stop()
        started = time.monotonic()
        assert "celery_workers_online 0.0" in metrics(), "the exporter answers while Redis is down"
        assert time.monotonic() - started < 5, "without waiting for Redis"
        redis.start()  # the same port again
        worker.start()
        wait_until(
            lambda: "celery_workers_online 1.0" in metrics() and 'celery_queue_length{queue="celery"} 0.0' in metrics(),
            60,
            "the worker seen again after Redis came back",
            process=exporter.process,
            log=tmp_path / "exporter.log",
        )
    finally:
        worker.stop()
        exporter.stop()
        redis.stop()
