#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, for failover and recovery tests.
#
#   eval "$(scripts/cluster.sh start)"   # prints export lines: AMQP_CLUSTER_URLS (comma-separated, node 1
#                                        # first), AMQP_CLUSTER_NODES (space-separated, same order),
#                                        # AMQP_CLUSTER_DIR, AMQP_CLUSTER_SCRIPT, AMQP_CLUSTER_CTL
#   scripts/cluster.sh stop              # stops the three nodes (also after a kill); nothing else
#   scripts/cluster.sh kill NODE         # kill -9 the node's Erlang VM: a crash, not a shutdown
#   scripts/cluster.sh restart NODE      # starts it again on its ports; returns once it is back in the cluster
#   scripts/cluster.sh ctl NODE ARGS...  # rabbitmqctl against one node
#   scripts/cluster.sh status            # cluster_status as node 1 (or the first running node) sees it
#
# NODE is 1, 2, 3 or a node name. Nodes are ${CLUSTER_NAME}1@localhost .. 3 (CLUSTER_NAME defaults to
# amqpwire-c), each with its own AMQP port (from CLUSTER_PORT, default 5740, skipping ports in use), its
# distribution port (AMQP port + 20000) and its folder CLUSTER_DIR/N (CLUSTER_DIR defaults to .cluster/ in
# the repository). Names and ports are recorded there, so kill/restart/ctl/stop need only CLUSTER_DIR.
#
# `start` is idempotent: with every node running it only prints the exports; with none running it makes
# a fresh cluster (it deletes the nodes' old data: a test cluster has nothing to keep, and old membership
# would make the nodes wait for each other); with some running it starts the others on their old data.
#
# After killing several nodes, restart them in the reverse order of their deaths when all are down: a
# node that saw others running when it died waits for them on boot (RabbitMQ 3.10's Mnesia: 10 x 30 s),
# and `restart` gives up after 90 s. While one node runs, the others restart in any order.
#
# Installs Debian's rabbitmq-server when it is missing. Progress and timings go to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
script=$here/$(basename "$0")
dir=$(realpath -m "${CLUSTER_DIR:-$repo/.cluster}")
name=${CLUSTER_NAME:-amqpwire-c}

log() { echo "cluster: $*" >&2; }

# shellcheck source=lib/rabbitmq-node.sh
. "$here/lib/rabbitmq-node.sh"

indices=(1 2 3)

# The node name of index I: the recorded one while the cluster exists, else from CLUSTER_NAME.
node_name() {
  if [ -f "$dir/$1/name" ]; then cat "$dir/$1/name"; else echo "$name$1@localhost"; fi
}

# NODE (1..3, a full or short node name) to its index.
node_index() {
  local i
  for i in "${indices[@]}"; do
    local n
    n=$(node_name "$i")
    if [ "$1" = "$i" ] || [ "$1" = "$n" ] || [ "$1" = "${n%@*}" ]; then
      echo "$i"
      return
    fi
  done
  log "no node '$1' in the cluster in $dir (nodes: $(for i in "${indices[@]}"; do node_name "$i"; done | tr '\n' ' '))"
  exit 2
}

# The names of the nodes running as NODE sees them (cluster_status --formatter json, "running_nodes").
running_nodes() {
  rmq_ctl "$1" cluster_status --formatter json 2>/dev/null |
    sed -n 's/.*"running_nodes":\[\([^]]*\)\].*/\1/p' | tr -d '"' | tr ',' ' '
}

# `rabbitmqctl -n NODE ARGS` with its output shown only when it fails.
quiet_ctl() {
  local node=$1 output
  shift
  if ! output=$(rmq_ctl "$node" "$@" 2>&1); then
    log "rabbitmqctl -n $node $* failed:"
    echo "$output" >&2
    return 1
  fi
}

join() {
  local i=$1 node first t0
  node=$(node_name "$i")
  first=$(node_name 1)
  t0=$(rmq_now)
  # join_cluster prints an error about a tracked connection table; it is harmless (RABBITMQ.md).
  quiet_ctl "$node" stop_app || return 1
  quiet_ctl "$node" join_cluster "$first" || return 1
  quiet_ctl "$node" start_app || return 1
  log "joined $node to $first ($(rmq_since "$t0"))"
}

# Waits until NODE sees every node in WANTED (space-separated) running.
wait_running() {
  local node=$1 wanted=$2 seconds=${3:-30} deadline running n missing
  deadline=$(($(rmq_now) + seconds * 1000))
  while :; do
    running=" $(running_nodes "$node") "
    missing=""
    for n in $wanted; do [[ "$running" == *" $n "* ]] || missing+=" $n"; done
    [ -z "$missing" ] && return 0
    if [ "$(rmq_now)" -ge "$deadline" ]; then
      log "after ${seconds}s, $node sees running:${running% } (missing:$missing)"
      return 1
    fi
    sleep 0.5
  done
}

all_names() { for i in "${indices[@]}"; do node_name "$i"; done | tr '\n' ' ' | sed 's/ $//'; }

print_exports() {
  local urls="" i
  for i in "${indices[@]}"; do
    urls+="${urls:+,}amqp://guest:guest@127.0.0.1:$(cat "$dir/$i/port")/%2f"
  done
  echo "export AMQP_CLUSTER_URLS='$urls'"
  echo "export AMQP_CLUSTER_NODES='$(all_names)'"
  echo "export AMQP_CLUSTER_DIR='$dir'"
  echo "export AMQP_CLUSTER_SCRIPT='$script'"
  echo "export AMQP_CLUSTER_CTL='$rmq_bin/rabbitmqctl'"
}

# Waits for the nodes with the given indices to boot, in parallel.
wait_nodes() {
  local i pids=() failed=0
  for i in "$@"; do
    rmq_wait "$(node_name "$i")" "$dir/$i" 90 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=1; done
  return $failed
}

# Every function below that can fail returns non-zero explicitly: `set -e` does not apply inside a
# function called as an `if` condition.
fresh_start() {
  local i port t0
  t0=$(rmq_now)
  for i in "${indices[@]}"; do
    if rmq_name_taken "$name$i@localhost"; then
      log "a node named $name$i@localhost runs already, not from $dir; set CLUSTER_NAME to another name"
      return 1
    fi
  done
  for i in "${indices[@]}"; do
    rm -rf "${dir:?}/$i"
    mkdir -p "$dir/$i"
    echo "$name$i@localhost" >"$dir/$i/name"
  done
  rmq_lock_ports
  port=${CLUSTER_PORT:-5740}
  for i in "${indices[@]}"; do
    while ! rmq_port_usable "$port"; do port=$((port + 1)); done
    rmq_launch "$(node_name "$i")" "$port" "$dir/$i"
    port=$((port + 1))
  done
  for i in "${indices[@]}"; do rmq_wait_bound "$(cat "$dir/$i/port")" "$dir/$i" 30 || true; done
  rmq_unlock_ports
  log "launched $(all_names) on ports $(cat "$dir"/{1,2,3}/port | tr '\n' ' ')(data in $dir)"
  wait_nodes "${indices[@]}" || return 1
  log "three nodes up ($(rmq_since "$t0"))"
  # One after the other: both change the membership tables node 1 holds.
  join 2 || return 1
  join 3 || return 1
}

start() {
  rmq_install_if_missing
  local t0 i dead=()
  t0=$(rmq_now)
  for i in "${indices[@]}"; do rmq_alive "$dir/$i" || dead+=("$i"); done
  if [ ${#dead[@]} -eq ${#indices[@]} ]; then
    if ! fresh_start; then
      log "the cluster did not start; stopping what did"
      stop
      exit 1
    fi
  elif [ ${#dead[@]} -gt 0 ]; then
    log "nodes ${dead[*]} are down; starting them on their data"
    for i in "${dead[@]}"; do rmq_launch "$(node_name "$i")" "$(cat "$dir/$i/port")" "$dir/$i"; done
    wait_nodes "${dead[@]}" || exit 1
  fi
  # After a failed or interrupted earlier start, a running node may not have joined yet.
  local running
  running=" $(running_nodes "$(node_name 1)") "
  for i in 2 3; do
    [[ "$running" == *" $(node_name "$i") "* ]] || join "$i"
  done
  wait_running "$(node_name 1)" "$(all_names)" 30 || exit 1
  log "cluster of $(all_names) running ($(rmq_since "$t0"))"
  print_exports
}

stop() {
  local t0 i pids=() failed=0
  t0=$(rmq_now)
  # In parallel: each `rabbitmqctl stop` takes about 3 s.
  for i in "${indices[@]}"; do
    rmq_stop "$(node_name "$i")" "$dir/$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=1; done
  log "stopped $(all_names) ($(rmq_since "$t0"))"
  return $failed
}

kill_node() {
  local i t0
  i=$(node_index "$1")
  t0=$(rmq_now)
  rmq_kill "$dir/$i"
  log "killed $(node_name "$i") ($(rmq_since "$t0"))"
}

restart_node() {
  local i node t0 others="" j
  i=$(node_index "$1")
  node=$(node_name "$i")
  t0=$(rmq_now)
  if rmq_alive "$dir/$i"; then
    log "$node is running; stopping it first"
    rmq_stop "$node" "$dir/$i"
  fi
  local port
  port=$(cat "$dir/$i/port")
  if ! rmq_port_usable "$port"; then
    log "port $port or $((port + 20000)) of $node is taken by another process"
    exit 1
  fi
  rmq_launch "$node" "$port" "$dir/$i"
  rmq_wait "$node" "$dir/$i" 90 || exit 1
  # Back in the cluster: it sees itself and every other running node, and they see it.
  for j in "${indices[@]}"; do rmq_alive "$dir/$j" && others+=" $(node_name "$j")"; done
  wait_running "$node" "$others" 30 || exit 1
  log "restarted $node on port $port ($(rmq_since "$t0"))"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  kill)
    [ $# -eq 2 ] || { echo "usage: $0 kill NODE" >&2; exit 2; }
    kill_node "$2"
    ;;
  restart)
    [ $# -eq 2 ] || { echo "usage: $0 restart NODE" >&2; exit 2; }
    restart_node "$2"
    ;;
  ctl)
    [ $# -ge 2 ] || { echo "usage: $0 ctl NODE ARGS..." >&2; exit 2; }
    i=$(node_index "$2")
    shift 2
    rmq_ctl "$(node_name "$i")" "$@"
    ;;
  status)
    for i in "${indices[@]}"; do
      if rmq_alive "$dir/$i"; then
        rmq_ctl "$(node_name "$i")" cluster_status
        exit
      fi
    done
    log "no node of the cluster in $dir is running"
    exit 1
    ;;
  *) echo "usage: $0 start|stop|kill NODE|restart NODE|ctl NODE ARGS...|status" >&2; exit 2 ;;
esac
