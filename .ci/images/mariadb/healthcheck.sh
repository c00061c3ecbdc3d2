#!/bin/bash
# healthcheck.sh of the CI stand-in for the official mariadb image: --connect (a TCP connection
# is accepted) and --innodb_initialized (InnoDB is up), the two tests docker-compose.yml asks for.
set -euo pipefail
client=(mariadb --defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf -h127.0.0.1 -P3306 -N -B)
for test in "$@"; do
    case "$test" in
        --connect) "${client[@]}" -e 'SELECT 1' >/dev/null ;;
        --innodb_initialized)
            [ "$("${client[@]}" -e "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT')")" = 1 ] ;;
        *) echo "healthcheck.sh (stand-in): unknown test $test" >&2; exit 2 ;;
    esac
done
