"""A fault-injecting HTTP proxy for the S3 tests: forwards to the test server, and misbehaves on schedule.

Usage: python3 s3_fault_proxy.py PORT UPSTREAM_PORT RULE [PORT_FILE]
  503:N     every Nth request is answered 503 SlowDown
  reset:N   every Nth request has its connection reset before any reply
  stall:N   every Nth request gets no reply for 60 s (the client must time out and retry)
  parts     every UploadPart request is answered 500, forever (the backup must fail and clean up)
  complete  the first CompleteMultipartUpload is answered 200 with an InternalError document (S3 does this)
Listens on 127.0.0.1:PORT only. With PORT 0 the system picks a free port; PORT_FILE, when given, receives the
port once the proxy listens.
"""
import http.client
import os
import http.server
import socket
import struct
import sys
import threading
import time

port, upstream, rule = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
kind, _, every = rule.partition(":")
every = int(every or 1)
counter = 0
completed_once = False
lock = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        global counter, completed_once
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            counter += 1
            nth = counter % every == 0
        if kind == "503" and nth:
            return self.reply(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
        if kind == "reset" and nth:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if kind == "stall" and nth:
            time.sleep(60)
            self.close_connection = True
            return
        if kind == "complete" and self.command == "POST" and "uploadId=" in self.path and not completed_once:
            completed_once = True
            return self.reply(200, b"<Error><Code>InternalError</Code><Message>injected</Message></Error>")
        if kind == "parts" and "partNumber=" in self.path:
            return self.reply(500, b"<Error><Code>InternalError</Code><Message>injected</Message></Error>")
        connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=120)
        connection.request(self.command, self.path, body=body, headers=dict(self.headers))
        response = connection.getresponse()
        payload = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        # A HEAD reply keeps the object's length; others carry the body that follows.
        length = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        connection.close()

    def reply(self, status, payload):
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy)
if len(sys.argv) > 4:
    with open(sys.argv[4] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(sys.argv[4] + ".tmp", sys.argv[4])
server.serve_forever()
