#!/usr/bin/env python3
"""An overloaded origin for bench/herd.sh (stdlib only, one thread per
connection).

Serves one file at /<name>. For the first --error-seconds after the FIRST
request it arrives (not after start-up, so the window does not depend on how
fast the hosts are launched) every request gets `503 Service Unavailable`
with `Retry-After: <--retry-after>`; afterwards the file (200, or 206 for a
Range request). Each request is logged to --log as one tab-separated line:
seconds since the first request, status, client port, Range header.

usage: herd-origin.py --file F --port-file P --log L
                      [--error-seconds 10] [--retry-after 2]
The chosen port (bound on 127.0.0.1, port 0) is written to --port-file once
the server accepts connections. Stops on SIGTERM/SIGINT.
"""

import argparse
import http.server
import os
import signal
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--error-seconds", type=float, default=10.0)
    parser.add_argument("--retry-after", default="2")
    args = parser.parse_args()

    with open(args.file, "rb") as f:
        body = f.read()
    name = "/" + os.path.basename(args.file)
    lock = threading.Lock()
    state = {"first": None}
    log = open(args.log, "w", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def do_GET(self):
            now = time.monotonic()
            with lock:
                if state["first"] is None:
                    state["first"] = now
                since = now - state["first"]
            rng = self.headers.get("Range", "")
            if self.path != name:
                status = 404
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif since < args.error_seconds:
                status = 503
                self.send_response(503)
                self.send_header("Retry-After", args.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif rng.startswith("bytes=") and rng[6:].endswith("-"):
                start = int(rng[6:-1])
                status = 206
                part = body[start:]
                self.send_response(206)
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"
                )
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                self.wfile.write(part)
            else:
                status = 200
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            with lock:
                log.write(f"{since:.3f}\t{status}\t{self.client_address[1]}\t{rng}\n")

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        # 200 hosts connect at once: the default backlog of 5 would turn
        # the herd into SYN retransmits (1 s, 3 s, ...) instead of requests.
        request_queue_size = 4096

    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
