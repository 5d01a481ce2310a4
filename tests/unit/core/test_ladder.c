/* test_ladder.c - the request ladder (core_handle) with fake hooks: a core
 * with nothing registered but what each test gives it (docs/internals/core.md
 * "Hooks and subsystems"). Sealed -> 503, no or bad token -> 403, ACL deny ->
 * 403, an audit hook that fails -> 500 with the handler's effect withheld,
 * refused requests audited, registered sys tables reached with their flags,
 * subsystems started and stopped in order, a login's token minted by the
 * ladder, and a core without hooks serving unaudited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "corefix.h"

#include <stdio.h>

/* ---- fake hooks ---- */

struct fake_audit {
	int requests, pending, confirms, responses, refused, denied, records;
	int fail_request, fail_confirm, fail_refused; /* answer CF_EAUDIT */
	char last_refused_path[128];
};

static int
fa_request(void *arg, struct request *rq)
{
	struct fake_audit *a = arg;

	a->requests++;
	return a->fail_request ? CF_EAUDIT : 0;
}

static int
fa_pending(void *arg, struct request *rq)
{
	struct fake_audit *a = arg;

	a->pending++;
	rq->naudit_tickets = 1; /* an entry in flight: the core must confirm it */
	return 0;
}

static int
fa_confirm(void *arg, struct request *rq)
{
	struct fake_audit *a = arg;

	a->confirms++;
	return a->fail_confirm ? CF_EAUDIT : 0;
}

static int
fa_response(void *arg, struct request *rq, struct response *rs)
{
	struct fake_audit *a = arg;

	a->responses++;
	return 0;
}

static int
fa_refused(void *arg, struct request *rq, struct response *rs, bool denied)
{
	struct fake_audit *a = arg;

	a->refused++;
	if (denied)
		a->denied++;
	snprintf(a->last_refused_path, sizeof(a->last_refused_path), "%s", rq->path);
	return a->fail_refused ? CF_EAUDIT : 0;
}

static int
fa_record(void *arg, const char *type, json_t *fields)
{
	struct fake_audit *a = arg;

	a->records++;
	return 0;
}

struct fake_events {
	int emitted;
	char last_type[64];
};

static int
fe_emit(void *arg, const struct event *e, char ret_id[37])
{
	struct fake_events *ev = arg;

	ev->emitted++;
	snprintf(ev->last_type, sizeof(ev->last_type), "%s", e->type);
	return 0;
}

static int observed;

static void
fo_read(void *arg, const struct request *rq, const struct response *rs)
{
	observed++;
}

/* ---- a fake subsystem and its sys routes ---- */

static char order[64]; /* "S<name>" at start, "s<name>" at stop */

static int
sub_start(struct core *c, void *arg)
{
	strncat(order, "S", sizeof(order) - strlen(order) - 1);
	strncat(order, arg, sizeof(order) - strlen(order) - 1);
	return 0;
}

static void
sub_stop(struct core *c, void *arg)
{
	strncat(order, "s", sizeof(order) - strlen(order) - 1);
	strncat(order, arg, sizeof(order) - strlen(order) - 1);
}

static int
sys_ping(struct request *rq, struct response *rs)
{
	rs->data = json_pack("{s:s}", "pong", (const char *)core_subsystem(rq->core, "one"));
	return rs->data ? 0 : CF_ENOMEM;
}

static const struct route ping_routes[] = {
        {"ping", R_SUDO | R_SYS_INJECT, .read = sys_ping},
        {"health", 0, .read = sys_ping}, /* shadowed by sys/'s own route */
};

/* A login: what it authenticated goes in rs->login; the ladder mints. */
static int
fake_login(struct request *rq, struct response *rs)
{
	struct auth_result *a = calloc(1, sizeof(*a));

	if (!a)
		return CF_ENOMEM;
	a->display_name = strdup("fakeauth-alice");
	a->policies = json_pack("[s, s]", "default", "reader");
	a->metadata = json_pack("{s:s}", "username", "alice");
	a->ttl = 600;
	a->renewable = true;
	rs->login = a;
	return 0;
}

static const struct route login_routes[] = {
        {"login", R_NOAUTH, .write = fake_login},
};

static const struct backend_type fakeauth_backend = {
        .type = "fakeauth",
        .routes = login_routes,
        .nroutes = 1,
};

static const struct backend_entry fakeauth_entry[] = {
        {"fakeauth", BACKEND_AUTH, &fakeauth_backend, NULL, NULL},
};

/* ---- fixture ---- */

struct fixture {
	struct corefix cf;
	struct fake_audit audit;
	struct fake_events events;
	char *reader; /* a token with policy "reader": read on fake/item only */
};

static void
hooks_install(struct fixture *f)
{
	struct core_hooks h = {
	        .audit = &f->audit,
	        .audit_request = fa_request,
	        .audit_request_pending = fa_pending,
	        .audit_confirm = fa_confirm,
	        .audit_response = fa_response,
	        .audit_refused = fa_refused,
	        .audit_record = fa_record,
	        .events = &f->events,
	        .event_emit = fe_emit,
	        .read_observed = fo_read,
	};

	core_set_hooks(f->cf.c, &h);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct core_subsystem one = {"one", sub_start, sub_stop, NULL, (void *)"one"};
	struct core_subsystem two = {"two", sub_start, sub_stop, NULL, (void *)"two"};
	struct response rs = {0};

	if (!f || corefix_setup(&f->cf) < 0 || backend_register(fakeauth_entry, 1) < 0)
		return -1;
	hooks_install(f);
	order[0] = '\0';
	observed = 0;
	if (core_register_subsystem(f->cf.c, &one) < 0 ||
	    core_register_subsystem(f->cf.c, &two) < 0 ||
	    core_register_sys_routes(f->cf.c, ping_routes, 2) < 0)
		return -1;
	if (corefix_unseal_new(&f->cf) < 0)
		return -1;
	if (corefix_call(f->cf.c, OP_UPDATE, "sys/mounts/fake", f->cf.root,
	                 json_pack("{s:s}", "type", "fake"), NULL) != 204)
		return -1;
	if (corefix_call(f->cf.c, OP_UPDATE, "sys/auth/fakeauth", f->cf.root,
	                 json_pack("{s:s}", "type", "fakeauth"), NULL) != 204)
		return -1;
	if (corefix_call(f->cf.c, OP_UPDATE, "sys/policy/reader", f->cf.root,
	                 json_pack("{s:s}", "policy",
	                           "path \"fake/item\" { capabilities = [\"read\"] }\n"
	                           "path \"fake/pure\" { capabilities = [\"read\"] }"),
	                 NULL) != 204)
		return -1;
	if (corefix_call(f->cf.c, OP_UPDATE, "auth/token/create", f->cf.root,
	                 json_pack("{s:[s]}", "policies", "reader"), &rs) != 200)
		return -1;
	f->reader = strdup(json_string_value(json_object_get(rs.auth, "client_token")));
	response_reset(&rs);
	if (!f->reader)
		return -1;
	memset(&f->audit, 0, sizeof(f->audit));
	atomic_store(&fake_writes, 0);
	atomic_store(&fake_reads, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	corefix_teardown(&f->cf);
	secmem_free_str(f->reader);
	free(f);
	return 0;
}

/* ---- the ladder, table-driven ---- */

enum who { ROOT, READER, NOBODY, BAD };

static const struct {
	const char *name;
	enum op op;
	const char *path;
	enum who who;
	int fail_request;
	int status;
	const char *error; /* first error, or NULL for none checked */
	int writes, reads; /* handler effects */
	int requests;      /* audit request entries (plain, not pending) */
	int refused;       /* requests audited as refused */
	int denied;        /* ... of which denied by token or policy */
} ladder_cases[] = {
        {"root writes", OP_UPDATE, "fake/item", ROOT, 0, 204, NULL, 1, 0, 1, 0, 0},
        {"reader reads", OP_READ, "fake/item", READER, 0, 200, NULL, 0, 1, 1, 0, 0},
        {"reader may not write (ACL deny)", OP_UPDATE, "fake/item", READER, 0, 403,
         "permission denied", 0, 0, 0, 1, 1},
        {"no token", OP_READ, "fake/item", NOBODY, 0, 403, "permission denied", 0, 0, 0, 1, 1},
        {"unknown token", OP_READ, "fake/item", BAD, 0, 403, "permission denied", 0, 0, 0, 1, 1},
        {"no route", OP_READ, "fake/nothing", ROOT, 0, 404, NULL, 0, 0, 0, 1, 0},
        {"no mount", OP_READ, "nomount/x", ROOT, 0, 404, NULL, 0, 0, 0, 1, 0},
        {"unsupported op", OP_DELETE, "fake/item", ROOT, 0, 405, "unsupported operation", 0, 0, 0,
         1, 0},
        {"audit failure: 500, handler not run", OP_UPDATE, "fake/item", ROOT, 1, 500,
         "failed to log request to any audit device", 0, 0, 1, 0, 0},
        {"registered sys route", OP_READ, "sys/ping", ROOT, 0, 200, NULL, 0, 0, 1, 0, 0},
        {"registered sys route keeps R_SUDO", OP_READ, "sys/ping", READER, 0, 403,
         "permission denied", 0, 0, 0, 1, 1},
};

static void
test_ladder_cases(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(ladder_cases) / sizeof(ladder_cases[0]); i++) {
		const char *tok = ladder_cases[i].who == ROOT     ? f->cf.root
		                  : ladder_cases[i].who == READER ? f->reader
		                  : ladder_cases[i].who == BAD    ? "hvs.notatokenatall0000000000"
		                                                  : NULL;
		struct response rs = {0};
		int status;

		print_message("case: %s\n", ladder_cases[i].name);
		memset(&f->audit, 0, sizeof(f->audit));
		atomic_store(&fake_writes, 0);
		atomic_store(&fake_reads, 0);
		f->audit.fail_request = ladder_cases[i].fail_request;
		status = corefix_call(f->cf.c, ladder_cases[i].op, ladder_cases[i].path, tok,
		                      json_pack("{s:s}", "value", "v1"), &rs);
		assert_int_equal(status, ladder_cases[i].status);
		if (ladder_cases[i].error)
			assert_string_equal(corefix_error(&rs), ladder_cases[i].error);
		assert_int_equal(atomic_load(&fake_writes), ladder_cases[i].writes);
		assert_int_equal(atomic_load(&fake_reads), ladder_cases[i].reads);
		assert_int_equal(f->audit.requests, ladder_cases[i].requests);
		assert_int_equal(f->audit.refused, ladder_cases[i].refused);
		assert_int_equal(f->audit.denied, ladder_cases[i].denied);
		/* a request entry is always followed by its response entry */
		assert_int_equal(f->audit.responses,
		                 f->audit.requests - ladder_cases[i].fail_request);
		response_reset(&rs);
	}
}

/* An R_PURE_READ read whose request entry was never confirmed: the handler
 * ran, but its answer does not leave the ladder. */
static void
test_ladder_unconfirmed_audit_withholds_answer(void **state)
{
	struct fixture *f = *state;
	struct response rs = {0};

	f->audit.fail_confirm = 1;
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "fake/pure", f->reader, NULL, &rs), 500);
	assert_int_equal(f->audit.pending, 1);
	assert_int_equal(f->audit.confirms, 1);
	assert_int_equal(atomic_load(&fake_reads), 1);
	assert_null(rs.data);
	assert_string_equal(corefix_error(&rs), "failed to log request to any audit device");
	response_reset(&rs);

	f->audit.fail_confirm = 0;
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "fake/pure", f->reader, NULL, &rs), 200);
	assert_string_equal(json_string_value(json_object_get(rs.data, "secret")),
	                    "only-after-audit");
	assert_int_equal(f->audit.confirms, 2);
	response_reset(&rs);
}

/* A refusal that no audit device can record becomes a 500. */
static void
test_ladder_unaudited_refusal_is_500(void **state)
{
	struct fixture *f = *state;
	struct response rs = {0};

	f->audit.fail_refused = 1;
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "fake/item", NULL, NULL, &rs), 500);
	assert_string_equal(corefix_error(&rs), "failed to log request to any audit device");
	assert_string_equal(f->audit.last_refused_path, "fake/item");
	response_reset(&rs);
}

/* Sealed: 503 for every mount route, nothing audited, nothing run; the
 * subsystems stopped in reverse order and start again in order. */
static void
test_ladder_sealed_is_503(void **state)
{
	struct fixture *f = *state;
	bool sealed = false;

	/* sys/init seals the barrier it set up: stop runs once before any start */
	assert_string_equal(order, "stwosoneSoneStwo");
	order[0] = '\0';
	assert_int_equal(corefix_call(f->cf.c, OP_UPDATE, "sys/seal", f->cf.root, NULL, NULL), 204);
	assert_string_equal(order, "stwosone");
	memset(&f->audit, 0, sizeof(f->audit));
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "fake/item", f->cf.root, NULL, NULL), 503);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/ping", f->cf.root, NULL, NULL), 503);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "nomount/x", f->cf.root, NULL, NULL), 503);
	assert_int_equal(f->audit.requests + f->audit.refused + f->audit.responses, 0);
	assert_int_equal(atomic_load(&fake_reads), 0);

	assert_int_equal(corefix_unseal(f->cf.c, f->cf.key, &sealed), 200);
	assert_false(sealed);
	assert_string_equal(order, "stwosoneSoneStwo");
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/ping", f->cf.root, NULL, NULL), 200);
}

/* The registered subsystem's arg is found by name, and a sys/ route of the
 * core's own shadows a registered one with the same pattern. */
static void
test_ladder_sys_tables_chain_after_own_routes(void **state)
{
	struct fixture *f = *state;
	struct response rs = {0};

	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/ping", f->cf.root, NULL, &rs), 200);
	assert_string_equal(json_string_value(json_object_get(rs.data, "pong")), "one");
	assert_true(rs.sys_inject);
	response_reset(&rs);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/health", NULL, NULL, &rs), 200);
	assert_null(json_object_get(rs.data, "pong"));
	assert_non_null(rs.raw);
	response_reset(&rs);
	assert_null(core_subsystem(f->cf.c, "three"));
	assert_int_equal(core_register_subsystem(
	                         f->cf.c, &(struct core_subsystem){"one", NULL, NULL, NULL, NULL}),
	                 CF_EEXIST);
}

/* Reads that answer data reach the read hook; events and records go to theirs. */
static void
test_ladder_read_event_and_record_hooks(void **state)
{
	struct fixture *f = *state;
	struct event ev = {.type = "test.fired", .severity = EV_INFO};

	observed = 0;
	assert_int_equal(corefix_call(f->cf.c, OP_UPDATE, "fake/item", f->cf.root,
	                              json_pack("{s:s}", "value", "x"), NULL),
	                 204);
	assert_int_equal(observed, 0);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "fake/item", f->reader, NULL, NULL), 200);
	assert_int_equal(observed, 1);
	assert_int_equal(core_emit_event(f->cf.c, &ev, NULL), 0);
	assert_int_equal(f->events.emitted, 1);
	assert_string_equal(f->events.last_type, "test.fired");
	assert_int_equal(core_audit_record(f->cf.c, "rotation.compromise", NULL), 0);
	assert_int_equal(f->audit.records, 1);
}

/* A login handler returns what it authenticated; the ladder mints a token
 * that then works, with the policies and metadata given. */
static void
test_ladder_mints_login_token(void **state)
{
	struct fixture *f = *state;
	struct response rs = {0};
	char *tok;

	assert_int_equal(corefix_call(f->cf.c, OP_UPDATE, "auth/fakeauth/login", NULL, NULL, &rs),
	                 200);
	assert_null(rs.login);
	assert_non_null(rs.auth);
	tok = strdup(json_string_value(json_object_get(rs.auth, "client_token")));
	assert_non_null(tok);
	assert_int_equal(json_integer_value(json_object_get(rs.auth, "lease_duration")), 600);
	assert_true(json_is_true(json_object_get(rs.auth, "renewable")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(rs.auth, "metadata"),
	                                                      "username")),
	                    "alice");
	assert_string_equal(
	        json_string_value(json_array_get(json_object_get(rs.auth, "policies"), 1)),
	        "reader");
	response_reset(&rs);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "fake/item", tok, NULL, NULL), 404);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "auth/token/lookup-self", tok, NULL, &rs),
	                 200);
	assert_string_equal(json_string_value(json_object_get(rs.data, "display_name")),
	                    "fakeauth-alice");
	response_reset(&rs);
	secmem_free_str(tok);
}

/* With no hooks at all the core serves requests, unaudited. */
static void
test_ladder_null_hooks(void **state)
{
	struct corefix cf = {0};
	struct response rs = {0};
	struct core_hooks none = {0};

	assert_int_equal(corefix_setup(&cf), 0);
	core_set_hooks(cf.c, &none);
	assert_int_equal(corefix_unseal_new(&cf), 0);
	assert_int_equal(corefix_call(cf.c, OP_UPDATE, "sys/mounts/fake", cf.root,
	                              json_pack("{s:s}", "type", "fake"), NULL),
	                 204);
	assert_int_equal(corefix_call(cf.c, OP_UPDATE, "fake/item", cf.root,
	                              json_pack("{s:s}", "value", "plain"), NULL),
	                 204);
	assert_int_equal(corefix_call(cf.c, OP_READ, "fake/item", cf.root, NULL, &rs), 200);
	assert_string_equal(json_string_value(json_object_get(rs.data, "value")), "plain");
	response_reset(&rs);
	assert_int_equal(corefix_call(cf.c, OP_READ, "fake/item", NULL, NULL, NULL), 403);
	assert_int_equal(corefix_call(cf.c, OP_READ, "sys/audit", cf.root, NULL, NULL), 404);
	assert_int_equal(core_emit_event(cf.c, &(struct event){.type = "x.y"}, NULL), 0);
	corefix_teardown(&cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_ladder_cases, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ladder_unconfirmed_audit_withholds_answer,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ladder_unaudited_refusal_is_500, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_ladder_sealed_is_503, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ladder_sys_tables_chain_after_own_routes,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ladder_read_event_and_record_hooks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_ladder_mints_login_token, setup, teardown),
	        cmocka_unit_test(test_ladder_null_hooks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
