"""Paging goes on through empty pages that still carry a token, and ends only when no token
comes back. moto never sends such pages, so a small proxy in front of it does: it answers every
ListUsers request that does not carry one of its own tokens with an empty page and a token
that leads, on the next request, to the page the client asked for."""

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import connect, create_table, install_wrapper

PREFIX = "empty-page:"


class EmptyPageProxy(BaseHTTPRequestHandler):
    upstream = None
    counts = None

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/x-amz-json-1.1"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("X-Amz-Target", "").endswith(".ListUsers"):
            request = json.loads(body)
            token = request.pop("PaginationToken", None)
            if token is None or not token.startswith(PREFIX):
                self.counts["empty"] += 1
                page = {"Users": [], "PaginationToken": PREFIX + (token or "")}
                self.reply(200, json.dumps(page).encode())
                return
            if token[len(PREFIX):]:
                request["PaginationToken"] = token[len(PREFIX):]
            body = json.dumps(request).encode()
            self.counts["real"] += 1
        # moto does not check signatures, so the rewritten body passes.
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length")}
        forward = urllib.request.Request(self.upstream, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(forward, timeout=30) as answer:
                status, data = answer.status, answer.read()
                content_type = answer.headers.get("Content-Type")
        except urllib.error.HTTPError as err:
            status, data, content_type = err.code, err.read(), err.headers.get("Content-Type")
        self.reply(status, data, content_type)


@pytest.fixture
def proxy(state):
    counts = {"empty": 0, "real": 0}
    handler = type("Handler", (EmptyPageProxy,), {"upstream": state["endpoint"],
                                                  "counts": counts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", counts
    server.shutdown()
    server.server_close()


def test_paging_goes_on_through_empty_pages(pg_env, fresh_db, state, proxy):
    url, counts = proxy
    with connect(pg_env, fresh_db) as conn:
        install_wrapper(conn)
        create_table(conn, "gappy", state["pools"]["main"]["id"], url, state["region"])
        rows = conn.execute("select username from gappy_users").fetchall()
        plan = conn.execute("explain (analyze, costs off, timing off, summary off) "
                            "select * from gappy_users").fetchall()
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)) == state["pools"]["main"]["users"]
    pages = -(-state["pools"]["main"]["users"] // 60)
    # Each of the two scans asked for every real page, each behind an empty one.
    assert counts == {"empty": 2 * pages, "real": 2 * pages}, counts
    assert f"Cognito Requests: {2 * pages}" in [r[0].strip() for r in plan]
