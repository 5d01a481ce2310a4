/* test_dotenv.c - the .env parser (npm dotenv's parse()) and expander
 * (dotenv-expand): every rule of docs/env.md, byte spans into the original
 * text, refused input. The integration test compares whole files with the npm
 * packages themselves; these vectors pin each rule on its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "tools/env/dotenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vec {
	const char *in;
	const char *kv[21]; /* key, value, ... in dotenv's key order, NULL ends */
};

/* clang-format off */
static const struct vec parse_vectors[] = {
	/* plain, spaces, = in value */
	{ "A=1\nB = two words \nC=B=C\n", { "A", "1", "B", "two words", "C", "B=C" } },
	/* inline comments: any # ends an unquoted value */
	{ "A=b#c\nU=http://h/p#frag\nE=#x\nS=v # c\n", { "A", "b", "U", "http://h/p", "E", "", "S", "v" } },
	/* comment and blank lines, odd keys */
	{ "# c\n\n  # d\nk.e-y_1=v\n1=x\n", { "1", "x", "k.e-y_1", "v" } },
	/* export */
	{ "export A=1\nexport  B = 2\nexport=3\n", { "A", "1", "B", "2", "export", "3" } },
	{ "export\nC=1\n", { "C", "1" } },
	/* KEY: value, but not KEY:value */
	{ "A: 1\nB:2\nC : 3\nD=4\n", { "A", "1", "D", "4" } },
	{ "K:\n  indented\n", { "K", "indented" } },
	/* key and = on different lines */
	{ "FOO\n=bar\n", { "FOO", "bar" } },
	/* double quotes: only \n and \r are escapes, backslash before " kept */
	{ "A=\"x\\ny\"\nB=\"t\\tq\\\"\\\\\"\nC=\"a\\\\nb\"\nD=\"r\\r\"\n",
	  { "A", "x\ny", "B", "t\\tq\\\"\\\\", "C", "a\\\nb", "D", "r\r" } },
	/* single quotes and backticks: no escapes, # is text */
	{ "A='x\\ny # no'\nB=`y\\n'\"`\n", { "A", "x\\ny # no", "B", "y\\n'\"" } },
	/* multi-line values */
	{ "M=\"l1\nl2\"\nN='a\n\nb'\nO=`1\n2`\n", { "M", "l1\nl2", "N", "a\n\nb", "O", "1\n2" } },
	/* empty values */
	{ "A=\nB=\"\"\nC=''\nD=``\nE=   \n", { "A", "", "B", "", "C", "", "D", "", "E", "" } },
	/* a quoted value on the next line after = */
	{ "A=\n\"multi\"\nC=3\n", { "A", "multi", "C", "3" } },
	/* quotes that do not close cleanly */
	{ "Q=\"x\" y\nC=\"abc\"def\"\nU=\"abc\n", { "Q", "\"x\" y", "C", "abc\"def", "U", "\"abc" } },
	{ "Q=\"a\\nb\" z\n", { "Q", "\"a\nb\" z" } },
	/* after the closing quote: spaces and a comment only */
	{ "A=\"x\"   # c\nB='y'#c\n", { "A", "x", "B", "y" } },
	/* an escaped closing quote is used when nothing later fits */
	{ "A=\"x\\\"\nB=2\n", { "A", "x\\", "B", "2" } },
	/* duplicates: last value, first position */
	{ "A=1\nB=2\nA=3\n", { "A", "3", "B", "2" } },
	/* CRLF, lone CR, CR inside quotes */
	{ "A=1\r\nB=\"x\r\ny\"\rC=3\r", { "A", "1", "B", "x\ny", "C", "3" } },
	/* BOM and Unicode white space */
	{ "\xef\xbb\xbf" "A=1\n\xc2\xa0" "B=\xe3\x80\x80v\xe3\x80\x80\n", { "A", "1", "B", "v" } },
	/* unicode values */
	{ "U=h\xc3\xa9llo \xf0\x9f\x94\x91\n", { "U", "h\xc3\xa9llo \xf0\x9f\x94\x91" } },
	/* U+2028 ends a line for the entry search but not for an unquoted value */
	{ "A=x # c\xe2\x80\xa8" "B=2\nC=x\xe2\x80\xa8" "D=1\n", { "A", "x", "B", "2", "C", "x\xe2\x80\xa8" "D=1" } },
	/* lines that are no entries are skipped */
	{ "NOEQ\n# =x\n\xc3\xa9=1\n-=ok\n", { "-", "ok" } },
	/* __proto__ never shows in dotenv's object */
	{ "__proto__=x\nY=1\n", { "Y", "1" } },
	{ "", { NULL } },
};
/* clang-format on */

static void
check_vec(const struct vec *v)
{
	struct dotenv env = {0};
	char err[128];
	size_t n = 0, *order;

	assert_int_equal(dotenv_parse(v->in, strlen(v->in), &env, err, sizeof(err)), 0);
	while (v->kv[2 * n] != NULL)
		n++;
	if (env.n != n)
		fail_msg("%s: %zu keys, want %zu", v->in, env.n, n);
	order = calloc(n + 1, sizeof(*order));
	assert_non_null(order);
	dotenv_js_order(&env, order);
	for (size_t i = 0; i < n; i++) {
		const struct dotenv_entry *e = &env.v[order[i]];
		assert_string_equal(e->key, v->kv[2 * i]);
		assert_string_equal(e->value, v->kv[2 * i + 1]);
		assert_int_equal(e->value_len, strlen(v->kv[2 * i + 1]));
		assert_ptr_equal(dotenv_find(&env, e->key), e);
	}
	free(order);
	dotenv_free(&env);
	assert_int_equal(env.n, 0);
	assert_null(env.v);
}

static void
test_dotenv_parse_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_vectors) / sizeof(parse_vectors[0]); i++)
		check_vec(&parse_vectors[i]);
}

/* Spans are offsets into the original text, CR LF included. */
static void
test_dotenv_spans_crlf(void **state)
{
	const char *t = "# head\r\nA=1\r\nexport B = \"x\r\ny\"  # c\r\nC=\r\n";
	struct dotenv env = {0};
	const struct dotenv_entry *a, *b, *c;
	char err[128];

	(void)state;
	assert_int_equal(dotenv_parse(t, strlen(t), &env, err, sizeof(err)), 0);
	a = dotenv_find(&env, "A");
	b = dotenv_find(&env, "B");
	c = dotenv_find(&env, "C");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(a->span.line, 2);
	assert_int_equal(a->span.key_start, 8);
	assert_memory_equal(t + a->span.value_start, "1\r\n", 3);
	assert_int_equal(a->span.value_end, a->span.value_start + 1);
	assert_int_equal(a->span.quote, 0);
	assert_false(a->span.exported);

	assert_int_equal(b->span.line, 3);
	assert_true(b->span.exported);
	assert_memory_equal(t + b->span.entry_start, "export B", 8);
	assert_memory_equal(t + b->span.key_start, "B", b->span.key_len);
	assert_int_equal(b->span.quote, '"');
	assert_int_equal(b->span.value_end - b->span.value_start, strlen("\"x\r\ny\""));
	assert_memory_equal(t + b->span.value_start, "\"x\r\ny\"", 6);
	assert_string_equal(b->value, "x\ny");

	assert_int_equal(c->span.line, 5);
	assert_int_equal(c->span.value_start, c->span.value_end);
	assert_int_equal(t[c->span.value_start], '\r'); /* right after the = */
	dotenv_free(&env);
}

/* The span of an unquoted value is the trimmed text; a fallback value whose
 * quote pair came off reports that quote. */
static void
test_dotenv_spans_unquoted(void **state)
{
	const char *t = "A =  spaced out  # c\nC=\"abc\"def\"\n";
	struct dotenv env = {0};
	const struct dotenv_entry *a, *c;
	char err[128];

	(void)state;
	assert_int_equal(dotenv_parse(t, strlen(t), &env, err, sizeof(err)), 0);
	a = dotenv_find(&env, "A");
	c = dotenv_find(&env, "C");
	assert_memory_equal(t + a->span.value_start, "spaced out",
	                    a->span.value_end - a->span.value_start);
	assert_int_equal(a->span.value_end - a->span.value_start, 10);
	assert_int_equal(c->span.quote, '"');
	assert_memory_equal(t + c->span.value_start, "\"abc\"def\"", 9);
	assert_string_equal(c->value, "abc\"def");
	dotenv_free(&env);
}

struct seen {
	int count;
	int stop_at;
};

static int
count_visit(void *arg, const struct dotenv_span *span, const char *key, const char *value,
            size_t value_len)
{
	struct seen *s = arg;

	(void)span;
	(void)key;
	assert_int_equal(value[value_len], '\0');
	if (++s->count == s->stop_at)
		return CF_EEXIST;
	return 0;
}

/* dotenv_scan visits every entry, duplicates included, and stops on the
 * visitor's error. */
static void
test_dotenv_scan_visits(void **state)
{
	const char *t = "A=1\nA=2\nB=3\n";
	struct seen s = {0, 0};
	char err[64];

	(void)state;
	assert_int_equal(dotenv_scan(t, strlen(t), count_visit, &s, err, sizeof(err)), 0);
	assert_int_equal(s.count, 3);
	s = (struct seen){0, 2};
	assert_int_equal(dotenv_scan(t, strlen(t), count_visit, &s, err, sizeof(err)), CF_EEXIST);
	assert_int_equal(s.count, 2);
}

/* Not text, too large: refused with a reason that holds no content. */
static void
test_dotenv_refuses(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *why;
	} bad[] = {
	        {"A=secret\0x\n", 11, "NUL byte on line 1"},
	        {"A=1\nB=s\xc3\n", 9, "invalid UTF-8 on line 2"},
	        {"A=\xc0\x80\n", 5, "invalid UTF-8"},         /* overlong */
	        {"A=\xed\xa0\x80\n", 6, "invalid UTF-8"},     /* surrogate */
	        {"A=\xf5\x80\x80\x80\n", 7, "invalid UTF-8"}, /* past U+10FFFF */
	        {"A=\xff\n", 4, "invalid UTF-8"},
	};
	struct dotenv env = {0};
	char err[128], *big;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dotenv_parse(bad[i].in, bad[i].len, &env, err, sizeof(err)),
		                 CF_EINVAL);
		assert_non_null(strstr(err, bad[i].why));
		assert_null(strstr(err, "secret"));
		assert_int_equal(env.n, 0);
	}
	big = calloc(1, (size_t)DOTENV_MAX_FILE + 1);
	assert_non_null(big);
	assert_int_equal(dotenv_parse(big, (size_t)DOTENV_MAX_FILE + 1, &env, err, sizeof(err)),
	                 CF_ETOOBIG);
	free(big);
}

static void
test_dotenv_set_find(void **state)
{
	const char *t = "A=1\nB=2\n";
	struct dotenv env = {0};
	char err[64];

	(void)state;
	assert_int_equal(dotenv_parse(t, strlen(t), &env, err, sizeof(err)), 0);
	assert_int_equal(dotenv_set(&env, "A", "new", 3), 0);
	assert_int_equal(dotenv_set(&env, "C", "x\0y", 3), 0);
	assert_int_equal(env.n, 3);
	assert_string_equal(dotenv_find(&env, "A")->value, "new");
	assert_int_equal(dotenv_find(&env, "C")->value_len, 3);
	assert_string_equal(env.v[2].key, "C");
	assert_null(dotenv_find(&env, "D"));
	dotenv_free(&env);
	/* on an empty struct too */
	assert_int_equal(dotenv_set(&env, "X", "1", 1), 0);
	assert_string_equal(dotenv_find(&env, "X")->value, "1");
	dotenv_free(&env);
}

/* JavaScript's key order: array indices first, ascending. */
static void
test_dotenv_js_order(void **state)
{
	const char *t = "b=1\n4294967294=a\n4294967295=c\n10=x\n2=y\n01=z\n";
	static const char *want[] = {"2", "10", "4294967294", "b", "4294967295", "01"};
	struct dotenv env = {0};
	size_t order[6];
	char err[64];

	(void)state;
	assert_int_equal(dotenv_parse(t, strlen(t), &env, err, sizeof(err)), 0);
	assert_int_equal(env.n, 6);
	dotenv_js_order(&env, order);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(env.v[order[i]].key, want[i]);
	dotenv_free(&env);
}

/* A descriptor (stdin) reads the same; a missing file names itself. */
static void
test_dotenv_parse_fd_and_file(void **state)
{
	static const char text[] = "A=1\r\nB='two'\n";
	struct dotenv env = {0};
	char err[256];
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fds[1]);
	assert_int_equal(dotenv_parse_fd(fds[0], "stdin", &env, err, sizeof(err)), 0);
	close(fds[0]);
	assert_int_equal(env.n, 2);
	assert_string_equal(dotenv_find(&env, "B")->value, "two");
	assert_int_equal(dotenv_find(&env, "B")->span.value_start, 7);
	dotenv_free(&env);
	assert_int_equal(dotenv_parse_file("/nonexistent/.env", &env, err, sizeof(err)), CF_EIO);
	assert_non_null(strstr(err, "/nonexistent/.env"));
}

struct xvec {
	const char *in;
	const char *environ[4];
	const char *kv[21];
};

/* clang-format off */
static const struct xvec expand_vectors[] = {
	/* references, defaults and alternates */
	{ "A=x\nB=$A-${A}\nC=${U:-d}\nD=${E:-d}\nF=${U-d}\nG=${E-d}\nH=${A:+w}\nI=${E:+w}\nJ=${E+w}\nK=${U+w}\n",
	  { "E=", NULL },
	  { "A", "x", "B", "x-x", "C", "d", "D", "d", "F", "d", "G", "", "H", "w", "I", "", "J", "w", "K", "" } },
	/* nested defaults */
	{ "B=b\nA=${U:-${B}}\n", { NULL }, { "B", "b", "A", "b" } },
	/* the environment wins when set to a different non-empty value */
	{ "A=file\nB=$A\nC=same\n", { "A=env", "C=same", NULL }, { "A", "env", "B", "env", "C", "same" } },
	/* an empty environment value does not win */
	{ "A=file\n", { "A=", NULL }, { "A", "file" } },
	/* forward references see the raw literal */
	{ "A=$B\nB=${C}x\nC=c\n", { NULL }, { "A", "${C}x", "B", "cx", "C", "c" } },
	/* A=$A stops at itself */
	{ "A=$A\n", { NULL }, { "A", "$A" } },
	/* escaped dollars, $$ (a$ + x, then $x is a reference), ${}, bad names,
	 * names that stop at a dot */
	{ "A=x\nB=\\$A\nC=a$$A\nD=${}\nE=${NOT A NAME}\nF=$A.b\nG=${A.b}\n", { "A.b=dot", NULL },
	  { "A", "x", "B", "$A", "C", "a", "D", "${}", "E", "", "F", "x.b", "G", "dot" } },
	/* the first operator found wins */
	{ "A=${U-a:-b}\nB=${U:-a-b}\n", { NULL }, { "A", "a:-b", "B", "a-b" } },
	/* a backslash-escaped copy of the reference is what gets replaced */
	{ "A=x\nB=\\$A $A\n", { NULL }, { "A", "x", "B", "\\x x" } },
	/* command substitution is never run */
	{ "A=$(echo pwned)\nB=`$(id)`\n", { NULL }, { "A", "$(echo pwned)", "B", "$(id)" } },
	/* "null" in a name without operator cuts the name (String(null) split) */
	{ "an=x\nA=$annulled\n", { NULL }, { "an", "x", "A", "x" } },
	/* inherited variables named like array indices are invisible */
	{ "A=${1:-none}\n", { "1=one", NULL }, { "A", "none" } },
};
/* clang-format on */

static void
test_dotenv_expand_rules(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(expand_vectors) / sizeof(expand_vectors[0]); v++) {
		const struct xvec *x = &expand_vectors[v];
		struct dotenv env = {0};
		char err[128];
		size_t n = 0;

		assert_int_equal(dotenv_parse(x->in, strlen(x->in), &env, err, sizeof(err)), 0);
		if (dotenv_expand(&env, (char *const *)x->environ, err, sizeof(err)) != 0)
			fail_msg("%s: %s", x->in, err);
		while (x->kv[2 * n] != NULL)
			n++;
		assert_int_equal(env.n, n);
		for (size_t i = 0; i < n; i++) {
			const struct dotenv_entry *e = dotenv_find(&env, x->kv[2 * i]);
			assert_non_null(e);
			if (strcmp(e->value, x->kv[2 * i + 1]) != 0)
				fail_msg("%s: %s = \"%s\", want \"%s\"", x->in, e->key, e->value,
				         x->kv[2 * i + 1]);
		}
		dotenv_free(&env);
	}
}

/* A value that grows on every pass ends in an error naming the key, and the
 * values are left as parsed. */
static void
test_dotenv_expand_growing(void **state)
{
	static const char *ins[] = {"OK=1\nX=${X}x\n", "X=${X}${X}\n", "B=$A$A\nA=$B\n"};
	(void)state;
	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		struct dotenv env = {0};
		char err[128];

		assert_int_equal(dotenv_parse(ins[i], strlen(ins[i]), &env, err, sizeof(err)), 0);
		assert_int_equal(dotenv_expand(&env, NULL, err, sizeof(err)), CF_EINVAL);
		assert_non_null(strstr(err, i == 2 ? "B" : "X"));
		assert_string_equal(env.v[env.n - 1].value, i == 0   ? "${X}x"
		                                            : i == 1 ? "${X}${X}"
		                                                     : "$B");
		dotenv_free(&env);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dotenv_parse_rules),
	        cmocka_unit_test(test_dotenv_spans_crlf),
	        cmocka_unit_test(test_dotenv_spans_unquoted),
	        cmocka_unit_test(test_dotenv_scan_visits),
	        cmocka_unit_test(test_dotenv_refuses),
	        cmocka_unit_test(test_dotenv_set_find),
	        cmocka_unit_test(test_dotenv_js_order),
	        cmocka_unit_test(test_dotenv_parse_fd_and_file),
	        cmocka_unit_test(test_dotenv_expand_rules),
	        cmocka_unit_test(test_dotenv_expand_growing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
