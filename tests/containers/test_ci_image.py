"""The image steps of the rendered project's CI, run as its workflow's image
job runs them, on the private engine: scripts/ci/build-image.sh builds the
fresh render and labels it with its commit; scripts/ci/smoke-image.sh runs
the image's migrate job and gunicorn against the suite's PostgreSQL and
Redis on loopback (the containers share the host's network, as on CI's
runner) and passes; it fails when /ready/ does not answer 200; a broken
Dockerfile fails the build step."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from support import ci
from support.ci import add_app
from support.processes import free_port
from support.releases import git
from support.text import replace_required

from .conftest import AppImages
from .deployment import private_copy, timed
from .engine import DockerEngine

# Session fixtures build images on the first test that needs them (and on a new
# machine make the stand-ins first): more than the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

IMAGE = "obcms:test-ci"


def run_script(engine: DockerEngine, project: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """scripts/ci/<script> with the engine's DOCKER_HOST (and env)."""
    return ci.run_script(project, f"ci/{script}", {**engine.env(), **env}, *args, timeout=900)


@pytest.fixture(scope="module")
def built(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default render, committed, built by build-image.sh. The session's
    build of the same requirements comes first, so this build takes its
    builder stage from the layer cache."""
    project = private_copy(app_images.get("default").project, tmp_path_factory.mktemp("ci-image") / "project")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "rendered")
    with timed("default: scripts/ci/build-image.sh (builder stage cached)"):
        result = run_script(app_images.engine, project, "build-image.sh", IMAGE, "--network", "host")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def test_the_build_step_labels_the_image_with_its_commit(docker_engine: DockerEngine, built: Path) -> None:
    label = docker_engine.docker(
        "image", "inspect", "-f", '{{index .Config.Labels "org.opencontainers.image.revision"}}', IMAGE
    ).stdout.strip()
    assert label == git(built, "rev-parse", "HEAD").strip()


def test_the_smoke_run_passes_on_a_fresh_render(docker_engine, built, redis, postgres) -> None:
    owner_url, app_url = postgres.create_owned_database("ci_smoke")
    result = run_script(
        docker_engine, built, "smoke-image.sh", IMAGE,
        DATABASE_URL=owner_url, APP_DATABASE_URL=app_url, REDIS_URL=redis.url, SMOKE_PORT=str(free_port()),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Smoke run passed" in result.stdout
    assert '/ready/: {"status": "ready"' in result.stdout
    assert int(postgres.psql("SELECT count(*) FROM django_migrations", "ci_smoke")) > 0, "the migrate job ran"
    leftovers = docker_engine.docker("ps", "--all", "--quiet", "--filter", "name=smoke-").stdout.split()
    assert leftovers == [], "the smoke run removes its container"


def test_the_smoke_run_fails_when_the_app_is_not_ready(docker_engine, built, postgres) -> None:
    owner_url, app_url = postgres.create_owned_database("ci_not_ready")
    result = run_script(
        docker_engine, built, "smoke-image.sh", IMAGE,
        DATABASE_URL=owner_url, APP_DATABASE_URL=app_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        SMOKE_PORT=str(free_port()), SMOKE_TIMEOUT="8",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Smoke run failed: /ready/ did not answer 200 within 8 s" in result.stderr
    assert "the container's last log lines" in result.stderr


def test_a_broken_dockerfile_fails_the_build_step(docker_engine, built, project_copy) -> None:
    """A directory renamed without the Dockerfile (the stages before it come
    from the layer cache of the build above)."""
    dockerfile = project_copy / "Dockerfile"
    assert "COPY requirements/ /tmp/requirements/" in dockerfile.read_text()
    old, new = "COPY requirements/ /tmp/", "COPY requirement/ /tmp/"
    dockerfile.write_text(replace_required(dockerfile.read_text(), old, new, "the rendered Dockerfile"))
    result = run_script(docker_engine, project_copy, "build-image.sh", "obcms:test-ci-broken", "--network", "host")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "requirement/: file does not exist" in result.stderr
    assert "The image obcms:test-ci-broken did not build" in result.stderr


def test_the_gate_refuses_an_unsafe_migration_in_the_image(docker_engine, built, database_url, tmp_path) -> None:
    """As a deploy runs it: in the new image (read-only, production settings),
    on the migrations that the database lacks, before anything else."""
    project = private_copy(built, tmp_path / "project")
    add_app(project, "shop")
    with timed("default + shop app: scripts/ci/build-image.sh (cached)"):
        build = run_script(docker_engine, project, "build-image.sh", "obcms:test-ci-gate", "--network", "host")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    production = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://127.0.0.1:9/0",  # not used by the gate
    }
    options = [f"--env={name}={value}" for name, value in production.items()]
    result = docker_engine.docker(
        "run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", *options,
        "obcms:test-ci-gate", "sh", "scripts/migration_gate.sh", check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "(shop, 0001_initial)... OK" in result.stdout
    assert (
        "  shop.0002_remove_product_legacy_code: DROPPING columns (table: shop_product, column: legacy_code)"
        in result.stderr
    )
