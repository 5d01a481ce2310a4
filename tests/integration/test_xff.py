"""Clients behind a load balancer: X-Forwarded-For names the client only when
the TCP peer is a proxy listed in x_forwarded_for_authorized_addrs (the flag
--x-forwarded-for-authorized-addrs, or the config file's listener key). The
per-address login limit, token_bound_cidrs and the audit log's remote_address
then see the forwarded address; a header from any other peer is ignored, or
refused with 400 in reject mode. The whole 127/8 is loopback, so a test acts as
a proxy (127.0.0.1) and as other clients (127.0.0.x) by its source address."""

import http.client
import json
import os

import pytest

from cofferlib import RawResponse, wait_until

PROXY = "127.0.0.1"


def request(addr, method, path, body=None, token=None, source=PROXY, xff=None, timeout=15):
    host, port = addr.replace("http://", "").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Vault-Token"] = token
    if xff is not None:
        headers["X-Forwarded-For"] = xff
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def login(addr, user, password, **kw):
    return request(addr, "POST", f"/v1/auth/userpass/login/{user}", {"password": password}, **kw)


def userpass_server(server_factory, *flags):
    token = "root-" + os.urandom(8).hex()
    srv = server_factory(["--dev", f"--dev-root-token={token}", *flags], name="xff")
    c = srv.client(token)
    c.sys.enable_auth_method("userpass")
    c.auth.userpass.create_or_update_user("alice", "alice-pw")
    # only the per-address limit (30 failures a minute) is left on
    r = srv.raw("POST", "/v1/sys/auth/userpass/tune",
                {"user_lockout_config": {"disable_lockout": True}}, token=token)
    assert r.status == 204, r
    srv.token = token
    return srv


def fail_30(addr, **kw):
    for i in range(30):
        assert login(addr, f"nobody{i}", "x", **kw).status == 400


def test_authorized_proxy_counts_the_forwarded_address(server_factory):
    srv = userpass_server(server_factory, f"--x-forwarded-for-authorized-addrs={PROXY}/32")
    # 30 failures of client 10.1.1.1 arrive through the proxy
    fail_30(srv.addr, xff="198.51.100.7, 10.1.1.1")
    # that client is locked out, wherever it says it came from before the proxy
    assert login(srv.addr, "alice", "alice-pw", xff="10.1.1.1").status == 429
    # the proxy itself and another client behind it are not
    assert login(srv.addr, "alice", "alice-pw", xff="10.2.2.2").status == 200
    assert login(srv.addr, "alice", "alice-pw").status == 200


def test_forged_header_does_not_move_another_address(server_factory):
    srv = userpass_server(server_factory, f"--x-forwarded-for-authorized-addrs={PROXY}/32")
    # 127.0.0.9 is no proxy: its header naming 10.3.3.3 is ignored
    fail_30(srv.addr, source="127.0.0.9", xff="10.3.3.3")
    assert login(srv.addr, "alice", "alice-pw", source="127.0.0.9", xff="10.3.3.3").status == 429
    # 10.3.3.3's own count did not move: through the real proxy it logs in
    assert login(srv.addr, "alice", "alice-pw", xff="10.3.3.3").status == 200


def test_without_authorized_proxies_the_header_is_ignored(server_factory):
    srv = userpass_server(server_factory)
    fail_30(srv.addr, xff="10.4.4.4")
    # counted against the peer (127.0.0.1), not the forwarded address
    assert login(srv.addr, "alice", "alice-pw", xff="10.9.9.9").status == 429
    assert login(srv.addr, "alice", "alice-pw", source="127.0.0.10", xff="10.4.4.4").status == 200


def test_reject_mode_answers_400(server_factory):
    srv = userpass_server(server_factory, f"--x-forwarded-for-authorized-addrs={PROXY}/32",
                          "--x-forwarded-for-reject-not-authorized")
    r = login(srv.addr, "alice", "alice-pw", source="127.0.0.9", xff="10.3.3.3")
    assert r.status == 400, r
    assert "not authorized for X-Forwarded-For" in r.text
    # without the header that peer is served; through the proxy the header is used
    assert login(srv.addr, "alice", "alice-pw", source="127.0.0.9").status == 200
    assert login(srv.addr, "alice", "alice-pw", xff="10.3.3.3").status == 200
    # a proxy whose header's last entry is no address is refused too
    assert login(srv.addr, "alice", "alice-pw", xff="10.3.3.3, junk").status == 400


def test_token_bound_cidrs_and_audit_see_the_forwarded_address(server_factory, tmp_path):
    srv = userpass_server(server_factory, f"--x-forwarded-for-authorized-addrs={PROXY}/32")
    audit = tmp_path / "audit.log"
    r = srv.raw("PUT", "/v1/sys/audit/file", {"type": "file",
                                               "options": {"file_path": str(audit)}},
                token=srv.token)
    assert r.status == 204, r
    r = srv.raw("POST", "/v1/auth/userpass/users/bob",
                {"password": "bob-pw", "token_bound_cidrs": ["10.5.0.0/16"]}, token=srv.token)
    assert r.status == 204, r
    r = login(srv.addr, "bob", "bob-pw", xff="10.5.1.1")
    assert r.status == 200, r
    bound = r.json()["auth"]["client_token"]
    path = "/v1/auth/token/lookup-self"
    assert request(srv.addr, "GET", path, token=bound, xff="10.5.1.1").status == 200
    assert request(srv.addr, "GET", path, token=bound).status == 403
    # a forged header from a non-proxy does not satisfy the binding
    assert request(srv.addr, "GET", path, token=bound, source="127.0.0.9",
                   xff="10.5.1.1").status == 403

    assert login(srv.addr, "alice", "alice-pw", xff="203.0.113.5").status == 200

    def logged():
        for line in audit.read_text().splitlines():
            e = json.loads(line)
            if e.get("type") == "response" and \
                    e["request"].get("path") == "auth/userpass/login/alice":
                return e["request"].get("remote_address")
        return None
    wait_until(lambda: logged() is not None, 10, what="the login in the audit log")
    assert logged() == "203.0.113.5"


def test_bad_authorized_addrs_flag_is_a_usage_error(run_cli):
    r = run_cli("server", "--dev", "--x-forwarded-for-authorized-addrs=10.0.0.0/33")
    assert r.returncode == 2
    assert "10.0.0.0/33" in r.stderr


@pytest.mark.parametrize("xff", ["", " , "])
def test_empty_header_from_proxy_is_refused(server_factory, xff):
    srv = userpass_server(server_factory, f"--x-forwarded-for-authorized-addrs={PROXY}/32")
    assert login(srv.addr, "alice", "alice-pw", xff=xff).status == 400


def test_approle_cidr_binding_sees_the_forwarded_address(server_factory):
    srv = userpass_server(server_factory, f"--x-forwarded-for-authorized-addrs={PROXY}/32")
    c = srv.client(srv.token)
    c.sys.enable_auth_method("approle")
    c.auth.approle.create_or_update_approle("machine", token_policies=["default"],
                                            bind_secret_id=False,
                                            secret_id_bound_cidrs=["10.7.0.0/16"])
    rid = c.auth.approle.read_role_id("machine")["data"]["role_id"]
    path = "/v1/auth/approle/login"
    assert request(srv.addr, "POST", path, {"role_id": rid}, xff="10.7.1.1").status == 200
    assert request(srv.addr, "POST", path, {"role_id": rid}).status == 400
    assert request(srv.addr, "POST", path, {"role_id": rid}, source="127.0.0.9",
                   xff="10.7.1.1").status == 400
