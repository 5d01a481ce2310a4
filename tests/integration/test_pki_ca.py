"""PKI engine, the CA part (Vault's PKI API): root and intermediate CAs through
hvac 0.11.2's secrets.pki calls, checked by parsing the certificates with
python3-cryptography and by `openssl verify`; config/ca imports, config/urls in
the certificates, the raw DER/PEM reads, DELETE root, sign-self-issued, the
refusals (400 naming the field) and the CA key kept only through the barrier."""

import base64
import datetime
import subprocess
import threading

import hvac.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from cofferlib import make_client

LONG = "87600h"


def enable_pki(client, path="pki", max_ttl=LONG):
    client.sys.enable_secrets_engine("pki", path=path, config={"max_lease_ttl": max_ttl})


def load_cert(pem):
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def pki_error(excinfo):
    return " ".join(excinfo.value.errors or [str(excinfo.value)])


def make_root(client, path="pki", **params):
    params.setdefault("ttl", "8760h")
    params.setdefault("key_type", "ec")
    return client.secrets.pki.generate_root("internal", params.pop("common_name", "Example Root CA"),
                                            extra_params=params, mount_point=path)


def make_intermediate(client, root="pki", path="pki_int", sign_params=None, gen_params=None):
    enable_pki(client, path)
    gen = client.secrets.pki.generate_intermediate(
        "internal", "Example Intermediate CA", extra_params=dict(gen_params or {"key_type": "ec"}),
        mount_point=path)
    csr = gen["data"]["csr"]
    signed = client.secrets.pki.sign_intermediate(
        csr, "Example Intermediate CA", extra_params=dict(sign_params or {"ttl": "4380h"}),
        mount_point=root)
    client.secrets.pki.set_signed_intermediate(signed["data"]["certificate"], mount_point=path)
    return gen, signed


def verify(tmp_path, root_pem, cert_pem, untrusted=None):
    (tmp_path / "root.pem").write_text(root_pem.strip() + "\n")
    (tmp_path / "cert.pem").write_text(cert_pem.strip() + "\n")
    cmd = ["openssl", "verify", "-CAfile", str(tmp_path / "root.pem")]
    if untrusted:
        (tmp_path / "untrusted.pem").write_text(untrusted.strip() + "\n")
        cmd += ["-untrusted", str(tmp_path / "untrusted.pem")]
    return subprocess.run(cmd + [str(tmp_path / "cert.pem")], capture_output=True, text=True)


# ---------------------------------------------------------------------------
# root


def test_pki_mount_is_listed(dev_server):
    c = dev_server.client
    enable_pki(c)
    mounts = c.sys.list_mounted_secrets_engines()["data"]
    assert mounts["pki/"]["type"] == "pki"


def test_root_generate_internal(dev_server):
    c = dev_server.client
    enable_pki(c)
    before = datetime.datetime.utcnow()
    resp = make_root(c, common_name="Example Root CA", ttl="8760h", max_path_length=2,
                     organization="Example Org", ou="Security,PKI", country="DE")
    data = resp["data"]
    assert "private_key" not in data and "private_key_type" not in data
    cert = load_cert(data["certificate"])
    assert data["issuing_ca"] == data["certificate"]
    # serial_number is the certificate's serial in Vault's "xx:xx" form
    assert data["serial_number"] == ":".join("%02x" % b for b in cert.serial_number.to_bytes(20, "big"))
    assert data["expiration"] == int(cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp())
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 2
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    subj = cert.subject
    assert subj.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Example Root CA"
    assert subj.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example Org"
    assert sorted(a.value for a in subj.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)) == ["PKI", "Security"]
    assert cert.issuer == cert.subject
    # validity: backdated 30s, one year long
    assert before - datetime.timedelta(seconds=40) <= cert.not_valid_before <= before
    life = cert.not_valid_after - cert.not_valid_before
    assert abs(life.total_seconds() - (8760 * 3600 + 30)) < 5
    skid = ext(cert, x509.SubjectKeyIdentifier).value.digest
    akid = ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
    assert skid == akid == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    # a "Example Root CA" common name is no host name: no SAN for it
    with pytest.raises(x509.ExtensionNotFound):
        ext(cert, x509.SubjectAlternativeName)

    # hvac's reads, and the raw answers as Vault gives them (no token needed)
    assert load_cert(c.secrets.pki.read_ca_certificate()) == cert
    r = dev_server.raw("GET", "/v1/pki/ca/pem", token=None)
    assert r.status == 200 and r.headers.get("content-type") == "application/pem-file"
    assert load_cert(r.body) == cert
    r = dev_server.raw("GET", "/v1/pki/ca", token=None)
    assert r.status == 200 and r.headers.get("content-type") == "application/pkix-cert"
    assert x509.load_der_x509_certificate(r.body) == cert
    r = dev_server.raw("GET", "/v1/pki/cert/ca", token=None)
    assert load_cert(r.json()["data"]["certificate"]) == cert
    assert r.json()["data"]["revocation_time"] == 0
    # a root's chain is itself
    chain = c.secrets.pki.read_ca_certificate_chain()
    assert load_cert(chain) == cert


def test_root_generate_exported_returns_key_once(dev_server):
    c = dev_server.client
    enable_pki(c)
    resp = c.secrets.pki.generate_root("exported", "Exported Root", extra_params={"key_type": "rsa"},
                                       mount_point="pki")
    data = resp["data"]
    assert data["private_key_type"] == "rsa"
    assert data["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1, Vault's default
    key = serialization.load_pem_private_key(data["private_key"].encode(), None)
    cert = load_cert(data["certificate"])
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert key.key_size == 2048
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                             cert.signature_hash_algorithm)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    # nothing else ever shows the key
    for path in ("/v1/pki/ca/pem", "/v1/pki/ca", "/v1/pki/cert/ca", "/v1/pki/ca_chain",
                 "/v1/pki/cert/ca_chain", "/v1/pki/config/urls"):
        body = dev_server.raw("GET", path).body
        assert b"PRIVATE KEY" not in body, path
    # a second root over the first is refused with Vault's warning, and changes nothing
    again = c.secrets.pki.generate_root("exported", "Another", mount_point="pki")
    assert not again.get("data")
    assert "existing" in " ".join(again["warnings"])
    assert load_cert(c.secrets.pki.read_ca_certificate()) == cert


def test_root_generate_formats(dev_server):
    c = dev_server.client
    enable_pki(c)
    enable_pki(c, "pki2")
    enable_pki(c, "pki3")
    der = c.secrets.pki.generate_root("exported", "der.example.com",
                                      extra_params={"format": "der", "key_type": "ec",
                                                    "private_key_format": "pkcs8"},
                                      mount_point="pki")["data"]
    cert = x509.load_der_x509_certificate(base64.b64decode(der["certificate"]))
    key = serialization.load_der_private_key(base64.b64decode(der["private_key"]), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    # a host-name common name is also a DNS SAN (unless excluded)
    assert ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["der.example.com"]

    bundle = c.secrets.pki.generate_root("exported", "bundle.example.com",
                                         extra_params={"format": "pem_bundle", "key_type": "ed25519",
                                                       "exclude_cn_from_sans": True,
                                                       "alt_names": "ca.example.com,admin@example.com",
                                                       "ip_sans": "127.0.0.1"},
                                         mount_point="pki2")["data"]
    assert bundle["private_key_type"] == "ed25519"
    assert bundle["certificate"].startswith("-----BEGIN PRIVATE KEY-----")
    assert bundle["certificate"].endswith(bundle["issuing_ca"])
    cert = load_cert(bundle["issuing_ca"])
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["ca.example.com"]
    assert san.get_values_for_type(x509.RFC822Name) == ["admin@example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

    # ttl above the mount's max is lowered to it, with Vault's warning
    c.sys.tune_mount_configuration("pki3", max_lease_ttl="100h")
    resp = c.secrets.pki.generate_root("internal", "short", extra_params={"ttl": "1000h", "key_type": "ec"},
                                       mount_point="pki3")
    assert "maxTTL" in " ".join(resp["warnings"])
    cert = load_cert(resp["data"]["certificate"])
    assert abs((cert.not_valid_after - cert.not_valid_before).total_seconds() - (100 * 3600 + 30)) < 5


@pytest.mark.parametrize("params,field", [
    ({"key_type": "dsa"}, "key_type"),
    ({"key_type": "any"}, "key_type"),
    ({"key_type": "rsa", "key_bits": 1024}, "RSA"),
    ({"key_type": "ec", "key_bits": 255}, "EC"),
    ({"key_type": "rsa", "key_bits": 4294969344}, "key_bits"),
    ({"max_path_length": 4294967296}, "max_path_length"),
    ({"format": "p12"}, "format"),
    ({"private_key_format": "pfx"}, "private_key_format"),
    ({"ttl": "forever"}, "ttl"),
    ({"not_after": "next tuesday"}, "not_after"),
    ({"signature_bits": 128}, "signature_bits"),
    ({"ip_sans": "999.1.1.1"}, "999.1.1.1"),
    ({"other_sans": "nonsense"}, "other_sans"),
])
def test_root_generate_refusals(dev_server, params, field):
    c = dev_server.client
    enable_pki(c)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.generate_root("internal", "x.example.com", extra_params=params)
    assert field in pki_error(ei)
    # nothing was created
    r = dev_server.raw("GET", "/v1/pki/ca/pem")
    assert r.status == 400 and "no CA" in r.text


def test_concurrent_root_generation_has_one_winner(dev_server):
    c = dev_server.client
    enable_pki(c)
    results = []

    def gen(i):
        client = make_client(dev_server.addr, dev_server.token)
        results.append(client.secrets.pki.generate_root("internal", f"root-{i}", extra_params={"key_type": "ec"}))

    threads = [threading.Thread(target=gen, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r["data"]["certificate"] for r in results if r.get("data")]
    assert len(results) == 6 and len(winners) == 1
    assert load_cert(c.secrets.pki.read_ca_certificate()) == load_cert(winners[0])


def test_root_generate_needs_common_name_and_known_type(dev_server):
    enable_pki(dev_server.client)
    r = dev_server.raw("POST", "/v1/pki/root/generate/internal", {"key_type": "ec"})
    assert r.status == 400 and "common_name" in r.text
    r = dev_server.raw("POST", "/v1/pki/root/generate/kms", {"common_name": "x"})
    assert r.status == 400 and "internal or exported" in r.text


# ---------------------------------------------------------------------------
# root -> intermediate


def test_root_to_intermediate(dev_server, tmp_path):
    c = dev_server.client
    enable_pki(c)
    base = "http://127.0.0.1:8200/v1/pki"
    c.secrets.pki.set_urls({"issuing_certificates": f"{base}/ca",
                            "crl_distribution_points": [f"{base}/crl"],
                            "ocsp_servers": f"{base}/ocsp"})
    urls = c.secrets.pki.read_urls()["data"]
    assert urls == {"issuing_certificates": [f"{base}/ca"], "crl_distribution_points": [f"{base}/crl"],
                    "ocsp_servers": [f"{base}/ocsp"]}
    root = load_cert(make_root(c, key_type="rsa", max_path_length=3)["data"]["certificate"])

    enable_pki(c, "pki_int")
    gen = c.secrets.pki.generate_intermediate("internal", "Example Intermediate CA",
                                              extra_params={"key_type": "ec", "organization": "Example Org",
                                                            "add_basic_constraints": True},
                                              mount_point="pki_int")["data"]
    assert set(gen) == {"csr"}
    csr = x509.load_pem_x509_csr(gen["csr"].encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Example Intermediate CA"
    assert csr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # before set-signed the intermediate mount has no CA
    assert dev_server.raw("GET", "/v1/pki_int/ca/pem").status == 400

    signed = c.secrets.pki.sign_intermediate(gen["csr"], "Example Intermediate CA",
                                             extra_params={"ttl": "4380h", "permitted_dns_domains": "example.com",
                                                           "organization": "Example Org"},
                                             mount_point="pki")["data"]
    inter = load_cert(signed["certificate"])
    assert load_cert(signed["issuing_ca"]) == root
    assert [load_cert(p) for p in signed["ca_chain"]] == [root]
    assert inter.public_key().public_numbers() == csr.public_key().public_numbers()
    assert inter.issuer == root.subject
    bc = ext(inter, x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 2  # below the root's 3
    ku = ext(inter, x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert ext(inter, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(root, x509.SubjectKeyIdentifier).value.digest
    assert ext(inter, x509.NameConstraints).value.permitted_subtrees == [x509.DNSName("example.com")]
    aia = ext(inter, x509.AuthorityInformationAccess).value
    assert {(d.access_method._name, d.access_location.value) for d in aia} == {
        ("OCSP", f"{base}/ocsp"), ("caIssuers", f"{base}/ca")}
    cdp = ext(inter, x509.CRLDistributionPoints).value
    assert [n.value for n in cdp[0].full_name] == [f"{base}/crl"]
    assert abs((inter.not_valid_after - inter.not_valid_before).total_seconds() - (4380 * 3600 + 30)) < 5

    v = verify(tmp_path, c.secrets.pki.read_ca_certificate(), signed["certificate"])
    assert v.returncode == 0, v.stdout + v.stderr

    c.secrets.pki.set_signed_intermediate(signed["certificate"], mount_point="pki_int")
    assert load_cert(c.secrets.pki.read_ca_certificate(mount_point="pki_int")) == inter
    # the pending key is now the intermediate's: it signs a sub-CA that chains to the root
    enable_pki(c, "pki_sub")
    sub_csr = c.secrets.pki.generate_intermediate("internal", "Sub CA", extra_params={"key_type": "ec"},
                                                  mount_point="pki_sub")["data"]["csr"]
    sub = c.secrets.pki.sign_intermediate(sub_csr, "Sub CA", extra_params={"ttl": "1000h", "format": "pem_bundle"},
                                          mount_point="pki_int")["data"]
    assert ext(load_cert(sub["issuing_ca"]), x509.BasicConstraints).value.path_length == 2
    assert ext(load_cert(sub["certificate"].split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----"),
               x509.BasicConstraints).value.path_length == 1
    v = verify(tmp_path, c.secrets.pki.read_ca_certificate(), sub["certificate"], untrusted=signed["certificate"])
    assert v.returncode == 0, v.stdout + v.stderr
    # set-signed with the pem_bundle (cert + its issuer) keeps the chain
    c.secrets.pki.set_signed_intermediate(sub["certificate"], mount_point="pki_sub")
    chain_pem = c.secrets.pki.read_ca_certificate_chain(mount_point="pki_sub")
    chain = [load_cert(b + "-----END CERTIFICATE-----") for b in chain_pem.split("-----END CERTIFICATE-----")[:-1]]
    assert [x.subject for x in chain] == [load_cert(sub["certificate"].split("-----END CERTIFICATE-----")[0] +
                                                    "-----END CERTIFICATE-----").subject, inter.subject]
    r = dev_server.raw("GET", "/v1/pki_sub/cert/ca_chain", token=None)
    assert r.json()["data"]["certificate"].strip() == chain_pem.strip()


def test_sign_intermediate_policy(dev_server, tmp_path):
    c = dev_server.client
    enable_pki(c)
    make_root(c, ttl="100h", max_path_length=0)
    enable_pki(c, "pki_int")
    csr = c.secrets.pki.generate_intermediate("internal", "Int", extra_params={"key_type": "ec"},
                                              mount_point="pki_int")["data"]["csr"]
    # path length 0: no CA below it
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.sign_intermediate(csr, "Int", extra_params={"ttl": "10h"})
    assert "max path length of 0" in pki_error(ei)

    c.secrets.pki.delete_root()
    make_root(c, ttl="100h")
    # an intermediate may not outlive its root
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.sign_intermediate(csr, "Int", extra_params={"ttl": "200h"})
    assert "beyond the expiration of the CA certificate" in pki_error(ei)
    # a CSR whose signature does not match its key
    der = bytearray(x509.load_pem_x509_csr(csr.encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01
    bad = "-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der)).decode() + \
        "-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.sign_intermediate(bad, "Int", extra_params={"ttl": "10h"})
    assert "signature" in pki_error(ei)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.sign_intermediate("not a csr", "Int")
    assert "csr" in pki_error(ei)
    r = dev_server.raw("POST", "/v1/pki/root/sign-intermediate", {"common_name": "x"})
    assert r.status == 400 and "csr" in r.text
    r = dev_server.raw("POST", "/v1/pki/root/sign-intermediate", {"csr": csr})
    assert r.status == 400 and "common_name" in r.text
    # use_csr_values: the CSR's subject, without a common_name parameter
    signed = c.secrets.pki.sign_intermediate(csr, "", extra_params={"use_csr_values": True, "ttl": "10h"})["data"]
    assert load_cert(signed["certificate"]).subject == x509.load_pem_x509_csr(csr.encode()).subject
    assert verify(tmp_path, c.secrets.pki.read_ca_certificate(), signed["certificate"]).returncode == 0


def test_set_signed_checks(dev_server):
    c = dev_server.client
    enable_pki(c)
    make_root(c)
    enable_pki(c, "pki_int")
    enable_pki(c, "pki_other")
    # no pending key yet
    other_csr = c.secrets.pki.generate_intermediate("internal", "Other", extra_params={"key_type": "ec"},
                                                    mount_point="pki_other")["data"]["csr"]
    other = c.secrets.pki.sign_intermediate(other_csr, "Other", extra_params={"ttl": "10h"})["data"]["certificate"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.set_signed_intermediate(other, mount_point="pki_int")
    assert "private key" in pki_error(ei)
    # a certificate for another key than the pending one
    c.secrets.pki.generate_intermediate("internal", "Int", extra_params={"key_type": "ec"}, mount_point="pki_int")
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.set_signed_intermediate(other, mount_point="pki_int")
    assert "does not match" in pki_error(ei)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.set_signed_intermediate("garbage", mount_point="pki_int")
    assert "PEM" in pki_error(ei)
    r = dev_server.raw("POST", "/v1/pki_int/intermediate/set-signed", {})
    assert r.status == 400 and "certificate" in r.text
    assert dev_server.raw("GET", "/v1/pki_int/ca/pem").status == 400


def test_intermediate_exported_and_pending_keeps_current_ca(dev_server, tmp_path):
    c = dev_server.client
    enable_pki(c)
    root_pem = make_root(c)["data"]["certificate"]
    gen, signed = make_intermediate(c)
    inter = signed["data"]["certificate"]
    # a new CSR (exported): the key comes back once, the current CA keeps serving until set-signed
    new = c.secrets.pki.generate_intermediate("exported", "Next Intermediate",
                                              extra_params={"key_type": "rsa", "private_key_format": "pkcs8"},
                                              mount_point="pki_int")["data"]
    assert new["private_key_type"] == "rsa"
    assert new["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(new["private_key"].encode(), None)
    csr = x509.load_pem_x509_csr(new["csr"].encode())
    assert key.public_key().public_numbers() == csr.public_key().public_numbers()
    assert load_cert(c.secrets.pki.read_ca_certificate(mount_point="pki_int")) == load_cert(inter)
    signed2 = c.secrets.pki.sign_intermediate(new["csr"], "Next Intermediate", extra_params={"ttl": "100h"})
    c.secrets.pki.set_signed_intermediate(signed2["data"]["certificate"], mount_point="pki_int")
    now = load_cert(c.secrets.pki.read_ca_certificate(mount_point="pki_int"))
    assert now.public_key().public_numbers() == key.public_key().public_numbers()
    assert verify(tmp_path, root_pem, signed2["data"]["certificate"]).returncode == 0


# ---------------------------------------------------------------------------
# config/ca, config/urls, sign-self-issued, DELETE root


def self_signed_ca(cn="Imported Root", key=None, ca=True, issuer=None, issuer_key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    cert = b.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def test_config_ca_import(dev_server, tmp_path):
    c = dev_server.client
    enable_pki(c)
    key, cert = self_signed_ca()
    # key after the certificate, as Vault accepts either order
    c.secrets.pki.submit_ca_information(pem(cert) + pem(key))
    assert load_cert(c.secrets.pki.read_ca_certificate()) == cert
    # the imported CA signs
    enable_pki(c, "pki_int")
    csr = c.secrets.pki.generate_intermediate("internal", "Int", extra_params={"key_type": "ec"},
                                              mount_point="pki_int")["data"]["csr"]
    signed = c.secrets.pki.sign_intermediate(csr, "Int", extra_params={"ttl": "24h"})["data"]["certificate"]
    v = verify(tmp_path, pem(cert), signed)
    assert v.returncode == 0, v.stdout + v.stderr
    # an imported certificate with its chain: chain served in order
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _, sub = self_signed_ca("Imported Sub", key=rsa_key, issuer=cert.subject, issuer_key=key)
    enable_pki(c, "pki_sub")
    c.secrets.pki.submit_ca_information(pem(cert) + pem(rsa_key) + pem(sub), mount_point="pki_sub")
    assert load_cert(c.secrets.pki.read_ca_certificate(mount_point="pki_sub")) == sub
    chain = c.secrets.pki.read_ca_certificate_chain(mount_point="pki_sub")
    assert chain.index(pem(sub).strip()) < chain.index(pem(cert).strip())
    # a certificate alone: served, but nothing to sign with
    enable_pki(c, "pki_certonly")
    c.secrets.pki.submit_ca_information(pem(cert), mount_point="pki_certonly")
    assert load_cert(c.secrets.pki.read_ca_certificate(mount_point="pki_certonly")) == cert
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.sign_intermediate(csr, "Int", extra_params={"ttl": "24h"}, mount_point="pki_certonly")
    assert "no private key" in pki_error(ei)


@pytest.mark.parametrize("bundle,message", [
    ("garbage", "no data found in PEM bundle"),
    ("NOTCERT", "not marked for CA use"),
    ("WRONGKEY", "matches its private key"),
    ("TWOKEYS", "more than one private key"),
])
def test_config_ca_refusals(dev_server, bundle, message):
    c = dev_server.client
    enable_pki(c)
    key, cert = self_signed_ca()
    other = ec.generate_private_key(ec.SECP256R1())
    leaf_key, leaf = self_signed_ca("leaf", ca=False)
    bundle = {"NOTCERT": pem(leaf) + pem(leaf_key), "WRONGKEY": pem(cert) + pem(other),
              "TWOKEYS": pem(cert) + pem(key) + pem(other)}.get(bundle, bundle)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.submit_ca_information(bundle)
    assert message in pki_error(ei)
    assert dev_server.raw("GET", "/v1/pki/ca/pem").status == 400
    r = dev_server.raw("POST", "/v1/pki/config/ca", {})
    assert r.status == 400 and "pem_bundle" in r.text


def test_config_urls(dev_server):
    c = dev_server.client
    enable_pki(c)
    empty = c.secrets.pki.read_urls()["data"]
    assert empty == {"issuing_certificates": [], "crl_distribution_points": [], "ocsp_servers": []}
    c.secrets.pki.set_urls({"ocsp_servers": ["http://127.0.0.1/ocsp", "http://127.0.0.2/ocsp"]})
    # an update changes only what it gives
    c.secrets.pki.set_urls({"issuing_certificates": "http://127.0.0.1/ca"})
    got = c.secrets.pki.read_urls()["data"]
    assert got["ocsp_servers"] == ["http://127.0.0.1/ocsp", "http://127.0.0.2/ocsp"]
    assert got["issuing_certificates"] == ["http://127.0.0.1/ca"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.set_urls({"crl_distribution_points": "not a url"})
    assert "crl_distribution_points" in pki_error(ei)
    assert c.secrets.pki.read_urls()["data"] == got
    # a certificate made now carries them
    cert = load_cert(make_root(c)["data"]["certificate"])
    aia = ext(cert, x509.AuthorityInformationAccess).value
    assert sorted(d.access_location.value for d in aia) == [
        "http://127.0.0.1/ca", "http://127.0.0.1/ocsp", "http://127.0.0.2/ocsp"]


def test_sign_self_issued(dev_server):
    c = dev_server.client
    enable_pki(c)
    root = load_cert(make_root(c)["data"]["certificate"])
    key, own = self_signed_ca("Old Root")
    out = c.secrets.pki.sign_self_issued(pem(own))["data"]
    cert = load_cert(out["certificate"])
    assert load_cert(out["issuing_ca"]) == root
    assert cert.subject == own.subject and cert.issuer == root.subject
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(root, x509.SubjectKeyIdentifier).value.digest
    root.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    leaf_key, leaf = self_signed_ca("leaf", ca=False)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.sign_self_issued(pem(leaf))
    assert "not a CA" in pki_error(ei)
    _, issued = self_signed_ca("Child", issuer=root.subject, issuer_key=key)
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        c.secrets.pki.sign_self_issued(pem(issued))
    assert "not self-issued" in pki_error(ei)


def test_delete_root_and_sudo(dev_server):
    c = dev_server.client
    enable_pki(c)
    first = make_root(c)["data"]["certificate"]
    # DELETE root and sign-self-issued are root-protected (sudo), as in Vault
    c.sys.create_or_update_policy("pki-admin", 'path "pki/*" { capabilities = ["create", "read", "update", "delete", "list"] }')
    tok = c.auth.token.create(policies=["pki-admin"])["auth"]["client_token"]
    user = make_client(dev_server.addr, tok)
    with pytest.raises(hvac.exceptions.Forbidden):
        user.secrets.pki.delete_root()
    _, own = self_signed_ca("Old Root")
    with pytest.raises(hvac.exceptions.Forbidden):
        user.secrets.pki.sign_self_issued(pem(own))
    user.secrets.pki.read_urls()  # the same policy reads
    c.secrets.pki.delete_root()
    r = dev_server.raw("GET", "/v1/pki/ca/pem")
    assert r.status == 400 and "no CA configured" in r.text
    second = make_root(c)["data"]["certificate"]
    assert load_cert(second) != load_cert(first)


# ---------------------------------------------------------------------------
# the key only through the barrier; restart


def test_ca_survives_restart_key_encrypted(unsealed_sqlite, tmp_path):
    srv = unsealed_sqlite
    c = make_client(srv.addr, srv.root_token)
    enable_pki(c)
    enable_pki(c, "pki_int")
    out = c.secrets.pki.generate_root("exported", "Persisted Root", extra_params={"key_type": "ec", "ttl": "1000h"})
    root_pem = out["data"]["certificate"]
    key = serialization.load_pem_private_key(out["data"]["private_key"].encode(), None)
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pending = c.secrets.pki.generate_intermediate("exported", "Pending Int", extra_params={"key_type": "ec"},
                                                  mount_point="pki_int")["data"]
    srv.restart()
    srv.unseal()
    c = make_client(srv.addr, srv.root_token)
    assert load_cert(c.secrets.pki.read_ca_certificate()) == load_cert(root_pem)
    # the root key came back from the barrier: it signs; the pending key still waits
    signed = c.secrets.pki.sign_intermediate(pending["csr"], "Pending Int", extra_params={"ttl": "100h"})
    c.secrets.pki.set_signed_intermediate(signed["data"]["certificate"], mount_point="pki_int")
    assert verify(tmp_path, root_pem, signed["data"]["certificate"]).returncode == 0
    srv.stop()
    # neither private key is readable in the storage file
    blob = b"".join(p.read_bytes() for p in srv.workdir.parent.glob("*.db*"))
    assert blob
    pend_key = serialization.load_pem_private_key(pending["private_key"].encode(), None)
    for k in (key, pend_key):
        pkcs8 = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        body = b"".join(pkcs8.splitlines()[1:-1])
        assert body[:40] not in blob
        assert body[-40:] not in blob
    assert der_key[-32:] not in blob


def test_sign_intermediate_use_csr_values_takes_sans(dev_server):
    c = dev_server.client
    enable_pki(c)
    make_root(c, ttl="100h")
    enable_pki(c, "pki_int")
    csr = c.secrets.pki.generate_intermediate(
        "internal", "int.example.com",
        extra_params={"key_type": "ec", "alt_names": "ca.example.com,pki@example.com",
                      "ip_sans": "10.0.0.1,2001:db8::5", "uri_sans": "spiffe://example.com/ca"},
        mount_point="pki_int")["data"]["csr"]
    # the request's own names are ignored with use_csr_values
    cert = load_cert(c.secrets.pki.sign_intermediate(
        csr, "ignored.example.net", extra_params={"use_csr_values": True, "alt_names": "other.example.net",
                                                  "ttl": "10h"})["data"]["certificate"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "int.example.com"
    san = ext(cert, x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == ["ca.example.com", "int.example.com"]
    assert san.get_values_for_type(x509.RFC822Name) == ["pki@example.com"]
    assert sorted(str(i) for i in san.get_values_for_type(x509.IPAddress)) == ["10.0.0.1", "2001:db8::5"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example.com/ca"]
    # without it, the request's names and subject
    cert = load_cert(c.secrets.pki.sign_intermediate(
        csr, "named.example.net", extra_params={"alt_names": "other.example.net", "ttl": "10h"})["data"]["certificate"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "named.example.net"
    assert sorted(ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)) == \
        ["named.example.net", "other.example.net"]
