/* tests/test_ns_diff.c — the namespace side by side with tmpfs.
 *
 * One table of operations runs on the store (through the ms_* calls, under
 * /mem/<name>) and on a fresh directory /dev/shm/<name> (through the real
 * system calls); every result and errno must agree, and so must the type,
 * size, link count and permission bits that stat reports. The table runs
 * twice: with absolute paths, and relative to a directory (a store directory
 * inode on one side, a dirfd on the other). Every mismatch is printed with
 * the operation and both results before the test fails
 * (MEMSHIM_DIFF_VERBOSE=1 prints every operation).
 *
 * Path notation in the table: a path is relative to the base directory;
 * "^" at the start of a symlink target stands for the base's absolute path;
 * "$B" is the base's own name (to come back through ".."); "{M}" is a name
 * of 255 bytes, "{L}" one of 256.
 */
#include <sys/stat.h>

#include "common.h"

enum kind { MKDIR, OPEN, UNLINK, RMDIR, RENAME, LINK, SYMLINK, READLINK, STAT, LSTAT,
	    TRUNCATE, CHMOD };

static const char *kname[] = { "mkdir", "open", "unlink", "rmdir", "rename", "link",
			       "symlink", "readlink", "stat", "lstat", "truncate", "chmod" };

struct op {
	enum kind k;
	const char *a, *b; /* path(s); SYMLINK: a = target, b = path */
	long arg;          /* open flags, rename flags, link flags, len, mode */
	mode_t mode;       /* open/mkdir mode */
};

#define NR RENAME_NOREPLACE
#define EX RENAME_EXCHANGE

static const struct op ops[] = {
	/* directories and trailing slashes */
	{ MKDIR, "d", 0, 0, 0755 },
	{ MKDIR, "d", 0, 0, 0755 },
	{ MKDIR, "d/", 0, 0, 0755 },
	{ MKDIR, "d/sub/", 0, 0, 0750 },
	{ MKDIR, "nope/x", 0, 0, 0755 },
	{ MKDIR, ".", 0, 0, 0755 },
	{ MKDIR, "d/sub/..", 0, 0, 0755 },
	{ STAT, "d", 0, 0, 0 },
	{ STAT, "d//sub//", 0, 0, 0 },
	{ STAT, "d/./sub/../sub/.", 0, 0, 0 },
	/* open flags */
	{ OPEN, "f", 0, O_CREAT | O_WRONLY, 0644 },
	{ OPEN, "f", 0, O_CREAT | O_EXCL | O_WRONLY, 0644 },
	{ OPEN, "f/", 0, O_RDONLY, 0 },
	{ OPEN, "f/", 0, O_CREAT | O_RDONLY, 0644 },
	{ OPEN, "new/", 0, O_CREAT | O_RDONLY, 0644 },
	{ OPEN, "new/", 0, O_CREAT | O_EXCL | O_RDONLY, 0644 },
	{ OPEN, "f/x", 0, O_CREAT | O_RDWR, 0644 },
	{ OPEN, "missing", 0, O_RDONLY, 0 },
	{ OPEN, "d", 0, O_WRONLY, 0 },
	{ OPEN, "d", 0, O_RDWR, 0 },
	{ OPEN, "d", 0, O_RDONLY, 0 },
	{ OPEN, "d", 0, O_RDONLY | O_TRUNC, 0 },
	{ OPEN, "d", 0, O_CREAT | O_RDONLY, 0644 },
	{ OPEN, "f", 0, O_RDONLY | O_DIRECTORY, 0 },
	{ OPEN, "n2", 0, O_CREAT | O_DIRECTORY | O_RDONLY, 0644 },
	{ OPEN, ".", 0, O_CREAT | O_RDONLY, 0644 },
	{ OPEN, ".", 0, O_CREAT | O_EXCL | O_RDONLY, 0644 },
	{ OPEN, "d/.", 0, O_RDONLY, 0 },
	{ OPEN, "d/..", 0, O_RDONLY | O_DIRECTORY, 0 },
	{ STAT, "n2", 0, 0, 0 },
	/* symlinks */
	{ SYMLINK, "f", "lf", 0, 0 },
	{ SYMLINK, "d", "ld", 0, 0 },
	{ SYMLINK, "nowhere", "dang", 0, 0 },
	{ SYMLINK, "loop2", "loop1", 0, 0 },
	{ SYMLINK, "loop1", "loop2", 0, 0 },
	{ SYMLINK, "x", "lf", 0, 0 },
	{ SYMLINK, "x", "nn/", 0, 0 },
	{ SYMLINK, "x", "f/", 0, 0 },
	{ SYMLINK, "", "empty", 0, 0 },
	{ SYMLINK, "../sub", "d/sub/up", 0, 0 },
	{ READLINK, "lf", 0, 0, 0 },
	{ READLINK, "f", 0, 0, 0 },
	{ READLINK, "ld/", 0, 0, 0 },
	{ READLINK, "lf/", 0, 0, 0 },
	{ READLINK, "missing", 0, 0, 0 },
	{ STAT, "lf", 0, 0, 0 },
	{ LSTAT, "lf", 0, 0, 0 },
	{ STAT, "dang", 0, 0, 0 },
	{ LSTAT, "dang", 0, 0, 0 },
	{ LSTAT, "dang/", 0, 0, 0 },
	{ STAT, "loop1", 0, 0, 0 },
	{ LSTAT, "loop1", 0, 0, 0 },
	{ STAT, "loop1/x", 0, 0, 0 },
	{ LSTAT, "ld/", 0, 0, 0 },
	{ LSTAT, "lf/", 0, 0, 0 },
	{ STAT, "ld/sub/..", 0, 0, 0 },
	{ STAT, "d/sub/up/up/up/.", 0, 0, 0 },
	{ OPEN, "lf", 0, O_RDONLY | O_NOFOLLOW, 0 },
	{ OPEN, "ld", 0, O_RDONLY | O_NOFOLLOW | O_DIRECTORY, 0 },
	{ OPEN, "ld/", 0, O_RDONLY | O_NOFOLLOW, 0 },
	{ OPEN, "ld", 0, O_RDONLY | O_DIRECTORY, 0 },
	{ OPEN, "lf", 0, O_CREAT | O_NOFOLLOW | O_RDONLY, 0644 },
	{ OPEN, "dang", 0, O_CREAT | O_EXCL | O_WRONLY, 0644 },
	{ OPEN, "dang", 0, O_CREAT | O_WRONLY, 0600 },
	{ STAT, "nowhere", 0, 0, 0 },
	{ OPEN, "loop1", 0, O_CREAT | O_WRONLY, 0644 },
	{ OPEN, "loop1/", 0, O_RDONLY, 0 },
	/* truncate */
	{ TRUNCATE, "f", 0, 10000, 0 },
	{ STAT, "f", 0, 0, 0 },
	{ TRUNCATE, "lf", 0, 5, 0 },
	{ STAT, "f", 0, 0, 0 },
	{ TRUNCATE, "d", 0, 0, 0 },
	{ TRUNCATE, "ld", 0, 0, 0 },
	{ TRUNCATE, "f", 0, -1, 0 },
	{ TRUNCATE, "missing", 0, 0, 0 },
	{ OPEN, "f", 0, O_WRONLY | O_TRUNC, 0 },
	{ STAT, "f", 0, 0, 0 },
	/* hard links */
	{ LINK, "f", "f2", 0, 0 },
	{ STAT, "f", 0, 0, 0 },
	{ LINK, "f", "f2", 0, 0 },
	{ LINK, "d", "d2", 0, 0 },
	{ LINK, "d/", "d2", 0, 0 },
	{ LINK, "d", "f", 0, 0 },
	{ LINK, "f", "new/", 0, 0 },
	{ LINK, "f", "f2/", 0, 0 },
	{ LINK, "f/", "f3", 0, 0 },
	{ LINK, "missing", "f3", 0, 0 },
	{ LINK, "lf", "lf3", AT_SYMLINK_FOLLOW, 0 },
	{ LINK, "dang", "dang2", AT_SYMLINK_FOLLOW, 0 },
	{ STAT, "f", 0, 0, 0 },
	{ LSTAT, "lf3", 0, 0, 0 },
	{ UNLINK, "f2", 0, 0, 0 },
	{ UNLINK, "lf3", 0, 0, 0 },
	{ STAT, "f", 0, 0, 0 },
	/* unlink and rmdir */
	{ UNLINK, "d", 0, 0, 0 },
	{ UNLINK, "d/", 0, 0, 0 },
	{ UNLINK, "f/", 0, 0, 0 },
	{ UNLINK, "ld/", 0, 0, 0 },
	{ UNLINK, ".", 0, 0, 0 },
	{ UNLINK, "..", 0, 0, 0 },
	{ UNLINK, "missing", 0, 0, 0 },
	{ UNLINK, "missing/", 0, 0, 0 },
	{ UNLINK, "d/sub/up", 0, 0, 0 },
	{ RMDIR, "d", 0, 0, 0 },
	{ RMDIR, ".", 0, 0, 0 },
	{ RMDIR, "d/.", 0, 0, 0 },
	{ RMDIR, "d/..", 0, 0, 0 },
	{ RMDIR, "f", 0, 0, 0 },
	{ RMDIR, "ld", 0, 0, 0 },
	{ RMDIR, "ld/", 0, 0, 0 },
	{ RMDIR, "missing", 0, 0, 0 },
	{ RMDIR, "d/sub/", 0, 0, 0 },
	{ STAT, "d", 0, 0, 0 },
	{ MKDIR, "d/sub", 0, 0, 0700 },
	{ MKDIR, "d/sub/deep", 0, 0, 0755 },
	{ STAT, "d", 0, 0, 0 },
	{ STAT, "d/sub", 0, 0, 0 },
	/* rename: into itself, over ancestors, dots */
	{ RENAME, "d", "d/sub/x", 0, 0 },
	{ RENAME, "d", "d/sub", 0, 0 },
	{ RENAME, "d/sub/deep", "d", 0, 0 },
	{ RENAME, "d/sub", "d", 0, 0 },
	{ RENAME, "d", "d", 0, 0 },
	{ RENAME, "d", "d/", 0, 0 },
	{ RENAME, "d", "d/.", 0, 0 },
	{ RENAME, ".", "x", 0, 0 },
	{ RENAME, "d/..", "x", 0, 0 },
	{ RENAME, "f", ".", NR, 0 },
	{ RENAME, "f", "..", 0, 0 },
	{ RENAME, "missing", "x", 0, 0 },
	{ RENAME, "f", "nope/x", 0, 0 },
	/* rename: type mismatches and non-empty targets */
	{ MKDIR, "e", 0, 0, 0755 },
	{ OPEN, "e/g", 0, O_CREAT | O_WRONLY, 0644 },
	{ RENAME, "d", "e", 0, 0 },
	{ RENAME, "f", "e", 0, 0 },
	{ RENAME, "e", "f", 0, 0 },
	{ RENAME, "f", "f/", 0, 0 },
	{ RENAME, "f", "g/", 0, 0 },
	{ RENAME, "f/", "g", 0, 0 },
	{ RENAME, "lf", "g/", 0, 0 },
	{ RENAME, "ld/", "g", 0, 0 },
	{ RENAME, "d/", "dd/", 0, 0 },
	{ STAT, "dd/sub/deep", 0, 0, 0 },
	{ RENAME, "dd", "d", 0, 0 },
	{ LINK, "f", "f2", 0, 0 },
	{ RENAME, "f", "f2", 0, 0 },
	{ STAT, "f", 0, 0, 0 },
	{ UNLINK, "f2", 0, 0, 0 },
	/* RENAME_NOREPLACE and RENAME_EXCHANGE */
	{ RENAME, "f", "dang", NR, 0 },
	{ RENAME, "f", "f", NR, 0 },
	{ RENAME, "f", "fresh", NR, 0 },
	{ RENAME, "fresh", "f", NR, 0 },
	{ RENAME, "f", "missing2", EX, 0 },
	{ RENAME, "f", "x", EX | NR, 0 },
	{ RENAME, "f", "f", EX, 0 },
	{ RENAME, "f", "lf/", EX, 0 },
	{ RENAME, "d", "d/sub", EX, 0 },
	{ RENAME, "d/sub", "d", EX, 0 },
	{ RENAME, "f", "e", EX, 0 },
	{ STAT, "e", 0, 0, 0 },
	{ STAT, "f", 0, 0, 0 },
	{ STAT, "f/g", 0, 0, 0 },
	{ RENAME, "e", "f", EX, 0 },
	{ RENAME, "e", "d/sub", EX, 0 },
	{ STAT, "d", 0, 0, 0 },
	{ STAT, "d/sub/g", 0, 0, 0 },
	{ STAT, "e/deep", 0, 0, 0 },
	{ STAT, ".", 0, 0, 0 },
	/* rename: replacing */
	{ RENAME, "f", "nowhere", 0, 0 },
	{ STAT, "f", 0, 0, 0 },
	{ STAT, "nowhere", 0, 0, 0 },
	{ STAT, "dang", 0, 0, 0 },
	{ MKDIR, "empty", 0, 0, 0755 },
	{ RENAME, "e", "empty", 0, 0 },
	{ STAT, "empty/deep", 0, 0, 0 },
	{ STAT, "e", 0, 0, 0 },
	{ RENAME, "lf", "lf4", 0, 0 },
	{ READLINK, "lf4", 0, 0, 0 },
	{ STAT, "lf4", 0, 0, 0 },
	{ RENAME, "nowhere", "d/sub/moved", 0, 0 },
	{ STAT, "d/sub/moved", 0, 0, 0 },
	{ STAT, "d/sub", 0, 0, 0 },
	/* chmod */
	{ CHMOD, "d/sub/moved", 0, 0600, 0 },
	{ STAT, "d/sub/moved", 0, 0, 0 },
	{ CHMOD, "ld", 0, 0700, 0 },
	{ STAT, "d", 0, 0, 0 },
	{ CHMOD, "missing", 0, 0700, 0 },
	/* long names, "..", absolute symlinks */
	{ MKDIR, "{M}", 0, 0, 0755 },
	{ MKDIR, "{L}", 0, 0, 0755 },
	{ STAT, "{L}/x", 0, 0, 0 },
	{ STAT, "d/sub/moved/{L}", 0, 0, 0 },
	{ OPEN, "{L}", 0, O_CREAT | O_WRONLY, 0644 },
	{ RENAME, "d/sub/moved", "{L}", 0, 0 },
	{ SYMLINK, "x", "{L}", 0, 0 },
	{ UNLINK, "{L}", 0, 0, 0 },
	{ RMDIR, "{M}", 0, 0, 0 },
	{ STAT, "../$B/d/sub", 0, 0, 0 },
	{ MKDIR, "../$B/d/sub/../new", 0, 0, 0755 },
	{ STAT, "d/new", 0, 0, 0 },
	{ SYMLINK, "^/d/sub/moved", "abs", 0, 0 },
	{ STAT, "abs", 0, 0, 0 },
	{ SYMLINK, "^/d", "absd", 0, 0 },
	{ STAT, "absd/sub/moved", 0, 0, 0 },
	{ OPEN, "absd/sub/via-abs", 0, O_CREAT | O_WRONLY, 0644 },
	{ STAT, "d/sub/via-abs", 0, 0, 0 },
	{ UNLINK, "dang", 0, 0, 0 },
	{ LSTAT, "dang", 0, 0, 0 },
	{ RMDIR, "empty/deep", 0, 0, 0 },
	{ RMDIR, "empty", 0, 0, 0 },
	{ STAT, ".", 0, 0, 0 },
};

/* Expands the notation of the table into out. */
static void expand(char *out, size_t n, const char *in, const char *base, const char *name)
{
	size_t o = 0;
	if (in[0] == '^') {
		o = (size_t)snprintf(out, n, "%s", base);
		in++;
	}
	for (; *in && o + 300 < n; in++) {
		if (in[0] == '$' && in[1] == 'B') {
			o += (size_t)snprintf(out + o, n - o, "%s", name);
			in++;
		} else if (in[0] == '{' && (in[1] == 'M' || in[1] == 'L') && in[2] == '}') {
			size_t k = in[1] == 'M' ? 255 : 256;
			memset(out + o, 'n', k);
			o += k;
			in += 2;
		} else {
			out[o++] = *in;
		}
	}
	out[o] = 0;
}

struct result {
	long r; /* 0, a count, or -errno */
	struct stat st;
	char link[512];
};

/* One side of the comparison: absolute paths under base, or paths relative
 * to a directory (a dirfd / a store directory inode). */
struct side {
	const char *base; /* absolute path of the base directory */
	const char *name; /* its last component */
	int rel;
	int dirfd;        /* real side, rel */
	ms_store *s;      /* store side */
	ms_ino dir;       /* store side, rel */
};

static void paths(const struct side *sd, const char *in, char *out, size_t n)
{
	char tmp[2048];
	expand(tmp, sizeof(tmp), in, sd->base, sd->name);
	size_t o = 0, bl = strlen(sd->base), tl = strlen(tmp);
	cr_assert_lt(bl + tl + 2, n);
	if (!sd->rel && in[0] != '^') {
		memcpy(out, sd->base, bl);
		out[bl] = '/';
		o = bl + 1;
	}
	memcpy(out + o, tmp, tl + 1);
}

static long neg(long r)
{
	return r < 0 ? -errno : r;
}

static void run_real(const struct side *sd, const struct op *op, struct result *res)
{
	char a[2048], b[2048], t[2048];
	int dfd = sd->rel ? sd->dirfd : AT_FDCWD;
	long r = 0;
	memset(res, 0, sizeof(*res));
	paths(sd, op->a, a, sizeof(a));
	if (op->b)
		paths(sd, op->b, b, sizeof(b));
	errno = 0;
	switch (op->k) {
	case MKDIR:
		r = neg(mkdirat(dfd, a, op->mode));
		break;
	case OPEN:
		r = neg(openat(dfd, a, (int)op->arg, op->mode));
		if (r >= 0) {
			close((int)r);
			r = 0;
		}
		break;
	case UNLINK:
		r = neg(unlinkat(dfd, a, 0));
		break;
	case RMDIR:
		r = neg(unlinkat(dfd, a, AT_REMOVEDIR));
		break;
	case RENAME:
		r = neg(renameat2(dfd, a, dfd, b, (unsigned)op->arg));
		break;
	case LINK:
		r = neg(linkat(dfd, a, dfd, b, (int)op->arg));
		break;
	case SYMLINK:
		expand(t, sizeof(t), op->a, sd->base, sd->name);
		r = neg(symlinkat(t, dfd, b));
		break;
	case READLINK:
		r = neg(readlinkat(dfd, a, res->link, sizeof(res->link)));
		break;
	case STAT:
	case LSTAT:
		r = neg(fstatat(dfd, a, &res->st, op->k == LSTAT ? AT_SYMLINK_NOFOLLOW : 0));
		break;
	case TRUNCATE: {
		char full[4096];
		if (sd->rel && a[0] != '/')
			snprintf(full, sizeof(full), "%s/%s", sd->base, a);
		else
			snprintf(full, sizeof(full), "%s", a);
		r = neg(truncate(full, (off_t)op->arg));
		break;
	}
	case CHMOD:
		r = neg(fchmodat(dfd, a, (mode_t)op->arg, 0));
		break;
	}
	res->r = r;
}

static void run_store(const struct side *sd, const struct op *op, struct result *res)
{
	char a[2048], b[2048], t[2048];
	ms_store *s = sd->s;
	ms_ino d = sd->rel ? sd->dir : 0;
	long r = 0;
	int fd;
	ms_ino ino;
	memset(res, 0, sizeof(*res));
	paths(sd, op->a, a, sizeof(a));
	if (op->b)
		paths(sd, op->b, b, sizeof(b));
	switch (op->k) {
	case MKDIR:
		r = ms_mkdir(s, d, a, op->mode);
		break;
	case OPEN:
		r = ms_open(s, d, a, (int)op->arg, op->mode, &fd, &ino);
		if (r == 0) {
			if (fd >= 0)
				close(fd);
			ms_ino_put(s, ino);
		}
		break;
	case UNLINK:
		r = ms_unlink(s, d, a);
		break;
	case RMDIR:
		r = ms_rmdir(s, d, a);
		break;
	case RENAME:
		r = ms_rename(s, d, a, d, b, (unsigned)op->arg);
		break;
	case LINK:
		r = ms_link(s, d, a, d, b, (op->arg & AT_SYMLINK_FOLLOW) ? 0 : MS_NOFOLLOW);
		break;
	case SYMLINK:
		expand(t, sizeof(t), op->a, sd->base, sd->name);
		r = ms_symlink(s, t, d, b);
		break;
	case READLINK:
		r = ms_readlink(s, d, a, res->link, sizeof(res->link));
		break;
	case STAT:
	case LSTAT:
		r = ms_stat(s, d, a, op->k == LSTAT ? MS_NOFOLLOW : 0, &res->st);
		break;
	case TRUNCATE:
		r = ms_truncate(s, d, a, (off_t)op->arg);
		break;
	case CHMOD:
		r = ms_chmod(s, d, a, 0, (mode_t)op->arg);
		break;
	}
	res->r = r;
}

static const char *err(long r, char *buf, size_t n)
{
	if (r >= 0)
		snprintf(buf, n, "%ld", r);
	else if (r == -MS_EESCAPE)
		snprintf(buf, n, "ESCAPE(%s)", ms_escape_path());
	else
		snprintf(buf, n, "-%s", strerrorname_np((int)-r) ? strerrorname_np((int)-r) : "?");
	return buf;
}

/* Compares one operation's results; prints and counts a mismatch. */
static int compare(size_t i, const struct op *op, const struct result *m, const struct result *k,
		   int rel)
{
	char e1[64], e2[64], why[256] = "";
	if (m->r != k->r) {
		snprintf(why, sizeof(why), "store %s, tmpfs %s", err(m->r, e1, sizeof(e1)),
			 err(k->r, e2, sizeof(e2)));
	} else if (m->r >= 0 && (op->k == STAT || op->k == LSTAT)) {
		const struct stat *a = &m->st, *b = &k->st;
		if ((a->st_mode & S_IFMT) != (b->st_mode & S_IFMT) ||
		    (a->st_mode & 07777) != (b->st_mode & 07777) || a->st_size != b->st_size ||
		    a->st_nlink != b->st_nlink)
			snprintf(why, sizeof(why),
				 "store mode %o size %lld nlink %lu, tmpfs mode %o size %lld nlink %lu",
				 a->st_mode, (long long)a->st_size, (unsigned long)a->st_nlink,
				 b->st_mode, (long long)b->st_size, (unsigned long)b->st_nlink);
	} else if (m->r > 0 && op->k == READLINK && memcmp(m->link, k->link, (size_t)m->r)) {
		snprintf(why, sizeof(why), "store '%.*s', tmpfs '%.*s'", (int)m->r, m->link,
			 (int)k->r, k->link);
	}
	if (getenv("MEMSHIM_DIFF_VERBOSE"))
		fprintf(stderr, "[%s] #%zu %s(%.40s%s%.40s, %#lx): store %s, tmpfs %s\n",
			rel ? "relative" : "absolute", i, kname[op->k], op->a, op->b ? ", " : "",
			op->b ? op->b : "", op->arg, err(m->r, e1, sizeof(e1)),
			err(k->r, e2, sizeof(e2)));
	if (!why[0])
		return 0;
	fprintf(stderr, "mismatch [%s] #%zu %s(%.40s%s%.40s, %#lx): %s\n",
		rel ? "relative" : "absolute", i, kname[op->k], op->a, op->b ? ", " : "",
		op->b ? op->b : "", op->arg, why);
	return 1;
}

static void rm_tree(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static int run_table(int rel)
{
	char real[64] = "/dev/shm/msdiff.XXXXXX", mem[128];
	cr_assert_not_null(mkdtemp(real), "mkdtemp: %s", strerror(errno));
	const char *name = strrchr(real, '/') + 1;
	snprintf(mem, sizeof(mem), "/mem/%s", name);

	struct ms_config c = t_config(0, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_mkdir(s, 0, mem, 0700), 0);

	struct side ks = { .base = real, .name = name, .rel = rel };
	struct side ms = { .base = mem, .name = name, .rel = rel, .s = s };
	if (rel) {
		ks.dirfd = open(real, O_RDONLY | O_DIRECTORY);
		cr_assert_geq(ks.dirfd, 0);
		cr_assert_eq(ms_lookup_dir(s, 0, mem, &ms.dir), 0);
	}

	int bad = 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct result m, k;
		run_store(&ms, &ops[i], &m);
		run_real(&ks, &ops[i], &k);
		bad += compare(i, &ops[i], &m, &k, rel);
	}
	t_assert_consistent(s);
	if (rel) {
		close(ks.dirfd);
		ms_ino_put(s, ms.dir);
	}
	rm_tree(real);
	ms_store_close(s);
	return bad;
}

Test(ns_diff, table_has_enough_operations)
{
	cr_assert_geq(sizeof(ops) / sizeof(ops[0]), 60);
}

Test(ns_diff, absolute_paths_match_tmpfs)
{
	umask(0);
	int bad = run_table(0);
	cr_assert_eq(bad, 0, "%d operations differ from tmpfs (see stderr)", bad);
}

Test(ns_diff, relative_paths_match_tmpfs)
{
	umask(0);
	int bad = run_table(1);
	cr_assert_eq(bad, 0, "%d operations differ from tmpfs (see stderr)", bad);
}
