"""Helpers for the coffer integration suite (imported by conftest.py and the tests).

Every test drives the real `coffer` binary over HTTP on 127.0.0.1. The binary comes
from $COFFER_BIN (default: build-test/coffer under the repository root). Servers are
started in a per-test temporary directory with stdout/stderr going to a log file;
the logs of every server a test started are attached to its report when it fails.

Waiting is always a condition poll with a deadline (`wait_until`), never a blind
sleep.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import zlib
from pathlib import Path

import hvac
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"

# Deadlines, in seconds.
START_DEADLINE = 15.0
STOP_DEADLINE = 10.0
HTTP_TIMEOUT = 5.0

# Keep every HTTP client on loopback even if the environment names a proxy.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# The client commands must only see what a test gives them.
for _var in ("VAULT_ADDR", "VAULT_TOKEN", "COFFER_ADDR", "COFFER_TOKEN"):
    os.environ.pop(_var, None)


def coffer_bin():
    # Default: the test build (-Dtest_hooks=true), which `make test` builds and
    # which tests that shorten timers or inject faults need.
    value = os.environ.get("COFFER_BIN")
    path = Path(value) if value else REPO_ROOT / "build-test" / "coffer"
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


# ---------------------------------------------------------------------------
# small helpers


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Poll `predicate` until it returns a truthy value; return that value.

    Raises AssertionError naming `what` when `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def errors(self):
        """The `errors` array of a Vault-style error body (or None)."""
        try:
            doc = self.json()
        except ValueError:
            return None
        if isinstance(doc, dict):
            return doc.get("errors")
        return None

    def __repr__(self):
        return f"<RawResponse {self.status} {self.body[:300]!r}>"


def raw_request(addr, method, path, body=None, token=None, headers=None, timeout=HTTP_TIMEOUT):
    """One HTTP request with http.client: the path goes on the wire verbatim.

    `body` may be bytes, str, or a JSON-able object. Returns a RawResponse.
    """
    host, port = addr.replace("http://", "").split(":")
    hdrs = {}
    if token is not None:
        hdrs["X-Vault-Token"] = token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode("utf-8")
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def make_client(addr, token=None):
    session = requests.Session()
    session.trust_env = False  # no proxies, no netrc: loopback only
    return hvac.Client(url=addr, token=token, session=session, timeout=HTTP_TIMEOUT)


def find_key(obj, key):
    """Depth-first search for `key` in nested dicts/lists; returns the first value."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            found = find_key(v, key)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = find_key(v, key)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------------------
# the server process


class CofferServer:
    """One coffer server process. Can be stopped, killed and started again on the
    same storage (each start picks a fresh loopback port)."""

    def __init__(self, workdir, args, name="coffer", ready="ok", extra_env=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.name = name
        self.ready = ready  # "ok": health must answer 200; "any": any HTTP answer
        self.extra_env = dict(extra_env or {})
        self.proc = None
        self.port = None
        self.starts = 0
        self.log_path = self.workdir / f"{name}.log"

    @property
    def addr(self):
        return f"http://{LOOPBACK}:{self.port}"

    def _health_status(self):
        try:
            return raw_request(self.addr, "GET", "/v1/sys/health", timeout=2).status
        except (OSError, http.client.HTTPException):
            return None

    def start(self):
        binary = coffer_bin()
        if not binary.exists():
            pytest.fail(f"coffer binary not found at {binary} (set COFFER_BIN)")
        last_error = None
        for _attempt in range(3):
            self.port = free_port()
            self.starts += 1
            cmd = [str(binary), "server", *self.args, f"--listen={LOOPBACK}:{self.port}"]
            log = open(self.log_path, "ab")
            log.write(f"\n==== start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            env = dict(os.environ)
            env.update(self.extra_env)
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            log.close()
            deadline = time.monotonic() + START_DEADLINE
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_error = f"server exited with status {self.proc.returncode} before it was ready"
                    break
                status = self._health_status()
                if status is not None and (self.ready == "any" or status == 200):
                    return self
                time.sleep(0.02)
            else:
                last_error = f"server not ready within {START_DEADLINE}s"
                self.kill9()
                break
            # exited early: maybe the port was taken between free_port() and bind; retry
            if not re.search(r"(?i)address (already )?in use", self.log_text()):
                break
        pytest.fail(f"{self.name}: {last_error}\n--- log ---\n{self.log_text()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_DEADLINE):
        """SIGTERM and wait; returns the exit status (kills -9 after the deadline)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
                return "killed after SIGTERM deadline"
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_DEADLINE)

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- clients ----------------------------------------------------------

    def client(self, token=None):
        return make_client(self.addr, token)

    def raw(self, method, path, body=None, token=None, headers=None, timeout=HTTP_TIMEOUT):
        return raw_request(self.addr, method, path, body=body, token=token, headers=headers, timeout=timeout)

    # -- init / unseal (non-dev servers) -----------------------------------

    def init(self, shares=5, threshold=3):
        result = self.client().sys.initialize(secret_shares=shares, secret_threshold=threshold)
        self.keys = result["keys"]
        self.keys_base64 = result.get("keys_base64")
        self.root_token = result["root_token"]
        return result

    def unseal(self, keys=None):
        keys = list(keys if keys is not None else self.keys)
        result = self.client().sys.submit_unseal_keys(keys)
        assert result["sealed"] is False, f"still sealed after {len(keys)} keys: {result}"
        return result

    def init_unseal(self, shares=5, threshold=3):
        self.init(shares, threshold)
        self.unseal(self.keys[:threshold])
        return self.root_token


class Dev:
    """What the dev_server fixture hands a test."""

    def __init__(self, server, token):
        self.server = server
        self.token = token
        self.addr = server.addr
        self.client = server.client(token)

    def raw(self, method, path, body=None, token="__root__", headers=None, timeout=HTTP_TIMEOUT):
        if token == "__root__":
            token = self.token
        return self.server.raw(method, path, body=body, token=token, headers=headers, timeout=timeout)




def send_large(addr, method, path, body, token=None, content_type="application/json", timeout=HTTP_TIMEOUT):
    """Send a (possibly huge) body over a raw socket, stopping early if the server
    answers (or closes) before the whole body is sent, then read the response.

    Returns a RawResponse; raises AssertionError if no HTTP response came back.
    """
    import select

    host, port = addr.replace("http://", "").split(":")
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}",
            f"Content-Type: {content_type}", "Connection: close"]
    if token is not None:
        head.append(f"X-Vault-Token: {token}")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        view = memoryview(body)
        sent = 0
        while sent < len(body):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server has answered (or closed) early
            try:
                sent += sock.send(view[sent:sent + 256 * 1024])
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                break
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                header, _, rest = data.partition(b"\r\n\r\n")
                length = None
                for line in header.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length is not None and len(rest) >= length:
                    break
    finally:
        sock.close()
    if not data.startswith(b"HTTP/1."):
        raise AssertionError(f"no HTTP response after sending {sent} of {len(body)} body bytes (got {data[:200]!r})")
    header, _, rest = data.partition(b"\r\n\r\n")
    lines = header.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode().strip().lower()] = value.decode().strip()
    return RawResponse(status, headers, rest)


def json_body_of_size(size, key="blob", stored=True):
    """A KV v2 write body of exactly `size` bytes: `{"data":{"<key>":"xxx…"}}`, or with
    stored=False `{"data":{"v":"1"},"<key>":"xxx…"}` (the padding is an unknown
    top-level field, ignored by the server, so only the HTTP limit is exercised)."""
    if stored:
        skeleton = json.dumps({"data": {key: ""}}, separators=(",", ":")).encode()
    else:
        skeleton = json.dumps({"data": {"v": "1"}, key: ""}, separators=(",", ":")).encode()
        pad = size - len(skeleton)
        body = skeleton[:-2] + b"x" * pad + skeleton[-2:]
        assert len(body) == size
        return body
    pad = size - len(skeleton)
    assert pad >= 0
    body = skeleton[:-3] + b"x" * pad + skeleton[-3:]
    assert len(body) == size
    return body


def commit_stats(log_text):
    """(commits, writes) from the line a sqlite server logs when it stops."""
    m = re.findall(r"sqlite: (\d+) commits carried (\d+) writes", log_text)
    assert m, "the server logs its commit counts when it stops"
    commits, writes = map(int, m[-1])
    return commits, writes


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def synthetic_github_token(rng):
    """A made-up GitHub classic token of the right shape: 30 random base62
    characters and their CRC32 in 6 base62 digits. The prefix is joined at run
    time so that no source file holds a token a scanner would report."""
    body = "".join(rng.choice(BASE62) for _ in range(30))
    n, check = zlib.crc32(body.encode()), ""
    while n:
        n, r = divmod(n, 62)
        check = BASE62[r] + check
    return "gh" + "p_" + body + check.rjust(6, "0")
