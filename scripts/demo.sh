#!/usr/bin/env bash
# Demo: a PostgreSQL 15 cluster (127.0.0.1:54339) with the extension, and a
# Cognito emulator (127.0.0.1:54340) holding a small "demo" user pool, set up
# with the documented statements. Both keep running afterwards so you can
# explore with psql; `scripts/demo.sh stop` stops them and deletes their data.
#   DEMO_PG_PORT / DEMO_MOTO_PORT override the ports, DEMO_DIR the directory.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/scripts/lib.sh"

DEMO_DIR=${DEMO_DIR:-/tmp/cognito-demo}
DEMO_STATE=$DEMO_DIR/demo.env
DEMO_PG_PORT=${DEMO_PG_PORT:-54339}
DEMO_MOTO_PORT=${DEMO_MOTO_PORT:-54340}

demo_stop() {
    if [[ ! -f "$DEMO_STATE" ]]; then
        echo "demo is not running (no $DEMO_STATE)"
        return 0
    fi
    # shellcheck source=/dev/null
    source "$DEMO_STATE"
    # The pid may have been reused since the demo started: only stop our emulator.
    if ! grep -qs seeded_moto "/proc/$MOTO_PID/cmdline"; then
        unset MOTO_PID
    fi
    stop_moto
    stop_pg
    rm -rf "$DEMO_DIR"
    echo "demo stopped"
}

if [[ "${1:-}" == stop ]]; then
    demo_stop
    exit 0
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [stop]" >&2
    exit 2
fi

# A rerun replaces the previous demo rather than failing on busy ports.
demo_stop >/dev/null

# Stop everything on failure; disarmed below once the demo is up.
trap 'cleanup; rm -f "$DEMO_STATE"' EXIT
setup_tools
build_extension

mkdir -p "$DEMO_DIR"
MOTO_STATE=$DEMO_DIR/moto.json
start_pg "$DEMO_PG_PORT" "$DEMO_DIR/pg"
start_moto "$DEMO_MOTO_PORT" --pools demo
{
    printf 'PG_BASE=%q\nPG_DATA=%q\nMOTO_PID=%q\nMOTO_STATE=%q\nMOTO_LOG=%q\n' \
        "$PG_BASE" "$PG_DATA" "$MOTO_PID" "$MOTO_STATE" "$MOTO_LOG"
} >"$DEMO_STATE"

read -r REGION POOL_ID < <("$VENV/bin/python" -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["region"], s["pools"]["demo"]["id"])' "$MOTO_STATE")

# The handler functions live in schema "extensions", which only a new
# connection sees on its search_path: hence two psql runs.
psql -X -a -v ON_ERROR_STOP=1 -d postgres <<'SQL'
create schema if not exists extensions;
create extension if not exists wrappers with schema extensions;
alter database postgres set search_path = "$user", public, extensions;  -- stock PG: put extensions on the path (reconnect after)
SQL

psql -X -a -v ON_ERROR_STOP=1 -d postgres <<SQL
create foreign data wrapper cognito_wrapper handler cognito_fdw_handler validator cognito_fdw_validator;
create server cognito_server foreign data wrapper cognito_wrapper options (region '$REGION', user_pool_id '$POOL_ID', endpoint_url '$MOTO_URL');
-- the credentials in a user mapping, which only its role and superusers can read
create user mapping for current_user server cognito_server options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'secret');
create schema if not exists cognito;
import foreign schema cognito from server cognito_server into cognito;
select * from cognito.users;
SQL

trap - EXIT
cat <<EOF

The demo is running:
  PostgreSQL  127.0.0.1:$DEMO_PG_PORT  (data and log in $PG_BASE)
  Cognito     $MOTO_URL  (emulated, region $REGION, user pool $POOL_ID)

Connect:   psql -h 127.0.0.1 -p $DEMO_PG_PORT -U postgres
           then e.g.  select * from cognito.users;
Stop both: $ROOT/scripts/demo.sh stop
EOF
