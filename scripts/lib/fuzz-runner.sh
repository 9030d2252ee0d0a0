# What scripts/fuzz.sh and scripts/fuzz-http.sh share: their arguments, and running a compiled
# libFuzzer target on a copy of its corpus (sourced; each script compiles its own target).

# fuzz_args "$@": sets `seconds` (default 60) and `update_corpus` from [SECONDS] [--update-corpus].
fuzz_args() {
  seconds=60
  update_corpus=false
  for arg in "$@"; do
    case "$arg" in
      --update-corpus) update_corpus=true ;;
      ''|*[!0-9]*) echo "usage: $0 [SECONDS] [--update-corpus]" >&2; exit 2 ;;
      *) seconds=$arg ;;
    esac
  done
}

# fuzz_run NAME BINARY CORPUS LOG ARTIFACTS MAX_LEN [LIBFUZZER_ARGS...]: runs BINARY for `seconds`
# on a copy of CORPUS; on a finding, prints the log's end and the crashers and exits with libFuzzer's
# status. With `update_corpus`, merges the inputs that reached new code back into CORPUS.
fuzz_run() {
  local name=$1 binary=$2 corpus=$3 log=$4 artifacts=$5 max_len=$6
  shift 6
  local work status=0 before
  work=$(mktemp -d "${TMPDIR:-/tmp}/$name-corpus.XXXXXX")
  # shellcheck disable=SC2064  # expand now: `work` is local
  trap "rm -rf '$work'" EXIT
  cp "$corpus"/* "$work"/

  # The Swift runtime's crash backtracer reads memory ASan has poisoned and reports itself instead of the crash.
  export SWIFT_BACKTRACE=enable=no
  echo "$name: running for ${seconds}s on $(ls "$work" | wc -l) corpus inputs" >&2
  # libFuzzer reports every new input; keep that in a log and show the summary.
  "$binary" "$work" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 "$@" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )|ERROR|SUMMARY' "$log" >&2 || true

  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "$name: FINDING (exit $status); crasher(s):" >&2
    ls -t "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* 2>/dev/null | head -5 >&2 || true
    exit "$status"
  fi

  if $update_corpus; then
    before=$(ls "$corpus" | wc -l)
    "$binary" -merge=1 -max_len="$max_len" "$corpus" "$work" >/dev/null 2>&1
    echo "$name: corpus grew from $before to $(ls "$corpus" | wc -l) inputs" >&2
  fi
  echo "$name: no findings" >&2
}
