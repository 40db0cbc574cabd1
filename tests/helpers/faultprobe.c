/* faultprobe — one scenario run under the preload with MEMSHIM_TEST_FAULT
 * by tests/test_fault.c. Prints "key=value" lines the test checks, among
 * them how many fds the scenario left open; uses libc only, and prints
 * through stdio, whose writes do not reach the shim's real-function table.
 *
 *   faultprobe create PATH     open(O_CREAT) once
 *   faultprobe write PATH N    create, write N bytes once, report the size
 *   faultprobe close PATH      create, write, unlink, close
 *   faultprobe roundtrip PATH  create, write "hello", read it back
 *   faultprobe rename A B      rename A to B
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[1 << 16];

static const char *en(int r) { return r < 0 ? strerrorname_np(errno) : "0"; }

static int nfds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *cmd = argv[1], *path = argv[2];
	int before = nfds();
	if (!strcmp(cmd, "create")) {
		int fd = open(path, O_CREAT | O_WRONLY, 0644);
		printf("open=%d errno=%s\n", fd < 0 ? -1 : 0, en(fd));
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "write") && argc == 4) {
		size_t n = (size_t)atol(argv[3]);
		int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0 || n > sizeof(buf))
			return 3;
		memset(buf, 'w', n);
		ssize_t k = write(fd, buf, n);
		printf("write=%zd errno=%s\n", k, en((int)k));
		struct stat st;
		fstat(fd, &st);
		printf("size=%lld\n", (long long)st.st_size);
		close(fd);
	} else if (!strcmp(cmd, "close")) {
		int fd = open(path, O_CREAT | O_RDWR, 0644);
		if (fd < 0 || write(fd, buf, 5000) != 5000 || unlink(path))
			return 3;
		int r = close(fd);
		printf("close=%d errno=%s\n", r, en(r));
		r = fcntl(fd, F_GETFD);
		printf("after=%d errno=%s\n", r, en(r));
	} else if (!strcmp(cmd, "roundtrip")) {
		int fd = open(path, O_CREAT | O_RDWR, 0644);
		if (fd < 0) {
			printf("open=-1 errno=%s\n", strerrorname_np(errno));
			return 3;
		}
		ssize_t k = write(fd, "hello", 5);
		char got[8] = "";
		if (k == 5)
			k = pread(fd, got, 5, 0);
		printf("read=%.5s\n", got);
		close(fd);
	} else if (!strcmp(cmd, "rename") && argc == 4) {
		int r = rename(path, argv[3]);
		printf("rename=%d errno=%s\n", r, en(r));
	} else {
		return 2;
	}
	printf("fds_left=%d\n", nfds() - before);
	return 0;
}
