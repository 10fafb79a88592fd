"""A throwaway PostgreSQL server on a free loopback port."""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .binaries import postgres_bin
from .processes import Process, free_port


class PostgresServer(Process):
    """initdb + postgres, run as the unprivileged `postgres` user when the
    tests run as root (PostgreSQL refuses to run as root)."""

    stop_signal = signal.SIGINT  # fast shutdown
    stop_timeout = 30

    def __init__(self, base: Path | None = None, max_connections: int = 100, host: str = "127.0.0.1"):
        # Its own directory under /tmp: the postgres user cannot enter pytest's
        # root-only temporary directories.
        self.base = base or Path(tempfile.mkdtemp(prefix="obcms-test-postgres-"))
        self.host = host
        self.port = free_port(host)
        self.max_connections = max_connections
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.password = "test-superuser-password"
        self.user = "postgres" if os.geteuid() == 0 else None

    def run_as(self) -> dict:
        return {"user": self.user, "group": self.user} if self.user else {}

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.user:
            account = pwd.getpwnam(self.user)
            for path in (self.base, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        result = subprocess.run(
            [
                postgres_bin("initdb"),
                "-D",
                str(self.data),
                "--username=postgres",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=False,
            capture_output=True,
            text=True,
            **self.run_as(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def start(self) -> "PostgresServer":
        if not self.data.exists():
            self.init()
        self.launch(
            [
                postgres_bin("postgres"),
                "-D",
                str(self.data),
                "-c",
                f"listen_addresses={self.host}",
                "-c",
                f"port={self.port}",
                "-c",
                f"unix_socket_directories={self.base}",
                "-c",
                f"max_connections={self.max_connections}",
                "-c",
                "fsync=off",
            ],
            self.log,
            self.accepting,
            30,
            "PostgreSQL",
            cwd=self.base,
            **self.run_as(),
        )
        return self

    def accepting(self) -> bool:
        ready = subprocess.run([postgres_bin("pg_isready"), "-h", self.host, "-p", str(self.port), "-q"], check=False)
        return ready.returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                postgres_bin("psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": self.password},
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed on {sql!r}: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self, name: str, owner: str = "app", password: str = "app-password") -> str:
        """A role and a database it owns (and may use to create test databases); its URL."""
        if not self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{owner}'"):
            self.psql(f"CREATE ROLE {owner} LOGIN CREATEDB PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {name} OWNER {owner}")
        return f"postgres://{owner}:{password}@{self.host}:{self.port}/{name}"

    def superuser_url(self, database: str) -> str:
        return f"postgres://postgres:{self.password}@{self.host}:{self.port}/{database}"

    def create_owned_database(self, name: str, app_user: str = "obcms_app") -> tuple[str, str]:
        """A database owned by the superuser, as the postgres image makes it;
        the URLs of the owner (for the migrate job) and of the application's
        role, which the migrate job creates (the same password for every
        database of this server: roles belong to the server)."""
        self.psql(f"CREATE DATABASE {name}")
        app_url = f"postgres://{app_user}:app-role-password@{self.host}:{self.port}/{name}"
        return self.superuser_url(name), app_url

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
