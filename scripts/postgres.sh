#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests, on loopback, in a scratch dir.
#
# Usage: scripts/postgres.sh start|stop|status|env
#
#   start   initdb (first time) and start the cluster (idempotent), print env
#   stop    stop the cluster
#   status  exit 0 and print the env if running, 1 otherwise
#   env     print `export STORE_TEST_POSTGRES_DSN=...`
#
# Settings (environment):
#   POSTGRES_SCRATCH   scratch dir (default <repo>/.tmp/postgres, or a dir in
#                      /tmp when the server's OS user cannot reach the repo)
#   POSTGRES_PORT      port (default 55432)
#   POSTGRES_BIN_DIR   dir holding initdb/pg_ctl (default: from PATH, else the
#                      newest /usr/lib/postgresql/*/bin)
#   POSTGRES_OS_USER   OS user that runs the server when invoked as root
#                      (default pgtest; created with useradd if missing)
#
# The cluster is tuned for tests (fsync off): never keep data in it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${POSTGRES_PORT:-55432}
OS_USER=${POSTGRES_OS_USER:-pgtest}
resolve_scratch() {
  if [[ -n ${POSTGRES_SCRATCH:-} ]]; then
    SCRATCH=$POSTGRES_SCRATCH
  elif [[ $(id -u) != 0 ]] || ! id "$OS_USER" >/dev/null 2>&1 ||
    runuser -u "$OS_USER" -- test -x "$ROOT" 2>/dev/null; then
    SCRATCH=$ROOT/.tmp/postgres
  else
    # The server's OS user cannot reach the checkout (e.g. under /root):
    # use a scratch dir in /tmp, one per checkout.
    SCRATCH=${TMPDIR:-/tmp}/settlement-postgres-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)
  fi
  DATA=$SCRATCH/data
  SOCK=$SCRATCH/sock
  LOG=$SCRATCH/postgres.log
}
resolve_scratch
HOST=127.0.0.1
DB_USER=postgres
DB_PASS=postgres

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

DSN="postgres://$DB_USER:$DB_PASS@$HOST:$PORT/postgres?sslmode=disable"

find_bin_dir() {
  if [[ -n ${POSTGRES_BIN_DIR:-} ]]; then
    echo "$POSTGRES_BIN_DIR"
    return
  fi
  local p
  if p=$(command -v pg_ctl) && command -v initdb >/dev/null && command -v postgres >/dev/null; then
    dirname "$(readlink -f "$p")"
    return
  fi
  for p in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $p/initdb && -x $p/pg_ctl && -x $p/postgres ]]; then
      echo "$p"
      return
    fi
  done
  return 1
}

tcp_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# as_pg CMD...: run CMD as the server's OS user (postgres refuses root).
as_pg() {
  if [[ $(id -u) == 0 ]]; then
    runuser -u "$OS_USER" -- "$@"
  else
    "$@"
  fi
}

ensure_os_user() {
  [[ $(id -u) == 0 ]] || return 0
  if ! id "$OS_USER" >/dev/null 2>&1; then
    log "creating OS user $OS_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OS_USER"
  fi
}

running() {
  [[ -f $DATA/PG_VERSION ]] || return 1
  local bin
  bin=$(find_bin_dir) || return 1
  as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

print_env() {
  echo "export STORE_TEST_POSTGRES_DSN=$DSN"
}

external_reachable() {
  [[ -n ${STORE_TEST_POSTGRES_DSN:-} ]] || return 1
  [[ $STORE_TEST_POSTGRES_DSN != "$DSN" ]] || return 1
  command -v pg_isready >/dev/null || return 1
  pg_isready -q -t 2 -d "$STORE_TEST_POSTGRES_DSN"
}

cmd_start() {
  if running; then
    log "cluster already running on $HOST:$PORT (scratch $SCRATCH)"
    print_env
    return 0
  fi
  if external_reachable; then
    log "STORE_TEST_POSTGRES_DSN is set and reachable; not starting a local cluster"
    return 0
  fi
  local bin
  if ! bin=$(find_bin_dir); then
    log "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found."
    log "Install them with:  sudo apt-get update && sudo apt-get install -y postgresql"
    log "(or set STORE_TEST_POSTGRES_DSN to a reachable server)"
    exit 1
  fi
  if tcp_open "$HOST" "$PORT"; then
    die "port $PORT on $HOST is in use by something else; set POSTGRES_PORT"
  fi
  ensure_os_user
  resolve_scratch # the OS user may be new
  mkdir -p "$SCRATCH"
  if [[ $(id -u) == 0 ]]; then
    chown "$OS_USER" "$SCRATCH"
    as_pg test -x "$SCRATCH" || die "$OS_USER cannot reach $SCRATCH (check the permissions of its parent dirs) or set POSTGRES_SCRATCH"
  fi
  chmod 700 "$SCRATCH"
  as_pg mkdir -p "$SOCK"
  if [[ ! -f $DATA/PG_VERSION ]]; then
    log "initdb $DATA ($bin)"
    rm -rf "$DATA"
    local pwfile=$SCRATCH/pwfile
    as_pg sh -c "umask 077; echo '$DB_PASS' > '$pwfile'"
    as_pg "$bin/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$SCRATCH/initdb.log" 2>&1 ||
      { cat "$SCRATCH/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
  fi
  log "starting PostgreSQL on $HOST:$PORT (scratch $SCRATCH)"
  # pg_ctl detaches the postmaster (own session) and waits for readiness.
  as_pg "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
    "-c listen_addresses=$HOST -p $PORT -k $SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null || { tail -n 30 "$LOG" >&2 || true; die "pg_ctl start failed"; }
  log "PostgreSQL ready"
  print_env
}

cmd_stop() {
  if ! running; then
    log "not running"
    return 0
  fi
  as_pg "$(find_bin_dir)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  log "stopped"
}

cmd_status() {
  if running; then
    log "running on $HOST:$PORT (scratch $SCRATCH)"
    print_env
    return 0
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
