"""wrk, the HTTP load generator: its summary read into figures, and a load
that runs in the background for as long as something else takes."""

import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .binaries import require

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class WrkResult:
    requests: int  # answered requests
    rps: float
    p50_ms: float
    p99_ms: float
    socket_errors: int  # connect, read, write and timeout errors: requests that got no answer
    non_2xx_3xx: int
    output: str

    @property
    def failures(self) -> int:
        return self.socket_errors + self.non_2xx_3xx

    def line(self) -> str:
        return (
            f"{self.failures} failed of {self.requests + self.socket_errors} "
            f"({self.non_2xx_3xx} non-2xx/3xx, {self.socket_errors} socket errors), "
            f"p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, {self.rps:.0f} req/s"
        )


def parse(output: str) -> WrkResult:
    """The summary wrk prints (with --latency)."""

    def latency(percent: int) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\b", output, re.M)
        if not found:
            raise ValueError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(found.group(1)) * UNIT_MS[found.group(2)]

    requests = re.search(r"^\s+(\d+) requests in", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not requests or not rps:
        raise ValueError(f"not a wrk summary:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return WrkResult(
        requests=int(requests.group(1)),
        rps=float(rps.group(1)),
        p50_ms=latency(50),
        p99_ms=latency(99),
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        output=output,
    )


class BackgroundLoad:
    """wrk against one URL until stop() (SIGINT, on which wrk prints its
    summary), at most max_seconds. Each request on a connection of its own
    (`Connection: close`), as a client that knows nothing of the servers:
    a reload of nginx closes idle kept-alive connections, and browsers
    resend a request whose connection closed before any answer, wrk does not.

    hosts: names to resolve to 127.0.0.1 for wrk alone (a private mount
    namespace with its own /etc/hosts), so that the URL can name the site
    and TLS sends that name (SNI)."""

    def __init__(
        self,
        url: str,
        log: Path,
        *,
        connections: int,
        hosts: list[str] = (),
        max_seconds: int = 600,
        timeout_seconds: int = 30,
    ):
        self.log = log
        argv = [require("wrk"), "--threads", "2", "--connections", str(connections)]
        argv += ["--duration", f"{max_seconds}s", "--timeout", f"{timeout_seconds}s", "--latency"]
        argv += ["--header", "Connection: close", url]
        if hosts:
            hosts_file = log.with_suffix(".hosts")
            hosts_file.write_text(f"127.0.0.1 localhost {' '.join(hosts)}\n")
            script = f'mount --bind {hosts_file} /etc/hosts && exec "$@"'
            argv = [require("unshare"), "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]
        self.argv = argv
        self.max_seconds = max_seconds
        self.process: subprocess.Popen | None = None

    def start(self) -> "BackgroundLoad":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def stop(self) -> WrkResult:
        """SIGINT to the wrk we started (by its pid); its summary."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return parse(self.log.read_text())
