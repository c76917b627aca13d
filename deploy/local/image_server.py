#!/usr/bin/env python3
"""A local image server that misbehaves on purpose, for the tests and deploy/local/chaos.

Serves files of --corpus on 127.0.0.1 or --host (--port 0 picks a free port and prints it on the first
line of stdout). Each path says how the server treats it; <key> makes a path's history its own:

  /ok/<file>                    200 with the file
  /flaky/<key>/<file>           503, 503, 429 (Retry-After: 1), a reset connection, then 200
  /unavailable/<key>/<file>     503 once, then 200
  /throttle/<key>/<file>        429 with Retry-After: 2 once, then 200
  /reset/<key>/<file>           the connection is reset once (TCP RST), then 200
  /slowstart/<file>             2 s before the first byte, then 200
  /missing/<anything>           404
  /forbidden/<anything>         403
  /text/<anything>              200 text/plain that is not an image
  /stats                        JSON: how many times each path was requested

With --tls CERT,KEY (repeatable) it serves HTTPS instead, one port per certificate, printed one
per line in the order given: the HTTPS tests use a good, an expired, a self-signed and a
wrong-host certificate at once.

Connections are not kept alive (see reply) unless --keep-alive, which keeps them open after each
image as a CDN does (the benchmark). Python's http.server listens with a backlog of 5, which drops
connections under tens of parallel connects; this one queues 1024. Files are read once and kept.
"""
import argparse
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FLAKY = ["503", "503", "429", "reset"]


class Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, address, corpus, keep_alive=False):
        super().__init__(address, Handler)
        self.corpus = corpus
        self.keep_alive = keep_alive
        self.files = {}
        self.counts = {}
        self.lock = threading.Lock()

    def count(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1
            return self.counts[path]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/stats":
            with self.server.lock:
                return self.reply(200, json.dumps(self.server.counts).encode(), "application/json")
        seen = self.server.count(path)
        parts = path.strip("/").split("/")
        kind = parts[0]
        if kind == "missing":
            return self.reply(404, b"not found", "text/plain")
        if kind == "forbidden":
            return self.reply(403, b"forbidden", "text/plain")
        if kind == "text":
            return self.reply(200, b"this is not an image\n" * 10, "text/plain")
        if kind == "flaky":
            step = FLAKY[seen - 1] if seen <= len(FLAKY) else "ok"
        elif kind == "unavailable":
            step = "503" if seen == 1 else "ok"
        elif kind == "throttle":
            step = "429" if seen == 1 else "ok"
        elif kind == "reset":
            step = "reset" if seen == 1 else "ok"
        elif kind == "slowstart":
            time.sleep(2)
            step = "ok"
        elif kind == "ok":
            step = "ok"
        else:
            return self.reply(404, b"unknown path", "text/plain")
        if step == "503":
            return self.reply(503, b"deploying", "text/plain")
        if step == "429":
            return self.reply(429, b"slow down", "text/plain", {"Retry-After": "2" if kind == "throttle" else "1"})
        if step == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        name = os.path.basename(parts[-1])
        file = os.path.join(self.server.corpus, name)
        if not os.path.isfile(file):
            file = os.path.join(self.server.corpus, "pitfalls", name)
        if not os.path.isfile(file):
            return self.reply(404, b"no such file", "text/plain")
        body = self.server.files.get(file)
        if body is None:
            with open(file, "rb") as handle:
                body = self.server.files.setdefault(file, handle.read())
        self.reply(200, body, "image/png" if name.endswith(".png") else "image/jpeg", keep_alive=self.server.keep_alive)

    def reply(self, status, body, content_type, headers=None, keep_alive=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # Every request gets a fresh connection, so a reset is seen as one: on a reused connection
        # libcurl would retry it by itself. Only --keep-alive (the benchmark) keeps an image's open.
        if not keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--keep-alive", action="store_true", help="keep connections open after an image, as a CDN does (the benchmark)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (the multi-host test serves a namespace's veth)")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when standard input closes (the parent died)")
    parser.add_argument("--tls", action="append", default=[], metavar="CERT,KEY", help="serve HTTPS with this certificate (repeatable)")
    arguments = parser.parse_args()
    servers = []
    for pair in arguments.tls or [None]:
        server = Server((arguments.host, arguments.port if pair is None else 0), arguments.corpus, arguments.keep_alive)
        if pair is not None:
            cert, key = pair.split(",", 1)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            # The handshake runs in the request's thread, so a refused certificate stalls nothing else.
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        servers.append(server)
        print(server.server_address[1], flush=True)
    if arguments.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
