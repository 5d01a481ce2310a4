"""Hostile input at the HTTP edge, one concern per test:

- a path whose percent-decoded bytes are not UTF-8 or hold NUL is refused with a
  400 that names the problem, on every kind of object a path names, and every
  list still answers 200 afterwards;
- entries older versions stored under such names stay reachable: lists show them
  with \\xHH escapes, and the escaped name reads and deletes them;
- PATCH without Content-Type application/merge-patch+json is 415, as in Vault;
- libmicrohttpd's own error answers are JSON and its messages are our log lines;
- sys/capabilities* judge the path a request would be judged on.
"""

import json
import re
import socket
from urllib.parse import quote

import hvac
import pytest

from cofferlib import LOOPBACK, wait_until

# Each a name that is not UTF-8 once decoded, or holds NUL.
HOSTILE = {
    "ff": "bad%ffname",  # a byte that never occurs in UTF-8
    "overlong": "bad%c0%80name",  # NUL written as an overlong two-byte form
    "nul": "bad%00name",  # today's servers cut the name at the NUL
    "surrogate": "bad%ed%a0%80name",  # U+D800, a lone UTF-16 surrogate
    "truncated": "bad%e2%82name",  # the first two bytes of a three-byte form
}
NAMED = {"ff": "never occurs in UTF-8", "overlong": "overlong", "nul": "NUL",
         "surrogate": "surrogate", "truncated": "truncated"}

POLICY = 'path "secret/data/x" { capabilities = ["read"] }'


def assert_json_error(resp, status):
    assert resp.status == status, resp
    assert resp.headers.get("content-type") == "application/json", resp.headers
    errors = resp.json()["errors"]
    assert errors and all(isinstance(e, str) and e for e in errors), errors
    return errors


def setup_objects(dev):
    """One good object of every kind, so each list has something to answer."""
    c = dev.client
    c.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    c.sys.enable_secrets_engine("transit")
    c.sys.enable_auth_method("userpass")
    c.sys.enable_auth_method("approle")
    c.secrets.kv.v2.create_or_update_secret("good", {"a": "b"})
    c.secrets.kv.v1.create_or_update_secret("good", {"a": "b"}, mount_point="kv1")
    c.sys.create_or_update_policy("good", POLICY)
    c.auth.userpass.create_or_update_user("good", password="pw-good")
    c.secrets.transit.create_key("good")
    c.auth.approle.create_or_update_approle("good", token_policies=["default"])


# (method, path template, body): one write per kind of object named in a path
WRITES = {
    "kv2-data": ("POST", "/v1/secret/data/{}", {"data": {"a": "b"}}),
    "kv2-metadata": ("POST", "/v1/secret/metadata/{}", {"max_versions": 3}),
    "kv1": ("POST", "/v1/kv1/{}", {"a": "b"}),
    "mount": ("POST", "/v1/sys/mounts/{}", {"type": "kv"}),
    "auth-mount": ("POST", "/v1/sys/auth/{}", {"type": "userpass"}),
    "policy": ("PUT", "/v1/sys/policy/{}", {"policy": POLICY}),
    "acl-policy": ("PUT", "/v1/sys/policies/acl/{}", {"policy": POLICY}),
    "userpass-user": ("POST", "/v1/auth/userpass/users/{}", {"password": "pw"}),
    "transit-key": ("POST", "/v1/transit/keys/{}", {}),
    "approle-role": ("POST", "/v1/auth/approle/role/{}", {"token_policies": ["default"]}),
}

LISTS = [
    ("LIST", "/v1/secret/metadata/"),
    ("LIST", "/v1/kv1/"),
    ("GET", "/v1/sys/mounts"),
    ("GET", "/v1/sys/auth"),
    ("GET", "/v1/sys/policy"),
    ("LIST", "/v1/sys/policies/acl"),
    ("LIST", "/v1/auth/userpass/users"),
    ("LIST", "/v1/transit/keys"),
    ("LIST", "/v1/auth/approle/role"),
]


def assert_every_list_answers(dev):
    for method, path in LISTS:
        resp = dev.raw(method, path)
        assert resp.status == 200, (method, path, resp)
        assert not re.search(rb"bad.?name", resp.body), (path, resp)  # nothing hostile got in


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_names_are_refused_on_every_object(dev_server, kind):
    setup_objects(dev_server)
    for what, (method, template, body) in WRITES.items():
        resp = dev_server.raw(method, template.format(HOSTILE[kind]), body)
        errors = assert_json_error(resp, 400)
        assert any(NAMED[kind] in e for e in errors), (what, errors)
        assert not any("\ufffd" in e or "\x00" in e for e in errors), errors  # no raw bytes echoed
    # reads and deletes of such a name are refused the same way
    for method in ("GET", "DELETE"):
        resp = dev_server.raw(method, f"/v1/secret/data/{HOSTILE[kind]}")
        assert_json_error(resp, 400)
    # the name cut at a NUL was not written either
    assert dev_server.raw("GET", "/v1/secret/data/bad").status == 404
    assert_every_list_answers(dev_server)


def test_bad_percent_encoding_is_400(dev_server):
    for path in ("/v1/secret/data/50%", "/v1/secret/data/%zzx", "/v1/secret/data/a%4"):
        errors = assert_json_error(dev_server.raw("POST", path, {"data": {"a": "b"}}), 400)
        assert "two hex digits" in errors[0], errors


def test_bad_query_parameters_are_400(dev_server):
    """A query value or key that is not UTF-8, or that holds %00, is refused:
    it was silently dropped ("?version=%ff" read the latest version, "?list=%ff"
    read instead of listing) or cut at the NUL ("?version=1%002" read version 1)."""
    kv = dev_server.client.secrets.kv.v2
    kv.create_or_update_secret("q", {"v": "1"})
    kv.create_or_update_secret("q", {"v": "2"})
    for query in ("version=%ff", "version=1%002", "%ff=1", "list=%c0%80", "version=%ed%a0%80",
                  "version=1&x=a%00b"):
        errors = assert_json_error(dev_server.raw("GET", "/v1/secret/data/q?" + query), 400)
        assert "query" in errors[0], (query, errors)
    assert_json_error(dev_server.raw("GET", "/v1/secret/metadata/?list=%ff"), 400)
    # good ones still work, UTF-8 included
    resp = dev_server.raw("GET", "/v1/secret/data/q?version=1")
    assert resp.status == 200 and json.loads(resp.body)["data"]["data"] == {"v": "1"}
    assert dev_server.raw("GET", "/v1/secret/data/q?version=2&note=caf%c3%a9").status == 200
    assert dev_server.raw("GET", "/v1/secret/metadata/?list=true").status == 200


def test_utf8_names_still_work(dev_server):
    kv = dev_server.client.secrets.kv.v2
    for name in ("café", "ключ", "🔑-emoji", "日本"):
        kv.create_or_update_secret(name, {"v": name})
        assert kv.read_secret_version(name)["data"]["data"] == {"v": name}
    assert sorted(kv.list_secrets("")["data"]["keys"]) == sorted(["café", "ключ", "🔑-emoji", "日本"])


def test_nul_in_json_names_is_refused(dev_server):
    """Names that arrive in bodies: jansson refuses \\u0000 unless told otherwise."""
    cases = [
        ("POST", "/v1/auth/token/create", '{"policies": ["default\\u0000root"]}'),
        ("POST", "/v1/sys/mounts/nulmount", '{"type": "kv\\u0000"}'),
        ("POST", "/v1/sys/capabilities-self", '{"paths": ["secret/data/a\\u0000b"]}'),
        ("POST", "/v1/secret/data/nulkey", '{"data": {"a\\u0000b": "c"}}'),
    ]
    for method, path, body in cases:
        resp = dev_server.raw(method, path, body, headers={"Content-Type": "application/json"})
        errors = assert_json_error(resp, 400)
        assert "failed to parse JSON input" in errors[0], errors
    assert dev_server.raw("GET", "/v1/secret/data/nulkey").status == 404
    assert "nulmount/" not in dev_server.client.sys.list_mounted_secrets_engines()["data"]


def test_remount_target_is_checked_like_a_path(dev_server):
    """sys/remount's "to" names a mount from a JSON body: it is normalised and
    checked as a request path is, so no mount is made that no path can reach."""
    dev_server.client.sys.enable_secrets_engine("kv", path="movable", options={"version": "1"})
    for to, says in [("x/../y", '".." segment'), ("x/./y", '"." segment'),
                     ("bad\\xffname", "backslash"), ("tab\there", "control character"), ("/", "empty")]:
        resp = dev_server.raw("POST", "/v1/sys/remount", {"from": "movable", "to": to})
        errors = assert_json_error(resp, 400)
        assert any(says in e for e in errors), (to, errors)
    # the paths sys/mounts keeps for coffer's own use are refused here too
    for to in ("sys", "sys/x", "auth/x", "cubbyhole", "identity", "cubbyhole/deeper"):
        resp = dev_server.raw("POST", "/v1/sys/remount", {"from": "movable", "to": to})
        assert_json_error(resp, 400)
    mounts = dev_server.client.sys.list_mounted_secrets_engines()["data"]
    assert "movable/" in mounts and not any(".." in m or "\\" in m for m in mounts), mounts
    assert "identity/" not in mounts, mounts
    assert mounts["cubbyhole/"]["type"] == "cubbyhole"  # the built-in one, untouched
    resp = dev_server.raw("POST", "/v1/sys/remount", {"from": "movable", "to": "moved//here"})
    assert resp.status in (200, 204), resp
    assert "moved/here/" in dev_server.client.sys.list_mounted_secrets_engines()["data"]


def test_rotation_job_path_is_checked_like_a_path(dev_server):
    """A rotation job's path becomes the path of the job's own requests, which
    skip the HTTP edge: it is checked the same way when the job is written."""
    for path, says in [("app/../other", '".." segment'), ("app/bad\\x41", "escape"),
                       ("app\u0001x", "control character")]:
        resp = dev_server.raw("POST", "/v1/sys/rotation/jobs/bad",
                              {"template": "api-key", "mount": "secret", "path": path, "keys": {"key": {}}})
        errors = assert_json_error(resp, 400)
        assert any(says in e for e in errors), (path, errors)
    assert dev_server.raw("GET", "/v1/sys/rotation/jobs/bad").status == 404
    resp = dev_server.raw("POST", "/v1/sys/rotation/jobs/good", {"template": "api-key", "mount": "secret",
                                                                "path": "app//api", "keys": {"key": {}}})
    assert resp.status == 200, resp
    assert resp.json()["data"]["path"] == "app/api", resp.json()


# ---------------------------------------------------------------- legacy entries

# (write, list, listed name, read, delete) per kind of object, with {} for the
# name as a request path spells it.
LEGACY = {
    "kv2": ("POST /v1/secret/data/{}", "LIST /v1/secret/metadata/", "GET /v1/secret/data/{}",
            "DELETE /v1/secret/metadata/{}"),
    "kv1": ("POST /v1/kv1/{}", "LIST /v1/kv1/", "GET /v1/kv1/{}", "DELETE /v1/kv1/{}"),
    "policy": ("PUT /v1/sys/policy/{}", "LIST /v1/sys/policies/acl", "GET /v1/sys/policy/{}",
               "DELETE /v1/sys/policy/{}"),
    "user": ("POST /v1/auth/userpass/users/{}", "LIST /v1/auth/userpass/users",
             "GET /v1/auth/userpass/users/{}", "DELETE /v1/auth/userpass/users/{}"),
    "transit": ("POST /v1/transit/keys/{}", "LIST /v1/transit/keys", "GET /v1/transit/keys/{}",
                "DELETE /v1/transit/keys/{}"),
}
# No AppRole role: older versions could not store one under such a name (its role
# ID index holds the name in JSON, so the whole transaction failed). Mounts were
# never stored either (the mount table is JSON); they vanished at the next seal.
LEGACY_BODY = {"kv2": {"data": {"v": "legacy"}}, "kv1": {"v": "legacy"}, "policy": {"policy": POLICY},
               "user": {"password": "pw"}, "transit": {}}
# the raw name older versions stored, as sent, and as lists now show it
RAW_NAME = "legacy%ff%feold"
LISTED = "legacy\\xff\\xfeold"


def call(srv, token, spec, name="", body=None):
    method, path = spec.split(" ", 1)
    return srv.raw(method, path.format(name), body, token=token)


def test_legacy_names_list_read_and_delete(server_factory, tmp_path):
    """Names older versions stored as sent (the test hook COFFER_TEST_LEGACY_PATHS
    lets one write them the way they did) list with \\xHH escapes, and the escaped
    name reads and deletes them, on a server started without the hook."""
    db = tmp_path / "legacy.db"
    old = server_factory([f"--storage=sqlite:{db}"], name="old", ready="any",
                         extra_env={"COFFER_TEST_LEGACY_PATHS": "1"})
    token = old.init_unseal()
    c = old.client(token)
    c.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    c.sys.enable_secrets_engine("transit")
    c.sys.enable_auth_method("userpass")
    c.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    for kind, (write, *_rest) in LEGACY.items():
        resp = call(old, token, write, RAW_NAME, LEGACY_BODY[kind])
        assert resp.status in (200, 204), (kind, resp)
        resp = call(old, token, write, "good", LEGACY_BODY[kind])
        assert resp.status in (200, 204), (kind, resp)
    keys = old.keys
    old.stop()

    new = server_factory([f"--storage=sqlite:{db}"], name="new", ready="any")
    new.unseal(keys[:3])
    escaped = quote(LISTED, safe="")  # the backslashes travel as %5C
    # one bad name never breaks a list: each shows it escaped beside the others
    for kind, (_write, lst, _read, _delete) in LEGACY.items():
        resp = call(new, token, lst)
        assert resp.status == 200, (kind, resp)
        listed = resp.json()["data"]["keys"]
        assert LISTED in listed and "good" in listed, (kind, listed)
    # an entry stored under such a name can be rewritten: a new KV version, a
    # transit key's config (deleting a transit key needs deletion_allowed)
    resp = new.raw("POST", f"/v1/secret/data/{escaped}", {"data": {"v": "legacy"}}, token=token)
    assert resp.status == 200 and resp.json()["data"]["version"] == 2, resp
    resp = new.raw("POST", f"/v1/transit/keys/{escaped}/config", {"deletion_allowed": True}, token=token)
    assert resp.status in (200, 204), resp
    # a real client reads such a name by its listed spelling
    c = new.client(token)
    assert c.secrets.kv.v2.read_secret_version(LISTED)["data"]["data"] == {"v": "legacy"}
    for kind, (_write, lst, read, delete) in LEGACY.items():
        resp = call(new, token, read, escaped)
        assert resp.status == 200, (kind, resp)
        assert call(new, token, delete, escaped).status == 204, kind
        assert call(new, token, read, escaped).status == 404, kind
        resp = call(new, token, lst)
        assert resp.status == 200 and LISTED not in resp.json()["data"]["keys"], (kind, resp)
    assert c.secrets.kv.v2.read_secret_version("good")["data"]["data"] == {"v": "legacy"}


def test_escapes_never_create_a_name(dev_server):
    """A \\xHH escape spells a stored name; creating an entry through one would
    store a new name that is not UTF-8, so the storage view refuses it (and a
    mount path never holds one). Escapes that spell plain text are refused."""
    setup_objects(dev_server)
    for method, path, body in [
        ("POST", "/v1/secret/data/a%5Cxffb", {"data": {"a": "b"}}),
        ("POST", "/v1/secret/metadata/a%5Cxffb", {"max_versions": 2}),
        ("POST", "/v1/kv1/a%5Cxffb", {"a": "b"}),
        ("PUT", "/v1/sys/policy/a%5Cxffb", {"policy": POLICY}),
        ("POST", "/v1/auth/userpass/users/a%5Cxffb", {"password": "pw"}),
        ("POST", "/v1/transit/keys/a%5Cxffb", {}),
        ("POST", "/v1/auth/approle/role/a%5Cxffb", {}),
        ("POST", "/v1/sys/mounts/a%5Cxffb", {"type": "kv"}),
        ("POST", "/v1/sys/auth/a%5Cxffb", {"type": "userpass"}),
    ]:
        assert_json_error(dev_server.raw(method, path, body), 400)
    assert_every_list_answers(dev_server)
    for method, path in LISTS:
        assert b"a\\\\xffb" not in dev_server.raw(method, path).body, path
    # plain text spelled as an escape ("\\x41" for "A", "\\x2f" for "/") is refused
    for path in ("/v1/secret/data/%5Cx41", "/v1/secret/data/a%5Cx2fb", "/v1/secret/data/%5Cxc3%5Cxa9",
                 "/v1/secret/data/%5CxFF", "/v1/secret/data/a%5Cb"):
        errors = assert_json_error(dev_server.raw("GET", path), 400)
        assert "escape" in errors[0], errors
    # a read through a canonical escape is just a read: 404 when nothing is there
    assert dev_server.raw("GET", "/v1/secret/data/a%5Cxffb").status == 404


# ---------------------------------------------------------------- PATCH


def test_patch_requires_merge_patch_content_type(dev_server, run_cli):
    kv = dev_server.client.secrets.kv.v2
    kv.create_or_update_secret("p", {"a": "1", "b": "2"})
    body = b'{"data": {"a": "changed"}}'
    for headers in ({}, {"Content-Type": "application/json"}, {"Content-Type": "text/plain"},
                    {"Content-Type": "application/merge-patch+jsonx"},
                    {"Content-Type": "application/merge-patch+json garbage"},
                    {"Content-Type": "application/merge-patch+json, application/json"}):
        errors = assert_json_error(dev_server.raw("PATCH", "/v1/secret/data/p", body, headers=headers), 415)
        assert "application/merge-patch+json" in errors[0], errors
    assert kv.read_secret_version("p")["data"]["data"] == {"a": "1", "b": "2"}
    assert kv.read_secret_version("p")["data"]["metadata"]["version"] == 1
    resp = dev_server.raw("PATCH", "/v1/secret/data/p", body,
                          headers={"Content-Type": "Application/Merge-Patch+JSON; charset=utf-8"})
    assert resp.status == 200, resp
    resp = dev_server.raw("PATCH", "/v1/secret/data/p", body,
                          headers={"Content-Type": " application/merge-patch+json ;charset=utf-8"})
    assert resp.status == 200, resp
    assert kv.read_secret_version("p")["data"]["data"] == {"a": "changed", "b": "2"}
    # hvac's patch (read, then write) and our CLI's (HTTP PATCH) still work
    kv.patch("p", {"b": "hvac"})
    out = run_cli("kv", "patch", "secret/p", "c=cli", addr=dev_server.addr, token=dev_server.token)
    assert out.returncode == 0, out.stderr
    assert kv.read_secret_version("p")["data"]["data"] == {"a": "changed", "b": "hvac", "c": "cli"}


# ---------------------------------------------------------------- libmicrohttpd's answers


def raw_exchange(addr, data):
    host, port = addr.replace("http://", "").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


def test_raw_nul_in_the_request_target_is_400(dev_server):
    """A NUL byte sent raw (not as %00) in the request line: libmicrohttpd hands
    the target on as a C string, so "secret/data/nul<NUL>zzz" was served as
    secret/data/nul (a write to another name than the one sent)."""
    tok = dev_server.token.encode()
    body = b'{"data":{"k":"v"}}'
    for target in (b"/v1/secret/data/nul\x00zzz", b"/v1/secret/data/nul?x=1\x00y"):
        status, _, answer = raw_exchange(
            dev_server.addr,
            b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Vault-Token: " + tok +
            b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert status == 400, (target, answer)
        assert "NUL" in json.loads(answer)["errors"][0], answer
    assert dev_server.raw("GET", "/v1/secret/data/nul").status == 404
    # a request line without a NUL, query string included, still works
    status, _, answer = raw_exchange(
        dev_server.addr,
        b"POST /v1/secret/data/nul?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Vault-Token: " + tok +
        b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert status == 200, answer
    assert dev_server.raw("GET", "/v1/secret/data/nul").status == 200


MHD_CASES = [
    (414, b"GET /v1/" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    (431, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n"),
    (400, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
    (400, b"POST /v1/secret/data/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"),
    (505, b"GET /v1/sys/health HTTP/2.0\r\nHost: x\r\n\r\n"),
]


@pytest.mark.parametrize("status,request_bytes", MHD_CASES, ids=[str(s) for s, _ in MHD_CASES])
def test_libmicrohttpd_errors_are_json_and_logged(dev_server, status, request_bytes):
    got, headers, body = raw_exchange(dev_server.addr, request_bytes)
    assert got == status, (got, body[:200])
    assert headers.get("content-type") == "application/json", headers
    assert headers.get("cache-control") == "no-store", headers
    errors = json.loads(body)["errors"]
    assert errors and "<" not in errors[0] and "&quot;" not in errors[0], errors
    srv = dev_server.server
    line = wait_until(lambda: next((ln for ln in srv.log_text().splitlines()
                                    if f"response code is {status}" in ln), None),
                      5, what="libmicrohttpd's message in the log")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[info\] http: ", line), line
    assert "<html" not in srv.log_text() and "<title" not in srv.log_text()
    # the server keeps answering
    assert dev_server.raw("GET", "/v1/sys/health").status == 200


# ---------------------------------------------------------------- capabilities


def scoped_token(dev):
    dev.client.sys.create_or_update_policy("app", """
path "secret/data/app/*" { capabilities = ["create", "read", "update", "delete", "list"] }
""")
    dev.client.secrets.kv.v2.create_or_update_secret("app/x", {"v": "x"})
    dev.client.secrets.kv.v2.create_or_update_secret("other", {"v": "other"})
    return dev.client.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]


# path, what capabilities must report, the status a GET of it answers
CAP_CASES = [
    ("secret/data/app/../other", ["deny"], 400),
    ("secret//data/app/x", ["create", "delete", "list", "read", "update"], 200),
    ("/secret/data/app/x", ["create", "delete", "list", "read", "update"], 200),
    ("secret/data/app/./x", ["deny"], 400),
    ("secret/data/app/x\\y", ["deny"], 400),
    ("secret/data/app/\\x41", ["deny"], 400),
    ("secret/data/app/\\xff", ["create", "delete", "list", "read", "update"], 404),
    ("secret/data/other", ["deny"], 403),
]


def test_capabilities_agree_with_the_answer(dev_server):
    token = scoped_token(dev_server)
    paths = [p for p, _, _ in CAP_CASES]
    accessor = dev_server.client.lookup_token(token)["data"]["accessor"]
    answers = {
        "self": dev_server.raw("POST", "/v1/sys/capabilities-self", {"paths": paths}, token=token),
        "token": dev_server.raw("POST", "/v1/sys/capabilities", {"paths": paths, "token": token}),
        "accessor": dev_server.raw("POST", "/v1/sys/capabilities-accessor",
                                   {"paths": paths, "accessor": accessor}),
    }
    for how, resp in answers.items():
        assert resp.status == 200, (how, resp)
        data = resp.json()["data"]
        for path, caps, _ in CAP_CASES:
            assert sorted(data[path.lstrip("/")]) == caps, (how, path, data)
    for path, caps, status in CAP_CASES:
        resp = dev_server.raw("GET", "/v1/" + quote(path.lstrip("/"), safe="/"), token=token)
        assert resp.status == status, (path, resp)
        if "read" in caps:
            assert resp.status in (200, 404), (path, resp)
        else:
            assert resp.status in (400, 403), (path, resp)
