/* metrics_sys.c - GET sys/metrics (Vault's route, api-docs/system/metrics) and
 * the core's gauges: seal state, HA state, tokens and leases by mount.
 *
 * The registry and the text format are in src/lib/metrics.c; this file answers
 * the route with what it renders, as a stream of text/plain (the exposition
 * format 0.0.4), and registers the collectors of the gauges the core owns. The
 * collectors run inside the sys/metrics handler, which holds the core lock for
 * reading: they use the mount table, the token store and the expiration
 * manager without taking that lock again (it is not recursive). See
 * docs/internals/metrics.md. */
#include "core/core_int.h"
#include "core/expire.h"
#include "core/token.h"
#include "crypto/barrier.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/metrics.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The largest exposition answered (a cap, far above what the series limits allow). */
#define METRICS_MAX_OUTPUT (64u << 20)

static int
sys_metrics(struct request *rq, struct response *rs)
{
	const char *format = json_string_value(json_object_get(rq->query, "format"));
	struct buf b = BUF_INIT(METRICS_MAX_OUTPUT, 0);
	int r;

	if (!format || strcmp(format, "prometheus") != 0) {
		(void)response_errorf(rs, "only format=prometheus is supported: "
		                          "GET /v1/sys/metrics?format=prometheus");
		return CF_EINVAL;
	}
	r = metrics_render(&b);
	if (r == 0)
		r = response_body(rs, METRICS_CONTENT_TYPE, buf_str(&b), buf_len(&b));
	buf_free(&b);
	return r;
}

/* Authenticated: a token with read on sys/metrics. */
const struct route core_metrics_routes[] = {
        {"metrics", 0, .read = sys_metrics},
};
const size_t core_metrics_nroutes = 1;
/* --unauthenticated-metrics-access (Vault's listener option
 * unauthenticated_metrics_access): no token needed, nothing audited. */
static const struct route metrics_routes_noauth[] = {
        {"metrics", R_NOAUTH | R_NOAUDIT, .read = sys_metrics},
};

/* ---- the core's gauges ---- */

static void
collect_sealed(void *arg, struct metrics_out *o)
{
	struct core *c = arg;

	metrics_gauge(o, NULL, barrier_sealed(c->barrier) ? 1 : 0);
}

/* This node serves as the active node. A single node always does; an HA
 * setup reports its own state here. */
static void
collect_ha_active(void *arg, struct metrics_out *o)
{
	struct core *c = arg;

	/* a node without HA storage is the only node, so the active one */
	metrics_gauge(o, NULL, c->ha == NULL || !ha_standby(c->ha) ? 1 : 0);
}

static void
collect_tokens(void *arg, struct metrics_out *o)
{
	struct core *c = arg;
	json_t *keys = NULL;

	if (barrier_sealed(c->barrier) || token_list_accessors(c->tokens, &keys) < 0)
		return; /* no value rather than a wrong one */
	metrics_gauge(o, NULL, (double)json_array_size(keys));
	json_decref(keys);
}

struct lease_count {
	struct core *c;
	size_t n[CORE_MAX_MOUNTS + 1]; /* by index in c->mounts; the last: no mount */
	size_t nmounts;
};

static void
count_lease(void *arg, const char *lease_id)
{
	struct lease_count *lc = arg;
	const char *rel;
	struct mount *m = mount_find(lc->c, lease_id, &rel);
	size_t i = 0;

	while (i < lc->nmounts && lc->c->mounts[i] != m)
		i++;
	lc->n[i < lc->nmounts ? i : CORE_MAX_MOUNTS]++;
}

static void
collect_leases(void *arg, struct metrics_out *o)
{
	struct lease_count *lc = calloc(1, sizeof(*lc));
	struct core *c = arg;

	if (!lc)
		return;
	lc->c = c;
	lc->nmounts = atomic_load(&c->nmounts);
	expire_walk(c->expire, count_lease, lc);
	for (size_t i = 0; i < lc->nmounts; i++) {
		const char *labels[1] = {c->mounts[i]->path};
		if (lc->n[i] > 0)
			metrics_gauge(o, labels, (double)lc->n[i]);
	}
	free(lc);
}

static const struct {
	enum metric_id id;
	metrics_collect_fn fn;
} core_collectors[] = {
        {METRIC_SEALED, collect_sealed},
        {METRIC_HA_ACTIVE, collect_ha_active},
        {METRIC_TOKENS, collect_tokens},
        {METRIC_LEASES, collect_leases},
};

#define NCOLLECTORS (sizeof(core_collectors) / sizeof(core_collectors[0]))

int
core_metrics_init(struct core *c, bool unauthenticated)
{
	int r = 0;

	for (size_t i = 0; i < NCOLLECTORS && r == 0; i++)
		r = metrics_collector_add(core_collectors[i].id, core_collectors[i].fn, c);
	if (r == 0)
		r = core_register_sys_routes(
		        c, unauthenticated ? metrics_routes_noauth : core_metrics_routes, 1);
	return r;
}

void
core_metrics_free(struct core *c)
{
	for (size_t i = 0; i < NCOLLECTORS; i++)
		metrics_collector_remove(core_collectors[i].id, core_collectors[i].fn, c);
}
