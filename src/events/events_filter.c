/* events_filter.c - the pure pieces of the event bus: type globs, severities,
 * webhook matching, the retry schedule, webhook signatures, Last-Event-ID, and
 * the JSON / text / SSE renderings of an event. No state, no locks, no I/O. */
#include "events/events_int.h"
#include "lib/err.h"
#include "lib/glob.h"
#include "lib/jsonx.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPROMISED "secret.compromised"

int
events_glob_check(const char *pat)
{
	size_t n = strlen(pat), i;

	if (n == 0 || n > EVENTS_GLOB_MAX)
		return CF_EINVAL;
	for (i = 0; i < n; i++) {
		char ch = pat[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '*'))
			return CF_EINVAL;
	}
	return 0;
}

int
events_globs_check(json_t *arr, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "types must be a list of globs");
		return CF_EINVAL;
	}
	if (json_array_size(arr) > EVENTS_MAX_GLOBS) {
		snprintf(err, errlen, "at most %d type globs", EVENTS_MAX_GLOBS);
		return CF_EINVAL;
	}
	json_array_foreach(arr, i, v)
	{
		const char *g = json_string_value(v);
		if (!g || events_glob_check(g) < 0) {
			/* The glob itself is not echoed: it is client text of any shape. */
			snprintf(err, errlen,
			         "invalid type glob #%zu: 1-%d characters of letters, digits, '.', "
			         "'_', '-' and '*'",
			         i + 1, EVENTS_GLOB_MAX);
			return CF_EINVAL;
		}
	}
	return 0;
}

int
events_globs_parse(const char *csv, json_t **ret, char *err, size_t errlen)
{
	json_t *arr = json_array();
	const char *p = csv, *end;
	char item[EVENTS_GLOB_MAX + 1];
	int r;

	if (!arr)
		return CF_ENOMEM;
	while (p && *p) {
		const char *a, *b;
		size_t n;

		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		a = p;
		b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		n = (size_t)(b - a);
		if (n > 0) {
			if (n > EVENTS_GLOB_MAX || json_array_size(arr) >= EVENTS_MAX_GLOBS) {
				snprintf(err, errlen,
				         "types: at most %d globs of at most %d characters",
				         EVENTS_MAX_GLOBS, EVENTS_GLOB_MAX);
				json_decref(arr);
				return CF_EINVAL;
			}
			memcpy(item, a, n);
			item[n] = '\0';
			if (json_array_append_new(arr, json_string(item)) < 0) {
				json_decref(arr);
				return CF_ENOMEM;
			}
		}
		p = *end ? end + 1 : end;
	}
	r = events_globs_check(arr, err, errlen);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

bool
events_types_match(json_t *globs, const char *type)
{
	size_t i;
	json_t *v;

	if (!type)
		return false;
	if (!globs || json_array_size(globs) == 0 || strcmp(type, COMPROMISED) == 0)
		return true;
	json_array_foreach(globs, i, v)
	{
		const char *g = json_string_value(v);
		if (g && glob_match(g, type))
			return true;
	}
	return false;
}

static const char *const severity_names[] = {"info", "warning", "critical"};

int
events_severity_parse(const char *s, enum event_severity *ret)
{
	int i;

	if (!s)
		return CF_EINVAL;
	for (i = 0; i < 3; i++) {
		if (strcmp(s, severity_names[i]) == 0) {
			*ret = (enum event_severity)i;
			return 0;
		}
	}
	return CF_EINVAL;
}

const char *
events_severity_name(enum event_severity s)
{
	if ((int)s < 0 || (int)s > 2)
		return "info";
	return severity_names[s];
}

bool
events_hook_matches(json_t *types, json_t *jobs, enum event_severity min_severity, json_t *event)
{
	const char *type = json_string_value(json_object_get(event, "type"));
	const char *job = json_string_value(json_object_get(event, "job"));
	enum event_severity sev = EV_INFO;

	if (!type)
		return false;
	if (strcmp(type, COMPROMISED) == 0)
		return true; /* spec: to every webhook regardless of filters */
	if (!events_types_match(types, type))
		return false;
	if (jobs && json_array_size(jobs) > 0 && (!job || !jsonx_array_has(jobs, job)))
		return false;
	(void)events_severity_parse(json_string_value(json_object_get(event, "severity")), &sev);
	return sev >= min_severity;
}

int64_t
events_backoff_secs(int attempts)
{
	int64_t d = EVENTS_RETRY_FIRST_SECS;
	int i;

	for (i = 1; i < attempts && d < EVENTS_RETRY_MAX_SECS; i++)
		d *= 2;
	return d < EVENTS_RETRY_MAX_SECS ? d : EVENTS_RETRY_MAX_SECS;
}

bool
events_retry_next(int64_t first_ns, int64_t now_ns, int attempts, int64_t *ret_next_ns)
{
	int64_t next = now_ns + events_backoff_secs(attempts) * NS_PER_SEC;

	if (next > first_ns + EVENTS_RETRY_WINDOW_SECS * NS_PER_SEC)
		return false;
	*ret_next_ns = next;
	return true;
}

int
events_signature(const char *secret, int64_t unix_secs, const char *body, size_t len, char *out,
                 size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char ts[24], hex[2 * EVP_MAX_MD_SIZE + 1];
	HMAC_CTX *h = NULL;
	int w, r = CF_ECRYPTO;
	size_t tl;

	w = snprintf(ts, sizeof(ts), "%lld", (long long)unix_secs);
	if (w < 0 || (size_t)w >= sizeof(ts))
		return CF_EINVAL;
	tl = (size_t)w;
	/* The deprecated-but-present HMAC_CTX API keeps this in one place; EVP_MAC
	 * would need a fetch per call or a cached object for a few events a minute. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	h = HMAC_CTX_new();
	if (!h)
		return CF_ENOMEM;
	if (HMAC_Init_ex(h, secret, (int)strlen(secret), EVP_sha256(), NULL) != 1 ||
	    HMAC_Update(h, (const unsigned char *)ts, tl) != 1 ||
	    HMAC_Update(h, (const unsigned char *)".", 1) != 1 ||
	    HMAC_Update(h, (const unsigned char *)body, len) != 1 ||
	    HMAC_Final(h, mac, &maclen) != 1)
		goto out;
#pragma GCC diagnostic pop
	util_hex(mac, maclen, hex);
	w = snprintf(out, outlen, "t=%s,v1=%s", ts, hex);
	r = (w < 0 || (size_t)w >= outlen) ? CF_EINVAL : 0;
out:
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	HMAC_CTX_free(h);
#pragma GCC diagnostic pop
	secmem_wipe(mac, sizeof(mac));
	return r;
}

int
events_parse_last_id(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i, n;

	if (!s)
		return CF_EINVAL;
	n = strlen(s);
	if (n == 0 || n > 20)
		return CF_EINVAL;
	for (i = 0; i < n; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return CF_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return CF_EINVAL;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* Keys of `extra` that look like secret material are never copied into an
 * event (events never carry secret values; this is a guard, not a filter the
 * producers may rely on). */
static bool
secretish(const char *k)
{
	static const char *const deny[] = {"value", "secret",      "password",
	                                   "token", "private_key", "data"};
	size_t i;

	for (i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		if (strcmp(k, deny[i]) == 0)
			return true;
	return false;
}

static int
set_str(json_t *o, const char *k, const char *v)
{
	return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

json_t *
events_event_json(const struct event *e, const char *id, int64_t time_ns)
{
	char ts[48];
	json_t *o = json_object(), *v;
	const char *k;
	int r = 0;

	if (!o)
		return NULL;
	util_rfc3339(time_ns, ts, sizeof(ts));
	r |= json_object_set_new(o, "id", json_string(id));
	r |= json_object_set_new(o, "type", json_string(e->type));
	r |= json_object_set_new(o, "time", json_string(ts));
	r |= set_str(o, "job", e->job);
	r |= set_str(o, "mount", e->mount);
	r |= set_str(o, "path", e->path);
	if (e->version)
		r |= json_object_set_new(o, "version", json_integer(e->version));
	if (e->previous_version)
		r |= json_object_set_new(o, "previous_version", json_integer(e->previous_version));
	r |= json_object_set_new(o, "severity", json_string(events_severity_name(e->severity)));
	r |= json_object_set_new(o, "force", json_boolean(e->force));
	r |= set_str(o, "reason", e->reason);
	if (json_is_object(e->extra)) {
		json_object_foreach(e->extra, k, v)
		{
			if (json_object_get(o, k) || secretish(k))
				continue;
			r |= json_object_set(o, k, v);
		}
	}
	if (r != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *
events_summary(json_t *event)
{
	static const char *const fields[] = {"job", "mount", "path"};
	const char *type = json_string_value(json_object_get(event, "type"));
	const char *sev = json_string_value(json_object_get(event, "severity"));
	const char *reason = json_string_value(json_object_get(event, "reason"));
	json_t *ver = json_object_get(event, "version");
	json_t *prev = json_object_get(event, "previous_version");
	char buf[2048];
	size_t off = 0, i;
	int w;

	w = snprintf(buf, sizeof(buf), "[%s] %s", sev ? sev : "info", type ? type : "?");
	off = w > 0 ? (size_t)w : 0;
	for (i = 0; i < 3 && off < sizeof(buf); i++) {
		const char *v = json_string_value(json_object_get(event, fields[i]));
		if (v) {
			w = snprintf(buf + off, sizeof(buf) - off, " %s=%s", fields[i], v);
			off += w > 0 ? (size_t)w : 0;
		}
	}
	if (json_is_integer(ver) && off < sizeof(buf)) {
		w = snprintf(buf + off, sizeof(buf) - off, " version=%lld",
		             (long long)json_integer_value(ver));
		off += w > 0 ? (size_t)w : 0;
	}
	if (json_is_integer(prev) && off < sizeof(buf)) {
		w = snprintf(buf + off, sizeof(buf) - off, " previous_version=%lld",
		             (long long)json_integer_value(prev));
		off += w > 0 ? (size_t)w : 0;
	}
	if (json_is_true(json_object_get(event, "force")) && off < sizeof(buf)) {
		w = snprintf(buf + off, sizeof(buf) - off, " force=true");
		off += w > 0 ? (size_t)w : 0;
	}
	if (reason && off < sizeof(buf))
		(void)snprintf(buf + off, sizeof(buf) - off, ": %s",
		               reason); /* truncation is fine */
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = ' '; /* one line, whatever a reason holds */
	return strdup(buf);
}

char *
events_sse_frame(uint64_t seq, json_t *event, size_t *ret_len)
{
	const char *type = json_string_value(json_object_get(event, "type"));
	char *data = json_dumps(event, JSON_COMPACT), *out;
	size_t n;
	int w;

	if (!data || !type) {
		free(data);
		return NULL;
	}
	/* Compact JSON has no raw newline (strings escape them), so one data: line. */
	n = strlen(data) + strlen(type) + 64;
	out = malloc(n);
	if (out) {
		w = snprintf(out, n, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)seq,
		             type, data);
		if (w < 0 || (size_t)w >= n) {
			free(out);
			out = NULL;
		} else {
			*ret_len = (size_t)w;
		}
	}
	free(data);
	return out;
}
