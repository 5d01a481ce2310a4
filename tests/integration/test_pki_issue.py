"""pki engine, roles and issuance (Vault's PKI API: roles/:name, issue/:role,
sign/:role, sign-verbatim, cert/:serial, certs) through hvac against the real
binary: a root and an intermediate made through the API; leaves issued with
RSA-2048, P-256 and Ed25519 keys and signed from CSRs made with
python3-cryptography, checked by parsing them and by `openssl verify`; a real
TLS handshake (`openssl s_server` + `curl --cacert`); the role's policy
checks (names, globs, bare domains, IP and URI SANs, TTLs, the CSR's key and
signature); stored certificates; and the PKI leases of generate_lease, as
hvac 0.11.2's own lease integration tests use them."""

import base64
import datetime
import ipaddress
import socket
import subprocess

import hvac.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cofferlib import free_port, make_client, wait_until

# RSA key generation (a prime search) can take seconds on a busy 2-core
# machine, longer than the clients' 5 s timeout: these clients wait longer.
KEYGEN_TIMEOUT = 120

ROOT_TTL = "87600h"
INT_TTL = "8760h"

KEY_KINDS = {
    "rsa-2048": ("rsa", 2048),
    "ec-256": ("ec", 256),
    "ed25519": ("ed25519", 0),
}


def now():
    return datetime.datetime.utcnow().replace(tzinfo=None)


def parse(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def serial_text(cert):
    h = "%x" % cert.serial_number
    if len(h) % 2:
        h = "0" + h
    return ":".join(h[i : i + 2] for i in range(0, len(h), 2))


def new_key(kind):
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if kind == "ec-256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec-384":
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


def make_csr(key, cn=None, dns=(), ips=(), uris=(), attrs=(), extensions=()):
    names = [x509.NameAttribute(oid, v) for oid, v in attrs]
    if cn:
        names.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    sans += [x509.UniformResourceIdentifier(u) for u in uris]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(key, algo).public_bytes(serialization.Encoding.PEM).decode()


def pub_bytes(k):
    return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def dns_sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(ext.get_values_for_type(x509.DNSName))


def ip_sans(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(i) for i in ext.get_values_for_type(x509.IPAddress)}


def cn_of(cert):
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def expect_400(fn, *words):
    """fn() must fail with 400 and an error naming every word."""
    with pytest.raises(hvac.exceptions.InvalidRequest) as ei:
        fn()
    text = str(ei.value)
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"
    return text


def slow_client(dev):
    c = make_client(dev.addr, dev.token)
    c.adapter._kwargs["timeout"] = KEYGEN_TIMEOUT  # hvac 0.11.2 keeps it there
    return c


class CA:
    """A root on pki/ and an intermediate it signed on pki_int/, both made
    through the API; files for openssl in tmp."""

    def __init__(self, dev, tmp):
        self.dev = dev
        self.c = slow_client(dev)
        self.tmp = tmp
        for path in ("pki", "pki_int"):
            self.c.sys.enable_secrets_engine("pki", path=path, config={"max_lease_ttl": ROOT_TTL})
        root = self.c.secrets.pki.generate_root(
            "internal", "Coffer Test Root", extra_params={"ttl": ROOT_TTL, "key_type": "ec"}, mount_point="pki"
        )["data"]
        self.root_pem = root["certificate"]
        csr = self.c.secrets.pki.generate_intermediate(
            "internal", "Coffer Test Intermediate", extra_params={"key_type": "ec"}, mount_point="pki_int"
        )["data"]["csr"]
        signed = self.c.secrets.pki.sign_intermediate(
            csr, "Coffer Test Intermediate", extra_params={"ttl": INT_TTL}, mount_point="pki"
        )["data"]["certificate"]
        # the intermediate with its issuer, so the mount knows the whole chain
        self.c.secrets.pki.set_signed_intermediate(signed + "\n" + self.root_pem, mount_point="pki_int")
        self.int_pem = signed
        self.root_file = tmp / "root.pem"
        self.int_file = tmp / "int.pem"
        self.root_file.write_text(self.root_pem)
        self.int_file.write_text(self.int_pem)
        self.n = 0

    def role(self, name, **params):
        self.c.secrets.pki.create_or_update_role(name, extra_params=params, mount_point="pki_int")

    def issue(self, role, cn, **params):
        return self.c.secrets.pki.generate_certificate(role, cn, extra_params=params, mount_point="pki_int")

    def sign(self, role, csr, cn="", **params):
        return self.c.secrets.pki.sign_certificate(role, csr, cn, extra_params=params, mount_point="pki_int")

    def verify(self, leaf_pem):
        """openssl verify -CAfile root -untrusted intermediate leaf"""
        self.n += 1
        leaf = self.tmp / f"leaf{self.n}.pem"
        leaf.write_text(leaf_pem)
        p = subprocess.run(
            ["openssl", "verify", "-CAfile", str(self.root_file), "-untrusted", str(self.int_file), str(leaf)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return p


@pytest.fixture
def ca(dev_server, tmp_path):
    return CA(dev_server, tmp_path)


# ---------------------------------------------------------------------------
# roles


def test_role_defaults_overwrite_list_delete(ca):
    ca.role("web", allowed_domains="example.com", allow_subdomains=True, max_ttl="72h")
    d = ca.c.secrets.pki.read_role("web", mount_point="pki_int")["data"]
    # Vault's defaults for everything the write left out
    assert d["allowed_domains"] == ["example.com"]
    assert d["allow_subdomains"] is True and d["allow_bare_domains"] is False
    assert d["allow_localhost"] is True and d["allow_ip_sans"] is True
    assert d["enforce_hostnames"] is True and d["allow_any_name"] is False
    assert d["key_type"] == "rsa" and d["key_bits"] == 2048
    assert d["key_usage"] == ["DigitalSignature", "KeyAgreement", "KeyEncipherment"]
    assert d["server_flag"] is True and d["client_flag"] is True and d["code_signing_flag"] is False
    assert d["use_csr_common_name"] is True and d["use_csr_sans"] is True and d["require_cn"] is True
    assert d["not_before_duration"] == 30 and d["max_ttl"] == 72 * 3600 and d["ttl"] == 0
    assert d["generate_lease"] is False and d["no_store"] is False
    assert d["basic_constraints_valid_for_non_ca"] is False
    # a write replaces the role: allow_subdomains goes back to its default
    ca.role("web", allowed_domains=["example.com", "example.org"], key_type="ec")
    d = ca.c.secrets.pki.read_role("web", mount_point="pki_int")["data"]
    assert d["allow_subdomains"] is False and d["max_ttl"] == 0
    assert d["allowed_domains"] == ["example.com", "example.org"] and d["key_bits"] == 256
    ca.role("other", allow_any_name=True, no_store=True, generate_lease=True)
    assert ca.c.secrets.pki.read_role("other", mount_point="pki_int")["data"]["generate_lease"] is False
    assert sorted(ca.c.secrets.pki.list_roles(mount_point="pki_int")["data"]["keys"]) == ["other", "web"]
    ca.c.secrets.pki.delete_role("web", mount_point="pki_int")
    with pytest.raises(hvac.exceptions.InvalidPath):
        ca.c.secrets.pki.read_role("web", mount_point="pki_int")
    assert ca.c.secrets.pki.list_roles(mount_point="pki_int")["data"]["keys"] == ["other"]


def test_role_bad_values_are_refused_and_keep_the_role(ca):
    ca.role("r", allowed_domains="example.com")
    expect_400(lambda: ca.role("r", key_type="dsa"), "key_type")
    expect_400(lambda: ca.role("r", key_type="rsa", key_bits=1024), "key_bits")
    expect_400(lambda: ca.role("r", key_type="ec", key_bits=255), "key_bits")
    expect_400(lambda: ca.role("r", ttl="10h", max_ttl="1h"), "max_ttl")
    expect_400(lambda: ca.role("r", key_usage="DigitalSignature,Teleport"), "key_usage", "Teleport")
    expect_400(lambda: ca.role("r", ext_key_usage="ServerAuth,Flying"), "ext_key_usage", "Flying")
    expect_400(lambda: ca.role("r", ext_key_usage_oids="1.2.x"), "ext_key_usage_oids")
    expect_400(lambda: ca.role("r", signature_bits=128), "signature_bits")
    expect_400(lambda: ca.role("r", allowed_other_sans="nonsense"), "allowed_other_sans")
    # the stored role is untouched
    d = ca.c.secrets.pki.read_role("r", mount_point="pki_int")["data"]
    assert d["allowed_domains"] == ["example.com"] and d["key_type"] == "rsa"


# ---------------------------------------------------------------------------
# issue


@pytest.mark.parametrize("kind", list(KEY_KINDS))
def test_issue_each_key_type(ca, kind):
    key_type, bits = KEY_KINDS[kind]
    ca.role(
        "web",
        allowed_domains="example.com",
        allow_subdomains=True,
        key_type=key_type,
        key_bits=bits,
        max_ttl="24h",
        organization="Acme",
        ou="Ops",
        country="NZ",
    )
    t0 = now()
    d = ca.issue("web", "www.example.com", alt_names="api.example.com", ip_sans="127.0.0.1", ttl="1h")["data"]
    cert = parse(d["certificate"])
    assert cn_of(cert) == "www.example.com"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "Ops"
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "NZ"
    assert dns_sans(cert) == {"www.example.com", "api.example.com"}
    assert ip_sans(cert) == {"127.0.0.1"}
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_agreement and ku.key_encipherment
    assert not ku.key_cert_sign and not ku.crl_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not _has(cert, x509.BasicConstraints)  # only with basic_constraints_valid_for_non_ca
    # validity: 1h from now, backdated by the role's 30s
    life = cert.not_valid_after - t0
    assert datetime.timedelta(minutes=59) < life <= datetime.timedelta(hours=1, seconds=5)
    assert datetime.timedelta(seconds=25) <= t0 - cert.not_valid_before <= datetime.timedelta(seconds=40)
    assert d["expiration"] == int(cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp())
    # serial: 20 random bytes, as the API writes it
    assert d["serial_number"] == serial_text(cert)
    assert cert.serial_number > 2**64
    # the key: of the role's type, and the certificate's
    assert d["private_key_type"] == key_type
    key = serialization.load_pem_private_key(d["private_key"].encode(), None)
    assert pub_bytes(key.public_key()) == pub_bytes(cert.public_key())
    header = {"rsa": "RSA PRIVATE KEY", "ec": "EC PRIVATE KEY", "ed25519": "PRIVATE KEY"}[key_type]
    assert d["private_key"].startswith(f"-----BEGIN {header}-----")
    if key_type == "rsa":
        assert key.key_size == 2048
    elif key_type == "ec":
        assert key.curve.name == "secp256r1"
    else:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
    # the chain: the intermediate, then the root
    assert parse(d["issuing_ca"]) == parse(ca.int_pem)
    assert [parse(p) for p in d["ca_chain"]] == [parse(ca.int_pem), parse(ca.root_pem)]
    p = ca.verify(d["certificate"])
    assert p.returncode == 0 and ": OK" in p.stdout, p.stdout + p.stderr


def _has(cert, cls):
    try:
        cert.extensions.get_extension_for_class(cls)
        return True
    except x509.ExtensionNotFound:
        return False


def test_role_usages_subject_and_basic_constraints(ca):
    ca.role(
        "signer",
        allow_any_name=True,
        key_type="ec",
        server_flag=False,
        client_flag=False,
        code_signing_flag=True,
        email_protection_flag=True,
        ext_key_usage="timestamping",
        ext_key_usage_oids="1.3.6.1.4.1.311.10.3.12",
        key_usage="DigitalSignature,ContentCommitment",
        basic_constraints_valid_for_non_ca=True,
        locality="Wellington",
        province="WGN",
        street_address="1 Lambton Quay",
        postal_code="6011",
    )
    cert = parse(ca.issue("signer", "builds.example.com")["data"]["certificate"])
    eku = {o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
    assert eku == {
        ExtendedKeyUsageOID.CODE_SIGNING.dotted_string,
        ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string,
        ExtendedKeyUsageOID.TIME_STAMPING.dotted_string,
        "1.3.6.1.4.1.311.10.3.12",
    }
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment
    assert not ku.key_encipherment and not ku.key_agreement
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.value.ca is False
    subj = {a.oid: a.value for a in cert.subject}
    assert subj[NameOID.LOCALITY_NAME] == "Wellington" and subj[NameOID.STATE_OR_PROVINCE_NAME] == "WGN"
    assert subj[NameOID.STREET_ADDRESS] == "1 Lambton Quay" and subj[NameOID.POSTAL_CODE] == "6011"
    # exclude_cn_from_sans: the CN stays out of the SANs
    cert = parse(
        ca.issue("signer", "builds.example.com", alt_names="ci.example.com", exclude_cn_from_sans=True)["data"][
            "certificate"
        ]
    )
    assert dns_sans(cert) == {"ci.example.com"}


def test_issue_formats_and_key_formats(ca):
    ca.role("web", allowed_domains="example.com", allow_subdomains=True, key_type="ec")
    d = ca.issue("web", "a.example.com", private_key_format="pkcs8")["data"]
    assert d["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    serialization.load_pem_private_key(d["private_key"].encode(), None)

    d = ca.issue("web", "b.example.com", format="der")["data"]
    cert = x509.load_der_x509_certificate(base64.b64decode(d["certificate"]))
    assert cn_of(cert) == "b.example.com"
    key = serialization.load_der_private_key(base64.b64decode(d["private_key"]), None)
    assert pub_bytes(key.public_key()) == pub_bytes(cert.public_key())
    assert x509.load_der_x509_certificate(base64.b64decode(d["issuing_ca"])) == parse(ca.int_pem)
    assert len(d["ca_chain"]) == 2

    d = ca.issue("web", "c.example.com", format="pem_bundle")["data"]
    bundle = d["certificate"]
    assert bundle.startswith("-----BEGIN EC PRIVATE KEY-----")
    blocks = [b for b in bundle.split("-----END CERTIFICATE-----") if "BEGIN CERTIFICATE" in b]
    certs = [parse(b[b.index("-----BEGIN CERTIFICATE-----") :] + "-----END CERTIFICATE-----\n") for b in blocks]
    # the leaf, then the intermediate; the self-signed root is left out
    assert [cn_of(c) for c in certs] == ["c.example.com", "Coffer Test Intermediate"]

    d = ca.issue("web", "d.example.com", remove_roots_from_chain=True)["data"]
    assert [parse(p) for p in d["ca_chain"]] == [parse(ca.int_pem)]

    expect_400(lambda: ca.issue("web", "e.example.com", format="xml"), "format")
    expect_400(lambda: ca.issue("web", "e.example.com", private_key_format="jks"), "private_key_format")
    expect_400(lambda: ca.issue("nosuchrole", "e.example.com"), "unknown role")


def test_issue_any_key_type_role_cannot_generate(ca):
    ca.role("any", allow_any_name=True, key_type="any")
    expect_400(lambda: ca.issue("any", "x.example.com"), "key_type", "any")


# ---------------------------------------------------------------------------
# sign


@pytest.mark.parametrize("kind", list(KEY_KINDS))
def test_sign_csr_each_key_type(ca, kind):
    key_type, bits = KEY_KINDS[kind]
    ca.role("svc", allowed_domains="example.com", allow_subdomains=True, key_type=key_type, key_bits=bits)
    key = new_key(kind)
    csr = make_csr(key, cn="svc.example.com", dns=["svc.example.com", "alt.example.com"])
    d = ca.sign("svc", csr, cn="ignored.example.com", ttl="2h")["data"]
    assert "private_key" not in d
    cert = parse(d["certificate"])
    assert pub_bytes(cert.public_key()) == pub_bytes(key.public_key())
    # use_csr_common_name and use_csr_sans (the defaults): the CSR's names
    assert cn_of(cert) == "svc.example.com"
    assert dns_sans(cert) == {"svc.example.com", "alt.example.com"}
    assert d["serial_number"] == serial_text(cert)
    p = ca.verify(d["certificate"])
    assert p.returncode == 0 and ": OK" in p.stdout, p.stdout + p.stderr


def test_sign_any_role_and_request_names(ca):
    ca.role(
        "svc",
        allowed_domains="example.com",
        allow_subdomains=True,
        key_type="any",
        use_csr_common_name=False,
        use_csr_sans=False,
    )
    key = new_key("ec-384")
    csr = make_csr(key, cn="from-csr.example.com", dns=["csr-san.example.com"])
    d = ca.sign("svc", csr, cn="from-request.example.com", alt_names="req-san.example.com")["data"]
    cert = parse(d["certificate"])
    assert cn_of(cert) == "from-request.example.com"
    assert dns_sans(cert) == {"from-request.example.com", "req-san.example.com"}
    assert ca.verify(d["certificate"]).returncode == 0


def test_sign_policy_key_mismatch_and_bad_signature(ca):
    ca.role("ec", allowed_domains="example.com", allow_subdomains=True, key_type="ec", key_bits=256)
    ca.role("rsa3k", allowed_domains="example.com", allow_subdomains=True, key_type="rsa", key_bits=3072)
    ca.role("ec384", allowed_domains="example.com", allow_subdomains=True, key_type="ec", key_bits=384)
    before = _certs(ca)
    rsa_csr = make_csr(new_key("rsa-2048"), cn="a.example.com")
    expect_400(lambda: ca.sign("ec", rsa_csr), "key_type", "role requires keys of type ec", "rsa")
    expect_400(lambda: ca.sign("rsa3k", rsa_csr), "key_bits", "3072", "2048")
    expect_400(lambda: ca.sign("ec384", make_csr(new_key("ec-256"), cn="a.example.com")), "key_bits", "384")
    # a CSR whose signature does not verify: flip a bit in the signature
    good = x509.load_pem_x509_csr(make_csr(new_key("ec-256"), cn="a.example.com").encode())
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01
    bad = "-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n" % base64.encodebytes(
        bytes(der)
    ).decode().strip()
    expect_400(lambda: ca.sign("ec", bad), "csr", "signature")
    expect_400(lambda: ca.sign("ec", "not a csr"), "csr")
    # nothing was stored for the refused requests
    assert _certs(ca) == before


def _certs(ca):
    try:
        return ca.c.secrets.pki.list_certificates(mount_point="pki_int")["data"]["keys"]
    except hvac.exceptions.InvalidPath:
        return []


def test_sign_verbatim(ca):
    key = new_key("ec-256")
    csr = make_csr(
        key,
        cn="Device 42",
        uris=["urn:device:42"],
        attrs=[(NameOID.ORGANIZATION_NAME, "Acme Devices"), (NameOID.COUNTRY_NAME, "FR")],
        extensions=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
    )
    d = ca.c.secrets.pki.sign_verbatim(csr, extra_params={"ttl": "3h"}, mount_point="pki_int")["data"]
    cert = parse(d["certificate"])
    assert cn_of(cert) == "Device 42"  # not a host name: verbatim takes it as it is
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme Devices"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:device:42"]
    assert san.get_values_for_type(x509.DNSName) == []
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_agreement
    assert ca.verify(d["certificate"]).returncode == 0
    # with a role: its ttl and max_ttl
    ca.role("short", allow_any_name=True, ttl="30m", max_ttl="1h")
    d = ca.c.secrets.pki.sign_verbatim(csr, name="short", mount_point="pki_int")["data"]
    life = parse(d["certificate"]).not_valid_after - now()
    assert datetime.timedelta(minutes=28) < life <= datetime.timedelta(minutes=31)
    # never a CA
    ca_csr = make_csr(key, cn="Sub CA", extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)])
    expect_400(lambda: ca.c.secrets.pki.sign_verbatim(ca_csr, mount_point="pki_int"), "CA")


# ---------------------------------------------------------------------------
# the name policy


def test_name_policy(ca):
    ca.role("plain", allowed_domains="example.com", key_type="ec")
    expect_400(lambda: ca.issue("plain", "example.com"), "common name example.com not allowed by this role")
    expect_400(lambda: ca.issue("plain", "www.example.com"), "not allowed")

    ca.role("bare", allowed_domains="example.com", allow_bare_domains=True, key_type="ec")
    assert cn_of(parse(ca.issue("bare", "example.com")["data"]["certificate"])) == "example.com"
    expect_400(lambda: ca.issue("bare", "www.example.com"), "not allowed")

    ca.role("sub", allowed_domains="example.com", allow_subdomains=True, allow_localhost=False, key_type="ec")
    for ok in ("www.example.com", "a.b.example.com", "*.example.com"):
        assert cn_of(parse(ca.issue("sub", ok)["data"]["certificate"])) == ok
    for bad in ("example.com", "evil.com", "example.com.evil.com", "wwwexample.com", "localhost", "bad_name.example.com"):
        expect_400(lambda: ca.issue("sub", bad), "common name", "not allowed by this role")
    expect_400(
        lambda: ca.issue("sub", "ok.example.com", alt_names="fine.example.com,evil.org"),
        "subject alternate name evil.org not allowed by this role",
    )

    ca.role("glob", allowed_domains="ftp*.example.org", allow_glob_domains=True, key_type="ec")
    assert cn_of(parse(ca.issue("glob", "ftp1.example.org")["data"]["certificate"])) == "ftp1.example.org"
    expect_400(lambda: ca.issue("glob", "www.example.org"), "not allowed")

    ca.role("local", key_type="ec")  # allow_localhost defaults to true
    assert cn_of(parse(ca.issue("local", "localhost")["data"]["certificate"])) == "localhost"
    expect_400(lambda: ca.issue("local", "example.com"), "not allowed")

    ca.role("wild-off", allowed_domains="example.com", allow_subdomains=True, allow_wildcard_certificates=False, key_type="ec")
    expect_400(lambda: ca.issue("wild-off", "*.example.com"), "not allowed")

    ca.role("anyname", allow_any_name=True, enforce_hostnames=False, key_type="ec")
    cert = parse(ca.issue("anyname", "Not A Host Name")["data"]["certificate"])
    assert cn_of(cert) == "Not A Host Name" and dns_sans(cert) == set()  # not a host name: CN only
    ca.role("anyhost", allow_any_name=True, key_type="ec")
    expect_400(lambda: ca.issue("anyhost", "Not A Host Name"), "not allowed")

    ca.role("nocn", allow_any_name=True, require_cn=False, key_type="ec")
    cert = parse(ca.issue("nocn", "", alt_names="x.example.net")["data"]["certificate"])
    assert cn_of(cert) is None and dns_sans(cert) == {"x.example.net"}
    expect_400(lambda: ca.issue("plain", ""), "common_name")


def test_ip_uri_other_sans_and_serial_number(ca):
    ca.role("noip", allow_any_name=True, allow_ip_sans=False, key_type="ec")
    expect_400(lambda: ca.issue("noip", "h.example.com", ip_sans="10.0.0.1"), "IP Subject Alternative Names")
    ca.role("ip", allow_any_name=True, key_type="ec")
    expect_400(lambda: ca.issue("ip", "h.example.com", ip_sans="10.0.0.300"), "ip_sans", "10.0.0.300")
    cert = parse(ca.issue("ip", "h.example.com", ip_sans="10.0.0.1,::1")["data"]["certificate"])
    assert ip_sans(cert) == {"10.0.0.1", "::1"}
    # a CSR's IP SANs against a role that refuses them
    csr = make_csr(new_key("ec-256"), cn="h.example.com", ips=["10.1.1.1"])
    ca.role("noip-any", allow_any_name=True, allow_ip_sans=False, key_type="any")
    expect_400(lambda: ca.sign("noip-any", csr), "IP Subject Alternative Names")

    ca.role("uri", allow_any_name=True, allowed_uri_sans="spiffe://example.org/*", key_type="ec")
    cert = parse(ca.issue("uri", "h.example.com", uri_sans="spiffe://example.org/svc/a")["data"]["certificate"])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example.org/svc/a"]
    expect_400(lambda: ca.issue("uri", "h.example.com", uri_sans="spiffe://evil.org/x"), "URI Subject Alternative Names")
    expect_400(lambda: ca.issue("ip", "h.example.com", uri_sans="spiffe://example.org/x"), "URI Subject Alternative Names")

    ca.role("other", allow_any_name=True, allowed_other_sans="1.3.6.1.4.1.311.20.2.3;UTF8:*@example.com", key_type="ec")
    cert = parse(
        ca.issue("other", "h.example.com", other_sans="1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.com")["data"][
            "certificate"
        ]
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    others = san.get_values_for_type(x509.OtherName)
    assert [o.type_id.dotted_string for o in others] == ["1.3.6.1.4.1.311.20.2.3"]
    assert b"alice@example.com" in others[0].value
    expect_400(
        lambda: ca.issue("other", "h.example.com", other_sans="1.3.6.1.4.1.311.20.2.3;UTF8:bob@evil.com"),
        "other SAN",
    )

    expect_400(lambda: ca.issue("ip", "h.example.com", serial_number="SN-1"), "serial_number")
    ca.role("sn", allow_any_name=True, allowed_serial_numbers="SN-*", key_type="ec")
    cert = parse(ca.issue("sn", "h.example.com", serial_number="SN-7")["data"]["certificate"])
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "SN-7"


def test_ttl_clamped_to_max_ttl_and_refused_past_the_ca(ca):
    ca.role("short", allow_any_name=True, max_ttl="2h", key_type="ec")
    resp = ca.issue("short", "h.example.com", ttl="10h")
    life = parse(resp["data"]["certificate"]).not_valid_after - now()
    assert datetime.timedelta(hours=1, minutes=58) < life <= datetime.timedelta(hours=2, seconds=5)
    assert any("max_ttl" in w for w in resp["warnings"]), resp.get("warnings")
    # the role's ttl is the default
    ca.role("def", allow_any_name=True, ttl="90m", max_ttl="2h", key_type="ec")
    life = parse(ca.issue("def", "h.example.com")["data"]["certificate"]).not_valid_after - now()
    assert datetime.timedelta(minutes=88) < life <= datetime.timedelta(minutes=91)
    # beyond the intermediate's own NotAfter (INT_TTL): refused, as Vault's
    # default leaf_not_after_behavior ("err")
    ca.role("long", allow_any_name=True, max_ttl="87600h", key_type="ec")
    expect_400(lambda: ca.issue("long", "h.example.com", ttl="17520h"), "TTL", "expiration of the CA")
    # not_after instead of ttl
    end = (now() + datetime.timedelta(hours=1)).replace(microsecond=0)
    cert = parse(ca.issue("long", "h.example.com", not_after=end.strftime("%Y-%m-%dT%H:%M:%SZ"))["data"]["certificate"])
    assert cert.not_valid_after == end


# ---------------------------------------------------------------------------
# stored certificates


def test_certs_list_and_read(ca):
    ca.role("web", allow_any_name=True, key_type="ec")
    ca.role("nostore", allow_any_name=True, key_type="ec", no_store=True)
    a = ca.issue("web", "a.example.com")["data"]["serial_number"]
    b = ca.issue("web", "b.example.com")["data"]["serial_number"]
    gone = ca.issue("nostore", "c.example.com")["data"]["serial_number"]
    keys = ca.c.secrets.pki.list_certificates(mount_point="pki_int")["data"]["keys"]
    assert a in keys and b in keys and gone not in keys
    d = ca.c.secrets.pki.read_certificate(a, mount_point="pki_int")["data"]
    assert serial_text(parse(d["certificate"])) == a and d["revocation_time"] == 0
    # the hyphen form too, and without a token (Vault: unauthenticated)
    r = ca.dev.raw("GET", "/v1/pki_int/cert/" + b.replace(":", "-"), token=None)
    assert r.status == 200 and serial_text(parse(r.json()["data"]["certificate"])) == b
    with pytest.raises(hvac.exceptions.InvalidPath):
        ca.c.secrets.pki.read_certificate(gone, mount_point="pki_int")
    r = ca.dev.raw("GET", "/v1/pki_int/cert/zz:top")
    assert r.status == 400 and "serial" in r.text


# ---------------------------------------------------------------------------
# TLS


def test_tls_handshake_with_an_issued_certificate(ca, tmp_path):
    ca.role("tls", allowed_domains="localhost", allow_bare_domains=True, key_type="ec", max_ttl="1h")
    d = ca.issue("tls", "localhost", ip_sans="127.0.0.1", ttl="10m")["data"]
    (tmp_path / "leaf.pem").write_text(d["certificate"])
    (tmp_path / "leaf.key").write_text(d["private_key"])
    (tmp_path / "chain.pem").write_text("".join(d["ca_chain"][:1]))
    port = free_port()
    srv = subprocess.Popen(
        [
            "openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(tmp_path / "leaf.pem"),
            "-key", str(tmp_path / "leaf.key"), "-cert_chain", str(tmp_path / "chain.pem"), "-www", "-quiet",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        def listening():
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True

        wait_until(listening, 15, what="openssl s_server")
        ok = subprocess.run(
            ["curl", "-sS", "--noproxy", "*", "--cacert", str(ca.root_file), f"https://localhost:{port}/"],
            capture_output=True, text=True, timeout=30,
        )
        assert ok.returncode == 0, ok.stderr
        # a name the certificate does not carry fails the handshake's check...
        bad = subprocess.run(
            [
                "curl", "-sS", "--noproxy", "*", "--cacert", str(ca.root_file), "--resolve",
                f"evil.example.net:{port}:127.0.0.1", f"https://evil.example.net:{port}/",
            ],
            capture_output=True, text=True, timeout=30,
        )
        assert bad.returncode == 60, (bad.returncode, bad.stderr)
        # ...and the role refuses to issue one for it
        expect_400(lambda: ca.issue("tls", "evil.example.net"), "not allowed by this role")
    finally:
        srv.kill()
        srv.wait()


# ---------------------------------------------------------------------------
# leases (generate_lease): hvac 0.11.2's tests/integration_tests/api/
# system_backend/test_lease.py, with its utils.configure_pki


def configure_pki(c, common_name="hvac.com", role_name="my-role", mount_point="pki"):
    c.sys.enable_secrets_engine(backend_type="pki", path=mount_point)
    c.write(path=f"{mount_point}/root/generate/internal", common_name=common_name, ttl="8760h")
    c.write(
        path=f"{mount_point}/config/urls",
        issuing_certificates="http://127.0.0.1:8200/v1/pki/ca",
        crl_distribution_points="http://127.0.0.1:8200/v1/pki/crl",
    )
    c.write(
        path=f"{mount_point}/roles/{role_name}",
        allowed_domains=common_name,
        allow_subdomains=True,
        generate_lease=True,
        max_ttl="72h",
    )


@pytest.fixture
def leased(dev_server):
    c = slow_client(dev_server)
    configure_pki(c)
    return c


def issue_leased(c):
    resp = c.write(path="pki/issue/my-role", common_name="test.hvac.com")
    assert resp["lease_id"].startswith("pki/issue/my-role/")
    assert resp["renewable"] is False
    # the lease lives as long as the certificate: the role's max_ttl
    assert 72 * 3600 - 60 < resp["lease_duration"] <= 72 * 3600
    return resp


def revoked_time(c, serial):
    return c.secrets.pki.read_certificate(serial, mount_point="pki")["data"]["revocation_time"]


def test_lease_read(leased):
    resp = issue_leased(leased)
    got = leased.sys.read_lease(lease_id=resp["lease_id"])
    assert got["data"]["id"] == resp["lease_id"]
    assert got["data"]["renewable"] is False


def test_lease_list(leased):
    issue_leased(leased)
    assert "issue/" in leased.sys.list_leases(prefix="pki")["data"]["keys"]


def test_lease_revoke_revokes_the_certificate(leased):
    resp = issue_leased(leased)
    serial = resp["data"]["serial_number"]
    assert revoked_time(leased, serial) == 0
    assert bool(leased.sys.revoke_lease(lease_id=resp["lease_id"])) is True
    with pytest.raises(hvac.exceptions.InvalidPath):
        leased.sys.list_leases(prefix="pki")
    assert revoked_time(leased, serial) > 0


def test_lease_revoke_prefix(leased):
    resp = issue_leased(leased)
    assert bool(leased.sys.revoke_prefix(prefix=resp["lease_id"])) is True
    wait_until(lambda: revoked_time(leased, resp["data"]["serial_number"]) > 0, 10, what="revocation")


def test_lease_revoke_force(leased):
    resp = issue_leased(leased)
    assert bool(leased.sys.revoke_force(resp["lease_id"])) is True


def test_lease_renew_is_refused_as_vault(leased):
    resp = issue_leased(leased)
    expect_400(lambda: leased.sys.renew_lease(lease_id=resp["lease_id"]), "not renewable")


def test_no_lease_without_generate_lease(leased):
    leased.write(path="pki/roles/plain", allowed_domains="hvac.com", allow_subdomains=True, ttl="1h")
    resp = leased.write(path="pki/issue/plain", common_name="x.hvac.com")
    assert not resp.get("lease_id")
    assert resp["data"]["serial_number"]
    # no_store implies no lease, even when generate_lease was asked for
    leased.write(
        path="pki/roles/nostore", allowed_domains="hvac.com", allow_subdomains=True, ttl="1h",
        generate_lease=True, no_store=True,
    )
    resp = leased.write(path="pki/issue/nostore", common_name="y.hvac.com")
    assert not resp.get("lease_id")
    with pytest.raises(hvac.exceptions.InvalidPath):
        leased.sys.list_leases(prefix="pki")
