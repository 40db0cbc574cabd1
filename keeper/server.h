/* keeper/server.h — the keeper program's server: its loop, the reclaim and
 * audit rounds, and MEMSHIM_SAVE. Linked into memshim-keeper only
 * (build/libmemshim-keeper.a), never into libmemshim.so: a wrapped process
 * reaches the keeper through core/keeper.h's client side. The server is
 * built on core/'s private headers like any other part of the store.
 */
#ifndef MEMSHIM_KEEPER_SERVER_H
#define MEMSHIM_KEEPER_SERVER_H

#include "arena.h"

/* ---- main.c ---------------------------------------------------------------
 * The keeper program's main loop (fds as core/keeper.h's MS_KEEPER_*_FD);
 * returns its exit status. */
int ms_keeper_main(int argc, char **argv);

/* ---- holder.c ---------------------------------------------------------------
 * The processes that hold file memfds past the keeper's own share
 * (holder.c says who holds what and what a holder's death does). Keeper
 * only, single-threaded. */
/* Once, with the keeper's fd limit raised: how many memfds the keeper and
 * each holder hold at most; the keeper is holder 0. */
void ms_holders_setup(struct ms_store *s);
/* Makes up to n memfds, in the keeper while it has room, else in holders
 * (started as needed): fills kfd (handles) and kino; returns how many, or
 * -errno when none could be made. */
int ms_holders_make(struct ms_store *s, int32_t *kfd, uint64_t *kino, int n);
/* Empties n memfds (ftruncate to 0) wherever they are held, a request
 * to each holder among them: ok[i] 1 when kfd[i] is empty now (at most
 * MS_POOL_SLOTS a call). */
void ms_holders_empty(struct ms_store *s, const int32_t *kfd, uint8_t *ok, int n);
/* Closes n memfds wherever they are held (negative handles skipped; at
 * most 1024 a call). */
void ms_holders_close(struct ms_store *s, const int32_t *kfd, int n);
/* A new fd of memfd kfd with open(2) flags (O_PATH for an fstat), through
 * /proc; the caller closes it. */
int ms_kfd_open(struct ms_store *s, int32_t kfd, int flags);
/* fstat of memfd kfd, wherever it is held. */
int ms_kfd_fstat(struct ms_store *s, int32_t kfd, struct stat *st);
/* 1 when pid is one of the holders (they hold every memfd: not a sign of
 * a process using a file). */
int ms_holder_pid(struct ms_store *s, pid_t pid);
/* Each round: a holder that died is forgotten (its files marked
 * MS_KFD_LOST) and reaped. Takes ns_lock with a trylock only. */
void ms_holders_check(struct ms_store *s);

/* ---- rounds.c ---------------------------------------------------------------
 * Keeper rounds: free orphans no live process holds; measure uncounted
 * bytes and seal their files when over quota. Never wait for ns_lock.
 * ms_reclaim_orphans returns how many were freed; *pending (may be NULL)
 * how many were found unheld for the first time (freed at the next look). */
int ms_reclaim_orphans(struct ms_store *s, int *pending);
/* One batch of a reconciliation pass (rounds.c); start: begin a pass when
 * none is under way. Returns 1 while a pass is under way. */
int ms_reconcile_sizes(struct ms_store *s, int start);
/* Closes the keeper's memfds that no inode, pool entry or close-queue entry
 * names (a process died between taking and naming one). Returns how many,
 * or -EBUSY when ns_lock was taken (nothing was looked at). */
int ms_audit_memfds(struct ms_store *s);
/* ns_lock held: directory references of dead processes go back; a removed
 * directory nobody holds any more is freed. Returns how many were freed. */
int ms_reclaim_dirrefs(struct ms_store *s);

/* ---- save.c -----------------------------------------------------------------
 * Writes the tree under hdr->save_root out to the real directory dir (made
 * like mkdir -p), overwriting what is there by the same names; run by the
 * keeper when it exits (file bytes from its own kfds). When that prefix
 * lies over a real tree (MEMSHIM_LOWER), only the changes (changes.c): the
 * created and modified names, and the deleted ones listed in
 * dir/.memshim-deleted. Returns 0 or the first -errno, after trying
 * everything and logging each failure. */
int ms_save(struct ms_store *s, const char *dir);

/* ---- changes.c --------------------------------------------------------------
 * What the run changed in the real trees below the store (MEMSHIM_LOWER):
 * ms_changes_get fills *out (a walk under ns_lock that brings nothing in)
 * with one entry per created, modified or deleted name, store paths in
 * tree order; returns 0 or -errno (-ENOMEM, -ENAMETOOLONG: what was found
 * so far is kept). ms_changes_free frees it. */
#define MS_CHANGE_CREATED 'c'
#define MS_CHANGE_MODIFIED 'm'
#define MS_CHANGE_DELETED 'd'
struct ms_change {
	int kind;      /* MS_CHANGE_* */
	uint32_t ino;  /* the store's node; 0 for a deleted name */
	uint32_t dir;  /* the store directory holding the name */
	uint32_t mode; /* its mode (a deleted directory: S_IFDIR) */
	char *path;    /* store path */
};
struct ms_changes {
	struct ms_change *v;
	size_t n, cap;
	uint64_t count[3]; /* created, modified, deleted */
	int nlower;
	struct {
		char *prefix;    /* the store's path */
		const char *dir; /* the real directory below it (in the arena) */
	} lower[MS_LOWERS];
};
int ms_changes_get(struct ms_store *s, struct ms_changes *out);
void ms_changes_free(struct ms_changes *c);

/* ---- report.c ---------------------------------------------------------------
 * The end-of-run report (doc/report.md). The keeper samples usage into a
 * ring of its own memory, halving the rate each time the ring fills, and
 * notes the biggest files whenever usage passes the highest it has seen. */
#define MS_REPORT_SAMPLES 512
#define MS_REPORT_TOP 5
struct ms_report_file {
	char path[240];
	uint64_t size;
};
struct ms_report {
	struct {
		uint32_t t_ms;    /* since the store was made */
		uint32_t refused; /* refusals so far */
		uint64_t bytes;   /* used_bytes */
	} samples[MS_REPORT_SAMPLES];
	uint32_t n;
	int64_t interval_ms, last_ms;
	int64_t end_ns;          /* the last process left (CLOCK_REALTIME); 0 = running */
	/* the biggest files when usage was highest */
	struct ms_report_file peak_files[MS_REPORT_TOP];
	int npeak, peak_seen;
	uint64_t peak_at_bytes;
	int64_t peak_at_ms;
	int64_t walk_ns, walk_at_ns; /* the last look at the files: how long, when it ended */
};
/* One sample when the interval has passed (or now, with force). Never
 * waits for ns_lock. */
void ms_report_sample(struct ms_store *s, struct ms_report *r, int force);
/* The store's JSON report to f; r NULL for a live store seen by a tool
 * (no samples, no files at the peak); final says the tree has ended. */
#include <stdio.h>
void ms_report_json(FILE *f, struct ms_store *s, const struct ms_report *r, int final);
/* When the tree has ended: the summary and JSON (hdr->report) and the
 * chart (hdr->chart). Returns 0 or the first -errno. */
int ms_report_write(struct ms_store *s, struct ms_report *r);

#endif
