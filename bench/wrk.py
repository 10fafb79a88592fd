"""wrk, the load generator: one run against one server, read with the test
suite's parser of its summary (support.wrk)."""

import subprocess

from support.binaries import require
from support.wrk import WrkResult, parse

# A connection per request, as the rendered nginx sends requests on (it
# keeps no upstream connection open).
CLOSE = {"Connection": "close"}


def wrk(server, connections: int, seconds: float, extra_headers: dict | None = None) -> WrkResult:
    """Load server.url with its headers for `seconds` from 2 threads."""
    headers = {**server.headers, **(extra_headers or {})}
    argv = [require("wrk"), "--threads", "2", "--connections", str(connections), "--duration", f"{round(seconds)}s"]
    argv += ["--timeout", "10s", "--latency"]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    result = subprocess.run([*argv, server.url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    try:
        if result.returncode != 0:
            raise ValueError(result.stderr)
        return parse(result.stdout)
    except ValueError as error:
        raise RuntimeError(f"wrk failed on {server.url}:\n{result.stdout}{error}") from None
