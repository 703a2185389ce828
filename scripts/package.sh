#!/usr/bin/env bash
# Build installable packages of the extension, one per PostgreSQL:
#
#   scripts/package.sh [PG_CONFIG ...]     default: /usr/bin/pg_config (Debian's PostgreSQL 15)
#
# For each pg_config, in dist/:
#   wrappers-VERSION-pgMAJOR-ARCH.tar.gz   the files `cargo pgrx package` produces, under the
#                                          paths that pg_config names (unpack with
#                                          tar -C / --no-overwrite-dir -xzf)
#   postgresql-MAJOR-cognito-wrapper_VERSION_ARCH.deb
#                                          the same files as a Debian package depending on
#                                          postgresql-MAJOR; only for a Debian PostgreSQL
#                                          (pg_config's libdir under /usr/lib/postgresql/)
# Prints the paths it wrote, one per line, on stdout. Needs cargo-pgrx (scripts/lib.sh
# setup_tools) and, for the .deb, dpkg-deb.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "==> $*" >&2; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
mkdir -p dist

for pg_config in "${@:-/usr/bin/pg_config}"; do
    major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
    pkglibdir=$("$pg_config" --pkglibdir)
    # The crate builds for 15 by default, with the pg_config cargo pgrx init registered; any
    # other PostgreSQL is named to pgrx's build directly, leaving ~/.pgrx/config.toml alone.
    cargo_env=() features=()
    if [[ "$major" != 15 || "$pg_config" != /usr/bin/pg_config ]]; then
        cargo_env=(PGRX_PG_CONFIG_PATH="$pg_config")
        features=(--no-default-features --features "pg$major")
    fi
    log "cargo pgrx package for PostgreSQL $major ($pg_config)"
    env "${cargo_env[@]}" cargo pgrx package --pg-config "$pg_config" "${features[@]}" >&2
    # cargo pgrx package lays the files out under target/release/wrappers-pgMAJOR/ by their
    # absolute install paths; stale files of other versions from earlier builds are dropped.
    staged=$ROOT/target/release/wrappers-pg$major
    find "$staged" -name 'wrappers--*.sql' | while read -r f; do
        case "$(basename "$f")" in
        "wrappers--$version.sql" | wrappers--*--"$version".sql) ;;
        *) rm -f "$f" ;;
        esac
    done

    tarball=dist/wrappers-$version-pg$major-$arch.tar.gz
    tar -C "$staged" -czf "$tarball" --owner=0 --group=0 .
    echo "$ROOT/$tarball"

    if [[ "$pkglibdir" == /usr/lib/postgresql/* ]] && command -v dpkg-deb >/dev/null; then
        name=postgresql-$major-cognito-wrapper
        deb_root=$(mktemp -d)
        cp -a "$staged/." "$deb_root/"
        mkdir -p "$deb_root/DEBIAN"
        cat >"$deb_root/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: cognito wrapper developers <noreply@localhost>
Depends: postgresql-$major
Section: database
Priority: optional
Description: AWS Cognito user pools as PostgreSQL $major foreign tables
 The wrappers extension: CREATE EXTENSION wrappers, then a foreign data wrapper
 with handler cognito_fdw_handler and validator cognito_fdw_validator.
EOF
        deb=dist/${name}_${version}_$arch.deb
        dpkg-deb --root-owner-group --build "$deb_root" "$deb" >&2
        rm -rf "$deb_root"
        echo "$ROOT/$deb"
    fi
done
