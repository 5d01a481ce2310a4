/* schema.c - environment variables against a JSON Schema subset (schema.h,
 * docs/env.md "coffer env check"). */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "tools/env/schema.h"

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Backtracking limits of one pattern match: a pattern that needs more is
 * reported as not matched (with its own message), never run for ever. */
#define SCHEMA_MATCH_LIMIT 1000000u
#define SCHEMA_DEPTH_LIMIT 10000u

enum schema_type {
	ST_STRING,
	ST_INTEGER,
	ST_NUMBER,
	ST_BOOLEAN,
	ST_URL,
	ST_URI,
	ST_EMAIL,
};

struct schema_var {
	char *name;
	enum schema_type type;   /* what "type" asks (ST_STRING when absent) */
	enum schema_type format; /* what "format" asks (ST_STRING when absent) */
	bool typed;              /* "type" asks for integer/number/boolean/url/email */
	json_t *enumv;           /* the "enum" array, or NULL */
	bool has_minlen, has_maxlen;
	size_t minlen, maxlen;
	char *pattern;
	pcre2_code *re;
	json_t *minimum, *maximum; /* JSON numbers, or NULL */
	char *defval;              /* the default as text, or NULL */
	bool secret, required;
};

struct schema {
	struct schema_var *v;
	size_t n;
	pcre2_match_context *mctx;
};

/* ---- loading ---- */

static const struct {
	const char *name;
	enum schema_type type;
} type_names[] = {
        {"string", ST_STRING},   {"integer", ST_INTEGER}, {"number", ST_NUMBER},
        {"boolean", ST_BOOLEAN}, {"url", ST_URL},         {"email", ST_EMAIL},
        {"enum", ST_STRING}, /* "enum" needs the enum keyword; checked below */
};

static const struct {
	const char *name;
	enum schema_type type;
} format_names[] = {
        {"url", ST_URL},
        {"uri", ST_URI},
        {"email", ST_EMAIL},
};

/* Keywords of a property that carry no rule: accepted and ignored. */
static const char *const prop_notes[] = {"description", "title", "$comment", "examples"};
/* Keywords at the top level besides properties and required. */
static const char *const top_notes[] = {"$schema", "$id", "title", "description", "$comment"};

static bool
in_list(const char *k, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(k, list[i]) == 0)
			return true;
	return false;
}

static struct schema_var *
var_find(const struct schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

static int
var_add(struct schema *s, const char *name, struct schema_var **ret)
{
	struct schema_var *v;

	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return CF_ENOMEM;
	s->v = v;
	v = &s->v[s->n];
	memset(v, 0, sizeof(*v));
	v->name = strdup(name);
	if (!v->name)
		return CF_ENOMEM;
	s->n++;
	*ret = v;
	return 0;
}

/* A length keyword: a non-negative JSON integer. */
static int
load_length(json_t *j, const char *var, const char *kw, size_t *ret, char *err, size_t errlen)
{
	if (!json_is_integer(j) || json_integer_value(j) < 0) {
		util_errf(err, errlen, "schema: properties.%s: %s must be a non-negative integer",
		          var, kw);
		return CF_EINVAL;
	}
	*ret = (size_t)json_integer_value(j);
	return 0;
}

/* The default as the text a variable would hold: strings as they are, numbers
 * as JSON writes them, booleans as true/false. */
static int
load_default(json_t *j, const char *var, char **ret, char *err, size_t errlen)
{
	char buf[64];
	const char *t;

	if (json_is_string(j)) {
		if (memchr(json_string_value(j), '\0', json_string_length(j))) {
			util_errf(err, errlen,
			          "schema: properties.%s: default holds a NUL character", var);
			return CF_EINVAL;
		}
		t = json_string_value(j);
	} else if (json_is_integer(j)) {
		(void)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		t = buf;
	} else if (json_is_real(j)) {
		(void)snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
		t = buf;
	} else if (json_is_boolean(j)) {
		t = json_is_true(j) ? "true" : "false";
	} else {
		util_errf(err, errlen,
		          "schema: properties.%s: default must be a string, number or boolean",
		          var);
		return CF_EINVAL;
	}
	*ret = strdup(t);
	return *ret ? 0 : CF_ENOMEM;
}

static int
load_pattern(struct schema_var *v, json_t *j, char *err, size_t errlen)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int code;

	if (!json_is_string(j)) {
		util_errf(err, errlen, "schema: properties.%s: pattern must be a string", v->name);
		return CF_EINVAL;
	}
	if (json_string_length(j) > SCHEMA_MAX_PATTERN) {
		util_errf(err, errlen, "schema: properties.%s: pattern longer than %u bytes",
		          v->name, SCHEMA_MAX_PATTERN);
		return CF_EINVAL;
	}
	v->pattern = strdup(json_string_value(j));
	if (!v->pattern)
		return CF_ENOMEM;
	/* A search, not a full match (JSON Schema: patterns are not anchored). UTF
	 * mode that tolerates invalid UTF-8 in the subject: the process
	 * environment is not checked for it. */
	v->re = pcre2_compile((PCRE2_SPTR)json_string_value(j), json_string_length(j),
	                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C, &code,
	                      &off, NULL);
	if (!v->re) {
		(void)pcre2_get_error_message(code, msg, sizeof(msg));
		util_errf(err, errlen, "schema: properties.%s: pattern: %s at offset %zu", v->name,
		          (const char *)msg, (size_t)off);
		return CF_EINVAL;
	}
	/* JIT when the library has it; the interpreter otherwise. */
	(void)pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE);
	return 0;
}

static int
load_type(struct schema_var *v, json_t *j, char *err, size_t errlen)
{
	const char *t = json_string_value(j);

	if (!t) {
		util_errf(err, errlen, "schema: properties.%s: type must be a string", v->name);
		return CF_EINVAL;
	}
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(t, type_names[i].name) == 0) {
			v->type = type_names[i].type;
			v->typed = v->type != ST_STRING;
			return 0;
		}
	}
	util_errf(err, errlen,
	          "schema: properties.%s: unknown type \"%s\" (string, integer, number, boolean, "
	          "url, email or enum)",
	          v->name, t);
	return CF_EINVAL;
}

static int
load_format(struct schema_var *v, json_t *j, char *err, size_t errlen)
{
	const char *t = json_string_value(j);

	if (!t) {
		util_errf(err, errlen, "schema: properties.%s: format must be a string", v->name);
		return CF_EINVAL;
	}
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(t, format_names[i].name) == 0) {
			v->format = format_names[i].type;
			return 0;
		}
	}
	util_errf(err, errlen, "schema: properties.%s: unknown format \"%s\" (url, uri or email)",
	          v->name, t);
	return CF_EINVAL;
}

static int
load_enum(struct schema_var *v, json_t *j, char *err, size_t errlen)
{
	json_t *e;
	size_t i;

	if (!json_is_array(j) || json_array_size(j) == 0) {
		util_errf(err, errlen, "schema: properties.%s: enum must be a non-empty array",
		          v->name);
		return CF_EINVAL;
	}
	json_array_foreach(j, i, e)
	{
		if (!json_is_string(e) && !json_is_number(e) && !json_is_boolean(e)) {
			util_errf(err, errlen,
			          "schema: properties.%s: enum values must be strings, numbers or "
			          "booleans",
			          v->name);
			return CF_EINVAL;
		}
	}
	v->enumv = json_incref(j);
	return 0;
}

static int
load_property(struct schema *s, const char *name, json_t *p, char *err, size_t errlen)
{
	struct schema_var *v;
	const char *k;
	json_t *j;
	bool is_enum_type = false;
	int r;

	if (name[0] == '\0' || strchr(name, '=')) {
		util_errf(err, errlen, "schema: properties: \"%s\" is not a variable name", name);
		return CF_EINVAL;
	}
	if (!json_is_object(p)) {
		util_errf(err, errlen, "schema: properties.%s must be an object", name);
		return CF_EINVAL;
	}
	if (s->n >= SCHEMA_MAX_VARS) {
		util_errf(err, errlen, "schema: more than %u variables", SCHEMA_MAX_VARS);
		return CF_ETOOBIG;
	}
	r = var_add(s, name, &v);
	if (r < 0)
		return r;
	json_object_foreach(p, k, j)
	{
		r = 0;
		if (strcmp(k, "type") == 0) {
			r = load_type(v, j, err, errlen);
			is_enum_type = r == 0 && strcmp(json_string_value(j), "enum") == 0;
		} else if (strcmp(k, "format") == 0) {
			r = load_format(v, j, err, errlen);
		} else if (strcmp(k, "enum") == 0) {
			r = load_enum(v, j, err, errlen);
		} else if (strcmp(k, "minLength") == 0) {
			v->has_minlen = true;
			r = load_length(j, name, k, &v->minlen, err, errlen);
		} else if (strcmp(k, "maxLength") == 0) {
			v->has_maxlen = true;
			r = load_length(j, name, k, &v->maxlen, err, errlen);
		} else if (strcmp(k, "pattern") == 0) {
			r = load_pattern(v, j, err, errlen);
		} else if (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0) {
			if (!json_is_number(j)) {
				util_errf(err, errlen, "schema: properties.%s: %s must be a number",
				          name, k);
				return CF_EINVAL;
			}
			if (strcmp(k, "minimum") == 0)
				v->minimum = json_incref(j);
			else
				v->maximum = json_incref(j);
		} else if (strcmp(k, "default") == 0) {
			r = load_default(j, name, &v->defval, err, errlen);
		} else if (strcmp(k, "secret") == 0) {
			if (!json_is_boolean(j)) {
				util_errf(err, errlen,
				          "schema: properties.%s: secret must be true or false",
				          name);
				return CF_EINVAL;
			}
			v->secret = json_is_true(j);
		} else if (!in_list(k, prop_notes, sizeof(prop_notes) / sizeof(prop_notes[0]))) {
			util_errf(err, errlen, "schema: properties.%s: unknown keyword \"%s\"",
			          name, k);
			return CF_EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (is_enum_type && !v->enumv) {
		util_errf(err, errlen, "schema: properties.%s: type \"enum\" needs an enum list",
		          name);
		return CF_EINVAL;
	}
	if ((v->minimum || v->maximum) && v->type != ST_INTEGER && v->type != ST_NUMBER) {
		util_errf(err, errlen,
		          "schema: properties.%s: minimum and maximum need type integer or number",
		          name);
		return CF_EINVAL;
	}
	return 0;
}

static int
load_required(struct schema *s, json_t *req, char *err, size_t errlen)
{
	struct schema_var *v;
	json_t *e;
	size_t i;
	int r;

	if (!json_is_array(req)) {
		util_errf(err, errlen, "schema: required must be an array of variable names");
		return CF_EINVAL;
	}
	json_array_foreach(req, i, e)
	{
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    strlen(json_string_value(e)) != json_string_length(e) ||
		    strchr(json_string_value(e), '=')) {
			util_errf(err, errlen, "schema: required[%zu] is not a variable name", i);
			return CF_EINVAL;
		}
		v = var_find(s, json_string_value(e));
		if (!v) {
			if (s->n >= SCHEMA_MAX_VARS) {
				util_errf(err, errlen, "schema: more than %u variables",
				          SCHEMA_MAX_VARS);
				return CF_ETOOBIG;
			}
			r = var_add(s, json_string_value(e), &v);
			if (r < 0)
				return r;
		}
		v->required = true;
	}
	return 0;
}

int
schema_load(const char *text, size_t len, struct schema **ret, char *err, size_t errlen)
{
	struct schema *s = NULL;
	json_error_t jerr;
	json_t *root = NULL, *props, *j;
	const char *k;
	int r;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		util_errf(err, errlen, "schema: line %d, column %d: %s", jerr.line, jerr.column,
		          jerr.text);
		r = CF_EINVAL;
		goto out;
	}
	if (!json_is_object(root)) {
		util_errf(err, errlen, "schema: the top level must be an object");
		r = CF_EINVAL;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		r = CF_ENOMEM;
		goto out;
	}
	json_object_foreach(root, k, j)
	{
		if (strcmp(k, "properties") == 0 || strcmp(k, "required") == 0)
			continue;
		if (strcmp(k, "type") == 0 && json_is_string(j) &&
		    strcmp(json_string_value(j), "object") == 0)
			continue;
		if (!in_list(k, top_notes, sizeof(top_notes) / sizeof(top_notes[0]))) {
			util_errf(err, errlen, "schema: unknown keyword \"%s\" at the top level",
			          k);
			r = CF_EINVAL;
			goto out;
		}
	}
	props = json_object_get(root, "properties");
	if (props && !json_is_object(props)) {
		util_errf(err, errlen, "schema: properties must be an object");
		r = CF_EINVAL;
		goto out;
	}
	json_object_foreach(props, k, j)
	{
		r = load_property(s, k, j, err, errlen);
		if (r < 0)
			goto out;
	}
	j = json_object_get(root, "required");
	if (j) {
		r = load_required(s, j, err, errlen);
		if (r < 0)
			goto out;
	}
	s->mctx = pcre2_match_context_create(NULL);
	if (!s->mctx) {
		r = CF_ENOMEM;
		goto out;
	}
	(void)pcre2_set_match_limit(s->mctx, SCHEMA_MATCH_LIMIT);
	(void)pcre2_set_depth_limit(s->mctx, SCHEMA_DEPTH_LIMIT);
	*ret = s;
	s = NULL;
	r = 0;
out:
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "schema: out of memory");
	schema_free(s);
	json_decref(root);
	return r;
}

int
schema_load_file(const char *path, struct schema **ret, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = util_read_file(path, SCHEMA_MAX_FILE, &text, &len, err, errlen);
	if (r == CF_ENOTFOUND)
		r = CF_EIO;
	if (r < 0)
		goto out;
	r = schema_load(text, len, ret, err, errlen);
	if (r == CF_EINVAL && err && strncmp(err, "schema: ", 8) == 0) {
		char why[512];

		(void)snprintf(why, sizeof(why), "%s", err + 8);
		util_errf(err, errlen, "schema %s: %s", path, why);
	}
out:
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "%s: out of memory", path);
	/* A schema may hold defaults of secrets. */
	secmem_free(text, len + 1);
	return r;
}

void
schema_free(struct schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct schema_var *v = &s->v[i];

		free(v->name);
		json_decref(v->enumv);
		free(v->pattern);
		pcre2_code_free(v->re);
		json_decref(v->minimum);
		json_decref(v->maximum);
		secmem_free_str(v->defval);
	}
	free(s->v);
	pcre2_match_context_free(s->mctx);
	free(s);
}

/* ---- coercion (docs/env.md "Coercion") ---- */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* An optional sign and one or more decimal digits, within int64. */
static bool
coerce_integer(const char *s, int64_t *ret)
{
	bool neg = false;
	uint64_t v = 0, lim;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!is_digit(*s))
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		if (!is_digit(*s))
			return false;
		if (v > (lim - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* [+-] digits [. digits] [e [+-] digits], or [+-] . digits [...]; finite. */
static bool
coerce_number(const char *s, double *ret)
{
	const char *p = s;
	size_t digits = 0;
	char *end;
	double d;

	if (*p == '+' || *p == '-')
		p++;
	for (; is_digit(*p); p++)
		digits++;
	if (*p == '.')
		for (p++; is_digit(*p); p++)
			digits++;
	if (digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	if (*p != '\0')
		return false;
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || !isfinite(d))
		return false;
	*ret = d;
	return true;
}

static const char *const bool_true[] = {"true", "1", "yes", "on"};
static const char *const bool_false[] = {"false", "0", "no", "off"};

static bool
coerce_boolean(const char *s, bool *ret)
{
	for (size_t i = 0; i < sizeof(bool_true) / sizeof(bool_true[0]); i++) {
		if (strcasecmp(s, bool_true[i]) == 0) {
			*ret = true;
			return true;
		}
		if (strcasecmp(s, bool_false[i]) == 0) {
			*ret = false;
			return true;
		}
	}
	return false;
}

/* A space, a control character or DEL. */
static bool
is_bad_char(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* scheme ":" : returns the length of the scheme, or 0. */
static size_t
scheme_len(const char *s)
{
	size_t i;

	if (!is_alpha(s[0]))
		return 0;
	for (i = 1; s[i]; i++) {
		if (s[i] == ':')
			return i;
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return 0;
	}
	return 0;
}

static bool
no_bad_chars(const char *s)
{
	for (; *s; s++)
		if (is_bad_char((unsigned char)*s))
			return false;
	return true;
}

/* An absolute URI: scheme ":" and something, no spaces or controls. */
static bool
check_uri(const char *s)
{
	size_t n = scheme_len(s);

	return n > 0 && s[n + 1] != '\0' && no_bad_chars(s);
}

/* A URL: scheme "://" [userinfo "@"] host [":" port] [path/query/fragment],
 * host non-empty (a name or a bracketed IPv6 address), port 0-65535. */
static bool
check_url(const char *s)
{
	size_t n = scheme_len(s), alen;
	const char *a, *host, *at, *end, *port = NULL;
	unsigned long pv = 0;

	if (n == 0 || strncmp(s + n, "://", 3) != 0 || !no_bad_chars(s))
		return false;
	a = s + n + 3;
	alen = strcspn(a, "/?#");
	end = a + alen;
	host = a;
	for (at = a; at < end; at++)
		if (*at == '@')
			host = at + 1;
	if (host < end && *host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (!rb || rb == host + 1)
			return false;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return false;
			port = rb + 2;
		}
	} else {
		const char *c = memchr(host, ':', (size_t)(end - host));

		if ((c ? c : end) == host)
			return false;
		if (c)
			port = c + 1;
	}
	if (port) {
		for (; port < end; port++) {
			if (!is_digit(*port))
				return false;
			pv = pv * 10 + (unsigned long)(*port - '0');
			if (pv > 65535)
				return false;
		}
	}
	return true;
}

/* local "@" domain: local is 1-64 bytes without spaces, controls or "@";
 * domain is two or more dot-separated labels of letters, digits and inner
 * hyphens (1-63 each); 254 bytes at most. Addresses with quoted local parts
 * or non-ASCII domains are refused. */
static bool
check_email(const char *s)
{
	const char *at = strchr(s, '@'), *d, *label;
	size_t labels = 0, llen;

	if (!at || at == s || at - s > 64 || strlen(s) > 254 || strchr(at + 1, '@') ||
	    !no_bad_chars(s))
		return false;
	d = at + 1;
	for (;;) {
		label = d;
		llen = strcspn(label, ".");
		if (llen == 0 || llen > 63 || label[0] == '-' || label[llen - 1] == '-')
			return false;
		for (size_t i = 0; i < llen; i++)
			if (!is_alpha(label[i]) && !is_digit(label[i]) && label[i] != '-')
				return false;
		labels++;
		if (label[llen] == '\0')
			break;
		d = label + llen + 1;
	}
	return labels >= 2;
}

/* Characters (UTF-8 code points; a stray byte counts as one). */
static size_t
char_count(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* ---- checking ---- */

static int report_add(struct schema_report *rep, const char *var, const char *rule, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static int
report_add(struct schema_report *rep, const char *var, const char *rule, const char *fmt, ...)
{
	struct schema_failure *f;
	va_list ap;
	char *msg = NULL;
	int n;

	f = realloc(rep->fail, (rep->nfail + 1) * sizeof(*f));
	if (!f)
		return CF_ENOMEM;
	rep->fail = f;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CF_ENOMEM;
	f = &rep->fail[rep->nfail];
	f->rule = rule;
	f->message = msg;
	f->var = strdup(var);
	if (!f->var) {
		free(msg);
		return CF_ENOMEM;
	}
	rep->nfail++;
	return 0;
}

/* A JSON number as text for a message ("1", "2.5"). */
static void
number_text(const json_t *j, char *buf, size_t len)
{
	if (json_is_integer(j))
		(void)snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
	else
		(void)snprintf(buf, len, "%.17g", json_real_value(j));
}

/* Compares a coerced value with a bound: <0, 0, >0. Integers against integer
 * bounds exactly; everything else as doubles. */
static int
bound_cmp(bool is_int, int64_t iv, double dv, const json_t *b)
{
	if (is_int && json_is_integer(b)) {
		json_int_t bi = json_integer_value(b);

		return iv < bi ? -1 : iv > bi;
	}
	if (is_int)
		dv = (double)iv;
	return dv < json_number_value(b) ? -1 : dv > json_number_value(b);
}

/* Does value equal enum entry e (after coercion for non-string entries)? */
static bool
enum_entry_matches(const json_t *e, const char *value)
{
	int64_t iv;
	double dv;
	bool bv;

	if (json_is_string(e))
		return strcmp(json_string_value(e), value) == 0;
	if (json_is_integer(e))
		return coerce_integer(value, &iv) && iv == json_integer_value(e);
	if (json_is_real(e))
		return coerce_number(value, &dv) && dv == json_real_value(e);
	if (json_is_boolean(e))
		return coerce_boolean(value, &bv) && bv == json_is_true(e);
	return false;
}

/* "a, b, c" of an enum for its message; long lists are cut. */
static void
enum_text(const json_t *en, char *buf, size_t len)
{
	size_t i, used = 0;
	json_t *e;
	int n;

	buf[0] = '\0';
	json_array_foreach(en, i, e)
	{
		char num[64];
		const char *t;

		if (json_is_string(e)) {
			t = json_string_value(e);
		} else if (json_is_boolean(e)) {
			t = json_is_true(e) ? "true" : "false";
		} else {
			number_text(e, num, sizeof(num));
			t = num;
		}
		n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", t);
		if (n < 0 || (size_t)n >= len - used) {
			/* cut: end with an ellipsis */
			if (len >= 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		used += (size_t)n;
	}
}

static const char *
type_message(enum schema_type t)
{
	switch (t) {
	case ST_INTEGER:
		return "must be an integer";
	case ST_NUMBER:
		return "must be a number";
	case ST_BOOLEAN:
		return "must be a boolean (true, false, 1, 0, yes, no, on, off)";
	case ST_URL:
		return "must be a URL (scheme://host...)";
	case ST_URI:
		return "must be an absolute URI (scheme:...)";
	case ST_EMAIL:
		return "must be an email address";
	case ST_STRING:
		break;
	}
	return "must be a string";
}

/* Does value satisfy the type or format t? Writes the coerced number. */
static bool
type_ok(enum schema_type t, const char *value, int64_t *iv, double *dv)
{
	bool bv;

	switch (t) {
	case ST_INTEGER:
		return coerce_integer(value, iv);
	case ST_NUMBER:
		return coerce_number(value, dv);
	case ST_BOOLEAN:
		return coerce_boolean(value, &bv);
	case ST_URL:
		return check_url(value);
	case ST_URI:
		return check_uri(value);
	case ST_EMAIL:
		return check_email(value);
	case ST_STRING:
		break;
	}
	return true;
}

static int
check_pattern(const struct schema *s, const struct schema_var *v, const char *value, size_t len,
              struct schema_report *rep)
{
	pcre2_match_data *md;
	int rc;

	md = pcre2_match_data_create(1, NULL);
	if (!md)
		return CF_ENOMEM;
	rc = pcre2_match(v->re, (PCRE2_SPTR)value, len, 0, 0, md, s->mctx);
	/* the match data holds offsets only, never a copy of the value */
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 0;
	if (rc == PCRE2_ERROR_NOMATCH)
		return report_add(rep, v->name, "pattern", "must match the pattern %s", v->pattern);
	return report_add(rep, v->name, "pattern",
	                  "could not be matched against the pattern %s (match limit)", v->pattern);
}

static int
check_var(const struct schema *s, const struct schema_var *v, const struct dotenv_entry *e,
          struct schema_report *rep)
{
	const char *value = e->value;
	int64_t iv = 0;
	double dv = 0;
	bool typed_ok = true;
	char buf[512];
	size_t nch;
	int r;

	if (v->secret && e->value_len == 0) {
		r = report_add(rep, v->name, "secret", "must not be empty");
		if (r < 0)
			return r;
	}
	if (v->typed) {
		typed_ok = type_ok(v->type, value, &iv, &dv);
		if (!typed_ok) {
			r = report_add(rep, v->name, "type", "%s", type_message(v->type));
			if (r < 0)
				return r;
		}
	}
	if (v->format != ST_STRING && !type_ok(v->format, value, &iv, &dv)) {
		r = report_add(rep, v->name, "format", "%s", type_message(v->format));
		if (r < 0)
			return r;
	}
	if (v->enumv) {
		size_t i;
		json_t *en;
		bool hit = false;

		json_array_foreach(v->enumv, i, en)
		{
			if (enum_entry_matches(en, value))
				hit = true;
		}
		if (!hit) {
			enum_text(v->enumv, buf, sizeof(buf));
			r = report_add(rep, v->name, "enum", "must be one of: %s", buf);
			if (r < 0)
				return r;
		}
	}
	nch = char_count(value, e->value_len);
	if (v->has_minlen && nch < v->minlen) {
		r = report_add(rep, v->name, "minLength", "must be at least %zu characters long",
		               v->minlen);
		if (r < 0)
			return r;
	}
	if (v->has_maxlen && nch > v->maxlen) {
		r = report_add(rep, v->name, "maxLength", "must be at most %zu characters long",
		               v->maxlen);
		if (r < 0)
			return r;
	}
	if (v->re) {
		r = check_pattern(s, v, value, e->value_len, rep);
		if (r < 0)
			return r;
	}
	/* Bounds only mean something for a value of the right type. */
	if (typed_ok && v->minimum && bound_cmp(v->type == ST_INTEGER, iv, dv, v->minimum) < 0) {
		number_text(v->minimum, buf, sizeof(buf));
		r = report_add(rep, v->name, "minimum", "must be >= %s", buf);
		if (r < 0)
			return r;
	}
	if (typed_ok && v->maximum && bound_cmp(v->type == ST_INTEGER, iv, dv, v->maximum) > 0) {
		number_text(v->maximum, buf, sizeof(buf));
		r = report_add(rep, v->name, "maximum", "must be <= %s", buf);
		if (r < 0)
			return r;
	}
	return 0;
}

int
schema_check(const struct schema *s, const struct dotenv *env, struct schema_report *rep)
{
	const struct dotenv_entry *e;
	int r;

	for (size_t i = 0; i < s->n; i++) {
		const struct schema_var *v = &s->v[i];

		e = dotenv_find(env, v->name);
		if (!e) {
			/* An absent variable breaks only "required" (JSON Schema). */
			if (v->required) {
				r = report_add(rep, v->name, "required", "is required but not set");
				if (r < 0)
					return r;
			}
			continue;
		}
		r = check_var(s, v, e, rep);
		if (r < 0)
			return r;
	}
	rep->nchecked = s->n;
	return 0;
}

int
schema_apply_defaults(const struct schema *s, struct dotenv *env, struct schema_report *rep)
{
	char **d;
	int r;

	for (size_t i = 0; i < s->n; i++) {
		const struct schema_var *v = &s->v[i];

		if (!v->defval || dotenv_find(env, v->name))
			continue;
		r = dotenv_set(env, v->name, v->defval, strlen(v->defval));
		if (r < 0)
			return r;
		if (!rep)
			continue;
		d = realloc(rep->defaulted, (rep->ndefaulted + 1) * sizeof(*d));
		if (!d)
			return CF_ENOMEM;
		rep->defaulted = d;
		d[rep->ndefaulted] = strdup(v->name);
		if (!d[rep->ndefaulted])
			return CF_ENOMEM;
		rep->ndefaulted++;
	}
	return 0;
}

int
schema_check_example(const struct dotenv *example, const struct dotenv *env,
                     struct schema_report *rep)
{
	const struct dotenv_entry *e;
	int r;

	for (size_t i = 0; i < example->n; i++) {
		const char *key = example->v[i].key;

		e = dotenv_find(env, key);
		if (!e)
			r = report_add(rep, key, "example", "is in the example file but not set");
		else if (e->value_len == 0)
			r = report_add(rep, key, "example", "is in the example file but empty");
		else
			r = 0;
		if (r < 0)
			return r;
	}
	rep->nchecked = example->n;
	return 0;
}

void
schema_report_free(struct schema_report *rep)
{
	for (size_t i = 0; i < rep->nfail; i++) {
		free(rep->fail[i].var);
		free(rep->fail[i].message);
	}
	free(rep->fail);
	for (size_t i = 0; i < rep->ndefaulted; i++)
		free(rep->defaulted[i]);
	free(rep->defaulted);
	memset(rep, 0, sizeof(*rep));
}

bool
schema_is_secret(const struct schema *s, const char *name)
{
	const struct schema_var *v = var_find(s, name);

	return v && v->secret;
}

size_t
schema_var_count(const struct schema *s)
{
	return s->n;
}

const char *
schema_var_name(const struct schema *s, size_t i)
{
	return i < s->n ? s->v[i].name : NULL;
}
