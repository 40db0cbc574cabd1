/* reuseops — files created and removed again and again, whose memfds the
 * keeper empties and gives to new files (core/data.c, the reuse ring),
 * checked for what tmpfs gives: every new file empty, and a removed file
 * still read whole by whatever holds it.
 *
 *   reuseops DIR all     the differential test (tests/test_e2e_diff.c): run
 *                        under the preload on a store directory and without
 *                        it on tmpfs, the outputs must be the same.
 *   reuseops DIR store [N]  under the preload only (tests/test_shim_fd.c):
 *                        the memfds are reused, emptied as the kernel sees
 *                        them, and never one another process had; exits 1
 *                        with a message. N files made first stay.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/check.h"
#include "sys.h"

#define CHURN 300
#define PAGE 4096
#define KINDS 5 /* the ways one() makes a file */

static const char *D;

static const char *P(const char *name)
{
	static char buf[4][4096];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, sizeof(buf[0]), "%s/%s", D, name);
	return b;
}

static void fill(int fd, char c)
{
	char b[PAGE];
	memset(b, c, sizeof(b));
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		printf("write %c: %s\n", c, strerror(errno));
}

/* The memfd under a store fd as the kernel sees it: glibc's fstat and
 * syscall() are the shim's. */
static int raw_fstat(int fd, struct stat *st)
{
	return (int)ms_raw_syscall(SYS_fstat, fd, st);
}

/* One new file made as `how` says, looked at before anything is written
 * to it, then written, closed and removed: 1 when it was not empty.
 * kino (store section): its memfd's st_ino, 0 elsewhere. */
static int one(int how, char c, unsigned long *kino)
{
	const char *p = P("c");
	int fd = -1;
	switch (how) {
	case 0:
		fd = open(p, O_CREAT | O_EXCL | O_RDWR, 0644);
		break;
	case 1: /* made without an open, opened read-only */
		if (mknod(p, S_IFREG | 0644, 0) == 0)
			fd = open(p, O_RDONLY);
		break;
	case 2:
		fd = open(D, O_TMPFILE | O_RDWR, 0600);
		break;
	case 3: /* made by a read-only open */
	case 4: /* later made a sparse 1 MiB, without a page */
		fd = open(p, O_CREAT | O_EXCL | O_RDONLY, 0644);
		break;
	}
	if (fd < 0) {
		printf("make %d: %s\n", how, strerror(errno));
		return 1;
	}
	struct stat st, raw;
	char b[8];
	int bad = fstat(fd, &st) || st.st_size || st.st_blocks || pread(fd, b, sizeof(b), 0) != 0;
	if (kino) {
		bad |= raw_fstat(fd, &raw) || raw.st_size || raw.st_blocks;
		*kino = raw.st_ino;
	}
	if (how == 1 || how >= 3) {
		close(fd);
		fd = open(p, O_WRONLY);
	}
	if (how == 4 && ftruncate(fd, 1 << 20))
		printf("ftruncate: %s\n", strerror(errno));
	else if (how != 4)
		fill(fd, c);
	close(fd);
	if (how != 2)
		unlink(p);
	return bad;
}

/* n files of each kind: how many were not empty. */
static int churn(int n, char c, unsigned long *kinos)
{
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad += one(i % KINDS, c, kinos ? &kinos[i] : NULL);
	return bad;
}

/* What fd reads from 0 (4 KiB at most): its length and first byte. */
static void show(const char *what, int fd)
{
	char b[PAGE];
	ssize_t n = pread(fd, b, sizeof(b), 0);
	printf("%s: %zd bytes, first '%c'\n", what, n, n > 0 ? b[0] : '-');
}

/* A child made by the fork system call itself runs no fork handler of
 * the shim: it never counts its reference to the file it inherits. It
 * reads that file once the parent has closed it, removed it and made
 * CHURN files more. */
static void uncounted_child(void)
{
	int go[2];
	if (pipe(go))
		return;
	int fd = open(P("a"), O_CREAT | O_RDWR, 0644);
	fill(fd, 'A');
	pid_t pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		char x;
		close(go[1]);
		if (read(go[0], &x, 1) == 1)
			show("raw fork child reads the removed file", fd);
		_exit(0);
	}
	close(go[0]);
	close(fd);
	unlink(P("a"));
	printf("after it, %d of %d new files not empty\n", churn(CHURN, 'B', NULL), CHURN);
	if (write(go[1], "x", 1) != 1)
		printf("pipe: %s\n", strerror(errno));
	close(go[1]);
	waitpid(pid, NULL, 0);
}

/* The same with the fd sent over a socket to a process made before. */
static void sent_fd(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return;
	pid_t pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		close(sv[0]);
		char x, cb[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {&x, 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
				   .msg_controllen = sizeof(cb)};
		if (recvmsg(sv[1], &m, 0) != 1 || !CMSG_FIRSTHDR(&m))
			_exit(1);
		int fd;
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(fd));
		if (read(sv[1], &x, 1) == 1) /* the parent's churn is done */
			show("receiver reads the removed file", fd);
		_exit(0);
	}
	close(sv[1]);
	int fd = open(P("s"), O_CREAT | O_RDWR, 0644);
	fill(fd, 'S');
	char x = 'x', cb[CMSG_SPACE(sizeof(int))];
	memset(cb, 0, sizeof(cb));
	struct iovec iov = {&x, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			   .msg_controllen = sizeof(cb)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	if (sendmsg(sv[0], &m, 0) != 1)
		printf("sendmsg: %s\n", strerror(errno));
	close(fd);
	unlink(P("s"));
	printf("after it, %d of %d new files not empty\n", churn(CHURN, 'T', NULL), CHURN);
	if (write(sv[0], "x", 1) != 1)
		printf("socket: %s\n", strerror(errno));
	waitpid(pid, NULL, 0);
	close(sv[0]);
}

/* A removed file a program still maps. */
static void mapped(void)
{
	int fd = open(P("m"), O_CREAT | O_RDWR, 0644);
	fill(fd, 'M');
	char *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	unlink(P("m"));
	printf("after it, %d of %d new files not empty\n", churn(CHURN, 'N', NULL), CHURN);
	if (p != MAP_FAILED) {
		printf("the mapping of the removed file reads '%c%c'\n", p[0], p[PAGE - 1]);
		munmap(p, PAGE);
	}
}

static void all(void)
{
	printf("%d of %d new files not empty\n", churn(CHURN, 'x', NULL), CHURN);
	uncounted_child();
	sent_fd();
	mapped();
}

static int has(const unsigned long *v, int n, unsigned long k)
{
	for (int i = 0; i < n; i++)
		if (v[i] == k)
			return 1;
	return 0;
}

/* The memfd of a removed file that a fork child had too. */
static void shared_kino(unsigned long *kino)
{
	int fd = open(P("f"), O_CREAT | O_RDWR, 0644);
	struct stat raw;
	fill(fd, 'F');
	*kino = raw_fstat(fd, &raw) ? 0 : raw.st_ino;
	pid_t pid = fork();
	if (pid == 0) {
		close(fd); /* its reference goes back: the file goes at the parent's */
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	close(fd);
	unlink(P("f"));
}

static void store(int keep)
{
	static unsigned long k[CHURN], k2[CHURN];
	/* Files that stay: with a low fd limit, the keeper's share of memfds
	 * goes to them and the churn's are its holders'. */
	for (int i = 0; i < keep; i++) {
		char name[32];
		snprintf(name, sizeof(name), "keep%d", i);
		int fd = open(P(name), O_CREAT | O_WRONLY, 0644);
		CHECK(fd >= 0, "%s: %s", name, strerror(errno));
		close(fd);
	}
	int bad = churn(CHURN, 'x', k);
	CHECK(bad == 0, "%d of %d new files not empty (the store's or the kernel's answer)", bad,
	      CHURN);
	int distinct = 0;
	for (int i = 0; i < CHURN; i++)
		distinct += !has(k, i, k[i]);
	/* The pool holds 64; a loop that removes what it makes needs few
	 * more than that once memfds come back. */
	CHECK(distinct <= CHURN / 2, "%d memfds for %d files made and removed: none reused",
	      distinct, CHURN);
	unsigned long fk;
	shared_kino(&fk);
	bad = churn(CHURN, 'y', k2);
	CHECK(bad == 0, "%d of %d new files not empty", bad, CHURN);
	CHECK(fk && !has(k2, CHURN, fk),
	      "the memfd of a removed file a fork child had too went to a new file");
	printf(check_fails ? "FAILED %d\n" : "ok\n", check_fails);
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: reuseops DIR all|store [FILES TO KEEP]\n");
		return 2;
	}
	D = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[2], "all"))
		all();
	else if (!strcmp(argv[2], "store"))
		store(argc == 4 ? atoi(argv[3]) : 0);
	else
		return 2;
	return check_fails != 0;
}
