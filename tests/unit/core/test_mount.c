/* test_mount.c - the mount table (core/mount.c) through the ladder, on a core
 * with only the fake engine registered: enable, disable, remount, reserved
 * paths, the TTL config check, the mount-type registry, and a table that
 * survives seal and unseal (docs/internals/core.md "Mounts"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "corefix.h"
#include "core/core_int.h"

#include <stdio.h>

static int
setup(void **state)
{
	struct corefix *f = calloc(1, sizeof(*f));

	if (!f || corefix_setup(f) < 0 || corefix_unseal_new(f) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	corefix_teardown(*state);
	free(*state);
	return 0;
}

static int
enable(struct corefix *f, const char *path, json_t *body, struct response *rs)
{
	char p[128];

	snprintf(p, sizeof(p), "sys/mounts/%s", path);
	return corefix_call(f->c, OP_UPDATE, p, f->root, body, rs);
}

/* Whether sys/mounts lists path (with its trailing '/') and its type. */
static const char *
listed_type(struct corefix *f, const char *path)
{
	static char type[32];
	struct response rs = {0};
	json_t *e;

	assert_int_equal(corefix_call(f->c, OP_READ, "sys/mounts", f->root, NULL, &rs), 200);
	e = json_object_get(rs.data, path);
	snprintf(type, sizeof(type), "%s", e ? json_string_value(json_object_get(e, "type")) : "");
	response_reset(&rs);
	return e ? type : NULL;
}

static const struct {
	const char *name;
	const char *path;
	const char *body; /* JSON */
	int status;
	const char *error; /* first error, NULL: not checked */
} enable_cases[] = {
        {"a registered type", "fake", "{\"type\":\"fake\"}", 204, NULL},
        {"an unknown type", "other", "{\"type\":\"nosuchengine\"}", 400, NULL},
        {"a type of the other kind", "tok", "{\"type\":\"token\"}", 400, NULL},
        {"sys/ is reserved", "sys", "{\"type\":\"fake\"}", 400, NULL},
        {"auth/ is reserved", "auth", "{\"type\":\"fake\"}", 400, NULL},
        {"cubbyhole/ is reserved", "cubbyhole", "{\"type\":\"fake\"}", 400, NULL},
        {"default above max", "ttl1",
         "{\"type\":\"fake\",\"config\":{\"default_lease_ttl\":\"2h\",\"max_lease_ttl\":\"1h\"}}",
         400, "given default lease TTL greater than given max lease TTL"},
        {"default above the system max", "ttl2",
         "{\"type\":\"fake\",\"config\":{\"default_lease_ttl\":\"800h\"}}", 400,
         "given default lease TTL greater than system max lease TTL of 2764800"},
        {"a bad duration", "ttl3", "{\"type\":\"fake\",\"config\":{\"max_lease_ttl\":\"soon\"}}",
         400, NULL},
        {"TTLs in range", "ttl4",
         "{\"type\":\"fake\",\"config\":{\"default_lease_ttl\":\"1h\",\"max_lease_ttl\":\"2h\"}}",
         204, NULL},
};

static void
test_mount_enable_cases(void **state)
{
	struct corefix *f = *state;

	for (size_t i = 0; i < sizeof(enable_cases) / sizeof(enable_cases[0]); i++) {
		struct response rs = {0};
		char path[64];

		print_message("case: %s\n", enable_cases[i].name);
		assert_int_equal(enable(f, enable_cases[i].path,
		                        json_loads(enable_cases[i].body, 0, NULL), &rs),
		                 enable_cases[i].status);
		if (enable_cases[i].error)
			assert_string_equal(corefix_error(&rs), enable_cases[i].error);
		response_reset(&rs);
		snprintf(path, sizeof(path), "%s/", enable_cases[i].path);
		if (enable_cases[i].status == 204)
			assert_non_null(listed_type(f, path));
		else if (strcmp(path, "sys/") != 0)
			assert_null(listed_type(f, path));
	}
	/* the same path twice, and a nested one */
	assert_int_equal(enable(f, "fake", json_pack("{s:s}", "type", "fake"), NULL), 400);
	assert_int_equal(enable(f, "fake/inner", json_pack("{s:s}", "type", "fake"), NULL), 400);
}

static const struct {
	const char *path;
	bool is_auth, reserved;
} reserved_cases[] = {
        {"sys/", false, true},       {"auth/", false, true},          {"auth/x/", false, true},
        {"cubbyhole/", false, true}, {"identity/", false, true},      {"secret/", false, false},
        {"auth/token/", true, true}, {"auth/userpass/", true, false}, {"system/", false, false},
};

static void
test_mount_reserved_paths(void **state)
{
	for (size_t i = 0; i < sizeof(reserved_cases) / sizeof(reserved_cases[0]); i++) {
		print_message("case: %s\n", reserved_cases[i].path);
		assert_int_equal(
		        mount_path_reserved(reserved_cases[i].path, reserved_cases[i].is_auth),
		        reserved_cases[i].reserved);
	}
}

static void
test_mount_config_check(void **state)
{
	static const struct {
		const char *cfg;
		int r;
	} v[] = {
	        {"null", 0},
	        {"{}", 0},
	        {"{\"default_lease_ttl\":\"system\",\"max_lease_ttl\":\"system\"}", 0},
	        {"{\"default_lease_ttl\":60,\"max_lease_ttl\":120}", 0},
	        {"{\"default_lease_ttl\":120,\"max_lease_ttl\":60}", CF_EINVAL},
	        {"{\"default_lease_ttl\":\"-1s\"}", CF_EINVAL},
	        {"\"1h\"", CF_EINVAL},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct response rs = {0};
		json_t *cfg = json_loads(v[i].cfg, JSON_DECODE_ANY, NULL);

		print_message("case: %s\n", v[i].cfg);
		assert_int_equal(mount_config_check(cfg, &rs), v[i].r);
		assert_true(v[i].r == 0 ? rs.errors == NULL : json_array_size(rs.errors) == 1);
		json_decref(cfg);
		response_reset(&rs);
	}
}

/* The registry: a name, its kind and its options select the backend type. */
static void
test_mount_registry(void **state)
{
	static const struct backend_type v1 = {.type = "kvish"}, v2 = {.type = "kvish"};
	static const struct backend_entry e[] = {
	        {"kvish", BACKEND_ENGINE, &v2, "version", "2"},
	        {"kvish", BACKEND_ENGINE, &v1, NULL, NULL},
	        {"kvalias", BACKEND_ENGINE, &v1, NULL, NULL},
	};
	json_t *o2 = json_pack("{s:s}", "version", "2"), *o1 = json_pack("{s:s}", "version", "1");

	assert_int_equal(backend_register(e, 3), 0);
	assert_int_equal(backend_register(e, 3), 0); /* idempotent */
	assert_ptr_equal(backend_type_find("kvish", o2, false), &v2);
	assert_ptr_equal(backend_type_find("kvish", o1, false), &v1);
	assert_ptr_equal(backend_type_find("kvish", NULL, false), &v1);
	assert_ptr_equal(backend_type_find("kvalias", o2, false), &v1);
	assert_null(backend_type_find("kvish", NULL, true));
	assert_null(backend_type_find("nosuch", NULL, false));
	assert_non_null(backend_type_find("token", NULL, true)); /* the core's own */
	assert_null(backend_type_find("system", NULL, false));   /* sys/ is not mountable */
	json_decref(o1);
	json_decref(o2);
}

/* Remount keeps the data; disable deletes it; both refuse sys/. */
static void
test_mount_remount_and_disable(void **state)
{
	struct corefix *f = *state;
	struct response rs = {0};

	assert_int_equal(enable(f, "fake", json_pack("{s:s}", "type", "fake"), NULL), 204);
	assert_int_equal(corefix_call(f->c, OP_UPDATE, "fake/item", f->root,
	                              json_pack("{s:s}", "value", "kept"), NULL),
	                 204);
	assert_int_equal(corefix_call(f->c, OP_UPDATE, "sys/remount", f->root,
	                              json_pack("{s:s, s:s}", "from", "fake", "to", "moved"), NULL),
	                 204);
	assert_null(listed_type(f, "fake/"));
	assert_string_equal(listed_type(f, "moved/"), "fake");
	assert_int_equal(corefix_call(f->c, OP_READ, "fake/item", f->root, NULL, NULL), 404);
	assert_int_equal(corefix_call(f->c, OP_READ, "moved/item", f->root, NULL, &rs), 200);
	assert_string_equal(json_string_value(json_object_get(rs.data, "value")), "kept");
	response_reset(&rs);

	assert_int_equal(corefix_call(f->c, OP_UPDATE, "sys/remount", f->root,
	                              json_pack("{s:s, s:s}", "from", "sys", "to", "elsewhere"),
	                              NULL),
	                 400);
	assert_int_equal(corefix_call(f->c, OP_UPDATE, "sys/remount", f->root,
	                              json_pack("{s:s, s:s}", "from", "moved", "to", "sys/x"),
	                              NULL),
	                 400);

	assert_int_equal(corefix_call(f->c, OP_DELETE, "sys/mounts/moved", f->root, NULL, NULL),
	                 204);
	assert_null(listed_type(f, "moved/"));
	/* mounted again at the same path: a new, empty mount */
	assert_int_equal(enable(f, "moved", json_pack("{s:s}", "type", "fake"), NULL), 204);
	assert_int_equal(corefix_call(f->c, OP_READ, "moved/item", f->root, NULL, NULL), 404);
}

/* The table is stored: a seal and an unseal bring back every mount, its type,
 * options and TTLs, and its data. */
static void
test_mount_table_survives_seal(void **state)
{
	struct corefix *f = *state;
	struct response rs = {0};
	bool sealed = false;
	json_t *e;

	assert_int_equal(enable(f, "fake",
	                        json_pack("{s:s, s:s, s:{s:s}}", "type", "fake", "description",
	                                  "a fake", "config", "default_lease_ttl", "1h"),
	                        NULL),
	                 204);
	assert_int_equal(corefix_call(f->c, OP_UPDATE, "fake/item", f->root,
	                              json_pack("{s:s}", "value", "durable"), NULL),
	                 204);
	assert_int_equal(corefix_call(f->c, OP_UPDATE, "sys/seal", f->root, NULL, NULL), 204);
	assert_true(core_sealed(f->c));
	assert_int_equal(corefix_unseal(f->c, f->key, &sealed), 200);
	assert_false(sealed);

	assert_int_equal(corefix_call(f->c, OP_READ, "sys/mounts", f->root, NULL, &rs), 200);
	e = json_object_get(rs.data, "fake/");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "fake");
	assert_string_equal(json_string_value(json_object_get(e, "description")), "a fake");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "config"),
	                                                    "default_lease_ttl")),
	                 3600);
	response_reset(&rs);
	assert_int_equal(corefix_call(f->c, OP_READ, "fake/item", f->root, NULL, &rs), 200);
	assert_string_equal(json_string_value(json_object_get(rs.data, "value")), "durable");
	response_reset(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_mount_enable_cases, setup, teardown),
	        cmocka_unit_test(test_mount_reserved_paths),
	        cmocka_unit_test(test_mount_config_check),
	        cmocka_unit_test_setup_teardown(test_mount_registry, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_mount_remount_and_disable, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_mount_table_survives_seal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
