#!/usr/bin/env bash
# Installs, from Debian's packages, what the project's make targets need and
# this machine lacks. Shared by .ci/run, `make demo` and `make compose-test`.
#
# Usage: scripts/install-deps.sh [--dry-run] NEED...
#
#   rabbitmq     rabbitmq-server (found as $RABBITMQ_BIN_DIR/rabbitmq-server,
#                default /usr/lib/rabbitmq/bin, the directory scripts/rabbitmq.sh runs)
#   postgres     a PostgreSQL server (initdb and pg_ctl) and pg_isready
#   curl, make   the commands
#   xmllint      libxml2-utils
#   promtool     prometheus (its promtool; the package's own server is not started)
#   docker       a Docker engine (dockerd) and docker-compose: docker.io, docker-compose
#   debootstrap  debootstrap (make compose-test builds its base image with it)
#
# As root, or with passwordless sudo, it runs apt-get update and
# apt-get install --no-install-recommends for what is missing, with a
# policy-rc.d in place so that no package starts its own service (broker,
# cluster, dockerd) on the default ports: the make targets start theirs in
# scratch directories. Otherwise it prints the one command to run and
# exits 1. With nothing missing it prints nothing and exits 0.
#
# --dry-run (or INSTALL_DEPS_DRY_RUN=1) prints what it would install and
# the commands, and changes nothing.
set -euo pipefail

log() { echo "install-deps.sh: $*" >&2; }

dry_run=${INSTALL_DEPS_DRY_RUN:-}
needs=()
for arg in "$@"; do
  case $arg in
    --dry-run) dry_run=1 ;;
    rabbitmq | postgres | curl | make | xmllint | promtool | docker | debootstrap) needs+=("$arg") ;;
    *)
      echo "usage: $0 [--dry-run] rabbitmq|postgres|curl|make|xmllint|promtool|docker|debootstrap..." >&2
      exit 2
      ;;
  esac
done

have_pg_server() {
  { command -v initdb && command -v pg_ctl; } >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

pkgs=()
add() { [[ " ${pkgs[*]-} " == *" $1 "* ]] || pkgs+=("$1"); }
for need in "${needs[@]}"; do
  case $need in
    rabbitmq)
      [[ -x ${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}/rabbitmq-server ]] || add rabbitmq-server
      ;;
    postgres)
      have_pg_server || add postgresql
      command -v pg_isready >/dev/null || have_pg_server || add postgresql-client
      ;;
    curl | make | debootstrap)
      command -v "$need" >/dev/null || add "$need"
      ;;
    xmllint)
      command -v xmllint >/dev/null || add libxml2-utils
      ;;
    promtool)
      command -v promtool >/dev/null || add prometheus
      ;;
    docker)
      # /usr/local/bin/docker may be a lone client: the engine is what counts.
      command -v dockerd >/dev/null || add docker.io
      command -v docker-compose >/dev/null || add docker-compose
      ;;
  esac
done

((${#pkgs[@]})) || exit 0

SUDO=
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  elif [[ -z $dry_run ]]; then
    log "missing: ${pkgs[*]}; installing needs root or passwordless sudo. Run:"
    log "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${pkgs[*]}"
    exit 1
  fi
fi

apt_install=(apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${pkgs[@]}")
if [[ -n $dry_run ]]; then
  log "would install: ${pkgs[*]}"
  log "would run: ${SUDO:+$SUDO }apt-get update -qq && ${SUDO:+$SUDO }${apt_install[*]} (with /usr/sbin/policy-rc.d exiting 101)"
  exit 0
fi

log "installing: ${pkgs[*]}"
# Keep the packages' init scripts from starting their own services.
policy=/usr/sbin/policy-rc.d
added_policy=
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
trap 'if [[ -n $added_policy ]]; then $SUDO rm -f "$policy"; fi' EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive "${apt_install[@]}" </dev/null
