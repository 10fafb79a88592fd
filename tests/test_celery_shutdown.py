"""100 Celery tasks queued; the worker (the command of the rendered compose
file's celery service, REMAP_SIGTERM included) gets SIGTERM in the middle;
a second worker starts: every task completes at least once.

The tasks live in a test-only module of the test's private copy of the
render (CELERY_IMPORTS in its overrides.py); each counts its starts and its
completions in a Redis hash of its own database. The test sets
CELERY_SOFT_SHUTDOWN_TIMEOUT=3 (the documented variable; the rendered
default, 60 s, would only make the test wait)."""

import json
import time

import pytest
import redis as redis_client

from support.celery import CeleryWorker
from support.project import manage
from support.render import project_env
from support.testonly import add_settings

TASKS = 100
SOFT_SHUTDOWN_SECONDS = 3

TEST_TASKS = '''"""Tasks for the template's tests only, written into a private copy."""

import os
import time

import redis
from celery import shared_task

store = redis.Redis.from_url(os.environ["TEST_TASK_STORE"])


@shared_task
def count_run(n: int, seconds: float) -> int:
    store.hincrby("started", n, 1)
    time.sleep(seconds)
    store.hincrby("completed", n, 1)
    return n
'''


def counts(store, key: str) -> dict[int, int]:
    return {int(n): int(count) for n, count in store.hgetall(key).items()}


def in_the_middle(started: dict, completed: dict, long_tasks: dict) -> bool:
    running = set(started) - set(completed)
    return len(completed) >= 40 and bool(running) and set(long_tasks) <= running


@pytest.mark.parametrize(
    ("scenario", "long_tasks"),
    [
        # Every task takes 0.2 s: those running at SIGTERM finish within
        # the soft shutdown.
        ("short tasks", {}),
        # Tasks 40 and 41 take 10 s and run when SIGTERM comes: the soft
        # shutdown ends first, they are cut off and go back to the queue.
        ("two tasks outlast the soft shutdown", {40: 10, 41: 10}),
    ],
)
def test_no_task_is_lost_when_the_worker_is_stopped(
    scenario, long_tasks, project_copy, venv, database_url, redis, tmp_path
):
    project = project_copy
    (project / "src" / "testonly_tasks.py").write_text(TEST_TASKS)
    add_settings(project, 'CELERY_IMPORTS = ["testonly_tasks"]')
    store_url = redis.url.rsplit("/", 1)[0] + "/15"
    store = redis_client.Redis.from_url(store_url)
    store.flushdb()
    env = project_env(
        project,
        venv,
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        CELERY_SOFT_SHUTDOWN_TIMEOUT=str(SOFT_SHUTDOWN_SECONDS),
        TEST_TASK_STORE=store_url,
    )
    durations = [long_tasks.get(n, 0.2) for n in range(TASKS)]
    manage(
        project,
        venv,
        env,
        "shell",
        "-c",
        f"from testonly_tasks import count_run\nfor n, seconds in enumerate({json.dumps(durations)}):\n"
        "    count_run.delay(n, seconds)",
    ).checked()

    first = CeleryWorker(project, venv, env, tmp_path / "worker1.log", name="worker1").start()
    try:
        # The middle: 40 tasks done, and some running (in the second case, 40 and 41).
        deadline = time.monotonic() + 60
        while not in_the_middle(counts(store, "started"), counts(store, "completed"), long_tasks):
            assert time.monotonic() < deadline, "the first worker did not get through 40 tasks"
            time.sleep(0.01)
        running = sorted(set(counts(store, "started")) - set(counts(store, "completed")))
        signalled = time.monotonic()
        first_code = first.stop(timeout=SOFT_SHUTDOWN_SECONDS + 30)
        stop_seconds = time.monotonic() - signalled
    finally:
        first.stop()
    done_by_first = len(counts(store, "completed"))

    second = CeleryWorker(project, venv, env, tmp_path / "worker2.log", name="worker2").start()
    try:
        deadline = time.monotonic() + 90
        while len(counts(store, "completed")) < TASKS:
            assert time.monotonic() < deadline, f"{TASKS - len(counts(store, 'completed'))} tasks never completed"
            time.sleep(0.1)
        time.sleep(1)  # a late duplicate would show now
    finally:
        second.stop()

    started, completed = counts(store, "started"), counts(store, "completed")
    lost = sorted(set(range(TASKS)) - set(completed))
    ran_twice = {n: count for n, count in started.items() if count > 1}
    completed_twice = {n: count for n, count in completed.items() if count > 1}
    print(
        f"\n{scenario}: SIGTERM while {running} ran; the first worker exited {first_code} "
        f"{stop_seconds:.1f} s later with {done_by_first} tasks done; lost {lost}; "
        f"started more than once {ran_twice}; completed more than once {completed_twice}"
    )
    assert lost == []
    # Only the tasks cut off by the end of the soft shutdown ran again.
    assert set(ran_twice) <= set(long_tasks)
    assert stop_seconds < SOFT_SHUTDOWN_SECONDS + 10
