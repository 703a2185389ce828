#!/usr/bin/env python3
"""A TCP server on 127.0.0.1 that accepts, reads, and never answers.

Point the FDW's endpoint_url at it to test request timeouts and query
cancellation: the client connects fine, sends its request, then waits forever.
Connections are held open until the client gives up or this process ends.
"""

import argparse
import signal
import socket
import sys
import threading


def hold(conn):
    # Keep reading so the client's send never blocks; never write anything.
    with conn:
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(64)
    print(f"silent_server: listening on 127.0.0.1:{args.port}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=hold, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
