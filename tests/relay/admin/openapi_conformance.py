#!/usr/bin/env python3
"""OpenAPI conformance test of the admin API.

Usage: openapi_conformance.py TERN_RELAY OPENAPI_JSON

Starts the real tern-relay with an admin listener on loopback, sends requests
to every operation of the OpenAPI document (successes and the typical errors),
validates each answer (status, headers, body) against the document with
openapi-core, and fails unless every operation was exercised.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from openapi_core import OpenAPI
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse

BOOTSTRAP = "tat_conformance_bootstrap_token"


class Failure(Exception):
    pass


class Relay:
    """A tern-relay process and the addresses it printed."""

    def __init__(self, binary, data_dir):
        env = dict(os.environ, TERN_ADMIN_TOKEN=BOOTSTRAP)
        self.stderr = open(os.path.join(data_dir, "relay.stderr"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--admin-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(data_dir, "data")],
            stdout=subprocess.PIPE, stderr=self.stderr, env=env, text=True)
        self.ingest = self._expect_line("listening on ")
        self.admin = self._expect_line("admin listening on ")
        # Keep draining stdout so the relay never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def _expect_line(self, prefix):
        result = {}

        def read():
            result["line"] = self.proc.stdout.readline()

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(30)
        line = result.get("line", "")
        if not line.startswith(prefix):
            self.stop()
            self.stderr.seek(0)
            raise Failure(f"expected a stdout line starting {prefix!r}, got {line!r}; stderr:\n"
                          + self.stderr.read()[-4000:])
        host, port = line[len(prefix):].strip().rsplit(":", 1)
        return host, int(port)

    def stop(self):
        """Stops the relay with SIGTERM; its exit status (0 for a clean stop)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Client:
    def __init__(self, spec, host, port):
        self.spec = spec
        self.openapi = OpenAPI.from_dict(spec)
        self.finder = APICallPathFinder(self.openapi.spec)
        self.host, self.port = host, port
        self.host_url = f"http://{host}:{port}"
        self.exercised = set()
        self.answers = 0

    def call(self, operation_id, method, path, expect, body=None, query=None, headers=None,
             token=BOOTSTRAP, raw_body=None):
        """Sends one request, checks its status and validates the answer."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw_body if raw_body is not None else (
            json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, target, body=data, headers=headers)
            res = conn.getresponse()
            payload = res.read()
            status = res.status
            res_headers = {k: v for k, v in res.getheaders()}
        finally:
            conn.close()
        what = f"{method} {target} ({operation_id})"
        if status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise Failure(f"{what}: expected {expect}, got {status}: {payload[:2000]!r}")

        # Which operation of the document this request is.
        found = self.finder.find(method.lower(), self.host_url + path)
        found_id = found.operation["operationId"]
        if found_id != operation_id:
            raise Failure(f"{what}: the document maps it to {found_id}")
        self.exercised.add(operation_id)

        request = MockRequest(self.host_url, method, path, args=query or {}, headers=headers,
                              data=data or b"")
        if 200 <= status < 400:
            # A request the relay accepted must be one the document describes.
            try:
                self.openapi.validate_request(request)
            except Exception as e:
                detail = getattr(e, "__cause__", None) or e
                raise Failure(f"{what}: the request does not match the document: {e!r} "
                              f"{detail!r}")
        content_type = res_headers.get("Content-Type", "")
        response = MockResponse(payload, status_code=status, headers=res_headers,
                                content_type=content_type.split(";")[0].strip())
        try:
            self.openapi.validate_response(request, response)
        except Exception as e:  # openapi-core raises one of several error types
            detail = getattr(e, "__cause__", None) or e
            raise Failure(f"{what}: the answer does not match the document: {e!r} {detail!r}\n"
                          f"status {status}, headers {res_headers}, body {payload[:2000]!r}")
        self.answers += 1
        parsed = json.loads(payload) if payload and content_type.startswith("application/json") \
            else None
        return status, res_headers, parsed


def ingest_metric(address, series):
    """The value of a Prometheus series on the ingest listener's /metrics; -1 when absent."""
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    return -1


def exercise(c, work_dir):
    A = "/admin/v1"
    D = {"dry_run": "true"}

    c.call("getOpenApi", "GET", A + "/openapi.json", 200, token=None)

    # Tokens.
    _, _, read = c.call("createToken", "POST", A + "/tokens", 201,
                        {"name": "reader", "scopes": ["read"]})
    _, _, relay = c.call("createToken", "POST", A + "/tokens", 201,
                         {"name": "edge", "scopes": ["relay"]})
    _, _, doomed = c.call("createToken", "POST", A + "/tokens", 201,
                          {"name": "doomed", "scopes": ["write"]})
    c.call("createToken", "POST", A + "/tokens", 200, {"name": "dry", "scopes": ["read"]}, D)
    c.call("createToken", "POST", A + "/tokens", 422, {"name": "bad", "scopes": ["root"]})
    c.call("createToken", "POST", A + "/tokens", 400, raw_body=b"{nope")
    c.call("createToken", "POST", A + "/tokens", 403, {"name": "x", "scopes": ["write"]},
           token=read["token"])
    c.call("listTokens", "GET", A + "/tokens", 200, query={"limit": "2"})
    c.call("listTokens", "GET", A + "/tokens", 403, token=read["token"])
    c.call("deleteToken", "DELETE", A + "/tokens/" + doomed["id"], 200, query=D)
    c.call("deleteToken", "DELETE", A + "/tokens/" + doomed["id"], 204)
    c.call("deleteToken", "DELETE", A + "/tokens/" + doomed["id"], 404)

    # Sources and write keys.
    c.call("listSources", "GET", A + "/sources", 200)
    c.call("listSources", "GET", A + "/sources", 401, token=None)
    c.call("listSources", "GET", A + "/sources", 401, token="tat_unknown")
    c.call("listSources", "GET", A + "/sources", 403, token=relay["token"])
    c.call("listSources", "GET", A + "/sources", 422, query={"limit": "0"})
    c.call("listSources", "GET", A + "/sources", 200, token=read["token"], query={"limit": "1"})
    _, h, web = c.call("createSource", "POST", A + "/sources", 201,
                       {"id": "web", "ack_mode": "local", "settings": {"sampling": 1}})
    if not web["write_keys"] or not web["write_keys"][0]["key"]:
        raise Failure("createSource: no write key in write_keys[0].key")
    c.call("createSource", "POST", A + "/sources", 201, {"id": "ios"})
    c.call("createSource", "POST", A + "/sources", 200, {"id": "android"}, D)
    c.call("createSource", "POST", A + "/sources", 409, {"id": "web"})
    c.call("createSource", "POST", A + "/sources", 422, {"id": "not valid!"})
    c.call("createSource", "POST", A + "/sources", 400, raw_body=b"[]")
    c.call("createSource", "POST", A + "/sources", 403, {"id": "r"}, token=read["token"])
    _, h, _ = c.call("getSource", "GET", A + "/sources/web", 200)
    c.call("getSource", "GET", A + "/sources/nope", 404)
    tag = h["ETag"]
    c.call("patchSource", "PATCH", A + "/sources/web", 200, {"rate_limit_eps": 100}, D,
           headers={"If-Match": tag})
    _, h2, _ = c.call("patchSource", "PATCH", A + "/sources/web", 200, {"rate_limit_eps": 100},
                      headers={"If-Match": tag})
    c.call("patchSource", "PATCH", A + "/sources/web", 412, {"rate_limit_eps": 5},
           headers={"If-Match": tag})
    c.call("patchSource", "PATCH", A + "/sources/nope", 404, {"rate_limit_eps": 5})
    c.call("patchSource", "PATCH", A + "/sources/web", 422, {"ack_mode": "sometimes"})
    _, _, key = c.call("createWriteKey", "POST", A + "/sources/web/write-keys", 201)
    c.call("createWriteKey", "POST", A + "/sources/web/write-keys", 200, query=D)
    c.call("createWriteKey", "POST", A + "/sources/nope/write-keys", 404)
    c.call("deleteWriteKey", "DELETE", A + "/sources/web/write-keys/" + web["write_keys"][0]["id"],
           204)
    c.call("deleteWriteKey", "DELETE", A + "/sources/web/write-keys/" + key["id"], 409)
    c.call("deleteWriteKey", "DELETE", A + "/sources/web/write-keys/wk_missing", 404)

    # The live tap: a viewer with ?limit=1 sees the next accepted event, then its stream ends.
    tap_open = threading.Event()

    def post_when_the_tap_is_open():
        for _ in range(500):  # up to 10 s
            if ingest_metric(c.ingest, "tern_relay_tap_open") >= 1:
                break
            time.sleep(0.02)
        conn = http.client.HTTPConnection(*c.ingest, timeout=30)
        auth = base64.b64encode((key["key"] + ":").encode()).decode()
        conn.request("POST", "/v1/batch", body=json.dumps(
            {"batch": [{"type": "track", "event": "Tapped", "userId": "u1"}]}),
            headers={"Authorization": "Basic " + auth, "Content-Type": "application/json"})
        tap_open.set()
        conn.getresponse().read()
        conn.close()

    poster = threading.Thread(target=post_when_the_tap_is_open, daemon=True)
    poster.start()
    _, h, _ = c.call("openTap", "GET", A + "/tap", 200,
                     query={"source": "web", "rejected": "true", "limit": "1"})
    poster.join(30)
    if not tap_open.is_set() or not h.get("Content-Type", "").startswith("text/event-stream"):
        raise Failure(f"openTap: no event posted or not an event stream: {h}")
    c.call("openTap", "GET", A + "/tap", 422, query={"sample": "2"})
    c.call("openTap", "GET", A + "/tap", 422, query={"limit": "-1"})
    c.call("openTap", "GET", A + "/tap", 403, token=relay["token"])
    c.call("openTap", "GET", A + "/tap", 401, token=None)

    # Sinks.
    archive = {"name": "archive", "type": "file", "dir": os.path.join(work_dir, "archive")}
    _, h, _ = c.call("createSink", "POST", A + "/sinks", 201, archive)
    c.call("createSink", "POST", A + "/sinks", 201,
           {"name": "spare", "type": "file", "dir": os.path.join(work_dir, "spare")})
    c.call("createSink", "POST", A + "/sinks", 201,
           {"name": "forward", "type": "http", "url": "http://127.0.0.1:9/v1/batch",
            "headers": {"Authorization": "Bearer a-secret-value"}})
    c.call("createSink", "POST", A + "/sinks", 200,
           {"name": "dry", "type": "file", "dir": os.path.join(work_dir, "dry")}, D)
    c.call("createSink", "POST", A + "/sinks", 409, archive)
    c.call("createSink", "POST", A + "/sinks", 422, {"name": "typeless"})
    c.call("createSink", "POST", A + "/sinks", 422, {"name": "bad", "type": "no-such-type"})
    c.call("listSinks", "GET", A + "/sinks", 200)
    c.call("listSinks", "GET", A + "/sinks", 422, query={"cursor": "***"})
    _, h, sink = c.call("getSink", "GET", A + "/sinks/archive", 200)
    c.call("getSink", "GET", A + "/sinks/nope", 404)
    _, _, fwd = c.call("getSink", "GET", A + "/sinks/forward", 200)
    if "a-secret-value" in json.dumps(fwd):
        raise Failure("getSink shows a secret")
    sink.pop("revision", None)
    sink["max_bytes"] = "64MiB"
    _, h, _ = c.call("replaceSink", "PUT", A + "/sinks/archive", 200, sink,
                     headers={"If-Match": h["ETag"]})
    c.call("replaceSink", "PUT", A + "/sinks/archive", 200, sink, D)
    c.call("replaceSink", "PUT", A + "/sinks/archive", 412, sink, headers={"If-Match": '"1"'})
    c.call("replaceSink", "PUT", A + "/sinks/nope", 404, sink | {"name": "nope"})
    c.call("patchSink", "PATCH", A + "/sinks/archive", 200, {"gzip": True})
    c.call("patchSink", "PATCH", A + "/sinks/archive", 200, {"gzip": False}, D)
    c.call("patchSink", "PATCH", A + "/sinks/nope", 404, {"gzip": True})
    c.call("patchSink", "PATCH", A + "/sinks/archive", 412, {"gzip": True},
           headers={"If-Match": '"1"'})
    _, _, result = c.call("testSink", "POST", A + "/sinks/archive:test", 200)
    if result.get("ok") is not True:
        raise Failure(f"testSink: a file sink in a writable dir failed: {result}")
    c.call("testSink", "POST", A + "/sinks/nope:test", 404)

    # The console's overview, and a sink's dead letters (a line as the sink
    # runner writes it, and one that is not JSON).
    for _ in range(50):  # the history samples once a second: wait for its configured sources
        _, _, overview = c.call("getOverview", "GET", A + "/overview", 200)
        if overview["sources"] and overview["spool"]["bytes_per_second"]:
            break
        time.sleep(0.1)
    else:
        raise Failure(f"getOverview: no source after 5 s: {overview}")
    c.call("getOverview", "GET", A + "/overview", 200, token=read["token"])
    c.call("getOverview", "GET", A + "/overview", 401, token=None)
    _, _, dead = c.call("listDeadLetters", "GET", A + "/sinks/archive/dead-letters", 200)
    if dead["items"] != []:
        raise Failure(f"listDeadLetters: a sink that dead-lettered nothing lists {dead}")
    os.makedirs(os.path.dirname(dead["path"]), exist_ok=True)
    with open(dead["path"], "a") as f:
        f.write('{"sink":"archive","reason":"rejected","seq":1,"source":"web",'
                '"event":{"type":"track","event":"E"}}\nnot json\n')
    _, _, dead = c.call("listDeadLetters", "GET", A + "/sinks/archive/dead-letters", 200,
                        query={"limit": "10"})
    if [i.get("raw", i.get("reason")) for i in dead["items"]] != ["not json", "rejected"]:
        raise Failure(f"listDeadLetters: expected the two lines newest first, got {dead}")
    c.call("listDeadLetters", "GET", A + "/sinks/nope/dead-letters", 404)
    c.call("listDeadLetters", "GET", A + "/sinks/archive/dead-letters", 422,
           query={"limit": "1001"})

    # Routes.
    _, h, route = c.call("createRoute", "POST", A + "/routes", 201,
                         {"sources": ["web"], "sinks": ["archive"]})
    c.call("createRoute", "POST", A + "/routes", 201,
           {"id": "ios-spare", "sources": ["ios"], "sinks": ["spare"]})
    c.call("createRoute", "POST", A + "/routes", 200, {"sinks": ["archive"]}, D)
    c.call("createRoute", "POST", A + "/routes", 422, {"sources": ["web"], "sinks": ["missing"]})
    c.call("createRoute", "POST", A + "/routes", 409, {"id": "ios-spare", "sinks": ["spare"]})
    c.call("listRoutes", "GET", A + "/routes", 200)
    rid = route["id"]
    c.call("getRoute", "GET", A + "/routes/" + rid, 200)
    c.call("getRoute", "GET", A + "/routes/nope", 404)
    _, h, _ = c.call("replaceRoute", "PUT", A + "/routes/" + rid, 200,
                     {"sources": ["web"], "types": ["track"], "sinks": ["archive"]},
                     headers={"If-Match": h["ETag"]})
    c.call("replaceRoute", "PUT", A + "/routes/" + rid, 412, {"sinks": ["archive"]},
           headers={"If-Match": '"1"'})
    c.call("replaceRoute", "PUT", A + "/routes/nope", 404, {"sinks": ["archive"]})
    c.call("replaceRoute", "PUT", A + "/routes/" + rid, 200, {"sinks": ["archive"]}, D)
    c.call("patchRoute", "PATCH", A + "/routes/" + rid, 200, {"types": ["track", "identify"]})
    c.call("patchRoute", "PATCH", A + "/routes/" + rid, 422, {"sinks": ["missing"]})
    c.call("patchRoute", "PATCH", A + "/routes/nope", 404, {"types": []})

    # Suppressions.
    c.call("createSuppression", "POST", A + "/suppressions", 201,
           {"user_id": "u-123", "reason": "gdpr-erasure-4711"})
    c.call("createSuppression", "POST", A + "/suppressions", 201, {"user_id": "u-456"})
    c.call("createSuppression", "POST", A + "/suppressions", 200, {"user_id": "u-789"}, D)
    c.call("createSuppression", "POST", A + "/suppressions", 409, {"user_id": "u-123"})
    c.call("createSuppression", "POST", A + "/suppressions", 422, {"reason": "no user"})
    _, _, page = c.call("listSuppressions", "GET", A + "/suppressions", 200, query={"limit": "1"})
    c.call("listSuppressions", "GET", A + "/suppressions", 200,
           query={"limit": "1", "cursor": page["next_cursor"]})
    c.call("getSuppression", "GET", A + "/suppressions/u-123", 200)
    c.call("getSuppression", "GET", A + "/suppressions/nope", 404)
    c.call("deleteSuppression", "DELETE", A + "/suppressions/u-456", 200, query=D)
    c.call("deleteSuppression", "DELETE", A + "/suppressions/u-456", 204)
    c.call("deleteSuppression", "DELETE", A + "/suppressions/u-456", 404)

    # The whole state.
    _, h, state = c.call("getState", "GET", A + "/state", 200)
    c.call("getState", "GET", A + "/state", 200, token=read["token"])
    doc = {k: state[k] for k in ("sources", "sinks", "routes", "suppressions")}
    c.call("replaceState", "PUT", A + "/state", 428, doc)
    c.call("replaceState", "PUT", A + "/state", 412, doc, headers={"If-Match": '"1"'})
    c.call("replaceState", "PUT", A + "/state", 200, doc, D, headers={"If-Match": h["ETag"]})
    doc["suppressions"].append({"user_id": "u-state", "reason": "from a PUT"})
    _, h, state = c.call("replaceState", "PUT", A + "/state", 200, doc,
                         headers={"If-Match": h["ETag"]})
    bad = dict(doc, routes=doc["routes"] + [{"id": "broken", "sinks": ["missing"]}])
    c.call("replaceState", "PUT", A + "/state", 422, bad, headers={"If-Match": h["ETag"]})
    c.call("replaceState", "PUT", A + "/state", 400, raw_body=b"nope",
           headers={"If-Match": h["ETag"]})
    gutted = dict(doc, sources=[], routes=[], sinks=[s for s in doc["sinks"] if s["name"] == "forward"])
    c.call("replaceState", "PUT", A + "/state", 409, gutted, headers={"If-Match": h["ETag"]})

    # Revisions and audit.
    _, _, revs = c.call("listRevisions", "GET", A + "/revisions", 200, query={"limit": "3"})
    c.call("listRevisions", "GET", A + "/revisions", 200,
           query={"limit": "3", "cursor": revs["next_cursor"]})
    first = revs["items"][-1]["revision"]
    c.call("getRevision", "GET", A + f"/revisions/{first}", 200)
    c.call("getRevision", "GET", A + "/revisions/99999", 404)
    c.call("restoreRevision", "POST", A + f"/revisions/{state['revision']}:restore", 200, query=D)
    c.call("restoreRevision", "POST", A + f"/revisions/{state['revision']}:restore", 201)
    c.call("restoreRevision", "POST", A + "/revisions/99999:restore", 404)
    _, _, audit = c.call("listAudit", "GET", A + "/audit", 200, query={"limit": "5"})
    c.call("listAudit", "GET", A + "/audit", 200, query={"cursor": audit["next_cursor"]})
    c.call("listAudit", "GET", A + "/audit", 422, query={"limit": "501"})

    # The fleet.
    _, h, snap = c.call("getFleetSnapshot", "GET", A + "/fleet/snapshot", 200,
                        token=relay["token"], query={"relay_id": "edge-1"})
    if "a-secret-value" not in json.dumps(snap):
        raise Failure("getFleetSnapshot: the snapshot must carry secrets in clear")
    c.call("getFleetSnapshot", "GET", A + "/fleet/snapshot", 304, token=relay["token"],
           query={"relay_id": "edge-1", "wait": "200ms"}, headers={"If-None-Match": h["ETag"]})
    c.call("getFleetSnapshot", "GET", A + "/fleet/snapshot", 200, token=relay["token"],
           query={"wait": "1s"}, headers={"If-None-Match": '"1"'})
    c.call("getFleetSnapshot", "GET", A + "/fleet/snapshot", 403, token=read["token"])
    c.call("getFleetSnapshot", "GET", A + "/fleet/snapshot", 422, token=relay["token"],
           query={"wait": "soon"})
    report = {"relay_id": "edge-1", "applied_revision": snap["revision"], "status": "ok",
              "errors": [], "labels": {"region": "eu"}, "version": "test"}
    c.call("postFleetReport", "POST", A + "/fleet/reports", 200, report, token=relay["token"])
    c.call("postFleetReport", "POST", A + "/fleet/reports", 422, {"relay_id": "edge-2"},
           token=relay["token"])
    c.call("postFleetReport", "POST", A + "/fleet/reports", 400, raw_body=b"{",
           token=relay["token"])
    c.call("postFleetReport", "POST", A + "/fleet/reports", 403, report, token=read["token"])
    _, _, relays = c.call("listRelays", "GET", A + "/relays", 200)
    if [r["relay_id"] for r in relays["items"]] != ["edge-1"]:
        raise Failure(f"listRelays: {relays}")

    # Deletions.
    _, h, _ = c.call("getRoute", "GET", A + "/routes/ios-spare", 200)
    c.call("deleteRoute", "DELETE", A + "/routes/ios-spare", 412, headers={"If-Match": '"1"'})
    c.call("deleteRoute", "DELETE", A + "/routes/ios-spare", 200, query=D)
    c.call("deleteRoute", "DELETE", A + "/routes/ios-spare", 204, headers={"If-Match": h["ETag"]})
    c.call("deleteRoute", "DELETE", A + "/routes/ios-spare", 404)
    c.call("deleteSink", "DELETE", A + "/sinks/archive", 422)  # a route still names it
    c.call("deleteSink", "DELETE", A + "/sinks/spare", 200, query=D)
    c.call("deleteSink", "DELETE", A + "/sinks/spare", 204, query={"discard": "true"})
    c.call("deleteSink", "DELETE", A + "/sinks/spare", 404)
    c.call("deleteSource", "DELETE", A + "/sources/ios", 200, query=D)
    c.call("deleteSource", "DELETE", A + "/sources/ios", 412, headers={"If-Match": '"1"'})
    c.call("deleteSource", "DELETE", A + "/sources/ios", 204)
    c.call("deleteSource", "DELETE", A + "/sources/ios", 404)

    # Last, as it locks this address out for a minute: failed attempts are limited.
    for attempt in range(30):
        status, _, _ = c.call("getState", "GET", A + "/state", (401, 429), token="tat_guess")
        if status == 429:
            break
    else:
        raise Failure("no 429 after 30 failed authentications")
    c.call("getState", "GET", A + "/state", 429)  # even with a good token, for a while


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    operations = {op["operationId"] for item in spec["paths"].values()
                  for method, op in item.items() if method != "parameters"}
    with tempfile.TemporaryDirectory(prefix="tern-openapi-") as work_dir:
        relay = Relay(binary, work_dir)
        try:
            client = Client(spec, *relay.admin)
            client.ingest = relay.ingest
            exercise(client, work_dir)
        except Failure as e:
            relay.stop()
            relay.stderr.seek(0)
            print(f"FAIL: {e}\n--- relay stderr (tail) ---\n{relay.stderr.read()[-3000:]}",
                  file=sys.stderr)
            return 1
        finally:
            rc = relay.stop()
        if rc != 0:
            relay.stderr.seek(0)
            print(f"FAIL: the relay exited with status {rc} after SIGTERM\n--- relay stderr (tail) "
                  f"---\n{relay.stderr.read()[-3000:]}", file=sys.stderr)
            return 1
    missing = sorted(operations - client.exercised)
    if missing:
        print(f"FAIL: operations never exercised: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"{len(operations)} operations, {client.answers} answers, all match the document")
    return 0


if __name__ == "__main__":
    sys.exit(main())
