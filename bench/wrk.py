"""wrk, the load generator: one run against one server, and what its
output says (requests per second, 99th percentile latency, errors)."""

import re
import subprocess
from dataclasses import dataclass

from support.binaries import require

# A connection per request, as the rendered nginx sends requests on (it
# keeps no upstream connection open).
CLOSE = {"Connection": "close"}
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class Load:
    rps: float
    p99_ms: float
    errors: int  # socket errors and non-2xx/3xx answers


def parse(output: str) -> Load | None:
    """The figures of `wrk --latency` output; None when it has none."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", output, re.M)
    if not rps or not p99:
        return None
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Load(float(rps.group(1)), float(p99.group(1)) * UNIT_MS[p99.group(2)], errors)


def wrk(server, connections: int, seconds: float, extra_headers: dict | None = None) -> Load:
    """Load server.url with its headers for `seconds` from 2 threads."""
    headers = {**server.headers, **(extra_headers or {})}
    argv = [require("wrk"), "--threads", "2", "--connections", str(connections), "--duration", f"{round(seconds)}s"]
    argv += ["--timeout", "10s", "--latency"]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    result = subprocess.run([*argv, server.url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    load = parse(result.stdout)
    if result.returncode != 0 or load is None:
        raise RuntimeError(f"wrk failed on {server.url}:\n{result.stdout}{result.stderr}")
    return load
