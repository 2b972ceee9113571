#!/usr/bin/env bash
# Starts (or stops, with `stop`) a throwaway PostgreSQL server for the tests: its own data
# directory, loopback only, port 54329, trust authentication for the superuser `luna`.
# Prints the admin URL the tests read from LUNA_TEST_POSTGRES_URL.
set -euo pipefail

port=54329
data=${LUNA_TEST_PGDATA:-/tmp/luna-test-postgres}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "$bin" ]]; then
  echo "PostgreSQL is not installed (Debian package: postgresql)" >&2
  exit 1
fi

# PostgreSQL refuses to run as root; use its own account then.
if [[ $EUID -eq 0 ]]; then as_owner=(runuser -u postgres --); else as_owner=(); fi

if [[ "${1:-start}" == "stop" ]]; then
  "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi

if ! "${as_owner[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  rm -rf "$data"
  mkdir -p "$data"
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$data"
  "${as_owner[@]}" "$bin/initdb" -D "$data" -U luna -A trust --no-sync >/dev/null
  "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -w -l "$data/server.log" \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
fi
echo "postgres://luna@127.0.0.1:$port/postgres"
