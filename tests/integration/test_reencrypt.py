"""Barrier re-encryption (docs/internals/crypto.md): sys/rotate/reencrypt moves every stored
entry to the newest key term, survives kill -9, and sys/rotate/retire drops the old
terms once nothing uses them. Runs on SQLite and reads the raw file to check every
ciphertext's term prefix."""

import http.client
import json
import sqlite3
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

from cofferlib import wait_until

N = 20000
MOUNT = "bulk"
PLAIN_KEYS = {"core/seal-config"}  # written plain by the core, not through the barrier
OWN_KEYS = {"core/root-key", "core/keyring"}  # sealed by the root key, term 0


def write_many(srv, token, n):
    host, port = srv.addr.replace("http://", "").split(":")
    body = {}

    def worker(start):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for i in range(start, n, 16):
            payload = json.dumps({"value": f"v-{i}", "pad": "x" * (i % 50)})
            conn.request("PUT", f"/v1/{MOUNT}/e{i}", body=payload,
                         headers={"X-Vault-Token": token})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 204, (i, resp.status)
        conn.close()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(worker, range(16)))
    return body


def raw_terms(db_path):
    """{key: term} of every value in the SQLite file that goes through the barrier."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT key, value FROM kv").fetchall()
    finally:
        con.close()
    out = {}
    for key, value in rows:
        if key in PLAIN_KEYS or key in OWN_KEYS:
            continue
        assert len(value) >= 5 + 12 + 16, key
        out[key] = struct.unpack(">I", value[:4])[0]
    return out


def status(srv, token):
    resp = srv.raw("GET", "/v1/sys/rotate/reencrypt", token=token)
    assert resp.status == 200, resp.text
    return resp.json()["data"]


def test_reencrypt_resumes_after_kill_9_and_retires_old_term(sqlite_server):
    srv = sqlite_server()
    token = srv.init_unseal()
    client = srv.client(token)
    client.sys.enable_secrets_engine("kv", path=MOUNT)
    write_many(srv, token, N)

    client.sys.rotate_encryption_key()
    assert client.sys.get_encryption_key_status()["data"]["term"] == 2
    before = raw_terms(srv.db_path)
    assert sum(1 for t in before.values() if t == 1) >= N

    # retiring is refused while entries still use term 1
    resp = srv.raw("POST", "/v1/sys/rotate/retire", token=token)
    assert resp.status == 400
    assert "older than 2" in resp.errors()[0]

    # slow batches so the job can be killed midway
    resp = srv.raw("POST", "/v1/sys/rotate/reencrypt", {"batch_size": 200, "interval": "30ms"},
                   token=token)
    assert resp.status == 200 and resp.json()["data"]["running"] is True, resp.text
    wait_until(lambda: status(srv, token)["done"] >= 2000, 60, what="re-encryption progress")
    st = status(srv, token)
    assert st["state"] == "running" and st["done"] < st["total"], st
    srv.kill9()

    # part of the data is on term 2 now, part still on term 1
    mid = raw_terms(srv.db_path)
    assert any(t == 1 for t in mid.values()) and any(t == 2 for t in mid.values())

    srv.start()
    srv.unseal(srv.keys[:3])
    client = srv.client(token)

    # a concurrent reader sees no error while the resumed job runs
    errors = []
    stop = threading.Event()

    def reader():
        host, port = srv.addr.replace("http://", "").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        i = 0
        while not stop.is_set():
            conn.request("GET", f"/v1/{MOUNT}/e{i % N}", headers={"X-Vault-Token": token})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or json.loads(body)["data"]["value"] != f"v-{i % N}":
                errors.append((i, resp.status, body[:200]))
            i += 7
        conn.close()

    t = threading.Thread(target=reader)
    t.start()
    try:
        wait_until(lambda: status(srv, token)["state"] == "finished", 120,
                   what="the resumed re-encryption to finish")
    finally:
        stop.set()
        t.join()
    assert errors == []
    st = status(srv, token)
    assert st["resumed"] == 1 and st["errors"] == 0 and st["done"] == st["total"]

    after = raw_terms(srv.db_path)
    old = [k for k, term in after.items() if term != 2]
    assert old == [], old[:5]

    # every entry reads back identical
    for i in range(0, N, 1):
        if i % 97 == 0 or i < 50:
            assert client.read(f"{MOUNT}/e{i}")["data"] == {"value": f"v-{i}", "pad": "x" * (i % 50)}

    # retire the old term: the keyring keeps only term 2, reads still work
    resp = srv.raw("POST", "/v1/sys/rotate/retire", token=token)
    assert resp.json()["data"] == {"retired": 1, "oldest_term": 2}, resp.text
    assert client.read(f"{MOUNT}/e123")["data"]["value"] == "v-123"
    srv.kill9()
    srv.start()
    srv.unseal(srv.keys[:3])
    assert srv.client(token).read(f"{MOUNT}/e4567")["data"]["value"] == "v-4567"


def test_reencrypt_bad_input_and_permissions(dev_server):
    srv, client = dev_server.server, dev_server.client
    for body in ({"batch_size": 0}, {"batch_size": "many"}, {"interval": "soon"}):
        resp = dev_server.raw("POST", "/v1/sys/rotate/reencrypt", body)
        assert resp.status == 400, (body, resp.text)
    # a token without sudo on sys/rotate/* cannot start it
    client.sys.create_or_update_policy("rot", 'path "sys/rotate/*" { capabilities = ["update", "read"] }')
    tok = client.auth.token.create(policies=["rot"])["auth"]["client_token"]
    assert dev_server.raw("POST", "/v1/sys/rotate/reencrypt", token=tok).status == 403
    # nothing to do on a single term: finishes, and retire is a no-op
    assert dev_server.raw("POST", "/v1/sys/rotate/reencrypt").status == 200
    wait_until(lambda: status(srv, dev_server.token)["state"] == "finished", 30, what="job end")
    resp = dev_server.raw("POST", "/v1/sys/rotate/retire")
    assert resp.json()["data"]["retired"] == 0


def test_operator_reencrypt_cli(dev_server, run_cli):
    srv = dev_server
    r = run_cli("operator", "rotate", addr=srv.addr, token=srv.token)
    assert r.returncode == 0, r.stderr
    r = run_cli("operator", "reencrypt", addr=srv.addr, token=srv.token)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: status(srv.server, srv.token)["state"] == "finished", 30, what="job end")
    r = run_cli("--format=json", "operator", "reencrypt", "--status", addr=srv.addr, token=srv.token)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["data"]
    assert data["state"] == "finished" and data["target_term"] == 2 and data["rewrapped"] > 0
    r = run_cli("operator", "reencrypt", "--retire", addr=srv.addr, token=srv.token)
    assert r.returncode == 0, r.stderr
    assert "retired 1" in r.stdout
