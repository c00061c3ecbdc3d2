#!/usr/bin/env bash
# The Dockerised stack (docker/docker-compose.yml) really started, with podman, and checked end
# to end. CI's "docker stack" stage; by hand the same way (Debian 12, root):
#
#   bash .ci/stack.sh run       all of it: prepare, images, up, check, then down (exit 0 = passed)
#   bash .ci/stack.sh prepare   Debian's podman + runc + docker-compose + debootstrap, containers.conf,
#                               `podman system service` on a socket of its own (DOCKER_HOST)
#   bash .ci/stack.sh bases     the Debian base (debootstrap, imported) and the stand-ins for the
#                               official mariadb and python images (then docker-compose as usual)
#   bash .ci/stack.sh images    bases, then the stack's own two images
#   bash .ci/stack.sh up        docker-compose up -d, health checks driven, until all are healthy
#   bash .ci/stack.sh check     provisioned user via v4_1, synced segment on Sugar's Account page,
#                               Sugar's cron and the bridge's scheduler running
#   bash .ci/stack.sh down      docker-compose down -v, the images made here removed, service stopped
#
# No image registry is reachable here, but Debian's mirror and PyPI are. So the official base
# images are replaced by local stand-ins (.ci/images/) tagged with the official names
# (debian:bookworm-slim, python:3.11-slim, mariadb:10.11): the compose file and Dockerfiles are
# exactly what users with a registry run. Nothing is cached across runs: every image is built
# with --no-cache from a fresh debootstrap, and `down` removes what was built, so leftovers of an
# earlier run are never used. podman runs as root with runc (crun fails here: cgroups v1/hybrid,
# RLIMIT_NOFILE above the hard limit); without systemd nothing runs health checks, so this script
# runs `podman healthcheck run` in a loop (docker-compose's `service_healthy` waits on them).
# Ports on the host: Sugar 127.0.0.1:8180, MariaDB 127.0.0.1:3390 (SUGAR_BRIDGE_STACK_HTTP_PORT,
# SUGAR_BRIDGE_STACK_DB_PORT). SUGAR_BRIDGE_STACK_CACHE=1 (by hand, when working on the stack;
# never in CI) reuses podman's build cache and existing stand-ins, and keeps the images at `down`.
# The SuiteCRM archive is ../shared/suitecrm/suitecrm-7.15.0.tar.xz
# (SUGAR_BRIDGE_SUITECRM_BUNDLE), its sha256 from MANIFEST.txt there; exit 3 when it is absent.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${SUGAR_BRIDGE_STACK_DIR:-/tmp/sugar-bridge-stack}
http_port=${SUGAR_BRIDGE_STACK_HTTP_PORT:-8180}
db_port=${SUGAR_BRIDGE_STACK_DB_PORT:-3390}
bundle=${SUGAR_BRIDGE_SUITECRM_BUNDLE:-$repo/../shared/suitecrm/suitecrm-7.15.0.tar.xz}
project=sugar-bridge-stack
sock="$work/podman.sock"
export DOCKER_HOST="unix://$sock"
export COMPOSE_PROJECT_NAME=$project COMPOSE_HTTP_TIMEOUT=600 DEBIAN_FRONTEND=noninteractive
# docker-compose builds through its own client (docker-py), not a docker CLI that may be on PATH.
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0
python=${PYTHON:-python3}
cache=${SUGAR_BRIDGE_STACK_CACHE:-0}
no_cache=--no-cache
[ "$cache" = 1 ] && no_cache=

base_images=(docker.io/library/debian:bookworm-slim docker.io/library/python:3.11-slim
  docker.io/library/mariadb:10.11)
suitecrm_image=localhost/sugar-bridge-suitecrm:ci
bridge_image=localhost/sugar-bridge:ci

log() { printf '[stack %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }
compose() { docker-compose -f "$repo/docker/docker-compose.yml" --env-file "$work/stack.env" "$@"; }
timed() {  # timed LABEL command...: runs it, logs how long it took
  local label=$1 t0=$SECONDS
  shift
  "$@"
  log "$label: $((SECONDS - t0))s"
}

prepare() {
  local missing=()
  # iptables: netavark sets up container networks with it (Debian does not pull it in)
  for p in podman runc docker-compose debootstrap netavark aardvark-dns uidmap iptables; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # runc, cgroupfs, events to a file (no systemd); ulimits below the hard ones (runc cannot
  # raise a limit without CAP_SYS_RESOURCE, and fails at the hard value itself here).
  local nofile=$(( $(ulimit -Hn) / 2 )) nproc=$(( $(ulimit -Hu) / 2 ))
  [ "$nproc" -le 16384 ] || nproc=16384
  mkdir -p /etc/containers
  cat >/etc/containers/containers.conf <<CONF
# Written by sugar-bridge's .ci/stack.sh: podman as root with runc, no systemd.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  mkdir -p "$work"
  if ! curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    rm -f "$sock"
    setsid podman system service --time=0 "unix://$sock" </dev/null >"$work/podman-service.log" 2>&1 &
    echo $! >"$work/podman-service.pid"
    for _ in $(seq 1 50); do curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.2; done
    curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null || die "podman system service did not start"
  fi
  log "podman $(podman version --format '{{.Client.Version}}') ($(podman info --format '{{.Host.OCIRuntime.Name}}, {{.Host.NetworkBackend}}')), docker-compose $(docker-compose version --short), DOCKER_HOST=$DOCKER_HOST"
}

write_env() {  # the stack's docker/.env for this run: fresh random passwords, our ports
  local expected
  expected=$(sed -n 's/^sha256: *\([0-9a-f]\{64\}\).*/\1/p' "$(dirname "$bundle")/MANIFEST.txt" | head -n 1)
  [ -n "$expected" ] || die "no sha256 in $(dirname "$bundle")/MANIFEST.txt"
  pw() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }
  (umask 077; mkdir -p "$work"; {
    sed -e '/^#/d' -e '/^$/d' "$repo/docker/env.example" |
      grep -v -E '^(MARIADB_ROOT_PASSWORD|SUITECRM_DATABASE_PASSWORD|WAREHOUSE_PASSWORD|ANALYST_PASSWORD|SUITECRM_PASSWORD|SUITECRM_SHA256|SUITECRM_ARCHIVE|SUITECRM_SITE_URL|SUITECRM_HTTP_PORT|MARIADB_HOST_PORT|SUITECRM_IMAGE|BRIDGE_IMAGE|SUGAR_BRIDGE_TIMEZONE)='
    echo "MARIADB_ROOT_PASSWORD=$(pw)"
    echo "SUITECRM_DATABASE_PASSWORD=$(pw)"
    echo "WAREHOUSE_PASSWORD=$(pw)"
    echo "ANALYST_PASSWORD=$(pw)"
    echo "SUITECRM_PASSWORD=$(pw)"
    echo "SUITECRM_SHA256=$expected"
    echo "SUITECRM_ARCHIVE=$(basename "$bundle")"
    echo "SUITECRM_SITE_URL=http://127.0.0.1:$http_port"
    echo "SUITECRM_HTTP_PORT=$http_port"
    echo "MARIADB_HOST_PORT=$db_port"
    echo "SUITECRM_IMAGE=$suitecrm_image"
    echo "BRIDGE_IMAGE=$bridge_image"
    echo "SUGAR_BRIDGE_TIMEZONE=UTC"
  } >"$work/stack.env")
}

debian_base() {  # debian:bookworm-slim stand-in: debootstrap minbase, this machine's CA certificates
  local rootfs="$work/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  # HTTPS from builds (pip) needs this machine's CAs; in /usr/local/share so that
  # update-ca-certificates (run by any later install of ca-certificates) keeps them.
  mkdir -p "$rootfs/usr/local/share/ca-certificates" "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/local/share/ca-certificates/ci-machine.crt"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  tar -C "$rootfs" -c . | podman import -q --change 'CMD ["bash"]' - docker.io/library/debian:bookworm-slim >/dev/null
  rm -rf "$rootfs"
}

stand_in() {  # stand_in NAME TAG: .ci/images/NAME built and tagged with the official name
  [ "$cache" = 1 ] && podman image exists "$2" && return 0
  podman build -q $no_cache --build-arg DEBIAN_FRONTEND=noninteractive -t "$2" \
    "$repo/.ci/images/$1" >"$work/build-$1.log" 2>&1 || { tail -n 30 "$work/build-$1.log" >&2; die "stand-in $1 failed"; }
}

build() {  # build SERVICE: docker-compose builds it (through podman's Docker API)
  compose build $no_cache "$1" >"$work/build-$1.log" 2>&1 ||
    { tail -n 30 "$work/build-$1.log" >&2; die "building the $1 image failed"; }
}

bases() {
  # What exists before: `down` removes every image made after this (and nothing else).
  [ -f "$work/images-before" ] || podman images -qa --no-trunc | sort -u >"$work/images-before"
  if [ "$cache" = 1 ] && podman image exists docker.io/library/debian:bookworm-slim; then :; else
    timed "debian:bookworm-slim stand-in (debootstrap + import)" debian_base
  fi
  timed "python:3.11-slim stand-in" stand_in python docker.io/library/python:3.11-slim
  timed "mariadb:10.11 stand-in" stand_in mariadb docker.io/library/mariadb:10.11
}

images() {
  [ -f "$bundle" ] || { log "no SuiteCRM archive at $bundle: the stack cannot be built here (skipped)"; exit 3; }
  write_env
  bases
  # The archive goes into the build context (docker/suitecrm/archive/, git-ignored).
  cp "$bundle" "$repo/docker/suitecrm/archive/"
  timed "suitecrm image (docker/suitecrm/Dockerfile)" build suitecrm
  rm -f "$repo/docker/suitecrm/archive/$(basename "$bundle")"
  timed "bridge image (docker/Dockerfile)" build bridge
  podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
    grep -E "mariadb:10.11|python:3.11-slim|debian:bookworm-slim|sugar-bridge" | sed 's/^/  /' >&2
}

container_ids() { podman ps -q --filter "label=com.docker.compose.project=$project"; }

health_driver() {  # what systemd timers would do: run every container's health check
  while :; do
    for id in $(container_ids); do
      podman healthcheck run "$id" >/dev/null 2>&1 || true
    done
    sleep 5
  done
}

status_of() {  # status_of SERVICE: its container's health (starting/healthy/unhealthy) or state
  local id
  id=$(podman ps -aq --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1" | head -n 1)
  [ -n "$id" ] || { echo absent; return; }
  podman inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}

wait_healthy() {  # wait_healthy SERVICE SECONDS
  local service=$1 limit=$2 t0=$SECONDS s
  while :; do
    s=$(status_of "$service")
    [ "$s" = healthy ] && { log "$service healthy after $((SECONDS - t0))s"; return 0; }
    if [ "$s" = unhealthy ] || [ "$s" = exited ] || [ $((SECONDS - t0)) -ge "$limit" ]; then
      log "$service is $s after $((SECONDS - t0))s; its last log lines:"
      compose logs --tail=40 "$service" >&2 || true
      return 1
    fi
    sleep 5
  done
}

up() {
  [ -f "$work/stack.env" ] || write_env
  health_driver &
  echo $! >"$work/health-driver.pid"
  # up -d itself waits for `service_healthy` of the dependencies, i.e. for the driver above.
  timed "docker-compose up -d" compose up -d --no-build >&2
  wait_healthy mariadb 300
  wait_healthy suitecrm 900
  # Sugar runs AOD's index job at 00:00 only: for this check, every minute, so that the check
  # can see Sugar's cron (in the container) run it. The only change made to Sugar's settings.
  sugar_sql "UPDATE schedulers SET job_interval = '*::*::*::*::*' WHERE job = 'function::aodIndexUnindexed'"
  # The bridge's first start: extension check, db upgrade, provision, demo orders, one sync,
  # then the scheduler (its health: a heartbeat in the warehouse).
  wait_healthy bridge 900
}

sugar_sql() {  # sugar_sql QUERY: in Sugar's database, as MariaDB's root (inside its container)
  local root_pw
  root_pw=$(sed -n 's/^MARIADB_ROOT_PASSWORD=//p' "$work/stack.env")
  compose exec -T -e MYSQL_PWD="$root_pw" mariadb mariadb -uroot -N -B suitecrm -e "$1"
}

check() {
  log "checks: provisioned user, synced segment on the Account page, Sugar's cron, the scheduler, a new SuiteCRM container on the same volumes"
  local admin_pw passwords
  admin_pw=$(sed -n 's/^SUITECRM_PASSWORD=//p' "$work/stack.env")
  # The provisioned users' generated passwords: the 0600 file the bridge wrote in its volume.
  passwords=$(compose exec -T bridge sh -c 'cat /app/data/provision-passwords-*.tsv')
  SUGAR_URL="http://127.0.0.1:$http_port" SUGAR_ADMIN_PASSWORD="$admin_pw" \
    PROVISIONED_PASSWORDS="$passwords" "$python" "$repo/.ci/stack_check.py"
  # Sugar's cron: cron.php ran its scheduler jobs (job_queue rows done), AOD's index job included.
  local jobs t0=$SECONDS
  while :; do
    jobs=$(sugar_sql "SELECT name, COUNT(*) FROM job_queue WHERE status = 'done' AND deleted = 0 GROUP BY name")
    grep -q 'Perform Lucene Index' <<<"$jobs" && break
    [ $((SECONDS - t0)) -lt 150 ] || break
    sleep 10
  done
  printf '%s\n' "$jobs" | sed 's/^/  job done: /' >&2
  grep -q . <<<"$jobs" || die "Sugar's cron has run no scheduler job"
  grep -q 'Perform Lucene Index' <<<"$jobs" || die "Sugar's cron has not run the AOD index job"
  compose exec -T bridge sugar-bridge scheduler next --require-running >&2 ||
    die "the bridge's scheduler is not running"
  # What Sugar keeps is on volumes: a new SuiteCRM container (same volumes) must find itself
  # installed, answer its health check again and still show the synced account's segment.
  log "recreating the suitecrm container on its volumes"
  compose up -d --no-deps --force-recreate suitecrm >&2
  sleep 5
  wait_healthy suitecrm 300
  # Read the whole log first: `compose logs | grep -q` under pipefail fails whenever grep's early
  # exit cuts the pipe while compose is still writing (SIGPIPE), found or not.
  local logs
  logs=$(compose logs --no-color suitecrm 2>&1 || true)
  grep -q 'installed before' <<<"$logs" ||
    die "the new suitecrm container did not find its installation on the volumes"
  SUGAR_URL="http://127.0.0.1:$http_port" SUGAR_ADMIN_PASSWORD="$admin_pw" \
    PROVISIONED_PASSWORDS="$passwords" "$python" "$repo/.ci/stack_check.py"
  log "all checks passed"
}

down() {
  if [ -f "$work/health-driver.pid" ]; then
    kill "$(cat "$work/health-driver.pid")" 2>/dev/null || true
    rm -f "$work/health-driver.pid"
  fi
  if [ -f "$work/stack.env" ] && curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    compose down -v --remove-orphans >&2 || true
  fi
  rm -f "$repo/docker/suitecrm/archive/$(basename "$bundle")"
  if [ "$cache" != 1 ] && [ -f "$work/images-before" ]; then
    podman rmi -f "$suitecrm_image" "$bridge_image" "${base_images[@]}" >/dev/null 2>&1 || true
    podman images -qa --no-trunc | sort -u | comm -13 "$work/images-before" - |
      xargs -r podman rmi -f >/dev/null 2>&1 || true
    rm -f "$work/images-before"
  fi
  if [ -f "$work/podman-service.pid" ]; then
    kill "$(cat "$work/podman-service.pid")" 2>/dev/null || true
    rm -f "$work/podman-service.pid" "$sock"
  fi
  rm -f "$work/stack.env"
}

case "${1:-}" in
  prepare) prepare ;;
  bases) prepare; bases ;;
  images) prepare; images ;;
  up) prepare; up ;;
  check) check ;;
  down) down ;;
  run)
    [ -f "$bundle" ] || { log "no SuiteCRM archive at $bundle: the stack is not started (skipped)"; exit 3; }
    trap down EXIT
    timed "prepare" prepare
    timed "cleanup of an earlier run" down   # leftovers of an interrupted run: never used
    prepare
    timed "images" images
    timed "up until healthy" up
    timed "checks" check
    ;;
  *) echo "usage: $0 run|prepare|bases|images|up|check|down" >&2; exit 2 ;;
esac
