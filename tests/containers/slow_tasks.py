"""A test-only Django app for the container tier's Celery tests: a task that
sleeps, counting its starts and ends in the cache (and where it last
started), where the tests read them. The tests put the app into a container
(a mount, or an image built on the rendered one) with an overrides.py that
registers it: the owner's module, which production.py imports last."""

from pathlib import Path

APP = "containertest"

TASKS = f'''\
"""Test-only tasks of the container tier: sleep, and count starts and ends."""

import socket
import time

from celery import shared_task
from django.core.cache import cache


def count(token, event):
    key = f"{APP}:{{token}}:{{event}}"
    cache.add(key, 0, timeout=None)
    return cache.incr(key)


@shared_task
def sleep_and_count(token, seconds):
    cache.set(f"{APP}:{{token}}:host", f"{{socket.gethostname()}} {{time.time()}}", timeout=None)
    count(token, "started")
    time.sleep(seconds)
    count(token, "done")
    return token
'''

OVERRIDES = f"""\
from .base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "{APP}"]
"""


def write_app(directory: Path) -> None:
    """directory/<APP>/ (the app) and directory/overrides.py (which registers it)."""
    (directory / APP).mkdir(parents=True)
    (directory / APP / "__init__.py").write_text("")
    (directory / APP / "tasks.py").write_text(TASKS)
    (directory / "overrides.py").write_text(OVERRIDES)
