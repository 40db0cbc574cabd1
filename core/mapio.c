/* core/mapio.c — small reads and writes of store files served from a
 * mapping of their memfd (issue 15, "small I/O").
 *
 * A process maps the memfd of a file it reads or writes often MAP_SHARED:
 * the mapping shares the kernel's pages, so a copy through it is the same
 * bytes every other fd, mapping and process sees. The shim copies between
 * the mapping and the caller's buffer (shim/fd.c, under its fault probe);
 * this file says when it may, and keeps the copy in order with the rest of
 * the store:
 *
 * - The file's data lock is held from ms_mio_begin to ms_mio_end, across
 *   the copy. Everything that shrinks a file or punches a hole takes that
 *   lock too (data.c), so pages the copy touches stay there: no SIGBUS.
 * - Only pages the kernel already holds are touched. A read fault on a
 *   hole of a shared memfd mapping would allocate a page (pread of a hole
 *   allocates nothing), and a write into a hole would allocate one the
 *   ledger has not charged. So a range is served only when every page of
 *   it is known present; the rest goes to the kernel, through the charged
 *   write path for writes. Presence is asked of mincore(2), which for a
 *   file mapping reports a page present only when the page cache holds it
 *   up to date (never for a hole; not for a fallocated page nobody wrote,
 *   nor a swapped-out one, which only sends those to the kernel), and is
 *   remembered per page until the file's map_gen moves: data.c bumps it,
 *   under the data lock and before the kernel call, whenever pages may go
 *   (a shrinking truncate, a punched hole). Pages that appear later are
 *   found at the next look.
 * - Only ranges inside the file's size (as the store records it under the
 *   data lock) are served: growth, and reads that reach the end of file,
 *   stay the kernel's and the ledger's.
 *
 * Mappings are per process and few (MIO_SLOTS, the least recently used
 * goes), made once a file has seen enough I/O through an fd to pay for
 * one (the shim decides), and given back when the process closes its last
 * fd of the file (a mapping would keep an unlinked file's pages alive
 * after the store gave back their charge). A fork child inherits them
 * (MAP_SHARED) and keeps using them; each copy takes the data lock again.
 * An exec drops them with the address space.
 *
 * Lock rules: mio_lock (process-local, a leaf: never held while taking
 * another lock) guards the slot table — identity, mapping, `doomed` —
 * and is taken by the shim's fork handlers. `users` is atomic: a slot in
 * use is never unmapped; the last user of a doomed slot unmaps it. A
 * slot's `gen` and `known` bits are [data]: read and written only under
 * the file's data lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arena.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#define MIO_SLOTS 16
/* pages asked of mincore at a time: its answer vector lives on the stack */
#define MIO_LOOK 4096
/* a mapping covers the size it is made for and half as much again, at
 * least 2 MiB, so that a file growing by small writes is not remapped at
 * every look */
#define MIO_MIN_MAP (2u << 20)
/* files bigger than this stay the kernel's: address space, and the page
 * bits (a bit a page: 512 KiB of them for 16 GiB) cleared at every
 * truncate, are the process's */
#define MIO_MAX_FILE (16ULL << 30)

struct mio_slot {
	struct ms_store *s;
	ms_ino ino;      /* 0: free */
	uint64_t kino;   /* the memfd's st_ino: which file the mapping is of */
	uint8_t *base;   /* the mapping */
	uint64_t len;    /* bytes mapped */
	int writable;    /* PROT_WRITE too */
	int doomed;      /* unmap when unused: closed, stale or too small */
	uint32_t users;  /* [atomic] copies in progress through it */
	uint64_t stamp;  /* last use, for eviction */
	uint32_t gen;    /* [data] the file's map_gen `known` was learned at */
	uint64_t *known; /* [data] a bit per page: present in the kernel */
	int sparse;      /* [data] the last look ahead found mostly holes */
	uint64_t nknown; /* bytes of `known` (mapped anonymous) */
};

static struct mio_slot slots[MIO_SLOTS];
/* [atomic] 1 once a slot was first given a file: until then a close asks
 * nothing of slots[] (a page a process that maps nothing never touches) */
MS_STARTUP static int mio_used;
static pthread_mutex_t mio_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t clock_; /* [mio_lock] eviction stamps */

static uint64_t page_up(uint64_t n) { return (n + MS_PAGE - 1) & ~(uint64_t)(MS_PAGE - 1); }

/* mio_lock held, users 0: the slot's mappings go, the slot is free. */
static void slot_free(struct mio_slot *m)
{
	if (m->base)
		munmap(m->base, m->len);
	if (m->known)
		munmap(m->known, m->nknown);
	/* ms_mio_mapped looks at ino without the lock */
	__atomic_store_n(&m->ino, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->doomed, 0, __ATOMIC_RELAXED);
	m->base = NULL;
	m->known = NULL;
	m->len = m->nknown = 0;
}

/* mio_lock held: maps the memfd behind fd (inode in, ino) for len bytes
 * into slot m. The program's own fd when it is open for reading and
 * writing; else a description of our own, re-opened read-write through
 * /proc/self/fd (the memfd itself is mode 0777: any process of the tree
 * may), closed again at once — the mapping keeps the file. */
static int slot_make(struct mio_slot *m, struct ms_store *s, ms_ino ino, uint64_t kino, int fd,
		     int acc, uint64_t len)
{
	int mfd = fd, own = -1;
	if (acc != O_RDWR) {
		char path[40];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		own = sys_openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC, 0);
		if (own < 0 && acc == O_RDONLY)
			own = -1; /* read-only then: the program's fd */
		else if (own < 0)
			return own;
		else
			mfd = own;
	}
	int writable = mfd != fd || acc == O_RDWR;
	void *base = NULL, *known = NULL;
	uint64_t nknown = page_up((len / MS_PAGE + 63) / 64 * 8);
	int r = sys_mmap(&base, len, PROT_READ | (writable ? PROT_WRITE : 0),
			 MAP_SHARED | MAP_NORESERVE, mfd, 0);
	if (own >= 0)
		sys_close(own);
	if (r)
		return r;
	r = sys_mmap(&known, nknown, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r) {
		munmap(base, len);
		return r;
	}
	__atomic_store_n(&mio_used, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&m->s, s, __ATOMIC_RELAXED);
	__atomic_store_n(&m->ino, ino, __ATOMIC_RELAXED);
	m->kino = kino;
	m->base = base;
	m->len = len;
	m->writable = writable;
	m->known = known;
	m->nknown = nknown;
	/* a gen the file cannot have yet: the first look learns */
	m->gen = LD(&ms_inode_at(s, ino)->map_gen) - 1;
	return 0;
}

/* The slot for (s, ino), in use (users + 1) on return; made when `make`
 * and there is none, or the one there is cannot serve [0, need) (`write`:
 * writable) and nobody uses it. NULL: the kernel serves this call. */
static struct mio_slot *slot_get(struct ms_store *s, ms_ino ino, int fd, int acc, int write,
				 uint64_t need, int make, int *failed)
{
	struct ms_inode *in = ms_inode_at(s, ino);
	struct mio_slot *m = NULL, *victim = NULL;
	pthread_mutex_lock(&mio_lock);
	for (int i = 0; i < MIO_SLOTS; i++) {
		struct mio_slot *c = &slots[i];
		if (c->ino == ino && c->s == s) {
			m = c;
			break;
		}
		uint32_t busy = __atomic_load_n(&c->users, __ATOMIC_ACQUIRE);
		if (!busy && (!victim || !c->ino || (victim->ino && c->stamp < victim->stamp)))
			victim = c;
	}
	if (m && (__atomic_load_n(&m->doomed, __ATOMIC_RELAXED) || m->len < need ||
		  (write && !m->writable))) {
		/* stale: made again below when nobody is copying through it */
		__atomic_store_n(&m->doomed, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&m->users, __ATOMIC_ACQUIRE)) {
			m = NULL;
			goto out;
		}
		slot_free(m);
		victim = m;
		m = NULL;
		make = 1;
	}
	if (!m) {
		uint64_t size = LD(&in->size), len = page_up(size + size / 2);
		if (!make || !victim || need > size || size > MIO_MAX_FILE)
			goto out;
		if (len < MIO_MIN_MAP)
			len = MIO_MIN_MAP;
		if (victim->ino)
			slot_free(victim);
		/* the memfd's identity: read once, checked under the data lock */
		uint64_t kino = LD(&in->memfd_ino);
		if (slot_make(victim, s, ino, kino, fd, acc, len)) {
			*failed = 1;
			goto out;
		}
		m = victim;
		if (write && !m->writable) {
			m = NULL; /* a read-only mapping for the next reads */
			goto out;
		}
	}
	__atomic_add_fetch(&m->users, 1, __ATOMIC_ACQ_REL);
	m->stamp = ++clock_;
out:
	pthread_mutex_unlock(&mio_lock);
	return m;
}

/* Done with slot m: the last user of a doomed slot unmaps it. */
static void slot_put(struct mio_slot *m)
{
	if (__atomic_sub_fetch(&m->users, 1, __ATOMIC_ACQ_REL) || !__atomic_load_n(&m->doomed, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&mio_lock);
	if (__atomic_load_n(&m->doomed, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&m->users, __ATOMIC_ACQUIRE))
		slot_free(m);
	pthread_mutex_unlock(&mio_lock);
}

static int bit(const uint64_t *b, uint64_t p) { return (b[p / 64] >> (p % 64)) & 1; }

uint64_t ms_mio_looked;

/* Asks mincore about n pages from page p and remembers those present;
 * returns how many were, or -1. */
static int64_t look(struct mio_slot *m, uint64_t p, uint64_t n, unsigned char *vec)
{
	if (MS_SYSCALL(SYS_mincore, m->base + p * MS_PAGE, n * MS_PAGE, vec))
		return -1;
	__atomic_add_fetch(&ms_mio_looked, n, __ATOMIC_RELAXED);
	int64_t found = 0;
	for (uint64_t k = 0; k < n; k++)
		if (vec[k] & 1) {
			m->known[(p + k) / 64] |= 1ULL << ((p + k) % 64);
			found++;
		}
	return found;
}

/* Data lock held: 1 when every page of [p0, p1] is present in the kernel.
 * Pages not known yet are asked of mincore: first those of the range, then,
 * when they are all there, up to MIO_LOOK pages after it, below `lim` (the
 * file's end), so that a file read at random learns its pages in a few
 * calls; until a look ahead finds the file mostly holes. A hole in the
 * range sends the call to the kernel after a look at the range only: with
 * a look of MIO_LOOK pages from the first page asked, a file filled page
 * by page after a truncate paid a mincore over 16 MiB, and a loop over its
 * answer, for every page written (183 us a 4 KiB pwrite, 1.8 us on tmpfs). */
static int present(struct mio_slot *m, uint64_t p0, uint64_t p1, uint64_t lim)
{
	unsigned char vec[MIO_LOOK];
	int looked = 0;
	for (uint64_t p = p0; p <= p1; p++) {
		if (bit(m->known, p))
			continue;
		uint64_t n = p1 - p + 1;
		if (n > MIO_LOOK)
			n = MIO_LOOK;
		if (look(m, p, n, vec) < 0 || !bit(m->known, p))
			return 0;
		looked = 1;
	}
	if (looked && !m->sparse && p1 + 1 < lim) {
		uint64_t n = lim - p1 - 1;
		if (n > MIO_LOOK)
			n = MIO_LOOK;
		int64_t found = look(m, p1 + 1, n, vec);
		m->sparse = found < 0 || (uint64_t)found * 2 < n;
	}
	return 1;
}

int ms_mio_begin(ms_store *s, ms_ino ino, int fd, int acc, uint64_t off, size_t len, int write,
		 int make, struct ms_mio *io)
{
	if (len == 0 || off > UINT64_MAX - len || !ino || ino > s->hdr->nslots)
		return MS_MIO_NO;
	uint64_t end = off + len;
	int failed = 0;
	struct mio_slot *m = slot_get(s, ino, fd, acc, write, end, make, &failed);
	if (!m)
		return failed ? MS_MIO_NEVER : MS_MIO_NO;
	struct ms_inode *in = ms_inode_at(s, ino);
	ms_data_lock(s, in, fd);
	uint64_t size = LD(&in->size);
	if (LD(&in->memfd_ino) != m->kino || !S_ISREG(LD(&in->mode))) {
		__atomic_store_n(&m->doomed, 1, __ATOMIC_RELAXED); /* the slot was reused */
		goto no;
	}
	if (end > size || end > m->len)
		goto no; /* growth, the end of file, or a mapping to make larger */
	uint32_t gen = LD(&in->map_gen);
	if (m->gen != gen) {
		memset(m->known, 0, m->nknown);
		m->sparse = 0;
		m->gen = gen;
	}
	uint64_t lim = page_up(size) / MS_PAGE;
	if (!present(m, off / MS_PAGE, (end - 1) / MS_PAGE, lim))
		goto no;
	/* The charged path asks the guard before a write whenever the file
	 * holds fewer pages than its size spans; in per_write mode it would
	 * probe memory here too, so such a write stays on that path. */
	if (write && s->hdr->guard_mode == MS_GUARD_PER_WRITE && LD(&in->charged) < page_up(size))
		goto no;
	io->at = m->base + off;
	io->len = len;
	io->slot = m;
	io->ino = ino;
	io->write = write;
	return MS_MIO_OK;
no:
	ms_data_unlock(s, in);
	slot_put(m);
	return MS_MIO_NO;
}

void ms_mio_end(ms_store *s, struct ms_mio *io, size_t done)
{
	struct ms_inode *in = ms_inode_at(s, io->ino);
	if (io->write && done) {
		/* what ms_write_end does for a write that allocated nothing:
		 * the times (the kernel's write(2) updates them; a store
		 * copy does not reach the memfd's) and the report's bytes */
		int64_t now = ms_now_ns();
		ST(&in->mtime_ns, now);
		ST(&in->ctime_ns, now);
		if (s->prog)
			__atomic_add_fetch(&s->hdr->progs[s->prog - 1].written, (uint64_t)done,
					   __ATOMIC_RELAXED);
	}
	ms_data_unlock(s, in);
	slot_put((struct mio_slot *)io->slot);
}

int ms_mio_mapped(ms_store *s, ms_ino ino)
{
	if (!__atomic_load_n(&mio_used, __ATOMIC_RELAXED))
		return 0;
	for (int i = 0; i < MIO_SLOTS; i++)
		if (__atomic_load_n(&slots[i].ino, __ATOMIC_RELAXED) == ino &&
		    __atomic_load_n(&slots[i].s, __ATOMIC_RELAXED) == s)
			return 1;
	return 0;
}

void ms_mio_forget(ms_store *s, ms_ino ino)
{
	pthread_mutex_lock(&mio_lock);
	for (int i = 0; i < MIO_SLOTS; i++) {
		struct mio_slot *m = &slots[i];
		if (__atomic_load_n(&m->ino, __ATOMIC_RELAXED) != ino || m->s != s)
			continue;
		__atomic_store_n(&m->doomed, 1, __ATOMIC_RELAXED);
		if (!__atomic_load_n(&m->users, __ATOMIC_ACQUIRE))
			slot_free(m);
	}
	pthread_mutex_unlock(&mio_lock);
}

void ms_mio_fork(int phase)
{
	switch (phase) {
	case MS_MIO_PREPARE:
		pthread_mutex_lock(&mio_lock);
		break;
	case MS_MIO_PARENT:
		pthread_mutex_unlock(&mio_lock);
		break;
	case MS_MIO_CHILD:
		/* one thread here: copies other threads had under way are not */
		pthread_mutex_init(&mio_lock, NULL);
		for (int i = 0; i < MIO_SLOTS; i++)
			__atomic_store_n(&slots[i].users, 0, __ATOMIC_RELAXED);
		break;
	}
}
