/* Encodes data to a file in $TMPDIR, reads it back, decodes it. */
#include <stdio.h>
#include <string.h>

#include "../tests/tmpfile.h"
#include "rle.h"

int main(void)
{
	unsigned char in[10000], enc[20000], back[10000];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)((i / 300) % 7);
	size_t n = rle_encode(in, sizeof(in), enc);

	char path[4096];
	int fd = tmp_file(path, sizeof(path), "roundtrip");
	if (fd < 0 || write(fd, enc, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0) {
		perror(path);
		return 1;
	}
	unsigned char got[20000];
	ssize_t k = read(fd, got, sizeof(got));
	close(fd);
	unlink(path);
	size_t m = rle_decode(got, (size_t)k, back, sizeof(back));
	printf("%s: %zu bytes encoded to %zu\n", path, sizeof(in), n);
	return k == (ssize_t)n && m == sizeof(in) && memcmp(in, back, m) == 0 ? 0 : 1;
}
