"""HTTP conventions the clients rely on (Vault's API conventions): response headers, 200 vs 204,
LIST verb, tolerant request bodies."""

import pytest


def test_json_responses_have_exact_content_type_and_no_store(dev_server):
    for method, path, body in [
        ("GET", "/v1/sys/mounts", None),
        ("GET", "/v1/secret/data/missing", None),  # 404
        ("GET", "/v1/sys/seal-status", None),
        ("POST", "/v1/secret/data/x", {"data": {"a": "b"}}),
    ]:
        resp = dev_server.raw(method, path, body)
        assert resp.headers.get("content-type") == "application/json", (path, resp.headers)
        assert resp.headers.get("cache-control") == "no-store", (path, resp.headers)


def test_no_content_is_204_with_empty_body(dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"a": "b"})
    resp = dev_server.raw("DELETE", "/v1/secret/data/x")
    assert resp.status == 204
    assert resp.body == b""
    resp = dev_server.raw("PUT", "/v1/sys/policy/p", {"policy": 'path "x" { capabilities = ["read"] }'})
    assert resp.status == 204 and resp.body == b""


def test_standard_envelope(dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"a": "b"})
    doc = dev_server.raw("GET", "/v1/secret/data/x").json()
    for field in ("request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"):
        assert field in doc, f"envelope without {field}: {doc}"
    assert doc["lease_id"] == "" and doc["auth"] is None and doc["wrap_info"] is None


def test_client_headers_are_accepted(dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"a": "b"})
    resp = dev_server.raw("GET", "/v1/secret/data/x?unknown=param", headers={
        "X-Vault-Request": "true", "X-Vault-Namespace": "root"})
    assert resp.status == 200, resp
    assert resp.json()["data"]["data"] == {"a": "b"}


def test_write_without_content_type(dev_server):
    resp = dev_server.raw("POST", "/v1/secret/data/x", b'{"data": {"a": "b"}}')  # no Content-Type header
    assert resp.status == 200, resp


def test_bodyless_post(dev_server):
    token = dev_server.client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    resp = dev_server.raw("POST", "/v1/auth/token/revoke-self", token=token)  # no body at all
    assert resp.status == 204, resp
    assert dev_server.raw("GET", "/v1/auth/token/lookup-self", token=token).status == 403


def test_token_create_body_tolerance(dev_server):
    # hvac's legacy create_token sends nulls; node-vault's examples send comma strings
    resp = dev_server.raw("POST", "/v1/auth/token/create", {
        "id": None, "policies": "Dev-Policy, test-policy", "meta": None, "no_parent": None,
        "ttl": "300", "display_name": None, "num_uses": "0", "renewable": "true", "unknown": 1})
    assert resp.status == 200, resp
    auth = resp.json()["auth"]
    assert auth["token_policies"] == ["default", "dev-policy", "test-policy"]
    assert auth["lease_duration"] == 300
    assert auth["renewable"] is True


@pytest.mark.parametrize("ttl,seconds", [(90, 90), ("90", 90), ("1m30s", 90), ("1.5h", 5400), ("2d", 172800)])
def test_duration_formats(dev_server, ttl, seconds):
    resp = dev_server.raw("POST", "/v1/auth/token/create", {"policies": ["default"], "ttl": ttl})
    assert resp.status == 200, resp
    assert resp.json()["auth"]["lease_duration"] == seconds


def test_list_verb_and_sys_policy_list(dev_server):
    resp = dev_server.raw("LIST", "/v1/sys/policy")
    assert resp.status == 200, resp
    assert "default" in resp.json()["data"]["keys"]
