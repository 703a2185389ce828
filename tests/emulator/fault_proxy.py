#!/usr/bin/env python3
"""An HTTP proxy for 127.0.0.1 that sits in front of the Cognito emulator and adds latency, a
request-rate quota and injected faults.

Point the extension's endpoint_url at it. Every POST / is forwarded (body and headers, Host
included, so a SigV4 signature stays valid) to --upstream, and the status, headers and body
come back unchanged, unless one of these is switched on (all are off by default):

  --latency-ms N          sleep N ms before forwarding each request (network round trip)
  --rate N                at most N requests started per rolling second, over all clients;
                          one more is answered at once, not forwarded, with HTTP 400
                          TooManyRequestsException "Rate exceeded", as Cognito does
  --quota NAME=OPS:N      (repeatable) another quota: at most N requests of the operations
                          OPS (comma-separated, e.g. ListUsers,ListUsersInGroup) started per
                          rolling second, answered as --rate answers; applies whatever
                          --faults-all says, as Cognito meters each category apart
  --throttle-fraction F   that fraction answered with the same TooManyRequestsException
  --throttle-status N     400 (default): throttle as Cognito does; 429: as a gateway does,
                          HTTP 429 with {"message": "Too Many Requests"} and no error code
  --error-fraction F      HTTP 500 InternalErrorException "injected"
  --reset-fraction F      the connection is closed without an answer, or after part of the
                          status line and headers (the two alternate)
  --truncate-fraction F   the real answer's status line and Content-Length, then half of
                          its body, then the connection is closed
  --garbage-fraction F    HTTP 200 with a body that is not JSON
  --no-users-fraction F   HTTP 200 with {} (a ListUsers answer without "Users")
  --hang-fraction F       no answer at all; the socket is held until the client gives up
                          (or --hang-seconds pass, or the proxy stops)
  --seed N                seed of the random choice of faults (default 0)
  --faults-all            the rate quota and the faults apply to every request; by default
                          only to those whose X-Amz-Target ends with ".ListUsers", so set-up
                          calls stay clean (the latency applies to every request)

One random draw per request picks at most one fault; the fractions must add up to 1 or less.
Rate-quota answers are immediate; every other answer, injected or not, comes after the latency.

Signatures: every proxied request's SigV4 `Credential=` access key id and X-Amz-Security-Token
are recorded (stats "signers"). With --secret KEY=SECRET (repeatable) or {"secrets": {...}}
through /proxy/config, the signature is also verified against the secret expected for its key,
as AWS does, before any fault: an unknown key is answered HTTP 403 UnrecognizedClientException,
a signature made with another secret HTTP 403 InvalidSignatureException, an unsigned request
HTTP 403 MissingAuthenticationTokenException (counted in "unknown_key", "bad_signature" and
"unsigned"; none is forwarded). Without secrets nothing is verified.

Control endpoints (not counted, no latency):
  GET  /proxy/stats   {"requests", "by_target": {"ListUsers": n, ...}, "throttled",
                       "rate_limited", "faulted", "by_fault", "forwarded", "in_flight",
                       "max_in_flight", "signers": [{"target", "key", "token", "verdict"}],
                       "bad_signature", "unknown_key", "unsigned",
                       "attributes_to_get": [list or null, ...]}
                      attributes_to_get: the AttributesToGet of each ListUsers request, in
                      order (null: not sent, every attribute asked for)
                      verdict: "valid", "bad_signature", "unknown_key", "unsigned" or
                      "unchecked" (no secrets configured)
                      throttled = TooManyRequests answers (quota and --throttle-fraction),
                      faulted = the other injected faults
  POST /proxy/reset   zero the counters
  GET  /proxy/config  the settings
  POST /proxy/config  change settings at run time: a JSON object with the option names in
                      underscores, e.g. {"latency_ms": 0, "error_fraction": 0.5, "seed": 3}

Python standard library only; one thread per client connection (HTTP/1.1 keep-alive).
"""

import argparse
import collections
import hashlib
import hmac
import http.client
import json
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JSON_TYPE = "application/x-amz-json-1.1"
THROTTLE_BODY = b'{"__type":"TooManyRequestsException","message":"Rate exceeded"}'
ERROR_BODY = b'{"__type":"InternalErrorException","message":"injected"}'
GARBAGE_BODY = b"<html><body>502 Bad Gateway: this is not JSON</body></html>"
# AWS's own answers to a key it does not know and to a signature made with another secret.
UNKNOWN_KEY_BODY = (b'{"__type":"UnrecognizedClientException",'
                    b'"message":"The security token included in the request is invalid."}')
UNSIGNED_BODY = (b'{"__type":"MissingAuthenticationTokenException",'
                 b'"message":"Missing Authentication Token"}')
BAD_SIGNATURE_BODY = (b'{"__type":"InvalidSignatureException","message":"The request signature '
                      b'we calculated does not match the signature you provided. Check your AWS '
                      b'Secret Access Key and signing method."}')
# Verdicts of check_signature that AWS refuses, with its answer.
REFUSALS = {"unknown_key": UNKNOWN_KEY_BODY, "bad_signature": BAD_SIGNATURE_BODY,
            "unsigned": UNSIGNED_BODY}
# Order of the cumulative draw; also the keys of stats["by_fault"].
FAULTS = ("throttle", "error", "reset", "truncate", "garbage", "no_users", "hang")
# Headers that describe one hop, not the message.
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "content-length"}

DEFAULTS = {
    "latency_ms": 0.0,
    "rate": 0,
    **{f"{f}_fraction": 0.0 for f in FAULTS},
    "seed": 0,
    "throttle_status": 400,
    "faults_all": False,
    "hang_seconds": 300.0,
    "upstream_timeout": 60.0,
    "secrets": {},
    "quotas": {},
}


def parse_quota(spec):
    """'OP1,OP2:N' -> ({'OP1', 'OP2'}, N); ValueError when malformed."""
    ops, _, n = spec.rpartition(":")
    if not ops or not n.isdigit() or int(n) < 1:
        raise ValueError(f"a quota is OPS:N with N >= 1, not {spec!r}")
    return set(ops.split(",")), int(n)


# ------------------------------------------------------------------ SigV4 ----

AUTH_RE = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),"
                     r"\s*Signature=([0-9a-f]{64})\s*$")


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _uri_encode(text, keep_slash):
    return urllib.parse.quote(text, safe="/~" if keep_slash else "~")


def canonical_request(method, target, headers, signed, body):
    """SigV4's canonical request. HEADERS: (name, value) pairs as received; SIGNED: the
    lowercase names the client listed in SignedHeaders."""
    path, _, query = target.partition("?")
    # Every service but S3 encodes each path segment twice (once by the client, once here).
    uri = _uri_encode(_uri_encode(urllib.parse.unquote(path) or "/", True), True)
    pairs = sorted((_uri_encode(urllib.parse.unquote(k), False),
                    _uri_encode(urllib.parse.unquote(v), False))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    values = collections.defaultdict(list)
    for name, value in headers:
        values[name.lower()].append(" ".join(value.split()))
    lines = "".join(f"{name}:{','.join(values[name])}\n" for name in signed)
    return "\n".join([method, uri, "&".join(f"{k}={v}" for k, v in pairs), lines,
                      ";".join(signed), hashlib.sha256(body).hexdigest()])


def check_signature(method, target, headers, body, secrets):
    """(access key id or None, verdict) of one request; SECRETS maps key ids to secrets, and
    when it is empty nothing is verified ("unchecked")."""
    auth = next((v for k, v in headers if k.lower() == "authorization"), "")
    match = AUTH_RE.match(auth.strip())
    if not match:
        return None, "unsigned" if secrets else "unchecked"
    credential, signed, signature = match.groups()
    key, _, scope = credential.partition("/")
    if not secrets:
        return key, "unchecked"
    if key not in secrets:
        return key, "unknown_key"
    amz_date = next((v for k, v in headers if k.lower() == "x-amz-date"), "")
    names = signed.split(";")
    parts = scope.split("/")
    if (len(parts) != 4 or parts[3] != "aws4_request" or not amz_date.startswith(parts[0])
            or names != sorted(names) or "host" not in names):
        return key, "bad_signature"
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope,
        hashlib.sha256(canonical_request(method, target, headers, names, body)
                       .encode()).hexdigest()])
    signing_key = ("AWS4" + secrets[key]).encode()
    for part in parts:
        signing_key = _hmac(signing_key, part)
    expected = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return key, "valid" if hmac.compare_digest(expected, signature) else "bad_signature"


class Dropped(Exception):
    """Raised by a handler that has closed its connection on purpose."""


class ProxyState:
    """Settings, counters and the random source, shared by all handler threads."""

    def __init__(self, upstream, **settings):
        url = urllib.parse.urlsplit(upstream)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"--upstream must be an http:// URL, not {upstream!r}")
        self.upstream = upstream
        self.upstream_host = url.hostname
        self.upstream_port = url.port or 80
        self.upstream_path = url.path or "/"
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.config = dict(DEFAULTS)
        self.rng = random.Random(0)
        self.window = collections.deque()  # start times of the requests within the quota
        self.windows = {}  # the same, per --quota name
        self.reset_after = 0  # alternates the two kinds of reset
        self.update(settings)
        self.reset_stats()

    def update(self, changes):
        """Apply {name: value}; raises ValueError on an unknown name or a bad value."""
        with self.lock:
            new = dict(self.config)
            for key, value in changes.items():
                key = key.replace("-", "_")
                if key not in DEFAULTS:
                    raise ValueError(f"unknown setting {key!r}; known: {', '.join(DEFAULTS)}")
                if value is None:
                    value = DEFAULTS[key]
                kind = type(DEFAULTS[key])
                if kind is dict:
                    if not isinstance(value, dict) or not all(
                            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                        raise ValueError(f"{key} must map names to strings")
                    if key == "quotas":
                        for spec in value.values():
                            parse_quota(spec)
                    value = dict(value)
                elif kind is bool:
                    if not isinstance(value, bool):
                        raise ValueError(f"{key} must be true or false")
                else:
                    value = kind(value)
                    if value < 0:
                        raise ValueError(f"{key} must not be negative")
                    if key.endswith("_fraction") and value > 1:
                        raise ValueError(f"{key} must be between 0 and 1")
                new[key] = value
            total = sum(new[f"{f}_fraction"] for f in FAULTS)
            if total > 1 + 1e-9:
                raise ValueError(f"the fault fractions add up to {total}, more than 1")
            if "seed" in changes:
                self.rng = random.Random(new["seed"])
            self.config = new
            return dict(new)

    def reset_stats(self):
        with self.lock:
            self.stats = {"requests": 0, "by_target": {}, "throttled": 0, "rate_limited": 0,
                          "faulted": 0, "by_fault": {f: 0 for f in FAULTS}, "forwarded": 0,
                          "upstream_errors": 0, "in_flight": 0, "max_in_flight": 0,
                          "signers": [], "bad_signature": 0, "unknown_key": 0,
                          "unsigned": 0, "attributes_to_get": []}
            # The quota's window is kept: it is about time, not about counting.

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def begin(self, target, signer):
        """Count a request; decide its fate: (config, fault or None, rate_limited, verdict).
        SIGNER: check_signature(...) -> (key, verdict), called with the current secrets."""
        with self.lock:
            cfg = self.config
            s = self.stats
            s["requests"] += 1
            short = target.rsplit(".", 1)[-1] if target else "(none)"
            s["by_target"][short] = s["by_target"].get(short, 0) + 1
            s["in_flight"] += 1
            s["max_in_flight"] = max(s["max_in_flight"], s["in_flight"])
            key, verdict, token = signer(cfg["secrets"])
            s["signers"].append({"target": short, "key": key, "token": token,
                                 "verdict": verdict})
            if verdict in REFUSALS:
                s[verdict] += 1
                return cfg, None, False, verdict
            now = time.monotonic()
            counted = []
            for name, spec in cfg["quotas"].items():
                ops, limit = parse_quota(spec)
                if short not in ops:
                    continue
                window = self.windows.setdefault(name, collections.deque())
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= limit:
                    s["throttled"] += 1
                    s["rate_limited"] += 1
                    return cfg, None, True, verdict
                counted.append(window)
            for window in counted:
                window.append(now)
            subject = cfg["faults_all"] or target.endswith(".ListUsers")
            if not subject:
                return cfg, None, False, verdict
            if cfg["rate"] > 0:
                now = time.monotonic()
                while self.window and now - self.window[0] >= 1.0:
                    self.window.popleft()
                if len(self.window) >= cfg["rate"]:
                    s["throttled"] += 1
                    s["rate_limited"] += 1
                    return cfg, None, True, verdict
                self.window.append(now)
            draw = self.rng.random()
            acc = 0.0
            for fault in FAULTS:
                acc += cfg[f"{fault}_fraction"]
                if draw < acc:
                    s["by_fault"][fault] += 1
                    s["throttled" if fault == "throttle" else "faulted"] += 1
                    return cfg, fault, False, verdict
            return cfg, None, False, verdict

    def note_body(self, target, body):
        """Record what a ListUsers request asked for."""
        if not target.endswith(".ListUsers"):
            return
        try:
            wanted = json.loads(body).get("AttributesToGet")
        except (ValueError, AttributeError):
            wanted = None
        with self.lock:
            self.stats["attributes_to_get"].append(wanted)

    def count(self, key):
        with self.lock:
            self.stats[key] += 1

    def end(self):
        with self.lock:
            self.stats["in_flight"] -= 1

    def next_reset_kind(self):
        with self.lock:
            self.reset_after ^= 1
            return self.reset_after


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints do
    server_version = "fault_proxy"
    timeout = 300  # an idle keep-alive connection is closed after this
    state: ProxyState = None
    counted = False  # whether this connection's current request counts as in flight

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except Dropped:
            pass
        except (ConnectionError, BrokenPipeError, socket.timeout):
            pass

    # --------------------------------------------------------------- replies ----

    def settle(self):
        """A proxied request stops counting as in flight once its answer is decided, before a
        byte of it is written: a client that reads the answer and at once sends the next
        request on another connection must not see both counted."""
        if self.counted:
            self.counted = False
            self.state.end()

    def reply(self, status, body, content_type=JSON_TYPE, headers=()):
        self.settle()
        self.send_response(status)
        sent = set()
        for name, value in headers:
            self.send_header(name, value)
            sent.add(name.lower())
        if "content-type" not in sent and content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj).encode(), "application/json")

    def drop(self, partial=b""):
        """Close the connection now, after writing PARTIAL; with an RST when nothing is sent."""
        self.settle()
        try:
            if partial:
                self.wfile.write(partial)
            else:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass
        raise Dropped()

    def hold(self, seconds):
        """Answer nothing; return when the client closes, time is up or the proxy stops."""
        deadline = time.monotonic() + seconds
        while not self.state.stopping.is_set() and time.monotonic() < deadline:
            ready, _, _ = select.select([self.connection], [], [], 0.2)
            if ready:
                try:
                    if not self.connection.recv(65536):
                        break
                except OSError:
                    break
        self.drop()

    # -------------------------------------------------------------- control ----

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/proxy/stats":
            self.reply_json(200, self.state.snapshot())
        elif path == "/proxy/config":
            with self.state.lock:
                self.reply_json(200, dict(self.state.config))
        else:
            self.reply_json(404, {"message": f"fault_proxy: no GET {path}; "
                                             "try /proxy/stats or /proxy/config"})

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        body = self.read_body()
        if path == "/proxy/reset":
            self.state.reset_stats()
            self.reply_json(200, {"reset": True})
        elif path == "/proxy/config":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                self.reply_json(200, self.state.update(changes))
            except ValueError as err:
                self.reply_json(400, {"message": str(err)})
        else:
            self.proxy(body)

    # ---------------------------------------------------------------- proxy ----

    def signer(self, body):
        """For ProxyState.begin: who signed this request, checked against the given secrets."""
        headers = self.headers.items()
        token = self.headers.get("X-Amz-Security-Token")

        def check(secrets):
            key, verdict = check_signature(self.command, self.path, headers, body, secrets)
            return key, verdict, token

        return check

    def proxy(self, body):
        target = self.headers.get("X-Amz-Target", "")
        self.state.note_body(target, body)
        cfg, fault, rate_limited, verdict = self.state.begin(target, self.signer(body))
        self.counted = True
        try:
            if verdict in REFUSALS:
                self.reply(403, REFUSALS[verdict])
                return
            if rate_limited:
                self.reply(400, THROTTLE_BODY)
                return
            if cfg["latency_ms"] > 0:
                time.sleep(cfg["latency_ms"] / 1000.0)
            if fault == "throttle" and cfg["throttle_status"] == 429:
                self.reply(429, b'{"message": "Too Many Requests"}')
            elif fault == "throttle":
                self.reply(400, THROTTLE_BODY)
            elif fault == "error":
                self.reply(500, ERROR_BODY)
            elif fault == "reset":
                if self.state.next_reset_kind():
                    self.drop()
                else:
                    self.drop(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-am")
            elif fault == "garbage":
                self.reply(200, GARBAGE_BODY)
            elif fault == "no_users":
                self.reply(200, b"{}")
            elif fault == "hang":
                self.hold(cfg["hang_seconds"])
            else:
                status, headers, data = self.forward(body, cfg["upstream_timeout"])
                if fault == "truncate":
                    self.settle()
                    self.send_response(status)
                    for name, value in headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.drop(data[: len(data) // 2])
                self.reply(status, data, None, headers)
        finally:
            self.settle()

    def forward(self, body, timeout):
        """POST the body upstream on this thread's kept-alive connection (a stale one is
        replaced once); returns (status, headers to relay, body)."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        st = self.state
        path = st.upstream_path.rstrip("/") + self.path if self.path != "/" else st.upstream_path
        for attempt in (1, 2):
            conn = getattr(self, "upstream_conn", None)
            reused = conn is not None
            if conn is None:
                conn = self.upstream_conn = http.client.HTTPConnection(
                    st.upstream_host, st.upstream_port, timeout=timeout)
            try:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if answer.will_close:
                    conn.close()
                    self.upstream_conn = None
                kept = [(k, v) for k, v in answer.getheaders()
                        if k.lower() not in HOP_HEADERS and k.lower() not in ("server", "date")]
                st.count("forwarded")
                return answer.status, kept, data
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                self.upstream_conn = None
                if reused and attempt == 1 and isinstance(
                        err, (ConnectionError, http.client.RemoteDisconnected,
                              http.client.BadStatusLine)):
                    continue  # the upstream closed an idle kept-alive connection
                st.count("upstream_errors")
                message = f"fault_proxy: upstream {st.upstream} failed: {err}"
                return 502, [("Content-Type", JSON_TYPE)], json.dumps(
                    {"__type": "ProxyUpstreamError", "message": message}).encode()

    def finish(self):
        conn = getattr(self, "upstream_conn", None)
        if conn is not None:
            conn.close()
        super().finish()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def make_server(upstream, port=0, host="127.0.0.1", **settings):
    """A proxy server bound to HOST:PORT (0: any free port); call serve_forever() on it.

    server.state is its ProxyState; server.server_address[1] the port.
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("fault_proxy binds to loopback only")
    state = ProxyState(upstream, **settings)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = Server((host, port), handler)
    server.state = state
    return server


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--port", type=int, required=True, help="0: any free port")
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:54330")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--rate", type=int, default=0)
    for fault in FAULTS:
        ap.add_argument(f"--{fault.replace('_', '-')}-fraction", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--throttle-status", type=int, choices=(400, 429), default=400)
    ap.add_argument("--faults-all", action="store_true")
    ap.add_argument("--hang-seconds", type=float, default=DEFAULTS["hang_seconds"])
    ap.add_argument("--upstream-timeout", type=float, default=DEFAULTS["upstream_timeout"])
    ap.add_argument("--secret", action="append", default=[], metavar="KEY=SECRET",
                    help="verify SigV4 signatures by KEY against SECRET (repeatable)")
    ap.add_argument("--quota", action="append", default=[], metavar="NAME=OPS:N")
    args = vars(ap.parse_args())
    quotas = dict(pair.split("=", 1) for pair in args.pop("quota") if "=" in pair)
    if quotas:
        args["quotas"] = quotas
    secrets = dict(pair.split("=", 1) for pair in args.pop("secret") if "=" in pair)
    if secrets:
        args["secrets"] = secrets
    port, upstream = args.pop("port"), args.pop("upstream")
    try:
        server = make_server(upstream, port, **args)
    except ValueError as err:
        ap.error(str(err))
    on = {k: v for k, v in server.state.config.items() if v != DEFAULTS[k] and k != "secrets"}

    def stop(*_):
        server.state.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fault_proxy: listening on http://127.0.0.1:{server.server_address[1]} -> "
          f"{upstream} {json.dumps(on, sort_keys=True)}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
