"""`-h`/`--help` of `coffer env *` and `coffer run` lists only the options the
command takes: the offline .env tools no server options (and no table|json
--format), `coffer run` --address/--token but no --format; a server command keeps
them all. The offline tools refuse server options with a one-line usage error."""
import subprocess

import pytest

from cofferlib import coffer_bin

OFFLINE = ["parse", "check", "guard", "encrypt", "decrypt", "get", "set", "keypair"]


def run(*args, cwd=None):
    return subprocess.run([str(coffer_bin()), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=30)


def help_of(*cmd):
    outs = []
    for flag in ("-h", "--help"):
        r = run(*cmd, flag)
        assert r.returncode == 0, (cmd, flag, r.stderr)
        assert r.stdout.startswith(f"Usage: coffer {' '.join(cmd)}"), r.stdout
        assert "-h, --help" in r.stdout
        outs.append(r.stdout)
    assert outs[0] == outs[1], "-h and --help differ"
    return outs[0]


@pytest.mark.parametrize("sub", OFFLINE)
def test_offline_env_help_names_no_server_options(sub):
    out = help_of("env", sub)
    assert "--address" not in out and "--token" not in out
    assert "table|json" not in out


@pytest.mark.parametrize("sub", OFFLINE)
def test_offline_env_refuses_server_options(sub, tmp_path):
    for opt in ("--address=http://127.0.0.1:1", "--token=t"):
        r = run("env", sub, opt, cwd=tmp_path)
        assert r.returncode == 2, (sub, opt, r.stdout, r.stderr)
        first = r.stderr.splitlines()[0]
        assert first == f"coffer: env {sub}: unknown option {opt}", r.stderr
    assert list(tmp_path.iterdir()) == []


def test_own_format_replaces_the_common_one():
    # the command's own --format values are in its usage, the common one is not
    assert "--format=json|dotenv|shell" in help_of("env", "parse")
    assert "--format=text|json" in help_of("env", "check")
    assert "--format=json|shell" in help_of("env", "get")


def test_run_help_lists_server_options_but_no_format():
    out = help_of("run")
    assert "--address=URL" in out and "--token=TOKEN" in out
    assert "table|json" not in out
    r = run("run", "--format=json", "--", "true")
    assert r.returncode == 2 and "unknown option --format=json" in r.stderr


def test_server_command_keeps_all_common_options():
    out = help_of("kv", "get")
    for opt in ("--address=URL", "--token=TOKEN", "--format=table|json"):
        assert opt in out
