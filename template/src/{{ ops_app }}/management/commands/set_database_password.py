"""`manage.py set_database_password`: give the PostgreSQL role that
DATABASE_URL connects as the password read from standard input
(scripts/rotate-secrets.sh, docs/deployment.md "Rotating secrets").

libpq hashes the password here (SCRAM-SHA-256) and only the hash reaches
PostgreSQL, so no server log can show the password. Connections that are
open stay open; new ones need the new password, so restart every service
that connects as this role right after (`docker compose up`, once .env has
the new password).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

MIN_LENGTH = 16


class Command(BaseCommand):
    help = "Set the password of DATABASE_URL's role to the one on standard input (hashed before it is sent)."

    def handle(self, *args, **options) -> None:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < MIN_LENGTH:
            raise CommandError(f"Give the new password on standard input: at least {MIN_LENGTH} characters.")
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor != "postgresql":
            raise CommandError("DATABASE_URL is not a PostgreSQL database.")
        connection.ensure_connection()
        role = connection.settings_dict["USER"]
        hashed = connection.connection.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(hashed.decode()))
        with connection.connection.cursor() as cursor:
            cursor.execute(statement)
        self.stdout.write(f"The role {role} has its new password; open connections keep working until they close.")
