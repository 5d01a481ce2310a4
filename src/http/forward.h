/* forward.h - passing a standby's request on to the active node (HA --forward). */
#ifndef CF_HTTP_FORWARD_H
#define CF_HTTP_FORWARD_H

#include <microhttpd.h>
#include <stddef.h>

/* Sends the request on conn (its headers but the hop-by-hop ones; method; body
 * of len bytes) to url and waits for the answer (at most 60 s). Returns 0 with
 * *ret_status and the body (*ret_body malloc'd, NUL-terminated, *ret_len bytes;
 * the caller wipes and frees it), CF_EUPSTREAM (the active node could not be
 * reached; logged), CF_EUNSUPPORTED (no libcurl) or CF_ENOMEM. */
int http_forward(struct MHD_Connection *conn, const char *method, const char *url, const char *body,
                 size_t len, int *ret_status, char **ret_body, size_t *ret_len);

#endif
