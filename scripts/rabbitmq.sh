#!/usr/bin/env bash
# Local RabbitMQ broker for development and tests, on loopback, in a scratch dir.
#
# Usage: scripts/rabbitmq.sh start|stop|status|env|restart-app
#
#   start        start the broker (idempotent), create vhost "radial", print env
#   stop         stop the broker started by this script
#   status       exit 0 and print the env if the broker is running, 1 otherwise
#   env          print `export NAME=value` lines (eval "$(scripts/rabbitmq.sh env)")
#   restart-app  rabbitmqctl stop_app && start_app (broker-restart tests)
#
# Settings (environment):
#   RABBITMQ_SCRATCH          scratch dir (default <repo>/.tmp/rabbitmq)
#   RABBITMQ_AMQP_PORT        AMQP port (default 5672)
#   RABBITMQ_MANAGEMENT_PORT  management HTTP port (default 15672)
#   RABBITMQ_DIST_PORT        Erlang distribution port (default AMQP port + 20000)
#   RABBITMQ_NODE             node name (default settlement@localhost)
#   RABBITMQ_BIN_DIR          dir of rabbitmq-server/rabbitmqctl (default /usr/lib/rabbitmq/bin)
#   RABBITMQ_START_TIMEOUT    seconds to wait for readiness (default 120)
#
# The broker runs as the current user (root on CI) straight from
# /usr/lib/rabbitmq/bin: the /usr/sbin wrappers switch to the rabbitmq user
# and its Erlang cookie. HOME points into the scratch dir so that the server
# and our rabbitmqctl calls share one .erlang.cookie. `env` exports
# RABBITMQ_CTL, a wrapper that runs rabbitmqctl with that HOME.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=${RABBITMQ_SCRATCH:-$ROOT/.tmp/rabbitmq}
AMQP_PORT=${RABBITMQ_AMQP_PORT:-5672}
MGMT_PORT=${RABBITMQ_MANAGEMENT_PORT:-15672}
DIST_PORT=${RABBITMQ_DIST_PORT:-$((AMQP_PORT + 20000))}
NODE=${RABBITMQ_NODE:-settlement@localhost}
BIN_DIR=${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-120}
HOST=127.0.0.1
USER_NAME=guest
USER_PASS=guest
RADIAL_VHOST=radial

RMQ_HOME=$SCRATCH/home
CTL_WRAPPER=$SCRATCH/bin/rabbitmqctl
PID_FILE=$SCRATCH/rabbitmq-server.pid
CONSOLE_LOG=$SCRATCH/log/console.log

log() { echo "rabbitmq.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# tcp_open HOST PORT: exit 0 if something accepts TCP connections there.
tcp_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# amqp_url_hostport URL: prints "host port" of an amqp:// or amqps:// URL.
amqp_url_hostport() {
  local url=$1 scheme rest hostport host port
  scheme=${url%%://*}
  rest=${url#*://}
  rest=${rest%%/*}
  rest=${rest%%\?*}
  hostport=${rest##*@}
  if [[ $hostport == \[* ]]; then
    host=${hostport%%]*}; host=${host#[}
    port=${hostport##*]}; port=${port#:}
  elif [[ $hostport == *:* ]]; then
    host=${hostport%:*}; port=${hostport##*:}
  else
    host=$hostport; port=
  fi
  if [[ -z $port ]]; then
    if [[ $scheme == amqps ]]; then port=5671; else port=5672; fi
  fi
  echo "${host:-localhost} $port"
}

external_broker_reachable() {
  [[ -n ${AMQP_URL:-} ]] || return 1
  local hp
  read -r -a hp <<<"$(amqp_url_hostport "$AMQP_URL")"
  tcp_open "${hp[0]}" "${hp[1]}"
}

check_installed() {
  if [[ ! -x $BIN_DIR/rabbitmq-server || ! -x $BIN_DIR/rabbitmqctl ]]; then
    log "rabbitmq-server is not installed (no $BIN_DIR/rabbitmq-server)."
    log "Install it with:  sudo apt-get update && sudo apt-get install -y rabbitmq-server"
    log "(or point AMQP_URL at a running broker)"
    exit 1
  fi
}

# Environment shared by the server and rabbitmqctl. Erlang distribution and
# epmd listen on loopback only.
RMQ_ENV=(
  HOME="$RMQ_HOME"
  RABBITMQ_NODENAME="$NODE"
  RABBITMQ_CONF_ENV_FILE="$SCRATCH/rabbitmq-env.conf"
  RABBITMQ_CONFIG_FILE="$SCRATCH/rabbitmq.conf"
  RABBITMQ_ADVANCED_CONFIG_FILE="$SCRATCH/advanced.config"
  RABBITMQ_ENABLED_PLUGINS_FILE="$SCRATCH/enabled_plugins"
  RABBITMQ_MNESIA_BASE="$SCRATCH/mnesia"
  RABBITMQ_LOG_BASE="$SCRATCH/log"
  RABBITMQ_PID_FILE="$SCRATCH/mnesia/$NODE.pid"
  RABBITMQ_DIST_PORT="$DIST_PORT"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  ERL_EPMD_ADDRESS=127.0.0.1
)
rmq_env() {
  env "${RMQ_ENV[@]}" "$@"
}

ctl() {
  rmq_env "$BIN_DIR/rabbitmqctl" -n "$NODE" "$@"
}

server_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

node_running() {
  [[ -x $BIN_DIR/rabbitmqctl && -f $RMQ_HOME/.erlang.cookie ]] || return 1
  ctl -q ping >/dev/null 2>&1
}

print_env() {
  cat <<EOF
export AMQP_URL=amqp://$USER_NAME:$USER_PASS@$HOST:$AMQP_PORT/
export RADIAL_AMQP_URL=amqp://$USER_NAME:$USER_PASS@$HOST:$AMQP_PORT/$RADIAL_VHOST
export RABBITMQ_MANAGEMENT_URL=http://$USER_NAME:$USER_PASS@$HOST:$MGMT_PORT
export RABBITMQ_NODE=$NODE
export RABBITMQ_CTL=$CTL_WRAPPER
EOF
}

write_files() {
  mkdir -p "$SCRATCH/bin" "$SCRATCH/log" "$SCRATCH/mnesia" "$RMQ_HOME"
  if [[ ! -s $RMQ_HOME/.erlang.cookie ]]; then
    (umask 077; head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RMQ_HOME/.erlang.cookie")
  fi
  chmod 400 "$RMQ_HOME/.erlang.cookie"
  : >"$SCRATCH/rabbitmq-env.conf"
  # Settings rabbitmq.conf cannot set (what and why: in the file).
  cp "$ROOT/deployments/rabbitmq/advanced.config" "$SCRATCH/advanced.config"
  echo '[rabbitmq_management].' >"$SCRATCH/enabled_plugins"
  cat >"$SCRATCH/rabbitmq.conf" <<EOF
listeners.tcp.1 = $HOST:$AMQP_PORT
management.tcp.ip = $HOST
management.tcp.port = $MGMT_PORT
loopback_users.guest = true
log.console = false
log.file.level = info
disk_free_limit.absolute = 50MB
EOF
  # rabbitmqctl with the right HOME (cookie), node and config, for tests
  # (internal/testenv RestartBroker) and humans.
  cat >"$CTL_WRAPPER" <<EOF
#!/bin/sh
# Generated by scripts/rabbitmq.sh: rabbitmqctl for node $NODE.
exec env HOME='$RMQ_HOME' RABBITMQ_NODENAME='$NODE' \\
  RABBITMQ_CONF_ENV_FILE='$SCRATCH/rabbitmq-env.conf' \\
  RABBITMQ_CONFIG_FILE='$SCRATCH/rabbitmq.conf' \\
  RABBITMQ_ENABLED_PLUGINS_FILE='$SCRATCH/enabled_plugins' \\
  RABBITMQ_MNESIA_BASE='$SCRATCH/mnesia' RABBITMQ_LOG_BASE='$SCRATCH/log' \\
  ERL_EPMD_ADDRESS=127.0.0.1 \\
  '$BIN_DIR/rabbitmqctl' "\$@"
EOF
  chmod 755 "$CTL_WRAPPER"
}

mgmt_api() { # METHOD PATH [BODY]
  local method=$1 path=$2 body=${3:-}
  local args=(-fsS -o /dev/null -u "$USER_NAME:$USER_PASS" -X "$method" -H 'content-type: application/json')
  [[ -n $body ]] && args+=(--data "$body")
  curl "${args[@]}" "http://$HOST:$MGMT_PORT$path"
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until ctl -q await_startup >/dev/null 2>&1; do
    if ! server_pid >/dev/null; then
      log "broker process exited during startup; last log lines:"
      tail -n 30 "$CONSOLE_LOG" >&2 2>/dev/null || true
      tail -n 30 "$SCRATCH/log/$NODE.log" >&2 2>/dev/null || true
      exit 1
    fi
    ((SECONDS < deadline)) || die "broker not ready after ${START_TIMEOUT}s (logs in $SCRATCH/log)"
    sleep 1
  done
  until tcp_open "$HOST" "$AMQP_PORT" && mgmt_api GET /api/overview 2>/dev/null; do
    ((SECONDS < deadline)) || die "AMQP/management not ready after ${START_TIMEOUT}s (logs in $SCRATCH/log)"
    sleep 1
  done
}

ensure_radial_vhost() {
  if command -v curl >/dev/null 2>&1; then
    mgmt_api PUT "/api/vhosts/$RADIAL_VHOST" '{}'
    mgmt_api PUT "/api/permissions/$RADIAL_VHOST/$USER_NAME" '{"configure":".*","write":".*","read":".*"}'
  else
    ctl -q add_vhost "$RADIAL_VHOST" >/dev/null 2>&1 || true
    ctl -q set_permissions -p "$RADIAL_VHOST" "$USER_NAME" '.*' '.*' '.*' >/dev/null
  fi
}

cmd_start() {
  if node_running; then
    log "broker $NODE already running (scratch $SCRATCH)"
    ensure_radial_vhost
    print_env
    return 0
  fi
  if external_broker_reachable; then
    log "AMQP_URL is set and reachable; not starting a local broker"
    return 0
  fi
  check_installed
  command -v curl >/dev/null 2>&1 || die "curl is required (apt-get install -y curl)"
  for port in "$AMQP_PORT" "$MGMT_PORT" "$DIST_PORT"; do
    if tcp_open "$HOST" "$port"; then
      die "port $port on $HOST is already in use by something else; set RABBITMQ_AMQP_PORT/RABBITMQ_MANAGEMENT_PORT/RABBITMQ_DIST_PORT"
    fi
  done
  if pid=$(server_pid); then
    die "a broker process ($pid) from $SCRATCH exists but does not answer; run '$0 stop' first"
  fi
  write_files
  log "starting $NODE on $HOST:$AMQP_PORT (management $MGMT_PORT, scratch $SCRATCH)"
  # Fully detached: own session, no stdin, output to a file, so that it
  # outlives the calling make/shell.
  # setsid is exec'ed directly by the forked shell (no job control, so it
  # is not a group leader and does not fork again): $! is the server's pid.
  cd "$SCRATCH"
  setsid env "${RMQ_ENV[@]}" nohup "$BIN_DIR/rabbitmq-server" </dev/null >"$CONSOLE_LOG" 2>&1 &
  echo $! >"$PID_FILE"
  cd - >/dev/null
  wait_ready
  ensure_radial_vhost
  log "broker ready"
  print_env
}

cmd_stop() {
  local pid=
  pid=$(server_pid) || pid=
  if node_running; then
    log "stopping $NODE"
    ctl -q stop >/dev/null 2>&1 || true
  fi
  if [[ -n $pid ]]; then
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker $pid did not stop; sending SIGTERM"
      kill "$pid" 2>/dev/null || true
      sleep 2
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  if node_running; then
    log "broker $NODE running (pid $(server_pid || echo '?'), scratch $SCRATCH)"
    print_env
    return 0
  fi
  log "broker $NODE not running"
  return 1
}

cmd_restart_app() {
  node_running || die "broker $NODE is not running"
  ctl -q stop_app >/dev/null
  ctl -q start_app >/dev/null
  wait_ready
  log "app restarted"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  restart-app) cmd_restart_app ;;
  *)
    echo "usage: $0 start|stop|status|env|restart-app" >&2
    exit 2
    ;;
esac
