/* rawwrite — writes to a store file behind the shim's back, the way a
 * static binary or a raw syscall would. Prints what the kernel answered. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys.h"

static char buf[1 << 20];

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int fd = open(argv[1], O_CREAT | O_WRONLY | O_APPEND, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	long n = atol(argv[2]);
	memset(buf, 'r', sizeof(buf));
	/* The instruction itself: glibc's syscall() is routed by the shim
	 * like the named calls. */
	long r = ms_raw_syscall(SYS_write, fd, buf, (size_t)n);
	printf("raw_write=%ld errno=%s\n", r < 0 ? -1 : r, r < 0 ? strerrorname_np((int)-r) : "0");
	return 0;
}
