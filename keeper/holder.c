/* keeper/holder.c — the processes that hold file memfds for the keeper.
 *
 * Every regular file of the store is one memfd that must stay open in some
 * process for as long as the file exists. One process holds at most its
 * hard fd limit of them, so the keeper holds up to half of its own limit
 * (the other half is for the connections of the tree's processes) and,
 * past that, starts holder processes, each holding up to its limit less a
 * few. A file's memfd is named by a handle (holder, fd) in its inode
 * (arena.h, MS_KFD_SHIFT); processes re-open it through
 * /proc/<holder pid>/fd/<fd> as they do the keeper's.
 *
 * A holder is a fork of the keeper that keeps nothing of it but one end of
 * a socket pair: no arena, no connections, /dev/null streams, the keeper's
 * session. It is the keeper's child (never the program's), dies with it
 * (PR_SET_PDEATHSIG, and end of file on its socket), and does two things
 * on request: make memfds (their fd numbers and inode numbers go back) and
 * close fds. Everything else the keeper does to a holder's memfd — fstat,
 * seals, re-opens for a process without /proc, the save — it does through
 * /proc/<holder>/fd/<fd>, which its uid may open.
 *
 * Holder death (killed from outside): the keeper sees its child exit
 * (ms_holders_check, each round), marks every inode whose memfd it held
 * MS_KFD_LOST under ns_lock (open then fails with EIO; names, stat, unlink
 * keep working, and fds processes already had keep their bytes), drops its
 * memfds from the pool and the close queue, and only then reaps it, so its
 * pid cannot be recycled while a live handle still names it.
 *
 * Everything here runs in the keeper process, single-threaded; the table
 * of holders is the keeper's own (the arena's hdr->holders is what
 * processes read).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "keeper.h"
#include "server.h"

enum { H_MAKE = 1, H_CLOSE = 2, H_EMPTY = 3 };
#define H_BATCH 256

struct hreq {
	uint32_t op, n;
	int32_t fd[H_BATCH]; /* H_CLOSE, H_EMPTY */
};
struct hrep {
	uint32_t n, pad;
	struct {
		int32_t fd;
		uint32_t pad;
		uint64_t kino;
	} m[MS_POOL_SLOTS];
};

static struct {
	int cap0;                 /* memfds the keeper holds at most */
	int cap;                  /* memfds a holder holds at most */
	int sock[MS_HOLDERS];     /* our end of each holder's socket; 0 = none */
	uint8_t dead[MS_HOLDERS]; /* exited, not yet reaped (its handles still named) */
} H;

static struct ms_hdr *hdr_of(struct ms_store *s) { return s->hdr; }

void ms_holders_setup(struct ms_store *s)
{
	struct rlimit rl;
	long lim = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		lim = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : (long)rl.rlim_cur;
	if (lim > 1L << 20)
		lim = 1L << 20;
	/* Half for connections, the report, /proc look-ups; a holder needs
	 * only its socket and stdio. */
	H.cap0 = (int)(lim / 2);
	H.cap = (int)(lim - 16);
	if (H.cap < 8)
		H.cap = 8;
	__atomic_store_n(&s->hdr->holders[0].pid, (int32_t)getpid(), __ATOMIC_RELEASE);
	__atomic_store_n(&s->hdr->nholders, 1, __ATOMIC_RELEASE);
}

/* ---- the holder's side ----------------------------------------------------- */

static void holder_main(int sock)
{
	static struct hreq q;
	static struct hrep r;
	for (;;) {
		ssize_t n = recv(sock, &q, sizeof(q), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)(2 * sizeof(uint32_t)))
			_exit(0); /* the keeper is gone: so is the store */
		if (q.op == H_MAKE) {
			r.n = 0;
			for (uint32_t i = 0; i < q.n && i < MS_POOL_SLOTS; i++) {
				int fd = sys_memfd_create("memshim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
				struct stat st;
				if (fd < 0)
					break;
				if (fd >= 1 << MS_KFD_SHIFT || sys_fstat(fd, &st)) {
					sys_close(fd);
					break;
				}
				r.m[r.n].fd = fd;
				r.m[r.n].kino = st.st_ino;
				r.n++;
			}
			send(sock, &r, sizeof(r), MSG_NOSIGNAL);
		} else if (q.op == H_CLOSE) {
			for (uint32_t i = 0; i < q.n && i < H_BATCH; i++)
				sys_close(q.fd[i]);
		} else if (q.op == H_EMPTY) {
			/* each fd's ftruncate, 0 or -errno, in r.m[].fd */
			for (r.n = 0; r.n < q.n && r.n < MS_POOL_SLOTS; r.n++)
				r.m[r.n].fd = sys_ftruncate(q.fd[r.n], 0);
			send(sock, &r, sizeof(r), MSG_NOSIGNAL);
		}
	}
}

/* Starts holder h; 0 or -errno. */
static int holder_start(struct ms_store *s, uint32_t h)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid_t keeper = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		sys_close(sv[0]);
		sys_close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != keeper)
			_exit(0);
		prctl(PR_SET_NAME, "memshim-holder");
		/* Nothing of the keeper's but stdio (/dev/null) and the socket. */
		size_t size = s->hdr->arena_size;
		munmap(s->base, size);
		if (dup3(sv[1], 3, 0) < 0)
			_exit(1);
		ms_raw_syscall(SYS_close_range, 4U, ~0U, 0);
		holder_main(3);
		_exit(0);
	}
	sys_close(sv[1]);
	/* A holder that takes long to answer is a wedged one: the keeper
	 * would rather refuse a create than hang the tree. */
	struct timeval tv = {5, 0};
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* a stopped holder */
	int fd = sv[0];
	H.sock[h] = fd;
	H.dead[h] = 0;
	__atomic_store_n(&s->hdr->holders[h].nfds, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->hdr->holders[h].pid, (int32_t)pid, __ATOMIC_RELEASE);
	if (h >= __atomic_load_n(&s->hdr->nholders, __ATOMIC_RELAXED))
		__atomic_store_n(&s->hdr->nholders, h + 1, __ATOMIC_RELEASE);
	ms_log(s, MS_LOG_INFO, "holder %u (pid %d) started: the keeper holds %u memfds", h,
	       (int)pid, __atomic_load_n(&s->hdr->holders[0].nfds, __ATOMIC_RELAXED));
	return 0;
}

/* ---- the keeper's side ------------------------------------------------------- */

static uint32_t nfds(struct ms_store *s, uint32_t h)
{
	return __atomic_load_n(&hdr_of(s)->holders[h].nfds, __ATOMIC_RELAXED);
}

static void nfds_add(struct ms_store *s, uint32_t h, int d)
{
	__atomic_add_fetch(&hdr_of(s)->holders[h].nfds, (uint32_t)d, __ATOMIC_RELAXED);
}

/* A holder with room, started if need be: its index, or 0 when none can be. */
static uint32_t holder_with_room(struct ms_store *s)
{
	uint32_t n = __atomic_load_n(&s->hdr->nholders, __ATOMIC_RELAXED), free_slot = 0;
	for (uint32_t h = 1; h < n; h++) {
		if (s->hdr->holders[h].pid && !H.dead[h] && nfds(s, h) < (uint32_t)H.cap)
			return h;
		if (!s->hdr->holders[h].pid && !H.dead[h] && !free_slot)
			free_slot = h;
	}
	uint32_t h = free_slot ? free_slot : n;
	if (h >= MS_HOLDERS || holder_start(s, h))
		return 0;
	return h;
}

int ms_holders_make(struct ms_store *s, int32_t *kfd, uint64_t *kino, int n)
{
	int got = 0, err = 0;
	while (got < n) {
		if (nfds(s, 0) < (uint32_t)H.cap0) {
			int fd = sys_memfd_create("memshim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
			struct stat st;
			if (fd >= 0 && (fd >= 1 << MS_KFD_SHIFT || sys_fstat(fd, &st))) {
				sys_close(fd);
				fd = -EMFILE;
			}
			if (fd >= 0) {
				kfd[got] = fd;
				kino[got++] = st.st_ino;
				nfds_add(s, 0, 1);
				continue;
			}
			if (fd != -EMFILE && fd != -ENFILE) {
				err = fd;
				break;
			}
			/* Our fds are used up by something else (connections): a
			 * holder takes this one. */
		}
		uint32_t h = holder_with_room(s);
		if (!h) {
			err = -EMFILE;
			break;
		}
		uint32_t room = (uint32_t)H.cap - nfds(s, h), want = (uint32_t)(n - got);
		if (want > room)
			want = room;
		if (want > MS_POOL_SLOTS)
			want = MS_POOL_SLOTS;
		struct hreq q = {.op = H_MAKE, .n = want};
		static struct hrep r;
		__atomic_add_fetch(&s->hdr->holder_makes, 1, __ATOMIC_RELAXED);
		ssize_t k = send(H.sock[h], &q, 2 * sizeof(uint32_t), MSG_NOSIGNAL);
		if (k == (ssize_t)(2 * sizeof(uint32_t)))
			do
				k = recv(H.sock[h], &r, sizeof(r), 0);
			while (k < 0 && errno == EINTR);
		if (k != (ssize_t)sizeof(r) || r.n > want) {
			err = -EIO;
			break;
		}
		for (uint32_t i = 0; i < r.n; i++) {
			kfd[got] = ms_kfd_make(h, r.m[i].fd);
			kino[got++] = r.m[i].kino;
		}
		nfds_add(s, h, (int)r.n);
		if (r.n < want) {
			/* Out of memory, or of the system's files: not ours to fix. */
			err = -ENFILE;
			break;
		}
	}
	return got ? got : err;
}

_Static_assert(MS_REUSE_SLOTS <= MS_POOL_SLOTS, "a ring of memfds to empty fits one answer");

void ms_holders_empty(struct ms_store *s, const int32_t *kfd, uint8_t *ok, int n)
{
	static struct hreq q;
	static struct hrep r;
	uint32_t at[MS_POOL_SLOTS];
	if (n > MS_POOL_SLOTS)
		n = MS_POOL_SLOTS;
	memset(ok, 2, (size_t)n); /* 2: not asked yet */
	for (int i = 0; i < n; i++) {
		if (ok[i] != 2)
			continue;
		uint32_t h = ms_kfd_holder(kfd[i]);
		if (h == 0) {
			ok[i] = sys_ftruncate(kfd[i], 0) == 0;
			continue;
		}
		/* Every fd of this holder in the batch, in one request. */
		q.op = H_EMPTY;
		q.n = 0;
		for (int j = i; j < n; j++) {
			if (ok[j] != 2 || ms_kfd_holder(kfd[j]) != h)
				continue;
			ok[j] = 0;
			at[q.n] = (uint32_t)j;
			q.fd[q.n++] = ms_kfd_fd(kfd[j]);
		}
		if (H.dead[h] || !H.sock[h])
			continue;
		ssize_t k = send(H.sock[h], &q, offsetof(struct hreq, fd) + q.n * sizeof(int32_t),
				 MSG_NOSIGNAL);
		if (k > 0)
			do
				k = recv(H.sock[h], &r, sizeof(r), 0);
			while (k < 0 && errno == EINTR);
		if (k != (ssize_t)sizeof(r) || r.n != q.n)
			continue; /* a wedged or dying holder: not reused */
		for (uint32_t m = 0; m < q.n; m++)
			ok[at[m]] = r.m[m].fd == 0;
	}
}

void ms_holders_close(struct ms_store *s, const int32_t *kfd, int n)
{
	static struct hreq q;
	uint8_t done[H_BATCH * 4];
	if (n > (int)sizeof(done))
		n = (int)sizeof(done);
	memset(done, 0, (size_t)n);
	for (int i = 0; i < n; i++) {
		if (done[i] || kfd[i] < 0)
			continue;
		uint32_t h = ms_kfd_holder(kfd[i]);
		if (h == 0) {
			sys_close(kfd[i]);
			nfds_add(s, 0, -1);
			continue;
		}
		/* Every fd of this holder in the batch, in one message. */
		q.op = H_CLOSE;
		q.n = 0;
		for (int j = i; j < n && q.n < H_BATCH; j++) {
			if (done[j] || kfd[j] < 0 || ms_kfd_holder(kfd[j]) != h)
				continue;
			q.fd[q.n++] = ms_kfd_fd(kfd[j]);
			done[j] = 1;
		}
		if (H.dead[h] || !H.sock[h])
			continue; /* its fds went with it */
		send(H.sock[h], &q, offsetof(struct hreq, fd) + q.n * sizeof(int32_t), MSG_NOSIGNAL);
		nfds_add(s, h, -(int)q.n);
	}
}

int ms_kfd_open(struct ms_store *s, int32_t kfd, int flags)
{
	char path[64];
	if (kfd < 0)
		return -EIO;
	uint32_t h = ms_kfd_holder(kfd);
	if (h == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", kfd);
	} else {
		int32_t pid = __atomic_load_n(&s->hdr->holders[h].pid, __ATOMIC_ACQUIRE);
		if (!pid || H.dead[h])
			return -EIO;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, ms_kfd_fd(kfd));
	}
	return sys_openat(AT_FDCWD, path, flags | O_CLOEXEC, 0);
}

int ms_kfd_fstat(struct ms_store *s, int32_t kfd, struct stat *st)
{
	if (kfd < 0)
		return -EIO;
	if (ms_kfd_holder(kfd) == 0)
		return sys_fstat(kfd, st);
	uint32_t h = ms_kfd_holder(kfd);
	int32_t pid = __atomic_load_n(&s->hdr->holders[h].pid, __ATOMIC_ACQUIRE);
	if (!pid || H.dead[h])
		return -EIO;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, ms_kfd_fd(kfd));
	return sys_fstatat(AT_FDCWD, path, st, 0);
}

int ms_holder_pid(struct ms_store *s, pid_t pid)
{
	uint32_t n = __atomic_load_n(&s->hdr->nholders, __ATOMIC_RELAXED);
	for (uint32_t h = 1; h < n; h++)
		if (pid && s->hdr->holders[h].pid == pid)
			return 1;
	return 0;
}

/* The ring [head, *tail) of `slots` entries without holder h's memfds. */
static void ring_drop_holder(struct ms_memfd_ref *ring, uint32_t slots, uint32_t head,
			     uint32_t *tail, uint32_t h)
{
	uint32_t w = head;
	for (uint32_t p = head; p != *tail; p++)
		if (ms_kfd_holder(ring[p % slots].kfd) != h)
			ring[w++ % slots] = ring[p % slots];
	*tail = w;
}

/* ns_lock held: holder h is dead; no handle may name it any more. */
static uint32_t holder_forget(struct ms_store *s, uint32_t h)
{
	struct ms_hdr *hd = s->hdr;
	uint32_t lost = 0;
	for (uint32_t i = 1; i < hd->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (in->ino_no && S_ISREG(in->mode) && in->kfd >= 0 && ms_kfd_holder(in->kfd) == h) {
			in->kfd = MS_KFD_LOST;
			lost++;
		}
	}
	ms_keeper_lock(s);
	/* The pool and the reuse ring (which the keeper empties between
	 * rounds, never while this runs) keep their order without the dead
	 * holder's memfds. */
	ring_drop_holder(hd->pool, MS_POOL_SLOTS, hd->pool_head, &hd->pool_tail, h);
	ring_drop_holder(hd->reuse, MS_REUSE_SLOTS, hd->reuse_head, &hd->reuse_tail, h);
	int32_t *q = (int32_t *)(s->base + hd->off_closeq);
	for (uint32_t p = hd->closeq_head; p != hd->closeq_tail; p++)
		if (q[p % (hd->nslots + 1)] >= 0 && ms_kfd_holder(q[p % (hd->nslots + 1)]) == h)
			q[p % (hd->nslots + 1)] = -1;
	ms_keeper_unlock(s);
	return lost;
}

void ms_holders_check(struct ms_store *s)
{
	uint32_t n = __atomic_load_n(&s->hdr->nholders, __ATOMIC_RELAXED);
	/* Holders are the keeper's only children: one look says whether any
	 * has exited (WNOWAIT: a zombie keeps its pid from being recycled
	 * until every handle naming it is gone). */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (n > 1 && waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) {
		for (uint32_t h = 1; h < n; h++)
			if (s->hdr->holders[h].pid == si.si_pid)
				H.dead[h] = 1;
	}
	for (uint32_t h = 1; h < n; h++) {
		int32_t pid = s->hdr->holders[h].pid;
		if (!pid || !H.dead[h])
			continue;
		if (ms_ns_trylock(s) != 0)
			return; /* the next round */
		uint32_t lost = holder_forget(s, h);
		__atomic_store_n(&s->hdr->holders[h].pid, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&s->hdr->holders[h].nfds, 0, __ATOMIC_RELAXED);
		ms_ns_unlock(s);
		waitpid(pid, NULL, 0);
		sys_close(H.sock[h]);
		H.sock[h] = 0;
		H.dead[h] = 0;
		ms_log(s, MS_LOG_WARN, "holder %u (pid %d) was killed: the bytes of %u files are lost",
		       h, (int)pid, lost);
	}
}
