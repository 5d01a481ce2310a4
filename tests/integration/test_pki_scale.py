"""The pki engine at scale: 100,000 stored certificates (no_store=false,
generate_lease=false) cost no timer and no start-up work, and a revoke still
rebuilds the CRL at once; then 100,000 revoked certificates on one CRL.

The certificates are made by the engine's test helper test/bulk-certs (a test
build with COFFER_TEST_PKI_BULK=1): real certificates signed by the mount's CA
and written as the same certs/ and revoked/ rows issue and revoke write, in
large transactions, so the mount fills in seconds instead of through 100,000
HTTP requests. Timings are printed; bench/pki_scale reports them as ratios. This
test asserts what must hold whatever the machine's load: nothing is lost, the
CRL is complete and verifies, OCSP answers, no lease exists, and the restart
does not grow with the store (a generous bound, not a benchmark)."""

import os
import statistics
import subprocess
import time

from cryptography import x509
from cryptography.x509 import ocsp

from cofferlib import raw_request
from test_pki_revoke import Pki, crl_serials, ok

COUNT = int(os.environ.get("PKI_SCALE_COUNT", "100000"))
CHUNK = 20000


def bulk(pki, count, revoked=False):
    serials = []
    left = count
    while left > 0:
        n = min(CHUNK, left)
        data = ok(
            raw_request(
                pki.addr,
                "POST",
                "/v1/pki/test/bulk-certs",
                {"count": n, "ttl": "24h", "revoked": revoked},
                token=pki.token,
                timeout=600,
            )
        ).json()["data"]
        assert data["count"] == n
        serials += data["serials"]
        left -= n
    return serials


def revoke(pki, serial):
    return ok(
        raw_request(pki.addr, "POST", "/v1/pki/revoke", {"serial_number": serial}, token=pki.token, timeout=120)
    ).json()["data"]


def restart_to_ready(srv):
    """Seconds from spawn to a pki mount answering again (unsealed, mount loaded)."""
    srv.stop()
    t0 = time.monotonic()
    srv.start()
    srv.unseal(srv.keys[:3])
    ok(raw_request(srv.addr, "GET", "/v1/pki/ca/pem"))
    return time.monotonic() - t0


def test_pki_at_scale(server_factory, tmp_path):
    srv = server_factory(
        [f"--storage=sqlite:{tmp_path / 'scale.db'}"],
        name="scale",
        ready="any",
        extra_env={"COFFER_TEST_PKI_BULK": "1"},
    )
    srv.init_unseal()
    pki = Pki.__new__(Pki)
    pki.server, pki.token, pki.tmp = srv, srv.root_token, tmp_path
    ok(pki.raw("POST", "/v1/sys/mounts/pki", {"type": "pki", "config": {"max_lease_ttl": "87600h"}}), 204)
    ca = ok(
        pki.raw("POST", "/v1/pki/root/generate/internal", {"common_name": "Scale Root", "key_type": "ec", "ttl": "8760h"})
    ).json()["data"]["certificate"]
    pki.ca = x509.load_pem_x509_certificate(ca.encode())
    pki.ca_file = tmp_path / "ca.pem"
    pki.ca_file.write_text(ca)

    empty = statistics.median(restart_to_ready(srv) for _ in range(3))

    t0 = time.monotonic()
    serials = bulk(pki, COUNT)
    fill = time.monotonic() - t0
    # no lease per certificate
    leases = raw_request(srv.addr, "LIST", "/v1/sys/leases/lookup/pki/", token=srv.root_token)
    assert leases.status == 404 or not leases.json()["data"]["keys"]

    full = statistics.median(restart_to_ready(srv) for _ in range(3))
    print(f"\npki_scale: stored {COUNT} certificates in {fill:.1f}s; restart-to-ready empty {empty * 1000:.0f} ms, "
          f"with {COUNT} certificates {full * 1000:.0f} ms (ratio {full / empty:.2f})")
    # generous: start-up reads no certificate, so the store's size must not show
    assert full <= 2 * empty + 0.5, (empty, full)

    # revoke one of them: on the CRL at once, OCSP says revoked, a neighbour good
    victim = serials[0]
    t0 = time.monotonic()
    at = revoke(pki, victim)["revocation_time"]
    revoke_s = time.monotonic() - t0
    crl, path = pki.crl()
    assert crl_serials(crl) == {int(victim.replace(":", ""), 16)}
    assert pki.ocsp_py(int(victim.replace(":", ""), 16)).certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert pki.ocsp_py(int(serials[1].replace(":", ""), 16)).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert at > 0

    # now COUNT revoked certificates: the CRL lists every one, and one more
    # revoke rebuilds it with all of them
    revoked = bulk(pki, COUNT, revoked=True)
    # the first build reads every revoked/ row (the bulk rows made the stored CRL stale)
    ok(raw_request(pki.addr, "GET", "/v1/pki/crl/rotate", token=pki.token, timeout=300))
    t0 = time.monotonic()
    revoke(pki, serials[2])
    rebuild_s = time.monotonic() - t0
    # after a restart the index comes from the stored CRL, not from 100,000 rows
    srv.restart()
    srv.unseal(srv.keys[:3])
    t0 = time.monotonic()
    revoke(pki, serials[3])
    restarted_s = time.monotonic() - t0
    crl, path = pki.crl()
    listed = crl_serials(crl)
    assert len(listed) == COUNT + 3
    assert {int(s.replace(":", ""), 16) for s in revoked + [victim, serials[2], serials[3]]} <= listed
    out = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(path), "-CAfile", str(pki.ca_file), "-noout", "-verify"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "verify OK" in out.stdout + out.stderr, out.stdout + out.stderr
    print(f"pki_scale: revoke with 1 revoked {revoke_s * 1000:.0f} ms; with {COUNT + 1} revoked "
          f"{rebuild_s * 1000:.0f} ms, the first after a restart {restarted_s * 1000:.0f} ms "
          f"(CRL {path.stat().st_size} bytes)")
