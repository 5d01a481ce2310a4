"""High availability on one real PostgreSQL: three coffer servers on the same
schema, each unsealed on its own after one init. One holds the advisory lock and
is active; the others are standbys that redirect (307) to it.

Covers: sys/leader and the standby health codes on each node; `kill -9` of the
active (a standby takes over within 5 s, every acknowledged write reads back,
hvac through a standby's address keeps working); pg_terminate_backend of the
active's lock connection (it steps down, another takes over, and no write the
old active acknowledged is missing, and none started after the lock was gone
was acknowledged or stored); sys/step-down and `coffer operator step-down`."""

import os
import subprocess
import threading
import time

import pytest

from cofferlib import coffer_bin, wait_until

TIMEOUT_S = 3
FAILOVER_S = 5.0
LOCK_CLASS = 1668245094  # first key of the HA advisory lock (postgres.c)


def storage_url(pg, user, password, schema):
    return (f"postgres:postgresql://{user}:{password}@127.0.0.1:{pg.port}/postgres"
            f"?sslmode=disable&schema={schema}&timeout={TIMEOUT_S}")


@pytest.fixture
def cluster(pg, server_factory):
    """Three servers on one fresh schema: initialized once, each unsealed, KV v2 at kv/.
    Returns (nodes, root_token)."""
    return make_cluster(pg, server_factory, 3)


def make_cluster(pg, server_factory, count, extra=()):
    tag = os.urandom(5).hex()
    user, password, schema = f"coffer_{tag}", "pw-" + os.urandom(12).hex(), f"coffer_{tag}"
    pg.create_role(user, password=password)
    pg.query(f'GRANT CREATE ON DATABASE postgres TO "{user}"')
    url = storage_url(pg, user, password, schema)
    nodes = [server_factory([f"--storage={url}", *extra], name=f"ha{i}", ready="any")
             for i in range(count)]
    nodes[0].init()
    for n in nodes:
        n.keys, n.root_token = nodes[0].keys, nodes[0].root_token
        n.unseal(nodes[0].keys[:3])
    active = wait_active(nodes)
    active.client(active.root_token).sys.enable_secrets_engine("kv", path="kv",
                                                               options={"version": "2"})
    return nodes, nodes[0].root_token


def leader(node):
    return node.raw("GET", "/v1/sys/leader", timeout=5).json()


def is_active(node):
    try:
        return node.alive() and leader(node)["is_self"] is True
    except OSError:
        return False


def wait_active(nodes, exclude=(), timeout=FAILOVER_S):
    found = []

    def one():
        found[:] = [n for n in nodes if n not in exclude and is_active(n)]
        return len(found) == 1

    wait_until(one, timeout, interval=0.05, what="one active node")
    return found[0]


def put(node, token, key, value):
    try:
        return node.raw("PUT", f"/v1/kv/data/{key}", {"data": {"v": value}}, token=token,
                        timeout=10).status
    except OSError:
        return None


def test_leader_health_and_redirects(cluster):
    nodes, token = cluster
    active = wait_active(nodes)
    standbys = [n for n in nodes if n is not active]
    info = leader(active)
    assert info["ha_enabled"] is True and info["is_self"] is True
    assert info["leader_address"] == active.addr
    assert info["active_time"] != "0001-01-01T00:00:00Z"
    assert active.raw("GET", "/v1/sys/health").status == 200
    for s in standbys:
        info = leader(s)
        assert info["ha_enabled"] is True and info["is_self"] is False
        assert info["leader_address"] == active.addr
        health = s.raw("GET", "/v1/sys/health")
        assert health.status == 429 and health.json()["standby"] is True
        assert s.raw("GET", "/v1/sys/health?standbyok=true").status == 200
        assert s.raw("GET", "/v1/sys/health?standbycode=299").status == 299
        assert s.raw("GET", "/v1/sys/health?perfstandbyok=true").status == 429
        r = s.raw("GET", "/v1/kv/data/app?version=1", token=token)
        assert r.status == 307
        assert r.headers["location"] == active.addr + "/v1/kv/data/app?version=1"
    # hvac follows the redirect: writes and reads through a standby's address
    via = standbys[0].client(token)
    via.secrets.kv.v2.create_or_update_secret("app", secret={"k": "v1"}, mount_point="kv")
    got = via.secrets.kv.v2.read_secret_version("app", mount_point="kv")
    assert got["data"]["data"] == {"k": "v1"}
    assert active.client(token).secrets.kv.v2.read_secret_version(
        "app", mount_point="kv")["data"]["data"] == {"k": "v1"}


def test_kill9_active_fails_over_nothing_acknowledged_lost(cluster):
    nodes, token = cluster
    active = wait_active(nodes)
    acked = {}
    for i in range(40):
        if put(active, token, f"w{i}", i) in (200, 204):
            acked[f"w{i}"] = i
    assert len(acked) == 40
    # a token and a policy made on the old active must hold on the new one
    client = active.client(token)
    client.sys.create_or_update_policy("reader", 'path "kv/data/*" { capabilities = ["read"] }')
    child = client.auth.token.create(policies=["reader"], ttl="1h")["auth"]["client_token"]
    standby = next(n for n in nodes if n is not active)

    t0 = time.monotonic()
    active.kill9()
    new = wait_active(nodes, exclude=(active,))
    assert time.monotonic() - t0 < FAILOVER_S
    kv = new.client(token).secrets.kv.v2
    for key, value in acked.items():
        assert kv.read_secret_version(key, mount_point="kv")["data"]["data"] == {"v": value}
    # cache coherence: the new active serves the token and policy from storage
    assert new.raw("GET", "/v1/kv/data/w1", token=child).status == 200
    assert new.raw("PUT", "/v1/kv/data/w1", {"data": {}}, token=child).status == 403
    # hvac through a standby's address keeps working after the failover
    other = next(n for n in nodes if n is not active and n is not new)
    assert leader(other)["leader_address"] == new.addr
    via = other.client(token)
    via.secrets.kv.v2.create_or_update_secret("after", secret={"k": "x"}, mount_point="kv")
    assert via.secrets.kv.v2.read_secret_version("after", mount_point="kv")["data"]["data"] == {
        "k": "x"}
    assert standby.alive()


def lock_pid(pg):
    rows = pg.query(f"SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = "
                    f"{LOCK_CLASS} AND granted")
    return [int(x) for x in rows.split()] if rows.strip() else []


def test_lock_connection_terminated_fences_old_active(pg, cluster):
    nodes, token = cluster
    old = wait_active(nodes)
    pids = lock_pid(pg)
    assert len(pids) == 1
    pid = pids[0]
    records = []  # (i, started, answered, status)
    stop = threading.Event()

    def hammer():
        i = 0
        while not stop.is_set():
            started = time.monotonic()
            status = put(old, token, f"h{i}", i)
            records.append((i, started, time.monotonic(), status))
            i += 1

    t = threading.Thread(target=hammer)
    t.start()
    try:
        wait_until(lambda: sum(1 for r in records if r[3] in (200, 204)) >= 20, 20,
                   what="writes through the active")
        pg.query(f"SELECT pg_terminate_backend({pid})")
        wait_until(lambda: pid not in lock_pid(pg), 5, what="the lock session gone")
        lost_at = time.monotonic()
        new = wait_active(nodes, exclude=(old,))
        wait_until(lambda: not is_active(old), 5, what="the old active steps down")
        n_then = len(records)
        wait_until(lambda: len(records) >= n_then + 20, 20, what="writes after the loss")
    finally:
        stop.set()
        t.join()
    kv = new.client(token).secrets.kv.v2

    def stored(i):
        r = new.raw("GET", f"/v1/kv/data/h{i}", token=token)
        assert r.status in (200, 404), r
        return r.status == 200 and r.json()["data"]["data"] == {"v": i}

    acked = [r for r in records if r[3] in (200, 204)]
    assert acked, "no write went through before the loss"
    for i, _s, _a, _st in acked:
        assert stored(i), f"acknowledged write h{i} missing on the new active"
    late = [r for r in records if r[1] > lost_at]
    assert len(late) >= 20
    for i, _s, _a, status in late:
        assert status not in (200, 204), f"h{i} acknowledged after the lock was lost"
        assert not stored(i), f"h{i}, started after the lock was lost, is in storage"
    assert kv.read_secret_version(f"h{acked[-1][0]}", mount_point="kv")
    assert leader(old)["leader_address"] == new.addr


def test_step_down_moves_the_active_role(cluster):
    nodes, token = cluster
    first = wait_active(nodes)
    assert first.raw("PUT", "/v1/sys/step-down", token=token).status == 204
    second = wait_active(nodes, exclude=(first,))
    assert leader(first)["is_self"] is False
    # a standby's step-down is redirected to the active node; a non-sudo token is refused
    env = dict(os.environ, COFFER_ADDR=second.addr, COFFER_TOKEN=token)
    res = subprocess.run([str(coffer_bin()), "operator", "step-down"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    third = wait_active(nodes, exclude=(second,))
    assert third is not second
    assert third.client(token).secrets.kv.v2.create_or_update_secret(
        "moved", secret={"ok": "1"}, mount_point="kv")


def test_forward_standby_answers_with_the_active_nodes_answer(pg, server_factory):
    nodes, token = make_cluster(pg, server_factory, 2, extra=("--forward",))
    active = wait_active(nodes)
    standby = next(n for n in nodes if n is not active)
    w = standby.raw("PUT", "/v1/kv/data/fwd", {"data": {"k": "v"}}, token=token)
    assert w.status == 200, w  # no 307: the standby forwarded it
    r = standby.raw("GET", "/v1/kv/data/fwd?version=1", token=token)
    assert r.status == 200 and r.json()["data"]["data"] == {"k": "v"}
    assert standby.raw("GET", "/v1/kv/data/fwd", token="bogus").status == 403
    assert active.client(token).secrets.kv.v2.read_secret_version(
        "fwd", mount_point="kv")["data"]["data"] == {"k": "v"}
