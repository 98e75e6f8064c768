#!/usr/bin/env python3
"""A webhook receiver for the integration tests: records every POST and answers it.

    webhook_receiver.py DIR

Listens on 127.0.0.1 on a port of the kernel's choosing and writes the port to DIR/port once
it accepts connections. Each request N (from 1) is saved as DIR/N.json, {"path", "headers"}
(header names lower case), and its body, byte for byte, as DIR/N.body; DIR/count holds the
number of requests saved, written after both files, so a reader never sees half a request.
A path starting with /fail is answered 500, any other 200 with the body "ok".
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT = sys.argv[1]
LOCK = threading.Lock()
COUNT = 0


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global COUNT
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        record = {"path": self.path,
                  "headers": {name.lower(): value for name, value in self.headers.items()}}
        with LOCK:
            COUNT += 1
            n = COUNT
            write_atomically(os.path.join(OUT, f"{n}.body"), body)
            write_atomically(os.path.join(OUT, f"{n}.json"), json.dumps(record).encode())
            write_atomically(os.path.join(OUT, "count"), str(n).encode())
        status = 500 if self.path.startswith("/fail") else 200
        answer = b"ok" if status == 200 else b"failing on purpose"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass  # request lines carry nothing the test reads; the saved files are the record


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    write_atomically(os.path.join(OUT, "count"), b"0")
    write_atomically(os.path.join(OUT, "port"), str(server.server_address[1]).encode())
    server.serve_forever()


if __name__ == "__main__":
    main()
