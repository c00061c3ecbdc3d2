#!/bin/sh
# The SuiteCRM container's entrypoint (PID 1 is tini, which reaps and forwards signals).
#
# Code comes from the image (/var/www/suitecrm); what Sugar writes and must keep lives in two
# volumes: /var/lib/suitecrm with config/ (config.php, config_override.php, .htaccess, symlinked
# into the root), upload/ and aod-index/ (the root's upload and modules/AOD_Index/Index are
# symlinks to them), and /var/www/suitecrm/custom itself (Studio's and the extensions' files).
#
# Every start: seed the volume's upload/ and custom/ from the image when empty, put the
# sugar-bridge extension of the image into custom/service/bridge (image and extension versions
# never drift). First start (no config.php in the volume): wait for the database, run Sugar's
# silent installer (config_si.php from SUITECRM_* variables, docker/suitecrm/config_si.php),
# move what it wrote into the volume. Then Sugar's cron (cron.php every minute, as www-data, in
# the background) and Apache in the foreground.
set -eu

root=/var/www/suitecrm
state=/var/lib/suitecrm
seed=/usr/local/share/suitecrm
persisted="config.php config_override.php .htaccess"

log() { printf '[suitecrm] %s\n' "$*" >&2; }

as_www() { setpriv --reuid=www-data --regid=www-data --init-groups -- "$@"; }

prepare_volume() {
    mkdir -p "$state/config" "$state/upload" "$state/aod-index"
    [ -n "$(ls -A "$state/upload")" ] || cp -a "$seed/upload/." "$state/upload/"
    [ -n "$(ls -A "$root/custom")" ] || cp -a "$seed/custom/." "$root/custom/"
    mkdir -p "$root/custom/service/bridge"
    cp "$seed/extension/custom/service/bridge/"*.php "$root/custom/service/bridge/"
    # not -R over upload/: it can be large, and what Apache wrote there is www-data's already
    chown www-data:www-data "$state" "$state/config" "$state/upload" "$state/aod-index" "$root/custom"
    chown -R www-data:www-data "$root/custom/service"
}

link_config() {  # the volume's config files appear in Sugar's root
    for f in $persisted; do
        [ -e "$state/config/$f" ] || continue
        rm -f "$root/$f"
        ln -s "$state/config/$f" "$root/$f"
    done
}

apache_start() { apache2ctl start; }
apache_stop() {
    apache2ctl stop || true
    i=0; while [ -f /var/run/apache2/apache2.pid ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
}

wait_for_database() {
    wait_s=${SUITECRM_DATABASE_WAIT_SECONDS:-300}
    start=$(date +%s)
    until php -r '
        mysqli_report(MYSQLI_REPORT_OFF);
        $c = @mysqli_connect(getenv("SUITECRM_DATABASE_HOST"), getenv("SUITECRM_DATABASE_USER"),
            getenv("SUITECRM_DATABASE_PASSWORD"), getenv("SUITECRM_DATABASE_NAME"),
            (int) (getenv("SUITECRM_DATABASE_PORT") ?: 3306));
        exit($c ? 0 : 1);'; do
        [ $(( $(date +%s) - start )) -lt "$wait_s" ] || { log "the database did not answer in ${wait_s}s"; exit 1; }
        sleep 3
    done
}

set_aod() {  # SUITECRM_AOD=on|off: AOD search indexing (a new 7.15 site has it off)
    case "${SUITECRM_AOD:-}" in
        on) value=true ;; off) value=false ;; "") return 0 ;;
        *) log "SUITECRM_AOD: on or off, not ${SUITECRM_AOD}"; exit 1 ;;
    esac
    file="$state/config/config_override.php"
    sed -i '/\[.aod.\]\[.enable_aod.\]/d' "$file"
    printf "\$sugar_config['aod']['enable_aod'] = %s;\n" "$value" >>"$file"
}

install() {
    log "first start: waiting for the database at ${SUITECRM_DATABASE_HOST}:${SUITECRM_DATABASE_PORT:-3306}"
    wait_for_database
    php /usr/local/share/suitecrm/config_si.php >"$root/config_si.php"
    chown www-data:www-data "$root/config_si.php"
    chmod 0640 "$root/config_si.php"
    log "running Sugar's silent installer"
    apache_start
    out=/tmp/silent-install.html
    curl -sS --max-time 900 -o "$out" "http://127.0.0.1/install.php?goto=SilentInstall&cli=true" || true
    apache_stop
    rm -f "$root/config_si.php"  # it holds the passwords; config.php has what Sugar needs
    if ! grep -q '<bottle>Success!</bottle>' "$out"; then
        tail -c 2000 "$out" >&2
        log "the silent installer did not report success"
        exit 1
    fi
    [ -f "$root/config_override.php" ] || printf '<?php\n' >"$root/config_override.php"
    for f in $persisted; do
        [ -f "$root/$f" ] && [ ! -L "$root/$f" ] && mv "$root/$f" "$state/config/$f"
    done
    chown -R www-data:www-data "$state/config"
    log "installed; config.php, config_override.php and .htaccess kept in $state/config"
}

cron_loop() {  # cron.php once a minute, as the web server's user (Sugar refuses root)
    while :; do
        as_www php -f "$root/cron.php" >/dev/null 2>>/tmp/cron.log || log "cron.php failed (exit $?)"
        date +%s >/tmp/cron.last
        sleep $((60 - $(date +%S | sed 's/^0//')))
    done
}

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

prepare_volume
if [ ! -f "$state/config/config.php" ]; then
    install
else
    log "installed before (config.php in $state/config)"
fi
link_config
[ -e "$state/config/config_override.php" ] || { printf '<?php\n' >"$state/config/config_override.php"; link_config; }
set_aod
chown -R www-data:www-data "$state/config"
rm -f /var/run/apache2/apache2.pid
cron_loop &
log "Sugar's cron runs every minute; Apache in the foreground"
exec apache2ctl -D FOREGROUND
