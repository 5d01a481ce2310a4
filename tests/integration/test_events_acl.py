"""Events filtered by what the subscriber's token may read (docs/internals/events.md
"Who sees an event"): secret.updated for every KV change, rotation events and
secret.compromised reach only tokens with `read` on the secret's path, over the
server-sent event stream and over webhooks with a token; a policy change takes
effect on the next event; a revoked token's stream ends; no event carries a
value; Last-Event-ID replay after a restart is filtered the same way.

Negative checks ("B saw nothing about a") end with a marker write that B may
read: events arrive in sequence order, so once B has the marker, anything about
a would have arrived before it. Every wait is a condition with a deadline."""

import http.client
import json
import os
import socket
import threading

import pytest

from cofferlib import wait_until
from test_events import Receiver, put_hook

PLANTED = "planted-" + os.urandom(12).hex()


class Stream:
    """An SSE subscription read by a thread: .events (dicts, in order), .raw
    (every byte received), .ended (the server closed the stream)."""

    def __init__(self, addr, token, last_event_id=None, types=None):
        host, port = addr.replace("http://", "").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {"X-Vault-Token": token}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        path = "/v1/sys/events/subscribe" + (f"?types={types}" if types else "")
        self.conn.request("GET", path, headers=headers)
        self.sock = self.conn.sock  # close() shuts it down: unblocks the reader thread
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.lock = threading.Lock()
        self.events = []
        self.ids = []
        self.raw = b""
        self.ended = False
        if self.status == 200:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self):
        fields = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                with self.lock:
                    self.raw += line
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if "data" in fields:
                        with self.lock:
                            self.events.append(json.loads(fields["data"]))
                            self.ids.append(int(fields["id"]))
                    fields = {}
                    continue
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(":")
                fields[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError, AttributeError, http.client.HTTPException):  # closed under us
            pass
        self.ended = True

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def has(self, type_, path=None, **fields):
        for e in self.snapshot():
            if e["type"] == type_ and (path is None or e.get("path") == path) and all(
                    e.get(k) == v for k, v in fields.items()):
                return True
        return False

    def wait(self, type_, path=None, timeout=15, **fields):
        wait_until(lambda: self.has(type_, path, **fields), timeout, what=f"{type_} {path} {fields}")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def policy(dev, name, *prefixes, extra=""):
    rules = 'path "sys/events/subscribe" { capabilities = ["read"] }\n' + extra
    for p in prefixes:
        rules += f'path "secret/data/{p}/*" {{ capabilities = ["read"] }}\n'
    dev.client.sys.create_or_update_policy(name, rules)


def token_for(dev, *policies):
    return dev.client.auth.token.create(policies=list(policies))["auth"]["client_token"]


def two_tokens(dev):
    policy(dev, "reads-a", "a")
    policy(dev, "reads-b", "b")
    return token_for(dev, "reads-a"), token_for(dev, "reads-b")


def ok(r):
    assert r.status in (200, 204), r
    return r


def kv_put(dev, path, data):
    return ok(dev.raw("POST", f"/v1/secret/data/{path}", {"data": data}))


def paths(stream, type_="secret.updated"):
    return [e["path"] for e in stream.snapshot() if e["type"] == type_]


def test_secret_updated_reaches_only_readers(dev_server):
    dev = dev_server
    ta, tb = two_tokens(dev)
    sa, sb = Stream(dev.addr, ta), Stream(dev.addr, tb)
    try:
        assert sa.status == 200 and sb.status == 200
        kv_put(dev, "a/db", {"password": PLANTED})
        kv_put(dev, "b/db", {"password": PLANTED})
        ok(dev.raw("PATCH", "/v1/secret/data/a/db", {"data": {"user": PLANTED}},
                   headers={"Content-Type": "application/merge-patch+json"}))
        ok(dev.raw("DELETE", "/v1/secret/data/a/db"))
        ok(dev.raw("POST", "/v1/secret/undelete/a/db", {"versions": [2]}))
        ok(dev.raw("POST", "/v1/secret/delete/a/db", {"versions": [1]}))
        ok(dev.raw("POST", "/v1/secret/destroy/a/db", {"versions": [1, 2]}))
        ok(dev.raw("DELETE", "/v1/secret/metadata/a/db"))
        ok(dev.raw("DELETE", "/v1/secret/metadata/b/db"))
        kv_put(dev, "a/end", {"k": "v"})
        kv_put(dev, "b/end", {"k": "v"})
        sa.wait("secret.updated", "a/end")
        sb.wait("secret.updated", "b/end")

        ops = [(e["operation"], e.get("version")) for e in sa.snapshot()
               if e["type"] == "secret.updated" and e["path"] == "a/db"]
        assert ops == [("write", 1), ("patch", 2), ("delete", 2), ("undelete", 2), ("delete", 1),
                       ("destroy", 2), ("metadata-delete", 2)], ops
        assert set(paths(sa)) == {"a/db", "a/end"}
        assert set(paths(sb)) == {"b/db", "b/end"}
        destroy = [e for e in sa.snapshot() if e.get("operation") == "destroy"][0]
        assert destroy["versions"] == [1, 2] and destroy["mount"] == "secret/"
        # never a value, in any field of any frame
        assert PLANTED.encode() not in sa.raw and PLANTED.encode() not in sb.raw
        for e in sa.snapshot() + sb.snapshot():
            assert "data" not in e and "value" not in e
        # root sees both
        sr = Stream(dev.addr, dev.token, last_event_id=0)
        try:
            wait_until(lambda: {"a/end", "b/end"} <= set(paths(sr)), 15, what="root's replay")
        finally:
            sr.close()
    finally:
        sa.close()
        sb.close()


def test_kv1_writes_and_deletes_emit(dev_server):
    dev = dev_server
    ok(dev.raw("POST", "/v1/sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}}))
    dev.client.sys.create_or_update_policy(
        "v1", 'path "sys/events/subscribe" { capabilities = ["read"] }\n'
              'path "kv1/mine/*" { capabilities = ["read"] }')
    t = token_for(dev, "v1")
    s = Stream(dev.addr, t)
    try:
        ok(dev.raw("PUT", "/v1/kv1/other/x", {"v": PLANTED}))
        ok(dev.raw("PUT", "/v1/kv1/mine/x", {"v": PLANTED}))
        ok(dev.raw("DELETE", "/v1/kv1/mine/x"))
        s.wait("secret.updated", "mine/x", operation="delete")
        assert [(e["path"], e["operation"]) for e in s.snapshot()] == [("mine/x", "write"),
                                                                         ("mine/x", "delete")]
        assert s.snapshot()[0]["mount"] == "kv1/"
        assert PLANTED.encode() not in s.raw
    finally:
        s.close()


def test_rotation_events_only_for_the_job_path(dev_server, receiver):
    dev = dev_server
    ta, tb = two_tokens(dev)
    put_hook(dev, "hook-b", url=receiver.url("/b"), token=tb)
    put_hook(dev, "hook-a", url=receiver.url("/a"), token=ta)
    sa, sb = Stream(dev.addr, ta), Stream(dev.addr, tb)
    try:
        kv_put(dev, "a/rot", {"key": PLANTED})
        ok(dev.raw("PUT", "/v1/sys/rotation/jobs/rot-a",
                   {"target": "kv", "mount": "secret", "path": "a/rot", "template": "api-key",
                    "keys": {"key": "api-key"}}))
        ok(dev.raw("POST", "/v1/sys/rotation/jobs/rot-a/rotate", {"reason": "acl test"}))
        sa.wait("rotation.completed", "a/rot", timeout=20)
        ok(dev.raw("POST", "/v1/sys/rotation/jobs/rot-a/compromise", {"reason": "leaked"}))
        sa.wait("secret.compromised", "a/rot", timeout=20)
        # the rotation's own KV write is a secret.updated too
        assert sa.has("secret.updated", "a/rot", operation="write")
        kv_put(dev, "b/end", {"k": "v"})
        sb.wait("secret.updated", "b/end")
        assert [e["type"] for e in sb.snapshot()] == ["secret.updated"]
        assert paths(sb) == ["b/end"]

        # webhooks: the one with token A gets the job's events, the one with B nothing about a
        wait_until(lambda: any(e["type"] == "secret.compromised" for e in receiver.events("/a")), 20,
                   what="compromise at hook-a")
        wait_until(lambda: any(e.get("path") == "b/end" for e in receiver.events("/b")), 20,
                   what="the marker at hook-b")
        got_b = receiver.events("/b")
        assert [(e["type"], e["path"]) for e in got_b] == [("secret.updated", "b/end")], got_b
        current = dev.client.secrets.kv.v2.read_secret_version("a/rot")["data"]["data"]["key"]
        for req in receiver.got():
            assert PLANTED.encode() not in req["body"] and current.encode() not in req["body"]
        assert current.encode() not in sa.raw
    finally:
        sa.close()
        sb.close()


def test_webhook_token_rules(dev_server, receiver):
    dev = dev_server
    ta, _ = two_tokens(dev)
    dev.client.sys.create_or_update_policy(
        "hooks", 'path "sys/notify/webhooks/*" { capabilities = ["create", "read", "update"] }')
    maker = token_for(dev, "hooks")
    url = receiver.url("/x")
    # without a token every event would go out: sudo only
    r = dev.raw("PUT", "/v1/sys/notify/webhooks/mine", {"url": url}, token=maker)
    assert r.status == 403 and "sudo" in " ".join(r.errors())
    r = dev.raw("PUT", "/v1/sys/notify/webhooks/mine", {"url": url, "token": "hvs.nonsense"}, token=maker)
    assert r.status == 400 and "token" in " ".join(r.errors())
    ok(dev.raw("PUT", "/v1/sys/notify/webhooks/mine", {"url": url, "token": ta}, token=maker))
    data = dev.raw("GET", "/v1/sys/notify/webhooks/mine", token=maker).json()["data"]
    assert data["has_token"] is True and data["token_accessor"]
    assert ta not in json.dumps(data)
    # an update without token keeps it; removing it needs sudo
    ok(dev.raw("PUT", "/v1/sys/notify/webhooks/mine", {"url": url, "types": ["secret.*"]}, token=maker))
    assert dev.raw("GET", "/v1/sys/notify/webhooks/mine", token=maker).json()["data"]["has_token"] is True
    r = dev.raw("PUT", "/v1/sys/notify/webhooks/mine", {"url": url, "token": ""}, token=maker)
    assert r.status == 403
    kv_put(dev, "b/x", {"k": PLANTED})
    kv_put(dev, "a/x", {"k": PLANTED})
    wait_until(lambda: receiver.events("/x"), 15, what="delivery to the token's webhook")
    assert [e["path"] for e in receiver.events("/x")] == ["a/x"]
    # the token revoked: nothing more
    ok(dev.raw("POST", "/v1/auth/token/revoke", {"token": ta}))
    ok(dev.raw("PUT", "/v1/sys/notify/webhooks/all", {"url": receiver.url("/all")}))  # root: sudo
    kv_put(dev, "a/y", {"k": "v"})
    wait_until(lambda: any(e["path"] == "a/y" for e in receiver.events("/all")), 15, what="root hook")
    assert [e["path"] for e in receiver.events("/x")] == ["a/x"]


def test_policy_change_applies_to_open_stream(dev_server):
    dev = dev_server
    ta, _ = two_tokens(dev)
    s = Stream(dev.addr, ta)
    try:
        kv_put(dev, "a/1", {"k": "v"})
        s.wait("secret.updated", "a/1")
        policy(dev, "reads-a", "c")  # a removed, c added
        kv_put(dev, "a/2", {"k": "v"})
        kv_put(dev, "c/marker", {"k": "v"})
        s.wait("secret.updated", "c/marker")
        assert paths(s) == ["a/1", "c/marker"]
    finally:
        s.close()


def test_revoked_token_stream_ends(server_factory):
    token = "root-" + os.urandom(8).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}"], name="rev",
                         extra_env={"COFFER_EVENTS_KEEPALIVE": "1"})
    from cofferlib import Dev

    dev = Dev(srv, token)
    ta, tb = two_tokens(dev)
    sa, sb = Stream(dev.addr, ta), Stream(dev.addr, tb)
    try:
        ok(dev.raw("POST", "/v1/auth/token/revoke", {"token": ta}))
        # no event needed: the keepalive check finds the token gone
        wait_until(lambda: sa.ended, 15, what="the revoked token's stream to end")
        kv_put(dev, "b/after", {"k": "v"})
        sb.wait("secret.updated", "b/after")
        assert not sb.ended
        assert Stream(dev.addr, ta).status == 403
    finally:
        sa.close()
        sb.close()


def test_filtered_catch_up_after_restart(sqlite_server):
    srv = sqlite_server()
    root = srv.init_unseal()
    from cofferlib import Dev

    dev = Dev(srv, root)
    ok(dev.raw("POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}))
    ta, _ = two_tokens(dev)
    s = Stream(dev.addr, ta)
    try:
        kv_put(dev, "a/one", {"k": "v"})
        s.wait("secret.updated", "a/one")
        last = s.ids[-1]
    finally:
        s.close()
    kv_put(dev, "b/missed", {"k": PLANTED})
    kv_put(dev, "a/missed", {"k": PLANTED})
    srv.restart()
    srv.unseal(srv.keys[:3])
    dev = Dev(srv, root)  # a new port
    kv_put(dev, "a/after", {"k": "v"})
    s = Stream(dev.addr, ta, last_event_id=last)
    try:
        s.wait("secret.updated", "a/after")
        assert paths(s) == ["a/missed", "a/after"]
        assert PLANTED.encode() not in s.raw
    finally:
        s.close()
