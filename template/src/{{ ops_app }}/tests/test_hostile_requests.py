"""Requests an attacker sends: large bodies before signing in, password
guessing. The stack-level tests of the template replay them through nginx."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-for-the-tests"


def test_a_large_body_from_someone_not_signed_in_is_refused_before_the_csrf_check(client, settings):
    """With a forged CSRF cookie, the CSRF check would read the form (and
    store its file) before refusing it: 413 comes first, and nothing reads it."""
    client.cookies["csrftoken"] = "f" * 32
    upload = SimpleUploadedFile("big.bin", b"x" * (settings.ANONYMOUS_MAX_BODY_BYTES + 1))
    response = client.post("/admin/login/", {"username": "x", "file": upload})
    assert response.status_code == 413


def test_a_small_form_from_someone_not_signed_in_reaches_the_csrf_check():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


def test_signed_in_users_may_send_large_bodies(client, django_user_model, settings):
    client.force_login(django_user_model.objects.create_user("uploader", is_staff=True))
    upload = SimpleUploadedFile("big.bin", b"x" * (settings.ANONYMOUS_MAX_BODY_BYTES + 1))
    assert client.post("/admin/", {"file": upload}).status_code != 413


@pytest.fixture
def lockout(settings, django_user_model):
    settings.AXES_ENABLED = True
    django_user_model.objects.create_superuser("admin", "admin@example.org", PASSWORD)
    return settings.AXES_FAILURE_LIMIT


def log_in(client, password: str, address: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": address}
    if forwarded_for:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post("/admin/login/?next=/admin/", {"username": "admin", "password": password}, **extra)


def test_repeated_failed_logins_lock_that_user_out_from_that_address(client, lockout):
    for _ in range(lockout - 1):
        assert log_in(client, "wrong", "203.0.113.9").status_code == 200  # the form again
    assert log_in(client, "wrong", "203.0.113.9").status_code == 429
    assert log_in(client, PASSWORD, "203.0.113.9").status_code == 429
    assert log_in(client, PASSWORD, "198.51.100.7").status_code == 302, "not from elsewhere"


def test_a_forged_forwarded_for_neither_escapes_nor_moves_the_lockout(client, lockout):
    """203.0.113.9 is no trusted proxy: its X-Forwarded-For is not believed."""
    for attempt in range(lockout):
        log_in(client, "wrong", "203.0.113.9", forwarded_for=f"192.0.2.{attempt}")
    assert log_in(client, PASSWORD, "203.0.113.9", forwarded_for="192.0.2.200").status_code == 429
    assert log_in(client, PASSWORD, "192.0.2.1").status_code == 302
