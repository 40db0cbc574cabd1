/* openops — the same paths opened with the same flags through every entry
 * point that opens a file, for the differential test (tests/test_e2e_diff.c,
 * Test(e2e_diff, open)): run under the preload on a store directory and
 * without it on a tmpfs directory, the outputs must be the same.
 *
 *   openops DIR all       DIR: an existing, empty directory
 *
 * Entry points: open, open64, openat, the fortified __open_2, creat, fopen
 * (every mode), freopen, mkstemp/mkostemp, posix_spawn with an addopen file
 * action, exec of a program (execv in a child, posix_spawn), and re-opens
 * of an fd through /proc/self/fd/N. Paths: a file, a missing name, a
 * directory, symlinks to each, a dangling symlink, a trailing slash, a
 * file used as a directory, and a symlink to a real directory outside DIR
 * (in the store: a path that leaves the store). After every call one line
 * gives the result and errno, and the state of the files it may change.
 * Nothing that legitimately differs is printed: no fd numbers, inode
 * numbers, times or generated names. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
int __open_2(const char *, int);

#include "helpers/ops.h"

static char OUT[PATH_MAX]; /* a real directory outside D */

/* "type mode size content" of a path, or its errno. */
static void state_of(const char *label, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		printf(" %s:%s", label, en(errno));
		return;
	}
	const char *t = S_ISREG(st.st_mode) ? "reg" : S_ISDIR(st.st_mode) ? "dir"
		      : S_ISLNK(st.st_mode) ? "lnk" : "other";
	printf(" %s:%s/%04o", label, t, (unsigned)(st.st_mode & 07777));
	if (S_ISREG(st.st_mode)) {
		char b[64] = "";
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;
		if (fd >= 0)
			close(fd);
		b[n > 0 ? n : 0] = 0;
		for (char *c = b; *c; c++)
			if (*c == '\n')
				*c = '|';
		printf("/%lld\"%s\"", (long long)st.st_size, b);
	}
}

static void put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		perror(path), exit(2);
	close(fd);
	chmod(path, 0644);
}

/* The files every call starts from; removes what the last one made. */
static void reset(void)
{
	put(P("f"), "hello");
	unlink(P("new"));
	unlink(P("d/new"));
	char p[PATH_MAX + 8];
	snprintf(p, sizeof(p), "%s/out", OUT);
	unlink(p);
}

/* The line's end: what the call left behind. */
static void after(void)
{
	char p[PATH_MAX + 8];
	snprintf(p, sizeof(p), "%s/out", OUT);
	state_of("f", P("f"));
	state_of("new", P("new"));
	state_of("out", p);
	printf("\n");
	fflush(stdout);
	reset();
}

/* What an fd is: "file", "dir", with its access mode and offset; or the
 * failure. Closes it. */
static void fd_result(const char *what, int fd, int err)
{
	if (fd < 0) {
		printf("%s -> -1 %s", what, en(err));
	} else {
		struct stat st;
		fstat(fd, &st);
		int fl = fcntl(fd, F_GETFL);
		printf("%s -> %s acc=%d app=%d off=%lld", what, S_ISDIR(st.st_mode) ? "dir" : "file",
		       fl & O_ACCMODE, !!(fl & O_APPEND),
		       S_ISDIR(st.st_mode) ? 0LL : (long long)lseek(fd, 0, SEEK_CUR));
		close(fd);
	}
	after();
}

static const char *paths[] = {"f",      "new",    "d",   "d/",       "lf",      "ld",
			      "dangle", "f/",     "f/x", "nodir/x",  "lout/out", "lout",
			      "lf/",    "d/new"};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

#define F(x) {x, #x}
static const struct {
	int flags;
	const char *name;
} flagsets[] = {
	F(O_RDONLY),
	F(O_WRONLY),
	F(O_RDWR),
	F(O_WRONLY | O_TRUNC),
	F(O_RDONLY | O_TRUNC),
	F(O_RDWR | O_APPEND),
	F(O_WRONLY | O_CREAT),
	F(O_WRONLY | O_CREAT | O_EXCL),
	F(O_RDWR | O_CREAT | O_TRUNC),
	F(O_RDONLY | O_DIRECTORY),
	F(O_RDONLY | O_NOFOLLOW),
	F(O_WRONLY | O_CREAT | O_NOFOLLOW),
	F(O_CREAT | O_DIRECTORY),
};
#define NFLAGS (sizeof(flagsets) / sizeof(flagsets[0]))

static void by_open(void)
{
	for (size_t i = 0; i < NPATHS; i++)
		for (size_t j = 0; j < NFLAGS; j++) {
			char w[256];
			int fl = flagsets[j].flags;
			snprintf(w, sizeof(w), "open %s %s", paths[i], flagsets[j].name);
			int fd = open(P(paths[i]), fl, 0640);
			fd_result(w, fd, errno);
			snprintf(w, sizeof(w), "open64 %s %s", paths[i], flagsets[j].name);
			fd = open64(P(paths[i]), fl, 0640);
			fd_result(w, fd, errno);
			int dfd = open(D, O_RDONLY | O_DIRECTORY);
			snprintf(w, sizeof(w), "openat %s %s", paths[i], flagsets[j].name);
			fd = openat(dfd, paths[i], fl, 0640);
			fd_result(w, fd, errno);
			close(dfd);
			if (!(fl & O_CREAT)) {
				snprintf(w, sizeof(w), "__open_2 %s %s", paths[i], flagsets[j].name);
				fd = __open_2(P(paths[i]), fl);
				fd_result(w, fd, errno);
			}
		}
	for (size_t i = 0; i < NPATHS; i++) {
		char w[256];
		snprintf(w, sizeof(w), "creat %s", paths[i]);
		int fd = creat(P(paths[i]), 0640);
		fd_result(w, fd, errno);
	}
}

static const char *modes[] = {"r", "r+", "w", "w+", "a", "a+", "wx", "re", "we"};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

/* What a stream is: its mode's effect (a write, a read), or the failure. */
static void stream_result(const char *what, FILE *f, int err)
{
	if (!f) {
		printf("%s -> NULL %s", what, en(err));
		after();
		return;
	}
	char b[16] = "";
	size_t n = fread(b, 1, 5, f);
	clearerr(f);
	int w = fputs("X", f);
	int c = fclose(f);
	printf("%s -> FILE read=%zu \"%.*s\" put=%d close=%d", what, n, (int)n, b, w >= 0, c);
	after();
}

static void by_fopen(void)
{
	for (size_t i = 0; i < NPATHS; i++)
		for (size_t j = 0; j < NMODES; j++) {
			char w[256];
			snprintf(w, sizeof(w), "fopen %s %s", paths[i], modes[j]);
			FILE *f = fopen(P(paths[i]), modes[j]);
			stream_result(w, f, errno);
			/* freopen onto a stream of another file in DIR (in the
			 * store, a stream of the shim's: glibc's own streams on
			 * real files write through calls no preload sees) */
			const char *o = P("other");
			FILE *g = fopen(o, "w");
			snprintf(w, sizeof(w), "freopen %s %s", paths[i], modes[j]);
			f = freopen(P(paths[i]), modes[j], g);
			stream_result(w, f, errno);
			unlink(o);
		}
}

static void by_mkstemp(void)
{
	static const char *tpl[] = {"XXXXXX", "d/tXXXXXX", "lout/tXXXXXX", "nodir/XXXXXX",
				    "f/XXXXXX", "short"};
	for (size_t i = 0; i < sizeof(tpl) / sizeof(tpl[0]); i++) {
		char t[PATH_MAX], w[256];
		struct stat st;
		snprintf(t, sizeof(t), "%s", P(tpl[i]));
		int fd = mkstemp(t);
		int err = errno;
		snprintf(w, sizeof(w), "mkstemp %s", tpl[i]);
		if (fd >= 0 && lstat(t, &st) == 0)
			printf("%s -> made %04o size=%lld;", w, (unsigned)(st.st_mode & 07777),
			       (long long)st.st_size);
		if (fd >= 0)
			unlink(t);
		fd_result(w, fd, err);
		snprintf(t, sizeof(t), "%s", P(tpl[i]));
		fd = mkostemp(t, O_APPEND | O_CLOEXEC);
		err = errno;
		if (fd >= 0)
			unlink(t);
		snprintf(w, sizeof(w), "mkostemp %s", tpl[i]);
		fd_result(w, fd, err);
	}
}

/* posix_spawn with stdout opened by a file action: glibc reports the
 * open's failure from posix_spawn, the shim (which must open the store
 * file itself) from addopen; the first error of the two is compared. */
static void by_spawn_open(void)
{
	for (size_t i = 0; i < NPATHS; i++)
		for (size_t j = 0; j < NFLAGS; j++) {
			int fl = flagsets[j].flags;
			if ((fl & O_ACCMODE) == O_RDONLY)
				continue; /* stdout must be writable for the echo */
			posix_spawn_file_actions_t fa;
			posix_spawn_file_actions_init(&fa);
			int rc = posix_spawn_file_actions_addopen(&fa, 1, P(paths[i]), fl, 0640);
			pid_t pid;
			int status = -1;
			char *argv[] = {"sh", "-c", "echo spawned", NULL};
			if (rc == 0) {
				rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
				if (rc == 0)
					waitpid(pid, &status, 0);
			}
			posix_spawn_file_actions_destroy(&fa);
			printf("spawn-open %s %s -> %s status=%d", paths[i], flagsets[j].name,
			       rc ? en(rc) : "0", rc ? -1 : status);
			after();
		}
}

/* The exit status of a vfork child that execs path (100+errno when the
 * exec fails). A function of its own: nothing of the caller's frame may be
 * clobbered while the child borrows it. */
static __attribute__((noinline)) int vfork_execv(const char *path, char **argv)
{
	int status = 0;
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		execv(path, argv);
		_exit(100 + errno);
	}
	waitpid(pid, &status, 0);
	return WEXITSTATUS(status);
}

/* Programs: a store script, a store symlink to a real program, a
 * directory, a file without x, a missing name. */
static void by_exec(void)
{
	static const char *progs[] = {"prog", "lprog", "lecho", "d", "f", "missing", "prog/"};
	/* $0: the kernel gives a script its own path as the interpreter's
	 * argument */
	put(P("prog"), "#!/bin/sh\necho ran \"$1\" as \"$0\"\n");
	chmod(P("prog"), 0755);
	symlink("prog", P("lprog"));
	symlink("/bin/echo", P("lecho"));
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		int pfd[2];
		if (pipe(pfd))
			exit(2);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			char *argv[] = {(char *)progs[i], "arg", NULL};
			execv(P(progs[i]), argv);
			int e = errno;
			if (write(pfd[1], &e, sizeof(e)) < 0)
				_exit(126);
			_exit(127);
		}
		close(pfd[1]);
		int e = 0, status;
		ssize_t n = read(pfd[0], &e, sizeof(e));
		close(pfd[0]);
		waitpid(pid, &status, 0);
		printf("execv %s -> %s status=%d", progs[i], n == sizeof(e) ? en(e) : "ran",
		       WEXITSTATUS(status));
		after();
		char *argv[] = {(char *)progs[i], "arg", NULL};
		int rc = posix_spawn(&pid, P(progs[i]), NULL, NULL, argv, environ);
		status = 0;
		if (rc == 0)
			waitpid(pid, &status, 0);
		printf("posix_spawn %s -> %s status=%d", progs[i], rc ? en(rc) : "0",
		       WEXITSTATUS(status));
		after();
		/* posix_spawnp and execvp through a PATH that starts in DIR */
		char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s:/usr/bin:/bin", D);
		setenv("PATH", path, 1);
		rc = posix_spawnp(&pid, progs[i], NULL, NULL, argv, environ);
		status = 0;
		if (rc == 0)
			waitpid(pid, &status, 0);
		printf("posix_spawnp %s -> %s status=%d", progs[i], rc ? en(rc) : "0",
		       WEXITSTATUS(status));
		after();
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			execvp(progs[i], argv);
			_exit(100 + errno);
		}
		waitpid(pid, &status, 0);
		printf("execvp %s -> status=%d", progs[i], WEXITSTATUS(status));
		after();
		/* the other routes: system and popen (a shell that execs it),
		 * vfork and execv (the child shares the parent's memory) */
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "%s arg", P(progs[i]));
		fflush(stdout);
		status = system(cmd);
		printf("system %s -> status=%d", progs[i], WEXITSTATUS(status));
		after();
		FILE *pp = popen(cmd, "r");
		char got[256] = "";
		size_t got_n = pp ? fread(got, 1, sizeof(got) - 1, pp) : 0;
		got[got_n] = 0;
		got[strcspn(got, "\n")] = 0;
		status = pp ? pclose(pp) : -1;
		printf("popen %s -> \"%s\" status=%d", progs[i], got, WEXITSTATUS(status));
		after();
		printf("vfork+execv %s -> status=%d", progs[i], vfork_execv(P(progs[i]), argv));
		after();
		if (old)
			setenv("PATH", old, 1), free(old);
	}
	unlink(P("prog"));
	unlink(P("lprog"));
	unlink(P("lecho"));
}

/* open and fopen of /proc/self/fd/N, N an fd on the file or directory. */
static void by_proc(void)
{
	static const char *what[] = {"f", "d"};
	for (size_t i = 0; i < 2; i++) {
		for (size_t j = 0; j < NFLAGS; j++) {
			int fd = open(P(what[i]), O_RDONLY);
			char pp[64], w[256];
			snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fd);
			snprintf(w, sizeof(w), "proc-open %s %s", what[i], flagsets[j].name);
			int nfd = open(pp, flagsets[j].flags, 0640);
			int err = errno;
			close(fd);
			fd_result(w, nfd, err);
		}
		for (size_t j = 0; j < NMODES; j++) {
			int fd = open(P(what[i]), O_RDONLY);
			char pp[64], w[256];
			snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fd);
			snprintf(w, sizeof(w), "proc-fopen %s %s", what[i], modes[j]);
			FILE *f = fopen(pp, modes[j]);
			int err = errno;
			close(fd);
			stream_result(w, f, err);
		}
	}
}

/* Fds open beyond the standard three (the shim's own, at 900 and above,
 * left out): nothing may leak. */
static int open_fds(void)
{
	int n = 0;
	for (int fd = 3; fd < 900; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[2], "all")) {
		fprintf(stderr, "usage: openops DIR all\n");
		return 2;
	}
	D = argv[1];
	umask(022);
	snprintf(OUT, sizeof(OUT), "/tmp/memshim-openops-XXXXXX");
	if (!mkdtemp(OUT))
		return perror("mkdtemp"), 2;
	mkdir(P("d"), 0755);
	symlink("f", P("lf"));
	symlink("d", P("ld"));
	symlink("missing", P("dangle"));
	symlink(OUT, P("lout"));
	reset();
	void (*steps[])(void) = {by_open, by_fopen, by_mkstemp, by_spawn_open, by_exec, by_proc};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		steps[i]();
		if (getenv("OPENOPS_FDS"))
			fprintf(stderr, "step %zu: %d fds\n", i, open_fds());
	}
	char p[PATH_MAX + 8];
	snprintf(p, sizeof(p), "%s/out", OUT);
	unlink(p);
	rmdir(OUT);
	printf("fds left open: %d\n", open_fds());
	return 0;
}
