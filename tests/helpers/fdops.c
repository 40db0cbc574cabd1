/* fdops — what a program does with an fd beyond read and write, for the
 * differential tests (Test(e2e_diff, proc_fd), (e2e_diff, o_path) and
 * (e2e_diff, fd_errno) in tests/test_e2e_diff.c): under the preload in a
 * store directory and without it in a tmpfs directory, the outputs must be
 * the same.
 *
 *   fdops DIR proc|opath|errno|notify
 *
 * proc: readlink of /proc/self/fd/N (and /proc/<pid>/fd/N, readlinkat,
 * realpath) for files, directories, renamed, hard-linked and unlinked
 * files; linkat(AT_FDCWD, "/proc/self/fd/N", ..., AT_SYMLINK_FOLLOW) and
 * linkat(fd, "", ..., AT_EMPTY_PATH), of O_TMPFILE files with and without
 * O_EXCL and of unlinked files.
 * opath: O_PATH fds of a file, a directory and a symlink (O_NOFOLLOW):
 * which calls work on them and which fail with EBADF.
 * errno: writev with an invalid iov_len, F_NOTIFY on a file and an O_PATH
 * fd, F_CREATED_QUERY, copy_file_range's mtime.
 * notify: dnotify (F_NOTIFY): which change sends which registration its
 * signal, one-shot and multishot, removal, SIGIO by default.
 *
 * Paths printed are relative to DIR ("$D/..."); nothing that legitimately
 * differs (fd and inode numbers, times) is printed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "helpers/ops.h"

#ifndef F_CREATED_QUERY
#define F_CREATED_QUERY (1024 + 4) /* F_LINUX_SPECIFIC_BASE + 4, Linux 6.12 */
#endif

static long out(const char *what, long rc)
{
	int e = errno;
	if (rc < 0)
		printf("%s -> -1 %s\n", what, en(e));
	else
		printf("%s -> %ld\n", what, rc > 0 && rc < 1000 ? rc : rc ? 1 : 0);
	fflush(stdout);
	errno = e;
	return rc;
}

static int outfd(const char *what, int fd)
{
	int e = errno;
	if (fd < 0)
		printf("%s -> -1 %s\n", what, en(e));
	else
		printf("%s -> fd\n", what);
	fflush(stdout);
	return fd;
}

/* A path printed with DIR replaced by $D. */
static void path_line(const char *what, const char *p)
{
	size_t n = strlen(D);
	if (strncmp(p, D, n) == 0)
		printf("%s -> $D%s\n", what, p + n);
	else
		printf("%s -> %s\n", what, p);
	fflush(stdout);
}

static const char *fdpath(int fd)
{
	static char b[64];
	snprintf(b, sizeof(b), "/proc/self/fd/%d", fd);
	return b;
}

static void link_of(const char *what, const char *link)
{
	char buf[PATH_MAX];
	errno = 0;
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	if (n < 0) {
		out(what, -1);
		return;
	}
	buf[n] = 0;
	path_line(what, buf);
}

/* An unnamed file's link reads "<where it was> (deleted)" (O_TMPFILE:
 * "<dir>/#<inode> (deleted)"): printed is whether it says so. */
static void deleted_of(const char *what, const char *link)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	if (n < 0) {
		out(what, -1);
		return;
	}
	buf[n] = 0;
	printf("%s -> ends with (deleted): %d\n", what, n > 10 && !strcmp(buf + n - 10, " (deleted)"));
}

static void put(const char *name, const char *s)
{
	int fd = open(P(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		perror(name), exit(2);
	close(fd);
}

static void cat(const char *what, const char *name)
{
	char buf[64];
	int fd = open(P(name), O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		out(what, -1);
	} else {
		buf[n] = 0;
		printf("%s -> \"%s\"\n", what, buf);
	}
	if (fd >= 0)
		close(fd);
}

/* ---- proc ------------------------------------------------------------------------ */

static void other_process(void);

static void proc_section(void)
{
	put("f", "hello");
	mkdir(P("d"), 0755);
	int f = open(P("f"), O_RDWR), d = open(P("d"), O_RDONLY | O_DIRECTORY);
	link_of("readlink fd f", fdpath(f));
	link_of("readlink fd d", fdpath(d));
	char pidpath[64], buf[PATH_MAX];
	snprintf(pidpath, sizeof(pidpath), "/proc/%d/fd/%d", (int)getpid(), f);
	link_of("readlink /proc/pid/fd f", pidpath);
	ssize_t n = readlinkat(AT_FDCWD, fdpath(f), buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		path_line("readlinkat fd f", buf);
	} else {
		out("readlinkat fd f", n);
	}
	out("readlink fd f, 3 bytes", readlink(fdpath(f), buf, 3));
	struct stat ls, ss;
	struct statx sx;
	out("lstat fd f", lstat(fdpath(f), &ls));
	out("stat fd f", stat(fdpath(f), &ss));
	printf("lstat is link -> %d, stat is file -> %d\n", S_ISLNK(ls.st_mode), S_ISREG(ss.st_mode));
	fstatat(AT_FDCWD, fdpath(d), &ls, AT_SYMLINK_NOFOLLOW);
	statx(AT_FDCWD, fdpath(d), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx);
	printf("fstatat nofollow of dir fd is link -> %d, statx -> %d\n", S_ISLNK(ls.st_mode),
	       S_ISLNK(sx.stx_mode));
	char *rp = realpath(fdpath(f), NULL);
	if (rp)
		path_line("realpath fd f", rp);
	else
		out("realpath fd f", -1);
	free(rp);
	out("rename f g", rename(P("f"), P("g")));
	link_of("readlink fd after rename", fdpath(f));
	out("mkdir d/sub", mkdir(P("d/sub"), 0755));
	int sub = open(P("d/sub"), O_RDONLY | O_DIRECTORY);
	out("rename d e", rename(P("d"), P("e")));
	link_of("readlink fd d/sub after rename of d", fdpath(sub));
	close(sub);

	/* naming an open file again through its fd */
	out("linkat proc fd g -> h (follow)",
	    linkat(AT_FDCWD, fdpath(f), AT_FDCWD, P("h"), AT_SYMLINK_FOLLOW));
	out("linkat proc fd g -> h2 (no follow)", linkat(AT_FDCWD, fdpath(f), AT_FDCWD, P("h2"), 0));
	out("linkat fd \"\" -> i (AT_EMPTY_PATH)", linkat(f, "", AT_FDCWD, P("i"), AT_EMPTY_PATH));
	out("linkat dir fd -> dl (follow)", linkat(AT_FDCWD, fdpath(d), AT_FDCWD, P("dl"), AT_SYMLINK_FOLLOW));
	cat("cat h", "h");
	cat("cat i", "i");
	struct stat st;
	fstat(f, &st);
	printf("nlink g -> %lu\n", (unsigned long)st.st_nlink);
	out("unlink g", unlink(P("g")));
	out("unlink h", unlink(P("h")));
	out("unlink i", unlink(P("i")));
	unlink(P("h2"));
	deleted_of("readlink fd unlinked", fdpath(f));
	out("linkat unlinked fd (follow)", linkat(AT_FDCWD, fdpath(f), AT_FDCWD, P("back"), AT_SYMLINK_FOLLOW));
	out("linkat unlinked fd (AT_EMPTY_PATH)", linkat(f, "", AT_FDCWD, P("back"), AT_EMPTY_PATH));
	close(f);

	/* O_TMPFILE: how an unnamed file gets a name */
	int t = outfd("open O_TMPFILE", open(D, O_TMPFILE | O_RDWR, 0640));
	out("write tmp", write(t, "tmp", 3));
	deleted_of("readlink tmp", fdpath(t));
	out("linkat tmp -> named (follow)", linkat(AT_FDCWD, fdpath(t), AT_FDCWD, P("named"), AT_SYMLINK_FOLLOW));
	cat("cat named", "named");
	out("linkat tmp -> named (exists)", linkat(AT_FDCWD, fdpath(t), AT_FDCWD, P("named"), AT_SYMLINK_FOLLOW));
	out("linkat tmp -> again (AT_EMPTY_PATH)", linkat(t, "", AT_FDCWD, P("again"), AT_EMPTY_PATH));
	fstat(t, &st);
	printf("nlink tmp -> %lu mode %o\n", (unsigned long)st.st_nlink, (unsigned)(st.st_mode & 07777));
	deleted_of("readlink tmp after link", fdpath(t));
	close(t);
	int x = outfd("open O_TMPFILE|O_EXCL", open(D, O_TMPFILE | O_RDWR | O_EXCL, 0600));
	out("linkat excl tmp (follow)", linkat(AT_FDCWD, fdpath(x), AT_FDCWD, P("nope"), AT_SYMLINK_FOLLOW));
	out("linkat excl tmp (AT_EMPTY_PATH)", linkat(x, "", AT_FDCWD, P("nope"), AT_EMPTY_PATH));
	close(x);
	close(d);
	unlink(P("named"));
	unlink(P("again"));
	rmdir(P("e/sub"));
	rmdir(P("e"));
	other_process();
}

/* Another process's fd of a file, by /proc/<its pid>/fd/N: the file
 * itself, as that process's own /proc/self/fd/N is. */
static void other_process(void)
{
	put("o", "other");
	chmod(P("o"), 0640);
	int fd = open(P("o"), O_RDWR), go[2];
	if (fd < 0 || pipe(go))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		char x;
		close(go[1]);
		if (read(go[0], &x, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	close(fd);
	char l[64], buf[16];
	snprintf(l, sizeof(l), "/proc/%d/fd/%d", (int)pid, fd);
	link_of("readlink /proc/child/fd/N", l);
	struct stat st;
	out("stat /proc/child/fd/N", stat(l, &st));
	printf("  mode %o size %lld nlink %lu\n", (unsigned)st.st_mode, (long long)st.st_size,
	       (unsigned long)st.st_nlink);
	out("lstat /proc/child/fd/N", lstat(l, &st));
	printf("  is link %d\n", S_ISLNK(st.st_mode));
	int o = outfd("open /proc/child/fd/N O_RDWR", open(l, O_RDWR));
	ssize_t n = o < 0 ? -1 : read(o, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("read it -> %zd \"%s\"\n", n, buf);
	out("fstat it", fstat(o, &st));
	printf("  mode %o size %lld nlink %lu\n", (unsigned)st.st_mode, (long long)st.st_size,
	       (unsigned long)st.st_nlink);
	out("write it", pwrite(o, "O", 1, 0));
	cat("cat o", "o");
	out("chmod o 0600", chmod(P("o"), 0600));
	out("stat /proc/child/fd/N", stat(l, &st));
	printf("  mode %o\n", (unsigned)st.st_mode);
	out("unlink o", unlink(P("o")));
	deleted_of("readlink /proc/child/fd/N after unlink", l);
	n = o < 0 ? -1 : pread(o, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	printf("read removed -> %zd \"%s\"\n", n, buf);
	close(o);
	if (write(go[1], "x", 1) < 0)
		perror("pipe");
	close(go[1]);
	waitpid(pid, NULL, 0);
}

/* ---- opath ----------------------------------------------------------------------- */

static void opath_calls(const char *label, int fd)
{
	char what[128], buf[64];
	struct stat st;
	struct statfs sf;
	struct timespec ts[2] = {{1, 0}, {1, 0}};
#define T(name, call) (snprintf(what, sizeof(what), "%s %s", label, name), out(what, (long)(call)))
	T("read", read(fd, buf, sizeof(buf)));
	T("write", write(fd, "x", 1));
	T("pread", pread(fd, buf, 1, 0));
	T("lseek", lseek(fd, 0, SEEK_SET));
	T("fstat", fstat(fd, &st));
	T("fstatat empty", fstatat(fd, "", &st, AT_EMPTY_PATH));
	T("fstatfs", fstatfs(fd, &sf));
	T("fchmod", fchmod(fd, 0600));
	T("fchown", fchown(fd, getuid(), getgid()));
	T("fchownat empty", fchownat(fd, "", getuid(), getgid(), AT_EMPTY_PATH));
	T("futimens", futimens(fd, ts));
	T("ftruncate", ftruncate(fd, 0));
	T("fsync", fsync(fd));
	T("fdatasync", fdatasync(fd));
	T("flock", flock(fd, LOCK_SH | LOCK_NB));
	T("fgetxattr", fgetxattr(fd, "user.x", buf, sizeof(buf)));
	T("fsetxattr", fsetxattr(fd, "user.x", "1", 1, 0));
	T("flistxattr", flistxattr(fd, buf, sizeof(buf)));
	T("fremovexattr", fremovexattr(fd, "user.x"));
	T("fallocate", fallocate(fd, 0, 0, 10));
	T("getdents64", syscall(SYS_getdents64, fd, buf, sizeof(buf)));
	T("F_GETFL has O_PATH", (fcntl(fd, F_GETFL) & O_PATH) != 0);
	T("F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC));
	int dup_fd = dup(fd);
	T("dup", dup_fd >= 0);
	if (dup_fd >= 0) {
		T("dup F_GETFL has O_PATH", (fcntl(dup_fd, F_GETFL) & O_PATH) != 0);
		close(dup_fd);
	}
	void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	T("mmap", m == MAP_FAILED ? -1 : 0);
	if (m != MAP_FAILED)
		munmap(m, 4096);
	int re = open(fdpath(fd), O_RDONLY | O_NONBLOCK);
	T("reopen /proc/self/fd O_RDONLY", re >= 0);
	if (re >= 0) {
		T("reopen read", read(re, buf, sizeof(buf)));
		close(re);
	}
	T("readlinkat empty", readlinkat(fd, "", buf, sizeof(buf)));
	T("openat child", openat(fd, "child", O_RDONLY));
	T("fstatat child", fstatat(fd, "child", &st, 0));
	T("mkdirat newdir", mkdirat(fd, "newdir", 0755));
	T("faccessat empty", faccessat(fd, "", R_OK, AT_EMPTY_PATH));
	T("close", close(fd));
#undef T
}

static void opath_section(void)
{
	put("f", "hello");
	mkdir(P("d"), 0755);
	put("d/child", "c");
	symlink("f", P("l"));
	symlink("d", P("ld"));
	opath_calls("file", outfd("open f O_PATH", open(P("f"), O_PATH)));
	opath_calls("dir", outfd("open d O_PATH", open(P("d"), O_PATH)));
	opath_calls("dir via O_DIRECTORY", outfd("open d O_PATH|O_DIRECTORY", open(P("d"), O_PATH | O_DIRECTORY)));
	opath_calls("symlink", outfd("open l O_PATH|O_NOFOLLOW", open(P("l"), O_PATH | O_NOFOLLOW)));
	opath_calls("dir symlink", outfd("open ld O_PATH|O_NOFOLLOW", open(P("ld"), O_PATH | O_NOFOLLOW)));
	outfd("open l O_NOFOLLOW (no O_PATH)", open(P("l"), O_RDONLY | O_NOFOLLOW));
	outfd("open f O_PATH|O_DIRECTORY", open(P("f"), O_PATH | O_DIRECTORY));
	outfd("open l O_PATH|O_NOFOLLOW|O_DIRECTORY", open(P("l"), O_PATH | O_NOFOLLOW | O_DIRECTORY));
	outfd("open missing O_PATH", open(P("missing"), O_PATH));
	outfd("open f O_PATH|O_CREAT", open(P("f"), O_PATH | O_CREAT, 0644));
	outfd("open new O_PATH|O_CREAT", open(P("new"), O_PATH | O_CREAT, 0644));
	outfd("open f O_PATH|O_TRUNC", open(P("f"), O_PATH | O_TRUNC));
	cat("cat f after O_PATH|O_TRUNC", "f");
	/* an O_PATH symlink fd: the link's own stat, and linkat of it */
	int l = open(P("l"), O_PATH | O_NOFOLLOW);
	struct stat st;
	fstat(l, &st);
	printf("symlink O_PATH fstat is link -> %d\n", S_ISLNK(st.st_mode));
	out("linkat symlink O_PATH -> l2 (AT_EMPTY_PATH)", linkat(l, "", AT_FDCWD, P("l2"), AT_EMPTY_PATH));
	fstatat(AT_FDCWD, P("l2"), &st, AT_SYMLINK_NOFOLLOW);
	printf("l2 is link -> %d\n", S_ISLNK(st.st_mode));
	close(l);
	/* an O_PATH directory fd as a dirfd and as a cwd */
	int d = open(P("d"), O_PATH);
	out("fchdir O_PATH dir", fchdir(d));
	cat("cat child (cwd)", "d/child");
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)))
		path_line("getcwd", cwd);
	chdir("/");
	close(d);
	unlink(P("l2"));
	/* O_PATH fds of a file and a directory carried across an exec */
	int pf = open(P("f"), O_PATH), pd = open(P("d"), O_PATH);
	char a1[16], a2[16];
	snprintf(a1, sizeof(a1), "%d", pf);
	snprintf(a2, sizeof(a2), "%d", pd);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "fdops", D, "opath-exec", a1, a2, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("exec child -> %d\n", WEXITSTATUS(status));
	close(pf);
	close(pd);
}

/* The exec'd side: argv[3], argv[4] are O_PATH fds of f and d. */
static void opath_exec(int pf, int pd)
{
	char buf[8];
	struct stat st;
	out("after exec: file read", read(pf, buf, sizeof(buf)));
	out("after exec: file fchmod", fchmod(pf, 0600));
	out("after exec: file fstat", fstat(pf, &st));
	printf("after exec: file size -> %lld\n", (long long)st.st_size);
	out("after exec: dir read", read(pd, buf, sizeof(buf)));
	out("after exec: dir getdents64", syscall(SYS_getdents64, pd, buf, sizeof(buf)));
	out("after exec: dir F_GETFL has O_PATH", (fcntl(pd, F_GETFL) & O_PATH) != 0);
	out("after exec: dir fstatat child", fstatat(pd, "child", &st, 0));
}

/* ---- errno ----------------------------------------------------------------------- */

static void errno_section(void)
{
	put("f", "hello");
	mkdir(P("d"), 0755);
	int f = open(P("f"), O_RDWR);
	struct iovec bad[2] = {{"ab", 2}, {"cd", (size_t)-1}};
	out("writev iov_len -1", writev(f, bad, 2));
	struct iovec big[2] = {{"ab", 2}, {"cd", (size_t)1 << 63}};
	out("writev iov_len 2^63", writev(f, big, 2));
	out("pwritev iov_len -1", pwritev(f, bad, 2, 0));
	out("readv iov_len -1", readv(f, bad, 2));
	/* counts through a variable: the compiler rejects the constants */
	volatile int neg = -1, many = 1025;
	out("writev iovcnt -1", writev(f, bad, neg));
	out("writev iovcnt 1025", writev(f, bad, many));
	cat("cat f", "f");
	int d = open(P("d"), O_RDONLY | O_DIRECTORY);
	/* F_NOTIFY on a directory: the "notify" section (a known difference) */
	out("F_NOTIFY file", fcntl(f, F_NOTIFY, DN_CREATE));
	int pd = open(P("d"), O_PATH);
	out("F_NOTIFY O_PATH dir", fcntl(pd, F_NOTIFY, DN_CREATE));
	close(pd);
	close(d);
	close(f);
	/* F_CREATED_QUERY: did this open create the file? (Linux 6.12) */
	int c = open(P("c"), O_RDWR | O_CREAT, 0644);
	out("F_CREATED_QUERY after create", fcntl(c, F_CREATED_QUERY, 0));
	close(c);
	c = open(P("c"), O_RDWR | O_CREAT, 0644);
	out("F_CREATED_QUERY after open of existing", fcntl(c, F_CREATED_QUERY, 0));
	close(c);
	c = open(P("c2"), O_RDWR | O_CREAT | O_EXCL, 0644);
	out("F_CREATED_QUERY after O_EXCL create", fcntl(c, F_CREATED_QUERY, 0));
	int c3 = dup(c);
	out("F_CREATED_QUERY of its dup", fcntl(c3, F_CREATED_QUERY, 0));
	close(c);
	close(c3);
	c = open(P("c2"), O_RDONLY);
	out("F_CREATED_QUERY after plain open", fcntl(c, F_CREATED_QUERY, 0));
	close(c);
	int t = open(D, O_TMPFILE | O_RDWR, 0600);
	out("F_CREATED_QUERY of O_TMPFILE", fcntl(t, F_CREATED_QUERY, 0));
	close(t);
	/* copy_file_range moves the target's mtime, by the libc and syscall() */
	struct stat st;
	struct timespec old[2] = {{1, 0}, {1, 0}};
	int in = open(P("f"), O_RDONLY);
	int o = open(P("o"), O_RDWR | O_CREAT, 0644);
	utimensat(AT_FDCWD, P("o"), old, 0);
	out("copy_file_range (libc)", copy_file_range(in, NULL, o, NULL, 3, 0));
	stat(P("o"), &st);
	printf("mtime moved (libc) -> %d\n", st.st_mtim.tv_sec > 1);
	utimensat(AT_FDCWD, P("o"), old, 0);
	off_t ioff = 0;
	out("copy_file_range (syscall)", syscall(SYS_copy_file_range, in, &ioff, o, NULL, 3, 0));
	stat(P("o"), &st);
	printf("mtime moved (syscall) -> %d ctime moved -> %d\n", st.st_mtim.tv_sec > 1, st.st_ctim.tv_sec > 1);
	close(in);
	close(o);
}

/* ---- notify ---------------------------------------------------------------------- */

static int notify_fd;

/* Signals `sig` queued since the last look, and whether each carried
 * si_fd == notify_fd (an RT signal queues one per event; SIGIO does not). */
static void signals(const char *what, int sig)
{
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, sig);
	struct timespec zero = {0, 0};
	siginfo_t si;
	int n = 0, fd_ok = 1;
	while (sigtimedwait(&ss, &si, &zero) == sig) {
		n++;
		if (sig != SIGIO && si.si_fd != notify_fd)
			fd_ok = 0;
	}
	printf("%s -> %d signal(s)%s\n", what, n, n && !fd_ok ? ", wrong si_fd" : "");
	fflush(stdout);
}

/* Another process of the tree makes the change. */
static void in_child(void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static void create_a(void)
{
	int fd = open(P("d/a"), O_WRONLY | O_CREAT, 0644);
	if (write(fd, "x", 1) != 1)
		_exit(1);
	close(fd);
}

/* dnotify: who gets which signal for what change (fs/notify/dnotify). */
static void notify_section(void)
{
	int sig = SIGRTMIN + 1;
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, sig);
	sigaddset(&ss, SIGIO);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	mkdir(P("d"), 0755);
	int d = notify_fd = open(P("d"), O_RDONLY | O_DIRECTORY);
	out("F_SETSIG", fcntl(d, F_SETSIG, sig));
	out("F_NOTIFY all, multishot",
	    fcntl(d, F_NOTIFY, DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB | DN_MODIFY | DN_MULTISHOT));
	in_child(create_a);
	signals("create and write d/a (child)", sig);
	rename(P("d/a"), P("d/b"));
	signals("rename d/a d/b", sig);
	chmod(P("d/b"), 0600);
	signals("chmod d/b", sig);
	truncate(P("d/b"), 0);
	signals("truncate d/b", sig);
	int t = open(P("d/b"), O_WRONLY | O_TRUNC);
	signals("open d/b O_TRUNC", sig);
	if (write(t, "yy", 2) != 2)
		exit(2);
	signals("write d/b", sig);
	ftruncate(t, 1);
	signals("ftruncate d/b", sig);
	close(t);
	mkdir(P("d/sub"), 0755);
	symlink("b", P("d/l"));
	mkfifo(P("d/p"), 0644);
	signals("mkdir, symlink, mkfifo in d", sig);
	link(P("d/b"), P("d/h"));
	signals("link d/b d/h", sig);
	unlink(P("d/h"));
	signals("unlink d/h", sig);
	rmdir(P("d/sub"));
	signals("rmdir d/sub", sig);
	setxattr(P("d/b"), "user.x", "1", 1, 0);
	signals("setxattr d/b", sig);
	utimensat(AT_FDCWD, P("d/b"), NULL, 0);
	signals("utimensat d/b now", sig);
	struct timespec only_m[2] = {{0, UTIME_OMIT}, {5, 0}};
	utimensat(AT_FDCWD, P("d/b"), only_m, 0);
	signals("utimensat d/b mtime only", sig);
	chmod(P("d"), 0700);
	signals("chmod d itself", sig);
	rename(P("d/b"), P("out"));
	signals("rename d/b out of d", sig);
	rename(P("out"), P("d/back"));
	signals("rename out back into d", sig);
	open(P("other"), O_CREAT | O_WRONLY, 0644);
	signals("create outside d", sig);
	out("F_NOTIFY 0", fcntl(d, F_NOTIFY, 0));
	close(open(P("d/c"), O_CREAT | O_WRONLY, 0644));
	signals("create d/c after F_NOTIFY 0", sig);
	out("F_NOTIFY DN_CREATE, one shot", fcntl(d, F_NOTIFY, DN_CREATE));
	close(open(P("d/e"), O_CREAT | O_WRONLY, 0644));
	close(open(P("d/f"), O_CREAT | O_WRONLY, 0644));
	signals("create d/e, d/f", sig);
	out("F_NOTIFY DN_RENAME only", fcntl(d, F_NOTIFY, DN_RENAME | DN_MULTISHOT));
	rename(P("d/e"), P("d/e2"));
	signals("rename d/e d/e2", sig);
	rename(P("d/e2"), P("e3"));
	signals("rename d/e2 out of d", sig);
	rename(P("e3"), P("d/e"));
	signals("rename e3 into d", sig);
	out("F_NOTIFY DN_DELETE only", fcntl(d, F_NOTIFY, DN_DELETE | DN_MULTISHOT));
	close(open(P("d/g"), O_CREAT | O_WRONLY, 0644));
	unlink(P("d/g"));
	signals("create and unlink d/g", sig);
	close(d);
	unlink(P("d/e"));
	signals("unlink d/e after close", sig);
	/* the default signal, SIGIO */
	int d2 = notify_fd = open(P("d"), O_RDONLY | O_DIRECTORY);
	out("F_GETSIG of a new fd", fcntl(d2, F_GETSIG));
	out("F_NOTIFY SIGIO", fcntl(d2, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
	close(open(P("d/s"), O_CREAT | O_WRONLY, 0644));
	signals("create d/s (SIGIO)", SIGIO);
	close(d2);
	/* a watch on DIR: changes of its subdirectory d itself */
	int top = notify_fd = open(D, O_RDONLY | O_DIRECTORY);
	fcntl(top, F_SETSIG, sig);
	out("F_NOTIFY DIR attrib", fcntl(top, F_NOTIFY, DN_ATTRIB | DN_MULTISHOT));
	chmod(P("d"), 0755);
	signals("chmod d (watch on its parent)", sig);
	close(top);
	out("F_NOTIFY dir (syscall)", syscall(SYS_fcntl, open(P("d"), O_RDONLY), F_NOTIFY, 0));
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: fdops DIR proc|opath|errno\n");
		return 2;
	}
	D = argv[1];
	umask(022);
	if (!strcmp(argv[2], "proc"))
		proc_section();
	else if (!strcmp(argv[2], "opath"))
		opath_section();
	else if (!strcmp(argv[2], "errno"))
		errno_section();
	else if (!strcmp(argv[2], "notify"))
		notify_section();
	else if (!strcmp(argv[2], "opath-exec") && argc == 5)
		opath_exec(atoi(argv[3]), atoi(argv[4]));
	else
		return 2;
	return 0;
}
