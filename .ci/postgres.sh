#!/usr/bin/env bash
# Start/stop a throw-away PostgreSQL for the tests: own data directory (initdb), 127.0.0.1:5433, so
# it never touches a system cluster. `start` prints the SQLAlchemy URL of an empty test database
# (tests create their own fresh database per session, named sugar_bridge_test_*, which the test
# user may create). Idempotent. Installs Debian's postgresql when it is missing and we are root.
# As root, the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
set -euo pipefail
base=${SUGAR_BRIDGE_TEST_POSTGRES_DIR:-/tmp/sugar-bridge-postgres}
port=${SUGAR_BRIDGE_TEST_POSTGRES_PORT:-5433}
data="$base/data"

find_bindir() {
  local dir
  dir=$(command -v pg_config >/dev/null 2>&1 && pg_config --bindir 2>/dev/null || true)
  if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
  # Debian keeps the server programs out of PATH, one directory per major version: the newest.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return; }
  done
  dir=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
  [ -x "$dir/pg_ctl" ] && echo "$dir" || true
}
bindir=$(find_bindir)
if [ -z "$bindir" ] && [ "${1:-}" = start ] && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends postgresql >&2
  bindir=$(find_bindir)
fi

# Run a server program as the owner of the data directory: ourselves, or `postgres` when root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    # runuser keeps no controlling terminal; cd / so the postgres user can read its cwd.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

alive() { as_owner "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres >/dev/null 2>&1; }
psql_admin() { as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }

case "${1:-}" in
  start)
    [ -n "$bindir" ] || { echo "postgresql is not installed" >&2; exit 1; }
    mkdir -p "$base"
    [ "$(id -u)" = 0 ] && chown postgres: "$base"
    if [ ! -f "$data/PG_VERSION" ]; then
      # trust on 127.0.0.1 for the superuser only (used by this script); the test user has a
      # password (scram-sha-256), as a real server would ask.
      as_owner "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 \
        || as_owner "$bindir/initdb" -D "$data" -U postgres --auth-local=trust \
          --auth-host=scram-sha-256 -E UTF8 --locale=C >"$base/initdb.log" 2>&1 \
        || { cat "$base/initdb.log" >&2; exit 1; }
      {
        echo "host all postgres 127.0.0.1/32 trust"
        echo "host all all 127.0.0.1/32 scram-sha-256"
      } >"$data/pg_hba.conf"
    fi
    if ! alive; then
      # -o: own port, TCP on 127.0.0.1 only, the socket in our directory (not /var/run), and the
      # durability trade of a test server. pg_ctl start detaches the server from this shell.
      as_owner "$bindir/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$base \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=200" >/dev/null \
        || { echo "PostgreSQL did not start; last lines of $base/server.log:" >&2;
             tail -n 20 "$base/server.log" >&2; exit 1; }
      for _ in $(seq 1 60); do alive && break; sleep 0.5; done
    fi
    psql_admin -d postgres <<'SQL'
SELECT 'CREATE ROLE bridge_test LOGIN CREATEDB PASSWORD ''bridge_test_pw'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bridge_test') \gexec
SELECT 'CREATE DATABASE sugar_bridge_test OWNER bridge_test ENCODING ''UTF8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'sugar_bridge_test') \gexec
SQL
    echo "postgresql+psycopg://bridge_test:bridge_test_pw@127.0.0.1:$port/sugar_bridge_test"
    ;;
  stop)
    if [ -n "$bindir" ] && [ -f "$data/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
