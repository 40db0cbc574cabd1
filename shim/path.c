/* shim/path.c — calls that change the namespace or a node's metadata:
 * directories, links, renames, modes, owners, times, truncate, special
 * files and extended attributes, for store paths and store fds.
 *
 * A call naming two paths (rename, link) with one in the store and one
 * outside fails with EXDEV, as across two mounts; mv then copies. A path
 * that leaves the store (".." above a prefix, a store symlink out) is
 * outside, at its real path: every call sends it to the kernel.
 */
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "shim.h"

#define STORE ms_shim.store

/* The one-path shape is MS_PATH_CALL (shim.h). */

#define EMPTY_IF(r) ((r).empty ? MS_EMPTY : 0)

/* ---- directories and names ----------------------------------------------------------- */

MS_EXPORT int mkdir(const char *path, mode_t mode)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(mkdir)(path, mode),
		     ms_mkdir(STORE, r.dir, r.path, mode));
}

MS_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
	MS_PATH_CALL(dirfd, path, REAL(mkdirat)(dirfd, path, mode),
		     ms_mkdir(STORE, r.dir, r.path, mode));
}

MS_EXPORT int rmdir(const char *path)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(rmdir)(path),
		     ms_rmdir(STORE, r.dir, r.path));
}

MS_EXPORT int unlink(const char *path)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(unlink)(path),
		     ms_unlink(STORE, r.dir, r.path));
}

MS_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	if (flags & ~AT_REMOVEDIR) {
		struct ms_route r;
		if (ms_route_at(dirfd, path, &r))
			return ms_ret(-EINVAL);
		return REAL(unlinkat)(dirfd, path, flags);
	}
	MS_PATH_CALL(dirfd, path, REAL(unlinkat)(dirfd, path, flags),
		     (flags & AT_REMOVEDIR) ? ms_rmdir(STORE, r.dir, r.path) : ms_unlink(STORE, r.dir, r.path));
}

/* remove(3): unlink, and rmdir when it names a directory, as glibc does. */
static int store_remove(struct ms_route *r)
{
	int rc = ms_unlink(STORE, r->dir, r->path);
	if (rc == -EISDIR)
		rc = ms_rmdir(STORE, r->dir, r->path);
	return rc;
}

MS_EXPORT int remove(const char *path)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(remove)(path),
		     store_remove(&r));
}

/* Two paths (rename, link): both the store's, both the kernel's, or EXDEV
 * as across two mounts. A path that leaves the store (".." above a prefix,
 * a store symlink out) is the kernel's at its real path, so a rename
 * between "/mem/../tmp/a" and "/tmp/b" is the kernel's own. */
struct two {
	struct ms_route a, b;
	int ofd, nfd;           /* what the real call gets */
	const char *op, *np;
	char ra[PATH_MAX], rb[PATH_MAX];
};

/* 1 with the real path in buf (PATH_MAX) when routed path r leaves the
 * store; the last component is followed only with `follow`. */
static int leaves(struct ms_route *r, int follow, char *buf)
{
	struct stat st;
	int rc = ms_stat(STORE, r->dir, r->path, (follow ? 0 : MS_NOFOLLOW) | EMPTY_IF(*r), &st);
	int at;
	const char *esc;
	if (!ms_leave(rc, &at, &esc))
		return 0;
	snprintf(buf, PATH_MAX, "%s", esc);
	return 1;
}

/* Returns 1 (core's: t->a, t->b), 0 (the kernel's: t->ofd, t->op, t->nfd,
 * t->np) or -EXDEV. Paths routed to the store are looked at for an
 * escape only when needed: a mix, or `check` (core said one leaves).
 * A bad pointer is EFAULT as the kernel gives it: a bad old name at once
 * (the kernel's call); a bad new name after the old one was looked up
 * (link) or at once (rename, which looks up only the old one's parent
 * first). */
static int two_paths(struct two *t, int ofd, const char *op, int nfd, const char *np,
		     int ofollow, int check, int link)
{
	t->ofd = ofd;
	t->op = op;
	t->nfd = nfd;
	t->np = np;
	int x = ms_route_at(ofd, op, &t->a), y = ms_route_at(nfd, np, &t->b);
	if (t->a.fault || (t->b.fault && !x))
		return 0;
	if (t->b.fault) {
		struct stat st;
		int rc = link ? ms_stat(STORE, t->a.dir, t->a.path,
					(ofollow ? 0 : MS_NOFOLLOW) | EMPTY_IF(t->a), &st)
			      : 0;
		return rc && !leaves(&t->a, ofollow, t->ra) ? rc : -EFAULT;
	}
	if (x == y && !check)
		return x;
	/* One is the store's, so both pointers were read and are good: an
	 * empty name of the other is the kernel's ENOENT, not EXDEV. */
	if ((!x && !op[0]) || (!y && !np[0]))
		return 0;
	if (x && leaves(&t->a, ofollow, t->ra)) {
		x = 0;
		t->ofd = AT_FDCWD;
		t->op = t->ra;
	}
	if (y && leaves(&t->b, 0, t->rb)) {
		y = 0;
		t->nfd = AT_FDCWD;
		t->np = t->rb;
	}
	return x != y ? -EXDEV : x;
}

/* The two-path wrapper shape: corecall sees `t`, realcall t.ofd, t.op,
 * t.nfd, t.np (the caller's, or the real paths reached). */
#define TWO_PATH_CALL(ofd, op, nfd, np, ofollow, link, realcall, corecall)         \
	do {                                                                       \
		struct two t;                                                      \
		int k_ = two_paths(&t, ofd, op, nfd, np, ofollow, 0, link);        \
		if (k_ == 1) {                                                     \
			int rc_ = corecall, at_;                                   \
			const char *left_;                                         \
			if (!ms_leave(rc_, &at_, &left_))                          \
				return ms_ret(rc_);                                \
			k_ = two_paths(&t, ofd, op, nfd, np, ofollow, 1, link);    \
			if (k_ == 1)                                               \
				k_ = -EXDEV; /* moved meanwhile */                 \
		}                                                                  \
		if (k_ < 0)                                                        \
			return ms_ret(k_);                                         \
		return realcall;                                                   \
	} while (0)

/* Every rename of store names: rename, renameat, renameat2. */
static int store_rename2(struct two *t, unsigned flags)
{
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL; /* RENAME_WHITEOUT is for overlay filesystems */
	if (ms_fault_on()) {
		int rc = ms_fail_path(MS_FAIL_RENAME, t->a.dir, t->a.path, t->b.dir, t->b.path);
		if (rc)
			return rc; /* both names stay as they were */
	}
	return ms_rename(STORE, t->a.dir, t->a.path, t->b.dir, t->b.path, flags);
}

MS_EXPORT int rename(const char *op, const char *np)
{
	TWO_PATH_CALL(AT_FDCWD, op, AT_FDCWD, np, 0, 0, REAL(rename)(t.op, t.np),
		      store_rename2(&t, 0));
}

MS_EXPORT int renameat(int ofd, const char *op, int nfd, const char *np)
{
	TWO_PATH_CALL(ofd, op, nfd, np, 0, 0, REAL(renameat)(t.ofd, t.op, t.nfd, t.np),
		      store_rename2(&t, 0));
}

MS_EXPORT int renameat2(int ofd, const char *op, int nfd, const char *np, unsigned int flags)
{
	TWO_PATH_CALL(ofd, op, nfd, np, 0, 0, REAL(renameat2)(t.ofd, t.op, t.nfd, t.np, flags),
		      store_rename2(&t, flags));
}

static int store_link(struct two *t, int flags)
{
	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	/* /proc/self/fd/N names a magic symlink of procfs: linked without
	 * following, it is another file system's (the kernel's EXDEV) */
	if (t->a.empty && !(flags & AT_SYMLINK_FOLLOW))
		return -EXDEV;
	if ((flags & AT_EMPTY_PATH) && t->a.path[0] == 0)
		t->a.empty = 1;
	return ms_link(STORE, t->a.dir, t->a.path, t->b.dir, t->b.path,
		       ((flags & AT_SYMLINK_FOLLOW) ? 0 : MS_NOFOLLOW) | EMPTY_IF(t->a));
}

MS_EXPORT int link(const char *op, const char *np)
{
	TWO_PATH_CALL(AT_FDCWD, op, AT_FDCWD, np, 0, 1, REAL(link)(t.op, t.np), store_link(&t, 0));
}

MS_EXPORT int linkat(int ofd, const char *op, int nfd, const char *np, int flags)
{
	TWO_PATH_CALL(ofd, op, nfd, np, flags & AT_SYMLINK_FOLLOW, 1,
		      REAL(linkat)(t.ofd, t.op, t.nfd, t.np, flags), store_link(&t, flags));
}

/* The target is read before anything else, as the kernel does: EFAULT,
 * ENAMETOOLONG. */
static int store_symlink(const char *target, struct ms_route *r)
{
	char t[PATH_MAX];
	int n = ms_copy_str(t, target, sizeof(t));
	return n < 0 ? n : ms_symlink(STORE, t, r->dir, r->path);
}

MS_EXPORT int symlink(const char *target, const char *path)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(symlink)(target, path), store_symlink(target, &r));
}

MS_EXPORT int symlinkat(const char *target, int dirfd, const char *path)
{
	MS_PATH_CALL(dirfd, path, REAL(symlinkat)(target, dirfd, path), store_symlink(target, &r));
}

/* readlink of /proc/self/fd/N of a store fd (the magic link): the path of
 * the node it is open on, as the kernel gives the path of the fd's
 * dentry. Nothing names it any more (unlinked, O_TMPFILE): the kernel's
 * own answer about the memfd, "... (deleted)". */
static ssize_t magic_link(struct ms_route *r, int dirfd, const char *path, char *buf, size_t n)
{
	char t[PATH_MAX];
	if ((r->fd_how & MS_FD_TMPFILE) || ms_node_path(STORE, r->dir, t, sizeof(t)))
		return REAL(readlinkat)(dirfd, path, buf, n);
	size_t len = strlen(t);
	if (len > n)
		len = n;
	if (ms_copy_out(buf, t, len))
		return ms_ret_ssize(-EFAULT);
	return (ssize_t)len;
}

static ssize_t store_readlink(struct ms_route *r, int dirfd, const char *path, char *buf, size_t n)
{
	if (n == 0)
		return ms_ret_ssize(-EINVAL);
	if (r->empty)
		return magic_link(r, dirfd, path, buf, n);
	char t[PATH_MAX];
	ssize_t rc = ms_readlink(STORE, r->dir, r->path, t, n < sizeof(t) ? n : sizeof(t));
	int at;
	const char *esc;
	if (ms_leave(rc, &at, &esc))
		return REAL(readlink)(esc, buf, n);
	if (rc > 0 && ms_copy_out(buf, t, (size_t)rc))
		rc = -EFAULT; /* as the kernel */
	return ms_ret_ssize(rc);
}

MS_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(readlink)(path, buf, n);
	return store_readlink(&r, AT_FDCWD, path, buf, n);
}

MS_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
	struct ms_route r;
	if (!ms_route_at(dirfd, path, &r))
		return REAL(readlinkat)(dirfd, path, buf, n);
	return store_readlink(&r, dirfd, path, buf, n);
}

MS_EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(__readlink_chk)(path, buf, n, buflen);
	return store_readlink(&r, AT_FDCWD, path, buf, n < buflen ? n : buflen);
}

MS_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t n, size_t buflen)
{
	struct ms_route r;
	if (!ms_route_at(dirfd, path, &r))
		return REAL(__readlinkat_chk)(dirfd, path, buf, n, buflen);
	return store_readlink(&r, dirfd, path, buf, n < buflen ? n : buflen);
}

/* ---- modes and owners -------------------------------------------------------------------- */

MS_EXPORT int chmod(const char *path, mode_t mode)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(chmod)(path, mode),
		     ms_chmod(STORE, r.dir, r.path, EMPTY_IF(r), mode));
}

MS_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	MS_PATH_CALL(dirfd, path, REAL(fchmodat)(dirfd, path, mode, flags),
		     ms_chmod(STORE, r.dir, r.path, ((flags & AT_SYMLINK_NOFOLLOW) ? MS_NOFOLLOW : 0) | EMPTY_IF(r), mode));
}

/* glibc's lchmod goes to fchmodat internally, out of our reach. */
MS_EXPORT int lchmod(const char *path, mode_t mode)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(lchmod)(path, mode),
		     ms_chmod(STORE, r.dir, r.path, MS_NOFOLLOW | EMPTY_IF(r), mode));
}

MS_EXPORT int fchmod(int fd, mode_t mode)
{
	struct ms_fd *e = ms_fd_attr(fd);
	if (!e)
		return REAL(fchmod)(fd, mode);
	return ms_ret(ms_chmod(STORE, e->ino, "", MS_EMPTY, mode));
}

MS_EXPORT int chown(const char *path, uid_t uid, gid_t gid)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(chown)(path, uid, gid),
		     ms_chown(STORE, r.dir, r.path, EMPTY_IF(r), uid, gid));
}

MS_EXPORT int lchown(const char *path, uid_t uid, gid_t gid)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(lchown)(path, uid, gid),
		     ms_chown(STORE, r.dir, r.path, MS_NOFOLLOW | EMPTY_IF(r), uid, gid));
}

MS_EXPORT int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	MS_PATH_CALL(dirfd, path, REAL(fchownat)(dirfd, path, uid, gid, flags),
		     ms_chown(STORE, r.dir, r.path, ((flags & AT_SYMLINK_NOFOLLOW) ? MS_NOFOLLOW : 0) | ((flags & AT_EMPTY_PATH) || r.empty ? MS_EMPTY : 0), uid, gid));
}

MS_EXPORT int fchown(int fd, uid_t uid, gid_t gid)
{
	struct ms_fd *e = ms_fd_attr(fd);
	if (!e)
		return REAL(fchown)(fd, uid, gid);
	return ms_ret(ms_chown(STORE, e->ino, "", MS_EMPTY, uid, gid));
}

/* ---- times --------------------------------------------------------------------------------- */

/* timeval pairs to timespec pairs; NULL stays NULL (now). */
static const struct timespec *tv_to_ts(const struct timeval *tv, struct timespec ts[2])
{
	if (!tv)
		return NULL;
	for (int i = 0; i < 2; i++) {
		if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
			return (const struct timespec *)-1;
		ts[i].tv_sec = tv[i].tv_sec;
		ts[i].tv_nsec = tv[i].tv_usec * 1000;
	}
	return ts;
}

static int store_utimens(struct ms_route *r, const struct timespec *ts, int flags)
{
	struct timespec t[2];
	if (ts == (const struct timespec *)-1)
		return -EINVAL;
	if (ts && ms_copy_in(t, ts, sizeof(t)))
		return -EFAULT; /* the kernel reads the times first */
	return ms_utimens(STORE, r->dir, r->path, flags | EMPTY_IF(*r), ts ? t : NULL);
}

MS_EXPORT int utime(const char *path, const struct utimbuf *t)
{
	struct timespec ts[2];
	if (t) {
		ts[0].tv_sec = t->actime;
		ts[1].tv_sec = t->modtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
	}
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(utime)(path, t),
		     store_utimens(&r, t ? ts : NULL, 0));
}

MS_EXPORT int utimes(const char *path, const struct timeval tv[2])
{
	struct timespec ts[2];
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(utimes)(path, tv),
		     store_utimens(&r, tv_to_ts(tv, ts), 0));
}

MS_EXPORT int lutimes(const char *path, const struct timeval tv[2])
{
	struct timespec ts[2];
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(lutimes)(path, tv),
		     store_utimens(&r, tv_to_ts(tv, ts), MS_NOFOLLOW));
}

MS_EXPORT int futimesat(int dirfd, const char *path, const struct timeval tv[2])
{
	struct timespec ts[2];
	if (!path)
		return futimes(dirfd, tv);
	MS_PATH_CALL(dirfd, path, REAL(futimesat)(dirfd, path, tv),
		     store_utimens(&r, tv_to_ts(tv, ts), 0));
}

MS_EXPORT int futimes(int fd, const struct timeval tv[2])
{
	struct timespec ts[2];
	struct ms_fd *e = ms_fd_attr(fd);
	if (!e)
		return REAL(futimes)(fd, tv);
	const struct timespec *t = tv_to_ts(tv, ts);
	if (t == (const struct timespec *)-1)
		return ms_ret(-EINVAL);
	return ms_ret(ms_utimens(STORE, e->ino, "", MS_EMPTY, t));
}

MS_EXPORT int futimens(int fd, const struct timespec ts[2])
{
	struct ms_fd *e = ms_fd_attr(fd);
	if (!e)
		return REAL(futimens)(fd, ts);
	struct ms_route self = {.dir = e->ino, .empty = 1, .path = ""};
	return ms_ret(store_utimens(&self, ts, 0));
}

/* glibc declares path non-null, but Linux takes NULL to mean dirfd itself. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"
MS_EXPORT int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
	if (!path) /* Linux: the file dirfd refers to */
		return ms_fd_attr(dirfd) ? futimens(dirfd, ts) : REAL(utimensat)(dirfd, path, ts, flags);
	MS_PATH_CALL(dirfd, path, REAL(utimensat)(dirfd, path, ts, flags),
		     store_utimens(&r, ts, ((flags & AT_SYMLINK_NOFOLLOW) ? MS_NOFOLLOW : 0) |
						   ((flags & AT_EMPTY_PATH) ? MS_EMPTY : 0)));
}

/* ---- sizes, special files ----------------------------------------------------------------- */

MS_EXPORT int truncate(const char *path, off_t len)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(truncate)(path, len),
		     ms_truncate(STORE, r.dir, r.path, len));
}

MS_EXPORT int truncate64(const char *path, off_t len)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(truncate64)(path, len),
		     ms_truncate(STORE, r.dir, r.path, len));
}

/* A regular file made by mknod is an empty file; a FIFO, socket or device
 * node is the store's with a real counterpart (core/special.c). The type is
 * checked before the path, as the kernel's may_mknod does. */
static int store_mknod(struct ms_route *r, mode_t mode, dev_t dev)
{
	mode_t type = mode & S_IFMT;
	if (type == 0 || type == S_IFREG) {
		int fd;
		ms_ino ino;
		int rc = ms_open(STORE, r->dir, r->path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
				 mode & 07777, &fd, &ino);
		if (rc)
			return rc;
		REAL(close)(fd);
		ms_ino_put(STORE, ino);
		return 0;
	}
	if (type == S_IFDIR)
		return -EPERM;
	return ms_mknod(STORE, r->dir, r->path, mode, dev, -1);
}

MS_EXPORT int mknod(const char *path, mode_t mode, dev_t dev)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(mknod)(path, mode, dev),
		     store_mknod(&r, mode, dev));
}

MS_EXPORT int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	MS_PATH_CALL(dirfd, path, REAL(mknodat)(dirfd, path, mode, dev),
		     store_mknod(&r, mode, dev));
}

MS_EXPORT int mkfifo(const char *path, mode_t mode)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(mkfifo)(path, mode),
		     store_mknod(&r, S_IFIFO | mode, 0));
}

MS_EXPORT int mkfifoat(int dirfd, const char *path, mode_t mode)
{
	MS_PATH_CALL(dirfd, path, REAL(mkfifoat)(dirfd, path, mode),
		     store_mknod(&r, S_IFIFO | mode, 0));
}

/* The glibc < 2.33 names. */
MS_EXPORT int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev)
{
	int at = AT_FDCWD;
	MS_PATH_CALL(at, path, REAL(__xmknod)(ver, path, mode, dev),
		     store_mknod(&r, mode, dev ? *dev : 0));
}

MS_EXPORT int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev)
{
	MS_PATH_CALL(dirfd, path, REAL(__xmknodat)(ver, dirfd, path, mode, dev),
		     store_mknod(&r, mode, dev ? *dev : 0));
}

/* No file handles for store files: callers fall back to paths. A path
 * that leaves the store is the kernel's. */
static int store_no_handle(struct ms_route *r, int follow)
{
	struct stat st;
	int rc = ms_stat(STORE, r->dir, r->path, (follow ? 0 : MS_NOFOLLOW) | EMPTY_IF(*r), &st);
	return rc ? rc : -EOPNOTSUPP;
}

MS_EXPORT int name_to_handle_at(int dirfd, const char *path, struct file_handle *h, int *mount_id,
				int flags)
{
	MS_PATH_CALL(dirfd, path, REAL(name_to_handle_at)(dirfd, path, h, mount_id, flags),
		     store_no_handle(&r, flags & AT_SYMLINK_FOLLOW));
}

/* ---- extended attributes ---------------------------------------------------------------- */

/* Core keeps them (core/xattr.c). A path that leaves the store (".." of a
 * prefix, a symlink out) is the kernel's at its real path; so is the l
 * variant of /proc/self/fd/N, which acts on that link itself, not on the
 * store node it names. An fd opened with O_PATH gets EBADF, after the
 * checks of the arguments the kernel makes first. */

#define XATTR_PATH(path, realcall, corecall) \
	do {                                    \
		int at = AT_FDCWD;              \
		MS_PATH_CALL(at, path, realcall, corecall); \
	} while (0)

#define XATTR_LPATH(path, realcall, corecall)                                  \
	do {                                                                   \
		struct ms_route r;                                             \
		int at;                                                        \
		if (!ms_route(path, &r) || r.empty)                            \
			return realcall;                                       \
		long rc_ = corecall;                                           \
		if (ms_leave(rc_, &at, &(path)))                               \
			return realcall;                                       \
		return ms_retl(rc_);                                           \
	} while (0)

#define XATTR_FD(fd, op, name, size, xflags, realcall, corecall)                  \
	do {                                                                   \
		struct ms_fd *e = ms_fd_get(fd);                               \
		if (!e && ms_shim.lower_on)                                    \
			e = ms_fd_adopt_lower(fd);                             \
		if (!e)                                                        \
			return realcall;                                       \
		if (e->oflags & O_PATH)                                        \
			return ms_retl(ms_xattr_check(op, name, size, xflags) ?: -EBADF); \
		return ms_retl(corecall);                                      \
	} while (0)

MS_EXPORT ssize_t getxattr(const char *path, const char *name, void *v, size_t n)
{
	XATTR_PATH(path, REAL(getxattr)(path, name, v, n),
		   ms_getxattr(STORE, r.dir, r.path, EMPTY_IF(r), name, v, n));
}

MS_EXPORT ssize_t lgetxattr(const char *path, const char *name, void *v, size_t n)
{
	XATTR_LPATH(path, REAL(lgetxattr)(path, name, v, n),
		    ms_getxattr(STORE, r.dir, r.path, MS_NOFOLLOW, name, v, n));
}

MS_EXPORT ssize_t fgetxattr(int fd, const char *name, void *v, size_t n)
{
	XATTR_FD(fd, 'g', name, n, 0, REAL(fgetxattr)(fd, name, v, n),
		 ms_getxattr(STORE, e->ino, "", MS_EMPTY, name, v, n));
}

MS_EXPORT int setxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
	XATTR_PATH(path, REAL(setxattr)(path, name, v, n, flags),
		   ms_setxattr(STORE, r.dir, r.path, EMPTY_IF(r), name, v, n, flags));
}

MS_EXPORT int lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
	XATTR_LPATH(path, REAL(lsetxattr)(path, name, v, n, flags),
		    ms_setxattr(STORE, r.dir, r.path, MS_NOFOLLOW, name, v, n, flags));
}

MS_EXPORT int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags)
{
	XATTR_FD(fd, 's', name, n, flags, REAL(fsetxattr)(fd, name, v, n, flags),
		 ms_setxattr(STORE, e->ino, "", MS_EMPTY, name, v, n, flags));
}

MS_EXPORT ssize_t listxattr(const char *path, char *list, size_t n)
{
	XATTR_PATH(path, REAL(listxattr)(path, list, n),
		   ms_listxattr(STORE, r.dir, r.path, EMPTY_IF(r), list, n));
}

MS_EXPORT ssize_t llistxattr(const char *path, char *list, size_t n)
{
	XATTR_LPATH(path, REAL(llistxattr)(path, list, n),
		    ms_listxattr(STORE, r.dir, r.path, MS_NOFOLLOW, list, n));
}

MS_EXPORT ssize_t flistxattr(int fd, char *list, size_t n)
{
	XATTR_FD(fd, 'l', NULL, n, 0, REAL(flistxattr)(fd, list, n),
		 ms_listxattr(STORE, e->ino, "", MS_EMPTY, list, n));
}

MS_EXPORT int removexattr(const char *path, const char *name)
{
	XATTR_PATH(path, REAL(removexattr)(path, name),
		   ms_removexattr(STORE, r.dir, r.path, EMPTY_IF(r), name));
}

MS_EXPORT int lremovexattr(const char *path, const char *name)
{
	XATTR_LPATH(path, REAL(lremovexattr)(path, name),
		    ms_removexattr(STORE, r.dir, r.path, MS_NOFOLLOW, name));
}

MS_EXPORT int fremovexattr(int fd, const char *name)
{
	XATTR_FD(fd, 'r', name, 0, 0, REAL(fremovexattr)(fd, name),
		 ms_removexattr(STORE, e->ino, "", MS_EMPTY, name));
}

/* ---- the umask: the store applies it as the kernel would ------------------------ */

MS_EXPORT mode_t umask(mode_t mask)
{
	mode_t old = REAL(umask)(mask);
	__atomic_store_n(&ms_shim.umask, mask & 0777, __ATOMIC_RELAXED);
	if (ms_shim.store)
		ms_store_set_umask(ms_shim.store, mask);
	return old;
}
