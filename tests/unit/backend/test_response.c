/* test_response.c - response_body: a finished raw body answered as a stream
 * with its length, read back in small pieces byte for byte (NUL bytes
 * included), an empty body, and a second body replacing the first (the first
 * stream is freed: the sanitizer build checks that nothing leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backend/request.h"
#include "lib/err.h"

#include <string.h>

/* Reads the whole stream in pieces of at most step bytes into out (cap). */
static size_t
drain(struct response_stream *st, char *out, size_t cap, size_t step)
{
	size_t got = 0;
	long n;

	while ((n = st->read(st->arg, out + got, step < cap - got ? step : cap - got)) > 0)
		got += (size_t)n;
	assert_int_equal(n, RESPONSE_STREAM_END);
	return got;
}

static void
test_response_body(void **state)
{
	static const char der[] = {0x30, 0x03, 0x02, 0x01, 0x00, 0x7f, 0x00, 0x41};
	struct response rs = {0};
	char out[64];

	(void)state;
	assert_int_equal(response_body(&rs, "application/pkix-crl", der, sizeof(der)), 0);
	assert_int_equal(rs.status, 200);
	assert_non_null(rs.stream);
	assert_string_equal(rs.stream->content_type, "application/pkix-crl");
	assert_int_equal(rs.stream->length, sizeof(der));
	assert_int_equal(drain(rs.stream, out, sizeof(out), 3), sizeof(der));
	assert_memory_equal(out, der, sizeof(der));

	/* a second answer replaces the first */
	assert_int_equal(response_body(&rs, "text/plain", "ok\n", 3), 0);
	assert_string_equal(rs.stream->content_type, "text/plain");
	assert_int_equal(drain(rs.stream, out, sizeof(out), 64), 3);
	assert_memory_equal(out, "ok\n", 3);

	/* an empty body ends at once */
	assert_int_equal(response_body(&rs, "text/plain", "", 0), 0);
	assert_int_equal(rs.stream->length, 0);
	assert_int_equal(drain(rs.stream, out, sizeof(out), 8), 0);
	response_reset(&rs);
	assert_null(rs.stream);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_response_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
