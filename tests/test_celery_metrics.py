"""`manage.py celery_metrics` keeps following Celery's events when Redis
restarts (a deploy, a crash): it must not report "no workers" for ever,
nor hang its scrapes while Redis is down."""

import time

from support.celery import CeleryWorker
from support.http import request
from support.processes import free_port, start, stop, wait_until
from support.redis import RedisServer
from support.render import project_env


def test_the_exporter_sees_workers_again_after_redis_restarts(default_project, venv, database_url, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()  # its own: this test stops it
    env = project_env(
        default_project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url, CELERY_SOFT_SHUTDOWN_TIMEOUT="1"
    )
    port = free_port()
    command = [str(venv / "bin" / "python"), "manage.py", "celery_metrics", "--address", "127.0.0.1", "--port"]
    exporter = start([*command, str(port)], tmp_path / "exporter.log", cwd=default_project / "src", env=env)
    worker = CeleryWorker(default_project, venv, env, tmp_path / "worker.log")

    def metrics() -> str:
        try:
            return request(port, "/metrics", timeout=10).body.decode()
        except OSError:
            return ""

    try:
        wait_until(lambda: "celery_workers_online 0.0" in metrics(), 30, "the exporter", process=exporter)
        worker.start()
        wait_until(lambda: "celery_workers_online 1.0" in metrics(), 30, "the worker seen", process=exporter)
        assert worker.stop() == 0
        wait_until(lambda: "celery_workers_online 0.0" in metrics(), 30, "the worker gone", process=exporter)

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
            process=exporter,
            log=tmp_path / "exporter.log",
        )
    finally:
        worker.stop()
        stop(exporter)
        redis.stop()
