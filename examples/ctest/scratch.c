/* scratch N - writes N MiB to a scratch file in $TMPDIR, 1 MiB at a time,
 * and says how big the file system under it is (statvfs), what it wrote,
 * or which write failed and why. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char mib[1 << 20];
	const char *dir = getenv("TMPDIR");
	char path[4096];
	struct statvfs sv;
	int n = argc > 1 ? atoi(argv[1]) : 1;
	snprintf(path, sizeof(path), "%s/scratch.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0 || fstatvfs(fd, &sv) != 0) {
		perror(path);
		return 1;
	}
	printf("store of %llu bytes: ", (unsigned long long)sv.f_blocks * sv.f_frsize);
	memset(mib, 's', sizeof(mib));
	for (int i = 0; i < n; i++)
		if (write(fd, mib, sizeof(mib)) != (ssize_t)sizeof(mib)) {
			printf("write %d: %s\n", i + 1, strerror(errno));
			return 1;
		}
	printf("wrote %d MiB\n", n);
	return 0;
}
