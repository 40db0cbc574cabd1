/* shim/shim.h — what the files of the interposition layer share: the
 * process's store handle, the table of real libc functions, routing of
 * paths and fds, the fd table, and the -errno to -1/errno conversion.
 *
 * Every wrapper follows one shape (STYLE.md, habit 2):
 *
 *	MS_EXPORT int unlinkat(int dirfd, const char *path, int flags)
 *	{
 *		struct ms_route r;
 *		if (!ms_route_at(dirfd, path, &r))
 *			return REAL(unlinkat)(dirfd, path, flags);  // untouched
 *		int rc = ...ms_unlink / ms_rmdir on r.dir, r.path...;
 *		if (rc == -MS_EESCAPE)                            // left the store
 *			return REAL(unlinkat)(AT_FDCWD, ms_escape_path(), flags);
 *		return ms_ret(rc);                                // -1/errno here only
 *	}
 *
 * Rules: deciding the route has no side effects and leaves errno alone; a
 * call that is not ours goes to the real function with the same arguments;
 * shim code calls wrapped names only through REAL(); errno is set only by
 * ms_ret / ms_ret_ssize.
 */
#ifndef MEMSHIM_SHIM_H
#define MEMSHIM_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "real.h"
#include "store.h"
#include "sys.h"

#define MS_EXPORT __attribute__((visibility("default")))

/* The *64 structures are the plain ones on the 64-bit ABIs this library is
 * built for: the *64 wrappers pass them on as they are. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat64 layout");
_Static_assert(sizeof(struct statfs) == sizeof(struct statfs64), "statfs64 layout");
_Static_assert(sizeof(struct statvfs) == sizeof(struct statvfs64), "statvfs64 layout");

/* The process's shim state. Lock notes: [init] written by the constructor
 * (before the program has threads) and in a fork child (which has one
 * thread), read-only otherwise; [atomic] read and written with __atomic
 * builtins. The process-local locks (route.c cwd_lock, stdio.c std_lock
 * and map_lock, spawn.c opens_lock, sock.c sock_lock, each DIR's lock in
 * dir.c) are listed with the order they are taken in
 * doc/ARCHITECTURE.md. */
struct ms_shim {
	int lower_on;         /* [init] cfg names a MEMSHIM_LOWER directory */
	int on;               /* [init] the constructor ran: the shim routes calls */
	/* [attach] The store: attached by the constructor when the process
	 * needs it from the start (it made the store, or inherited a store
	 * fd or cwd), else on the first call that routes into it
	 * (ms_attach). Written under attach_lock; `ready`, set last with
	 * release order, says it and everything attach sets up are there. */
	ms_store *store;
	int ready;            /* [atomic] */
	/* [atomic] virtual current directory in the store; 0 = the kernel's.
	 * Its reference is the process's; a path routed against it while
	 * another thread changes directory uses the old or the new one, as
	 * in the kernel. Routing takes no reference: if the old directory
	 * was removed and its last reference given back meanwhile, core finds
	 * the slot dead (ENOENT); only a slot already reused by then would
	 * be walked from — the one race this leaves open. */
	ms_ino cwd;
	int placeholder;     /* [init] memfd that directory fds are dups of */
	/* [init] Real directories above a prefix ("/", "/tmp" for
	 * /tmp/build), by device and inode, to spot a dirfd a relative path
	 * may leave from. */
	struct {
		dev_t dev;
		ino_t ino;
	} above[MS_MAX_PREFIXES * 8];
	int nabove;         /* [init] */
	int private_fds[8]; /* [init] the store's own fds, and the placeholder
			     * (moved by ms_fd_private_evict under dup2) */
	int nprivate;       /* [init] */
	pid_t pid;          /* [init] getpid() of this process (fork updates it) */
	/* [atomic] The keeper connection programs exec'd from here inherit
	 * (MEMSHIM_PIN), or -1: the one this process inherited until it
	 * attaches, then its own (cred.c). */
	int pin;
	/* [atomic] The process's umask: read at start, kept by the umask
	 * wrapper (path.c), given to the store when the process attaches. */
	mode_t umask;
	/* [init] Last: start-up writes the fields above and the first page of
	 * the configuration (its scalars and first prefix, config.h), all on
	 * one page of this .data object (each page a new process writes is a
	 * page fault). */
	struct ms_config cfg;
};

extern struct ms_shim ms_shim;

/* The store, attached now if it was not yet (init.c); NULL when the shim is
 * off or the store cannot be attached (said once in a memshim: line), and
 * in a vfork child of a process that had not attached (the child shares
 * its parent's memory, not its fds). */
ms_store *ms_attach(void);

/* ---- errno ------------------------------------------------------------------ */

static inline int ms_ret(int r)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static inline ssize_t ms_ret_ssize(ssize_t r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* For wrappers of any return type: long converts back implicitly. */
static inline long ms_retl(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* ---- bad pointers (probe.c) --------------------------------------------------- */

/* 0 for a pointer that can never be mapped: NULL and the first 64 KiB
 * (mmap_min_addr's default), or past the user half of the address space. */
static inline int ms_ptr_possible(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	return a >= 65536 && a < ((uintptr_t)1 << 47);
}

/* A probe around accesses to the caller's memory:
 *	struct ms_probe p;
 *	ms_probe_push(&p);
 *	if (MS_PROBE_SET(&p))
 *		return -EFAULT;     // a SIGSEGV/SIGBUS inside; already popped
 *	...accesses...
 *	ms_probe_end(&p);
 * Never across a call into core (a jump out would leave a store lock
 * held). GCC's builtin setjmp keeps three words and saves no signal mask:
 * a handful of instructions, no system call (the handler runs with
 * SA_NODEFER, so the mask needs no restoring). */
struct ms_probe {
	void *env[5];
	struct ms_probe *prev;
};
#define MS_PROBE_SET(p) __builtin_setjmp((p)->env)
extern __thread struct ms_probe *ms_probe_cur __attribute__((tls_model("initial-exec")));
static inline void ms_probe_push(struct ms_probe *p)
{
	p->prev = ms_probe_cur;
	ms_probe_cur = p;
}
static inline void ms_probe_end(struct ms_probe *p) { ms_probe_cur = p->prev; }
/* Copies n bytes to / from the caller's memory: 0 or -EFAULT. */
int ms_copy_out(void *dst, const void *src, size_t n);
int ms_copy_in(void *dst, const void *src, size_t n);
/* Copies a string of fewer than n bytes: its length, -EFAULT, or
 * -ENAMETOOLONG. */
int ms_copy_str(char *dst, const char *src, size_t n);
/* Constructor: the fault handler (chained to the one the process had). */
void ms_probe_init(void);

/* ---- routing (route.c) ---------------------------------------------------- */

struct ms_route {
	ms_ino dir;        /* directory the path is relative to; 0 = absolute */
	int fault;         /* the path pointer is bad (not ours: the kernel
			    * answers EFAULT) */
	int empty;         /* path is "" and names `dir` itself (a store fd
			    * reached as /proc/self/fd/N): add MS_EMPTY */
	uint32_t fd_how;   /* with `empty`: that fd's ms_fd.how */
	int exe;           /* "/proc/self/exe": `dir` is found once attached */
	uint64_t kino;     /* another process's /proc/<pid>/fd/N of a store
			    * file: its memfd's st_ino, by which `dir` is
			    * found once attached (with `empty`) */
	const char *path;  /* the path for core: points into buf or the caller's */
	char buf[PATH_MAX];
};

/* Decides whether (dirfd, path) names something in the store. Returns 1 and
 * fills *r when it does; 0 when the call is not ours (or the store is not
 * open, or path is NULL); never touches errno. dirfd is AT_FDCWD or an fd.
 * An empty path with a store dirfd routes to that directory (r->path ""). */
int ms_route_at(int dirfd, const char *path, struct ms_route *r);
static inline int ms_route(const char *path, struct ms_route *r)
{
	return ms_route_at(AT_FDCWD, path, r);
}
/* 1 when the absolute, lexically clean path lies under a prefix. */
int ms_path_is_ours(const char *path, size_t len);
/* Lexically normalises an absolute path into out ('.', '..', '//', trailing
 * '/' removed, except that a trailing '/' is kept as the last char when
 * keep_slash); returns its length or -ENAMETOOLONG. */
int ms_normalise(const char *in, char *out, size_t n, int keep_slash);
/* Called by chdir/fchdir to a real directory: refreshes the cached real
 * cwd (route.c keeps it, under its cwd_lock). */
void ms_real_cwd_changed(void);
/* A copy of the cached real cwd. */
void ms_real_cwd_get(char *buf, size_t n);

/* ---- fork: one set of handlers (init.c) -------------------------------------- */

/* Each file with process-local locks has one function for the three
 * moments of a fork: take them all, give them back, make them new. */
enum { MS_FORK_PREPARE, MS_FORK_PARENT, MS_FORK_CHILD };
void ms_route_fork(int phase); /* cwd_lock */
void ms_stdio_fork(int phase); /* std_lock, then map_lock */
void ms_spawn_fork(int phase); /* opens_lock */
void ms_sock_fork(int phase);  /* sock_lock */

/* ---- opening, and leaving the store (open.c) ------------------------------- */

/* How an opened store file is held. */
enum ms_open_how {
	MS_OPEN_KEEP, /* the program's fd: recorded in the fd table */
	MS_OPEN_EXEC, /* a program to exec: a bare kernel fd that the exec (or
		       * the caller) closes; no table entry, no reference (the
		       * fd alone keeps the memfd), so a vfork child may open
		       * it without touching its parent's table */
};

/* Opens routed path r as openat(2) would with flags and mode. A path that
 * leaves the store through a store symlink is opened by the kernel at its
 * real path. Returns the fd (a store file, a store directory fd, or a real
 * fd) or -errno; errno untouched. */
int ms_open_route(struct ms_route *r, int flags, mode_t mode, enum ms_open_how how);

/* A vfork child that opened a store file or duplicated a store fd has
 * store fds its parent's table does not show: ms_vfork_touch() says so,
 * and ms_vfork_touched() tells the exec (carry.c), which then leaves
 * MEMSHIM_FDS out so the new program looks at each of its fds. Without
 * either, the parent's table is the child's list (each entry checked
 * against the kernel by the new program). Thread-local and reset by the
 * vfork wrapper: the child runs on its parent thread's memory while that
 * thread waits, and a later vfork child of the thread starts clean. */
void ms_vfork_touch(void);
int ms_vfork_touched(void);

/* The one step for a path that left the store: when rc is core's
 * -MS_EESCAPE, sets *dirfd and *path to the real path core reached and
 * returns 1, so the caller repeats its real call with them. */
int ms_leave(long rc, int *dirfd, const char **path);

/* The one-path wrapper shape: not ours -> realcall; ours -> corecall
 * (which sees the route as `r`); left the store -> realcall again with the
 * wrapper's own dirfd and path variables pointing at the real path. For a
 * call without a dirfd, pass a local `int at = AT_FDCWD`. */
#define MS_PATH_CALL(dirfd, path, realcall, corecall)                              \
	do {                                                                       \
		struct ms_route r;                                                 \
		if (!ms_route_at(dirfd, path, &r))                                 \
			return realcall;                                           \
		long rc_ = corecall;                                               \
		if (ms_leave(rc_, &(dirfd), &(path)))                              \
			return realcall;                                           \
		return ms_retl(rc_);                                               \
	} while (0)

/* ---- the shim's fds out of sight (hide.c) -------------------------------------- */

/* fd was just opened (open, opendir) on path: marks it when path is this
 * process's fd directory, whose listings leave the private fds out. */
void ms_hide_opened(int fd, const char *path);
/* 1 when fd is marked (nothing to do, fast, while no fd is). */
int ms_hide_on(int fd);
/* fd is closed: its mark goes. */
void ms_hide_forget(int fd);
/* 1 when a directory entry's name is one of the private fds. */
int ms_hide_name(const char *name);
/* 1 when path is this process's fd directory. */
int ms_hide_path(const char *path);
/* Removes the private fds' records from a getdents64 buffer of n bytes;
 * returns the new length. */
long ms_hide_dirents(void *buf, long n);

/* ---- the fd table (fdtab.c) ------------------------------------------------ */

/* MS_FD_LINK: an O_PATH fd on a symlink (open with O_PATH|O_NOFOLLOW). */
enum ms_fd_kind { MS_FD_NONE = 0, MS_FD_FILE = 1, MS_FD_DIR = 2, MS_FD_LINK = 3 };

struct ms_fd {
	uint32_t kind;   /* [atomic] enum ms_fd_kind */
	ms_ino ino;
	int32_t oflags;  /* open flags as given (O_ACCMODE, O_APPEND, ...) */
	uint32_t how;    /* MS_FD_CREATED, MS_FD_TMPFILE: of the open file
			  * description, so copied to dups */
	int32_t sig;     /* directories: F_SETSIG's signal (the kernel keeps
			  * it per open file description; all store directory
			  * fds share the placeholder's one) */
	/* [atomic] MEMSHIM_FAIL's rules whose glob matches the file, with
	 * MS_FD_FAIL_KNOWN once found (fail.c, at the fd's first write or
	 * fsync); 0 = not looked at yet. */
	uint32_t fail;
	uint64_t pos;    /* directories: readdir cookie for getdents64 */
	/* [atomic] files: the I/O seen through this fd towards a mapping of
	 * the file (fd.c, core/mapio.c); MS_FD_MIO_NEVER when none can be
	 * made through it */
	uint32_t mio;
	/* files: the kept description this fd was lent (lend.c: slot and
	 * generation, MS_LEND_REF), 0 = none */
	uint32_t lend;
};
#define MS_FD_MIO_NEVER UINT32_MAX

#ifndef F_CREATED_QUERY
#define F_CREATED_QUERY (1024 + 4) /* Linux 6.12; glibc 2.36 does not name it */
#endif
/* Bits of ms_fd.how, each its own. */
#define MS_FD_CREATED 1 /* the open made the file (F_CREATED_QUERY) */
#define MS_FD_SHARED 4  /* [atomic] the open file description may be another
			 * process's too (a fork, an exec, a spawn, fds sent
			 * over a socket, inherited): its status flags may
			 * have changed without this process's fcntl */
#define MS_FD_TMPFILE 2 /* opened by O_TMPFILE: /proc/self/fd/N reads
			 * "... (deleted)" whatever names it gets later */
#define MS_FD_LOWER 8   /* a kernel fd on the real file below the store
			 * (MEMSHIM_LOWER, opened for reading): I/O is the
			 * kernel's, attribute changes and stat the store's */

/* The next three decide whether a closed fd's description may be kept to
 * lend (lend.c); they describe the description, so dups copy them. */
#define MS_FD_DUPED 16  /* [atomic] dup'd once: other fds may share it */
#define MS_FD_MOVED 32  /* [atomic] its offset may have moved from 0 */
#define MS_FD_SPOILT 64 /* [atomic] changed as a fresh open's is not (flock,
			 * F_SETFL, F_SETOWN, a lease, ioctl...) */

#define MS_FD_FAIL_KNOWN (1u << 31)
_Static_assert(__builtin_popcount(MS_FD_CREATED | MS_FD_TMPFILE | MS_FD_SHARED | MS_FD_LOWER |
				  MS_FD_DUPED | MS_FD_MOVED | MS_FD_SPOILT) == 7,
	       "each bit of ms_fd.how its own");

/* The entry of fd, or NULL when fd is not a store fd. A few nanoseconds. */
struct ms_fd *ms_fd_get(int fd);
static inline int ms_fd_is_ours(int fd) { return ms_fd_get(fd) != NULL; }
/* The entry of fd for the calls an O_PATH fd cannot make (read, write,
 * fchmod, fchown, futimens, f*xattr, getdents, ftruncate...): NULL for an
 * O_PATH store fd, whose kernel fd is O_PATH itself, so the real call
 * answers EBADF exactly as the kernel does. Calls an O_PATH fd may make
 * (fstat, fstatfs, *at with it as dirfd or AT_EMPTY_PATH, fchdir, dup,
 * fcntl F_GETFL/F_SETFD, close) take ms_fd_get. */
static inline struct ms_fd *ms_fd_io(int fd)
{
	struct ms_fd *e = ms_fd_get(fd);
	return e && !(e->oflags & O_PATH) && !(e->how & MS_FD_LOWER) ? e : NULL;
}
/* An fd the table does not know on a real file below the store
 * (MEMSHIM_LOWER), inherited where no list came with it (a vfork child's
 * program, system()): recorded as the lower file's fd when the real file
 * at its path is it and the store has a node there, so an attribute change
 * through it goes to the store, never to the real file. Returns the entry,
 * or NULL (not such an fd). One readlink and two stats. */
struct ms_fd *ms_fd_adopt_lower(int fd);
/* The entry of fd for the attribute changes an O_PATH fd cannot make
 * (fchmod, fchown, futimens): ms_fd_io's, and a lower file's fd too, whose
 * changes copy the file up rather than reach the real file. */
static inline struct ms_fd *ms_fd_attr(int fd)
{
	struct ms_fd *e = ms_fd_get(fd);
	if (!e && ms_shim.lower_on)
		e = ms_fd_adopt_lower(fd);
	return e && !(e->oflags & O_PATH) ? e : NULL;
}
/* Records fd as a store fd of kind on ino (whose reference it now holds). */
void ms_fd_set(int fd, enum ms_fd_kind kind, ms_ino ino, int oflags);
/* Forgets fd and gives back its reference. */
void ms_fd_drop(int fd);
/* ms_fd_drop of an fd about to be closed (close, close_range, fclose):
 * its description may be kept to lend (lend.c). */
void ms_fd_close(int fd);
/* newfd becomes a copy of oldfd's entry (dup, dup2, F_DUPFD); takes a
 * reference. Drops newfd's old entry first. */
void ms_fd_copy(int oldfd, int newfd);
/* A new directory fd on ino: a dup of the placeholder at the lowest free
 * number (>= minfd), close-on-exec if asked. With O_PATH in oflags, an fd
 * of `kind` (a directory or a symlink) that is an O_PATH re-open of the
 * placeholder, so the kernel refuses what an O_PATH fd may not do.
 * Returns the fd or -errno. */
int ms_fd_new_dir(ms_ino ino, int oflags, int minfd, enum ms_fd_kind kind);
/* 1 when fd is one of the store's private fds (arena, keeper socket, ...):
 * close, close_range, dup2 onto it must leave it working. */
int ms_fd_private(int fd);

/* ---- lending kept descriptions (lend.c) ------------------------------------ */

/* ms_lend_hook of core/store.h. */
int ms_lend_take(ms_ino ino, uint64_t ino_no, int oflags);
/* ms_open_route, around its open: lending allowed (an fd the program
 * keeps, made by this thread), then the lent slot's reference for the new
 * fd's entry (0: the fd is no lent one). */
void ms_lend_allow(void);
uint32_t ms_lend_taken(void);
/* The put of store file fd e's reference at its drop (ms_fd_drop); with
 * open 1 the fd is still the program's (close, close_range: its
 * description may be kept now), with 0 the kernel has already replaced
 * it (dup2 onto it). */
void ms_lend_put(int fd, struct ms_fd *e, int open);
/* A dup of a lent fd: one more user of its description. */
void ms_lend_dup(struct ms_fd *e);
/* fd's offset may move (read, write, lseek, a copy, a stream). Returns 1
 * when nothing moved it before and no other fd or process has its
 * description (not dup'd, not shared, not a real file's below the store,
 * which a program may have opened itself): its offset is then still the 0
 * of its open (a fresh open's, or a lent description's, reset when lent). */
int ms_fd_moved(struct ms_fd *e);
/* fd's description changed as a fresh open's is not: never kept again. */
void ms_fd_spoil(struct ms_fd *e);
/* A POSIX record lock on file ino is about to be taken: every kept
 * description of it is closed first (a close of any fd of a file drops
 * the process's locks on it, so none may be closed later). */
void ms_lend_lock(ms_ino ino);
/* 1 when fd is a kept description (one of the private fds). */
int ms_lend_hidden(int fd);
/* Kept descriptions in [first, last] into out (room for MS_LEND_SLOTS);
 * returns how many. */
int ms_lend_fds(unsigned first, unsigned last, int *out);
/* The program takes fd's number (dup2 onto it): the kept description goes. */
void ms_lend_evict(int fd);
/* Every kept description goes (before an exec). */
void ms_lend_drop_all(void);
/* In a fork child: the kept descriptions are the parent's. */
void ms_lend_fork_child(void);
#define MS_LEND_SLOTS 4
/* ms_private_fd_hook of core/store.h (set at the attach). */
int ms_fd_private_take(int fd);
/* Moves a private fd away from `fd` (before dup2 onto it). */
void ms_fd_private_evict(int fd);
/* Forgets every store fd in [first, last] (close_range, closefrom). */
void ms_fd_drop_range(unsigned first, unsigned last);
/* Every store file fd becomes MS_FD_SHARED: before a fork, when fds are
 * sent over a socket. (An exec or spawn marks the fds it hands down,
 * carry.c.) */
void ms_fd_mark_shared(void);
/* F_SETFL on one fd: every entry of ino in this process gets the flags
 * (the kernel keeps them per open file description, shared by dups). */
void ms_fd_setfl_ino(ms_ino ino, int flags, int mask);
/* One past the highest fd the table has ever held. */
int ms_fd_high(void);
/* The next store fd after `fd` (start at -1) that an exec closes
 * (cloexec 1) or keeps (cloexec 0), with its entry; -1 after the last. */
int ms_fd_next(int fd, int cloexec, struct ms_fd **e);
/* Maps the table (constructor). */
void ms_fdtab_init(void);
/* atfork child: every inherited entry holds a reference of its own. */
void ms_fdtab_atfork_child(void);

/* In a fork child: the pid, the store handle, a reference of its own for
 * every inherited fd (atfork handler; _Fork calls it too). */
void ms_shim_fork_child(void);

/* ---- credentials (cred.c) ------------------------------------------------------ */

/* After the credentials changed (and in the constructor): the store reads
 * them again, and the keeper connection is made inheritable, and named in
 * MEMSHIM_PIN, while the process is not the store's owner. */
void ms_cred_changed(void);
/* Its second half: MEMSHIM_PIN for the programs exec'd from here, from the
 * credentials the store has now (an attach, which has just read them). */
void ms_cred_pin_update(void);

/* ---- what a new program inherits (carry.c) ---------------------------------- */

/* Constructor, first: notes the environment to carry along, the store fds
 * an exec handed down (MEMSHIM_FDS) and the store cwd (MEMSHIM_CWD), both
 * taken out of the environment. */
void ms_carry_init(void);
/* The value of MEMSHIM_* variable name as the program started, or NULL;
 * for the constructor (MEMSHIM_CWD included, which is out of environ),
 * the configuration's reader among them (an ms_getenv_fn). */
const char *ms_carry_start_env(const char *name);
/* 1 when the program started with store fds: the store is needed at once. */
int ms_carry_inherited(void);
/* This library's path as the loader opened it (for LD_PRELOAD and the
 * keeper next to it); "" when it could not be found. */
const char *ms_carry_libpath(void);
/* At attach: takes over those fds, checked against the kernel. */
void ms_carry_attach(void);

#define ENV_EXTRA 32    /* entries ms_carry_env may add */
#define ENV_BYTES 16384 /* room for the strings it adds */

struct envbuf {
	char str[ENV_BYTES];
	size_t used;
};

/* A store fd a spawn's file actions will create (a dup2 target). */
struct ms_carry_extra {
	int target;
	struct ms_fd e;
};

/* Builds the environment for a new program into vec (room for the
 * caller's entries plus ENV_EXTRA), strings in b: the shim, the store, the
 * virtual cwd, and MEMSHIM_FDS for the store fds that survive the exec
 * plus `extra`. own: 'T' when the references travel with the fds, 'G'
 * when the new program takes its own. No allocation (vfork-safe). */
char **ms_carry_env(char *const envp[], char **vec, struct envbuf *b, char own,
		    const struct ms_carry_extra *extra, int nextra);
int ms_env_count(char *const envp[]);

/* ---- programs (exec.c; shared with spawn.c) --------------------------------- */

/* The program `*path` names: 0 with *fd = -1 when it is not the store's
 * (*path may then have become the real path a store symlink leads to), 0
 * with *fd a bare fd on it (MS_OPEN_EXEC) when it is, or -errno (EACCES
 * for a directory or a file no one may execute). */
int ms_program_fd(const char **path, int *fd);
/* The "#!" line of the program open at fd, parsed into line (n bytes) as
 * Linux does. 1 for a script, 0 for anything else, -ENOEXEC for "#!"
 * without an interpreter. */
int ms_script_line(int fd, char *line, size_t n, char **interp, char **arg);
/* The interpreter's argv: interp [arg] path argv[1..] (room: argc + 3). */
void ms_script_argv(char **nargv, char *interp, char *arg, const char *path,
		    char *const argv[]);
int ms_argv_count(char *const argv[]);
/* The one PATH search: the next candidate for `file` along PATH (glibc's
 * "/bin:/usr/bin" when unset; an empty entry is the current directory).
 * *cur starts NULL. Returns 1 with out filled, 0 after the last. */
int ms_path_next(const char **cur, const char *file, char *out, size_t n);

/* ---- writes (fd.c) ---------------------------------------------------------- */

/* write(2) with the quota check when fd is a store file; -1/errno. */
ssize_t ms_shim_write(int fd, const void *buf, size_t n);
/* 1 in a vfork child (memory shared with a parent that has another pid):
 * process-local tables must be left alone there. No system call unless
 * this thread vforked and has not looked since (fd.c). */
int ms_in_vfork_child(void);
/* The vfork wrapper, in the parent before the child exists. */
void ms_vfork_begin(void);
/* A child that shares our memory was made where the wrapper could not see
 * it (clone, syscall()): every later look asks the kernel. */
void ms_vfork_seen(void);
/* A process that runs none of our fork handlers is about to be made (clone
 * without CLONE_THREAD, fork or clone by syscall()): pids are checked
 * from now on, and every store fd's description becomes the child's too
 * (ms_fd_mark_shared). */
void ms_child_without_handlers(void);
/* A vfork child changed directory to ino (0: the kernel's); and the
 * directory such a child is in: 1 with *ino, or 0 (not one that did). */
void ms_vfork_cwd_set(ms_ino ino);
int ms_vfork_cwd(ms_ino *ino);
/* getpid() by system call: right in a vfork child too. Inline: the
 * constructor calls it, and a call into fd.c's page of code would be one
 * more page fault for every new process. */
static inline pid_t ms_shim_getpid(void) { return (pid_t)ms_raw_syscall(SYS_getpid); }

/* ---- MEMSHIM_FAIL: the program's calls failed on purpose (fail.c) --------------
 *
 * Each is called only when ms_fault_on(): without rules a store call pays
 * that one branch. They return 0 (make the call), or -errno (fail it with
 * that, having done nothing); each failure injected is recorded in the
 * store for the report (ms_injected_note) and logged at warn level. */

/* open (path relative to store directory dir, "" for dir itself), or
 * rename (path2 the new name relative to dir2; NULL for open): a rule
 * fires when its glob matches either name. */
int ms_fail_path(enum ms_fail_call call, ms_ino dir, const char *path, ms_ino dir2,
		 const char *path2);
/* write or fsync on store fd (entry e). For a write, at is where it
 * starts (-1: at the fd's offset, or its end with O_APPEND) and *len its
 * length, which a "short" rule lowers (then 0 is returned). */
int ms_fail_fd(enum ms_fail_call call, int fd, struct ms_fd *e, int64_t at, size_t *len);

/* ---- standard streams (stdio.c) -------------------------------------------- */

/* fd 0, 1 or 2 was just made a store file, or stopped being one (dup2,
 * dup3, fcntl F_DUPFD onto it, close): switch the matching stream. */
void ms_stdio_fd_changed(int fd);
/* A stream on fd, just opened with the flags of fopen mode `mode`: a
 * quota-checked stream on a store fd, glibc's own on any other. Takes the
 * fd: closes it when no stream can be made (NULL, errno set). */
FILE *ms_stdio_stream(int fd, const char *mode);

/* ---- directories and the current directory (dir.c, cwd.c) ------------------
 * Declared by the directories/cwd helper. */

/* The directory-stream calls for shim code that must list a directory
 * (glob's GLOB_ALTDIRFUNC, nftw, fts): each routes like the wrapper of the
 * same name and forwards to the real function when not ours, without going
 * through an exported name. They set errno as the libc function does. */
DIR *ms_dir_opendir(const char *path);
struct dirent *ms_dir_readdir(DIR *d);
int ms_dir_closedir(DIR *d);
/* 1 when d is a store directory stream handed out by dir.c. */
int ms_dir_is_ours(DIR *d);
/* 1 for "." or "./" (names the directory itself, even a removed one). */
int ms_dir_is_dot(const char *path);

/* Called once by the constructor, after ms_real_cwd_changed(): when the
 * environment's MEMSHIM_CWD (or, without it, PWD) names a store directory
 * (a parent chdir'd into the store and exec'd us), that directory becomes
 * the virtual current directory. Needs a line in init.c (lead). */
void ms_cwd_inherit(void);
/* Fork child: a reference of its own on the inherited virtual cwd. */
void ms_cwd_fork_child(void);
/* For the exec wrappers: writes "MEMSHIM_CWD=<store path>" (or
 * "MEMSHIM_CWD=" when the cwd is the kernel's) into buf. Every exec must
 * put it in the new program's environment in place of any MEMSHIM_CWD
 * there (never re-add one seen at start-up: it is stale after a chdir).
 * No allocation, safe in a vfork child. Returns the length, or
 * -ENAMETOOLONG when n is too small. */
int ms_cwd_env(char *buf, size_t n);

#endif
