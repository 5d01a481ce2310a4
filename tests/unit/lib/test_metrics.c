/* test_metrics.c - the metrics registry and its text exposition (lib/metrics.h):
 * label values escaped, histogram buckets cumulative up to +Inf with _count
 * equal to the +Inf bucket, counters that add up, gauges from collectors, and
 * the overflow series once a family has too many label sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
render(void)
{
	struct buf b = BUF_INIT(1u << 24, 0);
	char *out = NULL;

	assert_int_equal(metrics_render(&b), 0);
	assert_int_equal(buf_detach(&b, &out, NULL), 0);
	return out;
}

static int
reset(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

static void
test_escaping(void **state)
{
	const char *labels[] = {"kv", "a\"b\\c\nd", "200"};
	char *out;

	(void)state;
	metrics_count(METRIC_REQUESTS, labels, 3);
	out = render();
	assert_non_null(strstr(out, "coffer_requests_total{mount_type=\"kv\","
	                            "route=\"a\\\"b\\\\c\\nd\",code=\"200\"} 3\n"));
	/* No raw newline inside a label value: every line starts a metric or a comment. */
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		assert_true(line[0] == '#' || strncmp(line, "coffer_", 7) == 0);
	free(out);
}

static void
test_counter_adds(void **state)
{
	const char *labels[] = {"kv", "data/*", "200"};
	char *out;

	(void)state;
	for (int i = 0; i < 5; i++)
		metrics_count(METRIC_REQUESTS, labels, 1);
	metrics_count(METRIC_REQUESTS, labels, 10);
	out = render();
	assert_non_null(strstr(out, "coffer_requests_total{mount_type=\"kv\",route=\"data/*\","
	                            "code=\"200\"} 15\n"));
	assert_non_null(strstr(out, "# TYPE coffer_requests_total counter\n"));
	/* A counter without labels shows 0 before its first bump. */
	assert_non_null(strstr(out, "\ncoffer_rotation_failures_total 0\n"));
	free(out);
}

static void
test_histogram_cumulative(void **state)
{
	const char *labels[] = {"sqlite", "get"};
	char *out, *p;
	unsigned long long prev = 0, v, count = 0;
	int buckets = 0;
	char want[256];

	(void)state;
	metrics_observe(METRIC_STORAGE_DURATION, labels, 50000);       /* 50 us: first bucket */
	metrics_observe(METRIC_STORAGE_DURATION, labels, 3000000);     /* 3 ms */
	metrics_observe(METRIC_STORAGE_DURATION, labels, 3000000);     /* 3 ms */
	metrics_observe(METRIC_STORAGE_DURATION, labels, 60000000000); /* 60 s: only +Inf */
	out = render();
	p = out;
	while ((p = strstr(p, "coffer_storage_operation_duration_seconds_bucket{"))) {
		char *sp = strchr(p, ' ');
		assert_non_null(sp);
		v = strtoull(sp + 1, NULL, 10);
		assert_true(v >= prev); /* cumulative */
		prev = v;
		buckets++;
		p = sp;
	}
	assert_int_equal(buckets, 17); /* 16 bounds and +Inf */
	assert_int_equal(prev, 4);
	assert_non_null(strstr(out, "coffer_storage_operation_duration_seconds_bucket{backend="
	                            "\"sqlite\",op=\"get\",le=\"0.0001\"} 1\n"));
	assert_non_null(strstr(out, "coffer_storage_operation_duration_seconds_bucket{backend="
	                            "\"sqlite\",op=\"get\",le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(out, "coffer_storage_operation_duration_seconds_bucket{backend="
	                            "\"sqlite\",op=\"get\",le=\"0.005\"} 3\n"));
	assert_non_null(strstr(out, "coffer_storage_operation_duration_seconds_bucket{backend="
	                            "\"sqlite\",op=\"get\",le=\"10\"} 3\n"));
	assert_non_null(strstr(out, "coffer_storage_operation_duration_seconds_bucket{backend="
	                            "\"sqlite\",op=\"get\",le=\"+Inf\"} 4\n"));
	p = strstr(out, "coffer_storage_operation_duration_seconds_count{backend=\"sqlite\","
	                "op=\"get\"} ");
	assert_non_null(p);
	count = strtoull(strchr(p, ' ') + 1, NULL, 10);
	assert_int_equal(count, 4);
	p = strstr(out,
	           "coffer_storage_operation_duration_seconds_sum{backend=\"sqlite\",op=\"get\"} ");
	assert_non_null(p);
	snprintf(want, sizeof(want), "%.6f", strtod(strchr(p, ' ') + 1, NULL));
	assert_string_equal(want, "60.006050");
	free(out);
}

static void
collect(void *arg, struct metrics_out *o)
{
	const char *a[] = {"secret/"}, *b[] = {"db\"x/"};

	(void)arg;
	metrics_gauge(o, a, 7);
	metrics_gauge(o, b, 0.5);
}

static void
test_gauge_collector(void **state)
{
	int arg;
	char *out;

	(void)state;
	assert_int_equal(metrics_collector_add(METRIC_LEASES, collect, &arg), 0);
	assert_int_equal(metrics_collector_add(METRIC_REQUESTS, collect, &arg), CF_EINVAL);
	out = render();
	assert_non_null(strstr(out,
	                       "# TYPE coffer_leases gauge\ncoffer_leases{mount=\"secret/\"} 7\n"
	                       "coffer_leases{mount=\"db\\\"x/\"} 0.5\n"));
	free(out);
	metrics_collector_remove(METRIC_LEASES, collect, &arg);
	out = render();
	assert_null(strstr(out, "coffer_leases{"));
	free(out);
}

static void
test_overflow(void **state)
{
	char route[32];
	char *out;

	(void)state;
	for (int i = 0; i < METRICS_MAX_SERIES; i++) {
		const char *labels[] = {"kv", route, "200"};
		snprintf(route, sizeof(route), "r%d", i);
		metrics_count(METRIC_REQUESTS, labels, 1);
	}
	out = render();
	assert_non_null(strstr(out,
	                       "coffer_requests_total{mount_type=\"overflow\",route=\"overflow\","
	                       "code=\"overflow\"} "));
	assert_null(strstr(out, "route=\"r500\""));
	free(out);
}

#define NTHREADS 8
#define NBUMPS   20000

/* Each thread bumps a shared series and one series per (i % 16): the first
 * uses of a label set race with each other and with bumps of existing ones. */
static void *
bump_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < NBUMPS; i++) {
		char route[16];
		const char *shared[] = {"kv", "data/*", "200"};
		const char *own[] = {"kv", route, "200"};
		snprintf(route, sizeof(route), "r%d", i % 16);
		metrics_count(METRIC_REQUESTS, shared, 1);
		metrics_count(METRIC_REQUESTS, own, 1);
		metrics_observe(METRIC_STORAGE_DURATION, (const char *[]){"sqlite", "put"}, 1000);
	}
	return NULL;
}

static void
test_concurrent_bumps(void **state)
{
	pthread_t t[NTHREADS];
	char *out, want[256];

	(void)state;
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, bump_main, NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	out = render();
	snprintf(want, sizeof(want), "route=\"data/*\",code=\"200\"} %d\n", NTHREADS * NBUMPS);
	assert_non_null(strstr(out, want));
	for (int r = 0; r < 16; r++) {
		snprintf(want, sizeof(want), "route=\"r%d\",code=\"200\"} %d\n", r,
		         NTHREADS * NBUMPS / 16);
		assert_non_null(strstr(out, want));
	}
	snprintf(want, sizeof(want), "op=\"put\",le=\"+Inf\"} %d\n", NTHREADS * NBUMPS);
	assert_non_null(strstr(out, want));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_escaping, reset),
	        cmocka_unit_test_setup(test_counter_adds, reset),
	        cmocka_unit_test_setup(test_histogram_cumulative, reset),
	        cmocka_unit_test_setup(test_gauge_collector, reset),
	        cmocka_unit_test_setup(test_overflow, reset),
	        cmocka_unit_test_setup(test_concurrent_bumps, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
