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

int ms_data_new(struct ms_store *s, struct ms_inode *in)
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
		in->kfd = fd;
		in->memfd_ino = st.st_ino;
		return 0;
	}
	int stale = 0;
	int r = ms_pool_take(s, &in->kfd, &in->memfd_ino, &stale);
	if (r) {
		/* The pool ran dry: ask the keeper to fill it, a round trip,
		 * and take from it. Only ns_lock holders take, so what the
		 * keeper put there is still there; a death while waiting
		 * leaves the memfds in the pool, where they stay named (see
		 * MS_OP_FILL in keeper/main.c). */
		r = ms_keeper_fill(s);
		if (r == 0)
			r = ms_pool_take(s, &in->kfd, &in->memfd_ino, &stale);
	}
	if (r == 0 && stale)
		in->flags |= MS_I_STALE; /* its first open empties it (ms_data_open) */
	return r;
}

/* An open of what is not known to be the file's memfd until it has been
 * looked at (a holder's, the keeper's answer) truncates only afterwards. */
static int truncate_after(int fd, int oflags)
{
	if (fd < 0 || !(oflags & O_TRUNC))
		return fd;
	int r = sys_ftruncate(fd, 0);
	if (r) {
		sys_close(fd);
		return r;
	}
	return fd;
}

/* Whether fd, just opened through a path with holder pid h in it, is the
 * memfd of file in: a keeper killed with its holders leaves pids that may
 * be recycled, and another process's fd must never be taken for ours. */
static int is_memfd_of(struct ms_store *s, struct ms_inode *in, int fd)
{
	struct stat st;
	return sys_fstat(fd, &st) == 0 && (uint64_t)st.st_ino == in->memfd_ino &&
	       (!s->memfd_dev || (uint64_t)st.st_dev == s->memfd_dev);
}

/* Keeps dir, an fd of holder h's /proc/<pid>/fd, as s->hdir: made one of
 * the process's private fds the first time, later put in its place (the
 * number the shim hides stays the same). Not in a vfork child, whose fd
 * table is its own while this memory is its parent's: ms_private_fd_hook
 * says no there. */
static void keep_hdir(struct ms_store *s, int dir, uint32_t h, int32_t pid)
{
	int (*take)(int) = ms_private_fd_hook;
	int kept = 0;
	if (take && s->hdir < 0) {
		int placed = take(dir);
		if (placed >= 0) {
			s->hdir = placed;
			dir = -1;
			kept = 1;
		}
	} else if (take && take(s->hdir) >= 0) {
		kept = sys_dup3(dir, s->hdir, O_CLOEXEC) >= 0;
	}
	if (dir >= 0)
		sys_close(dir);
	if (kept) {
		s->hdir_h = h;
		s->hdir_pid = pid;
	}
}

/* A re-open of a holder's memfd through /proc/<holder>/fd. The pid is the
 * holder's (read under ns_lock, which the keeper holds to retire it), and
 * what opens by a path with a pid in it is checked (is_memfd_of). The
 * process keeps the directory of one holder open (s->hdir), taken when two
 * re-opens in a row go to the same holder: an fd of a /proc/<pid>
 * directory stays the process it was opened for (a look-up in it fails
 * with ENOENT once that process is gone, whoever has the pid since), so
 * what opens through it, once checked, needs no check again. Its fields
 * are the process's, under ns_lock. -ENOENT: not there (any more). */
static int holder_open(struct ms_store *s, struct ms_inode *in, int flags, int trunc)
{
	char path[48], name[12];
	uint32_t h = ms_kfd_holder(in->kfd);
	int32_t pid = __atomic_load_n(&s->hdr->holders[h].pid, __ATOMIC_ACQUIRE);
	if (!pid)
		return -EIO;
	ms_utoa(name, (uint32_t)ms_kfd_fd(in->kfd));
	if (s->hdir >= 0 && s->hdir_h == h && s->hdir_pid == pid)
		return sys_openat(s->hdir, name, flags | trunc, 0);
	int again = s->hdir_want == h;
	s->hdir_want = h;
	int dir = AT_FDCWD;
	if (again) {
		ms_proc_fd_path(path, (uint32_t)pid, -1);
		dir = sys_openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (dir < 0)
			return dir;
	} else {
		ms_proc_fd_path(path, (uint32_t)pid, ms_kfd_fd(in->kfd));
	}
	int fd = sys_openat(dir, dir == AT_FDCWD ? path : name, flags, 0);
	if (fd >= 0 && !is_memfd_of(s, in, fd)) {
		sys_close(fd);
		fd = -ENOENT;
	}
	if (dir != AT_FDCWD) {
		if (fd >= 0)
			keep_hdir(s, dir, h, pid);
		else
			sys_close(dir);
	}
	return truncate_after(fd, trunc);
}

/* The open of in's memfd with oflags, truncating it when trunc (O_TRUNC):
 * where the path can only name this file's memfd (this process's own fd,
 * the keeper's through its /proc directory, a holder's through the one
 * kept), by the kernel's open itself, one call instead of an open and an
 * ftruncate. */
static int open_memfd(struct ms_store *s, struct ms_inode *in, int oflags, int trunc)
{
	char name[16];
	int flags = (oflags & REOPEN_FLAGS) | O_LARGEFILE;
	ms_utoa(name, (uint32_t)in->kfd);
	if (s->local) {
		char path[40];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", in->kfd);
		return sys_openat(AT_FDCWD, path, flags | trunc, 0);
	}
	uint32_t gen = __atomic_load_n(&s->cred_gen, __ATOMIC_RELAXED);
	if (s->procdir >= 0 && __atomic_load_n(&s->proc_denied, __ATOMIC_RELAXED) != gen + 1) {
		int fd = ms_kfd_holder(in->kfd) ? holder_open(s, in, flags, trunc)
						: sys_openat(s->procdir, name, flags | trunc, 0);
		if (fd >= 0 || (fd != -ENOENT && fd != -EACCES && fd != -EPERM))
			return fd;
		/* ENOENT: the keeper is gone or /proc changed under us. EACCES,
		 * EPERM: this process changed its credentials and may no
		 * longer look into the keeper (ptrace access mode); not asked
		 * again until they change once more. Ask the keeper instead. */
		if (fd != -ENOENT)
			__atomic_store_n(&s->proc_denied, gen + 1, __ATOMIC_RELAXED);
	}
	return truncate_after(ms_keeper_fd(s, in->kfd, flags), trunc);
}

int ms_data_open(struct ms_store *s, struct ms_inode *in, int oflags)
{
	if (in->kfd < 0)
		return -EIO;
	if (!(in->flags & MS_I_STALE))
		return open_memfd(s, in, oflags, oflags & O_TRUNC);
	/* A removed file's memfd not yet emptied (ms_pool_give): the file's
	 * first open empties it, by the open itself when it writes; a
	 * read-only or O_PATH open (which ignores O_TRUNC) first opens one
	 * that writes, to empty it. */
	int acc = oflags & O_ACCMODE, own = acc != O_RDONLY && !(oflags & O_PATH);
	int fd = open_memfd(s, in, own ? oflags : O_WRONLY | O_CLOEXEC, O_TRUNC);
	if (fd < 0)
		return fd;
	in->flags &= ~MS_I_STALE;
	if (own)
		return fd;
	sys_close(fd);
	return open_memfd(s, in, oflags, 0);
}

int ms_data_reusable(struct ms_store *s, const struct ms_inode *in)
{
	/* Every description of it the store counted is closed (its last
	 * reference went, not the keeper's look at who holds what: UNHELD),
	 * none left the count (NOREUSE), no mapping of a program's still
	 * reads it (MAPPED), and its holder lives (kfd): emptied, it can be
	 * any new file. */
	return !s->local && in->kfd >= 0 &&
	       !(in->flags & (MS_I_MAPPED | MS_I_UNHELD | MS_I_NOREUSE)) && ms_reuse_room(s);
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
