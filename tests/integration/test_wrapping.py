"""Response wrapping and the cubbyhole engine (Vault's concepts/response-wrapping,
api-docs/system/wrapping-*, secrets/cubbyhole): X-Vault-Wrap-TTL on reads, writes
and logins, single-use wrapping tokens, sys/wrapping/wrap|unwrap|lookup|rewrap,
expiry, audit, `coffer write --wrap-ttl` and `coffer unwrap`, the AppRole
wrapped secret ID flow, and per-token cubbyholes purged on revocation. hvac drives
the server; node-vault's round trip is in node/test/wrapping.test.js."""

import json
import sqlite3

import hvac
import pytest

from cofferlib import make_client, wait_until

INVALID = "wrapping token is not valid or does not exist"


def wrap_header(ttl):
    return {"X-Vault-Wrap-TTL": str(ttl)}


def wrapped_read(dev, path, ttl="5m"):
    res = dev.raw("GET", f"/v1/{path}", headers=wrap_header(ttl))
    assert res.status == 200, res
    return res.json()


def test_hvac_read_wrapped_then_unwrapped_once(dev_server):
    c = dev_server.client
    c.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"password": "s3cr3t-wrap"})
    resp = c.read("secret/data/app/db", wrap_ttl="5m")
    info = resp["wrap_info"]
    assert resp["data"] is None and resp["auth"] is None
    assert "s3cr3t-wrap" not in json.dumps(resp)
    assert info["ttl"] == 300
    assert info["creation_path"] == "secret/data/app/db"
    assert info["token"].startswith("hvs.") and info["accessor"]
    assert info["creation_time"].endswith("Z")

    # the wrapping token is the client token (hvac's unwrap without argument)
    holder = make_client(dev_server.addr, token=info["token"])
    out = holder.sys.unwrap()
    assert out["data"]["data"] == {"password": "s3cr3t-wrap"}
    assert out["data"]["metadata"]["version"] == 1

    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        holder.sys.unwrap()
    assert INVALID in str(exc.value)
    # nor by anyone else with the token in the body
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.sys.unwrap(token=info["token"])


def test_unwrap_with_token_in_body_needs_the_callers_capability(dev_server):
    c = dev_server.client
    c.secrets.kv.v2.create_or_update_secret(path="k", secret={"v": "body-token"})
    token = wrapped_read(dev_server, "secret/data/k")["wrap_info"]["token"]

    c.sys.create_or_update_policy("nothing", 'path "secret/*" { capabilities = ["read"] }')
    weak = c.auth.token.create(policies=["nothing"], no_default_policy=True)["auth"]["client_token"]
    res = dev_server.raw("POST", "/v1/sys/wrapping/unwrap", {"token": token}, token=weak)
    assert res.status == 403, res
    res = dev_server.raw("POST", "/v1/sys/wrapping/unwrap", {"token": token}, token=None)
    assert res.status == 403, res

    # refused callers did not spend the single use: a default-policy token unwraps
    user = c.auth.token.create(policies=["default"])["auth"]["client_token"]
    out = make_client(dev_server.addr, token=user).sys.unwrap(token=token)
    assert out["data"]["data"] == {"v": "body-token"}


def test_concurrent_unwraps_exactly_one_wins(dev_server):
    from concurrent.futures import ThreadPoolExecutor

    for round_ in range(3):
        token = dev_server.raw("POST", "/v1/sys/wrapping/wrap", {"n": str(round_)},
                               headers=wrap_header("5m")).json()["wrap_info"]["token"]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(
                lambda _: dev_server.raw("POST", "/v1/sys/wrapping/unwrap", {"token": token}),
                range(8)))
        ok = [r for r in results if r.status == 200]
        assert len(ok) == 1, [r.status for r in results]
        assert ok[0].json()["data"] == {"n": str(round_)}
        assert all(r.status == 400 for r in results if r.status != 200)


def test_lookup_shows_properties_without_the_data(dev_server):
    res = dev_server.raw("POST", "/v1/sys/wrapping/wrap", {"api_key": "lookup-hidden"},
                         headers=wrap_header("90s"))
    assert res.status == 200, res
    token = res.json()["wrap_info"]["token"]
    assert res.json()["wrap_info"]["creation_path"] == "sys/wrapping/wrap"

    look = dev_server.raw("POST", "/v1/sys/wrapping/lookup", {"token": token}, token=None)
    assert look.status == 200, look
    assert look.json()["data"]["creation_ttl"] == 90
    assert look.json()["data"]["creation_path"] == "sys/wrapping/wrap"
    assert look.json()["data"]["creation_time"].endswith("Z")
    assert "lookup-hidden" not in look.text
    # lookups do not spend the token
    for _ in range(2):
        assert dev_server.raw("POST", "/v1/sys/wrapping/lookup", {"token": token}).status == 200
    out = make_client(dev_server.addr, token=token).sys.unwrap()
    assert out["data"] == {"api_key": "lookup-hidden"}
    look = dev_server.raw("POST", "/v1/sys/wrapping/lookup", {"token": token}, token=None)
    assert look.status == 400 and INVALID in look.errors()[0]


def test_wrap_needs_a_ttl_and_rewrap_moves_the_data(dev_server):
    res = dev_server.raw("POST", "/v1/sys/wrapping/wrap", {"a": "b"})
    assert res.status == 400 and "X-Vault-Wrap-TTL" in res.errors()[0]

    old = dev_server.raw("POST", "/v1/sys/wrapping/wrap", {"moved": "yes"},
                         headers=wrap_header("10m")).json()["wrap_info"]
    new = dev_server.raw("POST", "/v1/sys/wrapping/rewrap", {"token": old["token"]})
    assert new.status == 200, new
    new = new.json()["wrap_info"]
    assert new["token"] != old["token"] and new["ttl"] == 600
    assert new["creation_path"] == "sys/wrapping/wrap"
    res = dev_server.raw("POST", "/v1/sys/wrapping/unwrap", {"token": old["token"]})
    assert res.status == 400 and INVALID in res.errors()[0]
    assert dev_server.client.sys.unwrap(token=new["token"])["data"] == {"moved": "yes"}


def test_wrapping_token_is_good_for_nothing_else(dev_server):
    c = dev_server.client
    c.secrets.kv.v2.create_or_update_secret(path="only", secret={"x": "1"})
    token = wrapped_read(dev_server, "secret/data/only")["wrap_info"]["token"]
    for method, path in [("GET", "/v1/secret/data/only"), ("GET", "/v1/auth/token/lookup-self"),
                         ("GET", "/v1/cubbyhole/response"), ("POST", "/v1/auth/token/create"),
                         ("POST", "/v1/sys/wrapping/wrap")]:
        res = dev_server.raw(method, path, {} if method == "POST" else None, token=token)
        assert res.status == 403, (path, res)
    look = dev_server.raw("POST", "/v1/auth/token/lookup", {"token": token})
    assert look.status == 200
    assert look.json()["data"]["policies"] == ["response-wrapping"]
    assert look.json()["data"]["num_uses"] == 1
    assert make_client(dev_server.addr, token=token).sys.unwrap()["data"]["data"] == {"x": "1"}


def test_expired_wrapping_token_is_refused(dev_server):
    res = dev_server.raw("POST", "/v1/sys/wrapping/wrap", {"late": "value"},
                         headers=wrap_header(1))
    token = res.json()["wrap_info"]["token"]
    wait_until(lambda: dev_server.raw("POST", "/v1/sys/wrapping/lookup",
                                      {"token": token}).status == 400,
               timeout=10, what="the wrapping token to expire")
    res = dev_server.raw("POST", "/v1/sys/wrapping/unwrap", {"token": token})
    assert res.status == 400 and INVALID in res.errors()[0]
    assert "value" not in res.text


def test_bad_wrap_ttl_is_refused_before_anything_happens(dev_server):
    for bad in ["abc", "-5", "0"]:
        res = dev_server.raw("POST", "/v1/secret/data/never", {"data": {"a": "b"}},
                             headers=wrap_header(bad))
        assert res.status == 400, (bad, res)
        assert "wrap TTL" in res.errors()[0]
    res = dev_server.raw("POST", "/v1/secret/data/never", {"data": {"a": "b"}},
                         headers=wrap_header("800h"))
    assert res.status == 400 and "max TTL" in res.errors()[0]
    assert dev_server.raw("GET", "/v1/secret/data/never").status == 404
    # a mount with a lower max refuses a wrap TTL above it
    dev_server.client.sys.enable_secrets_engine("kv", path="short", config={"max_lease_ttl": "1h"})
    dev_server.raw("POST", "/v1/short/x", {"a": "b"})
    assert dev_server.raw("GET", "/v1/short/x", headers=wrap_header("2h")).status == 400
    assert dev_server.raw("GET", "/v1/short/x", headers=wrap_header("30m")).status == 200


def test_nothing_to_wrap_answers_as_usual(dev_server):
    # a 204 (nothing to hand over) and an error are not wrapped
    res = dev_server.raw("POST", "/v1/sys/policies/acl/p", {"policy": 'path "a" {capabilities=["read"]}'},
                         headers=wrap_header("5m"))
    assert res.status == 204, res
    res = dev_server.raw("GET", "/v1/secret/data/missing", headers=wrap_header("5m"))
    assert res.status == 404 and b"wrap_info\":{" not in res.body


def test_wrapped_login_carries_the_wrapped_accessor(dev_server):
    c = dev_server.client
    c.sys.enable_auth_method("userpass")
    c.write("auth/userpass/users/alice", password="pw-alice", token_policies="default")
    res = dev_server.raw("POST", "/v1/auth/userpass/login/alice", {"password": "pw-alice"},
                         token=None, headers=wrap_header("2m"))
    assert res.status == 200, res
    info = res.json()["wrap_info"]
    assert res.json()["auth"] is None
    assert info["wrapped_accessor"]
    out = c.sys.unwrap(token=info["token"])
    assert out["auth"]["accessor"] == info["wrapped_accessor"]
    user = make_client(dev_server.addr, token=out["auth"]["client_token"])
    assert user.auth.token.lookup_self()["data"]["display_name"] == "userpass-alice"


def test_approle_wrapped_secret_id_hvac_and_cli(dev_server, run_cli):
    c = dev_server.client
    c.sys.enable_auth_method("approle")
    c.sys.create_or_update_policy("ci", 'path "secret/data/ci" { capabilities = ["read"] }')
    c.write("auth/approle/role/ci", token_policies="ci")
    c.secrets.kv.v2.create_or_update_secret(path="ci", secret={"deploy": "key-1"})
    role_id = c.read("auth/approle/role/ci/role-id")["data"]["role_id"]

    # hvac: write with wrap_ttl, unwrap, log in
    wrapped = c.write("auth/approle/role/ci/secret-id", wrap_ttl="5m")
    assert wrapped["wrap_info"]["creation_path"] == "auth/approle/role/ci/secret-id"
    assert wrapped["data"] is None
    secret_id = make_client(dev_server.addr, token=wrapped["wrap_info"]["token"]).sys.unwrap()["data"]["secret_id"]
    login = make_client(dev_server.addr).auth.approle.login(role_id=role_id, secret_id=secret_id)
    app = make_client(dev_server.addr, token=login["auth"]["client_token"])
    assert app.secrets.kv.v2.read_secret_version(path="ci")["data"]["data"] == {"deploy": "key-1"}

    # the CLI: the table, then --field=wrapping_token, then coffer unwrap (twice)
    env = dict(addr=dev_server.addr, token=dev_server.token)
    out = run_cli("write", "--wrap-ttl=5m", "auth/approle/role/ci/secret-id", **env)
    assert out.returncode == 0, out.stderr
    assert "wrapping_token " in out.stdout and "wrapping_token_ttl" in out.stdout
    assert "5m" in out.stdout and "secret_id " not in out.stdout
    out = run_cli("write", "--wrap-ttl=5m", "--field=wrapping_token",
                  "auth/approle/role/ci/secret-id", **env)
    assert out.returncode == 0, out.stderr
    wtoken = out.stdout.strip()
    assert wtoken.startswith("hvs.")
    out = run_cli("unwrap", "--field=secret_id", wtoken, **env)
    assert out.returncode == 0, out.stderr
    cli_secret_id = out.stdout.strip()
    login = make_client(dev_server.addr).auth.approle.login(role_id=role_id, secret_id=cli_secret_id)
    assert login["auth"]["policies"] == ["ci", "default"]
    out = run_cli("unwrap", wtoken, **env)
    assert out.returncode != 0 and INVALID in out.stderr

    # read --wrap-ttl, unwrapped with the wrapping token as the client token, as JSON
    out = run_cli("read", "--wrap-ttl=60", "--field=wrapping_token", "secret/data/ci", **env)
    out = run_cli("unwrap", "--format=json", addr=dev_server.addr, token=out.stdout.strip())
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["data"]["data"] == {"deploy": "key-1"}
    out = run_cli("write", "--wrap-ttl=nope", "auth/approle/role/ci/secret-id", **env)
    assert out.returncode != 0 and "wrap TTL" in out.stderr


def test_wrapped_answers_are_audited_hmacd(dev_server, tmp_path):
    log = tmp_path / "audit.log"
    dev_server.client.sys.enable_audit_device("file", options={"file_path": str(log)})
    dev_server.client.secrets.kv.v2.create_or_update_secret(path="aud", secret={"pw": "audited-value-9"})
    info = wrapped_read(dev_server, "secret/data/aud")["wrap_info"]
    out = dev_server.client.sys.unwrap(token=info["token"])
    assert out["data"]["data"]["pw"] == "audited-value-9"
    text = log.read_text()
    assert "audited-value-9" not in text
    assert info["token"] not in text
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    wrapped = [e for e in entries if e.get("type") == "response"
               and e["request"].get("path") == "secret/data/aud" and "wrap_info" in e["response"]]
    assert wrapped, "the wrapped answer's response entry names its wrap_info"
    assert wrapped[-1]["response"]["wrap_info"]["token"].startswith("hmac-sha256:")
    unwrapped = [e for e in entries if e.get("type") == "response"
                 and e["request"].get("path") == "sys/wrapping/unwrap"]
    assert unwrapped[-1]["response"]["data"]["data"]["pw"].startswith("hmac-sha256:")


# ---------------------------------------------------------------------------
# cubbyhole


def test_cubbyhole_is_mounted_and_cannot_be_removed(dev_server):
    mounts = dev_server.client.sys.list_mounted_secrets_engines()
    mounts = mounts.get("data", mounts)
    assert mounts["cubbyhole/"]["type"] == "cubbyhole"
    res = dev_server.raw("DELETE", "/v1/sys/mounts/cubbyhole")
    assert res.status == 400, res
    res = dev_server.raw("POST", "/v1/sys/mounts/other", {"type": "cubbyhole"})
    assert res.status == 400, res
    res = dev_server.raw("POST", "/v1/sys/mounts/cubbyhole", {"type": "kv"})
    assert res.status == 400, res


def test_cubbyhole_is_private_to_each_token(dev_server):
    c = dev_server.client
    a = c.auth.token.create(policies=["default"])["auth"]["client_token"]
    b = c.auth.token.create(policies=["default"])["auth"]["client_token"]
    ca, cb = make_client(dev_server.addr, token=a), make_client(dev_server.addr, token=b)
    ca.write("cubbyhole/app/cfg", password="only-for-a")
    cb.write("cubbyhole/app/cfg", password="only-for-b")
    assert ca.read("cubbyhole/app/cfg")["data"] == {"password": "only-for-a"}
    assert cb.read("cubbyhole/app/cfg")["data"] == {"password": "only-for-b"}
    assert ca.list("cubbyhole/app")["data"]["keys"] == ["cfg"]
    assert ca.list("cubbyhole/")["data"]["keys"] == ["app/"]
    # root has its own (empty) cubbyhole and sees neither
    assert c.read("cubbyhole/app/cfg") is None
    assert dev_server.raw("LIST", "/v1/cubbyhole/").status == 404
    # delete is per token too
    cb.delete("cubbyhole/app/cfg")
    assert cb.read("cubbyhole/app/cfg") is None
    assert ca.read("cubbyhole/app/cfg")["data"] == {"password": "only-for-a"}
    res = dev_server.raw("POST", "/v1/cubbyhole/empty", {}, token=a)
    assert res.status == 400
    assert dev_server.raw("GET", "/v1/cubbyhole/app/cfg", token=None).status == 403


def cubby_rows(db_path):
    with sqlite3.connect(db_path) as db:
        return [k for (k,) in db.execute("SELECT key FROM kv WHERE key LIKE 'cubbyhole/%'")]


def test_cubbyhole_dies_with_its_token(unsealed_sqlite):
    srv = unsealed_sqlite
    c = srv.client(srv.root_token)
    a = c.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    keep = c.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    short = c.auth.token.create(policies=["default"], ttl="2s")["auth"]["client_token"]
    for tok in (a, keep, short):
        make_client(srv.addr, token=tok).write("cubbyhole/x", v="cubby-secret-value")
    assert len(cubby_rows(srv.db_path)) == 3
    raw = open(srv.db_path, "rb").read()
    assert b"cubby-secret-value" not in raw  # stored through the barrier

    c.auth.token.revoke(a)
    assert len(cubby_rows(srv.db_path)) == 2
    # expiry removes it too (the store revokes an expired token when it sees it)
    wait_until(lambda: srv.raw("GET", "/v1/auth/token/lookup-self", token=short).status == 403,
               timeout=15, what="the short token to expire")
    assert len(cubby_rows(srv.db_path)) == 1
    assert make_client(srv.addr, token=keep).read("cubbyhole/x")["data"] == {"v": "cubby-secret-value"}

    # and it survives a restart for the living token
    srv.restart()
    srv.unseal()
    assert make_client(srv.addr, token=keep).read("cubbyhole/x")["data"] == {"v": "cubby-secret-value"}
