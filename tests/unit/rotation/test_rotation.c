/* test_rotation.c - the rotation manager's pure parts: generator parsing and
 * output (table-driven), job configuration validation, and the schedule
 * computation (next fire, backoff). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/cron.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "rotation/rotation_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {
	        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
	return (int64_t)timegm(&tm);
}

static json_t *
gen(const char *spec_json, const char *def_json)
{
	json_t *spec = json_loads(spec_json, JSON_DECODE_ANY, NULL), *def = NULL, *out = NULL;
	char err[256];
	int r;

	assert_non_null(spec);
	if (def_json)
		def = json_loads(def_json, 0, NULL);
	r = rotation_gen_parse(spec, def, &out, err, sizeof(err));
	json_decref(spec);
	json_decref(def);
	return r == 0 ? out : NULL;
}

static const char *
run(json_t *g, json_t *out)
{
	assert_int_equal(rotation_gen_run(g, "f", out), 0);
	return json_string_value(json_object_get(out, "f"));
}

static bool
all_in(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static void
test_rotation_gen_parse_table(void **state)
{
	static const struct {
		const char *spec, *def;
		bool ok;
	} v[] = {
	        {"\"password\"", NULL, true},
	        {"\"hex\"", NULL, true},
	        {"\"api-key\"", NULL, true},
	        {"\"uuid\"", NULL, true},
	        {"\"rsa-4096\"", NULL, true},
	        {"\"md5\"", NULL, false},
	        {"{}", NULL, false},
	        {"{}", "{\"generator\":\"base64\",\"bytes\":32}", true},
	        {"{\"bytes\":8}", "{\"generator\":\"hex\"}", true},
	        {"{\"generator\":\"hex\",\"bytes\":0}", NULL, false},
	        {"{\"generator\":\"hex\",\"bytes\":1025}", NULL, false},
	        {"{\"generator\":\"hex\",\"bytes\":\"16\"}", NULL, true},
	        {"{\"generator\":\"hex\",\"length\":16}", NULL, false},
	        {"{\"generator\":\"password\",\"lower\":false,\"upper\":false,\"digits\":false,"
	         "\"symbols\":false}",
	         NULL, false},
	        {"{\"generator\":\"password\",\"length\":3}", NULL, false},
	        {"{\"generator\":7}", NULL, false},
	        {"42", NULL, false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *g = gen(v[i].spec, v[i].def);
		if (v[i].ok != (g != NULL))
			fail_msg("vector %zu (%s): want %s", i, v[i].spec,
			         v[i].ok ? "ok" : "error");
		json_decref(g);
	}
}

static void
test_rotation_gen_values(void **state)
{
	json_t *out = json_object(), *g;
	const char *s;
	uint8_t raw[64];
	size_t n;

	(void)state;
	g = gen("{\"generator\":\"password\",\"length\":50,\"symbols\":false,\"exclude\":"
	        "\"aeiou\"}",
	        NULL);
	s = run(g, out);
	assert_int_equal(strlen(s), 50);
	assert_true(all_in(s, "bcdfghjklmnpqrstvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"));
	json_decref(g);

	g = gen("\"password\"", NULL); /* every class appears */
	for (int k = 0; k < 20; k++) {
		bool lo = false, up = false, di = false, sy = false;
		s = run(g, out);
		assert_int_equal(strlen(s), 32);
		for (const char *p = s; *p; p++) {
			lo |= islower((unsigned char)*p) != 0;
			up |= isupper((unsigned char)*p) != 0;
			di |= isdigit((unsigned char)*p) != 0;
			sy |= ispunct((unsigned char)*p) != 0;
		}
		assert_true(lo && up && di && sy);
	}
	json_decref(g);

	g = gen("{\"generator\":\"hex\",\"bytes\":5}", NULL);
	s = run(g, out);
	assert_int_equal(strlen(s), 10);
	assert_true(all_in(s, "0123456789abcdef"));
	json_decref(g);

	g = gen("\"api-key\"", NULL);
	s = run(g, out);
	assert_int_equal(strlen(s), 3 + 64);
	assert_memory_equal(s, "sk_", 3);
	json_decref(g);

	g = gen("{\"generator\":\"api-key\",\"prefix\":\"pk_live_\",\"bytes\":4}", NULL);
	s = run(g, out);
	assert_int_equal(strlen(s), 8 + 8);
	json_decref(g);

	g = gen("{\"generator\":\"base64\",\"bytes\":33,\"url_safe\":true}", NULL);
	s = run(g, out);
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), s, strlen(s), NULL, &n, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	                 0);
	assert_int_equal(n, 33);
	json_decref(g);

	g = gen("\"uuid\"", NULL);
	s = run(g, out);
	assert_int_equal(strlen(s), 36);
	assert_int_equal(s[14], '4');
	json_decref(g);

	g = gen("\"ed25519\"", NULL);
	s = run(g, out);
	assert_non_null(strstr(s, "-----BEGIN PRIVATE KEY-----"));
	assert_non_null(strstr(json_string_value(json_object_get(out, "f_public")),
	                       "-----BEGIN PUBLIC KEY-----"));
	json_decref(g);

	g = gen("\"ecdsa-p256\"", NULL);
	s = run(g, out);
	assert_non_null(strstr(s, "PRIVATE KEY"));
	json_decref(g);
	json_decref(out);
}

static void
test_rotation_gen_distinct(void **state)
{
	json_t *g = gen("{\"generator\":\"hex\",\"bytes\":16}", NULL), *a = json_object(),
	       *b = json_object();

	(void)state;
	run(g, a);
	run(g, b);
	assert_string_not_equal(json_string_value(json_object_get(a, "f")),
	                        json_string_value(json_object_get(b, "f")));
	json_decref(g);
	json_decref(a);
	json_decref(b);
}

static void
test_rotation_next_fire(void **state)
{
	struct cron *c = NULL;

	(void)state;
	assert_int_equal(cron_parse("0 3 * * SUN", &c, NULL, 0), 0);
	/* Wed 2026-11-25 12:00 -> Sun 2026-11-29 03:00 */
	assert_int_equal(rotation_next_fire(c, 0, utc(2026, 11, 25, 12, 0)),
	                 utc(2026, 11, 29, 3, 0));
	/* exactly at a fire time: the next one, a week on */
	assert_int_equal(rotation_next_fire(c, 0, utc(2026, 11, 29, 3, 0)), utc(2026, 12, 6, 3, 0));
	/* cron wins over a period */
	assert_int_equal(rotation_next_fire(c, 60, utc(2026, 11, 25, 12, 0)),
	                 utc(2026, 11, 29, 3, 0));
	cron_free(c);
	assert_int_equal(cron_parse("@monthly", &c, NULL, 0), 0);
	assert_int_equal(rotation_next_fire(c, 0, utc(2026, 12, 31, 23, 59)),
	                 utc(2027, 1, 1, 0, 0));
	cron_free(c);
	assert_int_equal(cron_parse("0 0 30 2 *", &c, NULL, 0), 0);
	assert_int_equal(rotation_next_fire(c, 0, utc(2026, 1, 1, 0, 0)), -1);
	cron_free(c);
	/* period */
	assert_int_equal(rotation_next_fire(NULL, 90 * 86400, 1000), 1000 + 90 * 86400);
	assert_int_equal(rotation_next_fire(NULL, 2, 1000), 1002);
	assert_int_equal(rotation_next_fire(NULL, 0, 1000), -1);
	assert_int_equal(rotation_next_fire(NULL, 10, INT64_MAX - 5), -1);
}

static void
test_rotation_backoff(void **state)
{
	static const int64_t want[] = {60, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600};
	(void)state;
	for (int i = 1; i < 10; i++)
		assert_int_equal(rotation_backoff(i, 0), want[i]);
	assert_int_equal(rotation_backoff(0, 0), 60);
	assert_int_equal(rotation_backoff(1000, 0), 3600);
	assert_int_equal(rotation_backoff(1, 1), 1);
	assert_int_equal(rotation_backoff(3, 1), 4);
}

static int
config(const char *body, char *err, size_t errlen, json_t **ret)
{
	json_t *b = json_loads(body, 0, NULL), *cfg = NULL;
	int r;

	assert_non_null(b);
	r = rotation_job_config("j", b, NULL, &cfg, err, errlen);
	json_decref(b);
	if (ret)
		*ret = cfg;
	else
		json_decref(cfg);
	return r;
}

static void
test_rotation_job_config(void **state)
{
	static const struct {
		const char *body, *err; /* err NULL: accepted */
	} v[] = {
	        {"{\"template\":\"api-key\",\"mount\":\"s\",\"path\":\"p\",\"keys\":{\"k\":{}}}",
	         NULL},
	        {"{\"template\":\"nope\",\"mount\":\"s\",\"path\":\"p\"}", "unknown template"},
	        {"{\"target\":\"ftp\",\"mount\":\"s\",\"path\":\"p\"}", "unknown target"},
	        {"{\"target\":\"sealing-key\",\"mount\":\"s\",\"path\":\"p\"}", "not supported"},
	        {"{\"target\":\"pki\",\"mount\":\"s\",\"path\":\"p\"}", "missing role"},
	        {"{\"template\":\"tls-certificate\",\"mount\":\"pki\",\"path\":\"p\",\"role\":"
	         "\"r\","
	         "\"common_name\":\"a.example.com\",\"ttl\":\"720h\"}",
	         "renew_before (2592000 s) must be shorter than ttl (2592000 s)"},
	        {"{\"template\":\"tls-certificate\",\"mount\":\"pki\",\"path\":\"p\",\"role\":"
	         "\"r\","
	         "\"common_name\":\"a.example.com\",\"ttl\":\"20s\",\"renew_before\":\"10s\","
	         "\"period\":\"1h\"}",
	         "do not apply"},
	        {"{\"template\":\"tls-certificate\",\"mount\":\"pki\",\"path\":\"p\",\"role\":"
	         "\"r\","
	         "\"common_name\":\"a.example.com\",\"grace\":\"1h\"}",
	         "grace does not apply"},
	        {"{\"target\":\"kv\",\"mount\":\"s\",\"path\":\"p\",\"keys\":{\"k\":\"hex\"},"
	         "\"role\":\"r\"}",
	         "role applies to pki jobs only"},
	        {"{\"template\":\"tls-certificate\",\"mount\":\"pki\",\"path\":\"p\",\"role\":"
	         "\"r\","
	         "\"common_name\":\"a.example.com\",\"alt_names\":[\"b.example.com\",\"c.example."
	         "com\"],"
	         "\"ttl\":\"2160h\"}",
	         NULL},
	        {"{\"target\":\"kv\",\"mount\":\"s\",\"path\":\"p\",\"keys\":{\"k\":\"hex\"},"
	         "\"schedule\":\"* 25 * * *\"}",
	         "hour"},
	        {"{\"target\":\"kv\",\"mount\":\"s\",\"path\":\"p\",\"keys\":{\"k\":\"hex\"},"
	         "\"schedule\":\"@daily\",\"period\":\"1d\"}",
	         "not both"},
	        {"{\"target\":\"kv\",\"mount\":\"s\",\"path\":\"p\"}", "keys is required"},
	        {"{\"target\":\"kv\",\"path\":\"p\",\"keys\":{\"k\":\"hex\"}}", "missing mount"},
	        {"{\"target\":\"kv\",\"mount\":\"s\",\"keys\":{\"k\":\"hex\"}}", "missing path"},
	        {"{\"target\":\"kv\",\"mount\":\"s\",\"path\":\"p\",\"keys\":{\"k\":\"hex\"},"
	         "\"grace\":\"-1s\"}",
	         "grace"},
	        {"{\"target\":\"kv\",\"mount\":\"s\",\"path\":\"p\",\"keys\":{\"k\":\"hex\"},"
	         "\"on_incomplete_adoption\":\"ignore\"}",
	         "on_incomplete_adoption"},
	        {"{\"template\":\"database-password\",\"target\":\"kv\",\"mount\":\"s\",\"path\":"
	         "\"p\","
	         "\"keys\":{\"k\":\"hex\"}}",
	         "is for target"},
	        {"{\"template\":\"encryption-key\",\"mount\":\"transit\",\"path\":\"k\"}", NULL},
	};
	char err[512];
	json_t *cfg = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		err[0] = '\0';
		int r = config(v[i].body, err, sizeof(err), NULL);
		if (!v[i].err && r != 0)
			fail_msg("vector %zu: unexpected error: %s", i, err);
		if (v[i].err && (r == 0 || !strstr(err, v[i].err)))
			fail_msg("vector %zu: want \"%s\", got %d \"%s\"", i, v[i].err, r, err);
	}
	/* pki: renew_before 30 days by default, kv_mount secret/, lists joined */
	assert_int_equal(config("{\"template\":\"tls-certificate\",\"mount\":\"pki\",\"path\":"
	                        "\"tls/a\",\"role\":\"r\",\"common_name\":\"a.example.com\","
	                        "\"alt_names\":[\"b.example.com\",\"c.example.com\"]}",
	                        err, sizeof(err), &cfg),
	                 0);
	assert_string_equal(json_string_value(json_object_get(cfg, "target")), "pki");
	assert_string_equal(json_string_value(json_object_get(cfg, "mount")), "pki/");
	assert_string_equal(json_string_value(json_object_get(cfg, "kv_mount")), "secret/");
	assert_string_equal(json_string_value(json_object_get(cfg, "alt_names")),
	                    "b.example.com,c.example.com");
	assert_int_equal(json_integer_value(json_object_get(cfg, "renew_before_s")), 720 * 3600);
	json_decref(cfg);
	cfg = NULL;
	/* template defaults, mount normalized, durations echoed as given */
	assert_int_equal(config("{\"template\":\"api-key\",\"mount\":\"/secret\",\"path\":\"/a/b\","
	                        "\"keys\":{\"k\":{}},\"grace\":\"3s\"}",
	                        err, sizeof(err), &cfg),
	                 0);
	assert_string_equal(json_string_value(json_object_get(cfg, "mount")), "secret/");
	assert_string_equal(json_string_value(json_object_get(cfg, "path")), "a/b");
	assert_string_equal(json_string_value(json_object_get(cfg, "period")), "90d");
	assert_int_equal(json_integer_value(json_object_get(cfg, "period_s")), 90 * 86400);
	assert_string_equal(json_string_value(json_object_get(cfg, "grace")), "3s");
	assert_int_equal(json_integer_value(json_object_get(cfg, "grace_s")), 3);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(json_object_get(cfg, "keys"), "k"), "prefix")),
	                    "sk_");
	json_decref(cfg);
	/* an explicit schedule replaces the template's period */
	assert_int_equal(config("{\"template\":\"api-key\",\"mount\":\"s\",\"path\":\"p\","
	                        "\"keys\":{\"k\":{}},\"schedule\":\"0 3 * * SUN\"}",
	                        err, sizeof(err), &cfg),
	                 0);
	assert_null(json_object_get(cfg, "period"));
	json_decref(cfg);
}

/* pki jobs renew renew_before the certificate's expiry, never before half
 * the lifetime of a certificate the job issued. */
static void
test_rotation_pki_due(void **state)
{
	json_t *cfg = json_pack("{s:I}", "renew_before_s", (json_int_t)600);
	json_t *st = json_object();

	(void)state;
	assert_int_equal(rotation_pki_due(cfg, st), 0); /* no certificate yet */
	json_object_set_new(st, "cert_expiration", json_integer(10000));
	assert_int_equal(rotation_pki_due(cfg, st), (int64_t)9400 * NS_PER_S);
	json_object_set_new(st, "cert_issued", json_integer(6400)); /* 3600 s of life */
	assert_int_equal(rotation_pki_due(cfg, st), (int64_t)9400 * NS_PER_S);
	json_object_set_new(st, "cert_issued", json_integer(9000)); /* 1000 s: clamped */
	assert_int_equal(rotation_pki_due(cfg, st), (int64_t)9500 * NS_PER_S);
	json_decref(cfg);
	json_decref(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rotation_gen_parse_table),
	        cmocka_unit_test(test_rotation_gen_values),
	        cmocka_unit_test(test_rotation_gen_distinct),
	        cmocka_unit_test(test_rotation_next_fire),
	        cmocka_unit_test(test_rotation_backoff),
	        cmocka_unit_test(test_rotation_job_config),
	        cmocka_unit_test(test_rotation_pki_due),
	};

	jsonx_init();
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
