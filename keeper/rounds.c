/* keeper/rounds.c — the keeper's reconciliation rounds: orphans and
 * directory references whose holders died, bytes that reached a memfd past
 * the ledger, memfds no file names.
 *
 * Every round takes ns_lock with a trylock only, so it never waits on a
 * process that waits on the keeper; a round that finds the lock taken is
 * simply tried again at the next one. Who holds a memfd is read from /proc
 * (every process's fds and mappings) through raw system calls.
 */
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "keeper.h"
#include "server.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Calls fn(arg, name) for each entry of directory path, through raw
 * getdents64 (core never calls a name the shim wraps, opendir included). */
static void each_entry(const char *path, void (*fn)(void *, const char *), void *arg)
{
	int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	char buf[8192];
	for (;;) {
		long got = MS_SYSCALL(SYS_getdents64, fd, buf, sizeof(buf));
		if (got <= 0)
			break;
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			if (d->d_name[0] != '.')
				fn(arg, d->d_name);
			off += d->d_reclen;
		}
	}
	sys_close(fd);
}

struct held {
	struct ms_store *s;
	uint64_t *ino;
	long n, cap;
	pid_t self;
	int pid;
	int nkept; /* entries of ms_hdr.kept in use at the start of the look */
};

/* Whether fd of process pid, a memfd of st_ino kino, is a description the
 * shim keeps to lend (ms_hdr.kept): not a use of the file. */
static int kept_fd(const struct held *h, int fd, uint64_t kino)
{
	const struct ms_hdr *hd = h->s->hdr;
	for (int k = 0, seen = 0; k < MS_KEPT && seen < h->nkept; k++) {
		if (!__atomic_load_n(&hd->kept[k].pid, __ATOMIC_ACQUIRE))
			continue;
		seen++;
		if (__atomic_load_n(&hd->kept[k].kino, __ATOMIC_ACQUIRE) == kino &&
		    __atomic_load_n(&hd->kept[k].fd, __ATOMIC_RELAXED) == fd &&
		    __atomic_load_n(&hd->kept[k].pid, __ATOMIC_ACQUIRE) == h->pid)
			return 1;
	}
	return 0;
}

static void held_fd(void *arg, const char *name)
{
	struct held *h = arg;
	char path[96], link[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%s", h->pid, name);
	ssize_t k = sys_readlinkat(AT_FDCWD, path, link, sizeof(link) - 1);
	if (k <= 0 || h->n >= h->cap)
		return;
	link[k] = 0;
	if (strncmp(link, "/memfd:memshim ", 15) != 0)
		return;
	int fd = sys_openat(AT_FDCWD, path, O_PATH | O_CLOEXEC, 0);
	struct stat st;
	if (fd >= 0 && sys_fstat(fd, &st) == 0 && !(h->nkept && kept_fd(h, atoi(name), st.st_ino)))
		h->ino[h->n++] = st.st_ino;
	if (fd >= 0)
		sys_close(fd);
}

/* A mapping outlives the fd it was made from. */
static void held_maps(struct held *h)
{
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/maps", h->pid);
	int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	size_t keep = 0;
	ssize_t got;
	while ((got = sys_read(fd, buf + keep, sizeof(buf) - 1 - keep)) > 0) {
		size_t len = keep + (size_t)got;
		buf[len] = 0;
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			unsigned long long ino;
			/* address perms offset dev inode path */
			if (strstr(line, "/memfd:memshim ") && h->n < h->cap &&
			    sscanf(line, "%*s %*s %*s %*s %llu", &ino) == 1)
				h->ino[h->n++] = ino;
			line = nl + 1;
		}
		keep = len - (size_t)(line - buf);
		memmove(buf, line, keep);
		if (keep >= sizeof(buf) - 1)
			keep = 0;
	}
	sys_close(fd);
}

static void held_pid(void *arg, const char *name)
{
	struct held *h = arg;
	int pid = atoi(name);
	/* The keeper and its holders hold every memfd: not a use. */
	if (pid <= 0 || pid == h->self || ms_holder_pid(h->s, pid))
		return;
	char path[64];
	h->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	each_entry(path, held_fd, h);
	held_maps(h);
}

/* Kernel inode numbers of every store memfd another process holds (an fd
 * or a mapping), sorted. Returns how many, or -1 without /proc. */
static long held_memfds(struct ms_store *s, uint64_t *out, long cap)
{
	int probe = sys_openat(AT_FDCWD, "/proc/self", O_PATH | O_CLOEXEC, 0);
	if (probe < 0)
		return -1;
	sys_close(probe);
	struct held h = {.s = s, .ino = out, .cap = cap, .self = getpid()};
	/* The entries of processes that died go; the others are counted, so
	 * that a look at an fd reads only as many entries as are in use. An
	 * entry claimed after this count may be passed over: its fd then
	 * counts as a holder until the next round. */
	for (int k = 0; k < MS_KEPT; k++) {
		int32_t pid = __atomic_load_n(&s->hdr->kept[k].pid, __ATOMIC_ACQUIRE);
		if (!pid)
			continue;
		if (MS_SYSCALL(SYS_kill, pid, 0) == -ESRCH)
			ms_kept_del(s, k + 1); /* nobody else writes a dead process's entry */
		else
			h.nkept++;
	}
	each_entry("/proc", held_pid, &h);
	qsort(out, (size_t)h.n, sizeof(uint64_t), cmp_u64);
	return h.n;
}

/* Directory references of processes that died go back (keeper, ns_lock
 * held); a removed directory nobody holds any more is freed. */
int ms_reclaim_dirrefs(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	int freed = 0;
	for (int k = 0; k < MS_DIRREFS; k++) {
		int32_t pid = h->dirrefs[k].pid;
		if (!pid)
			continue;
		uint32_t i = h->dirrefs[k].ino;
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no || !S_ISDIR(in->mode)) {
			h->dirrefs[k].pid = 0; /* stale */
			continue;
		}
		long r = MS_SYSCALL(SYS_kill, pid, 0);
		if (r == 0 || r == -EPERM)
			continue;
		h->dirrefs[k].pid = 0;
		if (in->opens)
			in->opens--;
	}
	/* While every directory reference ever taken was recorded, the table
	 * is the truth: a removed directory with no live holder in it goes,
	 * whatever count a holder killed mid-operation left behind. */
	int trusted = !__atomic_load_n(&h->dirrefs_full, __ATOMIC_RELAXED);
	uint32_t *p = &h->orphans;
	while (*p) {
		uint32_t i = *p;
		struct ms_inode *in = ms_inode_at(s, i);
		if (S_ISDIR(in->mode) && trusted) {
			uint32_t held = 0;
			for (int k = 0; k < MS_DIRREFS; k++)
				held += h->dirrefs[k].pid && h->dirrefs[k].ino == i;
			in->opens = held;
		}
		if (S_ISDIR(in->mode) && in->opens == 0) {
			*p = in->next_free;
			__atomic_sub_fetch(&h->norphans, 1, __ATOMIC_RELAXED);
			ms_inode_free_now(s, i);
			freed++;
			continue;
		}
		p = &in->next_free;
	}
	return freed;
}

int ms_reclaim_orphans(struct ms_store *s, int *pending)
{
	struct ms_hdr *h = s->hdr;
	if (!__atomic_load_n(&h->norphans, __ATOMIC_RELAXED))
		return 0; /* directory references of the dead only matter to orphans */
	long cap = 1 << 20;
	uint64_t *held = ms_scratch((size_t)cap * sizeof(uint64_t));
	if (!held)
		return 0;
	/* Orphans made after this point may be held by fds the scan below
	 * has already passed: they wait for the next round. */
	uint64_t before = __atomic_load_n(&h->ops, __ATOMIC_RELAXED);
	long n = held_memfds(s, held, cap);
	int freed = 0;
	if (pending)
		*pending = 0;
	if (n < 0 || ms_ns_trylock(s) != 0)
		goto out;
	freed += ms_reclaim_dirrefs(s);
	uint32_t *p = &h->orphans;
	while (*p) {
		uint32_t i = *p;
		struct ms_inode *in = ms_inode_at(s, i);
		int unheld = S_ISREG(in->mode) && in->next_seq <= before &&
			     !bsearch(&in->memfd_ino, held, (size_t)n, sizeof(uint64_t), cmp_u64);
		/* A live process may be between closing its fd and giving its
		 * reference back: an orphan goes only when two looks in a row
		 * find it unheld with the same count of references. */
		if (unheld && (!(in->flags & MS_I_UNHELD) || in->first != in->opens)) {
			in->flags |= MS_I_UNHELD;
			in->first = in->opens;
			if (pending)
				(*pending)++;
			unheld = 0;
		} else if (!unheld) {
			in->flags &= ~MS_I_UNHELD;
		}
		if (unheld) {
			*p = in->next_free;
			__atomic_sub_fetch(&h->norphans, 1, __ATOMIC_RELAXED);
			in->opens = 0;
			in->flags &= ~MS_I_ORPHAN;
			/* its data, attributes, charge, node and slot */
			ms_inode_free_now(s, i);
			freed++;
			continue;
		}
		p = &in->next_free;
	}
	ms_ns_unlock(s);
out:
	munmap(held, (size_t)cap * sizeof(uint64_t));
	return freed;
}

/* Bytes the kernel holds beyond what each file was charged, and a seal on
 * such files once the store is over its quota.
 *
 * A pass looks at every file, 2 ms of work at a time (a batch): a pass
 * starts when the last one has ended and a second has passed, and a batch
 * runs at most every RECONCILE_GAP_MS (keeper loop) until it is through,
 * so a store of a million files costs the keeper a few percent of a CPU
 * (a pass over a million files, most of them a holder's, fstat'd through
 * /proc at 2-4 us each, takes a few minutes). ns_lock is held only to
 * copy out the next RECONCILE_CHUNK files' handles and, when a file needs
 * it, to set its size or seal it: the fstats themselves run without it (a
 * handle closed meanwhile is seen by its memfd's inode number, which is
 * then not the file's). A chunk is about what a batch can fstat: copying
 * 16,384 inode slots at a time, as the keeper once did, held the lock
 * every process's store calls wait on for 300-450 us a batch (once 25 ms,
 * the keeper preempted while holding it) to use some 500 of them. The
 * uncounted bytes are published at the end of each pass; a file found
 * over its charge while the store is full is sealed by the batch that
 * finds it. */
#define RECONCILE_CHUNK 512
#define RECONCILE_BATCH_NS 2000000
struct rc_file {
	uint32_t slot;
	int32_t kfd;
	uint64_t ino_no, kino, size;
	int fix; /* 1: size differs, 2: seal */
};
static struct {
	uint32_t next;    /* inode slot the pass resumes at; 0 = no pass under way */
	uint32_t bump;    /* the store's inode_bump when the last chunk was copied */
	uint64_t over;    /* uncounted bytes found so far in this pass */
	struct rc_file f[RECONCILE_CHUNK];
} rc;

/* The file is still the one copied out (slot not freed and reused). */
static int rc_same(struct ms_store *s, const struct rc_file *f)
{
	struct ms_inode *in = ms_inode_at(s, f->slot);
	return LD(&in->ino_no) == f->ino_no && LD(&in->kfd) == f->kfd && LD(&in->memfd_ino) == f->kino;
}

/* The next chunk of the pass (a new pass when start and none is under
 * way) into rc.f: its count, or -1 when ns_lock is taken. */
static int rc_copy(struct ms_store *s, int start)
{
	struct ms_hdr *h = s->hdr;
	if (ms_ns_trylock(s) != 0)
		return -1;
	if (!rc.next && start) {
		rc.next = 1;
		rc.over = 0;
	}
	uint32_t i = rc.next, n = 0;
	rc.bump = h->inode_bump;
	for (; i && i < rc.bump && n < RECONCILE_CHUNK; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		/* A stale file (its creator was killed before its first
		 * open emptied the memfd: arena.h, MS_I_STALE) is empty
		 * whatever the kernel says, until that open. */
		if (!in->ino_no || !S_ISREG(in->mode) || in->kfd < 0 || (in->flags & MS_I_STALE))
			continue;
		rc.f[n++] = (struct rc_file){i, in->kfd, in->ino_no, in->memfd_ino, 0, 0};
	}
	rc.next = i;
	ms_ns_unlock(s);
	return (int)n;
}

/* fstats the n files copied out, until the batch that began at t0 has
 * had its time (the pass then resumes at the first file not looked at):
 * how many it looked at. Counts their uncounted bytes into rc.over and
 * marks those that need fixing. */
static uint32_t rc_look(struct ms_store *s, uint32_t n, int64_t t0)
{
	for (uint32_t k = 0; k < n; k++) {
		struct rc_file *f = &rc.f[k];
		/* A batch works RECONCILE_BATCH_NS at most: the keeper answers
		 * requests (an attach, a pool refill) between batches. */
		if ((k & 63) == 63 && ms_now_ns() - t0 > RECONCILE_BATCH_NS) {
			rc.next = f->slot;
			return k;
		}
		struct ms_inode *in = ms_inode_at(s, f->slot);
		struct stat st;
		if (ms_kfd_fstat(s, f->kfd, &st) || (uint64_t)st.st_ino != f->kino || !rc_same(s, f))
			continue;
		/* What the kernel holds (holes cost nothing), as each call
		 * through the shim settles a file's charge. */
		uint64_t real = (uint64_t)st.st_blocks * 512, charged = LD(&in->charged);
		if (real > charged) {
			rc.over += real - charged;
			f->fix |= 2;
		}
		/* The size too, when no writer holds the file (a writer sets
		 * it when it finishes). */
		if ((uint64_t)st.st_size != LD(&in->size))
			f->fix |= 1;
	}
	return n;
}

/* Sets the size of the first n files that need it and, when the store is
 * full, seals those that hold uncounted bytes. */
static void rc_fix(struct ms_store *s, uint32_t n)
{
	struct ms_hdr *h = s->hdr;
	int fixes = 0;
	for (uint32_t k = 0; k < n; k++)
		fixes += rc.f[k].fix != 0;
	/* Full by what this pass has found so far, or the last one did. */
	uint64_t max = h->ledger.max_bytes;
	uint64_t seen = rc.over > LD(&h->ledger.uncounted) ? rc.over : LD(&h->ledger.uncounted);
	int full = max && LD(&h->ledger.used_bytes) + seen > max;
	if (!fixes || ms_ns_trylock(s) != 0)
		return;
	for (uint32_t k = 0; k < n; k++) {
		struct rc_file *f = &rc.f[k];
		struct ms_inode *in = ms_inode_at(s, f->slot);
		if (!f->fix || !rc_same(s, f))
			continue;
		struct stat st;
		if (f->fix & 1) {
			int t = pthread_mutex_trylock(&in->data_lock);
			if (t == EOWNERDEAD)
				pthread_mutex_consistent(&in->data_lock); /* size re-read below */
			if (t == 0 || t == EOWNERDEAD) {
				if (ms_kfd_fstat(s, f->kfd, &st) == 0)
					ST(&in->size, (uint64_t)st.st_size);
				pthread_mutex_unlock(&in->data_lock);
			}
		}
		/* Past the quota through a way the shim cannot see: files
		 * that hold uncounted bytes may not grow any more, whoever
		 * writes. */
		if ((f->fix & 2) && full && ms_kfd_fstat(s, f->kfd, &st) == 0 &&
		    (uint64_t)st.st_blocks * 512 > LD(&in->charged)) {
			/* a seal needs a writable fd */
			int fd = ms_kfd_holder(f->kfd) ? ms_kfd_open(s, f->kfd, O_RDWR) : f->kfd;
			if (fd >= 0)
				sys_fcntl(fd, F_ADD_SEALS, F_SEAL_GROW);
			in->flags |= MS_I_NOREUSE; /* a seal stays */
			if (fd >= 0 && fd != f->kfd)
				sys_close(fd);
		}
	}
	ms_ns_unlock(s);
}

int ms_reconcile_sizes(struct ms_store *s, int start)
{
	if (!rc.next && !start)
		return 0;
	int64_t t0 = ms_now_ns();
	for (;;) {
		int n = rc_copy(s, start);
		if (n < 0)
			return 1; /* the next round */
		start = 0;
		uint32_t k = rc_look(s, (uint32_t)n, t0);
		rc_fix(s, k);
		if (k < (uint32_t)n)
			return 1; /* out of time in the chunk */
		if (rc.next >= rc.bump) {
			rc.next = 0;
			ST(&s->hdr->ledger.uncounted, rc.over);
			return 0;
		}
		if (ms_now_ns() - t0 > RECONCILE_BATCH_NS)
			return 1;
	}
}

/* The memfds of every live file, pool entry and close-queue entry, as
 * sorted handles (ns_lock and keeper_lock held). */
struct audit {
	int32_t *named;
	long n;
	int32_t *close;  /* handles of memfds no one names */
	int nclose, cap;
	uint32_t holder; /* whose /proc/<pid>/fd is being read */
	int pid;
};

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return x < y ? -1 : x > y;
}

static void audit_fd(void *arg, const char *name)
{
	struct audit *a = arg;
	int fd = atoi(name);
	if ((a->holder == 0 && fd <= MS_KEEPER_STATUS_FD) || (a->holder && fd <= 3) ||
	    fd >= 1 << MS_KFD_SHIFT || a->nclose >= a->cap)
		return;
	int32_t kfd = ms_kfd_make(a->holder, fd);
	if (bsearch(&kfd, a->named, (size_t)a->n, sizeof(int32_t), cmp_i32))
		return;
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", a->pid, fd);
	ssize_t k = sys_readlinkat(AT_FDCWD, path, link, sizeof(link) - 1);
	if (k <= 0)
		return;
	link[k] = 0;
	/* Only file memfds: not the arena, not sockets, not /proc. */
	if (strcmp(link, "/memfd:memshim (deleted)") != 0)
		return;
	a->close[a->nclose++] = kfd;
}

int ms_audit_memfds(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	struct audit a = {.cap = 1024};
	int closed = 0;
	size_t bytes =
	    (size_t)(h->nslots + 1 + MS_POOL_SLOTS + h->nslots + 1 + MS_REUSE_SLOTS) * sizeof(int32_t);
	a.named = ms_scratch(bytes);
	a.close = ms_scratch((size_t)a.cap * sizeof(int32_t));
	if (!a.named || !a.close) {
		closed = -ENOMEM;
		goto out;
	}
	/* Under both locks nobody is between taking a memfd from the pool
	 * and naming it in an inode (that happens under ns_lock). */
	if (ms_ns_trylock(s) != 0) {
		closed = -EBUSY;
		goto out;
	}
	ms_keeper_lock(s);
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (in->ino_no && S_ISREG(in->mode) && in->kfd >= 0)
			a.named[a.n++] = in->kfd;
	}
	for (uint32_t p = h->pool_head; p != h->pool_tail; p++)
		if (h->pool[p % MS_POOL_SLOTS].kfd >= 0)
			a.named[a.n++] = h->pool[p % MS_POOL_SLOTS].kfd;
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
	for (uint32_t p = h->closeq_head; p != h->closeq_tail; p++)
		if (q[p % (h->nslots + 1)] >= 0)
			a.named[a.n++] = q[p % (h->nslots + 1)];
	for (uint32_t p = h->reuse_head; p != h->reuse_tail; p++)
		a.named[a.n++] = h->reuse[p % MS_REUSE_SLOTS].kfd;
	qsort(a.named, (size_t)a.n, sizeof(int32_t), cmp_i32);
	uint32_t nh = __atomic_load_n(&h->nholders, __ATOMIC_RELAXED);
	for (a.holder = 0; a.holder < nh; a.holder++) {
		a.pid = a.holder ? h->holders[a.holder].pid : getpid();
		if (!a.pid)
			continue;
		char dir[48];
		snprintf(dir, sizeof(dir), "/proc/%d/fd", a.pid);
		each_entry(dir, audit_fd, &a);
	}
	/* Closed before the locks go: a handle freed now may be made again
	 * by the next fill, and must not be closed twice. */
	ms_holders_close(s, a.close, a.nclose);
	closed = a.nclose;
	ms_keeper_unlock(s);
	ms_ns_unlock(s);
	if (closed)
		ms_log(s, MS_LOG_INFO, "closed %d memfds no file named (left by killed processes)",
		       closed);
out:
	if (a.named)
		munmap(a.named, bytes);
	if (a.close)
		munmap(a.close, (size_t)a.cap * sizeof(int32_t));
	return closed;
}
