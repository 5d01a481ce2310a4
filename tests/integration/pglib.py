"""A real PostgreSQL 15 server for the database secrets engine tests and the bench.

`PostgresServer` runs initdb + pg_ctl from /usr/lib/postgresql/15/bin (or $PG_BINDIR)
in a fresh temporary directory: data directory, unix socket directory and server log
all live there, and the server listens on a free 127.0.0.1 port.

- Local (unix socket) connections are `trust`: the suite's own admin queries go over
  the socket as the superuser `postgres`, so they keep working whatever coffer does
  to passwords.
- TCP connections use `scram-sha-256` password authentication: every login a test
  makes with credentials coffer generated (`psql_login`, `open_session`) is a real
  password check over 127.0.0.1.
- The superuser `postgres` has the known password `SUPERUSER_PASSWORD`; coffer is
  configured with it (see `connection_url`).

initdb refuses to run as root. When the suite runs as root (CI does), every server
process runs as an unprivileged system user instead: `postgres` (created by the
postgresql-common package) or else `coffer-test` (created here if missing); the
temporary directory is handed to that user. As a normal user everything runs as
that user.

`fast=True` (the test suite) turns off fsync, synchronous_commit and full_page_writes:
a crash of the test machine may corrupt this throw-away cluster, which nobody cares
about, and catalog commits (CREATE/DROP ROLE) stop waiting for the disk. The bench
uses `fast=False`: the real, durable thing.

Run as a program (`python3 pglib.py serve [--durable] [--dir=PARENT]`) it starts a
server, prints one JSON line {port, host, socket_dir, user, password, pid} and keeps
it running until stdin closes (used by the node-vault tests and bench/db_creds).
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "coffer-test-superuser-pw"
PG_START_DEADLINE = 30.0
PSQL_TIMEOUT = 30.0


def pg_bindir():
    """Directory of initdb/pg_ctl/postgres (PostgreSQL 15 as packaged by Debian)."""
    value = os.environ.get("PG_BINDIR")
    if value:
        return Path(value)
    for cand in ("/usr/lib/postgresql/15/bin",):
        if Path(cand, "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    return Path("/usr/lib/postgresql/15/bin")


def psql_path():
    cand = pg_bindir() / "psql"
    if cand.exists():
        return str(cand)
    return shutil.which("psql") or "psql"


def available():
    """(True, "") when a PostgreSQL server can be started here, else (False, why)."""
    b = pg_bindir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (b / tool).exists():
            return False, f"{b / tool} not found (scripts/bootstrap installs postgresql-15)"
    if not Path(psql_path()).exists() and not shutil.which("psql"):
        return False, "psql not found (postgresql-client-15)"
    if os.geteuid() == 0 and _service_user() is None:
        return False, "running as root and no unprivileged user to run PostgreSQL as"
    return True, ""


def _service_user():
    """The unprivileged account that runs the server when we are root (else None)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "coffer-test"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    # Neither exists: create a system user for the tests.
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "coffer-test"],
            check=True, capture_output=True, timeout=30,
        )
        return pwd.getpwnam("coffer-test")
    except (OSError, subprocess.SubprocessError, KeyError):
        return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _clean_env(extra=None):
    """Environment for client programs: no PG* variable from the caller leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = "/dev/null"  # never a developer's ~/.pgpass
    env["PGCONNECT_TIMEOUT"] = "5"
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    if extra:
        env.update(extra)
    return env


def _conn_value(value):
    """A libpq conninfo value, quoted (user names may hold spaces and quotes)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_literal(value):
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(value):
    return '"' + str(value).replace('"', '""') + '"'


class PsqlError(Exception):
    def __init__(self, sql, returncode, stderr):
        super().__init__(f"psql exited {returncode} for {sql[:200]!r}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


class PostgresServer:
    def __init__(self, fast=True, parent_dir=None, name="pg"):
        self.fast = fast
        self.parent_dir = parent_dir
        self.name = name
        self.port = None
        self.dir = None
        self.data_dir = None
        self.socket_dir = None
        self.log_path = None
        self.user = _service_user()  # pwd entry or None
        self.superuser = SUPERUSER
        self.password = SUPERUSER_PASSWORD
        self.bindir = pg_bindir()
        self._initialized = False

    # -- process control ------------------------------------------------------

    def _as_owner(self, argv):
        """argv run as the server's owner (the unprivileged user when we are root)."""
        if self.user is None:
            return argv
        return ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                "--clear-groups", "--", *argv]

    def _run_owner(self, argv, timeout=60, check=True):
        env = _clean_env({"HOME": str(self.dir)})
        res = subprocess.run(self._as_owner(argv), capture_output=True, text=True, env=env,
                             cwd=self.dir, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, argv))} exited {res.returncode}:\n"
                               f"{res.stdout}\n{res.stderr}\n--- server log ---\n{self.log_text()}")
        return res

    def init(self):
        """initdb into a new temporary directory."""
        # /tmp (or the given parent) keeps the socket path short (<108 bytes).
        self.dir = Path(tempfile.mkdtemp(prefix="coffer-pg-", dir=self.parent_dir))
        self.data_dir = self.dir / "data"
        self.socket_dir = self.dir
        self.log_path = self.dir / "server.log"
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self.log_path.touch()
        if self.user is not None:
            for p in (self.dir, pwfile, self.log_path):
                os.chown(p, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.dir, 0o700)
        argv = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.superuser,
                f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                "-E", "UTF8", "--locale=C"]
        if self.fast:
            argv.append("--no-sync")
        self._run_owner(argv, timeout=120)
        pwfile.unlink()
        hba = (
            "# written by tests/integration/pglib.py\n"
            "local   all   all                  trust\n"
            "host    all   all   127.0.0.1/32   scram-sha-256\n"
            "host    all   all   ::1/128        scram-sha-256\n"
        )
        (self.data_dir / "pg_hba.conf").write_text(hba)
        conf = [
            "# written by tests/integration/pglib.py",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "password_encryption = 'scram-sha-256'",
            "max_connections = 300",
            "shared_buffers = 64MB",
            "log_min_messages = warning",
            "log_line_prefix = '%m [%p] %q%u@%d '",
            "log_connections = off",
            "log_disconnections = off",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
        ]
        if self.fast:
            # Test instance only: nobody needs this cluster to survive a crash of the
            # machine, and catalog commits must not wait for the disk.
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.data_dir / "postgresql.auto.conf", "a") as f:
            f.write("\n".join(conf) + "\n")
        if self.user is not None:
            for p in (self.data_dir / "pg_hba.conf", self.data_dir / "postgresql.auto.conf"):
                os.chown(p, self.user.pw_uid, self.user.pw_gid)
        self._initialized = True

    def start(self):
        """Start (or restart after stop()) the server; a fresh port on first start."""
        if not self._initialized:
            self.init()
        attempts = 3 if self.port is None else 1
        last = None
        for _ in range(attempts):
            if self.port is None or attempts > 1:
                self.port = _free_port()
            res = self._run_owner(
                [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                 "-o", f"-p {self.port}", "-w", "-t", str(int(PG_START_DEADLINE)), "start"],
                timeout=PG_START_DEADLINE + 15, check=False)
            if res.returncode == 0 and self.is_ready():
                return self
            last = f"pg_ctl start exited {res.returncode}: {res.stdout}{res.stderr}"
            if "already in use" not in self.log_text()[-3000:]:
                break
        raise RuntimeError(f"PostgreSQL did not start: {last}\n--- server log ---\n{self.log_text()[-5000:]}")

    def stop(self, mode="fast"):
        """pg_ctl stop (-m fast: terminates every session, like a real outage)."""
        if self.data_dir is None or not (self.data_dir / "postmaster.pid").exists():
            return
        self._run_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w",
                         "-t", "30", "stop"], timeout=60, check=False)

    def running(self):
        return self.data_dir is not None and (self.data_dir / "postmaster.pid").exists() and self.is_ready()

    def is_ready(self):
        try:
            return self.query("SELECT 1", timeout=5) == "1"
        except (PsqlError, subprocess.SubprocessError, OSError):
            return False

    def cleanup(self):
        """Stop immediately and delete the temporary directory."""
        try:
            try:  # a test that froze the server (SIGSTOP) and failed must not hang us
                master = int((self.data_dir / "postmaster.pid").read_text().split()[0])
                for pid in [master] + _children(master):
                    os.kill(pid, signal.SIGCONT)
            except (OSError, ValueError, TypeError, IndexError):
                pass
            self.stop(mode="immediate")
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            return Path(self.log_path).read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # -- addresses ----------------------------------------------------------------

    def connection_url(self, db="postgres", templated=True, user=None, password=None):
        """The DSN coffer is configured with (over TCP, so passwords are checked)."""
        if templated:
            cred = "{{username}}:{{password}}"
        else:
            cred = f"{user}:{password}"
        return f"postgresql://{cred}@{LOOPBACK}:{self.port}/{db}?sslmode=disable"

    # -- queries --------------------------------------------------------------------

    def _admin_argv(self, db):
        return [psql_path(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.superuser, "-d", db]

    def query(self, sql, db="postgres", timeout=PSQL_TIMEOUT):
        """Run SQL as the superuser over the unix socket; stdout stripped.

        Raises PsqlError on any failure. The SQL goes on stdin (no length limit).
        """
        res = subprocess.run(self._admin_argv(db), input=sql, capture_output=True, text=True,
                             env=_clean_env(), timeout=timeout)
        if res.returncode != 0:
            raise PsqlError(sql, res.returncode, res.stderr)
        return res.stdout.strip()

    def query_rows(self, sql, db="postgres"):
        out = self.query(sql, db=db)
        return [line.split("|") for line in out.splitlines() if line]

    def role_exists(self, name):
        return self.query(f"SELECT count(*) FROM pg_roles WHERE rolname = {sql_literal(name)}") == "1"

    def existing_roles(self, names):
        """The subset of `names` that exist as roles (one query for any number)."""
        names = list(names)
        if not names:
            return set()
        arr = "ARRAY[" + ",".join(sql_literal(n) for n in names) + "]::text[]"
        out = self.query(f"SELECT rolname FROM pg_roles WHERE rolname = ANY({arr})")
        return set(out.splitlines()) if out else set()

    def roles_like(self, pattern):
        out = self.query(f"SELECT rolname FROM pg_roles WHERE rolname LIKE {sql_literal(pattern)} ORDER BY 1")
        return out.splitlines() if out else []

    def role_valid_until(self, name):
        """rolvaliduntil as epoch seconds (float) or None (no expiry / no such role)."""
        out = self.query(
            f"SELECT extract(epoch FROM rolvaliduntil) FROM pg_roles WHERE rolname = {sql_literal(name)}")
        return float(out) if out else None

    def backend_pids(self, user):
        out = self.query(
            f"SELECT pid FROM pg_stat_activity WHERE usename = {sql_literal(user)} ORDER BY 1")
        return [int(x) for x in out.splitlines()] if out else []

    def create_database(self, name):
        self.query(f"CREATE DATABASE {sql_ident(name)}")
        return name

    def create_role(self, name, password=None, superuser=False, login=True, extra=""):
        opts = ["LOGIN" if login else "NOLOGIN"]
        if superuser:
            opts.append("SUPERUSER")
        if password is not None:
            opts.append(f"PASSWORD {sql_literal(password)}")
        self.query(f"CREATE ROLE {sql_ident(name)} WITH {' '.join(opts)} {extra}")
        return name

    def drop_role(self, name):
        self.query(f"DROP ROLE IF EXISTS {sql_ident(name)}")

    # -- logins as somebody else, over TCP with a password -------------------------

    def _user_argv(self, user, db):
        conninfo = (f"host={LOOPBACK} port={self.port} user={_conn_value(user)} dbname={_conn_value(db)} "
                    "sslmode=disable connect_timeout=5")
        return [psql_path(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo]

    def login(self, user, password, db="postgres", sql="SELECT current_user"):
        """(ok, stdout, stderr) of one psql run as `user` with `password` over TCP."""
        res = subprocess.run(self._user_argv(user, db), input=sql, capture_output=True, text=True,
                             env=_clean_env({"PGPASSWORD": password or ""}), timeout=PSQL_TIMEOUT)
        return res.returncode == 0, res.stdout.strip(), res.stderr.strip()

    def psql_login(self, user, password, db="postgres"):
        """True when `user` can log in with `password` over TCP (scram-sha-256)."""
        ok, out, _err = self.login(user, password, db=db)
        return ok and out == user

    def open_session(self, user, password, db="postgres"):
        """A psql session kept open (stdin pipe); see PsqlSession."""
        return PsqlSession(self, user, password, db)


class PsqlSession:
    """A live psql connection as `user`. Its backend pid is found through
    pg_stat_activity; `terminated()` tells whether the server ended it, and
    `client_sees_termination()` proves it from the client's side."""

    def __init__(self, pg, user, password, db="postgres"):
        self.pg = pg
        self.user = user
        known = set(pg.backend_pids(user))
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            pg._user_argv(user, db), stdin=subprocess.PIPE, stdout=self.out, stderr=subprocess.STDOUT,
            env=_clean_env({"PGPASSWORD": password}),
        )
        # Make the session do something: the backend then certainly exists.
        self.send("SELECT 'session-open';\n")
        deadline = time.monotonic() + 15
        self.pid = None
        while time.monotonic() < deadline:
            new = [p for p in pg.backend_pids(user) if p not in known]
            if new:
                self.pid = new[0]
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.pid is None:
            self.close()
            raise AssertionError(f"psql session as {user} did not open: {self.output()}")

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def output(self):
        self.out.seek(0)
        return self.out.read().decode(errors="replace")

    def backend_alive(self):
        return self.pid in self.pg.backend_pids(self.user) or self.pid in self._all_pids()

    def _all_pids(self):
        out = self.pg.query("SELECT pid FROM pg_stat_activity")
        return {int(x) for x in out.splitlines()} if out else set()

    def terminated(self):
        """True once the server has no backend for this session any more."""
        return self.pid not in self._all_pids()

    def client_sees_termination(self, timeout=10.0):
        """Send a query; True when psql exits because the server closed the connection."""
        self.send("SELECT 'still-alive';\n")
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return self.proc.returncode != 0

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.out.close()


# ---------------------------------------------------------------------------
# program mode: start a server for another process (node tests, bench)


def _serve(argv):
    durable = "--durable" in argv
    parent = None
    for a in argv:
        if a.startswith("--dir="):
            parent = a.split("=", 1)[1]
    ok, why = available()
    if not ok:
        print(json.dumps({"error": why}), flush=True)
        return 3
    pg = PostgresServer(fast=not durable, parent_dir=parent)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        pg.start()
        print(json.dumps({"port": pg.port, "host": LOOPBACK, "socket_dir": str(pg.socket_dir),
                          "user": pg.superuser, "password": pg.password, "dir": str(pg.dir),
                          "psql": psql_path()}), flush=True)
        try:
            sys.stdin.read()  # until the parent closes our stdin (or dies)
        except KeyboardInterrupt:
            pass
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        print(json.dumps({"error": str(exc)[-2000:]}), flush=True)
        return 1
    finally:
        pg.cleanup()
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        sys.exit(_serve(sys.argv[2:]))
    print("usage: pglib.py serve [--durable] [--dir=PARENT]", file=sys.stderr)
    sys.exit(2)
