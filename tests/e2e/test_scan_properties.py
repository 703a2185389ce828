"""Properties of the FDW layer that an expected-output file cannot show: results equal to
what the emulator holds, flat memory, cancel, no state left behind after errors, and no
secret in any message or log line."""

import os
import time
from pathlib import Path

import boto3
import psycopg
import pytest

from conftest import (
    connect,
    create_db,
    create_table,
    drop_db,
    figure,
    install_wrapper,
    seconds_from_cancel_to_error,
)

SECRET = "TOPSECRET-7f3a9c-do-not-print"


def setup_wrapper(conn, state, silent_url, secret="x"):
    region, endpoint = state["region"], state["endpoint"]
    pools = state["pools"]
    install_wrapper(conn)
    for name, pool, url in [("main", pools["main"]["id"], endpoint),
                            ("big", pools["big"]["id"], endpoint),
                            ("silent", pools["main"]["id"], silent_url)]:
        create_table(conn, name, pool, url, region, secret, ", request_timeout_ms '60000'")
    create_table(conn, "missing", "us-east-1_missing", endpoint, region, secret)
    create_table(conn, "refused", f"{region}_refused", "http://127.0.0.1:1", region, secret,
                 ", max_attempts '1'")


@pytest.fixture
def db(pg_env, fresh_db, state, silent_url):
    with connect(pg_env, fresh_db) as conn:
        setup_wrapper(conn, state, silent_url)
    return fresh_db


def live_scans(conn):
    return conn.execute("select extensions.cognito_fdw_live_scans()").fetchone()[0]


def test_rows_equal_what_the_emulator_holds(pg_env, db, state):
    client = boto3.client("cognito-idp", endpoint_url=state["endpoint"],
                          region_name=state["region"], aws_access_key_id="AKIAEXAMPLE",
                          aws_secret_access_key="x")
    expected = {}
    for page in client.get_paginator("list_users").paginate(
            UserPoolId=state["pools"]["main"]["id"], PaginationConfig={"PageSize": 60}):
        for u in page["Users"]:
            attrs = {a["Name"]: a["Value"] for a in u.get("Attributes", [])}
            expected[u["Username"]] = (
                attrs.get("email"), u["UserStatus"], u["Enabled"],
                u["UserCreateDate"].replace(tzinfo=None),
                u["UserLastModifiedDate"].replace(tzinfo=None), attrs)
    with connect(pg_env, db) as conn:
        rows = conn.execute("select username, email, status, enabled, created_at, updated_at, "
                            "attributes from main_users").fetchall()
    got = {r[0]: tuple(r[1:]) for r in rows}
    assert len(rows) == len(got) == state["pools"]["main"]["users"] == len(expected)
    assert got == expected


def vm_hwm_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM line")


def test_memory_stays_flat_while_8000_large_users_stream(pg_env, db, state):
    users = state["pools"]["big"]["users"]
    assert users >= 8000, "start the emulator with --big-users 8000"
    with connect(pg_env, db) as conn:
        pid = conn.execute("select pg_backend_pid()").fetchone()[0]
        # A full listing of a large pool is costed per request, above jit_above_cost: JIT
        # would load LLVM (some 55 MB of peak memory) and hide what this test measures.
        conn.execute("set jit = off")
        # Warm-up: load the library, build the client, touch every code path once.
        conn.execute("select count(attributes) from (select * from big_users limit 200) s")
        before = vm_hwm_kb(pid)
        count, payload = conn.execute(
            "select count(*), sum(length(attributes::text)) from big_users").fetchone()
        after = vm_hwm_kb(pid)
    assert count == users
    assert payload > 16 * 1024 * 1024, "each user should carry about 2 KB"
    growth_mb = (after - before) / 1024
    figure(f"memory: VmHWM grew {growth_mb:.2f} MB while {count} users "
           f"({payload / 1024 / 1024:.1f} MB of attributes) streamed through one query")
    assert growth_mb < 8


def run_and_time(conn, sql):
    start = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled) as err:
        conn.execute(sql)
    return time.monotonic() - start, err.value


def test_statement_timeout_ends_a_request_that_never_gets_an_answer(pg_env, db):
    with connect(pg_env, db) as conn:
        conn.execute("set statement_timeout = '1s'")
        elapsed, err = run_and_time(conn, "select * from silent_users")
        assert "statement timeout" in str(err)
        figure(f"cancel: statement_timeout 1s ended a silent request after {elapsed:.3f} s")
        # Not before the timeout; and an order of magnitude before request_timeout_ms (60 s),
        # which is what ends the request when the timeout does not reach the wait.
        assert 0.9 < elapsed < 6
        conn.execute("reset statement_timeout")
        assert conn.execute("select count(*) from main_users").fetchone()[0] == 1200
        assert live_scans(conn) == 0


def test_pg_cancel_backend_ends_a_waiting_scan_at_once(pg_env, db):
    with connect(pg_env, db) as conn:
        # PostgreSQL's own cancel of pg_sleep, measured in the same run, is the baseline for
        # what "at once" costs on this machine right now.
        baseline = seconds_from_cancel_to_error(pg_env, conn, "select pg_sleep(60)", 0.7)
        to_error = seconds_from_cancel_to_error(pg_env, conn, "select * from silent_users", 0.7)
        figure(f"cancel: pg_cancel_backend to error took {to_error * 1000:.0f} ms "
               f"(pg_sleep: {baseline * 1000:.0f} ms)")
        # Without cancel support the wait lasts request_timeout_ms, 60 s.
        assert to_error < 2.0 + 10 * baseline
        assert conn.execute("select 1").fetchone()[0] == 1
        assert live_scans(conn) == 0


def test_no_scan_state_outlives_its_query_on_any_path(pg_env, db):
    with connect(pg_env, db) as conn:
        # An open cursor holds exactly one scan: the counter does count.
        conn.execute("begin")
        conn.execute("declare c cursor for select username from main_users")
        conn.execute("fetch 3 from c")
        assert live_scans(conn) == 1
        conn.execute("rollback")
        assert live_scans(conn) == 0
        # An error raised mid-scan, by PostgreSQL, on the 500th user.
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("select 1 / (case when username = 'user0500' then 0 else 1 end) "
                         "from main_users")
        assert live_scans(conn) == 0
        # The same inside a subtransaction that is rolled back, the outer one going on.
        conn.execute("begin")
        conn.execute("savepoint a")
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("select 1 / (case when username = 'user0100' then 0 else 1 end) "
                         "from main_users")
        conn.execute("rollback to savepoint a")
        assert live_scans(conn) == 0
        assert conn.execute("select count(*) from main_users").fetchone()[0] == 1200
        conn.execute("commit")
        # A cursor left open at commit is closed by PostgreSQL.
        conn.execute("begin")
        conn.execute("declare d cursor for select username from main_users")
        conn.execute("fetch 1 from d")
        conn.execute("commit")
        assert live_scans(conn) == 0


def test_no_secret_in_messages_explain_or_the_server_log(pg_env, fresh_db, state, silent_url):
    log = Path(os.environ["PG_LOG"])
    log_start = log.stat().st_size
    seen = []
    with connect(pg_env, fresh_db) as conn:
        conn.add_notice_handler(lambda n: seen.append(str(n.message_primary)))
        setup_wrapper(conn, state, silent_url, secret=SECRET)
        conn.execute("create foreign table bad_type (enabled int) "
                     "server main_server options (object 'users')")
        statements = [
            "select * from missing_users",
            "select * from refused_users",
            "select * from bad_type",
            "set statement_timeout = '300ms'; select * from silent_users",
            f"create server dup foreign data wrapper cognito_wrapper options (region 'r', "
            f"user_pool_id 'p', aws_access_key_id 'a', aws_secret_access_key '{SECRET}', "
            f"api_key_id 'v')",
            f"create user mapping for public server main_server options "
            f"(aws_secret_access_key '{SECRET}')",
        ]
        for sql in statements:
            with pytest.raises(psycopg.Error) as err:
                conn.execute(sql)
            diag = err.value.diag
            seen += [str(x) for x in (diag.message_primary, diag.message_detail,
                                      diag.message_hint, diag.context)]
            conn.execute("reset statement_timeout")
        plan = conn.execute("explain (analyze, verbose) select * from main_users").fetchall()
        seen += [r[0] for r in plan]
    assert any("ResourceNotFoundException" in s for s in seen)
    assert any("Connection refused" in s for s in seen)
    written = log.read_bytes()[log_start:].decode(errors="replace")
    for text in seen + [written]:
        assert SECRET not in text


def test_aws_errors_carry_the_request_id_and_timeouts_say_so(pg_env, db, state, silent_url):
    with connect(pg_env, db) as conn:
        with pytest.raises(psycopg.errors.FdwTableNotFound) as err:
            conn.execute("select * from missing_users")
        assert "us-east-1_missing" in err.value.diag.message_primary
        detail = err.value.diag.message_detail
        assert detail.startswith("Cognito ListUsers on user pool us-east-1_missing answered "
                                 "HTTP 400; AWS request id: ")
        assert len(detail.rsplit(": ", 1)[1]) >= 8

        # (use_remote_estimate off: the timed requests are the scan's ListUsers alone)
        conn.execute("alter server silent_server options (set request_timeout_ms '500', "
                     "add max_attempts '2', add max_backoff_ms '100', "
                     "add use_remote_estimate 'false')")
        start = time.monotonic()
        with pytest.raises(psycopg.errors.FdwUnableToEstablishConnection) as err:
            conn.execute("select * from silent_users")
        elapsed = time.monotonic() - start
        assert err.value.diag.message_primary == (
            f"Cognito ListUsers request to {silent_url} timed out after 500 ms")
        assert err.value.diag.message_detail.startswith(
            "No answer within request_timeout_ms (500 ms) on 2 attempts (max_attempts) over ")
        figure(f"timeout: 2 attempts of 500 ms at a silent endpoint failed after {elapsed:.2f} s")
        # Both attempts waited their 500 ms; far less than the 60 s the server had before.
        assert 1.0 <= elapsed < 10
        assert live_scans(conn) == 0


def test_runtime_threads_never_take_postgresql_signals(pg_env, fresh_db, state):
    # A host name, not an address: hyper resolves it on a thread of the runtime's blocking
    # pool, which lives on for a few seconds after the query.
    endpoint = state["endpoint"].replace("127.0.0.1", "localhost")
    with connect(pg_env, fresh_db) as conn:
        install_wrapper(conn)
        create_table(conn, "named", state["pools"]["demo"]["id"], endpoint, state["region"])
        assert conn.execute("select count(*) from named_users").fetchone()[0] == 12
        pid = conn.execute("select pg_backend_pid()").fetchone()[0]
        masks = {}
        for task in Path(f"/proc/{pid}/task").iterdir():
            if int(task.name) == pid:
                continue  # the backend's own thread, which must take them
            status = (task / "status").read_text()
            masks[task.name] = int(status.split("SigBlk:")[1].split()[0], 16)
    assert masks, "no runtime thread was started: the test shows nothing"
    # SIGINT (cancel), SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM (statement_timeout), SIGTERM.
    wanted = sum(1 << (sig - 1) for sig in (2, 3, 10, 12, 14, 15))
    for tid, mask in masks.items():
        assert mask & wanted == wanted, f"thread {tid} takes signals: SigBlk {mask:016x}"


def test_a_database_that_is_not_utf8_is_refused_clearly(pg_env, psql, state):
    name = "t_latin1"
    create_db(psql, name, "encoding 'LATIN1' template template0 lc_collate 'C' lc_ctype 'C'")
    try:
        with connect(pg_env, name) as conn:
            install_wrapper(conn)
            create_table(conn, "latin", state["pools"]["demo"]["id"], state["endpoint"],
                         state["region"])
            with pytest.raises(psycopg.errors.FeatureNotSupported) as err:
                conn.execute("select * from latin_users where username = 'José'")
            assert err.value.diag.message_primary == (
                "Cognito foreign tables need a UTF8 database; this one is LATIN1")
    finally:
        drop_db(psql, name)
