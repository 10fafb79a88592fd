"""Redis that cannot lose tasks. The production stack's two Redis servers
run natively with the options docker-compose.prod.yml gives them (as the
real Compose binary reads them): `redis`, Celery's broker and results,
never evicts a key; `cache` drops its least recently used keys. A real
Celery worker shows that clearing the cache loses no queued task, with the
stack's two servers and with REDIS_URL alone (the cache is then database 1
of the same server), and the system checks refuse a cache in the broker's
database or a broker that evicts."""

import secrets

import pytest
import redis as redis_client

from support.celery import CeleryWorker
from support.project import manage, shell
from support.redis import RedisServer, compose_redis_options
from support.render import project_env

TASKS = 20
# Small enough for the test to fill.
CACHE_MAXMEMORY = "2mb"


@pytest.fixture(scope="module")
def stack_redis(default_project, tmp_path_factory):
    """The broker and the cache, each with the options of its compose service."""
    base = tmp_path_factory.mktemp("redis-roles")
    password = secrets.token_urlsafe(24)
    env = {"REDIS_PASSWORD": password, "REDIS_CACHE_MAXMEMORY": CACHE_MAXMEMORY}
    broker, cache = (
        RedisServer(base / name, password=password, options=compose_redis_options(default_project, name, env)).start()
        for name in ("redis", "cache")
    )
    yield broker, cache
    cache.stop()
    broker.stop()


def config(server: RedisServer, name: str) -> str:
    with redis_client.Redis.from_url(server.url, decode_responses=True) as client:
        return client.config_get(name)[name]


def queued(server: RedisServer) -> int:
    with redis_client.Redis.from_url(server.url) as client:
        return client.llen("celery")


def test_the_broker_keeps_every_task_and_the_cache_makes_room(stack_redis):
    broker, cache = stack_redis
    assert config(broker, "maxmemory-policy") == "noeviction"
    assert config(broker, "appendonly") == "yes"
    assert config(broker, "maxmemory") == str(128 * 1024 * 1024)
    assert config(cache, "maxmemory-policy") == "allkeys-lru"
    assert config(cache, "appendonly") == "no"
    assert config(cache, "save") == ""
    assert config(cache, "maxmemory") == str(2 * 1024 * 1024)


@pytest.mark.parametrize("layout", ["the stack's two servers", "REDIS_URL alone"])
def test_clearing_the_cache_loses_no_queued_task(default_project, venv, database_url, stack_redis, layout, tmp_path):
    broker, cache = stack_redis
    with redis_client.Redis.from_url(broker.url) as client:
        client.flushall()
    env = project_env(
        default_project,
        venv,
        DATABASE_URL=database_url,
        REDIS_URL=broker.url,
        REDIS_CACHE_URL=cache.url if layout == "the stack's two servers" else None,
        CELERY_SOFT_SHUTDOWN_TIMEOUT="1",
    )
    # Queued while no worker runs; the cache holds something too.
    code = f"""
import json
from django.core.cache import cache
from common.tasks import record_heartbeat
ids = [record_heartbeat.delay().id for _ in range({TASKS})]
cache.set("report", "cached")
print(json.dumps([ids, cache.get("report")]))
"""
    ids, cached = shell(default_project, venv, env, code).data
    assert cached == "cached"
    assert queued(broker) == TASKS

    code = "import json; from django.core.cache import cache; cache.clear(); print(json.dumps(cache.get('report')))"
    assert shell(default_project, venv, env, code).data is None, "the cache was cleared"
    assert queued(broker) == TASKS

    worker = CeleryWorker(default_project, venv, env, tmp_path / "worker.log").start()
    try:
        code = f"""
import json
from celery.result import AsyncResult
print(json.dumps([AsyncResult(task_id).get(timeout=30) is not None for task_id in {ids!r}]))
"""
        assert shell(default_project, venv, env, code, timeout=120).data == [True] * TASKS
    finally:
        assert worker.stop() == 0, worker.log.read_text()[-3000:]


def test_a_full_cache_drops_old_keys_and_takes_new_ones(default_project, venv, database_url, stack_redis):
    broker, cache = stack_redis
    env = project_env(default_project, venv, DATABASE_URL=database_url, REDIS_URL=broker.url, REDIS_CACHE_URL=cache.url)
    # Twice the cache's memory, in values of 100 kB: every set succeeds.
    code = """
import json
from django.core.cache import cache
for number in range(40):
    cache.set(f"page-{number}", "x" * 100_000)
print(json.dumps([cache.get("page-0") is None, cache.get("page-39") is not None]))
"""
    assert shell(default_project, venv, env, code).data == [True, True]
    with redis_client.Redis.from_url(cache.url) as client:
        assert client.info("stats")["evicted_keys"] > 0


def test_check_refuses_a_cache_in_the_brokers_database_and_a_broker_that_evicts(
    default_project, venv, database_url, stack_redis
):
    broker, cache = stack_redis
    env = project_env(default_project, venv, DATABASE_URL=database_url, REDIS_URL=broker.url, REDIS_CACHE_URL=cache.url)
    deploy_check = ("check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in manage(default_project, venv, env, *deploy_check).checked().stdout

    shared = manage(default_project, venv, {**env, "REDIS_CACHE_URL": broker.url}, "check")
    assert shared.returncode != 0
    assert "common.E002" in shared.stderr and "clearing the cache deletes queued tasks" in shared.stderr

    # A broker with the cache's policy, as managed Redis services often have.
    evicting = manage(default_project, venv, {**env, "REDIS_URL": cache.database_url(2)}, *deploy_check)
    assert evicting.returncode != 0
    assert "common.W003" in evicting.stderr and "maxmemory-policy allkeys-lru" in evicting.stderr
