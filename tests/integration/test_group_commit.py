"""Group commit on SQLite with more writers than HTTP threads.

A durable write waits for its commit's fsync. The server runs a write that would
wait behind a commit in progress off its HTTP pool thread (the connection is
suspended meanwhile), so one commit can carry more writes than the pool has
threads, and writers of different paths never wait for each other's commits.

To make that visible, the server runs with a two-thread HTTP pool on a disk whose
flushes take 20 ms: bench/slow_fsync.c, preloaded, makes every fsync/fdatasync last
that long (the same library bench/run uses to emulate a slow disk). The server
logs, when it stops, how many commits carried how many writes."""

import json
import os
import socket
import threading

import pytest

from cofferlib import commit_stats, raw_request, wait_until

MOUNT = "kv"
FSYNC_US = 20000
WRITERS = 24
WRITES_EACH = 6


@pytest.fixture
def slow_server(server_factory, tmp_path, slow_fsync_lib):
    env = {"LD_PRELOAD": str(slow_fsync_lib), "SLOW_FSYNC_US": str(FSYNC_US)}
    srv = server_factory([f"--storage=sqlite:{tmp_path / 'slow.db'}", "--http-threads=2"],
                         name="slow", ready="any", extra_env=env)
    token = srv.init_unseal()
    resp = srv.raw("POST", f"/v1/sys/mounts/{MOUNT}", {"type": "kv", "options": {"version": "2"}},
                   token=token)
    assert resp.status in (200, 204), resp.text
    return srv, token


def run_writers(srv, token, path_of, n_threads=WRITERS, each=WRITES_EACH):
    """n_threads threads write `each` times; returns (acknowledged, errors)."""
    acked, errors, lock = [], [], threading.Lock()
    barrier = threading.Barrier(n_threads)

    def writer(t):
        barrier.wait()
        for i in range(each):
            path = path_of(t, i)
            value = f"{t}-{i}-{os.urandom(4).hex()}"
            try:
                r = raw_request(srv.addr, "POST", f"/v1/{MOUNT}/data/{path}", {"data": {"v": value}},
                                token=token, timeout=30)
            except OSError as exc:
                with lock:
                    errors.append(repr(exc))
                return
            with lock:
                if r.status == 200:
                    acked.append((path, r.json()["data"]["version"], value))
                else:
                    errors.append(f"{r.status} {r.text}")

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return acked, errors


def test_one_commit_carries_more_writes_than_http_threads(slow_server):
    srv, token = slow_server
    acked, errors = run_writers(srv, token, lambda t, i: f"w{t}/{i}")
    assert not errors, errors[:5]
    assert len(acked) == WRITERS * WRITES_EACH
    assert srv.stop() == 0
    commits, writes = commit_stats(srv.log_text())
    assert writes >= WRITERS * WRITES_EACH
    # Two HTTP threads that each waited for their own write's commit would put at
    # most two writes in a commit; set-up writes (init, unseal, mount) come alone.
    assert writes / commits >= 3, f"{writes} writes in {commits} commits"
    srv.start()
    srv.unseal(srv.keys[:3])
    for path, version, value in acked[:: max(1, len(acked) // 20)]:
        r = srv.raw("GET", f"/v1/{MOUNT}/data/{path}?version={version}", token=token)
        assert r.status == 200 and r.json()["data"]["data"] == {"v": value}, path


def test_concurrent_writers_of_one_path_get_distinct_versions(slow_server):
    srv, token = slow_server
    acked, errors = run_writers(srv, token, lambda t, i: "shared", n_threads=12, each=2)
    assert not errors, errors[:5]
    versions = sorted(v for _, v, _ in acked)
    assert versions == list(range(1, 25)), versions
    meta = srv.raw("GET", f"/v1/{MOUNT}/metadata/shared", token=token).json()["data"]
    assert meta["current_version"] == 24
    by_version = {v: value for _, v, value in acked}
    for v in (15, 20, 24):  # max_versions 10 keeps 15..24
        r = srv.raw("GET", f"/v1/{MOUNT}/data/shared?version={v}", token=token)
        assert r.json()["data"]["data"] == {"v": by_version[v]}


def test_sigterm_answers_deferred_writes_first(slow_server):
    srv, token = slow_server
    results = {}
    started = threading.Event()
    result_lock = threading.Lock()

    def writer(t):
        for i in range(40):
            started.set()
            try:
                r = raw_request(srv.addr, "POST", f"/v1/{MOUNT}/data/s{t}-{i}", {"data": {"i": i}},
                                token=token, timeout=30)
            except OSError:
                return  # the server stopped accepting
            with result_lock:
                results[f"s{t}-{i}"] = r.status

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    assert started.wait(10)
    # Stop while writes are queued behind commits that each take 20 ms.
    wait_until(lambda: sum(1 for s in list(results.values()) if s == 200) >= 16, 30,
               what="some writes answered")
    assert srv.stop() == 0
    for t in threads:
        t.join(timeout=30)
    assert "stopped" in srv.log_text()
    ok = [p for p, s in results.items() if s == 200]
    assert ok
    srv.start()
    srv.unseal(srv.keys[:3])
    for p in ok:
        assert srv.raw("GET", f"/v1/{MOUNT}/data/{p}", token=token).status == 200, p


def test_client_gone_while_its_write_waits(slow_server):
    """Clients that hang up right after sending a write while commits are in
    progress (so their writes are deferred): the server goes on serving, and
    SIGTERM, which waits for every deferred request, still ends."""
    srv, token = slow_server
    host, port = srv.addr.replace("http://", "").split(":")
    # Keep the committer busy so that the next writes are deferred.
    acked, errors = [], []
    busy = threading.Thread(target=lambda: acked.extend(
        run_writers(srv, token, lambda t, i: f"busy{t}/{i}", n_threads=8, each=6)[0]))
    busy.start()
    wait_until(lambda: srv.raw("GET", f"/v1/{MOUNT}/data/busy0/0", token=token).status == 200, 30,
               what="the first busy write")
    body = json.dumps({"data": {"v": "left"}}).encode()
    for i in range(8):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"POST /v1/{MOUNT}/data/gone{i} HTTP/1.1\r\nHost: x\r\n"
                         f"X-Vault-Token: {token}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        # closed at once, before any answer
    busy.join(timeout=60)
    assert len(acked) == 48
    r = srv.raw("POST", f"/v1/{MOUNT}/data/after", {"data": {"v": "1"}}, token=token)
    assert r.status == 200, r.text
    assert srv.stop() == 0
    assert "stopped" in srv.log_text()


def test_approle_secret_id_uses_are_exact_under_concurrent_logins(slow_server):
    """A secret ID's uses are spent under its own lock, held until the commit is
    on disk: of 16 concurrent logins with a 5-use secret ID exactly 5 succeed,
    while logins with another secret ID of the same role all succeed beside them."""
    srv, token = slow_server
    r = srv.raw("POST", "/v1/sys/auth/approle", {"type": "approle"}, token=token)
    assert r.status in (200, 204), r.text
    # 11 logins fail by design: the per-role lockout (5 a minute) would refuse the rest
    r = srv.raw("POST", "/v1/sys/auth/approle/tune", {"user_lockout_config": {"disable_lockout": True}},
                token=token)
    assert r.status in (200, 204), r.text
    r = srv.raw("POST", "/v1/auth/approle/role/busy", {"token_policies": ["default"]}, token=token)
    assert r.status in (200, 204), r.text
    rid = srv.raw("GET", "/v1/auth/approle/role/busy/role-id", token=token).json()["data"]["role_id"]
    sids = []
    for body in ({"num_uses": 5}, {}):
        r = srv.raw("POST", "/v1/auth/approle/role/busy/secret-id", body, token=token)
        assert r.status == 200, r.text
        sids.append(r.json()["data"]["secret_id"])
    five, free = sids
    results, lock = [], threading.Lock()
    barrier = threading.Barrier(24)

    def login(sid):
        barrier.wait()
        res = raw_request(srv.addr, "POST", "/v1/auth/approle/login", {"role_id": rid, "secret_id": sid},
                          timeout=30)
        with lock:
            results.append((sid, res.status))

    threads = [threading.Thread(target=login, args=(five if i < 16 else free,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 24
    assert sum(1 for sid, st in results if sid == five and st == 200) == 5, results
    assert all(st == 200 for sid, st in results if sid == free), results
    r = srv.raw("POST", "/v1/auth/approle/role/busy/secret-id/lookup", {"secret_id": five}, token=token)
    assert r.status == 204, r.text
