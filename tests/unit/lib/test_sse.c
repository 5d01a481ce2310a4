/* test_sse.c - the server-sent event parser (lib/sse.h): fields, comments,
 * line ends, events split across feeds at every byte, the id kept across
 * events and resets, the line and event limits with and without
 * SSE_TRUNCATE, and a callback that stops the feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "lib/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the callback saw: each event as "id|type|data|t" lines. */
struct seen {
	char text[4096];
	int events;
	int stop_after; /* > 0: return CF_EIO from that event on */
};

static int
record(void *arg, const struct sse_event *ev)
{
	struct seen *s = arg;
	size_t l = strlen(s->text);

	assert_int_equal(strlen(ev->data), ev->data_len);
	snprintf(s->text + l, sizeof(s->text) - l, "%s|%s|%s|%d\n", ev->id, ev->type, ev->data,
	         ev->truncated);
	s->events++;
	return s->stop_after > 0 && s->events >= s->stop_after ? CF_EIO : 0;
}

/* Feeds the whole input at once, then again in pieces of every size from 1
 * byte up: each way must give the same events. */
static void
check_stream(const char *in, const char *want)
{
	size_t n = strlen(in), step, i;

	for (step = 0; step <= n; step++) {
		struct sse_parser p;
		struct seen s = {0};

		sse_init(&p, 256, 1024, 0);
		if (step == 0) {
			assert_int_equal(sse_feed(&p, in, n, record, &s), 0);
		} else {
			for (i = 0; i < n; i += step) {
				size_t k = n - i < step ? n - i : step;
				assert_int_equal(sse_feed(&p, in + i, k, record, &s), 0);
			}
		}
		assert_string_equal(s.text, want);
		sse_free(&p);
	}
}

static void
test_sse_fields(void **state)
{
	(void)state;
	/* As coffer's server writes them. */
	check_stream(": subscribed\n\n"
	             "id: 7\nevent: rotation.completed\ndata: {\"a\":1}\n\n"
	             ": keepalive\n\n",
	             "7|rotation.completed|{\"a\":1}|0\n");
	/* Several data lines join with "\n"; an empty data: line counts. */
	check_stream("data: a\ndata:\ndata:  b\n\n", "||a\n\n b|0\n");
	check_stream("data:\n\n", "|||0\n");
	/* No data: line, no event; the event: of it does not carry over. */
	check_stream("event: x\n\ndata: y\n\n", "||y|0\n");
	/* The id stays from event to event until another comes. */
	check_stream("id: 1\ndata: a\n\ndata: b\n\nid:2\ndata: c\n\n", "1||a|0\n1||b|0\n2||c|0\n");
	/* CRLF line ends; a lone CR is dropped, not a line end. */
	check_stream("id: 3\r\ndata: x\ry\r\n\r\n", "3||xy|0\n");
	/* Unknown fields, lines without a colon, fields named like prefixes. */
	check_stream("retry: 10\ndata\nidx: 9\ndatum: q\nfoo\ndata: z\n\n", "||z|0\n");
	/* Only one space after the colon is dropped. */
	check_stream("data:   two\n\n", "||  two|0\n");
	/* An unfinished event is not delivered. */
	check_stream("data: half\n", "");
}

static void
test_sse_long_id_is_cut(void **state)
{
	char in[128], want[128];

	(void)state;
	snprintf(in, sizeof(in), "id: %s\ndata: d\n\n", "0123456789012345678901234567890123456789");
	snprintf(want, sizeof(want), "%.*s||d|0\n", SSE_ID_MAX - 1,
	         "0123456789012345678901234567890123456789");
	check_stream(in, want);
}

static void
test_sse_nul_ends_line_text(void **state)
{
	static const char in[] = "data: ab\0cd\n\n";
	struct sse_parser p;
	struct seen s = {0};

	(void)state;
	sse_init(&p, 64, 64, 0);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1, record, &s), 0);
	assert_string_equal(s.text, "||ab|0\n");
	sse_free(&p);
}

static void
test_sse_reset_keeps_id(void **state)
{
	struct sse_parser p;
	struct seen s = {0};

	(void)state;
	sse_init(&p, 64, 64, 0);
	assert_int_equal(sse_feed(&p, "id: 5\ndata: a\n\nevent: e\ndata: part", 35, record, &s), 0);
	sse_reset(&p); /* a new connection: the half event is gone */
	assert_int_equal(sse_feed(&p, "\ndata: b\n\n", 10, record, &s), 0);
	assert_string_equal(s.text, "5||a|0\n5||b|0\n");
	sse_free(&p);
}

static void
test_sse_line_limit(void **state)
{
	struct sse_parser p;
	struct seen s = {0};
	char line[40];

	(void)state;
	/* "data: " + 10 bytes is 16: exactly at the limit passes. */
	sse_init(&p, 16, 1024, SSE_TRUNCATE);
	snprintf(line, sizeof(line), "data: 0123456789\n\n");
	assert_int_equal(sse_feed(&p, line, strlen(line), record, &s), 0);
	assert_string_equal(s.text, "||0123456789|0\n");
	/* One more byte fails, even when it comes in a later feed, and CRs do
	 * not count. */
	sse_reset(&p);
	assert_int_equal(sse_feed(&p, "data: 01234\r\r", 13, record, &s), 0);
	assert_int_equal(sse_feed(&p, "56789", 5, record, &s), 0);
	assert_int_equal(sse_feed(&p, "X", 1, record, &s), CF_ETOOBIG);
	/* Lines before the long one in the same feed were read. */
	sse_reset(&p);
	s = (struct seen){0};
	assert_int_equal(sse_feed(&p, "data: a\n\ndata: 0123456789AB\n\n", 30, record, &s),
	                 CF_ETOOBIG);
	assert_string_equal(s.text, "||a|0\n");
	sse_free(&p);
}

static void
test_sse_event_limit(void **state)
{
	static const char in[] = "data: 01234\ndata: 5678\ndata: 9\n\ndata: ok\n\n";
	struct sse_parser p;
	struct seen s = {0};

	(void)state;
	/* 5 + 1 + 4 = 10 bytes fit; "\n9" does not. */
	sse_init(&p, 64, 10, 0);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1, record, &s), CF_ETOOBIG);
	assert_int_equal(s.events, 0);
	sse_free(&p);

	sse_init(&p, 64, 10, SSE_TRUNCATE);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1, record, &s), 0);
	assert_string_equal(s.text, "||01234\n5678|1\n||ok|0\n");
	sse_free(&p);
}

static void
test_sse_callback_stops(void **state)
{
	static const char in[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	struct sse_parser p;
	struct seen s = {.stop_after = 2};

	(void)state;
	sse_init(&p, 64, 64, 0);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1, record, &s), CF_EIO);
	assert_string_equal(s.text, "||1|0\n||2|0\n");
	sse_free(&p);
	sse_free(&p); /* freeing twice is harmless */
	assert_int_equal(sse_feed(&p, NULL, 0, record, &s), 0);
	s.stop_after = 0;
	assert_int_equal(sse_feed(&p, "data: x\n\n", 9, record, &s), 0); /* usable again */
	assert_int_equal(s.events, 3);
	sse_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sse_fields),
	        cmocka_unit_test(test_sse_long_id_is_cut),
	        cmocka_unit_test(test_sse_nul_ends_line_text),
	        cmocka_unit_test(test_sse_reset_keeps_id),
	        cmocka_unit_test(test_sse_line_limit),
	        cmocka_unit_test(test_sse_event_limit),
	        cmocka_unit_test(test_sse_callback_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
