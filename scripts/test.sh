#!/usr/bin/env bash
# Runs every test: the one command a newcomer needs on a fresh Debian machine.
#
#   scripts/test.sh
#
# Installs rabbitmq-server and python3-aiosmtpd (the Mail tests' SMTP server) from the OS packages
# when missing, starts a private broker (its own node name, port and data folder; never a
# system-wide one), exports AMQP_URL, builds, runs all tests
# (unit, fake broker, integration against the broker, then the Isolated suites on their own),
# fuzzes the codec and the HTTP request parser for a bounded time, and stops the broker even when
# something fails.
#
# The Isolated pass also needs what the fault tests break: a second private node they stop and
# kill (AMQP_FAULT_*) and a three-node cluster whose nodes they kill (AMQP_CLUSTER_*, scripts/
# cluster.sh). Both boot in the background while the code builds, and are stopped after the
# Isolated pass, and on any exit. Fault tests print figures as `[figures] ...` lines.
#
# Environment: FUZZ_SECONDS (default 60; 0 skips the fuzz runs; the two fuzzers get three quarters
# of it each); BROKER_PORT (default 5710),
# FAULT_BROKER_PORT (5730) and CLUSTER_PORT (5740, three ports) are where the search for free
# ports starts.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH=/opt/swift/usr/bin:$PATH

broker_dir=$(mktemp -d /tmp/amqpwire-broker.XXXXXX)
test_log=$(mktemp /tmp/amqpwire-test-log.XXXXXX)
export BROKER_DIR=$broker_dir
export BROKER_NODE="amqpwire-test-$$@localhost"
fault_dir=$(mktemp -d /tmp/amqpwire-fault-broker.XXXXXX)
cluster_dir=$(mktemp -d /tmp/amqpwire-cluster.XXXXXX)
fault_env=$fault_dir.env
cluster_env=$cluster_dir.env
starting=()

# The fault broker and the cluster, in the background. Their progress goes to $dir.log.
start_fault_nodes() {
  BROKER_DIR=$fault_dir BROKER_NODE="amqpwire-fault-$$@localhost" BROKER_PORT=${FAULT_BROKER_PORT:-5730} \
    BROKER_EXPORT_PREFIX=AMQP_FAULT_ scripts/broker.sh start >"$fault_env" 2>"$fault_dir.log" &
  starting+=($!)
  CLUSTER_DIR=$cluster_dir CLUSTER_NAME="amqpwire-c$$-" CLUSTER_PORT=${CLUSTER_PORT:-5740} \
    scripts/cluster.sh start >"$cluster_env" 2>"$cluster_dir.log" &
  starting+=($!)
}

# Waits for both and exports what they print; false when one did not start (its log is shown).
wait_for_fault_nodes() {
  local ok=0 pid
  for pid in "${starting[@]}"; do wait "$pid" || ok=1; done
  starting=()
  cat "$fault_dir.log" "$cluster_dir.log"
  [ "$ok" -eq 0 ] || return 1
  eval "$(cat "$fault_env" "$cluster_env")"
  echo "AMQP_FAULT_URL=$AMQP_FAULT_URL"
  echo "AMQP_CLUSTER_URLS=$AMQP_CLUSTER_URLS"
}

fault_nodes_stopped=false
stop_fault_nodes() {
  local pid
  $fault_nodes_stopped && return
  fault_nodes_stopped=true
  # A node still booting would be missed by stop: let the starts finish first (seconds).
  for pid in "${starting[@]}"; do wait "$pid" 2>/dev/null; done
  starting=()
  CLUSTER_DIR=$cluster_dir scripts/cluster.sh stop || true
  BROKER_DIR=$fault_dir BROKER_NODE="amqpwire-fault-$$@localhost" scripts/broker.sh stop || true
}

cleanup() {
  # To the end even on a second Ctrl-C: an interrupted cleanup would leave nodes running.
  trap '' INT TERM
  stop_fault_nodes
  scripts/broker.sh stop || true
  rm -rf "$test_log" "$broker_dir" "$fault_dir" "$cluster_dir" "$fault_env" "$cluster_env" "$fault_dir.log" "$cluster_dir.log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n=== %s\n' "$*"; }
failures=()

# Test output is also kept here, so that a failed run ends with which tests failed and why:
# whoever reads only the tail of a long log (a CI summary) still sees them.
run_tests() {
  swift test "$@" 2>&1 | tee -a "$test_log"
  return "${PIPESTATUS[0]}"
}
# The first issue each failing test recorded (one line each, shortened), at most 12 tests.
summarize_failed_tests() {
  grep -aE '(✘|error:).*(recorded an issue|failed|XCTAssert)' "$test_log" \
    | grep -avE 'Test run with|Suite .* failed' \
    | awk '{ key = $0; sub(/ recorded an issue.*| failed after.*/, "", key); if (!(key in seen)) { seen[key] = 1; print } }' \
    | cut -c1-400 | head -n 12
}

step "starting a private RabbitMQ node"
if ! broker_env=$(scripts/broker.sh start); then
  echo "could not start the test broker" >&2
  exit 1
fi
eval "$broker_env"
echo "AMQP_URL=$AMQP_URL"
start_fault_nodes

step "preparing the Python peers for the interoperability tests (PyPI: PyMessagingFramework, Nameko)"
if ! INTEROP_PYTHON=$(scripts/interop-venv.sh); then
  echo "could not create the interop venv (scripts/interop-venv.sh)" >&2
  exit 1
fi
export INTEROP_PYTHON
echo "INTEROP_PYTHON=$INTEROP_PYTHON"

# OS packages the tests drive, under Debian's python3: aiosmtpd (the SMTP server of the Mail and
# service tests) and a real browser for the end-to-end test (chromium, its driver, selenium).
missing=()
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
/usr/bin/python3 -c 'import selenium' 2>/dev/null || missing+=(python3-selenium)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]} (the SMTP server and the browser the tests drive)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || echo "could not install ${missing[*]}: the tests that need them will fail" >&2
fi

step "checking formatting (swift format, .swift-format)"
swift format lint --strict -r Sources Tests Package.swift || failures+=("formatting (run: swift format -i -r Sources Tests Package.swift)")

step "building (debug, with tests)"
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  echo "the build failed" >&2
  exit 1
fi

# Booted while the code built; waited for here, so that nodes still booting (seconds of CPU each)
# do not slow the parallel tests. Without them the fault tests fail, loudly, saying what is
# missing; the other tests run all the same.
step "waiting for the fault broker and the cluster"
wait_for_fault_nodes || failures+=("starting the fault broker and the cluster")

step "tests (unit, fake broker, integration), in parallel"
run_tests --skip-build --skip Isolated || failures+=("tests")

# Suites named Isolated run on their own and one at a time (--no-parallel): broker-wide faults (a
# memory alarm blocks every publisher on the broker; the fault broker is stopped and killed; cluster
# nodes are killed), the proxy's fault stairways, and one-second heartbeats, which a busy machine
# could starve.
step "isolated tests (broker faults, cluster failover, proxy faults, heartbeat timing), one at a time"
run_tests --skip-build --no-parallel --filter Isolated || failures+=("isolated tests")
stop_fault_nodes

fuzz_seconds=${FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" -gt 0 ]; then
  # Two fuzzers share the budget: each runs for three quarters of it (45 s of the default 60).
  each=$(( (fuzz_seconds * 3 + 3) / 4 ))
  if [ -x scripts/fuzz.sh ]; then
    step "fuzzing the frame decoder for ${each}s"
    scripts/fuzz.sh "$each" || failures+=("fuzzing the frame decoder")
  fi
  if [ -x scripts/fuzz-http.sh ]; then
    step "fuzzing the HTTP request parser for ${each}s"
    scripts/fuzz-http.sh "$each" || failures+=("fuzzing the HTTP parser")
  fi
fi

if [ ${#failures[@]} -gt 0 ]; then
  if [ -s "$test_log" ]; then
    printf '\nfailed tests (the first issue of each):\n'
    summarize_failed_tests
  fi
  printf '\nFAILED: %s\n' "${failures[*]}"
  exit 1
fi
printf '\nall tests passed\n'
