"""A local ACME CA: Pebble (Let's Encrypt's test CA, Debian package
`pebble`) with pebble-challtestsrv as its DNS server, which answers every
name with one address. Both listen on the host address they are given
(loopback, or the gateway of a test's container network, where containers
reach it) on free ports, and are stopped by their own pids.

Pebble validates HTTP-01 by connecting to <name>:http_port at that address,
so http_port is the port where the rendered nginx listens."""

import json
import socket
import ssl
import subprocess
import urllib.request
from pathlib import Path

from .binaries import require
from .processes import Process, free_port, port_open


def make_server_certificate(directory: Path, address: str) -> Path:
    """A self-signed certificate for Pebble's own HTTPS at this address;
    returns it (clients trust it as their CA bundle)."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            require("openssl"),
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pebble"),
            *("-addext", f"subjectAltName=IP:{address},DNS:localhost"),
            *("-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    return directory / "cert.pem"


class AcmeServer:
    def __init__(
        self, base: Path, http_port: int, https_port: int, address: str = "127.0.0.1", resolve_to: str | None = None
    ):
        """address: where Pebble and its DNS listen; resolve_to: the address its
        DNS gives every name (where nginx listens; default: address)."""
        self.base = base
        self.address = address
        self.resolve_to = resolve_to or address
        self.http_port = http_port
        self.https_port = https_port
        self.port = free_port(address)
        self.management_port = free_port(address)
        self.dns_port = free_port(address)
        self.processes: list[Process] = []

    @property
    def directory_url(self) -> str:
        return f"https://{self.address}:{self.port}/dir"

    def start(self) -> "AcmeServer":
        self.base.mkdir(parents=True, exist_ok=True)
        self.tls_ca = make_server_certificate(self.base / "tls", self.address)
        dns = Process()
        self.processes.append(dns)
        dns.launch(
            [
                require("pebble-challtestsrv"),
                *("-defaultIPv4", self.resolve_to, "-defaultIPv6", ""),
                *("-dns01", f"{self.address}:{self.dns_port}"),
                *("-http01", "", "-https01", "", "-tlsalpn01", ""),
                *("-management", f"{self.address}:{free_port(self.address)}"),
            ],
            self.base / "challtestsrv.log",
            lambda: port_open(self.address, self.dns_port),  # it answers on TCP as well as UDP
            20,
            "pebble-challtestsrv",
        )
        config = {
            "pebble": {
                "listenAddress": f"{self.address}:{self.port}",
                "managementListenAddress": f"{self.address}:{self.management_port}",
                "certificate": str(self.base / "tls" / "cert.pem"),
                "privateKey": str(self.base / "tls" / "key.pem"),
                "httpPort": self.http_port,
                "tlsPort": self.https_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        (self.base / "pebble.json").write_text(json.dumps(config))
        pebble = Process()
        self.processes.append(pebble)
        pebble.launch(
            [
                require("pebble"),
                *("-config", str(self.base / "pebble.json"), "-dnsserver", f"{self.address}:{self.dns_port}"),
            ],
            self.base / "pebble.log",
            lambda: port_open(self.address, self.port) and port_open(self.address, self.management_port),
            20,
            "pebble",
            # No random waits before validating, no nonces refused on purpose.
            env={"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
        )
        return self

    def root_certificate(self) -> str:
        """The root that Pebble made at start (PEM): what issued certificates chain to."""
        context = ssl.create_default_context(cafile=str(self.tls_ca))
        url = f"https://{self.address}:{self.management_port}/roots/0"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return response.read().decode()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes = []


def served_der(port: int, name: str, host: str = "127.0.0.1") -> bytes:
    """The certificate nginx presents for this name (SNI), unchecked, as DER."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            return tls.getpeercert(binary_form=True)


def served_certificate(port: int, name: str, host: str = "127.0.0.1") -> dict[str, str]:
    """Serial, issuer, subject and names of the certificate nginx presents for this name."""
    der = served_der(port, name, host)
    result = subprocess.run(
        [require("openssl"), "x509", "-inform", "der", "-noout", "-serial", "-issuer", "-subject"]
        + ["-ext", "subjectAltName"],
        input=der,
        capture_output=True,
        check=True,
    )
    lines = result.stdout.decode().splitlines()
    fields = {key.strip(): value.strip() for key, value in (line.split("=", 1) for line in lines[:3])}
    fields["names"] = " ".join(line.strip() for line in lines if "DNS:" in line)
    return fields


def verified(port: int, root_pem: str, name: str, host: str = "127.0.0.1") -> bool:
    """A handshake that checks the chain against Pebble's root, and the name."""
    context = ssl.create_default_context(cadata=root_pem)
    try:
        with socket.create_connection((host, port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=name):
                return True
    except OSError:  # refused, or a certificate that does not chain or match
        return False
