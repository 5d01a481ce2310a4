/* rules_struct.c - the structural rules of the scanner (scan.h): private key
 * blocks, cloud credentials that only mean something next to a name or an
 * id, URLs and connection strings with a password in them, Kubernetes Secret
 * manifests and generic name = value assignments (docs/scanner.md "Rules:
 * structure and generic assignments").
 *
 * Each rule's pattern finds a candidate; its check decides. The checks look
 * only at the match and at the window around it, never allocate, and share
 * the hard negatives of negative.h. Patterns that span lines (key blocks)
 * need a window of up to 16 KiB after their keyword. */
#include "tools/scan/negative.h"
#include "tools/scan/scan.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Helpers ----------------------------------------------------------------- */

static bool
is_b64(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

static bool
is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_upper(int c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hexc(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
is_name(int c)
{
	return is_lower(c) || is_upper(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
}

/* Shannon entropy in bits per byte of a histogram over n bytes. */
static double
hist_entropy(const unsigned *hist, size_t n)
{
	double h = 0;
	int i;

	if (n == 0)
		return 0;
	for (i = 0; i < 256; i++)
		if (hist[i] != 0) {
			double p = (double)hist[i] / (double)n;
			h -= p * log2(p);
		}
	return h;
}

static double
entropy(const char *s, size_t n)
{
	unsigned hist[256] = {0};
	size_t i;

	for (i = 0; i < n; i++)
		hist[(unsigned char)s[i]]++;
	return hist_entropy(hist, n);
}

static int
b64_value(int c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes standard or URL-safe base64 (padding optional) into out. Returns the
 * decoded length, or -1 for a character outside the alphabet or more than
 * cap bytes of output. */
static long
b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0, v;

	while (n > 0 && s[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++) {
		v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

/* The start of the line that holds ctx[off]. */
static size_t
line_start(const char *ctx, size_t off)
{
	while (off > 0 && ctx[off - 1] != '\n')
		off--;
	return off;
}

static size_t
line_end(const char *ctx, size_t len, size_t off)
{
	while (off < len && ctx[off] != '\n')
		off++;
	return off;
}

/* Key blocks ------------------------------------------------------------- */

/* Walks the body of an armored block as written in any file form: real line
 * breaks, literal \n escapes, quotes and + or . between string pieces,
 * indentation. Header lines (Proc-Type:, DEK-Info:, Version:, Comment:) are
 * skipped. Anything else that is not base64 means this is no key (a template,
 * code that builds a PEM, a truncated sample). */
static bool
armor_body_ok(const char *b, size_t n, const char *must_start)
{
	unsigned hist[256] = {0};
	size_t i = 0, count = 0, start_len = must_start ? strlen(must_start) : 0;
	int c;

	while (i < n) {
		c = (unsigned char)b[i];
		if (c == '\\' && i + 1 < n && (b[i + 1] == 'n' || b[i + 1] == 'r')) {
			i += 2;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\'' ||
		    c == '`' || c == '+' || c == '.' || c == ',' || c == '\\' || c == '&' ||
		    c == '|' || c == '>' || c == '_') {
			i++;
			continue;
		}
		if (is_b64(c) && count >= start_len) {
			/* a header: a word of letters and dashes, then ':' */
			size_t j = i;

			while (j < n && (is_upper((unsigned char)b[j]) ||
			                 is_lower((unsigned char)b[j]) || b[j] == '-'))
				j++;
			if (j < n && b[j] == ':' && j > i) {
				while (i < n && b[i] != '\n' &&
				       !(b[i] == '\\' && i + 1 < n && b[i + 1] == 'n'))
					i++;
				continue;
			}
		}
		if (!is_b64(c))
			return false;
		if (count < start_len && c != must_start[count])
			return false;
		hist[c]++;
		count++;
		i++;
	}
	return count >= 64 && count >= start_len && hist_entropy(hist, count) >= 4.0;
}

static const char *
find(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

/* The PEM block in secret: both armor lines carry the same label (the pattern
 * pairs them), the body is base64, an OpenSSH key body starts with
 * "openssh-key-v1". */
static bool
pem_ok(const char *secret, size_t len)
{
	const char *label = secret + strlen("-----BEGIN "), *body, *end;

	body = find(label, len - (size_t)(label - secret), "-----");
	if (body == NULL)
		return false;
	end = find(body + 5, len - (size_t)(body + 5 - secret), "-----END ");
	if (end == NULL)
		return false;
	return armor_body_ok(body + 5, (size_t)(end - body - 5),
	                     strncmp(label, "OPENSSH", 7) == 0 ? "b3BlbnNzaC1rZXktdjE" : NULL);
}

/* True when the key at ctx[off] is the "private_key" field of a GCP
 * service-account object: gcp-service-account reports it once. */
static bool
in_service_account(const char *ctx, size_t len, size_t off)
{
	size_t i = off, from;

	while (i > 0 && (ctx[i - 1] == '"' || ctx[i - 1] == '\\' || ctx[i - 1] == ' ' ||
	                 ctx[i - 1] == ':' || ctx[i - 1] == '\t'))
		i--;
	if (i < 11 || memcmp(ctx + i - 11, "private_key", 11) != 0)
		return false;
	from = off > 4096 ? off - 4096 : 0;
	return negative_contains(ctx + from, len - from > 8192 ? 8192 : len - from,
	                         "service_account");
}

static bool
check_private_key(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	return pem_ok(secret, len) && !in_service_account(ctx, ctx_len, off);
}

static bool
check_pgp_key(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	(void)ctx;
	(void)ctx_len;
	(void)off;
	return pem_ok(secret, len);
}

static bool
check_gcp(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	size_t from = off > 4096 ? off - 4096 : 0;
	size_t to = off + len + 4096 < ctx_len ? off + len + 4096 : ctx_len;

	return pem_ok(secret, len) && negative_contains(ctx + from, to - from, "service_account");
}

/* Values next to a name or an id ------------------------------------------ */

static void
classes(const char *s, size_t n, size_t *lo, size_t *up, size_t *dg, size_t *sym)
{
	size_t i;

	*lo = *up = *dg = *sym = 0;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (is_lower(c))
			(*lo)++;
		else if (is_upper(c))
			(*up)++;
		else if (is_digit(c))
			(*dg)++;
		else
			(*sym)++;
	}
}

/* A random key of letters and digits: both cases and a digit, not a
 * placeholder or a documentation sample. */
static bool
check_random_key(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	size_t lo, up, dg, sym;

	(void)ctx_len;
	classes(secret, len, &lo, &up, &dg, &sym);
	if (lo == 0 || up == 0 || dg == 0)
		return false;
	return !negative_value(secret, len) &&
	       !negative_context(ctx + line_start(ctx, off), off - line_start(ctx, off));
}

/* A 32-hex token beside an account SID; the token is not the SID's digits. */
static bool
check_hex_token(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	(void)ctx;
	(void)ctx_len;
	(void)off;
	return entropy(secret, len) >= 3.0 && !negative_value(secret, len);
}

static bool
check_azure(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	(void)ctx;
	(void)ctx_len;
	(void)off;
	return entropy(secret, len) >= 4.0 && !negative_value(secret, len);
}

/* JSON Web Tokens -------------------------------------------------------- */

/* The header decodes to a JSON object naming an algorithm other than none. */
static bool
check_jwt(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	unsigned char hdr[384];
	const char *dot = memchr(secret, '.', len);
	long n;

	(void)ctx;
	(void)ctx_len;
	(void)off;
	if (dot == NULL || negative_doc_sample(secret, len))
		return false;
	n = b64_decode(secret, (size_t)(dot - secret), hdr, sizeof(hdr));
	if (n < 2 || hdr[0] != '{')
		return false;
	if (!negative_contains((const char *)hdr, (size_t)n, "\"alg\""))
		return false;
	return !negative_contains((const char *)hdr, (size_t)n, "\"none\"");
}

/* Passwords in URLs and connection strings ---------------------------------- */

static bool
is_port(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 5)
		return false;
	for (i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			return false;
	return true;
}

/* The password of scheme://user:password@host: a real value, not the user
 * name again (postgres:postgres@localhost), not a port. */
static bool
check_url_password(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	size_t i = off > 0 ? off - 1 : 0, user_end = i;

	(void)ctx_len;
	if (negative_value(secret, len) || is_port(secret, len))
		return false;
	while (i > 0 && ctx[i - 1] != '/' && ctx[i - 1] != '\n')
		i--;
	if (user_end - i == len && memcmp(ctx + i, secret, len) == 0)
		return false;
	return true;
}

static bool
check_password_value(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	(void)ctx;
	(void)ctx_len;
	(void)off;
	return !negative_value(secret, len);
}

/* ADO.NET: Password=…; on a line that is a connection string. */
static bool
check_adonet(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	size_t a = line_start(ctx, off), b = line_end(ctx, ctx_len, off);

	if (negative_value(secret, len))
		return false;
	return negative_contains(ctx + a, b - a, "server=") ||
	       negative_contains(ctx + a, b - a, "data source=") ||
	       negative_contains(ctx + a, b - a, "host=") ||
	       negative_contains(ctx + a, b - a, "initial catalog=") ||
	       negative_contains(ctx + a, b - a, "database=");
}

/* base64(user:password) with a real password. */
static bool
check_basic_b64(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	unsigned char buf[384];
	long n, i, colon = -1;

	(void)ctx;
	(void)ctx_len;
	(void)off;
	n = b64_decode(secret, len, buf, sizeof(buf));
	if (n < 3)
		return false;
	for (i = 0; i < n; i++) {
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return false;
		if (buf[i] == ':' && colon < 0)
			colon = i;
	}
	if (colon <= 0 || colon + 1 >= n)
		return false;
	return !negative_value((const char *)buf + colon + 1, (size_t)(n - colon - 1));
}

/* Kubernetes Secret manifests ------------------------------------------------ */

/* How far a check looks for the rest of a YAML document (8 KiB each side):
 * bounded, so a long file costs linear time. */
#define DOC_SPAN 8192

static bool
kind_secret_at(const char *ctx, size_t len, size_t q)
{
	return (q == 0 || ctx[q - 1] == '\n' || ctx[q - 1] == ' ') &&
	       (q + 12 == len || ctx[q + 12] == '\n' || ctx[q + 12] == '\r' || ctx[q + 12] == ' ');
}

static bool
kind_secret_near(const char *ctx, size_t len, size_t lo, size_t hi, size_t off)
{
	const char *k, *sep;
	size_t q;

	/* before the value (kind: usually comes first) */
	for (k = memmem(ctx + lo, off - lo, "kind: Secret", 12); k != NULL;
	     k = memmem(k + 12, (size_t)(ctx + off - k - 12), "kind: Secret", 12)) {
		q = (size_t)(k - ctx);
		sep = memmem(k, off - q, "\n---", 4);
		if (kind_secret_at(ctx, len, q) && sep == NULL)
			return true;
		if (q + 12 >= off)
			break;
	}
	/* after it (kubectl prints data: before kind:) */
	k = memmem(ctx + off, hi - off, "kind: Secret", 12);
	if (k == NULL)
		return false;
	q = (size_t)(k - ctx);
	return kind_secret_at(ctx, len, q) && memmem(ctx + off, q - off, "\n---", 4) == NULL;
}

static size_t
indent_of(const char *ctx, size_t ls)
{
	size_t i = ls;

	while (ctx[i] == ' ' || ctx[i] == '\t')
		i++;
	return i - ls;
}

/* The value at off sits right under a data: or stringData: key (at most
 * DOC_SPAN bytes up). Sets *plain for stringData. */
static bool
under_data_key(const char *ctx, size_t len, size_t off, bool *plain)
{
	size_t ls = line_start(ctx, off), ind = indent_of(ctx, ls), p = ls, q, e;
	size_t lo = off > DOC_SPAN ? off - DOC_SPAN : 0;
	size_t hi = len - off > DOC_SPAN ? off + DOC_SPAN : len;
	bool found = false;

	/* walk up over sibling lines to the parent key */
	while (p > lo && !found) {
		size_t prev = line_start(ctx, p - 1), pi = indent_of(ctx, prev);

		p = prev;
		e = line_end(ctx, len, prev);
		if (prev + pi == e || ctx[prev + pi] == '#' || ctx[prev + pi] == '\r')
			continue; /* blank or comment */
		if (pi == ind)
			continue; /* a sibling */
		if (pi > ind)
			return false;
		q = prev + pi;
		if (e - q >= 5 && memcmp(ctx + q, "data:", 5) == 0)
			*plain = false;
		else if (e - q >= 11 && memcmp(ctx + q, "stringData:", 11) == 0)
			*plain = true;
		else
			return false;
		found = true;
	}
	if (!found)
		return false;
	(void)hi;
	return true;
}

/* The value at off is in a Secret's data: or stringData: (see above), in a
 * YAML document that says kind: Secret: the nearest such line with no ---
 * document separator between it and the value. */
static bool
in_secret_data(const char *ctx, size_t len, size_t off, bool *plain)
{
	size_t lo = off > DOC_SPAN ? off - DOC_SPAN : 0;
	size_t hi = len - off > DOC_SPAN ? off + DOC_SPAN : len;

	return under_data_key(ctx, len, off, plain) && kind_secret_near(ctx, len, lo, hi, off);
}

static bool
check_k8s_secret(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	unsigned char buf[256];
	bool plain = false;
	long n;
	size_t i, lo, hi;

	/* the parent key and the value first (cheap), then the document */
	if (!under_data_key(ctx, ctx_len, off, &plain))
		return false;
	if (plain) {
		if (negative_value(secret, len))
			return false;
	} else {
		/* data: padded base64; longer than the decode buffer: a key or a file */
		for (i = 0; i < len && is_b64((unsigned char)secret[i]); i++)
			;
		if (i != len || len % 4 != 0)
			return false;
		if (len <= 340) {
			n = b64_decode(secret, len, buf, sizeof(buf));
			if (n <= 0 || negative_value((const char *)buf, (size_t)n))
				return false;
		}
	}
	lo = off > DOC_SPAN ? off - DOC_SPAN : 0;
	hi = ctx_len - off > DOC_SPAN ? off + DOC_SPAN : ctx_len;
	return kind_secret_near(ctx, ctx_len, lo, hi, off);
}

/* Generic name = value assignments ----------------------------------------- */

static const char *const name_keywords[] = {
        "password",    "passwd",     "pwd",        "secret",     "token",      "api_key",
        "api-key",     "api.key",    "apikey",     "auth",       "credential", "private_key",
        "private-key", "privatekey", "access_key", "access-key", "accesskey",  NULL,
};

/* Names that hold something about a secret, not the secret: the word after
 * the keyword says so (secret_name, token_url, auth_type, api_key_id …) */
static const char *const name_not_secret[] = {
        "name",        "names",       "id",       "ids",       "path",      "file",
        "filename",    "dir",         "url",      "uri",       "type",      "arn",
        "ref",         "env",         "var",      "version",   "length",    "len",
        "size",        "count",       "field",    "header",    "mode",      "method",
        "prefix",      "provider",    "policy",   "endpoint",  "expiry",    "expires",
        "expiration",  "ttl",         "timeout",  "enabled",   "required",  "format",
        "hash",        "hashed",      "digest",   "algorithm", "alg",       "label",
        "source",      "manager",     "class",    "kind",      "template",  "rotation",
        "scope",       "scopes",      "store",    "location",  "key_id",    "keyid",
        "placeholder", "regex",       "pattern",  "min",       "max",       "policy",
        "strategy",    "backend",     "service",  "helper",    "file_path", "public",
        "reset",       "changed",     "update",   "hint",      "prompt",    "label",
        "title",       "description", "lifetime", "server",    "host",      "port",
        "user",        "username",    "login",    "email",     "handler",   "callback",
        "redirect",    "flow",        "grant",    NULL,
};

/* Words that contain a keyword but name no secret. */
static const char *const name_false_friends[] = {
        "author",          "authority",    "authorize", "authoriz",  "authenticat",
        "oauth2_provider", "tokenize",     "tokenise",  "tokenizer", "tokeniser",
        "secretary",       "passwordless", "autho_",    NULL,
};

static int
lower(int c)
{
	return is_upper(c) ? c + 32 : c;
}

/* Finds the assigned name on the line before the value and judges it. */
static bool
name_ok(const char *ctx, size_t off, bool *password_named, size_t *ret_a, size_t *ret_b)
{
	size_t ls = line_start(ctx, off), from = off - ls > 160 ? off - 160 : ls, i, a, b;
	const char *const *k;
	size_t best = SIZE_MAX, kl = 0;

	/* the last keyword before the value */
	for (k = name_keywords; *k != NULL; k++) {
		size_t n = strlen(*k);

		for (i = off; i >= from + n; i--)
			if (negative_contains(ctx + i - n, n, *k)) {
				if (best == SIZE_MAX || i - n > best) {
					best = i - n;
					kl = n;
				}
				break;
			}
	}
	if (best == SIZE_MAX)
		return false;
	a = best;
	while (a > from && is_name((unsigned char)ctx[a - 1]))
		a--;
	b = best + kl;
	while (b < off && is_name((unsigned char)ctx[b]))
		b++;
	for (k = name_false_friends; *k != NULL; k++)
		if (negative_contains(ctx + a, b - a, *k))
			return false;
	/* the last word of the name: after the last separator or case change */
	i = b;
	while (i > a && ctx[i - 1] != '_' && ctx[i - 1] != '-' && ctx[i - 1] != '.' &&
	       !(is_upper((unsigned char)ctx[i - 1]) && i - 1 > a &&
	         is_lower((unsigned char)ctx[i - 2])))
		i--;
	if (i > a && is_upper((unsigned char)ctx[i - 1]))
		i--;
	for (k = name_not_secret; *k != NULL; k++) {
		size_t n = strlen(*k), j;

		if (n != b - i)
			continue;
		for (j = 0; j < n && lower((unsigned char)ctx[i + j]) == (*k)[j]; j++)
			;
		if (j == n)
			return false;
	}
	/* key_id, KeyId: two words */
	if (b - a >= 6 && (negative_contains(ctx + b - 6, 6, "key_id") ||
	                   negative_contains(ctx + b - 5, 5, "keyid")))
		return false;
	*password_named = negative_contains(ctx + a, b - a, "pass") ||
	                  negative_contains(ctx + a, b - a, "pwd");
	*ret_a = a;
	*ret_b = b;
	return true;
}

/* A value made of dictionary-like words: my-app-secret-v2, GithubEnterprise,
 * config.db.password (a dotted attribute path). */
static bool
word_like(const char *s, size_t n)
{
	size_t i = 0, words = 0, short_words = 0;

	while (i < n) {
		size_t a = i;
		int c = (unsigned char)s[i];

		if (c == '-' || c == '_' || c == '.') {
			i++;
			continue;
		}
		if (is_digit(c)) {
			while (i < n && is_digit((unsigned char)s[i]))
				i++;
			if (i - a > 4)
				return false;
			continue;
		}
		if (!is_upper(c) && !is_lower(c))
			return false;
		if (is_upper(c)) {
			i++;
			if (i < n && is_upper((unsigned char)s[i])) {
				while (i < n && is_upper((unsigned char)s[i]))
					i++;
			} else {
				while (i < n && is_lower((unsigned char)s[i]))
					i++;
			}
		} else {
			while (i < n && is_lower((unsigned char)s[i]))
				i++;
		}
		words++;
		if (i - a < 3)
			short_words++;
	}
	return words > 0 && short_words * 4 <= words;
}

static bool
path_like(const char *s, size_t n)
{
	size_t i, slash = 0, dot = SIZE_MAX;

	if (s[0] == '/' || s[0] == '~' || (n > 1 && s[0] == '.' && (s[1] == '/' || s[1] == '.')))
		return true;
	for (i = 0; i < n; i++) {
		if (s[i] == '/')
			slash++;
		else if (s[i] == '.')
			dot = i;
		else if (!is_name((unsigned char)s[i]))
			return false;
	}
	/* dir/file.ext */
	return slash > 0 && dot != SIZE_MAX && n - dot - 1 >= 1 && n - dot - 1 <= 5;
}

static bool
all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_hexc((unsigned char)s[i]))
			return false;
	return true;
}

/* obj.attr.attr or a bare identifier: code that reads a value, unquoted */
static bool
attribute_path(const char *s, size_t n)
{
	size_t i, dots = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (i == 0 || i + 1 == n || s[i - 1] == '.')
				return false;
			dots++;
		} else if (!is_lower((unsigned char)s[i]) && !is_upper((unsigned char)s[i]) &&
		           s[i] != '_' && !(i > 0 && is_digit((unsigned char)s[i]))) {
			return false;
		}
	}
	return dots > 0;
}

static bool
word_at(const char *ctx, size_t *i, size_t end, const char *w)
{
	size_t n = strlen(w);

	if (*i + n < end && negative_contains(ctx + *i, n, w) &&
	    (ctx[*i + n] == ' ' || ctx[*i + n] == '\t')) {
		*i += n;
		return true;
	}
	return false;
}

/* The shape around the name [na, nb) and the value at off: an XML element
 * opens with '<'; an unquoted value needs the name first on its line (after
 * export, ENV, ARG or set), and a bare blank between name and value only
 * after such a word (ENV NAME value). */
static bool
form_ok(const char *ctx, size_t ls, size_t na, size_t nb, size_t off)
{
	size_t i = ls, j;
	bool word = false;
	char q = off > 0 ? ctx[off - 1] : 0;

	if (q == '"' || q == '\'' || q == '`')
		return true;
	if (q == '>')
		return na > ls && ctx[na - 1] == '<';
	while (i < na && (ctx[i] == ' ' || ctx[i] == '\t'))
		i++;
	if (word_at(ctx, &i, na, "export") || word_at(ctx, &i, na, "env") ||
	    word_at(ctx, &i, na, "arg") || word_at(ctx, &i, na, "setx") ||
	    word_at(ctx, &i, na, "set")) {
		word = true;
		while (i < na && (ctx[i] == ' ' || ctx[i] == '\t'))
			i++;
	}
	if (i < na && (ctx[i] == '"' || ctx[i] == '\''))
		i++;
	if (i != na)
		return false;
	for (j = nb; j < off; j++)
		if (ctx[j] == ':' || ctx[j] == '=')
			return true;
	return word;
}

static bool
check_generic(const char *secret, size_t len, const char *ctx, size_t ctx_len, size_t off)
{
	size_t ls = line_start(ctx, off), le, lo, up, dg, sym, letters, na, nb;
	bool pw = false, pw_unused;
	double h;

	if (len < 8 || negative_value(secret, len) || negative_context(ctx + ls, off - ls))
		return false;
	if (!name_ok(ctx, off, &pw, &na, &nb))
		return false;
	if (!form_ok(ctx, ls, na, nb, off))
		return false;
	if (off > 0 && ctx[off - 1] != '"' && ctx[off - 1] != '\'' && ctx[off - 1] != '`' &&
	    attribute_path(secret, len))
		return false;
	/* a value of a Kubernetes Secret is k8s-secret's (it decodes base64) */
	if (in_secret_data(ctx, ctx_len, off, &pw_unused))
		return false;
	/* a JWT is the jwt rule's, a URL the URL rules', a key block the key rules' */
	if ((len > 3 && memcmp(secret, "eyJ", 3) == 0) || find(secret, len, "://") != NULL ||
	    (len >= 5 && memcmp(secret, "-----", 5) == 0) || path_like(secret, len))
		return false;
	/* a connection string's Password=…; is adonet-password's */
	le = line_end(ctx, ctx_len, off);
	if (off > 0 && ctx[off - 1] == '=' && memchr(ctx + ls, ';', le - ls) != NULL &&
	    (negative_contains(ctx + ls, le - ls, "server=") ||
	     negative_contains(ctx + ls, le - ls, "data source=")))
		return false;
	classes(secret, len, &lo, &up, &dg, &sym);
	letters = lo + up;
	h = entropy(secret, len);
	if (all_hex(secret, len))
		return len >= 32 && h >= 3.0;
	if (pw && letters > 0 && (dg > 0 || sym > 0))
		return true;
	if (len < 16 || h < 3.0 || word_like(secret, len))
		return false;
	if ((lo > 0) + (up > 0) + (dg > 0) + (sym > 0) < 2)
		return false;
	/* random, not words: a digit, both cases in good measure, or a symbol
	 * other than the separators of names */
	return dg > 0 || (up * 5 >= len && lo * 5 >= len) ||
	       strcspn(secret, "!#$%&*+/=?@^|~") < len;
}

/* The table --------------------------------------------------------------- */

/* the body of an armored block up to its end line, never crossing another
 * armor line */
#define ARMOR_BODY "(?:[^-]++|-(?!----))*?"
/* one line break: real, or written as a \n escape */
#define NL "(?:\\r?\\n|(?:\\\\r)?\\\\n)"

static const char *const kw_pem[] = {"PRIVATE KEY-----", NULL};
static const char *const kw_pgp[] = {"PGP PRIVATE KEY BLOCK", NULL};
static const char *const kw_putty[] = {"PuTTY-User-Key-File-", NULL};
static const char *const kw_gcp[] = {"private_key", NULL};
static const char *const kw_azure_key[] = {"accountkey",      "account_key", "account-key",
                                           "storagekey",      "storage_key", "storage-key",
                                           "sharedaccesskey", NULL};
static const char *const kw_sas[] = {"sig=", NULL};
static const char *const kw_aws[] = {"secret", NULL};
static const char *const kw_aws_pair[] = {"akia", "asia", NULL};
static const char *const kw_twilio[] = {"twilio",      "auth_token", "authtoken", "auth-token",
                                        "account_sid", "accountsid", NULL};
static const char *const kw_twilio_sk[] = {"twilio",     "api_secret",  "apisecret",
                                           "api-secret", "api_key_sid", NULL};
static const char *const kw_jwt[] = {"eyJ", NULL};
static const char *const kw_db[] = {"postgres", "mysql", "mariadb",   "mongodb", "redis",
                                    "amqp",     "mssql", "sqlserver", NULL};
static const char *const kw_jdbc[] = {"jdbc:", NULL};
static const char *const kw_adonet[] = {"password", "pwd", NULL};
static const char *const kw_url[] = {"http", "ftp", "smtp", "ldap", "git+", NULL};
static const char *const kw_basic[] = {"basic", NULL};
static const char *const kw_docker[] = {"\"auth\"", "auth\\\"", NULL};
static const char *const kw_k8s[] = {"data:", NULL};
static const char *const kw_generic[] = {
        "password",   "passwd",     "pwd",        "secret",     "token",       "api_key",
        "api-key",    "apikey",     "auth",       "credential", "private_key", "private-key",
        "privatekey", "access_key", "access-key", "accesskey",  NULL};

/* A name of the generic rule (NOCASE): one of the keywords inside an
 * identifier. */
/* A name of the generic rule (NOCASE), from its keyword on: the match starts
 * at the keyword, which gives PCRE2 a short list of first bytes to look for;
 * the check finds the whole name. */
#define GKEY                                                                                       \
	"(?:password|passwd|pwd|secret|token|api[_.-]?key|apikey|auth|credential|"                 \
	"private[_.-]?key|access[_.-]?key)[a-z0-9_.-]*"

const struct scan_rule scan_struct_rules[] = {
        {
                .id = "private-key",
                .description = "PEM private key (PKCS#1, PKCS#8, encrypted, EC, DSA, OpenSSH)",
                .hint = "remove the key, rotate it, and load it from a file outside the repository "
                        "or from coffer",
                .keywords = kw_pem,
                .pattern =
                        "(?<secret>-----BEGIN[ ](?<label>(?:RSA[ ]|EC[ ]|DSA[ ]|ENCRYPTED[ ]|"
                        "OPENSSH[ ])?PRIVATE[ ]KEY)-----" ARMOR_BODY "-----END[ ]\\k<label>-----)",
                .check = check_private_key,
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "pgp-private-key",
                .description = "PGP private key block",
                .hint = "remove the key block, revoke the key, and keep it in a keyring or in "
                        "coffer",
                .keywords = kw_pgp,
                .pattern = "(?<secret>-----BEGIN[ ]PGP[ ]PRIVATE[ ]KEY[ ]BLOCK-----" ARMOR_BODY
                           "-----END[ ]PGP[ ]PRIVATE[ ]KEY[ ]BLOCK-----)",
                .check = check_pgp_key,
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "putty-private-key",
                .description = "PuTTY private key file (.ppk)",
                .hint = "remove the key file and rotate the key",
                .keywords = kw_putty,
                .pattern = "(?<secret>PuTTY-User-Key-File-[23]:[ \\t]*[\\w@.-]+" NL
                           "(?:[^\\r\\n\\\\]*" NL "){1,40}?Private-Lines:[ \\t]*\\d+" NL
                           "[A-Za-z0-9+/=]{16,})",
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "gcp-service-account",
                .description = "Google Cloud service-account key (JSON with a private_key)",
                .hint = "delete the key in the Cloud console and use workload identity or coffer",
                .keywords = kw_gcp,
                .pattern =
                        "\\\\?\"private_key\\\\?\"\\s*:\\s*\\\\?\"(?<secret>-----BEGIN[ ]PRIVATE[ ]"
                        "KEY-----" ARMOR_BODY "-----END[ ]PRIVATE[ ]KEY-----)",
                .check = check_gcp,
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "azure-storage-key",
                .description = "Azure storage account key or Service Bus shared access key",
                .hint = "rotate the account key and use a managed identity or coffer",
                .keywords = kw_azure_key,
                .pattern =
                        "(?|(?i:AccountKey)\\s*=\\s*(?<secret>[A-Za-z0-9+/]{86}==)|"
                        "(?i:SharedAccessKey)\\s*=\\s*(?<secret>[A-Za-z0-9+/]{43}=)|"
                        "(?i:(?:account|storage)[_.-]?(?:access[_.-]?)?key)[\"']?\\s*(?:=>|:=|[:=])"
                        "\\s*[\"']?(?<secret>[A-Za-z0-9+/]{86}==))(?![A-Za-z0-9+/=])",
                .check = check_azure,
        },
        {
                .id = "azure-sas-token",
                .description = "Azure shared access signature (sig= of a SAS URL or token)",
                .hint = "revoke the SAS (rotate the key that signed it) and issue short-lived ones",
                .keywords = kw_sas,
                .pattern = "(?|\\bsv=\\d{4}-\\d\\d-\\d\\d[^\\s\"'<>]{0,400}?[&;?]sig=(?<secret>"
                           "[A-Za-z0-9%+/]{40,120}(?:%3D|=){0,2})|[?&]sig=(?<secret>[A-Za-z0-9%+/]"
                           "{40,120}(?:%3D|=){0,2})&[^\\s\"'<>]{0,400}?\\bsv=\\d{4}-)",
                .check = check_azure,
        },
        {
                .id = "aws-secret-access-key",
                .description =
                        "AWS secret access key assigned to a name such as aws_secret_access_key",
                .hint = "deactivate the key in IAM and use roles, SSO or coffer's AWS engine",
                .keywords = kw_aws,
                .pattern = "(?i:(?:aws[_.-]?)?secret[_.-]?access[_.-]?key|aws[_.-]?secret"
                           "(?:[_.-]?key)?)[\\w.-]{0,10}?[\"'\\]]{0,2}[ \\t]*(?:=>|:=|[:=,]|[ \\t])"
                           "[ \\t]*[\"']?(?<![A-Za-z0-9+/])(?<secret>[A-Za-z0-9+/]{40})"
                           "(?![A-Za-z0-9+/=])",
                .min_entropy = 3.5,
                .check = check_random_key,
        },
        {
                .id = "aws-secret-access-key-pair",
                .description = "AWS secret access key on the line of its access key id or the next",
                .hint = "deactivate the key in IAM and use roles, SSO or coffer's AWS engine",
                .keywords = kw_aws_pair,
                .pattern = "\\b(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])[^\\n]{0,80}?"
                           "(?:\\r?\\n[^\\n]{0,80}?)?(?<![A-Za-z0-9+/])"
                           "(?<secret>[A-Za-z0-9+/]{40})(?![A-Za-z0-9+/=])",
                .min_entropy = 3.5,
                .check = check_random_key,
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "twilio-auth-token",
                .description = "Twilio auth token next to an account SID (AC…)",
                .hint = "rotate the auth token in the Twilio console and load it from coffer",
                .keywords = kw_twilio,
                .pattern = "(?|\\bAC[0-9a-f]{32}\\b[^\\n]{0,80}?(?:\\r?\\n[^\\n]{0,80}?)?"
                           "\\b(?<secret>[0-9a-f]{32})\\b|(?i:twilio)[\\w.-]{0,20}?(?i:auth[_.-]?"
                           "token|token)[\"']?[ \\t]*(?:=>|:=|[:=])[ \\t]*[\"']?"
                           "(?<secret>[0-9a-f]{32})\\b)",
                .check = check_hex_token,
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "twilio-api-key-secret",
                .description = "Twilio API key secret next to its key SID (SK…)",
                .hint = "delete the API key in the Twilio console and create a new one",
                .keywords = kw_twilio_sk,
                .pattern = "\\bSK[0-9a-f]{32}\\b[^\\n]{0,80}?(?:\\r?\\n[^\\n]{0,80}?)?"
                           "(?<![A-Za-z0-9])(?<secret>[A-Za-z0-9]{32})(?![A-Za-z0-9])",
                .min_entropy = 3.5,
                .check = check_random_key,
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "jwt",
                .description = "signed JSON Web Token next to token, Bearer, Authorization or jwt",
                .hint = "do not commit tokens; if it is long-lived, revoke it or rotate the "
                        "signing key",
                .keywords = kw_jwt,
                .pattern =
                        "(?i:token|bearer|authorization|jwt|auth)[^\\n]{0,60}?"
                        "(?<![A-Za-z0-9_-])(?<secret>eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}"
                        "\\.[A-Za-z0-9_-]{16,})(?![A-Za-z0-9_.=-])",
                .check = check_jwt,
        },
        {
                .id = "database-url",
                .description = "database or broker URL with a password (postgres, mysql, mongodb, "
                               "redis, amqp, mssql)",
                .hint = "take the password out of the URL and read it from the environment or "
                        "coffer",
                .keywords = kw_db,
                .pattern = "(?<![A-Za-z0-9+.-])(?i:postgres(?:ql)?|mysql|mariadb|mongodb|rediss?|"
                           "amqps?|mssql|sqlserver)(?:\\+[A-Za-z0-9]+)?://[^:/?#@\\s\"'<>]*:"
                           "(?<secret>[^@/?#\\s\"'<>]+)@(?=[\\w\\[.-])",
                .check = check_url_password,
        },
        {
                .id = "jdbc-url",
                .description = "JDBC URL with a password= parameter",
                .hint = "take the password out of the JDBC URL and read it from the environment",
                .keywords = kw_jdbc,
                .pattern =
                        "(?i)jdbc:[a-z0-9]+:[^\\s\"'<>]*?[?&;:]password=(?<secret>[^&;\\s\"'<>]+)",
                .check = check_password_value,
        },
        {
                .id = "adonet-password",
                .description = "ADO.NET connection string with Password= or Pwd=",
                .hint = "use integrated authentication or read the password from configuration "
                        "secrets",
                .keywords = kw_adonet,
                .pattern = "(?i)(?<![a-z0-9_])(?:password|pwd)[ \\t]*=[ \\t]*"
                           "(?<secret>[^;\"'\\s<>]+)(?=[ \\t]*(?:;|\"|'|$|\\r|\\n))",
                .check = check_adonet,
                .flags = SCAN_RULE_NOCASE,
        },
        {
                .id = "basic-auth-url",
                .description = "URL with a user name and password (https://user:pass@host)",
                .hint = "use a credential helper or a token from the environment, not a URL",
                .keywords = kw_url,
                .pattern = "(?<![A-Za-z0-9+.-])(?i:https?|ftps?|sftp|smtps?|ldaps?|git\\+https?|"
                           "git\\+ssh)://[^:/?#@\\s\"'<>\\[\\]]+:(?<secret>[^@/?#\\s\"'<>]+)@"
                           "(?=[\\w\\[])",
                .check = check_url_password,
        },
        {
                .id = "basic-auth-header",
                .description = "HTTP Authorization: Basic header with base64(user:password)",
                .hint = "send the credentials from the environment, not from source",
                .keywords = kw_basic,
                .pattern =
                        "(?i:auth)[^\\n]{0,40}?(?i:basic)[ \\t]+(?<secret>[A-Za-z0-9+/]{6,}={0,2})"
                        "(?![A-Za-z0-9+/=])",
                .check = check_basic_b64,
        },
        {
                .id = "docker-config-auth",
                .description = "Docker config.json registry auth (base64 of user:password)",
                .hint = "run docker logout and use a credential store (credsStore)",
                .keywords = kw_docker,
                .pattern = "\\\\?\"auth\\\\?\"\\s*:\\s*\\\\?\"(?<secret>[A-Za-z0-9+/"
                           "]{6,}={0,2})\\\\?\"",
                .check = check_basic_b64,
        },
        {
                .id = "k8s-secret",
                .description = "Kubernetes Secret manifest value (data: base64, stringData: plain)",
                .hint = "commit a SealedSecret or an ExternalSecret instead of the Secret",
                .keywords = kw_k8s,
                .pattern = "(?m)^(?:[ \\t]*(?:string)?[dD]ata:[ \\t]*\\r?\\n|\\G)"
                           "(?:[ \\t]*(?:#[^\\n]*)?\\r?\\n)*[ \\t]+[\\w.-]+:[ \\t]*([\"']?)"
                           "(?<secret>[^\\s\"'#]+)\\1[ \\t]*(?:\\r?\\n|$)",
                .check = check_k8s_secret,
                .flags = SCAN_RULE_MULTILINE,
        },
        {
                .id = "generic-secret",
                .description = "password, secret, token or key assigned a literal value",
                .hint = "move the value to the environment or coffer and read it at run time",
                .keywords = kw_generic,
                .pattern = "(?m)(?|"
                /* name = "value" in code, JSON, YAML, TOML, attributes */
                GKEY "[\"'\\]]{0,2}[ \\t]*(?::=|=>|==?|:|,|\\()[ \\t]*(?:[@rbuf])?[\"'`]"
                           "(?<secret>[^\"'`\\s\\\\]{8,200})[\"'`]|"
                /* NAME=value, name: value, export/ENV/ARG NAME value, unquoted */
                GKEY "[\"']?(?:[ \\t]*[:=][ \\t]*|[ \\t]+)(?<secret>[^\\s\"'`#;,(){}\\[\\]<>]"
                           "{8,200})[ \\t]*(?:[#;][^\\n]*)?\\r?$|"
                /* <password>value</password> */
                GKEY ">(?<secret>[^<\\s]{8,200})</|"
                /* <add key="ApiKey" value="…"/> */
                GKEY "[\"'][ \\t]+value=[\"'](?<secret>[^\"'\\s]{8,200})[\"'])",
                .check = check_generic,
                .flags = SCAN_RULE_NOCASE | SCAN_RULE_GENERIC,
        },
};

const size_t scan_struct_rules_n = sizeof(scan_struct_rules) / sizeof(scan_struct_rules[0]);
