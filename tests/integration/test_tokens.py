"""Token auth method (Vault's token auth API) with hvac's auth.token API against a dev server."""

import hvac
import pytest

from cofferlib import wait_until

CREATOR_POLICY = """
path "auth/token/create" {
  capabilities = ["update"]
}
"""


def new_token(dev, **kw):
    kw.setdefault("policies", ["default"])
    return dev.client.auth.token.create(**kw)["auth"]


def token_works(dev, token):
    try:
        dev.server.client(token).auth.token.lookup_self()
        return True
    except hvac.exceptions.Forbidden:
        return False


def test_create_returns_auth_block(dev_server):
    auth = dev_server.client.auth.token.create(policies=["default"], ttl="1h", meta={"team": "a"})["auth"]
    assert auth["client_token"].startswith("hvs.")
    assert len(auth["client_token"]) >= 4 + 24
    assert auth["accessor"] and auth["accessor"] != auth["client_token"]
    assert auth["policies"] == ["default"]
    assert auth["token_policies"] == ["default"]
    assert auth["lease_duration"] == 3600
    assert auth["renewable"] is True
    assert auth["metadata"] == {"team": "a"}
    assert auth["orphan"] is False
    assert auth["token_type"] == "service"


def test_lookup(dev_server):
    auth = new_token(dev_server, ttl="1h", display_name="web")
    info = dev_server.client.auth.token.lookup(auth["client_token"])["data"]
    assert info["id"] == auth["client_token"]
    assert info["accessor"] == auth["accessor"]
    assert info["policies"] == ["default"]
    assert info["display_name"] == "token-web"
    assert info["path"] == "auth/token/create"
    assert 3500 <= info["ttl"] <= 3600
    assert info["creation_ttl"] == 3600
    assert info["renewable"] is True
    assert info["orphan"] is False
    assert info["type"] == "service"
    assert isinstance(info["creation_time"], int)


def test_lookup_self_and_accessor(dev_server):
    auth = new_token(dev_server, ttl="1h")
    me = dev_server.server.client(auth["client_token"]).auth.token.lookup_self()["data"]
    assert me["id"] == auth["client_token"]
    by_accessor = dev_server.client.auth.token.lookup_accessor(auth["accessor"])["data"]
    assert by_accessor["id"] == ""
    assert by_accessor["accessor"] == auth["accessor"]
    assert by_accessor["policies"] == ["default"]


def test_lookup_unknown_token_is_403(dev_server):
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client.auth.token.lookup("hvs.doesnotexist0000000000000000")


def test_root_token_lookup(dev_server):
    me = dev_server.client.auth.token.lookup_self()["data"]
    assert me["id"] == dev_server.token
    assert me["policies"] == ["root"]
    assert me["ttl"] == 0
    assert me["expire_time"] is None


def test_renew(dev_server):
    auth = new_token(dev_server, ttl="1h")
    renewed = dev_server.client.auth.token.renew(auth["client_token"], increment="2h")["auth"]
    assert renewed["client_token"] == auth["client_token"]
    assert 7100 <= renewed["lease_duration"] <= 7200
    info = dev_server.client.auth.token.lookup(auth["client_token"])["data"]
    assert info["ttl"] > 3600


def test_renew_self(dev_server):
    auth = new_token(dev_server, ttl="10m")
    renewed = dev_server.server.client(auth["client_token"]).auth.token.renew_self(increment=3600)["auth"]
    assert 3500 <= renewed["lease_duration"] <= 3600
    assert renewed["renewable"] is True


def test_renew_accessor(dev_server):
    auth = new_token(dev_server, ttl="10m")
    renewed = dev_server.client.auth.token.renew_accessor(auth["accessor"], increment="1h")["auth"]
    assert renewed["client_token"] == ""
    assert 3500 <= renewed["lease_duration"] <= 3600


def test_renew_capped_by_explicit_max_ttl(dev_server):
    auth = new_token(dev_server, ttl="10m", explicit_max_ttl="20m")
    renewed = dev_server.client.auth.token.renew(auth["client_token"], increment="2h")["auth"]
    assert renewed["lease_duration"] <= 1200


def test_non_renewable_token_cannot_renew(dev_server):
    auth = new_token(dev_server, ttl="1h", renewable=False)
    assert auth["renewable"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dev_server.client.auth.token.renew(auth["client_token"], increment="2h")


def test_revoke(dev_server):
    auth = new_token(dev_server, ttl="1h")
    assert token_works(dev_server, auth["client_token"])
    dev_server.client.auth.token.revoke(auth["client_token"])
    assert not token_works(dev_server, auth["client_token"])
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client.auth.token.lookup(auth["client_token"])
    # revoking again is idempotent
    dev_server.client.auth.token.revoke(auth["client_token"])


def test_revoke_self(dev_server):
    auth = new_token(dev_server, ttl="1h")
    dev_server.server.client(auth["client_token"]).auth.token.revoke_self()
    assert not token_works(dev_server, auth["client_token"])


def test_revoke_accessor(dev_server):
    auth = new_token(dev_server, ttl="1h")
    dev_server.client.auth.token.revoke_accessor(auth["accessor"])
    assert not token_works(dev_server, auth["client_token"])


def test_child_is_revoked_with_parent(dev_server):
    dev_server.client.sys.create_or_update_policy("creator", CREATOR_POLICY)
    parent = new_token(dev_server, policies=["creator"], ttl="1h")
    parent_client = dev_server.server.client(parent["client_token"])
    child = parent_client.auth.token.create(ttl="30m")["auth"]
    grandchild = dev_server.server.client(child["client_token"]).auth.token.create(ttl="10m")["auth"]
    sibling = new_token(dev_server, ttl="1h")  # root's child, unrelated

    child_info = dev_server.client.auth.token.lookup(child["client_token"])["data"]
    assert child_info["orphan"] is False
    assert sorted(child_info["policies"]) == ["creator", "default"]

    dev_server.client.auth.token.revoke(parent["client_token"])
    assert not token_works(dev_server, parent["client_token"])
    assert not token_works(dev_server, child["client_token"])
    assert not token_works(dev_server, grandchild["client_token"])
    # the child's accessor went with it (Vault answers 400 "invalid accessor")
    gone = dev_server.raw("POST", "/v1/auth/token/lookup-accessor", {"accessor": child["accessor"]})
    assert gone.status in (400, 403), gone
    assert token_works(dev_server, sibling["client_token"])


def test_revoke_orphan_keeps_children(dev_server):
    dev_server.client.sys.create_or_update_policy("creator", CREATOR_POLICY)
    parent = new_token(dev_server, policies=["creator"], ttl="1h")
    child = dev_server.server.client(parent["client_token"]).auth.token.create(ttl="30m")["auth"]
    dev_server.client.auth.token.revoke_and_orphan_children(parent["client_token"])
    assert not token_works(dev_server, parent["client_token"])
    assert token_works(dev_server, child["client_token"])
    assert dev_server.client.auth.token.lookup(child["client_token"])["data"]["orphan"] is True


def test_orphan_token(dev_server):
    auth = new_token(dev_server, ttl="1h", no_parent=True)
    assert auth["orphan"] is True
    assert dev_server.client.auth.token.lookup(auth["client_token"])["data"]["orphan"] is True


def test_two_second_token_stops_working(dev_server):
    auth = new_token(dev_server, ttl="2s")
    assert auth["lease_duration"] == 2
    token = auth["client_token"]
    assert token_works(dev_server, token)
    wait_until(lambda: not token_works(dev_server, token), timeout=10, interval=0.1,
               what="a 2-second token to expire")
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.server.client(token).secrets.kv.v2.read_secret_version("anything")
    # an expired token behaves as unknown everywhere
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client.auth.token.lookup(token)


def test_num_uses(dev_server):
    auth = new_token(dev_server, ttl="1h", num_uses=2)
    client = dev_server.server.client(auth["client_token"])
    client.auth.token.lookup_self()
    client.auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup_self()


def test_no_default_policy(dev_server):
    auth = dev_server.client.auth.token.create(policies=["extra"], no_default_policy=True, ttl="1h")["auth"]
    assert auth["policies"] == ["extra"]
    # without `default` the token cannot even look itself up
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.server.client(auth["client_token"]).auth.token.lookup_self()


def test_policy_names_are_normalized(dev_server):
    auth = dev_server.client.auth.token.create(policies=["B", " a ", "a"], ttl="1h")["auth"]
    assert auth["token_policies"] == ["a", "b", "default"]


def test_custom_id_by_root(dev_server):
    auth = dev_server.client.auth.token.create(id="my-custom-token", policies=["default"], ttl="1h")["auth"]
    assert auth["client_token"] == "my-custom-token"
    assert token_works(dev_server, "my-custom-token")


def test_list_accessors(dev_server):
    auth = new_token(dev_server, ttl="1h")
    keys = dev_server.client.auth.token.list_accessors()["data"]["keys"]
    assert auth["accessor"] in keys


def test_default_policy_cannot_create_tokens(dev_server):
    auth = new_token(dev_server, ttl="1h")
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.server.client(auth["client_token"]).auth.token.create(ttl="1h")


def test_is_authenticated(dev_server):
    assert dev_server.client.is_authenticated() is True
    assert dev_server.server.client("hvs.bogus0000000000000000000000").is_authenticated() is False


def test_role_token_bound_cidrs_enforced(dev_server):
    adapter = dev_server.client.adapter
    adapter.post("/v1/auth/token/roles/local", json={"token_bound_cidrs": ["127.0.0.1/32"]})
    adapter.post("/v1/auth/token/roles/far", json={"token_bound_cidrs": "10.0.0.0/8,192.168.0.0/16"})
    local = dev_server.client.auth.token.create(role_name="local", policies=["default"])["auth"]
    far = dev_server.client.auth.token.create(role_name="far", policies=["default"])["auth"]
    # the test talks from 127.0.0.1: inside the first role's block only
    assert token_works(dev_server, local["client_token"])
    assert not token_works(dev_server, far["client_token"])
    resp = dev_server.raw("POST", "/v1/auth/token/roles/bad", {"token_bound_cidrs": ["10.0.0.0/33"]})
    assert resp.status == 400 and "10.0.0.0/33" in resp.errors()[0]
