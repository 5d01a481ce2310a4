/* negative.h - the hard negatives of the scanner: values that look like
 * secrets but are not (docs/scanner.md "What is never reported").
 *
 * Every function looks at a candidate secret value (s, len bytes, not
 * NUL-terminated; surrounding quotes and blanks are ignored) and returns true
 * when the value must not be reported. They are pure: no allocation, no
 * locale, safe from any thread; each runs in time linear in len (values longer
 * than NEGATIVE_MAX_VALUE bytes are judged on their first NEGATIVE_MAX_VALUE
 * bytes). A rule's check calls them only after its pattern matched, so they
 * are off the scanner's hot path. */
#ifndef CF_TOOLS_SCAN_NEGATIVE_H
#define CF_TOOLS_SCAN_NEGATIVE_H

#include <stdbool.h>
#include <stddef.h>

#define NEGATIVE_MAX_VALUE 4096

/* A placeholder: changeme, <YOUR_API_KEY>, your-api-key-here, REPLACE_ME,
 * TODO, xxxx…, ****, REDACTED, dummy, example, sk-..., a bare word such as
 * "password" or "none", or a run of one character (ghp_xxxx…, npm_0000…). */
bool negative_placeholder(const char *s, size_t len);

/* A reference to a value kept elsewhere: os.environ[...], os.getenv(...),
 * process.env.X, System.getenv, os.Getenv, ENV.fetch, ${X}, $X, $(cat …),
 * %(x)s, {{ .Values.x }}, ${{ secrets.X }}, {{ vault … }}, secretKeyRef,
 * <%= … %>, #{…}, an AWS ARN, a printf-style directive (%s, %v), a format field
 * anywhere in the value ({token}, {n:14}). */
bool negative_reference(const char *s, size_t len);

/* An encrypted value: sops ENC[AES256_GCM,…], $ANSIBLE_VAULT / !vault,
 * dotenvx "encrypted:", Vault/coffer transit "vault:v1:", PGP messages and age
 * files, a sealed-secrets ciphertext. */
bool negative_encrypted(const char *s, size_t len);

/* A hash or an identifier: UUID, a Twilio-style SID (AC/SK + 32 hex), sha256:/sha1:/sha512:/md5:
 * digests, bcrypt
 * ($2a$ $2b$ $2y$), argon2, scrypt, pbkdf2 and crypt(3) hashes, SRI and lockfile
 * integrity (sha512-… sha384-… sha256-…), go.sum h1:, --hash=sha256: pins,
 * data:…;base64, URIs, CSP nonce-… values. */
bool negative_hash(const char *s, size_t len);

/* Public material: PEM public keys, certificates and certificate requests, PGP
 * public key blocks, OpenSSH public keys (ssh-rsa, ssh-ed25519, ecdsa-sha2-…,
 * also their bare base64 body), Stripe publishable keys (pk_live_, pk_test_),
 * Google OAuth client ids (….apps.googleusercontent.com), Ethereum wallet
 * addresses (0x + 40 hex). */
bool negative_public(const char *s, size_t len);

/* A value from vendors' documentation that is public on purpose: the AWS
 * example key pair and the jwt.io sample token. */
bool negative_doc_sample(const char *s, size_t len);

/* Any of the above. */
bool negative_value(const char *s, size_t len);

/* The text in front of a value on its line says it is no secret: line is the
 * start of the line holding the value and off the value's offset in it (only
 * the last 80 bytes before it, back to the line start or a `,` `;` `{` `&` `?`
 * that opens the value's field, are looked at). True for digest/hash/checksum/
 * etag/integrity/nonce/commit/sha/uuid/fingerprint-named fields,
 * secretKeyRef/valueFrom references, --hash= pins and data: URIs. */
bool negative_context(const char *line, size_t off);

/* True when s (len bytes) contains needle, ASCII case-insensitively. A helper
 * for the rules' checks. */
bool negative_contains(const char *s, size_t len, const char *needle);

#endif
