/* stdio_prog — small scenarios of stdio and glibc's composite calls, run
 * under the preload by tests/test_shim_stdio.c. Uses libc only.
 *
 *   stdio_prog NAME [ARG]
 *
 * Each scenario prints what it saw (on stderr when stdout is the thing
 * under test) and exits 0 when everything it checks itself held.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fails;

#define CHECK(cond, ...)                                                               \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);           \
			fprintf(stderr, __VA_ARGS__);                                  \
			fprintf(stderr, "\n");                                         \
			fails++;                                                       \
		}                                                                      \
	} while (0)

static const char *ename(int e)
{
	return e == ENOSPC ? "ENOSPC" : e == EDQUOT ? "EDQUOT" : e == ENOENT ? "ENOENT"
	       : e == EEXIST ? "EEXIST" : e == ENOTDIR ? "ENOTDIR" : e == EINVAL ? "EINVAL"
	       : strerror(e);
}

/* The whole file, NUL-terminated, read with stdio. */
static char *slurp(const char *path, size_t *len)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f, "fopen %s: %s", path, strerror(errno));
	if (!f)
		return;
	fputs(text, f);
	CHECK(fclose(f) == 0, "fclose %s: %s", path, strerror(errno));
}

/* ---- fopen modes -------------------------------------------------------------- */

static void mode_w_r(void)
{
	put("/mem/m", "abc");
	char *s = slurp("/mem/m", NULL);
	CHECK(s && strcmp(s, "abc") == 0, "read back '%s'", s ? s : "(null)");
	put("/mem/m", "x"); /* w truncates */
	s = slurp("/mem/m", NULL);
	CHECK(s && strcmp(s, "x") == 0, "after truncate '%s'", s ? s : "(null)");
}

static void mode_a(void)
{
	put("/mem/m", "abc");
	FILE *f = fopen("/mem/m", "a");
	CHECK(f, "fopen a: %s", strerror(errno));
	CHECK(ftell(f) == 3, "ftell after a: %ld", ftell(f));
	fputs("def", f);
	fclose(f);
	f = fopen("/mem/m", "a+");
	char b[16] = {0};
	CHECK(fgets(b, sizeof(b), f) && strcmp(b, "abcdef") == 0, "a+ reads '%s'", b);
	fputs("g", f);
	fclose(f);
	char *s = slurp("/mem/m", NULL);
	CHECK(s && strcmp(s, "abcdefg") == 0, "appended '%s'", s ? s : "(null)");
}

static void mode_rplus_wplus(void)
{
	put("/mem/m", "abcdef");
	FILE *f = fopen("/mem/m", "r+");
	CHECK(f, "fopen r+: %s", strerror(errno));
	fputs("XY", f);
	fseek(f, 0, SEEK_END);
	fputs("!", f);
	fclose(f);
	char *s = slurp("/mem/m", NULL);
	CHECK(s && strcmp(s, "XYcdef!") == 0, "r+ gave '%s'", s ? s : "(null)");
	f = fopen("/mem/m", "w+");
	CHECK(f, "fopen w+: %s", strerror(errno));
	fputs("new", f);
	rewind(f);
	char b[16] = {0};
	CHECK(fgets(b, sizeof(b), f) && strcmp(b, "new") == 0, "w+ reads '%s'", b);
	fclose(f);
	f = fopen("/mem/m", "r");
	CHECK(fputs("no", f) == EOF || fflush(f) == EOF, "r stream accepted a write");
	fclose(f);
}

static void mode_x_e_missing(void)
{
	put("/mem/m", "abc");
	errno = 0;
	FILE *f = fopen("/mem/m", "wx");
	CHECK(!f && errno == EEXIST, "wx on existing: %p %s", (void *)f, ename(errno));
	f = fopen("/mem/nx", "wx");
	CHECK(f, "wx on new: %s", strerror(errno));
	if (f)
		fclose(f);
	f = fopen("/mem/m", "re");
	CHECK(f && (fcntl(fileno(f), F_GETFD) & FD_CLOEXEC), "re: no FD_CLOEXEC");
	if (f)
		fclose(f);
	f = fopen("/mem/m", "rb");
	CHECK(f && (fcntl(fileno(f), F_GETFD) & FD_CLOEXEC) == 0, "rb: FD_CLOEXEC set");
	if (f)
		fclose(f);
	errno = 0;
	f = fopen("/mem/missing", "r");
	CHECK(!f && errno == ENOENT, "missing: %s", ename(errno));
	errno = 0;
	f = fopen("/mem/m", "q");
	CHECK(!f && errno == EINVAL, "bad mode: %s", ename(errno));
	umask(022);
	put("/mem/um", "u");
	struct stat st;
	CHECK(stat("/mem/um", &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o",
	      (unsigned)st.st_mode & 0777);
}

static void fileno_ok(void)
{
	FILE *f = fopen("/mem/fn", "w");
	CHECK(f, "fopen: %s", strerror(errno));
	int fd = fileno(f);
	CHECK(fd >= 3, "fileno %d", fd);
	CHECK(fileno_unlocked(f) == fd, "fileno_unlocked %d", fileno_unlocked(f));
	fputs("12345", f);
	fflush(f);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == 5, "fstat size %ld", (long)st.st_size);
	struct stat mst;
	CHECK(stat("/mem", &mst) == 0 && st.st_dev == mst.st_dev, "not the store's device");
	fclose(f);
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "fclose left fd %d open", fd);
	CHECK(fileno(stdin) == 0 && fileno(stderr) == 2, "standard filenos");
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	FILE *r = fdopen(p[0], "r");
	CHECK(r && fileno(r) == p[0], "fileno of a real fdopen");
}

static void fdopen_store(void)
{
	int fd = open("/mem/fd", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	FILE *f = fdopen(fd, "w");
	CHECK(f && fileno(f) == fd, "fdopen");
	fputs("via fdopen", f);
	CHECK(fclose(f) == 0, "fclose: %s", strerror(errno));
	char *s = slurp("/mem/fd", NULL);
	CHECK(s && strcmp(s, "via fdopen") == 0, "content '%s'", s ? s : "(null)");
	fd = open("/mem/fd", O_RDONLY);
	errno = 0;
	f = fdopen(fd, "w");
	CHECK(!f && errno == EINVAL, "fdopen w of O_RDONLY: %s", ename(errno));
	close(fd);
}

/* ---- the quota through stdio ----------------------------------------------------- */

/* 1000-byte records, each flushed, until one is refused. */
static void fill(void)
{
	char rec[1000];
	memset(rec, 'r', sizeof(rec));
	FILE *f = fopen("/mem/fill", "w");
	CHECK(f, "fopen: %s", strerror(errno));
	long n = 0;
	int err = 0;
	for (;;) {
		if (fwrite(rec, 1, sizeof(rec), f) != sizeof(rec)) {
			err = errno;
			break;
		}
		if (fflush(f)) {
			err = errno;
			break;
		}
		n++;
	}
	printf("refused=%s\n", ename(err));
	CHECK(ferror(f), "no error flag");
	fclose(f);
	struct stat st;
	stat("/mem/fill", &st);
	printf("records=%ld size=%ld\n", n, (long)st.st_size);
	size_t len;
	char *s = slurp("/mem/fill", &len);
	int clean = s && len == (size_t)n * 1000;
	for (size_t i = 0; clean && i < len; i++)
		clean = s[i] == 'r';
	CHECK(clean, "content is not %ld whole records", n);
	CHECK(n > 0 && n < 64, "records %ld", n);
}

/* Buffered, never flushed: the refusal comes at fclose, and the file keeps
 * what it had. */
static void fclose_fail(void)
{
	static char buf[60000];
	memset(buf, 'p', sizeof(buf));
	int fd = open("/mem/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf), "prefill: %s",
	      strerror(errno));
	close(fd);
	FILE *f = fopen("/mem/big", "a");
	CHECK(f, "fopen: %s", strerror(errno));
	CHECK(fwrite(buf, 1, 5000, f) == 5000, "fwrite into the buffer failed");
	int r = fclose(f);
	int err = errno;
	printf("fclose=%d errno=%s\n", r, r ? ename(err) : "-");
	struct stat st;
	stat("/mem/big", &st);
	printf("size=%ld\n", (long)st.st_size);
}

/* stdout made a store file in this process, as a shell's redirection does. */
static void redirect(int n, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	dup2(fd, 1);
	close(fd);
	int i, err = 0;
	for (i = 0; i < n; i++)
		if (printf("%0999d\n", i) < 0) {
			err = errno;
			break;
		}
	if (!err && fflush(stdout))
		err = errno;
	fprintf(stderr, "printed=%d err=%s fileno=%d\n", i, err ? ename(err) : "-",
		fileno(stdout));
}

/* printf to whatever stdout is (a shell redirected it). */
static void print(int n)
{
	int i, err = 0;
	for (i = 0; i < n; i++)
		if (printf("%0999d\n", i) < 0) {
			err = errno;
			break;
		}
	if (!err && fclose(stdout))
		err = errno;
	fprintf(stderr, "err=%s\n", err ? ename(err) : "-");
}

/* stderr onto a store file: still unbuffered, every byte there at once. */
static void stderr_redirect(void)
{
	int fd = open("/mem/err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int keep = dup(2);
	dup2(fd, 2);
	close(fd);
	fprintf(stderr, "to the store %d", 7);
	size_t len;
	char *s = slurp("/mem/err", &len);
	int ok = s && strcmp(s, "to the store 7") == 0;
	dup2(keep, 2); /* back to the real stderr */
	CHECK(ok, "store stderr holds '%s'", s ? s : "(null)");
	fprintf(stderr, "back on the real stderr\n");
	s = slurp("/mem/err", &len);
	CHECK(s && strcmp(s, "to the store 7") == 0, "later text reached the store: '%s'", s);
}

static void stderr_print(void)
{
	fprintf(stderr, "err line %d\n", 1);
	fputs("err line 2\n", stderr);
}

static void freopen_stdout(void)
{
	FILE *f = freopen("/mem/fr", "w", stdout);
	CHECK(f == stdout, "freopen result is not stdout");
	CHECK(fileno(stdout) == 1, "fileno(stdout) %d", fileno(stdout));
	printf("through freopen %d\n", 1);
	fflush(stdout);
	char *s = slurp("/mem/fr", NULL);
	CHECK(s && strcmp(s, "through freopen 1\n") == 0, "content '%s'", s ? s : "(null)");
	/* A store stream reopened onto another store file keeps its pointer. */
	FILE *g = fopen("/mem/g1", "w");
	FILE *h = freopen("/mem/g2", "w", g);
	CHECK(h == g, "freopen of a store stream moved it");
	fputs("g2", h);
	fclose(h);
	s = slurp("/mem/g2", NULL);
	CHECK(s && strcmp(s, "g2") == 0, "g2 holds '%s'", s ? s : "(null)");
}

static void do_dprintf(void)
{
	int fd = open("/mem/dp", O_RDWR | O_CREAT | O_TRUNC, 0644);
	int n = dprintf(fd, "%d-%s", 42, "x");
	CHECK(n == 4, "dprintf returned %d", n);
	char *s = slurp("/mem/dp", NULL);
	CHECK(s && strcmp(s, "42-x") == 0, "content '%s'", s ? s : "(null)");
	static char big[100000];
	memset(big, 'd', sizeof(big) - 1);
	errno = 0;
	n = dprintf(fd, "%s", big);
	printf("big=%d errno=%s\n", n, n < 0 ? ename(errno) : "-");
	struct stat st;
	fstat(fd, &st);
	CHECK(st.st_size == 4, "a refused dprintf left %ld bytes", (long)st.st_size);
	close(fd);
}

/* ---- composite calls --------------------------------------------------------------- */

static void do_mkstemp(void)
{
	char t[] = "/mem/tmpXXXXXX";
	int fd = mkstemp(t);
	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	CHECK(strncmp(t, "/mem/tmp", 8) == 0 && strcmp(t + 8, "XXXXXX") != 0, "name %s", t);
	struct stat st, mst;
	CHECK(stat(t, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
	      "stat %s", t);
	CHECK(stat("/mem", &mst) == 0 && st.st_dev == mst.st_dev, "not in the store");
	CHECK(write(fd, "tmp", 3) == 3, "write");
	char *s = slurp(t, NULL);
	CHECK(s && strcmp(s, "tmp") == 0, "content '%s'", s ? s : "(null)");
	char t2[] = "/mem/sufXXXXXX.c";
	int fd2 = mkostemps(t2, 2, O_CLOEXEC);
	CHECK(fd2 >= 0 && strcmp(t2 + 14, ".c") == 0, "mkostemps %s", t2);
	CHECK(fcntl(fd2, F_GETFD) & FD_CLOEXEC, "mkostemps O_CLOEXEC");
	char bad[] = "/mem/tmpXXXXX";
	errno = 0;
	CHECK(mkstemp(bad) == -1 && errno == EINVAL, "short template: %s", ename(errno));
	printf("%s\n", t);
}

static void do_mkdtemp(void)
{
	char t[] = "/mem/dirXXXXXX";
	char *d = mkdtemp(t);
	CHECK(d == t, "mkdtemp: %s", strerror(errno));
	struct stat st;
	CHECK(stat(t, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	      "stat %s", t);
	char n[] = "/mem/nameXXXXXX";
	CHECK(mktemp(n) == n && n[0] && access(n, F_OK) == -1 && errno == ENOENT,
	      "mktemp %s", n);
}

static void realpath_dotdot(void)
{
	mkdir("/mem/a", 0755);
	put("/mem/b", "b");
	char buf[PATH_MAX];
	char *r = realpath("/mem/a/../b", buf);
	CHECK(r == buf && strcmp(buf, "/mem/b") == 0, "got %s", r ? buf : strerror(errno));
	r = realpath("/mem//a/./", NULL);
	CHECK(r && strcmp(r, "/mem/a") == 0, "got %s", r ? r : strerror(errno));
	free(r);
	r = canonicalize_file_name("/mem/a/..");
	CHECK(r && strcmp(r, "/mem") == 0, "canonicalize %s", r ? r : strerror(errno));
	free(r);
}

static void realpath_symlink(void)
{
	mkdir("/mem/a", 0755);
	mkdir("/mem/a/deep", 0755);
	CHECK(symlink("a/deep", "/mem/l") == 0, "symlink: %s", strerror(errno));
	CHECK(symlink("/mem/l/..", "/mem/abs") == 0, "symlink: %s", strerror(errno));
	char buf[PATH_MAX];
	char *r = realpath("/mem/l", buf);
	CHECK(r && strcmp(buf, "/mem/a/deep") == 0, "l: %s", r ? buf : strerror(errno));
	r = realpath("/mem/abs", buf);
	CHECK(r && strcmp(buf, "/mem/a") == 0, "abs: %s", r ? buf : strerror(errno));
	CHECK(symlink("/etc", "/mem/out") == 0, "symlink: %s", strerror(errno));
	r = realpath("/mem/out/hostname", buf);
	char want[PATH_MAX];
	CHECK(r && realpath("/etc/hostname", want) && strcmp(buf, want) == 0, "out: %s",
	      r ? buf : strerror(errno));
}

static void realpath_errors(void)
{
	put("/mem/f", "f");
	char buf[PATH_MAX];
	errno = 0;
	CHECK(!realpath("/mem/nope", buf) && errno == ENOENT, "missing: %s", ename(errno));
	errno = 0;
	CHECK(!realpath("/mem/nope/x", buf) && errno == ENOENT, "missing dir: %s",
	      ename(errno));
	errno = 0;
	CHECK(!realpath("/mem/f/x", buf) && errno == ENOTDIR, "file as dir: %s", ename(errno));
	symlink("loop", "/mem/loop");
	errno = 0;
	CHECK(!realpath("/mem/loop", buf) && errno == ELOOP, "loop: %s", ename(errno));
}

static void do_glob(void)
{
	mkdir("/mem/g", 0755);
	put("/mem/g/a.txt", "");
	put("/mem/g/b.txt", "");
	put("/mem/g/c.dat", "");
	mkdir("/mem/g/d.txt", 0755);
	glob_t g;
	int r = glob("/mem/g/*.txt", GLOB_MARK, NULL, &g);
	CHECK(r == 0, "glob %d", r);
	for (size_t i = 0; r == 0 && i < g.gl_pathc; i++)
		printf("%s\n", g.gl_pathv[i]);
	if (r == 0)
		globfree(&g);
	r = glob("/mem/g/*.none", 0, NULL, &g);
	CHECK(r == GLOB_NOMATCH, "no match gave %d", r);
}

static int counts[8];
static int order_ok = 1;
static char seen[64][PATH_MAX];
static int nseen;

static int walker(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type >= 0 && type < 8)
		counts[type]++;
	/* Depth first: a directory comes after everything below it. */
	for (int i = 0; i < nseen; i++)
		if (strncmp(path, seen[i], strlen(seen[i])) == 0 && path[strlen(seen[i])] == '/')
			order_ok = 0; /* an ancestor was reported before this */
	if (nseen < 64)
		strcpy(seen[nseen++], path);
	printf("%d %d %s %s\n", type, f->level, path + f->base, path);
	return 0;
}

static void do_nftw(void)
{
	mkdir("/mem/w", 0755);
	mkdir("/mem/w/d1", 0755);
	mkdir("/mem/w/d1/d2", 0755);
	put("/mem/w/f1", "1");
	put("/mem/w/d1/f2", "2");
	put("/mem/w/d1/d2/f3", "3");
	symlink("f1", "/mem/w/sl");
	int r = nftw("/mem/w/", walker, 8, FTW_PHYS | FTW_DEPTH);
	CHECK(r == 0, "nftw %d %s", r, strerror(errno));
	printf("F=%d DP=%d SL=%d D=%d order=%d\n", counts[FTW_F], counts[FTW_DP], counts[FTW_SL],
	       counts[FTW_D], order_ok);
	errno = 0;
	r = nftw("/mem/none", walker, 8, 0);
	CHECK(r == -1 && errno == ENOENT, "missing root: %d %s", r, ename(errno));
}

static int old_counts[8];
static int old_walker(const char *path, const struct stat *st, int type)
{
	old_counts[type & 7]++;
	return 0;
}

static void do_ftw(void)
{
	mkdir("/mem/w", 0755);
	mkdir("/mem/w/d1", 0755);
	put("/mem/w/f1", "1");
	put("/mem/w/d1/f2", "2");
	symlink("f1", "/mem/w/sl");
	CHECK(ftw("/mem/w", old_walker, 4) == 0, "ftw");
	printf("F=%d D=%d\n", old_counts[FTW_F], old_counts[FTW_D]);
}

static void do_tmpfile(void)
{
	FILE *f = tmpfile();
	CHECK(f, "tmpfile: %s", strerror(errno));
	fputs("scratch", f);
	rewind(f);
	char b[16] = {0};
	CHECK(fgets(b, sizeof(b), f) && strcmp(b, "scratch") == 0, "read back '%s'", b);
	static char big[200000];
	memset(big, 't', sizeof(big));
	errno = 0;
	size_t w = fwrite(big, 1, sizeof(big), f);
	int err = errno;
	if (w == sizeof(big) && fflush(f))
		err = errno;
	printf("refused=%s\n", err ? ename(err) : "-");
	struct stat st;
	CHECK(fstat(fileno(f), &st) == 0 && st.st_size < 65536, "size %ld", (long)st.st_size);
	fclose(f);
}

static void do_cat(const char *path)
{
	char *s = slurp(path, NULL);
	CHECK(s, "fopen %s: %s", path, strerror(errno));
	if (s)
		fputs(s, stdout);
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";
	int n = argc > 2 ? atoi(argv[2]) : 0;
	if (!strcmp(c, "mode_w_r"))
		mode_w_r();
	else if (!strcmp(c, "mode_a"))
		mode_a();
	else if (!strcmp(c, "mode_rplus_wplus"))
		mode_rplus_wplus();
	else if (!strcmp(c, "mode_x_e_missing"))
		mode_x_e_missing();
	else if (!strcmp(c, "fileno"))
		fileno_ok();
	else if (!strcmp(c, "fdopen"))
		fdopen_store();
	else if (!strcmp(c, "fill"))
		fill();
	else if (!strcmp(c, "fclose_fail"))
		fclose_fail();
	else if (!strcmp(c, "redirect"))
		redirect(n, argc > 3 ? argv[3] : "/mem/out");
	else if (!strcmp(c, "print"))
		print(n);
	else if (!strcmp(c, "stderr_redirect"))
		stderr_redirect();
	else if (!strcmp(c, "stderr_print"))
		stderr_print();
	else if (!strcmp(c, "freopen"))
		freopen_stdout();
	else if (!strcmp(c, "dprintf"))
		do_dprintf();
	else if (!strcmp(c, "mkstemp"))
		do_mkstemp();
	else if (!strcmp(c, "mkdtemp"))
		do_mkdtemp();
	else if (!strcmp(c, "realpath_dotdot"))
		realpath_dotdot();
	else if (!strcmp(c, "realpath_symlink"))
		realpath_symlink();
	else if (!strcmp(c, "realpath_errors"))
		realpath_errors();
	else if (!strcmp(c, "glob"))
		do_glob();
	else if (!strcmp(c, "nftw"))
		do_nftw();
	else if (!strcmp(c, "ftw"))
		do_ftw();
	else if (!strcmp(c, "tmpfile"))
		do_tmpfile();
	else if (!strcmp(c, "cat") && argc > 2)
		do_cat(argv[2]);
	else {
		fprintf(stderr, "stdio_prog: unknown scenario '%s'\n", c);
		return 2;
	}
	fflush(stdout);
	return fails ? 1 : 0;
}
