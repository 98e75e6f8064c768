#!/usr/bin/env python3
"""A webhook receiver for the integration tests: a real HTTP server on a loopback port.

Every POST is appended to a JSON-lines file (method, path, headers, body). What it answers is
read from a mode file at each request, so a test can change it while the receiver runs:
  ok        200
  fail      500 with a short body
  slow N    sleeps N seconds, then 200
Usage: webhook_receiver.py PORT LOG_FILE MODE_FILE
"""
import http.server
import json
import sys
import threading
import time

PORT, LOG, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
LOCK = threading.Lock()


def mode():
    try:
        with open(MODE) as f:
            return f.read().split()
    except OSError:
        return ["ok"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        current = mode()
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                "body": body, "answered": current[0]}) + "\n")
        if current[0] == "slow":
            time.sleep(float(current[1]))
        status, reply = (500, b"receiver failing") if current[0] == "fail" else (200, b"ok")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
