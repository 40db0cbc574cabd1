/* efaultops — calls given bad pointers, for the differential test
 * (Test(e2e_diff, efault) in tests/test_e2e_diff.c): the kernel answers
 * EFAULT for a path, a name or a buffer it cannot read or write; under the
 * preload, in a store directory, the same calls must give the same answers
 * and the process must live on.
 *
 *   efaultops DIR all       DIR: an existing, empty directory
 *
 * Bad pointers: NULL, an address in the middle of the address space that
 * nothing maps (0xdeadc0de, as pjdfstest uses), and one past the user half
 * of the address space. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers/ops.h"

static void out(const char *what, const char *bad, long rc)
{
	int e = errno;
	if (rc < 0)
		printf("%s(%s) -> -1 %s\n", what, bad, en(e));
	else
		printf("%s(%s) -> %ld -\n", what, bad, rc);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	D = argv[1];
	/* a file, a directory and a symlink to work on */
	int fd = open(P("f"), O_RDWR | O_CREAT, 0644);
	if (fd < 0 || write(fd, "hello", 5) != 5)
		return 2;
	mkdir(P("d"), 0755);
	symlink("f", P("l"));
	struct {
		const char *name;
		void *p;
	} bads[] = {
		{"NULL", NULL},
		{"DEADCODE", (void *)(uintptr_t)0xdeadc0de},
		{"HIGH", (void *)(uintptr_t)0xffffffffffff0000ULL},
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const char *b = bads[i].name;
		char *bp = bads[i].p;
		struct stat st;
		char buf[64];
		/* a bad path */
		out("open", b, open(bp, O_RDONLY));
		out("open creat", b, open(bp, O_WRONLY | O_CREAT, 0644));
		out("openat", b, openat(AT_FDCWD, bp, O_RDONLY));
		out("creat", b, creat(bp, 0644));
		out("mkdir", b, mkdir(bp, 0755));
		out("rmdir", b, rmdir(bp));
		out("unlink", b, unlink(bp));
		out("chmod", b, chmod(bp, 0644));
		out("chown", b, chown(bp, 0, 0));
		out("lchown", b, lchown(bp, 0, 0));
		out("truncate", b, truncate(bp, 0));
		out("stat", b, stat(bp, &st));
		out("lstat", b, lstat(bp, &st));
		out("access", b, access(bp, F_OK));
		out("readlink", b, readlink(bp, buf, sizeof(buf)));
		out("mkfifo", b, mkfifo(bp, 0644));
		out("utimensat", b, utimensat(AT_FDCWD, bp, NULL, 0));
		/* one bad path of two */
		out("link old", b, link(bp, P("n")));
		out("link new", b, link(P("f"), bp));
		out("rename old", b, rename(bp, P("n")));
		out("rename new", b, rename(P("f"), bp));
		out("symlink target", b, symlink(bp, P("n")));
		out("symlink path", b, symlink("f", bp));
		/* a bad buffer for a good path (NULL is a valid "now" for
		 * utimensat: only the other two) */
		if (bp) {
			out("stat buf", b, stat(P("f"), (struct stat *)bp));
			out("lstat buf", b, lstat(P("l"), (struct stat *)bp));
			out("fstat buf", b, fstat(fd, (struct stat *)bp));
			out("fstatat buf", b, fstatat(AT_FDCWD, P("d"), (struct stat *)bp, 0));
			out("statx buf", b, statx(AT_FDCWD, P("f"), 0, STATX_BASIC_STATS, (void *)bp));
			out("readlink buf", b, readlink(P("l"), bp, 64));
			out("utimensat times", b, utimensat(AT_FDCWD, P("f"), (void *)bp, 0));
			out("futimens times", b, futimens(fd, (void *)bp));
			out("read buf", b, pread(fd, bp, 5, 0));
			out("write buf", b, pwrite(fd, bp, 5, 0));
		}
		/* the tree is as it was */
		out("stat f", "-", stat(P("f"), &st) == 0 ? (long)st.st_size : -1);
		out("stat n", "-", stat(P("n"), &st));
	}
	close(fd);
	return 0;
}
