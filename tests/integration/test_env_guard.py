"""`coffer env guard` (docs/env.md): .env files that git tracks or does not ignore,
--fix, and the pre-commit hook, in temporary repositories made with the git CLI.

git and coffer run with HOME pointing into the test's directory and no system
config, so no global git configuration of the machine is read."""

import json
import os
import random
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from cofferlib import REPO_ROOT, coffer_bin

# A planted test key (AWS's documented example key id), as a leaked secret.
PLANTED = "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"


@pytest.fixture
def repo(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "repo"
    work.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "coffer test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "coffer test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }

    class Repo:
        path = work

        def git(self, *args, check=True):
            res = subprocess.run(["git", *args], cwd=work, env=env, capture_output=True,
                                 text=True, timeout=60)
            if check:
                assert res.returncode == 0, f"git {args}: {res.stderr}"
            return res

        def guard(self, *args, binary=None, cwd=None):
            binary = binary or coffer_bin()
            return subprocess.run([str(binary), "env", "guard", *[str(a) for a in args]],
                                  cwd=cwd or work, env=env, capture_output=True, text=True,
                                  timeout=60)

        def findings(self, *args):
            res = self.guard("--format=json", *args)
            assert res.returncode in (0, 1), res.stderr
            doc = json.loads(res.stdout)
            assert (res.returncode == 1) == bool(doc["findings"])
            return {f["file"]: f["status"] for f in doc["findings"]}

        def write(self, name, text):
            p = work / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            return p

        def head(self):
            res = self.git("rev-parse", "--verify", "-q", "HEAD", check=False)
            return res.stdout.strip()

        env_vars = env

    r = Repo()
    r.git("init", "-q", "-b", "main")
    r.write("README", "hello\n")
    r.git("add", "README")
    r.git("commit", "-q", "-m", "init")
    return r


def test_tracked_env_is_reported(repo):
    repo.write(".env", PLANTED)
    repo.git("add", ".env")
    repo.git("commit", "-q", "-m", "oops")
    assert repo.findings() == {".env": "tracked"}
    res = repo.guard()
    assert res.returncode == 1
    assert "git rm --cached -- .env" in res.stdout
    assert "AKIA" not in res.stdout + res.stderr


def test_staged_env_is_reported(repo):
    repo.write("config/.env.production", "X=1\n")
    repo.git("add", "config/.env.production")
    assert repo.findings() == {"config/.env.production": "tracked"}


def test_untracked_unignored_env_local_is_reported(repo):
    repo.write(".env.local", "X=1\n")
    repo.write("deep/er/.env", "X=1\n")
    repo.write("ignored/.env", "X=1\n")
    repo.write(".gitignore", "ignored/\n")
    assert repo.findings() == {".env.local": "unignored", "deep/er/.env": "unignored"}


def test_public_files_are_not_reported(repo):
    for name in (".env.example", ".env.sample", ".env.template", ".env.dist",
                 ".env.defaults", ".env.vault", ".env.schema.json", "sub/.env.example"):
        repo.write(name, "X=\n")
    repo.git("add", ".env.example", ".env.vault")
    repo.write(".envrc", "dotenv\n")      # direnv's file: not a .env file
    repo.write("app.env", "X=1\n")        # not named .env*
    assert repo.findings() == {}
    assert repo.guard().returncode == 0
    # .env.keys holds private keys: always reported
    repo.write(".env.keys", "DOTENV_PRIVATE_KEY=abc\n")
    assert repo.findings() == {".env.keys": "unignored"}


def test_fix_makes_the_check_pass_without_duplicates(repo):
    repo.write(".env.local", PLANTED)
    repo.write("svc/.env", "X=1\n")
    repo.write(".gitignore", "node_modules/")  # no final newline
    res = repo.guard()
    assert res.returncode == 1
    assert ".env.local" in res.stdout
    res = repo.guard("--fix")
    assert res.returncode == 0, res.stdout + res.stderr
    gi = (repo.path / ".gitignore").read_text()
    assert gi.startswith("node_modules/\n")
    assert sorted(gi.splitlines()) == [".env", ".env.local", "node_modules/"]
    assert repo.guard().returncode == 0
    # a second --fix adds nothing
    assert repo.guard("--fix").returncode == 0
    assert (repo.path / ".gitignore").read_text() == gi
    # git agrees: the files are ignored now
    assert repo.git("check-ignore", ".env.local", "svc/.env").returncode == 0


def test_fix_does_not_touch_the_index(repo):
    repo.write(".env", "X=1\n")
    repo.git("add", ".env")
    repo.git("commit", "-q", "-m", "oops")
    res = repo.guard("--fix")
    assert res.returncode == 1  # still tracked
    assert (repo.path / ".gitignore").read_text() == ".env\n"
    assert repo.git("ls-files", ".env").stdout.strip() == ".env"
    repo.git("rm", "-q", "--cached", ".env")
    assert repo.guard().returncode == 0
    assert (repo.path / ".env").exists()


def test_dotenvx_encrypted_file_is_allowed(repo):
    dotenvx = REPO_ROOT / "tests" / "integration" / "node" / "node_modules" / ".bin" / "dotenvx"
    if not dotenvx.exists():
        pytest.skip("npm test dependencies not installed (scripts/bootstrap)")
    repo.write(".env.production", "DB_PASSWORD=hunter2\nAPI_KEY=abc\n")
    res = subprocess.run([str(dotenvx), "encrypt", "-f", ".env.production"], cwd=repo.path,
                         env=repo.env_vars, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "encrypted:" in (repo.path / ".env.production").read_text()
    repo.git("add", ".env.production")
    # committed on purpose, as dotenvx recommends; its keys file is not
    assert repo.findings() == {".env.keys": "unignored"}
    # one plain value makes it a finding again, as staged
    with open(repo.path / ".env.production", "a") as f:
        f.write("PLAIN=visible\n")
    assert repo.findings() == {".env.keys": "unignored"}  # the index still has the old one
    repo.git("add", ".env.production")
    assert repo.findings() == {".env.keys": "unignored", ".env.production": "tracked"}


def test_not_a_repository_is_error(tmp_path, repo):
    plain = tmp_path / "plain"
    plain.mkdir()
    res = repo.guard(cwd=plain)
    assert res.returncode == 2
    assert res.stderr.startswith("coffer: env guard: ")
    assert len(res.stderr.splitlines()) == 1
    res = repo.guard(tmp_path / "no-such-dir")
    assert res.returncode == 2
    # an explicit path inside the repository works from anywhere
    repo.write("a/b/.env", "X=1\n")
    res = repo.guard(repo.path / "a", "--format=json", cwd=plain)
    assert res.returncode == 1
    assert [f["file"] for f in json.loads(res.stdout)["findings"]] == ["a/b/.env"]


def hook_path(repo):
    return repo.path / ".git" / "hooks" / "pre-commit"


def test_hook_blocks_a_staged_env_and_passes_other_commits(repo):
    res = repo.guard("--install-hook")
    assert res.returncode == 0, res.stderr
    hook = hook_path(repo)
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755
    assert str(coffer_bin().resolve()) in hook.read_text()

    repo.write(".env", PLANTED)
    repo.git("add", ".env")
    before = repo.head()
    res = repo.git("commit", "-q", "-m", "leak", check=False)
    assert res.returncode != 0
    assert repo.head() == before
    assert repo.git("ls-tree", "-r", "--name-only", "HEAD").stdout.split() == ["README"]

    repo.git("rm", "-q", "--cached", ".env")
    repo.guard("--fix")
    repo.write("app.py", "print('hi')\n")
    repo.git("add", "app.py", ".gitignore")
    res = repo.git("commit", "-q", "-m", "ok", check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert repo.head() != before
    assert repo.git("ls-tree", "-r", "--name-only", "HEAD").stdout.split() == [
        ".gitignore", "README", "app.py",
    ]


def test_hook_blocks_a_force_added_ignored_env(repo):
    assert repo.guard("--install-hook").returncode == 0
    repo.write(".gitignore", ".env*\n")
    repo.write("sub/.env.staging", PLANTED)
    repo.git("add", "-f", "sub/.env.staging")
    before = repo.head()
    res = repo.git("commit", "-q", "-m", "leak", check=False)
    assert res.returncode != 0
    assert repo.head() == before


def test_hook_is_kept_unless_forced(repo):
    hook = hook_path(repo)
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    res = repo.guard("--install-hook")
    assert res.returncode == 2
    assert "--force" in res.stderr
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert repo.guard("--install-hook", "--force").returncode == 0
    text = hook.read_text()
    assert "env guard" in text
    # installing again is a no-op
    res = repo.guard("--install-hook")
    assert res.returncode == 0
    assert "already installed" in res.stdout
    assert hook.read_text() == text


def test_hook_respects_core_hookspath(repo):
    repo.git("config", "core.hooksPath", "tools/hooks")
    assert repo.guard("--install-hook").returncode == 0
    assert (repo.path / "tools" / "hooks" / "pre-commit").exists()
    assert not hook_path(repo).exists()
    repo.write(".env", PLANTED)
    repo.git("add", ".env")
    before = repo.head()
    assert repo.git("commit", "-q", "-m", "leak", check=False).returncode != 0
    assert repo.head() == before


def hook_with_stand_in(repo, tmp_path, scan_body):
    """Installs the hook with a copy of the binary, then removes the copy, so
    the hook must find `coffer` on PATH: there a stand-in runs scan_body (sh)
    for `coffer scan ...` after logging its arguments, and the real binary for
    everything else. Returns the log file."""
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    copy = copy_dir / "coffer"
    shutil.copy2(coffer_bin(), copy)
    assert repo.guard("--install-hook", binary=copy).returncode == 0
    assert str(copy) in hook_path(repo).read_text()
    copy.unlink()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "scan.log"
    wrapper = bindir / "coffer"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = scan ]; then\n'
        f'  echo "$@" >> {log}\n'
        f"{scan_body}"
        "fi\n"
        f'exec {coffer_bin()} "$@"\n'
    )
    wrapper.chmod(0o755)
    repo.env_vars["PATH"] = f"{bindir}:{repo.env_vars['PATH']}"
    return log


def test_hook_falls_back_to_path_and_runs_the_scanner_when_present(repo, tmp_path):
    # The stand-in's `scan` refuses staged changes.
    log = hook_with_stand_in(repo, tmp_path, '  [ "$2" = --help ] && exit 0\n  exit 1\n')
    repo.write("app.py", "x = 1\n")
    repo.git("add", "app.py")
    before = repo.head()
    res = repo.git("commit", "-q", "-m", "scan says no", check=False)
    assert res.returncode != 0
    assert repo.head() == before
    assert log.read_text().splitlines() == ["scan --help", "scan --staged"]


def test_hook_skips_scan_when_coffer_has_none(repo, tmp_path):
    # A hook run by a coffer without `scan` (an older binary on PATH) must not
    # fail because of it: the stand-in answers `scan` as an unknown command.
    log = hook_with_stand_in(
        repo, tmp_path, "  echo \"coffer: unknown command 'scan'\" >&2\n  exit 2\n")
    repo.write("app.py", "x = 2\n")
    repo.git("add", "app.py")
    before = repo.head()
    assert repo.git("commit", "-q", "-m", "fine", check=False).returncode == 0
    assert repo.head() != before
    assert log.read_text().splitlines() == ["scan --help"]
    repo.write("app.py", "x = 1\n")
    repo.git("add", "app.py")
    assert repo.git("commit", "-q", "-m", "fine", check=False).returncode == 0


def test_hook_blocks_a_planted_key_in_an_ordinary_file(repo):
    # The hook `env guard --install-hook` writes also runs `coffer scan
    # --staged`: a synthetic access key id staged in app.py stops the commit.
    rnd = random.Random(14)
    key = "AK" + "IA" + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    assert repo.guard("--install-hook").returncode == 0
    repo.write("app.py", f'AWS_KEY = "{key}"\n')
    repo.git("add", "app.py")
    before = repo.head()
    res = repo.git("commit", "-q", "-m", "planted", check=False)
    assert res.returncode != 0
    assert repo.head() == before
    assert "aws-access-key-id" in res.stdout + res.stderr
    assert key not in res.stdout + res.stderr  # redacted
    repo.write("app.py", "AWS_KEY = os.environ['AWS_KEY']\n")
    repo.git("add", "app.py")
    assert repo.git("commit", "-q", "-m", "clean", check=False).returncode == 0
    assert repo.head() != before
