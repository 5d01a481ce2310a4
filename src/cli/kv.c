/* kv.c - `coffer kv`: the KV secrets engine, version 2 and version 1
 * (Vault's KV API). The mount and its version come from GET sys/mounts; a token
 * that may not read sys/mounts gets KV v2 at the path's first segment, as the
 * server's default `secret/` mount is v2. */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/kvpath.h"
#include "cli/output.h"
#include "lib/err.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_MOUNT = CLI_OPT_LOCAL,
	OPT_CAS,
	OPT_VERSION,
	OPT_FIELD,
	OPT_VERSIONS,
	OPT_METHOD,
	OPT_MAX_VERSIONS,
	OPT_CAS_REQUIRED,
	OPT_DELETE_AFTER,
	OPT_CUSTOM_METADATA,
};

#define KV_MOUNT_OPTION "  --mount=MOUNT          the KV mount; PATH is then relative to it\n"

/* A resolved KV path. */
struct kvctx {
	struct client *c;
	char *path;  /* the user's path, cleaned: "secret/app/db" */
	char *mount; /* "secret/" */
	int version; /* 1 or 2 */
	char *api;   /* the API path a command calls */
	struct client_resp resp;
};

static void
kvctx_free(struct kvctx *k)
{
	client_resp_clear(&k->resp);
	client_free(k->c);
	free(k->path);
	free(k->mount);
	free(k->api);
	memset(k, 0, sizeof(*k));
}

static char *
xjoin(const char *mount, const char *verb, const char *rest)
{
	char *p = kvpath_join(mount, verb, rest);

	if (!p)
		cli_oom();
	return p;
}

/* The mount of a path when sys/mounts cannot tell: its first segment. */
static char *
first_segment(const char *path)
{
	size_t n = strcspn(path, "/");
	char *m = malloc(n + 2);

	if (!m)
		cli_oom();
	memcpy(m, path, n);
	m[n] = '/';
	m[n + 1] = '\0';
	return m;
}

/* Creates the client and resolves user_path (relative to mount_flag when given).
 * Only list may name the mount itself (mount_only_ok). */
static int
kv_resolve(struct kvctx *k, const char *mount_flag, const char *user_path, bool mount_only_ok)
{
	struct client_resp resp = {0};
	char err[1024] = "";
	char *joined = NULL;
	int r;

	memset(k, 0, sizeof(*k));
	if (mount_flag) {
		size_t n = strlen(mount_flag) + strlen(user_path) + 2;
		joined = malloc(n);
		if (!joined)
			cli_oom();
		snprintf(joined, n, "%s/%s", mount_flag, user_path);
		user_path = joined;
	}
	k->path = kvpath_clean(user_path, false);
	free(joined);
	if (!k->path)
		cli_oom();
	if (k->path[0] == '\0') {
		cli_usage_err("empty path");
		return CF_EINVAL;
	}
	r = cli_client(&k->c);
	if (r < 0)
		return r;
	r = client_request(k->c, "GET", "sys/mounts", NULL, NULL, &resp, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err);
		return r;
	}
	if (resp.status == 403 || resp.status == 404 || resp.status == 405) {
		/* No read on sys/mounts (or no such endpoint): assume KV v2. */
		k->mount = first_segment(k->path);
		k->version = 2;
		r = 0;
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		client_resp_error(&resp, "sys/mounts", err, sizeof(err));
		cli_err("%s", err);
		r = CF_EIO;
		goto out;
	}
	r = kvpath_mount_lookup(resp.json, k->path, &k->mount, &k->version);
	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0)
		cli_err("no secrets engine is mounted at %s", k->path);
out:
	if (r == 0 && !mount_only_ok && kvpath_rest(k->mount, k->path)[0] == '\0') {
		cli_usage_err("PATH must name a secret below the mount %s", k->mount);
		r = CF_EINVAL;
	}
	client_resp_clear(&resp);
	return r;
}

static const char *
kv_rest(const struct kvctx *k)
{
	return kvpath_rest(k->mount, k->path);
}

static int
need_v2(const struct kvctx *k, const char *what)
{
	if (k->version == 2)
		return 0;
	cli_err("%s is a KV version 1 mount: %s needs KV version 2", k->mount, what);
	return CF_EUNSUPPORTED;
}

/* kv_resolve for a KV v2 only command (what names it in the error), then sets
 * k->api to <mount><verb>/<rest>. */
static int
kv_open_v2(struct kvctx *k, const char *mount_flag, const char *user_path, const char *what,
           const char *verb)
{
	int r;

	r = kv_resolve(k, mount_flag, user_path, false);
	if (r < 0)
		return r;
	r = need_v2(k, what);
	if (r < 0)
		return r;
	k->api = xjoin(k->mount, verb, kv_rest(k));
	return 0;
}

/* Parses the options of a command taking only --mount and one PATH. */
static int
kv_path_opts(int argc, char **argv, const char *usage, const char **ret_mount)
{
	static const struct option opts[] = {
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	int o;

	while ((o = cli_getopt(argc, argv, opts, usage)) != -1) {
		if (o == OPT_MOUNT)
			*ret_mount = optarg;
	}
	return cli_operand_one(argc, "PATH");
}

/* Parses PATH k=v... into k and a data object (at least one pair). */
static int
parse_data(int argc, char **argv, json_t **ret)
{
	char err[512];
	int r;

	if (argc == 0) {
		cli_usage_err("missing key=value data");
		return CF_EINVAL;
	}
	r = args_parse_kv(argc, argv, stdin, ret, err, sizeof(err));
	if (r < 0)
		cli_err("%s", err);
	return r;
}

/* Prints a KV v2 write answer (the new version's metadata). */
static void
print_written(const char *api_path, const struct client_resp *resp)
{
	json_t *data;

	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp->json);
		return;
	}
	data = resp->json ? json_object_get(resp->json, "data") : NULL;
	if (!json_is_object(data)) {
		cli_success("Success! Data written to: %s", api_path);
		return;
	}
	output_warnings(resp->json);
	output_header("Secret Path");
	printf("%s\n\n", api_path);
	output_header("Metadata");
	output_kv(data, OUTPUT_NA_EMPTY);
}

static int
set_cas(json_t *body, long long cas)
{
	if (cas < 0)
		return 0;
	if (json_object_set_new(body, "options", json_pack("{s:I}", "cas", (json_int_t)cas)) < 0)
		cli_oom();
	return 0;
}

static const char put_usage[] =
        "Usage: coffer kv put [--cas=N] [--mount=MOUNT] PATH key=value...\n\n"
        "Writes a secret (a new version on KV v2). A value may be @FILE (the file's\n"
        "contents) or - (stdin); an operand @FILE or - alone is a JSON object.\n\n"
        "  --cas=N                check-and-set: write only if the current version is N\n"
        "                         (0: only if the secret does not exist; KV v2)\n" KV_MOUNT_OPTION;

static int
kv_put(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"cas", required_argument, NULL, OPT_CAS},
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	json_t *data = NULL, *body = NULL;
	const char *mount = NULL;
	struct kvctx k = {0};
	long long cas = -1;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, put_usage)) != -1) {
		switch (o) {
		case OPT_CAS:
			if (args_parse_uint(optarg, &cas) < 0)
				return cli_usage_err("--cas: not a number: %s", optarg);
			break;
		case OPT_MOUNT:
			mount = optarg;
			break;
		}
	}
	if (optind >= argc)
		return cli_usage_err("missing PATH");
	r = parse_data(argc - optind - 1, argv + optind + 1, &data);
	if (r < 0)
		goto out;
	r = kv_resolve(&k, mount, argv[optind], false);
	if (r < 0)
		goto out;
	if (k.version == 2) {
		k.api = xjoin(k.mount, "data", kv_rest(&k));
		body = json_pack("{s:O}", "data", data);
		if (!body)
			cli_oom();
		set_cas(body, cas);
	} else {
		if (cas >= 0) {
			r = need_v2(&k, "--cas");
			goto out;
		}
		k.api = xjoin(k.mount, "", kv_rest(&k));
		body = json_incref(data);
	}
	r = cli_call(k.c, "PUT", k.api, NULL, body, &k.resp);
	if (r < 0)
		goto out;
	if (k.version == 2)
		print_written(k.api, &k.resp);
	else if (k.resp.json && arg_format == CLI_FORMAT_JSON)
		output_json(k.resp.json);
	else if (k.resp.json)
		output_secret(k.resp.json);
	else
		cli_success("Success! Data written to: %s", k.api);
out:
	json_decref(data);
	json_decref(body);
	kvctx_free(&k);
	return cli_exit(r);
}

static const char get_usage[] =
        "Usage: coffer kv get [--version=N] [--field=FIELD] [--mount=MOUNT] PATH\n\n"
        "Reads a secret. On KV v2 this prints the version's metadata and its data.\n\n"
        "  --version=N            the version to read (KV v2; default the current one)\n"
        "  --field=FIELD          print only this field's value, raw\n" KV_MOUNT_OPTION;

/* Explains a KV v2 read that answered 404: deleted/destroyed, or nothing there. */
static void
report_missing(const char *api, const struct client_resp *resp)
{
	json_t *data = json_object_get(resp->json, "data");
	json_t *meta = json_object_get(data, "metadata");

	if (json_is_object(meta)) {
		json_int_t v = json_integer_value(json_object_get(meta, "version"));
		if (arg_format == CLI_FORMAT_JSON) {
			output_json(resp->json);
		} else {
			output_header("Metadata");
			output_kv(meta, OUTPUT_NA_EMPTY);
		}
		if (json_is_true(json_object_get(meta, "destroyed")))
			cli_err("version %" JSON_INTEGER_FORMAT " of %s is destroyed", v, api);
		else
			cli_err("version %" JSON_INTEGER_FORMAT " of %s is deleted", v, api);
		return;
	}
	cli_err("no value found at %s", api);
}

static int
kv_get(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"version", required_argument, NULL, OPT_VERSION},
	        {"field", required_argument, NULL, OPT_FIELD},
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	const char *mount = NULL, *field = NULL, *version = NULL;
	char query[48], err[1024];
	struct kvctx k = {0};
	json_t *data, *secret;
	long long v;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, get_usage)) != -1) {
		switch (o) {
		case OPT_VERSION:
			if (args_parse_uint(optarg, &v) < 0)
				return cli_usage_err("--version: not a number: %s", optarg);
			version = optarg;
			break;
		case OPT_FIELD:
			field = optarg;
			break;
		case OPT_MOUNT:
			mount = optarg;
			break;
		}
	}
	if (cli_operand_one(argc, "PATH") != 0)
		return CLI_EXIT_ERROR;
	r = kv_resolve(&k, mount, argv[optind], false);
	if (r < 0)
		goto out;
	if (version && k.version != 2) {
		r = need_v2(&k, "--version");
		goto out;
	}
	if (k.version == 2) {
		k.api = xjoin(k.mount, "data", kv_rest(&k));
		snprintf(query, sizeof(query), "version=%s", version ? version : "");
		r = client_request(k.c, "GET", k.api, version ? query : NULL, NULL, &k.resp, err,
		                   sizeof(err));
		if (r < 0) {
			cli_err("%s", err);
			goto out;
		}
		if (k.resp.status == 404) {
			report_missing(k.api, &k.resp);
			r = CF_ENOTFOUND;
			goto out;
		}
		if (k.resp.status < 200 || k.resp.status >= 300) {
			client_resp_error(&k.resp, k.api, err, sizeof(err));
			cli_err("%s", err);
			r = CF_EIO;
			goto out;
		}
	} else {
		k.api = xjoin(k.mount, "", kv_rest(&k));
		r = cli_call(k.c, "GET", k.api, NULL, NULL, &k.resp);
		if (r < 0)
			goto out;
	}
	data = json_object_get(k.resp.json, "data");
	secret = k.version == 2 ? json_object_get(data, "data") : data;
	if (field) {
		r = output_field(secret, field);
		if (r < 0)
			cli_err("field \"%s\" not present in secret", field);
		goto out;
	}
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(k.resp.json);
	} else if (k.version == 2) {
		output_warnings(k.resp.json);
		output_header("Secret Path");
		printf("%s\n\n", k.api);
		output_header("Metadata");
		output_kv(json_object_get(data, "metadata"), OUTPUT_NA_EMPTY);
		printf("\n");
		output_header("Data");
		output_kv(secret, 0);
	} else {
		output_secret(k.resp.json);
	}
out:
	kvctx_free(&k);
	return cli_exit(r);
}

static const char patch_usage[] =
        "Usage: coffer kv patch [--cas=N] [--method=patch|rw] [--mount=MOUNT] PATH "
        "key=value...\n\n"
        "Merges the given keys into the current version (KV v2), writing a new version.\n\n"
        "  --cas=N                check-and-set: patch only if the current version is N\n"
        "  --method=patch|rw      patch: HTTP PATCH (merge patch, the default); rw: read,\n"
        "                         merge locally and write back with "
        "check-and-set\n" KV_MOUNT_OPTION;

/* --method=rw: GET the current version, merge, write with cas = that version. */
static int
patch_rw(struct kvctx *k, json_t *data, long long cas)
{
	json_t *cur, *merged = NULL, *body = NULL;
	long long version;
	int r;

	r = cli_call(k->c, "GET", k->api, NULL, NULL, &k->resp);
	if (r < 0)
		return r;
	cur = json_object_get(json_object_get(k->resp.json, "data"), "data");
	version = json_integer_value(json_object_get(
	        json_object_get(json_object_get(k->resp.json, "data"), "metadata"), "version"));
	if (!json_is_object(cur)) {
		cli_err("no value found at %s", k->api);
		client_resp_clear(&k->resp);
		return CF_ENOTFOUND;
	}
	merged = json_deep_copy(cur);
	client_resp_clear(&k->resp);
	if (!merged || json_object_update(merged, data) < 0)
		cli_oom();
	body = json_pack("{s:o}", "data", merged);
	if (!body)
		cli_oom();
	set_cas(body, cas >= 0 ? cas : version);
	r = cli_call(k->c, "PUT", k->api, NULL, body, &k->resp);
	json_decref(body);
	return r;
}

static int
kv_patch(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"cas", required_argument, NULL, OPT_CAS},
	        {"method", required_argument, NULL, OPT_METHOD},
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	json_t *data = NULL, *body = NULL;
	const char *mount = NULL;
	struct kvctx k = {0};
	long long cas = -1;
	bool rw = false;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, patch_usage)) != -1) {
		switch (o) {
		case OPT_CAS:
			if (args_parse_uint(optarg, &cas) < 0)
				return cli_usage_err("--cas: not a number: %s", optarg);
			break;
		case OPT_METHOD:
			if (strcmp(optarg, "rw") == 0)
				rw = true;
			else if (strcmp(optarg, "patch") != 0)
				return cli_usage_err("--method: patch or rw, not %s", optarg);
			break;
		case OPT_MOUNT:
			mount = optarg;
			break;
		}
	}
	if (optind >= argc)
		return cli_usage_err("missing PATH");
	r = parse_data(argc - optind - 1, argv + optind + 1, &data);
	if (r < 0)
		goto out;
	r = kv_open_v2(&k, mount, argv[optind], "patch", "data");
	if (r < 0)
		goto out;
	if (rw) {
		r = patch_rw(&k, data, cas);
	} else {
		body = json_pack("{s:O}", "data", data);
		if (!body)
			cli_oom();
		set_cas(body, cas);
		r = cli_call(k.c, "PATCH", k.api, NULL, body, &k.resp);
	}
	if (r < 0)
		goto out;
	print_written(k.api, &k.resp);
out:
	json_decref(data);
	json_decref(body);
	kvctx_free(&k);
	return cli_exit(r);
}

/* Shared by delete, undelete and destroy: [--versions=...] [--mount] PATH. */
static int
parse_versions_cmd(int argc, char **argv, const char *usage, const char **ret_mount,
                   json_t **ret_versions)
{
	static const struct option opts[] = {
	        {"versions", required_argument, NULL, OPT_VERSIONS},
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	json_t *versions = NULL;
	int o;

	while ((o = cli_getopt(argc, argv, opts, usage)) != -1) {
		switch (o) {
		case OPT_VERSIONS:
			json_decref(versions);
			if (args_parse_versions(optarg, &versions) < 0)
				return cli_usage_err("--versions: expected N[,N...], got %s",
				                     optarg);
			break;
		case OPT_MOUNT:
			*ret_mount = optarg;
			break;
		}
	}
	if (cli_operand_one(argc, "PATH") != 0) {
		json_decref(versions);
		return CLI_EXIT_ERROR;
	}
	*ret_versions = versions;
	return 0;
}

static const char delete_usage[] =
        "Usage: coffer kv delete [--versions=N[,N...]] [--mount=MOUNT] PATH\n\n"
        "Deletes a secret. On KV v2 this soft-deletes the current version, or the given\n"
        "versions; `kv undelete` restores them.\n\n"
        "  --versions=N,...       versions to delete (KV v2)\n" KV_MOUNT_OPTION;

static int
kv_delete(int argc, char **argv)
{
	const char *mount = NULL;
	json_t *versions = NULL, *body = NULL;
	struct kvctx k = {0};
	int r;

	if (parse_versions_cmd(argc, argv, delete_usage, &mount, &versions) != 0)
		return CLI_EXIT_ERROR;
	r = kv_resolve(&k, mount, argv[optind], false);
	if (r < 0)
		goto out;
	if (k.version == 2 && versions) {
		k.api = xjoin(k.mount, "delete", kv_rest(&k));
		body = json_pack("{s:O}", "versions", versions);
		if (!body)
			cli_oom();
		r = cli_call(k.c, "PUT", k.api, NULL, body, &k.resp);
	} else if (k.version == 2) {
		k.api = xjoin(k.mount, "data", kv_rest(&k));
		r = cli_call(k.c, "DELETE", k.api, NULL, NULL, &k.resp);
	} else if (versions) {
		r = need_v2(&k, "--versions");
	} else {
		k.api = xjoin(k.mount, "", kv_rest(&k));
		r = cli_call(k.c, "DELETE", k.api, NULL, NULL, &k.resp);
	}
	if (r < 0)
		goto out;
	cli_success("Success! Data deleted (if it existed) at: %s", k.api);
out:
	json_decref(versions);
	json_decref(body);
	kvctx_free(&k);
	return cli_exit(r);
}

/* undelete and destroy: POST <mount><verb>/<rest> {"versions": [...]} on KV v2. */
static int
versions_op(int argc, char **argv, const char *verb, const char *usage)
{
	const char *mount = NULL;
	json_t *versions = NULL, *body = NULL;
	struct kvctx k = {0};
	int r;

	if (parse_versions_cmd(argc, argv, usage, &mount, &versions) != 0)
		return CLI_EXIT_ERROR;
	if (!versions)
		return cli_usage_err("missing --versions");
	r = kv_open_v2(&k, mount, argv[optind], verb, verb);
	if (r < 0)
		goto out;
	body = json_pack("{s:O}", "versions", versions);
	if (!body)
		cli_oom();
	r = cli_call(k.c, "PUT", k.api, NULL, body, &k.resp);
	if (r < 0)
		goto out;
	cli_success("Success! Data written to: %s", k.api);
out:
	json_decref(versions);
	json_decref(body);
	kvctx_free(&k);
	return cli_exit(r);
}

static const char undelete_usage[] =
        "Usage: coffer kv undelete --versions=N[,N...] [--mount=MOUNT] PATH\n\n"
        "Restores soft-deleted versions of a KV v2 secret.\n\n"
        "  --versions=N,...       versions to restore (required)\n" KV_MOUNT_OPTION;

static int
kv_undelete(int argc, char **argv)
{
	return versions_op(argc, argv, "undelete", undelete_usage);
}

static const char destroy_usage[] =
        "Usage: coffer kv destroy --versions=N[,N...] [--mount=MOUNT] PATH\n\n"
        "Permanently erases versions of a KV v2 secret.\n\n"
        "  --versions=N,...       versions to destroy (required)\n" KV_MOUNT_OPTION;

static int
kv_destroy(int argc, char **argv)
{
	return versions_op(argc, argv, "destroy", destroy_usage);
}

static const char list_usage[] =
        "Usage: coffer kv list [--mount=MOUNT] PATH\n\n"
        "Lists the keys under PATH; folders end in '/'.\n\n" KV_MOUNT_OPTION;

static int
kv_list(int argc, char **argv)
{
	const char *mount = NULL;
	struct kvctx k = {0};
	char *dir;
	size_t n;
	int r;

	if (kv_path_opts(argc, argv, list_usage, &mount) != 0)
		return CLI_EXIT_ERROR;
	r = kv_resolve(&k, mount, argv[optind], true);
	if (r < 0)
		goto out;
	k.api = xjoin(k.mount, k.version == 2 ? "metadata" : "", kv_rest(&k));
	/* LIST addresses a folder: always with a trailing '/'. */
	n = strlen(k.api);
	if (n == 0 || k.api[n - 1] != '/') {
		dir = malloc(n + 2);
		if (!dir)
			cli_oom();
		snprintf(dir, n + 2, "%s/", k.api);
		free(k.api);
		k.api = dir;
	}
	r = cli_call(k.c, "LIST", k.api, NULL, NULL, &k.resp);
	if (r < 0)
		goto out;
	cli_print(k.resp.json, output_keys);
out:
	kvctx_free(&k);
	return cli_exit(r);
}

static const char metadata_get_usage[] =
        "Usage: coffer kv metadata get [--mount=MOUNT] PATH\n\n"
        "Prints a KV v2 secret's metadata and the state of each version.\n\n" KV_MOUNT_OPTION;

static int
cmp_version(const void *a, const void *b)
{
	const char *sa = *(const char *const *)a, *sb = *(const char *const *)b;
	int64_t x = 0, y = 0;

	(void)util_parse_int(sa, &x);
	(void)util_parse_int(sb, &y);
	if (x != y)
		return (x > y) - (x < y);
	return strcmp(sa, sb);
}

static void
print_metadata(const json_t *data)
{
	json_t *top, *versions = json_object_get(data, "versions");
	const char **keys;
	char title[64];
	size_t i = 0, n;
	void *it;

	top = json_deep_copy(data);
	if (!top)
		cli_oom();
	json_object_del(top, "versions");
	output_header("Metadata");
	output_kv(top, OUTPUT_NA_EMPTY);
	json_decref(top);
	if (!json_is_object(versions))
		return;
	n = json_object_size(versions);
	keys = calloc(n + 1, sizeof(*keys));
	if (!keys)
		cli_oom();
	for (it = json_object_iter(versions); it; it = json_object_iter_next(versions, it)) {
		keys[i++] = json_object_iter_key(it);
	}
	qsort(keys, n, sizeof(*keys), cmp_version);
	for (i = 0; i < n; i++) {
		snprintf(title, sizeof(title), "Version %s", keys[i]);
		printf("\n");
		output_header(title);
		output_kv(json_object_get(versions, keys[i]), OUTPUT_NA_EMPTY);
	}
	free(keys); /* not secret: JSON key names */
}

/* metadata get and delete: method on <mount>metadata/<rest> of a KV v2 PATH.
 * Returns 0 with k's answer, or a negative code (error printed). */
static int
metadata_call(int argc, char **argv, const char *usage, const char *method, struct kvctx *k)
{
	const char *mount = NULL;
	int r;

	if (kv_path_opts(argc, argv, usage, &mount) != 0)
		return CF_EINVAL;
	r = kv_open_v2(k, mount, argv[optind], "metadata", "metadata");
	if (r < 0)
		return r;
	return cli_call(k->c, method, k->api, NULL, NULL, &k->resp);
}

static int
kv_metadata_get(int argc, char **argv)
{
	struct kvctx k = {0};
	int r;

	r = metadata_call(argc, argv, metadata_get_usage, "GET", &k);
	if (r == 0 && arg_format == CLI_FORMAT_JSON)
		output_json(k.resp.json);
	else if (r == 0)
		print_metadata(json_object_get(k.resp.json, "data"));
	kvctx_free(&k);
	return cli_exit(r);
}

static const char metadata_put_usage[] =
        "Usage: coffer kv metadata put [--max-versions=N] [--cas-required=BOOL]\n"
        "                              [--delete-version-after=DURATION]\n"
        "                              [--custom-metadata=KEY=VALUE ...] [--mount=MOUNT] PATH\n\n"
        "Creates or updates a KV v2 secret's metadata without writing a version.\n\n"
        "  --max-versions=N               versions to keep (0: the mount's setting)\n"
        "  --cas-required=BOOL            require check-and-set on writes\n"
        "  --delete-version-after=DUR     soft-delete versions this long after writing\n"
        "  --custom-metadata=KEY=VALUE    a custom metadata pair (repeatable)\n" KV_MOUNT_OPTION;

static int
kv_metadata_put(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"max-versions", required_argument, NULL, OPT_MAX_VERSIONS},
	        {"cas-required", required_argument, NULL, OPT_CAS_REQUIRED},
	        {"delete-version-after", required_argument, NULL, OPT_DELETE_AFTER},
	        {"custom-metadata", required_argument, NULL, OPT_CUSTOM_METADATA},
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	const char *mount = NULL;
	json_t *body;
	struct kvctx k = {0};
	long long n;
	bool b;
	int o, r;

	body = json_object();
	if (!body)
		cli_oom();
	while ((o = cli_getopt(argc, argv, opts, metadata_put_usage)) != -1) {
		switch (o) {
		case OPT_MAX_VERSIONS:
			if (args_parse_uint(optarg, &n) < 0) {
				json_decref(body);
				return cli_usage_err("--max-versions: not a number: %s", optarg);
			}
			json_object_set_new(body, "max_versions", json_integer(n));
			break;
		case OPT_CAS_REQUIRED:
			if (args_parse_bool(optarg, &b) < 0) {
				json_decref(body);
				return cli_usage_err("--cas-required: not a boolean: %s", optarg);
			}
			json_object_set_new(body, "cas_required", json_boolean(b));
			break;
		case OPT_DELETE_AFTER:
			json_object_set_new(body, "delete_version_after", json_string(optarg));
			break;
		case OPT_CUSTOM_METADATA:
			if (args_set_pair(cli_json_sub(body, "custom_metadata"), optarg) < 0) {
				json_decref(body);
				return cli_usage_err(
				        "--custom-metadata: expected KEY=VALUE, got %s", optarg);
			}
			break;
		case OPT_MOUNT:
			mount = optarg;
			break;
		}
	}
	if (cli_operand_one(argc, "PATH") != 0) {
		json_decref(body);
		return CLI_EXIT_ERROR;
	}
	r = kv_open_v2(&k, mount, argv[optind], "metadata", "metadata");
	if (r < 0)
		goto out;
	r = cli_call(k.c, "PUT", k.api, NULL, body, &k.resp);
	if (r < 0)
		goto out;
	cli_success("Success! Data written to: %s", k.api);
out:
	json_decref(body);
	kvctx_free(&k);
	return cli_exit(r);
}

static const char metadata_delete_usage[] =
        "Usage: coffer kv metadata delete [--mount=MOUNT] PATH\n\n"
        "Deletes a KV v2 secret entirely: every version and its metadata.\n\n" KV_MOUNT_OPTION;

static int
kv_metadata_delete(int argc, char **argv)
{
	struct kvctx k = {0};
	int r;

	r = metadata_call(argc, argv, metadata_delete_usage, "DELETE", &k);
	if (r == 0)
		cli_success("Success! Data deleted (if it existed) at: %s", k.api);
	kvctx_free(&k);
	return cli_exit(r);
}

static const struct cli_cmd kv_metadata_cmds[] = {
        {"get", kv_metadata_get, "print a secret's metadata and versions"},
        {"put", kv_metadata_put, "create or update a secret's metadata"},
        {"delete", kv_metadata_delete, "delete a secret with all its versions"},
        {NULL, NULL, NULL},
};

static int
kv_metadata(int argc, char **argv)
{
	return cli_dispatch("kv metadata", kv_metadata_cmds, argc, argv);
}

static const struct cli_cmd kv_cmds[] = {
        {"put", kv_put, "write a secret"},
        {"get", kv_get, "read a secret"},
        {"patch", kv_patch, "update some keys of a secret (KV v2)"},
        {"list", kv_list, "list the keys under a path"},
        {"delete", kv_delete, "delete a secret, or soft-delete versions (KV v2)"},
        {"undelete", kv_undelete, "restore soft-deleted versions (KV v2)"},
        {"destroy", kv_destroy, "permanently erase versions (KV v2)"},
        {"metadata", kv_metadata, "get, put or delete a secret's metadata (KV v2)"},
        {NULL, NULL, NULL},
};

int
kv_main(int argc, char **argv)
{
	return cli_dispatch("kv", kv_cmds, argc, argv);
}
