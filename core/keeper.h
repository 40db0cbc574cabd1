/* core/keeper.h — the keeper: the process that holds a store's arena and
 * file memfds so files outlive their writers: the protocol both sides
 * speak, and the client side (core/keeper.c). Private to core/ and the
 * keeper's server (keeper/).
 *
 * Protocol: a SOCK_SEQPACKET socket in the abstract namespace,
 * "\0memshim-<uid>-<store name>". Every attached process keeps one
 * connection open as a liveness pin (and sends pokes on it); a request that
 * wants an answer goes on the pin with one end of a socket pair of its own
 * (SCM_RIGHTS) and the keeper answers on that, so replies can never be read
 * by a forked child or another thread. The keeper exits when no pin has
 * been connected for a grace period.
 *
 * Who is heard. The keeper accepts a connection only from its own uid (the
 * store's owner, SO_PEERCRED at connect time), and every request comes over
 * such a connection: the pin a process of the tree made when it attached,
 * or inherited across fork. A process that dropped privileges afterwards
 * (setresuid to another user) keeps its pin and is still heard: it cannot
 * re-open the keeper's memfds through /proc/<keeper>/fd any more (the
 * kernel's ptrace access check), so it asks for them here (MS_OP_FD). The
 * keeper hands the fd out without checking permissions itself: the store's
 * checks ran in the asking process, against its credentials (core/perm.c),
 * and a process holding the pin also has the arena mapped read-write, so a
 * check here would protect nothing it could not change anyway. The
 * boundary is the pin: only processes that descend from the owner's
 * attached processes (or that can ptrace one of them) hold one. A program
 * exec'd by a process that is not the owner any more inherits its pin
 * (ms_store_pin_for_exec, MEMSHIM_PIN) and attaches through it; a process
 * of another uid without one is refused.
 */
#ifndef MEMSHIM_CORE_KEEPER_H
#define MEMSHIM_CORE_KEEPER_H

#include <stdint.h>

#include "arena.h"

enum ms_op {
	MS_OP_POKE = 1, /* work waits in the close queue or the pool is low */
	MS_OP_NEW_GONE, /* was "reply: a new memfd's kfd"; never reused, so a
			 * client of an older build gets no answer it would
			 * misread as a memfd (MS_OP_FILL replaced it) */
	MS_OP_FD,       /* a = kfd (a handle: the keeper's or a holder's
			 * memfd, arena.h), b = oflags; reply: SCM_RIGHTS fd */
	MS_OP_ARENA,    /* reply: SCM_RIGHTS arena fd */
	MS_OP_RECLAIM,  /* reclaim orphans now; reply: a = how many were freed */
	MS_OP_FILL,     /* the pool ran dry: fill it now; reply: a = 0 or -errno */
	MS_OP_AUDIT,    /* close what the close queue holds, then the audit of
			 * memfds no file names; reply: a = how many the audit
			 * closed, or -EBUSY when ns_lock was taken */
	MS_OP_SPECIAL_DIR, /* make the special files' private directory
			    * (special.c); reply: a = 0 or -errno */
};

struct ms_msg {
	uint32_t op;
	int32_t a;  /* kfd, or -errno in a reply */
	int64_t b;  /* oflags, or kernel inode number in a reply */
};

/* Fds of the keeper program at exec. */
#define MS_KEEPER_ARENA_FD 3
#define MS_KEEPER_LISTEN_FD 4
#define MS_KEEPER_STATUS_FD 5
/* The creator's stderr, kept when MEMSHIM_REPORT is set or memshim-run
 * asked for the summary (hdr->summary): the report's
 * human summary (and the JSON, for "-") is written there when the tree
 * ends. The keeper's own stderr is /dev/null. */
#define MS_KEEPER_REPORT_FD 6

/* Grace period before a keeper with no connection exits: long enough for
 * an exec to reach the new program's constructor. */
#define MS_KEEPER_GRACE_MS 1000

/* Fills sa with the store's socket address; returns its length. */
int ms_sock_addr(const char *name, uint32_t uid, void *sa);

/* Starts the keeper for s (arena created, socket bound but not listening):
 * double fork with raw clone, new session, /dev/null for stdio, exec.
 * Only async-signal-safe work happens between fork and exec. Returns the
 * keeper's pid, or -errno. */
int ms_keeper_spawn(struct ms_store *s, const char *path, int lsock);

/* Connects to the keeper of `name`: returns the socket and the keeper's pid
 * and uid (SO_PEERCRED), or -errno (-ENOENT: no such store). */
int ms_keeper_connect(const char *name, pid_t *pid, uint32_t *uid);

/* Requests over a connection of their own. */
/* Asks the keeper to fill its pool (one round trip) and waits; 0 when the
 * pool holds a memfd at the answer, else -errno. */
int ms_keeper_fill(struct ms_store *s);
int ms_keeper_fd(struct ms_store *s, int32_t kfd, int oflags);
int ms_keeper_arena(struct ms_store *s);
/* Asks the keeper to free orphans no live process holds; returns how many. */
int ms_keeper_reclaim(struct ms_store *s);
/* Asks the keeper for its memfd audit round now (keeper/rounds.c
 * ms_audit_memfds) and waits for it to finish; returns how many memfds no
 * file named it closed, -EBUSY when ns_lock was held, or -errno. For
 * tests: once every process that could take a memfd is dead, the keeper's
 * fds are exactly its pool and the files' memfds after this returns. */
int ms_keeper_audit(struct ms_store *s);
/* The keeper makes the special files' directory: it runs as the store's
 * user, whatever uid the asker has switched to. 0 or -errno. */
int ms_keeper_special_dir(struct ms_store *s);

/* The pool of ready memfds and the close queue (keeper_lock). A memfd
 * taken may still hold a removed file's bytes (*stale): its first open
 * empties it (O_TRUNC). */
int ms_pool_take(struct ms_store *s, int32_t *kfd, uint64_t *kino, int *stale);
/* A removed file's memfd straight back into the pool, not emptied: for a
 * file of at most MS_STALE_FILE bytes of pages, while the pool holds at
 * most MS_STALE_MAX such bytes and has room (1), else not taken (0). A
 * create-and-remove loop then wakes nobody, and the emptying is the next
 * create's open (O_TRUNC) instead of the keeper's ftruncate: a system
 * call less a file (a call costs about 1 us here). Memory the ledger has
 * given back but the kernel still holds: MS_STALE_MAX at most, for a
 * round (the keeper empties those no file took, keeper/main.c stale_out).
 * Under ns_lock, which the takers hold. */
#define MS_STALE_FILE (16u << 10)
#define MS_STALE_MAX (256u << 10)
int ms_pool_give(struct ms_store *s, int32_t kfd, uint64_t kino, uint64_t held);
/* The keeper is woken for a memfd whose pages hold MS_CLOSEQ_WAKE_BYTES or
 * more, or when MS_CLOSEQ_BATCH wait; the rest it closes on its next
 * round (every 100-200 ms, or when the pool runs low), so a loop that
 * creates and removes small files does not wake it once a file. Memory
 * the ledger has given back but the kernel still holds: at most
 * MS_CLOSEQ_BATCH files of less than MS_CLOSEQ_WAKE_BYTES, for one round,
 * in each of the close queue and the reuse ring. */
#define MS_CLOSEQ_WAKE_BYTES (64u << 10)
#define MS_CLOSEQ_BATCH 32u
void ms_closeq_push(struct ms_store *s, int32_t kfd, uint64_t held);
/* The reuse ring (arena.h, reuse): whether it has room for one more, and
 * that one added, woken as for the close queue. Under ns_lock, which keeps
 * the room there from the look to the push. */
int ms_reuse_room(struct ms_store *s);
void ms_reuse_push(struct ms_store *s, int32_t kfd, uint64_t kino, uint64_t held);

#endif
