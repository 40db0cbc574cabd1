/* shimprobe — small scenarios run under the preload by tests/test_shim_fd.c.
 * Each prints "key=value" lines the test checks. Uses libc only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>

pid_t _Fork(void);
#include <unistd.h>

static char big[1 << 20];

static void res(const char *what, long r)
{
	printf("%s=%ld errno=%s\n", what, r, r < 0 ? strerrorname_np(errno) : "0");
}

static long fsize(int fd)
{
	struct stat st;
	return fstat(fd, &st) ? -1 : (long)st.st_size;
}

static int mk(const char *p, int extra)
{
	int fd = open(p, O_CREAT | O_RDWR | extra, 0644);
	if (fd < 0) {
		perror(p);
		exit(3);
	}
	return fd;
}

/* The child of vfork-open and clone-open: a store file open at the end,
 * at two numbers (the parent later has real files there). */
static int child_opens(void *arg)
{
	(void)arg;
	int f = open("/mem/by-child", O_CREAT | O_WRONLY, 0644);
	dup2(f, 40);
	_exit(0);
}

/* getpid, geteuid, getegid and sendto system calls counted from
 * count_getpid() on, fstat from count_fstat() on: a seccomp filter traps
 * them and the handler answers as the kernel would (the caller's thread id
 * is its pid: a one-thread process, or a vfork child; sendto is sendmsg
 * with one buffer; fstat is newfstatat with AT_EMPTY_PATH). */
static volatile long getpid_calls, getid_calls, sendto_calls, fstat_calls, ftruncate_calls,
	lseek_calls;

/* The offset of fd, as lseek(fd, 0, SEEK_CUR) gives it: from its fdinfo. */
static long fd_pos(int fd)
{
	char path[48], b[256];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	int f = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -EBADF;
	ssize_t n = syscall(SYS_read, f, b, sizeof(b) - 1);
	syscall(SYS_close, f);
	b[n > 0 ? n : 0] = 0;
	char *p = strstr(b, "pos:");
	return p ? strtol(p + 4, NULL, 10) : -EINVAL;
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	ucontext_t *uc = ctx;
	long r = -1;
	unsigned id[3];
	greg_t *g = uc->uc_mcontext.gregs;
	if (si->si_syscall == SYS_ftruncate) {
		/* through the fd's /proc name: truncate is not trapped */
		char path[40];
		ftruncate_calls++;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", (int)g[REG_RDI]);
		r = syscall(SYS_truncate, path, (long)g[REG_RSI]);
		if (r < 0)
			r = -errno;
	} else if (si->si_syscall == SYS_fstat) {
		fstat_calls++;
		r = syscall(SYS_newfstatat, (int)g[REG_RDI], "", (void *)g[REG_RSI], AT_EMPTY_PATH);
		if (r < 0)
			r = -errno;
	} else if (si->si_syscall == SYS_sendto) {
		/* the keeper's pokes (core/keeper.c): sent as sendmsg */
		sendto_calls++;
		struct iovec v = {(void *)g[REG_RSI], (size_t)g[REG_RDX]};
		struct msghdr m = {.msg_name = (void *)g[REG_R8],
				   .msg_namelen = (socklen_t)g[REG_R9],
				   .msg_iov = &v,
				   .msg_iovlen = 1};
		r = syscall(SYS_sendmsg, (int)g[REG_RDI], &m, (int)g[REG_R10]);
		if (r < 0)
			r = -errno;
	} else if (si->si_syscall == SYS_lseek) {
		lseek_calls++; /* only lseek(fd, 0, SEEK_CUR) is trapped */
		r = fd_pos((int)g[REG_RDI]);
	} else if (si->si_syscall == SYS_getpid) {
		getpid_calls++;
		r = syscall(SYS_gettid);
	} else {
		getid_calls++;
		syscall(si->si_syscall == SYS_geteuid ? SYS_getresuid : SYS_getresgid, &id[0], &id[1],
			&id[2]);
		r = id[1];
	}
	uc->uc_mcontext.gregs[REG_RAX] = r;
}

/* Installs seccomp program f (k instructions), whose traps on_sigsys
 * answers. */
static void trap_with(struct sock_filter *f, int k)
{
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigaction(SIGSYS, &sa, NULL);
	struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("seccomp");
		exit(3);
	}
}

/* Traps the n system calls nr[] from now on (on_sigsys answers them). */
static void trap_syscalls(const int *nr, int n)
{
	struct sock_filter f[16];
	int k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					     offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n && k < 14; i++) /* a match jumps to the TRAP */
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr[i],
						      (unsigned char)(n - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
	trap_with(f, k);
}

static void count_getpid(void)
{
	static const int nr[] = {SYS_sendto, SYS_getpid, SYS_geteuid, SYS_getegid};
	trap_syscalls(nr, 4);
}

static void count_ftruncate(void)
{
	static const int nr[] = {SYS_ftruncate};
	trap_syscalls(nr, 1);
}

/* Traps lseek(fd, 0, SEEK_CUR), the question of an fd's offset; every
 * other lseek runs. */
static void count_lseek_cur(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_lseek, 0, 6),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SEEK_CUR, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	trap_with(f, (int)(sizeof(f) / sizeof(f[0])));
}

static void count_fstat(void)
{
	static const int nr[] = {SYS_fstat};
	trap_syscalls(nr, 1);
}

/* Entries of /proc/self/fd the program sees, its listing's own included. */
static int count_own_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Whether /mem/h/f<i> reads back "file <i>" through a fresh open. */
static int read_back(int i, char *want, char *got)
{
	char p[64];
	snprintf(p, sizeof(p), "/mem/h/f%03d", i);
	int n = snprintf(want, 32, "file %d", i);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t k = read(fd, got, 32);
	close(fd);
	return k == n && memcmp(got, want, (size_t)n) == 0;
}

/* The bracketed word of a transparent huge page setting is one of ok1,
 * ok2 (or the file is missing). */
static int thp_is(const char *path, const char *ok1, const char *ok2)
{
	char buf[160] = "";
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT;
	size_t k = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[k] = 0;
	char w1[40], w2[40];
	snprintf(w1, sizeof(w1), "[%s]", ok1);
	snprintf(w2, sizeof(w2), "[%s]", ok2);
	return strstr(buf, w1) || strstr(buf, w2);
}

/* The test's own reading of "shmem never has huge pages" (core/arena.c
 * reads it for the store). */
static int shmem_small_pages(void)
{
	const char *top = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
	if (thp_is(top, "deny", "deny"))
		return 1;
	if (!thp_is(top, "never", "never"))
		return 0;
	static const char *const sizes[] = {"8", "16", "32", "64", "128", "256", "512", "1024", "2048"};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char p[120];
		snprintf(p, sizeof(p), "/sys/kernel/mm/transparent_hugepage/hugepages-%skB/shmem_enabled",
			 sizes[i]);
		if (!thp_is(p, "never", "inherit"))
			return 0;
	}
	return 1;
}

/* escape-threads: each thread stats real directories through the store's
 * "..", and checks it reached each (the path to continue with is the
 * thread's own). */
static const char *const esc_dirs[] = {"/etc", "/usr", "/tmp", "/proc"};
static ino_t esc_ino[4];

static int esc_plain; /* 1: the real directories by their own paths */

static void *escape_thread(void *arg)
{
	long t = (long)arg, bad = 0;
	char path[64];
	snprintf(path, sizeof(path), "%s%s", esc_plain ? "" : "/mem/..", esc_dirs[t % 4]);
	for (int i = 0; i < 500; i++) {
		struct stat st;
		if (stat(path, &st) || st.st_ino != esc_ino[t % 4])
			bad++;
	}
	return (void *)bad;
}

/* Anonymous memory of this process, in kB. */
static long rss_anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *op = argv[1];
	long n = argc > 2 ? atol(argv[2]) : 0;
	memset(big, 'z', sizeof(big));
	if (!strcmp(op, "write")) { /* one write of n bytes after 10 bytes */
		int fd = mk("/mem/w", 0);
		res("first", write(fd, big, 10));
		res("write", write(fd, big, (size_t)n));
		printf("size=%ld off=%ld\n", fsize(fd), (long)lseek(fd, 0, SEEK_CUR));
	} else if (!strcmp(op, "pwrite")) { /* one byte at offset n */
		int fd = mk("/mem/p", 0);
		res("pwrite", pwrite(fd, "x", 1, (off_t)n));
		printf("size=%ld\n", fsize(fd));
	} else if (!strcmp(op, "writev")) {
		int fd = mk("/mem/v", 0);
		struct iovec iov[2] = {{big, (size_t)n / 2}, {big, (size_t)n - (size_t)n / 2}};
		res("writev", writev(fd, iov, 2));
		printf("size=%ld\n", fsize(fd));
	} else if (!strcmp(op, "append")) {
		int fd = mk("/mem/a", O_APPEND);
		for (int i = 0; i < 3; i++)
			write(fd, "abc", 3);
		lseek(fd, 0, SEEK_SET);
		res("append", write(fd, "Z", 1));
		char buf[16] = {0};
		pread(fd, buf, sizeof(buf) - 1, 0);
		printf("content=%s\n", buf);
	} else if (!strcmp(op, "ftruncate")) {
		int fd = mk("/mem/t", 0);
		res("ftruncate", ftruncate(fd, (off_t)n));
		printf("size=%ld\n", fsize(fd));
	} else if (!strcmp(op, "fallocate")) {
		int fd = mk("/mem/f", 0);
		res("fallocate", fallocate(fd, 0, 0, (off_t)n));
		printf("size=%ld\n", fsize(fd));
		int e = posix_fallocate(fd, 0, (off_t)n * 2);
		printf("posix_fallocate=%s\n", e ? strerrorname_np(e) : "0");
		printf("size=%ld\n", fsize(fd));
	} else if (!strcmp(op, "copy")) { /* n bytes from a real file by each means */
		char src[] = "/dev/shm/msprobe.XXXXXX";
		int s = mkstemp(src);
		write(s, big, (size_t)n);
		int d = mk("/mem/c", 0);
		off_t off = 0;
		res("copy_file_range", copy_file_range(s, &off, d, NULL, (size_t)n, 0));
		printf("size=%ld\n", fsize(d));
		int d2 = mk("/mem/s", 0);
		off = 0;
		res("sendfile", sendfile(d2, s, &off, (size_t)n));
		printf("size=%ld\n", fsize(d2));
		unlink(src);
	} else if (!strcmp(op, "fork")) { /* offsets shared with a child */
		int fd = mk("/mem/k", 0);
		write(fd, "parent ", 7);
		pid_t p = fork();
		if (p == 0) {
			write(fd, "child ", 6);
			_exit(0);
		}
		waitpid(p, NULL, 0);
		write(fd, "again", 5);
		char buf[64] = {0};
		pread(fd, buf, sizeof(buf) - 1, 0);
		printf("content=%s\n", buf);
	} else if (!strcmp(op, "dup")) { /* every duplicate is quota-checked */
		int fd = mk("/mem/d", 0);
		int a = dup(fd), b = fcntl(fd, F_DUPFD_CLOEXEC, 50), c = dup2(fd, 60);
		res("dup", write(a, big, (size_t)n));
		res("fdupfd", write(b, big, (size_t)n));
		res("dup2", write(c, big, (size_t)n));
		printf("size=%ld\n", fsize(fd));
	} else if (!strcmp(op, "closeall")) { /* programs that close every fd */
		close_range(3, ~0U, 0);
		int fd = mk("/mem/after", 0);
		res("write", write(fd, "ok", 2));
		for (int i = 3; i < 2000; i++)
			if (i != fd)
				close(i);
		int g = mk("/mem/after2", 0);
		res("write2", write(g, "ok", 2));
		struct stat st;
		res("stat", stat("/mem/after", &st));
	} else if (!strcmp(op, "mmap")) {
		int fd = mk("/mem/m", 0);
		ftruncate(fd, 8192);
		char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		memcpy(m + 4096, "mapped", 6);
		munmap(m, 8192);
		char buf[8] = {0};
		int g = open("/mem/m", O_RDONLY);
		pread(g, buf, 6, 4096);
		printf("content=%s\n", buf);
	} else if (!strcmp(op, "stat")) {
		int fd = mk("/mem/st", 0);
		write(fd, big, 5000);
		link("/mem/st", "/mem/st2");
		struct stat a, b, c;
		stat("/mem/st", &a);
		fstat(fd, &b);
		lstat("/mem/st2", &c);
		printf("same_dev=%d same_ino=%d link_ino=%d nlink=%ld size=%ld blocks=%ld blksize=%ld\n",
		       a.st_dev == b.st_dev, a.st_ino == b.st_ino, a.st_ino == c.st_ino,
		       (long)a.st_nlink, (long)b.st_size, (long)a.st_blocks, (long)a.st_blksize);
		printf("same_mtime=%d mode=%o\n",
		       a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec,
		       a.st_mode);
		struct stat r;
		stat("/", &r);
		printf("dev_differs_from_real=%d\n", a.st_dev != r.st_dev);
		struct statx x;
		res("statx", statx(AT_FDCWD, "/mem/st", 0, STATX_BASIC_STATS, &x));
		printf("statx_ino_same=%d statx_size=%llu\n", x.stx_ino == a.st_ino,
		       (unsigned long long)x.stx_size);
	} else if (!strcmp(op, "statvfs")) {
		struct statvfs v;
		res("statvfs", statvfs("/mem", &v));
		printf("bytes=%llu files=%llu\n", (unsigned long long)v.f_blocks * v.f_frsize,
		       (unsigned long long)v.f_files);
		mk("/mem/x", 0);
		struct statvfs w;
		statvfs("/mem", &w);
		printf("ffree_drop=%llu\n", (unsigned long long)(v.f_ffree - w.f_ffree));
	} else if (!strcmp(op, "exdev")) {
		mk("/mem/e", 0);
		res("rename_out", rename("/mem/e", "/dev/shm/msprobe-e"));
		res("link_out", link("/mem/e", "/dev/shm/msprobe-e"));
		res("rename_in", rename("/etc/hostname", "/mem/h"));
	} else if (!strcmp(op, "xattr")) {
		mk("/mem/x", 0);
		char v[8];
		static char big[65000];
		res("getxattr", getxattr("/mem/x", "user.a", v, sizeof(v)));
		res("setxattr", setxattr("/mem/x", "user.a", "1", 1, 0));
		res("listxattr", listxattr("/mem/x", v, sizeof(v)));
		res("missing", getxattr("/mem/nope", "user.a", v, sizeof(v)));
		/* more than the quota has left: refused whole */
		res("setxattr_big", setxattr("/mem/x", "user.big", big, sizeof(big), 0));
		res("getxattr_big", getxattr("/mem/x", "user.big", NULL, 0));
		res("listxattr_after", listxattr("/mem/x", NULL, 0));
		res("setxattr_fits", setxattr("/mem/x", "user.big", big, 30000, 0));
		res("getxattr_fits", getxattr("/mem/x", "user.big", NULL, 0));
	} else if (!strcmp(op, "mknod")) {
		res("fifo", mkfifo("/mem/fifo", 0644));
		res("reg", mknod("/mem/reg", S_IFREG | 0600, 0));
		struct stat st;
		stat("/mem/reg", &st);
		printf("reg_mode=%o\n", st.st_mode);
		res("again", mknod("/mem/reg", S_IFREG | 0600, 0));
	} else if (!strcmp(op, "access")) {
		mk("/mem/ac", 0);
		res("f_ok", access("/mem/ac", F_OK));
		res("w_ok", access("/mem/ac", W_OK));
		res("x_ok", access("/mem/ac", X_OK));
		chmod("/mem/ac", 0755);
		res("x_ok_755", access("/mem/ac", X_OK));
		res("missing", access("/mem/none", F_OK));
	} else if (!strcmp(op, "procfd")) { /* tar chmods through /proc/self/fd */
		int fd = mk("/mem/pf", 0);
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		res("chmod", chmod(p, 0600));
		struct stat st;
		stat("/mem/pf", &st);
		printf("mode=%o\n", st.st_mode & 07777);
		int g = open(p, O_RDWR);
		res("reopen_write", write(g, "hi", 2));
		printf("size=%ld\n", fsize(fd));
	} else if (!strcmp(op, "untouched")) { /* real paths behave as without us */
		struct stat st;
		errno = 0;
		res("open_missing", open("/nonexistent/x", O_RDONLY));
		res("stat_real", stat("/etc/hostname", &st));
		res("memx", open("/memx/a", O_RDONLY));
		res("mem_prefix_sibling", open("/mem2", O_RDONLY));
	} else if (!strcmp(op, "relative")) { /* from real cwd "/" into the store */
		chdir("/");
		int fd = open("mem/rel", O_CREAT | O_WRONLY, 0644);
		res("open_rel", fd);
		struct stat st;
		res("stat_abs", stat("/mem/rel", &st));
		chdir("/tmp");
		res("stat_dotdot", stat("../mem/rel", &st));
	} else if (!strcmp(op, "rdonly")) {
		mk("/mem/ro", 0);
		int fd = open("/mem/ro", O_RDONLY);
		res("write_rdonly", write(fd, "x", 1));
		res("read_dirfd", read(open("/mem", O_RDONLY | O_DIRECTORY), big, 1));
	} else if (!strcmp(op, "misc")) { /* names glibc reaches only internally */
		mk("/mem/m", 0);
		res("pathconf_name_max", pathconf("/mem/m", _PC_NAME_MAX));
		res("pathconf_missing", pathconf("/mem/none", _PC_NAME_MAX));
		res("fpathconf", fpathconf(open("/mem/m", O_RDONLY), _PC_PATH_MAX));
		symlink("m", "/mem/l");
		res("lchmod_symlink", lchmod("/mem/l", 0600));
		res("lchmod_file", lchmod("/mem/m", 0600));
		struct stat st;
		stat("/mem/m", &st);
		printf("mode=%o\n", st.st_mode & 07777);
	} else if (!strcmp(op, "fork-refs")) { /* a child's close must not free the parent's file */
		int fd = mk("/mem/orphan", 0);
		write(fd, big, 8192);
		unlink("/mem/orphan");
		pid_t p = _Fork();
		if (p == 0) {
			close(fd);
			_exit(0);
		}
		waitpid(p, NULL, 0);
		struct statvfs v;
		statvfs("/mem", &v);
		printf("used_blocks=%llu\n", (unsigned long long)(v.f_blocks - v.f_bfree));
		res("write_after", write(fd, "x", 1));
	} else if (!strcmp(op, "vfork-open") || !strcmp(op, "clone-open")) {
		/* a store fd of a child that shares our memory is not ours:
		 * made by vfork, or by clone with CLONE_VM (no handlers) */
		close(mk("/mem/attached", 0));
		pid_t p;
		if (op[0] == 'v') {
			p = vfork();
			if (p == 0)
				child_opens(NULL);
		} else {
			static char stack[64 << 10];
			p = clone(child_opens, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);
		}
		waitpid(p, NULL, 0);
		/* the numbers the child's fds had, now real files of ours */
		int r = open("/dev/null", O_RDONLY), r40 = dup2(r, 40);
		struct stat st, st40;
		fstat(r, &st);
		fstat(r40, &st40);
		printf("real_is_chr=%d real40_is_chr=%d\n", S_ISCHR(st.st_mode), S_ISCHR(st40.st_mode));
		res("read_real", read(r, big, 10));
	} else if (!strcmp(op, "counted-writes")) {
		/* appends and overwrites of a file with no holes settle without
		 * an fstat (core/data.c, counted) and leave what the kernel has */
		int fd = mk("/mem/cw", O_TRUNC);
		close(mk("/mem/attach-first", 0));
		count_fstat();
		for (int i = 0; i < 50; i++)
			if (write(fd, big, 1000) != 1000)
				return 3;
		lseek(fd, 4000, SEEK_SET);
		if (write(fd, big, 9000) != 9000) /* over the end, and past it */
			return 3;
		long counted = fstat_calls;
		lseek(fd, 1 << 20, SEEK_SET);
		if (write(fd, big, 10) != 10) /* a hole: the kernel is asked */
			return 3;
		printf("fstat_in_writes=%ld small_pages=%d asked_after_hole=%d\n", counted,
		       shmem_small_pages(), fstat_calls > counted);
		struct stat byname, bykernel;
		stat("/mem/cw", &byname);
		syscall(SYS_newfstatat, fd, "", &bykernel, AT_EMPTY_PATH);
		printf("size=%lld kernel=%lld blocks=%lld kernel=%lld\n", (long long)byname.st_size,
		       (long long)bykernel.st_size, (long long)byname.st_blocks,
		       (long long)bykernel.st_blocks);
		printf("agree=%d\n", byname.st_size == bykernel.st_size &&
					     byname.st_blocks == bykernel.st_blocks);
		/* an O_TRUNC open of a file with pages, and a write: what
		 * fopen("w") and a rewrite of a file do */
		long t0 = fstat_calls;
		int t = open("/mem/cw", O_WRONLY | O_TRUNC);
		if (t < 0 || write(t, big, 4096) != 4096)
			return 3;
		printf("fstat_in_trunc_write=%ld\n", fstat_calls - t0);
		stat("/mem/cw", &byname);
		syscall(SYS_newfstatat, t, "", &bykernel, AT_EMPTY_PATH);
		printf("agree_after_trunc=%d\n", byname.st_size == bykernel.st_size &&
						       byname.st_blocks == bykernel.st_blocks);
	} else if (!strcmp(op, "size-agree")) {
		/* n random writes, appends, pwrites, truncates and O_TRUNC
		 * opens of one file: after each, stat by name (the store's
		 * size and charge, counted or asked: core/data.c) must be
		 * what the kernel's fstat says */
		unsigned seed = (unsigned)(argc > 3 ? atol(argv[3]) : 1);
		int fd = mk("/mem/sa", O_TRUNC), bad = 0;
		int app = open("/mem/sa", O_WRONLY | O_APPEND);
		for (long i = 0; i < n && !bad; i++) {
			unsigned r = (unsigned)rand_r(&seed);
			size_t len = 1 + (unsigned)rand_r(&seed) % 9000;
			off_t at = (off_t)((unsigned)rand_r(&seed) % (192 * 1024));
			switch (r % 6) {
			case 0:
				lseek(fd, at, SEEK_SET);
				(void)!write(fd, big, len);
				break;
			case 1:
				(void)!write(app, big, len);
				break;
			case 2:
				(void)!pwrite(fd, big, len, at);
				break;
			case 3:
				(void)!ftruncate(fd, at);
				break;
			case 4:
				close(fd);
				fd = open("/mem/sa", O_RDWR | O_TRUNC);
				break;
			default: /* a write at the end, as a log grows */
				lseek(fd, 0, SEEK_END);
				(void)!write(fd, big, len);
			}
			struct stat byname, bykernel;
			stat("/mem/sa", &byname);
			syscall(SYS_newfstatat, fd, "", &bykernel, AT_EMPTY_PATH);
			if (byname.st_size != bykernel.st_size || byname.st_blocks != bykernel.st_blocks) {
				printf("op %ld (%u): size %lld kernel %lld, blocks %lld kernel %lld\n", i,
				       r % 6, (long long)byname.st_size, (long long)bykernel.st_size,
				       (long long)byname.st_blocks, (long long)bykernel.st_blocks);
				bad = 1;
			}
		}
		printf("size_agree=%d\n", !bad);
	} else if (!strcmp(op, "escape-threads")) {
		/* n threads one after another, then 4 at once; a thread's page
		 * for the path goes with it. What n threads that stat without
		 * escaping leave behind (a sanitizer's runtime keeps some of each
		 * thread's) is told apart: they run first, twice, the first time
		 * to warm up. */
		for (int d = 0; d < 4; d++) {
			struct stat st;
			stat(esc_dirs[d], &st);
			esc_ino[d] = st.st_ino;
		}
		long bad = 0, grown[3];
		for (int round = 0; round < 3; round++) {
			esc_plain = round < 2;
			long before = rss_anon_kb();
			for (long i = 0; i < n; i++) {
				pthread_t th;
				void *r;
				pthread_create(&th, NULL, escape_thread, (void *)i);
				pthread_join(th, &r);
				bad += (long)r;
			}
			grown[round] = rss_anon_kb() - before;
		}
		pthread_t th[4];
		for (long i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, escape_thread, (void *)i);
		for (int i = 0; i < 4; i++) {
			void *r;
			pthread_join(th[i], &r);
			bad += (long)r;
		}
		printf("wrong=%ld anon_grown_kb=%ld plain_grown_kb=%ld\n", bad, grown[2], grown[1]);
	} else if (!strcmp(op, "holder-reopen")) {
		/* Run with a hard fd limit of 128, so that past 64 files the
		 * keeper's holders hold the memfds (keeper/holder.c). The
		 * second re-open in a row in one holder keeps its /proc
		 * directory (core/memfd.c, holder_open): later ones make no
		 * fstat; the directory is as hidden as the store's other fds. */
		char p[64], want[32], got[32];
		mkdir("/mem/h", 0755);
		for (int i = 0; i < 300; i++) {
			snprintf(p, sizeof(p), "/mem/h/f%03d", i);
			int fd = mk(p, O_EXCL);
			int n = snprintf(want, sizeof(want), "file %d", i);
			if (write(fd, want, (size_t)n) != n)
				return 3;
			close(fd);
		}
		int visible = count_own_fds();
		count_fstat();
		int good = 1;
		long f0 = fstat_calls;
		for (int k = 0; k < 50; k++)
			good &= read_back(299, want, got);
		printf("fstat_for_50_reopens=%ld\n", fstat_calls - f0);
		/* fopen "w" through the kept directory: O_TRUNC in the open */
		count_ftruncate();
		for (int k = 0; k < 5; k++) {
			FILE *f = fopen("/mem/h/f299", "w");
			good &= f && fputs("file 299", f) >= 0 && fclose(f) == 0;
			good &= read_back(299, want, got);
		}
		printf("ftruncate_for_o_trunc_in_holder=%ld\n", ftruncate_calls);
		/* three holders and the keeper in turn: each re-open the file's */
		static const int turn[] = {70, 299, 10, 180, 299, 70, 71, 10};
		for (int k = 0; k < 200; k++)
			good &= read_back(turn[k % 8], want, got);
		printf("contents_right=%d\n", good);
		printf("visible_fds_same=%d\n", count_own_fds() == visible);
		close_range(3, ~0U, 0);
		printf("after_close_range=%d\n", read_back(299, want, got) && read_back(71, want, got));
	} else if (!strcmp(op, "trunc-count")) {
		/* O_TRUNC of a file that is there, opened for writing (open,
		 * fopen "w"), is cut by the re-open itself (core/memfd.c):
		 * no ftruncate; read-only, it is cut through a second fd */
		int fd = mk("/mem/t", 0);
		count_ftruncate();
		int good = 1;
		for (int i = 0; i < 20; i++) {
			if (write(fd, big, 8192) != 8192)
				return 3;
			FILE *f = i % 2 ? fopen("/mem/t", "w") : NULL;
			int t = f ? -1 : open("/mem/t", O_WRONLY | O_TRUNC);
			struct stat st;
			good &= stat("/mem/t", &st) == 0 && st.st_size == 0 && st.st_blocks == 0;
			if (f) {
				good &= fwrite(big, 1, 100, f) == 100 && fclose(f) == 0;
				good &= stat("/mem/t", &st) == 0 && st.st_size == 100;
			} else {
				good &= t >= 0 && write(t, "x", 1) == 1 && close(t) == 0;
				good &= stat("/mem/t", &st) == 0 && st.st_size == 1;
			}
			lseek(fd, 0, SEEK_SET);
		}
		long writable = ftruncate_calls;
		close(open("/mem/t", O_RDONLY | O_TRUNC));
		struct stat st;
		good &= stat("/mem/t", &st) == 0 && st.st_size == 0;
		printf("ftruncate_for_writable_o_trunc=%ld\n", writable);
		printf("ftruncate_for_read_only_o_trunc=%ld\n", ftruncate_calls - writable);
		printf("sizes_right=%d\n", good);
	} else if (!strcmp(op, "lseek-count")) {
		/* The first write of a fresh description is at its offset 0,
		 * known without asking the kernel (fd.c, kernel_write): files
		 * made by open and write, or fopen "w" and fwrite, make no
		 * lseek; a later write asks, and every write lands where the
		 * kernel puts it (a dup's, one after a read, a lent
		 * description's after reads through it) */
		count_lseek_cur();
		int good = 1;
		for (int i = 0; i < 20; i++) {
			int fd = open("/mem/w", O_CREAT | O_WRONLY | O_TRUNC, 0644);
			good &= fd >= 0 && write(fd, big, 100) == 100 && close(fd) == 0;
			FILE *f = fopen("/mem/w2", "w");
			good &= f && fwrite(big, 1, 100, f) == 100 && fclose(f) == 0;
		}
		long fresh = lseek_calls;
		int fd = open("/mem/w", O_WRONLY | O_TRUNC);
		good &= write(fd, "ab", 2) == 2 && write(fd, "cd", 2) == 2;
		int d = dup(fd);
		good &= write(d, "ef", 2) == 2 && write(fd, "gh", 2) == 2;
		close(d);
		close(fd);
		char c[16] = {0};
		fd = open("/mem/w", O_RDWR);
		good &= read(fd, c, 3) == 3 && write(fd, "XY", 2) == 2;
		close(fd);
		for (int i = 0; i < 3; i++) {
			fd = open("/mem/w", O_RDWR);
			good &= read(fd, c, 1) == 1;
			close(fd);
		}
		fd = open("/mem/w", O_RDWR); /* lent, set back to 0 */
		good &= write(fd, "Z", 1) == 1;
		close(fd);
		fd = open("/mem/w", O_RDONLY);
		ssize_t n = read(fd, c, sizeof(c) - 1);
		close(fd);
		struct stat st;
		good &= n == 8 && !memcmp(c, "ZbcXYfgh", 8) && stat("/mem/w", &st) == 0 &&
			st.st_size == 8;
		/* fresh descriptions another fd or process moved first: the
		 * size the store gives is the kernel's */
		fd = open("/mem/w3", O_CREAT | O_WRONLY | O_TRUNC, 0644);
		d = dup(fd);
		good &= write(d, "12", 2) == 2 && write(fd, "34", 2) == 2;
		close(d);
		close(fd);
		good &= stat("/mem/w3", &st) == 0 && st.st_size == 4;
		fd = open("/mem/w3", O_WRONLY | O_TRUNC);
		pid_t p = fork();
		if (p == 0)
			_exit(write(fd, "56", 2) == 2 ? 0 : 1);
		int ws;
		good &= p > 0 && waitpid(p, &ws, 0) == p && ws == 0 && write(fd, "78", 2) == 2;
		close(fd);
		good &= stat("/mem/w3", &st) == 0 && st.st_size == 4;
		printf("lseeks_for_fresh_writes=%ld\n", fresh);
		printf("lseeks_after=%d\n", lseek_calls > fresh);
		printf("contents_right=%d\n", good);
	} else if (!strcmp(op, "getpid-count")) {
		/* the store's open, create and close make no getpid (nor
		 * geteuid, getegid); after a vfork the parent asks once (fd.c,
		 * ms_in_vfork_child) */
		close(mk("/mem/f", 0));
		count_getpid();
		long c0 = getpid_calls;
		for (int i = 0; i < 100; i++) {
			close(open("/mem/f", O_RDONLY));
			int fd = open("/mem/new", O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (write(fd, big, 4096) != 4096)
				return 3;
			close(fd);
			unlink("/mem/new");
			/* paced, so that the keeper has always answered the
			 * last poke (its flag cleared) and a poke for every
			 * file would be seen as such, whatever the speed of
			 * the loop against the keeper's wake-up */
			usleep(2000);
		}
		printf("getpid_in_store_calls=%ld\n", getpid_calls - c0);
		printf("geteuid_getegid_in_store_calls=%ld\n", getid_calls);
		printf("keeper_woken_at_most_12=%d (%ld)\n", sendto_calls <= 12, (long)sendto_calls);
		pid_t p = vfork();
		if (p == 0)
			child_opens(NULL);
		waitpid(p, NULL, 0);
		long c1 = getpid_calls;
		for (int i = 0; i < 10; i++)
			close(open("/mem/f", O_RDONLY));
		printf("getpid_after_vfork=%ld\n", getpid_calls - c1);
	} else {
		return 2;
	}
	return 0;
}
