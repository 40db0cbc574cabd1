/* shim/init.c — start-up of libmemshim.so: read the MEMSHIM_* environment
 * before the program's main runs, and create or join the tree's store then
 * or on the first call that needs it (ms_attach).
 *
 * A malformed variable is never guessed at: one line on stderr and exit
 * status 2 before main. Children find the store by name through
 * MEMSHIM_STORE_ID, which the first process of the tree puts in the
 * environment.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

/* After the other start-up variables: its first 2 KiB are written at
 * start, the rest (most of the configuration's paths) seldom. */
MS_STARTUP_TAIL struct ms_shim ms_shim = {.store = NULL, .placeholder = -1, .pin = -1};

/* The one set of fork handlers: every process-local lock of the shim is
 * taken before the fork (in the order of doc/ARCHITECTURE.md), given back
 * in the parent, and made new in the child, whose copy may have been
 * taken by a thread that does not exist there. _Fork runs only the child
 * part (it runs no handlers of its own, and a lock it copied held is made
 * new all the same). */
static void attach_fork(int phase);

/* glibc's, behind pthread_atfork (a public symbol since 2.3.2) */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
			     void *dso);
extern void *__dso_handle;

static void fork_prepare(void)
{
	ms_real_resolve(); /* the child may not call dlsym (real.h) */
	ms_fd_mark_shared(); /* parent and child share every description */
	attach_fork(MS_FORK_PREPARE);
	ms_stdio_fork(MS_FORK_PREPARE);
	ms_spawn_fork(MS_FORK_PREPARE);
	ms_route_fork(MS_FORK_PREPARE);
	ms_sock_fork(MS_FORK_PREPARE);
	ms_mio_fork(MS_MIO_PREPARE); /* core/mapio.c's mio_lock, a leaf */
}

_Static_assert((int)MS_MIO_PREPARE == (int)MS_FORK_PREPARE &&
		       (int)MS_MIO_PARENT == (int)MS_FORK_PARENT &&
		       (int)MS_MIO_CHILD == (int)MS_FORK_CHILD,
	       "ms_mio_fork takes the shim's fork phases");

static void fork_parent(void)
{
	ms_mio_fork(MS_MIO_PARENT);
	ms_sock_fork(MS_FORK_PARENT);
	ms_route_fork(MS_FORK_PARENT);
	ms_spawn_fork(MS_FORK_PARENT);
	ms_stdio_fork(MS_FORK_PARENT);
	attach_fork(MS_FORK_PARENT);
}

void ms_shim_fork_child(void)
{
	attach_fork(MS_FORK_CHILD);
	ms_stdio_fork(MS_FORK_CHILD);
	ms_spawn_fork(MS_FORK_CHILD);
	ms_route_fork(MS_FORK_CHILD);
	ms_sock_fork(MS_FORK_CHILD);
	ms_mio_fork(MS_MIO_CHILD);
	ms_shim.pid = getpid();
	if (!ms_shim.ready)
		return;
	ms_lend_fork_child();
	ms_store_atfork_child(ms_shim.store);
	ms_fdtab_atfork_child();
	ms_cwd_fork_child();
}

/* Real directories above each prefix, by device and inode (route.c). */
static void find_above(void)
{
	for (int i = 0; i < ms_shim.cfg.nprefix; i++) {
		char dir[MS_PREFIX_MAX];
		memcpy(dir, ms_shim.cfg.prefix[i], sizeof(dir)); /* NUL-terminated by config.c */
		for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
			slash[slash == dir] = 0; /* "/a/b" -> "/a" -> "/" */
			struct stat st;
			if (REAL(stat)(dir, &st) == 0 &&
			    ms_shim.nabove < (int)(sizeof(ms_shim.above) / sizeof(ms_shim.above[0]))) {
				ms_shim.above[ms_shim.nabove].dev = st.st_dev;
				ms_shim.above[ms_shim.nabove].ino = st.st_ino;
				ms_shim.nabove++;
			}
			if (slash == dir)
				break;
		}
	}
}

/* The keeper program sits next to this library (make install keeps them
 * together). */
static void keeper_path(char *buf, size_t n)
{
	const char *lib = ms_carry_libpath();
	buf[0] = 0;
	if (!*lib)
		return;
	const char *slash = strrchr(lib, '/');
	/* "<dir>/memshim-keeper" without snprintf: no page of libc's printf
	 * faulted in at an attach */
	static const char prog[] = "/memshim-keeper";
	size_t dirlen = slash ? (size_t)(slash - lib) : 1;
	if (dirlen + sizeof(prog) > n)
		return;
	memcpy(buf, slash ? lib : ".", dirlen);
	memcpy(buf + dirlen, prog, sizeof(prog));
}

static void die(const char *msg)
{
	char line[600];
	int len = snprintf(line, sizeof(line), "memshim: %s\n", msg);
	if (len > (int)sizeof(line) - 1)
		len = (int)sizeof(line) - 1;
	ssize_t w = REAL(write)(2, line, (size_t)len);
	(void)w;
	_exit(2);
}

static int attach_now(void);

/* Opens or joins the tree's store and sets up what store calls need.
 * 0 or -errno. Under attach_lock. */
static int attach_store(void)
{
	ms_fault_paused = 1;
	int r = attach_now();
	ms_fault_paused = 0;
	return r;
}

/* Makes the store (named id, or the configuration's name when id is NULL)
 * with its keeper. Apart from attach_now, whose usual case is a join: its
 * frame holds a configuration and a path, 40 KiB of stack below which a
 * join would otherwise run (each fresh page of stack a page fault). */
static __attribute__((noinline)) int open_new(struct ms_open_opts *o, const char *id,
					      ms_store **st)
{
	char kp[4096];
	keeper_path(kp, sizeof(kp));
	o->keeper_path = kp;
	if (!id)
		return ms_store_open(o, st);
	/* The tree that made it has ended; start a fresh one under the same
	 * name rather than run without. */
	struct ms_config c = ms_shim.cfg;
	ms_copy_name(c.store_name, sizeof(c.store_name), id);
	o->cfg = &c;
	return ms_store_open(o, st);
}

static int attach_now(void)
{
	struct ms_open_opts o = {.cfg = &ms_shim.cfg};
	const char *id = getenv("MEMSHIM_STORE_ID");
	/* The keeper connection the tree hands down (carry.c): through it,
	 * whatever our uid has become (cred.c). */
	if (ms_shim.pin >= 0)
		o.pin = ms_shim.pin;
	ms_store *st = NULL;
	int r;
	if (id && *id) {
		r = ms_store_attach(id, &o, &st);
		if (r == -ENOENT)
			r = open_new(&o, id, &st);
	} else {
		r = open_new(&o, NULL, &st);
	}
	if (r)
		return r;
	ms_shim.store = st;
	if (!id || strcmp(id, ms_store_name(st)) != 0)
		setenv("MEMSHIM_STORE_ID", ms_store_name(st), 1);
	/* Directory fds are dups of one memfd: real fd numbers the kernel
	 * will not hand out twice, on which raw getdents fails with ENOTDIR. */
	int ph = memfd_create("memshim-dir", MFD_CLOEXEC);
	if (ph >= 0)
		ms_shim.placeholder = ms_fd_private_place(ph);
	if (!getenv("MEMSHIM_MEMFD_DEV")) {
		/* for children to tell a store fd among theirs (carry.c) */
		char dev[24];
		snprintf(dev, sizeof(dev), "%llu", (unsigned long long)ms_store_memfd_dev(st));
		setenv("MEMSHIM_MEMFD_DEV", dev, 1);
	}
	int np = ms_store_private_fds(st, ms_shim.private_fds, 7);
	if (np > 7)
		np = 7;
	if (ms_shim.placeholder >= 0)
		ms_shim.private_fds[np++] = ms_shim.placeholder;
	ms_shim.nprivate = np;
	ms_private_fd_hook = ms_fd_private_take; /* after the list is made */
	ms_lend_hook = ms_lend_take;
	ms_store_set_umask(st, __atomic_load_n(&ms_shim.umask, __ATOMIC_RELAXED));
	ms_cred_pin_update(); /* the new handle read the credentials */
	ms_carry_attach();
	__atomic_store_n(&ms_shim.ready, 1, __ATOMIC_RELEASE);
	return 0;
}

/* attach_lock: the first lock of the shim's order (doc/ARCHITECTURE.md):
 * attach_store takes others inside it. */
MS_STARTUP static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

ms_store *ms_attach(void)
{
	if (__builtin_expect(__atomic_load_n(&ms_shim.ready, __ATOMIC_ACQUIRE), 1))
		return ms_shim.store;
	if (!ms_shim.on || ms_in_vfork_child())
		return NULL;
	MS_STARTUP static int failed;
	pthread_mutex_lock(&attach_lock);
	if (!__atomic_load_n(&ms_shim.ready, __ATOMIC_ACQUIRE) && !failed) {
		int r = attach_store();
		if (r) {
			failed = 1;
			ms_logc(ms_shim.cfg.log_level, MS_LOG_ERROR,
				"cannot attach to the store: %s; store paths are the kernel's in this process",
				strerror(-r));
		}
	}
	pthread_mutex_unlock(&attach_lock);
	return __atomic_load_n(&ms_shim.ready, __ATOMIC_ACQUIRE) ? ms_shim.store : NULL;
}

static void attach_fork(int phase)
{
	if (phase == MS_FORK_PREPARE)
		pthread_mutex_lock(&attach_lock);
	else if (phase == MS_FORK_PARENT)
		pthread_mutex_unlock(&attach_lock);
	else
		pthread_mutex_init(&attach_lock, NULL);
}

/* vfork: a child that shares our memory but not our fd table cannot
 * attach (what it set up would be the parent's, its fds not). So a
 * process that vforks attaches first, here, in the parent; the child then
 * runs on the parent's store. The wrapper cannot be a C function (the
 * child would return through a frame the parent returns through again):
 * a few instructions call ms_vfork_prepare and jump to the real vfork
 * with the caller's return address untouched. */
__attribute__((used)) void *ms_vfork_prepare(void)
{
	int saved = errno;
	if (ms_shim.on && !__atomic_load_n(&ms_shim.ready, __ATOMIC_ACQUIRE))
		ms_attach();
	ms_real_resolve(); /* the child shares our memory, not our time */
	ms_vfork_begin();  /* after the attach: this thread is still the parent */
	errno = saved;
	return (void *)REAL(vfork);
}

#if defined(__x86_64__)
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	"vfork:\n"
	"	endbr64\n"
	"	sub $8, %rsp\n" /* the call below needs the stack 16-aligned */
	"	call ms_vfork_prepare\n"
	"	add $8, %rsp\n"
	"	jmp *%rax\n"
	".size vfork, .-vfork\n");
#else
#error "the vfork wrapper is written for x86-64"
#endif

void ms_child_without_handlers(void)
{
	ms_vfork_seen();
	ms_fd_mark_shared(); /* the child has every description too */
}

/* clone() without CLONE_THREAD makes a process that runs none of our fork
 * handlers, with our memory (CLONE_VM) or a copy of it: from then on the
 * shim tells such a child by its pid (fd.c). The arguments after arg are
 * passed as the flags say they are read (parent_tid, tls, child_tid). */
MS_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	void *x[3] = {NULL, NULL, NULL};
	int n = flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID) ? 3
		: flags & CLONE_SETTLS				    ? 2
		: flags & (CLONE_PARENT_SETTID | CLONE_PIDFD)	    ? 1
								    : 0;
	va_list ap;
	va_start(ap, arg);
	for (int i = 0; i < n; i++)
		x[i] = va_arg(ap, void *);
	va_end(ap);
	if (!(flags & CLONE_THREAD))
		ms_child_without_handlers();
	ms_real_resolve(); /* as before a fork: the child may not call dlsym */
	return REAL(clone)(fn, stack, flags, arg, x[0], x[1], x[2]);
}

/* system and popen start their child by libc's own spawn, which runs no
 * wrapper: the child has every description this process has. */
MS_EXPORT int system(const char *cmd)
{
	ms_fd_mark_shared();
	return REAL(system)(cmd);
}

MS_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	ms_fd_mark_shared();
	return REAL(popen)(cmd, mode);
}

/* Everything a process needs to route calls is cheap and done here; the
 * store itself only when the process needs it from the start: the first
 * process of a tree makes it, and one that inherited a store fd or a store
 * cwd joins it. Every other process of the tree (most of a test suite's:
 * compilers, sed, true...) joins on its first store call, through the
 * keeper connection it inherited, or never. */
__attribute__((constructor)) static void ms_shim_init(void)
{
	char err[512];
	ms_fault_set_known(ms_real_known);
	ms_probe_init();
	ms_carry_init(); /* the one pass over the environment */
	int r = ms_config_load(&ms_shim.cfg, ms_carry_start_env, err, sizeof(err));
	if (r)
		die(err);
	for (int k = 0; k < ms_shim.cfg.nprefix; k++)
		ms_shim.lower_on |= ms_shim.cfg.lower[k][0] != 0;
	ms_fdtab_init();
	/* The umask, for the store to apply when this process attaches (the
	 * umask wrapper keeps it): read by setting it and back, before the
	 * program has threads that could create files meanwhile. */
	ms_shim.umask = REAL(umask)(022);
	REAL(umask)(ms_shim.umask);
	ms_shim.pid = ms_shim_getpid();
	const char *pin = ms_carry_start_env("MEMSHIM_PIN");
	uint64_t pfd;
	if (pin && ms_parse_u64(pin, &pfd) == 0 && pfd <= INT_MAX &&
	    REAL(fcntl)((int)pfd, F_GETFD) >= 0) {
		/* ours from the start: out of sight, never closed under us */
		ms_shim.pin = (int)pfd;
		ms_shim.private_fds[0] = ms_shim.pin;
		ms_shim.nprivate = 1;
	}
	find_above();
	int fds = ms_carry_inherited();
	ms_shim.on = 1;
	/* what pthread_atfork does (it is libc_nonshared.a's, linked at the
	 * end of our code: one more page fault in every process) */
	__register_atfork(fork_prepare, fork_parent, ms_shim_fork_child, __dso_handle);
	const char *id = ms_carry_start_env("MEMSHIM_STORE_ID");
	if (!id || !*id || ms_shim.pin < 0 || fds) {
		/* Makes the store, joins it by name, or takes inherited fds. */
		pthread_mutex_lock(&attach_lock);
		r = attach_store();
		pthread_mutex_unlock(&attach_lock);
		if (r) {
			snprintf(err, sizeof(err), "cannot open the store: %s", strerror(-r));
			die(err);
		}
	}
	ms_cwd_inherit(); /* a store cwd attaches now, through its route */
	/* Test faults and MEMSHIM_FAIL count the calls made after start-up:
	 * the program's. */
	if (ms_shim.cfg.fault[0])
		ms_fault_parse(ms_shim.cfg.fault, 1, NULL, 0);
	if (ms_shim.cfg.fail[0])
		ms_fail_parse(ms_shim.cfg.fail, ms_parse_size, 1, NULL, 0);
	if (ms_shim.cfg.log_level >= MS_LOG_DEBUG) {
		/* real.c's own lookup against the loader's, name by name */
		char names[600];
		int differ = ms_real_check(names, sizeof(names));
		ms_logc(ms_shim.cfg.log_level, differ ? MS_LOG_WARN : MS_LOG_DEBUG,
			"real functions:%s", names);
	}
}
