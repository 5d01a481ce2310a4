"""`coffer env parse` against npm dotenv and dotenv-expand themselves.

For every file in env_fixtures/parse the expected output is produced during the
test run by node with the dotenv package installed from the committed lock file
(tests/integration/node, scripts/bootstrap); coffer's JSON must be the same
bytes as JSON.stringify(dotenv.parse(file)). env_fixtures/expand does the same
for --expand against dotenv.config() + dotenv-expand's expand(), with the
variables of an optional NAME.environ.json set in the environment of both.
Both programs run with the same small, controlled environment.
"""

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cofferlib import coffer_bin

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "env_fixtures"
NODE_MODULES = HERE / "node" / "node_modules"
PARSE_FIXTURES = sorted((FIXTURES / "parse").glob("*.env"))
EXPAND_FIXTURES = sorted((FIXTURES / "expand").glob("*.env"))

# dotenv.parse of every file named on the command line, as one JSON object of
# path -> JSON.stringify(result).
NODE_PARSE = """
const dotenv = require(process.env.NODE_MODULES + '/dotenv');
const fs = require('fs');
const out = {};
for (const f of process.argv.slice(1)) out[f] = JSON.stringify(dotenv.parse(fs.readFileSync(f)));
process.stdout.write(JSON.stringify(out));
"""

# The reference flow of --expand: dotenv.config() puts the literals into
# process.env (never over a variable already set), then expand() walks them.
NODE_EXPAND = """
const dotenv = require(process.env.NODE_MODULES + '/dotenv');
const { expand } = require(process.env.NODE_MODULES + '/dotenv-expand');
delete process.env.NODE_MODULES;
const r = dotenv.config({ path: process.argv[1], quiet: true });
if (r.error) throw r.error;
expand(r);
process.stdout.write(JSON.stringify(r.parsed));
"""


def base_env(extra=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    env.update(extra or {})
    return env


def node():
    exe = shutil.which("node")
    if exe is None or not (NODE_MODULES / "dotenv").is_dir() or not (NODE_MODULES / "dotenv-expand").is_dir():
        pytest.fail("node and tests/integration/node/node_modules are needed (run scripts/bootstrap)")
    return exe


def run_node(script, args, extra_env=None):
    env = base_env(extra_env)
    env["NODE_MODULES"] = str(NODE_MODULES)
    r = subprocess.run([node(), "-e", script, *[str(a) for a in args]], capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


def coffer(*args, input=None, extra_env=None, cwd=None):
    binary = coffer_bin()
    if not binary.exists():
        pytest.fail(f"coffer binary not found at {binary} (set COFFER_BIN)")
    return subprocess.run(
        [str(binary), "env", "parse", *[str(a) for a in args]],
        input=input,
        capture_output=True,
        env=base_env(extra_env),
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture(scope="module")
def dotenv_expected():
    return json.loads(run_node(NODE_PARSE, PARSE_FIXTURES))


def test_fixture_set_is_large_enough():
    assert len(PARSE_FIXTURES) >= 60
    assert len(EXPAND_FIXTURES) >= 25
    for f in PARSE_FIXTURES + EXPAND_FIXTURES:
        # node would run a command substitution; none may be in a fixture
        assert b"$(" not in f.read_bytes(), f


@pytest.mark.parametrize("path", PARSE_FIXTURES, ids=lambda p: p.stem)
def test_parse_matches_dotenv(path, dotenv_expected):
    r = coffer("--format=json", path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    assert r.stdout.decode() == dotenv_expected[str(path)] + "\n"


# Pieces that meet in odd ways when strung together at random: quotes and
# escaped quotes, comments, line ends of every kind, Unicode white space and
# line separators, separators on the wrong line.
RANDOM_PIECES = [
    "K", "V2", "a.b", "-", "export", "export\t", "export\n", " ", "\t", "\u00a0", "\u3000",
    "\ufeff", "\n", "\r\n", "\r", "\u2028", "\u2029", "=", ":", ": ", '"', "'", "`", "\\",
    '\\"', "\\'", "\\`", "\\n", "\\r", "#", " #", "x", "y z", "$X", "\u00e9", "\U0001f511",
    '" #', '"\n', "'\n", '"x"', '" y', "K=", 'K="', "K='", "K=`", "\nK2=", "# c", "==",
]


def test_parse_random_files_match_dotenv(tmp_path):
    """Files strung together at random from RANDOM_PIECES (fixed seed): coffer
    and npm dotenv give the same bytes for every one."""
    rnd = random.Random(1407)
    files = []
    for i in range(150):
        text = "".join(rnd.choice(RANDOM_PIECES) for _ in range(rnd.randint(1, 60)))
        f = tmp_path / f"r{i}.env"
        f.write_bytes(text.encode())
        files.append(f)
    want = json.loads(run_node(NODE_PARSE, files))
    for f in files:
        r = coffer(f)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == want[str(f)] + "\n", f.read_bytes()


def test_parse_default_format_file_operand_and_stdin(dotenv_expected, tmp_path):
    path = FIXTURES / "parse" / "multiline_double.env"
    want = dotenv_expected[str(path)] + "\n"
    assert coffer(path).stdout.decode() == want
    assert coffer("-f", path).stdout.decode() == want
    assert coffer("-", input=path.read_bytes()).stdout.decode() == want
    # no operand: .env in the current directory, as dotenv.config() reads
    shutil.copy(path, tmp_path / ".env")
    assert coffer(cwd=tmp_path).stdout.decode() == want


def test_format_dotenv_reads_back_the_same(dotenv_expected, tmp_path):
    """--format=dotenv output, parsed again by npm dotenv, gives the same values."""
    outs = []
    for path in PARSE_FIXTURES:
        r = coffer("--format=dotenv", path)
        assert r.returncode == 0, (path, r.stderr)
        out = tmp_path / path.name
        out.write_bytes(r.stdout)
        outs.append(out)
    back = json.loads(run_node(NODE_PARSE, outs))
    for path, out in zip(PARSE_FIXTURES, outs):
        assert json.loads(back[str(out)]) == json.loads(dotenv_expected[str(path)]), path.name


def test_format_shell_sets_the_same_values(dotenv_expected, tmp_path):
    """--format=shell output sourced by sh exports exactly dotenv's values."""
    checked = 0
    for path in PARSE_FIXTURES:
        want = json.loads(dotenv_expected[str(path)])
        r = coffer("--format=shell", path)
        assert r.returncode == 0, (path, r.stderr)
        script = tmp_path / "vars.sh"
        script.write_bytes(r.stdout)
        sh = subprocess.run(
            ["sh", "-c", '. "$1" && exec env -0', "sh", str(script)],
            capture_output=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            timeout=30,
        )
        assert sh.returncode == 0, (path.name, sh.stderr)
        got = dict(v.decode().split("=", 1) for v in sh.stdout.split(b"\0") if v)
        for key, value in want.items():
            if key.replace("_", "a").isalnum() and key.isascii() and not key[0].isdigit():
                assert got.get(key) == value, (path.name, key)
                checked += 1
            else:
                assert f"{key} skipped".encode() in r.stderr
    assert checked > 200


@pytest.mark.parametrize("path", EXPAND_FIXTURES, ids=lambda p: p.stem)
def test_expand_matches_dotenv_expand(path):
    side = path.with_name(path.stem + ".environ.json")
    extra = json.loads(side.read_text()) if side.exists() else {}
    want = run_node(NODE_EXPAND, [path], extra)
    r = coffer("--expand", "--format=json", path, extra_env=extra)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == want + "\n"


def test_expand_never_runs_commands(tmp_path):
    marker = tmp_path / "ran"
    env_file = tmp_path / "cmd.env"
    env_file.write_text(f"A=$(touch {marker})\nB=`touch {marker}`\n")
    r = coffer("--expand", env_file)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"A": f"$(touch {marker})", "B": f"touch {marker}"}
    assert not marker.exists()


def test_expand_value_that_never_settles(tmp_path):
    env_file = tmp_path / "grow.env"
    env_file.write_text("OK=1\nGROWS=${GROWS}x\n")
    r = coffer("--expand", env_file)
    assert r.returncode == 2
    assert r.stdout == b""
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coffer: env parse: ") and "GROWS" in lines[0]


def assert_refused(r, secret=b"hunter2"):
    assert r.returncode == 2
    assert r.stdout == b""
    err = r.stderr.decode(errors="replace")
    assert err.count("\n") == 1 and err.startswith("coffer: env parse: "), err
    assert secret.decode() not in err


def test_bad_input_binary_garbage(tmp_path):
    garbage = tmp_path / "garbage.env"
    garbage.write_bytes(b"SECRET=hunter2\n" + bytes(range(256)) * 4)
    r = coffer(garbage)
    assert_refused(r)
    assert "not a text file" in r.stderr.decode()
    assert_refused(coffer("-", input=garbage.read_bytes()))


def test_bad_input_invalid_utf8(tmp_path):
    for i, bad in enumerate([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80"]):
        f = tmp_path / f"bad{i}.env"
        f.write_bytes(b"OK=1\nSECRET=hunter2" + bad + b"\n")
        r = coffer("--format=json", f)
        assert_refused(r)
        assert "invalid UTF-8 on line 2" in r.stderr.decode()


def test_bad_input_100_mb(tmp_path):
    big = tmp_path / "big.env"
    with open(big, "wb") as f:
        line = b"SECRET=hunter2\n"
        chunk = line * (1024 * 1024 // len(line) + 1)
        while f.tell() < 100 * 1024 * 1024:
            f.write(chunk)
    r = coffer(big)
    assert_refused(r)
    assert "too large" in r.stderr.decode()
    with open(big, "rb") as f:
        r = subprocess.run(
            [str(coffer_bin()), "env", "parse", "-"], stdin=f, capture_output=True, env=base_env(), timeout=60
        )
    assert_refused(r)


def test_bad_usage_and_missing_file(tmp_path):
    r = coffer(tmp_path / "missing.env")
    assert_refused(r)
    assert "missing.env" in r.stderr.decode()
    r = coffer("--format=yaml", FIXTURES / "parse" / "basic.env")
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode().startswith("coffer: env parse: unknown format")
