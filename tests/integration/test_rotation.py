"""Rotation manager (docs/internals/rotation.md): KV jobs with templates
and generators, grace and verification, schedules, adoption tracking, compromise,
history, bad input and capabilities, against the real binary with real clients.
Crash safety is in test_rotation_crash.py, transit and database targets in
test_rotation_targets.py."""

import base64
import json
import re
import time
import uuid

import pytest

from cofferlib import wait_until
from rotlib import (Receiver, add_webhook, job, job_put, kv_meta, kv_read, ok, rotate,
                    verify)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def seed(dev, path, data):
    ok(dev.raw("POST", f"/v1/secret/data/{path}", {"data": data}))


# ---------------------------------------------------------------------------
# KV, api-key template: rotate, grace, verify, revoke


def test_api_key_template_grace_and_verify(dev_server):
    dev = dev_server
    seed(dev, "app/api", {"key": "sk_old", "owner": "team-a"})
    st = job_put(dev, "api", {"template": "api-key", "mount": "secret/", "path": "app/api",
                              "keys": {"key": {}}, "grace": "3s"})["data"]
    assert st["period"] == "90d" and st["grace"] == "3s" and st["target"] == "kv"
    assert st["current_version"] == 1 and st["state"] == "idle"

    out = rotate(dev, "api", reason="quarterly")
    assert out == {"version": 2, "previous_version": 1}
    new = ok(kv_read(dev, "app/api"))["data"]["data"]
    assert re.fullmatch(r"sk_[0-9a-f]{64}", new["key"]), new
    assert new["owner"] == "team-a"  # fields not named in keys are carried over

    st = job(dev, "api")
    assert st["state"] == "grace" and st["previous_version"] == 1 and st["grace_ends"]
    # during grace: both versions read, verify knows both
    assert ok(kv_read(dev, "app/api", version=1))["data"]["data"]["key"] == "sk_old"
    assert verify(dev, "api", new["key"]) == {"valid": True, "state": "current", "version": 2,
                                              "key": "key"}
    assert verify(dev, "api", "sk_old")["state"] == "previous"
    assert verify(dev, "api", "sk_nope")["valid"] is False

    # after grace: the old data is destroyed and no longer verifies
    wait_until(lambda: kv_meta(dev, "app/api")["versions"]["1"]["destroyed"], 10,
               what="version 1 destroyed at grace end")
    assert verify(dev, "api", "sk_old") == {"valid": False, "state": "invalid", "version": None,
                                            "key": None}
    assert verify(dev, "api", new["key"])["state"] == "current"
    assert kv_read(dev, "app/api", version=1).status == 404
    st = wait_until(lambda: (s := job(dev, "api"))["state"] == "idle" and s, 5, what="idle")
    assert st["previous_version"] is None and st["grace_ends"] is None

    hist = ok(dev.raw("GET", "/v1/sys/rotation/jobs/api/history"))["data"]["rotations"]
    assert hist[0]["version"] == 2 and hist[0]["trigger"] == "manual"
    assert hist[0]["outcome"] == "success" and hist[0]["error"] is None
    # no answer carries a secret value
    for path in ("/v1/sys/rotation/jobs/api", "/v1/sys/rotation/jobs/api/history"):
        assert new["key"] not in dev.raw("GET", path).text


def test_period_rotates_by_itself(dev_server):
    dev = dev_server
    seed(dev, "svc", {"token": "t0", "url": "https://db"})
    job_put(dev, "sess", {"target": "kv", "mount": "secret", "path": "svc",
                          "keys": {"token": "hex"}, "period": "2s", "grace": 0})
    t0 = time.monotonic()
    wait_until(lambda: kv_meta(dev, "svc")["current_version"] >= 3, 7,
               what="two scheduled rotations in 7 seconds")
    assert time.monotonic() - t0 < 7
    data = ok(kv_read(dev, "svc"))["data"]["data"]
    assert data["url"] == "https://db" and re.fullmatch(r"[0-9a-f]{64}", data["token"])
    hist = ok(dev.raw("GET", "/v1/sys/rotation/jobs/sess/history"))["data"]["rotations"]
    assert len(hist) >= 2 and all(h["trigger"] == "schedule" for h in hist)
    # grace 0: the previous version is destroyed at once
    meta = kv_meta(dev, "svc")
    cur = meta["current_version"]
    assert all(v["destroyed"] for k, v in meta["versions"].items() if int(k) < cur - 1)


def test_generators_and_first_version(dev_server):
    """A secret lacking the named keys gets its first version when the job is created."""
    dev = dev_server
    keys = {
        "pw": {"generator": "password", "length": 40, "symbols": False, "exclude": "lI10O"},
        "hx": {"generator": "hex", "bytes": 16},
        "b64": {"generator": "base64", "bytes": 24, "url_safe": True},
        "ak": "api-key",
        "id": "uuid",
        "ed": "ed25519",
        "ec": "ecdsa-p256",
        "rsa": "rsa-2048",
    }
    st = job_put(dev, "gens", {"target": "kv", "mount": "secret", "path": "gens", "keys": keys})
    assert st["data"]["current_version"] == 1
    d = ok(kv_read(dev, "gens"))["data"]["data"]
    assert len(d["pw"]) == 40 and re.fullmatch(r"[A-Za-z0-9]+", d["pw"])
    assert not set("lI10O") & set(d["pw"])
    assert re.fullmatch(r"[0-9a-f]{32}", d["hx"])
    assert len(base64.urlsafe_b64decode(d["b64"] + "=" * (-len(d["b64"]) % 4))) == 24
    assert re.fullmatch(r"sk_[0-9a-f]{64}", d["ak"])
    assert uuid.UUID(d["id"]).version == 4
    for f in ("ed", "ec", "rsa"):
        assert d[f].startswith("-----BEGIN PRIVATE KEY-----"), f
        assert d[f + "_public"].startswith("-----BEGIN PUBLIC KEY-----"), f
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from cryptography.hazmat.primitives.asymmetric import ed25519, ec, rsa
    assert isinstance(load_pem_private_key(d["ed"].encode(), None), ed25519.Ed25519PrivateKey)
    assert isinstance(load_pem_private_key(d["ec"].encode(), None), ec.EllipticCurvePrivateKey)
    k = load_pem_private_key(d["rsa"].encode(), None)
    assert isinstance(k, rsa.RSAPrivateKey) and k.key_size == 2048
    # a second rotation produces different values for every field
    rotate(dev, "gens")
    d2 = ok(kv_read(dev, "gens"))["data"]["data"]
    assert all(d2[f] != d[f] for f in keys)


def test_session_secret_template(dev_server):
    dev = dev_server
    st = job_put(dev, "sess", {"template": "session-secret", "mount": "secret", "path": "web",
                               "keys": {"secret": {}}})["data"]
    assert st["period"] == "24h" and st["grace"] in ("0", 0)
    d = ok(kv_read(dev, "web"))["data"]["data"]
    assert len(base64.b64decode(d["secret"])) == 32


def test_one_previous_version_at_a_time(dev_server):
    dev = dev_server
    seed(dev, "one", {"k": "v1"})
    job_put(dev, "one", {"target": "kv", "mount": "secret", "path": "one", "keys": {"k": "hex"},
                         "grace": "1h"})
    rotate(dev, "one")
    assert rotate(dev, "one") == {"version": 3, "previous_version": 2}
    meta = kv_meta(dev, "one")
    assert meta["versions"]["1"]["destroyed"] is True
    assert meta["versions"]["2"]["destroyed"] is False
    assert verify(dev, "one", "v1")["valid"] is False


def test_list_delete_ends_grace(dev_server):
    dev = dev_server
    seed(dev, "del", {"k": "old"})
    job_put(dev, "del", {"target": "kv", "mount": "secret", "path": "del", "keys": {"k": "hex"},
                         "grace": "1h"})
    assert ok(dev.raw("LIST", "/v1/sys/rotation/jobs"))["data"]["keys"] == ["del"]
    rotate(dev, "del")
    assert verify(dev, "del", "old")["state"] == "previous"
    ok(dev.raw("DELETE", "/v1/sys/rotation/jobs/del"))
    assert kv_meta(dev, "del")["versions"]["1"]["destroyed"] is True
    assert ok(kv_read(dev, "del"))["data"]["metadata"]["version"] == 2  # the secret stays
    assert dev.raw("POST", "/v1/sys/rotation/verify/del", {"value": "old"}).status == 404
    assert dev.raw("GET", "/v1/sys/rotation/jobs/del").status == 404
    assert dev.raw("LIST", "/v1/sys/rotation/jobs").status == 404


def test_schedule_next_rotation_and_update(dev_server):
    dev = dev_server
    st = job_put(dev, "cr", {"target": "kv", "mount": "secret", "path": "cr",
                             "keys": {"k": "uuid"}, "schedule": "0 3 * * SUN"})["data"]
    nxt = st["next_rotation"]
    assert re.match(r"\d{4}-\d\d-\d\dT03:00:00(\.0+)?Z$", nxt), nxt
    # update: period replaces schedule; jitter is added to next_rotation
    st = job_put(dev, "cr", {"period": "1h", "jitter": "10m"})["data"]
    assert "schedule" not in st and st["period"] == "1h" and st["jitter"] == "10m"


# ---------------------------------------------------------------------------
# bad input and capabilities


@pytest.mark.parametrize("body,needle", [
    ({"template": "nope", "mount": "secret", "path": "x", "keys": {"k": {}}}, "unknown template"),
    ({"target": "ftp", "mount": "secret", "path": "x", "keys": {"k": "hex"}}, "unknown target"),
    ({"target": "sealing-key", "mount": "secret", "path": "x"}, "not supported"),
    ({"target": "pki", "mount": "secret", "path": "x"}, "missing role"),
    ({"template": "tls-certificate", "mount": "secret", "path": "x", "role": "r",
      "common_name": "a.example.com"}, "is not a PKI mount"),
    ({"target": "kv", "mount": "secret", "path": "x", "keys": {"k": "md5"}}, "unknown generator"),
    ({"target": "kv", "mount": "secret", "path": "x", "keys": {"k": "hex"},
      "schedule": "0 3 32 * *"}, "day-of-month"),
    ({"target": "kv", "mount": "secret", "path": "x", "keys": {"k": "hex"},
      "schedule": "61 * * * *"}, "minute"),
    ({"target": "kv", "mount": "secret", "path": "x", "keys": {"k": "hex"},
      "schedule": "@daily", "period": "1h"}, "schedule or period"),
    ({"target": "kv", "mount": "nomount", "path": "x", "keys": {"k": "hex"}}, "nomount"),
    ({"target": "kv", "mount": "secret", "path": "x"}, "keys"),
    ({"target": "kv", "mount": "secret", "path": "x", "keys": {"k": "hex"}, "period": "0"},
     "period"),
    ({"target": "kv", "mount": "secret", "path": "x", "keys": {"k": {"generator": "hex",
                                                                      "bytes": 0}}}, "bytes"),
    ({"target": "kv", "mount": "secret", "path": "x", "keys": {"k": "hex"}, "colour": 1},
     "unknown field"),
])
def test_bad_input_is_400(dev_server, body, needle):
    resp = dev_server.raw("POST", "/v1/sys/rotation/jobs/bad", body)
    assert resp.status == 400, resp.text
    assert needle in " ".join(resp.errors()), resp.errors()
    assert dev_server.raw("GET", "/v1/sys/rotation/jobs/bad").status == 404


def test_unknown_job_is_404(dev_server):
    for method, path in (("GET", "jobs/none"), ("POST", "jobs/none/rotate"),
                         ("POST", "jobs/none/compromise"), ("GET", "jobs/none/history"),
                         ("POST", "verify/none")):
        body = {"value": "x"} if path.startswith("verify") else {}
        assert dev_server.raw(method, f"/v1/sys/rotation/{path}", body).status == 404, path


def token_with(dev, policy_hcl, name):
    ok(dev.raw("PUT", f"/v1/sys/policies/acl/{name}", {"policy": policy_hcl}))
    t = ok(dev.raw("POST", "/v1/auth/token/create", {"policies": [name]}))
    return t["auth"]["client_token"]


def test_capabilities(dev_server):
    dev = dev_server
    seed(dev, "cap", {"k": "v"})
    reader = token_with(dev, 'path "sys/rotation/jobs/cap" { capabilities = ["read"] }\n'
                             'path "sys/rotation/verify/cap" { capabilities = ["update"] }\n',
                        "rot-reader")
    admin = token_with(dev, 'path "sys/rotation/jobs/*" { capabilities = '
                            '["create","read","update","delete","list"] }\n'
                            'path "sys/rotation/jobs" { capabilities = ["list"] }\n',
                       "rot-admin")
    body = {"target": "kv", "mount": "secret", "path": "cap", "keys": {"k": "hex"}}
    assert dev.raw("POST", "/v1/sys/rotation/jobs/cap", body, token=reader).status == 403
    assert dev.raw("POST", "/v1/sys/rotation/jobs/cap", body, token=admin).status == 200
    assert dev.raw("GET", "/v1/sys/rotation/jobs/cap", token=reader).status == 200
    assert dev.raw("LIST", "/v1/sys/rotation/jobs", token=reader).status == 403
    assert dev.raw("LIST", "/v1/sys/rotation/jobs", token=admin).status == 200
    for sub in ("rotate", "compromise", "ack"):
        assert dev.raw("POST", f"/v1/sys/rotation/jobs/cap/{sub}", {"version": 1},
                       token=reader).status == 403, sub
    assert dev.raw("POST", "/v1/sys/rotation/jobs/cap/rotate", {}, token=admin).status == 200
    # the admin may rotate, but verify needs update on sys/rotation/verify/cap
    assert dev.raw("POST", "/v1/sys/rotation/verify/cap", {"value": "v"},
                   token=admin).status == 403
    assert dev.raw("POST", "/v1/sys/rotation/verify/cap", {"value": "v"},
                   token=reader).status == 200
    assert dev.raw("DELETE", "/v1/sys/rotation/jobs/cap", token=reader).status == 403
    assert dev.raw("DELETE", "/v1/sys/rotation/jobs/cap", token=admin).status == 204


def test_internal_requests_cannot_be_forged_over_http(dev_server, tmp_path):
    """The `internal` flag of struct request is C-only: nothing an HTTP client sends
    turns it on; and the server's own requests are audited as coffer-rotation."""
    dev = dev_server
    seed(dev, "forge", {"k": "v"})
    for hdrs in ({}, {"X-Coffer-Internal": "true", "X-Coffer-Consumer": "coffer-rotation"}):
        for path in ("/v1/secret/data/forge?internal=true", "/v1/secret/data/forge"):
            r = dev.raw("GET", path, token=None, headers=hdrs)
            assert r.status == 403, (path, hdrs, r.text)
            r = dev.raw("POST", path, {"data": {"k": "x"}, "internal": True}, token=None,
                        headers=hdrs)
            assert r.status == 403, (path, hdrs, r.text)
    log = tmp_path / "audit.log"
    ok(dev.raw("PUT", "/v1/sys/audit/file", {"type": "file",
                                              "options": {"file_path": str(log)}}))
    job_put(dev, "forge", {"target": "kv", "mount": "secret", "path": "forge",
                           "keys": {"k": "hex"}})
    rotate(dev, "forge")
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    internal = [e for e in entries if e.get("auth", {}).get("display_name") == "coffer-rotation"]
    assert any(e["request"]["path"] == "secret/data/forge" and e["request"]["operation"] ==
               "update" for e in internal), "the rotation's KV write is not audited"
    assert all("accessor" not in e.get("auth", {}) for e in internal)


# ---------------------------------------------------------------------------
# adoption


def consumer_read(dev, path, who):
    r = kv_read(dev, path, headers={"X-Coffer-Consumer": who})
    assert r.status == 200, r.text
    return r.json()["data"]["metadata"]["version"]


def adoption(dev, name):
    st = job(dev, name)
    return st["adoption_percent"], {c["consumer"].rsplit("/", 2)[-2] + "/" +
                                    c["consumer"].rsplit("/", 1)[-1]: c for c in st["consumers"]}


def test_adoption_percent_and_completed(dev_server, receiver):
    dev = dev_server
    add_webhook(dev, receiver)
    seed(dev, "adopt", {"k": "v1"})
    job_put(dev, "adopt", {"target": "kv", "mount": "secret", "path": "adopt",
                           "keys": {"k": "hex"}, "grace": "1h"})
    assert job(dev, "adopt")["adoption_percent"] is None
    consumer_read(dev, "adopt", "billing/a")
    consumer_read(dev, "adopt", "billing/b")
    # metadata reads do not count
    ok(dev.raw("GET", "/v1/secret/metadata/adopt", headers={"X-Coffer-Consumer": "meta/x"}))
    pct, cons = adoption(dev, "adopt")
    assert pct == 100 and set(cons) == {"billing/a", "billing/b"}
    rotate(dev, "adopt")
    assert job(dev, "adopt")["adoption_percent"] == 0
    consumer_read(dev, "adopt", "billing/a")
    pct, cons = adoption(dev, "adopt")
    assert pct == 50
    assert cons["billing/a"]["adopted"] is True and cons["billing/a"]["version"] == 2
    assert cons["billing/b"]["adopted"] is False and cons["billing/b"]["version"] == 1
    consumer_read(dev, "adopt", "billing/b")
    assert adoption(dev, "adopt")[0] == 100
    ev = receiver.wait("adoption.completed", "adopt")[0]
    assert ev["version"] == 2 and ev["severity"] == "info"
    # without revoke_when_adopted the previous version stays for the grace
    assert kv_meta(dev, "adopt")["versions"]["1"]["destroyed"] is False


def test_revoke_when_adopted(dev_server, receiver):
    dev = dev_server
    add_webhook(dev, receiver)
    seed(dev, "early", {"k": "v1"})
    job_put(dev, "early", {"target": "kv", "mount": "secret", "path": "early",
                           "keys": {"k": "hex"}, "grace": "1h", "revoke_when_adopted": True})
    consumer_read(dev, "early", "api/1")
    consumer_read(dev, "early", "api/2")
    rotate(dev, "early")
    consumer_read(dev, "early", "api/1")
    # at 50% nothing is revoked (best effort: the scheduler acts within ms; no
    # blind sleep for a negative check)
    assert job(dev, "early")["adoption_percent"] == 50
    assert kv_meta(dev, "early")["versions"]["1"]["destroyed"] is False
    consumer_read(dev, "early", "api/2")
    wait_until(lambda: kv_meta(dev, "early")["versions"]["1"]["destroyed"], 5,
               what="previous version revoked on full adoption, before grace end")
    st = job(dev, "early")
    assert st["previous_version"] is None and st["state"] == "idle"
    assert receiver.wait("rotation.revoked", "early")[0]["version"] == 1


def test_ack_counts_as_adoption(dev_server):
    dev = dev_server
    seed(dev, "ack", {"k": "v1"})
    job_put(dev, "ack", {"target": "kv", "mount": "secret", "path": "ack", "keys": {"k": "hex"},
                         "grace": "1h"})
    consumer_read(dev, "ack", "worker/1")
    rotate(dev, "ack")
    assert job(dev, "ack")["adoption_percent"] == 0
    ok(dev.raw("POST", "/v1/sys/rotation/jobs/ack/ack", {"version": 2, "consumer": "worker/1"}))
    assert job(dev, "ack")["adoption_percent"] == 100


def test_laggard_at_grace_end(dev_server, receiver):
    dev = dev_server
    add_webhook(dev, receiver)
    seed(dev, "lag", {"k": "v1"})
    job_put(dev, "lag", {"target": "kv", "mount": "secret", "path": "lag", "keys": {"k": "hex"},
                         "grace": "2s"})
    consumer_read(dev, "lag", "fast/1")
    consumer_read(dev, "lag", "slow/1")
    rotate(dev, "lag")
    consumer_read(dev, "lag", "fast/1")
    ev = receiver.wait("adoption.incomplete", "lag", timeout=10)[0]
    assert ev["severity"] == "warning"
    assert any("slow/1" in x for x in ev["laggards"]) and not any("fast/1" in x
                                                                   for x in ev["laggards"])
    wait_until(lambda: kv_meta(dev, "lag")["versions"]["1"]["destroyed"], 5,
               what="on_incomplete_adoption=revoke revokes at grace end")


def test_extend_on_incomplete_adoption(dev_server):
    dev = dev_server
    seed(dev, "ext", {"k": "v1"})
    job_put(dev, "ext", {"target": "kv", "mount": "secret", "path": "ext", "keys": {"k": "hex"},
                         "grace": "2s", "on_incomplete_adoption": "extend"})
    consumer_read(dev, "ext", "slow/1")
    rotate(dev, "ext")
    first = job(dev, "ext")["grace_ends"]
    wait_until(lambda: job(dev, "ext")["grace_ends"] not in (first, None), 6,
               what="grace extended once")
    assert kv_meta(dev, "ext")["versions"]["1"]["destroyed"] is False
    wait_until(lambda: kv_meta(dev, "ext")["versions"]["1"]["destroyed"], 6,
               what="revoked at the end of the extended grace")


# ---------------------------------------------------------------------------
# compromise


def test_compromise(dev_server, receiver, tmp_path):
    dev = dev_server
    add_webhook(dev, receiver, name="alerts", min_severity="critical", types=["rotation.*"])
    log = tmp_path / "audit.log"
    ok(dev.raw("PUT", "/v1/sys/audit/file", {"type": "file",
                                              "options": {"file_path": str(log)}}))
    seed(dev, "cmp", {"key": "sk_first", "other": "keep"})
    job_put(dev, "cmp", {"template": "api-key", "mount": "secret", "path": "cmp",
                         "keys": {"key": {}}, "grace": "1h"})
    rotate(dev, "cmp")
    leaked = ok(kv_read(dev, "cmp"))["data"]["data"]["key"]
    out = ok(dev.raw("POST", "/v1/sys/rotation/jobs/cmp/compromise",
                     {"reason": "key pasted in #general"}))["data"]
    assert out["version"] == 3 and out["previous_version"] is None
    assert verify(dev, "cmp", leaked)["valid"] is False
    assert verify(dev, "cmp", "sk_first")["valid"] is False
    cur = ok(kv_read(dev, "cmp"))["data"]["data"]
    assert cur["key"] != leaked and cur["other"] == "keep"
    assert verify(dev, "cmp", cur["key"])["state"] == "current"
    meta = kv_meta(dev, "cmp")
    assert meta["current_version"] == 3
    assert meta["versions"]["1"]["destroyed"] and meta["versions"]["2"]["destroyed"]
    st = job(dev, "cmp")
    assert st["previous_version"] is None and st["grace_ends"] is None
    hist = ok(dev.raw("GET", "/v1/sys/rotation/jobs/cmp/history"))["data"]["rotations"]
    assert hist[0]["trigger"] == "compromise" and hist[0]["version"] == 3
    # a critical event to every webhook regardless of its type filter, force: true
    ev = receiver.wait("secret.compromised", "cmp")[0]
    assert ev["force"] is True and ev["severity"] == "critical"
    assert ev["reason"] == "key pasted in #general"
    assert leaked not in json.dumps(receiver.events)
    # the audit record with the reason in clear text
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    rec = [e for e in recs if e.get("type") == "rotation.compromise"]
    assert rec and rec[0]["reason"] == "key pasted in #general" and rec[0]["job"] == "cmp"
    assert leaked not in log.read_text()


def test_events_of_a_rotation(dev_server, receiver):
    dev = dev_server
    add_webhook(dev, receiver)
    seed(dev, "evt", {"k": "v1"})
    job_put(dev, "evt", {"target": "kv", "mount": "secret", "path": "evt", "keys": {"k": "hex"},
                         "grace": "1s"})
    rotate(dev, "evt")
    new = ok(kv_read(dev, "evt"))["data"]["data"]["k"]
    started = receiver.wait("rotation.started", "evt")[0]
    done = receiver.wait("rotation.completed", "evt")[0]
    assert done["version"] == 2 and done["previous_version"] == 1
    assert done["mount"] in ("secret", "secret/") and done["path"] == "evt"
    assert done["severity"] == "info" and started["severity"] == "info"
    rev = receiver.wait("rotation.revoked", "evt", timeout=10)[0]
    assert rev["version"] == 1
    assert new not in json.dumps(receiver.events) and "v1" not in [e.get("k") for _, e in
                                                                  receiver.events]
    assert receiver.bad == 0


def test_sse_subscriber_sees_rotation_events_in_order(dev_server):
    import requests
    dev = dev_server
    seed(dev, "sse", {"k": "v1"})
    job_put(dev, "sse", {"target": "kv", "mount": "secret", "path": "sse", "keys": {"k": "hex"},
                         "grace": "1h"})
    url = f"{dev.addr}/v1/sys/events/subscribe?types=rotation.*"
    with requests.get(url, headers={"X-Vault-Token": dev.token}, stream=True, timeout=10) as r:
        assert r.status_code == 200, r.text
        rotate(dev, "sse")
        rotate(dev, "sse")
        seen = []
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                ev = json.loads(line[5:].strip())
                if ev.get("job") == "sse":
                    seen.append((ev["type"], ev.get("version")))
            if len([s for s in seen if s[0] == "rotation.completed"]) == 2:
                break
    types = [t for t, _ in seen]
    assert types.index("rotation.started") < types.index("rotation.completed")
    done = [v for t, v in seen if t == "rotation.completed"]
    assert done == [2, 3]
    # the second rotation revoked version 1 (one previous version at a time)
    assert ("rotation.revoked", 1) in seen and types.index("rotation.revoked") < len(types) - 1


def test_cli_rotation_commands(dev_server, run_cli):
    dev = dev_server
    seed(dev, "cli", {"key": "sk_cli_old", "keep": "x"})

    def cli(*args):
        return run_cli("rotation", *args, addr=dev.addr, token=dev.token)

    r = cli("create", "--template=api-key", "--mount=secret", "--path=cli", "--key=key",
            "--grace=1h", "clijob")
    assert r.returncode == 0, r.stderr
    assert "Success! Rotation job clijob written (current version 1)" in r.stdout
    r = cli("rotate", "--reason=cli", "clijob")
    assert r.returncode == 0 and "version 2 (previous version 1)" in r.stdout, r.stdout + r.stderr
    r = cli("status", "clijob")
    assert r.returncode == 0 and re.search(r"state\s+grace", r.stdout), r.stdout
    r = cli("--format=json", "status", "clijob") if False else cli("status", "--format=json",
                                                                   "clijob")
    assert json.loads(r.stdout)["data"]["current_version"] == 2
    r = cli("list")
    assert r.returncode == 0 and "clijob" in r.stdout.split()
    r = cli("compromise", "clijob")
    assert r.returncode == 2 and "--reason is required" in r.stderr
    r = cli("compromise", "--reason=leak", "clijob")
    assert r.returncode == 0 and "version 3 (no previous version is valid)" in r.stdout
    r = cli("history", "clijob")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["Version", "Time", "Trigger", "Outcome", "Error"]
    assert lines[2].split()[0] == "3" and "compromise" in lines[2]
    r = cli("create", "--target=kv", "--mount=secret", "--path=x", "--key=k=md5", "bad")
    assert r.returncode == 2 and "unknown generator" in r.stderr
    r = cli("delete", "clijob")
    assert r.returncode == 0
    r = cli("status", "clijob")
    assert r.returncode == 2 and "404" in r.stderr
    assert "sk_" not in r.stdout + r.stderr
