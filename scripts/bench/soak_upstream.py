#!/usr/bin/env python3
"""The upstream of soak.py: HTTP/1.1 with keep-alive on 127.0.0.1:PORT, a 1 KiB answer, except
every 100th request (500), and the 200th and 201st of every 200, whose connections are dropped in
the middle of the status line (and `dropped` printed to the log): the gateway retries the first
on a new connection (it was a reused one), meets the second, and answers 502. GET /healthz
always answers 200.

    soak_upstream.py PORT
"""

import http.server
import itertools
import socket
import sys
import threading

port = int(sys.argv[1])
numbers = itertools.count(1)
lock = threading.Lock()
BODY = b"x" * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the body
    # back until the headers are acknowledged (40 ms of delayed ACK per request).
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, b"ok")
        with lock:
            number = next(numbers)
        if number % 200 in (0, 1):
            print("dropped", flush=True)
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.answer(500 if number % 100 == 0 else 200, BODY)

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
