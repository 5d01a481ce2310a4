"""coffer seal through the server's sealing API: --fetch-cert, sealing with no
--cert (the certificate of the server at COFFER_ADDR), --re-encrypt (re-sealed
to the active key by POST sys/sealing/reseal; in place with only -f) and
--validate (POST sys/sealing/audit: exit 0, or 1 with one line per item that
no usable key opens). One dev server for the module, its keys 2048 bits."""

import base64
import json
import os
import subprocess

import pytest

from cofferlib import CofferServer, coffer_bin, free_port, raw_request

LONG = 120  # a server's RSA key generation may take seconds on a busy machine


def coffer(*args, input=None, env=None, cwd=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SEALED_SECRETS_", "COFFER_", "VAULT_"))}
    full["HOME"] = str(cwd or "/nonexistent")
    if env:
        full.update(env)
    p = subprocess.run([str(coffer_bin()), *[str(a) for a in args]], input=input, capture_output=True,
                       text=True, env=full, cwd=cwd, timeout=LONG)
    return p


def ok(p):
    assert p.returncode == 0, p.stderr
    return p


def one_line_error(p, *words):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coffer: seal: "), p.stderr
    for w in words:
        assert w in lines[0], (w, p.stderr)
    return lines[0]


def docs_of(text):
    dec, out, i, text = json.JSONDecoder(), [], 0, text.strip()
    while i < len(text):
        obj, i = dec.raw_decode(text, i)
        out.append(obj)
        while i < len(text) and text[i].isspace():
            i += 1
    return out


def secret(name, items, ns="default"):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "type": "Opaque", "stringData": items}


class Srv:
    def __init__(self, server, token):
        self.server, self.addr, self.token = server, server.addr, token
        self.env = {"COFFER_ADDR": server.addr, "COFFER_TOKEN": token}

    def call(self, method, path, body=None):
        r = raw_request(self.addr, method, "/v1/" + path, body=body, token=self.token, timeout=LONG)
        assert r.status == 200, r
        return r.json()

    def active(self):
        return self.call("GET", "sys/sealing/keys")["data"]["active_key"]

    def unseal(self, sealed):
        data = self.call("POST", "sys/sealing/unseal", {"sealed_secret": sealed})["data"]
        return {k: base64.b64decode(v) for k, v in data["secret"]["data"].items()}, data["key_ids"]

    def key_ids(self, sealed):
        """item -> id of the key that opens it, from sys/sealing/audit."""
        res = self.call("POST", "sys/sealing/audit", {"sealed_secrets": [sealed]})["data"]["results"][0]
        return {k: v["key_id"] for k, v in res["items"].items()}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    token = "root-" + os.urandom(8).hex()
    server = CofferServer(tmp_path_factory.mktemp("sealcli"), ["--dev", f"--dev-root-token={token}"],
                          name="sealcli")
    server.start()
    s = Srv(server, token)
    s.call("POST", "sys/sealing/config", {"key_bits": 2048})
    yield s
    server.kill9()


def test_fetch_cert(srv, tmp_path):
    want = raw_request(srv.addr, "GET", "/v1/sys/sealing/cert", timeout=LONG)
    assert want.status == 200
    p = ok(coffer("seal", "--fetch-cert", env={"COFFER_ADDR": srv.addr}))  # no token needed
    assert p.stdout == want.text and p.stdout.startswith("-----BEGIN CERTIFICATE-----")
    ok(coffer("seal", "--fetch-cert", "--address", srv.addr, "-w", tmp_path / "cert.pem"))
    assert (tmp_path / "cert.pem").read_text() == want.text
    # the fetched certificate works offline as --cert
    p = ok(coffer("seal", "--cert", tmp_path / "cert.pem", input=json.dumps(secret("f", {"a": "1"}))))
    assert srv.unseal(docs_of(p.stdout)[0])[0] == {"a": b"1"}


def test_seal_with_the_servers_certificate(srv):
    p = ok(coffer("seal", "--scope", "namespace-wide", input=json.dumps(secret("web", {"pw": "hunter2"})),
                  env={"COFFER_ADDR": srv.addr}))
    sealed = docs_of(p.stdout)[0]
    assert sealed["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/namespace-wide": "true"}
    items, key_ids = srv.unseal(sealed)
    assert items == {"pw": b"hunter2"}
    assert key_ids == {"pw": srv.active()}


def test_unreachable_server_and_missing_token(srv, tmp_path):
    src = json.dumps(secret("x", {"a": "1"}))
    dead = f"http://127.0.0.1:{free_port()}"
    p = coffer("seal", "-w", tmp_path / "o.json", input=src, env={"COFFER_ADDR": dead})
    one_line_error(p, "cannot fetch the certificate")
    assert not (tmp_path / "o.json").exists()
    sealed = ok(coffer("seal", input=src, env={"COFFER_ADDR": srv.addr})).stdout
    p = coffer("seal", "--re-encrypt", input=sealed, env={"COFFER_ADDR": srv.addr})
    assert p.returncode == 2 and p.stderr.startswith("coffer: seal: "), p.stderr
    assert p.stdout == ""


def test_rotate_validate_compromise_reencrypt(srv, tmp_path):
    env = srv.env
    docs = "".join(json.dumps(secret(n, {"a": f"{n}-a", "b": f"{n}-b"})) for n in ("one", "two"))
    sealed_file = tmp_path / "sealed.json"
    ok(coffer("seal", "-w", sealed_file, input=docs, env=env))
    old = srv.active()
    p = ok(coffer("seal", "--validate", "-f", sealed_file, env=env))
    assert p.stdout == ""

    # after a rotation the old key is retired: still valid
    new = srv.call("POST", "sys/sealing/rotate")["data"]["key_id"]
    assert new != old
    ok(coffer("seal", "--validate", "-f", sealed_file, env=env))

    # compromised: every item of every document is named, exit 1
    srv.call("POST", f"sys/sealing/keys/{old}/compromised")
    p = coffer("seal", "--validate", "-f", sealed_file, env=env)
    assert p.returncode == 1, p.stderr
    lines = sorted(p.stdout.splitlines())
    assert len(lines) == 4, p.stdout
    assert lines[0] == f"default/one: spec.encryptedData.a: sealed with compromised key {old}"
    assert all(old in ln for ln in lines)

    # --re-encrypt with only -f rewrites the file in place, to the active key
    before = sealed_file.read_text()
    p = ok(coffer("seal", "--re-encrypt", "-f", sealed_file, env=env))
    assert p.stdout == ""
    assert "compromised" in p.stderr  # the server's warning is passed on
    after = docs_of(sealed_file.read_text())
    assert sealed_file.read_text() != before
    assert [d["metadata"]["name"] for d in after] == ["one", "two"]
    for d in after:
        assert set(srv.key_ids(d).values()) == {new}
        n = d["metadata"]["name"]
        assert srv.unseal(d)[0] == {"a": f"{n}-a".encode(), "b": f"{n}-b".encode()}
    ok(coffer("seal", "--validate", "-f", sealed_file, env=env))
    assert [f.name for f in tmp_path.iterdir()] == ["sealed.json"]

    # --re-encrypt to -w in YAML, the input untouched
    p = ok(coffer("seal", "--rotate", "-f", sealed_file, "-w", tmp_path / "again.yaml", env=env))
    assert (tmp_path / "again.yaml").read_text().startswith("---\napiVersion: bitnami.com/v1alpha1\n")


def test_validate_reports_what_no_key_opens(srv, tmp_path):
    # sealed to a key the server does not have
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp_path / "k.pem",
                    "-out", tmp_path / "c.pem", "-days", "3", "-subj", "/CN=stranger"], check=True,
                   capture_output=True)
    stranger = ok(coffer("seal", "--cert", tmp_path / "c.pem", input=json.dumps(secret("s", {"x": "1"}))))
    good = ok(coffer("seal", input=json.dumps(secret("g", {"y": "2"})), env=srv.env))
    p = coffer("seal", "--validate", input=good.stdout + stranger.stdout, env=srv.env)
    assert p.returncode == 1, p.stderr
    assert p.stdout == "default/s: spec.encryptedData.x: no key of the server can decrypt it\n"
    # --re-encrypt of it fails as a whole: nothing written
    (tmp_path / "in.json").write_text(good.stdout + stranger.stdout)
    p = coffer("seal", "--re-encrypt", "-f", tmp_path / "in.json", "-w", tmp_path / "out.json", env=srv.env)
    assert p.returncode == 2 and p.stderr.startswith("coffer: seal: "), p.stderr
    assert not (tmp_path / "out.json").exists()
