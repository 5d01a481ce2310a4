"""Rotation of transit keys and database static roles (docs/internals/rotation.md):
transit adds a key version, rewraps the data the job names at grace end and only
then raises min_decryption_version; database static roles with alternating users
keep both users working during grace and only the current one after it."""

import base64
import json

import pytest

from cofferlib import wait_until
from rotlib import Receiver, add_webhook, job, job_put, ok, rotate


def b64(s):
    return base64.b64encode(s.encode()).decode()


@pytest.fixture
def tr(dev_server):
    dev = dev_server
    ok(dev.raw("POST", "/v1/sys/mounts/transit", {"type": "transit"}))
    ok(dev.raw("POST", "/v1/transit/keys/data-key", {}))
    return dev


def key_info(dev, name="data-key"):
    return ok(dev.raw("GET", f"/v1/transit/keys/{name}"))["data"]


def encrypt(dev, text, name="data-key"):
    return ok(dev.raw("POST", f"/v1/transit/encrypt/{name}",
                      {"plaintext": b64(text)}))["data"]["ciphertext"]


def test_transit_rotation_raises_min_decryption_version_at_grace_end(tr):
    dev = tr
    ct = encrypt(dev, "hello")
    st = job_put(dev, "enc", {"template": "encryption-key", "mount": "transit",
                              "path": "data-key", "grace": "2s"})["data"]
    assert st["target"] == "transit" and st["current_version"] == 1
    assert st["next_rotation"] is None  # encryption-key: on breach / on demand only
    assert rotate(dev, "enc") == {"version": 2, "previous_version": 1}
    info = key_info(dev)
    assert info["latest_version"] == 2 and info["min_decryption_version"] == 1
    # during grace old ciphertexts still decrypt
    assert ok(dev.raw("POST", "/v1/transit/decrypt/data-key", {"ciphertext": ct})).get("data")
    wait_until(lambda: key_info(dev)["min_decryption_version"] == 2, 10,
               what="min_decryption_version raised at grace end")
    assert dev.raw("POST", "/v1/transit/decrypt/data-key", {"ciphertext": ct}).status == 400


def test_transit_rewraps_named_data_before_raising(tr):
    dev = tr
    for i in range(3):
        ok(dev.raw("POST", f"/v1/secret/data/app/row{i}",
                   {"data": {"ct": encrypt(dev, f"row {i}"), "n": str(i)}}))
    job_put(dev, "enc2", {"template": "encryption-key", "mount": "transit", "path": "data-key",
                          "grace": "1s",
                          "rewrap": [{"mount": "secret", "prefix": "app/", "field": "ct"}]})
    rotate(dev, "enc2")
    wait_until(lambda: key_info(dev)["min_decryption_version"] == 2, 10,
               what="min_decryption_version raised after the rewrap")
    for i in range(3):
        d = ok(dev.raw("GET", f"/v1/secret/data/app/row{i}"))["data"]["data"]
        assert d["ct"].startswith("vault:v2:"), d
        pt = ok(dev.raw("POST", "/v1/transit/decrypt/data-key", {"ciphertext": d["ct"]}))
        assert base64.b64decode(pt["data"]["plaintext"]).decode() == f"row {i}"


def test_transit_keeps_min_decryption_version_while_rewrap_fails(tr):
    """min_decryption_version is raised only after the named data was rewrapped: a
    rewrap that fails keeps the previous key version usable and is retried."""
    dev = tr
    ct = encrypt(dev, "keep me")
    # a ciphertext that does not decrypt: its rewrap can only fail
    ok(dev.raw("POST", "/v1/secret/data/broken/x", {"data": {"ct": "vault:v1:AAAAAAAAAAAAAAAA"}}))
    job_put(dev, "enc4", {"template": "encryption-key", "mount": "transit", "path": "data-key",
                          "grace": "1s",
                          "rewrap": [{"mount": "secret", "prefix": "broken/", "field": "ct"}]})
    rotate(dev, "enc4")
    st = wait_until(lambda: (s := job(dev, "enc4"))["last_error"] and s, 10,
                    what="the failed rewrap recorded")
    assert "rewrap" in st["last_error"]
    assert key_info(dev)["min_decryption_version"] == 1
    assert st["previous_version"] == 1
    assert ok(dev.raw("POST", "/v1/transit/decrypt/data-key", {"ciphertext": ct})).get("data")


def test_transit_compromise_invalidates_old_versions_at_once(tr):
    dev = tr
    ct = encrypt(dev, "secret")
    job_put(dev, "enc3", {"template": "encryption-key", "mount": "transit", "path": "data-key",
                          "grace": "1h"})
    out = ok(dev.raw("POST", "/v1/sys/rotation/jobs/enc3/compromise", {"reason": "leak"}))["data"]
    assert out["version"] == 2 and out["previous_version"] is None
    assert key_info(dev)["min_decryption_version"] == 2
    assert dev.raw("POST", "/v1/transit/decrypt/data-key", {"ciphertext": ct}).status == 400


# ---------------------------------------------------------------------------
# database static roles (real PostgreSQL)


def static_creds(eng, role):
    return ok(eng.raw("GET", f"/v1/{eng.mount}/static-creds/{role}"))["data"]


def test_database_alternating_users_grace(dbe, pg):
    from dblib import ROTATE_SQL, unique
    users = [unique("rja_"), unique("rjb_")]
    for u in users:
        pg.create_role(u, password="p0-" + u)
    ok(dbe.raw("POST", "/v1/database/static-roles/dual", {
        "db_name": "pg", "username": users[0], "alternate_username": users[1],
        # the role's own grace is long: the job's 3 s must be what counts
        "rotation_period": 3600, "grace": "1h", "rotation_statements": ROTATE_SQL}))
    d1 = static_creds(dbe, "dual")
    dev = dbe  # .raw with the root token
    st = job_put(dev, "dbpw", {"template": "database-password", "mount": "database",
                               "path": "dual", "grace": "3s"})["data"]
    assert st["target"] == "database" and st["period"] == "30d" and st["current_version"] == 1
    assert ok(dev.raw("POST", "/v1/sys/rotation/verify/dbpw",
                      {"value": d1["password"]}))["data"]["state"] == "current"
    out = ok(dev.raw("POST", "/v1/sys/rotation/jobs/dbpw/rotate", {}))["data"]
    assert out == {"version": 2, "previous_version": 1}
    d2 = static_creds(dbe, "dual")
    assert d2["username"] != d1["username"] and d2["password"] != d1["password"]
    # during grace both users log in
    assert pg.psql_login(d2["username"], d2["password"], db=dbe.db)
    assert pg.psql_login(d1["username"], d1["password"], db=dbe.db)
    v = ok(dev.raw("POST", "/v1/sys/rotation/verify/dbpw", {"value": d1["password"]}))["data"]
    assert v["state"] == "previous"
    # after grace only the current one
    wait_until(lambda: not pg.psql_login(d1["username"], d1["password"], db=dbe.db), 10,
               interval=0.2, what="the previous user to stop working after grace")
    assert pg.psql_login(d2["username"], d2["password"], db=dbe.db)
    st = wait_until(lambda: (s := ok(dev.raw("GET", "/v1/sys/rotation/jobs/dbpw"))["data"])
                    ["state"] == "idle" and s, 10, what="job idle after grace")
    assert st["previous_version"] is None


def test_database_failing_set_backs_off_and_recovers(server_factory, pg_private):
    import os
    from dblib import DbEngine, ROTATE_SQL, unique
    token = "root-" + os.urandom(8).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}"], name="devdb",
                         extra_env={"COFFER_ROTATION_TEST_BACKOFF": "1"})
    eng = DbEngine(srv, token, pg_private)
    eng.enable()
    eng.configure()
    user = unique("rjf_")
    pg_private.create_role(user, password="p0")
    ok(eng.raw("POST", "/v1/database/static-roles/single", {
        "db_name": "pg", "username": user, "rotation_period": 3600,
        "rotation_statements": ROTATE_SQL}))
    before = static_creds(eng, "single")["password"]
    receiver = Receiver()
    add_webhook(eng, receiver)
    ok(eng.raw("POST", "/v1/sys/rotation/jobs/dbf", {"target": "database", "mount": "database",
                                                     "path": "single", "grace": 0}))
    pg_private.stop()
    r = eng.raw("POST", "/v1/sys/rotation/jobs/dbf/rotate", {})
    assert r.status >= 400, r.text
    st = ok(eng.raw("GET", "/v1/sys/rotation/jobs/dbf"))["data"]
    assert st["state"] == "failed" and st["failures"] >= 1 and st["last_error"]
    assert st["current_version"] == 1
    assert static_creds(eng, "single")["password"] == before
    hist = ok(eng.raw("GET", "/v1/sys/rotation/jobs/dbf/history"))["data"]["rotations"]
    assert hist[0]["outcome"] == "failed" and hist[0]["error"]
    # retried with backoff (1 s, 2 s with the test hook): the 3rd failure in a row alerts
    evs = receiver.wait("rotation.failed", "dbf", timeout=20,
                        pred=lambda e: e["severity"] == "critical")
    first = receiver.of("rotation.failed", "dbf")[0]
    assert first["severity"] == "warning"
    assert before not in json.dumps(receiver.events)
    assert static_creds(eng, "single")["password"] == before
    pg_private.start()
    st = wait_until(lambda: (s := ok(eng.raw("GET", "/v1/sys/rotation/jobs/dbf"))["data"])
                    ["current_version"] == 2 and s, 30, interval=0.2,
                    what="the retry after the database came back")
    assert st["failures"] == 0 and st["last_error"] is None
    after = static_creds(eng, "single")["password"]
    assert after != before
    assert pg_private.psql_login(user, after, db="postgres")
    receiver.close()


def test_database_compromise_invalidates_both_users_at_once(dbe, pg):
    from dblib import ROTATE_SQL, unique
    users = [unique("rca_"), unique("rcb_")]
    for u in users:
        pg.create_role(u, password="p0-" + u)
    ok(dbe.raw("POST", "/v1/database/static-roles/cmp", {
        "db_name": "pg", "username": users[0], "alternate_username": users[1],
        "rotation_period": 3600, "grace": "1h", "rotation_statements": ROTATE_SQL}))
    job_put(dbe, "dbc", {"template": "database-password", "mount": "database", "path": "cmp"})
    ok(dbe.raw("POST", "/v1/sys/rotation/jobs/dbc/rotate", {}))
    cur = static_creds(dbe, "cmp")
    leaked = [(cur["username"], cur["password"])]
    prev = cur.get("previous_username")
    assert prev  # the other user is in its (1 h) grace
    out = ok(dbe.raw("POST", "/v1/sys/rotation/jobs/dbc/compromise", {"reason": "leak"}))["data"]
    assert out["previous_version"] is None
    for user, pw in leaked:
        assert not pg.psql_login(user, pw, db=dbe.db), "a leaked password still logs in"
    now = static_creds(dbe, "cmp")
    assert pg.psql_login(now["username"], now["password"], db=dbe.db)
    v = ok(dbe.raw("POST", "/v1/sys/rotation/verify/dbc", {"value": leaked[0][1]}))["data"]
    assert v["valid"] is False
