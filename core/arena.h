/* core/arena.h — private layout of the shared arena (only core/ and the
 * keeper's server, keeper/, include it), and the calls core/'s files make
 * of one another, one section per file.
 *
 * The arena is one memfd mapped MAP_SHARED by every process of the tree. It
 * holds offsets, never pointers: slot indices (uint32_t, 0 = none) into
 * fixed arrays whose sizes are computed from the limits at creation, so no
 * later allocation can fail from fragmentation. Slot arrays are handed out by
 * a bump index first and a free list after, so untouched slots cost no
 * memory.
 *
 * Lock rules. Every shared field carries one tag:
 *   [const]   never changes after creation;
 *   [ns]      read and written under hdr->ns_lock;
 *   [data]    read and written under the inode's data_lock;
 *   [ledger]  written under hdr->ledger_lock, with the old values in the
 *             journal first; read anywhere with __atomic loads (statistics),
 *             so a reader without the lock sees each counter whole but not
 *             two of them from the same moment;
 *   [keeper]  read and written under hdr->keeper_lock;
 *   [atomic]  read and written with __atomic builtins, under no lock.
 * Order (a lock is only ever taken while holding locks above it):
 *   ns_lock  >  an inode's data_lock  >  ledger_lock
 *   ns_lock  >  keeper_lock
 * ledger_lock and keeper_lock are never held together, nor two data locks.
 * The keeper's rounds take ns_lock and data locks with trylock only: a
 * process may wait for the keeper (ms_keeper_reclaim, on the refusal path)
 * while it holds a data lock. All four are robust and process-shared; a
 * holder that dies is repaired by the next locker (repair.c, ledger.c's
 * journal). The shim's process-local locks come before all of these
 * (doc/ARCHITECTURE.md gives the whole order).
 */
#ifndef MEMSHIM_CORE_ARENA_H
#define MEMSHIM_CORE_ARENA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "sys.h"
#include <sys/mman.h>

#define MS_MAGIC 0x314d494853454d4dULL /* "MMESHIM1" little-endian */
#define MS_LAYOUT_VERSION 13
#define MS_NAME_MAX 255
#define MS_POOL_SLOTS 64   /* ready memfds the keeper keeps listed */
#define MS_REUSE_SLOTS 64  /* memfds of removed files waiting to be emptied */
#define MS_LOWERS 8            /* MEMSHIM_LOWER directories: one per prefix at most */
#define MS_LOWER_DIR_MAX 1024  /* bytes of one, NUL included (config.h's MS_PREFIX_MAX) */
#define MS_EXTRA_SLOTS 64  /* uncharged slots: root and prefix skeleton */
#define MS_NODES_CEILING (1u << 20) /* slots when the node limit is 0 (none) */
#define MS_DIRREFS 1024 /* directory references recorded with their process */
#define MS_KEPT 1024    /* descriptions the shim keeps to lend, with their process */
#define MS_WATCHES 64   /* dnotify registrations in a store (notify.c) */
/* Extended attributes: a value's largest size (the kernel's XATTR_SIZE_MAX)
 * and the most blocks of the attribute pool (64 MiB of attributes). */
#define MS_XATTR_SIZE_MAX 65536
#define MS_XBLOCKS_CEILING (1u << 18)

/* Who holds a file's memfd. One process can hold only as many fds as its
 * hard limit allows, so the keeper holds up to half of its own and starts
 * holder processes (keeper/holder.c) for the rest, as files need them. A
 * memfd is named by a handle, holder << MS_KFD_SHIFT | fd: holder 0 is the
 * keeper itself, so a keeper fd is its own handle. A process re-opens it
 * through /proc/<hdr->holders[holder].pid>/fd/<fd>. An fd is below 2^20
 * (the kernel's largest nr_open is 2^20). */
#define MS_KFD_SHIFT 20
#define MS_HOLDERS 2048 /* the keeper and up to 2047 holders */
#define MS_KFD_LOST (-2) /* its holder was killed: the bytes are gone */
static inline int32_t ms_kfd_make(uint32_t holder, int fd)
{
	return (int32_t)((holder << MS_KFD_SHIFT) | (uint32_t)fd);
}
static inline uint32_t ms_kfd_holder(int32_t kfd) { return (uint32_t)kfd >> MS_KFD_SHIFT; }
static inline int ms_kfd_fd(int32_t kfd) { return (int)((uint32_t)kfd & ((1u << MS_KFD_SHIFT) - 1)); }

/* A memfd listed in the pool or the reuse ring: its handle and st_ino, and
 * in the pool whether it is still a removed file's (ms_pool_give). */
struct ms_memfd_ref {
	int32_t kfd;
	uint32_t stale; /* 0: empty; else 1 + the bytes of pages it still holds */
	uint64_t kino;
};
/* Adds m at the tail of ring (n entries), keeper_lock held: the entry is
 * written before the tail passes it, so a process killed in between
 * leaves the ring as it was (the lock's next owner takes it as valid). */
static inline void ms_ring_put(struct ms_memfd_ref *ring, uint32_t n, uint32_t *tail,
			       struct ms_memfd_ref m)
{
	ring[*tail % n] = m;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
}

/* inode flags */
#define MS_I_ORPHAN 0x1 /* no links left, still referenced (opens > 0) */
#define MS_I_SKEL 0x2   /* a directory above a prefix: not part of the store */
#define MS_I_PREFIX 0x4 /* a prefix's own directory (never removed) */
#define MS_I_UNHELD 0x8 /* an orphan file the keeper found unheld once (`first`
			 * holds its reference count then) */
#define MS_I_LINKABLE 0x10 /* made by O_TMPFILE without O_EXCL and never named:
			    * linkat may give it a name (the kernel's I_LINKABLE) */
/* MEMSHIM_LOWER (lower.c): came from the real tree below. A directory: its
 * lower entries are merged in; a symlink: its target is the lower one; any
 * other node: lower-backed, its bytes still in the real file (no memfd,
 * kfd -1, `dent` names it). */
#define MS_I_LOWER 0x20
#define MS_I_FILLED 0x40 /* a lower directory all of whose lower entries are nodes */
#define MS_I_UP 0x80     /* a lower file copied up (the report's "modified") */
#define MS_I_MAPPED 0x100 /* a regular file a program mapped through a store fd:
			   * its kept descriptions are never lent again, nor
			   * its pages taken from a mapping at its removal */
#define MS_I_NOREUSE 0x200 /* its memfd never serves another file: a process
			    * closed a description of it that another process
			    * had too (fork, exec, spawn, sent over a socket),
			    * which may not count its reference, or the
			    * keeper sealed it */
#define MS_I_STALE 0x400 /* its memfd came from the pool with a removed file's
			  * bytes in it: the file's first open of it empties
			  * it (memfd.c, ms_data_open), before ns_lock goes;
			  * if its creator was killed first, the next open
			  * does, and the keeper's reconcile passes it over */

struct ms_inode {
	/* robust, pshared; regular files: growth, shrinking, and every copy
	 * through a mapping of the memfd (mapio.c). Made once, by the taker
	 * of the slot from the bump index before it moves the index past it
	 * (ms_inode_alloc, ns_lock); never made again, nor cleared. */
	pthread_mutex_t data_lock;
	uint64_t ino_no;    /* [ns] st_ino; never reused; 0 = free slot */
	/* [atomic] file size / symlink length; a file's is written by the
	 * holder of its data_lock (or by the keeper, with a trylock of it) */
	uint64_t size;
	/* [ledger] data bytes charged: the kernel's st_blocks * 512 as last
	 * seen, plus a reservation while a call is in progress; changed only
	 * by the holder of the file's data_lock, inside ledger_lock with the
	 * used counters */
	uint64_t charged;
	uint64_t memfd_ino; /* [ns] kernel inode number of the memfd;
			     * device nodes: their st_rdev */
	int64_t atime_ns;   /* [atomic] */
	int64_t mtime_ns;   /* [atomic] */
	int64_t ctime_ns;   /* [atomic] */
	int64_t btime_ns;   /* [ns] */
	uint64_t next_seq;  /* [ns] directories: cookie of the next entry */
	uint32_t mode;      /* [ns] S_IF* | permission bits */
	uint32_t uid, gid;  /* [ns] */
	uint32_t nlink;     /* [ns] */
	int32_t kfd;        /* [ns] handle of the memfd (holder, fd: MS_KFD_SHIFT);
			     * -1 none, MS_KFD_LOST its holder was killed */
	uint32_t parent;    /* [ns] directories: parent inode */
	uint32_t first;     /* [ns] directories: first entry (insertion order) */
	uint32_t last;      /* [ns] directories: last entry */
	union {
		uint32_t nentries; /* [ns] directories: entries, without . and .. */
		/* [ns] regular files: open file descriptions processes keep to
		 * lend to their next open of it (shim/lend.c); a hint, as a
		 * killed keeper of one never takes its count back */
		uint32_t lends;
	};
	union {
		uint32_t link;  /* [ns] symlinks: first block of the target */
		/* [ns] regular files with a memfd: the next inode in the
		 * chain of its memfd_ino's bucket (arena.c, the memfd index) */
		uint32_t knext;
	};
	uint32_t nblocks;   /* [ns] symlinks: blocks held */
	uint32_t next_free; /* [ns] free list / orphan list */
	uint32_t flags;     /* [ns] MS_I_* */
	uint32_t opens;     /* [ns] references held by processes (fds, cwd, dir fds) */
	/* [ns] directories and lower-backed files: the entry naming it (0 =
	 * root, removed); other nodes: an entry that named it, a hint that
	 * ms_node_path checks (0: none kept) */
	uint32_t dent;
	uint32_t xattr;     /* [ns] first extended attribute record (an xblock); 0 = none */
	/* [ledger] the program (hdr->progs index + 1; 0 = none) whose write
	 * last grew the file: its charge counts as that program's bytes held */
	uint32_t prog;
	/* [data] moved, before the kernel call, by every call that may take
	 * pages away from the file (truncate, a punched hole): a process's
	 * record of the pages present (mapio.c) is good while it stays */
	uint32_t map_gen;
};

struct ms_dent {
	/* [ns] directory inode; 0 = free slot. Set last when a slot becomes
	 * an entry (ms_dent_attach): the repair keeps only whole names. */
	uint32_t parent;
	uint32_t ino;     /* [ns] inode named */
	uint32_t hnext;   /* [ns] next in hash bucket */
	uint32_t prev;    /* [ns] siblings in insertion order */
	uint32_t next;    /* [ns] */
	uint32_t hash;    /* [ns] hash of (parent, name) */
	uint64_t seq;     /* [ns] readdir cookie of this entry - 2; >= 1 */
	uint16_t namelen; /* [ns] */
	char name[MS_NAME_MAX + 1]; /* [ns] NUL-terminated */
	/* [ns] the named inode's DT_* (ms_dtype of its mode, whose file type
	 * never changes), set with ino (ms_dent_name): readdir reads the
	 * inode only for its number, one cache miss an entry fewer */
	uint8_t type;
	uint8_t pad[5];
};

/* readdir's d_type of a mode: the kernel's IFTODT. */
static inline uint8_t ms_dtype(uint32_t mode)
{
	return (uint8_t)((mode & S_IFMT) >> 12);
}

#define MS_LINK_DATA (MS_BLOCK - 4) /* symlink target bytes per block */
struct ms_block {
	uint32_t next; /* [ns] next block of the same symlink target or attribute */
	char data[MS_LINK_DATA];
};

/* One extended attribute: a chain of blocks of the attribute pool (xblocks,
 * apart from the symlink blocks) whose first block's data begins with this
 * header, followed by the name (no NUL) and the value, running on through
 * the chain. An inode's attributes are chained by `next` in the order they
 * were first set. Each is charged nblocks * MS_BLOCK bytes. */
struct ms_xrec {
	uint32_t next;    /* [ns] first block of the inode's next attribute; 0 = last */
	uint32_t vlen;    /* [ns] value bytes, <= MS_XATTR_SIZE_MAX */
	uint16_t namelen; /* [ns] name bytes, 1..MS_NAME_MAX */
	uint16_t nblocks; /* [ns] blocks of the chain */
};
#define MS_XREC_DATA (MS_BLOCK - 4) /* record bytes a block holds */
/* Blocks of a record with a name of nl bytes and a value of vl bytes. */
static inline uint32_t ms_xrec_blocks(size_t nl, size_t vl)
{
	return (uint32_t)((sizeof(struct ms_xrec) + nl + vl + MS_XREC_DATA - 1) / MS_XREC_DATA);
}

struct ms_ledger {
	uint64_t max_bytes;   /* [const] 0 = unlimited */
	uint64_t max_nodes;   /* [const] 0 = unlimited */
	uint64_t used_bytes;  /* [ledger] */
	uint64_t used_nodes;  /* [ledger] */
	uint64_t peak_bytes;  /* [ledger] */
	uint64_t peak_nodes;  /* [ledger] */
	uint64_t refused;     /* [atomic] */
	uint64_t largest_refused; /* [atomic] */
	uint64_t guard_refused;   /* [atomic] */
	uint64_t uncounted;   /* [atomic] */
	int32_t quota_errno;  /* [const] */
	uint32_t pad;
};

/* What the end-of-run report needs and only the running tree can see:
 * who refused what, and who holds what (doc/report.md). */
#define MS_REFUSALS 8      /* refusals recorded in full (all are counted) */
#define MS_PROGS 64        /* programs tracked; the last entry takes the rest */
#define MS_INJECTED 64     /* kinds of MEMSHIM_FAIL failure recorded (all are counted) */
#define MS_PROG_NAME 32
enum ms_refusal_kind { MS_REFUSED_BYTES, MS_REFUSED_NODES, MS_REFUSED_GUARD };

/* One refused request. Claimed by its process with an atomic add of
 * hdr->nrefusals and then written by that process alone: every field
 * but path at the refusal (ledger.c), path once no lock is held
 * (ms_refusal_name, store.c, or ns.c under ns_lock for a new name).
 * A reader that runs while the tree does may see a path not yet
 * written (""). */
struct ms_refusal {
	int64_t t_ns;     /* CLOCK_REALTIME */
	uint64_t size;    /* bytes asked for (the call's length; MS_NODE_COST for a node) */
	int32_t pid;
	uint32_t prog;    /* progs index + 1; 0 = unknown */
	uint32_t kind;    /* enum ms_refusal_kind */
	uint32_t ino;     /* inode slot of the file written; 0 = a new name */
	char path[240];   /* "" = not known (yet) */
};

/* One kind of failure MEMSHIM_FAIL injected, for the report: the same
 * rule, call, errno, program and path (store.c ms_injected_note). Claimed
 * with an atomic add of hdr->ninj_kinds and written by its process alone,
 * which publishes it by storing count 1 with release order; later ones of
 * the kind add to count. Two processes may claim the same kind at once:
 * the report merges such twins. */
struct ms_injected {
	int64_t t_ns;   /* the first one's, CLOCK_REALTIME */
	int32_t pid;    /* the first one's */
	uint32_t prog;  /* progs index + 1; 0 = unknown */
	int32_t err;    /* the errno injected; 0 = a short write */
	uint16_t rule;  /* 1 = the first rule */
	uint16_t call;  /* enum ms_fail_call */
	uint32_t count; /* [atomic] failures of this kind; 0 = not written yet */
	uint32_t pad;
	char path[240];
};

/* One program (executable name) of the tree. Entries are taken under
 * ledger_lock when a process attaches and never given back. */
struct ms_prog {
	char name[MS_PROG_NAME]; /* [ledger] "" = free entry */
	uint64_t written;   /* [atomic] bytes its writes stored */
	uint64_t held;      /* [ledger] data bytes charged to files it last grew */
	uint64_t peak_held; /* [ledger] */
	uint32_t procs;     /* [atomic] processes that attached running it */
	uint32_t pad;
};

struct ms_hdr {
	uint64_t magic;       /* [const] MS_MAGIC */
	uint32_t version;     /* [const] MS_LAYOUT_VERSION */
	uint32_t hdr_size;    /* [const] sizeof(struct ms_hdr) */
	uint64_t arena_size;  /* [const] bytes of the whole mapping */
	uint32_t uid;         /* [const] owner */
	int32_t keeper_pid;   /* [atomic] set by the keeper when it runs */
	uint64_t dev;         /* [const] st_dev reported for store files */
	uint32_t nslots;      /* [const] inode and entry slots each */
	uint32_t nblocks;     /* [const] symlink blocks */
	uint32_t nbuckets;    /* [const] hash buckets, a power of two */
	uint32_t root;        /* [const] inode of "/" */
	uint32_t nxblocks;    /* [const] extended attribute blocks */
	uint32_t nkbuckets;   /* [const] buckets of the memfd index, a power of two */
	uint64_t off_inodes, off_dents, off_blocks, off_buckets, off_closeq; /* [const] */
	uint64_t off_xblocks; /* [const] */
	uint64_t off_kbuckets; /* [const] */

	/* memory guard */
	int32_t guard_mode, guard_action;   /* [const] */
	uint64_t guard_interval_ns;         /* [const] */
	uint64_t guard_last_ns;             /* [atomic] last probe */
	uint64_t guard_avail;               /* [atomic] bytes seen then */

	pthread_mutex_t ns_lock;
	/* Guards the ledger's used/peak counters and every inode's `charged`
	 * together, so used == sum of charges holds at every unlock. Before a
	 * change the old values go to the journal; a holder that dies mid-change
	 * is rolled back by the next locker. */
	pthread_mutex_t ledger_lock;
	struct ms_ledger ledger;
	struct {
		uint32_t active, ino;  /* [ledger] ino 0 = no inode involved */
		uint64_t used_bytes, used_nodes, charged; /* [ledger] */
	} journal;
	/* Guards the pool and the close queue, shared with the keeper, which
	 * never takes ns_lock (a process may wait for the keeper under it). */
	pthread_mutex_t keeper_lock;

	/* allocators [ns] */
	uint32_t inode_bump, inode_free;
	uint32_t dent_bump, dent_free;
	uint32_t block_bump, block_free;
	uint32_t xblock_bump, xblock_free;
	uint32_t xblocks_used; /* [ns] attribute blocks taken */
	/* [atomic] requests the keeper made of its holders for new memfds
	 * (keeper/holder.c; memshim-stat, a test of the pool's refills) */
	uint32_t holder_makes;
	/* [ns] A rename under way (ns.c ms_rename), for the repair to finish
	 * when its maker dies: written whole, then `active` set, before the
	 * first entry changes; `active` cleared after the last. */
	struct {
		uint32_t active;
		uint32_t exch;      /* RENAME_EXCHANGE: odent and ndent swap inodes */
		uint32_t odent;     /* the entry that moves (exch: the first) */
		uint32_t ndent;     /* the entry replaced, 0 = none (exch: the second) */
		uint32_t oi, ni;    /* the inodes odent and ndent named */
		uint32_t nd;        /* the new parent directory */
		uint32_t len;       /* of the new name */
		char name[MS_NAME_MAX + 1];
	} rename_intent;
	uint64_t next_ino_no;
	uint32_t orphans;     /* [ns] list of MS_I_ORPHAN inodes */
	uint32_t norphans;    /* [ns] */

	/* ready memfds listed by the keeper, and small removed files' ones
	 * a process gave back not yet emptied (ms_pool_give): a ring [keeper] */
	uint32_t pool_head, pool_tail;
	struct ms_memfd_ref pool[MS_POOL_SLOTS];
	/* keeper fds to close (freed files): ring of nslots+1 int32 at
	 * off_closeq [keeper]; never overflows, each file is queued once. */
	uint32_t closeq_head, closeq_tail;
	uint64_t ops;         /* [atomic] mutating operations, for the stress test */
	uint32_t poked;       /* [atomic] a poke is on its way to the keeper */
	uint32_t reclaim;     /* [atomic] an orphan appeared: look for dead holders */
	uint64_t reclaim_ns;  /* [atomic] when a process last asked for a reclaim */
	char name[MS_STORE_NAME_MAX]; /* [const] store name */
	/* MEMSHIM_SAVE of the creator: the keeper writes the tree under
	 * save_root (the first prefix) out to save_dir when it exits; "" = off.
	 * [const], but cleared by a creation that failed after the keeper
	 * started, so nothing half-made is saved. */
	uint32_t save_root;
	/* [const] The kernel gives memfds 4 KiB pages only (no huge pages for
	 * shmem, read from sysfs at creation): a write's pages can then be
	 * counted without asking it (data.c ms_write_end). */
	uint32_t pages_exact;
	char save_dir[PATH_MAX];
	/* Who holds each directory reference (a cwd, a directory fd): a
	 * removed directory held only by dead processes can then be freed.
	 * Files need no such table: the kernel says who holds a memfd (but
	 * for the descriptions the shim keeps, `kept` below). [ns] */
	struct {
		int32_t pid; /* 0 = free entry */
		uint32_t ino;
	} dirrefs[MS_DIRREFS];
	uint32_t dirrefs_full; /* [atomic] a reference went unrecorded once */
	/* dnotify registrations (notify.c): [ns]; nwatches is also read
	 * without the lock as a hint that there are none */
	uint32_t nwatches;
	struct {
		int32_t pid; /* 0 = free entry */
		int32_t fd;
		uint32_t dir, mask; /* mask: DN_* */
		int32_t sig;
		uint32_t pad;
	} watches[MS_WATCHES];
	uint32_t summary;      /* [const] the keeper holds the creator's stderr
				* for the report's summary (ms_open_opts) */

	/* The end-of-run report (doc/report.md), written by the keeper.
	 * Per-program figures are not journalled: a process killed inside
	 * ledger_lock may leave them a charge off (they are a report, not
	 * the ledger). */
	int64_t start_ns;          /* [const] creation, CLOCK_REALTIME */
	int64_t peak_bytes_ns;     /* [ledger] when peak_bytes was last raised */
	int64_t peak_nodes_ns;     /* [ledger] when peak_nodes was last raised */
	uint32_t attached;         /* [atomic] processes that attached (not tools) */
	uint32_t nrefusals;        /* [atomic] records claimed (may pass MS_REFUSALS) */
	struct ms_refusal refusals[MS_REFUSALS]; /* see struct ms_refusal */
	struct ms_prog progs[MS_PROGS];
	/* MEMSHIM_REPORT and MEMSHIM_CHART of the creator; "" = off. [const] */
	char report[PATH_MAX];
	char chart[PATH_MAX];
	uint32_t ninjected;        /* [atomic] failures injected, all of them */
	uint32_t ninj_kinds;       /* [atomic] kinds claimed (may pass MS_INJECTED) */
	struct ms_injected injected[MS_INJECTED]; /* see struct ms_injected */
	/* MEMSHIM_LOWER of the creator (lower.c): the prefix directory `ino`
	 * lies over the real directory `dir`; ino 0 = unused entry. [const] */
	struct {
		uint32_t ino;
		uint32_t pad;
		char dir[MS_LOWER_DIR_MAX];
	} lower[MS_LOWERS];

	/* The processes that hold file memfds (see MS_KFD_SHIFT): [0] is the
	 * keeper, [1, nholders) the holders it started. The keeper writes a
	 * holder's pid before it publishes any handle naming it, and clears
	 * it (under ns_lock, after every inode naming it is marked
	 * MS_KFD_LOST) before it reaps a holder that died, so a pid read
	 * under ns_lock for a live handle is never a recycled one. nfds:
	 * memfds each holds now (the pool's included), for the tools. */
	uint32_t nholders; /* [atomic] */
	uint32_t audit_due; /* [atomic] ms_repair ran: a memfd may be unnamed */
	struct {
		int32_t pid;   /* [atomic] 0 = none or gone */
		uint32_t nfds; /* [atomic] */
	} holders[MS_HOLDERS];
	/* The open file descriptions the shim keeps to lend (shim/lend.c):
	 * an fd of a live process that is not the program's use of the file.
	 * An orphan held by those alone goes (keeper/rounds.c), as on tmpfs
	 * when its last holder dies. A process claims a free entry by its pid
	 * (0 -> pid), then writes fd and kino (the memfd's st_ino); it frees
	 * the entry (pid = 0) before it closes the fd. Read without a lock:
	 * an entry half made or half freed only makes a holder count, never
	 * the other way. The keeper frees the entries of dead processes.
	 * [atomic] */
	struct {
		int32_t pid;   /* 0 = free entry */
		int32_t fd;
		uint64_t kino;
	} kept[MS_KEPT];
	/* Memfds of removed files that only the keeper can still reach
	 * (data.c, ms_inode_free_now): the keeper empties each and lists it
	 * in the pool again, instead of closing it and making another
	 * (ftruncate: 1-2 us here, against memfd_create, fstat and close:
	 * 5 us); a holder's, the holder empties (keeper/holder.c,
	 * H_EMPTY: one request for each holder's batch). A ring [keeper_lock]:
	 * processes add under ns_lock too, the keeper takes; when it is
	 * full, the close queue. */
	uint32_t reuse_head, reuse_tail;
	struct ms_memfd_ref reuse[MS_REUSE_SLOTS];
};

/* The layout shared with processes built from other copies of this code:
 * a change to any of these structures fails the build here until
 * MS_LAYOUT_VERSION is bumped and the new sizes are recorded (x86-64). */
_Static_assert(offsetof(struct ms_inode, data_lock) == 0, "data_lock first");
_Static_assert((sizeof(struct ms_inode) + sizeof(struct ms_dent)) % 8 == 0,
	       "inode and entry pairs keep both 8-aligned");
_Static_assert(sizeof(struct ms_inode) % 8 == 0, "inode slots 8-aligned");
_Static_assert(sizeof(struct ms_dent) % 8 == 0, "entry slots 8-aligned");
_Static_assert(sizeof(struct ms_block) == MS_BLOCK, "block size");
_Static_assert(offsetof(struct ms_dent, name) + MS_NAME_MAX + 1 <= sizeof(struct ms_dent),
	       "a full name fits");
_Static_assert(offsetof(struct ms_hdr, magic) == 0, "magic first");
_Static_assert(offsetof(struct ms_hdr, version) == 8, "version after magic");
_Static_assert(offsetof(struct ms_hdr, ns_lock) % 8 == 0, "locks 8-aligned");
_Static_assert(sizeof(struct ms_xrec) == 12, "attribute record header");
_Static_assert(sizeof(struct ms_refusal) == 272, "refusal record");
_Static_assert(sizeof(struct ms_prog) == 64, "program entry");
_Static_assert(sizeof(struct ms_injected) == 272, "injected failure record");
_Static_assert(MS_LAYOUT_VERSION != 12 ||
		       (sizeof(struct ms_inode) == 184 && sizeof(struct ms_dent) == 296 &&
			sizeof(struct ms_ledger) == 88 &&
			sizeof(struct ms_hdr) ==
				55880 + 8 + 8 * MS_HOLDERS + 16 * MS_KEPT + 8 + 16 * MS_REUSE_SLOTS),
	       "the shared layout changed: bump MS_LAYOUT_VERSION, record the new sizes");

/* Who the caller is, for the permission checks (perm.c): one view of the
 * process's credentials. */
#define MS_CRED_GROUPS 32 /* supplementary groups kept; beyond, the kernel is asked */
#define MS_CRED_RING 4    /* copies a refresh rotates through */
struct ms_cred {
	uint32_t uid, gid; /* fsuid and fsgid (access(2): the real ids) */
	uint32_t caps;     /* effective capabilities: bit n = capability n (n < 32) */
	uint32_t ngroups;  /* supplementary groups; the first MS_CRED_GROUPS in groups */
	uint32_t groups[MS_CRED_GROUPS];
};
/* One reading of the process's credentials: what its file-system calls are
 * checked against (fs), and what access(2) without AT_EACCESS checks
 * against (real: the real ids, and the permitted capabilities of a real
 * root, none otherwise). */
struct ms_creds {
	struct ms_cred fs, real;
};

/* One process's view of a store. */
struct ms_store {
	struct ms_hdr *hdr;
	uint8_t *base;
	int arena_fd;   /* process-local fd of the arena memfd */
	int sock;       /* connection to the keeper; -1 for a local store */
	int procdir;    /* O_PATH fd of /proc/<keeper>/fd; -1 = use SCM_RIGHTS */
	/* O_PATH fd of holder hdir_h's /proc/<hdir_pid>/fd, or -1; hdir_want:
	 * the holder of the last re-open not made through it (memfd.c,
	 * holder_open). The process's own, under ns_lock. */
	int hdir;
	uint32_t hdir_h, hdir_want;
	int32_t hdir_pid;
	pid_t keeper_pid;
	uint64_t memfd_dev; /* st_dev of every memfd (the arena's): a re-open
			     * through a holder's /proc entry is checked */
	int local;      /* no keeper: kfds are this process's own fds */
	int owner;      /* created the arena */
	/* the keeper and the tools: MEMSHIM_LOWER's entries are never brought
	 * in (lower.c), so a save or a report reads what the run made, not the
	 * whole real tree */
	int lower_frozen;
	uint32_t prog;  /* hdr->progs index + 1 of this process's program; 0 = a tool */
	mode_t umask;   /* the process's file mode creation mask */
	char name[MS_STORE_NAME_MAX];
	/* The process's credentials (perm.c): the current copy is
	 * creds[cred_gen % MS_CRED_RING]; a refresh writes the next slot,
	 * then moves cred_gen. */
	struct ms_creds creds[MS_CRED_RING];
	uint32_t cred_gen;    /* [atomic] */
	uint32_t cred_busy;   /* [atomic] a refresh is writing the next slot */
	uint32_t proc_denied; /* [atomic] cred_gen + 1 when /proc/<keeper>/fd
			       * refused these credentials (memfd.c) */
	/* Last: an attach writes the fields above and the configuration's
	 * first page (its scalars and first prefix, config.h), two pages of
	 * the handle; its path arrays are rarely read. */
	struct ms_config cfg;
};

/* Inode slot i and entry slot i sit side by side in one array of
 * MS_NODE_STRIDE-byte pairs (off_dents = off_inodes + the inode's size):
 * a file made in a fresh store gets entry and inode slots of about the
 * same number, so a look-up that finds its entry finds its inode in the
 * same page, one TLB miss instead of two in a store of a million files. */
#define MS_NODE_STRIDE (sizeof(struct ms_inode) + sizeof(struct ms_dent))
static inline struct ms_inode *ms_inode_at(struct ms_store *s, uint32_t i)
{
	return (struct ms_inode *)(s->base + s->hdr->off_inodes + (uint64_t)i * MS_NODE_STRIDE);
}
static inline struct ms_dent *ms_dent_at(struct ms_store *s, uint32_t i)
{
	return (struct ms_dent *)(s->base + s->hdr->off_dents + (uint64_t)i * MS_NODE_STRIDE);
}
/* The slot number of inode in. */
static inline uint32_t ms_inode_slot(struct ms_store *s, const struct ms_inode *in)
{
	return (uint32_t)(((const uint8_t *)in - s->base - s->hdr->off_inodes) / MS_NODE_STRIDE);
}
static inline struct ms_block *ms_block_at(struct ms_store *s, uint32_t i)
{
	return (struct ms_block *)(s->base + s->hdr->off_blocks) + i;
}
static inline struct ms_block *ms_xblock_at(struct ms_store *s, uint32_t i)
{
	return (struct ms_block *)(s->base + s->hdr->off_xblocks) + i;
}
static inline struct ms_xrec *ms_xrec_at(struct ms_store *s, uint32_t i)
{
	return (struct ms_xrec *)ms_xblock_at(s, i)->data;
}
static inline uint32_t *ms_buckets(struct ms_store *s)
{
	return (uint32_t *)(s->base + s->hdr->off_buckets);
}
static inline uint32_t *ms_kbuckets(struct ms_store *s)
{
	return (uint32_t *)(s->base + s->hdr->off_kbuckets);
}

/* ---- arena.c: locks, allocators, layout ---------------------------------- */

/* Computes the arena size for the limits. The attribute pool holds as many
 * blocks as the byte quota can pay for (each is charged MS_BLOCK bytes), at
 * most MS_XBLOCKS_CEILING (also the size with no quota). */
uint64_t ms_arena_size(uint64_t max_bytes, uint64_t max_nodes, uint32_t *nslots,
		       uint32_t *nblocks, uint32_t *nxblocks, uint32_t *nbuckets);
/* Initialises a zeroed arena of that size. */
void ms_arena_init(struct ms_store *s, const struct ms_config *cfg, const char *name);

/* Robust locks: a lock whose holder died is taken over and made consistent
 * (the ledger's change undone, a file's size re-read) before it is returned;
 * ns_lock, whose recovery is the repair, is repair.c's. A lock that cannot
 * be recovered ends the process (ms_lock_failed). */
void ms_lock_failed(int r) __attribute__((noreturn));
/* pthread_mutex_lock of a store mutex (robust, process-shared) that also
 * returns EOWNERDEAD when the owner died unmarked by the kernel (arena.c
 * says when): every lock of ns_lock, ledger_lock, keeper_lock and the data
 * locks goes through it. */
int ms_robust_lock(pthread_mutex_t *m);
/* fd (>= 0) is an open fd on the file, used to re-read its real size when a
 * holder died mid-write; -1 when none is at hand. */
void ms_data_lock(struct ms_store *s, struct ms_inode *in, int fd);
void ms_data_unlock(struct ms_store *s, struct ms_inode *in);
void ms_mutex_init(pthread_mutex_t *m);
void ms_ledger_lock(struct ms_store *s);
void ms_ledger_unlock(struct ms_store *s);
void ms_keeper_lock(struct ms_store *s);
void ms_keeper_unlock(struct ms_store *s);

/* Slot allocators, under ns_lock. Return 0 when exhausted. */
uint32_t ms_inode_alloc(struct ms_store *s);
void ms_inode_free(struct ms_store *s, uint32_t i);
uint32_t ms_dent_alloc(struct ms_store *s);
void ms_dent_free(struct ms_store *s, uint32_t i);
uint32_t ms_block_alloc(struct ms_store *s);
void ms_block_free(struct ms_store *s, uint32_t i);
/* Attribute blocks: n blocks are free (xblocks_used counts those taken). */
int ms_xblocks_free(struct ms_store *s, uint32_t n);
uint32_t ms_xblock_alloc(struct ms_store *s);
void ms_xblock_free(struct ms_store *s, uint32_t i);
/* Frees every attribute record of inode in (a chain may be cut short by a
 * death: at most the record's nblocks are followed); returns the bytes
 * their charge was, for the caller to release. */
uint64_t ms_xattr_drop_all(struct ms_store *s, struct ms_inode *in);
/* Bytes charged for inode in's attributes (the ledger's sum). */
uint64_t ms_xattr_charged(struct ms_store *s, const struct ms_inode *in);
/* Hash index of directory entries, under ns_lock. */
uint32_t ms_name_hash(uint32_t parent, const char *name, size_t len);
uint32_t ms_dent_find(struct ms_store *s, uint32_t parent, const char *name, size_t len);
/* The two halves of linking an entry (ms_dent_attach), for the repair
 * that rebuilds them too. */
void ms_dent_hash_insert(struct ms_store *s, uint32_t d);

/* The memfd index: a regular file's inode by its memfd's kernel inode
 * number, for an fd a process finds open without being told what it is
 * (inherited from a vfork child's parent, /proc/self/exe). Chained through
 * in->knext, under ns_lock; repair rebuilds it. A file is in it from the
 * moment its memfd is named (in->memfd_ino) until its slot is freed. */
void ms_kino_link(struct ms_store *s, uint32_t i);
void ms_kino_unlink(struct ms_store *s, uint32_t i);
uint32_t ms_kino_find(struct ms_store *s, uint64_t kino); /* 0: none */
void ms_kino_rebuild(struct ms_store *s);
void ms_dent_list_append(struct ms_store *s, uint32_t d);
void ms_dent_unlink(struct ms_store *s, uint32_t d); /* out of both */
/* The names that lead down to node i, each after a '/', written into the
 * end of out (n bytes, the NUL included), from the root or from the first
 * node above i flagged `stop` (0: the root only), following each node's
 * `dent` (a directory's, a lower-backed file's). Returns the offset of the
 * first byte ("" at n - 1 when i is that node), *top the node it stopped
 * at; -ENOENT for a node without a name on the way, -ERANGE when it does
 * not fit. Under ns_lock. */
int ms_path_up(struct ms_store *s, uint32_t i, uint32_t stop, char *out, size_t n,
	       uint32_t *top);
/* Names inode ino by entry slot e as name in directory dir: the entry
 * with a fresh cookie (its parent written last), linked into the hash and
 * at the end of the sibling list, and for a directory its parent, its
 * entry and the parent's link count. The directory's times are the
 * caller's. */
void ms_dent_attach(struct ms_store *s, uint32_t e, uint32_t dir, const char *name, size_t len,
		    uint32_t ino);
/* Entry slot e names inode ino (its type with it): the one way an entry's
 * inode is set, by a link, an exchange and the repair of either. */
void ms_dent_name(struct ms_store *s, uint32_t e, uint32_t ino);

int64_t ms_now_ns(void);

/* ---- ledger.c: reserve and release, side by side ---------------------------
 * A reservation fails with -quota_errno (bytes) or -ENOSPC (nodes) before
 * anything is stored, and counts the refusal. */
int ms_reserve_bytes(struct ms_store *s, uint64_t n);
/* Records a refusal of req bytes (of file in, or NULL) in the first free
 * hdr->refusals entry, if any is left, for this process and program; the
 * ledger's refusals call it, and data.c for the guard's. Counts nothing. */
void ms_refusal_record(struct ms_store *s, const struct ms_inode *in, uint64_t req,
		       enum ms_refusal_kind kind);
/* The record this thread's last refusal made and has not named yet, or
 * NULL; forgets it. Its path is written by whoever knows it (store.c's
 * ms_refusal_name for a file's write, ns.c for a new name). */
struct ms_refusal *ms_refusal_pending(void);
/* This process runs program `name` (an executable's base name): its entry
 * of hdr->progs, made if new, and one more process counted. Returns the
 * index + 1 for s->prog. Takes ledger_lock. */
uint32_t ms_prog_attach(struct ms_store *s, const char *name);
void ms_release_bytes(struct ms_store *s, uint64_t n);
/* Moves file in's data charge to `charged` bytes: growth is reserved (and
 * refused whole, counted with `req` as the request's size; req 0 = a try
 * that is not counted), shrinkage given back. Caller holds in's data lock
 * (or ns_lock for an unreferenced inode). */
int ms_charge_data(struct ms_store *s, struct ms_inode *in, uint64_t charged, uint64_t req);
/* After a kernel call on file in: its charge becomes `held`, the bytes the
 * kernel now holds for it (st_blocks * 512), giving back what was reserved
 * and not used. A charge below held (pages stored through a mapping) grows
 * only as far as the quota allows, never counted as a refusal; the rest is
 * the keeper's uncounted bytes. Caller holds in's data lock. */
void ms_settle_data(struct ms_store *s, struct ms_inode *in, uint64_t held);
/* Recomputes the ledger from the slots (after a dead ns_lock holder).
 * Caller holds ns_lock. */
void ms_ledger_recompute(struct ms_store *s);
/* Sums the charges (ns_lock held, so the tree is still) and compares them
 * with the ledger: 0 when used == sum <= max, else -EUCLEAN; *bytes and
 * *nodes receive the sums. */
int ms_ledger_verify(struct ms_store *s, uint64_t *bytes, uint64_t *nodes);
/* One node and its `cost` bytes (ms_node_cost of its type, MS_NODE_COST
 * for an extra hard link); undoes the node if the bytes fail. */
int ms_reserve_node(struct ms_store *s, uint64_t cost);
void ms_release_node(struct ms_store *s, uint64_t cost);
static inline uint64_t ms_page_up(uint64_t n)
{
	return (n + MS_PAGE - 1) & ~(uint64_t)(MS_PAGE - 1);
}

/* A node whose data (or device) is still the real tree's (lower.c). */
static inline int ms_lower_backed(const struct ms_inode *in)
{
	return (in->flags & MS_I_LOWER) && !S_ISDIR(in->mode) && !S_ISLNK(in->mode);
}

/* Whether inode `in` is in the memfd index: a live regular file with a
 * memfd of its own (a lower file not copied up has none). */
static inline int ms_kino_indexed(const struct ms_inode *in)
{
	return in->ino_no && S_ISREG(in->mode) && in->kfd != -1 && !(in->flags & MS_I_LOWER);
}
/* What node in costs the ledger besides its data: a lower-backed node has
 * no memfd. */
static inline uint64_t ms_inode_cost(const struct ms_inode *in)
{
	return ms_lower_backed(in) ? MS_NODE_COST : ms_node_cost(in->mode);
}


/* ---- lower.c: MEMSHIM_LOWER (ns_lock held) --------------------------------
 * ms_lower_find: name is not in lower directory dir (not MS_I_FILLED): if the
 * real tree has it, it becomes a node and *dent its entry, else *dent = 0.
 * ms_lower_fill: every lower entry of dir becomes a node (before it is
 * listed, stat'ed or loses a name). ms_lower_open: a kernel fd on the real
 * file of lower-backed node i (an open that changes nothing). ms_lower_stat:
 * its real lstat. ms_lower_copy_up: a lower-backed regular file gets a memfd
 * with the real bytes, charged (0 for any other node: nothing to copy).
 * ms_lower_init: the prefix directory of prefix k lies over cfg.lower[k].
 * Return 0 or -errno (the real tree's, or the ledger's). */
int ms_lower_find(struct ms_store *s, uint32_t dir, const char *name, size_t len,
		  uint32_t *dent);
int ms_lower_fill(struct ms_store *s, uint32_t dir);
int ms_lower_open(struct ms_store *s, uint32_t i, int oflags);
int ms_lower_stat(struct ms_store *s, uint32_t i, struct stat *st);
int ms_lower_copy_up(struct ms_store *s, uint32_t i);
int ms_lower_init(struct ms_store *s, uint32_t prefix_ino, int k);

/* ---- memfd.c: file memfds -------------------------------------------------
 * A new memfd for inode in: taken from the keeper's pool, or created and
 * handed to the keeper (one round trip). Under ns_lock. Returns 0 with
 * in->kfd and in->memfd_ino set, and MS_I_STALE when it still holds a
 * removed file's bytes: the caller opens it (ms_data_open) before ns_lock
 * goes. On an error the inode is as it was. */
int ms_data_new(struct ms_store *s, struct ms_inode *in);
/* A fresh open file description of inode in's memfd with oflags; O_TRUNC
 * empties the memfd and nothing else (ms_data_open_trunc does the rest), as
 * does the first open of an MS_I_STALE inode, which clears the flag.
 * Under ns_lock. */
int ms_data_open(struct ms_store *s, struct ms_inode *in, int oflags);
/* The file is gone: its memfd goes to the keeper's close queue. held: the
 * bytes its pages held (UINT64_MAX: unknown), which say whether the keeper
 * is woken for it now (keeper.c, ms_closeq_push). Under ns_lock. */
void ms_data_drop(struct ms_store *s, int32_t kfd, uint64_t held);
/* Whether inode in's memfd, its file going, may go to the reuse ring
 * (arena.h, reuse) instead: nothing outside the store can read it any
 * more. Under ns_lock. */
int ms_data_reusable(struct ms_store *s, const struct ms_inode *in);

/* ---- special.c: special files' real counterparts ----------------------------
 * A FIFO, socket or device node has a real node of its type, named by its
 * st_ino in the store's private directory (special.c says who makes and
 * removes what). All under ns_lock. */
static inline int ms_is_special(uint32_t mode)
{
	return S_ISFIFO(mode) || S_ISSOCK(mode) || S_ISCHR(mode) || S_ISBLK(mode);
}
/* Makes in's counterpart, and the directory on first use: mknod of in's
 * type (a device's st_rdev in in->memfd_ino), or, with sockfd >= 0, the
 * bind of that socket. Returns 0 or the kernel's -errno (-EPERM for a
 * device without CAP_MKNOD, -EINVAL for a socket already bound...). */
int ms_special_make(struct ms_store *s, struct ms_inode *in, int sockfd);
/* The private directory made when missing and checked: the keeper's
 * answer to MS_OP_SPECIAL_DIR, or the caller's own on a local store. */
int ms_special_prepare(ms_store *s);
/* The counterpart's mode and owner set to in's (chmod, chown). */
void ms_special_sync(struct ms_store *s, struct ms_inode *in);
/* The counterpart removed: in's last name is gone. */
void ms_special_drop(struct ms_store *s, struct ms_inode *in);
/* open(2) of in: notes the counterpart for ms_special_path() and returns
 * -MS_ESPECIAL. */
int ms_special_open(struct ms_store *s, struct ms_inode *in);
/* ---- notify.c: dnotify registrations ----------------------------------------
 * Under ns_lock: the change `ev` (DN_*) in directory dir signals its
 * registrations; ms_notify_node: a change of node i itself (attributes,
 * size, bytes), told to i when it is a directory and to every directory
 * naming it. Both one load when nothing is registered. */
void ms_notify_event(struct ms_store *s, uint32_t dir, uint32_t ev);
void ms_notify_node(struct ms_store *s, uint32_t i, uint32_t ev);
/* ---- perm.c: credentials and the kernel's permission rules ------------------
 * The checks of fs/namei.c and fs/attr.c, called by ns.c where the kernel
 * calls them, with ns_lock held. Masks are MS_MAY_* (R_OK, W_OK, X_OK). */
#define MS_MAY_EXEC 1
#define MS_MAY_WRITE 2
#define MS_MAY_READ 4
/* The current credentials: the file-system view, and access(2)'s view. */
static inline const struct ms_creds *ms_creds_now(struct ms_store *s)
{
	return &s->creds[__atomic_load_n(&s->cred_gen, __ATOMIC_ACQUIRE) % MS_CRED_RING];
}
static inline const struct ms_cred *ms_cred_fs(struct ms_store *s) { return &ms_creds_now(s)->fs; }
static inline const struct ms_cred *ms_cred_real(struct ms_store *s)
{
	return &ms_creds_now(s)->real;
}
/* Credentials every check passes (the keeper's view of the store). */
void ms_cred_all(struct ms_store *s);
/* generic_permission: 0 or -EACCES. */
int ms_perm(const struct ms_cred *c, const struct ms_inode *in, int mask);
/* may_lookup: search permission on directory in; without a call when
 * everyone may search it (owner, group and others all have x). */
static inline int ms_perm_search(const struct ms_cred *c, const struct ms_inode *in)
{
	return (in->mode & 0111) == 0111 ? 0 : ms_perm(c, in, MS_MAY_EXEC);
}
/* inode_owner_or_capable (CAP_FOWNER): 1 or 0. */
int ms_perm_owner(const struct ms_cred *c, const struct ms_inode *in);
/* may_create's permission: write and search on dir; 0 or -EACCES. */
int ms_perm_create(const struct ms_cred *c, const struct ms_inode *dir);
/* may_delete of victim (an entry of dir): EACCES, EPERM (sticky dir),
 * ENOTDIR / EISDIR (victim's type against isdir). */
int ms_perm_delete(const struct ms_cred *c, const struct ms_inode *dir,
		   const struct ms_inode *victim, int isdir);
/* may_open's permission part for open(2) flags (O_PATH: none; MS_O_EXEC:
 * execute instead of read; created: nothing but O_NOATIME): EISDIR,
 * EACCES, EPERM (O_NOATIME of another's file). */
int ms_perm_open(const struct ms_cred *c, const struct ms_inode *in, int oflags, int created);
/* O_CREAT of an existing node in a sticky directory (protected_regular,
 * protected_fifos): 0 or -EACCES. */
int ms_perm_create_in_sticky(const struct ms_cred *c, const struct ms_inode *dir,
			     const struct ms_inode *in);
/* Following a final symlink `link` in dir (protected_symlinks): 0 or -EACCES. */
int ms_perm_follow(const struct ms_cred *c, const struct ms_inode *dir,
		   const struct ms_inode *link);
/* may_linkat (protected_hardlinks): 0 or -EPERM. */
int ms_perm_link(const struct ms_cred *c, const struct ms_inode *in);
/* The mode a node created in dir asks for, with S_ISGID dropped as
 * mode_strip_sgid does (before the umask). */
mode_t ms_perm_create_mode(const struct ms_cred *c, const struct ms_inode *dir, mode_t mode);
/* inode_init_owner: new node in (just made in dir) gets fsuid, and fsgid or
 * a setgid directory's group (a directory also its S_ISGID). */
void ms_perm_init_owner(const struct ms_cred *c, const struct ms_inode *dir, struct ms_inode *in);
/* chmod: EPERM, or 0 with *mode's S_ISGID dropped when it may not be set. */
int ms_perm_chmod(const struct ms_cred *c, const struct ms_inode *in, mode_t *mode);
/* chown (-1 = unchanged): EPERM, or 0 with *mode the node's mode after it
 * (set-id bits cleared as the kernel does). */
int ms_perm_chown(const struct ms_cred *c, const struct ms_inode *in, uid_t uid, gid_t gid,
		  uint32_t *mode);
/* utimensat: touch = times NULL or both UTIME_NOW: EACCES (neither owner
 * nor writer); else EPERM (not the owner). */
int ms_perm_utimes(const struct ms_cred *c, const struct ms_inode *in, int touch);
/* A write or truncate of regular file in by the caller: clears its set-id
 * bits as file_remove_privs does (none with CAP_FSETID). Returns 1 when it
 * changed the mode. */
int ms_perm_kill_priv(const struct ms_cred *c, struct ms_inode *in);

/* ---- data.c: inode life, references, growth --------------------------------- */
/* Sets the size of regular file `in` to len (O_TRUNC, truncate(2)): takes its
 * data lock; growth is a hole, charged nothing; shrinkage gives back what the
 * kernel freed (the charge settled to st_blocks); updates size and times,
 * but for truncate(2) (by_path) of a file that keeps its size and holds no
 * pages, which stays as it is (as on tmpfs). Under ns_lock. Returns 0 or
 * -errno (-EFBIG, the kernel's). */
int ms_data_truncate(struct ms_store *s, struct ms_inode *in, uint64_t len, int by_path);
/* The same through an fd open for writing on the file. */
int ms_data_truncate_fd(struct ms_store *s, struct ms_inode *in, int fd, uint64_t len);
/* An open for writing with O_TRUNC of a file that exists: a fresh description
 * (as ms_data_open) of the file cut to 0 by the open itself, with what
 * ms_data_truncate does around it. Under ns_lock. Returns the fd or -errno. */
int ms_data_open_trunc(struct ms_store *s, struct ms_inode *in, int oflags);
/* Called under ns_lock when inode i lost its last link (nlink == 0, or a
 * directory removed): frees it with its data, symlink blocks, charge and node
 * when no process references it (opens == 0), else marks it MS_I_ORPHAN and
 * frees it at the last ms_ino_put. */
void ms_inode_unlinked(struct ms_store *s, uint32_t i);
/* Under ns_lock: orphan i (an O_TMPFILE file) was given a name by linkat:
 * off the orphan list, no longer linkable. */
void ms_inode_relinked(struct ms_store *s, uint32_t i);
/* Frees inode i now, unreferenced and off the orphan list: its data (memfd
 * to the close queue), symlink blocks, node charge and slot. Under ns_lock. */
void ms_inode_free_now(struct ms_store *s, uint32_t i);
/* A new inode of type/mode with one node charged; 0 on success with *out,
 * -ENOSPC / -quota_errno otherwise (nothing charged). Regular files get their
 * memfd. Under ns_lock. Times set to now, uid/gid from the caller. */
int ms_inode_new(struct ms_store *s, mode_t mode, uint32_t *out);
/* ms_inode_new for a node materialized from the real tree (lower.c): no
 * memfd, charged ms_inode_cost of a lower-backed node (MS_NODE_COST) for
 * anything but a directory or symlink. The caller sets MS_I_LOWER. */
int ms_inode_new_lower(struct ms_store *s, mode_t mode, uint32_t *out);
/* Stores symlink in's target (tl bytes) in blocks, charged; -quota errno or
 * -ENOSPC with what was taken held by in (nblocks, link), which
 * ms_inode_unlinked gives back. Under ns_lock. */
int ms_symlink_store(struct ms_store *s, struct ms_inode *in, const char *target, size_t tl);

/* Takes / gives back one reference on inode i for this process (ns_lock
 * held). Directory references are recorded with the pid. */
void ms_ref_take(struct ms_store *s, uint32_t i);
void ms_ref_drop(struct ms_store *s, uint32_t i);

/* ---- ns.c -------------------------------------------------------------------
 * Creates "/" (hdr->root) and the directories leading to each prefix of
 * s->cfg (MS_I_SKEL above a prefix, MS_I_PREFIX for the prefix itself),
 * uncharged. Called once by the creator after ms_arena_init. Returns 0/-errno. */
int ms_ns_init(struct ms_store *s);
/* ms_lookup for a caller that holds ns_lock (core/xattr.c): resolves path
 * from dir with MS_NOFOLLOW / MS_EMPTY to *out, or -errno, -MS_EESCAPE. */
int ms_resolve_locked(struct ms_store *s, uint32_t dir, const char *path, int flags,
		      uint32_t *out);

/* ---- xattr.c ----------------------------------------------------------------
 * Checks every inode's attribute records and the pool's count (ms_check,
 * ns_lock held): 0, or -EUCLEAN with a description in msg. */
int ms_xattr_verify(struct ms_store *s, char *msg, size_t n);

/* ---- repair.c ---------------------------------------------------------------
 * ns_lock: taken whole by every namespace operation. A holder that died is
 * repaired after (ms_repair) before the lock is returned. */
void ms_ns_lock(struct ms_store *s);
void ms_ns_unlock(struct ms_store *s);
/* 0 when taken (a dead holder's lock is repaired and taken), else EBUSY. */
int ms_ns_trylock(struct ms_store *s);
/* Rebuilds every derived structure of the arena from its slots after a
 * holder of ns_lock died mid-operation. Caller holds ns_lock. */
void ms_repair(struct ms_store *s);
/* n bytes of zeroed private memory for a scratch table, straight from mmap
 * (no malloc: core runs where the program's allocator may be mid-call);
 * NULL when refused. Given back with munmap. */
void *ms_scratch(size_t n);

/* ---- keeper.c -------------------------------------------------------------- */
/* Tells the keeper there is work (close queue, pool); never blocks. */
void ms_keeper_poke(struct ms_store *s);

/* ---- guard.c ----------------------------------------------------------------
 * At creation: compare the quota with the memory available. Returns 0, or
 * -ENOSPC when the action is fail and the quota does not fit. Logs a warning
 * for action warn. */
int ms_guard_init(struct ms_store *s);
/* Before a growth of n bytes (mode per_write), probing at most once per
 * interval. Returns 0 or -quota_errno when action is fail and n does not fit
 * in the memory available. */
int ms_guard_write(struct ms_store *s, uint64_t n);
/* Calls the probe in use (ms_guard_set_probe's, or ms_probe_memory): what a
 * percentage MEMSHIM_QUOTA is taken of. Returns 0 or -errno. */
int ms_guard_probe(uint64_t *avail, const char **source);
/* ms_probe_memory reading /proc and /sys/fs/cgroup under `root` ("" = the
 * real ones), so tests can feed it a fake cgroup v1 or v2 tree. */
int ms_probe_memory_at(const char *root, uint64_t *avail, const char **source);

/* ---- persist.c: MEMSHIM_SEED, and MEMSHIM_SAVE at creation -------------------
 * ms_seed copies the real tree at dir into a store being created, under its
 * first prefix, through the charged paths (ms_mkdir, ms_open + write,
 * ms_symlink); a tree that does not fit is refused before anything is copied.
 * Returns 0 or -errno (-ENOSPC, -ENOENT, -EACCES, -ENOTDIR...), with an error
 * line logged naming MEMSHIM_SEED. (Saving is the keeper's: keeper/save.c.) */
int ms_seed(struct ms_store *s, const char *dir);
/* The creator's one call (create(), keeper running): records s->cfg.save in
 * the arena (hdr->save_dir, hdr->save_root) after checking the directory can
 * be made and written, then seeds from s->cfg.seed. On failure the save is
 * called off and the store must be discarded. */
int ms_persist_init(struct ms_store *s);

/* Helpers the seed and the keeper's save share. */
#define MS_PERSIST_DEPTH 256 /* deepest directory either walks */
/* Copies the first size bytes of the regular file in to out, at the same
 * offsets (neither fd's offset is used for in): sendfile first (no copy
 * through user memory), plain reads and writes where it is refused. Stops
 * early when in ends sooner. Returns 0 or -errno; *done receives the bytes
 * copied either way. */
int ms_copy_bytes(int out, int in, uint64_t size, uint64_t *done);
/* Words for the errors a user can act on; the errno's name otherwise. No
 * strerror: its translation lookup may allocate. */
const char *ms_err_text(int e);
/* Appends "/name" to path (of length *len); -ENAMETOOLONG when it does not
 * fit. The caller puts back path[old len] = 0. */
int ms_path_push(char *path, size_t *len, const char *name);
/* mkdir -p of the absolute path path (of length len, NUL-terminated): 0, or
 * the first -errno with an error line "MEMSHIM_SAVE=top: path: ..." logged. */
int ms_mkdir_p(const struct ms_store *s, const char *top, char *path, size_t len);
static inline int ms_is_dot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* ---- log.c ------------------------------------------------------------------ */
/* "memshim: ..." on stderr through a raw write, when level <= the configured
 * level. No allocation. */
void ms_log(const struct ms_store *s, enum ms_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ms_logc, for a config not yet attached to a store, is in config.h. */

#endif
