/* shim/hide.c — the shim's own fds out of sight: listings of the process's
 * fd directory (/proc/self/fd, /proc/<own pid>/fd, /proc/thread-self/fd,
 * /dev/fd) leave out the store's private fds (the keeper connection, the
 * arena, the /proc dir of the keeper, the directory placeholder), through
 * readdir, scandir and getdents64 by any route, so `ls -l /proc/self/fd`,
 * Python's close_fds and the like see what they would without the shim.
 *
 * An fd opened on such a directory (open, opendir) is marked; its entries
 * are filtered while it is. Marks are few and short-lived: a small array
 * of atomics, and nothing at all to check while none is set.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define NMARK 16
static int marked[NMARK]; /* [atomic] fd + 1; 0 = free */
MS_STARTUP static int nmarked; /* [atomic] how many are set */

/* "/proc/self/fd", "/proc/thread-self/fd", "/dev/fd", "/proc/<our pid>/fd",
 * "/proc/<pid>/task/<tid>/fd", with or without a trailing '/'. */
static int is_fd_dir(const char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	if (n == 7 && memcmp(p, "/dev/fd", 7) == 0)
		return 1;
	if (n < 9 || memcmp(p, "/proc/", 6) != 0 || memcmp(p + n - 3, "/fd", 3) != 0)
		return 0;
	const char *who = p + 6;
	size_t wl = n - 3 - 6;
	if ((wl == 4 && memcmp(who, "self", 4) == 0) || (wl == 11 && memcmp(who, "thread-self", 11) == 0))
		return 1;
	char *end;
	long pid = strtol(who, &end, 10);
	if (end == who || pid != (long)ms_shim.pid)
		return 0;
	return (size_t)(end - who) == wl || strncmp(end, "/task/", 6) == 0;
}

void ms_hide_opened(int fd, const char *path)
{
	if (fd < 0 || !ms_shim.on || path[0] != '/' || (path[1] != 'p' && path[1] != 'd') ||
	    !is_fd_dir(path))
		return;
	for (int i = 0; i < NMARK; i++) {
		int free_ = 0;
		if (__atomic_compare_exchange_n(&marked[i], &free_, fd + 1, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			__atomic_add_fetch(&nmarked, 1, __ATOMIC_RELEASE);
			return;
		}
	}
	/* all taken: this listing shows the shim's fds */
}

int ms_hide_on(int fd)
{
	if (!__atomic_load_n(&nmarked, __ATOMIC_ACQUIRE))
		return 0;
	for (int i = 0; i < NMARK; i++)
		if (__atomic_load_n(&marked[i], __ATOMIC_RELAXED) == fd + 1)
			return 1;
	return 0;
}

void ms_hide_forget(int fd)
{
	if (!__atomic_load_n(&nmarked, __ATOMIC_ACQUIRE))
		return;
	for (int i = 0; i < NMARK; i++) {
		int want = fd + 1;
		if (__atomic_compare_exchange_n(&marked[i], &want, 0, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			__atomic_sub_fetch(&nmarked, 1, __ATOMIC_RELEASE);
	}
}

int ms_hide_name(const char *name)
{
	if (name[0] < '0' || name[0] > '9')
		return 0;
	char *end;
	long fd = strtol(name, &end, 10);
	return !*end && fd <= 0x7fffffff && ms_fd_private((int)fd);
}

int ms_hide_path(const char *path)
{
	return path && ms_shim.on && ms_ptr_possible(path) && path[0] == '/' && is_fd_dir(path);
}

long ms_hide_dirents(void *buf, long n)
{
	char *b = buf;
	long w = 0;
	for (long r = 0; r < n;) {
		struct dirent64 *e = (struct dirent64 *)(b + r);
		unsigned short len = e->d_reclen;
		if (!ms_hide_name(e->d_name)) {
			if (w != r)
				memmove(b + w, b + r, len);
			w += len;
		}
		r += len;
	}
	return w;
}
