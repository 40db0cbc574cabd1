/* tests/helpers/dirprobe.c — directory and cwd calls of a real program, run
 * under the preload by tests/test_shim_dir.c. Uses libc only (no core).
 *
 *	dirprobe list DIR         readdir order: "name type ino-check" lines
 *	dirprobe raw DIR          readdir's d_name, d_ino, d_type, d_off verbatim
 *	dirprobe sorted DIR       the same lines, sorted by name (alphasort)
 *	dirprobe seek DIR         telldir/seekdir/rewinddir round trip
 *	dirprobe scan DIR         scandir without dot names, alphasort; scandirat
 *	dirprobe getdents DIR     getdents64 on dirfd(opendir(DIR)), small buffer
 *	dirprobe readdir_r DIR    readdir_r and readdir64_r agree with readdir
 *	dirprobe fdopen DIR       open(O_DIRECTORY) + fdopendir; closedir closes it
 *	dirprobe at DIR FILE      *at calls, fstat, fsync on dirfd(opendir(DIR))
 *	dirprobe cwd DIR          chdir + getcwd contract (ERANGE, EINVAL, NULL)
 *	dirprobe fchdir REAL MEM  fchdir back and forth, relative access in each
 *	dirprobe removed DIR      getcwd/readdir in a removed directory: ENOENT
 *	dirprobe errors DIR       ENOENT/ENOTDIR from chdir, opendir, fdopendir...
 *	dirprobe exec DIR CMD...  chdir(DIR) then execvp CMD (cwd inheritance)
 *
 * Prints what it saw; "FAIL: ..." lines and exit status 1 on a mismatch.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include "helpers/check.h"

static const char *tname(unsigned char t)
{
	switch (t) {
	case DT_REG:
		return "reg";
	case DT_DIR:
		return "dir";
	case DT_LNK:
		return "lnk";
	case DT_UNKNOWN:
		return "unknown";
	default:
		return "other";
	}
}

/* The type lstat gives, as a d_type. */
static unsigned char mode_type(mode_t m)
{
	if (S_ISREG(m))
		return DT_REG;
	if (S_ISDIR(m))
		return DT_DIR;
	if (S_ISLNK(m))
		return DT_LNK;
	return DT_UNKNOWN;
}

/* One line per entry; d_ino and d_type checked against fstatat. "." and
 * ".." are checked against stat of DIR and DIR/.. . */
static void entry_line(DIR *d, const char *dir, const struct dirent *e)
{
	struct stat st;
	int r;
	/* The root of a mount (and of the store) lists itself as "..". */
	if (strcmp(e->d_name, "..") == 0 && stat(dir, &st) == 0 && (ino_t)e->d_ino == st.st_ino) {
		CHECK(e->d_type == DT_DIR, "..: d_type %d", e->d_type);
		printf("%s %s ino-root\n", e->d_name, tname(e->d_type));
		return;
	}
	if (strcmp(e->d_name, "..") == 0) {
		char up[4096];
		snprintf(up, sizeof(up), "%s/..", dir);
		r = stat(up, &st);
	} else {
		r = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW);
	}
	CHECK(r == 0, "fstatat %s: %s", e->d_name, strerror(errno));
	const char *ino = "-";
	if (r == 0) {
		ino = (ino_t)e->d_ino == st.st_ino ? "ino-ok" : "ino-DIFF";
		CHECK((ino_t)e->d_ino == st.st_ino, "%s: d_ino %lu st_ino %lu", e->d_name,
		      (unsigned long)e->d_ino, (unsigned long)st.st_ino);
		CHECK(e->d_type == mode_type(st.st_mode), "%s: d_type %d, mode %o", e->d_name,
		      e->d_type, st.st_mode);
	}
	printf("%s %s %s\n", e->d_name, tname(e->d_type), ino);
}

static int cmd_list(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir: %s\n", strerror(errno));
		return 1;
	}
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		entry_line(d, dir, e);
		errno = 0;
	}
	CHECK(errno == 0, "readdir ended with %s", strerror(errno));
	CHECK(closedir(d) == 0, "closedir: %s", strerror(errno));
	return check_fails != 0;
}

/* Everything readdir answers, verbatim: the passthrough check. */
static int cmd_raw(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir: %s\n", strerror(errno));
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		printf("%s %lu %d %ld\n", e->d_name, (unsigned long)e->d_ino, e->d_type,
		       (long)e->d_off);
	printf("telldir %ld\n", telldir(d));
	closedir(d);
	return 0;
}

static int cmd_sorted(const char *dir)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	if (n < 0) {
		printf("scandir: %s\n", strerror(errno));
		return 1;
	}
	DIR *d = opendir(dir);
	CHECK(d != NULL, "opendir: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		if (d)
			entry_line(d, dir, v[i]);
		free(v[i]);
	}
	free(v);
	if (d)
		closedir(d);
	return check_fails != 0;
}

static int cmd_seek(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir: %s\n", strerror(errno));
		return 1;
	}
	char names[64][256];
	long pos[64];
	int n = 0;
	pos[0] = telldir(d);
	struct dirent *e;
	while (n < 63 && (e = readdir(d)) != NULL) {
		snprintf(names[n], sizeof(names[n]), "%s", e->d_name);
		CHECK(e->d_off == telldir(d), "d_off %ld, telldir %ld", (long)e->d_off, telldir(d));
		pos[++n] = telldir(d);
	}
	CHECK(n >= 4, "only %d entries", n);
	CHECK(strcmp(names[0], ".") == 0 && strcmp(names[1], "..") == 0, "first %s %s",
	      names[0], names[1]);
	/* Seeking to each recorded position yields the entry read after it. */
	for (int i = n - 1; i >= 0; i--) {
		seekdir(d, pos[i]);
		e = readdir(d);
		CHECK(e && strcmp(e->d_name, names[i]) == 0, "seek to %d: %s, want %s", i,
		      e ? e->d_name : "(end)", names[i]);
	}
	seekdir(d, pos[n]);
	errno = 0;
	CHECK(readdir(d) == NULL && errno == 0, "seek to the end: an entry or an error");
	rewinddir(d);
	e = readdir(d);
	CHECK(e && strcmp(e->d_name, ".") == 0, "after rewinddir: %s", e ? e->d_name : "(end)");
	closedir(d);
	printf("%d entries\n", n);
	return check_fails != 0;
}

static int no_dots(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int by_name_desc(const struct dirent **a, const struct dirent **b)
{
	return -strcmp((*a)->d_name, (*b)->d_name);
}

static int no_dots64(const struct dirent64 *e)
{
	return e->d_name[0] != '.';
}

static int cmd_scan(const char *dir)
{
	struct dirent **v;
	int n = scandir(dir, &v, no_dots, alphasort);
	if (n < 0) {
		printf("scandir: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		printf("%s\n", v[i]->d_name);
		free(v[i]);
	}
	free(v);
	/* scandirat relative to a dirfd of the directory's parent. */
	char parent[4096], *slash;
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	CHECK(slash && slash != parent, "dir must be /a/b");
	if (slash && slash != parent) {
		*slash = 0;
		int pfd = open(parent, O_RDONLY | O_DIRECTORY);
		CHECK(pfd >= 0, "open %s: %s", parent, strerror(errno));
		struct dirent **w;
		int m = scandirat(pfd, slash + 1, &w, no_dots, by_name_desc);
		CHECK(m == n, "scandirat: %d, scandir %d (%s)", m, n, strerror(errno));
		for (int i = 0; i < m; i++) {
			printf("at %s\n", w[i]->d_name);
			free(w[i]);
		}
		if (m >= 0)
			free(w);
		close(pfd);
	}
	struct dirent64 **v64;
	int n64 = scandir64(dir, &v64, no_dots64, alphasort64);
	CHECK(n64 == n, "scandir64: %d, scandir %d", n64, n);
	for (int i = 0; i < n64; i++)
		free(v64[i]);
	if (n64 >= 0)
		free(v64);
	return check_fails != 0;
}

struct kd64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int cmd_getdents(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir: %s\n", strerror(errno));
		return 1;
	}
	int fd = dirfd(d);
	char tiny[16];
	errno = 0;
	CHECK(getdents64(fd, tiny, sizeof(tiny)) == -1 && errno == EINVAL,
	      "a buffer too small for one record: %s", strerror(errno));
	/* A buffer of about two records: several calls, none lost. */
	char buf[64] __attribute__((aligned(8)));
	int count = 0;
	ssize_t k;
	while ((k = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < k;) {
			struct kd64 *r = (struct kd64 *)(buf + off);
			struct stat st;
			if (strcmp(r->d_name, "..") != 0) {
				CHECK(fstatat(fd, r->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0,
				      "fstatat %s", r->d_name);
				CHECK(st.st_ino == (ino_t)r->d_ino, "%s: d_ino", r->d_name);
				CHECK(mode_type(st.st_mode) == r->d_type, "%s: d_type", r->d_name);
			}
			CHECK(r->d_reclen % 8 == 0, "reclen %u", r->d_reclen);
			printf("%s %s\n", r->d_name, tname(r->d_type));
			off += r->d_reclen;
			count++;
		}
	}
	CHECK(k == 0, "getdents64: %s", strerror(errno));
	CHECK(getdents64(fd, buf, sizeof(buf)) == 0, "after the end");
	printf("%d records\n", count);
	closedir(d);
	return check_fails != 0;
}

static int cmd_readdir_r(const char *dir)
{
	DIR *a = opendir(dir), *b = opendir(dir), *c = opendir(dir);
	if (!a || !b || !c) {
		printf("opendir: %s\n", strerror(errno));
		return 1;
	}
	struct dirent ent, *res, *e;
	struct dirent64 ent64, *res64;
	int n = 0;
	for (;;) {
		e = readdir(a);
		int r = readdir_r(b, &ent, &res);
		int r64 = readdir64_r(c, &ent64, &res64);
		CHECK(r == 0 && r64 == 0, "readdir_r: %d %d", r, r64);
		if (!e) {
			CHECK(res == NULL && res64 == NULL, "readdir_r went on");
			break;
		}
		CHECK(res == &ent && res64 == &ent64, "result pointer");
		CHECK(res && strcmp(res->d_name, e->d_name) == 0 && res->d_ino == e->d_ino &&
			      res->d_type == e->d_type,
		      "readdir_r: %s, readdir %s", res ? res->d_name : "-", e->d_name);
		CHECK(res64 && strcmp(res64->d_name, e->d_name) == 0, "readdir64_r");
		n++;
	}
	printf("%d entries\n", n);
	closedir(a);
	closedir(b);
	closedir(c);
	return check_fails != 0;
}

/* Threads sharing one stream: readdir_r from 4 threads at once, each
 * entry of f0..f<n-1>, "." and ".." to exactly one of them, 20 times over
 * (rewinddir between): the stream's lock, which the shim takes once the
 * process has threads (shim/dir.c, dir_lock). */
#define TH_N 4
struct th_arg {
	DIR *d;
	int *seen; /* [n + 2]: f0.. f<n-1>, ".", ".." */
	int n;
	pthread_mutex_t *mu;
};

static void *th_read(void *p)
{
	struct th_arg *a = p;
	struct dirent ent, *res;
	while (readdir_r(a->d, &ent, &res) == 0 && res) {
		int k = -1;
		if (strcmp(ent.d_name, ".") == 0)
			k = a->n;
		else if (strcmp(ent.d_name, "..") == 0)
			k = a->n + 1;
		else if (ent.d_name[0] == 'f')
			k = atoi(ent.d_name + 1);
		pthread_mutex_lock(a->mu);
		if (k >= 0 && k < a->n + 2)
			a->seen[k]++;
		else
			a->seen[a->n + 2]++; /* a name that is not there */
		pthread_mutex_unlock(a->mu);
	}
	return NULL;
}

static int cmd_threads(const char *dir, int n)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir: %s\n", strerror(errno));
		return 1;
	}
	int *seen = calloc((size_t)n + 3, sizeof(int));
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct th_arg a = {d, seen, n, &mu};
	for (int round = 0; round < 20; round++) {
		memset(seen, 0, ((size_t)n + 3) * sizeof(int));
		rewinddir(d);
		pthread_t t[TH_N];
		for (int i = 0; i < TH_N; i++)
			pthread_create(&t[i], NULL, th_read, &a);
		for (int i = 0; i < TH_N; i++)
			pthread_join(t[i], NULL);
		for (int k = 0; k < n + 3; k++)
			CHECK(seen[k] == (k < n + 2), "round %d: entry %d seen %d times", round, k,
			      seen[k]);
		if (check_fails)
			break;
	}
	printf("threads: %s\n", check_fails ? "FAIL" : "every entry once");
	free(seen);
	closedir(d);
	return check_fails != 0;
}

static int cmd_fdopen(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		printf("open: %s\n", strerror(errno));
		return 1;
	}
	DIR *d = fdopendir(fd);
	CHECK(d != NULL, "fdopendir: %s", strerror(errno));
	if (!d)
		return 1;
	CHECK(dirfd(d) == fd, "dirfd %d, fd %d", dirfd(d), fd);
	int n = 0;
	while (readdir(d))
		n++;
	printf("%d entries\n", n);
	CHECK(closedir(d) == 0, "closedir: %s", strerror(errno));
	errno = 0;
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "closedir left fd %d open", fd);
	return check_fails != 0;
}

static int cmd_at(const char *dir, const char *file)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir: %s\n", strerror(errno));
		return 1;
	}
	int dfd = dirfd(d);
	struct stat st, st2;
	CHECK(fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode), "fstat(dirfd): %s", strerror(errno));
	CHECK(stat(dir, &st2) == 0 && st2.st_ino == st.st_ino, "fstat(dirfd) is not stat(dir)");
	int fd = openat(dfd, file, O_RDONLY);
	CHECK(fd >= 0, "openat %s: %s", file, strerror(errno));
	if (fd >= 0) {
		char buf[256];
		ssize_t k = read(fd, buf, sizeof(buf) - 1);
		buf[k > 0 ? k : 0] = 0;
		printf("content %s", buf);
		CHECK(fsync(fd) == 0, "fsync(file): %s", strerror(errno));
		close(fd);
	}
	CHECK(fstatat(dfd, file, &st, 0) == 0 && S_ISREG(st.st_mode), "fstatat: %s",
	      strerror(errno));
	CHECK(fsync(dfd) == 0, "fsync(dirfd): %s", strerror(errno));
	CHECK(fdatasync(dfd) == 0, "fdatasync(dirfd): %s", strerror(errno));
	CHECK(syncfs(dfd) == 0, "syncfs(dirfd): %s", strerror(errno));
	/* A dup of the directory fd is a directory fd too. */
	int dup_fd = dup(dfd);
	CHECK(dup_fd >= 0 && fstatat(dup_fd, file, &st2, 0) == 0 && st2.st_ino == st.st_ino,
	      "fstatat through a dup: %s", strerror(errno));
	close(dup_fd);
	closedir(d);
	return check_fails != 0;
}

static int cmd_cwd(const char *dir)
{
	CHECK(chdir(dir) == 0, "chdir %s: %s", dir, strerror(errno));
	char buf[4096];
	CHECK(getcwd(buf, sizeof(buf)) == buf, "getcwd: %s", strerror(errno));
	printf("getcwd %s\n", buf);
	size_t len = strlen(buf);
	char small[4096];
	errno = 0;
	CHECK(getcwd(small, len) == NULL && errno == ERANGE, "getcwd(len): %s", strerror(errno));
	CHECK(getcwd(small, len + 1) == small && strcmp(small, buf) == 0, "getcwd(len + 1)");
	errno = 0;
	CHECK(getcwd(small, 0) == NULL && errno == EINVAL, "getcwd(buf, 0): %s", strerror(errno));
	char *a = getcwd(NULL, 0);
	CHECK(a && strcmp(a, buf) == 0, "getcwd(NULL, 0): %s", a ? a : strerror(errno));
	free(a);
	a = getcwd(NULL, len + 10);
	CHECK(a && strcmp(a, buf) == 0, "getcwd(NULL, len + 10)");
	free(a);
	errno = 0;
	CHECK(getcwd(NULL, len) == NULL && errno == ERANGE, "getcwd(NULL, len): %s",
	      strerror(errno));
	a = get_current_dir_name();
	CHECK(a && strcmp(a, buf) == 0, "get_current_dir_name: %s", a ? a : strerror(errno));
	free(a);
	/* Through dlsym: a direct reference to getwd makes the linker warn. */
	char *(*getwd_fn)(char *) = (char *(*)(char *))dlsym(RTLD_DEFAULT, "getwd");
	char wd[4096];
	CHECK(getwd_fn && getwd_fn(wd) == wd && strcmp(wd, buf) == 0, "getwd: %s", wd);
	/* Relative paths now resolve from here. */
	struct stat st, st2;
	CHECK(stat(".", &st) == 0 && stat(dir, &st2) == 0 && st.st_ino == st2.st_ino &&
		      st.st_dev == st2.st_dev,
	      "stat(\".\") is not stat(dir)");
	return check_fails != 0;
}

static int cmd_fchdir(const char *real, const char *mem)
{
	int rfd = open(real, O_RDONLY | O_DIRECTORY);
	int mfd = open(mem, O_RDONLY | O_DIRECTORY);
	CHECK(rfd >= 0 && mfd >= 0, "open: %s", strerror(errno));
	char buf[4096];
	for (int i = 0; i < 2; i++) {
		CHECK(fchdir(mfd) == 0, "fchdir(store): %s", strerror(errno));
		CHECK(getcwd(buf, sizeof(buf)) && strcmp(buf, mem) == 0, "getcwd in store: %s", buf);
		CHECK(access("in-mem", F_OK) == 0, "in-mem not seen from the store cwd");
		CHECK(access("in-real", F_OK) != 0, "in-real seen from the store cwd");
		CHECK(fchdir(rfd) == 0, "fchdir(real): %s", strerror(errno));
		CHECK(getcwd(buf, sizeof(buf)) && strcmp(buf, real) == 0, "getcwd real: %s", buf);
		CHECK(access("in-real", F_OK) == 0, "in-real not seen from the real cwd");
		CHECK(access("in-mem", F_OK) != 0, "in-mem seen from the real cwd");
		CHECK(chdir(mem) == 0 && chdir(real) == 0, "chdir back and forth");
	}
	/* fchdir to a store file: ENOTDIR. */
	int ffd = openat(mfd, "in-mem", O_RDONLY);
	errno = 0;
	CHECK(ffd >= 0 && fchdir(ffd) == -1 && errno == ENOTDIR, "fchdir(file): %s",
	      strerror(errno));
	close(ffd);
	printf("fchdir ok\n");
	return check_fails != 0;
}

static int cmd_removed(const char *dir)
{
	CHECK(mkdir(dir, 0755) == 0, "mkdir: %s", strerror(errno));
	CHECK(chdir(dir) == 0, "chdir: %s", strerror(errno));
	DIR *d = opendir(".");
	CHECK(d != NULL, "opendir(.): %s", strerror(errno));
	CHECK(rmdir(dir) == 0, "rmdir: %s", strerror(errno));
	char buf[4096];
	errno = 0;
	CHECK(getcwd(buf, sizeof(buf)) == NULL && errno == ENOENT, "getcwd: %s",
	      strerror(errno));
	errno = 0;
	CHECK(getcwd(NULL, 0) == NULL && errno == ENOENT, "getcwd(NULL, 0): %s",
	      strerror(errno));
	/* As on tmpfs: the stream reads as empty (glibc turns getdents'
	 * ENOENT into the end), "." still opens, getdents64 says ENOENT. */
	if (d) {
		errno = 0;
		CHECK(readdir(d) == NULL && errno == 0, "readdir: %s", strerror(errno));
		closedir(d);
	}
	d = opendir(".");
	CHECK(d != NULL, "opendir(.): %s", strerror(errno));
	if (d) {
		char buf[256];
		errno = 0;
		CHECK(getdents64(dirfd(d), buf, sizeof(buf)) == -1 && errno == ENOENT,
		      "getdents64: %s", strerror(errno));
		closedir(d);
	}
	errno = 0;
	CHECK(mkdir("x", 0755) == -1 && errno == ENOENT, "mkdir in it: %s", strerror(errno));
	printf("removed ok\n");
	return check_fails != 0;
}

static int cmd_errors(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/nope", dir);
	errno = 0;
	CHECK(chdir(p) == -1 && errno == ENOENT, "chdir(missing): %s", strerror(errno));
	errno = 0;
	CHECK(opendir(p) == NULL && errno == ENOENT, "opendir(missing): %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/file", dir);
	errno = 0;
	CHECK(chdir(p) == -1 && errno == ENOTDIR, "chdir(file): %s", strerror(errno));
	errno = 0;
	CHECK(opendir(p) == NULL && errno == ENOTDIR, "opendir(file): %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/file/x", dir);
	errno = 0;
	CHECK(chdir(p) == -1 && errno == ENOTDIR, "chdir(file/x): %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/file", dir);
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0, "open file: %s", strerror(errno));
	errno = 0;
	CHECK(fdopendir(fd) == NULL && errno == ENOTDIR, "fdopendir(file): %s", strerror(errno));
	char buf[256];
	errno = 0;
	CHECK(getdents64(fd, buf, sizeof(buf)) == -1 && errno == ENOTDIR,
	      "getdents64(file): %s", strerror(errno));
	close(fd);
	/* A failed chdir leaves the cwd where it was. */
	CHECK(chdir(dir) == 0, "chdir: %s", strerror(errno));
	CHECK(chdir("nope") == -1 && errno == ENOENT, "chdir(relative missing)");
	CHECK(getcwd(buf, sizeof(buf)) && strcmp(buf, dir) == 0, "cwd moved: %s", buf);
	printf("errors ok\n");
	return check_fails != 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: dirprobe CMD DIR ...\n");
		return 2;
	}
	const char *c = argv[1], *dir = argv[2];
	int r;
	if (strcmp(c, "list") == 0)
		r = cmd_list(dir);
	else if (strcmp(c, "raw") == 0)
		r = cmd_raw(dir);
	else if (strcmp(c, "sorted") == 0)
		r = cmd_sorted(dir);
	else if (strcmp(c, "seek") == 0)
		r = cmd_seek(dir);
	else if (strcmp(c, "scan") == 0)
		r = cmd_scan(dir);
	else if (strcmp(c, "getdents") == 0)
		r = cmd_getdents(dir);
	else if (strcmp(c, "readdir_r") == 0)
		r = cmd_readdir_r(dir);
	else if (strcmp(c, "fdopen") == 0)
		r = cmd_fdopen(dir);
	else if (strcmp(c, "threads") == 0 && argc > 3)
		r = cmd_threads(dir, atoi(argv[3]));
	else if (strcmp(c, "at") == 0 && argc > 3)
		r = cmd_at(dir, argv[3]);
	else if (strcmp(c, "cwd") == 0)
		r = cmd_cwd(dir);
	else if (strcmp(c, "fchdir") == 0 && argc > 3)
		r = cmd_fchdir(dir, argv[3]);
	else if (strcmp(c, "removed") == 0)
		r = cmd_removed(dir);
	else if (strcmp(c, "errors") == 0)
		r = cmd_errors(dir);
	else if (strcmp(c, "exec") == 0 && argc > 3) {
		if (chdir(dir) != 0) {
			printf("chdir: %s\n", strerror(errno));
			return 1;
		}
		fflush(stdout);
		execvp(argv[3], argv + 3);
		printf("exec: %s\n", strerror(errno));
		return 1;
	} else {
		fprintf(stderr, "dirprobe: unknown command %s\n", c);
		return 2;
	}
	fflush(stdout);
	return r ? 1 : 0;
}
