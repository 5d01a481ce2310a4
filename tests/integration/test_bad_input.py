"""Bad input, one test each: malformed bodies, size limits, unknown paths, missing
or wrong tokens, wrong unseal keys, unsupported methods, CAS mismatch, path
traversal, and 1,000 concurrent requests while the server seals."""

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import hvac
import pytest

from cofferlib import json_body_of_size, raw_request, send_large

MiB = 1024 * 1024


def assert_error_body(resp, status):
    assert resp.status == status, resp
    assert resp.headers.get("content-type") == "application/json", resp.headers
    doc = resp.json()
    assert isinstance(doc.get("errors"), list), doc
    assert all(isinstance(e, str) for e in doc["errors"]), doc
    return doc["errors"]


# ---------------------------------------------------------------- bodies


def test_malformed_json_is_400_with_message(dev_server):
    resp = dev_server.raw("POST", "/v1/secret/data/x", b'{"data": {"password": ',
                          headers={"Content-Type": "application/json"})
    errors = assert_error_body(resp, 400)
    assert errors and errors[0].strip(), "400 must say what was wrong"
    assert dev_server.raw("GET", "/v1/secret/data/x").status == 404


@pytest.mark.parametrize("body", [b"[1, 2]", b'"a string"', b"42", b'{"data": {"a": "b"}} trailing'])
def test_json_that_is_not_one_object_is_400(dev_server, body):
    resp = dev_server.raw("POST", "/v1/secret/data/x", body, headers={"Content-Type": "application/json"})
    assert_error_body(resp, 400)


def test_kv_write_without_data_is_400(dev_server):
    resp = dev_server.raw("POST", "/v1/secret/data/x", {"options": {}})
    assert_error_body(resp, 400)


def test_init_without_body_is_400(sqlite_server):
    srv = sqlite_server()
    resp = srv.raw("PUT", "/v1/sys/init")
    assert_error_body(resp, 400)
    assert srv.client().sys.is_initialized() is False


def test_body_over_configured_limit_is_413(sqlite_server):
    srv = sqlite_server(max_request_size=MiB)
    token = srv.init_unseal()
    srv.client(token).sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})

    at_limit = send_large(srv.addr, "POST", "/v1/kv/data/at-limit", json_body_of_size(MiB), token=token)
    assert at_limit.status == 200, at_limit
    over = send_large(srv.addr, "POST", "/v1/kv/data/over", json_body_of_size(MiB + 1), token=token)
    assert over.status == 413, over
    way_over = send_large(srv.addr, "POST", "/v1/kv/data/way-over", json_body_of_size(8 * MiB), token=token)
    assert way_over.status == 413, way_over

    assert srv.alive()
    kv = srv.client(token).secrets.kv.v2
    assert len(kv.read_secret_version("at-limit", mount_point="kv")["data"]["data"]["blob"]) > MiB - 100
    for path in ("over", "way-over"):
        with pytest.raises(hvac.exceptions.InvalidPath):
            kv.read_secret_version(path, mount_point="kv")


def test_default_limit_is_32_mib(dev_server):
    # The padding is an ignored top-level field: this checks the HTTP body limit, not
    # how large a value storage takes.
    limit = 32 * MiB
    over = send_large(dev_server.addr, "POST", "/v1/secret/data/over", json_body_of_size(limit + 1, "pad", False),
                      token=dev_server.token, timeout=60)
    assert over.status == 413, over
    at_limit = send_large(dev_server.addr, "POST", "/v1/secret/data/at-limit", json_body_of_size(limit, "pad", False),
                          token=dev_server.token, timeout=60)
    assert at_limit.status == 200, at_limit
    assert dev_server.client.secrets.kv.v2.read_secret_version("at-limit")["data"]["data"] == {"v": "1"}
    assert dev_server.raw("GET", "/v1/sys/health").status == 200


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/nonexistent/thing"),
    ("GET", "/v1/"),
    ("GET", "/v1"),
    ("GET", "/"),
    ("GET", "/nope"),
    ("GET", "/v2/sys/health"),
    ("GET", "/v1/sys/no-such-endpoint"),
    ("POST", "/v1/nomount/x"),
])
def test_unknown_path_is_404(dev_server, method, path):
    resp = dev_server.raw(method, path, {} if method == "POST" else None)
    assert resp.status == 404, resp


@pytest.mark.parametrize("method,path", [
    ("BREW", "/v1/secret/data/x"),
    ("PUT", "/v1/sys/seal-status"),
    ("DELETE", "/v1/sys/init"),
    ("POST", "/v1/sys/health"),
    ("DELETE", "/v1/auth/token/create"),
])
def test_unsupported_method_is_405(dev_server, method, path):
    resp = dev_server.raw(method, path, {} if method in ("PUT", "POST") else None)
    assert resp.status == 405, resp
    assert dev_server.raw("GET", "/v1/sys/health").status == 200


# ---------------------------------------------------------------- tokens


def test_missing_token_is_403(dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"v": "1"})
    resp = dev_server.raw("GET", "/v1/secret/data/x", token=None)
    assert assert_error_body(resp, 403) == ["permission denied"]
    assert "1" not in json.dumps(resp.json())


@pytest.mark.parametrize("token", ["hvs.wrongwrongwrongwrongwrong", "", "root", "x" * 5000])
def test_wrong_token_is_403(dev_server, token):
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"v": "secret-value"})
    resp = dev_server.raw("GET", "/v1/secret/data/x", token=token)
    assert assert_error_body(resp, 403) == ["permission denied"]
    assert b"secret-value" not in resp.body


def test_bearer_token_is_accepted(dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"v": "1"})
    ok = dev_server.raw("GET", "/v1/secret/data/x", token=None,
                        headers={"Authorization": f"Bearer {dev_server.token}"})
    assert ok.status == 200
    bad = dev_server.raw("GET", "/v1/secret/data/x", token=None,
                         headers={"Authorization": "Bearer hvs.wrongwrongwrongwrongwrong"})
    assert bad.status == 403
    # X-Vault-Token wins over Authorization
    both = dev_server.raw("GET", "/v1/secret/data/x", token="hvs.wrongwrongwrongwrongwrong",
                          headers={"Authorization": f"Bearer {dev_server.token}"})
    assert both.status == 403


# ---------------------------------------------------------------- unseal


def corrupt(hex_key):
    raw = bytearray(bytes.fromhex(hex_key))
    raw[len(raw) // 2] ^= 0x5A
    return raw.hex()


def test_wrong_unseal_key_does_not_unseal(sqlite_server):
    srv = sqlite_server()
    srv.init()
    client = srv.client()
    wrong = corrupt(srv.keys[2])

    first = client.sys.submit_unseal_key(wrong)  # a share cannot be judged alone
    assert first["sealed"] is True
    assert first["progress"] == 1

    assert client.sys.submit_unseal_key(srv.keys[0])["progress"] == 2
    resp = srv.raw("PUT", "/v1/sys/unseal", {"key": srv.keys[1]})
    assert_error_body(resp, 400)

    status = client.sys.read_seal_status()
    assert status["sealed"] is True
    assert status["progress"] == 0
    # the right keys still work afterwards
    assert client.sys.submit_unseal_keys(srv.keys[:3])["sealed"] is False


@pytest.mark.parametrize("key", ["not a key!", "zz", ""])
def test_malformed_unseal_key_is_400(sqlite_server, key):
    srv = sqlite_server()
    srv.init()
    resp = srv.raw("PUT", "/v1/sys/unseal", {"key": key})
    assert_error_body(resp, 400)
    assert srv.client().sys.is_sealed() is True


# ---------------------------------------------------------------- KV


def test_cas_mismatch_is_400(dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("cas", {"v": "1"})
    resp = dev_server.raw("POST", "/v1/secret/data/cas", {"data": {"v": "2"}, "options": {"cas": 7}})
    errors = assert_error_body(resp, 400)
    assert any("check-and-set parameter did not match the current version" in e for e in errors), errors
    assert dev_server.client.secrets.kv.v2.read_secret_version("cas")["data"]["data"] == {"v": "1"}


# ---------------------------------------------------------------- traversal

OTHER_VALUE = "other-secret-value-" + os.urandom(4).hex()


def setup_traversal(dev):
    kv = dev.client.secrets.kv.v2
    kv.create_or_update_secret("app/db", {"password": "app-pw"})
    kv.create_or_update_secret("other", {"password": OTHER_VALUE})
    dev.client.sys.create_or_update_policy("app-rw", """
path "secret/data/app/*" {
  capabilities = ["create", "read", "update"]
}
""")
    return dev.client.auth.token.create(policies=["app-rw"], ttl="1h")["auth"]["client_token"]


ESCAPES = [
    "/v1/secret/data/app/../other",
    "/v1/secret/data/app/%2e%2e/other",
    "/v1/secret/data/app/%2E%2E/other",
    "/v1/secret/data/app/.%2e/other",
    "/v1/secret/data/app/..%2fother",
    "/v1/secret/data/app/%2e%2e%2fother",
    "/v1/secret/data/app//../other",
    "/v1/secret/data/app/./../other",
    "/v1/secret/data/app/x/../../other",
    "/v1/secret/data/app/..",
    "/v1//secret/data/other",
    "/v1/secret/data/app/%2e%2e/%2e%2e/data/other",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_traversal_cannot_read_outside_policy(dev_server, path):
    token = setup_traversal(dev_server)
    resp = dev_server.raw("GET", path, token=token)
    assert resp.status in (400, 403, 404), resp
    assert OTHER_VALUE.encode() not in resp.body


@pytest.mark.parametrize("path", ESCAPES[:9])
def test_traversal_cannot_write_outside_policy(dev_server, path):
    token = setup_traversal(dev_server)
    resp = dev_server.raw("POST", path, {"data": {"password": "overwritten"}}, token=token)
    assert resp.status in (400, 403, 404), resp
    got = dev_server.client.secrets.kv.v2.read_secret_version("other")["data"]
    assert got["data"] == {"password": OTHER_VALUE}
    assert got["metadata"]["version"] == 1


def test_double_slashes_collapse_within_policy(dev_server):
    token = setup_traversal(dev_server)
    resp = dev_server.raw("GET", "/v1/secret//data//app/db", token=token)
    assert resp.status == 200, resp
    assert resp.json()["data"]["data"] == {"password": "app-pw"}


@pytest.mark.parametrize("path", [
    "/v1/app/data/../../secret/data/x",
    "/v1/app/data/%2e%2e/%2e%2e/secret/data/x",
    "/v1/app/%2e%2e/secret/data/x",
    "/v1/app/../secret/data/x",
    "/v1/app/data/..%2f..%2fsecret%2fdata%2fx",
    "/v1/app/data//secret/data/x",
    "/v1/app/../sys/mounts",
    "/v1/secret/data/x/..",
    "/v1/secret/data/x/.",
])
def test_raw_dotdot_never_reaches_another_mount(dev_server, path):
    dev_server.client.sys.enable_secrets_engine("kv", path="app", options={"version": "2"})
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"v": "app-mount-value"}, mount_point="app")
    dev_server.client.secrets.kv.v2.create_or_update_secret("x", {"v": OTHER_VALUE})
    resp = dev_server.raw("GET", path)  # root token
    assert resp.status in (400, 404), resp
    assert OTHER_VALUE.encode() not in resp.body
    assert b'"secret/"' not in resp.body  # no mount table either


# ---------------------------------------------------------------- sealing under load


def test_1000_concurrent_requests_while_sealing(unsealed_sqlite):
    srv = unsealed_sqlite
    token = srv.root_token
    srv.client(token).sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    kv = srv.client(token).secrets.kv.v2
    tag = os.urandom(4).hex()
    pre = {f"pre/{i}": f"pre-{i}-{tag}" for i in range(40)}
    for path, value in pre.items():
        kv.create_or_update_secret(path, {"v": value}, mount_point="kv")

    total, seal_after = 1000, 300
    lock = threading.Lock()
    done = [0]
    seal_now = threading.Event()
    results = []
    deadline = time.monotonic() + 60  # a hung server must not stall the suite for long

    def one(i):
        if time.monotonic() > deadline:
            with lock:
                results.append(("error", i, None, None, "suite deadline passed"))
            return
        try:
            if i % 2 == 0:
                path, value = f"conc/{i}", f"conc-{i}-{tag}"
                resp = raw_request(srv.addr, "POST", f"/v1/kv/data/{path}", {"data": {"v": value}}, token=token)
                outcome = ("write", path, value, resp.status, None)
            else:
                path = f"pre/{i % 40}"
                resp = raw_request(srv.addr, "GET", f"/v1/kv/data/{path}", token=token)
                got = resp.json()["data"]["data"]["v"] if resp.status == 200 else None
                outcome = ("read", path, pre[path], resp.status, got)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding
            outcome = ("error", i, None, None, repr(exc))
        with lock:
            results.append(outcome)
            done[0] += 1
            if done[0] >= seal_after:
                seal_now.set()

    seal_result = {}

    def sealer():
        if seal_now.wait(timeout=60):
            seal_result["resp"] = raw_request(srv.addr, "PUT", "/v1/sys/seal", token=token, timeout=60)

    seal_thread = threading.Thread(target=sealer)
    seal_thread.start()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(one, range(total)))
    seal_thread.join(timeout=70)

    assert srv.alive(), "server died under load while sealing"
    assert seal_result.get("resp") is not None and seal_result["resp"].status == 204, seal_result
    errors = [r for r in results if r[0] == "error"]
    assert not errors, f"{len(errors)} requests got no HTTP answer, e.g. {errors[:3]}"
    statuses = {r[3] for r in results}
    assert statuses <= {200, 503}, f"unexpected statuses {statuses}"
    assert any(r[3] == 503 for r in results), "no request saw the seal"
    bad_reads = [r for r in results if r[0] == "read" and r[3] == 200 and r[4] != r[2]]
    assert not bad_reads, f"reads returned wrong values: {bad_reads[:3]}"

    assert srv.raw("GET", "/v1/sys/health").status == 503
    srv.unseal(srv.keys[:3])
    for path, value in pre.items():
        assert kv.read_secret_version(path, mount_point="kv")["data"]["data"] == {"v": value}, path
    for kind, path, value, status, _ in results:
        if kind != "write":
            continue
        if status == 200:
            got = kv.read_secret_version(path, mount_point="kv")["data"]["data"]
            assert got == {"v": value}, path
        else:  # refused while sealed: absent, or (if it landed) intact
            try:
                got = kv.read_secret_version(path, mount_point="kv")["data"]["data"]
            except hvac.exceptions.InvalidPath:
                continue
            assert got == {"v": value}, path
