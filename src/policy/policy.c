/* policy.c - parsing ACL policies (Vault's policy syntax, Vault's built-in policies).
 *
 * Text is HCL (lib/hcl) or JSON, or the base64 of either; both become the same
 * JSON shape, {"path": {"<pattern>": {<stanza>}}}, which is then checked key by
 * key like Vault's ParseACLPolicy. Stanzas for the same pattern are merged the
 * way Vault merges them into an ACL, so a policy holds one rule per pattern. */
#include "policy/policy_int.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/hcl.h"
#include "lib/util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Larger policy texts are refused before parsing. */
#define POLICY_MAX_TEXT (1u << 20)

/* Keys a path stanza may carry that we accept and ignore (Enterprise features). */
/* clang-format off */
static const char *const ignored_keys[] = {
	"comment",
	"mfa_methods",
	"control_group",
	"subscribe_event_types",
};
/* clang-format on */

/* Vault's built-in policies; the text follows Vault's own default policy. */
/* clang-format off */
static const char default_policy[] =
	"# Allow tokens to look up their own properties\n"
	"path \"auth/token/lookup-self\" {\n"
	"    capabilities = [\"read\"]\n"
	"}\n"
	"\n"
	"# Allow tokens to renew themselves\n"
	"path \"auth/token/renew-self\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow tokens to revoke themselves\n"
	"path \"auth/token/revoke-self\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow a token to look up its own capabilities on a path\n"
	"path \"sys/capabilities-self\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow a token to look up its own entity by id or name\n"
	"path \"identity/entity/id/{{identity.entity.id}}\" {\n"
	"  capabilities = [\"read\"]\n"
	"}\n"
	"path \"identity/entity/name/{{identity.entity.name}}\" {\n"
	"  capabilities = [\"read\"]\n"
	"}\n"
	"\n"
	"# Allow a token to look up its resultant ACL from all policies. This is useful\n"
	"# for UIs. It is an internal path because the format may change at any time\n"
	"# based on how the internal ACL features and capabilities change.\n"
	"path \"sys/internal/ui/resultant-acl\" {\n"
	"    capabilities = [\"read\"]\n"
	"}\n"
	"\n"
	"# Allow a token to renew a lease via lease_id in the request body; old path for\n"
	"# old clients, new path for newer\n"
	"path \"sys/renew\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"path \"sys/leases/renew\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow looking up lease properties. This requires knowing the lease ID ahead\n"
	"# of time and does not divulge any sensitive information.\n"
	"path \"sys/leases/lookup\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow a token to manage its own cubbyhole\n"
	"path \"cubbyhole/*\" {\n"
	"    capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n"
	"}\n"
	"\n"
	"# Allow a token to wrap arbitrary values in a response-wrapping token\n"
	"path \"sys/wrapping/wrap\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow a token to look up the creation time and TTL of a given\n"
	"# response-wrapping token\n"
	"path \"sys/wrapping/lookup\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow a token to unwrap a response-wrapping token. This is a convenience to\n"
	"# avoid client token swapping since this is also part of the response wrapping\n"
	"# policy.\n"
	"path \"sys/wrapping/unwrap\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow general purpose tools\n"
	"path \"sys/tools/hash\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"path \"sys/tools/hash/*\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"path \"sys/tools/random\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"path \"sys/tools/random/*\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Allow checking the status of a Control Group request if the user has the\n"
	"# accessor\n"
	"path \"sys/control-group/request\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n";
/* clang-format on */

static void __attribute__((format(printf, 3, 4)))
perr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap); /* a truncated message is still useful */
	va_end(ap);
}

const char *
policy_default_text(void)
{
	return default_policy;
}

unsigned
policy_caps_union(unsigned a, unsigned b)
{
	unsigned c = a | b;

	return (c & CAP_DENY) ? CAP_DENY : c;
}

static void
rule_clear(struct policy_rule *r)
{
	free(r->pattern);
	json_decref(r->allowed);
	json_decref(r->denied);
	json_decref(r->required);
	memset(r, 0, sizeof(*r));
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	free(p->name);
	free(p);
}

const char *
policy_name(const struct policy *p)
{
	return p->name;
}

/* ---- merging (Vault's NewACL rules) ---- */

/* Merges src (object param -> array) into *dst: an empty array means "any value"
 * and wins; otherwise the value lists are concatenated. */
static int
params_merge(json_t **dst, json_t *src)
{
	json_t *v, *old, *cat;
	const char *k;

	if (src == NULL)
		return 0;
	if (*dst == NULL) {
		*dst = json_deep_copy(src);
		return *dst ? 0 : CF_ENOMEM;
	}
	json_object_foreach(src, k, v)
	{
		old = json_object_get(*dst, k);
		if (old == NULL) {
			cat = json_deep_copy(v);
		} else if (json_array_size(v) == 0 || json_array_size(old) == 0) {
			cat = json_array();
		} else {
			cat = json_deep_copy(v);
			if (cat != NULL && json_array_extend(cat, old) != 0) {
				json_decref(cat);
				cat = NULL;
			}
		}
		if (cat == NULL || json_object_set_new(*dst, k, cat) != 0)
			return CF_ENOMEM;
	}
	return 0;
}

/* Merges src into dst (same pattern). */
static int
rule_merge(struct policy_rule *dst, const struct policy_rule *src)
{
	int r;

	dst->caps = policy_caps_union(dst->caps, src->caps);
	r = params_merge(&dst->allowed, src->allowed);
	if (r < 0)
		return r;
	r = params_merge(&dst->denied, src->denied);
	if (r < 0)
		return r;
	if (src->required != NULL) {
		if (dst->required == NULL)
			dst->required = json_array();
		if (dst->required == NULL || json_array_extend(dst->required, src->required) != 0)
			return CF_ENOMEM;
	}
	if (src->min_wrap > 0 && (dst->min_wrap == 0 || src->min_wrap < dst->min_wrap))
		dst->min_wrap = src->min_wrap;
	if (src->max_wrap > 0 && (dst->max_wrap == 0 || src->max_wrap > dst->max_wrap))
		dst->max_wrap = src->max_wrap;
	return 0;
}

/* ---- parsing ---- */

struct rules {
	struct policy_rule *v;
	size_t n;
	size_t cap;
};

static void
rules_free(struct rules *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		rule_clear(&rs->v[i]);
	free(rs->v);
	rs->v = NULL;
	rs->n = rs->cap = 0;
}

/* Appends *r (moved: *r is zeroed). */
static int
rules_push(struct rules *rs, struct policy_rule *r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct policy_rule *nv = reallocarray(rs->v, cap, sizeof(*nv));
		if (nv == NULL)
			return CF_ENOMEM;
		rs->v = nv;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

static int
rule_cmp(const void *a, const void *b)
{
	const struct policy_rule *x = a, *y = b;

	return strcmp(x->pattern, y->pattern);
}

/* Sorts by pattern and merges equal patterns in place. qsort is not stable, but
 * merging is commutative up to the order of parameter values. */
static int
rules_sort_merge(struct rules *rs)
{
	size_t w = 0;
	int r;

	if (rs->n == 0)
		return 0;
	qsort(rs->v, rs->n, sizeof(rs->v[0]), rule_cmp);
	for (size_t i = 1; i < rs->n; i++) {
		if (strcmp(rs->v[w].pattern, rs->v[i].pattern) == 0) {
			r = rule_merge(&rs->v[w], &rs->v[i]);
			rule_clear(&rs->v[i]);
			if (r < 0) {
				/* Keep the array dense so rules_free sees every live rule. */
				for (size_t j = i + 1; j < rs->n; j++)
					rs->v[++w] = rs->v[j];
				rs->n = w + 1;
				return r;
			}
			continue;
		}
		rs->v[++w] = rs->v[i];
	}
	rs->n = w + 1;
	return 0;
}

static int
parse_caps(const char *pat, json_t *v, unsigned *caps, char *err, size_t errlen)
{
	json_t *item;
	size_t i;

	if (!json_is_array(v)) {
		perr(err, errlen, "path \"%s\": capabilities must be a list of strings", pat);
		return CF_EINVAL;
	}
	json_array_foreach(v, i, item)
	{
		unsigned bit = acl_cap_from_name(json_string_value(item));
		if (!json_is_string(item)) {
			perr(err, errlen, "path \"%s\": capabilities must be a list of strings",
			     pat);
			return CF_EINVAL;
		}
		if (bit == 0) {
			perr(err, errlen, "path \"%s\": invalid capability \"%s\"", pat,
			     json_string_value(item));
			return CF_EINVAL;
		}
		*caps |= bit;
	}
	return 0;
}

/* Legacy policy = "read|write|deny|sudo" (Vault's policy syntax). */
static int
parse_legacy(const char *pat, json_t *v, unsigned *caps, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned caps;
	} legacy[] = {
	        {"deny", CAP_DENY},
	        {"read", CAP_READ | CAP_LIST},
	        {"write", CAP_CREATE | CAP_READ | CAP_UPDATE | CAP_DELETE | CAP_LIST},
	        {"sudo", CAP_CREATE | CAP_READ | CAP_UPDATE | CAP_DELETE | CAP_LIST | CAP_SUDO},
	};
	const char *s = json_string_value(v);

	for (size_t i = 0; s != NULL && i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		if (strcmp(legacy[i].name, s) == 0) {
			*caps |= legacy[i].caps;
			return 0;
		}
	}
	perr(err, errlen, "path \"%s\": invalid policy \"%s\"", pat, s ? s : "(not a string)");
	return CF_EINVAL;
}

/* allowed_parameters / denied_parameters: object of param -> list. Keys are
 * lowercased as Vault does; keys that collide are merged. */
static int
parse_params(const char *pat, const char *what, json_t *v, json_t **ret, char *err, size_t errlen)
{
	json_t *out = NULL, *one = NULL, *val;
	const char *k;
	int r = 0;

	if (!json_is_object(v)) {
		perr(err, errlen, "path \"%s\": %s must be a map of lists", pat, what);
		return CF_EINVAL;
	}
	json_object_foreach(v, k, val)
	{
		char *lk;
		if (!json_is_array(val)) {
			perr(err, errlen, "path \"%s\": %s[\"%s\"] must be a list", pat, what, k);
			r = CF_EINVAL;
			goto out;
		}
		lk = strdup(k);
		one = json_object();
		if (lk == NULL || one == NULL) {
			free(lk);
			r = CF_ENOMEM;
			goto out;
		}
		for (char *c = lk; *c; c++) {
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		}
		r = json_object_set(one, lk, val) == 0 ? params_merge(&out, one) : CF_ENOMEM;
		free(lk);
		json_decref(one);
		one = NULL;
		if (r < 0)
			goto out;
	}
	if (out == NULL)
		out = json_object();
	if (out == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	*ret = out;
	out = NULL;
out:
	json_decref(out);
	return r;
}

static int
parse_required(const char *pat, json_t *v, json_t **ret, char *err, size_t errlen)
{
	json_t *item;
	size_t i;

	if (!json_is_array(v)) {
		perr(err, errlen, "path \"%s\": required_parameters must be a list of strings",
		     pat);
		return CF_EINVAL;
	}
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item)) {
			perr(err, errlen,
			     "path \"%s\": required_parameters must be a list of strings", pat);
			return CF_EINVAL;
		}
	}
	*ret = json_deep_copy(v);
	return *ret ? 0 : CF_ENOMEM;
}

static int
parse_ttl(const char *pat, const char *what, json_t *v, int64_t *ret, char *err, size_t errlen)
{
	int64_t secs = 0;
	int r = CF_EINVAL;

	if (json_is_integer(v) && duration_check(json_integer_value(v)) == 0) {
		secs = json_integer_value(v);
		r = 0;
	} else if (json_is_string(v)) {
		r = duration_parse(json_string_value(v), &secs);
	}
	if (r < 0) {
		perr(err, errlen, "path \"%s\": invalid %s", pat, what);
		return CF_EINVAL;
	}
	*ret = secs;
	return 0;
}

/* One path stanza (an object) into *rule (pattern already set). */
static int
parse_stanza(struct policy_rule *rule, json_t *body, char *err, size_t errlen)
{
	const char *pat = rule->pattern, *k;
	unsigned caps = 0;
	json_t *v;
	int r = 0;

	if (!json_is_object(body)) {
		perr(err, errlen, "path \"%s\": expected an object", pat);
		return CF_EINVAL;
	}
	json_object_foreach(body, k, v)
	{
		bool ignored = false;
		if (strcmp(k, "capabilities") == 0) {
			r = parse_caps(pat, v, &caps, err, errlen);
		} else if (strcmp(k, "policy") == 0) {
			r = parse_legacy(pat, v, &caps, err, errlen);
		} else if (strcmp(k, "allowed_parameters") == 0) {
			r = parse_params(pat, k, v, &rule->allowed, err, errlen);
		} else if (strcmp(k, "denied_parameters") == 0) {
			r = parse_params(pat, k, v, &rule->denied, err, errlen);
		} else if (strcmp(k, "required_parameters") == 0) {
			r = parse_required(pat, v, &rule->required, err, errlen);
		} else if (strcmp(k, "min_wrapping_ttl") == 0) {
			r = parse_ttl(pat, k, v, &rule->min_wrap, err, errlen);
		} else if (strcmp(k, "max_wrapping_ttl") == 0) {
			r = parse_ttl(pat, k, v, &rule->max_wrap, err, errlen);
		} else {
			for (size_t i = 0; i < sizeof(ignored_keys) / sizeof(ignored_keys[0]); i++)
				ignored = ignored || strcmp(k, ignored_keys[i]) == 0;
			if (!ignored) {
				perr(err, errlen, "path \"%s\": invalid key \"%s\"", pat, k);
				r = CF_EINVAL;
			}
		}
		if (r < 0)
			return r;
	}
	rule->caps = policy_caps_union(caps, 0);
	return 0;
}

/* Adds the rules for one pattern; body is an object or a list of objects (the
 * JSON form of a repeated HCL block). */
static int
add_pattern(struct rules *rs, const char *pattern, json_t *body, char *err, size_t errlen)
{
	struct policy_rule rule = {0};
	size_t n = json_is_array(body) ? json_array_size(body) : 1;
	int r = 0;

	while (*pattern == '/')
		pattern++; /* Vault's policy path matching: a leading '/' is ignored */
	if (strstr(pattern, "+*") != NULL) {
		perr(err, errlen, "path \"%s\": invalid use of wildcards ('+*' is forbidden)",
		     pattern);
		return CF_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *one = json_is_array(body) ? json_array_get(body, i) : body;
		rule.pattern = strdup(pattern);
		if (rule.pattern == NULL)
			return CF_ENOMEM;
		r = parse_stanza(&rule, one, err, errlen);
		if (r < 0)
			goto out;
		r = rules_push(rs, &rule);
		if (r < 0)
			goto out;
	}
out:
	rule_clear(&rule);
	return r;
}

static int
parse_paths(struct rules *rs, json_t *paths, char *err, size_t errlen)
{
	json_t *one, *body;
	const char *pat;
	size_t i, n = json_is_array(paths) ? json_array_size(paths) : 1;
	int r;

	for (i = 0; i < n; i++) {
		one = json_is_array(paths) ? json_array_get(paths, i) : paths;
		if (!json_is_object(one)) {
			perr(err, errlen, "\"path\" must be an object of path stanzas");
			return CF_EINVAL;
		}
		json_object_foreach(one, pat, body)
		{
			r = add_pattern(rs, pat, body, err, errlen);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
check_rules(struct rules *rs, char *err, size_t errlen)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct policy_rule *r = &rs->v[i];
		if (r->min_wrap > 0 && r->max_wrap > 0 && r->max_wrap < r->min_wrap) {
			perr(err, errlen,
			     "path \"%s\": max_wrapping_ttl cannot be less than min_wrapping_ttl",
			     r->pattern);
			return CF_EINVAL;
		}
	}
	return 0;
}

static int
policy_from_json(struct policy *p, json_t *root, char *err, size_t errlen)
{
	struct rules rs = {0};
	const char *k;
	json_t *v;
	int r = 0;

	if (!json_is_object(root)) {
		perr(err, errlen, "policy must be an object");
		return CF_EINVAL;
	}
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "path") == 0) {
			r = parse_paths(&rs, v, err, errlen);
		} else if (strcmp(k, "name") != 0) {
			perr(err, errlen, "invalid key \"%s\"", k);
			r = CF_EINVAL;
		}
		if (r < 0)
			goto out;
	}
	r = rules_sort_merge(&rs);
	if (r < 0)
		goto out;
	r = check_rules(&rs, err, errlen);
	if (r < 0)
		goto out;
	p->rules = rs.v;
	p->nrules = rs.n;
	rs.v = NULL;
	rs.n = 0;
out:
	rules_free(&rs);
	return r;
}

static bool
is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Vault tries base64.StdEncoding first: padded, CR/LF ignored. Returns 1 with
 * the decoded bytes (NUL-terminated) in *ret when text is base64, 0 when it is
 * not, or CF_ENOMEM. */
static int
try_base64(const char *text, size_t len, char **ret, size_t *ret_len)
{
	char *clean = malloc(len + 1);
	uint8_t *dec = NULL;
	size_t n = 0, pad = 0, dlen;
	char *txt;
	int r = 0;

	if (clean == NULL)
		return CF_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
		} else if (!is_b64_char(c) || pad > 0) {
			goto out;
		}
		clean[n++] = c;
	}
	clean[n] = '\0';
	if (n == 0 || n % 4 != 0 || pad > 2)
		goto out;
	if (util_b64_decode(clean, &dec, &dlen) < 0)
		goto out;
	txt = malloc(dlen + 1);
	if (txt == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	memcpy(txt, dec, dlen);
	txt[dlen] = '\0';
	*ret = txt;
	*ret_len = dlen;
	r = 1;
out:
	free(dec);
	free(clean);
	return r;
}

int
policy_parse(const char *name, const char *text, struct policy **ret, char *err, size_t errlen)
{
	struct policy *p = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	char *decoded = NULL;
	size_t len, i;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL)
		text = "";
	len = strnlen(text, POLICY_MAX_TEXT + 1);
	if (len > POLICY_MAX_TEXT) {
		perr(err, errlen, "policy is larger than %u bytes", POLICY_MAX_TEXT);
		return CF_EINVAL;
	}
	r = try_base64(text, len, &decoded, &len);
	if (r < 0)
		return r;
	if (r == 1)
		text = decoded;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	p->name = strdup(name ? name : "");
	if (p->name == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	for (char *c = p->name; *c; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}

	for (i = 0;
	     i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n');
	     i++)
		;
	if (i < len && text[i] == '{') {
		root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (root == NULL) {
			perr(err, errlen, "line %d, column %d: %s", jerr.line, jerr.column,
			     jerr.text);
			r = CF_EINVAL;
			goto out;
		}
	} else {
		r = hcl_parse(text, len, &root, err, errlen);
		if (r < 0)
			goto out;
	}
	r = policy_from_json(p, root, err, errlen);
	if (r < 0)
		goto out;
	*ret = p;
	p = NULL;
out:
	json_decref(root);
	policy_free(p);
	free(decoded);
	return r;
}

json_t *
policy_json(const struct policy *p)
{
	json_t *out = json_object(), *paths = json_object(), *st;
	bool ok = out != NULL && paths != NULL && json_object_set(out, "path", paths) == 0;

	for (size_t i = 0; ok && i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		st = json_object();
		ok = st != NULL && json_object_set_new(paths, r->pattern, st) == 0 &&
		     json_object_set_new(st, "capabilities", acl_caps_names(r->caps)) == 0;
		if (ok && r->allowed)
			ok = json_object_set_new(st, "allowed_parameters",
			                         json_deep_copy(r->allowed)) == 0;
		if (ok && r->denied)
			ok = json_object_set_new(st, "denied_parameters",
			                         json_deep_copy(r->denied)) == 0;
		if (ok && r->required)
			ok = json_object_set_new(st, "required_parameters",
			                         json_deep_copy(r->required)) == 0;
		if (ok && r->min_wrap)
			ok = json_object_set_new(st, "min_wrapping_ttl",
			                         json_integer(r->min_wrap)) == 0;
		if (ok && r->max_wrap)
			ok = json_object_set_new(st, "max_wrapping_ttl",
			                         json_integer(r->max_wrap)) == 0;
	}
	json_decref(paths);
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}
