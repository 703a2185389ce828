"""Options changed while queries run: each query uses the options current at its start, and
every result stays exact.

A scan reads its server's and table's options in BeginForeignScan, from one read of the
catalog; its client is the backend's cached client for exactly those options (rebuilt when
they change). PostgreSQL itself replans cached statements after ALTER SERVER. EXPLAIN
(ANALYZE, VERBOSE) prints the options in force for the scan ("Cognito Options"): the timeouts
and attempts from the client it used, the listing options from the scan's state.
"""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from conftest import connect, create_table, figure, install_wrapper

EIGHT_NAMES = ", ".join(f"'user{i:04d}'" for i in range(11, 19))


def options_used(conn, query):
    """The Cognito Options line of EXPLAIN (ANALYZE, VERBOSE) QUERY, as a dict of ints."""
    lines = [r[0].strip() for r in conn.execute(
        f"explain (analyze, verbose, costs off, timing off, summary off) {query}").fetchall()]
    line = next(x for x in lines if x.startswith("Cognito Options: "))
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", line)}


def test_a_prepared_query_follows_alter_server(pg_env, fresh_db, state, fault_proxy):
    # 300 ms per answer: requests of one query overlap, and a short timeout fails them.
    url, proxy = fault_proxy(latency_ms=300)
    with connect(pg_env, fresh_db) as conn:
        install_wrapper(conn)
        create_table(conn, "slow", state["pools"]["main"]["id"], url, state["region"],
                     extra=", max_concurrent_requests '2', requests_per_second '1000'")
        conn.execute("set plan_cache_mode = force_generic_plan")
        conn.execute(f"prepare q as select username from slow_users "
                     f"where username in ({EIGHT_NAMES})")

        def in_flight_while_running():
            proxy.reset_stats()
            assert len(conn.execute("execute q").fetchall()) == 8
            stats = proxy.snapshot()
            assert stats["requests"] == 8, stats
            return stats["max_in_flight"]

        assert in_flight_while_running() == 2
        conn.execute("alter server slow_server options (set max_concurrent_requests '6')")
        assert in_flight_while_running() == 6
        assert options_used(conn, "execute q")["max_concurrent_requests"] == 6

        conn.execute("alter server slow_server options "
                     "(add request_timeout_ms '100', add max_attempts '1')")
        with pytest.raises(psycopg.errors.FdwUnableToEstablishConnection) as err:
            conn.execute("execute q")
        assert "timed out" in err.value.diag.message_primary
        conn.execute("alter server slow_server options (set request_timeout_ms '5000')")
        assert len(conn.execute("execute q").fetchall()) == 8
        assert options_used(conn, "execute q")["request_timeout_ms"] == 5000

        # pushdown shapes the plan itself: PostgreSQL replans the cached statement.
        def plan():
            return [r[0].strip() for r in conn.execute("explain (costs off) execute q")]
        assert "Cognito Filter: username = any of (" in "\n".join(plan())
        conn.execute("alter server slow_server options (add pushdown 'false')")
        assert not any(line.startswith("Cognito Filter") for line in plan()), plan()


def test_eight_sessions_scan_exactly_while_another_alters_the_server(
        pg_env, fresh_db, state, fault_proxy):
    url, _ = fault_proxy(latency_ms=10)
    # Version k of the server's options; every field follows from k, so a scan that mixed two
    # versions (say, a client of one and a listing of another) shows up as inconsistent.
    def version(k):
        return {"connect_timeout_ms": 5000 + k, "request_timeout_ms": 20000 + k,
                "max_attempts": 3 + k % 5, "max_concurrent_requests": 1 + k % 8}

    def options_clause(k, verb):
        return ", ".join(f"{verb} {name} '{value}'" for name, value in version(k).items())

    with connect(pg_env, fresh_db) as admin:
        install_wrapper(admin)
        create_table(admin, "busy", state["pools"]["main"]["id"], url, state["region"],
                     extra=f", requests_per_second '200', {options_clause(0, '')}")
        everyone = sorted(r[0] for r in admin.execute("select username from busy_users"))
        assert len(everyone) == state["pools"]["main"]["users"]

        # The latest version whose ALTER has committed, and the latest one sent.
        committed, sent, failed = [0], [0], []
        stop = threading.Event()

        def alter_forever():
            k = 0
            try:
                while not stop.is_set():
                    k += 1
                    sent[0] = k
                    admin.execute(
                        f"alter server busy_server options ({options_clause(k, 'set')})")
                    committed[0] = k
                    time.sleep(0.02)
            except Exception as err:  # re-raised in the test's thread
                failed.append(err)

        def session(n):
            checked = 0
            with connect(pg_env, fresh_db) as conn:
                conn.execute("set search_path = public, extensions")
                full, some = "select username from busy_users", (
                    f"select username from busy_users where username in ({EIGHT_NAMES})")
                if n % 2:  # half the sessions run cached generic plans
                    conn.execute("set plan_cache_mode = force_generic_plan")
                    conn.execute(f"prepare full_scan as {full}")
                    conn.execute(f"prepare eight as {some}")
                    full, some = "execute full_scan", "execute eight"
                for _ in range(3):
                    rows = sorted(r[0] for r in conn.execute(full).fetchall())
                    assert rows == everyone
                    rows = sorted(r[0] for r in conn.execute(some).fetchall())
                    assert rows == [f"user{i:04d}" for i in range(11, 19)]
                    low = committed[0]
                    used = options_used(conn, full)
                    high = sent[0]
                    k = used["request_timeout_ms"] - 20000
                    assert low <= k <= high, (low, used, high)
                    assert {name: used[name] for name in version(k)} == version(k), used
                    checked += 1
            return checked

        alterer = threading.Thread(target=alter_forever)
        alterer.start()
        try:
            with ThreadPoolExecutor(8) as pool:
                checked = sum(pool.map(session, range(8)))
        finally:
            stop.set()
            alterer.join()
        if failed:
            raise failed[0]
    figure(f"options: 8 sessions ran {checked * 3} scans, exact, during {committed[0]} "
           f"ALTER SERVERs; each of {checked} EXPLAINs used the options of its start")
    assert committed[0] >= 10
