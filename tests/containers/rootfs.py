"""Debian root file systems made with debootstrap, cached as tarballs.

A tarball is keyed by suite + package list + the slimming below, so changing
any of them makes a new one. debootstrap runs in two stages: the first
downloads and unpacks (network, no package scripts), the second configures
the packages inside private mount, network and pid namespaces, so a package
script can neither reach the network, bind a host port, leave a daemon
running nor leave a mount behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBOOTSTRAP_TIMEOUT = 1200.0

# What the official -slim images leave out (their dpkg config, copied here).
_DPKG_SLIM = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
"""
_APT_CONF = {
    "docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
}
_SOURCES = """\
Types: deb
URIs: {mirror}
Suites: {suite} {suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {security}
Suites: {suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# Left behind by debootstrap and package scripts; not in the official images
# (run/mount is util-linux's, from debootstrap's mounts in the chroot).
_CLEANUP = (
    "var/lib/apt/lists/*",
    "var/cache/apt/*.bin",
    "var/cache/apt/archives/*.deb",
    "var/cache/debconf/*-old",
    "var/log/*.log",
    "var/log/apt/*",
    "dev/*",
    "run/mount",
    "run/adduser",
)
# Bump when the way a root file system is made changes in a way the
# constants above do not show.
_RECIPE_VERSION = 1


@dataclass(frozen=True)
class RootfsSpec:
    """A minbase Debian suite plus extra packages (their dependencies come too)."""

    suite: str
    packages: tuple[str, ...] = ()
    mirror: str = DEFAULT_MIRROR

    @property
    def key(self) -> str:
        blob = json.dumps(
            {
                "suite": self.suite,
                "packages": sorted(self.packages),
                "mirror": self.mirror,
                "slim": [_DPKG_SLIM, _APT_CONF, _SOURCES, _CLEANUP],
                "recipe": _RECIPE_VERSION,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def slug(self) -> str:
        return f"{self.suite}-{self.key}"


def rootfs_tarball(spec: RootfsSpec, cache_dir: Path) -> Path:
    """The cached tarball for spec; made with debootstrap when missing."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tar = cache_dir / f"{spec.slug}.tar"
    if tar.exists():
        return tar
    t0 = time.monotonic()
    log.info("debootstrap %s with %s (a few minutes on the first run)", spec.suite, ", ".join(spec.packages) or "-")
    logfile = cache_dir / f"{spec.slug}.debootstrap.log"
    with tempfile.TemporaryDirectory(prefix=f".{spec.slug}-", dir=cache_dir) as work:
        root = Path(work) / "root"
        with open(logfile, "w") as out:
            first = ["debootstrap", "--foreign", "--variant=minbase", f"--keyring={KEYRING}"]
            if spec.packages:
                first.append("--include=" + ",".join(spec.packages))
            _run(
                ["unshare", "--mount", "--propagation", "private", *first, spec.suite, str(root), spec.mirror],
                out,
                logfile,
            )
            _run(
                [
                    "unshare",
                    "--mount",
                    "--net",
                    "--pid",
                    "--fork",
                    "--propagation",
                    "private",
                    "chroot",
                    str(root),
                    "/debootstrap/debootstrap",
                    "--second-stage",
                ],
                out,
                logfile,
            )
        _slim(root, spec)
        partial = tar.with_suffix(".tar.partial")
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", str(root), "-cf", str(partial), "."],
            check=True,
            timeout=600,
        )
        partial.replace(tar)
    # Older tarballs of the same suite are dead weight once a new key exists
    # for the same package list... but another stand-in may share the suite,
    # so only the caller knows which keys are live: see prune_tarballs().
    log.info("rootfs %s ready in %.0f s (%d MB)", tar.name, time.monotonic() - t0, tar.stat().st_size >> 20)
    return tar


def prune_tarballs(cache_dir: Path, keep: set[str]) -> list[Path]:
    """Delete cached tarballs (and their logs) whose slug is not in keep."""
    removed = []
    for path in cache_dir.glob("*.tar"):
        if path.stem not in keep:
            path.unlink()
            path.with_suffix(".debootstrap.log").unlink(missing_ok=True)
            removed.append(path)
    return removed


def _run(cmd: list[str], out, logfile: Path) -> None:
    out.write(f"$ {' '.join(cmd)}\n")
    out.flush()
    try:
        res = subprocess.run(
            cmd,
            check=False,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=DEBOOTSTRAP_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{cmd[0:6]} timed out; see {logfile}") from None
    if res.returncode != 0:
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}; tail of {logfile}:\n{tail}")


def _slim(root: Path, spec: RootfsSpec) -> None:
    """Make the tree look like an official -slim image's."""
    (root / "etc/dpkg/dpkg.cfg.d/docker-slim").write_text(_DPKG_SLIM)
    for name, text in _APT_CONF.items():
        (root / "etc/apt/apt.conf.d" / name).write_text(text)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(
        _SOURCES.format(mirror=spec.mirror, security=SECURITY_MIRROR, suite=spec.suite)
    )
    share = root / "usr/share"
    for sub in ("groff", "info", "linda", "lintian", "locale", "man"):
        _empty_dir(share / sub)
    for doc in (share / "doc").glob("*"):
        if doc.is_dir() and not doc.is_symlink():
            for item in doc.iterdir():
                if item.name != "copyright":
                    _remove(item)
    for pattern in _CLEANUP:
        for item in root.glob(pattern):
            if item.name not in ("lock", "partial"):
                _remove(item)
    # Host details that debootstrap copied in; docker supplies its own.
    for name in ("etc/resolv.conf", "etc/hostname"):
        (root / name).unlink(missing_ok=True)
    (root / "etc/machine-id").write_text("")


def _empty_dir(d: Path) -> None:
    if d.is_dir():
        for item in d.iterdir():
            _remove(item)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)
