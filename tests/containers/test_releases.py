"""Releases of the default answers' stack, deployed as an owner deploys
them: scripts/deploy.sh and scripts/rollback.sh, which run plain
`docker compose` (the compose files and env files given as .env would give
them, see Deployment.script_env).

Release A is the render as it is (its image is the session's build of the
same files, tagged with A's commit); B adds an app with a safe migration;
C, on top of B, a migration that drops a column. On one stack, in file
order: A is deployed; B is deployed under load and no request fails; C is
refused before anything stops; a rollback to A is refused while the
database has B's migration, and once it is undone goes through under load
without building anything; last, `docker compose up` (the routine deploy
before scripts/deploy.sh) takes the stack back to B under the same load,
and requests fail."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.ci import FIXTURES, add_app
from support.registry import Registry
from support.releases import git
from support.render import read_env_file
from support.wrk import BackgroundLoad, WrkResult

from .conftest import AppImages
from .deployment import FIGURES, Deployment, private_copy, timed

# Session fixtures build images on the first test that needs them (and on a new
# machine make the stand-ins first): more than the suite's default 600 s.
pytestmark = pytest.mark.timeout(1200)

CLIENTS = 200
PAGE = "/admin/login/"  # a page rendered by Django, through nginx and gunicorn
# The load runs this long before the deploy starts and after it ended.
MARGIN_SECONDS = 3
UNSAFE_MIGRATION = "0002_remove_product_legacy_code.py"
RESOLVER_VALID_SECONDS = 10  # `resolver ... valid=10s` in the rendered nginx conf
CI_IMAGE = "obcms:releases-ci"  # what scripts/ci/build-image.sh builds, before it is published


@dataclass
class Stack:
    deployment: Deployment
    a: str  # the commits of the releases
    b: str = ""
    undo_command: str = ""  # what the refused rollback said to run
    other_images: list[str] = field(default_factory=lambda: [CI_IMAGE])  # removed at the end
    figures: dict[str, WrkResult] = field(default_factory=dict)

    def image(self, release: str) -> str:
        return f"{self.deployment.answers['project_slug']}:{release}"


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"


def commit(project: Path, message: str) -> str:
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", message)
    return git(project, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Where CI publishes the images (GHCR in production)."""
    registry = Registry(tmp_path_factory.mktemp("registry")).start()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="module")
def stack(app_images: AppImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    built = app_images.get("default")
    engine = app_images.engine
    base = tmp_path_factory.mktemp("releases")
    project = private_copy(built.project, base / "project")
    release_a = commit(project, "release A: the render")
    # No IMAGE_TAG in the test's env file: the project's .env names the release.
    deployment = Deployment(engine, "releases", project, base / "work", image_tag="")
    stack = Stack(deployment, release_a)
    engine.docker("tag", built.image, stack.image(release_a))
    try:
        with timed("releases: first deploy of release A (scripts/deploy.sh)"):
            result = deployment.run("scripts/deploy.sh")
        assert result.returncode == 0, output(result)
        deployment.trust_served_certificate()
        yield stack
    finally:
        with timed("releases: compose down --volumes"):
            deployment.down(volumes=True)
        for release in (stack.a, stack.b):
            if release:
                engine.docker("image", "rm", stack.image(release), check=False)
        engine.docker("image", "rm", *stack.other_images, check=False)


# -- what runs ----------------------------------------------------------------------


def containers(deployment: Deployment) -> list[dict]:
    """`docker inspect` of the project's running containers."""
    ids = deployment.engine.docker(
        "ps", "--quiet", "--filter", f"label=com.docker.compose.project={deployment.project_name}"
    ).stdout.split()
    return json.loads(deployment.engine.docker("inspect", *ids).stdout) if ids else []


def service(container: dict) -> str:
    return container["Config"]["Labels"]["com.docker.compose.service"]


def images_of_app_services(deployment: Deployment) -> dict[str, list[str]]:
    """The image each running container of web, celery and beat was created from."""
    found: dict[str, list[str]] = {}
    for container in containers(deployment):
        if service(container) in ("web", "celery", "beat"):
            found.setdefault(service(container), []).append(container["Config"]["Image"])
    return found


def started(deployment: Deployment) -> dict[str, str]:
    """Each running container's id and start time: equal before and after
    means nothing was stopped, restarted or replaced."""
    return {container["Id"]: container["State"]["StartedAt"] for container in containers(deployment)}


def recorded(deployment: Deployment) -> list[tuple[str, str]]:
    """releases.log: (deploy or rollback, release) per line."""
    lines = (deployment.project / "releases.log").read_text().splitlines()
    return [tuple(line.split()[1:]) for line in lines]


def image_tag(deployment: Deployment) -> str:
    return read_env_file(deployment.project / ".env")["IMAGE_TAG"]


def applied_migrations(deployment: Deployment, app: str) -> list[str]:
    code = (
        "import json; from django.db.migrations.recorder import MigrationRecorder; "
        f"print(json.dumps(sorted(m.name for m in MigrationRecorder.Migration.objects.filter(app={app!r}))))"
    )
    return json.loads(deployment.django_shell(code).strip())


# -- load -------------------------------------------------------------------------


@dataclass
class Measured:
    """What a deploy under load did: wrk's figures, and the most containers
    of each service that ran at once."""

    result: WrkResult | None = None
    most_running: Counter = field(default_factory=Counter)


class ServiceCounter(threading.Thread):
    """Counts the running containers of each service, several times a second."""

    def __init__(self, deployment: Deployment):
        super().__init__(daemon=True)
        self.deployment = deployment
        self.most: Counter = Counter()
        self.done = threading.Event()

    def run(self) -> None:
        project = f"label=com.docker.compose.project={self.deployment.project_name}"
        fmt = '{{.Label "com.docker.compose.service"}}'
        while not self.done.is_set():
            ps = self.deployment.engine.docker("ps", "--filter", project, "--format", fmt, check=False, timeout=30)
            for name, count in Counter(ps.stdout.split()).items():
                self.most[name] = max(self.most[name], count)
            self.done.wait(0.2)

    def stop(self) -> Counter:
        self.done.set()
        self.join(60)
        return self.most


@contextmanager
def under_load(stack: Stack, label: str) -> Iterator[Measured]:
    """CLIENTS clients request PAGE through nginx's published HTTPS port
    from MARGIN_SECONDS before to MARGIN_SECONDS after the block."""
    deployment = stack.deployment
    name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    load = BackgroundLoad(
        f"https://{deployment.domain}:{deployment.https_port}{PAGE}",
        deployment.workdir / f"wrk-{name}.log",
        connections=CLIENTS,
        hosts=[deployment.domain],
    ).start()
    counter = ServiceCounter(deployment)
    counter.start()
    measured = Measured()
    try:
        time.sleep(MARGIN_SECONDS)
        with timed(f"releases: {label}, under load"):
            yield measured
        time.sleep(MARGIN_SECONDS)
    finally:
        measured.most_running = counter.stop()
        measured.result = load.stop()
    stack.figures[label] = measured.result
    FIGURES.append((f"{CLIENTS} clients on {PAGE} during {label}", measured.result.line()))
    print(f"\n{label}: {measured.result.line()}")


# -- the releases, in order --------------------------------------------------------------


def test_the_first_deploy_runs_release_a(stack: Stack) -> None:
    deployment = stack.deployment
    assert images_of_app_services(deployment) == {name: [stack.image(stack.a)] for name in ("web", "celery", "beat")}
    assert image_tag(deployment) == stack.a
    assert recorded(deployment) == [("deploy", stack.a)]
    assert deployment.ready()[0] == 200
    assert deployment.get(PAGE).status == 200


def test_a_deploy_under_load_fails_no_request(stack: Stack, registry: Registry) -> None:
    """Release B as CI makes it (scripts/ci/ builds it and publishes it as
    <repository>:<commit>), deployed with IMAGE_REPOSITORY set: pulled."""
    deployment, engine = stack.deployment, stack.deployment.engine
    (add_app(deployment.project, "shop") / "migrations" / UNSAFE_MIGRATION).unlink()
    stack.b = commit(deployment.project, "release B: the shop app, its first migration")
    repository = f"{registry.address}/{deployment.answers['project_slug']}"
    with timed("releases: release B built and published by scripts/ci/ (builder stage cached)"):
        build = deployment.run("scripts/ci/build-image.sh", CI_IMAGE, "--network", "host")
        assert build.returncode == 0, output(build)
        publish = deployment.run("scripts/ci/publish-image.sh", CI_IMAGE, repository, stack.b)
        assert publish.returncode == 0, output(publish)
    published = engine.docker("image", "inspect", "--format", "{{.Id}}", CI_IMAGE).stdout.strip()
    engine.docker("image", "rm", CI_IMAGE, f"{repository}:{stack.b}")  # only the registry has it now
    stack.other_images.append(f"{repository}:{stack.b}")  # deploy.sh pulls it
    before = set(started(deployment))

    with under_load(stack, "scripts/deploy.sh (A -> B)") as measured:
        result = deployment.run("scripts/deploy.sh", IMAGE_REPOSITORY=repository)
    assert result.returncode == 0, output(result)
    load = measured.result

    assert load.failures == 0, load.output
    assert load.requests >= 500, load.output  # the load really ran through the deploy
    assert f"Pulling {repository}:{stack.b} ..." in result.stdout
    pulled = engine.docker("image", "inspect", "--format", "{{.Id}}", stack.image(stack.b)).stdout.strip()
    assert pulled == published, "the image CI published runs, tagged with the release"
    assert "nginx now sends new requests to them only" in result.stdout
    assert measured.most_running["web"] == 2, "the new web ran beside the old one"
    assert measured.most_running["celery"] == 2, "the new worker ran beside the old one"
    assert measured.most_running["beat"] == 1, "never two beats"
    assert images_of_app_services(deployment) == {name: [stack.image(stack.b)] for name in ("web", "celery", "beat")}
    assert not before & {c["Id"] for c in containers(deployment) if service(c) in ("web", "celery", "beat")}
    nginx_route = deployment.exec("nginx", "sh", "-c", "ls /etc/nginx/deploy/ 2>&1 || true")
    assert "web.conf" not in nginx_route, "nginx sends requests to every web container again"
    assert applied_migrations(deployment, "shop") == ["0001_initial"]
    assert image_tag(deployment) == stack.b
    assert recorded(deployment) == [("deploy", stack.a), ("deploy", stack.b)]


def test_an_unsafe_migration_is_refused_before_anything_stops(stack: Stack) -> None:
    deployment = stack.deployment
    migrations = deployment.project / "src" / "shop" / "migrations"
    shutil.copy(FIXTURES / "shop" / "migrations" / UNSAFE_MIGRATION, migrations)
    release_c = commit(deployment.project, "release C: drops a column that B still reads")
    before = started(deployment)
    try:
        with timed("releases: release C built by scripts/deploy.sh and refused by the gate"):
            result = deployment.run("scripts/deploy.sh")
        assert result.returncode == 1, output(result)
        assert f"building {stack.image(release_c)}" in result.stdout
        assert (
            "  shop.0002_remove_product_legacy_code: DROPPING columns (table: shop_product, column: legacy_code)"
            in result.stderr
        ), output(result)
        assert f"Deploy of {release_c} refused by the migration gate (above). Nothing was stopped." in result.stderr
        assert started(deployment) == before
        assert applied_migrations(deployment, "shop") == ["0001_initial"]
        assert image_tag(deployment) == stack.b
        assert recorded(deployment) == [("deploy", stack.a), ("deploy", stack.b)]
    finally:
        git(deployment.project, "reset", "--quiet", "--hard", stack.b)
        deployment.engine.docker("image", "rm", stack.image(release_c), check=False)


def test_a_rollback_is_refused_while_the_database_has_migrations_the_old_code_does_not_know(stack: Stack) -> None:
    deployment = stack.deployment
    before = started(deployment)
    with timed("releases: scripts/rollback.sh refused (B's migration)"):
        result = deployment.run("scripts/rollback.sh")
    assert result.returncode == 1, output(result)
    assert f"REFUSED: the database has migrations that release {stack.a} does not know:\n  shop.0001_initial\n" in (
        result.stderr
    ), output(result)
    undo = "  docker compose run --rm migrate python src/manage.py migrate shop zero\n"
    assert undo in result.stderr
    assert "Nothing was stopped." in result.stderr
    assert started(deployment) == before
    assert image_tag(deployment) == stack.b
    stack.undo_command = undo.strip()


def test_a_rollback_under_load_fails_no_request_and_builds_nothing(stack: Stack) -> None:
    deployment = stack.deployment
    assert stack.undo_command, "the refused rollback said what to run"
    undo = deployment.run(*stack.undo_command.split())
    assert undo.returncode == 0, output(undo)
    assert applied_migrations(deployment, "shop") == []
    engine = deployment.engine
    images_before = set(engine.docker("image", "ls", "--all", "--quiet", "--no-trunc").stdout.split())
    image_a = engine.docker("image", "inspect", "--format", "{{.Id}}", stack.image(stack.a)).stdout.strip()

    with under_load(stack, "scripts/rollback.sh (B -> A)") as measured:
        result = deployment.run("scripts/rollback.sh")
    assert result.returncode == 0, output(result)
    load = measured.result

    assert load.failures == 0, load.output
    assert load.requests >= 500, load.output
    assert f"the image {stack.image(stack.a)}, not rebuilt" in result.stdout
    assert "Building" not in result.stdout + result.stderr
    images_after = set(engine.docker("image", "ls", "--all", "--quiet", "--no-trunc").stdout.split())
    assert images_after == images_before, "no image was built (nor pulled)"
    assert measured.most_running["web"] == 2 and measured.most_running["beat"] == 1
    for container in containers(deployment):
        if service(container) in ("web", "celery", "beat"):
            assert (container["Config"]["Image"], container["Image"]) == (stack.image(stack.a), image_a)
    assert image_tag(deployment) == stack.a
    assert recorded(deployment)[-1] == ("rollback", stack.a)


def test_the_deploy_before_deploy_sh_fails_requests_under_the_same_load(stack: Stack) -> None:
    """The runbook's routine deploy before scripts/deploy.sh: `docker compose
    up --detach --build --wait` with the new release (here the image of B is
    there already, so without --build). Compose stops web, then starts the
    new one."""
    deployment = stack.deployment
    with under_load(stack, "docker compose up (A -> B), the deploy before scripts/deploy.sh") as measured:
        result = deployment.run("docker", "compose", "up", "--detach", "--no-build", "--wait", IMAGE_TAG=stack.b)
    # The new web gets the whole load at once: its health probe (5 s timeout)
    # may wait behind the queued requests until Docker calls it unhealthy,
    # and then --wait exits 1 (seen on this 2-core machine).
    unhealthy = f"container {deployment.project_name}-web-" in result.stderr and "is unhealthy" in result.stderr
    assert result.returncode == 0 or unhealthy, output(result)
    assert measured.most_running["web"] == 1, "one web at a time"
    assert measured.result.failures > 0, measured.result.output
    assert images_of_app_services(deployment)["web"] == [stack.image(stack.b)]
    for label, load in stack.figures.items():
        print(f"{label:<70} {load.line()}")


def test_nginx_sends_a_request_on_to_another_web_container_when_one_dies(stack: Stack) -> None:
    """With two web containers, one killed outright under load: nginx resends
    each GET that got no answer from the dead one (refused, reset, timed
    out) to the other, so that none gets a 502 or 504. Only an answer that
    the killed container had begun to send can be lost (nginx has passed it
    on in part and resends nothing): at most one per thread it had."""
    deployment = stack.deployment
    scaled = deployment.run(
        "docker", "compose", "up", "--detach", "--no-deps", "--no-build", "--no-recreate", "--wait",
        "--scale", "web=2", "web", IMAGE_TAG=stack.b,
    )  # fmt: skip
    assert scaled.returncode == 0, output(scaled)
    webs = [c["Id"] for c in containers(deployment) if service(c) == "web"]
    assert len(webs) == 2
    settings = "import runpy; c = runpy.run_path('gunicorn.conf.py'); print(c['workers'] * c['threads'])"
    threads = int(deployment.exec("web", "python", "-c", settings).split()[-1])
    with under_load(stack, "one of two web containers killed (docker kill)") as measured:
        deployment.engine.docker("kill", webs[0])
        # nginx may still hold the dead address (its resolver keeps an answer 10 s).
        time.sleep(RESOLVER_VALID_SECONDS + 2)
    load = measured.result
    assert load.non_2xx_3xx == 0, load.output
    assert load.socket_errors <= threads, load.output
    assert load.requests >= 200, load.output
    assert [c["Id"] for c in containers(deployment) if service(c) == "web"] == webs[1:]
