"""Broken answers, hangs and cancels: an exact result or a clear error, never a crash, a panic
message or a short result presented as complete; cancel works while backing off."""

import re
import socket
import threading
import time

import psycopg
import pytest

from conftest import (
    connect,
    create_table,
    figure,
    install_wrapper,
    seconds_from_cancel_to_error,
)


@pytest.fixture
def wrapped(pg_env, fresh_db, state, fault_proxy):
    url, faults = fault_proxy(seed=11)
    conn = connect(pg_env, fresh_db)
    install_wrapper(conn)
    create_table(conn, "faulty", state["pools"]["main"]["id"], url, state["region"],
                 extra=", max_attempts '10', max_backoff_ms '100', request_timeout_ms '2000', "
                       "parallel_scan 'off'")
    yield conn, faults
    conn.close()


# What each broken answer must give, at 20% of ListUsers requests with max_attempts 10: a
# transport failure (reset, cut body) is retried, so the result is exact; a complete answer
# that cannot be read (not JSON, no Users) is not a transient failure: retrying would hide a
# broken endpoint, so the scan stops with this error.
BROKEN_ANSWERS = {
    "reset": None,
    "truncate": None,
    "garbage": "could not be read",
    "no_users": "has no Users list",
}


@pytest.mark.parametrize("fault", list(BROKEN_ANSWERS))
def test_broken_answers_give_the_exact_result_or_a_clear_error(wrapped, state, fault):
    conn, faults = wrapped
    faults.update({f"{fault}_fraction": 0.2})
    expected_error = BROKEN_ANSWERS[fault]
    if expected_error is None:
        rows = conn.execute("select username from faulty_users").fetchall()
        names = [r[0] for r in rows]
        assert len(names) == len(set(names)) == state["pools"]["main"]["users"]
        outcome = f"all {len(names)} users"
    else:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("select username from faulty_users")
        diag = err.value.diag
        text = f"{diag.message_primary} {diag.message_detail}"
        assert diag.sqlstate.startswith("HV"), text
        assert "Cognito ListUsers" in text and expected_error in text, text
        assert "panic" not in text.lower() and "unhandled" not in text.lower(), text
        outcome = f"error: {diag.message_primary}"
    stats = faults.snapshot()
    # The seeded draw did inject the fault (else the test shows nothing), and an unreadable
    # answer ended the scan at once: exactly one was injected, none retried.
    assert stats["by_fault"][fault] >= 1, stats
    if expected_error is not None:
        assert stats["by_fault"][fault] == 1, stats
    figure(f"faults: {fault} on 20% of {stats['requests']} requests -> {outcome}")
    assert conn.execute("select extensions.cognito_fdw_live_scans()").fetchone()[0] == 0
    assert conn.execute("select 1").fetchone()[0] == 1


def test_bare_429_answers_are_retried(wrapped, state):
    conn, faults = wrapped
    # As a gateway in front of Cognito throttles: HTTP 429, no error code in the body.
    faults.update({"throttle_fraction": 0.3, "throttle_status": 429})
    count, distinct = conn.execute(
        "select count(*), count(distinct username) from faulty_users").fetchone()
    assert count == distinct == state["pools"]["main"]["users"]
    stats = faults.snapshot()
    figure(f"faults: 429 on 30% of {stats['requests']} requests -> all {count} users")
    assert stats["throttled"] >= 3, stats


def test_a_request_that_is_never_answered_fails_clearly_within_ten_seconds(wrapped, state):
    conn, faults = wrapped
    faults.update({"hang_fraction": 1.0})
    conn.execute("alter server faulty_server options (set request_timeout_ms '1000', "
                 "set max_attempts '3')")
    start = time.monotonic()
    with pytest.raises(psycopg.errors.FdwUnableToEstablishConnection) as err:
        conn.execute("select username from faulty_users")
    elapsed = time.monotonic() - start
    assert err.value.diag.message_primary.endswith("timed out after 1000 ms")
    assert faults.snapshot()["by_fault"]["hang"] == 3  # max_attempts, each left unanswered
    figure(f"faults: 3 unanswered attempts of 1 s failed after {elapsed:.2f} s")
    assert elapsed < 10


def test_cancel_during_a_retry_backoff_ends_the_query_within_a_second(pg_env, wrapped):
    conn, faults = wrapped
    # Every request throttled, long backoffs: the scan spends its time waiting between attempts.
    faults.update({"throttle_fraction": 1.0})
    # Throttled attempts go on for up to request_timeout_ms in all: longer than the cancel.
    conn.execute("alter server faulty_server options (set max_backoff_ms '20000', "
                 "set request_timeout_ms '60000')")
    to_error = seconds_from_cancel_to_error(pg_env, conn, "select username from faulty_users",
                                            1.5)
    figure(f"faults: cancel during a retry backoff ended the query after {to_error * 1000:.0f} ms")
    assert to_error < 1.0
    assert faults.snapshot()["throttled"] >= 1
    assert conn.execute("select extensions.cognito_fdw_live_scans()").fetchone()[0] == 0


@pytest.fixture
def unconnectable():
    """An http:// URL on which a connection never opens: a listening socket whose backlog is
    full, so the kernel leaves further connection attempts unanswered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    for s in fillers + [server]:
        s.close()


def test_a_connection_that_never_opens_fails_after_connect_timeout(pg_env, fresh_db, state,
                                                                   unconnectable):
    with connect(pg_env, fresh_db) as conn:
        install_wrapper(conn)
        create_table(conn, "closed", state["pools"]["main"]["id"], unconnectable,
                     state["region"],
                     extra=", connect_timeout_ms '300', request_timeout_ms '20000', "
                           "max_attempts '2', max_backoff_ms '50', use_remote_estimate 'false'")
        start = time.monotonic()
        with pytest.raises(psycopg.errors.FdwUnableToEstablishConnection) as err:
            conn.execute("select username from closed_users")
        elapsed = time.monotonic() - start
        diag = err.value.diag
        assert diag.message_primary.startswith(
            f"Cognito ListUsers request to {unconnectable} timed out after 300 ms: "), \
            diag.message_primary
        assert re.fullmatch(r"No connection within connect_timeout_ms \(300 ms\) on 2 attempts "
                            r"\(max_attempts\) over \d+\.\d s\.", diag.message_detail), \
            diag.message_detail
        figure(f"faults: 2 connection attempts of 300 ms failed after {elapsed:.2f} s")
        assert 0.6 <= elapsed < 2.0


def wait_events_of(pg_env, conn, sql, seconds):
    """Run SQL on CONN in a thread and sample pg_stat_activity's wait event of its backend
    from another connection every 50 ms for SECONDS; then cancel it. Returns the samples."""
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    outcome = []

    def run():
        try:
            conn.execute(sql)
            outcome.append("finished")
        except psycopg.errors.QueryCanceled:
            outcome.append("cancelled")

    thread = threading.Thread(target=run)
    thread.start()
    samples = []
    with connect(pg_env, conn.info.dbname) as other:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            samples.append(other.execute(
                "select state, wait_event_type, wait_event from pg_stat_activity "
                "where pid = %s", (pid,)).fetchone())
            time.sleep(0.05)
        other.execute("select pg_cancel_backend(%s)", (pid,))
    thread.join()
    assert outcome == ["cancelled"], outcome
    return [s for s in samples if s and s[0] == "active"]


def test_waits_on_cognito_show_in_pg_stat_activity(pg_env, fresh_db, state, silent_url):
    """Up to PostgreSQL 16 every extension wait event is named "Extension" (type and name); the
    network and rate waits differ in their number only (PG_WAIT_EXTENSION | 1 and | 2). From 17
    they are the named events CognitoRequest and CognitoRate (an unnamed number would make
    pg_stat_activity fail for whoever reads it)."""
    with connect(pg_env, fresh_db) as conn:
        install_wrapper(conn)
        named = conn.info.server_version >= 170000
        network = ("Extension", "CognitoRequest" if named else "Extension")
        rate = ("Extension", "CognitoRate" if named else "Extension")
        # A request that is never answered: the backend waits on the network.
        create_table(conn, "silent", state["pools"]["main"]["id"], silent_url, state["region"],
                     extra=", request_timeout_ms '20000', max_attempts '1', "
                           "use_remote_estimate 'false'")
        samples = wait_events_of(pg_env, conn, "select * from silent_users", 1.0)
        assert samples, "the query was never seen active"
        assert all(s[1:] == network for s in samples[2:]), samples
        # One request a second over a pool of 20 pages: the backend waits for its turn.
        create_table(conn, "slow", state["pools"]["main"]["id"], state["endpoint"],
                     state["region"], extra=", requests_per_second '1', parallel_scan 'off'")
        samples = wait_events_of(pg_env, conn, "select * from slow_users", 2.5)
        waiting = [s for s in samples if s[1:] == rate]
        # Most of the time goes to waiting for the rate; a sample may fall between pages.
        assert len(waiting) >= len(samples) * 0.8 and len(samples) >= 10, samples
        figure(f"wait events: {len(waiting)} of {len(samples)} samples of a rate-limited scan "
               f"showed {rate[1]}")
