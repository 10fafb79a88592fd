"""Fixtures for tests that need a Docker engine: one engine per test session.

Elsewhere, a conftest.py can do the same: import the helpers and bind them to
module-level names (define each fixture once: two would start two engines).
"""

from .engine import engine_fixture
from .standins import standins_fixture

docker_engine = engine_fixture()
standin_images = standins_fixture()
