#!/usr/bin/env bash
# The project's test command: build and install the extension, run the Rust
# unit tests, then the end-to-end suite (tests/e2e) against a throwaway
# PostgreSQL cluster, the seeded Cognito emulator and a silent server.
# PG_MAJOR=16 or 18 does all of it on that PostgreSQL instead of 15 (scripts/lib.sh).
# Ports: free ones, unless PG_PORT, MOTO_PORT or SILENT_PORT name one.
# Extra arguments go to pytest, e.g. scripts/test.sh -k users.
# SKIP_BUILD=1 skips setup, build and unit tests (quick e2e reruns).
# Under CI=true the switches that skip or rewrite something (SKIP_BUILD, REGRESS_ACCEPT,
# REGRESS_DIR) are refused. After the suite, a crashed backend in the PostgreSQL log fails
# the run, even when every test passed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/scripts/lib.sh"

if [[ "${CI:-}" == true ]]; then
    for switch in SKIP_BUILD REGRESS_ACCEPT REGRESS_DIR; do
        # A CI run must build, run every test and compare with the committed expected files.
        [[ -z "${!switch+set}" ]] ||
            die "CI=true: $switch is set ($switch=${!switch}); CI runs the whole build and suite against tests/expected, so unset it"
    done
fi

trap cleanup EXIT
cd "$ROOT"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    setup_tools
    build_extension
    log "cargo test --lib --release ${PG_FEATURES[*]}"
    env "${PG_CARGO_ENV[@]}" cargo test --lib --release "${PG_FEATURES[@]}"
fi

start_pg "${PG_PORT:-}"
# 8,000 users of ~2 KB each, for the memory test.
start_moto "${MOTO_PORT:-}" --big-users "${BIG_USERS:-8000}"
start_silent "${SILENT_PORT:-}"

log "pytest tests/e2e"
rm -f tests/results/figures.txt
rc=0
"$VENV/bin/python" -m pytest -v tests/e2e "$@" || rc=$?
if [[ -f tests/results/figures.txt ]]; then
    log "figures measured by this run"
    cat tests/results/figures.txt
fi
# A backend that crashed is a failure even when the test that made it passed: PostgreSQL
# restarts every session and the client may only see a lost connection, or nothing.
log "scanning $PG_LOG for crashed backends"
if pg_log_crashes "$PG_LOG" >&2; then
    echo "ERROR: the PostgreSQL log shows crashed backends (lines above)" >&2
    rc=1
fi
exit "$rc"
