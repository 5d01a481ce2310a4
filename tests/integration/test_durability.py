"""Durability on SQLite: every write answered 2xx survives `kill -9` and a restart
on the same file (sequential and concurrent writers); SIGTERM stops cleanly."""

import http.client
import json
import os
import threading
import time

import hvac

from cofferlib import raw_request, wait_until

MOUNT = "kv"


def prepare(srv):
    token = srv.init_unseal()
    srv.client(token).sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
    return token


def reopen(srv):
    srv.kill9()
    assert not srv.alive()
    srv.start()
    assert srv.raw("GET", "/v1/sys/health").status == 503, "a restarted server must come up sealed"
    srv.unseal(srv.keys[:3])
    return srv.client(srv.root_token)


def test_sequential_writes_survive_kill_9(sqlite_server):
    srv = sqlite_server()
    token = prepare(srv)
    kv = srv.client(token).secrets.kv.v2
    tag = os.urandom(4).hex()
    acked = {}
    for i in range(60):
        value = f"seq-{i}-{tag}"
        resp = kv.create_or_update_secret(f"seq/{i}", {"v": value, "i": i}, mount_point=MOUNT)
        assert resp["data"]["version"] == 1
        acked[f"seq/{i}"] = {"v": value, "i": i}
    # a few more versions of one key, and a soft delete
    for n in range(2, 6):
        kv.create_or_update_secret("seq/0", {"v": f"v{n}", "i": 0}, mount_point=MOUNT)
    kv.delete_secret_versions("seq/1", versions=[1], mount_point=MOUNT)

    root = reopen(srv)
    kv = root.secrets.kv.v2
    for path, data in acked.items():
        if path in ("seq/0", "seq/1"):
            continue
        assert kv.read_secret_version(path, mount_point=MOUNT)["data"]["data"] == data, path
    assert kv.read_secret_version("seq/0", mount_point=MOUNT)["data"]["metadata"]["version"] == 5
    assert kv.read_secret_version("seq/0", version=1, mount_point=MOUNT)["data"]["data"] == acked["seq/0"]
    meta = kv.read_secret_metadata("seq/1", mount_point=MOUNT)["data"]
    assert meta["versions"]["1"]["deletion_time"] != ""


def test_concurrent_writers_survive_kill_9(sqlite_server):
    srv = sqlite_server()
    token = prepare(srv)
    # keep every version so each acknowledged one can be read back
    srv.client(token).secrets.kv.v2.configure(max_versions=1000, mount_point=MOUNT)
    tag = os.urandom(4).hex()
    host, port = srv.addr.replace("http://", "").split(":")
    lock = threading.Lock()
    acked = []  # (path, version, value)
    attempted = {}  # path -> set of values sent
    kill_now = threading.Event()
    stop = threading.Event()

    def writer(w):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = 0
        try:
            while not stop.is_set() and n < 400:
                # each writer updates its own key and also creates fresh keys
                path = f"w{w}/shared" if n % 2 == 0 else f"w{w}/k{n}"
                value = f"{w}-{n}-{tag}"
                with lock:
                    attempted.setdefault(path, set()).add(value)
                body = ('{"data": {"v": "%s"}}' % value).encode()
                try:
                    conn.request("POST", f"/v1/{MOUNT}/data/{path}", body=body,
                                 headers={"X-Vault-Token": token, "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    payload = resp.read()
                except (OSError, http.client.HTTPException):
                    return  # the server is gone
                if 200 <= resp.status < 300:
                    version = json.loads(payload)["data"]["version"]
                    with lock:
                        acked.append((path, version, value))
                        if len(acked) >= 150:
                            kill_now.set()
                n += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    assert kill_now.wait(timeout=60), f"only {len(acked)} writes acknowledged"
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=20)
    with lock:
        acked_snapshot = list(acked)
    assert len(acked_snapshot) >= 150

    root = reopen(srv)
    kv = root.secrets.kv.v2
    for path, version, value in acked_snapshot:
        got = kv.read_secret_version(path, version=version, mount_point=MOUNT)["data"]
        assert got["data"] == {"v": value}, (path, version)
    # the newest version of every key is one of the values that were sent for it
    for path, values in attempted.items():
        try:
            current = kv.read_secret_version(path, mount_point=MOUNT)["data"]["data"]
        except hvac.exceptions.InvalidPath:
            assert not any(a[0] == path for a in acked_snapshot), f"{path} lost"
            continue
        assert current["v"] in values, path


def test_state_survives_kill_9(sqlite_server):
    srv = sqlite_server()
    token = prepare(srv)
    root = srv.client(token)
    root.sys.create_or_update_policy("reader", 'path "kv/data/*" { capabilities = ["read"] }')
    child = root.auth.token.create(policies=["reader"], ttl="1h")["auth"]
    root.sys.enable_secrets_engine("kv", path="extra", options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret("x", {"v": "1"}, mount_point=MOUNT)
    revoked = root.auth.token.create(policies=["reader"], ttl="1h")["auth"]["client_token"]
    root.auth.token.revoke(revoked)

    root = reopen(srv)
    assert "extra/" in root.sys.list_mounted_secrets_engines()["data"]
    assert 'path "kv/data/*"' in root.sys.read_policy("reader")["data"]["rules"]
    reader = srv.client(child["client_token"])
    assert reader.secrets.kv.v2.read_secret_version("x", mount_point=MOUNT)["data"]["data"] == {"v": "1"}
    assert srv.client(revoked).is_authenticated() is False


def test_sigterm_stops_cleanly(sqlite_server):
    srv = sqlite_server()
    token = prepare(srv)
    srv.client(token).secrets.kv.v2.create_or_update_secret("t", {"v": "1"}, mount_point=MOUNT)
    started = time.monotonic()
    assert srv.stop() == 0
    assert time.monotonic() - started < 10
    srv.start()
    srv.unseal(srv.keys[:3])
    kv = srv.client(token).secrets.kv.v2
    assert kv.read_secret_version("t", mount_point=MOUNT)["data"]["data"] == {"v": "1"}


def test_dev_server_sigterm(dev_server):
    assert dev_server.server.stop() == 0


def test_sigterm_while_requests_are_in_flight(sqlite_server):
    srv = sqlite_server()
    token = prepare(srv)
    errors = []
    stop = threading.Event()

    def load():
        i = 0
        while not stop.is_set():
            try:
                raw_request(srv.addr, "POST", f"/v1/{MOUNT}/data/load{i % 20}", {"data": {"i": i}}, token=token,
                            timeout=5)
            except OSError:
                return
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                return
            i += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: srv.raw("GET", f"/v1/{MOUNT}/data/load3", token=token).status == 200, timeout=10,
               what="load to start")
    status = srv.stop()
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert status == 0, f"exit status after SIGTERM under load: {status}"


def test_barrier_paths_read_each_others_values(sqlite_server):
    """The barrier seals with libsodium's AES-256-GCM where the CPU has AES-NI and
    with OpenSSL's elsewhere (COFFER_BARRIER_OPENSSL=1 forces that path in the
    test build): the stored format is one, so values written by either path are
    read by the other, keyring and root key included."""
    srv = sqlite_server()
    token = prepare(srv)
    kv = srv.client(token).secrets.kv.v2
    kv.create_or_update_secret("paths/a", {"v": "written-by-default"}, mount_point=MOUNT)

    srv.stop()
    srv.extra_env["COFFER_BARRIER_OPENSSL"] = "1"
    srv.args.append("--log-level=verbose")
    srv.start()
    srv.unseal(srv.keys[:3])
    assert "AES-256-GCM by OpenSSL" in srv.log_text().rsplit("==== start", 1)[1]
    kv = srv.client(srv.root_token).secrets.kv.v2
    assert kv.read_secret_version("paths/a", mount_point=MOUNT)["data"]["data"] == {"v": "written-by-default"}
    kv.create_or_update_secret("paths/b", {"v": "written-by-openssl"}, mount_point=MOUNT)
    srv.client(srv.root_token).sys.rotate_encryption_key()
    kv.create_or_update_secret("paths/c", {"v": "new-term-openssl"}, mount_point=MOUNT)

    srv.stop()
    del srv.extra_env["COFFER_BARRIER_OPENSSL"]
    srv.start()
    srv.unseal(srv.keys[:3])
    if "AES-256-GCM by libsodium" not in srv.log_text().rsplit("==== start", 1)[1]:
        assert "aes" not in open("/proc/cpuinfo").read().split(), "AES-NI present but not used"
    kv = srv.client(srv.root_token).secrets.kv.v2
    for path, value in (("paths/a", "written-by-default"), ("paths/b", "written-by-openssl"),
                        ("paths/c", "new-term-openssl")):
        assert kv.read_secret_version(path, mount_point=MOUNT)["data"]["data"] == {"v": value}, path
