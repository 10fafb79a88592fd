#!/bin/sh
# The one-shot migrate job of a deploy (the `migrate` service of the compose
# files). The web, celery and beat services start only after it exits 0.
#   1. check --deploy: refuse to deploy settings that Django finds unsafe;
#   2. migrate_safely: apply migrations under a PostgreSQL advisory lock, so
#      a second copy started at the same time waits instead of colliding.
set -eu
cd "$(dirname "$0")/../src"

python manage.py check --deploy --fail-level WARNING
python manage.py migrate_safely
