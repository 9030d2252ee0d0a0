#!/usr/bin/env bash
# Fuzzes the HTTP request parser with libFuzzer.
#
#   scripts/fuzz-http.sh [SECONDS] [--update-corpus]
#
# Compiles the parser's sources (Sources/HTTPServer/Message and Parser: no I/O, no other module)
# with Fuzz/HTTPParserFuzz/main.swift into one module, as scripts/fuzz.sh does for the AMQP codec,
# then runs it for SECONDS (default 60) on a copy of Fuzz/corpus/http-requests. The target checks
# that feeding an input whole, byte by byte and in pieces gives the same results, that accepted
# requests respect the limits and reparse to themselves. With --update-corpus, new inputs that
# reach new code are merged back into the committed corpus. Exits non-zero on a finding and prints
# the crasher's path. Replay one with `SWIFT_BACKTRACE=enable=no .build-fuzz/http-parser-fuzz CRASHER`;
# once fixed, copy it into Fuzz/corpus/http-requests (HTTPFuzzRegressionTests replays every file
# there) and add a test for it.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
update_corpus=false
for arg in "$@"; do
  case "$arg" in
    --update-corpus) update_corpus=true ;;
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] [--update-corpus]" >&2; exit 2 ;;
    *) seconds=$arg ;;
  esac
done

build="$repo/.build-fuzz"
artifacts="$build/artifacts-http/$(date +%Y%m%d-%H%M%S)"  # per run, so only this run's crashers are listed
binary="$build/http-parser-fuzz"
corpus="$repo/Fuzz/corpus/http-requests"
mkdir -p "$build" "$artifacts"

cd "$repo"
mapfile -t sources < <(find Sources/HTTPServer/Message Sources/HTTPServer/Parser -name '*.swift' | sort)
echo "fuzz-http: compiling $binary" >&2
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HTTPParserFuzz -use-ld=lld \
  "${sources[@]}" "$repo/Fuzz/HTTPParserFuzz/main.swift" -o "$binary"

work=$(mktemp -d "${TMPDIR:-/tmp}/http-fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$corpus"/* "$work"/

# The Swift runtime's crash backtracer reads memory ASan has poisoned and reports itself instead of the crash.
export SWIFT_BACKTRACE=enable=no
echo "fuzz-http: running for ${seconds}s on $(ls "$work" | wc -l) corpus inputs" >&2
status=0
# libFuzzer reports every new input; keep that in a log and show the summary.
"$binary" "$work" -max_total_time="$seconds" -max_len=4096 -timeout=10 -dict="$repo/Fuzz/http.dict" \
  -artifact_prefix="$artifacts/" -print_final_stats=1 >"$build/fuzz-http.log" 2>&1 || status=$?
grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )|ERROR|SUMMARY' "$build/fuzz-http.log" >&2 || true

if [ "$status" -ne 0 ]; then
  tail -n 60 "$build/fuzz-http.log" >&2
  echo "fuzz-http: FINDING (exit $status); crasher(s):" >&2
  ls -t "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* 2>/dev/null | head -5 >&2 || true
  exit "$status"
fi

if $update_corpus; then
  before=$(ls "$corpus" | wc -l)
  "$binary" -merge=1 -max_len=4096 "$corpus" "$work" >/dev/null 2>&1
  echo "fuzz-http: corpus grew from $before to $(ls "$corpus" | wc -l) inputs" >&2
fi
echo "fuzz-http: no findings" >&2
