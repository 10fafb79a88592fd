"""deploy_target: coolify — the compose file Coolify runs, prepared as
Coolify prepares it (its own keys stripped, its generated variables in
.env), comes up the same way. Coolify's Traefik is not here: the test
publishes web's port on 127.0.0.1 and sends the headers Traefik adds."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from support.render import read_env_file

from .checks import (
    check_front_door,
    check_least_privilege,
    check_monitor_sees_the_celery_heartbeat,
    check_services_came_up,
    check_upload_served_to_signed_in_users,
    save_upload,
)
from .conftest import AppImages
from .deployment import Deployment, brought_up, private_copy, timed

# Session fixtures build images on the first test that needs them (and on a new
# machine make the stand-ins first): more than the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

ADMIN_PASSWORD = "a-long-password-for-the-coolify-tests"


@pytest.fixture(scope="module")
def deployment(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    image = app_images.get("coolify")
    base = tmp_path_factory.mktemp("deploy-coolify")
    deployment = Deployment(
        app_images.engine, "coolify", private_copy(image.project, base / "project"), base / "work", image.tag
    )
    with brought_up(deployment, "coolify"):
        yield deployment


def test_coolify_deployment_comes_up_and_answers(deployment: Deployment) -> None:
    containers = check_services_came_up(deployment)
    assert "nginx" not in containers
    check_least_privilege(deployment)
    with timed("coolify: probes, static file, admin login page from web"):
        check_front_door(deployment)
    token = read_env_file(deployment.project / ".env")["SERVICE_PASSWORD_64_HEALTHCHECK"]
    check_monitor_sees_the_celery_heartbeat(deployment, token)


def test_coolify_uploads_are_streamed_by_django_to_signed_in_users(deployment: Deployment) -> None:
    deployment.create_superuser("admin", ADMIN_PASSWORD)
    content = f"uploaded {secrets.token_hex(8)}\n".encode()
    name = save_upload(deployment, "uploads/coolify.txt", content)
    check_upload_served_to_signed_in_users(deployment, name, content, deployment.login("admin", ADMIN_PASSWORD))
