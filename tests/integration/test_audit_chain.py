"""The audit chain cannot be forged or cut short (docs/internals/audit.md):
keyed prev_hash, signed checkpoints with the public key at
sys/audit/:path/public-key, `coffer audit verify --public-key [--allow-partial]`,
the stored checkpoint checked at start (a file truncated while the server was
stopped is refused, with an audit.tampered webhook event), and
sys/audit-verify against the live head."""

import hashlib
import json
import re
import shutil

import pytest

from cofferlib import wait_until
from test_events import Receiver, put_hook

HEADER_RE = re.compile(r'^\{"seq":(\d+),"prev_hash":"([0-9a-f]{64})"')


def enable(dev, path, name="file", token="__root__", **options):
    opts = {"file_path": str(path)}
    opts.update(options)
    r = dev.raw("PUT", f"/v1/sys/audit/{name}", {"type": "file", "options": opts}, token=token)
    assert r.status == 204, r


def public_key(addr_holder, name="file"):
    r = addr_holder.raw("GET", f"/v1/sys/audit/{name}/public-key", token=None)
    assert r.status == 200, r
    data = r.json()["data"]
    assert data["algorithm"] == "ed25519"
    return data["public_key"]


def lines_of(path):
    return path.read_text().splitlines(keepends=True)


def checkpoints(path):
    return [n for n, line in enumerate(lines_of(path), start=1) if '"type":"checkpoint"' in line]


def traffic(dev, n, token="__root__"):
    for i in range(n):
        r = dev.raw("POST", f"/v1/secret/data/chain/{i % 3}", {"data": {"v": str(i)}}, token=token)
        assert r.status == 200, r


def verify(run_cli, path, *opts):
    res = run_cli("audit", "verify", *opts, str(path))
    return res, res.stdout + res.stderr


def rechain_sha256(lines, start):
    """What a forger with write access does against the old, unkeyed format:
    renumber seq and recompute every prev_hash from `start` (0-based) on as the
    SHA-256 of the previous line."""
    out = list(lines)
    for i in range(start, len(out)):
        body = out[i].rstrip("\n")
        prev = hashlib.sha256(out[i - 1].rstrip("\n").encode()).hexdigest() if i else hashlib.sha256(b"").hexdigest()
        m = HEADER_RE.match(body)
        assert m, body[:80]
        out[i] = f'{{"seq":{i + 1},"prev_hash":"{prev}"' + body[m.end():] + "\n"
    return out


@pytest.fixture
def chained(dev_server, tmp_path):
    """A dev server with a file device checkpointing every 6 lines, and traffic."""
    log = tmp_path / "audit.log"
    enable(dev_server, log, checkpoint_lines="6")
    traffic(dev_server, 12)
    wait_until(lambda: len(checkpoints(log)) >= 3, 10, what="three checkpoints")
    dev_server.log = log
    dev_server.pk = public_key(dev_server)
    return dev_server


def snapshot(chained, tmp_path, name="copy.log"):
    copy = tmp_path / name
    shutil.copyfile(chained.log, copy)
    return copy


# ------------------------------------------------------------ the public key


def test_public_key_route_and_listing(chained, run_cli):
    # unauthenticated read, and the same key as the chain start line carries
    first = json.loads(lines_of(chained.log)[0])
    assert first["type"] == "chain_start" and first["public_key"] == chained.pk
    r = chained.raw("GET", "/v1/sys/audit/nope/public-key", token=None)
    assert r.status == 404, r
    # the sys/audit routes are unchanged, for hvac too
    listing = chained.client.sys.list_enabled_audit_devices()
    assert listing["data"]["file/"]["type"] == "file"
    assert chained.raw("GET", "/v1/sys/audit", token=None).status == 403


# ------------------------------------------------------------ offline verify


def test_verify_with_public_key_authenticates(chained, run_cli, tmp_path):
    copy = snapshot(chained, tmp_path)
    last_cp = checkpoints(copy)[-1]
    res, out = verify(run_cli, copy, f"--public-key={chained.pk}", "--allow-partial")
    assert res.returncode == 0, out
    assert f"authentic and complete up to line {last_cp}" in out
    if last_cp < len(lines_of(copy)):
        assert f"unverified: lines {last_cp + 1}-" in out
    # the wrong key proves nothing
    other = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    res, out = verify(run_cli, copy, f"--public-key={other}", "--allow-partial")
    assert res.returncode == 1, out
    assert "no audit chain of this public key" in out


def test_forger_recomputing_the_unkeyed_chain_fails(chained, run_cli, tmp_path):
    copy = snapshot(chained, tmp_path)
    lines = lines_of(copy)
    k = 3  # a request/response entry inside the first, closed segment
    entry = json.loads(lines[k - 1])
    assert entry["type"] in ("request", "response")
    lines[k - 1] = lines[k - 1].replace('"remote_address":"127.0.0.1"', '"remote_address":"10.9.8.7"', 1)
    assert "10.9.8.7" in lines[k - 1]
    # as the old format would: edit, then recompute seq/prev_hash from there on
    copy.write_text("".join(rechain_sha256(lines, k - 1)))
    for opts in ([], ["--allow-partial"]):
        res, out = verify(run_cli, copy, f"--public-key={chained.pk}", *opts)
        assert res.returncode == 1, out
    # and a removed line, renumbered and rechained the same way
    lines = lines_of(snapshot(chained, tmp_path, "copy2.log"))
    del lines[k - 1]
    forged = tmp_path / "forged2.log"
    forged.write_text("".join(rechain_sha256(lines, k - 1)))
    res, out = verify(run_cli, forged, f"--public-key={chained.pk}", "--allow-partial")
    assert res.returncode == 1, out


def test_forger_with_the_revealed_keys_fails_at_the_signature(chained, run_cli, tmp_path):
    """A checkpoint reveals its segment's key: a forger who recomputes the keyed
    chain with it still cannot make the checkpoint's signature cover the edit."""
    import hmac

    copy = snapshot(chained, tmp_path)
    lines = lines_of(copy)
    cp = checkpoints(copy)[0]  # closes the segment of lines 1..cp
    key = bytes.fromhex(json.loads(lines[cp - 1])["key"])
    k = 2
    lines[k - 1] = lines[k - 1].replace('"remote_address":"127.0.0.1"', '"remote_address":"10.9.8.7"', 1)
    for i in range(k, cp):  # lines k+1..cp carry the HMAC of their predecessor
        prev = hmac.new(key, lines[i - 1].rstrip("\n").encode(), hashlib.sha256).hexdigest()
        m = HEADER_RE.match(lines[i])
        lines[i] = f'{{"seq":{m.group(1)},"prev_hash":"{prev}"' + lines[i][m.end():]
    copy.write_text("".join(lines))
    # without the public key the forged segment itself looks consistent; what
    # gives it away is the next segment, keyed over the old checkpoint bytes...
    res, out = verify(run_cli, copy, "--allow-partial")
    assert res.returncode == 1 and f"line {cp} edited" in out, out
    # ...with it, the checkpoint's signature names the forged segment at once
    res, out = verify(run_cli, copy, f"--public-key={chained.pk}", "--allow-partial")
    assert res.returncode == 1, out
    assert "signature" in out and f"line {cp}" in out, out


def test_head_n_fails_past_the_last_checkpoint(chained, run_cli, tmp_path):
    lines = lines_of(chained.log)
    cps = checkpoints(chained.log)
    n = cps[1] + 2  # two lines into a segment that a later checkpoint closed
    cut = tmp_path / "head.log"
    cut.write_text("".join(lines[:n]))  # head -n
    res, out = verify(run_cli, cut, f"--public-key={chained.pk}")
    assert res.returncode == 1, out
    assert f"lines {cps[1] + 1}-{n} come after the last checkpoint" in out
    res, out = verify(run_cli, cut, f"--public-key={chained.pk}", "--allow-partial")
    assert res.returncode == 0, out
    assert f"authentic and complete up to line {cps[1]}" in out
    assert f"unverified: lines {cps[1] + 1}-{n}" in out


def test_verify_without_public_key_says_so(chained, run_cli, tmp_path):
    copy = snapshot(chained, tmp_path)
    res, out = verify(run_cli, copy, "--allow-partial")
    assert res.returncode == 0, out
    assert "authenticity NOT proven" in out


# ------------------------------------------------------------ the live file


def test_audit_verify_catches_truncation_after_the_last_checkpoint(dev_server, tmp_path, run_cli, receiver):
    put_hook(dev_server, "ops", url=receiver.url("/ops"), types="audit.*")
    log = tmp_path / "live.log"
    enable(dev_server, log)  # default checkpoints: none during this test
    traffic(dev_server, 5)
    # sudo only
    child = dev_server.client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    assert dev_server.raw("GET", "/v1/sys/audit-verify/file", token=child).status == 403
    r = dev_server.raw("GET", "/v1/sys/audit-verify/file")
    assert r.status == 200, r
    assert r.json()["data"]["ok"] is True, r.json()
    assert checkpoints(log) == []
    # cut the last two lines of the live file (nothing signs them yet)
    lines = lines_of(log)
    log.write_text("".join(lines[:-2]))
    offline, out = verify(run_cli, log, "--allow-partial")
    assert offline.returncode == 0, out  # offline, nothing can tell
    r = dev_server.raw("POST", "/v1/sys/audit-verify/file")
    assert r.status == 200, r
    data = r.json()["data"]
    assert data["ok"] is False, data
    assert "removed" in data["error"], data
    # the device is now refused as tampered: its only device, so no more access
    size = log.stat().st_size
    assert dev_server.raw("GET", "/v1/secret/data/chain/0").status == 500
    assert log.stat().st_size == size
    wait_until(lambda: receiver.events("/ops"), 20, interval=0.1, what="the audit.tampered event")
    event = receiver.events("/ops")[0]
    assert (event["type"], event["severity"], event["path"]) == ("audit.tampered", "critical", "file/")


def test_audit_verify_catches_an_edit_in_the_open_segment(dev_server, tmp_path):
    log = tmp_path / "live.log"
    enable(dev_server, log)
    traffic(dev_server, 4)
    lines = lines_of(log)
    lines[2] = lines[2].replace('"remote_address":"127.0.0.1"', '"remote_address":"10.9.8.7"', 1)
    log.write_text("".join(lines))
    data = dev_server.raw("GET", "/v1/sys/audit-verify/file").json()["data"]
    assert data["ok"] is False and data["line"] == 3, data


# ------------------------------------------------------------ across restarts


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def sqlite_audited(sqlite_server, tmp_path, receiver=None, second=False):
    srv = sqlite_server()
    token = srv.init_unseal()
    srv.token = token
    if receiver is not None:
        r = srv.raw("PUT", "/v1/sys/notify/webhooks/ops", {"url": receiver.url("/ops"), "types": "audit.*"},
                    token=token)
        assert r.status == 204, r
    srv.log = tmp_path / "sqlite-audit.log"
    r = srv.raw("PUT", "/v1/sys/audit/file", {"type": "file", "options": {"file_path": str(srv.log)}},
                token=token)
    assert r.status == 204, r
    if second:
        srv.log2 = tmp_path / "sqlite-audit-2.log"
        r = srv.raw("PUT", "/v1/sys/audit/second", {"type": "file", "options": {"file_path": str(srv.log2)}},
                    token=token)
        assert r.status == 204, r
    r = srv.raw("POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, token=token)
    assert r.status == 204, r
    for i in range(4):
        assert srv.raw("POST", f"/v1/secret/data/x{i}", {"data": {"v": "1"}}, token=token).status == 200
    return srv


def test_clean_restart_continues_the_chain(sqlite_server, tmp_path, run_cli):
    srv = sqlite_audited(sqlite_server, tmp_path)
    pk = public_key(srv)
    srv.restart()
    # stopped cleanly: the file ends with a final checkpoint, complete
    last = json.loads(lines_of(srv.log)[-1])
    assert last["type"] == "checkpoint" and last["final"] is True
    res, out = verify(run_cli, srv.log, f"--public-key={pk}")
    assert res.returncode == 0, out
    assert "final" in out
    srv.unseal(srv.keys[:3])
    assert public_key(srv) == pk
    assert srv.raw("GET", "/v1/secret/data/x1", token=srv.token).status == 200
    listing = srv.raw("GET", "/v1/sys/audit", token=srv.token).json()["data"]
    assert "tampered" not in listing["file/"]
    res, out = verify(run_cli, srv.log, f"--public-key={pk}", "--allow-partial")
    assert res.returncode == 0, out
    assert srv.raw("GET", "/v1/sys/audit-verify/file", token=srv.token).json()["data"]["ok"] is True


def test_crash_then_restart_continues_the_chain(sqlite_server, tmp_path, run_cli):
    srv = sqlite_audited(sqlite_server, tmp_path)
    srv.kill9()  # no final checkpoint: the lines after the stored one are checked by their keys
    srv.start()
    srv.unseal(srv.keys[:3])
    assert srv.raw("GET", "/v1/secret/data/x1", token=srv.token).status == 200
    assert srv.raw("GET", "/v1/sys/audit-verify/file", token=srv.token).json()["data"]["ok"] is True


def test_truncated_while_stopped_is_refused_at_start(sqlite_server, tmp_path, receiver, run_cli):
    srv = sqlite_audited(sqlite_server, tmp_path, receiver)
    srv.stop()
    lines = lines_of(srv.log)
    srv.log.write_text("".join(lines[:-3]))  # the final checkpoint and two entries gone
    srv.start()
    srv.unseal(srv.keys[:3])
    # the device is shown tampered and nothing is appended to its file
    size = srv.log.stat().st_size
    listing = srv.raw("GET", "/v1/sys/audit", token=srv.token)
    assert listing.status == 500, listing  # its only device cannot record: no unaudited access
    assert srv.raw("GET", "/v1/secret/data/x1", token=srv.token).status == 500
    assert srv.log.stat().st_size == size
    assert "TAMPERED" in srv.log_text() and "truncated" in srv.log_text()
    # the critical event reaches the webhook
    wait_until(lambda: receiver.events("/ops"), 20, interval=0.1, what="the audit.tampered event")
    event = receiver.events("/ops")[0]
    assert event["type"] == "audit.tampered"
    assert event["severity"] == "critical"
    assert event["path"] == "file/"
    assert "truncated" in event["reason"]
    # recovery: disable the device (allowed although nothing can record it), then a new file
    r = srv.raw("DELETE", "/v1/sys/audit/file", token=srv.token)
    assert r.status == 204, r
    assert srv.log.stat().st_size == size  # the evidence is left as it was
    new_log = tmp_path / "after.log"
    r = srv.raw("PUT", "/v1/sys/audit/file", {"type": "file", "options": {"file_path": str(new_log)}},
                token=srv.token)
    assert r.status == 204, r
    assert srv.raw("GET", "/v1/secret/data/x1", token=srv.token).status == 200
    assert "secret/data/x1" in new_log.read_text()


def test_altered_while_stopped_is_refused_and_listed(sqlite_server, tmp_path):
    srv = sqlite_audited(sqlite_server, tmp_path, second=True)
    srv.stop()
    lines = lines_of(srv.log)
    # the final checkpoint, same length: only its bytes changed
    last = json.loads(lines[-1])
    new_time = last["time"][:-2] + ("1" if last["time"][-2] != "1" else "2") + "Z"
    lines[-1] = lines[-1].replace(last["time"], new_time, 1)
    assert len(lines[-1]) == len(lines_of(srv.log)[-1]) and lines[-1] != lines_of(srv.log)[-1]
    srv.log.write_text("".join(lines))
    srv.start()
    srv.unseal(srv.keys[:3])
    size = srv.log.stat().st_size
    # the second device records, so the server answers; the first is shown tampered
    listing = srv.raw("GET", "/v1/sys/audit", token=srv.token)
    assert listing.status == 200, listing
    first = listing.json()["data"]["file/"]
    assert first["tampered"] is True
    assert "altered" in first["error"], first
    assert "tampered" not in listing.json()["data"]["second/"]
    assert srv.raw("GET", "/v1/secret/data/x1", token=srv.token).status == 200
    assert srv.log.stat().st_size == size  # nothing appended to the altered file
    assert "secret/data/x1" in srv.log2.read_text().splitlines()[-1]
    data = srv.raw("GET", "/v1/sys/audit-verify/file", token=srv.token)
    assert data.status == 400 and "tampered" in data.errors()[0], data
