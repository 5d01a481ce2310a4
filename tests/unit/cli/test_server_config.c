/* test_server_config.c - `coffer server --config` files: every key mapped,
 * storage blocks as --storage specs, FILE:LINE errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/server_config.h"
#include "lib/err.h"

#include <stdio.h>
#include <string.h>

static int
parse(const char *text, struct server_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return server_config_parse("t.hcl", text, strlen(text), c, err, errlen);
}

static void
test_every_key(void **state)
{
	const char *t =
	        "storage \"sqlite\" {\n  path = \"/var/lib/coffer.db\"\n}\n"
	        "listener \"tcp\" {\n"
	        "  address = \"0.0.0.0:8200\"\n"
	        "  tls_cert_file = \"c.pem\"\n  tls_key_file = \"k.pem\"\n"
	        "  max_request_size = 65536\n"
	        "  x_forwarded_for_authorized_addrs = [\"10.0.0.0/8\", \"192.0.2.1\"]\n"
	        "  x_forwarded_for_reject_not_authorized = \"true\"\n"
	        "  telemetry { unauthenticated_metrics_access = true }\n"
	        "}\n"
	        "api_addr = \"https://a:8200\"\ncluster_name = \"c1\"\nlog_level = \"warn\"\n"
	        "telemetry {\n  prometheus_retention_time = \"30s\"\n"
	        "  disable_hostname = true\n}\n"
	        "default_lease_ttl = \"1h\"\nmax_lease_ttl = 86400\nui = true\n"
	        "disable_mlock = true\n";
	struct server_config c;
	char err[512];

	(void)state;
	assert_int_equal(parse(t, &c, err, sizeof(err)), 0);
	assert_string_equal(c.storage, "sqlite:/var/lib/coffer.db");
	assert_string_equal(c.listen, "0.0.0.0:8200");
	assert_string_equal(c.tls_cert, "c.pem");
	assert_string_equal(c.tls_key, "k.pem");
	assert_int_equal(c.max_body, 65536);
	assert_string_equal(c.xff_authorized, "10.0.0.0/8,192.0.2.1");
	assert_true(c.xff_reject);
	assert_true(c.telemetry.unauthenticated_metrics_access);
	assert_int_equal(c.telemetry.prometheus_retention_s, 30);
	assert_true(c.telemetry.disable_hostname);
	assert_string_equal(c.api_addr, "https://a:8200");
	assert_string_equal(c.cluster_name, "c1");
	assert_true(c.has_log_level);
	assert_int_equal(c.log_level, LOG_ERROR);
	assert_int_equal(c.default_lease_ttl, 3600);
	assert_int_equal(c.max_lease_ttl, 86400);
	assert_true(c.ui);
	assert_true(c.disable_mlock);
	server_config_free(&c);
}

static void
test_postgres_spec(void **state)
{
	struct server_config c;
	char err[512];

	(void)state;
	assert_int_equal(parse("storage \"postgres\" {\n connection_url = "
	                       "\"postgres://u:p@h:5432/db?sslmode=disable\"\n schema = \"vault\"\n"
	                       " max_connections = 8\n}\n",
	                       &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.storage,
	                    "postgres:postgres://u:p@h:5432/db?sslmode=disable&schema=vault"
	                    "&max_connections=8");
	server_config_free(&c);
	assert_int_equal(parse("storage \"postgres\" {\n connection_url = \"postgresql://h/db\"\n"
	                       " max_parallel = \"4\"\n}\n",
	                       &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.storage, "postgres:postgresql://h/db?max_connections=4");
	server_config_free(&c);
	assert_int_equal(parse("storage \"inmem\" {}\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.storage, "memory:");
	server_config_free(&c);
}

static void
check_err(const char *text, const char *want)
{
	struct server_config c;
	char err[512];

	if (parse(text, &c, err, sizeof(err)) != CF_EINVAL)
		fail_msg("accepted: %s", text);
	if (strstr(err, want) == NULL)
		fail_msg("[%s]: got \"%s\", want \"%s\"", text, err, want);
	server_config_free(&c);
}

static void
test_errors(void **state)
{
	(void)state;
	check_err("\n\nlistener \"tcp\" {\n  adress = \"x\"\n}\n",
	          "t.hcl:4: unknown key \"adress\" in listener \"tcp\"");
	check_err("log_levl = 1\n", "t.hcl:1: unknown key \"log_levl\"");
	check_err("listener \"unix\" {\n}\n", "t.hcl:1: unknown listener type");
	check_err("storage \"sqlite\" {}\nstorage \"postgres\" {}\n",
	          "t.hcl:1: expected one storage");
	check_err("storage \"sqlite\" {\n}\n", "t.hcl:1: storage \"sqlite\" needs path");
	check_err("storage \"postgres\" {\n connection_url = \"x://u:secret@h\"\n}\n", "t.hcl:2:");
	check_err("storage \"postgres\" {\n connection_url = \"postgres://h\"\n schema = "
	          "\"a;b\"\n}\n",
	          "t.hcl:3: schema");
	check_err("listener \"tcp\" {\n max_request_size = 10\n}\n", "t.hcl:2: max_request_size");
	check_err("listener \"tcp\" {\n tls_cert_file = \"c\"\n}\n", "go together");
	check_err("listener \"tcp\" {\n\n x_forwarded_for_authorized_addrs = \"10.0.0.1/99\"\n}\n",
	          "t.hcl:3: x_forwarded_for_authorized_addrs: \"10.0.0.1/99\"");
	check_err("listener \"tcp\" {\n telemetry {\n  nope = 1\n }\n}\n", "t.hcl:3: unknown key");
	check_err("log_level = \"loud\"\n", "t.hcl:1: log_level");
	check_err("default_lease_ttl = \"2h\"\nmax_lease_ttl = \"1h\"\n", "t.hcl:1:");
	check_err("max_lease_ttl = -5\n", "t.hcl:1: invalid value for max_lease_ttl");
	check_err("ui = \"yes\"\n", "t.hcl:1: ui must be true or false");
	check_err("telemetry = 3\n", "t.hcl:1: telemetry must be a block");
	check_err("a = [\n", "t.hcl:2:1:");
	/* the password of a bad URL is never echoed */
	{
		struct server_config c;
		char err[512];
		assert_int_equal(
		        parse("storage \"postgres\" {\n connection_url = \"x://u:s3cr3t@h\"\n}\n",
		              &c, err, sizeof(err)),
		        CF_EINVAL);
		assert_null(strstr(err, "s3cr3t"));
		server_config_free(&c);
	}
}

static void
test_tls_disable_drops_the_pair_check(void **state)
{
	struct server_config c;
	char err[512];

	(void)state;
	assert_int_equal(parse("listener \"tcp\" {\n tls_disable = 1\n tls_cert_file = \"c\"\n}\n",
	                       &c, err, sizeof(err)),
	                 0);
	assert_true(c.tls_disable);
	server_config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_key),
	        cmocka_unit_test(test_postgres_spec),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_tls_disable_drops_the_pair_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
