/* metrics.c - the metrics registry and the Prometheus text exposition
 * (metrics.h; docs/internals/metrics.md).
 *
 * Each family keeps its series in an open-addressed table of atomic pointers,
 * keyed by a hash of the label values. A series is built whole, then published
 * with a release store under series_mu; readers (bumps and scrapes) find it with
 * acquire loads and never lock. Series live until metrics_reset() or exit. A
 * histogram series keeps one non-cumulative count per bucket plus one past the
 * last bound; the scrape adds them up, so _count always equals the +Inf bucket. */
#include "lib/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum metric_type { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

#define NS(s) ((uint64_t)((s)*1e9))

/* Latency bounds, nanoseconds (0.1 ms to 10 s). */
static const uint64_t dur_bounds[] = {
        NS(0.0001), NS(0.00025), NS(0.0005), NS(0.001), NS(0.0025), NS(0.005), NS(0.01), NS(0.025),
        NS(0.05),   NS(0.1),     NS(0.25),   NS(0.5),   NS(1),      NS(2.5),   NS(5),    NS(10),
};
/* Writes per commit. */
static const uint64_t batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

#define NDUR   (sizeof(dur_bounds) / sizeof(dur_bounds[0]))
#define NBATCH (sizeof(batch_bounds) / sizeof(batch_bounds[0]))

struct series {
	uint64_t hash;
	char *labels[METRICS_MAX_LABELS];
	_Atomic uint64_t value;    /* counter value; histogram: sum of observations */
	_Atomic uint64_t bucket[]; /* histogram: nbounds + 1 counts */
};

struct collector {
	metrics_collect_fn fn;
	void *arg;
	struct collector *next;
};

struct family {
	const char *name;
	enum metric_type type;
	const char *help;
	const char *labels[METRICS_MAX_LABELS];
	size_t nlabels;
	const uint64_t *bounds; /* histograms */
	size_t nbounds;
	double scale; /* histogram values and bounds are multiplied by it on output */
};

#define DUR   dur_bounds, NDUR, 1e-9
#define BATCH batch_bounds, NBATCH, 1

static const struct family families[METRIC_COUNT] = {
        [METRIC_REQUESTS] = {"coffer_requests_total",
                             MT_COUNTER,
                             "Requests answered, by mount type, route pattern and HTTP status.",
                             {"mount_type", "route", "code"},
                             3,
                             NULL,
                             0,
                             1},
        [METRIC_REQUEST_DURATION] = {"coffer_request_duration_seconds",
                                     MT_HISTOGRAM,
                                     "Time spent answering a request in the core, by mount type, "
                                     "route pattern and HTTP status.",
                                     {"mount_type", "route", "code"},
                                     3,
                                     DUR},
        [METRIC_STORAGE_DURATION] =
                {"coffer_storage_operation_duration_seconds",
                 MT_HISTOGRAM,
                 "Physical storage operation latency, by backend and operation.",
                 {"backend", "op"},
                 2,
                 DUR},
        [METRIC_STORAGE_COMMITS] = {"coffer_storage_commits_total",
                                    MT_COUNTER,
                                    "Storage transactions committed by the group committer.",
                                    {"backend"},
                                    1,
                                    NULL,
                                    0,
                                    1},
        [METRIC_STORAGE_COMMIT_WRITES] = {"coffer_storage_commit_writes",
                                          MT_HISTOGRAM,
                                          "Write requests carried by one group commit.",
                                          {"backend"},
                                          1,
                                          BATCH},
        [METRIC_AUDIT_DURATION] = {"coffer_audit_write_duration_seconds",
                                   MT_HISTOGRAM,
                                   "Time to write one audit entry to a device, by device type.",
                                   {"type"},
                                   1,
                                   DUR},
        [METRIC_ROTATION_FAILURES] = {"coffer_rotation_failures_total",
                                      MT_COUNTER,
                                      "Rotation runs that failed.",
                                      {NULL},
                                      0,
                                      NULL,
                                      0,
                                      1},
        [METRIC_WEBHOOK_FAILURES] = {"coffer_webhook_delivery_failures_total",
                                     MT_COUNTER,
                                     "Webhook delivery attempts that failed.",
                                     {NULL},
                                     0,
                                     NULL,
                                     0,
                                     1},
        [METRIC_LEASES] = {"coffer_leases",
                           MT_GAUGE,
                           "Leases held, by mount path.",
                           {"mount"},
                           1,
                           NULL,
                           0,
                           1},
        [METRIC_TOKENS] =
                {"coffer_tokens", MT_GAUGE, "Tokens in the token store.", {NULL}, 0, NULL, 0, 1},
        [METRIC_ROTATION_JOBS] = {"coffer_rotation_jobs",
                                  MT_GAUGE,
                                  "Rotation jobs, by state.",
                                  {"state"},
                                  1,
                                  NULL,
                                  0,
                                  1},
        [METRIC_ROTATION_ADOPTION] = {"coffer_rotation_adoption_percent",
                                      MT_GAUGE,
                                      "Share of a rotation job's readers that read its newest "
                                      "version, in percent.",
                                      {"job"},
                                      1,
                                      NULL,
                                      0,
                                      1},
        [METRIC_OUTBOX_DEPTH] = {"coffer_events_outbox_depth",
                                 MT_GAUGE,
                                 "Webhook deliveries waiting (first attempts and retries).",
                                 {NULL},
                                 0,
                                 NULL,
                                 0,
                                 1},
        [METRIC_HA_ACTIVE] = {"coffer_ha_active",
                              MT_GAUGE,
                              "1 when this node is the active node, else 0.",
                              {NULL},
                              0,
                              NULL,
                              0,
                              1},
        [METRIC_SEALED] = {"coffer_sealed",
                           MT_GAUGE,
                           "1 when this node is sealed, else 0.",
                           {NULL},
                           0,
                           NULL,
                           0,
                           1},
};

static _Atomic(struct series *) table[METRIC_COUNT][METRICS_MAX_SERIES];
static pthread_mutex_t series_mu = PTHREAD_MUTEX_INITIALIZER;
static struct collector *collectors[METRIC_COUNT];
static pthread_mutex_t collectors_mu = PTHREAD_MUTEX_INITIALIZER;

/* Past this many series a family takes no new label sets; they share the
 * overflow series (which also needs a free slot). */
#define SERIES_LIMIT (METRICS_MAX_SERIES * 3 / 4)
static _Atomic size_t nseries[METRIC_COUNT];

struct metrics_out {
	struct buf *b;
	const struct family *f;
	int err;
};

uint64_t
metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *
label_at(const char *const *labels, size_t i)
{
	return labels && labels[i] ? labels[i] : "";
}

static uint64_t
labels_hash(const struct family *f, const char *const *labels)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < f->nlabels; i++) {
		for (const char *p = label_at(labels, i); *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull; /* separator: ("a","bc") != ("ab","c") */
	}
	return h;
}

static bool
labels_equal(const struct family *f, const struct series *s, const char *const *labels)
{
	for (size_t i = 0; i < f->nlabels; i++)
		if (strcmp(s->labels[i], label_at(labels, i)) != 0)
			return false;
	return true;
}

static void
series_free(const struct family *f, struct series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < f->nlabels; i++)
		free(s->labels[i]);
	free(s);
}

static struct series *
series_new(const struct family *f, const char *const *labels, uint64_t h)
{
	size_t nb = f->type == MT_HISTOGRAM ? f->nbounds + 1 : 0;
	struct series *s = calloc(1, sizeof(*s) + nb * sizeof(s->bucket[0]));

	if (!s)
		return NULL;
	s->hash = h;
	for (size_t i = 0; i < f->nlabels; i++) {
		s->labels[i] = strdup(label_at(labels, i));
		if (!s->labels[i]) {
			series_free(f, s);
			return NULL;
		}
	}
	return s;
}

/* Looks for the series in its probe chain; *ret_free gets the first empty slot. */
static struct series *
series_find(enum metric_id id, const char *const *labels, uint64_t h, size_t *ret_free)
{
	const struct family *f = &families[id];

	for (size_t n = 0; n < METRICS_MAX_SERIES; n++) {
		size_t i = (h + n) % METRICS_MAX_SERIES;
		struct series *s = atomic_load_explicit(&table[id][i], memory_order_acquire);
		if (!s) {
			if (ret_free)
				*ret_free = i;
			return NULL;
		}
		if (s->hash == h && labels_equal(f, s, labels))
			return s;
	}
	return NULL;
}

static struct series *
series_get(enum metric_id id, const char *const *labels)
{
	static const char *const overflow[METRICS_MAX_LABELS] = {"overflow", "overflow", "overflow",
	                                                         "overflow"};
	const struct family *f = &families[id];
	uint64_t h = labels_hash(f, labels);
	struct series *s;
	size_t slot = METRICS_MAX_SERIES;

	s = series_find(id, labels, h, NULL);
	if (s)
		return s;
	pthread_mutex_lock(&series_mu);
	s = series_find(id, labels, h, &slot); /* another thread may have added it */
	if (s)
		goto out;
	if (atomic_load(&nseries[id]) >= SERIES_LIMIT && labels != overflow) {
		pthread_mutex_unlock(&series_mu);
		return series_get(id, overflow);
	}
	if (slot == METRICS_MAX_SERIES)
		goto out;
	s = series_new(f, labels, h);
	if (s) {
		atomic_fetch_add(&nseries[id], 1);
		atomic_store_explicit(&table[id][slot], s, memory_order_release);
	}
out:
	pthread_mutex_unlock(&series_mu);
	return s;
}

void
metrics_count(enum metric_id id, const char *const *labels, uint64_t n)
{
	struct series *s;

	if (id >= METRIC_COUNT || families[id].type != MT_COUNTER)
		return;
	s = series_get(id, labels);
	if (s)
		atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void
metrics_observe(enum metric_id id, const char *const *labels, uint64_t v)
{
	const struct family *f;
	struct series *s;
	size_t b = 0;

	if (id >= METRIC_COUNT || families[id].type != MT_HISTOGRAM)
		return;
	f = &families[id];
	s = series_get(id, labels);
	if (!s)
		return;
	while (b < f->nbounds && v > f->bounds[b])
		b++;
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
}

void
metrics_observe_since(enum metric_id id, const char *const *labels, uint64_t start_ns)
{
	uint64_t now = metrics_now_ns();

	metrics_observe(id, labels, now > start_ns ? now - start_ns : 0);
}

int
metrics_collector_add(enum metric_id id, metrics_collect_fn fn, void *arg)
{
	struct collector *c;

	if (id >= METRIC_COUNT || families[id].type != MT_GAUGE || !fn)
		return CF_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return CF_ENOMEM;
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_lock(&collectors_mu);
	c->next = collectors[id];
	collectors[id] = c;
	pthread_mutex_unlock(&collectors_mu);
	return 0;
}

void
metrics_collector_remove(enum metric_id id, metrics_collect_fn fn, void *arg)
{
	struct collector **pp;

	if (id >= METRIC_COUNT)
		return;
	pthread_mutex_lock(&collectors_mu);
	for (pp = &collectors[id]; *pp; pp = &(*pp)->next) {
		if ((*pp)->fn == fn && (*pp)->arg == arg) {
			struct collector *c = *pp;
			*pp = c->next;
			free(c);
			break;
		}
	}
	pthread_mutex_unlock(&collectors_mu);
}

/* ---- exposition ---- */

/* A label value, escaped as the text format asks: \\, \" and \n. */
static int
put_escaped(struct buf *b, const char *v)
{
	int r = 0;

	for (const char *p = v; *p && r == 0; p++) {
		if (*p == '\\')
			r = buf_append_str(b, "\\\\");
		else if (*p == '"')
			r = buf_append_str(b, "\\\"");
		else if (*p == '\n')
			r = buf_append_str(b, "\\n");
		else
			r = buf_append_char(b, *p);
	}
	return r;
}

/* name{l1="v1",...,extra="x"} */
static int
put_name(struct buf *b, const struct family *f, const char *suffix, const char *const *labels,
         const char *extra_name, const char *extra_value)
{
	bool any = f->nlabels > 0 || extra_name;
	int r;

	r = buf_printf(b, "%s%s", f->name, suffix);
	if (r < 0 || !any)
		return r;
	r = buf_append_char(b, '{');
	for (size_t i = 0; i < f->nlabels && r == 0; i++) {
		r = buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
		if (r == 0)
			r = put_escaped(b, label_at(labels, i));
		if (r == 0)
			r = buf_append_char(b, '"');
	}
	if (r == 0 && extra_name) {
		r = buf_printf(b, "%s%s=\"", f->nlabels ? "," : "", extra_name);
		if (r == 0)
			r = put_escaped(b, extra_value);
		if (r == 0)
			r = buf_append_char(b, '"');
	}
	if (r == 0)
		r = buf_append_char(b, '}');
	return r;
}

static int
put_double(struct buf *b, double v)
{
	if (isnan(v))
		return buf_append_str(b, "NaN");
	if (isinf(v))
		return buf_append_str(b, v > 0 ? "+Inf" : "-Inf");
	return buf_printf(b, "%.17g", v);
}

static int
put_histogram(struct buf *b, const struct family *f, struct series *s)
{
	const char *const *labels = (const char *const *)s->labels;
	uint64_t cum = 0;
	char le[64];
	int r = 0;

	for (size_t i = 0; i <= f->nbounds && r == 0; i++) {
		cum += atomic_load_explicit(&s->bucket[i], memory_order_relaxed);
		if (i < f->nbounds)
			snprintf(le, sizeof(le), "%.6g", (double)f->bounds[i] * f->scale);
		else
			snprintf(le, sizeof(le), "+Inf");
		r = put_name(b, f, "_bucket", labels, "le", le);
		if (r == 0)
			r = buf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	if (r == 0)
		r = put_name(b, f, "_sum", labels, NULL, NULL);
	if (r == 0)
		r = buf_append_char(b, ' ');
	if (r == 0)
		r = put_double(b, (double)atomic_load_explicit(&s->value, memory_order_relaxed) *
		                          f->scale);
	if (r == 0)
		r = buf_append_char(b, '\n');
	if (r == 0)
		r = put_name(b, f, "_count", labels, NULL, NULL);
	if (r == 0)
		r = buf_printf(b, " %llu\n", (unsigned long long)cum);
	return r;
}

void
metrics_gauge(struct metrics_out *o, const char *const *labels, double v)
{
	if (o->err)
		return;
	o->err = put_name(o->b, o->f, "", labels, NULL, NULL);
	if (o->err == 0)
		o->err = buf_append_char(o->b, ' ');
	if (o->err == 0)
		o->err = put_double(o->b, v);
	if (o->err == 0)
		o->err = buf_append_char(o->b, '\n');
}

static int
put_family(struct buf *b, enum metric_id id)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	const struct family *f = &families[id];
	bool any = false;
	int r;

	r = buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	               type_names[f->type]);
	if (r < 0)
		return r;
	if (f->type == MT_GAUGE) {
		struct metrics_out o = {.b = b, .f = f};
		pthread_mutex_lock(&collectors_mu);
		for (struct collector *c = collectors[id]; c; c = c->next)
			c->fn(c->arg, &o);
		pthread_mutex_unlock(&collectors_mu);
		return o.err;
	}
	for (size_t i = 0; i < METRICS_MAX_SERIES && r == 0; i++) {
		struct series *s = atomic_load_explicit(&table[id][i], memory_order_acquire);
		if (!s)
			continue;
		any = true;
		if (f->type == MT_HISTOGRAM) {
			r = put_histogram(b, f, s);
			continue;
		}
		r = put_name(b, f, "", (const char *const *)s->labels, NULL, NULL);
		if (r == 0)
			r = buf_printf(b, " %llu\n",
			               (unsigned long long)atomic_load_explicit(
			                       &s->value, memory_order_relaxed));
	}
	/* A counter without labels is 0 before its first bump, not absent. */
	if (r == 0 && !any && f->type == MT_COUNTER && f->nlabels == 0)
		r = buf_printf(b, "%s 0\n", f->name);
	return r;
}

int
metrics_render(struct buf *out)
{
	int r = 0;

	for (int id = 0; id < METRIC_COUNT && r == 0; id++)
		r = put_family(out, (enum metric_id)id);
	return r;
}

void
metrics_reset(void)
{
	pthread_mutex_lock(&series_mu);
	for (int id = 0; id < METRIC_COUNT; id++) {
		for (size_t i = 0; i < METRICS_MAX_SERIES; i++) {
			series_free(&families[id], atomic_load(&table[id][i]));
			atomic_store(&table[id][i], NULL);
		}
		atomic_store(&nseries[id], 0);
	}
	pthread_mutex_unlock(&series_mu);
}
