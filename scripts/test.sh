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
# Environment: FUZZ_SECONDS (default 60; 0 skips the fuzz runs), shared by the two fuzzers: each
# runs for three quarters of it.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH=/opt/swift/usr/bin:$PATH

broker_dir=$(mktemp -d /tmp/amqpwire-broker.XXXXXX)
export BROKER_DIR=$broker_dir
export BROKER_NODE="amqpwire-test-$$@localhost"

cleanup() {
  scripts/broker.sh stop || true
  rm -rf "$broker_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n=== %s\n' "$*"; }
failures=()

step "starting a private RabbitMQ node"
if ! broker_env=$(scripts/broker.sh start); then
  echo "could not start the test broker" >&2
  exit 1
fi
eval "$broker_env"
echo "AMQP_URL=$AMQP_URL"

step "preparing the Python peers for the interoperability tests (PyPI: PyMessagingFramework, Nameko)"
if ! INTEROP_PYTHON=$(scripts/interop-venv.sh); then
  echo "could not create the interop venv (scripts/interop-venv.sh)" >&2
  exit 1
fi
export INTEROP_PYTHON
echo "INTEROP_PYTHON=$INTEROP_PYTHON"

# The Mail tests run a real SMTP server: aiosmtpd from the OS packages, under Debian's python3.
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  step "installing python3-aiosmtpd (the SMTP server the Mail tests run)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-aiosmtpd; } \
    || echo "could not install python3-aiosmtpd: the Mail SMTP tests will fail" >&2
fi

step "checking formatting (swift format, .swift-format)"
swift format lint --strict -r Sources Tests Package.swift || failures+=("formatting (run: swift format -i -r Sources Tests Package.swift)")

step "building (debug, with tests)"
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  echo "the build failed" >&2
  exit 1
fi

step "tests (unit, fake broker, integration), in parallel"
swift test --skip-build --skip Isolated || failures+=("tests")

# Suites named Isolated run on their own: broker-wide faults (a memory alarm blocks every
# publisher on the broker) and one-second heartbeats, which a busy machine could starve.
step "isolated tests (broker-wide faults, heartbeat timing)"
swift test --skip-build --filter Isolated || failures+=("isolated tests")

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
  printf '\nFAILED: %s\n' "${failures[*]}"
  exit 1
fi
printf '\nall tests passed\n'
