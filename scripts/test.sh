#!/usr/bin/env bash
# `make test` / `make test-asan`: install deps, build, start a throw-away local
# stack, run the C unit tests (`make unit`) and the HTTP/API suite
# (tests/api, pytest), and always stop the stack again.
#
#   scripts/test.sh test        build/      stack "test"      on 127.0.0.1:18080
#   scripts/test.sh test-asan   build-asan/ stack "test-asan" on 127.0.0.1:18081
#                               (make BUILD=build-asan SAN=1 ...), then fails if
#                               the service log shows a sanitizer report
#
# Environment: MAKE (set by the make recipe), PYTEST_ARGS (extra pytest
# arguments, e.g. "-k auth -x"), RR_TEST_TIMEOUT (seconds per suite, 2400),
# RR_TEST_PORT (instead of 18080/18081, e.g. when another checkout's tests run).
# Two runs of the same MODE in one checkout take turns (they would share the
# stack in .run/<stack>).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
MAKE=${MAKE:-make}
MODE=${1:-test}
SUITE_TIMEOUT=${RR_TEST_TIMEOUT:-2400}

case $MODE in
  test)
    STACK="test"; PORT=${RR_TEST_PORT:-18080}; BUILD=build; MAKEVARS=() ;;
  test-asan)
    STACK=test-asan; PORT=${RR_TEST_PORT:-18081}; BUILD=build-asan; MAKEVARS=(BUILD=build-asan SAN=1)
    # handle_segv=0: the test plugin crashes on purpose (SIGSEGV); a real memory
    # error is still reported by the checks ASan adds to every access
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:handle_segv=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} ;;
  *) echo "usage: scripts/test.sh test|test-asan" >&2; exit 2 ;;
esac

# What the suites are written against (tests read them from the environment).
export REALREACH_REQUEST_TIMEOUT=3
export REALREACH_KEY_CACHE_TTL=0
export REALREACH_WORKERS=4

say() { echo "== $MODE: $*"; }

mkdir -p .run
exec 8>".run/.$STACK.run.lock"
if ! flock -n 8; then
  say "another '$MODE' run in this checkout holds .run/.$STACK.run.lock: waiting for it"
  flock -w 3600 8 || { echo "== $MODE: gave up waiting for the other run" >&2; exit 1; }
fi

bash scripts/deps.sh
say "$MAKE${MAKEVARS[*]:+ ${MAKEVARS[*]}} build"
$MAKE "${MAKEVARS[@]}" build

# Every run starts from an empty database: tests see only what they create,
# and a migration edited since the last run cannot trip over old state.
bash scripts/stack.sh stop "$STACK" 8>&- >/dev/null 2>&1 || true
rm -rf ".run/$STACK"

LOG="$ROOT/.run/$STACK/realreach.log"
log_off=$(stat -c %s "$LOG" 2>/dev/null || echo 0)   # the log is appended to

stopped=0
stop_stack() {
  [ $stopped = 1 ] && return 0
  stopped=1
  bash scripts/stack.sh stop "$STACK" 8>&- || echo "== $MODE: warning: stack stop failed" >&2
}
trap stop_stack EXIT
trap 'stop_stack; exit 130' INT
trap 'stop_stack; exit 143' TERM

failures=()
say "starting stack $STACK on 127.0.0.1:$PORT"
# (8>&-: the daemons must not inherit the run lock)
if bash scripts/stack.sh start "$STACK" --port "$PORT" --build "$BUILD" \
     --plugins "$BUILD/plugins:$BUILD/test-plugins" 8>&-; then
  eval "$(bash scripts/stack.sh env "$STACK")"

  say "$MAKE${MAKEVARS[*]:+ ${MAKEVARS[*]}} unit"
  rc=0
  timeout --foreground -k 30 "$SUITE_TIMEOUT" $MAKE "${MAKEVARS[@]}" unit || rc=$?
  [ $rc = 0 ] || failures+=("unit tests (exit $rc)")

  say "pytest tests/api against $RR_BASE_URL"
  rc=0
  # Debian's interpreter: the python3-* packages belong to it, and another
  # python3 may come first on PATH.
  # shellcheck disable=SC2086
  timeout --foreground -k 30 "$SUITE_TIMEOUT" /usr/bin/python3 -m pytest -q tests/api ${PYTEST_ARGS:-} || rc=$?
  case $rc in
    0) ;;
    5) failures+=("API tests: pytest collected no tests (exit 5)") ;;
    *) failures+=("API tests (pytest exit $rc)") ;;
  esac
else
  failures+=("stack $STACK did not start")
fi

stop_stack
if [ "$MODE" = test ]; then say "pytest tests/faults (own stacks on 127.0.0.1:${RR_FAULTS_PORT:-18085})"; rc=0; RR_FAULTS_BUILD="$BUILD" timeout --foreground -k 30 "$SUITE_TIMEOUT" /usr/bin/python3 -m pytest -q tests/faults 8>&- || rc=$?; [ $rc = 0 ] || failures+=("fault tests (pytest exit $rc)"); fi

if [ "$MODE" = test-asan ] && [ -f "$LOG" ]; then
  if tail -c +"$((log_off + 1))" "$LOG" | grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:'; then
    echo "== $MODE: sanitizer reports in $LOG:" >&2
    tail -c +"$((log_off + 1))" "$LOG" |
      grep -n -A 12 -e 'ERROR: AddressSanitizer' -e 'runtime error:' | head -n 80 >&2
    failures+=("sanitizer reports in .run/$STACK/realreach.log")
  fi
fi

if [ ${#failures[@]} -eq 0 ]; then
  say "OK"
  exit 0
fi
for f in "${failures[@]}"; do echo "== $MODE: FAILED: $f" >&2; done
exit 1
