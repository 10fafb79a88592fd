"""Local stand-ins for the official base images the rendered files name.

No registry can be reached here, so the images of copier.yml (its
``*_image`` values for the default answers: Python, Debian, PostgreSQL,
Redis, nginx) are made on this machine from Debian packages of the release
their tag names: debootstrap makes a root file system per image (cached as
a tarball, see rootfs.py), ``docker import`` loads it and ``docker build``
applies the recipe in recipes/<name>/ (users, entrypoint, ENV, CMD like the
official image). THEY ARE NOT THE OFFICIAL IMAGES: versions come from Debian
(an older redis and nginx than the tags say; trixie has one Python and one
PostgreSQL, which must be the default answers) and the differences are
listed in each recipe's Dockerfile and in StandIn.note.

Each image carries a label with a key made of its package list, suite and
recipe files; when the image already has that key nothing is built, so a
rerun with the cache present takes seconds.

Python stand-in and pip: Debian marks its Python as externally managed
(PEP 668), so ``pip install`` outside a venv fails there while it works in
the official image. The template's Dockerfile installs into a venv, which
behaves the same in both.

Python stand-in and TLS: this machine reaches PyPI through an HTTPS proxy
with its own CA, which only the host's bundle holds. The python stand-in
(and only it) trusts the CAs of the host's bundle that Debian's lacks, so
``pip install`` in a build FROM it works without changing the Dockerfile
being built. Debian's pip reads the system bundle. The image's label and
the build log say so.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from support.facts import copier_config, images

from .engine import DockerEngine, EngineError
from .rootfs import RootfsSpec, prune_tarballs, rootfs_tarball

log = logging.getLogger(__name__)

RECIPES = Path(__file__).resolve().parent / "recipes"
KEY_LABEL = "org.obcms.standin.key"
NOTE_LABEL = "org.obcms.standin"
ROOTFS_REPO = "obcms-standin-rootfs"
BUILD_TIMEOUT = 600.0
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Directory of the python recipe's build context that receives those CAs.
SANDBOX_CA_DIR = "sandbox-ca"
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


@dataclass(frozen=True)
class StandIn:
    image: str  # the exact name the rendered files use
    recipe: str  # directory under recipes/
    rootfs: RootfsSpec
    note: str  # how it differs from the official image
    # Trust the host's extra CAs (see the module docstring): test sandbox only.
    trust_host_cas: bool = False
    build_args: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        h = hashlib.sha256(f"{self.image}\0{self.rootfs.key}\0{self.build_args}\0".encode())
        for path in sorted((RECIPES / self.recipe).rglob("*")):
            if path.is_file():
                h.update(f"{path.relative_to(RECIPES)}\0{path.stat().st_mode & 0o111}\0".encode())
                h.update(path.read_bytes())
        if self.trust_host_cas:
            h.update(b"host-cas\0" + "".join(_host_cas()).encode())
        return h.hexdigest()[:16]


DEBIAN_RELEASES = ("bookworm", "trixie")


def debian_release(image: str) -> str:
    """The Debian release an official image's tag names (redis:7.4-bookworm: bookworm)."""
    words = image.split(":", 1)[1].split("-")
    for release in DEBIAN_RELEASES:
        if release in words:
            return release
    raise ValueError(f"{image}: its tag names none of the Debian releases a stand-in is made from {DEBIAN_RELEASES}")


# The names a render with the default answers uses (copier.yml).
IMAGES = images()
POSTGRES_VERSION = copier_config()["postgres_version"]["default"]
# The version the upgrade test moves from: bookworm's PostgreSQL (trixie
# ships only the default, 17), under the name a render with it uses.
OLDER_POSTGRES_VERSION = "15"
OLDER_POSTGRES_IMAGE = images(postgres_version=OLDER_POSTGRES_VERSION)["postgres_image"]


def postgres_standin(image: str, version: str, release: str) -> StandIn:
    package = f"postgresql-{version}"
    return StandIn(
        image,
        "postgres",
        RootfsSpec(release, (package, "gosu")),
        f"Debian {release}'s {package} with an entrypoint like the official one; LANG=C.UTF-8",
        build_args=(("PG_MAJOR", version),),
    )


STANDINS: tuple[StandIn, ...] = (
    StandIn(
        IMAGES["debian_image"],
        "debian",
        RootfsSpec(debian_release(IMAGES["debian_image"])),
        f"debootstrap minbase of {debian_release(IMAGES['debian_image'])}, slimmed like the official image",
    ),
    StandIn(
        IMAGES["python_image"],
        "python",
        RootfsSpec(
            debian_release(IMAGES["python_image"]),
            ("python3", "python3-venv", "python3-pip", "python3-dev", "ca-certificates", "netbase", "tzdata"),
        ),
        "Debian's python3 (/usr/bin, symlinked from /usr/local/bin); "
        "pip refuses system-wide installs (PEP 668): use a venv; "
        "TEST SANDBOX ONLY: trusts the CAs of the host's bundle that Debian lacks (the HTTPS proxy to PyPI)",
        trust_host_cas=True,
    ),
    postgres_standin(IMAGES["postgres_image"], POSTGRES_VERSION, debian_release(IMAGES["postgres_image"])),
    postgres_standin(OLDER_POSTGRES_IMAGE, OLDER_POSTGRES_VERSION, "bookworm"),
    StandIn(
        IMAGES["redis_image"],
        "redis",
        RootfsSpec(debian_release(IMAGES["redis_image"]), ("redis-server", "gosu")),
        f"Debian {debian_release(IMAGES['redis_image'])}'s redis-server stands in for {IMAGES['redis_image']}",
    ),
    StandIn(
        IMAGES["nginx_image"],
        "nginx",
        RootfsSpec(debian_release(IMAGES["nginx_image"]), ("nginx", "gettext-base", "curl", "ca-certificates")),
        f"Debian {debian_release(IMAGES['nginx_image'])}'s nginx stands in for {IMAGES['nginx_image']}",
    ),
    # The official certbot image is Alpine's, its tag names no Debian release:
    # trixie's certbot is the closest to it.
    StandIn(
        IMAGES["certbot_image"],
        "certbot",
        # python3-cffi-backend: python3-cryptography needs it through a virtual
        # package, which debootstrap does not resolve.
        RootfsSpec("trixie", ("certbot", "python3-cffi-backend", "ca-certificates")),
        f"Debian trixie's certbot (Python and cryptography from Debian) stands in for {IMAGES['certbot_image']}",
    ),
    # The official image is Alpine with the release binary; the backup image
    # copies /usr/bin/restic from it into PostgreSQL's (Debian) image.
    StandIn(
        IMAGES["restic_image"],
        "restic",
        RootfsSpec("trixie", ("restic", "ca-certificates")),
        f"Debian trixie's restic (its version, not the tag's) stands in for {IMAGES['restic_image']} (Alpine)",
    ),
)


@dataclass
class ImageReport:
    image: str
    key: str
    built: bool  # False: the image with this key was already there
    seconds: float
    size_bytes: int
    version: str
    note: str

    def line(self) -> str:
        what = "built" if self.built else "cached"
        return (
            f"{self.image:<26} {what:<6} {self.seconds:6.1f} s {self.size_bytes / 1e6:7.1f} MB  "
            f"{self.version}  [stand-in: {self.note}]"
        )


def ensure_standins(
    engine: DockerEngine,
    images: Iterable[str] | None = None,
    *,
    cache_dir: Path | None = None,
    parallel: int = 3,
) -> list[ImageReport]:
    """Make sure the stand-in images exist with their current key; build what is missing.

    images: names from STANDINS (default: all). cache_dir holds the rootfs
    tarballs (default: <engine base>/rootfs). Returns one report per image.
    """
    wanted = _select(images)
    cache_dir = cache_dir or engine.base / "rootfs"
    log.warning(
        "STAND-IN IMAGES: %s are made locally from Debian packages, NOT the official images "
        "(no registry is reachable here); see tests/containers/standins.py",
        ", ".join(s.image for s in wanted),
    )
    t0 = time.monotonic()
    todo = [s for s in wanted if _image_key(engine, s.image) != s.key]
    # debootstrap is mostly waiting on downloads and dpkg: run a few at once.
    tarballs: dict[str, Path] = {}
    specs = {s.rootfs.slug: s.rootfs for s in todo if not _exists(engine, _rootfs_tag(s))}
    if specs:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for slug, tar in zip(
                specs, pool.map(lambda sp: rootfs_tarball(sp, cache_dir), specs.values()), strict=True
            ):
                tarballs[slug] = tar
    reports = []
    for standin in wanted:
        start = time.monotonic()
        built = standin in todo
        if built:
            _build(engine, standin, tarballs.get(standin.rootfs.slug))
        reports.append(
            ImageReport(
                image=standin.image,
                key=standin.key,
                built=built,
                seconds=time.monotonic() - start if built else 0.0,
                size_bytes=int(engine.docker("image", "inspect", "-f", "{{.Size}}", standin.image).stdout),
                version=_version(engine, standin),
                note=standin.note,
            )
        )
    if todo:
        _prune(engine, cache_dir)
    log.warning("stand-in images ready in %.1f s:\n%s", time.monotonic() - t0, format_report(reports))
    return reports


def format_report(reports: Iterable[ImageReport]) -> str:
    return "\n".join(r.line() for r in reports)


def standins_fixture(
    name: str = "standin_images", engine_fixture_name: str = "docker_engine"
) -> Callable[..., Iterator[list[ImageReport]]]:
    """A session-scoped pytest fixture that ensures all stand-ins on the engine fixture."""
    import pytest

    @pytest.fixture(scope="session", name=name)
    def _fixture(request: pytest.FixtureRequest) -> Iterator[list[ImageReport]]:
        yield ensure_standins(request.getfixturevalue(engine_fixture_name))

    return _fixture


# -- internals -----------------------------------------------------------------


def _select(images: Iterable[str] | None) -> list[StandIn]:
    if images is None:
        return list(STANDINS)
    by_name = {s.image: s for s in STANDINS}
    unknown = [i for i in images if i not in by_name]
    if unknown:
        raise ValueError(f"no stand-in for {unknown}; known: {sorted(by_name)}")
    return [by_name[i] for i in images]


def _rootfs_tag(standin: StandIn) -> str:
    return f"{ROOTFS_REPO}:{standin.rootfs.slug}"


def _exists(engine: DockerEngine, ref: str) -> bool:
    return engine.docker("image", "inspect", "-f", "{{.Id}}", ref, check=False, timeout=30).returncode == 0


def _image_key(engine: DockerEngine, image: str) -> str | None:
    res = engine.docker(
        "image", "inspect", "-f", '{{index .Config.Labels "' + KEY_LABEL + '"}}', image, check=False, timeout=30
    )
    return res.stdout.strip() if res.returncode == 0 else None


def _build(engine: DockerEngine, standin: StandIn, tarball: Path | None) -> None:
    log.warning("building STAND-IN %s from Debian packages (not the official image): %s", standin.image, standin.note)
    base = _rootfs_tag(standin)
    if not _exists(engine, base):
        if tarball is None:
            raise EngineError(f"no rootfs tarball for {standin.image}")
        engine.docker("import", str(tarball), base, timeout=BUILD_TIMEOUT)
    args = [
        "build",
        "--force-rm",
        "--network",
        "none",
        "--build-arg",
        f"BASE={base}",
        "--label",
        f"{KEY_LABEL}={standin.key}",
        "--label",
        f"{NOTE_LABEL}=stand-in made from Debian packages: {standin.note}",
        "-t",
        standin.image,
    ]
    for name, value in standin.build_args:
        args += ["--build-arg", f"{name}={value}"]
    if standin.recipe == "python":
        version = engine.docker(
            "run",
            "--rm",
            "--network",
            "none",
            base,
            "python3",
            "-c",
            "import platform; print(platform.python_version())",
        ).stdout.strip()
        args += ["--build-arg", f"PYTHON_VERSION={version}"]
    with tempfile.TemporaryDirectory(prefix=f"standin-{standin.recipe}-") as tmp:
        context = Path(tmp) / standin.recipe
        shutil.copytree(RECIPES / standin.recipe, context)
        if standin.trust_host_cas:
            _add_host_cas(engine, base, context / SANDBOX_CA_DIR, standin.image)
        engine.docker(*args, str(context), timeout=BUILD_TIMEOUT)


def _host_cas() -> list[str]:
    """The certificates of the host's CA bundle, whitespace-normalized."""
    try:
        text = HOST_CA_BUNDLE.read_text()
    except FileNotFoundError:
        return []
    return [_normalized(block) for block in PEM_BLOCK.findall(text)]


def _normalized(block: str) -> str:
    body = "".join(block.split("-----")[2].split())
    return (
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + ("\n-----END CERTIFICATE-----\n")
    )


def _add_host_cas(engine: DockerEngine, base: str, directory: Path, image: str) -> None:
    """Write the host's CAs that the base image's bundle lacks into directory."""
    bundle = engine.docker("run", "--rm", "--network", "none", base, "cat", str(HOST_CA_BUNDLE)).stdout
    known = {_normalized(block) for block in PEM_BLOCK.findall(bundle)}
    extra = [cert for cert in _host_cas() if cert not in known]
    directory.mkdir(exist_ok=True)
    for number, cert in enumerate(extra, 1):
        (directory / f"sandbox-{number}.crt").write_text(cert)
    log.warning(
        "STAND-IN %s trusts %d CA(s) of this machine's bundle that Debian's lacks "
        "(the sandbox's HTTPS proxy), for pip in builds: TEST SANDBOX ONLY",
        image,
        len(extra),
    )


def _version(engine: DockerEngine, standin: StandIn) -> str:
    """What the stand-in really runs, for the report."""
    probe = {
        "python": ["python", "--version"],
        "postgres": ["postgres", "--version"],
        "redis": ["redis-server", "--version"],
        "nginx": ["nginx", "-v"],
        "debian": ["cat", "/etc/debian_version"],
        "certbot": ["certbot", "--version"],
        "restic": ["restic", "version"],
    }[standin.recipe]
    res = engine.docker(
        "run", "--rm", "--network", "none", "--entrypoint", probe[0], standin.image, *probe[1:], check=False, timeout=60
    )
    text = (res.stdout + res.stderr).strip().splitlines()
    return text[0] if text else "?"


def _prune(engine: DockerEngine, cache_dir: Path) -> None:
    """Drop superseded stand-in images and rootfs tarballs; keep current ones."""
    live = {s.rootfs.slug for s in STANDINS}
    refs = engine.docker("image", "ls", ROOTFS_REPO, "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    stale = [r for r in refs if r.split(":", 1)[1] not in live]
    if stale:
        engine.docker("image", "rm", *stale, check=False)
    engine.docker("image", "prune", "-f", "--filter", f"label={KEY_LABEL}", check=False)
    for path in prune_tarballs(cache_dir, live):
        log.info("removed superseded rootfs %s", path.name)
