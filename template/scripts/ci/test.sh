#!/bin/sh
# The project's tests on PostgreSQL and Redis (CI's test job).
#   DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/NAME REDIS_URL=redis://HOST:PORT/0 \
#       scripts/ci/test.sh [pytest options]
# The role in DATABASE_URL must be allowed to create databases: pytest-django
# runs the tests in a new database, test_NAME.
set -eu
cd "$(dirname "$0")/../.."
: "${DATABASE_URL:?set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/NAME (a role that may create databases)}"
: "${REDIS_URL:?set REDIS_URL=redis://HOST:PORT/0}"

if ! pytest "$@"; then
    echo "Tests failed: see pytest's report above." >&2
    exit 1
fi
