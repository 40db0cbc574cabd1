/* core/data.c — file bytes: inode life and death, the references
 * processes hold, and the quota check on every growth.
 *
 * A regular file's bytes live in one memfd (core/memfd.c). Growth is
 * charged in whole pages before the kernel is asked to store anything; the
 * file's data lock keeps growth, shrinking and the recorded size of one file
 * in order.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/mman.h>

#include "arena.h"
#include "keeper.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

void ms_inode_free_now(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	if (S_ISREG(in->mode)) {
		/* The slot forgets its memfd before the keeper is told to close
		 * it: a death in between must not queue it twice. */
		int32_t kfd = in->kfd;
		in->kfd = -1;
		ms_charge_data(s, in, 0, 0);
		ms_data_drop(s, kfd);
	} else if (S_ISLNK(in->mode)) {
		uint32_t b = in->link;
		while (b) {
			uint32_t next = ms_block_at(s, b)->next;
			ms_block_free(s, b);
			b = next;
		}
		ms_release_bytes(s, (uint64_t)in->nblocks * MS_BLOCK);
		in->link = in->nblocks = 0;
	} else if (ms_is_special(in->mode)) {
		ms_special_drop(s, in);
	}
	if (in->xattr)
		ms_release_bytes(s, ms_xattr_drop_all(s, in));
	ms_release_node(s);
	ms_inode_free(s, i);
}

static void orphan_remove(struct ms_store *s, uint32_t i)
{
	uint32_t *p = &s->hdr->orphans;
	while (*p && *p != i)
		p = &ms_inode_at(s, *p)->next_free;
	if (*p) {
		*p = ms_inode_at(s, i)->next_free;
		__atomic_sub_fetch(&s->hdr->norphans, 1, __ATOMIC_RELAXED);
	}
}

void ms_inode_unlinked(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	if (in->opens == 0) {
		ms_inode_free_now(s, i);
		return;
	}
	/* Still open somewhere: keep bytes and charge until the last put,
	 * as tmpfs keeps an unlinked open file. */
	in->flags |= MS_I_ORPHAN;
	in->next_free = s->hdr->orphans;
	s->hdr->orphans = i;
	__atomic_add_fetch(&s->hdr->norphans, 1, __ATOMIC_RELAXED);
	/* When it became one: the keeper frees only orphans older than its
	 * look at who holds what. */
	in->next_seq = __atomic_add_fetch(&s->hdr->ops, 1, __ATOMIC_RELAXED);
	/* Its holders may be dead already (a killed writer): the keeper
	 * looks soon rather than at its next round. */
	__atomic_store_n(&s->hdr->reclaim, 1, __ATOMIC_RELEASE);
	ms_keeper_poke(s);
}

int ms_inode_new(struct ms_store *s, mode_t mode, uint32_t *out)
{
	int r = ms_reserve_node(s);
	if (r)
		return r;
	uint32_t i = ms_inode_alloc(s);
	if (!i) {
		/* Slots are sized from the node limit, so only an unlimited
		 * store reaches its ceiling here. */
		ms_release_node(s);
		__atomic_add_fetch(&s->hdr->ledger.refused, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	struct ms_inode *in = ms_inode_at(s, i);
	int64_t now = ms_now_ns();
	/* Symlinks are always 0777; everything else loses the umask's bits. */
	in->mode = S_ISLNK(mode) ? mode : (mode & ~(mode_t)s->umask);
	in->uid = (uint32_t)geteuid();
	in->gid = (uint32_t)getegid();
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	in->atime_ns = in->mtime_ns = in->ctime_ns = in->btime_ns = now;
	if (S_ISREG(mode)) {
		r = ms_data_new(s, &in->kfd, &in->memfd_ino);
		if (r) {
			ms_inode_free(s, i);
			ms_release_node(s);
			return r;
		}
	}
	__atomic_add_fetch(&s->hdr->ops, 1, __ATOMIC_RELAXED);
	*out = i;
	return 0;
}

/* ---- references ---------------------------------------------------------------- */

static struct ms_inode *live(struct ms_store *s, ms_ino ino)
{
	if (ino == 0 || ino > s->hdr->nslots)
		return NULL;
	struct ms_inode *in = ms_inode_at(s, ino);
	return in->ino_no ? in : NULL;
}

static int32_t my_pid(void) { return (int32_t)MS_SYSCALL(SYS_getpid); }

void ms_ref_take(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	in->opens++;
	if (!S_ISDIR(in->mode))
		return;
	struct ms_hdr *h = s->hdr;
	for (int k = 0; k < MS_DIRREFS; k++)
		if (!h->dirrefs[k].pid) {
			h->dirrefs[k].ino = i;
			h->dirrefs[k].pid = my_pid();
			return;
		}
	/* Table full: the reference is counted but not attributed, so its
	 * directory is freed only by its holder. */
	__atomic_store_n(&h->dirrefs_full, 1, __ATOMIC_RELAXED);
}

void ms_ref_drop(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	if (in->opens == 0)
		return;
	if (S_ISDIR(in->mode)) {
		struct ms_hdr *h = s->hdr;
		int32_t pid = my_pid();
		for (int k = 0; k < MS_DIRREFS; k++)
			if (h->dirrefs[k].pid == pid && h->dirrefs[k].ino == i) {
				h->dirrefs[k].pid = 0;
				break;
			}
	}
	if (--in->opens == 0 && (in->flags & MS_I_ORPHAN)) {
		orphan_remove(s, i);
		ms_inode_free_now(s, i);
	}
}

void ms_ino_get(ms_store *s, ms_ino ino)
{
	ms_ns_lock(s);
	if (live(s, ino))
		ms_ref_take(s, ino);
	ms_ns_unlock(s);
}

void ms_ino_put(ms_store *s, ms_ino ino)
{
	ms_ns_lock(s);
	if (live(s, ino))
		ms_ref_drop(s, ino);
	ms_ns_unlock(s);
}

int ms_ino_kino(ms_store *s, ms_ino ino, uint64_t *kino)
{
	int r = -ENOENT;
	ms_ns_lock(s);
	struct ms_inode *in = live(s, ino);
	if (in && S_ISREG(in->mode)) {
		*kino = in->memfd_ino;
		r = 0;
	}
	ms_ns_unlock(s);
	return r;
}

ms_ino ms_ino_by_kino(ms_store *s, uint64_t kino)
{
	ms_ino found = 0;
	ms_ns_lock(s);
	for (uint32_t i = 1; i < s->hdr->inode_bump && !found; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (in->ino_no && S_ISREG(in->mode) && in->memfd_ino == kino)
			found = i;
	}
	ms_ns_unlock(s);
	return found;
}

int ms_open_ino(ms_store *s, ms_ino ino, int oflags)
{
	int r;
	ms_ns_lock(s);
	struct ms_inode *in = live(s, ino);
	if (!in) {
		r = -ENOENT;
		goto out;
	}
	if (!S_ISREG(in->mode)) {
		r = S_ISDIR(in->mode) ? -EISDIR : -ENXIO;
		goto out;
	}
	r = ms_data_open(s, in, oflags);
	if (r >= 0)
		ms_ref_take(s, ino);
out:
	ms_ns_unlock(s);
	return r;
}

/* ---- growth and shrinking -------------------------------------------------------- */

/* At most one reclaim request every 100 ms across the tree: a store that
 * sits at its quota must not make every refusal wait for a scan. */
static int reclaim_due(struct ms_store *s)
{
	uint64_t now = (uint64_t)ms_now_ns(), last = __atomic_load_n(&s->hdr->reclaim_ns, __ATOMIC_RELAXED);
	return now - last >= 100000000ULL &&
	       __atomic_compare_exchange_n(&s->hdr->reclaim_ns, &last, now, 0, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/* A charge that does not fit while orphans wait: some may belong to killed
 * processes and only the keeper can tell. Ask it (one round trip, on the
 * refusal path only) and try once more. */
static int charge_or_reclaim(struct ms_store *s, struct ms_inode *in, uint64_t charged,
			     uint64_t req)
{
	int r = ms_charge_data(s, in, charged, req);
	if (r && !s->local && __atomic_load_n(&s->hdr->norphans, __ATOMIC_RELAXED) &&
	    reclaim_due(s) && ms_keeper_reclaim(s) >= 0) {
		/* freed by this request or by the keeper's own round just before */
		__atomic_sub_fetch(&s->hdr->ledger.refused, 1, __ATOMIC_RELAXED);
		r = ms_charge_data(s, in, charged, req);
	}
	return r;
}

static void touch_mc(struct ms_inode *in)
{
	int64_t now = ms_now_ns();
	ST(&in->mtime_ns, now);
	ST(&in->ctime_ns, now);
}

int ms_write_begin(ms_store *s, ms_ino ino, int fd, int64_t off, size_t len, int append,
		   struct ms_wctx *w, int64_t *off_out)
{
	struct ms_inode *in = ms_inode_at(s, ino);
	int r;
	ms_data_lock(s, in, fd);
	uint64_t size = LD(&in->size);
	uint64_t start = append ? size : (uint64_t)off;
	if (off < 0 && !append) {
		r = -EINVAL;
		goto fail;
	}
	if (len > (uint64_t)LLONG_MAX - start) {
		r = -EFBIG;
		goto fail;
	}
	w->ino = ino;
	w->start = start;
	w->end = start + len;
	w->prior = LD(&in->charged);
	w->locked = 1;
	if (len) {
		uint64_t need = ms_page_up(w->end > size ? w->end : size);
		uint64_t have = LD(&in->charged);
		if (need > have) {
			r = ms_guard_write(s, need - have);
			if (r == 0)
				r = charge_or_reclaim(s, in, need, len);
			if (r)
				goto fail;
		}
	}
	*off_out = (int64_t)start;
	return 0;
fail:
	w->locked = 0;
	ms_data_unlock(s, in);
	return r;
}

void ms_write_end(ms_store *s, struct ms_wctx *w, int64_t done)
{
	if (!w->locked)
		return;
	struct ms_inode *in = ms_inode_at(s, w->ino);
	uint64_t size = LD(&in->size);
	if (done > 0) {
		uint64_t end = w->start + (uint64_t)done;
		if (end > size) {
			size = end;
			ST(&in->size, size);
		}
		touch_mc(in);
	}
	/* Give back what a short or failed write did not use, never less than
	 * was charged before it. */
	uint64_t keep = ms_page_up(size);
	if (keep < w->prior)
		keep = w->prior;
	if (LD(&in->charged) > keep)
		ms_charge_data(s, in, keep, 0);
	w->locked = 0;
	ms_data_unlock(s, in);
}

int ms_data_truncate(struct ms_store *s, struct ms_inode *in, uint64_t len)
{
	int fd = ms_data_open(s, in, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fd;
	int r = ms_data_truncate_fd(s, in, fd, len);
	sys_close(fd);
	return r;
}

/* Truncates through fd with the data lock taken here: charge growth first,
 * give back shrinkage after the kernel has let the pages go. */
int ms_data_truncate_fd(struct ms_store *s, struct ms_inode *in, int fd, uint64_t len)
{
	int r = 0;
	if (len > (uint64_t)LLONG_MAX)
		return -EFBIG;
	ms_data_lock(s, in, fd);
	uint64_t old = LD(&in->charged);
	uint64_t need = ms_page_up(len);
	if (need > old) {
		r = ms_guard_write(s, need - old);
		if (r == 0)
			r = charge_or_reclaim(s, in, need, need - old);
		if (r)
			goto out;
	}
	r = sys_ftruncate(fd, (off_t)len);
	if (r) {
		if (need > old)
			ms_charge_data(s, in, old, 0);
		goto out;
	}
	ST(&in->size, len);
	if (need < old)
		ms_charge_data(s, in, need, 0);
	touch_mc(in);
out:
	ms_data_unlock(s, in);
	return r;
}

int ms_ftruncate(ms_store *s, ms_ino ino, int fd, off_t len)
{
	if (len < 0)
		return -EINVAL;
	return ms_data_truncate_fd(s, ms_inode_at(s, ino), fd, (uint64_t)len);
}

int ms_fallocate(ms_store *s, ms_ino ino, int fd, int mode, off_t off, off_t len)
{
	struct ms_inode *in = ms_inode_at(s, ino);
	int r;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((uint64_t)len > (uint64_t)LLONG_MAX - (uint64_t)off)
		return -EFBIG;
	ms_data_lock(s, in, fd);
	uint64_t old = LD(&in->charged);
	uint64_t end = (uint64_t)off + (uint64_t)len;
	/* Punching a hole frees pages in the kernel; the charge is kept (a
	 * conservative over-count) so the ledger never trails the kernel. */
	uint64_t need = (mode & FALLOC_FL_PUNCH_HOLE) ? old : ms_page_up(end);
	if (need > old) {
		r = ms_guard_write(s, need - old);
		if (r == 0)
			r = charge_or_reclaim(s, in, need, need - old);
		if (r)
			goto out;
	}
	r = sys_fallocate(fd, mode, off, len);
	if (r) {
		if (need > old)
			ms_charge_data(s, in, old, 0);
		goto out;
	}
	if (!(mode & (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) && end > LD(&in->size))
		ST(&in->size, end);
	touch_mc(in);
out:
	ms_data_unlock(s, in);
	return r;
}
