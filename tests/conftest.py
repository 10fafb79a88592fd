"""Fixtures: the default render, its virtualenv, and real servers on loopback."""

import itertools
import shutil
from pathlib import Path

import pytest

from support.postgres import PostgresServer
from support.redis import RedisServer
from support.releases import clone_with_releases
from support.render import project_venv, render

DATABASE_NUMBERS = itertools.count(1)
# Projects' own code and tests, run inside the projects that the tests build.
collect_ignore = ["fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The container tier last: the quick tiers fail first, and its Docker
    engine and images are made only once the rest has passed through."""
    items.sort(key=lambda item: "containers" in item.path.parts)


@pytest.fixture(scope="session")
def default_project(tmp_path_factory) -> Path:
    """The template rendered with every default answer."""
    return render(tmp_path_factory.mktemp("default") / "project")


@pytest.fixture(scope="session")
def venv(default_project) -> Path:
    """A virtualenv with the default project's pinned development requirements."""
    return project_venv(default_project)


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def redis(tmp_path_factory) -> RedisServer:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def database_url(postgres, request) -> str:
    """A fresh database of its own for each test."""
    slug = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
    return postgres.create_database(f"t{next(DATABASE_NUMBERS)}_{slug}")


@pytest.fixture
def project_copy(default_project, tmp_path) -> Path:
    """A private copy of the default render that a test may change."""
    target = tmp_path / "project"
    shutil.copytree(default_project, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def template_clone(tmp_path_factory) -> Path:
    """A clone of the template tagged with the CHANGELOG's releases; HEAD is the working tree."""
    return clone_with_releases(tmp_path_factory.mktemp("template") / "obcms-template")
