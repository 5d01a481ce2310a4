"""`coffer pki issue` (docs/pki.md "CLI"): certificate, key (mode 0600) and
chain files written atomically, or one pem bundle; serial and expiration
printed; and `coffer rotation create --template=tls-certificate`."""

import json
import os
import stat
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rotlib import ok


def setup_pki(dev):
    ok(dev.raw("POST", "/v1/sys/mounts/pki", {"type": "pki"}))
    ok(dev.raw("POST", "/v1/pki/root/generate/internal",
               {"common_name": "CLI Test Root", "ttl": "8760h", "key_type": "ec"}))
    ok(dev.raw("POST", "/v1/pki/roles/web",
               {"allowed_domains": "example.com", "allow_subdomains": True,
                "allow_ip_sans": True, "key_type": "ec", "max_ttl": "72h"}))


def cli(run_cli, dev, *args):
    return run_cli(*args, addr=dev.addr, token=dev.token)


def verify(ca, leaf):
    return subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(leaf)],
                          capture_output=True, text=True)


def test_issue_writes_cert_key_and_chain(dev_server, run_cli, tmp_path):
    setup_pki(dev_server)
    out = tmp_path / "certs"
    out.mkdir()
    r = cli(run_cli, dev_server, "pki", "issue", "web", "common_name=app.example.com",
            "alt_names=www.example.com", "ip_sans=127.0.0.1", "ttl=2h", f"--out={out}/app")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["app.ca.pem", "app.crt", "app.key"]  # no temp files left
    assert stat.S_IMODE(os.stat(out / "app.key").st_mode) == 0o600
    assert verify(out / "app.ca.pem", out / "app.crt").returncode == 0
    cert = x509.load_pem_x509_certificate((out / "app.crt").read_bytes())
    key = serialization.load_pem_private_key((out / "app.key").read_bytes(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"app.example.com", "www.example.com"}
    serial = "%x" % cert.serial_number
    printed = r.stdout.replace(":", "").lower()
    assert serial.rjust(len(serial) + len(serial) % 2, "0") in printed
    assert cert.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ") in r.stdout
    assert "BEGIN" not in r.stdout  # the key is never printed

    # issuing again replaces the files whole
    r = cli(run_cli, dev_server, "pki", "issue", "web", "common_name=app.example.com",
            f"--out={out}/app")
    assert r.returncode == 0, r.stderr
    cert2 = x509.load_pem_x509_certificate((out / "app.crt").read_bytes())
    key2 = serialization.load_pem_private_key((out / "app.key").read_bytes(), None)
    assert cert2.serial_number != cert.serial_number
    assert cert2.public_key().public_numbers() == key2.public_key().public_numbers()
    assert sorted(os.listdir(out)) == ["app.ca.pem", "app.crt", "app.key"]


def test_issue_pem_bundle_and_json(dev_server, run_cli, tmp_path):
    setup_pki(dev_server)
    r = cli(run_cli, dev_server, "pki", "issue", "--mount=pki/", "--format=pem-bundle",
            f"--out={tmp_path}/b", "web", "common_name=b.example.com")
    assert r.returncode == 0, r.stderr
    pem = (tmp_path / "b.pem").read_text()
    assert stat.S_IMODE(os.stat(tmp_path / "b.pem").st_mode) == 0o600
    assert pem.count("BEGIN CERTIFICATE") == 2 and "PRIVATE KEY" in pem
    assert not (tmp_path / "b.key").exists() and not (tmp_path / "b.crt").exists()
    first = pem[pem.index("-----BEGIN CERTIFICATE"):]
    leaf = x509.load_pem_x509_certificate(first.encode())
    key = serialization.load_pem_private_key(pem.encode(), None)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()

    r = cli(run_cli, dev_server, "pki", "issue", "--format=json", f"--out={tmp_path}/j", "web",
            "common_name=j.example.com")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert set(got) == {"serial_number", "expiration", "files"}
    assert got["files"] == [f"{tmp_path}/j.key", f"{tmp_path}/j.crt", f"{tmp_path}/j.ca.pem"]


def test_issue_errors_write_nothing(dev_server, run_cli, tmp_path):
    setup_pki(dev_server)
    r = cli(run_cli, dev_server, "pki", "issue", "web", f"--out={tmp_path}/x",
            "common_name=evil.test")
    assert r.returncode != 0 and "evil.test" in r.stderr, r.stderr
    r2 = cli(run_cli, dev_server, "pki", "issue", "web", f"--out={tmp_path}/x", "ttl=1h")
    assert r2.returncode == 2 and "common_name" in r2.stderr
    r3 = cli(run_cli, dev_server, "pki", "issue", "--format=der", "web", "common_name=a.example.com")
    assert r3.returncode == 2 and "--format" in r3.stderr
    assert not [p for p in os.listdir(tmp_path) if p.startswith("x")]


def test_rotation_create_tls_certificate_from_the_cli(dev_server, run_cli, tmp_path):
    setup_pki(dev_server)
    r = cli(run_cli, dev_server, "rotation", "create", "--template=tls-certificate",
            "--mount=pki", "--role=web", "--common-name=svc.example.com",
            "--alt-names=svc2.example.com", "--ttl=24h", "--renew-before=8h",
            "--path=tls/svc", "svc")
    assert r.returncode == 0, r.stderr
    assert "current version 1" in r.stdout
    data = ok(dev_server.raw("GET", "/v1/secret/data/tls/svc"))["data"]["data"]
    (tmp_path / "leaf.pem").write_text(data["certificate"])
    (tmp_path / "ca.pem").write_text(data["ca_chain"])
    assert verify(tmp_path / "ca.pem", tmp_path / "leaf.pem").returncode == 0
    st = ok(dev_server.raw("GET", "/v1/sys/rotation/jobs/svc"))["data"]
    assert st["renew_before"] == "8h" and st["ttl"] == "24h" and st["role"] == "web"
    # renew_before >= ttl: refused, naming both
    r = cli(run_cli, dev_server, "rotation", "create", "--template=tls-certificate",
            "--mount=pki", "--role=web", "--common-name=x.example.com", "--ttl=1h",
            "--path=tls/x", "x")
    assert r.returncode != 0 and "renew_before" in r.stderr and "ttl" in r.stderr
