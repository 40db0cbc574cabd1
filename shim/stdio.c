/* shim/stdio.c — FILE streams over store files, so that writes through
 * stdio are quota-checked too.
 *
 * glibc's fopen, freopen and fdopen open and write through internal entry
 * points no wrapper sees, so a stream on a store file is an fopencookie
 * stream whose read, write, seek and close go to the real fd, writes
 * through ms_shim_write (the quota check). glibc keeps its normal buffering
 * (full, BUFSIZ; setvbuf works). fileno() on such a stream answers the real
 * fd from a process-local map FILE* -> cookie: a cookie stream's own fd
 * field must stay negative, because glibc's internal calls (perror dup()s
 * and re-opens a stream's fd) would otherwise write around the cookie.
 *
 * Standard streams: when fd 0, 1 or 2 becomes a store file (fdtab calls
 * ms_stdio_fd_changed), the matching global stdin/stdout/stderr — shared
 * by the program and libc — is pointed at a cookie stream on that fd, and
 * back at glibc's own stream when the fd stops being one. The cookie of a
 * standard stream is kept for the life of the process (a program may hold
 * the pointer) and reused.
 *
 * Not done: ",ccs=" in a mode is ignored (the stream keeps the locale's
 * conversion); freopen of a real stream that is not a standard stream onto
 * a store file keeps glibc's stream on the store fd, whose writes the quota
 * check cannot see (reconciliation counts them).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

/* Bits of FILE._flags (glibc libio.h; unchanged since glibc 2.0). */
#define IO_UNBUFFERED 0x0002
#define IO_NO_READS 0x0004
#define IO_NO_WRITES 0x0008
#define IO_LINE_BUF 0x0200
#define IO_IS_APPENDING 0x1000


struct ck {
	FILE *f;
	int fd;
	int isdir;       /* reads fail with EISDIR, as on a directory fd */
	int std;         /* 0, 1, 2: the stream swapped in for that fd; -1 */
	struct ck *next; /* [map_lock] hash chain */
};

/* ---- the map FILE* -> cookie ------------------------------------------------ */

#define NBUCKET 64
static struct ck *bucket[NBUCKET];         /* [map_lock] */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned hash(const FILE *f)
{
	return (unsigned)(((uintptr_t)f >> 4) % NBUCKET);
}

static void map_add(struct ck *k)
{
	pthread_mutex_lock(&map_lock);
	unsigned h = hash(k->f);
	k->next = bucket[h];
	bucket[h] = k;
	pthread_mutex_unlock(&map_lock);
}

static void map_del(struct ck *k)
{
	pthread_mutex_lock(&map_lock);
	for (struct ck **p = &bucket[hash(k->f)]; *p; p = &(*p)->next)
		if (*p == k) {
			*p = k->next;
			break;
		}
	pthread_mutex_unlock(&map_lock);
}

/* The cookie of f, or NULL when f is not one of ours. */
static struct ck *map_find(const FILE *f)
{
	struct ck *k;
	pthread_mutex_lock(&map_lock);
	for (k = bucket[hash(f)]; k; k = k->next)
		if (k->f == f)
			break;
	pthread_mutex_unlock(&map_lock);
	return k;
}

/* ---- the cookie functions ------------------------------------------------ */

/* A stream's reads and seeks move its fd's offset behind the wrappers'
 * back (lend.c); its writes go through ms_shim_write, which says so. */
static void stream_moves(int fd)
{
	struct ms_fd *e = ms_fd_get(fd);
	if (e)
		ms_fd_moved(e);
}

static ssize_t ck_read(void *c, char *buf, size_t n)
{
	struct ck *k = c;
	ssize_t r;
	if (k->isdir) {
		errno = EISDIR;
		return -1;
	}
	stream_moves(k->fd);
	do
		r = REAL(read)(k->fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/* fopencookie: the number of bytes written, 0 on error (never negative).
 * A refused write leaves errno at the quota errno and stores nothing. */
static ssize_t ck_write(void *c, const char *buf, size_t n)
{
	struct ck *k = c;
	size_t done = 0;
	if (k->isdir) {
		errno = EBADF;
		return 0;
	}
	while (done < n) {
		ssize_t w = ms_shim_write(k->fd, buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

static int ck_seek(void *c, off64_t *off, int whence)
{
	struct ck *k = c;
	stream_moves(k->fd);
	off_t r = REAL(lseek)(k->fd, (off_t)*off, whence);
	if (r < 0)
		return -1;
	*off = r;
	return 0;
}

static pthread_mutex_t std_lock = PTHREAD_MUTEX_INITIALIZER;
static struct std_slot {
	FILE *orig;    /* glibc's own stream for this fd */
	struct ck *k;  /* our stream for it, once made */
	int active;    /* the global variable points at k */
} slot[3];         /* [std_lock] */

static FILE **std_var(int fd)
{
	return fd == 0 ? &stdin : fd == 1 ? &stdout : &stderr;
}

static int ck_close(void *c)
{
	struct ck *k = c;
	int r = 0;
	map_del(k);
	if (k->std >= 0) {
		/* fclose(stdout): glibc's stream comes back (like after any
		 * fclose of a standard stream, using it is the program's
		 * business); a later store fd on 1 makes a new cookie. */
		pthread_mutex_lock(&std_lock);
		struct std_slot *s = &slot[k->std];
		if (s->k == k) {
			if (*std_var(k->std) == k->f)
				*std_var(k->std) = s->orig;
			s->k = NULL;
			s->active = 0;
		}
		pthread_mutex_unlock(&std_lock);
	}
	if (k->fd >= 0 && !ms_fd_private(k->fd)) {
		/* Forget before closing: once closed, the number may be
		 * handed to another thread's open. */
		if (!ms_in_vfork_child())
			ms_fd_close(k->fd);
		r = REAL(close)(k->fd);
	}
	free(k);
	return r;
}

static struct ck *ck_new(int fd, const char *ckmode, int isdir, int std)
{
	struct ck *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->fd = fd;
	k->isdir = isdir;
	k->std = std;
	cookie_io_functions_t io = {.read = ck_read, .write = ck_write, .seek = ck_seek,
				    .close = ck_close};
	k->f = fopencookie(k, ckmode, io);
	if (!k->f) {
		free(k);
		return NULL;
	}
	map_add(k);
	return k;
}

/* ---- modes ---------------------------------------------------------------- */

struct fmode {
	int oflags;   /* open(2) flags */
	char ck[3];   /* the mode for fopencookie: "r", "w+", ... */
};

/* Parses an fopen mode as glibc does: r, w or a, then up to six of
 * + x e b m c t, stopping at ',' (",ccs=" is ignored). */
static int parse_mode(const char *m, struct fmode *fm)
{
	int acc, fl, plus = 0;
	switch (m[0]) {
	case 'r':
		acc = O_RDONLY;
		fl = 0;
		break;
	case 'w':
		acc = O_WRONLY;
		fl = O_CREAT | O_TRUNC;
		break;
	case 'a':
		acc = O_WRONLY;
		fl = O_CREAT | O_APPEND;
		break;
	default:
		return -EINVAL;
	}
	for (int i = 1; i < 7 && m[i] && m[i] != ','; i++) {
		if (m[i] == '+')
			plus = 1;
		else if (m[i] == 'x')
			fl |= O_EXCL;
		else if (m[i] == 'e')
			fl |= O_CLOEXEC;
	}
	fm->oflags = (plus ? O_RDWR : acc) | fl;
	fm->ck[0] = m[0];
	fm->ck[1] = plus ? '+' : 0;
	fm->ck[2] = 0;
	return 0;
}

/* The stream's read/write/append bits for a new mode (freopen). */
static void set_mode(FILE *f, const struct fmode *fm)
{
	int acc = fm->oflags & O_ACCMODE;
	f->_flags &= ~(IO_NO_READS | IO_NO_WRITES | IO_IS_APPENDING);
	if (acc == O_RDONLY)
		f->_flags |= IO_NO_WRITES;
	else if (acc == O_WRONLY)
		f->_flags |= IO_NO_READS;
	if (fm->oflags & O_APPEND)
		f->_flags |= IO_IS_APPENDING;
	f->_mode = 0; /* orientation unbound again */
	clearerr(f);
}

/* ---- opening ---------------------------------------------------------------- */

/* Forgets and closes an fd this file opened. */
static void drop_close(int fd)
{
	int saved = errno;
	if (ms_fd_get(fd))
		ms_fd_drop(fd);
	REAL(close)(fd);
	errno = saved;
}

FILE *ms_stdio_stream(int fd, const char *mode)
{
	struct fmode fm;
	struct ms_fd *e = ms_fd_get(fd);
	FILE *f = NULL;
	if (parse_mode(mode, &fm))
		errno = EINVAL;
	else if (!e)
		f = REAL(fdopen)(fd, mode); /* a real file: a real stream */
	else {
		struct ck *k = ck_new(fd, fm.ck, e->kind == MS_FD_DIR, -1);
		f = k ? k->f : NULL;
	}
	if (!f) {
		drop_close(fd);
		return NULL;
	}
	/* As glibc: "a" starts at the end (ftell says so), "a+" reads from 0. */
	if ((fm.oflags & O_APPEND) && (fm.oflags & O_ACCMODE) == O_WRONLY)
		REAL(lseek)(fd, 0, SEEK_END);
	return f;
}

/* fopen of a routed path: the one open path, then a stream on the fd.
 * New nodes get the umask from core (ms_store_set_umask), so the mode is
 * passed as open(2) takes it. */
static FILE *store_fopen(struct ms_route *r, const char *mode)
{
	struct fmode fm;
	if (parse_mode(mode, &fm)) {
		errno = EINVAL;
		return NULL;
	}
	int fd = ms_open_route(r, fm.oflags, 0666, MS_OPEN_KEEP);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return ms_stdio_stream(fd, mode);
}

MS_EXPORT FILE *fopen(const char *path, const char *mode)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(fopen)(path, mode);
	return store_fopen(&r, mode);
}

MS_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(fopen64)(path, mode);
	return store_fopen(&r, mode);
}

MS_EXPORT FILE *fdopen(int fd, const char *mode)
{
	struct ms_fd *e = ms_fd_get(fd);
	struct fmode fm;
	if (!e)
		return REAL(fdopen)(fd, mode);
	if (parse_mode(mode, &fm)) {
		errno = EINVAL;
		return NULL;
	}
	int fl = REAL(fcntl)(fd, F_GETFL);
	if (fl < 0)
		return NULL;
	int want = fm.oflags & O_ACCMODE, have = fl & O_ACCMODE;
	if ((have == O_RDONLY && want != O_RDONLY) || (have == O_WRONLY && want != O_WRONLY)) {
		errno = EINVAL;
		return NULL;
	}
	if ((fm.oflags & O_APPEND) && !(fl & O_APPEND)) {
		if (REAL(fcntl)(fd, F_SETFL, fl | O_APPEND) < 0)
			return NULL;
		ms_fd_setfl_ino(e->ino, O_APPEND, O_APPEND);
	}
	struct ck *k = ck_new(fd, fm.ck, e->kind == MS_FD_DIR, -1);
	if (!k)
		return NULL;
	if ((fm.oflags & O_APPEND) && want == O_WRONLY)
		REAL(lseek)(fd, 0, SEEK_END);
	return k->f;
}

/* ---- fileno ---------------------------------------------------------------- */

static int our_fileno(FILE *f, int (*real)(FILE *))
{
	int saved = errno;
	int fd = real(f);
	if (fd >= 0)
		return fd;
	int err = errno;
	struct ck *k = map_find(f);
	if (k && k->fd >= 0) {
		errno = saved;
		return k->fd;
	}
	errno = err;
	return fd;
}

MS_EXPORT int fileno(FILE *f)
{
	return our_fileno(f, REAL(fileno));
}

MS_EXPORT int fileno_unlocked(FILE *f)
{
	return our_fileno(f, REAL(fileno_unlocked));
}

/* ---- standard streams ------------------------------------------------------ */

/* [std_lock] fd now names a store file: point the global at our stream. */
static void swap_in(int fd, struct std_slot *s)
{
	FILE **var = std_var(fd);
	FILE *cur = *var;
	if (!s->orig) {
		if (!cur || REAL(fileno)(cur) != fd)
			return; /* the program put a stream of its own there */
		s->orig = cur;
	} else if (cur != s->orig) {
		return;
	}
	if (!s->k) {
		int fl = REAL(fcntl)(fd, F_GETFL);
		int acc = fl < 0 ? (fd ? O_WRONLY : O_RDONLY) : fl & O_ACCMODE;
		const char *m = acc == O_RDONLY ? "r" : acc == O_WRONLY ? "w" : "r+";
		s->k = ck_new(fd, m, 0, fd);
		if (!s->k)
			return;
		/* The buffering glibc's stream had: stderr unbuffered; a stdout
		 * that was a terminal stays line buffered, as in glibc; one
		 * that never wrote is fully buffered, as for any file. */
		if (s->orig->_flags & IO_UNBUFFERED)
			setvbuf(s->k->f, NULL, _IONBF, 0);
		else if (s->orig->_flags & IO_LINE_BUF)
			setvbuf(s->k->f, NULL, _IOLBF, BUFSIZ);
	} else {
		clearerr(s->k->f);
	}
	if (fd != 0) {
		/* Bytes the program wrote before the switch and glibc has not
		 * flushed yet go through the quota check too. */
		size_t n = __fpending(s->orig);
		if (n) {
			fwrite(s->orig->_IO_write_base, 1, n, s->k->f);
			__fpurge(s->orig);
		}
	}
	*var = s->k->f;
	s->active = 1;
}

/* [std_lock] fd is no longer a store file: glibc's stream comes back. */
static void swap_out(int fd, struct std_slot *s)
{
	FILE **var = std_var(fd);
	if (fd == 0)
		__fpurge(s->k->f); /* read-ahead of the old file */
	else
		fflush(s->k->f);   /* where glibc's own stream would flush */
	if (*var == s->k->f)
		*var = s->orig;
	s->active = 0;
}

void ms_stdio_fd_changed(int fd)
{
	if (fd < 0 || fd > 2 || !ms_shim.store || ms_in_vfork_child())
		return;
	int saved = errno;
	struct ms_fd *e = ms_fd_get(fd);
	int want = e && e->kind == MS_FD_FILE;
	pthread_mutex_lock(&std_lock);
	struct std_slot *s = &slot[fd];
	if (want && !s->active)
		swap_in(fd, s);
	else if (!want && s->active && s->k)
		swap_out(fd, s);
	pthread_mutex_unlock(&std_lock);
	errno = saved;
}

/* 0, 1, 2 when f is (or stands for) that standard stream; else -1. */
static int std_of(FILE *f)
{
	int r = -1;
	pthread_mutex_lock(&std_lock);
	for (int i = 0; i < 3 && r < 0; i++)
		if (f == *std_var(i) || (slot[i].orig && f == slot[i].orig) ||
		    (slot[i].k && f == slot[i].k->f))
			r = i;
	pthread_mutex_unlock(&std_lock);
	return r;
}

/* ---- freopen --------------------------------------------------------------- */

/* Makes `fd` name what `nfd` names (keeping the number, as glibc's freopen
 * does), with the fd table following, and closes nfd. */
static int move_fd(int nfd, int fd, int cloexec)
{
	if (REAL(dup3)(nfd, fd, cloexec ? O_CLOEXEC : 0) < 0) {
		drop_close(nfd);
		return -1;
	}
	if (ms_fd_get(nfd))
		ms_fd_copy(nfd, fd);
	else if (ms_fd_get(fd))
		ms_fd_drop(fd);
	drop_close(nfd);
	return 0;
}

static FILE *do_freopen(const char *path, const char *mode, FILE *fp,
			FILE *(*real)(const char *, const char *, FILE *))
{
	struct ms_route r;
	struct fmode fm;
	int ours = path && ms_route(path, &r);
	struct ck *k = map_find(fp);
	if (!ours && !k) {
		int saved = errno;
		int old = REAL(fileno)(fp);
		errno = saved;
		FILE *res = real(path, mode, fp);
		/* glibc dup3()s the new file onto the old fd internally. */
		if (res && old >= 0 && ms_fd_get(old) && !ms_in_vfork_child())
			ms_fd_drop(old);
		return res;
	}
	if (parse_mode(mode, &fm)) {
		errno = EINVAL;
		return NULL;
	}
	int nfd;
	if (!path) {
		/* The same file in a new mode: a new open of its inode. */
		struct ms_fd *e = ms_fd_get(k->fd);
		if (!e || e->kind != MS_FD_FILE) {
			errno = EBADF;
			return NULL;
		}
		struct ms_route self = {.dir = e->ino, .empty = 1, .path = ""};
		nfd = ms_open_route(&self, fm.oflags, 0666, MS_OPEN_KEEP);
	} else if (ours) {
		nfd = ms_open_route(&r, fm.oflags, 0666, MS_OPEN_KEEP);
	} else {
		/* a real file for one of our streams */
		nfd = REAL(open)(path, fm.oflags, 0666);
		if (nfd < 0)
			nfd = -errno;
	}
	if (nfd < 0) {
		/* As glibc: the stream was closed first, and stays closed. */
		fflush(fp);
		int old = k ? k->fd : REAL(fileno)(fp);
		if (old >= 0 && !ms_fd_private(old))
			drop_close(old);
		if (k)
			k->fd = -1;
		errno = -nfd;
		return NULL;
	}
	struct ms_fd *ne = ms_fd_get(nfd);
	int isdir = ne && ne->kind == MS_FD_DIR;
	fflush(fp); /* failure ignored, as POSIX says */
	int std = std_of(fp);
	int old = k ? k->fd : std >= 0 ? std : REAL(fileno)(fp);
	if (old < 0) {
		drop_close(nfd);
		errno = EBADF;
		return NULL;
	}
	if (move_fd(nfd, old, fm.oflags & O_CLOEXEC))
		return NULL;
	/* For a standard stream the switch has happened in move_fd; the
	 * stream to use is the global one now. */
	FILE *res = std >= 0 ? *std_var(std) : fp;
	struct ck *rk = map_find(res);
	if (rk)
		rk->isdir = isdir;
	set_mode(res, &fm);
	if ((fm.oflags & O_APPEND) && (fm.oflags & O_ACCMODE) == O_WRONLY)
		REAL(lseek)(old, 0, SEEK_END);
	return res;
}

MS_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(path, mode, fp, REAL(freopen));
}

MS_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(path, mode, fp, REAL(freopen64));
}

/* ---- dprintf ------------------------------------------------------------------ */

static int store_vdprintf(int fd, const char *fmt, va_list ap)
{
	char *s;
	int n = vasprintf(&s, fmt, ap);
	if (n < 0)
		return -1;
	size_t done = 0;
	while (done < (size_t)n) {
		ssize_t w = ms_shim_write(fd, s + done, (size_t)n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int err = errno;
			free(s);
			errno = err;
			return -1;
		}
		done += (size_t)w;
	}
	free(s);
	return n;
}

MS_EXPORT int vdprintf(int fd, const char *fmt, va_list ap)
{
	if (!ms_fd_get(fd))
		return REAL(vdprintf)(fd, fmt, ap);
	return store_vdprintf(fd, fmt, ap);
}

MS_EXPORT int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = ms_fd_get(fd) ? store_vdprintf(fd, fmt, ap) : REAL(vdprintf)(fd, fmt, ap);
	va_end(ap);
	return r;
}

MS_EXPORT int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
	if (!ms_fd_get(fd))
		return REAL(__vdprintf_chk)(fd, flag, fmt, ap);
	return store_vdprintf(fd, fmt, ap);
}

MS_EXPORT int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = ms_fd_get(fd) ? store_vdprintf(fd, fmt, ap)
			      : REAL(__vdprintf_chk)(fd, flag, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- fork ---------------------------------------------------------------------- */

static void lock_all(void)
{
	pthread_mutex_lock(&std_lock);
	pthread_mutex_lock(&map_lock);
}

static void unlock_all(void)
{
	pthread_mutex_unlock(&map_lock);
	pthread_mutex_unlock(&std_lock);
}

void ms_stdio_fork(int phase)
{
	if (phase == MS_FORK_PREPARE) {
		lock_all();
	} else if (phase == MS_FORK_PARENT) {
		unlock_all();
	} else {
		pthread_mutex_init(&map_lock, NULL);
		pthread_mutex_init(&std_lock, NULL);
	}
}
