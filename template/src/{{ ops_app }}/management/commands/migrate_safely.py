"""`manage.py migrate_safely`: migrate while holding a PostgreSQL advisory lock.

Two copies of the migrate job (a retried deploy, several replicas) would
otherwise apply the same migration at once and fail half-way. The first copy
takes the lock and migrates; the others wait, then find nothing left to do.
The lock is held by the database session, so it needs a direct connection to
PostgreSQL: never run this through PgBouncer in transaction mode.

Where nothing orders the job after the database (a swarm's first deploy
starts both at once), it waits for the database to accept connections.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

# Any fixed number works, as long as every copy uses the same one.
MIGRATION_LOCK_ID = int.from_bytes(b"migrate", "big")


@contextmanager
def migration_lock(cursor, wait_seconds: int, say) -> Iterator[None]:
    """Hold the advisory lock that every copy of the migrate job takes."""
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        if cursor.fetchone()[0]:
            break
        if not announced:
            say("Another migrate job holds the lock; waiting for it to finish.")
            announced = True
        if time.monotonic() > deadline:
            raise CommandError(f"Gave up after {wait_seconds} s waiting for the migration lock.")
        time.sleep(1)
    try:
        yield
    finally:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])


class Command(BaseCommand):
    help = "Apply migrations while holding a PostgreSQL advisory lock."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--wait", type=int, default=600, help="Seconds to wait for the lock (default 600).")
        parser.add_argument(
            "--database-wait",
            type=int,
            default=120,
            help="Seconds to wait for the database to accept connections (default 120).",
        )

    def handle(self, *args, **options) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
            return
        self.connect(connection, options["database_wait"])
        with connection.cursor() as cursor, migration_lock(cursor, options["wait"], self.stdout.write):
            call_command("migrate", interactive=False, verbosity=options["verbosity"])

    def connect(self, connection, wait_seconds: int) -> None:
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                connection.ensure_connection()
                return
            except OperationalError as error:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"The database did not accept connections within {wait_seconds} s: {error}"
                    ) from error
                if not announced:
                    self.stdout.write(f"Waiting for the database to accept connections: {error}".strip())
                    announced = True
                connection.close()
                time.sleep(2)
