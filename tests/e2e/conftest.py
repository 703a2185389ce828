"""Fixtures for the end-to-end tests.

They expect the services that scripts/test.sh starts (see scripts/lib.sh):
a PostgreSQL cluster (15, or PG_MAJOR) with the extension installed (PGHOST/PGPORT/PGUSER),
the seeded moto emulator (MOTO_STATE = its state JSON) and the silent server
(SILENT_URL).
"""

import datetime
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql as psql_sql

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "emulator"))

# Pin what would otherwise vary with the machine or the user's settings, so
# that expected output files stay byte-for-byte stable.
PSQL_ENV_FIXED = {
    "PGTZ": "UTC",
    "PGDATESTYLE": "ISO, MDY",
    "PGCLIENTENCODING": "UTF8",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _pg_env():
    env = dict(os.environ)
    env.setdefault("PGHOST", "127.0.0.1")
    env.setdefault("PGUSER", "postgres")
    if "PGPORT" not in env:
        pytest.fail("PGPORT is not set: run scripts/test.sh, or start_pg from scripts/lib.sh")
    env.update(PSQL_ENV_FIXED)
    # A stray PGDATABASE/PGOPTIONS from the caller would change what runs.
    env.pop("PGDATABASE", None)
    env.pop("PGOPTIONS", None)
    return env


@pytest.fixture(scope="session")
def pg_env():
    """Environment (dict) for running psql/libpq clients against the test cluster."""
    return _pg_env()


# The pools tests/emulator/seeded_moto.py seeds and the tests use. One missing fails every
# test that needs the emulator, rather than letting some skip or pass on less.
REQUIRED_POOLS = ("main", "big", "plain", "empty", "demo", "custom", "configured")


@pytest.fixture(scope="session")
def state():
    """The seeded emulator's state JSON: region, endpoint, pools.{main,big,plain,empty,demo}
    .{id,users}."""
    path = os.environ.get("MOTO_STATE")
    if not path or not Path(path).is_file():
        pytest.fail("MOTO_STATE does not name the emulator state file: run scripts/test.sh")
    loaded = json.loads(Path(path).read_text())
    missing = [p for p in REQUIRED_POOLS if p not in loaded.get("pools", {})]
    if missing:
        pytest.fail(f"the emulator ({path}) has no pool {', '.join(missing)}: start it with "
                    f"every pool (scripts/lib.sh start_moto)", pytrace=False)
    return loaded


@pytest.fixture(scope="session")
def silent_url():
    url = os.environ.get("SILENT_URL")
    if not url:
        pytest.fail("SILENT_URL is not set: run scripts/test.sh")
    return url


def run_psql(env, dbname, sql, *extra_args, timeout=300):
    """Run SQL (any number of statements) with psql; stop at the first error.

    Returns (returncode, combined stdout+stderr).
    """
    proc = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbname, *extra_args, "-f", "-"],
        input=sql, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=timeout,
    )
    return proc.returncode, proc.stdout


@pytest.fixture(scope="session")
def psql(pg_env):
    """psql(dbname, sql) -> (rc, output)."""

    def _psql(dbname, sql, *extra_args, timeout=300):
        return run_psql(pg_env, dbname, sql, *extra_args, timeout=timeout)

    return _psql


def create_db(psql, name, options=""):
    rc, out = psql("postgres", f'drop database if exists "{name}" with (force);\n'
                               f'create database "{name}" {options};\n')
    assert rc == 0, f"could not create database {name}:\n{out}"


def drop_db(psql, name):
    rc, out = psql("postgres", f'drop database if exists "{name}" with (force);\n')
    assert rc == 0, f"could not drop database {name}:\n{out}"


@pytest.fixture
def fresh_db(psql):
    """Name of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_db(psql, name)
    yield name
    drop_db(psql, name)


@pytest.fixture
def fault_proxy(state):
    """start(**settings) -> (url, proxy state): a fault proxy (tests/emulator/fault_proxy.py)
    in front of the emulator, in this process, stopped after the test."""
    from fault_proxy import make_server

    servers = []

    def start(**settings):
        server = make_server(state["endpoint"], **settings)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server.state

    yield start
    for server in servers:
        server.state.stopping.set()  # release connections held by a hang fault
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- helpers the tests share

FIGURES = ROOT / "tests" / "results" / "figures.txt"


def figure(line):
    """Record a measured figure for the closing note and the CI log."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as f:
        f.write(line + "\n")
    print(line)


def connect(pg_env, dbname):
    return psycopg.connect(host=pg_env["PGHOST"], port=pg_env["PGPORT"],
                           user=pg_env["PGUSER"], dbname=dbname, autocommit=True)


def create_table(conn, name, pool, endpoint, region, secret="x", extra=""):
    """A server NAME_server on POOL at ENDPOINT and a documented users table NAME_users."""
    conn.execute(f"""create server {name}_server foreign data wrapper cognito_wrapper
        options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key '{secret}',
                 region '{region}', user_pool_id '{pool}', endpoint_url '{endpoint}' {extra})""")
    conn.execute(f"""create foreign table {name}_users (
          username text, email text, status text, enabled boolean,
          created_at timestamp, updated_at timestamp, attributes jsonb)
        server {name}_server options (object 'users')""")


def install_wrapper(conn):
    """The extension and the documented wrapper, in the connection's database."""
    conn.execute("create schema if not exists extensions")
    conn.execute("create extension if not exists wrappers with schema extensions")
    conn.execute("set search_path = public, extensions")
    conn.execute("create foreign data wrapper cognito_wrapper handler cognito_fdw_handler "
                 "validator cognito_fdw_validator")


def seconds_from_cancel_to_error(pg_env, conn, sql, delay):
    """Run SQL on CONN, pg_cancel_backend it from another connection after DELAY seconds, and
    return how long the query took to fail after the cancel."""
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    cancelled_at = []

    def cancel():
        time.sleep(delay)
        with connect(pg_env, conn.info.dbname) as other:
            cancelled_at.append(time.monotonic())
            other.execute("select pg_cancel_backend(%s)", (pid,))

    thread = threading.Thread(target=cancel)
    thread.start()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(sql)
    finally:
        thread.join()
    return time.monotonic() - cancelled_at[0]


# ------------------------------------------- the differential tests of the objects

def utc(moment):
    """A time boto3 read, as the naive UTC timestamp a `timestamp` column holds."""
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def sorted_rows(conn, table, where="true", params=None, projection="x::text"):
    """PROJECTION (text, over the table aliased x) of TABLE's rows under WHERE, sorted."""
    cur = conn.execute(f"select {projection} from {table} x where {where} order by 1", params)
    return [r[0] for r in cur.fetchall()]


# Values built to trip a lookup: white space, wildcards, quotes, empty, too long, SQL.
ODD_VALUES = ["nobody", "", " ", "two words", "x" * 129, "%", "st_ff", "staff%", "it''s",
              "\t", "'; drop table x; --", '"quoted"', "back\\slash"]


class ClauseGen:
    """Random WHERE clauses over one table; everything random comes from RNG. VALUES maps
    each column a clause may compare to the values it compares it with."""

    def __init__(self, rng, conn, values):
        self.rng, self.conn, self.values = rng, conn, values

    def literal(self, value):
        return psql_sql.Literal(value).as_string(self.conn)

    def atom(self, columns):
        rng = self.rng
        col = rng.choice(columns)
        values = self.values[col]
        kind = rng.choice(["eq", "eq", "eq", "in", "in", "ne", "like", "null", "eqnull"])
        if kind == "eq":
            return f"{col} = {self.literal(rng.choice(values))}"
        if kind == "in":
            chosen = rng.sample(values, rng.randint(1, min(4, len(values))))
            items = [self.literal(v) for v in chosen] + (["null"] if rng.random() < 0.2 else [])
            return f"{col} in ({', '.join(items)})"
        if kind == "ne":
            return f"{col} <> {self.literal(rng.choice(values))}"
        if kind == "like":
            v = rng.choice(values)
            return f"{col} like {self.literal(v[: rng.randint(0, 3)] + '%')}"
        if kind == "null":
            return f"{col} is {rng.choice(['', 'not '])}null"
        return f"{col} = null"

    def clause(self, columns, extra):
        """One atom on COLUMNS or one of the EXTRA clauses, or two joined by AND or OR, or
        NOT of one."""
        rng = self.rng
        shape = rng.random()
        a = self.atom(columns) if rng.random() < 0.8 or not extra else rng.choice(extra)
        if shape < 0.4:
            return a
        b = self.atom(columns) if rng.random() < 0.7 or not extra else rng.choice(extra)
        if shape < 0.75:
            return f"{a} and {b}"
        if shape < 0.92:
            return f"({a}) or ({b})"
        return f"not ({a})"
