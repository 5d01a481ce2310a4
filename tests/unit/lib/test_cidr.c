/* test_cidr.c - CIDR blocks: IPv4 and IPv6 parsing, prefixes at every boundary,
 * bad input refused, membership (with IPv4-mapped IPv6 addresses) and the
 * list rules of token_bound_cidrs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/cidr.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

/* clang-format off */
static const struct {
	const char *in;
	int r;
	bool v6;
	int bits;
	uint8_t addr[16];
} parse_vectors[] = {
	{ "10.0.0.0/8", 0, false, 8, { 10 } },
	{ "192.168.1.7", 0, false, 32, { 192, 168, 1, 7 } },
	{ "0.0.0.0/0", 0, false, 0, { 0 } },
	{ "127.0.0.1/32", 0, false, 32, { 127, 0, 0, 1 } },
	{ "::ffff:10.1.2.3/8", 0, false, 8, { 10, 1, 2, 3 } },
	{ "::1", 0, true, 128, { [15] = 1 } },
	{ "2001:db8::/32", 0, true, 32, { 0x20, 0x01, 0x0d, 0xb8 } },
	{ "::/0", 0, true, 0, { 0 } },
	{ "fe80::1/128", 0, true, 128, { 0xfe, 0x80, [15] = 1 } },
	/* refused */
	{ "", CF_EINVAL, false, 0, { 0 } },
	{ "10.0.0.0/", CF_EINVAL, false, 0, { 0 } },
	{ "10.0.0.0/33", CF_EINVAL, false, 0, { 0 } },
	{ "10.0.0.0/-1", CF_EINVAL, false, 0, { 0 } },
	{ "10.0.0.0/8x", CF_EINVAL, false, 0, { 0 } },
	{ "10.0.0.0/8/8", CF_EINVAL, false, 0, { 0 } },
	{ "10.0.0/8", CF_EINVAL, false, 0, { 0 } },
	{ "256.0.0.1", CF_EINVAL, false, 0, { 0 } },
	{ "::ffff:10.0.0.0/104", CF_EINVAL, false, 0, { 0 } },	/* a mapped address is IPv4: /32 at most */
	{ "::1/129", CF_EINVAL, false, 0, { 0 } },
	{ "2001:db8::g/32", CF_EINVAL, false, 0, { 0 } },
	{ "example.com/24", CF_EINVAL, false, 0, { 0 } },
	{ " 10.0.0.1", CF_EINVAL, false, 0, { 0 } },
	{ "10.0.0.1 ", CF_EINVAL, false, 0, { 0 } },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd/8",
	  CF_EINVAL, false, 0, { 0 } },	/* longer than any address */
};

static const struct {
	const char *block;
	const char *addr;
	bool in;
} contains_vectors[] = {
	{ "10.0.0.0/8", "10.255.3.4", true },
	{ "10.0.0.0/8", "11.0.0.0", false },
	{ "10.0.0.0/8", "9.255.255.255", false },
	{ "192.168.1.0/25", "192.168.1.127", true },
	{ "192.168.1.0/25", "192.168.1.128", false },
	{ "192.168.1.7", "192.168.1.7", true },
	{ "192.168.1.7", "192.168.1.8", false },
	{ "0.0.0.0/0", "203.0.113.9", true },
	{ "0.0.0.0/0", "::1", false },			/* families never mix */
	{ "10.0.0.0/8", "::ffff:10.9.9.9", true },	/* mapped address, IPv4 block */
	{ "10.0.0.0/8", "::ffff:11.9.9.9", false },
	{ "2001:db8::/32", "2001:db8:ffff::1", true },
	{ "2001:db8::/32", "2001:db9::1", false },
	{ "2001:db8::/33", "2001:db8:7fff::1", true },
	{ "2001:db8::/33", "2001:db8:8000::1", false },
	{ "::/0", "fe80::1", true },
	{ "::/0", "127.0.0.1", false },
	{ "::1", "::1", true },
	{ "::1", "::2", false },
	{ "10.0.0.0/8", "10.0.0.1/32", false },		/* an address, not a block */
	{ "10.0.0.0/8", "not an address", false },
	{ "10.0.0.0/8", "", false },
};
/* clang-format on */

#define N(v) (sizeof(v) / sizeof((v)[0]))

static void
test_cidr_parse(void **state)
{
	for (size_t i = 0; i < N(parse_vectors); i++) {
		struct cidr c;
		int r;

		memset(&c, 0xaa, sizeof(c));
		r = cidr_parse(parse_vectors[i].in, &c);
		if (r != parse_vectors[i].r)
			fail_msg("\"%s\": got %d, want %d", parse_vectors[i].in, r,
			         parse_vectors[i].r);
		if (r < 0)
			continue;
		if (c.v6 != parse_vectors[i].v6 || c.bits != parse_vectors[i].bits)
			fail_msg("\"%s\": v6 %d bits %d", parse_vectors[i].in, c.v6, c.bits);
		assert_memory_equal(c.addr, parse_vectors[i].addr, c.v6 ? 16 : 4);
	}
	assert_int_equal(cidr_parse(NULL, &(struct cidr){0}), CF_EINVAL);
}

static void
test_cidr_contains(void **state)
{
	for (size_t i = 0; i < N(contains_vectors); i++) {
		struct cidr c;
		bool in;

		assert_int_equal(cidr_parse(contains_vectors[i].block, &c), 0);
		in = cidr_contains(&c, contains_vectors[i].addr);
		if (in != contains_vectors[i].in)
			fail_msg("%s in %s: got %d", contains_vectors[i].addr,
			         contains_vectors[i].block, in);
	}
	{
		struct cidr c;
		assert_int_equal(cidr_parse("10.0.0.0/8", &c), 0);
		assert_false(cidr_contains(&c, NULL));
	}
}

static json_t *
list(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	if (!v)
		fail_msg("bad vector %s", text);
	return v;
}

static void
test_cidr_list_allows(void **state)
{
	/* clang-format off */
	static const struct {
		const char *list;
		const char *addr;
		bool allowed;
	} v[] = {
		{ "[]", "203.0.113.9", true },			/* no restriction */
		{ "null", "203.0.113.9", true },
		{ "[\"10.0.0.0/8\"]", "10.1.1.1", true },
		{ "[\"10.0.0.0/8\"]", "192.168.0.1", false },
		{ "[\"10.0.0.0/8\",\"192.168.0.0/16\"]", "192.168.0.1", true },
		{ "[\"10.0.0.0/8\",\"::1\"]", "::1", true },
		{ "[\"garbage\",\"10.0.0.0/8\"]", "10.0.0.1", true },	/* bad entry matches nothing */
		{ "[\"garbage\"]", "10.0.0.1", false },
		{ "[5]", "10.0.0.1", false },
		{ "[\"10.0.0.0/8\"]", "", false },
	};
	/* clang-format on */
	for (size_t i = 0; i < N(v); i++) {
		json_t *l = list(v[i].list);
		bool got = cidr_list_allows(l, v[i].addr);

		if (got != v[i].allowed)
			fail_msg("%s allows %s: got %d", v[i].list, v[i].addr, got);
		json_decref(l);
	}
	assert_true(cidr_list_allows(NULL, "10.0.0.1"));
}

static void
test_cidr_list_validate(void **state)
{
	const char *bad = NULL;
	json_t *l;

	l = list("[\"10.0.0.0/8\",\"::1\",\"2001:db8::/48\"]");
	assert_int_equal(cidr_list_validate(l, &bad), 0);
	assert_null(bad);
	json_decref(l);

	l = list("[]");
	assert_int_equal(cidr_list_validate(l, &bad), 0);
	json_decref(l);

	l = list("[\"10.0.0.0/8\",\"10.0.0.0/40\",\"nope\"]");
	assert_int_equal(cidr_list_validate(l, &bad), CF_EINVAL);
	assert_string_equal(bad, "10.0.0.0/40"); /* the first bad entry */
	json_decref(l);

	l = list("[\"10.0.0.0/8\",true]");
	assert_int_equal(cidr_list_validate(l, &bad), CF_EINVAL);
	assert_string_equal(bad, "(not a string)");
	json_decref(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cidr_parse),
	        cmocka_unit_test(test_cidr_contains),
	        cmocka_unit_test(test_cidr_list_allows),
	        cmocka_unit_test(test_cidr_list_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
