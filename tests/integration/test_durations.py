"""Durations and TTLs at the edge: every duration parameter is range-checked
(at most 876000h, 100 years; no overflow of seconds or nanoseconds), a bad one
is a 400 that names the field, and nothing is stored. Mount TTLs follow Vault's
rules (api-docs/system/mounts). Also two fidelity points hvac's own test suite
relies on: the "generic" mount type and the check-and-set mismatch."""

import datetime
import json

import hvac
import pytest

from cofferlib import wait_until

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}

# Each is refused by every duration field. The strings overflow an int64 of
# nanoseconds (2200000h: versions were born deleted in 1693), of seconds, or
# simply exceed the 100-year limit; the numbers arrive as JSON numbers.
TOO_LONG = [
    "876001h",
    "36501d",
    "2200000h",
    "9999999999999h",
    "99999999999999999999999h",
    "3153600001",
    "9223372036854775808",
    3153600001,
    9223372036854775807,
    1e300,
]
# Malformed or negative: refused as well (-1 as a number, too).
MALFORMED = [-1, -0.5, "-5s", "1h30", "forever", True]
BAD = TOO_LONG + MALFORMED


def refused(resp, field):
    assert resp.status == 400, (field, resp)
    text = " ".join(resp.errors())
    assert field in text, (field, text)
    return text


def data_of(resp):
    assert resp.status == 200, resp
    return resp.json()["data"]


# ---------------------------------------------------------------- KV v2


def test_kv_metadata_and_config_durations_refused(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/secret/data/app", {"data": {"v": "1"}}).status == 200
    assert dev.raw("POST", "/v1/secret/metadata/app",
                   {"delete_version_after": "1h", "max_versions": 4}).status == 204
    assert dev.raw("POST", "/v1/secret/config", {"delete_version_after": "2h"}).status == 204
    meta_before = data_of(dev.raw("GET", "/v1/secret/metadata/app"))
    cfg_before = data_of(dev.raw("GET", "/v1/secret/config"))
    assert meta_before["delete_version_after"] == "1h0m0s"

    for value in BAD:
        body = {"delete_version_after": value}
        text = refused(dev.raw("POST", "/v1/secret/metadata/app", body), "delete_version_after")
        if value in TOO_LONG:
            assert "876000h" in text, text
        refused(dev.raw("PATCH", "/v1/secret/metadata/app", json.dumps(body), headers=MERGE_PATCH),
                "delete_version_after")
        refused(dev.raw("POST", "/v1/secret/config", body), "delete_version_after")
        # a key that does not exist yet is not created by a refused write
        refused(dev.raw("POST", "/v1/secret/metadata/new-key", body), "delete_version_after")

    assert data_of(dev.raw("GET", "/v1/secret/metadata/app")) == meta_before
    assert data_of(dev.raw("GET", "/v1/secret/config")) == cfg_before
    assert dev.raw("GET", "/v1/secret/metadata/new-key").status == 404


def test_kv_longest_delete_version_after_is_in_the_future(dev_server):
    # The limit itself is accepted, and a version written under it is alive
    # with a deletion time about a century ahead (not an overflow into 1693).
    kv = dev_server.client.secrets.kv.v2
    kv.update_metadata("far", delete_version_after="876000h")
    assert kv.read_secret_metadata("far")["data"]["delete_version_after"] == "876000h0m0s"
    kv.create_or_update_secret("far", {"v": "1"})
    version = kv.read_secret_version("far")["data"]
    assert version["data"] == {"v": "1"}
    deletion = version["metadata"]["deletion_time"]
    year = int(deletion[:4])
    assert year >= datetime.datetime.now(datetime.timezone.utc).year + 99, deletion


def test_kv_cli_delete_version_after_overflow(dev_server, run_cli):
    dev = dev_server
    assert dev.raw("POST", "/v1/secret/metadata/cli", {"delete_version_after": "30m"}).status == 204
    res = run_cli("kv", "metadata", "put", "--delete-version-after=2200000h", "secret/cli",
                  addr=dev.addr, token=dev.token)
    assert res.returncode != 0, res
    assert "delete_version_after" in res.stderr and "876000h" in res.stderr, res.stderr
    assert data_of(dev.raw("GET", "/v1/secret/metadata/cli"))["delete_version_after"] == "30m0s"
    # and a version written afterwards is not born deleted
    assert dev.raw("POST", "/v1/secret/data/cli", {"data": {"v": "1"}}).status == 200
    assert data_of(dev.raw("GET", "/v1/secret/data/cli"))["data"] == {"v": "1"}


# ---------------------------------------------------------------- mounts


def tune_of(dev, path):
    return data_of(dev.raw("GET", f"/v1/{path}/tune"))


@pytest.mark.parametrize("mount", ["sys/mounts/secret", "sys/auth/userpass"])
def test_tune_durations_refused(dev_server, mount):
    dev = dev_server
    assert dev.raw("POST", "/v1/sys/auth/userpass", {"type": "userpass"}).status == 204
    assert dev.raw("POST", f"/v1/{mount}/tune",
                   {"default_lease_ttl": "1h", "max_lease_ttl": "2h"}).status == 204
    before = tune_of(dev, mount)
    assert (before["default_lease_ttl"], before["max_lease_ttl"]) == (3600, 7200)
    for field in ("default_lease_ttl", "max_lease_ttl"):
        for value in BAD:
            refused(dev.raw("POST", f"/v1/{mount}/tune", {field: value}), field)
    # a valid field beside a bad one is not applied either
    refused(dev.raw("POST", f"/v1/{mount}/tune",
                    {"max_lease_ttl": "3h", "default_lease_ttl": "2200000h"}), "default_lease_ttl")
    refused(dev.raw("POST", f"/v1/{mount}/tune", {"description": "changed",
            "user_lockout_config": {"lockout_duration": "2200000h"}}), "lockout_duration")
    assert tune_of(dev, mount) == before


def test_tune_default_above_max_is_refused(dev_server):
    dev = dev_server
    before = tune_of(dev, "sys/mounts/secret")
    r = dev.raw("POST", "/v1/sys/mounts/secret/tune", {"default_lease_ttl": "2h", "max_lease_ttl": "1h"})
    assert r.status == 400, r
    assert r.errors() == ["backend max lease TTL of 3600 would be less than backend default "
                          "lease TTL of 7200"], r.errors()
    assert tune_of(dev, "sys/mounts/secret") == before

    # against the stored value: a max below the stored default, then a default above the max
    assert dev.raw("POST", "/v1/sys/mounts/secret/tune",
                   {"default_lease_ttl": "30m", "max_lease_ttl": "1h"}).status == 204
    assert dev.raw("POST", "/v1/sys/mounts/secret/tune", {"default_lease_ttl": "2h"}).status == 400
    assert dev.raw("POST", "/v1/sys/mounts/secret/tune", {"max_lease_ttl": "10m"}).status == 400
    after = tune_of(dev, "sys/mounts/secret")
    assert (after["default_lease_ttl"], after["max_lease_ttl"]) == (1800, 3600)

    # "system" goes back to the system default (768h), as in Vault
    assert dev.raw("POST", "/v1/sys/mounts/secret/tune",
                   {"default_lease_ttl": "system", "max_lease_ttl": "system"}).status == 204
    after = tune_of(dev, "sys/mounts/secret")
    assert (after["default_lease_ttl"], after["max_lease_ttl"]) == (2764800, 2764800)

    # with the max left to the system, the default is held to the system max
    assert dev.raw("POST", "/v1/sys/mounts/secret/tune", {"max_lease_ttl": 0}).status == 204
    r = dev.raw("POST", "/v1/sys/mounts/secret/tune", {"default_lease_ttl": "800000h"})
    assert r.status == 400, r
    assert "system max lease TTL of 2764800" in r.errors()[0]
    after = tune_of(dev, "sys/mounts/secret")
    assert after["default_lease_ttl"] <= after["max_lease_ttl"] == 2764800


def test_tune_through_hvac(dev_server):
    sys = dev_server.client.sys
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        sys.tune_mount_configuration("secret", default_lease_ttl="9999999999999h")
    assert "default_lease_ttl" in str(exc.value)
    cfg = sys.read_mount_configuration("secret")
    assert cfg["data"]["default_lease_ttl"] == 2764800


@pytest.mark.parametrize("kind,type_", [("mounts", "kv"), ("auth", "userpass")])
def test_enable_config_durations_refused(dev_server, kind, type_):
    dev = dev_server
    listing = f"/v1/sys/{kind}"
    for field in ("default_lease_ttl", "max_lease_ttl"):
        for value in BAD:
            r = dev.raw("POST", f"/v1/sys/{kind}/fresh", {"type": type_, "config": {field: value}})
            refused(r, field)
    refused(dev.raw("POST", f"/v1/sys/{kind}/fresh",
                    {"type": type_, "config": {"user_lockout_config": {"lockout_counter_reset": "2200000h"}}}),
            "lockout_counter_reset")
    assert "fresh/" not in data_of(dev.raw("GET", listing))
    # the same path is still free: a good config enables it
    assert dev.raw("POST", f"/v1/sys/{kind}/fresh",
                   {"type": type_, "config": {"default_lease_ttl": "1h", "max_lease_ttl": "876000h"}}).status == 204
    cfg = data_of(dev.raw("GET", listing))["fresh/"]["config"]
    assert (cfg["default_lease_ttl"], cfg["max_lease_ttl"]) == (3600, 3153600000)


def test_enable_config_follows_vault_rules(dev_server):
    dev = dev_server
    r = dev.raw("POST", "/v1/sys/mounts/a", {"type": "kv", "config": {"default_lease_ttl": "2h", "max_lease_ttl": "1h"}})
    assert r.status == 400 and r.errors() == ["given default lease TTL greater than given max lease TTL"], r
    r = dev.raw("POST", "/v1/sys/mounts/a", {"type": "kv", "config": {"default_lease_ttl": "769h"}})
    assert r.status == 400, r
    assert r.errors() == ["given default lease TTL greater than system max lease TTL of 2764800"], r
    assert "a/" not in data_of(dev.raw("GET", "/v1/sys/mounts"))
    # a default above the system max is fine with a mount max that covers it
    assert dev.raw("POST", "/v1/sys/mounts/a", {"type": "kv", "config": {"default_lease_ttl": "769h",
                                                                       "max_lease_ttl": "800h"}}).status == 204


# ---------------------------------------------------------------- tokens


def accessors(dev):
    return sorted(data_of(dev.raw("LIST", "/v1/auth/token/accessors"))["keys"])


def test_token_create_durations_refused(dev_server):
    dev = dev_server
    before = accessors(dev)
    for field in ("ttl", "explicit_max_ttl", "period"):
        for value in BAD:
            refused(dev.raw("POST", "/v1/auth/token/create", {"policies": ["default"], field: value}), field)
        refused(dev.raw("POST", "/v1/auth/token/create-orphan", {field: "2200000h"}), field)
    assert accessors(dev) == before
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dev.client.auth.token.create(policies=["default"], ttl="2200000h")
    assert accessors(dev) == before


def test_token_role_durations_refused(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/auth/token/roles/app",
                   {"allowed_policies": "default", "token_explicit_max_ttl": "2h", "token_period": "1h"}).status == 204
    before = data_of(dev.raw("GET", "/v1/auth/token/roles/app"))
    for field in ("token_explicit_max_ttl", "explicit_max_ttl", "token_period", "period"):
        for value in BAD:
            refused(dev.raw("POST", "/v1/auth/token/roles/app", {field: value}), field)
            refused(dev.raw("POST", "/v1/auth/token/roles/other", {field: value}), field)
    assert data_of(dev.raw("GET", "/v1/auth/token/roles/app")) == before
    assert dev.raw("GET", "/v1/auth/token/roles/other").status == 404
    # creating a token through the role with a bad ttl is refused too
    before = accessors(dev)
    refused(dev.raw("POST", "/v1/auth/token/create/app", {"ttl": "2200000h"}), "ttl")
    assert accessors(dev) == before


def test_token_renew_increment_refused(dev_server):
    dev = dev_server
    auth = dev.client.auth.token.create(policies=["default"], ttl="1h", renewable=True)["auth"]
    before = data_of(dev.raw("POST", "/v1/auth/token/lookup", {"token": auth["client_token"]}))["expire_time"]
    for value in BAD:
        refused(dev.raw("POST", "/v1/auth/token/renew-self", {"increment": value}, token=auth["client_token"]),
                "increment")
        refused(dev.raw("POST", "/v1/auth/token/renew", {"token": auth["client_token"], "increment": value}),
                "increment")
    after = data_of(dev.raw("POST", "/v1/auth/token/lookup", {"token": auth["client_token"]}))["expire_time"]
    assert after == before


def test_lease_renew_increment_refused(dev_server):
    for value in TOO_LONG + [-1, "-1s"]:
        refused(dev_server.raw("PUT", "/v1/sys/leases/renew", {"lease_id": "secret/none/abc", "increment": value}),
                "increment")


# ---------------------------------------------------------------- auth methods


AUTH_TOKEN_FIELDS = ("token_ttl", "token_max_ttl", "token_period", "token_explicit_max_ttl")


def check_role_fields(dev, path, fields, fresh_path, fresh_body, values=BAD):
    before = data_of(dev.raw("GET", path))
    for field in fields:
        for value in values:
            refused(dev.raw("POST", path, {field: value}), field)
        refused(dev.raw("POST", fresh_path, dict(fresh_body, **{field: "2200000h"})), field)
    assert data_of(dev.raw("GET", path)) == before
    assert dev.raw("GET", fresh_path).status == 404


def test_userpass_user_durations_refused(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/sys/auth/userpass", {"type": "userpass"}).status == 204
    assert dev.raw("POST", "/v1/auth/userpass/users/ann",
                   {"password": "pw-ann-1234", "token_ttl": "1h", "token_max_ttl": "2h"}).status == 204
    check_role_fields(dev, "/v1/auth/userpass/users/ann", AUTH_TOKEN_FIELDS + ("ttl", "max_ttl", "period"),
                      "/v1/auth/userpass/users/bob", {"password": "pw-bob-1234"})
    # the unchanged user still logs in with its old TTL
    login = dev.raw("POST", "/v1/auth/userpass/login/ann", {"password": "pw-ann-1234"}, token=None)
    assert login.status == 200 and login.json()["auth"]["lease_duration"] == 3600, login


def test_approle_durations_refused(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/sys/auth/approle", {"type": "approle"}).status == 204
    assert dev.raw("POST", "/v1/auth/approle/role/app",
                   {"secret_id_ttl": "10m", "token_ttl": "1h", "token_max_ttl": "2h"}).status == 204
    check_role_fields(dev, "/v1/auth/approle/role/app", AUTH_TOKEN_FIELDS + ("secret_id_ttl",),
                      "/v1/auth/approle/role/other", {})
    # a secret ID with an out-of-range ttl is not issued
    for value in BAD:
        refused(dev.raw("POST", "/v1/auth/approle/role/app/secret-id", {"ttl": value}), "ttl")
    assert dev.raw("LIST", "/v1/auth/approle/role/app/secret-id").status == 404


def test_jwt_role_durations_refused(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/sys/auth/jwt", {"type": "jwt"}).status == 204
    assert dev.raw("POST", "/v1/auth/jwt/role/ci", {"role_type": "jwt", "user_claim": "sub",
                                                     "bound_audiences": "coffer", "token_ttl": "15m",
                                                     "max_age": "1h"}).status in (200, 204)
    fresh = {"role_type": "jwt", "user_claim": "sub", "bound_audiences": "coffer"}
    check_role_fields(dev, "/v1/auth/jwt/role/ci", AUTH_TOKEN_FIELDS + ("max_age",),
                      "/v1/auth/jwt/role/other", fresh)
    # leeways take -1 (no leeway at all, as Vault); everything else bad is refused
    check_role_fields(dev, "/v1/auth/jwt/role/ci", ("clock_skew_leeway", "expiration_leeway",
                                                    "not_before_leeway"),
                      "/v1/auth/jwt/role/other", fresh, values=[v for v in BAD if v != -1])


# ---------------------------------------------------------------- engines, rotation


def test_transit_auto_rotate_period_refused(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/sys/mounts/transit", {"type": "transit"}).status == 204
    assert dev.raw("POST", "/v1/transit/keys/k", {"auto_rotate_period": "24h"}).status in (200, 204)
    before = data_of(dev.raw("GET", "/v1/transit/keys/k"))
    for value in TOO_LONG + [-1, "-1h"]:
        refused(dev.raw("POST", "/v1/transit/keys/k/config", {"auto_rotate_period": value}), "auto_rotate_period")
        refused(dev.raw("POST", "/v1/transit/keys/fresh", {"auto_rotate_period": value}), "auto_rotate_period")
    assert data_of(dev.raw("GET", "/v1/transit/keys/k")) == before
    assert dev.raw("GET", "/v1/transit/keys/fresh").status == 404


def test_rotation_job_durations_refused(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/secret/data/app/api", {"data": {"key": "old"}}).status == 200
    base = {"template": "api-key", "mount": "secret/", "path": "app/api", "keys": {"key": {}}}
    for field in ("period", "grace", "jitter"):
        for value in TOO_LONG + [-1, "-1h"]:
            refused(dev.raw("POST", "/v1/sys/rotation/jobs/api", dict(base, **{field: value})), field)
    assert dev.raw("GET", "/v1/sys/rotation/jobs/api").status == 404


def test_database_role_durations_refused(dbe, pg):
    from dblib import ROTATE_SQL, unique

    dbe.create_role("dyn", default_ttl=600, max_ttl=3600)
    before = data_of(dbe.raw("GET", "/v1/database/roles/dyn"))
    for field in ("default_ttl", "max_ttl"):
        for value in BAD:
            refused(dbe.raw("POST", "/v1/database/roles/dyn", {"db_name": "pg", field: value,
                                                               "creation_statements": before["creation_statements"]}),
                    field)
            refused(dbe.raw("POST", "/v1/database/roles/fresh", {"db_name": "pg", field: value,
                                                                 "creation_statements": before["creation_statements"]}),
                    field)
    assert data_of(dbe.raw("GET", "/v1/database/roles/dyn")) == before
    assert dbe.raw("GET", "/v1/database/roles/fresh").status == 404

    user = unique("dur_")
    pg.create_role(user, password="p0-" + user)
    base = {"db_name": "pg", "username": user, "rotation_statements": ROTATE_SQL}
    for field, extra in (("rotation_period", {}), ("grace", {"rotation_period": 3600}),
                         ("rotation_window", {"rotation_schedule": "0 0 * * *"})):
        for value in TOO_LONG + [-1, "-1h"]:
            refused(dbe.raw("POST", "/v1/database/static-roles/st", dict(base, **extra, **{field: value})), field)
    assert dbe.raw("GET", "/v1/database/static-roles/st").status == 404
    assert dbe.raw("POST", "/v1/database/static-roles/st", dict(base, rotation_period=3600)).status in (200, 204)
    before = data_of(dbe.raw("GET", "/v1/database/static-roles/st"))
    for value in TOO_LONG + [-1]:
        refused(dbe.raw("POST", "/v1/database/rotate-role/st", {"grace": value}), "grace")
    after = data_of(dbe.raw("GET", "/v1/database/static-roles/st"))
    # ttl counts down to the next rotation: a second may pass between the reads
    assert before["ttl"] - 2 <= after.pop("ttl") <= before.pop("ttl")
    assert after == before


def test_reencrypt_interval_in_seconds_cannot_wrap(dev_server):
    # 18446744073709552 s is 384 ms once multiplied by 1000 in 64 bits
    for value in (18446744073709552, 9223372036854775807, 61, -1, "876001h"):
        r = dev_server.raw("POST", "/v1/sys/rotate/reencrypt", {"interval": value})
        assert r.status == 400 and "interval" in " ".join(r.errors()), (value, r)
    st = data_of(dev_server.raw("GET", "/v1/sys/rotate/reencrypt"))
    assert st.get("state") in (None, "", "idle", "none"), st


# ---------------------------------------------------------------- hvac fidelity


def test_generic_mount_is_kv_v1_through_hvac(dev_server):
    client = dev_server.client
    client.sys.enable_secrets_engine(backend_type="generic", path="legacy")
    entry = client.sys.list_mounted_secrets_engines()["data"]["legacy/"]
    assert entry["type"] == "generic"  # Vault keeps the name it was enabled with
    kv1 = client.secrets.kv.v1
    kv1.create_or_update_secret("app/db", {"password": "pw1"}, mount_point="legacy")
    assert kv1.read_secret("app/db", mount_point="legacy")["data"] == {"password": "pw1"}
    assert kv1.list_secrets("app", mount_point="legacy")["data"]["keys"] == ["db"]
    # KV v1 semantics: no versions, a write replaces the secret
    kv1.create_or_update_secret("app/db", {"password": "pw2"}, mount_point="legacy")
    assert kv1.read_secret("app/db", mount_point="legacy")["data"] == {"password": "pw2"}
    assert dev_server.raw("GET", "/v1/legacy/data/app/db").status == 404
    kv1.delete_secret("app/db", mount_point="legacy")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv1.read_secret("app/db", mount_point="legacy")
    cfg = client.sys.read_mount_configuration("legacy")["data"]
    assert cfg["default_lease_ttl"] == 2764800


def test_generic_mount_survives_restart(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client(srv.root_token)
    client.sys.enable_secrets_engine(backend_type="generic", path="legacy")
    client.secrets.kv.v1.create_or_update_secret("k", {"v": "kept"}, mount_point="legacy")
    srv.restart()
    srv.unseal(srv.keys[:3])
    client = srv.client(srv.root_token)
    assert client.sys.list_mounted_secrets_engines()["data"]["legacy/"]["type"] == "generic"
    assert client.secrets.kv.v1.read_secret("k", mount_point="legacy")["data"] == {"v": "kept"}


CAS_MISMATCH = "check-and-set parameter did not match the current version"


def test_cas_mismatch_through_hvac(dev_server):
    kv = dev_server.client.secrets.kv.v2
    kv.create_or_update_secret("cas", {"v": "1"})
    kv.create_or_update_secret("cas", {"v": "2"})
    for cas in (-1, 0, 1, 3, 99, 2**62):
        with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
            kv.create_or_update_secret("cas", {"v": "bad"}, cas=cas)
        assert CAS_MISMATCH in str(exc.value), (cas, str(exc.value))
    version = kv.read_secret_version("cas")["data"]
    assert version["data"] == {"v": "2"} and version["metadata"]["version"] == 2
    assert kv.create_or_update_secret("cas", {"v": "3"}, cas=2)["data"]["version"] == 3


def test_cas_mismatch_raw_http(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/secret/data/c", {"data": {"v": "1"}}).status == 200
    for cas in (-1, -2**63, 2, "-1", "5"):
        r = dev.raw("POST", "/v1/secret/data/c", {"data": {"v": "x"}, "options": {"cas": cas}})
        assert r.status == 400 and r.errors() == [CAS_MISMATCH], (cas, r)
        r = dev.raw("PATCH", "/v1/secret/data/c", json.dumps({"data": {"v": "x"}, "options": {"cas": cas}}),
                    headers=MERGE_PATCH)
        assert r.status == 400 and r.errors() == [CAS_MISMATCH], (cas, r)
    # a key that does not exist: only 0 matches
    r = dev.raw("POST", "/v1/secret/data/none", {"data": {"v": "x"}, "options": {"cas": -1}})
    assert r.status == 400 and r.errors() == [CAS_MISMATCH], r
    assert dev.raw("GET", "/v1/secret/metadata/none").status == 404
    meta = data_of(dev.raw("GET", "/v1/secret/metadata/c"))
    assert meta["current_version"] == 1
    r = dev.raw("POST", "/v1/secret/data/c", {"data": {"v": "x"}, "options": {"cas": "one"}})
    assert r.status == 400 and "cas" in " ".join(r.errors()), r
