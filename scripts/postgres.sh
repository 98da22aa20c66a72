#!/usr/bin/env bash
# Makes sure a PostgreSQL server is reachable for the tests and prints its URL on stdout
# (`export VIDGATE_TEST_PG_URL=$(scripts/postgres.sh)`). In order:
#   1. VIDGATE_TEST_PG_URL already set: print it.
#   2. A server on 127.0.0.1:5432 that lets `postgres` in without a password: use it
#      (starting the installed Debian cluster first if it is down).
#   3. Otherwise: install PostgreSQL if needed and start a throwaway cluster with trust
#      auth on 127.0.0.1:55432 under /tmp (stopped by `scripts/postgres.sh stop`).
set -euo pipefail

THROWAWAY=/tmp/vidgate-test-pg
PORT=55432
log() { echo "postgres.sh: $*" >&2; }
sudo_if() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

if [ "${1:-}" = "stop" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -d "$THROWAWAY/data" ] && as_postgres "$bin/pg_ctl" -D "$THROWAWAY/data" -m fast stop >/dev/null || true
  exit 0
fi

if [ -n "${VIDGATE_TEST_PG_URL:-}" ]; then
  echo "$VIDGATE_TEST_PG_URL"
  exit 0
fi

usable() { psql "postgres://postgres@127.0.0.1:$1/postgres" -Atqc 'select 1' >/dev/null 2>&1; }

if command -v psql >/dev/null 2>&1; then
  if ! usable 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
    for v in $(ls /etc/postgresql 2>/dev/null); do
      log "starting the installed cluster $v/main"
      sudo_if pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
    done
    for _ in $(seq 1 20); do usable 5432 && break; sleep 0.5; done
  fi
  if usable 5432; then
    echo "postgres://postgres@127.0.0.1:5432/postgres"
    exit 0
  fi
  if usable $PORT; then
    echo "postgres://postgres@127.0.0.1:$PORT/postgres"
    exit 0
  fi
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing PostgreSQL"
  sudo_if apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
log "starting a throwaway cluster on 127.0.0.1:$PORT"
sudo_if rm -rf "$THROWAWAY"
sudo_if mkdir -p "$THROWAWAY"
sudo_if chown postgres "$THROWAWAY"
as_postgres "$bin/initdb" -D "$THROWAWAY/data" -A trust -U postgres >/dev/null
as_postgres "$bin/pg_ctl" -D "$THROWAWAY/data" -l "$THROWAWAY/pg.log" -w start \
  -o "-p $PORT -k $THROWAWAY -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
