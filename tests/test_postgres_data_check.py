"""scripts/check-postgres-data.sh, the db-version-check job that runs before
db starts, on real data directories (the suite's PostgreSQL cluster, made by
Debian's initdb): it lets PostgreSQL start on its own major version's data
and on an empty volume, and refuses another version's data, wherever the
volume keeps it (at its top up to PostgreSQL 17, below <version>/docker from
18 on), naming the upgrade script, and a directory it may not read. Under a
second."""

import subprocess
from pathlib import Path

from support.binaries import require
from support.postgres import PostgresServer


def check(project: Path, volume: Path, version: str, user: str = "root") -> subprocess.CompletedProcess:
    """The job's command, as `user` (the script comes on stdin: the render is root's)."""
    return subprocess.run(
        [require("runuser"), "-u", user, "--", "bash", "-s", "--", str(volume)],
        input=(project / "scripts" / "check-postgres-data.sh").read_text(),
        env={"PATH": "/usr/bin:/bin", "POSTGRES_VERSION": version},
        capture_output=True,
        text=True,
        check=False,
    )


def test_postgres_starts_only_on_its_own_major_versions_data(default_project, postgres: PostgresServer, tmp_path):
    cluster = postgres.data  # a volume of PostgreSQL 17 or older keeps the cluster at its top
    version = (cluster / "PG_VERSION").read_text().strip()
    newer = str(int(version) + 2)

    same = check(default_project, cluster, version)
    assert same.returncode == 0 and same.stdout == f"The postgres_data volume holds PostgreSQL {version} data.\n"
    (tmp_path / "empty").mkdir()
    empty = check(default_project, tmp_path / "empty", newer)
    assert empty.returncode == 0 and "is empty" in empty.stdout

    refused = check(default_project, cluster, newer)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"Refusing to start PostgreSQL {newer}: the postgres_data volume holds the data of "
        f"PostgreSQL {version} (in its top directory).\n"
    )
    assert "scripts/upgrade-postgres.sh --yes" in refused.stderr and "Nothing was changed." in refused.stderr

    # PostgreSQL 18's image looks for 18/docker: the older cluster at the
    # volume's top would leave it an empty directory to start afresh in.
    assert check(default_project, cluster, "18").returncode == 1

    # A data directory it may not read is not taken for an empty one (it
    # runs as PostgreSQL's user, without root's capabilities).
    unreadable = check(default_project, cluster, newer, user="nobody")
    assert unreadable.returncode == 1
    assert "cannot read the postgres_data volume (above) to check its version." in unreadable.stderr
    assert "Permission denied" in unreadable.stderr
