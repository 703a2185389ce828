"""The size check (DescribeUserPool) that an unfiltered scan makes to choose partitions: its
failures are ignored, and it neither fails a scan nor slows it beyond one request's budget;
against an endpoint that never answers, a scan fails within ListUsers' own budget, not after
the size check has spent a budget of its own first."""

import time

import psycopg
import pytest

from conftest import connect, create_table, figure, install_wrapper

# One request's budget: 3 attempts of 1 s, backoffs of at most 0.1 s between them.
LIMITS = ", request_timeout_ms '1000', max_attempts '3', max_backoff_ms '100'"
ATTEMPT_S = 1.0


def faults_on_describe_only(proxy):
    """Let the proxy's faults (switched on for every call with faults_all) hit only
    DescribeUserPool, so that the scan's own ListUsers requests stay clean."""
    decide = proxy.begin

    def begin(target, signer):
        cfg, fault, rate_limited, verdict = decide(target, signer)
        if not target.endswith(".DescribeUserPool"):
            fault = None
        return cfg, fault, rate_limited, verdict

    proxy.begin = begin


def timed_scan(pg_env, db, state, url, name):
    """(seconds, users) of an unfiltered scan of the main pool through `url`, on a new
    connection: the size cache is per backend, so each scan starts knowing nothing."""
    conn = connect(pg_env, db)
    try:
        conn.execute("set search_path = public, extensions")
        create_table(conn, name, state["pools"]["main"]["id"], url, state["region"], extra=LIMITS)
        start = time.monotonic()
        rows = conn.execute(f"select username from {name}_users").fetchall()
        return time.monotonic() - start, [r[0] for r in rows]
    finally:
        conn.close()


@pytest.fixture
def db(pg_env, fresh_db):
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    conn.close()
    return fresh_db


@pytest.mark.parametrize("fault", ["hang", "error", "reset", "garbage"])
def test_a_failing_size_check_neither_fails_nor_slows_a_scan(pg_env, db, state, fault_proxy, fault):
    clean_url, clean = fault_proxy()
    baseline, users = timed_scan(pg_env, db, state, clean_url, "clean")
    assert clean.snapshot()["by_target"].get("DescribeUserPool") == 1
    assert len(users) == len(set(users)) == state["pools"]["main"]["users"]

    url, proxy = fault_proxy(faults_all=True, hang_seconds=30, **{f"{fault}_fraction": 1.0})
    faults_on_describe_only(proxy)
    elapsed, users = timed_scan(pg_env, db, state, url, "faulty")
    stats = proxy.snapshot()
    figure(f"size check: DescribeUserPool {fault}: scan {elapsed:.2f} s "
           f"(clean {baseline:.2f} s), {stats['by_target']}")
    # Every user, once: without a size the pool is read as one sequential stream.
    assert len(users) == len(set(users)) == state["pools"]["main"]["users"]
    # One attempt, whatever the fault: a retried size check would spend a request's budget.
    assert stats["by_target"].get("DescribeUserPool") == 1, stats
    # The size is asked alongside the first page: at worst one attempt's wait is added.
    assert elapsed < baseline + ATTEMPT_S + 0.8, (elapsed, baseline)


def test_an_endpoint_that_never_answers_fails_within_one_requests_budget(
        pg_env, db, state, fault_proxy):
    url, proxy = fault_proxy(faults_all=True, hang_fraction=1.0, hang_seconds=30)
    conn = connect(pg_env, db)
    try:
        conn.execute("set search_path = public, extensions")
        create_table(conn, "silent", state["pools"]["main"]["id"], url, state["region"],
                     extra=LIMITS)
        start = time.monotonic()
        with pytest.raises(psycopg.Error) as failure:
            conn.execute("select username from silent_users").fetchall()
        elapsed = time.monotonic() - start
    finally:
        conn.close()
    stats = proxy.snapshot()
    message = failure.value.diag.message_primary
    figure(f"size check: endpoint never answers: failed after {elapsed:.2f} s, "
           f"{stats['by_target']}: {message}")
    assert "ListUsers" in message and "timed out" in message, message
    assert stats["by_target"].get("DescribeUserPool") == 1, stats
    assert stats["by_target"].get("ListUsers") == 3, stats
    # ListUsers' three attempts of 1 s and two short backoffs; before, the size check's own
    # three attempts came first (about 6.4 s in all).
    assert 3 * ATTEMPT_S <= elapsed < 3 * ATTEMPT_S + 1.3, elapsed
