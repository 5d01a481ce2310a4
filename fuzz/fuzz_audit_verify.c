/* fuzz_audit_verify.c - audit_verify_file() on arbitrary file contents, without
 * and with a public key, with and without --allow-partial: it must never crash,
 * a failure must name a line within the file, and every line read is accounted
 * for. Build: CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Any 32 bytes are a syntactically valid Ed25519 public key for the verifier. */
static const char pk_b64[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct audit_verify_report rep;
	long nl = 0;
	FILE *fp;
	int r;

	if (!path[0]) {
		const char *tmp = getenv("TMPDIR");
		int fd;
		snprintf(path, sizeof(path), "%s/fuzz-audit-XXXXXX", tmp ? tmp : "/tmp");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	fp = fopen(path, "w");
	if (!fp)
		abort();
	if (size && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);

	for (size_t i = 0; i < size; i++)
		nl += data[i] == '\n';
	if (size && data[size - 1] != '\n')
		nl++;
	for (int mode = 0; mode < 4; mode++) {
		r = audit_verify_file(path, mode & 1 ? pk_b64 : NULL, mode & 2, &rep);
		if (r == 0 && (rep.lines != nl || rep.unverified + rep.preamble + rep.other > nl))
			abort();
		if (r == 0 && (mode & 1) == 0 && rep.authenticated)
			abort();
		if (r == CF_EINVAL && (rep.bad_line < 1 || rep.bad_line > nl))
			abort();
		if (r != 0 && r != CF_EINVAL)
			abort();
		if (strnlen(rep.msg, sizeof(rep.msg)) >= sizeof(rep.msg))
			abort();
	}
	return 0;
}
