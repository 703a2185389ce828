#!/usr/bin/env bash
# The project's test command: build and install the extension, run the Rust
# unit tests, then the end-to-end suite (tests/e2e) against a throwaway
# PostgreSQL 15 cluster, the seeded Cognito emulator and a silent server.
# Ports: PG_PORT (54329), MOTO_PORT (54330), SILENT_PORT (54331).
# Extra arguments go to pytest, e.g. scripts/test.sh -k users.
# SKIP_BUILD=1 skips setup, build and unit tests (quick e2e reruns).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/scripts/lib.sh"
trap cleanup EXIT
cd "$ROOT"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    setup_tools
    build_extension
    log "cargo test --lib --release"
    cargo test --lib --release
fi

start_pg "${PG_PORT:-54329}"
# 8,000 users of ~2 KB each, for the memory test.
start_moto "${MOTO_PORT:-54330}" --big-users "${BIG_USERS:-8000}"
start_silent "${SILENT_PORT:-54331}"

log "pytest tests/e2e"
rm -f tests/results/figures.txt
"$VENV/bin/python" -m pytest -v tests/e2e "$@"
if [[ -f tests/results/figures.txt ]]; then
    log "figures measured by this run"
    cat tests/results/figures.txt
fi
