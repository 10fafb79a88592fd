"""Housekeeping tasks, scheduled by CELERY_BEAT_SCHEDULE in settings/base.py."""

import time
from importlib import import_module

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

HEARTBEAT_CACHE_KEY = "celery:heartbeat"


@shared_task
def clear_expired_sessions() -> None:
    """Delete expired sessions, which Django otherwise keeps forever."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


@shared_task
def record_heartbeat() -> float:
    """Store the current time in the cache. /health/monitor/ reports its age:
    a fresh heartbeat shows that beat, the broker and a worker all work."""
    now = time.time()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now
