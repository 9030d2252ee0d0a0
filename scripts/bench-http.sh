#!/usr/bin/env bash
# Benchmarks the HTTP server with wrk: requests per second and latency on /health (a tiny text
# body) and /form (an HTML page of about 2 KB), each with keep-alive and with `Connection: close`
# (a new TCP connection per request).
#
#   scripts/bench-http.sh            # DURATION=10s CONNECTIONS=50 THREADS=2 PORT=18090
#
# Builds http-bench-server in release, starts it, runs wrk (installs the Debian package when
# missing), prints one line per case and stops the server. wrk and the server share the machine,
# so the figures are a floor for what the server does on its own.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH=/opt/swift/usr/bin:$PATH
duration=${DURATION:-10s}
connections=${CONNECTIONS:-50}
threads=${THREADS:-2}
port=${PORT:-18090}

if ! command -v wrk >/dev/null; then
  echo "bench-http: installing wrk" >&2
  apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi

echo "bench-http: building http-bench-server (release)" >&2
swift build -c release --product http-bench-server 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' >&2 || true
binary="$(swift build -c release --show-bin-path)/http-bench-server"

"$binary" --port "$port" --max-connections 1024 >/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.1
done

echo "wrk -t$threads -c$connections -d$duration --latency, $(nproc) cores shared by wrk and the server"
printf '%-8s %-11s %12s %10s %10s %10s\n' endpoint connection "requests/s" "avg" "p50" "p99"
for path in /health /form; do
  for mode in keep-alive close; do
    extra=()
    [ "$mode" = close ] && extra=(-H 'Connection: close')
    out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "${extra[@]}" "http://127.0.0.1:$port$path")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    avg=$(awk '$1 == "Latency" {print $2; exit}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | paste -sd ';' || true)
    printf '%-8s %-11s %12s %10s %10s %10s %s\n' "$path" "$mode" "$rps" "$avg" "$p50" "$p99" "$errors"
  done
done
