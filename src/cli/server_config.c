/* server_config.c - `coffer server --config=FILE`: Vault's server config file
 * shape (HCL), checked key by key and mapped onto the server's settings.
 *
 * The file is parsed by lib/hcl (which also hands back the line of every key),
 * then walked against a fixed list of keys per block: anything else is an
 * error naming FILE:LINE, as is a value of the wrong type. Storage blocks become
 * the same spec strings --storage takes, so there is one way to open storage. */
#include "cli/server_config.h"
#include "lib/buf.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/hcl.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_FILE    (1u << 20)
#define CONFIG_MAX_BODY    (1ull << 40) /* largest max_request_size accepted */
#define CONFIG_MAX_CONNS   1000         /* largest postgres max_connections accepted */
#define CONFIG_MAX_ADDRLEN 1024

/* What the walk needs: the file name, the line table and the error buffer. */
struct cfg {
	const char *name;
	json_t *lines;
	char *err;
	size_t errlen;
};

/* The line of path ("listener/tcp/address"), or of the nearest enclosing key
 * recorded, or 0. */
static unsigned
cfg_line(const struct cfg *c, const char *path)
{
	char p[256];
	char *slash;

	snprintf(p, sizeof(p), "%s", path);
	for (;;) {
		json_t *l = json_object_get(c->lines, p);
		if (json_is_integer(l))
			return (unsigned)json_integer_value(l);
		slash = strrchr(p, '/');
		if (slash == NULL)
			return 0;
		*slash = '\0';
	}
}

/* Writes "NAME:LINE: msg" for the key at path; returns CF_EINVAL. */
static int __attribute__((format(printf, 3, 4)))
cfg_fail(const struct cfg *c, const char *path, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%u: %s", c->name, cfg_line(c, path), msg);
	return CF_EINVAL;
}

/* Joins prefix and key into buf, the path cfg_line looks up. */
static const char *
cfg_path(char *buf, size_t size, const char *prefix, const char *key)
{
	snprintf(buf, size, "%s%s%s", prefix, *prefix ? "/" : "", key);
	return buf;
}

/* Refuses any key of obj not in keys (NULL-terminated). */
static int
cfg_known(const struct cfg *c, json_t *obj, const char *prefix, const char *what,
          const char *const *keys)
{
	const char *k;
	json_t *v;
	char p[256];

	json_object_foreach(obj, k, v)
	{
		size_t i;
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (keys[i] == NULL)
			return cfg_fail(c, cfg_path(p, sizeof(p), prefix, k),
			                "unknown key \"%s\" in %s", k, what);
	}
	return 0;
}

/* A string value (a copy in *ret); NULL when the key is absent. */
static int
cfg_string(const struct cfg *c, json_t *obj, const char *prefix, const char *key, char **ret)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return cfg_fail(c, cfg_path(p, sizeof(p), prefix, key), "%s must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return cfg_fail(c, p, "%s holds a NUL byte", key);
	free(*ret);
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : CF_ENOMEM;
}

/* A boolean: true/false, or as Vault also takes, "true"/"false", 1/0, "1"/"0". */
static int
cfg_bool(const struct cfg *c, json_t *obj, const char *prefix, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);
	char p[256];
	const char *s;

	if (v == NULL)
		return 0;
	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
		*ret = json_integer_value(v) == 1;
		return 0;
	}
	s = json_string_value(v);
	if (s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)) {
		*ret = true;
		return 0;
	}
	if (s && (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)) {
		*ret = false;
		return 0;
	}
	return cfg_fail(c, cfg_path(p, sizeof(p), prefix, key), "%s must be true or false", key);
}

/* A whole number in [min, max], written as a number or a string of digits. */
static int
cfg_int(const struct cfg *c, json_t *obj, const char *prefix, const char *key, int64_t min,
        int64_t max, int64_t *ret)
{
	json_t *v = json_object_get(obj, key);
	char p[256];
	int64_t n;

	if (v == NULL)
		return 0;
	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (!json_is_string(v) || util_parse_int(json_string_value(v), &n) < 0)
		return cfg_fail(c, cfg_path(p, sizeof(p), prefix, key), "%s must be a whole number",
		                key);
	if (n < min || n > max)
		return cfg_fail(c, cfg_path(p, sizeof(p), prefix, key),
		                "%s must be between %lld and %lld", key, (long long)min,
		                (long long)max);
	*ret = n;
	return 0;
}

/* A duration: seconds as a number, or a string such as "768h" (lib/duration.h). */
static int
cfg_duration(const struct cfg *c, json_t *obj, const char *prefix, const char *key, int64_t *ret)
{
	json_t *v = json_object_get(obj, key);
	char p[256];
	int r;

	if (v == NULL)
		return 0;
	cfg_path(p, sizeof(p), prefix, key);
	if (json_is_integer(v)) {
		r = duration_check(json_integer_value(v));
		if (r == 0)
			*ret = json_integer_value(v);
	} else if (json_is_string(v)) {
		r = duration_parse(json_string_value(v), ret);
	} else {
		return cfg_fail(c, p, "%s must be a duration such as \"768h\"", key);
	}
	if (r < 0)
		return cfg_fail(c, p, "invalid value for %s: %s", key, duration_strerror(r));
	return 0;
}

/* A block key ("storage") must be a map of exactly one label to a body; stores
 * the label and body. */
static int
cfg_one_block(const struct cfg *c, json_t *v, const char *key, const char **ret_label,
              json_t **ret_body)
{
	const char *label = NULL;
	json_t *body = NULL, *b;
	const char *k;

	if (!json_is_object(v) || json_object_size(v) != 1)
		return cfg_fail(c, key, "expected one %s block: %s \"TYPE\" { ... }", key, key);
	json_object_foreach(v, k, b)
	{
		label = k;
		body = b;
	}
	if (!json_is_object(body))
		return cfg_fail(c, key, "expected one %s block: %s \"TYPE\" { ... }", key, key);
	*ret_label = label;
	*ret_body = body;
	return 0;
}

/* Whether s is a plain identifier (a PostgreSQL schema name kept simple). */
static bool
cfg_ident(const char *s)
{
	if (*s == '\0' || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int
cfg_storage(const struct cfg *c, json_t *v, struct server_config *sc)
{
	static const char *const sqlite_keys[] = {"path", NULL};
	static const char *const pg_keys[] = {"connection_url", "schema", "max_connections",
	                                      "max_parallel", NULL};
	static const char *const mem_keys[] = {NULL};
	const char *type;
	char *path = NULL, *url = NULL, *schema = NULL, pfx[128];
	int64_t conns = 0;
	struct buf b;
	int r;

	buf_init(&b, 65536, BUF_SECRET);
	r = cfg_one_block(c, v, "storage", &type, &v);
	if (r < 0)
		goto out;
	snprintf(pfx, sizeof(pfx), "storage/%s", type);
	if (strcmp(type, "sqlite") == 0) {
		r = cfg_known(c, v, pfx, "storage \"sqlite\"", sqlite_keys);
		if (r == 0)
			r = cfg_string(c, v, pfx, "path", &path);
		if (r < 0)
			goto out;
		if (path == NULL || *path == '\0') {
			r = cfg_fail(c, pfx, "storage \"sqlite\" needs path");
			goto out;
		}
		r = buf_printf(&b, "sqlite:%s", path);
	} else if (strcmp(type, "postgres") == 0 || strcmp(type, "postgresql") == 0) {
		r = cfg_known(c, v, pfx, "storage \"postgres\"", pg_keys);
		if (r == 0)
			r = cfg_string(c, v, pfx, "connection_url", &url);
		if (r == 0)
			r = cfg_string(c, v, pfx, "schema", &schema);
		if (r == 0)
			r = cfg_int(c, v, pfx, "max_connections", 1, CONFIG_MAX_CONNS, &conns);
		if (r == 0 && conns == 0) /* Vault's name for it */
			r = cfg_int(c, v, pfx, "max_parallel", 1, CONFIG_MAX_CONNS, &conns);
		if (r < 0)
			goto out;
		if (url == NULL || (strncmp(url, "postgres://", 11) != 0 &&
		                    strncmp(url, "postgresql://", 13) != 0)) {
			char p[256];
			r = cfg_fail(c, url ? cfg_path(p, sizeof(p), pfx, "connection_url") : pfx,
			             "storage \"postgres\" needs connection_url = "
			             "\"postgres://USER:PASSWORD@HOST:PORT/DB\"");
			goto out;
		}
		if (schema && !cfg_ident(schema)) {
			char p[256];
			r = cfg_fail(c, cfg_path(p, sizeof(p), pfx, "schema"),
			             "schema must be letters, digits and _ (at most 63)");
			goto out;
		}
		r = buf_printf(&b, "postgres:%s", url);
		if (r == 0 && schema)
			r = buf_printf(&b, "%cschema=%s", strchr(url, '?') ? '&' : '?', schema);
		if (r == 0 && conns > 0)
			r = buf_printf(&b, "%cmax_connections=%lld",
			               strchr(buf_str(&b), '?') ? '&' : '?', (long long)conns);
	} else if (strcmp(type, "inmem") == 0 || strcmp(type, "memory") == 0) {
		r = cfg_known(c, v, pfx, "storage \"inmem\"", mem_keys);
		if (r == 0)
			r = buf_printf(&b, "memory:");
	} else {
		r = cfg_fail(c, pfx, "unknown storage type \"%s\" (sqlite, postgres or inmem)",
		             type);
	}
	if (r < 0)
		goto out;
	secmem_free_str(sc->storage);
	sc->storage = NULL;
	r = buf_detach(&b, &sc->storage, NULL);
out:
	buf_free(&b);
	free(path);
	secmem_free_str(url);
	free(schema);
	return r;
}

/* x_forwarded_for_authorized_addrs: a list of CIDR strings or one
 * comma-separated string, each checked; stored comma-separated. */
static int
cfg_xff(const struct cfg *c, json_t *v, const char *path, struct server_config *sc)
{
	struct buf b;
	struct cidr cd;
	char one[128];
	int r = 0;

	buf_init(&b, 65536, 0);
	if (json_is_string(v)) {
		r = buf_printf(&b, "%s", json_string_value(v));
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e)) {
				r = cfg_fail(c, path,
				             "x_forwarded_for_authorized_addrs must be a list "
				             "of CIDR strings");
				goto out;
			}
			r = buf_printf(&b, "%s%s", i ? "," : "", json_string_value(e));
			if (r < 0)
				goto out;
		}
	} else {
		r = cfg_fail(c, path,
		             "x_forwarded_for_authorized_addrs must be a list of CIDR "
		             "strings");
		goto out;
	}
	if (r < 0)
		goto out;
	/* every entry must parse */
	for (const char *s = buf_str(&b); *s;) {
		size_t n = strcspn(s, ",");
		const char *t = s;
		while (n > 0 && (*t == ' ' || *t == '\t')) {
			t++;
			n--;
		}
		while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			n--;
		if (n == 0 || n >= sizeof(one)) {
			r = cfg_fail(c, path,
			             "x_forwarded_for_authorized_addrs: an empty or too "
			             "long entry");
			goto out;
		}
		memcpy(one, t, n);
		one[n] = '\0';
		if (cidr_parse(one, &cd) < 0) {
			r = cfg_fail(c, path,
			             "x_forwarded_for_authorized_addrs: \"%s\" is not a CIDR "
			             "block",
			             one);
			goto out;
		}
		s += strcspn(s, ",");
		if (*s == ',')
			s++;
	}
	free(sc->xff_authorized);
	sc->xff_authorized = NULL;
	r = buf_detach(&b, &sc->xff_authorized, NULL);
out:
	buf_free(&b);
	return r;
}

static int
cfg_listener(const struct cfg *c, json_t *v, struct server_config *sc)
{
	static const char *const keys[] = {"address",
	                                   "tls_cert_file",
	                                   "tls_key_file",
	                                   "tls_disable",
	                                   "max_request_size",
	                                   "x_forwarded_for_authorized_addrs",
	                                   "x_forwarded_for_reject_not_authorized",
	                                   "telemetry",
	                                   NULL};
	static const char *const tkeys[] = {"unauthenticated_metrics_access", NULL};
	const char *type, *pfx = "listener/tcp";
	json_t *t, *x;
	int64_t n = 0;
	int r;

	r = cfg_one_block(c, v, "listener", &type, &v);
	if (r < 0)
		return r;
	if (strcmp(type, "tcp") != 0)
		return cfg_fail(c, "listener", "unknown listener type \"%s\" (only \"tcp\")", type);
	r = cfg_known(c, v, pfx, "listener \"tcp\"", keys);
	if (r == 0)
		r = cfg_string(c, v, pfx, "address", &sc->listen);
	if (r == 0)
		r = cfg_string(c, v, pfx, "tls_cert_file", &sc->tls_cert);
	if (r == 0)
		r = cfg_string(c, v, pfx, "tls_key_file", &sc->tls_key);
	if (r == 0)
		r = cfg_bool(c, v, pfx, "tls_disable", &sc->tls_disable);
	if (r == 0)
		r = cfg_int(c, v, pfx, "max_request_size", 1024, (int64_t)CONFIG_MAX_BODY, &n);
	if (r < 0)
		return r;
	if (n > 0)
		sc->max_body = (size_t)n;
	if (sc->listen && (*sc->listen == '\0' || strlen(sc->listen) > CONFIG_MAX_ADDRLEN))
		return cfg_fail(c, "listener/tcp/address", "address must be HOST:PORT");
	x = json_object_get(v, "x_forwarded_for_authorized_addrs");
	if (x) {
		r = cfg_xff(c, x, "listener/tcp/x_forwarded_for_authorized_addrs", sc);
		if (r < 0)
			return r;
	}
	r = cfg_bool(c, v, pfx, "x_forwarded_for_reject_not_authorized", &sc->xff_reject);
	if (r < 0)
		return r;
	t = json_object_get(v, "telemetry");
	if (t) {
		if (!json_is_object(t))
			return cfg_fail(c, "listener/tcp/telemetry", "telemetry must be a block");
		r = cfg_known(c, t, "listener/tcp/telemetry", "the listener's telemetry", tkeys);
		if (r == 0)
			r = cfg_bool(c, t, "listener/tcp/telemetry",
			             "unauthenticated_metrics_access",
			             &sc->telemetry.unauthenticated_metrics_access);
		if (r < 0)
			return r;
	}
	/* Without files coffer serves plain HTTP, as without --tls-cert (Vault
	 * refuses to start without tls_disable). */
	if (!sc->tls_disable && (sc->tls_cert == NULL) != (sc->tls_key == NULL))
		return cfg_fail(c, pfx, "tls_cert_file and tls_key_file go together");
	return 0;
}

static int
cfg_telemetry(const struct cfg *c, json_t *t, struct server_config *sc)
{
	static const char *const keys[] = {"prometheus_retention_time", "disable_hostname", NULL};
	int r;

	if (!json_is_object(t))
		return cfg_fail(c, "telemetry", "telemetry must be a block: telemetry { ... }");
	r = cfg_known(c, t, "telemetry", "telemetry", keys);
	if (r == 0)
		r = cfg_duration(c, t, "telemetry", "prometheus_retention_time",
		                 &sc->telemetry.prometheus_retention_s);
	if (r == 0)
		r = cfg_bool(c, t, "telemetry", "disable_hostname",
		             &sc->telemetry.disable_hostname);
	return r;
}

static int
cfg_walk(const struct cfg *c, json_t *root, struct server_config *sc)
{
	static const char *const keys[] = {
	        "storage",   "listener",          "api_addr",      "cluster_name", "log_level",
	        "telemetry", "default_lease_ttl", "max_lease_ttl", "ui",           "disable_mlock",
	        NULL};
	char *level = NULL;
	json_t *v;
	int r;

	r = cfg_known(c, root, "", "the config file", keys);
	if (r < 0)
		return r;
	v = json_object_get(root, "storage");
	if (v && (r = cfg_storage(c, v, sc)) < 0)
		return r;
	v = json_object_get(root, "listener");
	if (v && (r = cfg_listener(c, v, sc)) < 0)
		return r;
	v = json_object_get(root, "telemetry");
	if (v && (r = cfg_telemetry(c, v, sc)) < 0)
		return r;
	r = cfg_string(c, root, "", "api_addr", &sc->api_addr);
	if (r == 0)
		r = cfg_string(c, root, "", "cluster_name", &sc->cluster_name);
	if (r == 0)
		r = cfg_string(c, root, "", "log_level", &level);
	if (r == 0 && level) {
		if (log_parse_level(level, &sc->log_level) < 0)
			r = cfg_fail(c, "log_level",
			             "log_level must be trace, debug, info, warn or error (or "
			             "verbose, debug1..debug3)");
		else
			sc->has_log_level = true;
	}
	free(level);
	if (r == 0)
		r = cfg_duration(c, root, "", "default_lease_ttl", &sc->default_lease_ttl);
	if (r == 0)
		r = cfg_duration(c, root, "", "max_lease_ttl", &sc->max_lease_ttl);
	if (r == 0)
		r = cfg_bool(c, root, "", "ui", &sc->ui);
	if (r == 0)
		r = cfg_bool(c, root, "", "disable_mlock", &sc->disable_mlock);
	if (r < 0)
		return r;
	if (sc->cluster_name && (strlen(sc->cluster_name) > 128 || *sc->cluster_name == '\0'))
		return cfg_fail(c, "cluster_name", "cluster_name must be 1 to 128 bytes");
	if (sc->max_lease_ttl > 0 && sc->default_lease_ttl > sc->max_lease_ttl)
		return cfg_fail(c, "default_lease_ttl",
		                "default_lease_ttl must not be longer than max_lease_ttl");
	return 0;
}

int
server_config_parse(const char *name, const char *text, size_t len, struct server_config *ret,
                    char *err, size_t errlen)
{
	struct cfg c = {name, NULL, err, errlen};
	json_t *root = NULL;
	char herr[256];
	int r;

	if (errlen > 0)
		err[0] = '\0';
	r = hcl_parse_lines(text, len, &root, &c.lines, herr, sizeof(herr));
	if (r < 0) {
		if (r == CF_EINVAL) {
			/* herr is "line L, column C: what" */
			unsigned line = 0, col = 0;
			const char *what = strstr(herr, ": ");
			if (sscanf(herr, "line %u, column %u", &line, &col) == 2 && what)
				snprintf(err, errlen, "%s:%u:%u: %s", name, line, col, what + 2);
			else
				snprintf(err, errlen, "%s: %s", name, herr);
		}
		goto out;
	}
	r = cfg_walk(&c, root, ret);
out:
	json_decref(root);
	json_decref(c.lines);
	return r;
}

int
server_config_load(const char *path, struct server_config *ret, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = util_read_file(path, CONFIG_MAX_FILE, &text, &len, err, errlen);
	if (r < 0)
		return r == CF_ENOMEM ? r : (r == CF_EINVAL ? r : CF_EIO);
	r = server_config_parse(path, text, len, ret, err, errlen);
	secmem_free(text, len); /* may hold a database password */
	return r;
}

void
server_config_free(struct server_config *c)
{
	secmem_free_str(c->storage);
	free(c->listen);
	free(c->tls_cert);
	free(c->tls_key); /* not secret: the path of the key file */
	free(c->xff_authorized);
	free(c->api_addr);
	free(c->cluster_name);
	memset(c, 0, sizeof(*c));
}
