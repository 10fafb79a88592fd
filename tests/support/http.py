"""A small HTTP client with the control the tests need: the exact Host
header, TLS with our own CA and a chosen SNI name, no redirects followed,
and a chosen source address (127.x.y.z) for proxy tests."""

import http.client
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str]

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def request(
    port: int,
    path: str = "/",
    *,
    host: str = "127.0.0.1",
    host_header: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    tls_ca: Path | None = None,
    source: str | None = None,
    timeout: float = 10,
) -> Response:
    """One request. With tls_ca, speaks HTTPS and checks the certificate
    against that CA for the name in host_header (sent as SNI)."""
    name = host_header or host
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    sock = socket.create_connection((host, port), timeout=timeout, source_address=(source, 0) if source else None)
    if tls_ca is not None:
        sock = ssl.create_default_context(cafile=str(tls_ca)).wrap_socket(sock, server_hostname=name)
    connection.sock = sock
    try:
        connection.request(method, path, body=body, headers={"Host": name, **(headers or {})})
        raw = connection.getresponse()
        data = raw.read()
        pairs = raw.getheaders()
        return Response(
            raw.status,
            {key.lower(): value for key, value in pairs},
            data,
            [value for key, value in pairs if key.lower() == "set-cookie"],
        )
    finally:
        connection.close()


def request_url(url: str, **kwargs) -> Response:
    """request() of an absolute http:// URL, its Host header with the port as
    written (a signed URL's signature covers it)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return request(parts.port or 80, path, host=parts.hostname, host_header=parts.netloc, **kwargs)


def answers(port: int, path: str = "/", status: int = 200, **kwargs) -> bool:
    """Whether a server answers path with status now; False while it refuses
    connections or does not answer in time (a readiness probe)."""
    try:
        return request(port, path, **kwargs).status == status
    except OSError:
        return False
