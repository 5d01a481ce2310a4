"""GET /v1/sys/metrics?format=prometheus (Vault's sys/metrics): the exposition
passes `promtool check metrics`, counters move with requests, access needs read
on sys/metrics unless the server runs with --unauthenticated-metrics-access, and
no token, secret or raw request path ever appears in the output."""

import os
import re
import shutil
import socket
import subprocess

import pytest

from cofferlib import wait_until


PATH = "/v1/sys/metrics?format=prometheus"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels.items())): float} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """Sum over every series of name whose labels include these."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def scrape(srv, token):
    r = srv.raw("GET", PATH, token=token)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


@pytest.fixture
def sqlite_dev(server_factory, tmp_path):
    """A dev server on SQLite storage (group commit, durable writes)."""
    token = "root-" + os.urandom(8).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}", f"--storage=sqlite:{tmp_path / 'm.db'}"],
                         name="metrics")
    srv.token = token
    return srv


def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: run scripts/bootstrap (Debian package prometheus)")
    return path


def test_promtool_accepts_the_exposition(sqlite_dev):
    tok = sqlite_dev.token
    for i in range(5):
        assert sqlite_dev.raw("POST", f"/v1/secret/data/app{i}", {"data": {"k": "v"}}, token=tok).status == 200
        assert sqlite_dev.raw("GET", f"/v1/secret/data/app{i}", token=tok).status == 200
    assert sqlite_dev.raw("GET", "/v1/secret/data/missing", token=tok).status == 404
    text = scrape(sqlite_dev, tok)
    res = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "" and res.stderr.strip() == "", res.stdout + res.stderr
    s = parse(text)
    # Every family the docs list is there, with its type.
    for name, kind in [("coffer_requests_total", "counter"),
                       ("coffer_request_duration_seconds", "histogram"),
                       ("coffer_storage_operation_duration_seconds", "histogram"),
                       ("coffer_storage_commits_total", "counter"),
                       ("coffer_storage_commit_writes", "histogram"),
                       ("coffer_audit_write_duration_seconds", "histogram"),
                       ("coffer_rotation_failures_total", "counter"),
                       ("coffer_webhook_delivery_failures_total", "counter"),
                       ("coffer_leases", "gauge"), ("coffer_tokens", "gauge"),
                       ("coffer_rotation_jobs", "gauge"), ("coffer_rotation_adoption_percent", "gauge"),
                       ("coffer_events_outbox_depth", "gauge"), ("coffer_ha_active", "gauge"),
                       ("coffer_sealed", "gauge")]:
        assert f"# TYPE {name} {kind}\n" in text, name
    assert value(s, "coffer_sealed") == 0
    assert value(s, "coffer_ha_active") == 1
    assert value(s, "coffer_tokens") >= 1
    assert value(s, "coffer_requests_total", mount_type="kv", route="data/*", code="404") == 1
    assert value(s, "coffer_storage_commits_total", backend="sqlite") >= 5
    assert value(s, "coffer_storage_commit_writes_count", backend="sqlite") >= 5
    assert value(s, "coffer_storage_operation_duration_seconds_count", backend="sqlite", op="get") > 0
    # Histograms: cumulative buckets ending at +Inf, which equals _count.
    h = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in s.items()
                if n == "coffer_request_duration_seconds_bucket"
                and ("route", "data/*") in ls and ("code", "200") in ls),
               key=lambda x: x[0])
    assert h and h[-1][0] == float("inf")
    assert all(a[1] <= b[1] for a, b in zip(h, h[1:]))
    assert h[-1][1] == value(s, "coffer_request_duration_seconds_count", mount_type="kv", route="data/*",
                             code="200") == 10


def test_counters_move_with_requests(dev_server):
    dev = dev_server
    assert dev.raw("POST", "/v1/secret/data/counted", {"data": {"a": "1"}}).status == 200
    before = parse(scrape(dev.server, dev.token))
    n = 25
    for _ in range(n):
        assert dev.raw("GET", "/v1/secret/data/counted").status == 200
    after = parse(scrape(dev.server, dev.token))
    key = dict(mount_type="kv", route="data/*", code="200")
    assert value(after, "coffer_requests_total", **key) - value(before, "coffer_requests_total", **key) >= n
    assert (value(after, "coffer_request_duration_seconds_count", **key)
            - value(before, "coffer_request_duration_seconds_count", **key)) >= n
    get = dict(backend="memory", op="get")
    assert (value(after, "coffer_storage_operation_duration_seconds_count", **get)
            - value(before, "coffer_storage_operation_duration_seconds_count", **get)) >= n
    # The scrape itself is a request on the system backend's "metrics" route.
    assert value(after, "coffer_requests_total", mount_type="system", route="metrics", code="200") >= 1
    # Tokens are read at scrape time.
    t0 = value(after, "coffer_tokens")
    for _ in range(3):
        dev.client.auth.token.create(policies=["default"])
    assert value(parse(scrape(dev.server, dev.token)), "coffer_tokens") == t0 + 3


def test_access_needs_read_on_sys_metrics(dev_server):
    dev = dev_server
    r = dev.raw("GET", PATH, token=None)
    assert r.status == 403, r
    dev.client.sys.create_or_update_policy("other", 'path "secret/*" { capabilities = ["read"] }')
    dev.client.sys.create_or_update_policy("metrics", 'path "sys/metrics" { capabilities = ["read"] }')
    denied = dev.client.auth.token.create(policies=["other"])["auth"]["client_token"]
    allowed = dev.client.auth.token.create(policies=["metrics"])["auth"]["client_token"]
    r = dev.raw("GET", PATH, token=denied)
    assert r.status == 403, r
    assert "permission denied" in r.errors()
    r = dev.raw("GET", PATH, token=allowed)
    assert r.status == 200, r
    assert "# TYPE coffer_requests_total counter" in r.text
    # Refusals are counted too, under the route they asked for.
    s = parse(r.text)
    assert value(s, "coffer_requests_total", mount_type="system", route="metrics", code="403") >= 2


def test_json_format_is_refused_clearly(dev_server):
    r = dev_server.raw("GET", "/v1/sys/metrics")
    assert r.status == 400, r
    assert any("format=prometheus" in e for e in r.errors())


def test_unauthenticated_flag(server_factory):
    token = "root-" + os.urandom(8).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}", "--unauthenticated-metrics-access"],
                         name="open")
    r = srv.raw("GET", PATH)
    assert r.status == 200, r
    assert "coffer_sealed 0\n" in r.text
    # Without the flag the same request is refused (test_access_needs_read_on_sys_metrics).


def test_no_secret_token_or_path_in_output(dev_server):
    dev = dev_server
    secret = "s3cr3t-" + os.urandom(12).hex()
    path_word = "plantedpath" + os.urandom(6).hex()
    assert dev.raw("POST", f"/v1/secret/data/{path_word}", {"data": {"password": secret}}).status == 200
    assert dev.raw("GET", f"/v1/secret/data/{path_word}").status == 200
    child = dev.client.auth.token.create(policies=["default"])["auth"]
    assert dev.raw("GET", "/v1/auth/token/lookup-self", token=child["client_token"]).status == 200
    # A bad token and an unknown path are refused, and must not show either.
    bogus = "hvs.bogus" + os.urandom(8).hex()
    assert dev.raw("GET", f"/v1/secret/data/{path_word}", token=bogus).status == 403
    assert dev.raw("GET", f"/v1/{path_word}/x").status == 404
    text = scrape(dev.server, dev.token)
    for needle in (secret, path_word, dev.token, child["client_token"], child["accessor"], bogus,
                   child["client_token"].split(".", 1)[-1]):
        assert needle not in text, needle
    assert "route=\"data/*\"" in text  # the route pattern stands in for the path


def test_leases_by_mount(dbe):
    """Leases are counted by mount path at scrape time, and drop when revoked."""
    dbe.create_role("m", default_ttl=600, max_ttl=1200)
    creds = [dbe.creds("m") for _ in range(3)]
    s = parse(dbe.server.raw("GET", PATH, token=dbe.token).text)
    assert value(s, "coffer_leases", mount="database/") == 3
    dbe.client.sys.revoke_lease(creds[0].lease_id)
    text = dbe.server.raw("GET", PATH, token=dbe.token).text
    assert value(parse(text), "coffer_leases", mount="database/") == 2
    for c in creds:  # neither lease IDs nor the database credentials show
        assert c.lease_id.split("/")[-1] not in text
        assert c.username not in text and c.password not in text


def test_rotation_jobs_and_adoption(dev_server):
    """Rotation jobs by state and a job's adoption percent, read at scrape time,
    agree with sys/rotation/jobs/:name."""
    dev = dev_server
    assert dev.raw("POST", "/v1/secret/data/app/api", {"data": {"key": "sk_old"}}).status == 200
    r = dev.raw("POST", "/v1/sys/rotation/jobs/api", {"template": "api-key", "mount": "secret/",
                                                       "path": "app/api", "keys": {"key": {}},
                                                       "grace": "1h"})
    assert r.status == 200, r
    s = parse(scrape(dev.server, dev.token))
    assert value(s, "coffer_rotation_jobs", state="idle") == 1
    assert value(s, "coffer_rotation_jobs", state="grace") == 0
    # Two consumers read version 1; the rotation makes version 2; one moves to it.
    for who in ("svc-a", "svc-b"):
        assert dev.raw("GET", "/v1/secret/data/app/api", headers={"X-Coffer-Consumer": who}).status == 200
    assert dev.raw("POST", "/v1/sys/rotation/jobs/api/rotate", {"reason": "t"}).status == 200
    assert dev.raw("GET", "/v1/secret/data/app/api", headers={"X-Coffer-Consumer": "svc-a"}).status == 200
    text = scrape(dev.server, dev.token)
    s = parse(text)
    assert value(s, "coffer_rotation_jobs", state="grace") == 1
    assert value(s, "coffer_rotation_jobs", state="idle") == 0
    st = dev.raw("GET", "/v1/sys/rotation/jobs/api").json()["data"]
    assert st["adoption_percent"] == 50
    assert value(s, "coffer_rotation_adoption_percent", job="api") == 50
    assert "sk_old" not in text and "svc-a" not in text


def test_webhook_failures_and_outbox_depth(dev_server):
    """A webhook whose receiver is down: each failed attempt is counted and the
    delivery waits for its retry in the outbox."""
    dev = dev_server
    with socket.socket() as sk:  # a loopback port nobody listens on
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    secret = "whsec-" + os.urandom(8).hex()
    r = dev.raw("PUT", "/v1/sys/notify/webhooks/down", {"url": f"http://127.0.0.1:{port}/hook",
                                                          "secret": secret})
    assert r.status in (200, 204), r
    s = parse(scrape(dev.server, dev.token))
    assert value(s, "coffer_webhook_delivery_failures_total") == 0
    assert value(s, "coffer_events_outbox_depth") == 0
    r = dev.raw("POST", "/v1/sys/events/test", {"type": "test.metrics"})
    assert r.status == 200, r

    def failed():
        s = parse(scrape(dev.server, dev.token))
        return value(s, "coffer_webhook_delivery_failures_total") >= 1 and s
    s = wait_until(failed, 15, what="a failed delivery counted")
    assert value(s, "coffer_events_outbox_depth") == 1  # waiting for its retry
    text = scrape(dev.server, dev.token)
    assert secret not in text and f"127.0.0.1:{port}" not in text
