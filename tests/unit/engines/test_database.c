/* test_database.c - the database engine's pure parts (statement inputs, templating,
 * expiration format, usernames, passwords, connection strings, scrubbing), and its
 * route handlers for the paths that need no database server (config without
 * verification, roles, creds errors, static-role validation), over a real view on
 * a barrier on memory storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engines/database/database.h"
#include "backend/request.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "engines/database/dbtext.h"
#include "lib/err.h"
#include "lib/util.h"
#include "storage/storage.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statement inputs ---- */

static json_t *
input(const char *json_text)
{
	json_t *v = json_loads(json_text, JSON_DECODE_ANY, NULL), *out = NULL;
	char err[128] = "";

	assert_non_null(v);
	assert_int_equal(dbtext_stmt_input(v, &out, err, sizeof(err)), 0);
	json_decref(v);
	return out;
}

static void
assert_strings(json_t *arr, const char *const *want, size_t n)
{
	assert_int_equal(json_array_size(arr), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(json_string_value(json_array_get(arr, i)), want[i]);
}

static void
test_database_stmt_input_forms(void **state)
{
	static const char *const two[] = {"CREATE ROLE a", "GRANT x TO a"};
	static const char *const one[] = {"CREATE ROLE a; GRANT x TO a"};
	char *b64, *json_b64, buf[512];
	json_t *out;

	(void)state;
	/* a list of strings */
	out = input("[\"CREATE ROLE a\", \"GRANT x TO a\"]");
	assert_strings(out, two, 2);
	json_decref(out);
	/* one string of ;-separated statements: kept whole, split at run time */
	out = input("\"CREATE ROLE a; GRANT x TO a\"");
	assert_strings(out, one, 1);
	json_decref(out);
	/* a JSON array as a string */
	out = input("\"[\\\"CREATE ROLE a\\\", \\\"GRANT x TO a\\\"]\"");
	assert_strings(out, two, 2);
	json_decref(out);
	/* base64 of a string */
	b64 = util_b64_encode("CREATE ROLE a; GRANT x TO a", 27);
	snprintf(buf, sizeof(buf), "\"%s\"", b64);
	out = input(buf);
	assert_strings(out, one, 1);
	json_decref(out);
	free(b64);
	/* base64 of a JSON array */
	json_b64 = util_b64_encode("[\"CREATE ROLE a\",\"GRANT x TO a\"]", 32);
	snprintf(buf, sizeof(buf), "[\"%s\"]", json_b64);
	out = input(buf);
	assert_strings(out, two, 2);
	json_decref(out);
	free(json_b64);
	/* null, empty and blank entries */
	out = input("null");
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	out = input("[\"\", \"  \", \"SELECT 1\"]");
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	/* "BEGIN" is not base64 of text (wrong length); "abcd" decodes to binary */
	out = input("\"abcd\"");
	assert_string_equal(json_string_value(json_array_get(out, 0)), "abcd");
	json_decref(out);
	/* a string that starts with [ but is not a JSON array of strings */
	out = input("\"[not json\"");
	assert_string_equal(json_string_value(json_array_get(out, 0)), "[not json");
	json_decref(out);
}

static void
test_database_stmt_input_errors(void **state)
{
	static const char *const bad[] = {"1", "{}", "[1]", "[\"a\", null]", "true"};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_loads(bad[i], JSON_DECODE_ANY, NULL), *out = NULL;
		err[0] = '\0';
		assert_int_equal(dbtext_stmt_input(v, &out, err, sizeof(err)), CF_EINVAL);
		assert_null(out);
		assert_true(err[0] != '\0');
		json_decref(v);
	}
}

static void
test_database_stmt_split(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want[3];
	} v[] = {
	        {"CREATE ROLE a; GRANT x TO a;", 2, {"CREATE ROLE a", "GRANT x TO a"}},
	        {"  ;; ; ", 0, {NULL}},
	        {"SELECT 'a;b'; SELECT \"c;d\"", 2, {"SELECT 'a;b'", "SELECT \"c;d\""}},
	        {"SELECT 'it''s;'; SELECT 2", 2, {"SELECT 'it''s;'", "SELECT 2"}},
	        {"DO $$ BEGIN PERFORM 1; END $$; SELECT 1",
	         2,
	         {"DO $$ BEGIN PERFORM 1; END $$", "SELECT 1"}},
	        {"DO $f$ x; $$ y; $f$;z", 2, {"DO $f$ x; $$ y; $f$", "z"}},
	        {"SELECT 1 -- c;omment\n; SELECT 2", 2, {"SELECT 1 -- c;omment", "SELECT 2"}},
	        {"SELECT /* ; */ 1", 1, {"SELECT /* ; */ 1"}},
	        {"SELECT $1; SELECT 2", 2, {"SELECT $1", "SELECT 2"}},
	        {"SELECT 'unterminated; x", 1, {"SELECT 'unterminated; x"}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *out = json_array();
		assert_int_equal(dbtext_stmt_split(v[i].in, out), 0);
		assert_strings(out, v[i].want, v[i].n);
		json_decref(out);
	}
}

/* ---- placeholders ---- */

static void
test_database_render(void **state)
{
	struct dbtext_vars vars = {.name = "v-tok-r-x", .password = "pw-1", .expiration = "E"};
	static const struct {
		const char *tmpl, *want;
	} v[] = {
	        {"CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL "
	         "'{{expiration}}';",
	         "CREATE ROLE \"v-tok-r-x\" WITH LOGIN PASSWORD 'pw-1' VALID UNTIL 'E';"},
	        {"{{name}}{{name}}", "v-tok-r-xv-tok-r-x"},
	        {"{{username}} {{other}} {{ name }}", "{{username}} {{other}} {{ name }}"},
	        {"{{name", "{{name"},
	        {"", ""},
	};
	struct dbtext_vars evil = {.name = "a\"b'c", .username = "u"};
	char *out = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(dbtext_render(v[i].tmpl, &vars, &out), 0);
		assert_string_equal(out, v[i].want);
		secmem_free_str(out);
	}
	/* values cannot end the identifier or literal they sit in */
	assert_int_equal(
	        dbtext_render("\"{{name}}\" '{{name}}' {{name}} {{username}}", &evil, &out), 0);
	assert_string_equal(out, "\"a\"\"b'c\" 'a\"b''c' a\"b'c u");
	secmem_free_str(out);
	/* a doubled quote in the template keeps the literal open */
	assert_int_equal(dbtext_render("'it''s {{name}}'", &evil, &out), 0);
	assert_string_equal(out, "'it''s a\"b''c'");
	secmem_free_str(out);
}

static void
test_database_expiration(void **state)
{
	char out[DB_EXPIRATION_LEN];

	(void)state;
	dbtext_expiration(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01 00:00:00+0000");
	dbtext_expiration(1714564800, out, sizeof(out));
	assert_string_equal(out, "2024-05-01 12:00:00+0000");
	dbtext_expiration(1614294836, out, sizeof(out));
	assert_string_equal(out, "2021-02-25 23:13:56+0000");
}

/* ---- usernames and passwords ---- */

static void
test_database_username_template(void **state)
{
	char out[DB_USERNAME_MAX + 1], t[16];
	const char *p;

	(void)state;
	dbtext_username("token", "myrolename", 1614294836, out);
	/* v-token-myrolena-<20>-1614294836 */
	assert_int_equal(strncmp(out, "v-token-myrolena-", 17), 0);
	p = out + 17;
	for (int i = 0; i < 20; i++)
		assert_true((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		            (p[i] >= '0' && p[i] <= '9'));
	assert_string_equal(p + 20, "-1614294836");
	assert_int_equal(strlen(out), 48);
	/* display name and role truncated to 8 */
	dbtext_username("userpass-alice", "r", 1, out);
	assert_int_equal(strncmp(out, "v-userpass-r-", 13), 0);
	/* never longer than 63 bytes, even with a huge time */
	dbtext_username("xxxxxxxxxxxx", "yyyyyyyyyyyy", INT64_MAX, out);
	assert_true(strlen(out) <= DB_USERNAME_MAX);
	assert_int_equal(strncmp(out, "v-xxxxxxxx-yyyyyyyy-", 20), 0);
	/* UTF-8 is not cut inside a character */
	dbtext_truncate("abcdefg\xc3\xa9", 8, t);
	assert_string_equal(t, "abcdefg");
	dbtext_truncate("ab", 8, t);
	assert_string_equal(t, "ab");
	dbtext_truncate("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 8, t);
	assert_string_equal(t, "\xe2\x82\xac\xe2\x82\xac");
	/* unique */
	{
		char a[DB_USERNAME_MAX + 1], b[DB_USERNAME_MAX + 1];
		dbtext_username("token", "r", 5, a);
		dbtext_username("token", "r", 5, b);
		assert_string_not_equal(a, b);
	}
}

static void
test_database_password_policy(void **state)
{
	char pw[DB_PASSWORD_LEN + 1];
	int counts[4] = {0};

	(void)state;
	for (int i = 0; i < 2000; i++) {
		dbtext_password(pw);
		assert_int_equal(strlen(pw), DB_PASSWORD_LEN);
		assert_true(dbtext_password_ok(pw));
		for (const char *p = pw; *p; p++) {
			if (*p >= 'a' && *p <= 'z')
				counts[0]++;
			else if (*p >= 'A' && *p <= 'Z')
				counts[1]++;
			else if (*p >= '0' && *p <= '9')
				counts[2]++;
			else if (*p == '-')
				counts[3]++;
			else
				fail();
		}
	}
	/* every class shows up, roughly in proportion to its size */
	assert_true(counts[0] > 10000 && counts[1] > 10000 && counts[2] > 4000 && counts[3] > 400);
	assert_false(dbtext_password_ok("abcdefghijklmnopqrst"));  /* lower only */
	assert_false(dbtext_password_ok("abcdefghijklmnopqrA1"));  /* no '-' */
	assert_false(dbtext_password_ok("abcdefghijklmnopq-A1x")); /* 21 chars */
	assert_false(dbtext_password_ok("abcdefghijklmnop-A1_"));  /* bad char */
	assert_true(dbtext_password_ok("abcdefghijklmnop-A1x"));
}

static void
test_database_scram_verifier(void **state)
{
	uint8_t salt[16];
	char out[DB_SCRAM_LEN], out2[DB_SCRAM_LEN];

	(void)state;
	for (int i = 0; i < 16; i++)
		salt[i] = (uint8_t)i;
	/* vector computed independently (Python hashlib/hmac) */
	assert_int_equal(dbtext_scram_verifier("Abc-12345xyzQWERTYui", salt, out, sizeof(out)), 0);
	assert_string_equal(out, "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$"
	                         "RtFFSGZNyFHvtdDEwbgwDZedgYE9K93rFdf0d2c6lSE=:"
	                         "VutylxGcQw8cPKWrrm0Bi4pwc3840OEIaygRCpGw2wE=");
	/* random salts differ */
	assert_int_equal(dbtext_scram_verifier("x", NULL, out, sizeof(out)), 0);
	assert_int_equal(dbtext_scram_verifier("x", NULL, out2, sizeof(out2)), 0);
	assert_string_not_equal(out, out2);
	assert_int_equal(dbtext_scram_verifier("\xc3\xa9", NULL, out, sizeof(out)), CF_EINVAL);
}

/* ---- connection strings and scrubbing ---- */

static void
test_database_conn_render(void **state)
{
	static const struct {
		const char *url, *user, *pw;
		bool raw;
		const char *want;
	} v[] = {
	        {"postgresql://{{username}}:{{password}}@h:5432/db?sslmode=disable", "root",
	         "p@ss:w/rd", false, "postgresql://root:p%40ss%3Aw%2Frd@h:5432/db?sslmode=disable"},
	        {"postgres://{{username}}:{{password}}@h/db", "us er", "a-b_c.d~e", false,
	         "postgres://us%20er:a-b_c.d~e@h/db"},
	        {"postgres://{{username}}:{{password}}@h/db", "u", "p@s", true,
	         "postgres://u:p@s@h/db"},
	        {"host=h user={{username}} password={{password}} dbname=db", "root", "it's \\x",
	         false, "host=h user='root' password='it\\'s \\\\x' dbname=db"},
	        {"host=h user='{{username}}' password='{{password}}'", "r", "a'b", false,
	         "host=h user='r' password='a\\'b'"},
	        {"host=h password='x\\'{{password}}'", "r", "p", false, "host=h password='x\\'p'"},
	        {"host=h password={{password}}", "r", "", false, "host=h password=''"},
	};
	char *out = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(dbtext_conn_render(v[i].url, v[i].user, v[i].pw, v[i].raw, &out),
		                 0);
		assert_string_equal(out, v[i].want);
		secmem_free_str(out);
	}
	assert_true(dbtext_conn_is_url("postgresql://x"));
	assert_true(dbtext_conn_is_url("postgres://x"));
	assert_false(dbtext_conn_is_url("host=x"));
}

static void
test_database_conn_literal_password(void **state)
{
	static const struct {
		const char *url, *pw, *masked;
	} v[] = {
	        {"postgresql://u:s%40cret@h/db", "s@cret", "postgresql://u:*****@h/db"},
	        {"postgresql://{{username}}:{{password}}@h/db", NULL, NULL},
	        {"postgresql://u@h/db?sslmode=disable&password=qq", "qq",
	         "postgresql://u@h/db?sslmode=disable&password=*****"},
	        {"postgresql://h/db", NULL, NULL},
	        {"host=h password=lit user=u", "lit", "host=h password=***** user=u"},
	        {"host=h password = 'a b\\'c' user=u", "a b'c", "host=h password = '*****' user=u"},
	        {"host=h password={{password}}", NULL, NULL},
	};
	char *pw = NULL, *m;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(dbtext_conn_literal_password(v[i].url, &pw), 0);
		m = dbtext_conn_mask(v[i].url);
		assert_non_null(m);
		if (v[i].pw) {
			assert_non_null(pw);
			assert_string_equal(pw, v[i].pw);
			assert_string_equal(m, v[i].masked);
		} else {
			assert_null(pw);
			assert_string_equal(m, v[i].url);
		}
		secmem_free_str(pw);
		free(m);
	}
}

static void
test_database_scrub(void **state)
{
	const char *secrets[] = {"Abc-12345xyzQWERTYui", "p@ss w'rd", NULL, ""};
	static const struct {
		const char *in, *want;
	} v[] = {
	        {"password Abc-12345xyzQWERTYui failed", "password ***** failed"},
	        {"syntax error at or near \"12345xyzQ\"", "syntax error at or near \"*****\""},
	        {"LINE 1: PASSWORD Abc-12345...", "LINE 1: PASSWORD *****..."},
	        {"url postgresql://u:p%40ss%20w%27rd@h", "url postgresql://u:*****@h"},
	        {"dsn password='p@ss w\\'rd'", "dsn password='*****'"},
	        {"literal 'p@ss w''rd'", "literal '*****'"},
	        {"role \"app\" does not exist", "role \"app\" does not exist"},
	        {"", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *out = dbtext_scrub(v[i].in, secrets, 4);
		assert_non_null(out);
		assert_string_equal(out, v[i].want);
		assert_null(strstr(out, "12345"));
		free(out);
	}
	{
		/* short secrets are masked only whole */
		const char *s[] = {"ab"};
		char *out = dbtext_scrub("a b ab abc", s, 1);
		assert_string_equal(out, "a b ***** *****c");
		free(out);
	}
}

/* ---- handlers without a database server ---- */

struct fx {
	struct storage *st;
	struct barrier *b;
	struct mount m;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t key[BARRIER_KEY_BYTES];

	assert_non_null(f);
	util_random(key, sizeof(key));
	assert_int_equal(storage_open("memory:", &f->st), 0);
	assert_int_equal(barrier_new(f->st, &f->b), 0);
	assert_int_equal(barrier_initialize(f->b, key), 0);
	f->m.path = strdup("database/");
	f->m.type = strdup("database");
	f->m.view = view_new(f->b, "logical/0001/");
	f->m.bt = &database_backend;
	assert_int_equal(database_backend.init(&f->m, NULL), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	database_backend.cleanup(&f->m);
	view_free(f->m.view);
	free(f->m.path);
	free(f->m.type);
	barrier_free(f->b);
	storage_close(f->st);
	free(f);
	return 0;
}

static int
call(struct fx *f, enum op op, const char *rel, const char *body, struct response *rs)
{
	const struct route *rt = NULL;
	struct request rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	response_reset(rs);
	rq.data = body ? json_loads(body, 0, NULL) : json_object();
	rq.query = json_object();
	assert_non_null(rq.data);
	rq.mount = &f->m;
	rq.rel = rel;
	rq.op = op;
	for (size_t i = 0; i < database_backend.nroutes; i++) {
		if (route_match(database_backend.routes[i].pattern, rel, &rq)) {
			rt = &database_backend.routes[i];
			break;
		}
	}
	if (!rt) {
		r = CF_ENOROUTE;
		goto out;
	}
	if (!route_handler(rt, op)) {
		r = CF_EMETHOD;
		goto out;
	}
	if (op == OP_UPDATE && rt->exists) {
		bool exists = true;
		r = rt->exists(&rq, &exists);
		if (r < 0)
			goto out;
		if (!exists)
			rq.op = OP_CREATE;
	}
	r = route_handler(rt, rq.op)(&rq, rs);
out:
	request_free_fields(&rq);
	return r;
}

static const char *
err0(struct response *rs)
{
	return json_string_value(json_array_get(rs->errors, 0));
}

static void
test_database_routes_config_roles(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	json_t *d;

	/* config without verification: stored, password never shown */
	assert_int_equal(
	        call(f, OP_UPDATE, "config/pg",
	             "{\"connection_url\":\"postgresql://{{username}}:{{password}}@127.0.0.1:1/x\","
	             "\"username\":\"root\",\"password\":\"TopSecret-1\","
	             "\"verify_connection\":false,\"allowed_roles\":\"ro, st\"}",
	             &rs),
	        CF_EINVAL); /* plugin_name not set */
	assert_string_equal(err0(&rs), "plugin_name not set");
	assert_int_equal(
	        call(f, OP_UPDATE, "config/pg",
	             "{\"plugin_name\":\"postgresql-database-plugin\","
	             "\"connection_url\":\"postgresql://{{username}}:{{password}}@127.0.0.1:1/x\","
	             "\"username\":\"root\",\"password\":\"TopSecret-1\","
	             "\"verify_connection\":false,\"allowed_roles\":\"ro, st\"}",
	             &rs),
	        0);
	assert_int_equal(call(f, OP_READ, "config/pg", NULL, &rs), 0);
	d = rs.data;
	assert_string_equal(json_string_value(json_object_get(d, "plugin_name")),
	                    "postgresql-database-plugin");
	assert_int_equal(json_array_size(json_object_get(d, "allowed_roles")), 2);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(d, "connection_details"), "max_open_connections")),
	                 4);
	{
		char *s = json_dumps(d, 0);
		assert_null(strstr(s, "TopSecret"));
		free(s);
	}
	assert_int_equal(call(f, OP_LIST, "config", NULL, &rs), 0);
	assert_int_equal(json_array_size(json_object_get(rs.data, "keys")), 1);
	/* unsupported knobs are refused, not ignored */
	assert_int_equal(call(f, OP_UPDATE, "config/pg", "{\"password_policy\":\"strong\"}", &rs),
	                 CF_EINVAL);
	/* roles */
	assert_int_equal(call(f, OP_UPDATE, "roles/ro", "{\"db_name\":\"pg\"}", &rs), CF_EINVAL);
	assert_string_equal(err0(&rs), "empty creation statements");
	assert_int_equal(call(f, OP_UPDATE, "roles/ro",
	                      "{\"db_name\":\"pg\",\"creation_statements\":\"CREATE ROLE "
	                      "\\\"{{name}}\\\"\",\"default_ttl\":\"1h\",\"max_ttl\":7200}",
	                      &rs),
	                 0);
	assert_int_equal(call(f, OP_UPDATE, "roles/ro", "{\"default_ttl\":\"3h\"}", &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_READ, "roles/ro", NULL, &rs), 0);
	assert_int_equal(json_integer_value(json_object_get(rs.data, "default_ttl")), 3600);
	assert_int_equal(json_integer_value(json_object_get(rs.data, "max_ttl")), 7200);
	assert_int_equal(json_array_size(json_object_get(rs.data, "creation_statements")), 1);
	assert_int_equal(call(f, OP_UPDATE, "roles/other",
	                      "{\"db_name\":\"pg\",\"creation_statements\":[\"SELECT 1\"]}", &rs),
	                 0);
	assert_int_equal(call(f, OP_LIST, "roles", NULL, &rs), 0);
	assert_int_equal(json_array_size(json_object_get(rs.data, "keys")), 2);
	/* creds errors that need no database */
	assert_int_equal(call(f, OP_READ, "creds/nope", NULL, &rs), CF_EINVAL);
	assert_string_equal(err0(&rs), "unknown role: nope");
	assert_int_equal(call(f, OP_READ, "creds/other", NULL, &rs), CF_EINVAL);
	assert_string_equal(err0(&rs), "\"other\" is not an allowed role");
	assert_null(rs.secret);
	assert_int_equal(call(f, OP_UPDATE, "creds/ro", NULL, &rs), CF_EMETHOD);
	/* static roles: validation before any database work */
	assert_int_equal(call(f, OP_UPDATE, "static-roles/st",
	                      "{\"db_name\":\"pg\",\"username\":\"app\",\"rotation_period\":3}",
	                      &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "static-roles/st",
	                      "{\"db_name\":\"pg\",\"username\":\"app\",\"rotation_period\":60,"
	                      "\"rotation_schedule\":\"0 * * * *\"}",
	                      &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "static-roles/st",
	                      "{\"db_name\":\"pg\",\"username\":\"app\",\"rotation_schedule\":\"61 "
	                      "* * * *\"}",
	                      &rs),
	                 CF_EINVAL);
	assert_int_equal(
	        call(f, OP_UPDATE, "static-roles/st",
	             "{\"db_name\":\"pg\",\"username\":\"app\",\"rotation_schedule\":\"0 * * * *\","
	             "\"rotation_window\":60}",
	             &rs),
	        CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "static-roles/st",
	                      "{\"db_name\":\"pg\",\"username\":\"app\"}", &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "static-roles/nst",
	                      "{\"db_name\":\"pg\",\"username\":\"app\",\"rotation_period\":60}",
	                      &rs),
	                 CF_EINVAL);
	assert_string_equal(err0(&rs), "\"nst\" is not an allowed role");
	assert_int_equal(call(f, OP_READ, "static-creds/st", NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_LIST, "static-roles", NULL, &rs), CF_ENOTFOUND);
	/* delete */
	assert_int_equal(call(f, OP_DELETE, "roles/ro", NULL, &rs), 0);
	assert_int_equal(call(f, OP_READ, "roles/ro", NULL, &rs), CF_ENOTFOUND);
	assert_int_equal(call(f, OP_DELETE, "config/pg", NULL, &rs), 0);
	assert_int_equal(call(f, OP_LIST, "config", NULL, &rs), CF_ENOTFOUND);
	response_reset(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_database_stmt_input_forms),
	        cmocka_unit_test(test_database_stmt_input_errors),
	        cmocka_unit_test(test_database_stmt_split),
	        cmocka_unit_test(test_database_render),
	        cmocka_unit_test(test_database_expiration),
	        cmocka_unit_test(test_database_username_template),
	        cmocka_unit_test(test_database_password_policy),
	        cmocka_unit_test(test_database_scram_verifier),
	        cmocka_unit_test(test_database_conn_render),
	        cmocka_unit_test(test_database_conn_literal_password),
	        cmocka_unit_test(test_database_scrub),
	        cmocka_unit_test_setup_teardown(test_database_routes_config_roles, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
