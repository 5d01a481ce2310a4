"""coffer run (docs/env.md "coffer run"): variables from .env files (plain and
dotenvx-encrypted), server paths and rotation jobs, and the parent environment;
secrets masked in the child's stdout and stderr (whole, split across writes, on
a long line, base64- and URL-encoded); exit codes and signals passed through;
stdin untouched; --watch restarting or signalling the child on rotation. Every
test drives the real binary; the children are python3 scripts."""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from cofferlib import REPO_ROOT, coffer_bin, wait_until

PY = sys.executable
DOTENVX = REPO_ROOT / "tests" / "integration" / "node" / "node_modules" / ".bin" / "dotenvx"
# A secret with characters that base64 and URL encoding change.
SECRET = "s3cr/t+V@lue&x=1 " + os.urandom(6).hex()


def stop(proc):
    """Ends a coffer run that is still going. SIGTERM first: coffer forwards it,
    so its child is not left running; SIGKILL only if that does not work."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=15)


def coffer_env(dev=None, extra=None, home=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COFFER_", "VAULT_", "DOTENV_"))}
    if home:
        env["HOME"] = str(home)
    if dev is not None:
        env["COFFER_ADDR"] = dev.addr
        env["COFFER_TOKEN"] = dev.token
    env.update(extra or {})
    return env


def run(args, dev=None, env=None, input=None, cwd=None, timeout=60):
    """coffer run ARGS; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run([str(coffer_bin()), "run", *[str(a) for a in args]],
                          input=input, capture_output=True, timeout=timeout, cwd=cwd,
                          env=coffer_env(dev, env, home=cwd))


def put(dev, path, data, mount="secret"):
    r = dev.raw("POST", f"/v1/{mount}/data/{path}", {"data": data})
    assert r.status == 200, r.text


# The child: prints the secret in every form the masker must catch, each
# between markers that must survive.
LEAKER = r"""
import base64, os, sys, urllib.parse
s = os.environ["PASSWORD"]
o, e = sys.stdout, sys.stderr
o.write("whole<" + s + ">end\n"); o.flush()
o.write("split<"); o.flush()
for i in range(len(s)):          # one byte per write
    o.write(s[i]); o.flush()
o.write(">end\n"); o.flush()
o.write("long<" + "x" * 600000 + s + "y" * 600000 + ">end\n"); o.flush()
o.write("b64<" + base64.b64encode(s.encode()).decode() + ">end\n")
o.write("b64url<" + base64.urlsafe_b64encode(s.encode()).decode() + ">end\n")
o.write("b64off<" + base64.b64encode(b"ab" + s.encode()).decode() + ">end\n")
o.write("url<" + urllib.parse.quote(s, safe="") + ">end\n")
o.write("urlplus<" + urllib.parse.quote_plus(s) + ">end\n"); o.flush()
e.write("stderr<" + s + ">end\n"); e.flush()
e.write("errsplit<" + s[:5]); e.flush(); e.write(s[5:] + ">end\n"); e.flush()
"""


def leaked_forms(s):
    b = s.encode()
    return [b, base64.b64encode(b), base64.urlsafe_b64encode(b),
            base64.b64encode(b"ab" + b)[4:-4], urllib.parse.quote(s, safe="").encode(),
            urllib.parse.quote_plus(s).encode()]


# ---------------------------------------------------------------------------
# masking


def test_server_secret_is_masked_in_every_form(dev_server, tmp_path):
    put(dev_server, "app/db", {"PASSWORD": SECRET, "USER": "app"})
    p = run(["--path=secret/app/db", "--", PY, "-c", LEAKER], dev=dev_server, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    out, err = p.stdout, p.stderr
    for form in leaked_forms(SECRET):
        assert form not in out and form not in err, form
    for marker in [b"whole<*****>end", b"split<*****>end", b"b64<", b"b64url<", b"url<",
                   b"urlplus<"]:
        assert marker in out, marker
    assert b"long<" + b"x" * 600000 + b"*****" + b"y" * 600000 + b">end" in out
    assert b"stderr<*****>end" in err and b"errsplit<*****>end" in err
    # every line is there: nothing but the secrets was dropped
    assert out.count(b">end\n") == 8 and err.count(b">end\n") == 2


def test_no_mask_shows_the_value(dev_server, tmp_path):
    put(dev_server, "app/db", {"PASSWORD": SECRET})
    p = run(["--no-mask", "--path=secret/app/db", "--", PY, "-c", LEAKER], dev=dev_server,
            cwd=tmp_path)
    assert p.returncode == 0
    assert f"whole<{SECRET}>end".encode() in p.stdout
    assert f"stderr<{SECRET}>end".encode() in p.stderr


def test_plain_file_values_are_not_secrets(tmp_path):
    (tmp_path / ".env").write_text("GREETING=hello-plain-value\n")
    p = run(["-f", ".env", "--", PY, "-c", "import os; print(os.environ['GREETING'])"],
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"hello-plain-value\n"


def test_encrypted_values_made_by_coffer_are_decrypted_and_masked(tmp_path):
    pw = "pw-" + os.urandom(8).hex()
    (tmp_path / ".env").write_text(f"PW={pw}\nHOST=db.local\n")
    e = subprocess.run([str(coffer_bin()), "env", "encrypt", "-f", ".env", "PW"], cwd=tmp_path,
                       capture_output=True, env=coffer_env(home=tmp_path))
    assert e.returncode == 0, e.stderr
    assert pw not in (tmp_path / ".env").read_text()
    child = "import os; print('pw<' + os.environ['PW'] + '> host<' + os.environ['HOST'] + '>')"
    p = run(["-f", ".env", "--", PY, "-c", child], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"pw<*****> host<db.local>\n"
    p = run(["--no-mask", "-f", ".env", "--", PY, "-c", child], cwd=tmp_path)
    assert p.stdout == f"pw<{pw}> host<db.local>\n".encode()


@pytest.mark.skipif(not DOTENVX.exists(), reason="scripts/bootstrap installs dotenvx")
def test_encrypted_values_made_by_dotenvx_are_decrypted(tmp_path):
    pw = "dx-" + os.urandom(8).hex()
    f = tmp_path / ".env.production"
    f.write_text("MODE=prod\n")
    d = subprocess.run([str(DOTENVX), "set", "PW", pw, "-f", ".env.production"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert d.returncode == 0, d.stderr
    assert pw not in f.read_text() and "encrypted:" in f.read_text()
    keys = (tmp_path / ".env.keys").read_text()
    priv = [ln.split("=", 1)[1].strip().strip('"') for ln in keys.splitlines()
            if ln.startswith("DOTENV_PRIVATE_KEY_PRODUCTION=")][0]
    (tmp_path / ".env.keys").unlink()  # the key comes from the environment only
    child = "import os; print(os.environ['MODE'], os.environ['PW'])"
    p = run(["--no-mask", "-f", ".env.production", "--", PY, "-c", child],
            env={"DOTENV_PRIVATE_KEY_PRODUCTION": priv}, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"prod {pw}\n".encode()
    p = run(["-f", ".env.production", "--", PY, "-c", child],
            env={"DOTENV_PRIVATE_KEY_PRODUCTION": priv}, cwd=tmp_path)
    assert p.stdout == b"prod *****\n"


def test_encrypted_value_without_the_right_key_does_not_run(tmp_path):
    pw = "pw-" + os.urandom(8).hex()
    (tmp_path / ".env").write_text(f"PW={pw}\n")
    e = subprocess.run([str(coffer_bin()), "env", "encrypt", "-f", ".env"], cwd=tmp_path,
                       capture_output=True, env=coffer_env(home=tmp_path))
    assert e.returncode == 0, e.stderr
    (tmp_path / ".env.keys").unlink()
    marker = tmp_path / "ran"
    child = ["--", PY, "-c", f"open({str(marker)!r}, 'w')"]
    wrong = "11" * 32
    for env in [{}, {"DOTENV_PRIVATE_KEY": wrong}]:
        p = run(["-f", ".env", *child], env=env, cwd=tmp_path)
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith(b"coffer: run: ") and p.stderr.count(b"\n") == 1
        assert pw.encode() not in p.stderr and wrong.encode() not in p.stderr
    assert not marker.exists()


# ---------------------------------------------------------------------------
# exit status, signals, stdin


@pytest.mark.parametrize("code", [0, 1, 3])
def test_exit_code_is_the_childs(tmp_path, code):
    p = run(["--", PY, "-c", f"import sys; sys.exit({code})"], cwd=tmp_path)
    assert p.returncode == code


def test_exit_code_is_the_childs_when_masking(dev_server, tmp_path):
    put(dev_server, "app/db", {"PASSWORD": SECRET})
    p = run(["--path=secret/app/db", "--", PY, "-c", "import sys; sys.exit(1)"],
            dev=dev_server, cwd=tmp_path)
    assert p.returncode == 1


@pytest.mark.parametrize("mask", [False, True])
def test_child_killed_by_sigkill_gives_137(dev_server, tmp_path, mask):
    put(dev_server, "app/db", {"PASSWORD": SECRET})
    args = ["--path=secret/app/db"] if mask else []
    p = run([*args, "--", PY, "-c",
             "import os, signal, sys; print('before', flush=True); "
             "os.kill(os.getpid(), signal.SIGKILL)"], dev=dev_server, cwd=tmp_path)
    assert p.returncode == 137
    assert p.stdout == b"before\n"  # drained before coffer exited


# The child waits for the signal with sigwait: a Python-level handler around
# time.sleep() can miss a signal (seen with CPython 3.11 under load).
HANDLER = r"""
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
open(sys.argv[1], "w").write(str(os.getpid()))
sig = signal.sigwait({signal.SIGTERM, signal.SIGHUP})
print("child got", int(sig), flush=True)
sys.exit(42)
"""


@pytest.mark.parametrize("mask", [False, True])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signals_are_forwarded(dev_server, tmp_path, mask, sig):
    put(dev_server, "app/db", {"PASSWORD": SECRET})
    ready = tmp_path / "ready"
    args = ["--path=secret/app/db"] if mask else []
    proc = subprocess.Popen([str(coffer_bin()), "run", *args, "--", PY, "-c", HANDLER,
                             str(ready)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=coffer_env(dev_server, home=tmp_path), cwd=tmp_path)
    try:
        wait_until(lambda: ready.exists() and ready.read_text(), 15, what="child ready")
        child = int(ready.read_text())
        assert child != proc.pid
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        stop(proc)
    assert proc.returncode == 42, err
    assert out == f"child got {int(sig)}\n".encode()


def test_unhandled_sigterm_gives_143(tmp_path):
    ready = tmp_path / "ready"
    proc = subprocess.Popen([str(coffer_bin()), "run", "--", PY, "-c",
                             "import sys, time; open(sys.argv[1], 'w').write('x'); "
                             "time.sleep(60)", str(ready)],
                            env=coffer_env(home=tmp_path), cwd=tmp_path)
    try:
        wait_until(ready.exists, 15, what="child ready")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 143
    finally:
        stop(proc)


@pytest.mark.parametrize("mask", [False, True])
def test_stdin_passes_through(dev_server, tmp_path, mask):
    put(dev_server, "app/db", {"PASSWORD": SECRET})
    data = os.urandom(3 << 20)
    args = ["--path=secret/app/db"] if mask else []
    p = run([*args, "--", PY, "-c",
             "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"],
            dev=dev_server, input=data, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().strip() == hashlib.sha256(data).hexdigest()


def test_command_not_found_is_127(tmp_path):
    p = run(["--", "coffer-no-such-command-xyz"], cwd=tmp_path)
    assert p.returncode == 127
    assert p.stderr == b"coffer: run: coffer-no-such-command-xyz: not found\n"


def test_command_not_executable_is_126(tmp_path):
    f = tmp_path / "script.sh"
    f.write_text("#!/bin/sh\necho hi\n")
    f.chmod(0o644)
    p = run(["--", "./script.sh"], cwd=tmp_path)
    assert p.returncode == 126
    assert p.stderr.startswith(b"coffer: run: ./script.sh: ")


def test_path_lookup_uses_the_childs_path(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "my-tool-xyz"
    tool.write_text("#!/bin/sh\necho from-my-tool\n")
    tool.chmod(0o755)
    (tmp_path / ".env").write_text(f"PATH={bindir}:/usr/bin:/bin\n")
    p = run(["-o", "-f", ".env", "--", "my-tool-xyz"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"from-my-tool\n"


def test_closed_stdout_ends_the_child(dev_server, tmp_path):
    # coffer's reader goes away: the child gets EPIPE/SIGPIPE, as without coffer.
    put(dev_server, "app/db", {"PASSWORD": SECRET})
    proc = subprocess.Popen([str(coffer_bin()), "run", "--path=secret/app/db", "--", PY, "-c",
                             "import sys\nwhile True: sys.stdout.write('y' * 4096)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=coffer_env(dev_server, home=tmp_path), cwd=tmp_path)
    try:
        proc.stdout.read(100000)
        proc.stdout.close()
        rc = proc.wait(timeout=15)
    finally:
        stop(proc)
    assert rc != 0  # python: BrokenPipeError -> 1, or SIGPIPE -> 141


# ---------------------------------------------------------------------------
# sources and precedence

SHOW = "import os, sys; print(' '.join(os.environ.get(k, '-') for k in sys.argv[1:]))"


def show(args, keys, dev=None, env=None, cwd=None):
    p = run([*args, "--", PY, "-c", SHOW, *keys], dev=dev, env=env, cwd=cwd)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().split()


def test_parent_environment_wins_over_files_unless_override(tmp_path):
    (tmp_path / "a.env").write_text("A=file-a\nB=file-a\nC=file-a\n")
    (tmp_path / "b.env").write_text("B=file-b\nD=file-b\n")
    env = {"A": "parent"}
    assert show(["-f", "a.env", "-f", "b.env"], ["A", "B", "C", "D"], env=env,
                cwd=tmp_path) == ["parent", "file-a", "file-a", "file-b"]
    assert show(["--override", "-f", "a.env", "-f", "b.env"], ["A", "B", "C", "D"], env=env,
                cwd=tmp_path) == ["file-a", "file-b", "file-a", "file-b"]


@pytest.mark.skipif(not DOTENVX.exists(), reason="scripts/bootstrap installs dotenvx")
@pytest.mark.parametrize("override", [False, True])
@pytest.mark.parametrize("parent", [{}, {"A": "parent", "X": "px"}])
def test_files_and_expansion_as_dotenvx_run(tmp_path, override, parent):
    (tmp_path / "a.env").write_text(
        "A=one\nB=${A}-two\nC=\"$X/x\"\nD=${NOPE:-dflt}\nE='${A} single'\nF=\\$A\n")
    (tmp_path / "b.env").write_text("A=fromb\nG=${A}-g\nB=b-${B}\nH=${C}h\nP=${PATH}:/x\n")
    keys = list("ABCDEFGHP")
    flags = ["--overload"] if override else []
    env = coffer_env(extra=parent, home=tmp_path)
    env.pop("X", None) if "X" not in parent else None
    dx = subprocess.run([str(DOTENVX), "run", "-q", *flags, "-f", "a.env", "-f", "b.env", "--",
                         PY, "-c", SHOW, *keys], cwd=tmp_path, capture_output=True, env=env)
    assert dx.returncode == 0, dx.stderr
    ours = subprocess.run([str(coffer_bin()), "run", *flags, "-f", "a.env", "-f", "b.env", "--",
                           PY, "-c", SHOW, *keys], cwd=tmp_path, capture_output=True, env=env)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == dx.stdout


def test_server_values_win_over_files_and_parent(dev_server, tmp_path):
    put(dev_server, "app/db", {"PASSWORD": "from-server-1", "ONLY": "server"})
    put(dev_server, "app/other", {"PASSWORD": "from-server-2"})
    (tmp_path / ".env").write_text("PASSWORD=from-file\nFILEONLY=file\n")
    got = show(["--no-mask", "-f", ".env", "--path=secret/app/db"],
               ["PASSWORD", "ONLY", "FILEONLY"], dev=dev_server,
               env={"PASSWORD": "from-parent"}, cwd=tmp_path)
    assert got == ["from-server-1", "server", "file"]
    got = show(["--no-mask", "--path=secret/app/db", "--path=/secret/app/other/"],
               ["PASSWORD"], dev=dev_server, cwd=tmp_path)
    assert got == ["from-server-2"]


def test_kv_v1_path(dev_server, tmp_path):
    dev_server.client.sys.enable_secrets_engine("kv", path="old", options={"version": "1"})
    r = dev_server.raw("POST", "/v1/old/svc", {"API_TOKEN": "v1-token-value", "PORT": 8080})
    assert r.status in (200, 204), r.text
    got = show(["--no-mask", "--path=old/svc"], ["API_TOKEN", "PORT"], dev=dev_server,
               cwd=tmp_path)
    assert got == ["v1-token-value", "8080"]
    p = run(["--path=old/svc", "--", PY, "-c",
             "import os; print('t=' + os.environ['API_TOKEN'])"], dev=dev_server, cwd=tmp_path)
    assert p.stdout == b"t=*****\n"


def test_bad_paths_fail_before_running(dev_server, tmp_path):
    marker = tmp_path / "ran"
    child = ["--", PY, "-c", f"open({str(marker)!r}, 'w')"]
    for args, msg in [(["--path=secret/app/none"], b"no value found"),
                      (["--path=nomount/x"], b"no secrets engine is mounted"),
                      (["--path=rotation:nojob"], b"sys/rotation/jobs/nojob"),
                      (["--path=secret"], b"below the mount")]:
        p = run([*args, *child], dev=dev_server, cwd=tmp_path)
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.startswith(b"coffer: run: ") and msg in p.stderr, p.stderr
        assert p.stderr.count(b"\n") == 1
    assert not marker.exists()


def test_usage_errors(tmp_path):
    for args in [[], ["--signal=HUP", "--", "true"], ["--watch", "--", "true"],
                 ["--watch", "--path=secret/x", "--signal=NOPE", "--", "true"],
                 ["--bogus", "--", "true"], ["--path=rotation:", "--", "true"]]:
        p = run(args, cwd=tmp_path)
        assert p.returncode == 2, args
        assert p.stderr.startswith(b"coffer: run: "), p.stderr


def test_options_after_command_belong_to_it(tmp_path):
    p = run([PY, "-c", "import sys; print(sys.argv[1:])", "-f", "x", "--no-mask"],
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"['-f', 'x', '--no-mask']\n"


def test_missing_env_file_is_an_error(tmp_path):
    p = run(["-f", "nope.env", "--", "true"], cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.startswith(b"coffer: run: ") and b"nope.env" in p.stderr


# ---------------------------------------------------------------------------
# rotation jobs and --watch


def make_job(dev, name, path):
    r = dev.raw("PUT", f"/v1/sys/rotation/jobs/{name}",
                {"template": "api-key", "mount": "secret/", "path": path, "keys": {"KEY": {}}})
    assert r.status in (200, 204), r.text


def kv_value(dev, path, key="KEY"):
    r = dev.raw("GET", f"/v1/secret/data/{path}")
    assert r.status == 200, r.text
    return r.json()["data"]["data"][key]


def rotate(dev, name):
    r = dev.raw("POST", f"/v1/sys/rotation/jobs/{name}/rotate", {"reason": "test"})
    assert r.status == 200, r.text


def test_rotation_job_path_reads_the_current_value(dev_server, tmp_path):
    make_job(dev_server, "api", "svc/api")
    first = kv_value(dev_server, "svc/api")
    assert show(["--no-mask", "--path=rotation:api"], ["KEY"], dev=dev_server,
                cwd=tmp_path) == [first]
    rotate(dev_server, "api")
    second = kv_value(dev_server, "svc/api")
    assert second != first
    assert show(["--no-mask", "--path=rotation:api"], ["KEY"], dev=dev_server,
                cwd=tmp_path) == [second]


# Each start appends "pid value" to the log, prints the value and the old one
# (from a file the test wrote), then waits.
WATCHER = r"""
import os, sys, time
log, old = sys.argv[1], sys.argv[2]
v = os.environ["KEY"]
print("value<" + v + "> old<" + (open(old).read() if os.path.exists(old) else "") + ">",
      flush=True)
with open(log, "a") as f:
    f.write("%d %s\n" % (os.getpid(), v))
while True:
    time.sleep(1)
"""


def entries(log):
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("source", ["rotation:api", "secret/svc/api"])
def test_watch_restarts_child_with_the_new_value(dev_server, tmp_path, source):
    make_job(dev_server, "api", "svc/api")
    first = kv_value(dev_server, "svc/api")
    log, old = tmp_path / "log", tmp_path / "old"
    proc = subprocess.Popen([str(coffer_bin()), "run", "--watch", f"--path={source}", "--", PY,
                             "-c", WATCHER, str(log), str(old)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=coffer_env(dev_server, home=tmp_path),
                            cwd=tmp_path)
    try:
        wait_until(lambda: len(entries(log)) == 1, 15, what="first start")
        assert entries(log)[0][1] == first
        old.write_text(first)  # the restarted child prints the old value too
        rotate(dev_server, "api")
        second = kv_value(dev_server, "svc/api")
        wait_until(lambda: len(entries(log)) == 2, 20, what="restart after rotation")
        (pid1, v1), (pid2, v2) = entries(log)
        assert v2 == second and pid1 != pid2
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        stop(proc)
    assert proc.returncode == 143, err
    assert first.encode() not in out and second.encode() not in out
    assert out.count(b"value<*****>") == 2 and b"old<*****>" in out


def test_watch_with_signal_keeps_the_child(dev_server, tmp_path):
    make_job(dev_server, "api", "svc/api")
    first = kv_value(dev_server, "svc/api")
    got = tmp_path / "got"
    child = r"""
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
open(sys.argv[1], "a").write("start %d\n" % os.getpid())
while True:
    signal.sigwait({signal.SIGHUP})
    open(sys.argv[1], "a").write("hup %d\n" % os.getpid())
"""
    proc = subprocess.Popen([str(coffer_bin()), "run", "--watch", "--signal=HUP",
                             "--path=rotation:api", "--", PY, "-c", child, str(got)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=coffer_env(dev_server, home=tmp_path), cwd=tmp_path)
    try:
        wait_until(lambda: got.exists() and "start" in got.read_text(), 15, what="start")
        rotate(dev_server, "api")
        wait_until(lambda: "hup" in got.read_text(), 20, what="SIGHUP after rotation")
        lines = got.read_text().split()
        assert lines[0] == "start" and lines[2] == "hup" and lines[1] == lines[3]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        stop(proc)
    assert proc.returncode == 143, err
    assert first.encode() not in out + err


def test_watch_ignores_other_secrets(dev_server, tmp_path):
    make_job(dev_server, "api", "svc/api")
    make_job(dev_server, "other", "svc/other")
    log, old = tmp_path / "log", tmp_path / "old"
    proc = subprocess.Popen([str(coffer_bin()), "run", "--watch", "--path=rotation:api", "--",
                             PY, "-c", WATCHER, str(log), str(old)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=coffer_env(dev_server, home=tmp_path),
                            cwd=tmp_path)
    try:
        wait_until(lambda: len(entries(log)) == 1, 15, what="first start")
        rotate(dev_server, "other")  # not ours: no restart
        rotate(dev_server, "api")    # ours: exactly one restart, after the other event
        wait_until(lambda: len(entries(log)) >= 2, 20, what="restart")
        assert entries(log)[1][1] == kv_value(dev_server, "svc/api")
        assert len(entries(log)) == 2
    finally:
        stop(proc)


# ---------------------------------------------------------------------------
# --schema


def test_schema_secret_variables_are_masked(tmp_path):
    (tmp_path / "schema.json").write_text(json.dumps({
        "properties": {"API_TOKEN": {"type": "string", "secret": True},
                       "MODE": {"type": "string"}}}))
    child = "import os; print('tok<' + os.environ['API_TOKEN'] + '> mode<' + os.environ['MODE'] + '>')"
    env = {"API_TOKEN": "tok-" + os.urandom(8).hex(), "MODE": "production"}
    p = run(["--schema=schema.json", "--", PY, "-c", child], env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"tok<*****> mode<production>\n"
    p = run(["--no-mask", "--schema=schema.json", "--", PY, "-c", child], env=env, cwd=tmp_path)
    assert p.stdout == f"tok<{env['API_TOKEN']}> mode<production>\n".encode()


def test_schema_failure_stops_before_running(tmp_path):
    (tmp_path / "schema.json").write_text(json.dumps({
        "properties": {"PORT": {"type": "integer", "minimum": 1},
                       "API_TOKEN": {"type": "string", "secret": True, "minLength": 40},
                       "LEVEL": {"type": "string", "default": "info"}},
        "required": ["PORT"]}))
    marker = tmp_path / "ran"
    token = "short-secret-" + os.urandom(4).hex()
    p = run(["--schema=schema.json", "--", PY, "-c", f"open({str(marker)!r}, 'w')"],
            env={"API_TOKEN": token}, cwd=tmp_path)
    assert p.returncode == 1
    assert not marker.exists()
    err = p.stderr.decode()
    assert "PORT" in err and "API_TOKEN" in err and token not in err
    assert all(line.startswith("coffer: run: ") for line in err.splitlines())
    # fixed: the default fills LEVEL
    got = show(["--schema=schema.json"], ["PORT", "LEVEL"],
               env={"PORT": "8080", "API_TOKEN": "x" * 40}, cwd=tmp_path)
    assert got == ["8080", "info"]


def test_watch_without_access_to_the_event_stream_does_not_run(dev_server, tmp_path):
    c = dev_server.client
    c.sys.create_or_update_policy("app", 'path "secret/data/*" { capabilities = ["read"] }')
    token = c.auth.token.create(policies=["app"])["auth"]["client_token"]
    put(dev_server, "app/db", {"PASSWORD": SECRET})
    marker = tmp_path / "ran"
    p = run(["--watch", "--path=secret/app/db", "--", PY, "-c", f"open({str(marker)!r}, 'w')"],
            dev=dev_server, env={"COFFER_TOKEN": token}, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith(b"coffer: run: --watch: ") and b"403" in p.stderr
    assert not marker.exists()
    # the same token without --watch reads the secret (sys/mounts is denied: KV v2 assumed)
    p = run(["--path=secret/app/db", "--", PY, "-c", "import os; print(os.environ['PASSWORD'])"],
            dev=dev_server, env={"COFFER_TOKEN": token}, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"*****\n"


def test_database_rotation_job_injects_the_static_credentials(dev_server, dbe, pg, tmp_path):
    from dblib import ROTATE_SQL, unique
    user = unique("rrun_")
    pg.create_role(user, password="p0-" + user)
    r = dev_server.raw("POST", "/v1/database/static-roles/app", {
        "db_name": "pg", "username": user, "rotation_period": 3600,
        "rotation_statements": ROTATE_SQL})
    assert r.status in (200, 204), r.text
    r = dev_server.raw("PUT", "/v1/sys/rotation/jobs/dbpw",
                       {"template": "database-password", "mount": "database", "path": "app"})
    assert r.status in (200, 204), r.text

    def creds():
        r = dev_server.raw("GET", "/v1/database/static-creds/app")
        assert r.status == 200, r.text
        return r.json()["data"]

    c1 = creds()
    assert show(["--no-mask", "--path=rotation:dbpw"], ["username", "password"], dev=dev_server,
                cwd=tmp_path) == [user, c1["password"]]
    rotate(dev_server, "dbpw")
    c2 = creds()
    assert c2["password"] != c1["password"]
    p = run(["--path=rotation:dbpw", "--", PY, "-c",
             "import os; print(os.environ['username'], os.environ['password'])"],
            dev=dev_server, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"***** *****\n"  # every server value is a secret, the user name too
    # only the credentials: not ttl, rotation_period, last_vault_rotation
    assert show(["--path=rotation:dbpw"], ["ttl", "rotation_period"], dev=dev_server,
                cwd=tmp_path) == ["-", "-"]
    assert pg.psql_login(user, c2["password"], db=dbe.db)


def test_sigterm_during_a_restart_stops_instead(dev_server, tmp_path):
    make_job(dev_server, "api", "svc/api")
    log = tmp_path / "log"
    # The child takes its time: the first SIGTERM (the restart's) is only noted,
    # the second (ours, passed on) ends it.
    child = r"""
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
open(sys.argv[1], "a").write("start\n")
signal.sigwait({signal.SIGTERM})
open(sys.argv[1], "a").write("term\n")
signal.sigwait({signal.SIGTERM})
open(sys.argv[1], "a").write("term\n")
sys.exit(7)
"""
    proc = subprocess.Popen([str(coffer_bin()), "run", "--watch", "--path=rotation:api", "--",
                             PY, "-c", child, str(log)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=coffer_env(dev_server, home=tmp_path),
                            cwd=tmp_path)
    try:
        wait_until(lambda: log.exists() and "start" in log.read_text(), 15, what="start")
        rotate(dev_server, "api")
        wait_until(lambda: log.read_text().count("term") == 1, 20, what="the restart's SIGTERM")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        stop(proc)
    assert proc.returncode == 7, err
    assert log.read_text() == "start\nterm\nterm\n"  # not started again
