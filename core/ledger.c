/* core/ledger.c — the byte and node ledger, named like tmpfs's.
 *
 * max_bytes/used_bytes and max_nodes/used_nodes (0 = unlimited). A byte is
 * charged before it is stored; a reservation that does not fit fails whole
 * and changes nothing but the refusal counters. Each reserve stands next to
 * its release. Changes happen under ledger_lock with the old values in the
 * journal, so a process killed mid-change is rolled back (arena.c) and
 * used_bytes == sum of charges holds at every unlock.
 *
 * A file's data charge follows what the kernel allocates, as tmpfs counts
 * it: before a call that may allocate, the pages it could allocate are
 * reserved (ms_charge_data); after it, the charge is settled to the file's
 * st_blocks (ms_settle_data), so a sparse file is charged its pages, not
 * its size.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "arena.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static void journal_begin(struct ms_store *s, struct ms_inode *in)
{
	struct ms_hdr *h = s->hdr;
	h->journal.used_bytes = LD(&h->ledger.used_bytes);
	h->journal.used_nodes = LD(&h->ledger.used_nodes);
	h->journal.ino = in ? ms_inode_slot(s, in) : 0;
	h->journal.charged = in ? LD(&in->charged) : 0;
	__atomic_store_n(&h->journal.active, 1, __ATOMIC_RELEASE);
}

static void journal_end(struct ms_store *s)
{
	__atomic_store_n(&s->hdr->journal.active, 0, __ATOMIC_RELEASE);
}

/* The record this thread claimed at its last refusal, for naming it once
 * no lock is held (ms_refusal_pending). */
static __thread struct ms_refusal *pending;

void ms_refusal_record(struct ms_store *s, const struct ms_inode *in, uint64_t req,
		       enum ms_refusal_kind kind)
{
	struct ms_hdr *h = s->hdr;
	uint32_t k = __atomic_fetch_add(&h->nrefusals, 1, __ATOMIC_RELAXED);
	if (k >= MS_REFUSALS)
		return; /* counted by the ledger; only the first few in full */
	struct ms_refusal *r = &h->refusals[k];
	r->t_ns = ms_now_ns();
	r->size = req;
	r->pid = (int32_t)MS_SYSCALL(SYS_getpid);
	r->prog = s->prog;
	r->kind = (uint32_t)kind;
	r->ino = in ? ms_inode_slot(s, in) : 0;
	pending = r;
}

struct ms_refusal *ms_refusal_pending(void)
{
	struct ms_refusal *r = pending;
	pending = NULL;
	return r;
}

static void note_refusal(struct ms_store *s, const struct ms_inode *in, uint64_t req,
			 enum ms_refusal_kind kind)
{
	struct ms_ledger *l = &s->hdr->ledger;
	__atomic_add_fetch(&l->refused, 1, __ATOMIC_RELAXED);
	uint64_t cur = LD(&l->largest_refused);
	while (req > cur && !__atomic_compare_exchange_n(&l->largest_refused, &cur, req, 0,
							 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	ms_refusal_record(s, in, req, kind);
}

/* ledger_lock held; *when is the peak's time for the report. */
static void raise_peak(uint64_t *peak, int64_t *when, uint64_t v)
{
	if (v > LD(peak)) {
		ST(peak, v);
		ST(when, ms_now_ns());
	}
}

static uint64_t sub_floor(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* A file's charge moves from `old` to `now` (ledger_lock held): the
 * program that grows a file holds its whole charge from then on, so bytes
 * held follow the last writer (a shell creates `> out`, cat fills it: cat
 * holds it). The keeper and the tools (prog 0) only ever give back. */
static void prog_charge(struct ms_store *s, struct ms_inode *in, uint64_t old, uint64_t now)
{
	struct ms_prog *progs = s->hdr->progs;
	uint32_t p = in->prog;
	if (now > old && s->prog && p != s->prog) {
		if (p)
			ST(&progs[p - 1].held, sub_floor(LD(&progs[p - 1].held), old));
		p = in->prog = s->prog;
		ST(&progs[p - 1].held, LD(&progs[p - 1].held) + old);
	}
	if (!p)
		return;
	struct ms_prog *g = &progs[p - 1];
	uint64_t held = sub_floor(LD(&g->held) + now, old);
	ST(&g->held, held);
	if (held > LD(&g->peak_held))
		ST(&g->peak_held, held);
}

/* Adds n bytes if they fit; ledger_lock held. */
static int add_bytes(struct ms_hdr *h, uint64_t n)
{
	struct ms_ledger *l = &h->ledger;
	uint64_t used = LD(&l->used_bytes);
	if (l->max_bytes && (n > l->max_bytes || used > l->max_bytes - n))
		return -l->quota_errno;
	ST(&l->used_bytes, used + n);
	raise_peak(&l->peak_bytes, &h->peak_bytes_ns, used + n);
	return 0;
}

static void sub_bytes(struct ms_ledger *l, uint64_t n)
{
	ST(&l->used_bytes, LD(&l->used_bytes) - n);
}

int ms_reserve_bytes(struct ms_store *s, uint64_t n)
{
	ms_ledger_lock(s);
	journal_begin(s, NULL);
	int r = add_bytes(s->hdr, n);
	journal_end(s);
	ms_ledger_unlock(s);
	if (r)
		note_refusal(s, NULL, n, MS_REFUSED_BYTES);
	return r;
}

void ms_release_bytes(struct ms_store *s, uint64_t n)
{
	ms_ledger_lock(s);
	journal_begin(s, NULL);
	sub_bytes(&s->hdr->ledger, n);
	journal_end(s);
	ms_ledger_unlock(s);
}

uint32_t ms_prog_attach(struct ms_store *s, const char *name)
{
	struct ms_prog *progs = s->hdr->progs;
	uint32_t k;
	ms_ledger_lock(s);
	for (k = 0; k < MS_PROGS - 1 && progs[k].name[0]; k++)
		if (!strncmp(progs[k].name, name, MS_PROG_NAME - 1))
			break;
	/* the last entry is everyone who came after the table filled */
	if (!progs[k].name[0])
		ms_copy_name(progs[k].name, MS_PROG_NAME, k < MS_PROGS - 1 ? name : "(others)");
	ms_ledger_unlock(s);
	__atomic_add_fetch(&progs[k].procs, 1, __ATOMIC_RELAXED);
	return k + 1;
}

int ms_reserve_node(struct ms_store *s, uint64_t cost)
{
	struct ms_ledger *l = &s->hdr->ledger;
	enum ms_refusal_kind kind = MS_REFUSED_BYTES;
	int r = 0;
	ms_ledger_lock(s);
	journal_begin(s, NULL);
	uint64_t nodes = LD(&l->used_nodes);
	if (l->max_nodes && nodes >= l->max_nodes) {
		r = -ENOSPC;
		kind = MS_REFUSED_NODES;
		goto out;
	}
	r = add_bytes(s->hdr, cost);
	if (r)
		goto out;
	ST(&l->used_nodes, nodes + 1);
	raise_peak(&l->peak_nodes, &s->hdr->peak_nodes_ns, nodes + 1);
out:
	journal_end(s);
	ms_ledger_unlock(s);
	if (r)
		note_refusal(s, NULL, cost, kind);
	return r;
}

void ms_release_node(struct ms_store *s, uint64_t cost)
{
	struct ms_ledger *l = &s->hdr->ledger;
	ms_ledger_lock(s);
	journal_begin(s, NULL);
	ST(&l->used_nodes, LD(&l->used_nodes) - 1);
	sub_bytes(l, cost);
	journal_end(s);
	ms_ledger_unlock(s);
}

int ms_charge_data(struct ms_store *s, struct ms_inode *in, uint64_t charged, uint64_t req)
{
	struct ms_ledger *l = &s->hdr->ledger;
	int r = 0;
	ms_ledger_lock(s);
	uint64_t old = LD(&in->charged);
	if (charged == old)
		goto out;
	journal_begin(s, in);
	if (charged > old)
		r = add_bytes(s->hdr, charged - old);
	else
		sub_bytes(l, old - charged);
	if (r == 0) {
		ST(&in->charged, charged);
		prog_charge(s, in, old, charged);
	}
	journal_end(s);
out:
	ms_ledger_unlock(s);
	if (r && req)
		note_refusal(s, in, req, MS_REFUSED_BYTES);
	return r;
}

void ms_settle_data(struct ms_store *s, struct ms_inode *in, uint64_t held)
{
	struct ms_ledger *l = &s->hdr->ledger;
	/* Only the caller changes this file's charge: no lock to see it is
	 * already right, the common case of an overwrite. */
	if (LD(&in->charged) == held)
		return;
	ms_ledger_lock(s);
	uint64_t old = LD(&in->charged), charged = held;
	journal_begin(s, in);
	if (held > old) {
		/* More than was reserved: pages stored behind the shim's back
		 * (a shared mapping). Charged as far as the quota allows. */
		uint64_t used = LD(&l->used_bytes), add = held - old;
		if (l->max_bytes) {
			uint64_t room = used < l->max_bytes ? l->max_bytes - used : 0;
			if (add > room)
				add = room;
		}
		charged = old + add;
		ST(&l->used_bytes, used + add);
		raise_peak(&l->peak_bytes, &s->hdr->peak_bytes_ns, used + add);
	} else {
		sub_bytes(l, old - held);
	}
	ST(&in->charged, charged);
	prog_charge(s, in, old, charged);
	journal_end(s);
	ms_ledger_unlock(s);
}

/* Nodes: one per live inode outside the skeleton, plus one per extra hard
 * link of a file or symlink. Bytes: the nodes' fixed cost, file charges, symlink
 * blocks, attribute blocks. */
static void ledger_sum(struct ms_store *s, uint64_t *bytes, uint64_t *nodes)
{
	struct ms_hdr *h = s->hdr;
	uint64_t b = 0, n = 0;
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no)
			continue;
		b += ms_xattr_charged(s, in); /* a prefix's own too */
		if ((in->flags & (MS_I_SKEL | MS_I_PREFIX)) || i == h->root)
			continue;
		n++;
		if (!S_ISDIR(in->mode) && in->nlink > 1)
			n += in->nlink - 1; /* extra hard links, of files and symlinks */
		if (S_ISREG(in->mode) && !ms_lower_backed(in)) {
			b += LD(&in->charged) + MS_FILE_COST;
		} else if (S_ISLNK(in->mode)) {
			b += (uint64_t)in->nblocks * MS_BLOCK;
		}
	}
	*bytes = b + n * MS_NODE_COST;
	*nodes = n;
}

void ms_ledger_recompute(struct ms_store *s)
{
	uint64_t b, n;
	ms_ledger_lock(s);
	ledger_sum(s, &b, &n);
	ST(&s->hdr->ledger.used_bytes, b);
	ST(&s->hdr->ledger.used_nodes, n);
	ms_ledger_unlock(s);
}

int ms_ledger_verify(struct ms_store *s, uint64_t *want_bytes, uint64_t *want_nodes)
{
	struct ms_ledger *l = &s->hdr->ledger;
	ms_ledger_lock(s);
	ledger_sum(s, want_bytes, want_nodes);
	int ok = *want_bytes == LD(&l->used_bytes) && *want_nodes == LD(&l->used_nodes) &&
		 (!l->max_bytes || LD(&l->used_bytes) <= l->max_bytes) &&
		 (!l->max_nodes || LD(&l->used_nodes) <= l->max_nodes);
	ms_ledger_unlock(s);
	return ok ? 0 : -EUCLEAN;
}
