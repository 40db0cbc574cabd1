/* tests/helpers/lowerfuzz.c — MEMSHIM_LOWER's randomized differential
 * (tests/test_lower.c). Seeded and repeatable: the same seed gives the same
 * tree and the same calls.
 *
 * `lowerfuzz make DIR SEED` writes a random lower tree into DIR: nested
 * directories, files of many sizes (empty, a few bytes, past 64 KiB, sparse),
 * symlinks (to files, to directories, dangling, to themselves), hard links,
 * assorted modes and fixed times, perhaps a FIFO. `lowerfuzz run DIR SEED N`
 * runs N random calls on a tree made that way, one line per call ("<op>
 * <args> -> <result>"), then prints the whole tree. The test runs it on a
 * tmpfs copy of the lower tree and in a store lying over the tree itself;
 * the lines must be the same.
 *
 * Paths come from a small pool (qa, qb, qc, three deep: 39 names), so the
 * calls keep meeting lower names, copied-up ones, deleted ones and new ones;
 * a few get a trailing slash or a "x/../" or "x/./" inside. Symlink targets
 * are relative and never start with "..", and a ".." in a path always
 * follows a name, so nothing resolves outside DIR (the two runs would meet
 * each other's files there).
 *
 * What the lines leave out, because it differs between any two filesystems:
 * inode and device numbers, st_blocks, directory sizes, atime, ctime, and an
 * mtime unless it is one of the fixed times this program sets (then it must
 * match to the nanosecond). Every open has O_NONBLOCK so that a FIFO never
 * blocks the run.
 *
 * What the calls avoid, because memshim differs from tmpfs on purpose there
 * (README, MEMSHIM_LOWER):
 * - renaming a directory of the lower tree (or exchanging it, either side
 *   of RENAME_EXCHANGE): EXDEV, as overlayfs without redirect_dir. The
 *   lower directories are known from the seed (make's choices replayed
 *   without writing), and a name stops being one when rmdir or a rename over
 *   it removes it; paths are resolved (realpath of the parent) to find out.
 * - link or rename of a lower FIFO: EXDEV (lower FIFOs are not copied up);
 *   tracked the same way.
 * - changing a lower file with more than one name (hard links) in any
 *   way, or removing one of its names: the store copies up one name, the
 *   others stay the real file's (their own contents, the real st_nlink), as
 *   overlayfs without index=on. Reading them and listing them is fine: the
 *   run never changes those names (make marks them), whatever path reaches
 *   them.
 * - writing into a FIFO, and keeping an fd on one: the fd is the kernel's
 *   on a real FIFO (the store's counterpart of one it made, or the lower
 *   one itself), so the times a write sets are not the store node's (and
 *   a lower FIFO's are the real tree's: the test's fingerprint), fchmod
 *   and futimens through it do not reach the node, and its fstat is the
 *   real FIFO's (README, Special files: Limits). A FIFO an fd is found to
 *   be on is not written, and its fstat shows the type alone.
 * - reading through an fd opened for reading before the file's copy-up
 *   (it keeps reading the real file, as on overlayfs): an fd kept open
 *   across later calls is opened for writing (which copies up at the open)
 *   or is a directory's; read-only opens are read and closed in one call.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* test paths are short; a cut one would show as a difference */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "ops.h"

static uint64_t rng;

/* splitmix64: small, and the same on every machine */
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[pick(ARRAY_N(a))])

/* The name pool: qa qb qc, then qa/qa ... qc/qc/qc; parents before children. */
#define NPOOL 39
static char pool[NPOOL][12];

static void pool_init(void)
{
	static const char *c[] = { "qa", "qb", "qc" };
	int n = 0;
	for (int i = 0; i < 3; i++)
		snprintf(pool[n++], sizeof(pool[0]), "%s", c[i]);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			snprintf(pool[n++], sizeof(pool[0]), "%s/%s", c[i], c[j]);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 3; k++)
				snprintf(pool[n++], sizeof(pool[0]), "%s/%s/%s", c[i], c[j], c[k]);
}

static int pool_index(const char *rel)
{
	for (int i = 0; i < NPOOL; i++)
		if (!strcmp(pool[i], rel))
			return i;
	return -1;
}

/* pool[i]'s parent in the pool, -1 for the top */
static int parent_of(int i)
{
	char p[sizeof(pool[0])];
	snprintf(p, sizeof(p), "%s", pool[i]);
	char *s = strrchr(p, '/');
	if (!s)
		return -1;
	*s = 0;
	return pool_index(p);
}

static int depth_of(int i) { return i < 3 ? 1 : i < 12 ? 2 : 3; }

/* A pool name, as likely two deep as three (most three-deep names lie
 * under a file or nothing) */
static const char *any_name(void)
{
	unsigned d = pick(100);
	return pool[d < 25 ? pick(3) : d < 65 ? 3 + pick(9) : 12 + pick(27)];
}

/* What the lower tree holds at each pool name (make's choices) and what
 * the run still treats as lower (see the top: calls avoided). */
enum { NONE, DIR_, FILE_, LINK_, FIFO_ };
static int made[NPOOL];
static int lower_dir[NPOOL], lower_fifo[NPOOL], lower_hl[NPOOL];

/* The fixed times: an mtime that is one of them is printed, to the ns. */
static const struct timespec fixed_t[] = {
	{ 1000000000, 0 },
	{ 1100000000, 123456789 },
	{ 1200000000, 500 },
	{ 1300000000, 999999999 },
};

static int is_fixed(const struct timespec *t)
{
	for (size_t i = 0; i < ARRAY_N(fixed_t); i++)
		if (t->tv_sec == fixed_t[i].tv_sec && t->tv_nsec == fixed_t[i].tv_nsec)
			return 1;
	return 0;
}

static uint64_t hash(const unsigned char *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static unsigned char buf[1 << 19];

static void fill(unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();
		memcpy(b + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* One line, built piece by piece, printed whole. */
static char line[8192];
static size_t ll;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(line + ll, sizeof(line) - ll, fmt, ap);
	va_end(ap);
	if (k > 0)
		ll = ll + (size_t)k < sizeof(line) ? ll + (size_t)k : sizeof(line) - 1;
}

static void end(void)
{
	printf("%s\n", line);
	ll = 0;
	line[0] = 0;
}

/* " -> r" for r >= 0, " -> errno-name" otherwise (errno as the call left it) */
static int res(long r)
{
	if (r < 0)
		out(" -> %s", en(errno));
	else
		out(" -> %ld", r);
	return r < 0 ? -1 : 0;
}

/* the same for a call that returns an fd: its number is the shim's business */
static int resfd(int fd)
{
	if (fd < 0)
		return res(fd);
	out(" -> fd");
	return 0;
}

/* type, mode, and for a non-directory size and link count; the mtime when
 * it is a fixed one */
static void put_stat(const struct stat *s)
{
	char t = S_ISREG(s->st_mode)	? 'f'
		 : S_ISDIR(s->st_mode)	? 'd'
		 : S_ISLNK(s->st_mode)	? 'l'
		 : S_ISFIFO(s->st_mode) ? 'p'
					: '?';
	out(" %c %04o %u:%u", t, (unsigned)(s->st_mode & 07777), (unsigned)s->st_uid,
	    (unsigned)s->st_gid);
	if (!S_ISDIR(s->st_mode))
		out(" size %lld", (long long)s->st_size);
	out(" nlink %lu", (unsigned long)s->st_nlink);
	if (is_fixed(&s->st_mtim))
		out(" mtime %lld.%09ld", (long long)s->st_mtim.tv_sec, s->st_mtim.tv_nsec);
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* ---- make ---------------------------------------------------------------
 * Every random number is drawn whether or not the tree is written, so that
 * `run` can replay the choices (dry) and know the lower tree without
 * looking at it. */

static void make(int dry)
{
	static const mode_t fmodes[] = { 0644, 0600, 0755, 0444, 0640, 0400, 04755 };
	static const mode_t dmodes[] = { 0755, 0700, 0555, 01777, 02755, 0775 };
	mode_t dmode[NPOOL] = { 0 };
	int dtime[NPOOL], files[NPOOL], nfiles = 0, fifo = 0;
	for (int i = 0; i < NPOOL; i++) {
		int p = parent_of(i);
		unsigned r = pick(100), kind = NONE;
		dtime[i] = -1;
		if (p >= 0 && made[p] != DIR_)
			continue;
		/* mostly directories at the top, so that most names can exist */
		int none = depth_of(i) == 1 ? 5 : 20, dir = depth_of(i) == 1 ? 75 : 50;
		if (r < (unsigned)none)
			kind = NONE;
		else if (r < (unsigned)dir)
			kind = depth_of(i) < 3 ? DIR_ : FILE_;
		else if (r < 82)
			kind = FILE_;
		else if (r < 91)
			kind = LINK_;
		else if (r < 97)
			kind = nfiles ? 100 : FILE_; /* a hard link */
		else
			kind = fifo++ ? NONE : FIFO_;
		const char *path = P(pool[i]);
		if (kind == DIR_) {
			dmode[i] = PICK(dmodes);
			dtime[i] = pick(3) ? -1 : (int)pick(ARRAY_N(fixed_t));
			if (!dry && mkdir(path, 0755))
				die(path);
		} else if (kind == FILE_) {
			static const unsigned sizes[] = { 0,	1,     17,    64,    4095,  4096,
							  5000, 65536, 65537, 70000, 200000 };
			unsigned size = PICK(sizes), sparse = pick(5) == 0;
			mode_t m = PICK(fmodes);
			int t = pick(2) ? -1 : (int)pick(ARRAY_N(fixed_t));
			off_t at = sparse ? 100000 + pick(200000) : 0;
			fill(buf, size);
			files[nfiles++] = i;
			if (!dry) {
				int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
				if (fd < 0 || pwrite(fd, buf, size, at) != (ssize_t)size ||
				    (sparse && !size && ftruncate(fd, at)) || fchmod(fd, m))
					die(path);
				close(fd);
				struct timespec ts[2] = { fixed_t[0],
							  t < 0 ? fixed_t[0] : fixed_t[t] };
				if (t >= 0 && utimensat(AT_FDCWD, path, ts, 0))
					die(path);
			}
		} else if (kind == LINK_) {
			char target[64];
			unsigned k = pick(10);
			if (k < 7)
				snprintf(target, sizeof(target), "%s%s", pool[pick(NPOOL)],
					 pick(8) ? "" : "/");
			else if (k < 9)
				snprintf(target, sizeof(target), "nowhere");
			else
				snprintf(target, sizeof(target), "%s", strrchr(path, '/') + 1);
			if (!dry && symlink(target, path))
				die(path);
		} else if (kind == 100) {
			int from = files[pick((unsigned)nfiles)];
			kind = FILE_;
			files[nfiles++] = i;
			lower_hl[from] = lower_hl[i] = 1;
			if (!dry && link(P(pool[from]), path))
				die(path);
		} else if (kind == FIFO_) {
			if (!dry && mkfifo(path, 0640))
				die(path);
		}
		made[i] = (int)kind;
	}
	/* modes and times last, deepest first: a child made later would
	 * change its directory's mtime, and a 0555 directory takes no child */
	for (int i = NPOOL - 1; i >= 0 && !dry; i--) {
		if (made[i] != DIR_)
			continue;
		struct timespec ts[2] = { fixed_t[0], fixed_t[dtime[i] < 0 ? 0 : dtime[i]] };
		if (chmod(P(pool[i]), dmode[i]) ||
		    (dtime[i] >= 0 && utimensat(AT_FDCWD, P(pool[i]), ts, 0)))
			die(pool[i]);
	}
}

/* ---- run ---------------------------------------------------------------- */

/* A path for a call: mostly a pool name, sometimes with a trailing slash,
 * "x/../name" or "x/./name" (x a pool name: ".." never climbs out). */
static const char *path(void)
{
	static char b[4][64];
	static int k;
	char *p = b[k++ % 4];
	unsigned r = pick(100);
	const char *a = any_name();
	if (r < 88)
		snprintf(p, sizeof(b[0]), "%s", a);
	else if (r < 93)
		snprintf(p, sizeof(b[0]), "%s/", a);
	else if (r < 97)
		snprintf(p, sizeof(b[0]), "%s/../%s", any_name(), a);
	else
		snprintf(p, sizeof(b[0]), "%s/./%s", any_name(), a);
	return p;
}

static char top[PATH_MAX];

/* The pool index of what `rel` names (its parent resolved, its last name
 * not followed; `follow`: the whole path resolved), -1 if none. */
static int canon(const char *rel, int follow)
{
	char p[PATH_MAX], r[PATH_MAX], *base = NULL;
	snprintf(p, sizeof(p), "%s", P(rel));
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	if (!follow) {
		char *s = strrchr(p, '/');
		*s = 0;
		base = s + 1;
		if (!strcmp(base, ".") || !strcmp(base, ".."))
			return -1;
	}
	if (!realpath(p, r))
		return -1;
	size_t tl = strlen(top);
	if (strncmp(r, top, tl) || (r[tl] && r[tl] != '/'))
		return -1;
	char rel2[PATH_MAX];
	if (base)
		snprintf(rel2, sizeof(rel2), "%s%s%s", r[tl] ? r + tl + 1 : "", r[tl] ? "/" : "",
			 base);
	else
		snprintf(rel2, sizeof(rel2), "%s", r[tl] ? r + tl + 1 : "");
	return pool_index(rel2);
}

static int is_lower_dir(int i) { return i >= 0 && lower_dir[i]; }

/* p reaches a lower hard link (followed or not): a change through it is
 * left out (top), and the line says so */
static int avoid(const char *p)
{
	int a = canon(p, 0), b = canon(p, 1);
	if ((a >= 0 && lower_hl[a]) || (b >= 0 && lower_hl[b])) {
		out(" skipped: a lower hard link");
		return 1;
	}
	return 0;
}

static int on_fifo(int fd)
{
	struct stat s;
	return fstat(fd, &s) == 0 && S_ISFIFO(s.st_mode);
}
static int is_lower_fifo(int i) { return i >= 0 && lower_fifo[i]; }

/* the name at pool index i is no longer what the lower tree had */
static void replaced(int i)
{
	if (i >= 0)
		lower_dir[i] = lower_fifo[i] = 0;
}

static const unsigned offs[] = { 0, 1, 100, 4095, 4096, 65535, 65536, 65537, 100000, 250000 };
static const unsigned lens[] = { 0, 1, 10, 100, 4096, 5000, 70000 };
static const mode_t cmodes[] = { 0644, 0600, 0755, 0444, 0000, 04755, 01777, 0700, 02750 };

/* to root or nobody: root may, a user gets EPERM; either way the set-id
 * bits are what chown leaves of them */
static const uid_t owners[] = { (uid_t)-1, 0, 65534 };

static const char *flag_name(int f)
{
	static char b[128];
	static const struct {
		int f;
		const char *n;
	} names[] = { { O_APPEND, "|O_APPEND" },       { O_TRUNC, "|O_TRUNC" },
		      { O_CREAT, "|O_CREAT" },	       { O_EXCL, "|O_EXCL" },
		      { O_DIRECTORY, "|O_DIRECTORY" }, { O_NOFOLLOW, "|O_NOFOLLOW" } };
	int acc = f & O_ACCMODE;
	snprintf(b, sizeof(b), "%s",
		 acc == O_RDONLY   ? "O_RDONLY"
		 : acc == O_WRONLY ? "O_WRONLY"
				   : "O_RDWR");
	for (size_t i = 0; i < ARRAY_N(names); i++)
		if (f & names[i].f)
			strncat(b, names[i].n, sizeof(b) - strlen(b) - 1);
	return b;
}

static void do_pread(int fd)
{
	unsigned off = PICK(offs), len = PICK(lens);
	ssize_t n = pread(fd, buf, len, off);
	out(" pread %u@%u", len, off);
	if (!res(n))
		out(" h=%016llx", (unsigned long long)hash(buf, (size_t)n));
}

static void do_pwrite(int fd)
{
	unsigned off = PICK(offs), len = PICK(lens);
	fill(buf, len);
	out(" pwrite %u@%u", len, off);
	res(pwrite(fd, buf, len, off));
}

static void do_fstat(int fd)
{
	struct stat s;
	out(" fstat");
	if (res(fstat(fd, &s)))
		return;
	if (S_ISFIFO(s.st_mode))
		out(" p"); /* the real FIFO's (top) */
	else
		put_stat(&s);
}

/* open, one read or write, fstat, close: in one call */
static void op_open(void)
{
	static const int flags[] = { O_RDONLY,
				     O_RDONLY | O_NOFOLLOW,
				     O_RDONLY | O_DIRECTORY,
				     O_WRONLY | O_APPEND,
				     O_RDWR | O_TRUNC,
				     O_WRONLY | O_CREAT | O_EXCL,
				     O_RDWR | O_CREAT,
				     O_WRONLY | O_CREAT | O_TRUNC,
				     O_RDWR | O_NOFOLLOW,
				     O_RDWR | O_APPEND | O_CREAT };
	const char *p = path();
	int f = PICK(flags);
	mode_t m = PICK(cmodes) & 0777;
	out("open %s %s %03o", p, flag_name(f), (unsigned)m);
	if (f != (f & (O_RDONLY | O_NOFOLLOW | O_DIRECTORY)) && avoid(p))
		return;
	int fd = open(P(p), f | O_NONBLOCK, m);
	if (resfd(fd))
		return;
	if ((f & O_ACCMODE) != O_WRONLY)
		do_pread(fd);
	if ((f & O_ACCMODE) != O_RDONLY && !on_fifo(fd)) {
		unsigned len = PICK(lens);
		fill(buf, len);
		out(" write %u", len);
		res(write(fd, buf, len));
	}
	do_fstat(fd);
	close(fd);
}

/* fds kept open across later calls (see the top: never read-only files) */
static struct {
	int fd, dir;
	char name[64];
} kept[4] = { { -1, 0, "" }, { -1, 0, "" }, { -1, 0, "" }, { -1, 0, "" } };

static void op_keep(void)
{
	static const int flags[] = {
		O_RDWR,		  O_WRONLY | O_APPEND,	     O_RDWR | O_TRUNC,
		O_RDWR | O_CREAT, O_RDWR | O_CREAT | O_EXCL, O_RDONLY | O_DIRECTORY
	};
	unsigned k = pick(ARRAY_N(kept));
	const char *p = path();
	int f = PICK(flags);
	if (kept[k].fd >= 0)
		close(kept[k].fd);
	out("keep %u %s %s", k, p, flag_name(f));
	kept[k].fd = -1;
	if (!(f & O_DIRECTORY) && avoid(p))
		return;
	int fd = open(P(p), f | O_NONBLOCK, 0640);
	if (resfd(fd))
		return;
	if (on_fifo(fd)) {
		out(" a FIFO: not kept");
		close(fd);
		return;
	}
	kept[k].fd = fd;
	kept[k].dir = (f & O_DIRECTORY) != 0;
	snprintf(kept[k].name, sizeof(kept[k].name), "%s", p);
}

static void list_dir(DIR *d)
{
	char names[64][80];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64)
		snprintf(names[n++], sizeof(names[0]), "%s:%d", e->d_name, e->d_type);
	qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	out(" [");
	for (int i = 0; i < n; i++)
		out("%s%s", i ? " " : "", names[i]);
	out("]");
}

static void op_fd(void)
{
	unsigned k = pick(ARRAY_N(kept)), r = pick(100);
	for (unsigned j = 0; j < ARRAY_N(kept) && kept[k].fd < 0; j++)
		k = (k + 1) % ARRAY_N(kept); /* an open one if there is one */
	int fd = kept[k].fd;
	out("fd %u (%s)", k, kept[k].name);
	if (fd < 0) {
		out(" none");
		return;
	}
	if (kept[k].dir) {
		const char *leaf = PICK(((const char *[]){ "qa", "qb", "qc", "new" }));
		if (r < 20) {
			do_fstat(fd);
		} else if (r < 40) {
			int d = openat(fd, ".", O_RDONLY | O_DIRECTORY);
			DIR *dd = d < 0 ? NULL : fdopendir(d);
			out(" list");
			if (!res(dd ? 0 : -1))
				list_dir(dd), closedir(dd);
		} else if (r < 60) {
			out(" openat %s", leaf);
			int f = openat(fd, leaf, O_RDONLY | O_NONBLOCK);
			if (!resfd(f)) {
				do_pread(f);
				close(f);
			}
		} else if (r < 75) {
			struct stat s;
			out(" fstatat %s", leaf);
			if (!res(fstatat(fd, leaf, &s, AT_SYMLINK_NOFOLLOW)))
				put_stat(&s);
		} else if (r < 85) {
			out(" mkdirat %s", leaf);
			res(mkdirat(fd, leaf, 0755));
		} else if (r < 92) {
			mode_t m = PICK(cmodes);
			out(" fchmod %04o", (unsigned)m);
			res(fchmod(fd, m));
		} else {
			out(" close");
			res(close(fd));
			kept[k].fd = -1;
		}
		return;
	}
	if (r < 20) {
		do_pread(fd);
	} else if (r < 38) {
		do_pwrite(fd);
	} else if (r < 46) {
		unsigned len = PICK(lens);
		fill(buf, len);
		out(" write %u", len);
		res(write(fd, buf, len));
	} else if (r < 52) {
		static const int wh[] = { SEEK_SET, SEEK_END, SEEK_DATA, SEEK_HOLE };
		int w = PICK(wh);
		unsigned off = PICK(offs);
		out(" lseek %u %d", off, w);
		res(lseek(fd, off, w));
	} else if (r < 60) {
		unsigned len = PICK(offs);
		out(" ftruncate %u", len);
		res(ftruncate(fd, len));
	} else if (r < 63) {
		mode_t m = PICK(cmodes);
		out(" fchmod %04o", (unsigned)m);
		res(fchmod(fd, m));
	} else if (r < 66) {
		uid_t u = PICK(owners);
		gid_t g = PICK(owners);
		out(" fchown %d %d", (int)u, (int)g);
		res(fchown(fd, u, g));
	} else if (r < 72) {
		struct timespec ts[2] = { PICK(fixed_t), PICK(fixed_t) };
		out(" futimens %lld", (long long)ts[1].tv_sec);
		res(futimens(fd, ts));
	} else if (r < 85) {
		do_fstat(fd);
	} else if (r < 92) {
		static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE,
					     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE };
		int m = PICK(modes);
		unsigned off = PICK(offs), len = PICK(lens);
		out(" fallocate %d %u@%u", m, len, off);
		if (!res(fallocate(fd, m, off, len)))
			do_fstat(fd);
	} else {
		out(" close");
		res(close(fd));
		kept[k].fd = -1;
	}
}

static void op_stat(void)
{
	const char *p = path();
	int l = pick(2);
	struct stat s;
	out("%s %s", l ? "lstat" : "stat", p);
	if (!res(l ? lstat(P(p), &s) : stat(P(p), &s)))
		put_stat(&s);
}

static void op_readdir(void)
{
	const char *p = pick(6) ? path() : ".";
	out("readdir %s", p);
	DIR *d = opendir(P(p));
	if (!res(d ? 0 : -1)) {
		list_dir(d);
		closedir(d);
	}
}

static void op_readlink(void)
{
	const char *p = path();
	char t[PATH_MAX];
	out("readlink %s", p);
	ssize_t n = readlink(P(p), t, sizeof(t) - 1);
	if (!res(n))
		out(" %.*s", (int)n, t);
}

static void op_access(void)
{
	static const int m[] = { F_OK, R_OK, W_OK, X_OK, R_OK | W_OK };
	const char *p = path();
	int a = PICK(m);
	out("access %s %d", p, a);
	res(access(P(p), a));
}

static void op_truncate(void)
{
	const char *p = path();
	unsigned len = PICK(offs);
	out("truncate %s %u", p, len);
	if (avoid(p))
		return;
	res(truncate(P(p), len));
}

static void op_chmod(void)
{
	const char *p = path();
	mode_t m = PICK(cmodes);
	out("chmod %s %04o", p, (unsigned)m);
	if (avoid(p))
		return;
	res(chmod(P(p), m));
}

static void op_chown(void)
{
	const char *p = path();
	int nofollow = pick(3) == 0;
	uid_t u = PICK(owners);
	gid_t g = PICK(owners);
	out("%s %s %d %d", nofollow ? "lchown" : "chown", p, (int)u, (int)g);
	if (avoid(p))
		return;
	res(nofollow ? lchown(P(p), u, g) : chown(P(p), u, g));
}

static void op_utimens(void)
{
	const char *p = path();
	int nofollow = pick(3) == 0;
	struct timespec ts[2] = { PICK(fixed_t), PICK(fixed_t) };
	unsigned r = pick(6);
	if (r == 0)
		ts[0].tv_nsec = UTIME_OMIT;
	else if (r == 1)
		ts[1].tv_nsec = UTIME_NOW;
	else if (r == 2)
		ts[1].tv_nsec = UTIME_OMIT;
	out("utimensat %s %lld.%ld %s", p, (long long)ts[1].tv_sec, ts[1].tv_nsec,
	    nofollow ? "nofollow" : "");
	if (avoid(p))
		return;
	res(utimensat(AT_FDCWD, P(p), ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
}

static void op_link(void)
{
	const char *a = path(), *b = path();
	int follow = pick(4) == 0;
	out("link %s %s%s", a, b, follow ? " follow" : "");
	if (avoid(a))
		return;
	if (is_lower_fifo(canon(a, follow))) {
		out(" skipped: a lower FIFO"); /* EXDEV on purpose (top) */
		return;
	}
	res(linkat(AT_FDCWD, P(a), AT_FDCWD, P(b), follow ? AT_SYMLINK_FOLLOW : 0));
}

static void op_symlink(void)
{
	char target[64];
	const char *p = path();
	unsigned k = pick(10);
	if (k < 7)
		snprintf(target, sizeof(target), "%s", pool[pick(NPOOL)]);
	else if (k < 9)
		snprintf(target, sizeof(target), "nowhere/%s", pool[pick(3)]);
	else
		snprintf(target, sizeof(target), "qa/../qb");
	out("symlink %s %s", target, p);
	res(symlink(target, P(p)));
}

static void op_rename(void)
{
	static const unsigned fl[] = { 0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE };
	const char *a = path(), *b = path();
	unsigned f = PICK(fl);
	int ia = canon(a, 0), ib = canon(b, 0);
	out("rename %s %s %u", a, b, f);
	/* EXDEV on purpose (top): a lower directory or FIFO moved */
	if (is_lower_dir(ia) || is_lower_fifo(ia) ||
	    ((f & RENAME_EXCHANGE) && (is_lower_dir(ib) || is_lower_fifo(ib)))) {
		out(" skipped: moves a lower directory or FIFO");
		return;
	}
	if (avoid(a) || avoid(b))
		return;
	if (!res(renameat2(AT_FDCWD, P(a), AT_FDCWD, P(b), f)) && !(f & RENAME_EXCHANGE) &&
	    ia != ib)
		replaced(ib);
}

static void op_unlink(void)
{
	const char *p = path();
	int i = canon(p, 0);
	out("unlink %s", p);
	if (avoid(p))
		return;
	if (!res(unlink(P(p))))
		replaced(i);
}

static void op_mkdir(void)
{
	const char *p = path();
	mode_t m = PICK(((const mode_t[]){ 0755, 0700, 0777, 0555 }));
	out("mkdir %s %03o", p, (unsigned)m);
	res(mkdir(P(p), m));
}

static void op_rmdir(void)
{
	const char *p = path();
	int i = canon(p, 0);
	out("rmdir %s", p);
	if (!res(rmdir(P(p))))
		replaced(i);
}

static void op_mkfifo(void)
{
	const char *p = path();
	out("mkfifo %s", p);
	res(mkfifo(P(p), 0644));
}

/* The whole tree, depth first in name order: types, modes, sizes, link
 * counts, fixed mtimes, link targets, content hashes. */
static void tree(const char *rel)
{
	char *names[64];
	int n = sorted_names(rel[0] ? P(rel) : D, 0, names, 64);
	if (n < 0) {
		printf("tree %s -> %s\n", rel, en(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char sub[PATH_MAX];
		struct stat s;
		snprintf(sub, sizeof(sub), "%.*s%s%s", PATH_MAX / 2, rel, rel[0] ? "/" : "",
			 names[i]);
		free(names[i]);
		out("tree %s", sub);
		if (res(lstat(P(sub), &s))) {
			end();
			continue;
		}
		put_stat(&s);
		if (S_ISLNK(s.st_mode)) {
			char t[PATH_MAX];
			ssize_t k = readlink(P(sub), t, sizeof(t) - 1);
			out(" -> %.*s", k > 0 ? (int)k : 0, t);
		} else if (S_ISREG(s.st_mode)) {
			int fd = open(P(sub), O_RDONLY | O_NOFOLLOW);
			uint64_t h = 0xcbf29ce484222325ULL;
			ssize_t k;
			size_t total = 0;
			while (fd >= 0 && (k = read(fd, buf, sizeof(buf))) > 0) {
				for (ssize_t j = 0; j < k; j++)
					h = (h ^ buf[j]) * 0x100000001b3ULL;
				total += (size_t)k;
			}
			out(" read %zu h=%016llx", total, (unsigned long long)h);
			if (fd >= 0)
				close(fd);
		}
		end();
		if (S_ISDIR(s.st_mode))
			tree(sub);
	}
}

static void run(unsigned long n)
{
	static const struct {
		void (*fn)(void);
		unsigned weight;
	} ops[] = {
		{ op_open, 16 },   { op_keep, 5 },     { op_fd, 14 },	 { op_stat, 10 },
		{ op_readdir, 6 }, { op_readlink, 2 }, { op_access, 3 }, { op_truncate, 4 },
		{ op_chmod, 4 },   { op_utimens, 4 },  { op_link, 4 },	 { op_symlink, 3 },
		{ op_rename, 8 },  { op_unlink, 6 },   { op_mkdir, 4 },	 { op_rmdir, 4 },
		{ op_mkfifo, 1 },  { op_chown, 3 },
	};
	unsigned total = 0;
	for (size_t i = 0; i < ARRAY_N(ops); i++)
		total += ops[i].weight;
	for (int i = 0; i < NPOOL; i++) {
		lower_dir[i] = made[i] == DIR_;
		lower_fifo[i] = made[i] == FIFO_;
	}
	if (!realpath(D, top))
		die(D);
	for (unsigned long k = 0; k < n; k++) {
		unsigned w = pick(total);
		size_t i = 0;
		while (w >= ops[i].weight)
			w -= ops[i++].weight;
		out("%lu ", k);
		ops[i].fn();
		end();
	}
	for (size_t k = 0; k < ARRAY_N(kept); k++)
		if (kept[k].fd >= 0)
			close(kept[k].fd);
	printf("-- tree\n");
	tree("");
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "make") && strcmp(argv[1], "run")) ||
	    (!strcmp(argv[1], "run") && argc != 5)) {
		fprintf(stderr, "usage: lowerfuzz make DIR SEED | lowerfuzz run DIR SEED N\n");
		return 2;
	}
	D = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	pool_init();
	rng = strtoull(argv[3], NULL, 0);
	if (!strcmp(argv[1], "make")) {
		make(0);
		return 0;
	}
	make(1);
	rng ^= 0x5deece66dULL; /* the calls' own stream, after the tree's */
	run(strtoul(argv[4], NULL, 0));
	return 0;
}
