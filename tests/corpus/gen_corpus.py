#!/usr/bin/env python3
"""gen_corpus.py - a deterministic corpus for measuring `coffer scan`.

Writes a tree of source and configuration files in many languages and formats,
with SYNTHETIC secrets of every kind docs/scanner.md lists planted in realistic
contexts (string literals, config values, multi-line and escaped forms), beside
many hard negatives (placeholders, references, encrypted values, public keys and
certificates, hashes and ids, documentation samples, tokens with a wrong
checksum, lines carrying an allow marker). Every planted item is written to a
label file, one JSON object per line:

    {"file": "svc/a/config.py", "line": 12, "lines": [12, 12],
     "kind": "github", "positive": true, "context": "py"}

`line` is where a scanner should place the finding; `lines` is the range it may
use (a multi-line block may be reported at its assignment line or at its
`-----BEGIN` line; a service-account JSON object anywhere inside it).
`positive` is false for a hard negative (a finding there is a false positive);
`optional` is true for a companion line a scanner may report (a Twilio account
SID next to its auth token).

Nothing here is a real credential: every body is random bytes in the right shape
(GitHub and npm checksums computed), and the token prefixes are assembled at run
time so that this file carries no literal a secret scanner would flag.

usage: gen_corpus.py OUTDIR [--labels FILE] [--seed N] [--files N] [--mb N]
  --files N   at least N files (default 2200)
  --mb N      keep adding files until the tree holds N MiB (the benchmark trees);
              filler grows with it, planted items stay sparse
  --labels    label file (default OUTDIR.labels.jsonl, beside the tree)
Prints a summary (files, bytes, formats, positives per kind) on stdout.
Python 3 standard library only.
"""

import argparse
import base64
import json
import os
import random
import string
import sys
import uuid
import zlib

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
HEX = "0123456789abcdef"
B32 = string.ascii_uppercase + "234567"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def entropy(v):
    """Shannon entropy of v in bits per character."""
    import math
    n = len(v)
    return -sum(c / n * math.log2(c / n) for c in (v.count(x) for x in set(v)))


def j(*parts):
    """Joins pieces: every token prefix is assembled through here."""
    return "".join(parts)


# Prefixes, assembled so the source holds none of them whole.
P_GHP, P_GHO, P_GHU, P_GHS, P_GHR = (j("g", "h", c, "_") for c in "pousr")
P_GHFG = j("github", "_pat_")
P_GLPAT, P_GLDT, P_GLRT = j("gl", "pat-"), j("gl", "dt-"), j("gl", "rt-")
P_XOXB, P_XOXP = j("xo", "xb-"), j("xo", "xp-")
P_SLACKHOOK = j("https://hooks.", "slack.com/services/")
P_SKLIVE, P_SKTEST, P_RKLIVE = j("sk", "_live_"), j("sk", "_test_"), j("rk", "_live_")
P_PKLIVE, P_PKTEST = j("pk", "_live_"), j("pk", "_test_")
P_WHSEC = j("wh", "sec_")
P_AIZA = j("AI", "za")
P_AKIA, P_ASIA = j("AK", "IA"), j("AS", "IA")
P_SG = j("S", "G.")
P_NPM = j("np", "m_")
P_PYPI = j("py", "pi-", "AgEIcHlw", "aS5vcmc")
P_OPENAI_PROJ = j("sk", "-proj-")
OPENAI_MARK = j("T3Blbk", "FJ")
P_ANT = j("sk", "-ant-", "api03-")
P_HF = j("h", "f_")
P_HVS = j("hv", "s.")
P_DOP = j("do", "p_v1_")
P_SHPAT = j("sh", "pat_")
P_AGE = j("AGE-SECRET", "-KEY-1")
ATLAS = j(".atlas", "v1.")
DASH5 = "-" * 5


def pem_armor(which, label):
    return j(DASH5, which, " ", label, DASH5)


# ---------------------------------------------------------------- random shapes


class Shapes:
    """Random bodies in the exact shape of each token kind."""

    def __init__(self, rng):
        self.r = rng

    def s(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def mixed(self, n, alphabet=ALNUM):
        """n chars of alphabet with at least one upper, lower and digit."""
        while True:
            v = self.s(alphabet, n)
            if any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v):
                return v

    @staticmethod
    def crc_b62(body):
        n = zlib.crc32(body.encode()) & 0xFFFFFFFF
        out = ""
        while n:
            n, d = divmod(n, 62)
            out = B62[d] + out
        return out.rjust(6, "0")

    def gh_body(self, good=True):
        body = self.mixed(30, B62)
        crc = self.crc_b62(body)
        if not good:
            crc = crc[:-1] + B62[(B62.index(crc[-1]) + 1 + self.r.randrange(60)) % 62]
        return body + crc

    def password(self):
        words = ["Maple", "Orbit", "Quartz", "Falcon", "Ember", "Tundra", "Nimbus", "Cobalt",
                 "Saffron", "Vortex", "Juniper", "Granite", "Zephyr", "Walnut", "Lumen"]
        sym = "!#%&*+-_.?@"
        return j(self.r.choice(words), self.r.choice(sym), self.r.choice(words).lower(),
                 str(self.r.randrange(10, 9999)), self.r.choice(sym))

    def url_password(self):
        return self.mixed(self.r.randrange(14, 24), ALNUM + "-_.~")

    def generic(self):
        """A random value the generic rule must report under any secret name:
        16+ chars of mixed classes with entropy >= 3.5 bits/char, or 40+ hex."""
        while True:
            k = self.r.randrange(3)
            if k == 0:
                v = self.mixed(self.r.randrange(24, 41), ALNUM + "-_")
            elif k == 1:
                return self.s(HEX, self.r.choice([40, 48, 64]))
            else:
                v = self.mixed(self.r.randrange(20, 33), ALNUM + "+/=!#%")
            if entropy(v) >= 3.5 and not v.startswith("/"):
                return v

    def b64(self, nbytes):
        return base64.b64encode(self.r.randbytes(nbytes)).decode()

    def b64url(self, nbytes):
        return base64.urlsafe_b64encode(self.r.randbytes(nbytes)).decode().rstrip("=")

    def jwt(self):
        alg = self.r.choice(["HS256", "RS256", "ES256"])
        hdr = {"alg": alg, "typ": "JWT"}
        if alg != "HS256":
            hdr["kid"] = self.s(HEX, 16)
        now = self.r.randrange(1_700_000_000, 1_800_000_000)
        pay = {"sub": str(uuid.UUID(int=self.r.getrandbits(128))), "iss": self.r.choice(
            ["https://auth.internal.example", "api-gateway", "billing"]), "iat": now, "exp": now + 3600,
            "scope": self.r.choice(["read", "read write", "admin"])}
        enc = lambda o: base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).decode().rstrip("=")
        sig = self.b64url({"HS256": 32, "RS256": 256, "ES256": 64}[alg])
        return ".".join([enc(hdr), enc(pay), sig])


class Tokens:
    """value() for every positive kind (one of its variants, chosen at random)."""

    def __init__(self, rng):
        self.r = rng
        self.sh = Shapes(rng)

    def value(self, kind):
        s, r = self.sh, self.r
        if kind == "aws_key_id":
            return r.choice([P_AKIA, P_AKIA, P_ASIA]) + s.s(B32, 16)
        if kind == "aws_secret":
            return s.mixed(40, B64)
        if kind == "github":
            return r.choice([P_GHP, P_GHP, P_GHO, P_GHU, P_GHS, P_GHR]) + s.gh_body()
        if kind == "github_fine":
            return P_GHFG + s.mixed(22, B62) + "_" + s.mixed(59, B62)
        if kind == "gitlab":
            return r.choice([P_GLPAT, P_GLPAT, P_GLDT, P_GLRT]) + s.mixed(20, ALNUM + "_-")
        if kind == "slack_token":
            if r.random() < 0.5:
                return P_XOXB + s.s(string.digits, r.randrange(10, 14)) + "-" + \
                    s.s(string.digits, r.randrange(10, 14)) + "-" + s.mixed(24, B62)
            return P_XOXP + "-".join(s.s(string.digits, r.randrange(10, 14)) for _ in range(3)) + "-" + s.s(HEX, 32)
        if kind == "slack_webhook":
            return P_SLACKHOOK + "T" + s.s(string.ascii_uppercase + string.digits, r.randrange(8, 11)) + \
                "/B" + s.s(string.ascii_uppercase + string.digits, r.randrange(8, 11)) + "/" + s.mixed(24, B62)
        if kind == "stripe":
            k = r.randrange(4)
            if k == 3:
                return P_WHSEC + s.mixed(32, B62)
            pre = [P_SKLIVE, P_SKTEST, P_RKLIVE][k]
            return pre + (s.mixed(24, B62) if r.random() < 0.4 else "51" + s.mixed(97, B62))
        if kind == "google_api":
            return P_AIZA + "Sy" + s.mixed(33, ALNUM + "_-")
        if kind == "azure_ad":
            return s.s(ALNUM, 3) + s.s(string.digits, 1) + "Q~" + s.mixed(34, ALNUM + "_~.-")
        if kind == "sendgrid":
            return P_SG + s.mixed(22, B64URL) + "." + s.mixed(43, B64URL)
        if kind == "npm":
            return P_NPM + s.gh_body()
        if kind == "pypi":
            return P_PYPI + s.b64url(r.randrange(60, 140))
        if kind == "openai":
            if r.random() < 0.7:
                return P_OPENAI_PROJ + s.mixed(74, B64URL) + OPENAI_MARK + s.mixed(74, B64URL)
            return j("sk", "-") + s.mixed(20, ALNUM) + OPENAI_MARK + s.mixed(20, ALNUM)
        if kind == "anthropic":
            return P_ANT + s.mixed(93, B64URL) + "AA"
        if kind == "huggingface":
            return P_HF + s.s(string.ascii_letters, 34)
        if kind == "vault":
            if r.random() < 0.25:
                return s.mixed(14, ALNUM) + ATLAS + s.mixed(r.randrange(60, 71), ALNUM)
            return P_HVS + "CAES" + s.mixed(r.randrange(86, 110), B64URL)
        if kind == "digitalocean":
            return P_DOP + s.s(HEX, 64)
        if kind == "shopify":
            return P_SHPAT + s.s(HEX, 32)
        if kind == "age":
            return P_AGE + s.s(BECH32, 58)
        if kind == "telegram":
            return s.s("123456789", 1) + s.s(string.digits, r.randrange(7, 10)) + ":AA" + s.mixed(33, B64URL)
        if kind == "jwt":
            return s.jwt()
        if kind == "generic":
            return s.generic()
        raise KeyError(kind)


# names a kind is usually assigned to (words; cased per language)
NAMES = {
    "aws_key_id": [["aws", "access", "key", "id"], ["access", "key", "id"]],
    "aws_secret": [["aws", "secret", "access", "key"], ["secret", "access", "key"]],
    "github": [["github", "token"], ["gh", "token"], ["git", "hub", "pat"]],
    "github_fine": [["github", "token"], ["gh", "pat"]],
    "gitlab": [["gitlab", "token"], ["ci", "job", "token"]],
    "slack_token": [["slack", "bot", "token"], ["slack", "token"]],
    "slack_webhook": [["slack", "webhook", "url"], ["alert", "webhook"]],
    "stripe": [["stripe", "secret", "key"], ["stripe", "api", "key"]],
    "google_api": [["google", "api", "key"], ["maps", "api", "key"], ["firebase", "api", "key"]],
    "azure_ad": [["azure", "client", "secret"], ["client", "secret"]],
    "sendgrid": [["sendgrid", "api", "key"], ["mail", "api", "key"]],
    "npm": [["npm", "token"], ["npm", "auth", "token"]],
    "pypi": [["pypi", "token"], ["twine", "password"]],
    "openai": [["openai", "api", "key"], ["llm", "api", "key"]],
    "anthropic": [["anthropic", "api", "key"], ["claude", "api", "key"]],
    "huggingface": [["hf", "token"], ["hugging", "face", "hub", "token"]],
    "vault": [["vault", "token"], ["tfe", "token"]],
    "digitalocean": [["digitalocean", "token"], ["do", "api", "token"]],
    "shopify": [["shopify", "access", "token"], ["shopify", "admin", "token"]],
    "age": [["age", "secret", "key"], ["sops", "age", "key"]],
    "telegram": [["telegram", "bot", "token"], ["bot", "token"]],
    "jwt": [["auth", "token"], ["jwt"], ["access", "token"], ["bearer", "token"]],
    "generic": [["password"], ["db", "password"], ["admin", "passwd"], ["smtp", "pwd"], ["client", "secret"],
                ["app", "secret"], ["api", "key"], ["apikey"], ["auth", "token"], ["session", "secret"],
                ["jwt", "secret"], ["access", "key"], ["secret", "key"], ["credentials"], ["private", "key"],
                ["webhook", "secret"], ["signing", "secret"], ["refresh", "token"], ["redis", "password"]],
}
TOKEN_KINDS = [k for k in NAMES if k not in ("aws_secret",)]


def case(words, style):
    if style == "snake":
        return "_".join(words)
    if style == "upper":
        return "_".join(words).upper()
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if style == "pascal":
        return "".join(w.capitalize() for w in words)
    if style == "kebab":
        return "-".join(words)
    if style == "dot":
        return ".".join(words)
    raise KeyError(style)


# ---------------------------------------------------------------- formats

# Each format: paths (dir, file name), the naming style of its assignments, an
# assignment template per line ({n} name, {v} value), filler blocks, header/footer.
WORDS = ["user", "order", "cache", "item", "client", "request", "config", "batch", "queue", "report",
         "invoice", "session", "metric", "event", "record", "handler", "worker", "stream", "account",
         "payment", "profile", "search", "index", "upload", "export", "schedule", "notify", "audit"]
DIRS = ["services", "apps", "libs", "packages", "tools", "infra", "deploy", "internal", "cmd", "web",
        "api", "platform", "billing", "auth", "search", "data", "ops", "mobile", "gateway", "shared"]

FORMATS = {
    # name: (extensions/file names, assign styles, assignment templates)
    "py": ([".py"], ["upper", "snake"], ['{n} = "{v}"', "{n} = '{v}'", '    {n}="{v}",', 'CONFIG["{n}"] = "{v}"']),
    "js": ([".js", ".mjs"], ["camel", "upper"], ['const {n} = "{v}";', "  {n}: '{v}',", 'module.exports.{n} = `{v}`;']),
    "ts": ([".ts", ".tsx"], ["camel", "upper"], ['export const {n}: string = "{v}";', "  {n}: '{v}',", 'const {n} = "{v}" as const;']),
    "go": ([".go"], ["camel", "pascal"], ['\t{n} := "{v}"', 'const {n} = "{v}"', '\t{n}: "{v}",', 'var {n} = `{v}`']),
    "java": ([".java"], ["upper", "camel"], ['    private static final String {n} = "{v}";', '        String {n} = "{v}";']),
    "kt": ([".kt"], ["camel", "upper"], ['    val {n} = "{v}"', 'const val {n} = "{v}"']),
    "cs": ([".cs"], ["pascal", "camel"], ['        private const string {n} = "{v}";', '            var {n} = @"{v}";',
                                           '            {n} = "{v}",']),
    "rb": ([".rb"], ["upper", "snake"], ['{n} = "{v}"', "  {n}: '{v}',", "  config.{n} = '{v}'"]),
    "php": ([".php"], ["snake", "upper"], ["${n} = '{v}';", "    '{n}' => '{v}',", '    ${n} = "{v}";']),
    "rs": ([".rs"], ["upper", "snake"], ['const {n}: &str = "{v}";', '    let {n} = "{v}";']),
    "c": ([".c", ".h"], ["snake", "upper"], ['static const char *{n} = "{v}";', '\t.{n} = "{v}",']),
    "cpp": ([".cpp", ".cc", ".hpp"], ["snake", "camel"], ['const std::string {n} = "{v}";', 'constexpr auto {n} = "{v}";']),
    "sh": ([".sh", ".bash"], ["upper"], ['export {n}="{v}"', "{n}='{v}'", '  {n}="{v}" \\']),
    "yaml": ([".yaml", ".yml"], ["snake", "kebab", "camel"], ["  {n}: {v}", '  {n}: "{v}"', "    {n}: '{v}'"]),
    "ci": ([".gitlab-ci.yml", "workflow.yml"], ["upper"], ['  {n}: "{v}"', "      {n}: {v}"]),
    "json": ([".json"], ["camel", "snake"], ['  "{n}": "{v}",']),
    "toml": ([".toml"], ["snake"], ['{n} = "{v}"', "{n} = '{v}'"]),
    "ini": ([".ini", ".cfg", ".conf"], ["snake"], ["{n} = {v}", "{n}={v}"]),
    "properties": ([".properties"], ["dot", "camel"], ["{n}={v}", "{n} = {v}"]),
    "env": ([".env", ".env.local", ".env.production", ".env.staging"], ["upper"], ["{n}={v}", '{n}="{v}"', "export {n}='{v}'"]),
    "xml": ([".xml", ".config"], ["camel", "pascal"], ['    <add key="{n}" value="{v}" />', "    <{n}>{v}</{n}>"]),
    "hcl": ([".tf", ".tfvars"], ["snake"], ['  {n} = "{v}"', '{n} = "{v}"']),
    "docker": (["Dockerfile"], ["upper"], ["ENV {n}={v}", 'ARG {n}="{v}"', "ENV {n} {v}"]),
    "sql": ([".sql"], ["snake"], ["INSERT INTO settings (name, value) VALUES ('{n}', '{v}');"]),
    "md": ([".md"], ["upper"], ["export {n}={v}", '{n}="{v}"']),
    "ipynb": ([".ipynb"], ["snake", "upper"], ['{n} = "{v}"', "{n} = '{v}'"]),
}
# formats whose assignment is a language-level name = literal (the generic rules apply)
GENERIC_OK = set(FORMATS) - {"sql"}
SOURCE = {"py", "js", "ts", "go", "java", "kt", "cs", "rb", "php", "rs", "c", "cpp", "sh"}
CONFIG = {"yaml", "ci", "json", "toml", "ini", "properties", "env", "xml", "hcl", "docker"}
ESCAPED = {"ipynb", "md", "sql"}
COMMENT = {"py": "#", "js": "//", "ts": "//", "go": "//", "java": "//", "kt": "//", "cs": "//", "rb": "#",
           "php": "//", "rs": "//", "c": "//", "cpp": "//", "sh": "#", "yaml": "#", "ci": "#", "json": None,
           "toml": "#", "ini": ";", "properties": "#", "env": "#", "xml": None, "hcl": "#", "docker": "#",
           "sql": "--", "md": None, "ipynb": "#"}


def context_class(fmt):
    if fmt in SOURCE:
        return "source"
    if fmt in CONFIG:
        return "config"
    return "escaped"


class Filler:
    """Pools of harmless lines per format (built once; files take slices)."""

    def __init__(self, rng):
        self.r = rng
        self.pool = {f: self._build(f) for f in FORMATS}

    def w(self):
        return self.r.choice(WORDS)

    def _block(self, f):
        a, b, c = self.w(), self.w(), self.w()
        n = self.r.randrange(2, 500)
        if f in ("py", "ipynb"):
            return [f"def {a}_{b}({c}, limit={n}):", f'    """Return the {a} records of {c}."""',
                    f"    rows = [x for x in {c} if x.{b}_id > {n}]", f"    log.debug(\"{a} %d\", len(rows))",
                    "    return sorted(rows, key=lambda x: x.created)", ""]
        if f in ("js", "ts"):
            t = ": number" if f == "ts" else ""
            return [f"export function {a}{b.capitalize()}({c}{t}) {{", f"  const {b}s = {c}.filter((x) => x.{a} > {n});",
                    f"  logger.info(`{a} ${{{b}s.length}}`);", f"  return {b}s.map((x) => x.id);", "}", ""]
        if f == "go":
            return [f"func {a.capitalize()}{b.capitalize()}(ctx context.Context, {c} []int) (int, error) {{",
                    "\ttotal := 0", f"\tfor _, v := range {c} {{", f"\t\tif v > {n} {{", "\t\t\ttotal += v", "\t\t}", "\t}",
                    "\treturn total, nil", "}", ""]
        if f in ("java", "kt", "cs"):
            if f == "kt":
                return [f"    fun {a}{b.capitalize()}({c}: List<Int>): Int {{", f"        return {c}.filter {{ it > {n} }}.sum()", "    }", ""]
            return [f"    public int {a}{b.capitalize()}(List<Integer> {c}) {{", "        int total = 0;",
                    f"        for (int v : {c}) {{ if (v > {n}) total += v; }}", "        return total;", "    }", ""]
        if f == "rb":
            return [f"  def {a}_{b}({c})", f"    {c}.select {{ |x| x.{b} > {n} }}.map(&:id)", "  end", ""]
        if f == "php":
            return [f"    public function {a}{b.capitalize()}(array ${c}): array", "    {",
                    f"        return array_filter(${c}, fn($x) => $x > {n});", "    }", ""]
        if f == "rs":
            return [f"pub fn {a}_{b}({c}: &[u32]) -> u32 {{", f"    {c}.iter().filter(|v| **v > {n}).sum()", "}", ""]
        if f in ("c", "cpp"):
            return [f"static int {a}_{b}(const int *{c}, size_t n)", "{", "\tint total = 0;",
                    f"\tfor (size_t i = 0; i < n; i++)\n\t\tif ({c}[i] > {n})\n\t\t\ttotal += {c}[i];", "\treturn total;", "}", ""]
        if f == "sh":
            return [f"{a}_{b}() {{", f'  local dir="${{1:-/var/lib/{a}}}"', f'  find "$dir" -name "*.{b}" -mtime +{n} -print',
                    "}", ""]
        if f in ("yaml", "ci"):
            return [f"{a}_{b}:", f"  enabled: {self.r.choice(['true', 'false'])}", f"  replicas: {n % 7 + 1}",
                    f"  image: registry.example.com/{a}/{b}:1.{n % 30}.0", f"  labels: [{c}, {a}]"]
        if f == "json":
            return [f'  "{a}_{b}": {{"enabled": true, "limit": {n}, "name": "{c}"}},']
        if f == "toml":
            return [f"[{a}.{b}]", f'name = "{c}"', f"limit = {n}", ""]
        if f == "ini":
            return [f"[{a}_{b}]", f"name = {c}", f"limit = {n}", ""]
        if f == "properties":
            return [f"{a}.{b}.name={c}", f"{a}.{b}.limit={n}"]
        if f == "env":
            return [f"{a.upper()}_{b.upper()}_LIMIT={n}", f"{a.upper()}_HOST={c}.internal"]
        if f == "xml":
            return [f'    <add key="{a}{b.capitalize()}Limit" value="{n}" />', f"    <{a}>{c}</{a}>"]
        if f == "hcl":
            return [f'resource "aws_s3_bucket" "{a}_{b}" {{', f'  bucket = "{a}-{b}-{n}"', f'  tags = {{ team = "{c}" }}', "}", ""]
        if f == "docker":
            return [f"RUN apt-get update && apt-get install -y --no-install-recommends {a}-tools && rm -rf /var/lib/apt/lists/*",
                    f"COPY {a}/ /srv/{b}/", f"EXPOSE {8000 + n}"]
        if f == "sql":
            return [f"CREATE TABLE {a}_{b} (", "  id BIGSERIAL PRIMARY KEY,", f"  {c}_name TEXT NOT NULL,",
                    "  created_at TIMESTAMPTZ DEFAULT now()", ");", f"CREATE INDEX ON {a}_{b} ({c}_name);", ""]
        if f == "md":
            return [f"## {a.capitalize()} {b}", "", f"The {a} service reads {c} records and keeps at most {n} in memory.",
                    f"Run `make {a}` to rebuild it.", ""]
        raise KeyError(f)

    def _build(self, f):
        return [[x for ln in self._block(f) for x in ln.split("\n")] for _ in range(300)]

    def lines(self, f, nblocks):
        out = []
        for _ in range(nblocks):
            out.extend(self.r.choice(self.pool[f]))
        return out


# ---------------------------------------------------------------- files


class File:
    """One file being built: lines plus labels relative to them."""

    def __init__(self, path, fmt):
        self.path, self.fmt = path, fmt
        self.lines, self.labels = [], []

    def add(self, lines, labels=()):
        """labels: (rel_lo, rel_hi, rel_line, kind, positive[, optional])"""
        base = len(self.lines)
        assert not labels or not any("\n" in ln for ln in lines), lines
        for lab in labels:
            lo, hi, at, kind, positive = lab[:5]
            optional = len(lab) > 5 and lab[5]
            self.labels.append({"line": base + at + 1, "lines": [base + lo + 1, base + hi + 1],
                                "kind": kind, "positive": positive, "optional": optional})
        self.lines.extend(lines)


def one(line, kind, positive=True, optional=False):
    """A single-line item."""
    return [line], [(0, 0, 0, kind, positive, optional)]


class Corpus:
    def __init__(self, seed=20261207):
        self.r = random.Random(seed)
        self.sh = Shapes(self.r)
        self.tok = Tokens(self.r)
        self.filler = Filler(self.r)
        self.files = []
        self.pos_counter = {}
        self.neg_counter = {}
        self.used_paths = set()

    # -- helpers
    def name(self, kind, fmt):
        words = self.r.choice(NAMES[kind])
        return case(words, self.r.choice(FORMATS[fmt][1]))

    def assign(self, fmt, name, value, tmpl=None):
        tmpl = tmpl or self.r.choice(FORMATS[fmt][2])
        return tmpl.replace("{n}", name).replace("{v}", value)

    def path(self, fmt, name=None):
        while True:
            d = "/".join([self.r.choice(DIRS), self.r.choice(WORDS) + str(self.r.randrange(40))])
            if name is None:
                ext = self.r.choice(FORMATS[fmt][0]) if fmt in FORMATS else ""
                if ext.startswith("."):
                    base = self.r.choice(WORDS) + "_" + self.r.choice(WORDS)
                    name_ = (base + ext) if not ext.startswith(".env") else ext
                    if fmt == "ci" and ext.startswith(".gitlab"):
                        name_ = ext
                else:
                    name_ = ext
            else:
                name_ = name
            if fmt == "ci" and name_ == "workflow.yml":
                d, name_ = d + "/.github/workflows", self.r.choice(WORDS) + ".yml"
            p = f"{d}/{name_}"
            if p not in self.used_paths:
                self.used_paths.add(p)
                return p

    # -- positive items: (lines, labels) for a format, or None if the item does not fit it
    def pos_token(self, kind, fmt):
        v = self.tok.value(kind)
        n = self.name(kind, fmt)
        if fmt == "sql":
            line = f"INSERT INTO integrations (name, {case(['api', 'token'], 'snake')}) VALUES ('{self.r.choice(WORDS)}', '{v}');"
            return one(line, kind)
        if kind == "jwt" and fmt in ("sh", "md") and self.r.random() < 0.6:
            return one(f'curl -sS -H "Authorization: Bearer {v}" https://api.internal.example/v1/{self.r.choice(WORDS)}s', kind)
        if kind == "aws_key_id":
            # the pair: id on one line, secret key on the next
            sec = self.tok.value("aws_secret")
            n2 = case(self.r.choice(NAMES["aws_secret"]), self.r.choice(FORMATS[fmt][1]))
            t = self.r.choice(FORMATS[fmt][2])
            return [self.assign(fmt, n, v, t), self.assign(fmt, n2, sec, t)], \
                [(0, 0, 0, "aws_key_id", True), (1, 1, 1, "aws_secret", True)]
        return one(self.assign(fmt, n, v), kind)

    def pos_special(self, kind, fmt):
        """Kind-specific contexts (URLs, headers, provider config files)."""
        r, s = self.r, self.sh
        if kind == "google_api" and fmt in ("js", "ts"):
            v = self.tok.value(kind)
            lines = ["const firebaseConfig = {", f'  apiKey: "{v}",', f'  authDomain: "{r.choice(WORDS)}-app.firebaseapp.com",',
                     f'  projectId: "{r.choice(WORDS)}-app",', "};"]
            return lines, [(1, 1, 1, kind, True)]
        if kind == "google_api" and fmt in ("yaml", "env", "sh"):
            v = self.tok.value(kind)
            return one(self.assign(fmt, case(["geocode", "url"], FORMATS[fmt][1][0]),
                                   f"https://maps.googleapis.com/maps/api/geocode/json?key={v}"), kind)
        if kind == "slack_webhook" and fmt in ("sh", "md"):
            v = self.tok.value(kind)
            return one(f"curl -X POST -H 'Content-type: application/json' --data '{{\"text\":\"deploy done\"}}' {v}", kind)
        if kind == "twilio" and fmt in GENERIC_OK:
            sid = "AC" + s.s(HEX, 32)
            tokv = s.s(HEX, 32)
            st = r.choice(FORMATS[fmt][1])
            t = r.choice(FORMATS[fmt][2])
            if r.random() < 0.5:
                return [self.assign(fmt, case(["twilio", "account", "sid"], st), sid, t),
                        self.assign(fmt, case(["twilio", "auth", "token"], st), tokv, t)], \
                    [(0, 0, 0, "twilio_sid", False, True), (1, 1, 1, "twilio", True)]
            ksid = "SK" + s.s(HEX, 32)
            ksec = s.mixed(32, ALNUM)
            return [self.assign(fmt, case(["twilio", "api", "key"], st), ksid, t),
                    self.assign(fmt, case(["twilio", "api", "secret"], st), ksec, t)], \
                [(0, 0, 0, "twilio_sid", False, True), (1, 1, 1, "twilio", True)]
        if kind == "azure_storage" and fmt in GENERIC_OK:
            acct = r.choice(WORDS) + str(r.randrange(100)) + "store"
            cs = (f"DefaultEndpointsProtocol=https;AccountName={acct};AccountKey={s.b64(64)};"
                  "EndpointSuffix=core.windows.net")
            st = r.choice(FORMATS[fmt][1])
            return one(self.assign(fmt, case(["storage", "connection", "string"], st), cs), kind)
        if kind == "db_url" and fmt in GENERIC_OK:
            return one(self.assign(fmt, case(self.r.choice([["database", "url"], ["db", "uri"], ["broker", "url"],
                                                              ["connection", "string"], ["cache", "url"]]),
                                             r.choice(FORMATS[fmt][1])), self.db_url()), kind)
        if kind == "basic_auth" and fmt in ("sh", "md", "docker", "ci"):
            u, p = r.choice(["deploy", "ci-bot", "jenkins", "release"]), s.url_password()
            k = r.randrange(3)
            if k == 0:
                line = f"git clone https://{u}:{p}@git.{r.choice(WORDS)}.example.com/{r.choice(WORDS)}/{r.choice(WORDS)}.git"
            elif k == 1:
                auth = base64.b64encode(f"{u}:{p}".encode()).decode()
                line = f'curl -H "Authorization: Basic {auth}" https://artifacts.example.com/api/{r.choice(WORDS)}'
            else:
                line = f"pip install --extra-index-url https://{u}:{p}@pypi.{r.choice(WORDS)}.example.com/simple/ {r.choice(WORDS)}lib"
            if fmt == "docker":
                line = "RUN " + line
            if fmt == "ci":
                line = "    - " + line
            return one(line, kind)
        if kind == "basic_auth" and fmt in GENERIC_OK:
            u, p = r.choice(["deploy", "svc", "mirror"]), s.url_password()
            return one(self.assign(fmt, case(["registry", "mirror"], r.choice(FORMATS[fmt][1])),
                                   f"https://{u}:{p}@registry.{r.choice(WORDS)}.example.com/v2/"), kind)
        if kind == "jwt" and fmt in ("yaml", "json", "py", "js", "ts", "go", "java"):
            v = self.tok.value(kind)
            hdr = {"yaml": '  Authorization: "Bearer {v}"', "json": '  "Authorization": "Bearer {v}",',
                   "py": 'HEADERS = {{"Authorization": "Bearer {v}"}}', "js": "  headers: {{ Authorization: 'Bearer {v}' }},",
                   "ts": "  headers: {{ Authorization: `Bearer {v}` }},", "go": '\treq.Header.Set("Authorization", "Bearer {v}")',
                   "java": '        request.setHeader("Authorization", "Bearer {v}");'}[fmt]
            return one(hdr.replace("{{", "{").replace("}}", "}").replace("{v}", v), kind)
        return None

    def db_url(self):
        r, s = self.r, self.sh
        pw, user = s.url_password(), r.choice(["app", "svc_orders", "admin", "reporting", "etl"])
        host, db = f"{r.choice(WORDS)}-db.internal", r.choice(WORDS) + "s"
        k = r.randrange(11)
        if k == 0:
            return f"postgres://{user}:{pw}@{host}:5432/{db}"
        if k == 1:
            return f"postgresql+psycopg2://{user}:{pw}@{host}/{db}?sslmode=require"
        if k == 2:
            return f"mysql+pymysql://{user}:{pw}@{host}:3306/{db}"
        if k == 3:
            return f"mongodb+srv://{user}:{pw}@cluster0.{r.choice(WORDS)}.mongodb.net/{db}?retryWrites=true"
        if k == 4:
            return f"mongodb://{user}:{pw}@{host}:27017/{db}"
        if k == 5:
            return f"redis://:{pw}@{host}:6379/0"
        if k == 6:
            return f"rediss://default:{pw}@{host}:6380"
        if k == 7:
            return f"amqps://{user}:{pw}@mq.{r.choice(WORDS)}.internal:5671/vhost"
        if k == 8:
            return f"jdbc:postgresql://{host}:5432/{db}?user={user}&password={pw}"
        if k == 9:
            return f"Server=tcp:{host},1433;Database={db};User ID={user};Password={pw};Encrypt=true;"
        return f"mssql://{user}:{pw}@{host}:1433/{db}"

    def pos_generic(self, fmt):
        if fmt not in GENERIC_OK:
            return None
        # password-like values (letters mixed with digits or symbols) only under
        # password-named names; random values under any secret name
        words = self.r.choice(NAMES["generic"])
        if any(w in ("password", "passwd", "pwd") for w in words) and self.r.random() < 0.5:
            v = self.sh.password()
        else:
            v = self.sh.generic()
        return one(self.assign(fmt, case(words, self.r.choice(FORMATS[fmt][1])), v), "generic")

    # -- private keys
    def pem_block(self, label=None):
        r, s = self.r, self.sh
        label = label or r.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY",
                                   "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY"])
        if label == "OPENSSH PRIVATE KEY":
            body = j("b3BlbnNzaC1rZXkt", "djE") + "AAAAA" + s.b64(r.randrange(300, 900))
            width = 70
        else:
            lead = {"EC PRIVATE KEY": "MHcCAQEE", "PRIVATE KEY": "MIIE", "RSA PRIVATE KEY": "MIIE"}.get(label, "MII")
            body = lead + s.b64(r.randrange(400, 1200))
            width = 64
        body = body.rstrip("=")
        body += "=" * (-len(body) % 4)
        lines = [pem_armor("BEGIN", label)] + [body[i:i + width] for i in range(0, len(body), width)] + \
            [pem_armor("END", label)]
        return lines

    def pgp_block(self):
        s = self.sh
        body = s.b64(self.r.randrange(600, 1500))
        lab = j("PGP PRIVATE", " KEY BLOCK")
        return [pem_armor("BEGIN", lab), "Comment: exported by gpg", ""] + \
            [body[i:i + 64] for i in range(0, len(body), 64)] + ["=" + s.b64(3), pem_armor("END", lab)]

    def putty(self):
        s = self.sh
        pub, priv = s.b64(51), s.b64(48)
        return [j("PuTTY-User-", "Key-File-3: ssh-ed25519"), "Encryption: none", "Comment: eddsa-key-20260101",
                "Public-Lines: 2", pub[:64], pub[64:], "Private-Lines: 1",
                priv, "Private-MAC: " + s.s(HEX, 64)]

    def pos_pem(self, fmt):
        """A private key block in a form the format uses."""
        r = self.r
        kind = "private_key"
        blk = self.pem_block()
        esc = "\\n".join(blk) + "\\n"
        nm = lambda: case(r.choice([["private", "key"], ["tls", "key"], ["signing", "key"], ["ssh", "key"]]),
                          r.choice(FORMATS[fmt][1]))
        if fmt == "ipynb":
            return self.pos_pem("py")
        if fmt == "py":
            if r.random() < 0.5:
                return [f'{nm()} = """{blk[0]}'] + blk[1:] + ['"""'], [(0, 0, 0, kind, True)]
            return [f'{nm()} = """'] + blk + ['"""'], [(0, 1, 1, kind, True)]
        if fmt in ("js", "ts", "java", "cs"):
            pre = {"js": "const {n} =", "ts": "const {n}: string =", "java": "    private static final String {n} =",
                   "cs": "        private const string {n} ="}[fmt].replace("{n}", nm())
            lines = [pre] + [f'    "{ln}\\n" +' for ln in blk[:-1]] + [f'    "{blk[-1]}\\n";']
            return lines, [(0, 1, 1, kind, True)]
        if fmt == "go":
            return [f"var {nm()} = `{blk[0]}"] + blk[1:-1] + [blk[-1] + "`"], [(0, 0, 0, kind, True)]
        if fmt == "rs":
            return [f'const {nm().upper()}: &str = r#"{blk[0]}'] + blk[1:] + ['"#;'], [(0, 0, 0, kind, True)]
        if fmt == "rb":
            return [f"{nm().upper()} = <<~KEY"] + ["  " + ln for ln in blk] + ["KEY"], [(0, 1, 1, kind, True)]
        if fmt == "php":
            return [f"${nm()} = <<<'KEY'"] + blk + ["KEY;"], [(0, 1, 1, kind, True)]
        if fmt == "kt":
            return [f'val {nm()} = """'] + blk + ['""".trimIndent()'], [(0, 1, 1, kind, True)]
        if fmt in ("c", "cpp"):
            return [f"static const char {nm()}[] ="] + [f'\t"{ln}\\n"' for ln in blk[:-1]] + [f'\t"{blk[-1]}\\n";'], \
                [(0, 1, 1, kind, True)]
        if fmt in ("sh", "docker"):
            pre = "RUN " if fmt == "docker" else ""
            return [f"{pre}cat > /etc/ssl/private/{r.choice(WORDS)}.key <<'EOF'"] + blk + ["EOF"], [(0, 1, 1, kind, True)]
        if fmt in ("yaml", "ci"):
            return [f"  {nm()}: |"] + ["    " + ln for ln in blk], [(0, 1, 1, kind, True)]
        if fmt in ("json", "ipynb"):
            if fmt == "ipynb":
                return [f'{nm()} = "{esc}"'], [(0, 0, 0, kind, True)]
            return [f'  "{nm()}": "{esc}",'], [(0, 0, 0, kind, True)]
        if fmt == "env":
            return [f'{nm()}="{esc}"'], [(0, 0, 0, kind, True)]
        if fmt == "hcl":
            return [f"  {nm()} = <<EOT"] + blk + ["EOT"], [(0, 1, 1, kind, True)]
        if fmt == "toml":
            return [f'{nm()} = """'] + blk + ['"""'], [(0, 1, 1, kind, True)]
        if fmt == "xml":
            return [f"    <{nm()}>{blk[0]}"] + blk[1:-1] + [f"{blk[-1]}</{nm()}>"], [(0, 0, 0, kind, True)]
        if fmt == "md":
            return blk, [(0, 0, 0, kind, True)]
        return None

    # -- negatives: (lines, labels); labels positive=False
    def neg_item(self, fmt):
        """A hard negative that fits fmt; kinds taken round-robin."""
        kinds = [k for k in NEG_KINDS if self._neg_fits(k, fmt)]
        c = self.neg_counter.get(fmt, 0)
        self.neg_counter[fmt] = c + 1
        k = kinds[(c + self.r.randrange(len(kinds))) % len(kinds)] if self.r.random() < 0.3 else kinds[c % len(kinds)]
        return self._neg(k, fmt)

    @staticmethod
    def _neg_fits(k, fmt):
        if k in ("ref_lang",):
            return fmt in ("py", "js", "ts", "go", "java", "rb", "php", "kt", "cs", "ipynb")
        if k in ("ref_templ", "sops", "ansible", "k8s_ref"):
            return fmt in ("yaml", "ci")
        if k == "dotenvx":
            return fmt == "env"
        if k in ("pubkey_block",):
            return fmt in ("py", "js", "go", "yaml", "md", "sh", "json", "env", "rb", "java", "toml", "hcl")
        if k == "lockfile_integrity":
            return fmt in ("json", "yaml")
        if k == "pip_hash":
            return fmt in ("sh", "md", "docker")
        if k == "sri":
            return fmt in ("md", "xml", "js", "php")
        if k == "data_uri":
            return fmt in ("md", "xml", "js", "ts", "php", "json", "py")
        return True

    def _neg(self, k, fmt):
        r, s = self.r, self.sh
        st = r.choice(FORMATS[fmt][1])
        nm = lambda words: case(words, st)
        if k == "placeholder":
            v = r.choice(["changeme", "<YOUR_API_KEY>", "your-api-key-here", "REPLACE_ME", "TODO", "x" * r.randrange(8, 40),
                          "*" * r.randrange(4, 16), "REDACTED", "dummy", "example", j("sk", "-..."),
                          P_GHP + "x" * 36, P_SKLIVE + "X" * 24, P_NPM + "0" * 36, "<PASSWORD>", "${PASSWORD}",
                          "your_password_here", "password", "secret", "xxxxxxxx-xxxx-xxxx", "<redacted>", "CHANGE_ME",
                          "insert-token-here", P_AKIA + "X" * 16])
            return one(self.assign(fmt, nm(r.choice(NAMES["generic"])), v), "neg:placeholder", False)
        if k == "ref_lang":
            var = r.choice(["DB_PASSWORD", "API_TOKEN", "STRIPE_SECRET_KEY", "GITHUB_TOKEN", "CLIENT_SECRET"])  # coffer:allow (names, not values)
            ref = {"py": f'os.environ["{var}"]', "ipynb": f'os.getenv("{var}")', "js": f"process.env.{var}",
                   "ts": f"process.env.{var} ?? ''", "go": f'os.Getenv("{var}")', "java": f'System.getenv("{var}")',
                   "rb": f'ENV.fetch("{var}")', "php": f"getenv('{var}')", "kt": f'System.getenv("{var}")',
                   "cs": f'Environment.GetEnvironmentVariable("{var}")'}[fmt]
            n = nm(r.choice(NAMES["generic"]))
            line = {"py": f"{n} = {ref}", "ipynb": f"{n} = {ref}", "js": f"const {n} = {ref};", "ts": f"const {n} = {ref};",
                    "go": f"\t{n} := {ref}", "java": f"        String {n} = {ref};", "rb": f"{n} = {ref}",
                    "php": f"${n} = {ref};", "kt": f"    val {n} = {ref}", "cs": f"            var {n} = {ref};"}[fmt]
            return one(line, "neg:reference", False)
        if k == "ref_str":
            v = r.choice(["${DB_PASSWORD}", "$API_TOKEN", "%(db_password)s", "${env:CLIENT_SECRET}", "$(cat /run/secrets/db_password)",
                          "{{ .Values.auth.token }}", "${{ secrets.NPM_TOKEN }}", "{{ vault \"secret/data/app\" \"password\" }}",
                          "${var.db_password}", "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/db)"])
            return one(self.assign(fmt, nm(r.choice(NAMES["generic"])), v), "neg:reference", False)
        if k == "ref_templ":
            return one(f"    {nm(['api', 'token'])}: ${{{{ secrets.{r.choice(['NPM_TOKEN', 'DEPLOY_KEY', 'GH_PAT'])} }}}}",
                       "neg:reference", False)
        if k == "k8s_ref":
            return ["        - name: DB_PASSWORD", "          valueFrom:", "            secretKeyRef:",
                    f"              name: {r.choice(WORDS)}-db", "              key: password"], \
                [(0, 4, 0, "neg:reference", False)]
        if k == "sops":
            v = f"ENC[AES256_GCM,data:{s.b64(r.randrange(12, 40))},iv:{s.b64(32)},tag:{s.b64(16)},type:str]"
            return one(f"  {nm(r.choice(NAMES['generic']))}: {v}", "neg:encrypted", False)
        if k == "ansible":
            body = s.s(HEX, 320)
            lines = [f"  {nm(['db', 'password'])}: !vault |", "    $ANSIBLE_VAULT;1.1;AES256"] + \
                ["    " + body[i:i + 80] for i in range(0, len(body), 80)]
            return lines, [(0, len(lines) - 1, 0, "neg:encrypted", False)]
        if k == "dotenvx":
            return one(f'{nm(r.choice(NAMES["generic"]))}="encrypted:{s.b64(r.randrange(90, 160))}"', "neg:encrypted", False)
        if k == "pubkey_block":
            lab = r.choice(["PUBLIC KEY", "CERTIFICATE", "CERTIFICATE REQUEST", j("PGP PUBLIC", " KEY BLOCK")])
            body = "MII" + s.b64(r.randrange(200, 900))
            blk = [pem_armor("BEGIN", lab)] + [body[i:i + 64] for i in range(0, len(body), 64)] + [pem_armor("END", lab)]
            if fmt in ("json", "env"):
                esc = "\\n".join(blk)
                n = nm(["tls", "cert"]) if "CERT" in lab else nm(["public", "key"])
                return one(f'  "{n}": "{esc}",' if fmt == "json" else f'{n}="{esc}"', "neg:public", False)
            if fmt == "yaml":
                lines = [f"  {nm(['ca', 'cert'])}: |"] + ["    " + ln for ln in blk]
            elif fmt in ("md", "sh"):
                lines = blk
            else:
                q = {"py": ('PUBLIC_KEY = """', '"""'), "js": ("const publicKey = `", "`;"), "go": ("var publicKey = `", "`"),
                     "rb": ("PUBLIC_KEY = <<~PEM", "PEM"), "java": ('    static final String PUBLIC_KEY = """', '""";'),
                     "toml": ('public_key = """', '"""'), "hcl": ("  public_key = <<EOT", "EOT")}[fmt]
                lines = [q[0]] + blk + [q[1]]
            return lines, [(0, len(lines) - 1, 0, "neg:public", False)]
        if k == "ssh_pub":
            v = r.choice(["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + s.b64(260).rstrip("="),
                          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + s.b64(24).rstrip("=")]) + f" {r.choice(WORDS)}@build"
            return one(self.assign(fmt, nm(["ssh", "public", "key"]), v), "neg:public", False)
        if k == "stripe_pk":
            v = r.choice([P_PKLIVE, P_PKTEST]) + s.mixed(r.choice([24, 99]), B62)
            return one(self.assign(fmt, nm(["stripe", "publishable", "key"]), v), "neg:public", False)
        if k == "oauth_client_id":
            v = f"{r.randrange(10**11, 10**12)}-{s.s(string.ascii_lowercase + string.digits, 32)}.apps.googleusercontent.com"
            return one(self.assign(fmt, nm(["google", "client", "id"]), v), "neg:public", False)
        if k == "wallet":
            v = "0x" + s.s(HEX, 40)
            return one(self.assign(fmt, nm(["wallet", "address"]), v), "neg:public", False)
        if k == "uuid":
            v = str(uuid.UUID(int=r.getrandbits(128)))
            return one(self.assign(fmt, nm(r.choice([["token", "id"], ["api", "key", "id"], ["secret", "id"],
                                                     ["credential", "id"], ["tenant", "id"]])), v), "neg:id", False)
        if k == "git_sha":
            v = s.s(HEX, 40)
            return one(self.assign(fmt, nm(r.choice([["commit", "sha"], ["git", "sha"], ["revision"], ["base", "ref"]])), v),
                       "neg:hash", False)
        if k == "digest":
            v = "sha256:" + s.s(HEX, 64)
            return one(self.assign(fmt, nm(r.choice([["image", "digest"], ["layer", "digest"], ["checksum"]])), v),
                       "neg:hash", False)
        if k == "etag":
            return one(self.assign(fmt, nm(["etag"]), s.s(HEX, 32)), "neg:hash", False)
        if k == "bcrypt":
            v = r.choice(["$2a$", "$2b$", "$2y$"]) + "12$" + s.s(ALNUM + "./", 53)
            return one(self.assign(fmt, nm(r.choice([["password", "hash"], ["admin", "password", "hash"]])), v), "neg:hash", False)
        if k == "argon2":
            v = f"$argon2id$v=19$m=65536,t=3,p=4${s.b64(16).rstrip('=')}${s.b64(32).rstrip('=')}"
            return one(self.assign(fmt, nm(r.choice([["password", "hash"], ["hashed", "password"]])), v), "neg:hash", False)
        if k == "lockfile_integrity":
            v = "sha512-" + s.b64(64)
            if fmt == "json":
                return one(f'  "integrity": "{v}",', "neg:hash", False)
            return one(f"    integrity: {v}", "neg:hash", False)
        if k == "pip_hash":
            return one(f"    --hash=sha256:{s.s(HEX, 64)} \\", "neg:hash", False)
        if k == "sri":
            v = f'<script src="https://cdn.example.com/{r.choice(WORDS)}.min.js" integrity="sha384-{s.b64(48)}" crossorigin="anonymous"></script>'
            if fmt in ("js",):
                return one(f"  script.integrity = 'sha384-{s.b64(48)}';", "neg:hash", False)
            if fmt == "php":
                return one(f"?>{v}<?php", "neg:hash", False)
            return one(v, "neg:hash", False)
        if k == "data_uri":
            v = "data:image/png;base64," + s.b64(r.randrange(60, 300))
            return one(self.assign(fmt, nm(["icon"]), v), "neg:data", False)
        if k == "gosum":
            return one(self.assign(fmt, nm(["module", "hash"]), "h1:" + s.b64(32)), "neg:hash", False)
        if k == "csp_nonce":
            return one(self.assign(fmt, nm(["csp", "nonce"]), s.b64(16)), "neg:hash", False)
        if k == "doc_sample":
            if r.random() < 0.5:
                ak = j(P_AKIA, "IOSFODNN7", "EXAMPLE")
                sk = j("wJalrXUtnFEMI", "/K7MDENG/", "bPxRfiCY", "EXAMPLEKEY")
                t = r.choice(FORMATS[fmt][2])
                return [self.assign(fmt, nm(["aws", "access", "key", "id"]), ak, t),
                        self.assign(fmt, nm(["aws", "secret", "access", "key"]), sk, t)], \
                    [(0, 0, 0, "neg:doc_sample", False), (1, 1, 1, "neg:doc_sample", False)]
            enc = lambda o: base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).decode().rstrip("=")
            tokv = ".".join([enc({"alg": "HS256", "typ": "JWT"}),
                             enc({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}),
                             j("SflKxwRJSMeKKF2QT4fw", "pMeJf36POk6yJV_adQssw5c")])
            return one(self.assign(fmt, nm(["auth", "token"]), tokv), "neg:doc_sample", False)
        if k == "bad_checksum":
            pre = r.choice([P_GHP, P_GHO, P_NPM, P_GHS])
            v = pre + s.gh_body(good=False)
            # under a neutral name: a generic name = value rule would rightly report
            # any random value under a secret-like name, checksum or not
            return one(self.assign(fmt, nm(r.choice([["sample", "value"], ["fixture"], ["lookalike"], ["invalid", "sample"]])), v),
                       "neg:bad_checksum", False)
        if k == "aws_resource_id":
            v = r.choice(["AIDA", "AROA", "AGPA", "ANPA", "AIPA"]) + s.s(B32, 16)
            return one(self.assign(fmt, nm(r.choice([["role", "id"], ["user", "id"], ["principal", "id"]])), v),
                       "neg:id", False)
        if k == "allow_marker":
            c = COMMENT.get(fmt)
            if c is None:
                return None
            kind = r.choice(["github", "stripe", "generic", "slack_token", "openai"])
            v = self.tok.value(kind)
            n = self.name(kind, fmt) if kind != "generic" else nm(["api", "key"])
            marker = r.choice(["coffer:allow", "gitleaks:allow", "pragma: allowlist secret", "trufflehog:ignore",
                               "secretlint-disable-line", "nextline"])
            if marker == "nextline":
                return [f"{c} pragma: allowlist nextline secret", self.assign(fmt, n, v)], \
                    [(1, 1, 1, "neg:allow_marker", False)]
            return one(f"{self.assign(fmt, n, v)}  {c} {marker}", "neg:allow_marker", False)
        if k == "db_placeholder":
            v = r.choice(["postgres://user:password@localhost:5432/app", "postgres://app:${DB_PASSWORD}@db:5432/app",
                          "mysql://root:<PASSWORD>@127.0.0.1:3306/test", "postgresql://svc:****@db.internal/app",
                          "redis://localhost:6379/0", "postgres://localhost/app_test", "mongodb://mongo:27017/events",
                          "amqp://guest:guest@localhost:5672/", "https://github.com/example/repo.git"])
            return one(self.assign(fmt, nm(r.choice([["database", "url"], ["db", "url"], ["broker", "url"]])), v),
                       "neg:placeholder", False)
        if k == "plain_words":
            n, v = r.choice([(["token", "type"], "Bearer"), (["auth", "method"], "oauth2"), (["secret", "name"], "db-credentials"),
                             (["password", "min", "length"], "12"), (["auth", "header"], "Authorization"),
                             (["secret", "backend"], "vault"), (["token", "endpoint"], "/oauth/token"),
                             (["credential", "provider"], "default"), (["api", "key", "header"], "X-Api-Key"),
                             (["password", "field"], "password")])
            return one(self.assign(fmt, nm(n), v), "neg:plain", False)
        raise KeyError(k)

    # -- whole files of their own
    def special_files(self, scale=1):
        """Provider config files and manifests: list of File."""
        r, s = self.r, self.sh
        out = []
        for _ in range(25 * scale):
            f = File(self.path("npmrc", ".npmrc"), "npmrc")
            f.add(["registry=https://registry.npmjs.org/", "save-exact=true"])
            f.add([f"//registry.npmjs.org/:_authToken={self.tok.value('npm')}"], [(0, 0, 0, "npm", True)])
            if r.random() < 0.5:
                f.add(["//npm.pkg.github.com/:_authToken=${NODE_AUTH_TOKEN}"], [(0, 0, 0, "neg:reference", False)])
            out.append(f)
            f = File(self.path("pypirc", ".pypirc"), "pypirc")
            f.add(["[distutils]", "index-servers =", "    pypi", "", "[pypi]", "username = __token__"])
            f.add([f"password = {self.tok.value('pypi')}"], [(0, 0, 0, "pypi", True)])
            out.append(f)
            f = File(self.path("gitcred", ".git-credentials"), "git-credentials")
            for _ in range(r.randrange(1, 3)):
                f.add([f"https://{r.choice(['deploy', 'me', 'ci'])}:{s.url_password()}@git.{r.choice(WORDS)}.example.com"],
                      [(0, 0, 0, "basic_auth", True)])
            out.append(f)
            f = File(self.path("docker", "config.json").replace("/config.json", "/.docker/config.json"), "docker-config")
            auth = base64.b64encode(f"{r.choice(['ci', 'robot'])}:{s.url_password()}".encode()).decode()
            f.add(["{", '  "auths": {', f'    "registry.{r.choice(WORDS)}.example.com": {{'])
            f.add([f'      "auth": "{auth}"'], [(0, 0, 0, "basic_auth", True)])
            f.add(["    },", '    "https://index.docker.io/v1/": {}', "  },", '  "credsStore": "desktop"', "}"])
            out.append(f)
            # PEM key files
            f = File(self.path("pem", r.choice(["id_rsa", "server.key", "tls.key", "private.pem", "deploy_key", "signing.pem"])), "pem")
            blk = self.pgp_block() if r.random() < 0.12 else self.pem_block()
            f.add(blk, [(0, 0, 0, "private_key", True)])
            out.append(f)
            # public material in files of its own
            f = File(self.path("pem", r.choice(["ca.crt", "server.pem", "id_rsa.pub", "public.pem", "chain.crt"])), "pem")
            f.add(*self._neg("pubkey_block", "md"))
            out.append(f)
            # PuTTY key
            if r.random() < 0.4:
                f = File(self.path("ppk", f"{r.choice(WORDS)}.ppk"), "ppk")
                f.add(self.putty(), [(0, 0, 0, "private_key", True)])
                out.append(f)
            # Kubernetes Secret and a ConfigMap beside it
            out.append(self.k8s_secret())
            out.append(self.k8s_configmap())
            # GCP service account
            out.append(self.gcp_sa())
            # .env.example with placeholders only
            f = File(self.path("env", ".env.example"), "env")
            for n, v in [("DATABASE_URL", "postgres://user:password@localhost:5432/app"), ("STRIPE_SECRET_KEY", j(P_SKLIVE, "...")),
                         ("GITHUB_TOKEN", "<YOUR_GITHUB_TOKEN>"), ("SESSION_SECRET", "changeme"), ("API_KEY", "your-api-key-here")]:
                f.add([f"{n}={v}"], [(0, 0, 0, "neg:placeholder", False)])
            out.append(f)
            # package-lock.json, go.sum, requirements with hashes
            f = File(self.path("lock", "package-lock.json"), "json")
            f.add(["{", '  "name": "web",', '  "lockfileVersion": 3,', '  "packages": {'])
            for i in range(r.randrange(3, 8)):
                pkg = r.choice(WORDS) + "-" + r.choice(WORDS)
                f.add([f'    "node_modules/{pkg}": {{', f'      "version": "1.{i}.{r.randrange(9)}",',
                       f'      "resolved": "https://registry.npmjs.org/{pkg}/-/{pkg}-1.{i}.0.tgz",'])
                f.add([f'      "integrity": "sha512-{s.b64(64)}"'], [(0, 0, 0, "neg:hash", False)])
                f.add(["    },"])
            f.add(['    "": {}', "  }", "}"])
            out.append(f)
            f = File(self.path("gosum", "go.sum"), "gosum")
            for _ in range(r.randrange(4, 12)):
                mod = f"github.com/{r.choice(WORDS)}/{r.choice(WORDS)}"
                f.add([f"{mod} v1.{r.randrange(20)}.{r.randrange(9)} h1:{s.b64(32)}"], [(0, 0, 0, "neg:hash", False)])
            out.append(f)
        return out

    def k8s_secret(self):
        r, s = self.r, self.sh
        f = File(self.path("yaml", f"{r.choice(WORDS)}-secret.yaml"), "k8s")
        f.add(["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {r.choice(WORDS)}-credentials",
               f"  namespace: {r.choice(WORDS)}", "type: Opaque", "data:"])
        for key in r.sample(["password", "api-token", "db-password", "client-secret", "redis-password"], r.randrange(1, 3)):  # coffer:allow
            v = base64.b64encode((s.password() if r.random() < 0.5 else s.generic()).encode()).decode()
            f.add([f"  {key}: {v}"], [(0, 0, 0, "k8s_secret", True)])
        if r.random() < 0.5:
            f.add(["stringData:"])
            f.add([f"  {r.choice(['smtp-password', 'webhook-secret'])}: {s.password()}"], [(0, 0, 0, "k8s_secret", True)])  # coffer:allow
        return f

    def k8s_configmap(self):
        r = self.r
        f = File(self.path("yaml", f"{r.choice(WORDS)}-config.yaml"), "k8s")
        f.add(["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {r.choice(WORDS)}-settings", "data:",
               f"  LOG_LEVEL: {r.choice(['info', 'debug'])}", f"  {r.choice(WORDS).upper()}_URL: http://{r.choice(WORDS)}.svc:8080"])
        f.add(["  SECRET_NAME: app-credentials"], [(0, 0, 0, "neg:plain", False)])
        return f

    def gcp_sa(self):
        r, s = self.r, self.sh
        proj = f"{r.choice(WORDS)}-{r.choice(WORDS)}-{r.randrange(100000, 999999)}"
        blk = self.pem_block("PRIVATE KEY")
        esc = "\\n".join(blk) + "\\n"
        obj = [("type", "service_account"), ("project_id", proj), ("private_key_id", s.s(HEX, 40)),
               ("private_key", esc), ("client_email", f"{r.choice(WORDS)}-sa@{proj}.iam.gserviceaccount.com"),
               ("client_id", str(r.randrange(10**20, 10**21))), ("auth_uri", "https://accounts.google.com/o/oauth2/auth"),
               ("token_uri", "https://oauth2.googleapis.com/token")]
        k = r.randrange(3)
        if k == 0:
            f = File(self.path("json", r.choice(["service-account.json", "gcp-key.json", "credentials.json"])), "json")
            lines = ["{"] + [f'  "{a}": "{b}"' + ("," if i < len(obj) - 1 else "") for i, (a, b) in enumerate(obj)] + ["}"]
            pk = 1 + 3
            f.add(lines, [(0, len(lines) - 1, pk, "gcp_sa", True)])
        elif k == 1:
            f = File(self.path("env", ".env"), "env")
            f.add(["PORT=8080", f"GOOGLE_CLOUD_PROJECT={proj}"])
            one_line = json.dumps(dict(obj), separators=(",", ":")).replace("\\\\n", "\\n")
            f.add([f"GOOGLE_APPLICATION_CREDENTIALS_JSON='{one_line}'"], [(0, 0, 0, "gcp_sa", True)])
        else:
            f = File(self.path("yaml", f"{r.choice(WORDS)}-gcp.yaml"), "k8s")
            f.add(["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: gcp", "data:", "  credentials.json: |"])
            lines = ["    {"] + [f'      "{a}": "{b}"' + ("," if i < len(obj) - 1 else "") for i, (a, b) in enumerate(obj)] + ["    }"]
            f.add(lines, [(0, len(lines) - 1, 4, "gcp_sa", True)])
        return f

    # -- wrapping of formats whose items sit inside another syntax
    def wrap(self, fmt, lines, labels):
        if fmt == "ipynb":
            out = ["  {", '   "cell_type": "code",', '   "execution_count": 1,', '   "metadata": {},', '   "outputs": [],',
                   '   "source": [']
            k = len(out)
            src = [json.dumps(ln + "\n") + "," for ln in lines[:-1]] + [json.dumps(lines[-1])]
            out += ["    " + x for x in src] + ["   ]", "  },"]
            return out, [tuple([lab[0] + k, lab[1] + k, lab[2] + k] + list(lab[3:])) for lab in labels]
        if fmt == "md":
            out = ["```" + self.r.choice(["sh", "bash", "", "yaml"])] + lines + ["```", ""]
            return out, [tuple([lab[0] + 1, lab[1] + 1, lab[2] + 1] + list(lab[3:])) for lab in labels]
        return lines, labels

    def header(self, fmt):
        r = self.r
        a, b = r.choice(WORDS), r.choice(WORDS)
        return {
            "py": ['"""' + f"{a} {b} helpers." + '"""', "import logging", "import os", "", "log = logging.getLogger(__name__)", "", "CONFIG = {}", ""],
            "js": ["'use strict';", f"const logger = require('../lib/logger')('{a}');", ""],
            "ts": [f"import {{ logger }} from '../lib/{a}';", ""],
            "go": [f"package {a}", "", "import (", '\t"context"', '\t"os"', ")", ""],
            "java": [f"package com.example.{a};", "", "import java.util.List;", "", f"public class {a.capitalize()}{b.capitalize()} {{"],
            "kt": [f"package com.example.{a}", "", f"object {a.capitalize()}{b.capitalize()} {{"],
            "cs": ["using System;", "", f"namespace Example.{a.capitalize()}", "{", f"    public class {b.capitalize()}Service", "    {"],
            "rb": ["# frozen_string_literal: true", "", f"module {a.capitalize()}"],
            "php": ["<?php", "", f"namespace App\\{a.capitalize()};", "", f"class {b.capitalize()}Service", "{"],
            "rs": ["use std::collections::HashMap;", ""],
            "c": ["#include <stddef.h>", "#include <string.h>", ""],
            "cpp": ["#include <string>", "#include <vector>", ""],
            "sh": ["#!/usr/bin/env bash", "set -euo pipefail", ""],
            "yaml": [f"# {a} settings", f"{a}:"],
            "ci": ["stages: [build, test, deploy]", "variables:"] if r.random() < 0.5 else
                  [f"name: {a}", "on: [push]", "jobs:", "  build:", "    runs-on: ubuntu-latest", "    env:"],
            "json": ["{"],
            "toml": [f"[{a}]"],
            "ini": [f"[{a}]"],
            "properties": [f"# {a} properties"],
            "env": [f"# {a} environment"],
            "xml": ['<?xml version="1.0" encoding="utf-8"?>', "<configuration>", "  <appSettings>"],
            "hcl": ['provider "aws" {', '  region = "eu-west-1"', "}", ""],
            "docker": ["FROM debian:bookworm-slim", "WORKDIR /srv"],
            "sql": [f"-- {a} schema", "BEGIN;"],
            "md": [f"# {a.capitalize()} {b}", ""],
            "ipynb": ["{", ' "cells": ['],
        }[fmt]

    def footer(self, fmt):
        return {
            "java": ["}"], "kt": ["}"], "cs": ["    }", "}"], "rb": ["end"], "php": ["}"],
            "json": ['  "version": 1', "}"], "xml": ["  </appSettings>", "</configuration>"], "sql": ["COMMIT;"],
            "ipynb": ["  {", '   "cell_type": "markdown",', '   "metadata": {},', '   "source": ["done"]', "  }", " ],",
                      ' "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},',
                      ' "nbformat": 4,', ' "nbformat_minor": 5', "}"],
        }.get(fmt, [])

    def ipynb_image(self):
        """A notebook cell with an image output (a hard negative)."""
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + self.r.randbytes(self.r.randrange(300, 1500))).decode()
        lines = ["  {", '   "cell_type": "code",', '   "execution_count": 2,', '   "metadata": {},', '   "outputs": [',
                 "    {", '     "data": {', f'      "image/png": "{png}",', '      "text/plain": ["<Figure>"]', "     },",
                 '     "metadata": {},', '     "output_type": "display_data"', "    }", "   ],",
                 '   "source": ["plt.show()"]', "  },"]
        return lines, [(7, 7, 7, "neg:data", False)]

    # -- the plan
    def positive_item(self, fmt):
        """The next positive kind for this format (round robin), as (lines, labels)."""
        kinds = POS_KINDS
        c = self.pos_counter.get(fmt, 0)
        for i in range(len(kinds)):
            kind = kinds[(c + i) % len(kinds)]
            item = self._pos(kind, fmt)
            if item is not None:
                self.pos_counter[fmt] = c + i + 1
                return item
        return None

    def _pos(self, kind, fmt):
        if kind == "private_key":
            return self.pos_pem(fmt)
        if kind == "generic":
            return self.pos_generic(fmt)
        if kind in ("twilio", "azure_storage", "db_url", "basic_auth"):
            return self.pos_special(kind, fmt)
        if self.r.random() < 0.35:
            item = self.pos_special(kind, fmt)
            if item is not None:
                return item
        return self.pos_token(kind, fmt)

    def build_file(self, fmt, filler_blocks, npos, nneg):
        f = File(self.path(fmt), fmt)
        inner = "py" if fmt == "ipynb" else ("sh" if fmt == "md" else fmt)
        f.add(self.header(fmt))
        items = [("pos", None)] * npos + [("neg", None)] * nneg
        self.r.shuffle(items)
        per = max(1, filler_blocks // (len(items) + 1))
        for what, _ in items:
            self._filler(f, fmt, inner, per)
            if what == "pos":
                item = self.positive_item(fmt if fmt not in ("md", "ipynb") else fmt)
            else:
                item = self.neg_item(fmt)
                if fmt == "ipynb" and self.r.random() < 0.2:
                    f.add(*self.ipynb_image())
                    continue
            if item is None:
                continue
            lines, labels = item
            f.add(*self.wrap(fmt, lines, labels))
        self._filler(f, fmt, inner, per)
        f.add(self.footer(fmt))
        return f

    def _filler(self, f, fmt, inner, nblocks):
        lines = self.filler.lines(inner if fmt != "md" else "md", nblocks)
        if fmt == "ipynb":
            lines, _ = self.wrap(fmt, lines, [])
        f.add(lines)

    def generate(self, nfiles=2200, mb=None):
        fmts = list(FORMATS)
        weights = {f: 1.0 for f in fmts}
        weights.update({"py": 2.5, "js": 2, "ts": 2, "go": 2, "java": 1.5, "yaml": 2.5, "json": 1.5, "md": 1.5, "sh": 1.5})
        scale = 1 if mb is None else max(1, int(mb // 40))
        self.files.extend(self.special_files(scale))
        target = None if mb is None else mb * 1024 * 1024
        size = sum(len("\n".join(f.lines)) + 1 for f in self.files)
        i = 0
        while len(self.files) < nfiles or (target is not None and size < target):
            fmt = self.r.choices(fmts, [weights[f] for f in fmts])[0]
            if target is None:
                blocks, npos, nneg = self.r.randrange(2, 14), self.r.choice([0, 0, 1, 1, 1, 2]), self.r.choice([0, 1, 1, 2, 3])
            else:  # benchmark trees: bigger files, sparse secrets
                blocks, npos, nneg = self.r.randrange(20, 160), self.r.choice([0, 0, 0, 1]), self.r.choice([0, 1])
            f = self.build_file(fmt, blocks, npos, nneg)
            self.files.append(f)
            size += len("\n".join(f.lines)) + 1
            i += 1
        return self.files

    def write(self, outdir, labels_path):
        os.makedirs(outdir, exist_ok=True)
        total = 0
        with open(labels_path, "w", encoding="utf-8") as lf:
            for f in self.files:
                p = os.path.join(outdir, f.path)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                data = "\n".join(f.lines) + "\n"
                with open(p, "w", encoding="utf-8", newline="") as fh:
                    fh.write(data)
                total += len(data.encode())
                for lab in f.labels:
                    rec = {"file": f.path, "line": lab["line"], "lines": lab["lines"], "kind": lab["kind"],
                           "positive": lab["positive"], "context": f.fmt}
                    if lab["optional"]:
                        rec["optional"] = True
                    lf.write(json.dumps(rec) + "\n")
        return total


POS_KINDS = ["github", "github_fine", "gitlab", "slack_token", "slack_webhook", "stripe", "google_api", "aws_key_id",
             "azure_ad", "azure_storage", "twilio", "sendgrid", "npm", "pypi", "openai", "anthropic", "huggingface",
             "vault", "digitalocean", "shopify", "age", "telegram", "jwt", "private_key", "db_url", "basic_auth",
             "generic", "db_url", "generic", "generic", "generic"]
NEG_KINDS = ["placeholder", "ref_lang", "ref_str", "ref_templ", "k8s_ref", "sops", "ansible", "dotenvx", "pubkey_block",
             "ssh_pub", "stripe_pk", "oauth_client_id", "wallet", "uuid", "git_sha", "digest", "etag", "bcrypt",
             "argon2", "lockfile_integrity", "pip_hash", "sri", "data_uri", "gosum", "csp_nonce", "doc_sample",
             "bad_checksum", "aws_resource_id", "allow_marker", "db_placeholder", "plain_words", "placeholder",
             "doc_sample", "bad_checksum", "allow_marker"]


def summary(corpus, total, labels_path):
    from collections import Counter, defaultdict
    pos = Counter()
    ctx = defaultdict(set)
    neg = Counter()
    fmts = Counter(f.fmt for f in corpus.files)
    for f in corpus.files:
        for lab in f.labels:
            if lab["positive"]:
                pos[lab["kind"]] += 1
                ctx[lab["kind"]].add(context_class(f.fmt) if f.fmt in FORMATS else "file")
            elif not lab["optional"]:
                neg[lab["kind"]] += 1
    print(f"files={len(corpus.files)} bytes={total} formats={len(fmts)} positives={sum(pos.values())} "
          f"negatives={sum(neg.values())} labels={labels_path}")
    print("formats: " + " ".join(f"{k}={v}" for k, v in sorted(fmts.items())))
    print("positives: " + " ".join(f"{k}={v}({'/'.join(sorted(ctx[k]))})" for k, v in sorted(pos.items())))
    print("negatives: " + " ".join(f"{k}={v}" for k, v in sorted(neg.items())))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--labels")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--files", type=int, default=2200)
    ap.add_argument("--mb", type=float)
    a = ap.parse_args(argv)
    labels = a.labels or a.outdir.rstrip("/") + ".labels.jsonl"
    c = Corpus(a.seed)
    c.generate(a.files, a.mb)
    total = c.write(a.outdir, labels)
    summary(c, total, labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
