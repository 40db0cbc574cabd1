/* specialops — FIFOs and device nodes in a directory, for the
 * differential test (tests/test_e2e_diff.c, Test(e2e_diff, fifos)): run
 * under the preload on a store directory and without it on a tmpfs
 * directory, the outputs must be the same.
 *
 *   specialops DIR fifo     DIR: an existing, empty directory
 *
 * fifo: mkfifo/mkfifoat/mknod(at) of every type and their errors, stat,
 * lstat, fstatat, statx and readdir of each, opens of a FIFO (O_NONBLOCK
 * with and without a reader, O_RDWR, O_DIRECTORY, O_EXCL, a trailing
 * slash, through a symlink), a writer and a reader in two processes each
 * waiting for the other end, a character device, exec, truncate, chmod,
 * chown, links, renames and unlinks, relative and /proc/self/fd/N/name
 * forms.
 *
 * One line per call: what, "->", the result, the errno name. Nothing that
 * legitimately differs is printed (fd and inode numbers, times).
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *D;

static const char *P(const char *name)
{
	static char buf[8][PATH_MAX];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, sizeof(buf[0]), "%s/%s", D, name);
	return b;
}

static const char *en(int e) { return e ? (strerrorname_np(e) ? strerrorname_np(e) : "?") : "0"; }

#define R(what, call)                                                              \
	({                                                                         \
		errno = 0;                                                         \
		long r_ = (long)(call);                                            \
		int e_ = errno;                                                    \
		printf("%s -> %ld %s\n", (what), r_ < 0 ? -1L : r_ > 0 && r_ < 1000 ? r_ : 0L, \
		       r_ < 0 ? en(e_) : "0");                                     \
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
		printf("%s -> %s %s\n", (what), fd_ >= 0 ? "fd" : "-1", fd_ >= 0 ? "0" : en(e_)); \
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
		printf("%s %s -> -1 %s\n", how, name, en(errno));
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
	printf("fopen f r+ -> %s\n", f ? "FILE" : en(errno));
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
	       WEXITSTATUS(st) >= 100 ? en(WEXITSTATUS(st) - 100) : "ran");
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

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[2], "fifo")) {
		fprintf(stderr, "usage: specialops DIR fifo\n");
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
	}
	return 0;
}
