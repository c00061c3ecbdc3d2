#!/usr/bin/env bash
# Start/stop a throw-away MariaDB for the tests: own datadir, 127.0.0.1:3307, so it never touches
# a system server. `start` prints the SQLAlchemy URL of an empty test database.
set -euo pipefail
base=${SUGAR_BRIDGE_TEST_MYSQL_DIR:-/tmp/sugar-bridge-mariadb}
port=${SUGAR_BRIDGE_TEST_MYSQL_PORT:-3307}
sock="$base/mysqld.sock"
server=$(command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd 2>/dev/null || true)
client=$(command -v mariadb || command -v mysql)

case "${1:-}" in
  start)
    if [ ! -d "$base/data/mysql" ]; then
      mkdir -p "$base/data"
      mariadb-install-db --user=root --datadir="$base/data" --auth-root-authentication-method=normal \
        --skip-test-db >"$base/install.log" 2>&1
    fi
    if ! "$client" --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
      "$server" --user=root --datadir="$base/data" --socket="$sock" --port="$port" \
        --bind-address=127.0.0.1 --skip-name-resolve --innodb-buffer-pool-size=256M \
        --pid-file="$base/mysqld.pid" --log-error="$base/error.log" >/dev/null 2>&1 &
      for _ in $(seq 1 60); do
        "$client" --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.5
      done
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
    if [ -f "$base/mysqld.pid" ]; then kill "$(cat "$base/mysqld.pid")" 2>/dev/null || true; fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
