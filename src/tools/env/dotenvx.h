/* dotenvx.h - .env files encrypted the way dotenvx encrypts them: a
 * DOTENV_PUBLIC_KEY header, `encrypted:` values (crypto/ecies.h), private keys
 * in the environment or in a .env.keys file (docs/env.md "Encryption
 * (dotenvx)", docs/internals/dotenvx.md).
 *
 * Values are read as dotenvx reads them for encryption: the entries npm dotenv
 * finds (tools/env/dotenv.h), quotes removed, and inside double quotes \n, \r
 * and \t turned into LF, CR and TAB; inside single quotes \' becomes '. They
 * are never expanded.
 *
 * Files are rewritten in place: only the bytes from the end of a key to the end
 * of its value change (`KEY=` + quote + new value + quote), so comments,
 * `export`, blank lines and trailing text stay. Every write is atomic (a temp
 * file in the same directory, fsync, rename) and leaves the file mode 0600.
 * A call computes every result first, so any error in the input (a bad file,
 * a missing or wrong key) leaves every file as it was; only a failing write
 * (disk full) can leave the files written before it changed.
 *
 * Errors: negative CF_E* with one line of text in err (errlen bytes). err names
 * files and keys, never a value or a private key. CF_EINVAL bad input (not a
 * .env file, a bad key), CF_ENOTFOUND missing file or key, CF_EDENIED no
 * private key found, CF_ECRYPTO a value that no available private key decrypts,
 * CF_EIO read/write failure, CF_ETOOBIG, CF_ENOMEM. */
#ifndef CF_TOOLS_DOTENVX_H
#define CF_TOOLS_DOTENVX_H

#include "tools/env/dotenv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DOTENVX_PREFIX "encrypted:"

struct dotenvx_opts {
	/* The keys file (-fk). NULL: .env.keys in the directory of each env file. */
	const char *keys_file;
	/* Only these keys are encrypted/decrypted (names or fnmatch patterns);
	 * n_only 0: every key. */
	char *const *only;
	size_t n_only;
	/* Process environment ("K=V" strings, NULL-terminated; NULL: none), where
	 * DOTENV_PRIVATE_KEY[_ENV] is looked up before the keys file. */
	char *const *environ;
	/* encrypt/decrypt: print each resulting file to out instead of writing it
	 * (a key pair created for encryption is still stored in the keys file). */
	bool to_stdout;
	FILE *out;
};

/* The key names of an env file: from its first DOTENV_PUBLIC_KEY* entry if
 * text (len bytes, may be NULL) has one, else from the file name (.env ->
 * DOTENV_PUBLIC_KEY, .env.production -> DOTENV_PUBLIC_KEY_PRODUCTION, ...).
 * *ret_public and *ret_private are new strings. 0, CF_EINVAL, CF_ENOMEM. */
int dotenvx_key_names(const char *path, const char *text, size_t len, char **ret_public,
                      char **ret_private, char *err, size_t errlen);

/* Encrypts every plaintext value of each file in paths[0..n) (not keys ending
 * in _PLAIN, not DOTENV_PUBLIC_KEY*, not values already `encrypted:`), with the
 * file's public key; a file without one gets the dotenvx header and a new key
 * pair whose private key is appended to the keys file (an existing private key
 * of that name there is reused). The quote of each value is kept when the
 * plaintext written back into it reads the same, else the first of " ' ` that
 * does, so a later decrypt gives back the same values. */
int dotenvx_encrypt_files(char *const *paths, size_t n, const struct dotenvx_opts *o, char *err,
                          size_t errlen);

/* Decrypts every `encrypted:` value of each file in place: the plaintext goes
 * back inside the quotes the encrypted value had (as dotenvx does). A value no
 * key decrypts fails the whole call (CF_ECRYPTO) and no file changes. */
int dotenvx_decrypt_files(char *const *paths, size_t n, const struct dotenvx_opts *o, char *err,
                          size_t errlen);

/* Sets key to value in the file at path, creating the file (and its key pair)
 * when missing: encrypted unless plain or key ends in _PLAIN. An existing key
 * keeps its place and quotes (every definition of it changes); a new one is
 * appended as KEY="...". */
int dotenvx_set(const char *path, const char *key, const char *value, size_t value_len, bool plain,
                const struct dotenvx_opts *o, char *err, size_t errlen);

/* The values of paths[0..n), decrypted, into *ret (zeroed by the caller; free
 * with dotenv_free): within a file the last definition wins, across files the
 * first file that defines a key. DOTENV_PUBLIC_KEY* entries are included. */
int dotenvx_get(char *const *paths, size_t n, const struct dotenvx_opts *o, struct dotenv *ret,
                char *err, size_t errlen);

/* The key pair of the env file at path (which need not exist): its public key
 * and the private key found for it (environment, then keys file). When the
 * file has no public key and no private key is stored, a fresh pair is made
 * (and not stored). Names as dotenvx_key_names(); ret_pub is 66 hex digits,
 * ret_priv 64 (wipe it). 0, or a negative code. */
int dotenvx_keypair(const char *path, const struct dotenvx_opts *o, char **ret_pubname,
                    char **ret_privname, char ret_pub[67], char ret_priv[65], char *err,
                    size_t errlen);

/* Decrypts one `encrypted:` value (len bytes) with the 32-byte private key priv
 * into *ret (NUL-terminated, *ret_len bytes; a secret: secmem_free(*ret,
 * *ret_len + 1)). CF_EINVAL: not `encrypted:` + base64 of a well-formed
 * payload, or a plaintext with a NUL byte; CF_ECRYPTO: the key does not
 * decrypt it; CF_ENOMEM. */
int dotenvx_decrypt_value(const uint8_t priv[32], const char *value, size_t len, char **ret,
                          size_t *ret_len) __attribute__((warn_unused_result));

/* For `coffer run`: decrypts in place every value of env that starts with
 * `encrypted:`, with the private keys for the file env_path was read from
 * (DOTENV_PRIVATE_KEY[_ENV] in environ, NULL-terminated "K=V" strings or NULL,
 * then the .env.keys beside env_path). Values not starting with `encrypted:`
 * are left alone, so a file without encrypted values needs no key. The old
 * ciphertexts are wiped. Returns 0, CF_EDENIED (no private key), CF_ECRYPTO (a
 * value no key decrypts; err names the key), CF_EINVAL, CF_ENOMEM; on failure
 * some values may already be decrypted, so the caller should dotenv_free(env). */
int dotenvx_decrypt_values(struct dotenv *env, const char *env_path, char *const *environ,
                           char *err, size_t errlen);

#endif
