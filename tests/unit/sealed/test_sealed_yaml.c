/* test_sealed_yaml.c - the manifest reader (YAML and JSON documents into
 * jansson objects, go-yaml v2's scalar rules, aliases, merges, errors with
 * line and column) and the writers (kubeseal's -o yaml and -o json shapes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "tools/sealed/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vec {
	const char *in;
	const char *json; /* the documents as compact JSON with sorted keys */
};

/* clang-format off */
static const struct vec read_vectors[] = {
	/* one document, scalars as go-yaml v2 resolves them */
	{ "a: 1\nb: x\nc: \"1\"\nd: true\ne: yes\nf: Off\ng: ~\nh:\ni: 1.5\nj: 0x1F\nk: 0755\nl: 1_000\n",
	  "[{\"a\":1,\"b\":\"x\",\"c\":\"1\",\"d\":true,\"e\":true,\"f\":false,\"g\":null,\"h\":null,"
	  "\"i\":1.5,\"j\":31,\"k\":493,\"l\":1000}]" },
	/* quoted, block and tagged scalars are strings */
	{ "a: 'yes'\nb: !!str 5\nc: |\n  x\n  y\nd: >-\n  p\n  q\ne: .inf\nf: 1e3\n",
	  "[{\"a\":\"yes\",\"b\":\"5\",\"c\":\"x\\ny\\n\",\"d\":\"p q\",\"e\":\".inf\",\"f\":1000.0}]" },
	/* several documents, empty ones skipped */
	{ "---\na: 1\n---\n---\nb: 2\n...\n---\n# only a comment\n",
	  "[{\"a\":1},{\"b\":2}]" },
	/* sequences, nested, flow style */
	{ "l:\n- a\n- k: v\n  k2: [1, 2]\n- - x\nm: {p: q}\n",
	  "[{\"l\":[\"a\",{\"k\":\"v\",\"k2\":[1,2]},[\"x\"]],\"m\":{\"p\":\"q\"}}]" },
	/* anchors, aliases and merge keys (explicit keys win) */
	{ "base: &b {x: 1, y: 2}\ncopy: *b\nm:\n  <<: *b\n  y: 3\ns: &s str\nt: *s\n",
	  "[{\"base\":{\"x\":1,\"y\":2},\"copy\":{\"x\":1,\"y\":2},\"m\":{\"x\":1,\"y\":3},"
	  "\"s\":\"str\",\"t\":\"str\"}]" },
	{ "a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm:\n  <<: [*a, *b]\n",
	  "[{\"a\":{\"x\":1},\"b\":{\"x\":2,\"z\":3},\"m\":{\"x\":1,\"z\":3}}]" },
	/* a quoted "<<" is an ordinary key */
	{ "\"<<\": 1\n", "[{\"<<\":1}]" },
	/* JSON: one object, several, with spaces between */
	{ "{\"kind\": \"Secret\", \"data\": {\"k\": \"AAEC/w==\"}}",
	  "[{\"data\":{\"k\":\"AAEC/w==\"},\"kind\":\"Secret\"}]" },
	{ "{\"a\":1}{\"b\":2}\n\n {\"c\":[1,{}]}\n", "[{\"a\":1},{\"b\":2},{\"c\":[1,{}]}]" },
	/* YAML flow mapping that is not JSON */
	{ "{a: b}\n", "[{\"a\":\"b\"}]" },
	/* escapes, UTF-8, NUL inside a value */
	{ "a: \"t\\tq\\\"\\u00e9\\0\"\nb: é\n", "[{\"a\":\"t\\tq\\\"\\u00E9\\u0000\",\"b\":\"\\u00E9\"}]" },
	/* byte order mark */
	{ "\xef\xbb\xbf" "a: 1\n", "[{\"a\":1}]" },
};

struct err_vec {
	const char *in;
	int code;
	const char *err; /* expected error text (prefix) */
};

static const struct err_vec error_vectors[] = {
	{ "", CF_EINVAL, "no document" },
	{ "# nothing\n", CF_EINVAL, "no document" },
	{ "a: 1\na: 2\n", CF_EINVAL, "line 2, column 1: duplicate key \"a\"" },
	{ "a: [1\n", CF_EINVAL, "line 2, column 1: " },
	{ "a: b\n  c: d: e\n", CF_EINVAL, "line 1, column 4: " },
	{ "- a\n- b\n", CF_EINVAL, "line 1, column 1: a document is not a mapping" },
	{ "a: 1\n---\nplain\n", CF_EINVAL, "line 3, column 1: a document is not a mapping" },
	{ "a: *nope\n", CF_EINVAL, "line 1, column 5: alias of an unknown anchor" },
	{ "? [a]\n: b\n", CF_EINVAL, "line 1, column 3: a mapping key must be a scalar" },
	{ "m:\n  <<: 5\n", CF_EINVAL, "line 2, column 3: a merge key (<<) needs a mapping" },
	{ "{\"a\": 1, \"a\": 2}", CF_EINVAL, "line 1, column " },
	{ "{\"a\": 1}\n{\"b\": }\n", CF_EINVAL, "line 2, column 7: " },
	{ "{\"a\": 1}\n[1]\n", CF_EINVAL, "line 2, column 1: expected a JSON object" },
	{ "{\"a\": \n  [}", CF_EINVAL, "line 2, column " },
	{ "a: \"\\q\"\n", CF_EINVAL, "line 1, column 5: " },
	/* not printable UTF-8: refused before libfyaml sees it */
	{ "a: \x01\n", CF_EINVAL, "line 1, column 4: byte 0x01 is not printable UTF-8" },
	{ "a: b\nc: \xff\n", CF_EINVAL, "line 2, column 4: byte 0xff is not printable UTF-8" },
	{ "a: \xc3\n", CF_EINVAL, "line 1, column 4: byte 0xc3" },
	{ "%i\t\x01" "e\xef", CF_EINVAL, "line 1, column 4: byte 0x01" },
};
/* clang-format on */

static char *
read_json(const char *in, char *err, size_t errlen, int *ret_code)
{
	json_t *docs = NULL;
	char *s;

	*ret_code = yaml_read_docs(in, strlen(in), &docs, NULL, err, errlen);
	if (*ret_code < 0)
		return NULL;
	s = json_dumps(docs, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(docs);
	return s;
}

static void
test_sealed_yaml_read(void **state)
{
	char err[256];
	int r;

	(void)state;
	for (size_t i = 0; i < sizeof(read_vectors) / sizeof(read_vectors[0]); i++) {
		char *s = read_json(read_vectors[i].in, err, sizeof(err), &r);

		if (r != 0)
			fail_msg("vector %zu: %s", i, err);
		if (strcmp(s, read_vectors[i].json) != 0)
			fail_msg("vector %zu: got %s", i, s);
		free(s);
	}
}

static void
test_sealed_yaml_errors(void **state)
{
	char err[256];
	int r;

	(void)state;
	for (size_t i = 0; i < sizeof(error_vectors) / sizeof(error_vectors[0]); i++) {
		char *s;

		err[0] = '\0';
		s = read_json(error_vectors[i].in, err, sizeof(err), &r);
		if (s)
			fail_msg("vector %zu: accepted as %s", i, s);
		assert_int_equal(r, error_vectors[i].code);
		if (strncmp(err, error_vectors[i].err, strlen(error_vectors[i].err)) != 0)
			fail_msg("vector %zu: error \"%s\"", i, err);
		assert_null(strchr(err, '\n'));
	}
}

/* An alias bomb: nine levels of ten aliases each expand to 10^9 values. */
static void
test_sealed_yaml_alias_bomb(void **state)
{
	char in[2048], err[256];
	json_t *docs = NULL;
	size_t off = 0;
	int r;

	(void)state;
	off += (size_t)snprintf(in + off, sizeof(in) - off, "a0: &a0 [x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++) {
		off += (size_t)snprintf(in + off, sizeof(in) - off, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			off += (size_t)snprintf(in + off, sizeof(in) - off, "%s*a%d", j ? ", " : "",
			                        i - 1);
		off += (size_t)snprintf(in + off, sizeof(in) - off, "]\n");
	}
	r = yaml_read_docs(in, off, &docs, NULL, err, sizeof(err));
	assert_int_equal(r, CF_ETOOBIG);
	assert_non_null(strstr(err, "too many values"));
}

static void
test_sealed_yaml_depth(void **state)
{
	char in[YAML_MAX_DEPTH * 2 + 16], err[256];
	json_t *docs = NULL;
	size_t n = 0;
	int r;

	(void)state;
	n += (size_t)snprintf(in, sizeof(in), "a: ");
	for (int i = 0; i < YAML_MAX_DEPTH + 1; i++)
		in[n++] = '[';
	for (int i = 0; i < YAML_MAX_DEPTH + 1; i++)
		in[n++] = ']';
	r = yaml_read_docs(in, n, &docs, NULL, err, sizeof(err));
	assert_int_equal(r, CF_ETOOBIG);
	assert_non_null(strstr(err, "nested too deeply"));
}

static void
test_sealed_yaml_format(void **state)
{
	enum yaml_format f;
	json_t *docs = NULL;
	char err[256];

	(void)state;
	assert_int_equal(yaml_read_docs("{\"a\":1}", 7, &docs, &f, err, sizeof(err)), 0);
	assert_int_equal(f, YAML_FORMAT_JSON);
	json_decref(docs);
	assert_int_equal(yaml_read_docs("a: 1\n", 5, &docs, &f, err, sizeof(err)), 0);
	assert_int_equal(f, YAML_FORMAT_YAML);
	json_decref(docs);
}

static const char sealed_json[] =
        "{\"spec\":{\"encryptedData\":{\"user\":\"AgCx\",\"password\":\"AgB3\"},"
        "\"template\":{\"type\":\"Opaque\",\"metadata\":{\"labels\":{\"z\":\"1\",\"a\":\"true\"},"
        "\"creationTimestamp\":null,\"namespace\":\"default\",\"name\":\"mysecret\"}}},"
        "\"metadata\":{\"annotations\":{\"sealedsecrets.bitnami.com/namespace-wide\":\"true\"},"
        "\"creationTimestamp\":null,\"namespace\":\"default\",\"name\":\"mysecret\"},"
        "\"apiVersion\":\"bitnami.com/v1alpha1\",\"kind\":\"SealedSecret\"}";

static const char sealed_yaml_want[] = "---\n"
                                       "apiVersion: bitnami.com/v1alpha1\n"
                                       "kind: SealedSecret\n"
                                       "metadata:\n"
                                       "  annotations:\n"
                                       "    sealedsecrets.bitnami.com/namespace-wide: \"true\"\n"
                                       "  creationTimestamp: null\n"
                                       "  name: mysecret\n"
                                       "  namespace: default\n"
                                       "spec:\n"
                                       "  encryptedData:\n"
                                       "    password: AgB3\n"
                                       "    user: AgCx\n"
                                       "  template:\n"
                                       "    metadata:\n"
                                       "      creationTimestamp: null\n"
                                       "      labels:\n"
                                       "        a: \"true\"\n"
                                       "        z: \"1\"\n"
                                       "      name: mysecret\n"
                                       "      namespace: default\n"
                                       "    type: Opaque\n";

static const char sealed_json_want[] =
        "{\n"
        "  \"kind\": \"SealedSecret\",\n"
        "  \"apiVersion\": \"bitnami.com/v1alpha1\",\n"
        "  \"metadata\": {\n"
        "    \"name\": \"mysecret\",\n"
        "    \"namespace\": \"default\",\n"
        "    \"creationTimestamp\": null,\n"
        "    \"annotations\": {\n"
        "      \"sealedsecrets.bitnami.com/namespace-wide\": \"true\"\n"
        "    }\n"
        "  },\n"
        "  \"spec\": {\n"
        "    \"template\": {\n"
        "      \"metadata\": {\n"
        "        \"name\": \"mysecret\",\n"
        "        \"namespace\": \"default\",\n"
        "        \"creationTimestamp\": null,\n"
        "        \"labels\": {\n"
        "          \"a\": \"true\",\n"
        "          \"z\": \"1\"\n"
        "        }\n"
        "      },\n"
        "      \"type\": \"Opaque\"\n"
        "    },\n"
        "    \"encryptedData\": {\n"
        "      \"password\": \"AgB3\",\n"
        "      \"user\": \"AgCx\"\n"
        "    }\n"
        "  }\n"
        "}\n";

static void
test_sealed_yaml_write(void **state)
{
	json_t *doc = json_loads(sealed_json, 0, NULL);
	struct buf b = BUF_INIT(1 << 20, 0);

	(void)state;
	assert_non_null(doc);
	assert_int_equal(yaml_write_yaml(&b, doc), 0);
	assert_string_equal(buf_str(&b), sealed_yaml_want);
	buf_reset(&b);
	assert_int_equal(yaml_write_json(&b, doc), 0);
	assert_string_equal(buf_str(&b), sealed_json_want);
	buf_reset(&b);
	assert_int_equal(yaml_write(&b, doc, YAML_FORMAT_YAML), 0);
	assert_string_equal(buf_str(&b), sealed_yaml_want);
	buf_free(&b);
	json_decref(doc);
}

/* Lists under a key are not indented (go-yaml), list items that are maps
 * start on the dash line, strings that would read back as something else are
 * quoted. */
static void
test_sealed_yaml_write_shapes(void **state)
{
	json_t *doc = json_loads("{\"l\":[{\"b\":1,\"a\":[\"x\",[]]},[1,2],\"-x\",\"\"],"
	                         "\"s\":\"a: b\",\"n\":\"null\",\"i\":\"012\",\"f\":2.0,\"e\":{},"
	                         "\"q\":\"line\\none\",\"u\":\"caf\\u00e9\"}",
	                         0, NULL);
	struct buf b = BUF_INIT(1 << 20, 0);
	static const char want[] = "---\n"
	                           "e: {}\n"
	                           "f: 2.0\n"
	                           "i: \"012\"\n"
	                           "l:\n"
	                           "- a:\n"
	                           "  - x\n"
	                           "  - []\n"
	                           "  b: 1\n"
	                           "- - 1\n"
	                           "  - 2\n"
	                           "- \"-x\"\n"
	                           "- \"\"\n"
	                           "\"n\": \"null\"\n" /* n is a YAML 1.1 false */
	                           "q: \"line\\none\"\n"
	                           "s: \"a: b\"\n"
	                           "u: \"caf\xc3\xa9\"\n";

	(void)state;
	assert_non_null(doc);
	assert_int_equal(yaml_write_yaml(&b, doc), 0);
	assert_string_equal(buf_str(&b), want);
	buf_free(&b);
	json_decref(doc);
}

/* What the writers write reads back equal, for every read vector. */
static void
test_sealed_yaml_round_trip(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(read_vectors) / sizeof(read_vectors[0]); i++) {
		json_t *docs = NULL, *again = NULL, *doc;
		size_t j;

		assert_int_equal(yaml_read_docs(read_vectors[i].in, strlen(read_vectors[i].in),
		                                &docs, NULL, err, sizeof(err)),
		                 0);
		json_array_foreach(docs, j, doc)
		{
			for (int f = 0; f < 2; f++) {
				struct buf b = BUF_INIT(1 << 20, 0);

				assert_int_equal(
				        yaml_write(&b, doc,
				                   f ? YAML_FORMAT_YAML : YAML_FORMAT_JSON),
				        0);
				if (yaml_read_docs(buf_str(&b), buf_len(&b), &again, NULL, err,
				                   sizeof(err)) != 0)
					fail_msg("vector %zu: %s: %s", i, err, buf_str(&b));
				assert_int_equal(json_array_size(again), 1);
				if (!json_equal(json_array_get(again, 0), doc))
					fail_msg("vector %zu: changed: %s", i, buf_str(&b));
				json_decref(again);
				buf_free(&b);
			}
		}
		json_decref(docs);
	}
}

static void
test_sealed_yaml_cap(void **state)
{
	json_t *doc = json_loads(sealed_json, 0, NULL);
	struct buf b = BUF_INIT(64, 0);

	(void)state;
	assert_int_equal(yaml_write_json(&b, doc), CF_ETOOBIG);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(yaml_write_yaml(&b, doc), CF_ETOOBIG);
	buf_free(&b);
	json_decref(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sealed_yaml_read),
	        cmocka_unit_test(test_sealed_yaml_errors),
	        cmocka_unit_test(test_sealed_yaml_alias_bomb),
	        cmocka_unit_test(test_sealed_yaml_depth),
	        cmocka_unit_test(test_sealed_yaml_format),
	        cmocka_unit_test(test_sealed_yaml_write),
	        cmocka_unit_test(test_sealed_yaml_write_shapes),
	        cmocka_unit_test(test_sealed_yaml_round_trip),
	        cmocka_unit_test(test_sealed_yaml_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
