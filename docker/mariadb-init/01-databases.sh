#!/bin/bash
# First start of the MariaDB volume only (docker-entrypoint-initdb.d): Sugar's schema and user, the
# warehouse schema with the bridge's user (owner) and the analysts' user (read-only).
# Shell rather than .sql so that the passwords come from the environment (docker/.env), not a file.
set -euo pipefail

sql_string() { printf "'%s'" "${1//\'/\'\'}"; }

mariadb -uroot -p"${MARIADB_ROOT_PASSWORD}" <<SQL
CREATE DATABASE IF NOT EXISTS \`${SUITECRM_DATABASE_NAME}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${SUITECRM_DATABASE_USER}'@'%' IDENTIFIED BY $(sql_string "${SUITECRM_DATABASE_PASSWORD}");
GRANT ALL PRIVILEGES ON \`${SUITECRM_DATABASE_NAME}\`.* TO '${SUITECRM_DATABASE_USER}'@'%';

CREATE DATABASE IF NOT EXISTS \`${WAREHOUSE_DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${WAREHOUSE_USER}'@'%' IDENTIFIED BY $(sql_string "${WAREHOUSE_PASSWORD}");
GRANT ALL PRIVILEGES ON \`${WAREHOUSE_DATABASE}\`.* TO '${WAREHOUSE_USER}'@'%';

-- Analysts: read the star schema and the documented views, change nothing.
CREATE USER IF NOT EXISTS '${ANALYST_USER}'@'%' IDENTIFIED BY $(sql_string "${ANALYST_PASSWORD}");
GRANT SELECT, SHOW VIEW ON \`${WAREHOUSE_DATABASE}\`.* TO '${ANALYST_USER}'@'%';
FLUSH PRIVILEGES;
SQL
