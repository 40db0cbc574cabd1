/* core/repair.c — putting the arena back together after a process died in
 * the middle of changing it, and the keeper's reconciliation rounds.
 *
 * A process killed while holding ns_lock may have left any namespace
 * operation half done: an entry taken but not linked, linked into the hash
 * but not the sibling list, an inode without a name, counts off by one. The
 * next process to take the lock rebuilds every derived structure from the
 * slots themselves — hash chains, sibling lists, link counts, directory
 * parents, free lists, the orphan list, the ledger — keeping what the slots
 * say. The operation that was cut short is then either done or undone as a
 * whole at the level of names (an entry exists or it does not), and nothing
 * leaks.
 *
 * The keeper's rounds (under a trylock, so they never wait on a process that
 * waits on the keeper) reclaim orphans whose memfd no live process holds any
 * more (their references died with a killed process) and measure bytes that
 * reached a memfd past the ledger (raw syscalls, static binaries).
 */
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "keeper.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static void *scratch(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static struct ms_store *cmp_store; /* qsort has no context argument */

static int by_parent_seq(const void *a, const void *b)
{
	const struct ms_dent *x = ms_dent_at(cmp_store, *(const uint32_t *)a);
	const struct ms_dent *y = ms_dent_at(cmp_store, *(const uint32_t *)b);
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int live_dir(struct ms_store *s, uint32_t i)
{
	return i && i <= s->hdr->nslots && ms_inode_at(s, i)->ino_no &&
	       S_ISDIR(ms_inode_at(s, i)->mode);
}

/* Frees inode i with what it holds; its entries are already gone. */
static void free_inode(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	int32_t kfd = in->kfd;
	in->kfd = -1;
	if (S_ISREG(in->mode) && kfd >= 0)
		ms_data_drop(s, kfd);
	in->link = in->nblocks = 0; /* blocks are re-collected below */
	in->ino_no = 0;
	in->mode = 0;
	in->flags = 0;
}

void ms_repair(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	uint32_t n = h->nslots + 1;
	uint32_t *order = scratch((size_t)n * sizeof(uint32_t));
	uint32_t *links = scratch((size_t)n * sizeof(uint32_t));
	uint32_t *subdirs = scratch((size_t)n * sizeof(uint32_t));
	size_t nbu = (size_t)h->nblocks + 1 > n ? (size_t)h->nblocks + 1 : n;
	uint8_t *blockused = scratch(nbu);
	if (!order || !links || !subdirs || !blockused) {
		ms_log(s, MS_LOG_ERROR, "no memory to repair the store; recounting the ledger only");
		ms_ledger_recompute(s);
		goto out;
	}

	/* 1. Entries that name a live inode from a live directory, one name
	 * per directory, and no two alike: kept; the rest freed. */
	uint32_t nd = 0;
	for (uint32_t d = 1; d < h->dent_bump; d++) {
		struct ms_dent *e = ms_dent_at(s, d);
		if (!e->parent)
			continue;
		int ok = live_dir(s, e->parent) && e->ino && e->ino <= h->nslots &&
			 ms_inode_at(s, e->ino)->ino_no && e->namelen >= 1 &&
			 e->namelen <= MS_NAME_MAX && e->name[e->namelen] == 0 &&
			 !memchr(e->name, '/', e->namelen);
		if (!ok) {
			e->parent = 0;
			continue;
		}
		order[nd++] = d;
	}
	cmp_store = s;
	qsort(order, nd, sizeof(uint32_t), by_parent_seq);
	/* Rebuild the hash; a duplicate name keeps its newest entry (the
	 * half-done operation's new name wins over the name it replaced). */
	memset(ms_buckets(s), 0, (size_t)h->nbuckets * sizeof(uint32_t));
	for (int64_t k = (int64_t)nd - 1; k >= 0; k--) {
		uint32_t d = order[k];
		struct ms_dent *e = ms_dent_at(s, d);
		uint32_t dup = ms_dent_find(s, e->parent, e->name, e->namelen);
		struct ms_inode *c = ms_inode_at(s, e->ino);
		/* A directory has one name: the one it points back to, else the
		 * newest. */
		int second_dir_name = S_ISDIR(c->mode) && links[e->ino] > 0;
		if (dup || second_dir_name) {
			e->parent = 0;
			order[k] = 0;
			continue;
		}
		ms_dent_hash_insert(s, d);
		links[e->ino]++;
	}
	/* Only what hangs from "/" stays: a directory that lost its name
	 * half-way (an exchange cut short) must not keep children whose
	 * entries would later point into whatever reuses its slot. */
	uint32_t *start = subdirs; /* borrowed, cleared again below */
	uint8_t *reach = blockused; /* borrowed too: n <= nblocks + 1 */
	uint32_t *queue = links;
	memset(start, 0xff, (size_t)n * sizeof(uint32_t));
	for (int64_t k = (int64_t)nd - 1; k >= 0; k--)
		if (order[k])
			start[ms_dent_at(s, order[k])->parent] = (uint32_t)k;
	memset(reach, 0, (size_t)n);
	uint32_t qh = 0, qt = 0;
	queue[qt++] = h->root;
	reach[h->root] = 1;
	while (qh < qt) {
		uint32_t d = queue[qh++];
		for (uint32_t k = start[d]; k != 0xffffffffu && k < nd; k++) {
			if (!order[k])
				continue;
			struct ms_dent *e = ms_dent_at(s, order[k]);
			if (e->parent != d)
				break;
			if (S_ISDIR(ms_inode_at(s, e->ino)->mode) && !reach[e->ino]) {
				reach[e->ino] = 1;
				queue[qt++] = e->ino;
			}
		}
	}
	int dropped = 0;
	for (uint32_t k = 0; k < nd; k++) {
		if (!order[k])
			continue;
		struct ms_dent *e = ms_dent_at(s, order[k]);
		if (!reach[e->parent]) {
			e->parent = 0;
			order[k] = 0;
			dropped = 1;
		}
	}
	if (dropped) {
		memset(ms_buckets(s), 0, (size_t)h->nbuckets * sizeof(uint32_t));
		for (uint32_t k = 0; k < nd; k++)
			if (order[k])
				ms_dent_hash_insert(s, order[k]);
	}
	memset(subdirs, 0, (size_t)n * sizeof(uint32_t));
	memset(reach, 0, (size_t)n);

	/* 2. Sibling lists in cookie order, counts, directory parents. */
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (in->ino_no && S_ISDIR(in->mode)) {
			in->first = in->last = 0;
			in->nentries = 0;
		}
	}
	memset(links, 0, (size_t)n * sizeof(uint32_t));
	for (uint32_t k = 0; k < nd; k++) {
		uint32_t d = order[k];
		if (!d)
			continue;
		struct ms_dent *e = ms_dent_at(s, d);
		struct ms_inode *c = ms_inode_at(s, e->ino);
		ms_dent_list_append(s, d);
		links[e->ino]++;
		if (S_ISDIR(c->mode)) {
			subdirs[e->parent]++;
			c->parent = e->parent;
			c->dent = d;
		}
	}
	/* 3. Link counts; unnamed inodes become orphans or go. */
	h->orphans = 0;
	__atomic_store_n(&h->norphans, 0, __ATOMIC_RELAXED);
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no)
			continue;
		int skel = (in->flags & (MS_I_SKEL | MS_I_PREFIX)) || i == h->root;
		if (S_ISDIR(in->mode) && (skel || links[i])) {
			in->nlink = 2 + subdirs[i];
			in->flags &= ~MS_I_ORPHAN;
			continue;
		}
		if (!S_ISDIR(in->mode) && links[i]) {
			in->nlink = links[i];
			in->flags &= ~MS_I_ORPHAN;
			continue;
		}
		in->nlink = 0;
		if (S_ISDIR(in->mode))
			in->dent = 0;
		if (in->opens) {
			in->flags |= MS_I_ORPHAN;
			in->next_free = h->orphans;
			h->orphans = i;
			__atomic_add_fetch(&h->norphans, 1, __ATOMIC_RELAXED);
		} else {
			free_inode(s, i);
		}
	}
	/* 4. Free lists from the slots, symlink blocks by their chains. */
	h->inode_free = 0;
	for (uint32_t i = h->inode_bump - 1; i >= 1; i--) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (in->ino_no)
			continue;
		in->next_free = h->inode_free;
		h->inode_free = i;
	}
	h->dent_free = 0;
	for (uint32_t d = h->dent_bump - 1; d >= 1; d--) {
		struct ms_dent *e = ms_dent_at(s, d);
		if (e->parent)
			continue;
		e->ino = 0;
		e->next = h->dent_free;
		h->dent_free = d;
	}
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no || !S_ISLNK(in->mode))
			continue;
		uint32_t b = in->link, k = 0;
		while (b && b < h->block_bump && k < in->nblocks && !blockused[b]) {
			blockused[b] = 1;
			b = ms_block_at(s, b)->next;
			k++;
		}
		if (k != in->nblocks) {
			/* a target cut short: the link reads what was kept */
			in->nblocks = k;
			if (in->size > (uint64_t)k * (MS_BLOCK - 4))
				in->size = (uint64_t)k * (MS_BLOCK - 4);
		}
	}
	h->block_free = 0;
	for (uint32_t b = h->block_bump - 1; b >= 1; b--) {
		if (blockused[b])
			continue;
		ms_block_at(s, b)->next = h->block_free;
		h->block_free = b;
	}
	/* 5. The ledger from what is left. */
	ms_ledger_recompute(s);
out:
	if (order)
		munmap(order, (size_t)n * sizeof(uint32_t));
	if (links)
		munmap(links, (size_t)n * sizeof(uint32_t));
	if (subdirs)
		munmap(subdirs, (size_t)n * sizeof(uint32_t));
	if (blockused)
		munmap(blockused, nbu);
}

/* ---- the keeper's rounds --------------------------------------------------------------- */

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
	uint64_t *ino;
	long n, cap;
	pid_t self;
	int pid;
};

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
	if (fd >= 0 && sys_fstat(fd, &st) == 0)
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
	if (pid <= 0 || pid == h->self)
		return;
	char path[64];
	h->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	each_entry(path, held_fd, h);
	held_maps(h);
}

/* Kernel inode numbers of every store memfd another process holds (an fd
 * or a mapping), sorted. Returns how many, or -1 without /proc. */
static long held_memfds(pid_t self, uint64_t *out, long cap)
{
	int probe = sys_openat(AT_FDCWD, "/proc/self", O_PATH | O_CLOEXEC, 0);
	if (probe < 0)
		return -1;
	sys_close(probe);
	struct held h = {.ino = out, .cap = cap, .self = self};
	each_entry("/proc", held_pid, &h);
	qsort(out, (size_t)h.n, sizeof(uint64_t), cmp_u64);
	return h.n;
}

int ms_reclaim_orphans(struct ms_store *s, int *pending)
{
	struct ms_hdr *h = s->hdr;
	if (!__atomic_load_n(&h->norphans, __ATOMIC_RELAXED))
		return 0; /* directory references of the dead only matter to orphans */
	long cap = 1 << 20;
	uint64_t *held = scratch((size_t)cap * sizeof(uint64_t));
	if (!held)
		return 0;
	/* Orphans made after this point may be held by fds the scan below
	 * has already passed: they wait for the next round. */
	uint64_t before = __atomic_load_n(&h->ops, __ATOMIC_RELAXED);
	long n = held_memfds(getpid(), held, cap);
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
			int32_t kfd = in->kfd;
			in->kfd = -1;
			ms_charge_data(s, in, 0, 0);
			ms_data_drop(s, kfd);
			ms_release_node(s);
			ms_inode_free(s, i);
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
 * such files once the store is over its quota. */
void ms_reconcile_sizes(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	if (ms_ns_trylock(s) != 0)
		return;
	uint64_t over = 0;
	uint64_t max = h->ledger.max_bytes;
	int full = 0;
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no || !S_ISREG(in->mode) || in->kfd < 0)
			continue;
		struct stat st;
		if (sys_fstat(in->kfd, &st))
			continue;
		uint64_t real = ms_page_up((uint64_t)st.st_size), charged = LD(&in->charged);
		if (real > charged)
			over += real - charged;
		/* The size too, when no writer holds the file (a writer sets
		 * it when it finishes). */
		if ((uint64_t)st.st_size != LD(&in->size)) {
			int t = pthread_mutex_trylock(&in->data_lock);
			if (t == EOWNERDEAD)
				pthread_mutex_consistent(&in->data_lock); /* size re-read below */
			if (t == 0 || t == EOWNERDEAD) {
				if (sys_fstat(in->kfd, &st) == 0)
					ST(&in->size, (uint64_t)st.st_size);
				pthread_mutex_unlock(&in->data_lock);
			}
		}
	}
	ST(&h->ledger.uncounted, over);
	full = max && LD(&h->ledger.used_bytes) + over > max;
	if (over && full) {
		/* Past the quota through a way the shim cannot see: files that
		 * hold uncounted bytes may not grow any more, whoever writes. */
		for (uint32_t i = 1; i < h->inode_bump; i++) {
			struct ms_inode *in = ms_inode_at(s, i);
			if (!in->ino_no || !S_ISREG(in->mode) || in->kfd < 0)
				continue;
			struct stat st;
			if (sys_fstat(in->kfd, &st) == 0 &&
			    ms_page_up((uint64_t)st.st_size) > LD(&in->charged))
				sys_fcntl(in->kfd, F_ADD_SEALS, F_SEAL_GROW);
		}
	}
	ms_ns_unlock(s);
}

struct audit {
	uint8_t *used; /* indexed by fd */
	int max;
	int closed;
};

static void audit_fd(void *arg, const char *name)
{
	struct audit *a = arg;
	int fd = atoi(name);
	if (fd <= MS_KEEPER_STATUS_FD || (fd < a->max && a->used[fd]))
		return;
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t k = sys_readlinkat(AT_FDCWD, path, link, sizeof(link) - 1);
	if (k <= 0)
		return;
	link[k] = 0;
	/* Only file memfds: not the arena, not sockets, not /proc. */
	if (strcmp(link, "/memfd:memshim (deleted)") != 0)
		return;
	sys_close(fd);
	a->closed++;
}

int ms_audit_memfds(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	struct audit a = {.max = 1 << 20};
	a.used = scratch((size_t)a.max);
	if (!a.used)
		return 0;
	/* Under both locks nobody is between taking a memfd from the pool
	 * and naming it in an inode (that happens under ns_lock). */
	if (ms_ns_trylock(s) != 0)
		goto out;
	ms_keeper_lock(s);
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (in->ino_no && S_ISREG(in->mode) && in->kfd >= 0 && in->kfd < a.max)
			a.used[in->kfd] = 1;
	}
	for (uint32_t p = h->pool_head; p != h->pool_tail; p++) {
		int32_t fd = h->pool[p % MS_POOL_SLOTS].kfd;
		if (fd >= 0 && fd < a.max)
			a.used[fd] = 1;
	}
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
	for (uint32_t p = h->closeq_head; p != h->closeq_tail; p++) {
		int32_t fd = q[p % (h->nslots + 1)];
		if (fd >= 0 && fd < a.max)
			a.used[fd] = 1;
	}
	each_entry("/proc/self/fd", audit_fd, &a);
	ms_keeper_unlock(s);
	ms_ns_unlock(s);
	if (a.closed)
		ms_log(s, MS_LOG_INFO, "closed %d memfds no file named (left by killed processes)",
		       a.closed);
out:
	munmap(a.used, (size_t)a.max);
	return a.closed;
}
