"""The files the engine's daemons start from, all pointing into the base directory."""

from __future__ import annotations

import json
from pathlib import Path

LAUNCH_SH = """\
#!/bin/sh
# Runs inside the private mount namespace made by `unshare --mount`.
set -eu
# containerd 1.6 puts shim sockets under /run/containerd/s whatever its config
# says: give this namespace a /run whose writes land in our own directory.
# -n: no utab, which would make util-linux create /run/mount on the host.
mount -n -t overlay overlay -o "lowerdir=/run,upperdir=$RUN_UPPER,workdir=$RUN_WORK" /run
containerd --config "$CONTAINERD_CONFIG" >>"$CONTAINERD_LOG" 2>&1 &
echo $! >"$CONTAINERD_PIDFILE"
# dockerd gives up if containerd is not answering yet.
i=0
while [ ! -S "$CONTAINERD_SOCK" ] && [ "$i" -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
exec "$@"  # dockerd, keeping this pid so the caller can signal it
"""


def daemon_json(base: Path) -> str:
    # dockerd 20.10 writes its trust key next to /etc/docker/daemon.json
    # unless told otherwise.
    return json.dumps({"deprecated-key-path": str(base / "etc" / "key.json")}, indent=2) + "\n"


def containerd_toml(base: Path, socket: Path) -> str:
    # Our own containerd, because dockerd 20.10 gives the one it manages no
    # plugin settings, and the "opt" plugin would create /opt/containerd.
    c = base / "containerd"
    return (
        "version = 2\n"
        f'root = "{c / "root"}"\n'
        f'state = "{c / "state"}"\n'
        f'temp = "{c / "tmp"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        "\n[grpc]\n"
        f'  address = "{socket}"\n'
        '\n[plugins."io.containerd.internal.v1.opt"]\n'
        f'  path = "{c / "opt"}"\n'
    )
