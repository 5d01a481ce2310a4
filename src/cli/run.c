/* run.c - coffer run: runs a command with variables from .env files, server
 * secrets and the parent environment, masking every secret in its output
 * (docs/env.md "coffer run").
 *
 * This file parses the command line and assembles the environment; the child
 * itself is supervised in run_child.c and --watch follows events in
 * run_watch.c. Order (later wins): the parent environment, then each -f file
 * in turn where a key is not yet set (with --override: every key, later files
 * winning), then each --path in turn (always winning). */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/kvpath.h"
#include "cli/run_int.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "tools/env/dotenv.h"
#include "tools/env/dotenvx.h"
#include "tools/env/schema.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

extern char **environ;

enum {
	OPT_PATH = CLI_OPT_LOCAL,
	OPT_SCHEMA,
	OPT_NO_MASK,
	OPT_WATCH,
	OPT_SIGNAL,
};

static const char run_usage[] =
        "Usage: coffer run [-f FILE ...] [--path=MOUNT/PATH ...] [--schema=FILE]\n"
        "                  [--no-mask] [--override] [--watch [--signal=SIG]]\n"
        "                  -- COMMAND [ARGS ...]\n\n"
        "Runs COMMAND with variables from .env files, server secrets and the parent\n"
        "environment. Every secret value (from the server, encrypted in a file, or\n"
        "marked \"secret\": true by the schema) is replaced by ***** in the command's\n"
        "output. The exit status is the command's (128 + N when signal N ended it).\n\n"
        "  -f, --file=FILE        a .env file (repeatable; the first to set a key wins)\n"
        "  --path=MOUNT/PATH      a KV secret whose keys become variables (repeatable);\n"
        "                         rotation:JOB reads the secret the rotation job JOB rotates\n"
        "  --schema=FILE          check the environment against this env schema first\n"
        "                         (exit 1 when it fails); its \"secret\": true variables\n"
        "                         are masked\n"
        "  -o, --override         file values override the parent environment\n"
        "  --no-mask              no masking: the command writes to the terminal directly\n"
        "  --watch                restart COMMAND when a --path secret is rotated\n"
        "  --signal=SIG           with --watch: send SIG (HUP, USR1, ...) instead\n";

/* ---- the secret list ---- */

void
run_secrets_add(struct run_secrets *s, const char *v, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	for (i = 0; i < s->n; i++)
		if (s->lens[i] == len && memcmp(s->v[i], v, len) == 0)
			return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			cli_oom();
		s->v = nv;
		size_t *nl = realloc(s->lens, cap * sizeof(*nl));
		if (!nl)
			cli_oom();
		s->lens = nl;
		s->cap = cap;
	}
	s->v[s->n] = malloc(len + 1);
	if (!s->v[s->n])
		cli_oom();
	memcpy(s->v[s->n], v, len);
	s->v[s->n][len] = '\0';
	s->lens[s->n] = len;
	s->n++;
}

void
run_secrets_clear(struct run_secrets *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		secmem_free(s->v[i], s->lens[i] + 1);
	free(s->v);
	free(s->lens);
	memset(s, 0, sizeof(*s));
}

/* ---- the environment being assembled: "KEY=VALUE" strings ---- */

struct envset {
	char **kv; /* NULL-terminated once built */
	size_t n, cap;
};

static ssize_t
envset_find(const struct envset *e, const char *key, size_t klen)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strncmp(e->kv[i], key, klen) == 0 && e->kv[i][klen] == '=')
			return (ssize_t)i;
	return -1;
}

/* Sets key[0, klen) to value: replaces an existing one only when replace is set. */
static void
envset_putn(struct envset *e, const char *key, size_t klen, const char *value, size_t vlen,
            bool replace)
{
	ssize_t at = envset_find(e, key, klen);
	char *s;

	if (at >= 0 && !replace)
		return;
	s = malloc(klen + vlen + 2);
	if (!s)
		cli_oom();
	memcpy(s, key, klen);
	s[klen] = '=';
	memcpy(s + klen + 1, value, vlen);
	s[klen + 1 + vlen] = '\0';
	if (at >= 0) {
		secmem_free_str(e->kv[at]);
		e->kv[at] = s;
		return;
	}
	if (e->n + 1 >= e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		char **nv = realloc(e->kv, cap * sizeof(*nv));
		if (!nv)
			cli_oom();
		e->kv = nv;
		e->cap = cap;
	}
	e->kv[e->n++] = s;
	e->kv[e->n] = NULL;
}

static void
envset_put(struct envset *e, const char *key, const char *value, size_t vlen, bool replace)
{
	envset_putn(e, key, strlen(key), value, vlen, replace);
}

void
run_envp_free(char **envp)
{
	size_t i;

	if (!envp)
		return;
	for (i = 0; envp[i]; i++)
		secmem_free_str(envp[i]);
	free(envp);
}

static void
envset_free(struct envset *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		secmem_free_str(e->kv[i]);
	free(e->kv);
	memset(e, 0, sizeof(*e));
}

/* A variable name the child can receive: not empty, no '=' (nor NUL). */
static bool
env_name_ok(const char *k)
{
	return *k != '\0' && !strchr(k, '=');
}

/* ---- .env files ---- */

/* Decrypts the file's encrypted: values in place (the private key from
 * DOTENV_PRIVATE_KEY[_ENV] in coffer's environment, else the .env.keys beside
 * the file, as dotenvx finds it); encrypted[i] is set for each. */
static int
file_decrypt(const char *file, struct dotenv *d, bool *encrypted)
{
	char err[512];
	size_t i;
	bool any = false;
	int r;

	for (i = 0; i < d->n; i++) {
		if (strncmp(d->v[i].value, DOTENVX_PREFIX, strlen(DOTENVX_PREFIX)) == 0) {
			encrypted[i] = true;
			any = true;
		}
	}
	if (!any)
		return 0;
	r = dotenvx_decrypt_values(d, file, environ, err, sizeof(err));
	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0)
		cli_err("%s", err);
	return r;
}

/* Whether value refers to key: $KEY, or ${KEY} with or without an operator. */
static bool
refers_to(const char *value, const char *key)
{
	size_t kl = strlen(key);
	const char *p, *q;
	char c;

	for (p = strchr(value, '$'); p; p = strchr(p + 1, '$')) {
		if (p > value && p[-1] == '\\')
			continue;
		q = p[1] == '{' ? p + 2 : p + 1;
		if (strncmp(q, key, kl) != 0)
			continue;
		c = q[kl];
		if (q == p + 2 ? strchr("}:-+", c) != NULL && c != '\0'
		               : !(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		                   (c >= 'A' && c <= 'Z')))
			return true;
	}
	return false;
}

/* With --override, KEY=...${KEY}... extends the value set before (as dotenvx
 * --overload does; the file's own KEY would be a loop): such a value is
 * expanded against what is set, then kept literal (each $ escaped) in the pass
 * over the file. */
static int
file_self_refs(struct dotenv *d, const struct envset *e, char *err, size_t errlen)
{
	size_t i, j, n;
	char *esc;
	int r = 0;

	for (i = 0; i < d->n && r == 0; i++) {
		struct dotenv one = {0};
		const struct dotenv_entry *x = &d->v[i];

		if (x->span.quote == '\'' || envset_find(e, x->key, strlen(x->key)) < 0 ||
		    !refers_to(x->value, x->key))
			continue;
		r = dotenv_set(&one, " self", x->value, x->value_len);
		if (r == 0)
			r = dotenv_expand(&one, e->kv, err, errlen);
		if (r == 0) {
			esc = malloc(one.v[0].value_len * 2 + 1);
			if (!esc)
				cli_oom();
			for (j = n = 0; j < one.v[0].value_len; j++) {
				if (one.v[0].value[j] == '$')
					esc[n++] = '\\';
				esc[n++] = one.v[0].value[j];
			}
			r = dotenv_set(d, x->key, esc, n);
			secmem_free(esc, one.v[0].value_len * 2 + 1);
		}
		dotenv_free(&one);
	}
	return r;
}

/* Expands the file's values as dotenvx run does (after decryption; values in
 * single quotes stay literal): a reference resolves to what is set already
 * (the parent environment and the files before), or with --override first to
 * this file's own values (but KEY=${KEY}:x to the value before). */
static int
file_expand(const char *file, struct dotenv *d, const struct envset *e, bool override)
{
	struct dotenv literal = {0};
	char **view, err[512];
	size_t i, n = 0;
	int r = 0;

	for (i = 0; i < d->n && r == 0; i++)
		if (d->v[i].span.quote == '\'')
			r = dotenv_set(&literal, d->v[i].key, d->v[i].value, d->v[i].value_len);
	if (r == 0 && override)
		r = file_self_refs(d, e, err, sizeof(err));
	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0) {
		cli_err("%s: %s", file, err);
		dotenv_free(&literal);
		return r;
	}
	view = calloc(e->n + 1, sizeof(*view));
	if (!view)
		cli_oom();
	for (i = 0; i < e->n; i++) {
		if (override) {
			char *eq = strchr(e->kv[i], '=');
			bool own;
			*eq = '\0';
			own = dotenv_find(d, e->kv[i]) != NULL;
			*eq = '=';
			if (own)
				continue;
		}
		view[n++] = e->kv[i];
	}
	r = dotenv_expand(d, view, err, sizeof(err));
	free(view);
	for (i = 0; i < literal.n && r == 0; i++)
		r = dotenv_set(d, literal.v[i].key, literal.v[i].value, literal.v[i].value_len);
	dotenv_free(&literal);
	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0)
		cli_err("%s: %s", file, err);
	return r;
}

/* Reads one -f file into e (see the order at the top). */
static int
file_apply(const char *file, struct envset *e, bool override, struct run_secrets *secrets)
{
	struct dotenv d = {0};
	bool *encrypted = NULL;
	char err[512];
	size_t i;
	int r;

	r = dotenv_parse_file(file, &d, err, sizeof(err));
	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0) {
		cli_err("%s", err);
		goto out;
	}
	encrypted = calloc(d.n + 1, sizeof(*encrypted));
	if (!encrypted)
		cli_oom();
	r = file_decrypt(file, &d, encrypted);
	if (r == 0)
		r = file_expand(file, &d, e, override);
	if (r < 0)
		goto out;
	for (i = 0; i < d.n; i++) {
		if (!env_name_ok(d.v[i].key)) {
			cli_err("%s: line %zu: \"%s\" cannot be a variable name", file,
			        d.v[i].span.line, d.v[i].key);
			r = CF_EINVAL;
			goto out;
		}
		if (encrypted[i])
			run_secrets_add(secrets, d.v[i].value, d.v[i].value_len);
		envset_put(e, d.v[i].key, d.v[i].value, d.v[i].value_len, override);
	}
out:
	free(encrypted);
	dotenv_free(&d);
	return r;
}

/* ---- server secrets ---- */

/* GET path; 0 with resp filled for a 2xx answer, else the error printed. */
static int
api_get(struct client *c, const char *path, struct client_resp *resp)
{
	char err[1024];
	int r;

	r = client_request(c, "GET", path, NULL, NULL, resp, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err);
		return r;
	}
	if (resp->status < 200 || resp->status > 299) {
		client_resp_error(resp, path, err, sizeof(err));
		cli_err("%s", err);
		r = resp->status == 404 ? CF_ENOTFOUND : CF_EIO;
		client_resp_clear(resp);
		return r;
	}
	return 0;
}

/* Sets src->mount and src->path from "MOUNT/PATH" (the mount as sys/mounts
 * knows it, else the first segment). */
static int
source_resolve_kv(struct client *c, struct run_source *src)
{
	struct client_resp resp = {0};
	char err[1024], *clean;
	int r;

	clean = kvpath_clean(src->arg, false);
	if (!clean)
		cli_oom();
	r = client_request(c, "GET", "sys/mounts", NULL, NULL, &resp, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err);
		goto out;
	}
	if (resp.status >= 200 && resp.status < 300) {
		r = kvpath_mount_lookup(resp.json, clean, &src->mount, &src->version);
		if (r == CF_ENOMEM)
			cli_oom();
		if (r < 0) {
			cli_err("%s: no secrets engine is mounted there", src->arg);
			goto out;
		}
	} else {
		/* no read on sys/mounts: KV v2 at the first segment, as `coffer kv` */
		size_t n = strcspn(clean, "/");
		src->mount = malloc(n + 2);
		if (!src->mount)
			cli_oom();
		memcpy(src->mount, clean, n);
		memcpy(src->mount + n, "/", 2);
		src->version = 2;
	}
	src->path = cli_strdup(kvpath_rest(src->mount, clean));
	r = 0;
	if (src->path[0] == '\0') {
		cli_err("%s: name a secret below the mount %s", src->arg, src->mount);
		r = CF_EINVAL;
	}
out:
	client_resp_clear(&resp);
	free(clean);
	return r;
}

/* Sets src->mount/path (kv) or src->mount/role (database) from the job. */
static int
source_resolve_job(struct client *c, struct run_source *src)
{
	struct client_resp resp = {0};
	const char *target, *mount, *path;
	char api[600];
	json_t *data;
	int r;

	if ((size_t)snprintf(api, sizeof(api), "sys/rotation/jobs/%s", src->job) >= sizeof(api)) {
		cli_err("%s: the job name is too long", src->arg);
		return CF_EINVAL;
	}
	r = api_get(c, api, &resp);
	if (r < 0)
		return r;
	data = client_resp_data(&resp);
	target = json_string_value(json_object_get(data, "target"));
	mount = json_string_value(json_object_get(data, "mount"));
	path = json_string_value(json_object_get(data, "path"));
	if (!target || !mount || !path) {
		cli_err("%s: the job's status has no target, mount or path", src->arg);
		r = CF_EINVAL;
		goto out;
	}
	if (strcmp(target, "kv") != 0 && strcmp(target, "database") != 0) {
		cli_err("%s: the job rotates a %s target, which has no value to inject (kv and "
		        "database jobs do)",
		        src->arg, target);
		r = CF_EUNSUPPORTED;
		goto out;
	}
	src->mount = kvpath_clean(mount, false);
	src->path = kvpath_clean(path, false);
	if (!src->mount || !src->path)
		cli_oom();
	/* mounts are kept with their trailing '/', as sys/mounts lists them */
	{
		size_t n = strlen(src->mount);
		char *m = realloc(src->mount, n + 2);
		if (!m)
			cli_oom();
		memcpy(m + n, "/", 2);
		src->mount = m;
	}
	if (strcmp(target, "database") == 0)
		src->role = cli_strdup(src->path);
	src->version = 2; /* kv jobs rotate KV v2 secrets */
out:
	client_resp_clear(&resp);
	return r;
}

/* Reads one --path and puts each of its keys into e (replacing), marking every
 * value secret. */
static int
source_apply(struct client *c, struct run_source *src, struct envset *e,
             struct run_secrets *secrets)
{
	struct client_resp resp = {0};
	const char *key;
	char *api = NULL;
	json_t *data, *v;
	int r;

	if (src->role)
		api = kvpath_join(src->mount, "static-creds", src->role);
	else
		api = kvpath_join(src->mount, src->version == 2 ? "data" : "", src->path);
	if (!api)
		cli_oom();
	r = api_get(c, api, &resp);
	if (r < 0)
		goto out;
	data = json_object_get(resp.json, "data");
	if (src->version == 2 && !src->role)
		data = json_object_get(data, "data");
	if (!json_is_object(data)) {
		cli_err("%s: no secret data there", src->arg);
		r = CF_ENOTFOUND;
		goto out;
	}
	json_object_foreach(data, key, v)
	{
		char *text = NULL;
		const char *s;
		size_t len;

		/* static-creds also answers ttl, rotation_period, last_vault_rotation:
		 * not secrets, and masking "3600" would hide ordinary output */
		if (src->role && strcmp(key, "username") != 0 && strcmp(key, "password") != 0)
			continue;
		if (!env_name_ok(key)) {
			cli_err("%s: the key \"%s\" cannot be a variable name", src->arg, key);
			r = CF_EINVAL;
			goto out;
		}
		if (json_is_string(v)) {
			s = json_string_value(v);
			len = json_string_length(v);
		} else {
			/* numbers, booleans, objects: their JSON text, as `kv get --field` */
			text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			if (!text)
				cli_oom();
			s = text;
			len = strlen(text);
		}
		if (memchr(s, '\0', len)) {
			cli_err("%s: the value of %s has a NUL byte, which an environment "
			        "variable cannot hold",
			        src->arg, key);
			secmem_free_str(text);
			r = CF_EINVAL;
			goto out;
		}
		envset_put(e, key, s, len, true);
		run_secrets_add(secrets, s, len);
		secmem_free_str(text);
	}
out:
	free(api);
	client_resp_clear(&resp);
	return r;
}

int
run_sources_resolve(struct run_opts *o, struct client *c)
{
	size_t i;
	int r;

	for (i = 0; i < o->nsources; i++) {
		struct run_source *src = &o->sources[i];
		r = src->job ? source_resolve_job(c, src) : source_resolve_kv(c, src);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Checks the environment against the schema (its defaults filled in first,
 * as `coffer env check` does) and adds the values of the variables it marks
 * "secret": true. A failed check prints one line per failure and sets
 * o->schema_failed. */
static int
schema_apply(struct run_opts *o, struct envset *e, struct run_secrets *secrets)
{
	struct schema_report rep = {0};
	struct dotenv d = {0};
	struct schema *s = NULL;
	const struct dotenv_entry *de;
	char err[512];
	size_t i, n;
	int r;

	r = schema_load_file(o->schema, &s, err, sizeof(err));
	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0) {
		cli_err("--schema: %s", err);
		return r;
	}
	for (i = 0; i < e->n && r == 0; i++) {
		char *eq = strchr(e->kv[i], '=');
		*eq = '\0';
		r = dotenv_set(&d, e->kv[i], eq + 1, strlen(eq + 1));
		*eq = '=';
	}
	if (r == 0)
		r = schema_apply_defaults(s, &d, &rep);
	for (i = 0; r == 0 && i < rep.ndefaulted; i++) {
		de = dotenv_find(&d, rep.defaulted[i]);
		if (de)
			envset_put(e, de->key, de->value, de->value_len, false);
	}
	if (r == 0)
		r = schema_check(s, &d, &rep);
	if (r == CF_ENOMEM)
		cli_oom();
	for (i = 0; i < rep.nfail; i++)
		cli_err("--schema: %s: %s (%s)", rep.fail[i].var, rep.fail[i].message,
		        rep.fail[i].rule);
	if (rep.nfail > 0)
		o->schema_failed = true;
	n = schema_var_count(s);
	for (i = 0; i < n; i++) {
		const char *name = schema_var_name(s, i);
		if (!schema_is_secret(s, name))
			continue;
		de = dotenv_find(&d, name);
		if (de)
			run_secrets_add(secrets, de->value, de->value_len);
	}
	schema_report_free(&rep);
	dotenv_free(&d);
	schema_free(s);
	return o->schema_failed ? CF_EINVAL : 0;
}

int
run_env_build(struct run_opts *o, struct client *c, char ***ret_envp, struct run_secrets *secrets)
{
	struct run_secrets found = {0};
	struct envset e = {0};
	size_t i;
	char **p;
	int r = 0;

	for (p = environ; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		if (eq && eq != *p)
			envset_putn(&e, *p, (size_t)(eq - *p), eq + 1, strlen(eq + 1), false);
	}
	for (i = 0; i < o->nfiles && r == 0; i++)
		r = file_apply(o->files[i], &e, o->override, &found);
	for (i = 0; i < o->nsources && r == 0; i++)
		r = source_apply(c, &o->sources[i], &e, &found);
	if (r == 0 && o->schema)
		r = schema_apply(o, &e, &found);
	if (r < 0)
		goto out;
	if (!e.kv) {
		e.kv = calloc(1, sizeof(*e.kv));
		if (!e.kv)
			cli_oom();
	}
	for (i = 0; i < found.n; i++)
		run_secrets_add(secrets, found.v[i], found.lens[i]);
	*ret_envp = e.kv;
	memset(&e, 0, sizeof(e));
out:
	run_secrets_clear(&found);
	envset_free(&e);
	return r;
}

/* ---- the command line ---- */

static const struct {
	const char *name;
	int sig;
} signals[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"TERM", SIGTERM},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}, {"KILL", SIGKILL},
        {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
};

/* "HUP", "SIGHUP", "hup" or a number; 0 when it names no signal. */
static int
signal_parse(const char *s)
{
	size_t i;
	char *end;
	long n;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].sig;
	if (*s < '0' || *s > '9')
		return 0;
	n = strtol(s, &end, 10);
	if (*end != '\0' || n < 1 || n >= NSIG)
		return 0;
	return (int)n;
}

static int
parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
	        {"file", required_argument, NULL, 'f'},
	        {"path", required_argument, NULL, OPT_PATH},
	        {"schema", required_argument, NULL, OPT_SCHEMA},
	        {"no-mask", no_argument, NULL, OPT_NO_MASK},
	        {"override", no_argument, NULL, 'o'},
	        {"overload", no_argument, NULL, 'o'}, /* dotenvx's name */
	        {"watch", no_argument, NULL, OPT_WATCH},
	        {"signal", required_argument, NULL, OPT_SIGNAL},
	        CLI_HELP_OPTION, /* no --format: the output is the command's */
	        CLI_SERVER_OPTIONS,
	        {0},
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:hf:o", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_help(opts, run_usage);
			cli_cleanup();
			exit(CLI_EXIT_OK);
		case ':':
			return cli_usage_err("option %s needs a value", argv[optind - 1]);
		case '?':
			return cli_usage_err("unknown option %s", argv[optind - 1]);
		case 'f':
			o->files[o->nfiles++] = optarg;
			break;
		case 'o':
			o->override = true;
			break;
		case OPT_PATH: {
			struct run_source *s = &o->sources[o->nsources++];
			memset(s, 0, sizeof(*s));
			s->arg = optarg;
			if (strncmp(optarg, "rotation:", 9) == 0) {
				s->job = optarg + 9;
				if (*s->job == '\0' || strchr(s->job, '/'))
					return cli_usage_err(
					        "--path=rotation:JOB needs a job name");
			} else if (optarg[strspn(optarg, "/")] == '\0') {
				return cli_usage_err("--path needs MOUNT/PATH");
			}
			break;
		}
		case OPT_SCHEMA:
			o->schema = optarg;
			break;
		case OPT_NO_MASK:
			o->no_mask = true;
			break;
		case OPT_WATCH:
			o->watch = true;
			break;
		case OPT_SIGNAL:
			o->signal = signal_parse(optarg);
			if (o->signal == 0)
				return cli_usage_err("--signal: unknown signal \"%s\"", optarg);
			break;
		default:
			cli_common_option(opt, optarg);
			break;
		}
	}
	if (optind >= argc)
		return cli_usage_err(
		        "missing COMMAND (coffer run [options] -- COMMAND [ARGS ...])");
	if (o->signal && !o->watch)
		return cli_usage_err("--signal needs --watch");
	if (o->watch && o->nsources == 0)
		return cli_usage_err("--watch needs a --path to follow");
	o->argv = argv + optind;
	return 0;
}

int
run_main(int argc, char **argv)
{
	struct run_opts o = {0};
	struct run_secrets secrets = {0};
	struct client *c = NULL, *wc = NULL;
	char **envp = NULL;
	int r, status = CLI_EXIT_ERROR, watch_fd = -1;
	size_t i;

	cli_set_command("run", NULL);
	/* at most argc of each: every option could be one */
	o.files = calloc((size_t)argc, sizeof(*o.files));
	o.sources = calloc((size_t)argc, sizeof(*o.sources));
	if (!o.files || !o.sources)
		cli_oom();
	if (parse_args(argc, argv, &o) != 0)
		goto out;
	run_signals_block();
	if (o.nsources > 0) {
		r = cli_client(&c);
		if (r == 0)
			r = run_sources_resolve(&o, c);
		if (r < 0)
			goto out;
	}
	if (o.watch) {
		/* Subscribe before the first read: a rotation after it is never missed. */
		r = cli_client(&wc);
		if (r < 0)
			goto out;
		r = run_watch_start(&o, wc, &watch_fd);
		wc = NULL; /* the watcher owns it now */
		if (r < 0)
			goto out;
	}
	r = run_env_build(&o, c, &envp, &secrets);
	if (r < 0) {
		if (o.schema_failed)
			status = CLI_EXIT_FINDING; /* a failed check, as `coffer env check` */
		goto out;
	}
	status = run_supervise(&o, c, envp, &secrets, watch_fd);
	envp = NULL;
out:
	run_envp_free(envp);
	run_secrets_clear(&secrets);
	client_free(wc);
	client_free(c);
	for (i = 0; i < o.nsources; i++) {
		free(o.sources[i].mount);
		free(o.sources[i].path);
		free(o.sources[i].role);
	}
	free(o.sources);
	free(o.files);
	if (watch_fd >= 0) {
		/* The watcher thread is inside a transfer: end the process here rather
		 * than let main() clean libcurl up under it. */
		cli_cleanup();
		fflush(stdout);
		_exit(status);
	}
	return status;
}
