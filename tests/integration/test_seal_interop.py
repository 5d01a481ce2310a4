"""Interop of `coffer seal` / `coffer unseal` with an independent implementation
of the Bitnami Sealed Secrets scheme (kubeseal_ref.py, on Python's
`cryptography`): what coffer seals, the reference opens, and what the reference
seals, coffer opens, in every scope, with binary `data` and `stringData` items,
for RSA-2048 and RSA-4096 keys made at run time (one by `cryptography`, one by
the `openssl` command), JSON and YAML.
"""

import base64
import json
import os
import subprocess

import pytest
import yaml

import kubeseal_ref as ref
from cofferlib import coffer_bin

SCOPES = ["strict", "namespace-wide", "cluster-wide"]
BITS = [2048, 4096]
RUN_TIMEOUT = 60


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """{bits: {"key": private key, "cert": path, "pkcs1": path, "pkcs8": path}}."""
    d = tmp_path_factory.mktemp("sealkeys")
    out = {}
    # 2048: made by `cryptography`, written both as PKCS#1 and PKCS#8
    k = ref.generate_key(2048)
    (d / "c2048.pem").write_bytes(ref.cert_pem(ref.self_signed_cert(k, cn="interop")))
    (d / "k2048.pem").write_bytes(ref.key_pem(k))
    (d / "k2048.p8.pem").write_bytes(ref.key_pem(k, pkcs8=True))
    out[2048] = {"key": k, "cert": d / "c2048.pem", "pkcs1": d / "k2048.pem", "pkcs8": d / "k2048.p8.pem"}
    # 4096: made by the openssl command (a PKCS#8 key and its certificate)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:4096", "-nodes", "-sha256", "-days", "2",
            "-subj", "/CN=sealed-secrets", "-keyout", str(d / "k4096.p8.pem"), "-out", str(d / "c4096.pem"),
        ],
        check=True, capture_output=True, timeout=120,
    )
    k4 = ref.load_private_key((d / "k4096.p8.pem").read_bytes())
    (d / "k4096.pem").write_bytes(ref.key_pem(k4))
    out[4096] = {"key": k4, "cert": d / "c4096.pem", "pkcs1": d / "k4096.pem", "pkcs8": d / "k4096.p8.pem"}
    for v in out.values():
        os.chmod(v["pkcs1"], 0o600)
        os.chmod(v["pkcs8"], 0o600)
    return out


def coffer(args, stdin):
    return subprocess.run(
        [str(coffer_bin())] + args, input=stdin, capture_output=True, timeout=RUN_TIMEOUT,
    )


def binary_value():
    # every byte value, NUL included, and not valid UTF-8
    return bytes(range(256)) + os.urandom(64)


def make_secret(binary, name="db", namespace="prod"):
    meta = {"name": name, "labels": {"app": "web"}, "annotations": {"team": "core"}}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "data": {
            "blob": base64.b64encode(binary).decode(),
            "user": base64.b64encode(b"shadowed").decode(),
        },
        "stringData": {"user": "admin \u00e9\u4e2d", "empty": "", "password": "s3cr3t\nline2"},
    }


def expected_items(binary):
    return {
        "blob": binary,
        "user": "admin \u00e9\u4e2d".encode(),
        "empty": b"",
        "password": b"s3cr3t\nline2",
    }


def check_layout(sealed, bits):
    """Every value: standard padded base64 of prefix || R || ct || tag."""
    modlen = bits // 8
    for text in sealed["spec"]["encryptedData"].values():
        assert "\n" not in text and "-" not in text and "_" not in text and len(text) % 4 == 0
        raw = base64.b64decode(text, validate=True)
        assert raw[:2] == modlen.to_bytes(2, "big")
        assert len(raw) >= 2 + modlen + 16


# ---------------------------------------------------------------------------
# coffer seals, the reference opens


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_coffer_sealed_opens_with_reference(keys, bits, scope, fmt):
    binary = binary_value()
    secret = make_secret(binary)
    p = coffer(
        ["seal", f"--cert={keys[bits]['cert']}", f"--scope={scope}", f"--format={fmt}"],
        json.dumps(secret).encode(),
    )
    assert p.returncode == 0, p.stderr
    sealed = json.loads(p.stdout) if fmt == "json" else yaml.safe_load(p.stdout)
    assert sealed["kind"] == "SealedSecret" and sealed["apiVersion"] == ref.API_VERSION
    check_layout(sealed, bits)
    # the scope annotation is on the SealedSecret itself, where the controller reads it
    assert ref.scope_of(sealed["metadata"]) == scope
    assert ref.sealed_label(sealed) == ref.label_for(scope, "prod", "db")

    items = ref.unseal_items([keys[bits]["key"]], sealed)
    assert {k: pt for k, (pt, _) in items.items()} == expected_items(binary)

    # the Secret the controller would make from it
    out = ref.unseal_manifest([keys[bits]["key"]], sealed)
    assert out["metadata"]["name"] == "db" and out["metadata"]["namespace"] == "prod"
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["annotations"]["team"] == "core"
    assert out["type"] == "Opaque"

    # the other key, or the same value read under another scope, does not open it
    other = 4096 if bits == 2048 else 2048
    with pytest.raises(ref.UnsealError):
        ref.unseal_items([keys[other]["key"]], sealed)
    moved = json.loads(json.dumps(sealed))
    moved["metadata"]["namespace"] = "staging"
    if scope == "cluster-wide":
        assert ref.unseal_items([keys[bits]["key"]], moved)["blob"][0] == binary
    else:
        with pytest.raises(ref.UnsealError):
            ref.unseal_items([keys[bits]["key"]], moved)


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("scope", SCOPES)
def test_coffer_raw_value_opens_with_reference(keys, tmp_path, bits, scope):
    value = binary_value()
    src = tmp_path / "value.bin"
    src.write_bytes(value)
    p = coffer(
        [
            "seal", "--raw", f"--cert={keys[bits]['cert']}", f"--scope={scope}",
            "--name=db", "--namespace=prod", f"--from-file=item={src}",
        ],
        b"",
    )
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode()
    assert not text.endswith("\n")
    raw = base64.b64decode(text, validate=True)
    assert len(raw) == 2 + bits // 8 + len(value) + 16
    pt, idx = ref.unseal_value([keys[bits]["key"]], raw, ref.label_for(scope, "prod", "db"))
    assert pt == value and idx == 0
    if scope != "cluster-wide":
        with pytest.raises(ref.UnsealError):
            ref.unseal_value([keys[bits]["key"]], raw, ref.label_for(scope, "prod2", "db"))


# ---------------------------------------------------------------------------
# the reference seals, coffer opens


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("keyform", ["pkcs1", "pkcs8"])
def test_reference_sealed_opens_with_coffer(keys, bits, scope, keyform):
    binary = binary_value()
    pub = ref.load_cert_public_key(keys[bits]["cert"].read_bytes())
    sealed = ref.seal_secret(pub, make_secret(binary), scope=scope)
    p = coffer(["unseal", f"--private-key={keys[bits][keyform]}", "--format=json"], json.dumps(sealed).encode())
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    want = ref.unseal_manifest([keys[bits]["key"]], sealed)
    assert {k: base64.b64decode(v) for k, v in got["data"].items()} == expected_items(binary)
    assert got == want


@pytest.mark.parametrize("scope", SCOPES)
def test_reference_sealed_yaml_opens_with_coffer(keys, scope):
    binary = binary_value()
    pub = ref.load_cert_public_key(keys[4096]["cert"].read_bytes())
    docs = [
        ref.seal_secret(pub, make_secret(binary, name="one"), scope=scope),
        ref.seal_secret(pub, make_secret(binary, name="two"), scope=scope),
    ]
    text = "".join("---\n" + yaml.safe_dump(d, sort_keys=True) for d in docs)
    p = coffer(["unseal", f"--private-key={keys[4096]['pkcs1']}", "--format=yaml"], text.encode())
    assert p.returncode == 0, p.stderr
    got = [d for d in yaml.safe_load_all(p.stdout) if d is not None]
    assert [d["metadata"]["name"] for d in got] == ["one", "two"]
    for d, s in zip(got, docs):
        assert d == ref.unseal_manifest([keys[4096]["key"]], s)


def test_reference_several_keys_open_with_coffer(keys):
    """A manifest whose items were sealed to different keys (a key rotated
    between edits) opens when coffer is given every key, in any order."""
    binary = binary_value()
    secret = make_secret(binary)
    old = ref.seal_secret(ref.load_cert_public_key(keys[2048]["cert"].read_bytes()), secret)
    new = ref.seal_secret(ref.load_cert_public_key(keys[4096]["cert"].read_bytes()), secret)
    old["spec"]["encryptedData"]["blob"] = new["spec"]["encryptedData"]["blob"]
    stdin = json.dumps(old).encode()
    for order in ([2048, 4096], [4096, 2048]):
        arg = ",".join(str(keys[b]["pkcs1"]) for b in order)
        p = coffer(["unseal", f"--private-key={arg}"], stdin)
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)
        assert base64.b64decode(got["data"]["blob"]) == binary
    # with one of the keys only, the whole unseal fails, naming the item
    p = coffer(["unseal", f"--private-key={keys[2048]['pkcs1']}"], stdin)
    assert p.returncode == 2 and p.stdout == b""
    err = p.stderr.decode()
    assert err.count("\n") == 1 and "spec.encryptedData.blob" in err


@pytest.mark.parametrize("scope", ["strict", "namespace-wide"])
def test_reference_sealed_moved_fails_in_coffer(keys, scope):
    """A value bound to its name/namespace by the reference is refused by coffer
    once the manifest moves, with one line naming the item and the scope."""
    pub = ref.load_cert_public_key(keys[2048]["cert"].read_bytes())
    sealed = ref.seal_secret(pub, make_secret(b"x"), scope=scope)
    sealed["metadata"]["namespace"] = "elsewhere"
    p = coffer(["unseal", f"--private-key={keys[2048]['pkcs1']}"], json.dumps(sealed).encode())
    assert p.returncode == 2 and p.stdout == b""
    err = p.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("coffer: ")
    assert "spec.encryptedData." in err and f"scope {scope}" in err
    for v in ("s3cr3t", "admin"):
        assert v not in err


# ---------------------------------------------------------------------------
# the reference against itself (so a failure above is not the reference's)


@pytest.mark.parametrize("bits", BITS)
def test_reference_round_trip(keys, bits):
    key = keys[bits]["key"]
    for scope in SCOPES:
        s = ref.seal_secret(key.public_key(), make_secret(b"\x00\x01"), scope=scope)
        assert ref.unseal_manifest([key], s)["data"]["blob"] == "AAE="
    raw = ref.seal_value(key.public_key(), b"", b"ns/n")
    assert len(raw) == 2 + bits // 8 + 16
    assert ref.unseal_value([key], raw, b"ns/n") == (b"", 0)
    tampered = bytearray(raw)
    tampered[-1] ^= 1
    with pytest.raises(ref.UnsealError):
        ref.unseal_value([key], bytes(tampered), b"ns/n")
