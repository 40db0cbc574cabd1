/* shim/stat.c — the stat family, access checks and filesystem statistics
 * for store paths and store fds.
 *
 * A store stat needs no system call: everything comes from the arena. An
 * fd's stat is the same as its path's (tmpfs answers both alike, and tools
 * such as tar compare their times), with the size and blocks the kernel
 * reports.
 */
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"

#define TMPFS_MAGIC 0x01021994

/* stat of a store fd: its inode, with the kernel's size and allocated
 * blocks for a file (stat of the path reports the charge, the same but for
 * pages stored through a mapping since the file's last settle). */
static int store_fstat(struct ms_fd *e, int fd, struct stat *st)
{
	struct stat s;
	int rc = ms_stat_ino(ms_shim.store, e->ino, &s);
	if (rc == 0 && e->kind == MS_FD_FILE) {
		struct stat k;
		if (REAL(fstat)(fd, &k) == 0) {
			s.st_size = k.st_size;
			s.st_blocks = k.st_blocks;
		}
	}
	if (rc == 0)
		rc = ms_copy_out(st, &s, sizeof(s)); /* EFAULT as the kernel */
	return ms_ret(rc);
}

/* stat of a routed path; flags are MS_NOFOLLOW / MS_EMPTY. */
static int store_stat(struct ms_route *r, int flags, struct stat *st, int (*real_escape)(const char *, struct stat *))
{
	if (r->empty)
		flags |= MS_EMPTY;
	struct stat s;
	int rc = ms_stat(ms_shim.store, r->dir, r->path, flags, &s);
	int at;
	const char *esc;
	if (ms_leave(rc, &at, &esc))
		return real_escape(esc, st);
	if (rc == 0)
		rc = ms_copy_out(st, &s, sizeof(s)); /* EFAULT as the kernel */
	return ms_ret(rc);
}

static int esc_stat(const char *p, struct stat *st) { return REAL(stat)(p, st); }
static int esc_lstat(const char *p, struct stat *st) { return REAL(lstat)(p, st); }

#define EMPTY_FLAG(r) ((r).empty ? MS_EMPTY : 0)

static int at_flags(int flags)
{
	return ((flags & AT_SYMLINK_NOFOLLOW) ? MS_NOFOLLOW : 0) |
	       ((flags & AT_EMPTY_PATH) ? MS_EMPTY : 0);
}

/* fstatat on a store dirfd with "" and AT_EMPTY_PATH is fstat of it. */
static int store_fstatat(int dirfd, struct ms_route *r, struct stat *st, int flags)
{
	struct ms_fd *e = ms_fd_get(dirfd);
	if (e && r->path[0] == 0 && (flags & AT_EMPTY_PATH))
		return store_fstat(e, dirfd, st);
	return store_stat(r, at_flags(flags), st,
			  (flags & AT_SYMLINK_NOFOLLOW) ? esc_lstat : esc_stat);
}

/* lstat of /proc/self/fd/N (a store fd) is of procfs's own symlink, not of
 * the file it names: `ls -l /proc/self/fd` shows "N -> /mem/..." as the
 * kernel would. */
#define MAGIC_LINK_ITSELF(r, nofollow) ((r).empty && (nofollow))

/* The stat family, one definition per shape; V is the leading `int ver`
 * of the glibc < 2.33 names (still bound by make 4.3; _STAT_VER_LINUX,
 * whose struct is today's struct stat on x86-64), empty for the others. */
#define STAT_PATH(name, type, flags, esc, V, VA)                                   \
	MS_EXPORT int name(V const char *path, type *st)                           \
	{                                                                          \
		struct ms_route r;                                                 \
		if (!ms_route(path, &r) || MAGIC_LINK_ITSELF(r, (flags) & MS_NOFOLLOW)) \
			return REAL(name)(VA path, st);                            \
		return store_stat(&r, flags, (struct stat *)st, esc);              \
	}
#define STAT_FD(name, type, V, VA)                                                 \
	MS_EXPORT int name(V int fd, type *st)                                     \
	{                                                                          \
		struct ms_fd *e = ms_fd_get(fd);                                   \
		return e ? store_fstat(e, fd, (struct stat *)st) : REAL(name)(VA fd, st); \
	}
#define STAT_AT(name, type, V, VA)                                                 \
	MS_EXPORT int name(V int dirfd, const char *path, type *st, int flags)     \
	{                                                                          \
		struct ms_route r;                                                 \
		if (!ms_route_at(dirfd, path, &r) ||                               \
		    MAGIC_LINK_ITSELF(r, flags & AT_SYMLINK_NOFOLLOW))             \
			return REAL(name)(VA dirfd, path, st, flags);              \
		return store_fstatat(dirfd, &r, (struct stat *)st, flags);         \
	}
#define NOVER
#define VER int ver,
#define VERA ver,

STAT_PATH(stat, struct stat, 0, esc_stat, NOVER, NOVER)
STAT_PATH(stat64, struct stat64, 0, esc_stat, NOVER, NOVER)
STAT_PATH(lstat, struct stat, MS_NOFOLLOW, esc_lstat, NOVER, NOVER)
STAT_PATH(lstat64, struct stat64, MS_NOFOLLOW, esc_lstat, NOVER, NOVER)
STAT_PATH(__xstat, struct stat, 0, esc_stat, VER, VERA)
STAT_PATH(__xstat64, struct stat64, 0, esc_stat, VER, VERA)
STAT_PATH(__lxstat, struct stat, MS_NOFOLLOW, esc_lstat, VER, VERA)
STAT_PATH(__lxstat64, struct stat64, MS_NOFOLLOW, esc_lstat, VER, VERA)
STAT_FD(fstat, struct stat, NOVER, NOVER)
STAT_FD(fstat64, struct stat64, NOVER, NOVER)
STAT_FD(__fxstat, struct stat, VER, VERA)
STAT_FD(__fxstat64, struct stat64, VER, VERA)
STAT_AT(fstatat, struct stat, NOVER, NOVER)
STAT_AT(fstatat64, struct stat64, NOVER, NOVER)
STAT_AT(__fxstatat, struct stat, VER, VERA)
STAT_AT(__fxstatat64, struct stat64, VER, VERA)

static void to_statx(const struct stat *st, struct statx *x)
{
	memset(x, 0, sizeof(*x));
	x->stx_mask = STATX_BASIC_STATS;
	x->stx_blksize = (uint32_t)st->st_blksize;
	x->stx_nlink = (uint32_t)st->st_nlink;
	x->stx_uid = st->st_uid;
	x->stx_gid = st->st_gid;
	x->stx_mode = (uint16_t)st->st_mode;
	x->stx_ino = st->st_ino;
	x->stx_size = (uint64_t)st->st_size;
	x->stx_blocks = (uint64_t)st->st_blocks;
	x->stx_atime.tv_sec = st->st_atim.tv_sec;
	x->stx_atime.tv_nsec = (uint32_t)st->st_atim.tv_nsec;
	x->stx_mtime.tv_sec = st->st_mtim.tv_sec;
	x->stx_mtime.tv_nsec = (uint32_t)st->st_mtim.tv_nsec;
	x->stx_ctime.tv_sec = st->st_ctim.tv_sec;
	x->stx_ctime.tv_nsec = (uint32_t)st->st_ctim.tv_nsec;
	x->stx_dev_major = major(st->st_dev);
	x->stx_dev_minor = minor(st->st_dev);
	x->stx_rdev_major = major(st->st_rdev);
	x->stx_rdev_minor = minor(st->st_rdev);
}

MS_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *x)
{
	struct ms_route r;
	if (!ms_route_at(dirfd, path, &r) || MAGIC_LINK_ITSELF(r, flags & AT_SYMLINK_NOFOLLOW))
		return REAL(statx)(dirfd, path, flags, mask, x);
	struct stat st;
	struct statx sx;
	int rc = store_fstatat(dirfd, &r, &st, flags & (AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH));
	if (rc == 0) {
		to_statx(&st, &sx);
		rc = ms_ret(ms_copy_out(x, &sx, sizeof(sx)));
	}
	return rc;
}

/* ---- access ------------------------------------------------------------------------ */

static int store_access(struct ms_route *r, int mode, int flags, int effective)
{
	if (mode & ~(R_OK | W_OK | X_OK))
		return ms_ret(-EINVAL);
	int rc = ms_access(ms_shim.store, r->dir, r->path,
			   at_flags(flags) | (effective ? MS_EACCESS : 0), mode);
	int at;
	const char *esc;
	if (ms_leave(rc, &at, &esc))
		return REAL(faccessat)(at, esc, mode, flags);
	return ms_ret(rc);
}

MS_EXPORT int access(const char *path, int mode)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(access)(path, mode);
	return store_access(&r, mode, 0, 0);
}

MS_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	struct ms_route r;
	if (!ms_route_at(dirfd, path, &r))
		return REAL(faccessat)(dirfd, path, mode, flags);
	return store_access(&r, mode, flags, (flags & AT_EACCESS) != 0);
}

MS_EXPORT int euidaccess(const char *path, int mode)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(euidaccess)(path, mode);
	return store_access(&r, mode, 0, 1);
}

MS_EXPORT int eaccess(const char *path, int mode)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(eaccess)(path, mode);
	return store_access(&r, mode, 0, 1);
}

/* ---- filesystem statistics: the quota as blocks, the node limit as files --------- */

static void store_statfs(struct statfs *f)
{
	struct ms_stats s;
	ms_stats_usage(ms_shim.store, &s); /* O(1): no count of the files */
	memset(f, 0, sizeof(*f));
	f->f_type = TMPFS_MAGIC;
	f->f_bsize = MS_PAGE;
	f->f_frsize = MS_PAGE;
	f->f_namelen = 255;
	uint64_t max = s.max_bytes ? s.max_bytes : s.used_bytes + (1ULL << 40);
	f->f_blocks = max / MS_PAGE;
	f->f_bfree = f->f_bavail = (max > s.used_bytes ? max - s.used_bytes : 0) / MS_PAGE;
	uint64_t nodes = s.max_nodes ? s.max_nodes : s.used_nodes + (1ULL << 20);
	f->f_files = nodes;
	f->f_ffree = nodes > s.used_nodes ? nodes - s.used_nodes : 0;
	f->f_flags = ST_NOSUID | ST_NODEV;
}

static void statfs_to_vfs(const struct statfs *f, struct statvfs *v)
{
	memset(v, 0, sizeof(*v));
	v->f_bsize = (unsigned long)f->f_bsize;
	v->f_frsize = (unsigned long)f->f_frsize;
	v->f_blocks = f->f_blocks;
	v->f_bfree = f->f_bfree;
	v->f_bavail = f->f_bavail;
	v->f_files = f->f_files;
	v->f_ffree = f->f_ffree;
	v->f_favail = f->f_ffree;
	v->f_flag = (unsigned long)f->f_flags;
	v->f_namemax = (unsigned long)f->f_namelen;
}


/* statfs of a path: it must exist, like any lookup. */
static int path_statfs(struct ms_route *r, struct statfs *f)
{
	struct stat st;
	int rc = ms_stat(ms_shim.store, r->dir, r->path, r->empty ? MS_EMPTY : 0, &st);
	int at;
	const char *esc;
	if (ms_leave(rc, &at, &esc))
		return REAL(statfs)(esc, f);
	if (rc)
		return ms_ret(rc);
	store_statfs(f);
	return 0;
}

MS_EXPORT int statfs(const char *path, struct statfs *f)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(statfs)(path, f);
	return path_statfs(&r, f);
}

MS_EXPORT int statfs64(const char *path, struct statfs64 *f)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(statfs64)(path, f);
	return path_statfs(&r, (struct statfs *)f);
}

MS_EXPORT int fstatfs(int fd, struct statfs *f)
{
	if (!ms_fd_get(fd))
		return REAL(fstatfs)(fd, f);
	store_statfs(f);
	return 0;
}

MS_EXPORT int fstatfs64(int fd, struct statfs64 *f)
{
	if (!ms_fd_get(fd))
		return REAL(fstatfs64)(fd, f);
	store_statfs((struct statfs *)f);
	return 0;
}

MS_EXPORT int statvfs(const char *path, struct statvfs *v)
{
	struct ms_route r;
	struct statfs f;
	if (!ms_route(path, &r))
		return REAL(statvfs)(path, v);
	int rc = path_statfs(&r, &f);
	if (rc == 0)
		statfs_to_vfs(&f, v);
	return rc;
}

MS_EXPORT int statvfs64(const char *path, struct statvfs64 *v)
{
	struct ms_route r;
	struct statfs f;
	if (!ms_route(path, &r))
		return REAL(statvfs64)(path, v);
	int rc = path_statfs(&r, &f);
	if (rc == 0)
		statfs_to_vfs(&f, (struct statvfs *)v);
	return rc;
}

MS_EXPORT int fstatvfs(int fd, struct statvfs *v)
{
	struct statfs f;
	if (!ms_fd_get(fd))
		return REAL(fstatvfs)(fd, v);
	store_statfs(&f);
	statfs_to_vfs(&f, v);
	return 0;
}

MS_EXPORT int fstatvfs64(int fd, struct statvfs64 *v)
{
	struct statfs f;
	if (!ms_fd_get(fd))
		return REAL(fstatvfs64)(fd, v);
	store_statfs(&f);
	statfs_to_vfs(&f, (struct statvfs *)v);
	return 0;
}

/* ---- pathconf: what tmpfs answers; glibc's own asks statfs internally -------------- */

static long store_pathconf(int name)
{
	switch (name) {
	case _PC_LINK_MAX:
		return 65000;
	case _PC_NAME_MAX:
		return 255;
	case _PC_PATH_MAX:
		return PATH_MAX;
	case _PC_PIPE_BUF:
		return 4096;
	case _PC_FILESIZEBITS:
		return 64;
	case _PC_CHOWN_RESTRICTED:
	case _PC_NO_TRUNC:
		return 1;
	case _PC_2_SYMLINKS:
		return 1;
	case _PC_SYMLINK_MAX:
		return -1; /* no limit beyond PATH_MAX; errno unchanged */
	case _PC_REC_XFER_ALIGN:
	case _PC_ALLOC_SIZE_MIN:
	case _PC_REC_MIN_XFER_SIZE:
		return 4096;
	default:
		errno = EINVAL;
		return -1;
	}
}

MS_EXPORT long pathconf(const char *path, int name)
{
	struct ms_route r;
	struct stat st;
	if (!ms_route(path, &r))
		return REAL(pathconf)(path, name);
	int rc = ms_stat(ms_shim.store, r.dir, r.path, EMPTY_FLAG(r), &st);
	int at;
	const char *esc;
	if (ms_leave(rc, &at, &esc))
		return REAL(pathconf)(esc, name);
	if (rc)
		return ms_ret(rc);
	return store_pathconf(name);
}

MS_EXPORT long fpathconf(int fd, int name)
{
	if (!ms_fd_get(fd))
		return REAL(fpathconf)(fd, name);
	return store_pathconf(name);
}
