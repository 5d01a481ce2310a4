/* test_sealedsecret.c - Secret <-> SealedSecret manifests as kubeseal writes
 * them and the controller opens them: the manifest shape, round trips in every
 * scope, where the scope is read from, stringData over data, the template
 * cleanup (no plaintext left in last-applied-configuration), the unsealed
 * Secret's ownerReference, re-sealing, which key opens each item, merging, and
 * errors that name the field and never a value. Two RSA-2048 keys per run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/kseal.h"
#include "crypto/sealedsecret.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define TTL_10Y (INT64_C(10) * 365 * 86400)

/* base64 of "pa\0ss\xff" (binary data) and a stringData value */
#define BIN_B64     "cGEAc3P/"
#define USER_STR    "admin \xc3\xa9"
#define SECRET_WORD "hunter2-do-not-leak"

static struct kseal_key *k1, *k2;

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	jsonx_init();
	if (kseal_key_generate(2048, "", TTL_10Y, &k1) < 0 ||
	    kseal_key_generate(2048, "", TTL_10Y, &k2) < 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	kseal_key_free(k1);
	kseal_key_free(k2);
	return 0;
}

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s (line %d)", e.text, e.line);
	return j;
}

static const char *
sget(const json_t *j, const char *path)
{
	/* dotted path with '|' as separator (keys hold dots) */
	char buf[512], *p, *next;
	const json_t *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf; p != NULL && v != NULL; p = next) {
		next = strchr(p, '|');
		if (next != NULL)
			*next++ = '\0';
		v = json_object_get(v, p);
	}
	return json_string_value(v);
}

static json_t *
jget(const json_t *j, const char *path)
{
	char buf[512], *p, *next;
	json_t *v = (json_t *)j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf; p != NULL && v != NULL; p = next) {
		next = strchr(p, '|');
		if (next != NULL)
			*next++ = '\0';
		v = json_object_get(v, p);
	}
	return v;
}

static const char base_secret[] = "{\"apiVersion\": \"v1\", \"kind\": \"Secret\","
                                  " \"metadata\": {\"name\": \"db\", \"namespace\": \"prod\","
                                  "   \"labels\": {\"app\": \"web\", \"tier\": \"back\"}},"
                                  " \"type\": \"Opaque\","
                                  " \"data\": {\"password\": \"" BIN_B64 "\", \"user\": \"b2xk\"},"
                                  " \"stringData\": {\"user\": \"" USER_STR "\", \"a-key\": \"\"}}";

static json_t *
seal_opts(const struct kseal_key *k, const char *text, const struct ss_seal_opts *o)
{
	json_t *in = parse(text), *out = NULL;
	char err[256] = "";

	if (ss_seal(k, in, o, &out, err, sizeof(err)) != 0)
		fail_msg("ss_seal: %s", err);
	json_decref(in);
	return out;
}

static json_t *
seal_scope(const char *text, enum kseal_scope s)
{
	struct ss_seal_opts o = {.scope_given = true, .scope = s};

	return seal_opts(k1, text, &o);
}

static int
unseal(struct kseal_key *k, const json_t *sealed, json_t **ret, char *err, size_t errlen)
{
	return ss_unseal(&k, 1, sealed, ret, err, errlen);
}

/* the items of a Secret as they were given: data decoded, stringData wins */
static void
check_items(const json_t *secret)
{
	json_t *data = json_object_get(secret, "data");

	assert_int_equal(json_object_size(data), 3);
	assert_string_equal(sget(data, "password"), BIN_B64);
	{
		char *want = util_b64_encode(USER_STR, strlen(USER_STR));

		assert_string_equal(sget(data, "user"), want);
		free(want);
	}
	assert_string_equal(sget(data, "a-key"), "");
}

/* ---- shape ---- */

static void
test_ss_manifest_shape(void **state)
{
	json_t *s = seal_scope(base_secret, KSEAL_STRICT), *enc, *v;
	const char *k, *order[] = {"a-key", "password", "user"};
	size_t i = 0;
	char *dump;

	(void)state;
	assert_string_equal(sget(s, "kind"), "SealedSecret");
	assert_string_equal(sget(s, "apiVersion"), "bitnami.com/v1alpha1");
	assert_string_equal(sget(s, "metadata|name"), "db");
	assert_string_equal(sget(s, "metadata|namespace"), "prod");
	assert_true(json_is_null(jget(s, "metadata|creationTimestamp")));
	/* strict: no annotation at the top */
	assert_null(jget(s, "metadata|annotations"));
	assert_int_equal(json_object_size(jget(s, "metadata")), 3);
	/* the template: the Secret's metadata, type */
	assert_string_equal(sget(s, "spec|template|metadata|name"), "db");
	assert_string_equal(sget(s, "spec|template|metadata|namespace"), "prod");
	assert_string_equal(sget(s, "spec|template|metadata|labels|app"), "web");
	assert_true(json_is_null(jget(s, "spec|template|metadata|creationTimestamp")));
	assert_string_equal(sget(s, "spec|template|type"), "Opaque");
	assert_null(jget(s, "spec|template|immutable"));
	assert_null(jget(s, "spec|template|data"));
	/* one item per key, in key order, each a 2048-bit value ("AQ": 01 00) */
	enc = jget(s, "spec|encryptedData");
	assert_int_equal(json_object_size(enc), 3);
	json_object_foreach(enc, k, v)
	{
		uint8_t *b;
		size_t n;

		assert_string_equal(k, order[i]);
		assert_memory_equal(json_string_value(v), "AQ", 2);
		assert_int_equal(util_b64_decode(json_string_value(v), &b, &n), 0);
		assert_int_equal(n, 2 + 256 + (i == 0 ? 0 : i == 1 ? 6 : strlen(USER_STR)) + 16);
		free(b);
		i++;
	}
	/* the JSON keys in kubeseal's order */
	dump = json_dumps(s, JSON_COMPACT);
	assert_non_null(strstr(dump, "{\"kind\":\"SealedSecret\",\"apiVersion\":"));
	assert_non_null(strstr(dump, "\"spec\":{\"template\":"));
	assert_non_null(strstr(dump, "\"metadata\":{\"name\":\"db\",\"namespace\":\"prod\","
	                             "\"creationTimestamp\":null}"));
	free(dump);
	json_decref(s);
}

/* ---- scopes ---- */

static void
test_ss_round_trip_scopes(void **state)
{
	enum kseal_scope scopes[] = {KSEAL_STRICT, KSEAL_NAMESPACE_WIDE, KSEAL_CLUSTER_WIDE};
	const char *labels[] = {"prod/db", "prod", ""};
	char err[512];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		json_t *s = seal_scope(base_secret, scopes[i]), *out = NULL;
		enum kseal_scope got;
		char *label;

		assert_int_equal(ss_scope(s, &got, &label, err, sizeof(err)), 0);
		assert_int_equal(got, scopes[i]);
		assert_string_equal(label, labels[i]);
		free(label);
		/* the scope annotation on the top-level metadata and in the template */
		if (scopes[i] == KSEAL_NAMESPACE_WIDE) {
			assert_string_equal(sget(s, "metadata|annotations|" SS_ANN_NAMESPACE),
			                    "true");
			assert_string_equal(
			        sget(s, "spec|template|metadata|annotations|" SS_ANN_NAMESPACE),
			        "true");
			assert_int_equal(json_object_size(jget(s, "metadata|annotations")), 1);
		} else if (scopes[i] == KSEAL_CLUSTER_WIDE) {
			assert_string_equal(sget(s, "metadata|annotations|" SS_ANN_CLUSTER),
			                    "true");
			assert_string_equal(
			        sget(s, "spec|template|metadata|annotations|" SS_ANN_CLUSTER),
			        "true");
		}
		assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
		check_items(out);
		assert_string_equal(sget(out, "kind"), "Secret");
		assert_string_equal(sget(out, "apiVersion"), "v1");
		assert_string_equal(sget(out, "metadata|name"), "db");
		assert_string_equal(sget(out, "metadata|namespace"), "prod");
		assert_string_equal(sget(out, "metadata|labels|tier"), "back");
		assert_string_equal(sget(out, "type"), "Opaque");
		/* the other key does not open it */
		json_decref(out);
		out = NULL;
		assert_int_equal(unseal(k2, s, &out, err, sizeof(err)), CF_ECRYPTO);
		assert_null(out);
		assert_non_null(strstr(err, "no key could decrypt"));
		json_decref(s);
	}
}

/* Renames and moves a sealed manifest, then unseals it. */
static int
moved(const json_t *s, const char *name, const char *ns, char *err, size_t errlen)
{
	json_t *c = json_deep_copy(s), *out = NULL, *meta = json_object_get(c, "metadata");
	int r;

	if (name != NULL)
		json_object_set_new(meta, "name", json_string(name));
	if (ns != NULL)
		json_object_set_new(meta, "namespace", json_string(ns));
	r = unseal(k1, c, &out, err, errlen);
	if (r == 0) {
		/* the Secret takes the SealedSecret's name and namespace */
		assert_string_equal(sget(out, "metadata|name"), sget(c, "metadata|name"));
		assert_string_equal(sget(out, "metadata|namespace"), sget(c, "metadata|namespace"));
		check_items(out);
	}
	json_decref(out);
	json_decref(c);
	return r;
}

static void
test_ss_scopes_bind(void **state)
{
	json_t *strict = seal_scope(base_secret, KSEAL_STRICT);
	json_t *nsw = seal_scope(base_secret, KSEAL_NAMESPACE_WIDE);
	json_t *cw = seal_scope(base_secret, KSEAL_CLUSTER_WIDE);
	char err[512];

	(void)state;
	assert_int_equal(moved(strict, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(moved(strict, "db2", NULL, err, sizeof(err)), CF_ECRYPTO);
	assert_non_null(strstr(err, "scope strict"));
	assert_non_null(strstr(err, "prod/db2"));
	assert_non_null(strstr(err, "spec.encryptedData."));
	assert_int_equal(moved(strict, NULL, "staging", err, sizeof(err)), CF_ECRYPTO);
	assert_non_null(strstr(err, "staging/db"));

	assert_int_equal(moved(nsw, "db2", NULL, err, sizeof(err)), 0);
	assert_int_equal(moved(nsw, NULL, "staging", err, sizeof(err)), CF_ECRYPTO);
	assert_non_null(strstr(err, "scope namespace-wide"));

	assert_int_equal(moved(cw, "db2", "staging", err, sizeof(err)), 0);
	assert_int_equal(moved(cw, "x", "y", err, sizeof(err)), 0);

	/* the scope is read from the top-level metadata, not from the template:
	 * without the top annotation a namespace-wide value is read as strict */
	{
		json_t *c = json_deep_copy(nsw), *out = NULL;

		json_object_del(jget(c, "metadata"), "annotations");
		assert_string_equal(sget(c, "spec|template|metadata|annotations|" SS_ANN_NAMESPACE),
		                    "true");
		assert_int_equal(unseal(k1, c, &out, err, sizeof(err)), CF_ECRYPTO);
		assert_non_null(strstr(err, "scope strict"));
		json_decref(c);
		/* and a cluster-wide annotation in the template alone changes nothing */
		c = json_deep_copy(strict);
		json_object_set_new(jget(c, "spec|template|metadata"), "annotations",
		                    parse("{\"" SS_ANN_CLUSTER "\": \"true\"}"));
		assert_int_equal(moved(c, NULL, NULL, err, sizeof(err)), 0);
		json_decref(c);
	}
	/* cluster-wide wins when both annotations are there; only "true" counts */
	{
		json_t *c = json_deep_copy(cw);
		enum kseal_scope s;

		json_object_set_new(jget(c, "metadata|annotations"), SS_ANN_NAMESPACE,
		                    json_string("true"));
		assert_int_equal(ss_scope(c, &s, NULL, err, sizeof(err)), 0);
		assert_int_equal(s, KSEAL_CLUSTER_WIDE);
		assert_int_equal(moved(c, "z", "w", err, sizeof(err)), 0);
		json_object_set_new(jget(c, "metadata|annotations"), SS_ANN_CLUSTER,
		                    json_string("True"));
		assert_int_equal(ss_scope(c, &s, NULL, err, sizeof(err)), 0);
		assert_int_equal(s, KSEAL_NAMESPACE_WIDE);
		json_decref(c);
	}
	json_decref(strict);
	json_decref(nsw);
	json_decref(cw);
}

static void
test_ss_scope_from_input(void **state)
{
	/* no --scope: the Secret's own annotation decides; --scope strict too */
	static const char annotated[] =
	        "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"n\","
	        " \"annotations\": {\"" SS_ANN_NAMESPACE "\": \"true\"}},"
	        " \"stringData\": {\"k\": \"v\"}}";
	struct ss_seal_opts none = {0}, strict = {.scope_given = true, .scope = KSEAL_STRICT};
	struct ss_seal_opts cw = {.scope_given = true, .scope = KSEAL_CLUSTER_WIDE};
	json_t *s;
	enum kseal_scope got;
	char *label, err[256];

	(void)state;
	s = seal_opts(k1, annotated, &none);
	assert_int_equal(ss_scope(s, &got, &label, err, sizeof(err)), 0);
	assert_int_equal(got, KSEAL_NAMESPACE_WIDE);
	/* no namespace in the Secret: "default" */
	assert_string_equal(label, "default");
	assert_string_equal(sget(s, "metadata|namespace"), "default");
	free(label);
	json_decref(s);
	s = seal_opts(k1, annotated, &strict);
	assert_int_equal(ss_scope(s, &got, NULL, err, sizeof(err)), 0);
	assert_int_equal(got, KSEAL_NAMESPACE_WIDE);
	json_decref(s);
	/* a given scope replaces the annotation */
	s = seal_opts(k1, annotated, &cw);
	assert_int_equal(ss_scope(s, &got, &label, err, sizeof(err)), 0);
	assert_int_equal(got, KSEAL_CLUSTER_WIDE);
	assert_string_equal(label, "");
	free(label);
	/* cluster-wide without a namespace has none */
	assert_null(jget(s, "metadata|namespace"));
	assert_null(jget(s, "spec|template|metadata|namespace"));
	assert_null(jget(s, "spec|template|metadata|annotations|" SS_ANN_NAMESPACE));
	{
		json_t *out = NULL;

		assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
		assert_null(jget(out, "metadata|namespace"));
		assert_string_equal(sget(out, "data|k"), "dg==");
		json_decref(out);
	}
	json_decref(s);
	/* name and namespace from the options */
	{
		struct ss_seal_opts o = {.name = "other", .ns = "team"};
		json_t *out = NULL;

		s = seal_opts(k1, annotated, &o);
		assert_string_equal(sget(s, "metadata|name"), "other");
		assert_string_equal(sget(s, "metadata|namespace"), "team");
		assert_string_equal(sget(s, "spec|template|metadata|name"), "other");
		assert_string_equal(sget(s, "spec|template|metadata|namespace"), "team");
		assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
		json_decref(out);
		json_decref(s);
	}
}

/* ---- items ---- */

static void
test_ss_stringdata_wins(void **state)
{
	static const char both[] =
	        "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"n\","
	        " \"namespace\": \"ns\"}, \"data\": {\"k\": \"b2xk\", \"only\": \"AAEC\"},"
	        " \"stringData\": {\"k\": \"new\"}}";
	json_t *s = seal_scope(both, KSEAL_STRICT), *out = NULL;
	char err[256];

	(void)state;
	assert_int_equal(json_object_size(jget(s, "spec|encryptedData")), 2);
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	assert_string_equal(sget(out, "data|k"), "bmV3"); /* "new", not "old" */
	assert_string_equal(sget(out, "data|only"), "AAEC");
	json_decref(out);
	json_decref(s);
	/* base64 folded over lines (a YAML block scalar): the breaks are skipped */
	s = seal_scope("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	               " {\"name\": \"n\"}, \"data\": {\"k\": \"AAEC\\nAwQF\\r\\n\"}}",
	               KSEAL_STRICT);
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	assert_string_equal(sget(out, "data|k"), "AAECAwQF");
	json_decref(out);
	json_decref(s);
}

static void
test_ss_template_cleanup(void **state)
{
	static const char applied[] =
	        "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {"
	        "  \"name\": \"db\", \"namespace\": \"prod\", \"uid\": \"1234-5678\","
	        "  \"resourceVersion\": \"42\", \"selfLink\": \"/api/v1/x\", \"generation\": 3,"
	        "  \"creationTimestamp\": \"2024-01-01T00:00:00Z\","
	        "  \"deletionTimestamp\": \"2024-01-02T00:00:00Z\","
	        "  \"deletionGracePeriodSeconds\": 30, \"generateName\": \"db-\","
	        "  \"finalizers\": [\"x/y\"],"
	        "  \"ownerReferences\": [{\"apiVersion\": \"v1\", \"kind\": \"Pod\","
	        "    \"name\": \"p\", \"uid\": \"9\"}],"
	        "  \"annotations\": {\"keep\": \"me\","
	        "    \"kubectl.kubernetes.io/last-applied-configuration\":"
	        "      \"{\\\"stringData\\\":{\\\"pw\\\":\\\"" SECRET_WORD "\\\"}}\","
	        "    \"kubecfg.ksonnet.io/last-applied-configuration\": \"" SECRET_WORD "\"}},"
	        " \"immutable\": true, \"type\": \"kubernetes.io/basic-auth\","
	        " \"stringData\": {\"pw\": \"" SECRET_WORD "\"}}";
	json_t *s = seal_scope(applied, KSEAL_STRICT), *tm = jget(s, "spec|template|metadata");
	json_t *out = NULL;
	const char *gone[] = {"uid",
	                      "resourceVersion",
	                      "selfLink",
	                      "generation",
	                      "deletionTimestamp",
	                      "deletionGracePeriodSeconds",
	                      "ownerReferences"};
	char *dump, err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		assert_null(json_object_get(tm, gone[i]));
	assert_true(json_is_null(json_object_get(tm, "creationTimestamp")));
	assert_string_equal(sget(tm, "generateName"), "db-");
	assert_string_equal(json_string_value(json_array_get(json_object_get(tm, "finalizers"), 0)),
	                    "x/y");
	assert_int_equal(json_object_size(json_object_get(tm, "annotations")), 1);
	assert_string_equal(sget(tm, "annotations|keep"), "me");
	assert_true(json_is_true(jget(s, "spec|template|immutable")));
	assert_string_equal(sget(s, "spec|template|type"), "kubernetes.io/basic-auth");
	/* the plaintext is nowhere in the manifest */
	dump = json_dumps(s, 0);
	assert_null(strstr(dump, SECRET_WORD));
	assert_null(strstr(dump, "last-applied"));
	assert_null(strstr(dump, "1234-5678"));
	free(dump);
	/* type, immutable and the kept metadata come back in the Secret */
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	assert_true(json_is_true(json_object_get(out, "immutable")));
	assert_string_equal(sget(out, "type"), "kubernetes.io/basic-auth");
	assert_string_equal(sget(out, "metadata|annotations|keep"), "me");
	assert_string_equal(sget(out, "metadata|generateName"), "db-");
	dump = json_dumps(out, JSON_COMPACT);
	assert_non_null(strstr(dump, "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{"
	                             "\"name\":\"db\",\"namespace\":\"prod\","));
	free(dump);
	json_decref(out);
	json_decref(s);
}

static void
test_ss_owner_reference(void **state)
{
	json_t *s = seal_scope(base_secret, KSEAL_NAMESPACE_WIDE), *out = NULL, *refs, *ref;
	char err[256];

	(void)state;
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	refs = jget(out, "metadata|ownerReferences");
	assert_int_equal(json_array_size(refs), 1);
	ref = json_array_get(refs, 0);
	assert_string_equal(sget(ref, "apiVersion"), "bitnami.com/v1alpha1");
	assert_string_equal(sget(ref, "kind"), "SealedSecret");
	assert_string_equal(sget(ref, "name"), "db");
	assert_true(json_is_true(json_object_get(ref, "controller")));
	assert_null(json_object_get(ref, "uid"));
	json_decref(out);
	/* with the SealedSecret's uid (as read back from a cluster) */
	json_object_set_new(jget(s, "metadata"), "uid", json_string("abc-123"));
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	assert_string_equal(sget(json_array_get(jget(out, "metadata|ownerReferences"), 0), "uid"),
	                    "abc-123");
	json_decref(out);
	/* skipped when the template says so ("true" only) */
	json_object_set_new(jget(s, "spec|template|metadata|annotations"), SS_ANN_SKIP_OWNER,
	                    json_string("true"));
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	assert_null(jget(out, "metadata|ownerReferences"));
	assert_string_equal(sget(out, "metadata|annotations|" SS_ANN_SKIP_OWNER), "true");
	json_decref(out);
	json_object_set_new(jget(s, "spec|template|metadata|annotations"), SS_ANN_SKIP_OWNER,
	                    json_string("false"));
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(jget(out, "metadata|ownerReferences")), 1);
	json_decref(out);
	json_decref(s);
}

/* ---- refusals ---- */

static void
expect_seal_error(const char *text, const struct ss_seal_opts *o, const char *field)
{
	json_t *in = parse(text), *out = NULL;
	char err[256] = "";

	assert_int_equal(ss_seal(k1, in, o, &out, err, sizeof(err)), CF_EINVAL);
	assert_null(out);
	if (strncmp(err, field, strlen(field)) != 0)
		fail_msg("want an error starting with \"%s\", got \"%s\"", field, err);
	assert_null(strstr(err, SECRET_WORD));
	assert_null(strchr(err, '\n'));
	json_decref(in);
}

static void
test_ss_seal_refusals(void **state)
{
	struct ss_seal_opts none = {0}, empty_ok = {.allow_empty = true};
	struct ss_seal_opts other_ns = {.ns = "other"};

	(void)state;
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\":"
	                  " {\"name\": \"n\"}, \"data\": {\"k\": \"" SECRET_WORD "\"}}",
	                  &none, "kind: \"ConfigMap\"");
	expect_seal_error("{\"apiVersion\": \"v1\", \"metadata\": {\"name\": \"n\"}}", &none,
	                  "kind: missing");
	expect_seal_error("{\"apiVersion\": \"v2\", \"kind\": \"Secret\"}", &none, "apiVersion");
	expect_seal_error("[1]", &none, "the input is not an object");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {},"
	                  " \"stringData\": {\"k\": \"" SECRET_WORD "\"}}",
	                  &none, "metadata.name: missing");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                  " {\"name\": 5}}",
	                  &none, "metadata.name: not a string");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                  " {\"name\": \"n\"}, \"data\": {\"pw\": \"" SECRET_WORD "!\"}}",
	                  &none, "data.pw: invalid base64");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                  " {\"name\": \"n\"}, \"stringData\": {\"pw\": 12}}",
	                  &none, "stringData.pw: not a string");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                  " {\"name\": \"n\"}, \"data\": [\"x\"]}",
	                  &none, "data: not an object");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                  " {\"name\": \"n\"}, \"data\": {}}",
	                  &none, "data: the Secret has no items");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                  " {\"name\": \"n\", \"namespace\": \"prod\"},"
	                  " \"stringData\": {\"k\": \"v\"}}",
	                  &other_ns, "metadata.namespace: the Secret is in namespace \"prod\"");
	expect_seal_error("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                  " {\"name\": \"n\", \"annotations\": {\"a\": 1}},"
	                  " \"stringData\": {\"k\": \"v\"}}",
	                  &none, "metadata.annotations.a: not a string");
	/* empty data is fine when allowed */
	{
		json_t *s = seal_opts(k1,
		                      "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
		                      " {\"name\": \"n\"}}",
		                      &empty_ok),
		       *out = NULL;
		char err[256];

		assert_int_equal(json_object_size(jget(s, "spec|encryptedData")), 0);
		assert_true(json_is_object(jget(s, "spec|encryptedData")));
		assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
		assert_int_equal(json_object_size(json_object_get(out, "data")), 0);
		json_decref(out);
		json_decref(s);
	}
	/* a value over the limit */
	{
		size_t n = KSEAL_MAX_VALUE + 1;
		char *big = malloc(n + 1);
		json_t *in = parse("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
		                   " {\"name\": \"n\"}, \"stringData\": {}}"),
		       *out = NULL;
		char err[256];

		memset(big, 'a', n);
		big[n] = '\0';
		json_object_set_new(json_object_get(in, "stringData"), "big", json_string(big));
		assert_int_equal(ss_seal(k1, in, &none, &out, err, sizeof(err)), CF_EINVAL);
		assert_non_null(strstr(err, "stringData.big"));
		free(big);
		json_decref(in);
	}
}

static void
expect_sealed_error(const json_t *s, int want, const char *field)
{
	json_t *out = NULL;
	char err[512] = "";

	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), want);
	assert_null(out);
	if (strstr(err, field) != err)
		fail_msg("want an error starting with \"%s\", got \"%s\"", field, err);
	assert_null(strchr(err, '\n'));
}

static void
test_ss_unseal_refusals(void **state)
{
	json_t *s = seal_scope(base_secret, KSEAL_STRICT), *c;
	const char *k;
	json_t *v;

	(void)state;
	c = json_deep_copy(s);
	json_object_set_new(c, "kind", json_string("Secret"));
	expect_sealed_error(c, CF_EINVAL, "kind: \"Secret\", not a SealedSecret");
	json_decref(c);
	c = json_deep_copy(s);
	json_object_set_new(c, "apiVersion", json_string("bitnami.com/v1"));
	expect_sealed_error(c, CF_EINVAL, "apiVersion");
	json_decref(c);
	c = json_deep_copy(s);
	json_object_del(jget(c, "metadata"), "name");
	expect_sealed_error(c, CF_EINVAL, "metadata.name: missing");
	json_decref(c);
	c = json_deep_copy(s);
	json_object_del(jget(c, "spec"), "encryptedData");
	expect_sealed_error(c, CF_EINVAL, "spec.encryptedData: missing");
	json_decref(c);
	c = json_deep_copy(s);
	json_object_set_new(jget(c, "spec|encryptedData"), "user", json_string("AgB*"));
	expect_sealed_error(c, CF_EINVAL, "spec.encryptedData.user: invalid base64");
	json_decref(c);
	c = json_deep_copy(s);
	json_object_set_new(jget(c, "spec|encryptedData"), "user", json_integer(3));
	expect_sealed_error(c, CF_EINVAL, "spec.encryptedData.user: not a string");
	json_decref(c);
	/* the deprecated single blob */
	c = json_deep_copy(s);
	json_object_set_new(jget(c, "spec"), "data", json_string("AgBxyz=="));
	expect_sealed_error(c, CF_EINVAL, "spec.data: the deprecated");
	json_decref(c);
	/* Go templates in spec.template.data are refused, not dropped */
	c = json_deep_copy(s);
	json_object_set_new(jget(c, "spec|template"), "data",
	                    parse("{\"dsn\": \"postgres://{{ .user }}@db\"}"));
	expect_sealed_error(c, CF_EINVAL, "spec.template.data.dsn: templated keys");
	json_decref(c);
	/* a null entry only removes that item */
	{
		json_t *out = NULL;
		char err[256];

		c = json_deep_copy(s);
		json_object_set_new(jget(c, "spec|template"), "data", parse("{\"user\": null}"));
		assert_int_equal(unseal(k1, c, &out, err, sizeof(err)), 0);
		assert_null(jget(out, "data|user"));
		assert_non_null(jget(out, "data|password"));
		json_decref(out);
		json_decref(c);
	}
	/* truncated and tampered values */
	c = json_deep_copy(s);
	json_object_set_new(jget(c, "spec|encryptedData"), "user", json_string("AQA="));
	expect_sealed_error(c, CF_EINVAL, "spec.encryptedData.user: truncated");
	json_decref(c);
	c = json_deep_copy(s);
	json_object_foreach(jget(c, "spec|encryptedData"), k, v)
	{
		if (strcmp(k, "password") == 0) {
			uint8_t *b;
			size_t n;
			char *t;

			assert_int_equal(util_b64_decode(json_string_value(v), &b, &n), 0);
			b[n - 3] ^= 0x40;
			t = util_b64_encode(b, n);
			json_string_set(v, t);
			free(t);
			free(b);
		}
	}
	expect_sealed_error(c, CF_ECRYPTO, "spec.encryptedData.password: no key could decrypt it");
	json_decref(c);
	/* sealed to a key of a size we do not have */
	{
		json_t *out = NULL;
		char err[512];
		struct kseal_key *none[1];

		assert_int_equal(ss_unseal(none, 0, s, &out, err, sizeof(err)), CF_EINVAL);
		assert_non_null(strstr(err, "2048-bit"));
	}
	json_decref(s);
}

/* ---- reseal, key usage, merge ---- */

static void
test_ss_reseal(void **state)
{
	json_t *s = seal_scope(base_secret, KSEAL_NAMESPACE_WIDE), *r = NULL, *out = NULL;
	struct kseal_key *both[2] = {k2, k1};
	char err[256];

	(void)state;
	json_object_set_new(jget(s, "metadata"), "generation", json_integer(4));
	json_object_set_new(jget(s, "metadata"), "creationTimestamp",
	                    json_string("2024-01-01T00:00:00Z"));
	assert_int_equal(ss_reseal(both, 2, k2, s, &r, err, sizeof(err)), 0);
	assert_null(jget(r, "metadata|generation"));
	assert_true(json_is_null(jget(r, "metadata|creationTimestamp")));
	assert_string_equal(sget(r, "metadata|annotations|" SS_ANN_NAMESPACE), "true");
	assert_true(json_equal(jget(r, "spec|template"), jget(s, "spec|template")));
	assert_int_equal(json_object_size(jget(r, "spec|encryptedData")), 3);
	assert_string_not_equal(sget(r, "spec|encryptedData|user"),
	                        sget(s, "spec|encryptedData|user"));
	/* the new key opens it, the old one no longer does; the input is as it was */
	assert_int_equal(unseal(k2, r, &out, err, sizeof(err)), 0);
	check_items(out);
	json_decref(out);
	out = NULL;
	assert_int_equal(unseal(k1, r, &out, err, sizeof(err)), CF_ECRYPTO);
	assert_int_equal(unseal(k1, s, &out, err, sizeof(err)), 0);
	json_decref(out);
	json_decref(r);
	r = NULL;
	/* items the keys do not open: an error, nothing returned */
	assert_int_equal(ss_reseal(&k2, 1, k2, s, &r, err, sizeof(err)), CF_ECRYPTO);
	assert_null(r);
	assert_non_null(strstr(err, "spec.encryptedData."));
	json_decref(s);
}

static void
test_ss_key_usage_and_merge(void **state)
{
	static const char one[] = "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                          " {\"name\": \"db\", \"namespace\": \"prod\","
	                          "  \"labels\": {\"a\": \"1\"}},"
	                          " \"stringData\": {\"old\": \"o\", \"both\": \"b1\"}}";
	static const char two[] = "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\":"
	                          " {\"name\": \"db\", \"namespace\": \"prod\","
	                          "  \"labels\": {\"b\": \"2\"}, \"annotations\": {\"x\": \"y\"}},"
	                          " \"stringData\": {\"new\": \"n\", \"both\": \"b2\"}}";
	struct ss_seal_opts none = {0};
	json_t *e = seal_opts(k1, one, &none), *f = seal_opts(k2, two, &none), *u = NULL;
	json_t *out = NULL;
	struct kseal_key *keys[2] = {k1, k2};
	char err[256];

	(void)state;
	json_object_set_new(jget(f, "spec|template"), "data", parse("{\"t\": \"{{ .new }}\"}"));
	assert_int_equal(ss_merge(e, f, err, sizeof(err)), 0);
	assert_int_equal(json_object_size(jget(e, "spec|encryptedData")), 3);
	assert_string_equal(sget(e, "spec|encryptedData|both"), sget(f, "spec|encryptedData|both"));
	assert_string_equal(sget(e, "spec|template|metadata|labels|a"), "1");
	assert_string_equal(sget(e, "spec|template|metadata|labels|b"), "2");
	assert_string_equal(sget(e, "spec|template|metadata|annotations|x"), "y");
	assert_string_equal(sget(e, "spec|template|data|t"), "{{ .new }}");

	/* which key opens each item */
	assert_int_equal(ss_key_usage(keys, 2, e, &u, err, sizeof(err)), 0);
	assert_int_equal(json_object_size(u), 3);
	assert_int_equal(json_integer_value(json_object_get(u, "old")), 0);
	assert_int_equal(json_integer_value(json_object_get(u, "both")), 1);
	assert_int_equal(json_integer_value(json_object_get(u, "new")), 1);
	json_decref(u);
	assert_int_equal(ss_key_usage(&k2, 1, e, &u, err, sizeof(err)), 0);
	assert_true(json_is_null(json_object_get(u, "old")));
	assert_int_equal(json_integer_value(json_object_get(u, "new")), 0);
	json_decref(u);
	/* renamed: nothing opens */
	json_object_set_new(jget(e, "metadata"), "name", json_string("db2"));
	assert_int_equal(ss_key_usage(keys, 2, e, &u, err, sizeof(err)), 0);
	assert_true(json_is_null(json_object_get(u, "both")));
	json_decref(u);
	json_object_set_new(jget(e, "metadata"), "name", json_string("db"));

	/* the merged file unseals with both keys, except for the template data */
	json_object_del(jget(e, "spec|template"), "data");
	assert_int_equal(ss_unseal(keys, 2, e, &out, err, sizeof(err)), 0);
	assert_string_equal(sget(out, "data|both"), "YjI=");
	assert_string_equal(sget(out, "data|old"), "bw==");
	json_decref(out);

	/* not SealedSecrets */
	{
		json_t *bad = parse("{\"kind\": \"Secret\"}");

		assert_int_equal(ss_key_usage(keys, 2, bad, &u, err, sizeof(err)), CF_EINVAL);
		assert_int_equal(ss_merge(e, bad, err, sizeof(err)), CF_EINVAL);
		assert_int_equal(ss_merge(bad, f, err, sizeof(err)), CF_EINVAL);
		json_decref(bad);
	}
	json_decref(e);
	json_decref(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ss_manifest_shape),
	        cmocka_unit_test(test_ss_round_trip_scopes),
	        cmocka_unit_test(test_ss_scopes_bind),
	        cmocka_unit_test(test_ss_scope_from_input),
	        cmocka_unit_test(test_ss_stringdata_wins),
	        cmocka_unit_test(test_ss_template_cleanup),
	        cmocka_unit_test(test_ss_owner_reference),
	        cmocka_unit_test(test_ss_seal_refusals),
	        cmocka_unit_test(test_ss_unseal_refusals),
	        cmocka_unit_test(test_ss_reseal),
	        cmocka_unit_test(test_ss_key_usage_and_merge),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
