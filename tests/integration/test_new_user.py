"""What a new user meets first, tried as one would: the README's "Running a real
server" steps run exactly as written against a fresh SQLite server; the README's
webhook example reaches the webhooks it creates and `sys/events/test` says how
many it was queued for; the CLI without a token says so; `server --help` shows
the defaults; `--listen` takes a host name and names what is wrong with a bad
address apart from TLS file errors; the docs name no endpoint that does not
answer, and no file outside the repository.

The README blocks are read from README.md itself, so the documented commands
cannot drift from what works."""

import json
import os
import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest

from cofferlib import LOOPBACK, REPO_ROOT, START_DEADLINE, coffer_bin, free_port, raw_request, wait_until
from test_events import SECRET, Receiver, verify_signature

README = REPO_ROOT / "README.md"


def readme_block(heading):
    """The first ```sh block after the README heading, as a list of argv lists
    (shell comments dropped, quotes removed as the shell would)."""
    text = README.read_text()
    at = text.index(heading)
    start = text.index("```sh\n", at) + len("```sh\n")
    end = text.index("```", start)
    return [words for words in (shlex.split(line, comments=True) for line in text[start:end].splitlines())
            if words]


def health(port):
    try:
        return raw_request(f"http://{LOOPBACK}:{port}", "GET", "/v1/sys/health", timeout=2).status
    except OSError:
        return None


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clean_env(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("COFFER_ADDR", "COFFER_TOKEN", "VAULT_ADDR", "VAULT_TOKEN")}
    env["HOME"] = str(tmp_path)  # never a developer's ~/.coffer-token
    return env


# ---------------------------------------------------------------------------
# README: "Running a real server", from an empty disk to a working kv put


def test_readme_real_server_steps_work(tmp_path, clean_env):
    steps = readme_block("## Running a real server")
    port = free_port()
    data_dir = tmp_path / "var-lib-coffer"

    def local(word):
        return word.replace("/var/lib/coffer", str(data_dir)).replace("127.0.0.1:8200", f"{LOOPBACK}:{port}")

    env = dict(clean_env)
    server = None
    log = open(tmp_path / "server.log", "wb")
    shares, root, unseals, ran = [], None, 0, []
    try:
        for words in steps:
            words = [local(w) for w in words]
            ran.append(" ".join(words[:3]))
            if words[:2] == ["mkdir", "-p"]:
                os.makedirs(words[2], exist_ok=True)
                continue
            if words[0] == "export":
                name, value = words[1].split("=", 1)
                if name == "COFFER_TOKEN":
                    # the README shows a placeholder for the token init printed
                    assert value.startswith("hvs.") and root, words
                    value = root
                env[name] = value
                continue
            assert words[0] in ("coffer", "build/coffer"), f"a README step this test cannot run: {words}"
            argv = [str(coffer_bin()), *words[1:]]
            if words[1] == "server":
                assert words[-1] == "&", "the README starts the server in the background"
                server = subprocess.Popen(argv[:-1], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT)
                wait_until(lambda: health(port) is not None, START_DEADLINE, what="the README's server to answer")
                continue
            stdin = None
            if words[1:] == ["operator", "unseal"]:
                stdin = shares[unseals] + "\n"  # what the user types at the prompt
                unseals += 1
            r = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, cwd=tmp_path,
                               timeout=30)
            assert r.returncode == 0, f"README step {' '.join(words)} failed:\n{r.stdout}\n{r.stderr}"
            if words[1:3] == ["operator", "init"]:
                shares = re.findall(r"^Unseal Key \d+: (\S+)$", r.stdout, re.M)
                root = re.search(r"^Initial Root Token: (\S+)$", r.stdout, re.M).group(1)
            last = r
        # the steps went from an empty disk to a stored secret
        assert ran[0].startswith("mkdir") and server is not None and unseals == 3, ran
        assert (data_dir / "coffer.db").exists()
        assert ran[-2].endswith("kv put") and ran[-1].endswith("kv get"), ran
        assert re.search(r"^password\s+s3cret$", last.stdout, re.M), last.stdout
        r = raw_request(f"http://{LOOPBACK}:{port}", "GET", "/v1/secret/data/app/db", token=root)
        assert r.status == 200 and r.json()["data"]["data"] == {"password": "s3cret"}
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()


def test_secrets_enable_takes_vaults_single_dash_path(dev_server, run_cli):
    r = run_cli("secrets", "enable", "-path=team", "kv-v2", addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 0, r.stderr
    mounts = dev_server.raw("GET", "/v1/sys/mounts").json()["data"]
    assert mounts["team/"]["type"] == "kv" and mounts["team/"]["options"]["version"] == "2"


# ---------------------------------------------------------------------------
# README: the webhook example and its wiring check


def test_readme_webhook_example_reaches_its_webhooks(dev_server, run_cli, receiver):
    steps = readme_block("### Events and webhooks")
    ops = next(w for w in steps if w[:5] == ["coffer", "notify", "webhook", "write", "ops"])
    pager = next(w for w in steps if w[:5] == ["coffer", "notify", "webhook", "write", "pager"])
    check = next(w for w in steps if w[:3] == ["coffer", "write", "sys/events/test"])

    def to_receiver(words, path):
        return [f"url={receiver.url(path)}" if w.startswith("url=") else w for w in words[1:]]

    r = run_cli(*to_receiver(ops, "/ops"), addr=dev_server.addr, token=dev_server.token, input=SECRET)
    assert r.returncode == 0, r.stderr
    r = run_cli(*to_receiver(pager, "/pager"), addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 0, r.stderr

    r = run_cli(*check[1:], addr=dev_server.addr, token=dev_server.token)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^queued\s+2$", r.stdout, re.M), r.stdout
    wait_until(lambda: receiver.got("/ops") and receiver.got("/pager"), 15, what="both webhooks to get the test event")
    got = receiver.got("/ops")[0]
    verify_signature(got)
    event = json.loads(got["body"])
    assert event["type"] == "test.ping" and event["reason"] == "wiring check"
    assert "test.ping" in json.loads(receiver.got("/pager")[0]["body"])["text"]

    # queued counts the hooks whose filters let the event through
    r = dev_server.raw("POST", "/v1/sys/events/test", {"type": "test.info"})
    assert r.status == 200 and r.json()["data"]["queued"] == 1  # pager wants warning or above
    dev_server.raw("DELETE", "/v1/sys/notify/webhooks/ops")
    r = dev_server.raw("POST", "/v1/sys/events/test", {"type": "test.info"})
    assert r.status == 200 and r.json()["data"]["queued"] == 0


# ---------------------------------------------------------------------------
# the CLI without a token


def test_cli_without_token_says_no_token_is_set(dev_server, run_cli, tmp_path):
    dev_server.raw("POST", "/v1/secret/data/app/db", {"data": {"password": "s3cret"}})
    r = run_cli("kv", "get", "secret/app/db", addr=dev_server.addr)
    assert r.returncode == 2
    assert "no token is set" in r.stderr, r.stderr
    for place in ("--token", "COFFER_TOKEN", "VAULT_TOKEN", str(tmp_path / ".coffer-token")):
        assert place in r.stderr, (place, r.stderr)
    assert "s3cret" not in r.stdout

    # a token that is set but wrong is a plain permission error
    r = run_cli("kv", "get", "secret/app/db", addr=dev_server.addr, token="not-a-token")
    assert r.returncode == 2 and "permission denied" in r.stderr and "no token" not in r.stderr

    # the token file is the last place looked at
    (tmp_path / ".coffer-token").write_text(dev_server.token + "\n")
    r = run_cli("kv", "get", "--field=password", "secret/app/db", addr=dev_server.addr)
    assert r.returncode == 0 and r.stdout.strip() == "s3cret", r.stderr


# ---------------------------------------------------------------------------
# coffer server --help and --listen


def option_text(usage, option):
    """The help text of one option: its line and the indented lines after it."""
    lines = usage.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith(option):
            text = [line]
            for more in lines[i + 1:]:
                if more.startswith("  --") or not more.startswith("    "):
                    break
                text.append(more)
            return " ".join(t.strip() for t in text)
    raise AssertionError(f"{option} not in server --help:\n{usage}")


def test_server_help_shows_every_default(run_cli):
    r = run_cli("server", "--help")
    assert r.returncode == 0, r.stderr
    threads = min(16 * (os.cpu_count() or 1), 256)
    want = {
        "--listen=": "default 127.0.0.1:8200",
        "--max-request-size=": "default 33554432 = 32 MiB",
        "--http-threads=": f"default 16 per core: {threads} here",
        "--log-level=": "default info",
        "--tls-cert=": "default: plain HTTP",
        "--dev-root-token=": "default: a random one",
    }
    for option, default in want.items():
        assert default in option_text(r.stdout, option), (option, r.stdout)


def start_plain(tmp_path, env, *args):
    log = open(tmp_path / "listen.log", "ab")
    proc = subprocess.Popen([str(coffer_bin()), "server", *args], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


# LOCALHOST: a name the resolver answers from /etc/hosts like any other host name
@pytest.mark.parametrize("host", ["localhost", "LOCALHOST"])
def test_listen_takes_a_host_name(tmp_path, clean_env, host):
    port = free_port()
    proc = start_plain(tmp_path, clean_env, "--dev", f"--listen={host}:{port}")
    try:
        wait_until(lambda: health(port) == 200 or proc.poll() is not None, START_DEADLINE,
                   what="the server on localhost")
        assert proc.poll() is None, (tmp_path / "listen.log").read_text()
        assert health(port) == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("listen, message", [
    ("bad_host:8200", '"bad_host" is neither an IPv4 address nor a host name'),
    ("127.0.0.1:99999", "the port must be a number from 1 to 65535"),
    ("127.0.0.1:http", "the port must be a number from 1 to 65535"),
    ("127.0.0.1", "expected HOST:PORT"),
    ("[::1]:8200", "IPv6 addresses are not supported"),
])
def test_listen_errors_name_the_problem(run_cli, tmp_path, listen, message):
    db = tmp_path / "never.db"
    r = run_cli("server", f"--storage=sqlite:{db}", f"--listen={listen}")
    assert r.returncode == 2
    assert f"--listen={listen}: {message}" in r.stderr, r.stderr
    assert "TLS" not in r.stderr
    assert not db.exists()  # refused before storage was opened


def test_tls_file_errors_name_the_file(run_cli, tmp_path):
    port = free_port()
    key = tmp_path / "key.pem"
    key.write_text("not used")
    missing = tmp_path / "missing.pem"
    r = run_cli("server", "--dev", f"--listen={LOOPBACK}:{port}", f"--tls-cert={missing}", f"--tls-key={key}")
    assert r.returncode == 2
    assert f"--tls-cert={missing}: cannot open the TLS certificate: No such file or directory" in r.stderr, r.stderr
    assert "address" not in r.stderr

    empty = tmp_path / "empty.pem"
    empty.write_text("")
    r = run_cli("server", "--dev", f"--listen={LOOPBACK}:{port}", f"--tls-cert={key}", f"--tls-key={empty}")
    assert r.returncode == 2 and f"--tls-key={empty}: the TLS key is not a PEM file" in r.stderr, r.stderr


def test_listen_on_a_port_in_use(run_cli):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run_cli("server", "--dev", f"--listen={LOOPBACK}:{port}")
    assert r.returncode == 2
    assert f"cannot listen on {LOOPBACK}:{port}: Address already in use" in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# the docs: no endpoint that does not answer, nothing outside the repository


def user_docs():
    return [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]


def test_docs_name_no_endpoint_that_does_not_answer(dev_server):
    for path in ("sys/outbox/",):
        for method in ("GET", "LIST"):
            status = dev_server.raw(method, f"/v1/{path}x").status
            if status != 404:
                pytest.skip(f"{path} answers now ({method} {status}): the docs may name it")
    for doc in user_docs():
        text = doc.read_text()
        for path in ("sys/outbox",):
            assert path not in text, f"{doc.name} names {path}, which answers 404"


def test_readme_and_docs_stand_alone():
    for doc in user_docs():
        text = doc.read_text()
        assert not re.search(r"(^|[\s`(\[:])\.\./", text, re.M), f"{doc.name} points outside the repository"
        assert not re.search(r"\bspec/|vault-api\.md|DESIGN\.md|STYLE\.md|PERFORMANCE\.md", text), doc.name
        for path in re.findall(r"`((?:docs|bench|scripts|src|tests)/[^`\s*:<]*)`", text):
            if path.rstrip("/") == "bench/results" or path.startswith("bench/results/"):
                continue  # written by bench/run
            assert (REPO_ROOT / path.rstrip("/")).exists(), f"{doc.name} names {path}, which does not exist"
