"""Init, unseal, seal and the sealed state (Vault's sys/health, init and seal, Vault's errors and status codes) with hvac against a
sqlite-backed server."""

import hvac
import pytest

from cofferlib import find_key


def assert_sealed_error(resp):
    assert resp.status == 503, resp
    errors = resp.errors()
    assert errors, f"503 without an errors array: {resp!r}"
    assert any("sealed" in e.lower() for e in errors), errors


def test_fresh_server_is_uninitialized_and_sealed(sqlite_server):
    srv = sqlite_server()
    assert srv.raw("GET", "/v1/sys/health").status == 501

    client = srv.client()
    assert client.sys.is_initialized() is False
    status = client.sys.read_seal_status()
    assert status["initialized"] is False
    assert status["sealed"] is True


def test_health_body_on_every_code(sqlite_server):
    srv = sqlite_server()

    def body(expected_status):
        resp = srv.raw("GET", "/v1/sys/health")
        assert resp.status == expected_status, resp
        assert resp.headers.get("content-type") == "application/json"
        doc = resp.json()
        for field in ("initialized", "sealed", "standby", "performance_standby", "server_time_utc", "version"):
            assert field in doc, f"health body without {field}: {doc}"
        assert doc["replication_dr_mode"] == "disabled"
        assert doc["standby"] is False
        assert isinstance(doc["server_time_utc"], int)
        return doc

    doc = body(501)
    assert (doc["initialized"], doc["sealed"]) == (False, True)
    srv.init()
    doc = body(503)
    assert (doc["initialized"], doc["sealed"]) == (True, True)
    srv.unseal(srv.keys[:3])
    doc = body(200)
    assert (doc["initialized"], doc["sealed"]) == (True, False)
    # HEAD: same code, no body
    head = srv.raw("HEAD", "/v1/sys/health")
    assert head.status == 200 and head.body == b""


def test_uninitialized_server_answers_503_to_logical_requests(sqlite_server):
    srv = sqlite_server()
    assert_sealed_error(srv.raw("GET", "/v1/sys/mounts", token="anything"))
    assert_sealed_error(srv.raw("GET", "/v1/secret/data/x", token="anything"))


def test_init_5_of_3_then_unseal_with_3(sqlite_server):
    srv = sqlite_server()
    client = srv.client()
    result = client.sys.initialize(secret_shares=5, secret_threshold=3)

    assert len(result["keys"]) == 5
    assert len(set(result["keys"])) == 5
    assert len(result["keys_base64"]) == 5
    assert result["root_token"].startswith("hvs.")
    assert client.sys.is_initialized() is True

    status = client.sys.read_seal_status()
    assert status["sealed"] is True
    assert (status["t"], status["n"], status["progress"]) == (3, 5, 0)
    assert status["type"] == "shamir"
    assert srv.raw("GET", "/v1/sys/health").status == 503

    for i, key in enumerate(result["keys"][:2], start=1):
        step = client.sys.submit_unseal_key(key)
        assert step["sealed"] is True
        assert step["progress"] == i
        assert (step["t"], step["n"]) == (3, 5)

    final = client.sys.submit_unseal_key(result["keys"][2])
    assert final["sealed"] is False
    assert final["progress"] == 0

    assert srv.raw("GET", "/v1/sys/health").status == 200

    root = srv.client(result["root_token"])
    mounts = root.sys.list_mounted_secrets_engines()
    assert "sys/" in mounts["data"]
    me = root.auth.token.lookup_self()["data"]
    assert me["policies"] == ["root"]
    assert me["orphan"] is True
    assert me["ttl"] == 0


def test_hvac_head_health(sqlite_server):
    srv = sqlite_server()
    client = srv.client()
    # hvac's default health call is HEAD with no body
    resp = client.sys.read_health_status()
    assert resp.status_code == 501
    srv.init_unseal()
    resp = client.sys.read_health_status()
    assert resp.status_code == 200
    body = client.sys.read_health_status(method="GET")
    assert body["initialized"] is True and body["sealed"] is False


def test_health_codes_are_configurable(sqlite_server):
    srv = sqlite_server()
    assert srv.raw("GET", "/v1/sys/health?uninitcode=299").status == 299
    srv.init()
    assert srv.raw("GET", "/v1/sys/health?sealedcode=298").status == 298
    srv.unseal(srv.keys[:3])
    assert srv.raw("GET", "/v1/sys/health?activecode=297").status == 297


def test_unseal_with_base64_keys(sqlite_server):
    srv = sqlite_server()
    srv.init()
    result = srv.client().sys.submit_unseal_keys(srv.keys_base64[2:5])
    assert result["sealed"] is False


def test_init_twice_is_rejected(sqlite_server):
    srv = sqlite_server()
    srv.init()
    with pytest.raises(hvac.exceptions.InvalidRequest):
        srv.client().sys.initialize(secret_shares=5, secret_threshold=3)


def test_init_rejects_threshold_above_shares(sqlite_server):
    srv = sqlite_server()
    resp = srv.raw("PUT", "/v1/sys/init", {"secret_shares": 3, "secret_threshold": 5})
    assert resp.status == 400
    assert resp.errors()
    assert srv.client().sys.is_initialized() is False


def test_seal_then_unseal_again_keeps_data(unsealed_sqlite):
    srv = unsealed_sqlite
    root = srv.client(srv.root_token)
    root.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret("app/db", {"password": "before-seal"}, mount_point="kv")

    root.sys.seal()
    assert root.sys.is_sealed() is True
    assert srv.raw("GET", "/v1/sys/health").status == 503
    with pytest.raises(hvac.exceptions.VaultDown):
        root.secrets.kv.v2.read_secret_version("app/db", mount_point="kv")

    # a different subset of the shares works just as well
    result = srv.client().sys.submit_unseal_keys(srv.keys[2:5])
    assert result["sealed"] is False
    got = root.secrets.kv.v2.read_secret_version("app/db", mount_point="kv")
    assert got["data"]["data"] == {"password": "before-seal"}
    assert root.auth.token.lookup_self()["data"]["policies"] == ["root"]


def test_sealed_server_answers_503(unsealed_sqlite):
    srv = unsealed_sqlite
    token = srv.root_token
    srv.client(token).sys.seal()

    assert_sealed_error(srv.raw("GET", "/v1/sys/mounts", token=token))
    assert_sealed_error(srv.raw("GET", "/v1/auth/token/lookup-self", token=token))
    assert_sealed_error(srv.raw("POST", "/v1/kv/data/x", {"data": {"a": "b"}}, token=token))
    assert_sealed_error(srv.raw("GET", "/v1/secret/data/x"))

    # the unauthenticated seal endpoints keep answering
    status = srv.raw("GET", "/v1/sys/seal-status")
    assert status.status == 200 and status.json()["sealed"] is True
    init = srv.raw("GET", "/v1/sys/init")
    assert init.status == 200 and init.json() == {"initialized": True}
    assert srv.raw("GET", "/v1/sys/health").status == 503


def test_seal_needs_a_token(unsealed_sqlite):
    srv = unsealed_sqlite
    assert srv.raw("PUT", "/v1/sys/seal").status == 403
    assert srv.raw("PUT", "/v1/sys/seal", token="hvs.notarealtoken000000000000").status == 403
    assert srv.client().sys.is_sealed() is False


def test_seal_needs_sudo(unsealed_sqlite):
    srv = unsealed_sqlite
    root = srv.client(srv.root_token)
    plain = root.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    with pytest.raises(hvac.exceptions.Forbidden):
        srv.client(plain).sys.seal()
    assert srv.client().sys.is_sealed() is False


def test_unseal_when_unsealed_reports_status(unsealed_sqlite):
    srv = unsealed_sqlite
    status = srv.client().sys.submit_unseal_key(srv.keys[4])
    assert status["sealed"] is False


def test_duplicate_share_is_not_counted_twice(sqlite_server):
    srv = sqlite_server()
    srv.init()
    client = srv.client()
    assert client.sys.submit_unseal_key(srv.keys[0])["progress"] == 1
    resp = srv.raw("PUT", "/v1/sys/unseal", {"key": srv.keys[0]})
    # Vault ignores a share it already has (200) or refuses it (400); never progress 2
    assert resp.status in (200, 400), resp
    status = client.sys.read_seal_status()
    assert status["sealed"] is True
    assert status["progress"] == 1
    # and two more distinct shares finish the job
    assert client.sys.submit_unseal_keys(srv.keys[1:3])["sealed"] is False


def test_unseal_reset_discards_progress(sqlite_server):
    srv = sqlite_server()
    srv.init()
    client = srv.client()
    client.sys.submit_unseal_keys(srv.keys[:2])
    assert client.sys.read_seal_status()["progress"] == 2
    reset = client.sys.submit_unseal_key(reset=True)
    assert reset["progress"] == 0 and reset["sealed"] is True
    # after a reset, two more keys are not enough
    client.sys.submit_unseal_keys(srv.keys[2:4])
    assert client.sys.is_sealed() is True
    assert client.sys.submit_unseal_key(srv.keys[4])["sealed"] is False


def test_unseal_without_key_or_reset_is_400(sqlite_server):
    srv = sqlite_server()
    srv.init()
    resp = srv.raw("PUT", "/v1/sys/unseal", {})
    assert resp.status == 400
    assert resp.errors()


def test_restart_comes_back_initialized_and_sealed(unsealed_sqlite):
    srv = unsealed_sqlite
    root = srv.client(srv.root_token)
    root.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret("persist", {"v": "1"}, mount_point="kv")

    assert srv.stop() == 0, "SIGTERM should stop the server cleanly (exit 0)"
    srv.start()
    assert srv.raw("GET", "/v1/sys/health").status == 503
    status = srv.client().sys.read_seal_status()
    assert status["initialized"] is True
    assert status["sealed"] is True and (status["t"], status["n"]) == (3, 5)

    srv.unseal(srv.keys[1:4])
    root = srv.client(srv.root_token)
    assert root.secrets.kv.v2.read_secret_version("persist", mount_point="kv")["data"]["data"] == {"v": "1"}
    # init a second time is still refused
    with pytest.raises(hvac.exceptions.InvalidRequest):
        srv.client().sys.initialize(secret_shares=5, secret_threshold=3)


def test_single_share_init(sqlite_server):
    srv = sqlite_server()
    result = srv.client().sys.initialize(secret_shares=1, secret_threshold=1)
    assert len(result["keys"]) == 1
    assert srv.client().sys.submit_unseal_key(result["keys"][0])["sealed"] is False
    assert find_key(srv.client(result["root_token"]).auth.token.lookup_self(), "policies") == ["root"]
