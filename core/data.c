/* core/data.c — file bytes: inode life and death, the references
 * processes hold, and the quota check on every growth.
 *
 * A regular file's bytes live in one memfd (core/memfd.c). A file is charged
 * the pages the kernel holds for it, as tmpfs counts them (st_blocks): a
 * hole costs nothing. Every call that may allocate reserves the pages it
 * could allocate before the kernel is asked, and settles the charge to
 * st_blocks after; the file's data lock keeps growth, shrinking, the charge
 * and the recorded size of one file in order.
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
		int reuse = ms_data_reusable(s, in);
		/* A process keeps an open file description of it to lend
		 * (shim/lend.c), which would keep its pages: they go now, as
		 * tmpfs frees a file at its last close; what is kept sees an
		 * empty file nobody names, and goes at its next look. Not
		 * when a program mapped it: a mapping keeps a removed file's
		 * pages on tmpfs too. Also when the memfd is to be reused:
		 * the keeper empties it only later, and a small one in the
		 * pool not at all until a new file's open. */
		if (in->lends && !(in->flags & MS_I_MAPPED))
			ms_data_truncate(s, in, 0, 0);
		/* The slot forgets its memfd before the keeper is told of it:
		 * a death in between must not queue it twice. */
		int32_t kfd = in->kfd;
		uint64_t held = in->charged, kino = in->memfd_ino;
		ms_kino_unlink(s, i);
		in->kfd = -1;
		ms_charge_data(s, in, 0, 0);
		/* A small one straight into the pool, where the next create's
		 * open empties it; the rest, and a stale one (never opened:
		 * bytes nobody counted), the keeper empties. */
		if (!reuse)
			ms_data_drop(s, kfd, held);
		else if ((in->flags & MS_I_STALE) || !ms_pool_give(s, kfd, kino, held))
			ms_reuse_push(s, kfd, kino, held);
	} else if (S_ISLNK(in->mode)) {
		uint32_t b = in->link;
		while (b) {
			uint32_t next = ms_block_at(s, b)->next;
			ms_block_free(s, b);
			b = next;
		}
		ms_release_bytes(s, (uint64_t)in->nblocks * MS_BLOCK);
		in->link = in->nblocks = 0;
	} else if (ms_is_special(in->mode) && !ms_lower_backed(in)) {
		ms_special_drop(s, in);
	}
	if (in->xattr)
		ms_release_bytes(s, ms_xattr_drop_all(s, in));
	ms_release_node(s, ms_inode_cost(in));
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

void ms_inode_relinked(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = ms_inode_at(s, i);
	if (in->flags & MS_I_ORPHAN)
		orphan_remove(s, i);
	in->flags &= ~(MS_I_ORPHAN | MS_I_UNHELD | MS_I_LINKABLE);
}

/* A new inode of mode; with data, a regular file gets its memfd. */
static int inode_make(struct ms_store *s, mode_t mode, int data, uint32_t *out)
{
	uint64_t cost = data || S_ISDIR(mode) || S_ISLNK(mode) ? ms_node_cost(mode) : MS_NODE_COST;
	int r = ms_reserve_node(s, cost);
	if (r)
		return r;
	uint32_t i = ms_inode_alloc(s);
	if (!i) {
		/* Slots are sized from the node limit, so only an unlimited
		 * store reaches its ceiling here. */
		ms_release_node(s, cost);
		__atomic_add_fetch(&s->hdr->ledger.refused, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	struct ms_inode *in = ms_inode_at(s, i);
	int64_t now = ms_now_ns();
	/* Symlinks are always 0777; everything else loses the umask's bits. */
	in->mode = S_ISLNK(mode) ? mode : (mode & ~(mode_t)s->umask);
	/* fsuid and fsgid, from the copy perm.c keeps (no system call);
	 * ms_perm_init_owner then applies a set-group-ID directory */
	const struct ms_cred *cr = ms_cred_fs(s);
	in->uid = cr->uid;
	in->gid = cr->gid;
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	in->atime_ns = in->mtime_ns = in->ctime_ns = in->btime_ns = now;
	if (S_ISREG(mode) && data) {
		r = ms_data_new(s, in);
		if (r) {
			ms_inode_free(s, i);
			ms_release_node(s, cost);
			return r;
		}
		ms_kino_link(s, i);
	}
	__atomic_add_fetch(&s->hdr->ops, 1, __ATOMIC_RELAXED);
	*out = i;
	return 0;
}

int ms_inode_new(struct ms_store *s, mode_t mode, uint32_t *out)
{
	return inode_make(s, mode, 1, out);
}

int ms_inode_new_lower(struct ms_store *s, mode_t mode, uint32_t *out)
{
	return inode_make(s, mode, 0, out);
}

int ms_symlink_store(struct ms_store *s, struct ms_inode *in, const char *target, size_t tl)
{
	uint32_t nb = (uint32_t)((tl + MS_LINK_DATA - 1) / MS_LINK_DATA), prev = 0;
	int r = ms_reserve_bytes(s, (uint64_t)nb * MS_BLOCK);
	if (r)
		return r;
	/* From here ms_inode_unlinked gives back nblocks blocks and frees
	 * the chain from in->link: keep both true at every step. */
	in->nblocks = nb;
	for (uint32_t k = 0; k < nb; k++) {
		uint32_t b = ms_block_alloc(s);
		if (!b) {
			ms_release_bytes(s, (uint64_t)(nb - k) * MS_BLOCK);
			in->nblocks = k;
			return -ENOSPC;
		}
		size_t off = (size_t)k * MS_LINK_DATA;
		size_t n = tl - off < MS_LINK_DATA ? tl - off : MS_LINK_DATA;
		memcpy(ms_block_at(s, b)->data, target + off, n);
		if (prev)
			ms_block_at(s, prev)->next = b;
		else
			in->link = b;
		prev = b;
	}
	ST(&in->size, (uint64_t)tl);
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

int ms_ino_put_lend(ms_store *s, ms_ino ino, int kept, uint64_t *ino_no, uint64_t *kino)
{
	int keep = 0;
	ms_ns_lock(s);
	struct ms_inode *in = live(s, ino);
	if (in) {
		keep = S_ISREG(in->mode) && in->nlink &&
		       !(in->flags & (MS_I_MAPPED | MS_I_LOWER | MS_I_ORPHAN | MS_I_LINKABLE));
		if (keep && !kept)
			in->lends++;
		else if (!keep && kept && in->lends)
			in->lends--;
		*ino_no = in->ino_no;
		*kino = in->memfd_ino;
		ms_ref_drop(s, ino);
	}
	ms_ns_unlock(s);
	return keep;
}

void ms_lend_gone(ms_store *s, ms_ino ino, uint64_t ino_no)
{
	ms_ns_lock(s);
	struct ms_inode *in = live(s, ino);
	if (in && in->ino_no == ino_no && S_ISREG(in->mode) && in->lends)
		in->lends--;
	ms_ns_unlock(s);
}

int ms_kept_add(ms_store *s, pid_t pid, int fd, uint64_t kino)
{
	struct ms_hdr *h = s->hdr;
	int32_t me = (int32_t)pid;
	for (int k = 0; k < MS_KEPT; k++) {
		int32_t none = 0;
		if (__atomic_load_n(&h->kept[k].pid, __ATOMIC_RELAXED) ||
		    !__atomic_compare_exchange_n(&h->kept[k].pid, &none, me, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&h->kept[k].fd, fd, __ATOMIC_RELAXED);
		__atomic_store_n(&h->kept[k].kino, kino, __ATOMIC_RELEASE);
		return k + 1;
	}
	return 0;
}

void ms_kept_del(ms_store *s, int ref)
{
	if (ref <= 0 || ref > MS_KEPT)
		return;
	/* kino first: the entry's next owner writes its fd before its kino,
	 * and no memfd has st_ino 0 */
	__atomic_store_n(&s->hdr->kept[ref - 1].kino, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&s->hdr->kept[ref - 1].pid, 0, __ATOMIC_RELEASE);
}

static void mark_file(ms_store *s, ms_ino ino, uint32_t flag)
{
	ms_ns_lock(s);
	struct ms_inode *in = live(s, ino);
	if (in && S_ISREG(in->mode))
		in->flags |= flag;
	ms_ns_unlock(s);
}

void ms_ino_mapped(ms_store *s, ms_ino ino) { mark_file(s, ino, MS_I_MAPPED); }

void ms_ino_escaped(ms_store *s, ms_ino ino) { mark_file(s, ino, MS_I_NOREUSE); }

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
	ms_ns_lock(s);
	ms_ino found = ms_kino_find(s, kino);
	ms_ns_unlock(s);
	return found;
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
	/* The first try is not counted: only the answer the caller gets is
	 * a refusal (counted, and recorded for the report). */
	int r = ms_charge_data(s, in, charged, 0);
	if (r == 0)
		return 0;
	if (!s->local && __atomic_load_n(&s->hdr->norphans, __ATOMIC_RELAXED) && reclaim_due(s))
		ms_keeper_reclaim(s); /* freed by it, or by the keeper's own round just before */
	return ms_charge_data(s, in, charged, req);
}

static void touch_mc(struct ms_inode *in)
{
	int64_t now = ms_now_ns();
	ST(&in->mtime_ns, now);
	ST(&in->ctime_ns, now);
}

static uint64_t page_down(uint64_t n) { return n & ~(uint64_t)(MS_PAGE - 1); }

/* Bytes of [lo, hi) (whole pages) the kernel holds as data for the file of
 * fd, asked with SEEK_DATA / SEEK_HOLE on an open file description of our
 * own: the caller's offset must not move. Pages allocated but never written
 * (fallocate) read as holes, so this may count too little, never too much.
 * The refusal path only: an open and a few seeks. */
static uint64_t held_in(int fd, uint64_t lo, uint64_t hi)
{
	char path[40];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int rfd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (rfd < 0)
		return 0;
	uint64_t held = 0;
	/* A range of many small extents is not walked to its end: what is
	 * not looked at counts as a hole. */
	for (int k = 0; lo < hi && k < 64; k++) {
		off_t d = sys_lseek(rfd, (off_t)lo, SEEK_DATA);
		if (d < 0 || (uint64_t)d >= hi)
			break;
		off_t e = sys_lseek(rfd, d, SEEK_HOLE);
		if (e < 0)
			break;
		uint64_t a = page_down((uint64_t)d), b = ms_page_up((uint64_t)e);
		if (b > hi)
			b = hi;
		held += b - a;
		lo = b;
	}
	sys_close(rfd);
	return held;
}

/* Before a kernel call through fd that may allocate pages of [start, end)
 * of file in (data lock held): reserves every page the range touches — at
 * most its length in pages plus one, whatever hole lies before it — so the
 * call cannot take the store past its quota. When that does not fit, the
 * pages the kernel already holds in the range are left out and the rest
 * tried (an overwrite in a full store still succeeds). The guard is asked
 * for the growth a dense file would see, never more than the reservation.
 * Returns 0, or -quota_errno with nothing charged. */
static int reserve(struct ms_store *s, struct ms_inode *in, int fd, uint64_t start,
		   uint64_t end, uint64_t req)
{
	if (end <= start)
		return 0;
	uint64_t lo = page_down(start), hi = ms_page_up(end), n = hi - lo;
	uint64_t have = LD(&in->charged), size = LD(&in->size);
	uint64_t top = ms_page_up(end > size ? end : size), grow = top > have ? top - have : 0;
	if (grow) {
		int r = ms_guard_write(s, grow < n ? grow : n);
		if (r) {
			ms_refusal_record(s, in, req, MS_REFUSED_GUARD);
			return r;
		}
	}
	if (ms_charge_data(s, in, have + n, 0) == 0)
		return 0;
	n -= held_in(fd, lo, hi);
	int r = n ? charge_or_reclaim(s, in, have + n, req) : 0;
	/* A refusal is the store at its fullest: the keeper notes the
	 * biggest files for the report now rather than at its next sample,
	 * when they may be gone (a poke: one non-blocking send). */
	if (r)
		ms_keeper_poke(s);
	return r;
}

/* After the kernel call (data lock held): the file's size and charge
 * become what the kernel reports for fd, giving back whatever was reserved
 * and not allocated (or freed by a shrink or a punched hole). Pages stored
 * through a shared mapping since the last look are charged here too, as far
 * as the quota allows. Should fstat fail, the reservation stays: the charge
 * never trails the kernel because of us. */
static void settle(struct ms_store *s, struct ms_inode *in, int fd)
{
	struct stat st;
	if (sys_fstat(fd, &st))
		return;
	ST(&in->size, (uint64_t)st.st_size);
	ms_settle_data(s, in, (uint64_t)st.st_blocks * 512);
}

/* Whether what the kernel holds after write w is known without asking it
 * (an fstat, as dear as the write itself on some machines): the file held
 * every page below its size and none above (as last seen: a file written
 * by the shim, not through a mapping into holes, which then has none),
 * the write did not start past the end of its last page (no hole made),
 * it wrote all it was asked, and pages are 4 KiB (no huge page of shmem).
 * Then the file holds exactly the pages below its new size, which
 * ms_write_end has set. Anything else asks the kernel (settle). */
static int counted(struct ms_store *s, const struct ms_wctx *w, int64_t done)
{
	return s->hdr->pages_exact && done > 0 && (uint64_t)done == w->end - w->start &&
	       w->charged0 == ms_page_up(w->size0) && w->start <= ms_page_up(w->size0);
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
		/* The kernel's answers: an offset and length that overflow are
		 * EINVAL; an append stops at the largest size (EFBIG there). */
		r = append && start < (uint64_t)LLONG_MAX ? 0 : append ? -EFBIG : -EINVAL;
		if (r)
			goto fail;
		len = (uint64_t)LLONG_MAX - start;
	}
	w->ino = ino;
	w->fd = fd;
	w->start = start;
	w->end = start + len;
	w->size0 = size;
	w->charged0 = LD(&in->charged);
	w->locked = 1;
	r = reserve(s, in, fd, start, w->end, len);
	if (r)
		goto fail;
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
	if (done > 0) {
		/* settle() reads the size from the kernel; this is for when it
		 * cannot */
		uint64_t end = w->start + (uint64_t)done;
		if (end > LD(&in->size))
			ST(&in->size, end);
		touch_mc(in);
		/* for the report: an atomic add, no call */
		if (s->prog)
			__atomic_add_fetch(&s->hdr->progs[s->prog - 1].written, (uint64_t)done,
					   __ATOMIC_RELAXED);
	}
	if (w->end > w->start) {
		if (counted(s, w, done))
			ms_settle_data(s, in, ms_page_up(LD(&in->size)));
		else
			settle(s, in, w->fd);
	}
	w->locked = 0;
	ms_data_unlock(s, in);
}

/* Before a cut, under the data lock: pages may go, and mapped copies learn
 * them again (mapio.c). */
static void cut_begin(struct ms_inode *in) { ST(&in->map_gen, in->map_gen + 1); }

/* After the kernel cut the file of fd to len, under the data lock. */
static void cut_done(struct ms_store *s, struct ms_inode *in, int fd, uint64_t len)
{
	ST(&in->size, len);
	touch_mc(in);
	if (len == 0)
		ms_settle_data(s, in, 0); /* an empty memfd holds no page, not
					   * even past its end: known without
					   * asking (O_TRUNC, fopen "w") */
	else
		settle(s, in, fd);
}

/* Truncates through fd with the data lock taken here. Growth makes a hole
 * and is charged nothing, as on tmpfs; shrinking gives back the pages the
 * kernel let go. */
static int truncate_fd(struct ms_store *s, struct ms_inode *in, int fd, uint64_t len, int by_path)
{
	struct stat st;
	if (len > (uint64_t)LLONG_MAX)
		return -EFBIG;
	ms_data_lock(s, in, fd);
	/* truncate(2), unlike ftruncate and O_TRUNC, asks the filesystem
	 * for no new times: tmpfs sets them only when the size changes or
	 * when it holds pages (cutting at the size, even an unchanged one,
	 * touches the file). So a same-size truncate of a file of holes
	 * alone leaves it as it is. */
	if (by_path && sys_fstat(fd, &st) == 0 && (uint64_t)st.st_size == len && st.st_blocks == 0) {
		ms_data_unlock(s, in);
		return 0;
	}
	cut_begin(in);
	int r = sys_ftruncate(fd, (off_t)len);
	if (r == 0)
		cut_done(s, in, fd, len);
	else
		settle(s, in, fd);
	ms_data_unlock(s, in);
	return r;
}

int ms_data_open_trunc(struct ms_store *s, struct ms_inode *in, int oflags)
{
	/* No fd yet for the lock to re-read the size with should a writer
	 * have died holding it: an open that works sets the size anyway. One
	 * that fails after such a death leaves the size the dead writer
	 * recorded until the next write to the file or the keeper's next
	 * pass over the files (keeper/rounds.c) sets the kernel's. */
	ms_data_lock(s, in, -1);
	cut_begin(in);
	int fd = ms_data_open(s, in, oflags | O_TRUNC);
	if (fd >= 0)
		cut_done(s, in, fd, 0);
	ms_data_unlock(s, in);
	return fd;
}

int ms_data_truncate(struct ms_store *s, struct ms_inode *in, uint64_t len, int by_path)
{
	int fd = ms_data_open(s, in, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fd;
	int r = truncate_fd(s, in, fd, len, by_path);
	sys_close(fd);
	return r;
}

int ms_data_truncate_fd(struct ms_store *s, struct ms_inode *in, int fd, uint64_t len)
{
	return truncate_fd(s, in, fd, len, 0);
}

int ms_ftruncate(ms_store *s, ms_ino ino, int fd, off_t len)
{
	if (len < 0)
		return -EINVAL;
	return ms_data_truncate_fd(s, ms_inode_at(s, ino), fd, (uint64_t)len);
}

/* Allocation reserves its range's pages and is charged what the kernel
 * allocated; a punched hole gives back what the kernel freed. */
int ms_fallocate(ms_store *s, ms_ino ino, int fd, int mode, off_t off, off_t len)
{
	struct ms_inode *in = ms_inode_at(s, ino);
	int r;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((uint64_t)len > (uint64_t)LLONG_MAX - (uint64_t)off)
		return -EFBIG;
	uint64_t end = (uint64_t)off + (uint64_t)len;
	ms_data_lock(s, in, fd);
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		ST(&in->map_gen, in->map_gen + 1); /* a punched hole: as a truncate */
	if (!(mode & FALLOC_FL_PUNCH_HOLE)) {
		r = reserve(s, in, fd, (uint64_t)off, end, (uint64_t)len);
		if (r)
			goto out;
	}
	r = sys_fallocate(fd, mode, off, len);
	if (r == 0) {
		if (!(mode & (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) && end > LD(&in->size))
			ST(&in->size, end);
		touch_mc(in);
	}
	settle(s, in, fd);
out:
	ms_data_unlock(s, in);
	return r;
}
