#!/bin/sh
# The bridge container's entrypoint.
#
# First start (no marker in the data volume): wait for Sugar and the bridge's server extension,
# provision Sugar from the config, load the demo order history (SUGAR_BRIDGE_DEMO_ORDERS=1), run
# one sync. Every start then runs the scheduler in the foreground (exec: it receives SIGTERM).
# Any other command is run as given: `docker-compose run --rm bridge sugar-bridge status`.
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

data="${SUGAR_BRIDGE_DATA_DIR:-/app/data}"
marker="$data/.first-start-done"
log() { printf '{"time": "%s", "level": "INFO", "logger": "entrypoint", "message": "%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1"; }

if [ ! -f "$marker" ]; then
    wait_s="${SUGAR_BRIDGE_WAIT_SECONDS:-900}"
    log "first start: waiting up to ${wait_s}s for Sugar and the bridge extension"
    start=$(date +%s)
    # extension check = bridge_info as admin: Sugar answers, logs us in, and runs our extension.
    until sugar-bridge extension check >/dev/null 2>&1; do
        if [ $(( $(date +%s) - start )) -ge "$wait_s" ]; then
            log "Sugar or its bridge extension did not answer in ${wait_s}s"
            sugar-bridge extension check  # print the reason
            exit 1
        fi
        sleep 10
    done
    log "Sugar is up: provisioning it from $SUGAR_BRIDGE_CONFIG"
    sugar-bridge db upgrade
    sugar-bridge provision apply --yes
    if [ "${SUGAR_BRIDGE_DEMO_ORDERS:-1}" = "1" ]; then
        log "loading the demo order history into $data/orders"
        sugar-bridge demo --orders-only "$data/orders/demo-orders.csv"
    fi
    log "first sync"
    rc=0
    sugar-bridge sync || rc=$?
    # 3 = completed with rejected rows or failed pushes (retried by the next run): not fatal.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
        log "the first sync failed (exit $rc); the scheduler starts anyway and retries tonight"
    fi
    touch "$marker"
fi

log "starting the scheduler"
exec sugar-bridge scheduler start
