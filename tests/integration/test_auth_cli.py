"""`coffer auth enable|disable|list|tune`, `coffer login --method=...` and
`coffer write ... password=-` against a dev server. HOME is the
test's temporary directory (run_cli), so ~/.coffer-token is the test's own."""

import json
import os
import pty
import re
import stat
import subprocess
import termios

import pytest

from cofferlib import coffer_bin, wait_until

TOKEN_RE = re.compile(r"hvs\.[A-Za-z0-9]{24,}")


@pytest.fixture
def cli(run_cli, dev_server):
    def run(*args, token="__root__", **kw):
        if token == "__root__":
            token = dev_server.token
        return run_cli(*args, addr=dev_server.addr, token=token, **kw)

    return run


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    return res


def fails(res, code=2):
    assert res.returncode == code, f"exit {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    assert res.stderr.startswith("coffer: "), res.stderr
    return res


def test_auth_enable_list_disable(cli, dev_server):
    res = ok(cli("auth", "enable", "userpass"))
    assert "Enabled userpass auth method at: userpass/" in res.stdout
    ok(cli("auth", "enable", "--path=team/up", "--description=team logins", "userpass"))
    res = ok(cli("auth", "list"))
    assert re.search(r"userpass/\s+userpass\s+auth_userpass_", res.stdout), res.stdout
    assert re.search(r"team/up/\s+userpass\s+\S+\s+team logins", res.stdout), res.stdout
    assert "token/" in res.stdout
    doc = json.loads(ok(cli("auth", "list", "--format=json")).stdout)
    assert doc["data"]["team/up/"]["description"] == "team logins"
    ok(cli("auth", "list", "--detailed"))
    fails(cli("auth", "enable", "userpass"))  # path in use
    ok(cli("auth", "disable", "team/up"))
    assert "team/up/" not in dev_server.client.sys.list_auth_methods()["data"]
    fails(cli("auth", "disable", "token"))
    fails(cli("auth", "enable"))


def test_auth_tune_lockout_merges(cli, dev_server):
    ok(cli("auth", "enable", "userpass"))
    ok(cli("auth", "tune", "--lockout-threshold=3", "--lockout-duration=10s", "--max-lease-ttl=2h",
           "userpass"))
    ok(cli("auth", "tune", "--lockout-counter-reset=1m", "userpass"))
    tune = dev_server.raw("GET", "/v1/sys/auth/userpass/tune").json()["data"]
    assert tune["max_lease_ttl"] == 7200
    assert tune["user_lockout_config"] == {"lockout_threshold": 3, "lockout_duration": "10s",
                                           "lockout_counter_reset": "1m"}
    fails(cli("auth", "tune", "--lockout-threshold=abc", "userpass"))


def test_write_password_from_stdin_then_login(cli, dev_server, tmp_path):
    ok(cli("auth", "enable", "userpass"))
    ok(cli("policy", "write", "kv-app", "-",
           input='path "secret/data/app/*" { capabilities = ["read"] }\n'))
    dev_server.client.secrets.kv.v2.create_or_update_secret("app/db", {"password": "dbpw"})
    # not a terminal: `-` is all of stdin, unchanged
    ok(cli("write", "auth/userpass/users/alice", "password=-", "policies=kv-app", input="s3cret pw"))
    res = ok(cli("login", "--method=userpass", "username=alice", "password=-", token=None,
                 input="s3cret pw\n"))
    assert "Success! You are now authenticated" in res.stdout
    token = TOKEN_RE.search(res.stdout).group(0)
    path = tmp_path / ".coffer-token"
    assert path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret" not in res.stdout + res.stderr
    # later commands use the stored token
    res = ok(cli("kv", "get", "--field=password", "secret/app/db", token=None))
    assert res.stdout.strip() == "dbpw"
    fails(cli("kv", "get", "secret/other", token=None))


def test_login_prompts_when_no_password(cli, dev_server, tmp_path):
    ok(cli("auth", "enable", "userpass"))
    dev_server.client.auth.userpass.create_or_update_user("bob", "bob pw")
    res = ok(cli("login", "--method=userpass", "--no-store", "--field=token", "username=bob",
                 token=None, input="bob pw\n"))
    assert TOKEN_RE.fullmatch(res.stdout.strip()), res.stdout
    assert not (tmp_path / ".coffer-token").exists()
    looked = dev_server.client.auth.token.lookup(res.stdout.strip())["data"]
    assert looked["meta"] == {"username": "bob"}


def test_login_json_and_custom_path(cli, dev_server):
    ok(cli("auth", "enable", "--path=people", "userpass"))
    dev_server.client.auth.userpass.create_or_update_user("carol", "carol-pw", mount_point="people")
    res = ok(cli("login", "--method=userpass", "--path=people", "--format=json", "--no-store",
                 "username=carol", "password=carol-pw", token=None))
    doc = json.loads(res.stdout)
    assert doc["auth"]["metadata"] == {"username": "carol"}


def test_login_wrong_password(cli, dev_server, tmp_path):
    ok(cli("auth", "enable", "userpass"))
    dev_server.client.auth.userpass.create_or_update_user("dave", "right")
    res = fails(cli("login", "--method=userpass", "username=dave", "password=wrong", token=None))
    assert "invalid username or password" in res.stderr
    assert "HTTP 400" in res.stderr
    assert not (tmp_path / ".coffer-token").exists()


def test_login_approle(cli, dev_server, tmp_path):
    c = dev_server.client
    ok(cli("auth", "enable", "approle"))
    c.auth.approle.create_or_update_approle("app", token_policies=["default"])
    rid = c.auth.approle.read_role_id("app")["data"]["role_id"]
    sid = c.auth.approle.generate_secret_id("app")["data"]["secret_id"]
    res = ok(cli("login", "--method=approle", f"role_id={rid}", "secret_id=-", token=None,
                 input=sid + "\n"))
    token = TOKEN_RE.search(res.stdout).group(0)
    assert (tmp_path / ".coffer-token").read_text().strip() == token
    assert re.search(r"token_meta_role_name\s+app", res.stdout), res.stdout
    fails(cli("login", "--method=approle", token=None))  # missing role_id


def test_login_usage_errors(cli, tmp_path):
    fails(cli("login", "username=x", token=None))  # --method=token takes only a token
    fails(cli("login", "--method=nope", "username=x", token=None))
    fails(cli("login", "--method=userpass", "password=x", token=None))  # no username
    fails(cli("login", "--method=jwt", "role=r", token=None))  # no jwt
    fails(cli("login", "--method=userpass", "bare", token=None))


def test_login_token(cli, dev_server, tmp_path):
    """coffer login TOKEN (the default method, as vault login): checked, then stored."""
    child = dev_server.client.auth.token.create(policies=["default"], ttl="1h")["auth"]
    res = ok(cli("login", child["client_token"], token=None))
    assert (tmp_path / ".coffer-token").read_text().strip() == child["client_token"]
    assert child["accessor"] in res.stdout
    res = ok(cli("token", "lookup", "--format=json", token=None))
    assert json.loads(res.stdout)["data"]["accessor"] == child["accessor"]
    # from stdin, not stored
    res = ok(cli("login", "--no-store", "--field=token_accessor", "-", token=None,
                 input=child["client_token"] + "\n"))
    assert res.stdout.strip() == child["accessor"]
    res = fails(cli("login", "hvs.nosuchtokennosuchtoken00", token=None))
    assert "permission denied" in res.stderr
    assert (tmp_path / ".coffer-token").read_text().strip() == child["client_token"]


def test_login_jwt_sends_role_and_file(cli, dev_server, tmp_path):
    """The jwt method may not be there; the CLI still sends role and the JWT read
    from @FILE (its trailing newline dropped) and reports the server's error."""
    jwt_file = tmp_path / "token.jwt"
    jwt_file.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n")
    res = fails(cli("login", "--method=jwt", "--path=nojwt", "role=r", f"jwt=@{jwt_file}",
                    token=None))
    assert "auth/nojwt/login" in res.stderr or "HTTP 404" in res.stderr


def test_login_srp_unmounted(cli):
    fails(cli("login", "--method=srp", "--path=nosrp", "username=u", "password=p", token=None))


def test_write_password_prompt_has_no_echo(dev_server, tmp_path):
    """On a terminal, `password=-` prompts and the typed password is not echoed."""
    dev_server.client.sys.enable_auth_method("userpass")
    master, slave = pty.openpty()
    env = dict(os.environ, HOME=str(tmp_path), COFFER_ADDR=dev_server.addr,
               COFFER_TOKEN=dev_server.token)
    proc = subprocess.Popen([str(coffer_bin()), "write", "auth/userpass/users/erin", "password=-"],
                            stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env,
                            cwd=tmp_path)
    seen = b""
    try:
        def echo_off():
            return not (termios.tcgetattr(slave)[3] & termios.ECHO)

        wait_until(echo_off, 10, what="the prompt to turn echo off")
        os.write(master, b"tty-secret-pw\n")
        proc.wait(timeout=15)
        os.set_blocking(master, False)
        while True:
            try:
                chunk = os.read(master, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(slave)
        os.close(master)
    out = proc.stdout.read().decode()
    assert proc.returncode == 0, (out, seen)
    assert b"password (will be hidden)" in seen
    assert b"tty-secret-pw" not in seen
    assert "tty-secret-pw" not in out
    # echo is back on after the prompt (the terminal was restored)
    dev_server.server.client().auth.userpass.login("erin", "tty-secret-pw")


def test_auth_list_and_secrets_list_tables(dev_server, run_cli):
    srv = dev_server
    r = run_cli("auth", "enable", "userpass", addr=srv.addr, token=srv.token)
    assert r.returncode == 0, r.stderr
    r = run_cli("auth", "list", "--detailed", addr=srv.addr, token=srv.token)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[2:]]
    assert ["token/", "token"] in [row[:2] for row in rows]
    assert ["userpass/", "userpass"] in [row[:2] for row in rows]
    r = run_cli("secrets", "list", addr=srv.addr, token=srv.token)
    assert r.returncode == 0, r.stderr
    assert any(line.startswith("secret/") for line in r.stdout.splitlines())
    assert not any(line.startswith("userpass/") for line in r.stdout.splitlines())
