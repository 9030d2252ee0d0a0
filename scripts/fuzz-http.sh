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
# shellcheck source=lib/fuzz-runner.sh
. "$repo/scripts/lib/fuzz-runner.sh"
fuzz_args "$@"

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

fuzz_run fuzz-http "$binary" "$corpus" "$build/fuzz-http.log" "$artifacts" 4096 -dict="$repo/Fuzz/http.dict"
