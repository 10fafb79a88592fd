"""The rendered certificate machinery run natively: the certbot service's
script (deploy/certbot/certbot.sh, with Debian's certbot) and the nginx
image's reload loop (deploy/nginx/reload-on-new-certificate.sh), each in a
private mount namespace where the test's directory is /etc/letsencrypt, the
path the scripts and certbot itself use.

What differs from the containers, and nothing else: the script reaches nginx
at its loopback port instead of the `nginx` service name, the webroot is the
test's directory, certbot's work and log directories are set in the test's
cli.ini, and `nginx` (for -t and -s reload) is the test's server."""

import shutil
from pathlib import Path

from .binaries import require
from .nginx import NginxServer
from .processes import Process
from .text import replace_required

CONTAINER_CONFIG_DIR = "/etc/letsencrypt"


def private_letsencrypt(config_dir: Path, command: str) -> list[str]:
    """command (a shell line) run where config_dir is /etc/letsencrypt (the
    certbot package makes that directory, the mount point)."""
    script = f"mount --bind {config_dir} {CONTAINER_CONFIG_DIR} && exec {command}"
    return [require("unshare"), "--mount", "--propagation", "private", "sh", "-c", script]


class CertbotService(Process):
    """config_dir stands for the certificates volume, webroot for the
    challenges volume (readable by nginx's unprivileged workers)."""

    def __init__(self, project: Path, base: Path, config_dir: Path, webroot: Path, nginx_port: int, env: dict):
        self.base = base
        self.config_dir = config_dir
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "cli.ini").write_text(f"work-dir = {base / 'work'}\nlogs-dir = {base / 'logs'}\n")
        scripts = base / "scripts"
        scripts.mkdir(parents=True)
        text = (project / "deploy/certbot/certbot.sh").read_text()
        what = "the rendered certbot.sh"
        text = replace_required(text, "nginx_url=http://nginx\n", f"nginx_url=http://127.0.0.1:{nginx_port}\n", what)
        text = replace_required(text, "webroot=/var/www/certbot\n", f"webroot={webroot}\n", what)
        (scripts / "certbot.sh").write_text(text)
        shutil.copy(project / "deploy/certbot/stand_in_certificate.py", scripts)
        self.script = scripts / "certbot.sh"
        # Debian's python3 has the cryptography package, as certbot's image has.
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(base), **env}
        self.log = base / "certbot.log"

    def live(self, domain: str) -> Path:
        return self.config_dir / "live" / domain

    def start(self) -> "CertbotService":
        # Ready at once: what it does next (the stand-in, the certificate) the test waits for.
        self.launch(
            private_letsencrypt(self.config_dir, f"sh {self.script}"),
            self.log,
            lambda: True,
            1,
            "certbot",
            env=self.env,
        )
        return self

    def force_renewals(self) -> None:
        """From now on every `certbot renew` renews (certbot reads cli.ini each time)."""
        with (self.config_dir / "cli.ini").open("a") as ini:
            ini.write("force-renewal = true\n")


class CertificateWatcher(Process):
    """The nginx image runs the rendered script at start; it leaves a loop
    behind that reloads nginx when the certificate changes."""

    def __init__(self, project: Path, base: Path, nginx: NginxServer, config_dir: Path, interval: int):
        base.mkdir(parents=True, exist_ok=True)
        wrapper = base / "bin" / "nginx"
        wrapper.parent.mkdir()
        wrapper.write_text(f'#!/bin/sh\nexec {require("nginx")} -p {nginx.base} -c {nginx.base / "nginx.conf"} "$@"\n')
        wrapper.chmod(0o755)
        self.script = project / "deploy/nginx/reload-on-new-certificate.sh"
        self.config_dir = config_dir
        self.env = {
            "PATH": f"{wrapper.parent}:/usr/sbin:/usr/bin:/sbin:/bin",
            "CERTIFICATE_CHECK_SECONDS": str(interval),
        }
        self.log = base / "watcher.log"

    def start(self) -> "CertificateWatcher":
        # The loop outlives the script that started it, in the same process
        # group: stop() ends the whole group.
        self.launch(
            private_letsencrypt(self.config_dir, f"sh {self.script}"),
            self.log,
            lambda: True,
            1,
            "nginx's reload loop",
            env=self.env,
        )
        return self
