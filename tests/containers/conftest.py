"""Fixtures for tests that need a Docker engine: one engine per test session,
and the rendered project's image built once per profile per session.

Elsewhere, a conftest.py can do the same: import the helpers and bind them to
module-level names (define each fixture once: two would start two engines).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import coolify
from support.render import profile_answers, read_answers, render

from .deployment import FIGURES, IMAGE_SIZES, TIMINGS, Deployment, timed
from .engine import DockerEngine, engine_fixture
from .standins import ImageReport, standins_fixture

docker_engine = engine_fixture()
standin_images = standins_fixture()

# Answers of each deployment profile the container tier runs (the rest are defaults).
PROFILES: dict[str, dict] = {
    "default": {},
    "coolify": {"deploy_target": "coolify"},
    "pgbouncer-s3": {"db_pooling": "pgbouncer", "media_storage": "s3", "s3_provider": "minio"},
    "swarm": profile_answers("swarm-minio"),
}


@dataclass
class BuiltImage:
    profile: str
    project: Path  # the render the image was built from; deployments copy it
    tag: str  # IMAGE_TAG: the compose file names the image <project_slug>:<tag>
    image: str
    seconds: float
    size_bytes: int
    fresh: bool  # built without the layer cache (pip and apt ran)
    requirements: str  # digest of requirements/*.txt


class AppImages:
    """Renders a profile and builds its image the first time a test asks."""

    def __init__(self, engine: DockerEngine, base: Path) -> None:
        self.engine = engine
        self.base = base
        self.built: dict[str, BuiltImage] = {}
        self.requirements_built: set[str] = set()
        self.all_builds: list[BuiltImage] = []

    def get(self, profile: str) -> BuiltImage:
        if profile not in self.built:
            with timed(f"{profile}: render"):
                project = render(self.base / profile / "project", PROFILES[profile])
            if read_answers(project)["deploy_target"] == "coolify":
                # What Coolify does to a clone of the repository (which has no
                # .env) before it builds and runs the compose file.
                (project / ".env").unlink()
                coolify.prepare_deployment(project, project)
            if read_answers(project)["deploy_target"] == "swarm":
                # `docker stack deploy` builds nothing: the image is built
                # as CI builds it, and the stack file names it.
                self.built[profile] = self.build_plain(profile, project)
                return self.built[profile]
            deployment = Deployment(self.engine, f"build-{profile}", project, self.base / profile, f"test-{profile}")
            if read_answers(project)["media_storage"] == "s3":
                # Compose requires the keys an owner fills in even to build;
                # the build does not use them.
                deployment.extra_env = {"AWS_ACCESS_KEY_ID": "unused-by-build", "AWS_SECRET_ACCESS_KEY": "unused"}
                deployment.write_files()
            self.built[profile] = self.build(profile, deployment)
        return self.built[profile]

    def build(self, label: str, deployment: Deployment) -> BuiltImage:
        """Build a deployment's image. The first build of a set of requirements
        in the session runs without the layer cache, so pip really fetches from
        PyPI; later builds with the same requirements reuse its layers."""
        requirements = _requirements_digest(deployment.project)
        fresh = requirements not in self.requirements_built
        with timed(f"{label}: build image ({'no cache' if fresh else 'builder stage cached'})"):
            seconds = deployment.build(fresh=fresh)
        self.requirements_built.add(requirements)
        image = f"{deployment.answers['project_slug']}:{deployment.image_tag}"
        for name in deployment.compose("config", "--images", timeout=60).stdout.split():
            if name.endswith(f":{deployment.image_tag}"):  # built here, not a base image
                IMAGE_SIZES[f"{label} ({name})"] = int(
                    self.engine.docker("image", "inspect", "-f", "{{.Size}}", name).stdout
                )
        size = IMAGE_SIZES[f"{label} ({image})"]
        built = BuiltImage(label, deployment.project, deployment.image_tag, image, seconds, size, fresh, requirements)
        self.all_builds.append(built)
        return built

    def build_plain(self, profile: str, project: Path) -> BuiltImage:
        """`docker build --target production` of a render (as its CI does)."""
        requirements = _requirements_digest(project)
        fresh = requirements not in self.requirements_built
        tag = f"test-{profile}"
        image = f"{read_answers(project)['project_slug']}:{tag}"
        with timed(f"{profile}: build image ({'no cache' if fresh else 'builder stage cached'})"):
            start = time.monotonic()
            self.engine.docker(
                "build", "--network", "host", "--target", "production", "--tag", image,
                *(["--no-cache"] if fresh else []), str(project), timeout=1500,
            )  # fmt: skip
            seconds = time.monotonic() - start
        self.requirements_built.add(requirements)
        size = int(self.engine.docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
        IMAGE_SIZES[f"{profile} ({image})"] = size
        built = BuiltImage(profile, project, tag, image, seconds, size, fresh, requirements)
        self.all_builds.append(built)
        return built

    def remove_all(self) -> None:
        """Remove the session's images and the dangling layers they leave, so
        the engine's data root does not grow run after run."""
        refs = self.engine.docker("image", "ls", "--filter", "reference=*:test-*", "-q").stdout.split()
        if refs:
            self.engine.docker("image", "rm", "-f", *sorted(set(refs)), check=False, timeout=120)
        self.engine.docker("image", "prune", "-f", check=False, timeout=120)


def _requirements_digest(project: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((project / "requirements").glob("*.txt")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def app_images(
    docker_engine: DockerEngine, standin_images: list[ImageReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppImages]:
    images = AppImages(docker_engine, tmp_path_factory.mktemp("app-images"))
    images.remove_all()  # leftovers of an interrupted run
    yield images
    images.remove_all()


# -- the report: how long each step took, image sizes, the tier's total ----------

_durations: list[float] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations.append(report.duration)


def report_lines() -> list[str]:
    lines = [f"figure     {label}: {value}" for label, value in FIGURES]
    lines += [f"{seconds:7.1f} s  {label}" for label, seconds in TIMINGS]
    lines += [f"{size / 1e6:7.1f} MB {label}" for label, size in IMAGE_SIZES.items()]
    return lines + [f"{sum(_durations):7.1f} s  total of tests/containers (setup, tests, teardown)"]


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS or IMAGE_SIZES or FIGURES:
        terminalreporter.section("container tier: steps")
        for line in report_lines():
            terminalreporter.write_line(line)
