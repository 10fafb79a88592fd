"""A rendered project deployed on the private engine: its image built with
the rendered Dockerfile, its docker-compose.prod.yml brought up, talked to
through the published port, taken down.

The rendered files are used exactly as rendered. What differs in the tests
is written beside them, outside the project, and passed to Compose:

- an env file (a second ``--env-file``, after the project's .env) with the
  compose file's own variables: IMAGE_TAG per profile, PUBLISH_ADDRESS
  127.0.0.1, free HTTP_PORT/HTTPS_PORT, and ACME_SERVER: Pebble, a local
  ACME CA (tests/support/acme.py) on the gateway address of the default
  network, which validates through nginx's published port;
- the compose files are those of COMPOSE_FILE in the project's .env (the
  production file and the owner's), then the test's override;
- an override file: ``build: {network: host}`` (the engine has no NAT, so
  pip and apt in the build use the host's network); an explicit subnet for
  every network (free ones, so the addresses are known and no engine on the
  machine collides); CELERY_SOFT_SHUTDOWN_TIMEOUT shortened for the celery
  service (its stop_grace_period, which must stay longer, is kept); with
  nginx: certbot trusts Pebble's own HTTPS certificate (REQUESTS_CA_BUNDLE)
  and retries after 3 s, nginx looks for a new certificate every 2 s; and
  whatever a test adds (a published web port where no nginx is rendered,
  test-only code mounted into one service).

Everything runs on the machine: ports on 127.0.0.1, networks the tests make.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import yaml

from support.acme import AcmeServer, served_der, verified
from support.compose import compose_file
from support.http import Response, request
from support.processes import free_port, wait_until
from support.render import read_answers, read_env_file

from .engine import TEST_PROJECT_PREFIX, DockerEngine

# Test-only: the worker's soft shutdown (60 s by default, waited in full on
# every stop) shortened so stopping celery takes seconds. The rendered
# stop_grace_period (75 s) stays longer, as it must.
TEST_SOFT_SHUTDOWN_SECONDS = 10
# Subnets are picked from here, avoiding every route the host already has.
SUBNET_POOL = ipaddress.ip_network("172.30.128.0/18")  # test_smoke.py uses 172.30.231-232
UP_TIMEOUT = 240  # seconds for `up --wait`: db, migrate, web's first health checks (30 s interval)

# (label, seconds) of every timed step of the session, reported at its end.
TIMINGS: list[tuple[str, float]] = []
IMAGE_SIZES: dict[str, int] = {}
# Figures measured by the tests (label, value), reported at the end too.
FIGURES: list[tuple[str, str]] = []


@contextmanager
def timed(label: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        TIMINGS.append((label, time.monotonic() - start))


def free_subnets(count: int) -> list[ipaddress.IPv4Network]:
    """/24 networks no route of the host overlaps (docker bridges make routes)."""
    taken = []
    for line in Path("/proc/net/route").read_text().splitlines()[1:]:
        fields = line.split()
        dest, mask = (ipaddress.IPv4Address(int(x, 16).to_bytes(4, "little")) for x in (fields[1], fields[7]))
        if str(mask) != "0.0.0.0":
            taken.append(ipaddress.ip_network(f"{dest}/{mask}", strict=False))
    candidates = [n for n in SUBNET_POOL.subnets(new_prefix=24) if not any(n.overlaps(t) for t in taken)]
    if len(candidates) < count:
        raise RuntimeError(f"fewer than {count} free /24 networks in {SUBNET_POOL}")
    return random.sample(candidates, count)


def deep_merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class Deployment:
    """One compose project of a private copy of a render."""

    engine: DockerEngine
    name: str  # suffix of the compose project name
    project: Path  # the private copy: build context and working directory
    workdir: Path  # override, env file and certificates, outside the project
    image_tag: str
    extra_override: dict = field(default_factory=dict)
    extra_env: dict = field(default_factory=dict)
    compose_file: str = "docker-compose.prod.yml"

    def __post_init__(self) -> None:
        self.project_name = f"{TEST_PROJECT_PREFIX}-{self.name}"
        self.answers = read_answers(self.project)
        self.domain = self.answers["domain_name"]
        self.has_nginx = self.answers["deploy_target"] == "compose"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port = free_port(), free_port()
        self.ca: Path | None = None  # Pebble's root, once nginx serves its certificate
        self.acme: AcmeServer | None = None
        self.downs = 0
        self.env_file = self.workdir / "test.env"
        self.rendered = compose_file(self.project, self.compose_file)
        networks = list(self.rendered.get("networks") or {"default": None})
        self.subnets = dict(zip(networks, free_subnets(len(networks)), strict=True))
        self.override_file = self.workdir / "compose.test.yml"
        self.write_files()

    def write_files(self) -> None:
        """(Re)write the env file and the override; call again after changing
        extra_env or extra_override, before the next compose command."""
        # Empty image_tag: the project's .env names the image, as on a server.
        env = {"IMAGE_TAG": self.image_tag} if self.image_tag else {}
        if self.has_nginx:
            ports = {"HTTP_PORT": str(self.http_port), "HTTPS_PORT": str(self.https_port)}
            env |= {"PUBLISH_ADDRESS": "127.0.0.1", **ports}
        if self.acme is not None:
            env["ACME_SERVER"] = self.acme.directory_url
        env |= self.extra_env
        self.env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        self.override_file.write_text(yaml.safe_dump(self.override(), sort_keys=False))

    # -- the test-only differences -------------------------------------------

    def override(self) -> dict:
        services: dict[str, dict] = {}
        for name, service in self.rendered["services"].items():
            if "build" in service:
                services[name] = {"build": {"network": "host"}}
        services.setdefault("celery", {})["environment"] = {
            "CELERY_SOFT_SHUTDOWN_TIMEOUT": str(TEST_SOFT_SHUTDOWN_SECONDS)
        }
        if not self.has_nginx:
            # Coolify's Traefik is not here: publish web itself, on loopback.
            exposed = re.search(r"^EXPOSE (\d+)$", (self.project / "Dockerfile").read_text(), re.M).group(1)
            services["web"]["ports"] = [f"127.0.0.1:{self.web_port}:{exposed}"]
        if self.acme is not None:
            services["certbot"] = {
                "environment": {"REQUESTS_CA_BUNDLE": "/test-acme/cert.pem", "CERTBOT_RETRY_SECONDS": "3"},
                "volumes": [f"{self.acme.tls_ca.parent}:/test-acme:ro"],
            }
            services["nginx"] = {"environment": {"CERTIFICATE_CHECK_SECONDS": "2"}}
        networks = {name: {"ipam": {"config": [{"subnet": str(subnet)}]}} for name, subnet in self.subnets.items()}
        return deep_merge({"services": services, "networks": networks}, self.extra_override)

    @property
    def app_services(self) -> list[str]:
        """The services that run the application image (migrate, web, celery, ...)."""
        image = self.rendered["services"]["web"]["image"]
        return [name for name, service in self.rendered["services"].items() if service.get("image") == image]

    def gateway(self, network: str = "default") -> str:
        """The host's address on a network: where published ports' requests come from."""
        return str(next(self.subnets[network].hosts()))

    # -- compose ---------------------------------------------------------------

    @property
    def compose_files(self) -> list[Path]:
        """What plain `docker compose` reads in the project: COMPOSE_FILE of its .env."""
        env = self.project / ".env"
        listed = read_env_file(env).get("COMPOSE_FILE") if env.exists() else None
        return [self.project / name for name in (listed or self.compose_file).split(":")]

    def compose(self, *args: str, timeout: float = 300, check: bool = True):
        env_files = [f for f in (self.project / ".env", self.env_file) if f.exists()]
        flags = [arg for f in env_files for arg in ("--env-file", str(f))]
        return self.engine.compose(
            self.project_name,
            *flags,
            *args,
            files=[*self.compose_files, self.override_file],
            cwd=self.project,
            timeout=timeout,
            check=check,
        )

    def script_env(self, **extra: str) -> dict[str, str]:
        """The environment in which the project's own scripts run plain
        `docker compose` as on a server whose .env sets COMPOSE_FILE: this
        project's name, its compose file with the test override, its .env
        with the test's env file."""
        return {
            **self.engine.env(),
            "COMPOSE_PROJECT_NAME": self.project_name,
            "COMPOSE_FILE": f"{self.project / self.compose_file}:{self.override_file}",
            "COMPOSE_ENV_FILES": f"{self.project / '.env'},{self.env_file}",
            **extra,
        }

    def run(self, *command: str, timeout: float = 900, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """A command in the project's directory with script_env(), e.g.
        run("scripts/deploy.sh") or run("docker", "compose", "ps")."""
        return subprocess.run(
            command,
            cwd=self.project,
            env=self.script_env(**extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def build(self, *, fresh: bool) -> float:
        """Build the image as `docker compose build` does; fresh: no layer cache.
        Returns the seconds it took."""
        start = time.monotonic()
        self.compose("build", *(["--no-cache"] if fresh else []), *self.build_targets(), timeout=1500)
        return time.monotonic() - start

    def build_targets(self) -> list[str]:
        """One service per image that compose builds (web, migrate, celery and
        beat share one image: build it once)."""
        by_image: dict[str, str] = {}
        for name, service in self.rendered["services"].items():
            if "build" in service and (service["image"] not in by_image or name == "web"):
                by_image[service["image"]] = name
        return sorted(by_image.values())

    def up(self, *services: str, timeout: float = UP_TIMEOUT, check: bool = True):
        if self.has_nginx and self.acme is None:
            self.start_acme()
        # --no-build: the image was built once for the session; a missing one fails loudly.
        result = self.compose(
            "up", "--detach", "--no-build", "--wait", "--wait-timeout", str(int(timeout)), *services,
            timeout=timeout + 60,
            check=check,
        )  # fmt: skip
        if self.acme is not None and result.returncode == 0 and not services:
            self.wait_for_certificate()
        return result

    def start_acme(self) -> None:
        """Pebble on the default network's gateway (the networks first: the
        address comes with them); its DNS sends every name to 127.0.0.1, where
        nginx's HTTP port is published."""
        self.compose("up", "--no-start", "--no-build", timeout=120)
        self.acme = AcmeServer(
            self.workdir / "acme", self.http_port, self.https_port, self.gateway("default"), resolve_to="127.0.0.1"
        ).start()
        self.write_files()

    def wait_for_certificate(self, timeout: float = 180) -> None:
        """Until nginx serves a certificate that chains to Pebble's root (it
        starts on certbot's self-signed stand-in)."""
        root = self.acme.root_certificate()
        wait_until(lambda: verified(self.https_port, root, self.domain), timeout, "nginx serving the CA's certificate")
        self.ca = self.workdir / "acme-root.pem"
        self.ca.write_text(root)

    def trust_served_certificate(self) -> None:
        """Without Pebble (a deploy by the project's own script, not up()):
        trust the self-signed stand-in nginx serves until certbot has one."""
        pem = ssl.DER_cert_to_PEM_cert(served_der(self.https_port, self.domain))
        assert verified(self.https_port, pem, self.domain), "nginx's certificate does not name the domain"
        self.ca = self.workdir / "served.pem"
        self.ca.write_text(pem)

    def down(self, *, volumes: bool) -> None:
        # The logs go with the containers: keep them beside the project for a look afterwards.
        self.downs += 1
        (self.workdir / f"compose-logs-{self.downs}.txt").write_text(self.logs())
        self.compose("down", "--remove-orphans", *(["--volumes"] if volumes else []), timeout=240)
        if volumes and self.acme is not None:
            self.acme.stop()
            self.acme = None

    def run_script(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
        """A rendered script (scripts/...) run from the project directory, as
        an operator runs it: its plain `docker compose` reaches this
        deployment through COMPOSE_FILE and COMPOSE_PROJECT_NAME, and the
        test env file's variables come from the environment."""
        files = [self.project / self.compose_file, self.override_file]
        script_env = {
            **self.engine.env(),
            **read_env_file(self.env_file),
            "COMPOSE_FILE": ":".join(map(str, files)),
            "COMPOSE_PROJECT_NAME": self.project_name,
            **(env or {}),
        }
        return subprocess.run(
            ["bash", *args], cwd=self.project, env=script_env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", *services, timeout=60, check=False).stdout

    def containers(self) -> dict[str, dict]:
        """`docker inspect` of every container of the project, by service."""
        ids = self.compose("ps", "--all", "--quiet", timeout=60).stdout.split()
        if not ids:
            return {}
        found = json.loads(self.engine.docker("inspect", *ids, timeout=60).stdout)
        return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in found}

    def exec(self, service: str, *command: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        flags = [arg for key, value in (env or {}).items() for arg in ("--env", f"{key}={value}")]
        return self.compose("exec", "-T", *flags, service, *command, timeout=timeout).stdout

    def ready(self) -> tuple[int, dict]:
        """/ready/ as a probe inside the network asks it: from the web
        container itself, without a proxy's X-Forwarded-For."""
        code = (
            "import json, os, urllib.error, urllib.request\n"
            "url = f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/ready/\"\n"
            "try:\n"
            "    answer = urllib.request.urlopen(url, timeout=10)\n"
            "except urllib.error.HTTPError as error:\n"
            "    answer = error\n"
            "print(json.dumps([answer.status, json.loads(answer.read())]))"
        )
        status, body = json.loads(self.exec("web", "python", "-c", code).strip().splitlines()[-1])
        return status, body

    def django_shell(self, code: str, service: str = "web") -> str:
        """Python run by `manage.py shell` in a running app container."""
        return self.exec(service, "python", "src/manage.py", "shell", "--verbosity", "0", "--command", code)

    # -- HTTP through the published port ------------------------------------------

    def get(self, path: str, **kwargs) -> Response:
        """A request as a browser would send it to https://<domain><path>.

        With nginx: HTTPS to nginx's published port, checked against the test
        certificate. Without (Coolify, where Traefik terminates TLS): HTTP to
        web's published port with the headers Traefik adds.
        """
        if self.has_nginx:
            return request(self.https_port, path, host_header=self.domain, tls_ca=self.ca, **kwargs)
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": self.domain, **kwargs.pop("headers", {})}
        return request(self.web_port, path, host_header=self.domain, headers=headers, **kwargs)

    @property
    def web_port(self) -> int:
        return self.http_port  # web's published port where no nginx is rendered

    def login(self, username: str, password: str) -> str:
        """Sign in through the admin login form; returns the session cookie."""
        page = self.get("/admin/login/")
        assert page.status == 200, page.body[:300]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode()).group(1)
        csrf_cookie = next(c for c in page.cookies if c.startswith("csrftoken=")).split(";")[0]
        form = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"})
        response = self.get(
            "/admin/login/?next=/admin/",
            method="POST",
            body=form.encode(),
            headers={
                "Cookie": csrf_cookie,
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"https://{self.domain}",
                "Referer": f"https://{self.domain}/admin/login/",
            },
        )
        assert response.status == 302, response.body[:500]
        return next(c for c in response.cookies if c.startswith("sessionid=")).split(";")[0]

    def create_superuser(self, username: str, password: str) -> None:
        self.exec(
            "web",
            *("python", "src/manage.py", "createsuperuser", "--noinput", "--username", username),
            *("--email", f"{username}@{self.domain}"),
            env={"DJANGO_SUPERUSER_PASSWORD": password},
        )


def private_copy(project: Path, target: Path) -> Path:
    """A copy of a render that one deployment may change (its .env included)."""
    shutil.copytree(project, target, symlinks=True)
    return target


@contextmanager
def brought_up(deployment: Deployment, label: str) -> Iterator[Deployment]:
    """The deployment up (`up --wait`) while the block runs; down with its
    volumes afterwards, whatever happened."""
    try:
        with timed(f"{label}: compose up --wait"):
            deployment.up()
        yield deployment
    finally:
        with timed(f"{label}: compose down --volumes"):
            deployment.down(volumes=True)
