/* sse.h - a parser for a server-sent event stream (text/event-stream).
 *
 * Pure: the caller feeds the bytes it received, in pieces of any size, and
 * gets each complete event through a callback. No I/O, no allocation beyond
 * the parser's own bounded buffers.
 *
 * What it reads (the WHATWG "event stream interpretation", as coffer's server
 * writes it, docs/internals/events.md "The event stream"):
 *   - Lines end with "\n"; every "\r" is dropped, so "\r\n" ends a line too.
 *     A lone "\r" does not end one.
 *   - A line starting with ':' is a comment (keepalives) and is skipped.
 *   - "name: value" lines: one space after the colon is dropped. The fields
 *     read are id, event and data; any other line is skipped. A NUL byte
 *     ends the line's text (the rest of that line is ignored).
 *   - An empty line ends an event. It is delivered when it had at least one
 *     data: line (perhaps empty); its data lines are joined with "\n".
 *   - The last id: value stays from event to event (and across sse_reset),
 *     as the stream's last event ID; one longer than SSE_ID_MAX - 1 bytes is
 *     cut to that length.
 *
 * Limits: a line (without its line end) holds at most line_max bytes and an
 * event's joined data at most event_max bytes. A longer line fails the feed
 * with CF_ETOOBIG. A data line that would take the event past event_max fails
 * it with CF_ETOOBIG as well, or, with SSE_TRUNCATE, is dropped and the event
 * is delivered with what fit and truncated set.
 *
 * After sse_feed fails, the parser's partial line and event are undefined:
 * call sse_reset before feeding the next connection's bytes. Not thread-safe:
 * one owner at a time. */
#ifndef CF_SSE_H
#define CF_SSE_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Bytes kept of an id: value, with its NUL. */
#define SSE_ID_MAX 32

/* Flags for sse_init. */
#define SSE_TRUNCATE 0x1u /* deliver an oversized event cut short, not an error */

/* One complete event; its strings are valid only during the callback. */
struct sse_event {
	const char *id;   /* the stream's last id: value; "" when none came yet */
	const char *type; /* this event's event: value; "" when it had none */
	const char *data; /* the data: lines joined with "\n", NUL-terminated */
	size_t data_len;
	bool truncated; /* SSE_TRUNCATE: data lines past event_max were dropped */
};

/* Called for every complete event. Returning a negative CF_E* stops the
 * feed, and sse_feed returns that value; 0 goes on. */
typedef int (*sse_event_fn)(void *arg, const struct sse_event *ev);

/* The parser; embeddable, its fields are private. */
struct sse_parser {
	struct buf line; /* the current, incomplete line */
	struct buf type; /* event: of the current event */
	struct buf data; /* data: lines of the current event */
	size_t event_max;
	char id[SSE_ID_MAX];
	bool has_data; /* the current event had a data: line */
	bool truncated;
	unsigned flags;
};

/* Makes p an empty parser with the limits above (both > 0). Allocates
 * nothing, so it cannot fail. */
void sse_init(struct sse_parser *p, size_t line_max, size_t event_max, unsigned flags);

/* Forgets the partial line and event, as for a new connection; the last id
 * stays. */
void sse_reset(struct sse_parser *p);

/* Releases the parser's memory; p may then be sse_init'ed again. */
void sse_free(struct sse_parser *p);

/* Parses n bytes (bytes may be NULL when n is 0), calling fn for each event
 * they complete. Returns 0; CF_ETOOBIG for a line or event past its limit;
 * CF_ENOMEM; or the negative value fn returned. */
int sse_feed(struct sse_parser *p, const void *bytes, size_t n, sse_event_fn fn, void *arg);

#endif
