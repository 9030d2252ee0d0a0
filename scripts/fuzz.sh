#!/usr/bin/env bash
# Fuzzes the AMQP frame decoder and field-table reader with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS] [--update-corpus]
#
# Compiles the codec sources with Fuzz/FrameDecoderFuzz/main.swift into one module (the fuzz
# target is not a SwiftPM target: SwiftPM cannot pass -sanitize=fuzzer to one product), then runs
# it for SECONDS (default 60) on a copy of Fuzz/corpus/frames. With --update-corpus, new inputs
# that reach new code are merged back into the committed corpus. Exits non-zero on a finding and
# prints the crasher's path. Replay one with `SWIFT_BACKTRACE=enable=no .build-fuzz/frame-decoder-fuzz
# CRASHER`; once fixed, copy it into Fuzz/corpus/frames (FuzzRegressionTests replays every file
# there) and add a test for it to FuzzRegressionTests.
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
artifacts="$build/artifacts/$(date +%Y%m%d-%H%M%S)"  # per run, so only this run's crashers are listed
binary="$build/frame-decoder-fuzz"
corpus="$repo/Fuzz/corpus/frames"
mkdir -p "$build" "$artifacts"

compile() {
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name AMQPWireFuzz -package-name amqpfuzz \
    -swift-version 6 -enable-upcoming-feature InternalImportsByDefault -enable-upcoming-feature ExistentialAny \
    -enable-upcoming-feature NonisolatedNonsendingByDefault \
    -use-ld=lld "$@" "$repo/Fuzz/FrameDecoderFuzz/main.swift" -o "$binary"
}

# The whole library, so the fuzzed code is exactly what ships: AMQPWire and the socket layer it
# imports (POSIXSockets, `package` access) compiled as one module, from copies without the
# `import POSIXSockets` lines. If that stops compiling, the run fails (it once fell back to the
# codec alone without anyone noticing).
cd "$repo"
flat="$build/sources"
rm -rf "$flat"
mkdir -p "$flat"
while IFS= read -r file; do
  sed '/^import POSIXSockets$/d' "$file" >"$flat/$(echo "$file" | tr / _)"
done < <(find Sources/AMQPWire Sources/POSIXSockets -name '*.swift' | sort)
mapfile -t all_sources < <(find "$flat" -name '*.swift' | sort)
echo "fuzz: compiling $binary" >&2
if ! compile "${all_sources[@]}" 2>"$build/compile.log"; then
  grep -E 'error' "$build/compile.log" | head -n 20 >&2
  echo "fuzz: the library does not compile as one fuzz module (log: $build/compile.log)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/amqp-fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$corpus"/* "$work"/

# The Swift runtime's crash backtracer reads memory ASan has poisoned and reports itself instead of the crash.
export SWIFT_BACKTRACE=enable=no
echo "fuzz: running for ${seconds}s on $(ls "$work" | wc -l) corpus inputs" >&2
status=0
# libFuzzer reports every new input; keep that in a log and show the summary.
"$binary" "$work" -max_total_time="$seconds" -max_len=70000 -timeout=10 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 >"$build/fuzz.log" 2>&1 || status=$?
grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )|ERROR|SUMMARY' "$build/fuzz.log" >&2 || true

if [ "$status" -ne 0 ]; then
  tail -n 60 "$build/fuzz.log" >&2
  echo "fuzz: FINDING (exit $status); crasher(s):" >&2
  ls -t "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* 2>/dev/null | head -5 >&2 || true
  exit "$status"
fi

if $update_corpus; then
  before=$(ls "$corpus" | wc -l)
  "$binary" -merge=1 -max_len=70000 "$corpus" "$work" >/dev/null 2>&1
  echo "fuzz: corpus grew from $before to $(ls "$corpus" | wc -l) inputs" >&2
fi
echo "fuzz: no findings" >&2
