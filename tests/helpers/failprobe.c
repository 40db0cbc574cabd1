/* failprobe — file calls run under the preload for tests/test_fail.c
 * (MEMSHIM_FAIL), one line of output per call, all in one process so that
 * rules count across them:
 *
 *	write PATH LEN     open (O_WRONLY|O_CREAT|O_APPEND), write LEN bytes, close
 *	writev PATH LEN    the same with writev of two halves
 *	fwrite PATH LEN    the same through fopen/fwrite/fclose
 *	pwrites PATH N     open O_RDWR|O_CREAT, write 8 KiB, then N pwrites of
 *	                   4 KiB over it (the store copies them into its
 *	                   mapping once the fd has seen a few), one line each,
 *	                   and "mapped PATH = 1" when the file was mapped
 *	open PATH          open O_WRONLY|O_CREAT, close
 *	fsync PATH         open O_WRONLY|O_CREAT, fsync, fdatasync, close
 *	rename A B         rename(A, B)
 *	size PATH          stat's st_size, or the errno
 *	cat PATH           the file's bytes
 *
 * A line reads "OP PATH = RESULT" with RESULT a number or "-1 ERRNO".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static char buf[1 << 20];

static void say(const char *op, const char *path, long r)
{
	if (r < 0)
		printf("%s %s = -1 %s\n", op, path, strerrorname_np(errno));
	else
		printf("%s %s = %ld\n", op, path, r);
}

static int do_open(const char *op, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		say(op, path, -1);
	return fd;
}

int main(int argc, char **argv)
{
	memset(buf, 'x', sizeof(buf));
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *op = argv[i], *p = i + 1 < argc ? argv[i + 1] : "";
		size_t len = i + 2 < argc ? strtoul(argv[i + 2], NULL, 10) : 0;
		if (len > sizeof(buf))
			len = sizeof(buf);
		if (!strcmp(op, "write") || !strcmp(op, "writev")) {
			int fd = do_open(op, p);
			if (fd >= 0) {
				struct iovec v[2] = {{buf, len / 2}, {buf, len - len / 2}};
				say(op, p, op[5] ? writev(fd, v, 2) : write(fd, buf, len));
				close(fd);
			}
			i += 2;
		} else if (!strcmp(op, "pwrites")) {
			int fd = open(p, O_RDWR | O_CREAT, 0644);
			say("write", p, write(fd, buf, 8192));
			for (size_t k = 0; k < len; k++)
				say("pwrite", p, pwrite(fd, buf, 4096, (off_t)(k % 2) * 4096));
			FILE *m = fopen("/proc/self/maps", "r");
			char line[512];
			int mapped = 0;
			while (m && fgets(line, sizeof(line), m))
				mapped |= strstr(line, "/memfd:memshim (deleted)") != NULL;
			if (m)
				fclose(m);
			say("mapped", p, mapped);
			close(fd);
			i += 2;
		} else if (!strcmp(op, "fwrite")) {
			FILE *f = fopen(p, "a");
			if (!f) {
				say(op, p, -1);
			} else {
				size_t k = fwrite(buf, 1, len, f);
				int e = fflush(f) ? errno : 0, c = fclose(f);
				errno = e;
				say(op, p, e || c ? -1 : (long)k);
			}
			i += 2;
		} else if (!strcmp(op, "open")) {
			int fd = open(p, O_WRONLY | O_CREAT, 0644);
			say(op, p, fd < 0 ? -1 : 0);
			if (fd >= 0)
				close(fd);
			i++;
		} else if (!strcmp(op, "fsync")) {
			int fd = do_open(op, p);
			if (fd >= 0) {
				say("fsync", p, fsync(fd));
				say("fdatasync", p, fdatasync(fd));
				close(fd);
			}
			i++;
		} else if (!strcmp(op, "rename")) {
			say(op, p, rename(p, i + 2 < argc ? argv[i + 2] : ""));
			i += 2;
		} else if (!strcmp(op, "size")) {
			struct stat st;
			say(op, p, stat(p, &st) ? -1 : (long)st.st_size);
			i++;
		} else if (!strcmp(op, "cat")) {
			FILE *f = fopen(p, "r");
			size_t k = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
			if (f)
				fclose(f);
			printf("cat %s = %.*s\n", p, (int)k, buf);
			memset(buf, 'x', sizeof(buf));
			i++;
		} else {
			fprintf(stderr, "failprobe: unknown op %s\n", op);
			return 2;
		}
	}
	return 0;
}
