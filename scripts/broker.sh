#!/usr/bin/env bash
# Starts and stops a private RabbitMQ node for tests and local runs.
#
#   scripts/broker.sh start   # prints `export AMQP_URL=...` lines for eval
#   scripts/broker.sh stop
#   scripts/broker.sh ctl ARGS...   # rabbitmqctl against the private node
#
# The node never touches a system-wide broker: it has its own node name, AMQP port,
# distribution port and data folder (BROKER_DIR, default .broker/ in the repository).
# Installs Debian's rabbitmq-server when it is missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${BROKER_DIR:-$repo/.broker}
node=${BROKER_NODE:-amqpwire-test@localhost}
bin=/usr/lib/rabbitmq/bin

log() { echo "broker: $*" >&2; }

install_if_missing() {
  if [ -x "$bin/rabbitmq-server" ]; then return; fi
  log "installing rabbitmq-server from the OS packages"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  # The package tries to start a system service; with no init system that fails harmlessly.
  $sudo apt-get install -y -qq rabbitmq-server >&2 || [ -x "$bin/rabbitmq-server" ]
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_env() {
  export RABBITMQ_NODENAME=$node
  export RABBITMQ_NODE_PORT=$port
  export RABBITMQ_DIST_PORT=$((port + 20000))
  export RABBITMQ_MNESIA_BASE=$dir/mnesia
  export RABBITMQ_LOG_BASE=$dir/log
  export RABBITMQ_PID_FILE=$dir/pid
  export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
  export RABBITMQ_CONFIG_FILE=$dir/rabbitmq
  export RABBITMQ_ALLOW_INPUT=false
}

ctl() { "$bin/rabbitmqctl" -n "$node" "$@"; }

start() {
  install_if_missing
  mkdir -p "$dir"
  if [ -f "$dir/port" ] && ctl status >/dev/null 2>&1; then
    port=$(cat "$dir/port")
    log "already running on port $port"
  else
    # Not 35672..35682: rabbitmqctl itself listens there while it talks to the node.
    port=${BROKER_PORT:-5710}
    while ! port_free "$port" || ! port_free $((port + 20000)); do port=$((port + 1)); done
    echo "$port" >"$dir/port"
    node_env
    [ -f "$dir/enabled_plugins" ] || echo '[].' >"$dir/enabled_plugins"
    # Tests set the memory watermark at runtime; keep the configured one ordinary.
    [ -f "$dir/rabbitmq.conf" ] || printf 'loopback_users = none\n' >"$dir/rabbitmq.conf"
    log "starting $node on port $port (data in $dir)"
    "$bin/rabbitmq-server" -detached >&2
    if ! ctl wait "$dir/pid" --timeout 90 >/dev/null 2>&1; then
      log "the node did not start; its log follows"
      tail -n 40 "$dir"/log/*.log >&2 2>/dev/null || true
      exit 1
    fi
  fi
  echo "export AMQP_URL=amqp://guest:guest@127.0.0.1:$port/%2f"
  echo "export AMQP_BROKER_NODE=$node"
  echo "export AMQP_BROKER_CTL=$bin/rabbitmqctl"
}

stop() {
  if ctl status >/dev/null 2>&1; then
    log "stopping $node"
    ctl stop >/dev/null 2>&1 || true
  fi
  # A node that did not answer: end it by its pid file so nothing is left running.
  if [ -f "$dir/pid" ]; then
    local pid
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; sleep 1; kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$dir/pid"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  ctl) shift; ctl "$@" ;;
  *) echo "usage: $0 start|stop|ctl ARGS..." >&2; exit 2 ;;
esac
