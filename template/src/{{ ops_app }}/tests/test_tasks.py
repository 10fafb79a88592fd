from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.utils import timezone

from ..tasks import HEARTBEAT_CACHE_KEY, clear_expired_sessions, record_heartbeat

pytestmark = pytest.mark.django_db


def test_clear_expired_sessions_keeps_live_ones():
    live = SessionStore()
    live["user"] = "still here"
    live.create()
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - timedelta(days=1))

    clear_expired_sessions.delay()

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_record_heartbeat_stores_the_time():
    stored = record_heartbeat.delay().get()
    assert cache.get(HEARTBEAT_CACHE_KEY) == stored
    assert abs(timezone.now().timestamp() - stored) < 5
