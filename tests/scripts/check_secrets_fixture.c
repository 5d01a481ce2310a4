/* check_secrets_fixture.c - input of `scripts/check-secrets --self-test`; never
 * compiled. Every line that ends in "// FLAG" must be reported, no other. */
#include <stdlib.h>

struct entry {
	char *secret, *key, *passphrase, *client_token, *name, **tokens, **secrets;
	void (*free)(void *);
};

void fixture(struct entry *e, char *token, char *api_key, char **shares, char *seed, char *key);

void
fixture(struct entry *e, char *token, char *api_key, char **shares, char *seed, char *key)
{
	char *password = NULL, *key_name = NULL, *keyring = NULL, *SECRET = NULL;
	char **keys = NULL, **passwords = NULL, **names = NULL;
	char *grown;

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
	free(                          // FLAG
	        password);
	free(keys);                     // FLAG
	free(keys[1]);                  // FLAG
	free(e->tokens);                // FLAG
	free(e->secrets[0]);            // FLAG
	free(passwords);                // FLAG
	grown = realloc(e->secret, 64); // FLAG
	grown = realloc(                // FLAG
	        token, 64);
	e->key = OPENSSL_realloc(e->key, 64); // FLAG
	CRYPTO_free(key, __FILE__, __LINE__); // FLAG
	OPENSSL_free(e->secrets);             // FLAG

	secmem_free(token, 32);
	secmem_free_str(e->secret);
	free(key_name);
	free(keyring);
	free(keys); /* not secret: the names of keys */
	grown = realloc(names, 64);
	grown = realloc(keys, 64); /* not secret: names */
	CRYPTO_free(e->name, __FILE__, __LINE__);
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

	/* Calls over several lines, as clang-format leaves long ones. */
	/* clang-format off */
	CRYPTO_free(   // FLAG
	        token, __FILE__,
	        __LINE__);
	free(          // FLAG
	        e->secrets[1]);
	free(          /* not secret: the comment may be on the first line */
	        keys);
	free(
	        keys); /* not secret: or on the argument's line */
	grown = realloc(keys,
	                64); /* not secret: or on any other line of the call */
	/* clang-format on */
}
