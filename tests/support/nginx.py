"""nginx on loopback: the rendered conf in front of a gunicorn, or a server
conf of the test's own; every path of it under one directory."""

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .binaries import require
from .netns import NetworkNamespace
from .processes import Process, free_port
from .text import replace_required

# The rendered conf is written for the compose network; these are the only
# strings a test changes to run it on loopback.
UPSTREAM = "default web:8000;"  # where requests go (the map of $web_backend)
LISTEN_HTTP = "listen 80"
LISTEN_HTTPS = "listen 443"
# certbot's current certificate, /etc/letsencrypt/live/<domain>/.
CERT_DIR = re.compile(r"/etc/letsencrypt/live/[a-z0-9.-]+/")
# The HTTP-01 challenge files certbot writes.
WEBROOT = "root /var/www/certbot;"
MEDIA_DIR = "/srv/media/"
# nginx's copy of WhiteNoise's immutable answers (/static/).
STATIC_CACHE_DIR = "/var/cache/nginx/static"
# use_cloudflare: the owner's extra Cloudflare ranges, mounted by compose.
CLOUDFLARE_EXTRA = "/etc/nginx/cloudflare-extra.conf"
WHAT = "the rendered nginx conf"


def wrapper_conf(
    prefix: Path,
    server_conf: Path,
    worker_processes: str = "1",
    error_level: str = "info",
    body_dir: Path | None = None,
) -> str:
    """A minimal nginx.conf around a server conf, with every path in prefix
    (request bodies in body_dir when given)."""
    mime = Path("/etc/nginx/mime.types")
    return f"""
worker_processes {worker_processes};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log {error_level};
events {{ worker_connections 1024; }}
http {{
    include {mime};
    access_log {prefix}/access.log;
    client_body_temp_path {body_dir or prefix / "client_body"};
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


class Nginx(Process):
    """nginx with one server conf (text), all its files under base; inside a
    network namespace when one is given. wrapper options (worker_processes,
    error_level) go to wrapper_conf."""

    def __init__(self, base: Path, server_text: str, namespace: NetworkNamespace | None = None, **wrapper):
        self.base = base
        self.namespace = namespace
        base.mkdir(parents=True, exist_ok=True)
        (base / "server.conf").write_text(server_text)
        (base / "nginx.conf").write_text(wrapper_conf(base, base / "server.conf", **wrapper))
        self.log = base / "nginx.stdout"

    def command(self) -> list[str]:
        command = [require("nginx"), "-p", str(self.base), "-c", str(self.base / "nginx.conf"), "-g", "daemon off;"]
        return self.namespace.command(command) if self.namespace is not None else command

    def start(self) -> "Nginx":
        # nginx writes its pid file once its sockets listen.
        self.launch(self.command(), self.log, (self.base / "nginx.pid").exists, 15, "nginx")
        return self

    def stop(self, timeout: float | None = None) -> int:
        code = super().stop(timeout)
        shutil.rmtree(self.base / "client_body", ignore_errors=True)
        return code


class NginxServer(Nginx):
    """The rendered conf, on free loopback ports; or on the rendered ports 80
    and 443 of a loopback address of the test's own, or inside a network
    namespace. upstream: a loopback port, "HOST:PORT", or "unix:PATH".
    cert_dir holds fullchain.pem and privkey.pem (certbot's live/<domain>/);
    webroot, when given, is where the ACME challenges are served from."""

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
        webroot: Path | None = None,
        static_cache: Path | None = None,
    ):
        text = rendered_conf.read_text()
        server = upstream if isinstance(upstream, str) else f"127.0.0.1:{upstream}"
        text = replace_required(text, UPSTREAM, f"default {server};", WHAT)
        if address is not None:
            # An address of the test's own: the rendered ports 80 and 443.
            self.http_port, self.https_port = 80, 443
            text = replace_required(text, LISTEN_HTTP, f"listen {address}:80", WHAT)
            text = replace_required(text, LISTEN_HTTPS, f"listen {address}:443", WHAT)
        elif namespace is None:
            self.http_port = free_port()
            self.https_port = free_port()
            text = replace_required(text, LISTEN_HTTP, f"listen 127.0.0.1:{self.http_port}", WHAT)
            text = replace_required(text, LISTEN_HTTPS, f"listen 127.0.0.1:{self.https_port}", WHAT)
        else:
            self.http_port, self.https_port = 80, 443
        if len(CERT_DIR.findall(text)) != 2:
            raise AssertionError(f"{WHAT} no longer names certbot's certificate: {CERT_DIR.pattern}")
        text = CERT_DIR.sub(f"{cert_dir}/", text)
        if webroot is not None:
            text = replace_required(text, WEBROOT, f"root {webroot};", WHAT)
        # nginx's unprivileged workers write there: by default outside base
        # (pytest's temporary directories are root-only).
        self.static_cache = static_cache or Path(tempfile.mkdtemp(prefix="obcms-nginx-static-"))
        self.static_cache.mkdir(parents=True, exist_ok=True)
        self.static_cache.chmod(0o755)
        text = replace_required(text, STATIC_CACHE_DIR, str(self.static_cache), WHAT)
        if MEDIA_DIR in text:
            text = text.replace(MEDIA_DIR, f"{media_dir}/")
        if cloudflare_extra is not None:
            text = replace_required(text, CLOUDFLARE_EXTRA, str(cloudflare_extra), WHAT)
        # Request bodies that nginx buffers: its unprivileged workers write
        # them, and may not enter pytest's root-only directories.
        self.body_dir = Path(tempfile.mkdtemp(prefix="obcms-test-nginx-body-"))
        if os.geteuid() == 0:
            worker = pwd.getpwnam("nobody")
            os.chown(self.body_dir, worker.pw_uid, worker.pw_gid)
        super().__init__(base, text, namespace, body_dir=self.body_dir)

    def stop(self, timeout: float | None = None) -> int:
        code = super().stop(timeout)
        shutil.rmtree(self.static_cache, ignore_errors=True)
        shutil.rmtree(self.body_dir, ignore_errors=True)
        return code
