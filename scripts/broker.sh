#!/usr/bin/env bash
# Starts and stops a private RabbitMQ node for tests and local runs.
#
#   scripts/broker.sh start     # prints `export AMQP_URL=...` lines for eval; idempotent
#   scripts/broker.sh stop      # also after a kill
#   scripts/broker.sh kill      # kill -9 the node's Erlang VM: a crash, not a shutdown
#   scripts/broker.sh restart   # starts it again on the port in $BROKER_DIR/port and waits until it is up
#   scripts/broker.sh ctl ARGS...   # rabbitmqctl against the private node
#
# The node never touches a system-wide broker: it has its own node name (BROKER_NODE, default
# amqpwire-test@localhost), AMQP port (from BROKER_PORT, default 5710, skipping ports in use),
# distribution port (AMQP port + 20000) and data folder (BROKER_DIR, default .broker/ in the repository).
# BROKER_EXPORT_PREFIX (default AMQP_) names the exports: scripts/test.sh starts a second node, which
# the tests may kill, as AMQP_FAULT_URL, AMQP_FAULT_BROKER_NODE, ...
# Installs Debian's rabbitmq-server when it is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
script=$here/$(basename "$0")
dir=$(realpath -m "${BROKER_DIR:-$repo/.broker}")
node=${BROKER_NODE:-amqpwire-test@localhost}

log() { echo "broker: $*" >&2; }

# shellcheck source=lib/rabbitmq-node.sh
. "$here/lib/rabbitmq-node.sh"

ctl() { rmq_ctl "$node" "$@"; }

print_exports() {
  local p=${BROKER_EXPORT_PREFIX:-AMQP_}
  echo "export ${p}URL=amqp://guest:guest@127.0.0.1:$(cat "$dir/port")/%2f"
  echo "export ${p}BROKER_NODE=$node"
  echo "export ${p}BROKER_CTL=$rmq_bin/rabbitmqctl"
  echo "export ${p}BROKER_DIR='$dir'"
  echo "export ${p}BROKER_SCRIPT='$script'"
}

start() {
  rmq_install_if_missing
  mkdir -p "$dir"
  # By pid file first: a node of the same name from another folder is not this one.
  if [ -f "$dir/port" ] && rmq_alive "$dir" && ctl status >/dev/null 2>&1; then
    log "already running on port $(cat "$dir/port")"
  else
    rmq_kill "$dir"  # anything left of an earlier run that did not answer
    if rmq_name_taken "$node"; then
      log "a node named $node runs already, not from $dir; set BROKER_NODE (and BROKER_DIR) for another one"
      exit 1
    fi
    local port t0
    t0=$(rmq_now)
    rmq_lock_ports
    port=${BROKER_PORT:-5710}
    while ! rmq_port_usable "$port"; do port=$((port + 1)); done
    log "starting $node on port $port (data in $dir)"
    rmq_launch "$node" "$port" "$dir"
    rmq_wait_bound "$port" "$dir" 30 || true
    rmq_unlock_ports
    rmq_wait "$node" "$dir" 90 || exit 1
    log "started ($(rmq_since "$t0"))"
  fi
  print_exports
}

stop() {
  if rmq_alive "$dir"; then log "stopping $node"; fi
  rmq_stop "$node" "$dir"
}

kill_node() {
  rmq_kill "$dir"
  log "killed $node"
}

restart() {
  local port t0
  t0=$(rmq_now)
  port=$(cat "$dir/port" 2>/dev/null) || {
    log "no $dir/port: the broker was never started (scripts/broker.sh start)"
    exit 1
  }
  if rmq_alive "$dir"; then
    log "$node is running; stopping it first"
    rmq_stop "$node" "$dir"
  fi
  if ! rmq_port_usable "$port"; then
    log "port $port or $((port + 20000)) is taken by another process"
    exit 1
  fi
  rmq_launch "$node" "$port" "$dir"
  rmq_wait "$node" "$dir" 90 || exit 1
  log "restarted $node on port $port ($(rmq_since "$t0"))"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  kill) kill_node ;;
  restart) restart ;;
  ctl) shift; ctl "$@" ;;
  *) echo "usage: $0 start|stop|kill|restart|ctl ARGS..." >&2; exit 2 ;;
esac
