/* test_token_rules.c - the scanner's engine (tools/scan/engine.c) and every
 * token rule (tools/scan/rules_token.c).
 *
 * Tokens are synthetic and built at run time from templates: "{n:36}" is 36
 * random base62 characters from a fixed-seed generator, "{crc}" the GitHub/npm
 * checksum of the 30 characters before it ("{badcrc}" a wrong one), anything
 * else literal. No realistic token is written in this file. Every rule must
 * have a row here; each row's token is found in seven contexts (C and Python
 * literals, YAML, JSON, .env, a JSON string with \n escapes, a CRLF
 * multi-line string, after a UTF-8 BOM) at the right line and column, and its
 * look-alikes (wrong length, charset or checksum, public keys, placeholders)
 * are not. The engine tests cover allow markers, CRLF and BOM placement, hits
 * at the buffer's edges, windows on long lines, many hits, merging, custom
 * multi-line and case-insensitive rules, and pattern errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "tools/scan/scan.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(v)    (sizeof(v) / sizeof((v)[0]))
#define MAXTEXT 8192

/* ---------------------------------------------------------------- tokens */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static const char *
alphabet(char c)
{
	switch (c) {
	case 'n':
		return "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	case 'u':
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	case 'b':
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	case 'h':
		return "0123456789abcdef";
	case 'H':
		return "0123456789ABCDEF";
	case 'd':
		return "0123456789";
	case 'U':
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	case '3':
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	case 'e':
		return "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
	case 'l':
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	case 'a':
		return "abcdefghijklmnopqrstuvwxyz0123456789";
	case 'm':
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.-";
	default:
		return NULL;
	}
}

static uint32_t
crc32_ieee(const char *s, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= (unsigned char)s[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return c ^ 0xffffffffu;
}

static void
put_checksum(char *out, size_t o, bool bad)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint32_t c;

	assert_true(o >= 30);
	c = crc32_ieee(out + o - 30, 30);
	for (int i = 5; i >= 0; i--) {
		out[o + (size_t)i] = b62[c % 62];
		c /= 62;
	}
	if (bad)
		out[o + 5] = out[o + 5] == 'a' ? 'b' : 'a';
}

/* Expands template t into out. placeholder: every random run is one
 * character repeated (the shape of `ghp_xxxx...`). */
static size_t
expand(const char *t, char *out, size_t cap, bool placeholder)
{
	size_t o = 0;

	while (*t != '\0') {
		if (*t != '{') {
			assert_true(o + 1 < cap);
			out[o++] = *t++;
			continue;
		}
		const char *end = strchr(t, '}');
		assert_non_null(end);
		if (strncmp(t, "{crc}", 5) == 0 || strncmp(t, "{badcrc}", 8) == 0) {
			assert_true(o + 6 < cap);
			put_checksum(out, o, t[1] == 'b');
			o += 6;
		} else {
			const char *a = alphabet(t[1]);
			size_t n = strtoul(t + 3, NULL, 10), al;
			assert_non_null(a);
			assert_true(t[2] == ':' && o + n < cap);
			al = strlen(a);
			char rep = strchr(a, 'X') != NULL ? 'X' : a[0];
			for (size_t i = 0; i < n; i++)
				out[o++] = placeholder ? rep : a[rng() % al];
		}
		t = end + 1;
	}
	out[o] = '\0';
	return o;
}

/* ---------------------------------------------------------------- the table */

struct row {
	const char *rule;
	const char *token;      /* template of the token */
	const char *neg[4];     /* templates that must not be reported by rule */
	const char *const *ctx; /* contexts ("{T}" = the token); NULL: the defaults */
};

static const char *const default_ctx[] = {
        "static const char *api_key = \"{T}\";\n",
        "client = Client(token='{T}')  # prod\n",
        "auth:\n  credentials:\n    value: {T}\n",
        "{\"service\": {\"apiKey\": \"{T}\"}}\n",
        "# settings\nSERVICE_KEY={T}\n",
        "{\"blob\": \"first line\\n{T}\\nlast\"}\n",
        "cfg = \"\"\"\r\nuser = bob\r\n  key: {T}\r\n\"\"\"\r\n",
        "\xef\xbb\xbf"
        "key = \"{T}\"\n",
        NULL,
};

static const char *const neg_ctx[] = {
        "static const char *api_key = \"{T}\";\n",
        "{\"service\": {\"apiKey\": \"{T}\"}}\n",
        "{\"blob\": \"first line\\n{T}\\nlast\"}\n",
        "SERVICE_KEY={T}\n",
        NULL,
};

static const char *const vault_ctx[] = {
        "VAULT_TOKEN = \"{T}\"\n",
        "vault_token: {T}\n",
        "{\"vaultToken\": \"{T}\"}\n",
        "export VAULT_TOKEN='{T}'\n",
        NULL,
};

static const struct row rows[] = {
        {"aws-access-key-id",
         "AKIA{3:16}",
         {"AIDA{3:16}", "AKIA{3:15}", "AKIA{3:17}", "akia{3:16}"}},
        {"aws-access-key-id", "ASIA{3:16}", {"AROA{3:16}", "ASIA{3:16}1"}},
        {"github-pat",
         "ghp_{n:30}{crc}",
         {"ghp_{n:30}{badcrc}", "ghp_{n:35}", "ghp_{n:36}", "ghp_{n:37}"}},
        {"github-oauth-token", "gho_{n:30}{crc}", {"gho_{n:30}{badcrc}", "gho_{n:29}{crc}"}},
        {"github-user-token", "ghu_{n:30}{crc}", {"ghu_{n:30}{badcrc}"}},
        {"github-server-token", "ghs_{n:30}{crc}", {"ghs_{n:30}{badcrc}"}},
        {"github-refresh-token", "ghr_{n:30}{crc}", {"ghr_{n:30}{badcrc}"}},
        {"github-fine-grained-pat",
         "github_pat_{n:22}_{n:59}",
         {"github_pat_{n:22}_{n:58}", "github_pat_{n:21}_{n:59}"}},
        {"gitlab-pat", "glpat-{u:20}", {"glpat-{u:19}", "glpat-{u:21}"}},
        {"gitlab-pat", "glpat-{u:40}.{a:2}.{a:8}", {"glpat-{u:12}.{a:2}.{a:8}"}},
        {"gitlab-deploy-token", "gldt-{u:20}", {"gldt-{u:19}"}},
        {"gitlab-runner-token", "glrt-{u:20}", {"glrt-{u:10}"}},
        {"gitlab-runner-token", "GR1348941{u:20}", {"GR1348941{u:10}"}},
        {"gitlab-pipeline-trigger-token", "glptt-{h:40}", {"glptt-{h:39}", "glptt-{h:10}"}},
        {"gitlab-other-token", "glcbt-{h:2}_{u:20}", {"glcbt-{u:10}"}},
        {"gitlab-other-token", "glft-{u:20}", {"glft-{u:12}"}},
        {"gitlab-other-token", "glsoat-{u:20}", {"glsoat-{u:12}"}},
        {"gitlab-other-token", "gloas-{u:64}", {"gloas-{u:12}"}},
        {"slack-bot-token",
         "xoxb-{d:11}-{d:12}-{n:24}",
         {"xoxb-{d:11}-{d:12}-{n:20}", "xoxb-{d:5}-{d:12}-{n:24}"}},
        {"slack-user-token",
         "xoxp-{d:11}-{d:11}-{d:12}-{h:32}",
         {"xoxp-{d:11}-{d:12}-{h:32}", "xoxp-{d:11}-{d:11}-{d:12}-{h:20}"}},
        {"slack-app-token", "xapp-1-A{U:10}-{d:13}-{h:64}", {"xapp-1-A{U:10}-{d:13}-{h:20}"}},
        {"slack-refresh-token", "xoxe.xoxp-1-{n:140}", {"xoxe.xoxp-1-{n:30}"}},
        {"slack-refresh-token", "xoxe-1-{n:140}", {"xoxe-1-{n:30}"}},
        {"slack-webhook",
         "hooks.slack.com/services/T{U:9}/B{U:9}/{n:24}",
         {"hooks.slack.com/services/T{U:9}/B{U:9}/{n:10}", "hooks.slack.com/services/{n:24}"}},
        {"stripe-secret-key",
         "sk_live_{n:24}",
         {"pk_live_{n:24}", "sk_live_{n:10}", "sk_live_{l:5}"}},
        {"stripe-secret-key", "sk_test_51{n:97}", {"pk_test_51{n:97}"}},
        {"stripe-restricted-key", "rk_live_{n:24}", {"rk_live_{n:23}"}},
        {"stripe-webhook-secret", "whsec_{n:32}", {"whsec_{n:20}"}},
        {"google-api-key", "AIza{u:35}", {"AIza{u:34}", "AIza{u:36}"}},
        {"google-oauth-client-secret", "GOCSPX-{u:28}", {"GOCSPX-{u:20}"}},
        {"azure-ad-client-secret",
         "{n:3}{d:1}Q~{m:34}",
         {"{n:3}{d:1}Q~{m:30}", "{n:3}{l:1}Q~{m:34}"}},
        {"sendgrid-api-key", "SG.{u:22}.{u:43}", {"SG.{u:22}.{u:40}", "SG.{u:10}.{u:43}"}},
        {"npm-token", "npm_{n:30}{crc}", {"npm_{n:30}{badcrc}", "npm_{n:36}"}},
        {"pypi-token",
         "pypi-AgEIcHlwaS5vcmc{u:100}",
         {"pypi-AgEIcHlwaS5vcmc{u:20}", "pypi-{u:100}"}},
        {"openai-api-key", "sk-proj-{u:74}T3BlbkFJ{u:74}", {"sk-proj-{u:156}", "sk-{n:48}"}},
        {"openai-api-key", "sk-{n:20}T3BlbkFJ{n:20}", {"sk-{n:10}T3BlbkFJ{n:20}"}},
        {"openai-api-key", "sk-svcacct-{u:60}T3BlbkFJ{u:60}", {"sk-svcacct-{u:128}"}},
        {"openai-api-key", "sk-admin-{u:60}T3BlbkFJ{u:60}", {"sk-admin-{u:5}T3BlbkFJ{u:60}"}},
        {"anthropic-api-key", "sk-ant-api03-{u:93}AA", {"sk-ant-api03-{u:80}AA"}},
        {"anthropic-admin-key", "sk-ant-admin01-{u:93}AA", {"sk-ant-admin01-{u:93}"}},
        {"huggingface-token", "hf_{l:34}", {"hf_{l:33}", "hf_{l:20}{d:14}"}},
        {"huggingface-token", "api_org_{l:34}", {"api_org_{l:30}"}},
        {"vault-token", "hvs.{u:95}", {"hvs.{u:40}"}},
        {"vault-token", "hvb.{u:130}", {"hvb.{u:20}"}},
        {"vault-legacy-token",
         "s.{n:24}",
         {"VAULT_TOKEN = \"s.{n:20}\"", "token = \"s.{n:24}\""},
         vault_ctx},
        {"terraform-cloud-token", "{n:14}.atlasv1.{u:67}", {"{n:14}.atlasv1.{u:30}"}},
        {"digitalocean-pat", "dop_v1_{h:64}", {"dop_v1_{h:63}", "dop_v1_{H:64}"}},
        {"digitalocean-oauth-token", "doo_v1_{h:64}", {"doo_v1_{h:60}"}},
        {"digitalocean-refresh-token", "dor_v1_{h:64}", {"dor_v1_{h:60}"}},
        {"shopify-access-token", "shpat_{h:32}", {"shpat_{h:31}"}},
        {"shopify-access-token", "shpca_{h:32}", {"shpca_{h:33}"}},
        {"shopify-access-token", "shppa_{h:32}", {"shppa_{n:32}"}},
        {"shopify-shared-secret", "shpss_{h:32}", {"shpss_{h:33}"}},
        {"age-secret-key",
         "AGE-SECRET-KEY-1{e:58}",
         {"AGE-SECRET-KEY-1{e:50}", "AGE-SECRET-KEY-1{e:57}B"}},
        {"telegram-bot-token", "{d:9}:AA{u:33}", {"{d:9}:AB{u:33}", "{d:9}:AA{u:30}"}},
        {"mailgun-api-key", "key-{h:32}", {"key-{h:31}", "cache-key-{h:32}"}},
        {"doppler-token", "dp.pt.{n:43}", {"dp.pt.{n:20}"}},
        {"doppler-token", "dp.st.prd.{n:40}", {"dp.st.prd.{n:12}"}},
        {"databricks-token", "dapi{h:32}", {"dapi{h:31}"}},
        {"linear-api-key", "lin_api_{n:40}", {"lin_api_{n:39}"}},
        {"postman-api-key", "PMAK-{h:24}-{h:34}", {"PMAK-{h:24}-{h:30}"}},
        {"newrelic-api-key", "NRAK-{U:27}", {"NRAK-{U:20}"}},
        {"newrelic-api-key", "NRII-{u:32}", {"NRII-{u:20}"}},
        {"sentry-token", "sntrys_eyJ{b:80}_{b:43}", {"sntrys_eyJ{b:80}_{b:20}"}},
        {"sentry-token", "sntryu_{h:64}", {"sntryu_{h:60}"}},
        {"grafana-token", "glsa_{n:32}_{h:8}", {"glsa_{n:32}_{h:4}"}},
        {"grafana-token", "glc_eyJ{b:60}", {"glc_eyJ{b:10}"}},
        {"atlassian-api-token", "ATATT3{u:186}", {"ATATT3{u:100}"}},
        {"planetscale-token", "pscale_tkn_{u:43}", {"pscale_tkn_{u:20}"}},
        {"planetscale-token", "pscale_pw_{u:43}", {"pscale_pw_{u:20}"}},
        {"pulumi-access-token", "pul-{h:40}", {"pul-{h:39}"}},
        {"flyio-token", "fo1_{u:43}", {"fo1_{u:40}"}},
        {"flyio-token", "fm2_{b:200}", {"fm2_{b:50}"}},
        {"supabase-token", "sbp_{h:40}", {"sbp_{h:39}"}},
        {"supabase-token", "sb_secret_{u:31}", {"sb_secret_{u:20}"}},
        {"netlify-token", "nfp_{n:36}", {"nfp_{n:30}"}},
        {"heroku-api-key", "HRKU-AA{u:58}", {"HRKU-AA{u:50}"}},
        {"discord-webhook",
         "discord.com/api/webhooks/{d:18}/{u:68}",
         {"discord.com/api/webhooks/{d:18}/{u:20}"}},
        {"square-token", "sq0atp-{u:22}", {"sq0atp-{u:10}"}},
        {"square-token", "sq0csp-{u:43}", {"sq0csp-{u:20}"}},
        {"mailchimp-api-key", "{h:32}-us12", {"{h:31}-us12"}},
        {"alibaba-access-key-id", "LTAI{n:20}", {"LTAI{n:8}"}},
        {"notion-token", "ntn_{d:11}{n:35}", {"ntn_{l:46}"}},
        {"figma-pat", "figd_{u:40}", {"figd_{u:30}"}},
        {"buildkite-token", "bkua_{h:40}", {"bkua_{h:39}"}},
        {"mapbox-secret-token", "sk.eyJ{u:60}.{u:22}", {"pk.eyJ{u:60}.{u:22}"}},
        {"contentful-pat", "CFPAT-{u:43}", {"CFPAT-{u:40}"}},
        {"rubygems-api-key", "rubygems_{h:48}", {"rubygems_{h:40}"}},
        {"dockerhub-token", "dckr_pat_{u:27}", {"dckr_pat_{u:20}"}},
        {"tailscale-key", "tskey-auth-{n:11}-{n:30}", {"tskey-auth-{n:11}-{n:10}"}},
        {"groq-api-key", "gsk_{n:52}", {"gsk_{n:40}"}},
        {"replicate-api-token", "r8_{n:37}", {"r8_{n:30}"}},
        {"xai-api-key", "xai-{n:80}", {"xai-{n:70}"}},
        {"perplexity-api-key", "pplx-{n:48}", {"pplx-{n:40}"}},
        {"brevo-api-key", "xkeysib-{h:64}-{n:16}", {"xkeysib-{h:64}-{n:8}"}},
        {"dynatrace-token", "dt0c01.{U:24}.{U:64}", {"dt0c01.{U:24}.{U:30}"}},
        {"langsmith-api-key", "lsv2_pt_{h:32}_{h:10}", {"lsv2_pt_{h:32}_{h:5}"}},
        {"braintree-access-token",
         "access_token$production${a:16}${h:32}",
         {"access_token$production${a:16}${h:20}"}},
        {"firebase-cloud-messaging-key", "AAAA{u:7}:APA91b{u:134}", {"AAAA{u:7}:APA91b{u:50}"}},
        {"jfrog-api-key", "AKCp{n:69}", {"AKCp{n:60}"}},
        {"sourcegraph-token", "sgp_{h:16}_{h:40}", {"sgp_{h:30}"}},
        {"sourcegraph-token", "sgp_{h:40}", {"sgp_{h:39}"}},
        {"1password-service-account-token", "ops_eyJ{b:300}", {"ops_eyJ{b:100}"}},
};

/* ---------------------------------------------------------------- helpers */

struct found {
	char rule[64];
	size_t off, len, line, column;
};

struct sink {
	struct found v[2048];
	size_t n;
	int stop_after; /* > 0: return -100 at that many hits */
};

static int
collect(void *arg, const struct scan_hit *h)
{
	struct sink *s = arg;

	if (s->n < N(s->v)) {
		struct found *f = &s->v[s->n];
		snprintf(f->rule, sizeof(f->rule), "%s", h->rule->id);
		f->off = h->secret_off;
		f->len = h->secret_len;
		f->line = h->line;
		f->column = h->column;
	}
	s->n++;
	if (s->stop_after > 0 && s->n == (size_t)s->stop_after)
		return -100;
	return 0;
}

struct fixture {
	struct scan_engine *e;
	struct scan_ctx *c;
};

static struct fixture token_fx;

static int
setup_token(void **state)
{
	char err[256];

	(void)state;
	if (scan_engine_new(scan_token_rules, scan_token_rules_n, &token_fx.e, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "engine: %s\n", err);
		return -1;
	}
	return scan_ctx_new(token_fx.e, &token_fx.c);
}

static int
teardown_token(void **state)
{
	(void)state;
	scan_ctx_free(token_fx.c);
	scan_engine_free(token_fx.e);
	return 0;
}

/* Scans exactly len bytes from a heap copy (so a read past the end trips the
 * sanitizers). */
static int
scan_text(struct scan_ctx *c, const char *text, size_t len, struct sink *s)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, text, len);
	s->n = 0;
	r = scan_buffer(c, copy, len, collect, s);
	free(copy);
	return r;
}

/* Puts the token into a context: returns the text's length and the token's
 * offset in it. */
static size_t
place(const char *ctx, const char *tok, char *out, size_t cap, size_t *tok_off)
{
	const char *at = strstr(ctx, "{T}");
	size_t pre, tl = strlen(tok), post;

	assert_non_null(at);
	pre = (size_t)(at - ctx);
	post = strlen(at + 3);
	assert_true(pre + tl + post < cap);
	memcpy(out, ctx, pre);
	memcpy(out + pre, tok, tl);
	memcpy(out + pre + tl, at + 3, post + 1);
	*tok_off = pre;
	return pre + tl + post;
}

static void
expect_position(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t ls = 0;

	if (memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ls = 3;
	*line = 1;
	for (size_t i = ls; i < off; i++)
		if (text[i] == '\n') {
			(*line)++;
			ls = i + 1;
		}
	*col = off - ls + 1;
}

/* ---------------------------------------------------------------- token rules */

static void
test_token_rules_every_rule_has_rows(void **state)
{
	(void)state;
	assert_true(scan_token_rules_n >= 33);
	for (size_t i = 0; i < scan_token_rules_n; i++) {
		const struct scan_rule *r = &scan_token_rules[i];
		bool seen = false;
		for (size_t j = 0; j < N(rows); j++)
			seen |= strcmp(rows[j].rule, r->id) == 0;
		if (!seen)
			fail_msg("rule %s has no test row", r->id);
		assert_non_null(r->description);
		assert_non_null(r->hint);
		assert_non_null(r->keywords);
		assert_non_null(r->keywords[0]);
		assert_non_null(strstr(r->pattern, "(?<secret>"));
		for (size_t j = 0; j < i; j++)
			if (strcmp(scan_token_rules[j].id, r->id) == 0)
				fail_msg("rule id %s twice", r->id);
	}
	for (size_t j = 0; j < N(rows); j++) {
		bool known = false;
		for (size_t i = 0; i < scan_token_rules_n; i++)
			known |= strcmp(rows[j].rule, scan_token_rules[i].id) == 0;
		if (!known)
			fail_msg("row for unknown rule %s", rows[j].rule);
	}
}

static void
test_token_rules_found_in_every_context(void **state)
{
	char tok[MAXTEXT], text[MAXTEXT];
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	for (size_t j = 0; j < N(rows); j++) {
		const char *const *ctx = rows[j].ctx ? rows[j].ctx : default_ctx;
		for (size_t k = 0; ctx[k] != NULL; k++) {
			size_t tl = expand(rows[j].token, tok, sizeof(tok), false), off, line, col;
			size_t len = place(ctx[k], tok, text, sizeof(text), &off);
			bool ok = false;

			assert_int_equal(scan_text(token_fx.c, text, len, s), 0);
			expect_position(text, off, &line, &col);
			for (size_t i = 0; i < s->n; i++) {
				const struct found *f = &s->v[i];
				if (strcmp(f->rule, rows[j].rule) == 0 && f->off == off &&
				    f->len == tl && f->line == line && f->column == col)
					ok = true;
			}
			if (!ok || s->n != 1)
				fail_msg("rule %s, context %zu: %zu findings (first: %s at %zu+%zu "
				         "line %zu col %zu), want one at %zu+%zu line %zu col %zu",
				         rows[j].rule, k, s->n, s->n ? s->v[0].rule : "-",
				         s->n ? s->v[0].off : 0, s->n ? s->v[0].len : 0,
				         s->n ? s->v[0].line : 0, s->n ? s->v[0].column : 0, off,
				         tl, line, col);
		}
	}
	free(s);
}

/* With every built-in rule (structural and generic ones too), a token is one
 * finding, of its own rule. */
static void
test_token_rules_one_finding_with_all_rules(void **state)
{
	char tok[MAXTEXT], text[MAXTEXT], err[256];
	struct sink *s = calloc(1, sizeof(*s));
	struct scan_rule *all;
	struct scan_engine *e;
	struct scan_ctx *c;
	size_t n;

	(void)state;
	assert_non_null(s);
	assert_int_equal(scan_builtin_rules(&all, &n), 0);
	assert_int_equal(n, scan_token_rules_n + scan_struct_rules_n);
	assert_true(n >= 45);
	assert_int_equal(scan_engine_new(all, n, &e, err, sizeof(err)), 0);
	assert_int_equal(scan_ctx_new(e, &c), 0);
	for (size_t j = 0; j < N(rows); j++) {
		const char *const *ctx = rows[j].ctx ? rows[j].ctx : default_ctx;
		for (size_t k = 0; ctx[k] != NULL; k++) {
			size_t tl = expand(rows[j].token, tok, sizeof(tok), false), off;
			size_t len = place(ctx[k], tok, text, sizeof(text), &off);

			assert_int_equal(scan_text(c, text, len, s), 0);
			if (s->n != 1 || strcmp(s->v[0].rule, rows[j].rule) != 0 ||
			    s->v[0].off != off || s->v[0].len != tl)
				fail_msg("rule %s, context %zu: %zu findings, first %s at %zu+%zu, "
				         "want "
				         "%zu+%zu",
				         rows[j].rule, k, s->n, s->n ? s->v[0].rule : "-",
				         s->n ? s->v[0].off : 0, s->n ? s->v[0].len : 0, off, tl);
		}
	}
	scan_ctx_free(c);
	scan_engine_free(e);
	free(all);
	free(s);
}

static void
check_not_reported(const char *rule, const char *tok, const char *what)
{
	char text[MAXTEXT];
	struct sink *s = calloc(1, sizeof(*s));
	size_t off;

	assert_non_null(s);
	for (size_t k = 0; neg_ctx[k] != NULL; k++) {
		size_t len = place(neg_ctx[k], tok, text, sizeof(text), &off);
		assert_int_equal(scan_text(token_fx.c, text, len, s), 0);
		for (size_t i = 0; i < s->n; i++)
			if (strcmp(s->v[i].rule, rule) == 0)
				fail_msg("rule %s reported %s in context %zu: %.*s", rule, what, k,
				         (int)s->v[i].len, text + s->v[i].off);
	}
	free(s);
}

static void
test_token_rules_lookalikes_not_reported(void **state)
{
	char tok[MAXTEXT];

	(void)state;
	for (size_t j = 0; j < N(rows); j++)
		for (size_t k = 0; k < N(rows[j].neg) && rows[j].neg[k] != NULL; k++) {
			expand(rows[j].neg[k], tok, sizeof(tok), false);
			check_not_reported(rows[j].rule, tok, rows[j].neg[k]);
		}
}

static void
test_token_rules_placeholders_not_reported(void **state)
{
	static const char *const words[] = {"EXAMPLE", "example", "your", "YOUR", "changeme"};
	char tok[MAXTEXT];

	(void)state;
	for (size_t j = 0; j < N(rows); j++) {
		/* the token's shape with every random run one repeated character */
		expand(rows[j].token, tok, sizeof(tok), true);
		check_not_reported(rows[j].rule, tok, "a run of one character");
		/* a placeholder word in the middle of the random part */
		for (size_t w = 0; w < N(words); w++) {
			size_t tl = expand(rows[j].token, tok, sizeof(tok), false);
			size_t wl = strlen(words[w]), at = tl - wl - 1;
			if (rows[j].ctx != NULL || strstr(rows[j].token, "{crc}") != NULL ||
			    tl < wl + 12)
				continue;
			memcpy(tok + at, words[w], wl);
			check_not_reported(rows[j].rule, tok, words[w]);
		}
	}
}

static void
test_token_rules_aws_documentation_example(void **state)
{
	char text[256];
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	/* AWS's documentation pair, assembled from pieces */
	snprintf(text, sizeof(text), "aws_access_key_id = %s%s%s\naws_secret_access_key = %s%s\n",
	         "AKIA", "IOSFODNN7", "EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "EXAMPLEKEY");
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 0);
	free(s);
}

static void
test_token_rules_stripe_publishable_never(void **state)
{
	char tok[128];

	(void)state;
	for (int i = 0; i < 20; i++) {
		expand(i % 2 ? "pk_live_{n:99}" : "pk_test_{n:24}", tok, sizeof(tok), false);
		check_not_reported("stripe-secret-key", tok, "a publishable key");
		check_not_reported("stripe-restricted-key", tok, "a publishable key");
	}
}

static void
test_token_rules_github_checksum_every_digit(void **state)
{
	char tok[64], text[128];
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	/* a valid token is found; changing any one checksum character loses it */
	for (int round = 0; round < 20; round++) {
		size_t tl = expand("ghp_{n:30}{crc}", tok, sizeof(tok), false), off;
		size_t len = place("t = \"{T}\"\n", tok, text, sizeof(text), &off);
		assert_int_equal(scan_text(token_fx.c, text, len, s), 0);
		assert_int_equal(s->n, 1);
		for (size_t i = tl - 6; i < tl; i++) {
			char keep = text[off + i];
			text[off + i] = keep == '7' ? '8' : '7';
			assert_int_equal(scan_text(token_fx.c, text, len, s), 0);
			assert_int_equal(s->n, 0);
			text[off + i] = keep;
		}
	}
	free(s);
}

/* ---------------------------------------------------------------- the engine */

static size_t
make_token(char *out, size_t cap)
{
	return expand("ghp_{n:30}{crc}", out, cap, false);
}

static void
test_engine_allow_markers(void **state)
{
	static const char *const same_line[] = {
	        "coffer:allow",      "gitleaks:allow",          "pragma: allowlist secret",
	        "trufflehog:ignore", "secretlint-disable-line",
	};
	char tok[64], text[512];
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	make_token(tok, sizeof(tok));
	for (size_t i = 0; i < N(same_line); i++) {
		snprintf(text, sizeof(text), "a\nk = \"%s\" # %s\nb\n", tok, same_line[i]);
		assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
		assert_int_equal(s->n, 0);
		/* the marker on another line does not hide it */
		snprintf(text, sizeof(text), "# %s\nx\nk = \"%s\"\n", same_line[i], tok);
		assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
		assert_int_equal(s->n, 1);
	}
	/* nextline applies to the next line only, with LF or CRLF */
	snprintf(text, sizeof(text), "# pragma: allowlist nextline secret\nk = \"%s\"\n", tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 0);
	snprintf(text, sizeof(text), "# pragma: allowlist nextline secret\r\nk = \"%s\"\r\n", tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 0);
	snprintf(text, sizeof(text), "# pragma: allowlist nextline secret\n\nk = \"%s\"\n", tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->v[0].line, 3);
	/* a marker for the next line at the very start of the buffer, token on line 1 */
	snprintf(text, sizeof(text), "%s # coffer:allow", tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 0);
	free(s);
}

static void
test_engine_line_column_crlf_bom(void **state)
{
	char tok[64], text[512];
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	make_token(tok, sizeof(tok));
	snprintf(text, sizeof(text), "\xef\xbb\xbf%s\r\nx\r\n\r\n   %s\r\n", tok, tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->v[0].line, 1);
	assert_int_equal(s->v[0].column, 1);
	assert_int_equal(s->v[0].off, 3);
	assert_int_equal(s->v[1].line, 4);
	assert_int_equal(s->v[1].column, 4);
	/* a lone CR is not a line end */
	snprintf(text, sizeof(text), "a\rb\r%s", tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->v[0].line, 1);
	assert_int_equal(s->v[0].column, 5);
	free(s);
}

static void
test_engine_buffer_edges(void **state)
{
	char tok[64], text[512];
	struct sink *s = calloc(1, sizeof(*s));
	size_t tl;

	(void)state;
	assert_non_null(s);
	tl = make_token(tok, sizeof(tok));
	/* the whole buffer is the token */
	assert_int_equal(scan_text(token_fx.c, tok, tl, s), 0);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->v[0].off, 0);
	assert_int_equal(s->v[0].len, tl);
	/* the token ends the buffer, no newline */
	snprintf(text, sizeof(text), "line one\nk=%s", tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->v[0].line, 2);
	assert_int_equal(s->v[0].column, 3);
	/* cut one byte short: no finding, no read past the end */
	assert_int_equal(scan_text(token_fx.c, text, strlen(text) - 1, s), 0);
	assert_int_equal(s->n, 0);
	/* a keyword cut at the end of the buffer */
	assert_int_equal(scan_text(token_fx.c, "x ghp", 5, s), 0);
	assert_int_equal(s->n, 0);
	/* empty buffer, only a BOM, no hit */
	assert_int_equal(scan_text(token_fx.c, "", 0, s), 0);
	assert_int_equal(s->n, 0);
	assert_int_equal(scan_text(token_fx.c, "\xef\xbb\xbf", 3, s), 0);
	assert_int_equal(s->n, 0);
	snprintf(text, sizeof(text), "int main(void) { return ghp + npm + sk_live; }\n");
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 0);
	free(s);
}

static void
test_engine_long_lines_and_windows(void **state)
{
	size_t big = 200000, tl, o;
	char tok[64];
	char *text = malloc(big + 4 * 64);
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(text);
	assert_non_null(s);
	tl = make_token(tok, sizeof(tok));
	/* one 200 kB line of filler with tokens far from the line's start,
	 * keywords without tokens in between (windows are cut, then merged) */
	memset(text, 'a', big);
	for (size_t i = 100; i + 10 < big; i += 997)
		memcpy(text + i, " ghp_ ", 6);
	o = 150000;
	text[o - 1] = ' ';
	memcpy(text + o, tok, tl);
	text[o + tl] = ' ';
	memcpy(text + big, "\n", 1);
	memcpy(text + big + 1, tok, tl);
	assert_int_equal(scan_text(token_fx.c, text, big + 1 + tl, s), 0);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->v[0].off, o);
	assert_int_equal(s->v[0].line, 1);
	assert_int_equal(s->v[0].column, o + 1);
	assert_int_equal(s->v[1].line, 2);
	assert_int_equal(s->v[1].column, 1);
	/* two tokens on one line, near each other: both */
	snprintf(text, 512, "a=%s,b=%s\n", tok, tok);
	assert_int_equal(scan_text(token_fx.c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->v[1].column, 3 + tl + 3);
	free(text);
	free(s);
}

static void
test_engine_many_hits_in_order(void **state)
{
	size_t cap = 1000 * 80, o = 0;
	char *text = malloc(cap);
	char tok[64];
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(text);
	assert_non_null(s);
	for (int i = 0; i < 1000; i++) {
		size_t tl = make_token(tok, sizeof(tok));
		o += (size_t)snprintf(text + o, cap - o, "%s%s\n", i % 2 ? "k: " : "", tok);
		(void)tl;
	}
	assert_int_equal(scan_text(token_fx.c, text, o, s), 0);
	assert_int_equal(s->n, 1000);
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(s->v[i].line, i + 1);
		assert_int_equal(s->v[i].column, i % 2 ? 4 : 1);
	}
	/* a negative visitor return stops the scan and is returned */
	s->stop_after = 3;
	assert_int_equal(scan_text(token_fx.c, text, o, s), -100);
	assert_int_equal(s->n, 3);
	free(text);
	free(s);
}

/* A minified file: one 1 MB line holding 20,000 tokens and multi-line
 * keywords. Each finding is placed and judged without rescanning the line
 * (quadratic work here would run for minutes and hit the test timeout). */
static void
test_engine_one_long_line_many_hits(void **state)
{
	size_t cap = 20000 * 64, o = 0;
	char *text = malloc(cap);
	char tok[64];
	struct sink *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(text);
	assert_non_null(s);
	for (int i = 0; i < 20000; i++) {
		make_token(tok, sizeof(tok));
		o += (size_t)snprintf(text + o, cap - o, "%s %s", tok,
		                      i % 10 ? "," : "PRIVATE KEY-----");
	}
	assert_int_equal(scan_text(token_fx.c, text, o, s), 0);
	assert_int_equal(s->n, 20000);
	assert_int_equal(s->v[N(s->v) - 1].line, 1);
	assert_int_equal(s->v[1].column, 40 + 1 + strlen("PRIVATE KEY-----") + 1);
	free(text);
	free(s);
}

static bool
reject_all(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	assert_true(off + len <= ctx_len);
	assert_memory_equal(ctx + off, secret, len);
	return false;
}

static const char *const kw_block[] = {"BEGIN SECRET", NULL};
static const char *const kw_magic[] = {"Magic=", NULL};
static const char *const kw_ent[] = {"ent:", NULL};
static const char *const kw_chk[] = {"chk:", NULL};
static const char *const kw_k[] = {"k", NULL};
static const char *const kw_empty[] = {"", NULL};

static void
test_engine_custom_rules(void **state)
{
	static const struct scan_rule rules[] = {
	        {.id = "block",
	         .description = "a block",
	         .hint = "h",
	         .keywords = kw_block,
	         .pattern = "(?<secret>BEGIN SECRET\\n(?:[a-z]+\\n){1,20}END SECRET)",
	         .flags = SCAN_RULE_MULTILINE},
	        {.id = "nocase",
	         .description = "case-insensitive",
	         .hint = "h",
	         .keywords = kw_magic,
	         .pattern = "magic=(?<secret>[0-9]{6})",
	         .flags = SCAN_RULE_NOCASE},
	        {.id = "nokw",
	         .description = "no keywords: everywhere",
	         .hint = "h",
	         .keywords = NULL,
	         .pattern = "zz[0-9]{3}zz"},
	        {.id = "entropy",
	         .description = "entropy",
	         .hint = "h",
	         .keywords = kw_ent,
	         .pattern = "ent:(?<secret>[a-z]{8})",
	         .min_entropy = 2.5},
	        {.id = "checked",
	         .description = "check",
	         .hint = "h",
	         .keywords = kw_chk,
	         .pattern = "chk:(?<secret>[a-z]+)",
	         .check = reject_all},
	};
	const char *text = "x\nBEGIN SECRET\nabc\ndef\nEND SECRET\nMAGIC=123456 zz123zz\n"
	                   "ent:aaaaaaaa ent:abcdefgh chk:abc\n";
	struct scan_engine *e;
	struct scan_ctx *c;
	struct sink *s = calloc(1, sizeof(*s));
	char err[256];

	(void)state;
	assert_non_null(s);
	assert_int_equal(scan_engine_new(rules, N(rules), &e, err, sizeof(err)), 0);
	assert_int_equal(scan_ctx_new(e, &c), 0);
	assert_int_equal(scan_text(c, text, strlen(text), s), 0);
	assert_int_equal(s->n, 4);
	assert_string_equal(s->v[0].rule, "block");
	assert_int_equal(s->v[0].line, 2);
	assert_int_equal(s->v[0].len, strlen("BEGIN SECRET\nabc\ndef\nEND SECRET"));
	assert_string_equal(s->v[1].rule, "nocase");
	assert_int_equal(s->v[1].line, 6);
	assert_int_equal(s->v[1].column, 7);
	assert_string_equal(s->v[2].rule, "nokw");
	assert_string_equal(s->v[3].rule, "entropy");
	assert_int_equal(s->v[3].column, 18);
	scan_ctx_free(c);
	scan_engine_free(e);
	free(s);
}

static void
test_engine_bad_rules(void **state)
{
	static const struct scan_rule bad_pattern[] = {
	        {.id = "broken", .keywords = kw_k, .pattern = "(ab"},
	};
	static const struct scan_rule empty_kw[] = {
	        {.id = "emptykw", .keywords = kw_empty, .pattern = "ab"},
	};
	struct scan_engine *e = NULL;
	char err[256];

	(void)state;
	assert_int_equal(scan_engine_new(bad_pattern, 1, &e, err, sizeof(err)), CF_EINVAL);
	assert_null(e);
	assert_non_null(strstr(err, "broken"));
	assert_int_equal(scan_engine_new(empty_kw, 1, &e, err, sizeof(err)), CF_EINVAL);
	assert_null(e);
	assert_non_null(strstr(err, "emptykw"));
	/* an empty rule set scans and finds nothing */
	struct scan_ctx *c;
	struct sink *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(scan_engine_new(NULL, 0, &e, err, sizeof(err)), 0);
	assert_int_equal(scan_ctx_new(e, &c), 0);
	assert_int_equal(scan_text(c, "ghp_", 4, s), 0);
	assert_int_equal(s->n, 0);
	scan_ctx_free(c);
	scan_engine_free(e);
	scan_engine_free(NULL);
	scan_ctx_free(NULL);
	free(s);
}

static void
test_engine_entropy(void **state)
{
	char all[256];

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	assert_true(scan_entropy("", 0) == 0);
	assert_true(scan_entropy("aaaa", 4) == 0);
	assert_true(scan_entropy("abab", 4) > 0.999 && scan_entropy("abab", 4) < 1.001);
	assert_true(scan_entropy(all, 256) > 7.999 && scan_entropy(all, 256) < 8.001);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_token_rules_every_rule_has_rows),
	        cmocka_unit_test(test_token_rules_found_in_every_context),
	        cmocka_unit_test(test_token_rules_one_finding_with_all_rules),
	        cmocka_unit_test(test_token_rules_lookalikes_not_reported),
	        cmocka_unit_test(test_token_rules_placeholders_not_reported),
	        cmocka_unit_test(test_token_rules_aws_documentation_example),
	        cmocka_unit_test(test_token_rules_stripe_publishable_never),
	        cmocka_unit_test(test_token_rules_github_checksum_every_digit),
	        cmocka_unit_test(test_engine_allow_markers),
	        cmocka_unit_test(test_engine_line_column_crlf_bom),
	        cmocka_unit_test(test_engine_buffer_edges),
	        cmocka_unit_test(test_engine_long_lines_and_windows),
	        cmocka_unit_test(test_engine_many_hits_in_order),
	        cmocka_unit_test(test_engine_one_long_line_many_hits),
	        cmocka_unit_test(test_engine_custom_rules),
	        cmocka_unit_test(test_engine_bad_rules),
	        cmocka_unit_test(test_engine_entropy),
	};
	return cmocka_run_group_tests(tests, setup_token, teardown_token);
}
