"""Processes, cgroups and mounts of the host, as the engine needs them.

Processes are found and signalled by pid only (never by name).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def terminate(pid: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """SIGTERM pid, wait up to timeout, then SIGKILL and wait a little more (timeout 0: SIGKILL at once)."""
    signals = ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)) if timeout > 0 else ((signal.SIGKILL, 10.0),)
    for sig, wait in signals:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc is not None:
                if proc.poll() is not None:
                    return
            elif not alive(pid):
                return
            time.sleep(0.1)
        if sig == signal.SIGTERM:
            log.warning("pid %d ignored SIGTERM for %.0f s: SIGKILL", pid, timeout)
    if proc is not None:
        proc.poll()


def mount_points() -> list[Path]:
    with open("/proc/self/mountinfo") as f:
        return [Path(line.split()[4].replace("\\040", " ")) for line in f]


def cgroup_dirs(name: str) -> list[Path]:
    """Where a relative cgroup parent `name` lives in each mounted hierarchy.

    Docker resolves a relative --cgroup-parent against the daemon's own cgroup,
    which is ours too (dockerd is our child).
    """
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hid, controllers, path = line.split(":", 2)
        own[controllers if hid != "0" else ""] = path
    dirs = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3]
            root, mountpoint = fields[3], fields[4]
            if fstype == "cgroup2":
                key = ""
            elif fstype == "cgroup":
                opts = options.split(",")
                key = next((k for k in own if k and set(k.split(",")) <= set(opts)), None)
                if key is None:
                    continue
            else:
                continue
            path = own.get(key)
            if path is None:
                continue
            rel = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
            d = Path(mountpoint) / rel / name
            if d.is_dir():
                dirs.append(d.resolve())
    return dirs


def rmdir_quiet(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass
