#!/usr/bin/env bash
# make compose-test: runs deployments/docker-compose.yml for real, without an
# image registry, and checks that no settlement is lost across a restart of
# the worker containers.
#
#  1. installs docker.io, docker-compose, debootstrap from Debian if missing
#     (scripts/install-deps.sh);
#  2. uses the Docker engine DOCKER_HOST (or the default socket) reaches, or
#     starts a scratch dockerd (data in .tmp/compose/docker, no iptables
#     changes, no default bridge) and stops it at the end;
#  3. images: settlement-base:bookworm from debootstrap --variant=minbase
#     (kept in the engine's data root, so later runs skip it);
#     settlement/rabbitmq:debian and settlement/postgres:debian from Debian's
#     packages (deployments/debian/Dockerfile); the worker and the sandbox by
#     deployments/Dockerfile with BINARIES=prebuilt (static binaries built
#     here with CGO_ENABLED=0) on RUNTIME_IMAGE=settlement-base:bookworm;
#  4. docker-compose up -d (docker-compose.yml + docker-compose.debian.yml +
#     docker-compose.test.yml), waits until every service is healthy, checks
#     the published metrics ports;
#  5. cmd/compose-check publishes the seed's example Radial requests, restarts
#     the worker containers half-way, and checks every request got exactly one
#     status event;
#  6. docker-compose down -v (always), and the scratch engine is stopped.
#
# Where no Docker engine can run it says so and exits 1 under CI=true, 0
# (skipped) otherwise.
#
# Settings (environment): COMPOSE_TEST_N (requests, default 200),
# COMPOSE_TEST_AMQP_PORT (5692), RABBITMQ_MANAGEMENT_HOST_PORT (15692),
# WORKER_HTTP_HOST_PORTS (19191-19192), COMPOSE_TEST_DOCKER_DIR (the scratch
# engine's dir, default .tmp/compose/docker), DEBIAN_MIRROR
# (http://deb.debian.org/debian), COMPOSE_TEST_TIMEOUT (for the status
# events, 5m), COMPOSE_TEST_EXTRA_FILES (more compose files, e.g. one setting
# LOG_LEVEL: debug), COMPOSE_TEST_KEEP=1 (leave it running).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORK=$ROOT/.tmp/compose
mkdir -p "$WORK"
T0=$SECONDS

log() { echo "== compose-test [$((SECONDS - T0))s]: $*"; }
unavailable() {
  echo "compose-test: no Docker engine can run here: $*" >&2
  if [[ ${CI:-} == true ]]; then
    echo "compose-test: FAILED (CI=true requires it)" >&2
    exit 1
  fi
  echo "compose-test: SKIPPED (CI=true makes this a failure)" >&2
  exit 0
}

# ---- 1. packages
scripts/install-deps.sh docker debootstrap curl ||
  unavailable "docker.io, docker-compose and debootstrap are missing and cannot be installed (see above)"

# Debian's docker client matches its engine and builds with BuildKit
# without the buildx plugin; another docker on PATH may be a lone client.
DOCKER=docker
[[ -x /usr/bin/docker ]] && DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1

# ---- 2. engine
DOCKER_DIR=${COMPOSE_TEST_DOCKER_DIR:-$WORK/docker}
started_engine=
dockerd_pid=
stop_engine() {
  [[ -n $started_engine ]] || return 0
  log "stopping the scratch dockerd ($dockerd_pid)"
  kill -TERM "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -0 "$dockerd_pid" 2>/dev/null && kill -KILL "$dockerd_pid" 2>/dev/null || true
  started_engine=
}

if ! $DOCKER info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || unavailable "no dockerd"
  [[ $(id -u) == 0 ]] || unavailable "no engine reachable (DOCKER_HOST=${DOCKER_HOST:-default}) and starting dockerd needs root"
  mkdir -p "$DOCKER_DIR/data"
  # The API socket and the exec root (containerd's socket) need short paths
  # (a unix socket's is at most 107 bytes).
  run_dir=$DOCKER_DIR
  if ((${#run_dir} > 60)); then
    run_dir=/tmp/settlement-dockerd-$(echo -n "$DOCKER_DIR" | md5sum | cut -c1-12)
  fi
  exec_root=$run_dir/exec
  sock=$run_dir/docker.sock
  pidfile=$DOCKER_DIR/dockerd.pid
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    # Left by an interrupted run: take it over (and stop it at the end).
    if DOCKER_HOST=unix://$sock $DOCKER info >/dev/null 2>&1; then
      log "taking over the scratch dockerd $(cat "$pidfile") of an interrupted run"
      dockerd_pid=$(cat "$pidfile")
      started_engine=1
      trap stop_engine EXIT
      export DOCKER_HOST=unix://$sock
    else
      unavailable "a dockerd ($(cat "$pidfile")) from an earlier run holds $DOCKER_DIR but does not answer on $sock"
    fi
  fi
fi
if [[ -z $started_engine ]] && ! $DOCKER info >/dev/null 2>&1; then
  mkdir -p "$exec_root"
  log "starting a scratch dockerd (data $DOCKER_DIR, log $DOCKER_DIR/dockerd.log)"
  # No default bridge and no iptables rules on the host: compose makes its
  # own network, loopback ports go through docker-proxy, builds use the
  # host network.
  setsid dockerd --data-root "$DOCKER_DIR/data" --exec-root "$exec_root" -p "$pidfile" \
    -H "unix://$sock" --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
    </dev/null >"$DOCKER_DIR/dockerd.log" 2>&1 &
  dockerd_pid=$!
  started_engine=1
  trap stop_engine EXIT
  export DOCKER_HOST=unix://$sock
  for _ in $(seq 1 60); do
    $DOCKER info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 1
  done
  if ! $DOCKER info >/dev/null 2>&1; then
    tail -n 20 "$DOCKER_DIR/dockerd.log" >&2 || true
    stop_engine
    unavailable "dockerd did not start (log above)"
  fi
fi
log "engine: $($DOCKER version --format '{{.Server.Version}}') at ${DOCKER_HOST:-the default socket}; $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"

# ---- 3. images
BASE_IMAGE=settlement-base:bookworm
if $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE: cached"
else
  if [[ $(id -u) != 0 ]]; then
    # debootstrap needs root; an engine reached without it may reach a registry.
    log "$BASE_IMAGE: not root, so no debootstrap: trying docker pull debian:bookworm-slim"
    $DOCKER pull debian:bookworm-slim && $DOCKER tag debian:bookworm-slim "$BASE_IMAGE" ||
      unavailable "cannot make $BASE_IMAGE: debootstrap needs root and no registry answered"
  fi
fi
if ! $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE: debootstrap --variant=minbase bookworm (about a minute or two)"
  rootfs=$WORK/rootfs
  rm -rf "$rootfs"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    >"$WORK/debootstrap.log" 2>&1; then
    tail -n 20 "$WORK/debootstrap.log" >&2
    echo "compose-test: debootstrap failed (log $WORK/debootstrap.log)" >&2
    exit 1
  fi
  # As Debian's own images: no services started by package installs, no
  # package cache.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | $DOCKER import -c 'ENV LANG=C.UTF-8' -c 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "$BASE_IMAGE: imported"
fi

log "building the static binaries (CGO_ENABLED=0)"
mkdir -p bin/docker
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/docker/ \
  ./cmd/settlement-worker ./cmd/provider-sandbox ./deployments/healthcheck ./deployments/secretenv
go build -o "$WORK/compose-check" ./cmd/compose-check

build() { # LOG-NAME docker build args...
  local name=$1
  shift
  if ! $DOCKER build --network host "$@" >"$WORK/build-$name.log" 2>&1; then
    tail -n 30 "$WORK/build-$name.log" >&2
    echo "compose-test: building $name failed (log $WORK/build-$name.log)" >&2
    exit 1
  fi
}
# The Debian images are rebuilt only when deployments/debian or the base
# changed (a label records both), whatever the build cache still holds.
debian_src=$( (cd deployments/debian && find . -type f -print0 | sort -z | xargs -0 sha256sum; \
  $DOCKER image inspect -f '{{.Id}}' "$BASE_IMAGE") | sha256sum | cut -c1-16)
for target in rabbitmq postgres; do
  image=settlement/$target:debian
  if [[ $($DOCKER image inspect -f '{{index .Config.Labels "settlement.source"}}' "$image" 2>/dev/null) == "$debian_src" ]]; then
    log "$image: up to date"
    continue
  fi
  log "building $image (Debian's packages on $BASE_IMAGE)"
  build "$target" --build-arg BASE="$BASE_IMAGE" --label settlement.source="$debian_src" \
    --target "$target" -t "$image" deployments/debian
done
log "building settlement/settlement-worker, settlement/provider-sandbox (deployments/Dockerfile, BINARIES=prebuilt)"
for target in settlement-worker provider-sandbox; do
  build "$target" -f deployments/Dockerfile --build-arg BINARIES=prebuilt --build-arg RUNTIME_IMAGE="$BASE_IMAGE" \
    --target "$target" -t "settlement/$target:latest" .
done

# ---- 4. up
export SECRETS_DIR=$WORK/secrets
mkdir -p "$SECRETS_DIR"
for s in rabbitmq_password postgres_password radial_api_key; do
  rm -f "$SECRETS_DIR/$s"
  head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$SECRETS_DIR/$s"
  chmod 0444 "$SECRETS_DIR/$s" # the containers' users are not root
done
rm -f "$SECRETS_DIR/store_encryption_key"
head -c 32 /dev/urandom | base64 >"$SECRETS_DIR/store_encryption_key" # 32 bytes, standard base64
chmod 0444 "$SECRETS_DIR/store_encryption_key"
export RABBITMQ_USER=settlement
export COMPOSE_TEST_AMQP_PORT=${COMPOSE_TEST_AMQP_PORT:-5692}
export RABBITMQ_MANAGEMENT_HOST_PORT=${RABBITMQ_MANAGEMENT_HOST_PORT:-15692}
export WORKER_HTTP_HOST_PORTS=${WORKER_HTTP_HOST_PORTS:-19191-19192}
export COMPOSE_PROJECT_NAME=settlement-compose-test
compose=(docker-compose -f deployments/docker-compose.yml -f deployments/docker-compose.debian.yml -f deployments/docker-compose.test.yml)
for f in ${COMPOSE_TEST_EXTRA_FILES:-}; do compose+=(-f "$f"); done

for port in "$COMPOSE_TEST_AMQP_PORT" "$RABBITMQ_MANAGEMENT_HOST_PORT" $(seq "${WORKER_HTTP_HOST_PORTS%-*}" "${WORKER_HTTP_HOST_PORTS#*-}"); do
  if timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1' _ "$port" 2>/dev/null; then
    echo "compose-test: port 127.0.0.1:$port is in use; set COMPOSE_TEST_AMQP_PORT, RABBITMQ_MANAGEMENT_HOST_PORT or WORKER_HTTP_HOST_PORTS" >&2
    exit 1
  fi
done

teardown() {
  local rc=$?
  if [[ $rc != 0 ]]; then
    echo "---- docker-compose ps / logs (failure; all of them in $WORK/compose.log)" >&2
    "${compose[@]}" ps >&2 || true
    "${compose[@]}" logs --no-color >"$WORK/compose.log" 2>&1 || true
    tail -n 40 "$WORK/compose.log" >&2 || true
  fi
  if [[ -n ${COMPOSE_TEST_KEEP:-} && $rc == 0 ]]; then
    log "COMPOSE_TEST_KEEP: left running (${compose[*]} down -v)"
  else
    log "docker-compose down -v"
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || "${compose[@]}" down -v --remove-orphans || true
    stop_engine
  fi
  rm -rf "$SECRETS_DIR"
  log "done, rc=$rc, $((SECONDS - T0))s in all"
}
trap teardown EXIT

"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
log "docker-compose up -d"
"${compose[@]}" up -d --no-build

# wait_healthy SERVICE COUNT TIMEOUT: until COUNT containers of SERVICE are healthy.
wait_healthy() {
  local svc=$1 want=$2 deadline=$((SECONDS + $3)) ids healthy st
  while :; do
    ids=$("${compose[@]}" ps -q "$svc")
    healthy=0
    for id in $ids; do
      st=$($DOCKER inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      [[ $st == healthy ]] && healthy=$((healthy + 1))
    done
    ((healthy >= want)) && return 0
    if ((SECONDS > deadline)); then
      echo "compose-test: $svc: $healthy of $want containers healthy after $3s" >&2
      return 1
    fi
    sleep 2
  done
}
for svc in rabbitmq postgres provider-sandbox; do wait_healthy "$svc" 1 600; done
wait_healthy settlement-worker 2 600
log "all services healthy"
"${compose[@]}" ps

# The metrics ports: one per replica, on loopback.
metrics_ok=0
for port in $(seq "${WORKER_HTTP_HOST_PORTS%-*}" "${WORKER_HTTP_HOST_PORTS#*-}"); do
  if body=$(curl -fsS "http://127.0.0.1:$port/metrics") && grep -q '^# HELP go_goroutines' <<<"$body"; then
    metrics_ok=$((metrics_ok + 1))
  fi
done
if ((metrics_ok < 2)); then
  echo "compose-test: /metrics answered on $metrics_ok of the ports $WORKER_HTTP_HOST_PORTS, want 2" >&2
  exit 1
fi
pprof=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${WORKER_HTTP_HOST_PORTS%-*}/debug/pprof/" || true)
if [[ $pprof == 200 ]]; then
  echo "compose-test: /debug/pprof/ answers on the published port" >&2
  exit 1
fi
log "/metrics published on 127.0.0.1:$WORKER_HTTP_HOST_PORTS (both replicas); /debug/pprof/ not served there (HTTP $pprof)"

# ---- 5. settlements across a restart of the worker containers
pass=$(cat "$SECRETS_DIR/rabbitmq_password")
log "compose-check: ${COMPOSE_TEST_N:-200} settlements, the worker restarted half-way"
AMQP_URL="amqp://$RABBITMQ_USER:$pass@127.0.0.1:$COMPOSE_TEST_AMQP_PORT/" \
  "$WORK/compose-check" -root "$ROOT" -n "${COMPOSE_TEST_N:-200}" -timeout "${COMPOSE_TEST_TIMEOUT:-5m}" \
  -restart "${compose[*]} restart settlement-worker"
wait_healthy settlement-worker 2 600
log "PASSED"
