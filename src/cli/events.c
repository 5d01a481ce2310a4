/* events.c - coffer events: follows the server-sent event stream
 * sys/events/subscribe (docs/internals/rotation.md "SSE"). One line per event: the event
 * JSON with --format=json, else a readable summary. When the stream breaks it
 * reconnects with Last-Event-ID, so nothing retained is missed. */
#include "cli/cli.h"
#include "cli/client.h"
#include "lib/err.h"
#include "lib/sse.h"

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

#define LINE_MAX_BYTES  (1u << 20)
#define EVENT_MAX_BYTES (16u << 20) /* the data: lines of one event together */

static const char events_usage[] =
        "Usage: coffer events [--types=GLOB,...] [--last-event-id=N] [--no-reconnect]\n\n"
        "Follows the server's event stream (rotation, adoption, compromise and lease\n"
        "events) until interrupted. With --format=json each event is printed as one\n"
        "line of JSON; otherwise as a one-line summary.\n\n"
        "  --types=GLOBS      only these event types, e.g. rotation.*,secret.*\n"
        "                     (secret.compromised always comes through)\n"
        "  --last-event-id=N  first replay the retained events after sequence N\n"
        "  --no-reconnect     exit when the stream ends instead of resuming it\n";

struct follow {
	struct sse_parser sse;
	char last_id[SSE_ID_MAX]; /* of the last complete event */
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

/* One complete event: printed, and its id kept for a resume. */
static int
on_event(void *arg, const struct sse_event *ev)
{
	struct follow *f = arg;

	print_event(ev->data);
	snprintf(f->last_id, sizeof(f->last_id), "%s", ev->id);
	return fflush(stdout) != 0 ? CF_EIO : 0;
}

static bool
on_data(void *arg, const char *buf, size_t n)
{
	struct follow *f = arg;
	int r = sse_feed(&f->sse, buf, n, on_event, f);

	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0) {
		f->failed = true; /* stdout closed, a line or an event past its limit */
		return false;
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
	struct follow p = {0};
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
	sse_init(&p.sse, LINE_MAX_BYTES - 1, EVENT_MAX_BYTES, 0);
	for (;;) {
		sse_reset(&p.sse);
		r = client_stream(c, "sys/events/subscribe", query, p.last_id[0] ? p.last_id : NULL,
		                  on_data, &p, &resp, err, sizeof(err));
		if (p.failed) {
			r = 0; /* stdout closed, or a line past 1 MiB or an event past 16 MiB */
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
	sse_free(&p.sse);
	return cli_exit(r);
}
