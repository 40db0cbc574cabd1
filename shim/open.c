/* shim/open.c — the one way a routed path becomes an fd, and the one way
 * a path that left the store reaches the kernel.
 *
 * Every entry point that opens a store path comes here: the open family
 * and creat (fd.c), the fopen family and freopen (stdio.c), the mkstemp
 * family and tmpfile (composite.c), posix_spawn file actions and exec of a
 * store program (exec.c), and /proc/self/fd/N re-opens (route.c marks them
 * `empty`). So the kernel's open rules — O_TRUNC, O_EXCL, EISDIR, ENOTDIR,
 * ELOOP — are core's, written once, and every entry point gets them.
 */
#include "shim.h"

int ms_leave(long rc, int *dirfd, const char **path)
{
	if (rc != -MS_EESCAPE)
		return 0;
	/* The escape path is absolute: dirfd no longer matters. */
	*dirfd = AT_FDCWD;
	*path = ms_escape_path();
	return 1;
}

int ms_open_route(struct ms_route *r, int flags, mode_t mode, enum ms_open_how how)
{
	ms_store *s = ms_shim.store;
	int fd = -1, rc;
	ms_ino ino = r->dir;
	flags = ms_open_flags(flags); /* what is left of O_PATH's flags */
	/* MEMSHIM_FAIL: before anything is looked up or made, so a failed
	 * O_CREAT leaves no file; a program's exec is no open of the program */
	if (ms_fault_on() && how != MS_OPEN_EXEC) {
		rc = ms_fail_path(MS_FAIL_OPEN, r->dir, r->empty ? "" : r->path, 0, NULL);
		if (rc)
			return rc;
	}
	/* a kept description may be lent to an fd the program keeps (lend.c) */
	if (how == MS_OPEN_KEEP && !ms_in_vfork_child())
		ms_lend_allow();
	if (r->empty)
		rc = ms_reopen(s, ino, flags, &fd);
	else
		rc = ms_open(s, r->dir, r->path, flags, mode, &fd, &ino);
	uint32_t lent = ms_lend_taken();
	int at;
	const char *real;
	if (ms_leave(rc, &at, &real)) {
		fd = REAL(openat)(at, real, flags & ~MS_O_EXEC, mode);
		return fd < 0 ? -errno : fd;
	}
	if (rc == -MS_ESPECIAL) {
		/* A FIFO, socket or device node: the kernel opens its real
		 * counterpart (blocking for a FIFO's other end, ENXIO, the
		 * device), and the fd is a plain kernel fd, not a store file.
		 * No program runs from one (execve's EACCES). The store has
		 * answered O_CREAT and O_EXCL already; the counterpart is
		 * opened as the existing node it is (with fs.protected_fifos,
		 * O_CREAT on another user's FIFO in a sticky directory would
		 * fail where the store's open may succeed). */
		if (how == MS_OPEN_EXEC)
			return -EACCES;
		fd = REAL(openat)(AT_FDCWD, ms_special_path(), flags & ~(O_CREAT | O_EXCL), mode);
		return fd < 0 ? -errno : fd;
	}
	if (rc < 0)
		return rc;
	if (how == MS_OPEN_EXEC) {
		ms_ino_put(s, ino);
		if (fd < 0)
			return -EACCES; /* a directory is no program */
		return fd;
	}
	if (ms_in_vfork_child()) {
		/* The fd is the child's, the table its parent's (shared
		 * memory): a bare kernel fd as for MS_OPEN_EXEC, and the
		 * program the child runs looks at each of its fds
		 * (ms_vfork_touch). A store directory has no kernel fd of
		 * its own to be: refused as with no fd left. */
		ms_ino_put(s, ino);
		ms_vfork_touch();
		return fd < 0 ? -EMFILE : fd;
	}
	if (fd < 0) {
		/* A directory, or with O_PATH a symlink: the shim's own kind
		 * of fd. */
		enum ms_fd_kind kind = MS_FD_DIR;
		struct stat st;
		if ((flags & O_PATH) && ms_stat_ino(s, ino, &st) == 0 && S_ISLNK(st.st_mode))
			kind = MS_FD_LINK;
		fd = ms_fd_new_dir(ino, flags, 0, kind);
		if (fd < 0)
			ms_ino_put(s, ino);
		return fd;
	}
	ms_fd_set(fd, MS_FD_FILE, ino, flags);
	struct ms_fd *e = ms_fd_get(fd);
	if (e) {
		e->lend = lent;
		e->how = (ms_open_created() && !r->empty ? MS_FD_CREATED : 0) |
			 ((flags & O_TMPFILE) == O_TMPFILE ? MS_FD_TMPFILE : 0) |
			 (ms_open_lower() ? MS_FD_LOWER : 0);
	}
	return fd;
}
