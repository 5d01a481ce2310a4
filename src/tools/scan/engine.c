/* engine.c - the detector behind `coffer scan` (scan.h; docs/internals/scan.md).
 *
 * One pass over the bytes: a case-insensitive Aho-Corasick automaton over every
 * rule's keywords, compiled to a full DFA on byte classes, so the loop is one
 * table load per byte. States that end a keyword are numbered last, so the
 * loop tests one comparison per byte to know that something matched.
 *
 * A keyword hit opens a window for each rule that owns the keyword: the hit's
 * line and the next one (at most WIN_BEFORE bytes before the keyword and
 * WIN_AFTER after it) for a single-line rule, a bounded block around it for a
 * multi-line rule. A rule's windows are merged while they overlap, up to
 * MERGE_MAX bytes (one PCRE2 call never faces a whole minified file), and run
 * through its PCRE2 pattern (JIT) when the next window no longer overlaps: a
 * rule reads a byte once, or twice where two capped windows overlap (the
 * findings of an overlap are merged afterwards). Entropy, checks and allow markers are looked at
 * only on pattern matches; lines and columns are counted once, after the findings are sorted, by
 * walking forward from one finding to the next. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tools/scan/scan.h"

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

#define WIN_BEFORE   1024         /* single-line rule: bytes before the keyword */
#define WIN_AFTER    2048         /* ... and after it */
#define MULTI_BEFORE 4096         /* multi-line rule: bytes before the keyword's line */
#define MULTI_AFTER  (64 * 1024)  /* ... and after the keyword */
#define CHECK_CTX    1024         /* context handed to a check, each side of the window */
#define MATCH_LIMIT  1000000      /* PCRE2 backtracking budget per window */
#define MERGE_MAX    (256 * 1024) /* windows merge up to this size */
#define NO_STATE     UINT32_MAX

struct keyword {
	char *text; /* lower-case */
	size_t len;
	uint32_t *rules; /* indexes of the rules that own it */
	size_t nrules;
};

struct scan_engine {
	const struct scan_rule *rules;
	size_t n;
	pcre2_code **code;
	int *secret_group; /* the group number of `secret`, or 0 */
	uint32_t max_groups;
	uint32_t *always; /* rules without keywords: run on the whole buffer */
	size_t nalways;

	struct keyword *kw;
	size_t nkw;
	uint8_t cls[256]; /* byte -> class (0: in no keyword) */
	uint32_t ncls;
	uint32_t *delta;     /* state row offset * ncls + class -> next row offset */
	uint32_t out_thresh; /* row offsets >= this end at least one keyword */
	uint32_t *out_start; /* per output state (index state - first_out): CSR into out_kw */
	uint32_t *out_kw;
	uint32_t first_out;
};

struct pending {
	size_t ws, we;
	bool on;
};

struct found {
	uint32_t rule;
	size_t off, len;
};

struct scan_ctx {
	const struct scan_engine *e;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	struct pending *pend;
	struct found *f;
	size_t nf, capf;
	const char *data;  /* the buffer being scanned */
	size_t len, start; /* start: past the BOM */
	int err;
};

static const char *const allow_markers[] = {
        "coffer:allow",      "gitleaks:allow",          "pragma: allowlist secret",
        "trufflehog:ignore", "secretlint-disable-line",
};
static const char nextline_marker[] = "pragma: allowlist nextline secret";

static inline unsigned char
tolower_ascii(char c)
{
	unsigned char u = (unsigned char)c;
	return u >= 'A' && u <= 'Z' ? (unsigned char)(u + 32) : u;
}

double
scan_entropy(const char *s, size_t len)
{
	size_t count[256] = {0};
	double h = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		count[(unsigned char)s[i]]++;
	for (size_t i = 0; i < 256; i++) {
		if (count[i] == 0)
			continue;
		double p = (double)count[i] / (double)len;
		h -= p * log2(p);
	}
	return h;
}

int
scan_builtin_rules(struct scan_rule **ret, size_t *n)
{
	size_t total = scan_token_rules_n + scan_struct_rules_n;
	struct scan_rule *v = malloc(total * sizeof(*v));

	if (v == NULL)
		return CF_ENOMEM;
	memcpy(v, scan_token_rules, scan_token_rules_n * sizeof(*v));
	memcpy(v + scan_token_rules_n, scan_struct_rules, scan_struct_rules_n * sizeof(*v));
	*ret = v;
	*n = total;
	return 0;
}

/* ------------------------------------------------------------ the automaton */

static int
kw_add(struct scan_engine *e, const char *text, uint32_t rule)
{
	size_t len = strlen(text);
	struct keyword *k = NULL;

	if (len == 0)
		return CF_EINVAL;
	for (size_t i = 0; i < e->nkw; i++) {
		if (e->kw[i].len != len)
			continue;
		size_t j = 0;
		while (j < len && e->kw[i].text[j] == (char)tolower_ascii(text[j]))
			j++;
		if (j == len) {
			k = &e->kw[i];
			break;
		}
	}
	if (k == NULL) {
		struct keyword *v = realloc(e->kw, (e->nkw + 1) * sizeof(*v));
		if (v == NULL)
			return CF_ENOMEM;
		e->kw = v;
		k = &e->kw[e->nkw];
		memset(k, 0, sizeof(*k));
		k->text = malloc(len + 1);
		if (k->text == NULL)
			return CF_ENOMEM;
		for (size_t j = 0; j < len; j++)
			k->text[j] = (char)tolower_ascii(text[j]);
		k->text[len] = '\0';
		k->len = len;
		e->nkw++;
	}
	if (k->nrules > 0 && k->rules[k->nrules - 1] == rule)
		return 0;
	uint32_t *r = realloc(k->rules, (k->nrules + 1) * sizeof(*r));
	if (r == NULL)
		return CF_ENOMEM;
	k->rules = r;
	k->rules[k->nrules++] = rule;
	return 0;
}

/* Gives every byte that occurs in a keyword a class (upper- and lower-case
 * letters share one; class 0 is every other byte) and counts the trie's
 * states at most. Returns 0 or CF_EINVAL (more than 255 classes). */
static int
ac_classes(struct scan_engine *e, size_t *ret_total)
{
	size_t total = 1;

	memset(e->cls, 0, sizeof(e->cls));
	e->ncls = 1;
	for (size_t i = 0; i < e->nkw; i++) {
		total += e->kw[i].len;
		for (size_t j = 0; j < e->kw[i].len; j++) {
			unsigned char c = (unsigned char)e->kw[i].text[j];
			if (e->cls[c] != 0)
				continue;
			if (e->ncls == 255)
				return CF_EINVAL;
			e->cls[c] = (uint8_t)e->ncls;
			if (c >= 'a' && c <= 'z')
				e->cls[c - 32] = (uint8_t)e->ncls;
			e->ncls++;
		}
	}
	if (total > UINT32_MAX / 256 / e->ncls)
		return CF_EINVAL;
	*ret_total = total;
	return 0;
}

/* Renumbers the complete automaton (go, fail, own: keyword ending at a state
 * or NO_STATE, nout: outputs per state) so that the states with outputs come
 * last, and stores the DFA and the output lists in e. */
static int
ac_renumber(struct scan_engine *e, uint32_t nstates, const uint32_t *go, const uint32_t *fail,
            const uint32_t *own, const uint32_t *nout)
{
	uint32_t *perm = malloc((size_t)nstates * sizeof(*perm));
	uint32_t *inv = malloc((size_t)nstates * sizeof(*inv));
	uint32_t next = 0, nouts = 0, k = 0;
	int r = CF_ENOMEM;

	if (perm == NULL || inv == NULL)
		goto out;
	/* the root has no output, so it stays state 0 */
	for (uint32_t s = 0; s < nstates; s++)
		if (nout[s] == 0)
			perm[s] = next++;
	e->first_out = next;
	for (uint32_t s = 0; s < nstates; s++)
		if (nout[s] != 0) {
			perm[s] = next++;
			nouts += nout[s];
		}
	for (uint32_t s = 0; s < nstates; s++)
		inv[perm[s]] = s;
	e->delta = malloc((size_t)nstates * e->ncls * sizeof(*e->delta));
	e->out_start = malloc(((size_t)(nstates - e->first_out) + 1) * sizeof(*e->out_start));
	e->out_kw = malloc(((size_t)nouts + 1) * sizeof(*e->out_kw));
	if (e->delta == NULL || e->out_start == NULL || e->out_kw == NULL)
		goto out;
	for (uint32_t s = 0; s < nstates; s++)
		for (uint32_t c = 0; c < e->ncls; c++)
			e->delta[(size_t)perm[s] * e->ncls + c] =
			        perm[go[(size_t)s * e->ncls + c]] * e->ncls;
	e->out_thresh = e->first_out * e->ncls;
	/* each output state's keywords: its own, then along the failure links */
	for (uint32_t ns = e->first_out; ns < nstates; ns++) {
		e->out_start[ns - e->first_out] = k;
		for (uint32_t t = inv[ns]; t != 0; t = fail[t])
			if (own[t] != NO_STATE)
				e->out_kw[k++] = own[t];
	}
	e->out_start[nstates - e->first_out] = k;
	r = 0;
out:
	free(perm);
	free(inv);
	return r;
}

/* Builds the DFA: a trie over byte classes, failure links in breadth-first
 * order, every missing transition filled from the failure state, outputs
 * counted along the failure links, then ac_renumber. */
static int
ac_build(struct scan_engine *e)
{
	uint32_t nstates = 1, *go = NULL, *fail = NULL, *queue = NULL, *own = NULL, *nout = NULL;
	size_t total, qh = 0, qt = 0;
	int r;

	r = ac_classes(e, &total);
	if (r < 0)
		return r;
	r = CF_ENOMEM;
	go = malloc(total * e->ncls * sizeof(*go));
	fail = calloc(total, sizeof(*fail));
	queue = malloc(total * sizeof(*queue));
	own = malloc(total * sizeof(*own));
	nout = calloc(total, sizeof(*nout));
	if (go == NULL || fail == NULL || queue == NULL || own == NULL || nout == NULL)
		goto out;
	for (size_t i = 0; i < total * e->ncls; i++)
		go[i] = NO_STATE;
	for (size_t i = 0; i < total; i++)
		own[i] = NO_STATE;

	for (size_t i = 0; i < e->nkw; i++) {
		uint32_t s = 0;
		for (size_t j = 0; j < e->kw[i].len; j++) {
			uint32_t c = e->cls[(unsigned char)e->kw[i].text[j]];
			if (go[s * e->ncls + c] == NO_STATE)
				go[s * e->ncls + c] = nstates++;
			s = go[s * e->ncls + c];
		}
		own[s] = (uint32_t)i;
	}

	for (uint32_t c = 0; c < e->ncls; c++) {
		uint32_t t = go[c];
		if (t == NO_STATE) {
			go[c] = 0;
		} else {
			fail[t] = 0;
			queue[qt++] = t;
		}
	}
	while (qh < qt) {
		uint32_t s = queue[qh++];
		nout[s] = (own[s] != NO_STATE) + nout[fail[s]];
		for (uint32_t c = 0; c < e->ncls; c++) {
			uint32_t t = go[s * e->ncls + c];
			if (t == NO_STATE) {
				go[s * e->ncls + c] = go[fail[s] * e->ncls + c];
			} else {
				fail[t] = go[fail[s] * e->ncls + c];
				queue[qt++] = t;
			}
		}
	}
	r = ac_renumber(e, nstates, go, fail, own, nout);
out:
	free(go);
	free(fail);
	free(queue);
	free(own);
	free(nout);
	return r;
}

/* ------------------------------------------------------------ the engine */

void
scan_engine_free(struct scan_engine *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; e->code != NULL && i < e->n; i++)
		pcre2_code_free(e->code[i]);
	free(e->code);
	free(e->secret_group); /* not secret: capture group numbers */
	free(e->always);
	for (size_t i = 0; i < e->nkw; i++) {
		free(e->kw[i].text);
		free(e->kw[i].rules);
	}
	free(e->kw);
	free(e->delta);
	free(e->out_start);
	free(e->out_kw);
	free(e);
}

int
scan_engine_new(const struct scan_rule *rules, size_t n, struct scan_engine **ret, char *err,
                size_t errlen)
{
	struct scan_engine *e = calloc(1, sizeof(*e));
	pcre2_compile_context *cctx = NULL;
	int r = CF_ENOMEM;

	if (errlen > 0)
		err[0] = '\0';
	if (e == NULL)
		goto out;
	if (n > UINT32_MAX / 2) {
		r = CF_EINVAL;
		goto out;
	}
	e->rules = rules;
	e->n = n;
	e->code = calloc(n + 1, sizeof(*e->code));
	e->secret_group = calloc(n + 1, sizeof(*e->secret_group));
	e->always = calloc(n + 1, sizeof(*e->always));
	cctx = pcre2_compile_context_create(NULL);
	if (e->code == NULL || e->secret_group == NULL || e->always == NULL || cctx == NULL)
		goto out;
	(void)pcre2_set_newline(cctx, PCRE2_NEWLINE_ANYCRLF);

	for (size_t i = 0; i < n; i++) {
		const struct scan_rule *rl = &rules[i];
		uint32_t opts = PCRE2_MULTILINE;
		int ec;
		PCRE2_SIZE eo;
		uint32_t groups = 0;

		if (rl->id == NULL || rl->pattern == NULL) {
			if (errlen > 0)
				snprintf(err, errlen, "rule %zu: no id or pattern", i);
			r = CF_EINVAL;
			goto out;
		}
		if (rl->flags & SCAN_RULE_NOCASE)
			opts |= PCRE2_CASELESS;
		e->code[i] = pcre2_compile((PCRE2_SPTR)rl->pattern, PCRE2_ZERO_TERMINATED, opts,
		                           &ec, &eo, cctx);
		if (e->code[i] == NULL) {
			PCRE2_UCHAR msg[160];
			if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
				msg[0] = '\0';
			if (errlen > 0)
				snprintf(err, errlen, "rule %s: pattern at offset %zu: %s", rl->id,
				         (size_t)eo, (const char *)msg);
			r = ec == PCRE2_ERROR_HEAPLIMIT ? CF_ENOMEM : CF_EINVAL;
			goto out;
		}
		/* without JIT (not built in, or no executable memory) pcre2_match interprets */
		(void)pcre2_jit_compile(e->code[i], PCRE2_JIT_COMPLETE);
		int g = pcre2_substring_number_from_name(e->code[i], (PCRE2_SPTR) "secret");
		e->secret_group[i] = g > 0 ? g : 0;
		if (pcre2_pattern_info(e->code[i], PCRE2_INFO_CAPTURECOUNT, &groups) == 0 &&
		    groups > e->max_groups)
			e->max_groups = groups;

		if (rl->keywords == NULL || rl->keywords[0] == NULL) {
			e->always[e->nalways++] = (uint32_t)i;
			continue;
		}
		for (size_t j = 0; rl->keywords[j] != NULL; j++) {
			r = kw_add(e, rl->keywords[j], (uint32_t)i);
			if (r == CF_EINVAL && errlen > 0)
				snprintf(err, errlen, "rule %s: empty keyword", rl->id);
			if (r < 0)
				goto out;
		}
	}
	r = ac_build(e);
	if (r == CF_EINVAL && errlen > 0)
		snprintf(err, errlen, "too many keywords");
	if (r < 0)
		goto out;
	*ret = e;
	e = NULL;
out:
	pcre2_compile_context_free(cctx);
	scan_engine_free(e);
	return r;
}

void
scan_ctx_free(struct scan_ctx *c)
{
	if (c == NULL)
		return;
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mctx);
	pcre2_jit_stack_free(c->jit);
	free(c->pend);
	free(c->f);
	free(c);
}

int
scan_ctx_new(const struct scan_engine *e, struct scan_ctx **ret)
{
	struct scan_ctx *c = calloc(1, sizeof(*c));
	int r = CF_ENOMEM;

	if (c == NULL)
		goto out;
	c->e = e;
	c->md = pcre2_match_data_create(e->max_groups + 1, NULL);
	c->mctx = pcre2_match_context_create(NULL);
	c->pend = calloc(e->n + 1, sizeof(*c->pend));
	if (c->md == NULL || c->mctx == NULL || c->pend == NULL)
		goto out;
	(void)pcre2_set_match_limit(c->mctx, MATCH_LIMIT);
	(void)pcre2_set_depth_limit(c->mctx, MATCH_LIMIT / 10);
	/* a JIT stack larger than the default 32 KiB, for patterns with nested repeats */
	c->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
	if (c->jit != NULL)
		pcre2_jit_stack_assign(c->mctx, NULL, c->jit);
	*ret = c;
	c = NULL;
	r = 0;
out:
	scan_ctx_free(c);
	return r;
}

/* ------------------------------------------------------------ scanning */

static size_t
line_start(const char *d, size_t lo, size_t pos)
{
	while (pos > lo && d[pos - 1] != '\n')
		pos--;
	return pos;
}

static size_t
line_end(const char *d, size_t hi, size_t pos)
{
	const char *nl = memchr(d + pos, '\n', hi - pos);
	return nl != NULL ? (size_t)(nl - d) : hi;
}

static int
found_add(struct scan_ctx *c, uint32_t rule, size_t off, size_t len)
{
	if (c->nf == c->capf) {
		size_t cap = c->capf ? c->capf * 2 : 64;
		struct found *v = realloc(c->f, cap * sizeof(*v));
		if (v == NULL)
			return CF_ENOMEM;
		c->f = v;
		c->capf = cap;
	}
	c->f[c->nf++] = (struct found){rule, off, len};
	return 0;
}

/* Runs rule ri's pattern over [ws, we) and records the matches that pass its
 * entropy and check. The subject is the buffer up to we, so lookbehinds see
 * the bytes before the window. */
static int
run_window(struct scan_ctx *c, uint32_t ri, size_t ws, size_t we)
{
	const struct scan_engine *e = c->e;
	const struct scan_rule *rl = &e->rules[ri];
	PCRE2_SPTR subject = (PCRE2_SPTR)c->data;
	size_t at = ws;
	int r;

	while (at < we) {
		int m = pcre2_match(e->code[ri], subject, we, at, 0, c->md, c->mctx);
		if (m < 0)
			return 0; /* no match, or over the budget: nothing here */
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
		size_t ms = ov[0], me = ov[1];
		size_t so = ms, sl = me - ms;
		int g = e->secret_group[ri];
		if (g > 0 && g < m && ov[2 * g] != PCRE2_UNSET) {
			so = ov[2 * g];
			sl = ov[2 * g + 1] - so;
		}
		at = me > at ? me : at + 1;
		if (sl == 0)
			continue;
		if (rl->min_entropy > 0 && scan_entropy(c->data + so, sl) < rl->min_entropy)
			continue;
		if (rl->check != NULL) {
			size_t cs = ws > CHECK_CTX ? ws - CHECK_CTX : 0, ce = we + CHECK_CTX;
			if (cs < c->start)
				cs = c->start;
			if (ce > c->len)
				ce = c->len;
			cs = line_start(c->data,
			                cs > c->start + CHECK_CTX ? cs - CHECK_CTX : c->start, cs);
			if (!rl->check(c->data + so, sl, c->data + cs, ce - cs, so - cs))
				continue;
		}
		r = found_add(c, ri, so, sl);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
flush(struct scan_ctx *c, uint32_t ri)
{
	struct pending *p = &c->pend[ri];

	if (!p->on)
		return 0;
	p->on = false;
	return run_window(c, ri, p->ws, p->we);
}

/* A keyword of rule ri starts at pos (klen bytes): open or extend its window. */
static int
hit(struct scan_ctx *c, uint32_t ri, size_t pos, size_t klen)
{
	const struct scan_rule *rl = &c->e->rules[ri];
	struct pending *p = &c->pend[ri];
	size_t ws, we;
	int r;

	if (rl->flags & SCAN_RULE_MULTILINE) {
		/* from a line start about MULTI_BEFORE bytes back (the walks back
		 * are bounded: a minified file's one line stays linear) */
		size_t lo = pos > c->start + MULTI_BEFORE ? pos - MULTI_BEFORE : c->start;
		ws = line_start(c->data, lo > c->start + CHECK_CTX ? lo - CHECK_CTX : c->start, lo);
		we = c->len - pos > MULTI_AFTER ? pos + MULTI_AFTER : c->len;
	} else {
		size_t lo = pos > c->start + WIN_BEFORE ? pos - WIN_BEFORE : c->start;
		size_t hi = c->len - pos > klen + WIN_AFTER ? pos + klen + WIN_AFTER : c->len;
		ws = line_start(c->data, lo, pos);
		we = line_end(c->data, hi, pos);
		/* and the next line: a pair's second half (an AWS secret key under
		 * its key id) may sit there */
		if (we < hi)
			we = line_end(c->data, hi, we + 1);
	}
	if (p->on && ws <= p->we && we - p->ws <= MERGE_MAX) {
		if (we > p->we)
			p->we = we;
		return 0;
	}
	r = flush(c, ri);
	if (r < 0)
		return r;
	*p = (struct pending){ws, we, true};
	return 0;
}

static int
found_cmp(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return 0;
}

static bool
has_marker(const char *d, size_t ls, size_t le, const char *m)
{
	return memmem(d + ls, le - ls, m, strlen(m)) != NULL;
}

static bool
line_allowed(const char *d, size_t ls, size_t le)
{
	for (size_t i = 0; i < sizeof(allow_markers) / sizeof(allow_markers[0]); i++)
		if (has_marker(d, ls, le, allow_markers[i]))
			return true;
	return false;
}

/* Which of two overlapping findings to keep: a token rule over a generic one,
 * else the earlier rule. */
static bool
better(const struct scan_engine *e, const struct found *a, const struct found *b)
{
	bool ga = e->rules[a->rule].flags & SCAN_RULE_GENERIC;
	bool gb = e->rules[b->rule].flags & SCAN_RULE_GENERIC;

	if (ga != gb)
		return gb;
	return a->rule < b->rule;
}

/* Sorts the findings, keeps one per overlapping secret, places them and hands
 * them to visit. */
static int
deliver(struct scan_ctx *c, scan_hit_fn visit, void *arg)
{
	const struct scan_engine *e = c->e;
	const char *d = c->data;
	size_t n = 0, pos = c->start, line = 1, ls = c->start, judged = SIZE_MAX;
	bool allowed = false;
	int r;

	if (c->nf == 0)
		return 0;
	qsort(c->f, c->nf, sizeof(*c->f), found_cmp);
	for (size_t i = 0; i < c->nf; i++) {
		if (n > 0 && c->f[i].off < c->f[n - 1].off + c->f[n - 1].len) {
			if (better(e, &c->f[i], &c->f[n - 1]))
				c->f[n - 1] = c->f[i];
			continue;
		}
		c->f[n++] = c->f[i];
	}
	c->nf = n;

	for (size_t i = 0; i < c->nf; i++) {
		const struct found *f = &c->f[i];
		while (pos < f->off) {
			const char *nl = memchr(d + pos, '\n', f->off - pos);
			if (nl == NULL)
				break;
			line++;
			pos = (size_t)(nl - d) + 1;
			ls = pos;
		}
		pos = f->off;
		/* markers are looked for once per line that has findings */
		if (judged != ls) {
			judged = ls;
			allowed = line_allowed(d, ls, line_end(d, c->len, ls));
			if (!allowed && ls > c->start) {
				size_t pls = line_start(d, c->start, ls - 1);
				allowed = has_marker(d, pls, ls - 1, nextline_marker);
			}
		}
		if (allowed)
			continue;
		struct scan_hit h = {
		        .rule = &e->rules[f->rule],
		        .secret_off = f->off,
		        .secret_len = f->len,
		        .line = line,
		        .column = f->off - ls + 1,
		};
		r = visit(arg, &h);
		if (r < 0)
			return r;
	}
	return 0;
}

int
scan_buffer(struct scan_ctx *c, const char *data, size_t len, scan_hit_fn visit, void *arg)
{
	const struct scan_engine *e = c->e;
	const unsigned char *p = (const unsigned char *)data;
	const uint32_t *delta = e->delta, thresh = e->out_thresh, ncls = e->ncls;
	const uint8_t *cls = e->cls;
	uint32_t s = 0;
	int r = 0;

	c->data = data;
	c->len = len;
	c->start = len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	c->nf = 0;
	for (size_t i = 0; i < e->n; i++)
		c->pend[i].on = false;

	for (size_t i = c->start; i < len; i++) {
		s = delta[s + cls[p[i]]];
		if (__builtin_expect(s < thresh, 1))
			continue;
		uint32_t os = s / ncls - e->first_out;
		for (uint32_t k = e->out_start[os]; k < e->out_start[os + 1]; k++) {
			const struct keyword *kw = &e->kw[e->out_kw[k]];
			size_t pos = i + 1 - kw->len;
			for (size_t j = 0; j < kw->nrules; j++) {
				r = hit(c, kw->rules[j], pos, kw->len);
				if (r < 0)
					goto out;
			}
		}
	}
	for (size_t i = 0; i < e->n; i++) {
		r = flush(c, (uint32_t)i);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < e->nalways; i++) {
		r = run_window(c, e->always[i], c->start, len);
		if (r < 0)
			goto out;
	}
	r = deliver(c, visit, arg);
out:
	c->data = NULL;
	c->nf = 0;
	return r;
}
