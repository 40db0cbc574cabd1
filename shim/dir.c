/* shim/dir.c — directory streams and directory fds of the store: opendir,
 * fdopendir, readdir (+64, _r), closedir, dirfd, rewinddir, seekdir,
 * telldir, scandir (+64, at), getdents64, and fsync/fdatasync/syncfs.
 *
 * A store DIR* is a struct ms_dir of ours, recognised by a header glibc's
 * DIR can never have (its first int is a real fd, never negative). It owns
 * a directory fd from ms_fd_new_dir — a real fd number, a dup of the
 * placeholder memfd — so dirfd() answers something the *at calls route back
 * to the store through the fd table. Entries come from core's ms_readdir
 * ("." and ".." first, then insertion order); d_off, telldir and seekdir use
 * its cookies. A DIR* that is not ours goes to the real function untouched.
 *
 * glibc's scandir, glob, nftw and fts call readdir through internal names,
 * so each is wrapped on its own (scandir here, the rest in composite.c
 * through ms_dir_* below).
 */
#include <dirent.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#include "shim.h"

/* Two words a glibc DIR cannot start with: its first field is an fd. */
#define MS_DIR_MAGIC0 (-0x4d534449) /* "MSDI", negated */
#define MS_DIR_MAGIC1 0x52737472

#define MS_DIR_BATCH 32 /* entries a stream reads from core at a time */

struct ms_dir {
	int32_t magic0;
	int32_t magic1;
	int fd;               /* the directory fd this stream owns */
	ms_ino ino;
	pthread_mutex_t lock; /* guards pos, ent and the batch, as glibc locks its DIR */
	uint64_t pos;         /* cookie of the next entry to read */
	struct dirent64 ent;  /* what readdir returns; valid until the next */
	/* Entries read ahead from core in one batch (one lock for many, as
	 * glibc reads the kernel's getdents64 a buffer at a time): buf[next]
	 * to buf[n-1] follow pos; a seek empties it. */
	int next, n;
	struct ms_dirent buf[MS_DIR_BATCH];
};

/* The layouts readdir and readdir64 share on this ABI. */
_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "dirent64 layout");
_Static_assert(offsetof(struct dirent, d_name) == offsetof(struct dirent64, d_name),
	       "dirent64 layout");

int ms_dir_is_ours(DIR *d)
{
	const struct ms_dir *m = (const struct ms_dir *)d;
	return d && m->magic0 == MS_DIR_MAGIC0 && m->magic1 == MS_DIR_MAGIC1;
}

static inline struct ms_dir *ours(DIR *d)
{
	return ms_dir_is_ours(d) ? (struct ms_dir *)d : NULL;
}

/* ---- streams ------------------------------------------------------------------ */

/* A stream over directory fd `fd` (already in the fd table), starting at pos. */
static DIR *dir_new(int fd, ms_ino ino, uint64_t pos)
{
	struct ms_dir *m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->magic0 = MS_DIR_MAGIC0;
	m->magic1 = MS_DIR_MAGIC1;
	m->fd = fd;
	m->ino = ino;
	m->pos = pos;
	pthread_mutex_init(&m->lock, NULL);
	return (DIR *)m;
}

/* "." or "./": the directory itself, without a lookup. */
int ms_dir_is_dot(const char *p)
{
	return p[0] == '.' && (p[1] == 0 || (p[1] == '/' && p[2] == 0));
}

/* Opens a stream on a routed path. Returns NULL with errno set, or NULL
 * with *left set to the real path when the path left the store. */
static DIR *dir_open_routed(const struct ms_route *r, const char **left)
{
	ms_ino ino;
	int rc, at;
	*left = NULL;
	if (r->empty || (r->dir && ms_dir_is_dot(r->path))) {
		/* /proc/self/fd/N of a store fd, or "." of a directory that
		 * may have been removed (the kernel still opens it): that
		 * inode itself. */
		struct stat st;
		rc = ms_stat_ino(ms_shim.store, r->dir, &st);
		if (rc == 0 && !S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
		if (rc == 0 && !r->empty)
			rc = ms_may(ms_shim.store, r->dir, X_OK); /* "." is searched */
		if (rc == 0)
			rc = ms_may(ms_shim.store, r->dir, R_OK);
		if (rc == 0)
			ms_ino_get(ms_shim.store, r->dir);
		ino = r->dir;
	} else {
		rc = ms_lookup_dir(ms_shim.store, r->dir, r->path, &ino);
		/* opened for reading */
		if (rc == 0 && (rc = ms_may(ms_shim.store, ino, R_OK)))
			ms_ino_put(ms_shim.store, ino);
	}
	if (ms_leave(rc, &at, left))
		return NULL;
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	int fd = ms_fd_new_dir(ino, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, MS_FD_DIR);
	if (fd < 0) {
		ms_ino_put(ms_shim.store, ino);
		errno = -fd;
		return NULL;
	}
	DIR *d = dir_new(fd, ino, 0);
	if (!d) {
		ms_fd_drop(fd);
		REAL(close)(fd);
		errno = ENOMEM;
	}
	return d;
}

/* A real directory stream; this process's fd directory is marked, so
 * that its listings leave the shim's own fds out (hide.c). */
static DIR *real_opendir(const char *path)
{
	DIR *d = REAL(opendir)(path);
	if (d && ms_hide_path(path))
		ms_hide_opened(REAL(dirfd)(d), path);
	return d;
}

/* The next entry of a real stream, without the shim's own fds. */
static struct dirent64 *real_readdir(DIR *d)
{
	struct dirent64 *e = REAL(readdir64)(d);
	if (e && ms_hide_on(REAL(dirfd)(d)))
		while (e && ms_hide_name(e->d_name))
			e = REAL(readdir64)(d);
	return e;
}

static int real_readdir_r(DIR *d, struct dirent64 *entry, struct dirent64 **result)
{
	int rc = REAL(readdir64_r)(d, entry, result);
	if (rc == 0 && *result && ms_hide_on(REAL(dirfd)(d)))
		while (rc == 0 && *result && ms_hide_name((*result)->d_name))
			rc = REAL(readdir64_r)(d, entry, result);
	return rc;
}

/* A list scandir made of a real directory (n entries at *list, read after
 * the call that made them), without the shim's own fds. */
static int real_scanned(const char *path, int n, void **list)
{
	if (n <= 0 || !ms_hide_path(path))
		return n;
	struct dirent64 **v = *list;
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (ms_hide_name(v[i]->d_name))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	return k;
}

DIR *ms_dir_opendir(const char *path)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return real_opendir(path);
	int saved = errno;
	const char *left;
	DIR *d = dir_open_routed(&r, &left);
	if (left)
		return REAL(opendir)(left);
	if (d)
		errno = saved;
	return d;
}

MS_EXPORT DIR *opendir(const char *path)
{
	return ms_dir_opendir(path);
}

MS_EXPORT DIR *fdopendir(int fd)
{
	struct ms_fd *e = ms_fd_get(fd);
	if (!e)
		return REAL(fdopendir)(fd);
	if (e->kind != MS_FD_DIR) {
		errno = ENOTDIR;
		return NULL;
	}
	if ((e->oflags & O_ACCMODE) == O_WRONLY) {
		errno = EINVAL; /* as glibc's fdopendir */
		return NULL;
	}
	/* The stream reads on from the fd's position, as over a kernel fd. */
	DIR *d = dir_new(fd, e->ino, e->pos);
	if (!d)
		errno = ENOMEM;
	return d;
}

/* The inodes of the prefixes, looked up once: a prefix is never removed
 * or renamed. Racing threads store the same values. */
static ms_ino prefix_ino[MS_MAX_PREFIXES];
static int prefix_looked_up; /* [atomic] */

/* 1 when dir is the directory of a prefix. */
static int is_prefix_root(ms_ino dir)
{
	if (!__atomic_load_n(&prefix_looked_up, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < ms_shim.cfg.nprefix; i++)
			if (ms_lookup(ms_shim.store, 0, ms_shim.cfg.prefix[i], 0, &prefix_ino[i]))
				prefix_ino[i] = 0;
		__atomic_store_n(&prefix_looked_up, 1, __ATOMIC_RELEASE);
	}
	for (int i = 0; i < ms_shim.cfg.nprefix; i++)
		if (prefix_ino[i] == dir)
			return 1;
	return 0;
}

/* Up to n entries of dir after cookie, as ms_readdir_n. A prefix behaves
 * as a mount root: its ".." is itself, as tmpfs mounted there would list
 * it (core's ".." there is the skeleton directory above, which no stat
 * shows). */
static int next_entries(ms_ino dir, uint64_t cookie, struct ms_dirent *de, int n)
{
	int rc = ms_readdir_n(ms_shim.store, dir, cookie, de, n);
	for (int i = 0; i < rc; i++) {
		struct stat st;
		if (de[i].cookie == 2 && is_prefix_root(dir) &&
		    ms_stat_ino(ms_shim.store, dir, &st) == 0)
			de[i].ino = st.st_ino;
	}
	return rc;
}

/* A stream's lock is taken only once the process has threads, as glibc's
 * own stdio skips its locks: __libc_single_threaded becomes false when a
 * thread is first made (pthread_create) and no other thread exists to
 * make one during the call. An uncontended lock and unlock were a fifth
 * of a store readdir. Returns whether it locked, for dir_unlock. */
static int dir_lock(struct ms_dir *m)
{
	if (__libc_single_threaded)
		return 0;
	pthread_mutex_lock(&m->lock);
	return 1;
}

static void dir_unlock(struct ms_dir *m, int locked)
{
	if (locked)
		pthread_mutex_unlock(&m->lock);
}

/* Fills m->ent with the next entry. Returns 1, 0 at the end, or -errno. */
static int dir_next(struct ms_dir *m)
{
	if (m->next == m->n) {
		int rc = next_entries(m->ino, m->pos, m->buf, MS_DIR_BATCH);
		if (rc <= 0)
			return rc;
		m->next = 0;
		m->n = rc;
		/* The fd's position passes the batch, as the kernel's passes
		 * what glibc's getdents buffered, not each entry read. */
		struct ms_fd *e = ms_fd_get(m->fd);
		if (e)
			e->pos = m->buf[rc - 1].cookie;
	}
	const struct ms_dirent *de = &m->buf[m->next++];
	size_t len = de->namelen;
	m->ent.d_ino = de->ino;
	m->ent.d_off = (off64_t)de->cookie;
	m->ent.d_reclen = (unsigned short)((offsetof(struct dirent64, d_name) + len + 1 + 7) & ~7UL);
	m->ent.d_type = de->type;
	memcpy(m->ent.d_name, de->name, len + 1);
	m->pos = de->cookie;
	return 1;
}

static struct dirent64 *dir_read(struct ms_dir *m)
{
	int locked = dir_lock(m);
	int saved = errno;
	int rc = dir_next(m);
	dir_unlock(m, locked);
	/* A removed directory reads as empty, as glibc treats the kernel's
	 * ENOENT. */
	if (rc < 0 && rc != -ENOENT) {
		errno = -rc;
		return NULL;
	}
	errno = saved; /* the end of the stream leaves errno alone */
	return rc > 0 ? &m->ent : NULL;
}

struct dirent *ms_dir_readdir(DIR *d)
{
	struct ms_dir *m = ours(d);
	if (!m)
		return (struct dirent *)real_readdir(d);
	return (struct dirent *)dir_read(m);
}

MS_EXPORT struct dirent *readdir(DIR *d)
{
	return ms_dir_readdir(d);
}

MS_EXPORT struct dirent64 *readdir64(DIR *d)
{
	struct ms_dir *m = ours(d);
	if (!m)
		return real_readdir(d);
	return dir_read(m);
}

/* readdir_r: copies into the caller's entry; returns an errno value. */
static int dir_read_r(struct ms_dir *m, struct dirent64 *entry, struct dirent64 **result)
{
	int locked = dir_lock(m);
	int rc = dir_next(m);
	if (rc > 0) {
		memcpy(entry, &m->ent, m->ent.d_reclen);
		*result = entry;
	} else {
		*result = NULL;
	}
	dir_unlock(m, locked);
	return rc < 0 && rc != -ENOENT ? -rc : 0;
}

MS_EXPORT int readdir_r(DIR *d, struct dirent *entry, struct dirent **result)
{
	struct ms_dir *m = ours(d);
	if (!m)
		return real_readdir_r(d, (struct dirent64 *)entry, (struct dirent64 **)result);
	return dir_read_r(m, (struct dirent64 *)entry, (struct dirent64 **)result);
}

MS_EXPORT int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result)
{
	struct ms_dir *m = ours(d);
	if (!m)
		return real_readdir_r(d, entry, result);
	return dir_read_r(m, entry, result);
}

int ms_dir_closedir(DIR *d)
{
	struct ms_dir *m = ours(d);
	if (!m) {
		ms_hide_forget(REAL(dirfd)(d));
		return REAL(closedir)(d);
	}
	int fd = m->fd;
	pthread_mutex_destroy(&m->lock);
	m->magic0 = m->magic1 = 0; /* a second closedir is not mistaken for ours */
	free(m);
	/* Forget the fd before the kernel can hand its number out again. */
	ms_fd_drop(fd);
	return REAL(close)(fd);
}

MS_EXPORT int closedir(DIR *d)
{
	return ms_dir_closedir(d);
}

MS_EXPORT int dirfd(DIR *d)
{
	struct ms_dir *m = ours(d);
	if (!m)
		return REAL(dirfd)(d);
	return m->fd;
}

static void dir_seek(struct ms_dir *m, uint64_t pos)
{
	int locked = dir_lock(m);
	m->pos = pos;
	m->next = m->n = 0; /* read again from pos: entries made since show */
	struct ms_fd *e = ms_fd_get(m->fd);
	if (e)
		e->pos = pos;
	dir_unlock(m, locked);
}

MS_EXPORT void rewinddir(DIR *d)
{
	struct ms_dir *m = ours(d);
	if (!m) {
		REAL(rewinddir)(d);
		return;
	}
	dir_seek(m, 0);
}

MS_EXPORT void seekdir(DIR *d, long loc)
{
	struct ms_dir *m = ours(d);
	if (!m) {
		REAL(seekdir)(d, loc);
		return;
	}
	dir_seek(m, loc < 0 ? 0 : (uint64_t)loc);
}

MS_EXPORT long telldir(DIR *d)
{
	struct ms_dir *m = ours(d);
	if (!m)
		return REAL(telldir)(d);
	int locked = dir_lock(m);
	long pos = (long)m->pos;
	dir_unlock(m, locked);
	return pos;
}

/* ---- scandir --------------------------------------------------------------------- */

typedef int (*ms_sel_fn)(const struct dirent64 *);
typedef int (*ms_cmp_fn)(const struct dirent64 **, const struct dirent64 **);

/* scandir over a store directory: the entries `sel` keeps, each in a
 * malloc'd struct dirent the caller frees, sorted with `cmp`. Returns the
 * count, or -1 with errno (nothing left allocated). */
static int dir_scan(DIR *d, struct dirent64 ***list, ms_sel_fn sel, ms_cmp_fn cmp)
{
	struct ms_dir *m = (struct ms_dir *)d;
	struct dirent64 **v = NULL, *e;
	size_t n = 0, cap = 0;
	int saved = errno, err = 0;
	errno = 0;
	while ((e = dir_read(m)) != NULL) {
		if (sel && !sel(e))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct dirent64 **nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				err = ENOMEM;
				goto out;
			}
			v = nv;
			cap = nc;
		}
		/* Whole structs: callers may copy sizeof(struct dirent). */
		struct dirent64 *c = malloc(sizeof(*c));
		if (!c) {
			err = ENOMEM;
			goto out;
		}
		memcpy(c, e, e->d_reclen);
		v[n++] = c;
		errno = 0;
	}
	err = errno;
out:
	ms_dir_closedir(d);
	if (err) {
		while (n > 0)
			free(v[--n]);
		free(v);
		errno = err;
		return -1;
	}
	if (cmp && n > 1)
		qsort(v, n, sizeof(*v), (int (*)(const void *, const void *))cmp);
	*list = v;
	errno = saved;
	return (int)n;
}

MS_EXPORT int scandir(const char *path, struct dirent ***list, int (*sel)(const struct dirent *),
		      int (*cmp)(const struct dirent **, const struct dirent **))
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return real_scanned(path, REAL(scandir)(path, list, sel, cmp), (void **)list);
	const char *left;
	DIR *d = dir_open_routed(&r, &left);
	if (left)
		return REAL(scandir)(left, list, sel, cmp);
	if (!d)
		return -1;
	return dir_scan(d, (struct dirent64 ***)list, (ms_sel_fn)sel, (ms_cmp_fn)cmp);
}

MS_EXPORT int scandir64(const char *path, struct dirent64 ***list,
			int (*sel)(const struct dirent64 *),
			int (*cmp)(const struct dirent64 **, const struct dirent64 **))
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return real_scanned(path, REAL(scandir64)(path, list, sel, cmp), (void **)list);
	const char *left;
	DIR *d = dir_open_routed(&r, &left);
	if (left)
		return REAL(scandir64)(left, list, sel, cmp);
	if (!d)
		return -1;
	return dir_scan(d, list, sel, cmp);
}

MS_EXPORT int scandirat(int dfd, const char *path, struct dirent ***list,
			int (*sel)(const struct dirent *),
			int (*cmp)(const struct dirent **, const struct dirent **))
{
	struct ms_route r;
	if (!ms_route_at(dfd, path, &r))
		return real_scanned(path, REAL(scandirat)(dfd, path, list, sel, cmp), (void **)list);
	const char *left;
	DIR *d = dir_open_routed(&r, &left);
	if (left)
		return REAL(scandirat)(AT_FDCWD, left, list, sel, cmp);
	if (!d)
		return -1;
	return dir_scan(d, (struct dirent64 ***)list, (ms_sel_fn)sel, (ms_cmp_fn)cmp);
}

MS_EXPORT int scandirat64(int dfd, const char *path, struct dirent64 ***list,
			  int (*sel)(const struct dirent64 *),
			  int (*cmp)(const struct dirent64 **, const struct dirent64 **))
{
	struct ms_route r;
	if (!ms_route_at(dfd, path, &r))
		return real_scanned(path, REAL(scandirat64)(dfd, path, list, sel, cmp), (void **)list);
	const char *left;
	DIR *d = dir_open_routed(&r, &left);
	if (left)
		return REAL(scandirat64)(AT_FDCWD, left, list, sel, cmp);
	if (!d)
		return -1;
	return dir_scan(d, list, sel, cmp);
}

/* ---- getdents64 --------------------------------------------------------------------- */

/* The kernel's record (linux_dirent64). */
struct ms_kdirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

MS_EXPORT ssize_t getdents64(int fd, void *buf, size_t len)
{
	struct ms_fd *e = ms_fd_io(fd);
	if (!e) {
		ssize_t n = REAL(getdents64)(fd, buf, len);
		if (n > 0 && ms_hide_on(fd))
			n = ms_hide_dirents(buf, n);
		return n;
	}
	if (e->kind != MS_FD_DIR)
		return ms_ret_ssize(-ENOTDIR);
	size_t used = 0;
	ssize_t rc = 0;
	struct ms_dirent batch[MS_DIR_BATCH];
	int nb = 0, ib = 0;
	for (;;) {
		if (ib == nb) {
			/* entries a full buffer does not take are read again by
			 * the next call, from e->pos */
			nb = next_entries(e->ino, e->pos, batch, MS_DIR_BATCH);
			ib = 0;
			if (nb <= 0) {
				rc = nb;
				break;
			}
		}
		const struct ms_dirent *de = &batch[ib++];
		size_t nl = de->namelen;
		size_t rl = (offsetof(struct ms_kdirent64, d_name) + nl + 1 + 7) & ~(size_t)7;
		if (used + rl > len) {
			if (used == 0)
				rc = -EINVAL; /* as the kernel: the buffer holds no record */
			break;
		}
		struct ms_kdirent64 *k64 = (struct ms_kdirent64 *)((char *)buf + used);
		k64->d_ino = de->ino;
		k64->d_off = (int64_t)de->cookie;
		k64->d_reclen = (unsigned short)rl;
		k64->d_type = de->type;
		memcpy(k64->d_name, de->name, nl);
		memset(k64->d_name + nl, 0, rl - offsetof(struct ms_kdirent64, d_name) - nl);
		used += rl;
		e->pos = de->cookie;
	}
	/* An error after some records is reported by the next call, as the
	 * kernel does. */
	if (used > 0)
		return (ssize_t)used;
	return ms_ret_ssize(rc);
}

/* ---- syncs ----------------------------------------------------------------------------- */

/* Store bytes live in memory: there is nothing to make durable, and the
 * directory placeholder has nothing to sync either. */
static int store_sync(int fd, struct ms_fd *e)
{
	size_t none = 0;
	return ms_fault_on() ? ms_ret(ms_fail_fd(MS_FAIL_FSYNC, fd, e, 0, &none)) : 0;
}

MS_EXPORT int fsync(int fd)
{
	struct ms_fd *e = ms_fd_io(fd);
	if (!e)
		return REAL(fsync)(fd);
	return store_sync(fd, e);
}

MS_EXPORT int fdatasync(int fd)
{
	struct ms_fd *e = ms_fd_io(fd);
	if (!e)
		return REAL(fdatasync)(fd);
	return store_sync(fd, e);
}

MS_EXPORT int syncfs(int fd)
{
	if (!ms_fd_io(fd))
		return REAL(syncfs)(fd);
	return 0;
}
