"""`coffer env encrypt|decrypt|get|set|keypair` against the real dotenvx CLI
(npm @dotenvx/dotenvx, installed from tests/integration/node/package-lock.json).

Both directions: files dotenvx encrypts are decrypted by coffer, files coffer
encrypts are decrypted by dotenvx, and the decrypted files and values are
compared whole. dotenvx starts in ~0.3 s, so each test batches many values
into one file."""
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from cofferlib import coffer_bin

REPO = Path(__file__).resolve().parents[2]
DOTENVX = REPO / "tests" / "integration" / "node" / "node_modules" / ".bin" / "dotenvx"
NO_CLOUD = ["--no-armor", "--no-native"]

# One file with the values that break naive encryptors: quotes of all kinds,
# escaped and real newlines, unicode, empty values, export, comments, spacing.
TRICKY = """# leading comment
export EXPORTED=exported-value
PLAIN=hello
SPACED = around the equals   # trailing comment
DQ="double quoted"
SQ='single "with" double'
BT=`back 'tick' "mix"`
ESCAPED_NL="line1\\nline2"
REAL_NL="first
second
third"
UNICODE="ünïcödé ✓ 日本語 🔑"
UNQ_UNICODE=naïve-Ωmega
EMPTY=
EMPTY_BLANKS=   
EMPTY_DQ=""
EMPTY_SQ=''
HASH_IN_QUOTES="a#b # not a comment"
URL=postgres://user:p%40ss@db:5432/app?sslmode=require
DOLLAR_SQ='$HOME stays'
PADDED="  padded  "
CONTROL="bell\x07 esc\x1b tab\x09 back\\slash"
KEEP_PLAIN=not secret
  INDENTED=indented value
export  TWO_SPACES=two
INLINE=a#b
QSPACED =  "quoted, spaced"  # note
DUP=first
DUP="second wins"

# trailing comment
"""

# CRLF line ends, a #! line (the header goes below it), duplicates, backticks.
CRLF = '#!/usr/bin/env bash\r\nA=1\r\nB="x y"\r\nexport C=`tick`\r\nD=dup1\r\nD=dup2\r\n'


def base_env(tmp):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "LANG": "C.UTF-8"}
    return env


def run(argv, cwd, env, check=True, input=None):
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=60, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"{argv} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p


def dx(cwd, *args, env=None, check=True):
    if not DOTENVX.exists():
        pytest.fail(f"dotenvx not installed at {DOTENVX} (run scripts/bootstrap)")
    args = list(args)
    if args and args[0] in ("encrypt", "decrypt", "set", "get"):
        args = [args[0]] + NO_CLOUD + args[1:]
    return run([str(DOTENVX)] + args, cwd, env or base_env(cwd), check)


def cf(cwd, *args, env=None, check=True):
    return run([str(coffer_bin()), "env"] + list(args), cwd, env or base_env(cwd), check)


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def digests(d):
    return {p.name: digest(p) for p in sorted(Path(d).iterdir()) if p.is_file()}


def without_public_key(text):
    return re.sub(r'^(DOTENV_PUBLIC_KEY[A-Z0-9_]*)="[0-9a-f]{66}"', r'\1="<pub>"', text, flags=re.M)


def dx_get_json(cwd, f, env=None):
    return json.loads(dx(cwd, "get", "-f", f, env=env).stdout)


def cf_get_json(cwd, f, env=None):
    return json.loads(cf(cwd, "get", "-f", f, env=env).stdout)


def make(tmp, name, text=TRICKY):
    p = Path(tmp) / name
    p.write_text(text)
    return p


def test_dotenvx_encrypts_coffer_decrypts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    make(a, ".env")
    (a / ".env.crlf").write_bytes(CRLF.encode())
    want = dx_get_json(a, ".env")  # the plaintext values as dotenvx reads them
    dx(a, "encrypt", "-f", ".env", "-f", ".env.crlf")
    enc = (a / ".env").read_text()
    assert enc.count("encrypted:") == 25  # every value but KEEP_PLAIN
    shutil.copytree(a, b)

    # the same bytes as dotenvx get prints: key order, escapes, unicode
    raw = cf(a, "get", "-f", ".env").stdout
    assert raw == dx(b, "get", "-f", ".env").stdout
    got = json.loads(raw)
    del got["DOTENV_PUBLIC_KEY"]
    assert got == want
    assert cf(a, "get", "UNICODE", "-f", ".env").stdout.decode() == "ünïcödé ✓ 日本語 🔑\n"
    assert cf(a, "get", "REAL_NL").stdout.decode() == "first\nsecond\nthird\n"

    cf(a, "decrypt", "-f", ".env", "-f", ".env.crlf")
    dx(b, "decrypt", "-f", ".env", "-f", ".env.crlf")
    for f in (".env", ".env.crlf"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
        assert b"encrypted:" not in (a / f).read_bytes()


def test_coffer_encrypts_dotenvx_decrypts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    make(a, ".env")
    make(b, ".env")
    for d in (a, b):
        (d / ".env.crlf").write_bytes(CRLF.encode())
    want = dx_get_json(a, ".env")
    cf(a, "encrypt", "-f", ".env", "-f", ".env.crlf")
    cf(a, "encrypt", "-f", ".env", "-f", ".env.crlf")  # a second run changes nothing
    dx(b, "encrypt", "-f", ".env", "-f", ".env.crlf")
    mine, theirs = (a / ".env").read_text(), (b / ".env").read_text()
    # The same lines rewritten the same way; only the key and ciphertexts differ.
    strip = lambda t: re.sub(r"encrypted:[A-Za-z0-9+/=]+", "encrypted:X", without_public_key(t))
    assert strip(mine) == strip(theirs)
    assert (a / ".env.keys").read_text().splitlines()[:7] == (b / ".env.keys").read_text().splitlines()[:7]

    got = dx_get_json(a, ".env")
    assert got.pop("DOTENV_PUBLIC_KEY") in mine
    assert got == want

    # dotenvx decrypts coffer's file to exactly what it decrypts its own to.
    dx(a, "decrypt", "-f", ".env", "-f", ".env.crlf")
    dx(b, "decrypt", "-f", ".env", "-f", ".env.crlf")
    for f in (".env", ".env.crlf"):
        assert without_public_key((a / f).read_bytes().decode()) == without_public_key((b / f).read_bytes().decode())
    assert (a / ".env.crlf").read_bytes().startswith(b"#!/usr/bin/env bash\r\n#/----")


def test_quotes_chosen_so_decrypt_gives_back_the_value(tmp_path):
    # An unquoted value written back into no quotes would not read the same
    # after dotenvx decrypt if it could not be; values from the file always can,
    # but a value set with --plain into an unquoted key must get quotes.
    make(tmp_path, ".env", "A=plain\n")
    cf(tmp_path, "set", "A", "has # hash and 'quotes'", "--plain")
    assert dx(tmp_path, "get", "A").stdout.decode() == "has # hash and 'quotes'\n"
    cf(tmp_path, "set", "ML", 'two\nlines "quoted"')
    dx(tmp_path, "decrypt")
    assert dx(tmp_path, "get", "ML").stdout.decode() == 'two\nlines "quoted"\n'
    assert cf(tmp_path, "get", "ML").stdout.decode() == 'two\nlines "quoted"\n'


ENVS = {
    ".env": "DOTENV_PRIVATE_KEY",
    ".env.production": "DOTENV_PRIVATE_KEY_PRODUCTION",
    ".env.production.local": "DOTENV_PRIVATE_KEY_PRODUCTION_LOCAL",
    ".env1": "DOTENV_PRIVATE_KEY_DEVELOPMENT1",
}


def test_environments_and_key_sources(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    body = 'SECRET="{name} value"\nOTHER=ü {name}\n'
    files = list(ENVS)
    for f in files:
        make(a, f, body.format(name=f))
        make(b, f, body.format(name=f))
    args = [x for f in files for x in ("-f", f)]
    cf(a, "encrypt", *args)
    dx(b, "encrypt", *args)
    for f, priv in ENVS.items():
        pub = priv.replace("PRIVATE", "PUBLIC")
        assert re.search(rf'^{pub}="0[23][0-9a-f]{{64}}"$', (a / f).read_text(), re.M)
        assert f"\n# {f}\n{priv}=" in (a / ".env.keys").read_text()
        assert f"\n# {f}\n{priv}=" in (b / ".env.keys").read_text()
    # coffer's .env.keys is laid out as dotenvx's
    mask = lambda t: re.sub(r"=[0-9a-f]{64}", "=K", t)
    assert mask((a / ".env.keys").read_text()) == mask((b / ".env.keys").read_text())

    for f in files:
        assert dx(a, "get", "SECRET", "-f", f).stdout.decode() == f"{f} value\n"
        assert cf(b, "get", "OTHER", "-f", f).stdout.decode() == f"ü {f}\n"

    # private keys from the environment instead of .env.keys, both tools
    keys = dict(
        line.split("=", 1) for line in (a / ".env.keys").read_text().splitlines() if line.startswith("DOTENV_PRIVATE")
    )
    bkeys = dict(
        line.split("=", 1) for line in (b / ".env.keys").read_text().splitlines() if line.startswith("DOTENV_PRIVATE")
    )
    (a / ".env.keys").rename(tmp_path / "a.keys")
    (b / ".env.keys").rename(tmp_path / "b.keys")
    env = base_env(tmp_path)
    env["DOTENV_PRIVATE_KEY_PRODUCTION"] = keys["DOTENV_PRIVATE_KEY_PRODUCTION"]
    assert dx(a, "get", "SECRET", "-f", ".env.production", env=env).stdout == b".env.production value\n"
    # several keys, comma-separated: the wrong one first
    env["DOTENV_PRIVATE_KEY_PRODUCTION"] = "%s,%s" % (keys["DOTENV_PRIVATE_KEY"], bkeys["DOTENV_PRIVATE_KEY_PRODUCTION"])
    cf(b, "decrypt", "-f", ".env.production", env=env)
    assert (b / ".env.production").read_text().endswith(body.format(name=".env.production"))


def test_set_and_get_both_ways(tmp_path):
    # coffer creates the file and its keys; dotenvx reads and extends it
    cf(tmp_path, "set", "API_KEY", "sk_live_ünï\nline2", "-f", ".env.staging")
    text = (tmp_path / ".env.staging").read_text()
    assert text.startswith("#/-------------------[DOTENV_PUBLIC_KEY]")
    assert re.search(r'^API_KEY="encrypted:B[A-Za-z0-9+/=]+"$', text, re.M)
    assert "DOTENV_PRIVATE_KEY_STAGING=" in (tmp_path / ".env.keys").read_text()
    assert dx(tmp_path, "get", "API_KEY", "-f", ".env.staging").stdout.decode() == "sk_live_ünï\nline2\n"
    dx(tmp_path, "set", "FROM_DX", "dotenvx 'value'", "-f", ".env.staging")
    cf(tmp_path, "set", "VISIBLE", "plain text", "--plain", "-f", ".env.staging")
    cf(tmp_path, "set", "LEVEL_PLAIN", "debug", "-f", ".env.staging")
    text = (tmp_path / ".env.staging").read_text()
    assert 'VISIBLE="plain text"' in text and 'LEVEL_PLAIN="debug"' in text
    got = cf_get_json(tmp_path, ".env.staging")
    assert got == dx_get_json(tmp_path, ".env.staging")
    assert got["FROM_DX"] == "dotenvx 'value'" and got["API_KEY"] == "sk_live_ünï\nline2"
    # the same value again: nothing is rewritten (as dotenvx)
    before = digest(tmp_path / ".env.staging")
    cf(tmp_path, "set", "API_KEY", "sk_live_ünï\nline2", "-f", ".env.staging")
    assert digest(tmp_path / ".env.staging") == before
    # set replaces in place, keeping the position
    cf(tmp_path, "set", "API_KEY", "rotated", "-f", ".env.staging")
    assert dx(tmp_path, "get", "API_KEY", "-f", ".env.staging").stdout == b"rotated\n"
    lines = [l.split("=")[0] for l in (tmp_path / ".env.staging").read_text().splitlines() if "=" in l]
    assert lines == ["DOTENV_PUBLIC_KEY_STAGING", "API_KEY", "FROM_DX", "VISIBLE", "LEVEL_PLAIN"]
    # keypair matches what dotenvx reports
    mine = json.loads(cf(tmp_path, "keypair", "-f", ".env.staging").stdout)
    theirs = json.loads(dx(tmp_path, "keypair", "-f", ".env.staging").stdout)
    assert mine["DOTENV_PUBLIC_KEY_STAGING"] == theirs["DOTENV_PUBLIC_KEY_STAGING"]
    assert mine["DOTENV_PRIVATE_KEY_STAGING"] == theirs["DOTENV_PRIVATE_KEY_STAGING"]


def test_selected_keys_stdout_and_keys_file(tmp_path):
    make(tmp_path, ".env", "A=1\nB=2\nC=3\n")
    before = digest(tmp_path / ".env")
    out = cf(tmp_path, "encrypt", "--stdout", "B").stdout.decode()
    assert digest(tmp_path / ".env") == before  # --stdout leaves the file alone
    assert re.search(r"^A=1$", out, re.M) and re.search(r"^B=encrypted:", out, re.M)
    cf(tmp_path, "encrypt", "-k", "A", "C")
    text = (tmp_path / ".env").read_text()
    assert re.search(r"^A=encrypted:", text, re.M) and "B=2" in text and re.search(r"^C=encrypted:", text, re.M)
    cf(tmp_path, "decrypt", "C")
    assert dx_get_json(tmp_path, ".env")["A"] == "1" and "\nC=3\n" in (tmp_path / ".env").read_text()

    # a keys file elsewhere: the header says where (as dotenvx writes it)
    sub, keys = tmp_path / "app", tmp_path / "secrets"
    sub.mkdir()
    keys.mkdir()
    make(sub, ".env.ci", "TOKEN=abc\n")
    cf(tmp_path, "encrypt", "-f", "app/.env.ci", "-fk", "secrets/.env.keys")
    assert "_CI=\"" in (sub / ".env.ci").read_text()
    assert re.search(r'^DOTENV_PUBLIC_KEY_CI="[0-9a-f]{66}" # -fk \.\./secrets/\.env\.keys$', (sub / ".env.ci").read_text(), re.M)
    assert stat.S_IMODE((keys / ".env.keys").stat().st_mode) == 0o600
    assert not (sub / ".env.keys").exists()
    assert dx(tmp_path, "get", "TOKEN", "-f", "app/.env.ci", "-fk", "secrets/.env.keys").stdout == b"abc\n"
    assert cf(tmp_path, "get", "TOKEN", "-f", "app/.env.ci", "-fk", "secrets").stdout == b"abc\n"
    p = cf(tmp_path, "get", "TOKEN", "-f", "app/.env.ci", check=False)  # no keys beside it
    assert p.returncode == 2 and b"no private key" in p.stderr


def test_file_modes(tmp_path):
    make(tmp_path, ".env", "A=1\n")
    os.chmod(tmp_path / ".env", 0o644)
    cf(tmp_path, "encrypt")
    assert stat.S_IMODE((tmp_path / ".env.keys").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".coffer")] == []


def one_line_error(p, sub):
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith(f"coffer: env {sub}: "), err
    return err


def test_missing_and_wrong_private_key(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    make(a, ".env", 'DB_PASSWORD="hunter2-ünï"\nAPI=abc\n')
    make(a, ".env.production", "PROD_SECRET=prod-secret-value\n")
    dx(a, "encrypt", "-f", ".env", "-f", ".env.production")
    keys = (a / ".env.keys").read_text()
    right = re.search(r"^DOTENV_PRIVATE_KEY=([0-9a-f]{64})$", keys, re.M).group(1)
    prod = re.search(r"^DOTENV_PRIVATE_KEY_PRODUCTION=([0-9a-f]{64})$", keys, re.M).group(1)
    secrets = ["hunter2", "prod-secret-value", right, prod]

    def check_refused(env, *files):
        before = digests(a)
        args = [x for f in files for x in ("-f", f)]
        for sub in ("decrypt", "get"):
            err = one_line_error(cf(a, sub, *args, env=env, check=False), sub)
            assert not any(s in err for s in secrets), err
        assert digests(a) == before
        return err

    # wrong key in .env.keys (the production key under the .env name)
    (a / ".env.keys").write_text(keys.replace(right, prod))
    err = check_refused(None, ".env")
    assert "DOTENV_PRIVATE_KEY" in err and "wrong" in err
    # decrypting two files, the second failing: the first is not written either
    (a / ".env.keys").write_text(keys.replace(prod, right))
    check_refused(None, ".env", ".env.production")
    # wrong key from the environment, no keys file
    (a / ".env.keys").unlink()
    env = base_env(a)
    env["DOTENV_PRIVATE_KEY"] = prod
    check_refused(env, ".env")
    # malformed key: not hex
    env["DOTENV_PRIVATE_KEY"] = "zz" * 32
    err = check_refused(env, ".env")
    # missing key entirely
    err = check_refused(None, ".env")
    assert "no private key" in err and "DOTENV_PRIVATE_KEY" in err
    # a tampered ciphertext is refused the same way
    (a / ".env.keys").write_text(keys)
    text = (a / ".env").read_text()
    m = re.search(r"API=encrypted:([A-Za-z0-9+/=]+)", text)
    ct = m.group(1)
    bad = ct[:-8] + ("A" if ct[-8] != "A" else "B") + ct[-7:]
    (a / ".env").write_text(text.replace(ct, bad))
    check_refused(None, ".env")
    # and the right key still works afterwards on the untouched production file
    cf(a, "decrypt", "-f", ".env.production")
    assert (a / ".env.production").read_text().endswith("PROD_SECRET=prod-secret-value\n")


def test_bad_input_is_refused_without_changes(tmp_path):
    make(tmp_path, ".env", "A=1\n")
    (tmp_path / "bin.env").write_bytes(b"A=\x00\x01\x02garbage\xff\n")
    (tmp_path / "latin1.env").write_bytes(b"A=caf\xe9\n")
    before = digests(tmp_path)
    for f in ("bin.env", "latin1.env", "missing.env"):
        for sub in ("encrypt", "decrypt", "get"):
            one_line_error(cf(tmp_path, sub, "-f", f, check=False), sub)
    assert digests(tmp_path) == before
    # a 100 MB file: refused before it is read
    with open(tmp_path / "big.env", "wb") as f:
        f.write(b"A=")
        f.truncate(100 * 1024 * 1024)
    before = digests(tmp_path)
    for sub in ("encrypt", "decrypt", "get"):
        err = one_line_error(cf(tmp_path, sub, "-f", "big.env", check=False), sub)
        assert "big.env" in err
    one_line_error(cf(tmp_path, "set", "BAD KEY", "v", check=False), "set")
    # usage errors: exit 2, the error first (then a hint to run --help)
    p = cf(tmp_path, "get", "--format=yaml", check=False)
    assert p.returncode == 2 and p.stderr.startswith(b"coffer: env get: unknown format")
    p = cf(tmp_path, "set", "ONLY_KEY", check=False)
    assert p.returncode == 2 and p.stderr.startswith(b"coffer: env set: missing VALUE")
    assert digests(tmp_path) == before
