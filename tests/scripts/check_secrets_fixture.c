/* check_secrets_fixture.c - input of `scripts/check-secrets --self-test`; never
 * compiled. Every line that ends in "// FLAG" must be reported, no other. */
#include <stdlib.h>

struct entry {
	char *secret, *key, *passphrase, *client_token, *name;
	void (*free)(void *);
};

void fixture(struct entry *e, char *token, char *api_key, char **shares, char *seed, char *key);

void
fixture(struct entry *e, char *token, char *api_key, char **shares, char *seed, char *key)
{
	char *password = NULL, *key_name = NULL, *keyring = NULL, *SECRET = NULL;
	char **keys = NULL;

	free(token);                   // FLAG
	free(e->secret);               // FLAG
	free(api_key);                 // FLAG
	free((char *)e->client_token); // FLAG
	free(password);                // FLAG
	free(e->passphrase);           // FLAG
	free(seed);                    // FLAG
	free(shares[0]);               // FLAG
	free(SECRET);                  // FLAG
	OPENSSL_free(key);             // FLAG
	free(key_name), free(e->key);  // FLAG
	free(token);                   // FLAG

	secmem_free(token, 32);
	secmem_free_str(e->secret);
	free(key_name);
	free(keyring);
	free(keys);
	free(e->name);
	free(e->key); /* not secret: a storage path */
	e->free(token);
	json_free(token);
	sodium_free(seed);
	/* free(token) in a comment */
	puts("free(token) in a string");
	/* a comment over lines
	   free(password);
	*/
}
