"""The scanner's accuracy on a generated corpus: recall and precision of
`coffer scan --format=json` against the labels of tests/corpus/gen_corpus.py.

The generator (fixed seed) writes 2,000+ files in 25+ languages and formats with
synthetic secrets of every kind of docs/scanner.md planted in source literals,
config values and multi-line or escaped forms, beside many hard negatives
(placeholders, references, encrypted values, public keys, hashes and ids,
documentation samples, tokens with a wrong checksum, allow-marked lines). Each
planted item has a label: file, line (and the range of lines a finding may use),
kind, positive or not.

Matching a finding to a label (one finding per secret occurrence):
  - same file, the finding's line inside the label's line range, and the
    finding's rule in the label kind's family (FAMILIES below: a regex on the
    rule id; a generic name = value rule, GENERIC_RULE, is accepted for every
    kind, since every planted token sits in an assignment a generic rule may
    legitimately claim);
  - each positive label takes at most one finding: a second finding on the
    same secret is a duplicate and counts against precision;
  - a finding on an optional label (a Twilio account SID beside its token, which
    the format allows to be reported) counts neither way;
  - any other finding is a false positive (the hard-negative label on its line,
    if any, is printed with it).
recall = matched positive labels / positive labels
precision = matched findings / counted findings (all findings minus those on
optional labels). Both must be >= 0.95. The figures, the per-kind recall, the
misses and the false positives (redacted) are printed; run pytest with -s to see
them when the test passes.
"""

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cofferlib import coffer_bin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "corpus"))
import gen_corpus  # noqa: E402

THRESHOLD = 0.95

GENERIC_RULE = re.compile(r"generic|password|secret-assign|assignment|dotenv|credential", re.I)

# label kind -> the rule ids that may claim it (regex searched in the rule id)
FAMILIES = {
    "aws_key_id": r"aws",
    "aws_secret": r"aws",
    "github": r"github|^gh",
    "github_fine": r"github|^gh",
    "gitlab": r"gitlab|^gl",
    "slack_token": r"slack",
    "slack_webhook": r"slack",
    "stripe": r"stripe",
    "google_api": r"google|gcp|firebase",
    "gcp_sa": r"gcp|google|service-?account|private-key|pem",
    "azure_ad": r"azure|entra",
    "azure_storage": r"azure",
    "twilio": r"twilio",
    "sendgrid": r"sendgrid",
    "npm": r"npm",
    "pypi": r"pypi",
    "openai": r"openai",
    "anthropic": r"anthropic",
    "huggingface": r"hugging|^hf",
    "vault": r"vault|hashicorp|terraform|atlas",
    "digitalocean": r"digitalocean|^do-",
    "shopify": r"shopify",
    "age": r"(^|-)age(-|$)",
    "telegram": r"telegram",
    "jwt": r"jwt",
    "private_key": r"private-key|pem|pgp|putty|openssh|ssh|rsa|(^|-)ec-|dsa|pkcs",  # coffer:allow (rule-id regexes)
    "db_url": r"db|database|postgres|mysql|mongo|redis|amqp|jdbc|mssql|sqlserver|ado|url|uri|connection",
    "basic_auth": r"basic|url|uri|auth|git|docker|credential|http|netrc",  # coffer:allow
    "k8s_secret": r"k8s|kube|kubernetes",  # coffer:allow
    "generic": r"generic|password|secret|token|key|assign",
    "twilio_sid": r"twilio",
}

MASK = re.compile(r"[A-Za-z0-9+/_\-.~]{12,}")


def redact(text):
    """Long token-like runs cut to their first 4 characters."""
    return MASK.sub(lambda m: m.group(0)[:4] + "…", text)[:160]


def family_ok(kind, rule):
    return bool(GENERIC_RULE.search(rule)) or bool(re.search(FAMILIES[kind], rule, re.I))


def match(findings, labels):
    """Returns the counters and lists described in the module docstring."""
    by_file = collections.defaultdict(list)
    for lab in labels:
        by_file[lab["file"]].append(lab)
    taken = set()  # ids of positive labels already matched
    matched, dupes, fps, optional_hits = [], [], [], []
    for f in findings:
        cands = [lab for lab in by_file.get(f["file"], []) if lab["lines"][0] <= f["line"] <= lab["lines"][1]]
        pos = [lab for lab in cands if lab["positive"] and family_ok(lab["kind"], f["rule"])]
        free = [lab for lab in pos if id(lab) not in taken]
        if free:
            # prefer the label whose preferred line is the finding's
            free.sort(key=lambda lab: abs(lab["line"] - f["line"]))
            taken.add(id(free[0]))
            matched.append((f, free[0]))
        elif pos:
            dupes.append((f, pos[0]))
        elif any(lab.get("optional") and family_ok(lab["kind"], f["rule"]) for lab in cands):
            optional_hits.append(f)
        else:
            fps.append((f, cands[0] if cands else None))
    positives = [lab for lab in labels if lab["positive"]]
    misses = [lab for lab in positives if id(lab) not in taken]
    return positives, matched, dupes, fps, optional_hits, misses


def line_of(root, lab):
    try:
        with open(root / lab["file"], encoding="utf-8", errors="replace") as fh:
            for i, text in enumerate(fh, 1):
                if i == lab["line"]:
                    return text.rstrip("\n")
    except OSError:
        pass
    return ""


def report(root, positives, matched, dupes, fps, optional_hits, misses, nfindings):
    recall = len(matched) / max(1, len(positives))
    counted = nfindings - len(optional_hits)
    precision = len(matched) / max(1, counted)
    print(f"\ncorpus: {len(positives)} planted secrets, {nfindings} findings "
          f"({len(matched)} matched, {len(dupes)} duplicates, {len(fps)} false positives, "
          f"{len(optional_hits)} on optional companion lines)")
    print(f"corpus: recall {recall:.4f}  precision {precision:.4f}  (both must be >= {THRESHOLD})")
    per_kind = collections.Counter(lab["kind"] for lab in positives)
    hit_kind = collections.Counter(lab["kind"] for _, lab in matched)
    print("recall per kind: " + "  ".join(f"{k} {hit_kind[k]}/{n}" for k, n in sorted(per_kind.items())))
    rules = collections.defaultdict(collections.Counter)
    for f, lab in matched:
        rules[lab["kind"]][f["rule"]] += 1
    print("rules per kind: " + "  ".join(f"{k}: {','.join(sorted(v))}" for k, v in sorted(rules.items())))
    miss_kind = collections.defaultdict(list)
    for lab in misses:
        miss_kind[lab["kind"]].append(lab)
    for kind, labs in sorted(miss_kind.items(), key=lambda kv: -len(kv[1])):
        ctx = collections.Counter(lab["context"] for lab in labs)
        print(f"MISSED {kind}: {len(labs)} (contexts {dict(ctx)})")
        for lab in labs[:4]:
            print(f"    {lab['file']}:{lab['line']} [{lab['context']}] {redact(line_of(root, lab))}")
    fp_kind = collections.defaultdict(list)
    for f, lab in fps:
        fp_kind[(f["rule"], lab["kind"] if lab else "unlabelled")].append(f)
    for (rule, what), fs in sorted(fp_kind.items(), key=lambda kv: -len(kv[1])):
        print(f"FALSE POSITIVE {rule} on {what}: {len(fs)}")
        for f in fs[:4]:
            print(f"    {f['file']}:{f['line']} secret {f.get('secret', '')!s:.12} | "
                  f"{redact(line_of(root, {'file': f['file'], 'line': f['line']}))}")
    dup_rule = collections.Counter((f["rule"], lab["kind"]) for f, lab in dupes)
    for (rule, kind), n in dup_rule.most_common():
        print(f"DUPLICATE {rule} on an already matched {kind}: {n}")
    return recall, precision


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("corpus")
    root, labels_path = base / "tree", base / "labels.jsonl"
    c = gen_corpus.Corpus()
    c.generate(nfiles=2200)
    c.write(str(root), str(labels_path))
    labels = [json.loads(x) for x in labels_path.read_text().splitlines()]
    return root, labels


def test_corpus_is_what_the_acceptance_asks(corpus):
    """The generator keeps its promises: 2,000+ files, 15+ formats, every
    kind in three or more contexts, many hard negatives, deterministic."""
    root, labels = corpus
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) >= 2000
    formats = {lab["context"] for lab in labels} | {p.suffix for p in files}
    assert len({lab["context"] for lab in labels}) >= 15, formats
    kinds = collections.defaultdict(set)
    for lab in labels:
        if lab["positive"]:
            kinds[lab["kind"]].add(lab["context"])
    for k in gen_corpus.POS_KINDS:
        assert k in kinds, k
    thin = {k: v for k, v in kinds.items() if len(v) < 3 and k not in ("gcp_sa", "k8s_secret")}
    assert not thin, thin
    negatives = [lab for lab in labels if not lab["positive"]]
    assert len(negatives) >= 1500
    # deterministic: a second run with the same seed gives the same labels
    again = gen_corpus.Corpus()
    again.generate(nfiles=2200)
    first = [(f.path, lab["line"], lab["kind"]) for f in again.files for lab in f.labels]
    assert first == [(lab["file"], lab["line"], lab["kind"]) for lab in labels]


def test_github_and_npm_checksums_are_right():
    """The planted GitHub/npm tokens carry a correct CRC32-base62 checksum,
    the look-alikes a wrong one (the check the detector relies on)."""
    import random

    sh = gen_corpus.Shapes(random.Random(1))
    for _ in range(200):
        good, bad = sh.gh_body(), sh.gh_body(good=False)
        assert gen_corpus.Shapes.crc_b62(good[:30]) == good[30:]
        assert gen_corpus.Shapes.crc_b62(bad[:30]) != bad[30:]


def test_scan_recall_and_precision(corpus):
    root, labels = corpus
    r = subprocess.run([coffer_bin(), "scan", "--format=json", "--no-progress", "."], cwd=root,
                       capture_output=True, timeout=600)
    err = r.stderr.decode(errors="replace")
    assert r.returncode in (0, 1), f"coffer scan exited {r.returncode}: {err[-2000:]}"
    findings = json.loads(r.stdout)
    assert isinstance(findings, list)
    for f in findings:
        for field in ("file", "line", "column", "rule", "secret", "fingerprint"):
            assert field in f, f"finding without {field}: {sorted(f)}"
        f["file"] = f["file"].removeprefix("./")
    positives, matched, dupes, fps, optional_hits, misses = match(findings, labels)
    recall, precision = report(root, positives, matched, dupes, fps, optional_hits, misses, len(findings))
    # no secret printed in full: the default output is redacted (a few characters, then …)
    for f in findings:
        assert len(f["secret"].replace("…", "")) <= 8, f"unredacted secret in the output: {f['file']}:{f['line']}"
    assert recall >= THRESHOLD and precision >= THRESHOLD, \
        f"recall {recall:.4f}, precision {precision:.4f} (need >= {THRESHOLD}; details printed above)"
