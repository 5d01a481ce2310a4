/* test_tmpl.c - the template language (tools/tmpl/tmpl.h): templates written
 * as in Vault Agent's and consul-template's documentation, rendered against a
 * fixed data source, with outputs derived by hand from Go's text/template,
 * fmt and encoding/json rules (no Go toolchain here to compare against);
 * parse and execution errors with their exact messages and positions; the
 * data source called once per distinct call; nothing left in the output
 * buffer when a render fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "tools/tmpl/tmpl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(v) (sizeof(v) / sizeof((v)[0]))

static int db_calls;

static const char *const responses[][2] = {
        {"secret/data/app",
         "{\"Data\":{\"data\":{\"password\":\"s3cr3t\",\"user\":\"app\",\"port\":5432,"
         "\"html\":\"<a&b>\",\"ratio\":0.25,\"tags\":[\"a\",\"b\"],\"nothing\":null,"
         "\"b64\":\"aGVsbG8=\",\"csv\":\" x,y,z \",\"on\":\"true\",\"n\":\"42\","
         "\"js\":\"{\\\"k\\\":[1,2]}\"},"
         "\"metadata\":{\"version\":3,\"created_time\":\"2024-01-01T00:00:00Z\"}},"
         "\"LeaseID\":\"\",\"LeaseDuration\":0,\"Renewable\":false}"},
        {"secret/app", "{\"Data\":{\"password\":\"v1pass\",\"ttl\":\"1h\"},\"LeaseID\":\"\","
                       "\"LeaseDuration\":3600,\"Renewable\":false}"},
        {"database/creds/readonly",
         "{\"Data\":{\"username\":\"v-token-readonly-abc\",\"password\":\"A1a-xyz\"},"
         "\"LeaseID\":\"database/creds/readonly/abc123\",\"LeaseDuration\":3600,"
         "\"Renewable\":true}"},
        {"pki/issue/example",
         "{\"Data\":{\"certificate\":\"-----BEGIN CERTIFICATE-----\\nC\\n-----END "
         "CERTIFICATE-----\",\"private_key\":\"KEY\",\"issuing_ca\":\"CA\",\"ca_chain\":[\"CA\"],"
         "\"serial_number\":\"01:02\"},\"LeaseID\":\"\",\"LeaseDuration\":0,\"Renewable\":false}"},
};

static int
source(void *ctx, const char *fn, const char *path, json_t *params, json_t **ret, struct buf *err)
{
	(void)ctx;
	if (strcmp(path, "secret/data/missing") == 0) {
		*ret = NULL;
		return 0;
	}
	if (strcmp(path, "secret/data/denied") == 0) {
		int r = buf_append_str(err, "permission denied");
		(void)r;
		return CF_EDENIED;
	}
	if (strcmp(path, "transit/echo") == 0) {
		*ret = json_pack("{s:O}", "Data", params);
		return 0;
	}
	if (strcmp(fn, "pkiCert") == 0 && strcmp(path, "pki/issue/example") != 0)
		return CF_ENOTFOUND;
	for (size_t i = 0; i < N(responses); i++)
		if (strcmp(responses[i][0], path) == 0) {
			if (strncmp(path, "database/", 9) == 0)
				db_calls++;
			*ret = json_loads(responses[i][1], 0, NULL);
			assert_non_null(*ret);
			return 0;
		}
	return CF_ENOTFOUND;
}

struct vec {
	const char *tpl;
	const char *want; /* output, or NULL when an error is expected */
	const char *err;  /* the exact error message */
	bool missing_error;
	const char *ld, *rd;
};

static const struct vec vecs[] = {
        /* Vault Agent documentation shapes */
        {"{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}", "s3cr3t"},
        {"{{- with secret \"secret/data/app\" -}}\nuser={{ .Data.data.user }}\npass={{ "
         ".Data.data.password }}\n{{- end }}\n",
         "user=app\npass=s3cr3t\n"},
        {"{{ with secret \"secret/app\" }}{{ .Data.password }}{{ end }}", "v1pass"},
        {"{{ with secret \"database/creds/readonly\" }}postgresql://{{ .Data.username }}:{{ "
         ".Data.password }}@db:5432/app{{ end }}",
         "postgresql://v-token-readonly-abc:A1a-xyz@db:5432/app"},
        {"{{ with secret \"database/creds/readonly\" }}{{ .LeaseID }} {{ .LeaseDuration }} {{ "
         ".Renewable }}{{ end }}",
         "database/creds/readonly/abc123 3600 true"},
        {"{{ with secret \"secret/data/app\" }}v{{ .Data.metadata.version }} {{ "
         ".Data.metadata.created_time }}{{ end }}",
         "v3 2024-01-01T00:00:00Z"},
        {"{{ with secret \"secret/data/app\" }}{{ range $k, $v := .Data.data }}{{ if not (eq $k "
         "\"js\" \"tags\") }}{{ $k }}={{ $v }}\n{{ end }}{{ end }}{{ end }}",
         "b64=aGVsbG8=\ncsv= x,y,z "
         "\nhtml=<a&b>\nn=42\nnothing=<nil>\non=true\npassword=s3cr3t\nport=5432\nratio=0.25\nuser="
         "app\n"},
        {"{{ with secret \"secret/data/app\" }}{{ range $i, $e := .Data.data.tags }}{{ $i }}:{{ $e "
         "}};{{ end }}{{ end }}",
         "0:a;1:b;"},
        {"{{ with secret \"secret/data/app\" }}{{ range .Data.data.tags }}[{{ . }}]{{ end }}{{ end "
         "}}",
         "[a][b]"},
        {"{{ range $x := .Nope }}x{{ else }}empty{{ end }}", "empty"},
        {"{{ with secret \"secret/data/missing\" }}yes{{ else }}no secret{{ end }}", "no secret"},
        {"{{ with secret \"pki/issue/example\" \"common_name=a.example.com\" \"ttl=24h\" }}{{ "
         ".Data.serial_number }}{{ end }}",
         "01:02"},
        {"{{ with pkiCert \"pki/issue/example\" \"common_name=a.example.com\" }}{{ .Cert }}|{{ "
         ".Key }}|{{ .CA }}|{{ index .CAChain 0 }}{{ end }}",
         "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----|KEY|CA|CA"},
        {"{{ with secret \"transit/echo\" \"b=2\" \"a=x=y\" }}{{ .Data | toJSON }}{{ end }}",
         "{\"a\":\"x=y\",\"b\":\"2\"}"},
        /* if / else if / else, comparisons, logic */
        {"{{ if eq 1 2 }}a{{ else if eq 2 2 }}b{{ else }}c{{ end }}", "b"},
        {"{{ if and 1 0 }}a{{ else }}{{ or 0 \"\" \"x\" }}{{ end }}", "x"},
        {"{{ and 1 \"\" 3 }}|{{ or 0 false }}|{{ and 1 2 }}", "|false|2"},
        {"{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2 }} {{ ne \"a\" \"b\" }}",
         "true true true false true"},
        {"{{ eq \"a\" \"b\" \"c\" \"a\" }}", "true"},
        {"{{ if .Missing }}yes{{ else }}no{{ end }}", "no"},
        {"{{ .Missing }}|{{ .Missing.Deeper }}", "<no value>|<no value>"},
        {"{{ with secret \"secret/data/app\" }}{{ .Data.data.nope }}{{ end }}", "<no value>"},
        {"{{ with secret \"secret/data/app\" }}{{ index .Data.data \"nope\" }}{{ end }}", "<nil>"},
        /* variables, pipelines, parentheses, $ */
        {"{{ $x := \"a\" }}{{ $x }}{{ $x = \"b\" }}{{ $x }}", "ab"},
        {"{{ $n := 0 }}{{ range $i, $e := split \",\" \"a,b,c\" }}{{ $n = $i }}{{ end }}{{ $n }}",
         "2"},
        {"{{ with secret \"secret/data/app\" }}{{ $.Nope }}{{ end }}", "<no value>"},
        {"{{ \"abc\" | toUpper | printf \"%s!\" }}", "ABC!"},
        {"{{ (secret \"secret/data/app\").Data.data.user }}", "app"},
        {"{{ len (split \",\" \"a,b,c\") }} {{ len \"héllo\" }}", "3 6"},
        {"{{ index (split \",\" \"a,b,c\") 1 }}", "b"},
        /* functions */
        {"{{ with secret \"secret/data/app\" }}{{ .Data.data.b64 | base64Decode }}{{ end }}",
         "hello"},
        {"{{ \"hello?\" | base64Encode }} {{ \"hello?\" | base64URLEncode }} {{ \"aGVsbG8_\" | "
         "base64URLDecode }}",
         "aGVsbG8/ aGVsbG8_ hello?"},
        {"{{ with secret \"secret/data/app\" }}{{ .Data.data | toJSON }}{{ end }}",
         "{\"b64\":\"aGVsbG8=\",\"csv\":\" x,y,z \",\"html\":\"\\u003ca\\u0026b\\u003e\","
         "\"js\":\"{\\\"k\\\":[1,2]}\",\"n\":\"42\",\"nothing\":null,\"on\":\"true\","
         "\"password\":\"s3cr3t\",\"port\":5432,\"ratio\":0.25,\"tags\":[\"a\",\"b\"],"
         "\"user\":\"app\"}"},
        {"{{ with secret \"secret/app\" }}{{ .Data | toJSONPretty }}{{ end }}",
         "{\n  \"password\": \"v1pass\",\n  \"ttl\": \"1h\"\n}"},
        {"{{ \"{\\\"a\\\":{\\\"b\\\":[1,{}],\\\"c\\\":[]}}\" | parseJSON | toJSONPretty }}",
         "{\n  \"a\": {\n    \"b\": [\n      1,\n      {}\n    ],\n    \"c\": []\n  }\n}"},
        {"{{ \"{\\\"b\\\":\\\"x\\\",\\\"a\\\":[1,\\\"y: "
         "z\\\"],\\\"c\\\":{\\\"d\\\":true,\\\"e\\\":\\\"\\\"}}\" | parseJSON | toYAML }}",
         "a:\n- 1\n- 'y: z'\nb: x\nc:\n  d: true\n  e: \"\""},
        {"{{ \"Hello World\" | toLower }} {{ \"hello wide world\" | toTitle }} [{{ \"  x \\n\" | "
         "trimSpace }}]",
         "hello world Hello Wide World [x]"},
        {"{{ \"a-b-c\" | replaceAll \"-\" \"_\" }} {{ join \"+\" (split \",\" \"a,b\") }}",
         "a_b_c a+b"},
        {"{{ with secret \"secret/data/app\" }}{{ range split \",\" .Data.data.csv }}<{{ . }}>{{ "
         "end }}{{ end }}",
         "<x><y><z>"},
        {"{{ contains \"b\" (split \",\" \"a,b\") }} {{ \"prod-db\" | hasPrefix \"prod\" }} {{ "
         "\"x.pem\" | hasSuffix \".key\" }}",
         "true true false"},
        {"{{ \"true\" | parseBool }} {{ \"42\" | parseInt }} {{ \"\" | parseInt }} {{ (\"[1,2]\" | "
         "parseJSON) }}",
         "true 42 0 [1 2]"},
        {"{{ env \"TMPL_TEST_ENV\" }}|{{ env \"TMPL_TEST_UNSET\" }}", "from-env|"},
        /* printf */
        {"{{ printf \"%s=%d %v %q %x %X\" \"k\" 42 true \"a\\\"b\" 255 \"hi\" }}",
         "k=42 true \"a\\\"b\" ff 6869"},
        {"{{ printf \"[%5s][%-5s][%05d][%.2f][%8.3f][%e][%g]\" \"ab\" \"ab\" 42 3.14159 2.5 "
         "1234.5678 0.000012 }}",
         "[   ab][ab   ][00042][3.14][   2.500][1.234568e+03][1.2e-05]"},
        {"{{ printf \"%d %s\" 1 }}|{{ printf \"%d\" 1 2 }}|{{ printf \"%d\" \"x\" }}|{{ printf "
         "\"%%\" }}",
         "1 %!s(MISSING)|1%!(EXTRA int=2)|%!d(string=x)|%"},
        {"{{ printf \"%v %v %v\" 1000000.0 0.5 (split \",\" \"a,b\") }}", "1e+06 0.5 [a b]"},
        {"{{ print \"a\" 1 2 \"b\" }}|{{ println \"a\" 1 }}", "a1 2b|a 1\n"},
        /* trimming, comments, literals, delimiters */
        {"a  {{- \"b\" -}}  \n c", "abc"},
        {"a {{/* a comment with \"quotes\" }} */}} b {{- /* trimmed */ -}} c", "a  bc"},
        {"{{ `raw\\n` }}{{ \"\\t\\u00e9\" }}{{ 0x1F }} {{ -3 }} {{ 1.5 }} {{ nil }} {{ true }}",
         "raw\\n\t\xc3\xa9"
         "31 -3 1.5 <nil> true"},
        {"[[ with secret \"secret/data/app\" ]][[ .Data.data.user ]]{{ not parsed }}[[ end ]]",
         "app{{ not parsed }}", NULL, false, "[[", "]]"},
        {"{{ with secret \"secret/data/missing\" }}a{{ else with secret \"secret/app\" }}{{ "
         ".Data.ttl }}{{ end }}",
         "1h"},
        {"{{ with secret \"secret/data/app\" }}\n{{- range $k, $v := .Data.metadata }}\n{{ $k }}: "
         "{{ $v }}\n{{- end }}\n{{ end }}",
         "\ncreated_time: 2024-01-01T00:00:00Z\nversion: 3\n"},
        {"{{ \"a\\u2028b\\u0001\\\\\" | toJSON }}", "\"a\\u2028b\\u0001\\\\\""},
        {"{{ toJSON 0.000001 }} {{ toJSON 1e21 }} {{ toJSON 100.0 }} {{ toJSON nil }}",
         "0.000001 1e+21 100 null"},
        {"{{ if true }}{{ $v := 1 }}{{ $v }}{{ end }}", "1"},
        {"{{ with $s := secret \"secret/app\" }}{{ $s.Data.ttl }}{{ end }}", "1h"},
        /* errors: parse */
        {"line one\n  {{ if }}", NULL, "t.tpl:2:6: missing value for if"},
        {"{{ nosuchfunc \"x\" }}", NULL, "t.tpl:1:4: function \"nosuchfunc\" not defined"},
        {"{{ with secret \"x\" }}\nbody", NULL, "t.tpl:2:5: unexpected EOF: with has no end"},
        {"{{ end }}", NULL, "t.tpl:1:4: unexpected {{end}}"},
        {"{{ $y }}", NULL, "t.tpl:1:4: undefined variable \"$y\""},
        {"{{ \"abc }}", NULL, "t.tpl:1:4: unterminated quoted string"},
        {"ab\n{{ .x", NULL, "t.tpl:2:1: unclosed action"},
        {"{{ (len \"x\" }}", NULL, "t.tpl:1:13: unclosed left paren"},
        {"{{ define \"x\" }}{{ end }}", NULL, "t.tpl:1:4: unsupported action \"define\""},
        {"{{ .a | .b }}", NULL, "t.tpl:1:9: non executable command in pipeline stage 2"},
        {"{{ if 1 }}{{ else }}{{ else }}{{ end }}", NULL,
         "t.tpl:1:24: expected end; found else in if"},
        {"{{ if true }}{{ $v := 1 }}{{ end }}{{ $v }}", NULL,
         "t.tpl:1:39: undefined variable \"$v\""},
        {"{{ printf(\"x\") }}", NULL, "t.tpl:1:10: unexpected \"(\" in operand"},
        {"[[ .x }}", NULL, "t.tpl:1:1: unclosed action", false, "[[", "]]"},
        /* errors: execution */
        {"x{{ with secret \"secret/data/app\" }}\n  {{ .Data.data.nope }}{{ end }}", NULL,
         "t.tpl:2:6: executing <.Data.data.nope>: map has no entry for key \"nope\"", true},
        {"{{ .Data.x }}", NULL, "t.tpl:1:4: executing <.Data.x>: map has no entry for key \"Data\"",
         true},
        {"{{ join \",\" }}", NULL,
         "t.tpl:1:4: executing <join \",\">: wrong number of args for join: want 2 got 1"},
        {"{{ \"a\" | toUpper \"b\" }}", NULL,
         "t.tpl:1:10: executing <toUpper \"b\">: wrong number of args for toUpper: want 1 got 2"},
        {"{{ toUpper true }}", NULL,
         "t.tpl:1:4: executing <toUpper true>: error calling toUpper: wrong type for value; "
         "expected string; got bool"},
        {"{{ join \",\" \"a\" }}", NULL,
         "t.tpl:1:4: executing <join \",\" \"a\">: error calling join: wrong type for value; "
         "expected []string; got string"},
        {"{{ \"!!\" | base64Decode }}", NULL,
         "t.tpl:1:11: executing <base64Decode>: error calling base64Decode: base64Decode: illegal "
         "base64 data at input byte 0"},
        {"{{ with secret \"secret/data/denied\" }}x{{ end }}", NULL,
         "t.tpl:1:9: executing <secret \"secret/data/denied\">: error calling secret: permission "
         "denied"},
        {"{{ secret \"secret/app\" \"novalue\" }}", NULL,
         "t.tpl:1:4: executing <secret \"secret/app\" \"novalue\">: error calling secret: "
         "argument 2 is not a key=value pair"},
        {"{{ lt 1 \"a\" }}", NULL,
         "t.tpl:1:4: executing <lt 1 \"a\">: error calling lt: incompatible types for comparison"},
        {"{{ \"x\".y }}", NULL, "t.tpl:1:7: unexpected \".\" in operand"},
        {"{{ with secret \"secret/app\" }}{{ index .Data \"nope\" }}{{ end }}", NULL,
         "t.tpl:1:34: executing <index .Data \"nope\">: error calling index: map has no entry for "
         "key \"nope\"",
         true},
        {"{{ $s := \"x\" }}{{ $s.y }}", NULL,
         "t.tpl:1:19: executing <$s.y>: can't evaluate field y in type string"},
        {"{{ range 5 }}{{ end }}", NULL, "t.tpl:1:10: executing <5>: range can't iterate over int"},
        {"{{ index (split \",\" \"a\") 3 }}", NULL,
         "t.tpl:1:4: executing <index (split \",\" \"a\") 3>: error calling index: index out of "
         "range: 3"},
        {"{{ parseInt \"x1\" }}", NULL,
         "t.tpl:1:4: executing <parseInt \"x1\">: error calling parseInt: not a base-10 integer"},
        /* a value that fails a function is not quoted: it may be a secret */
        {"{{ with secret \"secret/data/app\" }}{{ .Data.data.password | parseInt }}{{ end }}", NULL,
         "t.tpl:1:61: executing <parseInt>: error calling parseInt: not a base-10 integer"},
        {"{{ with secret \"secret/data/app\" }}{{ .Data.data.password | parseBool }}{{ end }}",
         NULL, "t.tpl:1:61: executing <parseBool>: error calling parseBool: not a boolean"},
        {"{{ file \"/nonexistent/tmpl-test\" }}", NULL,
         "t.tpl:1:4: executing <file \"/nonexistent/tmpl-test\">: error calling file: "
         "/nonexistent/tmpl-test: cannot be read"},
};

static void
test_tmpl_vectors(void **state)
{
	(void)state;
	setenv("TMPL_TEST_ENV", "from-env", 1);
	unsetenv("TMPL_TEST_UNSET");
	for (size_t i = 0; i < N(vecs); i++) {
		const struct vec *v = &vecs[i];
		struct tmpl_opts o = {v->ld, v->rd, v->missing_error};
		struct buf out = BUF_INIT(1u << 20, BUF_SECRET), err = BUF_INIT(4096, 0);
		struct tmpl *t = NULL;
		int r;

		r = tmpl_parse("t.tpl", v->tpl, strlen(v->tpl), &o, &t, &err);
		if (r == 0) {
			r = buf_append_str(&out, "PRE");
			assert_int_equal(r, 0);
			r = tmpl_render(t, source, NULL, &out, &err);
		}
		if (v->want != NULL) {
			if (r != 0)
				fail_msg("vector %zu: %s", i, buf_str(&err));
			if (strcmp(buf_str(&out) + 3, v->want) != 0)
				fail_msg("vector %zu: got [%s] want [%s]", i, buf_str(&out) + 3,
				         v->want);
		} else {
			/* a data source's own failure keeps its code */
			if (r != (strstr(v->tpl, "denied") != NULL ? CF_EDENIED : CF_EINVAL))
				fail_msg("vector %zu: r=%d out [%s]", i, r, buf_str(&out));
			if (strcmp(buf_str(&err), v->err) != 0)
				fail_msg("vector %zu: got error [%s] want [%s]", i, buf_str(&err),
				         v->err);
			/* nothing partial: the output is as it was before the render */
			assert_true(t == NULL || strcmp(buf_str(&out), "PRE") == 0);
		}
		tmpl_free(t);
		buf_free(&out);
		buf_free(&err);
	}
}

/* The same dynamic secret read twice in one render reaches the source once,
 * so both places see the same credentials (consul-template de-duplicates). */
static void
test_tmpl_dedup(void **state)
{
	const char *s =
	        "{{ with secret \"database/creds/readonly\" }}{{ .Data.username }}{{ end }} "
	        "{{ with secret \"database/creds/readonly\" }}{{ .Data.password }}{{ end }}";
	struct buf out = BUF_INIT(4096, BUF_SECRET);
	struct tmpl *t = NULL;

	(void)state;
	db_calls = 0;
	assert_int_equal(tmpl_parse("d", s, strlen(s), NULL, &t, NULL), 0);
	assert_int_equal(tmpl_render(t, source, NULL, &out, NULL), 0);
	assert_string_equal(buf_str(&out), "v-token-readonly-abc A1a-xyz");
	assert_int_equal(db_calls, 1);
	/* a new render asks again */
	buf_reset(&out);
	assert_int_equal(tmpl_render(t, source, NULL, &out, NULL), 0);
	assert_int_equal(db_calls, 2);
	tmpl_free(t);
	buf_free(&out);
}

/* The output cap is an error, and leaves the buffer empty. */
static void
test_tmpl_cap(void **state)
{
	const char *s = "{{ range split \",\" \"a,b,c,d,e,f\" }}0123456789{{ end }}";
	struct buf out = BUF_INIT(32, BUF_SECRET), err = BUF_INIT(256, 0);
	struct tmpl *t = NULL;

	(void)state;
	assert_int_equal(tmpl_parse("cap", s, strlen(s), NULL, &t, &err), 0);
	assert_int_equal(tmpl_render(t, source, NULL, &out, &err), CF_ETOOBIG);
	assert_int_equal(buf_len(&out), 0);
	assert_string_equal(buf_str(&err), "cap: rendered output is too large");
	tmpl_free(t);
	buf_free(&out);
	buf_free(&err);
}

/* Deep nesting is refused, not a stack overflow. */
static void
test_tmpl_depth(void **state)
{
	struct buf b = BUF_INIT(1u << 20, 0), err = BUF_INIT(256, 0);
	struct tmpl *t = NULL;
	int r;

	(void)state;
	for (int i = 0; i < 200; i++)
		r = buf_append_str(&b, "{{ if 1 }}");
	r = buf_append_str(&b, "x");
	assert_int_equal(r, 0);
	assert_int_equal(tmpl_parse("deep", buf_str(&b), buf_len(&b), NULL, &t, &err), CF_ETOOBIG);
	assert_null(t);
	buf_reset(&b);
	r = buf_append_str(&b, "{{ ");
	for (int i = 0; i < 200; i++)
		r = buf_append_str(&b, "(");
	r = buf_append_str(&b, " }}");
	assert_int_equal(r, 0);
	assert_int_equal(tmpl_parse("deep", buf_str(&b), buf_len(&b), NULL, &t, &err), CF_ETOOBIG);
	assert_string_equal(buf_str(&err), "deep:1:104: parentheses nested too deeply");
	buf_free(&b);
	buf_free(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tmpl_vectors),
	        cmocka_unit_test(test_tmpl_dedup),
	        cmocka_unit_test(test_tmpl_cap),
	        cmocka_unit_test(test_tmpl_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
