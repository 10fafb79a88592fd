"""The image the rendered Dockerfile builds (default answers), looked at from
the inside: who runs it, what its final stage no longer has, and the static
files it was built with."""

from __future__ import annotations

import json

import pytest

from .conftest import AppImages, BuiltImage
from .engine import DockerEngine
from .standins import IMAGES

# Session fixtures build images on the first test that needs them (and on a new
# machine make the stand-ins first): more than the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

APP_UID = "10001"


@pytest.fixture(scope="module")
def image(app_images: AppImages) -> BuiltImage:
    return app_images.get("default")


def run(engine: DockerEngine, image: BuiltImage, script: str) -> str:
    """A shell script in a throwaway container of the image, without network."""
    return engine.docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image.image, "-c", script).stdout


def test_build_reports_its_size(image: BuiltImage, app_images: AppImages) -> None:
    how = "without cache" if image.fresh else "builder stage from this session's cache"
    print(f"\n{image.image}: built in {image.seconds:.1f} s ({how}), {image.size_bytes / 1e6:.1f} MB")
    assert image.size_bytes > 0
    # pip and apt ran for these requirements in this session, in this build or an earlier one.
    assert any(b.fresh and b.requirements == image.requirements for b in app_images.all_builds)


def test_runs_as_an_unprivileged_user(docker_engine: DockerEngine, image: BuiltImage) -> None:
    config = json.loads(docker_engine.docker("image", "inspect", "-f", "{{json .Config}}", image.image).stdout)
    assert config["User"] == "app"
    out = run(docker_engine, image, "id -u; id -g; cd /app && touch x 2>/dev/null && echo code-writable || true")
    uid, gid, *rest = out.split()
    assert uid == APP_UID and gid != "0"
    assert rest == [], "the app user must not be able to change the code"


def installed_packages(engine: DockerEngine, image: str) -> set[str]:
    out = engine.docker(
        "run", "--rm", "--network", "none", "--entrypoint", "dpkg-query", image,
        "-W", "-f", "${db:Status-Status} ${Package}\\n",
    ).stdout  # fmt: skip
    return {line.split()[1] for line in out.splitlines() if line.startswith("installed ")}


def test_final_stage_has_no_build_toolchain(docker_engine: DockerEngine, image: BuiltImage) -> None:
    out = run(
        docker_engine,
        image,
        "for tool in gcc cc c++ make ld pg_config; do command -v $tool || true; done; "
        "ls /usr/include/postgresql /usr/include/libpq-fe.h 2>/dev/null || true",
    )
    assert out.strip() == "", f"left in the final stage:\n{out}"
    # Compared with the base image, because the python stand-in's python3-dev
    # brings libc6-dev along (the official slim image has neither).
    base = installed_packages(docker_engine, IMAGES["python_image"])
    added = installed_packages(docker_engine, image.image) - base
    print(f"\npackages the final stage adds to its base: {' '.join(sorted(added))}")
    assert "libpq5" in added
    toolchain = {p for p in added if p.endswith("-dev") or p.startswith(("gcc", "cpp", "binutils", "make"))}
    assert toolchain == set()
    # psycopg still uses its compiled C implementation, linked against libpq5.
    impl = run(docker_engine, image, "python -c 'import psycopg; print(psycopg.pq.__impl__)'")
    assert impl.strip() == "c"


def test_static_files_were_collected_at_build_time(docker_engine: DockerEngine, image: BuiltImage) -> None:
    manifest = json.loads(run(docker_engine, image, "cat /app/src/staticfiles/staticfiles.json"))
    hashed = manifest["paths"]["admin/css/base.css"]
    assert hashed != "admin/css/base.css"
    listing = run(docker_engine, image, f"cd /app/src/staticfiles && ls {hashed} {hashed}.br {hashed}.gz")
    assert listing.split() == [hashed, f"{hashed}.br", f"{hashed}.gz"]


def test_no_secrets_or_local_state_in_the_image(docker_engine: DockerEngine, image: BuiltImage) -> None:
    out = run(docker_engine, image, "ls -A /app; ls -A /app/src/media; stat -c %U /app/src/media")
    assert ".env" not in out.split() and ".git" not in out.split()
    assert out.split()[-1] == "app", "the media directory (copied into a new volume) belongs to the app user"
