/* core/store.h — the boundary of the store: the only header of core/ that
 * shim/ includes (with config.h).
 *
 * A store is a namespace (directories, names, links, inodes), a ledger of
 * bytes and nodes, and file bytes kept in memfds. Its metadata lives in an
 * arena — one memfd mapped MAP_SHARED by every process of the tree — and a
 * keeper process holds the arena and every file memfd (past half its fd
 * limit, in holder processes it starts) so files outlive their writers
 * (doc/ARCHITECTURE.md).
 *
 * Conventions: every function returns 0, a count, or -errno; none sets errno.
 * Paths are real absolute paths ("/mem/a/b") or relative to a store
 * directory given as an inode handle. Core never allocates on these paths and
 * never calls a libc name the shim wraps.
 *
 * The files of core/, bottom-up: each calls functions of the files listed
 * before it only, so the store reads from the top of this list down without
 * circles (tests/test_exports.c checks the list against the objects).
 *   fault.c    fault rules for tests: the N-th call of a name fails
 *   sys.h      raw system calls, for code that runs inside the preload
 *              (each checks the fault rules first)
 *   log.c      "memshim:" log lines, one raw write each
 *   guard.c    the memory probe and the memory guard
 *   config.c   the MEMSHIM_* environment, read once and checked whole
 *   arena.c    the arena's layout, slot allocators, entry hash; robust locks
 *   ledger.c   the byte and node ledger: reserve and release side by side
 *   keeper.c   the keeper's client side: spawn, requests, pool, close queue
 *   memfd.c    a file's memfd: made, re-opened, given back
 *   special.c  special files' real counterparts, in a private directory
 *   repair.c   ns_lock, and the arena rebuilt when its holder died
 *   perm.c     the caller's credentials and the kernel's permission rules
 *   data.c     inode life and death, references, charged growth of files
 *   mapio.c    small reads and writes served from a mapping of the memfd
 *   notify.c   dnotify (F_NOTIFY) registrations and their signals
 *   lower.c    MEMSHIM_LOWER: real entries brought in, files copied up
 *   ns.c       the namespace: paths, directories, links, attributes, readdir
 *   xattr.c    extended attributes: stored, charged, checked as the kernel does
 *   persist.c  MEMSHIM_SEED, and MEMSHIM_SAVE's directory set at creation
 *   store.c    a process's handle: create, join, statistics, check
 * The keeper's server is not in core/ and not in libmemshim.so: keeper/
 * (main.c its loop, holder.c the holders of memfds, rounds.c reclaim,
 * reconcile and audit, save.c MEMSHIM_SAVE, changes.c what a run changed
 * below a MEMSHIM_LOWER tree, report.c the end-of-run report) is linked into
 * memshim-keeper and the tools only.
 *
 * Locking: one robust process-shared namespace lock (ns_lock) guards the
 * tree, inode metadata and the allocators; each regular file has a data lock
 * that serialises growth and shrinking of that file, and the copies made
 * through a process's mapping of it (mapio.c); ledger_lock keeps the
 * ledger and the files' charges in step; keeper_lock guards what is shared
 * with the keeper. The tags, the guard of every shared field and the one
 * order are written once, in arena.h.
 */
#ifndef MEMSHIM_CORE_STORE_H
#define MEMSHIM_CORE_STORE_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "config.h"

typedef struct ms_store ms_store;
typedef uint32_t ms_ino; /* inode slot; 0 = none */

/* Fixed cost charged to the byte ledger for every node (a file, directory,
 * symlink or extra hard link): its arena slots (an inode of 184 bytes and a
 * directory entry of 296) and their share of the arena's pages. */
#define MS_NODE_COST 1024
/* And on top of it for every regular file, whatever its size: the kernel
 * objects of its memfd — the shmem inode, its dentry, the keeper's open
 * file and the file's re-opens — measured on Linux 6.18 at 0.7-1.7 KiB of
 * Slab a memfd (10,000 one-byte files: 5.8-6.7 KiB of Shmem+Slab each,
 * against 7 KiB charged with this: a page, the node and this). */
#define MS_FILE_COST 2048
/* What a node of type `mode` costs besides its data. */
static inline uint64_t ms_node_cost(unsigned mode)
{
	return S_ISREG(mode) ? MS_NODE_COST + MS_FILE_COST : MS_NODE_COST;
}
/* File data is charged in whole pages, as tmpfs allocates it. */
#define MS_PAGE 4096
/* Symlink targets are stored and charged in blocks of this size. */
#define MS_BLOCK 256

/* A path that leaves the store (a '..' above a prefix, an absolute symlink to
 * elsewhere) returns -MS_EESCAPE; ms_escape_path() then gives the real path to
 * continue with. Never a kernel errno value. */
#define MS_EESCAPE 4095

/* ---- lifetime ---------------------------------------------------------- */

struct ms_open_opts {
	const struct ms_config *cfg; /* limits, prefixes, guard, errno */
	const char *keeper_path;     /* keeper program; NULL = no keeper */
	int no_proc;                 /* 1: never re-open through /proc (tests) */
	/* ms_store_attach: a keeper connection inherited from the program
	 * that exec'd this one (MEMSHIM_PIN, ms_store_pin_for_exec), to
	 * attach through; 0 for none. */
	int pin;
	/* 1 for a tool looking at the store (memshim-run, memshim-stat): not
	 * counted as a process of the tree, no program in the report. */
	int observer;
	/* 1: the keeper of a store created here writes the report's human
	 * summary to this process's stderr when the tree ends, even without
	 * MEMSHIM_REPORT (memshim-run's summary on every run). */
	int summary;
};

/* Creates the store named cfg->store_name (or a fresh private name when
 * empty) and, with a keeper_path, starts its keeper; or joins it when it
 * exists and is owned by this user. Without a keeper_path the store is local
 * to this process (unit tests): file memfds are held by the handle.
 * Returns 0 and *out, or -errno: -EEXIST (a store of that name owned by
 * another user), -ENOMEM, -EMFILE, -ENOSPC (the guard refused the quota with
 * guard_action fail), -EPROTO (an arena of another layout version). */
int ms_store_open(const struct ms_open_opts *o, ms_store **out);

/* Joins an existing store by name; -ENOENT when no keeper answers. With
 * o->pin, through that inherited connection when it leads to that store's
 * keeper (a process whose uid is not the owner's any more; the keeper
 * refuses its new connections), else by name. */
int ms_store_attach(const char *name, const struct ms_open_opts *o, ms_store **out);

/* The keeper connection a program exec'd by this process inherits (the
 * shim names it in MEMSHIM_PIN): through it the program attaches when it
 * first needs the store, whatever its uid (the keeper hears its owner
 * only on new connections), and until then keeps the store alive as any
 * process of the tree does. Makes the connection inheritable and returns
 * it; -1 for a local store. */
int ms_store_pin_for_exec(ms_store *s);

/* Closes the keeper connection only: the handle no longer keeps the store
 * alive, and its mapping still reads what the store ended with
 * until ms_store_close. For memshim-run, which waits for the tree to end
 * and then reads the refusal count: only ms_stats_get and ms_store_close
 * may follow. */
void ms_store_unpin(ms_store *s);

/* Unmaps and disconnects; the keeper frees the store when no process of the
 * tree is attached any more. */
void ms_store_close(ms_store *s);

/* The store's name, to pass to children in MEMSHIM_STORE_ID. */
const char *ms_store_name(const ms_store *s);
/* The kernel's device of every memfd (st_dev), the store's files' and the
 * arena's alike. */
uint64_t ms_store_memfd_dev(const ms_store *s);

/* The pid of the keeper, 0 for a local store. */
pid_t ms_store_keeper_pid(const ms_store *s);

/* Private fds of this handle (arena, keeper connection, cached /proc dir)
 * that the shim must protect from close/close_range; fills up to n, returns
 * how many there are. */
int ms_store_private_fds(const ms_store *s, int *fds, int n);

/* The process's umask, applied to the mode of every node it creates (the
 * kernel does that for real files). Default 022. */
void ms_store_set_umask(ms_store *s, mode_t mask);

/* Moves a private fd of the store (or of the shim) out of the range
 * programs use: at 1000, or under a low soft fd limit at the top of what
 * it allows. Returns the new fd, or fd itself when there is no room. */
int ms_fd_private_place(int fd);
/* Where ms_fd_private_place puts them: the lowest number it tries. */
int ms_fd_private_base(void);

/* Set by the shim: makes fd one of the store's private fds from now on,
 * hidden and kept from the program as the others; returns its number
 * (moved out of the program's way, or fd itself if it is one already), or
 * -1 with fd untouched: not now (a vfork child, no room). NULL (the
 * keeper, tools, unit tests): never. */
extern int (*ms_private_fd_hook)(int fd);

/* The shim moved private fd `from` to `to` (a program dup2'd onto it). */
void ms_store_private_fd_moved(ms_store *s, int from, int to);

/* Re-initialise process-local state in a fork child (atfork handler). */
void ms_store_atfork_child(ms_store *s);

/* Thread-local: the real path to continue with after -MS_EESCAPE. */
const char *ms_escape_path(void);
/* Thread-local: 1 when this thread's last ms_open created the file
 * (O_CREAT that made it; not O_TMPFILE, as the kernel): F_CREATED_QUERY. */
int ms_open_created(void);
/* Whether this thread's last ms_open or ms_reopen gave a kernel fd on a
 * real file below the store (MEMSHIM_LOWER: a lower file opened for
 * reading): the fd is not a memfd, and only calls that change nothing reach
 * the kernel through it. */
int ms_open_lower(void);

/* ---- dnotify (notify.c) -------------------------------------------------- */

/* fcntl(fd, F_NOTIFY, mask) on store directory dir, for this process:
 * replaces fd's registration (mask 0 removes it); sig is the fd's F_SETSIG
 * signal (0: SIGIO). 0, or -ENOSPC when the store's table is full. */
int ms_notify_set(ms_store *s, ms_ino dir, int fd, uint32_t mask, int sig);
/* This process closed fd: its registration goes. */
void ms_notify_close(ms_store *s, int fd);
/* Bytes of regular file ino were written (DN_MODIFY to its directories). */
void ms_notify_write(ms_store *s, ms_ino ino);

/* ms_open of a FIFO, socket or device node returns -MS_ESPECIAL (never a
 * kernel errno value): the caller opens ms_special_path(), the node's real
 * counterpart (thread-local), with its own flags, so the kernel blocks,
 * refuses (ENXIO) and opens devices as it does for any such node. */
#define MS_ESPECIAL 4094
const char *ms_special_path(void);

/* ---- special files (FIFOs, Unix sockets, devices) ------------------------
 * The store keeps their names, links and metadata; each has a real
 * counterpart in the store's private real directory (core/special.c). */

/* Longest path ms_special_dir or ms_special_name writes, with its NUL;
 * well within sun_path. */
#define MS_SPECIAL_PATH_MAX 64
/* The store's private directory, "/tmp/.memshim-<uid>-<hash>"; returns
 * its length. */
int ms_special_dir(const ms_store *s, char *buf, size_t n);
/* The counterpart of the node whose st_ino is ino_no; returns its length. */
int ms_special_name(const ms_store *s, uint64_t ino_no, char *buf, size_t n);
/* Makes a FIFO, socket or device node as mknod(2) does (mode's type and
 * permission bits, the umask applied; rdev for a device), with its
 * counterpart. With sockfd >= 0 the node is a socket made by binding
 * sockfd to it (bind(2)): the caller turns EEXIST into EADDRINUSE. Errors:
 * EINVAL (another type), the lookup's, EEXIST, node/quota errors, then
 * the kernel's for the counterpart (EPERM: a device without CAP_MKNOD;
 * EINVAL: a socket already bound), which leave no node behind. */
int ms_mknod(ms_store *s, ms_ino dir, const char *path, mode_t mode, dev_t rdev, int sockfd);
/* Removes the private directory and anything still in it: the keeper when
 * the store ends. Nothing happens when it was never made. */
void ms_special_cleanup(ms_store *s);
/* Writes the absolute path of a name of the node whose st_ino is ino_no
 * (the first found); -ENOENT when no name is left. O(nodes): for turning
 * a counterpart's address back into the store's. */
int ms_ino_path(ms_store *s, uint64_t ino_no, char *buf, size_t n);
/* The same for node ino (a directory's own path; for anything else the
 * first name found, O(names)): readlink of /proc/self/fd/N. */
int ms_node_path(ms_store *s, ms_ino ino, char *buf, size_t n);

/* ---- namespace --------------------------------------------------------- */

/* Flags for path calls. */
#define MS_NOFOLLOW 0x1 /* do not follow a final symlink */
#define MS_EMPTY 0x2    /* "" names `dir` itself (AT_EMPTY_PATH) */

/* Resolves path (relative to dir when not absolute) and fills *st like
 * stat/lstat. Errors as the kernel: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG. */
int ms_stat(ms_store *s, ms_ino dir, const char *path, int flags, struct stat *st);
int ms_stat_ino(ms_store *s, ms_ino ino, struct stat *st);

/* Opens or creates a file or directory with open(2) flags and mode.
 * Regular file: returns a real kernel fd on the file's memfd opened with the
 * caller's access mode and flags (O_TRUNC applied and its bytes given back).
 * Directory (O_DIRECTORY or a directory path with O_RDONLY), or with O_PATH
 * a directory or a symlink: returns 0 and sets *fd = -1; the shim emulates
 * directory and O_PATH fds. O_PATH of a file: an O_PATH fd on its memfd.
 * *ino receives the inode. Errors: the kernel's (EEXIST, EISDIR, ENOTDIR,
 * ENOENT, ELOOP, EACCES, EPERM), quota errno or ENOSPC (node limit) on
 * create. */
int ms_open(ms_store *s, ms_ino dir, const char *path, int oflags, mode_t mode, int *fd,
	    ms_ino *ino);

/* Opens node ino as open(2) opens /proc/self/fd/N of an fd on it, with the
 * same checks as ms_open after its lookup; *fd = -1 for a directory. Takes
 * a reference on success, as ms_open. */
int ms_reopen(ms_store *s, ms_ino ino, int oflags, int *fd);

/* The kernel inode number of regular file ino's memfd (what fstat of any fd
 * on it reports as st_ino), to recognise an fd inherited across exec.
 * Returns 0, or -ENOENT when ino is not a live regular file. */
int ms_ino_kino(ms_store *s, ms_ino ino, uint64_t *kino);

/* The regular file whose memfd has kernel inode number kino (an fd found
 * open at start-up, inherited across exec); 0 when none. */
ms_ino ms_ino_by_kino(ms_store *s, uint64_t kino);

int ms_mkdir(ms_store *s, ms_ino dir, const char *path, mode_t mode);
int ms_rmdir(ms_store *s, ms_ino dir, const char *path);
int ms_unlink(ms_store *s, ms_ino dir, const char *path);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE. EXDEV is the shim's business. */
int ms_rename(ms_store *s, ms_ino odir, const char *opath, ms_ino ndir, const char *npath,
	      unsigned flags);
/* flags: MS_NOFOLLOW unless AT_SYMLINK_FOLLOW was given. */
int ms_link(ms_store *s, ms_ino odir, const char *opath, ms_ino ndir, const char *npath,
	    int flags);
int ms_symlink(ms_store *s, const char *target, ms_ino dir, const char *path);
/* Returns the target length copied (not NUL-terminated), like readlink. */
ssize_t ms_readlink(ms_store *s, ms_ino dir, const char *path, char *buf, size_t n);
int ms_chmod(ms_store *s, ms_ino dir, const char *path, int flags, mode_t mode);
int ms_chown(ms_store *s, ms_ino dir, const char *path, int flags, uid_t uid, gid_t gid);
/* times as utimensat (UTIME_NOW, UTIME_OMIT honoured); NULL = now. */
int ms_utimens(ms_store *s, ms_ino dir, const char *path, int flags, const struct timespec t[2]);
int ms_truncate(ms_store *s, ms_ino dir, const char *path, off_t len);

/* Resolves path to a directory inode (for chdir, opendir, dirfds); takes a
 * reference (see ms_ino_put). */
int ms_lookup_dir(ms_store *s, ms_ino dir, const char *path, ms_ino *out);
/* Resolves path to any inode. */
int ms_lookup(ms_store *s, ms_ino dir, const char *path, int flags, ms_ino *out);
/* Writes the absolute real path of a directory inode into buf (getcwd). */
int ms_dir_path(ms_store *s, ms_ino dir, char *buf, size_t n);

struct ms_dirent {
	uint64_t ino;   /* st_ino of the entry */
	uint64_t cookie; /* position after this entry, for the next call */
	unsigned char type; /* DT_REG, DT_DIR, DT_LNK, DT_FIFO, DT_SOCK, DT_CHR, DT_BLK */
	uint16_t namelen; /* strlen(name) */
	char name[256];
};
/* Reads the entry of directory `dir` that follows position `cookie` (0 = start;
 * "." and ".." come first). Returns 1 and fills *e, 0 at the end, or -errno
 * (-ENOTDIR, -ENOENT for a removed directory). Entries added or removed
 * between calls are seen or not; no other entry is skipped or repeated. */
int ms_readdir(ms_store *s, ms_ino dir, uint64_t cookie, struct ms_dirent *e);
/* Up to n entries in a row, as n calls of ms_readdir would give them, under
 * one lock: how many (0 at the end), or -errno. */
int ms_readdir_n(ms_store *s, ms_ino dir, uint64_t cookie, struct ms_dirent *e, int n);

/* ---- extended attributes (xattr.c) -------------------------------------- */

/* getxattr, setxattr, listxattr, removexattr on path (relative to dir)
 * with MS_NOFOLLOW (the l variants) or MS_EMPTY ("" names dir: the f
 * variants), with the kernel's errors in the kernel's order: EINVAL
 * (flags), ERANGE (empty name or over 255 bytes), E2BIG (a value over 64
 * KiB) before the lookup; then the lookup's; then EPERM, EACCES, ENODATA
 * (the namespace's and the mode's rules for the caller), EOPNOTSUPP (an
 * unknown namespace, an ACL the mode cannot say), EINVAL (a prefix alone),
 * EEXIST / ENODATA (XATTR_CREATE / XATTR_REPLACE), ERANGE / E2BIG (a
 * buffer too small; size 0 asks for the size), ENODATA (no such
 * attribute); a set that does not fit fails with the quota errno, or
 * ENOSPC when the attribute pool is full, and changes nothing. */
ssize_t ms_getxattr(ms_store *s, ms_ino dir, const char *path, int flags, const char *name,
		    void *value, size_t size);
int ms_setxattr(ms_store *s, ms_ino dir, const char *path, int flags, const char *name,
		const void *value, size_t size, int xflags);
ssize_t ms_listxattr(ms_store *s, ms_ino dir, const char *path, int flags, char *list,
		     size_t size);
int ms_removexattr(ms_store *s, ms_ino dir, const char *path, int flags, const char *name);
/* The checks of the arguments made before the file is looked at, for op
 * 'g'et, 's'et, 'l'ist or 'r'emove: 0, -EINVAL (set's flags), -EFAULT (a
 * NULL name), -ERANGE (an empty name or one over 255 bytes), -E2BIG (a
 * value over 64 KiB). The kernel makes them before it looks at an fd too. */
int ms_xattr_check(int op, const char *name, size_t size, int xflags);
/* ---- credentials and permissions ---------------------------------------- */

/* Every call checks permissions as the kernel does (search on each
 * directory walked, write on a directory changed, sticky directories, the
 * open, chmod, chown and utimensat rules, set-id bits cleared), against the
 * caller's fsuid, fsgid, supplementary groups and effective capabilities
 * (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
 * CAP_FSETID), as cached in the handle. The cache is read from the kernel
 * when the handle is made; a process that changes its credentials calls
 * this after (the shim does, in its wrappers of the calls that change
 * them). */
void ms_store_cred_refresh(ms_store *s);

/* ms_access flag: check with the effective ids (AT_EACCESS), not the real. */
#define MS_EACCESS 0x4
/* access(2)/faccessat(2) of path for mode (F_OK, or R_OK|W_OK|X_OK), with
 * the real ids (the walk too) unless MS_EACCESS; flags MS_NOFOLLOW,
 * MS_EMPTY. Returns 0, -EACCES, or the walk's errors. */
int ms_access(ms_store *s, ms_ino dir, const char *path, int flags, int mode);

/* Permission mask (R_OK|W_OK|X_OK) on inode ino, held by the caller (a
 * directory entered by chdir, opened by opendir): 0, -EACCES, -ENOENT. */
int ms_may(ms_store *s, ms_ino ino, int mask);

/* After a write or truncate through an fd on regular file ino: clears its
 * set-user-ID bit, and its set-group-ID bit as the kernel does, unless the
 * caller has CAP_FSETID. One load when the file has neither. */
void ms_kill_priv(ms_store *s, ms_ino ino);

/* open(2) with O_PATH keeps only these flags (the kernel's O_PATH_FLAGS,
 * build_open_how): O_CREAT, O_TRUNC, O_EXCL and the access mode are
 * ignored, no permission but search is checked. */
static inline int ms_open_flags(int oflags)
{
	return (oflags & O_PATH) ? oflags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : oflags;
}

/* ms_open flag: the file is opened to be executed; execute permission is
 * checked instead of read. Never reaches the kernel. */
#define MS_O_EXEC 0x40000000

/* ---- file data and the ledger ------------------------------------------ */

/* A write in progress on one inode: holds its data lock. */
struct ms_wctx {
	ms_ino ino;
	int fd;           /* the fd written through */
	uint64_t start;   /* offset of the first byte */
	uint64_t end;     /* offset one past the last byte to be written */
	uint64_t size0;   /* the file's size before the write */
	uint64_t charged0; /* and its charge, as last seen (st_blocks * 512) */
	int locked;
};

/* A file is charged the pages the kernel holds for it (st_blocks), as on
 * tmpfs: holes cost nothing. */

/* Before writing len bytes at off (append: at the end of file) through fd:
 * locks the file, reserves the pages the write could allocate (at most len
 * in pages plus one, whatever hole lies before off), returns 0 with
 * *off_out the offset to write at; or returns -quota_errno (nothing
 * charged, lock released), -EINVAL (off + len overflows), -EFBIG (an append
 * at the largest size). ms_write_end must follow a 0 return. */
int ms_write_begin(ms_store *s, ms_ino ino, int fd, int64_t off, size_t len, int append,
		   struct ms_wctx *w, int64_t *off_out);
/* After the write: `done` bytes written (or -errno); settles size and charge
 * to what the kernel holds (fstat of fd, or counted when that is exact),
 * giving back the part of the reservation not used, and unlocks. */
void ms_write_end(ms_store *s, struct ms_wctx *w, int64_t done);

/* ftruncate/fallocate on an open file, with the kernel call on fd; then the
 * charge is settled as after a write. ftruncate's growth is a hole, charged
 * nothing; fallocate reserves its range's pages first (refused whole with
 * -quota_errno); a punched hole gives back. Returns 0 or -errno. */
int ms_ftruncate(ms_store *s, ms_ino ino, int fd, off_t len);
int ms_fallocate(ms_store *s, ms_ino ino, int fd, int mode, off_t off, off_t len);

/* Mapped I/O (mapio.c): a read or write of [off, off + len) of a store
 * file, copied by the caller between its buffer and a mapping of the
 * file's memfd this process keeps. ms_mio_begin returns MS_MIO_OK with
 * the file's data lock held and io->at the range's first byte in the
 * mapping, when every page of the range is inside the file's size and
 * held by the kernel (no copy may allocate, grow or fault), the mapping
 * exists or `make` asks for one, and a write needs nothing of the ledger
 * or the guard; then ms_mio_end must follow, with the bytes copied (a
 * write's times and report bytes are set there). MS_MIO_NO: the kernel
 * serves this call, nothing held. MS_MIO_NEVER: no mapping can be made
 * through this fd (the caller need not ask `make` again). fd is the store
 * fd (acc its access mode O_RDONLY, O_WRONLY or O_RDWR): mapped when it
 * is O_RDWR, else re-opened read-write through /proc/self/fd. */
struct ms_mio {
	void *at;
	size_t len;
	/* private */
	void *slot;
	ms_ino ino;
	int write;
};
enum { MS_MIO_NEVER = -1, MS_MIO_NO = 0, MS_MIO_OK = 1 };
int ms_mio_begin(ms_store *s, ms_ino ino, int fd, int acc, uint64_t off, size_t len, int write,
		 int make, struct ms_mio *io);
void ms_mio_end(ms_store *s, struct ms_mio *io, size_t done);
/* [atomic] Pages this process has asked the kernel about (mincore), to
 * know which it may copy: for tests. */
extern uint64_t ms_mio_looked;
/* 1 when this process has a mapping of ino (a hint: no lock). */
int ms_mio_mapped(ms_store *s, ms_ino ino);
/* The process closed its last fd of ino: its mapping goes (at once, or
 * when the last copy through it ends). */
void ms_mio_forget(ms_store *s, ms_ino ino);
/* The fork handlers' three moments for mapio's process-local lock (the
 * values of the shim's MS_FORK_PREPARE, _PARENT, _CHILD). */
enum { MS_MIO_PREPARE, MS_MIO_PARENT, MS_MIO_CHILD };
void ms_mio_fork(int phase);

/* References: ms_open, ms_reopen and ms_lookup_dir take one on success;
 * ms_ino_get takes another (fork child, dup into a new table entry); the
 * process gives each back with ms_ino_put when it closes the fd, directory
 * or cwd — before closing the fd, so that the keeper, which frees unlinked
 * files no live process holds, never sees a file unheld while a reference
 * is still out. An unlinked inode is freed at its last put. */
void ms_ino_get(ms_store *s, ms_ino ino);
void ms_ino_put(ms_store *s, ms_ino ino);

/* Lending (shim/lend.c): a process may keep the open file description of
 * a store file it closed, out of the program's way, and give it to its
 * next open of the same file with the same flags — a dup instead of a
 * re-open through /proc. The store counts the kept ones (ms_inode.lends):
 * a file removed while some are kept loses its pages at once
 * (ms_inode_free_now), as it would on tmpfs.
 *
 * ms_ino_put_lend is ms_ino_put for a file fd whose description the
 * process keeps (kept 1) or would now keep (kept 0): 1 when it may, the
 * file still linked, never mapped, not lower-backed (the count taken, or
 * left, and *ino_no and *kino, its memfd's st_ino, set), else 0 (the
 * count given back if kept). */
int ms_ino_put_lend(ms_store *s, ms_ino ino, int kept, uint64_t *ino_no, uint64_t *kino);
/* A kept description of file (ino, ino_no) is closed: the count goes back
 * when the file is still that one. */
void ms_lend_gone(ms_store *s, ms_ino ino, uint64_t ino_no);
/* The kept descriptions of live processes are not holders of an orphan
 * (ms_hdr.kept): ms_kept_add records fd, process pid's kept description
 * of memfd kino (pid: the caller's own, which it knows without a system
 * call), and returns its entry + 1, or 0 when the table is full (the
 * description is then not kept); ms_kept_del frees the entry, before the
 * fd is closed. */
int ms_kept_add(ms_store *s, pid_t pid, int fd, uint64_t kino);
void ms_kept_del(ms_store *s, int ref);
/* A program mapped file ino through a store fd (shim's mmap). */
void ms_ino_mapped(ms_store *s, ms_ino ino);
/* An open file description of file ino may be held where the store does
 * not count its references (a child before its fork handler ran, a
 * program without the shim, fds sent over a socket): its memfd never
 * serves another file once it goes. */
void ms_ino_escaped(ms_store *s, ms_ino ino);
/* Set by the shim: called by an open of an existing regular file that the
 * kernel would re-open (not lower-backed, no O_TRUNC, never mapped), under
 * ns_lock; returns a new fd on a kept description of file (ino, ino_no)
 * opened with these flags, or -1: none (the re-open follows). NULL: never. */
extern int (*ms_lend_hook)(ms_ino ino, uint64_t ino_no, int oflags);

/* ---- statistics --------------------------------------------------------- */

/* After a call on file ino was refused (a write, fallocate): the refusal
 * record this thread made for it, if it was among the first few, gets the
 * file's path for the report. Takes ns_lock; call it with no store lock
 * held. Costs nothing when there is no such record. */
void ms_refusal_name(ms_store *s, ms_ino ino);

struct ms_stats {
	uint64_t max_bytes, used_bytes, peak_bytes; /* 0 max = unlimited */
	uint64_t max_nodes, used_nodes, peak_nodes;
	uint64_t refused;          /* writes/creates refused by the ledger */
	uint64_t largest_refused;  /* bytes of the largest refused request */
	uint64_t guard_refused;    /* refused by the memory guard */
	uint64_t uncounted_bytes;  /* found by reconciliation, not charged */
	uint64_t files, dirs, symlinks;
	uint64_t orphans;          /* unlinked, still held (or not yet reclaimed) */
	int64_t start_ns;          /* creation (CLOCK_REALTIME) */
	int64_t peak_bytes_ns, peak_nodes_ns; /* when each peak was reached; 0 = never */
	uint64_t attached;         /* processes of the tree that attached (tools not counted) */
	/* Who holds the memfds (files' and the pool's): the keeper, and the
	 * holder processes it started once its own share was used up. */
	uint64_t holders;          /* live holder processes */
	uint64_t memfds_keeper, memfds_holders;
	uint64_t holder_makes;     /* requests to holders for new memfds */
};
void ms_stats_get(ms_store *s, struct ms_stats *st);
/* Only the limits and what is used of them (max_*, used_*; the rest 0),
 * without ms_stats_get's count of every node: statfs, at any number of
 * files. */
void ms_stats_usage(ms_store *s, struct ms_stats *st);

/* Calls fn for each regular file with its path and size (for the report);
 * stops early when fn returns non-zero, and returns that. With
 * MS_STATS_TRY, returns -EBUSY without calling fn when the namespace lock
 * is taken (the keeper, which never waits for it). */
#define MS_STATS_TRY 1
int ms_stats_files(ms_store *s, int flags,
		   int (*fn)(void *arg, const char *path, uint64_t size), void *arg);

/* The programs (executable names) of the tree so far, in the order they
 * first attached: fills up to n, returns how many there are. */
struct ms_prog_stats {
	char name[32];
	uint64_t processes;    /* processes that attached running it */
	uint64_t written;      /* bytes its writes stored */
	uint64_t held;         /* data bytes of files it last grew, now */
	uint64_t peak_held;    /* the most it held at once */
};
int ms_stats_progs(ms_store *s, struct ms_prog_stats *out, int n);

/* The first refusals, in the order they happened: fills up to n, returns
 * how many were recorded (at most 8; the ledger counts them all). */
struct ms_refusal_stats {
	int64_t t_ns;          /* CLOCK_REALTIME */
	uint64_t size;         /* bytes asked for */
	int64_t pid;
	char prog[32];         /* executable name; "" = not known */
	const char *kind;      /* "quota", "nodes" or "guard" */
	char path[240];        /* "" = not known */
};
int ms_stats_refusals(ms_store *s, struct ms_refusal_stats *out, int n);
/* MEMSHIM_FAIL's failures, for the report: ms_injected_note records one,
 * by kind (the same rule, call, errno, program and path; the first
 * MS_INJECTED kinds are kept, every failure is counted); ms_stats_injected
 * copies out up to n kinds, in the order each first happened, sets *kinds
 * to how many it copied, and returns how many failures there were. */
struct ms_injected_stats {
	int64_t t_ns;          /* the first one's, CLOCK_REALTIME */
	int64_t pid;           /* the first one's */
	uint32_t count;        /* failures of this kind */
	int slot;              /* its record (to merge twins) */
	int rule;              /* 1 = the first rule */
	int err;               /* 0 = a short write */
	const char *call;      /* "open", "write", "fsync", "rename" */
	char prog[32];
	char path[240];
};
void ms_injected_note(ms_store *s, int rule, int call, int err, const char *path);
uint32_t ms_stats_injected(ms_store *s, struct ms_injected_stats *out, int n, int *kinds);

/* Checks every invariant of the arena (ledger == sum of charges <= quota,
 * every entry resolves, counts agree). Returns 0 or -EUCLEAN with a
 * description in msg. Takes the namespace lock. */
int ms_check(ms_store *s, char *msg, size_t n);

/* ---- memory guard -------------------------------------------------------- */

/* Reports the bytes of memory available to this process, and where it read
 * them ("cgroup2", "cgroup1", "meminfo"). Returns 0 or -errno. */
typedef int (*ms_probe_fn)(uint64_t *avail, const char **source);
int ms_probe_memory(uint64_t *avail, const char **source); /* the real one */
/* Swaps the probe (tests simulate a small container); NULL restores it. */
void ms_guard_set_probe(ms_probe_fn fn);

#endif
