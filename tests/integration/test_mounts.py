"""Secrets engine mounts (Vault's sys/mounts, Vault's KV v1 API) with hvac against a dev server."""

import hvac
import pytest


def mounts(dev):
    return dev.client.sys.list_mounted_secrets_engines()


def test_dev_mounts(dev_server):
    listing = mounts(dev_server)
    data = listing["data"]
    assert data["secret/"]["type"] == "kv"
    assert data["secret/"]["options"] == {"version": "2"}
    assert data["sys/"]["type"] == "system"
    for entry in data.values():
        assert entry["accessor"]
        assert "config" in entry
    # sys/ responses carry a top-level copy of data
    assert listing["secret/"] == data["secret/"]


def test_enable_use_and_disable(dev_server):
    sys = dev_server.client.sys
    kv = dev_server.client.secrets.kv.v2
    sys.enable_secrets_engine("kv", path="team", description="team secrets", options={"version": "2"})
    entry = mounts(dev_server)["data"]["team/"]
    assert entry["description"] == "team secrets"
    kv.create_or_update_secret("x", {"v": "1"}, mount_point="team")
    assert kv.read_secret_version("x", mount_point="team")["data"]["data"] == {"v": "1"}

    sys.disable_secrets_engine("team")
    assert "team/" not in mounts(dev_server)["data"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version("x", mount_point="team")

    # a new mount at the same path starts empty
    sys.enable_secrets_engine("kv", path="team", options={"version": "2"})
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version("x", mount_point="team")


def test_mounts_are_isolated(dev_server):
    sys = dev_server.client.sys
    kv = dev_server.client.secrets.kv.v2
    sys.enable_secrets_engine("kv", path="one", options={"version": "2"})
    sys.enable_secrets_engine("kv", path="two", options={"version": "2"})
    kv.create_or_update_secret("same", {"v": "one"}, mount_point="one")
    kv.create_or_update_secret("same", {"v": "two"}, mount_point="two")
    assert kv.read_secret_version("same", mount_point="one")["data"]["data"] == {"v": "one"}
    assert kv.read_secret_version("same", mount_point="two")["data"]["data"] == {"v": "two"}
    assert kv.list_secrets("", mount_point="one")["data"]["keys"] == ["same"]


def test_nested_mount_path(dev_server):
    dev_server.client.sys.enable_secrets_engine("kv", path="org/team", options={"version": "2"})
    kv = dev_server.client.secrets.kv.v2
    kv.create_or_update_secret("k", {"v": "nested"}, mount_point="org/team")
    assert kv.read_secret_version("k", mount_point="org/team")["data"]["data"] == {"v": "nested"}
    assert "org/team/" in mounts(dev_server)["data"]


def test_kv_v1_mount(dev_server):
    dev_server.client.sys.enable_secrets_engine("kv", path="kv1")
    entry = mounts(dev_server)["data"]["kv1/"]
    assert entry["type"] == "kv"
    assert (entry.get("options") or {}).get("version", "1") == "1"
    v1 = dev_server.client.secrets.kv.v1
    v1.create_or_update_secret("app/db", {"password": "v1pw"}, mount_point="kv1")
    got = v1.read_secret("app/db", mount_point="kv1")
    assert got["data"] == {"password": "v1pw"}
    assert got["lease_duration"] == 2764800
    assert v1.list_secrets("app", mount_point="kv1")["data"]["keys"] == ["db"]
    v1.delete_secret("app/db", mount_point="kv1")
    with pytest.raises(hvac.exceptions.InvalidPath):
        v1.read_secret("app/db", mount_point="kv1")


def test_path_in_use_is_400(dev_server):
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dev_server.client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    assert mounts(dev_server)["data"]["secret/"]["options"] == {"version": "2"}


@pytest.mark.parametrize("path", ["sys", "auth", "cubbyhole", "identity"])
def test_reserved_paths_are_400(dev_server, path):
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dev_server.client.sys.enable_secrets_engine("kv", path=path, options={"version": "2"})


def test_missing_type_is_400(dev_server):
    resp = dev_server.raw("POST", "/v1/sys/mounts/notype", {"description": "x"})
    assert resp.status == 400
    assert resp.errors()


def test_disable_unknown_mount_is_204(dev_server):
    resp = dev_server.raw("DELETE", "/v1/sys/mounts/never-mounted")
    assert resp.status == 204


def test_tune(dev_server):
    sys = dev_server.client.sys
    cfg = sys.read_mount_configuration("secret")
    cfg = cfg.get("data", cfg)
    assert cfg["default_lease_ttl"] == 2764800
    assert cfg["max_lease_ttl"] == 2764800
    sys.tune_mount_configuration("secret", default_lease_ttl="30m", max_lease_ttl="1h")
    cfg = sys.read_mount_configuration("secret")
    cfg = cfg.get("data", cfg)
    assert cfg["default_lease_ttl"] == 1800
    assert cfg["max_lease_ttl"] == 3600


def test_remount_moves_data(dev_server):
    sys = dev_server.client.sys
    kv = dev_server.client.secrets.kv.v2
    sys.enable_secrets_engine("kv", path="old", options={"version": "2"})
    kv.create_or_update_secret("k", {"v": "moved"}, mount_point="old")
    sys.move_backend("old", "new")
    listing = mounts(dev_server)["data"]
    assert "old/" not in listing and "new/" in listing
    assert kv.read_secret_version("k", mount_point="new")["data"]["data"] == {"v": "moved"}


def test_enable_with_hvac_nulls_and_unknown_fields(dev_server):
    # hvac sends description/config/options/plugin_name as null; unknown fields are ignored
    resp = dev_server.raw("POST", "/v1/sys/mounts/nulls", {
        "type": "kv", "description": None, "config": None, "options": {"version": 2},
        "plugin_name": None, "local": False, "seal_wrap": False, "surprise": "ignored"})
    assert resp.status == 204, resp
    assert mounts(dev_server)["data"]["nulls/"]["options"] == {"version": "2"}


def test_non_root_cannot_mount(dev_server):
    auth = dev_server.client.auth.token.create(policies=["default"], ttl="1h")["auth"]
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.server.client(auth["client_token"]).sys.enable_secrets_engine(
            "kv", path="sneaky", options={"version": "2"})
    assert "sneaky/" not in mounts(dev_server)["data"]
