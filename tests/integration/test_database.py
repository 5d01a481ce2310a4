"""Database secrets engine, PostgreSQL plugin (Vault's database secrets API), through
hvac 0.11.2 against a real PostgreSQL 15 that the run starts itself (pglib.py).

Every login check is a real psql connection over 127.0.0.1 with password
(scram-sha-256) authentication; every "role gone" check reads pg_roles.
"""

import json
import re
import time

import hvac.exceptions
import pytest

from cofferlib import free_port, wait_until
from dblib import CREATE_SQL, RENEW_SQL, ROTATE_SQL, PLUGIN, parse_time, unique


# ---------------------------------------------------------------------------
# the fixture itself


def test_postgres_fixture_real_password_logins(pg, pg_db):
    name = unique("fx_")
    pg.create_role(name, password="pw-" + name)
    assert pg.role_exists(name)
    assert pg.psql_login(name, "pw-" + name, db=pg_db)
    assert not pg.psql_login(name, "not-the-password", db=pg_db), "TCP logins must check passwords"
    assert not pg.psql_login(unique("nobody_"), "x")
    hba = (pg.data_dir / "pg_hba.conf").read_text()
    assert "scram-sha-256" in hba
    session = pg.open_session(name, "pw-" + name, db=pg_db)
    try:
        assert not session.terminated()
        pg.query(f"SELECT pg_terminate_backend({session.pid})")
        wait_until(session.terminated, 5, what="the terminated backend to disappear")
        assert session.client_sees_termination()
    finally:
        session.close()
    pg.drop_role(name)
    assert not pg.role_exists(name)


# ---------------------------------------------------------------------------
# dynamic credentials


def test_configure_role_generate_credentials_logs_in(dbe, pg):
    dbe.create_role("app", default_ttl=3600, max_ttl=7200)
    before = time.time()
    c = dbe.creds("app")
    assert c.lease_id.startswith("database/creds/app/"), c.resp
    assert len(c.lease_id) > len("database/creds/app/")
    assert c.renewable is True
    assert c.lease_duration == 3600
    # default username template: v-<display 8>-<role 8>-<random 20>-<unix time>
    assert re.fullmatch(r"v-[A-Za-z0-9_-]{1,8}-app-[A-Za-z0-9]{20}-\d{10}", c.username), c.username
    assert abs(int(c.username.rsplit("-", 1)[1]) - before) < 60
    # default password policy: 20 chars of [A-Za-z0-9-], one of each class
    assert re.fullmatch(r"[A-Za-z0-9-]{20}", c.password), c.password
    for cls in (r"[a-z]", r"[A-Z]", r"[0-9]", r"-"):
        assert re.search(cls, c.password), f"password lacks {cls}: {c.password}"
    assert pg.role_exists(c.username)
    assert pg.psql_login(c.username, c.password, db=dbe.db)
    assert not pg.psql_login(c.username, c.password + "x", db=dbe.db)
    # {{expiration}} is the lease's expiry
    valid_until = pg.role_valid_until(c.username)
    assert valid_until is not None and abs(valid_until - (before + 3600)) < 30, valid_until

    # two requests, two distinct users
    c2 = dbe.creds("app")
    assert c2.username != c.username and c2.password != c.password and c2.lease_id != c.lease_id
    assert pg.psql_login(c2.username, c2.password, db=dbe.db)

    # the configuration never shows the password
    conf = dbe.client.secrets.database.read_connection("pg")
    assert conf["data"]["plugin_name"] == PLUGIN
    details = conf["data"]["connection_details"]
    assert details["username"] == pg.superuser
    assert "password" not in details
    assert pg.password not in str(conf)
    for field in ("allowed_roles", "verify_connection", "password_policy", "root_credentials_rotate_statements"):
        assert field in conf["data"], f"config read lacks {field}: {conf['data']}"
    assert conf["data"]["allowed_roles"] == ["*"]
    assert dbe.client.secrets.database.list_connections()["data"]["keys"] == ["pg"]
    assert dbe.client.secrets.database.list_roles()["data"]["keys"] == ["app"]
    role = dbe.client.secrets.database.read_role("app")["data"]
    assert role["db_name"] == "pg"
    assert role["default_ttl"] == 3600 and role["max_ttl"] == 7200
    assert role["creation_statements"] == CREATE_SQL


def test_unknown_role_is_400_without_lease(dbe):
    """Unknown role -> 400 `unknown role`; no lease is created."""
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        dbe.creds("no-such-role")
    assert "unknown role" in str(exc.value)
    assert dbe.lease_keys("database/creds/") == []
    # creds is a read: other operations are 405; a role without TTLs gets the mount's (768h)
    dbe.create_role("zero")
    assert dbe.raw("POST", "/v1/database/creds/zero", {}).status == 405
    assert dbe.lease_keys("database/creds/") == []
    assert dbe.creds("zero").lease_duration == 2764800


def test_revoke_lease_drops_role_and_terminates_session(dbe, pg):
    dbe.create_role("rev", default_ttl=3600)
    c = dbe.creds("rev")
    other = dbe.creds("rev")
    session = pg.open_session(c.username, c.password, db=dbe.db)
    try:
        assert not session.terminated()
        resp = dbe.client.sys.revoke_lease(c.lease_id)
        assert resp.status_code == 204
        # sync revocation (the default): done when the answer comes
        assert not pg.role_exists(c.username), "revoked lease: the role must be dropped"
        # (a terminated backend leaves pg_stat_activity a moment after the signal)
        wait_until(session.terminated, 2, what="revocation to terminate the user's open session")
        assert session.client_sees_termination()
    finally:
        session.close()
    assert not pg.psql_login(c.username, c.password, db=dbe.db)
    assert not dbe.lease_known(c.lease_id)
    # the other lease is untouched
    assert pg.psql_login(other.username, other.password, db=dbe.db)
    assert dbe.lease_known(other.lease_id)
    # revoking again is harmless
    assert dbe.client.sys.revoke_lease(c.lease_id).status_code == 204


def test_revoke_drops_role_that_owns_objects(dbe, pg):
    """Default revocation reassigns what the user owns, then drops it."""
    dbe.create_role(
        "owner",
        creation=CREATE_SQL + ['GRANT CREATE ON SCHEMA public TO "{{name}}";'],
        default_ttl=3600,
    )
    c = dbe.creds("owner")
    table = unique("owned_")
    ok, out, err = pg.login(c.username, c.password, db=dbe.db,
                            sql=f"CREATE TABLE {table}(i int); INSERT INTO {table} VALUES (1);")
    assert ok, err
    assert pg.query(f"SELECT tableowner FROM pg_tables WHERE tablename = '{table}'", db=dbe.db) == c.username
    dbe.client.sys.revoke_lease(c.lease_id)
    assert not pg.role_exists(c.username), "a user that owns a table must still be dropped"
    assert not dbe.lease_known(c.lease_id)
    # what it owned is reassigned (to the connection's user), not destroyed
    owner = pg.query(f"SELECT tableowner FROM pg_tables WHERE tablename = '{table}'", db=dbe.db)
    assert owner == pg.superuser, f"owned table after revocation: owner {owner!r}"
    assert pg.query(f"SELECT count(*) FROM {table}", db=dbe.db) == "1"


def test_short_ttl_lease_revoked_by_itself(dbe, pg):
    dbe.create_role("short", default_ttl=3, max_ttl=60)
    t_before = time.time()
    c = dbe.creds("short")
    t_after = time.time()
    assert c.lease_duration == 3
    session = pg.open_session(c.username, c.password, db=dbe.db)
    try:
        # revoked within 2 s after expiry (expiry is at most t_after + 3)
        wait_until(lambda: not pg.role_exists(c.username), timeout=(t_after + 3 + 2) - time.time(),
                   interval=0.02, what="the 3 s lease's role to be dropped by expiry")
        dropped_at = time.time()
        assert dropped_at >= t_before + 3 - 1.0, f"revoked {t_before + 3 - dropped_at:.2f}s before expiry"
        wait_until(session.terminated, 2, what="the expired user's session to be terminated")
    finally:
        session.close()
    assert not dbe.lease_known(c.lease_id)
    assert dbe.lease_keys("database/creds/short/") == []


def test_renew_extends_but_never_past_max_ttl(dbe, pg):
    dbe.create_role("ren", default_ttl=2, max_ttl=6, renew=RENEW_SQL)
    t_before = time.time()
    c = dbe.creds("ren")
    t_after = time.time()
    assert c.lease_duration == 2
    issue = parse_time(dbe.client.sys.read_lease(c.lease_id)["data"]["issue_time"])
    assert abs(issue - t_before) < 2

    r1 = dbe.client.sys.renew_lease(c.lease_id, increment=4)
    assert r1["lease_id"] == c.lease_id
    assert r1["renewable"] is True
    assert 3 <= r1["lease_duration"] <= 4, r1
    # renew_statements ran: VALID UNTIL moved to the new expiry
    vu = pg.role_valid_until(c.username)
    assert vu is not None and vu > t_before + 2 + 0.5, (vu, t_before)
    look = dbe.client.sys.read_lease(c.lease_id)["data"]
    assert look.get("last_renewal") is not None or look.get("last_renewal_time") is not None

    # asking for an hour gets what is left of max_ttl (6 s from issue)
    r2 = dbe.client.sys.renew_lease(c.lease_id, increment=3600)
    assert 0 < r2["lease_duration"] <= 6, r2
    expire = parse_time(dbe.client.sys.read_lease(c.lease_id)["data"]["expire_time"])
    assert expire <= issue + 6 + 1, f"expire_time {expire - issue:.2f}s after issue > max_ttl 6s"
    assert expire >= t_before + 6 - 1.5

    # ... and the lease then really ends at max_ttl
    wait_until(lambda: not pg.role_exists(c.username), timeout=(t_after + 6 + 2) - time.time(),
               what="the lease to end at max_ttl")
    assert time.time() >= t_before + 6 - 1.0, "revoked before max_ttl"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dbe.client.sys.renew_lease(c.lease_id, increment=10)


def test_rotate_root_credentials(dbe, pg):
    root_user = unique("rr_")
    old_pw = "old-" + unique("")
    pg.create_role(root_user, password=old_pw, superuser=True)
    dbe.configure(name="rr", allowed_roles=["rrapp"], username=root_user, password=old_pw)
    dbe.create_role("rrapp", db_name="rr", default_ttl=3600)
    assert pg.psql_login(root_user, old_pw, db=dbe.db)

    resp = dbe.client.secrets.database.rotate_root_credentials("rr")
    assert resp.status_code in (200, 204)
    assert not pg.psql_login(root_user, old_pw, db=dbe.db), "the old root password must stop working"
    assert pg.role_exists(root_user)

    c = dbe.creds("rrapp")
    assert pg.psql_login(c.username, c.password, db=dbe.db), "creds must still issue after rotate-root"
    conf = dbe.client.secrets.database.read_connection("rr")["data"]
    assert conf["connection_details"]["username"] == root_user
    assert "password" not in conf["connection_details"]
    # rotate twice: coffer still knows the password it set
    dbe.client.secrets.database.rotate_root_credentials("rr")
    dbe.client.sys.revoke_lease(c.lease_id)
    assert not pg.role_exists(c.username)


# ---------------------------------------------------------------------------
# static roles


def _static_creds(dbe, name):
    resp = dbe.client.secrets.database.get_static_credentials(name)
    assert isinstance(resp, dict), resp
    assert not resp.get("lease_id"), f"static creds carry no lease: {resp}"
    return resp["data"]


def test_static_role_rotate_role(dbe, pg):
    user = unique("st_")
    pw0 = "initial-" + unique("")
    pg.create_role(user, password=pw0)
    dbe.client.secrets.database.create_static_role(
        name="st", db_name="pg", username=user, rotation_statements=ROTATE_SQL, rotation_period=3600)
    d1 = _static_creds(dbe, "st")
    assert d1["username"] == user
    assert d1["password"] and d1["password"] != pw0, "creating a static role rotates the password at once"
    assert d1["rotation_period"] == 3600
    assert 3500 < d1["ttl"] <= 3600
    parse_time(d1["last_vault_rotation"])
    assert not pg.psql_login(user, pw0, db=dbe.db)
    assert pg.psql_login(user, d1["password"], db=dbe.db)

    r = dbe.raw("POST", "/v1/database/rotate-role/st")
    assert r.status in (200, 204), r
    d2 = _static_creds(dbe, "st")
    assert d2["password"] != d1["password"]
    assert parse_time(d2["last_vault_rotation"]) >= parse_time(d1["last_vault_rotation"])
    assert not pg.psql_login(user, d1["password"], db=dbe.db), "the old password must stop working"
    assert pg.psql_login(user, d2["password"], db=dbe.db)

    role = dbe.raw("GET", "/v1/database/static-roles/st")
    assert role.status == 200, role
    rd = role.json()["data"]
    assert rd["username"] == user and rd["db_name"] == "pg"
    assert rd["rotation_period"] == 3600
    assert rd["rotation_statements"] == ROTATE_SQL
    assert parse_time(rd["last_vault_rotation"]) == parse_time(d2["last_vault_rotation"])
    assert "password" not in rd
    assert dbe.client.secrets.database.list_static_roles()["data"]["keys"] == ["st"]
    assert dbe.lease_keys("database/") == [], "static credentials must not create leases"

    # rotation_period below the 5 s minimum is refused
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dbe.client.secrets.database.create_static_role(
            name="st-fast", db_name="pg", username=user, rotation_statements=ROTATE_SQL, rotation_period=4)
    # deleting the static role leaves the database user alone
    dbe.client.secrets.database.delete_static_role("st")
    assert pg.role_exists(user)
    assert pg.psql_login(user, d2["password"], db=dbe.db)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dbe.client.secrets.database.get_static_credentials("st")


def test_static_role_rotation_period_rotates_by_itself(dbe, pg):
    user = unique("sp_")
    pg.create_role(user, password="p0-" + user)
    dbe.client.secrets.database.create_static_role(
        name="period", db_name="pg", username=user, rotation_statements=ROTATE_SQL, rotation_period=5)
    t0 = time.time()
    d1 = _static_creds(dbe, "period")
    assert 0 <= d1["ttl"] <= 5, d1
    assert pg.psql_login(user, d1["password"], db=dbe.db)

    def rotated():
        d = _static_creds(dbe, "period")
        return d if d["password"] != d1["password"] else None

    d2 = wait_until(rotated, timeout=(t0 + 5 + 3) - time.time(), interval=0.1,
                    what="the 5 s rotation_period to rotate the password")
    assert time.time() >= t0 + d1["ttl"] - 1.5, "rotated long before rotation_period"
    assert pg.psql_login(user, d2["password"], db=dbe.db)
    assert not pg.psql_login(user, d1["password"], db=dbe.db)


def test_static_role_alternate_username_grace(dbe, pg):
    """Dual credentials (docs/internals/rotation.md): rotation switches to the other user; during
    `grace` both log in, after it only the current one."""
    users = [unique("dua_"), unique("dub_")]
    for u in users:
        pg.create_role(u, password="p0-" + u)
    grace = 4
    body = {
        "db_name": "pg",
        "username": users[0],
        "alternate_username": users[1],
        "rotation_period": 3600,
        "grace": f"{grace}s",
        "rotation_statements": ROTATE_SQL,
    }
    r = dbe.raw("POST", "/v1/database/static-roles/dual", body)
    assert r.status in (200, 204), r
    d1 = _static_creds(dbe, "dual")
    assert d1["username"] in users
    assert pg.psql_login(d1["username"], d1["password"], db=dbe.db)

    r = dbe.raw("POST", "/v1/database/rotate-role/dual")
    t_rot = time.time()
    assert r.status in (200, 204), r
    d2 = _static_creds(dbe, "dual")
    assert {d1["username"], d2["username"]} == set(users), "rotation must switch to the other user"
    assert d2["password"] != d1["password"]
    # during grace both log in
    assert pg.psql_login(d2["username"], d2["password"], db=dbe.db)
    assert pg.psql_login(d1["username"], d1["password"], db=dbe.db), "previous user must work during grace"

    wait_until(lambda: not pg.psql_login(d1["username"], d1["password"], db=dbe.db),
               timeout=(t_rot + grace + 3) - time.time(), interval=0.1,
               what="the previous user to stop working after grace")
    assert time.time() >= t_rot + grace - 1.0, "grace ended early"
    assert pg.psql_login(d2["username"], d2["password"], db=dbe.db), "current user must keep working"

    # the next rotation goes back to the first user, with a fresh password
    dbe.raw("POST", "/v1/database/rotate-role/dual")
    d3 = _static_creds(dbe, "dual")
    assert d3["username"] == d1["username"]
    assert d3["password"] not in (d1["password"], d2["password"])
    assert pg.psql_login(d3["username"], d3["password"], db=dbe.db)
    assert pg.psql_login(d2["username"], d2["password"], db=dbe.db)


# ---------------------------------------------------------------------------
# configuration errors


def test_verify_connection_failure_is_400_with_reason_without_password(dbe, pg):
    wrong = "wrong-" + unique("pw")
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        dbe.configure(name="bad", password=wrong, verify=True)
    msg = str(exc.value)
    assert "password authentication failed" in msg, msg
    assert wrong not in msg and pg.password not in msg

    # a literal password in the URL is not echoed either
    url = pg.connection_url(dbe.db, templated=False, user=pg.superuser, password=wrong)
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        dbe.configure(name="bad2", connection_url=url, verify=True)
    assert "password authentication failed" in str(exc.value)
    assert wrong not in str(exc.value)

    closed = free_port()
    url = f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{closed}/{dbe.db}?sslmode=disable"
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        dbe.configure(name="bad3", connection_url=url, verify=True)
    assert re.search(r"(?i)refused|could not connect|connection to server", str(exc.value)), str(exc.value)
    assert pg.password not in str(exc.value)

    for name in ("bad", "bad2", "bad3"):
        with pytest.raises(hvac.exceptions.InvalidPath):
            dbe.client.secrets.database.read_connection(name)


def test_creation_statement_syntax_error_is_400_and_no_lease(dbe, pg):
    dbe.create_role(
        "badsql",
        creation=CREATE_SQL + ["SELEC 1;"],
        default_ttl=3600,
    )
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        dbe.creds("badsql")
    assert "syntax error" in str(exc.value), str(exc.value)
    assert dbe.lease_keys("database/creds/badsql/") == []
    assert dbe.lease_keys("database/") == []
    # the statements ran in one transaction: the CREATE ROLE was rolled back
    assert pg.roles_like("v-%badsql%") == []


def test_role_not_in_allowed_roles_is_400(dbe, pg):
    dbe.configure(name="limited", allowed_roles=["only-this"])
    dbe.create_role("only-this", db_name="limited", default_ttl=600)
    assert pg.role_exists(dbe.creds("only-this").username)
    try:
        dbe.create_role("other", db_name="limited", default_ttl=600)
    except hvac.exceptions.InvalidRequest:
        pass  # refused when the role is written: fine
    else:
        with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
            dbe.creds("other")
        assert "other" in str(exc.value) or "allowed" in str(exc.value), str(exc.value)
    assert dbe.lease_keys("database/creds/other/") == []
    assert pg.roles_like("v-%-other-%") == []

    # an empty allowed_roles allows nothing
    dbe.configure(name="closed", allowed_roles=[])
    try:
        dbe.create_role("shut", db_name="closed", default_ttl=600)
    except hvac.exceptions.InvalidRequest:
        pass
    else:
        with pytest.raises(hvac.exceptions.InvalidRequest):
            dbe.creds("shut")
    assert pg.roles_like("v-%-shut-%") == []

    # deleting a connection: its roles can no longer issue
    dbe.client.secrets.database.delete_connection("limited")
    with pytest.raises(hvac.exceptions.InvalidPath):
        dbe.client.secrets.database.read_connection("limited")
    with pytest.raises(hvac.exceptions.VaultError):
        dbe.creds("only-this")


def test_username_from_token_display_name_and_role(dbe, pg):
    """Default template: v-<display name, 8>-<role name, 8>-<random 20>-<unix>."""
    dbe.client.sys.create_or_update_policy("dbread", 'path "database/creds/*" { capabilities = ["read"] }')
    tok = dbe.client.auth.token.create(policies=["dbread"], display_name="web", ttl="10m")["auth"]["client_token"]
    dbe.create_role("longrolename", default_ttl=600)
    from cofferlib import make_client

    c = dbe.creds("longrolename", client=make_client(dbe.server.addr, tok))
    # the token's display name is "token-web"; both parts truncated to 8 characters
    assert re.fullmatch(r"v-token-we-longrole-[A-Za-z0-9]{20}-\d{10}", c.username), c.username
    assert pg.psql_login(c.username, c.password, db=dbe.db)


def test_revoke_after_role_deleted_still_drops_user(dbe, pg):
    dbe.create_role("ephemeral", default_ttl=600)
    c = dbe.creds("ephemeral")
    dbe.client.secrets.database.delete_role("ephemeral")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dbe.creds("ephemeral")
    dbe.client.sys.revoke_lease(c.lease_id)
    assert not pg.role_exists(c.username), "a lease must be revocable after its role is deleted"
    assert not dbe.lease_known(c.lease_id)


def test_reset_connection_and_rotation_schedule(dbe, pg):
    assert dbe.client.secrets.database.reset_connection("pg").status_code in (200, 204)
    dbe.create_role("afterreset", default_ttl=600)
    c = dbe.creds("afterreset")
    assert pg.psql_login(c.username, c.password, db=dbe.db), "creds must issue after reset"
    user = unique("cr_")
    pg.create_role(user, password="p0-" + user)
    base = {"db_name": "pg", "username": user, "rotation_statements": ROTATE_SQL}
    # exactly one of rotation_period / rotation_schedule; a valid 5-field cron
    for bad in ({"rotation_period": 3600, "rotation_schedule": "0 0 * * *"},
                {"rotation_schedule": "61 * * * *"},
                {"rotation_schedule": "0 0 * *"},
                {"rotation_schedule": "0 0 * * *", "rotation_window": "10m"},
                {}):
        r = dbe.raw("POST", "/v1/database/static-roles/cron", {**base, **bad})
        assert r.status == 400, f"{bad} -> {r}"
    r = dbe.raw("POST", "/v1/database/static-roles/cron", {**base, "rotation_schedule": "0 0 * * *"})
    assert r.status in (200, 204), r
    d = _static_creds(dbe, "cron")
    assert d["rotation_schedule"] == "0 0 * * *"
    now = time.time()
    to_midnight = 86400 - (int(now) % 86400)
    assert abs(d["ttl"] - to_midnight) <= 5, f"ttl {d['ttl']} vs {to_midnight} s to the next 00:00 UTC"
    assert pg.psql_login(user, d["password"], db=dbe.db)


def test_root_and_static_passwords_survive_kill9(sqlite_server, pg, pg_db):
    """What coffer alone knows (the rotated root password, static passwords, a grace
    in progress) is durable: after kill -9 and unseal creds still issue, static
    creds are unchanged, and a grace that ended while down is ended after unseal."""
    from cofferlib import make_client
    from dblib import DbEngine

    srv = sqlite_server()
    token = srv.init_unseal()
    eng = DbEngine(srv, token, pg, db=pg_db)
    eng.enable()
    root_user, pw0 = unique("rk_"), "pw0-" + unique("")
    pg.create_role(root_user, password=pw0, superuser=True)
    eng.configure(name="pg", username=root_user, password=pw0)
    eng.client.secrets.database.rotate_root_credentials("pg")
    assert not pg.psql_login(root_user, pw0, db=pg_db)
    eng.create_role("app", default_ttl=3600)

    st = unique("sk_")
    pg.create_role(st, password="p0")
    eng.client.secrets.database.create_static_role(
        name="st", db_name="pg", username=st, rotation_statements=ROTATE_SQL, rotation_period=3600)
    st1 = _static_creds(eng, "st")

    a, b = unique("ka_"), unique("kb_")
    for u in (a, b):
        pg.create_role(u, password="p0")
    r = eng.raw("POST", "/v1/database/static-roles/dual", {
        "db_name": "pg", "username": a, "alternate_username": b, "rotation_period": 3600,
        "grace": "3s", "rotation_statements": ROTATE_SQL})
    assert r.status in (200, 204), r
    prev = _static_creds(eng, "dual")
    assert eng.raw("POST", "/v1/database/rotate-role/dual").status in (200, 204)
    t_rot = time.time()
    cur = _static_creds(eng, "dual")
    assert cur["username"] != prev["username"]
    assert pg.psql_login(prev["username"], prev["password"], db=pg_db)

    srv.kill9()
    wait_until(lambda: time.time() > t_rot + 3 + 0.5, timeout=10, what="the grace to end while down")
    srv.start()
    srv.unseal(srv.keys[:3])
    eng.client = make_client(srv.addr, token)

    c = eng.creds("app")  # needs the rotated root password, from storage
    assert pg.psql_login(c.username, c.password, db=pg_db)
    assert _static_creds(eng, "st")["password"] == st1["password"]
    assert pg.psql_login(st, st1["password"], db=pg_db)
    assert _static_creds(eng, "dual")["username"] == cur["username"]
    assert pg.psql_login(cur["username"], cur["password"], db=pg_db)
    wait_until(lambda: not pg.psql_login(prev["username"], prev["password"], db=pg_db), timeout=5,
               what="a grace that ended during the outage to be ended after unseal")
    eng.client.sys.revoke_lease(c.lease_id)
    assert not pg.role_exists(c.username)


def test_statement_input_forms(dbe, pg):
    """Statements as a list, one ;-separated string, a JSON array in a string, base64."""
    import base64
    import json as _json

    create = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'"
    comment = "COMMENT ON ROLE \"{{name}}\" IS 'made by coffer'"
    forms = {
        "list": [create + ";", comment + ";"],
        "string": f"{create}; {comment};",
        "jsonstr": _json.dumps([create, comment]),
        "base64": base64.b64encode(f"{create}; {comment};".encode()).decode(),
    }
    for name, stmts in forms.items():
        r = dbe.raw("POST", f"/v1/database/roles/form-{name}",
                    {"db_name": "pg", "creation_statements": stmts, "default_ttl": 600})
        assert r.status in (200, 204), f"{name}: {r}"
        c = dbe.creds(f"form-{name}")
        assert pg.psql_login(c.username, c.password, db=dbe.db), name
        got = pg.query(f"SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = '{c.username}'")
        assert got == "made by coffer", f"{name}: both statements must run ({got!r})"


def test_readonly_role_with_grants_is_dropped_on_revoke(dbe, pg):
    """The usual read-only role: GRANT SELECT on tables; default revocation removes
    the privileges so the DROP ROLE succeeds."""
    pg.query("CREATE TABLE items(i int); INSERT INTO items VALUES (1), (2);", db=dbe.db)
    dbe.create_role("readonly", default_ttl=600, creation=CREATE_SQL + [
        'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
        'GRANT USAGE ON SCHEMA public TO "{{name}}";',
    ])
    c = dbe.creds("readonly")
    ok, out, err = pg.login(c.username, c.password, db=dbe.db, sql="SELECT count(*) FROM items")
    assert ok and out == "2", err
    ok, _, _ = pg.login(c.username, c.password, db=dbe.db, sql="INSERT INTO items VALUES (3)")
    assert not ok, "read-only user must not write"
    dbe.client.sys.revoke_lease(c.lease_id)
    assert not pg.role_exists(c.username), "a user holding privileges must still be dropped"
    assert pg.query("SELECT count(*) FROM items", db=dbe.db) == "2"


def test_pool_respects_max_open_connections(dbe, pg):
    from concurrent.futures import ThreadPoolExecutor

    from cofferlib import make_client

    pool_user, pool_pw = unique("pool_"), "pw-" + unique("")
    pg.create_role(pool_user, password=pool_pw, superuser=True)
    dbe.configure(name="small", max_open_connections=2, username=pool_user, password=pool_pw)
    dbe.create_role("pooled", db_name="small", default_ttl=600)
    seen = []
    stop = [False]

    def watch():
        while not stop[0]:
            n = pg.query(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{dbe.db}' "
                         f"AND usename = '{pool_user}'")
            seen.append(int(n))

    import threading

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as ex:
            creds = list(ex.map(lambda _: dbe.creds("pooled", client=make_client(dbe.server.addr, dbe.token)),
                                range(40)))
    finally:
        stop[0] = True
        w.join(timeout=10)
    assert len({c.username for c in creds}) == 40
    assert pg.existing_roles(c.username for c in creds) == {c.username for c in creds}
    conf = dbe.client.secrets.database.read_connection("small")["data"]["connection_details"]
    assert conf["max_open_connections"] == 2
    assert seen and max(seen) >= 1, "the watcher never saw coffer's connections"
    assert max(seen) <= 2, f"{max(seen)} connections at once with max_open_connections=2"


def test_literal_password_in_url_warns_and_audit_never_holds_passwords(dbe, pg, tmp_path):
    audit = tmp_path / "audit.log"
    dbe.client.sys.enable_audit_device("file", options={"file_path": str(audit)})
    url = pg.connection_url(dbe.db, templated=False, user=pg.superuser, password=pg.password)
    resp = dbe.client.secrets.database.configure(
        name="literal", plugin_name="postgresql-database-plugin", verify_connection=True,
        allowed_roles=["*"], connection_url=url)
    assert isinstance(resp, dict) and resp.get("warnings"), f"a literal password in the URL must warn: {resp!r}"
    dbe.create_role("aud", default_ttl=600)
    c = dbe.creds("aud")
    text = audit.read_text()
    assert c.lease_id in text, "the response entry carries secret.lease_id in clear"
    assert c.password not in text, "a generated password reached the audit log"
    assert pg.password not in text, "the configured root password reached the audit log"
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    creds_resp = [e for e in entries if e.get("type") == "response"
                  and e.get("request", {}).get("path") == "database/creds/aud"]
    assert creds_resp, "no audit response entry for the creds read"
    assert creds_resp[0]["response"]["secret"]["lease_id"] == c.lease_id
    assert creds_resp[0]["response"]["data"]["password"].startswith("hmac-sha256:")


def test_rotations_with_postgres_down_keep_working_credentials(dev_server, pg_private):
    """A rotation that cannot reach PostgreSQL changes nothing coffer hands out (the
    stored password is the one that works), is retried, and completes once it is back;
    an ending grace is retried too. rotate-root and rotate-role answer an error."""
    from dblib import DbEngine

    pg = pg_private
    eng = DbEngine(dev_server.server, dev_server.token, pg, db="postgres")
    eng.enable()
    root_user = unique("rd_")
    pg.create_role(root_user, password="pw0", superuser=True)
    eng.configure(username=root_user, password="pw0")
    eng.client.secrets.database.rotate_root_credentials("pg")
    eng.create_role("app", default_ttl=600)

    st = unique("sd_")
    pg.create_role(st, password="p0")
    eng.client.secrets.database.create_static_role(
        name="period", db_name="pg", username=st, rotation_statements=ROTATE_SQL, rotation_period=5)
    a, b = unique("da_"), unique("db_")
    for u in (a, b):
        pg.create_role(u, password="p0")
    r = eng.raw("POST", "/v1/database/static-roles/dual", {
        "db_name": "pg", "username": a, "alternate_username": b, "rotation_period": 3600,
        "grace": "3s", "rotation_statements": ROTATE_SQL})
    assert r.status in (200, 204), r
    prev = _static_creds(eng, "dual")
    assert eng.raw("POST", "/v1/database/rotate-role/dual").status in (200, 204)
    t_rot = time.time()
    cur = _static_creds(eng, "dual")
    d1 = _static_creds(eng, "period")
    t1 = time.time()

    pg.stop(mode="fast")
    try:
        r = eng.raw("POST", "/v1/database/rotate-role/period", timeout=30)
        assert r.status >= 400, f"rotate-role with the database down: {r}"
        r = eng.raw("POST", "/v1/database/rotate-root/pg", timeout=30)
        assert r.status >= 400, f"rotate-root with the database down: {r}"
        # the scheduled rotation (5 s) and the grace end (3 s) come and fail
        wait_until(lambda: time.time() > max(t1 + d1["ttl"], t_rot + 3) + 1.5, timeout=15,
                   what="the rotation and the grace end to come due")
        assert _static_creds(eng, "period")["password"] == d1["password"], \
            "a failed rotation must not change the password coffer hands out"
    finally:
        pg.start()
    assert pg.psql_login(st, d1["password"]) or _static_creds(eng, "period")["password"] != d1["password"]
    c = eng.creds("app")  # the root password coffer stored is still the one that works
    assert pg.psql_login(c.username, c.password)

    def rotated():
        d = _static_creds(eng, "period")
        return d if d["password"] != d1["password"] else None

    d2 = wait_until(rotated, timeout=40, interval=0.2, what="the failed rotation to be retried")
    assert pg.psql_login(st, d2["password"])
    assert not pg.psql_login(st, d1["password"])
    wait_until(lambda: not pg.psql_login(prev["username"], prev["password"]), timeout=40, interval=0.2,
               what="the failed grace end to be retried")
    assert pg.psql_login(cur["username"], cur["password"])


def test_username_template_and_password_policy_are_honoured_or_refused(dbe, pg):
    """Vault's database secrets API lists username_template and password_policy; coffer may refuse them
    (docs/internals/database.md), but never accept and silently ignore them."""
    try:
        dbe.configure(name="tmpl", username_template="myapp-{{.RoleName}}-{{random 6}}")
    except hvac.exceptions.InvalidRequest as exc:
        assert "username_template" in str(exc)
    else:
        dbe.create_role("svc", db_name="tmpl", default_ttl=600)
        c = dbe.creds("svc")
        assert re.fullmatch(r"myapp-svc-[A-Za-z0-9]{6}", c.username), c.username
        assert pg.psql_login(c.username, c.password, db=dbe.db)
    try:
        dbe.configure(name="pwpol", password_policy="no-such-policy")
    except hvac.exceptions.InvalidRequest as exc:
        assert "password_policy" in str(exc) or "no-such-policy" in str(exc)
    else:  # accepted (as Vault does): then generating a password must fail, not use a default
        dbe.create_role("pw", db_name="pwpol", default_ttl=600)
        with pytest.raises(hvac.exceptions.VaultError):
            dbe.creds("pw")


def test_static_username_cannot_escape_its_identifier(dbe, pg):
    """A (legitimately quoted) PostgreSQL user name that contains `"` and `'` is
    templated safely: the rotation changes that user's password and nothing else."""
    from pglib import sql_ident

    victim = unique("inj")
    pg.create_role(victim, password="victim-pw")
    weird = f'{victim}" SUPERUSER --\'x'
    pg.query(f"CREATE ROLE {sql_ident(weird)} WITH LOGIN PASSWORD 'p0'")
    r = dbe.raw("POST", "/v1/database/static-roles/weird", {
        "db_name": "pg", "username": weird, "rotation_period": 3600, "rotation_statements": ROTATE_SQL})
    assert r.status in (200, 204), r
    d = _static_creds(dbe, "weird")
    assert d["username"] == weird
    assert pg.query(f"SELECT rolsuper FROM pg_roles WHERE rolname = '{victim}'") == "f", \
        "the user name escaped its identifier and altered another role"
    assert pg.psql_login(victim, "victim-pw", db=dbe.db)
    ok, out, err = pg.login(weird, d["password"], db=dbe.db)
    assert ok and out == weird, err
