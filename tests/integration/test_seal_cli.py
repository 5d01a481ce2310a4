"""coffer seal / coffer unseal offline (kubeseal's flags): round trips in every
scope in JSON and YAML, --raw, several documents, binary `data` and `stringData`,
scopes that bind a value to its name and namespace, bad input (one-line error
naming the field, exit 2, no output file), --merge-into, SEALED_SECRETS_* flags,
certificates from files and URLs, expired and wrong-size keys, key backups.

Keys and certificates are made at run time with openssl (and Python's
cryptography for an expired certificate) in temporary directories. Values are
also opened by an independent implementation of the scheme written here with
Python's cryptography, so a round trip cannot hide a symmetric mistake."""

import base64
import datetime
import http.server
import json
import os
import stat
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from cofferlib import LOOPBACK, coffer_bin

NS_ANN = "sealedsecrets.bitnami.com/namespace-wide"
CL_ANN = "sealedsecrets.bitnami.com/cluster-wide"
BINARY = bytes(range(256)) + b"\x00\xff\n"


# ---------------------------------------------------------------------------
# helpers


def coffer(*args, input=None, env=None, cwd=None):
    """Runs the binary offline (no server address in its environment)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SEALED_SECRETS_", "COFFER_", "VAULT_"))}
    full["HOME"] = str(cwd or "/nonexistent")
    if env:
        full.update(env)
    if isinstance(input, str):
        input = input.encode()
    p = subprocess.run(
        [str(coffer_bin()), *[str(a) for a in args]],
        input=input,
        capture_output=True,
        env=full,
        cwd=cwd,
        timeout=60,
    )
    p.out = p.stdout.decode(errors="replace")
    p.err = p.stderr.decode(errors="replace")
    return p


def ok(p):
    assert p.returncode == 0, p.err
    assert p.err == "", p.err
    return p


def one_line_error(p, cmd, *words):
    """Exit 2 and one line `coffer: <cmd>: ...` on stderr holding every word."""
    assert p.returncode == 2, (p.returncode, p.out, p.err)
    lines = p.err.splitlines()
    assert len(lines) >= 1
    assert lines[0].startswith(f"coffer: {cmd}: "), p.err
    # usage errors add one hint line after the error; runtime errors are one line
    assert len(lines) == 1 or (len(lines) == 2 and "--help" in lines[1]), p.err
    for w in words:
        assert w in lines[0], (w, p.err)
    assert p.out == "", p.out
    return lines[0]


class KeyPair:
    def __init__(self, d, name, bits, pkcs8=False):
        self.key = d / f"{name}.key"
        self.cert = d / f"{name}.crt"
        if pkcs8:
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
                            "-out", self.key], check=True, capture_output=True)
        else:
            subprocess.run(["openssl", "genrsa", "-traditional", "-out", self.key, str(bits)],
                           check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", self.key, "-out", self.cert, "-days", "30",
                        "-subj", "/CN=sealed-secret"], check=True, capture_output=True)
        self.bits = bits
        self.private = serialization.load_pem_private_key(self.key.read_bytes(), password=None)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("sealkeys")
    return {
        "a": KeyPair(d, "a", 2048),
        "b": KeyPair(d, "b", 2048, pkcs8=True),
        "small": KeyPair(d, "small", 1024),
    }


@pytest.fixture(scope="module")
def key4096(tmp_path_factory):
    return KeyPair(tmp_path_factory.mktemp("sealkey4096"), "big", 4096)


def open_value(private, label, b64):
    """The Bitnami scheme, independently: uint16 len, RSA-OAEP(SHA-256) of the AES
    key under the label, AES-256-GCM with a zero nonce."""
    raw = base64.b64decode(b64, validate=True)
    n = int.from_bytes(raw[:2], "big")
    assert n == private.key_size // 8
    aes = private.decrypt(raw[2:2 + n], padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                     algorithm=hashes.SHA256(), label=label or None))
    return AESGCM(aes).decrypt(b"\0" * 12, raw[2 + n:], None)


def secret(name="db", ns="prod", data=None, string_data=None, annotations=None, labels=None, kind="Secret"):
    meta = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    doc = {"apiVersion": "v1", "kind": kind, "metadata": meta, "type": "Opaque"}
    if data is not None:
        doc["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    if string_data is not None:
        doc["stringData"] = string_data
    return doc


def to_yaml(doc, indent=0):
    """A small YAML writer for test input (block style, everything quoted)."""
    pad = " " * indent
    out = []
    for k, v in doc.items():
        if isinstance(v, dict):
            if not v:
                out.append(f"{pad}{json.dumps(k)}: {{}}")
                continue
            out.append(f"{pad}{json.dumps(k)}:")
            out.append(to_yaml(v, indent + 2))
        else:
            out.append(f"{pad}{json.dumps(k)}: {json.dumps(v)}")
    return "\n".join(out)


def read_docs(text):
    """Documents of kubeseal-style output: consecutive JSON objects, or YAML
    written by coffer (parsed back by coffer itself through unseal is not
    possible for plain dicts, so JSON output is parsed here)."""
    dec = json.JSONDecoder()
    docs, i = [], 0
    text = text.strip()
    while i < len(text):
        obj, j = dec.raw_decode(text, i)
        docs.append(obj)
        i = j
        while i < len(text) and text[i].isspace():
            i += 1
    return docs


def seal_json(cert, doc, *flags, cwd=None):
    p = ok(coffer("seal", "--cert", cert, *flags, input=json.dumps(doc), cwd=cwd))
    docs = read_docs(p.out)
    assert len(docs) == 1
    return docs[0]


def unseal_json(key, sealed, *flags):
    p = ok(coffer("unseal", "--private-key", key, input=json.dumps(sealed), *flags))
    docs = read_docs(p.out)
    assert len(docs) == 1
    return docs[0]


def no_files_but(d, *names):
    assert sorted(x.name for x in d.iterdir()) == sorted(names)


# ---------------------------------------------------------------------------
# round trips


LABELS = {"strict": lambda ns, n: f"{ns}/{n}".encode(), "namespace-wide": lambda ns, n: ns.encode(),
          "cluster-wide": lambda ns, n: b""}


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_round_trip_every_scope_and_format(keys, tmp_path, scope, fmt):
    k = keys["a"]
    src = secret(data={"bin": BINARY, "empty": b""}, string_data={"user": "admin", "pw": "s3cr3t €"},
                 labels={"app": "web"})
    infile = tmp_path / f"in.{fmt}"
    infile.write_text(json.dumps(src) if fmt == "json" else "---\n" + to_yaml(src) + "\n")
    out = tmp_path / f"sealed.{fmt}"
    ok(coffer("seal", "--cert", k.cert, "--scope", scope, "-f", infile, "-w", out))
    text = out.read_text()
    if fmt == "yaml":
        assert text.startswith("---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n")
        assert "encryptedData:" in text and text.index("encryptedData:") < text.index("template:")
    else:
        assert text.startswith('{\n  "kind": "SealedSecret",\n  "apiVersion": "bitnami.com/v1alpha1",\n')
        assert text.endswith("}\n")
        sealed = json.loads(text)
        ann = sealed["metadata"].get("annotations", {})
        assert ann == ({} if scope == "strict" else {NS_ANN if scope == "namespace-wide" else CL_ANN: "true"})
        assert sealed["metadata"]["creationTimestamp"] is None
        assert sealed["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
        enc = sealed["spec"]["encryptedData"]
        assert sorted(enc) == ["bin", "empty", "pw", "user"]
        label = LABELS[scope]("prod", "db")
        # the independent implementation opens what coffer sealed
        assert open_value(k.private, label, enc["bin"]) == BINARY
        assert open_value(k.private, label, enc["pw"]) == "s3cr3t €".encode()
        assert open_value(k.private, label, enc["empty"]) == b""
        assert len(base64.b64decode(enc["user"])) == 2 + 256 + len("admin") + 16
    # and coffer opens it again, from the file in either format
    p = ok(coffer("unseal", "--private-key", k.key, "-f", out, "--format", "json"))
    got = read_docs(p.out)[0]
    assert got["kind"] == "Secret" and got["metadata"]["name"] == "db"
    assert got["metadata"]["namespace"] == "prod"
    assert got["type"] == "Opaque"
    assert {k2: base64.b64decode(v) for k2, v in got["data"].items()} == {
        "bin": BINARY, "empty": b"", "user": b"admin", "pw": "s3cr3t €".encode()}
    assert got["metadata"]["ownerReferences"][0]["kind"] == "SealedSecret"
    assert "stringData" not in got


def test_4096_bit_key(key4096, tmp_path):
    sealed = seal_json(key4096.cert, secret(string_data={"k": "v" * 1024}))
    v = sealed["spec"]["encryptedData"]["k"]
    assert v.startswith("Ag")  # 0x0200: a 512-byte RSA part
    assert open_value(key4096.private, b"prod/db", v) == b"v" * 1024
    got = unseal_json(key4096.key, sealed)
    assert base64.b64decode(got["data"]["k"]) == b"v" * 1024


def test_stdin_stdout_and_yaml_output_selection(keys, tmp_path):
    k = keys["a"]
    src = json.dumps(secret(string_data={"a": "1"}))
    p = ok(coffer("seal", "--cert", k.cert, "-o", "yaml", input=src))
    assert p.out.startswith("---\n")
    p = ok(coffer("seal", "--cert", k.cert, "--format=yaml", input=src))
    assert p.out.startswith("---\n")
    # -w x.yaml selects YAML, -o FILE is an output file (coffer seal --help), -o json a format
    ok(coffer("seal", "--cert", k.cert, "-w", tmp_path / "x.yaml", input=src))
    assert (tmp_path / "x.yaml").read_text().startswith("---\n")
    ok(coffer("seal", "--cert", k.cert, "-o", tmp_path / "x.out", input=src))
    assert (tmp_path / "x.out").read_text().startswith("{\n")
    p = ok(coffer("seal", "--cert", k.cert, "-o", "json", input=src))
    assert p.out.startswith("{\n")
    # the YAML output unseals as well
    p = ok(coffer("unseal", "--private-key", k.key, "-f", tmp_path / "x.yaml", "-o", "yaml"))
    assert p.out.startswith("---\napiVersion: v1\n")
    assert "a: MQ==" in p.out


def test_raw_every_scope(keys, tmp_path):
    k = keys["a"]
    (tmp_path / "v").write_bytes(BINARY)
    for scope, flags, label in [
        ("strict", ["--name", "db", "-n", "prod"], b"prod/db"),
        ("namespace-wide", ["--namespace", "prod"], b"prod"),
        ("cluster-wide", [], b""),
    ]:
        p = ok(coffer("seal", "--raw", "--cert", k.cert, "--scope", scope, *flags,
                      f"--from-file=ignored-key={tmp_path / 'v'}"))
        assert not p.out.endswith("\n") and "\n" not in p.out
        assert open_value(k.private, label, p.out) == BINARY
        # the value works inside a SealedSecret of that name and namespace
        ss = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
              "metadata": {"name": "db", "namespace": "prod"},
              "spec": {"template": {"metadata": {}}, "encryptedData": {"x": p.out}}}
        if scope != "strict":
            ss["metadata"]["annotations"] = {NS_ANN if scope == "namespace-wide" else CL_ANN: "true"}
        got = unseal_json(k.key, ss)
        assert base64.b64decode(got["data"]["x"]) == BINARY
    # value from stdin, to a file with -w
    ok(coffer("seal", "--raw", "--cert", k.cert, "--scope", "cluster-wide", "-w", tmp_path / "raw",
              input=b"from stdin"))
    assert open_value(k.private, b"", (tmp_path / "raw").read_text()) == b"from stdin"


def test_raw_label_rules(keys):
    k = keys["a"]
    one_line_error(coffer("seal", "--raw", "--cert", k.cert, "-n", "prod", input="x"), "seal", "--name")
    one_line_error(coffer("seal", "--raw", "--cert", k.cert, "--name", "db", input="x"), "seal", "--namespace")
    one_line_error(coffer("seal", "--raw", "--cert", k.cert, "--scope", "namespace-wide", input="x"),
                   "seal", "--namespace")
    one_line_error(coffer("seal", "--raw", "--cert", k.cert, "--scope", "bogus", input="x"), "seal", "--scope")


def test_multi_document_yaml_and_json(keys, tmp_path):
    k = keys["a"]
    docs = [secret(name=f"s{i}", string_data={"k": f"v{i}"}) for i in range(3)]
    yaml_in = "".join("---\n" + to_yaml(d) + "\n" for d in docs) + "---\n"
    json_in = "".join(json.dumps(d) for d in docs)
    for text in (yaml_in, json_in):
        p = ok(coffer("seal", "--cert", k.cert, input=text))
        sealed = read_docs(p.out)
        assert [s["metadata"]["name"] for s in sealed] == ["s0", "s1", "s2"]
        (tmp_path / "all.json").write_text(p.out)
        p = ok(coffer("unseal", "--private-key", k.key, "-f", tmp_path / "all.json"))
        got = read_docs(p.out)
        assert [base64.b64decode(s["data"]["k"]) for s in got] == [b"v0", b"v1", b"v2"]
    # YAML output: one `---` per document
    p = ok(coffer("seal", "--cert", k.cert, "-o", "yaml", input=json_in))
    assert p.out.count("---\n") == 3


def test_string_data_wins_over_data(keys):
    k = keys["a"]
    sealed = seal_json(k.cert, secret(data={"k": b"from data", "d": b"\x00"}, string_data={"k": "from stringData"}))
    got = unseal_json(k.key, sealed)
    assert base64.b64decode(got["data"]["k"]) == b"from stringData"
    assert base64.b64decode(got["data"]["d"]) == b"\x00"


# ---------------------------------------------------------------------------
# scopes bind


def moved(sealed, name=None, ns=None):
    s = json.loads(json.dumps(sealed))
    if name:
        s["metadata"]["name"] = name
    if ns:
        s["metadata"]["namespace"] = ns
    return s


def test_strict_binds_name_and_namespace(keys):
    k = keys["a"]
    sealed = seal_json(k.cert, secret(string_data={"pw": "hunter2"}))
    for other in (moved(sealed, name="other"), moved(sealed, ns="staging")):
        p = coffer("unseal", "--private-key", k.key, input=json.dumps(other))
        line = one_line_error(p, "unseal", "spec.encryptedData.pw", "strict")
        assert "hunter2" not in p.err
        assert line


def test_namespace_wide_renames_within_its_namespace(keys):
    k = keys["a"]
    sealed = seal_json(k.cert, secret(string_data={"pw": "x"}), "--scope", "namespace-wide")
    got = unseal_json(k.key, moved(sealed, name="renamed"))
    assert got["metadata"]["name"] == "renamed"
    assert base64.b64decode(got["data"]["pw"]) == b"x"
    p = coffer("unseal", "--private-key", k.key, input=json.dumps(moved(sealed, ns="staging")))
    one_line_error(p, "unseal", "spec.encryptedData.pw", "namespace-wide")


def test_cluster_wide_moves_anywhere(keys):
    k = keys["a"]
    sealed = seal_json(k.cert, secret(ns=None, string_data={"pw": "x"}), "--scope", "cluster-wide")
    assert "namespace" not in sealed["metadata"]
    for other in (moved(sealed, name="n2"), moved(sealed, name="n3", ns="anywhere")):
        got = unseal_json(k.key, other)
        assert base64.b64decode(got["data"]["pw"]) == b"x"


def test_scope_from_input_annotations(keys):
    k = keys["a"]
    sealed = seal_json(k.cert, secret(string_data={"pw": "x"}, annotations={NS_ANN: "true"}))
    assert sealed["metadata"]["annotations"] == {NS_ANN: "true"}
    assert open_value(k.private, b"prod", sealed["spec"]["encryptedData"]["pw"]) == b"x"


# ---------------------------------------------------------------------------
# bad input: one line naming the field, exit 2, no output file


def test_tampered_truncated_wrong_key(keys, tmp_path):
    k = keys["a"]
    sealed = seal_json(k.cert, secret(string_data={"pw": "hunter2", "ok": "fine"}))
    raw = bytearray(base64.b64decode(sealed["spec"]["encryptedData"]["pw"]))
    raw[-3] ^= 1
    tampered = json.loads(json.dumps(sealed))
    tampered["spec"]["encryptedData"]["pw"] = base64.b64encode(bytes(raw)).decode()
    truncated = json.loads(json.dumps(sealed))
    truncated["spec"]["encryptedData"]["pw"] = sealed["spec"]["encryptedData"]["pw"][:100]
    bad_b64 = json.loads(json.dumps(sealed))
    bad_b64["spec"]["encryptedData"]["pw"] = "%%%not base64%%%"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # with the wrong key the first item in key order (ok) is the one named
    for doc, key, field in ((tampered, k.key, "pw"), (truncated, k.key, "pw"), (sealed, keys["b"].key, "ok"),
                            (bad_b64, k.key, "pw")):
        (tmp_path / "in.json").write_text(json.dumps(doc))
        p = coffer("unseal", "--private-key", key, "-f", tmp_path / "in.json", "-w", out_dir / "secret.json")
        one_line_error(p, "unseal", f"spec.encryptedData.{field}")
        assert "hunter2" not in p.err and "fine" not in p.err
        no_files_but(out_dir)


def test_not_a_secret_and_invalid_base64(keys, tmp_path):
    k = keys["a"]
    out = tmp_path / "sealed.json"
    p = coffer("seal", "--cert", k.cert, "-w", out, input=json.dumps(secret(kind="ConfigMap", string_data={"a": "b"})))
    one_line_error(p, "seal", "kind")
    bad = secret(string_data={"a": "b"})
    bad["data"] = {"blob": "not*base64"}
    p = coffer("seal", "--cert", k.cert, "-w", out, input=json.dumps(bad))
    one_line_error(p, "seal", "data.blob")
    p = coffer("seal", "--cert", k.cert, "-w", out, input=json.dumps(secret()))
    one_line_error(p, "seal")
    p = coffer("seal", "--cert", k.cert, "-w", out, input="kind: Secret\nkind: Secret\n")
    one_line_error(p, "seal", "stdin: line 2, column 1: duplicate key")
    p = coffer("seal", "--cert", k.cert, "-w", out, input="kind: Secret\nmetadata: {name: [x\n")
    one_line_error(p, "seal", "stdin: line 3, column 1")
    # a SealedSecret that is not one
    p = coffer("unseal", "--private-key", k.key, input=json.dumps(secret(string_data={"a": "b"})))
    one_line_error(p, "unseal", "kind")
    no_files_but(tmp_path)


def test_no_partial_output_when_a_later_document_fails(keys, tmp_path):
    k = keys["a"]
    good = secret(name="good", string_data={"a": "b"})
    bad = secret(name="bad", string_data={"a": "b"}, kind="ConfigMap")
    out = tmp_path / "sealed.yaml"
    out.write_text("previous content\n")
    p = coffer("seal", "--cert", k.cert, "-w", out, input=json.dumps(good) + json.dumps(bad))
    one_line_error(p, "seal", "document 2", "kind")
    assert out.read_text() == "previous content\n"
    no_files_but(tmp_path, "sealed.yaml")
    # unseal: the second document does not open: nothing written
    s1 = seal_json(k.cert, good)
    s2 = seal_json(keys["b"].cert, secret(name="other", string_data={"a": "b"}))
    (tmp_path / "two.json").write_text(json.dumps(s1) + json.dumps(s2))
    p = coffer("unseal", "--private-key", k.key, "-f", tmp_path / "two.json", "-w", tmp_path / "plain.json")
    one_line_error(p, "unseal", "document 2", "spec.encryptedData.a")
    no_files_but(tmp_path, "sealed.yaml", "two.json")


def test_wrong_size_keys(keys):
    small = keys["small"]
    p = coffer("seal", "--cert", small.cert, input=json.dumps(secret(string_data={"a": "b"})))
    one_line_error(p, "seal", "--cert", "2048")
    p = coffer("unseal", "--private-key", small.key, input="{}")
    one_line_error(p, "unseal", "--private-key", "2048")


def test_expired_certificate_refused(keys, tmp_path):
    k = keys["a"]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(k.private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=1))
            .sign(k.private, hashes.SHA256()))
    (tmp_path / "old.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    p = coffer("seal", "--cert", tmp_path / "old.crt", "-w", tmp_path / "o.json",
               input=json.dumps(secret(string_data={"a": "b"})))
    one_line_error(p, "seal", "--cert", "expired")
    no_files_but(tmp_path, "old.crt")


def test_usage_errors(keys):
    k = keys["a"]
    p = coffer("seal", input=json.dumps(secret(string_data={"a": "b"})))
    one_line_error(p, "seal", "--cert")
    one_line_error(coffer("seal", "--cert", k.cert, "--format", "xml", input="{}"), "seal", "--format")
    one_line_error(coffer("unseal", input="{}"), "unseal", "--private-key")
    one_line_error(coffer("seal", "--cert", k.cert, "--raw", "--validate", input="{}"), "seal", "exclude")
    one_line_error(coffer("unseal", "--private-key", "/nonexistent/k.pem", input="{}"), "unseal",
                   "/nonexistent/k.pem")


# ---------------------------------------------------------------------------
# --merge-into


def test_merge_into(keys, tmp_path):
    k = keys["a"]
    existing = tmp_path / "db.yaml"
    ok(coffer("seal", "--cert", k.cert, "-w", existing,
              input=json.dumps(secret(string_data={"old": "1"}, labels={"keep": "yes"}))))
    before = existing.read_text()
    assert before.startswith("---\n")
    # the input has another name and namespace: the file's win
    ok(coffer("seal", "--cert", k.cert, "--merge-into", existing,
              input=json.dumps(secret(name="x", ns="y", string_data={"new": "2", "old": "3"},
                                      labels={"added": "z"}))))
    merged = json.loads(existing.read_text())  # JSON, as kubeseal writes it, even over YAML
    assert merged["metadata"]["name"] == "db" and merged["metadata"]["namespace"] == "prod"
    assert sorted(merged["spec"]["encryptedData"]) == ["new", "old"]
    assert merged["spec"]["template"]["metadata"]["labels"] == {"keep": "yes", "added": "z"}
    got = unseal_json(k.key, merged)
    assert {a: base64.b64decode(b) for a, b in got["data"].items()} == {"new": b"2", "old": b"3"}
    no_files_but(tmp_path, "db.yaml")
    # a merge that fails leaves the file as it was
    text = existing.read_text()
    p = coffer("seal", "--cert", k.cert, "--merge-into", existing, input=json.dumps(secret(kind="ConfigMap")))
    one_line_error(p, "seal", "kind")
    assert existing.read_text() == text
    no_files_but(tmp_path, "db.yaml")


# ---------------------------------------------------------------------------
# flags from the environment; certificates from URLs


def test_sealed_secrets_env_flags(keys, tmp_path):
    k = keys["a"]
    src = json.dumps(secret(string_data={"a": "b"}))
    env = {"SEALED_SECRETS_CERT": str(k.cert), "SEALED_SECRETS_SCOPE": "cluster-wide",
           "SEALED_SECRETS_FORMAT": "yaml"}
    p = ok(coffer("seal", input=src, env=env))
    assert p.out.startswith("---\n") and CL_ANN in p.out
    # the command line wins
    p = ok(coffer("seal", "--scope", "namespace-wide", "--format", "json", input=src, env=env))
    sealed = json.loads(p.out)
    assert sealed["metadata"]["annotations"] == {NS_ANN: "true"}
    assert open_value(k.private, b"prod", sealed["spec"]["encryptedData"]["a"]) == b"b"
    # switches and the private key list of kubeseal's recovery unseal
    (tmp_path / "s.json").write_text(p.out)
    env2 = {"SEALED_SECRETS_RECOVERY_UNSEAL": "true",
            "SEALED_SECRETS_RECOVERY_PRIVATE_KEY": f"{keys['b'].key},{k.key}"}
    p = ok(coffer("seal", "-f", tmp_path / "s.json", env=env2))
    assert base64.b64decode(json.loads(p.out)["data"]["a"]) == b"b"
    # a --recovery-private-key on the command line replaces the environment's list
    p = coffer("seal", "-f", tmp_path / "s.json", "--recovery-private-key", keys["b"].key, env=env2)
    one_line_error(p, "seal", "spec.encryptedData.a")
    p = coffer("seal", input=src, env={"SEALED_SECRETS_RAW": "maybe"})
    one_line_error(p, "seal", "SEALED_SECRETS_RAW")


class _CertHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802
        if self.path != "/v1/cert.pem":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-pem-file")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


def test_cert_from_urls(keys):
    k = keys["a"]
    _CertHandler.body = k.cert.read_bytes()
    srv = http.server.ThreadingHTTPServer((LOOPBACK, 0), _CertHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        base = f"http://{LOOPBACK}:{srv.server_address[1]}"
        src = json.dumps(secret(string_data={"a": "b"}))
        for url in (f"{base}/v1/cert.pem", f"file://{k.cert}"):
            p = ok(coffer("seal", "--cert", url, input=src))
            assert open_value(k.private, b"prod/db", json.loads(p.out)["spec"]["encryptedData"]["a"]) == b"b"
        p = coffer("seal", "--cert", f"{base}/missing", input=src)
        one_line_error(p, "seal", "HTTP 404")
        # --fetch-cert with --cert prints that certificate
        p = ok(coffer("seal", "--fetch-cert", "--cert", f"{base}/v1/cert.pem"))
        assert p.out == k.cert.read_text()
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------------------
# private keys: PKCS#1, PKCS#8, backups of the controller's key Secrets


def key_secret(kp, name):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "kube-system",
                         "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
            "data": {"tls.crt": base64.b64encode(kp.cert.read_bytes()).decode(),
                     "tls.key": base64.b64encode(kp.key.read_bytes()).decode()}}


def test_private_key_forms_and_backups(keys, tmp_path):
    a, b = keys["a"], keys["b"]
    assert b"BEGIN RSA PRIVATE KEY" in a.key.read_bytes()
    assert b"BEGIN PRIVATE KEY" in b.key.read_bytes()
    sa = seal_json(a.cert, secret(name="sa", string_data={"k": "from a"}))
    sb = seal_json(b.cert, secret(name="sb", string_data={"k": "from b"}))
    both = tmp_path / "both.json"
    both.write_text(json.dumps(sa) + json.dumps(sb))
    want = [b"from a", b"from b"]

    def opened(*flags):
        p = ok(coffer("unseal", *flags, "-f", both))
        return [base64.b64decode(d["data"]["k"]) for d in read_docs(p.out)]

    assert opened("--private-key", a.key, "--private-key", b.key) == want
    assert opened(f"--private-key={b.key},{a.key}") == want
    assert opened("--recovery-unseal", "--recovery-private-key", f"{a.key},{b.key}") == want
    # a v1 List of key Secrets, as `kubectl get secret -l ... -o yaml` saves it
    lst = {"apiVersion": "v1", "kind": "List", "items": [key_secret(a, "k1"), key_secret(b, "k2")]}
    (tmp_path / "backup.yaml").write_text("---\n" + to_yaml({"apiVersion": "v1", "kind": "List"}) + "\nitems:\n" +
                                          "".join("- " + to_yaml(i, 2)[2:] + "\n" for i in lst["items"]))
    assert opened("--private-key", tmp_path / "backup.yaml") == want
    (tmp_path / "backup.json").write_text(json.dumps(key_secret(a, "k1")) + json.dumps(key_secret(b, "k2")))
    assert opened("--private-key", tmp_path / "backup.json") == want
    # kubeseal's spelling on coffer seal
    p = ok(coffer("seal", "--recovery-unseal", "--recovery-private-key", f"{a.key},{b.key}", "-f", both))
    assert len(read_docs(p.out)) == 2
    # only one of the keys: the other document fails, nothing is printed
    p = coffer("unseal", "--private-key", a.key, "-f", both)
    one_line_error(p, "unseal", "document 2")
    # a backup that is not one
    (tmp_path / "nokey.json").write_text(json.dumps(secret(string_data={"a": "b"})))
    p = coffer("unseal", "--private-key", tmp_path / "nokey.json", "-f", both)
    one_line_error(p, "unseal", "data.tls.key")


def test_unsealed_file_is_private(keys, tmp_path):
    k = keys["a"]
    sealed = seal_json(k.cert, secret(string_data={"pw": "hunter2"}))
    (tmp_path / "s.json").write_text(json.dumps(sealed))
    ok(coffer("unseal", "--private-key", k.key, "-f", tmp_path / "s.json", "-w", tmp_path / "plain.yaml"))
    st = (tmp_path / "plain.yaml").stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    text = (tmp_path / "plain.yaml").read_text()
    assert text.startswith("---\napiVersion: v1\n")
    assert "pw: aHVudGVyMg==" in text
    no_files_but(tmp_path, "s.json", "plain.yaml")


def test_name_namespace_and_empty_data(keys):
    k = keys["a"]
    # --name renames, -n fills a missing namespace; the label follows
    sealed = seal_json(k.cert, secret(ns=None, string_data={"a": "b"}), "--name", "renamed", "-n", "team")
    assert sealed["metadata"]["name"] == "renamed" and sealed["metadata"]["namespace"] == "team"
    assert sealed["spec"]["template"]["metadata"]["name"] == "renamed"
    assert open_value(k.private, b"team/renamed", sealed["spec"]["encryptedData"]["a"]) == b"b"
    # no namespace at all: "default"
    sealed = seal_json(k.cert, secret(ns=None, string_data={"a": "b"}))
    assert sealed["metadata"]["namespace"] == "default"
    # a Secret in another namespace than -n: refused, naming it
    p = coffer("seal", "--cert", k.cert, "-n", "other", input=json.dumps(secret(string_data={"a": "b"})))
    one_line_error(p, "seal", "namespace", "other")
    # no items: refused unless --allow-empty-data
    p = coffer("seal", "--cert", k.cert, input=json.dumps(secret()))
    one_line_error(p, "seal", "data:", "no items")
    sealed = seal_json(k.cert, secret(), "--allow-empty-data")
    assert sealed["spec"]["encryptedData"] == {}


def test_last_applied_configuration_is_not_copied(keys):
    k = keys["a"]
    ann = {"kubectl.kubernetes.io/last-applied-configuration": '{"stringData":{"a":"hunter2"}}', "keep": "me"}
    sealed = seal_json(k.cert, secret(string_data={"a": "hunter2"}, annotations=ann))
    text = json.dumps(sealed)
    assert "hunter2" not in text
    assert sealed["spec"]["template"]["metadata"]["annotations"] == {"keep": "me"}


def test_help_lists_the_flags():
    p = ok(coffer("seal", "--help"))
    for flag in ("--cert", "--scope", "--raw", "--merge-into", "--fetch-cert", "--re-encrypt", "--validate",
                 "--recovery-unseal", "SEALED_SECRETS_"):
        assert flag in p.out, flag
    p = ok(coffer("unseal", "-h"))
    assert "--private-key" in p.out
