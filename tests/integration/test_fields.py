"""Request parameters read through field schemas (docs/internals/backend.md):
across the token store, AppRole, JWT, database-less engines and KV, a bad
parameter is a 400 with one message in the same wording that names the field
as the client sent it, and nothing is stored; values arrive with Vault's weak
typing (comma lists, numeric strings, duration strings) and are stored
normalized."""

import pytest


def refused(resp, message):
    assert resp.status == 400, resp
    assert resp.errors() == [message], resp.errors()


def data_of(resp):
    assert resp.status == 200, resp
    return resp.json()["data"]


@pytest.mark.parametrize("path, body, message", [
    ("auth/token/create", {"meta": "team=a"}, "invalid value for meta: must be a map"),
    ("auth/token/create", {"renewable": "maybe"}, "invalid value for renewable: must be a boolean"),
    ("auth/token/create", {"num_uses": "often"}, "invalid value for num_uses: must be an integer"),
    ("auth/token/create", {"policies": [1]}, "invalid value for policies: must be a list of strings"),
    ("auth/token/roles/r", {"bound_cidrs": "10.0.0.0/8, 10.1.0.0/99"},
     "invalid CIDR block in bound_cidrs: 10.1.0.0/99"),
    ("secret/config", {"max_versions": -1}, "max_versions cannot be negative"),
    ("secret/config", {"cas_required": "sometimes"}, "invalid value for cas_required: must be a boolean"),
    ("secret/metadata/app", {"max_versions": "many"}, "invalid value for max_versions: must be an integer"),
])
def test_builtin_mounts_word_bad_parameters_alike(dev_server, path, body, message):
    refused(dev_server.raw("POST", "/v1/" + path, body), message)


def test_token_role_refused_write_stores_nothing_and_a_good_one_is_normalized(dev_server):
    dev = dev_server
    refused(dev.raw("POST", "/v1/auth/token/roles/web", {"orphan": True, "token_period": "soon"}),
            "invalid value for token_period: not a duration: want seconds or a number with a "
            "unit (s, m, h, d), such as 90 or 1h30m")
    assert dev.raw("GET", "/v1/auth/token/roles/web").status == 404
    assert dev.raw("LIST", "/v1/auth/token/roles").status == 404
    # comma lists, numeric strings, duration strings and the legacy aliases
    assert dev.raw("POST", "/v1/auth/token/roles/web", {
        "allowed_policies": "Web, ops,web", "token_num_uses": "3", "period": "1h",
        "bound_cidrs": "127.0.0.1/32", "renewable": "false"}).status == 204
    role = data_of(dev.raw("GET", "/v1/auth/token/roles/web"))
    assert role["allowed_policies"] == ["ops", "web"]
    assert role["token_num_uses"] == 3
    assert role["token_period"] == 3600 and role["period"] == 3600
    assert role["token_bound_cidrs"] == ["127.0.0.1/32"]
    assert role["renewable"] is False and role["orphan"] is False
    # an update changes only what it gives
    assert dev.raw("POST", "/v1/auth/token/roles/web", {"orphan": "true"}).status == 204
    again = data_of(dev.raw("GET", "/v1/auth/token/roles/web"))
    assert again == dict(role, orphan=True)
    assert data_of(dev.raw("LIST", "/v1/auth/token/roles")) == {"keys": ["web"]}


def test_approle_and_transit_word_bad_parameters_alike(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/sys/auth/approle", {"type": "approle"}).status == 204
    assert dev.raw("POST", "/v1/sys/mounts/transit", {"type": "transit"}).status == 204
    refused(dev.raw("POST", "/v1/auth/approle/role/app", {"secret_id_num_uses": "x"}),
            "invalid value for secret_id_num_uses: must be an integer")
    refused(dev.raw("POST", "/v1/auth/approle/role/app", {"secret_id_bound_cidrs": ["nowhere"]}),
            "invalid CIDR block in secret_id_bound_cidrs: nowhere")
    assert dev.raw("GET", "/v1/auth/approle/role/app").status == 404
    assert dev.raw("POST", "/v1/auth/approle/role/app", {"secret_id_ttl": "10m"}).status == 204
    assert data_of(dev.raw("GET", "/v1/auth/approle/role/app"))["secret_id_ttl"] == 600
    refused(dev.raw("POST", "/v1/auth/approle/role/app/role-id", {}), "missing role_id")
    refused(dev.raw("POST", "/v1/auth/approle/role/app/secret-id", {"num_uses": -2}),
            "num_uses cannot be negative")
    refused(dev.raw("POST", "/v1/auth/approle/role/app/secret-id/lookup", {}), "missing secret_id")
    refused(dev.raw("POST", "/v1/transit/keys/k", {"derived": "maybe"}),
            "invalid value for derived: must be a boolean")
    assert dev.raw("GET", "/v1/transit/keys/k").status == 404
    assert dev.raw("LIST", "/v1/transit/keys").status == 404
    assert dev.raw("POST", "/v1/transit/keys/k", {"exportable": "true"}).status in (200, 204)
    refused(dev.raw("POST", "/v1/transit/keys/k/config", {"min_decryption_version": "first"}),
            "invalid value for min_decryption_version: must be an integer")
    assert data_of(dev.raw("LIST", "/v1/transit/keys")) == {"keys": ["k"]}


def test_jwt_role_leeways_take_minus_one_and_durations(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/sys/auth/jwt", {"type": "jwt"}).status == 204
    body = {"user_claim": "sub", "bound_subject": "me", "clock_skew_leeway": -1,
            "expiration_leeway": "2m", "bound_audiences": "a, b"}
    assert dev.raw("POST", "/v1/auth/jwt/role/r", body).status == 204
    role = data_of(dev.raw("GET", "/v1/auth/jwt/role/r"))
    assert role["clock_skew_leeway"] == -1
    assert role["expiration_leeway"] == 120
    assert role["not_before_leeway"] == 150  # the default
    assert role["bound_audiences"] == ["a", "b"]
    refused(dev.raw("POST", "/v1/auth/jwt/role/r", {"not_before_leeway": -2}),
            "invalid value for not_before_leeway: must be at least -1s")
    refused(dev.raw("POST", "/v1/auth/jwt/role/r", {"claim_mappings": {"a": "x", "b": "x"}}),
            "claim_mappings: duplicate target: x")
    assert data_of(dev.raw("GET", "/v1/auth/jwt/role/r")) == role
