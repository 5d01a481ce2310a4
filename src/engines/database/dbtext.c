/* dbtext.c - statement inputs, templating, usernames, passwords and connection
 * strings for the database engine (see dbtext.h). */
#include "engines/database/dbtext.h"

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A string under construction. It holds passwords, so its buffer is
 * BUF_SECRET; the first failed append (no memory, or past DBTEXT_MAX) is
 * remembered and sb_finish then returns NULL, so callers check once. */
#define DBTEXT_MAX (32u * 1024 * 1024)
#define SB_INIT                                                                                    \
	{                                                                                          \
		BUF_INIT(DBTEXT_MAX, BUF_SECRET), false                                            \
	}

struct sb {
	struct buf b;
	bool oom;
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
	if (!b->oom && buf_append(&b->b, s, n) < 0)
		b->oom = true;
}

static void
sb_addc(struct sb *b, char c)
{
	sb_add(b, &c, 1);
}

static void
sb_adds(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Returns the string (owned by the caller, freed with secmem_free_str) or NULL
 * after a failed append or allocation; b is left empty either way. */
static char *
sb_finish(struct sb *b)
{
	char *s = NULL;

	if (b->oom || buf_detach(&b->b, &s, NULL) < 0)
		s = NULL;
	buf_free(&b->b);
	return s;
}

/* ---- statement inputs ---- */

static bool
is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/* Go's base64.StdEncoding: padded, the standard alphabet, no blanks. The decoded
 * bytes must be text (no NUL or control characters other than blanks), so that a
 * short statement that happens to be valid base64 ("BEGIN") stays as written. */
static char *
maybe_b64(const char *s)
{
	size_t n = strlen(s), len = 0;
	uint8_t *out = NULL;
	char *text;

	if (n == 0 || n % 4 != 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '+' && c != '/' && c != '=')
			return NULL;
	}
	if (util_b64_decode(s, &out, &len) < 0)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (out[i] < 0x20 && out[i] != '\n' && out[i] != '\r' && out[i] != '\t') {
			free(out);
			return NULL;
		}
		if (out[i] == 0x7f) {
			free(out);
			return NULL;
		}
	}
	text = malloc(len + 1);
	if (text) {
		memcpy(text, out, len);
		text[len] = '\0';
	}
	free(out);
	return text;
}

static int
stmt_add(json_t *out, const char *s, char *err, size_t errlen)
{
	if (is_blank(s))
		return 0;
	if (json_array_size(out) >= DB_STMT_MAX_COUNT) {
		snprintf(err, errlen, "too many statements (at most %d)", DB_STMT_MAX_COUNT);
		return CF_EINVAL;
	}
	if (strlen(s) > DB_STMT_MAX_BYTES) {
		snprintf(err, errlen, "statement too long (at most %d bytes)", DB_STMT_MAX_BYTES);
		return CF_EINVAL;
	}
	if (json_array_append_new(out, json_string(s)) < 0)
		return CF_ENOMEM;
	return 0;
}

/* One string of input: base64, JSON array, or the text itself. */
static int
stmt_input_string(const char *s, json_t *out, char *err, size_t errlen)
{
	char *dec = maybe_b64(s);
	const char *text = dec ? dec : s;
	const char *t = text;
	int r = 0;

	while (isspace((unsigned char)*t))
		t++;
	if (*t == '[') {
		json_t *arr = json_loads(t, JSON_REJECT_DUPLICATES, NULL);
		bool ok = json_is_array(arr);
		size_t i;
		json_t *v;

		json_array_foreach(arr, i, v)
		{
			if (!json_is_string(v))
				ok = false;
		}
		if (ok) {
			json_array_foreach(arr, i, v)
			{
				r = stmt_add(out, json_string_value(v), err, errlen);
				if (r < 0)
					break;
			}
			json_decref(arr);
			free(dec);
			return r;
		}
		json_decref(arr);
	}
	r = stmt_add(out, text, err, errlen);
	free(dec);
	return r;
}

int
dbtext_stmt_input(json_t *val, json_t **ret, char *err, size_t errlen)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;
	int r = 0;

	if (!out)
		return CF_ENOMEM;
	if (!val || json_is_null(val)) {
		*ret = out;
		return 0;
	}
	if (json_is_string(val)) {
		r = stmt_input_string(json_string_value(val), out, err, errlen);
	} else if (json_is_array(val)) {
		json_array_foreach(val, i, v)
		{
			if (!json_is_string(v)) {
				snprintf(err, errlen, "statements must be strings");
				r = CF_EINVAL;
				break;
			}
			r = stmt_input_string(json_string_value(v), out, err, errlen);
			if (r < 0)
				break;
		}
	} else {
		snprintf(err, errlen, "statements must be a list of strings or a string");
		r = CF_EINVAL;
	}
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

static int
split_add(json_t *out, const char *s, size_t n)
{
	char *piece;
	int r = 0;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return 0;
	if (json_array_size(out) >= DB_STMT_MAX_COUNT)
		return CF_EINVAL;
	piece = strndup(s, n);
	if (!piece)
		return CF_ENOMEM;
	if (json_array_append_new(out, json_string(piece)) < 0)
		r = CF_ENOMEM;
	free(piece);
	return r;
}

/* Length of a dollar-quote tag at s ("$$" or "$tag$"), 0 if none. */
static size_t
dollar_tag(const char *s)
{
	size_t i = 1;

	if (s[0] != '$')
		return 0;
	if (isdigit((unsigned char)s[1]))
		return 0; /* $1 is a parameter */
	while (isalnum((unsigned char)s[i]) || s[i] == '_' || (unsigned char)s[i] >= 0x80)
		i++;
	return s[i] == '$' ? i + 1 : 0;
}

int
dbtext_stmt_split(const char *text, json_t *out)
{
	const char *start = text, *p = text;
	int r;

	while (*p) {
		if (*p == '\'' || *p == '"') {
			char q = *p++;
			while (*p && *p != q)
				p++;
			if (*p)
				p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			p += 2;
			while (*p && !(p[0] == '*' && p[1] == '/'))
				p++;
			if (*p)
				p += 2;
		} else if (*p == '$' && dollar_tag(p) > 0) {
			size_t tl = dollar_tag(p);
			const char *end;
			char tag[128];

			if (tl >= sizeof(tag)) {
				p += tl;
				continue;
			}
			memcpy(tag, p, tl);
			tag[tl] = '\0';
			end = strstr(p + tl, tag);
			p = end ? end + tl : p + strlen(p);
		} else if (*p == ';') {
			r = split_add(out, start, (size_t)(p - start));
			if (r < 0)
				return r;
			start = ++p;
		} else {
			p++;
		}
	}
	return split_add(out, start, (size_t)(p - start));
}

/* ---- placeholders ---- */

static const char *
var_value(const struct dbtext_vars *v, const char *p, size_t *ret_len)
{
	static const struct {
		const char *ph;
		size_t off;
	} map[] = {
	        {"{{name}}", offsetof(struct dbtext_vars, name)},
	        {"{{username}}", offsetof(struct dbtext_vars, username)},
	        {"{{password}}", offsetof(struct dbtext_vars, password)},
	        {"{{expiration}}", offsetof(struct dbtext_vars, expiration)},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t n = strlen(map[i].ph);
		if (strncmp(p, map[i].ph, n) == 0) {
			const char *val = *(const char *const *)((const char *)v + map[i].off);
			if (!val)
				return NULL;
			*ret_len = n;
			return val;
		}
	}
	return NULL;
}

static void
add_escaped(struct sb *b, const char *val, char quote)
{
	for (const char *s = val; *s; s++) {
		if (quote && *s == quote)
			sb_addc(b, quote);
		sb_addc(b, *s);
	}
}

int
dbtext_render(const char *tmpl, const struct dbtext_vars *v, char **ret)
{
	struct sb b = SB_INIT;
	const char *p = tmpl;
	char quote = 0; /* ', " or 0 */
	char *s;

	while (*p) {
		size_t n = 0;
		const char *val = p[0] == '{' && p[1] == '{' ? var_value(v, p, &n) : NULL;

		if (val) {
			add_escaped(&b, val, quote);
			p += n;
			continue;
		}
		if (quote == 0 && (*p == '\'' || *p == '"'))
			quote = *p;
		else if (quote != 0 && *p == quote)
			quote = 0; /* a doubled quote closes and reopens: same state after */
		sb_addc(&b, *p);
		p++;
	}
	s = sb_finish(&b);
	if (!s)
		return CF_ENOMEM;
	*ret = s;
	return 0;
}

void
dbtext_expiration(int64_t unix_secs, char *out, size_t len)
{
	time_t t = (time_t)unix_secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, len, "%Y-%m-%d %H:%M:%S+0000", &tm) == 0) {
		if (len > 0)
			out[0] = '\0';
	}
}

/* ---- usernames and passwords ---- */

void
dbtext_truncate(const char *s, size_t max, char *out)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		/* back off continuation bytes so no sequence is cut */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

void
dbtext_username(const char *display, const char *role, int64_t now, char *out)
{
	char d[9], r[9], rnd[21], full[128];
	int n;

	dbtext_truncate(display ? display : "token", 8, d);
	dbtext_truncate(role, 8, r);
	util_random_base62(rnd, 20);
	n = snprintf(full, sizeof(full), "v-%s-%s-%s-%lld", d, r, rnd, (long long)now);
	if (n < 0)
		full[0] = '\0';
	dbtext_truncate(full, DB_USERNAME_MAX, out);
}

static const char pw_charset[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";

bool
dbtext_password_ok(const char *pw)
{
	bool lo = false, up = false, dig = false, dash = false;
	size_t n = 0;

	for (const char *p = pw; *p; p++, n++) {
		if (*p >= 'a' && *p <= 'z')
			lo = true;
		else if (*p >= 'A' && *p <= 'Z')
			up = true;
		else if (*p >= '0' && *p <= '9')
			dig = true;
		else if (*p == '-')
			dash = true;
		else
			return false;
	}
	return n == DB_PASSWORD_LEN && lo && up && dig && dash;
}

void
dbtext_password(char *out)
{
	do {
		for (size_t i = 0; i < DB_PASSWORD_LEN; i++)
			out[i] = pw_charset[randombytes_uniform(sizeof(pw_charset) - 1)];
		out[DB_PASSWORD_LEN] = '\0';
	} while (!dbtext_password_ok(out));
}

/* ---- SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677; PostgreSQL's format) ---- */

int
dbtext_scram_verifier(const char *pw, const uint8_t *salt, char *out, size_t len)
{
	uint8_t s[16], salted[32], client[32], stored[32], server[32];
	unsigned int n = 0;
	char *b_salt = NULL, *b_stored = NULL, *b_server = NULL;
	int r = CF_ECRYPTO, w;

	for (const char *p = pw; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return CF_EINVAL; /* would need SASLprep */
	if (salt)
		memcpy(s, salt, sizeof(s));
	else
		randombytes_buf(s, sizeof(s));
	if (PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), s, sizeof(s), 4096, EVP_sha256(), sizeof(salted),
	                      salted) != 1)
		goto out;
	if (!HMAC(EVP_sha256(), salted, sizeof(salted), (const uint8_t *)"Client Key", 10, client,
	          &n) ||
	    !HMAC(EVP_sha256(), salted, sizeof(salted), (const uint8_t *)"Server Key", 10, server,
	          &n))
		goto out;
	SHA256(client, sizeof(client), stored);
	b_salt = util_b64_encode(s, sizeof(s));
	b_stored = util_b64_encode(stored, sizeof(stored));
	b_server = util_b64_encode(server, sizeof(server));
	if (!b_salt || !b_stored || !b_server) {
		r = CF_ENOMEM;
		goto out;
	}
	w = snprintf(out, len, "SCRAM-SHA-256$4096:%s$%s:%s", b_salt, b_stored, b_server);
	r = w > 0 && (size_t)w < len ? 0 : CF_EINVAL;
out:
	secmem_wipe(salted, sizeof(salted));
	secmem_wipe(client, sizeof(client));
	free(b_salt);
	free(b_stored);
	free(b_server);
	return r;
}

/* ---- connection strings ---- */

bool
dbtext_conn_is_url(const char *url)
{
	return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

static void
add_pct(struct sb *b, const char *val)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *s = (const unsigned char *)val; *s; s++) {
		if (isalnum(*s) || *s == '-' || *s == '.' || *s == '_' || *s == '~') {
			sb_addc(b, (char)*s);
		} else {
			char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};
			sb_add(b, e, 3);
		}
	}
}

static void
add_dsn_escaped(struct sb *b, const char *val)
{
	for (const char *s = val; *s; s++) {
		if (*s == '\'' || *s == '\\')
			sb_addc(b, '\\');
		sb_addc(b, *s);
	}
}

int
dbtext_conn_render(const char *url, const char *username, const char *password, bool raw,
                   char **ret)
{
	struct dbtext_vars v = {.username = username, .password = password};
	bool is_url = dbtext_conn_is_url(url);
	struct sb b = SB_INIT;
	bool inq = false;
	const char *p = url;
	char *s;

	while (*p) {
		size_t n = 0;
		const char *val = NULL;

		if (p[0] == '{' && p[1] == '{')
			val = var_value(&v, p, &n);
		if (val) {
			if (raw)
				sb_adds(&b, val);
			else if (is_url)
				add_pct(&b, val);
			else if (inq)
				add_dsn_escaped(&b, val);
			else {
				sb_addc(&b, '\'');
				add_dsn_escaped(&b, val);
				sb_addc(&b, '\'');
			}
			p += n;
			continue;
		}
		if (!is_url && *p == '\\' && inq && p[1]) {
			sb_add(&b, p, 2);
			p += 2;
			continue;
		}
		if (!is_url && *p == '\'')
			inq = !inq;
		sb_addc(&b, *p);
		p++;
	}
	s = sb_finish(&b);
	if (!s)
		return CF_ENOMEM;
	*ret = s;
	return 0;
}

static int
pct_decode(const char *s, size_t n, char **ret)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	if (!out)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char h[3] = {s[i + 1], s[i + 2], 0};
			out[j++] = (char)strtoul(h, NULL, 16);
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	*ret = out;
	return 0;
}

/* Finds the literal password in url: sets *ret_off and *ret_len to its place in url.
 * Returns false when there is none (or it is the {{password}} placeholder). */
static bool
literal_password_span(const char *url, size_t *ret_off, size_t *ret_len, bool *ret_quoted)
{
	*ret_quoted = false;
	if (dbtext_conn_is_url(url)) {
		const char *auth = strstr(url, "://") + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = memrchr(auth, '@', alen);
		const char *colon, *q;

		if (at) {
			colon = memchr(auth, ':', (size_t)(at - auth));
			if (colon && at - colon - 1 > 0 &&
			    strncmp(colon + 1, "{{password}}", (size_t)(at - colon - 1)) != 0) {
				*ret_off = (size_t)(colon + 1 - url);
				*ret_len = (size_t)(at - colon - 1);
				return true;
			}
		}
		q = strchr(url, '?');
		while (q) {
			q++;
			if (strncmp(q, "password=", 9) == 0) {
				size_t n = strcspn(q + 9, "&#");
				if (n > 0 && strncmp(q + 9, "{{password}}", n) != 0) {
					*ret_off = (size_t)(q + 9 - url);
					*ret_len = n;
					return true;
				}
			}
			q = strchr(q, '&');
		}
		return false;
	}
	/* key = value pairs */
	for (const char *p = url; *p;) {
		const char *k, *v;
		size_t klen;

		while (isspace((unsigned char)*p))
			p++;
		k = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		klen = (size_t)(p - k);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			return false;
		p++;
		while (isspace((unsigned char)*p))
			p++;
		v = p;
		if (*p == '\'') {
			p++;
			v = p;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (klen == 8 && strncmp(k, "password", 8) == 0 && p > v &&
			    strncmp(v, "{{password}}", (size_t)(p - v)) != 0) {
				*ret_off = (size_t)(v - url);
				*ret_len = (size_t)(p - v);
				*ret_quoted = true;
				return true;
			}
			if (*p)
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				p++;
			if (klen == 8 && strncmp(k, "password", 8) == 0 && p > v &&
			    strncmp(v, "{{password}}", (size_t)(p - v)) != 0) {
				*ret_off = (size_t)(v - url);
				*ret_len = (size_t)(p - v);
				return true;
			}
		}
	}
	return false;
}

int
dbtext_conn_literal_password(const char *url, char **ret)
{
	size_t off, len;
	bool quoted;

	*ret = NULL;
	if (!literal_password_span(url, &off, &len, &quoted))
		return 0;
	if (dbtext_conn_is_url(url))
		return pct_decode(url + off, len, ret);
	if (quoted) {
		char *out = malloc(len + 1);
		size_t j = 0;
		if (!out)
			return CF_ENOMEM;
		for (size_t i = 0; i < len; i++) {
			if (url[off + i] == '\\' && i + 1 < len)
				i++;
			out[j++] = url[off + i];
		}
		out[j] = '\0';
		*ret = out;
		return 0;
	}
	*ret = strndup(url + off, len);
	return *ret ? 0 : CF_ENOMEM;
}

char *
dbtext_conn_mask(const char *url)
{
	struct sb b = SB_INIT;
	size_t off, len;
	bool quoted;

	if (!literal_password_span(url, &off, &len, &quoted))
		return strdup(url);
	sb_add(&b, url, off);
	sb_adds(&b, "*****");
	sb_adds(&b, url + off + len);
	return sb_finish(&b);
}

/* Length of the longest prefix of m that occurs somewhere in secret. */
static size_t
match_in(const char *m, const char *secret)
{
	size_t best = 0;

	for (const char *s = secret; *s; s++) {
		size_t k = 0;
		while (m[k] && s[k] && m[k] == s[k])
			k++;
		if (k > best)
			best = k;
	}
	return best;
}

#define SCRUB_FORMS 4

char *
dbtext_scrub(const char *msg, const char *const *secrets, size_t n)
{
	struct sb b = SB_INIT;
	char **needles = calloc(n * SCRUB_FORMS + 1, sizeof(*needles));
	size_t nn = 0;
	const char *p = msg ? msg : "";
	bool oom = needles == NULL;

	for (size_t i = 0; i < n && !oom; i++) {
		struct sb f[SCRUB_FORMS] = {SB_INIT, SB_INIT, SB_INIT, SB_INIT};

		if (!secrets[i] || !*secrets[i])
			continue;
		sb_adds(&f[0], secrets[i]);
		add_pct(&f[1], secrets[i]);
		add_dsn_escaped(&f[2], secrets[i]);
		add_escaped(&f[3], secrets[i], '\'');
		for (int k = 0; k < SCRUB_FORMS; k++) {
			needles[nn] = sb_finish(&f[k]);
			if (!needles[nn])
				oom = true;
			else
				nn++;
		}
	}
	/* One pass, longest match first: a run that is a piece (at least
	 * DB_SCRUB_MIN long, or the whole secret) of any form of any secret is
	 * masked, since drivers quote statement fragments. */
	while (*p && !oom) {
		size_t best = 0;
		for (size_t i = 0; i < nn; i++) {
			size_t nl = strlen(needles[i]), min = nl < DB_SCRUB_MIN ? nl : DB_SCRUB_MIN;
			size_t k = match_in(p, needles[i]);
			if (k >= min && k > best)
				best = k;
		}
		if (best > 0) {
			sb_adds(&b, "*****");
			p += best;
		} else {
			sb_addc(&b, *p++);
		}
	}
	for (size_t i = 0; i < nn; i++)
		secmem_free_str(needles[i]);
	free(needles);
	if (oom) {
		secmem_free_str(sb_finish(&b));
		return NULL;
	}
	return sb_finish(&b);
}
