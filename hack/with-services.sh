#!/usr/bin/env bash
# Runs a command with the real services the tests use: a throw-away
# PostgreSQL on a loopback port (data directory under /tmp, removed on exit).
# Exports CXLOOP_TEST_POSTGRES_DSN for the command.
#
# Usage: hack/with-services.sh COMMAND [ARG...]
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    log "PostgreSQL is not installed (apt-get install postgresql); CI needs it"
    exit 1
  fi
  log "PostgreSQL is not installed; tests that need it will say so"
  exec "$@"
fi

data=$(mktemp -d /tmp/cxloop-pg-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres "$data"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT

log "starting PostgreSQL ($("$pg_bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$data/db" -U postgres --auth=trust >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data/db" -l "$data/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
"${as_pg[@]}" "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE cxloop LOGIN PASSWORD 'cxloop-test'" -c "CREATE DATABASE cx OWNER cxloop" >/dev/null
# Password authentication for the test role, so a wrong password is refused.
sed -i 's/^\(host.*\)trust$/\1scram-sha-256/' "$data/db/pg_hba.conf"
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data/db" reload >/dev/null

export CXLOOP_TEST_POSTGRES_DSN="postgres://cxloop:cxloop-test@127.0.0.1:$port/cx?sslmode=disable"
export CXLOOP_TEST_PSQL="$pg_bin/psql"
"$@"
