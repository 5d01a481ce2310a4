"""`coffer scan` over files and stdin (docs/scanner.md): where findings are
placed, the JSON and SARIF output, the baseline, ignore files, what is skipped
and how bad input is reported.

Every token is synthetic and built at run time: a GitHub-style classic token
is `ghp_` + 30 random base62 characters + the CRC32 of those 30 written in
base62 (6 characters), the documented shape and checksum, from a seeded
generator. No literal token appears in this file.

Input that cannot be read even by root (the tests may run as root): a FIFO, a
UNIX socket, a dangling symlink, and a directory symlink loop; a 5 GiB sparse
file stands for "too big". Each must give one note line on stderr while the
rest of the tree is still scanned."""

import json
import os
import random
import socket
import subprocess
from pathlib import Path

import jsonschema  # Debian python3-jsonschema (scripts/bootstrap)
import pytest

from cofferlib import REPO_ROOT, coffer_bin, synthetic_github_token

SCHEMA = REPO_ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
_rng = random.Random(15)


def gh_token():
    return synthetic_github_token(_rng)


def scan(*args, cwd, stdin=None, check_rc=None):
    p = subprocess.run([coffer_bin(), "scan", "--no-progress", *map(str, args)], cwd=cwd,
                       input=stdin, capture_output=True, timeout=120)
    out = p.stdout.decode("utf-8")
    err = p.stderr.decode("utf-8")
    if check_rc is not None:
        assert p.returncode == check_rc, (p.returncode, out, err)
    return p.returncode, out, err


def scan_json(*args, cwd, check_rc=None, stdin=None):
    rc, out, err = scan("--format=json", *args, cwd=cwd, check_rc=check_rc, stdin=stdin)
    return rc, json.loads(out), err


def notes(err):
    return [line for line in err.splitlines() if line.startswith("coffer: scan: ")]


def where(findings):
    return sorted((f["file"], f["line"], f["column"]) for f in findings)


def test_findings_placed_in_every_encoding(tmp_path):
    t = [gh_token() for _ in range(7)]
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "src" / "app" / "main.py").write_text(
        f'import os\n\nGITHUB = "{t[0]}"\n')
    (tmp_path / "crlf.ini").write_bytes(f"[gh]\r\ntoken = {t[1]}\r\n".encode())
    (tmp_path / "le16.txt").write_bytes(
        b"\xff\xfe" + f"one\r\ntwo\r\n  key: {t[2]}\r\n".encode("utf-16-le"))
    (tmp_path / "be16.txt").write_bytes(
        b"\xfe\xff" + f"x\n\u00e9\u00e9 tok={t[3]}\n".encode("utf-16-be"))
    (tmp_path / "bom8.txt").write_bytes(b"\xef\xbb\xbf" + f"a\nb {t[4]}\n".encode())
    (tmp_path / "last.txt").write_text(t[5])  # no newline at the end
    (tmp_path / "allowed.py").write_text(f'X = "{t[6]}"  # coffer:allow\n')

    rc, found, _ = scan_json(cwd=tmp_path, check_rc=1)
    assert where(found) == [
        ("be16.txt", 2, 10),  # two 2-byte characters before " tok=": bytes of the decoded line
        ("bom8.txt", 2, 3),
        ("crlf.ini", 2, 9),
        ("last.txt", 1, 1),
        ("le16.txt", 3, 8),
        ("src/app/main.py", 3, 11),
    ]
    # the same tree named from outside: still relative to the scanned root
    rc, found2, _ = scan_json(tmp_path.name, cwd=tmp_path.parent, check_rc=1)
    assert where(found2) == where(found)


def test_json_fields_and_redaction(tmp_path):
    tok = gh_token()
    (tmp_path / "a.env").write_text(f"GH_TOKEN={tok}\n")
    rc, found, _ = scan_json(cwd=tmp_path, check_rc=1)
    assert len(found) == 1
    f = found[0]
    for key in ("file", "line", "column", "rule", "secret", "fingerprint", "description"):
        assert key in f, key
    assert "commit" not in f
    assert f["file"] == "a.env" and f["line"] == 1 and f["column"] == 10
    assert "github" in f["rule"]
    assert f["secret"] == tok[:4] + "\u2026"
    assert f["fingerprint"] == f"a.env:{f['rule']}:1"

    _, shown, _ = scan_json("--redact=0", cwd=tmp_path, check_rc=1)
    assert shown[0]["secret"] == tok
    _, half, _ = scan_json("--redact=50", cwd=tmp_path, check_rc=1)
    assert half[0]["secret"] == tok[:20] + "\u2026"
    _, hidden, _ = scan_json("--redact", cwd=tmp_path, check_rc=1)
    assert hidden[0]["secret"] == "\u2026"

    rc, text, _ = scan(cwd=tmp_path, check_rc=1)
    assert f"a.env:1:10: {f['rule']}: {tok[:4]}\u2026" in text
    assert "fix: " in text
    assert tok not in text
    assert "\x1b[" not in text  # no colour when stdout is not a terminal


def test_a_dotenv_file_with_secrets_gets_a_line_0_note_in_text_only(tmp_path):
    toks = [gh_token(), gh_token(), gh_token()]
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / ".env.production").write_text(f"PORT=80\nGITHUB_TOKEN={toks[0]}\n")
    (tmp_path / ".env.example").write_text(f"GITHUB_TOKEN={toks[1]}\n")
    (tmp_path / "settings.env").write_text(f"GITHUB_TOKEN={toks[2]}\n")
    (tmp_path / ".env").write_text("PORT=80\nDEBUG=1\n")  # nothing secret: no note
    _, text, _ = scan(cwd=tmp_path, check_rc=1)
    notes = [line for line in text.splitlines() if ":0:0: note:" in line]
    assert notes == [notes[0]] and notes[0].startswith("svc/.env.production:0:0: note: ")
    assert ".gitignore" in notes[0]
    lines = text.splitlines()
    assert lines[lines.index(notes[0]) + 1].startswith("svc/.env.production:2:14: ")
    _, found, _ = scan_json(cwd=tmp_path, check_rc=1)
    assert sorted(f["file"] for f in found) == [".env.example", "settings.env", "svc/.env.production"]
    assert all(f["line"] >= 1 for f in found)


def test_sarif_validates_against_the_2_1_0_schema(tmp_path):
    toks = [gh_token(), gh_token()]
    (tmp_path / "dir with space").mkdir()
    (tmp_path / "dir with space" / "c.yaml").write_text(f"a: 1\ntoken: {toks[0]}\n")
    (tmp_path / "b.js").write_text(f'const t = "{toks[1]}";\n')
    rc, out, _ = scan("--format=sarif", cwd=tmp_path, check_rc=1)
    doc = json.loads(out)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert rules and all(r["shortDescription"]["text"] and r["help"]["text"] for r in rules)
    got = []
    for res in run["results"]:
        assert res["ruleId"] == rules[res["ruleIndex"]]["id"]
        assert res["level"] == "error"
        assert res["partialFingerprints"]
        assert toks[0] not in res["message"]["text"] and toks[1] not in res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        got.append((loc["artifactLocation"]["uri"], loc["region"]["startLine"],
                    loc["region"]["startColumn"]))
    assert sorted(got) == [("b.js", 1, 12), ("dir%20with%20space/c.yaml", 2, 8)]
    # a clean tree is still a valid document, with no results
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "x.txt").write_text("nothing here\n")
    rc, out, _ = scan("--format=sarif", cwd=clean, check_rc=0)
    empty = json.loads(out)
    jsonschema.validate(empty, schema, cls=jsonschema.Draft7Validator)
    assert empty["runs"][0]["results"] == []


def test_baseline_round_trip(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "old.py").write_text(f'A = "{gh_token()}"\nB = "{gh_token()}"\n')
    base = tmp_path / "baseline.json"
    rc, out, _ = scan("--format=json", cwd=tree, check_rc=1)
    base.write_text(out)
    assert len(json.loads(out)) == 2

    rc, found, _ = scan_json(f"--baseline={base}", cwd=tree, check_rc=0)
    assert found == []
    rc, text, _ = scan(f"--baseline={base}", cwd=tree, check_rc=0)
    assert text.startswith("0 findings")

    new = gh_token()
    (tree / "new.py").write_text(f"\n\nN = '{new}'\n")
    rc, found, _ = scan_json(f"--baseline={base}", cwd=tree, check_rc=1)
    assert [(f["file"], f["line"]) for f in found] == [("new.py", 3)]

    # --write-baseline writes the same array, findings and all
    wb = tmp_path / "wb.json"
    rc, found_all, _ = scan_json(f"--write-baseline={wb}", cwd=tree, check_rc=1)
    assert json.loads(wb.read_text()) == found_all
    scan(f"--baseline={wb}", cwd=tree, check_rc=0)

    # a baseline that is not a report is an error, not an empty baseline
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "an array"}')
    rc, out, err = scan(f"--baseline={bad}", cwd=tree, check_rc=2)
    assert err.count("\n") == 1 and "baseline" in err
    rc, out, err = scan(f"--baseline={tmp_path / 'missing.json'}", cwd=tree, check_rc=2)


def test_bad_input_is_one_note_each_and_the_scan_goes_on(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    tok = gh_token()
    (tree / "good.txt").write_text(f"t={tok}\n")
    os.symlink("does-not-exist", tree / "dangling")
    (tree / "loop").mkdir()
    os.symlink("..", tree / "loop" / "up")
    os.mkfifo(tree / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tree / "sock"))
    with open(tree / "sparse.log", "wb") as f:
        f.truncate(5 * 1024 ** 3)
    bad_name = os.fsencode(tree) + b"/caf\xe9.txt"
    with open(bad_name, "wb") as f:
        f.write(f"x {gh_token()}\n".encode())
    try:
        rc, found, err = scan_json(cwd=tree, check_rc=1)
    finally:
        sock.close()
    assert where(found) == [("caf\\xe9.txt", 1, 3), ("good.txt", 1, 3)]
    lines = notes(err)
    assert len(lines) == 6, err
    joined = "\n".join(lines)
    assert "dangling: broken symlink" in joined
    assert "loop/up: directory already scanned" in joined
    assert "pipe: not a regular file" in joined
    assert "sock: not a regular file" in joined
    assert "sparse.log: 5.0 GiB is over the 10.0 MiB limit" in joined
    assert "caf\\xe9.txt: file name is not UTF-8" in joined
    if os.geteuid() != 0:
        locked = tree / "locked.txt"
        locked.write_text(f"{gh_token()}\n")
        locked.chmod(0)
        rc, found2, err2 = scan_json(cwd=tree, check_rc=1)
        assert "locked.txt: Permission denied" in err2
        assert where(found2) == where(found)


def test_nothing_scannable_is_exit_2(tmp_path):
    os.symlink("nowhere", tmp_path / "dangling")
    rc, out, err = scan(tmp_path / "dangling", tmp_path / "missing", cwd=tmp_path, check_rc=2)
    assert "broken symlink" in err and "No such file or directory" in err
    assert "nothing could be scanned" in err
    # an empty tree is not an error: nothing to find
    (tmp_path / "empty").mkdir()
    scan(tmp_path / "empty", cwd=tmp_path, check_rc=0)
    # one good operand beside a missing one: scanned, exit by findings
    (tmp_path / "ok.txt").write_text("fine\n")
    rc, out, err = scan("ok.txt", "missing", cwd=tmp_path, check_rc=0)
    assert "missing: No such file or directory" in err


def test_stdin(tmp_path):
    tok = gh_token()
    rc, found, _ = scan_json("-", cwd=tmp_path, stdin=f"one\nAUTH={tok}\n".encode(), check_rc=1)
    assert where(found) == [("<stdin>", 2, 6)]
    scan("-", cwd=tmp_path, stdin=b"nothing secret\n", check_rc=0)
    # stdin larger than --max-size: a note, and nothing else was scanned
    rc, out, err = scan("--max-size=1K", "-", cwd=tmp_path, stdin=b"x" * 5000, check_rc=2)
    assert "<stdin>: over the 1.0 KiB limit" in err
    # UTF-16 on stdin is decoded like a file
    data = b"\xff\xfe" + f"a\n  {tok}\n".encode("utf-16-le")
    rc, found, _ = scan_json("-", cwd=tmp_path, stdin=data, check_rc=1)
    assert where(found) == [("<stdin>", 2, 3)]
    # stdin beside a directory
    (tmp_path / "f.txt").write_text(f"{gh_token()}\n")
    rc, found, _ = scan_json(".", "-", cwd=tmp_path, stdin=f"{tok}\n".encode(), check_rc=1)
    assert where(found) == [("<stdin>", 1, 1), ("f.txt", 1, 1)]


def git(cwd, *args):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.mark.parametrize("in_repo", [True, False])
def test_gitignore_and_cofferignore(tmp_path, in_repo):
    root = tmp_path / "proj"
    root.mkdir()
    if in_repo:
        git(root, "init", "-q")
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "exclude").write_text("excluded.txt\n")
    files = {
        "kept.txt": True,
        "build/out.txt": False,          # "build/" in the top .gitignore
        "logs/a.log": False,             # "*.log" anywhere
        "logs/keep.log": True,           # "!keep.log" re-includes
        "docs/notes.txt": True,
        "docs/private/x.txt": False,     # docs/.gitignore: "/private" anchored to docs/
        "src/private/y.txt": True,       # not under docs/: the anchored rule does not apply
        "deep/a/b/gen.txt": False,       # "deep/**/gen.txt"
        "deep/gen.txt": False,           # "**" matches zero directories too
        "vendor/lib.txt": False,         # .cofferignore
        "gen/x/out.txt": False,          # "gen/**" ignores what is inside gen/ ...
        "gen/keep.txt": True,            # ... so "!gen/keep.txt" can take one back
        "excluded.txt": not in_repo,     # .git/info/exclude, only inside a repository
    }
    for name in files:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"k = {gh_token()}\n")
    (root / ".gitignore").write_text("# build output\nbuild/\n*.log\n!keep.log\ndeep/**/gen.txt\ngen/**\n!gen/keep.txt\n")
    (root / "docs" / ".gitignore").write_text("/private\n")
    (root / ".cofferignore").write_text("vendor/\n")
    if in_repo:
        (root / ".git" / "config.txt").write_text(f"t={gh_token()}\n")  # .git/ is skipped

    rc, found, _ = scan_json(cwd=root, check_rc=1)
    assert sorted(f["file"] for f in found) == sorted(n for n, k in files.items() if k)
    # from a subdirectory the parents' rules still hold (inside a repository)
    rc, found, _ = scan_json("--no-progress", cwd=root / "logs", check_rc=1)
    assert sorted(f["file"] for f in found) == (["keep.log"] if in_repo else ["a.log", "keep.log"])
    # --no-ignore reads everything but .git/
    rc, found, _ = scan_json("--no-ignore", cwd=root, check_rc=1)
    assert len(found) == len(files)


def test_binaries_and_big_files_skipped(tmp_path):
    tok = gh_token()
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01" + tok.encode())
    (tmp_path / "nul.txt").write_bytes(tok.encode() + b"\n\x00")
    (tmp_path / "image.png").write_text(tok)
    (tmp_path / "lib.so").write_text(tok)
    big = tmp_path / "big.sql"
    with open(big, "wb") as f:
        f.write(f"-- {tok}\n".encode())
        f.write(b"x" * (11 * 1024 * 1024))
    rc, found, err = scan_json(cwd=tmp_path, check_rc=2)  # nothing could be scanned
    assert found == []
    assert len(notes(err)) == 2 and "big.sql: 11.0 MiB is over the 10.0 MiB limit" in err
    rc, found, err = scan_json("--max-size=12M", cwd=tmp_path, check_rc=1)
    assert where(found) == [("big.sql", 1, 4)]
    rc, found, err = scan_json("--max-size=100", cwd=tmp_path, check_rc=2)
    assert "big.sql" in err


def test_usage_errors(tmp_path):
    for args in (["--format=xml"], ["--redact=101"], ["--max-size=ten"], ["--since=HEAD"],
                 ["--git", "--staged"]):
        rc, out, err = scan(*args, cwd=tmp_path, check_rc=2)
        assert err.startswith("coffer: scan: "), args
    rc, out, err = scan("--help", cwd=tmp_path, check_rc=0)
    assert "--baseline=FILE" in out


def test_each_directory_operand_has_its_own_ignore_rules(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.txt").write_text(f"{gh_token()}\n")
    (tmp_path / "a" / ".gitignore").write_text("*.txt\n")
    rc, found, _ = scan_json("a", "b", cwd=tmp_path, check_rc=1)
    assert where(found) == [("x.txt", 1, 1)]  # b's, relative to b


def test_colour_only_on_a_terminal(tmp_path):
    import pty
    (tmp_path / "k.txt").write_text(f"{gh_token()}\n")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    p = subprocess.run([coffer_bin(), "scan"], cwd=tmp_path, stdout=slave, stderr=slave,
                       env=env, timeout=60)
    os.close(slave)
    out = b""
    try:
        while chunk := os.read(master, 4096):
            out += chunk
    except OSError:  # EIO once the terminal is drained
        pass
    os.close(master)
    assert p.returncode == 1
    assert b"\x1b[31m" in out and b"k.txt:1:1" in out
    p = subprocess.run([coffer_bin(), "scan"], cwd=tmp_path, capture_output=True, env=env,
                       timeout=60)  # pipes: no colour, no progress line
    assert p.returncode == 1 and b"\x1b[" not in p.stdout and b"\r" not in p.stderr
