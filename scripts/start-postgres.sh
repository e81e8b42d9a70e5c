#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the test suite, installing Debian's
# package first if it is missing. Prints the `export` line to use; idempotent.
#   eval "$(scripts/start-postgres.sh)"
set -euo pipefail
PGPORT="${PGPORT:-55432}"
PGROOT="${PGROOT:-/tmp/kriptik-pg}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")"
# initdb refuses to run as root: run the server as an unprivileged user.
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PGROOT" postgres
  RUNAS=(runuser -u postgres --)
fi
mkdir -p "$PGROOT"
[ "$(id -u)" = 0 ] && chown postgres "$PGROOT"
if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
  "${RUNAS[@]}" "$BIN/initdb" -D "$PGROOT/data" -U kriptik --auth=trust -E UTF8 >&2
fi
if ! "${RUNAS[@]}" "$BIN/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1; then
  "${RUNAS[@]}" "$BIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w \
    -o "-h 127.0.0.1 -p $PGPORT -k $PGROOT -c fsync=off -c max_connections=200" start >&2
fi
echo "export KRIPTIK_TEST_POSTGRES_URL=postgresql+asyncpg://kriptik@127.0.0.1:$PGPORT/postgres"
