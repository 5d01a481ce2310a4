/* negative.c - values that look like secrets but are not (negative.h). */
#include "tools/scan/negative.h"

#include <stdint.h>
#include <string.h>

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool
is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
is_alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_ident(int c)
{
	return is_alnum(c) || c == '_';
}

static bool
is_b64(int c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

/* Drops surrounding blanks and one pair of quotes, and caps the length. */
static void
trim(const char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len;

	if (n > NEGATIVE_MAX_VALUE)
		n = NEGATIVE_MAX_VALUE;
	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	while (n > 0 &&
	       (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n >= 2 && (*p == '"' || *p == '\'' || *p == '`') && p[n - 1] == *p) {
		p++;
		n -= 2;
	}
	*s = p;
	*len = n;
}

static bool
starts(const char *s, size_t len, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i] != '\0'; i++)
		if (i >= len || lower((unsigned char)s[i]) != lower((unsigned char)prefix[i]))
			return false;
	return true;
}

static bool
ends(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return n <= len && starts(s + len - n, n, suffix);
}

static bool
equals(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && starts(s, len, word);
}

bool
negative_contains(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	if (n == 0)
		return true;
	for (i = 0; i + n <= len; i++)
		if (lower((unsigned char)s[i]) == lower((unsigned char)needle[0]) &&
		    starts(s + i, len - i, needle))
			return true;
	return false;
}

static bool
contains_any(const char *s, size_t len, const char *const *needles)
{
	for (; *needles != NULL; needles++)
		if (negative_contains(s, len, *needles))
			return true;
	return false;
}

/* Placeholders --------------------------------------------------------- */

/* Words that mark a value as a stand-in wherever they appear in it. A real
 * random token never holds them: the longest is a run of 7 letters, which in
 * a random base62 string turns up once in about 10^12 positions. */
static const char *const placeholder_words[] = {
        "changeme",   "change_me",     "change-me",    "change_this",  "changethis",  "replace_me",
        "replaceme",  "replace-me",    "replace_with", "your_",        "your-",       "yourapikey",
        "yourtoken",  "yoursecret",    "yourpassword", "placeholder",  "redacted",    "dummy",
        "example",    "sample",        "todo",         "fixme",        "xxxx",        "****",
        "...",        "<your",         "insert_",      "insert-",      "put_your",    "fake_",
        "fake-",      "notasecret",    "not_a_secret", "not-a-secret", "secret_here", "key_here",
        "token_here", "password_here", "-here",        "_here",        "lorem",       "foobar",
        "12345678",   "abcdefgh",      "qwerty",       NULL,
};

/* Values that are one common word: the field is set, but not to a secret. */
static const char *const placeholder_exact[] = {
        "password", "passwd",   "pass",    "pwd",       "secret",      "token",     "apikey",
        "api_key",  "key",      "none",    "null",      "nil",         "undefined", "true",
        "false",    "yes",      "no",      "empty",     "string",      "str",       "value",
        "test",     "testing",  "admin",   "root",      "user",        "username",  "default",
        "required", "optional", "unset",   "tbd",       "n/a",         "na",        "foo",
        "bar",      "baz",      "hunter2", "secret123", "password123", "password1", "pa$$w0rd",
        "p@ssw0rd", "p@ssword", "letmein", "mysecret",  "mypassword",  "s3cr3t",    "xyz",
        "abc",      "abc123",   NULL,
};

bool
negative_placeholder(const char *s, size_t len)
{
	const char *const *w;
	size_t i, run = 1, best = 0;

	trim(&s, &len);
	if (len == 0)
		return true;
	for (w = placeholder_exact; *w != NULL; w++)
		if (equals(s, len, *w))
			return true;
	/* <anything> in angle or square brackets: <YOUR_API_KEY>, [token] */
	if (len >= 3 && ((s[0] == '<' && s[len - 1] == '>') || (s[0] == '[' && s[len - 1] == ']')))
		return true;
	if (contains_any(s, len, placeholder_words))
		return true;
	/* a run of one character: xxxxxxxx, ghp_0000…, sk_live_XXXX… */
	for (i = 1; i < len; i++) {
		run = s[i] == s[i - 1] ? run + 1 : 1;
		if (run > best)
			best = run;
	}
	if (best >= 8 || (len >= 4 && best * 2 >= len))
		return true;
	return false;
}

/* References ----------------------------------------------------------- */

static const char *const reference_words[] = {
        "os.environ",
        "os.getenv",
        "getenv(",
        "process.env",
        "system.getenv",
        "os.getenv",
        "env.fetch",
        "env[",
        "environ[",
        "environment.getenvironmentvariable",
        "secretkeyref",
        "valuefrom",
        "{{",
        "}}",
        "${",
        "$(",
        "%(",
        "<%",
        "#{",
        "arn:aws:",
        "!ref ",
        "!sub ",
        "!getatt",
        "env(",
        "config(",
        "getsecret",
        "get_secret",
        "vault(",
        "lookup(",
        NULL,
};

bool
negative_reference(const char *s, size_t len)
{
	size_t i;

	trim(&s, &len);
	if (len == 0)
		return false;
	if (contains_any(s, len, reference_words))
		return true;
	/* a format field anywhere: "Bearer {token}", "{n:14}.suffix" */
	for (i = 0; i < len; i++)
		if (s[i] == '{') {
			size_t j = i + 1;

			while (j < len &&
			       (is_ident((unsigned char)s[j]) || s[j] == ':' || s[j] == '.'))
				j++;
			if (j > i + 1 && j < len && s[j] == '}')
				return true;
		}
	/* a format directive filled in at run time: %s, %-12v, %d\ (before an
	 * escaped quote) */
	if (len >= 2 && s[0] == '%') {
		for (i = 1; i < len && strchr("-+ #0123456789.*l", s[i]) != NULL; i++)
			;
		if (i < len && strchr("sdiuvqxXfgpc", s[i]) != NULL) {
			for (i++; i < len && (s[i] == '\\' || s[i] == '"' || s[i] == '\''); i++)
				;
			if (i == len)
				return true;
		}
	}
	/* $NAME, %NAME%, {name}: a whole value that only names a variable */
	if (len >= 2 && s[0] == '$') {
		for (i = 1; i < len && is_ident((unsigned char)s[i]); i++)
			;
		if (i == len)
			return true;
	}
	if (len >= 3 &&
	    ((s[0] == '%' && s[len - 1] == '%') || (s[0] == '{' && s[len - 1] == '}'))) {
		for (i = 1; i + 1 < len && (is_ident((unsigned char)s[i]) || s[i] == '.'); i++)
			;
		if (i + 1 == len)
			return true;
	}
	return false;
}

/* Encrypted values ------------------------------------------------------ */

bool
negative_encrypted(const char *s, size_t len)
{
	size_t i;

	trim(&s, &len);
	if (starts(s, len, "ENC[") || starts(s, len, "encrypted:") || starts(s, len, "vault:v") ||
	    starts(s, len, "!vault") || negative_contains(s, len, "$ANSIBLE_VAULT;") ||
	    negative_contains(s, len, "-----BEGIN PGP MESSAGE") ||
	    negative_contains(s, len, "-----BEGIN AGE ENCRYPTED FILE"))
		return true;
	/* sealed-secrets ciphertexts: long base64 that starts with version 2 */
	if (len >= 300 && s[0] == 'A' && s[1] == 'g') {
		for (i = 0; i < len && is_b64((unsigned char)s[i]); i++)
			;
		if (i == len)
			return true;
	}
	return false;
}

/* Hashes and identifiers ------------------------------------------------ */

static bool
is_uuid(const char *s, size_t len)
{
	size_t i;

	if (len != 36)
		return false;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static const char *const hash_prefixes[] = {
        "sha1:",
        "sha224:",
        "sha256:",
        "sha384:",
        "sha512:",
        "md5:",
        "sha1-",
        "sha256-",
        "sha384-",
        "sha512-",
        "h1:",
        "--hash=",
        "$2a$",
        "$2b$",
        "$2x$",
        "$2y$",
        "$argon2",
        "$scrypt$",
        "$pbkdf2",
        "$1$",
        "$5$",
        "$6$",
        "$7$",
        "$y$",
        "$apr1$",
        "{ssha}",
        "{sha}",
        "{bcrypt}",
        "{noop}",
        "data:",
        "nonce-",
        "pbkdf2_sha256$",
        "pbkdf2:sha256:",
        "scrypt:",
        NULL,
};

bool
negative_hash(const char *s, size_t len)
{
	const char *const *p;

	trim(&s, &len);
	if (is_uuid(s, len))
		return true;
	/* a Twilio-style SID: two capitals and 32 lower-case hex (AC…, SK…) */
	if (len == 34 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z') {
		size_t i;

		for (i = 2;
		     i < len && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')); i++)
			;
		if (i == len)
			return true;
	}
	for (p = hash_prefixes; *p != NULL; p++)
		if (starts(s, len, *p))
			return true;
	if (negative_contains(s, len, ";base64,"))
		return true;
	return false;
}

/* Public material ------------------------------------------------------ */

static const char *const public_prefixes[] = {
        "ssh-rsa ",        "ssh-dss ",       "ssh-ed25519 ", "ssh-ed448 ",           "ecdsa-sha2-",
        "sk-ssh-ed25519@", "sk-ecdsa-sha2-", "AAAAB3NzaC1",  "AAAAC3NzaC1lZDI1NTE5", "AAAAE2VjZHNh",
        "pk_live_",        "pk_test_",       NULL,
};

static const char *const public_armor[] = {
        "-----BEGIN PUBLIC KEY",
        "-----BEGIN RSA PUBLIC KEY",
        "-----BEGIN CERTIFICATE",
        "-----BEGIN TRUSTED CERTIFICATE",
        "-----BEGIN X509 CRL",
        "-----BEGIN NEW CERTIFICATE",
        "-----BEGIN PGP PUBLIC KEY BLOCK",
        "-----BEGIN PGP SIGNATURE",
        "-----BEGIN SSH2 PUBLIC KEY",
        "---- BEGIN SSH2 PUBLIC KEY",
        NULL,
};

bool
negative_public(const char *s, size_t len)
{
	const char *const *p;
	size_t i;

	trim(&s, &len);
	for (p = public_prefixes; *p != NULL; p++)
		if (starts(s, len, *p))
			return true;
	for (p = public_armor; *p != NULL; p++)
		if (starts(s, len, *p))
			return true;
	if (ends(s, len, ".apps.googleusercontent.com"))
		return true;
	if (len == 42 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < len && is_hex((unsigned char)s[i]); i++)
			;
		if (i == len)
			return true;
	}
	return false;
}

/* Documentation samples ------------------------------------------------- */

/* Kept in pieces so that this file is no sample itself for other scanners. */
static const char *const doc_samples[][3] = {
        {"AKIAIOSFODNN7", "EXAMPLE", ""},
        {"wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY", "EXAMPLEKEY"},
        {"SflKxwRJSMeKKF2QT4fwpMeJf36POk6y", "JV_adQssw5c", ""},
        {"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4g", "RG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ", ""},
};

static bool
contains_pieces(const char *s, size_t len, const char *const *pc)
{
	size_t i, a = strlen(pc[0]), b = strlen(pc[1]), c = strlen(pc[2]);

	for (i = 0; i + a + b + c <= len; i++)
		if (memcmp(s + i, pc[0], a) == 0 && memcmp(s + i + a, pc[1], b) == 0 &&
		    memcmp(s + i + a + b, pc[2], c) == 0)
			return true;
	return false;
}

bool
negative_doc_sample(const char *s, size_t len)
{
	size_t i;

	trim(&s, &len);
	for (i = 0; i < sizeof(doc_samples) / sizeof(doc_samples[0]); i++)
		if (contains_pieces(s, len, doc_samples[i]))
			return true;
	return false;
}

bool
negative_value(const char *s, size_t len)
{
	return negative_placeholder(s, len) || negative_reference(s, len) ||
	       negative_encrypted(s, len) || negative_hash(s, len) || negative_public(s, len) ||
	       negative_doc_sample(s, len);
}

/* The text before a value ---------------------------------------------- */

static const char *const context_words[] = {
        "digest",       "hash",      "checksum", "etag",       "integrity",  "nonce",
        "commit",       "sha1",      "sha256",   "sha512",     "uuid",       "fingerprint",
        "secretkeyref", "valuefrom", "--hash=",  "data:image", "public_key", "publickey",
        "public-key",   "pubkey",    NULL,
};

bool
negative_context(const char *line, size_t off)
{
	size_t from = off > 80 ? off - 80 : 0, i;

	/* stay on the value's own line and in its own field of a list or
	 * object: {"public_key": "…", "private_key": "…"} */
	for (i = off; i > from; i--)
		if (line[i - 1] == '\n' || line[i - 1] == ',' || line[i - 1] == ';' ||
		    line[i - 1] == '{' || line[i - 1] == '&' || line[i - 1] == '?') {
			from = i;
			break;
		}
	return contains_any(line + from, off - from, context_words);
}
