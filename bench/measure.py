"""Rounds: every variant of a group at each connection count, in an order
that rotates from round to round, so that the cells a ratio compares run
back to back on a machine whose speed drifts."""

from .wrk import CLOSE, wrk

CONNECTIONS = (64, 256)


def measure(servers: list, rounds: int, seconds: float, headers: dict | None = None, log=print) -> dict:
    """Each round runs every server at one connection count, then at the
    next; the order of the servers rotates from round to round. Returns
    {(name, connections): [WrkResult per round]}."""
    for server in servers:  # warm-up, not counted
        wrk(server, CONNECTIONS[0], min(2, seconds), headers)
    results: dict = {(server.name, connections): [] for server in servers for connections in CONNECTIONS}
    for number in range(rounds):
        shift = number % len(servers)
        for connections in CONNECTIONS:
            for server in servers[shift:] + servers[:shift]:
                load = wrk(server, connections, seconds, headers)
                results[(server.name, connections)].append(load)
                log(
                    f"  round {number + 1} {server.name:<22} c={connections:<3} {load.rps:9.1f} req/s  "
                    f"p99 {load.p99_ms:8.1f} ms  errors {load.failures}"
                )
    return results


def measure_closing(servers: list, names: tuple[str, ...], args) -> dict:
    """measure() of the named servers with a connection per request, as the
    rendered nginx sends them on (it keeps no upstream connection open)."""
    return measure([server for server in servers if server.name in names], args.rounds, args.seconds, CLOSE)
