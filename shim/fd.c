/* shim/fd.c — the open family, closing and duplicating fds, fcntl, and
 * every call that makes a store file grow: each reserves its bytes before
 * the kernel is asked to store them.
 *
 * A store file's fd is a real kernel fd on its memfd, so reads, offsets,
 * mmap, locks and fork need nothing from us; what is ours is the fd table
 * entry that says which inode it is, and the quota check on growth.
 */
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "sys.h"

/* Telling a vfork child from its parent without a system call on every
 * open and close (a getpid costs as much as a whole tmpfs open on a
 * machine with dear system calls). A vfork child shares its parent's
 * memory, thread-local variables included: the vforking thread's. The
 * vfork wrapper (init.c) sets that thread's `pending` first; the child
 * sees it set and, by getpid, that it is not the process ms_shim.pid
 * names; the parent, resumed, looks once the same way and clears it.
 * Other threads never see it. Children this cannot see — of clone()
 * with CLONE_VM and no CLONE_THREAD, of fork or clone through syscall(),
 * which run no fork handlers — set ms_pid_checks for good (ms_vfork_seen):
 * from then on every look asks getpid, as before. touched and cwd are the
 * child's own record (fd tables and cwd), reset for each vfork. */
static __thread struct {
	int pending;    /* a vfork was made by this thread; not looked at since */
	int touched;    /* the child changed its fds (ms_vfork_touch) */
	int cwd_set;    /* the child changed directory: cwd is its own */
	ms_ino cwd;
} vf;
MS_STARTUP static int ms_pid_checks; /* [atomic] */

void ms_vfork_begin(void)
{
	vf.touched = 0;
	vf.cwd_set = 0;
	vf.cwd = 0;
	__atomic_store_n(&vf.pending, 1, __ATOMIC_RELAXED);
}

void ms_vfork_seen(void) { __atomic_store_n(&ms_pid_checks, 1, __ATOMIC_RELAXED); }

static __attribute__((noinline)) int in_child_slow(void)
{
	if (ms_shim_getpid() != ms_shim.pid)
		return 1;
	vf.pending = 0; /* the parent, back from its vfork */
	return 0;
}

int ms_in_vfork_child(void)
{
	if (__builtin_expect(!vf.pending && !__atomic_load_n(&ms_pid_checks, __ATOMIC_RELAXED), 1))
		return 0;
	return in_child_slow();
}

void ms_vfork_touch(void) { vf.touched = 1; }

int ms_vfork_touched(void) { return vf.touched && ms_in_vfork_child(); }

void ms_vfork_cwd_set(ms_ino ino)
{
	vf.cwd = ino;
	vf.cwd_set = 1;
}

int ms_vfork_cwd(ms_ino *ino)
{
	if (!vf.cwd_set || !ms_in_vfork_child())
		return 0;
	*ino = vf.cwd;
	return 1;
}

/* ---- the open family: one definition, five shapes -------------------------------- */

/* The mode argument exists only with O_CREAT or O_TMPFILE; read it only
 * then (reading an absent variadic argument is undefined). */
static int needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(mode, flags)                                                      \
	if (needs_mode(flags)) {                                                   \
		va_list ap_;                                                       \
		va_start(ap_, flags);                                              \
		mode = (mode_t)va_arg(ap_, int);                                   \
		va_end(ap_);                                                       \
	}

/* Every open wrapper: not ours -> the same real name with the same
 * arguments; ours -> the one open path. */
#define OPEN_BODY(dirfd, path, flags, mode, realcall)                              \
	struct ms_route r;                                                         \
	if (!ms_route_at(dirfd, path, &r)) {                                       \
		int fd_ = realcall;                                                \
		if (fd_ >= 0 && !r.fault)                                          \
			ms_hide_opened(fd_, path); /* this process's fd dir? */    \
		return fd_;                                                        \
	}                                                                          \
	return ms_ret(ms_open_route(&r, flags, mode, MS_OPEN_KEEP));

/* open(path, flags, ...) */
#define OPEN(name)                                                                 \
	MS_EXPORT int name(const char *path, int flags, ...)                       \
	{                                                                          \
		mode_t mode = 0;                                                   \
		MODE_ARG(mode, flags);                                             \
		OPEN_BODY(AT_FDCWD, path, flags, mode, REAL(name)(path, flags, mode)) \
	}
/* openat(dirfd, path, flags, ...) */
#define OPENAT(name)                                                               \
	MS_EXPORT int name(int dirfd, const char *path, int flags, ...)            \
	{                                                                          \
		mode_t mode = 0;                                                   \
		MODE_ARG(mode, flags);                                             \
		OPEN_BODY(dirfd, path, flags, mode, REAL(name)(dirfd, path, flags, mode)) \
	}
/* The fortified entry points: glibc calls them when it knows at compile
 * time that there is no mode (no O_CREAT). */
#define OPEN_2(name)                                                               \
	MS_EXPORT int name(const char *path, int flags)                            \
	{                                                                          \
		OPEN_BODY(AT_FDCWD, path, flags, 0, REAL(name)(path, flags))       \
	}
#define OPENAT_2(name)                                                             \
	MS_EXPORT int name(int dirfd, const char *path, int flags)                 \
	{                                                                          \
		OPEN_BODY(dirfd, path, flags, 0, REAL(name)(dirfd, path, flags))   \
	}
/* creat(path, mode) is open(path, O_CREAT | O_WRONLY | O_TRUNC, mode). */
#define CREAT(name)                                                                \
	MS_EXPORT int name(const char *path, mode_t mode)                          \
	{                                                                          \
		OPEN_BODY(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode,      \
			  REAL(name)(path, mode))                                  \
	}

OPEN(open)
OPEN(open64)
OPEN(__open)
OPEN(__open64)
OPENAT(openat)
OPENAT(openat64)
OPEN_2(__open_2)
OPEN_2(__open64_2)
OPENAT_2(__openat_2)
OPENAT_2(__openat64_2)
CREAT(creat)
CREAT(creat64)

/* ---- closing ------------------------------------------------------------------- */

MS_EXPORT int close(int fd)
{
	/* The store's own fds stay open: a program closing "every fd it does
	 * not know" must not cut the tree off its store. */
	if (ms_fd_private(fd))
		return 0;
	if (ms_fd_get(fd) && !ms_in_vfork_child())
		ms_fd_close(fd);
	ms_hide_forget(fd);
	return REAL(close)(fd);
}

/* Closes [first, last] with the private fds left out. */
static int close_range_around(unsigned first, unsigned last, int flags)
{
	int priv[8 + MS_LEND_SLOTS], n = 0;
	for (int i = 0; i < ms_shim.nprivate; i++)
		if (ms_shim.private_fds[i] >= 0 && (unsigned)ms_shim.private_fds[i] >= first &&
		    (unsigned)ms_shim.private_fds[i] <= last)
			priv[n++] = ms_shim.private_fds[i];
	n += ms_lend_fds(first, last, priv + n);
	/* Sort the few private fds so the gaps between them are ranges. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && priv[j - 1] > priv[j]; j--) {
			int t = priv[j];
			priv[j] = priv[j - 1];
			priv[j - 1] = t;
		}
	unsigned lo = first;
	for (int i = 0; i <= n; i++) {
		unsigned hi = i < n ? (unsigned)priv[i] - 1 : last;
		if (i < n && (unsigned)priv[i] == 0)
			hi = 0;
		if (lo <= hi && !(i < n && (unsigned)priv[i] < lo)) {
			int r = REAL(close_range)(lo, hi, flags);
			if (r)
				return r;
		}
		if (i < n)
			lo = (unsigned)priv[i] + 1;
	}
	return 0;
}

MS_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!ms_shim.on || first > last)
		return REAL(close_range)(first, last, flags);
	if (!(flags & CLOSE_RANGE_CLOEXEC) && !ms_in_vfork_child())
		ms_fd_drop_range(first, last);
	return close_range_around(first, last, flags);
}

MS_EXPORT void closefrom(int lowfd)
{
	if (!ms_shim.on || lowfd < 0) {
		REAL(closefrom)(lowfd);
		return;
	}
	if (!ms_in_vfork_child())
		ms_fd_drop_range((unsigned)lowfd, ~0U);
	close_range_around((unsigned)lowfd, ~0U, 0);
}

/* ---- duplicating ------------------------------------------------------------------- */

/* A vfork child dup'd store fd `from`: its program will have the
 * description, which the parent (whose table this is) must never lend. */
static void vfork_dup(int from)
{
	ms_vfork_touch();
	struct ms_fd *e = ms_fd_get(from);
	if (e)
		ms_fd_spoil(e);
}

MS_EXPORT int dup(int fd)
{
	int r = REAL(dup)(fd);
	if (r >= 0 && ms_fd_get(fd)) {
		if (ms_in_vfork_child())
			vfork_dup(fd);
		else
			ms_fd_copy(fd, r);
	}
	return r;
}

static int dup_onto(int oldfd, int newfd, int flags, int three)
{
	if (ms_shim.on && ms_fd_private(newfd) && oldfd != newfd)
		ms_fd_private_evict(newfd);
	int r = three ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
	if (r < 0 || oldfd == newfd || !ms_shim.ready)
		return r;
	if (ms_in_vfork_child()) {
		if (ms_fd_get(oldfd))
			vfork_dup(oldfd);
		return r;
	}
	int saved = errno;
	if (ms_fd_get(oldfd))
		ms_fd_copy(oldfd, newfd);
	else if (ms_fd_get(newfd))
		ms_fd_drop(newfd);
	errno = saved;
	return r;
}

MS_EXPORT int dup2(int oldfd, int newfd) { return dup_onto(oldfd, newfd, 0, 0); }

MS_EXPORT int dup3(int oldfd, int newfd, int flags) { return dup_onto(oldfd, newfd, flags, 1); }

/* What a command does to a store file's description, for lend.c: a POSIX
 * lock first closes the kept descriptions of its file; a command that
 * changes the description (F_SETFL, F_SETOWN, F_SETSIG, a lease, an OFD
 * lock, seals, hints...) spoils it; one that only reads changes nothing. */
static void lend_fcntl(struct ms_fd *e, int cmd)
{
	switch (cmd) {
	case F_SETLK:
	case F_SETLKW:
		ms_lend_lock(e->ino);
		break;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
	case F_GETFD:
	case F_SETFD:
	case F_GETFL:
	case F_GETLK:
	case F_OFD_GETLK:
	case F_GETOWN:
	case F_GETOWN_EX:
	case F_GETSIG:
	case F_GETLEASE:
	case F_GET_SEALS:
	case F_GETPIPE_SZ:
	case F_GET_RW_HINT:
	case F_GET_FILE_RW_HINT:
	case F_CREATED_QUERY:
		break;
	default:
		ms_fd_spoil(e);
	}
}

/* Every seal Linux knows (F_SEAL_EXEC, 6.3, is not in glibc 2.36's
 * headers): others are EINVAL before anything else is looked at. */
#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | 0x20)

/* F_SETFL flags a program may change on an open file. */
#define SETFL_MASK (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)

static int fcntl_common(int fd, int cmd, void *arg, int sixty_four)
{
	struct ms_fd *e = ms_fd_get(fd);
	int r;
	if (e && ms_in_vfork_child()) {
		if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
			vfork_dup(fd);
		e = NULL; /* the table is the parent's */
	}
	if (!e)
		return sixty_four ? REAL(fcntl64)(fd, cmd, arg) : REAL(fcntl)(fd, cmd, arg);
	/* A store file is a tmpfs file opened by name, which the kernel made
	 * sealed against sealing (F_SEAL_SEAL): its memfd, made to allow
	 * them, must never get one. The order of memfd_add_seals' checks. */
	if (e->kind == MS_FD_FILE && !(e->oflags & O_PATH) &&
	    !(__atomic_load_n(&e->how, __ATOMIC_RELAXED) & MS_FD_LOWER)) {
		if (cmd == F_GET_SEALS)
			return F_SEAL_SEAL;
		if (cmd == F_ADD_SEALS)
			return ms_ret((unsigned long)arg & ~(unsigned long)ALL_SEALS ? -EINVAL : -EPERM);
	}
	if (e->kind == MS_FD_FILE)
		lend_fcntl(e, cmd);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = REAL(fcntl)(fd, cmd, arg);
		if (r >= 0)
			ms_fd_copy(fd, r);
		return r;
	case F_CREATED_QUERY:
		return (e->how & MS_FD_CREATED) != 0;
	case F_NOTIFY:
		/* The kernel never sees a store directory change: the store
		 * keeps the registration and signals (core/notify.c), with
		 * the fd's F_SETSIG signal. O_PATH: the kernel's EBADF. */
		if (e->oflags & O_PATH)
			break;
		if (e->kind != MS_FD_DIR)
			return ms_ret(-ENOTDIR);
		return ms_ret(ms_notify_set(ms_shim.store, e->ino, fd, (uint32_t)(unsigned long)arg,
					    e->sig));
	case F_SETSIG:
		if (e->kind != MS_FD_DIR || (e->oflags & O_PATH))
			break;
		if ((unsigned long)arg > 64)
			return ms_ret(-EINVAL); /* valid_signal() */
		e->sig = (int32_t)(long)arg;
		return 0;
	case F_GETSIG:
		if (e->kind != MS_FD_DIR || (e->oflags & O_PATH))
			break;
		return e->sig;
	case F_GETFL:
		if (e->oflags & O_PATH)
			break; /* the kernel fd is O_PATH itself */
		if (e->kind == MS_FD_DIR)
			return (e->oflags & (O_ACCMODE | O_NONBLOCK | O_NOFOLLOW | O_NOATIME)) |
			       O_DIRECTORY | O_LARGEFILE;
		break;
	case F_SETFL:
		r = REAL(fcntl)(fd, cmd, arg);
		if (r == 0)
			/* The kernel keeps these flags per open file description,
			 * which dups share: so do the entries of this process. */
			ms_fd_setfl_ino(e->ino, (int)(long)arg & SETFL_MASK, SETFL_MASK);
		return r;
	}
	return sixty_four ? REAL(fcntl64)(fd, cmd, arg) : REAL(fcntl)(fd, cmd, arg);
}

/* glibc reads the third argument as a pointer whatever the command; so do
 * we, and pass it on unchanged. */
MS_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, 0);
}

MS_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, 1);
}

/* ---- what the kept descriptions must know of (lend.c) --------------------------------- */

/* A store file's entry, outside a vfork child (whose table is its
 * parent's). */
static struct ms_fd *lend_file(int fd)
{
	struct ms_fd *e = ms_fd_get(fd);
	return e && e->kind == MS_FD_FILE && !ms_in_vfork_child() ? e : NULL;
}

/* flock locks belong to the description, which a kept one would hold. */
MS_EXPORT int flock(int fd, int op)
{
	struct ms_fd *e = lend_file(fd);
	if (e)
		ms_fd_spoil(e);
	return REAL(flock)(fd, op);
}

/* lockf is fcntl's POSIX locks, taken inside libc. */
#define LOCKF(name)                                                                \
	MS_EXPORT int name(int fd, int cmd, off_t len)                             \
	{                                                                          \
		struct ms_fd *e = lend_file(fd);                                   \
		if (e)                                                             \
			ms_lend_lock(e->ino);                                      \
		return REAL(name)(fd, cmd, len);                                   \
	}
LOCKF(lockf)
LOCKF(lockf64)

/* Any ioctl may change the description (FIONBIO, FIOASYNC). */
MS_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct ms_fd *e = lend_file(fd);
	if (e)
		ms_fd_spoil(e);
	return REAL(ioctl)(fd, req, arg);
}

/* A mapped file keeps its pages when removed, as on tmpfs: the store
 * stops keeping descriptions of it (core: MS_I_MAPPED). mmap64 is the
 * same function under another name, which few x86-64 programs call (the
 * store's own code does, so that it never reaches this wrapper:
 * core/sys.h; README, Known limits). */
MS_EXPORT void *mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
	struct ms_fd *e = (flags & MAP_ANONYMOUS) ? NULL : lend_file(fd);
	if (e) {
		ms_ino_mapped(ms_shim.store, e->ino);
		ms_fd_spoil(e);
	}
	return REAL(mmap)(addr, n, prot, flags, fd, off);
}

/* ---- mapped reads and writes (core/mapio.c) ----------------------------------------- */

/* pread, pwrite and read of a store file are copies to and from a mapping
 * of its memfd when core says the range may be served so (every page
 * present, inside the file's size; the data lock held across the copy);
 * anything else is the kernel's, as before. A file is mapped once an fd
 * has made MIO_AFTER calls of at most MIO_SMALL bytes: a mapping costs a
 * few microseconds, and a small copy through it saves a few hundred
 * nanoseconds once its pages are in the page table. Big calls do not
 * count: the first touch of each page through a new mapping (a fault
 * every 16 pages, the unmapping at close, mincore) costs about what the
 * kernel's own read does (1 MiB reads of a 256 MiB file, open to close:
 * 295 us a call mapped against 244 us by the kernel, best of 8 runs);
 * they use a mapping that is there. */
#define MIO_AFTER 8
#define MIO_SMALL (16u << 10)
#define MIO_KERNEL (-2) /* not served here: the kernel's path */

static int mio_make(struct ms_fd *e, size_t n)
{
	uint32_t c = __atomic_load_n(&e->mio, __ATOMIC_RELAXED);
	if (c >= MIO_AFTER)
		return c != MS_FD_MIO_NEVER;
	if (n > MIO_SMALL)
		return 0;
	__atomic_store_n(&e->mio, ++c, __ATOMIC_RELAXED);
	return c >= MIO_AFTER;
}

/* One piece of a mapped copy. x86-64: `rep movsb`, the kernel's own copy
 * to and from user memory; on pages not in the cache (random I/O in a big
 * file) it writes whole lines without reading them first, which glibc's
 * vector copy of a few KiB does not (measured here: a 4 KiB copy into a
 * cold page of a memfd mapping, 415-504 ns against memcpy's 565-576).
 * Out of line: mio_copy must make a call, or GCC compiles it as a leaf
 * whose locals live below the stack pointer, and the probe's
 * __builtin_longjmp comes back to a frame it cannot use (seen: a second
 * fault on garbage registers). */
static __attribute__((noinline)) void mio_piece(void *dst, const void *src, size_t n)
{
#if defined(__x86_64__)
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
#else
	memcpy(dst, src, n);
#endif
}

/* Copies n bytes between the mapping and the caller's buffer `user` (dst
 * or src), one page of the caller's at a time, under a fault probe.
 * Returns n, or the bytes copied before the first fault: the whole pages
 * before a bad one of the caller's, as the kernel's copy stops at the
 * first byte it cannot reach (a page of the mapping that faults — a
 * shrink the store never saw — stops it too; the caller lets the kernel
 * answer for the rest). */
static size_t mio_copy(void *dst, const void *src, size_t n, const void *user)
{
	struct ms_probe p;
	volatile size_t done = 0;
	ms_probe_push(&p);
	if (MS_PROBE_SET(&p))
		return done; /* the handler popped the probe */
	while (done < n) {
		size_t k = MS_PAGE - ((uintptr_t)user + done) % MS_PAGE;
		if (k > n - done)
			k = n - done;
		mio_piece((char *)dst + done, (const char *)src + done, k);
		done += k;
	}
	ms_probe_end(&p);
	return n;
}

/* 1 when a call of n bytes on store file e may be copied: the process
 * maps the file, or this call makes it worth a mapping. A look at a few
 * words, before the calls that cost more (read's offset). */
static int mio_wanted(struct ms_fd *e, size_t n, int *make)
{
	*make = mio_make(e, n);
	return *make || ms_mio_mapped(ms_shim.store, e->ino);
}

/* Begins a mapped copy of [off, off + n) through store file e (fd), make
 * as mio_wanted said; 0 when the kernel must serve it. */
static int mio_begin(struct ms_fd *e, int fd, uint64_t off, size_t n, int write, int make,
		     struct ms_mio *io)
{
	int acc = e->oflags & O_ACCMODE;
	int r = ms_mio_begin(ms_shim.store, e->ino, fd, acc, off, n, write, make, io);
	if (r == MS_MIO_NEVER)
		__atomic_store_n(&e->mio, MS_FD_MIO_NEVER, __ATOMIC_RELAXED);
	return r == MS_MIO_OK;
}

/* Which reads may be mapped: a file fd open for reading, without O_DIRECT
 * (whose alignment rules are the kernel's to apply), into a buffer that
 * can be mapped at all (else the kernel's EFAULT), of at most SSIZE_MAX
 * bytes. */
static int mio_readable(const struct ms_fd *e, const void *buf, size_t n)
{
	return e->kind == MS_FD_FILE && (e->oflags & O_ACCMODE) != O_WRONLY &&
	       !(e->oflags & O_DIRECT) && n && n <= SSIZE_MAX && ms_ptr_possible(buf);
}

/* pread of store file e: n bytes, MIO_KERNEL, or -1/errno. */
static ssize_t mio_pread(struct ms_fd *e, int fd, void *buf, size_t n, off_t off)
{
	struct ms_mio io;
	int make;
	if (!mio_readable(e, buf, n) || off < 0 || !mio_wanted(e, n, &make) ||
	    !mio_begin(e, fd, (uint64_t)off, n, 0, make, &io))
		return MIO_KERNEL;
	size_t done = mio_copy(buf, io.at, n, buf);
	ms_mio_end(ms_shim.store, &io, done);
	if (done == n)
		return (ssize_t)n;
	/* A fault: the kernel reads the rest (EFAULT from it for a bad page
	 * of the buffer; then the bytes before it are the answer). */
	int saved = errno;
	ssize_t k = REAL(pread64)(fd, (char *)buf + done, n - done, off + (off_t)done);
	if (k < 0 && done) {
		errno = saved;
		return (ssize_t)done;
	}
	return k < 0 ? k : (ssize_t)done + k;
}

/* After a read that advanced the fd's offset by n and delivered got bytes
 * (got < n): the offset goes back by the difference. */
static void give_back(int fd, size_t n, ssize_t got)
{
	size_t kept = got > 0 ? (size_t)got : 0;
	if (kept < n)
		REAL(lseek64)(fd, -(off_t)(n - kept), SEEK_CUR);
}

/* read of store file e at its offset. The offset is the open file
 * description's, which other threads and processes may share: it is read,
 * then moved by n with SEEK_CUR — atomic in the kernel, so the bytes
 * [y - n, y) are this read's whatever happened in between. When nothing
 * did (y == x + n, the usual case), they are the range the data lock was
 * taken for; when another user moved the offset between the two, the read
 * is made there by the kernel, and what it did not read is given back. */
static ssize_t mio_read(struct ms_fd *e, int fd, void *buf, size_t n)
{
	struct ms_mio io;
	int make;
	if (!mio_readable(e, buf, n) || !mio_wanted(e, n, &make))
		return MIO_KERNEL;
	off_t x = REAL(lseek64)(fd, 0, SEEK_CUR);
	if (x < 0 || !mio_begin(e, fd, (uint64_t)x, n, 0, make, &io))
		return MIO_KERNEL;
	off_t y = REAL(lseek64)(fd, (off_t)n, SEEK_CUR);
	if (y < 0) {
		ms_mio_end(ms_shim.store, &io, 0);
		return MIO_KERNEL; /* the offset did not move */
	}
	size_t done = 0;
	if (y == x + (off_t)n)
		done = mio_copy(buf, io.at, n, buf);
	ms_mio_end(ms_shim.store, &io, done);
	if (done == n)
		return (ssize_t)n;
	int saved = errno;
	off_t at = y - (off_t)n + (off_t)done;
	ssize_t k = REAL(pread64)(fd, (char *)buf + done, n - done, at);
	ssize_t got = k < 0 ? (ssize_t)done : (ssize_t)done + k;
	give_back(fd, n, got);
	if (k < 0 && done) {
		errno = saved;
		return (ssize_t)done;
	}
	return k < 0 ? k : got;
}

/* Every read variant: a store directory fd is ours to refuse (its kernel
 * fd is the placeholder memfd); a store file's pread and read may be
 * served from its mapping (MAPPED: the call that does it); anything else
 * is the kernel's. */
#define READ_AS(name, params, args, MAPPED, MOVES)                                 \
	MS_EXPORT ssize_t name params                                              \
	{                                                                          \
		struct ms_fd *e = ms_fd_io(fd);                                    \
		if (e) {                                                           \
			if (e->kind == MS_FD_DIR) {                                \
				errno = EISDIR;                                    \
				return -1;                                         \
			}                                                          \
			if (MOVES)                                                 \
				ms_fd_moved(e);                                    \
			ssize_t r_ = MAPPED;                                       \
			if (r_ != MIO_KERNEL)                                      \
				return r_;                                         \
		}                                                                  \
		return REAL(name) args;                                            \
	}
/* MOVES: the call reads at the fd's offset and moves it (lend.c). */
#define READ(name, params, args, MOVES) READ_AS(name, params, args, MIO_KERNEL, MOVES)
/* The _chk names: a length past the buffer is the real one's to abort on. */
#define CHK(call) (n > buflen ? MIO_KERNEL : (call))

READ_AS(read, (int fd, void *buf, size_t n), (fd, buf, n), mio_read(e, fd, buf, n), 1)
READ_AS(__read_chk, (int fd, void *buf, size_t n, size_t buflen), (fd, buf, n, buflen),
	CHK(mio_read(e, fd, buf, n)), 1)
READ_AS(pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off),
	mio_pread(e, fd, buf, n, off), 0)
READ_AS(pread64, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off),
	mio_pread(e, fd, buf, n, off), 0)
READ_AS(__pread_chk, (int fd, void *buf, size_t n, off_t off, size_t buflen),
	(fd, buf, n, off, buflen), CHK(mio_pread(e, fd, buf, n, off)), 0)
READ_AS(__pread64_chk, (int fd, void *buf, size_t n, off_t off, size_t buflen),
	(fd, buf, n, off, buflen), CHK(mio_pread(e, fd, buf, n, off)), 0)
READ(readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt), 1)
READ(preadv, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off), 0)
READ(preadv64, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off), 0)
READ(preadv2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags),
     (fd, iov, cnt, off, flags), off == -1)
READ(preadv64v2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags),
     (fd, iov, cnt, off, flags), off == -1)

/* A directory's offset is its readdir cookie (rewinddir seeks to 0). */
static off_t dir_lseek(struct ms_fd *e, off_t off, int whence)
{
	if (whence == SEEK_CUR)
		off += (off_t)e->pos;
	else if (whence != SEEK_SET) {
		errno = EINVAL;
		return -1;
	}
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	e->pos = (uint64_t)off;
	return off;
}

#define LSEEK(name)                                                                \
	MS_EXPORT off_t name(int fd, off_t off, int whence)                        \
	{                                                                          \
		struct ms_fd *e = ms_fd_io(fd);                                    \
		if (e && e->kind == MS_FD_DIR)                                     \
			return dir_lseek(e, off, whence);                          \
		if (e && !(whence == SEEK_CUR && off == 0))                        \
			ms_fd_moved(e);                                            \
		return REAL(name)(fd, off, whence);                                \
	}

LSEEK(lseek)
LSEEK(lseek64)

/* ---- writes: reserve, write, settle ------------------------------------------------- */

/* Every call that writes file bytes, as one request: the plain and
 * vectored writes, and the copies made inside the kernel (which write
 * what they read from `in`, at most len bytes). */
enum wkind { W_WRITE, W_PWRITE, W_WRITEV, W_PWRITEV, W_PWRITEV2, W_COPY_RANGE, W_SENDFILE,
	     W_SPLICE };

struct wreq {
	enum wkind kind;
	const void *buf;
	const struct iovec *iov;
	int cnt;
	size_t len;
	off_t off;
	int flags;
	/* the kernel copies */
	int in;
	off_t *inoff;
	off_t *outoff; /* positional copy: write at *outoff */
	int at0;       /* at the fd's offset, known to be 0 (ms_fd_moved) */
};

static int positional(const struct wreq *q)
{
	switch (q->kind) {
	case W_PWRITE:
	case W_PWRITEV:
		return 1;
	case W_PWRITEV2:
		return q->off != -1;
	case W_COPY_RANGE:
	case W_SPLICE:
		return q->outoff != NULL;
	default:
		return 0;
	}
}

static ssize_t do_real_write(int fd, const struct wreq *q)
{
	switch (q->kind) {
	case W_WRITE:
		return REAL(write)(fd, q->buf, q->len);
	case W_PWRITE:
		return REAL(pwrite64)(fd, q->buf, q->len, q->off);
	case W_WRITEV:
		return REAL(writev)(fd, q->iov, q->cnt);
	case W_PWRITEV:
		return REAL(pwritev64)(fd, q->iov, q->cnt, q->off);
	case W_PWRITEV2:
		return REAL(pwritev64v2)(fd, q->iov, q->cnt, q->off, q->flags);
	case W_COPY_RANGE:
		return REAL(copy_file_range)(q->in, q->inoff, fd, q->outoff, q->len,
					     (unsigned)q->flags);
	case W_SENDFILE:
		return REAL(sendfile64)(fd, q->in, q->inoff, q->len);
	case W_SPLICE:
		return REAL(splice)(q->in, q->inoff, fd, q->outoff, q->len, (unsigned)q->flags);
	}
	return -1;
}

/* charged_write is inlined so that a write without MEMSHIM_FAIL costs a
 * load and a branch more, no call (callgrind: 999 instructions a store
 * pwrite before MEMSHIM_FAIL, 1001 after); short_write is the rare path. */
static inline __attribute__((always_inline)) ssize_t charged_write(struct ms_fd *e, int fd,
								   const struct wreq *q);
static __attribute__((noinline, cold)) ssize_t short_write(struct ms_fd *e, int fd,
							   const struct wreq *q, size_t len);

/* A write on store file e (fd): the growth is charged first and refused
 * whole when it does not fit; the file's data lock keeps the offset read
 * and the write together. */
static ssize_t store_write(struct ms_fd *e, int fd, struct wreq *q)
{
	if (e->kind == MS_FD_DIR) {
		errno = EBADF;
		return -1;
	}
	if (!positional(q))
		q->at0 = ms_fd_moved(e);
	int acc = e->oflags & O_ACCMODE;
	if (acc == O_RDONLY)
		return do_real_write(fd, q); /* EBADF from the kernel */
	/* Vectors the kernel refuses whole (a count out of range, lengths
	 * whose sum overflows): EINVAL from it, nothing reserved. */
	if (q->iov && (q->cnt < 0 || q->cnt > IOV_MAX || q->len >= SSIZE_MAX))
		return do_real_write(fd, q);
	if (ms_fault_on()) {
		/* MEMSHIM_FAIL, after the errors the kernel would give first */
		size_t len = q->len;
		int64_t at = !positional(q) ? -1 : q->outoff ? *q->outoff : q->off;
		int rc = ms_fail_fd(MS_FAIL_WRITE, fd, e, at, &len);
		if (rc)
			return ms_ret_ssize(rc);
		if (len != q->len)
			return short_write(e, fd, q, len);
	}
	return charged_write(e, fd, q);
}

static ssize_t kernel_write(struct ms_fd *e, int fd, const struct wreq *q);
static ssize_t mio_pwrite(struct ms_fd *e, int fd, const struct wreq *q);

/* The write proper, once nothing failed on purpose: a pwrite over pages
 * the file holds is a copy into its mapping; anything else (growth,
 * holes, appends, the other kinds) goes through the kernel, charged. */
static inline ssize_t charged_write(struct ms_fd *e, int fd, const struct wreq *q)
{
	if (q->kind == W_PWRITE) {
		ssize_t r = mio_pwrite(e, fd, q);
		if (r != MIO_KERNEL)
			return r;
	}
	return kernel_write(e, fd, q);
}

/* A pwrite of store file e (open for writing) from its mapping: n bytes,
 * MIO_KERNEL, or -1/errno. Nothing is allocated (core serves only pages
 * the file holds, inside its size), so nothing is reserved or settled; a
 * file opened O_APPEND appends whatever the offset (the kernel's rule),
 * so it stays the kernel's, as does O_DIRECT. */
static ssize_t mio_pwrite(struct ms_fd *e, int fd, const struct wreq *q)
{
	struct ms_mio io;
	size_t n = q->len;
	int fl = e->oflags, make;
	if (!n || !mio_wanted(e, n, &make))
		return MIO_KERNEL;
	/* a description another process shares may have had its flags
	 * changed there: the kernel says what they are now */
	if (__atomic_load_n(&e->how, __ATOMIC_RELAXED) & MS_FD_SHARED)
		fl = REAL(fcntl)(fd, F_GETFL);
	if (fl < 0 || (fl & (O_APPEND | O_DIRECT)) || q->off < 0 || n > SSIZE_MAX ||
	    !ms_ptr_possible(q->buf) || !mio_begin(e, fd, (uint64_t)q->off, n, 1, make, &io))
		return MIO_KERNEL;
	size_t done = mio_copy(io.at, q->buf, n, q->buf);
	ms_mio_end(ms_shim.store, &io, done);
	if (done) {
		ms_kill_priv(ms_shim.store, e->ino); /* as kernel_write */
		ms_notify_write(ms_shim.store, e->ino);
	}
	if (done == n)
		return (ssize_t)n;
	/* A fault: the rest goes the charged way (EFAULT from the kernel for a
	 * bad page of the buffer; then the bytes before it are the answer). */
	int saved = errno;
	struct wreq rest = *q;
	rest.buf = (const char *)q->buf + done;
	rest.len = n - done;
	rest.off = q->off + (off_t)done;
	ssize_t k = kernel_write(e, fd, &rest);
	if (k < 0 && done) {
		errno = saved;
		return (ssize_t)done;
	}
	return k < 0 ? k : (ssize_t)done + k;
}

/* The kernel's write, reserved before and settled after. */
static ssize_t kernel_write(struct ms_fd *e, int fd, const struct wreq *q)
{
	int append = (e->oflags & O_APPEND) != 0;
	struct ms_wctx w;
	int64_t at = 0;
	int saved = errno;
	if (positional(q))
		at = q->outoff ? (int64_t)*q->outoff : (int64_t)q->off;
	else if (!append && !q->at0) {
		/* the first write of a fresh description needs no lseek: a
		 * system call fewer for every file a program writes */
		at = REAL(lseek64)(fd, 0, SEEK_CUR);
		if (at < 0)
			return do_real_write(fd, q); /* let the kernel say */
	}
	int rc = ms_write_begin(ms_shim.store, e->ino, fd, at, q->len, append, &w, &at);
	if (rc) {
		ms_refusal_name(ms_shim.store, e->ino); /* for the report */
		return ms_ret_ssize(rc);
	}
	errno = saved;
	ssize_t k = do_real_write(fd, q);
	int err = errno;
	ms_write_end(ms_shim.store, &w, k < 0 ? -err : k);
	if (k > 0) {
		ms_kill_priv(ms_shim.store, e->ino); /* a writer clears set-id bits */
		ms_notify_write(ms_shim.store, e->ino);
	}
	errno = err;
	return k;
}

/* A "short" rule's write: the first len bytes of q (len < q->len). */
static ssize_t short_write(struct ms_fd *e, int fd, const struct wreq *q, size_t len)
{
	struct wreq s = *q;
	s.len = len;
	if (!q->iov)
		return charged_write(e, fd, &s);
	/* cnt <= IOV_MAX (store_write checked): at most 16 KiB of stack */
	struct iovec v[q->cnt > 0 ? q->cnt : 1];
	size_t left = len;
	int k = 0;
	for (; k < q->cnt && left; k++) {
		v[k] = q->iov[k];
		if (v[k].iov_len > left)
			v[k].iov_len = left;
		left -= v[k].iov_len;
	}
	s.iov = v;
	s.cnt = k;
	return charged_write(e, fd, &s);
}

static size_t iov_len(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - n)
			return SSIZE_MAX; /* the kernel will say EINVAL */
		n += iov[i].iov_len;
	}
	return n;
}

ssize_t ms_shim_write(int fd, const void *buf, size_t n)
{
	struct ms_fd *e = ms_fd_io(fd);
	if (!e)
		return REAL(write)(fd, buf, n);
	struct wreq q = {.kind = W_WRITE, .buf = buf, .len = n};
	return store_write(e, fd, &q);
}

MS_EXPORT ssize_t write(int fd, const void *buf, size_t n) { return ms_shim_write(fd, buf, n); }

/* Every other write variant: not a store fd -> the same real name; a store
 * file -> the request described by the designated initialisers. */
#define WRITE(name, params, args, ...)                                             \
	MS_EXPORT ssize_t name params                                              \
	{                                                                          \
		struct ms_fd *e = ms_fd_io(fd);                                   \
		if (!e)                                                            \
			return REAL(name) args;                                    \
		struct wreq q = {__VA_ARGS__};                                     \
		return store_write(e, fd, &q);                                     \
	}

#define PW_PARAMS (int fd, const void *buf, size_t n, off_t off)
#define PWV_PARAMS (int fd, const struct iovec *iov, int cnt, off_t off)
#define PWV2_PARAMS (int fd, const struct iovec *iov, int cnt, off_t off, int flags)
#define PWV_REQ(k) .kind = k, .iov = iov, .cnt = cnt, .len = iov_len(iov, cnt), .off = off

WRITE(pwrite, PW_PARAMS, (fd, buf, n, off), .kind = W_PWRITE, .buf = buf, .len = n, .off = off)
WRITE(pwrite64, PW_PARAMS, (fd, buf, n, off), .kind = W_PWRITE, .buf = buf, .len = n, .off = off)
WRITE(writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt), .kind = W_WRITEV,
      .iov = iov, .cnt = cnt, .len = iov_len(iov, cnt))
WRITE(pwritev, PWV_PARAMS, (fd, iov, cnt, off), PWV_REQ(W_PWRITEV))
WRITE(pwritev64, PWV_PARAMS, (fd, iov, cnt, off), PWV_REQ(W_PWRITEV))
WRITE(pwritev2, PWV2_PARAMS, (fd, iov, cnt, off, flags), PWV_REQ(W_PWRITEV2), .flags = flags)
WRITE(pwritev64v2, PWV2_PARAMS, (fd, iov, cnt, off, flags), PWV_REQ(W_PWRITEV2), .flags = flags)

/* ---- sizes --------------------------------------------------------------------------- */

static int store_ftruncate(struct ms_fd *e, int fd, off_t len)
{
	if (e->kind == MS_FD_DIR)
		return ms_ret(-EINVAL);
	int rc = ms_ftruncate(ms_shim.store, e->ino, fd, len);
	if (rc == 0) {
		ms_kill_priv(ms_shim.store, e->ino); /* as a write does */
		ms_notify_write(ms_shim.store, e->ino);
	}
	return ms_ret(rc);
}

MS_EXPORT int ftruncate(int fd, off_t len)
{
	struct ms_fd *e = ms_fd_io(fd);
	return e ? store_ftruncate(e, fd, len) : REAL(ftruncate)(fd, len);
}

MS_EXPORT int ftruncate64(int fd, off_t len)
{
	struct ms_fd *e = ms_fd_io(fd);
	return e ? store_ftruncate(e, fd, len) : REAL(ftruncate64)(fd, len);
}

static int store_fallocate(struct ms_fd *e, int fd, int mode, off_t off, off_t len)
{
	if (e->kind == MS_FD_DIR)
		return -EBADF;
	if ((e->oflags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	int rc = ms_fallocate(ms_shim.store, e->ino, fd, mode, off, len);
	if (rc == 0) {
		/* the kernel's fallocate is a change of the file too
		 * (file_modified): set-id bits go as after a write */
		ms_kill_priv(ms_shim.store, e->ino);
		ms_notify_write(ms_shim.store, e->ino);
	} else
		ms_refusal_name(ms_shim.store, e->ino); /* for the report */
	return rc;
}

MS_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	struct ms_fd *e = ms_fd_io(fd);
	return e ? ms_ret(store_fallocate(e, fd, mode, off, len)) : REAL(fallocate)(fd, mode, off, len);
}

MS_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len)
{
	struct ms_fd *e = ms_fd_io(fd);
	return e ? ms_ret(store_fallocate(e, fd, mode, off, len))
		 : REAL(fallocate64)(fd, mode, off, len);
}

/* posix_fallocate returns the error number instead of setting errno. */
MS_EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
	struct ms_fd *e = ms_fd_io(fd);
	return e ? -store_fallocate(e, fd, 0, off, len) : REAL(posix_fallocate)(fd, off, len);
}

MS_EXPORT int posix_fallocate64(int fd, off_t off, off_t len)
{
	struct ms_fd *e = ms_fd_io(fd);
	return e ? -store_fallocate(e, fd, 0, off, len) : REAL(posix_fallocate64)(fd, off, len);
}

/* ---- copies inside the kernel: reserve what they can write -------------------------- */

/* The most a copy from `in` can move: what is left of a regular file after
 * its offset, or a pipe's capacity; callers loop on short copies. */
static size_t copy_bound(int in, const off_t *inoff, size_t len)
{
	struct stat st;
	if (REAL(fstat)(in, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t at = inoff ? *inoff : REAL(lseek64)(in, 0, SEEK_CUR);
		if (at >= 0) {
			uint64_t left = at < st.st_size ? (uint64_t)(st.st_size - at) : 0;
			return left < len ? (size_t)left : len;
		}
	}
	int pipe = REAL(fcntl)(in, F_GETPIPE_SZ);
	size_t cap = pipe > 0 ? (size_t)pipe : (size_t)1 << 20;
	return cap < len ? cap : len;
}

/* A copy from store file `in` at its offset moves the offset. */
static void copy_from(int in, const off_t *inoff)
{
	struct ms_fd *e = inoff ? NULL : ms_fd_io(in);
	if (e)
		ms_fd_moved(e);
}

/* The kernel copies: the same write path, for at most what `in` can give
 * (callers loop on short copies). */
#define COPY(name, params, args, kind_, inoff_, outoff_)                           \
	MS_EXPORT ssize_t name params                                              \
	{                                                                          \
		copy_from(in, inoff_);                                             \
		struct ms_fd *e = ms_fd_io(fd);                                    \
		if (!e)                                                            \
			return REAL(name) args;                                    \
		struct wreq q = {.kind = kind_, .in = in, .inoff = inoff_,         \
				 .outoff = outoff_, .flags = (int)flags,           \
				 .len = copy_bound(in, inoff_, len)};              \
		return store_write(e, fd, &q);                                     \
	}

#define SENDFILE(name)                                                             \
	MS_EXPORT ssize_t name(int fd, int in, off_t *off, size_t len)             \
	{                                                                          \
		copy_from(in, off);                                                \
		struct ms_fd *e = ms_fd_io(fd);                                    \
		if (!e)                                                            \
			return REAL(name)(fd, in, off, len);                       \
		struct wreq q = {.kind = W_SENDFILE, .in = in, .inoff = off,       \
				 .len = copy_bound(in, off, len)};                 \
		return store_write(e, fd, &q);                                     \
	}

COPY(copy_file_range,
     (int in, off_t *inoff, int fd, off_t *outoff, size_t len, unsigned int flags),
     (in, inoff, fd, outoff, len, flags), W_COPY_RANGE, inoff, outoff)
COPY(splice, (int in, off_t *inoff, int fd, off_t *outoff, size_t len, unsigned int flags),
     (in, inoff, fd, outoff, len, flags), W_SPLICE, inoff, outoff)
SENDFILE(sendfile)
SENDFILE(sendfile64)

/* ---- _Fork: glibc's fork without atfork handlers, so ours run here ------------------ */

MS_EXPORT pid_t _Fork(void)
{
	ms_real_resolve(); /* the child may not call dlsym (real.h) */
	ms_fd_mark_shared();
	pid_t p = REAL(_Fork)();
	if (p == 0 && ms_shim.on)
		ms_shim_fork_child();
	return p;
}
