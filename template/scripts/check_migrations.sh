#!/bin/sh
# Migration checks for CI and before a deploy:
#   - every model change has a migration (makemigrations --check);
#   - with --applied, the database has every migration (migrate --check).
#
#   scripts/check_migrations.sh [--applied]
set -eu
cd "$(dirname "$0")/../src"

echo "Checking that every model change has a migration..."
if ! python manage.py makemigrations --check --dry-run; then
    echo "Models changed without a migration: run 'python manage.py makemigrations' and commit the result." >&2
    exit 1
fi

if [ "${1:-}" = "--applied" ]; then
    echo "Checking that the database has every migration..."
    if ! python manage.py migrate --check; then
        echo "The database lacks migrations: run scripts/migrate.sh (the migrate job)." >&2
        exit 1
    fi
fi
echo "Migration checks passed."
