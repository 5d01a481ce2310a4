"""`coffer srp register` and `coffer login --method=srp` (docs/internals/auth.md, SRP): the CLI
computes the salt, the verifier and every login value itself, so the password
never reaches the server; neither it nor the verifier may appear in the server's
log or the audit file."""

import hashlib
import json
import os
import re

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)


def verifier_hex(salt_hex, user, password):
    """PAD(g^x mod N) as docs/internals/auth.md, SRP computes it (independently of coffer)."""
    inner = hashlib.sha256(f"{user}:{password}".encode()).digest()
    x = int.from_bytes(hashlib.sha256(bytes.fromhex(salt_hex) + inner).digest(), "big")
    return format(pow(5, x, N), "0768x")


def prepare(dev_server, tmp_path):
    audit = tmp_path / "audit.log"
    r = dev_server.raw("POST", "/v1/sys/audit/file", {"type": "file", "options": {"file_path": str(audit)}})
    assert r.status == 204, r.body
    for path in ("srp", "srp2"):
        r = dev_server.raw("POST", f"/v1/sys/auth/{path}", {"type": "srp"})
        assert r.status == 204, r.body
    r = dev_server.raw("POST", "/v1/sys/policies/acl/dev",
                       {"policy": 'path "secret/data/dev/*" { capabilities = ["read", "create", "update"] }'})
    assert r.status in (200, 204), r.body
    return audit


def test_register_login_wrong_password_and_no_secret_in_logs(dev_server, run_cli, tmp_path):
    audit = prepare(dev_server, tmp_path)
    password = "pw-" + os.urandom(12).hex() + " with spaces inside"
    addr, root = dev_server.addr, dev_server.token

    reg = run_cli("srp", "register", "alice", "token_policies=dev", "token_ttl=1h",
                  addr=addr, token=root, input=password + "\n")
    assert reg.returncode == 0, reg.stderr
    assert "Success! Registered alice at auth/srp/" in reg.stdout
    assert password not in reg.stdout + reg.stderr

    user = dev_server.raw("GET", "/v1/auth/srp/users/alice").json()["data"]
    assert user["token_policies"] == ["dev"]
    assert user["token_ttl"] == 3600
    assert "verifier" not in user
    verifier = verifier_hex(user["salt"], "alice", password)

    login = run_cli("login", "--method=srp", "--format=json", "username=alice",
                    addr=addr, input=password + "\n")
    assert login.returncode == 0, login.stderr
    answer = json.loads(login.stdout)
    token = answer["auth"]["client_token"]
    assert answer["auth"]["policies"] == ["default", "dev"]
    assert answer["auth"]["metadata"] == {"username": "alice"}
    assert re.fullmatch(r"[0-9a-f]{64}", answer["data"]["M2"])
    assert (tmp_path / ".coffer-token").read_text().strip() == token

    self_ = dev_server.raw("GET", "/v1/auth/token/lookup-self", token=token)
    assert self_.status == 200, self_.body
    data = self_.json()["data"]
    assert data["display_name"] == "srp-alice"
    assert data["path"] == "auth/srp/login/verify"
    assert dev_server.raw("PUT", "/v1/secret/data/dev/x", {"data": {"a": "b"}}, token=token).status == 200
    assert dev_server.raw("GET", "/v1/secret/data/ops/x", token=token).status == 403

    wrong = run_cli("login", "--method=srp", "--no-store", "username=alice",
                    addr=addr, input=password + "x\n")
    assert wrong.returncode != 0
    assert "invalid username or password" in wrong.stderr
    assert "client_token" not in wrong.stdout

    unknown = run_cli("login", "--method=srp", "--no-store", "username=nobody",
                      addr=addr, input=password + "\n")
    assert unknown.returncode != 0
    assert "invalid username or password" in unknown.stderr

    # the server log and the audit file carry neither the password nor the verifier
    dev_server.raw("GET", "/v1/sys/health")
    log = dev_server.server.log_text()
    trail = audit.read_text()
    assert "auth/srp/login/verify" in trail, "the logins were audited"
    for text, where in ((log, "server log"), (trail, "audit file")):
        assert password not in text, f"password in the {where}"
        assert verifier not in text.lower(), f"verifier in the {where}"
        assert token not in text, f"token in the {where}"


def test_register_with_path_and_password_change(dev_server, run_cli, tmp_path):
    prepare(dev_server, tmp_path)
    addr, root = dev_server.addr, dev_server.token

    reg = run_cli("srp", "register", "--path=srp2", "bob@example.com", addr=addr, token=root, input="first\n")
    assert reg.returncode == 0, reg.stderr
    assert dev_server.raw("GET", "/v1/auth/srp/users/bob@example.com").status == 404
    ok = run_cli("login", "--method=srp", "--path=srp2", "--no-store", "--field=token",
                 "username=bob@example.com", addr=addr, input="first\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith("hvs.")

    # a new password through the same command; the old one stops working
    assert run_cli("srp", "register", "--path=auth/srp2/", "bob@example.com",
                   addr=addr, token=root, input="second\n").returncode == 0
    old = run_cli("login", "--method=srp", "--path=srp2", "--no-store", "username=bob@example.com",
                  addr=addr, input="first\n")
    assert old.returncode != 0
    new = run_cli("login", "--method=srp", "--path=srp2", "--no-store", "username=bob@example.com",
                  addr=addr, input="second\n")
    assert new.returncode == 0, new.stderr

    # usage errors and a token without the capability
    bad = run_cli("srp", "register", "Bob", addr=addr, token=root, input="x\n")
    assert bad.returncode == 2
    denied = run_cli("srp", "register", "carol", addr=addr, token="hvs.nope", input="x\n")
    assert denied.returncode != 0
    assert "permission denied" in denied.stderr


def test_verifier_helper_matches_the_spec_vector():
    """The log check above is only as good as verifier_hex: docs/internals/auth.md, SRP vector 1."""
    v = verifier_hex("beb25379d1a8581eb5a727673a2441ee", "alice", "password123")
    assert v.startswith("ebe52c3cac712e0be1ba08d4dae9d38c")
    assert v.endswith("e6c38756c84b271a")
