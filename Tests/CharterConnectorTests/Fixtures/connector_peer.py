"""A scripted peer of the connector protocol (docs/connector-protocol.md) for the connector's own tests: it checks
what the connector sends and answers as a scenario says, so that retries, resumes, token renewal and refusals can
be provoked. The real service is tested against the connector in CharterServerTests (ConnectorEndToEndTests).

usage: connector_peer.py DIRECTORY SCENARIO_JSON

Writes its port to DIRECTORY/port once it listens, and appends one JSON line per request to DIRECTORY/log:
{"method", "path", "protocol", "authorization", "content_encoding", "body", "time"}; a page's body is logged as
{"sha256", "page"} (the inflated JSON). SCENARIO_JSON members:

  token_seconds      lifetime of the token the enroll answer gives (default 86400)
  runs               the runs of GET /v1/connector/work: objects with run_id, kind, watermark, page_size,
                     maximum_objects, pages_received (deadline_at is added)
  held               {"<run>": {"<page>": "<sha256>"}}: pages the service already holds
  fail_page_once     {"page": n, "status": s}: the first upload of page n answers s (with Retry-After: 0)
  close_page         n: uploading page n answers 409 run-closed
  expire_work_once   true: the first GET /v1/connector/work answers 401 token-expired
  update_required    true: every call with a connector token answers 426 connector-update-required
"""

import base64
import datetime
import gzip
import hashlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])

DIRECTORY = sys.argv[1]
SCENARIO = json.loads(sys.argv[2])
LOCK = threading.Lock()
STATE = {
    "key": None,
    "connector_id": "7c1f5d3a-0000-4000-8000-000000000001",
    "tokens": set(),
    "token_number": 0,
    "nonces": set(),
    "held": {run: dict(pages) for run, pages in SCENARIO.get("held", {}).items()},
    "failed_once": set(),
    "work_expired": False,
}


def rfc3339(seconds_from_now):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def log(entry):
    with LOCK, open(os.path.join(DIRECTORY, "log"), "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def new_token():
    STATE["token_number"] += 1
    token = "chtk_%d" % STATE["token_number"]
    STATE["tokens"].add(token)
    return token


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        content_type = "application/problem+json" if status >= 400 else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def problem(self, status, code, detail=""):
        self.answer(status, {"type": "about:blank", "status": status, "code": code, "detail": detail})

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def entry(self, body):
        return {
            "method": self.command,
            "path": self.path,
            "protocol": self.headers.get("Charter-Connector-Protocol"),
            "authorization": self.headers.get("Authorization"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "body": body,
            "time": time.time(),
        }

    def authorized(self):
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in STATE["tokens"]:
            self.problem(401, "unauthorized")
            return False
        if SCENARIO.get("update_required"):
            self.problem(426, "connector-update-required", "this service speaks connector protocol 2 to 3")
            return False
        return True

    def do_POST(self):
        raw = self.read_body()
        body = json.loads(raw) if raw else None
        log(self.entry(body))
        path = self.path
        if path == "/v1/connector/challenge":
            nonce = secrets.token_urlsafe(32)
            STATE["nonces"].add(nonce)
            return self.answer(200, {"nonce": nonce, "expires_at": rfc3339(300)})
        if path == "/v1/connector/enroll":
            STATE["key"] = Ed25519PublicKey.from_public_bytes(b64url_decode(body["signing_key"]["x"]))
            return self.answer(201, {
                "connector_id": STATE["connector_id"], "connector_token": new_token(),
                "token_expires_at": rfc3339(SCENARIO.get("token_seconds", 86400)), "tenant_id": "tenant-1",
                "protocol": {"minimum": 1, "maximum": 1}, "heartbeat_seconds": 1,
            })
        if path == "/v1/connector/token":
            message = "charter-connector-token-v1\n%s\n%s" % (body["nonce"], body["connector_id"])
            try:
                assert body["nonce"] in STATE["nonces"]
                STATE["nonces"].discard(body["nonce"])
                STATE["key"].verify(b64url_decode(body["signature"]), message.encode())
            except Exception:
                return self.problem(401, "unauthorized", "bad signature")
            return self.answer(200, {"connector_token": new_token(), "token_expires_at": rfc3339(86400)})
        if not self.authorized():
            return
        if path == "/v1/connector/heartbeat":
            return self.answer(200, {
                "connections": [{"connection_id": "conn-1", "name": "Corp", "active": True, "lease_expires_at": rfc3339(30)}],
                "heartbeat_seconds": 1, "protocol": {"minimum": 1, "maximum": 1},
            })
        if path.endswith("/complete"):
            return self.answer(202, {"run_id": path.split("/")[4], "status": "applying"})
        if path.endswith("/fail"):
            return self.answer(202, {"run_id": path.split("/")[4], "status": "failed"})
        self.problem(404, "not-found")

    def do_PUT(self):
        raw = self.read_body()
        digest = hashlib.sha256(gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw).hexdigest()
        page_json = json.loads(gzip.decompress(raw)) if self.headers.get("Content-Encoding") == "gzip" else None
        log(self.entry({"sha256": digest, "page": page_json}))
        if not self.authorized():
            return
        parts = self.path.split("/")
        run, page = parts[4], int(parts[6])
        if SCENARIO.get("close_page") == page:
            return self.problem(409, "run-closed")
        once = SCENARIO.get("fail_page_once")
        if once and once["page"] == page and page not in STATE["failed_once"]:
            STATE["failed_once"].add(page)
            return self.answer(once["status"], {"status": once["status"], "code": "unavailable"}, {"Retry-After": "0"})
        held = STATE["held"].setdefault(run, {})
        if str(page) in held and held[str(page)] != digest:
            return self.problem(409, "page-conflict")
        held[str(page)] = digest
        self.answer(200, {"page": page, "pages_received": len(held)})

    def do_GET(self):
        log(self.entry(None))
        if not self.authorized():
            return
        if self.path == "/v1/connector/work":
            if SCENARIO.get("expire_work_once") and not STATE["work_expired"]:
                STATE["work_expired"] = True
                return self.problem(401, "token-expired")
            runs = [dict(run, deadline_at=rfc3339(600)) for run in SCENARIO.get("runs", [])]
            return self.answer(200, {"runs": runs})
        if self.path.startswith("/v1/connector/events"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            ready = "retry: 1000\n\nid: 1\nevent: ready\ndata: {\"connector_id\": \"%s\", \"heartbeat_seconds\": 1}\n\n" % STATE["connector_id"]
            try:
                self.chunk(ready)
                while True:
                    time.sleep(1)
                    self.chunk(": heartbeat\n\n")
            except OSError:
                return
        self.problem(404, "not-found")

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(os.path.join(DIRECTORY, "port.tmp"), "w") as handle:
    handle.write(str(server.server_address[1]))
os.rename(os.path.join(DIRECTORY, "port.tmp"), os.path.join(DIRECTORY, "port"))
server.serve_forever()
