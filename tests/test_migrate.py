"""The migrate job (scripts/migrate.sh) on a fresh database, twice at once."""

import subprocess

from support.render import project_env


def test_two_migrate_jobs_started_together_both_succeed(default_project, venv, postgres, database_url):
    env = project_env(default_project, venv, DATABASE_URL=database_url, REDIS_URL="redis://127.0.0.1:1/0")
    jobs = [
        subprocess.Popen(
            ["sh", "scripts/migrate.sh"],
            cwd=default_project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [job.communicate(timeout=300)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], "\n----\n".join(outputs)
    assert not any("Traceback" in output for output in outputs)

    applying = [output for output in outputs if "Applying auth.0001_initial... OK" in output]
    assert len(applying) == 1, "exactly one job applied the migrations"

    database = database_url.rsplit("/", 1)[1]
    rows = postgres.psql("SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations", database)
    total, distinct = map(int, rows.split("|"))
    assert total == distinct > 0, "each migration recorded once"
