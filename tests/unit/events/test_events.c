/* test_events.c - the pure pieces of src/events: type globs and their parsing,
 * webhook filters (types, jobs, min_severity, the secret.compromised bypass),
 * the retry schedule, X-Coffer-Signature, Last-Event-ID, event renderings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "events/events_int.h"
#include "lib/err.h"
#include "lib/glob.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct {
	const char *pat, *s;
	bool match;
} glob_vectors[] = {
	{ "rotation.*", "rotation.completed", true },
	{ "rotation.*", "rotation.", true },
	{ "rotation.*", "rotationx", false },
	{ "rotation.*", "lease.expired", false },
	{ "*", "anything.at.all", true },
	{ "*.failed", "rotation.failed", true },
	{ "*.failed", "rotation.failed.x", false },
	{ "lease.revoked", "lease.revoked", true },
	{ "lease.revoked", "lease.revokedx", false },
	{ "a*b*c", "aXXbYYc", true },
	{ "a*b*c", "aXXbYY", false },
	{ "**", "", true },
	{ "secret.*", "secret.compromised", true },
	{ "*ion.comp*", "rotation.completed", true },
};
/* clang-format on */

static void
test_events_glob_match(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(glob_vectors) / sizeof(glob_vectors[0]); i++) {
		bool m = glob_match(glob_vectors[i].pat, glob_vectors[i].s);
		if (m != glob_vectors[i].match)
			fail_msg("glob %s vs %s: got %d", glob_vectors[i].pat, glob_vectors[i].s,
			         m);
	}
}

static void
test_events_glob_parse(void **state)
{
	char err[160];
	json_t *a = NULL;

	(void)state;
	assert_int_equal(events_globs_parse(" rotation.* , secret.*,,", &a, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "rotation.*");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "secret.*");
	json_decref(a);
	a = NULL;
	assert_int_equal(events_globs_parse("", &a, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	a = NULL;
	assert_int_equal(events_globs_parse("rotation.[ab]", &a, err, sizeof(err)), CF_EINVAL);
	assert_null(a);
	assert_int_equal(events_globs_parse("rot ation", &a, err, sizeof(err)), CF_EINVAL);
	assert_int_equal(events_globs_parse("a?b", &a, err, sizeof(err)), CF_EINVAL);
	assert_int_equal(events_glob_check("rotation.*"), 0);
	assert_int_equal(events_glob_check(""), CF_EINVAL);
	{
		char big[EVENTS_GLOB_MAX + 2];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(events_glob_check(big), CF_EINVAL);
	}
	{
		char many[4 * (EVENTS_MAX_GLOBS + 1) + 1] = "";
		int i;
		for (i = 0; i < EVENTS_MAX_GLOBS + 1; i++)
			memcpy(many + 4 * i, "a.b,", 5);
		assert_int_equal(events_globs_parse(many, &a, err, sizeof(err)), CF_EINVAL);
	}
}

static json_t *
ev(const char *type, const char *job, const char *sev)
{
	json_t *o = json_pack("{s:s, s:s}", "type", type, "severity", sev);
	if (job)
		json_object_set_new(o, "job", json_string(job));
	return o;
}

static void
test_events_hook_filters(void **state)
{
	json_t *types = json_pack("[s]", "rotation.*");
	json_t *jobs = json_pack("[s, s]", "a", "b");
	json_t *none = json_array();
	json_t *e;

	(void)state;
	/* no filters: everything */
	e = ev("lease.expired", NULL, "info");
	assert_true(events_hook_matches(none, none, EV_INFO, e));
	assert_true(events_hook_matches(NULL, NULL, EV_INFO, e));
	/* types */
	assert_false(events_hook_matches(types, none, EV_INFO, e));
	json_decref(e);
	e = ev("rotation.completed", "a", "info");
	assert_true(events_hook_matches(types, jobs, EV_INFO, e));
	/* min_severity */
	assert_false(events_hook_matches(types, jobs, EV_WARNING, e));
	json_decref(e);
	e = ev("rotation.failed", "b", "warning");
	assert_true(events_hook_matches(types, jobs, EV_WARNING, e));
	assert_false(events_hook_matches(types, jobs, EV_CRITICAL, e));
	json_decref(e);
	/* jobs */
	e = ev("rotation.completed", "c", "critical");
	assert_false(events_hook_matches(types, jobs, EV_INFO, e));
	json_decref(e);
	e = ev("rotation.completed", NULL, "critical");
	assert_false(events_hook_matches(types, jobs, EV_INFO, e));
	json_decref(e);
	/* secret.compromised bypasses every filter, even a severity above it */
	e = ev("secret.compromised", "zzz", "info");
	assert_true(events_hook_matches(types, jobs, EV_CRITICAL, e));
	assert_true(events_types_match(types, "secret.compromised"));
	json_decref(e);
	assert_true(events_types_match(types, "rotation.revoked"));
	assert_false(events_types_match(types, "lease.revoked"));
	json_decref(types);
	json_decref(jobs);
	json_decref(none);
}

static void
test_events_backoff_schedule(void **state)
{
	/* clang-format off */
	static const int64_t want[] = { 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600 };
	/* clang-format on */
	int64_t first = 1000 * NS_PER_SEC, now, next = 0, total = 0;
	int i, tries;

	(void)state;
	for (i = 0; i < (int)(sizeof(want) / sizeof(want[0])); i++)
		assert_int_equal(events_backoff_secs(i + 1), want[i]);
	assert_int_equal(events_backoff_secs(1000), 3600);
	/* Following the schedule from the first try, retries stop after 24 h. */
	now = first;
	for (tries = 1; tries < 200; tries++) {
		if (!events_retry_next(first, now, tries, &next))
			break;
		assert_true(next > now);
		total = next - first;
		now = next;
	}
	assert_true(total <= EVENTS_RETRY_WINDOW_SECS * NS_PER_SEC);
	assert_true(total > (EVENTS_RETRY_WINDOW_SECS - 3600) * NS_PER_SEC);
	/* 11 tries to reach the 1 h cap (5..2560 s, ~85 min), then hourly to 24 h */
	assert_true(tries > 30 && tries < 40);
	assert_false(
	        events_retry_next(first, first + EVENTS_RETRY_WINDOW_SECS * NS_PER_SEC, 1, &next));
}

static void
test_events_signature(void **state)
{
	char out[160];

	(void)state;
	assert_int_equal(
	        events_signature("whsec_test", 1700000000, "{\"a\":1}", 7, out, sizeof(out)), 0);
	assert_string_equal(
	        out,
	        "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
	assert_int_equal(events_signature("k", 0, "", 0, out, sizeof(out)), 0);
	assert_string_equal(
	        out, "t=0,v1=6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7");
	assert_int_equal(events_signature("k", 0, "", 0, out, 20), CF_EINVAL);
}

static void
test_events_last_id(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(events_parse_last_id("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(events_parse_last_id("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(events_parse_last_id("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(events_parse_last_id("18446744073709551616", &v), CF_EINVAL);
	assert_int_equal(events_parse_last_id("", &v), CF_EINVAL);
	assert_int_equal(events_parse_last_id("-1", &v), CF_EINVAL);
	assert_int_equal(events_parse_last_id(" 1", &v), CF_EINVAL);
	assert_int_equal(events_parse_last_id("1x", &v), CF_EINVAL);
	assert_int_equal(events_parse_last_id(NULL, &v), CF_EINVAL);
}

static void
test_events_event_json(void **state)
{
	json_t *extra = json_pack("{s:[s], s:s, s:s}", "laggards", "svc/1", "value", "hunter2",
	                          "type", "forged");
	struct event e = {.type = "adoption.incomplete",
	                  .job = "api",
	                  .path = "app/key",
	                  .version = 3,
	                  .severity = EV_WARNING,
	                  .extra = extra};
	json_t *j = events_event_json(&e, "00000000-0000-4000-8000-000000000000",
	                              1700000000LL * NS_PER_SEC);
	char *frame, *sum;
	size_t len = 0;

	(void)state;
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "adoption.incomplete");
	assert_string_equal(json_string_value(json_object_get(j, "severity")), "warning");
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 3);
	assert_null(json_object_get(j, "previous_version")); /* 0 = omitted */
	assert_null(json_object_get(j, "mount"));
	assert_false(json_is_true(json_object_get(j, "force")));
	assert_non_null(json_object_get(j, "laggards"));
	assert_null(json_object_get(j, "value")); /* never secret-looking extras */
	assert_non_null(
	        strstr(json_string_value(json_object_get(j, "time")), "2023-11-14T22:13:20"));
	frame = events_sse_frame(7, j, &len);
	assert_non_null(frame);
	{
		static const char head[] = "id: 7\nevent: adoption.incomplete\ndata: {";
		assert_int_equal(strncmp(frame, head, sizeof(head) - 1), 0);
	}
	assert_int_equal(strcmp(frame + len - 3, "}\n\n"), 0);
	sum = events_summary(j);
	assert_string_equal(sum, "[warning] adoption.incomplete job=api path=app/key version=3");
	free(sum);
	free(frame);
	json_decref(j);
	json_decref(extra);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_events_glob_match),
	        cmocka_unit_test(test_events_glob_parse),
	        cmocka_unit_test(test_events_hook_filters),
	        cmocka_unit_test(test_events_backoff_schedule),
	        cmocka_unit_test(test_events_signature),
	        cmocka_unit_test(test_events_last_id),
	        cmocka_unit_test(test_events_event_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
