/* core/sys.h — raw system calls for core/.
 *
 * core/ must never call a libc name that the shim wraps (open, close, stat,
 * write, ftruncate, ...): inside a preloaded process that would re-enter the
 * shim. Every such call in core/ goes through these inline helpers instead,
 * which return the kernel's result: a value >= 0, or -errno (errno untouched).
 * An armed fault rule (fault.h) can fail any of them on purpose.
 */
#ifndef MEMSHIM_CORE_SYS_H
#define MEMSHIM_CORE_SYS_H

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* What every process writes at start, before it may ever touch the store,
 * and the few words of ours its first store calls read or write: kept
 * together, right after the loader's own writes (.got.plt), by
 * shim/startup.ld. Each page of ours a new process touches is a page fault
 * (10-20 us on a virtual machine); scattered over .data and .bss these
 * variables were four pages at start and four more at the first open.
 * MS_STARTUP_TAIL: after all of them (ms_shim, whose beginning only is
 * written). Elsewhere (the keeper, the tools) both are plain .data. */
#define MS_STARTUP __attribute__((section(".data.ms_startup")))
#define MS_STARTUP_TAIL __attribute__((section(".data.ms_startup_tail")))


/* The system call instruction itself, not glibc's syscall(): the shim
 * exports a syscall() of its own (programs such as Node.js reach files
 * through it), and a call to that name from inside the library would bind
 * to the wrapper. Returns the kernel's result, -errno on failure; errno is
 * never touched. Reads six arguments whatever the call takes, as glibc's
 * syscall() does: those not passed are whatever the caller's frame holds,
 * unused by the kernel — not a read ASan may refuse. */
__attribute__((unused, no_sanitize_address)) static long ms_raw_syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c, x3 __asm__("x3") = d, x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
#error "ms_raw_syscall: add this architecture"
#endif
}

#define MS_SYSCALL(...) ms_raw_syscall(__VA_ARGS__)

#include <errno.h>
#include <sys/mman.h>

#include "fault.h"

/* A system call that an armed fault rule (fault.h) may fail first: the
 * rule's -errno comes back and the call is not made. `name` is the system
 * call's name as rules give it; core/fault.c lists them, keep it in step. */
#define MS_SYSCALL_AS(name, ...)                                               \
	({                                                                     \
		long f_ = MS_FAULT(name);                                      \
		f_ ? f_ : MS_SYSCALL(__VA_ARGS__);                             \
	})

/* The decimal digits of n at out (room for 11), NUL-terminated; returns
 * the end. Not snprintf: its ~600 instructions were a quarter of the
 * shim's own work on an open, and the first call in a process faults in
 * three pages of libc's printf. */
static inline char *ms_utoa(char *out, uint32_t n)
{
	char tmp[12];
	int k = 0;
	do
		tmp[k++] = (char)('0' + n % 10);
	while ((n /= 10));
	while (k)
		*out++ = tmp[--k];
	*out = 0;
	return out;
}

/* snprintf(out, n, "%s", name), n > 0, without libc's printf. */
static inline void ms_copy_name(char *out, size_t n, const char *name)
{
	size_t k = 0;
	while (k < n - 1 && name[k])
		k++;
	__builtin_memcpy(out, name, k);
	out[k] = 0;
}

/* "/proc/<pid>/fd", and "/<fd>" after it when fd >= 0, at out (room for
 * 32). */
static inline void ms_proc_fd_path(char *out, uint32_t pid, int fd)
{
	char *e = ms_utoa(out + 6, pid);
	__builtin_memcpy(out, "/proc/", 6);
	__builtin_memcpy(e, "/fd", 4);
	if (fd >= 0) {
		e[3] = '/';
		ms_utoa(e + 4, (uint32_t)fd);
	}
}

static inline int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)MS_SYSCALL_AS("openat", SYS_openat, dirfd, path, flags, mode);
}
/* close(2) releases the fd even when it reports an error; so does a fault. */
static inline int sys_close(int fd)
{
	int f = MS_FAULT("close");
	int r = (int)MS_SYSCALL(SYS_close, fd);
	return f ? f : r;
}
static inline ssize_t sys_read(int fd, void *buf, size_t n)
{
	return MS_SYSCALL_AS("read", SYS_read, fd, buf, n);
}
static inline ssize_t sys_write(int fd, const void *buf, size_t n)
{
	return MS_SYSCALL_AS("write", SYS_write, fd, buf, n);
}
static inline ssize_t sys_pread(int fd, void *buf, size_t n, off_t off)
{
	return MS_SYSCALL_AS("pread", SYS_pread64, fd, buf, n, off);
}
static inline ssize_t sys_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return MS_SYSCALL_AS("pwrite", SYS_pwrite64, fd, buf, n, off);
}
static inline int sys_fstat(int fd, struct stat *st)
{
	return (int)MS_SYSCALL_AS("fstat", SYS_fstat, fd, st);
}
static inline int sys_ftruncate(int fd, off_t len)
{
	return (int)MS_SYSCALL_AS("ftruncate", SYS_ftruncate, fd, len);
}
static inline int sys_fcntl(int fd, int cmd, long arg)
{
	return (int)MS_SYSCALL_AS("fcntl", SYS_fcntl, fd, cmd, arg);
}
static inline int sys_dup3(int fd, int nfd, int flags)
{
	return (int)MS_SYSCALL_AS("dup3", SYS_dup3, fd, nfd, flags);
}
static inline int sys_memfd_create(const char *name, unsigned flags)
{
	return (int)MS_SYSCALL_AS("memfd_create", SYS_memfd_create, name, flags);
}
static inline ssize_t sys_readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
	return MS_SYSCALL_AS("readlinkat", SYS_readlinkat, dirfd, path, buf, n);
}
static inline int sys_fallocate(int fd, int mode, off_t off, off_t len)
{
	return (int)MS_SYSCALL_AS("fallocate", SYS_fallocate, fd, mode, off, len);
}

static inline int sys_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return (int)MS_SYSCALL_AS("mkdirat", SYS_mkdirat, dirfd, path, mode);
}
static inline int sys_symlinkat(const char *target, int dirfd, const char *path)
{
	return (int)MS_SYSCALL_AS("symlinkat", SYS_symlinkat, target, dirfd, path);
}
static inline int sys_unlinkat(int dirfd, const char *path, int flags)
{
	return (int)MS_SYSCALL_AS("unlinkat", SYS_unlinkat, dirfd, path, flags);
}
static inline int sys_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return (int)MS_SYSCALL_AS("fstatat", SYS_newfstatat, dirfd, path, st, flags);
}
static inline int sys_fchmod(int fd, mode_t mode)
{
	return (int)MS_SYSCALL_AS("fchmod", SYS_fchmod, fd, mode);
}
static inline int sys_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	return (int)MS_SYSCALL_AS("mknodat", SYS_mknodat, dirfd, path, mode, dev);
}
static inline int sys_fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	return (int)MS_SYSCALL_AS("fchownat", SYS_fchownat, dirfd, path, uid, gid, flags);
}
static inline int sys_fchmodat(int dirfd, const char *path, mode_t mode)
{
	return (int)MS_SYSCALL_AS("fchmodat", SYS_fchmodat, dirfd, path, mode);
}
/* path NULL: the fd itself (futimens). */
static inline int sys_utimensat(int dirfd, const char *path, const struct timespec t[2], int flags)
{
	return (int)MS_SYSCALL_AS("utimensat", SYS_utimensat, dirfd, path, t, flags);
}
/* Fills buf with struct linux_dirent64 records; 0 at the end. */
static inline ssize_t sys_getdents64(int fd, void *buf, size_t n)
{
	return MS_SYSCALL_AS("getdents64", SYS_getdents64, fd, buf, n);
}
static inline off_t sys_lseek(int fd, off_t off, int whence)
{
	return (off_t)MS_SYSCALL_AS("lseek", SYS_lseek, fd, off, whence);
}
static inline ssize_t sys_sendfile(int out, int in, off_t *off, size_t n)
{
	return MS_SYSCALL_AS("sendfile", SYS_sendfile, out, in, off, n);
}

/* Sockets by system call too: fds that libc (and sanitizers' interceptors)
 * never hear of, like every other fd core opens. */
static inline int sys_socket(int domain, int type, int proto)
{
	return (int)MS_SYSCALL_AS("socket", SYS_socket, domain, type, proto);
}
static inline int sys_connect(int fd, const void *sa, unsigned len)
{
	return (int)MS_SYSCALL_AS("connect", SYS_connect, fd, sa, len);
}
static inline int sys_bind(int fd, const void *sa, unsigned len)
{
	return (int)MS_SYSCALL_AS("bind", SYS_bind, fd, sa, len);
}
static inline int sys_getsockopt(int fd, int level, int name, void *v, void *len)
{
	return (int)MS_SYSCALL_AS("getsockopt", SYS_getsockopt, fd, level, name, v, len);
}
static inline int sys_setsockopt(int fd, int level, int name, const void *v, unsigned len)
{
	return (int)MS_SYSCALL_AS("setsockopt", SYS_setsockopt, fd, level, name, v, len);
}
static inline ssize_t sys_sendto(int fd, const void *buf, size_t n, int flags)
{
	return MS_SYSCALL_AS("sendto", SYS_sendto, fd, buf, n, flags, NULL, 0);
}
static inline ssize_t sys_recvmsg(int fd, void *mh, int flags)
{
	return MS_SYSCALL_AS("recvmsg", SYS_recvmsg, fd, mh, flags);
}

/* mmap through libc (sanitizers follow the mappings it makes); 0 and *out,
 * or -errno. By its other name, mmap64, which the shim does not wrap: its
 * mmap wrapper is for programs (shim/fd.c). */
static inline int sys_mmap(void **out, size_t len, int prot, int flags, int fd, off_t off)
{
	int f = MS_FAULT("mmap");
	if (f)
		return f;
	int saved = errno;
	void *p = mmap64(NULL, len, prot, flags, fd, off);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	if (!r)
		*out = p;
	return r;
}
static inline ssize_t sys_sendmsg(int fd, const void *mh, int flags)
{
	return MS_SYSCALL(SYS_sendmsg, fd, mh, flags);
}
static inline int sys_socketpair(int domain, int type, int proto, int sv[2])
{
	return (int)MS_SYSCALL_AS("socketpair", SYS_socketpair, domain, type, proto, sv);
}
#endif
