"""SIGHUP re-reads --tls-cert/--tls-key: new TLS connections get the new
certificate, an open keep-alive connection goes on, a bad file keeps the old
certificate with one line in the log."""

import http.client
import os
import signal
import socket
import ssl
import subprocess

from cofferlib import LOOPBACK, coffer_bin, free_port, wait_until


def _selfsigned(tmp_path, name, key_type="ec"):
    key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec" \
        else ["-newkey", "rsa:2048"]
    subprocess.run(
        ["openssl", "req", "-x509", *newkey, "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


def _der(cert_path):
    return ssl.PEM_cert_to_DER_cert(cert_path.read_text())


def _replace(path, data):
    """Atomic replacement, as a renewal tool would do it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _peer_der(port, ctx):
    with socket.create_connection((LOOPBACK, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=LOOPBACK) as s:
            return s.getpeercert(binary_form=True)


def _health(conn):
    conn.request("GET", "/v1/sys/health")
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def test_sighup_swaps_the_certificate_without_dropping_connections(tmp_path):
    a_cert, a_key = _selfsigned(tmp_path, "first")
    b_cert, b_key = _selfsigned(tmp_path, "second", key_type="rsa")
    cert, key = tmp_path / "listener.crt", tmp_path / "listener.key"
    cert.write_bytes(a_cert.read_bytes())
    key.write_bytes(a_key.read_bytes())
    os.chmod(key, 0o600)
    bundle = tmp_path / "trust.pem"
    bundle.write_text(a_cert.read_text() + b_cert.read_text())
    ctx = ssl.create_default_context(cafile=str(bundle))

    port = free_port()
    log_path = tmp_path / "server.log"
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [str(coffer_bin()), "server", "--dev", "--dev-root-token=root",
         f"--tls-cert={cert}", f"--tls-key={key}", f"--listen={LOOPBACK}:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    try:
        def up():
            try:
                return _peer_der(port, ctx) is not None
            except OSError:
                return False
        wait_until(up, 15, what="TLS listener")
        assert _peer_der(port, ctx) == _der(a_cert)

        # a keep-alive connection made before the swap
        conn = http.client.HTTPSConnection(LOOPBACK, port, context=ctx, timeout=10)
        assert _health(conn)[0] == 200
        sock_before = conn.sock
        assert sock_before.getpeercert(binary_form=True) == _der(a_cert)

        # renew: new files, then SIGHUP
        _replace(key, b_key.read_bytes())
        _replace(cert, b_cert.read_bytes())
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: _peer_der(port, ctx) == _der(b_cert), 10,
                   what="new connections get the new certificate")

        # the old connection still works, on the same socket and session
        status, body = _health(conn)
        assert status == 200 and b"initialized" in body
        assert conn.sock is sock_before
        assert conn.sock.getpeercert(binary_form=True) == _der(a_cert)
        conn.close()

        # a bad certificate file: the current one stays, one line says why
        _replace(cert, b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "keeping the current TLS certificate" in log_path.read_text(), 10,
                   what="the reload error in the log")
        lines = [ln for ln in log_path.read_text().splitlines()
                 if "keeping the current TLS certificate" in ln]
        assert len(lines) == 1, lines
        assert str(cert) in lines[0]
        assert _peer_der(port, ctx) == _der(b_cert)

        # a key that does not match the certificate is refused the same way
        _replace(cert, a_cert.read_bytes())  # key file still holds b's key
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: log_path.read_text().count("keeping the current TLS certificate") == 2,
                   10, what="the mismatch in the log")
        assert "does not match" in log_path.read_text()
        assert _peer_der(port, ctx) == _der(b_cert)

        # and a good pair again is taken
        _replace(key, a_key.read_bytes())
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: _peer_der(port, ctx) == _der(a_cert), 10,
                   what="the first certificate again")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_a_key_that_does_not_match_is_refused_at_start(tmp_path):
    a_cert, _a_key = _selfsigned(tmp_path, "first")
    _b_cert, b_key = _selfsigned(tmp_path, "second")
    r = subprocess.run(
        [str(coffer_bin()), "server", "--dev", f"--tls-cert={a_cert}", f"--tls-key={b_key}",
         f"--listen={LOOPBACK}:{free_port()}"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert "the key does not match the certificate" in r.stderr, r.stderr
