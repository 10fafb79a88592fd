"""deploy_target swarm on a real two-node swarm: two engines in two network
namespaces joined as manager and worker (swarm.py), the rendered stack
deployed by the rendered scripts/swarm-deploy.sh, from the image the
rendered Dockerfile built, copied to both nodes with docker save | docker
load (no registry is reachable here).

The tests run in file order on one deployment:

1. the first deploy: the migrate job finishes before web, celery and beat
   start; PostgreSQL and Redis run on the manager (its node label), web
   tasks on both nodes, and nginx on each node answers;
2. a rolling update to a new image under load through nginx: 0 failed
   requests, and the new version answers at the end;
3. draining the worker under load: its tasks move to the manager, 0 failed
   requests;
4. the worker dies (its link goes down, every process of it gets SIGKILL)
   while it runs Celery tasks: every task still completes (late
   acknowledgement; the lost ones go back to the queue after the Redis
   transport's visibility timeout, CELERY_VISIBILITY_TIMEOUT, set short here).

Request counts, failures and timings are printed (pytest -s) and listed in
the tier's summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from support.binaries import require
from support.facts import computed_values
from support.nginx import make_certificate
from support.processes import wait_until
from support.render import read_answers

from . import slow_tasks
from .conftest import AppImages
from .deployment import private_copy, timed
from .engine import REPO_ROOT, DockerEngine
from .swarm import Swarm

pytestmark = pytest.mark.timeout(2400)

# The "new" image of the rolling update: the same, plus test-only tasks.
NEW_IMAGE_DOCKERFILE = """\
FROM {image}
COPY {app} /app/src/{app}
COPY overrides.py /app/src/{package}/settings/overrides.py
"""
# Test-only settings in .env, the documented variables: a worker that is
# stopped (drained) waits 5 s instead of 60 for its running tasks, and a
# task of a lost worker goes back to the queue after 20 s instead of an hour.
TEST_ENV = {
    "WEB_REPLICAS": "3",
    "CELERY_REPLICAS": "2",
    "CELERY_SOFT_SHUTDOWN_TIMEOUT": "5",
    "CELERY_VISIBILITY_TIMEOUT": "20",
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",
}
TASKS = 8
TASK_SECONDS = 15


def moment(timestamp: str) -> datetime:
    """An engine's RFC 3339 time with up to nine digits of fraction."""
    whole, _, rest = timestamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(rest or '0')[:6].ljust(6, '0')}+00:00")


def set_env(path: Path, values: dict[str, str]) -> None:
    """Set variables in an env file, replacing their lines or adding them."""
    lines = [line for line in path.read_text().splitlines() if line.split("=", 1)[0].strip() not in values]
    path.write_text("\n".join([*lines, *(f"{key}={value}" for key, value in values.items())]) + "\n")


@dataclass
class SwarmDeployment:
    swarm: Swarm
    project: Path
    stack: str
    domain: str
    ca: Path
    images: dict[str, str]  # version (IMAGE_TAG) -> image
    workdir: Path

    def deploy(self, tag: str) -> tuple[float, str]:
        """scripts/swarm-deploy.sh TAG against the manager; (seconds, output)."""
        start = time.monotonic()
        result = subprocess.run(
            ["sh", "scripts/swarm-deploy.sh", tag],
            cwd=self.project,
            env=self.swarm.manager.engine.env(),
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        output = result.stdout + result.stderr
        (self.workdir / f"deploy-{tag}.log").write_text(output)
        assert result.returncode == 0, output[-4000:] + self.where_tasks_ran()
        migrate = self.swarm.manager.docker(
            "service", "ps", self.service("migrate"), "--format", "{{.Name}} {{.Node}} {{.CurrentState}}"
        ).stdout
        print(f"\nmigrate job's tasks after deploying {tag}:\n{migrate}")
        return time.monotonic() - start, output

    def run_deploy_script(self, tag: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", "scripts/swarm-deploy.sh", tag],
            cwd=self.project,
            env=self.swarm.manager.engine.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def where_tasks_ran(self) -> str:
        """Every task of the stack, its node and state, for a failure's message."""
        result = self.swarm.manager.docker(
            "stack", "ps", self.stack, "--no-trunc", "--format",
            "{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}", check=False,
        )  # fmt: skip
        return "\n--- docker stack ps ---\n" + result.stdout + result.stderr

    def task_ids(self, name: str) -> set[str]:
        return {task["ID"] for task in self.running(name)}

    def service(self, name: str) -> str:
        return f"{self.stack}_{name}"

    def running(self, name: str) -> list[dict]:
        return [task for task in self.swarm.tasks(self.service(name)) if task["state"] == "running"]

    def healthy_web_on(self, role: str) -> int:
        return sum(1 for task in self.running("web") if task["node_role"] == role)

    def get(self, node, path: str) -> tuple[int, str]:
        """GET https://<domain><path> from inside a node, through its nginx."""
        result = subprocess.run(
            node.in_netns(
                [
                    require("curl"), "--silent", "--max-time", "10", "--cacert", str(self.ca),
                    "--resolve", f"{self.domain}:443:127.0.0.1", "--write-out", "\n%{http_code}",
                    f"https://{self.domain}{path}",
                ]
            ),
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        body, _, status = result.stdout.rpartition("\n")
        return int(status or 0), body

    def load(self, stop_file: Path, max_seconds: int = 900) -> subprocess.Popen:
        """Requests for /health/ through the manager's nginx until stop_file exists."""
        command = [sys.executable, str(Path(__file__).with_name("netns_load.py"))]
        command += ["443", "/health/", self.domain, str(self.ca), str(stop_file), str(max_seconds)]
        return subprocess.Popen(
            self.swarm.manager.in_netns(command),
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT / "tests")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def manage_py(self, code: str) -> str:
        """Python run by `manage.py shell` in a web container on the manager."""
        container = self.swarm.manager.docker(
            "ps", "--quiet", "--filter", f"label=com.docker.swarm.service.name={self.service('web')}"
        ).stdout.split()[0]
        return self.swarm.manager.docker(
            "exec", container, "python", "src/manage.py", "shell", "--verbosity", "0", "--command", code,
            timeout=120,
        ).stdout  # fmt: skip


def finish_load(process: subprocess.Popen, stop_file: Path) -> dict:
    stop_file.touch()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def summary(label: str, load: dict, seconds: float) -> str:
    rate = load["requests"] / load["seconds"] if load["seconds"] else 0
    return (
        f"{label}: {load['requests']} requests in {load['seconds']} s ({rate:.0f}/s) from 4 clients, "
        f"statuses {load['statuses']}, versions {load['versions']}, failures {len(load['failures'])}; "
        f"took {seconds:.1f} s"
    )


@pytest.fixture(scope="module")
def swarm_deployment(
    app_images: AppImages, docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SwarmDeployment]:
    built = app_images.get("swarm")
    base = tmp_path_factory.mktemp("swarm")
    project = private_copy(built.project, base / "project")
    answers = read_answers(project)
    slug, package = answers["project_slug"], answers["django_package"]

    # The new image of the rolling update: the same, plus test-only tasks.
    context = base / "new-image"
    slow_tasks.write_app(context)
    dockerfile = NEW_IMAGE_DOCKERFILE.format(image=built.image, package=package, app=slow_tasks.APP)
    (context / "Dockerfile").write_text(dockerfile)
    new_tag = f"{built.tag}-2"
    with timed("swarm: build the new image"):
        docker_engine.docker("build", "--tag", f"{slug}:{new_tag}", str(context), timeout=300)
    images = {built.tag: built.image, new_tag: f"{slug}:{new_tag}"}

    facts = computed_values(**answers)
    swarm = Swarm()
    with timed("swarm: two engines in two network namespaces, joined"):
        swarm.start()
    try:
        with timed("swarm: images to both nodes (docker save | docker load)"):
            base_images = [facts["postgres_image"], facts["redis_image"], facts["nginx_image"]]
            seconds = swarm.load_images(docker_engine, [*base_images, *images.values()])
        print(f"\nimages loaded: manager {seconds['manager']:.1f} s, worker {seconds['worker']:.1f} s")
        ca = make_certificate(base / "certs", [answers["domain_name"], *answers["extra_domains"]])
        set_env(
            project / ".env",
            {**TEST_ENV, "IMAGE_REPOSITORY": slug, "TLS_CERT_DIR": str(base / "certs")},
        )
        deployment = SwarmDeployment(swarm, project, slug, answers["domain_name"], ca, images, base)
        # No node labelled for the database: the script refuses (db would
        # never start; with two labelled, it could start on empty volumes).
        refused = deployment.run_deploy_script(next(iter(images)))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "label exactly one node" in refused.stderr and "now: none" in refused.stderr, refused.stderr
        swarm.manager.docker("node", "update", "--label-add", f"{facts['swarm_data_label']}=true",
                             swarm.manager.node_id())  # fmt: skip
        yield deployment
    finally:
        with timed("swarm: stop both engines, remove the namespaces"):
            swarm.stop()


def test_first_deploy_runs_migrations_first_and_spreads_web_over_both_nodes(swarm_deployment):
    d = swarm_deployment
    first = next(iter(d.images))
    with timed("swarm: first deploy (scripts/swarm-deploy.sh)"):
        seconds, output = d.deploy(first)
    print(f"\nfirst deploy: {seconds:.1f} s")
    assert "Migrations applied." in output

    # The job finished before the first web task was created.
    migrate = json.loads(d.swarm.manager.docker("inspect", *d.swarm.manager.docker(
        "service", "ps", "--quiet", d.service("migrate")).stdout.split()).stdout)  # fmt: skip
    finished = min(moment(task["Status"]["Timestamp"]) for task in migrate if task["Status"]["State"] == "complete")
    web = json.loads(d.swarm.manager.docker("inspect", *d.swarm.manager.docker(
        "service", "ps", "--quiet", d.service("web")).stdout.split()).stdout)  # fmt: skip
    assert finished < min(moment(task["CreatedAt"]) for task in web)

    for name in ("db", "redis"):
        assert [task["node_role"] for task in d.running(name)] == ["manager"], name
    wait_until(lambda: d.healthy_web_on("manager") and d.healthy_web_on("worker"), 120, "web on both nodes")
    # web connects as the role the migrate job made: rows only, no tables.
    role = d.manage_py(
        "from django.db import DatabaseError, connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('select current_user')\n"
        "    print(cursor.fetchone()[0])\n"
        "    try:\n"
        "        cursor.execute('create table owned_by_web (id int)')\n"
        "    except DatabaseError as error:\n"
        "        print(type(error).__name__)\n"
    ).split()
    print(f"web connects as {role[0]}; creating a table: {role[1:]}")
    assert role == [computed_values(**read_answers(d.project))["app_database_user"], "ProgrammingError"]
    assert len(d.running("web")) == 3
    assert {task["node_role"] for task in d.running("nginx")} == {"manager", "worker"}
    for node in d.swarm.nodes:
        # Through each node's nginx: liveness answers, readiness is only for
        # probes inside the network (web's healthcheck asks it there).
        status, body = wait_until(lambda node=node: (r := d.get(node, "/health/"))[0] == 200 and r, 60, "/health/")
        assert json.loads(body)["status"] == "healthy", body
        assert d.get(node, "/ready/")[0] == 404


def test_rolling_update_to_a_new_image_under_load_fails_no_request(swarm_deployment, tmp_path):
    """Also: an app secret changes in the same deploy (a new METRICS_TOKEN),
    yet db and redis keep their tasks, and the database keeps its rows."""
    d = swarm_deployment
    old, new = d.images
    d.manage_py("from django.contrib.auth.models import Group; Group.objects.create(name='before-the-update')")
    stateful = {name: d.task_ids(name) for name in ("db", "redis")}
    set_env(d.project / ".env", {"METRICS_TOKEN": "a-new-token-for-the-rolling-update"})
    stop = tmp_path / "stop"
    load = d.load(stop)
    time.sleep(3)
    with timed("swarm: rolling update under load"):
        seconds, _ = d.deploy(new)
    time.sleep(3)
    result = finish_load(load, stop)
    print("\n" + summary("rolling update", result, seconds))
    assert result["failures"] == [], result
    assert set(result["statuses"]) == {"200"}
    assert result["versions"].get(old, 0) > 0 and result["versions"].get(new, 0) > 0, result["versions"]
    assert {task["image"].split("@")[0] for task in d.running("web")} == {d.images[new]}
    assert json.loads(d.get(d.swarm.manager, "/health/")[1])["version"] == new
    assert {name: d.task_ids(name) for name in stateful} == stateful, d.where_tasks_ran()
    kept = (
        d.manage_py(
            "from django.contrib.auth.models import Group\n"
            "print(Group.objects.filter(name='before-the-update').count())"
        )
        .strip()
        .splitlines()[-1]
    )
    print(f"db and redis kept their tasks; the row written before the update: {kept} found after it")
    assert kept == "1"


def test_draining_the_worker_under_load_moves_its_tasks_and_fails_no_request(swarm_deployment, tmp_path):
    d = swarm_deployment
    worker_id = d.swarm.worker.node_id()
    assert d.healthy_web_on("worker") > 0
    stop = tmp_path / "stop"
    load = d.load(stop)
    time.sleep(3)
    start = time.monotonic()
    with timed("swarm: drain the worker under load"):
        d.swarm.manager.docker("node", "update", "--availability", "drain", worker_id)
        wait_until(
            lambda: d.healthy_web_on("worker") == 0 and d.healthy_web_on("manager") == 3,
            180,
            "web moved to the manager",
            interval=1,
        )
    seconds = time.monotonic() - start
    time.sleep(3)
    result = finish_load(load, stop)
    print("\n" + summary("drain", result, seconds))
    assert result["failures"] == [], result
    assert set(result["statuses"]) == {"200"}
    for name in ("web", "celery", "nginx"):
        assert all(task["node_role"] == "manager" for task in d.running(name)), name
    d.swarm.manager.docker("node", "update", "--availability", "active", worker_id)


def test_a_worker_node_that_dies_mid_task_loses_no_celery_task(swarm_deployment):
    d = swarm_deployment
    # The test-only tasks are in the rolling update's image: without it, this
    # test can only fail (No module named the test-only app).
    new_image = list(d.images.values())[-1]

    def on_the_new_image() -> bool:
        """web and celery run, and only the rolling update's image (the drain
        before this test may leave a task still starting on the manager)."""
        return all(
            {task["image"].split("@")[0] for task in d.running(name)} == {new_image} for name in ("web", "celery")
        )

    try:
        wait_until(on_the_new_image, 180, f"web and celery running {new_image}", interval=2)
    except TimeoutError as error:
        raise AssertionError(f"{error}{d.where_tasks_ran()}") from None
    # A third worker: the scheduler puts it on the node with fewer (the worker).
    d.swarm.manager.docker("service", "scale", "--detach", f"{d.service('celery')}=3")
    wait_until(lambda: any(t["node_role"] == "worker" for t in d.running("celery")), 120, "celery on the worker")
    on_worker = {
        line[:12]
        for line in d.swarm.worker.docker(
            "ps", "--quiet", "--no-trunc", "--filter", f"label=com.docker.swarm.service.name={d.service('celery')}"
        ).stdout.split()
    }
    tokens = [f"t{n}" for n in range(TASKS)]
    d.manage_py(
        f"from {slow_tasks.APP}.tasks import sleep_and_count\n"
        f"for token in {tokens!r}:\n    sleep_and_count.delay(token, {TASK_SECONDS})"
    )
    read_counts = (
        "import json\nfrom django.core.cache import cache\n"
        f"print(json.dumps({{t: [cache.get(f'{slow_tasks.APP}:{{t}}:{{e}}') for e in ('host', 'started', 'done')]"
        f" for t in {tokens!r}}}))"
    )

    def counts() -> dict:
        return json.loads(d.manage_py(read_counts).strip().splitlines()[-1])

    def running_on_worker() -> list[str]:
        """Tasks on the worker that will still run for a while (not about to end)."""
        found = []
        for token, (host, started, done) in counts().items():
            name, _, since = (host or "").partition(" ")
            if name in on_worker and started and not done and time.time() - float(since) < TASK_SECONDS - 8:
                found.append(token)
        return found

    lost = wait_until(running_on_worker, 120, "a task running on the worker", interval=2)
    died = time.monotonic()
    with timed("swarm: the worker dies, its Celery tasks complete elsewhere"):
        d.swarm.worker.die()
        final = wait_until(
            lambda: (c := counts()) and all(done for _, _, done in c.values()) and c,
            240,
            "every task done",
            interval=5,
        )
    recovered = time.monotonic() - died
    twice = sorted(t for t, (_, started, _) in final.items() if (started or 0) > 1)
    print(
        f"\nnode death: {TASKS} tasks of {TASK_SECONDS} s queued, {len(lost)} running on the worker when it died "
        f"({', '.join(lost)}); all {TASKS} done {recovered:.0f} s after the death; started twice: {twice}"
    )
    assert set(lost) <= set(twice)
    assert all(done and done >= 1 for _, _, done in final.values())
