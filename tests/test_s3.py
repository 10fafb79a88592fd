"""media_storage: s3. The rendered production settings (django-storages)
against a real S3-compatible server that checks signatures (SeaweedFS on
127.0.0.2): uploads land in the bucket, stay private, open with signed URLs
that expire, never replace each other, and a wrong key is refused. The
Amazon S3 and DigitalOcean renders sign URLs for their providers' endpoints."""

import json
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from support import dockerfile
from support.compose import compose_config
from support.gunicorn import GunicornServer
from support.http import request, request_url
from support.project import manage, shell, signed_in_session
from support.render import profile_answers, project_env, project_venv, read_env_file, render
from support.s3 import HOST, S3Server

BUCKET = "obcms-media"  # s3_bucket_name of the default project_slug
ACCESS_KEY = "obcms-test-access-key"
SECRET_KEY = "obcms-test-secret-key-0123456789abcdef"
DOMAIN = "obcms.gov.ph"


@pytest.fixture(scope="module")
def s3_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("s3") / "project", profile_answers("s3-minio"))


@pytest.fixture(scope="module")
def s3_venv(s3_project) -> Path:
    return project_venv(s3_project)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("seaweedfs"), ACCESS_KEY, SECRET_KEY, [BUCKET]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_env(s3_project, s3_venv, s3_server, postgres, redis) -> dict:
    """The production environment of the web container, with the bucket."""
    env = project_env(
        s3_project,
        s3_venv,
        DATABASE_URL=postgres.create_database("s3_media"),
        REDIS_URL=redis.url,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_S3_ENDPOINT_URL=s3_server.endpoint_url,
    )
    assert env["AWS_STORAGE_BUCKET_NAME"] == BUCKET, "the bucket named in the rendered .env"
    migrated = manage(s3_project, s3_venv, env, "migrate_safely")
    assert migrated.returncode == 0, migrated.stderr
    return env


def save(project, venv, env, name: str, content: bytes):
    code = f"""
import json
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
name = default_storage.save({name!r}, ContentFile({content!r}))
print(json.dumps({{"name": name, "url": default_storage.url(name)}}))
"""
    return shell(project, venv, env, code)


def test_an_upload_lands_in_the_bucket_and_is_private(s3_project, s3_venv, s3_env, s3_server):
    saved = save(s3_project, s3_venv, s3_env, "reports/q1.txt", b"quarterly report").data
    assert s3_server.stored(BUCKET, saved["name"]) == b"quarterly report"
    unsigned = request(s3_server.port, f"/{BUCKET}/{saved['name']}", host=HOST)
    assert unsigned.status == 403
    assert b"quarterly report" not in unsigned.body


def test_its_signed_url_works_and_carries_an_expiry(s3_project, s3_venv, s3_env, s3_server):
    saved = save(s3_project, s3_venv, s3_env, "reports/q2.txt", b"second quarter").data
    url = urlsplit(saved["url"])
    assert f"{url.scheme}://{url.netloc}" == s3_server.endpoint_url
    assert url.path == f"/{BUCKET}/{saved['name']}", "path-style addressing for MinIO"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["3600"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith(f"{ACCESS_KEY}/")
    assert "X-Amz-Signature" in query
    response = request_url(saved["url"])
    assert response.status == 200
    assert response.body == b"second quarter"


def test_a_signed_url_stops_working_when_it_expires(s3_project, s3_venv, s3_env):
    env = {**s3_env, "AWS_QUERYSTRING_EXPIRE": "1"}
    saved = save(s3_project, s3_venv, env, "reports/short-lived.txt", b"short-lived").data
    assert parse_qs(urlsplit(saved["url"]).query)["X-Amz-Expires"] == ["1"]
    time.sleep(2.5)
    assert request_url(saved["url"]).status == 403


def test_saving_the_same_name_twice_keeps_both_under_unguessable_names(s3_project, s3_venv, s3_env, s3_server):
    first = save(s3_project, s3_venv, s3_env, "forms/application.txt", b"first").data["name"]
    second = save(s3_project, s3_venv, s3_env, "forms/application.txt", b"second").data["name"]
    for name in (first, second):
        assert re.fullmatch(r"forms/application_[A-Za-z0-9]{22}\.txt", name), name
    assert first != second
    assert s3_server.stored(BUCKET, first) == b"first"
    assert s3_server.stored(BUCKET, second) == b"second"


# Uploads that would run as part of a site if sent as they are: a page, a
# drawing with a script, a script, and a PNG that is also a page (a polyglot).
HOSTILE_UPLOADS = {
    "evil.html": b"<script>alert(document.cookie)</script>",
    "evil.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "evil.js": b"alert(document.cookie)",
    "evil.png": b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
}


@pytest.mark.parametrize("file_name", list(HOSTILE_UPLOADS))
def test_hostile_uploads_come_from_the_bucket_as_downloads(s3_project, s3_venv, s3_env, file_name):
    """The signed URL makes the S3 server answer with a safe type and
    disposition (response-content-type, response-content-disposition). The
    object is stored with them too, for a URL signed without them; SeaweedFS
    keeps the disposition but replaces a stored application/octet-stream
    with a type guessed from the name (so do some other S3-compatible
    servers), which is why the signed parameters matter."""
    code = f"""
import json
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
name = default_storage.save("uploads/{file_name}", ContentFile({HOSTILE_UPLOADS[file_name]!r}, name="x.html"))
client = default_storage.connection.meta.client
bare = client.generate_presigned_url("get_object", Params={{"Bucket": default_storage.bucket_name, "Key": name}})
print(json.dumps([default_storage.url(name), bare]))
"""
    signed_url, bare_url = shell(s3_project, s3_venv, s3_env, code).data
    query = parse_qs(urlsplit(signed_url).query)
    if file_name == "evil.png":
        expected = ("image/png", 'inline; filename="evil.png"')
    else:
        expected = ("application/octet-stream", f'attachment; filename="{file_name}"')
    assert (query["response-content-type"][0], query["response-content-disposition"][0]) == expected
    signed = request_url(signed_url)
    assert signed.status == 200 and signed.body == HOSTILE_UPLOADS[file_name]
    assert (signed.header("content-type"), signed.header("content-disposition")) == expected
    bare = request_url(bare_url)
    assert bare.status == 200 and bare.body == HOSTILE_UPLOADS[file_name]
    assert bare.header("content-disposition") == expected[1], "as stored"


def test_a_wrong_secret_key_is_refused(s3_project, s3_venv, s3_env, s3_server):
    env = {**s3_env, "AWS_SECRET_ACCESS_KEY": "not-the-secret-key-of-this-user-000000"}
    attempt = save(s3_project, s3_venv, env, "wrong-secret/upload.txt", b"never stored")
    assert attempt.returncode != 0
    # The first request (does the name exist?) is a HEAD: a bare 403, no error code.
    assert "botocore.exceptions.ClientError: An error occurred (403)" in attempt.stderr
    assert s3_server.keys(BUCKET, "wrong-secret") == []


def test_the_media_view_sends_a_signed_in_user_to_a_working_signed_url(s3_project, s3_venv, s3_env, tmp_path):
    saved = save(s3_project, s3_venv, s3_env, "minutes/meeting.txt", b"minutes of the meeting").data
    cookie = signed_in_session(s3_project, s3_venv, s3_env, "clerk", is_staff=True)
    outsider = signed_in_session(s3_project, s3_venv, s3_env, "reader")
    server = GunicornServer(s3_project, s3_venv, s3_env, tmp_path / "gunicorn.log").start()
    try:
        # As nginx forwards it: HTTPS was at the proxy.
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        path = f"/media/{saved['name']}"
        anonymous = request(server.port, path, host_header=DOMAIN, headers=headers)
        assert anonymous.status == 302
        assert anonymous.header("location").startswith("/admin/login/")

        refused = request(server.port, path, host_header=DOMAIN, headers={**headers, "Cookie": outsider})
        assert refused.status == 403, "media_access lets staff in, not every signed-in user"
        assert "location" not in refused.headers

        signed_in = request(server.port, path, host_header=DOMAIN, headers={**headers, "Cookie": cookie})
        assert signed_in.status == 302, signed_in.body[:500]
        assert "no-store" in signed_in.header("cache-control")
        location = signed_in.header("location")
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=3600" in location
        download = request_url(location)
        assert download.status == 200
        assert download.body == b"minutes of the meeting"
        assert download.header("content-type") == "application/octet-stream"
        assert download.header("content-disposition") == 'attachment; filename="meeting.txt"'
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("AWS_STORAGE_BUCKET_NAME", "AWS_STORAGE_BUCKET_NAME is not set"),
        ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID is not set"),
        ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY is not set"),
        ("AWS_S3_ENDPOINT_URL", "AWS_S3_ENDPOINT_URL is not set"),
    ],
)
def test_a_missing_bucket_or_credential_stops_production(s3_project, s3_venv, s3_env, variable, message):
    env = {key: value for key, value in s3_env.items() if key != variable}
    result = manage(s3_project, s3_venv, env, "check")
    assert result.returncode != 0
    assert "Refusing to start with these production settings" in result.stderr
    assert message in result.stderr


# ------------------------------------------------ Amazon S3 and DigitalOcean Spaces

PROVIDERS = {
    "aws": (
        "ap-southeast-1",
        "https://s3.ap-southeast-1.amazonaws.com",
        f"https://{BUCKET}.s3.ap-southeast-1.amazonaws.com",
    ),
    "digitalocean": ("sgp1", "https://sgp1.digitaloceanspaces.com", f"https://{BUCKET}.sgp1.digitaloceanspaces.com"),
}


@pytest.fixture(scope="module", params=list(PROVIDERS))
def provider_project(request, tmp_path_factory, s3_venv):
    answers = {"media_storage": "s3", "s3_provider": request.param}
    project = render(tmp_path_factory.mktemp(f"s3-{request.param}") / "project", answers)
    assert project_venv(project) == s3_venv, "every provider needs the same requirements"
    return request.param, project


def provider_env(project, venv, **overrides) -> dict:
    # No server is contacted: URLs are signed locally.
    return project_env(
        project,
        venv,
        DATABASE_URL="postgres://app:app@127.0.0.1:9/unused",
        REDIS_URL="redis://127.0.0.1:9/0",
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        **overrides,
    )


def test_each_provider_signs_urls_for_its_regions_endpoint(provider_project, s3_venv):
    provider, project = provider_project
    region, endpoint, bucket_host = PROVIDERS[provider]
    env = provider_env(project, s3_venv)
    assert env["AWS_S3_REGION_NAME"] == region, "the example region of the rendered .env"
    code = """
import json
from django.conf import settings
from django.core.files.storage import default_storage
print(json.dumps([settings.AWS_S3_ENDPOINT_URL, default_storage.url("reports/q1.txt")]))
"""
    configured, url = shell(project, s3_venv, env, code).data
    assert configured == endpoint
    assert url.startswith(f"{bucket_host}/reports/q1.txt?"), url
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Credential"][0].endswith(f"/{region}/s3/aws4_request")
    assert query["X-Amz-Expires"] == ["3600"]


def test_each_provider_needs_its_region(provider_project, s3_venv):
    _, project = provider_project
    env = provider_env(project, s3_venv, AWS_S3_REGION_NAME="")
    result = manage(project, s3_venv, env, "check")
    assert result.returncode != 0
    assert "AWS_S3_REGION_NAME is not set" in result.stderr


# ------------------------------------------------------------- files around it


def test_the_image_build_collects_static_files_with_s3_settings(s3_project, s3_venv, tmp_path):
    """The Dockerfile's collectstatic, run natively with exactly its
    environment: the placeholders satisfy the production guards."""
    stages = dockerfile.parse(s3_project / "Dockerfile")
    (command, env, workdir) = next(run for run in stages["production"].runs if "collectstatic" in run[0])
    image_paths = {"/opt/venv": str(s3_venv), "/app": str(s3_project)}
    for image_path, local_path in image_paths.items():
        env = {key: value.replace(image_path, local_path) for key, value in env.items()}
        workdir = workdir.replace(image_path, local_path)
    result = subprocess.run(
        ["sh", "-c", command],
        cwd=workdir,
        env={**env, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (s3_project / "src" / "staticfiles" / "staticfiles.json").is_file()


def test_compose_needs_the_bucket_and_keys_and_has_no_media_volume(s3_project):
    assert read_env_file(s3_project / ".env")["AWS_ACCESS_KEY_ID"] == "", "keys are the owner's to fill in"
    missing = compose_config(s3_project, "docker-compose.prod.yml", "--format", "json")
    assert missing.returncode != 0
    assert "set AWS_ACCESS_KEY_ID in .env" in missing.stderr

    keys = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    config = compose_config(s3_project, "docker-compose.prod.yml", "--format", "json", env=keys)
    assert config.returncode == 0, config.stderr
    parsed = json.loads(config.stdout)
    assert "media" not in parsed.get("volumes", {})
    for name, service in parsed["services"].items():
        mounts = [volume.get("source") for volume in service.get("volumes", [])]
        assert "media" not in mounts, name
    assert parsed["services"]["web"]["environment"]["AWS_STORAGE_BUCKET_NAME"] == BUCKET
    assert "MEDIA_X_ACCEL_PREFIX" not in parsed["services"]["web"]["environment"]
    nginx_conf = (s3_project / "deploy/nginx/obcms.conf").read_text()
    assert "protected-media" not in nginx_conf


def test_the_policies_are_documented_for_this_bucket(s3_project):
    guide = (s3_project / "docs/s3.md").read_text()
    for topic in ("Block", "versioning", "lifecycle", "s3/bucket-policy.json", "s3/iam-policy.json"):
        assert topic.lower() in guide.lower(), topic
    bucket_policy = json.loads((s3_project / "docs/s3/bucket-policy.json").read_text())
    (deny,) = bucket_policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    statements = json.loads((s3_project / "docs/s3/iam-policy.json").read_text())["Statement"]
    granted = {action: statement["Resource"] for statement in statements for action in statement["Action"]}
    assert granted["s3:ListBucket"] == f"arn:aws:s3:::{BUCKET}"
    for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        assert granted[action] == f"arn:aws:s3:::{BUCKET}/*"
    lifecycle = json.loads((s3_project / "docs/s3/lifecycle.json").read_text())
    assert lifecycle["Rules"][0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
