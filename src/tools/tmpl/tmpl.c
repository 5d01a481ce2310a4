/* tmpl.c - the consul-template language: parser and renderer (see tmpl.h and
 * docs/internals/template.md).
 *
 * Values are jansson values; NULL stands for Go's "no value" (a missing map
 * key), json null for nil. Every value the renderer holds is a reference it
 * owns. Secret values live only in jansson (whose allocator wipes, lib/jsonx)
 * and in BUF_SECRET buffers. */
#include "tools/tmpl/tmpl.h"

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMPL_MAX_DEPTH 100         /* nested blocks and parentheses */
#define TMPL_MAX_VARS  1000        /* variables alive at once */
#define TMPL_FILE_MAX  (1u << 20)  /* the file function reads at most 1 MiB */
#define TMPL_SCRATCH   (16u << 20) /* cap of a function's intermediate text */
#define TMPL_MAX_STEPS 10000000    /* nodes executed in one render */

/* ------------------------------------------------------------------ tree */

enum arg_kind { A_FIELD, A_VAR, A_DOT, A_IDENT, A_LIT, A_PIPE };

struct pipe;

struct arg {
	enum arg_kind kind;
	size_t pos, end;
	char *name;   /* A_VAR: "$x"; A_IDENT: the function */
	char **chain; /* field names after the operand */
	size_t nchain;
	json_t *lit;       /* A_LIT */
	struct pipe *pipe; /* A_PIPE */
};

struct cmd {
	size_t pos, end;
	struct arg **args;
	size_t nargs;
};

struct pipe {
	size_t pos;
	char *decl[2];
	int ndecl;
	bool assign; /* `=` rather than `:=` */
	struct cmd **cmds;
	size_t ncmds;
};

enum node_kind { N_TEXT, N_ACTION, N_IF, N_WITH, N_RANGE };

struct node {
	enum node_kind kind;
	size_t pos;
	char *text; /* N_TEXT */
	size_t len;
	struct pipe *pipe;
	struct node *body, *els; /* lists */
	struct node *next;
};

struct tmpl {
	char *name;
	char *src;
	size_t len;
	bool missing_error;
	struct node *root;
};

/* ---------------------------------------------------------------- freeing */

static void pipe_free(struct pipe *p);

static void
arg_free(struct arg *a)
{
	if (a == NULL)
		return;
	free(a->name);
	for (size_t i = 0; i < a->nchain; i++)
		free(a->chain[i]);
	free(a->chain);
	json_decref(a->lit);
	pipe_free(a->pipe);
	free(a);
}

static void
cmd_free(struct cmd *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nargs; i++)
		arg_free(c->args[i]);
	free(c->args);
	free(c);
}

static void
pipe_free(struct pipe *p)
{
	if (p == NULL)
		return;
	free(p->decl[0]);
	free(p->decl[1]);
	for (size_t i = 0; i < p->ncmds; i++)
		cmd_free(p->cmds[i]);
	free(p->cmds);
	free(p);
}

static void
nodes_free(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->next;
		free(n->text);
		pipe_free(n->pipe);
		nodes_free(n->body);
		nodes_free(n->els);
		free(n);
		n = next;
	}
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	nodes_free(t->root);
	free(t->name);
	free(t->src);
	free(t);
}

/* Error text is best effort: a message cut short by its buffer's cap is
 * still an error. */
static void __attribute__((format(printf, 2, 0)))
msg_vappend(struct buf *b, const char *fmt, va_list ap)
{
	int r = buf_vprintf(b, fmt, ap);

	(void)r;
}

static void __attribute__((format(printf, 2, 3))) msg_append(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vappend(b, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- positions */

static void
where(const char *src, size_t pos, int *ret_line, int *ret_col)
{
	int line = 1, col = 1;

	for (size_t i = 0; i < pos; i++) {
		if (src[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*ret_line = line;
	*ret_col = col;
}

/* ---------------------------------------------------------------- functions */

/* Every function the language knows; the parser refuses any other name. */
static const char *const tmpl_funcs[] = {"and",
                                         "or",
                                         "not",
                                         "eq",
                                         "ne",
                                         "lt",
                                         "le",
                                         "gt",
                                         "ge",
                                         "len",
                                         "index",
                                         "print",
                                         "printf",
                                         "println",
                                         "secret",
                                         "pkiCert",
                                         "base64Decode",
                                         "base64Encode",
                                         "base64URLDecode",
                                         "base64URLEncode",
                                         "toJSON",
                                         "toJSONPretty",
                                         "toYAML",
                                         "toLower",
                                         "toUpper",
                                         "toTitle",
                                         "trimSpace",
                                         "replaceAll",
                                         "split",
                                         "join",
                                         "env",
                                         "file",
                                         "contains",
                                         "hasPrefix",
                                         "hasSuffix",
                                         "parseBool",
                                         "parseInt",
                                         "parseJSON",
                                         NULL};

static bool
func_known(const char *name)
{
	for (size_t i = 0; tmpl_funcs[i] != NULL; i++)
		if (strcmp(tmpl_funcs[i], name) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------- parser */

struct parser {
	struct tmpl *t;
	const char *s;
	size_t len, i;
	const char *ld, *rd;
	size_t ldlen, rdlen;
	struct buf *err;
	int depth;
	char **vars; /* variables in scope, for "undefined variable" */
	size_t nvars, capvars;
	size_t action_end; /* where the current action's right delimiter starts */
	bool trim_right;   /* the current action ends with " -" */
	bool trim_pending; /* the last action read ended with " -" */
};

static int __attribute__((format(printf, 3, 4)))
perr(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;
	int line, col;

	if (p->err == NULL)
		return CF_EINVAL;
	where(p->s, pos, &line, &col);
	buf_reset(p->err);
	msg_append(p->err, "%s:%d:%d: ", p->t->name, line, col);
	va_start(ap, fmt);
	msg_vappend(p->err, fmt, ap);
	va_end(ap);
	return CF_EINVAL;
}

static int
var_push(struct parser *p, const char *name)
{
	if (p->nvars == p->capvars) {
		size_t cap = p->capvars ? p->capvars * 2 : 16;
		char **v = realloc(p->vars, cap * sizeof(*v));
		if (v == NULL)
			return CF_ENOMEM;
		p->vars = v;
		p->capvars = cap;
	}
	p->vars[p->nvars++] = (char *)name; /* borrowed from the tree */
	return 0;
}

static bool
var_known(const struct parser *p, const char *name)
{
	if (strcmp(name, "$") == 0)
		return true;
	for (size_t i = p->nvars; i-- > 0;)
		if (strcmp(p->vars[i], name) == 0)
			return true;
	return false;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alnum(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static void
skip_space(struct parser *p)
{
	while (p->i < p->action_end && is_space(p->s[p->i]))
		p->i++;
}

static bool
at_end(struct parser *p)
{
	skip_space(p);
	return p->i >= p->action_end;
}

/* Finds where the action starting at p->i ends: the right delimiter outside
 * string literals. Sets action_end and trim_right. */
static int
find_action_end(struct parser *p, size_t start)
{
	size_t i = p->i;

	while (i < p->len) {
		char c = p->s[i];
		if (c == '"' || c == '`' || c == '\'') {
			char q = c;
			size_t qs = i;
			for (i++; i < p->len && p->s[i] != q; i++) {
				if (q != '`' && p->s[i] == '\\')
					i++;
				else if (q != '`' && p->s[i] == '\n')
					return perr(p, qs, "unterminated quoted string");
			}
			if (i >= p->len)
				return perr(p, qs, "unterminated quoted string");
			i++;
			continue;
		}
		if (p->len - i >= p->rdlen && memcmp(p->s + i, p->rd, p->rdlen) == 0) {
			p->action_end = i;
			p->trim_right = i >= 2 && p->s[i - 1] == '-' && is_space(p->s[i - 2]) &&
			                i - 2 >= p->i;
			if (p->trim_right)
				p->action_end = i - 2;
			return 0;
		}
		i++;
	}
	return perr(p, start, "unclosed action");
}

static char *
xstrndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Long: one switch over Go's escapes reads better whole than split.
 * Go's unquoting of "..." (escapes \a \b \f \n \r \t \v \\ \" \' \xHH \ooo
 * \uHHHH \UHHHHHHHH). */
static int
parse_string(struct parser *p, json_t **ret)
{
	size_t start = p->i;
	struct buf b = BUF_INIT(1u << 20, 0);
	int r = 0;

	if (p->s[p->i] == '`') {
		const char *e = memchr(p->s + p->i + 1, '`', p->action_end - p->i - 1);
		if (e == NULL)
			return perr(p, start, "unterminated raw quoted string");
		r = buf_append(&b, p->s + p->i + 1, (size_t)(e - p->s) - p->i - 1);
		p->i = (size_t)(e - p->s) + 1;
		goto done;
	}
	for (p->i++; p->i < p->action_end && p->s[p->i] != '"'; p->i++) {
		char c = p->s[p->i];
		uint32_t cp;
		int n, base;
		if (c != '\\') {
			r = buf_append_char(&b, c);
			if (r < 0)
				goto out;
			continue;
		}
		if (++p->i >= p->action_end)
			break;
		c = p->s[p->i];
		switch (c) {
		case 'a':
			r = buf_append_char(&b, '\a');
			break;
		case 'b':
			r = buf_append_char(&b, '\b');
			break;
		case 'f':
			r = buf_append_char(&b, '\f');
			break;
		case 'n':
			r = buf_append_char(&b, '\n');
			break;
		case 'r':
			r = buf_append_char(&b, '\r');
			break;
		case 't':
			r = buf_append_char(&b, '\t');
			break;
		case 'v':
			r = buf_append_char(&b, '\v');
			break;
		case '\\':
			r = buf_append_char(&b, '\\');
			break;
		case '"':
			r = buf_append_char(&b, '"');
			break;
		case 'x':
		case 'u':
		case 'U':
		case '0':
		case '1':
		case '2':
		case '3':
			n = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 3;
			base = c >= '0' && c <= '3' ? 8 : 16;
			if (base == 8)
				p->i--;
			cp = 0;
			for (int k = 0; k < n; k++) {
				int d;
				if (++p->i >= p->action_end)
					return perr(p, p->i, "invalid escape in string");
				d = util_hex_digit(p->s[p->i]);
				if (d < 0 || d >= base) {
					r = perr(p, p->i, "invalid escape in string");
					goto out;
				}
				cp = cp * (uint32_t)base + (uint32_t)d;
			}
			if (c == 'x' || base == 8) {
				if (cp > 255) {
					r = perr(p, p->i, "invalid escape in string");
					goto out;
				}
				r = buf_append_char(&b, (char)cp);
			} else {
				char u[4];
				size_t ul;
				if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
					r = perr(p, p->i, "invalid escape in string");
					goto out;
				}
				if (cp < 0x80) {
					u[0] = (char)cp;
					ul = 1;
				} else if (cp < 0x800) {
					u[0] = (char)(0xC0 | (cp >> 6));
					u[1] = (char)(0x80 | (cp & 0x3F));
					ul = 2;
				} else if (cp < 0x10000) {
					u[0] = (char)(0xE0 | (cp >> 12));
					u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
					u[2] = (char)(0x80 | (cp & 0x3F));
					ul = 3;
				} else {
					u[0] = (char)(0xF0 | (cp >> 18));
					u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
					u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
					u[3] = (char)(0x80 | (cp & 0x3F));
					ul = 4;
				}
				r = buf_append(&b, u, ul);
			}
			break;
		default:
			r = perr(p, p->i - 1, "invalid escape in string");
			goto out;
		}
		if (r < 0)
			goto out;
	}
	if (p->i >= p->action_end) {
		r = perr(p, start, "unterminated quoted string");
		goto out;
	}
	p->i++;
done:
	if (r < 0)
		goto out;
	*ret = json_stringn(buf_str(&b), buf_len(&b));
	if (*ret == NULL)
		r = perr(p, start, "string is not valid UTF-8");
out:
	buf_free(&b);
	return r;
}

static int
parse_number(struct parser *p, json_t **ret)
{
	size_t start = p->i;
	char tmp[64], *end;
	size_t n;
	bool real = false;

	if (p->s[p->i] == '+' || p->s[p->i] == '-')
		p->i++;
	while (p->i < p->action_end && (is_alnum(p->s[p->i]) || p->s[p->i] == '.' ||
	                                ((p->s[p->i] == '+' || p->s[p->i] == '-') &&
	                                 (p->s[p->i - 1] == 'e' || p->s[p->i - 1] == 'E'))))
		p->i++;
	n = p->i - start;
	if (n >= sizeof(tmp))
		return perr(p, start, "bad number syntax: %.*s", (int)n, p->s + start);
	memcpy(tmp, p->s + start, n);
	tmp[n] = '\0';
	for (size_t k = 0; k < n; k++)
		if (tmp[k] == '_')
			return perr(p, start, "bad number syntax: %s", tmp);
	if (strpbrk(tmp, ".eE") != NULL && strncmp(tmp, "0x", 2) != 0 &&
	    strncmp(tmp, "-0x", 3) != 0)
		real = true;
	errno = 0;
	if (real) {
		double d = strtod(tmp, &end);
		if (*end != '\0' || errno != 0 || !isfinite(d))
			return perr(p, start, "bad number syntax: %s", tmp);
		*ret = json_real(d);
	} else {
		long long v = strtoll(tmp, &end, 0);
		if (*end != '\0' || errno != 0)
			return perr(p, start, "bad number syntax: %s", tmp);
		*ret = json_integer(v);
	}
	return *ret == NULL ? CF_ENOMEM : 0;
}

/* .a.b.c after an operand (or as the operand, for A_FIELD). */
static int
parse_chain(struct parser *p, struct arg *a)
{
	while (p->i < p->action_end && p->s[p->i] == '.' && p->i + 1 < p->action_end &&
	       is_alnum(p->s[p->i + 1])) {
		size_t s = ++p->i;
		char **c;
		while (p->i < p->action_end && is_alnum(p->s[p->i]))
			p->i++;
		c = realloc(a->chain, (a->nchain + 1) * sizeof(*c));
		if (c == NULL)
			return CF_ENOMEM;
		a->chain = c;
		a->chain[a->nchain] = xstrndup(p->s + s, p->i - s);
		if (a->chain[a->nchain] == NULL)
			return CF_ENOMEM;
		a->nchain++;
	}
	return 0;
}

static int parse_pipe(struct parser *p, bool paren, bool decl_ok, struct pipe **ret);

static int
parse_arg(struct parser *p, struct arg **ret)
{
	struct arg *a = calloc(1, sizeof(*a));
	size_t start = p->i;
	char c = p->s[p->i];
	int r = 0;

	if (a == NULL)
		return CF_ENOMEM;
	a->pos = start;
	if (c == '.') {
		if (p->i + 1 < p->action_end && is_alnum(p->s[p->i + 1])) {
			a->kind = A_FIELD;
			r = parse_chain(p, a);
		} else {
			a->kind = A_DOT;
			p->i++;
		}
	} else if (c == '$') {
		p->i++;
		while (p->i < p->action_end && is_alnum(p->s[p->i]))
			p->i++;
		a->kind = A_VAR;
		a->name = xstrndup(p->s + start, p->i - start);
		if (a->name == NULL) {
			r = CF_ENOMEM;
			goto out;
		}
		if (!var_known(p, a->name)) {
			r = perr(p, start, "undefined variable \"%s\"", a->name);
			goto out;
		}
		r = parse_chain(p, a);
	} else if (c == '"' || c == '`') {
		a->kind = A_LIT;
		r = parse_string(p, &a->lit);
	} else if (c == '\'') {
		r = perr(p, start, "character constants are not supported");
	} else if (isdigit((unsigned char)c) ||
	           ((c == '-' || c == '+') && p->i + 1 < p->action_end &&
	            isdigit((unsigned char)p->s[p->i + 1]))) {
		a->kind = A_LIT;
		r = parse_number(p, &a->lit);
	} else if (c == '(') {
		if (++p->depth > TMPL_MAX_DEPTH) {
			r = CF_ETOOBIG;
			(void)perr(p, start, "parentheses nested too deeply");
			goto out;
		}
		p->i++;
		a->kind = A_PIPE;
		r = parse_pipe(p, true, false, &a->pipe);
		p->depth--;
		if (r == 0)
			r = parse_chain(p, a);
	} else if (isalpha((unsigned char)c) || c == '_') {
		while (p->i < p->action_end && is_alnum(p->s[p->i]))
			p->i++;
		a->name = xstrndup(p->s + start, p->i - start);
		if (a->name == NULL) {
			r = CF_ENOMEM;
			goto out;
		}
		if (strcmp(a->name, "true") == 0 || strcmp(a->name, "false") == 0) {
			a->kind = A_LIT;
			a->lit = json_boolean(a->name[0] == 't');
		} else if (strcmp(a->name, "nil") == 0) {
			a->kind = A_LIT;
			a->lit = json_null();
		} else if (func_known(a->name)) {
			a->kind = A_IDENT;
		} else {
			r = perr(p, start, "function \"%s\" not defined", a->name);
		}
	} else {
		r = perr(p, start, "unexpected \"%c\" in command", c);
	}
	if (r == 0 && p->i < p->action_end && !is_space(p->s[p->i]) &&
	    strchr("|)", p->s[p->i]) == NULL)
		r = perr(p, p->i, "unexpected \"%c\" in operand", p->s[p->i]);
out:
	a->end = p->i;
	if (r < 0) {
		arg_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

/* Long: the declaration prefix, the command loop and the stage checks are
 * one grammar rule; splitting them would pass half the parser state around.
 * A pipeline: [$x [, $y] := | =] cmd [| cmd]... up to the action's end or,
 * when paren, a ')'. */
static int
parse_pipe(struct parser *p, bool paren, bool decl_ok, struct pipe **ret)
{
	struct pipe *pl = calloc(1, sizeof(*pl));
	struct cmd *c = NULL;
	int r = 0;

	if (pl == NULL)
		return CF_ENOMEM;
	skip_space(p);
	pl->pos = p->i;
	/* declarations */
	if (decl_ok && p->i < p->action_end && p->s[p->i] == '$') {
		size_t save = p->i;
		char *names[2] = {NULL, NULL};
		int n = 0;
		for (;;) {
			size_t s = p->i;
			if (p->i >= p->action_end || p->s[p->i] != '$')
				break;
			p->i++;
			while (p->i < p->action_end && is_alnum(p->s[p->i]))
				p->i++;
			if (n == 2)
				break;
			names[n++] = xstrndup(p->s + s, p->i - s);
			skip_space(p);
			if (p->i < p->action_end && p->s[p->i] == ',' && n == 1) {
				p->i++;
				skip_space(p);
				continue;
			}
			break;
		}
		if (n > 0 && names[n - 1] != NULL && p->i < p->action_end &&
		    (p->s[p->i] == '=' ||
		     (p->s[p->i] == ':' && p->i + 1 < p->action_end && p->s[p->i + 1] == '='))) {
			pl->assign = p->s[p->i] == '=';
			p->i += pl->assign ? 1 : 2;
			pl->decl[0] = names[0];
			pl->decl[1] = names[1];
			pl->ndecl = n;
			if (pl->assign && n != 1) {
				r = perr(p, save, "too many declarations in assignment");
				goto out;
			}
			if (pl->assign && !var_known(p, pl->decl[0])) {
				r = perr(p, save, "undefined variable \"%s\"", pl->decl[0]);
				goto out;
			}
		} else {
			free(names[0]);
			free(names[1]);
			p->i = save;
		}
	}
	for (;;) {
		skip_space(p);
		if (paren && p->i < p->action_end && p->s[p->i] == ')') {
			p->i++;
			break;
		}
		if (p->i >= p->action_end) {
			if (paren) {
				r = perr(p, p->i, "unclosed left paren");
				goto out;
			}
			break;
		}
		if (p->s[p->i] == '|') {
			if (c == NULL || c->nargs == 0) {
				r = perr(p, p->i, "missing command before \"|\"");
				goto out;
			}
			c->end = p->i;
			c = NULL;
			p->i++;
			continue;
		}
		if (c == NULL) {
			struct cmd **v = realloc(pl->cmds, (pl->ncmds + 1) * sizeof(*v));
			if (v == NULL) {
				r = CF_ENOMEM;
				goto out;
			}
			pl->cmds = v;
			c = calloc(1, sizeof(*c));
			if (c == NULL) {
				r = CF_ENOMEM;
				goto out;
			}
			c->pos = p->i;
			pl->cmds[pl->ncmds++] = c;
		}
		{
			struct arg **v = realloc(c->args, (c->nargs + 1) * sizeof(*v));
			if (v == NULL) {
				r = CF_ENOMEM;
				goto out;
			}
			c->args = v;
			r = parse_arg(p, &c->args[c->nargs]);
			if (r < 0)
				goto out;
			c->nargs++;
			c->end = p->i;
		}
	}
	if (pl->ncmds == 0 || pl->cmds[pl->ncmds - 1]->nargs == 0) {
		r = perr(p, pl->pos, "missing value for command");
		goto out;
	}
	for (size_t k = 1; k < pl->ncmds; k++) {
		struct arg *a = pl->cmds[k]->args[0];
		if (a->kind != A_IDENT && !(a->kind == A_PIPE && pl->cmds[k]->nargs == 1)) {
			r = perr(p, a->pos, "non executable command in pipeline stage %zu", k + 1);
			goto out;
		}
	}
	for (int k = 0; k < pl->ndecl && !pl->assign; k++) {
		r = var_push(p, pl->decl[k]);
		if (r < 0)
			goto out;
	}
	*ret = pl;
	return 0;
out:
	pipe_free(pl);
	return r;
}

/* Moves past the current action's right delimiter; CF_EINVAL when text is
 * left in it. */
static int
finish_action(struct parser *p)
{
	if (!at_end(p))
		return perr(p, p->i, "unexpected \"%c\" in command", p->s[p->i]);
	p->trim_pending = p->trim_right;
	p->i = p->action_end + (p->trim_right ? 2 : 0) + p->rdlen;
	return 0;
}

/* What ended a list of nodes. */
enum stop { S_EOF, S_END, S_ELSE };

static int parse_list(struct parser *p, struct node **ret, enum stop *stop, size_t *stop_pos);

static int
append_text(struct node ***tail, const char *s, size_t n, size_t pos)
{
	struct node *nd;

	if (n == 0)
		return 0;
	nd = calloc(1, sizeof(*nd));
	if (nd == NULL)
		return CF_ENOMEM;
	nd->kind = N_TEXT;
	nd->pos = pos;
	nd->text = xstrndup(s, n);
	nd->len = n;
	**tail = nd;
	*tail = &nd->next;
	return nd->text == NULL ? CF_ENOMEM : 0;
}

static bool
word_at(struct parser *p, const char *w)
{
	size_t n = strlen(w);

	return p->action_end - p->i >= n && memcmp(p->s + p->i, w, n) == 0 &&
	       (p->i + n == p->action_end || !is_alnum(p->s[p->i + n]));
}

/* After a control word's pipeline and body: {{else}} / {{else if}} / {{end}}.
 * nd is an N_IF, N_WITH or N_RANGE whose pipe is parsed. */
static int
parse_control(struct parser *p, struct node *nd, const char *what)
{
	enum stop stop;
	size_t mark = p->nvars, stop_pos;
	int r;

	if (++p->depth > TMPL_MAX_DEPTH) {
		(void)perr(p, nd->pos, "blocks nested too deeply");
		p->depth--;
		return CF_ETOOBIG;
	}
	r = finish_action(p);
	if (r < 0)
		goto out;
	r = parse_list(p, &nd->body, &stop, &stop_pos);
	if (r < 0)
		goto out;
	if (stop == S_EOF) {
		r = perr(p, stop_pos, "unexpected EOF: %s has no end", what);
		goto out;
	}
	p->nvars = mark;
	if (stop == S_ELSE) {
		skip_space(p);
		if (nd->kind != N_RANGE && (word_at(p, "if") || word_at(p, "with"))) {
			/* {{else if x}}: a nested node sharing our {{end}} */
			struct node *e = calloc(1, sizeof(*e));
			bool is_if = word_at(p, "if");
			if (e == NULL) {
				r = CF_ENOMEM;
				goto out;
			}
			nd->els = e;
			e->pos = p->i;
			e->kind = is_if ? N_IF : N_WITH;
			p->i += is_if ? 2 : 4;
			if (at_end(p)) {
				r = perr(p, e->pos, "missing value for %s", is_if ? "if" : "with");
				goto out;
			}
			r = parse_pipe(p, false, true, &e->pipe);
			if (r < 0)
				goto out;
			r = parse_control(p, e, is_if ? "if" : "with");
			goto out;
		}
		if (!at_end(p)) {
			r = perr(p, p->i, "unexpected \"%c\" in else", p->s[p->i]);
			goto out;
		}
		r = finish_action(p);
		if (r < 0)
			goto out;
		r = parse_list(p, &nd->els, &stop, &stop_pos);
		if (r < 0)
			goto out;
		if (stop != S_END) {
			r = perr(p, stop_pos,
			         stop == S_EOF ? "unexpected EOF: %s has no end"
			                       : "expected end; found else in %s",
			         what);
			goto out;
		}
	}
out:
	p->nvars = mark;
	p->depth--;
	return r;
}

/* One {{ ... }} whose left delimiter (and trim marker) were consumed; p->i at
 * its first byte, action_end set. Appends a node (or nothing, a comment) or
 * reports a stop. */
static int
parse_action(struct parser *p, struct node ***tail, enum stop *stop, size_t *stop_pos,
             bool *stopped)
{
	size_t start;
	struct node *nd = NULL;
	int r = 0;

	skip_space(p);
	start = p->i;
	*stopped = false;
	if (p->i >= p->action_end)
		return perr(p, start, "missing value for command");
	if (word_at(p, "end")) {
		p->i += 3;
		if (!at_end(p))
			return perr(p, p->i, "unexpected \"%c\" in end", p->s[p->i]);
		r = finish_action(p);
		if (r < 0)
			return r;
		*stop = S_END;
		*stop_pos = start;
		*stopped = true;
		return 0;
	}
	if (word_at(p, "else")) {
		p->i += 4;
		*stop = S_ELSE;
		*stop_pos = start;
		*stopped = true;
		return 0;
	}
	nd = calloc(1, sizeof(*nd));
	if (nd == NULL)
		return CF_ENOMEM;
	nd->pos = start;
	if (word_at(p, "if") || word_at(p, "with") || word_at(p, "range")) {
		const char *what = word_at(p, "if") ? "if" : word_at(p, "with") ? "with" : "range";
		size_t mark = p->nvars;
		nd->kind = what[0] == 'i' ? N_IF : what[0] == 'w' ? N_WITH : N_RANGE;
		p->i += strlen(what);
		if (at_end(p)) {
			r = perr(p, start, "missing value for %s", what);
			goto out;
		}
		r = parse_pipe(p, false, true, &nd->pipe);
		if (r < 0)
			goto out;
		if (nd->pipe->ndecl == 2 && nd->kind != N_RANGE) {
			r = perr(p, nd->pipe->pos, "too many declarations in %s", what);
			goto out;
		}
		r = parse_control(p, nd, what);
		p->nvars = mark;
		if (r < 0)
			goto out;
	} else if (word_at(p, "define") || word_at(p, "template") || word_at(p, "block") ||
	           word_at(p, "break") || word_at(p, "continue")) {
		r = perr(p, start, "unsupported action \"%.*s\"",
		         (int)strcspn(p->s + start, " \t\r\n}"), p->s + start);
		goto out;
	} else {
		nd->kind = N_ACTION;
		r = parse_pipe(p, false, true, &nd->pipe);
		if (r < 0)
			goto out;
		if (nd->pipe->ndecl == 2) {
			r = perr(p, nd->pipe->pos, "too many declarations in command");
			goto out;
		}
		r = finish_action(p);
		if (r < 0)
			goto out;
	}
	**tail = nd;
	*tail = &nd->next;
	return 0;
out:
	nodes_free(nd);
	return r;
}

static int
parse_list(struct parser *p, struct node **ret, enum stop *stop, size_t *stop_pos)
{
	struct node *head = NULL, **tail = &head;
	bool trim_next = p->trim_pending;
	int r = 0;

	p->trim_pending = false;
	for (;;) {
		const char *open = NULL;
		size_t tstart = p->i, tend, astart;
		bool trim_left = false, stopped = false;

		for (size_t k = p->i; k + p->ldlen <= p->len; k++)
			if (memcmp(p->s + k, p->ld, p->ldlen) == 0) {
				open = p->s + k;
				break;
			}
		tend = open != NULL ? (size_t)(open - p->s) : p->len;
		if (open != NULL) {
			astart = tend + p->ldlen;
			if (astart + 1 < p->len && p->s[astart] == '-' &&
			    is_space(p->s[astart + 1])) {
				trim_left = true;
				astart += 2;
			}
		}
		if (trim_next)
			while (tstart < tend && is_space(p->s[tstart]))
				tstart++;
		if (trim_left)
			while (tend > tstart && is_space(p->s[tend - 1]))
				tend--;
		r = append_text(&tail, p->s + tstart, tend - tstart, tstart);
		if (r < 0)
			goto out;
		if (open == NULL) {
			p->i = p->len;
			*stop = S_EOF;
			*stop_pos = p->len;
			break;
		}
		p->i = astart;
		/* a comment: "/" "*" ... "*" "/" right after the delimiter */
		if (p->len - p->i >= 2 && memcmp(p->s + p->i, "/*", 2) == 0) {
			const char *e = NULL;
			for (size_t k = p->i + 2; k + 2 <= p->len; k++)
				if (p->s[k] == '*' && p->s[k + 1] == '/') {
					e = p->s + k;
					break;
				}
			if (e == NULL) {
				r = perr(p, p->i, "unclosed comment");
				goto out;
			}
			p->i = (size_t)(e - p->s) + 2;
			/* the action may end later than the first delimiter seen */
			{
				size_t q = p->i;
				bool tr = false;
				if (q + 1 < p->len && is_space(p->s[q]) && p->s[q + 1] == '-') {
					tr = true;
					q += 2;
				}
				if (p->len - q < p->rdlen ||
				    memcmp(p->s + q, p->rd, p->rdlen) != 0) {
					r = perr(p, p->i, "comment ends before closing delimiter");
					goto out;
				}
				trim_next = tr;
				p->i = q + p->rdlen;
			}
			continue;
		}
		r = find_action_end(p, (size_t)(open - p->s));
		if (r < 0)
			goto out;
		r = parse_action(p, &tail, stop, stop_pos, &stopped);
		if (r < 0)
			goto out;
		trim_next = p->trim_pending;
		p->trim_pending = false;
		if (stopped)
			break;
	}
	*ret = head;
	return 0;
out:
	nodes_free(head);
	return r;
}

int
tmpl_parse(const char *name, const char *text, size_t len, const struct tmpl_opts *opts,
           struct tmpl **ret, struct buf *err)
{
	struct tmpl *t = calloc(1, sizeof(*t));
	struct parser p = {0};
	enum stop stop;
	size_t stop_pos;
	int r;

	if (t == NULL)
		return CF_ENOMEM;
	t->name = strdup(name != NULL ? name : "template");
	t->src = xstrndup(text, len);
	t->len = len;
	t->missing_error = opts != NULL && opts->error_on_missing_key;
	if (t->name == NULL || t->src == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	p.t = t;
	p.s = t->src;
	p.len = len;
	p.err = err;
	p.ld = opts != NULL && opts->left_delim != NULL && *opts->left_delim ? opts->left_delim
	                                                                     : "{{";
	p.rd = opts != NULL && opts->right_delim != NULL && *opts->right_delim ? opts->right_delim
	                                                                       : "}}";
	p.ldlen = strlen(p.ld);
	p.rdlen = strlen(p.rd);
	if (memchr(text, '\0', len) != NULL) {
		r = perr(&p, (size_t)((const char *)memchr(text, '\0', len) - text),
		         "template contains a NUL byte");
		goto out;
	}
	r = parse_list(&p, &t->root, &stop, &stop_pos);
	if (r < 0)
		goto out;
	if (stop != S_EOF) {
		nodes_free(t->root);
		t->root = NULL;
		r = perr(&p, stop_pos, "unexpected {{%s}}", stop == S_END ? "end" : "else");
		goto out;
	}
	*ret = t;
	t = NULL;
out:
	free(p.vars);
	tmpl_free(t);
	return r;
}

/* ---------------------------------------------------------------- rendering */

struct var {
	const char *name;
	json_t *v; /* owned; NULL: no value */
};

struct state {
	const struct tmpl *t;
	tmpl_source_fn src;
	void *ctx;
	struct buf *out, *err;
	struct var vars[TMPL_MAX_VARS];
	size_t nvars;
	size_t steps;  /* nodes executed so far */
	json_t *cache; /* "fn\npath\nk=v..." -> response (null: none) */
};

static int __attribute__((format(printf, 4, 5)))
xerr(struct state *st, size_t pos, size_t end, const char *fmt, ...)
{
	va_list ap;
	int line, col;

	if (st->err == NULL)
		return CF_EINVAL;
	where(st->t->src, pos, &line, &col);
	buf_reset(st->err);
	msg_append(st->err, "%s:%d:%d: executing <%.*s>: ", st->t->name, line, col,
	           (int)(end > pos ? end - pos : 0), st->t->src + pos);
	va_start(ap, fmt);
	msg_vappend(st->err, fmt, ap);
	va_end(ap);
	return CF_EINVAL;
}

static int
var_set(struct state *st, const char *name, json_t *v)
{
	if (st->nvars == TMPL_MAX_VARS)
		return CF_ETOOBIG;
	st->vars[st->nvars].name = name;
	st->vars[st->nvars].v = v != NULL ? json_incref(v) : NULL;
	st->nvars++;
	return 0;
}

static void
vars_pop(struct state *st, size_t mark)
{
	while (st->nvars > mark) {
		st->nvars--;
		json_decref(st->vars[st->nvars].v);
	}
}

static struct var *
var_find(struct state *st, const char *name)
{
	for (size_t i = st->nvars; i-- > 0;)
		if (strcmp(st->vars[i].name, name) == 0)
			return &st->vars[i];
	return NULL;
}

/* Go's type names for the JSON values consul-template sees (numbers decode as
 * json.Number in Vault's client). */
static const char *
type_name(const json_t *v)
{
	if (v == NULL)
		return "<nil>";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "map[string]interface {}";
	case JSON_ARRAY:
		return "[]interface {}";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "int";
	case JSON_REAL:
		return "float64";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	default:
		return "<nil>";
	}
}

static bool
truth(const json_t *v)
{
	if (v == NULL)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return true;
	default:
		return false;
	}
}

/* A float64 as Go prints it: the shortest digits that read back; for %v
 * (strconv 'g', shortest) exponent form below 1e-4 or from 1e6, two exponent
 * digits at least; for encoding/json exponent form below 1e-6 or from 1e21,
 * exponent digits as needed. */
static int
fmt_float(struct buf *b, double d, bool json)
{
	char tmp[40], m[32];
	int prec, exp;

	if (d == 0)
		return buf_append_str(b, signbit(d) && !json ? "-0" : "0");
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	exp = atoi(strchr(tmp, 'e') + 1); /* NOLINT: from snprintf above */
	if (json ? (fabs(d) < 1e-6 || fabs(d) >= 1e21) : (exp < -4 || exp >= 6)) {
		/* d.ddde±XX, Go writes at least two exponent digits (json: one) */
		char *e = strchr(tmp, 'e');
		size_t n = (size_t)(e - tmp);
		memcpy(m, tmp, n);
		m[n] = '\0';
		if (json)
			return buf_printf(b, "%se%c%d", m, exp < 0 ? '-' : '+', abs(exp));
		return buf_printf(b, "%se%c%02d", m, exp < 0 ? '-' : '+', abs(exp));
	}
	return buf_printf(b, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
}

/* fmt's %v of a value: maps as map[k:v ...] with sorted keys, slices as
 * [a b], nil as <nil>, no value as <no value>. */
static int print_value(struct buf *b, const json_t *v, bool top);

static int
sorted_keys(const json_t *obj, const char ***ret)
{
	size_t n = json_object_size(obj), i = 0;
	const char **k = calloc(n + 1, sizeof(*k)), *key;
	json_t *v;

	if (k == NULL)
		return CF_ENOMEM;
	json_object_foreach((json_t *)obj, key, v) k[i++] = key;
	for (size_t a = 1; a < n; a++)
		for (size_t c = a; c > 0 && strcmp(k[c - 1], k[c]) > 0; c--) {
			const char *x = k[c];
			k[c] = k[c - 1];
			k[c - 1] = x;
		}
	*ret = k;
	return 0;
}

static int
print_value(struct buf *b, const json_t *v, bool top)
{
	const char **keys = NULL;
	int r = 0;

	if (v == NULL)
		return buf_append_str(b, top ? "<no value>" : "<nil>");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return buf_append(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return fmt_float(b, json_real_value(v), false);
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
		return buf_append_str(b, "<nil>");
	case JSON_ARRAY:
		r = buf_append_char(b, '[');
		for (size_t i = 0; r == 0 && i < json_array_size(v); i++) {
			if (i > 0)
				r = buf_append_char(b, ' ');
			if (r == 0)
				r = print_value(b, json_array_get(v, i), false);
		}
		return r < 0 ? r : buf_append_char(b, ']');
	case JSON_OBJECT:
		r = sorted_keys(v, &keys);
		if (r < 0)
			return r;
		r = buf_append_str(b, "map[");
		for (size_t i = 0; r == 0 && keys[i] != NULL; i++) {
			r = buf_printf(b, "%s%s:", i > 0 ? " " : "", keys[i]);
			if (r == 0)
				r = print_value(b, json_object_get(v, keys[i]), false);
		}
		free(keys); /* not secret: borrowed pointers to map keys */
		return r < 0 ? r : buf_append_char(b, ']');
	}
	return CF_EINTERNAL;
}

/* Go's encoding/json string: <, >, & and U+2028/2029 escaped as \uXXXX
 * unless html is false, \b \f \n \r \t, other controls \u00XX, invalid UTF-8
 * as \ufffd. */
static int
json_string_go(struct buf *b, const char *s, size_t n, bool html)
{
	int r = buf_append_char(b, '"');

	for (size_t i = 0; r == 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			r = buf_printf(b, "\\%c", c);
		else if (c == '\n')
			r = buf_append_str(b, "\\n");
		else if (c == '\r')
			r = buf_append_str(b, "\\r");
		else if (c == '\t')
			r = buf_append_str(b, "\\t");
		else if (c == '\b')
			r = buf_append_str(b, "\\b");
		else if (c == '\f')
			r = buf_append_str(b, "\\f");
		else if (c < 0x20 || (html && (c == '<' || c == '>' || c == '&')))
			r = buf_printf(b, "\\u%04x", c);
		else if (html && c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		         ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
			r = buf_printf(b, "\\u202%c", (unsigned char)s[i + 2] == 0xA8 ? '8' : '9');
			i += 2;
		} else
			r = buf_append_char(b, (char)c);
	}
	return r < 0 ? r : buf_append_char(b, '"');
}

/* json.Marshal (indent NULL) or json.MarshalIndent(v, "", indent). */
static int
json_go(struct buf *b, const json_t *v, const char *indent, int level)
{
	const char **keys = NULL;
	int r = 0;
	size_t n;

	if (v == NULL)
		return buf_append_str(b, "null");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_go(b, json_string_value(v), json_string_length(v), true);
	case JSON_INTEGER:
		return buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return fmt_float(b, json_real_value(v), true);
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
		return buf_append_str(b, "null");
	case JSON_ARRAY:
	case JSON_OBJECT:
		break;
	}
	n = json_is_array(v) ? json_array_size(v) : json_object_size(v);
	if (json_is_object(v)) {
		r = sorted_keys(v, &keys);
		if (r < 0)
			return r;
	}
	r = buf_append_char(b, json_is_array(v) ? '[' : '{');
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (i > 0)
			r = buf_append_char(b, ',');
		if (r == 0 && indent != NULL) {
			r = buf_append_char(b, '\n');
			for (int k = 0; r == 0 && k <= level; k++)
				r = buf_append_str(b, indent);
		}
		if (r == 0 && keys != NULL) {
			r = json_string_go(b, keys[i], strlen(keys[i]), true);
			if (r == 0)
				r = buf_append_str(b, indent != NULL ? ": " : ":");
		}
		if (r == 0)
			r = json_go(b,
			            keys != NULL ? json_object_get(v, keys[i])
			                         : json_array_get(v, i),
			            indent, level + 1);
	}
	if (r == 0 && indent != NULL && n > 0) {
		r = buf_append_char(b, '\n');
		for (int k = 0; r == 0 && k < level; k++)
			r = buf_append_str(b, indent);
	}
	free(keys); /* not secret: borrowed pointers to map keys */
	return r < 0 ? r : buf_append_char(b, json_is_array(v) ? ']' : '}');
}

/* YAML (the shape of gopkg.in/yaml.v2's output): block maps with sorted keys,
 * block sequences ("- ") not indented under their key, plain scalars where
 * they read back as the same string, double-quoted ones otherwise. */
/* How yaml.v2 writes a string: 0 plain, 1 single-quoted, 2 double-quoted.
 * Plain when it reads back as the same string; double-quoted when it would
 * read back as another type (a number, a boolean, null, empty) or holds
 * control characters or line breaks; single-quoted otherwise. */
static int
yaml_style(const char *s, size_t n)
{
	static const char *const special[] = {
	        "true", "false", "yes",  "no",    "on",  "off", "y",    "n",    "null", "~",
	        "True", "False", "TRUE", "FALSE", "Yes", "No",  "YES",  "NO",   "On",   "Off",
	        "ON",   "OFF",   "Null", "NULL",  "Y",   "N",   ".inf", ".nan", NULL};
	bool plain = true;
	char *end;

	if (n == 0)
		return 2;
	for (size_t i = 0; special[i] != NULL; i++)
		if (strcmp(s, special[i]) == 0)
			return 2;
	errno = 0;
	(void)strtod(s, &end);
	if (*end == '\0' && !is_space(s[0]))
		return 2; /* would read back as a number */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 2;
		if (c == ':' && (i + 1 == n || s[i + 1] == ' '))
			plain = false;
		if (c == '#' && i > 0 && s[i - 1] == ' ')
			plain = false;
	}
	if (is_space(s[0]) || is_space(s[n - 1]) || strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) != NULL)
		plain = false;
	return plain ? 0 : 1;
}

static int
yaml_scalar(struct buf *b, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return buf_append_str(b, "null");
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		int style = yaml_style(s, n), r;
		if (style == 0)
			return buf_append(b, s, n);
		if (style == 2)
			return json_string_go(b, s, n, false);
		r = buf_append_char(b, '\'');
		for (size_t i = 0; r == 0 && i < n; i++)
			r = s[i] == '\'' ? buf_append_str(b, "''") : buf_append_char(b, s[i]);
		return r < 0 ? r : buf_append_char(b, '\'');
	}
	return json_go(b, v, NULL, 0);
}

static int
yaml_go(struct buf *b, const json_t *v, int level)
{
	const char **keys = NULL;
	int r = 0;

	if (json_is_object(v) && json_object_size(v) > 0) {
		r = sorted_keys(v, &keys);
		for (size_t i = 0; r == 0 && keys[i] != NULL; i++) {
			json_t *e = json_object_get(v, keys[i]);
			json_t *ks = json_string(keys[i]);
			if (i > 0 || level > 0)
				r = buf_append_char(b, '\n');
			for (int k = 0; r == 0 && k < level; k++)
				r = buf_append_str(b, "  ");
			if (r == 0)
				r = ks != NULL ? yaml_scalar(b, ks) : CF_ENOMEM;
			json_decref(ks);
			if (r == 0)
				r = buf_append_char(b, ':');
			if (r == 0 && (json_is_object(e) || json_is_array(e)) &&
			    (json_is_object(e) ? json_object_size(e) : json_array_size(e)) > 0)
				r = yaml_go(b, e, json_is_array(e) ? level : level + 1);
			else if (r == 0) {
				r = buf_append_char(b, ' ');
				if (r == 0)
					r = json_is_object(e)  ? buf_append_str(b, "{}")
					    : json_is_array(e) ? buf_append_str(b, "[]")
					                       : yaml_scalar(b, e);
			}
		}
		free(keys); /* not secret: borrowed pointers to map keys */
		return r;
	}
	if (json_is_array(v) && json_array_size(v) > 0) {
		for (size_t i = 0; r == 0 && i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);
			if (i > 0 || level > 0 || b->len > 0)
				r = buf_append_char(b, '\n');
			for (int k = 0; r == 0 && k < level; k++)
				r = buf_append_str(b, "  ");
			if (r == 0)
				r = buf_append_str(b, "-");
			if (r == 0 && json_is_object(e) && json_object_size(e) > 0) {
				/* "- k: v" with the rest of the map under it */
				struct buf sub = BUF_INIT(TMPL_SCRATCH, BUF_SECRET);
				r = yaml_go(&sub, e, level + 1);
				if (r == 0) {
					const char *s = buf_str(&sub);
					size_t skip = 1 + 2 * (size_t)(level + 1);
					r = buf_append_char(b, ' ');
					if (r == 0)
						r = buf_append(b, s + skip, buf_len(&sub) - skip);
				}
				buf_free(&sub);
			} else if (r == 0 && json_is_array(e) && json_array_size(e) > 0) {
				r = yaml_go(b, e, level + 1);
			} else if (r == 0) {
				r = buf_append_char(b, ' ');
				if (r == 0)
					r = json_is_object(e)  ? buf_append_str(b, "{}")
					    : json_is_array(e) ? buf_append_str(b, "[]")
					                       : yaml_scalar(b, e);
			}
		}
		return r;
	}
	if (json_is_object(v))
		return buf_append_str(b, "{}");
	if (json_is_array(v))
		return buf_append_str(b, "[]");
	return yaml_scalar(b, v);
}

/* strconv.Quote: "..." with \a \b \f \n \r \t \v \\ \", other control bytes
 * and bytes of invalid UTF-8 as \xHH, DEL as \x7f. */
static int
go_quote(struct buf *b, const char *s, size_t n)
{
	int r = buf_append_char(b, '"');

	for (size_t i = 0; r == 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = NULL;
		switch (c) {
		case '\a':
			e = "\\a";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		case '\v':
			e = "\\v";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '"':
			e = "\\\"";
			break;
		default:
			break;
		}
		if (e != NULL)
			r = buf_append_str(b, e);
		else if (c < 0x20 || c == 0x7f)
			r = buf_printf(b, "\\x%02x", c);
		else
			r = buf_append_char(b, (char)c); /* jansson strings are valid UTF-8 */
	}
	return r < 0 ? r : buf_append_char(b, '"');
}

/* A value as text for a string parameter: strings as they are, numbers as
 * their digits (Vault's client decodes them as json.Number, a string type). */
static int
arg_text(struct state *st, const struct cmd *c, const char *fn, json_t *v, const char **ret,
         struct buf *tmp)
{
	if (v != NULL && json_is_string(v)) {
		*ret = json_string_value(v);
		return 0;
	}
	if (v != NULL && json_is_number(v)) {
		int r;
		buf_reset(tmp);
		r = print_value(tmp, v, true);
		if (r < 0)
			return r;
		*ret = buf_str(tmp);
		return 0;
	}
	if (v == NULL)
		return xerr(st, c->pos, c->end, "error calling %s: invalid value; expected string",
		            fn);
	return xerr(st, c->pos, c->end,
	            "error calling %s: wrong type for value; expected string; got %s", fn,
	            type_name(v));
}

static int
str_ret(json_t **ret, const char *s, size_t n)
{
	*ret = json_stringn(s, n);
	return *ret == NULL ? CF_ENOMEM : 0;
}

/* ---------------------------------------------------------------- printf */

struct spec {
	bool minus, plus, zero, space, sharp;
	int width, prec; /* -1: none */
};

static int
pad(struct buf *b, const struct spec *sp, const char *s, size_t n)
{
	size_t runes = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		runes += ((unsigned char)s[i] & 0xC0) != 0x80;
	if (sp->width > 0 && (size_t)sp->width > runes && !sp->minus)
		for (size_t k = runes; r == 0 && k < (size_t)sp->width; k++)
			r = buf_append_char(b, sp->zero ? '0' : ' ');
	if (r == 0)
		r = buf_append(b, s, n);
	if (sp->width > 0 && (size_t)sp->width > runes && sp->minus)
		for (size_t k = runes; r == 0 && k < (size_t)sp->width; k++)
			r = buf_append_char(b, ' ');
	return r;
}

/* A C format for a number: "%" flags width .prec conv. */
static void
cfmt(char *f, size_t fl, const struct spec *sp, const char *conv)
{
	char w[16] = "", p[16] = "";

	if (sp->width > 0)
		snprintf(w, sizeof(w), "%d", sp->width);
	if (sp->prec >= 0)
		snprintf(p, sizeof(p), ".%d", sp->prec);
	snprintf(f, fl, "%%%s%s%s%s%s%s%s%s", sp->minus ? "-" : "", sp->plus ? "+" : "",
	         sp->zero && !sp->minus ? "0" : "", sp->space ? " " : "", sp->sharp ? "#" : "", w,
	         p, conv);
}

/* buf_printf with a format cfmt built from its fixed alphabet. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int
buf_cprintf(struct buf *b, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = buf_vprintf(b, f, ap);
	va_end(ap);
	return r;
}
#pragma GCC diagnostic pop

static int
bad_verb(struct buf *b, char verb, const json_t *v)
{
	int r = buf_printf(b, "%%!%c(", verb);

	if (r == 0 && v != NULL && !json_is_null(v))
		r = buf_printf(b, "%s=", type_name(v));
	if (r == 0)
		r = print_value(b, v, false);
	return r < 0 ? r : buf_append_char(b, ')');
}

static int
fmt_one(struct buf *b, char verb, const struct spec *sp, const json_t *v)
{
	struct buf t = BUF_INIT(TMPL_SCRATCH, BUF_SECRET);
	char f[64];
	int r = 0;

	switch (verb) {
	case 'v':
	case 's':
		if (verb == 's' && (v == NULL || json_is_boolean(v) || json_is_null(v))) {
			r = bad_verb(b, verb, v);
			break;
		}
		r = print_value(&t, v, false);
		if (r == 0) {
			size_t n = buf_len(&t);
			if (sp->prec >= 0 && json_is_string(v)) {
				/* precision counts runes */
				size_t runes = 0, i = 0;
				const char *s = buf_str(&t);
				for (; i < n; i++) {
					if (((unsigned char)s[i] & 0xC0) != 0x80) {
						if (runes == (size_t)sp->prec)
							break;
						runes++;
					}
				}
				n = i;
			}
			r = pad(b, sp, buf_str(&t), n);
		}
		break;
	case 'q':
		if (v == NULL || !json_is_string(v)) {
			r = bad_verb(b, verb, v);
			break;
		}
		r = go_quote(&t, json_string_value(v), json_string_length(v));
		if (r == 0)
			r = pad(b, sp, buf_str(&t), buf_len(&t));
		break;
	case 't':
		if (v == NULL || !json_is_boolean(v)) {
			r = bad_verb(b, verb, v);
			break;
		}
		r = pad(b, sp, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
		break;
	case 'd':
	case 'x':
	case 'X':
	case 'o':
	case 'b':
		if (v != NULL && json_is_integer(v) && verb != 'b') {
			long long x = (long long)json_integer_value(v);
			char conv[4] = {'l', 'l', verb == 'd' ? 'd' : verb, 0};
			struct spec s2 = *sp;
			if (x < 0 && verb != 'd') {
				/* Go prints -ff, C would print two's complement */
				s2.width = sp->width > 0 ? sp->width - 1 : 0;
				cfmt(f, sizeof(f), &s2, conv);
				r = buf_append_char(b, '-');
				if (r == 0)
					r = buf_cprintf(b, f, (unsigned long long)-x);
			} else {
				cfmt(f, sizeof(f), sp, conv);
				r = buf_cprintf(b, f, x);
			}
		} else if (v != NULL && json_is_string(v) && (verb == 'x' || verb == 'X')) {
			const unsigned char *s = (const unsigned char *)json_string_value(v);
			for (size_t i = 0; r == 0 && i < json_string_length(v); i++)
				r = buf_printf(&t, verb == 'x' ? "%02x" : "%02X", s[i]);
			if (r == 0)
				r = pad(b, sp, buf_str(&t), buf_len(&t));
		} else {
			r = bad_verb(b, verb, v);
		}
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
		if (v != NULL && json_is_number(v)) {
			char conv[2] = {verb == 'F' ? 'f' : verb, 0};
			struct spec s2 = *sp;
			if (s2.prec < 0 &&
			    (verb == 'f' || verb == 'F' || verb == 'e' || verb == 'E'))
				s2.prec = 6;
			cfmt(f, sizeof(f), &s2, conv);
			if ((verb == 'g' || verb == 'G') && sp->prec < 0) {
				/* shortest representation */
				r = fmt_float(&t, json_number_value(v), false);
				if (r == 0)
					r = pad(b, sp, buf_str(&t), buf_len(&t));
			} else {
				r = buf_cprintf(b, f, json_number_value(v));
			}
		} else {
			r = bad_verb(b, verb, v);
		}
		break;
	default:
		r = bad_verb(b, verb, v);
		break;
	}
	buf_free(&t);
	return r;
}

/* fmt.Sprintf for the verbs %v %s %q %d %x %X %o %f %F %e %E %g %G %t %%,
 * flags - + 0 space #, width and precision. */
static int
go_sprintf(struct buf *b, const char *f, json_t **args, size_t n)
{
	size_t used = 0;
	int r = 0;

	while (r == 0 && *f != '\0') {
		struct spec sp = {.width = -1, .prec = -1};
		if (*f != '%') {
			const char *q = strchr(f, '%');
			size_t k = q != NULL ? (size_t)(q - f) : strlen(f);
			r = buf_append(b, f, k);
			f += k;
			continue;
		}
		f++;
		for (;; f++) {
			if (*f == '-')
				sp.minus = true;
			else if (*f == '+')
				sp.plus = true;
			else if (*f == '0')
				sp.zero = true;
			else if (*f == ' ')
				sp.space = true;
			else if (*f == '#')
				sp.sharp = true;
			else
				break;
		}
		while (isdigit((unsigned char)*f) && sp.width < 10000)
			sp.width = (sp.width < 0 ? 0 : sp.width * 10) + (*f++ - '0');
		if (*f == '.') {
			f++;
			sp.prec = 0;
			while (isdigit((unsigned char)*f) && sp.prec < 10000)
				sp.prec = sp.prec * 10 + (*f++ - '0');
		}
		if (*f == '\0') {
			r = buf_append_str(b, "%!(NOVERB)");
			break;
		}
		if (*f == '%') {
			r = buf_append_char(b, '%');
			f++;
			continue;
		}
		if (used >= n)
			r = buf_printf(b, "%%!%c(MISSING)", *f);
		else
			r = fmt_one(b, *f, &sp, args[used++]);
		f++;
	}
	if (r == 0 && used < n) {
		r = buf_append_str(b, "%!(EXTRA ");
		for (size_t i = used; r == 0 && i < n; i++) {
			if (i > used)
				r = buf_append_str(b, ", ");
			if (r == 0 && args[i] != NULL && !json_is_null(args[i]))
				r = buf_printf(b, "%s=", type_name(args[i]));
			if (r == 0)
				r = print_value(b, args[i], false);
		}
		if (r == 0)
			r = buf_append_char(b, ')');
	}
	return r;
}

/* ---------------------------------------------------------------- evaluation */

static int eval_pipe(struct state *st, const struct pipe *pl, json_t *dot, json_t **ret);
static int eval_arg(struct state *st, const struct arg *a, json_t *dot, json_t **ret);

/* v.name for each name of the chain (takes v). */
static int
eval_chain(struct state *st, const struct arg *a, json_t *v, json_t **ret)
{
	for (size_t i = 0; i < a->nchain; i++) {
		const char *k = a->chain[i];
		json_t *next;
		if (v == NULL) {
			if (st->t->missing_error)
				return xerr(st, a->pos, a->end, "nil data; no entry for key \"%s\"",
				            k);
			continue;
		}
		if (json_is_null(v)) {
			json_decref(v);
			return xerr(st, a->pos, a->end, "nil pointer evaluating interface {}.%s",
			            k);
		}
		if (!json_is_object(v)) {
			int r = xerr(st, a->pos, a->end, "can't evaluate field %s in type %s", k,
			             type_name(v));
			json_decref(v);
			return r;
		}
		next = json_object_get(v, k);
		if (next == NULL && st->t->missing_error) {
			json_decref(v);
			return xerr(st, a->pos, a->end, "map has no entry for key \"%s\"", k);
		}
		if (next != NULL)
			json_incref(next);
		json_decref(v);
		v = next;
	}
	*ret = v;
	return 0;
}

static int call_func(struct state *st, const struct cmd *c, const char *fn,
                     const struct arg *const *args, size_t nargs, json_t *final, bool has_final,
                     json_t *dot, json_t **ret);

static int
eval_arg(struct state *st, const struct arg *a, json_t *dot, json_t **ret)
{
	struct var *var;
	json_t *v = NULL;
	int r;

	switch (a->kind) {
	case A_DOT:
		*ret = dot != NULL ? json_incref(dot) : NULL;
		return 0;
	case A_FIELD:
		return eval_chain(st, a, dot != NULL ? json_incref(dot) : NULL, ret);
	case A_VAR:
		if (strcmp(a->name, "$") == 0)
			var = &st->vars[0];
		else
			var = var_find(st, a->name);
		if (var == NULL)
			return xerr(st, a->pos, a->end, "undefined variable: %s", a->name);
		return eval_chain(st, a, var->v != NULL ? json_incref(var->v) : NULL, ret);
	case A_LIT:
		*ret = json_incref(a->lit);
		return 0;
	case A_PIPE:
		r = eval_pipe(st, a->pipe, dot, &v);
		if (r < 0)
			return r;
		return eval_chain(st, a, v, ret);
	case A_IDENT: {
		/* a function named as an argument is called without arguments */
		struct cmd c = {.pos = a->pos, .end = a->end};
		return call_func(st, &c, a->name, NULL, 0, NULL, false, dot, ret);
	}
	}
	return CF_EINTERNAL;
}

static int
eval_cmd(struct state *st, const struct cmd *c, json_t *final, bool has_final, json_t *dot,
         json_t **ret)
{
	const struct arg *a = c->args[0];

	if (a->kind == A_IDENT)
		return call_func(st, c, a->name, (const struct arg *const *)c->args + 1,
		                 c->nargs - 1, final, has_final, dot, ret);
	if (c->nargs > 1 || has_final)
		return xerr(st, c->pos, c->end, "can't give argument to non-function %.*s",
		            (int)(a->end - a->pos), st->t->src + a->pos);
	return eval_arg(st, a, dot, ret);
}

static int
eval_pipe(struct state *st, const struct pipe *pl, json_t *dot, json_t **ret)
{
	json_t *v = NULL;
	int r = 0;

	for (size_t i = 0; i < pl->ncmds; i++) {
		json_t *next = NULL;
		r = eval_cmd(st, pl->cmds[i], v, i > 0, dot, &next);
		json_decref(v);
		v = NULL;
		if (r < 0)
			return r;
		v = next;
	}
	if (pl->ndecl > 0) {
		if (pl->assign) {
			struct var *var = var_find(st, pl->decl[0]);
			if (var == NULL) {
				json_decref(v);
				return xerr(st, pl->pos, pl->pos, "undefined variable: %s",
				            pl->decl[0]);
			}
			json_decref(var->v);
			var->v = v != NULL ? json_incref(v) : NULL;
		} else {
			r = var_set(st, pl->decl[0], v);
			if (r < 0) {
				json_decref(v);
				return xerr(st, pl->pos, pl->pos, "too many variables");
			}
		}
	}
	*ret = v;
	return 0;
}

/* ---------------------------------------------------------------- functions */

/* -1, 0, 1, or CF_EINVAL for values Go refuses to compare. */
static int
compare(const json_t *a, const json_t *b, bool order, int *ret)
{
	if (a == NULL)
		a = json_null();
	if (b == NULL)
		b = json_null();
	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);
			*ret = x < y ? -1 : x > y;
		} else {
			double x = json_number_value(a), y = json_number_value(b);
			*ret = x < y ? -1 : x > y;
		}
		return 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		int c = strcmp(json_string_value(a), json_string_value(b));
		*ret = c < 0 ? -1 : c > 0;
		return 0;
	}
	if (order)
		return CF_EINVAL;
	if (json_is_boolean(a) && json_is_boolean(b)) {
		*ret = json_is_true(a) != json_is_true(b);
		return 0;
	}
	if (json_is_null(a) || json_is_null(b)) {
		*ret = !(json_is_null(a) && json_is_null(b));
		return 0;
	}
	return CF_EINVAL;
}

static int
do_secret(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
          json_t **ret)
{
	struct buf key = BUF_INIT(1u << 20, 0), tmp = BUF_INIT(1u << 20, 0);
	struct buf serr = BUF_INIT(1024, 0);
	json_t *params = json_object(), *resp = NULL, *hit;
	const char *path, *s;
	int r;

	if (params == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	if (n < 1) {
		r = xerr(st, c->pos, c->end, "wrong number of args for %s: want at least 1 got 0",
		         fn);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = arg_text(st, c, fn, argv[i], &s, &tmp);
		if (r < 0)
			goto out;
		if (i == 0) {
			r = buf_printf(&key, "%s\n%s", fn, s);
			continue;
		}
		const char *eq = strchr(s, '=');
		if (eq == NULL || eq == s) {
			/* the argument may carry a secret: name it by position */
			r = xerr(st, c->pos, c->end,
			         "error calling %s: argument %zu is not a key=value pair", fn,
			         i + 1);
			goto out;
		}
		{
			char *k = xstrndup(s, (size_t)(eq - s));
			r = k == NULL ? CF_ENOMEM
			              : json_object_set_new(params, k, json_string(eq + 1));
			free(k);
		}
		if (r != 0) {
			r = CF_ENOMEM;
			goto out;
		}
		r = buf_printf(&key, "\n%s", s);
		if (r < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	hit = json_object_get(st->cache, buf_str(&key));
	if (hit != NULL) {
		resp = json_incref(hit);
	} else {
		if (st->src == NULL) {
			r = xerr(st, c->pos, c->end, "error calling %s: no data source", fn);
			goto out;
		}
		r = arg_text(st, c, fn, argv[0], &path, &tmp);
		if (r < 0)
			goto out;
		r = st->src(st->ctx, fn, path, params, &resp, &serr);
		if (r < 0) {
			if (buf_len(&serr) > 0)
				(void)xerr(st, c->pos, c->end, "error calling %s: %s", fn,
				           buf_str(&serr));
			else
				(void)xerr(st, c->pos, c->end, "error calling %s: %s", fn,
				           cf_strerror(r));
			goto out;
		}
		if (resp == NULL)
			resp = json_null();
		if (json_object_set(st->cache, buf_str(&key), resp) != 0) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	if (strcmp(fn, "pkiCert") == 0 && json_is_object(resp)) {
		/* consul-template's pkiCert answers .Cert .Key .CA .CAChain */
		json_t *d = json_object_get(resp, "Data"), *pem = json_object();
		json_t *chain = json_object_get(d, "ca_chain");
		if (pem == NULL) {
			r = CF_ENOMEM;
			goto out;
		}
		static const char *const names[][2] = {
		        {"Cert", "certificate"}, {"Key", "private_key"}, {"CA", "issuing_ca"}};
		for (size_t k = 0; k < 3; k++) {
			json_t *f = json_object_get(d, names[k][1]);
			if (json_object_set_new(pem, names[k][0],
			                        json_is_string(f) ? json_incref(f)
			                                          : json_string("")) != 0) {
				json_decref(pem);
				r = CF_ENOMEM;
				goto out;
			}
		}
		json_object_set_new(pem, "CAChain",
		                    json_is_array(chain) ? json_incref(chain) : json_array());
		json_decref(resp);
		resp = pem;
	}
	*ret = resp;
	resp = NULL;
	r = 0;
out:
	json_decref(params);
	json_decref(resp);
	buf_free(&key);
	buf_free(&tmp);
	buf_free(&serr);
	return r;
}

static int
want_args(struct state *st, const struct cmd *c, const char *fn, size_t n, size_t want)
{
	if (n == want)
		return 0;
	return xerr(st, c->pos, c->end, "wrong number of args for %s: want %zu got %zu", fn, want,
	            n);
}

static int
read_file_capped(const char *path, struct buf *b)
{
	char chunk[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	int r = 0;

	if (fd < 0)
		return CF_EIO;
	/* a FIFO or a device would block or never end */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return CF_EIO;
	}
	for (;;) {
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = CF_EIO;
			break;
		}
		if (k == 0)
			break;
		r = buf_append(b, chunk, (size_t)k);
		if (r < 0)
			break;
	}
	secmem_wipe(chunk, sizeof(chunk));
	close(fd);
	return r;
}

static int
b64_url(const char *s, bool encode, bool url, struct buf *b)
{
	/* encode/decode, standard or URL alphabet, padded (Go's StdEncoding,
	 * URLEncoding) */
	static const char *std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char *urla =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *al = url ? urla : std;
	size_t n = strlen(s);
	int r = 0;

	if (encode) {
		for (size_t i = 0; r == 0 && i < n; i += 3) {
			uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
			size_t k = n - i;
			if (k > 1)
				v |= (uint32_t)(unsigned char)s[i + 1] << 8;
			if (k > 2)
				v |= (unsigned char)s[i + 2];
			char q[4] = {al[(v >> 18) & 63], al[(v >> 12) & 63],
			             k > 1 ? al[(v >> 6) & 63] : '=', k > 2 ? al[v & 63] : '='};
			r = buf_append(b, q, 4);
		}
		return r;
	}
	if (n % 4 != 0)
		return (int)(n - n % 4) + 1; /* position + 1 of the error */
	for (size_t i = 0; r == 0 && i < n; i += 4) {
		uint32_t v = 0;
		int pads = 0;
		for (size_t k = 0; k < 4; k++) {
			const char *p;
			if (s[i + k] == '=' && i + 4 == n && k >= 2 &&
			    (k == 3 || s[i + 3] == '=')) {
				pads++;
				v <<= 6;
				continue;
			}
			p = s[i + k] != '\0' && s[i + k] != '=' ? strchr(al, s[i + k]) : NULL;
			if (p == NULL || pads > 0)
				return (int)(i + k) + 1;
			v = (v << 6) | (uint32_t)(p - al);
		}
		char o[3] = {(char)(v >> 16), (char)(v >> 8), (char)v};
		r = buf_append(b, o, 3 - (size_t)pads);
	}
	return r;
}

#define WANT(k)                                                                                    \
	do {                                                                                       \
		r = want_args(st, c, fn, n, (k));                                                  \
		if (r < 0)                                                                         \
			return r;                                                                  \
	} while (0)
#define TEXT(i, var, tb)                                                                           \
	do {                                                                                       \
		r = arg_text(st, c, fn, argv[i], &(var), (tb));                                    \
		if (r < 0)                                                                         \
			return r;                                                                  \
	} while (0)

static int
fn_not(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n, json_t **ret,
       struct buf *t, struct buf *t2)
{
	int r = 0;

	WANT(1);
	*ret = json_boolean(!truth(argv[0]));
	return r;
}

static int
fn_eq(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n, json_t **ret,
      struct buf *t, struct buf *t2)
{
	int cmp;
	int r = 0;

	bool any = false;
	if (n < 2) {
		r = xerr(st, c->pos, c->end, "wrong number of args for %s: want 2 got %zu", fn, n);
		return r;
	}
	if (fn[0] == 'n')
		WANT(2);
	for (size_t i = 1; i < n && !any; i++) {
		if (compare(argv[0], argv[i], false, &cmp) < 0) {
			r = xerr(st, c->pos, c->end,
			         "error calling %s: incompatible types for comparison", fn);
			return r;
		}
		any = cmp == 0;
	}
	*ret = json_boolean(fn[0] == 'e' ? any : !any);
	return r;
}

static int
fn_lt(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n, json_t **ret,
      struct buf *t, struct buf *t2)
{
	int cmp;
	int r = 0;

	WANT(2);
	if (compare(argv[0], argv[1], true, &cmp) < 0) {
		r = xerr(st, c->pos, c->end, "error calling %s: incompatible types for comparison",
		         fn);
		return r;
	}
	*ret = json_boolean(fn[0] == 'l' ? (fn[1] == 't' ? cmp < 0 : cmp <= 0)
	                                 : (fn[1] == 't' ? cmp > 0 : cmp >= 0));
	return r;
}

static int
fn_len(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n, json_t **ret,
       struct buf *t, struct buf *t2)
{
	int r = 0;

	WANT(1);
	if (json_is_string(argv[0]))
		*ret = json_integer((json_int_t)json_string_length(argv[0]));
	else if (json_is_array(argv[0]))
		*ret = json_integer((json_int_t)json_array_size(argv[0]));
	else if (json_is_object(argv[0]))
		*ret = json_integer((json_int_t)json_object_size(argv[0]));
	else {
		r = xerr(st, c->pos, c->end, "error calling len: len of type %s",
		         type_name(argv[0]));
		return r;
	}
	return r;
}

static int
fn_index(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
         json_t **ret, struct buf *t, struct buf *t2)
{
	int r = 0;

	json_t *v;
	if (n < 1) {
		r = xerr(st, c->pos, c->end,
		         "wrong number of args for index: want at least 1 got 0");
		return r;
	}
	v = argv[0] != NULL ? json_incref(argv[0]) : NULL;
	for (size_t i = 1; i < n; i++) {
		json_t *next = NULL;
		if (json_is_array(v) && json_is_integer(argv[i])) {
			json_int_t k = json_integer_value(argv[i]);
			if (k < 0 || (size_t)k >= json_array_size(v)) {
				json_decref(v);
				r = xerr(st, c->pos, c->end,
				         "error calling index: index out of range: %lld",
				         (long long)k);
				return r;
			}
			next = json_incref(json_array_get(v, (size_t)k));
		} else if (json_is_object(v) && json_is_string(argv[i])) {
			next = json_object_get(v, json_string_value(argv[i]));
			if (next == NULL && st->t->missing_error) {
				r = xerr(st, c->pos, c->end,
				         "error calling index: map has no entry for key "
				         "\"%s\"",
				         json_string_value(argv[i]));
				json_decref(v);
				return r;
			}
			next = next != NULL ? json_incref(next) : json_null();
		} else {
			r = xerr(st, c->pos, c->end,
			         "error calling index: can't index item of type %s", type_name(v));
			json_decref(v);
			return r;
		}
		json_decref(v);
		v = next;
	}
	*ret = v;
	return r;
}

static int
fn_print(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
         json_t **ret, struct buf *t, struct buf *t2)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		/* Print adds a space between operands when neither is a string;
		 * Println always */
		if (i > 0 &&
		    (fn[5] == 'l' || (!json_is_string(argv[i - 1]) && !json_is_string(argv[i]))))
			r = buf_append_char(t, ' ');
		if (r == 0)
			r = print_value(t, argv[i], false);
	}
	if (r == 0 && fn[5] == 'l')
		r = buf_append_char(t, '\n');
	if (r < 0)
		return r;
	r = str_ret(ret, buf_str(t), buf_len(t));
	return r;
}

static int
fn_printf(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
          json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	if (n < 1) {
		r = xerr(st, c->pos, c->end,
		         "wrong number of args for printf: want at least 1 got 0");
		return r;
	}
	TEXT(0, s, t2);
	r = go_sprintf(t, s, argv + 1, n - 1);
	if (r < 0)
		return r;
	r = str_ret(ret, buf_str(t), buf_len(t));
	return r;
}

static int
fn_secret(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
          json_t **ret, struct buf *t, struct buf *t2)
{
	int r = 0;

	r = do_secret(st, c, fn, argv, n, ret);
	return r;
	return r;
}

static int
fn_base64Encode(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
                json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	bool url = fn[6] == 'U', enc = strstr(fn, "Encode") != NULL;
	WANT(1);
	TEXT(0, s, t2);
	r = b64_url(s, enc, url, t);
	if (r > 0) {
		r = xerr(st, c->pos, c->end,
		         "error calling %s: %s: illegal base64 data at input byte %d", fn, fn,
		         r - 1);
		return r;
	}
	if (r < 0)
		return r;
	*ret = json_stringn(buf_str(t), buf_len(t));
	if (*ret == NULL) {
		r = xerr(st, c->pos, c->end, "error calling %s: decoded value is not valid UTF-8",
		         fn);
		return r;
	}
	return r;
}

static int
fn_toJSON(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
          json_t **ret, struct buf *t, struct buf *t2)
{
	int r = 0;

	WANT(1);
	r = json_go(t, argv[0], fn[6] == 'P' ? "  " : NULL, 0);
	if (r < 0)
		return r;
	r = str_ret(ret, buf_str(t), buf_len(t));
	return r;
}

static int
fn_toYAML(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
          json_t **ret, struct buf *t, struct buf *t2)
{
	int r = 0;

	WANT(1);
	r = yaml_go(t, argv[0], 0);
	if (r < 0)
		return r;
	r = str_ret(ret, buf_str(t), buf_len(t));
	return r;
}

static int
fn_toLower(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
           json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	size_t a = 0, e;
	WANT(1);
	TEXT(0, s, t2);
	e = strlen(s);
	if (fn[0] == 't' && fn[1] == 'r') {
		while (a < e && isspace((unsigned char)s[a]))
			a++;
		while (e > a && isspace((unsigned char)s[e - 1]))
			e--;
	}
	r = buf_append(t, s + a, e - a);
	if (r < 0)
		return r;
	{
		char *p = t->p;
		bool word_start = true;
		for (size_t i = 0; p != NULL && i < buf_len(t); i++) {
			unsigned char ch = (unsigned char)p[i];
			if (strcmp(fn, "toLower") == 0)
				p[i] = (char)tolower(ch);
			else if (strcmp(fn, "toUpper") == 0)
				p[i] = (char)toupper(ch);
			else if (strcmp(fn, "toTitle") == 0) {
				/* first letter of each word upper, the rest unchanged */
				if (word_start && ch < 0x80)
					p[i] = (char)toupper(ch);
				word_start = !(isalnum(ch) || ch >= 0x80 || ch == '\'');
			}
		}
	}
	r = str_ret(ret, buf_str(t), buf_len(t));
	return r;
}

static int
fn_replaceAll(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
              json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	const char *s2 = NULL;
	int r = 0;

	const char *s3;
	struct buf t3 = BUF_INIT(TMPL_SCRATCH, BUF_SECRET);
	WANT(3);
	TEXT(0, s, t2);
	r = arg_text(st, c, fn, argv[1], &s2, &t3);
	if (r == 0)
		r = arg_text(st, c, fn, argv[2], &s3, t);
	if (r == 0) {
		struct buf o = BUF_INIT(TMPL_SCRATCH, BUF_SECRET);
		size_t fl = strlen(s);
		const char *q = s3;
		while (r == 0 && *q != '\0') {
			/* strings.ReplaceAll with "" inserts between runes */
			const char *hit = fl > 0 ? strstr(q, s) : q + (q != s3);
			if (fl == 0 && q == s3) {
				r = buf_append_str(&o, s2);
				if (r < 0)
					break;
				hit = q + 1;
				while (((unsigned char)*hit & 0xC0) == 0x80)
					hit++;
				r = buf_append(&o, q, (size_t)(hit - q));
				q = hit;
				continue;
			}
			if (fl == 0) {
				const char *e2 = q + 1;
				while (((unsigned char)*e2 & 0xC0) == 0x80)
					e2++;
				r = buf_append_str(&o, s2);
				if (r == 0)
					r = buf_append(&o, q, (size_t)(e2 - q));
				q = e2;
				continue;
			}
			if (hit == NULL) {
				r = buf_append_str(&o, q);
				break;
			}
			r = buf_append(&o, q, (size_t)(hit - q));
			if (r == 0)
				r = buf_append_str(&o, s2);
			q = hit + fl;
		}
		if (r == 0 && fl == 0)
			r = buf_append_str(&o, s2);
		if (r == 0)
			r = str_ret(ret, buf_str(&o), buf_len(&o));
		buf_free(&o);
	}
	buf_free(&t3);
	if (r < 0)
		return r;
	return r;
}

static int
fn_split(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
         json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	const char *s2 = NULL;
	int r = 0;

	json_t *arr;
	size_t a = 0, e, sl;
	WANT(2);
	TEXT(0, s, t2);
	TEXT(1, s2, t);
	arr = json_array();
	if (arr == NULL) {
		r = CF_ENOMEM;
		return r;
	}
	/* consul-template trims the input; empty input gives an empty list */
	e = strlen(s2);
	while (a < e && isspace((unsigned char)s2[a]))
		a++;
	while (e > a && isspace((unsigned char)s2[e - 1]))
		e--;
	sl = strlen(s);
	for (size_t i = a; e > a;) {
		const char *hit = NULL;
		if (sl > 0) {
			for (size_t k = i; k + sl <= e; k++)
				if (memcmp(s2 + k, s, sl) == 0) {
					hit = s2 + k;
					break;
				}
		} else if (i < e) {
			hit = s2 + i + 1;
			while (hit < s2 + e && ((unsigned char)*hit & 0xC0) == 0x80)
				hit++;
			if (hit == s2 + e)
				hit = NULL;
		}
		size_t end = hit != NULL ? (size_t)(hit - s2) : e;
		if (json_array_append_new(arr, json_stringn(s2 + i, end - i)) != 0) {
			json_decref(arr);
			r = CF_ENOMEM;
			return r;
		}
		if (hit == NULL)
			break;
		i = end + sl;
	}
	*ret = arr;
	return r;
}

static int
fn_join(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
        json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	WANT(2);
	TEXT(0, s, t2);
	if (!json_is_array(argv[1])) {
		r = xerr(st, c->pos, c->end,
		         "error calling join: wrong type for value; expected []string; got "
		         "%s",
		         type_name(argv[1]));
		return r;
	}
	for (size_t i = 0; i < json_array_size(argv[1]); i++) {
		json_t *e = json_array_get(argv[1], i);
		if (!json_is_string(e)) {
			r = xerr(st, c->pos, c->end,
			         "error calling join: wrong type for value; expected "
			         "string; got %s",
			         type_name(e));
			return r;
		}
		r = buf_printf(t, "%s%s", i > 0 ? s : "", json_string_value(e));
		if (r < 0)
			return r;
	}
	r = str_ret(ret, buf_str(t), buf_len(t));
	return r;
}

static int
fn_env(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n, json_t **ret,
       struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	const char *e;
	WANT(1);
	TEXT(0, s, t2);
	e = getenv(s);
	r = str_ret(ret, e != NULL ? e : "", e != NULL ? strlen(e) : 0);
	return r;
}

static int
fn_file(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
        json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	struct buf fb = BUF_INIT(TMPL_FILE_MAX, BUF_SECRET);
	WANT(1);
	TEXT(0, s, t2);
	r = read_file_capped(s, &fb);
	if (r == 0) {
		*ret = json_stringn(buf_str(&fb), buf_len(&fb));
		if (*ret == NULL)
			r = xerr(st, c->pos, c->end, "error calling file: %s: not valid UTF-8 text",
			         s);
	} else {
		r = xerr(st, c->pos, c->end, "error calling file: %s: %s", s,
		         r == CF_ETOOBIG ? "larger than 1 MiB" : "cannot be read");
	}
	buf_free(&fb);
	if (r < 0)
		return r;
	return r;
}

static int
fn_contains(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
            json_t **ret, struct buf *t, struct buf *t2)
{
	int cmp;
	int r = 0;

	bool found = false;
	WANT(2);
	if (json_is_array(argv[1])) {
		for (size_t i = 0; !found && i < json_array_size(argv[1]); i++)
			found = compare(argv[0], json_array_get(argv[1], i), false, &cmp) == 0 &&
			        cmp == 0;
	} else if (json_is_object(argv[1]) && json_is_string(argv[0])) {
		found = json_object_get(argv[1], json_string_value(argv[0])) != NULL;
	} else if (json_is_string(argv[1]) && json_is_string(argv[0])) {
		found = strstr(json_string_value(argv[1]), json_string_value(argv[0])) != NULL;
	} else {
		r = xerr(st, c->pos, c->end, "error calling contains: cannot search in %s",
		         type_name(argv[1]));
		return r;
	}
	*ret = json_boolean(found);
	return r;
}

static int
fn_hasPrefix(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
             json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	const char *s2 = NULL;
	int r = 0;

	size_t pl, sl;
	WANT(2);
	TEXT(0, s, t2);
	TEXT(1, s2, t);
	pl = strlen(s);
	sl = strlen(s2);
	*ret = json_boolean(pl <= sl && memcmp(fn[3] == 'P' ? s2 : s2 + sl - pl, s, pl) == 0);
	return r;
}

static int
fn_parseBool(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
             json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	bool b = false;
	WANT(1);
	TEXT(0, s, t2);
	if (*s != '\0' && util_parse_bool(s, &b) < 0) {
		/* the value may be a secret: not shown */
		r = xerr(st, c->pos, c->end, "error calling parseBool: not a boolean");
		return r;
	}
	*ret = json_boolean(b);
	return r;
}

static int
fn_parseInt(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
            json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	int64_t v = 0;
	WANT(1);
	TEXT(0, s, t2);
	if (*s != '\0' && util_parse_int(s, &v) < 0) {
		/* the value may be a secret: not shown */
		r = xerr(st, c->pos, c->end, "error calling parseInt: not a base-10 integer");
		return r;
	}
	*ret = json_integer(v);
	return r;
}

static int
fn_parseJSON(struct state *st, const struct cmd *c, const char *fn, json_t **argv, size_t n,
             json_t **ret, struct buf *t, struct buf *t2)
{
	const char *s = NULL;
	int r = 0;

	json_error_t je;
	WANT(1);
	TEXT(0, s, t2);
	if (*s == '\0') {
		*ret = json_object();
	} else {
		*ret = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
		if (*ret == NULL) {
			r = xerr(st, c->pos, c->end,
			         "error calling parseJSON: invalid JSON at line %d column "
			         "%d",
			         je.line, je.column);
			return r;
		}
	}
	return r;
}

#undef WANT
#undef TEXT

typedef int (*func_fn)(struct state *st, const struct cmd *c, const char *fn, json_t **argv,
                       size_t n, json_t **ret, struct buf *t, struct buf *t2);

/* The functions after and/or (which call_func runs itself, lazily). */
static const struct {
	const char *name;
	func_fn fn;
} funcs[] = {
        {"not", fn_not},
        {"eq", fn_eq},
        {"ne", fn_eq},
        {"lt", fn_lt},
        {"le", fn_lt},
        {"gt", fn_lt},
        {"ge", fn_lt},
        {"len", fn_len},
        {"index", fn_index},
        {"print", fn_print},
        {"println", fn_print},
        {"printf", fn_printf},
        {"secret", fn_secret},
        {"pkiCert", fn_secret},
        {"base64Encode", fn_base64Encode},
        {"base64URLEncode", fn_base64Encode},
        {"base64Decode", fn_base64Encode},
        {"base64URLDecode", fn_base64Encode},
        {"toJSON", fn_toJSON},
        {"toJSONPretty", fn_toJSON},
        {"toYAML", fn_toYAML},
        {"toLower", fn_toLower},
        {"toUpper", fn_toLower},
        {"toTitle", fn_toLower},
        {"trimSpace", fn_toLower},
        {"replaceAll", fn_replaceAll},
        {"split", fn_split},
        {"join", fn_join},
        {"env", fn_env},
        {"file", fn_file},
        {"contains", fn_contains},
        {"hasPrefix", fn_hasPrefix},
        {"hasSuffix", fn_hasPrefix},
        {"parseBool", fn_parseBool},
        {"parseInt", fn_parseInt},
        {"parseJSON", fn_parseJSON},
};

static int
call_func(struct state *st, const struct cmd *c, const char *fn, const struct arg *const *args,
          size_t nargs, json_t *final, bool has_final, json_t *dot, json_t **ret)
{
	size_t n = nargs + (has_final ? 1 : 0);
	json_t **argv = NULL;
	struct buf t = BUF_INIT(TMPL_SCRATCH, BUF_SECRET), t2 = BUF_INIT(TMPL_SCRATCH, BUF_SECRET);
	func_fn f = NULL;
	size_t got = 0;
	int r = 0;

	/* and, or: short-circuit, the result is the deciding argument */
	if (strcmp(fn, "and") == 0 || strcmp(fn, "or") == 0) {
		bool is_and = fn[0] == 'a';
		json_t *v = NULL;
		if (n < 1)
			return xerr(st, c->pos, c->end,
			            "wrong number of args for %s: want at least 1 got 0", fn);
		for (size_t i = 0; i < n; i++) {
			json_decref(v);
			v = NULL;
			if (i < nargs) {
				r = eval_arg(st, args[i], dot, &v);
				if (r < 0)
					return r;
			} else {
				v = final != NULL ? json_incref(final) : NULL;
			}
			if (truth(v) != is_and)
				break;
		}
		*ret = v;
		return 0;
	}
	argv = calloc(n + 1, sizeof(*argv));
	if (argv == NULL)
		return CF_ENOMEM;
	for (; got < nargs; got++) {
		r = eval_arg(st, args[got], dot, &argv[got]);
		if (r < 0)
			goto out;
	}
	if (has_final)
		argv[got++] = final != NULL ? json_incref(final) : NULL;

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (strcmp(funcs[i].name, fn) == 0)
			f = funcs[i].fn;
	/* the parser admits only known names: a miss is a bug */
	if (f == NULL) {
		r = xerr(st, c->pos, c->end, "function \"%s\" not defined", fn);
		goto out;
	}
	r = f(st, c, fn, argv, n, ret, &t, &t2);
	if (r == 0 && *ret == NULL && strcmp(fn, "index") != 0)
		r = CF_ENOMEM;
out:
	for (size_t i = 0; i < got; i++)
		json_decref(argv[i]);
	free(argv);
	buf_free(&t);
	buf_free(&t2);
	return r;
}

/* ---------------------------------------------------------------- walking */

static int exec_list(struct state *st, const struct node *n, json_t *dot);

static int
exec_node(struct state *st, const struct node *n, json_t *dot)
{
	size_t mark = st->nvars;
	json_t *v = NULL;
	int r = 0;

	if (++st->steps > TMPL_MAX_STEPS) {
		(void)xerr(st, n->pos, n->pos, "template does too much work (more than %d steps)",
		           TMPL_MAX_STEPS);
		return CF_ETOOBIG;
	}
	switch (n->kind) {
	case N_TEXT:
		return buf_append(st->out, n->text, n->len);
	case N_ACTION:
		r = eval_pipe(st, n->pipe, dot, &v);
		if (r == 0 && n->pipe->ndecl == 0)
			r = print_value(st->out, v, true);
		json_decref(v);
		return r; /* a declaration lives to the end of the enclosing block */
	case N_IF:
	case N_WITH:
		r = eval_pipe(st, n->pipe, dot, &v);
		if (r < 0)
			break;
		if (truth(v))
			r = exec_list(st, n->body, n->kind == N_WITH ? v : dot);
		else if (n->els != NULL)
			r = exec_list(st, n->els, dot);
		break;
	case N_RANGE: {
		/* the range's own declarations are set per element below */
		struct pipe pl = *n->pipe;
		bool any = false;
		pl.ndecl = 0;
		r = eval_pipe(st, &pl, dot, &v);
		if (r < 0)
			break;
		if (json_is_array(v)) {
			for (size_t i = 0; r == 0 && i < json_array_size(v); i++) {
				json_t *e = json_array_get(v, i),
				       *idx = json_integer((json_int_t)i);
				size_t m2 = st->nvars;
				any = true;
				if (idx == NULL) {
					r = CF_ENOMEM;
					break;
				}
				if (n->pipe->ndecl == 1)
					r = var_set(st, n->pipe->decl[0], e);
				else if (n->pipe->ndecl == 2) {
					r = var_set(st, n->pipe->decl[0], idx);
					if (r == 0)
						r = var_set(st, n->pipe->decl[1], e);
				}
				json_decref(idx);
				if (r == 0)
					r = exec_list(st, n->body, e);
				vars_pop(st, m2);
			}
		} else if (json_is_object(v)) {
			const char **keys = NULL;
			r = sorted_keys(v, &keys);
			for (size_t i = 0; r == 0 && keys[i] != NULL; i++) {
				json_t *e = json_object_get(v, keys[i]), *k = json_string(keys[i]);
				size_t m2 = st->nvars;
				any = true;
				if (k == NULL) {
					r = CF_ENOMEM;
					break;
				}
				if (n->pipe->ndecl == 1)
					r = var_set(st, n->pipe->decl[0], e);
				else if (n->pipe->ndecl == 2) {
					r = var_set(st, n->pipe->decl[0], k);
					if (r == 0)
						r = var_set(st, n->pipe->decl[1], e);
				}
				json_decref(k);
				if (r == 0)
					r = exec_list(st, n->body, e);
				vars_pop(st, m2);
			}
			free(keys); /* not secret: borrowed pointers to map keys */
		} else if (v != NULL && !json_is_null(v)) {
			r = xerr(st, n->pipe->pos, n->pipe->cmds[n->pipe->ncmds - 1]->end,
			         "range can't iterate over %s", type_name(v));
		}
		if (r == 0 && !any && n->els != NULL)
			r = exec_list(st, n->els, dot);
		break;
	}
	}
	json_decref(v);
	vars_pop(st, mark);
	return r;
}

static int
exec_list(struct state *st, const struct node *n, json_t *dot)
{
	size_t mark = st->nvars;
	int r = 0;

	for (; r == 0 && n != NULL; n = n->next)
		r = exec_node(st, n, dot);
	vars_pop(st, mark);
	return r;
}

int
tmpl_render(const struct tmpl *t, tmpl_source_fn src, void *ctx, struct buf *out, struct buf *err)
{
	struct state *st = calloc(1, sizeof(*st));
	size_t start = buf_len(out);
	json_t *root = json_object();
	int r;

	if (st == NULL || root == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	st->t = t;
	st->src = src;
	st->ctx = ctx;
	st->out = out;
	st->err = err;
	st->cache = json_object();
	if (st->cache == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	/* $ and dot start as an empty map: consul-template renders with no data */
	r = var_set(st, "$", root);
	if (r == 0)
		r = exec_list(st, t->root, root);
	if (r == CF_ETOOBIG && err != NULL && buf_len(err) == 0)
		msg_append(err, "%s: rendered output is too large", t->name);
out:
	if (r < 0 && buf_truncate(out, start) < 0)
		buf_reset(out);
	if (st != NULL) {
		vars_pop(st, 0);
		json_decref(st->cache);
		free(st);
	}
	json_decref(root);
	return r;
}
