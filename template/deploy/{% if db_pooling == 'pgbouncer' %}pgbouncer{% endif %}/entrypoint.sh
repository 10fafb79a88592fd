#!/bin/sh
# Entrypoint of the pgbouncer image (Dockerfile beside this file).
#
# PgBouncer checks passwords against its auth file. This writes that file
# from APP_DATABASE_USER and APP_DATABASE_PASSWORD, the application's role
# (the one that reads and writes rows only), into /run/pgbouncer, a tmpfs:
# the password is in neither the image nor a volume. PgBouncer checks
# clients' passwords with SCRAM and logs in to PostgreSQL with the same
# password. It knows one database, POSTGRES_DB: a client that names another
# is refused. Then PgBouncer runs in the foreground.
#
# Any setting of pgbouncer.ini can be changed with a variable named after
# it: PGBOUNCER_DEFAULT_POOL_SIZE=30 sets default_pool_size = 30.
set -eu

run_dir=/run/pgbouncer
: "${POSTGRES_DB:?set POSTGRES_DB}"
: "${APP_DATABASE_USER:?set APP_DATABASE_USER}"
: "${APP_DATABASE_PASSWORD:?set APP_DATABASE_PASSWORD}"

umask 077

# One line per user: "name" "password", with any double quote doubled.
quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"
}
printf '%s %s\n' "$(quote "$APP_DATABASE_USER")" "$(quote "$APP_DATABASE_PASSWORD")" >"$run_dir/userlist.txt"
# A database name goes into pgbouncer.ini as it is: letters, digits and _ only.
case "$POSTGRES_DB" in
    *[!A-Za-z0-9_]*) echo "POSTGRES_DB may hold only letters, digits and _ for PgBouncer: $POSTGRES_DB" >&2; exit 1 ;;
esac
printf '%s = host=db port=5432\n' "$POSTGRES_DB" >"$run_dir/databases.ini"

{
    # The application's user may read SHOW POOLS, SHOW STATS... on the admin
    # console (the database named pgbouncer), not pause or stop PgBouncer.
    printf 'stats_users = %s\n' "$APP_DATABASE_USER"
    env | awk -F= '/^PGBOUNCER_[A-Z_]+=./ { print tolower(substr($1, 11)) " = " substr($0, length($1) + 2) }'
} >"$run_dir/runtime.ini"

exec pgbouncer /etc/pgbouncer/pgbouncer.ini
