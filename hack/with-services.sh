#!/usr/bin/env bash
# Runs a command with the real services the tests use: a throw-away
# PostgreSQL on a loopback port (data directory under /tmp, removed on exit),
# serving TLS with a certificate for "localhost" from a throw-away CA.
# Exports CXLOOP_TEST_POSTGRES_DSN and CXLOOP_TEST_POSTGRES_CA (the CA's PEM
# file) for the command.
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

# A CA and a server certificate for the name localhost only (no IP
# address), so a client that checks host names accepts "localhost" and
# refuses "127.0.0.1".
tls="$data/tls"
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cxloop test CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost\n' >"$tls/ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
  -days 2 -extfile "$tls/ext" -out "$tls/server.crt" >/dev/null 2>&1
chmod 0600 "$tls/server.key"
if [[ $(id -u) -eq 0 ]]; then
  chown -R postgres "$tls"
fi

log "starting PostgreSQL ($("$pg_bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$data/db" -U postgres --auth=trust >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data/db" -l "$data/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" start >/dev/null
"${as_pg[@]}" "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE cxloop LOGIN PASSWORD 'cxloop-test'" -c "CREATE DATABASE cx OWNER cxloop" >/dev/null
# Password authentication for the test role, so a wrong password is refused.
sed -i 's/^\(host.*\)trust$/\1scram-sha-256/' "$data/db/pg_hba.conf"
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$data/db" reload >/dev/null

export CXLOOP_TEST_POSTGRES_DSN="postgres://cxloop:cxloop-test@127.0.0.1:$port/cx?sslmode=disable"
export CXLOOP_TEST_PSQL="$pg_bin/psql"
export CXLOOP_TEST_POSTGRES_CA="$tls/ca.crt"
"$@"
