"""A partitioned full scan under throttling and server errors: every user comes back exactly
once. The fault proxy (tests/emulator/fault_proxy.py) answers 30% of ListUsers requests with
TooManyRequestsException and 10% with HTTP 500; the SDK's retries back off and send the same
request (the same page token) again, so no page is lost or read twice."""

import sys
import threading

import pytest

from conftest import ROOT
from test_scan_properties import connect, create_table, install_wrapper, figure

sys.path.insert(0, str(ROOT / "tests" / "emulator"))
from fault_proxy import make_server  # noqa: E402


@pytest.fixture
def faulty(state):
    server = make_server(state["endpoint"], throttle_fraction=0.3, error_fraction=0.1, seed=7)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server.state
    server.shutdown()
    server.server_close()


def test_a_throttled_partitioned_scan_returns_every_user_once(pg_env, fresh_db, state, faulty):
    url, proxy = faulty
    users = state["pools"]["big"]["users"]
    with connect(pg_env, fresh_db) as conn:
        install_wrapper(conn)
        create_table(conn, "flaky", state["pools"]["big"]["id"], url, state["region"],
                     extra=", max_attempts '20', max_backoff_ms '200', "
                           "requests_per_second '200'")
        plan = [r[0] for r in conn.execute(
            "explain (analyze, costs off, timing off, summary off) "
            "select username from flaky_users").fetchall()]
        count, distinct = conn.execute(
            "select count(*), count(distinct username) from flaky_users").fetchone()
    stats = proxy.snapshot()
    assert "Cognito Filters Sent: 16 partitions by sub prefix" in [p.strip() for p in plan]
    assert count == distinct == users
    faults = stats["throttled"] + stats["faulted"]
    figure(f"throttling: {stats['throttled']} throttled and {stats['faulted']} failed of "
          f"{stats['requests']} requests; {count} users, each once")
    assert stats["throttled"] > 20 and stats["faulted"] > 5, stats
    assert stats["forwarded"] + faults >= stats["requests"] - 1
