#!/bin/bash
# Entrypoint of the CI stand-in for the official mariadb image (see Dockerfile): the subset of
# its behaviour docker/docker-compose.yml relies on.
set -euo pipefail
datadir=/var/lib/mysql
sock=/run/mysqld/mysqld.sock

[ "${1:0:1}" = - ] && set -- mariadbd "$@"
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then
    exec "$@"
fi

sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$datadir"
if [ ! -d "$datadir/mysql" ]; then
    : "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD is required on the first start}"
    echo "[entrypoint] initialising $datadir" >&2
    mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=normal \
        --skip-test-db >/dev/null
    "$@" --user=mysql --datadir="$datadir" --skip-networking --socket="$sock" &
    pid=$!
    for _ in $(seq 1 60); do mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1 && break; sleep 1; done
    health_pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    mariadb --socket="$sock" -uroot <<SQL
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost'));
ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$MARIADB_ROOT_PASSWORD");
CREATE USER 'root'@'%' IDENTIFIED BY $(sql_string "$MARIADB_ROOT_PASSWORD");
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$health_pw';
CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY '$health_pw';
FLUSH PRIVILEGES;
SQL
    printf '[mariadb-client]\nuser=healthcheck\npassword=%s\n' "$health_pw" >"$datadir/.my-healthcheck.cnf"
    chown mysql:mysql "$datadir/.my-healthcheck.cnf"
    chmod 0600 "$datadir/.my-healthcheck.cnf"
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "[entrypoint] running $f" >&2; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
            *.sql) echo "[entrypoint] running $f" >&2; mariadb --socket="$sock" -uroot -p"$MARIADB_ROOT_PASSWORD" <"$f" ;;
        esac
    done
    kill "$pid"
    wait "$pid" || true
    echo "[entrypoint] initialised" >&2
fi
exec "$@" --user=mysql --datadir="$datadir" --socket="$sock" --bind-address=0.0.0.0 --port=3306
