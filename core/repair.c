/* core/repair.c — ns_lock, the store's robust namespace lock, and putting
 * the arena back together when a process died holding it, in the middle of
 * changing it.
 *
 * A process killed while holding ns_lock may have left any namespace
 * operation half done: an entry taken but not linked, linked into the hash
 * but not the sibling list, an inode without a name, counts off by one. The
 * next process to take the lock rebuilds every derived structure from the
 * slots themselves — hash chains, sibling lists, link counts, directory
 * parents, free lists, the orphan list, the ledger — keeping what the slots
 * say. The operation that was cut short is then either done or undone as a
 * whole at the level of names (an entry exists or it does not), and nothing
 * leaks. That next process is usually a wrapped program, so this is part of
 * libmemshim.so; the keeper's own rounds are keeper/rounds.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"

/* ---- ns_lock ---------------------------------------------------------------- */

void ms_ns_lock(struct ms_store *s)
{
	int r = ms_robust_lock(&s->hdr->ns_lock);
	if (r == EOWNERDEAD) {
		/* The dead holder may have taken slots or charged nodes without
		 * finishing; the counts are rebuilt from the slots themselves. */
		ms_log(s, MS_LOG_WARN, "a process died holding the store lock; repairing");
		ms_repair(s);
		pthread_mutex_consistent(&s->hdr->ns_lock);
	} else if (r) {
		ms_lock_failed(r);
	}
}

int ms_ns_trylock(struct ms_store *s)
{
	int r = pthread_mutex_trylock(&s->hdr->ns_lock);
	if (r == EOWNERDEAD) {
		ms_log(s, MS_LOG_WARN, "a process died holding the store lock; repairing");
		ms_repair(s);
		pthread_mutex_consistent(&s->hdr->ns_lock);
		r = 0;
	}
	return r;
}

void ms_ns_unlock(struct ms_store *s) { pthread_mutex_unlock(&s->hdr->ns_lock); }

/* ---- the repair --------------------------------------------------------------- */

void *ms_scratch(size_t n)
{
	void *p = mmap64(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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

/* A rename its maker died in (ns.c ms_rename) is finished: the entries get
 * what they name at the end of it, and the steps below rebuild the rest
 * from them (hash, lists, link counts, directory parents; the replaced
 * file, unnamed now, becomes an orphan or goes). */
static void finish_rename(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	if (!__atomic_load_n(&h->rename_intent.active, __ATOMIC_ACQUIRE))
		return;
	struct ms_dent *o = ms_dent_at(s, h->rename_intent.odent);
	if (h->rename_intent.exch) {
		ms_dent_name(s, h->rename_intent.odent, h->rename_intent.ni);
		ms_dent_name(s, h->rename_intent.ndent, h->rename_intent.oi);
	} else {
		if (h->rename_intent.ndent)
			ms_dent_at(s, h->rename_intent.ndent)->parent = 0;
		ms_dent_name(s, h->rename_intent.odent, h->rename_intent.oi);
		o->namelen = (uint16_t)h->rename_intent.len;
		memcpy(o->name, h->rename_intent.name, h->rename_intent.len + 1);
		o->seq = ++ms_inode_at(s, h->rename_intent.nd)->next_seq;
		o->parent = h->rename_intent.nd;
	}
	h->rename_intent.active = 0;
	ms_log(s, MS_LOG_WARN, "a process died renaming; the rename was finished");
}

/* Frees inode i with what it holds; its entries are already gone. */
static void free_inode(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	int32_t kfd = in->kfd;
	in->kfd = -1;
	if (S_ISREG(in->mode) && kfd >= 0)
		ms_data_drop(s, kfd, UINT64_MAX);
	else if (ms_is_special(in->mode))
		ms_special_drop(s, in);
	in->link = in->nblocks = 0; /* blocks are re-collected below */
	in->xattr = 0;
	in->ino_no = 0;
	in->mode = 0;
	in->flags = 0;
}

/* Attribute records hang from their inodes; a record cut short by a death
 * (or anything that does not add up) ends its inode's list there. The free
 * list and the count are then rebuilt from what is kept. */
static void repair_xattrs(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	size_t nb = (size_t)h->nxblocks + 1;
	uint8_t *used = ms_scratch(nb);
	if (!used)
		return; /* leaks free blocks only; the ledger still adds up */
	uint32_t taken = 0;
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no)
			continue;
		uint32_t *link = &in->xattr;
		while (*link) {
			uint32_t r = *link, b = r, k = 0;
			struct ms_xrec *x = r < h->xblock_bump ? ms_xrec_at(s, r) : NULL;
			int ok = x && !used[r] && x->namelen >= 1 && x->namelen <= MS_NAME_MAX &&
				 x->vlen <= MS_XATTR_SIZE_MAX &&
				 x->nblocks == ms_xrec_blocks(x->namelen, x->vlen);
			while (ok && k < x->nblocks) {
				if (!b || b >= h->xblock_bump || used[b]) {
					ok = 0;
					break;
				}
				used[b] = 1;
				b = ms_xblock_at(s, b)->next;
				k++;
			}
			if (!ok) {
				/* unmark what this record marked, and end the list */
				for (uint32_t j = 0, c = r; j < k; j++) {
					used[c] = 0;
					c = ms_xblock_at(s, c)->next;
				}
				*link = 0;
				break;
			}
			taken += x->nblocks;
			link = &x->next;
		}
	}
	h->xblock_free = 0;
	for (uint32_t b = h->xblock_bump - 1; b >= 1; b--) {
		if (used[b])
			continue;
		ms_xblock_at(s, b)->next = h->xblock_free;
		h->xblock_free = b;
	}
	h->xblocks_used = taken;
	munmap(used, nb);
}

void ms_repair(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	/* A memfd taken from the pool and not yet named (or un-named and not
	 * yet queued) by the dead holder is found by the keeper's audit. */
	__atomic_store_n(&h->audit_due, 1, __ATOMIC_RELEASE);
	uint32_t n = h->nslots + 1;
	uint32_t *order = ms_scratch((size_t)n * sizeof(uint32_t));
	uint32_t *links = ms_scratch((size_t)n * sizeof(uint32_t));
	uint32_t *subdirs = ms_scratch((size_t)n * sizeof(uint32_t));
	size_t nbu = (size_t)h->nblocks + 1 > n ? (size_t)h->nblocks + 1 : n;
	uint8_t *blockused = ms_scratch(nbu);
	if (!order || !links || !subdirs || !blockused) {
		ms_log(s, MS_LOG_ERROR, "no memory to repair the store; recounting the ledger only");
		/* A rename's record cannot be finished without the rebuild: it
		 * is dropped, never left for a later repair to apply to entries
		 * that have moved on since. */
		h->rename_intent.active = 0;
		ms_ledger_recompute(s);
		goto out;
	}

	finish_rename(s);
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
		} else {
			c->dent = d; /* a lower file's one name (lower.c); another's, a hint */
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
	repair_xattrs(s);
	ms_kino_rebuild(s);
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
