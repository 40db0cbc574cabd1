/* core/keeper.c — the client side of the keeper, what every attached
 * process needs: starting it, connecting, its requests, taking a memfd
 * from its pool, queueing one to close, and pokes. The keeper's own loop
 * is keeper/main.c, linked into the keeper program only.
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
	int afd = s->arena_fd, wfd = pfd[1], report = s->hdr->summary != 0;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);

	/* No exit signal: the program never hears of this short-lived child. */
	long pid = ms_raw_syscall(SYS_clone, 0UL, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		long g = ms_raw_syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
		if (g != 0)
			ms_raw_syscall(SYS_exit_group, g < 0 ? 1 : 0);
		/* The keeper: reparented to init, its own session, so neither a
		 * wait() of the program nor a terminal's Ctrl-C reaches it. */
		sigset_t none;
		sigemptyset(&none);
		ms_raw_syscall(SYS_setsid);
		int nul = (int)ms_raw_syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR);
		int a = (int)ms_raw_syscall(SYS_fcntl, afd, F_DUPFD, 10);
		int l = (int)ms_raw_syscall(SYS_fcntl, lsock, F_DUPFD, 10);
		int w = (int)ms_raw_syscall(SYS_fcntl, wfd, F_DUPFD, 10);
		/* a closed stderr just means no summary */
		int e = report ? (int)ms_raw_syscall(SYS_fcntl, 2, F_DUPFD, 10) : -1;
		if (nul < 0 || a < 0 || l < 0 || w < 0)
			ms_raw_syscall(SYS_exit_group, 126);
		ms_raw_syscall(SYS_dup3, nul, 0, 0);
		ms_raw_syscall(SYS_dup3, nul, 1, 0);
		ms_raw_syscall(SYS_dup3, nul, 2, 0);
		ms_raw_syscall(SYS_dup3, a, MS_KEEPER_ARENA_FD, 0);
		ms_raw_syscall(SYS_dup3, l, MS_KEEPER_LISTEN_FD, 0);
		ms_raw_syscall(SYS_dup3, w, MS_KEEPER_STATUS_FD, 0);
		if (e >= 0)
			ms_raw_syscall(SYS_dup3, e, MS_KEEPER_REPORT_FD, 0);
		ms_raw_syscall(SYS_close_range, e >= 0 ? MS_KEEPER_REPORT_FD + 1 : MS_KEEPER_STATUS_FD + 1,
			       ~0U, 0);
		ms_raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(long));
		ms_raw_syscall(SYS_execve, path, argv, envp);
		ms_raw_syscall(SYS_exit_group, 127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sys_close(pfd[1]);
	if (pid < 0) {
		sys_close(pfd[0]);
		return -ENOMEM;
	}
	ms_raw_syscall(SYS_wait4, pid, NULL, __WCLONE, NULL);
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

#define REPLY_LOOK_S 5  /* seconds between looks at the keeper while waiting */
#define REPLY_WAIT_S 60 /* seconds before a live keeper is given up on */

/* One request, one reply. The request goes over the pin connection, with
 * one end of a socket pair of its own for the reply: the reply can never
 * be read by a forked child or another thread, and the keeper, which
 * accepted the pin from the store's owner, answers a process of the tree
 * whatever its credentials have become since (a process that dropped
 * privileges; keeper.h). */
static int request(struct ms_store *s, struct ms_msg *m, int *fd_out)
{
	int sv[2], r;
	if (s->sock < 0)
		return -ENOTCONN;
	r = sys_socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	if (r)
		return r;
	int sock = sv[0];
	char sbuf[CMSG_SPACE(sizeof(int))];
	memset(sbuf, 0, sizeof(sbuf));
	struct iovec siov = {m, sizeof(*m)};
	struct msghdr smh = {.msg_iov = &siov, .msg_iovlen = 1, .msg_control = sbuf,
			     .msg_controllen = sizeof(sbuf)};
	struct cmsghdr *sc = CMSG_FIRSTHDR(&smh);
	sc->cmsg_level = SOL_SOCKET;
	sc->cmsg_type = SCM_RIGHTS;
	sc->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(sc), &sv[1], sizeof(int));
	ssize_t sent;
	do
		sent = sys_sendmsg(s->sock, &smh, MSG_NOSIGNAL);
	while (sent == -EINTR);
	sys_close(sv[1]); /* the keeper holds the other copy now */
	if (sent != sizeof(*m)) {
		r = sent < 0 ? (int)sent : -EPIPE;
		goto out;
	}
	/* A keeper that dies closes its end: the read ends then. One that
	 * lives is waited for while its answer may still come — on a loaded
	 * machine it can take seconds, and waits itself up to 5 s on a
	 * holder — and given up on after REPLY_WAIT_S, a wedged keeper's
	 * (the call fails with EAGAIN rather than hang the tree). */
	struct timeval tv = {REPLY_LOOK_S, 0};
	sys_setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	ssize_t n;
	int waited = 0;
	for (;;) {
		n = sys_recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n == -EINTR)
			continue;
		if (n != -EAGAIN || (waited += REPLY_LOOK_S) >= REPLY_WAIT_S ||
		    MS_SYSCALL(SYS_kill, s->keeper_pid, 0) == -ESRCH)
			break;
		if (waited == REPLY_LOOK_S)
			ms_log(s, MS_LOG_WARN, "the keeper (pid %d) has not answered request %d for %d s; waiting",
			       (int)s->keeper_pid, (int)m->op, waited);
	}
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

int ms_keeper_fill(struct ms_store *s)
{
	struct ms_msg m = {.op = MS_OP_FILL};
	return request(s, &m, NULL);
}

int ms_keeper_fd(struct ms_store *s, int32_t kfd, int oflags)
{
	struct ms_msg m = {.op = MS_OP_FD, .a = kfd, .b = oflags};
	int fd = -1;
	int r = request(s, &m, &fd);
	return r ? r : fd;
}

int ms_keeper_reclaim(struct ms_store *s)
{
	struct ms_msg m = {.op = MS_OP_RECLAIM};
	int r = request(s, &m, NULL);
	return r ? r : m.a;
}

int ms_keeper_audit(struct ms_store *s)
{
	struct ms_msg m = {.op = MS_OP_AUDIT};
	int r = request(s, &m, NULL);
	return r ? r : m.a;
}

int ms_keeper_special_dir(struct ms_store *s)
{
	struct ms_msg m = {.op = MS_OP_SPECIAL_DIR};
	int r = request(s, &m, NULL);
	return r ? r : m.a;
}

int ms_keeper_arena(struct ms_store *s)
{
	struct ms_msg m = {.op = MS_OP_ARENA};
	int fd = -1;
	int r = request(s, &m, &fd);
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

int ms_pool_take(struct ms_store *s, int32_t *kfd, uint64_t *kino, int *stale)
{
	struct ms_hdr *h = s->hdr;
	int r = -EAGAIN;
	ms_keeper_lock(s);
	uint32_t left = h->pool_tail - h->pool_head;
	struct ms_memfd_ref m = {.kfd = -1};
	if (left) {
		m = h->pool[h->pool_head % MS_POOL_SLOTS];
		h->pool_head++;
		left--;
		r = 0;
	}
	ms_keeper_unlock(s);
	/* Written after the ring moved on: a death in between leaks a memfd
	 * the keeper's audit finds, never one named twice. */
	if (r == 0) {
		*kfd = m.kfd;
		*kino = m.kino;
		*stale = m.stale != 0;
	}
	if (left < MS_POOL_SLOTS / 2)
		ms_keeper_poke(s);
	return r;
}

int ms_pool_give(struct ms_store *s, int32_t kfd, uint64_t kino, uint64_t held)
{
	struct ms_hdr *h = s->hdr;
	if (held > MS_STALE_FILE)
		return 0;
	ms_keeper_lock(s);
	uint32_t n = h->pool_tail - h->pool_head;
	uint64_t stale = held;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t b = h->pool[(h->pool_head + k) % MS_POOL_SLOTS].stale;
		stale += b ? b - 1 : 0;
	}
	int given = n < MS_POOL_SLOTS && stale <= MS_STALE_MAX;
	if (given)
		ms_ring_put(h->pool, MS_POOL_SLOTS, &h->pool_tail,
			    (struct ms_memfd_ref){.kfd = kfd, .stale = (uint32_t)held + 1, .kino = kino});
	ms_keeper_unlock(s);
	return given;
}

int ms_reuse_room(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	/* The tail moves under ns_lock, held here; the head only moves on. */
	return h->reuse_tail - __atomic_load_n(&h->reuse_head, __ATOMIC_ACQUIRE) < MS_REUSE_SLOTS;
}

void ms_reuse_push(struct ms_store *s, int32_t kfd, uint64_t kino, uint64_t held)
{
	struct ms_hdr *h = s->hdr;
	ms_keeper_lock(s);
	ms_ring_put(h->reuse, MS_REUSE_SLOTS, &h->reuse_tail,
		    (struct ms_memfd_ref){.kfd = kfd, .kino = kino});
	uint32_t waiting = h->reuse_tail - h->reuse_head;
	ms_keeper_unlock(s);
	if (held >= MS_CLOSEQ_WAKE_BYTES || waiting >= MS_CLOSEQ_BATCH)
		ms_keeper_poke(s);
}

void ms_closeq_push(struct ms_store *s, int32_t kfd, uint64_t held)
{
	struct ms_hdr *h = s->hdr;
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
	uint32_t waiting;
	for (;;) {
		ms_keeper_lock(s);
		if (h->closeq_tail - h->closeq_head <= h->nslots) {
			q[h->closeq_tail % (h->nslots + 1)] = kfd;
			h->closeq_tail++;
			waiting = h->closeq_tail - h->closeq_head;
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
	if (held >= MS_CLOSEQ_WAKE_BYTES || waiting >= MS_CLOSEQ_BATCH)
		ms_keeper_poke(s);
}
