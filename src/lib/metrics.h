/* metrics.h - the process-wide metrics registry and its Prometheus text
 * exposition (format 0.0.4), served by sys/metrics.
 *
 * Every metric is a row of one fixed table (metrics.c, enum metric_id): its
 * name, type, help text and label names. Any layer may bump a counter or feed a
 * histogram: metrics_count() and metrics_observe() are lock-free once a label
 * set has been seen (a C11 atomic add on its series); the first use of a label
 * set takes a mutex to add the series. A family holds at most METRICS_MAX_SERIES
 * label sets; later ones are all counted in one series whose labels are
 * "overflow".
 *
 * Gauges are not stored: a subsystem registers a collector for a gauge family
 * (metrics_collector_add) that reports the current values at scrape time through
 * metrics_gauge(). Collectors run one at a time, under the collectors' mutex; a
 * collector must not add or remove collectors, and may bump metrics.
 *
 * Label values must never hold a secret, a token or a raw request path: use a
 * route pattern, a mount type or path, a backend name. Values are escaped on
 * output (backslash, double quote, newline). See docs/internals/metrics.md. */
#ifndef CF_METRICS_H
#define CF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_SERIES 512

enum metric_id {
	METRIC_REQUESTS,              /* counter {mount_type, route, code} */
	METRIC_REQUEST_DURATION,      /* histogram, seconds {mount_type, route, code} */
	METRIC_STORAGE_DURATION,      /* histogram, seconds {backend, op} */
	METRIC_STORAGE_COMMITS,       /* counter {backend} */
	METRIC_STORAGE_COMMIT_WRITES, /* histogram, writes per commit {backend} */
	METRIC_AUDIT_DURATION,        /* histogram, seconds {type} */
	METRIC_ROTATION_FAILURES,     /* counter {} */
	METRIC_WEBHOOK_FAILURES,      /* counter {} */
	METRIC_LEASES,                /* gauge {mount} */
	METRIC_TOKENS,                /* gauge {} */
	METRIC_ROTATION_JOBS,         /* gauge {state} */
	METRIC_ROTATION_ADOPTION,     /* gauge, percent {job} */
	METRIC_OUTBOX_DEPTH,          /* gauge {} */
	METRIC_HA_ACTIVE,             /* gauge {} */
	METRIC_SEALED,                /* gauge {} */
	METRIC_COUNT
};

/* Monotonic clock in nanoseconds, for durations passed to metrics_observe(). */
uint64_t metrics_now_ns(void);

/* Adds n to counter id for the label values (as many as the family has label
 * names; NULL values count as ""). Never fails: out of memory, it drops the
 * sample. */
void metrics_count(enum metric_id id, const char *const *labels, uint64_t n);
/* Records one observation in histogram id: a duration in nanoseconds for the
 * *_seconds families, a plain count for the others. */
void metrics_observe(enum metric_id id, const char *const *labels, uint64_t v);
/* metrics_observe(id, labels, metrics_now_ns() - start_ns). */
void metrics_observe_since(enum metric_id id, const char *const *labels, uint64_t start_ns);

/* A collector reports the values of one gauge family by calling metrics_gauge()
 * on o, once per label set. */
struct metrics_out;
typedef void (*metrics_collect_fn)(void *arg, struct metrics_out *o);

/* Registers fn(arg) for gauge family id. Returns 0 or CF_ENOMEM (CF_EINVAL for
 * a family that is not a gauge). */
int metrics_collector_add(enum metric_id id, metrics_collect_fn fn, void *arg) CF_WARN_UNUSED;
/* Removes it (waits for a scrape that runs it to finish). Accepts one that was
 * never added. */
void metrics_collector_remove(enum metric_id id, metrics_collect_fn fn, void *arg);
/* Writes one sample of the gauge family being collected. */
void metrics_gauge(struct metrics_out *o, const char *const *labels, double v);

/* Appends every family to out in the text exposition format: # HELP and # TYPE
 * once per family, then its samples; histograms as cumulative _bucket lines up
 * to le="+Inf", _sum (in seconds for durations) and _count. Returns 0, CF_ENOMEM
 * or CF_ETOOBIG (out's cap). */
int metrics_render(struct buf *out) CF_WARN_UNUSED;

/* The exposition's media type. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Tests: forgets every series (collectors stay). No bump may run meanwhile. */
void metrics_reset(void);

#endif
