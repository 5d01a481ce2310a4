"""`coffer env check` (docs/env.md): variables against a JSON schema, or against an
example file as dotenv-safe checks them, through the real binary.

Each run gets a clean environment (PATH only, plus what the test sets), so the
machine's own variables never meet a schema's names."""

import json
import os
import subprocess

import pytest

from cofferlib import coffer_bin


def run(cwd, *args, env=None):
    binary = coffer_bin()
    if not binary.exists():
        pytest.fail(f"coffer binary not found at {binary} (set COFFER_BIN)")
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    full_env.update(env or {})
    return subprocess.run(
        [str(binary), "env", "check", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=30,
    )


def write_schema(path, props, required=None):
    doc = {"properties": props}
    if required is not None:
        doc["required"] = required
    path.write_text(json.dumps(doc))
    return path


def failures(res):
    assert res.returncode in (0, 1), f"exit {res.returncode}: {res.stderr}"
    doc = json.loads(res.stdout)
    assert doc["valid"] == (res.returncode == 0)
    return [(f["variable"], f["rule"]) for f in doc["failures"]]


# One variable V: its rules, its value (None: not set), the rule that must fail
# (None: the check passes).
RULES = [
    ({"type": "integer"}, "8080", None),
    ({"type": "integer"}, "-3", None),
    ({"type": "integer"}, "3.0", "type"),
    ({"type": "integer"}, "", "type"),
    ({"type": "integer"}, "12abc", "type"),
    ({"type": "integer"}, "99999999999999999999", "type"),
    ({"type": "number"}, "2.5e3", None),
    ({"type": "number"}, ".5", None),
    ({"type": "number"}, "NaN", "type"),
    ({"type": "number"}, "1e999", "type"),
    ({"type": "boolean"}, "TRUE", None),
    ({"type": "boolean"}, "off", None),
    ({"type": "boolean"}, "0", None),
    ({"type": "boolean"}, "enabled", "type"),
    ({"type": "url"}, "postgres://app:pw@db.internal:5432/app", None),
    ({"type": "url"}, "db.internal:5432", "type"),
    ({"type": "string", "format": "url"}, "https://x.example/", None),
    ({"type": "string", "format": "url"}, "not a url", "format"),
    ({"format": "uri"}, "mailto:ops@example.com", None),
    ({"format": "uri"}, "/relative", "format"),
    ({"type": "email"}, "ops@example.com", None),
    ({"type": "email"}, "ops@", "type"),
    ({"format": "email"}, "ops.example.com", "format"),
    ({"enum": ["debug", "info", "warn"]}, "warn", None),
    ({"enum": ["debug", "info", "warn"]}, "trace", "enum"),
    ({"type": "enum", "enum": ["a", "b"]}, "a", None),
    ({"type": "integer", "enum": [1, 2]}, "02", None),
    ({"minLength": 4}, "abcd", None),
    ({"minLength": 4}, "abc", "minLength"),
    ({"maxLength": 4}, "h\u00e9llo", "maxLength"),
    ({"maxLength": 5}, "h\u00e9llo", None),
    ({"pattern": "^sk_(live|test)_"}, "sk_live_abc", None),
    ({"pattern": "^sk_(live|test)_"}, "pk_live_abc", "pattern"),
    ({"pattern": "[0-9]"}, "abc1", None),
    ({"type": "integer", "minimum": 1, "maximum": 65535}, "443", None),
    ({"type": "integer", "minimum": 1, "maximum": 65535}, "0", "minimum"),
    ({"type": "integer", "minimum": 1, "maximum": 65535}, "70000", "maximum"),
    ({"type": "number", "maximum": 0.5}, "0.75", "maximum"),
    ({"secret": True}, "s3cr3t", None),
    ({"secret": True}, "", "secret"),
    ({"type": "integer", "secret": True}, None, None),
    ({"description": "free text"}, "", None),
]


@pytest.mark.parametrize("prop,value,rule", RULES, ids=[f"{i}" for i in range(len(RULES))])
def test_rule_table(tmp_path, prop, value, rule):
    schema = write_schema(tmp_path / "schema.json", {"V": prop})
    env = {} if value is None else {"V": value}
    res = run(tmp_path, "--schema", schema, "--format=json", env=env)
    if rule is None:
        assert res.returncode == 0, res.stdout
        assert failures(res) == []
    else:
        assert res.returncode == 1, res.stdout
        assert failures(res) == [("V", rule)]


def test_text_messages_name_variable_and_rule(tmp_path):
    schema = write_schema(
        tmp_path / "schema.json",
        {"DB_PORT": {"type": "integer"}, "DB_URL": {"type": "url"}},
        required=["DB_PORT", "DB_URL"],
    )
    (tmp_path / ".env").write_text("DB_PORT=fivethousand\n")
    res = run(tmp_path, "--schema=schema.json")
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert "DB_PORT: must be an integer (type)" in lines
    assert "DB_URL: is required but not set (required)" in lines
    assert "fivethousand" not in res.stdout + res.stderr
    assert res.stderr == ""


def test_secret_value_never_printed(tmp_path):
    secret = "sk_live_TOPSECRET_4f9a8b7c6d5e"
    schema = write_schema(
        tmp_path / "schema.json",
        {
            "API_KEY": {
                "secret": True,
                "type": "integer",
                "format": "email",
                "minLength": 100,
                "maxLength": 3,
                "pattern": "^nope$",
                "enum": ["x", "y"],
            },
            "DB_URL": {"secret": True, "type": "url", "pattern": "^mysql:"},
        },
        required=["API_KEY"],
    )
    (tmp_path / ".env").write_text(f"API_KEY={secret}\nDB_URL=postgres://u:{secret}@h/db\n")
    for fmt in ("text", "json"):
        res = run(tmp_path, "--schema", schema, f"--format={fmt}")
        assert res.returncode == 1
        assert "TOPSECRET" not in res.stdout
        assert "TOPSECRET" not in res.stderr
    rules = failures(run(tmp_path, "--schema", schema, "--format=json"))
    assert {r for v, r in rules if v == "API_KEY"} == {
        "type", "format", "minLength", "maxLength", "pattern", "enum",
    }
    assert {r for v, r in rules if v == "DB_URL"} == {"pattern"}


def test_defaults_fill_missing_and_are_checked(tmp_path):
    schema = write_schema(
        tmp_path / "schema.json",
        {
            "PORT": {"type": "integer", "default": 8080},
            "LOG_LEVEL": {"enum": ["info", "debug"], "default": "info"},
            "WORKERS": {"type": "integer", "minimum": 1, "default": 0},
            "SET": {"default": "unused", "minLength": 1},
        },
        required=["PORT", "LOG_LEVEL"],
    )
    (tmp_path / ".env").write_text("SET=\n")
    res = run(tmp_path, "--schema", schema, "--format=json")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["defaults"] == ["PORT", "LOG_LEVEL", "WORKERS"]
    # the default of WORKERS breaks its own minimum; SET is set (empty), so it
    # keeps "" and fails minLength
    assert [(f["variable"], f["rule"]) for f in doc["failures"]] == [
        ("WORKERS", "minimum"),
        ("SET", "minLength"),
    ]
    text = run(tmp_path, "--schema", schema)
    assert "PORT: not set, default used" in text.stdout


def test_files_then_process_environment(tmp_path):
    schema = write_schema(tmp_path / "schema.json", {"A": {"enum": ["one"]}, "B": {"enum": ["two"]}})
    (tmp_path / "first.env").write_text("A=one\nB=wrong\n")
    (tmp_path / "second.env").write_text("A=wrong\nB=two\n")
    # the first file that sets a key wins (dotenv's config() with several paths)
    res = run(tmp_path, "-f", "first.env", "-f", "second.env", "--schema", schema, "--format=json")
    assert failures(res) == [("B", "enum")]
    # the process environment wins over every file (dotenv never overrides it)
    res = run(tmp_path, "-f", "first.env", "--schema", schema, "--format=json", env={"B": "two"})
    assert res.returncode == 0
    # --no-env: the files only
    res = run(tmp_path, "-f", "first.env", "--schema", schema, "--format=json", "--no-env",
              env={"B": "two"})
    assert failures(res) == [("B", "enum")]


def test_default_env_file_is_optional(tmp_path):
    schema = write_schema(tmp_path / "schema.json", {"X": {"type": "integer"}}, required=["X"])
    res = run(tmp_path, "--schema", schema, env={"X": "5"})
    assert res.returncode == 0, res.stdout + res.stderr
    res = run(tmp_path, "--schema", schema)
    assert res.returncode == 1
    (tmp_path / ".env").write_text("X=6\n")
    assert run(tmp_path, "--schema", schema).returncode == 0


def test_example_every_key_present_and_non_empty(tmp_path):
    (tmp_path / ".env.example").write_text("DB_URL=\nAPI_KEY=\nLOG_LEVEL=info\n")
    (tmp_path / ".env").write_text("DB_URL=postgres://db/app\nAPI_KEY=\nEXTRA=1\n")
    res = run(tmp_path, "--example=.env.example", "--format=json")
    assert res.returncode == 1
    assert failures(res) == [("API_KEY", "example"), ("LOG_LEVEL", "example")]
    text = run(tmp_path, "--example", ".env.example")
    assert "API_KEY: is in the example file but empty (example)" in text.stdout
    assert "LOG_LEVEL: is in the example file but not set (example)" in text.stdout
    # dotenv-safe reads process.env after loading: the environment completes it
    res = run(tmp_path, "--example", ".env.example", env={"API_KEY": "k", "LOG_LEVEL": "warn"})
    assert res.returncode == 0, res.stdout
    res = run(tmp_path, "--example", ".env.example", "--no-env",
              env={"API_KEY": "k", "LOG_LEVEL": "warn"})
    assert res.returncode == 1


def test_malformed_schema_is_error_with_position(tmp_path):
    bad = tmp_path / "schema.json"
    bad.write_text('{\n  "properties": {\n    "A": {"type": "integer",}\n  }\n}\n')
    res = run(tmp_path, "--schema", bad)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("coffer: env check: ")
    assert "line 3" in lines[0] and "column" in lines[0]


@pytest.mark.parametrize(
    "doc,word",
    [
        ({"properties": {"A": {"minLenght": 3}}}, 'unknown keyword "minLenght"'),
        ({"propertys": {}}, 'unknown keyword "propertys"'),
        ({"properties": {"A": {"type": "int"}}}, 'unknown type "int"'),
        ({"properties": {"A": {"pattern": "(unclosed"}}}, "pattern"),
        ({"properties": {"A": {"minimum": 3}}}, "integer or number"),
    ],
)
def test_bad_schema_is_error(tmp_path, doc, word):
    (tmp_path / "schema.json").write_text(json.dumps(doc))
    res = run(tmp_path, "--schema=schema.json", env={"A": "x"})
    assert res.returncode == 2
    assert word in res.stderr
    assert len(res.stderr.splitlines()) == 1


def test_usage_and_io_errors(tmp_path):
    write_schema(tmp_path / "schema.json", {"A": {}})
    for args in (
        [],                                         # neither --schema nor --example
        ["--schema=missing.json"],                  # no such schema
        ["--schema=schema.json", "-f", "nope.env"],  # an -f file that is missing
        ["--example=missing.example"],
        ["--schema=schema.json", "--format=yaml"],
        ["--schema=schema.json", "stray"],
    ):
        res = run(tmp_path, *args)
        assert res.returncode == 2, args
        assert res.stderr.startswith("coffer: env check: "), args


def test_binary_env_file_is_error(tmp_path):
    write_schema(tmp_path / "schema.json", {"A": {}})
    garbage = tmp_path / "garbage.env"
    garbage.write_bytes(b"A=1\n\x00\xff\xfe binary\n")
    before = garbage.read_bytes()
    res = run(tmp_path, "--schema=schema.json", "-f", garbage)
    assert res.returncode == 2
    assert len(res.stderr.splitlines()) == 1
    assert garbage.read_bytes() == before


@pytest.mark.parametrize("kind", ["huge", "invalid-utf8", "huge-schema", "binary-schema"])
def test_bad_input_is_one_line_error(tmp_path, kind):
    write_schema(tmp_path / "schema.json", {"A": {}})
    args = ["--schema=schema.json", "-f", "in.env"]
    target = tmp_path / "in.env"
    target.write_text("A=1\n")
    if kind == "huge":
        with open(target, "ab") as f:
            f.truncate(100 * 1024 * 1024)  # 100 MB (sparse)
    elif kind == "invalid-utf8":
        target.write_bytes(b"A=caf\xe9\n")
    elif kind == "huge-schema":
        target = tmp_path / "schema.json"
        with open(target, "ab") as f:
            f.truncate(100 * 1024 * 1024)
    else:
        target = tmp_path / "schema.json"
        target.write_bytes(b"\x7fELF\x02\x01\x01\x00" * 64)
    size = target.stat().st_size
    res = run(tmp_path, *args)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coffer: env check: ")
    assert target.name in lines[0]
    assert target.stat().st_size == size
