"""Certificates without a manual step, run for real on loopback: the
rendered nginx conf in a real nginx, the rendered certbot service script
with Debian's certbot, Pebble (Let's Encrypt's test CA) as the ACME CA that
validates HTTP-01 through that nginx, and the rendered reload loop of the
nginx container.

nginx starts on the self-signed stand-in the script makes; the CA's
certificate replaces it; a renewal replaces that; each time nginx serves the
new certificate without anyone reloading it (its serial number changes)."""

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from support.acme import AcmeServer, served_certificate, verified
from support.certbot import CertbotService, CertificateWatcher
from support.nginx import NginxServer
from support.processes import free_port, tail, wait_until

DOMAIN = "obcms.gov.ph"
NAMES = [DOMAIN, f"www.{DOMAIN}"]
# How often the reload loop looks at the files (300 s in production).
CHECK_SECONDS = 1


def wait_for(predicate, timeout: float, what: str, logs: list[Path]):
    """wait_until, with the tail of every part's log in the error."""
    try:
        return wait_until(predicate, timeout, what, interval=0.25)
    except TimeoutError as error:
        raise TimeoutError(f"{error}\n" + "\n---\n".join(f"{log}:\n{tail(log)}" for log in logs)) from None


@pytest.fixture
def machinery(default_project, tmp_path):
    """Pebble, nginx with the rendered conf, the certbot service, nginx's reload loop."""
    config_dir = tmp_path / "letsencrypt"  # the certificates volume
    webroot = Path(tempfile.mkdtemp(prefix="obcms-test-webroot-"))  # the challenges volume
    webroot.chmod(0o755)  # nginx's unprivileged workers read it
    nginx = NginxServer(
        tmp_path / "nginx",
        default_project / "deploy/nginx/obcms.conf",
        free_port(),  # no gunicorn: only TLS and the challenges matter here
        config_dir / "live" / DOMAIN,
        tmp_path / "media",
        webroot=webroot,
    )
    # Pebble validates on nginx's ports, and its DNS sends every name to 127.0.0.1.
    acme = AcmeServer(tmp_path / "acme", nginx.http_port, nginx.https_port)
    certbot = watcher = None
    try:
        acme.start()
        certbot = CertbotService(
            default_project,
            tmp_path / "certbot",
            config_dir,
            webroot,
            nginx.http_port,
            {
                "ACME_SERVER": acme.directory_url,
                "CERTBOT_EMAIL": f"admin@{DOMAIN}",
                "REQUESTS_CA_BUNDLE": str(acme.tls_ca),
                "CERTBOT_RETRY_SECONDS": "2",
                "CERTBOT_RENEW_SECONDS": "2",
            },
        ).start()
        logs = [certbot.log, acme.base / "pebble.log", nginx.base / "error.log"]
        # As compose starts nginx once certbot is healthy: a certificate exists.
        wait_for((certbot.live(DOMAIN) / "fullchain.pem").exists, 30, "the stand-in certificate", logs)
        nginx.start()
        watcher = CertificateWatcher(default_project, tmp_path / "watcher", nginx, config_dir, CHECK_SECONDS).start()
        yield acme, certbot, nginx, logs + [watcher.log]
    finally:
        for part in (watcher, nginx, certbot, acme):
            if part is not None:
                part.stop()
        shutil.rmtree(webroot, ignore_errors=True)


def test_a_certificate_is_issued_served_renewed_and_served_again(machinery):
    acme, certbot, nginx, logs = machinery
    first_seen = served_certificate(nginx.https_port, DOMAIN)
    started = time.monotonic()

    issued = wait_for(
        lambda: (seen := served_certificate(nginx.https_port, DOMAIN))["issuer"] != first_seen["issuer"] and seen,
        90,
        "nginx serving the CA's certificate",
        logs,
    )
    print(f"\nstand-in {first_seen}\nissued   {issued}\nafter {time.monotonic() - started:.1f} s")
    # nginx started on the stand-in: self-signed, for the site's names.
    assert first_seen["issuer"] == first_seen["subject"] == f"CN = {DOMAIN}"
    assert first_seen["names"] == "DNS:obcms.gov.ph, DNS:www.obcms.gov.ph"
    # Then the CA's certificate, for every name, which chains to the CA's root.
    assert "Pebble" in issued["issuer"]
    assert issued["names"] == "DNS:obcms.gov.ph, DNS:www.obcms.gov.ph"
    root = acme.root_certificate()
    assert all(verified(nginx.https_port, root, name) for name in NAMES)
    # certbot's layout: live/ links into archive/, and nginx followed the links.
    live = certbot.live(DOMAIN)
    assert (live / "fullchain.pem").is_symlink()
    assert str((live / "fullchain.pem").readlink()).startswith("../../archive/")

    certbot.force_renewals()
    renewed = wait_for(
        lambda: (seen := served_certificate(nginx.https_port, DOMAIN))["serial"] != issued["serial"] and seen,
        60,
        "nginx serving the renewed certificate",
        logs,
    )
    print(f"renewed  {renewed}")
    assert "Pebble" in renewed["issuer"]
    assert verified(nginx.https_port, root, DOMAIN)
    assert (live / "fullchain.pem").readlink() != Path("../../archive/obcms.gov.ph/fullchain1.pem")
    # Nobody reloaded nginx but its own loop.
    assert "certificate changed; nginx reloaded" in logs[-1].read_text()
