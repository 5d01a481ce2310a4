/* events.c - coffer events: follows the server-sent event stream
 * sys/events/subscribe (docs/internals/rotation.md "SSE"). One line per event: the event
 * JSON with --format=json, else a readable summary. When the stream breaks it
 * reconnects with Last-Event-ID, so nothing retained is missed. */
#include "cli/cli.h"
#include "cli/client.h"
#include "lib/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	OPT_TYPES = CLI_OPT_LOCAL,
	OPT_LAST_ID,
	OPT_NO_RECONNECT,
};

#define LINE_MAX_BYTES (1u << 20)

static const char events_usage[] =
        "Usage: coffer events [--types=GLOB,...] [--last-event-id=N] [--no-reconnect]\n\n"
        "Follows the server's event stream (rotation, adoption, compromise and lease\n"
        "events) until interrupted. With --format=json each event is printed as one\n"
        "line of JSON; otherwise as a one-line summary.\n\n"
        "  --types=GLOBS      only these event types, e.g. rotation.*,secret.*\n"
        "                     (secret.compromised always comes through)\n"
        "  --last-event-id=N  first replay the retained events after sequence N\n"
        "  --no-reconnect     exit when the stream ends instead of resuming it\n";

struct parser {
	char *line; /* the current, incomplete line */
	size_t len, cap;
	char id[32];
	char last_id[32]; /* of the last complete event */
	char *data;       /* data: lines of the current event */
	size_t dlen;
	bool failed;
};

static void
print_event(const char *data)
{
	static const char *const fields[] = {"job", "mount", "path"};
	json_error_t jerr;
	json_t *e;
	const char *reason;
	size_t i;

	if (arg_format == CLI_FORMAT_JSON) {
		printf("%s\n", data);
		return;
	}
	e = json_loads(data, 0, &jerr);
	if (!json_is_object(e)) {
		printf("%s\n", data);
		json_decref(e);
		return;
	}
	printf("%s [%s] %s", json_string_value(json_object_get(e, "time")) ?: "-",
	       json_string_value(json_object_get(e, "severity")) ?: "info",
	       json_string_value(json_object_get(e, "type")) ?: "?");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = json_string_value(json_object_get(e, fields[i]));
		if (v)
			printf(" %s=%s", fields[i], v);
	}
	if (json_is_integer(json_object_get(e, "version")))
		printf(" version=%lld",
		       (long long)json_integer_value(json_object_get(e, "version")));
	if (json_is_integer(json_object_get(e, "previous_version")))
		printf(" previous_version=%lld",
		       (long long)json_integer_value(json_object_get(e, "previous_version")));
	if (json_is_true(json_object_get(e, "force")))
		printf(" force=true");
	reason = json_string_value(json_object_get(e, "reason"));
	if (reason)
		printf(": %s", reason);
	printf("\n");
	json_decref(e);
}

/* One complete line of the stream (without its newline). */
static void
on_line(struct parser *p, const char *l)
{
	const char *v;

	if (*l == '\0') { /* end of an event */
		if (p->data) {
			print_event(p->data);
			if (fflush(stdout) != 0)
				p->failed = true;
			snprintf(p->last_id, sizeof(p->last_id), "%s", p->id);
		}
		free(p->data);
		p->data = NULL;
		p->dlen = 0;
		return;
	}
	if (*l == ':')
		return; /* a comment: keepalive */
	v = strchr(l, ':');
	v = v ? v + 1 : l + strlen(l);
	if (*v == ' ')
		v++;
	if (strncmp(l, "id:", 3) == 0) {
		snprintf(p->id, sizeof(p->id), "%s", v);
	} else if (strncmp(l, "data:", 5) == 0) {
		size_t n = strlen(v);
		char *d = realloc(p->data, p->dlen + n + 2);
		if (!d)
			cli_oom();
		if (p->dlen)
			d[p->dlen++] = '\n';
		memcpy(d + p->dlen, v, n + 1);
		p->dlen += n;
		p->data = d;
	}
	/* event: is in the JSON as "type" as well; retry: is not used */
}

static bool
on_data(void *arg, const char *buf, size_t n)
{
	struct parser *p = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = buf[i];
		if (ch == '\r')
			continue;
		if (ch == '\n') {
			if (p->len + 1 > p->cap) {
				p->line = realloc(p->line, p->cap = p->len + 1);
				if (!p->line)
					cli_oom();
			}
			p->line[p->len] = '\0';
			on_line(p, p->line);
			p->len = 0;
			if (p->failed)
				return false;
			continue;
		}
		if (p->len + 2 > p->cap) {
			if (p->cap >= LINE_MAX_BYTES) {
				p->failed = true;
				return false;
			}
			p->cap = p->cap ? p->cap * 2 : 256;
			p->line = realloc(p->line, p->cap);
			if (!p->line)
				cli_oom();
		}
		p->line[p->len++] = ch;
	}
	return true;
}

int
events_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"types", required_argument, NULL, OPT_TYPES},
	        {"last-event-id", required_argument, NULL, OPT_LAST_ID},
	        {"no-reconnect", no_argument, NULL, OPT_NO_RECONNECT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct parser p = {0};
	struct client_resp resp = {0};
	struct client *c = NULL;
	char *query = NULL, err[512];
	const char *types = NULL;
	bool reconnect = true;
	int o, r, delay = 1;

	cli_set_command("events", NULL);
	while ((o = cli_getopt(argc, argv, opts, events_usage)) != -1) {
		if (o == OPT_TYPES) {
			types = optarg;
		} else if (o == OPT_LAST_ID) {
			size_t i, n = strlen(optarg);
			if (n == 0 || n >= sizeof(p.last_id))
				return cli_usage_err("--last-event-id: a sequence number");
			for (i = 0; i < n; i++)
				if (optarg[i] < '0' || optarg[i] > '9')
					return cli_usage_err("--last-event-id: a sequence number");
			snprintf(p.last_id, sizeof(p.last_id), "%s", optarg);
		} else if (o == OPT_NO_RECONNECT) {
			reconnect = false;
		}
	}
	if (cli_operand_none(argc, argv) < 0)
		return CLI_EXIT_ERROR;
	if (types) {
		/* Globs are letters, digits, '.', '_', '-', '*' and ','; the server
		 * rejects anything else, so only those pass unescaped. */
		size_t i, n = strlen(types);
		for (i = 0; i < n; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			            "._-*, ",
			            types[i]))
				return cli_usage_err(
				        "--types: globs of letters, digits, '.', '_', '-' "
				        "and '*', separated by commas");
		query = malloc(n + 7);
		if (!query)
			cli_oom();
		snprintf(query, n + 7, "types=%s", types);
		for (i = 6; query[i]; i++)
			if (query[i] == ' ')
				query[i] = '+';
	}
	r = cli_client(&c);
	if (r < 0) {
		free(query);
		return cli_exit(r);
	}
	for (;;) {
		p.len = 0;
		free(p.data);
		p.data = NULL;
		p.dlen = 0;
		r = client_stream(c, "sys/events/subscribe", query, p.last_id[0] ? p.last_id : NULL,
		                  on_data, &p, &resp, err, sizeof(err));
		if (p.failed) {
			r = 0; /* stdout closed, or a line past 1 MiB */
			break;
		}
		if (r == 0 && (resp.status < 200 || resp.status > 299)) {
			client_resp_error(&resp, "sys/events/subscribe", err, sizeof(err));
			cli_err("%s", err);
			r = CF_EINVAL;
			break;
		}
		if (r < 0 && resp.status == 0 && !reconnect) {
			cli_err("%s", err);
			break;
		}
		client_resp_clear(&resp);
		if (!reconnect) {
			if (r < 0)
				cli_err("%s", err);
			break;
		}
		if (r < 0)
			cli_err("%s; reconnecting in %ds", err, delay);
		{
			struct timespec ts = {.tv_sec = delay};
			nanosleep(&ts,
			          NULL); /* backoff between reconnects, not a wait on a condition */
		}
		delay = delay < 30 ? delay * 2 : 30;
		if (r == 0)
			delay = 1;
	}
	client_resp_clear(&resp);
	client_free(c);
	free(query);
	free(p.line);
	free(p.data);
	return cli_exit(r);
}
