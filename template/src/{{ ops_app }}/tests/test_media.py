import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.shortcuts import resolve_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    return default_storage.save("reports/q1.txt", ContentFile(b"quarterly report"))


def test_anonymous_users_are_sent_to_sign_in(client, media):
    response = client.get(f"/media/{media}")
    assert response.status_code == 302
    # Wherever the project's sign-in page is (LOGIN_URL).
    assert response["Location"].startswith(resolve_url(django_settings.LOGIN_URL) + "?")


def test_signed_in_users_get_the_file(client, django_user_model, media, settings):
    settings.MEDIA_X_ACCEL_PREFIX = ""
    client.force_login(django_user_model.objects.create_user("reader"))
    response = client.get(f"/media/{media}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"quarterly report"


def test_nginx_sends_the_file_when_it_is_in_front(client, django_user_model, media, settings):
    settings.MEDIA_X_ACCEL_PREFIX = "/protected-media/"
    client.force_login(django_user_model.objects.create_user("reader"))
    response = client.get(f"/media/{media}")
    assert response["X-Accel-Redirect"] == f"/protected-media/{media}"
    assert response.content == b""


def test_paths_outside_the_media_root_are_refused(client, django_user_model, media):
    client.force_login(django_user_model.objects.create_user("reader"))
    assert client.get("/media/../../etc/passwd").status_code in (400, 404)
