"""Unseal keys after a compromise or a departure: malformed shares at sys/unseal,
rekey (sys/rekey/*) and root token generation (sys/generate-root/*, Vault 1.10+'s
OTP encoding), through hvac, raw HTTP and the coffer CLI, against a SQLite-backed
server (a --dev server has a single share)."""

import base64
import json
import re

import hvac
import pytest

from cofferlib import find_key


def decode_root(encoded, otp):
    """Vault's `operator generate-root -decode`: base64 (standard alphabet, no
    padding) of token XOR otp."""
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    assert len(raw) == len(otp), (encoded, otp)
    return bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    return res


def status(srv):
    return srv.client().sys.read_seal_status()


def unseal_refused(srv, keys):
    """Gives keys one by one to a sealed server; returns the last answer (it must
    stay sealed)."""
    last = None
    for k in keys:
        last = srv.raw("PUT", "/v1/sys/unseal", {"key": k})
    assert status(srv)["sealed"] is True
    return last


def share_bytes(key_hex):
    return bytes.fromhex(key_hex)


def foreign_share(other_keys, given):
    """A share of another key whose x coordinate (its last byte, random per
    split) differs from every share in given: one with the same x would be
    refused as a repeat rather than combined into a wrong key."""
    taken = {share_bytes(k)[-1] for k in given}
    return next(k for k in other_keys if share_bytes(k)[-1] not in taken)


# ---------------------------------------------------------------- sys/unseal


def test_malformed_shares_are_refused_and_not_counted(sqlite_server):
    srv = sqlite_server()
    srv.init(5, 3)
    good = share_bytes(srv.keys[0])
    x_zero = (good[:-1] + b"\x00").hex()
    cases = {
        "AAAA": "2 bytes",  # hex first, as Vault: 2 bytes, not a share
        base64.b64encode(b"\x01" * 3).decode(): "3 bytes",
        "not a share!": "hex or base64",
        good[:-1].hex(): "32 bytes",  # one byte short
        base64.b64encode(good + b"\x01").decode(): "34 bytes",
        x_zero: "x coordinate",
    }
    for text, reason in cases.items():
        resp = srv.raw("PUT", "/v1/sys/unseal", {"key": text})
        assert resp.status == 400, (text, resp)
        msg = " ".join(resp.errors())
        assert reason in msg and "not counted" in msg, (text, msg)
        assert "progress 0 of 3" in msg, msg
        assert status(srv)["progress"] == 0, text

    client = srv.client()
    assert client.sys.submit_unseal_key(srv.keys[0])["progress"] == 1
    resp = srv.raw("PUT", "/v1/sys/unseal", {"key": "garbage"})
    assert resp.status == 400
    msg = " ".join(resp.errors())
    assert "progress 1 of 3" in msg and "reset" not in msg, msg
    assert status(srv)["progress"] == 1
    # a well-formed share of another key is counted; at the threshold the
    # combination fails and the progress really is reset
    other = sqlite_server()
    other.init(5, 3)
    last = unseal_refused(srv, [srv.keys[1], foreign_share(other.keys, srv.keys[:2])])
    assert last.status == 400 and "reset" in " ".join(last.errors())
    assert status(srv)["progress"] == 0
    # the good shares still unseal: nothing was lost
    assert client.sys.submit_unseal_keys(srv.keys[2:5])["sealed"] is False


def test_unseal_migrate_field_as_vault(sqlite_server):
    srv = sqlite_server()
    srv.init(3, 2)
    client = srv.client()
    # hvac always sends "migrate": false
    assert client.sys.submit_unseal_key(srv.keys[0], migrate=False)["progress"] == 1
    resp = srv.raw("PUT", "/v1/sys/unseal", {"key": srv.keys[1], "migrate": True})
    assert resp.status == 400 and "migrat" in " ".join(resp.errors())
    assert status(srv)["progress"] == 1
    assert client.sys.submit_unseal_key(srv.keys[1])["sealed"] is False


# ---------------------------------------------------------------- rekey, hvac


def test_rekey_3_of_5_to_2_of_3_with_hvac(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client(srv.root_token)
    client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    client.secrets.kv.v2.create_or_update_secret("app", secret={"pw": "before-rekey"})

    started = client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    assert started["started"] is True
    progress = client.sys.read_rekey_progress()
    assert (progress["t"], progress["n"], progress["required"], progress["progress"]) == (2, 3, 3, 0)
    assert progress["nonce"] == started["nonce"]
    assert progress["verification_required"] is False

    step = client.sys.rekey(srv.keys[0], nonce=progress["nonce"])
    assert step["progress"] == 1 and not step.get("complete")
    result = client.sys.rekey_multi(srv.keys[1:3], nonce=progress["nonce"])
    assert result["complete"] is True
    new = result["keys"]
    assert len(new) == 3 and len(result["keys_base64"]) == 3
    assert not set(new) & set(srv.keys)
    assert client.sys.read_rekey_progress()["started"] is False

    st = client.sys.read_seal_status()
    assert (st["t"], st["n"]) == (2, 3)

    client.sys.seal()
    # old shares are refused: any two of them combine to a wrong key
    last = unseal_refused(srv, srv.keys[:2])
    assert last.status == 400
    assert status(srv)["progress"] == 0
    after = client.sys.submit_unseal_keys(result["keys_base64"][1:3])
    assert after["sealed"] is False
    assert client.secrets.kv.v2.read_secret_version("app")["data"]["data"] == {"pw": "before-rekey"}

    # the new configuration survives a restart (it is in storage, not memory)
    srv.kill9()
    srv.start()
    st = status(srv)
    assert (st["sealed"], st["t"], st["n"]) == (True, 2, 3)
    unseal_refused(srv, srv.keys[2:4])
    srv.client().sys.submit_unseal_key(reset=True)
    srv.unseal(new[:2])


def test_rekey_with_verification_with_hvac(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client(srv.root_token)
    client.sys.start_rekey(secret_shares=3, secret_threshold=2, require_verification=True)
    nonce = client.sys.read_rekey_progress()["nonce"]
    result = client.sys.rekey_multi(srv.keys[:3], nonce=nonce)
    assert result["complete"] is True and result["verification_required"] is True
    vnonce = result["verification_nonce"]
    new = result["keys"]
    assert len(new) == 3

    # not in effect yet: the seal config is unchanged and update is closed
    st = client.sys.read_seal_status()
    assert (st["t"], st["n"]) == (3, 5)
    resp = srv.raw("PUT", "/v1/sys/rekey/update", {"key": srv.keys[3], "nonce": nonce})
    assert resp.status == 400 and "verif" in " ".join(resp.errors())
    ver = srv.raw("GET", "/v1/sys/rekey/verify").json()
    assert (ver["nonce"], ver["t"], ver["n"], ver["progress"]) == (vnonce, 2, 3, 0)
    progress = client.sys.read_rekey_progress()
    assert progress["verification_required"] is True and progress["verification_nonce"] == vnonce

    # DELETE sys/rekey/verify restarts only the verification, with a new nonce
    client.sys.rekey_verify(new[0], vnonce)
    restarted = srv.raw("DELETE", "/v1/sys/rekey/verify")
    assert restarted.status == 200
    body = restarted.json()
    assert body["progress"] == 0 and body["nonce"] != vnonce
    vnonce = body["nonce"]

    # the wrong nonce, then OLD shares, are refused
    resp = srv.raw("PUT", "/v1/sys/rekey/verify", {"key": new[0], "nonce": nonce})
    assert resp.status == 400 and "nonce" in " ".join(resp.errors())
    client.sys.rekey_verify(srv.keys[0], vnonce)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.rekey_verify(srv.keys[1], vnonce)
    assert srv.raw("GET", "/v1/sys/rekey/verify").json()["progress"] == 0

    done = client.sys.rekey_verify_multi(new[1:3], vnonce)
    assert done["complete"] is True and done["nonce"] == vnonce
    assert srv.raw("GET", "/v1/sys/rekey/verify").status == 400
    st = client.sys.read_seal_status()
    assert (st["t"], st["n"]) == (2, 3)

    client.sys.seal()
    unseal_refused(srv, srv.keys[:2])
    srv.unseal([new[0], new[2]])


def test_rekey_cancelled_during_verification_keeps_old_shares(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client(srv.root_token)
    client.sys.start_rekey(secret_shares=2, secret_threshold=2, require_verification=True)
    nonce = client.sys.read_rekey_progress()["nonce"]
    result = client.sys.rekey_multi(srv.keys[2:5], nonce=nonce)
    assert result["verification_required"] is True
    client.sys.cancel_rekey()
    assert client.sys.read_rekey_progress()["started"] is False
    client.sys.seal()
    unseal_refused(srv, result["keys"])
    srv.client().sys.submit_unseal_key(reset=True)
    srv.unseal(srv.keys[:3])


def test_rekey_refusals(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client(srv.root_token)

    resp = srv.raw("PUT", "/v1/sys/rekey/update", {"key": srv.keys[0], "nonce": "x"})
    assert resp.status == 400 and "no rekey in progress" in resp.errors()
    for body, word in (
        ({"secret_shares": 3, "secret_threshold": 2, "pgp_keys": ["a", "b", "c"]}, "PGP"),
        ({"secret_shares": 3, "secret_threshold": 2, "backup": True}, "backup"),
        ({"secret_shares": 3, "secret_threshold": 4}, "secret_threshold"),
        ({"secret_shares": 3, "secret_threshold": 1}, "threshold"),
        ({"secret_threshold": 2}, "secret_shares"),
    ):
        resp = srv.raw("PUT", "/v1/sys/rekey/init", body)
        assert resp.status == 400, (body, resp)
        assert word in " ".join(resp.errors()), (body, resp.errors())
        assert client.sys.read_rekey_progress()["started"] is False

    nonce = client.sys.start_rekey(secret_shares=3, secret_threshold=2)["nonce"]
    resp = srv.raw("PUT", "/v1/sys/rekey/init", {"secret_shares": 5, "secret_threshold": 3})
    assert resp.status == 400 and "already in progress" in " ".join(resp.errors())

    client.sys.rekey(srv.keys[0], nonce=nonce)
    for body, word in (
        ({"key": srv.keys[1], "nonce": "wrong"}, "nonce"),
        ({"key": "AAAA", "nonce": nonce}, "not counted"),
        ({"key": srv.keys[0], "nonce": nonce}, "already been provided"),
        ({"nonce": nonce}, "key"),
    ):
        resp = srv.raw("PUT", "/v1/sys/rekey/update", body)
        assert resp.status == 400, (body, resp)
        assert word in " ".join(resp.errors()), (body, resp.errors())
        assert client.sys.read_rekey_progress()["progress"] == 1

    # a cancel with the wrong nonce is refused; hvac's cancel (no nonce) works
    resp = srv.raw("DELETE", "/v1/sys/rekey/init", {"nonce": "wrong"})
    assert resp.status == 400
    assert client.sys.read_rekey_progress()["started"] is True
    client.sys.cancel_rekey()
    assert client.sys.read_rekey_progress() == {
        "started": False, "nonce": "", "t": 0, "n": 0, "progress": 0, "required": 3,
        "pgp_fingerprints": None, "backup": False, "verification_required": False,
    }

    # sealed: 503, as Vault
    client.sys.seal()
    assert srv.raw("GET", "/v1/sys/rekey/init").status == 503
    assert srv.raw("PUT", "/v1/sys/rekey/init", {"secret_shares": 3, "secret_threshold": 2}).status == 503


def test_rekey_with_shares_of_another_key_resets_progress(unsealed_sqlite, sqlite_server):
    srv = unsealed_sqlite
    other = sqlite_server()
    other.init(5, 3)
    client = srv.client(srv.root_token)
    nonce = client.sys.start_rekey(secret_shares=3, secret_threshold=2)["nonce"]
    client.sys.rekey_multi(srv.keys[:2], nonce=nonce)
    resp = srv.raw("PUT", "/v1/sys/rekey/update",
                   {"key": foreign_share(other.keys, srv.keys[:2]), "nonce": nonce})
    assert resp.status == 400 and "reset" in " ".join(resp.errors())
    progress = client.sys.read_rekey_progress()
    assert progress["started"] is True and progress["progress"] == 0
    st = client.sys.read_seal_status()
    assert (st["t"], st["n"]) == (3, 5)
    result = client.sys.rekey_multi(srv.keys[2:5], nonce=nonce)
    assert result["complete"] is True


def test_sealing_drops_a_rekey_in_progress(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client(srv.root_token)
    nonce = client.sys.start_rekey(secret_shares=3, secret_threshold=2)["nonce"]
    client.sys.rekey(srv.keys[0], nonce=nonce)
    client.sys.seal()
    srv.unseal(srv.keys[1:4])
    assert client.sys.read_rekey_progress()["started"] is False


# ---------------------------------------------------------------- rekey, CLI


def test_rekey_through_the_cli(run_cli, unsealed_sqlite):
    srv = unsealed_sqlite

    def cli(*args, **kw):
        return run_cli(*args, addr=srv.addr, token=srv.root_token, **kw)

    res = ok(cli("operator", "rekey", "-init", "-key-shares=3", "-key-threshold=2"))
    assert "Nonce" in res.stdout and "New Shares" in res.stdout
    st = json.loads(ok(cli("operator", "rekey", "--status", "--format=json")).stdout)
    assert (st["started"], st["n"], st["t"], st["required"]) == (True, 3, 2, 3)

    bad = cli("operator", "rekey", "AAAA")
    assert bad.returncode == 2 and "not counted" in bad.stderr
    ok(cli("operator", "rekey", srv.keys[0]))
    ok(cli("operator", "rekey", f"-nonce={st['nonce']}", "-", input=srv.keys_base64[1] + "\n"))
    res = ok(cli("operator", "rekey", input=srv.keys[2] + "\n"))
    new = re.findall(r"^Key \d: (\S+)$", res.stdout, re.M)
    assert len(new) == 3, res.stdout
    assert "previous shares no longer unseal" in res.stdout

    ok(cli("operator", "seal"))
    for k in srv.keys[:2]:
        cli("operator", "unseal", k)
    assert status(srv)["sealed"] is True
    ok(cli("operator", "unseal", "--reset"))
    for k in new[:2]:
        ok(cli("operator", "unseal", k))
    assert status(srv)["sealed"] is False


def test_rekey_cli_verify_and_cancel(run_cli, unsealed_sqlite):
    srv = unsealed_sqlite

    def cli(*args, **kw):
        return run_cli(*args, addr=srv.addr, token=srv.root_token, **kw)

    ok(cli("operator", "rekey", "--init", "--key-shares=2", "--key-threshold=2", "--verify"))
    for k in srv.keys[:2]:
        ok(cli("operator", "rekey", k))
    res = ok(cli("operator", "rekey", srv.keys[2]))
    assert "NOT active yet" in res.stdout
    new = re.findall(r"^Key \d: (\S+)$", res.stdout, re.M)
    ver = json.loads(ok(cli("operator", "rekey", "--status", "--verify", "--format=json")).stdout)
    assert ver["progress"] == 0 and ver["t"] == 2
    ok(cli("operator", "rekey", "--verify", new[0]))
    res = ok(cli("operator", "rekey", "--verify", new[1]))
    assert "Rekey verified" in res.stdout
    st = status(srv)
    assert (st["t"], st["n"]) == (2, 2)

    ok(cli("operator", "rekey", "-init", "-key-shares=3", "-key-threshold=2"))
    res = ok(cli("operator", "rekey", "-cancel"))
    assert "Canceled" in res.stdout
    assert json.loads(ok(cli("operator", "rekey", "-status", "-format=json")).stdout)["started"] is False
    usage = cli("operator", "rekey", "--init", "--key-shares=3", "--key-threshold=5")
    assert usage.returncode == 2 and "key-threshold" in usage.stderr


# ---------------------------------------------------------------- generate-root


def assert_root_token(srv, token):
    client = srv.client(token)
    info = client.auth.token.lookup_self()["data"]
    assert info["policies"] == ["root"]
    assert info["path"] == "auth/token/root"
    assert info["display_name"] == "root"
    assert not info.get("ttl")
    # it can do what only root can: enable a mount, create a policy
    client.sys.enable_secrets_engine("kv", path=f"kv-{token[-6:]}", options={"version": "2"})
    client.sys.create_or_update_policy("made-by-new-root", 'path "x" { capabilities = ["read"] }')


def test_generate_root_with_hvac(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client()  # unauthenticated, as in Vault

    start = client.sys.start_root_token_generation()
    otp = start["otp"]
    assert start["started"] is True and start["required"] == 3
    assert len(otp) == start["otp_length"] == len(srv.root_token)
    assert re.fullmatch(r"[0-9A-Za-z]+", otp)
    progress = client.sys.read_root_generation_progress()
    assert progress["nonce"] == start["nonce"] and progress["progress"] == 0
    assert not progress.get("otp"), "the OTP is shown only once"

    nonce = start["nonce"]
    step = client.sys.generate_root(srv.keys[0], nonce)
    assert step["progress"] == 1 and step["complete"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.generate_root("AAAA", nonce)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.generate_root(srv.keys[1], "wrong-nonce")
    assert client.sys.read_root_generation_progress()["progress"] == 1
    client.sys.generate_root(srv.keys[1], nonce)
    done = client.sys.generate_root(srv.keys[2], nonce)
    assert done["complete"] is True
    assert done["encoded_token"] and done["encoded_root_token"] == done["encoded_token"]
    assert "=" not in done["encoded_token"]

    token = decode_root(done["encoded_token"], otp)
    assert token.startswith("hvs.") and token != srv.root_token
    assert_root_token(srv, token)
    assert client.sys.read_root_generation_progress()["started"] is False

    # the token is stored like the one from init: it survives a restart
    srv.kill9()
    srv.start()
    srv.unseal(srv.keys[2:5])
    assert srv.client(token).auth.token.lookup_self()["data"]["policies"] == ["root"]


def test_generate_root_cancel_and_refusals(unsealed_sqlite):
    srv = unsealed_sqlite
    client = srv.client()
    resp = srv.raw("PUT", "/v1/sys/generate-root/attempt", {"pgp_key": "bXkga2V5"})
    assert resp.status == 400 and "PGP" in " ".join(resp.errors())
    resp = srv.raw("PUT", "/v1/sys/generate-root/update", {"key": srv.keys[0], "nonce": "n"})
    assert resp.status == 400 and "no root generation in progress" in resp.errors()

    start = client.sys.start_root_token_generation()
    resp = srv.raw("PUT", "/v1/sys/generate-root/attempt")
    assert resp.status == 400 and "already in progress" in " ".join(resp.errors())
    client.sys.generate_root(srv.keys[0], start["nonce"])
    cancelled = client.sys.cancel_root_generation()
    assert cancelled.status_code == 204
    assert client.sys.read_root_generation_progress()["started"] is False
    resp = srv.raw("PUT", "/v1/sys/generate-root/update", {"key": srv.keys[1], "nonce": start["nonce"]})
    assert resp.status == 400

    # shares of another key: progress reset, no token
    other_keys = [srv.keys[0], srv.keys[1]]
    start = client.sys.start_root_token_generation()
    for k in other_keys:
        client.sys.generate_root(k, start["nonce"])
    wrong = bytearray.fromhex(srv.keys[2])
    wrong[0] ^= 1
    resp = srv.raw("PUT", "/v1/sys/generate-root/update", {"key": wrong.hex(), "nonce": start["nonce"]})
    assert resp.status == 400 and "reset" in " ".join(resp.errors())
    progress = client.sys.read_root_generation_progress()
    assert progress["started"] is True and progress["progress"] == 0

    srv.client(srv.root_token).sys.seal()
    assert srv.raw("GET", "/v1/sys/generate-root/attempt").status == 503


def test_generate_root_through_the_cli(run_cli, unsealed_sqlite):
    srv = unsealed_sqlite

    def cli(*args, **kw):
        return run_cli(*args, addr=srv.addr, **kw)

    start = json.loads(ok(cli("operator", "generate-root", "-init", "-format=json")).stdout)
    otp = start["otp"]
    assert len(otp) == start["otp_length"]
    human = ok(cli("operator", "generate-root", "-status")).stdout
    assert start["nonce"] in human and otp not in human
    ok(cli("operator", "generate-root", srv.keys[0]))
    ok(cli("operator", "generate-root", f"-nonce={start['nonce']}", "-", input=srv.keys[1] + "\n"))
    res = ok(cli("operator", "generate-root", input=srv.keys[2] + "\n"))
    m = re.search(r"^Encoded Token\s+(\S+)$", res.stdout, re.M)
    assert m, res.stdout
    encoded = m.group(1)

    token = ok(cli("operator", "generate-root", f"-decode={encoded}", f"-otp={otp}")).stdout.strip()
    assert token == decode_root(encoded, otp)
    assert_root_token(srv, token)
    via_stdin = ok(cli("operator", "generate-root", "-decode=-", f"-otp={otp}", input=encoded + "\n"))
    assert via_stdin.stdout.strip() == token

    bad = cli("operator", "generate-root", f"-decode={encoded}", "-otp=short")
    assert bad.returncode == 2 and "OTP" in bad.stderr
    # an OTP of the right length but the wrong attempt: refused, no bytes printed
    wrong = cli("operator", "generate-root", f"-decode={encoded}", "-otp=" + "z" * len(otp))
    assert wrong.returncode != 0 and wrong.stdout == "" and "not a token" in wrong.stderr

    # an OTP chosen beforehand (-generate-otp, then -init -otp=...), and -cancel
    mine = ok(cli("operator", "generate-root", "-generate-otp")).stdout.strip()
    assert len(mine) == len(otp)
    start = json.loads(ok(cli("operator", "generate-root", "-init", f"-otp={mine}", "-format=json")).stdout)
    assert not start.get("otp")
    for k in srv.keys[2:5]:
        out = json.loads(ok(cli("operator", "generate-root", k, "-format=json")).stdout)
    assert srv.client(decode_root(out["encoded_token"], mine)).auth.token.lookup_self()["data"]["policies"] == ["root"]
    ok(cli("operator", "generate-root", "-init"))
    assert "canceled" in ok(cli("operator", "generate-root", "-cancel")).stdout


def test_operator_init_mentions_only_commands_that_exist(run_cli, sqlite_server):
    srv = sqlite_server()
    res = ok(run_cli("operator", "init", "-key-shares=3", "-key-threshold=2", addr=srv.addr))
    mentioned = re.findall(r"`coffer ([a-z -]+?)`", res.stdout.replace("\n", " "))
    assert "operator rekey" in [" ".join(m.split()) for m in mentioned], res.stdout
    for cmd in mentioned:
        help_ = run_cli(*cmd.split(), "--help")
        assert help_.returncode == 0, (cmd, help_.stderr)
        assert "Usage: coffer " + " ".join(cmd.split()) in help_.stdout


def test_rekey_from_and_to_a_single_key(sqlite_server):
    """1-of-1 seals use the 32-byte key itself as the only "share", as Vault."""
    srv = sqlite_server()
    srv.init(1, 1)
    srv.unseal(srv.keys)
    client = srv.client(srv.root_token)
    nonce = client.sys.start_rekey(secret_shares=3, secret_threshold=2)["nonce"]
    resp = srv.raw("PUT", "/v1/sys/rekey/update", {"key": srv.keys[0][:-2], "nonce": nonce})
    assert resp.status == 400 and "31 bytes" in " ".join(resp.errors())
    three = client.sys.rekey(srv.keys_base64[0], nonce=nonce)["keys"]
    assert len(three) == 3 and all(len(bytes.fromhex(k)) == 33 for k in three)

    nonce = client.sys.start_rekey(secret_shares=1, secret_threshold=1, require_verification=True)["nonce"]
    result = client.sys.rekey_multi(three[:2], nonce=nonce)
    assert len(result["keys"]) == 1 and len(bytes.fromhex(result["keys"][0])) == 32
    assert client.sys.rekey_verify(result["keys_base64"][0], result["verification_nonce"])["complete"] is True
    client.sys.seal()
    unseal_refused(srv, [three[0]])
    srv.unseal(result["keys"])


def test_operator_help_lists_rekey_and_generate_root(run_cli):
    out = ok(run_cli("operator", "--help")).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "rekey" in rows and "generate-root" in rows, out
    assert re.match(r"  generate-root +generate a new root token", rows["generate-root"]), out


def test_rekey_and_generate_root_are_audited_without_their_secrets(unsealed_sqlite, tmp_path):
    srv = unsealed_sqlite
    log = tmp_path / "keyops-audit.log"
    srv.client(srv.root_token).sys.enable_audit_device("file", options={"file_path": str(log)})
    client = srv.client()

    start = client.sys.start_root_token_generation()
    for k in srv.keys[:3]:
        done = client.sys.generate_root(k, start["nonce"])
    token = decode_root(done["encoded_token"], start["otp"])
    rk = client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    client.sys.cancel_rekey()

    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    paths = [(e.get("type"), e.get("request", {}).get("path")) for e in entries]
    for p in ("sys/generate-root/attempt", "sys/generate-root/update", "sys/rekey/init"):
        assert ("request", p) in paths and ("response", p) in paths, (p, paths)
    for secret in [*srv.keys[:3], start["otp"], done["encoded_token"], token]:
        assert secret not in text
    assert rk["nonce"] not in text
