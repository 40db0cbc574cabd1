/* tests/chaos.h — the chaos run (issue 4, item 3: crash safety), shared by
 * the Criterion test and the standalone program the TSan build runs.
 *
 * A store with its keeper and tight limits (2 MiB, 200 nodes) so refusals
 * happen all the time. W worker processes (T threads each) attach by name
 * and do random store operations as fast as they can: creates and opens
 * with O_CREAT/O_TRUNC/O_APPEND/O_EXCL/O_TMPFILE, writes of random sizes at
 * random offsets (and large ones of several hundred KB), ftruncate,
 * fallocate, unlink, mkdir/rmdir in a few nested directories, rename of
 * files and directories (RENAME_NOREPLACE, RENAME_EXCHANGE, storms of
 * renames), link, symlink (long targets too), open-unlink-keep-writing
 * orphans, fds and directory references kept open across operations.
 *
 * The parent kills a random worker with SIGKILL every 0-2 ms, reaps it and
 * starts a replacement (sometimes killing that one right after fork). A
 * quarter of the kills stop the victim first (SIGSTOP, waited for), look at
 * which store locks it holds, then SIGKILL it: the figures say how many
 * kills provably landed with a lock held. Each thread publishes in shared
 * memory the operation it is inside, so every kill is classified.
 *
 * Checks:
 *  - live, every CH_LIVE_EVERY kills, while workers run: ms_check (it takes
 *    the namespace lock, so it never sees a half-done change of a live
 *    process);
 *  - every CH_CHECK_EVERY kills and at the end, with every worker killed and
 *    reaped: the keeper is alive; ms_check; a walk of the tree from /mem
 *    (every entry stats with its d_ino and d_type, every directory's
 *    st_nlink is 2 + its subdirectories, every file's st_nlink is the
 *    number of names it has); the keeper's memfds are no more than its pool
 *    plus the regular files the store holds;
 *  - at the end: every inode is reachable from /mem (no orphan left by a
 *    dead process, polled for up to 3 s while the keeper reclaims); then
 *    everything is removed and used_bytes and used_nodes must come back to
 *    0 (polled for up to 3 s), ms_check must hold, and the keeper must hold
 *    no memfd beyond its pool and no more fds than pool + a small slack;
 *  - a worker that dies on its own (a trap on an unrecoverable lock, a
 *    crash) or a store call returning an errno no caller could expect
 *    (EIO, EUCLEAN, EBADF...) is a failure; so is no operation completing
 *    for 10 s (a wedged lock) and a parent call hanging (watchdog).
 *
 * Environment: MEMSHIM_CHAOS_KILLS (kills to perform), MEMSHIM_CHAOS_SEED,
 * MEMSHIM_CHAOS_WORKERS, MEMSHIM_CHAOS_THREADS.
 */
#ifndef MEMSHIM_TESTS_CHAOS_H
#define MEMSHIM_TESTS_CHAOS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h" /* lock owners and inode slots, to classify kills */
#include "fixture.h"
#include "store.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CH_SANITIZED 1
#else
#define CH_SANITIZED 0
#endif

#define CH_MAXW 16
#define CH_MAXT 4
#define CH_HELD 6
#define CH_CHECK_EVERY 200   /* all-stopped checkpoint */
#define CH_LIVE_EVERY 50     /* ms_check while workers run */
#define CH_MIN_KILLS 3000
#define CH_QUOTA (2u << 20)
#define CH_NODES 200
#define CH_FD_SLACK 16       /* keeper fds beyond its pool: stdio, arena, sockets, epoll */
#define CH_STUCK_S 5.0       /* an operation this long is wedged */
#define CH_MAXPRINT 25       /* failure lines printed as they happen */

enum {
	CH_NONE,
	CH_WRITE,
	CH_BIGWRITE,
	CH_FTRUNC,
	CH_FALLOC,
	CH_OTRUNC,
	CH_TRUNCPATH,
	CH_UNLINK,
	CH_MKDIR,
	CH_RMDIR,
	CH_RENAME,
	CH_EXCHANGE,
	CH_STORM,
	CH_LINK,
	CH_SYMLINK,
	CH_ORPHAN,
	CH_TMPFILE,
	CH_READDIR,
	CH_STAT,
	CH_HOLD,
	CH_CLOSE,
	CH_ATTACH,
	CH_NOPS
};

static const char *const ch_opname[CH_NOPS] = {
	"none",    "write",  "bigwrite", "ftruncate", "fallocate", "open-trunc", "truncate",
	"unlink",  "mkdir",  "rmdir",    "rename",    "exchange",  "rename-storm", "link",
	"symlink", "orphan", "tmpfile",  "readdir",   "stat",      "hold",       "close",
	"attach",
};

/* One worker slot, in memory shared with the workers. */
struct ch_slot {
	atomic_int pid;
	atomic_int tid[CH_MAXT];
	atomic_int op[CH_MAXT]; /* the operation a thread is inside, CH_NONE between */
	_Atomic int64_t since[CH_MAXT]; /* CLOCK_MONOTONIC ns when it began */
	_Atomic int64_t attach_ns;      /* how long ms_store_attach took; 0 = not done */
	atomic_ulong ops;
};

struct ch_shared {
	atomic_ulong ops, refused, unexpected;
	atomic_int unexpected_set;
	char unexpected_msg[256];
	struct ch_slot slot[CH_MAXW];
};

struct chaos_result {
	unsigned long ops, refused, unexpected;
	unsigned long kills, kills_in_op, kills_after_fork;
	unsigned long inspected, locked, locked_ns, locked_ledger, locked_keeper, locked_data;
	unsigned long kills_by_op[CH_NOPS];
	unsigned long started, checks, live_checks, failures, self_deaths, stuck;
	unsigned long attaches;              /* workers killed after attaching */
	uint64_t attach_ns_sum, attach_ns_max;
	double seconds;
	unsigned seed;
	int workers, threads;
	struct ms_stats before_drain, after_drain;
	int keeper_fds, keeper_memfds, pool;
	char first_check[512];  /* the first ms_check message */
	char failure[1024];     /* the first failure */
};

static struct ch_shared *ch_sh;
static char ch_data[1 << 20]; /* what every write writes (read only once filled) */

static unsigned ch_rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) & 0xffffff;
}

static double ch_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void ch_usleep(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long ch_env(const char *name, long def)
{
	const char *e = getenv(name);
	return e && *e ? strtol(e, NULL, 0) : def;
}

/* ---- the workers ------------------------------------------------------------ */

struct ch_held {
	int fd;     /* -1: a directory reference */
	ms_ino ino;
};

struct ch_thr {
	ms_store *s;
	struct ch_slot *sl;
	int t;
	unsigned seed;
	struct ch_held held[CH_HELD];
	int nheld;
};

static int64_t ch_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void ch_begin(struct ch_thr *th, int op)
{
	atomic_store(&th->sl->since[th->t], ch_mono_ns());
	atomic_store(&th->sl->op[th->t], op);
}
static void ch_end(struct ch_thr *th) { atomic_store(&th->sl->op[th->t], CH_NONE); }

/* Errors a random mix of operations legitimately meets. Anything else
 * (EIO, EUCLEAN, EBADF, EMFILE, ENOMEM, EPROTO...) says the store broke. */
static int ch_expected(int e)
{
	switch (e) {
	case ENOENT: case EEXIST: case ENOTDIR: case EISDIR: case ENOTEMPTY: case ENOSPC:
	case EINVAL: case ELOOP: case EBUSY: case EMLINK: case ENAMETOOLONG: case EFBIG:
	case EPERM: case EXDEV: case MS_EESCAPE:
		return 1;
	}
	return 0;
}

static int ch_rc(struct ch_thr *th, const char *what, const char *path, long r)
{
	if (r >= 0)
		return (int)r;
	if (r == -ENOSPC)
		atomic_fetch_add(&ch_sh->refused, 1);
	if (!ch_expected((int)-r)) {
		atomic_fetch_add(&ch_sh->unexpected, 1);
		int z = 0;
		if (atomic_compare_exchange_strong(&ch_sh->unexpected_set, &z, 1))
			snprintf(ch_sh->unexpected_msg, sizeof(ch_sh->unexpected_msg),
				 "worker pid %d: %s(%s) returned %ld (%s)", (int)getpid(), what,
				 path ? path : "", r, strerror((int)-r));
	}
	return (int)r;
}

/* A path under /mem: up to two directory levels of d0..d2, then a leaf of
 * the kind asked ('f' file, 'd' directory, 'l' symlink, 0 any). */
static void ch_path(struct ch_thr *th, char *p, size_t n, int kind)
{
	unsigned depth = ch_rnd(&th->seed) % 3;
	size_t k = (size_t)snprintf(p, n, "/mem");
	for (unsigned i = 0; i < depth; i++)
		k += (size_t)snprintf(p + k, n - k, "/d%u", ch_rnd(&th->seed) % 3);
	if (!kind) {
		unsigned x = ch_rnd(&th->seed) % 20;
		kind = x < 12 ? 'f' : x < 17 ? 'd' : 'l';
	}
	unsigned m = kind == 'f' ? 8 : 3;
	snprintf(p + k, n - k, "/%c%u", kind, ch_rnd(&th->seed) % m);
}

static void ch_hold(struct ch_thr *th, int fd, ms_ino ino);

/* The reference goes back while the fd still holds the file (store.h). */
static void ch_drop(struct ch_thr *th, int fd, ms_ino ino)
{
	ms_ino_put(th->s, ino);
	if (fd >= 0)
		close(fd);
}

/* One quota-checked write through fd (O_APPEND: append). */
static int ch_write(struct ch_thr *th, ms_ino ino, int fd, int64_t off, size_t len)
{
	struct ms_wctx w;
	int64_t at;
	int fl = fcntl(fd, F_GETFL);
	int append = fl >= 0 && (fl & O_APPEND);
	int r = ch_rc(th, "ms_write_begin", NULL,
		      ms_write_begin(th->s, ino, fd, off, len, append, &w, &at));
	if (r)
		return r;
	ssize_t k = append ? write(fd, ch_data, len) : pwrite(fd, ch_data, len, at);
	ms_write_end(th->s, &w, k < 0 ? -errno : k);
	if (k < 0)
		return ch_rc(th, "pwrite", NULL, -errno);
	return 0;
}

/* An open file to work on: a held one (owned = 0) or a fresh open. */
static int ch_file(struct ch_thr *th, int oflags, int *fd, ms_ino *ino, int *owned, char *path,
		   size_t n)
{
	path[0] = 0;
	if (th->nheld && ch_rnd(&th->seed) % 3 == 0) {
		struct ch_held *h = &th->held[ch_rnd(&th->seed) % (unsigned)th->nheld];
		if (h->fd >= 0) {
			*fd = h->fd;
			*ino = h->ino;
			*owned = 0;
			return 0;
		}
	}
	ch_path(th, path, n, ch_rnd(&th->seed) % 8 ? 'f' : 0);
	*owned = 1;
	int r = ms_open(th->s, 0, path, oflags, 0644, fd, ino);
	if (r == 0 && *fd < 0) { /* a directory */
		ms_ino_put(th->s, *ino);
		return -EISDIR;
	}
	return ch_rc(th, "ms_open", path, r);
}

static void ch_symlink_target(struct ch_thr *th, char *t, size_t n)
{
	static const char *const short_targets[] = {"f1",   "../f2", "/mem/d0/f3", "d1",
						    "l0",   "/mem/l1", "../d2/f0", "."};
	unsigned x = ch_rnd(&th->seed) % 10;
	if (x < 8) {
		snprintf(t, n, "%s", short_targets[x]);
		return;
	}
	/* A long target: several symlink blocks. */
	size_t reps = 100 + ch_rnd(&th->seed) % 500, k = 0;
	for (size_t i = 0; i < reps && k + 3 < n - 8; i++) {
		t[k++] = '.';
		t[k++] = '/';
	}
	snprintf(t + k, n - k, "f%u", ch_rnd(&th->seed) % 8);
}

static void ch_op(struct ch_thr *th)
{
	ms_store *s = th->s;
	char p1[128], p2[128];
	int fd, owned, r;
	ms_ino ino;
	unsigned x = ch_rnd(&th->seed) % 100;

	if (x < 22) { /* writes */
		int fl = O_CREAT | O_RDWR;
		unsigned y = ch_rnd(&th->seed) % 16;
		if (y < 2)
			fl |= O_TRUNC;
		else if (y < 6)
			fl |= O_APPEND;
		else if (y == 6)
			fl |= O_EXCL;
		ch_begin(th, CH_WRITE);
		if (ch_file(th, fl, &fd, &ino, &owned, p1, sizeof(p1)) == 0) {
			unsigned nw = 1 + ch_rnd(&th->seed) % 3;
			for (unsigned i = 0; i < nw; i++)
				ch_write(th, ino, fd, (int64_t)(ch_rnd(&th->seed) % (256 << 10)),
					 ch_rnd(&th->seed) % (64 << 10));
			if (owned)
				ch_drop(th, fd, ino);
		}
	} else if (x < 26) { /* a long write: kills land inside it */
		ch_begin(th, CH_BIGWRITE);
		ch_path(th, p1, sizeof(p1), 'f');
		if (ch_rc(th, "ms_open", p1, ms_open(s, 0, p1, O_CREAT | O_RDWR, 0644, &fd, &ino)) == 0) {
			if (fd >= 0)
				ch_write(th, ino, fd, (int64_t)(ch_rnd(&th->seed) % (64 << 10)),
					 (256 << 10) + ch_rnd(&th->seed) % (544 << 10));
			ch_drop(th, fd, ino);
		}
	} else if (x < 32) {
		ch_begin(th, CH_FTRUNC);
		if (ch_file(th, O_RDWR, &fd, &ino, &owned, p1, sizeof(p1)) == 0) {
			ch_rc(th, "ms_ftruncate", p1,
			      ms_ftruncate(s, ino, fd, (off_t)(ch_rnd(&th->seed) % (400 << 10))));
			if (owned)
				ch_drop(th, fd, ino);
		}
	} else if (x < 36) {
		static const int modes[] = {0, FALLOC_FL_KEEP_SIZE,
					    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
		ch_begin(th, CH_FALLOC);
		if (ch_file(th, O_RDWR, &fd, &ino, &owned, p1, sizeof(p1)) == 0) {
			ch_rc(th, "ms_fallocate", p1,
			      ms_fallocate(s, ino, fd, modes[ch_rnd(&th->seed) % 3],
					   (off_t)(ch_rnd(&th->seed) % (256 << 10)),
					   (off_t)(1 + ch_rnd(&th->seed) % (128 << 10))));
			if (owned)
				ch_drop(th, fd, ino);
		}
	} else if (x < 40) {
		ch_begin(th, CH_OTRUNC);
		ch_path(th, p1, sizeof(p1), 'f');
		r = ms_open(s, 0, p1, O_CREAT | O_WRONLY | O_TRUNC, 0644, &fd, &ino);
		if (ch_rc(th, "ms_open", p1, r) == 0)
			ch_drop(th, fd, ino);
	} else if (x < 42) {
		ch_begin(th, CH_TRUNCPATH);
		ch_path(th, p1, sizeof(p1), 'f');
		ch_rc(th, "ms_truncate", p1,
		      ms_truncate(s, 0, p1, (off_t)(ch_rnd(&th->seed) % (200 << 10))));
	} else if (x < 50) {
		ch_begin(th, CH_UNLINK);
		ch_path(th, p1, sizeof(p1), ch_rnd(&th->seed) % 4 ? 'f' : 'l');
		ch_rc(th, "ms_unlink", p1, ms_unlink(s, 0, p1));
	} else if (x < 55) {
		ch_begin(th, CH_MKDIR);
		ch_path(th, p1, sizeof(p1), 'd');
		ch_rc(th, "ms_mkdir", p1, ms_mkdir(s, 0, p1, 0755));
	} else if (x < 59) {
		ch_begin(th, CH_RMDIR);
		ch_path(th, p1, sizeof(p1), 'd');
		ch_rc(th, "ms_rmdir", p1, ms_rmdir(s, 0, p1));
	} else if (x < 66) {
		unsigned y = ch_rnd(&th->seed) % 10;
		unsigned fl = y < 7 ? 0 : y < 8 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
		ch_begin(th, fl == RENAME_EXCHANGE ? CH_EXCHANGE : CH_RENAME);
		int kind = ch_rnd(&th->seed) % 3 ? 'f' : 'd';
		ch_path(th, p1, sizeof(p1), kind);
		ch_path(th, p2, sizeof(p2), ch_rnd(&th->seed) % 4 ? kind : 0);
		ch_rc(th, "ms_rename", p1, ms_rename(s, 0, p1, 0, p2, fl));
	} else if (x < 68) { /* a storm of renames: a long run of ns_lock holds */
		ch_begin(th, CH_STORM);
		for (int i = 0; i < 40; i++) {
			unsigned fl = ch_rnd(&th->seed) % 4 == 0 ? RENAME_EXCHANGE : 0;
			ch_path(th, p1, sizeof(p1), 0);
			ch_path(th, p2, sizeof(p2), 0);
			ch_rc(th, "ms_rename", p1, ms_rename(s, 0, p1, 0, p2, fl));
		}
	} else if (x < 72) {
		ch_begin(th, CH_LINK);
		ch_path(th, p1, sizeof(p1), ch_rnd(&th->seed) % 4 ? 'f' : 'l');
		ch_path(th, p2, sizeof(p2), 'f');
		ch_rc(th, "ms_link", p1,
		      ms_link(s, 0, p1, 0, p2, ch_rnd(&th->seed) % 2 ? MS_NOFOLLOW : 0));
	} else if (x < 76) {
		char t[1400];
		ch_begin(th, CH_SYMLINK);
		ch_symlink_target(th, t, sizeof(t));
		ch_path(th, p1, sizeof(p1), 'l');
		ch_rc(th, "ms_symlink", p1, ms_symlink(s, t, 0, p1));
	} else if (x < 81) { /* open, unlink, keep writing: an orphan */
		ch_begin(th, CH_ORPHAN);
		ch_path(th, p1, sizeof(p1), 'f');
		r = ms_open(s, 0, p1, O_CREAT | O_RDWR | (ch_rnd(&th->seed) % 2 ? O_APPEND : 0), 0644,
			    &fd, &ino);
		if (ch_rc(th, "ms_open", p1, r) == 0) {
			ch_rc(th, "ms_unlink", p1, ms_unlink(s, 0, p1));
			for (int i = 0; i < 3; i++)
				ch_write(th, ino, fd, (int64_t)(ch_rnd(&th->seed) % (128 << 10)),
					 ch_rnd(&th->seed) % (48 << 10));
			ch_rc(th, "ms_ftruncate", p1,
			      ms_ftruncate(s, ino, fd, (off_t)(ch_rnd(&th->seed) % (64 << 10))));
			if (ch_rnd(&th->seed) % 2)
				ch_hold(th, fd, ino); /* dies with it, sometimes */
			else
				ch_drop(th, fd, ino);
		}
	} else if (x < 83) {
		ch_begin(th, CH_TMPFILE);
		ch_path(th, p1, sizeof(p1), 'd');
		if (ch_rnd(&th->seed) % 2)
			snprintf(p1, sizeof(p1), "/mem");
		r = ms_open(s, 0, p1, O_TMPFILE | O_RDWR, 0600, &fd, &ino);
		if (ch_rc(th, "ms_open(O_TMPFILE)", p1, r) == 0) {
			ch_write(th, ino, fd, 0, ch_rnd(&th->seed) % (96 << 10));
			if (ch_rnd(&th->seed) % 2)
				ch_hold(th, fd, ino);
			else
				ch_drop(th, fd, ino);
		}
	} else if (x < 86) {
		ch_begin(th, CH_READDIR);
		ch_path(th, p1, sizeof(p1), 'd');
		if (ch_rnd(&th->seed) % 3 == 0)
			snprintf(p1, sizeof(p1), "/mem");
		if (ch_rc(th, "ms_lookup_dir", p1, ms_lookup_dir(s, 0, p1, &ino)) == 0) {
			struct ms_dirent e;
			uint64_t c = 0;
			for (int i = 0; i < 64; i++) {
				r = ms_readdir(s, ino, c, &e);
				if (r <= 0) {
					ch_rc(th, "ms_readdir", p1, r);
					break;
				}
				c = e.cookie;
			}
			if (ch_rnd(&th->seed) % 4 == 0) /* a directory fd or cwd kept */
				ch_hold(th, -1, ino);
			else
				ms_ino_put(s, ino);
		}
	} else if (x < 90) {
		struct stat st;
		char buf[2048];
		ch_begin(th, CH_STAT);
		ch_path(th, p1, sizeof(p1), 0);
		ch_rc(th, "ms_stat", p1, ms_stat(s, 0, p1, ch_rnd(&th->seed) % 2 ? MS_NOFOLLOW : 0, &st));
		ch_path(th, p2, sizeof(p2), 'l');
		ch_rc(th, "ms_readlink", p2, ms_readlink(s, 0, p2, buf, sizeof(buf)));
	} else if (x < 95) {
		ch_begin(th, CH_HOLD);
		ch_path(th, p1, sizeof(p1), 'f');
		r = ms_open(s, 0, p1, O_CREAT | O_RDWR | (ch_rnd(&th->seed) % 3 ? 0 : O_APPEND), 0644,
			    &fd, &ino);
		if (ch_rc(th, "ms_open", p1, r) == 0)
			ch_hold(th, fd, ino);
	} else {
		ch_begin(th, CH_CLOSE);
		if (th->nheld) {
			int i = (int)(ch_rnd(&th->seed) % (unsigned)th->nheld);
			ch_drop(th, th->held[i].fd, th->held[i].ino);
			th->held[i] = th->held[--th->nheld];
		}
	}
	ch_end(th);
	atomic_fetch_add(&th->sl->ops, 1);
	atomic_fetch_add(&ch_sh->ops, 1);
}

static void ch_hold(struct ch_thr *th, int fd, ms_ino ino)
{
	if (th->nheld == CH_HELD) {
		int i = (int)(ch_rnd(&th->seed) % CH_HELD);
		ch_drop(th, th->held[i].fd, th->held[i].ino);
		th->held[i] = th->held[--th->nheld];
	}
	th->held[th->nheld].fd = fd;
	th->held[th->nheld].ino = ino;
	th->nheld++;
}

static void *ch_thread(void *arg)
{
	struct ch_thr *th = arg;
	atomic_store(&th->sl->tid[th->t], (int)gettid());
	for (;;)
		ch_op(th);
	return NULL;
}

/* The body of a worker process: attach by name, run T threads forever. */
static void ch_worker(int k, int nthreads, unsigned seed, const char *name,
		      const struct ms_open_opts *o)
{
	struct ch_slot *sl = &ch_sh->slot[k];
	static struct ch_thr th[CH_MAXT];
	ms_store *s = NULL;
	atomic_store(&sl->tid[0], (int)getpid());
	int64_t t0 = ch_mono_ns();
	atomic_store(&sl->since[0], t0);
	atomic_store(&sl->op[0], CH_ATTACH);
	int r = ms_store_attach(name, o, &s);
	atomic_store(&sl->op[0], CH_NONE);
	atomic_store(&sl->attach_ns, ch_mono_ns() - t0);
	if (r) {
		int z = 0;
		atomic_fetch_add(&ch_sh->unexpected, 1);
		if (atomic_compare_exchange_strong(&ch_sh->unexpected_set, &z, 1))
			snprintf(ch_sh->unexpected_msg, sizeof(ch_sh->unexpected_msg),
				 "worker pid %d: ms_store_attach(%s) returned %d (%s)", (int)getpid(),
				 name, r, strerror(-r));
		_exit(3);
	}
	for (int t = 0; t < nthreads; t++) {
		th[t].s = s;
		th[t].sl = sl;
		th[t].t = t;
		th[t].seed = seed * 2654435761u + (unsigned)t * 40503u + 1;
		th[t].nheld = 0;
	}
	for (int t = 1; t < nthreads; t++) {
		pthread_t id;
		pthread_create(&id, NULL, ch_thread, &th[t]);
	}
	ch_thread(&th[0]);
	_exit(0);
}

/* ---- the parent ------------------------------------------------------------------- */

struct ch_run {
	ms_store *s;
	struct ms_open_opts o;
	struct chaos_result *res;
	int nw, nt;
	pid_t pid[CH_MAXW];
	unsigned seed;   /* the parent's random state */
	unsigned wseed;  /* seeds handed to workers */
	int printed;
	int audit_failed;
};

static const char *volatile ch_phase = "start";
static ms_store *ch_alarm_store;

static void ch_fail(struct ch_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ch_fail(struct ch_run *run, const char *fmt, ...)
{
	char m[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (run->res->failures++ == 0)
		snprintf(run->res->failure, sizeof(run->res->failure), "%s", m);
	if (run->printed++ < CH_MAXPRINT)
		fprintf(stderr, "chaos: FAIL: %s\n", m);
}

/* The thread holding m (glibc's layout), 0 for none. A taker that got
 * EOWNERDEAD holds it with __owner PTHREAD_MUTEX_INCONSISTENT until it calls
 * pthread_mutex_consistent: its tid is then in the futex word. */
static int ch_lock_owner(pthread_mutex_t *m)
{
	int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
	if (owner == 0x7fffffff)
		owner = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) & 0x3fffffff;
	return owner;
}

static int ch_lock_inconsistent(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == 0x7fffffff;
}

static int ch_nw_alarm; /* workers to kill when the watchdog fires */

/* Who a thread id is: a worker thread and the operation it is inside, the
 * keeper, or another process. */
static void ch_whois(char *b, size_t n, int tid)
{
	pid_t kp = ch_alarm_store ? ms_store_keeper_pid(ch_alarm_store) : 0;
	if (tid == 0) {
		snprintf(b, n, "nobody");
		return;
	}
	if (tid == kp) {
		snprintf(b, n, "the keeper (pid %d)", (int)kp);
		return;
	}
	for (int k = 0; ch_sh && k < ch_nw_alarm; k++)
		for (int t = 0; t < CH_MAXT; t++)
			if (atomic_load(&ch_sh->slot[k].tid[t]) == tid) {
				snprintf(b, n, "worker pid %d thread %d, inside '%s'",
					 atomic_load(&ch_sh->slot[k].pid), t,
					 ch_opname[atomic_load(&ch_sh->slot[k].op[t]) % CH_NOPS]);
				return;
			}
	snprintf(b, n, "tid %d (%s)", tid, kill(tid, 0) == 0 ? "alive" : "dead");
}

static void ch_watchdog(int sig)
{
	char m[1024], w[160];
	int n;
	(void)sig;
	ms_store *s = ch_alarm_store;
	ch_whois(w, sizeof(w), s ? ch_lock_owner(&s->hdr->ns_lock) : 0);
	n = snprintf(m, sizeof(m),
		     "chaos: FAIL: the parent hung for 60 s in %s; ns_lock held by %s\n", ch_phase,
		     w);
	if (write(2, m, (size_t)n) < 0)
		_exit(99);
	if (s) {
		struct ms_hdr *h = s->hdr;
		ch_whois(w, sizeof(w), ch_lock_owner(&h->ledger_lock));
		n = snprintf(m, sizeof(m), "chaos:   ledger_lock held by %s\n", w);
		if (write(2, m, (size_t)n) < 0)
			_exit(99);
		ch_whois(w, sizeof(w), ch_lock_owner(&h->keeper_lock));
		n = snprintf(m, sizeof(m), "chaos:   keeper_lock held by %s\n", w);
		if (write(2, m, (size_t)n) < 0)
			_exit(99);
		uint32_t bump = h->inode_bump < h->nslots + 1 ? h->inode_bump : h->nslots + 1;
		for (uint32_t i = 1; i < bump; i++) {
			pthread_mutex_t *dl = &ms_inode_at(s, i)->data_lock;
			int o = ch_lock_owner(dl);
			if (!o)
				continue;
			ch_whois(w, sizeof(w), o);
			n = snprintf(m, sizeof(m), "chaos:   data lock of inode slot %u held by %s%s\n", i,
				     w, ch_lock_inconsistent(dl) ? " (took it with EOWNERDEAD and never "
							       "made it consistent or unlocked it)" : "");
			if (write(2, m, (size_t)n) < 0)
				_exit(99);
		}
	}
	for (int k = 0; ch_sh && k < ch_nw_alarm; k++) {
		pid_t p = atomic_load(&ch_sh->slot[k].pid);
		if (p > 0)
			kill(p, SIGKILL);
	}
	_exit(99);
}

static void ch_guard(const char *phase)
{
	ch_phase = phase;
	alarm(60);
}

static void ch_start(struct ch_run *run, int k)
{
	struct ch_slot *sl = &ch_sh->slot[k];
	for (int t = 0; t < CH_MAXT; t++) {
		atomic_store(&sl->tid[t], 0);
		atomic_store(&sl->op[t], CH_NONE);
	}
	atomic_store(&sl->attach_ns, 0);
	unsigned seed = ++run->wseed ^ run->res->seed;
	pid_t parent = getpid();
	pid_t p = fork();
	if (p == 0) {
		alarm(0);
		signal(SIGALRM, SIG_DFL);
		/* A worker never outlives the run (a parent killed by a
		 * timeout would leave it looping, or wedged, for ever). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		ch_worker(k, run->nt, seed, ms_store_name(run->s), &run->o);
		_exit(0);
	}
	if (p < 0) {
		ch_fail(run, "fork: %s", strerror(errno));
		run->pid[k] = 0;
		return;
	}
	atomic_store(&sl->pid, p);
	run->pid[k] = p;
	run->res->started++;
}

static void ch_status(char *b, size_t n, int st)
{
	if (WIFEXITED(st))
		snprintf(b, n, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(b, n, "died of signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(b, n, "status 0x%x", st);
}

static void ch_self_death(struct ch_run *run, int k, int st)
{
	char b[128];
	struct ch_slot *sl = &ch_sh->slot[k];
	int op = CH_NONE;
	for (int t = 0; t < run->nt; t++)
		if (atomic_load(&sl->op[t]))
			op = atomic_load(&sl->op[t]);
	ch_status(b, sizeof(b), st);
	run->res->self_deaths++;
	ch_fail(run, "worker pid %d %s on its own, inside '%s'%s%s", (int)run->pid[k], b,
		ch_opname[op], ch_sh->unexpected_set ? "; first unexpected error: " : "",
		ch_sh->unexpected_set ? ch_sh->unexpected_msg : "");
	run->pid[k] = 0;
	atomic_store(&sl->pid, 0);
}

/* Workers that died without being killed. */
static void ch_reap_unexpected(struct ch_run *run)
{
	for (int k = 0; k < run->nw; k++) {
		int st;
		if (run->pid[k] > 0 && waitpid(run->pid[k], &st, WNOHANG) == run->pid[k]) {
			ch_self_death(run, k, st);
			ch_start(run, k);
		}
	}
}

/* Which store locks thread ids `tids` hold: bit 0 ns, 1 ledger, 2 keeper,
 * 3 a data lock. The victim is stopped, so what it holds cannot change. */
static unsigned ch_locks_held(struct ch_run *run, const int *tids, int n)
{
	struct ms_store *s = run->s;
	struct ms_hdr *h = s->hdr;
	unsigned mask = 0;
	uint32_t bump = __atomic_load_n(&h->inode_bump, __ATOMIC_RELAXED);
	if (bump > h->nslots + 1)
		bump = h->nslots + 1;
	for (int i = 0; i < n; i++) {
		if (!tids[i])
			continue;
		if (ch_lock_owner(&h->ns_lock) == tids[i])
			mask |= 1;
		if (ch_lock_owner(&h->ledger_lock) == tids[i])
			mask |= 2;
		if (ch_lock_owner(&h->keeper_lock) == tids[i])
			mask |= 4;
		for (uint32_t j = 1; j < bump; j++)
			if (ch_lock_owner(&ms_inode_at(s, j)->data_lock) == tids[i])
				mask |= 8;
	}
	return mask;
}

/* Kills worker k (stopping it first to inspect its locks when asked),
 * reaps it and classifies the kill. */
static void ch_kill(struct ch_run *run, int k, int inspect)
{
	struct chaos_result *res = run->res;
	struct ch_slot *sl = &ch_sh->slot[k];
	pid_t p = run->pid[k];
	int st;
	if (p <= 0)
		return;
	if (inspect && kill(p, SIGSTOP) == 0) {
		if (waitpid(p, &st, WUNTRACED) != p) {
			ch_fail(run, "waitpid(%d, WUNTRACED): %s", (int)p, strerror(errno));
		} else if (!WIFSTOPPED(st)) {
			ch_self_death(run, k, st);
			return;
		} else {
			int tids[CH_MAXT];
			for (int t = 0; t < CH_MAXT; t++)
				tids[t] = atomic_load(&sl->tid[t]);
			unsigned m = ch_locks_held(run, tids, run->nt);
			res->inspected++;
			if (m)
				res->locked++;
			res->locked_ns += m & 1;
			res->locked_ledger += (m >> 1) & 1;
			res->locked_keeper += (m >> 2) & 1;
			res->locked_data += (m >> 3) & 1;
		}
	}
	kill(p, SIGKILL);
	if (waitpid(p, &st, 0) != p) {
		ch_fail(run, "waitpid(%d): %s", (int)p, strerror(errno));
		run->pid[k] = 0;
		return;
	}
	run->pid[k] = 0;
	atomic_store(&sl->pid, 0);
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
		/* It was gone before the kill arrived. */
		run->pid[k] = p;
		ch_self_death(run, k, st);
		return;
	}
	res->kills++;
	int64_t an = atomic_load(&sl->attach_ns);
	if (an > 0) {
		res->attaches++;
		res->attach_ns_sum += (uint64_t)an;
		if ((uint64_t)an > res->attach_ns_max)
			res->attach_ns_max = (uint64_t)an;
	}
	int in = 0;
	int64_t now = ch_mono_ns();
	for (int t = 0; t < run->nt; t++) {
		int op = atomic_load(&sl->op[t]);
		if (op > CH_NONE && op < CH_NOPS) {
			res->kills_by_op[op]++;
			in = 1;
			double secs = (double)(now - atomic_load(&sl->since[t])) / 1e9;
			if (secs > CH_STUCK_S) {
				res->stuck++;
				ch_fail(run,
					"worker pid %d thread %d had been inside '%s' for %.1f s when "
					"killed (a store lock never released?)",
					(int)p, t, ch_opname[op], secs);
			}
		}
	}
	res->kills_in_op += in;
}

static void ch_stop_all(struct ch_run *run)
{
	for (int k = 0; k < run->nw; k++)
		ch_kill(run, k, 0);
}

/* ---- checks (every worker dead) ----------------------------------------------------- */

struct ch_node {
	uint64_t ino;
	unsigned names;
	nlink_t nlink;
	mode_t type;
};

struct ch_walk {
	struct ch_node node[1024];
	int n;
	unsigned long files, dirs, symlinks, nodes;
	char err[600];
};

static void ch_walk_err(struct ch_walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ch_walk_err(struct ch_walk *w, const char *fmt, ...)
{
	if (w->err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
}

static unsigned char ch_dtype(mode_t m)
{
	return S_ISDIR(m) ? DT_DIR : S_ISLNK(m) ? DT_LNK : S_ISREG(m) ? DT_REG : DT_UNKNOWN;
}

static void ch_walk_dir(ms_store *s, const char *path, struct ch_walk *w, int depth)
{
	struct stat dst, st;
	struct ms_dirent e;
	ms_ino d;
	char child[4096];
	int r = ms_stat(s, 0, path, MS_NOFOLLOW, &dst);
	if (r) {
		ch_walk_err(w, "stat %s: %d (%s)", path, r, strerror(-r));
		return;
	}
	r = ms_lookup_dir(s, 0, path, &d);
	if (r) {
		ch_walk_err(w, "ms_lookup_dir %s: %d (%s)", path, r, strerror(-r));
		return;
	}
	uint64_t c = 0;
	unsigned long subdirs = 0, entries = 0;
	for (;;) {
		r = ms_readdir(s, d, c, &e);
		if (r < 0)
			ch_walk_err(w, "ms_readdir %s: %d (%s)", path, r, strerror(-r));
		if (r <= 0)
			break;
		if (e.cookie <= c) {
			ch_walk_err(w, "ms_readdir %s: cookie went from %llu to %llu", path,
				    (unsigned long long)c, (unsigned long long)e.cookie);
			break;
		}
		c = e.cookie;
		if (++entries > 4000) {
			ch_walk_err(w, "ms_readdir %s: more than 4000 entries (a loop?)", path);
			break;
		}
		if (!strcmp(e.name, "."))  {
			if (e.ino != dst.st_ino)
				ch_walk_err(w, "%s: '.' has d_ino %llu, stat says %llu", path,
					    (unsigned long long)e.ino, (unsigned long long)dst.st_ino);
			continue;
		}
		if (!strcmp(e.name, ".."))
			continue;
		snprintf(child, sizeof(child), "%.3800s/%.255s", path, e.name);
		r = ms_stat(s, 0, child, MS_NOFOLLOW, &st);
		if (r) {
			ch_walk_err(w, "entry %s does not resolve: %d (%s)", child, r, strerror(-r));
			continue;
		}
		if (st.st_ino != e.ino)
			ch_walk_err(w, "entry %s: d_ino %llu but st_ino %llu", child,
				    (unsigned long long)e.ino, (unsigned long long)st.st_ino);
		if (ch_dtype(st.st_mode) != e.type)
			ch_walk_err(w, "entry %s: d_type %u but mode 0%o", child, e.type,
				    (unsigned)st.st_mode);
		int i;
		for (i = 0; i < w->n && w->node[i].ino != st.st_ino; i++)
			;
		if (i == w->n) {
			if (w->n == (int)(sizeof(w->node) / sizeof(w->node[0]))) {
				ch_walk_err(w, "more than %d nodes reachable", w->n);
				continue;
			}
			w->node[i] = (struct ch_node){st.st_ino, 0, st.st_nlink, st.st_mode & S_IFMT};
			w->n++;
			if (S_ISDIR(st.st_mode)) {
				w->dirs++;
				w->nodes++;
			} else {
				if (S_ISREG(st.st_mode))
					w->files++;
				else
					w->symlinks++;
				w->nodes += st.st_nlink ? st.st_nlink : 1;
			}
		} else if (S_ISDIR(st.st_mode)) {
			ch_walk_err(w, "directory %s (ino %llu) has two names", child,
				    (unsigned long long)st.st_ino);
		}
		w->node[i].names++;
		if (S_ISDIR(st.st_mode)) {
			subdirs++;
			/* A cycle shows as a directory with two names (above);
			 * rename storms legitimately nest directories deep, so
			 * the depth cap only keeps the walk's recursion bounded. */
			if (depth < 400)
				ch_walk_dir(s, child, w, depth + 1);
			else
				ch_walk_err(w, "%s: deeper than 400 levels", child);
		}
	}
	ms_ino_put(s, d);
	if (dst.st_nlink != 2 + subdirs)
		ch_walk_err(w, "directory %s: st_nlink %lu but %lu subdirectories", path,
			    (unsigned long)dst.st_nlink, subdirs);
}

static void ch_walk(ms_store *s, struct ch_walk *w)
{
	memset(w, 0, sizeof(*w));
	ch_walk_dir(s, "/mem", w, 0);
	for (int i = 0; i < w->n; i++)
		if (w->node[i].type != S_IFDIR && w->node[i].names != w->node[i].nlink)
			ch_walk_err(w, "ino %llu (mode 0%o): st_nlink %lu but %u names in the tree",
				    (unsigned long long)w->node[i].ino, (unsigned)w->node[i].type,
				    (unsigned long)w->node[i].nlink, w->node[i].names);
}

/* The keeper's fds: all of them, and its file memfds ("/memfd:memshim"). */
static int ch_keeper_fds(pid_t kp, int *memfds)
{
	char dir[64], p[400], l[256];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)kp);
	DIR *d = opendir(dir);
	*memfds = 0;
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		ssize_t k = readlink(p, l, sizeof(l) - 1);
		if (k < 0)
			continue;
		l[k] = 0;
		if (!strncmp(l, "/memfd:memshim (deleted)", 24) || !strcmp(l, "/memfd:memshim"))
			(*memfds)++;
	}
	closedir(d);
	return n;
}

/* Every memfd accounted for, exactly: each live regular file's kfd and each
 * pool entry is a distinct open memfd of the keeper with the kernel inode
 * number recorded for it, and every file memfd the keeper holds is one of
 * those or waits in the close queue. Every worker is dead; the keeper may
 * be closing queued fds and topping its pool up meanwhile, so the caller
 * polls. Returns 0, or 1 with the first discrepancy (and a count) in err. */
struct ch_kfd {
	int32_t kfd;
	uint32_t who; /* inode slot, or 0 for the pool, ~0u for the close queue */
	uint64_t kino;
};

static int ch_kfd_cmp(const void *a, const void *b)
{
	const struct ch_kfd *x = a, *y = b;
	return x->kfd < y->kfd ? -1 : x->kfd > y->kfd;
}

static void ch_who(char *b, size_t n, const struct ch_kfd *k)
{
	if (k->who == 0)
		snprintf(b, n, "a pool entry");
	else if (k->who == ~0u)
		snprintf(b, n, "the close queue");
	else
		snprintf(b, n, "inode slot %u", k->who);
}

static int ch_memfd_audit(struct ch_run *run, char *err, size_t errn)
{
	struct ms_store *s = run->s;
	struct ms_hdr *h = s->hdr;
	pid_t kp = ms_store_keeper_pid(s);
	size_t cap = (size_t)h->nslots * 2 + MS_POOL_SLOTS + 16, n = 0;
	struct ch_kfd *v = malloc(cap * sizeof(*v));
	unsigned bad = 0;
	char first[400] = "", a[64], b[64], path[64], l[256];
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
#define CH_BAD(...)                                                    \
	do {                                                           \
		if (!bad++)                                            \
			snprintf(first, sizeof(first), __VA_ARGS__);   \
	} while (0)

	ch_guard("memfd audit");
	ms_ns_lock(s);
	for (uint32_t i = 1; i < h->inode_bump && n < cap; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no || !S_ISREG(in->mode))
			continue;
		if (in->kfd < 0) {
			CH_BAD("inode slot %u (st_ino %llu) is a regular file without a memfd "
			       "(kfd %d)", i, (unsigned long long)in->ino_no, in->kfd);
			continue;
		}
		v[n++] = (struct ch_kfd){in->kfd, i, in->memfd_ino};
	}
	ms_keeper_lock(s);
	for (uint32_t p = h->pool_head; p != h->pool_tail && n < cap; p++)
		v[n++] = (struct ch_kfd){h->pool[p % MS_POOL_SLOTS].kfd, 0,
					 h->pool[p % MS_POOL_SLOTS].kino};
	for (uint32_t p = h->closeq_head; p != h->closeq_tail && n < cap; p++)
		v[n++] = (struct ch_kfd){q[p % (h->nslots + 1)], ~0u, 0};
	ms_keeper_unlock(s);
	ms_ns_unlock(s);
	alarm(0);

	qsort(v, n, sizeof(*v), ch_kfd_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && v[i].kfd == v[i - 1].kfd) {
			ch_who(a, sizeof(a), &v[i - 1]);
			ch_who(b, sizeof(b), &v[i]);
			CH_BAD("keeper fd %d is both %s and %s", v[i].kfd, a, b);
			continue;
		}
		if (v[i].who == ~0u)
			continue; /* may be closed any moment */
		struct stat st;
		ch_who(a, sizeof(a), &v[i]);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)kp, v[i].kfd);
		ssize_t k = readlink(path, l, sizeof(l) - 1);
		l[k < 0 ? 0 : k] = 0;
		if (k < 0 || stat(path, &st))
			CH_BAD("%s names keeper fd %d, which is not open", a, v[i].kfd);
		else if (strncmp(l, "/memfd:memshim (deleted)", 24))
			CH_BAD("%s names keeper fd %d, which is '%s', not a file memfd", a, v[i].kfd, l);
		else if (st.st_ino != v[i].kino)
			CH_BAD("%s names keeper fd %d, whose memfd has st_ino %llu, not %llu", a,
			       v[i].kfd, (unsigned long long)st.st_ino,
			       (unsigned long long)v[i].kino);
	}
	/* The other way round: a file memfd nobody lists is leaked. */
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)kp);
	DIR *d = opendir(dir);
	unsigned leaked = 0;
	int leaked_first = -1;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char fp[340];
			snprintf(fp, sizeof(fp), "%s/%s", dir, e->d_name);
			ssize_t k = readlink(fp, l, sizeof(l) - 1);
			if (k < 0)
				continue;
			l[k] = 0;
			if (strncmp(l, "/memfd:memshim (deleted)", 24))
				continue;
			struct ch_kfd key = {(int32_t)atoi(e->d_name), 0, 0};
			if (!bsearch(&key, v, n, sizeof(*v), ch_kfd_cmp)) {
				if (!leaked++)
					leaked_first = key.kfd;
			}
		}
		closedir(d);
	}
	if (leaked)
		CH_BAD("%u file memfds of the keeper are in no inode, pool entry or close "
		       "queue (leaked; the first is fd %d)", leaked, leaked_first);
#undef CH_BAD
	free(v);
	if (bad)
		snprintf(err, errn, "%s%s", first,
			 bad > 1 ? " (and more discrepancies)" : "");
	return bad != 0;
}

static void ch_stats_str(char *b, size_t n, const struct ms_stats *st)
{
	snprintf(b, n,
		 "used %llu/%llu bytes, %llu/%llu nodes (peak %llu bytes), %llu files, %llu dirs, "
		 "%llu symlinks, %llu refused",
		 (unsigned long long)st->used_bytes, (unsigned long long)st->max_bytes,
		 (unsigned long long)st->used_nodes, (unsigned long long)st->max_nodes,
		 (unsigned long long)st->peak_bytes, (unsigned long long)st->files,
		 (unsigned long long)st->dirs, (unsigned long long)st->symlinks,
		 (unsigned long long)st->refused);
}

static int ch_pool(ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	return (int)(__atomic_load_n(&h->pool_tail, __ATOMIC_RELAXED) -
		     __atomic_load_n(&h->pool_head, __ATOMIC_RELAXED));
}

static void ch_check_ms(struct ch_run *run, const char *when)
{
	char msg[512];
	ch_guard("ms_check");
	int r = ms_check(run->s, msg, sizeof(msg));
	alarm(0);
	run->res->checks++;
	if (r) {
		if (!run->res->first_check[0])
			snprintf(run->res->first_check, sizeof(run->res->first_check), "%s", msg);
		ch_fail(run, "%s: ms_check: %s", when, msg);
	}
}

/* Every worker is dead and reaped. */
static void ch_checkpoint(struct ch_run *run, int final)
{
	char when[96], sb[300];
	struct ms_stats st;
	struct ch_walk *w = malloc(sizeof(*w));
	snprintf(when, sizeof(when), "%s after %lu kills", final ? "final check" : "checkpoint",
		 run->res->kills);
	pid_t kp = ms_store_keeper_pid(run->s);
	if (kill(kp, 0)) {
		ch_fail(run, "%s: the keeper (pid %d) is gone", when, (int)kp);
		free(w);
		return;
	}
	ch_check_ms(run, when);

	ch_guard("tree walk");
	ch_walk(run->s, w);
	alarm(0);
	if (w->err[0])
		ch_fail(run, "%s: tree: %s", when, w->err);

	/* Every memfd of the keeper is in its pool or backs a file the store
	 * holds; freed files are closed by the keeper asynchronously. */
	int memfds = 0, fds = 0;
	for (int i = 0; i < 100; i++) {
		ch_guard("stats");
		ms_stats_get(run->s, &st);
		alarm(0);
		fds = ch_keeper_fds(kp, &memfds);
		if (fds >= 0 && (uint64_t)memfds <= MS_POOL_SLOTS + st.files)
			break;
		ch_usleep(10000);
	}
	if (fds < 0)
		ch_fail(run, "%s: cannot list /proc/%d/fd: %s", when, (int)kp, strerror(-fds));
	else if ((uint64_t)memfds > MS_POOL_SLOTS + st.files) {
		ch_stats_str(sb, sizeof(sb), &st);
		ch_fail(run,
			"%s: the keeper (pid %d) holds %d file memfds (%d fds) but the pool lists %d "
			"(of %d) and the store has %llu files: %lld memfds unaccounted for; %s",
			when, (int)kp, memfds, fds, ch_pool(run->s), MS_POOL_SLOTS,
			(unsigned long long)st.files,
			(long long)memfds - ch_pool(run->s) - (long long)st.files, sb);
	}

	char err[600];
	int bad = 0;
	/* Polled: the keeper closes queued fds and fills its pool meanwhile
	 * (briefly once a discrepancy was reported: it will not go away). */
	for (int i = 0; i < (run->audit_failed ? 3 : final ? 30 : 10); i++) {
		bad = ch_memfd_audit(run, err, sizeof(err));
		if (!bad)
			break;
		ch_usleep(100000);
	}
	if (bad) {
		run->audit_failed = 1;
		ch_fail(run, "%s: memfds: %s", when, err);
	}

	if (final) {
		/* With every process dead, nothing is open: every inode must be
		 * reachable (orphans of killed processes reclaimed). */
		for (int i = 0; i < 30; i++) {
			ch_guard("stats");
			ms_stats_get(run->s, &st);
			alarm(0);
			if (st.files == w->files && st.dirs == w->dirs && st.symlinks == w->symlinks &&
			    st.used_nodes == w->nodes)
				break;
			ch_usleep(100000);
			ch_guard("tree walk");
			ch_walk(run->s, w);
			alarm(0);
		}
		if (st.files != w->files || st.dirs != w->dirs || st.symlinks != w->symlinks ||
		    st.used_nodes != w->nodes) {
			ch_stats_str(sb, sizeof(sb), &st);
			ch_fail(run,
				"%s: with every worker dead, the tree reaches %lu files, %lu dirs, "
				"%lu symlinks, %lu nodes but the store holds %llu files, %llu dirs, "
				"%llu symlinks, %llu nodes (orphans of killed processes not reclaimed "
				"after 3 s); %s",
				when, w->files, w->dirs, w->symlinks, w->nodes,
				(unsigned long long)st.files, (unsigned long long)st.dirs,
				(unsigned long long)st.symlinks, (unsigned long long)st.used_nodes, sb);
		}
	}
	free(w);
}

/* Removes everything under path, depth first. */
static void ch_drain_dir(struct ch_run *run, const char *path, int depth)
{
	char names[256][256];
	unsigned char types[256];
	for (int pass = 0; pass < 20; pass++) {
		ms_ino d;
		struct ms_dirent e;
		int n = 0, r = ms_lookup_dir(run->s, 0, path, &d);
		if (r) {
			ch_fail(run, "drain: ms_lookup_dir %s: %d (%s)", path, r, strerror(-r));
			return;
		}
		uint64_t c = 0;
		while (n < 256 && (r = ms_readdir(run->s, d, c, &e)) == 1) {
			c = e.cookie;
			if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
				continue;
			snprintf(names[n], sizeof(names[n]), "%s", e.name);
			types[n++] = e.type;
		}
		ms_ino_put(run->s, d);
		if (r < 0)
			ch_fail(run, "drain: ms_readdir %s: %d (%s)", path, r, strerror(-r));
		if (n == 0)
			return;
		for (int i = 0; i < n; i++) {
			char child[4096];
			snprintf(child, sizeof(child), "%.3800s/%.255s", path, names[i]);
			if (types[i] == DT_DIR) {
				if (depth < 400)
					ch_drain_dir(run, child, depth + 1);
				r = ms_rmdir(run->s, 0, child);
				if (r)
					ch_fail(run, "drain: ms_rmdir %s: %d (%s)", child, r, strerror(-r));
			} else {
				r = ms_unlink(run->s, 0, child);
				if (r)
					ch_fail(run, "drain: ms_unlink %s: %d (%s)", child, r, strerror(-r));
			}
		}
	}
	ch_fail(run, "drain: %s still has entries after 20 passes", path);
}

static void ch_drain(struct ch_run *run)
{
	char sb[300];
	struct ms_stats st;
	ch_guard("drain");
	ch_drain_dir(run, "/mem", 0);
	alarm(0);
	/* Nothing is open anywhere: every byte and node must come back. */
	for (int i = 0; i < 30; i++) {
		ch_guard("stats");
		ms_stats_get(run->s, &st);
		alarm(0);
		if (st.used_bytes == 0 && st.used_nodes == 0)
			break;
		ch_usleep(100000);
	}
	run->res->after_drain = st;
	if (st.used_bytes || st.used_nodes) {
		/* Name what is left: slot, type, references, flags. */
		char left[400] = "";
		size_t k = 0;
		int shown = 0;
		struct ms_hdr *h = run->s->hdr;
		ms_ns_lock(run->s);
		for (uint32_t i = 1; i < h->inode_bump && k < sizeof(left) - 80; i++) {
			struct ms_inode *in = ms_inode_at(run->s, i);
			if (!in->ino_no || (in->flags & (MS_I_SKEL | MS_I_PREFIX)) || i == h->root)
				continue;
			if (shown++ < 6)
				k += (size_t)snprintf(left + k, sizeof(left) - k,
						      "%sslot %u: %s, nlink %u, opens %u, %s", k ? "; " : "",
						      i, S_ISDIR(in->mode) ? "dir" : S_ISREG(in->mode) ? "file" : "symlink",
						      in->nlink, in->opens,
						      (in->flags & MS_I_ORPHAN) ? "orphan" : "not on the orphan list");
		}
		ms_ns_unlock(run->s);
		ch_stats_str(sb, sizeof(sb), &st);
		ch_fail(run,
			"after removing everything with every worker dead: %s (3 s given to "
			"the keeper to reclaim orphans); left: %s",
			sb, left);
	}
	ch_check_ms(run, "after removing everything");
	pid_t kp = ms_store_keeper_pid(run->s);
	int fds = 0, memfds = 0;
	for (int i = 0; i < 30; i++) {
		fds = ch_keeper_fds(kp, &memfds);
		if (fds >= 0 && memfds <= MS_POOL_SLOTS && fds <= MS_POOL_SLOTS + CH_FD_SLACK)
			break;
		ch_usleep(100000);
	}
	char err[600];
	int bad = 0;
	for (int i = 0; i < 30; i++) {
		bad = ch_memfd_audit(run, err, sizeof(err));
		if (!bad)
			break;
		ch_usleep(100000);
	}
	if (bad)
		ch_fail(run, "after removing everything: memfds: %s", err);
	run->res->keeper_fds = fds;
	run->res->keeper_memfds = memfds;
	run->res->pool = ch_pool(run->s);
	if (fds < 0)
		ch_fail(run, "after removing everything: cannot list /proc/%d/fd: %s", (int)kp,
			strerror(-fds));
	else if (memfds > MS_POOL_SLOTS || fds > MS_POOL_SLOTS + CH_FD_SLACK)
		ch_fail(run,
			"after removing everything: the keeper (pid %d) holds %d fds, %d of them "
			"file memfds; its pool lists %d (of %d) and no file exists: %d memfds "
			"unaccounted for (limit: %d memfds, %d fds)",
			(int)kp, fds, memfds, ch_pool(run->s), MS_POOL_SLOTS, memfds - ch_pool(run->s),
			MS_POOL_SLOTS, MS_POOL_SLOTS + CH_FD_SLACK);
}

static void ch_print(const struct chaos_result *r)
{
	char sb[300];
	fprintf(stderr,
		"chaos: seed %u, %d workers x %d threads, %.1f s: %lu kills (%lu inside a store "
		"operation, %lu right after fork), %lu worker processes started, %lu operations "
		"(%lu refused by the quota, %lu unexpected errors), %lu checks (%lu all-stopped, "
		"%lu live), %lu failures\n",
		r->seed, r->workers, r->threads, r->seconds, r->kills, r->kills_in_op,
		r->kills_after_fork, r->started, r->ops, r->refused, r->unexpected,
		r->checks + r->live_checks, r->checks, r->live_checks, r->failures);
	fprintf(stderr,
		"chaos: %lu kills inspected (stopped first): %lu with a store lock held "
		"(ns_lock %lu, ledger_lock %lu, keeper_lock %lu, a data lock %lu)\n",
		r->inspected, r->locked, r->locked_ns, r->locked_ledger, r->locked_keeper,
		r->locked_data);
	fprintf(stderr, "chaos: ms_store_attach: %lu completed, mean %.0f us, max %.0f us\n",
		r->attaches, r->attaches ? (double)r->attach_ns_sum / (double)r->attaches / 1e3 : 0.0,
		(double)r->attach_ns_max / 1e3);
	fprintf(stderr, "chaos: kills inside:");
	for (int i = 1; i < CH_NOPS; i++)
		if (r->kills_by_op[i])
			fprintf(stderr, " %s %lu", ch_opname[i], r->kills_by_op[i]);
	fprintf(stderr, "\n");
	ch_stats_str(sb, sizeof(sb), &r->before_drain);
	fprintf(stderr, "chaos: at the end: %s\n", sb);
	ch_stats_str(sb, sizeof(sb), &r->after_drain);
	fprintf(stderr, "chaos: after removing everything: %s; keeper fds %d (%d file memfds, "
		"pool %d of %d)\n", sb, r->keeper_fds, r->keeper_memfds, r->pool, MS_POOL_SLOTS);
	if (r->first_check[0])
		fprintf(stderr, "chaos: first ms_check failure: %s\n", r->first_check);
	if (r->failures)
		fprintf(stderr, "chaos: first failure: %s\n", r->failure);
}

/* The kills a run performs: MEMSHIM_CHAOS_KILLS, else sized for CI time. */
static long chaos_kills(void)
{
	return ch_env("MEMSHIM_CHAOS_KILLS", CH_SANITIZED ? 1000 : 6000);
}

/* Runs the chaos on a fresh store with its keeper. Returns 0 with *res
 * filled (res->failures says whether every check held), or -1 when the
 * set-up itself failed (reason in res->failure). */
static int chaos_run(const char *keeper, struct chaos_result *res)
{
	struct ch_run run;
	memset(res, 0, sizeof(*res));
	memset(&run, 0, sizeof(run));
	run.res = res;
	long target = chaos_kills();
	run.nw = (int)ch_env("MEMSHIM_CHAOS_WORKERS", 4);
	run.nt = (int)ch_env("MEMSHIM_CHAOS_THREADS", 2);
	if (run.nw < 1 || run.nw > CH_MAXW || run.nt < 1 || run.nt > CH_MAXT) {
		snprintf(res->failure, sizeof(res->failure), "workers 1..%d, threads 1..%d", CH_MAXW,
			 CH_MAXT);
		return -1;
	}
	res->workers = run.nw;
	res->threads = run.nt;
	res->seed = (unsigned)ch_env("MEMSHIM_CHAOS_SEED", (long)(time(NULL) ^ getpid()));
	run.seed = res->seed;
	for (size_t i = 0; i < sizeof(ch_data); i++)
		ch_data[i] = (char)('a' + i % 26);

	ch_sh = mmap(NULL, sizeof(*ch_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	if (ch_sh == MAP_FAILED) {
		snprintf(res->failure, sizeof(res->failure), "mmap: %s", strerror(errno));
		return -1;
	}
	memset(ch_sh, 0, sizeof(*ch_sh));
	static struct ms_config c;
	c = t_config(CH_QUOTA, CH_NODES);
	run.o.cfg = &c;
	run.o.keeper_path = keeper;
	int r = ms_store_open(&run.o, &run.s);
	if (r) {
		snprintf(res->failure, sizeof(res->failure), "cannot create the store: %s",
			 strerror(-r));
		munmap(ch_sh, sizeof(*ch_sh));
		return -1;
	}
	ch_alarm_store = run.s;
	ch_nw_alarm = run.nw;
	signal(SIGALRM, ch_watchdog);
	fprintf(stderr, "chaos: seed %u (MEMSHIM_CHAOS_SEED), %ld kills (MEMSHIM_CHAOS_KILLS), "
		"%d workers x %d threads, quota %u bytes, %u nodes, keeper pid %d\n",
		res->seed, target, run.nw, run.nt, CH_QUOTA, CH_NODES,
		(int)ms_store_keeper_pid(run.s));

	double t0 = ch_now(), last_progress = t0;
	unsigned long last_ops = 0;
	for (int k = 0; k < run.nw; k++)
		ch_start(&run, k);
	while ((long)res->kills < target) {
		ch_usleep((long)(ch_rnd(&run.seed) % 2001));
		ch_reap_unexpected(&run);
		int k = (int)(ch_rnd(&run.seed) % (unsigned)run.nw);
		ch_kill(&run, k, ch_rnd(&run.seed) % 4 == 0);
		ch_start(&run, k);
		if (ch_rnd(&run.seed) % 10 == 0) { /* right after fork */
			unsigned long before = res->kills;
			ch_kill(&run, k, 0);
			res->kills_after_fork += res->kills - before;
			ch_start(&run, k);
		}
		if (res->kills % CH_LIVE_EVERY == 0 && res->kills % CH_CHECK_EVERY) {
			char msg[512];
			ch_guard("live ms_check");
			r = ms_check(run.s, msg, sizeof(msg));
			alarm(0);
			res->live_checks++;
			if (r) {
				if (!res->first_check[0])
					snprintf(res->first_check, sizeof(res->first_check), "%s", msg);
				ch_fail(&run, "live check after %lu kills: ms_check: %s", res->kills, msg);
			}
		}
		if (res->kills % CH_CHECK_EVERY == 0 && (long)res->kills < target) {
			ch_stop_all(&run);
			ch_checkpoint(&run, 0);
			for (int j = 0; j < run.nw; j++)
				ch_start(&run, j);
		}
		unsigned long ops = atomic_load(&ch_sh->ops);
		double now = ch_now();
		if (ops != last_ops) {
			last_ops = ops;
			last_progress = now;
		} else if (now - last_progress > 10) {
			int owner = ch_lock_owner(&run.s->hdr->ns_lock);
			ch_fail(&run,
				"no store operation completed for 10 s after %lu kills: the store is "
				"wedged (ns_lock owner tid %d, %s)",
				res->kills, owner, owner && kill(owner, 0) == 0 ? "alive" : "not alive");
			break;
		}
		if (res->failures > 200)
			break;
	}
	ch_stop_all(&run);
	res->ops = atomic_load(&ch_sh->ops);
	res->refused = atomic_load(&ch_sh->refused);
	res->unexpected = atomic_load(&ch_sh->unexpected);
	if (res->unexpected)
		ch_fail(&run, "%lu store calls returned an errno no caller could expect; first: %s",
			res->unexpected, ch_sh->unexpected_msg);
	ch_checkpoint(&run, 1);
	ch_guard("stats");
	ms_stats_get(run.s, &res->before_drain);
	alarm(0);
	ch_drain(&run);
	res->seconds = ch_now() - t0;
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	ch_alarm_store = NULL;
	/* The last process detaches: the keeper must go after its grace
	 * period, taking the store with it. */
	pid_t kp = ms_store_keeper_pid(run.s);
	ms_store_close(run.s);
	int gone = 0;
	for (int i = 0; i < 50 && !gone; i++) {
		gone = kill(kp, 0) != 0;
		if (!gone)
			ch_usleep(100000);
	}
	if (!gone) {
		int memfds = 0, fds = ch_keeper_fds(kp, &memfds);
		ch_fail(&run,
			"the keeper (pid %d) is still running 5 s after the last process detached "
			"(it holds %d fds, %d of them file memfds); killed",
			(int)kp, fds, memfds);
		kill(kp, SIGKILL);
	}
	ch_print(res);
	munmap(ch_sh, sizeof(*ch_sh));
	ch_sh = NULL;
	return 0;
}

#endif
