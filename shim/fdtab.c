/* shim/fdtab.c — which fds of this process are store files or store
 * directories, and the store's private fds that programs must not close.
 *
 * A flat array indexed by fd, mapped once and touched lazily, so the
 * question "is this fd ours?" costs one bounds check and one load. fd
 * numbers belong to one thread at a time (the kernel hands each out once),
 * so entries need no lock; kind is read and written atomically so that a
 * racing reader sees an entry whole or not at all.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "shim.h"
#include "sys.h"

MS_STARTUP static struct ms_fd *tab;
MS_STARTUP static int cap;
MS_STARTUP static int high; /* [atomic] one past the highest fd ever set */

#define KIND(e) __atomic_load_n(&(e)->kind, __ATOMIC_ACQUIRE)

void ms_fdtab_init(void)
{
	/* system calls of our own: nothing of libc's to bind or fault in at
	 * every start */
	struct rlimit rl;
	rlim_t n = 65536;
	if (MS_SYSCALL(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 &&
	    rl.rlim_max != RLIM_INFINITY)
		n = rl.rlim_max;
	if (n > (1 << 20))
		n = 1 << 20;
	void *p;
	if (sys_mmap(&p, (size_t)n * sizeof(struct ms_fd), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0))
		return;
	tab = p;
	cap = (int)n;
}

struct ms_fd *ms_fd_get(int fd)
{
	if ((unsigned)fd >= (unsigned)cap)
		return NULL;
	struct ms_fd *e = &tab[fd];
	return KIND(e) ? e : NULL;
}

void ms_fd_set(int fd, enum ms_fd_kind kind, ms_ino ino, int oflags)
{
	if ((unsigned)fd >= (unsigned)cap)
		return;
	struct ms_fd *e = &tab[fd];
	e->ino = ino;
	e->oflags = oflags;
	e->how = 0;
	e->sig = 0;
	e->pos = 0;
	e->lend = 0;
	__atomic_store_n(&e->mio, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->fail, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->kind, (uint32_t)kind, __ATOMIC_RELEASE);
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);
	while (fd >= h && !__atomic_compare_exchange_n(&high, &h, fd + 1, 0, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
	if (fd <= 2)
		ms_stdio_fd_changed(fd);
}

/* 1 when another fd of this process is a store file on ino. */
static int ino_open(ms_ino ino)
{
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);
	for (int fd = 0; fd < h; fd++)
		if (KIND(&tab[fd]) == MS_FD_FILE && tab[fd].ino == ino)
			return 1;
	return 0;
}

/* open: fd is still the program's (a close to come), else the kernel has
 * replaced it already. */
static void drop(int fd, int open)
{
	struct ms_fd *e = ms_fd_get(fd);
	if (!e)
		return;
	struct ms_fd was = *e;
	ms_ino ino = was.ino;
	uint32_t kind = was.kind;
	__atomic_store_n(&e->kind, MS_FD_NONE, __ATOMIC_RELEASE);
	if (kind == MS_FD_DIR)
		ms_notify_close(ms_shim.store, fd); /* dnotify_flush */
	/* The last fd of a mapped file: the mapping goes before the
	 * reference, or it would keep an unlinked file's pages after the
	 * store gave back their charge. */
	if (kind == MS_FD_FILE && ms_mio_mapped(ms_shim.store, ino) && !ino_open(ino))
		ms_mio_forget(ms_shim.store, ino);
	if (kind == MS_FD_FILE)
		ms_lend_put(fd, &was, open); /* its reference, maybe its description */
	else
		ms_ino_put(ms_shim.store, ino);
	if (fd <= 2)
		ms_stdio_fd_changed(fd);
}

void ms_fd_drop(int fd) { drop(fd, 0); }

void ms_fd_close(int fd) { drop(fd, 1); }

void ms_fd_copy(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return;
	ms_fd_drop(newfd);
	struct ms_fd *e = ms_fd_get(oldfd);
	if (!e)
		return;
	ms_ino_get(ms_shim.store, e->ino);
	/* both now name one description, which no other fd may be lent */
	__atomic_or_fetch(&e->how, MS_FD_DUPED, __ATOMIC_RELAXED);
	struct ms_fd copy = *e;
	/* A dup'd directory fd shares its position, as the kernel's shared
	 * open file description would; close-on-exec is per fd. */
	ms_fd_set(newfd, (enum ms_fd_kind)copy.kind, copy.ino, copy.oflags & ~O_CLOEXEC);
	tab[newfd].pos = copy.pos;
	tab[newfd].how = copy.how;
	tab[newfd].sig = copy.sig;
	tab[newfd].lend = copy.lend;
	ms_lend_dup(&tab[newfd]);
}

int ms_fd_new_dir(ms_ino ino, int oflags, int minfd, enum ms_fd_kind kind)
{
	if (ms_shim.placeholder < 0) {
		/* No memfd could be made for directory fds at start-up (the
		 * fd limit): say so once, and refuse as the kernel would. */
		static int said;
		if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			ms_logc(ms_shim.cfg.log_level, MS_LOG_ERROR,
			       "no fd left for directory fds at start-up (the fd limit): "
			       "store directories cannot be opened (EMFILE)");
		return -EMFILE;
	}
	int fd;
	if (oflags & O_PATH) {
		char p[40];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", ms_shim.placeholder);
		fd = REAL(openat)(AT_FDCWD, p, O_PATH | (oflags & O_CLOEXEC));
		if (fd >= 0 && fd < minfd) {
			int to = REAL(fcntl)(fd, (oflags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, minfd);
			REAL(close)(fd);
			fd = to;
		}
	} else {
		fd = REAL(fcntl)(ms_shim.placeholder, (oflags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD,
				 minfd);
	}
	if (fd < 0)
		return -errno;
	if (fd >= cap) {
		REAL(close)(fd);
		return -EMFILE;
	}
	ms_fd_set(fd, kind, ino, oflags);
	return fd;
}

int ms_fd_private(int fd)
{
	for (int i = 0; i < ms_shim.nprivate; i++)
		if (ms_shim.private_fds[i] == fd)
			return 1;
	return ms_lend_hidden(fd);
}

/* ms_private_fd_hook of core/store.h: a store fd made after the attach
 * (a holder's /proc directory, core/memfd.c) joins the private ones.
 * Called under ns_lock, so one at a time; readers see the count after the
 * fd. A vfork child's fd table is its own, the list its parent's. */
int ms_fd_private_take(int fd)
{
	if (ms_in_vfork_child())
		return -1;
	if (ms_fd_private(fd))
		return fd;
	int n = ms_shim.nprivate;
	if (n >= (int)(sizeof(ms_shim.private_fds) / sizeof(ms_shim.private_fds[0])))
		return -1;
	fd = ms_fd_private_place(fd);
	ms_shim.private_fds[n] = fd;
	__atomic_store_n(&ms_shim.nprivate, n + 1, __ATOMIC_RELEASE);
	return fd;
}

void ms_fd_private_evict(int fd)
{
	ms_lend_evict(fd);
	for (int i = 0; i < ms_shim.nprivate; i++) {
		if (ms_shim.private_fds[i] != fd)
			continue;
		/* the keeper connection stays inheritable (carry.c) */
		int pin = fd == __atomic_load_n(&ms_shim.pin, __ATOMIC_RELAXED);
		int moved = REAL(fcntl)(fd, pin ? F_DUPFD : F_DUPFD_CLOEXEC, fd + 1);
		if (moved < 0)
			return;
		if (pin)
			__atomic_store_n(&ms_shim.pin, moved, __ATOMIC_RELAXED);
		if (fd == ms_shim.placeholder)
			ms_shim.placeholder = moved;
		else if (ms_shim.store)
			ms_store_private_fd_moved(ms_shim.store, fd, moved);
		ms_shim.private_fds[i] = moved;
		REAL(close)(fd);
	}
}

void ms_fdtab_atfork_child(void)
{
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);
	for (int fd = 0; fd < h; fd++)
		if (KIND(&tab[fd]))
			ms_ino_get(ms_shim.store, tab[fd].ino);
}

void ms_fd_drop_range(unsigned first, unsigned last)
{
	unsigned h = (unsigned)__atomic_load_n(&high, __ATOMIC_RELAXED);
	for (unsigned fd = first; fd < h && fd <= last; fd++)
		if (KIND(&tab[fd]))
			ms_fd_close((int)fd);
}

void ms_fd_mark_shared(void)
{
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);
	for (int fd = 0; fd < h; fd++)
		if (KIND(&tab[fd]) == MS_FD_FILE)
			__atomic_or_fetch(&tab[fd].how, MS_FD_SHARED, __ATOMIC_RELAXED);
}

void ms_fd_setfl_ino(ms_ino ino, int flags, int mask)
{
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);
	for (int fd = 0; fd < h; fd++)
		if (KIND(&tab[fd]) && tab[fd].ino == ino)
			tab[fd].oflags = (tab[fd].oflags & ~mask) | (flags & mask);
}

int ms_fd_high(void)
{
	return __atomic_load_n(&high, __ATOMIC_RELAXED);
}

int ms_fd_next(int fd, int cloexec, struct ms_fd **e)
{
	int h = ms_fd_high();
	while (++fd < h) {
		*e = ms_fd_get(fd);
		if (!*e)
			continue;
		int fl = REAL(fcntl)(fd, F_GETFD);
		if (fl >= 0 && !!(fl & FD_CLOEXEC) == cloexec)
			return fd;
	}
	return -1;
}
