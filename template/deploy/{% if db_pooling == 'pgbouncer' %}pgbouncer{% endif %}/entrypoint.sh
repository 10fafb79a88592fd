#!/bin/sh
# Entrypoint of the pgbouncer image (Dockerfile beside this file).
#
# PgBouncer checks passwords against its auth file. This writes that file
# from POSTGRES_USER and POSTGRES_PASSWORD, the variables the db service is
# created with, into /run/pgbouncer, a tmpfs: the password is in neither the
# image nor a volume. PgBouncer checks clients' passwords with SCRAM and logs
# in to PostgreSQL with the same password, then runs in the foreground.
#
# Any setting of pgbouncer.ini can be changed with a variable named after
# it: PGBOUNCER_DEFAULT_POOL_SIZE=30 sets default_pool_size = 30.
set -eu

run_dir=/run/pgbouncer
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"

umask 077

# One line per user: "name" "password", with any double quote doubled.
quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"
}
printf '%s %s\n' "$(quote "$POSTGRES_USER")" "$(quote "$POSTGRES_PASSWORD")" >"$run_dir/userlist.txt"

{
    # The application's user may read SHOW POOLS, SHOW STATS... on the admin
    # console (the database named pgbouncer), not pause or stop PgBouncer.
    printf 'stats_users = %s\n' "$POSTGRES_USER"
    env | awk -F= '/^PGBOUNCER_[A-Z_]+=./ { print tolower(substr($1, 11)) " = " substr($0, length($1) + 2) }'
} >"$run_dir/runtime.ini"

exec pgbouncer /etc/pgbouncer/pgbouncer.ini
