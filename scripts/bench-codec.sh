#!/usr/bin/env bash
# Codec micro-benchmarks: time per operation, then heap allocations per operation counted by
# valgrind (the difference between runs of N and 2N iterations, divided by N, so setup and
# process start-up cancel out). Release build.
#
#   scripts/bench-codec.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product amqp-codec-bench >&2
bench=.build/release/amqp-codec-bench
echo "== time (best of 5 runs)"
"$bench"
if ! command -v valgrind >/dev/null; then
  echo "(valgrind not installed: apt-get install valgrind, for allocation counts)"
  exit 0
fi
echo "== heap allocations per operation (valgrind)"
allocs() {
  valgrind --tool=memcheck --leak-check=no "$bench" --case "$1" --iterations "$2" 2>&1 \
    | sed -nE 's/.*total heap usage: ([0-9,]+) allocs.*/\1/p' | tr -d ,
}
n=1000
for c in encode-publish-100B decode-delivery-100B encode-field-table decode-field-table; do
  a=$(allocs "$c" "$n")
  b=$(allocs "$c" $((2 * n)))
  awk -v c="$c" -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%-24s %6.2f allocations/op\n", c, (b - a) / n }'
done
