/* shim/lend.c — open file descriptions of store files, kept to lend.
 *
 * An open of a store file re-opens its memfd through /proc (core/memfd.c),
 * which costs more than tmpfs's whole open and close. A program that opens
 * the same file again and again (a configuration read at each request, a
 * test's fixture, a lock file) closes each time a description exactly like
 * the one its next open makes. So at the second close of a file in a row
 * of closes the shim keeps the description: a dup, close-on-exec, out of
 * the program's way and hidden as the store's other private fds
 * (ms_fd_private). The next open of that file with the same status flags
 * gets a dup of it at the lowest free number, its offset set back to 0 if
 * it may have moved: what a fresh open gives, for a dup's price.
 *
 * What a fresh open would not give is never lent again: a description
 * dup'd or shared (fork, exec, spawn, sent over a socket), or changed
 * beyond its offset (flock, OFD locks, F_SETFL, F_SETOWN, F_SETSIG, a
 * lease, any ioctl: ms_fd_spoil); a file a program mapped, removed, or
 * lower-backed (core decides at each put: ms_ino_put_lend). POSIX record
 * locks belong to the process and the file, and a close of any fd of the
 * file drops them all; so a description is kept only while the process
 * holds none on its file: the close that keeps one drops them, and before
 * a lock is taken the kept descriptions of that file are closed
 * (ms_lend_lock). The store counts the kept descriptions of each file
 * (ms_inode.lends), so that a file removed while one is kept loses its
 * pages at once, as on tmpfs; and lists them with their process
 * (ms_hdr.kept), so that the keeper, looking for who still holds a
 * removed file whose holder was killed, passes them over. Not seen: a
 * program's own io_uring reads at the file position, which move an
 * offset no wrapper sees.
 *
 * A slot's word is its state and generation, changed by compare-and-swap:
 * FREE -> BUSY -> IDLE (kept) -> BUSY -> LENT (a program fd has it) ->
 * BUSY (its last user closed) -> IDLE or FREE. BUSY belongs to the thread
 * that set it, and only that thread writes the slot's other fields. A
 * lent fd's table entry records the slot and its generation (REF): a slot
 * freed meanwhile (a lock, a fork) has moved on, and the fd is a plain one.
 */
#include "shim.h"
#include "sys.h"

enum { L_FREE, L_BUSY, L_IDLE, L_LENT };
#define W(gen, st) ((uint32_t)(gen) << 2 | (uint32_t)(st))
#define STATE(w) ((w) & 3)
#define GEN(w) ((w) >> 2)
/* an fd entry's reference: slot + 1 in the low 3 bits, generation above */
#define REF(k, gen) ((uint32_t)(gen) << 3 | (uint32_t)((k) + 1))
#define REF_SLOT(r) ((int)((r) & 7) - 1)
#define REF_GEN(r) ((r) >> 3)
_Static_assert(MS_LEND_SLOTS < 8, "a slot index fits REF's 3 bits");

/* The status flags a re-open gives a description (core/memfd.c). */
#define KEY_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC)

#define LD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define SET(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* fields other threads glance at without owning the slot (fd, ino, key) */
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define POKE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

struct slot {
	uint32_t w;       /* [atomic] state and generation */
	int fd;           /* [BUSY, PEEK] the kept description; -1 when FREE */
	ms_ino ino;       /* [BUSY, PEEK] its file */
	uint64_t ino_no;  /* [BUSY] ... and that file's st_ino (slots are reused) */
	int key;          /* [BUSY, PEEK] its status flags (KEY_FLAGS) */
	uint32_t users;   /* [atomic] program fds on it while LENT */
	uint32_t dirty;   /* [atomic] its offset may not be 0 */
	uint32_t spoilt;  /* [atomic] not to be kept once its users are gone */
	int kref;         /* [BUSY] its entry in the store's table + 1 (ms_kept_add) */
};

MS_STARTUP static struct slot slot[MS_LEND_SLOTS] = {
	[0 ... MS_LEND_SLOTS - 1] = {.fd = -1},
};
/* The files of the last few closes that kept nothing: a file closed again
 * while it is here is kept. A hint, read and written without a lock. */
MS_STARTUP static ms_ino seen[4];
MS_STARTUP static unsigned seen_at, victim;
/* ms_open_route's: lending allowed for this thread's open; what it lent */
static __thread uint8_t allow;
static __thread uint32_t taken;

static int take_busy(struct slot *l, uint32_t *w, int state)
{
	*w = LD(&l->w);
	return STATE(*w) == (uint32_t)state &&
	       __atomic_compare_exchange_n(&l->w, w, W(GEN(*w), L_BUSY), 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

/* BUSY slot l (generation gen) closes its description and becomes FREE. */
static void release(struct slot *l, uint32_t gen, int count)
{
	ms_kept_del(ms_shim.store, l->kref); /* before the fd goes (arena.h) */
	l->kref = 0;
	if (l->fd >= 0)
		sys_close(l->fd);
	if (count)
		ms_lend_gone(ms_shim.store, l->ino, l->ino_no);
	POKE(l->fd, -1);
	SET(&l->w, W(gen + 1, L_FREE));
}

void ms_lend_allow(void)
{
	allow = 1;
	taken = 0;
}

uint32_t ms_lend_taken(void)
{
	uint32_t t = taken;
	allow = 0;
	taken = 0;
	return t;
}

int ms_lend_take(ms_ino ino, uint64_t ino_no, int oflags)
{
	if (!allow || (oflags & O_PATH))
		return -1;
	int key = oflags & KEY_FLAGS;
	for (int k = 0; k < MS_LEND_SLOTS; k++) {
		struct slot *l = &slot[k];
		uint32_t w;
		if (PEEK(l->ino) != ino || !take_busy(l, &w, L_IDLE))
			continue;
		if (l->ino_no != ino_no) {
			/* a removed file's, whose slot this file reuses: of no
			 * use, and in the way of keeping this one (kept_already);
			 * its count went with that file (no ms_lend_gone, which
			 * takes ns_lock, held here) */
			release(l, GEN(w), 0);
			continue;
		}
		if (l->key != key) {
			SET(&l->w, w); /* back to IDLE: other flags */
			continue;
		}
		int fd = sys_fcntl(l->fd, (oflags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
		if (fd >= 0 && LD(&l->dirty) && sys_lseek(fd, 0, SEEK_SET) < 0) {
			sys_close(fd);
			fd = -1;
		}
		if (fd < 0) {
			SET(&l->w, w); /* EMFILE: the re-open says so too */
			return -1;
		}
		SET(&l->dirty, 0);
		SET(&l->spoilt, 0);
		SET(&l->users, 1);
		SET(&l->w, W(GEN(w), L_LENT));
		taken = REF(k, GEN(w));
		return fd;
	}
	return -1;
}

/* The slot of a lent fd's reference while it is still that lending. */
static struct slot *lent(uint32_t ref)
{
	if (!ref)
		return NULL;
	struct slot *l = &slot[REF_SLOT(ref)];
	return LD(&l->w) == W(REF_GEN(ref), L_LENT) ? l : NULL;
}

void ms_lend_dup(struct ms_fd *e)
{
	struct slot *l = lent(e->lend);
	if (l)
		__atomic_add_fetch(&l->users, 1, __ATOMIC_ACQ_REL);
	else
		e->lend = 0;
}

int ms_fd_moved(struct ms_fd *e)
{
	if (LD(&e->how) & MS_FD_MOVED)
		return 0;
	uint32_t was = __atomic_fetch_or(&e->how, MS_FD_MOVED, __ATOMIC_RELAXED);
	struct slot *l = lent(e->lend);
	if (l)
		SET(&l->dirty, 1);
	return !(was & (MS_FD_MOVED | MS_FD_DUPED | MS_FD_SHARED | MS_FD_LOWER));
}

void ms_fd_spoil(struct ms_fd *e)
{
	__atomic_or_fetch(&e->how, MS_FD_SPOILT, __ATOMIC_RELAXED);
	struct slot *l = lent(e->lend);
	if (l)
		SET(&l->spoilt, 1);
}

/* A slot to keep a new description in, BUSY, with its generation; the
 * oldest kept one goes when none is free. -1: all are lent or busy. */
static int claim(uint32_t *gen)
{
	uint32_t w;
	for (int k = 0; k < MS_LEND_SLOTS; k++)
		if (take_busy(&slot[k], &w, L_FREE)) {
			*gen = GEN(w);
			return k;
		}
	for (int n = 0; n < MS_LEND_SLOTS; n++) {
		int k = (int)(__atomic_fetch_add(&victim, 1, __ATOMIC_RELAXED) % MS_LEND_SLOTS);
		if (take_busy(&slot[k], &w, L_IDLE)) {
			release(&slot[k], GEN(w), 1);
			if (take_busy(&slot[k], &w, L_FREE)) {
				*gen = GEN(w);
				return k;
			}
		}
	}
	return -1;
}

/* 1 when a slot keeps or lends a description of ino with flags key
 * already: one is enough. */
static int kept_already(ms_ino ino, int key)
{
	for (int k = 0; k < MS_LEND_SLOTS; k++) {
		uint32_t st = STATE(LD(&slot[k].w));
		if ((st == L_IDLE || st == L_LENT) && PEEK(slot[k].ino) == ino &&
		    PEEK(slot[k].key) == key)
			return 1;
	}
	return 0;
}

static int seen_before(ms_ino ino)
{
	for (int i = 0; i < 4; i++)
		if (__atomic_load_n(&seen[i], __ATOMIC_RELAXED) == ino)
			return 1;
	unsigned at = __atomic_fetch_add(&seen_at, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&seen[at % 4], ino, __ATOMIC_RELAXED);
	return 0;
}

/* Keeps the description of fd (entry e, still open) if it may be: its
 * reference goes back either way. */
static void keep(int fd, struct ms_fd *e, uint32_t how)
{
	ms_store *s = ms_shim.store;
	uint32_t gen;
	int k = -1;
	if (!(e->oflags & O_PATH) &&
	    !(how & (MS_FD_SHARED | MS_FD_LOWER | MS_FD_TMPFILE | MS_FD_DUPED | MS_FD_SPOILT)) &&
	    seen_before(e->ino) && !kept_already(e->ino, e->oflags & KEY_FLAGS))
		k = claim(&gen);
	if (k < 0) {
		ms_ino_put(s, e->ino);
		return;
	}
	struct slot *l = &slot[k];
	POKE(l->fd, sys_fcntl(fd, F_DUPFD_CLOEXEC, ms_fd_private_base()));
	uint64_t no = 0, kino = 0;
	if (l->fd < 0) {
		ms_ino_put(s, e->ino);
		release(l, gen, 0);
		return;
	}
	if (!ms_ino_put_lend(s, e->ino, 0, &no, &kino)) {
		release(l, gen, 0);
		return;
	}
	POKE(l->ino, e->ino);
	l->ino_no = no;
	/* Listed as kept, not a use of the file: an orphan it is all that
	 * holds goes, as it would on tmpfs (keeper/rounds.c). */
	l->kref = ms_kept_add(s, ms_shim.pid, l->fd, kino);
	if (!l->kref) {
		release(l, gen, 1); /* the list is full: not kept */
		return;
	}
	POKE(l->key, e->oflags & KEY_FLAGS);
	SET(&l->dirty, (how & MS_FD_MOVED) != 0);
	SET(&l->spoilt, 0);
	SET(&l->users, 0);
	SET(&l->w, W(gen, L_IDLE));
}

void ms_lend_put(int fd, struct ms_fd *e, int open)
{
	ms_store *s = ms_shim.store;
	uint32_t how = LD(&e->how);
	struct slot *l = lent(e->lend);
	/* Another process has (or had) this description, and may have taken
	 * its reference late or never (a child before its fork handler, a
	 * program without the shim): the file's memfd never serves another
	 * file once it goes. */
	if (how & MS_FD_SHARED)
		ms_ino_escaped(s, e->ino);
	if (!l) {
		if (open)
			keep(fd, e, how);
		else
			ms_ino_put(s, e->ino);
		return;
	}
	if (how & (MS_FD_SHARED | MS_FD_SPOILT))
		SET(&l->spoilt, 1);
	uint32_t w = W(REF_GEN(e->lend), L_LENT);
	if (__atomic_sub_fetch(&l->users, 1, __ATOMIC_ACQ_REL) ||
	    !__atomic_compare_exchange_n(&l->w, &w, W(GEN(w), L_BUSY), 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED)) {
		ms_ino_put(s, e->ino);
		return;
	}
	uint64_t no, kino;
	if (LD(&l->spoilt)) {
		ms_ino_put(s, e->ino);
		release(l, GEN(w), 1);
	} else if (ms_ino_put_lend(s, e->ino, 1, &no, &kino)) {
		SET(&l->w, W(GEN(w), L_IDLE));
	} else {
		release(l, GEN(w), 0); /* the count went back with the put */
	}
}

/* Closes the kept descriptions of file ino (0: any file) kept in fd (-1:
 * any fd). */
static void drop(ms_ino ino, int fd)
{
	for (int k = 0; k < MS_LEND_SLOTS; k++) {
		struct slot *l = &slot[k];
		uint32_t w;
		if ((ino && PEEK(l->ino) != ino) || (fd >= 0 && PEEK(l->fd) != fd))
			continue;
		if (take_busy(l, &w, L_IDLE) || take_busy(l, &w, L_LENT))
			release(l, GEN(w), 1);
	}
}

void ms_lend_lock(ms_ino ino) { drop(ino, -1); }

void ms_lend_drop_all(void) { drop(0, -1); }

int ms_lend_hidden(int fd)
{
	if (fd < 0)
		return 0;
	for (int k = 0; k < MS_LEND_SLOTS; k++)
		if (STATE(LD(&slot[k].w)) != L_FREE && PEEK(slot[k].fd) == fd)
			return 1;
	return 0;
}

int ms_lend_fds(unsigned first, unsigned last, int *out)
{
	int n = 0;
	for (int k = 0; k < MS_LEND_SLOTS; k++) {
		int fd = PEEK(slot[k].fd);
		if (STATE(LD(&slot[k].w)) != L_FREE && fd >= 0 && (unsigned)fd >= first &&
		    (unsigned)fd <= last)
			out[n++] = fd;
	}
	return n;
}

void ms_lend_evict(int fd)
{
	if (!ms_in_vfork_child()) /* its copy goes with the dup2; the parent keeps its own */
		drop(0, fd);
}

void ms_lend_fork_child(void)
{
	/* The parent keeps its own; the copies here go, uncounted. A slot
	 * another thread of the parent had BUSY is dropped the same way. */
	for (int k = 0; k < MS_LEND_SLOTS; k++) {
		struct slot *l = &slot[k];
		uint32_t w = l->w;
		if (STATE(w) != L_FREE && l->fd >= 0)
			sys_close(l->fd);
		l->fd = -1;
		l->kref = 0; /* the parent's entry */
		l->w = W(GEN(w) + 1, L_FREE);
	}
}
