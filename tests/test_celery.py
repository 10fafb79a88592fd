"""A worker started from the rendered celery.py runs a task through a real
Redis, and the result comes back."""

import json
import subprocess

from support.celery import CeleryWorker
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
        client = subprocess.run(
            [str(venv / "bin" / "python"), "manage.py", "shell", "--verbosity", "0", "-c", script],
            cwd=default_project / "src",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert client.returncode == 0, client.stderr
        returned, stored, status = json.loads(client.stdout)
        assert status == "SUCCESS"
        assert returned == stored, "the worker wrote the cache value it returned"
        assert "common.tasks.record_heartbeat" in (tmp_path / "worker.log").read_text()
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()[-3000:]
