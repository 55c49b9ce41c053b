#!/usr/bin/env bash
# Runs a complete local realreach stack — PostgreSQL 15, `realreach serve`,
# nginx — under <repo>/.run/NAME/, for `make run` (demo) and the tests.
#
#   scripts/stack.sh start  NAME [--port P] [--plugins LIST] [--build DIR]
#   scripts/stack.sh stop   NAME
#   scripts/stack.sh status NAME
#   scripts/stack.sh env    NAME [--port P] [--build DIR] [--plugins LIST]
#   scripts/stack.sh pg-stop NAME | pg-start NAME   (fault tests: PostgreSQL only)
#
# Defaults: demo → port 8080, test → 18080, test-asan → 18081 (any other NAME
# needs --port); --build build (relative paths are relative to the repo);
# --plugins <build>/plugins (colon-separated directories and/or .so files).
# `start` records its options in .run/NAME/stack.state, so later `env`,
# `status` and `stop` need only the NAME (a later `start` reuses only the
# port). `start` on a running stack keeps PostgreSQL and its data, re-runs
# migrations and restarts realreach (picking up a new build) and nginx.
#
# As root, postgres, realreach and nginx run as the system user `realreach`
# (created if missing); otherwise everything runs as the current user.
# PostgreSQL listens only on a unix socket in a 0700 directory, trust auth for
# local connections: only the service user and root can connect.
#
# Passed through to `realreach serve` when set: REALREACH_WORKERS,
# REALREACH_JOB_RUNNERS, REALREACH_REQUEST_TIMEOUT (default 30, also nginx's
# fastcgi_read_timeout), REALREACH_KEY_CACHE_TTL, REALREACH_RATE_LIMIT,
# REALREACH_MAX_BODY (also nginx's client_max_body_size when it is an nginx
# size such as 1048576, 512k or 64m; else 64m), REALREACH_LOG_LEVEL, any other
# REALREACH_* except REALREACH_ADMIN_DB, ASAN_OPTIONS, UBSAN_OPTIONS,
# LSAN_OPTIONS, TZ. Set by this script: REALREACH_DB (user realreach_app over
# the socket), REALREACH_SOCKET, REALREACH_PLUGINS, REALREACH_PIDFILE; serve's
# stderr and stdout are appended to .run/NAME/realreach.log. `realreach
# migrate` runs as the caller, with REALREACH_ADMIN_DB (PostgreSQL superuser
# `postgres` over the socket) and REALREACH_PLUGINS.
#
# `env NAME` prints export lines: RR_BASE_URL, RR_ADMIN_DB, RR_APP_DB,
# REALREACH_ADMIN_DB, RR_BIN, RR_RUN_DIR, RR_STACK_NAME, RR_PLUGINS, RR_SOCKET,
# RR_PIDFILE (master pid), RR_LOG, RR_PGDATA, RR_REQUEST_TIMEOUT,
# RR_SERVICE_USER and RR_STACK (this script, for `$RR_STACK pg-stop NAME`).
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
NGINX=/usr/sbin/nginx
SVC_USER=realreach
PG_SUPERUSER=postgres        # initdb -U: the same name whoever runs the stack
SYS_PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
START_WAIT=20                # seconds for the FastCGI socket, then for /healthz
STOP_WAIT=10                 # seconds between SIGTERM and SIGKILL

# libpq must see only what we pass (a PGHOST/PGUSER/PGOPTIONS in the caller's
# environment would change which server or role is used).
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SELF="$ROOT/scripts/stack.sh"
# Commands run as the service user inherit the working directory; the repo is
# one it can enter (start makes sure of that), the caller's may not be.
cd "$ROOT"

die()  { echo "stack: error: $*" >&2; exit 1; }
note() { echo "stack $NAME: $*"; }
usage() {
  sed -n '5,10p' "$SELF" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

CMD=${1:-}; NAME=${2:-}
[ -n "$CMD" ] && [ -n "$NAME" ] || usage
shift 2
[[ "$NAME" =~ ^[a-z0-9][a-z0-9_-]{0,31}$ ]] || die "bad stack name '$NAME' (use [a-z0-9_-])"

OPT_PORT=""; OPT_PLUGINS=""; OPT_BUILD=""
while [ $# -gt 0 ]; do
  case $1 in
    --port)    [ $# -ge 2 ] || usage; OPT_PORT=$2; shift 2 ;;
    --port=*)  OPT_PORT=${1#*=}; shift ;;
    --plugins) [ $# -ge 2 ] || usage; OPT_PLUGINS=$2; shift 2 ;;
    --plugins=*) OPT_PLUGINS=${1#*=}; shift ;;
    --build)   [ $# -ge 2 ] || usage; OPT_BUILD=$2; shift 2 ;;
    --build=*) OPT_BUILD=${1#*=}; shift ;;
    *) usage ;;
  esac
done

# Paths go into nginx.conf (via sed), conninfo strings and a colon-separated
# plugin list: keep them to characters that need no quoting anywhere.
safe_path() {
  [[ "$1" =~ ^/[A-Za-z0-9._/+@%,=~-]*$ ]] ||
    die "path '$1' has characters this script does not quote (spaces, ':', quotes, ...); move the repo or build dir"
}
abs_path() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$ROOT" "$1" ;; esac; }

safe_path "$ROOT"
RUN="$ROOT/.run/$NAME"
STATE="$RUN/stack.state"
PGDATA="$RUN/pgdata"
NGDIR="$RUN/nginx"
PIDFILE="$RUN/realreach.pid"
PGIDFILE="$RUN/realreach.pgid"
LOG="$RUN/realreach.log"

IS_ROOT=0; [ "$(id -u)" -eq 0 ] && IS_ROOT=1
if [ $IS_ROOT = 0 ]; then SVC_USER=$(id -un); fi

# ---------- remembered options (.run/NAME/stack.state) ----------
# Parsed, never sourced: as root, the file sits in a directory the service
# user owns.
S_PORT=""; S_PGPORT=""; S_BUILD=""; S_PLUGINS=""; S_TIMEOUT=""; S_MAXBODY=""
if [ -f "$STATE" ] && [ ! -L "$STATE" ]; then
  while IFS='=' read -r k v; do
    case $k in
      PORT)            [[ "$v" =~ ^[0-9]+$ ]] && S_PORT=$v ;;
      PGPORT)          [[ "$v" =~ ^[0-9]+$ ]] && S_PGPORT=$v ;;
      BUILD)           S_BUILD=$v ;;
      PLUGINS)         S_PLUGINS=$v ;;
      REQUEST_TIMEOUT) [[ "$v" =~ ^[0-9]+$ ]] && S_TIMEOUT=$v ;;
      MAX_BODY)        [[ "$v" =~ ^[0-9]+[kKmMgG]?$ ]] && S_MAXBODY=$v ;;
    esac
  done < "$STATE"
fi

case $NAME in
  demo)      D_PORT=8080;  D_PGPORT=54320 ;;
  test)      D_PORT=18080; D_PGPORT=54321 ;;
  test-asan) D_PORT=18081; D_PGPORT=54322 ;;
  *)         D_PORT="";    D_PGPORT=54329 ;;
esac

PORT=${OPT_PORT:-${S_PORT:-$D_PORT}}
PGPORT=${S_PGPORT:-$D_PGPORT}
[ "$CMD" != start ] || PGPORT=$D_PGPORT
# start takes --build/--plugins or the defaults, never remembered ones (a
# start with another --build must not keep the old build's plugins); the
# other commands use what the last start recorded.
if [ "$CMD" = start ]; then S_BUILD_USE=""; S_PLUGINS_USE=""; else S_BUILD_USE=$S_BUILD; S_PLUGINS_USE=$S_PLUGINS; fi
BUILD=$(abs_path "${OPT_BUILD:-${S_BUILD_USE:-build}}")
BUILD=${BUILD%/}
BIN="$BUILD/realreach"
# The binary a running stack was started from (a new start may name another).
OLD_BIN=""
[ -z "$S_BUILD" ] || OLD_BIN="$S_BUILD/realreach"
PLUGINS=${OPT_PLUGINS:-${S_PLUGINS_USE:-$BUILD/plugins}}
if [ "$CMD" = start ] || [ "$CMD" = env ]; then
  [ -n "$PORT" ] || die "stack '$NAME' has no default port: pass --port"
  [[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "bad --port '$PORT'"
fi
safe_path "$BUILD"
abs_plugins=()
IFS=: read -r -a _pl <<< "$PLUGINS"
for p in "${_pl[@]}"; do
  [ -n "$p" ] || continue
  p=$(abs_path "$p"); safe_path "$p"; abs_plugins+=("${p%/}")
done
PLUGINS=$(IFS=:; printf '%s' "${abs_plugins[*]}")

if [ "$CMD" = start ]; then
  REQUEST_TIMEOUT=${REALREACH_REQUEST_TIMEOUT:-30}
  [[ "$REQUEST_TIMEOUT" =~ ^[0-9]+$ ]] && [ "$REQUEST_TIMEOUT" -ge 1 ] ||
    die "REALREACH_REQUEST_TIMEOUT must be a whole number of seconds, not '$REQUEST_TIMEOUT'"
  MAX_BODY=64m
  if [ -n "${REALREACH_MAX_BODY:-}" ]; then
    if [[ "$REALREACH_MAX_BODY" =~ ^[0-9]+[kKmMgG]?$ ]]; then MAX_BODY=$REALREACH_MAX_BODY
    else echo "stack: warning: REALREACH_MAX_BODY='$REALREACH_MAX_BODY' is not an nginx size; nginx keeps 64m" >&2; fi
  fi
else
  REQUEST_TIMEOUT=${S_TIMEOUT:-30}
  MAX_BODY=${S_MAXBODY:-64m}
fi

# A unix socket path is at most 107 bytes. When the repo sits deep, the
# sockets move to a short private directory under /tmp (named after the run
# directory, so every invocation finds the same one).
SOCKBASE=$RUN
if [ $(( ${#RUN} + 32 )) -gt 100 ]; then
  SOCKBASE="/tmp/realreach-$(printf '%s' "$RUN" | sha256sum | cut -c1-16)"
fi
PGSOCK="$SOCKBASE/pgsock"
FCGI_SOCK="$SOCKBASE/realreach.sock"

ADMIN_DB="host=$PGSOCK port=$PGPORT dbname=realreach user=$PG_SUPERUSER"
APP_DB="host=$PGSOCK port=$PGPORT dbname=realreach user=realreach_app"
BASE_URL="http://127.0.0.1:$PORT"

# ---------- running things as the service user ----------
# fd 9 is the stack lock (fd 8: scripts/test.sh's run lock): daemons must not
# inherit them, or they are never freed.
as_svc() {
  if [ $IS_ROOT = 1 ]; then runuser -u "$SVC_USER" -- "$@" 8>&- 9>&-; else "$@" 8>&- 9>&-; fi
}
# Files in .run/NAME are written by the service user: as root, writing into a
# directory another user owns could follow a planted symlink.
svc_write()  { as_svc sh -c 'umask 027; cat > "$1"' sh "$1"; }
svc_append() { as_svc sh -c 'umask 027; cat >> "$1"' sh "$1"; }
svc_env() {  # a clean environment for the daemons
  local home=/nonexistent
  [ $IS_ROOT = 0 ] && home=${HOME:-/nonexistent}
  printf '%s\0' env -i "PATH=$SYS_PATH:/usr/lib/llvm-14/bin" "HOME=$home" LANG=C.UTF-8 "USER=$SVC_USER"
  [ -z "${TZ:-}" ] || printf '%s\0' "TZ=$TZ"
}

# ---------- process identity ----------
# A pid file can outlive its process (a killed run, a restarted container) and
# the pid can be reused by anything, so a pid counts as ours only if the
# process is the expected program. Reading /proc/PID/{exe,cwd} needs the same
# uid or root, which is the case here.
read_pid() {  # FILE → numeric pid on stdout, or nothing
  local f=$1 p
  [ -f "$f" ] && [ ! -L "$f" ] || return 1
  p=$(head -n1 "$f" 2>/dev/null | tr -dc '0-9')
  [ -n "$p" ] && [ "$p" -gt 1 ] || return 1
  printf '%s' "$p"
}
proc_exe() {
  local e
  e=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  printf '%s' "${e% (deleted)}"
}
real_path() { readlink -f "$1" 2>/dev/null || printf '%s' "$1"; }
is_realreach() {
  local e
  e=$(proc_exe "$1") || return 1
  [ "$e" = "$(real_path "$BIN")" ] || { [ -n "$OLD_BIN" ] && [ "$e" = "$(real_path "$OLD_BIN")" ]; }
}
is_postmaster() {  # the postmaster chdir()s into its data directory
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = postgres ] &&
    [ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$(readlink -f "$PGDATA")" ]
}
is_our_nginx() {  # nginx's master shows its command line, with our -p prefix
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = nginx ] &&
    tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "-p $NGDIR "
}
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

pg_pid()    { local p; p=$(read_pid "$PGDATA/postmaster.pid") && is_postmaster "$p" && printf '%s' "$p"; }
rr_pid()    { local p; p=$(read_pid "$PIDFILE") && is_realreach "$p" && printf '%s' "$p"; }
nginx_pid() { local p; p=$(read_pid "$NGDIR/nginx.pid") && is_our_nginx "$p" && printf '%s' "$p"; }
live() { local p; for p in "$@"; do alive "$p" && printf '%s\n' "$p"; done; return 0; }
nginx_session_pids() {  # SID → live nginx processes of the service user in it
  # shellcheck disable=SC2046
  live $(pgrep -s "$1" -x nginx -u "$SVC_USER" 2>/dev/null || true)
}
rr_group_pids() {  # realreach processes left in the session `start` made
  local g p
  g=$(read_pid "$PGIDFILE") || return 0
  for p in $(pgrep -g "$g" 2>/dev/null || true); do
    is_realreach "$p" && alive "$p" && printf '%s\n' "$p"
  done
  return 0
}

# ---------- stop ----------
wait_gone() {  # SECONDS PID... → 0 when none is alive
  local deadline=$((SECONDS + $1)) p any; shift
  while :; do
    any=0
    for p in "$@"; do alive "$p" && any=1; done
    [ $any = 0 ] && return 0
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

stop_nginx() {
  local p sid rest
  sid=$(read_pid "$NGDIR/nginx.pid" || true)
  if p=$(nginx_pid); then
    kill -QUIT "$p" 2>/dev/null || true          # graceful: finish requests
    if ! wait_gone 5 "$p"; then
      kill -TERM "$p" 2>/dev/null || true
      wait_gone 3 "$p" || kill -KILL -- "-$p" "$p" 2>/dev/null || true
    fi
    note "nginx stopped"
  fi
  # Workers of a master that was SIGKILLed keep serving (and hold the port).
  # nginx's master setsid()s, so its workers share its pid as session id.
  if [ -n "$sid" ]; then
    rest=$(nginx_session_pids "$sid")
    if [ -n "$rest" ]; then
      # shellcheck disable=SC2086
      kill -KILL $rest 2>/dev/null || true
      note "killed leftover nginx processes: ${rest//$'\n'/ }"
    fi
  fi
  rm -f "$NGDIR/nginx.pid" 2>/dev/null || true
}

stop_realreach() {
  local p rest
  if p=$(rr_pid); then
    kill -TERM "$p" 2>/dev/null || true
    if ! wait_gone "$STOP_WAIT" "$p"; then
      echo "stack $NAME: realreach (pid $p) still running ${STOP_WAIT}s after SIGTERM: SIGKILL" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
    note "realreach stopped"
  fi
  # Workers whose master died (or a master that never wrote its pid file).
  rest=$(rr_group_pids)
  if [ -n "$rest" ]; then
    # shellcheck disable=SC2086
    kill -TERM $rest 2>/dev/null || true
    # shellcheck disable=SC2086
    if ! wait_gone 3 $rest; then kill -KILL $rest 2>/dev/null || true; fi
    note "stopped leftover realreach processes: ${rest//$'\n'/ }"
  fi
  rm -f "$PIDFILE" "$PGIDFILE" "$FCGI_SOCK" 2>/dev/null || true
}

stop_postgres() {
  local p
  if p=$(pg_pid); then
    if ! as_svc "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 30 -s stop >/dev/null 2>&1; then
      as_svc "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 10 -s stop >/dev/null 2>&1 || kill -KILL "$p" 2>/dev/null || true
    fi
    note "postgres stopped"
  elif [ -f "$PGDATA/postmaster.pid" ]; then
    rm -f "$PGDATA/postmaster.pid"          # a dead postmaster's lock file
  fi
}

stop_all() {
  [ -d "$RUN" ] || { note "not running (no $RUN)"; return 0; }
  stop_nginx
  stop_realreach
  stop_postgres
}

# ---------- start ----------
tail_log() {  # FILE [BYTE OFFSET: show only what came after it]
  [ -f "$1" ] || return 0
  echo "---- last lines of $1 ----" >&2
  tail -c +"$(( ${2:-0} + 1 ))" "$1" | tail -n 40 >&2 || true
  echo "----" >&2
}
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

ensure_user() {
  [ $IS_ROOT = 1 ] || return 0
  getent passwd "$SVC_USER" >/dev/null && return 0
  command -v useradd >/dev/null || die "useradd not found (package passwd)"
  if getent group "$SVC_USER" >/dev/null; then
    useradd --system --gid "$SVC_USER" --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
  else
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
  fi
  note "created system user $SVC_USER"
}

# As root the service user must reach the repo, the build and the plugins.
# Add only the search bit (o+x, not read) where a directory on the way lacks it.
ensure_search_path() {
  [ $IS_ROOT = 1 ] || return 0
  local target d mode changed=()
  for target in "$@"; do
    d=$target
    [ -d "$d" ] || d=$(dirname "$d")
    while :; do
      if [ -d "$d" ] && [ ! -L "$d" ]; then
        mode=$(stat -c '%a' "$d")
        if (( (8#$mode & 1) == 0 )); then
          chmod o+x "$d"
          changed+=("$d")
        fi
      fi
      [ "$d" = / ] && break
      d=$(dirname "$d")
    done
  done
  if [ ${#changed[@]} -gt 0 ]; then
    note "added the search bit (o+x, not read) for user $SVC_USER to: $(printf '%s\n' "${changed[@]}" | sort -u | tr '\n' ' ' | sed 's/ $//')"
  fi
}

check_svc_access() {
  as_svc test -x "$BIN" ||
    die "$BIN is not executable by user $SVC_USER (check its permissions, e.g. chmod -R o+rX $BUILD)"
  local p
  for p in "${abs_plugins[@]}"; do
    if [ ! -e "$p" ]; then
      echo "stack $NAME: warning: plugin path $p does not exist" >&2
    elif ! as_svc test -r "$p"; then
      die "plugin path $p is not readable by user $SVC_USER (e.g. chmod -R o+rX $p)"
    fi
  done
}

prepare_run_dir() {
  mkdir -p "$ROOT/.run"
  if [ $IS_ROOT = 1 ]; then
    chmod o+x "$ROOT/.run"
    if [ -L "$RUN" ]; then die "$RUN is a symlink"; fi
    mkdir -p "$RUN"
    # A copied or older run dir may hold files of another owner.
    if [ -n "$(find "$RUN" ! -user "$SVC_USER" -print -quit 2>/dev/null)" ]; then
      chown -hR "$SVC_USER:$(id -gn "$SVC_USER")" "$RUN"
    fi
  else
    mkdir -p "$RUN"
  fi
  chmod 0750 "$RUN"
  as_svc mkdir -p "$NGDIR/tmp"
  if [ "$SOCKBASE" != "$RUN" ]; then
    if [ -e "$SOCKBASE" ] || [ -L "$SOCKBASE" ]; then
      [ -d "$SOCKBASE" ] && [ ! -L "$SOCKBASE" ] && [ "$(stat -c %U "$SOCKBASE")" = "$SVC_USER" ] ||
        die "$SOCKBASE exists but is not a directory owned by $SVC_USER"
    else
      as_svc mkdir -m 0700 "$SOCKBASE"
    fi
    note "socket paths would be too long under $RUN: sockets are in $SOCKBASE"
  fi
  as_svc mkdir -p "$PGSOCK"
  as_svc chmod 0700 "$PGSOCK"
}

write_state() {
  printf '%s\n' \
    "PORT=$PORT" "PGPORT=$PGPORT" "BUILD=$BUILD" "PLUGINS=$PLUGINS" \
    "REQUEST_TIMEOUT=$REQUEST_TIMEOUT" "MAX_BODY=$MAX_BODY" | svc_write "$STATE"
}

psql_admin() {  # DBNAME SQL → rows on stdout
  "$PGBIN/psql" -X -q -tA -v ON_ERROR_STOP=1 \
    "host=$PGSOCK port=$PGPORT dbname=$1 user=$PG_SUPERUSER" -c "$2"
}

start_postgres() {
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    as_svc rm -rf "$PGDATA"     # a half-made cluster from an interrupted initdb
    local out
    if ! out=$(as_svc "$PGBIN/initdb" -D "$PGDATA" -U "$PG_SUPERUSER" --auth-local=trust --auth-host=reject \
         -E UTF8 --locale=C.UTF-8 --data-checksums 2>&1); then
      printf '%s\n' "$out" | tail -n 40 >&2; die "initdb failed"
    fi
    # Local socket only; no host lines at all, so TCP (not even listened on)
    # would be refused.
    printf '%s\n' '# realreach stack: unix socket only, in a 0700 directory' \
      'local all all trust' 'local replication all trust' | svc_write "$PGDATA/pg_hba.conf"
    printf '\n%s\n' "include_if_exists = 'realreach-stack.conf'" | svc_append "$PGDATA/postgresql.conf"
    note "initialised PostgreSQL cluster in $PGDATA"
  fi
  # Rewritten at every start: the repo (and so the socket path) may have moved.
  cat <<EOF | svc_write "$PGDATA/realreach-stack.conf"
# written by scripts/stack.sh at every start
listen_addresses = ''
port = $PGPORT
unix_socket_directories = '$PGSOCK'
unix_socket_permissions = 0700
max_connections = 100
shared_buffers = 128MB
# A million-follower ingest writes about 0.5 GB of WAL; at the default 1 GB
# a checkpoint starts every other such request and the full-page images it
# forces double the WAL of the next one.
max_wal_size = 4GB
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
EOF

  local p
  if p=$(pg_pid); then
    note "postgres already running (pid $p)"
  else
    # Stale state from a killed run: a lock file naming a dead (or reused)
    # pid, leftover socket and socket lock files.
    rm -f "$PGDATA/postmaster.pid" "$PGSOCK"/.s.PGSQL.* 2>/dev/null || true
    if ! as_svc "${SVC_ENV[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$RUN/postgres.log" -w -t 60 -s start >/dev/null 2>&1; then
      tail_log "$RUN/postgres.log"; die "PostgreSQL did not start"
    fi
    note "postgres up (pid $(pg_pid || echo '?'), socket $PGSOCK/.s.PGSQL.$PGPORT)"
  fi
  if [ "$(psql_admin postgres "SELECT 1 FROM pg_database WHERE datname = 'realreach'")" != 1 ]; then
    psql_admin postgres "CREATE DATABASE realreach" >/dev/null
    note "created database realreach"
  fi
}

run_migrate() {
  local out rc=0
  out=$(cd "$ROOT" && env REALREACH_ADMIN_DB="$ADMIN_DB" REALREACH_PLUGINS="$PLUGINS" "$BIN" migrate 2>&1) || rc=$?
  { printf '== %s migrate (exit %s)\n' "$(date -u +%FT%TZ)" "$rc"; [ -z "$out" ] || printf '%s\n' "$out"; } |
    svc_append "$RUN/migrate.log"
  if [ $rc -ne 0 ]; then
    printf '%s\n' "$out" | tail -n 40 >&2
    die "realreach migrate failed (exit $rc)"
  fi
  note "migrations applied"
}

start_realreach() {
  if rr_pid >/dev/null || [ -n "$(rr_group_pids)" ]; then
    note "realreach is running: restarting it"
  fi
  stop_realreach >/dev/null
  local envs=() v
  mapfile -d '' envs < <(svc_env)
  # Pass-through first, so ours win (env applies left to right).
  while IFS= read -r v; do
    case $v in
      REALREACH_ADMIN_DB|REALREACH_DB|REALREACH_SOCKET|REALREACH_PLUGINS|REALREACH_PIDFILE|REALREACH_REQUEST_TIMEOUT) ;;
      REALREACH_*) envs+=("$v=${!v}") ;;
    esac
  done < <(compgen -e)
  for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS ASAN_SYMBOLIZER_PATH; do
    [ -z "${!v:-}" ] || envs+=("$v=${!v}")
  done
  envs+=("REALREACH_DB=$APP_DB" "REALREACH_SOCKET=$FCGI_SOCK" "REALREACH_PLUGINS=$PLUGINS"
         "REALREACH_PIDFILE=$PIDFILE" "REALREACH_REQUEST_TIMEOUT=$REQUEST_TIMEOUT")

  # (global: the healthz wait shows the same part of the log)
  LOG_OFF=$(file_size "$LOG")
  printf '== %s start: %s serve\n' "$(date -u +%FT%TZ)" "$BIN" | svc_append "$LOG"
  # setsid: its own session, so a Ctrl-C in the terminal that ran `make`
  # does not reach it and `stop` can find every process it started.
  local launcher
  if [ $IS_ROOT = 1 ]; then
    ( cd "$ROOT" && exec setsid runuser -u "$SVC_USER" -- \
        sh -c 'umask 027; log=$1; shift; exec "$@" >>"$log" 2>&1' sh "$LOG" "${envs[@]}" "$BIN" serve \
        </dev/null >/dev/null 2>&1 8>&- 9>&- ) &
  else
    ( cd "$ROOT" && exec setsid \
        sh -c 'umask 027; log=$1; shift; exec "$@" >>"$log" 2>&1' sh "$LOG" "${envs[@]}" "$BIN" serve \
        </dev/null >/dev/null 2>&1 8>&- 9>&- ) &
  fi
  launcher=$!
  printf '%s\n' "$launcher" | svc_write "$PGIDFILE"

  local deadline=$((SECONDS + START_WAIT))
  until [ -S "$FCGI_SOCK" ]; do
    if ! alive "$launcher"; then
      tail_log "$LOG" "$LOG_OFF"; die "realreach serve exited during startup (log: $LOG)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail_log "$LOG" "$LOG_OFF"; die "realreach serve did not create $FCGI_SOCK within ${START_WAIT}s"
    fi
    sleep 0.1
  done
  note "realreach up (pid $(rr_pid || echo "? (no valid $PIDFILE yet)"), socket $FCGI_SOCK)"
}

render_nginx_conf() {
  local tpl="$ROOT/nginx/realreach.conf.in"
  [ -f "$tpl" ] || die "missing $tpl"
  sed -e "s|@NGINX_DIR@|$NGDIR|g" \
      -e "s|@LISTEN@|127.0.0.1:$PORT|g" \
      -e "s|@SOCKET@|$FCGI_SOCK|g" \
      -e "s|@REQUEST_TIMEOUT@|$REQUEST_TIMEOUT|g" \
      -e "s|@MAX_BODY@|$MAX_BODY|g" \
      "$tpl" | svc_write "$NGDIR/nginx.conf"
  if grep -q '@[A-Z_]*@' "$NGDIR/nginx.conf"; then
    die "unsubstituted placeholder in $NGDIR/nginx.conf: $(grep -o '@[A-Z_]*@' "$NGDIR/nginx.conf" | sort -u | tr '\n' ' ' | sed 's/ $//')"
  fi
}

start_nginx() {
  render_nginx_conf
  local out p
  if ! out=$(cd "$NGDIR" && as_svc "${SVC_ENV[@]}" "$NGINX" -q -t -p "$NGDIR" -c nginx.conf -e "$NGDIR/error.log" 2>&1); then
    printf '%s\n' "$out" >&2; die "nginx rejected $NGDIR/nginx.conf"
  fi
  # A running nginx is restarted, not reloaded: after a reload, old workers
  # with the old settings can still answer for a while.
  stop_nginx
  rm -f "$NGDIR/nginx.pid"
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    ss -Hltnp "sport = :$PORT" >&2 2>/dev/null || true
    die "127.0.0.1:$PORT is already in use by another program (choose another with --port)"
  fi
  if ! out=$(cd "$NGDIR" && as_svc "${SVC_ENV[@]}" "$NGINX" -p "$NGDIR" -c nginx.conf -e "$NGDIR/error.log" </dev/null 2>&1); then
    printf '%s\n' "$out" >&2; tail_log "$NGDIR/error.log"
    die "nginx did not start (is 127.0.0.1:$PORT already in use?)"
  fi
  local deadline=$((SECONDS + START_WAIT)) code=""
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/healthz" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    if [ $SECONDS -ge $deadline ]; then
      tail_log "$NGDIR/error.log"; tail_log "$LOG" "${LOG_OFF:-0}"
      die "$BASE_URL/healthz did not answer 200 within ${START_WAIT}s (last status: ${code:-none})"
    fi
    sleep 0.2
  done
  note "nginx up (pid $(nginx_pid || echo '?')): $BASE_URL"
}

cmd_start() {
  [ -x "$BIN" ] || die "$BIN not found or not executable: run 'make build' (or pass --build)"
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 not installed ($PGBIN): run scripts/deps.sh"
  [ -x "$NGINX" ] || die "nginx not installed: run scripts/deps.sh"
  command -v curl >/dev/null || die "curl not installed: run scripts/deps.sh"
  ensure_user
  ensure_search_path "$ROOT" "$BUILD" "${abs_plugins[@]}"
  cd "$ROOT"
  check_svc_access
  prepare_run_dir
  mapfile -d '' SVC_ENV < <(svc_env)
  write_state
  # On any failure below: stop whatever did start; the logs stay.
  trap 'rc=$?; if [ $rc -ne 0 ]; then echo "stack $NAME: start failed; stopping what started (logs in $RUN)" >&2; stop_all >/dev/null 2>&1 || true; fi' EXIT
  start_postgres
  run_migrate
  start_realreach
  start_nginx
  trap - EXIT
  note "up: $BASE_URL (logs in $RUN)"
}

cmd_status() {
  local p up=0 n
  if [ ! -d "$RUN" ]; then echo "stack $NAME: not set up ($RUN missing)"; return 3; fi
  if p=$(pg_pid); then echo "postgres:  running (pid $p, socket $PGSOCK/.s.PGSQL.$PGPORT)"; up=$((up+1))
  else echo "postgres:  stopped"; fi
  if p=$(rr_pid); then
    n=$(pgrep -P "$p" 2>/dev/null | wc -l || true)
    echo "realreach: running (master pid $p, $n children, socket $FCGI_SOCK)"; up=$((up+1))
  elif [ -n "$(rr_group_pids)" ]; then
    echo "realreach: processes without a valid pid file: $(rr_group_pids | tr '\n' ' ' | sed 's/ $//')"
  else echo "realreach: stopped"; fi
  if p=$(nginx_pid); then echo "nginx:     running (pid $p, $BASE_URL)"; up=$((up+1))
  elif p=$(read_pid "$NGDIR/nginx.pid") && [ -n "$(nginx_session_pids "$p")" ]; then
    echo "nginx:     leftover workers of a dead master: $(nginx_session_pids "$p" | tr '\n' ' ' | sed 's/ $//')"
  else echo "nginx:     stopped"; fi
  if [ $up = 3 ]; then
    echo "healthz:   $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/healthz" 2>/dev/null || echo 'no answer')"
    return 0
  fi
  return 3
}

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
cmd_env() {
  printf 'export %s=%s\n' \
    RR_STACK_NAME "$(q "$NAME")" \
    RR_BASE_URL "$(q "$BASE_URL")" \
    RR_ADMIN_DB "$(q "$ADMIN_DB")" \
    RR_APP_DB "$(q "$APP_DB")" \
    REALREACH_ADMIN_DB "$(q "$ADMIN_DB")" \
    RR_BIN "$(q "$BIN")" \
    RR_RUN_DIR "$(q "$RUN")" \
    RR_PLUGINS "$(q "$PLUGINS")" \
    RR_SOCKET "$(q "$FCGI_SOCK")" \
    RR_PIDFILE "$(q "$PIDFILE")" \
    RR_LOG "$(q "$LOG")" \
    RR_PGDATA "$(q "$PGDATA")" \
    RR_REQUEST_TIMEOUT "$(q "$REQUEST_TIMEOUT")" \
    RR_SERVICE_USER "$(q "$SVC_USER")" \
    RR_STACK "$(q "$SELF")"
}

lock() {
  mkdir -p "$ROOT/.run"
  exec 9>"$ROOT/.run/.$NAME.lock"
  flock -w 120 9 || die "another stack.sh holds .run/.$NAME.lock"
}

case $CMD in
  start)  lock; cmd_start ;;
  stop)   lock; stop_all ;;
  status) cmd_status ;;
  env)    cmd_env ;;
  pg-stop) lock; stop_postgres ;;
  pg-start)
    lock
    [ -f "$PGDATA/PG_VERSION" ] || die "no cluster in $PGDATA: run start first"
    mapfile -d '' SVC_ENV < <(svc_env)
    cd "$ROOT"
    if pg_pid >/dev/null; then note "postgres already running"
    else
      rm -f "$PGDATA/postmaster.pid" "$PGSOCK"/.s.PGSQL.* 2>/dev/null || true
      as_svc "${SVC_ENV[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$RUN/postgres.log" -w -t 60 -s start >/dev/null 2>&1 ||
        { tail_log "$RUN/postgres.log"; die "PostgreSQL did not start"; }
      note "postgres up (pid $(pg_pid || echo '?'))"
    fi ;;
  *) usage ;;
esac
