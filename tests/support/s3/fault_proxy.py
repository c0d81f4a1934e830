#!/usr/bin/env python3
"""fault_proxy.py: an HTTP/1.1 proxy in front of an S3 server (moto) that
injects the faults a store and a network produce, for the s3 sink's tests.

    fault_proxy.py --upstream http://127.0.0.1:PORT [--fault SPEC]...
                   [--max-seconds N]

Listens on a free 127.0.0.1 port; its first stdout line is
`listening on 127.0.0.1:PORT`. Each request is forwarded on its own upstream
connection with its request line, headers (Host included) and body byte for
byte, so SigV4 signatures still verify; only the hop-by-hop `Connection`
header is replaced. Client connections stay alive across requests.

Faults, decided per request (control requests excepted):
  503             answer `503 SlowDown` with S3's XML error body (not forwarded)
  500             answer `500 InternalError` (not forwarded)
  drop            read the request, then close the connection without an
                  answer (not forwarded)
  drop_response   forward the request, then close the connection without
                  passing the store's answer on (the store did the work; the
                  client cannot know)
  reset_mid_body  read half of the request body, then reset the connection
                  (not forwarded)
  delay           forward the request, then hold the store's answer for
                  `delay_ms` before passing it on (requests in flight for a
                  while, e.g. for a crash to land in)
  pass            forward

A schedule is a list of rules; a request takes the first rule that is not
used up and whose `every` divides the number of requests that rule has seen:
  {"mode": "503", "count": N, "every": K, "methods": ["PUT", "POST"],
   "delay_ms": MS}
`count` (default: no limit) caps the faults the rule injects, `every`
(default 1) injects into every K-th matching request, `methods` (default:
all) limits the rule to those methods, `delay_ms` (default 500) is the
hold of `delay`. On the command line a rule is
`MODE[:COUNT[:EVERY[:METHOD,METHOD[:DELAY_MS]]]]` (COUNT 0: no limit).

Control endpoints (answered by the proxy itself):
  POST /__fault   body: one rule or {"rules": [...]}; replaces the schedule
  GET  /__stats   {"requests":..,"forwarded":..,"injected":{"503":..,...},
                   "upstream_errors":..}

Bounded: exits when its parent process dies, or after --max-seconds
(default 900). Standard library only.
"""

import argparse
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

MODES = ("pass", "503", "500", "drop", "drop_response", "reset_mid_body", "delay")
IO_TIMEOUT = 30.0  # seconds of silence before a connection is given up


class Schedule:
    """The fault rules and the counters, shared by every connection thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.requests = 0
        self.forwarded = 0
        self.upstream_errors = 0
        self.injected = {m: 0 for m in MODES if m != "pass"}

    @staticmethod
    def parse_rule(obj):
        if not isinstance(obj, dict):
            raise ValueError("a rule is a JSON object")
        mode = str(obj.get("mode", "pass"))
        if mode not in MODES:
            raise ValueError("unknown mode %r (one of %s)" % (mode, ", ".join(MODES)))
        count = int(obj.get("count", 0) or 0)
        every = int(obj.get("every", 1) or 1)
        if count < 0 or every < 1:
            raise ValueError("count must be >= 0 and every >= 1")
        methods = [str(m).upper() for m in obj.get("methods", [])]
        delay_ms = int(obj.get("delay_ms", 500))
        if delay_ms < 0:
            raise ValueError("delay_ms must be >= 0")
        return {"mode": mode, "count": count, "every": every, "methods": methods,
                "delay_ms": delay_ms, "seen": 0, "done": 0}

    @staticmethod
    def parse_spec(spec):
        parts = spec.split(":")
        rule = {"mode": parts[0]}
        if len(parts) > 1 and parts[1]:
            rule["count"] = int(parts[1])
        if len(parts) > 2 and parts[2]:
            rule["every"] = int(parts[2])
        if len(parts) > 3 and parts[3]:
            rule["methods"] = parts[3].split(",")
        if len(parts) > 4 and parts[4]:
            rule["delay_ms"] = int(parts[4])
        return Schedule.parse_rule(rule)

    def replace(self, rules):
        with self.lock:
            self.rules = rules

    def decide(self, method):
        """(mode, delay_ms) for one request, counted."""
        with self.lock:
            self.requests += 1
            for rule in self.rules:
                if rule["methods"] and method not in rule["methods"]:
                    continue
                if rule["count"] and rule["done"] >= rule["count"]:
                    continue
                rule["seen"] += 1
                if rule["seen"] % rule["every"] != 0:
                    continue
                if rule["mode"] == "pass":
                    return "pass", 0
                rule["done"] += 1
                self.injected[rule["mode"]] += 1
                return rule["mode"], rule["delay_ms"]
            return "pass", 0

    def count(self, field):
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "forwarded": self.forwarded,
                    "injected": dict(self.injected), "upstream_errors": self.upstream_errors,
                    "rules": [{k: r[k] for k in ("mode", "count", "every", "methods",
                                                 "delay_ms", "done")}
                              for r in self.rules]}


class Closed(Exception):
    """The peer closed or the connection broke."""


class Reader:
    """Buffered reads from a socket: lines, exact counts, and what is left."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Closed()
        self.buf += data

    def until(self, marker, limit=1 << 20):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out, self.buf = self.buf[:i + len(marker)], self.buf[i + len(marker):]
                return out
            if len(self.buf) > limit:
                raise Closed()
            self._fill()

    def exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        chunks = [self.buf]
        self.buf = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def parse_head(head):
    """(first line, [(name, value)]) of an HTTP head ending in CRLF CRLF."""
    lines = head.split(b"\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        headers.append((name.strip().decode("latin-1").lower(), value.strip().decode("latin-1")))
    return lines[0].decode("latin-1"), headers


def header(headers, name):
    for n, v in headers:
        if n == name:
            return v
    return None


def read_body(reader, headers, limit=None):
    """The body's bytes as sent (chunked framing kept), or, with `limit`, at
    most that many of them (for a cut in the middle)."""
    te = (header(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        raw = b""
        while True:
            size_line = reader.until(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if limit is not None and len(raw) >= limit:
                return raw
            if size == 0:
                while True:  # trailers, up to the empty line
                    line = reader.until(b"\r\n")
                    raw += line
                    if line == b"\r\n":
                        return raw
            raw += reader.exactly(size + 2)
    length = int(header(headers, "content-length") or 0)
    if limit is not None:
        length = min(length, limit)
    return reader.exactly(length)


def body_length(headers):
    te = (header(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        return None
    return int(header(headers, "content-length") or 0)


def s3_error(status, reason, code, message):
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s"
            "</Message><RequestId>fault-proxy</RequestId></Error>" % (code, message)).encode()
    head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
            "x-amz-request-id: fault-proxy\r\n\r\n" % (status, reason, len(body))).encode()
    return head + body


def json_answer(status, obj):
    body = (json.dumps(obj) + "\n").encode()
    return ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (status, "OK" if status == 200 else "Bad Request", len(body))).encode() + body


def reset(sock):
    """Closes with a TCP RST (SO_LINGER 0), as a broken network does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(IO_TIMEOUT)
        reader = Reader(sock)
        try:
            while self.one_request(sock, reader):
                pass
        except (Closed, OSError, ValueError):
            pass

    def one_request(self, sock, reader):
        """Serves one request; False when the connection is to be closed."""
        head = reader.until(b"\r\n\r\n")
        first, headers = parse_head(head)
        parts = first.split(" ")
        if len(parts) != 3:
            return False
        method, target = parts[0].upper(), parts[1]
        schedule = self.server.schedule
        path = urllib.parse.urlsplit(target).path
        expects = (header(headers, "expect") or "").lower() == "100-continue"

        if path in ("/__fault", "/__stats"):
            if expects:
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = read_body(reader, headers)
            if path == "/__stats":
                sock.sendall(json_answer(200, schedule.stats()))
                return True
            try:
                obj = json.loads(body.decode() or "{}")
                rules = obj.get("rules", [obj]) if isinstance(obj, dict) else obj
                schedule.replace([Schedule.parse_rule(r) for r in rules])
                sock.sendall(json_answer(200, schedule.stats()))
            except (ValueError, TypeError, AttributeError) as e:
                sock.sendall(json_answer(400, {"error": str(e)}))
            return True

        mode, delay_ms = schedule.decide(method)
        if mode in ("503", "500"):
            if expects:  # answer before the body, as S3 does; the body may follow
                sock.sendall(s3_error(503, "Slow Down", "SlowDown", "Please reduce your request rate.")
                             if mode == "503" else
                             s3_error(500, "Internal Server Error", "InternalError",
                                      "We encountered an internal error. Please try again."))
                return False
            read_body(reader, headers)
            if mode == "503":
                sock.sendall(s3_error(503, "Slow Down", "SlowDown",
                                      "Please reduce your request rate."))
            else:
                sock.sendall(s3_error(500, "Internal Server Error", "InternalError",
                                      "We encountered an internal error. Please try again."))
            return True
        if expects:
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if mode == "drop":
            read_body(reader, headers)
            sock.close()
            return False
        if mode == "reset_mid_body":
            length = body_length(headers)
            half = (length // 2) if length is not None else 1024
            try:
                read_body(reader, headers, limit=half)
            except Closed:
                pass
            reset(sock)
            return False

        body = read_body(reader, headers)
        answer = self.forward(head, body, method)
        if answer is None:
            schedule.count("upstream_errors")
            sock.sendall(s3_error(502, "Bad Gateway", "BadGateway", "fault proxy: upstream failed"))
            return False
        schedule.count("forwarded")
        if mode == "drop_response":
            sock.close()
            return False
        if mode == "delay":
            time.sleep(delay_ms / 1000.0)
        sock.sendall(answer)
        keep = (header(headers, "connection") or "").lower() != "close"
        return keep

    def forward(self, head, body, method):
        """The upstream's answer, reframed with a Content-Length; None when it fails."""
        lines = head.split(b"\r\n")
        kept = [lines[0]]
        for line in lines[1:]:
            name = line.partition(b":")[0].strip().lower()
            if not line or name in (b"connection", b"keep-alive", b"proxy-connection"):
                continue
            kept.append(line)
        kept.append(b"Connection: close")
        out_head = b"\r\n".join(kept) + b"\r\n\r\n"
        host, port = self.server.upstream
        try:
            with socket.create_connection((host, port), timeout=IO_TIMEOUT) as up:
                up.sendall(out_head + body)
                reader = Reader(up)
                while True:
                    rhead = reader.until(b"\r\n\r\n")
                    status_line, rheaders = parse_head(rhead)
                    status = int(status_line.split(" ")[1])
                    if status >= 200 or status == 101:
                        break  # 1xx interim answers (100 Continue) are skipped
                if method == "HEAD" or status in (204, 304):
                    rbody = b""
                elif body_length(rheaders) is None:
                    rbody = dechunk(read_body(reader, rheaders))
                elif header(rheaders, "content-length") is not None:
                    rbody = read_body(reader, rheaders)
                else:
                    rbody = reader.rest()
        except (OSError, Closed, ValueError, IndexError):
            return None
        out = [status_line.encode("latin-1")]
        for line in rhead.split(b"\r\n")[1:]:
            name = line.partition(b":")[0].strip().lower()
            if not line or name in (b"connection", b"keep-alive", b"transfer-encoding"):
                continue
            if name == b"content-length" and method != "HEAD":
                continue
            out.append(line)
        if method != "HEAD":
            out.append(b"Content-Length: " + str(len(rbody)).encode())
        return b"\r\n".join(out) + b"\r\n\r\n" + rbody


def dechunk(raw):
    out, i = [], 0
    while True:
        j = raw.index(b"\r\n", i)
        size = int(raw[i:j].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return b"".join(out)
        out.append(raw[j + 2:j + 2 + size])
        i = j + 2 + size + 2


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="http://HOST:PORT of the S3 server")
    ap.add_argument("--fault", action="append", default=[],
                    help="MODE[:COUNT[:EVERY[:METHODS[:DELAY_MS]]]], repeatable, in order")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    ap.add_argument("--max-seconds", type=float, default=900)
    args = ap.parse_args()

    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "http" or not up.hostname:
        ap.error("--upstream must be http://HOST:PORT")
    schedule = Schedule()
    try:
        schedule.replace([Schedule.parse_spec(s) for s in args.fault])
    except ValueError as e:
        ap.error(str(e))

    server = Server(("127.0.0.1", args.port), Handler)
    server.schedule = schedule
    server.upstream = (up.hostname, up.port or 80)
    print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)

    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds

    def watchdog():
        while time.monotonic() < deadline and os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    sys.exit(main())
