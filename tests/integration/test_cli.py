"""The `coffer` client commands (docs/cli.md) against a real server, configured
through COFFER_ADDR / COFFER_TOKEN (falling back to VAULT_ADDR / VAULT_TOKEN)."""

import json
import re

import hvac
import pytest

from cofferlib import find_key

TOKEN_RE = re.compile(r"hvs\.[A-Za-z0-9]{24,}")


def find_dict_with(obj, wanted):
    """True if some dict nested in obj contains all items of `wanted`."""
    if isinstance(obj, dict):
        if all(obj.get(k) == v for k, v in wanted.items()):
            return True
        return any(find_dict_with(v, wanted) for v in obj.values())
    if isinstance(obj, list):
        return any(find_dict_with(v, wanted) for v in obj)
    return False


@pytest.fixture
def cli(run_cli, dev_server):
    """cli(*args, token=<root by default>, **kw) against the dev server."""

    def run(*args, token="__root__", **kw):
        if token == "__root__":
            token = dev_server.token
        return run_cli(*args, addr=dev_server.addr, token=token, **kw)

    return run


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    return res


def test_version(run_cli):
    res = ok(run_cli("--version"))
    assert res.stdout.strip()


def test_unknown_command_is_usage_error(run_cli):
    res = run_cli("no-such-command")
    assert res.returncode == 2
    assert res.stderr.startswith("coffer: ")


def test_kv_put_then_get_field(cli, dev_server):
    ok(cli("kv", "put", "secret/app/db", "password=x", "user=y"))
    res = ok(cli("kv", "get", "--field=password", "secret/app/db"))
    assert res.stdout.strip() == "x"
    got = dev_server.client.secrets.kv.v2.read_secret_version("app/db")["data"]
    assert got["data"] == {"password": "x", "user": "y"}


def test_kv_get_format_json(cli):
    ok(cli("kv", "put", "secret/app/db", "password=x", "user=y"))
    res = ok(cli("kv", "get", "--format=json", "secret/app/db"))
    doc = json.loads(res.stdout)
    assert find_dict_with(doc, {"password": "x", "user": "y"}), doc


def test_kv_put_format_json_reports_version(cli):
    ok(cli("kv", "put", "secret/app/db", "password=x"))
    res = ok(cli("kv", "put", "--format=json", "secret/app/db", "password=z"))
    assert find_key(json.loads(res.stdout), "version") == 2


def test_kv_get_human_output(cli):
    ok(cli("kv", "put", "secret/app/db", "password=x", "user=y"))
    res = ok(cli("kv", "get", "secret/app/db"))
    assert re.search(r"password\s+x", res.stdout), res.stdout
    assert re.search(r"user\s+y", res.stdout), res.stdout


def test_kv_put_value_with_equals_sign(cli, dev_server):
    ok(cli("kv", "put", "secret/app/conn", "url=postgres://u@h/db?sslmode=require"))
    got = dev_server.client.secrets.kv.v2.read_secret_version("app/conn")["data"]["data"]
    assert got == {"url": "postgres://u@h/db?sslmode=require"}


def test_kv_put_new_version(cli, dev_server):
    ok(cli("kv", "put", "secret/app/db", "password=one"))
    ok(cli("kv", "put", "secret/app/db", "password=two"))
    got = dev_server.client.secrets.kv.v2.read_secret_version("app/db")["data"]
    assert got["metadata"]["version"] == 2
    assert ok(cli("kv", "get", "--field=password", "secret/app/db")).stdout.strip() == "two"


def test_kv_get_missing_fails(cli):
    res = cli("kv", "get", "secret/app/missing")
    assert res.returncode != 0
    assert res.stderr.startswith("coffer: "), res.stderr


def test_kv_without_token_is_denied(cli, dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "x"})
    res = cli("kv", "get", "--field=password", "secret/app/db", token=None)
    assert res.returncode != 0
    assert "x" != res.stdout.strip()
    assert "permission denied" in res.stderr.lower(), res.stderr


def test_vault_env_fallback(run_cli, dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "fallback"})
    res = ok(run_cli("kv", "get", "--field=password", "secret/app/db",
                     env={"VAULT_ADDR": dev_server.addr, "VAULT_TOKEN": dev_server.token}))
    assert res.stdout.strip() == "fallback"


def test_coffer_env_wins_over_vault_env(run_cli, dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "coffer"})
    res = ok(run_cli("kv", "get", "--field=password", "secret/app/db", addr=dev_server.addr,
                     token=dev_server.token,
                     env={"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "wrong"}))
    assert res.stdout.strip() == "coffer"


def test_operator_init_unseal_status(run_cli, sqlite_server):
    srv = sqlite_server()
    res = ok(run_cli("operator", "init", "--format=json", addr=srv.addr))
    doc = json.loads(res.stdout)
    keys = doc.get("keys") or doc.get("unseal_keys_hex") or doc.get("keys_base64") or doc.get("unseal_keys_b64")
    root = doc.get("root_token")
    assert keys and root, doc
    status = srv.client().sys.read_seal_status()
    assert status["initialized"] is True and status["sealed"] is True
    assert status["n"] == len(keys)

    res = run_cli("operator", "status", "--format=json", addr=srv.addr)
    assert json.loads(res.stdout)["sealed"] is True

    for key in keys[:status["t"]]:
        ok(run_cli("operator", "unseal", key, addr=srv.addr))
    res = ok(run_cli("operator", "status", "--format=json", addr=srv.addr))
    doc = json.loads(res.stdout)
    assert doc["sealed"] is False and doc["initialized"] is True
    assert srv.client(root).auth.token.lookup_self()["data"]["policies"] == ["root"]

    human = ok(run_cli("operator", "status", addr=srv.addr)).stdout
    assert re.search(r"(?i)sealed\s+false", human), human


def test_operator_seal(run_cli, unsealed_sqlite):
    srv = unsealed_sqlite
    ok(run_cli("operator", "seal", addr=srv.addr, token=srv.root_token))
    assert srv.client().sys.is_sealed() is True


def test_token_create_json(cli, dev_server):
    res = ok(cli("token", "create", "--format=json"))
    token = find_key(json.loads(res.stdout), "client_token")
    assert token and TOKEN_RE.fullmatch(token), res.stdout
    info = dev_server.client.auth.token.lookup(token)["data"]
    assert info["id"] == token


def test_token_create_human(cli, dev_server):
    res = ok(cli("token", "create"))
    found = TOKEN_RE.search(res.stdout)
    assert found, res.stdout
    assert dev_server.server.client(found.group(0)).is_authenticated()


def test_token_create_with_policy_and_ttl(cli, dev_server):
    dev_server.client.sys.create_or_update_policy("reader", 'path "secret/data/*" { capabilities = ["read"] }')
    res = ok(cli("token", "create", "--policy=reader", "--ttl=1h", "--format=json"))
    token = find_key(json.loads(res.stdout), "client_token")
    info = dev_server.client.auth.token.lookup(token)["data"]
    assert sorted(info["policies"]) == ["default", "reader"]
    assert 3500 <= info["ttl"] <= 3600


def test_token_lookup_and_revoke(cli, dev_server):
    token = dev_server.client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    res = ok(cli("token", "lookup", "--format=json", token=token))
    assert find_key(json.loads(res.stdout), "id") == token
    ok(cli("token", "renew", token=token))
    ok(cli("token", "revoke", token))
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client.auth.token.lookup(token)


def test_policy_write_from_file(cli, dev_server, tmp_path):
    text = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'
    f = tmp_path / "reader.hcl"
    f.write_text(text)
    ok(cli("policy", "write", "reader", str(f)))
    assert dev_server.client.sys.read_policy("reader")["data"]["rules"] == text


def test_policy_write_from_stdin(cli, dev_server):
    text = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'
    ok(cli("policy", "write", "reader", "-", input=text))
    assert dev_server.client.sys.read_policy("reader")["data"]["rules"] == text


def test_policy_and_token_together(cli, dev_server, tmp_path):
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "x"})
    dev_server.client.secrets.kv.v2.create_or_update_secret("other", {"password": "no"})
    ok(cli("policy", "write", "reader", "-", input='path "secret/data/app/*" { capabilities = ["read"] }\n'))
    res = ok(cli("token", "create", "--policy=reader", "--format=json"))
    token = find_key(json.loads(res.stdout), "client_token")
    assert ok(cli("kv", "get", "--field=password", "secret/app/db", token=token)).stdout.strip() == "x"
    denied = cli("kv", "get", "--field=password", "secret/other", token=token)
    assert denied.returncode != 0
    assert "no" != denied.stdout.strip()


def test_policy_write_invalid_fails(cli, dev_server):
    res = cli("policy", "write", "broken", "-", input='path "x" { capabilities = [')
    assert res.returncode != 0
    assert res.stderr.startswith("coffer: ")
    assert "broken" not in dev_server.client.sys.list_policies()["data"]["policies"]


def test_secrets_enable(cli, dev_server):
    ok(cli("secrets", "enable", "--path=app", "kv-v2"))
    entry = dev_server.client.sys.list_mounted_secrets_engines()["data"]["app/"]
    assert entry["type"] == "kv" and entry["options"]["version"] == "2"
    ok(cli("kv", "put", "app/x", "a=b"))
    assert dev_server.client.secrets.kv.v2.read_secret_version("x", mount_point="app")["data"]["data"] == {"a": "b"}
    res = ok(cli("secrets", "list", "--format=json"))
    assert "app/" in json.dumps(json.loads(res.stdout))


def test_secrets_enable_in_use_fails(cli):
    res = cli("secrets", "enable", "--path=secret", "kv-v2")
    assert res.returncode != 0
    assert res.stderr.startswith("coffer: ")
