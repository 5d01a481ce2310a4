"""Helpers for the rotation tests: job calls and a webhook receiver that checks
every delivery's signature (docs/internals/rotation.md "Events and notifications")."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cofferlib import wait_until

WEBHOOK_SECRET = "whsec-rotation-tests"


def ok(resp, status=(200, 204)):
    if isinstance(status, int):
        status = (status,)
    assert resp.status in status, f"{resp.status}: {resp.text}"
    return resp.json() if resp.body else None


def job_put(dev, name, body, status=200):
    return ok(dev.raw("POST", f"/v1/sys/rotation/jobs/{name}", body), status)


def job(dev, name):
    return ok(dev.raw("GET", f"/v1/sys/rotation/jobs/{name}"))["data"]


def rotate(dev, name, reason="test"):
    return ok(dev.raw("POST", f"/v1/sys/rotation/jobs/{name}/rotate", {"reason": reason}))["data"]


def verify(dev, name, value, key=None):
    body = {"value": value}
    if key:
        body["key"] = key
    return ok(dev.raw("POST", f"/v1/sys/rotation/verify/{name}", body))["data"]


def kv_read(dev, path, version=None, headers=None, token="__root__"):
    q = f"?version={version}" if version else ""
    return dev.raw("GET", f"/v1/secret/data/{path}{q}", headers=headers, token=token)


def kv_meta(dev, path):
    return ok(dev.raw("GET", f"/v1/secret/metadata/{path}"))["data"]


class Receiver:
    """A webhook receiver on loopback. Records (headers, body) of every POST
    whose signature verifies; counts bad signatures."""

    def __init__(self, secret=WEBHOOK_SECRET):
        self.secret = secret.encode()
        self.events = []
        self.bad = 0
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                sig = self.headers.get("X-Coffer-Signature", "")
                parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
                want = hmac.new(outer.secret, f"{parts.get('t', '')}.".encode() + body,
                                hashlib.sha256).hexdigest()
                with outer.lock:
                    if hmac.compare_digest(want, parts.get("v1", "")):
                        outer.events.append((dict(self.headers), json.loads(body)))
                    else:
                        outer.bad += 1
                self.send_response(200)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def of(self, type_, job=None):
        with self.lock:
            return [e for _, e in self.events
                    if e.get("type") == type_ and (job is None or e.get("job") == job)]

    def wait(self, type_, job=None, timeout=15, pred=lambda e: True):
        return wait_until(lambda: [e for e in self.of(type_, job) if pred(e)], timeout,
                          what=f"event {type_} for job {job}")


def add_webhook(dev, receiver, name="rot", **extra):
    body = {"url": receiver.url, "secret": receiver.secret.decode()}
    body.update(extra)
    ok(dev.raw("PUT", f"/v1/sys/notify/webhooks/{name}", body))
