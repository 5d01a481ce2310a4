/* apidoc.c - prints docs/api.md: every route coffer serves, read from the
 * backend types' route tables, then the hand-written deviations from Vault.
 *
 * Usage: apidoc [DEVIATIONS] > docs/api.md   (make apidoc)
 *
 * scripts/check-repo runs it and fails when docs/api.md differs from what it
 * prints, so the document cannot drift from the tables: change a route, run
 * `make apidoc`, commit both. Nothing here is hand-kept per route; a row shows
 * the route's pattern, the operations it has handlers for (as HTTP methods),
 * and the flags a caller sees (no token, sudo, served while sealed ...). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/approle/approle.h"
#include "auth/jwt/jwt.h"
#include "auth/srp/srp.h"
#include "auth/userpass/userpass.h"
#include "backend/backend.h"
#include "backend/registry.h"
#include "backend/field.h"
#include "core/core.h"
#include "core/wrap.h"
#include "engines/cubbyhole/cubbyhole.h"
#include "engines/database/database.h"
#include "engines/kv/kv.h"
#include "engines/pki/pki.h"
#include "engines/transit/transit.h"
#include "events/events.h"
#include "rotation/rotation.h"
#include "sealing/sealing.h"
#include "server/server.h"

/* One section of the document: a backend type and where it is mounted. */
struct apidoc_section {
	const char *title;
	const char *types;             /* what sys/mounts or sys/auth accept as its type */
	const char *path;              /* the fixed or the usual mount path */
	int fixed;                     /* 1: always mounted there */
	const struct backend_type *bt; /* its routes, or: */
	const struct route *routes;    /* a sys/ table a subsystem registers */
	const size_t *nroutes;
};

/* The core's own sys/ routes come first, then the tables the subsystems
 * register with it, in the order the server's wiring registers them
 * (src/server/server.c); then the token store and the registered types. */
static const struct apidoc_section sections[] = {
        {"System", "system", "sys/", 1, &system_backend},
        {"System: metrics (no token with --unauthenticated-metrics-access)", "system", "sys/", 1,
         NULL, core_metrics_routes, &core_metrics_nroutes},
        {"System: response wrapping", "system", "sys/", 1, NULL, wrap_sys_routes,
         &wrap_sys_nroutes},
        {"System: event notifications", "system", "sys/", 1, NULL, events_sys_routes,
         &events_sys_nroutes},
        {"System: audit devices", "system", "sys/", 1, NULL, audit_sys_routes, &audit_sys_nroutes},
        {"System: rotation", "system", "sys/", 1, NULL, rotation_sys_routes, &rotation_sys_nroutes},
        {"System: sealing keys", "system", "sys/", 1, NULL, sealing_sys_routes,
         &sealing_sys_nroutes},
        {"Token auth method", "token", "auth/token/", 1, &token_backend},
        {"KV version 1", "kv (options.version 1, the default), generic", "secret/", 0,
         &kv_v1_backend},
        {"KV version 2", "kv-v2, kv with options.version 2", "secret/", 0, &kv_v2_backend},
        {"Cubbyhole", "cubbyhole (mounted by the core only)", "cubbyhole/", 1, &cubbyhole_backend},
        {"Database", "database", "database/", 0, &database_backend},
        {"Transit", "transit", "transit/", 0, &transit_backend},
        {"PKI", "pki", "pki/", 0, &pki_backend},
        {"Userpass auth method", "userpass", "auth/userpass/", 0, &userpass_backend},
        {"AppRole auth method", "approle", "auth/approle/", 0, &approle_backend},
        {"JWT/OIDC auth method", "jwt, oidc", "auth/jwt/", 0, &jwt_backend},
        {"SRP auth method", "srp", "auth/srp/", 0, &srp_backend},
};

/* The HTTP methods that reach the operations in ops (route_ops; the HTTP layer maps
 * GET to read, or to list with ?list=true; POST and PUT to create/update). */
static void
print_methods(unsigned ops)
{
	static const struct {
		unsigned op;
		const char *text;
	} names[] = {
	        {OP_READ, "GET"},    {OP_LIST, "LIST"},     {OP_CREATE | OP_UPDATE, "POST/PUT"},
	        {OP_PATCH, "PATCH"}, {OP_DELETE, "DELETE"}, {OP_HEAD, "HEAD"},
	};
	const char *sep = "";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(ops & names[i].op))
			continue;
		printf("%s%s", sep, names[i].text);
		sep = ", ";
	}
}

/* The flags a caller can observe; the others (audit overlap, exclusive
 * locking) are the core's business and stay out of the user's document. */
static void
print_flags(unsigned flags)
{
	static const struct {
		unsigned flag;
		const char *text;
	} names[] = {
	        {R_SUDO, "sudo"},
	        {R_SEALED_OK, "while sealed"},
	        {R_NOAUDIT, "not audited"},
	        {R_RAW, "raw body"},
	};

	printf("%s", flags & R_NOAUTH ? "no token" : "token");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].flag)
			printf(", %s", names[i].text);
}

/* Prints text for a markdown table cell: '|' escaped, newlines as spaces. */
static void
print_cell(const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '|')
			fputs("\\|", stdout);
		else
			putchar(*p == '\n' ? ' ' : *p);
	}
}

/* A route's parameters (its field table, src/backend/field.h), printed under
 * the section's table (a markdown table cannot nest one per row): a heading
 * with the route's path and one row per field. A route without a field table
 * prints nothing. */
static void
print_fields(const struct apidoc_section *s, const struct route *rt)
{
	if (!rt->fields)
		return;
	printf("### `%s%s`\n\n", s->path, rt->pattern);
	printf("| Parameter | Type | Default | Flags | Range | Description |\n"
	       "|---|---|---|---|---|---|\n");
	for (const struct field *f = rt->fields; f->name; f++) {
		const char *sep = "";

		printf("| `%s`", f->name);
		if (f->alias)
			printf(" (or `%s`)", f->alias);
		printf(" | %s | ", field_type_name(f->type));
		if (f->def && *f->def) {
			printf("`");
			print_cell(f->def);
			printf("`");
		}
		printf(" | ");
		if (f->flags & FIELD_REQUIRED) {
			printf("required");
			sep = ", ";
		}
		if (f->flags & FIELD_SECRET) {
			printf("%ssecret", sep);
			sep = ", ";
		}
		if (f->flags & FIELD_DEPRECATED)
			printf("%sdeprecated", sep);
		printf(" | ");
		if ((f->flags & FIELD_RANGE) && f->max == INT64_MAX)
			printf("at least %lld", (long long)f->min);
		else if (f->flags & FIELD_RANGE)
			printf("%lld to %lld", (long long)f->min, (long long)f->max);
		printf(" | ");
		if (f->desc)
			print_cell(f->desc);
		printf(" |\n");
	}
	printf("\n");
}

/* The pattern as a path: '+' stays (one segment), a trailing '*' stays (the
 * rest); the legend above the tables says so. */
static void
print_section(const struct apidoc_section *s)
{
	const struct route *routes = s->bt ? s->bt->routes : s->routes;
	size_t nroutes = s->bt ? s->bt->nroutes : *s->nroutes;

	printf("## %s\n\n", s->title);
	if (s->fixed)
		printf("Always mounted at `/v1/%s`. Type `%s`.\n\n", s->path, s->types);
	else
		printf("Mounted where it is enabled (`/v1/%s` below is an example). Type: %s.\n\n",
		       s->path, s->types);
	printf("| Path | Methods | Access |\n|---|---|---|\n");
	for (size_t i = 0; i < nroutes; i++) {
		const struct route *rt = &routes[i];
		const struct route *next = i + 1 < nroutes ? &routes[i + 1] : NULL;
		size_t n = strlen(rt->pattern);

		printf("| `%s%s`", s->path, rt->pattern);
		/* "roles" followed by "roles/" with the same operations: one row. */
		if (next && strncmp(next->pattern, rt->pattern, n) == 0 &&
		    strcmp(next->pattern + n, "/") == 0 && route_ops(next) == route_ops(rt) &&
		    next->flags == rt->flags) {
			printf(", `%s%s`", s->path, next->pattern);
			i++;
		}
		printf(" | ");
		print_methods(route_ops(rt));
		printf(" | ");
		print_flags(rt->flags);
		printf(" |\n");
	}
	printf("\n");
	for (size_t i = 0; i < nroutes; i++)
		print_fields(s, &routes[i]);
}

static int
copy_file(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "apidoc: cannot open %s\n", path);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

/* Every backend type the server's wiring registers must have a section: a new
 * engine or auth method cannot reach the registry without reaching this
 * document (make apidoc fails, and with it check-repo). */
static int
check_registry(void)
{
	const struct backend_entry *e;
	int r = server_register_backends();

	if (r < 0) {
		fprintf(stderr, "apidoc: cannot register the backend types\n");
		return -1;
	}
	for (size_t i = 0; (e = backend_entry_at(i)) != NULL; i++) {
		bool found = false;
		for (size_t j = 0; j < sizeof(sections) / sizeof(sections[0]) && !found; j++)
			found = sections[j].bt == e->bt;
		if (!found) {
			fprintf(stderr,
			        "apidoc: type \"%s\" is registered but has no section in "
			        "tools/apidoc/apidoc.c\n",
			        e->name);
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: apidoc [DEVIATIONS] > docs/api.md\n");
		return 2;
	}
	printf("# coffer's HTTP API\n\n"
	       "<!-- Generated by tools/apidoc/apidoc.c from the route tables: do not edit.\n"
	       "     Change a route table or docs/api-deviations.md, then run `make apidoc`. "
	       "-->\n\n"
	       "Every route coffer serves, per backend, as the route tables in the source\n"
	       "declare it. The requests and responses follow Vault's HTTP API (Vault's API\n"
	       "docs, per backend); where coffer differs, the last section says how.\n\n"
	       "Reading the tables:\n\n"
	       "- Paths are under `/v1/`. In a path, `+` is exactly one segment (a name) and a\n"
	       "  trailing `*` is the rest of the path, possibly empty. The first row that\n"
	       "  matches wins; a method the row does not list answers 405.\n"
	       "- Methods: `GET` reads; `LIST` (or `GET` with `?list=true`) lists; `POST` and\n"
	       "  `PUT` are the same write; `PATCH` takes `application/merge-patch+json`.\n"
	       "- Access: *token* routes need a token (`X-Vault-Token` or `Authorization: "
	       "Bearer`)\n"
	       "  whose policies allow the operation on the path; *no token* routes do not; "
	       "*sudo*\n"
	       "  needs the `sudo` capability as well; *while sealed* routes answer while the\n"
	       "  server is sealed (every other route answers 503 then); *not audited*\n"
	       "  requests are not written to the audit log; a *raw body* is the JSON object\n"
	       "  itself, without Vault's response envelope.\n"
	       "- Under a section's table, a route that describes its parameters has a table\n"
	       "  of them: type (Vault's weak typing: numbers may be numeric strings, lists a\n"
	       "  comma-separated string, durations seconds or strings such as `\"1h\"`),\n"
	       "  default, and whether it is required, a secret (never echoed back) or\n"
	       "  deprecated.\n\n");
	if (check_registry() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		print_section(&sections[i]);
	if (argc == 2 && copy_file(argv[1]) < 0)
		return 1;
	return fflush(stdout) == 0 ? 0 : 1;
}
