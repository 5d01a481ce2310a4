"""`coffer scan --git`, `--since`, `--staged`, `.coffer-scan.toml` and
`--install-hook` (docs/scanner.md) on temporary git repositories driven with
the git command line.

Every token is synthetic and built at run time: a GitHub-style classic token
is `ghp_` + 30 random base62 characters + the CRC32 of those 30 in base62 (6
characters), the documented shape and checksum, from a seeded generator. No
literal token appears in this file."""

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from cofferlib import coffer_bin, synthetic_github_token

_rng = random.Random(1515)


def gh_token():
    return synthetic_github_token(_rng)


class Repo:
    def __init__(self, path):
        self.path = path
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(path.parent),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Grace Hopper",
            "GIT_AUTHOR_EMAIL": "grace@example.test",
            "GIT_COMMITTER_NAME": "Grace Hopper",
            "GIT_COMMITTER_EMAIL": "grace@example.test",
        }
        path.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args, check=True, env=None):
        p = subprocess.run(["git", *args], cwd=self.path, env={**self.env, **(env or {})},
                           capture_output=True, text=True, timeout=60)
        if check:
            assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p

    def write(self, rel, text):
        f = self.path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)

    def commit(self, msg, date=None, author=None):
        env = {}
        if date:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        if author:
            env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"] = author
        self.git("add", "-A")
        self.git("commit", "-q", "-m", msg, env=env)
        return self.head()

    def head(self):
        return self.git("rev-parse", "HEAD").stdout.strip()

    def scan(self, *args, cwd=None):
        p = subprocess.run([str(coffer_bin()), "scan", "--no-progress", *map(str, args)],
                           cwd=cwd or self.path, env=self.env, capture_output=True,
                           text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def scan_json(self, *args, rc=None):
        code, out, err = self.scan("--format=json", *args)
        if rc is not None:
            assert code == rc, (code, out, err)
        return json.loads(out) if out.strip() else None, err


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path / "r")


def keyed(findings):
    return sorted((f["file"], f["line"], f["rule"]) for f in findings)


def test_history_reports_a_deleted_key_once_at_the_commit_that_added_it(repo):
    tok = gh_token()
    repo.write("README", "hello\n")
    repo.commit("start", date="2026-01-01T10:00:00+00:00")
    repo.write("app/settings.py", f"DEBUG = False\nGH = \"{tok}\"\n")
    added = repo.commit("settings", date="2026-01-02T03:04:05+02:00",
                        author=("Ada Lovelace", "ada@example.test"))
    # unchanged secret in a changed file, then the file is deleted
    repo.write("app/settings.py", f"DEBUG = True\nGH = \"{tok}\"\n")
    repo.commit("debug on", date="2026-01-03T00:00:00+00:00")
    (repo.path / "app" / "settings.py").unlink()
    repo.commit("remove the key", date="2026-01-04T00:00:00+00:00")
    repo.write("README", "hello again\n")
    repo.commit("later", date="2026-01-05T00:00:00+00:00")

    # the working tree is clean now
    code, out, err = repo.scan(".")
    assert code == 0, (out, err)

    found, err = repo.scan_json("--git", rc=1)
    assert len(found) == 1, found
    f = found[0]
    assert f["rule"] == "github-pat"
    assert (f["file"], f["line"], f["column"]) == ("app/settings.py", 2, 7)
    assert f["commit"] == added
    assert f["author"] == "Ada Lovelace <ada@example.test>"
    assert f["date"] == "2026-01-02T03:04:05+02:00"
    assert f["fingerprint"] == f"{added}:app/settings.py:github-pat:2"
    assert tok not in json.dumps(found) and tok not in err

    # from a subdirectory, or naming the repository: the same
    sub = repo.path / "sub"
    sub.mkdir()
    code, out, _ = repo.scan("--git", "--format=json", cwd=sub)
    assert code == 1 and json.loads(out) == found
    code, out, _ = repo.scan("--git", "--format=json", repo.path, cwd=repo.path.parent)
    assert code == 1 and json.loads(out) == found


def test_history_covers_every_ref_and_each_path(repo):
    main_tok, side_tok, tag_tok = gh_token(), gh_token(), gh_token()
    repo.write("a.txt", f"{main_tok}\n")
    first = repo.commit("a")
    # the same secret at a second path is a second finding
    repo.write("copy/a.txt", f"{main_tok}\n")
    second = repo.commit("copy")
    # only on an unmerged branch
    repo.git("checkout", "-q", "-b", "side")
    repo.write("side.txt", f"x = 1\ny = '{side_tok}'\n")
    side = repo.commit("side")
    # only on a tag over a commit that no branch holds
    repo.git("checkout", "-q", "--detach", "main")
    repo.write("tagged.txt", f"{tag_tok}\n")
    tagged = repo.commit("tagged")
    repo.git("tag", "v1")
    repo.git("checkout", "-q", "main")

    found, _ = repo.scan_json("--git", rc=1)
    got = sorted((f["file"], f["commit"]) for f in found)
    assert got == sorted([("a.txt", first), ("copy/a.txt", second), ("side.txt", side),
                          ("tagged.txt", tagged)])


def test_since_limits_the_history(repo):
    old, new = gh_token(), gh_token()
    repo.write("README", "x\n")
    base = repo.commit("base")
    repo.write("old.txt", f"{old}\n")
    c_old = repo.commit("old key")
    repo.write("README", "y\n")
    middle = repo.commit("middle")
    repo.write("new.txt", f"{new}\n")
    c_new = repo.commit("new key")

    found, _ = repo.scan_json("--git", f"--since={base}", rc=1)
    assert sorted((f["file"], f["commit"]) for f in found) == [("new.txt", c_new),
                                                               ("old.txt", c_old)]
    found, _ = repo.scan_json("--git", f"--since={middle}", rc=1)
    assert [(f["file"], f["commit"]) for f in found] == [("new.txt", c_new)]
    code, out, err = repo.scan("--git", "--since=HEAD", "--format=json")
    assert code == 0, (out, err)
    assert json.loads(out) == []

    code, out, err = repo.scan("--git", "--since=no-such-rev")
    assert code == 2
    assert err.strip().splitlines() == [
        'coffer: scan: --since: unknown revision "no-such-rev"']
    code, _, err = repo.scan("--since=HEAD")
    assert code == 2 and "--since needs --git" in err


def test_staged_scans_only_what_is_staged(repo):
    committed, staged, unstaged, staged_then_removed = (gh_token() for _ in range(4))
    repo.write("old.py", f"K = '{committed}'\n")
    repo.write("clean.py", "x = 1\n")
    repo.commit("first")

    # nothing staged: nothing to report, even with a key in history
    code, out, err = repo.scan("--staged", "--format=json")
    assert code == 0 and json.loads(out) == [], err

    repo.write("new.py", f"import os\nK = '{staged}'\n")
    repo.git("add", "new.py")
    # an edit that is not staged
    repo.write("clean.py", f"x = 1\nK = '{unstaged}'\n")
    # staged with a key, then the key removed from the working file only
    repo.write("later.py", f"K = '{staged_then_removed}'\n")
    repo.git("add", "later.py")
    repo.write("later.py", "K = None\n")
    # old.py is committed with its key and unchanged

    found, _ = repo.scan_json("--staged", rc=1)
    assert keyed(found) == [("later.py", 1, "github-pat"), ("new.py", 2, "github-pat")]
    assert all("commit" not in f for f in found)
    # a tree scan sees the working files instead
    found, _ = repo.scan_json(".", rc=1)
    assert sorted(f["file"] for f in found) == ["clean.py", "new.py", "old.py"]


def test_staged_before_the_first_commit_and_in_a_subdirectory(repo):
    tok = gh_token()
    repo.write("deep/dir/k.env.example", f"TOKEN={tok}\n")
    repo.git("add", "-A")
    found, _ = repo.scan_json("--staged", rc=1)
    assert [(f["file"], f["line"]) for f in found] == [("deep/dir/k.env.example", 1)]
    code, out, _ = repo.scan("--staged", "--format=json", cwd=repo.path / "deep")
    assert code == 1 and [f["file"] for f in json.loads(out)] == ["deep/dir/k.env.example"]


def test_not_a_repository(tmp_path):
    d = tmp_path / "plain"
    d.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    for mode in ("--git", "--staged"):
        p = subprocess.run([str(coffer_bin()), "scan", mode, str(d)], capture_output=True,
                           text=True, env=env, timeout=60)
        assert p.returncode == 2
        assert p.stderr.strip().splitlines() == [
            f"coffer: scan: {d} is not in a git repository"]


# ---- .coffer-scan.toml ----


def test_malformed_config_names_the_line(repo):
    repo.write("a.py", "x = 1\n")
    repo.write(".coffer-scan.toml", "# config\ndisabled_rules = [\"github-pat\"]\n"
               "[allowlist\npaths = []\n")
    code, out, err = repo.scan(".")
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "coffer: scan: .coffer-scan.toml:3: expected ']' to close the table header"]

    repo.write("other.toml", "[[rules]]\nid = \"x\"\nregex = '('\nkeywords = ['x']\n")
    code, _, err = repo.scan(".", "--config=other.toml")
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coffer: scan: other.toml:3: regex: bad regex")

    code, _, err = repo.scan(".", "--config=missing.toml")
    assert code == 2 and err.startswith("coffer: scan: missing.toml: ")
    code, _, err = repo.scan(".", "--config=other.toml", "--git")
    assert code == 2 and "other.toml:3:" in err


def test_config_rules_and_allowlists(repo):
    tok, tok2 = gh_token(), gh_token()
    acme = "acme_live_" + "".join(_rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                                  for _ in range(24))
    repo.write("src/a.py", f"t = '{tok}'\nk = '{acme}'\n")
    repo.write("fixtures/b.py", f"t = '{tok}'\nk = '{acme}'\n")
    repo.write("src/c.py", f"other = '{tok2}'\n")

    # no config: the built-in rules only
    found, _ = repo.scan_json(".", rc=1)
    assert ("src/a.py", 1, "github-pat") in keyed(found)
    assert ("src/c.py", 1, "github-pat") in keyed(found)
    assert not [f for f in found if f["rule"] == "acme-key"]

    # an extra rule with its secret group
    repo.write(".coffer-scan.toml", """
[[rules]]
id = "acme-key"
description = "an ACME live key"
regex = '''\\b(acme_live_)([a-z0-9]{24})\\b'''
secret_group = 2
keywords = ["acme_live_"]
entropy = 2.5
""")
    found, _ = repo.scan_json(".", "--redact=0", rc=1)
    acmes = sorted((f["file"], f["line"], f["secret"]) for f in found if f["rule"] == "acme-key")
    assert acmes == [("fixtures/b.py", 2, acme[10:]), ("src/a.py", 2, acme[10:])]

    # a disabled rule
    repo.write(".coffer-scan.toml", 'disabled_rules = ["github-pat"]\n')
    found, _ = repo.scan_json(".")
    assert not [f for f in found if f["rule"] == "github-pat"]

    # allowlists: a path (global), a secret regex and a stopword (per rule)
    repo.write(".coffer-scan.toml", f"""
[allowlist]
paths = ['^fixtures/']

[[rules]]
id = "acme-key"
regex = 'acme_live_[a-z0-9]{{24}}'
keywords = ["acme_live_"]
[rules.allowlist]
regexes = ['^{acme[:14]}']

[[rules]]
id = "github-pat"
[rules.allowlist]
stopwords = ["{tok2[10:16].upper()}"]
""")
    found, _ = repo.scan_json(".", rc=1)
    assert [(f["file"], f["line"], f["rule"]) for f in found if f["rule"] in
            ("github-pat", "acme-key")] == [("src/a.py", 1, "github-pat")]
    # the same allowlists apply to history
    repo.commit("all")
    found, _ = repo.scan_json("--git", rc=1)
    assert [(f["file"], f["line"], f["rule"]) for f in found if f["rule"] in
            ("github-pat", "acme-key")] == [("src/a.py", 1, "github-pat")]


# ---- the pre-commit hook ----


def test_install_hook_blocks_a_secret_and_passes_a_clean_commit(repo):
    repo.write("README", "hi\n")
    base = repo.commit("start")
    code, out, err = repo.scan("--install-hook")
    assert code == 0, err
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    assert out.strip() == f"pre-commit hook installed: {hook}"
    assert os.access(hook, os.X_OK)
    text = hook.read_text()
    assert str(Path(coffer_bin()).resolve()) in text and "scan --staged" in text

    repo.write("deploy.sh", f"curl -H 'Authorization: token {gh_token()}' x\n")
    repo.git("add", "deploy.sh")
    p = repo.git("commit", "-q", "-m", "leak", check=False)
    assert p.returncode != 0
    assert "github-pat" in p.stdout + p.stderr
    assert repo.head() == base

    repo.git("rm", "-q", "--cached", "deploy.sh")
    repo.write("app.py", "print('hi')\n")
    repo.git("add", "app.py")
    p = repo.git("commit", "-q", "-m", "clean", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert repo.head() != base

    # `git commit -a` and `git commit FILE` commit through a temporary index
    # (GIT_INDEX_FILE): the hook scans that one
    repo.write("app.py", f"print('hi')\nTOKEN = '{gh_token()}'\n")
    clean = repo.head()
    for args in (["-a"], ["app.py"]):
        p = repo.git("commit", "-q", "-m", "leak again", *args, check=False)
        assert p.returncode != 0, args
        assert "app.py" in p.stdout + p.stderr
        assert repo.head() == clean
    repo.write("app.py", "print('bye')\n")
    p = repo.git("commit", "-q", "-a", "-m", "clean again", check=False)
    assert p.returncode == 0, p.stdout + p.stderr

    # one hook for both commands: each sees the other's as its own
    code, out, _ = repo.scan("--install-hook")
    assert code == 0 and "already installed" in out
    p = subprocess.run([str(coffer_bin()), "env", "guard", "--install-hook"], cwd=repo.path,
                       env=repo.env, capture_output=True, text=True, timeout=60)
    assert "already installed" in p.stdout, p.stdout + p.stderr
    assert hook.read_text() == text


def test_install_hook_keeps_a_foreign_hook_unless_forced(repo):
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    code, _, err = repo.scan("--install-hook")
    assert code == 2
    assert err.strip().splitlines() == [
        f"coffer: scan: {hook} exists and is not this hook (--force replaces it)"]
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    code, _, err = repo.scan("--install-hook", "--force")
    assert code == 0, err
    assert "scan --staged" in hook.read_text()


def test_shallow_clone_is_one_clear_error(repo, tmp_path):
    repo.write("a.txt", "1\n")
    repo.commit("one")
    repo.write("a.txt", "2\n")
    repo.commit("two")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)],
                   env=repo.env, check=True, capture_output=True, timeout=60)
    code, _, err = repo.scan("--git", cwd=clone)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "shallow clone" in lines[0] and "--unshallow" in lines[0]
    # the index of a shallow clone is scanned as usual
    code, out, err = repo.scan("--staged", cwd=clone)
    assert code == 0, err
