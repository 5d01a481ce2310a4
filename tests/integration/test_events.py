"""Events (docs/internals/rotation.md "Events and notifications"): the durable outbox, signed
webhooks with retries (also across kill -9), webhook filters and the Slack format,
the server-sent event stream (filters, order, Last-Event-ID replay, keepalives,
many idle subscribers, a slow one dropped), bad input, and the CLI
(`coffer notify webhook ...`, `coffer events`).

Events are produced through `POST sys/events/test` (sudo, `test.*` types only),
the operator's tool to check webhook wiring; rotation and lease events travel
the same path. Every wait is a condition with a deadline."""

import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cofferlib import LOOPBACK, coffer_bin, wait_until

SECRET = "whsec_" + "k" * 24


# ---------------------------------------------------------------------------
# a webhook receiver


class Receiver:
    """http.server on 127.0.0.1 in a thread. Records every POST; answers the
    statuses queued for its path (then 200)."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.requests = []  # dicts: path, headers (lower-cased), body (bytes), status
        self.plan = {}  # path -> list of statuses still to answer
        self.default = 200
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with recv.lock:
                    queue = recv.plan.get(self.path)
                    status = queue.pop(0) if queue else recv.default
                    recv.requests.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "status": status,
                    })
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://{LOOPBACK}:{self.port}{path}"

    def got(self, path=None, status=None):
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r["path"] == path) and (status is None or r["status"] == status)]

    def events(self, path, status=200):
        return [json.loads(r["body"]) for r in self.got(path, status)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def verify_signature(req, secret=SECRET):
    sig = req["headers"].get("x-coffer-signature", "")
    parts = dict(p.split("=", 1) for p in sig.split(","))
    want = hmac.new(secret.encode(), parts["t"].encode() + b"." + req["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], want), f"bad signature {sig}"
    assert abs(int(parts["t"]) - time.time()) < 120
    return True


def put_hook(dev, name, **cfg):
    r = dev.raw("PUT", f"/v1/sys/notify/webhooks/{name}", cfg)
    assert r.status in (200, 204), r
    return r


def emit(dev, type_, **fields):
    r = dev.raw("POST", "/v1/sys/events/test", {"type": type_, **fields})
    assert r.status == 200, r
    return r.json()["data"]["id"]


# ---------------------------------------------------------------------------
# an SSE client


class SSE:
    def __init__(self, addr, token, types=None, last_event_id=None, timeout=10):
        host, port = addr.replace("http://", "").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        path = "/v1/sys/events/subscribe" + (f"?types={types}" if types else "")
        headers = {"X-Vault-Token": token} if token else {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.comments = []

    def next_event(self, timeout=10):
        """The next event as (id, type, data dict), or None at the end of the stream."""
        deadline = time.monotonic() + timeout
        fields = {}
        while time.monotonic() < deadline:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if "data" in fields:
                    return int(fields["id"]), fields["event"], json.loads(fields["data"])
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            k, _, v = line.partition(":")
            fields[k] = v[1:] if v.startswith(" ") else v
        raise AssertionError("no event before the deadline")

    def close(self):
        self.conn.close()


# ---------------------------------------------------------------------------
# webhooks: config


def test_webhook_config_secret_is_write_only(dev_server, receiver):
    put_hook(dev_server, "ops", url=receiver.url("/ops"), secret=SECRET, types=["rotation.*", "secret.*"],
             jobs="api,db", min_severity="warning", format="slack")
    r = dev_server.raw("GET", "/v1/sys/notify/webhooks/ops")
    assert r.status == 200
    data = r.json()["data"]
    assert SECRET not in r.text and "secret" not in data
    assert data["has_secret"] is True
    assert data["types"] == ["rotation.*", "secret.*"] and data["jobs"] == ["api", "db"]
    assert data["min_severity"] == "warning" and data["format"] == "slack"
    assert data["url"] == receiver.url("/ops")
    # an update without a secret keeps it
    put_hook(dev_server, "ops", url=receiver.url("/ops2"))
    data = dev_server.raw("GET", "/v1/sys/notify/webhooks/ops").json()["data"]
    assert data["has_secret"] is True and data["url"].endswith("/ops2") and data["types"] == []
    put_hook(dev_server, "plain", url="http://localhost:1/x")
    assert dev_server.raw("GET", "/v1/sys/notify/webhooks/plain").json()["data"]["has_secret"] is False
    r = dev_server.raw("LIST", "/v1/sys/notify/webhooks")
    assert r.status == 200 and r.json()["data"]["keys"] == ["ops", "plain"]
    assert dev_server.raw("DELETE", "/v1/sys/notify/webhooks/ops").status == 204
    assert dev_server.raw("GET", "/v1/sys/notify/webhooks/ops").status == 404
    assert dev_server.raw("LIST", "/v1/sys/notify/webhooks/").json()["data"]["keys"] == ["plain"]


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.com/x"},
    {"url": "not a url"},
    {"url": "http://"},
    {"url": "http://user:pw@example.com/"},
    {"secret": "x"},
    {"url": "http://127.0.0.1/x", "min_severity": "fatal"},
    {"url": "http://127.0.0.1/x", "types": ["rotation.[ab]"]},
    {"url": "http://127.0.0.1/x", "types": "rotation.*,has space"},
    {"url": "http://127.0.0.1/x", "types": [3]},
    {"url": "http://127.0.0.1/x", "format": "xml"},
    {"url": "http://127.0.0.1/x", "colour": "red"},
])
def test_webhook_bad_input(dev_server, body):
    r = dev_server.raw("PUT", "/v1/sys/notify/webhooks/bad", body)
    assert r.status == 400, r
    assert r.errors()


def test_events_bad_input(dev_server):
    assert dev_server.raw("PUT", "/v1/sys/notify/webhooks/bad%20name", {"url": "http://127.0.0.1/"}).status == 400
    # the test endpoint emits test.* only: it can never forge a real event
    for t in ("rotation.completed", "secret.compromised", "test.", "test.UPPER", ""):
        assert dev_server.raw("POST", "/v1/sys/events/test", {"type": t}).status == 400, t
    assert dev_server.raw("POST", "/v1/sys/events/test", {"type": "test.x", "severity": "loud"}).status == 400
    r = dev_server.raw("GET", "/v1/sys/events/subscribe?types=rotation.%5Bx%5D")
    assert r.status == 400 and r.errors()
    for bad in ("abc", "-1", "1 ", "99999999999999999999999"):
        r = dev_server.raw("GET", "/v1/sys/events/subscribe", headers={"Last-Event-ID": bad})
        assert r.status == 400, bad


def test_events_need_policy(dev_server):
    c = dev_server.client
    c.sys.create_or_update_policy("sub", 'path "sys/events/subscribe" { capabilities = ["read"] }')
    c.sys.create_or_update_policy("none", 'path "secret/*" { capabilities = ["read"] }')
    reader = c.auth.token.create(policies=["sub"])["auth"]["client_token"]
    nobody = c.auth.token.create(policies=["none"])["auth"]["client_token"]
    assert dev_server.raw("GET", "/v1/sys/events/subscribe", token=nobody).status == 403
    assert dev_server.raw("PUT", "/v1/sys/notify/webhooks/x", {"url": "http://127.0.0.1/"}, token=reader).status == 403
    assert dev_server.raw("POST", "/v1/sys/events/test", {"type": "test.x"}, token=reader).status == 403
    s = SSE(dev_server.addr, reader)
    try:
        assert s.status == 200
        assert s.resp.getheader("Content-Type") == "text/event-stream"
        eid = emit(dev_server, "test.policy")
        _, typ, data = s.next_event()
        assert typ == "test.policy" and data["id"] == eid
    finally:
        s.close()


# ---------------------------------------------------------------------------
# webhooks: delivery


def test_webhook_signed_delivery(dev_server, receiver):
    put_hook(dev_server, "signed", url=receiver.url("/signed"), secret=SECRET)
    eid = emit(dev_server, "test.signed", job="api", mount="secret/", path="app/key", version=3,
               previous_version=2, reason="check the wiring", severity="warning")
    wait_until(lambda: receiver.got("/signed"), 10, what="the webhook delivery")
    req = receiver.got("/signed")[0]
    h = req["headers"]
    assert h["content-type"] == "application/json"
    assert h["x-coffer-event"] == "test.signed"
    assert h["x-coffer-delivery"] == eid
    verify_signature(req)
    ev = json.loads(req["body"])
    assert ev["id"] == eid and ev["type"] == "test.signed" and ev["job"] == "api"
    assert ev["mount"] == "secret/" and ev["path"] == "app/key"
    assert ev["version"] == 3 and ev["previous_version"] == 2
    assert ev["severity"] == "warning" and ev["force"] is False and ev["reason"] == "check the wiring"
    assert ev["time"].endswith("Z")
    # a receiver that rejects the signature secret would notice a different one
    with pytest.raises(AssertionError):
        verify_signature(req, secret="other")


def test_webhook_retries_keep_the_delivery_id(dev_server, receiver):
    receiver.plan["/flaky"] = [500, 503]
    put_hook(dev_server, "flaky", url=receiver.url("/flaky"), secret=SECRET, types="test.flaky*")
    eid = emit(dev_server, "test.flaky")
    # 500 now, 503 after 5 s, 200 after 10 s more
    wait_until(lambda: receiver.got("/flaky", 200), 30, interval=0.1, what="the third attempt")
    reqs = receiver.got("/flaky")
    assert [r["status"] for r in reqs] == [500, 503, 200]
    assert {r["headers"]["x-coffer-delivery"] for r in reqs} == {eid}
    for r in reqs:
        verify_signature(r)
    # delivered: no further attempt. A later event to the same hook arrives after
    # anything still queued for it, so once it is there the first one is done.
    sentinel = emit(dev_server, "test.flaky.sentinel")
    wait_until(lambda: any(e["id"] == sentinel for e in receiver.events("/flaky")), 10, what="the sentinel")
    assert len([r for r in receiver.got("/flaky") if r["headers"]["x-coffer-delivery"] == eid]) == 3


def test_webhook_delivery_survives_kill_9(sqlite_server, receiver):
    srv = sqlite_server()
    token = srv.init_unseal()
    receiver.default = 500  # down
    r = srv.raw("PUT", "/v1/sys/notify/webhooks/durable", {"url": receiver.url("/durable"), "secret": SECRET},
                token=token)
    assert r.status == 204, r
    r = srv.raw("POST", "/v1/sys/events/test", {"type": "test.durable", "reason": "restart"}, token=token)
    assert r.status == 200, r
    eid = r.json()["data"]["id"]
    wait_until(lambda: receiver.got("/durable"), 10, what="the first (failing) attempt")
    srv.kill9()
    receiver.default = 200  # back up
    srv.start()
    srv.unseal(srv.keys[:3])
    wait_until(lambda: receiver.got("/durable", 200), 30, interval=0.1, what="delivery after the restart")
    ok = receiver.got("/durable", 200)[0]
    assert ok["headers"]["x-coffer-delivery"] == eid
    assert json.loads(ok["body"])["reason"] == "restart"
    verify_signature(ok)
    # the webhook config (with its secret) survived too
    data = srv.raw("GET", "/v1/sys/notify/webhooks/durable", token=token).json()["data"]
    assert data["has_secret"] is True


def test_webhook_kill_9_before_first_attempt(sqlite_server, receiver):
    """An event stored in the outbox whose delivery never started is sent after
    a restart: the outbox is written before events_emit returns."""
    srv = sqlite_server()
    token = srv.init_unseal()
    # A receiver that accepts the connection but never answers holds the
    # worker in its 5 s POST timeout; kill -9 lands inside it.
    hang = socket.socket()
    hang.bind((LOOPBACK, 0))
    hang.listen(16)
    port = hang.getsockname()[1]
    try:
        r = srv.raw("PUT", "/v1/sys/notify/webhooks/late", {"url": f"http://{LOOPBACK}:{port}/late"}, token=token)
        assert r.status == 204
        r = srv.raw("POST", "/v1/sys/events/test", {"type": "test.late"}, token=token)
        eid = r.json()["data"]["id"]
        conn, _ = hang.accept()  # the attempt is in flight
        srv.kill9()
        conn.close()
    finally:
        hang.close()
    # the same port now answers: rebinding a fresh receiver there
    rec = Receiver(port)
    try:
        srv.start()
        srv.unseal(srv.keys[:3])
        wait_until(lambda: rec.got("/late", 200), 20, interval=0.1, what="delivery after the restart")
        assert rec.got("/late", 200)[0]["headers"]["x-coffer-delivery"] == eid
    finally:
        rec.close()


def test_webhook_filters(dev_server, receiver):
    put_hook(dev_server, "types", url=receiver.url("/types"), types="test.a.*")
    put_hook(dev_server, "jobs", url=receiver.url("/jobs"), jobs=["j1"])
    put_hook(dev_server, "sev", url=receiver.url("/sev"), min_severity="warning")
    put_hook(dev_server, "crit", url=receiver.url("/crit"), types="test.a.*,test.b", jobs="j1,j2",
             min_severity="critical")
    e1 = emit(dev_server, "test.a.one", job="j2")                        # types
    e2 = emit(dev_server, "test.b", job="j1")                            # jobs
    e3 = emit(dev_server, "test.c", job="j9", severity="warning")        # sev
    e4 = emit(dev_server, "test.b", job="j2", severity="critical")       # sev, crit
    last = emit(dev_server, "test.a.last", job="j1", severity="critical")  # all four
    for p in ("/types", "/jobs", "/sev", "/crit"):
        wait_until(lambda p=p: any(e["id"] == last for e in receiver.events(p)), 10, what=f"{p} sentinel")
    ids = {p: [e["id"] for e in receiver.events(p)] for p in ("/types", "/jobs", "/sev", "/crit")}
    assert ids["/types"] == [e1, last]
    assert ids["/jobs"] == [e2, last]
    assert ids["/sev"] == [e3, e4, last]
    assert ids["/crit"] == [e4, last]


def test_webhook_compromise_bypasses_filters(dev_server, receiver):
    """secret.compromised reaches every webhook regardless of its filters. Only a
    real compromise emits it, so this needs the rotation manager's API."""
    put_hook(dev_server, "narrow", url=receiver.url("/narrow"), types="test.nothing", jobs="other",
             min_severity="critical")
    put_hook(dev_server, "all", url=receiver.url("/all"))
    r = dev_server.raw("PUT", "/v1/sys/rotation/jobs/evjob",
                       {"target": "kv", "mount": "secret", "path": "evapp", "template": "api-key",
                        "keys": {"key": "api-key"}})
    assert r.status in (200, 204), r
    r = dev_server.raw("POST", "/v1/sys/rotation/jobs/evjob/compromise", {"reason": "leaked in a log"})
    assert r.status in (200, 204), r

    def compromised(path):
        return [e for e in receiver.events(path) if e["type"] == "secret.compromised"]

    wait_until(lambda: compromised("/narrow"), 15, what="secret.compromised at the filtered webhook")
    ev = compromised("/narrow")[0]
    assert ev["force"] is True and ev["severity"] == "critical" and ev["job"] == "evjob"
    assert ev["reason"] == "leaked in a log"
    assert all(e["type"] == "secret.compromised" for e in receiver.events("/narrow"))


def test_webhook_slack_format(dev_server, receiver):
    put_hook(dev_server, "slack", url=receiver.url("/slack"), secret=SECRET, format="slack",
             min_severity="warning")
    emit(dev_server, "test.quiet")  # info: below min_severity
    emit(dev_server, "test.alert", job="api", severity="critical", reason="3 failures in a row")
    wait_until(lambda: receiver.got("/slack"), 10, what="the slack alert")
    reqs = receiver.got("/slack")
    assert len(reqs) == 1
    body = json.loads(reqs[0]["body"])
    assert list(body) == ["text"]
    text = body["text"]
    assert "test.alert" in text and "critical" in text and "api" in text and "3 failures in a row" in text
    assert reqs[0]["headers"]["x-coffer-event"] == "test.alert"
    verify_signature(reqs[0])


# ---------------------------------------------------------------------------
# server-sent events


def test_sse_filters_order_and_last_event_id(dev_server):
    s = SSE(dev_server.addr, dev_server.token, types="test.sse.*")
    assert s.status == 200
    a = emit(dev_server, "test.sse.one")
    emit(dev_server, "test.other")
    b = emit(dev_server, "test.sse.two")
    got = [s.next_event(), s.next_event()]
    s.close()
    assert [g[2]["id"] for g in got] == [a, b]
    assert [g[1] for g in got] == ["test.sse.one", "test.sse.two"]
    assert got[0][0] < got[1][0]
    assert got[0][2]["type"] == got[0][1]
    last_seen = got[1][0]
    # missed while disconnected
    c = emit(dev_server, "test.sse.three")
    emit(dev_server, "test.nope")
    d = emit(dev_server, "test.sse.four")
    s = SSE(dev_server.addr, dev_server.token, types="test.sse.*", last_event_id=last_seen)
    try:
        replay = [s.next_event(), s.next_event()]
        assert [r[2]["id"] for r in replay] == [c, d]
        assert all(r[0] > last_seen for r in replay)
        e = emit(dev_server, "test.sse.five")  # then live
        assert s.next_event()[2]["id"] == e
    finally:
        s.close()
    # a fresh connection replays nothing
    s = SSE(dev_server.addr, dev_server.token, types="test.sse.*")
    try:
        f = emit(dev_server, "test.sse.six")
        assert s.next_event()[2]["id"] == f
    finally:
        s.close()
    # Last-Event-ID 0 replays everything retained (filters applied)
    s = SSE(dev_server.addr, dev_server.token, types="test.sse.one", last_event_id=0)
    try:
        assert s.next_event()[2]["id"] == a
    finally:
        s.close()


def test_sse_keepalive(server_factory):
    token = "root-" + os.urandom(8).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}"], name="ka",
                         extra_env={"COFFER_EVENTS_KEEPALIVE": "1"})
    s = SSE(srv.addr, token)
    try:
        deadline = time.monotonic() + 10
        while ": keepalive" not in s.comments and time.monotonic() < deadline:
            line = s.resp.readline().decode().strip()
            if line.startswith(":"):
                s.comments.append(line)
        assert ": keepalive" in s.comments
    finally:
        s.close()


def test_sse_idle_subscribers_do_not_starve_requests(dev_server):
    subs = [SSE(dev_server.addr, dev_server.token, types="test.many") for _ in range(50)]
    try:
        assert all(s.status == 200 for s in subs)
        t0 = time.monotonic()
        for i in range(100):
            r = dev_server.raw("GET", "/v1/sys/health")
            assert r.status == 200
        elapsed = time.monotonic() - t0
        assert elapsed < 10, f"100 requests took {elapsed:.1f}s beside 50 idle subscribers"
        eid = emit(dev_server, "test.many")
        for s in subs:
            assert s.next_event()[2]["id"] == eid
    finally:
        for s in subs:
            s.close()


def test_sse_slow_subscriber_is_dropped(dev_server):
    """A subscriber that stops reading never blocks emitters: once its queue
    passes the bound its stream ends; others keep receiving."""
    host, port = dev_server.addr.replace("http://", "").split(":")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((host, int(port)))
    slow.sendall(f"GET /v1/sys/events/subscribe?types=test.flood HTTP/1.1\r\nHost: x\r\n"
                 f"X-Vault-Token: {dev_server.token}\r\n\r\n".encode())
    fast = SSE(dev_server.addr, dev_server.token, types="test.flood")
    try:
        reason = "x" * 60000
        t0 = time.monotonic()
        last = None
        for i in range(120):  # ~7 MB: past the 1 MiB queue plus socket buffers
            last = emit(dev_server, "test.flood", reason=reason)
            fast_ev = fast.next_event()
            assert fast_ev[2]["id"] == last
        assert time.monotonic() - t0 < 60
        # the slow one's stream has ended: draining it reaches the last chunk
        slow.settimeout(10)
        total, tail = 0, b""
        while not tail.endswith(b"\r\n0\r\n\r\n"):
            chunk = slow.recv(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            tail = (tail + chunk)[-16:]
        assert total < 120 * 60000, "the slow subscriber got everything: it was never dropped"
    finally:
        slow.close()
        fast.close()


def test_sse_stream_ends_on_seal(dev_server):
    s = SSE(dev_server.addr, dev_server.token)
    try:
        assert dev_server.raw("PUT", "/v1/sys/seal").status == 204
        assert s.next_event(timeout=10) is None
    finally:
        s.close()


# ---------------------------------------------------------------------------
# CLI


def test_cli_notify_webhook(dev_server, run_cli, receiver):
    url = receiver.url("/cli")
    r = run_cli("notify", "webhook", "write", "cli", f"url={url}", "secret=-", "types=test.cli.*,secret.*",
                "jobs=a,b", "min_severity=warning", "format=slack",
                addr=dev_server.addr, token=dev_server.token, input=SECRET)
    assert r.returncode == 0, r.stderr
    assert "Success" in r.stdout
    r = run_cli("notify", "webhook", "read", "cli", addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout and "has_secret" in r.stdout and "slack" in r.stdout
    r = run_cli("--format=json", "notify", "webhook", "read", "cli", addr=dev_server.addr, token=dev_server.token)
    data = json.loads(r.stdout)["data"]
    assert data["types"] == ["test.cli.*", "secret.*"] and data["jobs"] == ["a", "b"] and data["has_secret"]
    r = run_cli("notify", "webhook", "list", addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 0 and "cli" in r.stdout
    emit(dev_server, "test.cli.alert", job="a", severity="critical", reason="via cli")
    wait_until(lambda: receiver.got("/cli"), 10, what="the delivery")
    verify_signature(receiver.got("/cli")[0])
    r = run_cli("notify", "webhook", "write", "bad", "url=ftp://x", addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 2 and "url" in r.stderr
    r = run_cli("notify", "webhook", "delete", "cli", addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 0
    r = run_cli("notify", "webhook", "read", "cli", addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 2


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_cli_events_follows_the_stream(dev_server, tmp_path, fmt):
    env = dict(os.environ, HOME=str(tmp_path), COFFER_ADDR=dev_server.addr, COFFER_TOKEN=dev_server.token)
    proc = subprocess.Popen([str(coffer_bin()), f"--format={fmt}", "events", "--types=test.cli.*"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        # the subscription is live once an event emitted now reaches it
        def got_one():
            emit(dev_server, "test.cli.ping", job="api", reason="hello")
            return lines

        wait_until(got_one, 10, interval=0.3, what="the first event line")
        emit(dev_server, "test.other")
        emit(dev_server, "test.cli.pong", severity="warning")
        wait_until(lambda: any("pong" in line for line in lines), 10, what="the second event line")
        assert not any("test.other" in line for line in lines)
        if fmt == "json":
            events = [json.loads(line) for line in lines]
            assert events[0]["type"] == "test.cli.ping" and events[0]["reason"] == "hello"
            assert events[-1]["type"] == "test.cli.pong" and events[-1]["severity"] == "warning"
        else:
            assert "[info] test.cli.ping job=api: hello" in lines[0]
            assert "[warning] test.cli.pong" in lines[-1]
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_cli_events_bad_types(dev_server, run_cli):
    r = run_cli("events", "--types=a[b]", addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 2 and "--types" in r.stderr


# ---------------------------------------------------------------------------
# real producers: the expiration manager and the rotation manager


def test_sse_lease_events(dev_server, pg, pg_db):
    from dblib import DbEngine

    eng = DbEngine(dev_server.server, dev_server.token, pg, db=pg_db)
    eng.enable()
    eng.configure()
    eng.create_role("evrole", default_ttl=3600)
    s = SSE(dev_server.addr, dev_server.token, types="lease.*")
    try:
        c = eng.creds("evrole")
        r = dev_server.raw("PUT", "/v1/sys/leases/revoke", {"lease_id": c.lease_id})
        assert r.status == 204, r
        _, typ, ev = s.next_event(timeout=15)
        assert typ == "lease.revoked" and ev["type"] == "lease.revoked"
        assert ev["path"] == c.lease_id and ev["severity"] == "info"
        assert c.password not in json.dumps(ev)  # never a secret value
    finally:
        s.close()


def test_sse_rotation_events(dev_server):
    s = SSE(dev_server.addr, dev_server.token, types="rotation.*")
    try:
        r = dev_server.raw("PUT", "/v1/sys/rotation/jobs/sse",
                           {"target": "kv", "mount": "secret", "path": "sseapp", "template": "api-key",
                            "keys": {"key": "api-key"}})
        assert r.status in (200, 204), r
        r = dev_server.raw("POST", "/v1/sys/rotation/jobs/sse/rotate", {"reason": "sse test"})
        assert r.status in (200, 204), r
        seen = []
        deadline = time.monotonic() + 15
        while "rotation.completed" not in [t for _, t, _ in seen] and time.monotonic() < deadline:
            seen.append(s.next_event(timeout=15))
        types = [t for _, t, _ in seen]
        assert "rotation.completed" in types, types
        ids = [i for i, _, _ in seen]
        assert ids == sorted(ids), "events arrive in sequence order"
        done = [e for _, t, e in seen if t == "rotation.completed"][0]
        assert done["job"] == "sse"
        secret = dev_server.client.secrets.kv.v2.read_secret_version("sseapp")["data"]["data"]["key"]
        assert secret not in json.dumps([e for _, _, e in seen])
    finally:
        s.close()
