"""AppRole auth method (Vault's AppRole API) with hvac: roles,
role IDs, secret IDs (generated, custom, by accessor, used up, expired, CIDR
bound), login, tokens within their policies, TTLs and bound CIDRs, brute-force
limits, secret IDs stored only as HMACs, and no secret ID in any log."""

import http.client
import json
import os

import hvac
import pytest

from cofferlib import RawResponse, wait_until

KV_POLICY = """
path "secret/data/app/*" { capabilities = ["read"] }
"""


def login_raw(addr, role_id, secret_id=None, source="127.0.0.1", mount="approle"):
    host, port = addr.replace("http://", "").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=15, source_address=(source, 0))
    body = {"role_id": role_id}
    if secret_id is not None:
        body["secret_id"] = secret_id
    try:
        conn.request("POST", f"/v1/auth/{mount}/login", body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


@pytest.fixture
def ar(dev_server):
    """A dev server with approle enabled, a kv policy and role `app`."""
    c = dev_server.client
    c.sys.enable_auth_method("approle")
    c.sys.create_or_update_policy("kv-app", KV_POLICY)
    c.auth.approle.create_or_update_approle("app", token_policies=["kv-app"], token_ttl="1h")
    c.secrets.kv.v2.create_or_update_secret("app/db", {"password": "dbpw"})
    c.secrets.kv.v2.create_or_update_secret("other/db", {"password": "nope"})
    dev_server.role_id = c.auth.approle.read_role_id("app")["data"]["role_id"]
    return dev_server


def new_secret(dev, role="app", **kw):
    return dev.client.auth.approle.generate_secret_id(role, **kw)["data"]


def test_role_crud_and_list(ar):
    c = ar.client
    c.auth.approle.create_or_update_approle(
        "Web", token_policies=["a", "b"], token_ttl="10m", token_max_ttl="1h",
        secret_id_ttl="30m", secret_id_num_uses=3, secret_id_bound_cidrs=["127.0.0.0/8"],
        token_bound_cidrs=["127.0.0.1/32"], enable_local_secret_ids=True)
    role = c.auth.approle.read_role("web")["data"]
    assert role["token_policies"] == ["a", "b"]
    assert role["token_ttl"] == 600 and role["token_max_ttl"] == 3600
    assert role["secret_id_ttl"] == 1800 and role["secret_id_num_uses"] == 3
    assert role["secret_id_bound_cidrs"] == ["127.0.0.0/8"]
    assert role["token_bound_cidrs"] == ["127.0.0.1/32"]
    assert role["bind_secret_id"] is True and role["local_secret_ids"] is True
    assert sorted(c.auth.approle.list_roles()["data"]["keys"]) == ["app", "web"]
    assert sorted(c.list("auth/approle/role")["data"]["keys"]) == ["app", "web"]  # GET ?list=True
    c.auth.approle.delete_role("web")
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.auth.approle.read_role("web")


def test_legacy_field_names(ar):
    """node-vault's addApproleRole sends policies, period and bound_cidr_list."""
    res = ar.raw("POST", "/v1/auth/approle/role/legacy",
                 {"policies": "p1, p2", "period": 600, "bound_cidr_list": "127.0.0.0/8",
                  "secret_id_ttl": 60})
    assert res.status == 204, res
    role = ar.client.auth.approle.read_role("legacy")["data"]
    assert role["token_policies"] == ["p1", "p2"]
    assert role["token_period"] == 600
    assert role["token_bound_cidrs"] == ["127.0.0.0/8"]


def test_role_needs_a_constraint(ar):
    with pytest.raises(hvac.exceptions.InvalidRequest, match="at least one constraint"):
        ar.client.auth.approle.create_or_update_approle("loose", bind_secret_id=False)


def test_role_id_read_and_set(ar):
    c = ar.client
    assert len(ar.role_id) == 36
    c.auth.approle.update_role_id("app", "my-custom-role-id")
    assert c.auth.approle.read_role_id("app")["data"]["role_id"] == "my-custom-role-id"
    sid = new_secret(ar)["secret_id"]
    assert login_raw(ar.addr, ar.role_id, sid).status == 400  # the old role ID is gone
    assert login_raw(ar.addr, "my-custom-role-id", sid).status == 200
    c.auth.approle.create_or_update_approle("other", token_policies=["x"])
    with pytest.raises(hvac.exceptions.InvalidRequest, match="already in use"):
        c.auth.approle.update_role_id("other", "my-custom-role-id")


def test_login_token_within_policies(ar):
    sec = new_secret(ar, metadata={"env": "prod"})
    assert set(sec) >= {"secret_id", "secret_id_accessor", "secret_id_ttl", "secret_id_num_uses"}
    user = ar.server.client()
    res = user.auth.approle.login(ar.role_id, sec["secret_id"])
    auth = res["auth"]
    assert auth["metadata"] == {"role_name": "app", "env": "prod"}
    assert auth["policies"] == ["default", "kv-app"]
    assert auth["lease_duration"] == 3600 and auth["orphan"] is True
    assert user.token == auth["client_token"]
    assert user.secrets.kv.v2.read_secret_version("app/db")["data"]["data"] == {"password": "dbpw"}
    with pytest.raises(hvac.exceptions.Forbidden):
        user.secrets.kv.v2.read_secret_version("other/db")
    with pytest.raises(hvac.exceptions.Forbidden):
        user.secrets.kv.v2.create_or_update_secret("app/db", {"password": "x"})
    assert user.auth.token.lookup_self()["data"]["display_name"] == "approle-app"


def test_token_ttl_honoured(ar):
    ar.client.auth.approle.create_or_update_approle("short", token_policies=["kv-app"],
                                                     token_ttl="2s", token_max_ttl="2s")
    rid = ar.client.auth.approle.read_role_id("short")["data"]["role_id"]
    user = ar.server.client()
    auth = user.auth.approle.login(rid, new_secret(ar, "short")["secret_id"])["auth"]
    assert auth["lease_duration"] == 2

    def expired():
        try:
            user.secrets.kv.v2.read_secret_version("app/db")
            return False
        except hvac.exceptions.Forbidden:
            return True

    wait_until(expired, 10, interval=0.1, what="the 2s login token to expire")


def test_secret_id_num_uses(ar):
    c = ar.client
    c.auth.approle.create_or_update_approle("twice", token_policies=["kv-app"],
                                            secret_id_num_uses=2)
    rid = c.auth.approle.read_role_id("twice")["data"]["role_id"]
    sec = new_secret(ar, "twice")
    assert sec["secret_id_num_uses"] == 2
    assert login_raw(ar.addr, rid, sec["secret_id"]).status == 200
    left = c.auth.approle.read_secret_id("twice", sec["secret_id"])["data"]
    assert left["secret_id_num_uses"] == 1
    assert login_raw(ar.addr, rid, sec["secret_id"]).status == 200
    res = login_raw(ar.addr, rid, sec["secret_id"])
    assert res.status == 400, res
    # used up: deleted, with its accessor
    assert c.auth.approle.read_secret_id("twice", sec["secret_id"]).status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.auth.approle.list_secret_id_accessors("twice")
    # a secret ID may not ask for more uses than the role allows
    res = ar.raw("POST", "/v1/auth/approle/role/twice/secret-id", {"num_uses": 5})
    assert res.status == 400, res


def test_secret_id_ttl(ar):
    c = ar.client
    c.auth.approle.create_or_update_approle("brief", token_policies=["kv-app"], secret_id_ttl="2s")
    rid = c.auth.approle.read_role_id("brief")["data"]["role_id"]
    sec = new_secret(ar, "brief")
    assert sec["secret_id_ttl"] == 2
    info = c.auth.approle.read_secret_id("brief", sec["secret_id"])["data"]
    assert info["secret_id_ttl"] == 2 and info["expiration_time"] > info["creation_time"]
    assert login_raw(ar.addr, rid, sec["secret_id"]).status == 200
    wait_until(lambda: login_raw(ar.addr, rid, sec["secret_id"]).status == 400, 10, interval=0.25,
               what="the secret ID to expire")
    # expired: deleted
    assert c.auth.approle.read_secret_id("brief", sec["secret_id"]).status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.auth.approle.list_secret_id_accessors("brief")


def test_bind_secret_id_false_with_cidr(ar):
    c = ar.client
    c.auth.approle.create_or_update_approle("machine", token_policies=["kv-app"],
                                            bind_secret_id=False,
                                            secret_id_bound_cidrs=["127.0.0.1/32"])
    rid = c.auth.approle.read_role_id("machine")["data"]["role_id"]
    res = login_raw(ar.addr, rid, source="127.0.0.1")
    assert res.status == 200, res
    token = res.json()["auth"]["client_token"]
    assert ar.server.client(token).secrets.kv.v2.read_secret_version("app/db")
    res = login_raw(ar.addr, rid, source="127.0.0.2")
    assert res.status == 400, res
    assert "CIDR" in res.errors()[0]
    # without bind_secret_id no secret ID can be generated
    with pytest.raises(hvac.exceptions.InvalidRequest, match="bind_secret_id"):
        new_secret(ar, "machine")


def test_secret_id_cidr_list(ar):
    c = ar.client
    sec = new_secret(ar, cidr_list=["127.0.0.1/32"])
    assert login_raw(ar.addr, ar.role_id, sec["secret_id"], source="127.0.0.9").status == 400
    assert login_raw(ar.addr, ar.role_id, sec["secret_id"], source="127.0.0.1").status == 200
    info = c.auth.approle.read_secret_id("app", sec["secret_id"])["data"]
    assert info["cidr_list"] == ["127.0.0.1/32"]
    # a secret ID's blocks must lie inside the role's
    c.auth.approle.create_or_update_approle("fenced", token_policies=["kv-app"],
                                            secret_id_bound_cidrs=["127.0.0.0/24"])
    new_secret(ar, "fenced", cidr_list=["127.0.0.1/32"])
    with pytest.raises(hvac.exceptions.InvalidRequest, match="subset"):
        new_secret(ar, "fenced", cidr_list=["10.0.0.0/8"])


def test_custom_secret_id(ar):
    c = ar.client
    custom = "custom-" + os.urandom(16).hex()
    res = c.auth.approle.create_custom_secret_id("app", custom, metadata={"team": "a"})["data"]
    assert res["secret_id"] == custom and res["secret_id_accessor"]
    user = ar.server.client()
    auth = user.auth.approle.login(ar.role_id, custom)["auth"]
    assert auth["metadata"] == {"role_name": "app", "team": "a"}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="already registered"):
        c.auth.approle.create_custom_secret_id("app", custom)


def test_accessor_lookup_and_destroy(ar):
    c = ar.client
    one = new_secret(ar, metadata={"n": "1"})
    two = new_secret(ar)
    keys = c.auth.approle.list_secret_id_accessors("app")["data"]["keys"]
    assert sorted(keys) == sorted([one["secret_id_accessor"], two["secret_id_accessor"]])
    info = c.auth.approle.read_secret_id_accessor("app", one["secret_id_accessor"])["data"]
    assert info["secret_id_accessor"] == one["secret_id_accessor"]
    assert info["metadata"] == {"n": "1"}
    for k in ("cidr_list", "creation_time", "expiration_time", "last_updated_time",
              "secret_id_num_uses", "secret_id_ttl", "token_bound_cidrs"):
        assert k in info
    assert "secret_id" not in info
    by_id = c.auth.approle.read_secret_id("app", one["secret_id"])["data"]
    assert by_id["secret_id_accessor"] == one["secret_id_accessor"]

    c.auth.approle.destroy_secret_id_accessor("app", one["secret_id_accessor"])
    assert login_raw(ar.addr, ar.role_id, one["secret_id"]).status == 400
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.auth.approle.read_secret_id_accessor("app", one["secret_id_accessor"])
    c.auth.approle.destroy_secret_id("app", two["secret_id"])
    assert login_raw(ar.addr, ar.role_id, two["secret_id"]).status == 400
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.auth.approle.list_secret_id_accessors("app")


def test_token_bound_cidrs(ar):
    c = ar.client
    c.auth.approle.create_or_update_approle("near", token_policies=["kv-app"],
                                            token_bound_cidrs=["127.0.0.1/32"])
    c.auth.approle.create_or_update_approle("far", token_policies=["kv-app"],
                                            token_bound_cidrs=["10.0.0.0/8"])
    for role, ok in (("near", True), ("far", False)):
        rid = c.auth.approle.read_role_id(role)["data"]["role_id"]
        user = ar.server.client()
        user.auth.approle.login(rid, new_secret(ar, role)["secret_id"])
        if ok:
            assert user.secrets.kv.v2.read_secret_version("app/db")
        else:
            with pytest.raises(hvac.exceptions.Forbidden):
                user.secrets.kv.v2.read_secret_version("app/db")
    # a secret ID may narrow the role's token_bound_cidrs
    rid = c.auth.approle.read_role_id("app")["data"]["role_id"]
    user = ar.server.client()
    user.auth.approle.login(rid, new_secret(ar, token_bound_cidrs=["10.0.0.0/8"])["secret_id"])
    with pytest.raises(hvac.exceptions.Forbidden):
        user.secrets.kv.v2.read_secret_version("app/db")


def test_brute_force_429(ar):
    sec = new_secret(ar)
    for i in range(5):
        assert login_raw(ar.addr, ar.role_id, f"wrong-{i}", source="127.0.0.11").status == 400
    res = login_raw(ar.addr, ar.role_id, "wrong-6", source="127.0.0.11")
    assert res.status == 429, res
    assert 1 <= int(res.headers["retry-after"]) <= 60
    # the right secret ID is refused during the lockout too, from any address
    res = login_raw(ar.addr, ar.role_id, sec["secret_id"], source="127.0.0.12")
    assert res.status == 429, res
    # a role ID nobody has is limited the same way
    for i in range(5):
        assert login_raw(ar.addr, "no-such-role-id", "x", source="127.0.0.13").status == 400
    assert login_raw(ar.addr, "no-such-role-id", "x", source="127.0.0.13").status == 429


def test_lockout_ends(ar):
    res = ar.raw("POST", "/v1/sys/auth/approle/tune",
                 {"user_lockout_config": {"lockout_threshold": 2, "lockout_duration": "2s"}})
    assert res.status == 204, res
    sec = new_secret(ar)
    for i in range(2):
        assert login_raw(ar.addr, ar.role_id, f"bad-{i}").status == 400
    assert login_raw(ar.addr, ar.role_id, sec["secret_id"]).status == 429
    wait_until(lambda: login_raw(ar.addr, ar.role_id, sec["secret_id"]).status == 200, 10,
               interval=0.25, what="the lockout to end")


def test_role_delete_drops_secret_ids(ar):
    c = ar.client
    sec = new_secret(ar)
    c.auth.approle.delete_role("app")
    assert login_raw(ar.addr, ar.role_id, sec["secret_id"]).status == 400
    c.auth.approle.create_or_update_approle("app", token_policies=["kv-app"])
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.auth.approle.list_secret_id_accessors("app")
    rid = c.auth.approle.read_role_id("app")["data"]["role_id"]
    assert rid != ar.role_id
    assert login_raw(ar.addr, rid, sec["secret_id"]).status == 400


def test_tidy_removes_expired(ar):
    ar.client.auth.approle.create_or_update_approle("brief", token_policies=["kv-app"],
                                                    secret_id_ttl="1s")
    new_secret(ar, "brief")
    assert ar.client.auth.approle.list_secret_id_accessors("brief")["data"]["keys"]

    def tidied():
        res = ar.raw("POST", "/v1/auth/approle/tidy/secret-id", {})
        assert res.status == 200, res
        return ar.raw("LIST", "/v1/auth/approle/role/brief/secret-id").status == 404

    wait_until(tidied, 10, interval=0.25, what="tidy to remove the expired secret ID")


def test_secret_ids_stored_only_hashed(unsealed_sqlite):
    """The storage file (keys are not encrypted) holds no role ID or secret ID."""
    srv = unsealed_sqlite
    c = srv.client(srv.root_token)
    c.sys.enable_auth_method("approle")
    c.auth.approle.create_or_update_approle("app", token_policies=["default"])
    rid = c.auth.approle.read_role_id("app")["data"]["role_id"]
    sid = c.auth.approle.generate_secret_id("app")["data"]["secret_id"]
    custom = "custom-" + os.urandom(12).hex()
    c.auth.approle.create_custom_secret_id("app", custom)
    srv.client().auth.approle.login(rid, sid)
    blob = b""
    for suffix in ("", "-wal", "-shm"):
        p = srv.db_path.parent / (srv.db_path.name + suffix)
        if p.exists():
            blob += p.read_bytes()
    assert blob
    for s in (rid, sid, custom):
        assert s.encode() not in blob
    # survives a restart (the HMAC key is stored)
    srv.restart()
    srv.unseal(srv.keys[:3])
    assert srv.client().auth.approle.login(rid, custom)["auth"]["client_token"]


def test_no_secret_id_in_logs(ar, tmp_path):
    audit = tmp_path / "audit.log"
    ar.client.sys.enable_audit_device("file", options={"file_path": str(audit)})
    sec = new_secret(ar)
    custom = "custom-" + os.urandom(12).hex()
    ar.client.auth.approle.create_custom_secret_id("app", custom)
    wrong = "wrong-" + os.urandom(12).hex()
    token = ar.server.client().auth.approle.login(ar.role_id, sec["secret_id"])["auth"]["client_token"]
    assert login_raw(ar.addr, ar.role_id, wrong).status == 400
    ar.client.auth.approle.read_secret_id("app", custom)
    text = audit.read_text()
    server_log = ar.server.log_text()
    for s in (sec["secret_id"], custom, wrong, token):
        assert s not in text
        assert s not in server_log
    entries = [json.loads(line) for line in text.splitlines()]
    assert any(e.get("type") == "response" and e["request"]["path"] == "auth/approle/login"
               and e.get("error") for e in entries), "the failed login must be audited"
