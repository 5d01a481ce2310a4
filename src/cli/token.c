/* token.c - `coffer token create|lookup|renew|revoke` over auth/token/
 * (Vault's token auth API). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_POLICY = CLI_OPT_LOCAL,
	OPT_TTL,
	OPT_EXPLICIT_MAX_TTL,
	OPT_PERIOD,
	OPT_USE_LIMIT,
	OPT_ORPHAN,
	OPT_NO_DEFAULT_POLICY,
	OPT_RENEWABLE,
	OPT_DISPLAY_NAME,
	OPT_METADATA,
	OPT_ROLE,
	OPT_TYPE,
	OPT_ID,
	OPT_FIELD,
	OPT_ACCESSOR,
	OPT_INCREMENT,
	OPT_MODE,
	OPT_SELF,
};

#define TOKEN_MAX 4096

/* Takes a TOKEN (or accessor) operand: "-" reads one line from stdin. The argv
 * copy is wiped so the token does not linger in ps(1) output. Returns a new
 * string (secmem_free_str it), or NULL after reporting an error. */
static char *
token_operand(char *arg)
{
	char buf[TOKEN_MAX];
	char *t;

	if (strcmp(arg, "-") == 0) {
		if (cli_read_secret_line("Token (will be hidden): ", buf, sizeof(buf)) < 0) {
			cli_err("no token on stdin");
			return NULL;
		}
		t = cli_strdup(buf);
		secmem_wipe(buf, sizeof(buf));
		return t;
	}
	t = cli_strdup(arg);
	secmem_wipe(arg, strlen(arg));
	return t;
}

/* Prints an answer carrying an auth block (create, renew). */
static int
print_auth(const struct client_resp *resp, const char *field)
{
	json_t *fields;
	int r = 0;

	if (field) {
		fields = output_auth_fields(json_object_get(resp->json, "auth"));
		r = output_field(fields, field);
		json_decref(fields);
		if (r < 0)
			cli_err("field \"%s\" not present in the answer", field);
		return r;
	}
	cli_print(resp->json, output_secret);
	return r;
}

static const char create_usage[] =
        "Usage: coffer token create [--policy=POLICY ...] [--ttl=DURATION]\n"
        "                           [--explicit-max-ttl=DURATION] [--period=DURATION]\n"
        "                           [--use-limit=N] [--orphan] [--no-default-policy]\n"
        "                           [--renewable=BOOL] [--display-name=NAME]\n"
        "                           [--metadata=KEY=VALUE ...] [--role=ROLE]\n"
        "                           [--type=service|batch] [--id=ID] [--field=FIELD]\n\n"
        "Creates a token, a child of the calling token unless --orphan.\n\n"
        "  --policy=POLICY            attach a policy (repeatable; default: the caller's)\n"
        "  --ttl=DURATION             initial TTL (e.g. 1h, 30m, 3600)\n"
        "  --explicit-max-ttl=DUR     hard limit on the TTL, even across renewals\n"
        "  --period=DURATION          periodic token: each renewal resets the TTL to this\n"
        "  --use-limit=N              number of uses (0: unlimited)\n"
        "  --orphan                   no parent: survives the caller's revocation\n"
        "  --no-default-policy        do not attach the default policy\n"
        "  --renewable=BOOL           whether the token can be renewed (default true)\n"
        "  --display-name=NAME        display name (stored as token-NAME)\n"
        "  --metadata=KEY=VALUE       metadata pair (repeatable)\n"
        "  --role=ROLE                create from this token role\n"
        "  --type=service|batch       token type\n"
        "  --id=ID                    the token's value (root only)\n"
        "  --field=FIELD              print only this field (token, token_accessor, ...)\n";

static const struct option create_opts[] = {
        {"policy", required_argument, NULL, OPT_POLICY},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"explicit-max-ttl", required_argument, NULL, OPT_EXPLICIT_MAX_TTL},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"use-limit", required_argument, NULL, OPT_USE_LIMIT},
        {"orphan", no_argument, NULL, OPT_ORPHAN},
        {"no-default-policy", no_argument, NULL, OPT_NO_DEFAULT_POLICY},
        {"renewable", required_argument, NULL, OPT_RENEWABLE},
        {"display-name", required_argument, NULL, OPT_DISPLAY_NAME},
        {"metadata", required_argument, NULL, OPT_METADATA},
        {"role", required_argument, NULL, OPT_ROLE},
        {"type", required_argument, NULL, OPT_TYPE},
        {"id", required_argument, NULL, OPT_ID},
        {"field", required_argument, NULL, OPT_FIELD},
        CLI_COMMON_OPTIONS,
        {0},
};

/* What `token create`'s options ask for. */
struct create_args {
	json_t *body;      /* the request body the options fill */
	const char *role;  /* --role, or NULL */
	const char *field; /* --field, or NULL */
	bool orphan;
};

/* Parses argv into a->body (created by the caller) and the other fields of a
 * (strings borrowed from argv; the --id value is wiped from argv). Returns 0,
 * or CLI_EXIT_ERROR after a usage error. */
static int
create_parse_args(int argc, char **argv, struct create_args *a)
{
	json_t *policies = NULL, *meta = NULL;
	long long n;
	bool b;
	int o;

	while ((o = cli_getopt(argc, argv, create_opts, create_usage)) != -1) {
		switch (o) {
		case OPT_POLICY:
			if (!policies) {
				policies = json_array();
				cli_json_set(a->body, "policies", policies);
			}
			/* "a,b" works too, as in vault's -policy flag. */
			if (json_array_append_new(policies, json_string(optarg)) < 0)
				cli_oom();
			break;
		case OPT_TTL:
			cli_json_set(a->body, "ttl", json_string(optarg));
			break;
		case OPT_EXPLICIT_MAX_TTL:
			cli_json_set(a->body, "explicit_max_ttl", json_string(optarg));
			break;
		case OPT_PERIOD:
			cli_json_set(a->body, "period", json_string(optarg));
			break;
		case OPT_USE_LIMIT:
			if (args_parse_uint(optarg, &n) < 0)
				return cli_usage_err("--use-limit: not a number: %s", optarg);
			cli_json_set(a->body, "num_uses", json_integer(n));
			break;
		case OPT_ORPHAN:
			a->orphan = true;
			break;
		case OPT_NO_DEFAULT_POLICY:
			cli_json_set(a->body, "no_default_policy", json_true());
			break;
		case OPT_RENEWABLE:
			if (args_parse_bool(optarg, &b) < 0)
				return cli_usage_err("--renewable: not a boolean: %s", optarg);
			cli_json_set(a->body, "renewable", json_boolean(b));
			break;
		case OPT_DISPLAY_NAME:
			cli_json_set(a->body, "display_name", json_string(optarg));
			break;
		case OPT_METADATA:
			if (!meta) {
				meta = json_object();
				cli_json_set(a->body, "meta", meta);
			}
			if (args_set_pair(meta, optarg) < 0)
				return cli_usage_err("--metadata: expected KEY=VALUE, got %s",
				                     optarg);
			break;
		case OPT_ROLE:
			a->role = optarg;
			break;
		case OPT_TYPE:
			if (strcmp(optarg, "service") != 0 && strcmp(optarg, "batch") != 0)
				return cli_usage_err("--type: service or batch, not %s", optarg);
			cli_json_set(a->body, "type", json_string(optarg));
			break;
		case OPT_ID:
			cli_json_set(a->body, "id", json_string(optarg));
			secmem_wipe(optarg, strlen(optarg));
			break;
		case OPT_FIELD:
			a->field = optarg;
			break;
		}
	}
	if (optind != argc)
		return cli_usage_err("unexpected argument \"%s\"", argv[optind]);
	if (a->role && a->orphan)
		return cli_usage_err("--role and --orphan cannot be combined (the role decides)");
	return 0;
}

/* `coffer token create`: POST auth/token/create (create-orphan, create/ROLE). */
static int
token_create_cmd(int argc, char **argv)
{
	struct create_args a = {0};
	struct client_resp resp = {0};
	char path[512];
	int r;

	a.body = json_object();
	if (!a.body)
		cli_oom();
	r = create_parse_args(argc, argv, &a);
	if (r != 0) {
		json_decref(a.body);
		return r;
	}
	if (a.role)
		snprintf(path, sizeof(path), "auth/token/create/%s", a.role);
	else
		snprintf(path, sizeof(path), "%s",
		         a.orphan ? "auth/token/create-orphan" : "auth/token/create");
	r = cli_request("POST", path, NULL, a.body, &resp);
	if (r < 0)
		goto out;
	r = print_auth(&resp, a.field);
out:
	json_decref(a.body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char lookup_usage[] =
        "Usage: coffer token lookup [--accessor] [--field=FIELD] [TOKEN]\n\n"
        "Prints a token's properties: the calling token's without TOKEN. TOKEN - reads\n"
        "it from stdin.\n\n"
        "  --accessor             TOKEN is an accessor\n"
        "  --field=FIELD          print only this field, raw\n";

/* Token info with TTL fields shown as durations, as vault prints them. */
static json_t *
humanize_info(const json_t *data)
{
	static const char *const durs[] = {"creation_ttl", "explicit_max_ttl", "period", "ttl"};
	json_t *out = json_deep_copy(data), *v;
	char d[64];
	size_t i;

	if (!out)
		cli_oom();
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		v = json_object_get(out, durs[i]);
		if (!json_is_integer(v))
			continue;
		output_duration(json_integer_value(v), d, sizeof(d));
		cli_json_set(out, durs[i], json_string(d));
	}
	return out;
}

static int
token_lookup_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"accessor", no_argument, NULL, OPT_ACCESSOR},
	        {"field", required_argument, NULL, OPT_FIELD},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *field = NULL;
	json_t *body = NULL, *info;
	bool accessor = false;
	char *tok = NULL;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, lookup_usage)) != -1) {
		if (o == OPT_ACCESSOR)
			accessor = true;
		else if (o == OPT_FIELD)
			field = optarg;
	}
	if (argc - optind > 1)
		return cli_usage_err("too many arguments");
	if (accessor && optind >= argc)
		return cli_usage_err("--accessor needs an ACCESSOR operand");
	if (optind < argc) {
		tok = token_operand(argv[optind]);
		if (!tok)
			return CLI_EXIT_ERROR;
		body = json_pack("{s:s}", accessor ? "accessor" : "token", tok);
		if (!body) {
			secmem_free_str(tok);
			return cli_usage_err("token is not valid text");
		}
	}
	if (!body)
		r = cli_request("GET", "auth/token/lookup-self", NULL, NULL, &resp);
	else if (accessor)
		r = cli_request("POST", "auth/token/lookup-accessor", NULL, body, &resp);
	else
		r = cli_request("POST", "auth/token/lookup", NULL, body, &resp);
	if (r < 0)
		goto out;
	if (field) {
		r = output_field(json_object_get(resp.json, "data"), field);
		if (r < 0)
			cli_err("field \"%s\" not present in the answer", field);
	} else if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
	} else {
		output_warnings(resp.json);
		info = humanize_info(json_object_get(resp.json, "data"));
		output_kv(info, OUTPUT_NA_EMPTY);
		json_decref(info);
	}
out:
	secmem_free_str(tok);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char renew_usage[] =
        "Usage: coffer token renew [--increment=DURATION] [--accessor] [--field=FIELD] "
        "[TOKEN]\n\n"
        "Renews a token's lease: the calling token's without TOKEN.\n\n"
        "  --increment=DURATION   requested new TTL (default: the token's TTL)\n"
        "  --accessor             TOKEN is an accessor\n"
        "  --field=FIELD          print only this field, raw\n";

static int
token_renew_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"increment", required_argument, NULL, OPT_INCREMENT},
	        {"accessor", no_argument, NULL, OPT_ACCESSOR},
	        {"field", required_argument, NULL, OPT_FIELD},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *field = NULL, *path;
	bool accessor = false;
	json_t *body;
	char *tok = NULL;
	int o, r;

	body = json_object();
	if (!body)
		cli_oom();
	while ((o = cli_getopt(argc, argv, opts, renew_usage)) != -1) {
		switch (o) {
		case OPT_INCREMENT:
			cli_json_set(body, "increment", json_string(optarg));
			break;
		case OPT_ACCESSOR:
			accessor = true;
			break;
		case OPT_FIELD:
			field = optarg;
			break;
		}
	}
	if (argc - optind > 1) {
		json_decref(body);
		return cli_usage_err("too many arguments");
	}
	if (accessor && optind >= argc) {
		json_decref(body);
		return cli_usage_err("--accessor needs an ACCESSOR operand");
	}
	path = "auth/token/renew-self";
	if (optind < argc) {
		tok = token_operand(argv[optind]);
		if (!tok) {
			r = CF_EINVAL;
			goto out;
		}
		cli_json_set(body, accessor ? "accessor" : "token", json_string(tok));
		path = accessor ? "auth/token/renew-accessor" : "auth/token/renew";
	}
	r = cli_request("POST", path, NULL, body, &resp);
	if (r < 0)
		goto out;
	r = print_auth(&resp, field);
out:
	secmem_free_str(tok);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char revoke_usage[] =
        "Usage: coffer token revoke [--accessor] [--mode=orphan|path] TOKEN\n"
        "       coffer token revoke --self\n\n"
        "Revokes a token, its children and their leases.\n\n"
        "  --accessor             TOKEN is an accessor\n"
        "  --mode=orphan          revoke only the token; its children become orphans\n"
        "  --mode=path            TOKEN is a path prefix: revoke every token created\n"
        "                         under it (e.g. auth/userpass/login/)\n"
        "  --self                 revoke the calling token\n";

static int
token_revoke_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"accessor", no_argument, NULL, OPT_ACCESSOR},
	        {"mode", required_argument, NULL, OPT_MODE},
	        {"self", no_argument, NULL, OPT_SELF},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *mode = NULL;
	bool accessor = false, self = false;
	json_t *body = NULL;
	char *tok = NULL, path[1024];
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, revoke_usage)) != -1) {
		switch (o) {
		case OPT_ACCESSOR:
			accessor = true;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "orphan") != 0 && strcmp(optarg, "path") != 0)
				return cli_usage_err("--mode: orphan or path, not %s", optarg);
			mode = optarg;
			break;
		case OPT_SELF:
			self = true;
			break;
		}
	}
	if (self && (optind < argc || accessor || mode))
		return cli_usage_err("--self takes no TOKEN, --accessor or --mode");
	if (!self && argc - optind != 1)
		return cli_usage_err(optind >= argc ? "missing TOKEN" : "too many arguments");
	if (accessor && mode)
		return cli_usage_err("--accessor and --mode cannot be combined");
	if (self) {
		snprintf(path, sizeof(path), "auth/token/revoke-self");
	} else {
		tok = token_operand(argv[optind]);
		if (!tok)
			return CLI_EXIT_ERROR;
		if (mode && strcmp(mode, "path") == 0) {
			snprintf(path, sizeof(path), "sys/leases/revoke-prefix/%s", tok);
		} else {
			snprintf(path, sizeof(path), "%s",
			         accessor ? "auth/token/revoke-accessor"
			         : mode   ? "auth/token/revoke-orphan"
			                  : "auth/token/revoke");
			body = json_pack("{s:s}", accessor ? "accessor" : "token", tok);
			if (!body) {
				secmem_free_str(tok);
				return cli_usage_err("token is not valid text");
			}
		}
	}
	/* auth/token/ endpoints are POST in Vault's token API; sys/leases/ accepts PUT. */
	r = cli_request(strncmp(path, "sys/", 4) == 0 ? "PUT" : "POST", path, NULL, body, &resp);
	if (r < 0)
		goto out;
	if (mode && strcmp(mode, "path") == 0)
		cli_success("Success! Revoked the prefix (if it existed)");
	else
		cli_success("Success! Revoked token (if it existed)");
out:
	secmem_free_str(tok);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd token_cmds[] = {
        {"create", token_create_cmd, "create a token"},
        {"lookup", token_lookup_cmd, "print a token's properties"},
        {"renew", token_renew_cmd, "renew a token's lease"},
        {"revoke", token_revoke_cmd, "revoke a token and its children"},
        {NULL, NULL, NULL},
};

int
token_main(int argc, char **argv)
{
	return cli_dispatch("token", token_cmds, argc, argv);
}
