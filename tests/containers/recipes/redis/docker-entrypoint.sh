#!/bin/sh
# Stand-in for the official redis image's entrypoint.
set -e

# `docker run redis --appendonly yes` or `... redis /path/redis.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec gosu redis "$0" "$@"
fi

# The official binary is built with protected mode off; Debian's keeps it on,
# which refuses other containers when no password is set. Without a config
# file, start like the official one (a later --protected-mode still wins).
if [ "$1" = 'redis-server' ]; then
	case "${2:-}" in
		*.conf) ;;
		*) shift; set -- redis-server --protected-mode no "$@" ;;
	esac
fi

um="$(umask)"
if [ "$um" = '0022' ]; then
	umask 0077
fi

exec "$@"
