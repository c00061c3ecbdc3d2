#!/usr/bin/env bash
# A real SuiteCRM on this machine, for the live tests (CI) and by hand.
#
#   bash .ci/suitecrm.sh start     install (first time) and start; prints the SUGAR_LIVE_* lines
#   bash .ci/suitecrm.sh env       print the SUGAR_LIVE_* lines of a running instance
#   bash .ci/suitecrm.sh aod on|off   SuiteCRM's AOD search indexing (7.14's default on, 7.15's off)
#   bash .ci/suitecrm.sh extension   (re)install the current extension through the Module Loader
#   bash .ci/suitecrm.sh cron      one run of Sugar's scheduler (cron.php as the web user), what
#                                  the site's crontab does every minute (AOD's index job among them)
#   bash .ci/suitecrm.sh stop      stop Apache and its MariaDB (the files stay for the next start)
#   bash .ci/suitecrm.sh purge     stop and remove everything it made
#
# Installs from the source bundle in ../shared/suitecrm/ (SUGAR_BRIDGE_SUITECRM_BUNDLE to choose
# another), whose MANIFEST.txt gives its provenance and the facts used here: Debian's Apache +
# PHP 8.2, a MariaDB instance of its own (own data dir and port, not the tests' MariaDB), Sugar's
# silent installer, then our extension through Admin → Module Loader as an admin would
# (.ci/module_loader.py). Nothing of SuiteCRM goes into the repository. Exit 3 when the bundle is
# absent (a machine without ../shared): callers skip the live stage.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${SUGAR_BRIDGE_SUITECRM_DIR:-/tmp/sugar-bridge-suitecrm}
port=${SUGAR_BRIDGE_SUITECRM_PORT:-8089}
db_port=${SUGAR_BRIDGE_SUITECRM_DB_PORT:-3308}
bundle=${SUGAR_BRIDGE_SUITECRM_BUNDLE:-$repo/../shared/suitecrm/suitecrm-7.15.0.tar.xz}
root="$base/www"
url="http://127.0.0.1:$port"
python=${PYTHON:-python3}

log() { printf '[suitecrm] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The PHP runtime's packages are listed once, for this script and the image (docker/suitecrm/).
mapfile -t packages < <(grep -v -e '^#' -e '^$' "$repo/docker/suitecrm/packages.txt")
packages+=(mariadb-server mariadb-client)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages (run as root, or install them): ${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

db() { SUGAR_BRIDGE_TEST_MYSQL_DIR="$base/mariadb" SUGAR_BRIDGE_TEST_MYSQL_PORT="$db_port" bash "$repo/.ci/mariadb.sh" "$@"; }
sql() { "$(command -v mariadb || command -v mysql)" --socket="$base/mariadb/mysqld.sock" -uroot "$@"; }

secret() {  # a password kept in $base/secrets (0600), made once
  local name=$1 file="$base/secrets/$1"
  if [ ! -s "$file" ]; then
    (umask 077; mkdir -p "$base/secrets"; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$file")
  fi
  cat "$file"
}

apache_conf() {
  local modules=(mpm_prefork authz_core authz_host authn_core access_compat alias dir mime rewrite env
    setenvif headers expires filter deflate php8.2)
  {
    echo "ServerRoot /etc/apache2"
    echo "ServerName 127.0.0.1"
    echo "PidFile $base/apache/apache.pid"
    echo "Mutex file:$base/apache default"
    echo "Listen 127.0.0.1:$port"
    echo "User www-data"
    echo "Group www-data"
    echo "ErrorLog $base/apache/error.log"
    echo "LogLevel warn"
    for m in "${modules[@]}"; do
      echo "Include /etc/apache2/mods-available/$m.load"
      [ -f "/etc/apache2/mods-available/$m.conf" ] && echo "Include /etc/apache2/mods-available/$m.conf"
    done
    cat <<CONF
TypesConfig /etc/mime.types
LogFormat "%h %t \"%r\" %>s %b %D" timed
CustomLog $base/apache/access.log timed
DocumentRoot $root
DirectoryIndex index.php index.html
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory $root>
  Options FollowSymLinks
  AllowOverride All
  Require all granted
</Directory>
# MANIFEST.txt's PHP settings (docker/suitecrm/php.ini, shared with the image), for this site only
$(sed -n 's/^\([a-z_.]*\) *= *\(.*\)$/php_admin_value \1 \2/p' "$repo/docker/suitecrm/php.ini")
php_admin_value error_log $base/apache/php-error.log
php_admin_value session.save_path $base/php-sessions
CONF
  } >"$base/apache/httpd.conf"
}

apache() { APACHE_LOG_DIR="$base/apache" apache2 -f "$base/apache/httpd.conf" -k "$1"; }
apache_alive() { [ -f "$base/apache/apache.pid" ] && kill -0 "$(cat "$base/apache/apache.pid")" 2>/dev/null; }

start_apache() {
  mkdir -p "$base/apache" "$base/php-sessions"
  chown www-data:www-data "$base/php-sessions"
  apache_conf
  apache_alive || apache start
  for _ in $(seq 1 60); do curl -fsS -o /dev/null "$url/robots.txt" 2>/dev/null && return 0; sleep 0.5; done
  tail -n 20 "$base/apache/error.log" >&2 || true
  die "Apache did not answer on $url"
}

unpack() {
  [ -f "$bundle" ] || { log "no SuiteCRM bundle at $bundle: nothing to install (skipped)"; exit 3; }
  local manifest expected actual
  manifest="$(dirname "$bundle")/MANIFEST.txt"
  if [ -f "$manifest" ]; then
    expected=$(sed -n 's/^sha256: *\([0-9a-f]\{64\}\).*/\1/p' "$manifest" | head -n 1)
    actual=$(sha256sum "$bundle" | cut -d' ' -f1)
    [ -z "$expected" ] || [ "$expected" = "$actual" ] || die "$bundle: sha256 $actual, MANIFEST.txt says $expected"
  fi
  log "unpacking $(basename "$bundle")"
  rm -rf "$root" "$base/unpack"
  mkdir -p "$base/unpack"
  tar -xJf "$bundle" -C "$base/unpack"
  mv "$base/unpack"/*/ "$root"
  rmdir "$base/unpack"
  chown -R www-data:www-data "$root"
}

silent_install() {
  local db_pw admin_pw
  db_pw=$(secret db)
  admin_pw=$(secret admin)
  sql <<SQL
CREATE DATABASE IF NOT EXISTS suitecrm CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
CREATE USER IF NOT EXISTS 'suitecrm'@'127.0.0.1' IDENTIFIED BY '$db_pw';
GRANT ALL PRIVILEGES ON suitecrm.* TO 'suitecrm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
  # The silent installer's config_si.php: one template for this script and the image.
  SUITECRM_SITE_URL="$url" SUITECRM_SYSTEM_NAME="sugar-bridge CI" \
    SUITECRM_DATABASE_HOST=127.0.0.1 SUITECRM_DATABASE_PORT="$db_port" \
    SUITECRM_DATABASE_NAME=suitecrm SUITECRM_DATABASE_USER=suitecrm SUITECRM_DATABASE_PASSWORD="$db_pw" \
    SUITECRM_USERNAME=admin SUITECRM_PASSWORD="$admin_pw" \
    php "$repo/docker/suitecrm/config_si.php" >"$root/config_si.php"
  chown www-data:www-data "$root/config_si.php"
  chmod 0640 "$root/config_si.php"
  log "running the silent installer"
  local out="$base/install.html"
  curl -sS --max-time 900 -o "$out" "$url/install.php?goto=SilentInstall&cli=true" || true
  grep -q '<bottle>Success!</bottle>' "$out" || { tail -c 2000 "$out" >&2; die "the silent installer did not report success ($out)"; }
  rm -f "$root/config_si.php"   # it holds the passwords; config.php now has what Sugar needs
}

set_aod() {  # on|off → $sugar_config['aod']['enable_aod'] in config_override.php
  local value
  case "$1" in on) value=true ;; off) value=false ;; *) die "aod: on or off" ;; esac
  local file="$root/config_override.php"
  [ -f "$file" ] || printf '<?php\n' >"$file"
  sed -i '/\[.aod.\]\[.enable_aod.\]/d' "$file"
  printf "\$sugar_config['aod']['enable_aod'] = %s;\n" "$value" >>"$file"
  chown www-data:www-data "$file"
  log "AOD search indexing $1"
}

install_extension() {
  local out="$base/extension"
  rm -rf "$out"; mkdir -p "$out"
  (cd "$repo" && "$python" -c 'from sugar_bridge.cli.app import main; main()' extension build --out "$out" >&2)
  local zip
  zip=$(ls "$out"/*.zip)
  log "installing $(basename "$zip") through Admin → Module Loader"
  "$python" "$repo/.ci/module_loader.py" --url "$url" --user admin --password-file "$base/secrets/admin" "$zip" >&2
}

print_env() {
  echo "SUGAR_LIVE_URL=$url"
  echo "SUGAR_LIVE_USERNAME=admin"
  echo "SUGAR_LIVE_PASSWORD=$(cat "$base/secrets/admin")"
  echo "SUGAR_LIVE_SUITECRM_ROOT=$root"
}

case "${1:-}" in
  start)
    [ -f "$root/config.php" ] || [ -f "$bundle" ] || { log "no SuiteCRM bundle at $bundle: skipped"; exit 3; }
    install_packages
    mkdir -p "$base"
    db start >/dev/null
    if [ ! -f "$root/config.php" ]; then
      unpack
      start_apache
      silent_install
      set_aod "${SUGAR_BRIDGE_SUITECRM_AOD:-off}"
      install_extension
      touch "$base/installed"
    else
      start_apache
    fi
    print_env | tee "$base/live.env" >/dev/null
    chmod 600 "$base/live.env"
    print_env
    ;;
  env) print_env ;;
  aod) set_aod "${2:-}" ;;
  extension) install_extension ;;
  cron)
    # What Sugar's documented crontab line runs; the scheduler runs the jobs that are due.
    (cd "$root" && runuser -u www-data -- php -f cron.php >/dev/null)
    ;;
  stop)
    apache_alive && apache stop || true
    db stop || true
    ;;
  purge)
    [ -d "$base" ] || exit 0
    # only a folder this script made (it holds its secrets/ or apache/), never whatever the
    # variable happens to name
    [ -d "$base/secrets" ] || [ -d "$base/apache" ] || die "$base was not made by this script: not removed"
    apache_alive && apache stop || true
    db stop || true
    rm -rf "$base"
    ;;
  *) echo "usage: $0 start|env|aod on|off|extension|cron|stop|purge" >&2; exit 2 ;;
esac
