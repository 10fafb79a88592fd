#!/bin/sh
# The one-shot migrate job of a deploy (the `migrate` service of the compose
# files). The web, celery and beat services start only after it exits 0.
#   1. check --deploy: refuse to deploy settings that Django finds unsafe;
#   2. migrate_safely: apply migrations under a PostgreSQL advisory lock, so
#      a second copy started at the same time waits instead of colliding;
#   3. app_database_role: create or update the role of APP_DATABASE_URL, which
#      web, celery and beat use: it reads and writes rows, nothing more.
# DATABASE_URL connects as the database's owner; only this job uses it where
# the stack runs PostgreSQL itself (compose, Coolify, swarm). Each URL may
# come from a file instead (NAME_FILE, a Docker secret). The Kubernetes
# target sets no APP_DATABASE_URL: there the application connects with
# DATABASE_URL too.
set -eu
cd "$(dirname "$0")/../src"

python manage.py check --deploy --fail-level WARNING
python manage.py migrate_safely
app_url=${APP_DATABASE_URL:-}
if [ -n "${APP_DATABASE_URL_FILE:-}" ]; then
    app_url=$(cat "$APP_DATABASE_URL_FILE")
fi
if [ -n "$app_url" ]; then
    python manage.py app_database_role
else
    echo "APP_DATABASE_URL is not set: the application connects as DATABASE_URL's role."
fi
