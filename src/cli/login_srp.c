/* login_srp.c - the client side of the SRP-6a login (docs/internals/auth.md, SRP) for
 * `coffer login --method=srp` (login.h): a and A, then login/init, then x, u,
 * S, K and M1 from the server's salt and B, then login/verify, and the token is
 * accepted only when the server's M2 matches ours (so only a server holding
 * the verifier can hand us a token). The password, a, x, S and K never leave
 * this process and are wiped before returning. */
#include "crypto/srp6a.h"
#include "auth/srp/srp.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/login.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The client's secrets, in one place so one call wipes them all. */
struct srp_client {
	uint8_t a[SRP_EXP_BYTES], x[SRP_HASH_BYTES], S[SRP_N_BYTES], K[SRP_HASH_BYTES];
	uint8_t A[SRP_N_BYTES], B[SRP_N_BYTES], salt[SRP_SALT_BYTES], u[SRP_HASH_BYTES];
	uint8_t M1[SRP_HASH_BYTES], M2[SRP_HASH_BYTES];
	char hex[2 * SRP_N_BYTES + 1];
};

/* A string field of the answer's data, or NULL. */
static const char *
data_str(const struct client_resp *resp, const char *key)
{
	return json_string_value(json_object_get(client_resp_data(resp), key));
}

static char *
mount_path(const char *mount, const char *suffix)
{
	size_t n = strlen(mount) + strlen(suffix) + sizeof("auth//");
	char *p = malloc(n);

	if (!p)
		cli_oom();
	snprintf(p, n, "auth/%s/%s", mount, suffix);
	return p;
}

int
login_srp(const char *mount, const char *username, const char *password, json_t **ret_response)
{
	const struct srp6a_group *grp = srp6a_group_default();
	struct srp_client *c = NULL;
	struct client_resp init = {0}, verify = {0};
	char *init_path = mount_path(mount, "login/init"),
	     *verify_path = mount_path(mount, "login/verify");
	const char *session, *salt_hex, *B_hex, *m2_hex;
	uint8_t raw[SRP_N_BYTES];
	size_t blen;
	json_t *body = NULL;
	int r;

	if (!grp)
		cli_oom();
	c = calloc(1, sizeof(*c));
	if (!c)
		cli_oom();
	if (!srp_parse_username(username)) {
		cli_err("invalid username \"%s\": lowercase letters, digits and ._@+- only",
		        username);
		r = CF_EINVAL;
		goto out;
	}
	r = CF_EINTERNAL;
	if (RAND_priv_bytes(c->a, sizeof(c->a)) != 1 ||
	    srp6a_pow_g(grp, c->a, sizeof(c->a), c->A) != 0) {
		cli_err("cannot compute the SRP public value");
		goto out;
	}
	util_hex(c->A, sizeof(c->A), c->hex);
	body = json_pack("{s:s, s:s}", "username", username, "A", c->hex);
	if (!body)
		cli_oom();
	r = cli_request("POST", init_path, NULL, body, &init);
	json_decref(body);
	body = NULL;
	if (r < 0)
		goto out;

	session = data_str(&init, "session");
	salt_hex = data_str(&init, "salt");
	B_hex = data_str(&init, "B");
	r = CF_EINVAL;
	if (!session || !salt_hex || !B_hex ||
	    srp_parse_hex_exact(salt_hex, c->salt, sizeof(c->salt)) < 0 ||
	    srp_parse_hex(B_hex, raw, sizeof(raw), &blen) < 0 ||
	    srp6a_public_check(grp, raw, blen, c->B) < 0) {
		/* B mod N = 0 (or no B at all) would let anyone pass as the server */
		cli_err("the server's SRP answer is invalid (salt, B or session)");
		goto out;
	}
	if (srp6a_u(grp, c->A, c->B, c->u) < 0) {
		cli_err("the server's B gives u = 0: refusing to log in");
		goto out;
	}
	if (srp6a_x(grp, c->salt, sizeof(c->salt), username, strlen(username), password,
	            strlen(password), c->x) != 0 ||
	    srp6a_client_S(grp, c->B, c->x, c->u, c->a, sizeof(c->a), c->S) != 0 ||
	    srp6a_K(grp, c->S, c->K) != 0 ||
	    srp6a_M1(grp, username, strlen(username), c->salt, sizeof(c->salt), c->A, c->B, c->K,
	             c->M1) != 0 ||
	    srp6a_M2(grp, c->A, c->M1, c->K, c->M2) != 0) {
		cli_err("cannot compute the SRP proof");
		r = CF_EINTERNAL;
		goto out;
	}
	util_hex(c->M1, sizeof(c->M1), c->hex);
	body = json_pack("{s:s, s:s}", "session", session, "M1", c->hex);
	if (!body)
		cli_oom();
	r = cli_request("POST", verify_path, NULL, body, &verify);
	if (r < 0)
		goto out;

	/* docs/internals/auth.md, SRP: check M2 before trusting the token */
	m2_hex = data_str(&verify, "M2");
	r = CF_EDENIED;
	if (!m2_hex || srp_parse_hex_exact(m2_hex, raw, SRP_HASH_BYTES) < 0 ||
	    CRYPTO_memcmp(raw, c->M2, SRP_HASH_BYTES) != 0) {
		cli_err("the server did not prove that it holds your verifier (M2 mismatch): "
		        "its token is not used");
		goto out;
	}
	if (!json_is_object(json_object_get(verify.json, "auth"))) {
		cli_err("the server's answer carries no token");
		goto out;
	}
	*ret_response = json_incref(verify.json);
	r = 0;
out:
	json_decref(body);
	client_resp_clear(&init);
	client_resp_clear(&verify);
	free(init_path);
	free(verify_path);
	secmem_free(c, sizeof(*c));
	return r;
}
