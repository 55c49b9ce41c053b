#!/usr/bin/env bash
# `make run`: install deps, build, start the demo stack on 127.0.0.1:8080
# (DEMO_PORT to change), create the "Demo Agency" tenant and an admin API key
# on the first run (kept in .run/demo/demo-key and shown again on later runs),
# load scripts/demo-data.sh's data if that script exists, and print how to
# call the API. `make stop` stops the stack; the database stays in .run/demo.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
MAKE=${MAKE:-make}
PORT=${DEMO_PORT:-8080}
PSQL=/usr/lib/postgresql/15/bin/psql

bash scripts/deps.sh
$MAKE build
bash scripts/stack.sh start demo --port "$PORT"
eval "$(bash scripts/stack.sh env demo)"

# The key belongs to one database cluster: if .run/demo/pgdata was recreated,
# the remembered key is worthless and a new tenant and key are made.
cluster=$("$PSQL" -X -q -tA "$RR_ADMIN_DB" -c 'SELECT system_identifier FROM pg_control_system()')
keyfile="$RR_RUN_DIR/demo-key"
key=""
if [ -f "$keyfile" ] && [ ! -L "$keyfile" ] && [ "$(cat "$keyfile.cluster" 2>/dev/null)" = "$cluster" ]; then
  key=$(head -n1 "$keyfile")
fi

# Written as temp file + rename: .run/demo belongs to the service user, and a
# rename replaces a planted symlink instead of writing through it.
save() {  # FILE CONTENT
  local tmp
  tmp=$(mktemp "$RR_RUN_DIR/.tmp.XXXXXX")
  printf '%s\n' "$2" > "$tmp"
  chmod 600 "$tmp"
  [ "$(id -u)" -ne 0 ] || chown "$RR_SERVICE_USER:" "$tmp"
  mv -f "$tmp" "$1"
}

if [ -z "$key" ]; then
  tenant=$("$RR_BIN" tenant create --name "Demo Agency")
  tenant=${tenant//[[:space:]]/}
  [[ "$tenant" =~ ^[0-9]+$ ]] || { echo "run: 'realreach tenant create' printed '$tenant', not a tenant id" >&2; exit 1; }
  key=$("$RR_BIN" key create --tenant "$tenant" --scopes admin,write,read --name "make run demo key")
  key=${key//[[:space:]]/}
  [[ "$key" =~ ^rr_[^_]+_.+$ ]] || { echo "run: 'realreach key create' did not print an rr_<id>_<secret> key" >&2; exit 1; }
  save "$keyfile" "$key"
  save "$keyfile.cluster" "$cluster"
  echo "run: created tenant $tenant (Demo Agency) and an admin key"
fi

if [ -x scripts/demo-data.sh ]; then
  scripts/demo-data.sh "$RR_BASE_URL" "$key"
fi

cat <<EOF

realreach is running: $RR_BASE_URL
API key (tenant "Demo Agency", scopes admin,write,read):
  $key
Try:
  curl -s -H 'Authorization: Bearer $key' $RR_BASE_URL/v1/clients
Logs: $RR_RUN_DIR/ (realreach.log, nginx/, postgres.log)
make stop to stop.
EOF
