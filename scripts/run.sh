#!/usr/bin/env bash
# Runs the whole system on this machine: a private RabbitMQ node, the email service and the web
# service. The one command a newcomer needs to see it work:
#
#   scripts/run.sh
#
# It installs rabbitmq-server when missing, starts a private broker (scripts/broker.sh: its own
# node, port and folder under .run/), builds both services in release mode, starts them, and
# prints the URL to open. Emails are printed here (console transport) unless told otherwise.
# Ctrl-C stops everything it started, cleanly.
#
# Environment:
#   WEB_PORT            the web page's port (default 8080)
#   EMAIL_TRANSPORT     console (default), smtp or maildir; with smtp: SMTP_HOST, SMTP_PORT,
#                       SMTP_USERNAME, SMTP_PASSWORD; with maildir: EMAIL_MAILDIR
#   RUN_BUILD           release (default) or debug (reuses the test build; for the end-to-end test)
#   RUN_STATE_DIR       where the broker, journal and outbox live (default .run/)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH=/opt/swift/usr/bin:$PATH

state=${RUN_STATE_DIR:-$repo/.run}
port=${WEB_PORT:-8080}
build=${RUN_BUILD:-release}
mkdir -p "$state"
lock="$state/run.pid"

say() { echo "run: $*" >&2; }

if [ -f "$lock" ] && kill -0 "$(cat "$lock")" 2>/dev/null; then
  say "the system is already running (pid $(cat "$lock")); stop it with Ctrl-C in its terminal, or: kill $(cat "$lock")"
  exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  say "port $port is already in use; choose another one: WEB_PORT=8081 scripts/run.sh"
  exit 1
fi
case "$build" in release | debug) ;; *) say "RUN_BUILD must be release or debug, not '$build'"; exit 2 ;; esac
echo $$ >"$lock"

export BROKER_DIR="$state/broker"
export BROKER_NODE=${RUN_BROKER_NODE:-amqpwire-run@localhost}
export BROKER_PORT=${RUN_BROKER_PORT:-5690}
pids=()

cleanup() {
  trap - EXIT INT TERM
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  scripts/broker.sh stop
  rm -f "$lock"
  say "stopped; nothing left running"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting RabbitMQ (private node $BROKER_NODE, data in $BROKER_DIR)"
if ! broker_env=$(scripts/broker.sh start); then
  say "could not start the broker"
  exit 1
fi
eval "$broker_env"

if [ "$build" = release ]; then
  say "building the services (release; the first build takes a few minutes)"
  swift build -c release --product email-service >&2 && swift build -c release --product web-service >&2 \
    || { say "the build failed"; exit 1; }
fi
bin=$(swift build -c "$build" --show-bin-path)

"$bin/email-service" --amqp-url "$AMQP_URL" --journal "$state/email-service/delivered.log" \
  --transport "${EMAIL_TRANSPORT:-console}" &
pids+=($!)
"$bin/web-service" --amqp-url "$AMQP_URL" --port "$port" --outbox "$state/web-service/outbox.log" &
pids+=($!)

for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
case "${EMAIL_TRANSPORT:-console}" in
  console) where="printed below, in this terminal" ;;
  smtp) where="sent to the SMTP server ${SMTP_HOST:-localhost}:${SMTP_PORT:-25}" ;;
  maildir) where="written to the Maildir ${EMAIL_MAILDIR:-?}" ;;
  *) where="handled by the ${EMAIL_TRANSPORT} transport" ;;
esac
echo
echo "  Open http://127.0.0.1:$port/   (API: http://127.0.0.1:$port/docs)"
echo "  Emails are $where."
echo "  Ctrl-C stops everything."
echo

# Until Ctrl-C, or until a service ends on its own (then stop the rest too).
wait -n "${pids[@]}"
say "a service stopped on its own"
exit 1
