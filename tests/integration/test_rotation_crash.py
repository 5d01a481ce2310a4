"""Rotation crash safety (docs/internals/rotation.md, "Crash safety"): the test hook
COFFER_ROTATION_CRASH_AFTER=<step> makes the server _exit right after that step's
effect and before its progress is stored. After restart and unseal every job ends
with exactly one new version and a consistent state."""

import pytest

from cofferlib import wait_until
from rotlib import ok

STEPS = ["create", "set", "test", "finish", "revoke"]


def mount_kv(srv, token):
    ok(srv.raw("POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}},
               token=token))


def call(srv, token, method, path, body=None):
    return srv.raw(method, path, body, token=token)


@pytest.mark.parametrize("step", STEPS)
def test_crash_after_each_step_rotates_once(sqlite_server, step):
    srv = sqlite_server()
    root = srv.init_unseal()
    mount_kv(srv, root)
    ok(call(srv, root, "POST", "/v1/secret/data/app", {"data": {"key": "old", "keep": "me"}}))
    grace = 0 if step == "revoke" else "1h"
    ok(call(srv, root, "POST", "/v1/sys/rotation/jobs/app",
            {"template": "api-key", "mount": "secret", "path": "app", "keys": {"key": {}},
             "grace": grace}))
    # restart with the hook armed
    srv.stop()
    srv.extra_env["COFFER_ROTATION_CRASH_AFTER"] = step
    srv.start()
    srv.unseal(srv.keys[:3])
    try:
        r = call(srv, root, "POST", "/v1/sys/rotation/jobs/app/rotate", {"reason": "crash"})
        status = r.status
    except Exception:  # the connection dies with the server
        status = None
    assert status is None or status >= 500, f"the server did not crash at {step}: {status}"
    wait_until(lambda: not srv.alive(), 10, what="server exit")
    assert srv.proc.returncode == 86, srv.proc.returncode

    del srv.extra_env["COFFER_ROTATION_CRASH_AFTER"]
    srv.start()
    srv.unseal(srv.keys[:3])

    want = ("idle",) if step == "revoke" else ("grace",)

    def settled():
        st = ok(call(srv, root, "GET", "/v1/sys/rotation/jobs/app"))["data"]
        return st if st["state"] in want and st["current_version"] == 2 else None

    st = wait_until(settled, 10, what=f"job resumed after a crash at {step}")
    meta = ok(call(srv, root, "GET", "/v1/secret/metadata/app"))["data"]
    assert meta["current_version"] == 2, f"rotated {meta['current_version'] - 1} times"
    data = ok(call(srv, root, "GET", "/v1/secret/data/app"))["data"]["data"]
    assert data["key"].startswith("sk_") and data["keep"] == "me"
    v = ok(call(srv, root, "POST", "/v1/sys/rotation/verify/app", {"value": data["key"]}))
    assert v["data"]["state"] == "current" and v["data"]["version"] == 2
    old = ok(call(srv, root, "POST", "/v1/sys/rotation/verify/app", {"value": "old"}))["data"]
    hist = ok(call(srv, root, "GET", "/v1/sys/rotation/jobs/app/history"))["data"]["rotations"]
    assert [h["version"] for h in hist if h["outcome"] == "success"] == [2]
    if step == "revoke":
        assert meta["versions"]["1"]["destroyed"] is True
        assert old["valid"] is False and st["previous_version"] is None
    else:
        assert st["state"] == "grace" and st["previous_version"] == 1
        assert old["state"] == "previous"
        assert meta["versions"]["1"]["destroyed"] is False


def test_missed_schedule_runs_once_after_start(sqlite_server):
    srv = sqlite_server()
    root = srv.init_unseal()
    mount_kv(srv, root)
    ok(call(srv, root, "POST", "/v1/sys/rotation/jobs/miss",
            {"target": "kv", "mount": "secret", "path": "miss", "keys": {"k": "hex"},
             "period": "3s", "grace": "1h"}))
    base = ok(call(srv, root, "GET", "/v1/secret/metadata/miss"))["data"]["current_version"]
    srv.stop()
    import time
    down = time.time()
    wait_until(lambda: time.time() > down + 7, 10,
               what="two whole periods to pass while the server is down")
    srv.start()
    srv.unseal(srv.keys[:3])
    wait_until(lambda: ok(call(srv, root, "GET", "/v1/secret/metadata/miss"))["data"]
               ["current_version"] == base + 1, 5, what="the missed rotation")
    st = ok(call(srv, root, "GET", "/v1/sys/rotation/jobs/miss"))["data"]
    # run once, not once per missed period: the next one is a period away
    assert ok(call(srv, root, "GET", "/v1/secret/metadata/miss"))["data"]["current_version"] \
        == base + 1
    assert st["next_rotation"] is not None


def test_adoption_records_survive_restart(sqlite_server):
    srv = sqlite_server()
    root = srv.init_unseal()
    mount_kv(srv, root)
    ok(call(srv, root, "POST", "/v1/sys/rotation/jobs/ad",
            {"target": "kv", "mount": "secret", "path": "ad", "keys": {"k": "hex"}}))
    r = srv.raw("GET", "/v1/secret/data/ad", token=root, headers={"X-Coffer-Consumer": "svc/1"})
    assert r.status == 200
    # persisted in batches: at most a second later
    srv.stop()
    srv.start()
    srv.unseal(srv.keys[:3])
    st = ok(call(srv, root, "GET", "/v1/sys/rotation/jobs/ad"))["data"]
    assert [c["consumer"].endswith("/svc/1") for c in st["consumers"]] == [True]


@pytest.mark.parametrize("step", ["create", "finish"])
def test_crash_during_compromise_resumes_it(sqlite_server, step):
    srv = sqlite_server()
    root = srv.init_unseal()
    mount_kv(srv, root)
    ok(call(srv, root, "POST", "/v1/secret/data/c", {"data": {"key": "leaked"}}))
    ok(call(srv, root, "POST", "/v1/sys/rotation/jobs/c",
            {"template": "api-key", "mount": "secret", "path": "c", "keys": {"key": {}},
             "grace": "1h"}))
    ok(call(srv, root, "POST", "/v1/sys/rotation/jobs/c/rotate", {}))  # v2, v1 in grace
    srv.stop()
    srv.extra_env["COFFER_ROTATION_CRASH_AFTER"] = step
    srv.start()
    srv.unseal(srv.keys[:3])
    try:
        call(srv, root, "POST", "/v1/sys/rotation/jobs/c/compromise", {"reason": "leak"})
    except Exception:
        pass
    wait_until(lambda: not srv.alive(), 10, what="server exit")
    del srv.extra_env["COFFER_ROTATION_CRASH_AFTER"]
    srv.start()
    srv.unseal(srv.keys[:3])

    def settled():
        st = ok(call(srv, root, "GET", "/v1/sys/rotation/jobs/c"))["data"]
        return st if st["state"] == "idle" and st["current_version"] == 3 else None

    st = wait_until(settled, 10, what="the compromise resumed")
    assert st["previous_version"] is None
    meta = ok(call(srv, root, "GET", "/v1/secret/metadata/c"))["data"]
    assert meta["current_version"] == 3
    assert meta["versions"]["1"]["destroyed"] and meta["versions"]["2"]["destroyed"]
    assert not meta["versions"]["3"]["destroyed"]
    hist = ok(call(srv, root, "GET", "/v1/sys/rotation/jobs/c/history"))["data"]["rotations"]
    assert hist[0]["trigger"] == "compromise" and hist[0]["version"] == 3
    v = ok(call(srv, root, "POST", "/v1/sys/rotation/verify/c", {"value": "leaked"}))["data"]
    assert v["valid"] is False
