"""The rendered PgBouncer (deploy/pgbouncer/), run for real on loopback in
front of a test PostgreSQL, as an unprivileged user (PgBouncer refuses root).

The rendered pgbouncer.ini is written for the compose network; only its
address, port and paths are changed here. Its auth file, databases.ini
(the one database it serves, on the db host) and runtime.ini are what the
image's entrypoint.sh writes at start: either written by the test (with the
role's SCRAM secret from pg_authid) or by running entrypoint.sh itself
(with the password, as in the container).
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .binaries import postgres_bin, require
from .postgres import PostgresServer
from .processes import Process, free_port, port_open
from .text import replace_required

# The only strings of the rendered files that are changed to run them here.
SERVER = "host=db port=5432"
LISTEN_ADDR = "listen_addr = 0.0.0.0"
LISTEN_PORT = "listen_port = 5432"
RUN_DIR = "/run/pgbouncer"
INI_PATH = "/etc/pgbouncer/pgbouncer.ini"
HEALTHCHECK_TARGET = "/dev/tcp/127.0.0.1/5432"


WHAT = "the rendered PgBouncer files"


class PgBouncerServer(Process):
    stop_signal = signal.SIGINT  # as the image's STOPSIGNAL: safe shutdown
    stop_timeout = 15

    def __init__(self, rendered_dir: Path, postgres: PostgresServer):
        self.rendered_dir = rendered_dir
        self.postgres = postgres
        # Its own directory under /tmp: the unprivileged user cannot enter
        # pytest's root-only temporary directories.
        self.base = Path(tempfile.mkdtemp(prefix="obcms-test-pgbouncer-"))
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.log = self.base / "pgbouncer.log"
        text = (rendered_dir / "pgbouncer.ini").read_text()
        text = replace_required(text, LISTEN_ADDR, "listen_addr = 127.0.0.1", WHAT)
        text = replace_required(text, LISTEN_PORT, f"listen_port = {self.port}", WHAT)
        text = replace_required(text, RUN_DIR, str(self.base), WHAT)
        self.ini = self.base / "pgbouncer.ini"
        self.ini.write_text(text)

    def run_as(self) -> dict:
        return {"user": self.user, "group": self.user} if self.user else {}

    def give_files_to_user(self) -> None:
        if self.user:
            account = pwd.getpwnam(self.user)
            for path in (self.base, *self.base.iterdir()):
                os.chown(path, account.pw_uid, account.pw_gid)

    @property
    def server(self) -> str:
        return f"host={self.postgres.host} port={self.postgres.port}"

    def write_scram_auth(self, role: str, database: str) -> None:
        """The auth file with the role's SCRAM secret, and what the entrypoint
        adds to the configuration for that role and database."""
        secret = self.postgres.psql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'")
        assert secret.startswith("SCRAM-SHA-256$"), "the test PostgreSQL stores SCRAM secrets"
        (self.base / "userlist.txt").write_text(f'"{role}" "{secret}"\n')
        (self.base / "databases.ini").write_text(f"{database} = {self.server}\n")
        (self.base / "runtime.ini").write_text(f"stats_users = {role}\n")
        for name in ("userlist.txt", "databases.ini", "runtime.ini"):
            (self.base / name).chmod(0o600)

    def start(self) -> "PgBouncerServer":
        """PgBouncer itself, with the auth file written by write_scram_auth()."""
        self.give_files_to_user()
        return self._start([require("pgbouncer", "/usr/sbin/pgbouncer"), str(self.ini)], os.environ.copy())

    def start_with_entrypoint(self, user: str, password: str, database: str, **settings: str) -> "PgBouncerServer":
        """The image's entrypoint.sh, which writes the auth file from the
        password and starts PgBouncer; settings become PGBOUNCER_* variables."""
        script = (self.rendered_dir / "entrypoint.sh").read_text()
        script = replace_required(script, SERVER, self.server, WHAT)
        script = replace_required(script, RUN_DIR, str(self.base), WHAT)
        script = replace_required(script, INI_PATH, str(self.ini), WHAT)
        script = script.replace("exec pgbouncer ", f"exec {require('pgbouncer', '/usr/sbin/pgbouncer')} ")
        (self.base / "entrypoint.sh").write_text(script)
        self.give_files_to_user()
        env = {
            "PATH": os.environ["PATH"],
            "POSTGRES_DB": database,
            "APP_DATABASE_USER": user,
            "APP_DATABASE_PASSWORD": password,
            **{f"PGBOUNCER_{name.upper()}": value for name, value in settings.items()},
        }
        return self._start(["sh", str(self.base / "entrypoint.sh")], env)

    def _start(self, command: list[str], env: dict) -> "PgBouncerServer":
        def ready() -> bool:
            return port_open("127.0.0.1", self.port)

        self.launch(command, self.log, ready, 15, "PgBouncer", cwd=self.base, env=env, **self.run_as())
        return self

    def url(self, database: str, user: str = "app", password: str = "app-password") -> str:
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def admin(self, command: str, user: str = "app", password: str = "app-password") -> list[dict[str, str]]:
        """A SHOW command on PgBouncer's admin console, as a list of rows."""
        result = subprocess.run(
            [postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", "pgbouncer"]
            + ["-A", "-F", "\t", "-P", "footer=off", "-c", command],
            capture_output=True,
            text=True,
            check=False,
            timeout=15,
            env={**os.environ, "PGPASSWORD": password},
        )
        if result.returncode != 0:
            raise RuntimeError(f"{command} failed: {result.stderr.strip()}")
        header, *rows = result.stdout.splitlines()
        names = header.split("\t")
        return [dict(zip(names, row.split("\t"), strict=True)) for row in rows]

    def healthcheck(self) -> subprocess.CompletedProcess:
        """The image's healthcheck.sh, pointed at this PgBouncer."""
        script = (self.rendered_dir / "healthcheck.sh").read_text()
        script = replace_required(script, HEALTHCHECK_TARGET, f"/dev/tcp/127.0.0.1/{self.port}", WHAT)
        path = self.base / "healthcheck.sh"
        path.write_text(script)
        return subprocess.run(["bash", str(path)], capture_output=True, text=True, check=False, timeout=10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
