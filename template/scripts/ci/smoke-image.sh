#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# Smoke run of a built image (CI's image job), as docker-compose.prod.yml runs
# it (read-only, /tmp in memory, no capabilities):
#   1. the migrate job (scripts/migrate.sh: check --deploy, migrations, the
#      application's role) as the database's owner, DATABASE_URL;
#   2. gunicorn as that role, APP_DATABASE_URL, whose /health/ and /ready/
#      must answer 200 within SMOKE_TIMEOUT seconds (default 60), and the
#      image's HEALTHCHECK command.
#
#   DATABASE_URL=... APP_DATABASE_URL=... REDIS_URL=... scripts/ci/smoke-image.sh IMAGE
# The containers share the host's network, so URLs on localhost reach CI's
# service containers (or servers on your machine); gunicorn listens on
# 127.0.0.1:SMOKE_PORT (default 8000). The migrate job migrates the database
# it is given (CI's is empty).
set -eu
if [ $# -ne 1 ]; then
    echo "usage: scripts/ci/smoke-image.sh IMAGE" >&2
    exit 2
fi
image=$1
cd "$(dirname "$0")/../.."
: "${DATABASE_URL:?set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/NAME}"
: "${APP_DATABASE_URL:?set APP_DATABASE_URL=postgres://APP_USER:APP_PASSWORD@HOST:PORT/NAME}"
: "${REDIS_URL:?set REDIS_URL=redis://HOST:PORT/0}"
# shellcheck source=production-env.sh
. scripts/ci/production-env.sh
port=${SMOKE_PORT:-8000}
timeout=${SMOKE_TIMEOUT:-60}
container="smoke-$(date +%s)-$$"

# The options of both containers, in "$@": the host's network, the hardening
# of docker-compose.prod.yml, and the environment (values from this shell).
set -- --network host --read-only --tmpfs /tmp --cap-drop ALL \
    --security-opt no-new-privileges:true \
    --env REDIS_URL --env PORT="$port" \
    --env GUNICORN_CMD_ARGS="--bind 127.0.0.1:$port"
for name in $PRODUCTION_ENV; do
    set -- "$@" --env "$name"
done

echo "Smoke run of $image: the migrate job..."
if ! docker run --rm "$@" --env DATABASE_URL --env APP_DATABASE_URL "$image" sh scripts/migrate.sh; then
    echo "Smoke run failed: the image's migrate job exited non-zero (output above)." >&2
    exit 1
fi

trap 'docker rm --force "$container" >/dev/null 2>&1 || true' EXIT
echo "Smoke run of $image: gunicorn on 127.0.0.1:$port..."
docker run --detach --name "$container" "$@" --env DATABASE_URL="$APP_DATABASE_URL" "$image" >/dev/null

fail() {
    echo "Smoke run failed: $1" >&2
    echo "--- the container's last log lines:" >&2
    docker logs --tail 40 "$container" >&2 2>&1 || true
    exit 1
}

deadline=$(($(date +%s) + timeout))
until curl --silent --fail --max-time 5 --output /dev/null "http://127.0.0.1:$port/ready/"; do
    if [ -z "$(docker ps --quiet --filter "name=^$container\$" --filter status=running)" ]; then
        fail "the container stopped"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        fail "/ready/ did not answer 200 within $timeout s"
    fi
    sleep 1
done
for path in /health/ /ready/; do
    body=$(curl --silent --show-error --fail --max-time 5 "http://127.0.0.1:$port$path") ||
        fail "$path did not answer 200"
    echo "$path: $body"
done
docker exec "$container" python scripts/healthcheck.py /health/ ||
    fail "the image's HEALTHCHECK command (scripts/healthcheck.py) failed"
echo "Smoke run passed: $image answers /health/ and /ready/."
