"""tests/emulator/fault_proxy.py does what it says: it forwards faithfully, counts, adds
latency, enforces the rate quota with Cognito's answer, and injects each fault kind, only on
ListUsers unless faults_all. Later fault tests and scripts/bench.sh rely on it.

The proxy runs as a subprocess (as scripts/lib.sh start_proxy runs it) on a free port in
front of the suite's moto, and is reconfigured through POST /proxy/config between tests.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from conftest import ROOT

PROXY = ROOT / "tests" / "emulator" / "fault_proxy.py"
TARGET = "AWSCognitoIdentityProviderService."
THROTTLE = {"__type": "TooManyRequestsException", "message": "Rate exceeded"}
CLEAN = {"latency_ms": 0, "rate": 0, "throttle_fraction": 0, "error_fraction": 0,
         "reset_fraction": 0, "truncate_fraction": 0, "garbage_fraction": 0,
         "no_users_fraction": 0, "hang_fraction": 0, "seed": 0, "faults_all": False,
         "hang_seconds": 30, "quotas": {}}


@pytest.fixture(scope="module")
def proxy_proc(state):
    proc = subprocess.Popen([sys.executable, str(PROXY), "--port", "0",
                             "--upstream", state["endpoint"]],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("fault_proxy: listening on http://127.0.0.1:"), line
        url = line.split()[3]
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def proxy(proxy_proc):
    """URL of the proxy, with clean settings and zeroed counters."""
    url, _ = proxy_proc
    control(url, "config", CLEAN)
    control(url, "reset")
    return url


def control(url, what, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(f"{url}/proxy/{what}", data=data, method="POST")
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.loads(answer.read())


def stats(url):
    with urllib.request.urlopen(f"{url}/proxy/stats", timeout=10) as answer:
        return json.loads(answer.read())


def client(url, state):
    return boto3.client("cognito-idp", endpoint_url=url, region_name=state["region"],
                        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x",
                        config=Config(retries={"total_max_attempts": 1},
                                      max_pool_connections=50))


def raw_request(url, state, operation="ListUsers", body=None, timeout=5.0):
    """Send one signed-looking request over a new socket; return every byte until the proxy
    closes (or the client's read times out: then ("timeout", bytes so far))."""
    port = int(url.rsplit(":", 1)[1])
    if body is None:
        body = {"UserPoolId": state["pools"]["main"]["id"], "Limit": 60}
    payload = json.dumps(body).encode()
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"X-Amz-Target: {TARGET}{operation}\r\n"
            "Content-Type: application/x-amz-json-1.1\r\n"
            "X-Amz-Date: 20240101T000000Z\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240101/"
            f"{state['region']}/cognito-idp/aws4_request, SignedHeaders=host, Signature=00\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + payload)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return "closed", received
                received += chunk
        except ConnectionResetError:
            return "reset", received
        except socket.timeout:
            return "timeout", received


def parse(received):
    """(status, headers{lower: value}, body) of a raw answer."""
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_forwards_faithfully_and_counts(proxy, state):
    pool = state["pools"]["main"]["id"]
    direct = client(state["endpoint"], state).list_users(UserPoolId=pool, Limit=60)
    via = client(proxy, state)
    proxied = via.list_users(UserPoolId=pool, Limit=60)
    assert [u["Username"] for u in proxied["Users"]] == [u["Username"] for u in direct["Users"]]
    assert proxied["PaginationToken"] == direct["PaginationToken"]
    via.describe_user_pool(UserPoolId=pool)
    with pytest.raises(via.exceptions.ResourceNotFoundException):  # upstream errors relayed
        via.list_users(UserPoolId="us-east-1_missing")
    s = stats(proxy)
    assert s["requests"] == 3 and s["forwarded"] == 3
    assert s["by_target"] == {"ListUsers": 2, "DescribeUserPool": 1}
    assert s["throttled"] == s["faulted"] == s["in_flight"] == 0
    assert s["max_in_flight"] == 1
    control(proxy, "reset")
    s = stats(proxy)
    assert s["requests"] == s["forwarded"] == s["max_in_flight"] == 0 and s["by_target"] == {}


def test_latency_delays_every_request(proxy, state):
    control(proxy, "config", {"latency_ms": 250})
    c = client(proxy, state)
    for call in (lambda: c.list_users(UserPoolId=state["pools"]["main"]["id"]),
                 lambda: c.describe_user_pool(UserPoolId=state["pools"]["main"]["id"])):
        start = time.monotonic()
        call()
        # At least the latency; the upper bound only rules out a stuck request (a shared
        # 2-core machine may stall a thread for a second).
        assert 0.25 <= time.monotonic() - start < 10


def test_thirty_requests_in_flight_at_once(proxy, state):
    control(proxy, "config", {"latency_ms": 500})
    c = client(proxy, state)
    start = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        pages = list(pool.map(lambda _: c.list_users(UserPoolId=state["pools"]["main"]["id"],
                                                     Limit=1), range(30)))
    elapsed = time.monotonic() - start
    assert len(pages) == 30
    # One after the other they take 15 s: half of that still tells concurrent from serial.
    assert elapsed < 7.5, f"30 requests of 500 ms took {elapsed:.1f} s: not concurrent"
    s = stats(proxy)
    assert s["forwarded"] == 30 and s["max_in_flight"] >= 25, s


def test_rate_quota_answers_like_cognito_at_once(proxy, state):
    # The latency is long enough that an answer "at once" is told from a forwarded one by an
    # order of magnitude, not by a tight window.
    control(proxy, "config", {"rate": 5, "latency_ms": 2000})
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: timed_raw(proxy, state), range(8)))
    ok = [a for a in answers if a[1] == 200]
    refused = [a for a in answers if a[1] == 400]
    assert len(ok) == 5 and len(refused) == 3, answers
    for elapsed, status, headers, body in refused:
        assert headers["content-type"] == "application/x-amz-json-1.1"
        assert json.loads(body) == THROTTLE
        assert elapsed < 1.0, "a request beyond the quota is answered at once"
    for elapsed, *_ in ok:
        assert elapsed >= 2.0, "a request within the quota is forwarded after the latency"
    # Only ListUsers is subject to the quota by default.
    assert parse(raw_request(proxy, state, "DescribeUserPool",
                             {"UserPoolId": state["pools"]["main"]["id"]})[1])[0] == 200
    s = stats(proxy)
    assert s["throttled"] == s["rate_limited"] == 3 and s["forwarded"] == 6
    time.sleep(1.05)  # the window rolls on
    assert timed_raw(proxy, state)[1] == 200


def test_named_quotas_meter_their_operations_apart(proxy, state):
    # Two categories, as Cognito meters them: two list operations share one quota, another
    # operation has its own; an operation in neither is not limited.
    control(proxy, "config", {"quotas": {"UserList": "ListUsers,ListUsersInGroup:3",
                                         "UserPoolResourceRead": "ListGroups:2"}})
    pool = state["pools"]["main"]["id"]
    in_group = {"UserPoolId": pool, "GroupName": "admins", "Limit": 1}
    groups = {"UserPoolId": pool, "Limit": 1}
    statuses = [parse(raw_request(proxy, state, op, body)[1])[0] for op, body in [
        ("ListUsers", None), ("ListUsersInGroup", in_group), ("ListUsers", None),
        ("ListUsersInGroup", in_group),  # the fourth of UserList: refused
        ("ListGroups", groups), ("ListGroups", groups), ("ListGroups", groups),
        ("DescribeUserPool", {"UserPoolId": pool}),
    ]]
    assert statuses == [200, 200, 200, 400, 200, 200, 400, 200], statuses
    assert stats(proxy)["rate_limited"] == 2
    for bad in ({"quotas": {"x": "ListUsers"}}, {"quotas": {"x": "ListUsers:0"}}):
        with pytest.raises(urllib.error.HTTPError):
            control(proxy, "config", bad)


def timed_raw(url, state):
    start = time.monotonic()
    status, headers, body = parse(raw_request(url, state)[1])
    return time.monotonic() - start, status, headers, body


@pytest.mark.parametrize("kind", ["throttle", "error", "garbage", "no_users"])
def test_answering_faults(proxy, state, kind):
    control(proxy, "config", {f"{kind}_fraction": 1.0})
    how, received = raw_request(proxy, state)
    assert how == "closed"
    status, headers, body = parse(received)
    assert int(headers["content-length"]) == len(body)
    if kind == "throttle":
        assert (status, json.loads(body)) == (400, THROTTLE)
    elif kind == "error":
        assert (status, json.loads(body)) == (
            500, {"__type": "InternalErrorException", "message": "injected"})
    elif kind == "garbage":
        assert status == 200
        with pytest.raises(ValueError):
            json.loads(body)
    else:
        assert (status, body) == (200, b"{}")
    s = stats(proxy)
    assert s["by_fault"][kind] == 1 and s["forwarded"] == 0
    assert s["throttled" if kind == "throttle" else "faulted"] == 1


def test_reset_closes_without_an_answer_or_after_part_of_the_headers(proxy, state):
    control(proxy, "config", {"reset_fraction": 1.0})
    outcomes = [raw_request(proxy, state) for _ in range(2)]
    # One closes before any byte (with an RST), the other after part of the headers.
    assert sorted(outcomes, key=lambda o: len(o[1]))[0] in (("reset", b""), ("closed", b""))
    partial = sorted(outcomes, key=lambda o: len(o[1]))[1]
    assert partial[0] == "closed"
    assert partial[1].startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\n\r\n" not in partial[1]
    assert stats(proxy)["by_fault"]["reset"] == 2


def test_truncate_sends_half_the_real_body(proxy, state):
    control(proxy, "config", {"truncate_fraction": 1.0})
    how, received = raw_request(proxy, state)
    assert how == "closed"
    status, headers, body = parse(received)
    full = int(headers["content-length"])
    assert status == 200 and full > 1000 and len(body) == full // 2
    assert body.startswith(b'{"Users"')
    s = stats(proxy)
    assert s["by_fault"]["truncate"] == 1 and s["forwarded"] == 1


def test_hang_holds_the_socket_without_a_byte(proxy, state):
    control(proxy, "config", {"hang_fraction": 1.0})
    how, received = raw_request(proxy, state, timeout=1.0)
    assert (how, received) == ("timeout", b"")
    s = stats(proxy)
    assert s["by_fault"]["hang"] == 1 and s["faulted"] == 1
    # The client closed its socket; the proxy lets go of the request soon after.
    for _ in range(50):
        if stats(proxy)["in_flight"] == 0:
            break
        time.sleep(0.1)
    assert stats(proxy)["in_flight"] == 0


def test_faults_spare_other_calls_unless_faults_all(proxy, state):
    control(proxy, "config", {"error_fraction": 1.0})
    describe = {"UserPoolId": state["pools"]["main"]["id"]}
    assert parse(raw_request(proxy, state, "DescribeUserPool", describe)[1])[0] == 200
    control(proxy, "config", {"faults_all": True})
    assert parse(raw_request(proxy, state, "DescribeUserPool", describe)[1])[0] == 500


def test_fractions_follow_the_seed(proxy, state):
    def run():
        control(proxy, "config", {"error_fraction": 0.5, "seed": 42})
        return [parse(raw_request(proxy, state)[1])[0] for _ in range(30)]

    first, second = run(), run()
    assert first == second, "the same seed gives the same faults"
    assert 5 <= first.count(500) <= 25 and first.count(500) + first.count(200) == 30


def test_config_rejects_nonsense(proxy):
    for bad in ({"no_such": 1}, {"error_fraction": 2}, {"error_fraction": 0.7,
                                                        "reset_fraction": 0.7}):
        with pytest.raises(urllib.error.HTTPError) as err:
            control(proxy, "config", bad)
        assert err.value.code == 400
