"""Transit secrets engine (Vault's transit API): hvac
against every key type, batches, derivation, rotation and rewrap, min versions,
sign/verify and hmac/verify, datakeys, the openssl CLI cross-check of signatures,
bad input, auto-rotation, keys/:name/rewrap-kv over KV v2, persistence across a
restart, and the `coffer transit` commands."""

import base64
import hashlib
import os
import subprocess
import threading
import time

import hvac.exceptions
import pytest

from cofferlib import make_client, wait_until

SYMMETRIC = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"]
SIGNING = ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072", "rsa-4096"]
ALL_TYPES = SYMMETRIC + SIGNING
ENCRYPTING = SYMMETRIC + ["rsa-2048"]


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)


# Generating an RSA key of 3072 or 4096 bits takes OpenSSL anywhere from under
# a second to over five on the 2-vCPU machine (a prime search), longer than the
# clients' 5 s timeout; those keys are created with a raw POST that may wait.
SLOW_KEYGEN = {"rsa-3072", "rsa-4096"}
KEYGEN_TIMEOUT = 120


def create_key(c, dev, name, key_type="aes256-gcm96", **kw):
    """hvac's create_key, or a raw POST for the types hvac 0.11.2 does not list
    (aes128-gcm96) and for the slow RSA sizes."""
    if key_type in HVAC_TYPES and key_type not in SLOW_KEYGEN:
        return c.secrets.transit.create_key(name, key_type=key_type, **kw)
    r = dev.raw("POST", f"/v1/transit/keys/{name}", {"type": key_type, **kw}, timeout=KEYGEN_TIMEOUT)
    assert r.status in (200, 204), r
    return r


def rotate_key(c, dev, name, key_type):
    """hvac's rotate_key, or a raw POST that may wait for the slow RSA sizes."""
    if key_type not in SLOW_KEYGEN:
        return c.secrets.transit.rotate_key(name)
    r = dev.raw("POST", f"/v1/transit/keys/{name}/rotate", {}, timeout=KEYGEN_TIMEOUT)
    assert r.status in (200, 204), r
    return r


HVAC_TYPES = set(__import__("hvac.constants.transit", fromlist=["x"]).ALLOWED_KEY_TYPES)


@pytest.fixture
def tr(dev_server):
    """(client, dev) with transit mounted at transit/."""
    c = dev_server.client
    c.sys.enable_secrets_engine("transit", path="transit")
    return c, dev_server


# ---------------------------------------------------------------------------
# keys


@pytest.mark.parametrize("key_type", ALL_TYPES)
def test_create_and_read_each_type(tr, key_type):
    c, dev = tr
    name = "k-" + key_type
    create_key(c, dev, name, key_type)
    info = c.secrets.transit.read_key(name)["data"]
    assert info["name"] == name
    assert info["type"] == key_type
    assert info["latest_version"] == 1
    assert info["min_decryption_version"] == 1
    assert info["min_encryption_version"] == 0
    assert info["deletion_allowed"] is False
    assert info["derived"] is False
    assert info["supports_signing"] is (key_type in SIGNING)
    assert info["supports_encryption"] is (key_type in SYMMETRIC or key_type.startswith("rsa"))
    entry = info["keys"]["1"]
    if key_type in SYMMETRIC:
        assert isinstance(entry, int) and abs(entry - time.time()) < 120
    else:
        assert entry["public_key"]
        if key_type == "ed25519":
            assert len(unb64(entry["public_key"])) == 32
        else:
            assert entry["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert name in c.secrets.transit.list_keys()["data"]["keys"]


def test_create_existing_key_changes_nothing_and_delete_rules(tr):
    c, dev = tr
    c.secrets.transit.create_key("dk")
    ct = c.secrets.transit.encrypt_data("dk", b64("x"))["data"]["ciphertext"]
    c.secrets.transit.create_key("dk", key_type="ed25519")  # already there: no change
    assert c.secrets.transit.read_key("dk")["data"]["type"] == "aes256-gcm96"
    assert unb64(c.secrets.transit.decrypt_data("dk", ct)["data"]["plaintext"]) == b"x"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="deletion is not allowed"):
        c.secrets.transit.delete_key("dk")
    c.secrets.transit.update_key_configuration("dk", deletion_allowed=True)
    c.secrets.transit.delete_key("dk")
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.transit.read_key("dk")
    r = dev.raw("POST", "/v1/transit/keys/bad", {"type": "rot13"})
    assert r.status == 400 and "unknown key type" in r.errors()[0]


# ---------------------------------------------------------------------------
# encrypt / decrypt


@pytest.mark.parametrize("key_type", ENCRYPTING)
def test_encrypt_decrypt_round_trip(tr, key_type):
    c, dev = tr
    create_key(c, dev, "e", key_type)
    for pt in [b"", b"hello", os.urandom(1024), bytes(range(256)) * 4]:
        if key_type.startswith("rsa") and len(pt) > 190:
            continue  # OAEP-SHA256 with a 2048-bit key: at most 190 bytes
        out = c.secrets.transit.encrypt_data("e", b64(pt))["data"]
        assert out["ciphertext"].startswith("vault:v1:")
        assert out["key_version"] == 1
        back = c.secrets.transit.decrypt_data("e", out["ciphertext"])["data"]["plaintext"]
        assert unb64(back) == pt
    if key_type in SYMMETRIC:
        # nonce(12) || ciphertext || tag(16), a fresh nonce every time
        a = c.secrets.transit.encrypt_data("e", b64("same"))["data"]["ciphertext"]
        b = c.secrets.transit.encrypt_data("e", b64("same"))["data"]["ciphertext"]
        assert a != b
        assert len(unb64(a.split(":", 2)[2])) == 12 + 4 + 16


def test_batch_encrypt_decrypt(tr):
    c, dev = tr
    c.secrets.transit.create_key("b")
    items = [{"plaintext": b64(f"item {i}"), "reference": f"r{i}"} for i in range(50)]
    res = c.secrets.transit.encrypt_data("b", plaintext=None, batch_input=items)["data"]["batch_results"]
    assert len(res) == 50
    assert [r["reference"] for r in res] == [f"r{i}" for i in range(50)]
    cts = [{"ciphertext": r["ciphertext"]} for r in res]
    dec = c.secrets.transit.decrypt_data("b", ciphertext=None, batch_input=cts)["data"]["batch_results"]
    assert [unb64(d["plaintext"]) for d in dec] == [f"item {i}".encode() for i in range(50)]
    # one bad item: it carries its own error, the others still succeed; status 400
    r = dev.raw("POST", "/v1/transit/decrypt/b",
                {"batch_input": [cts[0], {"ciphertext": "vault:v1:AAAA"}, cts[1]]})
    assert r.status == 400
    out = r.json()["data"]["batch_results"]
    assert unb64(out[0]["plaintext"]) == b"item 0"
    assert out[1]["error"]
    assert unb64(out[2]["plaintext"]) == b"item 1"


def test_derived_key_context(tr):
    c, dev = tr
    c.secrets.transit.create_key("d", derived=True)
    assert c.secrets.transit.read_key("d")["data"]["derived"] is True
    ctx_a, ctx_b = b64("tenant-a"), b64("tenant-b")
    ct = c.secrets.transit.encrypt_data("d", b64("secret"), context=ctx_a)["data"]["ciphertext"]
    assert unb64(c.secrets.transit.decrypt_data("d", ct, context=ctx_a)["data"]["plaintext"]) == b"secret"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="message authentication failed"):
        c.secrets.transit.decrypt_data("d", ct, context=ctx_b)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="context"):
        c.secrets.transit.decrypt_data("d", ct)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="context"):
        c.secrets.transit.encrypt_data("d", b64("secret"))
    # batch with a context per item
    items = [{"plaintext": b64(f"p{i}"), "context": b64(f"ctx{i}")} for i in range(5)]
    res = c.secrets.transit.encrypt_data("d", plaintext=None, batch_input=items)["data"]["batch_results"]
    back = c.secrets.transit.decrypt_data(
        "d", ciphertext=None,
        batch_input=[{"ciphertext": r["ciphertext"], "context": b64(f"ctx{i}")} for i, r in enumerate(res)],
    )["data"]["batch_results"]
    assert [unb64(x["plaintext"]) for x in back] == [f"p{i}".encode() for i in range(5)]
    # an upsert with a context creates a derived key
    r = dev.raw("POST", "/v1/transit/encrypt/upserted", {"plaintext": b64("x"), "context": ctx_a})
    assert r.status == 200
    assert c.secrets.transit.read_key("upserted")["data"]["derived"] is True


def test_convergent_encryption(tr):
    c, _ = tr
    c.secrets.transit.create_key("conv", derived=True, convergent_encryption=True)
    ctx = b64("c")
    a = c.secrets.transit.encrypt_data("conv", b64("same"), context=ctx)["data"]["ciphertext"]
    b = c.secrets.transit.encrypt_data("conv", b64("same"), context=ctx)["data"]["ciphertext"]
    assert a == b
    assert unb64(c.secrets.transit.decrypt_data("conv", a, context=ctx)["data"]["plaintext"]) == b"same"


def test_encrypt_upserts_missing_key(tr):
    c, _ = tr
    ct = c.secrets.transit.encrypt_data("fresh", b64("hi"))["data"]["ciphertext"]
    assert c.secrets.transit.read_key("fresh")["data"]["type"] == "aes256-gcm96"
    assert unb64(c.secrets.transit.decrypt_data("fresh", ct)["data"]["plaintext"]) == b"hi"
    c.secrets.transit.encrypt_data("fresh-chacha", b64("hi"), type="chacha20-poly1305")
    assert c.secrets.transit.read_key("fresh-chacha")["data"]["type"] == "chacha20-poly1305"


# ---------------------------------------------------------------------------
# rotation, rewrap, min versions


@pytest.mark.parametrize("key_type", ["aes256-gcm96", "chacha20-poly1305", "rsa-2048"])
def test_rotate_rewrap_min_decryption_version(tr, key_type):
    c, dev = tr
    c.secrets.transit.create_key("r", key_type=key_type)
    old = c.secrets.transit.encrypt_data("r", b64("v1 data"))["data"]["ciphertext"]
    c.secrets.transit.rotate_key("r")
    info = c.secrets.transit.read_key("r")["data"]
    assert info["latest_version"] == 2 and sorted(info["keys"]) == ["1", "2"]
    new = c.secrets.transit.encrypt_data("r", b64("v2 data"))["data"]
    assert new["ciphertext"].startswith("vault:v2:") and new["key_version"] == 2
    # the old ciphertext still decrypts
    assert unb64(c.secrets.transit.decrypt_data("r", old)["data"]["plaintext"]) == b"v1 data"
    # encrypt with an explicit older version
    v1 = c.secrets.transit.encrypt_data("r", b64("x"), key_version=1)["data"]["ciphertext"]
    assert v1.startswith("vault:v1:")
    # rewrap moves it to the newest version, same plaintext
    rw = c.secrets.transit.rewrap_data("r", old)["data"]
    assert rw["ciphertext"].startswith("vault:v2:") and rw["key_version"] == 2
    assert unb64(c.secrets.transit.decrypt_data("r", rw["ciphertext"])["data"]["plaintext"]) == b"v1 data"
    # batch rewrap
    res = c.secrets.transit.rewrap_data("r", ciphertext=None, batch_input=[{"ciphertext": old}, {"ciphertext": v1}])
    assert all(x["ciphertext"].startswith("vault:v2:") for x in res["data"]["batch_results"])
    # raising min_decryption_version makes the old ciphertext fail with 400
    c.secrets.transit.update_key_configuration("r", min_decryption_version=2)
    r = dev.raw("POST", "/v1/transit/decrypt/r", {"ciphertext": old})
    assert r.status == 400, r
    assert "disallowed by policy" in r.errors()[0]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.secrets.transit.rewrap_data("r", old)
    assert unb64(c.secrets.transit.decrypt_data("r", rw["ciphertext"])["data"]["plaintext"]) == b"v1 data"
    # min_encryption_version refuses older versions for encryption
    c.secrets.transit.rotate_key("r")
    c.secrets.transit.update_key_configuration("r", min_encryption_version=3)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="minimum encryption"):
        c.secrets.transit.encrypt_data("r", b64("x"), key_version=2)
    # the rules of config: min_encryption below min_decryption, beyond latest
    r = dev.raw("POST", "/v1/transit/keys/r/config", {"min_encryption_version": 1})
    assert r.status == 400 and "should not be less than min decryption" in r.errors()[0]
    r = dev.raw("POST", "/v1/transit/keys/r/config", {"min_decryption_version": 9})
    assert r.status == 400 and "latest key version is 3" in r.errors()[0]


def test_trim(tr):
    c, dev = tr
    c.secrets.transit.create_key("t")
    old = c.secrets.transit.encrypt_data("t", b64("x"))["data"]["ciphertext"]
    c.secrets.transit.rotate_key("t")
    c.secrets.transit.rotate_key("t")
    r = dev.raw("POST", "/v1/transit/keys/t/trim", {"min_available_version": 2})
    assert r.status == 400  # above min_decryption_version
    c.secrets.transit.update_key_configuration("t", min_decryption_version=2)
    c.secrets.transit.trim_key("t", min_version=2)
    info = c.secrets.transit.read_key("t")["data"]
    assert sorted(info["keys"]) == ["2", "3"] and info["min_available_version"] == 2
    assert dev.raw("POST", "/v1/transit/decrypt/t", {"ciphertext": old}).status == 400


# ---------------------------------------------------------------------------
# sign / verify, hmac / verify


@pytest.mark.parametrize("key_type", SIGNING)
def test_sign_verify_each_signing_type(tr, key_type):
    c, dev = tr
    create_key(c, dev, "s", key_type)
    data = b64("message to sign")
    algs = [None] if key_type == "ed25519" else ["sha2-256", "sha2-384", "sha2-512"]
    for alg in algs:
        kw = {"hash_algorithm": alg} if alg else {}
        sig = c.secrets.transit.sign_data("s", data, **kw)["data"]
        assert sig["signature"].startswith("vault:v1:") and sig["key_version"] == 1
        ok = c.secrets.transit.verify_signed_data("s", data, signature=sig["signature"], **kw)
        assert ok["data"]["valid"] is True
        bad = c.secrets.transit.verify_signed_data("s", b64("another message"), signature=sig["signature"], **kw)
        assert bad["data"]["valid"] is False
    if key_type != "ed25519":
        # sha3 (hvac 0.11.2 only lists sha2-*): algorithm in the URL
        r = dev.raw("POST", "/v1/transit/sign/s/sha3-256", {"input": data})
        assert r.status == 200, r
        sig = r.json()["data"]["signature"]
        r = dev.raw("POST", "/v1/transit/verify/s/sha3-256", {"input": data, "signature": sig})
        assert r.json()["data"]["valid"] is True
        r = dev.raw("POST", "/v1/transit/verify/s", {"input": data, "signature": sig})
        assert r.json()["data"]["valid"] is False  # sha2-256 by default
    if key_type.startswith("rsa"):
        sig = c.secrets.transit.sign_data("s", data, signature_algorithm="pkcs1v15")["data"]["signature"]
        assert c.secrets.transit.verify_signed_data("s", data, signature=sig, signature_algorithm="pkcs1v15")["data"]["valid"]
        assert not c.secrets.transit.verify_signed_data("s", data, signature=sig)["data"]["valid"]  # pss
    if key_type.startswith("ecdsa"):
        sig = c.secrets.transit.sign_data("s", data, marshaling_algorithm="jws")["data"]["signature"]
        assert "=" not in sig and "+" not in sig and "/" not in sig.split(":", 2)[2]
        assert c.secrets.transit.verify_signed_data("s", data, signature=sig, marshaling_algorithm="jws")["data"]["valid"]
    if key_type != "ed25519":
        digest = b64(hashlib.sha256(b"message to sign").digest())
        sig = c.secrets.transit.sign_data("s", digest, prehashed=True, hash_algorithm="sha2-256")["data"]["signature"]
        assert c.secrets.transit.verify_signed_data("s", data, signature=sig, hash_algorithm="sha2-256")["data"]["valid"]
    # after a rotation the old signature still verifies; batch sign
    old = c.secrets.transit.sign_data("s", data)["data"]["signature"]
    rotate_key(c, dev, "s", key_type)
    assert c.secrets.transit.verify_signed_data("s", data, signature=old)["data"]["valid"]
    # batch sign (hvac 0.11.2 has no batch_input on sign_data)
    c.write("transit/sign/s", batch_input=[{"input": data}, {"input": b64("b")}])
    res = dev.raw("POST", "/v1/transit/sign/s", {"batch_input": [{"input": data}, {"input": b64("b")}]})
    sigs = res.json()["data"]["batch_results"]
    bv = dev.raw("POST", "/v1/transit/verify/s", {"batch_input": [
        {"input": data, "signature": sigs[0]["signature"]},
        {"input": data, "signature": sigs[1]["signature"]}]}).json()["data"]["batch_results"]
    assert [x["valid"] for x in bv] == [True, False]
    assert all(s["signature"].startswith("vault:v2:") for s in sigs)
    # hmac / verify works for every key type, with its own per-version HMAC key
    for alg in ["sha2-256", "sha2-512"]:
        mac = c.secrets.transit.generate_hmac("s", data, algorithm=alg)["data"]["hmac"]
        assert mac.startswith("vault:v2:")
        assert c.secrets.transit.verify_signed_data("s", data, hmac=mac, hash_algorithm=alg)["data"]["valid"]
        assert not c.secrets.transit.verify_signed_data("s", b64("x"), hmac=mac, hash_algorithm=alg)["data"]["valid"]
    r = dev.raw("POST", "/v1/transit/hmac/s", {"input": data, "algorithm": "sha3-256"})
    mac = r.json()["data"]["hmac"]
    assert dev.raw("POST", "/v1/transit/verify/s/sha3-256", {"input": data, "hmac": mac}).json()["data"]["valid"]


@pytest.mark.parametrize("key_type", SYMMETRIC)
def test_hmac_verify_symmetric(tr, key_type):
    c, dev = tr
    create_key(c, dev, "h", key_type)
    data = b64("payload")
    mac = c.secrets.transit.generate_hmac("h", data)["data"]["hmac"]
    assert c.secrets.transit.verify_signed_data("h", data, hmac=mac)["data"]["valid"] is True
    raw = unb64(mac.split(":", 2)[2])
    assert len(raw) == 32
    # the HMAC key is not the encryption key: a different key gives a different MAC
    create_key(c, dev, "h2", key_type)
    assert c.secrets.transit.generate_hmac("h2", data)["data"]["hmac"] != mac
    tampered = "vault:v1:" + b64(bytes([raw[0] ^ 1]) + raw[1:])
    assert c.secrets.transit.verify_signed_data("h", data, hmac=tampered)["data"]["valid"] is False
    # hmac in the URL algorithm and batch
    r = dev.raw("POST", "/v1/transit/hmac/h/sha2-512", {"batch_input": [{"input": data}, {"input": b64("x")}]})
    assert r.status == 200 and all(len(unb64(x["hmac"].split(":", 2)[2])) == 64 for x in r.json()["data"]["batch_results"])
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.secrets.transit.sign_data("h", data)  # symmetric keys do not sign


def test_derived_ed25519_sign(tr):
    c, dev = tr
    c.secrets.transit.create_key("ed", key_type="ed25519", derived=True)
    data = b64("m")
    sig = c.secrets.transit.sign_data("ed", data, context=b64("ctx1"))["data"]["signature"]
    assert c.secrets.transit.verify_signed_data("ed", data, signature=sig, context=b64("ctx1"))["data"]["valid"]
    assert not c.secrets.transit.verify_signed_data("ed", data, signature=sig, context=b64("ctx2"))["data"]["valid"]


# ---------------------------------------------------------------------------
# datakey, random, hash, export, backup


@pytest.mark.parametrize("bits", [128, 256, 512])
def test_datakey_wrapped_decrypts_to_plaintext_key(tr, bits):
    c, _ = tr
    c.secrets.transit.create_key("dk")
    pl = c.secrets.transit.generate_data_key("dk", key_type="plaintext", bits=bits)["data"]
    assert len(unb64(pl["plaintext"])) == bits // 8
    back = c.secrets.transit.decrypt_data("dk", pl["ciphertext"])["data"]["plaintext"]
    assert back == pl["plaintext"]
    wr = c.secrets.transit.generate_data_key("dk", key_type="wrapped", bits=bits)["data"]
    assert "plaintext" not in wr
    assert len(unb64(c.secrets.transit.decrypt_data("dk", wr["ciphertext"])["data"]["plaintext"])) == bits // 8


def test_random_and_hash(tr):
    c, dev = tr
    r = c.secrets.transit.generate_random_bytes(n_bytes=48)["data"]["random_bytes"]
    assert len(unb64(r)) == 48
    r = c.secrets.transit.generate_random_bytes(n_bytes=16, output_format="hex")["data"]["random_bytes"]
    assert len(bytes.fromhex(r)) == 16
    r = dev.raw("POST", "/v1/transit/random/24", {})
    assert len(unb64(r.json()["data"]["random_bytes"])) == 24
    assert dev.raw("POST", "/v1/transit/random", {"bytes": 0}).status == 400
    data = b"hash me"
    for alg, fn in [("sha2-256", hashlib.sha256), ("sha2-512", hashlib.sha512), ("sha2-224", hashlib.sha224)]:
        s = c.secrets.transit.hash_data(b64(data), algorithm=alg)["data"]["sum"]
        assert s == fn(data).hexdigest()
    for alg, fn in [("sha3-256", hashlib.sha3_256), ("sha3-512", hashlib.sha3_512)]:
        s = dev.raw("POST", f"/v1/transit/hash/{alg}", {"input": b64(data)}).json()["data"]["sum"]
        assert s == fn(data).hexdigest()
    s = c.secrets.transit.hash_data(b64(data), algorithm="sha2-256", output_format="base64")["data"]["sum"]
    assert unb64(s) == hashlib.sha256(data).digest()
    assert dev.raw("POST", "/v1/transit/hash/md5", {"input": b64(data)}).status == 400


def test_export_backup_restore(tr):
    c, dev = tr
    c.secrets.transit.create_key("x", exportable=True, allow_plaintext_backup=True)
    ct = c.secrets.transit.encrypt_data("x", b64("keep"))["data"]["ciphertext"]
    keys = c.secrets.transit.export_key("x", key_type="encryption-key")["data"]["keys"]
    raw = unb64(keys["1"])
    assert len(raw) == 32
    # the exported key really is the AES-256-GCM key: decrypt locally
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    blob = unb64(ct.split(":", 2)[2])
    assert AESGCM(raw).decrypt(blob[:12], blob[12:], None) == b"keep"
    c.secrets.transit.create_key("noexp")
    assert dev.raw("GET", "/v1/transit/export/encryption-key/noexp").status == 400
    backup = c.secrets.transit.backup_key("x")["data"]["backup"]
    c.secrets.transit.restore_key(backup, name="x-restored")
    assert unb64(c.secrets.transit.decrypt_data("x-restored", ct)["data"]["plaintext"]) == b"keep"
    r = dev.raw("POST", "/v1/transit/restore/x-restored", {"backup": backup})
    assert r.status == 400 and "already exists" in r.errors()[0]


# ---------------------------------------------------------------------------
# OpenSSL cross-check

ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def _pem_from_raw_ed25519(raw):
    der = ED25519_SPKI_PREFIX + raw
    body = base64.encodebytes(der).decode().replace("\n", "")
    return "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n"


def _openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("key_type,mode", [
    ("ecdsa-p256", None), ("ed25519", None), ("rsa-2048", "pss"), ("rsa-2048", "pkcs1v15"),
])
def test_openssl_verifies_signatures(tr, tmp_path, key_type, mode):
    c, _ = tr
    c.secrets.transit.create_key("o", key_type=key_type)
    msg = b"cross-checked with the openssl CLI\n" + os.urandom(64)
    kw = {"signature_algorithm": mode} if mode else {}
    sig = c.secrets.transit.sign_data("o", b64(msg), **kw)["data"]["signature"]
    pub = c.secrets.transit.read_key("o")["data"]["keys"]["1"]["public_key"]
    if key_type == "ed25519":
        pub = _pem_from_raw_ed25519(unb64(pub))
    (tmp_path / "pub.pem").write_text(pub)
    (tmp_path / "msg").write_bytes(msg)
    (tmp_path / "bad").write_bytes(msg + b"x")
    (tmp_path / "sig").write_bytes(unb64(sig.split(":", 2)[2]))
    for name, expect in [("msg", 0), ("bad", 1)]:
        path = str(tmp_path / name)
        if key_type == "ed25519":
            res = _openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin",
                           "-in", path, "-sigfile", str(tmp_path / "sig"))
        else:
            extra = []
            if mode == "pss":
                extra = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto"]
            res = _openssl("dgst", "-sha256", *extra, "-verify", str(tmp_path / "pub.pem"),
                           "-signature", str(tmp_path / "sig"), path)
        assert (res.returncode == 0) == (expect == 0), (name, res.stdout, res.stderr)
        if expect == 0:
            assert "Verified OK" in res.stdout or "Signature Verified Successfully" in res.stdout


# ---------------------------------------------------------------------------
# bad input


def test_bad_input(tr):
    c, dev = tr
    c.secrets.transit.create_key("k")
    ct = c.secrets.transit.encrypt_data("k", b64("secret"))["data"]["ciphertext"]
    # unknown key
    r = dev.raw("POST", "/v1/transit/decrypt/nope", {"ciphertext": ct})
    assert r.status == 400 and r.errors() == ["encryption key not found"]
    assert dev.raw("GET", "/v1/transit/keys/nope").status == 404
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.transit.read_key("nope")
    assert dev.raw("POST", "/v1/transit/sign/nope", {"input": b64("x")}).status == 400
    assert dev.raw("POST", "/v1/transit/keys/nope/rotate").status == 400
    # tampered ciphertext: every byte position of a short one
    blob = unb64(ct.split(":", 2)[2])
    for i in range(len(blob)):
        t = bytearray(blob)
        t[i] ^= 0x40
        r = dev.raw("POST", "/v1/transit/decrypt/k", {"ciphertext": "vault:v1:" + b64(bytes(t))})
        assert r.status == 400, (i, r)
        assert r.errors() == ["cipher: message authentication failed"]
    # truncated, wrong base64, wrong format, wrong version
    for bad, text in [
        ("vault:v1:" + b64(blob[:10]), "invalid ciphertext"),
        ("vault:v1:!!!notbase64", "invalid ciphertext: could not decode base64"),
        ("vault:v1:" + b64(blob)[:-3], "invalid ciphertext"),
        ("nope:v1:" + b64(blob), "invalid ciphertext: no prefix"),
        ("vault:1:" + b64(blob), "invalid ciphertext: version number could not be decoded"),
        ("vault:vx:" + b64(blob), "invalid ciphertext: version number could not be decoded"),
        ("vault:v1", "invalid ciphertext: wrong number of fields"),
        ("vault:v7:" + b64(blob), "invalid ciphertext"),
        ("vault:v99999999999:" + b64(blob), "invalid ciphertext"),
    ]:
        r = dev.raw("POST", "/v1/transit/decrypt/k", {"ciphertext": bad})
        assert r.status == 400, (bad, r)
        assert r.errors()[0].startswith(text), (bad, r.errors())
    r = dev.raw("POST", "/v1/transit/encrypt/k", {"plaintext": "not base64!"})
    assert r.status == 400 and "base64" in r.errors()[0]
    r = dev.raw("POST", "/v1/transit/decrypt/k", {"ciphertext": ct, "context": "%%%"})
    assert r.status == 400
    # decrypt with a context on a non-derived key
    r = dev.raw("POST", "/v1/transit/decrypt/k", {"ciphertext": ct, "context": b64("ctx")})
    assert r.status == 400 and "context" in r.errors()[0]
    # node-vault's camelCase example: Vault ignores plainText and says what is missing
    r = dev.raw("POST", "/v1/transit/encrypt/k", {"name": "k", "plainText": "x"})
    assert r.status == 400 and r.errors() == ["missing plaintext to encrypt"]
    r = dev.raw("POST", "/v1/transit/decrypt/k", {})
    assert r.status == 400 and "missing ciphertext" in r.errors()[0]
    r = dev.raw("POST", "/v1/transit/decrypt/k", {"batch_input": "not a list"})
    assert r.status == 400
    r = dev.raw("POST", "/v1/transit/datakey/sideways/k", {})
    assert r.status == 400
    r = dev.raw("POST", "/v1/transit/encrypt/k", "{not json")
    assert r.status == 400
    # the server is alive and the key still works
    assert unb64(c.secrets.transit.decrypt_data("k", ct)["data"]["plaintext"]) == b"secret"


def test_policy_applies(tr):
    c, dev = tr
    c.secrets.transit.create_key("app")
    c.sys.create_or_update_policy("enc-only", 'path "transit/encrypt/app" { capabilities = ["update"] }')
    tok = c.auth.token.create(policies=["enc-only"])["auth"]["client_token"]
    app = make_client(dev.addr, tok)
    ct = app.secrets.transit.encrypt_data("app", b64("x"))["data"]["ciphertext"]
    with pytest.raises(hvac.exceptions.Forbidden):
        app.secrets.transit.decrypt_data("app", ct)
    # update without create: no upsert of a missing key
    with pytest.raises(hvac.exceptions.Forbidden):
        app.secrets.transit.encrypt_data("other", b64("x"))


# ---------------------------------------------------------------------------
# auto_rotate_period


def test_auto_rotate_period_floor(tr):
    c, dev = tr
    r = dev.raw("POST", "/v1/transit/keys/ar", {"auto_rotate_period": "2s"})
    assert r.status == 400 and "at least an hour" in r.errors()[0]
    assert dev.raw("POST", "/v1/transit/keys/ar", {"auto_rotate_period": "1h"}).status in (200, 204)
    assert c.secrets.transit.read_key("ar")["data"]["auto_rotate_period"] == 3600
    assert dev.raw("POST", "/v1/transit/keys/ar/config", {"auto_rotate_period": "30m"}).status == 400
    assert dev.raw("POST", "/v1/transit/keys/ar/config", {"auto_rotate_period": 0}).status in (200, 204)
    assert c.secrets.transit.read_key("ar")["data"]["auto_rotate_period"] == 0


def test_auto_rotate_rotates_by_itself(server_factory):
    """The scheduler for real, with the 1h floor lowered by the test knob
    COFFER_TRANSIT_MIN_ROTATE_PERIOD (docs/internals/transit.md)."""
    token = "root-" + os.urandom(6).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}"], name="autorot",
                         extra_env={"COFFER_TRANSIT_MIN_ROTATE_PERIOD": "1s"})
    c = make_client(srv.addr, token)
    c.sys.enable_secrets_engine("transit", path="transit")
    c.write("transit/keys/auto", auto_rotate_period="2s")
    c.write("transit/keys/still")  # no period: never rotates
    ct = c.secrets.transit.encrypt_data("auto", b64("before"))["data"]["ciphertext"]
    t0 = time.monotonic()
    wait_until(lambda: c.secrets.transit.read_key("auto")["data"]["latest_version"] >= 2, 10,
               what="the first automatic rotation")
    assert time.monotonic() - t0 >= 1.0
    wait_until(lambda: c.secrets.transit.read_key("auto")["data"]["latest_version"] >= 3, 10,
               what="the second automatic rotation")
    assert c.secrets.transit.read_key("still")["data"]["latest_version"] == 1
    assert unb64(c.secrets.transit.decrypt_data("auto", ct)["data"]["plaintext"]) == b"before"
    # switching it off stops the rotations
    c.write("transit/keys/auto/config", auto_rotate_period=0)
    v = c.secrets.transit.read_key("auto")["data"]["latest_version"]
    time.sleep(3)
    assert c.secrets.transit.read_key("auto")["data"]["latest_version"] == v


def test_auto_rotate_survives_restart(sqlite_server):
    srv = sqlite_server(name="arsql")
    srv.extra_env["COFFER_TRANSIT_MIN_ROTATE_PERIOD"] = "1s"
    srv.stop()
    srv.start()
    root = srv.init_unseal()
    c = make_client(srv.addr, root)
    c.sys.enable_secrets_engine("transit", path="transit")
    c.write("transit/keys/p", auto_rotate_period="1h")
    c.write("transit/keys/q", auto_rotate_period="3s")
    ct = c.secrets.transit.encrypt_data("p", b64("persist"))["data"]["ciphertext"]
    srv.restart()
    srv.unseal()
    c = make_client(srv.addr, root)
    assert unb64(c.secrets.transit.decrypt_data("p", ct)["data"]["plaintext"]) == b"persist"
    # the scheduler reloaded q's period from storage after the unseal
    wait_until(lambda: c.secrets.transit.read_key("q")["data"]["latest_version"] >= 2, 12,
               what="rotation of q after the restart")
    assert c.secrets.transit.read_key("p")["data"]["latest_version"] == 1


# ---------------------------------------------------------------------------
# rewrap-kv


def _kv_put(c, path, data, cas=None):
    return c.secrets.kv.v2.create_or_update_secret(path, secret=data, cas=cas, mount_point="secret")


def _kv_get(c, path):
    return c.secrets.kv.v2.read_secret_version(path, mount_point="secret")["data"]


def test_rewrap_kv(tr):
    c, dev = tr
    c.secrets.transit.create_key("app")
    enc = lambda s: c.secrets.transit.encrypt_data("app", b64(s))["data"]["ciphertext"]  # noqa: E731
    _kv_put(c, "app/db", {"user": "u1", "ct": enc("db-password")})
    _kv_put(c, "app/api", {"ct": enc("api-token"), "note": "keep me"})
    _kv_put(c, "app/nested/deep", {"ct": enc("deep")})
    _kv_put(c, "app/plain", {"ct": "not a ciphertext"})
    _kv_put(c, "app/nofield", {"other": "x"})
    _kv_put(c, "other/outside", {"ct": enc("outside")})
    c.secrets.transit.rotate_key("app")
    _kv_put(c, "app/fresh", {"ct": enc("fresh")})  # already v2
    r = dev.raw("POST", "/v1/transit/keys/app/rewrap-kv", {"mount": "secret", "prefix": "app/", "field": "ct"})
    assert r.status == 200, r
    d = r.json()["data"]
    assert (d["rewrapped"], d["skipped"], d["errors"], d["cas_retries"]) == (3, 3, 0, 0), d
    assert d["key_version"] == 2
    for path, pt in [("app/db", "db-password"), ("app/api", "api-token"), ("app/nested/deep", "deep")]:
        got = _kv_get(c, path)
        assert got["metadata"]["version"] == 2
        assert got["data"]["ct"].startswith("vault:v2:")
        assert unb64(c.secrets.transit.decrypt_data("app", got["data"]["ct"])["data"]["plaintext"]) == pt.encode()
    assert _kv_get(c, "app/api")["data"]["note"] == "keep me"
    assert _kv_get(c, "app/db")["data"]["user"] == "u1"
    assert _kv_get(c, "other/outside")["data"]["ct"].startswith("vault:v1:")
    assert _kv_get(c, "app/fresh")["metadata"]["version"] == 1
    # a second run finds nothing to do
    d = dev.raw("POST", "/v1/transit/keys/app/rewrap-kv", {"mount": "secret/", "prefix": "app", "field": "ct"}).json()["data"]
    assert d["rewrapped"] == 0 and d["errors"] == 0
    # a prefix that names part of a key
    c.secrets.transit.rotate_key("app")
    d = dev.raw("POST", "/v1/transit/keys/app/rewrap-kv", {"mount": "secret", "prefix": "app/ne", "field": "ct"}).json()["data"]
    assert d["rewrapped"] == 1
    assert _kv_get(c, "app/nested/deep")["data"]["ct"].startswith("vault:v3:")
    # bad requests
    assert dev.raw("POST", "/v1/transit/keys/app/rewrap-kv", {"prefix": "app/", "field": "ct"}).status == 400
    assert dev.raw("POST", "/v1/transit/keys/app/rewrap-kv", {"mount": "secret"}).status == 400
    assert dev.raw("POST", "/v1/transit/keys/missing/rewrap-kv", {"mount": "secret", "field": "ct"}).status == 400


def test_rewrap_kv_uses_the_callers_acl(tr):
    c, dev = tr
    c.secrets.transit.create_key("app")
    _kv_put(c, "team/a", {"ct": c.secrets.transit.encrypt_data("app", b64("a"))["data"]["ciphertext"]})
    c.secrets.transit.rotate_key("app")
    c.sys.create_or_update_policy("rewrapper-ro", """
path "transit/keys/app/rewrap-kv" { capabilities = ["update"] }
path "secret/metadata/*" { capabilities = ["list"] }
path "secret/data/*" { capabilities = ["read"] }
""")
    tok = c.auth.token.create(policies=["rewrapper-ro"])["auth"]["client_token"]
    r = dev.raw("POST", "/v1/transit/keys/app/rewrap-kv", {"mount": "secret", "prefix": "team/", "field": "ct"}, token=tok)
    assert r.status == 200, r
    d = r.json()["data"]
    assert d["rewrapped"] == 0 and d["errors"] == 1
    assert d["failures"][0]["path"] == "team/a" and "permission denied" in d["failures"][0]["error"]
    assert _kv_get(c, "team/a")["metadata"]["version"] == 1


def test_rewrap_kv_concurrent_writer_wins(tr):
    """A writer keeps replacing one secret with fresh v1 ciphertexts while rewrap-kv
    runs over it again and again: every write of rewrap-kv is check-and-set on the
    version it read, so no writer's update is ever lost, and every KV version still
    decrypts."""
    c, dev = tr
    c.secrets.transit.create_key("app")
    pool = [c.secrets.transit.encrypt_data("app", b64(f"w{i}"))["data"]["ciphertext"] for i in range(400)]
    c.secrets.transit.rotate_key("app")
    c.secrets.kv.v2.configure(max_versions=1000, mount_point="secret")
    _kv_put(c, "race/x", {"ct": pool[0], "seq": "0"})
    stop = threading.Event()
    written = []

    def writer():
        w = make_client(dev.addr, dev.token)
        for i in range(1, len(pool)):
            if stop.is_set():
                break
            w.secrets.kv.v2.create_or_update_secret("race/x", secret={"ct": pool[i], "seq": str(i)},
                                                    mount_point="secret")
            written.append(i)

    th = threading.Thread(target=writer)
    th.start()
    totals = {"rewrapped": 0, "skipped": 0, "errors": 0, "cas_retries": 0}
    try:
        for _ in range(60):
            d = dev.raw("POST", "/v1/transit/keys/app/rewrap-kv",
                        {"mount": "secret", "prefix": "race/", "field": "ct"}).json()["data"]
            for k in totals:
                totals[k] += d[k]
            for f in d["failures"]:
                assert "check-and-set" in f["error"], f
    finally:
        stop.set()
        th.join(timeout=30)
    print("rewrap-kv against a concurrent writer:", totals, "writer versions:", len(written))
    assert totals["rewrapped"] > 0
    # every version decrypts, and the writer's values appear in order: a rewrap
    # version repeats the plaintext of the version before it, never an older one
    meta = c.secrets.kv.v2.read_secret_metadata("race/x", mount_point="secret")["data"]
    seqs = []
    for v in range(1, meta["current_version"] + 1):
        got = c.secrets.kv.v2.read_secret_version("race/x", version=v, mount_point="secret")["data"]["data"]
        pt = unb64(c.secrets.transit.decrypt_data("app", got["ct"])["data"]["plaintext"]).decode()
        assert pt == "w" + got["seq"]
        seqs.append(int(got["seq"]))
    assert seqs == sorted(seqs)
    assert set(written) <= set(seqs)  # no writer's update was lost
    assert seqs[-1] == written[-1]  # the last writer's value is the current one


def test_seal_during_rewrap_kv_does_not_hang(tr):
    c, dev = tr
    c.secrets.transit.create_key("app")
    ct = c.secrets.transit.encrypt_data("app", b64("x"))["data"]["ciphertext"]
    for i in range(3000):
        _kv_put(c, f"many/{i}", {"ct": ct})
    c.secrets.transit.rotate_key("app")
    out = {}

    def rewrap():
        try:
            out["rewrap"] = dev.raw("POST", "/v1/transit/keys/app/rewrap-kv",
                                    {"mount": "secret", "prefix": "many/", "field": "ct"}, timeout=15).status
        except OSError as exc:
            out["rewrap"] = repr(exc)

    th = threading.Thread(target=rewrap)
    th.start()
    time.sleep(0.1)
    try:
        out["seal"] = dev.raw("PUT", "/v1/sys/seal", timeout=15).status
    except OSError as exc:
        out["seal"] = repr(exc)
    th.join()
    assert out["seal"] == 204, out
    assert out["rewrap"] in (200, 503), out
    assert dev.raw("GET", "/v1/sys/seal-status", timeout=5).json()["sealed"] is True


# ---------------------------------------------------------------------------
# persistence and seal


def test_keys_survive_restart_and_seal(unsealed_sqlite):
    srv = unsealed_sqlite
    c = make_client(srv.addr, srv.root_token)
    c.sys.enable_secrets_engine("transit", path="transit")
    cts = {}
    for t in ["aes256-gcm96", "chacha20-poly1305", "rsa-2048"]:
        c.secrets.transit.create_key(t, key_type=t)
        cts[t] = c.secrets.transit.encrypt_data(t, b64("durable " + t))["data"]["ciphertext"]
    c.secrets.transit.create_key("sig", key_type="ecdsa-p256")
    sig = c.secrets.transit.sign_data("sig", b64("m"))["data"]["signature"]
    c.sys.seal()
    srv.unseal()
    srv.kill9()
    srv.start()
    srv.unseal()
    c = make_client(srv.addr, srv.root_token)
    for t, ct in cts.items():
        assert unb64(c.secrets.transit.decrypt_data(t, ct)["data"]["plaintext"]) == ("durable " + t).encode()
    assert c.secrets.transit.verify_signed_data("sig", b64("m"), signature=sig)["data"]["valid"]


def test_key_material_not_in_storage_in_clear(unsealed_sqlite):
    srv = unsealed_sqlite
    c = make_client(srv.addr, srv.root_token)
    c.sys.enable_secrets_engine("transit", path="transit")
    c.secrets.transit.create_key("clear", exportable=True)
    key = c.secrets.transit.export_key("clear", key_type="encryption-key")["data"]["keys"]["1"]
    srv.stop()
    blob = b"".join(p.read_bytes() for p in srv.db_path.parent.glob(srv.db_path.name + "*"))
    assert key.encode() not in blob and unb64(key) not in blob
    assert b"hmac_key" not in blob


# ---------------------------------------------------------------------------
# CLI


def test_cli_transit(dev_server, run_cli):
    addr, tok = dev_server.addr, dev_server.token
    r = run_cli("secrets", "enable", "transit", addr=addr, token=tok)
    assert r.returncode == 0, r.stderr
    r = run_cli("transit", "encrypt", "cli-key", "hello from the cli", addr=addr, token=tok)
    assert r.returncode == 0, r.stderr
    ct = r.stdout.strip()
    assert ct.startswith("vault:v1:")
    r = run_cli("transit", "decrypt", "cli-key", ct, addr=addr, token=tok)
    assert r.returncode == 0 and r.stdout == "hello from the cli"
    # stdin, binary-safe
    data = bytes(range(256)).decode("latin-1")
    r = subprocess.run([str(__import__("cofferlib").coffer_bin()), "transit", "encrypt", "cli-key", "-"],
                       input=bytes(range(256)), capture_output=True, timeout=30,
                       env={**os.environ, "COFFER_ADDR": addr, "COFFER_TOKEN": tok})
    assert r.returncode == 0, r.stderr
    ct2 = r.stdout.decode().strip()
    c = dev_server.client
    assert unb64(c.secrets.transit.decrypt_data("cli-key", ct2)["data"]["plaintext"]) == data.encode("latin-1")
    r = run_cli("transit", "rotate", "cli-key", addr=addr, token=tok)
    assert r.returncode == 0 and "Rotated" in r.stdout
    assert c.secrets.transit.read_key("cli-key")["data"]["latest_version"] == 2
    r = run_cli("transit", "encrypt", "cli-key", "again", addr=addr, token=tok)
    assert r.stdout.startswith("vault:v2:")
    r = run_cli("transit", "decrypt", "cli-key", ct, addr=addr, token=tok)
    assert r.stdout == "hello from the cli"
    # derived key with --context, other mount with --mount
    c.sys.enable_secrets_engine("transit", path="tr2")
    c.write("tr2/keys/d", derived=True)
    r = run_cli("transit", "encrypt", "--mount=tr2", "--context=user-7", "d", "ctx data", addr=addr, token=tok)
    assert r.returncode == 0, r.stderr
    r = run_cli("transit", "decrypt", "--mount=tr2", "--context=user-7", "d", r.stdout.strip(), addr=addr, token=tok)
    assert r.stdout == "ctx data"
    # errors: exit 2 and the server's message
    r = run_cli("transit", "decrypt", "cli-key", "vault:v1:AAAA", addr=addr, token=tok)
    assert r.returncode == 2 and "invalid ciphertext" in r.stderr
    r = run_cli("transit", "decrypt", "cli-key", addr=addr, token=tok)
    assert r.returncode == 2 and "missing CIPHERTEXT" in r.stderr
    r = run_cli("transit", "rotate", "nope", addr=addr, token=tok)
    assert r.returncode == 2
    r = run_cli("--format=json", "transit", "encrypt", "cli-key", "j", addr=addr, token=tok)
    assert '"ciphertext"' in r.stdout
