/* core/sys.h — raw system calls for core/.
 *
 * core/ must never call a libc name that the shim wraps (open, close, stat,
 * write, ftruncate, ...): inside a preloaded process that would re-enter the
 * shim. Every such call in core/ goes through these inline helpers instead,
 * which return the kernel's result: a value >= 0, or -errno (errno untouched).
 */
#ifndef MEMSHIM_CORE_SYS_H
#define MEMSHIM_CORE_SYS_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>


/* glibc's syscall() sets errno and returns -1; recover -errno without
 * disturbing the caller's errno. */
#define MS_SYSCALL(...)                                                        \
	({                                                                     \
		int saved_errno_ = errno;                                      \
		long r_ = syscall(__VA_ARGS__);                                \
		if (r_ == -1) {                                                \
			r_ = -errno;                                           \
		}                                                              \
		errno = saved_errno_;                                          \
		r_;                                                            \
	})

#include <errno.h>

static inline int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)MS_SYSCALL(SYS_openat, dirfd, path, flags, mode);
}
static inline int sys_close(int fd) { return (int)MS_SYSCALL(SYS_close, fd); }
static inline ssize_t sys_read(int fd, void *buf, size_t n)
{
	return MS_SYSCALL(SYS_read, fd, buf, n);
}
static inline ssize_t sys_write(int fd, const void *buf, size_t n)
{
	return MS_SYSCALL(SYS_write, fd, buf, n);
}
static inline ssize_t sys_pread(int fd, void *buf, size_t n, off_t off)
{
	return MS_SYSCALL(SYS_pread64, fd, buf, n, off);
}
static inline ssize_t sys_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return MS_SYSCALL(SYS_pwrite64, fd, buf, n, off);
}
static inline int sys_fstat(int fd, struct stat *st)
{
	return (int)MS_SYSCALL(SYS_fstat, fd, st);
}
static inline int sys_ftruncate(int fd, off_t len)
{
	return (int)MS_SYSCALL(SYS_ftruncate, fd, len);
}
static inline int sys_fcntl(int fd, int cmd, long arg)
{
	return (int)MS_SYSCALL(SYS_fcntl, fd, cmd, arg);
}
static inline int sys_dup3(int fd, int nfd, int flags)
{
	return (int)MS_SYSCALL(SYS_dup3, fd, nfd, flags);
}
static inline int sys_memfd_create(const char *name, unsigned flags)
{
	return (int)MS_SYSCALL(SYS_memfd_create, name, flags);
}
static inline ssize_t sys_readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
	return MS_SYSCALL(SYS_readlinkat, dirfd, path, buf, n);
}
static inline int sys_fallocate(int fd, int mode, off_t off, off_t len)
{
	return (int)MS_SYSCALL(SYS_fallocate, fd, mode, off, len);
}

static inline int sys_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return (int)MS_SYSCALL(SYS_mkdirat, dirfd, path, mode);
}
static inline int sys_symlinkat(const char *target, int dirfd, const char *path)
{
	return (int)MS_SYSCALL(SYS_symlinkat, target, dirfd, path);
}
static inline int sys_unlinkat(int dirfd, const char *path, int flags)
{
	return (int)MS_SYSCALL(SYS_unlinkat, dirfd, path, flags);
}
static inline int sys_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return (int)MS_SYSCALL(SYS_newfstatat, dirfd, path, st, flags);
}
static inline int sys_fchmod(int fd, mode_t mode) { return (int)MS_SYSCALL(SYS_fchmod, fd, mode); }
static inline int sys_fchmodat(int dirfd, const char *path, mode_t mode)
{
	return (int)MS_SYSCALL(SYS_fchmodat, dirfd, path, mode);
}
/* path NULL: the fd itself (futimens). */
static inline int sys_utimensat(int dirfd, const char *path, const struct timespec t[2], int flags)
{
	return (int)MS_SYSCALL(SYS_utimensat, dirfd, path, t, flags);
}
/* Fills buf with struct linux_dirent64 records; 0 at the end. */
static inline ssize_t sys_getdents64(int fd, void *buf, size_t n)
{
	return MS_SYSCALL(SYS_getdents64, fd, buf, n);
}
static inline off_t sys_lseek(int fd, off_t off, int whence)
{
	return (off_t)MS_SYSCALL(SYS_lseek, fd, off, whence);
}
static inline ssize_t sys_sendfile(int out, int in, off_t *off, size_t n)
{
	return MS_SYSCALL(SYS_sendfile, out, in, off, n);
}

/* Sockets by system call too: fds that libc (and sanitizers' interceptors)
 * never hear of, like every other fd core opens. */
static inline int sys_socket(int domain, int type, int proto)
{
	return (int)MS_SYSCALL(SYS_socket, domain, type, proto);
}
static inline int sys_connect(int fd, const void *sa, unsigned len)
{
	return (int)MS_SYSCALL(SYS_connect, fd, sa, len);
}
static inline int sys_bind(int fd, const void *sa, unsigned len)
{
	return (int)MS_SYSCALL(SYS_bind, fd, sa, len);
}
static inline int sys_getsockopt(int fd, int level, int name, void *v, void *len)
{
	return (int)MS_SYSCALL(SYS_getsockopt, fd, level, name, v, len);
}
static inline int sys_setsockopt(int fd, int level, int name, const void *v, unsigned len)
{
	return (int)MS_SYSCALL(SYS_setsockopt, fd, level, name, v, len);
}
static inline ssize_t sys_sendto(int fd, const void *buf, size_t n, int flags)
{
	return MS_SYSCALL(SYS_sendto, fd, buf, n, flags, NULL, 0);
}
static inline ssize_t sys_recvmsg(int fd, void *mh, int flags)
{
	return MS_SYSCALL(SYS_recvmsg, fd, mh, flags);
}
static inline ssize_t sys_sendmsg(int fd, const void *mh, int flags)
{
	return MS_SYSCALL(SYS_sendmsg, fd, mh, flags);
}
static inline int sys_socketpair(int domain, int type, int proto, int sv[2])
{
	return (int)MS_SYSCALL(SYS_socketpair, domain, type, proto, sv);
}
#endif
