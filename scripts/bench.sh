#!/usr/bin/env bash
# The benchmark: the wrapper (default options) against a baseline server that lists the
# whole pool page by page (pushdown 'false', parallel_scan 'off'), both reading a seeded
# moto pool through tests/emulator/fault_proxy.py with AWS-like latency and ListUsers'
# 30 requests/s quota. Writes docs/benchmarks.md and prints the table.
#
#   scripts/bench.sh                 set up, build and install, then measure
#   SKIP_BUILD=1 scripts/bench.sh    measure the extension as installed
#
# Settings (environment):
#   BENCH_USERS (6000)        users in the pool
#   BENCH_SHARED_USERS (3000) users in the pool of the shared-quota runs (four concurrent
#                             scans; a scan beside another client using 20 of the 30/s)
#   BENCH_TEAMS (50x100)      groups x members of the group_members runs' pool
#   BENCH_APPS (64)           app clients of the app_clients runs' pool
#   BENCH_WRITE_USERS (1000)  users the writes runs insert (then disable and delete half)
#   BENCH_WRITE_BASELINE (200) users the one-at-a-time writes baseline inserts, disables
#                             and deletes (its times are also scaled to BENCH_WRITE_USERS)
#   BENCH_ONLY                only these runs, replacing only their section of BENCH_OUT:
#                             app_clients (names only against select *), writes
#                             (insert, disable, delete); empty: every run
#   BENCH_LATENCY_MS (100)    proxy latency per request
#   BENCH_RATE (30)           proxy quota: ListUsers requests started per rolling second
#   BENCH_TIMEOUT (120)       statement_timeout per query, seconds
#   BENCH_WRAPPER_OPTIONS     extra options for the wrapper server, e.g.
#                             "max_concurrent_requests '16'"
#   BENCH_OUT (docs/benchmarks.md)
#   BENCH_PG_PORT (56329), BENCH_MOTO_PORT (56331), BENCH_PROXY_PORT (56333)
#   (odd ports: connect() takes even local ports first, and a busy client elsewhere can
#   then hold an even port in TIME_WAIT, which makes bind() fail with EADDRINUSE)
# Everything it starts is stopped at the end, also on failure (KEEP=1 keeps the cluster).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/scripts/lib.sh"
trap cleanup EXIT
cd "$ROOT"

BENCH_USERS=${BENCH_USERS:-6000}
BENCH_SHARED_USERS=${BENCH_SHARED_USERS:-3000}
BENCH_TEAMS=${BENCH_TEAMS:-50x100}
BENCH_APPS=${BENCH_APPS:-64}
BENCH_ONLY=${BENCH_ONLY:-}
BENCH_WRITE_USERS=${BENCH_WRITE_USERS:-1000}
BENCH_WRITE_BASELINE=${BENCH_WRITE_BASELINE:-200}
[[ -z "$BENCH_ONLY" || "$BENCH_ONLY" == app_clients || "$BENCH_ONLY" == writes ]] ||
    die "BENCH_ONLY=$BENCH_ONLY: the only runs that can be selected are app_clients, writes"
BENCH_LATENCY_MS=${BENCH_LATENCY_MS:-100}
BENCH_RATE=${BENCH_RATE:-30}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-120}
BENCH_WRAPPER_OPTIONS=${BENCH_WRAPPER_OPTIONS:-}
BENCH_OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}

# The command as it would be retyped, for the report.
command="scripts/bench.sh"
for var in BENCH_WRAPPER_OPTIONS BENCH_TIMEOUT BENCH_RATE BENCH_LATENCY_MS BENCH_USERS \
    BENCH_WRITE_USERS BENCH_WRITE_BASELINE BENCH_ONLY SKIP_BUILD; do
    [[ -n "${!var:-}" ]] || continue
    case "$var=${!var}" in
    BENCH_USERS=6000 | BENCH_LATENCY_MS=100 | BENCH_RATE=30 | BENCH_TIMEOUT=120 | SKIP_BUILD=0) ;;
    BENCH_WRITE_USERS=1000 | BENCH_WRITE_BASELINE=200) ;;
    *) command="$var=$(printf '%q' "${!var}") $command" ;;
    esac
done

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    setup_tools
    build_extension
fi
[[ -x "$VENV/bin/python" ]] || die "no $VENV: run without SKIP_BUILD=1 once"

start_pg "${BENCH_PG_PORT:-56329}"
unset MOTO_STATE # start_moto would reuse (and delete) a state file named by the caller
pools=main,plain,teams,apps
case "$BENCH_ONLY" in
    app_clients) pools=apps ;;
    writes) pools=empty ;; # the runs make a new pool of their own; moto needs one to start
esac
start_moto "${BENCH_MOTO_PORT:-56331}" --pools "$pools" --main-users "$BENCH_USERS" \
    --plain-users "$BENCH_SHARED_USERS" --teams "$BENCH_TEAMS" --apps "$BENCH_APPS"
# Cognito's other quota categories, at AWS's defaults, for the group_members, app_clients and
# writes runs.
start_proxy "${BENCH_PROXY_PORT:-56333}" --latency-ms "$BENCH_LATENCY_MS" --rate "$BENCH_RATE" \
    --quota "UserList=ListUsers,ListUsersInGroup:$BENCH_RATE" \
    --quota "UserPoolResourceRead=ListGroups,GetGroup:25" --quota "ListGroupsPerPool=ListGroups:5" \
    --quota "UserResourceRead=AdminListGroupsForUser:120" \
    --quota "UserPoolClientRead=ListUserPoolClients,DescribeUserPoolClient:20" \
    --quota "ListUserPoolClientsPerPool=ListUserPoolClients:5" \
    --quota "DescribeUserPoolClientPerPool=DescribeUserPoolClient:5" \
    --quota "UserCreation=AdminCreateUser,AdminConfirmSignUp:50" \
    --quota "UserUpdate=AdminDisableUser,AdminEnableUser,AdminDeleteUser,AdminUpdateUserAttributes,AdminDeleteUserAttributes,AdminAddUserToGroup,AdminRemoveUserFromGroup:25"

log "tests/bench/bench.py (${BENCH_ONLY:-$BENCH_USERS users}, ${BENCH_LATENCY_MS} ms, $BENCH_RATE requests/s)"
"$VENV/bin/python" "$ROOT/tests/bench/bench.py" --state "$MOTO_STATE" --proxy "$PROXY_URL" \
    --timeout "$BENCH_TIMEOUT" --wrapper-options "$BENCH_WRAPPER_OPTIONS" \
    --write-users "$BENCH_WRITE_USERS" --write-baseline "$BENCH_WRITE_BASELINE" \
    --out "$BENCH_OUT" --command "$command" ${BENCH_ONLY:+--only "$BENCH_ONLY"}
