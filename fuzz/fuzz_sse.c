/* fuzz_sse.c - the server-sent event parser (lib/sse.h) never crashes or
 * reads out of bounds; every event keeps to the limits (data within
 * event_max, no NUL inside it, an id shorter than SSE_ID_MAX, truncated only
 * with SSE_TRUNCATE); and feeding the input in two pieces, split at a point
 * the first byte picks, gives exactly the events and the result of feeding
 * it whole. */
#include "lib/err.h"
#include "lib/sse.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_B  64
#define EVENT_MAX_B 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	unsigned flags;
	uint64_t hash; /* of every event seen, in order */
	size_t events;
};

static uint64_t
mix(uint64_t h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211u;
	return (h ^ 0xff) * 1099511628211u;
}

static int
on_event(void *arg, const struct sse_event *ev)
{
	struct trace *t = arg;

	assert(ev->data_len <= EVENT_MAX_B);
	assert(strlen(ev->data) == ev->data_len);
	assert(strlen(ev->id) < SSE_ID_MAX);
	assert(strlen(ev->type) <= LINE_MAX_B);
	assert(!ev->truncated || (t->flags & SSE_TRUNCATE));
	t->hash = mix(t->hash, ev->id, strlen(ev->id));
	t->hash = mix(t->hash, ev->type, strlen(ev->type));
	t->hash = mix(t->hash, ev->data, ev->data_len);
	t->hash = mix(t->hash, ev->truncated ? "t" : "f", 1);
	t->events++;
	return 0;
}

static int
run(const uint8_t *data, size_t size, size_t split, unsigned flags, struct trace *t)
{
	struct sse_parser p;
	int r;

	*t = (struct trace){.flags = flags, .hash = 14695981039346656037u};
	sse_init(&p, LINE_MAX_B, EVENT_MAX_B, flags);
	r = sse_feed(&p, data, split, on_event, t);
	if (r == 0)
		r = sse_feed(&p, data + split, size - split, on_event, t);
	assert(r == 0 || r == CF_ETOOBIG || r == CF_ENOMEM);
	sse_free(&p);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole, parts;
	unsigned flags;
	size_t split;
	int r;

	if (size < 1 || size > 4096)
		return 0;
	flags = data[0] & 1 ? SSE_TRUNCATE : 0;
	split = size > 1 ? data[0] % size : 0;
	data++;
	size--;
	if (split > size)
		split = size;
	r = run(data, size, size, flags, &whole);
	assert(run(data, size, split, flags, &parts) == r);
	assert(parts.events == whole.events && parts.hash == whole.hash);
	return 0;
}
