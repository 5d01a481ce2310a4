/* sse.c - a parser for a server-sent event stream; the contract is in sse.h. */
#include "lib/sse.h"

#include "lib/err.h"

#include <stdio.h>
#include <string.h>

void
sse_init(struct sse_parser *p, size_t line_max, size_t event_max, unsigned flags)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, line_max, 0);
	buf_init(&p->type, line_max, 0);
	buf_init(&p->data, event_max, 0);
	p->event_max = event_max;
	p->flags = flags;
}

/* Starts a new, empty event. */
static void
event_clear(struct sse_parser *p)
{
	buf_reset(&p->type);
	buf_reset(&p->data);
	p->has_data = false;
	p->truncated = false;
}

void
sse_reset(struct sse_parser *p)
{
	buf_reset(&p->line);
	event_clear(p);
}

void
sse_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->type);
	buf_free(&p->data);
	p->has_data = false;
	p->truncated = false;
}

/* Adds one data: value to the event: a "\n" before it unless it is the first. */
static int
add_data(struct sse_parser *p, const char *v)
{
	size_t sep = buf_len(&p->data) > 0 ? 1 : 0, n = strlen(v);
	int r = 0;

	p->has_data = true;
	if (sep + n > p->event_max - buf_len(&p->data)) {
		if (!(p->flags & SSE_TRUNCATE))
			return CF_ETOOBIG;
		p->truncated = true;
		return 0;
	}
	if (sep)
		r = buf_append_char(&p->data, '\n');
	if (r == 0)
		r = buf_append(&p->data, v, n);
	return r;
}

/* One complete line, without its line end. */
static int
on_line(struct sse_parser *p, const char *l, sse_event_fn fn, void *arg)
{
	const char *v;
	int r = 0;

	if (*l == '\0') { /* the end of an event */
		if (p->has_data) {
			struct sse_event ev = {
			        .id = p->id,
			        .type = buf_str(&p->type),
			        .data = buf_str(&p->data),
			        .data_len = buf_len(&p->data),
			        .truncated = p->truncated,
			};
			r = fn(arg, &ev);
		}
		event_clear(p);
		return r;
	}
	if (*l == ':')
		return 0; /* a comment */
	v = strchr(l, ':');
	if (!v)
		return 0; /* a field without a value: none of those read here */
	v++;
	if (*v == ' ')
		v++;
	if (strncmp(l, "id:", 3) == 0) {
		snprintf(p->id, sizeof(p->id), "%s", v);
	} else if (strncmp(l, "event:", 6) == 0) {
		buf_reset(&p->type);
		r = buf_append_str(&p->type, v); /* fits: it is shorter than the line */
	} else if (strncmp(l, "data:", 5) == 0) {
		r = add_data(p, v);
	}
	return r;
}

int
sse_feed(struct sse_parser *p, const void *bytes, size_t n, sse_event_fn fn, void *arg)
{
	const char *s = bytes;
	size_t i, start = 0;
	int r;

	for (i = 0; i < n; i++) {
		if (s[i] != '\r' && s[i] != '\n')
			continue;
		/* Append the run of ordinary bytes before this one in one go. */
		r = i > start ? buf_append(&p->line, s + start, i - start) : 0;
		if (r < 0)
			return r;
		start = i + 1;
		if (s[i] == '\n') {
			r = on_line(p, buf_str(&p->line), fn, arg);
			buf_reset(&p->line);
			if (r < 0)
				return r;
		}
	}
	return n > start ? buf_append(&p->line, s + start, n - start) : 0;
}
