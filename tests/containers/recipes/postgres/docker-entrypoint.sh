#!/usr/bin/env bash
# Stand-in for the official postgres image's entrypoint: the parts that
# compose files rely on (POSTGRES_USER/PASSWORD/DB and their _FILE forms,
# POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, initdb.d scripts).
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from VAR or from the file named by VAR_FILE.
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}" val
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
		exit 1
	fi
	val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(<"${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

run_initdb_d() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					echo "$0: running $f"; "$f"
				else
					echo "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) echo "$0: running $f"; psql_init -f "$f" ;;
			*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql_init ;;
			*) echo "$0: ignoring $f" ;;
		esac
	done
}

psql_init() {
	psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc \
		--dbname "$POSTGRES_DB" "$@"
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ]; then
	if [ "$(id -u)" = '0' ]; then
		# A new named volume may belong to root: hand it to postgres.
		mkdir -p "$PGDATA"
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		chmod 00700 "$PGDATA" || :
		mkdir -p /var/run/postgresql
		find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
		chmod 03775 /var/run/postgresql
		exec gosu postgres "${BASH_SOURCE[0]}" "$@"
	fi

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		file_env POSTGRES_PASSWORD
		file_env POSTGRES_USER postgres
		file_env POSTGRES_DB "$POSTGRES_USER"
		file_env POSTGRES_INITDB_ARGS
		: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
		if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
			echo >&2 'Error: Database is uninitialized and superuser password is not specified.'
			echo >&2 '       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust).'
			exit 1
		fi
		# initdb keeps "trust" for the local socket (as in the official
		# image); connections over TCP from anywhere need the password.
		eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"
		printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

		# A temporary server on the socket only, for the database and scripts.
		PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
		if [ "$POSTGRES_DB" != 'postgres' ]; then
			psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc \
				--dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
		fi
		run_initdb_d
		pg_ctl -D "$PGDATA" -m fast -w stop
		echo
		echo 'PostgreSQL init process complete; ready for start up.'
		echo
	else
		echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
	fi
fi

exec "$@"
