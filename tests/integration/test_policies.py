"""ACL policies (Vault's sys/policy, Vault's policy language) with hvac against a dev server (KV v2 at secret/)."""

import hvac
import pytest

APP_READ = """
# read-only access to the app's secrets
path "secret/data/app/*" {
  capabilities = ["read"]
}
"""


def token_with(dev, *policies, **kw):
    kw.setdefault("ttl", "1h")
    auth = dev.client.auth.token.create(policies=list(policies), **kw)["auth"]
    return dev.server.client(auth["client_token"])


def seed(dev):
    kv = dev.client.secrets.kv.v2
    kv.create_or_update_secret("app/db", {"password": "app-pw"})
    kv.create_or_update_secret("other", {"password": "other-pw"})
    kv.create_or_update_secret("application", {"password": "prefix-pw"})


def test_app_read_only_policy(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy("app-read", APP_READ)
    reader = token_with(dev_server, "app-read")
    kv = reader.secrets.kv.v2

    assert kv.read_secret_version("app/db")["data"]["data"] == {"password": "app-pw"}

    forbidden = [
        lambda: kv.read_secret_version("other"),
        lambda: kv.read_secret_version("application"),
        lambda: kv.create_or_update_secret("app/db", {"password": "hijack"}),
        lambda: kv.create_or_update_secret("app/new", {"password": "new"}),
        lambda: kv.delete_latest_version_of_secret("app/db"),
        lambda: kv.list_secrets("app"),
        lambda: kv.read_secret_metadata("app/db"),
        lambda: kv.destroy_secret_versions("app/db", versions=[1]),
        lambda: reader.sys.list_mounted_secrets_engines(),
        lambda: reader.sys.list_policies(),
        lambda: reader.sys.create_or_update_policy("evil", 'path "*" { capabilities = ["sudo"] }'),
    ]
    for call in forbidden:
        with pytest.raises(hvac.exceptions.Forbidden):
            call()
    # nothing the reader tried changed anything
    root_kv = dev_server.client.secrets.kv.v2
    assert root_kv.read_secret_version("app/db")["data"]["data"] == {"password": "app-pw"}
    assert root_kv.read_secret_version("app/db")["data"]["metadata"]["version"] == 1


def test_forbidden_body_is_permission_denied(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy("app-read", APP_READ)
    token = dev_server.client.auth.token.create(policies=["app-read"], ttl="1h")["auth"]["client_token"]
    resp = dev_server.raw("GET", "/v1/secret/data/other", token=token)
    assert resp.status == 403
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"errors": ["permission denied"]}


def test_policy_crud(dev_server):
    sys = dev_server.client.sys
    sys.create_or_update_policy("app-read", APP_READ)
    assert "app-read" in sys.list_policies()["data"]["policies"]
    read = sys.read_policy("app-read")["data"]
    assert read["name"] == "app-read"
    assert read["rules"] == APP_READ
    policies = sys.list_policies()["data"]
    assert {"root", "default", "app-read"} <= set(policies["policies"])
    assert set(policies["keys"]) == set(policies["policies"])

    sys.delete_policy("app-read")
    assert "app-read" not in sys.list_policies()["data"]["policies"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        sys.read_policy("app-read")


def test_policy_names_are_lowercased(dev_server):
    dev_server.client.sys.create_or_update_policy("MixedCase", APP_READ)
    assert dev_server.client.sys.read_policy("mixedcase")["data"]["name"] == "mixedcase"


def test_json_policy(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy(
        "json-app", {"path": {"secret/data/app/*": {"capabilities": ["read", "update", "create"]}}})
    client = token_with(dev_server, "json-app")
    client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "rotated"})
    assert client.secrets.kv.v2.read_secret_version("app/db")["data"]["data"] == {"password": "rotated"}
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("other")


def test_deny_wins(dev_server):
    seed(dev_server)
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/locked", {"password": "locked"})
    dev_server.client.sys.create_or_update_policy("app-read", APP_READ)
    dev_server.client.sys.create_or_update_policy(
        "no-locked", 'path "secret/data/app/locked" { capabilities = ["deny"] }')
    client = token_with(dev_server, "app-read", "no-locked")
    assert client.secrets.kv.v2.read_secret_version("app/db")["data"]["data"]["password"] == "app-pw"
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("app/locked")


def test_deny_absorbs_same_pattern_from_another_policy(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy("app-read", APP_READ)
    dev_server.client.sys.create_or_update_policy(
        "app-deny", 'path "secret/data/app/*" { capabilities = ["deny"] }')
    client = token_with(dev_server, "app-read", "app-deny")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("app/db")


def test_exact_match_beats_glob(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy("mixed", """
path "secret/data/*" { capabilities = ["read"] }
path "secret/data/other" { capabilities = ["update"] }
""")
    client = token_with(dev_server, "mixed")
    assert client.secrets.kv.v2.read_secret_version("app/db")["data"]["data"]["password"] == "app-pw"
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("other")
    client.secrets.kv.v2.create_or_update_secret("other", {"password": "changed"})


def test_plus_matches_one_segment(dev_server):
    kv = dev_server.client.secrets.kv.v2
    kv.create_or_update_secret("svc/config", {"v": "1"})
    kv.create_or_update_secret("a/b/config", {"v": "2"})
    dev_server.client.sys.create_or_update_policy("plus", 'path "secret/data/+/config" { capabilities = ["read"] }')
    client = token_with(dev_server, "plus")
    assert client.secrets.kv.v2.read_secret_version("svc/config")["data"]["data"] == {"v": "1"}
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("a/b/config")


def test_list_needs_list_on_metadata(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy("lister", 'path "secret/metadata/app/*" { capabilities = ["list"] }')
    client = token_with(dev_server, "lister")
    assert client.secrets.kv.v2.list_secrets("app")["data"]["keys"] == ["db"]
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("app/db")


def test_create_is_not_update(dev_server):
    dev_server.client.sys.create_or_update_policy("create-only", 'path "secret/data/drop/*" { capabilities = ["create"] }')
    client = token_with(dev_server, "create-only")
    client.secrets.kv.v2.create_or_update_secret("drop/box", {"v": "1"})
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.create_or_update_secret("drop/box", {"v": "2"})
    got = dev_server.client.secrets.kv.v2.read_secret_version("drop/box")["data"]
    assert got["data"] == {"v": "1"} and got["metadata"]["version"] == 1


def test_deleting_a_policy_takes_access_away(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy("app-read", APP_READ)
    client = token_with(dev_server, "app-read")
    client.secrets.kv.v2.read_secret_version("app/db")
    dev_server.client.sys.delete_policy("app-read")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("app/db")


def test_updating_a_policy_applies_to_existing_tokens(dev_server):
    seed(dev_server)
    dev_server.client.sys.create_or_update_policy("grow", APP_READ)
    client = token_with(dev_server, "grow")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("other")
    dev_server.client.sys.create_or_update_policy("grow", 'path "secret/data/*" { capabilities = ["read"] }')
    assert client.secrets.kv.v2.read_secret_version("other")["data"]["data"]["password"] == "other-pw"


def test_builtin_policies_cannot_be_deleted(dev_server):
    for name in ("root", "default"):
        with pytest.raises(hvac.exceptions.InvalidRequest):
            dev_server.client.sys.delete_policy(name)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dev_server.client.sys.create_or_update_policy("root", APP_READ)


@pytest.mark.parametrize("text", [
    'path "secret/*" { capabilities = ["read"',
    'path "secret/*" { capabilities = ["fly"] }',
    'this is not hcl',
])
def test_invalid_policy_is_400(dev_server, text):
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dev_server.client.sys.create_or_update_policy("broken", text)
    assert "broken" not in dev_server.client.sys.list_policies()["data"]["policies"]


def test_capabilities_self(dev_server):
    dev_server.client.sys.create_or_update_policy("app-read", APP_READ)
    client = token_with(dev_server, "app-read")
    caps = client.sys.get_capabilities(["secret/data/app/db", "secret/data/other"])["data"]
    assert caps["secret/data/app/db"] == ["read"]
    assert caps["secret/data/other"] == ["deny"]
    root_caps = dev_server.client.sys.get_capabilities(["secret/data/other"])["data"]
    assert root_caps["secret/data/other"] == ["root"]
    assert root_caps["capabilities"] == ["root"]


def test_default_policy_text_is_readable(dev_server):
    rules = dev_server.client.sys.read_policy("default")["data"]["rules"]
    assert "auth/token/lookup-self" in rules


def test_parameter_constraints_enforced(dev_server):
    """allowed_parameters, denied_parameters and required_parameters restrict the
    body of writes on the path the rule selects (Vault's semantics)."""
    client = dev_server.client
    client.sys.enable_secrets_engine("kv", path="p1")
    client.sys.create_or_update_policy("params", """
path "p1/allowed" {
  capabilities = ["create", "update"]
  allowed_parameters = { "color" = ["red", "blu*"], "size" = [] }
}
path "p1/denied" {
  capabilities = ["create", "update"]
  denied_parameters = { "admin" = [], "level" = ["9"] }
}
path "p1/required" {
  capabilities = ["create", "update"]
  required_parameters = ["owner"]
}
path "p1/nothing" {
  capabilities = ["create", "update"]
  denied_parameters = { "*" = [] }
}
""")
    tok = client.auth.token.create(policies=["params"])["auth"]["client_token"]

    def put(path, body):
        return dev_server.raw("PUT", f"/v1/p1/{path}", body, token=tok).status

    assert put("allowed", {"color": "red", "size": "xl"}) == 204
    assert put("allowed", {"color": "blue"}) == 204
    assert put("allowed", {"color": "green"}) == 403
    assert put("allowed", {"shape": "round"}) == 403
    assert put("denied", {"level": "3"}) == 204
    assert put("denied", {"level": "9"}) == 403
    assert put("denied", {"Admin": "yes"}) == 403
    assert put("required", {"x": "1"}) == 403
    assert put("required", {"owner": "me", "x": "1"}) == 204
    assert put("nothing", {"x": "1"}) == 403
    # the root token is not constrained
    assert dev_server.raw("PUT", "/v1/p1/allowed", {"shape": "round"}).status == 204
