"""Many clients at once against one URL, bounded in count and in time."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .http import request


@dataclass
class LoadResult:
    clients: int
    requests: int
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    labels: Counter = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return self.requests - self.statuses[200]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.clients} concurrent clients, {self.requests} requests in {self.seconds:.2f} s "
            f"({self.per_second:.0f}/s), {self.errors} errors, statuses {dict(self.statuses)}"
        )


def run_load(
    port: int,
    path: str,
    *,
    clients: int = 256,
    requests_per_client: int = 4,
    headers: dict[str, str] | None = None,
    host_header: str | None = None,
    check=None,
    deadline_seconds: float = 120,
    request_timeout: float = 60,
) -> LoadResult:
    """`clients` threads open their connections at the same moment (each
    request on a connection of its own) and send `requests_per_client`
    requests one after another. A response counts as 200 only if `check`
    (given the body) passes. Clients stop starting requests at the deadline;
    the requests they did not send count as errors."""
    result = LoadResult(clients=clients, requests=clients * requests_per_client, seconds=0.0)
    lock = threading.Lock()
    start_together = threading.Barrier(clients)
    deadline = time.monotonic() + deadline_seconds

    def record(status, failure: str | None = None) -> None:
        with lock:
            result.statuses[status] += 1
            if failure and len(result.failures) < 20:
                result.failures.append(failure)

    def client() -> None:
        start_together.wait(timeout=deadline_seconds)
        for _ in range(requests_per_client):
            if time.monotonic() > deadline:
                record("not sent: deadline")
                continue
            try:
                response = request(port, path, headers=headers, host_header=host_header, timeout=request_timeout)
            except OSError as error:
                record(type(error).__name__, repr(error))
                continue
            if response.status == 200 and check is not None and not check(response.body):
                record("200 with a wrong body", response.body[:300].decode(errors="replace"))
            elif response.status != 200:
                record(response.status, response.body[:300].decode(errors="replace"))
            else:
                record(200)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    result.seconds = time.monotonic() - started
    return result


def run_until(
    port: int,
    path: str,
    stop,
    *,
    clients: int = 4,
    max_seconds: float = 600,
    host: str = "127.0.0.1",
    host_header: str | None = None,
    tls_ca=None,
    label=None,
    request_timeout: float = 30,
) -> LoadResult:
    """`clients` threads send requests one after another until stop()
    returns true (or max_seconds pass): load that lasts as long as something
    else takes, such as a rolling update. Counts statuses, and each 200's
    label(body) in `labels` (say, the version that answered)."""
    result = LoadResult(clients=clients, requests=0, seconds=0.0)
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        while not stop() and time.monotonic() < deadline:
            try:
                response = request(
                    port, path, host=host, host_header=host_header, tls_ca=tls_ca, timeout=request_timeout
                )
                status, failure = response.status, None
                if status != 200:
                    failure = f"{status}: {response.body[:300].decode(errors='replace')}"
            except OSError as error:
                status, failure = type(error).__name__, repr(error)
            with lock:
                result.requests += 1
                result.statuses[status] += 1
                if failure and len(result.failures) < 20:
                    result.failures.append(failure)
                elif label is not None:
                    result.labels[label(response.body)] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    result.seconds = time.monotonic() - started
    return result
