/* diffops — a fixed sequence of libc file calls, for the differential test
 * (tests/test_e2e_diff.c): run once under the preload on a store directory
 * and once on a real tmpfs directory, the two outputs must be the same.
 *
 *   diffops DIR SECTION     DIR: an existing, empty directory
 *
 * SECTION is one of files, stat, namespace, rename, links, at, dirs, cwd,
 * names, fd, sparse, mapio. Every call prints one line
 *   <op> <args> -> <result> <errno name or ->
 * with paths relative to DIR. Nothing that legitimately differs between two
 * file systems is printed: no fd numbers, inode or device numbers, times,
 * or directory sizes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static const char *D;

/* DIR/name in one of a few rotating buffers. */
static const char *P(const char *name)
{
	static char buf[8][PATH_MAX + 8192];
	static int k;
	char *b = buf[k++ % 8];
	/* The empty path stays empty: it is a case of its own (ENOENT). */
	if (!name[0])
		return "";
	snprintf(b, sizeof(buf[0]), "%s/%s", D, name);
	return b;
}

static const char *en(int e) { return strerrorname_np(e) ? strerrorname_np(e) : "?"; }

/* "rc errno" for a call returning -1/errno, saving errno first. */
static void out(const char *what, long rc)
{
	int e = errno;
	if (rc < 0)
		printf("%s -> -1 %s\n", what, en(e));
	else
		printf("%s -> %ld -\n", what, rc);
	fflush(stdout);
}

/* For calls that return an fd: the number itself may differ. */
static int outfd(const char *what, int fd)
{
	int e = errno;
	if (fd < 0)
		printf("%s -> -1 %s\n", what, en(e));
	else
		printf("%s -> fd -\n", what);
	fflush(stdout);
	return fd;
}

static void describe(const char *what, int rc, const struct stat *st)
{
	int e = errno;
	if (rc < 0) {
		printf("%s -> -1 %s\n", what, en(e));
		return;
	}
	const char *t = S_ISREG(st->st_mode) ? "reg" : S_ISDIR(st->st_mode) ? "dir"
		      : S_ISLNK(st->st_mode) ? "lnk" : "other";
	printf("%s -> 0 - %s mode=%04o nlink=%lu", what, t, (unsigned)(st->st_mode & 07777),
	       (unsigned long)st->st_nlink);
	/* Directory sizes are the file system's own business. */
	if (!S_ISDIR(st->st_mode))
		printf(" size=%lld", (long long)st->st_size);
	if (S_ISREG(st->st_mode))
		printf(" blocks=%lld", (long long)st->st_blocks);
	printf("\n");
	fflush(stdout);
}

static void do_stat(const char *name)
{
	struct stat st;
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "stat %s", name);
	describe(w, stat(P(name), &st), &st);
}

static void do_lstat(const char *name)
{
	struct stat st;
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "lstat %s", name);
	describe(w, lstat(P(name), &st), &st);
}

static void do_fstat(const char *name, int fd)
{
	struct stat st;
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "fstat %s", name);
	describe(w, fstat(fd, &st), &st);
}

static int do_open(const char *name, int flags, const char *fl)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "open %s %s", name, fl);
	return outfd(w, open(P(name), flags, 0644));
}
#define OPEN(name, flags) do_open(name, flags, #flags)

static void do_write(const char *name, int fd, const char *s)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "write %s \"%s\"", name, s);
	out(w, write(fd, s, strlen(s)));
}

static void do_pwrite(const char *name, int fd, const char *s, off_t off)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "pwrite %s \"%s\" @%lld", name, s, (long long)off);
	out(w, pwrite(fd, s, strlen(s), off));
}

/* Prints what read returns, bytes shown as \xNN when not printable. */
static void show(const char *what, ssize_t k, const char *buf)
{
	int e = errno;
	if (k < 0) {
		printf("%s -> -1 %s\n", what, en(e));
		return;
	}
	printf("%s -> %zd - \"", what, k);
	for (ssize_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c >= 32 && c < 127 && c != '"' && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\"\n");
	fflush(stdout);
}

static void do_read(const char *name, int fd, size_t n)
{
	char buf[256], w[PATH_MAX];
	snprintf(w, sizeof(w), "read %s %zu", name, n);
	show(w, read(fd, buf, n < sizeof(buf) ? n : sizeof(buf)), buf);
}

static void do_pread(const char *name, int fd, size_t n, off_t off)
{
	char buf[256], w[PATH_MAX];
	snprintf(w, sizeof(w), "pread %s %zu @%lld", name, n, (long long)off);
	show(w, pread(fd, buf, n < sizeof(buf) ? n : sizeof(buf), off), buf);
}

/* The whole file, through a fresh open. */
static void cat(const char *name)
{
	char buf[256], w[PATH_MAX];
	int fd = open(P(name), O_RDONLY);
	snprintf(w, sizeof(w), "cat %s", name);
	if (fd < 0) {
		out(w, -1);
		return;
	}
	ssize_t k = read(fd, buf, sizeof(buf));
	show(w, k, buf);
	close(fd);
}

static void do_close(const char *name, int fd)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "close %s", name);
	out(w, fd < 0 ? 0 : close(fd));
}

static void mk(const char *name, const char *content)
{
	int fd = open(P(name), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "mkfile %s \"%s\"", name, content);
	if (fd < 0) {
		out(w, -1);
		return;
	}
	out(w, write(fd, content, strlen(content)));
	close(fd);
}

#define CALL1(fn, a) do { char w_[PATH_MAX]; snprintf(w_, sizeof(w_), #fn " %s", a); \
	out(w_, fn(P(a))); } while (0)
#define CALL2(fn, a, b) do { char w_[PATH_MAX]; snprintf(w_, sizeof(w_), #fn " %s %s", a, b); \
	out(w_, fn(P(a), P(b))); } while (0)

static void do_mkdir(const char *a, mode_t m)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "mkdir %s %04o", a, (unsigned)m);
	out(w, mkdir(P(a), m));
}

static void do_symlink(const char *target, const char *name)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "symlink \"%s\" %s", target, name);
	out(w, symlink(target, P(name)));
}

static void do_readlink(const char *name, size_t n)
{
	char buf[PATH_MAX], w[PATH_MAX];
	snprintf(w, sizeof(w), "readlink %s %zu", name, n);
	show(w, readlink(P(name), buf, n), buf);
}

static void do_access(const char *name, int mode, const char *m)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "access %s %s", name, m);
	out(w, access(P(name), mode));
}

static void do_truncate(const char *name, off_t len)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "truncate %s %lld", name, (long long)len);
	out(w, truncate(P(name), len));
}

static void do_chmod(const char *name, mode_t m)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "chmod %s %04o", name, (unsigned)m);
	out(w, chmod(P(name), m));
}

static void do_renameat2(const char *a, const char *b, unsigned fl, const char *fls)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "renameat2 %s %s %s", a, b, fls);
	out(w, renameat2(AT_FDCWD, P(a), AT_FDCWD, P(b), fl));
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names and d_type of a directory stream. */
static void list(const char *what, DIR *d)
{
	char *names[256];
	int n = 0;
	struct dirent *e;
	errno = 0;
	while (n < 256 && (e = readdir(d))) {
		char t = e->d_type == DT_REG ? 'f' : e->d_type == DT_DIR ? 'd' : e->d_type == DT_LNK ? 'l'
		       : e->d_type == DT_UNKNOWN ? '?' : 'o';
		names[n] = malloc(strlen(e->d_name) + 3);
		sprintf(names[n], "%s:%c", e->d_name, t);
		n++;
	}
	int err = errno;
	qsort(names, n, sizeof(names[0]), cmp);
	printf("%s -> %d %s", what, n, err ? en(err) : "-");
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
	fflush(stdout);
}

static void ls(const char *name)
{
	char w[PATH_MAX];
	snprintf(w, sizeof(w), "readdir %s", name);
	DIR *d = opendir(P(name));
	if (!d) {
		out(w, -1);
		return;
	}
	list(w, d);
	closedir(d);
}

static void s_files(void)
{
	int fd = OPEN("f", O_CREAT | O_WRONLY | O_EXCL);
	do_write("f", fd, "hello");
	OPEN("f", O_CREAT | O_WRONLY | O_EXCL);
	do_fstat("f", fd);
	do_close("f", fd);

	fd = OPEN("f", O_RDONLY);
	do_read("f", fd, 100);
	do_read("f", fd, 100);
	do_write("f", fd, "no");
	out("lseek f 0 SEEK_SET", lseek(fd, 0, SEEK_SET));
	do_read("f", fd, 2);
	out("lseek f 0 SEEK_CUR", lseek(fd, 0, SEEK_CUR));
	out("lseek f -1 SEEK_SET", lseek(fd, -1, SEEK_SET));
	out("lseek f 0 SEEK_END", lseek(fd, 0, SEEK_END));
	out("ftruncate f(rdonly) 1", ftruncate(fd, 1));
	do_close("f", fd);

	fd = OPEN("f", O_RDWR);
	do_pwrite("f", fd, "XY", 10);
	do_fstat("f", fd);
	do_pread("f", fd, 20, 3);
	out("ftruncate f 3", ftruncate(fd, 3));
	do_fstat("f", fd);
	out("ftruncate f 8192", ftruncate(fd, 8192));
	do_fstat("f", fd);
	out("ftruncate f 4", ftruncate(fd, 4));
	out("ftruncate f -1", ftruncate(fd, -1));
	do_read("f", fd, 10);
	do_close("f", fd);

	fd = OPEN("f", O_WRONLY | O_APPEND);
	out("lseek f 0 SEEK_SET", lseek(fd, 0, SEEK_SET));
	do_write("f", fd, "A");
	out("lseek f 0 SEEK_CUR", lseek(fd, 0, SEEK_CUR));
	/* Linux appends even with pwrite on O_APPEND. */
	do_pwrite("f", fd, "P", 0);
	do_close("f", fd);
	cat("f");

	fd = OPEN("f", O_RDWR | O_TRUNC);
	do_fstat("f", fd);
	do_close("f", fd);
	fd = OPEN("g", O_RDWR | O_CREAT | O_TRUNC);
	do_write("g", fd, "gg");
	do_close("g", fd);
	out("creat h", creat(P("h"), 0600) >= 0 ? 0 : -1);
	do_stat("h");

	do_mkdir("d", 0755);
	fd = OPEN("d", O_RDONLY | O_DIRECTORY);
	do_fstat("d", fd);
	do_read("d", fd, 10);
	do_close("d", fd);
	OPEN("d", O_RDONLY);
	OPEN("d", O_WRONLY);
	OPEN("d", O_RDWR);
	OPEN("d", O_CREAT | O_WRONLY);
	OPEN("d", O_CREAT | O_EXCL | O_WRONLY);
	OPEN("d/", O_RDONLY);
	OPEN("g", O_RDONLY | O_DIRECTORY);
	OPEN("g/", O_RDONLY);
	OPEN("g/x", O_RDONLY);
	OPEN("g/x", O_CREAT | O_WRONLY);
	OPEN("new/", O_CREAT | O_WRONLY);
	OPEN("missing", O_RDONLY);
	OPEN("missing/x", O_CREAT | O_WRONLY);
	OPEN("", O_RDONLY);

	do_symlink("g", "lg");
	do_symlink("nowhere", "dang");
	do_symlink("d", "ld");
	OPEN("lg", O_RDONLY | O_NOFOLLOW);
	OPEN("ld", O_RDONLY | O_NOFOLLOW | O_DIRECTORY);
	OPEN("ld", O_RDONLY | O_DIRECTORY);
	OPEN("lg", O_WRONLY | O_CREAT | O_EXCL);
	OPEN("dang", O_WRONLY | O_CREAT | O_EXCL);
	OPEN("dang", O_RDONLY);
	/* O_CREAT through a dangling symlink creates its target. */
	fd = OPEN("dang", O_WRONLY | O_CREAT);
	do_write("dang", fd, "via");
	do_close("dang", fd);
	cat("nowhere");
	do_lstat("dang");
	OPEN("ld/g2", O_WRONLY | O_CREAT);
	do_stat("d/g2");
}

static void s_stat(void)
{
	mk("f", "12345");
	do_mkdir("d", 0755);
	do_mkdir("d/s1", 0700);
	do_mkdir("d/s2", 0750);
	mk("d/x", "");
	do_symlink("f", "l");
	do_symlink("d", "ld");
	do_symlink("nowhere", "dang");
	do_symlink("loop2", "loop1");
	do_symlink("loop1", "loop2");
	const char *names[] = {"f", "d", "d/s1", "d/s2", "d/x", "l", "ld", "dang", "loop1", "missing",
			       "f/", "d/", "d/.", "d/..", "d/s1/..", "ld/", "l/", "dang/", "d//x", "./f",
			       ""};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		do_stat(names[i]);
		do_lstat(names[i]);
	}
	int fd = open(P("l"), O_RDONLY);
	do_fstat("l(open)", fd);
	close(fd);
	/* The umask (022) applies to new files and directories. */
	fd = outfd("open um O_CREAT 0666", open(P("um"), O_CREAT | O_WRONLY, 0666));
	close(fd);
	do_stat("um");
	do_mkdir("umd", 0777);
	do_stat("umd");
	do_access("f", F_OK, "F_OK");
	do_access("f", R_OK | W_OK, "R_OK|W_OK");
	do_access("f", X_OK, "X_OK");
	do_access("d", X_OK, "X_OK");
	do_access("missing", F_OK, "F_OK");
	do_access("dang", F_OK, "F_OK");
	do_access("f/", F_OK, "F_OK");
	do_access("f", 0100, "0100");
	do_chmod("f", 0755);
	do_access("f", X_OK, "X_OK");
	do_chmod("f", 04711);
	do_stat("f");
	do_chmod("l", 0600);
	do_stat("f");
	do_lstat("l");
	do_chmod("d", 0711);
	do_stat("d");
	do_chmod("missing", 0600);
	do_truncate("f", 100);
	do_stat("f");
	do_truncate("f", 2);
	cat("f");
	do_truncate("l", 1);
	do_stat("f");
	do_truncate("d", 0);
	do_truncate("missing", 0);
	do_truncate("f", -1);
	do_truncate("f/", 0);
	/* truncate(2) to the size a file has: tmpfs gives it new times only
	 * when it holds pages (lowerfuzz seed 197 found the store always did) */
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat s;
	for (int pages = 0; pages < 2; pages++) {
		int fd = open(P("t"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (pages && write(fd, "abc", 3) != 3)
			perror("write t");
		ftruncate(fd, 8192);
		close(fd);
		utimensat(AT_FDCWD, P("t"), old, 0);
		do_truncate("t", 8192);
		stat(P("t"), &s);
		printf("  %s page: mtime kept %d\n", pages ? "with a" : "without a", s.st_mtime == old[1].tv_sec);
	}
	unlink(P("t"));
}

static void s_namespace(void)
{
	do_mkdir("d", 0755);
	do_mkdir("d", 0755);
	do_mkdir("e/", 0700);
	do_stat("e");
	do_mkdir("missing/x", 0755);
	mk("f", "f");
	do_mkdir("f/x", 0755);
	do_mkdir("f", 0755);
	do_mkdir("d/sub", 0755);
	do_mkdir("d/sub/../sub2", 0755);
	do_stat("d");
	do_mkdir("", 0755);
	CALL1(rmdir, "d");
	CALL1(rmdir, "f");
	CALL1(rmdir, "missing");
	CALL1(rmdir, "d/sub/.");
	CALL1(rmdir, "d/sub/..");
	CALL1(rmdir, "d/sub/");
	CALL1(rmdir, "d/sub2");
	do_stat("d");
	CALL1(rmdir, "f/");
	CALL1(unlink, "d");
	CALL1(unlink, "missing");
	CALL1(unlink, "f/");
	do_symlink("f", "l");
	do_symlink("d", "ld");
	CALL1(unlink, "l");
	do_stat("f");
	CALL1(unlink, "ld/");
	CALL1(rmdir, "ld");
	CALL1(unlink, "ld");
	do_stat("d");
	CALL1(remove, "f");
	CALL1(remove, "d");
	CALL1(remove, "e");
	CALL1(remove, "e");
	ls(".");
	/* A directory removed while open. */
	do_mkdir("gone", 0755);
	int fd = open(P("gone"), O_RDONLY | O_DIRECTORY);
	CALL1(rmdir, "gone");
	do_fstat("gone", fd);
	out("openat gone x O_CREAT", openat(fd, "x", O_CREAT | O_WRONLY, 0644) >= 0 ? 0 : -1);
	close(fd);
	/* An open file unlinked keeps its bytes. */
	mk("u", "kept");
	fd = open(P("u"), O_RDWR);
	CALL1(unlink, "u");
	do_fstat("u", fd);
	do_pread("u", fd, 10, 0);
	do_write("u", fd, "more");
	do_fstat("u", fd);
	close(fd);
	do_stat("u");
}

static void s_rename(void)
{
	mk("a", "A");
	mk("b", "B");
	CALL2(rename, "a", "c");
	cat("c");
	CALL2(rename, "c", "b");
	cat("b");
	do_stat("c");
	CALL2(rename, "b", "b");
	CALL2(rename, "missing", "x");
	do_mkdir("d", 0755);
	do_mkdir("e", 0755);
	mk("d/in", "in");
	CALL2(rename, "b", "d");
	CALL2(rename, "d", "b");
	CALL2(rename, "e", "d");
	CALL2(rename, "d", "e");
	do_stat("d");
	ls("e");
	CALL2(rename, "e", "e/sub");
	do_mkdir("e/sub", 0755);
	CALL2(rename, "e", "e/sub/x");
	CALL2(rename, "e/sub", "e/sub2/");
	CALL2(rename, "e/sub2/", "e/sub3/");
	ls("e");
	CALL2(rename, "b/", "c");
	CALL2(rename, "b", "c/");
	CALL2(rename, "e/sub3", "top");
	do_stat("e");
	do_stat("top");
	do_mkdir("full", 0755);
	mk("full/x", "x");
	CALL2(rename, "top", "full");
	CALL2(rename, "full", "e/.");
	CALL2(rename, "e/..", "x");
	/* Two links to one file: rename between them does nothing. */
	CALL2(link, "b", "b2");
	CALL2(rename, "b", "b2");
	do_stat("b");
	do_stat("b2");
	/* A symlink is renamed, not its target. */
	do_symlink("b", "lb");
	CALL2(rename, "lb", "lb2");
	do_lstat("lb2");
	cat("lb2");

	mk("x", "X");
	mk("y", "Y");
	do_renameat2("x", "y", RENAME_NOREPLACE, "NOREPLACE");
	do_renameat2("x", "z", RENAME_NOREPLACE, "NOREPLACE");
	cat("z");
	do_renameat2("z", "y", RENAME_EXCHANGE, "EXCHANGE");
	cat("y");
	cat("z");
	do_renameat2("z", "nope", RENAME_EXCHANGE, "EXCHANGE");
	do_renameat2("z", "e", RENAME_EXCHANGE, "EXCHANGE");
	do_stat("z");
	do_lstat("e");
	do_renameat2("z", "e", RENAME_EXCHANGE | RENAME_NOREPLACE, "EXCHANGE|NOREPLACE");
	do_renameat2("e", "missing", 0, "0");
	ls(".");
}

static void s_links(void)
{
	mk("f", "data");
	CALL2(link, "f", "h");
	do_stat("f");
	do_stat("h");
	CALL2(link, "f", "h");
	CALL2(link, "missing", "h2");
	do_mkdir("d", 0755);
	CALL2(link, "d", "d2");
	CALL2(link, "f", "d/h");
	CALL2(link, "f", "missing/h");
	CALL2(link, "f/", "h3");
	do_stat("f");
	int fd = open(P("h"), O_WRONLY | O_APPEND);
	do_write("h", fd, "+");
	close(fd);
	cat("f");
	CALL1(unlink, "f");
	do_stat("h");
	cat("h");

	do_symlink("h", "s");
	do_symlink("h", "s");
	do_symlink("", "empty");
	do_symlink("d", "sd");
	do_symlink("/nonexistent/abs", "abs");
	do_readlink("s", 100);
	do_readlink("s", 1);
	do_readlink("h", 100);
	do_readlink("missing", 100);
	do_readlink("abs", 100);
	do_readlink("sd/", 100);
	do_lstat("s");
	do_lstat("abs");
	do_stat("abs");
	cat("s");
	mk("sd/x", "through");
	cat("d/x");
	ls("sd");
	ls("sd/");
	/* link() does not follow a final symlink. */
	CALL2(link, "s", "s2");
	do_lstat("s2");
	do_stat("h");
	/* A symlink's own mode, and a chain. */
	do_symlink("s", "s3");
	cat("s3");
	do_symlink("s3/x", "s4");
	do_stat("s4");
	do_symlink("d/../h", "s5");
	cat("s5");
	CALL2(symlink, "h", "d/x");
	ls("d");
	ls(".");
}

static void s_at(void)
{
	do_mkdir("d", 0755);
	int dfd = outfd("open d O_DIRECTORY", open(P("d"), O_RDONLY | O_DIRECTORY));
	int fd = outfd("openat d f O_CREAT", openat(dfd, "f", O_CREAT | O_WRONLY, 0644));
	do_write("d/f", fd, "at");
	close(fd);
	cat("d/f");
	struct stat st;
	describe("fstatat d f 0", fstatat(dfd, "f", &st, 0), &st);
	describe("fstatat d \"\" AT_EMPTY_PATH", fstatat(dfd, "", &st, AT_EMPTY_PATH), &st);
	describe("fstatat d \"\" 0", fstatat(dfd, "", &st, 0), &st);
	describe("fstatat d .. 0", fstatat(dfd, "..", &st, 0), &st);
	out("mkdirat d sub", mkdirat(dfd, "sub", 0700));
	out("symlinkat f d l", symlinkat("f", dfd, "l"));
	describe("fstatat d l AT_SYMLINK_NOFOLLOW", fstatat(dfd, "l", &st, AT_SYMLINK_NOFOLLOW), &st);
	describe("fstatat d l 0", fstatat(dfd, "l", &st, 0), &st);
	char buf[64];
	show("readlinkat d l", readlinkat(dfd, "l", buf, sizeof(buf)), buf);
	out("linkat d f d f2 0", linkat(dfd, "f", dfd, "f2", 0));
	out("linkat d l d l2 AT_SYMLINK_FOLLOW", linkat(dfd, "l", dfd, "l2", AT_SYMLINK_FOLLOW));
	describe("fstatat d l2 AT_SYMLINK_NOFOLLOW", fstatat(dfd, "l2", &st, AT_SYMLINK_NOFOLLOW), &st);
	out("renameat d f2 d sub/f3", renameat(dfd, "f2", dfd, "sub/f3"));
	out("faccessat d sub/f3 R_OK", faccessat(dfd, "sub/f3", R_OK, 0));
	out("faccessat d nope F_OK", faccessat(dfd, "nope", F_OK, 0));
	out("fchmodat d f 0600", fchmodat(dfd, "f", 0600, 0));
	describe("fstatat d f 0", fstatat(dfd, "f", &st, 0), &st);
	out("unlinkat d sub 0", unlinkat(dfd, "sub", 0));
	out("unlinkat d sub AT_REMOVEDIR", unlinkat(dfd, "sub", AT_REMOVEDIR));
	out("unlinkat d sub/f3 0", unlinkat(dfd, "sub/f3", 0));
	out("unlinkat d sub AT_REMOVEDIR", unlinkat(dfd, "sub", AT_REMOVEDIR));
	out("unlinkat d f AT_REMOVEDIR", unlinkat(dfd, "f", AT_REMOVEDIR));
	out("unlinkat d l2 0", unlinkat(dfd, "l2", 0));
	/* An absolute path ignores the dirfd. */
	mk("top", "top");
	fd = open(P("top"), O_RDONLY);
	out("openat d <abs top>", openat(dfd, P("top"), O_RDONLY) >= 0 ? 0 : -1);
	out("openat <file fd> x", openat(fd, "x", O_RDONLY));
	out("mkdirat <file fd> x", mkdirat(fd, "x", 0755));
	close(fd);
	out("openat -5 x", openat(-5, "x", O_RDONLY));
	out("openat d .. dir", openat(dfd, "..", O_RDONLY | O_DIRECTORY) >= 0 ? 0 : -1);
	ls("d");
	close(dfd);
}

/* A directory of 100 entries, more than one read-ahead batch: a stream's
 * telldir and seekdir in the middle, and getdents64 through a small buffer.
 * Orders differ between file systems: counts and sets are printed. */
static void big_dir(void)
{
	char name[32], seen[120][32];
	do_mkdir("big", 0755);
	int made = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "big/e%03d", i);
		int fd = open(P(name), O_CREAT | O_EXCL | O_WRONLY, 0644);
		made += fd >= 0;
		close(fd);
	}
	printf("big: made %d files\n", made);
	DIR *dir = opendir(P("big"));
	int n = 0, after = 0;
	long mark = -1;
	struct dirent *de;
	while ((de = readdir(dir)) && n < 120) {
		if (n == 40)
			mark = telldir(dir); /* the position after 41 entries */
		if (n > 40)
			snprintf(seen[after++], sizeof(seen[0]), "%.31s", de->d_name);
		n++;
	}
	printf("big: readdir -> %d entries\n", n);
	seekdir(dir, mark);
	int again = 0, same = 1;
	while ((de = readdir(dir)) && again < 120) {
		if (again >= after || strcmp(seen[again], de->d_name))
			same = 0;
		again++;
	}
	printf("big: after seekdir to the 41st -> %d entries, same as before %d\n", again, same);
	/* a seek inside what a read-ahead may hold: back to the 6th */
	rewinddir(dir);
	long at6 = -1;
	for (int i = 0; i < 10 && readdir(dir); i++)
		if (i == 5)
			at6 = telldir(dir);
	seekdir(dir, at6);
	n = 0;
	while (readdir(dir))
		n++;
	printf("big: after seekdir back to the 6th -> %d entries\n", n);
	CALL1(unlink, "big/e050");
	rewinddir(dir);
	n = 0;
	while (readdir(dir))
		n++;
	printf("big: after unlink and rewinddir -> %d entries\n", n);
	closedir(dir);
	int fd = open(P("big"), O_RDONLY | O_DIRECTORY);
	char buf[200];
	long got, total = 0, calls = 0;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			unsigned short rl;
			memcpy(&rl, buf + off + 16, sizeof(rl));
			off += rl;
			total++;
		}
		calls++;
	}
	printf("big: getdents64 of 200 bytes -> %ld entries, last %ld\n", total, got);
	close(fd);
}

static void s_dirs(void)
{
	do_mkdir("d", 0755);
	ls("d");
	mk("d/b", "b");
	mk("d/a", "a");
	do_mkdir("d/sub", 0755);
	do_symlink("a", "d/l");
	ls("d");
	ls("d/");
	ls("d/sub/..");
	ls("missing");
	ls("d/a");
	DIR *dir = opendir(P("d"));
	list("readdir d (open)", dir);
	mk("d/c", "c");
	CALL1(unlink, "d/b");
	rewinddir(dir);
	list("readdir d (after rewinddir)", dir);
	int fd = dirfd(dir);
	struct stat st;
	describe("fstat dirfd(d)", fstat(fd, &st), &st);
	closedir(dir);
	fd = open(P("d"), O_RDONLY | O_DIRECTORY);
	dir = fdopendir(fd);
	out("fdopendir d", dir ? 0 : -1);
	if (dir) {
		list("readdir fdopendir d", dir);
		closedir(dir);
	}
	/* The fd's position after one readdir is past what the stream
	 * read ahead (glibc's getdents buffer, the shim's batch), not past
	 * that one entry: a stream on a dup of the fd reads on from there,
	 * here at the end of this small directory. */
	dir = opendir(P("d"));
	if (dir) {
		out("readdir d once", readdir(dir) ? 0 : -1);
		DIR *again = fdopendir(dup(dirfd(dir)));
		if (again) {
			list("readdir a dup of its fd", again);
			closedir(again);
		}
		closedir(dir);
	}
	fd = open(P("d/a"), O_RDONLY);
	dir = fdopendir(fd);
	out("fdopendir d/a", dir ? 0 : -1);
	if (dir)
		closedir(dir);
	else
		close(fd);
	CALL1(rmdir, "d/sub");
	ls("d");
	do_stat("d");
	big_dir();
}

static void do_getcwd(void)
{
	char buf[PATH_MAX];
	char *r = getcwd(buf, sizeof(buf));
	int e = errno;
	if (!r) {
		printf("getcwd -> -1 %s\n", en(e));
		return;
	}
	size_t n = strlen(D);
	if (strncmp(buf, D, n) == 0)
		printf("getcwd -> $D%s -\n", buf + n);
	else
		printf("getcwd -> %s -\n", buf);
	fflush(stdout);
}

static void s_cwd(void)
{
	do_mkdir("d", 0755);
	do_mkdir("d/sub", 0755);
	mk("f", "top");
	out("chdir d", chdir(P("d")));
	do_getcwd();
	out("open x O_CREAT (relative)", open("x", O_CREAT | O_WRONLY, 0644) >= 0 ? 0 : -1);
	do_stat("d/x");
	struct stat st;
	describe("stat ../f (relative)", stat("../f", &st), &st);
	describe("stat ./x (relative)", stat("./x", &st), &st);
	describe("stat sub/../x (relative)", stat("sub/../x", &st), &st);
	describe("stat . (relative)", stat(".", &st), &st);
	out("mkdir sub2 (relative)", mkdir("sub2", 0755));
	out("chdir sub", chdir("sub"));
	do_getcwd();
	out("rename ../x y (relative)", rename("../x", "y"));
	do_stat("d/sub/y");
	out("symlink ../../f lf (relative)", symlink("../../f", "lf"));
	describe("stat lf (relative)", stat("lf", &st), &st);
	out("chdir ..", chdir(".."));
	do_getcwd();
	out("chdir f", chdir(P("f")));
	out("chdir missing", chdir(P("missing")));
	out("chdir ../f (relative)", chdir("../f"));
	do_getcwd();
	do_symlink("d/sub", "lsub");
	out("chdir lsub", chdir(P("lsub")));
	do_getcwd();
	out("chdir .. (from lsub)", chdir(".."));
	do_getcwd();
	int fd = open(P("d/sub"), O_RDONLY | O_DIRECTORY);
	out("chdir /", chdir("/"));
	out("fchdir d/sub", fchdir(fd));
	close(fd);
	do_getcwd();
	describe("stat y (relative)", stat("y", &st), &st);
	DIR *dir = opendir(".");
	if (dir) {
		list("readdir . (relative)", dir);
		closedir(dir);
	} else {
		out("opendir .", -1);
	}
	fd = open(P("f"), O_RDONLY);
	out("fchdir f", fchdir(fd));
	close(fd);
	/* The current directory removed under us. */
	out("chdir d/sub2", chdir(P("d/sub2")));
	out("rmdir d/sub2", rmdir(P("d/sub2")));
	do_getcwd();
	out("open z O_CREAT (relative, removed cwd)", open("z", O_CREAT | O_WRONLY, 0644) >= 0 ? 0 : -1);
	describe("stat . (removed cwd)", stat(".", &st), &st);
	out("chdir /", chdir("/"));
}

static void s_names(void)
{
	char name[300], path[PATH_MAX + 600];
	memset(name, 'n', 255);
	name[255] = 0;
	int fd = OPEN(name, O_CREAT | O_WRONLY);
	close(fd);
	do_stat(name);
	strcat(name, "n"); /* 256 */
	OPEN(name, O_CREAT | O_WRONLY);
	do_stat(name);
	do_mkdir(name, 0755);
	do_symlink("x", name);
	do_symlink(name, "toolong");
	do_lstat("toolong");
	do_stat("toolong");
	mk("f", "f");
	CALL2(rename, "f", name);
	CALL2(link, "f", name);
	CALL1(unlink, name);

	/* A path longer than PATH_MAX, made of short components. */
	size_t n = 0;
	while (n < PATH_MAX + 100)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "aaaaaaa/");
	strcat(path, "f");
	OPEN(path + 0, O_CREAT | O_WRONLY);
	do_stat(path);
	do_mkdir(path, 0755);

	/* "..": the kernel resolves every component, it does not cancel
	 * "x/.." lexically. */
	do_mkdir("d", 0755);
	do_mkdir("d/sub", 0755);
	mk("d/sub/g", "g");
	do_stat("d/../f");
	do_stat("missing/../f");
	do_stat("f/../f");
	do_stat("d/sub/../../f");
	do_symlink("d/sub", "ls");
	do_stat("ls/../sub");
	do_stat("ls/../g");
	cat("ls/../sub/g");
	do_stat("d/./sub/./g");
	do_stat("d//sub///g");
	do_stat("f/.");
	do_stat("f/..");
	do_stat("d/sub/g/");
	do_stat("ls/");
	do_lstat("ls/");
	do_lstat("ls");
	mk("d/../top", "t");
	cat("top");
	OPEN("missing/../new", O_CREAT | O_WRONLY);
	do_stat("new");
	do_mkdir("missing/../dnew", 0755);
	do_stat("dnew");
	ls(".");
}

static void s_fd(void)
{
	mk("f", "0123456789");
	int fd = OPEN("f", O_RDWR);
	int fd2 = outfd("dup f", dup(fd));
	out("lseek f 4 SEEK_SET", lseek(fd, 4, SEEK_SET));
	out("lseek dup 0 SEEK_CUR (shared offset)", lseek(fd2, 0, SEEK_CUR));
	do_read("dup", fd2, 2);
	out("lseek f 0 SEEK_CUR", lseek(fd, 0, SEEK_CUR));
	out("fcntl f F_GETFL & (O_ACCMODE|O_APPEND)", fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND));
	out("fcntl f F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
	out("fcntl f F_GETFL & (O_ACCMODE|O_APPEND)", fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND));
	out("fcntl dup F_GETFL & O_APPEND (shared)", fcntl(fd2, F_GETFL) & O_APPEND);
	out("lseek f 0 SEEK_SET", lseek(fd, 0, SEEK_SET));
	do_write("f", fd, "E");
	cat("f");
	out("fcntl f F_GETFD", fcntl(fd, F_GETFD));
	int fd3 = outfd("fcntl f F_DUPFD_CLOEXEC 20", fcntl(fd, F_DUPFD_CLOEXEC, 20));
	out("fcntl dup3 F_GETFD", fcntl(fd3, F_GETFD));
	out("dup2 dup f->30", dup2(fd3, 30) == 30 ? 0 : -1);
	do_pread("fd30", 30, 3, 0);
	out("close 30", close(30));
	out("close 30 again", close(30));
	do_pread("fd30", 30, 3, 0);
	out("fsync f", fsync(fd));
	out("fdatasync f", fdatasync(fd));
	/* A file opened by name never takes seals (F_SEAL_SEAL). */
	out("fcntl f F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	out("fcntl f F_ADD_SEALS F_SEAL_WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	out("fcntl f F_ADD_SEALS 0x1000 (no such seal)", fcntl(fd, F_ADD_SEALS, 0x1000));
	out("fcntl f F_GET_SEALS again", fcntl(fd, F_GET_SEALS));
	do_pwrite("f after F_ADD_SEALS", fd, "S", 9);
	close(fd);
	close(fd2);
	close(fd3);
	fd = OPEN("f", O_RDONLY);
	out("fcntl f(O_RDONLY) F_ADD_SEALS F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	close(fd);
	fd = OPEN("f", O_PATH);
	out("fcntl f(O_PATH) F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	close(fd);

	/* Holes, data and allocation. */
	fd = OPEN("sparse", O_RDWR | O_CREAT);
	do_pwrite("sparse", fd, "x", 20000);
	do_fstat("sparse", fd);
	out("lseek sparse 0 SEEK_DATA", lseek(fd, 0, SEEK_DATA));
	out("lseek sparse 0 SEEK_HOLE", lseek(fd, 0, SEEK_HOLE));
	out("lseek sparse 20001 SEEK_DATA", lseek(fd, 20001, SEEK_DATA));
	out("posix_fallocate sparse 0 30000", -posix_fallocate(fd, 0, 30000) ? -1 : 0);
	do_fstat("sparse", fd);
	out("fallocate sparse KEEP_SIZE 0 40000", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 40000));
	do_fstat("sparse", fd);
	close(fd);

	/* Kernel copies between two files of the directory. */
	int in = OPEN("f", O_RDONLY);
	int o = OPEN("copy", O_WRONLY | O_CREAT | O_TRUNC);
	out("copy_file_range f copy 100", copy_file_range(in, NULL, o, NULL, 100, 0));
	off_t off = 2;
	out("sendfile copy f @2 4", sendfile(o, in, &off, 4));
	close(o);
	close(in);
	cat("copy");

	/* A directory fd syncs; O_PATH opens without reading. */
	fd = OPEN(".", O_RDONLY | O_DIRECTORY);
	out("fsync dir", fsync(fd));
	out("fdatasync dir", fdatasync(fd));
	do_write("dir", fd, "x");
	close(fd);
	fd = OPEN("f", O_PATH);
	do_fstat("f(O_PATH)", fd);
	do_read("f(O_PATH)", fd, 1);
	close(fd);
	fd = OPEN("f", O_RDONLY);
	out("flock f LOCK_EX", flock(fd, LOCK_EX));
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	out("fcntl f F_SETLK F_WRLCK (read-only fd)", fcntl(fd, F_SETLK, &fl));
	fl.l_type = F_RDLCK;
	out("fcntl f F_SETLK F_RDLCK", fcntl(fd, F_SETLK, &fl));
	close(fd);
}

/* Sparse files: sizes, allocated blocks (by path and by fd), holes, and
 * the calls that make and fill them. */
static void s_sparse(void)
{
	const long long G = 1LL << 30, P4 = 4096;
	int fd = OPEN("s", O_RDWR | O_CREAT);
	do_pwrite("s", fd, "x", 2 * G);
	do_stat("s");
	do_fstat("s", fd);
	out("ftruncate s 999999999999999", ftruncate(fd, 999999999999999LL));
	do_stat("s");
	out("ftruncate s 3G", ftruncate(fd, 3 * G));
	do_stat("s");
	do_pwrite("s", fd, "y", 3 * G - 1);
	do_stat("s");
	do_pwrite("s", fd, "abc", P4 - 1); /* across pages 0 and 1 */
	do_stat("s");
	do_pwrite("s", fd, "ABC", P4 - 1); /* the same pages again */
	do_stat("s");
	do_pread("s", fd, 4, P4 - 2);
	do_pread("s", fd, 4, G);
	do_stat("s");
	out("lseek s 0 SEEK_DATA", lseek(fd, 0, SEEK_DATA));
	out("lseek s 0 SEEK_HOLE", lseek(fd, 0, SEEK_HOLE));
	out("lseek s 3*4096 SEEK_DATA", lseek(fd, 3 * P4, SEEK_DATA));
	out("lseek s 0 SEEK_SET", lseek(fd, 0, SEEK_SET));
	do_write("s", fd, "w"); /* through the offset */
	out("lseek s 0 SEEK_CUR", lseek(fd, 0, SEEK_CUR));
	out("fallocate s PUNCH_HOLE|KEEP_SIZE 0 8192",
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 2 * P4));
	do_stat("s");
	do_pread("s", fd, 4, P4 - 2);
	out("fallocate s KEEP_SIZE 3G 8192", fallocate(fd, FALLOC_FL_KEEP_SIZE, 3 * G, 2 * P4));
	do_stat("s");
	out("fallocate s 0 3G+8192 4096", fallocate(fd, 0, 3 * G + 2 * P4, P4));
	do_stat("s");
	out("ftruncate s 2G+1", ftruncate(fd, 2 * G + 1));
	do_stat("s");
	do_fstat("s", fd);
	/* Offsets at the end of what a file can be. */
	do_pwrite("s", fd, "z", 1LL << 62);
	do_stat("s");
	do_pwrite("s", fd, "zz", LLONG_MAX - 1);
	do_pwrite("s", fd, "z", LLONG_MAX);
	do_pwrite("s", fd, "z", LLONG_MAX - 1);
	do_stat("s");
	out("ftruncate s LLONG_MAX", ftruncate(fd, LLONG_MAX));
	do_stat("s");
	out("ftruncate s -1", ftruncate(fd, -1));
	out("fallocate s 0 LLONG_MAX-10 100", fallocate(fd, 0, LLONG_MAX - 10, 100));
	close(fd);
	out("truncate s 5000", truncate(P("s"), 5000));
	do_stat("s");
	out("truncate s 1G", truncate(P("s"), G));
	do_stat("s");
	fd = OPEN("s", O_WRONLY | O_TRUNC);
	do_stat("s");
	close(fd);
}

/* ---- mapio: pread, pwrite and read that the store serves from a mapping --- */

#define P4 4096L

/* What a read or write returned and, for a read, a digest of the bytes
 * (FNV-1a) and the first and last of them. */
static void digest(const char *what, ssize_t k, const unsigned char *b)
{
	int e = errno;
	if (k < 0) {
		printf("%s -> -1 %s\n", what, en(e));
		return;
	}
	uint32_t h = 2166136261u;
	for (ssize_t i = 0; i < k; i++)
		h = (h ^ b[i]) * 16777619u;
	printf("%s -> %zd - fnv=%08x first=%02x last=%02x\n", what, k, h, k ? b[0] : 0,
	       k ? b[k - 1] : 0);
	fflush(stdout);
}

static void m_pread(int fd, void *buf, size_t n, off_t off)
{
	char w[96];
	snprintf(w, sizeof(w), "pread m %zu @%lld", n, (long long)off);
	digest(w, pread(fd, buf, n, off), buf);
}

static void m_read(int fd, void *buf, size_t n)
{
	char w[96];
	ssize_t k = read(fd, buf, n);
	int e = errno;
	snprintf(w, sizeof(w), "read m %zu (then @%lld)", n, (long long)lseek(fd, 0, SEEK_CUR));
	errno = e;
	digest(w, k, buf);
}

/* pwrite of n bytes of c (or of buf when c is 0) */
static void m_pwrite(int fd, const void *buf, int c, size_t n, off_t off)
{
	static unsigned char fill[16 * P4];
	char w[96];
	if (c) {
		memset(fill, c, n);
		buf = fill;
	}
	snprintf(w, sizeof(w), "pwrite m %zu x%02x @%lld", n, c, (long long)off);
	out(w, pwrite(fd, buf, n, off));
}

/* The store side must really have mapped the file by now: a line the
 * tmpfs side never prints when it has not (the differential test then
 * fails), nothing when it has. */
static void mapped_check(void)
{
	if (strncmp(D, "/mem/", 5))
		return;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:memshim") && !strstr(line, "arena"))
			found = 1;
	if (f)
		fclose(f);
	if (!found)
		printf("the store did not map the file\n");
}

static void s_mapio(void)
{
	static unsigned char buf[16 * P4];
	int fd = OPEN("m", O_RDWR | O_CREAT);
	/* pages 0-7 and 16-23 hold data; 8-15 and 24-31 are holes */
	for (int i = 0; i < 8; i++) {
		m_pwrite(fd, NULL, 'a' + i, P4, i * P4);
		m_pwrite(fd, NULL, 'A' + i, P4, (16 + i) * P4);
	}
	out("ftruncate m 32 pages", ftruncate(fd, 32 * P4));
	do_stat("m");
	/* enough reads for the store to map the file */
	for (int i = 0; i < 16; i++)
		m_pread(fd, buf, P4, (i % 8) * P4 + i);
	mapped_check();
	/* holes read as zeros and stay holes, alone or next to data */
	m_pread(fd, buf, P4, 8 * P4);
	m_pread(fd, buf, P4, 24 * P4);
	m_pread(fd, buf, 3 * P4, 7 * P4);
	m_pread(fd, buf, 2 * P4, 15 * P4);
	m_pread(fd, buf, 10, 31 * P4 + 100);
	do_stat("m");
	/* overwrites, across pages; seen through another fd's own mapping */
	m_pwrite(fd, "XYZ", 0, 3, P4 - 1);
	m_pwrite(fd, NULL, 'q', P4, 2 * P4);
	m_pwrite(fd, NULL, 'r', 2 * P4 + 7, 4 * P4 + 5);
	m_pread(fd, buf, 8 * P4, 0);
	int fd2 = OPEN("m", O_RDONLY);
	unsigned char *view = mmap(NULL, 32 * P4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (view != MAP_FAILED) {
		digest("mapping of m, pages 0-7", 8 * P4, view);
		/* a store made through the program's own mapping, read back */
		memset(view + 3 * P4, 'M', 100);
		m_pread(fd2, buf, P4, 3 * P4);
		munmap(view, 32 * P4);
	}
	do_stat("m");
	/* writes into a hole, and across the end: charged as before */
	m_pwrite(fd, NULL, 'h', 1, 9 * P4 + 5);
	m_pwrite(fd, "END!", 0, 4, 32 * P4 - 2);
	do_stat("m");
	/* read() along the offset, to the end and past it */
	out("lseek m 0", lseek(fd2, 0, SEEK_SET));
	for (int i = 0; i < 34; i++)
		m_read(fd2, buf, P4);
	out("lseek m 30 pages + 100", lseek(fd2, 30 * P4 + 100, SEEK_SET));
	m_read(fd2, buf, 3 * P4);
	out("lseek m 1 page", lseek(fd2, P4, SEEK_SET));
	m_read(fd2, buf, 16 * P4);
	/* shrink: reads stop at the new end, writes below it are copies */
	out("ftruncate m 5 pages + 10", ftruncate(fd, 5 * P4 + 10));
	m_pread(fd, buf, P4, 5 * P4);
	m_pread(fd, buf, P4, 6 * P4);
	m_pwrite(fd, NULL, 's', P4, 2 * P4);
	m_pread(fd2, buf, 3 * P4, 0);
	do_stat("m");
	/* a punched page reads as zeros and is not held */
	out("fallocate m PUNCH_HOLE page 1",
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, P4, P4));
	m_pread(fd, buf, 2 * P4, 0);
	do_stat("m");
	/* grown again: what was cut off is a hole */
	out("ftruncate m 32 pages", ftruncate(fd, 32 * P4));
	m_pread(fd, buf, 4 * P4, 4 * P4);
	m_pread(fd, buf, P4, 20 * P4);
	do_stat("m");
	/* access modes */
	int ro = OPEN("m", O_RDONLY), wo = OPEN("m", O_WRONLY), pa = OPEN("m", O_PATH);
	int ap = OPEN("m", O_RDWR | O_APPEND);
	for (int i = 0; i < 12; i++) {
		m_pwrite(ro, NULL, 'x', P4, 0);
		m_pread(wo, buf, P4, 0);
		m_read(wo, buf, P4);
		m_pwrite(wo, NULL, 'w', P4, 2 * P4);
		m_pread(pa, buf, P4, 0);
		m_pwrite(pa, NULL, 'p', P4, 0);
	}
	m_pwrite(ap, "app", 0, 3, 0);
	m_pread(fd, buf, 8, 32 * P4 - 2);
	do_stat("m");
	/* O_APPEND set on a shared description by another process: pwrite
	 * appends from then on */
	pid_t kid = fork();
	if (kid == 0)
		_exit(fcntl(fd, F_SETFL, O_APPEND) ? 1 : 0);
	int kst = -1;
	waitpid(kid, &kst, 0);
	printf("child F_SETFL O_APPEND: status %d\n", kst);
	m_pwrite(fd, "APP", 0, 3, 0);
	m_pread(fd, buf, 8, 32 * P4 + 1);
	m_pread(fd, buf, 4, 0);
	do_stat("m");
	out("F_SETFL 0", fcntl(fd, F_SETFL, 0));
	/* dnotify: a write that is a copy into the mapping still signals
	 * DN_MODIFY on the directory */
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	int dfd = open(D, O_RDONLY | O_DIRECTORY);
	out("F_SETSIG", fcntl(dfd, F_SETSIG, SIGRTMIN + 1));
	out("F_NOTIFY DN_MODIFY", fcntl(dfd, F_NOTIFY, DN_MODIFY | DN_MULTISHOT));
	m_pwrite(fd, NULL, 'n', P4, 0);
	struct timespec ts = {1, 0};
	siginfo_t si;
	printf("DN_MODIFY signal: %d\n", sigtimedwait(&rt, &si, &ts) == SIGRTMIN + 1);
	close(dfd);
	/* bad buffers: EFAULT, or the bytes before the bad page */
	unsigned char *two = mmap(NULL, 2 * P4, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (two != MAP_FAILED && mprotect(two + P4, P4, PROT_NONE) == 0) {
		memset(two, 'b', P4);
		out("pread m into a bad page", pread(fd, two + P4, P4, 0));
		out("pread m into a good and a bad page", pread(fd, two, 2 * P4, 0));
		out("pwrite m from a bad page", pwrite(fd, two + P4, P4, 0));
		out("pwrite m from a good and a bad page", pwrite(fd, two, 2 * P4, 3 * P4));
		out("lseek m 0", lseek(fd2, 0, SEEK_SET));
		out("read m into a bad page", read(fd2, two + P4, P4));
		out("lseek m 0 SEEK_CUR", lseek(fd2, 0, SEEK_CUR));
		out("read m into a good and a bad page", read(fd2, two, 2 * P4));
		out("lseek m 0 SEEK_CUR", lseek(fd2, 0, SEEK_CUR));
		m_pread(fd, buf, 4 * P4, 2 * P4);
	}
	/* a write moves the times */
	struct stat a, b;
	stat(P("m"), &a);
	usleep(30000);
	m_pwrite(fd, NULL, 't', P4, 0);
	stat(P("m"), &b);
	printf("mtime moved %d ctime moved %d\n",
	       b.st_mtim.tv_sec * 1000000000LL + b.st_mtim.tv_nsec >
		       a.st_mtim.tv_sec * 1000000000LL + a.st_mtim.tv_nsec,
	       b.st_ctim.tv_sec * 1000000000LL + b.st_ctim.tv_nsec >
		       a.st_ctim.tv_sec * 1000000000LL + a.st_ctim.tv_nsec);
	close(ro);
	close(wo);
	close(pa);
	close(ap);
	close(fd2);
	close(fd);
	out("unlink m", unlink(P("m")));
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{"files", s_files}, {"stat", s_stat},	{"namespace", s_namespace},
	{"rename", s_rename}, {"links", s_links}, {"at", s_at},
	{"dirs", s_dirs},   {"cwd", s_cwd},	{"names", s_names},
	{"fd", s_fd},	    {"sparse", s_sparse}, {"mapio", s_mapio},
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: diffops DIR SECTION\n");
		return 2;
	}
	D = argv[1];
	umask(022);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (!strcmp(argv[2], sections[i].name)) {
			sections[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "diffops: no section %s\n", argv[2]);
	return 2;
}
