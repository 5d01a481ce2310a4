/* login.c - `coffer login --method=userpass|approle|jwt|srp`: logs in with an
 * auth method (Vault's auth method APIs), prints the token as `coffer token create`
 * does and stores it in ~/.coffer-token (docs/cli.md), where every client
 * command finds it. Secret operands given as "-" are read from the terminal
 * without echo (or as one line of a non-terminal stdin); argv copies of secrets
 * are wiped so they vanish from ps(1). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/login.h"
#include "cli/output.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_FILE "/.coffer-token"
#define SECRET_MAX 16384 /* bytes of a password or secret ID typed in */

enum {
	OPT_METHOD = CLI_OPT_LOCAL,
	OPT_PATH,
	OPT_NO_STORE,
	OPT_FIELD,
};

static const char login_usage[] =
        "Usage: coffer login [--method=token|userpass|approle|jwt|srp] [--path=MOUNT]\n"
        "                    [--no-store] [--field=FIELD] [KEY=VALUE ...]\n\n"
        "Logs in with an auth method and stores the token in ~/.coffer-token.\n\n"
        "  coffer login [TOKEN|-]                     (--method=token: checks and stores it)\n"
        "  coffer login --method=userpass username=NAME [password=PASSWORD|-]\n"
        "  coffer login --method=approle role_id=ID secret_id=SECRET_ID|-\n"
        "  coffer login --method=jwt [role=ROLE] jwt=TOKEN|@FILE|-\n"
        "  coffer login --method=srp username=NAME\n\n"
        "A password that is not given, or given as -, is asked for without echo (or\n"
        "read as one line from stdin when it is not a terminal). VALUE may be @FILE.\n\n"
        "  --method=METHOD        token (default), userpass, approle, jwt or srp\n"
        "  --path=MOUNT           where the method is mounted (default: the method's name)\n"
        "  --no-store             do not write the token to ~/.coffer-token\n"
        "  --field=FIELD          print only this field (token, token_accessor, ...)\n";

/* Keys whose values are secrets: their argv copies are wiped. */
static bool
secret_key(const char *k)
{
	return strcmp(k, "password") == 0 || strcmp(k, "secret_id") == 0 || strcmp(k, "jwt") == 0 ||
	       strcmp(k, "token") == 0;
}

/* Reads a secret typed at a prompt ("Password (will be hidden): "). Returns a
 * new JSON string (wiped when freed: jsonx_init) or NULL after an error. */
static json_t *
prompt_secret(const char *what)
{
	char prompt[128], buf[SECRET_MAX];
	json_t *v;

	snprintf(prompt, sizeof(prompt), "%s (will be hidden): ", what);
	if (cli_read_secret_line(prompt, buf, sizeof(buf)) < 0) {
		secmem_wipe(buf, sizeof(buf));
		cli_err("no %s given", what);
		return NULL;
	}
	v = json_string(buf);
	secmem_wipe(buf, sizeof(buf));
	if (!v)
		cli_err("%s is not valid UTF-8", what);
	return v;
}

/* KEY=VALUE operands into params: VALUE "-" prompts, "@FILE" reads FILE (one
 * trailing newline dropped, as in a saved JWT). Returns 0 or CLI_EXIT_ERROR. */
static int
parse_operands(int argc, char **argv, json_t *params)
{
	char err[512];

	for (int i = 0; i < argc; i++) {
		char *a = argv[i], *eq = strchr(a, '='), *key, *text = NULL;
		const char *val;
		size_t len = 0;
		json_t *v;

		if (!eq || eq == a)
			return cli_usage_err("expected KEY=VALUE, got \"%s\"", a);
		key = strndup(a, (size_t)(eq - a));
		if (!key)
			cli_oom();
		val = eq + 1;
		if (strcmp(val, "-") == 0) {
			v = prompt_secret(strcmp(key, "password") == 0 ? "Password" : key);
		} else if (val[0] == '@') {
			if (args_read_file(val + 1, &text, &len, err, sizeof(err)) < 0) {
				cli_err("%s", err);
				free(key); /* not secret: the name of a KEY=VALUE operand */
				return CLI_EXIT_ERROR;
			}
			while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
				text[--len] = '\0';
			v = json_stringn(text, len);
			secmem_free(text, len);
			if (!v)
				cli_err("%s: not valid UTF-8", val + 1);
		} else {
			v = json_string(val);
			if (!v)
				cli_err("value of %s is not valid UTF-8", key);
		}
		if (secret_key(key))
			secmem_wipe(eq + 1, strlen(eq + 1));
		if (!v) {
			free(key); /* not secret: the name of a KEY=VALUE operand */
			return CLI_EXIT_ERROR;
		}
		cli_json_set(params, key, v);
		free(key); /* not secret: the name of a KEY=VALUE operand */
	}
	return 0;
}

/* Writes the token to ~/.coffer-token (mode 0600, replaced atomically).
 * Returns 0 or CF_EIO after printing the error. */
static int
store_token(const char *token)
{
	char path[4096], tmp[4200];
	const char *home = getenv("HOME");
	struct passwd *pw;
	size_t len = strlen(token);
	int fd, w;

	if (!home || !*home) {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	w = home ? snprintf(path, sizeof(path), "%s" TOKEN_FILE, home) : -1;
	if (w < 0 || (size_t)w >= sizeof(path)) {
		cli_err("cannot find the home directory to store the token");
		return CF_EIO;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		cli_err("cannot store the token in %s: %s", path, strerror(errno));
		return CF_EIO;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, token, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		cli_err("cannot store the token in %s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return CF_EIO;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		cli_err("cannot store the token in %s: %s", path, strerror(errno));
		unlink(tmp);
		return CF_EIO;
	}
	return 0;
}

/* "auth/<mount>/<suffix>" for a --path value ("userpass", "/team/up/"). */
static char *
api_path(const char *mount, const char *suffix)
{
	char *p, *out;
	size_t n;

	while (*mount == '/')
		mount++;
	p = cli_strdup(mount);
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = '\0';
	if (n > 5 && strncmp(p, "auth/", 5) == 0)
		memmove(p, p + 5, n - 4);
	n = strlen(p) + strlen(suffix) + sizeof("auth//");
	out = malloc(n);
	if (!out)
		cli_oom();
	snprintf(out, n, "auth/%s/%s", p, suffix);
	free(p);
	return out;
}

/* Moves params[key] out (a new reference), or NULL when absent. */
static json_t *
take(json_t *params, const char *key)
{
	json_t *v = json_object_get(params, key);

	if (!v)
		return NULL;
	json_incref(v);
	json_object_del(params, key);
	return v;
}

/* --method=token: checks the token with lookup-self and answers an auth block
 * built from what the lookup says, so it prints and is stored like a login. */
static int
token_login(json_t *params, json_t **ret)
{
	struct client_resp resp = {0};
	struct client *c = NULL;
	json_t *tok = json_object_get(params, "token"), *d, *auth;
	char err[512] = "";
	int r;

	if (json_object_size(params) > (tok ? 1u : 0u))
		return cli_usage_err("--method=token takes only TOKEN");
	if (!tok) {
		tok = prompt_secret("Token");
		if (!tok)
			return CF_EINVAL;
		cli_json_set(params, "token", tok);
	}
	if (!json_is_string(tok) || json_string_length(tok) == 0)
		return cli_usage_err("missing TOKEN");
	r = client_new(arg_address, json_string_value(tok), &c, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err[0] ? err : cf_strerror(r));
		return r;
	}
	r = cli_call(c, "GET", "auth/token/lookup-self", NULL, NULL, &resp);
	client_free(c);
	if (r < 0)
		return r;
	d = json_object_get(resp.json, "data");
	auth = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "client_token", tok, "accessor",
	                 json_object_get(d, "accessor") ?: json_null(), "policies",
	                 json_object_get(d, "policies") ?: json_null(), "token_policies",
	                 json_object_get(d, "policies") ?: json_null(), "lease_duration",
	                 json_object_get(d, "ttl") ?: json_null(), "renewable",
	                 json_object_get(d, "renewable") ?: json_false());
	if (!auth)
		cli_oom();
	if (json_is_object(json_object_get(d, "meta")))
		cli_json_set(auth, "metadata", json_incref(json_object_get(d, "meta")));
	*ret = json_pack("{s:o}", "auth", auth);
	if (!*ret)
		cli_oom();
	client_resp_clear(&resp);
	return 0;
}

/* Performs the login of method; on success *ret is the answer. */
static int
do_login(const char *method, const char *mount, json_t *params, json_t **ret)
{
	struct client_resp resp = {0};
	json_t *user = NULL, *pw = NULL;
	char *path = NULL, *seg = NULL;
	size_t n;
	int r;

	if (strcmp(method, "token") == 0)
		return token_login(params, ret);
	if (strcmp(method, "userpass") == 0 || strcmp(method, "srp") == 0) {
		user = take(params, "username");
		if (!json_is_string(user) || json_string_length(user) == 0) {
			json_decref(user);
			return cli_usage_err("missing username=NAME");
		}
		if (!json_object_get(params, "password")) {
			pw = prompt_secret("Password");
			if (!pw) {
				json_decref(user);
				return CF_EINVAL;
			}
			cli_json_set(params, "password", pw);
		}
		if (strcmp(method, "srp") == 0) {
			char *m = api_path(mount, ""), *p;
			/* login_srp wants the bare mount: "auth/srp/" -> "srp" */
			m[strlen(m) - 1] = '\0';
			p = m + 5;
			r = login_srp(p, json_string_value(user),
			              json_string_value(json_object_get(params, "password")), ret);
			free(m);
			json_decref(user);
			return r;
		}
		n = json_string_length(user) + sizeof("login/");
		seg = malloc(n);
		if (!seg)
			cli_oom();
		snprintf(seg, n, "login/%s", json_string_value(user));
		path = api_path(mount, seg);
	} else if (strcmp(method, "approle") == 0) {
		if (!json_is_string(json_object_get(params, "role_id"))) {
			return cli_usage_err("missing role_id=ID");
		}
		path = api_path(mount, "login");
	} else if (strcmp(method, "jwt") == 0) {
		if (!json_is_string(json_object_get(params, "jwt"))) {
			return cli_usage_err("missing jwt=TOKEN (or jwt=@FILE, jwt=-)");
		}
		path = api_path(mount, "login");
	} else {
		return cli_usage_err("unknown --method \"%s\" (token, userpass, approle, jwt, srp)",
		                     method);
	}
	r = cli_request("POST", path, NULL, params, &resp);
	if (r == 0 && !json_is_object(json_object_get(resp.json, "auth"))) {
		cli_err("the server answered without a token");
		r = CF_EIO;
	}
	if (r == 0) {
		*ret = resp.json;
		resp.json = NULL;
	}
	client_resp_clear(&resp);
	json_decref(user);
	free(seg);
	free(path);
	return r;
}

int
login_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"method", required_argument, NULL, OPT_METHOD},
	        {"path", required_argument, NULL, OPT_PATH},
	        {"no-store", no_argument, NULL, OPT_NO_STORE},
	        {"field", required_argument, NULL, OPT_FIELD},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	const char *method = NULL, *mount = NULL, *field = NULL, *token;
	json_t *params, *answer = NULL, *fields;
	bool store = true;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, login_usage)) != -1) {
		switch (o) {
		case OPT_METHOD:
			method = optarg;
			break;
		case OPT_PATH:
			mount = optarg;
			break;
		case OPT_NO_STORE:
			store = false;
			break;
		case OPT_FIELD:
			field = optarg;
			break;
		}
	}
	if (!method)
		method = "token";
	if (!mount)
		mount = method;
	params = json_object();
	if (!params)
		cli_oom();
	if (strcmp(method, "token") == 0 && optind + 1 == argc && !strchr(argv[optind], '=')) {
		/* coffer login TOKEN (or -), as vault login */
		if (strcmp(argv[optind], "-") == 0) {
			optind++;
		} else {
			cli_json_set(params, "token", json_string(argv[optind]));
			secmem_wipe(argv[optind], strlen(argv[optind]));
			optind++;
		}
	}
	if (parse_operands(argc - optind, argv + optind, params) != 0) {
		json_decref(params);
		return CLI_EXIT_ERROR;
	}
	r = do_login(method, mount, params, &answer);
	json_decref(params);
	if (r == CLI_EXIT_ERROR)
		return r; /* usage error, already reported */
	if (r < 0)
		return cli_exit(r);
	token = json_string_value(json_object_get(json_object_get(answer, "auth"), "client_token"));
	if (store && token) {
		r = store_token(token);
		if (r < 0)
			goto out;
		if (getenv("COFFER_TOKEN") || getenv("VAULT_TOKEN"))
			fprintf(stderr, "WARNING: COFFER_TOKEN or VAULT_TOKEN is set: it takes "
			                "precedence over the stored token.\n");
	}
	if (field) {
		fields = output_auth_fields(json_object_get(answer, "auth"));
		r = output_field(fields, field);
		json_decref(fields);
		if (r < 0)
			cli_err("field \"%s\" not present in the answer", field);
		goto out;
	}
	if (store)
		cli_success("Success! You are now authenticated. The token below is stored in "
		            "~/.coffer-token;\nfuture commands use it.\n");
	else
		cli_success("Success! You are now authenticated (the token was not stored).\n");
	cli_print(answer, output_secret);
out:
	json_decref(answer);
	return cli_exit(r);
}
