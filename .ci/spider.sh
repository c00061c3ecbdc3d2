#!/usr/bin/env bash
# Start/stop a throw-away distributed warehouse for the tests: MariaDB with the Spider storage
# engine, two data nodes and a head on 127.0.0.1, each with its own datadir under $base.
#   start  starts what is not running and prints the SQLAlchemy URL of the head's test database
#          (with ?engine=spider: the warehouse's switch to its Spider migrations, README "Spider")
#   url    prints that URL only
#   stop   stops the three servers
# Ports: head $SUGAR_BRIDGE_TEST_SPIDER_PORT (3330), nodes the next two (3331, 3332).
# Each server's InnoDB buffer pool: $SUGAR_BRIDGE_TEST_SPIDER_BUFFER_POOL (192M; a benchmark at
# scale gives them more).
# Installs Debian's mariadb-server and mariadb-plugin-spider when missing and we are root. That
# package drops a conf file making the *system* server load Spider; our servers start with
# --no-defaults, so they read no system conf at all (and the system server is never touched).
set -euo pipefail
base=${SUGAR_BRIDGE_TEST_SPIDER_DIR:-/tmp/sugar-bridge-spider}
port=${SUGAR_BRIDGE_TEST_SPIDER_PORT:-3330}
nodes=(node1 node2)
user=bridge_test
password=bridge_test_pw
node_user=spider_link
node_password=spider_link_pw

find_server() { command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd 2>/dev/null || true; }
plugin_dir=/usr/lib/mysql/plugin
server=$(find_server)
if [ "${1:-}" = start ] && { [ -z "$server" ] || [ ! -f "$plugin_dir/ha_spider.so" ]; } \
   && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends mariadb-server mariadb-plugin-spider >&2
  server=$(find_server)
fi
client=$(command -v mariadb || command -v mysql || true)
run_as=()
declare -A started=()  # name -> pid of the server started by this script
[ "$(id -u)" = 0 ] && run_as=(--user=root)

# name -> port: the head on $port, node i on $port + i
port_of() { case "$1" in head) echo "$port" ;; node1) echo $((port + 1)) ;; node2) echo $((port + 2)) ;; esac; }
sql() { "$client" --no-defaults --socket="$base/$1/mysqld.sock" -uroot "${@:2}"; }
alive() { sql "$1" -e 'SELECT 1' >/dev/null 2>&1; }

start_one() {  # name [extra server options...]
  local name=$1 dir="$base/$1"
  shift
  if [ ! -d "$dir/data/mysql" ]; then
    mkdir -p "$dir/data"
    mariadb-install-db --no-defaults "${run_as[@]}" --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
      || { cat "$dir/install.log" >&2; exit 1; }
  fi
  alive "$name" && return 0
  # setsid: the server must outlive the shell (and process group) that started it.
  setsid "$server" --no-defaults "${run_as[@]}" --datadir="$dir/data" \
    --socket="$dir/mysqld.sock" --port="$(port_of "$name")" --bind-address=127.0.0.1 \
    --skip-name-resolve --innodb-buffer-pool-size="${SUGAR_BRIDGE_TEST_SPIDER_BUFFER_POOL:-192M}" --innodb-flush-log-at-trx-commit=2 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci --skip-log-bin \
    --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" "$@" </dev/null >/dev/null 2>&1 &
  started[$name]=$!
}

wait_alive() {  # name [extra server options, to start it again after a crash...]
  local name=$1 attempt
  for attempt in 1 2 3; do
    for _ in $(seq 1 120); do
      alive "$name" && return 0
      # MariaDB 10.11.19 sometimes dies with signal 11 while Spider creates its system tables
      # at start-up (ha_maria::drop_table under spider_init_system_tables, before "ready for
      # connections"): nothing was served yet, so a server that exits while starting is started
      # again, twice.
      if [ -n "${started[$name]:-}" ] && ! kill -0 "${started[$name]}" 2>/dev/null; then
        [ "$attempt" = 3 ] && break 2
        echo "MariaDB ($name) exited while starting (attempt $attempt, see $base/$name/error.log); starting it again" >&2
        start_one "$@"
        continue 2
      fi
      sleep 0.5
    done
    break
  done
  echo "MariaDB ($name) did not start; last lines of $base/$name/error.log:" >&2
  tail -n 20 "$base/$name/error.log" >&2
  exit 1
}

url() {
  echo "mysql+pymysql://$user:$password@127.0.0.1:$port/sugar_bridge_test?charset=utf8mb4&engine=spider"
}

case "${1:-}" in
  start)
    [ -n "$server" ] && [ -n "$client" ] || { echo "mariadb-server is not installed" >&2; exit 1; }
    [ -f "$plugin_dir/ha_spider.so" ] || { echo "mariadb-plugin-spider is not installed" >&2; exit 1; }
    for node in "${nodes[@]}"; do start_one "$node"; done
    start_one head --plugin-load-add=ha_spider
    for node in "${nodes[@]}"; do wait_alive "$node"; done
    wait_alive head --plugin-load-add=ha_spider
    # The nodes: a user the head links with, allowed on every test database (the head creates
    # each test database's node copy first, see etl/spider.py).
    for node in "${nodes[@]}"; do
      sql "$node" <<SQL
CREATE USER IF NOT EXISTS '$node_user'@'127.0.0.1' IDENTIFIED BY '$node_password';
GRANT ALL PRIVILEGES ON \`sugar_bridge%\`.* TO '$node_user'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
    done
    # The head: the data nodes as servers (names spider_node1, spider_node2: what the migrations
    # address), the test user, and the right to run DDL on the nodes through them.
    {
      for node in "${nodes[@]}"; do
        echo "CREATE OR REPLACE SERVER spider_$node FOREIGN DATA WRAPPER mysql OPTIONS"
        echo "  (HOST '127.0.0.1', PORT $(port_of "$node"), USER '$node_user',"
        echo "   PASSWORD '$node_password', DATABASE 'sugar_bridge');"
      done
      cat <<SQL
CREATE DATABASE IF NOT EXISTS sugar_bridge_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`sugar_bridge_test%\`.* TO '$user'@'127.0.0.1';
GRANT SELECT ON mysql.servers TO '$user'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
    } | sql head
    url
    ;;
  url) url ;;
  stop)
    for name in head "${nodes[@]}"; do
      [ -f "$base/$name/mysqld.pid" ] || continue
      pid=$(cat "$base/$name/mysqld.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    done
    ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
