/* fuzz_audit_verify.c - audit_verify_file() on arbitrary file contents: it must
 * never crash, and a failure must name a line within the file.
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	char msg[256];
	long line = -1, nl = 0;
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
	r = audit_verify_file(path, &line, msg, sizeof(msg));
	if (r == 0 && line != nl)
		abort();
	if (r == CF_EINVAL && (line < 1 || line > nl))
		abort();
	if (r != 0 && r != CF_EINVAL)
		abort();
	if (strlen(msg) >= sizeof(msg))
		abort();
	return 0;
}
