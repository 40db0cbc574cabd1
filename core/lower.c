/* core/lower.c — MEMSHIM_LOWER: the store as the upper layer over a real
 * directory tree, as overlayfs puts an upper directory over a lower one, but
 * without a mount.
 *
 * A lower entry becomes a store node the first time a walk meets it (it is
 * "materialized"), and then the namespace code treats it as any other node:
 * - a directory: a store directory flagged MS_I_LOWER. Its other lower
 *   entries come in when it is listed, stat'ed or loses a name
 *   (ms_lower_fill, then MS_I_FILLED). From then on, a name missing from the
 *   store is missing, which is how a deletion stays deleted: no whiteouts.
 * - a symlink: an ordinary store symlink with the lower target copied in
 *   (MS_I_LOWER only tells the report it came from below).
 * - anything else: a node without data, flagged MS_I_LOWER ("lower-backed",
 *   ms_lower_backed): its bytes stay in the real file. Opens for reading get
 *   a kernel fd on the real file, and stat is the real file's (dev, ino,
 *   blocks), as overlayfs shows a lower file on another filesystem. The
 *   first change (an open for writing, O_TRUNC, truncate, chmod, chown,
 *   utimes, an extended attribute, link, rename) copies it up into a memfd,
 *   charged as any file (ms_lower_copy_up); a FIFO, socket or device is not
 *   copied: its metadata changes in the store, opens go to the real node.
 *
 * The lower path of a node is its store path with the prefix replaced by
 * the lower directory (hdr->lower, set by the creator: every process and the
 * keeper see the same). That stays true because a lower-backed node is never
 * renamed or linked (it is copied up first) and a lower directory is never
 * renamed (EXDEV, as overlayfs without redirect_dir: the real path of what
 * lies below it would change, and programs like mv fall back to copying).
 * A lower-backed file keeps the entry that names it in `dent` (as a
 * directory does) to find that path without a search.
 *
 * The real tree is read with raw system calls only (never through the
 * shim's routing, so a prefix may be its own lower directory) and never
 * written. Like overlayfs, the lower tree must not change while the store
 * lies over it: what was materialized is not looked at again.
 *
 * Everything here runs under ns_lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/sendfile.h>

#include "arena.h"
#include "config.h"
#include "sys.h"

_Static_assert(MS_LOWER_DIR_MAX == MS_PREFIX_MAX && MS_LOWERS == MS_MAX_PREFIXES,
	       "a lower directory per prefix fits the arena");

#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Writes the real path below node i (a lower directory, or a lower-backed
 * node: `dent` names it) into out: the lower directory of the prefix it
 * lies under, then the names from there down, built backwards. Returns its
 * length, -ENOENT (unlinked, or under no lower directory), -ENAMETOOLONG. */
static int lower_path(struct ms_store *s, uint32_t i, char *out, size_t n)
{
	struct ms_hdr *h = s->hdr;
	uint32_t top;
	int r = ms_path_up(s, i, MS_I_PREFIX, out, n, &top);
	if (r < 0)
		return r == -ERANGE ? -ENAMETOOLONG : r;
	size_t pos = (size_t)r;
	for (int k = 0; k < MS_LOWERS; k++) {
		if (h->lower[k].ino != top)
			continue;
		size_t ll = strnlen(h->lower[k].dir, MS_LOWER_DIR_MAX), rl = n - 1 - pos;
		if (ll + rl >= n)
			return -ENAMETOOLONG;
		memmove(out + ll, out + pos, rl + 1);
		memcpy(out, h->lower[k].dir, ll);
		return (int)(ll + rl);
	}
	return -ENOENT;
}

/* Name `name` of lower directory dir, found below at lpath with st, becomes
 * a store node. The directory's times stay the lower ones'. */
static int materialize(struct ms_store *s, uint32_t dir, const char *name, size_t len,
		       const char *lpath, const struct stat *st, uint32_t *dent)
{
	mode_t m = st->st_mode;
	char target[PATH_MAX];
	ssize_t tl = 0;
	uint32_t i, e;
	int r;
	if (S_ISLNK(m)) {
		tl = sys_readlinkat(AT_FDCWD, lpath, target, sizeof(target));
		if (tl < 0)
			return (int)tl;
		if (tl == 0 || tl >= (ssize_t)sizeof(target))
			return -ENAMETOOLONG;
	}
	r = ms_inode_new_lower(s, m, &i);
	if (r)
		return r;
	struct ms_inode *in = ms_inode_at(s, i);
	in->mode = m;
	in->uid = st->st_uid;
	in->gid = st->st_gid;
	in->atime_ns = ns_of(&st->st_atim);
	in->mtime_ns = ns_of(&st->st_mtim);
	in->ctime_ns = ns_of(&st->st_ctim);
	in->flags |= MS_I_LOWER;
	if (S_ISLNK(m)) {
		r = ms_symlink_store(s, in, target, (size_t)tl);
		if (r) {
			ms_inode_unlinked(s, i);
			return r;
		}
	} else if (!S_ISDIR(m)) {
		ST(&in->size, (uint64_t)st->st_size);
		if (S_ISCHR(m) || S_ISBLK(m))
			in->memfd_ino = st->st_rdev;
	}
	e = ms_dent_alloc(s);
	if (!e) {
		ms_inode_unlinked(s, i);
		return -ENOSPC;
	}
	ms_dent_attach(s, e, dir, name, len, i); /* the directory's times stay */
	if (!S_ISDIR(m))
		in->dent = e;
	*dent = e;
	return 0;
}

int ms_lower_find(struct ms_store *s, uint32_t dir, const char *name, size_t len,
		  uint32_t *dent)
{
	char lp[PATH_MAX];
	struct stat st;
	*dent = 0;
	if (s->lower_frozen)
		return 0;
	int n = lower_path(s, dir, lp, sizeof(lp));
	if (n < 0)
		return n == -ENOENT ? 0 : n;
	if ((size_t)n + 1 + len >= sizeof(lp))
		return -ENAMETOOLONG;
	lp[n++] = '/';
	memcpy(lp + n, name, len);
	lp[n + len] = 0;
	int r = sys_fstatat(AT_FDCWD, lp, &st, AT_SYMLINK_NOFOLLOW);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r)
		return r;
	return materialize(s, dir, name, len, lp, &st, dent);
}

int ms_lower_fill(struct ms_store *s, uint32_t dir)
{
	struct ms_inode *d = ms_inode_at(s, dir);
	char lp[PATH_MAX], buf[4096];
	if ((d->flags & (MS_I_LOWER | MS_I_FILLED)) != MS_I_LOWER || !S_ISDIR(d->mode) ||
	    s->lower_frozen)
		return 0;
	int n = lower_path(s, dir, lp, sizeof(lp)), r = 0;
	if (n < 0)
		return n == -ENOENT ? 0 : n;
	int fd = sys_openat(AT_FDCWD, lp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0) {
		if (fd != -ENOENT && fd != -ENOTDIR)
			return fd;
		d->flags |= MS_I_FILLED; /* gone below: nothing to bring */
		return 0;
	}
	lp[n++] = '/';
	for (;;) {
		ssize_t got = sys_getdents64(fd, buf, sizeof(buf));
		if (got <= 0) {
			r = (int)got;
			break;
		}
		for (ssize_t off = 0; off < got && r == 0;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			off += de->d_reclen;
			size_t len = strlen(de->d_name);
			if ((len == 1 && de->d_name[0] == '.') ||
			    (len == 2 && de->d_name[0] == '.' && de->d_name[1] == '.'))
				continue;
			if (len > MS_NAME_MAX || ms_dent_find(s, dir, de->d_name, len))
				continue;
			if ((size_t)n + len >= sizeof(lp)) {
				r = -ENAMETOOLONG;
				break;
			}
			memcpy(lp + n, de->d_name, len + 1);
			struct stat st;
			uint32_t e;
			r = sys_fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW);
			if (r == -ENOENT)
				r = 0; /* went away while listed */
			else if (r == 0)
				r = materialize(s, dir, de->d_name, len, lp, &st, &e);
		}
		if (r)
			break;
	}
	sys_close(fd);
	if (r == 0)
		d->flags |= MS_I_FILLED;
	return r;
}

int ms_lower_open(struct ms_store *s, uint32_t i, int oflags)
{
	char lp[PATH_MAX];
	int r = lower_path(s, i, lp, sizeof(lp));
	if (r < 0)
		return r;
	/* what open(2) keeps of the caller's flags once the name is found;
	 * the node is no symlink, so O_NOFOLLOW only guards against a lower
	 * tree changed under us */
	int keep = O_ACCMODE | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_DSYNC | O_SYNC | O_PATH |
		   O_NOATIME | O_DIRECT | O_NOCTTY;
	return sys_openat(AT_FDCWD, lp, (oflags & keep) | O_LARGEFILE | O_NOFOLLOW, 0);
}

int ms_lower_stat(struct ms_store *s, uint32_t i, struct stat *st)
{
	char lp[PATH_MAX];
	int r = lower_path(s, i, lp, sizeof(lp));
	return r < 0 ? r : sys_fstatat(AT_FDCWD, lp, st, AT_SYMLINK_NOFOLLOW);
}

/* Copies the data extents of src (size bytes) into dst, holes left holes. */
static int copy_data(int src, int dst, uint64_t size)
{
	off_t pos = 0;
	while ((uint64_t)pos < size) {
		off_t data = sys_lseek(src, pos, SEEK_DATA);
		if (data == -ENXIO)
			break; /* only a hole is left */
		if (data < 0)
			data = pos; /* no SEEK_DATA below: copy it all */
		off_t hole = sys_lseek(src, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		off_t at = data;
		/* sendfile writes at dst's offset, reads at src's `at` */
		if (sys_lseek(dst, data, SEEK_SET) < 0)
			return -EIO;
		while (at < hole) {
			ssize_t k = MS_SYSCALL(SYS_sendfile, dst, src, &at, (size_t)(hole - at));
			if (k < 0)
				return (int)k;
			if (k == 0)
				return -EIO; /* shrank below us */
		}
		pos = hole;
	}
	return sys_ftruncate(dst, (off_t)size);
}

int ms_lower_copy_up(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	char lp[PATH_MAX];
	struct stat st;
	int src = -1, dst = -1, r;
	if (!ms_lower_backed(in) || !S_ISREG(in->mode))
		return 0;
	r = lower_path(s, i, lp, sizeof(lp));
	if (r < 0)
		return r;
	/* the copy is no access of the program's: the real file's atime
	 * stays where the owner may keep it so */
	src = sys_openat(AT_FDCWD, lp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME, 0);
	if (src == -EPERM)
		src = sys_openat(AT_FDCWD, lp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
	if (src < 0)
		return src;
	r = sys_fstat(src, &st);
	if (r)
		goto out;
	/* the memfd's kernel objects, then its pages as the kernel will
	 * hold them: refused whole before anything is copied */
	r = ms_reserve_bytes(s, MS_FILE_COST);
	if (r)
		goto out;
	r = ms_charge_data(s, in, ms_page_up((uint64_t)st.st_blocks * 512), (uint64_t)st.st_size);
	if (r) {
		ms_release_bytes(s, MS_FILE_COST);
		goto out;
	}
	uint64_t lower_kino = in->memfd_ino;
	/* named in the inode before the open: a holder's memfd is re-opened
	 * only when it is the one the inode names (memfd.c holder_open) */
	r = ms_data_new(s, in);
	if (r == 0) {
		dst = ms_data_open(s, in, O_RDWR | O_CLOEXEC);
		r = dst < 0 ? dst : copy_data(src, dst, (uint64_t)st.st_size);
	}
	if (r) {
		ms_data_drop(s, in->kfd, UINT64_MAX); /* -1 when none was taken */
		in->kfd = -1;
		in->flags &= ~MS_I_STALE; /* the close queue closes it */
		in->memfd_ino = lower_kino;
		ms_charge_data(s, in, 0, 0);
		ms_release_bytes(s, MS_FILE_COST);
		goto out;
	}
	struct stat mst;
	if (sys_fstat(dst, &mst) == 0)
		ms_settle_data(s, in, (uint64_t)mst.st_blocks * 512);
	ms_kino_link(s, i);
	ST(&in->size, (uint64_t)st.st_size);
	in->dent = 0; /* a file of the store now: its names are its entries */
	in->flags &= ~MS_I_LOWER;
	in->flags |= MS_I_UP;
out:
	if (dst >= 0)
		sys_close(dst);
	sys_close(src);
	return r;
}

int ms_lower_init(struct ms_store *s, uint32_t prefix_ino, int k)
{
	struct stat st;
	struct ms_inode *in = ms_inode_at(s, prefix_ino);
	if (!s->cfg.lower[k][0])
		return 0;
	int r = sys_fstatat(AT_FDCWD, s->cfg.lower[k], &st, 0);
	if (r)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	in->mode = st.st_mode;
	in->uid = st.st_uid;
	in->gid = st.st_gid;
	in->atime_ns = ns_of(&st.st_atim);
	in->mtime_ns = ns_of(&st.st_mtim);
	in->ctime_ns = ns_of(&st.st_ctim);
	in->flags |= MS_I_LOWER;
	s->hdr->lower[k].ino = prefix_ino;
	memcpy(s->hdr->lower[k].dir, s->cfg.lower[k], strlen(s->cfg.lower[k]) + 1);
	return 0;
}
