#!/usr/bin/env bash
# Runs the libFuzzer harnesses one after the other (mk/fuzz.mk calls this).
#
#   run.sh fuzz  BUILD SECONDS [names]   fuzz each harness SECONDS on its seed
#                                        corpus + BUILD/corpus/<name> (kept)
#   run.sh smoke BUILD SECONDS [names]   replay the seed corpus and regression
#                                        inputs, then fuzz SECONDS from a
#                                        scratch copy (what CI runs)
#
# names: harness names, comma- or space-separated (default: every
# BUILD/fuzz_<name>).
# Prints one line per harness (executions, seconds, coverage, result) and a
# closing "fuzz: N passed, N failed"; exits non-zero if any harness failed.
set -uo pipefail
# All in one function: bash parses it whole before running, so an edit of
# this file during a long run cannot derail that run.
main() {
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

mode=${1:?mode: fuzz or smoke}
build=${2:?build dir}
seconds=${3:?seconds}
only=${4:-}

# Per-harness libFuzzer options: the longest input worth trying.
max_len() {
  case "$1" in
    cursor) echo 512 ;;
    key) echo 1024 ;;
    query) echo 4096 ;;
    json) echo 16384 ;;
    fcgi) echo 32768 ;;
    ingest*) echo 65536 ;;
    *) echo 8192 ;;
  esac
}

names=()
if [ -n "$only" ]; then
  IFS=', ' read -r -a names <<<"$only"
else
  for b in "$build"/fuzz_*; do
    [ -x "$b" ] && [ -f "$b" ] || continue
    names+=("${b##*/fuzz_}")
  done
fi
if [ ${#names[@]} -eq 0 ]; then
  echo "fuzz: no harness built in $build" >&2
  exit 1
fi

# Leaks are findings too; a symbolised stack names the line.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/bin/llvm-symbolizer-14 ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
fi

mkdir -p "$build/logs"
passed=0
failed=0
failed_names=()
summary=()
for n in "${names[@]}"; do
  bin="$build/fuzz_$n"
  seeds="tests/fuzz/corpus/$n"
  regress="tests/fuzz/regressions/$n"
  dict="tests/fuzz/dict/$n.dict"
  art="$build/artifacts/$n"
  log="$build/logs/$n.$mode.log"
  mkdir -p "$art" "$seeds"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $n: $bin is not built" >&2
    failed=$((failed + 1)); failed_names+=("$n"); continue
  fi
  opts=(-max_len="$(max_len "$n")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$art/")
  [ -f "$dict" ] && opts+=(-dict="$dict")
  : >"$log"
  rc=0
  if [ "$mode" = smoke ]; then
    # 1. every committed input once (files given one by one: run and exit)
    mapfile -t files < <(find "$seeds" "$regress" -type f ! -name '.*' 2>/dev/null | sort)
    if [ ${#files[@]} -gt 0 ]; then
      "$bin" "${opts[@]}" "${files[@]}" >>"$log" 2>&1 || rc=$?
    fi
    # 2. a short run from a scratch corpus seeded with them
    work=$(mktemp -d "${TMPDIR:-/tmp}/rr-fuzz-$n.XXXXXX")
    if [ $rc -eq 0 ]; then
      dirs=("$work" "$seeds")
      [ -d "$regress" ] && dirs+=("$regress")
      "$bin" "${opts[@]}" -max_total_time="$seconds" "${dirs[@]}" >>"$log" 2>&1 || rc=$?
    fi
    rm -rf "$work"
  else
    work="$build/corpus/$n"
    mkdir -p "$work"
    dirs=("$work" "$seeds")
    [ -d "$regress" ] && dirs+=("$regress")
    "$bin" "${opts[@]}" -max_total_time="$seconds" "${dirs[@]}" >>"$log" 2>&1 || rc=$?
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}')
  cov=$(grep -oE '(DONE|INITED|#[0-9]+).*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
  line="$n: ${execs:-?} execs in ${secs:-?} s, ${cov:-cov: ?}"
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    summary+=("ok      $line")
  else
    failed=$((failed + 1)); failed_names+=("$n")
    summary+=("FAILED  $line (exit $rc; log $log)")
    echo "---- $n: last lines of $log" >&2
    tail -40 "$log" >&2
    ls -1 "$art" 2>/dev/null | sed "s|^|  artifact: $art/|" >&2
  fi
done

echo
echo "fuzz ($mode, ${seconds}s per harness):"
printf '  %s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
}
main "$@"
exit $?
