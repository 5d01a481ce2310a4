/* sealedsecret.c - Kubernetes Secret <-> Bitnami SealedSecret manifests; see
 * sealedsecret.h and docs/internals/kseal.md.
 *
 * The objects are written with their keys in the order the Go types have them
 * (kubeseal's JSON output), maps sorted. Every decoded value is wiped before it
 * is freed; the base64 text of plaintext in an unsealed Secret lives in jansson
 * strings, which the allocator installed by jsonx_init() wipes on free. */
#include "crypto/sealedsecret.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define SS_KIND            "SealedSecret"
#define SS_LAST_APPLIED    "kubectl.kubernetes.io/last-applied-configuration"
#define SS_LAST_APPLIED_KS "kubecfg.ksonnet.io/last-applied-configuration"

/* ---- small helpers ---- */

/* A string member of obj, or NULL when absent or null; CF_EINVAL (field named
 * as prefix.key) when it is another type. */
static int
str_member(const json_t *obj, const char *prefix, const char *key, const char **ret, char *err,
           size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		util_errf(err, errlen, "%s%s: not a string", prefix, key);
		return CF_EINVAL;
	}
	*ret = json_string_value(v);
	return 0;
}

/* An object member of obj, or NULL when absent or null. */
static int
obj_member(const json_t *obj, const char *prefix, const char *key, json_t **ret, char *err,
           size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		util_errf(err, errlen, "%s%s: not an object", prefix, key);
		return CF_EINVAL;
	}
	*ret = v;
	return 0;
}

/* Checks that every value of map (may be NULL) is a string. */
static int
string_map_check(const json_t *map, const char *field, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)map, k, v)
	{
		if (!json_is_string(v)) {
			util_errf(err, errlen, "%s.%s: not a string", field, k);
			return CF_EINVAL;
		}
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted (borrowed from obj). *ret NULL when obj is empty. */
static int
sorted_keys(const json_t *obj, const char ***ret, size_t *ret_n)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = NULL, *k;
	json_t *v;

	if (n > 0) {
		keys = malloc(n * sizeof(*keys));
		if (keys == NULL)
			return CF_ENOMEM;
		json_object_foreach((json_t *)obj, k, v) keys[i++] = k;
		qsort(keys, n, sizeof(*keys), cmp_str);
	}
	*ret = keys;
	*ret_n = n;
	return 0;
}

/* A copy of map with its keys sorted. */
static json_t *
sorted_copy(const json_t *map)
{
	const char **keys = NULL;
	json_t *out = json_object();
	size_t n = 0, i;

	if (out == NULL || sorted_keys(map, &keys, &n) < 0) {
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (json_object_set_new(out, keys[i],
		                        json_deep_copy(json_object_get(map, keys[i]))) != 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	free(keys); /* not secret: borrowed key names */
	return out;
}

/* Decodes a base64 string (the whole JSON string: an embedded NUL is
 * invalid). Line breaks are skipped, as Go's decoder skips them (base64
 * folded in a YAML block scalar). The bytes may be a secret: free them with
 * secmem_free(*ret, *ret_len). */
static int
b64_value(const json_t *s, uint8_t **ret, size_t *ret_len)
{
	const char *text = json_string_value(s);
	size_t n = json_string_length(s), j = 0;
	char *flat;
	int r;

	if (text == NULL || strlen(text) != n)
		return CF_EINVAL;
	if (strpbrk(text, "\r\n") == NULL)
		return util_b64_decode(text, ret, ret_len);
	flat = malloc(n + 1);
	if (flat == NULL)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (text[i] != '\r' && text[i] != '\n')
			flat[j++] = text[i];
	flat[j] = '\0';
	r = util_b64_decode(flat, ret, ret_len);
	secmem_free(flat, n + 1);
	return r;
}

/* The scope an object's annotations declare (cluster-wide is checked first;
 * only the exact string "true" counts). */
static enum kseal_scope
annotations_scope(const json_t *ann)
{
	const char *v;

	v = json_string_value(json_object_get(ann, SS_ANN_CLUSTER));
	if (v != NULL && strcmp(v, "true") == 0)
		return KSEAL_CLUSTER_WIDE;
	v = json_string_value(json_object_get(ann, SS_ANN_NAMESPACE));
	if (v != NULL && strcmp(v, "true") == 0)
		return KSEAL_NAMESPACE_WIDE;
	return KSEAL_STRICT;
}

/* The label as the controller computes it, empty namespace included ("/name"
 * for a strict secret without one). */
static int
label_of(enum kseal_scope s, const char *ns, const char *name, char **ret)
{
	size_t nslen, namelen;
	char *l;

	if (ns == NULL)
		ns = "";
	if (s != KSEAL_STRICT)
		l = strdup(s == KSEAL_CLUSTER_WIDE ? "" : ns);
	else {
		nslen = strlen(ns);
		namelen = strlen(name);
		l = malloc(nslen + namelen + 2);
		if (l != NULL) {
			memcpy(l, ns, nslen);
			l[nslen] = '/';
			memcpy(l + nslen + 1, name, namelen + 1);
		}
	}
	if (l == NULL)
		return CF_ENOMEM;
	*ret = l;
	return 0;
}

/* ---- sealing ---- */

/* One item to seal: its bytes (owned, wiped on free). */
struct ss_item {
	const char *key;
	uint8_t *bytes;
	size_t len;
	bool owned; /* bytes were decoded (data), else borrowed (stringData) */
};

static void
items_free(struct ss_item *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		if (items[i].owned)
			secmem_free(items[i].bytes, items[i].len);
	free(items);
}

static int
cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct ss_item *)a)->key, ((const struct ss_item *)b)->key);
}

/* The items of a Secret: data (decoded) and stringData (wins), sorted. */
static int
secret_items(const json_t *secret, struct ss_item **ret, size_t *ret_n, char *err, size_t errlen)
{
	json_t *data, *sdata, *v;
	struct ss_item *items = NULL;
	const char *k;
	size_t n = 0, cap;
	int r;

	r = obj_member(secret, "", "data", &data, err, errlen);
	if (r == 0)
		r = obj_member(secret, "", "stringData", &sdata, err, errlen);
	if (r == 0)
		r = string_map_check(data, "data", err, errlen);
	if (r == 0)
		r = string_map_check(sdata, "stringData", err, errlen);
	if (r < 0)
		return r;
	cap = json_object_size(data) + json_object_size(sdata);
	if (cap > 0) {
		items = calloc(cap, sizeof(*items));
		if (items == NULL)
			return CF_ENOMEM;
	}
	json_object_foreach(data, k, v)
	{
		if (json_object_get(sdata, k) != NULL)
			continue; /* stringData wins */
		items[n].key = k;
		items[n].owned = true;
		r = b64_value(v, &items[n].bytes, &items[n].len);
		if (r == CF_EINVAL)
			util_errf(err, errlen, "data.%s: invalid base64", k);
		if (r < 0)
			goto out;
		n++;
	}
	json_object_foreach(sdata, k, v)
	{
		items[n].key = k;
		items[n].bytes = (uint8_t *)json_string_value(v);
		items[n].len = json_string_length(v);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].len > KSEAL_MAX_VALUE) {
			util_errf(err, errlen, "%s.%s: %zu bytes, over the limit of %u",
			          items[i].owned ? "data" : "stringData", items[i].key,
			          items[i].len, KSEAL_MAX_VALUE);
			r = CF_EINVAL;
			goto out;
		}
	}
	if (n > 1)
		qsort(items, n, sizeof(*items), cmp_item);
	*ret = items;
	*ret_n = n;
	items = NULL;
	r = 0;
out:
	items_free(items, n);
	return r;
}

/* Sets out[k] to v (a new value; NULL is out of memory). */
static int
set_new(json_t *out, const char *k, json_t *v)
{
	return json_object_set_new(out, k, v) == 0 ? 0 : CF_ENOMEM;
}

/* Copies meta[k] into out when it is there and not null. */
static int
copy_member(json_t *out, const json_t *meta, const char *k)
{
	json_t *v = json_object_get(meta, k);

	if (v == NULL || json_is_null(v))
		return 0;
	return set_new(out, k, json_deep_copy(v));
}

/* spec.template.metadata: the Secret's metadata with name, namespace and
 * annotations as resolved, in the order of Go's ObjectMeta. The server-side
 * fields (selfLink, uid, resourceVersion, generation, deletionTimestamp,
 * deletionGracePeriodSeconds) and ownerReferences are left out, and
 * creationTimestamp is null. */
static int
template_meta(const json_t *meta, const char *name, const char *ns, const json_t *ann, json_t **ret)
{
	json_t *out = json_object(), *labels = json_object_get(meta, "labels");
	int r = CF_ENOMEM;

	if (out == NULL)
		goto out;
	r = set_new(out, "name", json_string(name));
	if (r == 0)
		r = copy_member(out, meta, "generateName");
	if (r == 0 && ns != NULL)
		r = set_new(out, "namespace", json_string(ns));
	if (r == 0)
		r = set_new(out, "creationTimestamp", json_null());
	if (r == 0 && json_object_size(labels) > 0)
		r = set_new(out, "labels", sorted_copy(labels));
	if (r == 0 && json_object_size(ann) > 0)
		r = set_new(out, "annotations", sorted_copy(ann));
	if (r == 0)
		r = copy_member(out, meta, "finalizers");
	if (r == 0)
		r = copy_member(out, meta, "managedFields");
	if (r < 0)
		goto out;
	*ret = out;
	out = NULL;
out:
	json_decref(out);
	return r;
}

/* What ss_seal() reads from a Secret (borrowed from it). */
struct ss_input {
	json_t *meta, *ann, *imm;
	const char *name, *ns, *type;
};

/* Checks the Secret's kind, apiVersion and the types of the fields used. */
static int
secret_read(const json_t *secret, struct ss_input *in, char *err, size_t errlen)
{
	const char *kind, *apiv;
	json_t *labels;
	int r;

	memset(in, 0, sizeof(*in));
	if (!json_is_object(secret)) {
		util_errf(err, errlen, "the input is not an object (a Kubernetes Secret)");
		return CF_EINVAL;
	}
	r = str_member(secret, "", "kind", &kind, err, errlen);
	if (r < 0)
		return r;
	if (kind == NULL || strcmp(kind, "Secret") != 0) {
		util_errf(err, errlen, "kind: %s%s%s, not a Secret", kind ? "\"" : "",
		          kind ? kind : "missing", kind ? "\"" : "");
		return CF_EINVAL;
	}
	r = str_member(secret, "", "apiVersion", &apiv, err, errlen);
	if (r < 0)
		return r;
	if (apiv == NULL || strcmp(apiv, "v1") != 0) {
		util_errf(err, errlen, "apiVersion: %s%s%s, a Secret is v1", apiv ? "\"" : "",
		          apiv ? apiv : "missing", apiv ? "\"" : "");
		return CF_EINVAL;
	}
	r = obj_member(secret, "", "metadata", &in->meta, err, errlen);
	if (r == 0)
		r = str_member(in->meta, "metadata.", "name", &in->name, err, errlen);
	if (r == 0)
		r = str_member(in->meta, "metadata.", "namespace", &in->ns, err, errlen);
	if (r == 0)
		r = obj_member(in->meta, "metadata.", "annotations", &in->ann, err, errlen);
	if (r == 0)
		r = string_map_check(in->ann, "metadata.annotations", err, errlen);
	if (r == 0)
		r = obj_member(in->meta, "metadata.", "labels", &labels, err, errlen);
	if (r == 0)
		r = string_map_check(labels, "metadata.labels", err, errlen);
	if (r == 0)
		r = str_member(secret, "", "type", &in->type, err, errlen);
	if (r < 0)
		return r;
	in->imm = json_object_get(secret, "immutable");
	if (in->imm != NULL && !json_is_null(in->imm) && !json_is_boolean(in->imm)) {
		util_errf(err, errlen, "immutable: not a boolean");
		return CF_EINVAL;
	}
	return 0;
}

/* Name and namespace after the options; the annotations of the template
 * (*ret_ann, new): scope rewritten when a non-strict scope is given, the
 * last-applied configurations (a copy of the plaintext) dropped; the scope. */
static int
secret_resolve(struct ss_input *in, const struct ss_seal_opts *o, json_t **ret_ann,
               enum kseal_scope *ret_scope, char *err, size_t errlen)
{
	enum kseal_scope scope;
	json_t *ann;

	if (o->name != NULL && *o->name != '\0')
		in->name = o->name;
	if (in->name == NULL || *in->name == '\0') {
		util_errf(err, errlen, "metadata.name: missing");
		return CF_EINVAL;
	}
	if (in->ns != NULL && *in->ns == '\0')
		in->ns = NULL;
	if (o->ns != NULL && *o->ns != '\0') {
		if (in->ns != NULL && strcmp(in->ns, o->ns) != 0) {
			util_errf(
			        err, errlen,
			        "metadata.namespace: the Secret is in namespace \"%s\", not \"%s\" "
			        "as given",
			        in->ns, o->ns);
			return CF_EINVAL;
		}
		in->ns = o->ns;
	}
	ann = in->ann != NULL ? json_deep_copy(in->ann) : json_object();
	if (ann == NULL)
		return CF_ENOMEM;
	(void)json_object_del(ann, SS_LAST_APPLIED);
	(void)json_object_del(ann, SS_LAST_APPLIED_KS);
	if (o->scope_given && o->scope != KSEAL_STRICT) {
		(void)json_object_del(ann, SS_ANN_NAMESPACE);
		(void)json_object_del(ann, SS_ANN_CLUSTER);
		if (set_new(ann, o->scope == KSEAL_CLUSTER_WIDE ? SS_ANN_CLUSTER : SS_ANN_NAMESPACE,
		            json_string("true")) < 0) {
			json_decref(ann);
			return CF_ENOMEM;
		}
	}
	scope = annotations_scope(ann);
	if (scope != KSEAL_CLUSTER_WIDE && in->ns == NULL)
		in->ns = SS_DEFAULT_NAMESPACE;
	*ret_ann = ann;
	*ret_scope = scope;
	return 0;
}

/* The SealedSecret without its items; *ret_enc is its (borrowed, empty)
 * spec.encryptedData. */
static int
sealed_new(const struct ss_input *in, const json_t *ann, enum kseal_scope scope, json_t **ret,
           json_t **ret_enc)
{
	json_t *out = json_object(), *top = json_object(), *spec = json_object();
	json_t *tmpl = json_object(), *enc = json_object(), *tmeta = NULL;
	int r = CF_ENOMEM, bad;

	/* set_new() takes the reference even when it fails: nothing leaks */
	bad = set_new(spec, "template", tmpl) < 0;
	bad |= set_new(spec, "encryptedData", enc) < 0;
	bad |= set_new(out, "kind", json_string(SS_KIND)) < 0;
	bad |= set_new(out, "apiVersion", json_string(SS_API_VERSION)) < 0;
	bad |= set_new(out, "metadata", top) < 0;
	bad |= set_new(out, "spec", spec) < 0;
	if (bad)
		goto out;
	if (set_new(top, "name", json_string(in->name)) < 0 ||
	    (in->ns != NULL && set_new(top, "namespace", json_string(in->ns)) < 0) ||
	    set_new(top, "creationTimestamp", json_null()) < 0)
		goto out;
	if (scope != KSEAL_STRICT) {
		json_t *a = json_object();

		if (set_new(top, "annotations", a) < 0 ||
		    set_new(a, scope == KSEAL_CLUSTER_WIDE ? SS_ANN_CLUSTER : SS_ANN_NAMESPACE,
		            json_string("true")) < 0)
			goto out;
	}
	r = template_meta(in->meta, in->name, in->ns, ann, &tmeta);
	if (r < 0)
		goto out;
	r = set_new(tmpl, "metadata", tmeta);
	if (r == 0 && in->type != NULL)
		r = set_new(tmpl, "type", json_string(in->type));
	if (r == 0 && json_is_boolean(in->imm))
		r = set_new(tmpl, "immutable", json_incref(in->imm));
	if (r < 0)
		goto out;
	*ret = out;
	*ret_enc = enc;
	out = NULL;
out:
	json_decref(out);
	return r;
}

/* Seals every item into enc under label. */
static int
items_seal(const struct kseal_key *cert, const char *label, const struct ss_item *items, size_t n,
           json_t *enc, char *err, size_t errlen)
{
	uint8_t *ct;
	size_t ctlen;
	char *b64;
	int r;

	for (size_t i = 0; i < n; i++) {
		r = kseal_encrypt(cert, label, strlen(label), items[i].bytes, items[i].len, &ct,
		                  &ctlen);
		if (r < 0) {
			util_errf(err, errlen, "%s.%s: cannot seal it: %s",
			          items[i].owned ? "data" : "stringData", items[i].key,
			          cf_strerror(r));
			return r;
		}
		b64 = util_b64_encode(ct, ctlen);
		free(ct);
		if (b64 == NULL || json_object_set_new(enc, items[i].key, json_string(b64)) != 0) {
			free(b64);
			return CF_ENOMEM;
		}
		free(b64);
	}
	return 0;
}

int
ss_seal(const struct kseal_key *cert, const json_t *secret, const struct ss_seal_opts *o,
        json_t **ret, char *err, size_t errlen)
{
	struct ss_input in;
	json_t *ann = NULL, *out = NULL, *enc;
	struct ss_item *items = NULL;
	size_t nitems = 0;
	enum kseal_scope scope;
	char *label = NULL;
	int r;

	r = secret_read(secret, &in, err, errlen);
	if (r < 0)
		goto out;
	r = secret_items(secret, &items, &nitems, err, errlen);
	if (r < 0)
		goto out;
	if (nitems == 0 && !o->allow_empty) {
		r = CF_EINVAL;
		util_errf(err, errlen,
		          "data: the Secret has no items (data and stringData are empty); allow "
		          "empty data to seal it anyway");
		goto out;
	}
	r = secret_resolve(&in, o, &ann, &scope, err, errlen);
	if (r < 0)
		goto out;
	r = label_of(scope, in.ns, in.name, &label);
	if (r < 0)
		goto out;
	r = sealed_new(&in, ann, scope, &out, &enc);
	if (r < 0)
		goto out;
	r = items_seal(cert, label, items, nitems, enc, err, errlen);
	if (r < 0)
		goto out;
	*ret = out;
	out = NULL;
out:
	json_decref(out);
	json_decref(ann);
	items_free(items, nitems);
	free(label);
	return r;
}

/* ---- reading a SealedSecret ---- */

/* The parts of a checked SealedSecret (borrowed). */
struct ss_doc {
	const char *name, *ns;
	json_t *meta, *ann, *spec, *tmpl, *enc;
	enum kseal_scope scope;
};

static int
doc_read(const json_t *sealed, struct ss_doc *d, char *err, size_t errlen)
{
	const char *kind, *apiv, *k;
	json_t *v, *data;
	int r;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(sealed)) {
		util_errf(err, errlen, "the input is not an object (a SealedSecret)");
		return CF_EINVAL;
	}
	r = str_member(sealed, "", "kind", &kind, err, errlen);
	if (r < 0)
		return r;
	if (kind == NULL || strcmp(kind, SS_KIND) != 0) {
		util_errf(err, errlen, "kind: %s%s%s, not a SealedSecret", kind ? "\"" : "",
		          kind ? kind : "missing", kind ? "\"" : "");
		return CF_EINVAL;
	}
	r = str_member(sealed, "", "apiVersion", &apiv, err, errlen);
	if (r < 0)
		return r;
	if (apiv == NULL || strcmp(apiv, SS_API_VERSION) != 0) {
		util_errf(err, errlen, "apiVersion: %s%s%s, a SealedSecret is %s", apiv ? "\"" : "",
		          apiv ? apiv : "missing", apiv ? "\"" : "", SS_API_VERSION);
		return CF_EINVAL;
	}
	r = obj_member(sealed, "", "metadata", &d->meta, err, errlen);
	if (r == 0)
		r = str_member(d->meta, "metadata.", "name", &d->name, err, errlen);
	if (r == 0)
		r = str_member(d->meta, "metadata.", "namespace", &d->ns, err, errlen);
	if (r == 0)
		r = obj_member(d->meta, "metadata.", "annotations", &d->ann, err, errlen);
	if (r == 0)
		r = string_map_check(d->ann, "metadata.annotations", err, errlen);
	if (r == 0)
		r = obj_member(sealed, "", "spec", &d->spec, err, errlen);
	if (r < 0)
		return r;
	if (d->name == NULL || *d->name == '\0') {
		util_errf(err, errlen, "metadata.name: missing");
		return CF_EINVAL;
	}
	if (d->spec == NULL) {
		util_errf(err, errlen, "spec: missing");
		return CF_EINVAL;
	}
	data = json_object_get(d->spec, "data");
	if (data != NULL && !json_is_null(data)) {
		util_errf(err, errlen,
		          "spec.data: the deprecated single-blob format is not supported; seal the "
		          "Secret again (spec.encryptedData)");
		return CF_EINVAL;
	}
	r = obj_member(d->spec, "spec.", "template", &d->tmpl, err, errlen);
	if (r == 0)
		r = obj_member(d->spec, "spec.", "encryptedData", &d->enc, err, errlen);
	if (r == 0 && d->tmpl != NULL) {
		json_t *tmeta, *tann, *tlabels;
		const char *type;

		r = obj_member(d->tmpl, "spec.template.", "metadata", &tmeta, err, errlen);
		if (r == 0)
			r = obj_member(tmeta, "spec.template.metadata.", "annotations", &tann, err,
			               errlen);
		if (r == 0)
			r = string_map_check(tann, "spec.template.metadata.annotations", err,
			                     errlen);
		if (r == 0)
			r = obj_member(tmeta, "spec.template.metadata.", "labels", &tlabels, err,
			               errlen);
		if (r == 0)
			r = string_map_check(tlabels, "spec.template.metadata.labels", err, errlen);
		if (r == 0)
			r = str_member(d->tmpl, "spec.template.", "type", &type, err, errlen);
	}
	if (r < 0)
		return r;
	if (d->enc == NULL) {
		util_errf(err, errlen, "spec.encryptedData: missing");
		return CF_EINVAL;
	}
	json_object_foreach(d->enc, k, v)
	{
		uint8_t *b;
		size_t n;

		if (!json_is_string(v)) {
			util_errf(err, errlen, "spec.encryptedData.%s: not a string", k);
			return CF_EINVAL;
		}
		r = b64_value(v, &b, &n);
		if (r == CF_EINVAL)
			util_errf(err, errlen, "spec.encryptedData.%s: invalid base64", k);
		if (r < 0)
			return r;
		free(b); /* sealed bytes: no secret */
	}
	d->scope = annotations_scope(d->ann);
	return 0;
}

int
ss_scope(const json_t *sealed, enum kseal_scope *ret_scope, char **ret_label, char *err,
         size_t errlen)
{
	struct ss_doc d;
	char *label;
	int r;

	r = doc_read(sealed, &d, err, errlen);
	if (r < 0)
		return r;
	if (ret_label != NULL) {
		r = label_of(d.scope, d.ns, d.name, &label);
		if (r < 0)
			return r;
		*ret_label = label;
	}
	if (ret_scope != NULL)
		*ret_scope = d.scope;
	return 0;
}

/* Opens one item; the error names it. *ret (wiped by the caller) has a NUL
 * after *ret_len bytes. */
static int
item_open(struct kseal_key *const *keys, size_t n, const struct ss_doc *d, const char *label,
          const char *key, const json_t *v, uint8_t **ret, size_t *ret_len, size_t *ret_index,
          char *err, size_t errlen)
{
	uint8_t *ct = NULL;
	size_t ctlen = 0, rlen;
	int r;

	r = b64_value(v, &ct, &ctlen);
	if (r < 0) {
		if (r == CF_EINVAL)
			util_errf(err, errlen, "spec.encryptedData.%s: invalid base64", key);
		return r;
	}
	rlen = ctlen >= 2 ? ((size_t)ct[0] << 8 | ct[1]) : 0;
	if (ctlen < 2 || rlen == 0 || ctlen - 2 < rlen + KSEAL_TAG_BYTES) {
		r = CF_EINVAL;
		util_errf(err, errlen,
		          "spec.encryptedData.%s: truncated or not a sealed value (%zu bytes)", key,
		          ctlen);
		goto out;
	}
	r = kseal_decrypt(keys, n, label, strlen(label), ct, ctlen, ret, ret_len, ret_index);
	if (r == CF_EINVAL)
		util_errf(err, errlen,
		          "spec.encryptedData.%s: no key could decrypt it (it was sealed to a "
		          "%zu-bit RSA key and no private key of that size was given)",
		          key, rlen * 8);
	else if (r == CF_ECRYPTO)
		util_errf(
		        err, errlen,
		        "spec.encryptedData.%s: no key could decrypt it (scope %s, label \"%s\"): "
		        "a wrong key, or a value sealed for another name, namespace or scope, or "
		        "tampered with",
		        key, kseal_scope_name(d->scope), label);
	else if (r < 0)
		util_errf(err, errlen, "spec.encryptedData.%s: %s", key, cf_strerror(r));
out:
	free(ct);
	return r;
}

/* The ownerReference to the SealedSecret. */
static json_t *
owner_ref(const json_t *meta, const char *name)
{
	json_t *ref = json_object(), *arr = json_array();
	const char *uid = json_string_value(json_object_get(meta, "uid"));

	if (ref == NULL || arr == NULL || json_array_append_new(arr, ref) != 0) {
		json_decref(ref);
		json_decref(arr);
		return NULL;
	}
	if (json_object_set_new(ref, "apiVersion", json_string(SS_API_VERSION)) != 0 ||
	    json_object_set_new(ref, "kind", json_string(SS_KIND)) != 0 ||
	    json_object_set_new(ref, "name", json_string(name)) != 0 ||
	    (uid != NULL && *uid != '\0' &&
	     json_object_set_new(ref, "uid", json_string(uid)) != 0) ||
	    json_object_set_new(ref, "controller", json_true()) != 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* The Secret's metadata: name and namespace forced, then the template's
 * metadata, then the ownerReference unless the template skips it. */
static int
secret_meta(const struct ss_doc *d, json_t **ret)
{
	json_t *tmeta = json_object_get(d->tmpl, "metadata"), *out = json_object(), *v;
	json_t *tann = json_object_get(tmeta, "annotations");
	const char *k, *skip = json_string_value(json_object_get(tann, SS_ANN_SKIP_OWNER));
	bool own = skip == NULL || strcmp(skip, "true") != 0;
	int r = CF_ENOMEM;

	if (out == NULL || json_object_set_new(out, "name", json_string(d->name)) != 0)
		goto out;
	if (d->ns != NULL && *d->ns != '\0' &&
	    json_object_set_new(out, "namespace", json_string(d->ns)) != 0)
		goto out;
	if (json_is_object(tmeta)) {
		json_object_foreach(tmeta, k, v)
		{
			if (strcmp(k, "name") == 0 || strcmp(k, "namespace") == 0 ||
			    (own && strcmp(k, "ownerReferences") == 0))
				continue;
			if (json_object_set_new(out, k, json_deep_copy(v)) != 0)
				goto out;
		}
	}
	if (own && json_object_set_new(out, "ownerReferences", owner_ref(d->meta, d->name)) != 0)
		goto out;
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	return r;
}

/* Opens every item of d into a new object of key -> base64 plaintext. */
static int
open_all(struct kseal_key *const *keys, size_t n, const struct ss_doc *d, json_t **ret, char *err,
         size_t errlen)
{
	json_t *data = json_object(), *v;
	const char *k;
	char *label = NULL;
	int r;

	if (data == NULL)
		return CF_ENOMEM;
	r = label_of(d->scope, d->ns, d->name, &label);
	if (r < 0)
		goto out;
	json_object_foreach(d->enc, k, v)
	{
		uint8_t *pt;
		size_t ptlen;
		char *b64;

		r = item_open(keys, n, d, label, k, v, &pt, &ptlen, NULL, err, errlen);
		if (r < 0)
			goto out;
		b64 = util_b64_encode(pt, ptlen);
		secmem_free(pt, ptlen + 1);
		r = CF_ENOMEM;
		if (b64 == NULL || json_object_set_new(data, k, json_string(b64)) != 0) {
			secmem_free_str(b64);
			goto out;
		}
		secmem_free_str(b64);
	}
	*ret = data;
	data = NULL;
	r = 0;
out:
	json_decref(data);
	free(label);
	return r;
}

int
ss_unseal(struct kseal_key *const *keys, size_t n, const json_t *sealed, json_t **ret, char *err,
          size_t errlen)
{
	json_t *out = NULL, *meta = NULL, *data = NULL, *tdata, *v, *type, *imm, *sorted = NULL;
	struct ss_doc d;
	const char *k;
	int r;

	r = doc_read(sealed, &d, err, errlen);
	if (r < 0)
		return r;
	/* spec.template.data: Go templates over the items. Rendering them is
	 * not supported; dropping them silently would hand out a Secret
	 * without keys the manifest asks for. A null entry only removes an item. */
	tdata = json_object_get(d.tmpl, "data");
	if (tdata != NULL && !json_is_null(tdata)) {
		if (!json_is_object(tdata)) {
			util_errf(err, errlen, "spec.template.data: not an object");
			return CF_EINVAL;
		}
		json_object_foreach(tdata, k, v)
		{
			if (!json_is_null(v)) {
				util_errf(
				        err, errlen,
				        "spec.template.data.%s: templated keys (Go templates) are "
				        "not supported by coffer unseal",
				        k);
				return CF_EINVAL;
			}
		}
	}
	r = open_all(keys, n, &d, &data, err, errlen);
	if (r < 0)
		goto out;
	json_object_foreach(tdata, k, v)(void) json_object_del(data, k);
	r = secret_meta(&d, &meta);
	if (r < 0)
		goto out;
	r = CF_ENOMEM;
	sorted = sorted_copy(data);
	out = json_object();
	if (sorted == NULL || out == NULL ||
	    json_object_set_new(out, "kind", json_string("Secret")) != 0 ||
	    json_object_set_new(out, "apiVersion", json_string("v1")) != 0 ||
	    json_object_set(out, "metadata", meta) != 0)
		goto out;
	imm = json_object_get(d.tmpl, "immutable");
	if (json_is_boolean(imm) && json_object_set(out, "immutable", imm) != 0)
		goto out;
	if (json_object_set(out, "data", sorted) != 0)
		goto out;
	type = json_object_get(d.tmpl, "type");
	if (json_is_string(type) && json_object_set(out, "type", type) != 0)
		goto out;
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	json_decref(meta);
	json_decref(data);
	json_decref(sorted);
	return r;
}

int
ss_reseal(struct kseal_key *const *keys, size_t n, const struct kseal_key *to, const json_t *sealed,
          json_t **ret, char *err, size_t errlen)
{
	json_t *out = NULL, *enc = NULL, *v;
	struct ss_doc d;
	const char *k;
	char *label = NULL;
	int r;

	r = doc_read(sealed, &d, err, errlen);
	if (r < 0)
		return r;
	r = label_of(d.scope, d.ns, d.name, &label);
	if (r < 0)
		return r;
	r = CF_ENOMEM;
	enc = json_object();
	if (enc == NULL)
		goto out;
	json_object_foreach(d.enc, k, v)
	{
		uint8_t *pt, *ct;
		size_t ptlen, ctlen;
		char *b64;

		r = item_open(keys, n, &d, label, k, v, &pt, &ptlen, NULL, err, errlen);
		if (r < 0)
			goto out;
		r = kseal_encrypt(to, label, strlen(label), pt, ptlen, &ct, &ctlen);
		secmem_free(pt, ptlen + 1);
		if (r < 0) {
			util_errf(err, errlen, "spec.encryptedData.%s: cannot seal it again: %s", k,
			          cf_strerror(r));
			goto out;
		}
		b64 = util_b64_encode(ct, ctlen);
		free(ct);
		r = CF_ENOMEM;
		if (b64 == NULL || json_object_set_new(enc, k, json_string(b64)) != 0) {
			free(b64);
			goto out;
		}
		free(b64);
	}
	r = CF_ENOMEM;
	out = json_deep_copy(sealed);
	if (out == NULL)
		goto out;
	{
		json_t *meta = json_object_get(out, "metadata");
		json_t *spec = json_object_get(out, "spec");

		(void)json_object_del(meta, "generation");
		(void)json_object_del(meta, "deletionTimestamp");
		if (json_object_set_new(meta, "creationTimestamp", json_null()) != 0 ||
		    json_object_set(spec, "encryptedData", enc) != 0)
			goto out;
	}
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	json_decref(enc);
	free(label);
	return r;
}

int
ss_key_usage(struct kseal_key *const *keys, size_t n, const json_t *sealed, json_t **ret, char *err,
             size_t errlen)
{
	json_t *out = NULL, *v;
	struct ss_doc d;
	const char *k;
	char *label = NULL;
	int r;

	r = doc_read(sealed, &d, err, errlen);
	if (r < 0)
		return r;
	r = label_of(d.scope, d.ns, d.name, &label);
	if (r < 0)
		return r;
	r = CF_ENOMEM;
	out = json_object();
	if (out == NULL)
		goto out;
	json_object_foreach(d.enc, k, v)
	{
		uint8_t *pt;
		size_t ptlen, idx = 0;
		json_t *which;

		r = item_open(keys, n, &d, label, k, v, &pt, &ptlen, &idx, NULL, 0);
		if (r == CF_ENOMEM)
			goto out;
		if (r == 0) {
			secmem_free(pt, ptlen + 1);
			which = json_integer((json_int_t)idx);
		} else
			which = json_null();
		r = CF_ENOMEM;
		if (json_object_set_new(out, k, which) != 0)
			goto out;
	}
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	free(label);
	return r;
}

/* Copies every member of from (may be NULL) into the object parent[key],
 * creating it when missing. */
static int
merge_map(json_t *parent, const char *key, const json_t *from)
{
	json_t *to;

	if (json_object_size(from) == 0)
		return 0;
	to = json_object_get(parent, key);
	if (!json_is_object(to)) {
		to = json_object();
		if (to == NULL || json_object_set_new(parent, key, to) != 0)
			return CF_ENOMEM;
	}
	return json_object_update(to, (json_t *)from) == 0 ? 0 : CF_ENOMEM;
}

int
ss_merge(json_t *existing, const json_t *fresh, char *err, size_t errlen)
{
	struct ss_doc e, f;
	json_t *etm, *ftm;
	int r;

	r = doc_read(existing, &e, err, errlen);
	if (r < 0)
		return r;
	r = doc_read(fresh, &f, err, errlen);
	if (r < 0)
		return r;
	r = merge_map(e.spec, "encryptedData", f.enc);
	if (r < 0)
		return r;
	ftm = json_object_get(f.tmpl, "metadata");
	if (json_object_size(ftm) == 0 && json_object_size(json_object_get(f.tmpl, "data")) == 0)
		return 0;
	if (e.tmpl == NULL) {
		e.tmpl = json_object();
		if (e.tmpl == NULL || json_object_set_new(e.spec, "template", e.tmpl) != 0)
			return CF_ENOMEM;
	}
	etm = json_object_get(e.tmpl, "metadata");
	if (!json_is_object(etm)) {
		etm = json_object();
		if (etm == NULL || json_object_set_new(e.tmpl, "metadata", etm) != 0)
			return CF_ENOMEM;
	}
	r = merge_map(etm, "annotations", json_object_get(ftm, "annotations"));
	if (r == 0)
		r = merge_map(etm, "labels", json_object_get(ftm, "labels"));
	if (r == 0)
		r = merge_map(e.tmpl, "data", json_object_get(f.tmpl, "data"));
	return r;
}
