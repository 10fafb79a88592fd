"""The engine's own promises: a crashed run does not break the next start,
and nothing is written where other engines (or the host's docker) live."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .engine import DEFAULT_BASE_DIR, DockerEngine, EngineError
from .standins import IMAGES, ImageReport

# Where a default dockerd/containerd would write; this engine must not.
FOREIGN_PATHS = [
    Path(p)
    for p in (
        "/var/lib/docker",
        "/var/lib/containerd",
        "/run/docker",
        "/run/docker.sock",
        "/run/containerd",
        "/run/mount",
        "/etc/docker/key.json",
        "/opt/containerd",
    )
]


# Run by the tests' Python, where tests/ is on the path (bin/setup's .pth).
CRASHING_RUN = """\
import time
from containers.engine import DockerEngine
engine = DockerEngine({base!r}).start()
engine.docker("load", "-i", {tar!r})
engine.docker("run", "-d", "--network", "none", "--label", "org.obcms.test=1", {image!r}, "sleep", "600")
print(engine.pid, flush=True)
time.sleep(600)
"""


def _snapshot() -> dict[Path, float | None]:
    return {p: (p.stat().st_mtime if p.exists() else None) for p in FOREIGN_PATHS}


def test_second_engine_survives_a_crashed_run_and_stays_in_its_dir(
    docker_engine: DockerEngine, standin_images: list[ImageReport]
) -> None:
    # Not under pytest's tmp dirs: another pytest run on the machine may prune
    # those while this engine's processes still use them.
    base = DEFAULT_BASE_DIR.parent / "docker-crash-test"
    if base.exists():  # an interrupted earlier run: stop what it left, by its pid files
        DockerEngine(base).stop()
        subprocess.run(["rm", "-rf", str(base)], check=True, timeout=120)
    base.mkdir(parents=True)
    before = _snapshot()
    image = IMAGES["debian_image"]
    tar = base / "image.tar"
    docker_engine.docker("save", "-o", str(tar), image)

    # A test run that dies hard, and its dockerd with it; containerd, the shim
    # and the container live on.
    owner = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RUN.format(base=str(base), tar=str(tar), image=image)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    restarted = False
    try:
        try:
            ready, _, _ = select.select([owner.stdout], [], [], 120)
            line = owner.stdout.readline() if ready else ""
            assert line.strip().isdigit(), "the first engine did not start within 120 s (see stderr)"
            os.kill(int(line), signal.SIGKILL)
        finally:
            owner.kill()
            owner.wait(10)
        probe = DockerEngine(base)
        shim_and_container = probe._shim_pids() | probe._container_pids()
        assert shim_and_container

        t0 = time.monotonic()
        with DockerEngine(base) as second:
            restarted = True
            restart = time.monotonic() - t0
            assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in shim_and_container)
            # The image survived (the data root is a cache), the container is a leftover.
            second.docker("image", "inspect", image)
            assert second.remove_leftovers()
            out = second.docker("run", "--rm", "--network", "none", image, "echo", "alive").stdout
            assert out.strip() == "alive"
        assert _snapshot() == before
        assert str(base) not in Path("/proc/self/mountinfo").read_text()
        print(f"\nrestart after a crashed run: {restart:.1f} s")
    finally:
        if not restarted:  # leave no orphaned containerd/shim behind a failure
            DockerEngine(base).stop()
        subprocess.run(["rm", "-rf", str(base)], check=True, timeout=120)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


def test_a_second_object_cannot_start_or_stop_a_running_engine(docker_engine: DockerEngine) -> None:
    other = DockerEngine(docker_engine.base)
    other.stop()  # not the owner: does nothing
    with pytest.raises(EngineError, match="engine.lock"):
        other.start()
    assert docker_engine.docker("info", "--format", "{{.ServerVersion}}").stdout.strip()
