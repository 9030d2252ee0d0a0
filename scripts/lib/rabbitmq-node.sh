# Private RabbitMQ nodes for tests: the parts broker.sh and cluster.sh share. Sourced, not run.
#
# A node runs as root straight from /usr/lib/rabbitmq/bin (no system service, no rabbitmq user; root's
# Erlang cookie), with its own node name, AMQP port, distribution port (AMQP port + 20000) and folder:
#   DIR/mnesia DIR/log DIR/pid DIR/port DIR/enabled_plugins ([]., no plugins) DIR/rabbitmq.conf
# Nothing here touches a node it did not start: processes are found through the node's pid file (the
# file, and its path in their environment), never by node name, so a node of the same name started from
# another folder (another engineer's) is safe.
#
# The caller defines `log MESSAGE...` (progress goes to stderr).

rmq_bin=/usr/lib/rabbitmq/bin

# Held while choosing ports and until the new nodes have bound them, so that two scripts starting
# nodes at the same time (two test runs) do not pick the same free port.
rmq_port_lock=${TMPDIR:-/tmp}/amqpwire-rabbitmq-ports.lock

rmq_now() { date +%s%3N; }

# Seconds since a `rmq_now` timestamp, for progress lines: "4.2s".
rmq_since() {
  local ms=$(($(rmq_now) - $1))
  printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

rmq_install_if_missing() {
  if [ -x "$rmq_bin/rabbitmq-server" ]; then return; fi
  # broker.sh and cluster.sh start at the same time in scripts/test.sh: one installs, the other waits
  # (two apt-get runs would fight over the dpkg lock).
  (
    flock -w 600 8 || true
    if [ -x "$rmq_bin/rabbitmq-server" ]; then exit 0; fi
    log "installing rabbitmq-server from the OS packages"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    # The package tries to start a system service; with no init system that fails harmlessly.
    $sudo apt-get install -y -qq rabbitmq-server >&2 || [ -x "$rmq_bin/rabbitmq-server" ]
  ) 8>>"${TMPDIR:-/tmp}/amqpwire-rabbitmq-install.lock"
}

rmq_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# An AMQP port is usable when it and its distribution port are free and neither falls in
# 35672..35682, where every rabbitmqctl on the machine listens while it talks to a node.
rmq_port_usable() {
  local amqp=$1 dist=$(($1 + 20000))
  [ "$dist" -lt 65536 ] || return 1
  if [ "$amqp" -ge 35672 ] && [ "$amqp" -le 35682 ]; then return 1; fi
  if [ "$dist" -ge 35672 ] && [ "$dist" -le 35682 ]; then return 1; fi
  rmq_port_free "$amqp" && rmq_port_free "$dist"
}

# rmq_lock_ports / rmq_unlock_ports: see rmq_port_lock. The nodes do not inherit fd 9 (rmq_launch), or
# a node would hold the lock for its whole life.
rmq_lock_ports() {
  exec 9>>"$rmq_port_lock"
  flock -w 120 9 || log "could not lock $rmq_port_lock in 120s; going on without it"
}
rmq_unlock_ports() { exec 9>&-; }

rmq_ctl() {
  local node=$1
  shift
  "$rmq_bin/rabbitmqctl" -n "$node" "$@"
}

# rmq_file_pid DIR: the pid in DIR/pid when that process is a live Erlang VM (beam.smp), else nothing.
# A zombie counts as gone: it holds no port, and here (pid 1 is not a classic init) a killed node's
# VM stays a zombie for about a second before it is reaped.
rmq_file_pid() {
  local pid stat
  pid=$(cat "$1/pid" 2>/dev/null) || return 0
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
  # /proc/PID/stat: "PID (COMM) STATE ..."
  [[ "$stat" == "$pid (beam.smp) "[!Z]* ]] && echo "$pid"
  return 0
}

# rmq_pids DIR: every process of the node whose folder is DIR: the VM (from its pid file) and, found by
# RABBITMQ_PID_FILE in their environment, the VM and its helpers (erl_child_setup, inet_gethost, the
# disk monitor's shell), so a lost pid file or a half-started node is covered too. Never another node,
# and never epmd: the first node to start on the machine launches it, with that node's environment, and
# every node on the machine (other people's too) needs it.
rmq_pids() {
  local pid
  {
    rmq_file_pid "$1"
    grep -lzxF "RABBITMQ_PID_FILE=$1/pid" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
  } | grep -vx "$$" | sort -u | while read -r pid; do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = epmd ] || echo "$pid"
  done || true
}

# rmq_alive DIR: the VM named in DIR/pid is running (no rabbitmqctl round trip, so it is cheap).
rmq_alive() { [ -n "$(rmq_file_pid "$1")" ]; }

# rmq_name_taken NODE: a node of that name is registered with epmd (so another one cannot start).
rmq_name_taken() { epmd -names 2>/dev/null | grep -q "^name ${1%@*} at port "; }

# rmq_launch NODE PORT DIR: starts the node in the background and returns at once (rmq_wait waits).
rmq_launch() {
  local node=$1 port=$2 dir=$3
  mkdir -p "$dir"
  [ -f "$dir/enabled_plugins" ] || echo '[].' >"$dir/enabled_plugins"
  # Tests set the memory watermark at runtime; keep the configured one ordinary.
  [ -f "$dir/rabbitmq.conf" ] || printf 'loopback_users = none\n' >"$dir/rabbitmq.conf"
  # `rabbitmqctl wait` reads the pid file: a stale one (after a kill) would name a dead process.
  rm -f "$dir/pid"
  echo "$port" >"$dir/port"
  (
    export RABBITMQ_NODENAME=$node
    export RABBITMQ_NODE_PORT=$port
    export RABBITMQ_DIST_PORT=$((port + 20000))
    export RABBITMQ_MNESIA_BASE=$dir/mnesia
    export RABBITMQ_LOG_BASE=$dir/log
    export RABBITMQ_PID_FILE=$dir/pid
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
    export RABBITMQ_CONFIG_FILE=$dir/rabbitmq
    export RABBITMQ_ALLOW_INPUT=false
    # The node outlives this script: it must not keep any descriptor of ours open (the port lock, a
    # caller's pipe, the socket through which Foundation's Process on Linux notices that its child
    # has exited: a node holding it makes `Process.waitUntilExit()` wait for ever).
    local fd
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-"; fi
    done
    exec "$rmq_bin/rabbitmq-server" -detached </dev/null
  ) >>"$dir/launch.log" 2>&1
}

# rmq_wait_bound PORT DIR [SECONDS]: waits until the node has bound its distribution port (about 1.5 s
# after launch; its AMQP port comes only at the end of the boot), which is what rmq_port_usable checks.
rmq_wait_bound() {
  local dist=$(($1 + 20000)) deadline=$(($(rmq_now) + ${3:-30} * 1000))
  while rmq_port_free "$dist"; do
    [ "$(rmq_now)" -lt "$deadline" ] || return 1
    sleep 0.1
  done || true
}

# rmq_wait NODE DIR [SECONDS]: waits until the node runs RabbitMQ; on failure shows its log.
rmq_wait() {
  local node=$1 dir=$2 output
  if ! output=$(rmq_ctl "$node" wait "$dir/pid" --timeout "${3:-90}" 2>&1); then
    log "$node did not start: $(echo "$output" | tail -n 3)"
    log "the end of its log ($dir/log):"
    tail -n 30 "$dir/log/$node.log" "$dir/launch.log" >&2 2>/dev/null || true
    return 1
  fi
}

# rmq_kill DIR: kill -9 every process of the node (a crash, not a shutdown) and waits until they are gone.
rmq_kill() {
  local dir=$1 pids deadline
  pids=$(rmq_pids "$dir")
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    deadline=$(($(rmq_now) + 10000))
    while [ -n "$(rmq_pids "$dir")" ]; do
      if [ "$(rmq_now)" -ge "$deadline" ]; then
        log "processes of the node in $dir are still there after kill -9: $(rmq_pids "$dir" | tr '\n' ' ')"
        return 1
      fi
      sleep 0.05
    done
  fi
  rm -f "$dir/pid"
}

# rmq_stop NODE DIR: a clean shutdown when the node answers, then kill -9 whatever is left, so that
# nothing of the node keeps running. Works on a node that was killed or never started.
rmq_stop() {
  local node=$1 dir=$2
  if rmq_alive "$dir"; then
    # `stop PIDFILE` returns once the VM has exited (3-4 s). A node still booting (waiting for the
    # other nodes' tables) may not answer for minutes: after 20 s it is killed instead.
    timeout 20 "$rmq_bin/rabbitmqctl" -n "$node" stop "$dir/pid" >/dev/null 2>&1 || true
  fi
  rmq_kill "$dir"
}
