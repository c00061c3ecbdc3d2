#!/usr/bin/env bash
# Start/stop a throw-away MariaDB for the tests: own datadir, 127.0.0.1:3307, so it never touches
# a system server. `start` prints the SQLAlchemy URL of an empty test database (tests create their
# own fresh database per session, named sugar_bridge_test_*, which the test user may create).
# Installs Debian's mariadb-server when it is missing and we are root. InnoDB buffer pool:
# $SUGAR_BRIDGE_TEST_MYSQL_BUFFER_POOL (256M; a benchmark at scale gives it more).
set -euo pipefail
base=${SUGAR_BRIDGE_TEST_MYSQL_DIR:-/tmp/sugar-bridge-mariadb}
port=${SUGAR_BRIDGE_TEST_MYSQL_PORT:-3307}
sock="$base/mysqld.sock"

find_server() { command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd 2>/dev/null || true; }
server=$(find_server)
if [ -z "$server" ] && [ "${1:-}" = start ] && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends mariadb-server >&2
  server=$(find_server)
fi
client=$(command -v mariadb || command -v mysql || true)
run_as=()
[ "$(id -u)" = 0 ] && run_as=(--user=root)

alive() { "$client" --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; }

case "${1:-}" in
  start)
    [ -n "$server" ] && [ -n "$client" ] || { echo "mariadb-server is not installed" >&2; exit 1; }
    if [ ! -d "$base/data/mysql" ]; then
      mkdir -p "$base/data"
      mariadb-install-db --no-defaults "${run_as[@]}" --datadir="$base/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$base/install.log" 2>&1 \
        || { cat "$base/install.log" >&2; exit 1; }
    fi
    if ! alive; then
      # setsid: the server must outlive the shell (and process group) that started it.
      # --no-defaults: no system conf file (mariadb-plugin-spider's would load Spider here).
      setsid "$server" --no-defaults "${run_as[@]}" --datadir="$base/data" --socket="$sock" --port="$port" \
        --bind-address=127.0.0.1 --skip-name-resolve --innodb-buffer-pool-size="${SUGAR_BRIDGE_TEST_MYSQL_BUFFER_POOL:-256M}" \
        --innodb-flush-log-at-trx-commit=2 --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci \
        --pid-file="$base/mysqld.pid" --log-error="$base/error.log" </dev/null >/dev/null 2>&1 &
      for _ in $(seq 1 120); do alive && break; sleep 0.5; done
      alive || { echo "MariaDB did not start; last lines of $base/error.log:" >&2;
                 tail -n 20 "$base/error.log" >&2; exit 1; }
    fi
    "$client" --socket="$sock" -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS sugar_bridge_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'bridge_test'@'127.0.0.1' IDENTIFIED BY 'bridge_test_pw';
GRANT ALL PRIVILEGES ON `sugar_bridge_test%`.* TO 'bridge_test'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
    echo "mysql+pymysql://bridge_test:bridge_test_pw@127.0.0.1:$port/sugar_bridge_test?charset=utf8mb4"
    ;;
  stop)
    if [ -f "$base/mysqld.pid" ]; then
      pid=$(cat "$base/mysqld.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
