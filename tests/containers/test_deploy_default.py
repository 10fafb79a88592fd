"""docker-compose.prod.yml of the default answers, run for real: nginx ->
gunicorn (web) -> PostgreSQL and Redis, Celery worker and beat, the one-shot
migrate job, all from the image the rendered Dockerfile built.

One deployment for the module; the tests run in file order and the last one
takes it down and up again."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.acme import served_certificate, verified
from support.facts import computed_values
from support.http import request
from support.processes import wait_until
from support.render import read_answers, read_env_file

from . import slow_tasks
from .checks import (
    check_front_door,
    check_least_privilege,
    check_monitor_sees_the_celery_heartbeat,
    check_services_came_up,
    check_upload_served_to_signed_in_users,
    save_upload,
)
from .conftest import AppImages
from .deployment import TEST_SOFT_SHUTDOWN_SECONDS, Deployment, brought_up, private_copy, timed
from .standins import IMAGES

# Session fixtures build images on the first test that needs them (and on a new
# machine make the stand-ins first): more than the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

ADMIN_PASSWORD = "a-long-password-for-the-container-tests"


@pytest.fixture(scope="module")
def deployment(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    image = app_images.get("default")
    base = tmp_path_factory.mktemp("deploy-default")
    # The test-only tasks, mounted read-only into the celery container only.
    extras = base / "celery-extras"
    slow_tasks.write_app(extras)
    settings = f"/app/src/{read_answers(image.project)['django_package']}/settings"
    mounts = {
        "volumes": [
            f"{extras / slow_tasks.APP}:/app/src/{slow_tasks.APP}:ro",
            f"{extras / 'overrides.py'}:{settings}/overrides.py:ro",
        ]
    }
    deployment = Deployment(
        app_images.engine,
        "default",
        private_copy(image.project, base / "project"),
        base / "work",
        image.tag,
        extra_override={"services": {"celery": mounts}},
    )
    with brought_up(deployment, "default (first start, empty volumes)"):
        yield deployment


def test_every_service_comes_up_and_the_site_answers(deployment: Deployment) -> None:
    check_services_came_up(deployment)
    check_least_privilege(deployment)
    with timed("default: probes, static file, admin login page through nginx"):
        check_front_door(deployment)
    token = read_env_file(deployment.project / ".env")["HEALTH_CHECK_TOKEN"]
    check_monitor_sees_the_celery_heartbeat(deployment, token)


def test_plain_http_redirects_and_requests_arrive_from_the_gateway(deployment: Deployment) -> None:
    response = request(deployment.http_port, "/admin/", host_header=deployment.domain)
    assert response.status == 301 and response.header("location") == f"https://{deployment.domain}/admin/"
    # docker-proxy forwards published ports from the network's gateway address.
    log = deployment.logs("nginx")
    assert f"{deployment.gateway('default')} - " in log


def test_the_certificate_comes_from_the_ca_and_a_renewal_is_served_without_a_manual_step(
    deployment: Deployment,
) -> None:
    """nginx started on certbot's self-signed stand-in; certbot got the CA's
    certificate by HTTP-01 through nginx (deployment.up() waited for it);
    `certbot renew` brings a new one, which nginx serves by itself."""
    certbot_log = deployment.logs("certbot")
    assert "self-signed stand-in certificate made" in certbot_log
    assert "certificate issued for obcms.gov.ph, www.obcms.gov.ph" in certbot_log
    root = deployment.ca.read_text()
    assert all(verified(deployment.https_port, root, name) for name in (deployment.domain, f"www.{deployment.domain}"))
    issued = served_certificate(deployment.https_port, deployment.domain)
    assert "Pebble" in issued["issuer"]

    containers = deployment.containers()
    certbot_mounts = {mount["Destination"]: mount for mount in containers["certbot"]["Mounts"]}
    assert "/var/run/docker.sock" not in certbot_mounts, "certbot has no hold on Docker"
    nginx_mounts = {mount["Destination"]: mount for mount in containers["nginx"]["Mounts"]}
    assert not nginx_mounts["/etc/letsencrypt"]["RW"] and not nginx_mounts["/var/www/certbot"]["RW"]

    nginx_started = containers["nginx"]["State"]["StartedAt"]
    with timed("default: certbot renew, nginx serving the renewed certificate"):
        deployment.exec("certbot", "certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew")
        renewed = wait_until(
            lambda: (
                (seen := served_certificate(deployment.https_port, deployment.domain))["serial"] != issued["serial"]
                and seen
            ),
            60,
            "nginx serving the renewed certificate",
        )
    assert "Pebble" in renewed["issuer"] and verified(deployment.https_port, root, deployment.domain)
    assert deployment.containers()["nginx"]["State"]["StartedAt"] == nginx_started, "nginx was not restarted"
    assert "certificate changed; nginx reloaded" in deployment.logs("nginx")


def test_every_service_has_its_memory_limit_and_stays_below_it(deployment: Deployment) -> None:
    """The limits of copier.yml (none set in .env), and what each service
    uses once up and idle (printed: the figures behind the defaults)."""
    limits = computed_values()["memory_limits"]
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    running = [c["Id"] for c in deployment.containers().values() if c["State"]["Running"]]
    stats = deployment.engine.docker("stats", "--no-stream", "--format", "{{json .}}", *running).stdout
    used = {}
    for line in stats.splitlines():
        row = json.loads(line)
        service = row["Name"].removeprefix(f"{deployment.project_name}-").rsplit("-", 1)[0]
        used[service] = row["MemUsage"].split(" / ")[0]
    print(f"\nmemory in use, idle (limit): {', '.join(f'{s} {used[s]} ({limits[s]})' for s in sorted(used))}")
    for service, container in deployment.containers().items():
        limit = int(limits[service][:-1]) * units[limits[service][-1]]
        assert container["HostConfig"]["Memory"] == limit, service
    for service, usage in used.items():
        number, unit = re.fullmatch(r"([\d.]+)([KMG]i?B|B)", usage).groups()
        in_bytes = float(number) * {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[unit]
        limit = int(limits[service][:-1]) * units[limits[service][-1]]
        assert in_bytes < 0.6 * limit, f"{service} uses {usage} of {limits[service]}"


def test_uploads_are_spooled_to_disk_not_to_memory(deployment: Deployment) -> None:
    """An upload over Django's 2.5 MB in-memory limit goes to the upload_tmp
    volume; /tmp is a small tmpfs."""
    web = deployment.containers()["web"]
    assert web["HostConfig"]["Tmpfs"] == {"/tmp": f"size={computed_values()['app_tmp_size']}"}
    mounts = {mount["Destination"]: mount for mount in web["Mounts"]}
    assert mounts["/var/tmp/uploads"]["Type"] == "volume" and mounts["/var/tmp/uploads"]["RW"]
    code = """
import json
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.test import RequestFactory
body = b"x" * (3 * 1024 * 1024)
from django.core.files.uploadedfile import SimpleUploadedFile
request = RequestFactory().post("/", {"file": SimpleUploadedFile("big.bin", body)})
upload = request.FILES["file"]
print(json.dumps([type(upload) is TemporaryUploadedFile, upload.temporary_file_path(), upload.size]))
"""
    is_on_disk, path, size = json.loads(deployment.django_shell(code).strip().splitlines()[-1])
    assert is_on_disk and path.startswith("/var/tmp/uploads/") and size == 3 * 1024 * 1024


def test_app_processes_run_unprivileged_on_a_read_only_root(deployment: Deployment) -> None:
    for service in ("web", "celery", "beat"):
        status = deployment.exec(service, "cat", "/proc/1/status")
        assert "\nUid:\t10001\t10001\t10001\t10001\n" in status, service
        assert "\nCapEff:\t0000000000000000\n" in status, service
    out = deployment.exec("web", "sh", "-c", "touch /app/x 2>&1 || true; touch /tmp/x && echo tmp-writable")
    assert "Read-only file system" in out and "tmp-writable" in out


def test_readiness_follows_a_database_restart_without_restarting_web(deployment: Deployment) -> None:
    before = deployment.containers()["web"]["State"]
    assert deployment.ready()[0] == 200

    with timed("default: db stopped -> /ready/ 503"):
        deployment.compose("stop", "db", timeout=90)
        status, body = wait_until(
            lambda: (r := deployment.ready())[0] == 503 and r, 15, "/ready/ 503 after the db stopped"
        )
    assert body["checks"] == {"database": False, "cache": True}
    assert deployment.get("/health/").status == 200, "liveness does not depend on the database"

    with timed("default: db started -> /ready/ 200"):
        deployment.compose("start", "db", timeout=90)
        wait_until(lambda: deployment.ready()[0] == 200, 60, "/ready/ 200 after the db came back")

    after = deployment.containers()["web"]["State"]
    assert (after["StartedAt"], after["Pid"], after["Status"]) == (before["StartedAt"], before["Pid"], "running")
    assert deployment.containers()["web"]["RestartCount"] == 0
    assert deployment.get("/admin/login/").status == 200, "the workers' old connections were replaced"


def test_stopping_celery_loses_no_task(deployment: Deployment) -> None:
    """A task that ends within the soft shutdown finishes; one that does not
    goes back to the queue and the next worker runs it. Neither is lost."""
    compose = deployment.rendered["services"]["celery"]
    grace = int(compose["stop_grace_period"].rstrip("s"))
    assert TEST_SOFT_SHUTDOWN_SECONDS < grace
    run = secrets.token_hex(4)
    short, long = f"{run}-short", f"{run}-long"
    long_seconds = TEST_SOFT_SHUTDOWN_SECONDS + 8

    sent = json.loads(
        deployment.django_shell(
            "import json; from obc_management.celery import app; "
            f"name = '{slow_tasks.APP}.tasks.sleep_and_count'; "
            f"print(json.dumps([app.send_task(name, args=[{short!r}, 3]).id, "
            f"app.send_task(name, args=[{long!r}, {long_seconds}]).id]))"
        )
    )
    counts = counter(deployment)
    wait_until(lambda: counts(short, "started") == counts(long, "started") == 1, 30, "both tasks started")

    stopped = time.monotonic()
    with timed(f"default: compose stop celery (soft shutdown {TEST_SOFT_SHUTDOWN_SECONDS} s)"):
        deployment.compose("stop", "celery", timeout=grace + 30)
    seconds = time.monotonic() - stopped
    state = deployment.containers()["celery"]["State"]
    assert state["ExitCode"] == 0 and not state["OOMKilled"], "Docker did not have to kill it"
    assert TEST_SOFT_SHUTDOWN_SECONDS - 1 <= seconds < grace
    log = deployment.logs("celery")
    assert "Restoring 1 unacknowledged message(s)" in log
    assert (counts(short, "done"), counts(long, "done")) == (1, None)
    queued = deployment.exec("redis", "redis-cli", "llen", "celery").strip()
    assert queued == "1", "the unfinished task is back in the queue"

    # The result is the proof that the new worker runs: no need to wait for
    # its first health check (30 s interval) too.
    with timed("default: celery started again, requeued task done"):
        deployment.compose("up", "--detach", "--no-build", "celery", timeout=120)
        result = deployment.django_shell(
            f"from celery.result import AsyncResult; print(AsyncResult({sent[1]!r}).get(timeout={long_seconds + 60}))"
        )
    assert result.strip() == long
    assert (counts(short, "started"), counts(short, "done")) == (1, 1)
    assert (counts(long, "started"), counts(long, "done")) == (2, 1), "started twice, finished once"


def counter(deployment: Deployment):
    def count(token: str, event: str) -> int | None:
        out = deployment.django_shell(
            f"from django.core.cache import cache; print(cache.get('{slow_tasks.APP}:{token}:{event}'))"
        ).strip()
        return None if out == "None" else int(out)

    return count


def test_nginx_follows_web_to_a_new_address(deployment: Deployment) -> None:
    """A deploy recreates web from the new image, and the new container may
    get another address: here its old one is taken by another container
    first, as can happen when compose recreates several services at once.
    nginx must send requests to the new address, without a restart."""
    engine, network = deployment.engine, f"{deployment.project_name}_default"

    def web_address() -> str:
        return deployment.containers()["web"]["NetworkSettings"]["Networks"][network]["IPAddress"]

    old = web_address()
    nginx_started = deployment.containers()["nginx"]["State"]["StartedAt"]
    placeholder = f"{deployment.project_name}-placeholder"
    with timed("default: web recreated at a new address, nginx follows"):
        deployment.compose("rm", "--stop", "--force", "web", timeout=120)
        engine.docker(
            "run", "--detach", "--rm", "--name", placeholder, "--label", "org.obcms.test=1",
            "--network", network, "--ip", old, IMAGES["debian_image"], "sleep", "600",
        )  # fmt: skip
        try:
            deployment.compose(
                "up", "--detach", "--no-build", "--no-deps", "--wait", "--wait-timeout", "180", "web", timeout=240
            )
            assert web_address() != old
            wait_until(lambda: deployment.get("/health/").status == 200, 30, "nginx reaching web at its new address")
        finally:
            engine.docker("rm", "--force", placeholder, check=False)
    assert deployment.get("/admin/login/").status == 200
    assert deployment.containers()["nginx"]["State"]["StartedAt"] == nginx_started, "nginx was not restarted"


def test_an_upload_survives_down_and_up(deployment: Deployment) -> None:
    """Saved through Django into the media volume as the app user, sent by
    nginx after Django checked the user; still there after down and up."""
    deployment.create_superuser("admin", ADMIN_PASSWORD)
    content = f"uploaded {secrets.token_hex(8)}\n".encode()
    name = save_upload(deployment, "uploads/report.txt", content)
    owner = deployment.exec("web", "stat", "-c", "%u %a", f"/app/src/media/{name}").split()
    assert owner == ["10001", "644"]
    check_upload_served_to_signed_in_users(deployment, name, content, deployment.login("admin", ADMIN_PASSWORD))
    assert deployment.get(f"/protected-media/{name}").status == 404, "nginx serves it only for Django"

    with timed("default: compose down (volumes kept)"):
        deployment.down(volumes=False)
    assert deployment.containers() == {}
    with timed("default: compose up --wait (existing volumes)"):
        deployment.up()
    check_upload_served_to_signed_in_users(deployment, name, content, deployment.login("admin", ADMIN_PASSWORD))


def test_project_directory_was_not_changed(deployment: Deployment, app_images: AppImages) -> None:
    """The deployment ran the rendered files as rendered."""
    original = app_images.get("default").project
    for path in original.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            copy = deployment.project / path.relative_to(original)
            assert copy.read_bytes() == path.read_bytes(), copy
    assert not (Path(deployment.project) / "docker-compose.override.yml").exists()
