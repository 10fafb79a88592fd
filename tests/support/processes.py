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
    """Poll predicate() until it is truthy; fail with the log tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}\n{tail(log)}")
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout} s\n{tail(log)}")


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
