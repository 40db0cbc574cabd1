/* lendops — a file opened and closed again and again, which the shim
 * serves from a kept open file description (shim/lend.c) after its second
 * close, checked for what a fresh open gives.
 *
 *   lendops DIR all     the differential test (tests/test_e2e_diff.c): run
 *                       under the preload on a store directory and without
 *                       it on tmpfs, the outputs must be the same. fd
 *                       numbers are printed: the lowest free one is the
 *                       rule on both sides.
 *   lendops DIR store   under the preload only (tests/test_shim_fd.c):
 *                       that descriptions are lent at all, and never where
 *                       a fresh open differs; exits 1 with a message.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/check.h"
#include "helpers/ops.h"

static const char DATA[] = "0123456789";

static void put(const char *name, const char *s)
{
	int fd = open(P(name), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s) || close(fd)) {
		perror(name);
		exit(2);
	}
}

/* Opens and closes name twice: from then on its description is kept. */
static void twice(const char *name, int flags)
{
	for (int i = 0; i < 2; i++)
		close(open(P(name), flags));
}

/* "fd N off O fl F cloexec C first5 S" of an open. */
static int show_open(const char *label, const char *name, int flags)
{
	int fd = open(P(name), flags);
	if (fd < 0) {
		printf("%s: open -> %s\n", label, en(errno));
		return fd;
	}
	char b[6] = {0};
	off_t off = lseek(fd, 0, SEEK_CUR);
	ssize_t n = (flags & O_ACCMODE) == O_WRONLY ? 0 : pread(fd, b, 5, 0);
	printf("%s: fd %d off %ld fl %#x cloexec %d data '%.*s'\n", label, fd, (long)off,
	       fcntl(fd, F_GETFL), fcntl(fd, F_GETFD), n > 0 ? (int)n : 0, b);
	return fd;
}

static void rd(const char *label, int fd, size_t n)
{
	char b[32] = {0};
	ssize_t r = read(fd, b, n);
	printf("%s: read %zd '%.*s' %s\n", label, r, r > 0 ? (int)r : 0, b, r < 0 ? en(errno) : "");
}

static int fds_listed(void)
{
	char *names[4096];
	int n = sorted_names("/proc/self/fd", 0, names, 4096);
	for (int i = 0; i < n; i++)
		free(names[i]);
	return n;
}

/* A child's view of a lock on name: "unlocked", or the lock's type. */
static const char *posix_lock_seen(const char *name)
{
	int p[2];
	if (pipe(p))
		return "pipe";
	pid_t c = fork();
	if (c == 0) {
		int fd = open(P(name), O_RDWR);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		char r = fcntl(fd, F_GETLK, &fl) < 0 ? 'e' : fl.l_type == F_UNLCK ? 'u' : 'l';
		(void)!write(p[1], &r, 1);
		_exit(0);
	}
	char r = '?';
	(void)!read(p[0], &r, 1);
	waitpid(c, NULL, 0);
	close(p[0]);
	close(p[1]);
	return r == 'u' ? "unlocked" : r == 'l' ? "locked" : "error";
}

static const char *flock_seen(const char *name)
{
	pid_t c = fork();
	if (c == 0) {
		int fd = open(P(name), O_RDONLY);
		_exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2);
	}
	int st;
	waitpid(c, &st, 0);
	return WEXITSTATUS(st) == 0 ? "free" : WEXITSTATUS(st) == 1 ? "held" : "error";
}

static void all(void)
{
	put("f", DATA);
	printf("fds listed at start %d\n", fds_listed());

	/* The same file again and again: offset 0 each time, flags as asked. */
	for (int i = 0; i < 4; i++) {
		int fd = show_open("ro", "f", O_RDONLY);
		rd("ro", fd, 3);
		close(fd);
	}
	int fd = show_open("cloexec", "f", O_RDONLY | O_CLOEXEC);
	close(fd);
	fd = show_open("rw", "f", O_RDWR);
	close(fd);
	printf("fds listed with kept ones %d\n", fds_listed());

	/* Two at once: their own offsets. */
	int a = show_open("a", "f", O_RDONLY), b = show_open("b", "f", O_RDONLY);
	rd("a", a, 4);
	rd("b", b, 2);
	rd("a", a, 2);
	close(a);
	close(b);

	/* A dup keeps the description in use: the next open is a fresh one. */
	twice("f", O_RDONLY);
	a = show_open("dup a", "f", O_RDONLY);
	int d = dup(a);
	rd("dup a", a, 3);
	close(a);
	b = show_open("dup b", "f", O_RDONLY);
	rd("dup d", d, 2);
	rd("dup b", b, 2);
	close(b);
	close(d);
	close(show_open("after dup", "f", O_RDONLY));

	/* Offset moved by lseek, by a stream, by sendfile: back at 0. */
	twice("f", O_RDONLY);
	fd = open(P("f"), O_RDONLY);
	lseek(fd, 7, SEEK_SET);
	close(fd);
	close(show_open("after lseek", "f", O_RDONLY));
	FILE *s = fopen(P("f"), "r");
	char line[32] = {0};
	printf("fgets '%s'\n", fgets(line, 4, s) ? line : "(null)");
	fclose(s);
	s = fopen(P("f"), "r");
	printf("fgets again '%s'\n", fgets(line, 4, s) ? line : "(null)");
	fclose(s);
	close(show_open("after streams", "f", O_RDONLY));
	int p[2];
	if (pipe(p) == 0) {
		fd = open(P("f"), O_RDONLY);
		printf("sendfile %zd\n", sendfile(p[1], fd, NULL, 6));
		close(fd);
		close(show_open("after sendfile", "f", O_RDONLY));
		close(p[0]);
		close(p[1]);
	}

	/* Status flags changed by F_SETFL or ioctl do not come back. */
	twice("f", O_RDONLY);
	fd = open(P("f"), O_RDONLY);
	printf("setfl %d\n", fcntl(fd, F_SETFL, O_NONBLOCK));
	close(fd);
	close(show_open("after setfl", "f", O_RDONLY));
	close(show_open("after setfl again", "f", O_RDONLY));
	twice("f", O_RDONLY);
	fd = open(P("f"), O_RDONLY);
	int on = 1;
	printf("fionbio %d\n", ioctl(fd, FIONBIO, &on));
	close(fd);
	close(show_open("after fionbio", "f", O_RDONLY));

	/* A write through one description, read through the next. */
	twice("f", O_RDWR);
	fd = open(P("f"), O_RDWR);
	printf("write %zd\n", write(fd, "ab", 2));
	close(fd);
	close(show_open("after write", "f", O_RDWR));
	fd = open(P("f"), O_WRONLY | O_APPEND);
	printf("append %zd\n", write(fd, "Z", 1));
	close(fd);
	twice("f", O_WRONLY | O_APPEND);
	fd = open(P("f"), O_WRONLY | O_APPEND);
	printf("append again %zd\n", write(fd, "Y", 1));
	close(fd);
	close(show_open("after appends", "f", O_RDONLY));
	fd = open(P("f"), O_RDWR | O_TRUNC);
	close(fd);
	close(show_open("after trunc", "f", O_RDONLY));
	put("f", DATA);

	/* flock: released with the last fd, kept description or not. */
	twice("f", O_RDONLY);
	fd = open(P("f"), O_RDONLY);
	printf("flock %d\n", flock(fd, LOCK_EX));
	printf("flock while open: %s\n", flock_seen("f"));
	close(fd);
	printf("flock after close: %s\n", flock_seen("f"));
	close(show_open("after flock", "f", O_RDONLY));

	/* POSIX locks: any close of the file drops them... */
	put("g", DATA);
	a = open(P("g"), O_RDWR);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	printf("setlk %d\n", fcntl(a, F_SETLK, &fl));
	printf("lock: %s\n", posix_lock_seen("g"));
	close(open(P("g"), O_RDONLY));
	printf("lock after another fd's close: %s\n", posix_lock_seen("g"));
	close(a);
	/* ... and are held while no fd of it is closed, kept ones too (the
	 * kept description has other flags than the locking fd, and is pushed
	 * out by other files' kept ones). */
	for (int how = 0; how < 2; how++) {
		twice("g", how ? O_RDONLY : O_RDWR);
		a = open(P("g"), how ? O_RDWR : O_RDONLY);
		struct flock rl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
		if (how)
			printf("lockf %d\n", lockf(a, F_TLOCK, 0));
		else
			printf("setlk %d\n", fcntl(a, F_SETLK, &rl));
		for (int i = 0; i < 8; i++) {
			char n[16];
			snprintf(n, sizeof(n), "o%d", i);
			put(n, "x");
			twice(n, O_RDONLY);
		}
		printf("lock after other files' closes: %s\n", posix_lock_seen("g"));
		close(a);
		printf("lock after close: %s\n", posix_lock_seen("g"));
	}

	/* A fork child shares a lent description; the parent's next open is
	 * its own. */
	twice("f", O_RDONLY);
	fd = open(P("f"), O_RDONLY);
	pid_t c = fork();
	if (c == 0) {
		char x[4];
		_exit(read(fd, x, 4) == 4 ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child read %d, offset now %ld\n", WEXITSTATUS(st), (long)lseek(fd, 0, SEEK_CUR));
	close(fd);
	close(show_open("after fork", "f", O_RDONLY));
	c = fork();
	if (c == 0) {
		twice("f", O_RDONLY);
		int k = open(P("f"), O_RDONLY);
		char x[4];
		_exit(read(k, x, 2) == 2 && lseek(k, 0, SEEK_CUR) == 2 ? 0 : 1);
	}
	waitpid(c, &st, 0);
	printf("child's own %d\n", WEXITSTATUS(st));
	close(show_open("after child", "f", O_RDONLY));

	/* Other programs given the description read from it: the next open
	 * is at 0 all the same. Through posix_spawn's dup2 action, a vfork
	 * child's dup2, system(). */
	for (int way = 0; way < 3; way++) {
		twice("f", O_RDONLY);
		fd = open(P("f"), O_RDONLY | O_CLOEXEC);
		char *argv[] = {"head", "-c", "3", (char *)NULL};
		extern char **environ;
		pid_t k = -1;
		if (way == 0) {
			posix_spawn_file_actions_t fa;
			posix_spawn_file_actions_init(&fa);
			posix_spawn_file_actions_adddup2(&fa, fd, 0);
			posix_spawnp(&k, "head", &fa, NULL, argv, environ);
			posix_spawn_file_actions_destroy(&fa);
		} else if (way == 1) {
			k = vfork();
			if (k == 0) {
				dup2(fd, 0);
				execvp("head", argv);
				_exit(127);
			}
		} else {
			int plain = fcntl(fd, F_DUPFD, 7); /* not close-on-exec; dash takes 0-9 */
			char cmd[64];
			snprintf(cmd, sizeof(cmd), "head -c 3 <&%d", plain);
			fflush(stdout);
			printf(" system %d\n", system(cmd));
			close(plain);
		}
		if (k > 0)
			waitpid(k, NULL, 0);
		printf(" (given away %d) offset %ld\n", way, (long)lseek(fd, 0, SEEK_CUR));
		close(fd);
		close(show_open("after given away", "f", O_RDONLY));
	}

	/* Mapped, closed, removed: the mapping keeps the bytes. */
	twice("f", O_RDONLY);
	fd = open(P("f"), O_RDONLY);
	char *m = mmap(NULL, 10, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	twice("f", O_RDONLY);
	printf("unlink %d\n", unlink(P("f")));
	printf("mapped '%.10s'\n", m == MAP_FAILED ? "failed" : m);
	if (m != MAP_FAILED)
		munmap(m, 10);

	/* Removed while kept; a new file of the name is another file. */
	put("h", "old");
	twice("h", O_RDONLY);
	printf("unlink %d\n", unlink(P("h")));
	close(show_open("removed", "h", O_RDONLY));
	put("h", "new");
	close(show_open("new h", "h", O_RDONLY));
	close(show_open("new h again", "h", O_RDONLY));
	printf("rename %d\n", rename(P("g"), P("h")));
	close(show_open("renamed over", "h", O_RDONLY));
	close(show_open("renamed over again", "h", O_RDONLY));

	/* Closing every fd, and dup2 onto any number: the kept ones stay
	 * out of the way. */
	twice("h", O_RDONLY);
	printf("close_range %d\n", close_range(3, ~0U, 0));
	close(show_open("after close_range", "h", O_RDONLY));
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int hits = 0;
	for (int n = 3; n < (int)rl.rlim_cur && n < 4096; n++)
		if (dup2(0, n) == n) {
			hits++;
			close(n);
		}
	printf("dup2 onto every number: %d\n", hits);
	close(show_open("after dup2s", "h", O_RDONLY));
	printf("fds listed at the end %d\n", fds_listed());
}

/* ---- store: the lending itself ------------------------------------------- */


/* How many other fds of this process share fd's description (kcmp). */
static int sharers(int fd)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int n = 0;
	pid_t me = getpid();
	for (int k = 0; k < (int)rl.rlim_cur && k < 1 << 16; k++)
		if (k != fd && syscall(SYS_kcmp, me, me, KCMP_FILE, fd, k) == 0)
			n++;
	return n;
}

/* 1 when the next open of name (flags) is a lent description. */
static int lent(const char *name, int flags)
{
	int fd = open(P(name), flags);
	int r = sharers(fd) == 1;
	close(fd);
	return r;
}

static void *churn(void *arg)
{
	long id = (long)arg, bad = 0;
	char path[PATH_MAX]; /* P()'s buffers are not for threads */
	snprintf(path, sizeof(path), "%s/%s", D, id & 1 ? "t1" : "t0");
	for (int i = 0; i < 3000; i++) {
		int fd = open(path, O_RDONLY);
		char b[11] = {0};
		if (fd < 0 || lseek(fd, 0, SEEK_CUR) != 0 || read(fd, b, 10) != 10 ||
		    strcmp(b, DATA)) {
			bad++;
		} else if (i % 7 == 0) {
			int d = dup(fd);
			close(fd);
			fd = d;
		} else if (i % 11 == 0) {
			FILE *f = fdopen(fd, "r");
			if (f) {
				fclose(f);
				fd = -1;
			}
		}
		if (fd >= 0)
			close(fd);
	}
	return (void *)bad;
}

static void store(void)
{
	put("f", DATA); /* its first close */
	CHECK(!lent("f", O_RDONLY), "the first open after the file's first close was lent");
	CHECK(lent("f", O_RDONLY), "the open after its second close was not lent");
	CHECK(lent("f", O_RDONLY), "the next was not lent");
	CHECK(!lent("f", O_RDWR), "an open for writing was lent a read-only description");
	int a = open(P("f"), O_RDONLY), b = open(P("f"), O_RDONLY);
	CHECK(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) != 0,
	      "two opens at once share a description");
	close(b);
	close(a);

	/* flock, F_SETFL, ioctl, mmap: that description goes. */
	const char *how[] = {"flock", "setfl", "ioctl", "mmap", "setown"};
	for (int i = 0; i < 5; i++) {
		twice("f", O_RDONLY);
		CHECK(lent("f", O_RDONLY), "%s: not lent before", how[i]);
		int fd = open(P("f"), O_RDONLY);
		int on = 1;
		void *m = NULL;
		if (i == 0)
			flock(fd, LOCK_SH);
		else if (i == 1)
			fcntl(fd, F_SETFL, O_NONBLOCK);
		else if (i == 2)
			ioctl(fd, FIONBIO, &on);
		else if (i == 3)
			m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		else
			fcntl(fd, F_SETOWN, getpid());
		close(fd);
		CHECK(!lent("f", O_RDONLY), "%s: lent after it", how[i]);
		if (m && m != MAP_FAILED)
			munmap(m, 4096);
		if (i == 3) { /* a mapped file is never kept again */
			twice("f", O_RDONLY);
			CHECK(!lent("f", O_RDONLY), "mmap: kept again");
			unlink(P("f"));
			put("f", DATA);
		}
	}

	/* A POSIX lock closes the file's kept description first. */
	put("g", DATA);
	twice("g", O_RDWR);
	int fd = open(P("g"), O_RDWR);
	CHECK(sharers(fd) == 1, "not lent before the lock");
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	fcntl(fd, F_SETLK, &fl);
	CHECK(sharers(fd) == 0, "a kept description outlived the lock");
	close(fd);

	/* A removed file's pages go at once, kept or not, whoever removes it:
	 * a quota of 1 MiB takes a 600 KiB file after another one went. */
	static char big[600 << 10];
	memset(big, 'b', sizeof(big));
	fd = open(P("big"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big), "first big write");
	close(fd);
	twice("big", O_RDONLY);
	pid_t c = fork();
	if (c == 0)
		_exit(execlp("rm", "rm", P("big"), (char *)NULL) == 0 ? 0 : 3);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rm failed");
	fd = open(P("big2"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	ssize_t w = write(fd, big, sizeof(big));
	CHECK(w == (ssize_t)sizeof(big), "the second big write: %zd %s", w, en(errno));
	close(fd);
	twice("big2", O_RDONLY);
	CHECK(unlink(P("big2")) == 0, "unlink big2");
	/* and no fd of this process (the shim's hidden ones too) keeps the
	 * pages of either */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	for (int k = 3; k < (int)rl.rlim_cur && k < 1 << 16; k++) {
		struct stat fs;
		if (fstat(k, &fs) == 0 && S_ISREG(fs.st_mode))
			CHECK(fs.st_blocks * 512 < (512 << 10), "fd %d keeps %ld KiB (a removed file's?)", k,
			      (long)(fs.st_blocks / 2));
	}
	struct statvfs sv;
	statvfs(D, &sv);
	CHECK((sv.f_blocks - sv.f_bfree) * sv.f_frsize < (900u << 10), "used %lu KiB",
	      (unsigned long)((sv.f_blocks - sv.f_bfree) * sv.f_frsize >> 10));

	/* A new file in the inode slot of a removed one (the store reuses
	 * the last freed) is kept in its turn: the stale description there
	 * is closed at the next open of the slot, not in the way. */
	put("r1", DATA);
	twice("r1", O_RDONLY);
	CHECK(lent("r1", O_RDONLY), "r1: not kept");
	CHECK(unlink(P("r1")) == 0, "unlink r1");
	put("r2", DATA);
	twice("r2", O_RDONLY);
	CHECK(lent("r2", O_RDONLY), "a file in a removed kept file's slot: not kept");

	/* A removed file that a killed process held goes, whatever this
	 * process keeps of it, as on tmpfs when its last holder dies: a kept
	 * description is not a use of the file (ms_hdr.kept), and the
	 * keeper's rounds (once a second, two looks) free the orphan. */
	fd = open(P("orph"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big), "orph: write");
	close(fd);
	/* the holder forked first: a fork would leave nothing kept here */
	int go[2], ready[2];
	CHECK(pipe(go) == 0 && pipe(ready) == 0, "pipe");
	pid_t holder = fork();
	if (holder == 0) {
		char c;
		int h = read(go[0], &c, 1) == 1 ? open(P("orph"), O_RDONLY) : -1;
		if (write(ready[1], h >= 0 ? "y" : "n", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	twice("orph", O_RDONLY);
	CHECK(lent("orph", O_RDONLY), "orph: not kept");
	char y = 0;
	CHECK(write(go[1], "g", 1) == 1 && read(ready[0], &y, 1) == 1 && y == 'y',
	      "the holder did not open orph");
	CHECK(unlink(P("orph")) == 0, "unlink orph");
	kill(holder, SIGKILL);
	waitpid(holder, &st, 0);
	w = -1;
	for (int t = 0; t < 150 && w != (ssize_t)sizeof(big); t++) {
		fd = open(P("orph2"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
		w = write(fd, big, sizeof(big));
		close(fd);
		if (w != (ssize_t)sizeof(big))
			usleep(100 * 1000);
	}
	CHECK(w == (ssize_t)sizeof(big), "a 600 KiB file within 15 s of the holder's death: %zd %s",
	      w, en(errno));
	CHECK(unlink(P("orph2")) == 0, "unlink orph2");

	/* Threads opening and closing the same files, now and then through
	 * a dup or a stream: each open its own offset at 0. */
	put("t0", DATA);
	put("t1", DATA);
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, churn, (void *)i);
	long bad = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	CHECK(bad == 0, "threads: %ld opens not at 0 or read wrong", bad);
	printf(check_fails ? "FAILED %d\n" : "ok\n", check_fails);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: lendops DIR all|store\n");
		return 2;
	}
	D = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[2], "all"))
		all();
	else if (!strcmp(argv[2], "store"))
		store();
	else
		return 2;
	return check_fails != 0;
}
