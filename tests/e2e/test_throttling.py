"""Full scans under throttling and server errors, and sessions sharing one quota: every user
comes back exactly once.

The fault proxy (tests/emulator/fault_proxy.py) answers 30% of ListUsers requests with
TooManyRequestsException and 10% with HTTP 500; our retries send the same request (the same
page token) again, so no page is lost or read twice. Throttled attempts do not count against
max_attempts (they were not executed; they wait within a time budget instead), so only the 10%
of errors could exhaust a page's attempts: with max_attempts 8, 1e-8 per page."""

import threading
import time

from conftest import connect, create_table, install_wrapper, figure


def throttled_scan(pg_env, db, state, fault_proxy, pool):
    """Scan POOL through a proxy that throttles 30% and fails 10% of ListUsers requests.
    Returns (EXPLAIN ANALYZE lines, count, distinct count, proxy counters of both scans)."""
    url, proxy = fault_proxy(throttle_fraction=0.3, error_fraction=0.1, seed=7)
    with connect(pg_env, db) as conn:
        install_wrapper(conn)
        create_table(conn, "flaky", state["pools"][pool]["id"], url, state["region"],
                     extra=", max_attempts '8', max_backoff_ms '200', "
                           "requests_per_second '200'"
                           # the big pool's scan must be partitioned, whatever the round trip
                           + (", parallel_scan 'on'" if pool == "big" else ""))
        plan = [r[0].strip() for r in conn.execute(
            "explain (analyze, costs off, timing off, summary off) "
            "select username from flaky_users").fetchall()]
        count, distinct = conn.execute(
            "select count(*), count(distinct username) from flaky_users").fetchone()
    stats = proxy.snapshot()
    # Every request was answered by moto or failed by the proxy: none lost in between. (Both
    # scans have finished, so nothing is in flight.)
    assert stats["in_flight"] == 0, stats
    assert stats["forwarded"] + stats["throttled"] + stats["faulted"] == stats["requests"], stats
    return plan, count, distinct, stats


def test_a_throttled_scan_of_2000_users_returns_each_once(pg_env, fresh_db, state, fault_proxy):
    plan, count, distinct, stats = throttled_scan(pg_env, fresh_db, state, fault_proxy, "plain")
    assert "Cognito Filters Sent: none" in plan
    assert count == distinct == state["pools"]["plain"]["users"] == 2000
    figure(f"throttling: 2,000 users: {stats['throttled']} throttled and "
           f"{stats['faulted']} failed of {stats['requests']} requests; {count} users, each once")
    # Two scans of 34 pages each, about 113 requests: some 34 throttled and 11 failed.
    assert stats["throttled"] >= 10 and stats["faulted"] >= 3, stats


def test_a_throttled_partitioned_scan_returns_every_user_once(pg_env, fresh_db, state,
                                                              fault_proxy):
    plan, count, distinct, stats = throttled_scan(pg_env, fresh_db, state, fault_proxy, "big")
    assert "Cognito Filters Sent: 16 partitions by sub prefix" in plan
    assert count == distinct == state["pools"]["big"]["users"]
    figure(f"throttling: {stats['throttled']} throttled and {stats['faulted']} failed of "
           f"{stats['requests']} requests; {count} users, each once")
    assert stats["throttled"] > 20 and stats["faulted"] > 5, stats


def test_four_sessions_share_one_quota(pg_env, fresh_db, state, fault_proxy):
    """Four sessions scan at once, with default options, behind 100 ms of latency and a quota
    of 30 requests per rolling second over all clients (as AWS meters ListUsers per account
    and region). The backends share one adaptive rate, so the quota is hardly ever exceeded,
    and what is throttled is retried: every session gets every user exactly once."""
    url, proxy = fault_proxy(latency_ms=100, rate=30)
    pool = state["pools"]["plain"]
    with connect(pg_env, fresh_db) as conn:
        install_wrapper(conn)
        create_table(conn, "shared", pool["id"], url, state["region"])
    results, errors = [], []
    start = threading.Barrier(4)

    def scan():
        try:
            with connect(pg_env, fresh_db) as conn:
                conn.execute("set search_path = public, extensions")
                conn.execute("select 1")
                start.wait()
                results.append(conn.execute(
                    "select count(*), count(distinct username) from shared_users").fetchone())
        except Exception as err:  # noqa: BLE001 - reported below, with the others
            errors.append(repr(err))

    before = proxy.snapshot()
    began = time.monotonic()
    threads = [threading.Thread(target=scan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    stats = proxy.snapshot()
    requests = stats["by_target"].get("ListUsers", 0) - before["by_target"].get("ListUsers", 0)
    throttled = stats["throttled"] - before["throttled"]
    assert errors == [], errors
    assert results == [(pool["users"], pool["users"])] * 4, results
    figure(f"shared quota: 4 sessions x {pool['users']} users at 30/s: {requests} requests, "
           f"{throttled} throttled, {elapsed:.1f} s (bound {requests / 30:.1f} s)")
    # Sharing the rate is what keeps throttling rare: four backends each at the quota would
    # see most of their requests refused.
    assert throttled <= requests * 0.1, stats
    # An order of magnitude only: at 30/s the 4 x 34 pages take about 5 s.
    assert elapsed < 60
