/* bench/bench.c — memshim's benchmark (`make bench`): the workloads of
 * issue 15 through ordinary libc calls, on the store under the shim and on
 * a tmpfs directory, and the table of store/tmpfs time ratios.
 *
 * One program whose role argv chooses, so that the store side and the
 * tmpfs side run the same code and differ only by the preload:
 *
 *   bench [--smoke] [--preload LIST]
 *       the driver: pins itself to one CPU, starts the two workers (they
 *       and everything they start inherit the CPU), asks them for each
 *       workload in turn, round after round, and prints the table on
 *       stdout (progress on stderr). LIST is the store side's LD_PRELOAD,
 *       by default the libmemshim.so of the build this program is in.
 *   bench --worker DIR REAL [--smoke]
 *       prepares DIR, then runs the workload whose number it reads on
 *       stdin and answers with a struct result on stdout, until EOF;
 *       REAL is a file outside the store for the passthrough row.
 *   bench --open1 PATH
 *       opens and closes PATH: a process that opens one file.
 *   bench --files DIR CAP SECONDS
 *       creates empty files in DIR until a create fails, CAP files exist
 *       or SECONDS have passed; prints the count and why it stopped, and
 *       what it measured at 1,000 files and at the end (stat of random
 *       files, a new process's attach, the arena's bytes in memory).
 *   bench --attach PATH
 *       stats PATH, the process's first store call, and prints how long
 *       that took.
 *
 * Environment: BENCH_ROUNDS (rounds, default 7), BENCH_CPU (the CPU to pin
 * to; default the last one this process may use), BENCH_FILES (cap of the
 * files row: the node limit is one more, for its directory; default
 * 1000000), BENCH_FILES_SECONDS (its time limit, 120), BENCH_ONLY (the
 * rows to run, ','-separated beginnings of their names, "files" for the
 * files row and its scale table: BENCH_ONLY=stat,posix_spawn; default
 * every row).
 *
 * A benchmark prints figures and asserts none (a time limit in a test
 * would fail on a busy machine and pass on a fast one). --smoke runs one
 * tiny round so that make check can see every row still runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define KIB 1024L
#define MIB (1024L * 1024L)

/* ---- the worker: one side's workloads ------------------------------------ */

struct ctx {
	char dir[PATH_MAX];
	char exist[PATH_MAX], ddir[PATH_MAX], create[PATH_MAX], fw[PATH_MAX];
	char rand[PATH_MAX], seq[PATH_MAX], real[PATH_MAX], self[PATH_MAX];
	long entries;      /* in ddir */
	long rand_size;    /* of rand, the pread/pwrite file */
	long seq_size;     /* of seq, the sequential file */
	int rand_fd;       /* rand, O_RDWR, open for the whole run */
	char *buf;         /* 1 MiB of non-zero bytes, so pages are really held */
	char msg[200];     /* why a workload failed */
};

/* Sets c->msg from the failed call and errno; returns -1. */
static long fail(struct ctx *c, const char *what, const char *path)
{
	int e = errno;
	snprintf(c->msg, sizeof(c->msg), "%s %.100s: %.60s", what, path, strerror(e));
	return -1;
}

/* The same offsets on both sides: a fixed seed per measurement. */
static uint64_t rng;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Each workload does n repetitions and returns how many operations that
 * was (the row's unit), or -1 with c->msg set. */

static long w_stat(struct ctx *c, long n)
{
	struct stat st;
	for (long i = 0; i < n; i++)
		if (stat(c->exist, &st))
			return fail(c, "stat", c->exist);
	return n;
}

static long w_readdir(struct ctx *c, long n)
{
	for (long i = 0; i < n; i++) {
		DIR *d = opendir(c->ddir);
		if (!d)
			return fail(c, "opendir", c->ddir);
		long k = 0;
		while (readdir(d))
			k++;
		closedir(d);
		if (k != c->entries + 2) {
			snprintf(c->msg, sizeof(c->msg), "readdir %.100s: %ld entries, not %ld", c->ddir,
				 k, c->entries + 2);
			return -1;
		}
	}
	return n;
}

static long w_open(struct ctx *c, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(c->exist, O_RDONLY);
		if (fd < 0)
			return fail(c, "open", c->exist);
		close(fd);
	}
	return n;
}

static long w_create(struct ctx *c, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(c->create, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			return fail(c, "create", c->create);
		if (write(fd, c->buf, 4 * KIB) != 4 * KIB)
			return fail(c, "write", c->create);
		if (close(fd))
			return fail(c, "close", c->create);
		if (unlink(c->create))
			return fail(c, "unlink", c->create);
	}
	return n;
}

static long w_fopen(struct ctx *c, long n)
{
	for (long i = 0; i < n; i++) {
		FILE *f = fopen(c->fw, "w");
		if (!f)
			return fail(c, "fopen", c->fw);
		if (fwrite(c->buf, 1, 4 * KIB, f) != 4 * KIB)
			return fail(c, "fwrite", c->fw);
		if (fclose(f))
			return fail(c, "fclose", c->fw);
	}
	return n;
}

/* 4 KiB-aligned offsets, as a database's pages. */
static long w_pread(struct ctx *c, long n)
{
	long pages = c->rand_size / (4 * KIB);
	rng = 42;
	for (long i = 0; i < n; i++) {
		off_t off = (off_t)(next_rand() % (uint64_t)pages) * 4 * KIB;
		if (pread(c->rand_fd, c->buf, 4 * KIB, off) != 4 * KIB)
			return fail(c, "pread", c->rand);
	}
	return n;
}

static long w_pwrite(struct ctx *c, long n)
{
	long pages = c->rand_size / (4 * KIB);
	rng = 4242;
	for (long i = 0; i < n; i++) {
		off_t off = (off_t)(next_rand() % (uint64_t)pages) * 4 * KIB;
		if (pwrite(c->rand_fd, c->buf, 4 * KIB, off) != 4 * KIB)
			return fail(c, "pwrite", c->rand);
	}
	return n;
}

/* One repetition reads the whole file, 1 MiB a call: an operation is one
 * call. */
static long w_seq_read(struct ctx *c, long n)
{
	long ops = 0;
	for (long i = 0; i < n; i++) {
		int fd = open(c->seq, O_RDONLY);
		if (fd < 0)
			return fail(c, "open", c->seq);
		ssize_t k;
		long got = 0;
		while ((k = read(fd, c->buf, MIB)) > 0) {
			got += k;
			ops++;
		}
		close(fd);
		if (k < 0 || got != c->seq_size)
			return fail(c, "read", c->seq);
	}
	return ops;
}

/* One repetition writes the whole file anew (O_TRUNC), 1 MiB a call, as a
 * program that writes its output does. */
static long w_seq_write(struct ctx *c, long n)
{
	long ops = 0;
	for (long i = 0; i < n; i++) {
		int fd = open(c->seq, O_WRONLY | O_TRUNC);
		if (fd < 0)
			return fail(c, "open", c->seq);
		for (long done = 0; done < c->seq_size; done += MIB, ops++)
			if (write(fd, c->buf, MIB) != MIB)
				return fail(c, "write", c->seq);
		if (close(fd))
			return fail(c, "close", c->seq);
	}
	return ops;
}

static long spawn_wait(struct ctx *c, const char *prog, char *const argv[], long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int st, r = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
		if (r) {
			errno = r;
			return fail(c, "posix_spawn", prog);
		}
		if (waitpid(pid, &st, 0) != pid)
			return fail(c, "waitpid", prog);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			snprintf(c->msg, sizeof(c->msg), "%.100s: wait status %#x", prog, st);
			return -1;
		}
	}
	return n;
}

/* The store side's child inherits LD_PRELOAD, so the shim is loaded in it;
 * the tmpfs side's is not. */
static long w_spawn_true(struct ctx *c, long n)
{
	char *argv[] = {"true", NULL};
	return spawn_wait(c, "/bin/true", argv, n);
}

static long w_spawn_open1(struct ctx *c, long n)
{
	char *argv[] = {"bench", "--open1", c->exist, NULL};
	return spawn_wait(c, c->self, argv, n);
}

/* A real file outside the store, the same for both sides: what the shim
 * costs a program's ordinary file work. */
static long w_real(struct ctx *c, long n)
{
	struct stat st;
	for (long i = 0; i < n; i++) {
		int fd = open(c->real, O_RDONLY);
		if (fd < 0)
			return fail(c, "open", c->real);
		if (stat(c->real, &st))
			return fail(c, "stat", c->real);
		if (pread(fd, c->buf, 4 * KIB, 0) != 4 * KIB)
			return fail(c, "pread", c->real);
		close(fd);
	}
	return n;
}

/* The rows of issue 15's table. reps: repetitions per measurement (full
 * run, smoke run), each about 0.1-0.4 s on a 2-CPU Xeon. */
static const struct workload {
	const char *name;
	const char *target;
	long reps, smoke_reps;
	long (*run)(struct ctx *, long);
} workloads[] = {
	{"stat", "<= 0.25", 500000, 100, w_stat},
	{"readdir of 10,000 entries", "<= 0.25", 100, 2, w_readdir},
	{"open+close of an existing file", "<= 1.0", 200000, 100, w_open},
	{"create + write 4 KiB + close + unlink", "<= 1.0", 30000, 50, w_create},
	{"fopen(\"w\") + fwrite 4 KiB + fclose", "<= 1.0", 30000, 50, w_fopen},
	{"pread 4 KiB at random offsets of 64 MiB", "<= 0.5", 300000, 100, w_pread},
	{"pwrite 4 KiB at random offsets of 64 MiB", "<= 0.5", 300000, 100, w_pwrite},
	{"1 MiB sequential read of 256 MiB", "<= 0.8", 4, 1, w_seq_read},
	{"1 MiB sequential write of 256 MiB", "<= 0.8", 2, 1, w_seq_write},
	{"posix_spawn + waitpid of /bin/true, shim loaded vs not", "<= 1.10", 300, 3,
	 w_spawn_true},
	{"posix_spawn + waitpid of a program that opens one file, store vs tmpfs", "<= 1.25",
	 300, 3, w_spawn_open1},
	{"open, stat, pread on real paths, shim loaded vs not", "<= 1.05", 100000, 100, w_real},
};
#define NWORK ((int)(sizeof(workloads) / sizeof(workloads[0])))

/* BENCH_ONLY: does one of its ','-separated words begin name? */
static int chosen(const char *name)
{
	const char *only = getenv("BENCH_ONLY");
	if (!only || !*only)
		return 1;
	for (const char *w = only; *w; w += *w == ',') {
		size_t n = strcspn(w, ",");
		if (n && strncmp(name, w, n) == 0)
			return 1;
		w += n;
	}
	return 0;
}

/* What a worker answers; one write, well under PIPE_BUF. */
struct result {
	int64_t ns, ops;
	char msg[240]; /* empty when it worked */
};

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int write_file(struct ctx *c, const char *path, long size)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		return (int)fail(c, "create", path);
	for (long done = 0; done < size; done += MIB) {
		long k = size - done < MIB ? size - done : MIB;
		if (write(fd, c->buf, (size_t)k) != k)
			return (int)fail(c, "write", path);
	}
	if (close(fd))
		return (int)fail(c, "close", path);
	return 0;
}

static int prepare(struct ctx *c)
{
	char p[PATH_MAX + 16];
	if (mkdir(c->dir, 0755))
		return (int)fail(c, "mkdir", c->dir);
	if (write_file(c, c->exist, 4 * KIB) || write_file(c, c->rand, c->rand_size) ||
	    write_file(c, c->seq, c->seq_size))
		return -1;
	if (mkdir(c->ddir, 0755))
		return (int)fail(c, "mkdir", c->ddir);
	for (long i = 0; i < c->entries; i++) {
		snprintf(p, sizeof(p), "%.*s/f%06ld", PATH_MAX - 32, c->ddir, i);
		int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			return (int)fail(c, "create", p);
		close(fd);
	}
	/* close-on-exec: the start-up rows spawn programs that must not
	 * inherit a store fd (one that does attaches at start) */
	c->rand_fd = open(c->rand, O_RDWR | O_CLOEXEC);
	if (c->rand_fd < 0)
		return (int)fail(c, "open", c->rand);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void rm_tree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k <= 0)
			return -1;
		p = (const char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t k = read(fd, p, n);
		if (k <= 0)
			return -1;
		p = (char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

static void on_stop(int sig) {}

static int worker_main(const char *dir, const char *real, int smoke)
{
	static struct ctx c;
	struct result res = {0};
	c.rand_fd = -1;
	/* Interrupted (Ctrl-C reaches the whole process group) or left
	 * behind, a worker still removes its directory: these signals only
	 * make a pending call fail, the loop ends and cleans up (EOF ends it
	 * when the signal came between two calls). A handler,
	 * not SIG_IGN, so that the programs it spawns start with the default
	 * dispositions on both sides. */
	struct sigaction sa = {.sa_handler = on_stop};
	int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		sigaction(stops[i], &sa, NULL);

	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	snprintf(c.real, sizeof(c.real), "%s", real);
#define SUB(f, name) snprintf(c.f, sizeof(c.f), "%.*s/" name, PATH_MAX - 16, dir)
	SUB(exist, "exist");
	SUB(ddir, "d");
	SUB(create, "c");
	SUB(fw, "fw");
	SUB(rand, "rand");
	SUB(seq, "seq");
#undef SUB
	c.entries = smoke ? 100 : 10000;
	c.rand_size = smoke ? MIB : 64 * MIB;
	c.seq_size = smoke ? 4 * MIB : 256 * MIB;
	c.buf = malloc(MIB);
	ssize_t k = readlink("/proc/self/exe", c.self, sizeof(c.self) - 1);
	if (!c.buf || k <= 0)
		return 1;
	c.self[k] = 0;
	memset(c.buf, 'x', MIB);

	/* The first answer says whether the preparation worked. */
	if (prepare(&c))
		snprintf(res.msg, sizeof(res.msg), "%s", c.msg);
	if (write_all(1, &res, sizeof(res)))
		return 1;
	unsigned char w;
	while (!res.msg[0] && read(0, &w, 1) == 1 && w < NWORK) {
		long reps = smoke ? workloads[w].smoke_reps : workloads[w].reps;
		c.msg[0] = 0;
		int64_t t0 = now_ns();
		long ops = workloads[w].run(&c, reps);
		res.ns = now_ns() - t0;
		res.ops = ops;
		snprintf(res.msg, sizeof(res.msg), "%s", ops < 0 ? c.msg : "");
		if (write_all(1, &res, sizeof(res)))
			break;
	}
	/* EOF: the driver is done (or gone). The store goes with its keeper;
	 * a tmpfs directory would stay, so both sides remove what they made. */
	if (c.rand_fd >= 0)
		close(c.rand_fd);
	rm_tree(c.dir);
	return res.msg[0] ? 1 : 0;
}

/* ---- bench --files: how many files one store holds ------------------------ */

/* DIR/<7 digits of i>, written without printf (the stat loops below time
 * the store, not the formatting). */
static void file_name(char *p, size_t dlen, long i)
{
	p[dlen] = '/';
	for (int k = 7; k >= 1; k--, i /= 10)
		p[dlen + k] = (char)('0' + i % 10);
	p[dlen + 8] = 0;
}

/* ns per stat of a file picked at random among the first `among` of DIR:
 * the fastest of 7 runs of 50,000 (the machine is shared: what others run
 * only ever adds, and the 1,000 and the million are measured seconds
 * apart). */
static double stat_among(const char *dir, long among)
{
	char p[PATH_MAX + 32];
	size_t dlen = strlen(dir);
	memcpy(p, dir, dlen);
	struct stat st;
	enum { N = 50000, RUNS = 7 };
	/* The picks are made before the clock starts. */
	static uint32_t pick[N];
	double v[RUNS];
	rng = 0x9e3779b97f4a7c15ULL;
	for (int r = 0; r < RUNS; r++) {
		for (long k = 0; k < N; k++)
			pick[k] = (uint32_t)(next_rand() % (uint64_t)among);
		int64_t t0 = now_ns();
		for (long k = 0; k < N; k++) {
			file_name(p, dlen, pick[k]);
			if (stat(p, &st))
				return -1;
		}
		v[r] = (double)(now_ns() - t0) / N;
	}
	for (int i = 1; i < RUNS; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[0];
}

/* The arena's bytes in memory (the memfd's st_blocks): found among this
 * process's fds by its name. 0 when not found. */
static long arena_bytes(void)
{
	for (int fd = 3; fd < 65536; fd++) {
		char l[64], link[64];
		snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
		ssize_t k = readlink(l, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = 0;
		struct stat st;
		if (strstr(link, "memshim-arena") && fstat(fd, &st) == 0)
			return (long)st.st_blocks * 512;
	}
	return 0;
}

/* ns from a new process's start of main to the end of its first store
 * call (attaching to the store, lazily, and one stat): the fastest of 9
 * (as stat_among). */
static double attach_ns(const char *path)
{
	double v[9];
	for (int r = 0; r < 9; r++) {
		int p[2];
		if (pipe(p))
			return -1;
		pid_t pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			char *argv[] = {"bench", "--attach", (char *)path, NULL};
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		close(p[1]);
		char line[64] = "";
		ssize_t k = read(p[0], line, sizeof(line) - 1);
		close(p[0]);
		waitpid(pid, NULL, 0);
		if (k <= 0)
			return -1;
		line[k] = 0;
		v[r] = atof(line);
	}
	for (int i = 1; i < 9; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[0];
}

/* ns of a whole new process (vfork, exec, its first store call, exit)
 * that inherits a store fd its parent's program did not list to it: a
 * vfork child's dup2, as Python's subprocess makes with a store file for
 * stdout, so the process finds the fd's file by its memfd (the memfd
 * index) at start. The fastest of 9. */
static double inherit_once(int fd, int null, const char *path)
{
	int64_t t0 = now_ns();
	pid_t pid = vfork();
	if (pid == 0) {
		dup2(null, 1); /* its figure is not this line's */
		dup2(fd, 5);
		char *argv[] = {"bench", "--attach", (char *)path, NULL};
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int st = -1;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || st != 0)
		return -1;
	return (double)(now_ns() - t0);
}

static double inherit_ns(const char *path)
{
	double best = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	for (int r = 0; r < 9 && fd >= 0 && null >= 0; r++) {
		double t = inherit_once(fd, null, path);
		if (t < 0)
			break;
		if (best < 0 || t < best)
			best = t;
	}
	if (fd >= 0)
		close(fd);
	if (null >= 0)
		close(null);
	return best;
}

/* Creates empty files DIR/0000000, ... until a create fails, CAP files
 * exist or SECONDS have passed, and measures at 1,000 files and at the end:
 * stat of random files, attach time, the arena's resident bytes. Prints
 * "count why stat1k statN statN_first1k attach1k attachN arena1k arenaN
 * one1k oneN inherit1k inheritN". */
static int files_main(const char *dir, long cap, long seconds)
{
	char p[PATH_MAX + 32];
	const char *why = "cap";
	long n = 0;
	size_t dlen = strlen(dir);
	int64_t end = now_ns() + (int64_t)seconds * 1000000000;
	double s1k = -1, a1k = -1, o1k = -1, i1k = -1;
	long b1k = 0;
	if (mkdir(dir, 0755)) {
		printf("0 mkdir:%s\n", strerrorname_np(errno));
		return 0;
	}
	memcpy(p, dir, dlen);
	for (; n < cap; n++) {
		/* Reading the clock every 1024 files keeps it out of the count's
		 * way. */
		if ((n & 1023) == 0 && now_ns() > end) {
			why = "time";
			break;
		}
		if (n == 1000) {
			s1k = stat_among(dir, 1000);
			o1k = stat_among(dir, 1);
			file_name(p, dlen, 0);
			a1k = attach_ns(p);
			i1k = inherit_ns(p);
			b1k = arena_bytes();
		}
		file_name(p, dlen, n);
		int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			why = strerrorname_np(errno);
			break;
		}
		close(fd);
	}
	double sn = -1, sn1k = -1, an = -1, on = -1, in = -1;
	long bn = 0;
	if (n > 1000) {
		sn = stat_among(dir, n);
		sn1k = stat_among(dir, 1000);
		on = stat_among(dir, 1);
		file_name(p, dlen, 0);
		an = attach_ns(p);
		in = inherit_ns(p);
		bn = arena_bytes();
	}
	printf("%ld %s %.1f %.1f %.1f %.0f %.0f %ld %ld %.1f %.1f %.0f %.0f\n", n, why, s1k, sn, sn1k, a1k,
	       an, b1k, bn, o1k, on, i1k, in);
	return 0;
}

/* The first store call of a new process, timed from main (bench --attach). */
static int attach_main(const char *path)
{
	struct stat st;
	int64_t t0 = now_ns();
	int r = stat(path, &st);
	int64_t t1 = now_ns();
	printf("%lld\n", r ? -1LL : (long long)(t1 - t0));
	return 0;
}

/* ---- the driver ------------------------------------------------------------ */

struct worker {
	pid_t pid;
	int to, from; /* its stdin, its stdout */
	const char *side;
};

static struct worker store_w = {.pid = -1, .to = -1, .side = "store"},
		     tmpfs_w = {.pid = -1, .to = -1, .side = "tmpfs"};
static char self[PATH_MAX];
static char tmp_base[PATH_MAX], real_file[PATH_MAX + 16];

/* The environment of a fresh store (or of none), whatever this process
 * was started with: a bench run under memshim must not join that store.
 * Called in a child before it execs; SIGPIPE is the driver's only. */
static void clean_env(const char *preload)
{
	signal(SIGPIPE, SIG_DFL);
	static const char *drop[] = {"LD_PRELOAD", "MEMSHIM_STORE_ID", "MEMSHIM_STORE",
				     "MEMSHIM_SEED", "MEMSHIM_SAVE", "MEMSHIM_MAX_NODES",
				     "MEMSHIM_PREFIX", "MEMSHIM_QUOTA"};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		unsetenv(drop[i]);
	if (preload) {
		setenv("LD_PRELOAD", preload, 1);
		setenv("MEMSHIM_PREFIX", "/mem", 1);
		/* Room for everything the workloads hold (about 330 MiB and
		 * 10,000 files) and more: the quota is never what is measured. */
		setenv("MEMSHIM_QUOTA", "2G", 1);
	}
}

static int worker_start(struct worker *w, const char *dir, const char *preload, int smoke)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	/* Set before the fork: on_signal closes `to` to stop the worker. */
	w->to = in[1];
	w->from = out[0];
	w->pid = fork();
	if (w->pid < 0)
		return -1;
	if (w->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		clean_env(preload);
		char *argv[] = {"bench", "--worker", (char *)dir, real_file, smoke ? "--smoke" : NULL,
				NULL};
		execv(self, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	struct result r;
	if (read_all(w->from, &r, sizeof(r))) {
		fprintf(stderr, "bench: the %s worker did not start\n", w->side);
		return -1;
	}
	if (r.msg[0]) {
		fprintf(stderr, "bench: %s side: %s\n", w->side, r.msg);
		return -1;
	}
	return 0;
}

/* Runs workload i on w; returns ns per operation, or -1 (said why). */
static double ask(struct worker *w, int i)
{
	unsigned char b = (unsigned char)i;
	struct result r;
	if (write_all(w->to, &b, 1) || read_all(w->from, &r, sizeof(r))) {
		fprintf(stderr, "bench: %s side: the worker died during \"%s\"\n", w->side,
			workloads[i].name);
		return -1;
	}
	if (r.msg[0] || r.ops <= 0) {
		fprintf(stderr, "bench: %s side, \"%s\": %s\n", w->side, workloads[i].name, r.msg);
		return -1;
	}
	return (double)r.ns / (double)r.ops;
}

/* Closing its stdin ends a worker; a second call does nothing. */
static int worker_stop(struct worker *w)
{
	int st;
	if (w->pid <= 0)
		return 0;
	close(w->to);
	close(w->from);
	w->to = -1;
	pid_t pid = w->pid;
	w->pid = -1;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* "19,871": big counts read at a glance. */
static const char *group(long n, char *out, size_t size)
{
	char d[32];
	int len = snprintf(d, sizeof(d), "%ld", n), j = 0;
	for (int i = 0; i < len && j < (int)size - 2; i++) {
		if (i && (len - i) % 3 == 0)
			out[j++] = ',';
		out[j++] = d[i];
	}
	out[j] = 0;
	return out;
}

/* What the files row measured (files_main's line). */
struct scale {
	long n;
	char why[64];
	double stat1k, statn, statn1k, attach1k, attachn, one1k, onen, inherit1k, inheritn;
	long arena1k, arenan;
};

/* Runs bench --files under the shim in a fresh store, with a hard fd
 * limit of 20,000 (the keeper and its holders inherit it) and a node limit
 * of the target plus the directory, so that what stops the count is the
 * store refusing a create; describes the result. */
static void files_row(const char *preload, long target, long seconds, char *out, size_t size,
		      struct scale *sc)
{
	char tdir[PATH_MAX + 16];
	snprintf(tdir, sizeof(tdir), "%s/files", tmp_base);
	char capbuf[32], secbuf[32], nbuf[32];
	int p[2];
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	/* Lowering a hard limit is allowed; raising it is not. */
	rlim_t lim = rl.rlim_max < 20000 ? rl.rlim_max : 20000;
	snprintf(capbuf, sizeof(capbuf), "%ld", target + 1000);
	snprintf(secbuf, sizeof(secbuf), "%ld", seconds);
	snprintf(out, size, "(did not run)");
	memset(sc, 0, sizeof(*sc));
	sc->n = -1;
	if (pipe2(p, O_CLOEXEC))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		clean_env(preload);
		struct rlimit nl = {lim, lim};
		setrlimit(RLIMIT_NOFILE, &nl);
		char nodes[32];
		snprintf(nodes, sizeof(nodes), "%ld", target + 1);
		setenv("MEMSHIM_MAX_NODES", nodes, 1);
		/* An empty file costs 3 KiB of quota (MS_NODE_COST + MS_FILE_COST):
		 * room for the target and more, so the node limit is what refuses. */
		char quota[32];
		snprintf(quota, sizeof(quota), "%ldM", target * 3 / 1024 + 64);
		setenv("MEMSHIM_QUOTA", quota, 1);
		/* Without a preload: the same files on tmpfs, up to the target. */
		if (!preload)
			snprintf(capbuf, sizeof(capbuf), "%ld", target);
		char *argv[] = {"bench", "--files", preload ? "/mem/files" : tdir, capbuf, secbuf, NULL};
		execv(self, argv);
		_exit(127);
	}
	close(p[1]);
	char line[256] = "";
	size_t got = 0;
	/* The child stops itself after `seconds`; a wedged one is killed a
	 * minute later, so make bench always ends. */
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	while (got < sizeof(line) - 1 && poll(&pf, 1, (int)(seconds + 60) * 1000) == 1) {
		ssize_t k = read(p[0], line + got, sizeof(line) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	line[got] = 0;
	close(p[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (!preload)
		rm_tree(tdir);
	if (sscanf(line, "%ld %63s %lf %lf %lf %lf %lf %ld %ld %lf %lf %lf %lf", &sc->n, sc->why,
		   &sc->stat1k, &sc->statn, &sc->statn1k, &sc->attach1k, &sc->attachn, &sc->arena1k,
		   &sc->arenan, &sc->one1k, &sc->onen, &sc->inherit1k, &sc->inheritn) < 2) {
		sc->n = -1;
		return;
	}
	group(sc->n, nbuf, sizeof(nbuf));
	if (strcmp(sc->why, "cap") == 0)
		snprintf(out, size, "%s (the cap; no failure)", nbuf);
	else if (strcmp(sc->why, "time") == 0)
		snprintf(out, size, "%s in %ld s (time limit; no failure)", nbuf, seconds);
	else
		snprintf(out, size, "%s, then %s at the node limit", nbuf, sc->why);
	if (lim != 20000) {
		size_t l = strlen(out);
		snprintf(out + l, size - l, " (hard fd limit %lu here)", (unsigned long)lim);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[n];
	memcpy(s, v, sizeof(s));
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static const char *fmt_time(double ns, char *out, size_t size)
{
	if (ns < 10000)
		snprintf(out, size, "%.0f ns", ns);
	else if (ns < 10000000)
		snprintf(out, size, "%.1f us", ns / 1000);
	else
		snprintf(out, size, "%.1f ms", ns / 1000000);
	return out;
}

static void cleanup_tmp(void)
{
	unlink(real_file);
	rmdir(tmp_base);
}

static void on_signal(int sig)
{
	/* The workers see EOF (or the signal too) and remove their
	 * directories; the tmpfs one must be gone before its parent can be. */
	struct worker *ws[] = {&store_w, &tmpfs_w};
	for (int i = 0; i < 2; i++) {
		if (ws[i]->to >= 0)
			close(ws[i]->to);
		if (ws[i]->pid > 0)
			waitpid(ws[i]->pid, NULL, 0);
	}
	cleanup_tmp();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The CPU model, as /proc/cpuinfo names it. */
static void cpu_model(char *out, size_t size)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(out, size, "unknown CPU");
	while (f && fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && v) {
			v += 1 + strspn(v + 1, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(out, size, "%s", v);
			break;
		}
	}
	if (f)
		fclose(f);
}

static int driver_main(const char *preload, int smoke)
{
	int rounds = smoke ? 1 : 7;
	const char *e = getenv("BENCH_ROUNDS");
	if (!smoke && e && atoi(e) > 0)
		rounds = atoi(e);
	long files_cap = smoke ? 100 : 1000000, files_sec = smoke ? 10 : 120;
	if (!smoke && (e = getenv("BENCH_FILES")) && atol(e) > 0)
		files_cap = atol(e);
	if (!smoke && (e = getenv("BENCH_FILES_SECONDS")) && atol(e) > 0)
		files_sec = atol(e);

	/* One CPU for the driver, both workers, the keeper and every process
	 * they start: one side never runs while the other does, and the
	 * scheduler does not move the work between caches. */
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	int ncpu = CPU_COUNT(&set), cpu = -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpu = i;
	if ((e = getenv("BENCH_CPU")))
		cpu = atoi(e);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("bench: sched_setaffinity");
		return 1;
	}

	snprintf(tmp_base, sizeof(tmp_base), "/dev/shm/memshim-bench-%d", (int)getpid());
	snprintf(real_file, sizeof(real_file), "%s/real", tmp_base);
	if (mkdir(tmp_base, 0755)) {
		perror("bench: mkdir /dev/shm/...");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	/* A worker that died is reported, not a reason to die silently. */
	signal(SIGPIPE, SIG_IGN);
	int ret = 1;
	struct worker *store = &store_w, *tmpfs = &tmpfs_w;
	char tdir[PATH_MAX + 8];
	snprintf(tdir, sizeof(tdir), "%s/t", tmp_base);
	{
		int fd = open(real_file, O_CREAT | O_TRUNC | O_WRONLY, 0644);
		char page[4096];
		memset(page, 'r', sizeof(page));
		if (fd < 0 || write(fd, page, sizeof(page)) != (ssize_t)sizeof(page) || close(fd)) {
			perror("bench: the real file");
			goto out;
		}
	}
	struct utsname u;
	char model[256];
	uname(&u);
	cpu_model(model, sizeof(model));
	printf("memshim bench%s: %d round%s, pinned to CPU %d; store /mem/bench under %s "
	       "(MEMSHIM_QUOTA=2G), tmpfs %s\n",
	       smoke ? " --smoke" : "", rounds, rounds > 1 ? "s" : "", cpu, preload, tdir);
	printf("machine: %d CPUs, %s, Linux %s\n", ncpu, model, u.release);
	if (smoke)
		printf("smoke run: sizes and counts cut down, the figures mean nothing\n");
	printf("\n");
	fflush(stdout);

	fprintf(stderr, "bench: preparing both sides\n");
	if (worker_start(tmpfs, tdir, NULL, smoke) || worker_start(store, "/mem/bench", preload, smoke))
		goto out;

	static double st_ns[NWORK][1000], tm_ns[NWORK][1000], ratio[NWORK][1000];
	if (rounds > 1000)
		rounds = 1000;
	/* Round 0 warms both sides up (page cache, lazily bound symbols) and
	 * is not counted. Within a round each workload runs on both sides
	 * back to back; which side goes first alternates from round to round. */
	for (int r = smoke ? 1 : 0; r <= rounds; r++) {
		fprintf(stderr, r ? "bench: round %d of %d\n" : "bench: warm-up\n", r, rounds);
		for (int i = 0; i < NWORK; i++) {
			if (!chosen(workloads[i].name))
				continue;
			struct worker *first = r % 2 ? store : tmpfs;
			struct worker *second = r % 2 ? tmpfs : store;
			double a = ask(first, i), b = a < 0 ? -1 : ask(second, i);
			if (a < 0 || b < 0)
				goto out;
			if (!r)
				continue;
			st_ns[i][r - 1] = first == store ? a : b;
			tm_ns[i][r - 1] = first == store ? b : a;
			ratio[i][r - 1] = st_ns[i][r - 1] / tm_ns[i][r - 1];
		}
	}
	if (worker_stop(store) | worker_stop(tmpfs)) {
		fprintf(stderr, "bench: a worker failed at exit\n");
		goto out;
	}

	char files[160] = "", tfiles[160];
	struct scale sc = {.n = 0}, tc = {.n = 0};
	if (chosen("files")) {
		fprintf(stderr, "bench: files in one store (at most %ld s)\n", files_sec);
		files_row(preload, files_cap, files_sec, files, sizeof(files), &sc);
		fprintf(stderr, "bench: the same files on tmpfs\n");
		files_row(NULL, files_cap, files_sec, tfiles, sizeof(tfiles), &tc);
	}

	printf("| workload | store | tmpfs | store/tmpfs median | spread (min-max) | target |\n");
	printf("|---|---|---|---|---|---|\n");
	for (int i = 0; i < NWORK; i++) {
		if (!chosen(workloads[i].name))
			continue;
		double lo = ratio[i][0], hi = ratio[i][0];
		for (int r = 1; r < rounds; r++) {
			lo = ratio[i][r] < lo ? ratio[i][r] : lo;
			hi = ratio[i][r] > hi ? ratio[i][r] : hi;
		}
		char a[32], b[32];
		printf("| %s | %s | %s | %.2f | %.2f-%.2f | %s |\n", workloads[i].name,
		       fmt_time(median(st_ns[i], rounds), a, sizeof(a)),
		       fmt_time(median(tm_ns[i], rounds), b, sizeof(b)), median(ratio[i], rounds),
		       lo, hi, workloads[i].target);
	}
	char capbuf[32];
	if (files[0])
		printf("| files in one store, hard fd limit 20,000 | %s | - | - | - | %s |\n", files,
		       group(1000000, capbuf, sizeof(capbuf)));
	if (sc.n > 1000) {
		/* The same store at 1,000 files and at the end of the files row,
		 * and the same files on tmpfs for comparison. */
		char nb[32], tb[32], a[32], b[32], c[32], d[32];
		group(sc.n, nb, sizeof(nb));
		group(tc.n, tb, sizeof(tb));
		printf("\n| one directory, hard fd limit 20,000 | store at 1,000 files | at %s | ratio | "
		       "tmpfs at 1,000 | at %s | ratio | target |\n|---|---|---|---|---|---|---|---|\n",
		       nb, tb);
		printf("| stat of a random file of the directory (fastest of 7 runs of 50,000) | %s | %s | %.2f | %s | %s | %.2f | "
		       "<= 1.5 |\n",
		       fmt_time(sc.stat1k, a, sizeof(a)), fmt_time(sc.statn, b, sizeof(b)),
		       sc.statn / sc.stat1k, fmt_time(tc.stat1k, c, sizeof(c)),
		       fmt_time(tc.statn, d, sizeof(d)), tc.statn / tc.stat1k);
		printf("| stat of one file, over and over (the same) | %s | %s | %.2f | %s | %s | %.2f | "
		       "<= 1.5 |\n",
		       fmt_time(sc.one1k, a, sizeof(a)), fmt_time(sc.onen, b, sizeof(b)),
		       sc.onen / sc.one1k, fmt_time(tc.one1k, c, sizeof(c)),
		       fmt_time(tc.onen, d, sizeof(d)), tc.onen / tc.one1k);
		printf("| stat of a random file among the first 1,000 (the same) | %s | %s | %.2f | %s | %s | %.2f | "
		       "<= 1.5 |\n",
		       fmt_time(sc.stat1k, a, sizeof(a)), fmt_time(sc.statn1k, b, sizeof(b)),
		       sc.statn1k / sc.stat1k, fmt_time(tc.stat1k, c, sizeof(c)),
		       fmt_time(tc.statn1k, d, sizeof(d)), tc.statn1k / tc.stat1k);
		printf("| a new process's first store call (attach + stat), fastest of 9 | %s | %s | "
		       "%.2f | - | - | - | independent of the files |\n",
		       fmt_time(sc.attach1k, a, sizeof(a)), fmt_time(sc.attachn, b, sizeof(b)),
		       sc.attachn / sc.attach1k);
		printf("| a new process that inherits an unlisted store fd (vfork, exec, first store "
		       "call, exit), fastest of 9 | %s | %s | %.2f | - | - | - | independent of the "
		       "files |\n",
		       fmt_time(sc.inherit1k, a, sizeof(a)), fmt_time(sc.inheritn, b, sizeof(b)),
		       sc.inheritn / sc.inherit1k);
		if (sc.arenan > sc.arena1k)
			printf("| the arena in memory | %ld KiB | %ld KiB | %.0f bytes a file | - | - | - "
			       "| <= 512 |\n",
			       sc.arena1k / 1024, sc.arenan / 1024,
			       (double)(sc.arenan - sc.arena1k) / (double)(sc.n - 1000));
	}
	printf("\nstore, tmpfs: median time per operation (in the sequential rows one 1 MiB call). "
	       "Ratios: store/tmpfs time of each round, their median and range (min-max); lower is "
	       "better.\n");
	ret = 0;
out:
	worker_stop(store);
	worker_stop(tmpfs);
	cleanup_tmp();
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--open1") == 0) {
		int fd = open(argv[2], O_RDONLY);
		return fd < 0 ? 1 : close(fd) != 0;
	}
	if (argc >= 4 && strcmp(argv[1], "--worker") == 0)
		return worker_main(argv[2], argv[3], argc > 4 && strcmp(argv[4], "--smoke") == 0);
	if (argc == 3 && strcmp(argv[1], "--attach") == 0)
		return attach_main(argv[2]);
	if (argc == 5 && strcmp(argv[1], "--files") == 0)
		return files_main(argv[2], atol(argv[3]), atol(argv[4]));

	int smoke = 0;
	const char *preload = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0)
			smoke = 1;
		else if (strcmp(argv[i], "--preload") == 0 && i + 1 < argc)
			preload = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--smoke] [--preload LD_PRELOAD-list]\n", argv[0]);
			return 2;
		}
	}
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k <= 0)
		return 1;
	self[k] = 0;
	/* By default the library of the build this program belongs to:
	 * <build>/bench/bench next to <build>/libmemshim.so. */
	static char lib[PATH_MAX + 32];
	if (!preload) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", self);
		for (int up = 0; up < 2; up++)
			*strrchr(dir, '/') = 0;
		snprintf(lib, sizeof(lib), "%s/libmemshim.so", dir);
		preload = lib;
	}
	return driver_main(preload, smoke);
}
