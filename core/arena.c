/* core/arena.c — the shared arena: its size and layout, robust locks and
 * the slot allocators, and the hash index of directory entries.
 *
 * Every array is sized at creation; a slot index of 0 means "none", so each
 * array has nslots + 1 entries. Slots are taken from a bump index first and
 * from a free list once the bump index is exhausted, so a store that never
 * uses a slot never touches its page.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "arena.h"
#include "sys.h"

#define ALIGN64(x) (((x) + 63) & ~(uint64_t)63)

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	if (n > 1u << 31)
		return 1u << 31; /* longer chains past two thousand million nodes */
	while (p < n)
		p <<= 1;
	return p;
}

/* The memfd index's buckets: one a slot (a power of two), so its chains
 * stay about one inode long. */
static uint32_t kbuckets_for(uint32_t nslots)
{
	return pow2_at_least(nslots);
}

uint64_t ms_arena_size(uint64_t max_bytes, uint64_t max_nodes, uint32_t *nslots,
		       uint32_t *nblocks, uint32_t *nxblocks, uint32_t *nbuckets)
{
	/* Slots for every node the limit allows, however many: a store is never
	 * refused below its node limit (an arena too big to make fails the
	 * creation instead). Only a store without a limit gets the ceiling. */
	uint64_t n = max_nodes ? max_nodes : MS_NODES_CEILING;
	*nslots = (uint32_t)n + MS_EXTRA_SLOTS;
	/* Two blocks a node: enough for an average symlink target of 500
	 * bytes on every node; a longer average runs out with ENOSPC. */
	uint64_t nb = (uint64_t)*nslots * 2;
	*nblocks = nb < UINT32_MAX - 1 ? (uint32_t)nb : UINT32_MAX - 1;
	/* Attributes: every block is charged, so a pool of quota / MS_BLOCK
	 * blocks runs out only after the quota; the ceiling bounds the arena
	 * of a large or unlimited store (then ENOSPC when the pool is full). */
	uint64_t x = max_bytes ? max_bytes / MS_BLOCK : MS_XBLOCKS_CEILING;
	*nxblocks = (uint32_t)(x < MS_XBLOCKS_CEILING ? x : MS_XBLOCKS_CEILING);
	/* Two buckets a slot at least (a power of two): chains stay under
	 * half an entry long on average when every slot is used, so a stat
	 * in a directory of a million entries walks as few entries, each a
	 * likely cache miss, as one of a thousand. */
	*nbuckets = pow2_at_least(*nslots > 1u << 30 ? *nslots : *nslots * 2);
	uint64_t off = ALIGN64(sizeof(struct ms_hdr));
	off += ALIGN64((uint64_t)(*nslots + 1) * MS_NODE_STRIDE); /* inode and entry slots */
	off += ALIGN64((uint64_t)(*nblocks + 1) * sizeof(struct ms_block));
	off += ALIGN64((uint64_t)*nbuckets * sizeof(uint32_t));
	off += ALIGN64((uint64_t)(*nslots + 1) * sizeof(int32_t));
	off += ALIGN64((uint64_t)(*nxblocks + 1) * sizeof(struct ms_block));
	off += ALIGN64((uint64_t)kbuckets_for(*nslots) * sizeof(uint32_t));
	return (off + MS_PAGE - 1) & ~(uint64_t)(MS_PAGE - 1);
}

/* pthread_mutex_lock of one of the store's robust mutexes, which also comes
 * back when the owner died without the kernel marking the mutex so. The
 * kernel marks a dead thread's robust mutexes (FUTEX_OWNER_DIED, and the
 * next locker gets EOWNERDEAD) by walking the list glibc keeps; a task that
 * never registered one does not have it walked. So a waiter looks at the
 * owner every second: a thread that no longer exists gets its mutex marked
 * as the kernel would have (the owner's tid cleared, FUTEX_OWNER_DIED set,
 * one waiter woken), and the lock is taken with EOWNERDEAD, repaired by the
 * caller as any other dead holder's. An owner in another pid namespace
 * reads as dead here: the tree is one namespace. This does not cover a
 * vfork child (nor a clone child without glibc's fork): glibc writes the
 * tid it keeps for the thread, which there is the parent's, so a lock such
 * a child dies holding reads as the living parent's (checked: glibc 2.36).
 * Nor a slot's data lock whose mutex was never made (zeros are glibc's
 * plain kind, whose word holds 1 or 2, not a tid): ms_inode_alloc makes
 * it before the slot can be used. */
int ms_robust_lock(pthread_mutex_t *m)
{
#ifdef __SANITIZE_THREAD__
	/* TSan's interceptor of pthread_mutex_timedlock does not record a lock
	 * taken with EOWNERDEAD (its pthread_mutex_lock does), and then calls
	 * the unlock a wrong one: the TSan build waits as it always did. */
	return pthread_mutex_lock(m);
#endif
	int r = pthread_mutex_trylock(m); /* the common case: no clock read */
	if (r != EBUSY)
		return r;
	for (;;) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 1;
		r = pthread_mutex_timedlock(m, &t);
		if (r != ETIMEDOUT)
			return r;
		unsigned *word = (unsigned *)&m->__data.__lock;
		unsigned v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		long tid = (long)(v & FUTEX_TID_MASK);
		if (!tid || (v & FUTEX_OWNER_DIED) || MS_SYSCALL(SYS_kill, tid, 0) != -ESRCH)
			continue;
		unsigned dead = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
		if (__atomic_compare_exchange_n(word, &v, dead, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			MS_SYSCALL(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}

void ms_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static uint32_t name_seed(const char *name)
{
	uint32_t h = 2166136261u;
	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

/* The bracketed word of a sysfs setting ("always [never] deny"), or "" when
 * it cannot be read; -ENOENT when the file does not exist. */
static int thp_setting(const char *path, char *word, size_t n)
{
	char buf[160];
	word[0] = 0;
	int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	ssize_t k = sys_read(fd, buf, sizeof(buf) - 1);
	sys_close(fd);
	if (k <= 0)
		return 0;
	buf[k] = 0;
	char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
	if (b && (size_t)(b - a - 1) < n) {
		memcpy(word, a + 1, (size_t)(b - a - 1));
		word[b - a - 1] = 0;
	}
	return 0;
}

/* 1 when shmem (so a memfd) never gets a huge page: transparent huge pages
 * are not built in, or shmem's setting is "never" or "deny" and no page
 * size of its own (hugepages-<size>kB, kernel 6.11 on: 8 KiB to 2 MiB on
 * x86-64) says otherwise. Anything unreadable counts as "may". Read with
 * raw calls: internal code never calls a name the shim wraps. */
static int shmem_pages_exact(void)
{
	static const char dir[] = "/sys/kernel/mm/transparent_hugepage";
	char path[128], top[32], w[32];
	snprintf(path, sizeof(path), "%s/shmem_enabled", dir);
	int r = thp_setting(path, top, sizeof(top));
	if (r == -ENOENT || !strcmp(top, "deny"))
		return 1;
	if (r || strcmp(top, "never"))
		return 0;
	for (unsigned kb = 8; kb <= 2048; kb *= 2) {
		snprintf(path, sizeof(path), "%s/hugepages-%ukB/shmem_enabled", dir, kb);
		r = thp_setting(path, w, sizeof(w));
		if (r != -ENOENT && strcmp(w, "never") && strcmp(w, "inherit"))
			return 0;
	}
	return 1;
}

void ms_arena_init(struct ms_store *s, const struct ms_config *cfg, const char *name)
{
	struct ms_hdr *h = s->hdr;
	uint32_t nslots, nblocks, nxblocks, nbuckets;
	uint64_t size = ms_arena_size(cfg->max_bytes, cfg->max_nodes, &nslots, &nblocks, &nxblocks,
				      &nbuckets);

	h->magic = MS_MAGIC;
	h->version = MS_LAYOUT_VERSION;
	h->hdr_size = sizeof(*h);
	h->arena_size = size;
	h->uid = (uint32_t)geteuid();
	h->pages_exact = (uint32_t)shmem_pages_exact();
	/* A device number no real filesystem uses (major 0 is for anonymous
	 * devices, minors this high are not handed out in practice), so
	 * tools comparing st_dev never confuse store and real files. */
	h->dev = makedev(0, 0xf0000 | (name_seed(name) & 0xffff));
	h->nslots = nslots;
	h->nblocks = nblocks;
	h->nbuckets = nbuckets;
	h->nxblocks = nxblocks;
	uint64_t off = ALIGN64(sizeof(struct ms_hdr));
	h->off_inodes = off;
	h->off_dents = off + sizeof(struct ms_inode); /* pairs: arena.h ms_dent_at */
	off += ALIGN64((uint64_t)(nslots + 1) * MS_NODE_STRIDE);
	h->off_blocks = off;
	off += ALIGN64((uint64_t)(nblocks + 1) * sizeof(struct ms_block));
	h->off_buckets = off;
	off += ALIGN64((uint64_t)nbuckets * sizeof(uint32_t));
	h->off_closeq = off;
	off += ALIGN64((uint64_t)(nslots + 1) * sizeof(int32_t));
	h->off_xblocks = off;
	off += ALIGN64((uint64_t)(nxblocks + 1) * sizeof(struct ms_block));
	h->nkbuckets = kbuckets_for(nslots);
	h->off_kbuckets = off;

	h->guard_mode = cfg->guard;
	h->guard_action = cfg->guard_action;
	h->guard_interval_ns = cfg->guard_interval_ns;

	ms_mutex_init(&h->ns_lock);
	ms_mutex_init(&h->ledger_lock);
	ms_mutex_init(&h->keeper_lock);
	h->ledger.max_bytes = cfg->max_bytes;
	h->ledger.max_nodes = cfg->max_nodes;
	h->ledger.quota_errno = cfg->quota_errno ? cfg->quota_errno : ENOSPC;

	h->inode_bump = h->dent_bump = h->block_bump = h->xblock_bump = 1;
	h->next_ino_no = 1;
	strncpy(h->name, name, sizeof(h->name) - 1);
	h->start_ns = ms_now_ns();
	memcpy(h->report, cfg->report, sizeof(h->report));
	memcpy(h->chart, cfg->chart, sizeof(h->chart));
}

/* ---- robust locks ---------------------------------------------------------- */

void ms_lock_failed(int r)
{
	/* ENOTRECOVERABLE: a holder died and the one who took over died too
	 * before marking it consistent. Nothing sane is left to do. */
	ms_log(NULL, MS_LOG_ERROR, "store lock unusable (%s); aborting", strerror(r));
	__builtin_trap();
}

/* Rolls back a ledger change whose maker died between journal and commit. */
static void ledger_rollback(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	if (!h->journal.active)
		return;
	__atomic_store_n(&h->ledger.used_bytes, h->journal.used_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&h->ledger.used_nodes, h->journal.used_nodes, __ATOMIC_RELAXED);
	if (h->journal.ino)
		__atomic_store_n(&ms_inode_at(s, h->journal.ino)->charged, h->journal.charged,
				 __ATOMIC_RELAXED);
	h->journal.active = 0;
	ms_log(s, MS_LOG_WARN, "a process died while changing the ledger; change undone");
}

void ms_ledger_lock(struct ms_store *s)
{
	int r = ms_robust_lock(&s->hdr->ledger_lock);
	if (r == EOWNERDEAD) {
		ledger_rollback(s);
		pthread_mutex_consistent(&s->hdr->ledger_lock);
	} else if (r) {
		ms_lock_failed(r);
	}
}

void ms_ledger_unlock(struct ms_store *s) { pthread_mutex_unlock(&s->hdr->ledger_lock); }

void ms_data_lock(struct ms_store *s, struct ms_inode *in, int fd)
{
	int r = ms_robust_lock(&in->data_lock);
	if (r == EOWNERDEAD) {
		/* A writer died mid-write: what the kernel holds is the truth for
		 * the size; its charge was already made before the write. */
		struct stat st;
		if (fd >= 0 && sys_fstat(fd, &st) == 0)
			__atomic_store_n(&in->size, (uint64_t)st.st_size, __ATOMIC_RELAXED);
		ms_log(s, MS_LOG_WARN, "a process died writing a file; size re-read");
		pthread_mutex_consistent(&in->data_lock);
	} else if (r) {
		ms_lock_failed(r);
	}
}

void ms_data_unlock(struct ms_store *s, struct ms_inode *in)
{
	pthread_mutex_unlock(&in->data_lock);
}

void ms_keeper_lock(struct ms_store *s)
{
	int r = ms_robust_lock(&s->hdr->keeper_lock);
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&s->hdr->keeper_lock); /* rings stay valid */
	else if (r)
		ms_lock_failed(r);
}

void ms_keeper_unlock(struct ms_store *s) { pthread_mutex_unlock(&s->hdr->keeper_lock); }

/* ---- slot allocators (ns_lock) ------------------------------------------------ */

uint32_t ms_inode_alloc(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	uint32_t i;
	if (h->inode_free) {
		i = h->inode_free;
		h->inode_free = ms_inode_at(s, i)->next_free;
	} else if (h->inode_bump <= h->nslots) {
		/* The slot's mutex is made before the bump index passes the slot,
		 * so every slot below the index has a robust, shared data lock.
		 * Made after, a holder of ns_lock killed in between left a slot
		 * below the index with the arena's zeros for a mutex: glibc's
		 * plain process-private kind, which no robust list holds. The
		 * repair put that slot on the free list, and a writer of any file
		 * reusing it that was killed holding its lock wedged every later
		 * taker (the chaos run's watchdog: 'open-trunc' waiting under
		 * ns_lock; ms_robust_lock read the word's 1 or 2 as an owner tid
		 * and found it alive). Killed here, the slot is still above the
		 * index, where nothing else touches it: the next taker makes it
		 * again. */
		i = h->inode_bump;
		MS_DIE_AT("die_inode_fresh");
		ms_mutex_init(&ms_inode_at(s, i)->data_lock);
		__atomic_signal_fence(__ATOMIC_SEQ_CST); /* a kill lands between instructions */
		h->inode_bump = i + 1;
	} else {
		return 0;
	}
	struct ms_inode *in = ms_inode_at(s, i);
	/* A reused slot keeps its mutex as it is: re-initialising a mutex that
	 * a slow process may still be about to touch would be undefined. */
	size_t keep = offsetof(struct ms_inode, data_lock) + sizeof(in->data_lock);
	memset((char *)in + keep, 0, sizeof(*in) - keep);
	in->kfd = -1;
	in->ino_no = h->next_ino_no++;
	return i;
}

void ms_inode_free(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	in->ino_no = 0;
	in->mode = 0;
	in->next_free = s->hdr->inode_free;
	s->hdr->inode_free = i;
}

uint32_t ms_dent_alloc(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	uint32_t i;
	if (h->dent_free) {
		i = h->dent_free;
		h->dent_free = ms_dent_at(s, i)->next;
	} else if (h->dent_bump <= h->nslots) {
		i = h->dent_bump++;
	} else {
		return 0;
	}
	memset(ms_dent_at(s, i), 0, sizeof(struct ms_dent));
	return i;
}

void ms_dent_free(struct ms_store *s, uint32_t i)
{
	struct ms_dent *d = ms_dent_at(s, i);
	d->parent = 0;
	d->ino = 0;
	d->next = s->hdr->dent_free;
	s->hdr->dent_free = i;
}

uint32_t ms_block_alloc(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	uint32_t i;
	if (h->block_free) {
		i = h->block_free;
		h->block_free = ms_block_at(s, i)->next;
	} else if (h->block_bump <= h->nblocks) {
		i = h->block_bump++;
	} else {
		return 0;
	}
	ms_block_at(s, i)->next = 0;
	return i;
}

void ms_block_free(struct ms_store *s, uint32_t i)
{
	ms_block_at(s, i)->next = s->hdr->block_free;
	s->hdr->block_free = i;
}

int ms_xblocks_free(struct ms_store *s, uint32_t n)
{
	return s->hdr->nxblocks - s->hdr->xblocks_used >= n;
}

uint32_t ms_xblock_alloc(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	uint32_t i;
	if (h->xblock_free) {
		i = h->xblock_free;
		h->xblock_free = ms_xblock_at(s, i)->next;
	} else if (h->xblock_bump <= h->nxblocks) {
		i = h->xblock_bump++;
	} else {
		return 0;
	}
	h->xblocks_used++;
	ms_xblock_at(s, i)->next = 0;
	return i;
}

void ms_xblock_free(struct ms_store *s, uint32_t i)
{
	ms_xblock_at(s, i)->next = s->hdr->xblock_free;
	s->hdr->xblock_free = i;
	s->hdr->xblocks_used--;
}

uint64_t ms_xattr_charged(struct ms_store *s, const struct ms_inode *in)
{
	uint64_t b = 0;
	for (uint32_t r = in->xattr, k = 0; r && k <= s->hdr->nxblocks; r = ms_xrec_at(s, r)->next, k++)
		b += (uint64_t)ms_xrec_at(s, r)->nblocks * MS_BLOCK;
	return b;
}

uint64_t ms_xattr_drop_all(struct ms_store *s, struct ms_inode *in)
{
	uint64_t bytes = 0;
	uint32_t r = in->xattr;
	in->xattr = 0;
	while (r) {
		struct ms_xrec *x = ms_xrec_at(s, r);
		uint32_t next = x->next, nb = x->nblocks, b = r;
		bytes += (uint64_t)nb * MS_BLOCK;
		for (uint32_t k = 0; b && k < nb; k++) {
			uint32_t bn = ms_xblock_at(s, b)->next;
			ms_xblock_free(s, b);
			b = bn;
		}
		r = next;
	}
	return bytes;
}

/* ---- directory entry index (ns_lock) ----------------------------------------- */

uint32_t ms_name_hash(uint32_t parent, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ parent;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h ^ (h >> 15);
}

uint32_t ms_dent_find(struct ms_store *s, uint32_t parent, const char *name, size_t len)
{
	uint32_t hash = ms_name_hash(parent, name, len);
	uint32_t d = ms_buckets(s)[hash & (s->hdr->nbuckets - 1)];
	while (d) {
		struct ms_dent *e = ms_dent_at(s, d);
		if (e->hash == hash && e->parent == parent && e->namelen == len &&
		    memcmp(e->name, name, len) == 0)
			return d;
		d = e->hnext;
	}
	return 0;
}

/* Puts d (parent and name set) on its hash chain. */
void ms_dent_hash_insert(struct ms_store *s, uint32_t d)
{
	struct ms_dent *e = ms_dent_at(s, d);
	e->hash = ms_name_hash(e->parent, e->name, e->namelen);
	uint32_t *b = &ms_buckets(s)[e->hash & (s->hdr->nbuckets - 1)];
	e->hnext = *b;
	*b = d;
}

/* ---- memfd index (ns_lock) ---------------------------------------------------- */

static uint32_t *kbucket(struct ms_store *s, uint64_t kino)
{
	/* Fibonacci hashing: the kernel hands out inode numbers in runs */
	uint32_t bits = (uint32_t)__builtin_ctz(s->hdr->nkbuckets);
	uint64_t k = (kino * 0x9e3779b97f4a7c15ull) >> (bits ? 64 - bits : 63);
	return &ms_kbuckets(s)[bits ? k : 0];
}

void ms_kino_link(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	uint32_t *b = kbucket(s, in->memfd_ino);
	in->knext = *b;
	*b = i;
}

void ms_kino_unlink(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	uint32_t *p = kbucket(s, in->memfd_ino);
	while (*p && *p != i)
		p = &ms_inode_at(s, *p)->knext;
	if (*p)
		*p = in->knext;
	in->knext = 0;
}

uint32_t ms_kino_find(struct ms_store *s, uint64_t kino)
{
	for (uint32_t i = *kbucket(s, kino); i; i = ms_inode_at(s, i)->knext) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (in->memfd_ino == kino && ms_kino_indexed(in))
			return i;
	}
	return 0;
}

void ms_kino_rebuild(struct ms_store *s)
{
	memset(ms_kbuckets(s), 0, (size_t)s->hdr->nkbuckets * sizeof(uint32_t));
	for (uint32_t i = 1; i < s->hdr->inode_bump; i++)
		if (ms_kino_indexed(ms_inode_at(s, i)))
			ms_kino_link(s, i);
}

/* Appends d to its parent's sibling list, keeping the directory's counts;
 * its cookie (seq) is the caller's. */
void ms_dent_list_append(struct ms_store *s, uint32_t d)
{
	struct ms_dent *e = ms_dent_at(s, d);
	struct ms_inode *dir = ms_inode_at(s, e->parent);
	e->prev = dir->last;
	e->next = 0;
	if (dir->last)
		ms_dent_at(s, dir->last)->next = d;
	else
		dir->first = d;
	dir->last = d;
	dir->nentries++;
	if (e->seq > dir->next_seq)
		dir->next_seq = e->seq;
}

void ms_dent_name(struct ms_store *s, uint32_t e, uint32_t ino)
{
	struct ms_dent *d = ms_dent_at(s, e);
	d->ino = ino;
	d->type = ms_dtype(ms_inode_at(s, ino)->mode);
}

void ms_dent_attach(struct ms_store *s, uint32_t e, uint32_t dir, const char *name, size_t len,
		    uint32_t ino)
{
	struct ms_dent *d = ms_dent_at(s, e);
	struct ms_inode *c = ms_inode_at(s, ino);
	/* Everything the repair keeps an entry by (a whole name, a cookie)
	 * before the parent, which makes a slot from ms_dent_alloc (parent
	 * 0) an entry. With the parent first and the cookie set when linked,
	 * a holder of ns_lock killed in between left an entry the repair
	 * kept and listed with sequence 0 — cookie 2, the one ".." answers,
	 * so readdir never returned it and its node was held for ever (the
	 * chaos run's final check: a symlink named by NUL bytes, the name
	 * not yet copied). Killed before the parent, the slot is free to the
	 * repair; after, the entry is whole and the repair links it. */
	ms_dent_name(s, e, ino);
	d->namelen = (uint16_t)len;
	MS_DIE_AT("die_dent_len");
	memcpy(d->name, name, len);
	d->name[len] = 0;
	d->seq = ms_inode_at(s, dir)->next_seq + 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* a kill lands between instructions */
	d->parent = dir;
	MS_DIE_AT("die_dent_parent");
	ms_dent_hash_insert(s, e);
	ms_dent_list_append(s, e);
	if (S_ISDIR(c->mode)) {
		ms_inode_at(s, dir)->nlink++;
		c->parent = dir;
		c->dent = e;
	} else if (!c->dent) {
		c->dent = e; /* a file's first name kept: ms_node_path */
	}
}

int ms_path_up(struct ms_store *s, uint32_t i, uint32_t stop, char *out, size_t n,
	       uint32_t *top)
{
	uint32_t root = s->hdr->root, depth = 0;
	size_t pos = n - 1;
	out[pos] = 0;
	while (i != root && !(ms_inode_at(s, i)->flags & stop)) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->dent || ++depth > s->hdr->nslots)
			return -ENOENT;
		struct ms_dent *d = ms_dent_at(s, in->dent);
		if (pos < (size_t)d->namelen + 1)
			return -ERANGE;
		pos -= d->namelen;
		memcpy(out + pos, d->name, d->namelen);
		out[--pos] = '/';
		i = d->parent;
	}
	*top = i;
	return (int)pos;
}

void ms_dent_unlink(struct ms_store *s, uint32_t d)
{
	struct ms_dent *e = ms_dent_at(s, d);
	struct ms_inode *dir = ms_inode_at(s, e->parent);
	uint32_t *p = &ms_buckets(s)[e->hash & (s->hdr->nbuckets - 1)];
	while (*p != d)
		p = &ms_dent_at(s, *p)->hnext;
	*p = e->hnext;
	if (e->prev)
		ms_dent_at(s, e->prev)->next = e->next;
	else
		dir->first = e->next;
	if (e->next)
		ms_dent_at(s, e->next)->prev = e->prev;
	else
		dir->last = e->prev;
	dir->nentries--;
	e->hnext = e->prev = e->next = 0;
}

int64_t ms_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
