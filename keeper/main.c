/* keeper/main.c — the keeper program's loop (tools/memshim-keeper): it
 * holds the arena at fd 3 and every file memfd; processes open fresh
 * descriptions of them through /proc/<keeper>/fd/<n> (or ask for one here
 * when /proc is missing). It keeps a pool of ready memfds listed in the
 * arena so creating a file needs no round trip, closes the memfds of freed
 * files from the close queue, runs the reclaim and audit rounds
 * (keeper/rounds.c), and exits when no process has been connected for
 * MS_KEEPER_GRACE_MS, saving the tree first when MEMSHIM_SAVE asked for it
 * (keeper/save.c).
 *
 * The client side — starting the keeper, requests, the pool and close
 * queue as a process sees them — is core/keeper.c, in libmemshim.so.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "keeper.h"
#include "server.h"

/* A reconciliation pass's next batch waits at least this long (rounds.c). */
#define RECONCILE_GAP_MS 100
/* Inode slots below which the audit runs every second (keeper loop). */
#define AUDIT_ALWAYS 65536

struct keeper {
	struct ms_store s;
	struct ms_report rep; /* only when a report or chart was asked for */
	int reporting;
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

/* Empties the memfds of the reuse ring and lists them in the pool, or
 * closes them when it is full (or one cannot be emptied). Each stays in
 * the ring while it is emptied: a memfd is listed somewhere at every
 * moment (the audit, the chaos checks). Processes only add at the tail. */
static void reuse(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	for (;;) {
		ms_keeper_lock(s);
		uint32_t head = h->reuse_head, n = h->reuse_tail - head;
		ms_keeper_unlock(s);
		if (!n)
			return;
		int32_t shut[MS_REUSE_SLOTS], kfd[MS_REUSE_SLOTS];
		uint8_t ok[MS_REUSE_SLOTS];
		int nshut = 0;
		for (uint32_t k = 0; k < n; k++)
			kfd[k] = h->reuse[(head + k) % MS_REUSE_SLOTS].kfd;
		ms_holders_empty(s, kfd, ok, (int)n);
		ms_keeper_lock(s);
		for (uint32_t k = 0; k < n; k++) {
			if (ok[k] && h->pool_tail - h->pool_head < MS_POOL_SLOTS)
				ms_ring_put(h->pool, MS_POOL_SLOTS, &h->pool_tail,
					    h->reuse[(head + k) % MS_REUSE_SLOTS]);
			else
				shut[nshut++] = kfd[k];
		}
		__atomic_store_n(&h->reuse_head, head + n, __ATOMIC_RELEASE); /* ms_reuse_room */
		ms_keeper_unlock(s);
		ms_holders_close(s, shut, nshut);
	}
}

/* Moves the pool's memfds that still hold a removed file's pages
 * (ms_pool_give) to the reuse ring, for reuse() to empty and list again:
 * once a round, so that those pages outlive their file by a round at
 * most when no file is made to empty them. Taken out of the pool first,
 * where a creator could take one and write to it. Under ns_lock too,
 * which keeps the ring's room from a process's look to its push
 * (ms_reuse_room); tried only, as every lock the keeper takes there. */
static void stale_out(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	if (ms_ns_trylock(s) != 0)
		return;
	ms_keeper_lock(s);
	uint32_t head = h->pool_head, n = h->pool_tail - head, kept = 0;
	struct ms_memfd_ref out[MS_POOL_SLOTS];
	uint32_t nout = 0;
	for (uint32_t k = 0; k < n; k++) {
		struct ms_memfd_ref m = h->pool[(head + k) % MS_POOL_SLOTS];
		if (m.stale && h->reuse_tail + nout - h->reuse_head < MS_REUSE_SLOTS)
			out[nout++] = (struct ms_memfd_ref){.kfd = m.kfd, .kino = m.kino};
		else
			h->pool[(head + kept++) % MS_POOL_SLOTS] = m;
	}
	h->pool_tail = head + kept;
	for (uint32_t k = 0; k < nout; k++)
		ms_ring_put(h->reuse, MS_REUSE_SLOTS, &h->reuse_tail, out[k]);
	ms_keeper_unlock(s);
	ms_ns_unlock(s);
}

/* Empties what the reuse ring holds into the pool, closes what the close
 * queue holds and tops the pool up. Returns 0, or -errno when a memfd
 * could not be made. */
static int service(struct keeper *k)
{
	struct ms_store *s = &k->s;
	struct ms_hdr *h = s->hdr;
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
	int32_t batch[256];
	__atomic_store_n(&h->poked, 0, __ATOMIC_RELEASE);
	reuse(s);
	for (;;) {
		int n = 0;
		ms_keeper_lock(s);
		while (n < 256 && h->closeq_head != h->closeq_tail)
			batch[n++] = q[h->closeq_head++ % (h->nslots + 1)];
		ms_keeper_unlock(s);
		ms_holders_close(s, batch, n);
		if (n < 256)
			break;
	}
	/* Filled whole when below half (where ms_pool_take pokes), never
	 * topped up: creators on other CPUs take from it meanwhile, and
	 * topping it up by the few they took would cost a holder a round
	 * trip each (measured: a request for every 2-3 files of a create
	 * loop). */
	for (;;) {
		ms_keeper_lock(s);
		uint32_t have = h->pool_tail - h->pool_head;
		ms_keeper_unlock(s);
		if (have >= MS_POOL_SLOTS / 2)
			break;
		int32_t kfd[MS_POOL_SLOTS];
		uint64_t kino[MS_POOL_SLOTS];
		int got = ms_holders_make(s, kfd, kino, (int)(MS_POOL_SLOTS - have));
		if (got < 0)
			return got; /* out of fds or memory: creators will get the error */
		/* Processes give memfds back to the pool meanwhile
		 * (ms_pool_give): what no longer fits is closed. */
		int32_t extra[MS_POOL_SLOTS];
		int nextra = 0;
		ms_keeper_lock(s);
		for (int i = 0; i < got; i++) {
			if (h->pool_tail - h->pool_head < MS_POOL_SLOTS)
				ms_ring_put(h->pool, MS_POOL_SLOTS, &h->pool_tail,
					    (struct ms_memfd_ref){.kfd = kfd[i], .kino = kino[i]});
			else
				extra[nextra++] = kfd[i];
		}
		ms_keeper_unlock(s);
		ms_holders_close(s, extra, nextra);
	}
	return 0;
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

/* One message from a connection, and the socket it came with (SCM_RIGHTS:
 * a request's socket to answer on), or -1; any further fd is closed. */
static ssize_t receive(int fd, struct ms_msg *m, int *back)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	ssize_t got = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	*back = -1;
	for (struct cmsghdr *c = got >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (*back < 0)
				*back = f;
			else
				sys_close(f);
		}
	}
	return got;
}

static void handle(struct keeper *k, int sock, struct ms_msg *m)
{
	int fd;
	switch (m->op) {
	case MS_OP_POKE:
		service(k);
		return;
	case MS_OP_FILL: {
		/* The new memfds go into the pool, never into the reply alone:
		 * the asker holds ns_lock while it waits, and when this keeper
		 * is slow to run (a loaded machine) it is often killed before
		 * the answer comes. A memfd handed to a dead asker was named
		 * nowhere until the next audit that got ns_lock (most of the
		 * chaos run's leaks); one in the pool stays named until a
		 * creator takes it. */
		int r = service(k);
		ms_keeper_lock(&k->s);
		uint32_t have = k->s.hdr->pool_tail - k->s.hdr->pool_head;
		ms_keeper_unlock(&k->s);
		m->a = have ? 0 : r ? r : -ENOMEM;
		reply(sock, m, -1);
		return;
	}
	case MS_OP_FD:
		/* A fresh description when /proc lets us; else our own, which
		 * shares its offset (documented limit without /proc; a
		 * holder's memfd has no other way). */
		fd = ms_kfd_open(&k->s, m->a, (int)m->b);
		if ((fd == -ENOENT || fd == -EACCES || fd == -EPERM) && m->a >= 0 &&
		    ms_kfd_holder(m->a) == 0)
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
	case MS_OP_SPECIAL_DIR:
		m->a = ms_special_prepare(&k->s);
		reply(sock, m, -1);
		return;
	case MS_OP_AUDIT:
		/* The round the loop runs once a second, on demand: a memfd
		 * left by a process killed between taking and naming it (or
		 * between un-naming and queueing it) is closed before the
		 * reply, so a caller that knows no such process is left can
		 * count exactly instead of waiting for the next round. */
		service(k);
		m->a = ms_audit_memfds(&k->s);
		reply(sock, m, -1);
		return;
	}
}

int ms_keeper_main(int argc, char **argv)
{
	static struct keeper k = {.ep = -1}; /* the report's samples: not on the stack */
	struct ms_store *s = &k.s;
	struct stat st;
	struct rlimit rl;

	/* Every live file is an fd of ours or of a holder (holder.c). */
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
	s->lower_frozen = 1;
	ms_cred_all(s); /* the keeper reads the whole tree (MEMSHIM_SAVE) */
	if (s->hdr->magic != MS_MAGIC || s->hdr->version != MS_LAYOUT_VERSION)
		return 2;
	k.uid = (uint32_t)geteuid();
	if (listen(MS_KEEPER_LISTEN_FD, 128))
		return 2;
	__atomic_store_n(&s->hdr->keeper_pid, (int32_t)getpid(), __ATOMIC_RELEASE);
	ms_holders_setup(s);
	service(&k);

	k.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = MS_KEEPER_LISTEN_FD};
	epoll_ctl(k.ep, EPOLL_CTL_ADD, MS_KEEPER_LISTEN_FD, &ev);

	int32_t me = (int32_t)getpid();
	sys_write(MS_KEEPER_STATUS_FD, &me, sizeof(me));
	sys_close(MS_KEEPER_STATUS_FD);

	int64_t idle_since = mono_ms(), last_round = mono_ms(), last_reclaim = 0;
	int reconciling = 0;
	int64_t last_batch = 0;
	k.reporting = s->hdr->report[0] || s->hdr->chart[0] || s->hdr->summary;
	if (k.reporting)
		ms_report_sample(s, &k.rep, 1);
	for (;;) {
		struct epoll_event evs[64];
		/* a report samples usage at most every 100 ms (report.c) */
		int n = epoll_wait(k.ep, evs, 64, k.reporting ? 100 : 200);
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
			int back = -1;
			ssize_t got = receive(fd, &m, &back);
			if (got == sizeof(m)) /* a request brings the socket to answer on */
				handle(&k, back >= 0 ? back : fd, &m);
			if (back >= 0)
				sys_close(back);
			if (got == sizeof(m))
				continue;
			if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(k.ep, EPOLL_CTL_DEL, fd, NULL);
				sys_close(fd);
				if (--k.nconn == 0) {
					idle_since = mono_ms();
					k.rep.end_ns = ms_now_ns();
				}
			}
		}
		service(&k);
		ms_holders_check(s);
		if (k.reporting && k.nconn)
			ms_report_sample(s, &k.rep, 0);
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
			stale_out(s);
			service(&k); /* empties them */
			ms_reclaim_orphans(s, NULL);
			/* A pass starts now and goes on at every round (rounds.c). */
			reconciling = ms_reconcile_sizes(s, 1);
			/* The audit reads every fd the keeper and its holders
			 * hold: once a second while that is cheap, else when a
			 * process died holding ns_lock, the only place a memfd
			 * can be left unnamed (ms_repair asks). */
			if (s->hdr->inode_bump < AUDIT_ALWAYS ||
			    __atomic_exchange_n(&s->hdr->audit_due, 0, __ATOMIC_ACQ_REL))
				ms_audit_memfds(s);
		} else if (reconciling && mono_ms() - last_batch >= RECONCILE_GAP_MS &&
			   (n == 0 || mono_ms() - last_batch >= 10 * RECONCILE_GAP_MS)) {
			/* When idle (the wait timed out), or else once a second:
			 * a batch right after a request would keep the CPU from
			 * the process that asked (on a machine of one CPU). */
			last_batch = mono_ms();
			reconciling = ms_reconcile_sizes(s, 0);
		}
		if (k.nconn == 0 && mono_ms() - idle_since >= MS_KEEPER_GRACE_MS)
			break;
	}
	/* The report first: it describes the tree as it ended, before the
	 * save and the clean-up take their time. */
	if (k.reporting)
		ms_report_write(s, &k.rep);
	/* The special files' private directory, while the name is still
	 * ours: a new store of the same name may make it again right after. */
	ms_special_cleanup(s);
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
