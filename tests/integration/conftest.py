"""Fixtures for the coffer integration suite.

Every test drives the real `coffer` binary over HTTP on 127.0.0.1 (see cofferlib.py).
The logs of every server a test started are attached to its report when it fails.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cofferlib import REPO_ROOT, CofferServer, Dev, coffer_bin


# ---------------------------------------------------------------------------
# fixtures


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in getattr(item, "_coffer_servers", []):
            text = srv.log_text()
            if len(text) > 20000:
                text = "...(truncated)...\n" + text[-20000:]
            rep.sections.append((f"coffer server log: {srv.name} ({srv.log_path})", text))
        for pgsrv, offset in getattr(item, "_pg_servers", []):
            text = pgsrv.log_text()[offset:][-8000:]  # what this test logged, tail
            if text.strip():
                rep.sections.append((f"postgresql log ({pgsrv.log_path})", text))


def _register(request, srv):
    request.node.__dict__.setdefault("_coffer_servers", []).append(srv)


@pytest.fixture
def server_factory(request, tmp_path):
    """Start arbitrary servers: server_factory(args, name=..., ready="ok"|"any")."""
    servers = []

    def factory(args, name=None, ready="ok", extra_env=None):
        name = name or f"coffer{len(servers)}"
        srv = CofferServer(tmp_path / name, args, name=name, ready=ready, extra_env=extra_env)
        servers.append(srv)
        _register(request, srv)
        srv.start()
        return srv

    yield factory
    for srv in servers:
        srv.kill9()


@pytest.fixture
def dev_server(server_factory):
    """A --dev server: initialized, unsealed, KV v2 at secret/, memory storage."""
    token = "root-" + os.urandom(8).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}"], name="dev", ready="ok")
    return Dev(srv, token)


@pytest.fixture
def sqlite_server(server_factory, tmp_path):
    """Factory: sqlite_server(max_request_size=None) -> CofferServer, started (sealed,
    uninitialized on first use). Use .kill9()/.start()/.restart() on the same file and
    .init()/.unseal()/.init_unseal()."""
    count = [0]

    def factory(max_request_size=None, db_path=None, name=None):
        count[0] += 1
        name = name or f"sqlite{count[0]}"
        db = Path(db_path) if db_path else tmp_path / f"{name}.db"
        args = [f"--storage=sqlite:{db}"]
        if max_request_size is not None:
            args.append(f"--max-request-size={max_request_size}")
        srv = server_factory(args, name=name, ready="any")
        srv.db_path = db
        return srv

    return factory


@pytest.fixture
def unsealed_sqlite(sqlite_server):
    """An initialized (5 shares / threshold 3) and unsealed sqlite server."""
    srv = sqlite_server()
    srv.init_unseal()
    return srv


@pytest.fixture
def run_cli(tmp_path):
    """run_cli(*args, addr=None, token=None, input=None, env=None) -> CompletedProcess."""

    def run(*args, addr=None, token=None, input=None, env=None, timeout=30):
        binary = coffer_bin()
        if not binary.exists():
            pytest.fail(f"coffer binary not found at {binary} (set COFFER_BIN)")
        full_env = dict(os.environ)
        full_env["HOME"] = str(tmp_path)  # never read a developer's ~/.coffer-token
        if addr is not None:
            full_env["COFFER_ADDR"] = addr
        if token is not None:
            full_env["COFFER_TOKEN"] = token
        if env:
            full_env.update(env)
        return subprocess.run(
            [str(binary), *[str(a) for a in args]],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            cwd=tmp_path,
            timeout=timeout,
        )

    return run


# ---------------------------------------------------------------------------
# PostgreSQL (database secrets engine, leases): see pglib.py and dblib.py


def _pg_or_fail():
    import pglib

    ok, why = pglib.available()
    if not ok:
        pytest.fail(f"PostgreSQL 15 is needed for this test: {why}")
    return pglib


@pytest.fixture(scope="session")
def pg_session():
    """One PostgreSQL 15 server for the whole run (fsync off, temp dir, free port)."""
    pglib = _pg_or_fail()
    srv = pglib.PostgresServer(fast=True)
    try:
        srv.start()
    except Exception as exc:  # noqa: BLE001
        srv.cleanup()
        pytest.fail(f"could not start PostgreSQL: {exc}")
    yield srv
    srv.cleanup()


@pytest.fixture
def pg(request, pg_session):
    """The shared PostgreSQL server; restarted if an earlier test left it stopped.
    Tests isolate themselves with their own database (pg_db) and unique role names."""
    if not pg_session.running():
        pg_session.start()
    request.node.__dict__.setdefault("_pg_servers", []).append((pg_session, len(pg_session.log_text())))
    return pg_session


@pytest.fixture
def pg_private(request):
    """A PostgreSQL server of this test's own (for tests that stop it)."""
    pglib = _pg_or_fail()
    srv = pglib.PostgresServer(fast=True)
    request.node.__dict__.setdefault("_pg_servers", []).append((srv, 0))
    srv.start()
    yield srv
    srv.cleanup()


@pytest.fixture
def pg_db(pg):
    """A fresh database in the shared server, dropped (with its sessions) afterwards."""
    name = "t_" + os.urandom(6).hex()
    pg.create_database(name)
    yield name
    try:
        pg.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:  # noqa: BLE001 - best effort
        pass


@pytest.fixture
def dbe(dev_server, pg, pg_db):
    """A dev server with the database engine mounted at database/ and a verified
    connection `pg` (allowed_roles "*") to the fresh database pg_db as `postgres`."""
    from dblib import DbEngine

    eng = DbEngine(dev_server.server, dev_server.token, pg, db=pg_db)
    eng.enable()
    eng.configure()
    return eng


@pytest.fixture(scope="session")
def slow_fsync_lib(tmp_path_factory):
    """bench/slow_fsync.c built as an LD_PRELOAD library: with SLOW_FSYNC_US=N in
    its environment every fsync/fdatasync of a server takes at least N µs, so that
    commits last long enough for concurrent writes to meet in them."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed to build bench/slow_fsync.c"
    out = tmp_path_factory.mktemp("slowfsync") / "slow_fsync.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-pthread", "-o", str(out),
                    str(REPO_ROOT / "bench" / "slow_fsync.c"), "-ldl"], check=True)
    return out
