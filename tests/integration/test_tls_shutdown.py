"""TLS with --tls-cert/--tls-key, and a clean stop on SIGTERM/SIGINT."""

import os
import signal
import ssl
import subprocess
import threading
import urllib.request

import hvac
import pytest

from cofferlib import LOOPBACK, coffer_bin, commit_stats, free_port, wait_until


def _cert(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


def _start(args, tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "ab")
    proc = subprocess.Popen([str(coffer_bin()), "server", *args, f"--listen={LOOPBACK}:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    return proc, port


def _https_ok(url, ctx):
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_tls_serves_https_and_hvac_verifies_the_cert(tmp_path):
    cert, key = _cert(tmp_path)
    proc, port = _start(["--dev", "--dev-root-token=root", f"--tls-cert={cert}",
                         f"--tls-key={key}"], tmp_path)
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        url = f"https://{LOOPBACK}:{port}"
        wait_until(lambda: _https_ok(url + "/v1/sys/health", ctx), 15, what="https health")
        client = hvac.Client(url=url, token="root", verify=str(cert))
        client.secrets.kv.v2.create_or_update_secret(path="tls", secret={"v": "over-tls"})
        got = client.secrets.kv.v2.read_secret_version(path="tls")
        assert got["data"]["data"]["v"] == "over-tls"
        # plain HTTP on the TLS port does not get an answer with data
        with pytest.raises(Exception):
            urllib.request.urlopen(f"http://{LOOPBACK}:{port}/v1/sys/health", timeout=2).read()
        # GnuTLS was loaded for it (src/http/gnutls_dl.c)
        assert "libgnutls" in open(f"/proc/{proc.pid}/maps").read()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_plain_http_never_loads_gnutls(tmp_path):
    """GnuTLS is loaded on first use only: a server without TLS never maps it."""
    proc, port = _start(["--dev", "--dev-root-token=root"], tmp_path)
    try:
        wait_until(lambda: _http_ok(f"http://{LOOPBACK}:{port}"), 15, what="http health")
        maps = open(f"/proc/{proc.pid}/maps").read()
        assert "libgnutls" not in maps and "libnettle" not in maps
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_tls_with_missing_key_file_fails_to_start(tmp_path):
    cert, _key = _cert(tmp_path)
    proc, _port = _start(["--dev", f"--tls-cert={cert}", f"--tls-key={tmp_path}/nope.pem"],
                         tmp_path)
    assert proc.wait(timeout=15) == 2
    assert "TLS" in (tmp_path / "server.log").read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_in_flight_requests_and_exits_0(tmp_path, sig):
    proc, port = _start(["--dev", "--dev-root-token=root"], tmp_path)
    url = f"http://{LOOPBACK}:{port}"
    client = hvac.Client(url=url, token="root")
    wait_until(lambda: _http_ok(url), 15, what="health")
    results, errors = [], []

    def writer(i):
        try:
            client.secrets.kv.v2.create_or_update_secret(path=f"s{i}", secret={"i": str(i)})
            results.append(i)
        except Exception as e:  # the server may stop accepting new requests
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    wait_until(lambda: len(results) + len(errors) >= 5, 15, what="some requests answered")
    proc.send_signal(sig)
    for t in threads:
        t.join(timeout=15)
    assert proc.wait(timeout=15) == 0
    assert results, "no request was answered before the stop"
    assert "stopped" in (tmp_path / "server.log").read_text()


def _http_ok(url):
    try:
        with urllib.request.urlopen(url + "/v1/sys/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_tls_writes_waiting_for_a_commit_are_deferred(tmp_path, slow_fsync_lib):
    """Over TLS, writes that wait for a commit run off the two HTTP threads with
    their connections suspended (as over plain HTTP), so a commit carries more
    writes than there are threads, and every write is answered."""
    cert, key = _cert(tmp_path)
    port = free_port()
    log_path = tmp_path / "server.log"
    env = dict(os.environ, LD_PRELOAD=str(slow_fsync_lib), SLOW_FSYNC_US="20000")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(coffer_bin()), "server", f"--storage=sqlite:{tmp_path / 't.db'}",
                                 f"--tls-cert={cert}", f"--tls-key={key}", "--http-threads=2",
                                 f"--listen={LOOPBACK}:{port}"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        url = f"https://{LOOPBACK}:{port}"
        client = hvac.Client(url=url, verify=str(cert))
        wait_until(lambda: _answers(client), 15, what="https")
        init = client.sys.initialize(secret_shares=1, secret_threshold=1)
        client.sys.submit_unseal_key(init["keys"][0])
        client.token = init["root_token"]
        client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        errors = []
        # Every writer finishes its TLS handshake before any writes, so a slow
        # client machine cannot spread the writes out so thinly that each
        # commit finds only one or two waiting.
        ready = threading.Barrier(16, timeout=60)

        def writer(i):
            try:
                c = hvac.Client(url=url, token=init["root_token"], verify=str(cert))
                c.sys.is_initialized()
                ready.wait()
                for j in range(4):
                    c.secrets.kv.v2.create_or_update_secret(f"w{i}/{j}", {"v": str(j)})
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors[:3]
        assert client.secrets.kv.v2.read_secret_version("w15/3")["data"]["data"] == {"v": "3"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    commits, writes = commit_stats(log_path.read_text())
    assert writes >= 64
    assert writes / commits >= 3, f"{writes} writes in {commits} commits"


def _answers(client):
    try:
        client.sys.is_initialized()
        return True
    except Exception:  # noqa: BLE001
        return False
