"""coffer server --config=FILE: Vault's server config file (HCL). Each key is
checked through its effect (the listener, TLS, the body limit, storage on
SQLite and PostgreSQL, cluster_name, log_level, X-Forwarded-For); a typo or a
bad value names FILE:LINE and exits 2; flags win over the file; SIGHUP swaps
the TLS certificate without dropping an open keep-alive connection and
changes the log level."""

import http.client
import os
import signal
import ssl
import subprocess

import hvac
import pytest
import requests

from cofferlib import LOOPBACK, coffer_bin, free_port, make_client, raw_request, wait_until
from test_tls_reload import _der, _health, _peer_der, _replace, _selfsigned
from test_xff import login


class ConfigServer:
    """A server started with --config (and optional flags), on the address the
    file names: no --listen is added."""

    def __init__(self, tmp_path, text, flags=(), port=None, tls_ctx=None):
        self.dir = tmp_path
        self.port = port
        self.config = tmp_path / "coffer.hcl"
        self.config.write_text(text)
        self.log_path = tmp_path / "server.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(coffer_bin()), "server", f"--config={self.config}", *flags],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp_path)
        log.close()
        self.tls_ctx = tls_ctx

    @property
    def addr(self):
        return f"{'https' if self.tls_ctx else 'http'}://{LOOPBACK}:{self.port}"

    def wait_up(self):
        def up():
            assert self.proc.poll() is None, self.log()
            try:
                if self.tls_ctx:
                    return _peer_der(self.port, self.tls_ctx) is not None
                return raw_request(self.addr, "GET", "/v1/sys/seal-status", timeout=2).status == 200
            except OSError:
                return False
        wait_until(up, 20, what="the server to listen")
        return self

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=20) == 0


@pytest.fixture
def started(request):
    servers = []
    yield servers
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(timeout=10)


def run_config(tmp_path, text, *flags):
    cfg = tmp_path / "bad.hcl"
    cfg.write_text(text)
    return subprocess.run([str(coffer_bin()), "server", f"--config={cfg}", *flags],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def init_unseal(addr, verify=None):
    if verify is None:
        c = make_client(addr)
    else:
        session = requests.Session()
        session.trust_env = False
        c = hvac.Client(url=addr, session=session, verify=verify, timeout=30)
    res = c.sys.initialize(secret_shares=1, secret_threshold=1)
    c.sys.submit_unseal_keys(res["keys"])
    return res["root_token"]


def test_every_key_on_sqlite(tmp_path, started):
    port, db = free_port(), tmp_path / "data" / "coffer.db"
    db.parent.mkdir()
    text = f'''
# a Vault-style server config
storage "sqlite" {{
  path = "{db}"
}}

listener "tcp" {{
  address          = "{LOOPBACK}:{port}"
  tls_disable      = true
  max_request_size = 4096
  x_forwarded_for_authorized_addrs      = ["127.0.0.1/32"]
  x_forwarded_for_reject_not_authorized = true
  telemetry {{
    unauthenticated_metrics_access = true
  }}
}}

api_addr          = "http://{LOOPBACK}:{port}"
cluster_name      = "blue-cluster"
log_level         = "debug"
default_lease_ttl = "1h"
max_lease_ttl     = "24h"
ui                = true
disable_mlock     = true

telemetry {{
  prometheus_retention_time = "30s"
  disable_hostname          = true
}}
'''
    srv = ConfigServer(tmp_path, text, port=port)
    started.append(srv)
    srv.wait_up()
    token = init_unseal(srv.addr)
    # storage: the file named by path holds the store
    assert db.exists() and db.stat().st_size > 0
    # cluster_name
    st = raw_request(srv.addr, "GET", "/v1/sys/seal-status").json()
    assert st["cluster_name"] == "blue-cluster"
    health = raw_request(srv.addr, "GET", "/v1/sys/health").json()
    assert health["cluster_name"] == "blue-cluster"
    # log_level debug: verbose lines are written (unseal logs the barrier cipher)
    assert "storage barrier:" in srv.log()
    # default_lease_ttl / max_lease_ttl: the system defaults of a token
    c = make_client(srv.addr, token)
    assert c.auth.token.create(policies=["default"])["auth"]["lease_duration"] == 3600
    assert c.auth.token.create(policies=["default"], ttl="48h")["auth"]["lease_duration"] == 86400
    # max_request_size: a larger body is 413, a small one is served
    big = raw_request(srv.addr, "POST", "/v1/secret/data/x", body={"data": {"v": "a" * 5000}},
                      token=token)
    assert big.status == 413, big
    # the listener's X-Forwarded-For settings: reject mode from a non-proxy
    r = login(srv.addr, "nobody", "x", source="127.0.0.9", xff="10.0.0.1")
    assert r.status == 400 and "X-Forwarded-For" in r.text
    # the listener's telemetry: sys/metrics answers without a token
    m = raw_request(srv.addr, "GET", "/v1/sys/metrics?format=prometheus")
    assert m.status == 200 and "coffer_sealed 0\n" in m.text, m
    srv.stop()


def test_default_log_level_hides_verbose_lines(tmp_path, started):
    port = free_port()
    srv = ConfigServer(tmp_path, f'storage "sqlite" {{ path = "{tmp_path}/c.db" }}\n'
                                 f'listener "tcp" {{ address = "{LOOPBACK}:{port}" }}\n',
                       port=port)
    started.append(srv)
    srv.wait_up()
    init_unseal(srv.addr)
    srv.stop()
    assert "storage barrier:" not in srv.log()
    assert f"listening on http://{LOOPBACK}:{port}" in srv.log()


def test_postgres_storage_block(tmp_path, started, pg):
    tag = os.urandom(5).hex()
    user, password, schema = f"coffer_{tag}", "pw-" + os.urandom(12).hex(), f"cfg_{tag}"
    pg.create_role(user, password=password)
    pg.query(f'GRANT CREATE ON DATABASE postgres TO "{user}"')
    port = free_port()
    text = f'''
storage "postgres" {{
  connection_url  = "postgresql://{user}:{password}@127.0.0.1:{pg.port}/postgres?sslmode=disable"
  schema          = "{schema}"
  max_connections = 4
}}
listener "tcp" {{
  address = "{LOOPBACK}:{port}"
}}
'''
    srv = ConfigServer(tmp_path, text, port=port)
    started.append(srv)
    srv.wait_up()
    token = init_unseal(srv.addr)
    c = make_client(srv.addr, token)
    c.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    c.secrets.kv.v2.create_or_update_secret("app", {"k": "v"})
    rows = pg.query_rows("SELECT count(*) FROM information_schema.tables "
                         f"WHERE table_schema = '{schema}'")
    assert int(rows[0][0]) >= 1
    # the password never reaches the log
    assert password not in srv.log()
    srv.stop()


@pytest.mark.parametrize("text,line,what", [
    ('storage "sqlite" {\n  path = "x.db"\n}\nlistener "tcp" {\n  adress = "127.0.0.1:1"\n}\n',
     5, 'unknown key "adress"'),
    ('cluster_name = "a"\nlog_levl = "info"\n', 2, 'unknown key "log_levl"'),
    ('storage "sqlite" {\n  path = 3\n}\n', 2, "path must be a string"),
    ('listener "tcp" {\n  address = "127.0.0.1:1"\n\n  max_request_size = "lots"\n}\n', 4,
     "max_request_size"),
    ('log_level = "loud"\n', 1, "log_level"),
    ('default_lease_ttl = "1 hour"\n', 1, "default_lease_ttl"),
    ('storage "etcd" {\n}\n', 1, "unknown storage type"),
    ('listener "tcp" {\n  x_forwarded_for_authorized_addrs = ["10.0.0.0/40"]\n}\n', 2,
     "10.0.0.0/40"),
    ('telemetry {\n  disable_hostname = "maybe"\n}\n', 2, "disable_hostname"),
    ('storage "postgres" {\n  connection_url = "postgres://u:p@h/db"\n  max_connections = 0\n}\n',
     3, "max_connections"),
    ('cluster_name = "a"\nstorage "sqlite" {\n  path = "x"\n', 4, "expected '}'"),
])
def test_errors_name_file_and_line(tmp_path, text, line, what):
    r = run_config(tmp_path, text, "--storage=memory:")
    assert r.returncode == 2, r.stderr
    assert f"bad.hcl:{line}:" in r.stderr, r.stderr
    assert what in r.stderr, r.stderr


def test_a_password_in_a_bad_file_is_not_echoed(tmp_path):
    r = run_config(tmp_path, 'storage "postgres" {\n  connection_url = "mysql://u:s3cr3t@h/db"\n}\n')
    assert r.returncode == 2
    assert "bad.hcl:2:" in r.stderr and "s3cr3t" not in r.stderr


def test_a_missing_file(tmp_path):
    r = subprocess.run([str(coffer_bin()), "server", f"--config={tmp_path}/none.hcl"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "none.hcl" in r.stderr


def test_flags_win_over_the_file(tmp_path, started):
    file_port, flag_port = free_port(), free_port()
    text = f'''
storage "sqlite" {{ path = "{tmp_path}/file.db" }}
listener "tcp" {{
  address = "{LOOPBACK}:{file_port}"
  max_request_size = 4096
}}
log_level = "debug"
'''
    srv = ConfigServer(tmp_path, text, port=flag_port,
                       flags=[f"--listen={LOOPBACK}:{flag_port}", f"--storage=sqlite:{tmp_path}/flag.db",
                              "--max-request-size=100000", "--log-level=info"])
    started.append(srv)
    srv.wait_up()
    token = init_unseal(srv.addr)
    assert (tmp_path / "flag.db").exists() and not (tmp_path / "file.db").exists()
    with pytest.raises(OSError):
        raw_request(f"http://{LOOPBACK}:{file_port}", "GET", "/v1/sys/health", timeout=2)
    r = raw_request(srv.addr, "POST", "/v1/secret/data/x", body={"data": {"v": "a" * 5000}},
                    token=token)
    assert r.status != 413, r
    assert "storage barrier:" not in srv.log()  # --log-level=info beat "debug"
    srv.stop()


def test_sighup_swaps_tls_from_the_file_and_the_log_level(tmp_path, started):
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
    base = f'''
storage "sqlite" {{ path = "{tmp_path}/tls.db" }}
listener "tcp" {{
  address       = "{LOOPBACK}:{port}"
  tls_cert_file = "{cert}"
  tls_key_file  = "{key}"
}}
'''
    srv = ConfigServer(tmp_path, base + 'log_level = "info"\n', port=port, tls_ctx=ctx)
    started.append(srv)
    srv.wait_up()
    assert _peer_der(port, ctx) == _der(a_cert)

    conn = http.client.HTTPSConnection(LOOPBACK, port, context=ctx, timeout=10)
    assert _health(conn)[0] in (200, 501)
    sock_before = conn.sock

    # new certificate files and a new log level, then SIGHUP
    _replace(key, b_key.read_bytes())
    _replace(cert, b_cert.read_bytes())
    srv.config.write_text(base + 'log_level = "debug"\n')
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: _peer_der(port, ctx) == _der(b_cert), 10,
               what="new connections get the new certificate")
    wait_until(lambda: "SIGHUP: log level set" in srv.log(), 10, what="the log level reload")

    # the keep-alive connection made before goes on, on the same socket
    assert _health(conn)[0] in (200, 501)
    assert conn.sock is sock_before
    assert conn.sock.getpeercert(binary_form=True) == _der(a_cert)
    conn.close()

    # the new level is in force: unseal writes a verbose line
    init_unseal(srv.addr, verify=str(bundle))
    assert "storage barrier:" in srv.log()

    # a file that no longer parses changes nothing, with one line in the log
    srv.config.write_text(base + 'log_level = "debug"\nbogus = 1\n')
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "keeping the current settings" in srv.log(), 10, what="the reload error")
    assert "coffer.hcl:9:" in srv.log()
    assert srv.proc.poll() is None
    srv.stop()
