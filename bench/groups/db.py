"""The database page under each db_pooling answer, against CONN_MAX_AGE=0
(the plan's current state)."""

from ..measure import measure
from ..page import PAGE_ROWS
from ..report import Report
from ..servers import Server, Stack


def db_variants(stack: Stack) -> dict[str, Server]:
    default, default_venv = stack.project("default", {})
    native, native_venv = stack.project("native", {"db_pooling": "native"})
    pgbouncer, pgbouncer_venv = stack.project("pgbouncer", {"db_pooling": "pgbouncer"})
    page = "/bench/items/"
    servers = {
        "conn-max-age-0": stack.gunicorn("conn-max-age-0", default, default_venv, page, DB_CONN_MAX_AGE="0"),
        "persistent": stack.gunicorn("persistent", default, default_venv, page),
        "native": stack.gunicorn("native", native, native_venv, page),
    }
    url = stack.pgbouncer_url(pgbouncer)
    if url:
        servers["pgbouncer"] = stack.gunicorn("pgbouncer", pgbouncer, pgbouncer_venv, page, DATABASE_URL=url)
    else:
        print("  db_pooling: pgbouncer renders no deploy/pgbouncer/pgbouncer.ini here: left out", flush=True)
    return servers


def group_db(stack: Stack, report: Report, args) -> None:
    servers = db_variants(stack)
    for server in servers.values():
        server.start()
        response = server.get()
        assert response.status == 200 and response.body.count(b"<tr>") == PAGE_ROWS, (server.name, response)
    results = measure(list(servers.values()), args.rounds, args.seconds)
    stack.stop_servers()
    pairs = [
        (f"{name} / CONN_MAX_AGE=0", name, "conn-max-age-0", ">= 4") for name in servers if name != "conn-max-age-0"
    ]
    pairs += [(f"{name} / persistent", name, "persistent", "") for name in ("native", "pgbouncer") if name in servers]
    report.ratio_table(f"database page ({PAGE_ROWS} rows)", results, pairs)
    labels = {
        "conn-max-age-0": "CONN_MAX_AGE=0 (the plan's current state)",
        "persistent": "db_pooling: persistent",
        "native": "db_pooling: native (psycopg pool)",
        "pgbouncer": "db_pooling: pgbouncer (rendered pgbouncer.ini, transaction mode)",
    }
    report.context_table("database page", results, {name: labels[name] for name in servers})
