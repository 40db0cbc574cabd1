/* sysops — file-system calls made through glibc's syscall(), as libuv and
 * CPython make some of them, for the differential test (Test(e2e_diff,
 * syscall) in tests/test_e2e_diff.c): under the preload in a store
 * directory and without it in a tmpfs directory the outputs must be the
 * same. Also: numbers the shim does not handle pass through, errno
 * included.
 *
 *   sysops DIR all */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "helpers/ops.h"

static long out(const char *what, long rc)
{
	int e = errno;
	if (rc < 0)
		printf("%s -> -1 %s\n", what, en(e));
	else
		printf("%s -> %ld -\n", what, rc);
	fflush(stdout);
	return rc;
}

static void st(const char *what, long rc, const struct stat *s)
{
	int e = errno;
	if (rc < 0)
		printf("%s -> -1 %s\n", what, en(e));
	else
		printf("%s -> 0 mode=%o size=%lld nlink=%lu\n", what, (unsigned)s->st_mode,
		       S_ISDIR(s->st_mode) ? 0LL : (long long)s->st_size, (unsigned long)s->st_nlink);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	D = argv[1];
	struct stat s;
	struct statx x;
	char buf[4096];
	long fd = out("openat creat f", syscall(SYS_openat, AT_FDCWD, P("f"), O_RDWR | O_CREAT, 0644));
	out("write f", syscall(SYS_write, fd, "hello", 5));
	out("pwrite64 f", syscall(SYS_pwrite64, fd, "HE", 2, 0));
	out("lseek f", syscall(SYS_lseek, fd, 0, SEEK_END));
	st("fstat f", syscall(SYS_fstat, fd, &s), &s);
	st("stat f", syscall(SYS_stat, P("f"), &s), &s);
	st("newfstatat f", syscall(SYS_newfstatat, AT_FDCWD, P("f"), &s, 0), &s);
	long r = out("statx f", syscall(SYS_statx, AT_FDCWD, P("f"), 0, STATX_BASIC_STATS, &x));
	if (r == 0)
		printf("statx f: mode=%o size=%llu\n", x.stx_mode, (unsigned long long)x.stx_size);
	out("statx missing", syscall(SYS_statx, AT_FDCWD, P("missing"), 0, STATX_BASIC_STATS, &x));
	out("statx empty path on fd", syscall(SYS_statx, (int)fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x));
	out("faccessat2 f", syscall(SYS_faccessat2, AT_FDCWD, P("f"), R_OK, AT_EACCESS));
	out("faccessat missing", syscall(SYS_faccessat, AT_FDCWD, P("missing"), F_OK));
	out("mkdirat d", syscall(SYS_mkdirat, AT_FDCWD, P("d"), 0755));
	out("mkdir d again", syscall(SYS_mkdir, P("d"), 0755));
	out("symlinkat l", syscall(SYS_symlinkat, "f", AT_FDCWD, P("l")));
	long n = out("readlinkat l", syscall(SYS_readlinkat, AT_FDCWD, P("l"), buf, sizeof(buf)));
	if (n > 0)
		printf("readlinkat l: %.*s\n", (int)n, buf);
	out("linkat f h", syscall(SYS_linkat, AT_FDCWD, P("f"), AT_FDCWD, P("h"), 0));
	out("renameat2 noreplace", syscall(SYS_renameat2, AT_FDCWD, P("h"), AT_FDCWD, P("f"), RENAME_NOREPLACE));
	out("renameat2 h g", syscall(SYS_renameat2, AT_FDCWD, P("h"), AT_FDCWD, P("g"), 0));
	struct open_how how = {.flags = O_RDONLY};
	long g = out("openat2 g", syscall(SYS_openat2, AT_FDCWD, P("g"), &how, sizeof(how)));
	if (g >= 0) {
		n = out("read g", syscall(SYS_read, g, buf, sizeof(buf)));
		if (n > 0)
			printf("read g: %.*s\n", (int)n, buf);
		out("close g", syscall(SYS_close, g));
	}
	long dfd = out("open d", syscall(SYS_open, P("d"), O_RDONLY | O_DIRECTORY));
	out("read dir", syscall(SYS_read, dfd, buf, sizeof(buf)));
	out("close d", syscall(SYS_close, dfd));
	dfd = out("open D", syscall(SYS_openat, AT_FDCWD, D, O_RDONLY | O_DIRECTORY));
	/* getdents64: the names, sorted (order is the file system's) */
	char names[16][64];
	int k = 0;
	for (;;) {
		long got = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (got <= 0)
			break;
		for (long off = 0; off < got;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			off += e->d_reclen;
			if (k < 16)
				snprintf(names[k++], 64, "%.40s:%d", e->d_name, e->d_type);
		}
	}
	qsort(names, (size_t)k, 64, (int (*)(const void *, const void *))strcmp);
	printf("getdents64 D ->");
	for (int i = 0; i < k; i++)
		printf(" %s", names[i]);
	printf("\n");
	out("close D", syscall(SYS_close, dfd));
	/* copy_file_range updates the target's mtime, by any route */
	long c = out("openat c", syscall(SYS_openat, AT_FDCWD, P("c"), O_RDWR | O_CREAT, 0644));
	struct timespec old[2] = {{1, 0}, {1, 0}};
	out("utimensat c", syscall(SYS_utimensat, AT_FDCWD, P("c"), old, 0));
	off_t in = 0;
	out("copy_file_range f c", syscall(SYS_copy_file_range, fd, &in, c, NULL, 5, 0));
	syscall(SYS_stat, P("c"), &s);
	printf("c after copy: size=%lld mtime_moved=%d\n", (long long)s.st_size, s.st_mtim.tv_sec > 1);
	out("ftruncate c", syscall(SYS_ftruncate, c, 2));
	out("fchmod c", syscall(SYS_fchmod, c, 0600));
	st("stat c", syscall(SYS_stat, P("c"), &s), &s);
	out("close_range", syscall(SYS_close_range, c, c, 0));
	out("fcntl closed", syscall(SYS_fcntl, c, F_GETFD));
	out("truncate g", syscall(SYS_truncate, P("g"), 1));
	out("chmod g", syscall(SYS_chmod, P("g"), 0640));
	st("lstat l", syscall(SYS_lstat, P("l"), &s), &s);
	out("unlinkat d dir", syscall(SYS_unlinkat, AT_FDCWD, P("d"), AT_REMOVEDIR));
	out("unlink l", syscall(SYS_unlink, P("l")));
	out("rmdir missing", syscall(SYS_rmdir, P("missing")));
	out("chdir D", syscall(SYS_chdir, D));
	n = out("getcwd len ok", syscall(SYS_getcwd, buf, sizeof(buf)) == (long)strlen(D) + 1);
	out("relative stat f", syscall(SYS_stat, "f", &s));
	out("chdir /", syscall(SYS_chdir, "/"));
	/* this process's fd directory by every route: the shim's own fds are
	 * out of sight, so the lists are the same as without it */
	static const char *const fdd[] = {"/proc/self/fd", "/dev/fd/", "/proc/thread-self/fd"};
	for (int j = 0; j < 3; j++) {
		long lfd = syscall(SYS_openat, AT_FDCWD, fdd[j], O_RDONLY | O_DIRECTORY);
		int m = 0;
		char seen[64][16];
		for (long got; (got = syscall(SYS_getdents64, lfd, buf, sizeof(buf))) > 0;)
			for (long off = 0; off < got;) {
				struct dirent64 *e = (struct dirent64 *)(buf + off);
				off += e->d_reclen;
				if (e->d_name[0] != '.' && m < 64)
					snprintf(seen[m++], 16, "%.15s", e->d_name);
			}
		syscall(SYS_close, lfd);
		printf("getdents64 %s -> %d entries\n", fdd[j], m);
		DIR *dd = opendir(fdd[j]);
		int k2 = 0;
		for (struct dirent *e; dd && (e = readdir(dd));)
			k2 += e->d_name[0] != '.';
		if (dd)
			closedir(dd);
		printf("readdir %s -> %d entries\n", fdd[j], k2);
		struct dirent **list;
		int k3 = scandir(fdd[j], &list, NULL, NULL);
		for (int i = 0; i < k3; i++)
			free(list[i]);
		if (k3 >= 0)
			free(list);
		printf("scandir %s -> %d entries\n", fdd[j], k3);
	}
	/* errors the kernel gives before anything is written or named */
	struct iovec bad[2] = {{buf, 1}, {buf, (size_t)-1 / 2}};
	long wf = syscall(SYS_openat, AT_FDCWD, P("w"), O_RDWR | O_CREAT, 0644);
	out("writev overflowing lengths", writev((int)wf, bad, 2));
	volatile int neg = -1; /* a count the compiler cannot see */
	out("writev negative count", writev((int)wf, bad, neg));
	st("stat w after", syscall(SYS_stat, P("w"), &s), &s);
	syscall(SYS_close, wf);
	out("link empty old", link("", P("x")));
	out("rename empty old", rename("", P("x")));
	out("rename empty new", rename(P("w"), ""));
	/* numbers the shim leaves alone */
	out("getpid same", syscall(SYS_getpid) == getpid());
	out("unknown number", syscall(100000));
	out("close bad fd", syscall(SYS_close, 1000000));
	out("close f", syscall(SYS_close, fd));
	return 0;
}
