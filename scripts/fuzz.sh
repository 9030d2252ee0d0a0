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
# shellcheck source=lib/fuzz-runner.sh
. "$repo/scripts/lib/fuzz-runner.sh"
fuzz_args "$@"

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

fuzz_run fuzz "$binary" "$corpus" "$build/fuzz.log" "$artifacts" 70000
