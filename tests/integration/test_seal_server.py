"""The server's sealing keys and the sys/sealing/ API (docs/sealed-secrets.md).

Manifests are sealed here with an independent implementation of the Bitnami
scheme (kubeseal_ref.py, on Python's cryptography), to the certificate the
server hands out, and unsealed, re-sealed and audited by the server through
hvac and plain HTTP. Key generation is RSA: the module shares one dev server
whose keys are 2048 bits; one test checks that the default is 4096.
"""

import base64
import json
import os
import subprocess
import uuid

import hvac
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import kubeseal_ref
from cofferlib import CofferServer, make_client, raw_request, wait_until

# A server's RSA-4096 key generation may take several seconds on a busy machine.
KEYGEN_TIMEOUT = 120
LONG = 120


def secret(name, ns, items):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in items.items()},
    }


def seal(cert_pem, name, items, ns="default", scope="strict"):
    """A SealedSecret of items (bytes values) sealed to cert_pem by the reference
    implementation."""
    pub = kubeseal_ref.load_cert_public_key(cert_pem.encode())
    return kubeseal_ref.seal_secret(pub, secret(name, ns, items), scope=scope)


def api(srv, method, path, body=None, token=None, timeout=LONG):
    return raw_request(srv.addr, method, "/v1/" + path, body=body, token=token, timeout=timeout)


def ok(resp):
    assert resp.status == 200, resp
    return resp.json()


def first_error(resp):
    errs = resp.errors()
    assert errs, resp
    return errs[0]


class Srv:
    def __init__(self, server, token):
        self.server = server
        self.addr = server.addr
        self.token = token
        self.client = make_client(server.addr, token)
        self.client.adapter.timeout = LONG

    def call(self, method, path, body=None, token="__root__"):
        return api(self, method, path, body, self.token if token == "__root__" else token)

    def cert(self):
        r = api(self, "GET", "sys/sealing/cert")
        assert r.status == 200, r
        return r.text

    def keys(self):
        return self.client.read("sys/sealing/keys")["data"]

    def unseal(self, sealed, **extra):
        return self.client.write("sys/sealing/unseal", sealed_secret=sealed, **extra)["data"]

    def rotate(self):
        return ok(self.call("POST", "sys/sealing/rotate"))["data"]["key_id"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """One dev server for the module, its keys 2048 bits (made on first use)."""
    token = "root-" + os.urandom(8).hex()
    server = CofferServer(tmp_path_factory.mktemp("sealsrv"), ["--dev", f"--dev-root-token={token}"],
                          name="sealsrv")
    server.start()
    s = Srv(server, token)
    ok(s.call("POST", "sys/sealing/config", {"key_bits": 2048}))
    yield s
    server.kill9()


@pytest.fixture(autouse=True)
def _module_server_log(request):
    """Attach the module server's log to a failing test's report (conftest does it
    for the servers a test starts itself)."""
    if "srv" in request.fixturenames:
        request.node.__dict__.setdefault("_coffer_servers", []).append(
            request.getfixturevalue("srv").server)


def cert_id(srv, cert_pem):
    """The id of the key whose certificate is cert_pem (from sys/sealing/keys/:id)."""
    for kid in srv.keys()["keys"]:
        if ok(srv.call("GET", f"sys/sealing/keys/{kid}"))["data"]["certificate"] == cert_pem:
            return kid
    raise AssertionError("no key has this certificate")


# ---------------------------------------------------------------------------
# the certificate


def test_cert_is_unauthenticated_raw_pem_of_the_active_key(srv):
    r = requests.get(srv.addr + "/v1/sys/sealing/cert", timeout=LONG)  # no token
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-pem-file"
    assert r.text.startswith("-----BEGIN CERTIFICATE-----")
    cert = x509.load_pem_x509_certificate(r.content)
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    assert cert.public_key().key_size == 2048  # the module's config
    keys = srv.keys()
    active = keys["active_key"]
    assert active in keys["keys"]
    assert srv.client.list("sys/sealing/keys")["data"]["keys"] == keys["keys"]
    info = keys["key_info"][active]
    assert info["state"] == "active" and info["source"] == "generated" and info["bits"] == 2048
    one = ok(srv.call("GET", f"sys/sealing/keys/{active}"))["data"]
    assert one["certificate"] == r.text
    assert "private_key" not in json.dumps(one)


# ---------------------------------------------------------------------------
# rotate, reseal, compromise, audit


def test_rotate_reseal_compromise_audit(srv):
    old = srv.rotate()
    old_cert = srv.cert()
    a = seal(old_cert, "db", {"password": b"pw-a", "user": b"app"})
    b = seal(old_cert, "api", {"token": b"tok-b"}, ns="prod")
    b_before = b["spec"]["encryptedData"]["token"]

    new = srv.rotate()
    assert new != old
    keys = srv.keys()
    assert keys["active_key"] == new
    assert {old, new} <= set(keys["keys"])
    assert keys["key_info"][old]["state"] == "retired"
    assert srv.cert() != old_cert

    # Old files still unseal, with the old key.
    out = srv.unseal(a)
    assert out["key_ids"] == {"password": old, "user": old}
    assert base64.b64decode(out["secret"]["data"]["password"]) == b"pw-a"
    assert out["secret"]["metadata"]["name"] == "db"

    # Reseal moves b to the new key.
    res = srv.client.write("sys/sealing/reseal", sealed_secret=b)["data"]
    assert res["key_id"] == new
    b2 = res["sealed_secret"]
    assert b2["spec"]["encryptedData"]["token"] != b_before
    assert srv.unseal(b2)["key_ids"] == {"token": new}

    # The old key is compromised: audit names every file still sealed with it.
    ok(srv.call("POST", f"sys/sealing/keys/{old}/compromised"))
    assert srv.keys()["key_info"][old]["state"] == "compromised"
    assert srv.keys()["active_key"] == new
    rep = srv.client.write("sys/sealing/audit", sealed_secrets=[a, b, b2])["data"]
    assert rep["compromised"] == ["default/db", "prod/api"]
    assert rep["undecryptable"] == [] and rep["retired"] == []
    first = rep["results"][0]
    assert first["name"] == "db" and first["namespace"] == "default" and first["scope"] == "strict"
    assert first["items"]["password"] == {"key_id": old, "state": "compromised"}
    assert rep["results"][2]["items"]["token"] == {"key_id": new, "state": "active"}
    assert "pw-a" not in json.dumps(rep)

    # Unseal refuses what only the compromised key opens, unless allowed.
    r = srv.call("POST", "sys/sealing/unseal", {"sealed_secret": a})
    assert r.status == 400, r
    msg = first_error(r)
    assert old in msg and "compromised" in msg and msg.startswith("sealed_secret: spec.encryptedData.")
    out = srv.unseal(a, allow_compromised=True)
    assert base64.b64decode(out["secret"]["data"]["user"]) == b"app"

    # Reseal accepts it, with a warning naming the key.
    r = ok(srv.call("POST", "sys/sealing/reseal", {"sealed_secret": a}))
    assert r["data"]["key_id"] == new
    assert r["warnings"] and any(old in w for w in r["warnings"])
    assert srv.unseal(r["data"]["sealed_secret"])["key_ids"] == {"password": new, "user": new}


def test_compromising_the_active_key_makes_a_new_one(srv):
    active = srv.rotate()
    ok(srv.call("POST", f"sys/sealing/keys/{active}/compromised"))
    keys = srv.keys()
    assert keys["active_key"] != active
    assert keys["key_info"][active]["state"] == "compromised"
    assert cert_id(srv, srv.cert()) == keys["active_key"]
    r = srv.call("POST", "sys/sealing/keys/0123456789abcdef/compromised")
    assert r.status == 404, r


def test_unseal_scopes_and_cluster_wide(srv):
    cert = srv.cert()
    cw = seal(cert, "shared", {"k": b"v"}, scope="cluster-wide")
    out = srv.unseal(cw)
    assert base64.b64decode(out["secret"]["data"]["k"]) == b"v"
    # A strict value renamed does not open: the error names the item.
    moved = seal(cert, "one", {"k": b"v"})
    moved["metadata"]["name"] = "other"
    r = srv.call("POST", "sys/sealing/unseal", {"sealed_secret": moved})
    assert r.status == 400, r
    assert first_error(r).startswith("sealed_secret: spec.encryptedData.k")


# ---------------------------------------------------------------------------
# import


def openssl_pair(tmp_path, bits, name):
    """A PKCS#1 key and a self-signed certificate made with openssl, as an existing
    Bitnami controller's sealed-secrets-key Secret holds them."""
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), str(bits)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-out", str(crt),
                    "-days", "3650", "-subj", "/CN=sealed-secret"], check=True, capture_output=True)
    return key.read_text(), crt.read_text()


def test_import_a_controller_key_pair(srv, tmp_path):
    key_pem, crt_pem = openssl_pair(tmp_path, 2048, "controller")
    assert key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    sealed = seal(crt_pem, "legacy", {"password": b"from-the-cluster"})
    r = srv.call("POST", "sys/sealing/unseal", {"sealed_secret": sealed})
    assert r.status == 400, r  # no key opens it yet
    active = srv.keys()["active_key"]

    d = ok(srv.call("POST", "sys/sealing/keys/import",
                    {"private_key": key_pem, "certificate": crt_pem}))["data"]
    kid = d["key_id"]
    assert d["source"] == "imported" and d["state"] == "retired" and d["bits"] == 2048
    assert srv.keys()["active_key"] == active  # active: false by default
    out = srv.unseal(sealed)
    assert out["key_ids"] == {"password": kid}
    assert base64.b64decode(out["secret"]["data"]["password"]) == b"from-the-cluster"
    # The Secret is the one the reference makes with the private key itself.
    priv = kubeseal_ref.load_private_key(key_pem.encode())
    assert out["secret"] == kubeseal_ref.unseal_manifest([priv], sealed)

    r = srv.call("POST", "sys/sealing/keys/import", {"private_key": key_pem, "certificate": crt_pem})
    assert r.status == 400 and "already present" in first_error(r), r


def test_import_active_becomes_the_sealing_key(srv, tmp_path):
    key_pem, crt_pem = openssl_pair(tmp_path, 2048, "active")
    d = ok(srv.call("POST", "sys/sealing/keys/import",
                    {"private_key": key_pem, "certificate": crt_pem, "active": True}))["data"]
    assert srv.keys()["active_key"] == d["key_id"]
    served = x509.load_pem_x509_certificate(srv.cert().encode())
    mine = x509.load_pem_x509_certificate(crt_pem.encode())
    assert served.public_key().public_numbers() == mine.public_key().public_numbers()
    srv.rotate()  # leave a generated key active for the other tests


def test_import_a_pkcs8_key(srv, tmp_path):
    key, crt = tmp_path / "p8.key", tmp_path / "p8.crt"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-out", str(crt),
                    "-days", "30", "-subj", "/CN=p8"], check=True, capture_output=True)
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    d = ok(srv.call("POST", "sys/sealing/keys/import",
                    {"private_key": key.read_text(), "certificate": crt.read_text()}))["data"]
    sealed = seal(crt.read_text(), "p8", {"k": b"pkcs8"})
    assert srv.unseal(sealed)["key_ids"] == {"k": d["key_id"]}


def test_import_refuses_bad_pairs(srv, tmp_path):
    key_a, crt_a = openssl_pair(tmp_path, 2048, "a")
    key_b, _ = openssl_pair(tmp_path, 2048, "b")
    small_key, _ = openssl_pair(tmp_path, 1024, "small")
    before = srv.keys()["keys"]
    cases = [
        ({"private_key": small_key, "certificate": crt_a}, "private_key: "),
        ({"private_key": key_b, "certificate": crt_a}, "certificate: "),
        ({"private_key": "not a key", "certificate": crt_a}, "private_key: "),
        ({"private_key": key_a, "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n"}, "certificate: "),
        ({"certificate": crt_a}, "missing private_key"),
    ]
    for body, prefix in cases:
        r = srv.call("POST", "sys/sealing/keys/import", body)
        assert r.status == 400, (body.keys(), r)
        assert first_error(r).startswith(prefix), r
        for pem in (key_a, key_b, small_key):
            assert pem.splitlines()[1] not in r.text  # no key material echoed
    assert srv.keys()["keys"] == before


# ---------------------------------------------------------------------------
# policy


def test_unseal_needs_update_on_its_path(srv):
    cert = srv.cert()
    sealed = seal(cert, "ci", {"k": b"ci-value"})
    srv.client.sys.create_or_update_policy(
        "sealer", 'path "sys/sealing/unseal" { capabilities = ["update"] }')
    plain = srv.client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    sealer = srv.client.auth.token.create(policies=["sealer"], ttl="1h")["auth"]["client_token"]

    r = api(srv, "POST", "sys/sealing/unseal", {"sealed_secret": sealed}, token=plain)
    assert r.status == 403, r
    r = api(srv, "POST", "sys/sealing/unseal", {"sealed_secret": sealed}, token=sealer)
    assert r.status == 200, r
    assert base64.b64decode(r.json()["data"]["secret"]["data"]["k"]) == b"ci-value"
    # update is not sudo: rotating and importing stay out of reach.
    assert api(srv, "POST", "sys/sealing/rotate", token=sealer).status == 403
    assert api(srv, "POST", "sys/sealing/reseal", {"sealed_secret": sealed}, token=sealer).status == 403
    assert api(srv, "GET", "sys/sealing/keys", token=sealer).status == 403
    # hvac sees the same refusal.
    with pytest.raises(hvac.exceptions.Forbidden):
        make_client(srv.addr, plain).write("sys/sealing/unseal", sealed_secret=sealed)


# ---------------------------------------------------------------------------
# bad input


def test_bad_input_names_the_field(srv):
    cert = srv.cert()
    good = seal(cert, "app", {"password": b"s3cret"})
    tampered = json.loads(json.dumps(good))
    raw = bytearray(base64.b64decode(tampered["spec"]["encryptedData"]["password"]))
    raw[-1] ^= 1
    tampered["spec"]["encryptedData"]["password"] = base64.b64encode(bytes(raw)).decode()
    truncated = json.loads(json.dumps(good))
    truncated["spec"]["encryptedData"]["password"] = base64.b64encode(raw[:40]).decode()
    bad_b64 = json.loads(json.dumps(good))
    bad_b64["spec"]["encryptedData"]["password"] = "%%%not base64%%%"

    cases = [
        ({"sealed_secret": secret("app", "default", {"a": b"b"})}, "sealed_secret: "),
        ({"sealed_secret": tampered}, "sealed_secret: spec.encryptedData.password"),
        ({"sealed_secret": truncated}, "sealed_secret: spec.encryptedData.password"),
        ({"sealed_secret": bad_b64}, "sealed_secret: spec.encryptedData.password"),
        ({"sealed_secret": "not an object"}, "invalid value for sealed_secret"),
        ({}, "missing sealed_secret"),
    ]
    for path in ("sys/sealing/unseal", "sys/sealing/reseal"):
        for body, prefix in cases:
            r = srv.call("POST", path, body)
            assert r.status == 400, (path, prefix, r)
            assert first_error(r).startswith(prefix), (path, r)
            assert "s3cret" not in r.text
    r = srv.call("POST", "sys/sealing/audit", {"sealed_secrets": [good, {"kind": "Secret"}]})
    assert r.status == 400 and first_error(r).startswith("sealed_secrets[1]: "), r
    r = srv.call("POST", "sys/sealing/audit", {"sealed_secrets": {"a": 1}})
    assert r.status == 400 and "sealed_secrets" in first_error(r), r
    for body, field in (({"key_bits": 1024}, "key_bits"), ({"renew_period": "soon"}, "renew_period"),
                        ({"common_name": "x" * 65}, "common_name")):
        r = srv.call("POST", "sys/sealing/config", body)
        assert r.status == 400 and field in first_error(r), r
    assert ok(srv.call("GET", "sys/sealing/config"))["data"]["key_bits"] == 2048


# ---------------------------------------------------------------------------
# the audit log


def test_audit_log_never_holds_a_sealed_value(srv, tmp_path):
    log = tmp_path / "audit.log"
    srv.client.sys.enable_audit_device("file", options={"file_path": str(log)}, path="sealaudit")
    try:
        planted = "planted-" + uuid.uuid4().hex
        sealed = seal(srv.cert(), "audited", {"password": planted.encode()})
        out = srv.unseal(sealed)
        assert base64.b64decode(out["secret"]["data"]["password"]).decode() == planted
        srv.client.write("sys/sealing/reseal", sealed_secret=sealed)
        srv.client.write("sys/sealing/audit", sealed_secrets=[sealed])
        text = log.read_text()
        assert "sys/sealing/unseal" in text and "sys/sealing/reseal" in text
        assert planted not in text
        assert base64.b64encode(planted.encode()).decode() not in text
        assert sealed["spec"]["encryptedData"]["password"] not in text
    finally:
        srv.client.sys.disable_audit_device("sealaudit")


# ---------------------------------------------------------------------------
# lifecycle on a real server: first key after init, 4096 bits, 503 while sealed and
# while the key is made, restart and seal/unseal keep the keys


def test_first_key_after_init_restart_and_seal_cycle(server_factory, tmp_path):
    db = tmp_path / "coffer.db"
    server = server_factory([f"--storage=sqlite:{db}"], name="sqlite", ready="any",
                            extra_env={"COFFER_SEALING_TEST_WAIT_MS": "0"})
    r = api(server, "GET", "sys/sealing/cert")
    assert r.status == 503, r  # sealed (not even initialized)
    server.init_unseal()
    root = server.root_token
    # Nobody asks for it: the key is made in the background after init; a request
    # that needs it meanwhile gets 503 at once (the wait is 0 here).
    r = api(server, "GET", "sys/sealing/cert")
    assert r.status == 503, r  # RSA-4096 takes far longer than one request
    assert first_error(r) == "the sealing key is being generated, retry"
    # A seal does not wait for the generation: the key being made is dropped,
    # and the next unseal makes one again.
    make_client(server.addr, root).sys.seal()
    server.unseal(server.keys[:3])
    pem = wait_until(lambda: (lambda x: x.status == 200 and x.text)(api(server, "GET", "sys/sealing/cert")),
                     KEYGEN_TIMEOUT, interval=0.2, what="the first sealing key")
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.public_key().key_size == 4096  # the default
    assert cert.not_valid_after.year - cert.not_valid_before.year == 10

    s = Srv(server, root)
    keys = s.keys()
    assert len(keys["keys"]) == 1
    sealed = seal(pem, "db", {"password": b"kept"})
    assert base64.b64decode(s.unseal(sealed)["secret"]["data"]["password"]) == b"kept"

    # seal / unseal
    s.client.sys.seal()
    for path in ("sys/sealing/cert", "sys/sealing/keys"):
        assert api(server, "GET", path, token=root).status == 503
    r = api(server, "POST", "sys/sealing/unseal", {"sealed_secret": sealed}, token=root)
    assert r.status == 503, r
    server.unseal(server.keys[:3])
    assert s.keys() == keys
    assert api(server, "GET", "sys/sealing/cert").text == pem

    # restart on the same file
    server.restart()
    server.unseal(server.keys[:3])
    s = Srv(server, root)
    assert s.keys() == keys
    assert api(server, "GET", "sys/sealing/cert").text == pem
    assert base64.b64decode(s.unseal(sealed)["secret"]["data"]["password"]) == b"kept"
    # The private key is stored through the barrier, never in the clear.
    assert b"PRIVATE KEY" not in db.read_bytes()


def test_renewal_makes_a_new_key(server_factory):
    token = "root-" + os.urandom(8).hex()
    server = server_factory(["--dev", f"--dev-root-token={token}"], name="renew")
    s = Srv(server, token)
    ok(s.call("POST", "sys/sealing/config", {"key_bits": 2048}))
    assert s.keys()["keys"] == []  # a dev server makes its first key on first use
    first = cert_id(s, s.cert())
    assert s.keys()["keys"] == [first]
    ok(s.call("POST", "sys/sealing/config", {"renew_period": "2s"}))
    assert ok(s.call("GET", "sys/sealing/config"))["data"]["renew_period"] == 2
    renewed = wait_until(lambda: (lambda k: k["active_key"] != first and k)(s.keys()),
                         LONG, interval=0.2, what="a renewed sealing key")
    assert renewed["key_info"][first]["state"] == "retired"
    ok(s.call("POST", "sys/sealing/config", {"renew_period": "0"}))
