/* core/keeper.c — starting the keeper, talking to it, and the keeper's own
 * loop (run by tools/memshim-keeper).
 *
 * The keeper holds the arena at fd 3 and every file memfd; processes open
 * fresh descriptions of them through /proc/<keeper>/fd/<n>. It keeps a pool
 * of ready memfds listed in the arena so creating a file needs no round
 * trip, closes the memfds of freed files from the close queue, and exits
 * when no process has been connected for MS_KEEPER_GRACE_MS.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "keeper.h"

int ms_sock_addr(const char *name, uint32_t uid, void *sa)
{
	struct sockaddr_un *un = sa;
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	int n = snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1, "memshim-%u-%s", uid, name);
	return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* ---- starting it -------------------------------------------------------------- */

static const char *level_env[] = {"MEMSHIM_LOG=error", "MEMSHIM_LOG=warn", "MEMSHIM_LOG=info",
				  "MEMSHIM_LOG=debug"};

int ms_keeper_spawn(struct ms_store *s, const char *path, int lsock)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	/* Everything the child needs is made before the fork: after it, in a
	 * process that may have threads, only raw system calls are safe. */
	char *argv[] = {(char *)"memshim-keeper", NULL};
	char *envp[] = {(char *)level_env[s->cfg.log_level & 3], NULL};
	int afd = s->arena_fd, wfd = pfd[1];
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);

	/* No exit signal: the program never hears of this short-lived child. */
	long pid = syscall(SYS_clone, 0UL, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		long g = syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
		if (g != 0)
			syscall(SYS_exit_group, g < 0 ? 1 : 0);
		/* The keeper: reparented to init, its own session, so neither a
		 * wait() of the program nor a terminal's Ctrl-C reaches it. */
		sigset_t none;
		sigemptyset(&none);
		syscall(SYS_setsid);
		int nul = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR);
		int a = (int)syscall(SYS_fcntl, afd, F_DUPFD, 10);
		int l = (int)syscall(SYS_fcntl, lsock, F_DUPFD, 10);
		int w = (int)syscall(SYS_fcntl, wfd, F_DUPFD, 10);
		if (nul < 0 || a < 0 || l < 0 || w < 0)
			syscall(SYS_exit_group, 126);
		syscall(SYS_dup3, nul, 0, 0);
		syscall(SYS_dup3, nul, 1, 0);
		syscall(SYS_dup3, nul, 2, 0);
		syscall(SYS_dup3, a, MS_KEEPER_ARENA_FD, 0);
		syscall(SYS_dup3, l, MS_KEEPER_LISTEN_FD, 0);
		syscall(SYS_dup3, w, MS_KEEPER_STATUS_FD, 0);
		syscall(SYS_close_range, MS_KEEPER_STATUS_FD + 1, ~0U, 0);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(long));
		syscall(SYS_execve, path, argv, envp);
		syscall(SYS_exit_group, 127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sys_close(pfd[1]);
	if (pid < 0) {
		sys_close(pfd[0]);
		return -ENOMEM;
	}
	syscall(SYS_wait4, pid, NULL, __WCLONE, NULL);
	int32_t kpid = 0;
	ssize_t n;
	do
		n = sys_read(pfd[0], &kpid, sizeof(kpid));
	while (n == -EINTR);
	sys_close(pfd[0]);
	if (n != sizeof(kpid) || kpid <= 0) {
		ms_log(s, MS_LOG_ERROR, "keeper %s did not start", path);
		return -ENOEXEC;
	}
	return kpid;
}

/* ---- talking to it --------------------------------------------------------------- */

int ms_keeper_connect(const char *name, pid_t *pid, uint32_t *uid)
{
	struct sockaddr_un sa;
	int len = ms_sock_addr(name, (uint32_t)geteuid(), &sa);
	int fd = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	int r = sys_connect(fd, &sa, (unsigned)len);
	if (r) {
		sys_close(fd);
		return r == -ECONNREFUSED || r == -ENOENT ? -ENOENT : r;
	}
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	r = sys_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
	if (r) {
		sys_close(fd);
		return r;
	}
	*pid = cr.pid;
	*uid = cr.uid;
	return fd;
}

/* One request, one reply, on a connection of its own. */
static int request(const char *name, struct ms_msg *m, int *fd_out)
{
	pid_t pid;
	uint32_t uid;
	int sock = ms_keeper_connect(name, &pid, &uid), r;
	if (sock < 0)
		return sock;
	if (uid != (uint32_t)geteuid()) {
		r = -EACCES;
		goto out;
	}
	struct timeval tv = {5, 0};
	sys_setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sys_sendto(sock, m, sizeof(*m), MSG_NOSIGNAL) != sizeof(*m)) {
		r = -EPIPE;
		goto out;
	}
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	ssize_t n;
	do
		n = sys_recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n == -EINTR);
	if (n != sizeof(*m)) {
		r = n < 0 ? (int)n : -EPROTO;
		goto out;
	}
	r = m->a < 0 ? m->a : 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_RIGHTS) {
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (fd_out && r == 0)
			*fd_out = fd;
		else
			sys_close(fd);
	} else if (fd_out && r == 0) {
		r = -EPROTO;
	}
out:
	sys_close(sock);
	return r;
}

int ms_keeper_new(struct ms_store *s, int32_t *kfd, uint64_t *kino)
{
	struct ms_msg m = {.op = MS_OP_NEW};
	int r = request(s->name, &m, NULL);
	if (r)
		return r;
	*kfd = m.a;
	*kino = (uint64_t)m.b;
	return 0;
}

int ms_keeper_fd(struct ms_store *s, int32_t kfd, int oflags)
{
	struct ms_msg m = {.op = MS_OP_FD, .a = kfd, .b = oflags};
	int fd = -1;
	int r = request(s->name, &m, &fd);
	return r ? r : fd;
}

int ms_keeper_reclaim(struct ms_store *s)
{
	struct ms_msg m = {.op = MS_OP_RECLAIM};
	int r = request(s->name, &m, NULL);
	return r ? r : m.a;
}

int ms_keeper_arena(const char *name)
{
	struct ms_msg m = {.op = MS_OP_ARENA};
	int fd = -1;
	int r = request(name, &m, &fd);
	return r ? r : fd;
}

void ms_keeper_poke(struct ms_store *s)
{
	if (s->sock < 0)
		return;
	/* One poke at a time is enough: the keeper clears the flag when it
	 * starts its round. */
	if (__atomic_exchange_n(&s->hdr->poked, 1, __ATOMIC_ACQ_REL))
		return;
	struct ms_msg m = {.op = MS_OP_POKE};
	sys_sendto(s->sock, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL);
}

int ms_pool_take(struct ms_store *s, int32_t *kfd, uint64_t *kino)
{
	struct ms_hdr *h = s->hdr;
	int r = -EAGAIN;
	ms_keeper_lock(s);
	uint32_t left = h->pool_tail - h->pool_head;
	int32_t fd = -1;
	uint64_t ino = 0;
	if (left) {
		fd = h->pool[h->pool_head % MS_POOL_SLOTS].kfd;
		ino = h->pool[h->pool_head % MS_POOL_SLOTS].kino;
		h->pool_head++;
		left--;
		r = 0;
	}
	ms_keeper_unlock(s);
	/* Written after the ring moved on: a death in between leaks a memfd
	 * the keeper's audit finds, never one named twice. */
	if (r == 0) {
		*kfd = fd;
		*kino = ino;
	}
	if (left < MS_POOL_SLOTS / 2)
		ms_keeper_poke(s);
	return r;
}

void ms_closeq_push(struct ms_store *s, int32_t kfd)
{
	struct ms_hdr *h = s->hdr;
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
	for (;;) {
		ms_keeper_lock(s);
		if (h->closeq_tail - h->closeq_head <= h->nslots) {
			q[h->closeq_tail % (h->nslots + 1)] = kfd;
			h->closeq_tail++;
			ms_keeper_unlock(s);
			break;
		}
		ms_keeper_unlock(s);
		/* Full only when files are freed faster than the keeper
		 * closes them; give it a moment. */
		ms_keeper_poke(s);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	ms_keeper_poke(s);
}

/* ---- the keeper's loop -------------------------------------------------------------- */

struct keeper {
	struct ms_store s;
	int ep;
	int nconn;
	uint32_t uid;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int new_memfd(uint64_t *kino)
{
	int fd = sys_memfd_create("memshim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return fd;
	struct stat st;
	sys_fstat(fd, &st);
	*kino = st.st_ino;
	return fd;
}

/* Closes what the close queue holds and tops the pool up. */
static void service(struct keeper *k)
{
	struct ms_store *s = &k->s;
	struct ms_hdr *h = s->hdr;
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
	int32_t batch[256];
	__atomic_store_n(&h->poked, 0, __ATOMIC_RELEASE);
	for (;;) {
		int n = 0;
		ms_keeper_lock(s);
		while (n < 256 && h->closeq_head != h->closeq_tail)
			batch[n++] = q[h->closeq_head++ % (h->nslots + 1)];
		ms_keeper_unlock(s);
		for (int i = 0; i < n; i++)
			sys_close(batch[i]);
		if (n < 256)
			break;
	}
	for (;;) {
		ms_keeper_lock(s);
		uint32_t have = h->pool_tail - h->pool_head;
		ms_keeper_unlock(s);
		if (have >= MS_POOL_SLOTS)
			break;
		uint64_t kino;
		int fd = new_memfd(&kino);
		if (fd < 0)
			break; /* out of fds: creators will get the error */
		ms_keeper_lock(s);
		h->pool[h->pool_tail % MS_POOL_SLOTS].kfd = fd;
		h->pool[h->pool_tail % MS_POOL_SLOTS].kino = kino;
		h->pool_tail++;
		ms_keeper_unlock(s);
	}
}

static void reply(int sock, struct ms_msg *m, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void handle(struct keeper *k, int sock, struct ms_msg *m)
{
	char path[40];
	int fd;
	uint64_t kino = 0;
	switch (m->op) {
	case MS_OP_POKE:
		service(k);
		return;
	case MS_OP_NEW:
		fd = new_memfd(&kino);
		m->a = fd;
		m->b = (int64_t)kino;
		reply(sock, m, -1);
		return;
	case MS_OP_FD:
		/* A fresh description when /proc lets us; else our own, which
		 * shares its offset (documented limit without /proc). */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", m->a);
		fd = sys_openat(AT_FDCWD, path, (int)m->b | O_CLOEXEC, 0);
		if (fd == -ENOENT || fd == -EACCES || fd == -EPERM)
			fd = sys_fcntl(m->a, F_DUPFD_CLOEXEC, 0);
		m->a = fd < 0 ? fd : 0;
		reply(sock, m, fd);
		if (fd >= 0)
			sys_close(fd);
		return;
	case MS_OP_ARENA:
		m->a = 0;
		reply(sock, m, MS_KEEPER_ARENA_FD);
		return;
	case MS_OP_RECLAIM: {
		/* Two looks, a moment apart: see ms_reclaim_orphans. */
		int pending = 0;
		m->a = ms_reclaim_orphans(&k->s, &pending);
		if (pending) {
			struct timespec ts = {0, 20000000};
			nanosleep(&ts, NULL);
			m->a += ms_reclaim_orphans(&k->s, NULL);
		}
		reply(sock, m, -1);
		return;
	}
	}
}

int ms_keeper_main(int argc, char **argv)
{
	struct keeper k = {.ep = -1};
	struct ms_store *s = &k.s;
	struct stat st;
	struct rlimit rl;

	/* Every live file is one of our fds. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (sys_fstat(MS_KEEPER_ARENA_FD, &st))
		return 2;
	void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  MS_KEEPER_ARENA_FD, 0);
	if (base == MAP_FAILED)
		return 2;
	s->base = base;
	s->hdr = base;
	s->arena_fd = MS_KEEPER_ARENA_FD;
	s->sock = -1;
	s->procdir = -1;
	s->cfg.log_level = MS_LOG_WARN;
	if (s->hdr->magic != MS_MAGIC || s->hdr->version != MS_LAYOUT_VERSION)
		return 2;
	k.uid = (uint32_t)geteuid();
	if (listen(MS_KEEPER_LISTEN_FD, 128))
		return 2;
	__atomic_store_n(&s->hdr->keeper_pid, (int32_t)getpid(), __ATOMIC_RELEASE);
	service(&k);

	k.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = MS_KEEPER_LISTEN_FD};
	epoll_ctl(k.ep, EPOLL_CTL_ADD, MS_KEEPER_LISTEN_FD, &ev);

	int32_t me = (int32_t)getpid();
	sys_write(MS_KEEPER_STATUS_FD, &me, sizeof(me));
	sys_close(MS_KEEPER_STATUS_FD);

	int64_t idle_since = mono_ms(), last_round = mono_ms(), last_reclaim = 0;
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(k.ep, evs, 64, 200);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == MS_KEEPER_LISTEN_FD) {
				int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
				if (c < 0)
					continue;
				struct ucred cr;
				socklen_t cl = sizeof(cr);
				if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) ||
				    cr.uid != k.uid) {
					sys_close(c); /* another user's process */
					continue;
				}
				struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
				epoll_ctl(k.ep, EPOLL_CTL_ADD, c, &ce);
				k.nconn++;
				continue;
			}
			struct ms_msg m;
			ssize_t got = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
			if (got == sizeof(m)) {
				handle(&k, fd, &m);
			} else if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(k.ep, EPOLL_CTL_DEL, fd, NULL);
				sys_close(fd);
				if (--k.nconn == 0)
					idle_since = mono_ms();
			}
		}
		service(&k);
		/* Once a second: orphans whose holders died, and bytes that
		 * reached files past the ledger. */
		if (mono_ms() - last_reclaim >= 50 &&
		    __atomic_exchange_n(&s->hdr->reclaim, 0, __ATOMIC_ACQ_REL)) {
			last_reclaim = mono_ms();
			int pending = 0;
			ms_reclaim_orphans(s, &pending);
			if (pending) /* look again soon */
				__atomic_store_n(&s->hdr->reclaim, 1, __ATOMIC_RELEASE);
		}
		if (mono_ms() - last_round >= 1000) {
			last_round = mono_ms();
			ms_reclaim_orphans(s, NULL);
			ms_reconcile_sizes(s);
			ms_audit_memfds(s);
		}
		if (k.nconn == 0 && mono_ms() - idle_since >= MS_KEEPER_GRACE_MS)
			break;
	}
	/* MEMSHIM_SAVE: the name is given up first, so a new tree of the
	 * same store name starts afresh instead of waiting on this one. */
	if (s->hdr->save_dir[0]) {
		sys_close(MS_KEEPER_LISTEN_FD);
		ms_save(s, s->hdr->save_dir);
	}
	/* Nobody is attached: exiting closes the arena and every memfd, and
	 * the kernel frees what no process holds. */
	return 0;
}
