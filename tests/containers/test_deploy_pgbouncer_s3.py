"""db_pooling: pgbouncer with media_storage: s3 (a self-hosted S3-compatible
server), run for real: web and celery reach PostgreSQL through the PgBouncer
service, the migrate job straight; uploads go to the bucket and signed-in
users are sent to a signed URL that expires.

The bucket is SeaweedFS on the host, bound to the gateway address of the
deployment's default network: the containers and the test reach it at the
same URL (nothing leaves the machine). The keys and its URL are what an
owner would fill in .env: here a second env file and the override carry
them, the rendered .env stays as rendered."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from support.render import read_env_file
from support.s3 import S3Server

from .checks import check_front_door, check_least_privilege, check_services_came_up, save_upload
from .conftest import AppImages
from .deployment import Deployment, private_copy, timed

# Session fixtures build images on the first test that needs them: more than
# the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

ADMIN_PASSWORD = "a-long-password-for-the-s3-tests"


@pytest.fixture(scope="module")
def stack(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, S3Server]]:
    image = app_images.get("pgbouncer-s3")
    base = tmp_path_factory.mktemp("deploy-pgbouncer-s3")
    deployment = Deployment(
        app_images.engine, "pgbouncer-s3", private_copy(image.project, base / "project"), base / "work", image.tag
    )
    # What the owner puts in .env after creating the bucket and its keys.
    keys = {"AWS_ACCESS_KEY_ID": "containertest" + secrets.token_hex(4), "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20)}
    bucket = read_env_file(deployment.project / ".env")["AWS_STORAGE_BUCKET_NAME"]
    deployment.extra_env = keys
    deployment.write_files()
    server: S3Server | None = None
    try:
        with timed("pgbouncer-s3: compose up --wait (S3 server on the network's gateway)"):
            # The networks first: the gateway address the S3 server binds to
            # comes with them. Then its URL for the app containers, which
            # compose recreates (created, never started) before starting them.
            deployment.compose("up", "--no-start", "--no-build", timeout=120)
            server = S3Server(base / "s3", *keys.values(), [bucket], host=deployment.gateway("default")).start()
            endpoint = {"environment": {"AWS_S3_ENDPOINT_URL": server.endpoint_url}}
            deployment.extra_override = {"services": dict.fromkeys(deployment.app_services, endpoint)}
            deployment.write_files()
            deployment.up()
        yield deployment, server
    finally:
        with timed("pgbouncer-s3: compose down --volumes"):
            deployment.down(volumes=True)
        if server is not None:
            server.stop()


@pytest.fixture(scope="module")
def deployment(stack: tuple[Deployment, S3Server]) -> Deployment:
    return stack[0]


def test_every_service_comes_up_with_pgbouncer(deployment: Deployment) -> None:
    containers = check_services_came_up(deployment)
    assert containers["pgbouncer"]["State"]["Health"]["Status"] == "healthy"
    check_least_privilege(deployment)
    assert "media" not in (deployment.rendered.get("volumes") or {}), "uploads live in the bucket"
    with timed("pgbouncer-s3: probes, static file, admin login page through nginx"):
        check_front_door(deployment)


def test_the_app_reaches_postgres_only_through_pgbouncer(deployment: Deployment) -> None:
    containers = deployment.containers()

    def database_host(service: str) -> str:
        env = dict(item.split("=", 1) for item in containers[service]["Config"]["Env"])
        return env["DATABASE_URL"].rsplit("@", 1)[1].split(":")[0]

    assert {service: database_host(service) for service in ("web", "celery", "migrate")} == {
        "web": "pgbouncer",
        "celery": "pgbouncer",
        "migrate": "db",
    }
    for _ in range(3):
        assert deployment.ready()[0] == 200
    # A query of the app, through PgBouncer; its server connection stays in the pool.
    assert deployment.django_shell("from django.contrib.auth.models import User; print(User.objects.count())")
    env = read_env_file(deployment.project / ".env")
    query = (
        "SELECT string_agg(DISTINCT host(client_addr), ',') FROM pg_stat_activity "
        "WHERE datname = current_database() AND client_addr IS NOT NULL"
    )
    clients = deployment.exec("db", "psql", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-tAc", query)
    networks = containers["pgbouncer"]["NetworkSettings"]["Networks"]
    assert clients.strip() == networks[f"{deployment.project_name}_backend"]["IPAddress"]
    # The readiness probe leaves no transaction open when it closes its
    # connection, so PgBouncer keeps the server connection for the next one.
    assert "client disconnect while server was not ready" not in deployment.logs("pgbouncer")


def test_uploads_go_to_the_bucket_and_are_served_by_signed_urls(stack: tuple[Deployment, S3Server]) -> None:
    deployment, server = stack
    deployment.create_superuser("admin", ADMIN_PASSWORD)
    content = f"uploaded {secrets.token_hex(8)}\n".encode()
    name = save_upload(deployment, "uploads/report.txt", content)
    bucket = read_env_file(deployment.project / ".env")["AWS_STORAGE_BUCKET_NAME"]
    assert server.stored(bucket, name) == content, "the object is in the bucket, not on a volume"

    anonymous = deployment.get(f"/media/{name}")
    assert anonymous.status == 302 and "/admin/login/" in anonymous.header("location")
    response = deployment.get(f"/media/{name}", headers={"Cookie": deployment.login("admin", ADMIN_PASSWORD)})
    assert response.status == 302, response.body[:300]
    signed = response.header("location")
    assert (
        signed.startswith(f"{server.endpoint_url}/{bucket}/")
        and "X-Amz-Signature=" in signed
        and "X-Amz-Expires=" in signed
    )
    with urllib.request.urlopen(signed, timeout=10) as download:
        assert download.read() == content

    tampered = signed[:-1] + ("0" if signed[-1] != "0" else "1")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=10)
    assert refused.value.code == 403
