"""The rendered nginx conf, run for real on loopback in front of a gunicorn."""

import shutil
import subprocess
from pathlib import Path

from .binaries import require
from .netns import NetworkNamespace
from .processes import free_port, start, stop, wait_until

# The rendered conf is written for the compose network; these are the only
# strings a test changes to run it on loopback.
UPSTREAM = "default web:8000;"  # where requests go (the map of $web_backend)
LISTEN_HTTP = "listen 80"
LISTEN_HTTPS = "listen 443"
CERT_DIR = "/etc/nginx/certs/"
MEDIA_DIR = "/srv/media/"
# use_cloudflare: the owner's extra Cloudflare ranges, mounted by compose.
CLOUDFLARE_EXTRA = "/etc/nginx/cloudflare-extra.conf"


def wrapper_conf(prefix: Path, server_conf: Path) -> str:
    """A minimal nginx.conf around a server conf, with every path in prefix."""
    mime = Path("/etc/nginx/mime.types")
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    include {mime};
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {server_conf};
}}
"""


def make_certificate(directory: Path, names: list[str]) -> Path:
    """A self-signed certificate for the names; returns the CA file (itself)."""
    directory.mkdir(parents=True, exist_ok=True)
    san = ",".join(f"DNS:{name}" for name in names)
    subprocess.run(
        [
            require("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={names[0]}",
            "-addext",
            f"subjectAltName={san}",
            "-keyout",
            str(directory / "privkey.pem"),
            "-out",
            str(directory / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return directory / "fullchain.pem"


def replace_required(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"the rendered nginx conf no longer contains {old!r}")
    return text.replace(old, new)


class NginxServer:
    """On free loopback ports; or on the rendered ports 80 and 443 of a
    loopback address of the test's own, or inside a network namespace.
    upstream: a loopback port, "HOST:PORT", or "unix:PATH"."""

    def __init__(
        self,
        base: Path,
        rendered_conf: Path,
        upstream: int | str,
        cert_dir: Path,
        media_dir: Path,
        cloudflare_extra: Path | None = None,
        namespace: NetworkNamespace | None = None,
        address: str | None = None,
    ):
        self.base = base
        self.namespace = namespace
        text = rendered_conf.read_text()
        server = upstream if isinstance(upstream, str) else f"127.0.0.1:{upstream}"
        text = replace_required(text, UPSTREAM, f"default {server};")
        if address is not None:
            # An address of the test's own: the rendered ports 80 and 443.
            self.http_port, self.https_port = 80, 443
            text = replace_required(text, LISTEN_HTTP, f"listen {address}:80")
            text = replace_required(text, LISTEN_HTTPS, f"listen {address}:443")
        elif namespace is None:
            self.http_port = free_port()
            self.https_port = free_port()
            text = replace_required(text, LISTEN_HTTP, f"listen 127.0.0.1:{self.http_port}")
            text = replace_required(text, LISTEN_HTTPS, f"listen 127.0.0.1:{self.https_port}")
        else:
            self.http_port, self.https_port = 80, 443
        text = replace_required(text, CERT_DIR, f"{cert_dir}/")
        if MEDIA_DIR in text:
            text = text.replace(MEDIA_DIR, f"{media_dir}/")
        if cloudflare_extra is not None:
            text = replace_required(text, CLOUDFLARE_EXTRA, str(cloudflare_extra))
        base.mkdir(parents=True, exist_ok=True)
        (base / "server.conf").write_text(text)
        (base / "nginx.conf").write_text(wrapper_conf(base, base / "server.conf"))
        self.log = base / "nginx.stdout"
        self.process = None

    def start(self) -> "NginxServer":
        command = [require("nginx"), "-p", str(self.base), "-c", str(self.base / "nginx.conf"), "-g", "daemon off;"]
        if self.namespace is not None:
            command = self.namespace.command(command)
        self.process = start(command, self.log)
        # nginx writes its pid file once its sockets listen.
        wait_until(
            (self.base / "nginx.pid").exists,
            15,
            "nginx",
            process=self.process,
            log=self.base / "error.log",
        )
        return self

    def stop(self) -> None:
        if self.process:
            stop(self.process)
            self.process = None
        shutil.rmtree(self.base / "client_body", ignore_errors=True)
