/* shim/syscall.c — syscall(): an entry point like the named ones.
 *
 * Some programs reach files through glibc's syscall() rather than the named
 * functions: libuv (Node.js) calls statx that way, CPython a few others. A
 * file-system call number the shim handles by name is answered by the same
 * wrapper the named function reaches (which passes anything that is not
 * the store's on to the kernel untouched); every other number goes to the
 * real syscall() with its arguments, errno included. Both conventions agree:
 * -1 with errno on failure.
 *
 * Where the system call and the libc function differ, the difference is
 * made here: getcwd returns a length, faccessat (without flags) is
 * faccessat2 with 0, openat2 takes a struct open_how.
 *
 * Like glibc's syscall(), six arguments are read whatever the call takes.
 */
#include <linux/openat2.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

/* The wrappers this file answers with (their definitions are the shim's
 * own; see tests/test_shim_fd.c, which lets this file name them). */
ssize_t getdents64(int, void *, size_t);

#define A(i) (a[i])
#define P(i) ((void *)a[i])
#define S(i) ((const char *)a[i])
#define I(i) ((int)a[i])
#define U(i) ((unsigned)a[i])
#define Z(i) ((size_t)a[i])
#define O(i) ((off_t)a[i])

/* openat2 for a store path: the flags and mode as openat takes them; a
 * resolve restriction the store does not implement is ENOSYS, on which
 * callers fall back to openat (as for a kernel older than 5.6). */
static long store_openat2(long *a)
{
	struct open_how how;
	size_t size = Z(3);
	if (size < sizeof(how)) {
		errno = EINVAL;
		return -1;
	}
	if (ms_copy_in(&how, P(2), sizeof(how))) {
		errno = EFAULT;
		return -1;
	}
	if (how.resolve) {
		errno = ENOSYS;
		return -1;
	}
	return openat(I(0), S(1), (int)how.flags, (mode_t)how.mode);
}

/* Not instrumented by ASan: the arguments not passed are read from the
 * caller's frame (as glibc's own syscall() does), harmlessly. */
MS_EXPORT __attribute__((no_sanitize_address)) long syscall(long n, ...)
{
	long a[6];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (n) {
	/* opening and closing */
	case SYS_open:
		return open(S(0), I(1), (mode_t)A(2));
	case SYS_openat:
		return openat(I(0), S(1), I(2), (mode_t)A(3));
	case SYS_openat2: {
		struct ms_route r;
		if (!ms_route_at(I(0), S(1), &r))
			break;
		return store_openat2(a);
	}
	case SYS_creat:
		return creat(S(0), (mode_t)A(1));
	case SYS_close:
		return close(I(0));
	case SYS_close_range:
		return close_range(U(0), U(1), I(2));
	case SYS_dup:
		return dup(I(0));
	case SYS_dup2:
		return dup2(I(0), I(1));
	case SYS_dup3:
		return dup3(I(0), I(1), I(2));
	case SYS_fcntl:
		return fcntl(I(0), I(1), A(2));
	case SYS_flock:
		return flock(I(0), I(1));
	case SYS_ioctl:
		return ioctl(I(0), (unsigned long)A(1), P(2));
	case SYS_mmap:
		return (long)mmap(P(0), Z(1), I(2), I(3), I(4), O(5));
	/* data */
	case SYS_read:
		return read(I(0), P(1), Z(2));
	case SYS_pread64:
		return pread(I(0), P(1), Z(2), O(3));
	case SYS_readv:
		return readv(I(0), P(1), I(2));
	case SYS_preadv:
		return preadv(I(0), P(1), I(2), O(3));
	case SYS_preadv2:
		return preadv2(I(0), P(1), I(2), O(3), I(5));
	case SYS_write:
		return write(I(0), P(1), Z(2));
	case SYS_pwrite64:
		return pwrite(I(0), P(1), Z(2), O(3));
	case SYS_writev:
		return writev(I(0), P(1), I(2));
	case SYS_pwritev:
		return pwritev(I(0), P(1), I(2), O(3));
	case SYS_pwritev2:
		return pwritev2(I(0), P(1), I(2), O(3), I(5));
	case SYS_lseek:
		return lseek(I(0), O(1), I(2));
	case SYS_ftruncate:
		return ftruncate(I(0), O(1));
	case SYS_truncate:
		return truncate(S(0), O(1));
	case SYS_fallocate:
		return fallocate(I(0), I(1), O(2), O(3));
	case SYS_copy_file_range:
		return copy_file_range(I(0), P(1), I(2), P(3), Z(4), U(5));
	case SYS_sendfile:
		return sendfile(I(0), I(1), P(2), Z(3));
	case SYS_splice:
		return splice(I(0), P(1), I(2), P(3), Z(4), U(5));
	case SYS_fsync:
		return fsync(I(0));
	case SYS_fdatasync:
		return fdatasync(I(0));
	/* status */
	case SYS_stat:
		return stat(S(0), P(1));
	case SYS_lstat:
		return lstat(S(0), P(1));
	case SYS_fstat:
		return fstat(I(0), P(1));
	case SYS_newfstatat:
		return fstatat(I(0), S(1), P(2), I(3));
	case SYS_statx:
		return statx(I(0), S(1), I(2), U(3), P(4));
	case SYS_access:
		return access(S(0), I(1));
	case SYS_faccessat:
		return faccessat(I(0), S(1), I(2), 0);
	case SYS_faccessat2:
		return faccessat(I(0), S(1), I(2), I(3));
	case SYS_statfs:
		return statfs(S(0), P(1));
	case SYS_fstatfs:
		return fstatfs(I(0), P(1));
	case SYS_readlink:
		return readlink(S(0), P(1), Z(2));
	case SYS_readlinkat:
		return readlinkat(I(0), S(1), P(2), Z(3));
	case SYS_getdents64:
		return getdents64(I(0), P(1), Z(2));
	/* the namespace */
	case SYS_mkdir:
		return mkdir(S(0), (mode_t)A(1));
	case SYS_mkdirat:
		return mkdirat(I(0), S(1), (mode_t)A(2));
	case SYS_rmdir:
		return rmdir(S(0));
	case SYS_unlink:
		return unlink(S(0));
	case SYS_unlinkat:
		return unlinkat(I(0), S(1), I(2));
	case SYS_rename:
		return rename(S(0), S(1));
	case SYS_renameat:
		return renameat(I(0), S(1), I(2), S(3));
	case SYS_renameat2:
		return renameat2(I(0), S(1), I(2), S(3), U(4));
	case SYS_link:
		return link(S(0), S(1));
	case SYS_linkat:
		return linkat(I(0), S(1), I(2), S(3), I(4));
	case SYS_symlink:
		return symlink(S(0), S(1));
	case SYS_symlinkat:
		return symlinkat(S(0), I(1), S(2));
	case SYS_mknod:
		return mknod(S(0), (mode_t)A(1), (dev_t)A(2));
	case SYS_mknodat:
		return mknodat(I(0), S(1), (mode_t)A(2), (dev_t)A(3));
	/* attributes */
	case SYS_chmod:
		return chmod(S(0), (mode_t)A(1));
	case SYS_fchmod:
		return fchmod(I(0), (mode_t)A(1));
	case SYS_fchmodat:
		return fchmodat(I(0), S(1), (mode_t)A(2), 0);
	case SYS_chown:
		return chown(S(0), (uid_t)A(1), (gid_t)A(2));
	case SYS_lchown:
		return lchown(S(0), (uid_t)A(1), (gid_t)A(2));
	case SYS_fchown:
		return fchown(I(0), (uid_t)A(1), (gid_t)A(2));
	case SYS_fchownat:
		return fchownat(I(0), S(1), (uid_t)A(2), (gid_t)A(3), I(4));
	case SYS_utimensat:
		return utimensat(I(0), S(1), P(2), I(3));
	case SYS_getxattr:
		return getxattr(S(0), S(1), P(2), Z(3));
	case SYS_lgetxattr:
		return lgetxattr(S(0), S(1), P(2), Z(3));
	case SYS_fgetxattr:
		return fgetxattr(I(0), S(1), P(2), Z(3));
	case SYS_setxattr:
		return setxattr(S(0), S(1), P(2), Z(3), I(4));
	case SYS_lsetxattr:
		return lsetxattr(S(0), S(1), P(2), Z(3), I(4));
	case SYS_fsetxattr:
		return fsetxattr(I(0), S(1), P(2), Z(3), I(4));
	case SYS_listxattr:
		return listxattr(S(0), P(1), Z(2));
	case SYS_llistxattr:
		return llistxattr(S(0), P(1), Z(2));
	case SYS_flistxattr:
		return flistxattr(I(0), P(1), Z(2));
	case SYS_removexattr:
		return removexattr(S(0), S(1));
	case SYS_lremovexattr:
		return lremovexattr(S(0), S(1));
	case SYS_fremovexattr:
		return fremovexattr(I(0), S(1));
	/* the current directory */
	case SYS_chdir:
		return chdir(S(0));
	case SYS_fchdir:
		return fchdir(I(0));
	case SYS_getcwd: {
		/* the system call returns the length with the NUL, and never
		 * allocates (glibc's getcwd does for NULL) */
		if (!P(0))
			break;
		char *c = getcwd(P(0), Z(1));
		return c ? (long)strlen(c) + 1 : -1;
	}
	/* programs */
	case SYS_execve:
		return execve(S(0), P(1), P(2));
	case SYS_execveat:
		return execveat(I(0), S(1), P(2), P(3), I(4));
	/* a new process that runs no fork handlers (it takes no reference
	 * of its own to the descriptions it has) */
	case SYS_fork:
	case SYS_vfork:
		ms_child_without_handlers();
		break;
	case SYS_clone:
		if (!(A(0) & CLONE_THREAD))
			ms_child_without_handlers();
		break;
	case SYS_clone3: {
		uint64_t flags; /* struct clone_args begins with them */
		if (Z(1) < sizeof(flags) || ms_copy_in(&flags, P(0), sizeof(flags)) ||
		    !(flags & CLONE_THREAD))
			ms_child_without_handlers(); /* a bad one fails; being careful costs nothing */
		break;
	}
	}
	return REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
