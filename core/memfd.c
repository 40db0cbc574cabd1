/* core/memfd.c — where a regular file's bytes live: its memfd, made,
 * re-opened and given back.
 *
 * In a keeper store the keeper, or one of the holder processes it starts
 * once its own fds are used up (keeper/holder.c), holds each memfd (the
 * inode's kfd names both: arena.h, MS_KFD_SHIFT), and a process opens a
 * fresh open file description of it through /proc/<keeper>/fd/<fd> (a
 * cached dirfd) or /proc/<holder>/fd/<fd>, or asks the keeper over its
 * socket when /proc is not there or refuses it (a process that dropped
 * privileges may not look into another user's /proc/<pid>/fd); new memfds
 * come from the keeper's pool and freed ones go to its close queue
 * (core/keeper.c). In a local store (unit tests) this process holds the
 * memfds itself.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "keeper.h"

/* Flags that survive into the re-opened description; creation and lookup
 * flags were the namespace's business, and O_NOFOLLOW would refuse the
 * /proc magic link itself. */
#define REOPEN_FLAGS \
	(O_ACCMODE | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_DSYNC | O_SYNC | O_LARGEFILE | O_PATH)

int ms_data_new(struct ms_store *s, int32_t *kfd, uint64_t *kino)
{
	if (s->local) {
		int fd = sys_memfd_create("memshim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return fd;
		struct stat st;
		int r = sys_fstat(fd, &st);
		if (r) {
			sys_close(fd);
			return r;
		}
		*kfd = fd;
		*kino = st.st_ino;
		return 0;
	}
	int r = ms_pool_take(s, kfd, kino);
	if (r == 0)
		return 0;
	/* The pool ran dry: ask the keeper to fill it, a round trip, and take
	 * from it. Only ns_lock holders take, so what the keeper put there is
	 * still there; a death while waiting leaves the memfds in the pool,
	 * where they stay named (see MS_OP_FILL in keeper/main.c). */
	r = ms_keeper_fill(s);
	return r ? r : ms_pool_take(s, kfd, kino);
}

/* A re-open of a holder's memfd by its /proc path: the pid is the
 * holder's (read under ns_lock, which the keeper holds to retire it), and
 * what opened is checked to be this file's memfd all the same, so that a
 * keeper killed with its holders can never lead to another process's fd of
 * a recycled pid. -ENOENT: not there (any more). */
static int holder_open(struct ms_store *s, struct ms_inode *in, int flags)
{
	char path[48];
	uint32_t h = ms_kfd_holder(in->kfd);
	int32_t pid = __atomic_load_n(&s->hdr->holders[h].pid, __ATOMIC_ACQUIRE);
	if (!pid)
		return -EIO;
	ms_proc_fd_path(path, (uint32_t)pid, ms_kfd_fd(in->kfd));
	int fd = sys_openat(AT_FDCWD, path, flags, 0);
	if (fd < 0)
		return fd;
	struct stat st;
	if (sys_fstat(fd, &st) || (uint64_t)st.st_ino != in->memfd_ino ||
	    (s->memfd_dev && (uint64_t)st.st_dev != s->memfd_dev)) {
		sys_close(fd);
		return -ENOENT;
	}
	return fd;
}

int ms_data_open(struct ms_store *s, struct ms_inode *in, int oflags)
{
	char name[16];
	int flags = (oflags & REOPEN_FLAGS) | O_LARGEFILE;
	if (in->kfd < 0)
		return -EIO;
	ms_utoa(name, (uint32_t)in->kfd);
	if (s->local) {
		char path[40];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", in->kfd);
		return sys_openat(AT_FDCWD, path, flags, 0);
	}
	uint32_t gen = __atomic_load_n(&s->cred_gen, __ATOMIC_RELAXED);
	if (s->procdir >= 0 && __atomic_load_n(&s->proc_denied, __ATOMIC_RELAXED) != gen + 1) {
		int fd = ms_kfd_holder(in->kfd) ? holder_open(s, in, flags)
						: sys_openat(s->procdir, name, flags, 0);
		if (fd >= 0 || (fd != -ENOENT && fd != -EACCES && fd != -EPERM))
			return fd;
		/* ENOENT: the keeper is gone or /proc changed under us. EACCES,
		 * EPERM: this process changed its credentials and may no
		 * longer look into the keeper (ptrace access mode); not asked
		 * again until they change once more. Ask the keeper instead. */
		if (fd != -ENOENT)
			__atomic_store_n(&s->proc_denied, gen + 1, __ATOMIC_RELAXED);
	}
	return ms_keeper_fd(s, in->kfd, flags);
}

void ms_data_drop(struct ms_store *s, int32_t kfd, uint64_t held)
{
	if (kfd < 0)
		return;
	if (s->local) {
		sys_close(kfd);
		return;
	}
	ms_closeq_push(s, kfd, held);
}
