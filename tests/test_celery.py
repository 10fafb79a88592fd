"""A worker started from the rendered celery.py runs a task through a real
Redis, and the result comes back."""

from support.celery import CeleryWorker
from support.project import shell
from support.render import project_env


def test_task_round_trip_through_redis(default_project, venv, database_url, redis, tmp_path):
    # This test is not about shutdown: a short soft shutdown keeps it quick.
    env = project_env(
        default_project, venv, DATABASE_URL=database_url, REDIS_URL=redis.url, CELERY_SOFT_SHUTDOWN_TIMEOUT="1"
    )
    worker = CeleryWorker(default_project, venv, env, tmp_path / "worker.log").start()
    try:
        script = (
            "import json; from django.core.cache import cache; "
            "from common.tasks import HEARTBEAT_CACHE_KEY, record_heartbeat; "
            "result = record_heartbeat.delay(); "
            "print(json.dumps([result.get(timeout=30), cache.get(HEARTBEAT_CACHE_KEY), result.status]))"
        )
        returned, stored, status = shell(default_project, venv, env, script, timeout=60).data
        assert status == "SUCCESS"
        assert returned == stored, "the worker wrote the cache value it returned"
        assert "common.tasks.record_heartbeat" in (tmp_path / "worker.log").read_text()
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()[-3000:]
