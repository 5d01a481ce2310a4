/* fuzz_hcl.c - the HCL parser and the policy parser on the same bytes.
 *
 * hcl_parse: never crashes; errors carry "line L, column C"; what it accepts is
 * a JSON object that survives a dump/load round trip. policy_parse: what it
 * accepts has a canonical JSON form that parses back to itself, and the ACL
 * built from it answers every exact pattern with that pattern's capabilities. */
#include "lib/err.h"
#include "lib/hcl.h"
#include "policy/policy.h"
#include "policy/policy_int.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_hcl(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *j = NULL, *again;
	json_error_t jerr;
	char *txt;
	int r = hcl_parse((const char *)data, size, &j, err, sizeof(err));

	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ENOMEM);
		assert(r != CF_EINVAL || strncmp(err, "line ", 5) == 0);
		return;
	}
	assert(json_is_object(j));
	txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (txt != NULL) {
		again = json_loads(txt, 0, &jerr);
		assert(again != NULL);
		assert(json_equal(j, again));
		json_decref(again);
		free(txt);
	}
	json_decref(j);
}

static bool
is_glob(const char *pat)
{
	size_t n = strlen(pat);

	if (n > 0 && pat[n - 1] == '*')
		return true;
	for (size_t i = 0; i < n; i++) {
		if (pat[i] == '+' && (i == 0 || pat[i - 1] == '/') &&
		    (i + 1 == n || pat[i + 1] == '/'))
			return true;
	}
	return false;
}

/* Position of the first wildcard, as acl.c and Vault define it. */
static size_t
first_wildcard(const char *pat)
{
	size_t n = strlen(pat);

	for (size_t i = 0; i < n; i++) {
		if (pat[i] == '+' && (i == 0 || pat[i - 1] == '/') &&
		    (i + 1 == n || pat[i + 1] == '/'))
			return i;
	}
	return n > 0 && pat[n - 1] == '*' ? n - 1 : n;
}

static size_t
count_plus(const char *pat)
{
	size_t n = strlen(pat), c = 0;

	for (size_t i = 0; i < n; i++)
		c += pat[i] == '+' && (i == 0 || pat[i - 1] == '/') &&
		     (i + 1 == n || pat[i + 1] == '/');
	return c;
}

/* Vault's acl.go matcher, transcribed independently of acl.c: split both on '/',
 * '+' segments match any segment, a trailing '*' makes the last segment a
 * prefix and allows more segments. */
static size_t
split(char *s, char ***ret)
{
	size_t n = 1, i = 0;
	char **v;

	for (char *c = s; *c; c++)
		n += *c == '/';
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return 0;
	v[i++] = s;
	for (char *c = s; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			v[i++] = c + 1;
		}
	}
	*ret = v;
	return n;
}

static bool
ref_match(const char *pat, const char *path)
{
	size_t len = strlen(pat), nb, np;
	bool prefix = len > 0 && pat[len - 1] == '*', ok = true;
	char *b, *p, **bs = NULL, **ps = NULL;

	if (count_plus(pat) == 0)
		return prefix ? strncmp(path, pat, len - 1) == 0 : strcmp(pat, path) == 0;
	b = strndup(pat, prefix ? len - 1 : len);
	p = strdup(path);
	if (b == NULL || p == NULL)
		abort();
	nb = split(b, &bs);
	np = split(p, &ps);
	if (nb == 0 || np == 0)
		abort();
	if (np < nb || (!prefix && np != nb))
		ok = false;
	for (size_t i = 0; ok && i < nb; i++) {
		if (strcmp(bs[i], "+") == 0 || strcmp(bs[i], ps[i]) == 0)
			continue;
		if (prefix && i == nb - 1 && strncmp(ps[i], bs[i], strlen(bs[i])) == 0)
			continue;
		ok = false;
	}
	free(bs);
	free(ps);
	free(b);
	free(p);
	return ok;
}

/* Vault's policy path matching: true when a has lower priority than b. */
static bool
ref_lower(const char *a, const char *b)
{
	size_t fa = first_wildcard(a), fb = first_wildcard(b);
	size_t la = strlen(a), lb = strlen(b);
	bool sa = la > 0 && a[la - 1] == '*', sb = lb > 0 && b[lb - 1] == '*';

	if (fa != fb)
		return fa < fb;
	if (sa != sb)
		return sa;
	if (count_plus(a) != count_plus(b))
		return count_plus(a) > count_plus(b);
	if (la != lb)
		return la < lb;
	return strcmp(a, b) < 0;
}

static unsigned
ref_caps(const struct policy *p, const char *path)
{
	const struct policy_rule *best = NULL;

	for (size_t i = 0; i < p->nrules; i++) {
		if (!is_glob(p->rules[i].pattern) && strcmp(p->rules[i].pattern, path) == 0) {
			best = &p->rules[i];
			break;
		}
	}
	for (size_t i = 0; best == NULL && i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		if (!is_glob(r->pattern) || !ref_match(r->pattern, path))
			continue;
		for (size_t j = 0; j < p->nrules; j++) {
			const struct policy_rule *o = &p->rules[j];
			if (j != i && is_glob(o->pattern) && ref_match(o->pattern, path) &&
			    ref_lower(r->pattern, o->pattern))
				goto next;
		}
		best = r;
	next:;
	}
	if (best == NULL || best->caps == 0 || (best->caps & CAP_DENY))
		return CAP_DENY;
	return best->caps;
}

/* Probe paths derived from a pattern: itself, and its wildcards filled in. */
static void
check_paths(const struct policy *p, const struct acl *a, const char *pat)
{
	static const char *const fill[] = {"", "x", "x/y"};
	size_t n = strlen(pat);
	char *path = malloc(n * 3 + 8);

	if (path == NULL)
		return;
	for (size_t f = 0; f < sizeof(fill) / sizeof(fill[0]); f++) {
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			bool wild = (pat[i] == '*' && i == n - 1) ||
			            (pat[i] == '+' && (i == 0 || pat[i - 1] == '/') &&
			             (i + 1 == n || pat[i + 1] == '/'));
			if (wild) {
				memcpy(path + o, fill[f], strlen(fill[f]));
				o += strlen(fill[f]);
			} else {
				path[o++] = pat[i];
			}
		}
		path[o] = '\0';
		assert(acl_capabilities(a, path) == ref_caps(p, path));
	}
	free(path);
}

static void
check_policy(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[256];
	struct policy *p = NULL, *p2 = NULL;
	struct acl *a = NULL;
	json_t *canon = NULL, *canon2 = NULL;
	char *dump = NULL;
	int r;

	if (text == NULL)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	r = policy_parse("Fuzz", text, &p, err, sizeof(err));
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ENOMEM);
		assert(r != CF_EINVAL || err[0] != '\0');
		goto out;
	}
	assert(strcmp(policy_name(p), "fuzz") == 0);

	/* Canonical form round trip. */
	canon = policy_json(p);
	if (canon == NULL)
		goto out;
	dump = json_dumps(canon, JSON_COMPACT);
	if (dump == NULL)
		goto out;
	r = policy_parse("fuzz", dump, &p2, err, sizeof(err));
	assert(r == 0 || r == CF_ENOMEM);
	if (r == 0) {
		canon2 = policy_json(p2);
		assert(canon2 == NULL || json_equal(canon, canon2));
	}

	/* Every exact pattern gets exactly its own rule; results are well formed. */
	if (acl_new(&p, 1, false, &a) == 0) {
		for (size_t i = 0; i < p->nrules; i++) {
			const struct policy_rule *rule = &p->rules[i];
			unsigned caps = acl_capabilities(a, rule->pattern);
			json_t *names;
			assert((caps & CAP_DENY) == 0 || caps == CAP_DENY);
			assert((caps & CAP_ROOT) == 0);
			if (!is_glob(rule->pattern))
				assert(caps == (rule->caps ? rule->caps : CAP_DENY));
			names = acl_caps_json(caps);
			assert(names == NULL || json_array_size(names) > 0);
			json_decref(names);
			if (p->nrules <= 64)
				check_paths(p, a, rule->pattern);
		}
		(void)acl_capabilities(a, "secret/data/x");
		(void)acl_capabilities(a, "");
		acl_free(a);
	}
out:
	json_decref(canon);
	json_decref(canon2);
	free(dump);
	policy_free(p2);
	policy_free(p);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_hcl(data, size);
	check_policy(data, size);
	return 0;
}
