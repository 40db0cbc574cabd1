/* core/store.c — a process's handle on a store: creating one (arena, root,
 * keeper), joining one by name, statistics and the consistency check.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "keeper.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

int ms_fd_private_base(void)
{
	struct rlimit rl;
	int base = 1000;
	/* Under a low soft limit, the top of what it allows: shells and
	 * programs expect the low numbers free (bash's redirections use
	 * 3-9, dash's 10 and up). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1100)
		base = (long)rl.rlim_cur > 16 ? (int)rl.rlim_cur - 8 : 3;
	return base;
}

int ms_fd_private_place(int fd)
{
	int h = sys_fcntl(fd, F_DUPFD_CLOEXEC, ms_fd_private_base());
	if (h < 0)
		return fd; /* no room up there: it stays where it is */
	sys_close(fd);
	return h;
}

static int fd_high(int fd) { return ms_fd_private_place(fd); }

MS_STARTUP int (*ms_private_fd_hook)(int fd);
MS_STARTUP int (*ms_lend_hook)(ms_ino ino, uint64_t ino_no, int oflags);

/* Copies n bytes to dst, fresh zeroed memory, leaving alone the pages of
 * src that hold only zeros: the configuration is 35 KiB of fixed arrays,
 * mostly empty, and each page a new process writes is a page fault (about
 * 10 us on a virtual machine; a whole copy cost a process's attach eight
 * of them). */
static void copy_to_zeroed(void *dst, const void *src, size_t n)
{
	const size_t page = 4096;
	const unsigned char *s = src;
	unsigned char *d = dst;
	for (size_t at = 0; at < n; at += page) {
		size_t k = n - at < page ? n - at : page;
		size_t i = 0;
		while (i < k && !s[at + i])
			i++;
		if (i < k)
			memcpy(d + at, s + at, k);
	}
}

static struct ms_store *handle_new(const struct ms_config *cfg)
{
	void *p;
	if (sys_mmap(&p, sizeof(struct ms_store), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
		return NULL;
	struct ms_store *s = p;
	s->arena_fd = s->sock = s->procdir = s->hdir = -1;
	copy_to_zeroed(&s->cfg, cfg, sizeof(*cfg));
	s->umask = 022;
	ms_store_cred_refresh(s);
	return s;
}

static void handle_free(struct ms_store *s)
{
	if (s->base)
		munmap(s->base, s->hdr->arena_size);
	if (s->arena_fd >= 0)
		sys_close(s->arena_fd);
	if (s->sock >= 0)
		sys_close(s->sock);
	if (s->procdir >= 0)
		sys_close(s->procdir);
	if (s->hdir >= 0)
		sys_close(s->hdir);
	munmap(s, sizeof(*s));
}

static int map_arena(struct ms_store *s)
{
	struct stat st;
	int r = sys_fstat(s->arena_fd, &st);
	if (r)
		return r;
	if ((uint64_t)st.st_size < sizeof(struct ms_hdr))
		return -EPROTO;
	void *p;
	r = sys_mmap(&p, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->arena_fd, 0);
	if (r)
		return r;
	s->base = p;
	s->hdr = p;
	s->memfd_dev = st.st_dev; /* the arena is a memfd like the files */
	if (s->hdr->magic != MS_MAGIC || s->hdr->version != MS_LAYOUT_VERSION ||
	    s->hdr->hdr_size != sizeof(struct ms_hdr) || s->hdr->arena_size != (uint64_t)st.st_size) {
		munmap(p, (size_t)st.st_size);
		s->base = NULL;
		return -EPROTO;
	}
	return 0;
}

/* A process of the tree (not a tool) is counted, and its program named
 * for the report: the executable's base name ("python3.11", not the
 * script), from /proc, or argv[0]'s when /proc is missing. */
static void count_process(struct ms_store *s, const struct ms_open_opts *o)
{
	char exe[PATH_MAX];
	if (o->observer)
		return;
	__atomic_add_fetch(&s->hdr->attached, 1, __ATOMIC_RELAXED);
	ssize_t n = sys_readlinkat(AT_FDCWD, "/proc/self/exe", exe, sizeof(exe) - 1);
	/* a program run from the store: its memfd's name says nothing */
	if (n >= 14 && !memcmp(exe, "/memfd:memshim", 14))
		n = -1;
	if (n < 0) {
		ms_copy_name(exe, sizeof(exe), program_invocation_short_name);
		n = (ssize_t)strlen(exe);
	}
	exe[n] = 0;
	/* an unlinked executable reads "/path (deleted)" */
	char *del = strstr(exe, " (deleted)");
	if (del && !del[10])
		*del = 0;
	const char *base = strrchr(exe, '/');
	s->prog = ms_prog_attach(s, base && base[1] ? base + 1 : exe);
}

static void private_name(char *buf, size_t n)
{
	uint64_t rnd = 0;
	if (MS_SYSCALL(SYS_getrandom, &rnd, sizeof(rnd), 0x0001 /* GRND_NONBLOCK */) != sizeof(rnd)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		rnd = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
	}
	snprintf(buf, n, "p%d-%012llx", (int)getpid(), (unsigned long long)(rnd & 0xffffffffffffULL));
}

/* The keeper's arena, re-opened through /proc/<pid>/fd: no request to the
 * keeper (a round trip through its loop, most of an attach's time when
 * both share a CPU). Whose arena it is, the header says (attach_pin). */
static int arena_by_proc(pid_t pid)
{
	char path[48];
	ms_proc_fd_path(path, (uint32_t)pid, MS_KEEPER_ARENA_FD);
	return sys_openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC, 0);
}

/* Attaches through an inherited keeper connection: it must be a socket
 * whose peer is the keeper of `name`; the arena comes from /proc, or from
 * the keeper over the connection where /proc does not give it (no /proc,
 * or a uid that may no longer look at the keeper's fds). */
static int attach_pin(struct ms_store *s, const char *name, int pin, int no_proc)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int r = sys_getsockopt(pin, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
	if (r)
		return r;
	s->sock = pin;
	r = no_proc ? -ENOENT : arena_by_proc(cr.pid);
	if (r < 0)
		r = ms_keeper_arena(s);
	if (r < 0)
		goto fail;
	s->arena_fd = fd_high(r);
	r = map_arena(s);
	if (r)
		goto fail;
	if (strncmp(s->hdr->name, name, sizeof(s->hdr->name)) ||
	    __atomic_load_n(&s->hdr->keeper_pid, __ATOMIC_RELAXED) != cr.pid ||
	    s->hdr->uid != cr.uid) {
		r = -ESRCH;
		goto fail;
	}
	s->keeper_pid = cr.pid;
	return 0;
fail:
	/* not ours to close: the handle forgets it */
	s->sock = -1;
	if (s->base)
		munmap(s->base, s->hdr->arena_size);
	s->base = NULL;
	s->hdr = NULL;
	if (s->arena_fd >= 0)
		sys_close(s->arena_fd);
	s->arena_fd = -1;
	return r;
}

int ms_store_attach(const char *name, const struct ms_open_opts *o, ms_store **out)
{
	pid_t pid;
	uint32_t uid;
	int r;
	struct ms_store *s = handle_new(o->cfg);
	if (!s)
		return -ENOMEM;
	ms_copy_name(s->name, sizeof(s->name), name);
	if (o->pin > 0 && attach_pin(s, name, o->pin, o->no_proc) == 0) {
		pid = s->keeper_pid;
		goto attached;
	}
	r = ms_keeper_connect(name, &pid, &uid);
	if (r < 0)
		goto fail;
	s->sock = fd_high(r);
	if (uid != (uint32_t)geteuid()) {
		r = -EEXIST; /* never join another user's store */
		goto fail;
	}
attached:
	s->keeper_pid = pid;
	if (!o->no_proc) {
		char path[40];
		ms_proc_fd_path(path, (uint32_t)pid, -1);
		r = sys_openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (r >= 0) {
			s->procdir = fd_high(r);
			char num[12];
			ms_utoa(num, MS_KEEPER_ARENA_FD);
			if (!s->base)
				s->arena_fd = sys_openat(s->procdir, num, O_RDWR | O_CLOEXEC, 0);
		}
	}
	if (s->arena_fd < 0) {
		/* No /proc here (or not the keeper's): the keeper hands the
		 * arena over its socket instead. */
		r = ms_keeper_arena(s);
		if (r < 0)
			goto fail;
		s->arena_fd = r;
	}
	if (!s->base) {
		s->arena_fd = fd_high(s->arena_fd);
		r = map_arena(s);
		if (r)
			goto fail;
		if (s->hdr->uid != (uint32_t)geteuid()) {
			r = -EEXIST;
			goto fail;
		}
	}
	/* Limits come from the arena: the creator's configuration wins. */
	s->cfg.max_bytes = s->hdr->ledger.max_bytes;
	s->cfg.max_nodes = s->hdr->ledger.max_nodes;
	s->cfg.quota_errno = s->hdr->ledger.quota_errno;
	count_process(s, o);
	*out = s;
	return 0;
fail:
	handle_free(s);
	return r;
}

static int create(const struct ms_open_opts *o, const char *name, ms_store **out)
{
	int r, lsock = -1;
	struct ms_config cfg = *o->cfg;
	struct ms_store *s = handle_new(&cfg);
	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->owner = 1;
	s->local = o->keeper_path == NULL;

	if (!s->local) {
		/* Binding first claims the name: of two creators racing, the
		 * loser sees EADDRINUSE and joins the winner's store. */
		struct sockaddr_un sa;
		int len = ms_sock_addr(name, (uint32_t)geteuid(), &sa);
		lsock = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (lsock < 0) {
			r = lsock;
			goto fail;
		}
		r = sys_bind(lsock, &sa, (unsigned)len);
		if (r)
			goto fail;
	}

	uint32_t nslots, nblocks, nxblocks, nbuckets;
	uint64_t size = ms_arena_size(cfg.max_bytes, cfg.max_nodes, &nslots, &nblocks, &nxblocks,
				      &nbuckets);
	r = sys_memfd_create("memshim-arena", MFD_CLOEXEC);
	if (r < 0)
		goto fail;
	s->arena_fd = fd_high(r);
	r = sys_ftruncate(s->arena_fd, (off_t)size);
	if (r)
		goto fail;
	void *p;
	r = sys_mmap(&p, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->arena_fd, 0);
	if (r)
		goto fail;
	s->base = p;
	s->hdr = p;
	struct stat ast;
	if (sys_fstat(s->arena_fd, &ast) == 0)
		s->memfd_dev = ast.st_dev; /* the arena is a memfd like the files */
	ms_arena_init(s, &cfg, name);
	s->hdr->summary = o->summary || cfg.report[0];
	r = ms_ns_init(s);
	if (r)
		goto fail;
	r = ms_guard_init(s);
	if (r)
		goto fail;

	if (!s->local) {
		r = ms_keeper_spawn(s, o->keeper_path, lsock);
		if (r < 0)
			goto fail;
		sys_close(lsock);
		lsock = -1;
		s->keeper_pid = r;
		uint32_t uid;
		pid_t pid;
		r = ms_keeper_connect(name, &pid, &uid);
		if (r < 0)
			goto fail;
		s->sock = fd_high(r);
		if (!o->no_proc) {
			char path[40];
			ms_proc_fd_path(path, (uint32_t)s->keeper_pid, -1);
			r = sys_openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
			if (r >= 0)
				s->procdir = fd_high(r);
		}
	}
	/* MEMSHIM_SAVE recorded, MEMSHIM_SEED copied in: files need the
	 * keeper's memfds, so this comes last. */
	r = ms_persist_init(s);
	if (r)
		goto fail;
	count_process(s, o);
	*out = s;
	return 0;
fail:
	if (lsock >= 0)
		sys_close(lsock);
	handle_free(s);
	return r;
}

int ms_store_open(const struct ms_open_opts *o, ms_store **out)
{
	char name[MS_STORE_NAME_MAX];
	const char *given = o->cfg->store_name;
	if (!o->keeper_path) {
		private_name(name, sizeof(name));
		return create(o, given[0] ? given : name, out);
	}
	if (!given[0]) {
		private_name(name, sizeof(name));
		return create(o, name, out);
	}
	/* A named store: join it, or create it; a creator that lost the
	 * race for the name joins the winner once it listens. */
	for (int tries = 0; tries < 200; tries++) {
		int r = ms_store_attach(given, o, out);
		if (r != -ENOENT)
			return r;
		r = create(o, given, out);
		if (r != -EADDRINUSE)
			return r;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

void ms_store_unpin(ms_store *s)
{
	if (s->sock >= 0)
		sys_close(s->sock);
	s->sock = -1;
}

void ms_refusal_name(ms_store *s, ms_ino ino)
{
	struct ms_refusal *r = ms_refusal_pending();
	if (!r || r->ino != ino)
		return;
	uint64_t ino_no = __atomic_load_n(&ms_inode_at(s, ino)->ino_no, __ATOMIC_RELAXED);
	char path[sizeof(r->path)];
	if (ms_ino_path(s, ino_no, path, sizeof(path)) == 0)
		memcpy(r->path, path, sizeof(path));
}

void ms_store_close(ms_store *s)
{
	if (!s)
		return;
	/* A local store ends with its owner's handle (a keeper's, with the
	 * keeper: keeper/main.c). */
	if (s->local && s->owner)
		ms_special_cleanup(s);
	handle_free(s);
}

const char *ms_store_name(const ms_store *s) { return s->name; }

uint64_t ms_store_memfd_dev(const ms_store *s) { return s->memfd_dev; }

pid_t ms_store_keeper_pid(const ms_store *s) { return s->keeper_pid; }

int ms_store_private_fds(const ms_store *s, int *fds, int n)
{
	int all[3] = {s->arena_fd, s->sock, s->procdir}, k = 0;
	for (int i = 0; i < 3; i++) {
		if (all[i] < 0)
			continue;
		if (k < n)
			fds[k] = all[i];
		k++;
	}
	return k;
}

void ms_store_set_umask(ms_store *s, mode_t mask) { s->umask = mask & 0777; }

int ms_store_pin_for_exec(ms_store *s)
{
	if (s->sock < 0 || s->local)
		return -1;
	sys_fcntl(s->sock, F_SETFD, 0);
	return s->sock;
}

void ms_store_private_fd_moved(ms_store *s, int from, int to)
{
	if (s->arena_fd == from)
		s->arena_fd = to;
	if (s->sock == from)
		s->sock = to;
	if (s->procdir == from)
		s->procdir = to;
	if (s->hdir == from)
		s->hdir = to;
}

void ms_store_atfork_child(ms_store *s)
{
	/* Little process-local needs re-initialising in core: locks live in
	 * the arena and requests use sockets of their own. The pin
	 * connection is shared with the parent, which keeps the keeper alive
	 * as long as either process lives. A credentials refresh that another
	 * thread had under way is not finished here. */
	__atomic_store_n(&s->cred_busy, 0, __ATOMIC_RELAXED);
}

/* ---- statistics and the consistency check ---------------------------------------- */

static void stats_holders(ms_store *s, struct ms_stats *st)
{
	struct ms_hdr *h = s->hdr;
	uint32_t n = LD(&h->nholders);
	st->memfds_keeper = LD(&h->holders[0].nfds);
	st->holder_makes = LD(&h->holder_makes);
	for (uint32_t k = 1; k < n && k < MS_HOLDERS; k++) {
		if (!LD(&h->holders[k].pid))
			continue;
		st->holders++;
		st->memfds_holders += LD(&h->holders[k].nfds);
	}
}

void ms_stats_usage(ms_store *s, struct ms_stats *st)
{
	struct ms_ledger *l = &s->hdr->ledger;
	memset(st, 0, sizeof(*st));
	st->max_bytes = l->max_bytes;
	st->max_nodes = l->max_nodes;
	/* both from one moment: the ledger's lock, not ns_lock */
	ms_ledger_lock(s);
	st->used_bytes = LD(&l->used_bytes);
	st->used_nodes = LD(&l->used_nodes);
	ms_ledger_unlock(s);
}

void ms_stats_get(ms_store *s, struct ms_stats *st)
{
	struct ms_hdr *h = s->hdr;
	struct ms_ledger *l = &h->ledger;
	memset(st, 0, sizeof(*st));
	st->max_bytes = l->max_bytes;
	st->max_nodes = l->max_nodes;
	ms_ns_lock(s);
	ms_ledger_lock(s);
	st->used_bytes = LD(&l->used_bytes);
	st->used_nodes = LD(&l->used_nodes);
	ms_ledger_unlock(s);
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no || (in->flags & (MS_I_SKEL | MS_I_PREFIX)) || i == h->root)
			continue;
		if (S_ISREG(in->mode))
			st->files++;
		else if (S_ISDIR(in->mode))
			st->dirs++;
		else if (S_ISLNK(in->mode))
			st->symlinks++;
	}
	ms_ns_unlock(s);
	st->peak_bytes = LD(&l->peak_bytes);
	st->peak_nodes = LD(&l->peak_nodes);
	st->refused = LD(&l->refused);
	st->largest_refused = LD(&l->largest_refused);
	st->guard_refused = LD(&l->guard_refused);
	st->uncounted_bytes = LD(&l->uncounted);
	st->orphans = __atomic_load_n(&h->norphans, __ATOMIC_RELAXED);
	st->start_ns = h->start_ns;
	st->peak_bytes_ns = LD(&h->peak_bytes_ns);
	st->peak_nodes_ns = LD(&h->peak_nodes_ns);
	st->attached = LD(&h->attached);
	stats_holders(s, st);
}

int ms_stats_progs(ms_store *s, struct ms_prog_stats *out, int n)
{
	struct ms_prog *p = s->hdr->progs;
	int k = 0;
	ms_ledger_lock(s);
	for (; k < MS_PROGS && p[k].name[0]; k++) {
		if (k >= n)
			continue;
		memcpy(out[k].name, p[k].name, sizeof(out[k].name));
		out[k].processes = LD(&p[k].procs);
		out[k].written = LD(&p[k].written);
		out[k].held = LD(&p[k].held);
		out[k].peak_held = LD(&p[k].peak_held);
	}
	ms_ledger_unlock(s);
	return k;
}

int ms_stats_refusals(ms_store *s, struct ms_refusal_stats *out, int n)
{
	static const char *const kinds[] = {"quota", "nodes", "guard"};
	struct ms_hdr *h = s->hdr;
	uint32_t k = LD(&h->nrefusals);
	if (k > MS_REFUSALS)
		k = MS_REFUSALS;
	for (uint32_t i = 0; i < k && (int)i < n; i++) {
		const struct ms_refusal *r = &h->refusals[i];
		out[i].t_ns = r->t_ns;
		out[i].size = r->size;
		out[i].pid = r->pid;
		out[i].kind = kinds[r->kind < 3 ? r->kind : 0];
		out[i].prog[0] = 0;
		if (r->prog && r->prog <= MS_PROGS)
			memcpy(out[i].prog, h->progs[r->prog - 1].name, sizeof(out[i].prog));
		memcpy(out[i].path, r->path, sizeof(out[i].path));
		out[i].path[sizeof(out[i].path) - 1] = 0;
	}
	return (int)k;
}

/* Whether record r (published) is of the kind given. */
static int injected_is(const struct ms_injected *r, uint32_t prog, int rule, int call, int err,
		       const char *path)
{
	return r->prog == prog && r->rule == rule && r->call == call && r->err == err &&
	       !strncmp(r->path, path, sizeof(r->path) - 1);
}

void ms_injected_note(ms_store *s, int rule, int call, int err, const char *path)
{
	struct ms_hdr *h = s->hdr;
	path = path ? path : "";
	__atomic_fetch_add(&h->ninjected, 1, __ATOMIC_RELAXED);
	uint32_t n = LD(&h->ninj_kinds);
	for (uint32_t i = 0; i < n && i < MS_INJECTED; i++) {
		struct ms_injected *r = &h->injected[i];
		if (__atomic_load_n(&r->count, __ATOMIC_ACQUIRE) &&
		    injected_is(r, s->prog, rule, call, err, path)) {
			__atomic_fetch_add(&r->count, 1, __ATOMIC_RELAXED);
			return;
		}
	}
	uint32_t k = __atomic_fetch_add(&h->ninj_kinds, 1, __ATOMIC_RELAXED);
	if (k >= MS_INJECTED)
		return; /* counted in ninjected, listed nowhere: the report says how many */
	struct ms_injected *r = &h->injected[k];
	r->t_ns = ms_now_ns();
	r->pid = (int32_t)MS_SYSCALL(SYS_getpid);
	r->prog = s->prog;
	r->err = err;
	r->rule = (uint16_t)rule;
	r->call = (uint16_t)call;
	snprintf(r->path, sizeof(r->path), "%s", path);
	__atomic_store_n(&r->count, 1, __ATOMIC_RELEASE);
}

uint32_t ms_stats_injected(ms_store *s, struct ms_injected_stats *out, int n, int *kinds)
{
	struct ms_hdr *h = s->hdr;
	uint32_t total = LD(&h->ninjected), claimed = LD(&h->ninj_kinds);
	int k = 0;
	for (uint32_t i = 0; i < claimed && i < MS_INJECTED; i++) {
		const struct ms_injected *r = &h->injected[i];
		uint32_t count = __atomic_load_n(&r->count, __ATOMIC_ACQUIRE);
		if (!count)
			continue; /* being written, or its process died first */
		uint32_t j = 0; /* a twin claimed at the same time joins the first */
		while (j < i && !(__atomic_load_n(&h->injected[j].count, __ATOMIC_ACQUIRE) &&
				  injected_is(&h->injected[j], r->prog, r->rule, r->call, r->err,
					      r->path)))
			j++;
		if (j < i) {
			for (int m = 0; m < k; m++)
				if (out[m].slot == (int)j)
					out[m].count += count;
			continue;
		}
		if (k >= n)
			continue;
		struct ms_injected_stats *o = &out[k++];
		o->slot = (int)i;
		o->count = count;
		o->t_ns = r->t_ns;
		o->pid = r->pid;
		o->rule = r->rule;
		o->err = r->err;
		o->call = ms_fail_call_name((enum ms_fail_call)r->call);
		o->prog[0] = 0;
		if (r->prog && r->prog <= MS_PROGS)
			memcpy(o->prog, h->progs[r->prog - 1].name, sizeof(o->prog));
		o->prog[sizeof(o->prog) - 1] = 0;
		memcpy(o->path, r->path, sizeof(o->path));
		o->path[sizeof(o->path) - 1] = 0;
	}
	*kinds = k;
	return total;
}

/* Depth-first walk of the tree with an explicit stack of entry slots. */
int ms_stats_files(ms_store *s, int flags,
		   int (*fn)(void *arg, const char *path, uint64_t size), void *arg)
{
	char path[4096];
	uint32_t stack[2048];
	size_t plen[2048];
	int depth = 0, r = 0;
	if (!(flags & MS_STATS_TRY))
		ms_ns_lock(s);
	else if (ms_ns_trylock(s))
		return -EBUSY;
	struct ms_hdr *h = s->hdr;
	path[0] = 0;
	plen[0] = 0;
	stack[0] = ms_inode_at(s, h->root)->first;
	while (depth >= 0) {
		uint32_t d = stack[depth];
		if (!d) {
			depth--;
			continue;
		}
		struct ms_dent *e = ms_dent_at(s, d);
		stack[depth] = e->next;
		struct ms_inode *in = ms_inode_at(s, e->ino);
		int n = snprintf(path + plen[depth], sizeof(path) - plen[depth], "/%s", e->name);
		if (n < 0 || (size_t)n >= sizeof(path) - plen[depth])
			continue;
		if (S_ISREG(in->mode) && !ms_lower_backed(in)) {
			/* a lower file's bytes are the real tree's, not held */
			r = fn(arg, path, LD(&in->size));
			if (r)
				break;
		} else if (S_ISDIR(in->mode) && depth + 1 < 2048) {
			depth++;
			plen[depth] = plen[depth - 1] + (size_t)n;
			stack[depth] = in->first;
		}
	}
	ms_ns_unlock(s);
	return r;
}

int ms_ino_path(ms_store *s, uint64_t ino_no, char *buf, size_t n)
{
	struct ms_hdr *h = s->hdr;
	uint32_t slot = 0;
	ms_ns_lock(s);
	for (uint32_t i = 1; i < h->inode_bump && !slot; i++)
		if (ms_inode_at(s, i)->ino_no == ino_no)
			slot = i;
	ms_ns_unlock(s);
	return slot ? ms_node_path(s, slot, buf, n) : -ENOENT;
}

int ms_node_path(ms_store *s, ms_ino ino, char *buf, size_t n)
{
	struct ms_hdr *h = s->hdr;
	uint32_t parent = 0, slot = (uint32_t)ino;
	char name[MS_NAME_MAX + 1];
	struct stat st;
	if (ms_stat_ino(s, ino, &st) == 0 && S_ISDIR(st.st_mode))
		return ms_dir_path(s, ino, buf, n);
	ms_ns_lock(s);
	/* The name the inode keeps when it still names it (an exchange or an
	 * unlink of that name can leave it stale or 0); else a walk of every
	 * entry, which at a million names costs milliseconds. */
	uint32_t hint = slot && slot <= h->nslots ? ms_inode_at(s, slot)->dent : 0;
	struct ms_dent *k = hint && hint < h->dent_bump ? ms_dent_at(s, hint) : NULL;
	if (k && k->parent && k->ino == slot) {
		parent = k->parent;
		memcpy(name, k->name, (size_t)k->namelen + 1);
	}
	for (uint32_t d = 1; slot && !parent && d < h->dent_bump; d++) {
		struct ms_dent *e = ms_dent_at(s, d);
		if (e->parent && e->ino == slot) {
			parent = e->parent;
			memcpy(name, e->name, (size_t)e->namelen + 1);
		}
	}
	ms_ns_unlock(s);
	if (!parent)
		return -ENOENT;
	/* A rename in between gives the old name or the new: either was
	 * true a moment ago. */
	int r = ms_dir_path(s, parent, buf, n);
	if (r)
		return r;
	size_t len = strlen(buf), nl = strlen(name);
	if (len > 1)
		buf[len++] = '/';
	if (len + nl >= n)
		return -ENAMETOOLONG;
	memcpy(buf + len, name, nl + 1);
	return 0;
}

#define FAIL(...)                                                                  \
	do {                                                                       \
		snprintf(msg, n, __VA_ARGS__);                                     \
		r = -EUCLEAN;                                                      \
		goto out;                                                          \
	} while (0)

int ms_check(ms_store *s, char *msg, size_t n)
{
	struct ms_hdr *h = s->hdr;
	int r = 0;
	uint64_t bytes, nodes;
	uint32_t *links = NULL;
	msg[0] = 0;
	ms_ns_lock(s);
	/* Every entry names a live inode from a live directory, is found by
	 * its name and has a cookie readdir answers (seq 0 is "..'s"). */
	for (uint32_t d = 1; d < h->dent_bump; d++) {
		struct ms_dent *e = ms_dent_at(s, d);
		if (!e->parent)
			continue;
		struct ms_inode *dir = ms_inode_at(s, e->parent), *in = ms_inode_at(s, e->ino);
		if (!dir->ino_no || !S_ISDIR(dir->mode))
			FAIL("entry %u '%s': parent %u is not a live directory", d, e->name, e->parent);
		if (!in->ino_no)
			FAIL("entry %u '%s': inode %u is free", d, e->name, e->ino);
		if (e->type != ms_dtype(in->mode))
			FAIL("entry %u '%s': type %u, its inode's %u", d, e->name, e->type,
			     ms_dtype(in->mode));
		if (ms_dent_find(s, e->parent, e->name, e->namelen) != d)
			FAIL("entry %u '%s': not found by name", d, e->name);
		if (!e->seq)
			FAIL("entry %u '%s' (%u bytes): no cookie of its own", d, e->name, e->namelen);
	}
	/* Link counts agree with the entries: one pass counts them. */
	size_t cbytes = ((size_t)h->nslots + 1) * sizeof(uint32_t);
	links = mmap64(NULL, cbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (links == MAP_FAILED) {
		links = NULL;
		FAIL("no memory for the check");
	}
	for (uint32_t d = 1; d < h->dent_bump; d++)
		if (ms_dent_at(s, d)->parent)
			links[ms_dent_at(s, d)->ino]++;
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		/* every counted slot's mutex made as ms_mutex_init makes them
		 * (robust, process-shared), free or not: a reuse keeps it */
		if (in->data_lock.__data.__kind != h->ns_lock.__data.__kind)
			FAIL("inode %u: data lock of kind %d, not a store mutex", i,
			     in->data_lock.__data.__kind);
		if (!in->ino_no || S_ISDIR(in->mode))
			continue;
		if (links[i] != in->nlink)
			FAIL("inode %u: nlink %u but %u entries", i, in->nlink, links[i]);
		if (!links[i] && !(in->opens && (in->flags & MS_I_ORPHAN)))
			FAIL("inode %u: no entry and not an open orphan", i);
	}
	if (h->rename_intent.active)
		FAIL("a rename's intent record is left active");
	/* The memfd index holds every file with a memfd, and nothing else. */
	uint32_t indexed = 0, chained = 0;
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!ms_kino_indexed(in))
			continue;
		indexed++;
		if (ms_kino_find(s, in->memfd_ino) != i)
			FAIL("inode %u: its memfd %llu is not in the index", i,
			     (unsigned long long)in->memfd_ino);
	}
	for (uint32_t b = 0; b < h->nkbuckets; b++)
		for (uint32_t i = ms_kbuckets(s)[b]; i && chained <= indexed; i = ms_inode_at(s, i)->knext)
			chained++;
	if (chained != indexed)
		FAIL("memfd index: %u%s inodes chained, %u files with a memfd", chained,
		     chained > indexed ? " or more" : "", indexed);
	if (ms_xattr_verify(s, msg, n)) {
		r = -EUCLEAN;
		goto out;
	}
	if (ms_ledger_verify(s, &bytes, &nodes))
		FAIL("ledger: used %llu bytes / %llu nodes, charges sum to %llu / %llu (max %llu / %llu)",
		     (unsigned long long)LD(&h->ledger.used_bytes),
		     (unsigned long long)LD(&h->ledger.used_nodes), (unsigned long long)bytes,
		     (unsigned long long)nodes, (unsigned long long)h->ledger.max_bytes,
		     (unsigned long long)h->ledger.max_nodes);
out:
	ms_ns_unlock(s);
	if (links)
		munmap(links, ((size_t)h->nslots + 1) * sizeof(uint32_t));
	return r;
}
