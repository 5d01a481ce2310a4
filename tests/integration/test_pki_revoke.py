"""The pki engine's revocation: revoke, the CRL (DER, PEM, JSON), config/crl,
crl/rotate, certs/revoked, the OCSP responder (openssl ocsp and Python
cryptography as clients, GET and POST) and tidy / tidy-status, against the real
binary."""

import base64
import datetime
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtensionOID, NameOID

from cofferlib import raw_request, wait_until

MOUNT = "pki"


def utcnow():
    """Naive UTC, as Debian's cryptography (38) gives certificate and CRL times."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def ok(resp, status=200):
    assert resp.status == status, f"{resp.status}: {resp.body[:400]!r}"
    return resp


class Pki:
    """A pki mount with an EC root CA and a role "web" for *.example.com."""

    def __init__(self, server, token, tmp_path):
        self.server = server
        self.token = token
        self.tmp = tmp_path
        ok(self.raw("POST", "/v1/sys/mounts/pki", {"type": "pki", "config": {"max_lease_ttl": "87600h"}}), 204)
        data = ok(
            self.raw(
                "POST",
                "/v1/pki/root/generate/internal",
                {"common_name": "Revocation Test Root", "ttl": "8760h", "key_type": "ec", "key_bits": 256},
            )
        ).json()["data"]
        self.ca_pem = data["certificate"]
        self.ca = x509.load_pem_x509_certificate(self.ca_pem.encode())
        self.ca_file = tmp_path / "ca.pem"
        self.ca_file.write_text(self.ca_pem)
        role = self.raw(
            "POST",
            "/v1/pki/roles/web",
            {"allowed_domains": "example.com", "allow_subdomains": True, "max_ttl": "72h", "key_type": "ec", "key_bits": 256},
        )
        assert role.status in (200, 204), role.body

    @property
    def addr(self):
        return self.server.addr

    def raw(self, method, path, body=None, token="__root__", headers=None):
        if token == "__root__":
            token = self.token
        return raw_request(self.server.addr, method, path, body=body, token=token, headers=headers)

    def issue(self, cn, ttl="1h"):
        """A leaf through issue/web: (x509 certificate, serial "aa:bb:...", file path)."""
        data = ok(self.raw("POST", "/v1/pki/issue/web", {"common_name": cn, "ttl": ttl})).json()["data"]
        cert = x509.load_pem_x509_certificate(data["certificate"].encode())
        path = self.tmp / f"{cn}.pem"
        path.write_text(data["certificate"])
        assert int(data["serial_number"].replace(":", ""), 16) == cert.serial_number
        return cert, data["serial_number"], path

    def sign_intermediate(self, cn):
        """An intermediate CA certificate through root/sign-intermediate (a certificate
        the mount issued and stored, like a leaf)."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .sign(key, hashes.SHA256())
        )
        pem = csr.public_bytes(serialization.Encoding.PEM).decode()
        data = ok(
            self.raw("POST", "/v1/pki/root/sign-intermediate", {"csr": pem, "common_name": cn, "ttl": "24h"})
        ).json()["data"]
        cert = x509.load_pem_x509_certificate(data["certificate"].encode())
        path = self.tmp / f"{cn}.pem"
        path.write_text(data["certificate"])
        return cert, data["serial_number"], path

    def revoke(self, serial):
        return ok(self.raw("POST", "/v1/pki/revoke", {"serial_number": serial})).json()["data"]

    def crl(self):
        """The DER CRL, fetched without a token (as Vault: unauthenticated)."""
        resp = ok(raw_request(self.addr, "GET", "/v1/pki/crl"))
        assert resp.headers.get("content-type") == "application/pkix-crl"
        path = self.tmp / "crl.der"
        path.write_bytes(resp.body)
        return x509.load_der_x509_crl(resp.body), path

    def ocsp_cli(self, cert_path):
        """openssl ocsp against the responder: the status word it prints for the cert."""
        out = subprocess.run(
            [
                "openssl",
                "ocsp",
                "-issuer",
                str(self.ca_file),
                "-cert",
                str(cert_path),
                "-url",
                f"{self.addr}/v1/pki/ocsp",
                "-timeout",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert "Response verify OK" in out.stderr + out.stdout, out.stderr + out.stdout
        line = [ln for ln in out.stdout.splitlines() if ln.startswith(f"{cert_path}:")]
        assert line, out.stdout
        return line[0].split(":", 1)[1].strip()

    def ocsp_py(self, serial_int, issuer=None, method="GET"):
        """An OCSP request for a serial under issuer (default: the mount's CA) with
        cryptography; GET with the base64 request in the path, or POST. Returns the
        parsed OCSPResponse."""
        issuer = issuer or self.ca
        # a CertID is the issuer's name and key hashes and the serial: a
        # throwaway certificate carries the serial (cryptography 38 has no
        # add_certificate_by_hash)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serial carrier")])
        carrier = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer.subject)
            .public_key(key.public_key())
            .serial_number(serial_int)
            .not_valid_before(utcnow())
            .not_valid_after(utcnow() + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        req = ocsp.OCSPRequestBuilder().add_certificate(carrier, issuer, hashes.SHA1()).build()
        der = req.public_bytes(serialization.Encoding.DER)
        if method == "GET":
            b64 = base64.urlsafe_b64encode(der).decode()
            resp = ok(raw_request(self.addr, "GET", f"/v1/pki/ocsp/{b64}"))
        else:
            resp = ok(
                raw_request(
                    self.addr, "POST", "/v1/pki/ocsp", body=der, headers={"Content-Type": "application/ocsp-request"}
                )
            )
        assert resp.headers.get("content-type") == "application/ocsp-response"
        return ocsp.load_der_ocsp_response(resp.body)


@pytest.fixture
def pki(dev_server, tmp_path):
    return Pki(dev_server.server, dev_server.token, tmp_path)


def crl_serials(crl):
    return {r.serial_number for r in crl}


def crl_number(crl):
    return crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number


def openssl_crl_verify(pki, crl_path):
    out = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(crl_path), "-CAfile", str(pki.ca_file), "-noout", "-verify"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and "verify OK" in out.stdout + out.stderr, out.stdout + out.stderr


# ---------------------------------------------------------------------------
# revoke and the CRL


def test_revoke_puts_the_serial_on_a_signed_crl(pki):
    revoked, revoked_serial, _ = pki.issue("gone.example.com")
    kept, _, _ = pki.issue("kept.example.com")
    crl, path = pki.crl()
    openssl_crl_verify(pki, path)
    assert crl_serials(crl) == set()
    first_number = crl_number(crl)

    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    data = pki.revoke(revoked_serial)
    assert isinstance(data["revocation_time"], int)
    assert data["revocation_time"] >= int(before.timestamp())
    assert data["revocation_time_rfc3339"] == datetime.datetime.fromtimestamp(
        data["revocation_time"], datetime.timezone.utc
    ).strftime("%Y-%m-%dT%H:%M:%SZ")

    crl, path = pki.crl()
    openssl_crl_verify(pki, path)
    assert crl.is_signature_valid(pki.ca.public_key())
    assert crl.issuer == pki.ca.subject
    assert crl_serials(crl) == {revoked.serial_number}
    assert kept.serial_number not in crl_serials(crl)
    entry = crl.get_revoked_certificate_by_serial_number(revoked.serial_number)
    assert int(entry.revocation_date.replace(tzinfo=datetime.timezone.utc).timestamp()) == data["revocation_time"]
    now = utcnow()
    assert crl.next_update is not None
    # next_update = build time + the default expiry (72h)
    assert abs((crl.next_update - now) - datetime.timedelta(hours=72)) < datetime.timedelta(minutes=2)
    assert crl_number(crl) > first_number
    aki = crl.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    ski = pki.ca.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
    assert aki.key_identifier == ski.digest

    # PEM and JSON forms carry the same CRL; all without a token.
    pem = ok(raw_request(pki.addr, "GET", "/v1/pki/crl/pem"))
    assert pem.body.startswith(b"-----BEGIN X509 CRL-----")
    assert crl_serials(x509.load_pem_x509_crl(pem.body)) == {revoked.serial_number}
    js = ok(raw_request(pki.addr, "GET", "/v1/pki/cert/crl")).json()["data"]
    assert crl_serials(x509.load_pem_x509_crl(js["certificate"].encode())) == {revoked.serial_number}
    # hvac's read_crl reads crl/pem
    assert "BEGIN X509 CRL" in pki.server.client(pki.token).secrets.pki.read_crl()


def test_revoke_answers(pki):
    _, serial, _ = pki.issue("twice.example.com")
    first = pki.revoke(serial)
    # again (and in the '-' form): the first revocation time
    again = pki.revoke(serial.replace(":", "-"))
    assert again["revocation_time"] == first["revocation_time"]
    listed = ok(pki.raw("LIST", "/v1/pki/certs/revoked")).json()["data"]["keys"]
    assert listed == [serial]

    never = "7f:" + ":".join(["00"] * 18) + ":01"
    resp = pki.raw("POST", "/v1/pki/revoke", {"serial_number": never})
    assert resp.status == 400 and "not found" in resp.errors()[0]
    resp = pki.raw("POST", "/v1/pki/revoke", {"serial_number": "zz:zz"})
    assert resp.status == 400 and "serial_number" in resp.errors()[0]
    resp = pki.raw("POST", "/v1/pki/revoke", {})
    assert resp.status == 400
    ca_serial = format(pki.ca.serial_number, "x")
    ca_serial = ":".join(ca_serial.zfill(len(ca_serial) + len(ca_serial) % 2)[i : i + 2] for i in range(0, len(ca_serial) + len(ca_serial) % 2, 2))
    resp = pki.raw("POST", "/v1/pki/revoke", {"serial_number": ca_serial})
    assert resp.status == 400 and "CA" in resp.errors()[0]
    # revoke needs a token
    assert raw_request(pki.addr, "POST", "/v1/pki/revoke", {"serial_number": serial}).status in (400, 403)
    # the certificate itself may name what to revoke (hvac sends serial_number)
    cert, serial2, path = pki.issue("by-pem.example.com")
    data = ok(pki.raw("POST", "/v1/pki/revoke", {"certificate": path.read_text()})).json()["data"]
    assert data["revocation_time"] > 0
    assert cert.serial_number in crl_serials(pki.crl()[0])
    hv = pki.server.client(pki.token)
    _, serial3, _ = pki.issue("hvac.example.com")
    assert hv.secrets.pki.revoke_certificate(serial3, mount_point=MOUNT)["data"]["revocation_time"] > 0


def test_revoking_an_intermediate_lists_it(pki):
    cert, serial, path = pki.sign_intermediate("Revoked Intermediate")
    pki.revoke(serial)
    crl, crl_path = pki.crl()
    openssl_crl_verify(pki, crl_path)
    assert cert.serial_number in crl_serials(crl)
    assert pki.ocsp_cli(path) == "revoked"


def test_crl_rotate_and_config(pki):
    hv = pki.server.client(pki.token)
    conf = hv.secrets.pki.read_crl_configuration(mount_point=MOUNT)["data"]
    assert conf["expiry"] == "72h" and conf["disable"] is False
    assert conf["ocsp_disable"] is False and conf["auto_rebuild"] is False

    n1 = crl_number(pki.crl()[0])
    rot = hv.secrets.pki.rotate_crl(mount_point=MOUNT)
    assert rot["data"]["success"] is True
    crl = pki.crl()[0]
    assert crl_number(crl) == n1 + 1

    hv.secrets.pki.set_crl_configuration(expiry="1h", extra_params={"enable_delta": True}, mount_point=MOUNT)
    conf = hv.secrets.pki.read_crl_configuration(mount_point=MOUNT)["data"]
    assert conf["expiry"] == "1h" and conf["enable_delta"] is True
    crl = pki.crl()[0]
    now = utcnow()
    assert abs((crl.next_update - now) - datetime.timedelta(hours=1)) < datetime.timedelta(minutes=2)

    for bad in ({"expiry": "soon"}, {"expiry": "0"}, {"ocsp_expiry": "-1h"}, {"disable": "perhaps"}):
        resp = pki.raw("POST", "/v1/pki/config/crl", bad)
        assert resp.status == 400, bad
        assert list(bad)[0] in resp.errors()[0]
    assert hv.secrets.pki.read_crl_configuration(mount_point=MOUNT)["data"]["expiry"] == "1h"

    # disable: the CRL is signed but empty; OCSP still knows
    cert, serial, path = pki.issue("hidden.example.com")
    pki.revoke(serial)
    assert cert.serial_number in crl_serials(pki.crl()[0])
    hv.secrets.pki.set_crl_configuration(disable=True, mount_point=MOUNT)
    crl, crl_path = pki.crl()
    openssl_crl_verify(pki, crl_path)
    assert crl_serials(crl) == set()
    assert pki.ocsp_cli(path) == "revoked"
    hv.secrets.pki.set_crl_configuration(disable=False, mount_point=MOUNT)
    assert cert.serial_number in crl_serials(pki.crl()[0])

    # ocsp_disable: the responder answers "unauthorized"
    hv.secrets.pki.set_crl_configuration(extra_params={"ocsp_disable": True}, mount_point=MOUNT)
    assert pki.ocsp_py(cert.serial_number).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


# ---------------------------------------------------------------------------
# OCSP


def test_openssl_ocsp_says_good_then_revoked(pki):
    _, serial, path = pki.issue("ocsp.example.com")
    assert pki.ocsp_cli(path) == "good"
    pki.revoke(serial)
    assert pki.ocsp_cli(path) == "revoked"
    _, _, fresh = pki.issue("fresh.example.com")
    assert pki.ocsp_cli(fresh) == "good"


def test_ocsp_get_post_good_revoked_unknown(pki):
    cert, serial, _ = pki.issue("py.example.com")
    for method in ("GET", "POST"):
        resp = pki.ocsp_py(cert.serial_number, method=method)
        assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert resp.serial_number == cert.serial_number
        # signed by the issuer itself
        pki.ca.public_key().verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
        assert resp.next_update - resp.this_update == datetime.timedelta(hours=12)

    at = pki.revoke(serial)["revocation_time"]
    for method in ("GET", "POST"):
        resp = pki.ocsp_py(cert.serial_number, method=method)
        assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert int(resp.revocation_time.replace(tzinfo=datetime.timezone.utc).timestamp()) == at

    # a serial this mount never issued
    assert pki.ocsp_py(0x1234567890ABCDEF).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    # the right serial asked about under another issuer
    other_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else")])
    now = utcnow()
    other = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(other_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(other_key, hashes.SHA256())
    )
    resp = pki.ocsp_py(cert.serial_number, issuer=other)
    assert resp.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_bad_requests(pki):
    for body in (b"", b"\x30\x03\x02\x01", b"not DER at all"):
        resp = ok(
            raw_request(pki.addr, "POST", "/v1/pki/ocsp", body=body, headers={"Content-Type": "application/ocsp-request"})
        )
        assert ocsp.load_der_ocsp_response(resp.body).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    resp = ok(raw_request(pki.addr, "GET", "/v1/pki/ocsp/%21%21%21"))
    assert ocsp.load_der_ocsp_response(resp.body).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    # only an ocsp path takes a raw body: elsewhere it is parsed as JSON and refused
    resp = raw_request(
        pki.addr,
        "POST",
        "/v1/secret/data/ocsp-like",
        body=b"\x30\x03\x02\x01\x01",
        token=pki.token,
        headers={"Content-Type": "application/ocsp-request"},
    )
    assert resp.status == 400 and "JSON" in resp.errors()[0]
    assert raw_request(pki.addr, "GET", "/v1/secret/data/ocsp-like", token=pki.token).status == 404
    # a mount without a CA cannot sign: unauthorized
    ok(pki.raw("POST", "/v1/sys/mounts/pki2", {"type": "pki"}), 204)
    cert, _, _ = pki.issue("noca.example.com")
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, pki.ca, hashes.SHA1()).build()
    resp = ok(
        raw_request(
            pki.addr,
            "POST",
            "/v1/pki2/ocsp",
            body=req.public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request"},
        )
    )
    assert ocsp.load_der_ocsp_response(resp.body).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    # and its CRL cannot be built
    resp = raw_request(pki.addr, "GET", "/v1/pki2/crl")
    assert resp.status == 400 and "CA" in resp.errors()[0]


# ---------------------------------------------------------------------------
# tidy


def test_tidy_removes_expired_entries(pki):
    short, short_serial, _ = pki.issue("short.example.com", ttl="3s")
    short_revoked, short_revoked_serial, _ = pki.issue("short-revoked.example.com", ttl="3s")
    long, long_serial, _ = pki.issue("long.example.com", ttl="1h")
    long_revoked, long_revoked_serial, _ = pki.issue("long-revoked.example.com", ttl="1h")
    pki.revoke(short_revoked_serial)
    pki.revoke(long_revoked_serial)
    assert crl_serials(pki.crl()[0]) == {short_revoked.serial_number, long_revoked.serial_number}

    assert ok(pki.raw("GET", "/v1/pki/tidy-status")).json()["data"]["state"] == "Inactive"
    expiry = max(short.not_valid_after, short_revoked.not_valid_after)
    wait_until(
        lambda: utcnow() > expiry + datetime.timedelta(seconds=2.5),
        timeout=15,
        what="the short certificates to expire",
    )
    resp = pki.raw(
        "POST", "/v1/pki/tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": "1s"}
    )
    assert resp.status == 202, resp.body
    assert any("Tidy operation" in w for w in resp.json()["warnings"])

    def finished():
        st = ok(pki.raw("GET", "/v1/pki/tidy-status")).json()["data"]
        return st if st["state"] in ("Finished", "Error") else None

    st = wait_until(finished, timeout=30, what="tidy to finish")
    assert st["state"] == "Finished", st
    assert st["cert_store_deleted_count"] == 2
    assert st["revoked_cert_deleted_count"] == 1
    assert st["safety_buffer"] == 1 and st["tidy_cert_store"] is True

    certs = ok(pki.raw("LIST", "/v1/pki/certs")).json()["data"]["keys"]
    assert short_serial not in certs and short_revoked_serial not in certs
    assert long_serial in certs and long_revoked_serial in certs
    revoked = ok(pki.raw("LIST", "/v1/pki/certs/revoked")).json()["data"]["keys"]
    assert revoked == [long_revoked_serial]
    crl, path = pki.crl()
    openssl_crl_verify(pki, path)
    assert crl_serials(crl) == {long_revoked.serial_number}

    # hvac's call (no operation named) is accepted, as Vault
    assert pki.server.client(pki.token).secrets.pki.tidy(mount_point=MOUNT).status_code == 202


def test_tidy_keeps_entries_inside_the_safety_buffer(pki):
    cert, serial, _ = pki.issue("buffered.example.com", ttl="2s")
    pki.revoke(serial)
    wait_until(
        lambda: utcnow() > cert.not_valid_after + datetime.timedelta(seconds=1),
        timeout=15,
        what="the certificate to expire",
    )
    resp = pki.raw("POST", "/v1/pki/tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True})
    assert resp.status == 202
    st = wait_until(
        lambda: (lambda d: d if d["state"] != "Running" else None)(
            ok(pki.raw("GET", "/v1/pki/tidy-status")).json()["data"]
        ),
        timeout=30,
        what="tidy to finish",
    )
    assert st["state"] == "Finished" and st["safety_buffer"] == 72 * 3600
    assert st["cert_store_deleted_count"] == 0 and st["revoked_cert_deleted_count"] == 0
    assert cert.serial_number in crl_serials(pki.crl()[0])


# ---------------------------------------------------------------------------
# persistence


def test_crl_and_revocations_survive_a_restart(unsealed_sqlite, tmp_path):
    srv = unsealed_sqlite
    pki = Pki(srv, srv.root_token, tmp_path)
    cert, serial, path = pki.issue("restart.example.com")
    pki.revoke(serial)
    crl = pki.crl()[0]
    number = crl_number(crl)
    srv.restart()
    srv.unseal(srv.keys[:3])
    # the stored CRL is served as it was (same number), then a revoke rebuilds it
    crl2 = pki.crl()[0]
    assert crl_number(crl2) == number and crl_serials(crl2) == {cert.serial_number}
    assert pki.ocsp_cli(path) == "revoked"
    cert2, serial2, _ = pki.issue("restart2.example.com")
    pki.revoke(serial2)
    crl3 = pki.crl()[0]
    assert crl_serials(crl3) == {cert.serial_number, cert2.serial_number}
    assert crl_number(crl3) == number + 1
