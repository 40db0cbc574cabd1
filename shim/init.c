/* shim/init.c — start-up of libmemshim.so: read the MEMSHIM_* environment,
 * then create or join the tree's store before the program's main runs.
 *
 * A malformed variable is never guessed at: one line on stderr and exit
 * status 2 before main. Children find the store by name through
 * MEMSHIM_STORE_ID, which the first process of the tree puts in the
 * environment.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

struct ms_shim ms_shim = {.store = NULL, .placeholder = -1, .pin = -1};

/* The one set of fork handlers: every process-local lock of the shim is
 * taken before the fork (in the order of doc/ARCHITECTURE.md), given back
 * in the parent, and made new in the child, whose copy may have been
 * taken by a thread that does not exist there. _Fork runs only the child
 * part (it runs no handlers of its own, and a lock it copied held is made
 * new all the same). */
static void fork_prepare(void)
{
	ms_stdio_fork(MS_FORK_PREPARE);
	ms_spawn_fork(MS_FORK_PREPARE);
	ms_route_fork(MS_FORK_PREPARE);
	ms_sock_fork(MS_FORK_PREPARE);
}

static void fork_parent(void)
{
	ms_sock_fork(MS_FORK_PARENT);
	ms_route_fork(MS_FORK_PARENT);
	ms_spawn_fork(MS_FORK_PARENT);
	ms_stdio_fork(MS_FORK_PARENT);
}

void ms_shim_fork_child(void)
{
	ms_stdio_fork(MS_FORK_CHILD);
	ms_spawn_fork(MS_FORK_CHILD);
	ms_route_fork(MS_FORK_CHILD);
	ms_sock_fork(MS_FORK_CHILD);
	if (!ms_shim.store)
		return;
	ms_shim.pid = getpid();
	ms_store_atfork_child(ms_shim.store);
	ms_fdtab_atfork_child();
	ms_cwd_fork_child();
}

/* Real directories above each prefix, by device and inode (route.c). */
static void find_above(void)
{
	for (int i = 0; i < ms_shim.cfg.nprefix; i++) {
		char dir[MS_PREFIX_MAX];
		snprintf(dir, sizeof(dir), "%s", ms_shim.cfg.prefix[i]);
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
	Dl_info di;
	buf[0] = 0;
	if (!dladdr((void *)keeper_path, &di) || !di.dli_fname)
		return;
	const char *slash = strrchr(di.dli_fname, '/');
	int dirlen = slash ? (int)(slash - di.dli_fname) : 1;
	snprintf(buf, n, "%.*s/memshim-keeper", dirlen, slash ? di.dli_fname : ".");
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

__attribute__((constructor)) static void ms_shim_init(void)
{
	char err[512], kp[4096];
	ms_real_resolve();
	ms_fault_set_known(ms_real_known);
	ms_probe_init();
	int r = ms_config_load(&ms_shim.cfg, NULL, err, sizeof(err));
	if (r)
		die(err);
	ms_fdtab_init();
	ms_shim.pid = getpid();
	keeper_path(kp, sizeof(kp));
	struct ms_open_opts o = {.cfg = &ms_shim.cfg, .keeper_path = kp};
	const char *id = getenv("MEMSHIM_STORE_ID");
	/* A program exec'd by a process of the tree that was no longer the
	 * store's owner: the keeper connection it left us (cred.c). */
	const char *pin = getenv("MEMSHIM_PIN");
	if (pin && *pin)
		o.pin = atoi(pin);
	if (id && *id) {
		r = ms_store_attach(id, &o, &ms_shim.store);
		if (r == -ENOENT) {
			/* The tree that made it has ended; start a fresh one
			 * under the same name rather than run without. */
			struct ms_config c = ms_shim.cfg;
			snprintf(c.store_name, sizeof(c.store_name), "%s", id);
			o.cfg = &c;
			r = ms_store_open(&o, &ms_shim.store);
		}
	} else {
		r = ms_store_open(&o, &ms_shim.store);
	}
	if (r) {
		snprintf(err, sizeof(err), "cannot open the store: %s", strerror(-r));
		die(err);
	}
	if (!id || strcmp(id, ms_store_name(ms_shim.store)) != 0)
		setenv("MEMSHIM_STORE_ID", ms_store_name(ms_shim.store), 1);
	/* Directory fds are dups of one memfd: real fd numbers the kernel
	 * will not hand out twice, on which raw getdents fails with ENOTDIR. */
	int ph = memfd_create("memshim-dir", MFD_CLOEXEC);
	if (ph >= 0)
		ms_shim.placeholder = ms_fd_private_place(ph);
	ms_shim.nprivate = ms_store_private_fds(ms_shim.store, ms_shim.private_fds, 7);
	if (ms_shim.nprivate > 7)
		ms_shim.nprivate = 7;
	if (ms_shim.placeholder >= 0)
		ms_shim.private_fds[ms_shim.nprivate++] = ms_shim.placeholder;
	/* The umask can only be read by setting it; the constructor runs
	 * before the program has threads. */
	mode_t mask = REAL(umask)(022);
	REAL(umask)(mask);
	ms_store_set_umask(ms_shim.store, mask);
	ms_cred_changed();
	find_above();
	ms_real_cwd_changed();
	ms_cwd_inherit();
	ms_exec_init();
	pthread_atfork(fork_prepare, fork_parent, ms_shim_fork_child);
	/* Test faults and MEMSHIM_FAIL count the calls made after start-up: the
	 * program's. */
	if (ms_shim.cfg.fault[0])
		ms_fault_parse(ms_shim.cfg.fault, 1, NULL, 0);
	if (ms_shim.cfg.fail[0])
		ms_fail_parse(ms_shim.cfg.fail, ms_parse_size, 1, NULL, 0);
}
