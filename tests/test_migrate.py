"""The migrate job (scripts/migrate.sh) on an empty database, five copies
started at once (a retried deploy, replicas): all succeed, each migration
is applied exactly once, and the application's role is made once."""

import re
import subprocess
import time

from support.render import project_env

JOBS = 5


def test_five_migrate_jobs_started_together_all_succeed(default_project, venv, postgres):
    owner_url, app_url = postgres.create_owned_database("migrate_five")
    env = project_env(
        default_project, venv, DATABASE_URL=owner_url, APP_DATABASE_URL=app_url, REDIS_URL="redis://127.0.0.1:1/0"
    )
    started = time.monotonic()
    jobs = [
        subprocess.Popen(
            ["sh", "scripts/migrate.sh"],
            cwd=default_project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(JOBS)
    ]
    outputs = [job.communicate(timeout=300)[0] for job in jobs]
    seconds = time.monotonic() - started
    assert [job.returncode for job in jobs] == [0] * JOBS, "\n----\n".join(outputs)
    assert not any("Traceback" in output for output in outputs)

    applied = [re.findall(r"Applying (\S+)\.\.\. OK", output) for output in outputs]
    appliers = [names for names in applied if names]
    waited = sum("Another migrate job holds the lock" in output for output in outputs)
    print(f"\n{JOBS} migrate jobs at once: all exited 0 in {seconds:.1f} s; {waited} waited for the lock")
    assert len(appliers) == 1, "exactly one job applied the migrations"
    assert len(appliers[0]) == len(set(appliers[0])), "and each only once"

    rows = postgres.psql("SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations", "migrate_five")
    total, distinct = map(int, rows.split("|"))
    assert total == distinct == len(appliers[0]), "each migration recorded once"
