/* test_audit.c - the audit broker and the file device's keyed chain.
 *
 * The broker runs over a view on a barrier on memory storage; each test gets a
 * fresh mkdtemp directory for its log files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "audit/audit.h"
#include "backend/backend.h"
#include "backend/request.h"
#include "core/token.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "lib/err.h"
#include "lib/util.h"
#include "storage/storage.h"

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_PREFIX "hmac-sha256:"

struct fx {
	char dir[256];
	char log[300];
	struct storage *s;
	struct barrier *b;
	struct view *v;
	struct audit_broker *ab;
	/* a typical authenticated request */
	struct token_entry te;
	struct mount m;
	struct request rq;
};

static const char ROOT_TOKEN[] = "hvs.ROOTTOKENsecret0123456789";
static const char ACCESSOR[] = "accessorABCDEFGH12345678";

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t key[BARRIER_KEY_BYTES];
	const char *tmp = getenv("TMPDIR");
	int n;

	assert_non_null(f);
	n = snprintf(f->dir, sizeof(f->dir), "%s/coffer-audit-XXXXXX", tmp ? tmp : "/tmp");
	assert_true(n > 0 && (size_t)n < sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	n = snprintf(f->log, sizeof(f->log), "%s/audit.log", f->dir);
	assert_true(n > 0 && (size_t)n < sizeof(f->log));

	assert_int_equal(storage_open("memory:", &f->s), 0);
	assert_int_equal(barrier_new(f->s, &f->b), 0);
	util_random(key, sizeof(key));
	assert_int_equal(barrier_initialize(f->b, key), 0);
	f->v = view_new(f->b, "core/audit/");
	assert_non_null(f->v);
	assert_int_equal(audit_broker_new(f->v, &f->ab), 0);

	snprintf(f->te.accessor, sizeof(f->te.accessor), "%s", ACCESSOR);
	f->te.policies = json_pack("[s]", "root");
	f->te.display_name = strdup("root");
	f->te.creation_time = 1714561200;
	f->te.creation_ttl = 2764800;
	snprintf(f->te.type, sizeof(f->te.type), "service");
	f->m.path = strdup("secret/");
	f->m.type = strdup("kv");
	snprintf(f->m.accessor, sizeof(f->m.accessor), "kv_1a2b3c4d");

	snprintf(f->rq.id, sizeof(f->rq.id), "7f1c0000-0000-4000-8000-000000000001");
	f->rq.op = OP_UPDATE;
	f->rq.path = strdup("secret/data/app");
	f->rq.data = json_object();
	f->rq.query = json_object();
	f->rq.client_token = strdup(ROOT_TOKEN);
	f->rq.remote_addr = "127.0.0.1";
	f->rq.remote_port = 53122;
	f->rq.te = &f->te;
	f->rq.mount = &f->m;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	audit_broker_free(f->ab);
	view_free(f->v);
	barrier_free(f->b);
	storage_close(f->s);
	json_decref(f->te.policies);
	free(f->te.display_name);
	free(f->m.path);
	free(f->m.type);
	free(f->rq.path);
	json_decref(f->rq.data);
	json_decref(f->rq.query);
	free(f->rq.client_token);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Enables a file device at name with file_path and extra "k","v" option pairs. */
static int
enable(struct fx *f, const char *name, const char *file, struct response *rs, ...)
{
	json_t *opts = json_pack("{s:s}", "file_path", file), *params;
	const char *k, *v;
	va_list ap;
	int r;

	va_start(ap, rs);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		json_object_set_new(opts, k, json_string(v));
	}
	va_end(ap);
	params = json_pack("{s:s,s:s,s:o}", "type", "file", "description", "test", "options", opts);
	r = audit_broker_enable(f->ab, name, params, rs);
	json_decref(params);
	return r;
}

static void
enable_ok(struct fx *f, const char *name, const char *file)
{
	struct response rs = {0};
	assert_int_equal(enable(f, name, file, &rs, NULL), 0);
	response_reset(&rs);
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

static void
spit(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Whether a line is one of the chain's own (chain start, checkpoint). */
static bool
chain_line(const char *line)
{
	return strstr(line, "\"type\":\"chain_start\"") || strstr(line, "\"type\":\"checkpoint\"");
}

/* The JSON object of the k-th (1-based) request or response entry of path. */
static json_t *
line_json(const char *path, int k)
{
	char *text = slurp(path), *p = text, *nl, *b;
	json_t *j;

	for (;;) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		if (!chain_line(p) && --k == 0)
			break;
		p = nl + 1;
	}
	b = strchr(p, '{');
	assert_non_null(b);
	j = json_loads(b, 0, NULL);
	assert_non_null(j);
	free(text);
	return j;
}

/* The number of chain lines (chain start, checkpoints) of path. */
static long
chain_lines(const char *path)
{
	char *text = slurp(path), *p = text, *nl;
	long n = 0;

	while ((nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		n += chain_line(p);
		p = nl + 1;
	}
	free(text);
	return n;
}

static char *
hash_of(struct fx *f, const char *dev, const char *s)
{
	char *h = NULL;
	assert_int_equal(audit_broker_hash(f->ab, dev, s, &h), 0);
	assert_non_null(h);
	return h;
}

static void
assert_hash(struct fx *f, json_t *v, const char *plain)
{
	char *h = hash_of(f, "file", plain);
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), h);
	free(h);
}

/* Offline check without a public key, lines after the last checkpoint
 * accepted. Returns the number of entries (lines that are not the chain's own)
 * when intact, else the first bad line (a position in the file). */
static long
verify(const char *path, char *msg, size_t msglen, int *ret_r)
{
	struct audit_verify_report rep;

	*ret_r = audit_verify_file(path, NULL, true, &rep);
	if (msg && msglen) {
		/* truncation only shortens the message */
		memcpy(msg, rep.msg, msglen);
		msg[msglen - 1] = '\0';
	}
	if (*ret_r == 0)
		return rep.lines - chain_lines(path);
	return *ret_r == CF_EINVAL ? rep.bad_line : -1;
}

/* ---- device table ---- */

static void
test_audit_enable_list_disable(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	json_t *l, *d;
	char bad[400];

	assert_false(audit_broker_enabled(f->ab));
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0); /* no device: no-op */
	enable_ok(f, "file", f->log);
	assert_true(audit_broker_enabled(f->ab));

	l = audit_broker_list(f->ab);
	d = json_object_get(l, "file/");
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "file");
	assert_string_equal(json_string_value(json_object_get(d, "path")), "file/");
	assert_string_equal(json_string_value(json_object_get(d, "description")), "test");
	assert_true(json_is_false(json_object_get(d, "local")));
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(d, "options"), "file_path")),
	        f->log);
	assert_null(json_object_get(d, "salt"));
	assert_null(json_object_get(json_object_get(d, "options"), "salt"));
	json_decref(l);

	/* the same path again */
	assert_int_equal(enable(f, "file/", f->log, &rs, NULL), CF_EINVAL);
	assert_non_null(strstr(json_string_value(json_array_get(rs.errors, 0)), "in use"));
	response_reset(&rs);
	/* jsonx, bad mode, bad bool, missing file_path, a sink that cannot open */
	assert_int_equal(enable(f, "x1", f->log, &rs, "format", "jsonx", NULL), CF_EUNSUPPORTED);
	response_reset(&rs);
	assert_int_equal(enable(f, "x2", f->log, &rs, "mode", "0999", NULL), CF_EINVAL);
	response_reset(&rs);
	assert_int_equal(enable(f, "x3", f->log, &rs, "log_raw", "maybe", NULL), CF_EINVAL);
	response_reset(&rs);
	assert_int_equal(enable(f, "x4", "", &rs, NULL), CF_EINVAL);
	response_reset(&rs);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/a.log", f->dir);
	assert_int_equal(enable(f, "x5", bad, &rs, NULL), CF_EINVAL);
	assert_non_null(
	        strstr(json_string_value(json_array_get(rs.errors, 0)), "sink cannot be opened"));
	response_reset(&rs);
	{
		json_t *p = json_pack("{s:s}", "type", "syslog");
		assert_int_equal(audit_broker_enable(f->ab, "sl", p, &rs), CF_EINVAL);
		json_decref(p);
		response_reset(&rs);
	}
	l = audit_broker_list(f->ab);
	assert_int_equal(json_object_size(l), 1);
	json_decref(l);

	/* the legacy "path" option (node-vault) */
	{
		char p2[320];
		json_t *params;
		snprintf(p2, sizeof(p2), "%s/legacy.log", f->dir);
		params = json_pack("{s:s,s:{s:s}}", "type", "file", "options", "path", p2);
		assert_int_equal(audit_broker_enable(f->ab, "legacy", params, &rs), 0);
		json_decref(params);
		assert_int_equal(access(p2, F_OK), 0);
	}

	assert_int_equal(audit_broker_disable(f->ab, "legacy"), 0);
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	assert_int_equal(audit_broker_disable(f->ab, "nothing-here"), 0);
	assert_false(audit_broker_enabled(f->ab));
	{
		char *h = NULL;
		assert_int_equal(audit_broker_hash(f->ab, "file", "x", &h), CF_ENOTFOUND);
	}
}

static void
test_audit_file_mode(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	struct stat st;

	assert_int_equal(enable(f, "file", f->log, &rs, "mode", "0640", NULL), 0);
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

/* The hash is HMAC-SHA256 keyed with the salt persisted in the table (checked
 * against libsodium's HMAC), and the salt is not stored in the clear. */
static void
test_audit_hash_is_hmac_sha256_of_salt(void **state)
{
	struct fx *f = *state;
	/* parenthesized: one string on purpose (clang -Wstring-concatenation) */
	static const char *inputs[] = {"", "x", "hunter2",
	                               ("a longer input that spans more than "
	                                "one SHA-256 block of sixty-four bytes, easily")};
	uint8_t salt[32], mac[32], *raw;
	char hex[65], want[80], *h;
	const char *salthex;
	size_t len, n;
	json_t *t;

	enable_ok(f, "file", f->log);
	assert_int_equal(view_get_json(f->v, "devices", &t), 0);
	salthex = json_string_value(
	        json_object_get(json_array_get(json_object_get(t, "devices"), 0), "salt"));
	assert_non_null(salthex);
	assert_int_equal(util_unhex(salthex, salt, sizeof(salt), &n), 0);
	assert_int_equal(n, 32);
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, salt, sizeof(salt));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)inputs[i],
		                              strlen(inputs[i]));
		crypto_auth_hmacsha256_final(&st, mac);
		util_hex(mac, sizeof(mac), hex);
		snprintf(want, sizeof(want), "hmac-sha256:%s", hex);
		h = hash_of(f, "file/", inputs[i]);
		assert_string_equal(h, want);
		free(h);
	}
	/* the raw storage holds only ciphertext */
	assert_int_equal(storage_get(f->s, "core/audit/devices", &raw, &len), 0);
	assert_null(memmem(raw, len, salthex, strlen(salthex)));
	free(raw);
	json_decref(t);
}

/* ---- entries ---- */

static void
test_audit_request_entry_hmacs_nested_data(void **state)
{
	struct fx *f = *state;
	json_t *e, *a, *q, *d, *arr;
	char *text;

	enable_ok(f, "file", f->log);
	json_decref(f->rq.data);
	f->rq.data = json_pack("{s:{s:s,s:s},s:[s,i,b,n,{s:s}],s:i,s:f,s:b}", "data", "password",
	                       "hunter2", "user", "app", "list", "x", 7, 1, "k", "y", "num", 5,
	                       "real", 1.5, "flag", 0);
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);

	e = line_json(f->log, 1);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "request");
	assert_int_equal(json_integer_value(json_object_get(e, "seq")),
	                 2); /* after the chain start */
	assert_non_null(json_object_get(e, "prev_hash"));
	assert_null(json_object_get(e, "response"));
	assert_null(json_object_get(e, "error"));
	assert_true(json_is_string(json_object_get(e, "time")));

	a = json_object_get(e, "auth");
	assert_hash(f, json_object_get(a, "client_token"), ROOT_TOKEN);
	assert_hash(f, json_object_get(a, "accessor"), ACCESSOR);
	assert_string_equal(json_string_value(json_object_get(a, "display_name")), "root");
	assert_string_equal(json_string_value(json_array_get(json_object_get(a, "policies"), 0)),
	                    "root");
	assert_non_null(json_object_get(a, "token_policies"));
	assert_string_equal(json_string_value(json_object_get(a, "token_type")), "service");
	assert_int_equal(json_integer_value(json_object_get(a, "token_ttl")), 2764800);
	assert_string_equal(json_string_value(json_object_get(a, "token_issue_time")),
	                    "2024-05-01T11:00:00Z");
	assert_true(json_is_true(json_object_get(json_object_get(a, "policy_results"), "allowed")));

	q = json_object_get(e, "request");
	assert_string_equal(json_string_value(json_object_get(q, "id")), f->rq.id);
	assert_string_equal(json_string_value(json_object_get(q, "operation")), "update");
	assert_string_equal(json_string_value(json_object_get(q, "mount_point")), "secret/");
	assert_string_equal(json_string_value(json_object_get(q, "mount_type")), "kv");
	assert_string_equal(json_string_value(json_object_get(q, "mount_accessor")), "kv_1a2b3c4d");
	assert_string_equal(json_string_value(json_object_get(q, "path")), "secret/data/app");
	assert_string_equal(json_string_value(json_object_get(q, "remote_address")), "127.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(q, "remote_port")), 53122);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(q, "namespace"), "id")), "root");
	assert_hash(f, json_object_get(q, "client_token"), ROOT_TOKEN);
	assert_hash(f, json_object_get(q, "client_token_accessor"), ACCESSOR);

	d = json_object_get(q, "data");
	assert_hash(f, json_object_get(json_object_get(d, "data"), "password"), "hunter2");
	assert_hash(f, json_object_get(json_object_get(d, "data"), "user"), "app");
	arr = json_object_get(d, "list");
	assert_int_equal(json_array_size(arr), 5);
	assert_hash(f, json_array_get(arr, 0), "x");
	assert_int_equal(json_integer_value(json_array_get(arr, 1)), 7);
	assert_true(json_is_true(json_array_get(arr, 2)));
	assert_true(json_is_null(json_array_get(arr, 3)));
	assert_hash(f, json_object_get(json_array_get(arr, 4), "k"), "y");
	assert_int_equal(json_integer_value(json_object_get(d, "num")), 5);
	assert_true(json_real_value(json_object_get(d, "real")) == 1.5);
	assert_true(json_is_false(json_object_get(d, "flag")));
	json_decref(e);

	text = slurp(f->log);
	assert_null(strstr(text, "hunter2"));
	assert_null(strstr(text, ROOT_TOKEN));
	assert_null(strstr(text, ACCESSOR));
	assert_null(strstr(text, "\"app\""));
	free(text);
}

static void
test_audit_response_entry(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	json_t *e, *p, *a;
	char *text;

	enable_ok(f, "file", f->log);
	rs.status = 200;
	rs.data = json_pack("{s:{s:s},s:{s:i,s:b,s:s}}", "data", "password", "pw-in-response",
	                    "metadata", "version", 3, "destroyed", 0, "created_time",
	                    "2024-05-01T12:00:00Z");
	rs.auth = json_pack("{s:s,s:s,s:[s],s:i}", "client_token", "hvs.NEWTOKENsecret", "accessor",
	                    "newaccessor123", "policies", "default", "lease_duration", 3600);
	rs.lease_id = strdup("database/creds/ro/abc");
	rs.warnings = json_pack("[s]", "a warning");
	rs.mount_type = "kv";
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);

	e = line_json(f->log, 1);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "response");
	p = json_object_get(e, "response");
	assert_string_equal(json_string_value(json_object_get(p, "mount_type")), "kv");
	assert_hash(
	        f, json_object_get(json_object_get(json_object_get(p, "data"), "data"), "password"),
	        "pw-in-response");
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_object_get(json_object_get(p, "data"), "metadata"), "version")),
	        3);
	assert_hash(f,
	            json_object_get(json_object_get(json_object_get(p, "data"), "metadata"),
	                            "created_time"),
	            "2024-05-01T12:00:00Z");
	a = json_object_get(p, "auth");
	assert_hash(f, json_object_get(a, "client_token"), "hvs.NEWTOKENsecret");
	assert_hash(f, json_object_get(a, "accessor"), "newaccessor123");
	assert_string_equal(json_string_value(json_array_get(json_object_get(a, "policies"), 0)),
	                    "default");
	assert_int_equal(json_integer_value(json_object_get(a, "lease_duration")), 3600);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(p, "secret"), "lease_id")),
	        "database/creds/ro/abc");
	assert_string_equal(json_string_value(json_array_get(json_object_get(p, "warnings"), 0)),
	                    "a warning");
	assert_null(json_object_get(e, "error"));
	json_decref(e);

	/* errors: plaintext errors[0] for status >= 400 */
	response_reset(&rs);
	rs.status = 400;
	(void)response_errorf(&rs, "check-and-set parameter did not match");
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);
	e = line_json(f->log, 2);
	assert_string_equal(json_string_value(json_object_get(e, "error")),
	                    "check-and-set parameter did not match");
	assert_null(json_object_get(json_object_get(e, "response"), "data"));
	json_decref(e);
	response_reset(&rs);

	text = slurp(f->log);
	assert_null(strstr(text, "pw-in-response"));
	assert_null(strstr(text, "hvs.NEWTOKENsecret"));
	assert_null(strstr(text, "newaccessor123"));
	free(text);
}

static void
test_audit_options_raw_accessor_elide_prefix(void **state)
{
	struct fx *f = *state;
	struct response rs = {0}, out = {0};
	char raw[320], *text;
	json_t *e;
	int r;

	snprintf(raw, sizeof(raw), "%s/raw.log", f->dir);
	assert_int_equal(enable(f, "raw", raw, &rs, "log_raw", "true", "hmac_accessor", "false",
	                        "elide_list_responses", "1", "prefix", "AUDIT: ", NULL),
	                 0);
	json_decref(f->rq.data);
	f->rq.data = json_pack("{s:s}", "password", "plain-visible");
	f->rq.op = OP_LIST;
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	out.status = 200;
	out.data =
	        json_pack("{s:[s,s,s],s:{s:{},s:{}}}", "keys", "a", "b", "c", "key_info", "a", "b");
	assert_int_equal(audit_log_response(f->ab, &f->rq, &out), 0);
	response_reset(&out);

	text = slurp(raw);
	assert_true(strncmp(text, "AUDIT: {", 8) == 0);
	assert_non_null(strstr(text, "\nAUDIT: {"));
	assert_non_null(strstr(text, "plain-visible"));
	assert_non_null(strstr(text, ROOT_TOKEN));
	free(text);
	e = line_json(raw, 1);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(e, "auth"), "accessor")),
	        ACCESSOR);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(e, "request"), "operation")),
	        "list");
	json_decref(e);
	e = line_json(raw, 2);
	{
		json_t *d = json_object_get(json_object_get(e, "response"), "data");
		assert_int_equal(json_integer_value(json_object_get(d, "keys")), 3);
		assert_int_equal(json_integer_value(json_object_get(d, "key_info")), 2);
	}
	json_decref(e);
	{
		long line = verify(raw, NULL, 0, &r);
		assert_int_equal(r, 0);
		assert_int_equal(line, 2);
	}
	/* prefixes with '{' or a newline would make lines unparseable */
	assert_int_equal(enable(f, "p2", raw, &rs, "prefix", "a{b", NULL), CF_EINVAL);
	response_reset(&rs);
}

/* Odd bytes in plaintext fields still give lines a strict parser accepts. */
static void
test_audit_escaping_keeps_lines_parseable(void **state)
{
	struct fx *f = *state;
	static const char path[] = "secret/data/q\"u\\o\te\n\r\x01\x7f/\xc3\xa9/\xff\xc3(/\xe2\x82";
	char msg[256], *text;
	json_t *e;
	int r;

	enable_ok(f, "file", f->log);
	free(f->rq.path);
	f->rq.path = strdup(path);
	json_decref(f->rq.data);
	f->rq.data = json_pack("{s:s}", "we\"ird\nkey\xc3\xa9", "v");
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 1);
	assert_int_equal(r, 0);
	e = line_json(f->log, 1);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(e, "request"), "path")),
	        "secret/data/q\"u\\o%09e%0A%0D%01%7F/\xc3\xa9/%FF%C3(/%E2%82");
	assert_non_null(json_object_get(json_object_get(json_object_get(e, "request"), "data"),
	                                "we\"ird\nkey\xc3\xa9"));
	json_decref(e);
	text = slurp(f->log);
	assert_null(strchr(text, '\r'));
	assert_null(strchr(text, '\x01'));
	free(text);
}

/* ---- failures: no unaudited access ---- */

static void
test_audit_failing_device_refuses_requests(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	if (access("/dev/full", W_OK) != 0)
		skip();
	enable_ok(f, "full", "/dev/full");
	assert_int_equal(audit_log_request(f->ab, &f->rq), CF_EAUDIT);
	assert_int_equal(audit_log_request(f->ab, &f->rq), CF_EAUDIT);
	rs.status = 200;
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), CF_EAUDIT);

	/* one healthy device is enough */
	enable_ok(f, "file", f->log);
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	assert_int_equal(audit_log_request(f->ab, &f->rq), CF_EAUDIT);
	/* discard always records */
	enable_ok(f, "null", "discard");
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
}

static void
test_audit_device_recovers_after_file_removed(void **state)
{
	struct fx *f = *state;
	char sub[300], file[320], msg[256];
	int r;

	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(file, sizeof(file), "%s/a.log", sub);
	enable_ok(f, "file", file);
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	/* reload while the directory is gone: device stays enabled but failed */
	audit_broker_unload(f->ab);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(audit_broker_load(f->ab), 0);
	assert_true(audit_broker_enabled(f->ab));
	assert_int_equal(audit_log_request(f->ab, &f->rq), CF_EAUDIT);
	/* the directory comes back, without the file: that is a file cut to
	 * nothing, so the device is tampered and nothing is appended */
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(audit_log_request(f->ab, &f->rq), CF_EAUDIT);
	{
		json_t *t = audit_broker_tampered(f->ab);
		assert_int_equal(json_array_size(t), 1);
		assert_non_null(
		        strstr(json_string_value(json_object_get(json_array_get(t, 0), "error")),
		               "truncated"));
		json_decref(t);
	}
	/* disabled and enabled again, a new chain starts */
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	enable_ok(f, "file", file);
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	assert_int_equal(verify(file, msg, sizeof(msg), &r), 1);
	assert_int_equal(r, 0);
}

/* ---- the chain ---- */

/* A response entry logged while another request is in flight waits for the next
 * write (or the background flush); the chain stays in order either way. */
static void
test_audit_deferred_response_entries(void **state)
{
	struct fx *f = *state;
	struct request rq2 = f->rq;
	struct response rs = {.status = 200};
	char msg[256];
	json_t *e;
	int r;

	enable_ok(f, "file", f->log);
	snprintf(rq2.id, sizeof(rq2.id), "7f1c0000-0000-4000-8000-000000000002");
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	assert_int_equal(audit_log_request(f->ab, &rq2), 0);
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0); /* rq2 still in flight */
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 2);
	assert_int_equal(audit_log_response(f->ab, &rq2, &rs), 0); /* writes both */
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 4);
	assert_int_equal(r, 0);
	e = line_json(f->log, 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "request"), "id")),
	                    f->rq.id);
	json_decref(e);

	/* the background thread writes a deferred entry when nothing else comes */
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	assert_int_equal(audit_log_request(f->ab, &rq2), 0);
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);
	for (int i = 0; i < 100 && verify(f->log, msg, sizeof(msg), &r) < 7; i++)
		usleep(10000);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 7);
	assert_int_equal(r, 0);
	/* and disabling the device writes what is left */
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
	assert_int_equal(audit_log_response(f->ab, &rq2, &rs), 0);
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 9);
	assert_int_equal(r, 0);
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);
}

/* A pure read's request entry is queued, not written, until confirmed; the
 * confirmation writes it (or finds it written by another request's batch); a
 * device that cannot write fails the confirmation, and a device disabled in
 * between does not count as having recorded the entry. */
static void
test_audit_pending_request_entries(void **state)
{
	struct fx *f = *state;
	struct request rq2 = f->rq;
	struct response rs = {.status = 200};
	char msg[256];
	int r;

	enable_ok(f, "file", f->log);
	snprintf(rq2.id, sizeof(rq2.id), "7f1c0000-0000-4000-8000-000000000003");
	assert_int_equal(audit_log_request_pending(f->ab, &f->rq), 0);
	assert_int_equal(f->rq.naudit_tickets, 1);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 0); /* queued only */
	/* another request's write carries it */
	assert_int_equal(audit_log_request(f->ab, &rq2), 0);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 2);
	assert_int_equal(audit_confirm_request(f->ab, &f->rq), 0);
	assert_int_equal(f->rq.naudit_tickets, 0);
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);
	assert_int_equal(audit_log_response(f->ab, &rq2, &rs), 0);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 4);
	assert_int_equal(r, 0);
	/* alone: the confirmation writes it */
	assert_int_equal(audit_log_request_pending(f->ab, &f->rq), 0);
	assert_int_equal(audit_confirm_request(f->ab, &f->rq), 0);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 5);
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);
	/* disabled in between: not recorded as far as the request knows */
	assert_int_equal(audit_log_request_pending(f->ab, &f->rq), 0);
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	assert_int_equal(audit_confirm_request(f->ab, &f->rq), CF_EAUDIT);
	assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 7);
	assert_int_equal(r, 0);
	/* a device that cannot write: queued fine, the confirmation fails */
	if (access("/dev/full", W_OK) != 0)
		return;
	enable_ok(f, "full", "/dev/full");
	r = audit_log_request_pending(f->ab, &f->rq);
	if (r == 0)
		assert_int_equal(audit_confirm_request(f->ab, &f->rq), CF_EAUDIT);
	else
		assert_int_equal(r, CF_EAUDIT);
}

/* Logs n lines, request/response pairs ending with a response (an odd n starts
 * with a lone response), so no response entry is deferred. */
static void
log_n(struct fx *f, int n)
{
	struct response rs = {0};
	for (int i = 0; i < n; i++) {
		if ((n - i) % 2 == 0) {
			assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
		} else {
			rs.status = 200;
			assert_int_equal(audit_log_response(f->ab, &f->rq, &rs), 0);
		}
	}
}

static void
test_audit_chain_continues_across_reload(void **state)
{
	struct fx *f = *state;
	char msg[256], *h1, *h2;
	json_t *e;
	int r;

	enable_ok(f, "file", f->log);
	log_n(f, 3);
	h1 = hash_of(f, "file", "some input");
	/* seal + unseal: the table (and salt) come back from the barrier */
	audit_broker_unload(f->ab);
	assert_false(audit_broker_enabled(f->ab));
	assert_int_equal(audit_broker_load(f->ab), 0);
	assert_true(audit_broker_enabled(f->ab));
	h2 = hash_of(f, "file", "some input");
	assert_string_equal(h1, h2);
	free(h1);
	free(h2);
	log_n(f, 4);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 7);
	assert_int_equal(r, 0);
	/* chain start, 3 entries, the final checkpoint of the unload, then on */
	e = line_json(f->log, 4);
	assert_int_equal(json_integer_value(json_object_get(e, "seq")), 6);
	json_decref(e);

	/* a new broker on the same storage (a restart) continues too */
	audit_broker_free(f->ab);
	assert_int_equal(audit_broker_new(f->v, &f->ab), 0);
	assert_int_equal(audit_broker_load(f->ab), 0);
	log_n(f, 1);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 8);
	assert_int_equal(r, 0);
}

static void
test_audit_torn_tail_is_cut_on_reopen(void **state)
{
	struct fx *f = *state;
	char msg[256];
	FILE *fp;
	int r;

	enable_ok(f, "file", f->log);
	log_n(f, 2);
	audit_broker_unload(f->ab);
	fp = fopen(f->log, "a");
	fputs("{\"seq\":3,\"prev_hash\":\"abc", fp); /* a write cut short */
	fclose(fp);
	assert_int_equal(audit_broker_load(f->ab), 0);
	log_n(f, 2);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 4);
	assert_int_equal(r, 0);
}

/* Writes n lines through a broker; returns the path of the log. */
static void
make_log(struct fx *f, int n)
{
	char msg[256];
	int r;

	enable_ok(f, "file", f->log);
	log_n(f, n);
	/* closed by a final checkpoint: every line is checkable offline */
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), n);
	assert_int_equal(r, 0);
}

/* Splits the file into lines (each with its '\n'). */
static int
split_lines(const char *path, char ***ret)
{
	char *text = slurp(path), *p = text, *nl;
	char **lines = NULL;
	int n = 0;

	while ((nl = strchr(p, '\n')) != NULL) {
		lines = realloc(lines, (size_t)(n + 1) * sizeof(*lines));
		lines[n++] = strndup(p, (size_t)(nl - p + 1));
		p = nl + 1;
	}
	free(text);
	*ret = lines;
	return n;
}

static void
join_lines(const char *path, char **lines, int n)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < n; i++)
		if (lines[i])
			fputs(lines[i], fp);
	fclose(fp);
}

static void
free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static bool
names_line(const char *msg, long k)
{
	char want[32];
	snprintf(want, sizeof(want), "line %ld", k);
	/* "line 1" must not match "line 10" */
	for (const char *p = strstr(msg, want); p; p = strstr(p + 1, want)) {
		char c = p[strlen(want)];
		if (c < '0' || c > '9')
			return true;
	}
	return false;
}

static void
test_audit_verify_intact_and_empty(void **state)
{
	struct fx *f = *state;
	char msg[256], empty[320];
	int r;

	make_log(f, 10);
	snprintf(empty, sizeof(empty), "%s/empty.log", f->dir);
	spit(empty, "");
	assert_int_equal(verify(empty, msg, sizeof(msg), &r), 0);
	assert_int_equal(r, 0);
	snprintf(empty, sizeof(empty), "%s/missing.log", f->dir);
	assert_int_equal(verify(empty, msg, sizeof(msg), &r), -1); /* not written */
	assert_int_equal(r, CF_EIO);
}

static void
test_audit_verify_edited_line(void **state)
{
	struct fx *f = *state;
	char msg[256], **lines, *p, orig;
	int n, r;

	make_log(f, 10);
	/* chain start, 10 entries, final checkpoint: every position but the last
	 * is detectable by the next line's prev_hash */
	for (int k = 1; k <= 11; k++) {
		n = split_lines(f->log, &lines);
		assert_int_equal(n, 12);
		p = strstr(lines[k - 1], "\"time\":\"");
		assert_non_null(p);
		p += 8 + 3; /* a digit of the year */
		orig = *p;
		*p = orig == '9' ? '8' : (char)(orig + 1);
		join_lines(f->log, lines, n);
		assert_int_equal(verify(f->log, msg, sizeof(msg), &r), k);
		assert_int_equal(r, CF_EINVAL);
		assert_true(names_line(msg, k));
		assert_non_null(strstr(msg, "edited"));
		/* undo */
		*p = orig;
		join_lines(f->log, lines, n);
		free_lines(lines, n);
		assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 10);
	}
	/* an edit that breaks the JSON is caught at the line itself, also the last */
	n = split_lines(f->log, &lines);
	lines[11][3] = '#';
	join_lines(f->log, lines, n);
	free_lines(lines, n);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 12);
	assert_int_equal(r, CF_EINVAL);
	assert_true(names_line(msg, 12));
}

static void
test_audit_verify_deleted_line(void **state)
{
	struct fx *f = *state;
	char msg[256], **lines;
	int n, r;

	make_log(f, 10);
	n = split_lines(f->log, &lines);
	for (int k = 2; k <= 11; k++) {
		char *saved = lines[k - 1];
		lines[k - 1] = NULL;
		join_lines(f->log, lines, n);
		lines[k - 1] = saved;
		assert_int_equal(verify(f->log, msg, sizeof(msg), &r), k);
		assert_int_equal(r, CF_EINVAL);
		assert_true(names_line(msg, k));
		assert_non_null(strstr(msg, "removed"));
	}
	free_lines(lines, n);
}

static void
test_audit_verify_reordered_lines(void **state)
{
	struct fx *f = *state;
	char msg[256], **lines, *t;
	int n, r;

	make_log(f, 10);
	n = split_lines(f->log, &lines);
	t = lines[5];
	lines[5] = lines[6];
	lines[6] = t;
	join_lines(f->log, lines, n);
	free_lines(lines, n);
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 6);
	assert_int_equal(r, CF_EINVAL);
	assert_true(names_line(msg, 6));
}

static void
test_audit_verify_foreign_files(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text;
		long line;
	} cases[] = {
	        /* no chain start: nothing is keyed, the file proves nothing */
	        {"not json\n", 1},
	        {"{\"type\":\"request\"}\n", 1},
	        {"{\"seq\":1,\"prev_hash\":\"00\"}\n", 1},
	        {"\n", 1},
	        /* a log of the older, unkeyed format */
	        {"{\"seq\":1,\"prev_hash\":"
	         "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7"
	         "852b855\"}\n{\"seq\":1}\n",
	         2},
	        {"{\"seq\":1,\"prev_hash\":"
	         "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7"
	         "852b855\"}\n",
	         1},
	        /* a checkpoint without its chain start */
	        {"{\"seq\":1,\"prev_hash\":\"00\",\"type\":\"checkpoint\"}\n", 1},
	        {"x\n{\"seq\":1,\"prev_hash\":\"00\",\"type\":\"chain_start\"}\nnot json\n", 3},
	        {"", 0},
	};
	char msg[256];
	int r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		spit(f->log, cases[i].text);
		long line = verify(f->log, msg, sizeof(msg), &r);
		if (cases[i].line == 0) {
			assert_int_equal(r, 0);
			assert_int_equal(line, 0);
		} else {
			assert_int_equal(r, CF_EINVAL);
			assert_int_equal(line, cases[i].line);
		}
	}
}

/* ---- checkpoints, stored anchors, refused requests ---- */

/* Every checkpoint_lines lines a signed checkpoint follows; with the device's
 * public key the whole file verifies as authentic, with another it does not. */
static void
test_audit_checkpoints_sign_the_chain(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	struct audit_verify_report rep;
	char *pk = NULL;
	long cps;

	assert_int_equal(enable(f, "file", f->log, &rs, "checkpoint_lines", "3", NULL), 0);
	assert_int_equal(audit_broker_public_key(f->ab, "file", &pk), 0);
	log_n(f, 10);
	cps = chain_lines(f->log) - 1;
	assert_true(cps >= 3);
	assert_int_equal(audit_verify_file(f->log, pk, true, &rep), 0);
	assert_true(rep.authenticated);
	assert_true(rep.last_cp_line > 0);
	/* closed by the final checkpoint: complete without --allow-partial */
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	assert_int_equal(audit_verify_file(f->log, pk, false, &rep), 0);
	assert_true(rep.authenticated && rep.last_cp_final);
	assert_int_equal(rep.unverified, 0);
	assert_int_equal(audit_verify_file(f->log, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	                                   true, &rep),
	                 CF_EINVAL);
	assert_int_equal(audit_verify_file(f->log, "short", true, &rep), CF_EUNSUPPORTED);
	/* option bounds */
	assert_int_equal(enable(f, "b1", f->log, &rs, "checkpoint_lines", "0", NULL), CF_EINVAL);
	response_reset(&rs);
	assert_int_equal(enable(f, "b2", f->log, &rs, "checkpoint_interval", "48h", NULL),
	                 CF_EINVAL);
	response_reset(&rs);
	free(pk);
}

/* The stored anchor is checked at load: a file cut short while the device was
 * unloaded is refused (tampered), listed so, and nothing is appended to it. */
static void
test_audit_truncated_file_is_refused_at_load(void **state)
{
	struct fx *f = *state;
	char **lines;
	json_t *l, *t;
	struct stat st;
	int n;

	enable_ok(f, "file", f->log);
	log_n(f, 6);
	audit_broker_unload(f->ab); /* seal: a final checkpoint, stored */
	n = split_lines(f->log, &lines);
	join_lines(f->log, lines, n - 2);
	free_lines(lines, n);
	assert_int_equal(audit_broker_load(f->ab), 0);
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(audit_log_request(f->ab, &f->rq), CF_EAUDIT);
	t = audit_broker_tampered(f->ab);
	assert_int_equal(json_array_size(t), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "path")),
	                    "file/");
	json_decref(t);
	l = audit_broker_list(f->ab);
	assert_true(json_is_true(json_object_get(json_object_get(l, "file/"), "tampered")));
	json_decref(l);
	{
		struct stat st2;
		assert_int_equal(stat(f->log, &st2), 0);
		assert_int_equal(st2.st_size, st.st_size);
	}
	/* an intact restart is not tampered */
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	enable_ok(f, "file", f->log);
	log_n(f, 2);
	audit_broker_unload(f->ab);
	assert_int_equal(audit_broker_load(f->ab), 0);
	assert_null(audit_broker_tampered(f->ab));
	assert_int_equal(audit_log_request(f->ab, &f->rq), 0);
}

/* A refused request: request and response entries with the error, the token
 * HMAC'd, "allowed": false when denied. */
static void
test_audit_refused_request_entries(void **state)
{
	struct fx *f = *state;
	struct response rs = {.status = 403};
	json_t *e;

	assert_int_equal(audit_log_refused(f->ab, &f->rq, &rs, true), 0); /* no device */
	enable_ok(f, "file", f->log);
	(void)response_errorf(&rs, "permission denied");
	assert_int_equal(audit_log_refused(f->ab, &f->rq, &rs, true), 0);
	e = line_json(f->log, 1);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "request");
	assert_string_equal(json_string_value(json_object_get(e, "error")), "permission denied");
	assert_true(json_is_false(json_object_get(
	        json_object_get(json_object_get(e, "auth"), "policy_results"), "allowed")));
	assert_hash(f, json_object_get(json_object_get(e, "auth"), "client_token"), ROOT_TOKEN);
	json_decref(e);
	e = line_json(f->log, 2);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "response");
	assert_string_equal(json_string_value(json_object_get(e, "error")), "permission denied");
	json_decref(e);
	response_reset(&rs);
	if (access("/dev/full", W_OK) != 0)
		return;
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	enable_ok(f, "full", "/dev/full");
	rs.status = 400;
	assert_int_equal(audit_log_refused(f->ab, &f->rq, &rs, false), CF_EAUDIT);
}

/* A table written by an older coffer (no chain keys): the device gets them at
 * load, stores them, and a new chain starts after the file's lines. */
static void
test_audit_upgrade_gives_chain_keys(void **state)
{
	struct fx *f = *state;
	struct audit_verify_report rep;
	json_t *t = NULL, *d;
	char *pk = NULL;

	spit(f->log, "{\"seq\":1,\"prev_hash\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca"
	             "495991b7852b855\",\"type\":\"request\"}\n");
	enable_ok(f, "file", f->log);
	audit_broker_unload(f->ab);
	assert_int_equal(view_get_json(f->v, "devices", &t), 0);
	d = json_array_get(json_object_get(t, "devices"), 0);
	json_object_del(d, "chain_key");
	json_object_del(d, "sign_seed");
	assert_int_equal(view_put_json(f->v, "devices", t), 0);
	json_decref(t);
	assert_int_equal(view_delete(f->v, "chain/file"), 0);
	assert_int_equal(audit_broker_load(f->ab), 0);
	assert_null(audit_broker_tampered(f->ab));
	assert_int_equal(view_get_json(f->v, "devices", &t), 0);
	d = json_array_get(json_object_get(t, "devices"), 0);
	assert_true(json_is_string(json_object_get(d, "chain_key")));
	assert_true(json_is_string(json_object_get(d, "sign_seed")));
	json_decref(t);
	log_n(f, 2);
	assert_int_equal(audit_broker_public_key(f->ab, "file", &pk), 0);
	assert_int_equal(audit_broker_disable(f->ab, "file"), 0);
	/* the old line and the first chain are not this key's: reported, not failed */
	assert_int_equal(audit_verify_file(f->log, pk, false, &rep), 0);
	assert_true(rep.authenticated);
	assert_int_equal(rep.preamble, 1);
	assert_int_equal(rep.other, 2); /* its chain start and the final checkpoint of the unload */
	free(pk);
}

/* sys/audit-verify: the live file against the head the server holds. */
static void
test_audit_live_verify(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	json_t *out = NULL;
	char **lines;
	int n;

	enable_ok(f, "file", f->log);
	log_n(f, 6);
	assert_int_equal(audit_broker_verify(f->ab, "file", &out, &rs), 0);
	assert_true(json_is_true(json_object_get(out, "ok")));
	json_decref(out);
	n = split_lines(f->log, &lines);
	join_lines(f->log, lines, n - 1);
	free_lines(lines, n);
	assert_int_equal(audit_broker_verify(f->ab, "file", &out, &rs), 0);
	assert_true(json_is_false(json_object_get(out, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(out, "error")), "removed"));
	json_decref(out);
	assert_int_equal(audit_broker_verify(f->ab, "nope", &out, &rs), CF_ENOTFOUND);
}

struct worker {
	struct fx *f;
	int n;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct request rq = w->f->rq;
	struct response rs = {0};

	for (int i = 0; i < w->n; i++) {
		if (audit_log_request(w->f->ab, &rq) != 0)
			return (void *)1;
		rs.status = 200;
		if (audit_log_response(w->f->ab, &rq, &rs) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_audit_concurrent_writers_keep_the_chain(void **state)
{
	struct fx *f = *state;
	pthread_t th[4];
	struct worker w = {f, 200};
	void *res;
	char msg[256];
	int r;

	enable_ok(f, "file", f->log);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
	}
	assert_int_equal(verify(f->log, msg, sizeof(msg), &r), 4 * 200 * 2);
	assert_int_equal(r, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_audit_enable_list_disable, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_file_mode, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_hash_is_hmac_sha256_of_salt, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_request_entry_hmacs_nested_data, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_response_entry, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_options_raw_accessor_elide_prefix, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_escaping_keeps_lines_parseable, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_failing_device_refuses_requests, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_device_recovers_after_file_removed,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_pending_request_entries, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_deferred_response_entries, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_chain_continues_across_reload, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_torn_tail_is_cut_on_reopen, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_verify_intact_and_empty, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_verify_edited_line, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_verify_deleted_line, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_verify_reordered_lines, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_verify_foreign_files, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_checkpoints_sign_the_chain, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_truncated_file_is_refused_at_load, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_refused_request_entries, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_live_verify, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_upgrade_gives_chain_keys, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_concurrent_writers_keep_the_chain, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
