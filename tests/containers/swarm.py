"""A two-node Docker Swarm on one machine: two network namespaces joined by a
veth pair, a private engine (engine.py) in each, joined as manager and worker.

    <repo>/.cache/swarm/manager   the manager's engine (its data root keeps images)
    <repo>/.cache/swarm/worker    the worker's engine

What works here, and what does not (tests/containers/README.md, "Swarm"):
overlay networks between the two nodes (VXLAN is in the kernel), the embedded
DNS with `tasks.NAME` and dnsrr services, ports published in host mode. The
kernel has no IPVS: the ingress routing mesh and service virtual IPs do not
work, so a stack under test publishes its proxy with `mode: host` and gives
web `endpoint_mode: dnsrr`.

No registry is reachable: images go from the engine that has them to every
node with `docker save | docker load`.

Everything made outside the base directories is named here (NAMESPACES,
VETH) and removed by stop(), or by the next start() after a crash.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .engine import REPO_ROOT, DockerEngine, EngineError, _which

log = logging.getLogger(__name__)

BASE_DIR = REPO_ROOT / ".cache" / "swarm"
SUBNET_PREFIX = "10.213.7"  # a private /24 that lives only inside the two namespaces


@dataclass(frozen=True)
class NodeSpec:
    role: str  # manager | worker
    netns: str  # /run/netns/<this>
    veth: str  # its end of the pair
    address: str


NODES = (
    NodeSpec("manager", "obcms-swarm-manager", "obcms-sw-mgr", f"{SUBNET_PREFIX}.1"),
    NodeSpec("worker", "obcms-swarm-worker", "obcms-sw-wkr", f"{SUBNET_PREFIX}.2"),
)


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    command = [_which("ip"), *(["-n", netns] if netns else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise EngineError(f"{' '.join(command)}: {result.stderr.strip()}")
    return result


class Node:
    def __init__(self, spec: NodeSpec, base: Path) -> None:
        self.spec = spec
        self.engine = DockerEngine(base / spec.role, netns=spec.netns)

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def address(self) -> str:
        return self.spec.address

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        return self.engine.docker(*args, **kwargs)

    def in_netns(self, args: list[str]) -> list[str]:
        """A command that runs in this node's network namespace (only)."""
        return [_which("nsenter"), f"--net=/run/netns/{self.spec.netns}", "--", *args]

    def node_id(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()

    def die(self) -> None:
        """A hard death, as a power cut: the node's link goes down first (no
        connection of it gets a goodbye), then its daemons and containers get
        SIGKILL."""
        ip("link", "set", self.spec.veth, "down", netns=self.spec.netns)
        self.engine.kill()


class Swarm:
    """Start with start(), stop with stop(); also a context manager."""

    def __init__(self, base: Path = BASE_DIR) -> None:
        self.base = base
        self.manager, self.worker = (Node(spec, base) for spec in NODES)
        self.nodes = [self.manager, self.worker]

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Swarm:
        t0 = time.monotonic()
        try:
            self._remove_network()  # a crashed run's
            self._make_network()
            for node in self.nodes:
                # A fresh swarm every time: the state of the last run's would
                # name nodes and addresses that are gone, and its volumes hold
                # a database made with the last run's passwords. Images stay.
                for state in ("swarm", "volumes"):
                    shutil.rmtree(node.engine.data_root / state, ignore_errors=True)
                node.engine.start()
            self.manager.docker(
                "swarm", "init", "--advertise-addr", self.manager.address,
                "--listen-addr", f"{self.manager.address}:2377",
            )  # fmt: skip
            token = self.manager.docker("swarm", "join-token", "--quiet", "worker").stdout.strip()
            self.worker.docker(
                "swarm", "join", "--advertise-addr", self.worker.address, "--listen-addr",
                f"{self.worker.address}:2377", "--token", token, f"{self.manager.address}:2377",
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        log.info("two-node swarm ready in %.1f s", time.monotonic() - t0)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.engine.stop()
        self._remove_network()

    def __enter__(self) -> Swarm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _make_network(self) -> None:
        for node in self.nodes:
            ip("netns", "add", node.spec.netns)
            ip("link", "set", "lo", "up", netns=node.spec.netns)
        ip("link", "add", self.manager.spec.veth, "type", "veth", "peer", "name", self.worker.spec.veth)
        for node in self.nodes:
            ip("link", "set", node.spec.veth, "netns", node.spec.netns)
            ip("addr", "add", f"{node.address}/24", "dev", node.spec.veth, netns=node.spec.netns)
            ip("link", "set", node.spec.veth, "up", netns=node.spec.netns)

    def _remove_network(self) -> None:
        for node in self.nodes:
            # Deleting a namespace deletes the veth end in it, and the pair with it.
            ip("netns", "delete", node.spec.netns, check=False)
        for node in self.nodes:
            ip("link", "delete", node.spec.veth, check=False)

    # -- images ------------------------------------------------------------------

    def load_images(self, source: DockerEngine, images: list[str]) -> dict[str, float]:
        """Copy images from another engine to every node (docker save | docker
        load), skipping a node that has the same image already. Returns the
        seconds each node took."""
        wanted = {image: _image_id(source, image) for image in images}
        seconds = {}
        for node in self.nodes:
            t0 = time.monotonic()
            missing = [image for image, ident in wanted.items() if _image_id(node.engine, image) != ident]
            if missing:
                save = subprocess.Popen([_which("docker"), "save", *missing], stdout=subprocess.PIPE, env=source.env())
                load = subprocess.run(
                    [_which("docker"), "load", "--quiet"],
                    stdin=save.stdout,
                    capture_output=True,
                    text=True,
                    env=node.engine.env(),
                    timeout=900,
                    check=False,
                )
                save.stdout.close()
                if save.wait(60) != 0 or load.returncode != 0:
                    raise EngineError(f"docker save | docker load to the {node.role}: {load.stderr}")
            seconds[node.role] = time.monotonic() - t0
        return seconds

    # -- state -------------------------------------------------------------------

    def tasks(self, service: str) -> list[dict]:
        """The service's tasks that should run, with the role of their node."""
        roles = {node.node_id(): node.role for node in self.nodes if node.engine.running}
        listed = self.manager.docker(
            "service", "ps", service, "--filter", "desired-state=running", "--no-trunc", "--format", "{{json .}}"
        ).stdout.splitlines()
        found = []
        for line in listed:
            task = json.loads(line)
            inspected = json.loads(self.manager.docker("inspect", task["ID"]).stdout)[0]
            task["node_role"] = roles.get(inspected["NodeID"], inspected["NodeID"])
            task["state"] = inspected["Status"]["State"]
            task["image"] = inspected["Spec"]["ContainerSpec"]["Image"]
            found.append(task)
        return found


def _image_id(engine: DockerEngine, image: str) -> str | None:
    result = engine.docker("image", "inspect", "--format", "{{.Id}}", image, check=False)
    return result.stdout.strip() if result.returncode == 0 else None
