"""Rotation of TLS certificates (docs/pki.md "Rotation of certificates",
docs/internals/rotation.md "The pki target"): the tls-certificate template and
the pki target against a real PKI mount. A new job issues at once and the KV
version holds a certificate that verifies; a certificate is renewed once when
it enters its renewal window and not before; renew_before >= ttl is refused;
compromise revokes and reissues; a restart in the middle of a renewal neither
loses nor doubles a certificate."""

import calendar
import json
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cofferlib import wait_until
from rotlib import Receiver, add_webhook, ok


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()

ROLE = {"allowed_domains": "example.com", "allow_subdomains": True, "allow_ip_sans": True,
        "key_type": "ec", "key_bits": 256, "max_ttl": "72h"}


def setup_pki(call, with_kv=False):
    if with_kv:
        ok(call("POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}))
    ok(call("POST", "/v1/sys/mounts/pki", {"type": "pki", "config": {"max_lease_ttl": "87600h"}}))
    ok(call("POST", "/v1/pki/root/generate/internal",
            {"common_name": "Rotation Test Root", "ttl": "8760h", "key_type": "ec"}))
    ok(call("POST", "/v1/pki/roles/web", ROLE))


def dev_call(dev):
    return lambda method, path, body=None: dev.raw(method, path, body)


def ca_pem(call):
    r = call("GET", "/v1/pki/ca/pem")
    assert r.status == 200, r.text
    return r.text


def kv(call, path, version=None):
    q = f"?version={version}" if version else ""
    return ok(call("GET", f"/v1/secret/data/{path}{q}"))["data"]


def openssl_verify(tmp_path, ca, leaf):
    (tmp_path / "ca.pem").write_text(ca)
    (tmp_path / "leaf.pem").write_text(leaf)
    return subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"),
                           str(tmp_path / "leaf.pem")], capture_output=True, text=True)


def job_body(**over):
    b = {"template": "tls-certificate", "mount": "pki", "role": "web",
         "common_name": "app.example.com", "alt_names": ["www.example.com"],
         "ip_sans": "127.0.0.1", "ttl": "1h", "renew_before": "10m", "path": "tls/app"}
    b.update(over)
    return b


def test_new_job_issues_at_once_and_the_kv_version_verifies(dev_server, tmp_path):
    call = dev_call(dev_server)
    setup_pki(call)
    st = ok(call("POST", "/v1/sys/rotation/jobs/app", job_body()))["data"]
    assert st["current_version"] == 1
    v = kv(call, "tls/app")
    data = v["data"]
    assert v["metadata"]["version"] == 1
    assert set(data) >= {"certificate", "private_key", "ca_chain", "expiration"}
    ca = ca_pem(call)
    r = openssl_verify(tmp_path, ca, data["certificate"])
    assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr
    assert data["ca_chain"].strip() == ca.strip()
    cert = x509.load_pem_x509_certificate(data["certificate"].encode())
    key = serialization.load_pem_private_key(data["private_key"].encode(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"app.example.com", "www.example.com"}
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert data["expiration"] == calendar.timegm(cert.not_valid_after.utctimetuple())
    assert abs(data["expiration"] - (time.time() + 3600)) < 120

    job = ok(call("GET", "/v1/sys/rotation/jobs/app"))["data"]
    assert job["target"] == "pki" and job["kv_mount"] == "secret/"
    assert job["state"] == "idle" and job["current_version"] == 1
    assert job["certificate"]["serial_number"] == data["serial_number"]
    # renewed renew_before (10 min) before expiry, not on a period
    nxt = job["next_rotation"]
    want = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(data["expiration"] - 600))
    assert nxt.startswith(want), (nxt, want)
    hist = ok(call("GET", "/v1/sys/rotation/jobs/app/history"))["data"]["rotations"]
    assert [(h["version"], h["outcome"]) for h in hist] == [(1, "success")]


def test_a_certificate_already_at_the_path_is_taken_over(dev_server):
    call = dev_call(dev_server)
    setup_pki(call)
    got = ok(call("POST", "/v1/pki/issue/web", {"common_name": "app.example.com", "ttl": "2h"}))
    cert = got["data"]
    ok(call("POST", "/v1/secret/data/tls/app",
            {"data": {"certificate": cert["certificate"], "private_key": cert["private_key"]}}))
    st = ok(call("POST", "/v1/sys/rotation/jobs/app", job_body(ttl="3h", renew_before="1h")))["data"]
    assert st["current_version"] == 1
    assert kv(call, "tls/app")["metadata"]["version"] == 1  # nothing issued
    job = ok(call("GET", "/v1/sys/rotation/jobs/app"))["data"]
    assert job["certificate"]["serial_number"] == cert["serial_number"]
    want = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(cert["expiration"] - 3600))
    assert job["next_rotation"].startswith(want), (job["next_rotation"], want)


def test_renewed_once_when_it_enters_its_window(dev_server, receiver):
    call = dev_call(dev_server)
    setup_pki(call)
    add_webhook(dev_server, receiver)
    ok(call("POST", "/v1/sys/rotation/jobs/short",
            job_body(path="tls/short", ttl="20s", renew_before="10s")))
    ok(call("POST", "/v1/sys/rotation/jobs/long",
            job_body(path="tls/long", common_name="long.example.com", ttl="1h",
                     renew_before="10s")))
    first = kv(call, "tls/short")["data"]
    long1 = kv(call, "tls/long")["data"]
    window = first["expiration"] - 10
    assert time.time() < window, "the first certificate must start outside its window"

    got = wait_until(lambda: kv(call, "tls/short")["metadata"]["version"] == 2 and
                     kv(call, "tls/short"), 30, what="the renewal in the window")
    renewed_at = time.time()
    assert renewed_at >= window - 1, "renewed before the certificate entered its window"
    second = got["data"]
    assert second["serial_number"] != first["serial_number"]
    assert second["expiration"] > first["expiration"]
    job = ok(call("GET", "/v1/sys/rotation/jobs/short"))["data"]
    # once: the next renewal waits for the new certificate's window
    assert job["current_version"] == 2
    if time.time() < second["expiration"] - 10:
        assert kv(call, "tls/short")["metadata"]["version"] == 2
        hist = ok(call("GET", "/v1/sys/rotation/jobs/short/history"))["data"]["rotations"]
        assert [h["version"] for h in hist] == [2, 1]
    # the previous certificate keeps its grace: not revoked, still readable
    assert kv(call, "tls/short", version=1)["data"]["serial_number"] == first["serial_number"]
    c1 = ok(call("GET", f"/v1/pki/cert/{first['serial_number']}"))["data"]
    assert not c1.get("revocation_time")
    # the renewal was announced like any rotation, without the key
    done = receiver.wait("rotation.completed", "short", pred=lambda e: e["version"] == 2)
    assert done[0]["previous_version"] == 1 and done[0]["path"] == "tls/short"
    assert receiver.of("rotation.started", "short")
    assert "PRIVATE KEY" not in json.dumps(receiver.of("rotation.completed"))
    # the job whose certificate is far from its window was not renewed
    assert kv(call, "tls/long")["metadata"]["version"] == 1
    assert kv(call, "tls/long")["data"]["serial_number"] == long1["serial_number"]
    hist = ok(call("GET", "/v1/sys/rotation/jobs/long/history"))["data"]["rotations"]
    assert len(hist) == 1


@pytest.mark.parametrize("over,needle", [
    ({"ttl": "1h", "renew_before": "1h"}, "renew_before (3600 s) must be shorter than ttl (3600 s)"),
    ({"ttl": "24h", "renew_before": None}, "renew_before (2592000 s) must be shorter than ttl"),
    ({"ttl": "10m", "renew_before": "2h"}, "must be shorter than ttl"),
])
def test_renew_before_at_least_ttl_is_refused(dev_server, over, needle):
    call = dev_call(dev_server)
    setup_pki(call)
    body = {k: v for k, v in job_body(**over).items() if v is not None}
    r = call("POST", "/v1/sys/rotation/jobs/bad", body)
    assert r.status == 400, r.text
    assert needle in " ".join(r.errors())
    assert call("GET", "/v1/sys/rotation/jobs/bad").status == 404
    assert call("GET", "/v1/secret/data/tls/app").status == 404  # nothing issued


def test_pki_job_errors(dev_server):
    call = dev_call(dev_server)
    setup_pki(call)
    for over, needle in (({"role": "nope"}, "not a PKI mount with a role nope"),
                         ({"mount": "secret"}, "is not a PKI mount"),
                         ({"kv_mount": "pki"}, "not a KV version 2 mount"),
                         ({"period": "1h"}, "do not apply"),
                         ({"grace": "1h"}, "grace does not apply")):
        r = call("POST", "/v1/sys/rotation/jobs/e", job_body(**over))
        assert r.status == 400 and needle in " ".join(r.errors()), (over, r.text)
    # a name the role does not allow: the job exists, its first issue failed
    r = call("POST", "/v1/sys/rotation/jobs/e", job_body(common_name="evil.test"))
    assert r.status >= 400
    assert call("GET", "/v1/secret/data/tls/app").status == 404


def test_compromise_revokes_and_reissues(dev_server, tmp_path, receiver):
    call = dev_call(dev_server)
    setup_pki(call)
    add_webhook(dev_server, receiver)
    ok(call("POST", "/v1/sys/rotation/jobs/app", job_body()))
    ok(call("POST", "/v1/sys/rotation/jobs/app/rotate", {"reason": "early"}))  # v2, v1 in grace
    v1 = kv(call, "tls/app", version=1)["data"]
    v2 = kv(call, "tls/app")["data"]
    job = ok(call("GET", "/v1/sys/rotation/jobs/app"))["data"]
    assert job["state"] == "grace" and job["previous_version"] == 1
    assert not ok(call("GET", f"/v1/pki/cert/{v1['serial_number']}"))["data"].get("revocation_time")

    r = ok(call("POST", "/v1/sys/rotation/jobs/app/compromise", {"reason": "key leaked"}))["data"]
    assert r["version"] == 3
    v3 = kv(call, "tls/app")["data"]
    assert v3["serial_number"] not in (v1["serial_number"], v2["serial_number"])
    assert openssl_verify(tmp_path, ca_pem(call), v3["certificate"]).returncode == 0
    # both certificates that existed are revoked, their keys destroyed
    for old in (v1, v2):
        c = ok(call("GET", f"/v1/pki/cert/{old['serial_number']}"))["data"]
        assert c.get("revocation_time", 0) > 0, c
    meta = ok(call("GET", "/v1/secret/metadata/tls/app"))["data"]
    assert meta["versions"]["1"]["destroyed"] and meta["versions"]["2"]["destroyed"]
    assert not meta["versions"]["3"]["destroyed"]
    job = ok(call("GET", "/v1/sys/rotation/jobs/app"))["data"]
    assert job["previous_version"] is None and job["current_version"] == 3
    assert job["certificate"]["serial_number"] == v3["serial_number"]
    ev = receiver.wait("secret.compromised", "app")[0]
    assert ev["severity"] == "critical" and ev["force"] is True and ev["version"] == 3
    # the CRL lists them
    crl = call("GET", "/v1/pki/crl/pem")
    if crl.status == 200:
        (tmp_path / "crl.pem").write_text(crl.text)
        out = subprocess.run(["openssl", "crl", "-in", str(tmp_path / "crl.pem"), "-noout",
                              "-text"], capture_output=True, text=True).stdout.lower()
        for old in (v1, v2):
            assert old["serial_number"].replace(":", "") in out.replace(":", "")


def certs_count(call):
    r = call("LIST", "/v1/pki/certs")
    return len(ok(r)["data"]["keys"]) if r.status == 200 else 0


@pytest.mark.parametrize("step", ["create", "set", "test", "finish"])
def test_restart_mid_renewal_neither_loses_nor_doubles(sqlite_server, step):
    srv = sqlite_server()
    root = srv.init_unseal()

    def call(method, path, body=None):
        return srv.raw(method, path, body, token=root)

    setup_pki(call, with_kv=True)
    ok(call("POST", "/v1/sys/rotation/jobs/app", job_body()))
    before = certs_count(call)
    v1 = kv(call, "tls/app")["data"]
    srv.stop()
    srv.extra_env["COFFER_ROTATION_CRASH_AFTER"] = step
    srv.start()
    srv.unseal(srv.keys[:3])
    try:
        status = call("POST", "/v1/sys/rotation/jobs/app/rotate", {"reason": "crash"}).status
    except Exception:  # the connection dies with the server
        status = None
    assert status is None or status >= 500, f"the server did not crash at {step}: {status}"
    wait_until(lambda: not srv.alive(), 10, what="server exit")
    assert srv.proc.returncode == 86
    del srv.extra_env["COFFER_ROTATION_CRASH_AFTER"]
    srv.start()
    srv.unseal(srv.keys[:3])

    def settled():
        st = ok(call("GET", "/v1/sys/rotation/jobs/app"))["data"]
        return st if st["state"] == "grace" and st["current_version"] == 2 else None

    st = wait_until(settled, 15, what=f"the renewal resumed after a crash at {step}")
    meta = ok(call("GET", "/v1/secret/metadata/tls/app"))["data"]
    assert meta["current_version"] == 2, "lost or doubled a KV version"
    v2 = kv(call, "tls/app")["data"]
    assert v2["serial_number"] != v1["serial_number"]
    assert st["certificate"]["serial_number"] == v2["serial_number"]
    key = serialization.load_pem_private_key(v2["private_key"].encode(), None)
    cert = x509.load_pem_x509_certificate(v2["certificate"].encode())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    # exactly one new certificate in the PKI's store
    assert certs_count(call) == before + 1
    hist = ok(call("GET", "/v1/sys/rotation/jobs/app/history"))["data"]["rotations"]
    assert [h["version"] for h in hist if h["outcome"] == "success"] == [2, 1]
    # the previous certificate is in its grace until it expires
    assert kv(call, "tls/app", version=1)["data"]["serial_number"] == v1["serial_number"]
    assert st["previous_version"] == 1
