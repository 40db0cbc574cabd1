/* shim/route.c — deciding, without side effects, whether a (dirfd, path)
 * pair names something in the store.
 *
 * Absolute paths are matched against the prefixes on a component boundary
 * (/memx is not /mem), after lexical clean-up when they hold '.', '..' or
 * '//'. Relative paths are ours when the virtual cwd or the dirfd is a store
 * directory, or when they lexically enter a prefix from a real directory
 * ("mem/x" from "/", "../mem/x" from "/tmp"). Symlinks inside the store are
 * core's business; a real symlink that points into the store is not
 * followed into it (a known limit, as in other preload shims).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

int ms_path_is_ours(const char *p, size_t len)
{
	for (int i = 0; i < ms_shim.cfg.nprefix; i++) {
		const char *pre = ms_shim.cfg.prefix[i];
		size_t n = strlen(pre);
		if (len >= n && memcmp(p, pre, n) == 0 && (len == n || p[n] == '/'))
			return 1;
	}
	return 0;
}

int ms_normalise(const char *in, char *out, size_t n, int keep_slash)
{
	size_t o = 0;
	const char *p = in;
	int trailing = 0;
	if (n < 2)
		return -ENAMETOOLONG;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - p);
		trailing = *e == '/';
		if (len == 1 && p[0] == '.') {
			trailing = 1; /* "a/." names a directory, like "a/" */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the '/' before the dropped component */
			trailing = 1;
		} else {
			if (o + 1 + len + 2 > n)
				return -ENAMETOOLONG;
			out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	else if (keep_slash && trailing)
		out[o++] = '/';
	out[o] = 0;
	return (int)o;
}

/* path begins with a prefix followed by '/' or its end. */
static int starts_with_prefix(const char *path, size_t len)
{
	return ms_path_is_ours(path, len) ||
	       /* "/mem/x/.." is inside while it is written, whatever it means */
	       ({
		       int hit = 0;
		       for (int i = 0; i < ms_shim.cfg.nprefix && !hit; i++) {
			       size_t n = strlen(ms_shim.cfg.prefix[i]);
			       hit = strncmp(path, ms_shim.cfg.prefix[i], n) == 0 &&
				     (path[n] == '/' || path[n] == 0);
		       }
		       hit;
	       });
}

/* A component ".." anywhere in path. */
static int has_dotdot(const char *p)
{
	for (const char *s = strstr(p, ".."); s; s = strstr(s + 1, ".."))
		if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/'))
			return 1;
	return 0;
}

/* Anything lexical clean-up would change: "//", "/./", "/../", a final
 * "/." or "/..". A trailing single '/' is left to core. */
static int is_dirty(const char *p)
{
	for (const char *s = p; *s; s++) {
		if (s[0] != '/')
			continue;
		if (s[1] == '/')
			return 1;
		if (s[1] == '.' && (s[2] == '/' || s[2] == 0))
			return 1;
		if (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == 0))
			return 1;
	}
	return 0;
}

/* Joins base and a relative path, cleans it up, and routes the result. */
static int route_joined(const char *base, size_t blen, const char *path, struct ms_route *r)
{
	char joined[PATH_MAX * 2];
	size_t plen = strlen(path);
	if (blen + 1 + plen + 1 > sizeof(joined))
		return 0; /* the kernel will say ENAMETOOLONG */
	memcpy(joined, base, blen);
	joined[blen] = '/';
	memcpy(joined + blen + 1, path, plen + 1);
	int n = ms_normalise(joined, r->buf, sizeof(r->buf), 1);
	if (n < 0)
		return 0;
	size_t len = (size_t)n;
	if (len > 1 && r->buf[len - 1] == '/')
		len--;
	if (!ms_path_is_ours(r->buf, len))
		return 0;
	r->dir = 0;
	r->path = r->buf;
	return 1;
}

/* 1 when real directory fd is "/" or another directory above a prefix. */
static int dirfd_above(int dirfd)
{
	struct stat st;
	if (REAL(fstat)(dirfd, &st))
		return 0;
	for (int i = 0; i < ms_shim.nabove; i++)
		if (ms_shim.above[i].dev == st.st_dev && ms_shim.above[i].ino == st.st_ino)
			return 1;
	return 0;
}

/* The memfd of a store file, as the kernel names it in /proc/<pid>/fd
 * ("/memfd:memshim (deleted)"; a directory's placeholder is
 * "memshim-dir"). */
static const char file_memfd[] = "/memfd:memshim ";

/* "/proc/<pid>/fd/N" of another process, N a store file there: the kernel
 * would open, stat and read the link of the memfd itself (mode 0777, the
 * keeper's owner, "/memfd:memshim (deleted)"); it is that file, as on
 * tmpfs, found by the memfd's inode once attached. p: past "/proc/". */
static int route_other_fd(const char *path, const char *p, struct ms_route *r)
{
	while (*p >= '0' && *p <= '9')
		p++;
	if (strncmp(p, "/fd/", 4) != 0 || p[4] < '0' || p[4] > '9')
		return 0;
	for (p += 4; *p >= '0' && *p <= '9'; p++)
		;
	if (*p)
		return 0;
	char link[sizeof(file_memfd)];
	struct stat st;
	int saved = errno;
	int ours = REAL(readlink)(path, link, sizeof(link)) == (ssize_t)sizeof(link) &&
		   memcmp(link, file_memfd, sizeof(file_memfd) - 1) == 0 &&
		   REAL(stat)(path, &st) == 0 && S_ISREG(st.st_mode);
	errno = saved;
	if (!ours)
		return 0;
	r->path = "";
	r->empty = 1;
	r->fd_how = 0;
	r->kino = (uint64_t)st.st_ino;
	return 1;
}

/* "/proc/self/fd/N" (or /proc/<our pid>/fd/N) with N a store fd names
 * that file or directory itself: tar chmods through it. What follows a
 * further '/' is relative to it. */
static int route_proc_fd(const char *path, struct ms_route *r)
{
	const char *p = path + 6;
	char self[24];
	int n = snprintf(self, sizeof(self), "%d/", (int)ms_shim.pid);
	if (strncmp(p, "self/", 5) == 0)
		p += 5;
	else if (strncmp(p, self, (size_t)n) == 0)
		p += n;
	else
		return *p >= '1' && *p <= '9' ? route_other_fd(path, p, r) : 0;
	if (strcmp(p, "exe") == 0) {
		/* a program run from the store: the kernel names its memfd
		 * ("/memfd:memshim (deleted)"); its own name is the store's
		 * (Criterion, for one, reads its tests from that file) */
		char link[sizeof(file_memfd)];
		ssize_t n = REAL(readlink)("/proc/self/exe", link, sizeof(link));
		if (n != (ssize_t)sizeof(link) || memcmp(link, file_memfd, sizeof(file_memfd) - 1))
			return 0;
		r->path = "";
		r->empty = 1;
		r->fd_how = 0;
		r->exe = 1;
		return 1;
	}
	if (strncmp(p, "fd/", 3) != 0)
		return 0;
	p += 3;
	int fd = 0;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9' && fd < (1 << 24))
		fd = fd * 10 + (*p++ - '0');
	if (*p != 0 && *p != '/')
		return 0;
	struct ms_fd *e = ms_fd_get(fd);
	if (!e)
		return 0;
	r->dir = e->ino;
	if (*p == '/') {
		/* "/proc/self/fd/N/name": name relative to that directory (a
		 * way to reach a dirfd by path, e.g. to bind a socket there);
		 * under a file, core answers ENOTDIR as the kernel. */
		while (*p == '/')
			p++;
		r->path = *p ? p : ".";
		return 1;
	}
	r->path = "";
	r->empty = 1;
	r->fd_how = e->how;
	return 1;
}

/* The kernel's cwd, cached for relative paths that may enter the store:
 * read on the first relative path that needs it (real_cwd_read; not at
 * start: a getcwd and two pages written that most processes never use),
 * written again by any thread's chdir (ms_real_cwd_changed), read by any
 * thread's route. [cwd_lock] for the string and its length; `above` is
 * [atomic], a hint read without the lock (a stale 0 routes a relative
 * path as the kernel's, exactly what a call racing the chdir may see). */
static pthread_mutex_t cwd_lock = PTHREAD_MUTEX_INITIALIZER;
static char real_cwd[PATH_MAX]; /* [cwd_lock] */
static size_t real_cwd_len;      /* [cwd_lock] */
static int real_cwd_known;       /* [atomic] the three are set */
static int real_cwd_above;       /* [atomic] 1: "/" or an ancestor of a prefix
				  * (or a hidden real directory of a prefix's
				  * name): a relative path may enter the store
				  * without any ".." */

static int route_at(int dirfd, const char *path, struct ms_route *r);

/* The cached cwd, read from the kernel the first time it is needed. */
static void real_cwd_read(void)
{
	if (!__atomic_load_n(&real_cwd_known, __ATOMIC_ACQUIRE))
		ms_real_cwd_changed();
}

/* The store file this process runs (route_proc_fd saw a memfd of ours as
 * /proc/self/exe): found by its memfd's inode once, then kept. */
static int exe_ino(struct ms_route *r)
{
	static ms_ino cached;   /* [atomic] */
	static uint64_t kino;   /* [atomic] the memfd it was found for */
	struct stat st;
	int saved = errno;
	int ok = REAL(stat)("/proc/self/exe", &st) == 0;
	errno = saved;
	if (!ok)
		return 0;
	ms_ino ino = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
	if (!ino || __atomic_load_n(&kino, __ATOMIC_RELAXED) != (uint64_t)st.st_ino) {
		ino = ms_ino_by_kino(ms_shim.store, (uint64_t)st.st_ino);
		__atomic_store_n(&kino, (uint64_t)st.st_ino, __ATOMIC_RELAXED);
		__atomic_store_n(&cached, ino, __ATOMIC_RELEASE);
	}
	r->dir = ino;
	return ino != 0;
}

/* Another process's fd of a store file (route_other_fd): the file, if
 * its memfd is still one of the store's. */
static int other_fd_ino(struct ms_route *r)
{
	r->dir = ms_ino_by_kino(ms_shim.store, r->kino);
	return r->dir != 0;
}

int ms_route_at(int dirfd, const char *path, struct ms_route *r)
{
	r->fault = 0;
	if (!ms_shim.on)
		return 0;
	if (!ms_ptr_possible(path)) {
		r->fault = 1;
		return 0;
	}
	/* Every read of the path happens in here: a bad pointer makes the
	 * call the kernel's, which answers EFAULT. */
	struct ms_probe p;
	ms_probe_push(&p);
	if (MS_PROBE_SET(&p)) {
		r->fault = 1;
		return 0;
	}
	/* The whole string is read once here, first: core never meets the
	 * end of a mapping in it, and no later read in here (some under
	 * cwd_lock) can fault. */
	volatile size_t len = strlen(path);
	(void)len;
	int ours = route_at(dirfd, path, r);
	ms_probe_end(&p);
	/* the first path into the store attaches this process to it */
	if (!ours || !ms_attach())
		return 0;
	return r->exe ? exe_ino(r) : r->kino ? other_fd_ino(r) : 1;
}

static int route_at(int dirfd, const char *path, struct ms_route *r)
{
	int saved = errno;
	int ours = 0;
	r->empty = 0;
	r->exe = 0;
	r->kino = 0;
	if (path[0] == '/') {
		size_t len = strlen(path);
		if (len > 6 && memcmp(path, "/proc/", 6) == 0) {
			ours = route_proc_fd(path, r);
			goto out;
		}
		/* A path that starts inside a prefix is core's to resolve, ".."
		 * and symlinks included: core hands back what leaves the store
		 * ("/mem/.." is the real "/"). */
		size_t l = len > 1 && path[len - 1] == '/' ? len - 1 : len;
		if (starts_with_prefix(path, l)) {
			r->dir = 0;
			r->path = path;
			ours = 1;
			goto out;
		}
		if (!is_dirty(path))
			goto out;
		/* One that reaches a prefix only lexically ("//mem",
		 * "/x/../mem") is taken as cleaned up. */
		int n = ms_normalise(path, r->buf, sizeof(r->buf), 1);
		if (n < 0)
			goto out;
		l = (size_t)n > 1 && r->buf[n - 1] == '/' ? (size_t)n - 1 : (size_t)n;
		if (!ms_path_is_ours(r->buf, l))
			goto out;
		r->dir = 0;
		r->path = r->buf;
		ours = 1;
		goto out;
	}
	if (dirfd == AT_FDCWD) {
		if (!path[0])
			goto out;
		ms_ino cwd = __atomic_load_n(&ms_shim.cwd, __ATOMIC_ACQUIRE);
		ms_vfork_cwd(&cwd); /* a vfork child's own */
		if (cwd) {
			r->dir = cwd;
			r->path = path;
			ours = 1;
			goto out;
		}
		real_cwd_read();
		if (!__atomic_load_n(&real_cwd_above, __ATOMIC_RELAXED) && !has_dotdot(path))
			goto out;
		pthread_mutex_lock(&cwd_lock);
		ours = route_joined(real_cwd, real_cwd_len, path, r);
		pthread_mutex_unlock(&cwd_lock);
		goto out;
	}
	struct ms_fd *e = ms_fd_get(dirfd);
	if (e) {
		/* A store file as dirfd: core answers ENOTDIR, or names the
		 * file itself for an empty path with AT_EMPTY_PATH. */
		r->dir = e->ino;
		r->path = path;
		ours = 1;
		goto out;
	}
	if (!path[0] || (!has_dotdot(path) && !dirfd_above(dirfd)))
		goto out;
	char link[64], base[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	ssize_t bl = REAL(readlink)(link, base, sizeof(base) - 1);
	if (bl <= 0 || base[0] != '/')
		goto out;
	ours = route_joined(base, (size_t)bl, path, r);
out:
	errno = saved;
	return ours;
}

void ms_real_cwd_changed(void)
{
	int saved = errno;
	char c[PATH_MAX];
	if (!REAL(getcwd)(c, sizeof(c)))
		strcpy(c, "/nonexistent");
	size_t n = strlen(c);
	/* A real directory of the same name as a prefix is hidden by the
	 * store: relative paths from inside it are checked too. */
	int above = ms_path_is_ours(c, n);
	/* Above a prefix when the cwd plus "/" begins a prefix. */
	for (int i = 0; i < ms_shim.cfg.nprefix; i++) {
		const char *pre = ms_shim.cfg.prefix[i];
		if (n == 1 || (strncmp(pre, c, n) == 0 && pre[n] == '/'))
			above = 1;
	}
	pthread_mutex_lock(&cwd_lock);
	memcpy(real_cwd, c, n + 1);
	real_cwd_len = n;
	__atomic_store_n(&real_cwd_above, above, __ATOMIC_RELAXED);
	__atomic_store_n(&real_cwd_known, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cwd_lock);
	errno = saved;
}

void ms_real_cwd_get(char *buf, size_t n)
{
	real_cwd_read();
	pthread_mutex_lock(&cwd_lock);
	snprintf(buf, n, "%s", real_cwd);
	pthread_mutex_unlock(&cwd_lock);
}

void ms_route_fork(int phase)
{
	if (phase == MS_FORK_PREPARE)
		pthread_mutex_lock(&cwd_lock);
	else if (phase == MS_FORK_PARENT)
		pthread_mutex_unlock(&cwd_lock);
	else
		pthread_mutex_init(&cwd_lock, NULL);
}
