/* spew.c - the child of the masker benchmark (bench/mask): writes BYTES bytes
 * (default 1e9) of log-like text to stdout as fast as it can.
 *
 * The text is lines of mixed length: short log lines, medium JSON-ish lines,
 * now and then a long line (8-64 KiB, no newline inside) of base64 or words.
 * About one line in 200 carries a secret, raw, base64-encoded or URL-encoded;
 * the secrets are the values of the environment variables named on the
 * command line (coffer run injects them; the reference run exports them).
 * The text is generated once (8 MiB, a fixed seed) and written over and over
 * in 1 MiB writes, so generating it costs nothing while the clock runs.
 *
 *   spew [-n BYTES] [NAME ...]
 * Exit 0, or 1 when stdout fails (EPIPE included). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPEW_BUF (8u << 20)

static uint64_t seed = 0x5eed2026c0ffee01ull;

static uint32_t
rnd(void)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(seed >> 33);
}

static const char *const words[] = {
        "request", "served", "user",    "cache",  "miss",    "hit",   "latency", "upstream",
        "session", "opened", "closed",  "worker", "started", "queue", "depth",   "retry",
        "timeout", "ok",     "payload", "bytes",  "commit",  "index", "shard",   "lease",
};
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct out {
	char *p;
	size_t n, cap;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->n + n > o->cap)
		n = o->cap - o->n;
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_b64(struct out *o, const unsigned char *s, size_t n)
{
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
		             (i + 2 < n ? s[i + 2] : 0);
		for (int k = 0; k < 4; k++)
			q[k] = (size_t)k <= n - i ? b64[(v >> (18 - 6 * k)) & 63] : '=';
		put(o, q, 4);
	}
}

static void
put_url(struct out *o, const char *s)
{
	char q[4];
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.!~*'()", c)) {
			put(o, (const char *)&c, 1);
		} else {
			snprintf(q, sizeof(q), "%%%02X", c);
			put(o, q, 3);
		}
	}
}

static void
put_secret(struct out *o, const char *v)
{
	switch (rnd() % 3) {
	case 0:
		puts_(o, v);
		break;
	case 1:
		put_b64(o, (const unsigned char *)v, strlen(v));
		break;
	default:
		put_url(o, v);
		break;
	}
}

static void
gen(struct out *o, char *const *secrets, size_t nsec)
{
	char tmp[128];
	while (o->n + 70000 < o->cap) {
		uint32_t kind = rnd() % 1000;
		snprintf(tmp, sizeof(tmp), "2026-12-07T%02u:%02u:%02u.%03uZ ", rnd() % 24,
		         rnd() % 60, rnd() % 60, rnd() % 1000);
		puts_(o, tmp);
		if (kind < 5) { /* a long line */
			size_t len = 8192 + rnd() % 57344;
			size_t end = o->n + len;
			int blob = rnd() % 2;
			while (o->n < end) {
				if (blob) {
					char c = b64[rnd() % 64];
					put(o, &c, 1);
				} else {
					puts_(o, words[rnd() % 24]);
					puts_(o, " ");
				}
			}
		} else if (kind < 300) { /* JSON-ish */
			snprintf(tmp, sizeof(tmp),
			         "{\"level\":\"info\",\"msg\":\"%s "
			         "%s\",\"id\":\"%08x%08x\",\"n\":%u",
			         words[rnd() % 24], words[rnd() % 24], rnd(), rnd(),
			         rnd() % 100000);
			puts_(o, tmp);
			if (nsec > 0 && rnd() % 200 == 0) {
				puts_(o, ",\"token\":\"");
				put_secret(o, secrets[rnd() % nsec]);
				puts_(o, "\"");
			}
			puts_(o, "}");
		} else { /* a log line of 3-20 words */
			size_t nw = 3 + rnd() % 18;
			for (size_t i = 0; i < nw; i++) {
				puts_(o, words[rnd() % 24]);
				if (rnd() % 4 == 0) {
					snprintf(tmp, sizeof(tmp), "=%u", rnd() % 5000);
					puts_(o, tmp);
				}
				puts_(o, " ");
			}
			if (nsec > 0 && rnd() % 200 == 0) {
				puts_(o, "secret=");
				put_secret(o, secrets[rnd() % nsec]);
			}
		}
		puts_(o, "\n");
	}
}

int
main(int argc, char **argv)
{
	unsigned long long total = 1000000000ull;
	char *secrets[64];
	size_t nsec = 0;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		total = strtoull(argv[2], NULL, 10);
		i = 3;
	}
	for (; i < argc && nsec < 64; i++) {
		char *v = getenv(argv[i]);
		if (v == NULL || *v == 0) {
			fprintf(stderr, "spew: %s is not set\n", argv[i]);
			return 1;
		}
		secrets[nsec++] = v;
	}
	struct out o = {malloc(SPEW_BUF), 0, SPEW_BUF};
	if (o.p == NULL)
		return 1;
	gen(&o, secrets, nsec);

	size_t at = 0;
	while (total > 0) {
		size_t n = o.n - at;
		if (n > (1u << 20))
			n = 1u << 20;
		if (n > total)
			n = (size_t)total;
		ssize_t w = write(1, o.p + at, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		total -= (size_t)w;
		at += (size_t)w;
		if (at == o.n)
			at = 0;
	}
	free(o.p);
	return 0;
}
