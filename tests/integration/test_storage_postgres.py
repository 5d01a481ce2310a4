"""The real server on the PostgreSQL storage backend (--storage=postgres:URL).

Each test gets its own schema (the URL's schema= parameter) and its own login role
with a password, so the password check is real and the logs can be searched for it.
Covers: init / unseal / KV v2 through hvac, restart (sealed, data kept), concurrent
writers (all answered, group commit), PostgreSQL stopped (a clear 5xx within the
timeout, no hang) and started again (the server reconnects, nothing acknowledged is
lost), and `coffer operator migrate` from a store a real SQLite server wrote."""

import http.client
import os
import re
import subprocess
import threading
import time

import pytest

from cofferlib import coffer_bin, free_port, raw_request, wait_until

MOUNT = "kv"
TIMEOUT_S = 3  # the backend's timeout= for these tests


def make_role(pg):
    """A fresh login role with a random password, owner of a fresh schema's
    database rights. Returns (user, password, schema)."""
    tag = os.urandom(5).hex()
    user, password, schema = f"coffer_{tag}", "pw-" + os.urandom(12).hex(), f"coffer_{tag}"
    pg.create_role(user, password=password)
    pg.query(f'GRANT CREATE ON DATABASE postgres TO "{user}"')
    return user, password, schema


def storage_url(pg, user, password, schema, timeout=TIMEOUT_S):
    return (f"postgres:postgresql://{user}:{password}@127.0.0.1:{pg.port}/postgres"
            f"?sslmode=disable&schema={schema}&timeout={timeout}")


@pytest.fixture
def pg_store(pg, server_factory):
    """Factory: a server on a fresh schema of the shared PostgreSQL (started, sealed)."""

    def factory(name="pgnode"):
        user, password, schema = make_role(pg)
        srv = server_factory([f"--storage={storage_url(pg, user, password, schema)}"], name=name,
                             ready="any")
        srv.pg_user, srv.pg_password, srv.pg_schema = user, password, schema
        return srv

    return factory


def prepare(srv):
    token = srv.init_unseal()
    client = srv.client(token)
    client.sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
    client.secrets.kv.v2.configure(max_versions=1000, mount_point=MOUNT)
    return token


def reopen(srv):
    srv.kill9()
    srv.start()
    assert srv.raw("GET", "/v1/sys/health").status == 503, "a restarted server must come up sealed"
    srv.unseal(srv.keys[:3])
    return srv.client(srv.root_token)


def stored_rows(pg, schema):
    return int(pg.query(f'SELECT count(*) FROM "{schema}".coffer_kv'))


def test_kv_on_postgres_survives_restart_sealed(pg, pg_store):
    srv = pg_store()
    assert srv.raw("GET", "/v1/sys/health").status == 501  # not initialized
    token = prepare(srv)
    status = srv.client().sys.read_seal_status()
    assert status["storage_type"] == "postgres"
    kv = srv.client(token).secrets.kv.v2
    marker = "plaintext-" + os.urandom(6).hex()
    for i in range(20):
        kv.create_or_update_secret(f"app/{i}", {"password": f"{marker}-{i}"}, mount_point=MOUNT)
    kv.create_or_update_secret("app/0", {"password": "second"}, mount_point=MOUNT)
    assert kv.read_secret_version("app/3", mount_point=MOUNT)["data"]["data"] == {
        "password": f"{marker}-3"}

    # the schema and table were created where the URL said, and hold only ciphertext
    assert stored_rows(pg, srv.pg_schema) > 20
    hits = pg.query(f"SELECT count(*) FROM \"{srv.pg_schema}\".coffer_kv "
                    f"WHERE position(convert_to('{marker}', 'UTF8') IN value) > 0")
    assert hits == "0"

    root = reopen(srv)
    kv = root.secrets.kv.v2
    for i in range(1, 20):
        assert kv.read_secret_version(f"app/{i}", mount_point=MOUNT)["data"]["data"] == {
            "password": f"{marker}-{i}"}
    assert kv.read_secret_version("app/0", mount_point=MOUNT)["data"]["data"] == {"password": "second"}
    assert kv.list_secrets("app", mount_point=MOUNT)["data"]["keys"] == sorted(
        str(i) for i in range(20))

    # the server's log names the storage, never the password (the harness's own
    # "==== start" lines quote the command line)
    log = "\n".join(line for line in srv.log_text().splitlines() if not line.startswith("===="))
    assert "storage postgres:postgresql://" in log
    assert srv.pg_password not in log
    assert "REDACTED" in log


def test_bad_password_fails_start_without_leaking_it(pg, server_factory, tmp_path):
    user, password, schema = make_role(pg)
    wrong = "wrong-" + os.urandom(8).hex()
    res = subprocess.run([str(coffer_bin()), "server", f"--storage={storage_url(pg, user, wrong, schema)}",
                          f"--listen=127.0.0.1:{free_port()}"], capture_output=True, text=True,
                         timeout=30, cwd=tmp_path)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "cannot open storage postgres:postgresql://" in out
    assert "password authentication failed" in out
    assert wrong not in out
    assert "REDACTED" in out


def test_concurrent_writers_all_answered_and_batched(pg, pg_store):
    srv = pg_store()
    token = prepare(srv)
    host, port = srv.addr.replace("http://", "").split(":")
    writers, per_writer = 16, 25
    errors = []
    acked = {}
    lock = threading.Lock()
    start = threading.Barrier(writers)

    def writer(w):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        start.wait()
        for n in range(per_writer):
            value = f"{w}-{n}-{os.urandom(3).hex()}"
            conn.request("POST", f"/v1/{MOUNT}/data/w{w}/k{n}", body=f'{{"data":{{"v":"{value}"}}}}',
                         headers={"X-Vault-Token": token, "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            with lock:
                if resp.status == 200:
                    acked[f"w{w}/k{n}"] = value
                else:
                    errors.append(resp.status)
        conn.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    assert errors == []
    assert len(acked) == writers * per_writer
    kv = srv.client(token).secrets.kv.v2
    for path, value in acked.items():
        assert kv.read_secret_version(path, mount_point=MOUNT)["data"]["data"] == {"v": value}

    # group commit: the writes shared PostgreSQL transactions
    assert srv.stop() == 0
    m = re.search(r"postgres: (\d+) commits carried (\d+) writes", srv.log_text())
    assert m, srv.log_text()[-2000:]
    commits, writes = int(m.group(1)), int(m.group(2))
    assert writes >= writers * per_writer
    assert commits < writes


def test_outage_errors_fast_then_reconnects_nothing_lost(pg_private, server_factory):
    pg = pg_private
    user, password, schema = make_role(pg)
    srv = server_factory([f"--storage={storage_url(pg, user, password, schema)}"], name="outage",
                         ready="any")
    token = prepare(srv)
    kv = srv.client(token).secrets.kv.v2
    acked = {}
    for i in range(10):
        kv.create_or_update_secret(f"before/{i}", {"v": i}, mount_point=MOUNT)
        acked[f"before/{i}"] = {"v": i}

    # writers hammer through the outage (their commits are batched together);
    # they record what was acknowledged
    stop = threading.Event()
    statuses = []

    def hammer(w):
        n = 0
        while not stop.is_set():
            path = f"during/{w}/{n}"
            try:
                r = raw_request(srv.addr, "POST", f"/v1/{MOUNT}/data/{path}", body={"data": {"v": n}},
                                token=token, timeout=30)
                statuses.append(r.status)
                if r.status == 200:
                    acked[path] = {"v": n}
            except OSError:
                statuses.append("oserror")
            n += 1

    hammers = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
    for t in hammers:
        t.start()
    wait_until(lambda: len(statuses) >= 5, 30, what="writes before the outage")
    pg.stop()
    try:
        # requests during the outage: a clear error, within the timeout
        for method, path, body in (("POST", f"/v1/{MOUNT}/data/outage", {"data": {"v": 1}}),
                                   ("GET", f"/v1/{MOUNT}/data/before/3", None)):
            t0 = time.monotonic()
            r = raw_request(srv.addr, method, path, body=body, token=token, timeout=30)
            took = time.monotonic() - t0
            assert r.status in (500, 503), (method, r.status, r.text())
            assert took < TIMEOUT_S + 2, f"{method} took {took:.1f}s"
            assert any("storage" in e for e in r.errors()), r.text()
        assert srv.alive()
    finally:
        pg.start()  # same port
    # the server reconnects by itself
    wait_until(lambda: raw_request(srv.addr, "GET", f"/v1/{MOUNT}/data/before/1", token=token).status == 200,
               30, what="reads after PostgreSQL is back")
    wait_until(lambda: statuses[-3:] == [200, 200, 200], 30, what="writes after PostgreSQL is back")
    stop.set()
    for t in hammers:
        t.join(timeout=60)
        assert not t.is_alive()
    assert any(s != 200 for s in statuses), "the outage never showed"

    # every acknowledged write reads back, on this server and after a restart
    for path, data in acked.items():
        assert kv.read_secret_version(path, mount_point=MOUNT)["data"]["data"] == data, path
    kv = reopen(srv).secrets.kv.v2
    for path, data in acked.items():
        assert kv.read_secret_version(path, mount_point=MOUNT)["data"]["data"] == data, path


def test_migrate_sqlite_store_to_postgres(pg, sqlite_server, server_factory, run_cli):
    src = sqlite_server()
    token = prepare(src)
    client = src.client(token)
    kv = client.secrets.kv.v2
    secrets = {f"team/{i}": {"user": f"u{i}", "password": os.urandom(8).hex()} for i in range(30)}
    for path, data in secrets.items():
        kv.create_or_update_secret(path, data, mount_point=MOUNT)
    client.sys.create_or_update_policy("readers", 'path "kv/*" { capabilities = ["read"] }')
    keys = src.keys
    assert src.stop() == 0

    user, password, schema = make_role(pg)
    url = storage_url(pg, user, password, schema)
    res = run_cli("operator", "migrate", f"--from=sqlite:{src.db_path}", f"--to={url}")
    assert res.returncode == 0, res.stderr
    m = re.search(r"Copied (\d+) entries", res.stdout)
    assert m and int(m.group(1)) == stored_rows(pg, schema) > 30, res.stdout
    assert password not in res.stdout + res.stderr

    # a second run refuses the (now full) target and changes nothing
    rows = stored_rows(pg, schema)
    res = run_cli("operator", "migrate", f"--from=sqlite:{src.db_path}", f"--to={url}")
    assert res.returncode == 2
    assert "not empty" in res.stderr
    assert stored_rows(pg, schema) == rows

    # served from postgres: sealed, unsealed with the same keys, everything there
    dst = server_factory([f"--storage={url}"], name="migrated", ready="any")
    assert dst.raw("GET", "/v1/sys/health").status == 503
    dst.keys, dst.root_token = keys, token
    dst.unseal(keys[:3])
    client = dst.client(token)
    assert client.sys.read_seal_status()["storage_type"] == "postgres"
    for path, data in secrets.items():
        assert client.secrets.kv.v2.read_secret_version(path, mount_point=MOUNT)["data"]["data"] == data
    assert "readers" in client.sys.list_policies()["data"]["policies"]
    # and it takes writes
    client.secrets.kv.v2.create_or_update_secret("after/migrate", {"ok": "yes"}, mount_point=MOUNT)


def test_migrate_bad_input(pg, run_cli, tmp_path):
    res = run_cli("operator", "migrate", f"--from=sqlite:{tmp_path}/missing.db",
                  f"--to=postgres:postgresql://u:secretpw@127.0.0.1:{pg.port}/postgres")
    assert res.returncode == 2
    assert "no SQLite file" in res.stderr
    assert not (tmp_path / "missing.db").exists()
    res = run_cli("operator", "migrate", "--from=sqlite:/x.db")
    assert res.returncode == 2 and "--to" in res.stderr
    (tmp_path / "empty.db").write_bytes(b"")
    res = run_cli("operator", "migrate", f"--from=sqlite:{tmp_path}/empty.db",
                  f"--to=postgres:postgresql://u:secretpw@127.0.0.1:{pg.port}/postgres?schema=x")
    assert res.returncode == 2
    assert "secretpw" not in res.stderr


def test_frozen_postgres_times_out_then_recovers(pg_private, server_factory):
    """PostgreSQL that accepts nothing and answers nothing (every process
    stopped): a request fails after the timeout instead of hanging, and the server
    serves again once PostgreSQL wakes up."""
    import signal

    from pglib import _children

    pg = pg_private
    user, password, schema = make_role(pg)
    srv = server_factory([f"--storage={storage_url(pg, user, password, schema)}"], name="frozen",
                         ready="any")
    token = prepare(srv)
    kv = srv.client(token).secrets.kv.v2
    kv.create_or_update_secret("kept", {"v": "1"}, mount_point=MOUNT)
    master = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    pids = [master] + _children(master)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        for method, path, body in (("POST", f"/v1/{MOUNT}/data/frozen", {"data": {"v": 1}}),
                                   ("GET", f"/v1/{MOUNT}/data/kept", None)):
            t0 = time.monotonic()
            r = raw_request(srv.addr, method, path, body=body, token=token, timeout=60)
            took = time.monotonic() - t0
            assert r.status in (500, 503), (method, r.status, r.text())
            print(f"{method} failed after {took:.2f}s")
            assert took < TIMEOUT_S + 2, f"{method} took {took:.1f}s"
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    wait_until(lambda: raw_request(srv.addr, "GET", f"/v1/{MOUNT}/data/kept", token=token).status == 200,
               30, what="reads after PostgreSQL woke up")
    kv.create_or_update_secret("after", {"v": "2"}, mount_point=MOUNT)
    assert kv.read_secret_version("kept", mount_point=MOUNT)["data"]["data"] == {"v": "1"}
