"""JWT auth method (Vault's JWT/OIDC API): hvac 0.11.2's auth.jwt against coffer.

Tokens are signed here with keys generated per test (python3-cryptography):
RSA (RS256, PS256), EC P-256 (ES256) and Ed25519 (EdDSA). JWKS and OIDC
discovery documents come from a tiny HTTP server on 127.0.0.1 that the test
starts (plain http: coffer allows it, with a warning).
"""

import base64
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import hvac
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

AUD = "coffer-tests"
ISS = "https://issuer.example"


# ---------------------------------------------------------------------------
# JWT helpers


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(length, "big"))


class Key:
    """A signing key with its public JWK and PEM."""

    def __init__(self, kind, kid=None):
        self.kind = kind
        self.kid = kid
        if kind == "rsa":
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS256"
        elif kind == "ec":
            self.priv = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
        elif kind == "ed25519":
            self.priv = ed25519.Ed25519PrivateKey.generate()
            self.alg = "EdDSA"
        else:
            raise ValueError(kind)
        self.pub = self.priv.public_key()

    @property
    def pem(self):
        return self.pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def jwk(self):
        if self.kind == "rsa":
            nums = self.pub.public_numbers()
            j = {"kty": "RSA", "n": b64u_int(nums.n), "e": b64u_int(nums.e)}
        elif self.kind == "ec":
            nums = self.pub.public_numbers()
            j = {"kty": "EC", "crv": "P-256", "x": b64u_int(nums.x, 32), "y": b64u_int(nums.y, 32)}
        else:
            raw = self.pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            j = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
        j["use"] = "sig"
        if self.kid:
            j["kid"] = self.kid
        return j

    def sign(self, claims, alg=None, header=None, kid="default"):
        alg = alg or self.alg
        hdr = {"alg": alg, "typ": "JWT"}
        if kid == "default":
            kid = self.kid
        if kid:
            hdr["kid"] = kid
        hdr.update(header or {})
        signing_input = (b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(claims).encode())).encode()
        if alg == "RS256":
            sig = self.priv.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "PS256":
            sig = self.priv.sign(
                signing_input,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
        elif alg == "ES256":
            r, s = decode_dss_signature(self.priv.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS: raw r || s
        elif alg == "EdDSA":
            sig = self.priv.sign(signing_input)
        else:
            raise ValueError(alg)
        return signing_input.decode() + "." + b64u(sig)


def claims(**over):
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "sub": "svc-1", "iat": now, "nbf": now - 5, "exp": now + 300,
         "email": "svc@example.com", "team": "payments", "env": "prod-eu"}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def hs256_with_public_key(key, claims_):
    """The classic key-confusion forgery: HS256 keyed with the PEM public key."""
    hdr = {"alg": "HS256", "typ": "JWT"}
    signing_input = (b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(claims_).encode())).encode()
    h = hmac.HMAC(key.pem.encode(), hashes.SHA256())
    h.update(signing_input)
    return signing_input.decode() + "." + b64u(h.finalize())


def unsigned(claims_):
    hdr = {"alg": "none", "typ": "JWT"}
    return b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(claims_).encode()) + "."


# ---------------------------------------------------------------------------
# the JWKS / discovery server


class KeyServer:
    """Serves /jwks and /.well-known/openid-configuration on loopback; counts hits."""

    def __init__(self):
        self.jwks = {"keys": []}
        self.hits = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                if self.path == "/jwks":
                    body = json.dumps(outer.jwks).encode()
                elif self.path == "/.well-known/openid-configuration":
                    body = json.dumps({"issuer": outer.base, "jwks_uri": outer.base + "/jwks",
                                       "id_token_signing_alg_values_supported": ["RS256"]}).encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, *keys):
        self.jwks = {"keys": [k.jwk() for k in keys]}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def keyserver():
    ks = KeyServer()
    yield ks
    ks.close()


# ---------------------------------------------------------------------------
# coffer set-up


POLICY = """
path "secret/data/app/*" { capabilities = ["read"] }
"""


class JwtEnv:
    def __init__(self, dev):
        self.dev = dev
        self.client = dev.client
        self.client.sys.enable_auth_method("jwt")
        self.client.sys.create_or_update_policy("jwt-reader", POLICY)
        self.client.secrets.kv.v2.create_or_update_secret("app/config", {"db": "postgres://x"})
        self.used = []  # every JWT sent: none may show up in logs

    def configure(self, **kw):
        return self.client.auth.jwt.configure(**kw)

    def role(self, name="svc", **kw):
        args = dict(name=name, user_claim="sub", allowed_redirect_uris=None, role_type="jwt",
                    bound_audiences=[AUD], token_policies=["jwt-reader"], token_ttl="10m")
        args.update(kw)
        return self.client.auth.jwt.create_role(**args)

    def no_lockout(self):
        """Per role+address lockout off (the per-address limit stays)."""
        r = self.dev.raw("POST", "/v1/sys/auth/jwt/tune",
                         {"user_lockout_config": {"disable_lockout": True}})
        assert r.status in (200, 204), r

    def login_raw(self, jwt, role="svc"):
        self.used.append(jwt)
        return self.dev.raw("POST", "/v1/auth/jwt/login", {"role": role, "jwt": jwt}, token=None)

    def login(self, jwt, role="svc"):
        self.used.append(jwt)
        c = self.dev.server.client()
        return c.auth.jwt.jwt_login(role=role, jwt=jwt)

    def refused(self, jwt, role="svc", status=400, why=None):
        r = self.login_raw(jwt, role)
        assert r.status == status, r
        text = " ".join(r.errors() or [])
        if why:
            assert re.search(why, text), text
        assert jwt not in r.text  # the JWT is never echoed
        return text


@pytest.fixture
def env(dev_server):
    return JwtEnv(dev_server)


@pytest.fixture
def rsa_env(env):
    """PEM-configured RSA key, bound_issuer, a jwt role 'svc'."""
    env.key = Key("rsa")
    env.configure(jwt_validation_pubkeys=[env.key.pem], bound_issuer=ISS)
    env.role(claim_mappings={"email": "email", "team": "team"})
    return env


# ---------------------------------------------------------------------------
# logging in


def test_login_rs256_pem_policies_ttl_metadata(rsa_env):
    env = rsa_env
    auth = env.login(env.key.sign(claims()))["auth"]
    assert auth["client_token"]
    assert sorted(auth["policies"]) == ["default", "jwt-reader"]
    assert auth["metadata"] == {"role": "svc", "email": "svc@example.com", "team": "payments"}
    assert auth["orphan"] is True
    assert 590 <= auth["lease_duration"] <= 600

    c = env.dev.server.client(auth["client_token"])
    info = c.auth.token.lookup_self()["data"]
    assert 580 <= info["ttl"] <= 600
    assert info["meta"]["email"] == "svc@example.com"
    assert info["display_name"] == "jwt-svc-1"
    # within its policies
    assert c.secrets.kv.v2.read_secret_version("app/config")["data"]["data"] == {"db": "postgres://x"}
    # outside them
    with pytest.raises(hvac.exceptions.Forbidden):
        c.secrets.kv.v2.create_or_update_secret("app/config", {"db": "evil"})
    with pytest.raises(hvac.exceptions.Forbidden):
        c.sys.list_enabled_audit_devices()


def test_login_ps256(rsa_env):
    auth = rsa_env.login(rsa_env.key.sign(claims(), alg="PS256"))["auth"]
    assert auth["client_token"]


def test_config_and_role_read_back(rsa_env):
    cfg = rsa_env.client.auth.jwt.read_config()["data"]
    assert cfg["bound_issuer"] == ISS
    assert cfg["jwt_validation_pubkeys"] == [rsa_env.key.pem.strip()] or \
        cfg["jwt_validation_pubkeys"] == [rsa_env.key.pem]
    role = rsa_env.client.auth.jwt.read_role("svc")["data"]
    assert role["role_type"] == "jwt"
    assert role["bound_audiences"] == [AUD]
    assert role["user_claim"] == "sub"
    assert role["token_ttl"] == 600
    assert role["token_policies"] == ["jwt-reader"]
    assert role["clock_skew_leeway"] == 60
    assert role["expiration_leeway"] == 150
    assert role["not_before_leeway"] == 150
    assert rsa_env.client.auth.jwt.list_roles()["data"]["keys"] == ["svc"]
    rsa_env.client.auth.jwt.delete_role("svc")
    r = rsa_env.dev.raw("GET", "/v1/auth/jwt/role/svc")
    assert r.status == 404


def test_jwks_ec_and_ed25519(env, keyserver):
    ec_key, ed_key = Key("ec", kid="ec-1"), Key("ed25519", kid="ed-1")
    keyserver.serve(ec_key, ed_key)
    resp = env.configure(jwks_url=keyserver.base + "/jwks", bound_issuer=ISS)
    body = resp if isinstance(resp, dict) else resp.json()
    assert any("http://" in w for w in (body.get("warnings") or [])), body
    env.role()
    for k in (ec_key, ed_key):
        auth = env.login(k.sign(claims()))["auth"]
        c = env.dev.server.client(auth["client_token"])
        assert c.secrets.kv.v2.read_secret_version("app/config")["data"]["data"]["db"]


def test_jwks_rotation_without_restart(env, keyserver):
    old, new = Key("rsa", kid="k1"), Key("ec", kid="k2")
    keyserver.serve(old)
    env.configure(jwks_url=keyserver.base + "/jwks")
    env.role()
    env.login(old.sign(claims(iss=None)))
    fetched = keyserver.hits["/jwks"]
    keyserver.serve(new)  # the issuer rotates: k1 gone, k2 in
    env.login(new.sign(claims(iss=None)))
    assert keyserver.hits["/jwks"] == fetched + 1


def test_oidc_discovery(env, keyserver):
    k = Key("rsa", kid="d1")
    keyserver.serve(k)
    env.configure(oidc_discovery_url=keyserver.base)
    env.role()
    assert keyserver.hits.get("/.well-known/openid-configuration", 0) >= 1
    # no bound_issuer: the discovery document's issuer is required
    env.login(k.sign(claims(iss=keyserver.base)))
    env.refused(k.sign(claims(iss="https://elsewhere.example")), why="issuer")


def test_default_role(env):
    k = Key("ed25519")
    env.configure(jwt_validation_pubkeys=[k.pem], default_role="svc")
    env.role()
    r = env.dev.raw("POST", "/v1/auth/jwt/login", {"jwt": k.sign(claims(iss=None))}, token=None)
    assert r.status == 200, r
    assert r.json()["auth"]["metadata"]["role"] == "svc"


def test_bound_claims_nested_pointer_list_and_glob(env):
    k = Key("ec")
    env.configure(jwt_validation_pubkeys=[k.pem])
    env.role("strict", bound_audiences=None, bound_subject="svc-1",
             bound_claims={"team": ["payments", "billing"], "/org/unit": "core"})
    env.role("globbed", bound_claims={"env": "prod-*"}, bound_claims_type="glob",
             claim_mappings={"/org/unit": "unit"})
    good = claims(aud=None, org={"unit": "core"})
    assert env.login(k.sign(good), role="strict")["auth"]["client_token"]
    auth = env.login(k.sign(claims(org={"unit": "core"})), role="globbed")["auth"]
    assert auth["metadata"]["unit"] == "core"


# ---------------------------------------------------------------------------
# refused, each on its own


def test_refused_expired(rsa_env):
    now = int(time.time())
    # beyond exp + expiration_leeway (150) + clock_skew_leeway (60)
    rsa_env.refused(rsa_env.key.sign(claims(exp=now - 400, iat=now - 1000, nbf=now - 1000)),
                    why="expired")


def test_refused_not_yet_valid(rsa_env):
    now = int(time.time())
    rsa_env.refused(rsa_env.key.sign(claims(nbf=now + 1000, exp=now + 2000)), why="not valid yet")


def test_leeway_accepts_recently_expired(rsa_env):
    now = int(time.time())
    assert rsa_env.login(rsa_env.key.sign(claims(exp=now - 30)))["auth"]["client_token"]


def test_refused_wrong_issuer(rsa_env):
    rsa_env.refused(rsa_env.key.sign(claims(iss="https://evil.example")), why="issuer")


def test_refused_wrong_audience(rsa_env):
    rsa_env.refused(rsa_env.key.sign(claims(aud=["someone-else"])), why="aud")


def test_refused_aud_without_bound_audiences(env):
    k = Key("rsa")
    env.configure(jwt_validation_pubkeys=[k.pem])
    env.role(bound_audiences=None, bound_subject="svc-1")
    env.refused(k.sign(claims(iss=None)), why="no audiences bound")


def test_refused_bound_claim_mismatch_string(rsa_env):
    rsa_env.role("s", bound_claims={"team": "payments"})
    rsa_env.login(rsa_env.key.sign(claims()), role="s")
    rsa_env.refused(rsa_env.key.sign(claims(team="marketing")), role="s", why='claim "team"')


def test_refused_bound_claim_mismatch_list(rsa_env):
    rsa_env.role("l", bound_claims={"team": ["payments", "billing"]})
    rsa_env.refused(rsa_env.key.sign(claims(team=["marketing", "sales"])), role="l",
                    why='claim "team" does not match')


def test_refused_bound_claim_mismatch_glob(rsa_env):
    rsa_env.role("g", bound_claims={"env": "prod-*"}, bound_claims_type="glob")
    rsa_env.refused(rsa_env.key.sign(claims(env="staging-eu")), role="g", why='claim "env"')


def test_refused_bound_claim_missing(rsa_env):
    rsa_env.role("m", bound_claims={"/org/unit": "core"})
    rsa_env.refused(rsa_env.key.sign(claims()), role="m", why="missing")


def test_refused_bad_signature(rsa_env):
    jwt = rsa_env.key.sign(claims())
    head, payload, sig = jwt.split(".")
    tampered = b64u(json.dumps(claims(sub="admin")).encode())
    rsa_env.refused(f"{head}.{tampered}.{sig}", why="signature")
    other = Key("rsa")
    rsa_env.refused(other.sign(claims()), why="signature")


def test_refused_alg_none(rsa_env):
    rsa_env.refused(unsigned(claims()), why="none")


def test_refused_hs256_with_public_key_as_secret(rsa_env):
    rsa_env.refused(hs256_with_public_key(rsa_env.key, claims()), why="HMAC")


def test_refused_key_type_mismatch(env):
    """An EC key never verifies RS256, an RSA key never ES256 (key confusion)."""
    k = Key("ec")
    env.configure(jwt_validation_pubkeys=[k.pem])
    env.role()
    forged = k.sign(claims(iss=None))
    head, payload, sig = forged.split(".")
    hdr = b64u(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    env.refused(f"{hdr}.{payload}.{sig}")


def test_refused_unknown_kid_and_refetch_is_rate_limited(env, keyserver):
    k = Key("rsa", kid="known")
    keyserver.serve(k)
    env.configure(jwks_url=keyserver.base + "/jwks")
    env.role()
    env.no_lockout()
    env.login(k.sign(claims(iss=None)))
    before = keyserver.hits["/jwks"]
    for i in range(6):
        env.refused(k.sign(claims(iss=None), kid=f"garbage-{i}"), why="kid")
    # one refetch for the first unknown kid, none for the next ones
    assert keyserver.hits["/jwks"] - before <= 1


def test_refused_malformed(rsa_env):
    rsa_env.no_lockout()
    good = rsa_env.key.sign(claims())
    for bad in ["", "a.b", good + ".x", good.replace(".", "=.", 1), "x" * 20000,
                good.split(".")[0] + "..", "é.é.é"]:
        r = rsa_env.login_raw(bad)
        assert r.status == 400, (bad[:40], r)


def test_refused_missing_user_claim(rsa_env):
    rsa_env.role("u", user_claim="employee_id")
    rsa_env.refused(rsa_env.key.sign(claims()), role="u", why="employee_id")


def test_refused_unknown_role(rsa_env):
    rsa_env.refused(rsa_env.key.sign(claims()), role="nope", why="could not be found")


def test_bound_cidrs(rsa_env):
    rsa_env.role("far", token_bound_cidrs=["10.0.0.0/8"])
    rsa_env.refused(rsa_env.key.sign(claims()), role="far", status=403)


# ---------------------------------------------------------------------------
# configuration and roles


def test_config_needs_exactly_one_key_source(env, keyserver):
    k = Key("rsa")
    keyserver.serve(k)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="exactly one"):
        env.configure(jwt_validation_pubkeys=[k.pem], jwks_url=keyserver.base + "/jwks")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="exactly one"):
        env.configure(jwks_url=keyserver.base + "/jwks", oidc_discovery_url=keyserver.base)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="exactly one"):
        env.configure(bound_issuer=ISS)


def test_config_refuses_bad_sources_and_algs(env, keyserver):
    k = Key("rsa")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="pubkeys"):
        env.configure(jwt_validation_pubkeys=["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
    with pytest.raises(hvac.exceptions.InvalidRequest, match="jwks URL"):
        env.configure(jwks_url=keyserver.base + "/missing")
    for alg in ("HS256", "none"):
        with pytest.raises(hvac.exceptions.InvalidRequest, match="never accepted"):
            env.configure(jwt_validation_pubkeys=[k.pem], jwt_supported_algs=[alg])


def test_supported_algs_restrict(env):
    k = Key("rsa")
    env.configure(jwt_validation_pubkeys=[k.pem], jwt_supported_algs=["PS256"])
    env.role()
    env.refused(k.sign(claims(iss=None)), why="jwt_supported_algs")
    env.login(k.sign(claims(iss=None), alg="PS256"))


def test_role_validation(rsa_env):
    with pytest.raises(hvac.exceptions.InvalidRequest, match="bound constraint"):
        rsa_env.role("nobounds", bound_audiences=None)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="user claim"):
        rsa_env.role("nouser", user_claim="")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="glob"):
        rsa_env.role("badglob", bound_claims={"n": 5}, bound_claims_type="glob")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="browser flow"):
        rsa_env.role("o", role_type="oidc", allowed_redirect_uris=["http://localhost/cb"])


def test_oidc_browser_flow_refused(rsa_env):
    r = rsa_env.dev.raw("POST", "/v1/auth/jwt/oidc/auth_url",
                        {"role": "svc", "redirect_uri": "http://localhost/cb"}, token=None)
    assert r.status == 400 and "browser flow" in r.text


# ---------------------------------------------------------------------------
# brute force, secrets in logs


def test_brute_force_429(rsa_env):
    env = rsa_env
    r = env.dev.raw("POST", "/v1/sys/auth/jwt/tune",
                    {"user_lockout_config": {"lockout_threshold": 3, "lockout_duration": "2s",
                                             "lockout_counter_reset": "2s"}})
    assert r.status in (200, 204), r
    bad = Key("rsa").sign(claims())
    for _ in range(3):
        env.refused(bad, why="signature")
    r = env.login_raw(bad)
    assert r.status == 429, r
    assert int(r.headers["retry-after"]) >= 1
    # a valid JWT from the same address is refused during the lockout too
    assert env.login_raw(env.key.sign(claims())).status == 429
    time.sleep(2.2)
    assert env.login_raw(env.key.sign(claims())).status == 200


def test_no_jwt_in_server_log_or_audit(rsa_env, tmp_path):
    env = rsa_env
    log = tmp_path / "audit.log"
    env.client.sys.enable_audit_device("file", options={"file_path": str(log)})
    env.login(env.key.sign(claims()))
    env.refused(env.key.sign(claims(iss="https://evil.example")), why="issuer")
    env.refused(unsigned(claims()))
    env.refused(hs256_with_public_key(env.key, claims()))
    audit = log.read_text()
    assert "auth/jwt/login" in audit
    assert "invalid issuer (iss) claim" in audit  # failures are audited, with the reason
    server_log = env.dev.server.log_text()
    for jwt in env.used:
        for text in (audit, server_log):
            assert jwt not in text
            # nor any of its parts (header, claims, signature)
            for part in jwt.split("."):
                if len(part) > 16:
                    assert part not in text


# ---------------------------------------------------------------------------
# restarts and concurrency


def test_keys_reload_after_restart(unsealed_sqlite, keyserver):
    """The key set lives in memory: after a restart and unseal the first login
    fetches the JWKS again from the stored config."""
    srv = unsealed_sqlite
    root = srv.client(srv.root_token)
    root.sys.enable_auth_method("jwt")
    k = Key("ec", kid="r1")
    keyserver.serve(k)
    root.auth.jwt.configure(jwks_url=keyserver.base + "/jwks")
    root.auth.jwt.create_role(name="svc", user_claim="sub", allowed_redirect_uris=None,
                              bound_audiences=[AUD], token_policies=["default"])
    srv.restart()
    srv.unseal(srv.keys[:3])
    before = keyserver.hits["/jwks"]
    auth = srv.client().auth.jwt.jwt_login(role="svc", jwt=k.sign(claims(iss=None)))["auth"]
    assert auth["metadata"]["role"] == "svc"
    assert keyserver.hits["/jwks"] == before + 1


def test_concurrent_logins_during_rotation(env, keyserver):
    from concurrent.futures import ThreadPoolExecutor

    k1, k2 = Key("rsa", kid="c1"), Key("ed25519", kid="c2")
    keyserver.serve(k1)
    env.configure(jwks_url=keyserver.base + "/jwks")
    env.role()
    env.no_lockout()
    keyserver.serve(k1, k2)
    tokens = [(k1 if i % 2 else k2).sign(claims(iss=None, sub=f"svc-{i}")) for i in range(40)]

    def one(jwt):
        return env.dev.raw("POST", "/v1/auth/jwt/login", {"role": "svc", "jwt": jwt}, token=None).status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, tokens))
    assert statuses == [200] * len(tokens)
    assert keyserver.hits["/jwks"] == 2  # config + exactly one refetch for c2


def test_cli_login_method_jwt(rsa_env, run_cli, tmp_path):
    jwt_file = tmp_path / "token.jwt"
    jwt_file.write_text(rsa_env.key.sign(claims()) + "\n")
    res = run_cli("login", "--method=jwt", "role=svc", f"jwt=@{jwt_file}", addr=rsa_env.dev.addr)
    assert res.returncode == 0, res.stderr
    assert jwt_file.read_text().strip() not in res.stdout + res.stderr
    res = run_cli("token", "lookup", "--format=json", addr=rsa_env.dev.addr)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)["data"]
    assert data["display_name"] == "jwt-svc-1"
    assert data["meta"]["role"] == "svc"


def test_jwks_down_after_restart(unsealed_sqlite, keyserver):
    """Keys cannot be fetched: 502 (not counted as a failed login), no fetch storm,
    and logins work again once the JWKS answers."""
    srv = unsealed_sqlite
    root = srv.client(srv.root_token)
    root.sys.enable_auth_method("jwt")
    k = Key("rsa", kid="r1")
    keyserver.serve(k)
    root.auth.jwt.configure(jwks_url=keyserver.base + "/jwks")
    root.auth.jwt.create_role(name="svc", user_claim="sub", allowed_redirect_uris=None,
                              bound_audiences=[AUD], token_policies=["default"])
    srv.restart()
    srv.unseal(srv.keys[:3])
    good = {"role": "svc", "jwt": k.sign(claims(iss=None))}
    jwks = keyserver.jwks
    keyserver.jwks = None  # the handler now fails: json.dumps(None) is "null", not a JWKS
    before = keyserver.hits["/jwks"]
    for _ in range(8):
        r = srv.raw("POST", "/v1/auth/jwt/login", good)
        assert r.status == 502, r
    assert keyserver.hits["/jwks"] - before == 1  # one try, then a pause
    keyserver.jwks = jwks
    time.sleep(5.2)
    r = srv.raw("POST", "/v1/auth/jwt/login", good)
    assert r.status == 200, r
