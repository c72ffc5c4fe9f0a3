#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the tests and print the URL they should use.
# Installs Debian's postgresql when it is missing. Run as root (CI and the dev machines are).
#   eval "$(bash .ci/postgres.sh)"   # exports KIEMTIN_TEST_POSTGRES_URL
set -euo pipefail
PORT=${KIEMTIN_TEST_POSTGRES_PORT:-54329}

if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DATA=/tmp/kiemtin-pg-$PORT

if ! su postgres -s /bin/sh -c "$BIN/pg_isready -q -h 127.0.0.1 -p $PORT"; then
  rm -rf "$DATA"
  install -d -o postgres -g postgres "$DATA"
  su postgres -s /bin/sh -c "$BIN/initdb -D $DATA -A trust -U postgres" >/dev/null
  su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DATA -l $DATA/server.log -w -o \
    '-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' start" >&2
fi
psql="$BIN/psql -q -h 127.0.0.1 -p $PORT -U postgres -v ON_ERROR_STOP=1"
$psql -tc "SELECT 1 FROM pg_roles WHERE rolname = 'kiemtin'" | grep -q 1 ||
  $psql -c "CREATE ROLE kiemtin LOGIN PASSWORD 'kiemtin' CREATEDB" >&2
$psql -tc "SELECT 1 FROM pg_database WHERE datname = 'kiemtin_test'" | grep -q 1 ||
  $psql -c "CREATE DATABASE kiemtin_test OWNER kiemtin" >&2
echo "export KIEMTIN_TEST_POSTGRES_URL=postgresql+psycopg://kiemtin:kiemtin@127.0.0.1:$PORT/kiemtin_test"
