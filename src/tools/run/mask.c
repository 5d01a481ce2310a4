/* mask.c - the streaming masker of coffer run (mask.h; docs/internals/mask.md).
 *
 * Every secret becomes a set of patterns (its raw bytes, base64, URL and JSON
 * forms). The patterns go into one Aho-Corasick automaton that reports, at
 * each input position, the longest pattern ending there. The automaton only
 * runs where a match is possible: a filter samples the input every `stride`
 * bytes, and a sample whose four bytes occur nowhere in any pattern (or whose
 * surrounding 8-byte grams do not) proves that no match covers it. `stride` is
 * chosen so that every pattern, being at least `stride + 3` bytes long, covers
 * a sample; with 20 ordinary secrets that is one bitmap probe every 16 bytes.
 *
 * Stream positions are absolute (uint64_t). Three of them drive the output:
 *   P  the bytes consumed so far;
 *   F  P minus the automaton's depth: no match can start before F, so every
 *      byte before F is final (masked or not);
 *   E  the bytes written out (as themselves or as part of a "*****").
 * Matches found but not yet final wait in `ivs` (disjoint, sorted); a match
 * overlapping or touching the last "*****" written extends it. Bytes in
 * [E, P) that belong to earlier writes live in `hold` (at most the longest
 * pattern); everything else is read from the caller's buffer. */
#include "tools/run/mask.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/secmem.h"

#define MASK_BITMAP_BITS 17    /* 2^17-bit first-level filter (16 KiB: stays in L1) */
#define MASK_DENSE_MAX   64    /* states with a full 256-entry row */
#define MASK_VARIANT_MAX 4096  /* longer secrets are masked as raw bytes only */
#define MASK_OUT_CAP     16384 /* output batched up to this size */
#define MASK_DIRECT_MIN  4096  /* runs this long go to the sink uncopied */
#define MASK_HASH_MUL    0x9E3779B1u
#define MASK_HASH_MUL8   0x9E3779B97F4A7C15ull
#define MASK_SHORT       0x80000000u /* in mask_gram.info: see there */

struct mask_iv {
	uint64_t s, e;
};

/* A 4-byte gram of the patterns. info: the largest offset at which it occurs
 * in a pattern, plus 1 (0: an empty slot), ORed with MASK_SHORT when at some
 * occurrence no 8-byte gram of the pattern starts there or 4 bytes before (a
 * pattern shorter than 12 bytes). */
struct mask_gram {
	uint32_t gram;
	uint32_t info;
};

/* An 8-byte gram of the patterns. */
struct mask_gram8 {
	uint64_t gram;
	uint64_t used;
};

struct mask {
	mask_sink_fn sink;
	void *sink_arg;
	int err;

	/* automaton: states in breadth-first order, 0 is the root */
	uint32_t nstates;
	uint32_t ndense;
	uint32_t *dense; /* ndense * 256 transitions */
	uint32_t *eoff;  /* nstates + 1: edges of state i are [eoff[i], eoff[i+1]) */
	uint8_t *ebyte;  /* edge labels */
	uint32_t *etgt;  /* edge targets */
	uint32_t nedges;
	uint32_t *fail;   /* failure links */
	uint32_t *depth;  /* length of the state's string */
	uint32_t *outlen; /* longest pattern that is a suffix of it; 0: none */
	size_t maxlen;    /* longest pattern */
	size_t stride;    /* filter sampling distance */

	/* filter: a bitmap of hashed 4-byte grams, an exact table of them, and
	 * one of the 8-byte grams to confirm a hit before the automaton runs */
	uint64_t *bitmap;
	struct mask_gram *grams;
	uint32_t gmask; /* grams table size - 1 */
	unsigned gbits; /* log2 of the grams table size */
	struct mask_gram8 *grams8;
	uint32_t g8mask;
	unsigned g8bits;

	/* stream state */
	uint32_t st;
	uint64_t pos;        /* P */
	uint64_t emitted;    /* E */
	uint64_t hold_until; /* the filter may take over once F reaches this */
	bool in_mask;        /* the output ends with a "*****" that ends at E */
	struct mask_iv *ivs;
	size_t nivs, ivcap;
	uint8_t *hold; /* bytes [emitted, emitted + nhold) of earlier writes */
	size_t nhold, holdcap;
	uint8_t *out;
	size_t nout;
};

/* ------------------------------------------------------------------ patterns */

/* A growing list of patterns, each a malloc'd byte string. */
struct patlist {
	uint8_t **p;
	size_t *len;
	size_t n, cap;
};

static int
patlist_add(struct patlist *pl, const uint8_t *p, size_t len)
{
	if (len < MASK_MIN_LEN)
		return 0;
	for (size_t i = 0; i < pl->n; i++)
		if (pl->len[i] == len && memcmp(pl->p[i], p, len) == 0)
			return 0;
	if (pl->n == pl->cap) {
		size_t nc = pl->cap ? pl->cap * 2 : 32;
		uint8_t **np = realloc(pl->p, nc * sizeof(*np));
		if (np == NULL)
			return CF_ENOMEM;
		pl->p = np;
		size_t *nl = realloc(pl->len, nc * sizeof(*nl));
		if (nl == NULL)
			return CF_ENOMEM;
		pl->len = nl;
		pl->cap = nc;
	}
	uint8_t *c = malloc(len);
	if (c == NULL)
		return CF_ENOMEM;
	memcpy(c, p, len);
	pl->p[pl->n] = c;
	pl->len[pl->n] = len;
	pl->n++;
	return 0;
}

static void
patlist_free(struct patlist *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		secmem_free(pl->p[i], pl->len[i]);
	free(pl->p);
	free(pl->len);
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes (zero bits past the end) into out: ceil(8n/6) characters,
 * then '=' up to a multiple of 4 when pad. Returns the length written. */
static size_t
b64_encode(const char *alpha, const uint8_t *in, size_t n, bool pad, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		size_t chars = n - i >= 3 ? 4 : n - i + 1;
		for (size_t k = 0; k < 4; k++) {
			if (k < chars)
				out[o++] = (uint8_t)alpha[(v >> (18 - 6 * k)) & 63];
			else if (pad)
				out[o++] = '=';
		}
	}
	return o;
}

/* The base64 forms of s: alone (with and without padding) and, for each of the
 * three offsets s can start at inside a longer encoded text, the characters
 * that depend on s's bits only. */
static int
add_base64(struct patlist *pl, const uint8_t *s, size_t len, uint8_t *scratch, uint8_t *enc)
{
	const char *alphas[2] = {b64_std, b64_url};
	int r = 0;

	for (int a = 0; a < 2; a++) {
		size_t n = b64_encode(alphas[a], s, len, true, enc);
		r = patlist_add(pl, enc, n);
		if (r < 0)
			goto out;
		n = b64_encode(alphas[a], s, len, false, enc);
		r = patlist_add(pl, enc, n);
		if (r < 0)
			goto out;
		for (size_t k = 0; k < 3; k++) {
			memset(scratch, 0, k);
			memcpy(scratch + k, s, len);
			n = b64_encode(alphas[a], scratch, k + len, false, enc);
			/* character i holds bits [6i, 6i + 6); s holds [8k, 8k + 8 len) */
			size_t from = (8 * k + 5) / 6, to = (8 * k + 8 * len) / 6;
			if (to > n)
				to = n;
			if (to > from)
				r = patlist_add(pl, enc + from, to - from);
			if (r < 0)
				goto out;
		}
	}
out:
	secmem_wipe(scratch, len + 2);
	return r;
}

/* Percent-encoding: bytes in `keep` and alphanumerics stay, a space becomes
 * '+' when plus, the rest %XX in the given hex case. */
static size_t
url_encode(const uint8_t *s, size_t len, const char *keep, bool plus, bool upper, uint8_t *out)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c != 0 && strchr(keep, c) != NULL)) {
			out[o++] = c;
		} else if (c == ' ' && plus) {
			out[o++] = '+';
		} else {
			out[o++] = '%';
			out[o++] = (uint8_t)hex[c >> 4];
			out[o++] = (uint8_t)hex[c & 15];
		}
	}
	return o;
}

/* Adds the encoded form enc (n bytes) of s, unless the encoder failed (n is 0)
 * or it is s itself, which is in the list already. */
static int
add_encoded(struct patlist *pl, const uint8_t *s, size_t len, const uint8_t *enc, size_t n)
{
	if (n == 0 || (n == len && memcmp(enc, s, len) == 0))
		return 0;
	return patlist_add(pl, enc, n);
}

static int
add_url(struct patlist *pl, const uint8_t *s, size_t len, uint8_t *enc)
{
	/* encodeURIComponent; RFC 3986 unreserved (Python quote, Go
	 * QueryEscape with '+'); HTML form encoding (URLSearchParams) */
	static const struct {
		const char *keep;
		bool plus;
	} forms[] = {
	        {"-_.!~*'()", false},
	        {"-_.~", false},
	        {"-_.~", true},
	        {"*-._", true},
	};
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		for (int upper = 1; upper >= 0; upper--) {
			size_t n = url_encode(s, len, forms[f].keep, forms[f].plus, upper, enc);
			int r = add_encoded(pl, s, len, enc, n);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length and the
 * code point in *cp, or 0 when it is not valid UTF-8. */
static size_t
utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static size_t
json_u(uint8_t *out, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";
	out[0] = '\\';
	out[1] = 'u';
	for (int k = 0; k < 4; k++)
		out[2 + k] = (uint8_t)hex[(u >> (12 - 4 * k)) & 15];
	return 6;
}

enum { JSON_ASCII = 1, JSON_HTML = 2, JSON_SLASH = 4 };

/* JSON string escaping as JSON.stringify does it, plus: JSON_ASCII escapes
 * non-ASCII as \uXXXX (Python's json.dumps), JSON_HTML escapes < > & (Go's
 * encoding/json), JSON_SLASH escapes '/' (PHP). Returns 0 when s is not valid
 * UTF-8 and JSON_ASCII was asked for. */
static size_t
json_encode(const uint8_t *s, size_t len, int flags, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		uint8_t c = s[i];
		if (c >= 0x80 && (flags & JSON_ASCII)) {
			uint32_t cp;
			size_t l = utf8_next(s + i, len - i, &cp);
			if (l == 0)
				return 0;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				o += json_u(out + o, 0xD800 | (cp >> 10));
				o += json_u(out + o, 0xDC00 | (cp & 0x3FF));
			} else {
				o += json_u(out + o, cp);
			}
			i += l;
			continue;
		}
		i++;
		const char *esc = NULL;
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '/':
			if (flags & JSON_SLASH)
				esc = "\\/";
			break;
		default:
			break;
		}
		if (esc != NULL) {
			out[o++] = (uint8_t)esc[0];
			out[o++] = (uint8_t)esc[1];
		} else if (c < 0x20 ||
		           ((flags & JSON_HTML) && (c == '<' || c == '>' || c == '&'))) {
			o += json_u(out + o, c);
		} else {
			out[o++] = c;
		}
	}
	return o;
}

static int
add_json(struct patlist *pl, const uint8_t *s, size_t len, uint8_t *enc)
{
	static const int flags[] = {0, JSON_ASCII, JSON_HTML, JSON_ASCII | JSON_SLASH};
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		int r = add_encoded(pl, s, len, enc, json_encode(s, len, flags[f], enc));
		if (r < 0)
			return r;
	}
	return 0;
}

static int
patterns_for(struct patlist *pl, const uint8_t *s, size_t len)
{
	uint8_t *enc = NULL, *scratch = NULL;
	size_t enccap = 6 * len + 16; /* the longest form: a \u00XX escape per byte */
	int r;

	r = patlist_add(pl, s, len);
	if (r < 0 || len > MASK_VARIANT_MAX)
		return r;
	enc = malloc(enccap);
	scratch = malloc(len + 2);
	if (enc == NULL || scratch == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	r = add_base64(pl, s, len, scratch, enc);
	if (r < 0)
		goto out;
	r = add_url(pl, s, len, enc);
	if (r < 0)
		goto out;
	r = add_json(pl, s, len, enc);
out:
	secmem_free(enc, enc ? enccap : 0);
	secmem_free(scratch, scratch ? len + 2 : 0);
	return r;
}

/* ------------------------------------------------------------------ automaton */

/* The trie while it is built: nodes in insertion order, children as sibling lists. */
struct trie {
	uint32_t *child, *sibling, *term;
	uint8_t *byte;
	uint32_t n, cap;
};

static int
trie_node(struct trie *t, uint8_t b, uint32_t *ret)
{
	if (t->n == t->cap) {
		uint32_t nc = t->cap ? t->cap * 2 : 1024;
		uint32_t *a;
		if ((a = realloc(t->child, nc * sizeof(*a))) == NULL)
			return CF_ENOMEM;
		t->child = a;
		if ((a = realloc(t->sibling, nc * sizeof(*a))) == NULL)
			return CF_ENOMEM;
		t->sibling = a;
		if ((a = realloc(t->term, nc * sizeof(*a))) == NULL)
			return CF_ENOMEM;
		t->term = a;
		uint8_t *bb = realloc(t->byte, nc);
		if (bb == NULL)
			return CF_ENOMEM;
		t->byte = bb;
		t->cap = nc;
	}
	t->child[t->n] = 0;
	t->sibling[t->n] = 0;
	t->term[t->n] = 0;
	t->byte[t->n] = b;
	*ret = t->n++;
	return 0;
}

static uint32_t
trie_child(const struct trie *t, uint32_t u, uint8_t b)
{
	for (uint32_t c = t->child[u]; c != 0; c = t->sibling[c])
		if (t->byte[c] == b)
			return c;
	return 0;
}

static void
trie_free(struct trie *t)
{
	secmem_free(t->byte, t->cap);
	free(t->child);
	free(t->sibling);
	free(t->term);
}

static inline uint32_t
gram_hash(uint32_t g, unsigned bits)
{
	return (g * MASK_HASH_MUL) >> (32 - bits);
}

static inline uint32_t
gram8_hash(uint64_t g, unsigned bits)
{
	return (uint32_t)((g * MASK_HASH_MUL8) >> (64 - bits));
}

static void
gram_add(struct mask *m, uint32_t g, uint32_t off, bool short_)
{
	uint32_t h = gram_hash(g, MASK_BITMAP_BITS);
	m->bitmap[h >> 6] |= (uint64_t)1 << (h & 63);
	for (uint32_t i = gram_hash(g, m->gbits);; i = (i + 1) & m->gmask) {
		struct mask_gram *e = &m->grams[i];
		if (e->info == 0 || e->gram == g) {
			uint32_t mo1 =
			        (e->info & ~MASK_SHORT) > off + 1 ? e->info & ~MASK_SHORT : off + 1;
			e->gram = g;
			e->info = mo1 | (e->info & MASK_SHORT) | (short_ ? MASK_SHORT : 0);
			return;
		}
	}
}

/* The gram's info (struct mask_gram), 0 when no pattern has it. */
static inline uint32_t
gram_info(const struct mask *m, uint32_t g)
{
	for (uint32_t i = gram_hash(g, m->gbits);; i = (i + 1) & m->gmask) {
		const struct mask_gram *e = &m->grams[i];
		if (e->info == 0 || e->gram == g)
			return e->info;
	}
}

static void
gram8_add(struct mask *m, uint64_t g)
{
	for (uint32_t i = gram8_hash(g, m->g8bits);; i = (i + 1) & m->g8mask) {
		struct mask_gram8 *e = &m->grams8[i];
		if (!e->used || e->gram == g) {
			e->gram = g;
			e->used = 1;
			return;
		}
	}
}

static bool
gram8_has(const struct mask *m, uint64_t g)
{
	for (uint32_t i = gram8_hash(g, m->g8bits);; i = (i + 1) & m->g8mask) {
		const struct mask_gram8 *e = &m->grams8[i];
		if (!e->used || e->gram == g)
			return e->used != 0;
	}
}

/* Inserts every pattern into the trie; sets m->maxlen and m->stride. */
static int
trie_insert_all(struct trie *t, struct mask *m, const struct patlist *pl)
{
	size_t minlen = SIZE_MAX;
	uint32_t root;
	int r;

	r = trie_node(t, 0, &root);
	if (r < 0)
		return r;
	for (size_t i = 0; i < pl->n; i++) {
		uint32_t u = root;
		for (size_t k = 0; k < pl->len[i]; k++) {
			uint32_t c = trie_child(t, u, pl->p[i][k]);
			if (c == 0) {
				r = trie_node(t, pl->p[i][k], &c);
				if (r < 0)
					return r;
				t->sibling[c] = t->child[u];
				t->child[u] = c;
			}
			u = c;
		}
		t->term[u] = (uint32_t)pl->len[i];
		if (pl->len[i] > m->maxlen)
			m->maxlen = pl->len[i];
		if (pl->len[i] < minlen)
			minlen = pl->len[i];
	}
	m->stride = minlen - 4 + 1;
	return 0;
}

/* The automaton's states from the trie, numbered breadth first: failure links,
 * depths, longest outputs and edges. */
static int
mask_link(struct mask *m, const struct trie *t)
{
	uint32_t *order = NULL, *idx = NULL, *tfail = NULL, head = 0, tail = 0, e = 0;
	const uint32_t root = 0;
	int r = 0;

	m->nstates = t->n;
	m->nedges = t->n - 1;
	order = malloc(t->n * sizeof(*order));
	idx = malloc(t->n * sizeof(*idx)); /* idx[trie node] = state number */
	tfail = malloc(t->n * sizeof(*tfail));
	m->eoff = malloc((t->n + 1) * sizeof(*m->eoff));
	m->ebyte = malloc(t->n);
	m->etgt = malloc(t->n * sizeof(*m->etgt));
	m->fail = malloc(t->n * sizeof(*m->fail));
	m->depth = malloc(t->n * sizeof(*m->depth));
	m->outlen = malloc(t->n * sizeof(*m->outlen));
	if (order == NULL || idx == NULL || tfail == NULL || m->eoff == NULL || m->ebyte == NULL ||
	    m->etgt == NULL || m->fail == NULL || m->depth == NULL || m->outlen == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	order[tail++] = root;
	idx[root] = 0;
	tfail[root] = root;
	m->depth[0] = 0;
	m->outlen[0] = 0;
	m->fail[0] = 0;
	while (head < tail) {
		uint32_t u = order[head++];
		for (uint32_t c = t->child[u]; c != 0; c = t->sibling[c]) {
			uint32_t f = root;
			if (u != root) {
				for (f = tfail[u];; f = tfail[f]) {
					uint32_t g = trie_child(t, f, t->byte[c]);
					if (g != 0) {
						f = g;
						break;
					}
					if (f == root)
						break;
				}
			}
			tfail[c] = f;
			idx[c] = tail;
			order[tail++] = c;
			uint32_t s = idx[c];
			m->fail[s] = idx[f];
			m->depth[s] = m->depth[idx[u]] + 1;
			/* the failure state comes earlier in this order: its outlen is set */
			m->outlen[s] = t->term[c] ? t->term[c] : m->outlen[idx[f]];
		}
	}
	for (uint32_t s = 0; s < t->n; s++) {
		m->eoff[s] = e;
		for (uint32_t c = t->child[order[s]]; c != 0; c = t->sibling[c]) {
			m->ebyte[e] = t->byte[c];
			m->etgt[e] = idx[c];
			e++;
		}
	}
	m->eoff[t->n] = e;
out:
	free(order);
	free(idx);
	free(tfail);
	return r;
}

/* Full transition rows for the states nearest the root. */
static int
mask_dense(struct mask *m)
{
	m->ndense = m->nstates < MASK_DENSE_MAX ? m->nstates : MASK_DENSE_MAX;
	m->dense = malloc((size_t)m->ndense * 256 * sizeof(*m->dense));
	if (m->dense == NULL)
		return CF_ENOMEM;
	for (uint32_t s = 0; s < m->ndense; s++) {
		uint32_t *row = m->dense + (size_t)s * 256;
		if (s == 0)
			memset(row, 0, 256 * sizeof(*row));
		else
			memcpy(row, m->dense + (size_t)m->fail[s] * 256, 256 * sizeof(*row));
		for (uint32_t k = m->eoff[s]; k < m->eoff[s + 1]; k++)
			row[m->ebyte[k]] = m->etgt[k];
	}
	return 0;
}

/* The filter's bitmap and gram tables: every gram of every pattern. */
static int
mask_filter_build(struct mask *m, const struct patlist *pl)
{
	size_t ngrams = 0;
	uint32_t gsize = 1024;

	for (size_t i = 0; i < pl->n; i++)
		ngrams += pl->len[i] - 4 + 1;
	m->gbits = 10;
	while (gsize < 2 * ngrams) {
		gsize *= 2;
		m->gbits++;
	}
	m->gmask = gsize - 1;
	m->g8mask = gsize - 1;
	m->g8bits = m->gbits;
	m->grams = calloc(gsize, sizeof(*m->grams));
	m->grams8 = calloc(gsize, sizeof(*m->grams8));
	m->bitmap = calloc((size_t)1 << (MASK_BITMAP_BITS - 6), sizeof(*m->bitmap));
	if (m->grams == NULL || m->grams8 == NULL || m->bitmap == NULL)
		return CF_ENOMEM;
	for (size_t i = 0; i < pl->n; i++) {
		const uint8_t *p = pl->p[i];
		size_t len = pl->len[i];
		for (size_t k = 0; k + 4 <= len; k++) {
			uint32_t g;
			memcpy(&g, p + k, sizeof(g));
			gram_add(m, g, (uint32_t)k, k + 8 > len && k < 4);
		}
		for (size_t k = 0; k + 8 <= len; k++) {
			uint64_t g;
			memcpy(&g, p + k, sizeof(g));
			gram8_add(m, g);
		}
	}
	return 0;
}

/* Builds the automaton and the filter from the patterns. */
static int
mask_build(struct mask *m, const struct patlist *pl)
{
	struct trie t = {0};
	int r;

	r = trie_insert_all(&t, m, pl);
	if (r < 0)
		goto out;
	r = mask_link(m, &t);
	if (r < 0)
		goto out;
	r = mask_dense(m);
	if (r < 0)
		goto out;
	r = mask_filter_build(m, pl);
out:
	trie_free(&t);
	return r;
}

static inline uint32_t
mask_step(const struct mask *m, uint32_t st, uint8_t c)
{
	for (;;) {
		if (st < m->ndense)
			return m->dense[(size_t)st * 256 + c];
		for (uint32_t k = m->eoff[st]; k < m->eoff[st + 1]; k++)
			if (m->ebyte[k] == c)
				return m->etgt[k];
		st = m->fail[st];
	}
}

/* ------------------------------------------------------------------ output */

static int
out_flush(struct mask *m)
{
	int r = 0;
	if (m->nout > 0) {
		r = m->sink(m->sink_arg, m->out, m->nout);
		m->nout = 0;
		if (r < 0)
			m->err = r;
	}
	return r;
}

static int
out_put(struct mask *m, const uint8_t *p, size_t n)
{
	int r;
	if (n >= MASK_DIRECT_MIN) {
		r = out_flush(m);
		if (r < 0)
			return r;
		r = m->sink(m->sink_arg, p, n);
		if (r < 0)
			m->err = r;
		return r;
	}
	if (m->nout + n > MASK_OUT_CAP) {
		r = out_flush(m);
		if (r < 0)
			return r;
	}
	memcpy(m->out + m->nout, p, n);
	m->nout += n;
	return 0;
}

/* The input of the current write: bytes [base, base + n) of the stream. */
struct chunk {
	const uint8_t *p;
	size_t n;
	uint64_t base;
};

/* Writes stream bytes [E, to) as they are. Bytes before ck->base are held ones. */
static int
emit_raw(struct mask *m, const struct chunk *ck, uint64_t to)
{
	int r = 0;
	if (to <= m->emitted)
		return 0;
	if (m->emitted < ck->base) {
		uint64_t hold_base = ck->base - m->nhold;
		uint64_t end = to < ck->base ? to : ck->base;
		r = out_put(m, m->hold + (m->emitted - hold_base), (size_t)(end - m->emitted));
		if (r < 0)
			return r;
		m->emitted = end;
	}
	if (to > m->emitted) {
		r = out_put(m, ck->p + (m->emitted - ck->base), (size_t)(to - m->emitted));
		if (r < 0)
			return r;
		m->emitted = to;
	}
	m->in_mask = false;
	return 0;
}

/* A match [s, e) ended at the current position. */
static void
on_match(struct mask *m, uint64_t s, uint64_t e)
{
	if (m->in_mask && s <= m->emitted) {
		/* extends the "*****" already written; it covers every pending one */
		if (e > m->emitted)
			m->emitted = e;
		m->nivs = 0;
		return;
	}
	while (m->nivs > 0 && m->ivs[m->nivs - 1].e >= s) {
		if (m->ivs[m->nivs - 1].s < s)
			s = m->ivs[m->nivs - 1].s;
		m->nivs--;
	}
	assert(m->nivs < m->ivcap);
	m->ivs[m->nivs].s = s;
	m->ivs[m->nivs].e = e;
	m->nivs++;
}

/* Writes out everything before f, the first position a future match can start at. */
static int
emit(struct mask *m, const struct chunk *ck, uint64_t f)
{
	int r;
	size_t k = 0;
	while (k < m->nivs && m->ivs[k].s <= f) {
		r = emit_raw(m, ck, m->ivs[k].s);
		if (r < 0)
			return r;
		r = out_put(m, (const uint8_t *)MASK_REPLACEMENT, sizeof(MASK_REPLACEMENT) - 1);
		if (r < 0)
			return r;
		m->emitted = m->ivs[k].e;
		m->in_mask = true;
		k++;
	}
	if (k > 0) {
		memmove(m->ivs, m->ivs + k, (m->nivs - k) * sizeof(*m->ivs));
		m->nivs -= k;
	}
	if (f > m->emitted)
		return emit_raw(m, ck, f);
	return 0;
}

/* ------------------------------------------------------------------ scanning */

/* The first sample from data index i on whose gram may be inside a match, or
 * n when none up to the last 8 bytes is; *ret_maxoff1: the gram's largest
 * offset in a pattern, plus 1. A sample passes the bitmap, then the exact
 * table, then one of the 8-byte grams starting there and 4 bytes before must
 * be a pattern's too (in a match, one of them lies inside it, unless the
 * pattern is shorter than 12 bytes). About 12 instructions per sample; with
 * 20 secrets of 19 bytes or more, a sample every 16 bytes. */
static size_t
filter_scan(const struct mask *m, const uint8_t *p, size_t i, size_t n, uint32_t *ret_maxoff1)
{
	const uint64_t *bm = m->bitmap;
	const size_t s = m->stride;
	if (n < 8)
		return n;
	for (const size_t last = n - 8; i <= last; i += s) {
		uint32_t g;
		memcpy(&g, p + i, sizeof(g));
		uint32_t h = gram_hash(g, MASK_BITMAP_BITS);
		if (!((bm[h >> 6] >> (h & 63)) & 1))
			continue;
		uint32_t info = gram_info(m, g);
		if (info == 0)
			continue;
		if (!(info & MASK_SHORT) && i >= 4) {
			uint64_t fwd, back;
			memcpy(&fwd, p + i, sizeof(fwd));
			memcpy(&back, p + i - 4, sizeof(back));
			if (!gram8_has(m, fwd) && !gram8_has(m, back))
				continue;
		}
		*ret_maxoff1 = info & ~MASK_SHORT;
		return i;
	}
	return n;
}

int
mask_write(struct mask *m, const void *data, size_t n)
{
	struct chunk ck = {data, n, m->pos};
	uint32_t st = m->st;
	size_t i = 0;
	int r = 0;

	if (m->err < 0)
		return m->err;
	if (m->nstates <= 1) { /* nothing to mask */
		r = n > 0 ? m->sink(m->sink_arg, data, n) : 0;
		goto out;
	}

	for (;;) {
		/* the automaton: until the filter may take over or the data ends */
		while (i < n) {
			st = mask_step(m, st, ck.p[i++]);
			uint64_t pos = ck.base + i;
			uint64_t f = pos - m->depth[st];
			if (m->outlen[st] != 0) {
				on_match(m, pos - m->outlen[st], pos);
				r = emit(m, &ck, f);
				if (r < 0)
					goto out;
			}
			if (f >= m->hold_until && f >= ck.base) {
				r = emit(m, &ck, f);
				if (r < 0)
					goto out;
				if (m->nivs == 0 && m->emitted == f) {
					i = (size_t)(f - ck.base);
					st = 0;
					break;
				}
			}
		}
		if (st != 0 || i >= n)
			break;
		/* the filter: from i, in the root state, nothing pending */
		uint32_t maxoff1 = 0;
		size_t j = filter_scan(m, ck.p, i, n, &maxoff1);
		size_t x;
		if (j < n) {
			/* the gram sits at most maxoff1 - 1 bytes into a match */
			x = j >= i + (maxoff1 - 1) ? j - (maxoff1 - 1) : i;
			m->hold_until = ck.base + j + 1;
		} else {
			/* a match may begin in the tail and end in the next write, or
			 * cover no sample the filter could read (the last 8 bytes) */
			x = n >= m->maxlen + 8 ? n - m->maxlen - 8 : 0;
			if (x < i)
				x = i;
			m->hold_until = ck.base + n;
		}
		r = emit(m, &ck, ck.base + x);
		if (r < 0)
			goto out;
		i = x;
		if (i >= n)
			break;
	}
	m->pos = ck.base + n;
	m->st = st;
	r = emit(m, &ck, m->pos - m->depth[st]);
	if (r < 0)
		goto out;

	/* keep [E, P) for the next write */
	uint64_t hold_base = ck.base - m->nhold;
	size_t keep = (size_t)(m->pos - m->emitted);
	assert(keep <= m->holdcap);
	if (m->emitted < ck.base) {
		size_t from = (size_t)(m->emitted - hold_base);
		size_t old = (size_t)(ck.base - m->emitted);
		memmove(m->hold, m->hold + from, old);
		memcpy(m->hold + old, ck.p, n);
	} else {
		memcpy(m->hold, ck.p + (m->emitted - ck.base), keep);
	}
	if (m->nhold > keep)
		secmem_wipe(m->hold + keep, m->nhold - keep);
	m->nhold = keep;
	r = out_flush(m);
out:
	if (r < 0)
		m->err = r;
	return r;
}

int
mask_flush(struct mask *m)
{
	struct chunk ck = {NULL, 0, m->pos};
	int r;

	if (m->err < 0)
		return m->err;
	if (m->nstates <= 1)
		return 0;
	r = emit(m, &ck, m->pos);
	if (r < 0)
		goto out;
	secmem_wipe(m->hold, m->nhold);
	m->nhold = 0;
	m->st = 0;
	m->hold_until = m->pos;
	m->in_mask = false;
	r = out_flush(m);
out:
	if (r < 0)
		m->err = r;
	return r;
}

/* ------------------------------------------------------------------ life cycle */

int
mask_new(const char *const *secrets, const size_t *lens, size_t n, mask_sink_fn sink,
         void *sink_arg, struct mask **ret)
{
	struct patlist pl = {0};
	struct mask *m = NULL;
	int r = 0;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	m->sink = sink;
	m->sink_arg = sink_arg;
	for (size_t i = 0; i < n; i++) {
		if (lens[i] < MASK_MIN_LEN)
			continue;
		r = patterns_for(&pl, (const uint8_t *)secrets[i], lens[i]);
		if (r < 0)
			goto out;
	}
	if (pl.n == 0) {
		m->nstates = 0;
		goto out;
	}
	r = mask_build(m, &pl);
	if (r < 0)
		goto out;
	m->holdcap = m->maxlen;
	m->hold = malloc(m->holdcap);
	/* pending matches are disjoint, at least MASK_MIN_LEN long, and lie in the
	 * last maxlen bytes (plus the one just found) */
	m->ivcap = m->maxlen / MASK_MIN_LEN + 2;
	m->ivs = malloc(m->ivcap * sizeof(*m->ivs));
	m->out = malloc(MASK_OUT_CAP);
	if (m->hold == NULL || m->ivs == NULL || m->out == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
out:
	patlist_free(&pl);
	if (r < 0) {
		mask_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void
mask_free(struct mask *m)
{
	if (m == NULL)
		return;
	size_t ns = m->nstates;
	secmem_free(m->dense, m->dense ? (size_t)m->ndense * 256 * sizeof(*m->dense) : 0);
	secmem_free(m->eoff, m->eoff ? (ns + 1) * sizeof(*m->eoff) : 0);
	secmem_free(m->ebyte, m->ebyte ? ns : 0);
	secmem_free(m->etgt, m->etgt ? ns * sizeof(*m->etgt) : 0);
	secmem_free(m->fail, m->fail ? ns * sizeof(*m->fail) : 0);
	secmem_free(m->depth, m->depth ? ns * sizeof(*m->depth) : 0);
	secmem_free(m->outlen, m->outlen ? ns * sizeof(*m->outlen) : 0);
	secmem_free(m->bitmap,
	            m->bitmap ? ((size_t)1 << (MASK_BITMAP_BITS - 6)) * sizeof(*m->bitmap) : 0);
	secmem_free(m->grams, m->grams ? ((size_t)m->gmask + 1) * sizeof(*m->grams) : 0);
	secmem_free(m->grams8, m->grams8 ? ((size_t)m->g8mask + 1) * sizeof(*m->grams8) : 0);
	secmem_free(m->ivs, m->ivs ? m->ivcap * sizeof(*m->ivs) : 0);
	secmem_free(m->hold, m->hold ? m->holdcap : 0);
	secmem_free(m->out, m->out ? MASK_OUT_CAP : 0);
	secmem_free(m, sizeof(*m));
}
