"""Fixtures: the default render, its virtualenv, and real servers on loopback."""

import itertools
import shutil
from pathlib import Path

import pytest

from support.postgres import PostgresServer
from support.redis import RedisServer
from support.releases import clone_with_releases
from support.render import project_venv

DATABASE_NUMBERS = itertools.count(1)
# Projects' own code and tests, run inside the projects that the tests build.
collect_ignore = ["fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The container tier last: the quick tiers fail first, and its Docker
    engine and images are made only once the rest has passed through.

    Under pytest-xdist (bin/test runs `-n 2 --dist loadgroup`), each module
    stays in one worker (its module-level renders and servers are made once)
    and the whole container tier in one worker: one Docker engine at a time,
    while the other worker runs the quick tiers beside it."""
    items.sort(key=lambda item: "containers" in item.path.parts)
    for item in items:
        group = "containers" if "containers" in item.path.parts else item.path.stem
        item.add_marker(pytest.mark.xdist_group(group))


# The container tier's report from the xdist worker that ran it.
WORKER_REPORT: list[str] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    WORKER_REPORT.extend(node.workeroutput.get("container_tier", []))


def pytest_terminal_summary(terminalreporter) -> None:
    if WORKER_REPORT:
        terminalreporter.section("container tier: steps")
        for line in WORKER_REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def default_project(copie_session) -> Path:
    """The template rendered with every default answer (pytest-copie)."""
    result = copie_session.copy()
    if result.exception:
        raise result.exception
    return result.project_dir


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
