#!/bin/bash
# Health check of the pgbouncer image: PgBouncer answers the PostgreSQL
# protocol on its port. It sends an SSLRequest, which any PostgreSQL server
# answers with one byte (N or S) before a login, so no password is needed.
set -euo pipefail

exec 3<>/dev/tcp/127.0.0.1/5432
printf '\x00\x00\x00\x08\x04\xd2\x16\x2f' >&3
IFS= read -r -n 1 -t 3 answer <&3
[ "$answer" = N ] || [ "$answer" = S ]
