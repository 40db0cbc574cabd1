/* specialops — FIFOs, device nodes and Unix-domain sockets in a directory,
 * for the differential tests (tests/test_e2e_diff.c, Test(e2e_diff,
 * fifos) and Test(e2e_diff, sockets)): run under the preload on a store
 * directory and without it on a tmpfs directory, the outputs must be the
 * same.
 *
 *   specialops DIR fifo|sock     DIR: an existing, empty directory
 *
 * fifo: mkfifo/mkfifoat/mknod(at) of every type and their errors, stat,
 * lstat, fstatat, statx and readdir of each, opens of a FIFO (O_NONBLOCK
 * with and without a reader, O_RDWR, O_DIRECTORY, O_EXCL, a trailing
 * slash, through a symlink), a writer and a reader in two processes each
 * waiting for the other end, a character device, exec, truncate, chmod,
 * chown, links, renames and unlinks, relative and /proc/self/fd/N/name
 * forms.
 * sock: bind/listen/connect/accept/send/recv on stream sockets through
 * absolute, relative (store cwd), symlinked and /proc/self/fd/N/name
 * paths; EADDRINUSE, EINVAL, ENOENT, ENOTDIR, ECONNREFUSED; rename, link,
 * unlink and bind again; the names getsockname, getpeername, accept,
 * recvfrom and recvmsg report; datagrams with sendto, sendmsg, sendmmsg
 * and recvmmsg.
 * uid (as root): special files made and used by processes that switched
 * their effective uid and gid as pjdfstest does (seteuid, setegid): who
 * may make them where, who owns them, who may open a FIFO or connect to a
 * socket, sticky-directory unlinks — the kernel's permission checks
 * through the store's real counterparts.
 *
 * One line per call: what, "->", the result, the errno name. Nothing that
 * legitimately differs is printed (fd and inode numbers, times). Sockets
 * never block: a side that gets it wrong prints a different line rather
 * than hang.
 *
 * With SPECIALOPS_DIR_OUT=<file>, the directory holding the real node
 * behind a FIFO of DIR, when it is not DIR itself (under the store: the
 * store's private directory), is written to <file> for the test to check
 * it is gone once the store ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/ops.h"

/* An errno's name, "0" for none. */
static const char *en0(int e) { return e ? en(e) : "0"; }

#define R(what, call)                                                              \
	({                                                                         \
		errno = 0;                                                         \
		long r_ = (long)(call);                                            \
		int e_ = errno;                                                    \
		printf("%s -> %ld %s\n", (what), r_ < 0 ? -1L : r_ > 0 && r_ < 1000 ? r_ : 0L, \
		       r_ < 0 ? en0(e_) : "0");                                     \
		fflush(stdout);                                                    \
		errno = e_;                                                        \
		r_;                                                                \
	})
/* Calls whose result is an fd: only whether it is one. */
#define FD(what, call)                                                             \
	({                                                                         \
		errno = 0;                                                         \
		int fd_ = (call);                                                  \
		int e_ = errno;                                                    \
		printf("%s -> %s %s\n", (what), fd_ >= 0 ? "fd" : "-1", fd_ >= 0 ? "0" : en0(e_)); \
		fflush(stdout);                                                    \
		errno = e_;                                                        \
		fd_;                                                               \
	})

static const char *type_name(mode_t m)
{
	return S_ISREG(m) ? "reg" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "lnk" : S_ISFIFO(m) ? "fifo"
	       : S_ISSOCK(m) ? "sock" : S_ISCHR(m) ? "chr" : S_ISBLK(m) ? "blk" : "?";
}

static void stat_line(const char *how, const char *name)
{
	struct stat st;
	int r;
	struct statx x;
	if (!strcmp(how, "lstat"))
		r = lstat(P(name), &st);
	else if (!strcmp(how, "fstatat"))
		r = fstatat(AT_FDCWD, P(name), &st, AT_SYMLINK_NOFOLLOW);
	else if (!strcmp(how, "statx")) {
		r = statx(AT_FDCWD, P(name), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x);
		if (r == 0) {
			printf("statx %s -> %s %04o nlink=%u size=%llu blocks=%llu rdev=%u,%u\n", name,
			       type_name(x.stx_mode), x.stx_mode & 07777, x.stx_nlink,
			       (unsigned long long)x.stx_size, (unsigned long long)x.stx_blocks,
			       x.stx_rdev_major, x.stx_rdev_minor);
			return;
		}
	} else
		r = stat(P(name), &st);
	if (r) {
		printf("%s %s -> -1 %s\n", how, name, en0(errno));
		return;
	}
	printf("%s %s -> %s %04o nlink=%lu size=%lld blocks=%lld rdev=%u,%u uid=%u gid=%u\n", how, name,
	       type_name(st.st_mode), st.st_mode & 07777, (unsigned long)st.st_nlink,
	       (long long)st.st_size, (long long)st.st_blocks, major(st.st_rdev),
	       minor(st.st_rdev), st.st_uid, st.st_gid);
}

static void stats(const char *name)
{
	stat_line("stat", name);
	stat_line("lstat", name);
	stat_line("fstatat", name);
	stat_line("statx", name);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *dt_name(unsigned char t)
{
	switch (t) {
	case DT_REG: return "reg";
	case DT_DIR: return "dir";
	case DT_LNK: return "lnk";
	case DT_FIFO: return "fifo";
	case DT_SOCK: return "sock";
	case DT_CHR: return "chr";
	case DT_BLK: return "blk";
	default: return "unknown";
	}
}

/* The entries of DIR (or a subdirectory) with their d_type, sorted. */
static void listing(const char *sub)
{
	DIR *d = opendir(sub ? P(sub) : D);
	char *names[256];
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 256) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char b[300];
		snprintf(b, sizeof(b), "%s:%s", e->d_name, dt_name(e->d_type));
		names[n++] = strdup(b);
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	printf("readdir %s ->", sub ? sub : ".");
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
	fflush(stdout);
}

static void put(const char *name, const char *s)
{
	int fd = open(P(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		perror(name), exit(2);
	close(fd);
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* "/proc/self/fd/<dfd>/name" */
static const char *proc_path(int dfd, const char *name)
{
	static char b[PATH_MAX];
	snprintf(b, sizeof(b), "/proc/self/fd/%d/%s", dfd, name);
	return b;
}

/* Where the real node behind FIFO `name` lives, for SPECIALOPS_DIR_OUT. */
static void note_real_dir(const char *name)
{
	const char *out = getenv("SPECIALOPS_DIR_OUT");
	if (!out)
		return;
	int fd = open(P(name), O_RDWR | O_NONBLOCK);
	char link[64], real[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, real, sizeof(real) - 1);
	close(fd);
	if (n <= 0)
		return;
	real[n] = 0;
	char *slash = strrchr(real, '/');
	if (!slash)
		return;
	*slash = 0;
	if (!strcmp(real, D))
		return;
	FILE *f = fopen(out, "w");
	if (f) {
		fprintf(f, "%s\n", real);
		fclose(f);
	}
}

/* ---- fifo ------------------------------------------------------------------------ */

static void fifo_makes(void)
{
	put("reg", "x");
	symlink("nowhere", P("dangle"));
	R("mkfifo f", mkfifo(P("f"), 0644));
	R("mkfifo f again", mkfifo(P("f"), 0644));
	R("mkfifo nodir/x", mkfifo(P("nodir/x"), 0644));
	R("mkfifo reg/x", mkfifo(P("reg/x"), 0644));
	R("mkfifo dangle", mkfifo(P("dangle"), 0644));
	R("mkfifo g/", mkfifo(P("g/"), 0644));
	R("mkfifo . ", mkfifo(P("."), 0644));
	R("mkfifo um 0666 (umask 022)", mkfifo(P("um"), 0666));
	umask(0);
	R("mkfifo um0 06777 (umask 0)", mkfifo(P("um0"), 06777));
	umask(022);
	int dfd = open(D, O_RDONLY | O_DIRECTORY);
	R("mkfifoat dfd f2", mkfifoat(dfd, "f2", 0600));
	R("mknodat dfd f3 S_IFIFO", mknodat(dfd, "f3", S_IFIFO | 0640, 0));
	R("mknod dd S_IFDIR", mknod(P("dd"), S_IFDIR | 0755, 0));
	R("mknod nodir/dd S_IFDIR", mknod(P("nodir/dd"), S_IFDIR | 0755, 0));
	R("mknod bt bad type", mknod(P("bt"), 0170000 | 0644, 0));
	R("mknod nodir/bt bad type", mknod(P("nodir/bt"), 0110000 | 0644, 0));
	R("mknod sk S_IFSOCK", mknod(P("sk"), S_IFSOCK | 0644, 0));
	R("mknod rg S_IFREG", mknod(P("rg"), S_IFREG | 0644, 0));
	R("mknod null S_IFCHR 1,3", mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)));
	R("mknod blk S_IFBLK 7,0", mknod(P("blk"), S_IFBLK | 0600, makedev(7, 0)));
	R("mknod f S_IFCHR (exists)", mknod(P("f"), S_IFCHR | 0666, makedev(1, 3)));
	R("mknod nodir/c S_IFCHR", mknod(P("nodir/c"), S_IFCHR | 0666, makedev(1, 3)));
	R("mknodat dfd f3 S_IFIFO (exists)", mknodat(dfd, "f3", S_IFIFO | 0640, 0));
	R("mkfifo /proc/self/fd/N/pf", mkfifo(proc_path(dfd, "pf"), 0644));
	R("mkfifo /proc/self/fd/N/nodir/x", mkfifo(proc_path(dfd, "nodir/x"), 0644));
	close(dfd);
	static const char *names[] = {"f", "f2", "f3", "um", "um0", "sk", "rg", "null", "blk", "pf", "g"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		stats(names[i]);
	listing(NULL);
}

static void fifo_opens(void)
{
	note_real_dir("f");
	FD("open f O_WRONLY|O_NONBLOCK (no reader)", open(P("f"), O_WRONLY | O_NONBLOCK));
	int rd = FD("open f O_RDONLY|O_NONBLOCK", open(P("f"), O_RDONLY | O_NONBLOCK));
	int wr = FD("open f O_WRONLY|O_NONBLOCK (reader)", open(P("f"), O_WRONLY | O_NONBLOCK));
	R("write abc", write(wr, "abc", 3));
	char b[64] = "";
	long n = R("read", read(rd, b, sizeof(b) - 1));
	printf("read -> \"%.*s\"\n", (int)(n > 0 ? n : 0), b);
	struct stat st;
	fstat(rd, &st);
	printf("fstat reader -> %s %04o\n", type_name(st.st_mode), st.st_mode & 07777);
	close(wr);
	R("read at EOF", read(rd, b, sizeof(b)));
	close(rd);
	close(FD("open f O_RDWR", open(P("f"), O_RDWR)));
	FD("open f O_RDONLY|O_DIRECTORY", open(P("f"), O_RDONLY | O_DIRECTORY));
	FD("open f O_CREAT|O_EXCL", open(P("f"), O_WRONLY | O_CREAT | O_EXCL, 0644));
	FD("open f/ O_RDONLY|O_NONBLOCK", open(P("f/"), O_RDONLY | O_NONBLOCK));
	close(FD("open f O_RDONLY|O_CREAT|O_NONBLOCK", open(P("f"), O_RDONLY | O_CREAT | O_NONBLOCK, 0600)));
	close(FD("open f O_RDONLY|O_TRUNC|O_NONBLOCK", open(P("f"), O_RDONLY | O_TRUNC | O_NONBLOCK)));
	symlink("f", P("lf"));
	close(FD("open lf O_RDONLY|O_NONBLOCK", open(P("lf"), O_RDONLY | O_NONBLOCK)));
	FD("open lf O_NOFOLLOW", open(P("lf"), O_RDONLY | O_NONBLOCK | O_NOFOLLOW));
	int dfd = open(D, O_RDONLY | O_DIRECTORY);
	close(FD("openat dfd f O_RDONLY|O_NONBLOCK", openat(dfd, "f", O_RDONLY | O_NONBLOCK)));
	close(dfd);
	FILE *f = fopen(P("f"), "r+");
	printf("fopen f r+ -> %s\n", f ? "FILE" : en0(errno));
	if (f) {
		fputs("line\n", f);
		fflush(f);
		char l[16] = "";
		printf("fgets -> \"%.4s\"\n", fgets(l, sizeof(l), f) ? l : "");
		fclose(f);
	}
	/* the real side gets the same, whatever its dir */
	R("access f W_OK", access(P("f"), W_OK));
	R("truncate f", truncate(P("f"), 0));
	int nul = FD("open null O_RDWR", open(P("null"), O_RDWR));
	R("write null", write(nul, "xyz", 3));
	R("read null", read(nul, b, sizeof(b)));
	fstat(nul, &st);
	printf("fstat null -> %s rdev=%u,%u\n", type_name(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
	close(nul);
	fflush(stdout);
}

/* A writer that opens first waits for a reader, and a reader that opens
 * first waits for a writer; data passes between the two processes. */
static void fifo_two_processes(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int w = open(P("f"), O_WRONLY);
		ssize_t k = write(w, "ping", 4);
		close(w);
		_exit(k == 4 ? 0 : 1);
	}
	pause_ms(200);
	int st;
	int waiting = waitpid(pid, &st, WNOHANG) == 0;
	int r = open(P("f"), O_RDONLY);
	char b[16] = "";
	ssize_t n = 0, k;
	while ((k = read(r, b + n, sizeof(b) - 1 - (size_t)n)) > 0)
		n += k;
	close(r);
	waitpid(pid, &st, 0);
	printf("writer first: waited=%d read=\"%.*s\" child=%d\n", waiting, (int)n, b,
	       WEXITSTATUS(st));

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int rr = open(P("f"), O_RDONLY);
		char c[16];
		ssize_t got = 0, g;
		while ((g = read(rr, c + got, sizeof(c) - (size_t)got)) > 0)
			got += g;
		_exit((int)got);
	}
	pause_ms(200);
	waiting = waitpid(pid, &st, WNOHANG) == 0;
	int w = open(P("f"), O_WRONLY);
	k = write(w, "pong!", 5);
	close(w);
	waitpid(pid, &st, 0);
	printf("reader first: waited=%d wrote=%zd child read=%d\n", waiting, k, WEXITSTATUS(st));
	fflush(stdout);
}

static void fifo_exec(void)
{
	chmod(P("f3"), 0755);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(P("f3"), "f3", (char *)NULL);
		_exit(100 + errno);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("execl f3 (a fifo, 0755) -> %s\n",
	       WEXITSTATUS(st) >= 100 ? en0(WEXITSTATUS(st) - 100) : "ran");
	fflush(stdout);
}

static void fifo_names(void)
{
	R("chmod f 0600", chmod(P("f"), 0600));
	R("chown f 1:2", chown(P("f"), 1, 2));
	stat_line("stat", "f");
	R("chown f back", chown(P("f"), getuid(), getgid()));
	R("chmod null 0640", chmod(P("null"), 0640));
	stat_line("stat", "null");
	R("link f h", link(P("f"), P("h")));
	stat_line("stat", "f");
	stat_line("stat", "h");
	R("rename h h2", rename(P("h"), P("h2")));
	R("rename f2 reg (fifo over a file)", rename(P("f2"), P("reg")));
	stat_line("stat", "reg");
	put("reg2", "y");
	R("rename reg2 f3 (file over a fifo)", rename(P("reg2"), P("f3")));
	stat_line("stat", "f3");
	mkdir(P("dir"), 0755);
	R("rename f dir", rename(P("f"), P("dir")));
	R("rename dir f", rename(P("dir"), P("f")));
	R("rename null dir/null", rename(P("null"), P("dir/null")));
	stat_line("stat", "dir/null");
	R("unlink f", unlink(P("f")));
	stat_line("stat", "f");
	stat_line("stat", "h2");
	int a = open(P("h2"), O_RDWR);
	R("unlink h2 (open)", unlink(P("h2")));
	R("write to the unlinked fifo", write(a, "zz", 2));
	char b[8];
	R("read from it", read(a, b, sizeof(b)));
	close(a);
	R("rmdir sk", rmdir(P("sk")));
	R("unlink sk/", unlink(P("sk/")));
	R("unlink sk", unlink(P("sk")));
	R("unlink blk", unlink(P("blk")));
	R("unlink dir/null", unlink(P("dir/null")));
	R("unlink pf", unlink(P("pf")));
	/* relative to a cwd in DIR */
	char old[PATH_MAX];
	if (!getcwd(old, sizeof(old)))
		strcpy(old, "/");
	chdir(D);
	R("mkfifo rel (cwd DIR)", mkfifo("rel", 0644));
	R("mknod relc (cwd DIR)", mknod("relc", S_IFCHR | 0600, makedev(1, 5)));
	stat_line("stat", "rel");
	stat_line("stat", "relc");
	close(FD("open rel O_RDONLY|O_NONBLOCK", open("rel", O_RDONLY | O_NONBLOCK)));
	R("unlink rel", unlink("rel"));
	R("unlink relc", unlink("relc"));
	chdir(old);
	listing(NULL);
	listing("dir");
}

/* ---- sock ------------------------------------------------------------------------- */

static socklen_t sa_of(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static int do_bind(int fd, const char *path)
{
	struct sockaddr_un a;
	socklen_t l = sa_of(path, &a);
	return bind(fd, (struct sockaddr *)&a, l);
}

static int do_connect(int fd, const char *path)
{
	struct sockaddr_un a;
	socklen_t l = sa_of(path, &a);
	return connect(fd, (struct sockaddr *)&a, l);
}

/* An address as the kernel returned it: its length beyond the family and
 * the name, DIR replaced by the test's $D later. */
static void addr_line(const char *what, int r, const struct sockaddr_un *a, socklen_t len)
{
	if (r < 0) {
		printf("%s -> -1 %s\n", what, en0(errno));
	} else if (len <= offsetof(struct sockaddr_un, sun_path)) {
		printf("%s -> unnamed len=%u\n", what, (unsigned)len);
	} else {
		const char *p = a->sun_path;
		char fixed[PATH_MAX];
		/* "/proc/self/fd/<n>/" -> "/proc/self/fd/N/" */
		if (!strncmp(p, "/proc/self/fd/", 14)) {
			const char *q = p + 14;
			while (*q >= '0' && *q <= '9')
				q++;
			snprintf(fixed, sizeof(fixed), "/proc/self/fd/N%s", q);
			p = fixed;
		}
		printf("%s -> \"%s\" family=%d\n", what, p, a->sun_family);
	}
	fflush(stdout);
}

static void names_of(const char *label, int fd)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	char w[128];
	snprintf(w, sizeof(w), "getsockname %s", label);
	int r = getsockname(fd, (struct sockaddr *)&a, &l);
	addr_line(w, r, &a, l);
	l = sizeof(a);
	snprintf(w, sizeof(w), "getpeername %s", label);
	r = getpeername(fd, (struct sockaddr *)&a, &l);
	addr_line(w, r, &a, l);
}

/* A connection to path: connect, accept, a message each way, closed. */
static void round_trip(const char *label, int srv, const char *path)
{
	char w[160];
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(w, sizeof(w), "connect %s", label);
	if (R(w, do_connect(c, path)) < 0) {
		close(c);
		return;
	}
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	int acc = accept(srv, (struct sockaddr *)&a, &l);
	snprintf(w, sizeof(w), "accept %s (peer)", label);
	addr_line(w, acc, &a, l);
	names_of("client", c);
	names_of("accepted", acc);
	char b[16] = "";
	R("send hi", send(c, "hi", 2, 0));
	long n = R("recv", recv(acc, b, sizeof(b), MSG_DONTWAIT));
	R("send back", send(acc, b, (size_t)(n > 0 ? n : 0), 0));
	n = R("recv back", recv(c, b, sizeof(b), MSG_DONTWAIT));
	printf("round trip %s -> \"%.*s\"\n", label, (int)(n > 0 ? n : 0), b);
	fflush(stdout);
	close(acc);
	close(c);
}

static void sock_stream(void)
{
	put("reg", "x");
	mkfifo(P("fifo"), 0644);
	symlink("nowhere", P("dangle"));
	int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	R("bind s", do_bind(srv, P("s")));
	stats("s");
	R("listen s", listen(srv, 8));
	names_of("listener", srv);
	int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	R("bind s (exists)", do_bind(s2, P("s")));
	R("bind nodir/s", do_bind(s2, P("nodir/s")));
	R("bind reg/s", do_bind(s2, P("reg/s")));
	R("bind reg (a file)", do_bind(s2, P("reg")));
	R("bind dangle (a symlink)", do_bind(s2, P("dangle")));
	R("bind fifo", do_bind(s2, P("fifo")));
	R("bind t", do_bind(s2, P("t")));
	R("bind u (socket already bound)", do_bind(s2, P("u")));
	stat_line("stat", "u");
	close(s2);
	/* whole sockaddr_un lengths, so the answer does not depend on DIR's */
	int inet = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_un ia;
	sa_of(P("in"), &ia);
	R("bind an AF_INET socket to a unix path", bind(inet, (struct sockaddr *)&ia, sizeof(ia)));
	sa_of(P("s"), &ia);
	R("connect an AF_INET socket to a unix path", connect(inet, (struct sockaddr *)&ia, sizeof(ia)));
	close(inet);
	stat_line("stat", "in");
	int pp[2];
	if (pipe(pp) == 0) {
		R("bind a pipe fd", do_bind(pp[0], P("bad")));
		R("connect a pipe fd", do_connect(pp[0], P("s")));
		close(pp[0]);
		close(pp[1]);
	}
	stat_line("stat", "bad");

	round_trip("s", srv, P("s"));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	R("connect missing", do_connect(c, P("missing")));
	R("connect reg", do_connect(c, P("reg")));
	R("connect fifo", do_connect(c, P("fifo")));
	R("connect nodir/x", do_connect(c, P("nodir/x")));
	R("connect reg/x", do_connect(c, P("reg/x")));
	R("connect t (bound, not listening)", do_connect(c, P("t")));
	mknod(P("mk"), S_IFSOCK | 0644, 0);
	R("connect mk (made by mknod)", do_connect(c, P("mk")));
	close(c);
	symlink("s", P("ls"));
	round_trip("ls (symlink)", srv, P("ls"));

	/* a client bound to a name: the server sees it */
	int cb = socket(AF_UNIX, SOCK_STREAM, 0);
	R("bind client cl", do_bind(cb, P("cl")));
	R("connect from cl", do_connect(cb, P("s")));
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	int acc = accept(srv, (struct sockaddr *)&a, &l);
	addr_line("accept (peer cl)", acc, &a, l);
	names_of("accepted from cl", acc);
	names_of("bound client", cb);
	/* a buffer smaller than the name: cut, with the whole length */
	struct sockaddr_un small;
	socklen_t sl = 12;
	getpeername(acc, (struct sockaddr *)&small, &sl);
	printf("getpeername into 12 bytes -> len=D+%d family=%d\n", (int)sl - (int)strlen(D),
	       small.sun_family);
	close(acc);
	close(cb);

	R("rename s s2", rename(P("s"), P("s2")));
	round_trip("s2 (renamed)", srv, P("s2"));
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	R("connect s (renamed away)", do_connect(c, P("s")));
	close(c);
	R("link s2 s3", link(P("s2"), P("s3")));
	stat_line("stat", "s3");
	R("unlink s2", unlink(P("s2")));
	round_trip("s3 (a link)", srv, P("s3"));
	R("unlink s3", unlink(P("s3")));
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	R("connect s3 (unlinked)", do_connect(c, P("s3")));
	close(c);
	names_of("listener after unlink", srv);

	int srv2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	R("bind s (after unlink)", do_bind(srv2, P("s")));
	R("listen", listen(srv2, 8));
	round_trip("s again", srv2, P("s"));
	close(srv2);
	close(srv);
	stat_line("stat", "s");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	R("connect s (listener closed)", do_connect(c, P("s")));
	close(c);
	R("chmod s 0600", chmod(P("s"), 0600));
	stat_line("stat", "s");
	R("unlink s", unlink(P("s")));
	listing(NULL);
}

static void sock_relative(void)
{
	char old[PATH_MAX];
	if (!getcwd(old, sizeof(old)))
		strcpy(old, "/");
	mkdir(P("sub"), 0755);
	chdir(P("sub"));
	int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	R("bind rel (cwd DIR/sub)", do_bind(srv, "rel"));
	R("listen", listen(srv, 8));
	stat_line("stat", "sub/rel");
	names_of("relative listener", srv);
	round_trip("rel", srv, "rel");
	round_trip("../sub/rel", srv, "../sub/rel");
	round_trip("DIR/sub/rel", srv, P("sub/rel"));
	int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	R("bind rel (exists)", do_bind(s2, "rel"));
	R("bind ./rel2", do_bind(s2, "./rel2"));
	names_of("./rel2", s2);
	close(s2);
	R("unlink rel", unlink("rel"));
	R("unlink rel2", unlink("rel2"));
	close(srv);
	chdir(old);

	/* at a directory fd, through /proc/self/fd/N/name */
	int dfd = open(P("sub"), O_RDONLY | O_DIRECTORY);
	srv = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	R("bind /proc/self/fd/N/pf", do_bind(srv, proc_path(dfd, "pf")));
	R("listen", listen(srv, 8));
	stat_line("stat", "sub/pf");
	names_of("/proc/self/fd/N/pf", srv);
	round_trip("DIR/sub/pf", srv, P("sub/pf"));
	round_trip("/proc/self/fd/N/pf", srv, proc_path(dfd, "pf"));
	close(srv);
	R("unlink pf", unlinkat(dfd, "pf", 0));
	close(dfd);
	listing("sub");
}

static void recv_line(const char *label, int fd)
{
	char b[16] = "";
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	ssize_t n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&a, &l);
	char w[128];
	snprintf(w, sizeof(w), "recvfrom %s \"%.*s\" from", label, (int)(n > 0 ? n : 0), b);
	addr_line(w, (int)n, &a, l);
}

static void sock_dgram(void)
{
	int d1 = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0), d2 = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	R("bind d1", do_bind(d1, P("d1")));
	R("bind d2", do_bind(d2, P("d2")));
	stat_line("stat", "d1");
	struct sockaddr_un a;
	socklen_t l = sa_of(P("d1"), &a);
	R("sendto d1", sendto(d2, "dg", 2, 0, (struct sockaddr *)&a, l));
	char b[16];
	struct sockaddr_un from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(d1, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	addr_line("recvfrom d1 from", (int)n, &from, fl);
	R("sendto the address received", sendto(d1, "re", 2, 0, (struct sockaddr *)&from, fl));
	recv_line("d2", d2);

	struct iovec iov = {(void *)"msg", 3};
	struct msghdr m = {.msg_name = &a, .msg_namelen = l, .msg_iov = &iov, .msg_iovlen = 1};
	R("sendmsg d1", sendmsg(d2, &m, 0));
	char mb[16] = "";
	struct sockaddr_un mn;
	struct iovec riov = {mb, sizeof(mb)};
	struct msghdr rm = {.msg_name = &mn, .msg_namelen = sizeof(mn), .msg_iov = &riov, .msg_iovlen = 1};
	n = recvmsg(d1, &rm, MSG_DONTWAIT);
	addr_line("recvmsg d1 from", (int)n, &mn, rm.msg_namelen);
	printf("recvmsg data -> \"%.*s\"\n", (int)(n > 0 ? n : 0), mb);

	struct mmsghdr mm[2];
	struct iovec io2[2] = {{(void *)"one", 3}, {(void *)"two", 3}};
	for (int i = 0; i < 2; i++)
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &a, .msg_namelen = l, .msg_iov = &io2[i], .msg_iovlen = 1}};
	R("sendmmsg 2 to d1", sendmmsg(d2, mm, 2, 0));
	struct mmsghdr rmm[2];
	char rb[2][8];
	struct sockaddr_un rn[2];
	struct iovec rio[2] = {{rb[0], 8}, {rb[1], 8}};
	for (int i = 0; i < 2; i++)
		rmm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &rn[i], .msg_namelen = sizeof(rn[i]), .msg_iov = &rio[i], .msg_iovlen = 1}};
	int k = (int)R("recvmmsg d1", recvmmsg(d1, rmm, 2, MSG_DONTWAIT, NULL));
	for (int i = 0; i < k; i++) {
		char w[64];
		snprintf(w, sizeof(w), "recvmmsg[%d] \"%.*s\" from", i, (int)rmm[i].msg_len, rb[i]);
		addr_line(w, 0, &rn[i], rmm[i].msg_hdr.msg_namelen);
	}

	/* a sender in another process, bound by its own name */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int dc = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (do_bind(dc, P("cx")) || sendto(dc, "kid", 3, 0, (struct sockaddr *)&a, l) != 3)
			_exit(1);
		_exit(0);
	}
	int cst;
	waitpid(pid, &cst, 0);
	printf("child bound cx and sent -> %d\n", WEXITSTATUS(cst));
	recv_line("d1 (from a child)", d1);
	R("unlink cx", unlink(P("cx")));

	struct sockaddr_un bad;
	socklen_t bl = sa_of(P("nope"), &bad);
	R("sendto nope", sendto(d2, "x", 1, 0, (struct sockaddr *)&bad, bl));
	bl = sa_of(P("reg"), &bad);
	R("sendto reg", sendto(d2, "x", 1, 0, (struct sockaddr *)&bad, bl));
	int d3 = socket(AF_UNIX, SOCK_DGRAM, 0);
	R("sendto d1 from an unbound socket", sendto(d3, "anon", 4, 0, (struct sockaddr *)&a, l));
	recv_line("d1", d1);
	R("connect d3 to d1", do_connect(d3, P("d1")));
	R("send on d3", send(d3, "con", 3, 0));
	recv_line("d1", d1);
	names_of("connected datagram socket", d3);
	close(d3);
	/* a connected stream socket refuses an address without looking at it */
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	R("sendto on a stream socket with an address", sendto(sp[0], "x", 1, 0, (struct sockaddr *)&bad, bl));
	close(sp[0]);
	close(sp[1]);
	close(d1);
	close(d2);
	R("unlink d1", unlink(P("d1")));
	R("unlink d2", unlink(P("d2")));
	/* abstract names are nobody's files */
	int ab = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un an = {.sun_family = AF_UNIX};
	snprintf(an.sun_path + 1, sizeof(an.sun_path) - 1, "specialops-%d", (int)getpid());
	R("bind abstract", bind(ab, (struct sockaddr *)&an,
				(socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(an.sun_path + 1))));
	close(ab);
	listing(NULL);
}

/* ---- uid ------------------------------------------------------------------------- */

/* Runs fn in a child whose effective uid and gid are uid and gid (real
 * and saved ids stay root, as pjdfstest's -u and -g leave them). */
static void as(uid_t uid, gid_t gid, void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setegid(gid) || seteuid(uid)) {
			perror("specialops: seteuid");
			_exit(2);
		}
		printf("as %u:%u\n", (unsigned)uid, (unsigned)gid);
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "specialops: child as %u failed\n", (unsigned)uid), exit(2);
}

static void owner_line(const char *name)
{
	struct stat st;
	if (lstat(P(name), &st))
		printf("owner %s -> %s\n", name, en(errno));
	else
		printf("owner %s -> %u:%u %s %04o\n", name, (unsigned)st.st_uid, (unsigned)st.st_gid,
		       type_name(st.st_mode), (unsigned)(st.st_mode & 07777));
}

static int connect_to(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	int r = do_connect(fd, P(name));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static void uid_nobody(void)
{
	R("mkfifo u 0644", mkfifo(P("u"), 0644));
	owner_line("u");
	FD("open u O_RDONLY|O_NONBLOCK", open(P("u"), O_RDONLY | O_NONBLOCK));
	FD("open u O_RDWR", open(P("u"), O_RDWR));
	FD("open root0600 O_RDONLY|O_NONBLOCK", open(P("root0600"), O_RDONLY | O_NONBLOCK));
	FD("open root0666 O_RDONLY|O_NONBLOCK", open(P("root0666"), O_RDONLY | O_NONBLOCK));
	FD("open root0666 O_RDWR|O_CREAT", open(P("root0666"), O_RDWR | O_CREAT, 0644));
	FD("open root0666 O_RDWR|O_CREAT|O_EXCL", open(P("root0666"), O_RDWR | O_CREAT | O_EXCL, 0644));
	R("mknod uc S_IFCHR", mknod(P("uc"), S_IFCHR | 0644, makedev(1, 3)));
	R("mknod ub S_IFBLK", mknod(P("ub"), S_IFBLK | 0644, makedev(7, 0)));
	R("mknod uf S_IFIFO", mknod(P("uf"), S_IFIFO | 0600, 0));
	owner_line("uf");
	R("chmod uf 0606", chmod(P("uf"), 0606));
	owner_line("uf");
	R("chmod root0666 0600", chmod(P("root0666"), 0600));
	R("chown uf 0 0", chown(P("uf"), 0, 0));
	R("unlink rootgone (0777 dir)", unlink(P("rootgone")));
	R("unlink rootsticky (sticky dir)", unlink(P("st/rootsticky")));
	R("mkfifo st/mine", mkfifo(P("st/mine"), 0600));
	R("mkfifo sub/x (search denied)", mkfifo(P("sub/x"), 0644));
	FD("open sub/y (search denied)", open(P("sub/y"), O_RDONLY | O_NONBLOCK));
	R("mkfifo ro/x (write denied)", mkfifo(P("ro/x"), 0644));
	R("rename u u2", rename(P("u"), P("u2")));
	int s1 = socket(AF_UNIX, SOCK_STREAM, 0);
	R("bind us", do_bind(s1, P("us")));
	R("listen us", listen(s1, 4));
	owner_line("us");
	R("connect us", connect_to("us"));
	R("connect rootsock (0755)", connect_to("rootsock"));
	R("connect rootsock7 (0777)", connect_to("rootsock7"));
	int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	R("bind sub/s (search denied)", do_bind(s2, P("sub/s")));
	R("bind ro/s (write denied)", do_bind(s2, P("ro/s")));
	close(s2);
	/* the listener stays bound in the parent's view: a file until unlinked */
	close(s1);
}

static void uid_other(void)
{
	FD("open u2 O_WRONLY|O_NONBLOCK (0644, not owner)", open(P("u2"), O_WRONLY | O_NONBLOCK));
	FD("open u2 O_RDONLY|O_NONBLOCK", open(P("u2"), O_RDONLY | O_NONBLOCK));
	FD("open uf O_WRONLY|O_NONBLOCK (0606)", open(P("uf"), O_WRONLY | O_NONBLOCK));
	R("connect us (0755, not owner)", connect_to("us"));
	R("unlink st/mine (sticky, not owner)", unlink(P("st/mine")));
	R("rename st/mine st/theirs (sticky, not owner)", rename(P("st/mine"), P("st/theirs")));
	R("unlink u2 (0777 dir)", unlink(P("u2")));
}

static void uid_section(void)
{
	R("chmod . 0777", chmod(D, 0777));
	R("mkfifo root0600", mkfifo(P("root0600"), 0600));
	umask(0);
	R("mkfifo root0666", mkfifo(P("root0666"), 0666));
	R("mkfifo rootgone", mkfifo(P("rootgone"), 0666));
	R("mkdir st 01777", mkdir(P("st"), 01777));
	R("mkfifo st/rootsticky", mkfifo(P("st/rootsticky"), 0666));
	umask(022);
	R("mkdir sub", mkdir(P("sub"), 0755));
	R("mkfifo sub/y", mkfifo(P("sub/y"), 0666));
	R("chmod sub 0700", chmod(P("sub"), 0700));
	R("mkdir ro 0755", mkdir(P("ro"), 0755));
	int s1 = socket(AF_UNIX, SOCK_STREAM, 0), s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	R("bind rootsock", do_bind(s1, P("rootsock")));
	R("listen rootsock", listen(s1, 4));
	R("bind rootsock7", do_bind(s2, P("rootsock7")));
	R("listen rootsock7", listen(s2, 4));
	R("chmod rootsock7 0777", chmod(P("rootsock7"), 0777));
	as(65534, 65534, uid_nobody);
	as(65533, 65533, uid_other);
	owner_line("u2");
	owner_line("st/mine");
	owner_line("uf");
	owner_line("us");
	close(s1);
	close(s2);
	listing(NULL);
	listing("st");
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "fifo") && strcmp(argv[2], "sock") && strcmp(argv[2], "uid"))) {
		fprintf(stderr, "usage: specialops DIR fifo|sock|uid\n");
		return 2;
	}
	D = argv[1];
	umask(022);
	if (!strcmp(argv[2], "fifo")) {
		fifo_makes();
		fifo_opens();
		fifo_two_processes();
		fifo_exec();
		fifo_names();
	} else if (!strcmp(argv[2], "uid")) {
		signal(SIGPIPE, SIG_IGN);
		uid_section();
	} else {
		/* the real side writes to a closed peer without dying */
		signal(SIGPIPE, SIG_IGN);
		sock_stream();
		sock_relative();
		sock_dgram();
	}
	return 0;
}
