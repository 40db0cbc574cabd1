/* tests/chaos/chaos.h — the chaos run (issue 4, item 3: crash safety), run
 * by the Criterion test and the standalone program the TSan build runs;
 * what its sources (worker.c, parent.c, checks.c) share.
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
#ifndef MEMSHIM_TESTS_CHAOS_CHAOS_H
#define MEMSHIM_TESTS_CHAOS_CHAOS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

#define CH_MAXW 16
#define CH_MAXT 4
#define CH_CHECK_EVERY 200   /* all-stopped checkpoint */
#define CH_LIVE_EVERY 50     /* ms_check while workers run */
#define CH_MIN_KILLS 3000
#define CH_QUOTA (2u << 20)
#define CH_NODES 200
#define CH_FD_SLACK 16       /* keeper fds beyond its pool: stdio, arena, sockets, epoll */
#define CH_STUCK_S 5.0       /* an operation this long is wedged */

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

extern const char *const ch_opname[CH_NOPS];

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

/* The run (parent.c). */
long chaos_kills(void);
int chaos_run(const char *keeper, struct chaos_result *res);

/* What the sources share. */
extern struct ch_shared *ch_sh; /* parent.c maps it before the first fork */
unsigned ch_rnd(unsigned *seed);
int64_t ch_mono_ns(void);
void ch_worker_prepare(void);
void ch_worker(int k, int nthreads, unsigned seed, const char *name,
	       const struct ms_open_opts *o);
void ch_usleep(long us);
void ch_fail(struct ch_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ch_guard(const char *phase);
int ch_keeper_fds(pid_t kp, int *memfds);
void ch_stats_str(char *b, size_t n, const struct ms_stats *st);
void ch_check_ms(struct ch_run *run, const char *when);
void ch_checkpoint(struct ch_run *run, int final);
void ch_drain(struct ch_run *run);

#endif
