/* test_struct_rules.c - the structural rules (src/tools/scan/rules_struct.c):
 * for every rule, true positives in several file contexts (source literal,
 * YAML/JSON/.env value, multi-line or escaped form) and the look-alike
 * negatives of docs/scanner.md "What is never reported".
 *
 * Each rule's pattern is compiled here with PCRE2 and run over the whole
 * text, its min_entropy and check applied to every match, so the tests pin
 * the rules themselves. All secret material is random, built at run time from
 * a fixed-seed generator: nothing committed here is a credential. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tools/scan/negative.h"
#include "tools/scan/scan.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Random material ---------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static const char B62[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char HEX[] = "0123456789abcdef";

/* Test strings live for the whole run in one arena. */
static char arena[1 << 23];
static size_t arena_used;

static char *
arena_alloc(size_t n)
{
	char *p;

	assert_true(arena_used + n <= sizeof(arena));
	p = arena + arena_used;
	arena_used += n;
	return p;
}

/* n random characters of alphabet. */
static const char *
rnd(size_t n, const char *alphabet)
{
	char *b = arena_alloc(n + 1);
	size_t k = strlen(alphabet), i;

	for (i = 0; i < n; i++)
		b[i] = alphabet[rng() % k];
	b[n] = '\0';
	return b;
}

/* A random letters-and-digits value that has both cases and a digit. */
static const char *
rnd_mixed(size_t n, const char *alphabet)
{
	const char *s;
	size_t i, lo, up, dg;

	do {
		s = rnd(n, alphabet);
		for (i = lo = up = dg = 0; i < n; i++) {
			lo += s[i] >= 'a' && s[i] <= 'z';
			up += s[i] >= 'A' && s[i] <= 'Z';
			dg += s[i] >= '0' && s[i] <= '9';
		}
	} while (lo == 0 || up == 0 || dg == 0);
	return s;
}

static void
b64_encode(const unsigned char *in, size_t n, char *out, bool url)
{
	const char *al =
	        url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" : B64;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = al[in[i] >> 2];
		out[o++] = al[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = al[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		out[o++] = al[in[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = al[in[i] >> 2];
		out[o++] = al[(in[i] & 3) << 4];
		if (!url) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		out[o++] = al[in[i] >> 2];
		out[o++] = al[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = al[(in[i + 1] & 15) << 2];
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
}

static const char *
b64s(const char *s, bool url)
{
	char *b = arena_alloc(strlen(s) * 4 / 3 + 8);

	b64_encode((const unsigned char *)s, strlen(s), b, url);
	return b;
}

/* The PEM block of label with a random body of `lines` lines of width
 * characters, lines joined by sep; prefix/suffix go around each body line.
 * body0 (or NULL) is the start of the body. */
static char *
pem(const char *label, int lines, int width, const char *pre, const char *sep, const char *body0)
{
	char *o = arena_alloc(16384);
	size_t n = 0;
	int i;

	n += (size_t)snprintf(o + n, 16384 - n, "%s-----BEGIN %s-----%s", pre, label, sep);
	for (i = 0; i < lines; i++) {
		const char *b = rnd((size_t)width, B64);
		size_t k = 0;

		if (i == 0 && body0 != NULL) {
			k = strlen(body0);
			n += (size_t)snprintf(o + n, 16384 - n, "%s%s", pre, body0);
		} else {
			n += (size_t)snprintf(o + n, 16384 - n, "%s", pre);
		}
		n += (size_t)snprintf(o + n, 16384 - n, "%.*s%s", (int)((size_t)width - k), b, sep);
	}
	n += (size_t)snprintf(o + n, 16384 - n, "%s-----END %s-----", pre, label);
	assert_true(n < 16000);
	return o;
}

/* Running a rule ---------------------------------------------------------- */

static const struct scan_rule *
rule(const char *id)
{
	size_t i;

	for (i = 0; i < scan_struct_rules_n; i++)
		if (strcmp(scan_struct_rules[i].id, id) == 0)
			return &scan_struct_rules[i];
	fail_msg("no rule %s", id);
	return NULL;
}

static pcre2_code *
compile(const struct scan_rule *r)
{
	int err;
	PCRE2_SIZE eoff;
	pcre2_code *re;
	uint32_t opt = (r->flags & SCAN_RULE_NOCASE) ? PCRE2_CASELESS : 0;

	re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, opt, &err, &eoff, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(err, msg, sizeof(msg));
		fail_msg("rule %s: %s at %zu", r->id, (char *)msg, (size_t)eoff);
	}
	return re;
}

static double
entropy(const char *s, size_t n)
{
	unsigned hist[256] = {0};
	double h = 0;
	size_t i;

	for (i = 0; i < n; i++)
		hist[(unsigned char)s[i]]++;
	for (i = 0; i < 256; i++)
		if (hist[i] != 0) {
			double p = (double)hist[i] / (double)n;
			h -= p * log2(p);
		}
	return h;
}

#define MAX_HITS 16

struct hits {
	size_t n;
	size_t off[MAX_HITS], len[MAX_HITS];
};

/* Runs rule r over text the way the engine does over a window: every match
 * from the end of the previous one, its secret group, min_entropy, check. */
static void
run_rule(const struct scan_rule *r, const char *text, struct hits *h)
{
	pcre2_code *re = compile(r);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	size_t len = strlen(text), start = 0;
	int rc;

	h->n = 0;
	while (start <= len) {
		PCRE2_SIZE *ov, so, sl;
		int g;

		rc = pcre2_match(re, (PCRE2_SPTR)text, len, start, 0, md, NULL);
		if (rc < 0)
			break;
		ov = pcre2_get_ovector_pointer(md);
		g = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "secret");
		if (g > 0 && ov[2 * g] != PCRE2_UNSET) {
			so = ov[2 * g];
			sl = ov[2 * g + 1] - so;
		} else {
			so = ov[0];
			sl = ov[1] - ov[0];
		}
		if ((r->min_entropy <= 0 || entropy(text + so, sl) >= r->min_entropy) &&
		    (r->check == NULL || r->check(text + so, sl, text, len, so))) {
			assert_true(h->n < MAX_HITS);
			h->off[h->n] = so;
			h->len[h->n] = sl;
			h->n++;
		}
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
}

static int
collect(void *arg, const struct scan_hit *hit)
{
	struct hits *h = arg;

	assert_true(h->n < MAX_HITS);
	h->off[h->n] = hit->secret_off;
	h->len[h->n] = hit->secret_len;
	h->n++;
	return 0;
}

/* Runs the engine built from n rules over text. */
static void
run_engine(const struct scan_rule *rules, size_t n, const char *text, struct hits *h)
{
	struct scan_engine *e = NULL;
	struct scan_ctx *c = NULL;
	char err[256];

	if (scan_engine_new(rules, n, &e, err, sizeof(err)) != 0)
		fail_msg("engine: %s", err);
	assert_int_equal(scan_ctx_new(e, &c), 0);
	h->n = 0;
	assert_int_equal(scan_buffer(c, text, strlen(text), collect, h), 0);
	scan_ctx_free(c);
	scan_engine_free(e);
}

/* The rule's pattern alone, and the engine with only that rule (its keyword
 * windows), find the same secrets. */
static void
run_both(const struct scan_rule *r, const char *text, struct hits *h)
{
	struct hits g;
	size_t i;

	run_rule(r, text, h);
	run_engine(r, 1, text, &g);
	if (g.n != h->n)
		fail_msg("%s: engine finds %zu, pattern %zu in:\n%s", r->id, g.n, h->n, text);
	for (i = 0; i < g.n; i++)
		if (g.off[i] != h->off[i] || g.len[i] != h->len[i])
			fail_msg("%s: engine finding #%zu differs in:\n%s", r->id, i, text);
}

/* Rule id finds exactly the secrets listed (NULL-terminated), in order. */
static void
expect_secrets(const char *id, const char *text, const char *const *want)
{
	struct hits h;
	size_t i;

	run_both(rule(id), text, &h);
	for (i = 0; want[i] != NULL; i++) {
		if (i >= h.n)
			fail_msg("%s: missing secret #%zu '%s' in:\n%s", id, i, want[i], text);
		if (h.len[i] != strlen(want[i]) || memcmp(text + h.off[i], want[i], h.len[i]) != 0)
			fail_msg("%s: secret #%zu is '%.*s', want '%s' in:\n%s", id, i,
			         (int)h.len[i], text + h.off[i], want[i], text);
	}
	if (h.n != i)
		fail_msg("%s: %zu findings, want %zu; extra '%.*s' in:\n%s", id, h.n, i,
		         (int)h.len[i], text + h.off[i], text);
}

static void
expect_hit(const char *id, const char *text, const char *secret)
{
	const char *want[] = {secret, NULL};

	expect_secrets(id, text, want);
}

/* Rule id finds one secret that starts at the given text (for key blocks). */
static void
expect_block(const char *id, const char *text, const char *start)
{
	struct hits h;

	run_both(rule(id), text, &h);
	if (h.n != 1)
		fail_msg("%s: %zu findings, want 1 in:\n%s", id, h.n, text);
	if (text + h.off[0] != start)
		fail_msg("%s: finding at %zu, want %zu", id, h.off[0], (size_t)(start - text));
}

/* Rule id reports nothing in text. */
static void
expect_none(const char *id, const char *text)
{
	struct hits h;

	run_both(rule(id), text, &h);
	if (h.n != 0)
		fail_msg("%s reports '%.*s' in:\n%s", id, (int)h.len[0], text + h.off[0], text);
}

/* No structural rule reports anything in text. */
static void
expect_clean(const char *text)
{
	struct hits h;
	size_t i;

	for (i = 0; i < scan_struct_rules_n; i++) {
		run_rule(&scan_struct_rules[i], text, &h);
		if (h.n != 0)
			fail_msg("%s reports '%.*s' in:\n%s", scan_struct_rules[i].id,
			         (int)h.len[0], text + h.off[0], text);
	}
}

static const char *
fmt(const char *f, ...)
{
	char b[20000];
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(b, sizeof(b), f, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(b));
	return memcpy(arena_alloc((size_t)n + 1), b, (size_t)n + 1);
}

/* Every pattern compiles, every rule has its texts, ids are unique. */
static void
test_struct_rules_table(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(scan_struct_rules_n >= 15);
	for (i = 0; i < scan_struct_rules_n; i++) {
		const struct scan_rule *r = &scan_struct_rules[i];
		pcre2_code *re = compile(r);

		assert_non_null(r->description);
		assert_non_null(r->hint);
		assert_non_null(r->keywords);
		assert_non_null(r->keywords[0]);
		assert_true(pcre2_substring_number_from_name(re, (PCRE2_SPTR) "secret") > 0);
		pcre2_code_free(re);
		for (j = 0; j < i; j++)
			assert_string_not_equal(r->id, scan_struct_rules[j].id);
	}
}

/* Private key blocks --------------------------------------------------------- */

static void
test_struct_private_key(void **state)
{
	static const char *const labels[] = {"RSA PRIVATE KEY", "PRIVATE KEY",
	                                     "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY",
	                                     "DSA PRIVATE KEY"};
	const char *k, *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		/* a plain .pem file */
		k = pem(labels[i], 12, 64, "", "\n", NULL);
		t = fmt("%s\n", k);
		expect_block("private-key", t, t);
		/* a YAML block scalar, indented */
		k = pem(labels[i], 8, 64, "    ", "\n", NULL);
		t = fmt("tls:\n  key: |\n%s\n  other: 1\n", k);
		expect_block("private-key", t, strstr(t, "-----BEGIN"));
		/* one JSON line with \n escapes */
		k = pem(labels[i], 8, 64, "", "\\n", NULL);
		t = fmt("{\"name\": \"x\", \"key\": \"%s\\n\"}\n", k);
		expect_block("private-key", t, strstr(t, "-----BEGIN"));
		/* .env with \n escapes */
		t = fmt("TLS_KEY=\"%s\"\n", k);
		expect_block("private-key", t, strstr(t, "-----BEGIN"));
	}
	/* concatenated string pieces in Java/JS */
	k = pem("RSA PRIVATE KEY", 6, 64, "", "\\n\" +\n    \"", NULL);
	t = fmt("String key =\n    \"%s\";\n", k);
	expect_block("private-key", t, strstr(t, "-----BEGIN"));
	/* Python implicit concatenation */
	k = pem("PRIVATE KEY", 6, 64, "", "\\n\"\n    \"", NULL);
	t = fmt("KEY = (\n    \"%s\"\n)\n", k);
	expect_block("private-key", t, strstr(t, "-----BEGIN"));
	/* a multi-line Python string and a shell heredoc */
	k = pem("EC PRIVATE KEY", 4, 64, "", "\n", NULL);
	t = fmt("key = \"\"\"%s\n\"\"\"\n", k);
	expect_block("private-key", t, strstr(t, "-----BEGIN"));
	t = fmt("cat > /etc/key.pem <<'EOF'\n%s\nEOF\n", k);
	expect_block("private-key", t, strstr(t, "-----BEGIN"));
	/* PKCS#1 with encryption headers */
	t = fmt("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,%s"
	        "\n\n%s\n%s\n-----END RSA PRIVATE KEY-----\n",
	        rnd(32, "0123456789ABCDEF"), rnd(64, B64), rnd(64, B64));
	expect_block("private-key", t, t);
	/* OpenSSH: 70-char lines, body starts openssh-key-v1 */
	k = pem("OPENSSH PRIVATE KEY", 6, 70, "", "\n",
	        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
	t = fmt("%s\n", k);
	expect_block("private-key", t, t);
	k = pem("OPENSSH PRIVATE KEY", 6, 70, "", "\\n",
	        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
	t = fmt("deploy_key: \"%s\"\n", k);
	expect_block("private-key", t, strstr(t, "-----BEGIN"));
}

static void
test_struct_private_key_negatives(void **state)
{
	const char *k;

	(void)state;
	/* public material of the same shape */
	expect_clean(pem("PUBLIC KEY", 6, 64, "", "\n", NULL));
	expect_clean(pem("CERTIFICATE", 10, 64, "", "\n", NULL));
	expect_clean(pem("CERTIFICATE REQUEST", 8, 64, "", "\n", NULL));
	expect_clean(pem("RSA PUBLIC KEY", 6, 64, "", "\n", NULL));
	/* armor that does not pair */
	expect_clean(fmt("-----BEGIN RSA PRIVATE KEY-----\n%s\n%s\n-----END EC PRIVATE KEY-----\n",
	                 rnd(64, B64), rnd(64, B64)));
	/* truncated: no end line */
	expect_clean(fmt("-----BEGIN PRIVATE KEY-----\n%s\n%s\n", rnd(64, B64), rnd(64, B64)));
	/* placeholders and code that builds a PEM */
	expect_clean("key = \"-----BEGIN RSA PRIVATE KEY-----\\nMIIE...\\n-----END RSA PRIVATE "
	             "KEY-----\"\n");
	expect_clean("pem = \"-----BEGIN PRIVATE KEY-----\\n\" + body + \"\\n-----END PRIVATE "
	             "KEY-----\\n\"\n");
	expect_clean("f\"-----BEGIN PRIVATE KEY-----\\n{b64body}\\n-----END PRIVATE KEY-----\"\n");
	expect_clean("-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE "
	             "KEY-----\n");
	expect_clean(
	        fmt("-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n",
	            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	/* an OpenSSH label whose body is not openssh-key-v1 */
	expect_clean(pem("OPENSSH PRIVATE KEY", 6, 70, "", "\n", NULL));
	/* the regex text of a scanner rule */
	expect_clean("re = r'-----BEGIN (RSA |EC )?PRIVATE KEY-----[\\s\\S]+?-----END'\n");
	/* a PEM public key next to a private-key name */
	k = pem("PUBLIC KEY", 6, 64, "", "\\n", NULL);
	expect_clean(fmt("{\"private_key_file\": \"k.pem\", \"public_key\": \"%s\"}\n", k));
}

static void
test_struct_pgp_and_putty(void **state)
{
	const char *t, *body = rnd(64, B64), *b2 = rnd(64, B64), *b3 = rnd(40, B64);
	const char *crc = rnd(4, B64);

	(void)state;
	t = fmt("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n%s\n%s\n%s\n=%s\n"
	        "-----END PGP PRIVATE KEY BLOCK-----\n",
	        body, b2, b3, crc);
	expect_block("pgp-private-key", t, t);
	expect_clean(fmt("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n%s\n%s\n=%s\n-----END PGP PUBLIC "
	                 "KEY BLOCK-----\n",
	                 body, b2, crc));
	/* escaped in JSON */
	t = fmt("{\"gpg\": \"-----BEGIN PGP PRIVATE KEY BLOCK-----\\n\\n%s\\n%s\\n=%s\\n-----END "
	        "PGP PRIVATE KEY BLOCK-----\\n\"}",
	        body, b2, crc);
	expect_block("pgp-private-key", t, strstr(t, "-----BEGIN"));
	/* YAML block scalar */
	t = fmt("signing:\n  key: |\n    -----BEGIN PGP PRIVATE KEY BLOCK-----\n\n    %s\n    %s\n"
	        "    =%s\n    -----END PGP PRIVATE KEY BLOCK-----\n",
	        body, b2, crc);
	expect_block("pgp-private-key", t, strstr(t, "-----BEGIN"));

	/* PuTTY .ppk v2 and v3 */
	t = fmt("PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: rsa-key-1\n"
	        "Public-Lines: 2\n%s\n%s\nPrivate-Lines: 2\n%s\n%s\nPrivate-MAC: %s\n",
	        rnd(64, B64), rnd(40, B64), rnd(64, B64), rnd(44, B64), rnd(40, HEX));
	expect_block("putty-private-key", t, t);
	t = fmt("PuTTY-User-Key-File-3: ssh-ed25519\r\nEncryption: none\r\nComment: ed\r\n"
	        "Public-Lines: 2\r\n%s\r\n%s\r\nPrivate-Lines: 1\r\n%s\r\n",
	        rnd(64, B64), rnd(4, B64), rnd(44, B64));
	expect_block("putty-private-key", t, t);
	/* escaped in a JSON string */
	t = fmt("{\"ppk\": \"PuTTY-User-Key-File-3: ssh-ed25519\\nEncryption: none\\nComment: x\\n"
	        "Public-Lines: 1\\n%s\\nPrivate-Lines: 1\\n%s\\n\"}",
	        rnd(64, B64), rnd(44, B64));
	expect_block("putty-private-key", t, strstr(t, "PuTTY"));
	/* a mention, no key */
	expect_clean("# PuTTY-User-Key-File-2: files are converted with puttygen\n");
}

static const char *
gcp_json(const char *indent, const char *q, const char *nl)
{
	const char *k = pem("PRIVATE KEY", 10, 64, "", nl, NULL);

	return fmt("{%s%stype%s: %sservice_account%s,%s%sproject_id%s: %sdemo-1%s,%s"
	           "%sprivate_key_id%s: %s%s%s,%s%sprivate_key%s: %s%s%s%s,%s"
	           "%sclient_email%s: %sbot@demo-1.iam.gserviceaccount.com%s%s}",
	           indent, q, q, q, q, indent, q, q, q, q, indent, q, q, q, rnd(40, HEX), q, indent,
	           q, q, q, k, nl, q, indent, q, q, q, q, indent);
}

static void
test_struct_gcp_service_account(void **state)
{
	const char *t;
	struct hits h;

	(void)state;
	/* a key file: found once, by this rule, not also as a private key */
	t = gcp_json("\n  ", "\"", "\\n");
	expect_block("gcp-service-account", t, strstr(t, "-----BEGIN"));
	run_rule(rule("private-key"), t, &h);
	assert_int_equal(h.n, 0);
	/* minified on one line */
	t = gcp_json("", "\"", "\\n");
	expect_block("gcp-service-account", t, strstr(t, "-----BEGIN"));
	/* pasted into an env var: JSON inside a string, quotes escaped */
	t = fmt("GOOGLE_CREDENTIALS=\"%s\"\n", gcp_json(" ", "\\\"", "\\\\n"));
	expect_block("gcp-service-account", t, strstr(t, "-----BEGIN"));
	/* a private_key field that is no service account is a private key */
	t = fmt("{\"private_key\": \"%s\"}", pem("PRIVATE KEY", 6, 64, "", "\\n", NULL));
	run_rule(rule("gcp-service-account"), t, &h);
	assert_int_equal(h.n, 0);
	expect_block("private-key", t, strstr(t, "-----BEGIN"));
	/* placeholder key */
	expect_clean("{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE "
	             "KEY-----\\nREPLACE_ME\\n-----END PRIVATE KEY-----\\n\"}");
}

/* Cloud credentials next to a name or an id -------------------------------- */

static void
test_struct_azure(void **state)
{
	const char *key = fmt("%s==", rnd_mixed(86, B64)), *sig, *t;

	(void)state;
	/* connection string in C#, appsettings.json, .env */
	t = fmt("var cs = \"DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=%s;"
	        "EndpointSuffix=core.windows.net\";\n",
	        key);
	expect_hit("azure-storage-key", t, key);
	t = fmt("{\n  \"Storage\": {\n    \"ConnectionString\": \"DefaultEndpointsProtocol=https;"
	        "AccountName=d;AccountKey=%s\"\n  }\n}\n",
	        key);
	expect_hit("azure-storage-key", t, key);
	t = fmt("AZURE_STORAGE_KEY=%s\n", key);
	expect_hit("azure-storage-key", t, key);
	t = fmt("storage_account_key: \"%s\"\n", key);
	expect_hit("azure-storage-key", t, key);
	/* negatives: placeholder, too short, the emulator's well-known shape aside */
	expect_clean("AccountKey=<your-account-key>;\n");
	expect_clean(fmt("AccountKey=%s==\n", rnd(40, B64)));
	expect_clean(fmt("AccountKey=%s==\n",
	                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	                 "xxxxxxxxxxxxxxxxxxxxxxxxxx"));

	/* SAS: sig= in a URL, in YAML, in a connection string */
	sig = fmt("%s%%3D", rnd_mixed(43, B62));
	t = fmt("url = \"https://demo.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&srt=o&sp=r"
	        "&se=2030-01-01T00:00:00Z&spr=https&sig=%s\"\n",
	        sig);
	expect_hit("azure-sas-token", t, sig);
	t = fmt("sas_url: https://d.blob.core.windows.net/c?sig=%s&sv=2021-08-06&sp=rl\n", sig);
	expect_hit("azure-sas-token", t, sig);
	t = fmt("BlobEndpoint=https://d.blob.core.windows.net/;SharedAccessSignature=sv=2020-08-04"
	        "&ss=b&sp=rl&sig=%s\n",
	        sig);
	expect_hit("azure-sas-token", t, sig);
	expect_clean("https://d.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=<SIGNATURE>\n");
	expect_clean("https://example.org/api?sig=abc&sv=1\n");
}

static void
test_struct_aws_secret(void **state)
{
	const char *sk = rnd_mixed(40, B64),
	           *id = fmt("AKIA%s", rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
	const char *t;

	(void)state;
	/* ~/.aws/credentials, Python, JSON, .env, YAML, next line after the id */
	t = fmt("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id, sk);
	expect_hit("aws-secret-access-key", t, sk);
	t = fmt("client = boto3.client('s3', aws_access_key_id='%s',\n    "
	        "aws_secret_access_key='%s')\n",
	        id, sk);
	expect_hit("aws-secret-access-key", t, sk);
	t = fmt("{\"accessKeyId\": \"%s\", \"secretAccessKey\": \"%s\"}\n", id, sk);
	expect_hit("aws-secret-access-key", t, sk);
	t = fmt("AWS_SECRET_ACCESS_KEY=%s\n", sk);
	expect_hit("aws-secret-access-key", t, sk);
	t = fmt("aws:\n  secret_key: \"%s\"\n  aws_secret: %s\n", rnd(8, B62), sk);
	expect_hit("aws-secret-access-key", t, sk);
	/* the line after the access key id, or the same line */
	t = fmt("key = \"%s\"\nsecret = \"%s\"\n", id, sk);
	expect_hit("aws-secret-access-key-pair", t, sk);
	t = fmt("User Name,Access key ID,Secret access key\nci,%s,%s\n", id, sk);
	expect_hit("aws-secret-access-key-pair", t, sk);
	t = fmt("{\"Credentials\": {\"AccessKeyId\": \"%s\",\n  \"SecretKey\": \"%s\"}}\n", id, sk);
	expect_hit("aws-secret-access-key-pair", t, sk);
	expect_none("aws-secret-access-key-pair",
	            fmt("key = \"%s\"\n\nlater = \"%s\"\n", id, sk)); /* two lines on */

	/* the documentation pair, session tokens, far from any name, other ids */
	expect_clean(fmt("aws_access_key_id = %s%s\naws_secret_access_key = %s%s%s\n",
	                 "AKIAIOSFODNN7", "EXAMPLE", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY",
	                 "EXAMPLEKEY"));
	expect_clean(fmt("aws_session_token = FwoGZXIvYXdzE%s\n", rnd(300, B64)));
	expect_clean(fmt("checksum = \"%s\"\n", sk));
	expect_none("aws-secret-access-key", fmt("aws_secret_access_key = %s\n", rnd(40, HEX)));
	expect_clean("aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}\n");
	expect_clean(fmt("AIDA%s\nsome_value = %s\n", rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
	                 rnd(40, HEX)));
}

static void
test_struct_twilio(void **state)
{
	const char *sid = fmt("AC%s", rnd(32, HEX)), *tok = rnd(32, HEX);
	const char *sk = fmt("SK%s", rnd(32, HEX)), *sec = rnd_mixed(32, B62), *t;

	(void)state;
	t = fmt("TWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\n", sid, tok);
	expect_hit("twilio-auth-token", t, tok);
	t = fmt("from twilio.rest import Client\n\nclient = Client(\"%s\", \"%s\")\n", sid, tok);
	expect_hit("twilio-auth-token", t, tok);
	t = fmt("twilio:\n  account_sid: %s\n  auth_token: \"%s\"\n", sid, tok);
	expect_hit("twilio-auth-token", t, tok);
	t = fmt("{\"twilioAuthToken\": \"%s\"}\n", tok);
	expect_hit("twilio-auth-token", t, tok);
	/* an SID alone, an SID next to another SID */
	expect_clean(fmt("sid = \"%s\"\n", sid));
	expect_clean(fmt("sids = [\"%s\", \"MG%s\"]\n", sid, rnd(32, HEX)));
	expect_clean(fmt("TWILIO_AUTH_TOKEN=%s\n", "your_auth_token"));

	t = fmt("TWILIO_API_KEY=%s\nTWILIO_API_SECRET=%s\n", sk, sec);
	expect_hit("twilio-api-key-secret", t, sec);
	t = fmt("new Twilio(\"%s\", \"%s\", {accountSid: \"%s\"});\n", sk, sec, sid);
	expect_hit("twilio-api-key-secret", t, sec);
	t = fmt("{\"api_key_sid\": \"%s\", \"api_secret\": \"%s\"}\n", sk, sec);
	expect_hit("twilio-api-key-secret", t, sec);
	expect_clean(fmt("TWILIO_API_KEY=%s\nTWILIO_API_SECRET=%s\n", sk,
	                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
}

/* JSON Web Tokens ------------------------------------------------------------ */

static const char *
jwt(const char *header_json)
{
	char p[128];

	snprintf(p, sizeof(p), "{\"sub\":\"%s\",\"iat\":1700000000}", rnd(10, B62));
	return fmt("%s.%s.%s", b64s(header_json, true), b64s(p, true), rnd(43, B62));
}

static void
test_struct_jwt(void **state)
{
	const char *j = jwt("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"), *t;

	(void)state;
	t = fmt("headers = {\"Authorization\": \"Bearer %s\"}\n", j);
	expect_hit("jwt", t, j);
	t = fmt("{\"access_token\": \"%s\", \"expires_in\": 3600}\n", j);
	expect_hit("jwt", t, j);
	t = fmt("API_TOKEN=%s\n", j);
	expect_hit("jwt", t, j);
	t = fmt("curl -H 'Authorization: Bearer %s' https://api.local/\n", j);
	expect_hit("jwt", t, j);
	j = jwt("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"k1\"}");
	t = fmt("jwt: %s\n", j);
	expect_hit("jwt", t, j);

	/* the jwt.io sample, an unsigned token, no token word, bad header */
	expect_clean(
	        fmt("token = \"%s.%s.%s%s\"\n", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
	            "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ",
	            "SflKxwRJSMeKKF2QT4fwpMeJf36POk6y", "JV_adQssw5c"));
	expect_clean(fmt("token = \"%s\"\n", jwt("{\"alg\":\"none\"}")));
	expect_clean(fmt("claims = \"%s\"\n", jwt("{\"alg\":\"HS256\"}")));
	expect_clean(fmt("token = \"eyJ%s.eyJ%s.%s\"\n", rnd(30, B62), rnd(30, B62), rnd(43, B62)));
}

/* URLs and connection strings ------------------------------------------------ */

static void
test_struct_database_url(void **state)
{
	static const char *const schemes[] = {
	        "postgres",    "postgresql",    "postgresql+psycopg2",
	        "mysql",       "mysql+pymysql", "mongodb",
	        "mongodb+srv", "redis",         "rediss",
	        "amqp",        "amqps",         "mssql",
	        "sqlserver",   "mariadb",
	};
	const char *pw, *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		pw = rnd_mixed(16, B62);
		t = fmt("engine = create_engine(\"%s://app:%s@db.internal:5432/app\")\n",
		        schemes[i], pw);
		expect_hit("database-url", t, pw);
		t = fmt("DATABASE_URL=%s://app:%s@db.internal/app?sslmode=require\n", schemes[i],
		        pw);
		expect_hit("database-url", t, pw);
		t = fmt("services:\n  app:\n    environment:\n      - URL=%s://u:%s@h:1/x\n",
		        schemes[i], pw);
		expect_hit("database-url", t, pw);
	}
	pw = rnd_mixed(12, B62);
	t = fmt("REDIS_URL=redis://:%s@cache:6379/0\n", pw);
	expect_hit("database-url", t, pw);
	t = fmt("{\"url\": \"jdbc:postgresql://db/app?user=app&password=%s&ssl=true\"}\n", pw);
	expect_hit("jdbc-url", t, pw);
	t = fmt("spring.datasource.url=jdbc:sqlserver://"
	        "db:1433;databaseName=app;user=sa;password=%s;\n",
	        pw);
	expect_hit("jdbc-url", t, pw);
	t = fmt("jdbc.url = \"jdbc:mysql://db:3306/app?password=%s\"\n", pw);
	expect_hit("jdbc-url", t, pw);
	t = fmt("\"Default\": \"Server=db;Database=app;User Id=sa;Password=%s;\"\n", pw);
	expect_hit("adonet-password", t, pw);
	t = fmt("var cs = @\"Data Source=.\\SQLEXPRESS;Initial Catalog=app;Pwd=%s\";\n", pw);
	expect_hit("adonet-password", t, pw);
	t = fmt("<add name=\"db\" connectionString=\"Host=pg;Username=app;Password=%s\" />\n", pw);
	expect_hit("adonet-password", t, pw);

	/* placeholders, references, the user name again, no password */
	expect_clean("DATABASE_URL=postgres://user:password@localhost:5432/db\n");
	expect_clean("url: postgresql://app:<PASSWORD>@db/app\n");
	expect_clean("url = \"postgresql://app:${DB_PASSWORD}@db/app\"\n");
	expect_clean("url = \"mysql://app:****@db/app\"\n");
	expect_clean("DATABASE_URL=postgres://postgres:postgres@localhost:5432/test\n");
	expect_clean("url = \"postgres://app@db:5432/app\"\n");
	expect_clean("REDIS_URL=redis://cache:6379/0\n");
	expect_clean("url = \"jdbc:postgresql://db/app?user=app&password=${DB_PASS}\"\n");
	expect_clean("\"Server=db;Database=app;Integrated Security=true;\"\n");
	expect_clean("Password=%(db_password)s;Server=db\n");
}

static void
test_struct_basic_auth(void **state)
{
	const char *pw = rnd_mixed(14, B62), *t, *b;
	char up[64];

	(void)state;
	/* URLs: git remote, .git-credentials, pip index */
	t = fmt("[remote \"origin\"]\n\turl = https://deploy:%s@git.example.org/team/app.git\n",
	        pw);
	expect_hit("basic-auth-url", t, pw);
	t = fmt("https://bot:%s@github.com\n", pw);
	expect_hit("basic-auth-url", t, pw);
	t = fmt("PIP_INDEX_URL=\"https://ci:%s@pypi.internal/simple\"\n", pw);
	expect_hit("basic-auth-url", t, pw);
	expect_clean("url = \"https://user:password@example.com/\"\n");
	expect_clean("url = \"https://${USER}:${TOKEN}@git.example.org/x.git\"\n");
	expect_clean("see https://example.org:8080/path and mailto:a@b.c\n");
	expect_clean("url = \"https://host:8080@other\"\n");

	/* Authorization: Basic base64(user:pass) */
	snprintf(up, sizeof(up), "admin:%s", pw);
	b = b64s(up, false);
	t = fmt("curl -H \"Authorization: Basic %s\" https://api.local/\n", b);
	expect_hit("basic-auth-header", t, b);
	t = fmt("headers:\n  Authorization: Basic %s\n", b);
	expect_hit("basic-auth-header", t, b);
	t = fmt("req.setRequestHeader('Authorization', 'Basic %s');\n", b);
	expect_hit("basic-auth-header", t, b);
	expect_clean(fmt("Authorization: Basic %s\n", b64s("no colon in here", false)));
	expect_clean(fmt("Authorization: Basic %s\n", b64s("user:changeme", false)));
	expect_clean("Authorization: Basic <base64 of user:password>\n");
	expect_clean("Authorization: Basic ${CREDS}\n");

	/* Docker config.json, also as an escaped string */
	t = fmt("{\n  \"auths\": {\n    \"registry.local\": {\n      \"auth\": \"%s\"\n    }\n  "
	        "}\n}\n",
	        b);
	expect_hit("docker-config-auth", t, b);
	t = fmt("{\"auths\":{\"ghcr.io\":{\"auth\":\"%s\"}}}", b);
	expect_hit("docker-config-auth", t, b);
	t = fmt("stringData:\n  config: "
	        "\"{\\\"auths\\\":{\\\"r\\\":{\\\"auth\\\":\\\"%s\\\"}}}\"\n",
	        b);
	expect_hit("docker-config-auth", t, b);
	expect_none("docker-config-auth",
	            fmt("{\"auths\": {\"r\": {\"auth\": \"%s\"}}}", b64s("dXNlcm5hbWU", false)));
}

static void
test_struct_k8s_secret(void **state)
{
	const char *a = rnd_mixed(20, B62), *b = rnd_mixed(24, B62);
	const char *ea = b64s(a, false), *eb = fmt("%s", b64s(b, false)), *t;
	const char *want[] = {ea, eb, NULL}, *want_plain[] = {a, b, NULL};

	(void)state;
	/* data: every value, base64 */
	t = fmt("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
	        "  password: %s\n  api-key: %s\n",
	        ea, eb);
	expect_secrets("k8s-secret", t, want);
	/* kubectl order: data before kind, quoted values, a comment, in a stream */
	t = fmt("---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n---\napiVersion: v1\ndata:\n"
	        "  # the db\n  password: \"%s\"\n  token: '%s'\nkind: Secret\nmetadata:\n  name: "
	        "x\n",
	        ea, eb);
	expect_secrets("k8s-secret", t, want);
	/* stringData: plain values, in a List */
	t = fmt("items:\n  - apiVersion: v1\n    kind: Secret\n    stringData:\n      user: %s\n"
	        "      pass: %s\n",
	        a, b);
	expect_secrets("k8s-secret", t, want_plain);

	/* a ConfigMap, placeholders, references, a SealedSecret */
	expect_none("k8s-secret",
	            fmt("apiVersion: v1\nkind: ConfigMap\ndata:\n  password: %s\n", ea));
	expect_clean(fmt("kind: Secret\ndata:\n  password: %s\n  token: \"\"\n",
	                 b64s("changeme", false)));
	expect_clean("kind: Secret\nstringData:\n  password: ${DB_PASSWORD}\n");
	expect_clean("kind: Secret\nstringData:\n  password: \"{{ .Values.db.password }}\"\n");
	expect_clean(fmt("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nspec:\n"
	                 "  encryptedData:\n    password: Ag%s\n",
	                 rnd(400, B64)));
	expect_clean(
	        fmt("kind: Secret\ndata:\n  ca.crt: %s\n",
	            b64s("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", false)));
}

/* Generic assignments --------------------------------------------------------- */

static void
test_struct_generic(void **state)
{
	const char *r = rnd_mixed(24, B62), *h = rnd(40, HEX), *t;
	const char *pw = fmt("Winter%s!%s", rnd(2, "0123456789"), rnd(2, "abcdefgh"));

	(void)state;
	/* source literals in many languages */
	t = fmt("API_KEY = \"%s\"\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("const apiKey = '%s';\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("\ttoken := \"%s\"\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("  private static final String CLIENT_SECRET = \"%s\";\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("$config['db_password'] = '%s';\n", pw);
	expect_hit("generic-secret", t, pw);
	t = fmt("conn.setPassword(\"%s\");\n", pw);
	expect_hit("generic-secret", t, pw);
	t = fmt(":auth_token => \"%s\",\n", r);
	expect_hit("generic-secret", t, r);
	/* config values: YAML, JSON, .env, TOML, properties, INI, Dockerfile */
	t = fmt("db:\n  password: %s\n", pw);
	expect_hit("generic-secret", t, pw);
	t = fmt("{\"clientSecret\": \"%s\"}\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("SESSION_SECRET=%s\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("export GITLAB_API_TOKEN=%s\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("[service]\napi_key = \"%s\"\n", h);
	expect_hit("generic-secret", t, h);
	t = fmt("mail.smtp.password=%s\n", pw);
	expect_hit("generic-secret", t, pw);
	t = fmt("ENV SIGNING_SECRET %s\n", r);
	expect_hit("generic-secret", t, r);
	t = fmt("ARG NPM_AUTH=%s\n", r);
	expect_hit("generic-secret", t, r);
	/* XML element and attribute forms */
	t = fmt("<settings>\n  <password>%s</password>\n</settings>\n", pw);
	expect_hit("generic-secret", t, pw);
	t = fmt("<add key=\"ApiKey\" value=\"%s\" />\n", r);
	expect_hit("generic-secret", t, r);

	/* not reported: placeholders, references, low entropy, names of things */
	expect_clean("password = \"changeme\"\n");
	expect_clean("API_KEY=<YOUR_API_KEY>\n");
	expect_clean("api_key: your-api-key-here\n");
	expect_clean("SECRET_KEY=REPLACE_ME\n");
	expect_clean("token = \"TODO\"\n");
	expect_clean("password: \"********\"\n");
	expect_clean("auth_token = \"REDACTED\"\n");
	expect_clean("client_secret: dummy-secret-value\n");
	expect_clean("password = os.environ[\"DB_PASSWORD\"]\n");
	expect_clean("password = os.getenv(\"DB_PASSWORD\")\n");
	expect_clean("const token = process.env.API_TOKEN;\n");
	expect_clean("String pw = System.getenv(\"DB_PASSWORD\");\n");
	expect_clean("token := os.Getenv(\"TOKEN\")\n");
	expect_clean("api_key = ENV.fetch('API_KEY')\n");
	expect_clean("password: ${DB_PASSWORD}\n");
	expect_clean("PASSWORD=$DB_PASSWORD\n");
	expect_clean("password = \"%(db_password)s\"\n");
	expect_clean("password: \"{{ .Values.db.password }}\"\n");
	expect_clean("token: ${{ secrets.API_TOKEN }}\n");
	expect_clean("password: \"{{ vault 'secret/db' 'password' }}\"\n");
	expect_clean("DB_PASSWORD=$(cat /run/secrets/db_password)\n");
	expect_clean(
	        "password: ENC[AES256_GCM,data:Tr7o1VfQ4x==,iv:1Bb3F1xQ=,tag:Zf8Q==,type:str]\n");
	expect_clean("db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6231356131\n");
	expect_clean(fmt("API_TOKEN=\"encrypted:%s\"\n", rnd(80, B64)));
	expect_clean("password_hash = "
	             "\"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\"\n");
	expect_clean("password: $argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g\n");
	expect_clean(fmt("token_sha256 = \"%s\"\n", rnd(64, HEX)));
	expect_clean("auth_token = \"123e4567-e89b-12d3-a456-426614174000\"\n");
	expect_clean(fmt("stripe_publishable_token = \"pk_live_%s\"\n", rnd(24, B62)));
	expect_clean("oauth_client_id: 1234-abcd.apps.googleusercontent.com\n");
	expect_clean("secret_name: my-app-secret-v2\n");
	expect_clean("token_url: https://oauth2.example.org/token\n");
	expect_clean("auth_provider: GithubEnterprise\n");
	expect_clean("private_key_path: config/keys/server.key\n");
	expect_clean("secret_file = /run/secrets/api_key\n");
	expect_clean("password = self.config.database.password\n");
	expect_clean("author = \"Jane Q. Public\"\n");
	expect_clean("tokenizer: bert-base-multilingual-cased\n");
	expect_clean("max_tokens: 4096\n");
	expect_clean(fmt("api_key = \"%s\"\n", rnd(24, HEX))); /* hex needs 32 */
	expect_clean("password = \"short1\"\n");
	expect_clean("password = \"onlyletters\"\n");
	expect_clean("api_key = \"abcdefghijklmnopqrstuvwxyz\"\n");
	expect_clean(fmt("api_key: %s  # %s\n", "xxxxxxxxxxxxxxxxxxxxxxxx", "placeholder"));
}

struct placed {
	const char *rule;
	size_t line, column;
};

struct placed_list {
	size_t n;
	struct placed p[MAX_HITS];
};

static int
collect_placed(void *arg, const struct scan_hit *hit)
{
	struct placed_list *l = arg;

	assert_true(l->n < MAX_HITS);
	l->p[l->n++] = (struct placed){hit->rule->id, hit->line, hit->column};
	return 0;
}

/* With every built-in rule: one finding per secret (a structural rule wins
 * over generic-secret on the same bytes), placed at the line where the
 * secret or its block starts. */
static void
test_struct_builtin_placement(void **state)
{
	struct scan_rule *all = NULL;
	struct scan_engine *e = NULL;
	struct scan_ctx *c = NULL;
	struct placed_list l = {0};
	const char *sk = rnd_mixed(40, B64), *pw = rnd_mixed(16, B62), *t;
	const char *j = jwt("{\"alg\":\"HS256\"}");
	char err[256];
	size_t n, i;
	static const struct placed want[] = {
	        {"private-key", 3, 7},   {"aws-secret-access-key", 7, 25}, {"jwt", 8, 11},
	        {"database-url", 9, 29}, {"k8s-secret", 15, 13},           {"k8s-secret", 17, 10},
	};

	(void)state;
	t = fmt("# settings\r\n\r\nkey = %s\naws_secret_access_key = %s\nAPI_TOKEN=%s\n"
	        "DATABASE_URL=postgres://app:%s@db/app\n---\nkind: Secret\nmetadata:\n  name: x\n"
	        "data:\n  password: %s\nstringData:\n  token: %s\n",
	        pem("RSA PRIVATE KEY", 2, 64, "", "\n", NULL), sk, j, pw, b64s(pw, false),
	        rnd_mixed(20, B62));
	assert_int_equal(scan_builtin_rules(&all, &n), 0);
	if (scan_engine_new(all, n, &e, err, sizeof(err)) != 0)
		fail_msg("engine: %s", err);
	assert_int_equal(scan_ctx_new(e, &c), 0);
	assert_int_equal(scan_buffer(c, t, strlen(t), collect_placed, &l), 0);
	assert_int_equal(l.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < l.n; i++) {
		assert_string_equal(l.p[i].rule, want[i].rule);
		assert_int_equal(l.p[i].line, want[i].line);
		assert_int_equal(l.p[i].column, want[i].column);
	}
	scan_ctx_free(c);
	scan_engine_free(e);
	free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_struct_rules_table),
	        cmocka_unit_test(test_struct_private_key),
	        cmocka_unit_test(test_struct_private_key_negatives),
	        cmocka_unit_test(test_struct_pgp_and_putty),
	        cmocka_unit_test(test_struct_gcp_service_account),
	        cmocka_unit_test(test_struct_azure),
	        cmocka_unit_test(test_struct_aws_secret),
	        cmocka_unit_test(test_struct_twilio),
	        cmocka_unit_test(test_struct_jwt),
	        cmocka_unit_test(test_struct_database_url),
	        cmocka_unit_test(test_struct_basic_auth),
	        cmocka_unit_test(test_struct_k8s_secret),
	        cmocka_unit_test(test_struct_generic),
	        cmocka_unit_test(test_struct_builtin_placement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
