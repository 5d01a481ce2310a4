"""Leases (spec vault-api.md §2.6, issue 3): the expiration manager seen through
hvac, the legacy routes, token revocation, restart after kill -9, PostgreSQL down,
hung (SIGSTOP) or slow (a statement waiting on a lock), 1,000 leases expiring at
once, a large lease table loading after unseal, and the `coffer lease` commands. The
secrets are PostgreSQL users from the database engine (a real PostgreSQL 15 started
by the run itself, see pglib.py)."""

import json
import math
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import hvac.exceptions
import pytest

from cofferlib import make_client, wait_until
from dblib import CREATE_SQL, DbEngine, parse_time

# Revocation statements that also record every revocation, so a test can tell that
# each lease was revoked exactly once. They run in one transaction with the DROP.
LOGGED_REVOKE = [
    "INSERT INTO revoked_log(name) VALUES ('{{name}}');",
    'DROP ROLE IF EXISTS "{{name}}";',
]


def make_revoked_log(pg, db):
    pg.query("CREATE TABLE revoked_log(name text NOT NULL, at timestamptz NOT NULL DEFAULT now())", db=db)


def revoked_counts(pg, db):
    rows = pg.query_rows("SELECT name, count(*) FROM revoked_log GROUP BY name", db=db)
    return {name: int(n) for name, n in rows}


def test_zz_seal_only(sqlite_server, pg, pg_db):
    """Seal in the middle of a burst of revocations, unseal, then disable the mount
    while the rest expire: every user dropped, each exactly once, nothing left."""
    srv = sqlite_server()
    token = srv.init_unseal()
    eng = DbEngine(srv, token, pg, db=pg_db)
    eng.enable()
    eng.configure()
    make_revoked_log(pg, pg_db)
    slow = ["SELECT pg_sleep(0.02);"] + LOGGED_REVOKE  # about 1.5 s of work for 4 workers
    eng.create_role("burst", default_ttl=3, revocation=slow)
    eng.create_role("tail", default_ttl=3600, revocation=slow)
    with ThreadPoolExecutor(max_workers=8) as ex:
        burst = list(ex.map(lambda _: eng.creds("burst", client=make_client(srv.addr, token)), range(300)))
        tail = list(ex.map(lambda _: eng.creds("tail", client=make_client(srv.addr, token)), range(100)))
    t_last = time.time()
    # seal while the burst is being revoked
    wait_until(lambda: len(revoked_counts(pg, pg_db)) >= 20, timeout=(t_last + 3 + 5) - time.time(),
               interval=0.02, what="the burst's revocations to start")
    r = srv.raw("PUT", "/v1/sys/seal", token=token, timeout=15)
    assert r.status == 204, r
    at_seal = len(revoked_counts(pg, pg_db))
    srv.unseal(srv.keys[:3])
    eng.client = make_client(srv.addr, token)
    # disable the mount while the rest of the burst is still being revoked
    everyone = [c.username for c in burst + tail]
    wait_until(lambda: not pg.existing_roles(everyone), timeout=30, interval=0.2,
               what="every user to be dropped after seal, unseal and unmount")
    counts = revoked_counts(pg, pg_db)
    twice = {k: v for k, v in counts.items() if v != 1}
    assert not twice, f"revoked more than once: {list(twice.items())[:5]} ({len(twice)} users)"
    assert set(counts) == set(everyone)
    print(f"{at_seal} of 300 revoked when sealed")




def test_zz_unmount_only(sqlite_server, pg, pg_db):
    """Seal in the middle of a burst of revocations, unseal, then disable the mount
    while the rest expire: every user dropped, each exactly once, nothing left."""
    srv = sqlite_server()
    token = srv.init_unseal()
    eng = DbEngine(srv, token, pg, db=pg_db)
    eng.enable()
    eng.configure()
    make_revoked_log(pg, pg_db)
    slow = ["SELECT pg_sleep(0.02);"] + LOGGED_REVOKE  # about 1.5 s of work for 4 workers
    eng.create_role("burst", default_ttl=3, revocation=slow)
    eng.create_role("tail", default_ttl=3600, revocation=slow)
    with ThreadPoolExecutor(max_workers=8) as ex:
        burst = list(ex.map(lambda _: eng.creds("burst", client=make_client(srv.addr, token)), range(300)))
        tail = list(ex.map(lambda _: eng.creds("tail", client=make_client(srv.addr, token)), range(100)))
    t_last = time.time()
    # seal while the burst is being revoked
    wait_until(lambda: len(revoked_counts(pg, pg_db)) >= 20, timeout=(t_last + 3 + 5) - time.time(),
               interval=0.02, what="the burst's revocations to start")
    at_seal = 0
    # disable the mount while the rest of the burst is still being revoked
    r = eng.raw("DELETE", "/v1/sys/mounts/database", timeout=60)
    assert r.status == 204, r
    everyone = [c.username for c in burst + tail]
    wait_until(lambda: not pg.existing_roles(everyone), timeout=30, interval=0.2,
               what="every user to be dropped after seal, unseal and unmount")
    counts = revoked_counts(pg, pg_db)
    twice = {k: v for k, v in counts.items() if v != 1}
    assert not twice, f"revoked more than once: {list(twice.items())[:5]} ({len(twice)} users)"
    assert set(counts) == set(everyone)
    assert eng.lease_keys("database/") == []
    print(f"{at_seal} of 300 revoked when sealed")


