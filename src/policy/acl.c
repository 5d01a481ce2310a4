/* acl.c - merged policies and the per-request capability lookup
 * (Vault's policy path matching).
 *
 * acl_new does all the work up front so acl_capabilities (run on every request)
 * reads the path once and does a few hash probes:
 *
 * - Rules of all policies are merged by pattern (capabilities unioned, deny
 *   absorbs), and all pattern strings are copied into one block.
 * - Exact patterns go into an open-addressing hash table.
 * - Globs ('*' at the end, or a '+' segment) are grouped by their literal
 *   prefix, the bytes before the first wildcard. Vault's first priority key is
 *   the position of that wildcard, so among the globs that match a path, those
 *   with the longest literal prefix win; the other keys order the globs inside
 *   a group. The literal prefixes go into a second hash table, and while
 *   hashing the path we probe it at every length some prefix has. Groups are
 *   then tried deepest first, globs in order, and the first full match is the
 *   rule Vault would choose.
 * - If a path hits more groups than fit on the stack, the lookup falls back to
 *   a linear scan of all globs in priority order, which gives the same answer. */
#include "policy/policy_int.h"
#include "lib/err.h"
#include "lib/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

/* Literal-prefix groups remembered per lookup before falling back. */
#define ACL_MAX_HITS 64

struct acl_rule {
	const char *pat; /* into acl->strings, NUL-terminated */
	size_t len;
	size_t lit;     /* globs: bytes before the first wildcard */
	uint32_t hash;  /* exact: FNV-1a of pat; globs: of pat[0..lit) */
	uint32_t nplus; /* number of '+' segments */
	bool prefix;    /* ends in '*' */
	bool plus;      /* has a '+' segment */
	unsigned caps;
	/* Parameter constraints (merged over the policies; owned, NULL = none). */
	json_t *allowed, *denied, *required;
};

/* Globs sharing one literal prefix: globs[first .. first + count). */
struct acl_group {
	const char *lit;
	size_t len;
	uint32_t hash;
	uint32_t first;
	uint32_t count;
};

/* Open addressing; a slot holds an index + 1, 0 is empty. */
struct acl_table {
	uint32_t *slots;
	size_t mask;
};

struct acl {
	bool root;
	struct acl_rule *exact;
	size_t nexact;
	struct acl_table exact_tab;
	struct acl_rule *globs; /* grouped by literal prefix, by priority inside */
	size_t nglobs;
	struct acl_group *groups;
	size_t ngroups;
	struct acl_table group_tab;
	uint8_t *lit_len; /* lit_len[k] != 0: some group's prefix has k bytes */
	size_t max_lit;
	const struct acl_rule **by_priority; /* all globs, highest priority first */
	char *strings;
	bool has_params; /* some rule has parameter constraints */
};

/* A merged rule while building: pattern borrowed from the policies. */
struct acl_src {
	const char *pat;
	unsigned caps;
	json_t *allowed, *denied, *required; /* new references or NULL */
};

static bool
plus_segment(const char *p, size_t len, size_t i)
{
	return p[i] == '+' && (i == 0 || p[i - 1] == '/') && (i + 1 == len || p[i + 1] == '/');
}

/* Fills the glob fields of r; returns true when the pattern is a glob. */
static bool
rule_classify(struct acl_rule *r)
{
	const char *p = r->pat;
	size_t len = r->len;

	r->prefix = len > 0 && p[len - 1] == '*';
	r->lit = r->prefix ? len - 1 : len;
	r->nplus = 0;
	for (size_t i = 0; i < len; i++) {
		if (!plus_segment(p, len, i))
			continue;
		if (r->nplus == 0 && i < r->lit)
			r->lit = i;
		r->nplus++;
	}
	r->plus = r->nplus > 0;
	return r->prefix || r->plus;
}

/* Vault's order between two matching globs (Vault's policy path matching): negative when a
 * has LOWER priority than b. Checked in order: the first wildcard appears
 * earlier; it ends in '*' and the other does not; more '+' segments; shorter;
 * lexicographically smaller. */
static int
glob_priority(const struct acl_rule *a, const struct acl_rule *b)
{
	int c;

	if (a->lit != b->lit)
		return a->lit < b->lit ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix ? -1 : 1;
	if (a->nplus != b->nplus)
		return a->nplus > b->nplus ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	c = strcmp(a->pat, b->pat);
	return c < 0 ? -1 : c > 0;
}

/* Groups first (by literal prefix bytes), then priority, highest first. */
static int
glob_group_cmp(const void *x, const void *y)
{
	const struct acl_rule *a = x, *b = y;
	size_t n = a->lit < b->lit ? a->lit : b->lit;
	int c = memcmp(a->pat, b->pat, n);

	if (c != 0)
		return c;
	if (a->lit != b->lit)
		return a->lit < b->lit ? -1 : 1;
	return glob_priority(b, a);
}

static int
prio_cmp(const void *x, const void *y)
{
	const struct acl_rule *const *a = x, *const *b = y;

	return glob_priority(*b, *a); /* descending */
}

static int
src_cmp(const void *a, const void *b)
{
	const struct acl_src *x = a, *y = b;

	return strcmp(x->pat, y->pat);
}

/* Matches path (plen bytes) against a glob whose literal prefix is already
 * known to match. '+' takes one segment (possibly empty, as in Vault), a final
 * '*' takes the rest. */
static bool
glob_match_rest(const struct acl_rule *g, const char *path, size_t plen)
{
	const char *p = g->pat;
	size_t i = g->lit, j = g->lit;

	if (!g->plus)
		return true; /* a plain prefix glob */
	while (i < g->len) {
		if (g->prefix && i == g->len - 1)
			return true;
		if (plus_segment(p, g->len, i)) {
			while (j < plen && path[j] != '/')
				j++;
			i++;
			continue;
		}
		if (j >= plen || path[j] != p[i])
			return false;
		i++;
		j++;
	}
	return j == plen;
}

static bool
glob_match(const struct acl_rule *g, const char *path, size_t plen)
{
	if (plen < g->lit || memcmp(path, g->pat, g->lit) != 0)
		return false;
	return glob_match_rest(g, path, plen);
}

static void
rule_params_free(struct acl_rule *r)
{
	json_decref(r->allowed);
	json_decref(r->denied);
	json_decref(r->required);
}

/* ---- capability names ---- */

/* Capability names in sorted order (acl_caps_json relies on it). */
/* clang-format off */
static const struct {
	const char *name;
	unsigned bit;
} cap_names[] = {
	{ "create", CAP_CREATE },
	{ "delete", CAP_DELETE },
	{ "deny", CAP_DENY },
	{ "list", CAP_LIST },
	{ "patch", CAP_PATCH },
	{ "read", CAP_READ },
	{ "subscribe", CAP_SUBSCRIBE },
	{ "sudo", CAP_SUDO },
	{ "update", CAP_UPDATE },
};
/* clang-format on */

unsigned
acl_cap_from_name(const char *name)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++) {
		if (strcmp(cap_names[i].name, name) == 0)
			return cap_names[i].bit;
	}
	return 0;
}

json_t *
acl_caps_names(unsigned caps)
{
	json_t *arr = json_array();

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++) {
		if (!(caps & cap_names[i].bit))
			continue;
		if (json_array_append_new(arr, json_string(cap_names[i].name)) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *
acl_caps_json(unsigned caps)
{
	json_t *arr;

	if (caps & CAP_ROOT) {
		arr = json_array();
		if (arr != NULL && json_array_append_new(arr, json_string("root")) != 0) {
			json_decref(arr);
			arr = NULL;
		}
		return arr;
	}
	if ((caps & CAP_DENY) || caps == 0)
		caps = CAP_DENY;
	return acl_caps_names(caps);
}

void
acl_free(struct acl *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; a->exact && i < a->nexact; i++)
		rule_params_free(&a->exact[i]);
	for (size_t i = 0; a->globs && i < a->nglobs; i++)
		rule_params_free(&a->globs[i]);
	free(a->exact);
	free(a->exact_tab.slots);
	free(a->globs);
	free(a->groups);
	free(a->group_tab.slots);
	free(a->lit_len);
	free(a->by_priority);
	free(a->strings);
	free(a);
}

bool
acl_is_root(const struct acl *a)
{
	return a != NULL && a->root;
}

/* Sizes t for n entries (load <= 1/2). */
static int
table_alloc(struct acl_table *t, size_t n)
{
	size_t size = 8;

	while (size < n * 2)
		size *= 2;
	t->slots = calloc(size, sizeof(*t->slots));
	if (t->slots == NULL)
		return CF_ENOMEM;
	t->mask = size - 1;
	return 0;
}

static void
table_put(struct acl_table *t, uint32_t hash, size_t index)
{
	size_t s = hash & t->mask;

	while (t->slots[s] != 0)
		s = (s + 1) & t->mask;
	t->slots[s] = (uint32_t)(index + 1);
}

static int
acl_index_exact(struct acl *a)
{
	int r;

	if (a->nexact == 0)
		return 0;
	r = table_alloc(&a->exact_tab, a->nexact);
	if (r < 0)
		return r;
	for (size_t i = 0; i < a->nexact; i++)
		table_put(&a->exact_tab, a->exact[i].hash, i);
	return 0;
}

static int
acl_index_globs(struct acl *a)
{
	size_t i, g = 0;
	int r;

	if (a->nglobs == 0)
		return 0;
	qsort(a->globs, a->nglobs, sizeof(*a->globs), glob_group_cmp);
	a->groups = calloc(a->nglobs, sizeof(*a->groups));
	a->by_priority = calloc(a->nglobs, sizeof(*a->by_priority));
	if (a->groups == NULL || a->by_priority == NULL)
		return CF_ENOMEM;
	for (i = 0; i < a->nglobs; i++) {
		const struct acl_rule *x = &a->globs[i];
		if (i > 0 && a->groups[g - 1].len == x->lit &&
		    memcmp(a->groups[g - 1].lit, x->pat, x->lit) == 0) {
			a->groups[g - 1].count++;
			continue;
		}
		a->groups[g].lit = x->pat;
		a->groups[g].len = x->lit;
		a->groups[g].hash = x->hash;
		a->groups[g].first = (uint32_t)i;
		a->groups[g].count = 1;
		if (x->lit > a->max_lit)
			a->max_lit = x->lit;
		g++;
	}
	a->ngroups = g;
	/* After the grouping sort: the pointers must not move again. */
	for (i = 0; i < a->nglobs; i++)
		a->by_priority[i] = &a->globs[i];
	qsort(a->by_priority, a->nglobs, sizeof(*a->by_priority), prio_cmp);

	a->lit_len = calloc(a->max_lit + 1, 1);
	if (a->lit_len == NULL)
		return CF_ENOMEM;
	r = table_alloc(&a->group_tab, a->ngroups);
	if (r < 0)
		return r;
	for (i = 0; i < a->ngroups; i++) {
		a->lit_len[a->groups[i].len] = 1;
		table_put(&a->group_tab, a->groups[i].hash, i);
	}
	return 0;
}

/* Merges map b (param -> list) into *a as Vault does: keys are unioned; for a
 * key in both, an empty list (any value) wins, else the lists are joined. */
static int
params_union(json_t **a, json_t *b)
{
	const char *k;
	json_t *v;

	if (!b)
		return 0;
	if (!*a) {
		*a = json_deep_copy(b);
		return *a ? 0 : CF_ENOMEM;
	}
	json_object_foreach(b, k, v)
	{
		json_t *cur = json_object_get(*a, k);
		if (!cur) {
			if (json_object_set_new(*a, k, json_deep_copy(v)) != 0)
				return CF_ENOMEM;
		} else if (json_array_size(cur) > 0) {
			if (json_array_size(v) == 0)
				json_array_clear(cur);
			else if (json_array_extend(cur, v) != 0)
				return CF_ENOMEM;
		}
	}
	return 0;
}

static int
list_union(json_t **a, json_t *b)
{
	if (!b)
		return 0;
	if (!*a) {
		*a = json_deep_copy(b);
		return *a ? 0 : CF_ENOMEM;
	}
	return json_array_extend(*a, b) == 0 ? 0 : CF_ENOMEM;
}

static int
src_params_merge(struct acl_src *dst, const struct acl_src *s)
{
	int r = params_union(&dst->allowed, s->allowed);
	if (r == 0)
		r = params_union(&dst->denied, s->denied);
	if (r == 0)
		r = list_union(&dst->required, s->required);
	return r;
}

int
acl_new(struct policy *const *policies, size_t n, bool root, struct acl **ret)
{
	struct acl_src *src = NULL;
	struct acl *a = NULL;
	size_t total = 0, nsrc = 0, bytes = 0, off = 0, i, j;
	int r = CF_ENOMEM;

	for (i = 0; i < n; i++)
		total += policies[i]->nrules;
	if (total >= UINT32_MAX)
		return CF_ERANGE; /* slots hold an index + 1 in 32 bits */
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto out;
	a->root = root;
	if (total == 0)
		goto done;

	src = calloc(total, sizeof(*src));
	if (src == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		for (j = 0; j < policies[i]->nrules; j++) {
			const struct policy_rule *pr = &policies[i]->rules[j];
			src[nsrc].pat = pr->pattern;
			src[nsrc].caps = pr->caps;
			src[nsrc].allowed = pr->allowed ? json_deep_copy(pr->allowed) : NULL;
			src[nsrc].denied = pr->denied ? json_deep_copy(pr->denied) : NULL;
			src[nsrc].required = pr->required ? json_deep_copy(pr->required) : NULL;
			nsrc++;
		}
	}
	/* Identical patterns are unioned; deny absorbs. */
	qsort(src, nsrc, sizeof(*src), src_cmp);
	for (i = 1, j = 0; i < nsrc; i++) {
		if (strcmp(src[j].pat, src[i].pat) == 0) {
			src[j].caps = policy_caps_union(src[j].caps, src[i].caps);
			r = src_params_merge(&src[j], &src[i]);
			json_decref(src[i].allowed);
			json_decref(src[i].denied);
			json_decref(src[i].required);
			memset(&src[i], 0, sizeof(src[i]));
			if (r < 0)
				goto out;
		} else {
			src[++j] = src[i];
			if (j != i)
				memset(&src[i], 0, sizeof(src[i]));
		}
	}
	nsrc = j + 1;
	r = CF_ENOMEM;

	for (i = 0; i < nsrc; i++)
		bytes += strlen(src[i].pat) + 1;
	a->strings = malloc(bytes);
	a->exact = calloc(nsrc, sizeof(*a->exact));
	a->globs = calloc(nsrc, sizeof(*a->globs));
	if (a->strings == NULL || a->exact == NULL || a->globs == NULL)
		goto out;
	for (i = 0; i < nsrc; i++) {
		struct acl_rule rule = {0};
		size_t len = strlen(src[i].pat);

		memcpy(a->strings + off, src[i].pat, len + 1);
		rule.pat = a->strings + off;
		rule.len = len;
		rule.caps = src[i].caps;
		rule.allowed = src[i].allowed;
		rule.denied = src[i].denied;
		rule.required = src[i].required;
		src[i].allowed = src[i].denied = src[i].required = NULL;
		if (rule.allowed || rule.denied || rule.required)
			a->has_params = true;
		off += len + 1;
		if (rule_classify(&rule)) {
			rule.hash = util_fnv1a(UTIL_FNV1A_INIT, rule.pat, rule.lit);
			a->globs[a->nglobs++] = rule;
		} else {
			rule.hash = util_fnv1a(UTIL_FNV1A_INIT, rule.pat, rule.len);
			a->exact[a->nexact++] = rule;
		}
	}
	r = acl_index_exact(a);
	if (r < 0)
		goto out;
	r = acl_index_globs(a);
	if (r < 0)
		goto out;
done:
	*ret = a;
	a = NULL;
	r = 0;
out:
	for (i = 0; src && i < nsrc; i++) {
		json_decref(src[i].allowed);
		json_decref(src[i].denied);
		json_decref(src[i].required);
	}
	free(src);
	acl_free(a);
	return r;
}

static unsigned
rule_caps(const struct acl_rule *r)
{
	return (r->caps & CAP_DENY) || r->caps == 0 ? CAP_DENY : r->caps;
}

/* The group whose literal prefix is path[0..len), or NULL. */
static const struct acl_group *
group_find(const struct acl *a, const char *path, size_t len, uint32_t h)
{
	for (size_t s = h & a->group_tab.mask; a->group_tab.slots[s] != 0;
	     s = (s + 1) & a->group_tab.mask) {
		const struct acl_group *g = &a->groups[a->group_tab.slots[s] - 1];
		if (g->hash == h && g->len == len && memcmp(g->lit, path, len) == 0)
			return g;
	}
	return NULL;
}

static const struct acl_rule *
acl_scan_all(const struct acl *a, const char *path, size_t plen)
{
	for (size_t i = 0; i < a->nglobs; i++) {
		const struct acl_rule *g = a->by_priority[i];
		if (glob_match(g, path, plen))
			return g;
	}
	return NULL;
}

/* The one rule that decides for path, or NULL when none matches. */
static const struct acl_rule *
acl_find(const struct acl *a, const char *path)
{
	const struct acl_group *hits[ACL_MAX_HITS];
	size_t nhits = 0, plen = 0;
	bool overflow = false;
	uint32_t h = UTIL_FNV1A_INIT;

	/* One pass: the FNV hash of every prefix is at hand when we reach it. */
	for (;; plen++) {
		if (plen <= a->max_lit && a->ngroups > 0 && a->lit_len[plen]) {
			const struct acl_group *g = group_find(a, path, plen, h);
			if (g != NULL && nhits < ACL_MAX_HITS)
				hits[nhits++] = g;
			else if (g != NULL)
				overflow = true;
		}
		if (path[plen] == '\0')
			break;
		h ^= (unsigned char)path[plen];
		h *= UTIL_FNV1A_PRIME;
	}
	if (a->nexact > 0) {
		for (size_t s = h & a->exact_tab.mask; a->exact_tab.slots[s] != 0;
		     s = (s + 1) & a->exact_tab.mask) {
			const struct acl_rule *e = &a->exact[a->exact_tab.slots[s] - 1];
			if (e->hash == h && e->len == plen && memcmp(e->pat, path, plen) == 0)
				return e;
		}
	}
	if (overflow)
		return acl_scan_all(a, path, plen);
	while (nhits > 0) {
		const struct acl_group *g = hits[--nhits];
		for (uint32_t i = 0; i < g->count; i++) {
			const struct acl_rule *r = &a->globs[g->first + i];
			if (glob_match_rest(r, path, plen))
				return r;
		}
	}
	return NULL;
}

unsigned
acl_capabilities(const struct acl *a, const char *path)
{
	const struct acl_rule *r;

	if (a == NULL || path == NULL)
		return CAP_DENY;
	if (a->root)
		return CAP_ROOT | CAP_ALL;
	r = acl_find(a, path);
	return r ? rule_caps(r) : CAP_DENY;
}

/* Text form of a scalar for comparison ("true", "42", the string itself). */
static const char *
scalar_text(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
	else
		return NULL;
	return buf;
}

/* Vault's value match: equal, or a string item with a leading or trailing '*'
 * matching as a suffix or prefix glob. */
static bool
item_matches(json_t *item, json_t *v)
{
	char b1[64], b2[64];
	const char *pat = scalar_text(item, b1, sizeof(b1)), *s = scalar_text(v, b2, sizeof(b2));
	size_t pl, sl;

	if (!pat || !s)
		return json_equal(item, v);
	pl = strlen(pat);
	sl = strlen(s);
	if (pl > 0 && pat[pl - 1] == '*' && (pl == 1 || pat[0] != '*'))
		return sl >= pl - 1 && memcmp(s, pat, pl - 1) == 0;
	if (pl > 0 && pat[0] == '*')
		return sl >= pl - 1 && memcmp(s + sl - (pl - 1), pat + 1, pl - 1) == 0;
	return strcmp(pat, s) == 0;
}

static bool
in_list(json_t *list, json_t *v)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		if (item_matches(item, v))
			return true;
	}
	return false;
}

/* allowed: a value passes when the list is empty or holds it (every element of
 * an array value must pass). */
static bool
value_allowed(json_t *list, json_t *v)
{
	size_t i;
	json_t *e;

	if (json_array_size(list) == 0)
		return true;
	if (!json_is_array(v))
		return in_list(list, v);
	json_array_foreach(v, i, e)
	{
		if (!in_list(list, e))
			return false;
	}
	return true;
}

/* denied: a value is refused when the list is empty or holds it (or holds any
 * element of an array value). */
static bool
value_denied(json_t *list, json_t *v)
{
	size_t i;
	json_t *e;

	if (json_array_size(list) == 0)
		return true;
	if (!json_is_array(v))
		return in_list(list, v);
	json_array_foreach(v, i, e)
	{
		if (in_list(list, e))
			return true;
	}
	return false;
}

static json_t *
get_ci(json_t *map, const char *key)
{
	char lk[256];
	size_t n = strlen(key);

	if (n >= sizeof(lk))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		lk[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i]);
	return json_object_get(map, lk);
}

int
acl_check_params(const struct acl *a, const char *path, json_t *data, char *err, size_t errlen)
{
	const struct acl_rule *r;
	const char *k;
	json_t *v;

	if (a == NULL || a->root || !a->has_params || path == NULL)
		return 0;
	r = acl_find(a, path);
	if (!r)
		return 0;
	if (r->denied) {
		if (json_object_get(r->denied, "*")) {
			snprintf(err, errlen, "every parameter is denied on this path");
			return CF_EDENIED;
		}
		json_object_foreach(data, k, v)
		{
			json_t *list = get_ci(r->denied, k);
			if (list && value_denied(list, v)) {
				snprintf(err, errlen, "parameter \"%s\" is denied", k);
				return CF_EDENIED;
			}
		}
	}
	if (r->allowed && json_object_size(r->allowed) > 0) {
		json_t *any = json_object_get(r->allowed, "*");
		json_object_foreach(data, k, v)
		{
			json_t *list = get_ci(r->allowed, k);
			if (list ? !value_allowed(list, v) : !any) {
				snprintf(err, errlen, "parameter \"%s\" is not allowed", k);
				return CF_EDENIED;
			}
		}
	}
	if (r->required) {
		size_t i;
		json_array_foreach(r->required, i, v)
		{
			const char *name = json_string_value(v);
			bool found = false;
			json_t *dv;
			json_object_foreach(data, k, dv)
			{
				if (name && strcasecmp(k, name) == 0)
					found = true;
			}
			if (name && !found) {
				snprintf(err, errlen, "missing required parameter \"%s\"", name);
				return CF_EDENIED;
			}
		}
	}
	return 0;
}
