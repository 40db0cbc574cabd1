/* shim/sock.c — Unix-domain socket addresses that name store paths.
 *
 * A socket file in the store is a store node (type S_IFSOCK) with a real
 * counterpart, a socket file the kernel made when the program's socket was
 * bound to it (core/special.c). So:
 *   - bind(2) of a store path makes the node and binds the socket to the
 *     counterpart in one step (core's ms_mknod with the socket): the
 *     lookup's errors, EADDRINUSE for a name that exists, EINVAL for a
 *     socket already bound, as the kernel gives them;
 *   - connect(2), and sendto/sendmsg/sendmmsg with an address on a
 *     datagram socket, look the path up in the store (following symlinks:
 *     ENOENT, ENOTDIR, ELOOP; ECONNREFUSED for a node that is not a
 *     socket) and hand the kernel a copy of the address naming the
 *     counterpart; the caller's address is never written;
 *   - addresses the kernel hands back (getsockname, getpeername, accept,
 *     recvfrom, recvmsg, recvmmsg) that name a counterpart are turned back
 *     into the store's name of the socket: for a socket bound by this
 *     process (or its parent before a fork), the name exactly as it was
 *     given to bind — a relative one stays relative, as the kernel keeps
 *     it, for the socket itself, its accepted connections and its peers in
 *     this process; for a socket another process bound, the absolute
 *     store path of a name of its node (the kernel would give that
 *     process's bind string), or the counterpart's path once the node has
 *     no name left.
 * A relative sun_path routes like any relative path (the virtual cwd), and
 * "/proc/self/fd/N/name" with N a store directory fd routes relative to
 * that directory (route.c), the way programs bind at a dirfd. Abstract
 * names, autobind and other families are never touched, and a call whose
 * address is not the store's costs one look at the address.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shim.h"

#define STORE ms_shim.store
#define SUN_OFF offsetof(struct sockaddr_un, sun_path)
#define SUN_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* ---- addresses ------------------------------------------------------------------ */

/* The filesystem name an AF_UNIX address holds, NUL-terminated as the
 * kernel reads it (up to the first NUL or the address's end). 0 for any
 * other address: another family, abstract, autobind, a bad length (which
 * the kernel refuses itself). */
static int sun_path_of(const struct sockaddr *sa, socklen_t len, char path[SUN_MAX + 1])
{
	if (!sa || len <= SUN_OFF || len > sizeof(struct sockaddr_un) ||
	    sa->sa_family != AF_UNIX)
		return 0;
	const char *p = ((const struct sockaddr_un *)sa)->sun_path;
	size_t k = strnlen(p, len - SUN_OFF);
	if (k == 0)
		return 0;
	memcpy(path, p, k);
	path[k] = 0;
	return 1;
}

/* An address naming path; 0 when it does not fit. */
static int make_addr(const char *path, struct sockaddr_un *un, socklen_t *len)
{
	size_t k = strlen(path);
	if (k >= SUN_MAX)
		return 0;
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, k + 1);
	*len = (socklen_t)(SUN_OFF + k + 1);
	return 1;
}

/* 1 when fd is an AF_UNIX socket (of type `type`, unless 0). */
static int is_unix(int fd, int type)
{
	int v = 0;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) || v != AF_UNIX)
		return 0;
	if (!type)
		return 1;
	l = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && v == type;
}

/* The kernel address to use for a store address: 0 when sa is not the
 * store's (use it as it is), 1 with *un, or -errno. A path that leaves the
 * store through a store symlink continues at its real path. */
static int target_of(const struct ms_route *r, struct sockaddr_un *un, socklen_t *ulen)
{
	struct stat st;
	char cp[MS_SPECIAL_PATH_MAX];
	const char *real;
	int rc = ms_stat(STORE, r->dir, r->path, r->empty ? MS_EMPTY : 0, &st);
	if (rc == -MS_EESCAPE)
		real = ms_escape_path();
	else if (rc)
		return rc;
	else if (!S_ISSOCK(st.st_mode))
		return -ECONNREFUSED; /* the kernel's answer for a non-socket */
	else if (ms_special_name(STORE, st.st_ino, cp, sizeof(cp)) < 0)
		return -ENAMETOOLONG;
	else
		real = cp;
	return make_addr(real, un, ulen) ? 1 : -ENAMETOOLONG;
}

/* 1 when sa names a store path, with its route in *r. Looks at the
 * address only (no system call). */
static int routed(const struct sockaddr *sa, socklen_t len, struct ms_route *r)
{
	char path[SUN_MAX + 1];
	if (!sun_path_of(sa, len, path) || !ms_route_at(AT_FDCWD, path, r))
		return 0;
	if (r->path != r->buf) {
		/* it points into path (or is ""): a copy that outlives it */
		size_t k = strlen(r->path);
		memmove(r->buf, r->path, k + 1);
		r->path = r->buf;
	}
	return 1;
}

/* For a send with an address: only a datagram socket looks the address
 * up (a connected stream or seqpacket socket refuses or ignores it without
 * looking), and MSG_OOB is refused before it. */
static int send_target(int fd, const struct sockaddr *sa, socklen_t len, int flags,
		       struct sockaddr_un *un, socklen_t *ulen)
{
	struct ms_route r;
	if (!routed(sa, len, &r) || (flags & MSG_OOB) || !is_unix(fd, SOCK_DGRAM))
		return 0;
	return target_of(&r, un, ulen);
}

/* ---- the names of socket nodes ------------------------------------------------- */

/* A small table under sock_lock (a leaf), by the node's st_ino (never
 * reused in a store): the name a socket was bound with by this process,
 * as given, or the store path found for a counterpart another process
 * bound. Kept over a fork; the oldest entry is replaced when full. */
#define NAMES 64
static pthread_mutex_t sock_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t key; /* 0 = free */
	socklen_t len;
	struct sockaddr_un addr;
} names[NAMES];           /* [sock_lock] */
static unsigned names_next; /* [sock_lock] */

static void names_put(uint64_t key, const struct sockaddr_un *a, socklen_t len)
{
	if (ms_in_vfork_child())
		return; /* the parent's memory */
	pthread_mutex_lock(&sock_lock);
	int slot = -1;
	for (int i = 0; i < NAMES && slot < 0; i++)
		if (names[i].key == key)
			slot = i;
	if (slot < 0)
		slot = (int)(names_next++ % NAMES);
	names[slot].key = key;
	names[slot].len = len;
	memcpy(&names[slot].addr, a, len);
	pthread_mutex_unlock(&sock_lock);
}

static int names_get(uint64_t key, struct sockaddr_un *a, socklen_t *len)
{
	int found = 0;
	pthread_mutex_lock(&sock_lock);
	for (int i = 0; i < NAMES && !found; i++)
		if (names[i].key == key) {
			*len = names[i].len;
			memcpy(a, &names[i].addr, names[i].len);
			found = 1;
		}
	pthread_mutex_unlock(&sock_lock);
	return found;
}

void ms_sock_fork(int phase)
{
	if (phase == MS_FORK_PREPARE)
		pthread_mutex_lock(&sock_lock);
	else if (phase == MS_FORK_PARENT)
		pthread_mutex_unlock(&sock_lock);
	else
		pthread_mutex_init(&sock_lock, NULL);
}

/* The store's private directory with a '/', computed once (racing threads
 * write the same bytes). */
static char spdir[MS_SPECIAL_PATH_MAX + 1];
static size_t spdir_len; /* [atomic] 0 until spdir is written */

static size_t special_dir(void)
{
	size_t n = __atomic_load_n(&spdir_len, __ATOMIC_ACQUIRE);
	if (n)
		return n;
	int k = ms_special_dir(STORE, spdir, sizeof(spdir) - 1);
	if (k < 0)
		return 0;
	spdir[k] = '/';
	spdir[k + 1] = 0;
	__atomic_store_n(&spdir_len, (size_t)k + 1, __ATOMIC_RELEASE);
	return (size_t)k + 1;
}

/* The st_ino of the node whose counterpart address a names; 0 for any
 * other address. */
static uint64_t counterpart_of(const struct sockaddr_un *a, socklen_t len)
{
	if (!STORE || len <= SUN_OFF + 1 || a->sun_family != AF_UNIX || a->sun_path[0] != '/')
		return 0;
	size_t d = special_dir();
	size_t k = strnlen(a->sun_path, len - SUN_OFF);
	if (!d || k <= d || strncmp(a->sun_path, spdir, d) != 0)
		return 0;
	uint64_t ino = 0;
	for (size_t i = d; i < k; i++) {
		if (a->sun_path[i] < '0' || a->sun_path[i] > '9')
			return 0;
		ino = ino * 10 + (uint64_t)(a->sun_path[i] - '0');
	}
	return ino;
}

/* Rewrites a counterpart address in *a (room for a whole sockaddr_un) to
 * the store's name of its socket. Leaves any other address alone. */
static void name_back(struct sockaddr_un *a, socklen_t *len)
{
	uint64_t ino = counterpart_of(a, *len);
	if (!ino || names_get(ino, a, len))
		return;
	char path[PATH_MAX];
	struct sockaddr_un un;
	socklen_t ul;
	if (ms_ino_path(STORE, ino, path, sizeof(path)) == 0 && make_addr(path, &un, &ul)) {
		names_put(ino, &un, ul);
		*a = un;
		*len = ul;
	}
}

/* An address the kernel returned into the caller's (addr, *len): the real
 * call was made into `own` (a whole sockaddr_un or more) when the
 * caller's buffer was smaller; the result goes to the caller as the
 * kernel would: truncated to the room it gave, *len the full length. */
struct outaddr {
	struct sockaddr *user;
	socklen_t *ulen;
	socklen_t room;
	union {
		struct sockaddr_storage ss;
		struct sockaddr_un un;
	} own;
	socklen_t ownlen;
};

/* Where the real call should write: the caller's buffer when it holds a
 * whole sockaddr_un, else our own. NULL buffers pass through. */
static void out_begin(struct outaddr *o, struct sockaddr *addr, socklen_t *len,
		      struct sockaddr **use, socklen_t **uselen)
{
	o->user = addr;
	o->ulen = len;
	*use = addr;
	*uselen = len;
	if (!addr || !len || (int)*len < 0)
		return;
	o->room = *len;
	if (o->room >= sizeof(struct sockaddr_un))
		return;
	o->ownlen = sizeof(o->own);
	*use = (struct sockaddr *)&o->own;
	*uselen = &o->ownlen;
}

static void out_end(struct outaddr *o)
{
	if (!o->user || !o->ulen || (int)o->room < 0)
		return;
	if (o->room >= sizeof(struct sockaddr_un)) {
		socklen_t n = *o->ulen;
		if (n <= sizeof(struct sockaddr_un) && n > SUN_OFF &&
		    o->user->sa_family == AF_UNIX) {
			struct sockaddr_un a;
			memcpy(&a, o->user, n);
			socklen_t before = n;
			name_back(&a, &n);
			if (n != before || memcmp(&a, o->user, n) != 0) {
				memcpy(o->user, &a, n);
				*o->ulen = n;
			}
		}
		return;
	}
	socklen_t n = o->ownlen;
	if (n > SUN_OFF && n <= sizeof(struct sockaddr_un) && o->own.un.sun_family == AF_UNIX)
		name_back(&o->own.un, &n);
	memcpy(o->user, &o->own, n < o->room ? n : o->room);
	*o->ulen = n;
}

/* ---- the calls ------------------------------------------------------------------ */

MS_EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	struct ms_route r;
	if (!routed(sa, len, &r) || !is_unix(fd, 0))
		return REAL(bind)(fd, sa, len);
	/* "/proc/self/fd/N" of a store fd names an existing node */
	int rc = r.empty ? -EEXIST : ms_mknod(STORE, r.dir, r.path, S_IFSOCK | 0777, 0, fd);
	if (rc == -MS_EESCAPE) {
		struct sockaddr_un un;
		socklen_t ul;
		if (!make_addr(ms_escape_path(), &un, &ul))
			return ms_ret(-ENAMETOOLONG);
		return REAL(bind)(fd, (const struct sockaddr *)&un, ul);
	}
	if (rc == -EEXIST)
		rc = -EADDRINUSE;
	if (rc == 0) {
		/* the name as given, as the kernel keeps it */
		struct sockaddr_un un;
		socklen_t ul;
		struct stat st;
		char path[SUN_MAX + 1];
		sun_path_of(sa, len, path);
		if (make_addr(path, &un, &ul) &&
		    ms_stat(STORE, r.dir, r.path, MS_NOFOLLOW, &st) == 0)
			names_put((uint64_t)st.st_ino, &un, ul);
	}
	return ms_ret(rc);
}

MS_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	struct ms_route r;
	struct sockaddr_un un;
	socklen_t ul;
	if (!routed(sa, len, &r) || !is_unix(fd, 0))
		return REAL(connect)(fd, sa, len);
	int k = target_of(&r, &un, &ul);
	if (k < 0)
		return ms_ret(k);
	return REAL(connect)(fd, (const struct sockaddr *)&un, ul);
}

MS_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
			 socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	struct sockaddr_un un;
	socklen_t ul;
	int k = send_target(fd, sa, len, flags, &un, &ul);
	if (k == 0)
		return REAL(sendto)(fd, buf, n, flags, sa, len);
	if (k < 0)
		return ms_ret_ssize(k);
	return REAL(sendto)(fd, buf, n, flags, (const struct sockaddr *)&un, ul);
}

static ssize_t send_msg(int fd, const struct msghdr *m, int flags)
{
	struct sockaddr_un un;
	socklen_t ul;
	int k = m ? send_target(fd, m->msg_name, m->msg_namelen, flags, &un, &ul) : 0;
	if (k == 0)
		return REAL(sendmsg)(fd, m, flags);
	if (k < 0)
		return ms_ret_ssize(k);
	struct msghdr c = *m;
	c.msg_name = &un;
	c.msg_namelen = ul;
	return REAL(sendmsg)(fd, &c, flags);
}

/* fds sent over a socket (SCM_RIGHTS) share their descriptions with the
 * receiver: any control data marks the store fds (fd.c's mapped writes
 * then ask the kernel for their flags). */
static void may_pass_fds(const struct msghdr *m)
{
	size_t cl = 0;
	if (ms_shim.ready && m && ms_copy_in(&cl, &m->msg_controllen, sizeof(cl)) == 0 && cl)
		ms_fd_mark_shared();
}

MS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	may_pass_fds(m);
	return send_msg(fd, m, flags);
}

/* One message at a time when any address is the store's, as the kernel
 * does it: the count sent, or -1 when the first one fails. */
MS_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags)
{
	struct ms_route r;
	int ours = 0;
	for (unsigned i = 0; v && i < vlen && i < 1024; i++)
		may_pass_fds(&v[i].msg_hdr);
	for (unsigned i = 0; v && i < vlen && i < 1024 && !ours; i++)
		ours = routed(v[i].msg_hdr.msg_name, v[i].msg_hdr.msg_namelen, &r);
	if (!ours)
		return REAL(sendmmsg)(fd, v, vlen, flags);
	if (vlen > 1024)
		vlen = 1024; /* UIO_MAXIOV, as the kernel caps it */
	unsigned i;
	for (i = 0; i < vlen; i++) {
		ssize_t k = send_msg(fd, &v[i].msg_hdr, flags);
		if (k < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned)k;
	}
	return (int)i;
}

MS_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
			   socklen_t *len)
{
	struct sockaddr *sa = addr.__sockaddr__;
	if (!sa || !STORE)
		return REAL(recvfrom)(fd, buf, n, flags, sa, len);
	struct outaddr o;
	struct sockaddr *use;
	socklen_t *uselen;
	out_begin(&o, sa, len, &use, &uselen);
	ssize_t k = REAL(recvfrom)(fd, buf, n, flags, use, uselen);
	if (k >= 0) {
		int e = errno;
		out_end(&o);
		errno = e;
	}
	return k;
}

/* msg_name of a received message (the buffer held `room` bytes), back to
 * the store's name. A name the kernel had to cut is left as it is. */
static void msg_back(struct msghdr *m, socklen_t room)
{
	socklen_t n = m->msg_namelen;
	if (!m->msg_name || n <= SUN_OFF || n > sizeof(struct sockaddr_un) || n > room)
		return;
	struct sockaddr_un a;
	memcpy(&a, m->msg_name, n);
	if (a.sun_family != AF_UNIX || !counterpart_of(&a, n))
		return;
	name_back(&a, &n);
	/* truncated to the room given, as the kernel does */
	memcpy(m->msg_name, &a, n < room ? n : room);
	m->msg_namelen = n;
}

/* A caller's msg_name smaller than a sockaddr_un gets the kernel's answer
 * in ours first, so a counterpart's (longer) path is never cut. */
MS_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	if (!m || !m->msg_name || !STORE)
		return REAL(recvmsg)(fd, m, flags);
	struct msghdr c = *m;
	union {
		struct sockaddr_storage ss;
		struct sockaddr_un un;
	} own;
	int small = m->msg_namelen < sizeof(struct sockaddr_un);
	if (small) {
		c.msg_name = &own;
		c.msg_namelen = sizeof(own);
	}
	ssize_t k = REAL(recvmsg)(fd, &c, flags);
	if (k < 0)
		return k;
	int e = errno;
	msg_back(&c, small ? (socklen_t)sizeof(own) : m->msg_namelen);
	if (small) {
		memcpy(m->msg_name, &own, c.msg_namelen < m->msg_namelen ? c.msg_namelen : m->msg_namelen);
		c.msg_name = m->msg_name;
	}
	*m = c;
	errno = e;
	return k;
}

MS_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags,
		       struct timespec *timeout)
{
	socklen_t room[1024]; /* UIO_MAXIOV: the kernel fills no more */
	unsigned n = v && vlen < 1024 ? vlen : (v ? 1024 : 0);
	for (unsigned i = 0; i < n; i++)
		room[i] = v[i].msg_hdr.msg_name ? v[i].msg_hdr.msg_namelen : 0;
	int k = REAL(recvmmsg)(fd, v, vlen, flags, timeout);
	if (k > 0 && STORE) {
		int e = errno;
		for (int i = 0; i < k && (unsigned)i < n; i++)
			msg_back(&v[i].msg_hdr, room[i]);
		errno = e;
	}
	return k;
}

#define ADDR_OUT(realcall)                                                         \
	do {                                                                       \
		struct sockaddr *sa = addr.__sockaddr__;                           \
		struct outaddr o;                                                  \
		struct sockaddr *use;                                              \
		socklen_t *uselen;                                                 \
		if (!sa || !STORE)                                                 \
			use = sa, uselen = len;                                    \
		else                                                               \
			out_begin(&o, sa, len, &use, &uselen);                     \
		int k_ = realcall;                                                 \
		if (k_ >= 0 && sa && STORE) {                                      \
			int e_ = errno;                                            \
			out_end(&o);                                    \
			errno = e_;                                                \
		}                                                                  \
		return k_;                                                         \
	} while (0)

MS_EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	ADDR_OUT(REAL(accept)(fd, use, uselen));
}

MS_EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
	ADDR_OUT(REAL(accept4)(fd, use, uselen, flags));
}

MS_EXPORT int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	ADDR_OUT(REAL(getsockname)(fd, use, uselen));
}

MS_EXPORT int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	ADDR_OUT(REAL(getpeername)(fd, use, uselen));
}
