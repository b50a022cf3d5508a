#!/usr/bin/env bash
# Installs PostgreSQL 15 from Debian packages if missing and starts a throwaway server for the
# tests on 127.0.0.1:${VARDBRO_PG_PORT:-55432} (trust authentication, user postgres).
# Prints the connection string to use as VARDBRO_TEST_POSTGRES.
set -euo pipefail
port="${VARDBRO_PG_PORT:-55432}"
data="${VARDBRO_PG_DATA:-/tmp/vardbro-pg-$port}"
bin=/usr/lib/postgresql/15/bin

if [ ! -x "$bin/postgres" ]; then
  echo "installing PostgreSQL 15 ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql-15 >&2
fi

run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! run_as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    run_as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  run_as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off" start >/dev/null
fi

echo "Host=127.0.0.1;Port=$port;Username=postgres;Password=postgres;Database=postgres"
