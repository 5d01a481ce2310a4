/* yaml.c - manifests in (YAML through libfyaml's event parser, JSON through
 * jansson) and out (block YAML with sorted keys, JSON in kubeseal's key
 * order). The contract is in yaml.h; docs/internals/sealed-cli.md explains
 * the choices. */
#include "tools/sealed/yaml.h"

#include "lib/err.h"
#include "lib/util.h"

#include <libfyaml.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading YAML ---- */

struct anchor {
	char *name;
	json_t *v;
	size_t nodes; /* values it expands to */
};

struct frame {
	json_t *v;        /* the object or array being filled */
	char *key;        /* object: the key read, waiting for its value */
	size_t key_len;   /* bytes of key */
	bool merge;       /* the pending key is a `<<` merge key */
	json_t *merges;   /* values of `<<` keys, applied at the end */
	char *anchor;     /* the anchor this collection defines, or NULL */
	size_t nodes0;    /* nodes counted when it started */
	struct fy_mark m; /* where it started */
};

struct reader {
	struct frame st[YAML_MAX_DEPTH];
	size_t depth;
	json_t *root; /* the document read so far */
	bool have_root;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
	size_t nodes; /* of the current document */
	char *err;
	size_t errlen;
};

static int
fail_at(struct reader *rd, const struct fy_mark *m, int r, const char *what)
{
	if (m)
		util_errf(rd->err, rd->errlen, "line %d, column %d: %s", m->line + 1, m->column + 1,
		          what);
	else
		util_errf(rd->err, rd->errlen, "%s", what);
	return r;
}

static bool
str_in(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++) {
		if (strlen(*list) == n && memcmp(*list, s, n) == 0)
			return true;
	}
	return false;
}

static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const trues[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                    "True", "TRUE", "on",  "On",  "ON",  NULL};
static const char *const falses[] = {"n",     "N",     "no",  "No",  "NO",  "false",
                                     "False", "FALSE", "off", "Off", "OFF", NULL};

/* An integer as go-yaml v2 resolves one: sign, then 0x / 0o / 0b / leading 0
 * (octal) or decimal digits, `_` ignored. Returns 1 with *ret, 0 when s is
 * no integer, -1 when it is one past int64. */
static int
parse_int(const char *s, size_t n, json_int_t *ret)
{
	uint64_t v = 0, lim;
	unsigned base = 10, d;
	bool neg = false, digits = false;
	size_t i = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	} else if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'o' || s[i + 1] == 'O')) {
		base = 8;
		i += 2;
	} else if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'b' || s[i + 1] == 'B')) {
		base = 2;
		i += 2;
	} else if (i + 1 < n && s[i] == '0') {
		base = 8;
	}
	if (i < n && s[i] == '_')
		return 0;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (s[i] == '_')
			continue;
		if (util_hex_digit((unsigned char)s[i]) < 0)
			return 0;
		d = (unsigned)util_hex_digit((unsigned char)s[i]);
		if (d >= base || (base <= 10 && (s[i] < '0' || s[i] > '9')))
			return 0;
		digits = true;
		if (v > (lim - d) / base)
			return -1;
		v = v * base + d;
	}
	if (!digits)
		return 0;
	*ret = neg ? (json_int_t)(0 - v) : (json_int_t)v;
	return 1;
}

/* A float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool
is_float(const char *s, size_t n)
{
	size_t i = 0, d = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (i < n && s[i] == '.') {
		i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
	}
	if (d == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == n || s[i] < '0' || s[i] > '9')
			return false;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	return i == n;
}

/* The value of a plain scalar, or NULL for a string (and for ENOMEM). */
static json_t *
plain_value(const char *s, size_t n)
{
	json_int_t iv;
	char tmp[64];
	double dv;
	int k;

	if (str_in(s, n, nulls))
		return json_null();
	if (str_in(s, n, trues))
		return json_true();
	if (str_in(s, n, falses))
		return json_false();
	k = parse_int(s, n, &iv);
	if (k > 0)
		return json_integer(iv);
	if ((k < 0 || is_float(s, n)) && n < sizeof(tmp)) {
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		dv = strtod(tmp, NULL);
		return json_real(dv); /* NULL for inf: then a string */
	}
	return NULL;
}

/* An explicit string tag: !!str, !!binary (kept as its base64 text), or the
 * non-specific `!`. Other tags resolve as untagged scalars. */
static bool
is_str_tag(struct fy_token *tag)
{
	static const char *const str_tags[] = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:binary",
	                                       "!", NULL};
	size_t n = 0;
	const char *t = tag ? fy_token_get_text(tag, &n) : NULL;

	return t && str_in(t, n, str_tags);
}

static struct anchor *
anchor_find(struct reader *rd, const char *name, size_t n)
{
	for (size_t i = rd->nanchors; i-- > 0;) {
		if (strlen(rd->anchors[i].name) == n && memcmp(rd->anchors[i].name, name, n) == 0)
			return &rd->anchors[i];
	}
	return NULL;
}

static int
anchor_add(struct reader *rd, const char *name, json_t *v, size_t nodes)
{
	struct anchor *a;

	if (rd->nanchors == rd->anchors_cap) {
		size_t cap = rd->anchors_cap ? rd->anchors_cap * 2 : 8;

		a = realloc(rd->anchors, cap * sizeof(*a));
		if (!a)
			return CF_ENOMEM;
		rd->anchors = a;
		rd->anchors_cap = cap;
	}
	a = &rd->anchors[rd->nanchors];
	a->name = strdup(name);
	if (!a->name)
		return CF_ENOMEM;
	a->v = json_incref(v);
	a->nodes = nodes;
	rd->nanchors++;
	return 0;
}

static void
anchors_clear(struct reader *rd)
{
	for (size_t i = 0; i < rd->nanchors; i++) {
		free(rd->anchors[i].name);
		json_decref(rd->anchors[i].v);
	}
	rd->nanchors = 0;
}

static char *
token_dup(struct fy_token *t)
{
	size_t n;
	const char *s = fy_token_get_text(t, &n);
	char *c;

	if (!s)
		return NULL;
	c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

static int
count_nodes(struct reader *rd, size_t n, const struct fy_mark *m)
{
	if (n > YAML_MAX_NODES - rd->nodes)
		return fail_at(rd, m, CF_ETOOBIG, "too many values (aliases expanded)");
	rd->nodes += n;
	return 0;
}

/* Puts a finished value v (stolen) where it belongs: the document, the
 * current array, or the current object under its pending key. */
static int
place(struct reader *rd, json_t *v, const struct fy_mark *m)
{
	struct frame *f;
	int r = 0;

	if (!v)
		return fail_at(rd, m, CF_ENOMEM, "out of memory");
	if (rd->depth == 0) {
		if (!json_is_object(v) && !json_is_null(v)) {
			json_decref(v);
			return fail_at(rd, m, CF_EINVAL, "a document is not a mapping");
		}
		rd->root = v;
		rd->have_root = true;
		return 0;
	}
	f = &rd->st[rd->depth - 1];
	if (json_is_array(f->v)) {
		if (json_array_append_new(f->v, v) != 0)
			r = fail_at(rd, m, CF_ENOMEM, "out of memory");
		return r;
	}
	if (f->merge) {
		if (!f->merges)
			f->merges = json_array();
		if (!f->merges || json_array_append_new(f->merges, v) != 0)
			r = fail_at(rd, m, CF_ENOMEM, "out of memory");
	} else if (json_object_setn_new(f->v, f->key, f->key_len, v) != 0) {
		r = fail_at(rd, m, CF_ENOMEM, "out of memory");
	}
	free(f->key); /* not secret: a mapping key (a name) */
	f->key = NULL;
	f->merge = false;
	return r;
}

/* The current frame is an object waiting for a key: takes s (n bytes). */
static int
take_key(struct reader *rd, const char *s, size_t n, bool merge, const struct fy_mark *m)
{
	struct frame *f = &rd->st[rd->depth - 1];
	char msg[160];

	if (memchr(s, '\0', n))
		return fail_at(rd, m, CF_EINVAL, "a mapping key holds a NUL byte");
	if (!merge && json_object_getn(f->v, s, n)) {
		snprintf(msg, sizeof(msg), "duplicate key \"%.*s\"", n > 64 ? 64 : (int)n, s);
		return fail_at(rd, m, CF_EINVAL, msg);
	}
	f->key = malloc(n + 1);
	if (!f->key)
		return fail_at(rd, m, CF_ENOMEM, "out of memory");
	memcpy(f->key, s, n);
	f->key[n] = '\0';
	f->key_len = n;
	f->merge = merge;
	return 0;
}

static bool
wants_key(const struct reader *rd)
{
	const struct frame *f;

	if (rd->depth == 0)
		return false;
	f = &rd->st[rd->depth - 1];
	return json_is_object(f->v) && !f->key;
}

/* libfyaml 0.7 leaks the chunk list fy_token_get_text() builds for a
 * single-quoted scalar with many '' escapes (its token iterator, the
 * alternative, garbles escapes): a few kilobytes of chunk bookkeeping in a
 * short-lived command, accepted; fuzz_sealed_yaml suppresses that one leak. */
static int
on_scalar(struct reader *rd, struct fy_event *e, const struct fy_mark *m)
{
	struct fy_token *val = e->scalar.value;
	bool plain = fy_token_scalar_style(val) == FYSS_PLAIN && !is_str_tag(e->scalar.tag);
	size_t n = 0;
	const char *s = fy_token_get_text(val, &n);
	json_t *v = NULL;
	char *aname = NULL;
	int r;

	if (!s)
		return fail_at(rd, m, CF_ENOMEM, "out of memory");
	r = count_nodes(rd, 1, m);
	if (r < 0)
		return r;
	if (wants_key(rd))
		return take_key(rd, s, n, plain && n == 2 && memcmp(s, "<<", 2) == 0, m);
	if (plain)
		v = plain_value(s, n);
	if (!v) {
		v = json_stringn(s, n);
		if (!v)
			return fail_at(rd, m, CF_EINVAL, "a string is not valid UTF-8");
	}
	if (e->scalar.anchor) {
		aname = token_dup(e->scalar.anchor);
		r = aname ? anchor_add(rd, aname, v, 1) : CF_ENOMEM;
		free(aname);
		if (r < 0) {
			json_decref(v);
			return fail_at(rd, m, r, "out of memory");
		}
	}
	return place(rd, v, m);
}

static int
on_alias(struct reader *rd, struct fy_event *e, const struct fy_mark *m)
{
	size_t n;
	const char *name = fy_token_get_text(e->alias.anchor, &n);
	struct anchor *a = name ? anchor_find(rd, name, n) : NULL;
	int r;

	if (!a)
		return fail_at(rd, m, CF_EINVAL, "alias of an unknown anchor");
	if (wants_key(rd)) {
		if (!json_is_string(a->v))
			return fail_at(rd, m, CF_EINVAL, "a mapping key must be a scalar");
		r = count_nodes(rd, 1, m);
		if (r < 0)
			return r;
		return take_key(rd, json_string_value(a->v), json_string_length(a->v), false, m);
	}
	r = count_nodes(rd, a->nodes, m);
	if (r < 0)
		return r;
	/* A copy: the documents are changed later (merged, adjusted), and a
	 * shared value would change in every place at once. */
	return place(rd, json_deep_copy(a->v), m);
}

static int
on_start(struct reader *rd, struct fy_event *e, const struct fy_mark *m, bool map)
{
	struct fy_token *anchor = map ? e->mapping_start.anchor : e->sequence_start.anchor;
	struct frame *f;
	int r;

	if (wants_key(rd))
		return fail_at(rd, m, CF_EINVAL, "a mapping key must be a scalar");
	if (rd->depth == YAML_MAX_DEPTH)
		return fail_at(rd, m, CF_ETOOBIG, "nested too deeply");
	r = count_nodes(rd, 1, m);
	if (r < 0)
		return r;
	f = &rd->st[rd->depth];
	memset(f, 0, sizeof(*f));
	f->v = map ? json_object() : json_array();
	if (!f->v)
		return fail_at(rd, m, CF_ENOMEM, "out of memory");
	if (anchor) {
		f->anchor = token_dup(anchor);
		if (!f->anchor) {
			json_decref(f->v);
			return fail_at(rd, m, CF_ENOMEM, "out of memory");
		}
	}
	f->nodes0 = rd->nodes;
	f->m = *m;
	rd->depth++;
	return 0;
}

static void
frame_clear(struct frame *f)
{
	json_decref(f->v);
	json_decref(f->merges);
	free(f->key); /* not secret: a mapping key (a name) */
	free(f->anchor);
	memset(f, 0, sizeof(*f));
}

/* Applies the `<<` values of f: a mapping, or a sequence of mappings (the
 * first wins); keys the mapping has itself win over all of them. */
static int
apply_merges(struct reader *rd, struct frame *f)
{
	size_t i, j;
	json_t *src, *s;

	json_array_foreach(f->merges, i, src)
	{
		if (json_is_object(src)) {
			if (json_object_update_missing(f->v, src) != 0)
				return fail_at(rd, &f->m, CF_ENOMEM, "out of memory");
			continue;
		}
		if (!json_is_array(src))
			return fail_at(rd, &f->m, CF_EINVAL,
			               "a merge key (<<) needs a mapping or a list of mappings");
		json_array_foreach(src, j, s)
		{
			if (!json_is_object(s))
				return fail_at(
				        rd, &f->m, CF_EINVAL,
				        "a merge key (<<) needs a mapping or a list of mappings");
			if (json_object_update_missing(f->v, s) != 0)
				return fail_at(rd, &f->m, CF_ENOMEM, "out of memory");
		}
	}
	return 0;
}

static int
on_end(struct reader *rd, const struct fy_mark *m)
{
	struct frame *f = &rd->st[rd->depth - 1];
	struct fy_mark start = f->m;
	json_t *v;
	int r = 0;

	(void)m;
	if (f->merges)
		r = apply_merges(rd, f);
	if (r == 0 && f->anchor) {
		r = anchor_add(rd, f->anchor, f->v, rd->nodes - f->nodes0 + 1);
		if (r < 0)
			r = fail_at(rd, &start, r, "out of memory");
	}
	if (r < 0)
		return r;
	v = json_incref(f->v);
	frame_clear(f);
	rd->depth--;
	return place(rd, v, &start);
}

static void
reader_reset(struct reader *rd)
{
	while (rd->depth > 0)
		frame_clear(&rd->st[--rd->depth]);
	json_decref(rd->root);
	rd->root = NULL;
	rd->have_root = false;
	anchors_clear(rd);
	rd->nodes = 0;
}

/* The first error libfyaml collected, as "line L, column C: msg". */
static int
parser_error(struct reader *rd, struct fy_diag *diag)
{
	void *it = NULL;
	struct fy_diag_error *de = diag ? fy_diag_errors_iterate(diag, &it) : NULL;

	if (de && de->line > 0)
		util_errf(rd->err, rd->errlen, "line %d, column %d: %s", de->line, de->column,
		          de->msg ? de->msg : "invalid YAML");
	else
		util_errf(rd->err, rd->errlen, "invalid YAML");
	return CF_EINVAL;
}

/* The length of the UTF-8 sequence at p (n bytes left) when it encodes a
 * character YAML allows in a stream (tab, line breaks, printable ASCII, U+0085,
 * U+00A0 onwards without surrogates and U+FFFE/FFFF), else 0. */
static size_t
printable_len(const unsigned char *p, size_t n)
{
	uint32_t c;
	size_t len;

	if (p[0] < 0x80)
		return p[0] == '\t' || p[0] == '\n' || p[0] == '\r' ||
		       (p[0] >= 0x20 && p[0] < 0x7f);
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0; /* overlong, or past Unicode */
	if ((c >= 0x80 && c < 0xa0 && c != 0x85) || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe ||
	    c == 0xffff)
		return 0;
	return len;
}

/* Refuses text that is not printable UTF-8 before libfyaml sees it: YAML
 * forbids it anyway, and libfyaml 0.7 can loop forever on a broken sequence
 * inside a directive. */
static int
check_printable(const char *text, size_t len, char *err, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t off = 0, k;
	int line = 1, col = 1;

	while (off < len) {
		k = printable_len(u + off, len - off);
		if (k == 0) {
			util_errf(err, errlen,
			          "line %d, column %d: byte 0x%02x is not printable UTF-8 (YAML "
			          "forbids "
			          "it)",
			          line, col, u[off]);
			return CF_EINVAL;
		}
		if (u[off] == '\n')
			line++, col = 1;
		else
			col++;
		off += k;
	}
	return 0;
}

static int
read_yaml(const char *text, size_t len, json_t *docs, char *err, size_t errlen)
{
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg cfg;
	struct fy_diag *diag = NULL;
	struct fy_parser *p = NULL;
	struct reader *rd;
	struct fy_event *e;
	const struct fy_mark *m;
	struct fy_mark doc_mark = {0}, last = {0};
	int r = CF_ENOMEM;

	r = check_printable(text, len, err, errlen);
	if (r < 0)
		return r;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return CF_ENOMEM;
	rd->err = err;
	rd->errlen = errlen;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		goto out;
	/* Collected, never printed: libfyaml's own messages quote the input line. */
	fy_diag_set_collect_errors(diag, true);
	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE;
	cfg.diag = diag;
	p = fy_parser_create(&cfg);
	if (!p || fy_parser_set_string(p, text, len) != 0)
		goto out;
	r = 0;
	while (r == 0 && (e = fy_parser_parse(p)) != NULL) {
		/* An event may have no mark (an empty implicit key): the last one
		 * seen stands in, so every position below is a real one. */
		m = fy_event_start_mark(e);
		if (m)
			last = *m;
		m = &last;
		switch (e->type) {
		case FYET_DOCUMENT_START:
			reader_reset(rd);
			doc_mark = *m;
			break;
		case FYET_DOCUMENT_END:
			if (rd->have_root && json_is_object(rd->root)) {
				if (json_array_size(docs) == YAML_MAX_DOCS)
					r = fail_at(rd, &doc_mark, CF_ETOOBIG,
					            "too many documents");
				else if (json_array_append(docs, rd->root) != 0)
					r = CF_ENOMEM;
			}
			reader_reset(rd);
			break;
		case FYET_SCALAR:
			r = on_scalar(rd, e, m);
			break;
		case FYET_ALIAS:
			r = on_alias(rd, e, m);
			break;
		case FYET_MAPPING_START:
		case FYET_SEQUENCE_START:
			r = on_start(rd, e, m, e->type == FYET_MAPPING_START);
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END:
			r = on_end(rd, m);
			break;
		default:
			break;
		}
		fy_parser_event_free(p, e);
	}
	if (r == 0 && fy_parser_get_stream_error(p))
		r = parser_error(rd, diag);
out:
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "out of memory");
	reader_reset(rd);
	free(rd->anchors);
	free(rd);
	if (p)
		fy_parser_destroy(p);
	if (diag)
		fy_diag_destroy(diag);
	return r;
}

/* ---- reading JSON ---- */

/* Line and column (1-based) of byte off of text. */
static void
line_col(const char *text, size_t off, int *line, int *col)
{
	int l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static size_t
skip_space(const char *text, size_t len, size_t off)
{
	while (off < len &&
	       (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' || text[off] == '\r'))
		off++;
	return off;
}

static int
read_json(const char *text, size_t len, size_t off, json_t *docs, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;
	int line, col;

	for (off = skip_space(text, len, off); off < len; off = skip_space(text, len, off)) {
		if (text[off] != '{') {
			line_col(text, off, &line, &col);
			util_errf(err, errlen, "line %d, column %d: expected a JSON object", line,
			          col);
			return CF_EINVAL;
		}
		v = json_loadb(text + off, len - off,
		               JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
		               &je);
		if (!v) {
			line_col(text, off, &line, &col);
			if (je.line > 1)
				line += je.line - 1, col = je.column;
			else if (je.column > 0)
				col += je.column - 1;
			util_errf(err, errlen, "line %d, column %d: %s", line, col, je.text);
			return CF_EINVAL;
		}
		if (json_array_size(docs) == YAML_MAX_DOCS) {
			json_decref(v);
			util_errf(err, errlen, "too many documents (at most %u)", YAML_MAX_DOCS);
			return CF_ETOOBIG;
		}
		if (json_array_append_new(docs, v) != 0) {
			util_errf(err, errlen, "out of memory");
			return CF_ENOMEM;
		}
		if (je.position <= 0)
			return CF_EINVAL; /* no progress: cannot happen after an object */
		off += (size_t)je.position;
	}
	return 0;
}

int
yaml_read_docs(const char *text, size_t len, json_t **ret, enum yaml_format *ret_format, char *err,
               size_t errlen)
{
	enum yaml_format f = YAML_FORMAT_YAML;
	char jerr[256] = "";
	json_t *docs = NULL;
	size_t off = 0;
	int r;

	if (len > YAML_MAX_INPUT) {
		util_errf(err, errlen, "input larger than %u bytes", YAML_MAX_INPUT);
		return CF_ETOOBIG;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		off = 3;
	off = skip_space(text, len, off);
	docs = json_array();
	if (!docs)
		return CF_ENOMEM;
	if (off < len && text[off] == '{') {
		r = read_json(text, len, off, docs, jerr, sizeof(jerr));
		if (r == 0) {
			f = YAML_FORMAT_JSON;
			goto done;
		}
		if (json_array_size(docs) > 0 || r == CF_ENOMEM) {
			util_errf(err, errlen, "%s", jerr);
			goto out;
		}
		json_array_clear(docs);
		r = read_yaml(text, len, docs, err, errlen);
		if (r < 0) {
			util_errf(err, errlen, "%s", jerr);
			goto out;
		}
	} else {
		r = read_yaml(text, len, docs, err, errlen);
		if (r < 0)
			goto out;
	}
done:
	if (json_array_size(docs) == 0) {
		util_errf(err, errlen, "no document");
		r = CF_EINVAL;
		goto out;
	}
	*ret = docs;
	docs = NULL;
	if (ret_format)
		*ret_format = f;
	r = 0;
out:
	json_decref(docs);
	return r;
}

/* ---- writing YAML ---- */

static int
indent(struct buf *b, int n)
{
	int r = 0;

	for (int i = 0; i < n && r == 0; i++)
		r = buf_append_char(b, ' ');
	return r;
}

static bool
plain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '/' || c == '+' || c == '=' || c == '-';
}

/* Whether s can be written as a plain scalar and read back as this string. */
static bool
plain_ok(const char *s, size_t n)
{
	json_t *v;

	if (n == 0 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!plain_char((unsigned char)s[i]))
			return false;
	}
	v = plain_value(s, n);
	if (v) {
		json_decref(v);
		return false;
	}
	return !str_in(s, n, nulls);
}

static int
write_string(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	int r;

	if (plain_ok(s, n))
		return buf_append(b, s, n);
	r = buf_append_char(b, '"');
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = u[i];

		if (c == '"' || c == '\\') {
			r = buf_append_char(b, '\\');
			if (r == 0)
				r = buf_append_char(b, (char)c);
		} else if (c == '\n') {
			r = buf_append_str(b, "\\n");
		} else if (c == '\t') {
			r = buf_append_str(b, "\\t");
		} else if (c == '\r') {
			r = buf_append_str(b, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			r = buf_printf(b, "\\x%02x", c);
		} else if (c == 0xc2 && i + 1 < n && u[i + 1] == 0x85) {
			r = buf_append_str(b, "\\N"); /* U+0085, a line break in YAML */
			i++;
		} else if (c == 0xe2 && i + 2 < n && u[i + 1] == 0x80 &&
		           (u[i + 2] == 0xa8 || u[i + 2] == 0xa9)) {
			r = buf_append_str(b, u[i + 2] == 0xa8 ? "\\L" : "\\P");
			i += 2;
		} else if (c == 0xef && i + 2 < n && u[i + 1] == 0xbb && u[i + 2] == 0xbf) {
			r = buf_append_str(b, "\\uFEFF");
			i += 2;
		} else {
			r = buf_append_char(b, (char)c);
		}
	}
	if (r == 0)
		r = buf_append_char(b, '"');
	return r;
}

/* A scalar, or an empty object or array, on the current line. */
static int
write_scalar(struct buf *b, const json_t *v)
{
	char tmp[40];
	size_t n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return buf_append_str(b, "{}");
	case JSON_ARRAY:
		return buf_append_str(b, "[]");
	case JSON_STRING:
		return write_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
		n = strcspn(tmp, ".eEn");
		if (tmp[n] == '\0') /* "1" would read back as an integer */
			return buf_printf(b, "%s.0", tmp);
		return buf_append_str(b, tmp);
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	default:
		return buf_append_str(b, "null");
	}
}

static bool
is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

static int
keys_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj sorted (borrowed from obj); free the array only. */
static const char **
sorted_keys(const json_t *obj)
{
	const char **k = malloc((json_object_size(obj) + 1) * sizeof(*k));
	const char *key;
	json_t *v;
	size_t i = 0;

	if (!k)
		return NULL;
	json_object_foreach((json_t *)obj, key, v)
	{
		(void)v;
		k[i++] = key;
	}
	qsort(k, i, sizeof(*k), keys_cmp);
	return k;
}

static int write_map(struct buf *b, const json_t *obj, int ind, bool inline_first);

static int
write_seq(struct buf *b, const json_t *arr, int ind, bool inline_first)
{
	size_t i;
	json_t *v;
	int r = 0;

	json_array_foreach(arr, i, v)
	{
		if (i > 0 || !inline_first)
			r = indent(b, ind);
		if (r == 0)
			r = buf_append_str(b, "- ");
		if (r == 0 && json_is_object(v) && is_block(v))
			r = write_map(b, v, ind + 2, true);
		else if (r == 0 && json_is_array(v) && is_block(v))
			r = write_seq(b, v, ind + 2, true);
		else if (r == 0) {
			r = write_scalar(b, v);
			if (r == 0)
				r = buf_append_char(b, '\n');
		}
		if (r < 0)
			break;
	}
	return r;
}

static int
write_map(struct buf *b, const json_t *obj, int ind, bool inline_first)
{
	const char **keys = sorted_keys(obj);
	size_t n = json_object_size(obj);
	json_t *v;
	int r = 0;

	if (!keys)
		return CF_ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		v = json_object_get(obj, keys[i]);
		if (i > 0 || !inline_first)
			r = indent(b, ind);
		if (r == 0)
			r = write_string(b, keys[i], strlen(keys[i]));
		if (r == 0)
			r = buf_append_char(b, ':');
		if (r < 0)
			break;
		if (json_is_object(v) && is_block(v)) {
			r = buf_append_char(b, '\n');
			if (r == 0)
				r = write_map(b, v, ind + 2, false);
		} else if (json_is_array(v) && is_block(v)) {
			r = buf_append_char(b, '\n');
			if (r == 0)
				r = write_seq(b, v, ind, false); /* not indented, as go-yaml */
		} else {
			r = buf_append_char(b, ' ');
			if (r == 0)
				r = write_scalar(b, v);
			if (r == 0)
				r = buf_append_char(b, '\n');
		}
	}
	free(keys); /* not secret: pointers to mapping keys */
	return r;
}

int
yaml_write_yaml(struct buf *b, const json_t *doc)
{
	int r = buf_append_str(b, "---\n");

	if (r < 0)
		return r;
	if (json_is_object(doc) && is_block(doc))
		return write_map(b, doc, 0, false);
	if (json_is_array(doc) && is_block(doc))
		return write_seq(b, doc, 0, false);
	r = write_scalar(b, doc);
	if (r == 0)
		r = buf_append_char(b, '\n');
	return r;
}

/* ---- writing JSON in kubeseal's order ---- */

/* What an object is, for the order of its keys (the Go structs). */
enum ctx {
	CTX_TOP,      /* a Secret, SealedSecret or List */
	CTX_META,     /* ObjectMeta */
	CTX_SPEC,     /* SealedSecretSpec */
	CTX_TEMPLATE, /* SecretTemplateSpec */
	CTX_OWNER,    /* OwnerReference */
	CTX_SORTED,   /* a map or anything else: sorted keys */
};

struct order {
	const char *key;
	enum ctx child;
};

static const struct order top_order[] = {
        {"kind", CTX_SORTED},   {"apiVersion", CTX_SORTED}, {"metadata", CTX_META},
        {"spec", CTX_SPEC},     {"items", CTX_TOP},         {"immutable", CTX_SORTED},
        {"data", CTX_SORTED},   {"stringData", CTX_SORTED}, {"type", CTX_SORTED},
        {"status", CTX_SORTED}, {NULL, CTX_SORTED},
};
static const struct order meta_order[] = {
        {"name", CTX_SORTED},
        {"generateName", CTX_SORTED},
        {"namespace", CTX_SORTED},
        {"selfLink", CTX_SORTED},
        {"uid", CTX_SORTED},
        {"resourceVersion", CTX_SORTED},
        {"generation", CTX_SORTED},
        {"creationTimestamp", CTX_SORTED},
        {"deletionTimestamp", CTX_SORTED},
        {"deletionGracePeriodSeconds", CTX_SORTED},
        {"labels", CTX_SORTED},
        {"annotations", CTX_SORTED},
        {"ownerReferences", CTX_OWNER},
        {"finalizers", CTX_SORTED},
        {"managedFields", CTX_SORTED},
        {NULL, CTX_SORTED},
};
static const struct order spec_order[] = {
        {"template", CTX_TEMPLATE},
        {"data", CTX_SORTED},
        {"encryptedData", CTX_SORTED},
        {NULL, CTX_SORTED},
};
static const struct order template_order[] = {
        {"metadata", CTX_META}, {"type", CTX_SORTED}, {"immutable", CTX_SORTED},
        {"data", CTX_SORTED},   {NULL, CTX_SORTED},
};
static const struct order owner_order[] = {
        {"apiVersion", CTX_SORTED}, {"kind", CTX_SORTED},       {"name", CTX_SORTED},
        {"uid", CTX_SORTED},        {"controller", CTX_SORTED}, {"blockOwnerDeletion", CTX_SORTED},
        {NULL, CTX_SORTED},
};

static const struct order *
ctx_order(enum ctx c)
{
	switch (c) {
	case CTX_TOP:
		return top_order;
	case CTX_META:
		return meta_order;
	case CTX_SPEC:
		return spec_order;
	case CTX_TEMPLATE:
		return template_order;
	case CTX_OWNER:
		return owner_order;
	default:
		return NULL;
	}
}

/* A copy of v whose objects hold their keys in the order of c. */
static json_t *
ordered(const json_t *v, enum ctx c)
{
	const struct order *ord = ctx_order(c);
	const char **keys;
	json_t *out, *child;
	size_t i, n;

	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach((json_t *)v, i, child)
		{
			if (!out || json_array_append_new(out, ordered(child, c)) != 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	if (!json_is_object(v))
		return json_copy((json_t *)v);
	out = json_object();
	keys = sorted_keys(v);
	if (!out || !keys)
		goto fail;
	for (const struct order *o = ord; o && o->key; o++) {
		child = json_object_get(v, o->key);
		if (child && json_object_set_new(out, o->key, ordered(child, o->child)) != 0)
			goto fail;
	}
	n = json_object_size(v);
	for (i = 0; i < n; i++) {
		if (json_object_get(out, keys[i]))
			continue;
		child = json_object_get(v, keys[i]);
		if (json_object_set_new(out, keys[i], ordered(child, CTX_SORTED)) != 0)
			goto fail;
	}
	free(keys); /* not secret: pointers to mapping keys */
	return out;
fail:
	free(keys); /* not secret: pointers to mapping keys */
	json_decref(out);
	return NULL;
}

struct dump {
	struct buf *b;
	int r;
};

static int
dump_cb(const char *p, size_t n, void *arg)
{
	struct dump *d = arg;

	d->r = buf_append(d->b, p, n);
	return d->r == 0 ? 0 : -1;
}

int
yaml_write_json(struct buf *b, const json_t *doc)
{
	json_t *o = ordered(doc, CTX_TOP);
	struct dump d = {b, 0};
	size_t len0 = buf_len(b);
	int r;

	if (!o)
		return CF_ENOMEM;
	if (json_dump_callback(o, dump_cb, &d, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0)
		r = buf_append_char(b, '\n');
	else
		r = d.r < 0 ? d.r : CF_ENOMEM;
	if (r < 0 && CF_NEVER(buf_truncate(b, len0) != 0))
		r = CF_EINTERNAL;
	json_decref(o);
	return r;
}

int
yaml_write(struct buf *b, const json_t *doc, enum yaml_format f)
{
	return f == YAML_FORMAT_YAML ? yaml_write_yaml(b, doc) : yaml_write_json(b, doc);
}
