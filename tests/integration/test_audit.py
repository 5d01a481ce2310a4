"""File audit device (Vault's sys/audit, Vault's file audit device format): JSON lines, HMAC'd secrets, sys/audit-hash,
refused requests audited with their errors, `coffer audit verify`, and no
unaudited access when the device cannot write. The keyed chain, checkpoints and
tamper detection are in test_audit_chain.py."""

import json
import os
import re
import shutil

import pytest

from cofferlib import wait_until

HASH_RE = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")


def enable_file_audit(dev, path, name="file", **options):
    opts = {"file_path": str(path)}
    opts.update(options)
    dev.client.sys.enable_audit_device("file", options=opts, path=name)


CHAIN_TYPES = ("chain_start", "checkpoint")


def read_entries(path, chain_lines=False):
    """The request and response entries of the log (every line must be JSON);
    with chain_lines, the chain's own lines (chain_start, checkpoint) too."""
    lines = path.read_text().splitlines()
    assert lines, "audit log is empty"
    entries = []
    for n, line in enumerate(lines, start=1):
        try:
            e = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"audit line {n} is not JSON: {line[:200]!r}") from exc
        if chain_lines or e.get("type") not in CHAIN_TYPES:
            entries.append(e)
    return entries


def entries_for(entries, path, kind=None):
    return [e for e in entries
            if e.get("request", {}).get("path") == path and (kind is None or e.get("type") == kind)]


@pytest.fixture
def audited(dev_server, tmp_path):
    """A dev server with a file audit device at `file/`, plus a secret written and read."""
    log = tmp_path / "audit.log"
    # short segments, so that the verify tests below find closed ones
    enable_file_audit(dev_server, log, checkpoint_lines="4")
    secret = "s3cr3t-" + os.urandom(12).hex()
    kv = dev_server.client.secrets.kv.v2
    kv.create_or_update_secret("app/db", {"password": secret, "user": "app"})
    kv.create_or_update_secret("app/db", {"password": secret, "user": "app2"})
    kv.read_secret_version("app/db")
    child = dev_server.client.auth.token.create(policies=["default"], ttl="1h")["auth"]
    dev_server.server.client(child["client_token"]).auth.token.lookup_self()
    dev_server.log = log
    dev_server.secret = secret
    dev_server.child = child
    return dev_server


def test_device_is_listed(audited):
    listing = audited.client.sys.list_enabled_audit_devices()
    device = listing["data"]["file/"]
    assert device["type"] == "file"
    assert device["options"]["file_path"] == str(audited.log)
    assert "tampered" not in device
    assert listing["file/"] == device  # top-level copy of data


def test_every_line_is_json(audited):
    entries = read_entries(audited.log, chain_lines=True)
    assert entries[0]["type"] == "chain_start"
    for e in entries:
        assert e["type"] in ("request", "response") + CHAIN_TYPES, e
        assert e["time"].endswith("Z")
        assert e["seq"] > 0 and re.fullmatch(r"[0-9a-f]{64}", e["prev_hash"])
        if e["type"] in ("request", "response"):
            assert e["request"]["id"]


def test_requests_and_responses_are_paired(audited):
    entries = read_entries(audited.log)
    writes = entries_for(entries, "secret/data/app/db")
    requests_ = [e for e in writes if e["type"] == "request"]
    responses = [e for e in writes if e["type"] == "response"]
    assert [e["request"]["operation"] for e in requests_] == ["create", "update", "read"]
    assert {e["request"]["id"] for e in requests_} == {e["request"]["id"] for e in responses}
    for e in writes:
        assert e["request"]["mount_point"] == "secret/"
        assert e["request"]["mount_type"] == "kv"
        assert e["request"]["remote_address"] == "127.0.0.1"
        assert HASH_RE.match(e["request"]["client_token"]), e["request"]["client_token"]
        assert HASH_RE.match(e["auth"]["client_token"])
        assert e["auth"]["policies"] == ["root"]


def test_secret_values_never_in_plaintext(audited):
    text = audited.log.read_text()
    assert audited.secret not in text
    assert audited.token not in text  # the root token
    assert audited.child["client_token"] not in text
    # the accessor is HMAC'd too by default
    assert audited.child["accessor"] not in text


def test_audit_hash_is_what_the_log_holds(audited):
    resp = audited.client.sys.calculate_hash("file", audited.secret)
    digest = resp["data"]["hash"]
    assert HASH_RE.match(digest), digest
    assert resp["hash"] == digest  # sys/ top-level copy
    assert audited.client.sys.calculate_hash("file", audited.secret)["data"]["hash"] == digest
    assert audited.client.sys.calculate_hash("file", audited.secret + "x")["data"]["hash"] != digest

    entries = read_entries(audited.log)
    kv_entries = entries_for(entries, "secret/data/app/db")
    write_req = [e for e in kv_entries if e["type"] == "request" and e["request"]["operation"] == "create"][0]
    assert write_req["request"]["data"]["data"]["password"] == digest
    read_resp = [e for e in kv_entries if e["type"] == "response" and e["request"]["operation"] == "read"][0]
    assert read_resp["response"]["data"]["data"]["password"] == digest
    # numbers and booleans stay plaintext; other strings are hashed
    assert read_resp["response"]["data"]["metadata"]["version"] == 2
    assert read_resp["response"]["data"]["metadata"]["destroyed"] is False
    user_hash = audited.client.sys.calculate_hash("file", "app2")["data"]["hash"]
    assert read_resp["response"]["data"]["data"]["user"] == user_hash


def test_token_in_response_auth_is_hashed(audited):
    entries = read_entries(audited.log)
    created = [e for e in entries_for(entries, "auth/token/create", "response")]
    assert created, "token create not audited"
    token_hash = audited.client.sys.calculate_hash("file", audited.child["client_token"])["data"]["hash"]
    assert created[0]["response"]["auth"]["client_token"] == token_hash


def test_unaudited_endpoints(audited):
    for path in ("/v1/sys/health", "/v1/sys/seal-status", "/v1/sys/init"):
        audited.raw("GET", path)
    entries = read_entries(audited.log)
    paths = {e["request"]["path"] for e in entries}
    assert not paths & {"sys/health", "sys/seal-status", "sys/init"}


def test_log_raw_keeps_plaintext(dev_server, tmp_path):
    log = tmp_path / "raw.log"
    enable_file_audit(dev_server, log, name="raw", log_raw="true")
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "visible-on-purpose"})
    assert "visible-on-purpose" in log.read_text()


def test_disable_stops_logging(audited):
    audited.client.sys.disable_audit_device("file")
    size = audited.log.stat().st_size
    audited.client.secrets.kv.v2.read_secret_version("app/db")
    assert audited.log.stat().st_size == size
    assert "file/" not in audited.client.sys.list_enabled_audit_devices()["data"]


def test_second_device_gets_the_same_requests(audited, tmp_path):
    log2 = tmp_path / "second.log"
    enable_file_audit(audited, log2, name="second")
    audited.client.secrets.kv.v2.read_secret_version("app/db")
    second = read_entries(log2)
    assert entries_for(second, "secret/data/app/db", "response")
    assert audited.secret not in log2.read_text()


# ---------------------------------------------------------------- refused requests


def refused_pair(log, path, request_id=None):
    """The request and response entries of a refused request to path (the last
    ones logged), checked to carry the same id and an error."""
    entries = [e for e in entries_for(read_entries(log), path) if e.get("error")]
    assert len(entries) >= 2, f"refused request to {path} not audited: {entries_for(read_entries(log), path)}"
    req, resp = entries[-2], entries[-1]
    assert (req["type"], resp["type"]) == ("request", "response")
    assert req["request"]["id"] == resp["request"]["id"]
    assert req["error"] == resp["error"]
    return req, resp


def test_unauthenticated_request_is_audited(audited):
    r = audited.raw("GET", "/v1/secret/data/app/db", token=None)
    assert r.status == 403, r
    req, resp = refused_pair(audited.log, "secret/data/app/db")
    assert req["error"] == "permission denied"
    assert "client_token" not in req.get("auth", {}) and "client_token" not in req["request"]
    assert req["request"]["operation"] == "read"
    assert req["request"]["remote_address"] == "127.0.0.1"


def test_invalid_token_is_audited_hashed(audited):
    bogus = "hvs.not-a-token-" + os.urandom(6).hex()
    r = audited.raw("GET", "/v1/secret/data/app/db", token=bogus)
    assert r.status == 403, r
    req, resp = refused_pair(audited.log, "secret/data/app/db")
    assert req["error"] == "permission denied"
    want = audited.client.sys.calculate_hash("file", bogus)["data"]["hash"]
    assert req["auth"]["client_token"] == want == req["request"]["client_token"]
    assert bogus not in audited.log.read_text()


def test_denied_request_is_audited(audited):
    child = audited.server.client(audited.child["client_token"])
    with pytest.raises(Exception):
        child.secrets.kv.v2.read_secret_version("app/db")
    req, resp = refused_pair(audited.log, "secret/data/app/db")
    assert req["error"] == "permission denied"
    assert req["auth"]["policy_results"]["allowed"] is False
    assert req["auth"]["policies"] == ["default"]
    accessor = audited.client.sys.calculate_hash("file", audited.child["accessor"])["data"]["hash"]
    assert req["auth"]["accessor"] == accessor
    # an allowed request says so
    ok = entries_for(read_entries(audited.log), "auth/token/lookup-self", "request")
    assert ok and ok[-1]["auth"]["policy_results"]["allowed"] is True


def test_malformed_json_is_audited(audited):
    r = audited.raw("POST", "/v1/secret/data/app/db", "{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    req, resp = refused_pair(audited.log, "secret/data/app/db")
    assert "JSON" in req["error"] and req["error"] == r.errors()[0]
    assert req["request"]["operation"] == "update"
    assert HASH_RE.match(req["auth"]["client_token"])


@pytest.mark.parametrize("method,path,want,status", [
    ("GET", "/v1/no-such-mount/x", "no-such-mount/x", 404),
    ("GET", "/v1/sys/no-such-route", "sys/no-such-route", 404),
    ("GET", "/v2/elsewhere", "/v2/elsewhere", 404),
    ("BREW", "/v1/secret/data/app/db", "/v1/secret/data/app/db", 405),
    ("GET", "/v1/secret/data/app/db?list=maybe", "/v1/secret/data/app/db", 400),
    ("GET", "/v1/secret/data/a%ffb", "/v1/secret/data/a%ffb", 400),
    ("GET", "/v1/secret/data/a%00b", "/v1/secret/data/a%00b", 400),
    ("PATCH", "/v1/secret/data/app/db", "secret/data/app/db", 415),
    ("GET", "/v1/secret/data/app/db?version=%ff", "/v1/secret/data/app/db", 400),
])
def test_unknown_path_and_bad_method_are_audited(audited, method, path, want, status):
    r = audited.raw(method, path)
    assert r.status == status, r
    req, resp = refused_pair(audited.log, want)
    assert resp["response"] is not None
    if r.errors():
        assert req["error"] == r.errors()[0]


def test_bad_wrap_ttl_refusal_is_audited(audited):
    r = audited.raw("GET", "/v1/secret/data/app/db", headers={"X-Vault-Wrap-TTL": "soon"})
    assert r.status == 400, r
    req, _ = refused_pair(audited.log, "secret/data/app/db")
    assert req["error"] == r.errors()[0] and "wrap TTL" in req["error"]


def test_path_bytes_are_escaped_in_the_log(audited):
    audited.raw("GET", "/v1/no-mount/a%FFb%01c")
    text = audited.log.read_text()
    assert "no-mount/a%FFb%01c" in text
    assert "\ufffd" not in text and "\u0001" not in text


def test_sealed_server_does_not_audit(audited):
    audited.client.sys.seal()
    size = audited.log.stat().st_size  # after the final checkpoint of the seal
    # the seal itself is audited (who sealed), before the chain's final checkpoint
    tail = read_entries(audited.log, chain_lines=True)
    seal_req = [n for n, e in enumerate(tail)
                if e.get("type") == "request" and e["request"].get("path") == "sys/seal"]
    assert seal_req and tail[-1].get("type") == "checkpoint" and seal_req[-1] < len(tail) - 1
    assert audited.raw("GET", "/v1/secret/data/app/db").status == 503
    assert audited.raw("GET", "/v1/secret/data/app/db", token="bogus").status == 503
    assert audited.log.stat().st_size == size


# ---------------------------------------------------------------- coffer audit verify


def line_number_named(output, n):
    return re.search(rf"(?i)(\bline\W{{0,3}}{n}\b|:{n}\b)", output) is not None


def last_checkpoint_line(path):
    lines = path.read_text().splitlines()
    found = [n for n, line in enumerate(lines, start=1) if '"type":"checkpoint"' in line]
    return found[-1] if found else 0


@pytest.fixture
def audit_copy(audited, tmp_path):
    # a few more requests so the file has lines before and after the one we touch
    for i in range(3):
        audited.client.secrets.kv.v2.read_secret_version("app/db")
    # the lines touched below must lie in a segment closed by a checkpoint: the
    # checkpoint reveals the segment's key, so that the offline check can see them
    wait_until(lambda: last_checkpoint_line(audited.log) >= 8, 10, what="a checkpoint after line 8")
    copy = tmp_path / "audit-copy.log"
    shutil.copyfile(audited.log, copy)
    assert len(copy.read_text().splitlines()) >= 8
    return copy


def verify(run_cli, audited, path, *opts):
    res = run_cli("audit", "verify", *opts, path, addr=audited.addr, token=audited.token)
    return res, res.stdout + res.stderr


def test_verify_accepts_the_file_as_written(run_cli, audited, audit_copy):
    res, out = verify(run_cli, audited, audit_copy, "--allow-partial")
    assert res.returncode == 0, out
    assert "authenticity NOT proven" in out  # no --public-key
    res, out = verify(run_cli, audited, audited.log, "--allow-partial")  # the live file too
    assert res.returncode == 0, out


def test_verify_names_an_edited_line(run_cli, audited, audit_copy):
    lines = audit_copy.read_text().splitlines(keepends=True)
    k = 4  # 1-based
    entry = json.loads(lines[k - 1])
    old_time = entry["time"]
    new_time = old_time[:-2] + ("1" if old_time[-2] != "1" else "2") + old_time[-1]
    assert f'"{old_time}"' in lines[k - 1]
    lines[k - 1] = lines[k - 1].replace(f'"{old_time}"', f'"{new_time}"', 1)
    json.loads(lines[k - 1])  # still valid JSON: only the chain can tell
    audit_copy.write_text("".join(lines))
    res, out = verify(run_cli, audited, audit_copy)
    assert res.returncode == 1, out
    assert line_number_named(out, k), f"verify output does not name line {k}: {out!r}"


def test_verify_names_a_deleted_line(run_cli, audited, audit_copy):
    lines = audit_copy.read_text().splitlines(keepends=True)
    k = 5
    del lines[k - 1]
    audit_copy.write_text("".join(lines))
    res, out = verify(run_cli, audited, audit_copy)
    assert res.returncode == 1, out
    assert line_number_named(out, k), f"verify output does not name line {k}: {out!r}"


def test_verify_missing_file_is_usage_error(run_cli, audited, tmp_path):
    res, out = verify(run_cli, audited, tmp_path / "does-not-exist.log")
    assert res.returncode == 2, out
    assert "coffer: " in res.stderr


# ---------------------------------------------------------------- failing sink


def test_unwritable_device_means_no_access(dev_server):
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "before"})
    resp = dev_server.raw("POST", "/v1/sys/audit/full", {"type": "file", "options": {"file_path": "/dev/full"}})
    # /dev/full opens fine; the enable's own response may already fail to be logged
    assert resp.status in (204, 500), resp

    read = dev_server.raw("GET", "/v1/secret/data/app/db")
    assert read.status == 500, read
    assert b"before" not in read.body
    write = dev_server.raw("POST", "/v1/secret/data/app/db", {"data": {"password": "after"}})
    assert write.status == 500, write
    create = dev_server.raw("POST", "/v1/auth/token/create", {"policies": ["default"]})
    assert create.status == 500, create
    assert b"hvs." not in create.body
    # refused requests cannot be recorded either: 500, not their own answer
    assert dev_server.raw("GET", "/v1/secret/data/app/db", token="bogus").status == 500
    assert dev_server.raw("POST", "/v1/secret/data/x", "{bad").status == 500
    assert dev_server.raw("GET", "/v1/no-such-mount/x").status == 500
    # unaudited endpoints keep answering
    assert dev_server.raw("GET", "/v1/sys/health").status == 200
    assert dev_server.server.alive()
