"""coffer-side helpers for the database secrets engine and lease tests.

`DbEngine` wraps one coffer server + one PostgreSQL database: mounts the engine,
configures a connection, creates roles and issues credentials through hvac exactly
as an application would (Vault's database secrets API, Vault's sys/leases).
"""

import os
import time
from datetime import datetime, timezone

import hvac
import hvac.exceptions

from cofferlib import make_client, raw_request

PLUGIN = "postgresql-database-plugin"

# What a typical Vault user writes (Vault's documentation example).
CREATE_SQL = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
]
RENEW_SQL = ["ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';"]
ROTATE_SQL = ["ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}';"]


def unique(prefix):
    return f"{prefix}{os.urandom(4).hex()}"


def parse_time(value):
    """RFC3339 (with or without fraction/Z) -> epoch seconds (float)."""
    if value is None:
        return None
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    # Python 3.11 fromisoformat accepts up to 6 fraction digits: trim nanoseconds.
    if "." in v:
        head, _, rest = v.partition(".")
        frac = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            frac += rest[i]
            i += 1
        v = head + "." + (frac[:6] or "0") + rest[i:]
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class Creds:
    def __init__(self, resp):
        self.resp = resp
        self.lease_id = resp.get("lease_id")
        self.lease_duration = resp.get("lease_duration")
        self.renewable = resp.get("renewable")
        data = resp.get("data") or {}
        self.username = data.get("username")
        self.password = data.get("password")
        self.received = time.time()

    def __repr__(self):
        return f"<Creds {self.username} lease={self.lease_id} ttl={self.lease_duration}>"


class DbEngine:
    def __init__(self, server, token, pg, db="postgres", mount="database"):
        self.server = server
        self.token = token
        self.pg = pg
        self.db = db
        self.mount = mount
        self.client = make_client(server.addr, token)

    # -- setup ----------------------------------------------------------------------

    def enable(self):
        self.client.sys.enable_secrets_engine("database", path=self.mount)

    def configure(self, name="pg", allowed_roles="*", username=None, password=None, verify=True,
                  connection_url=None, **kw):
        if allowed_roles == "*":
            allowed_roles = ["*"]
        return self.client.secrets.database.configure(
            name=name,
            plugin_name=PLUGIN,
            verify_connection=verify,
            allowed_roles=allowed_roles,
            connection_url=connection_url or self.pg.connection_url(self.db),
            username=username or self.pg.superuser,
            password=password or self.pg.password,
            mount_point=self.mount,
            **kw,
        )

    def create_role(self, name, db_name="pg", creation=None, default_ttl=None, max_ttl=None,
                    revocation=None, renew=None, rollback=None):
        return self.client.secrets.database.create_role(
            name=name,
            db_name=db_name,
            creation_statements=creation or CREATE_SQL,
            default_ttl=default_ttl,
            max_ttl=max_ttl,
            revocation_statements=revocation,
            renew_statements=renew,
            rollback_statements=rollback,
            mount_point=self.mount,
        )

    # -- credentials and leases --------------------------------------------------

    def creds(self, role, client=None):
        c = client or self.client
        resp = c.secrets.database.generate_credentials(name=role, mount_point=self.mount)
        assert isinstance(resp, dict), f"creds/{role} must answer 200 + JSON, got {resp!r}"
        return Creds(resp)

    def raw(self, method, path, body=None, token="__root__", timeout=10):
        if token == "__root__":
            token = self.token
        return raw_request(self.server.addr, method, path, body=body, token=token, timeout=timeout)

    def lease_keys(self, prefix):
        """keys of LIST sys/leases/lookup/<prefix> ([] when the answer is 404)."""
        r = self.raw("LIST", f"/v1/sys/leases/lookup/{prefix}")
        if r.status == 404:
            return []
        assert r.status == 200, f"LIST sys/leases/lookup/{prefix}: {r.status} {r.text}"
        return r.json()["data"]["keys"]

    def role_lease_ids(self, role):
        """Full lease ids under <mount>/creds/<role>/."""
        prefix = f"{self.mount}/creds/{role}/"
        return [prefix + k for k in self.lease_keys(prefix) if not k.endswith("/")]

    def lookup(self, lease_id):
        """RawResponse of PUT sys/leases/lookup."""
        return self.raw("PUT", "/v1/sys/leases/lookup", {"lease_id": lease_id})

    def lease_known(self, lease_id):
        r = self.lookup(lease_id)
        if r.status == 200:
            return True
        assert r.status == 400, f"lookup of {lease_id}: unexpected {r.status} {r.text}"
        return False


def expect_status(exc_info, status):
    """For hvac exceptions: assert the HTTP status class matches."""
    mapping = {400: hvac.exceptions.InvalidRequest, 403: hvac.exceptions.Forbidden,
               404: hvac.exceptions.InvalidPath, 500: hvac.exceptions.InternalServerError}
    assert isinstance(exc_info.value, mapping[status]), f"expected {status}, got {exc_info.value!r}"
