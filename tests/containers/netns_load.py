"""Load from inside a swarm node's network namespace, where the node's nginx
publishes its ports (the test process lives outside it):

    nsenter --net=/run/netns/NODE python netns_load.py PORT PATH HOST CA STOP_FILE MAX_SECONDS

GETs https://HOST<PATH> at 127.0.0.1:PORT with a few clients until STOP_FILE
exists, then prints one JSON object: requests, seconds, statuses, the
versions /health/ reported, the first failures."""

import json
import sys
from pathlib import Path

from support.load import run_until


def version(body: bytes) -> str:
    return json.loads(body).get("version", "?")


def main() -> None:
    port, path, host, ca, stop_file, max_seconds = sys.argv[1:7]
    stop = Path(stop_file)
    result = run_until(
        int(port), path, stop.exists, clients=4, max_seconds=float(max_seconds),
        host_header=host, tls_ca=Path(ca), label=version,
    )  # fmt: skip
    print(
        json.dumps(
            {
                "requests": result.requests,
                "seconds": round(result.seconds, 1),
                "statuses": {str(key): count for key, count in result.statuses.items()},
                "versions": dict(result.labels),
                "failures": result.failures,
            }
        )
    )


if __name__ == "__main__":
    main()
