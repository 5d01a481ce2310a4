/* corefix.h - what the core's unit tests share: a core with nothing but what
 * the test registers (no audit, events or rotation unless faked), a fake
 * secrets engine "fake" in the mount-type registry, and a helper that runs
 * one request through core_handle. Header-only: each test includes it once. */
#ifndef CF_TEST_COREFIX_H
#define CF_TEST_COREFIX_H

#include "backend/registry.h"
#include "backend/view.h"
#include "core/core.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fake engine: "item" stores a value, "pure" is an R_PURE_READ read ---- */

static atomic_int fake_writes; /* handler effects: item writes that ran */
static atomic_int fake_reads;

static inline int
fake_item(struct request *rq, struct response *rs)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int r;

	if (rq->op & OP_WRITE) {
		const char *val = json_string_value(json_object_get(rq->data, "value"));
		atomic_fetch_add(&fake_writes, 1);
		return view_put(rq->mount->view, "item", (const uint8_t *)(val ? val : ""),
		                val ? strlen(val) : 0);
	}
	atomic_fetch_add(&fake_reads, 1);
	r = view_get(rq->mount->view, "item", &v, &n);
	if (r < 0)
		return r;
	rs->data = json_pack("{s:s%}", "value", (const char *)v, n);
	free(v);
	return rs->data ? 0 : CF_ENOMEM;
}

static inline int
fake_pure(struct request *rq, struct response *rs)
{
	atomic_fetch_add(&fake_reads, 1);
	rs->data = json_pack("{s:s}", "secret", "only-after-audit");
	return rs->data ? 0 : CF_ENOMEM;
}

static const struct route fake_routes[] = {
        {"item", 0, .read = fake_item, .write = fake_item},
        {"pure", R_PURE_READ, .read = fake_pure},
};

static const struct backend_type fake_backend = {
        .type = "fake",
        .routes = fake_routes,
        .nroutes = sizeof(fake_routes) / sizeof(fake_routes[0]),
};

static const struct backend_entry fake_entry[] = {
        {"fake", BACKEND_ENGINE, &fake_backend, NULL, NULL},
};

/* ---- requests ---- */

/* Runs one request; returns the status and, when ret is not NULL, leaves the
 * response there (the caller resets it). data is stolen. */
static inline int
corefix_call(struct core *c, enum op op, const char *path, const char *token, json_t *data,
             struct response *ret)
{
	struct request rq = {0};
	struct response rs = {0};
	int status;

	rq.op = op;
	rq.path = strdup(path);
	rq.data = data ? data : json_object();
	rq.client_token = token ? strdup(token) : NULL;
	rq.remote_addr = "127.0.0.1";
	status = core_handle(c, &rq, &rs);
	request_free_fields(&rq);
	if (ret)
		*ret = rs;
	else
		response_reset(&rs);
	return status;
}

/* The first error message of rs, or "". */
static inline const char *
corefix_error(const struct response *rs)
{
	const char *e = json_string_value(json_array_get(rs->errors, 0));

	return e ? e : "";
}

/* sys/init with shares/threshold; the unseal keys (hex) and the root token are
 * returned (malloc'd). Returns the status of sys/init. */
static inline int
corefix_init(struct core *c, int shares, int threshold, char **keys, char **ret_root)
{
	struct response rs = {0};
	int status = corefix_call(
	        c, OP_UPDATE, "sys/init", NULL,
	        json_pack("{s:i, s:i}", "secret_shares", shares, "secret_threshold", threshold),
	        &rs);
	json_t *k = json_object_get(rs.raw, "keys");

	for (int i = 0; status == 200 && i < shares; i++)
		keys[i] = strdup(json_string_value(json_array_get(k, (size_t)i)));
	if (status == 200)
		*ret_root = strdup(json_string_value(json_object_get(rs.raw, "root_token")));
	response_reset(&rs);
	return status;
}

/* One sys/unseal share; returns the status and sets *ret_sealed. */
static inline int
corefix_unseal(struct core *c, const char *key, bool *ret_sealed)
{
	struct response rs = {0};
	int status =
	        corefix_call(c, OP_UPDATE, "sys/unseal", NULL, json_pack("{s:s}", "key", key), &rs);

	*ret_sealed = json_is_true(json_object_get(rs.raw, "sealed"));
	response_reset(&rs);
	return status;
}

/* A core on memory storage, initialized with one share and unsealed, with the
 * fake engine registered (not mounted). */
struct corefix {
	struct core *c;
	char *key, *root;
};

static inline int
corefix_setup(struct corefix *f)
{
	struct core_config cfg = {.storage_spec = "memory:"};

	if (sodium_init() < 0 || backend_register(fake_entry, 1) < 0)
		return -1;
	if (core_new(&cfg, &f->c) < 0)
		return -1;
	return 0;
}

static inline int
corefix_unseal_new(struct corefix *f)
{
	bool sealed = true;

	if (corefix_init(f->c, 1, 1, &f->key, &f->root) != 200)
		return -1;
	if (corefix_unseal(f->c, f->key, &sealed) != 200 || sealed)
		return -1;
	return 0;
}

static inline void
corefix_teardown(struct corefix *f)
{
	core_free(f->c);
	secmem_free_str(f->key);
	secmem_free_str(f->root);
	memset(f, 0, sizeof(*f));
}

#endif
