/* Writes 8 MiB of decoded data to a file in $TMPDIR through stdio, the
 * kind of scratch file that fills a disk when a suite forgets to remove
 * it; a write error (ENOSPC under a quota) fails the test with its reason
 * instead of taking the machine down. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../tests/tmpfile.h"
#include "rle.h"

int main(void)
{
	unsigned char enc[] = {255, 'a', 255, 'b', 2, 'c'};
	unsigned char out[512];
	size_t n = rle_decode(enc, sizeof(enc), out, sizeof(out));
	char path[4096];
	int fd = tmp_file(path, sizeof(path), "bigfile");
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	size_t total = 0;
	while (total < (8u << 20) && fwrite(out, 1, n, f) == n)
		total += n;
	int failed = fclose(f) != 0 || total < (8u << 20);
	int err = errno;
	/* Removed before the report, which needs room to be written too. */
	unlink(path);
	if (failed) {
		printf("%s: write failed after %zu bytes: %s\n", path, total, strerror(err));
		return 1;
	}
	printf("%s: %zu bytes\n", path, total);
	return 0;
}
