"""Starting servers on loopback, waiting for them, stopping them by pid."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1, process=None, log: Path | None = None):
    """Poll predicate() until it is truthy and return what it gave; fail with
    the log tail once timeout seconds have passed (predicate is asked at
    least once) or the process exited."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}\n{tail(log)}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.1f} s\n{tail(log)}")
        time.sleep(interval)


def tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start(args: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """Start a server in its own process group, output to a log file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs
        )


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Signal the process we started (never by name), then kill its group if it lingers."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # children it left behind, if any
    except ProcessLookupError:
        pass
    return process.returncode


class Process:
    """A server process a test started: launched in its own session with its
    output in a log, waited for until it is ready, stopped by its own pid."""

    process: subprocess.Popen | None = None
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 20

    def launch(self, command: list[str], log: Path, ready, timeout: float, what: str, interval: float = 0.1, **kwargs):
        """Start command (kwargs go to Popen) and wait until ready() is truthy;
        a process that does not get ready is stopped before the error is raised."""
        self.process = start(command, log, **kwargs)
        try:
            wait_until(ready, timeout, what, interval=interval, process=self.process, log=log)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float | None = None) -> int:
        """Stop it (with stop_signal, then SIGKILL); its exit code, 0 if none ran."""
        process, self.process = self.process, None
        if process is None:
            return 0
        return stop(process, self.stop_signal, self.stop_timeout if timeout is None else timeout)


class Listener(Process):
    """A program that is ready once host:port accepts connections (an
    exporter, Prometheus, an SMTP sink); popen options go to Popen."""

    def __init__(self, command: list[str], log: Path, host: str, port: int, **popen):
        self.command = command
        self.log = log
        self.host = host
        self.port = port
        self.popen = popen

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def listening(self) -> bool:
        return port_open(self.host, self.port)

    def start(self, timeout: float = 30) -> "Listener":
        self.launch(self.command, self.log, self.listening, timeout, self.log.stem, **self.popen)
        return self
