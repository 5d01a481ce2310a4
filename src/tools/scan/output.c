/* output.c - text, JSON and SARIF output of `coffer scan` (output.h). */
#include "tools/scan/output.h"

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when it is not
 * one. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t k;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		k = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		k = 3, c = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		k = 4, c = s[0] & 0x07;
	else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((k == 2 && c < 0x80) || (k == 3 && c < 0x800) || (k == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return k;
}

/* Appends the first nchars characters of s (len bytes) to b: bytes that are
 * not UTF-8 as \xNN, and control characters too when ctrl is set. */
static int
append_safe(struct buf *b, const char *s, size_t len, size_t nchars, bool ctrl)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	int r = 0;

	while (r == 0 && i < len && nchars-- > 0) {
		size_t k = utf8_seq(u + i, len - i);

		if (k == 0 || (ctrl && k == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
			r = buf_printf(b, "\\x%02x", u[i]);
			i++;
		} else {
			r = buf_append(b, s + i, k);
			i += k;
		}
	}
	return r;
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static char *
redact(const char *secret, size_t len, int level, bool ctrl)
{
	struct buf b;
	size_t chars = utf8_chars(secret, len), show;
	char *out = NULL;
	size_t outlen;

	if (level == 0)
		show = SIZE_MAX;
	else if (level < 0)
		show = 4;
	else
		show = chars - (chars * (size_t)level + 99) / 100;
	buf_init(&b, len * 4 + 16, BUF_SECRET);
	if (append_safe(&b, secret, len, show, ctrl) < 0 ||
	    (show < chars && buf_append_str(&b, ELLIPSIS) < 0) || buf_detach(&b, &out, &outlen) < 0)
		out = NULL;
	buf_free(&b);
	return out;
}

char *
scan_output_redact(const char *secret, size_t len, int level)
{
	return redact(secret, len, level, false);
}

/* s as a new UTF-8 string safe for a terminal (or for JSON when ctrl is
 * false). */
static char *
safe_str(const char *s, bool ctrl)
{
	return redact(s, strlen(s), 0, ctrl);
}

/* ---- text ---- */

/* True for a dotenv file that holds real values: `.env`, `.env.local`,
 * `.env.production`, ..., but not the templates `.env.example`, `.env.sample`
 * and `.env.template`. */
static bool
is_dotenv_file(const char *file)
{
	const char *base = strrchr(file, '/');
	static const char *const templates[] = {".env.example", ".env.sample", ".env.template"};

	base = base ? base + 1 : file;
	if (strcmp(base, ".env") != 0 && strncmp(base, ".env.", 5) != 0)
		return false;
	for (size_t i = 0; i < sizeof(templates) / sizeof(*templates); i++)
		if (strcmp(base, templates[i]) == 0)
			return false;
	return true;
}

static int
write_text(FILE *f, const struct scan_report *r, const struct scan_output_opts *o)
{
	const char *bold = o->color ? "\033[1m" : "", *red = o->color ? "\033[31m" : "";
	const char *dim = o->color ? "\033[2m" : "", *off = o->color ? "\033[0m" : "";
	size_t files = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct scan_finding *x = &r->v[i];
		char *name = safe_str(x->file, true);
		char *sec = redact(x->secret, x->secret_len, o->redact, true);

		if (!name || !sec) {
			free(name);
			secmem_free_str(sec);
			return CF_ENOMEM;
		}
		if (i == 0 || strcmp(x->file, r->v[i - 1].file) != 0 ||
		    (x->commit &&
		     strcmp(x->commit, r->v[i - 1].commit ? r->v[i - 1].commit : ""))) {
			files++;
			if (is_dotenv_file(x->file))
				fprintf(f,
				        "%s%s:0:0%s: note: a .env file with secrets: keep it out "
				        "of git "
				        "(.gitignore) and load its values with `coffer run`\n",
				        bold, name, off);
		}
		fprintf(f, "%s%s:%zu:%zu%s: %s%s%s: %s\n", bold, name, x->line, x->column, off, red,
		        x->rule->id, off, sec);
		if (x->commit)
			fprintf(f, "    %scommit %.12s by %s on %s%s\n", dim, x->commit,
			        x->author ? x->author : "?", x->date ? x->date : "?", off);
		if (x->rule->hint)
			fprintf(f, "    %sfix: %s%s\n", dim, x->rule->hint, off);
		free(name);
		secmem_free_str(sec);
	}
	fprintf(f, "%zu finding%s in %zu file%s (%zu file%s, %.1f MiB scanned)\n", r->n,
	        r->n == 1 ? "" : "s", files, files == 1 ? "" : "s", r->files_scanned,
	        r->files_scanned == 1 ? "" : "s", (double)r->bytes_scanned / (1024 * 1024));
	return 0;
}

/* ---- JSON ---- */

static int
set_str(json_t *o, const char *key, const char *v)
{
	json_t *s;

	if (!v)
		return 0;
	s = json_string(v);
	if (!s)
		return CF_ENOMEM;
	return json_object_set_new(o, key, s) == 0 ? 0 : CF_ENOMEM;
}

static int
finding_json(const struct scan_finding *x, int level, json_t **ret)
{
	json_t *o = json_object();
	char *name = safe_str(x->file, false);
	char *sec = redact(x->secret, x->secret_len, level, false);
	char *fp = safe_str(x->fingerprint, false);
	int r = CF_ENOMEM;

	if (!o || !name || !sec || !fp)
		goto out;
	if (set_str(o, "file", name) < 0 ||
	    json_object_set_new(o, "line", json_integer((json_int_t)x->line)) < 0 ||
	    json_object_set_new(o, "column", json_integer((json_int_t)x->column)) < 0 ||
	    set_str(o, "rule", x->rule->id) < 0 ||
	    set_str(o, "description", x->rule->description) < 0 || set_str(o, "secret", sec) < 0 ||
	    set_str(o, "fingerprint", fp) < 0 || set_str(o, "commit", x->commit) < 0 ||
	    set_str(o, "author", x->author) < 0 || set_str(o, "date", x->date) < 0)
		goto out;
	*ret = o;
	o = NULL;
	r = 0;
out:
	json_decref(o);
	free(name);
	free(fp);
	secmem_free_str(sec);
	return r;
}

static int
dump(FILE *f, json_t *doc)
{
	int r = json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : CF_EIO;

	if (r == 0 && fputc('\n', f) == EOF)
		r = CF_EIO;
	return r;
}

static int
write_json(FILE *f, const struct scan_report *r, const struct scan_output_opts *o)
{
	json_t *arr = json_array(), *v;
	int ret = 0;

	if (!arr)
		return CF_ENOMEM;
	for (size_t i = 0; ret == 0 && i < r->n; i++) {
		ret = finding_json(&r->v[i], o->redact, &v);
		if (ret == 0 && json_array_append_new(arr, v) < 0)
			ret = CF_ENOMEM;
	}
	if (ret == 0)
		ret = dump(f, arr);
	json_decref(arr);
	return ret;
}

/* ---- SARIF 2.1.0 ---- */

/* A relative file name as a URI reference: unreserved characters and '/'
 * stay, every other byte is percent-encoded. */
static char *
uri_ref(const char *name)
{
	char *u = malloc(strlen(name) * 3 + 1), *p = u;

	if (!u)
		return NULL;
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~/", *s))
			*p++ = (char)*s;
		else
			p += sprintf(p, "%%%02X", *s);
	}
	*p = '\0';
	return u;
}

static json_t *
text_obj(const char *text)
{
	return json_pack("{s:s}", "text", text ? text : "");
}

static int
write_sarif(FILE *f, const struct scan_report *r, const struct scan_output_opts *o)
{
	const struct scan_rule **rules = NULL;
	size_t nrules = 0;
	json_t *doc = NULL, *jrules, *results, *run;
	int ret = CF_ENOMEM;

	rules = calloc(r->n + 1, sizeof(*rules));
	jrules = json_array();
	results = json_array();
	if (!rules || !jrules || !results)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const struct scan_finding *x = &r->v[i];
		size_t idx;
		json_t *res, *loc;
		char *uri = NULL, *sec = NULL, *msg = NULL;

		for (idx = 0; idx < nrules && rules[idx] != x->rule; idx++)
			;
		if (idx == nrules) {
			json_t *jr;

			rules[nrules++] = x->rule;
			jr = json_pack(
			        "{s:s, s:s, s:o, s:o, s:o, s:{s:s}, s:{s:[s], s:s}}", "id",
			        x->rule->id, "name", x->rule->id, "shortDescription",
			        text_obj(x->rule->description), "fullDescription",
			        text_obj(x->rule->description), "help",
			        text_obj(x->rule->hint ? x->rule->hint : x->rule->description),
			        "defaultConfiguration", "level", "error", "properties", "tags",
			        "security", "security-severity", "8.0");
			if (!jr || json_array_append_new(jrules, jr) < 0)
				goto out;
		}
		uri = uri_ref(x->file);
		sec = redact(x->secret, x->secret_len, o->redact, false);
		if (!uri || !sec ||
		    asprintf(&msg, "%s: %s (%s)", x->rule->id, x->rule->description, sec) < 0) {
			free(uri);
			secmem_free_str(sec);
			goto out;
		}
		loc = json_pack("{s:{s:{s:s}, s:{s:I, s:I}}}", "physicalLocation",
		                "artifactLocation", "uri", uri, "region", "startLine",
		                (json_int_t)(x->line ? x->line : 1), "startColumn",
		                (json_int_t)(x->column ? x->column : 1));
		res = loc ? json_pack("{s:s, s:I, s:s, s:{s:s}, s:[o], s:{s:s}}", "ruleId",
		                      x->rule->id, "ruleIndex", (json_int_t)idx, "level", "error",
		                      "message", "text", msg, "locations", loc,
		                      "partialFingerprints", "cofferFingerprint/v1", x->fingerprint)
		          : NULL;
		free(uri);
		secmem_free_str(sec);
		secmem_free_str(msg);
		if (!res || json_array_append_new(results, res) < 0)
			goto out;
		if (x->commit) {
			json_t *props = json_pack("{s:s, s:s*, s:s*}", "commit", x->commit,
			                          "author", x->author, "date", x->date);

			if (!props || json_object_set_new(res, "properties", props) < 0)
				goto out;
		}
	}
	run = json_pack("{s:{s:{s:s, s:s, s:O}}, s:O}", "tool", "driver", "name", "coffer",
	                "version", COFFER_VERSION, "rules", jrules, "results", results);
	if (!run)
		goto out;
	doc = json_pack("{s:s, s:s, s:[o]}", "$schema",
	                "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0", "runs",
	                run);
	if (!doc)
		goto out;
	ret = dump(f, doc);
out:
	json_decref(doc);
	json_decref(jrules);
	json_decref(results);
	free(rules);
	return ret;
}

int
scan_output_write(FILE *f, const struct scan_report *r, const struct scan_output_opts *o)
{
	int ret;

	switch (o->format) {
	case SCAN_FORMAT_JSON:
		ret = write_json(f, r, o);
		break;
	case SCAN_FORMAT_SARIF:
		ret = write_sarif(f, r, o);
		break;
	default:
		ret = write_text(f, r, o);
		break;
	}
	if (ret == 0 && fflush(f) != 0)
		ret = CF_EIO;
	return ret;
}
