/* shim/composite.c — glibc functions that reach the kernel through internal
 * calls no wrapper sees: temporary files and
 * directories, realpath, glob and ftw/nftw. For a store path each is done
 * here through core and the fd table; anything else goes to the real
 * function untouched.
 *
 * glob runs glibc's own matcher with GLOB_ALTDIRFUNC and the directory
 * calls of dir.c (ms_dir_*); nftw is a walk of its own over the same calls.
 * glibc's fts is not wrapped: the programs that walk trees (coreutils'
 * find, du, rm, chmod, cp) carry gnulib's fts, built on openat, fstatat and
 * getdents64, which the fd and directory wrappers already cover; no Debian
 * 12 binary checked binds glibc's fts_open.
 *
 * Not done: FTW_CHDIR in a store tree (the walk does not change directory;
 * the callback gets paths relative to where it started); a glob pattern
 * reaches the store only when its literal start is a store path ("/m*"
 * lists the real "/").
 */
#include <ftw.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* stdio.c */

extern void __chk_fail(void) __attribute__((noreturn));

#define NOT_OURS 1

/* ---- temporary names ------------------------------------------------------ */

enum tkind { T_FILE, T_DIR, T_NAME };

static uint64_t rnd(void)
{
	uint64_t v;
	static __thread uint64_t x;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	/* No entropy yet: xorshift seeded from the clock. */
	if (!x) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() ^ 1;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* One attempt at name `t` (already routed to r). Returns the fd, 0, or
 * -errno; -EEXIST asks for another name. */
static int temp_try(struct ms_route *r, const char *t, enum tkind kind, int flags)
{
	ms_store *s = ms_shim.store;
	int rc, at;
	const char *esc;
	struct stat st;
	switch (kind) {
	case T_FILE:
		flags = (flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL;
		return ms_open_route(r, flags, 0600, MS_OPEN_KEEP);
	case T_DIR:
		rc = ms_mkdir(s, r->dir, r->path, 0700);
		if (ms_leave(rc, &at, &esc))
			rc = REAL(mkdir)(esc, 0700) < 0 ? -errno : 0;
		return rc;
	case T_NAME:
		rc = ms_stat(s, r->dir, r->path, MS_NOFOLLOW, &st);
		if (ms_leave(rc, &at, &esc))
			rc = REAL(lstat)(esc, &st) < 0 ? -errno : 0;
		if (rc == 0)
			return -EEXIST;
		return rc == -ENOENT ? 0 : rc;
	}
	return -EINVAL;
}

/* glibc's __gen_tempname for a template in the store: the last six
 * characters before a suffix of suffixlen must be "XXXXXX". Returns the fd
 * (T_FILE), 0, -errno, or NOT_OURS with the template untouched. */
static int store_temp(char *t, int suffixlen, int flags, enum tkind kind)
{
	static const char letters[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	struct ms_route r;
	if (!ms_route(t, &r))
		return NOT_OURS;
	size_t len = strlen(t);
	if (suffixlen < 0 || len < 6 + (size_t)suffixlen ||
	    memcmp(t + len - 6 - suffixlen, "XXXXXX", 6) != 0)
		return -EINVAL;
	char *x = t + len - 6 - suffixlen;
	for (unsigned attempt = 0; attempt < 62 * 62 * 62; attempt++) {
		uint64_t v = rnd();
		for (int i = 0; i < 6; i++, v /= 62)
			x[i] = letters[v % 62];
		/* Routed again: r.path may be a cleaned-up copy of t. */
		if (!ms_route(t, &r))
			return -EINVAL;
		int rc = temp_try(&r, t, kind, flags);
		if (rc != -EEXIST)
			return rc;
	}
	return -EEXIST;
}

#define MKSTEMP(name, args, call_real, suffixlen, flags)                               \
	MS_EXPORT int name args                                                         \
	{                                                                              \
		int rc = store_temp(t, suffixlen, flags, T_FILE);                      \
		if (rc == NOT_OURS)                                                    \
			return call_real;                                              \
		return ms_ret(rc);                                                     \
	}

MKSTEMP(mkstemp, (char *t), REAL(mkstemp)(t), 0, 0)
MKSTEMP(mkstemp64, (char *t), REAL(mkstemp64)(t), 0, 0)
MKSTEMP(mkostemp, (char *t, int fl), REAL(mkostemp)(t, fl), 0, fl)
MKSTEMP(mkostemp64, (char *t, int fl), REAL(mkostemp64)(t, fl), 0, fl)
MKSTEMP(mkstemps, (char *t, int sl), REAL(mkstemps)(t, sl), sl, 0)
MKSTEMP(mkstemps64, (char *t, int sl), REAL(mkstemps64)(t, sl), sl, 0)
MKSTEMP(mkostemps, (char *t, int sl, int fl), REAL(mkostemps)(t, sl, fl), sl, fl)
MKSTEMP(mkostemps64, (char *t, int sl, int fl), REAL(mkostemps64)(t, sl, fl), sl, fl)

MS_EXPORT char *mkdtemp(char *t)
{
	int rc = store_temp(t, 0, 0, T_DIR);
	if (rc == NOT_OURS)
		return REAL(mkdtemp)(t);
	return ms_ret(rc) < 0 ? NULL : t;
}

MS_EXPORT char *mktemp(char *t)
{
	int rc = store_temp(t, 0, 0, T_NAME);
	if (rc == NOT_OURS)
		return REAL(mktemp)(t);
	if (ms_ret(rc) < 0)
		t[0] = 0;
	return t;
}

/* glibc's tmpfile ignores TMPDIR: an unnamed file in P_tmpdir ("/tmp"),
 * which is the store's only when /tmp lies under a prefix. */
static FILE *store_tmpfile(FILE *(*real)(void))
{
	struct ms_route r;
	if (!ms_route(P_tmpdir, &r))
		return real();
	int fd = ms_open_route(&r, O_TMPFILE | O_RDWR, 0600, MS_OPEN_KEEP);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return ms_stdio_stream(fd, "w+");
}

MS_EXPORT FILE *tmpfile(void)
{
	return store_tmpfile(REAL(tmpfile));
}

MS_EXPORT FILE *tmpfile64(void)
{
	return store_tmpfile(REAL(tmpfile64));
}

/* ---- realpath ---------------------------------------------------------------- */

/* 1 when the absolute path p (len bytes) is a real directory above a
 * prefix: "/" or "/tmp" for /tmp/build. */
static int above_prefix(const char *p, size_t len)
{
	if (len == 0)
		return 1;
	for (int i = 0; i < ms_shim.cfg.nprefix; i++) {
		const char *pre = ms_shim.cfg.prefix[i];
		if (strlen(pre) > len && memcmp(pre, p, len) == 0 && pre[len] == '/')
			return 1;
	}
	return 0;
}

/* Result of a store realpath: `out`, in `resolved` or a new allocation. */
static char *rp_done(const char *out, char *resolved)
{
	if (resolved)
		return strcpy(resolved, out);
	return strdup(out);
}

static char *rp_fail(int err, const char *out, char *resolved)
{
	/* As glibc: the part resolved so far is left in the caller's buffer. */
	if (resolved)
		strcpy(resolved, out[0] ? out : "/");
	errno = err;
	return NULL;
}

/* realpath of a routed store path, component by component as glibc does:
 * "." and ".." lexically on the resolved part, symlinks read from the
 * store, the rest handed to the real function once the walk leaves the
 * store. */
static char *store_realpath(struct ms_route *r, const char *path, char *resolved)
{
	ms_store *s = ms_shim.store;
	char rest[2 * PATH_MAX + 2], tmp[2 * PATH_MAX + 2], out[PATH_MAX];
	size_t ol = 0;
	int links = 0, rc;
	out[0] = 0;
	if (r->dir) {
		char base[PATH_MAX];
		rc = ms_dir_path(s, r->dir, base, sizeof(base));
		if (rc == -ENOTDIR && r->empty) {
			/* a store file's fd: where its magic link points, as
			 * glibc reads it (the kernel's "(deleted)" when unnamed) */
			char link[PATH_MAX];
			ssize_t n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0 || link[0] != '/' || (size_t)n >= sizeof(link) - 1)
				return REAL(realpath)(path, resolved);
			link[n] = 0;
			return realpath(link, resolved);
		}
		if (rc < 0)
			return rp_fail(rc == -ERANGE ? ENAMETOOLONG : -rc, out, resolved);
		if ((size_t)snprintf(rest, sizeof(rest), "%s/%s", base, r->path) >= sizeof(rest))
			return rp_fail(ENAMETOOLONG, out, resolved);
	} else if ((size_t)snprintf(rest, sizeof(rest), "%s", r->path) >= sizeof(rest)) {
		return rp_fail(ENAMETOOLONG, out, resolved);
	}
	char *p = rest;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *e = p;
		while (*e && *e != '/')
			e++;
		size_t n = (size_t)(e - p);
		if (n == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (ol > 0 && out[ol - 1] != '/')
				ol--;
			if (ol > 0)
				ol--;
			out[ol] = 0;
			p = e;
			continue;
		}
		if (ol + 1 + n >= sizeof(out))
			return rp_fail(ENAMETOOLONG, out, resolved);
		out[ol++] = '/';
		memcpy(out + ol, p, n);
		ol += n;
		out[ol] = 0;
		p = e;
		if (above_prefix(out, ol))
			continue;
		struct stat st;
		int ours = ms_path_is_ours(out, ol), at;
		const char *base = out;
		rc = ours ? ms_stat(s, 0, out, MS_NOFOLLOW, &st) : 0;
		if (!ours || ms_leave(rc, &at, &base)) {
			/* Out of the store: the kernel resolves the rest. */
			if ((size_t)snprintf(tmp, sizeof(tmp), "%s%s", base, p) >= sizeof(tmp))
				return rp_fail(ENAMETOOLONG, out, resolved);
			return REAL(realpath)(tmp, resolved);
		}
		if (rc < 0)
			return rp_fail(-rc, out, resolved);
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			if (++links > 40)
				return rp_fail(ELOOP, out, resolved);
			ssize_t tl = ms_readlink(s, 0, out, target, sizeof(target) - 1);
			if (tl < 0)
				return rp_fail((int)-tl, out, resolved);
			target[tl] = 0;
			size_t pl = strlen(p);
			if ((size_t)tl + pl + 1 >= sizeof(tmp))
				return rp_fail(ENAMETOOLONG, out, resolved);
			memcpy(tmp, target, (size_t)tl);
			memcpy(tmp + tl, p, pl + 1);
			memcpy(rest, tmp, (size_t)tl + pl + 1);
			p = rest;
			if (target[0] == '/')
				ol = 0;
			else
				while (ol > 0 && out[--ol] != '/')
					;
			out[ol] = 0;
			continue;
		}
		if (!S_ISDIR(st.st_mode) && *p)
			return rp_fail(ENOTDIR, out, resolved);
	}
	if (ol == 0) {
		out[0] = '/';
		out[1] = 0;
	}
	return rp_done(out, resolved);
}

MS_EXPORT char *realpath(const char *path, char *resolved)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(realpath)(path, resolved);
	return store_realpath(&r, path, resolved);
}

MS_EXPORT char *__realpath_chk(const char *path, char *resolved, size_t len)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(__realpath_chk)(path, resolved, len);
	if (resolved && len < PATH_MAX)
		__chk_fail();
	return store_realpath(&r, path, resolved);
}

MS_EXPORT char *canonicalize_file_name(const char *path)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(canonicalize_file_name)(path);
	return store_realpath(&r, path, NULL);
}

/* ---- stat for walkers ------------------------------------------------------ */

/* stat or lstat of any path, through core for store paths; -1/errno. */
static int any_stat(const char *path, struct stat *st, int nofollow)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return nofollow ? REAL(lstat)(path, st) : REAL(stat)(path, st);
	int rc = r.empty ? ms_stat_ino(ms_shim.store, r.dir, st)
			 : ms_stat(ms_shim.store, r.dir, r.path, nofollow ? MS_NOFOLLOW : 0, st);
	int at;
	if (ms_leave(rc, &at, &path))
		return nofollow ? REAL(lstat)(path, st) : REAL(stat)(path, st);
	return ms_ret(rc);
}

/* ---- glob ------------------------------------------------------------------------ */

static int g_stat(const char *path, void *st)
{
	return any_stat(path, st, 0);
}

static int g_lstat(const char *path, void *st)
{
	return any_stat(path, st, 1);
}

static void *g_opendir(const char *path)
{
	return ms_dir_opendir(path);
}

static void *g_readdir(void *d)
{
	return ms_dir_readdir(d);
}

static void g_closedir(void *d)
{
	ms_dir_closedir(d);
}

/* A pattern whose literal start is a store path: glibc's matcher over the
 * shim's directory calls. glob_t and glob64_t have the same layout here. */
#define GLOB_BODY(real, gt)                                                            \
	do {                                                                           \
		struct ms_route r_;                                                    \
		if ((flags & GLOB_ALTDIRFUNC) || !ms_route(pattern, &r_))              \
			return real(pattern, flags, errfunc, pglob);                   \
		pglob->gl_opendir = g_opendir;                                         \
		pglob->gl_readdir = (__typeof__(pglob->gl_readdir))g_readdir;          \
		pglob->gl_closedir = g_closedir;                                       \
		pglob->gl_stat = (__typeof__(pglob->gl_stat))g_stat;                   \
		pglob->gl_lstat = (__typeof__(pglob->gl_lstat))g_lstat;                \
		int rc_ = real(pattern, flags | GLOB_ALTDIRFUNC, errfunc, pglob);      \
		pglob->gl_flags &= ~GLOB_ALTDIRFUNC;                                   \
		return rc_;                                                            \
	} while (0)

MS_EXPORT int glob(const char *pattern, int flags, int (*errfunc)(const char *, int),
		   glob_t *pglob)
{
	GLOB_BODY(REAL(glob), glob_t);
}

MS_EXPORT int glob64(const char *pattern, int flags, int (*errfunc)(const char *, int),
		     glob64_t *pglob)
{
	GLOB_BODY(REAL(glob64), glob64_t);
}

/* ---- ftw, nftw ------------------------------------------------------------------- */

struct walk {
	int flags;
	__nftw_func_t fn; /* nftw */
	__ftw_func_t ofn; /* ftw: three arguments, fewer types */
	dev_t dev;
	char path[PATH_MAX];
};

static int call(struct walk *w, const struct stat *st, int type, int base, int level)
{
	if (w->ofn) {
		if (type == FTW_SL)
			type = FTW_F;
		else if (type == FTW_DP)
			type = FTW_D;
		else if (type == FTW_SLN)
			type = FTW_NS;
		return w->ofn(w->path, st, type);
	}
	struct FTW f = {.base = base, .level = level};
	return w->fn(w->path, st, type, &f);
}

/* With FTW_ACTIONRETVAL, what a callback's answer means for the walk:
 * 0 go on, else stop with that value; *skip says what to leave out. */
enum { SKIP_NONE, SKIP_SUBTREE, SKIP_SIBLINGS };

static int judge(struct walk *w, int r, int *skip)
{
	*skip = SKIP_NONE;
	if (!(w->flags & FTW_ACTIONRETVAL) || r == FTW_CONTINUE || r == FTW_STOP)
		return r;
	if (r == FTW_SKIP_SUBTREE)
		*skip = SKIP_SUBTREE;
	else if (r == FTW_SKIP_SIBLINGS)
		*skip = SKIP_SIBLINGS;
	return 0;
}

/* Visits w->path (len bytes; its last name at base) and, for a directory,
 * what lies below. Returns 0 to go on, -1 (errno) on an error, or the
 * callback's value that stops the walk; *skip_siblings on SKIP_SIBLINGS. */
static int visit(struct walk *w, size_t len, int base, int level, int *skip_siblings)
{
	struct stat st;
	int type, r, skip;
	int phys = w->flags & FTW_PHYS;
	*skip_siblings = 0;
	if (any_stat(w->path, &st, phys) < 0) {
		int err = errno;
		if (!phys && err == ENOENT && any_stat(w->path, &st, 1) == 0 && S_ISLNK(st.st_mode)) {
			type = FTW_SLN;
		} else {
			if (level == 0) {
				errno = err;
				return -1;
			}
			memset(&st, 0, sizeof(st));
			type = FTW_NS;
		}
	} else {
		type = S_ISDIR(st.st_mode) ? FTW_D : S_ISLNK(st.st_mode) ? FTW_SL : FTW_F;
	}
	if (level == 0)
		w->dev = st.st_dev;
	if (type != FTW_D) {
		r = judge(w, call(w, &st, type, base, level), &skip);
		*skip_siblings = skip == SKIP_SIBLINGS;
		return r;
	}
	if ((w->flags & FTW_MOUNT) && st.st_dev != w->dev)
		return 0;
	DIR *d = ms_dir_opendir(w->path);
	if (!d) {
		if (errno != EACCES)
			return -1;
		r = judge(w, call(w, &st, FTW_DNR, base, level), &skip);
		*skip_siblings = skip == SKIP_SIBLINGS;
		return r;
	}
	if (!(w->flags & FTW_DEPTH)) {
		r = judge(w, call(w, &st, FTW_D, base, level), &skip);
		if (r || skip != SKIP_NONE) {
			ms_dir_closedir(d);
			*skip_siblings = skip == SKIP_SIBLINGS;
			return r;
		}
	}
	struct dirent *de;
	size_t sep = len > 0 && w->path[len - 1] == '/' ? 0 : 1; /* "/" ends in one */
	r = 0;
	errno = 0;
	while ((de = ms_dir_readdir(d)) != NULL) {
		const char *nm = de->d_name;
		if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0)))
			continue;
		size_t nl = strlen(nm);
		if (len + sep + nl >= sizeof(w->path)) {
			errno = ENAMETOOLONG;
			r = -1;
			break;
		}
		if (sep)
			w->path[len] = '/';
		memcpy(w->path + len + sep, nm, nl + 1);
		int sib;
		r = visit(w, len + sep + nl, (int)(len + sep), level + 1, &sib);
		w->path[len] = 0;
		if (r || sib)
			break;
		errno = 0;
	}
	int err = errno;
	ms_dir_closedir(d);
	errno = err;
	if (r)
		return r;
	if (w->flags & FTW_DEPTH) {
		r = judge(w, call(w, &st, FTW_DP, base, level), &skip);
		*skip_siblings = skip == SKIP_SIBLINGS;
	}
	return r;
}

/* Starts a walk of a store path as glibc's ftw_startup does. */
static int walk_start(struct walk *w, const char *dir)
{
	size_t len = strlen(dir);
	if (len >= sizeof(w->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(w->path, dir, len + 1);
	while (len > 1 && w->path[len - 1] == '/')
		w->path[--len] = 0;
	size_t base = len;
	while (base > 0 && w->path[base - 1] != '/')
		base--;
	int sib, saved = errno;
	int r = visit(w, len, (int)base, 0, &sib);
	if (r == 0)
		errno = saved;
	return r;
}

static int store_nftw(const char *dir, __nftw_func_t fn, int flags)
{
	struct walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->flags = flags;
	w->fn = fn;
	int r = walk_start(w, dir);
	int err = errno;
	free(w);
	errno = err;
	return r;
}

static int store_ftw(const char *dir, __ftw_func_t fn)
{
	struct walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->ofn = fn;
	int r = walk_start(w, dir);
	int err = errno;
	free(w);
	errno = err;
	return r;
}

MS_EXPORT int nftw(const char *dir, __nftw_func_t fn, int nopenfd, int flags)
{
	struct ms_route r;
	if (!ms_route(dir, &r))
		return REAL(nftw)(dir, fn, nopenfd, flags);
	return store_nftw(dir, fn, flags);
}

MS_EXPORT int nftw64(const char *dir, __nftw64_func_t fn, int nopenfd, int flags)
{
	struct ms_route r;
	if (!ms_route(dir, &r))
		return REAL(nftw64)(dir, fn, nopenfd, flags);
	/* struct stat64 is struct stat on the 64-bit ABIs this builds for. */
	return store_nftw(dir, (__nftw_func_t)(void (*)(void))fn, flags);
}

MS_EXPORT int ftw(const char *dir, __ftw_func_t fn, int nopenfd)
{
	struct ms_route r;
	if (!ms_route(dir, &r))
		return REAL(ftw)(dir, fn, nopenfd);
	return store_ftw(dir, fn);
}

MS_EXPORT int ftw64(const char *dir, __ftw64_func_t fn, int nopenfd)
{
	struct ms_route r;
	if (!ms_route(dir, &r))
		return REAL(ftw64)(dir, fn, nopenfd);
	return store_ftw(dir, (__ftw_func_t)(void (*)(void))fn);
}
