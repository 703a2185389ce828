"""Full scans under throttling and server errors: every user comes back exactly once. The fault
proxy (tests/emulator/fault_proxy.py) answers 30% of ListUsers requests with
TooManyRequestsException and 10% with HTTP 500; the SDK's retries back off and send the same
request (the same page token) again, so no page is lost or read twice."""

from test_scan_properties import connect, create_table, install_wrapper, figure


def throttled_scan(pg_env, db, state, fault_proxy, pool, max_attempts):
    """Scan POOL through a proxy that throttles 30% and fails 10% of ListUsers requests.
    Returns (EXPLAIN ANALYZE lines, count, distinct count, proxy counters of both scans)."""
    url, proxy = fault_proxy(throttle_fraction=0.3, error_fraction=0.1, seed=7)
    with connect(pg_env, db) as conn:
        install_wrapper(conn)
        create_table(conn, "flaky", state["pools"][pool]["id"], url, state["region"],
                     extra=f", max_attempts '{max_attempts}', max_backoff_ms '200', "
                           "requests_per_second '200'")
        plan = [r[0].strip() for r in conn.execute(
            "explain (analyze, costs off, timing off, summary off) "
            "select username from flaky_users").fetchall()]
        count, distinct = conn.execute(
            "select count(*), count(distinct username) from flaky_users").fetchone()
    stats = proxy.snapshot()
    # Every request was either answered by moto or failed by the proxy: none lost in between.
    assert stats["forwarded"] + stats["throttled"] + stats["faulted"] >= stats["requests"] - 1
    return plan, count, distinct, stats


def test_a_throttled_scan_of_2000_users_with_10_attempts_returns_each_once(
        pg_env, fresh_db, state, fault_proxy):
    plan, count, distinct, stats = throttled_scan(pg_env, fresh_db, state, fault_proxy,
                                                  "plain", 10)
    assert "Cognito Filters Sent: none" in plan
    assert count == distinct == state["pools"]["plain"]["users"] == 2000
    figure(f"throttling: 2,000 users with max_attempts 10: {stats['throttled']} throttled and "
           f"{stats['faulted']} failed of {stats['requests']} requests; {count} users, each once")
    # Two scans of 34 pages each, about 113 requests: some 34 throttled and 11 failed.
    assert stats["throttled"] >= 10 and stats["faulted"] >= 3, stats


def test_a_throttled_partitioned_scan_returns_every_user_once(pg_env, fresh_db, state,
                                                              fault_proxy):
    # 16 partitions read 8 at a time, about 500 requests: with 10 attempts, one page failing
    # ten times in a row (0.4^10 each) would sink about one run in a hundred; 20 attempts
    # make that negligible without weakening what is shown.
    plan, count, distinct, stats = throttled_scan(pg_env, fresh_db, state, fault_proxy,
                                                  "big", 20)
    assert "Cognito Filters Sent: 16 partitions by sub prefix" in plan
    assert count == distinct == state["pools"]["big"]["users"]
    figure(f"throttling: {stats['throttled']} throttled and {stats['faulted']} failed of "
           f"{stats['requests']} requests; {count} users, each once")
    assert stats["throttled"] > 20 and stats["faulted"] > 5, stats
