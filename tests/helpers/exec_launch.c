/* tests/helpers/exec_launch.c — starts programs in every way glibc offers,
 * run under the preload by tests/test_e2e_exec.c (through
 * tests/e2e/exec_cases.sh). Uses libc only.
 *
 *	exec_launch child IN OUT TAG   reads IN, writes "TAG:<IN's bytes>" to OUT
 *	exec_launch via METHOD [PROG]  writes /mem/in, starts `PROG child /mem/in
 *	                               /mem/out.METHOD METHOD` by METHOD (PROG
 *	                               defaults to this program), waits, prints
 *	                               "status=N" and what /mem/out.METHOD holds
 *	exec_launch noexec_execv PATH  execv(PATH): prints the errno name
 *	exec_launch noexec_spawn PATH  posix_spawn(PATH): prints the error name
 *	exec_launch dirfd_open DIR NAME
 *	                               opens DIR (no O_CLOEXEC) and execs itself
 *	                               as `dirfd_use FD NAME`
 *	exec_launch dirfd_use FD NAME  on the inherited directory fd: fstat,
 *	                               openat(FD, NAME) read, openat(FD, "made",
 *	                               O_CREAT) write, fdopendir listing
 *	exec_launch fill               printf + fflush of 1000-byte lines to
 *	                               stdout, 100 times or until one fails;
 *	                               reports "ok=<bytes> err=<ERRNO>" on stderr
 *	exec_launch quota_child HOW OUT
 *	                               starts `head -c 100000 /dev/zero` with
 *	                               OUT (opened here, no O_CLOEXEC) as its
 *	                               stdout: HOW is fork_dup2, vfork_dup2
 *	                               (dup2 in a vfork child, as Python's
 *	                               subprocess does), spawn_adddup2 (a
 *	                               posix_spawn dup2 file action) or system
 *	                               (`head ... >&N`); prints the status,
 *	                               whether what OUT holds fits in a 64K
 *	                               quota and whether stat agrees with it
 *	exec_launch vfork_chdir DIR    chdir(DIR) in a vfork child, then exec
 *	                               /bin/pwd; prints the parent's cwd after
 *	exec_launch spawn_fill OUT     posix_spawn of `exec_launch fill` with OUT
 *	                               opened as its stdout by a file action;
 *	                               prints "status=N size=<OUT's size>"
 *
 * METHOD: execve execv execvp execvpe execl execle execlp fexecve execveat
 * execveat_dirfd posix_spawn posix_spawnp spawn_addopen spawnp_addopen
 * system popen_r popen_w vfork execve_tinyenv execle_tinyenv
 * execvpe_tinyenv spawn_tinyenv execv_clearenv.
 * The exec forms run in a fork child (vfork: in a vfork child); the
 * tinyenv forms pass an environment of PATH alone, without LD_PRELOAD or
 * any MEMSHIM_ variable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *ename(int e)
{
	switch (e) {
	case 0: return "0";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOSPC: return "ENOSPC";
	case EDQUOT: return "EDQUOT";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EIO: return "EIO";
	default: return strerror(e);
	}
}

static int die(const char *what)
{
	fprintf(stderr, "exec_launch: %s: %s\n", what, strerror(errno));
	return 3;
}

/* Reads a whole file into buf; -1 on error. */
static ssize_t slurp(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t k = 0;
	ssize_t r;
	while (k < n - 1 && (r = read(fd, buf + k, n - 1 - k)) > 0)
		k += (size_t)r;
	close(fd);
	buf[k] = 0;
	return (ssize_t)k;
}

static int put_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, s, strlen(s));
	int c = close(fd);
	return w == (ssize_t)strlen(s) && c == 0 ? 0 : -1;
}

static int do_child(const char *in, const char *out, const char *tag)
{
	char buf[4096], line[4200];
	if (slurp(in, buf, sizeof(buf)) < 0)
		return die(in);
	snprintf(line, sizeof(line), "%s:%s", tag, buf);
	if (put_file(out, line))
		return die(out);
	return 0;
}

/* ---- starting a program by one METHOD -------------------------------------------- */

static char self[PATH_MAX];

static int wait_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Puts PROG's directory first in PATH, for the forms that search it. */
static void path_first(const char *prog)
{
	char d[PATH_MAX], p[PATH_MAX * 2];
	snprintf(d, sizeof(d), "%s", prog);
	const char *old = getenv("PATH");
	snprintf(p, sizeof(p), "%s:%s", dirname(d), old ? old : "/usr/bin:/bin");
	setenv("PATH", p, 1);
}

static int via(const char *method, const char *prog)
{
	char out[256], base[PATH_MAX], cmd[PATH_MAX + 512];
	snprintf(out, sizeof(out), "/mem/out.%s", method);
	snprintf(base, sizeof(base), "%s", prog);
	const char *name = basename(base);
	char *argv[] = {(char *)prog, "child", "/mem/in", out, (char *)method, NULL};
	char *pargv[] = {(char *)name, "child", "/mem/in", out, (char *)method, NULL};
	char *tiny[] = {"PATH=/usr/bin:/bin", NULL};
	char tinypath[PATH_MAX + 64];
	char *tinyp[] = {tinypath, NULL};

	char payload[128];
	snprintf(payload, sizeof(payload), "payload for %s\n", method);
	if (put_file("/mem/in", payload))
		return die("/mem/in");

	int status = -1;
#define IS(s) (strcmp(method, (s)) == 0)
	if (IS("posix_spawn") || IS("posix_spawnp") || IS("spawn_tinyenv")) {
		pid_t pid;
		int rc;
		if (IS("posix_spawnp")) {
			path_first(prog);
			rc = posix_spawnp(&pid, name, NULL, NULL, pargv, environ);
		} else {
			rc = posix_spawn(&pid, prog, NULL, NULL, argv, IS("spawn_tinyenv") ? tiny : environ);
		}
		if (rc) {
			printf("spawn: %s\n", ename(rc));
			return 1;
		}
		status = wait_status(pid);
	} else if (IS("spawn_addopen") || IS("spawnp_addopen")) {
		/* cat with stdin and stdout opened by the file actions. */
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		int r1 = posix_spawn_file_actions_addopen(&fa, 0, "/mem/in", O_RDONLY, 0);
		int r2 = posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (r1 || r2) {
			printf("addopen: %s %s\n", ename(r1), ename(r2));
			return 1;
		}
		pid_t pid;
		char *cat[] = {"cat", NULL};
		int rc = IS("spawnp_addopen") ? posix_spawnp(&pid, "cat", &fa, NULL, cat, environ)
					      : posix_spawn(&pid, "/bin/cat", &fa, NULL, cat, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (rc) {
			printf("spawn: %s\n", ename(rc));
			return 1;
		}
		status = wait_status(pid);
	} else if (IS("system")) {
		snprintf(cmd, sizeof(cmd), "'%s' child /mem/in %s system", prog, out);
		int st = system(cmd);
		status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	} else if (IS("popen_r")) {
		/* The child reads the store; the parent gets it through the pipe
		 * and stores it. */
		FILE *p = popen("cat /mem/in", "r");
		if (!p)
			return die("popen");
		char buf[4096];
		size_t k = fread(buf, 1, sizeof(buf) - 1, p);
		buf[k] = 0;
		int st = pclose(p);
		status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		char line[4200];
		snprintf(line, sizeof(line), "popen_r:%s", buf);
		if (put_file(out, line))
			return die(out);
	} else if (IS("popen_w")) {
		snprintf(cmd, sizeof(cmd), "sed s/^/popen_w:/ > %s", out);
		FILE *p = popen(cmd, "w");
		if (!p)
			return die("popen");
		fputs(payload, p);
		int st = pclose(p);
		status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	} else {
		/* The exec forms, in a child. */
		volatile int fd = -1, dfd = -1;
		if (IS("fexecve") && (fd = open(prog, O_RDONLY | O_CLOEXEC)) < 0)
			return die(prog);
		if (IS("execveat_dirfd")) {
			char d[PATH_MAX];
			snprintf(d, sizeof(d), "%s", prog);
			if ((dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
				return die("open dir");
		}
		if (IS("execvp") || IS("execvpe") || IS("execlp") || IS("execvpe_tinyenv")) {
			path_first(prog);
			char d[PATH_MAX];
			snprintf(d, sizeof(d), "%s", prog);
			snprintf(tinypath, sizeof(tinypath), "PATH=%s:/usr/bin:/bin", dirname(d));
		}
		pid_t pid = IS("vfork") ? vfork() : fork();
		if (pid < 0)
			return die("fork");
		if (pid == 0) {
			if (IS("execve") || IS("vfork"))
				execve(prog, argv, environ);
			else if (IS("execv"))
				execv(prog, argv);
			else if (IS("execvp"))
				execvp(name, pargv);
			else if (IS("execvpe"))
				execvpe(name, pargv, environ);
			else if (IS("execl"))
				execl(prog, prog, "child", "/mem/in", out, method, (char *)NULL);
			else if (IS("execle"))
				execle(prog, prog, "child", "/mem/in", out, method, (char *)NULL, environ);
			else if (IS("execlp"))
				execlp(name, name, "child", "/mem/in", out, method, (char *)NULL);
			else if (IS("fexecve"))
				fexecve(fd, argv, environ);
			else if (IS("execveat"))
				execveat(AT_FDCWD, prog, argv, environ, 0);
			else if (IS("execveat_dirfd"))
				execveat(dfd, name, argv, environ, 0);
			else if (IS("execve_tinyenv"))
				execve(prog, argv, tiny);
			else if (IS("execle_tinyenv"))
				execle(prog, prog, "child", "/mem/in", out, method, (char *)NULL, tiny);
			else if (IS("execvpe_tinyenv"))
				execvpe(name, pargv, tinyp);
			else if (IS("execv_clearenv")) {
				clearenv();
				execv(prog, argv);
			} else {
				_exit(126);
			}
			/* Nothing that allocates after a failed exec in a vfork
			 * child. */
			const char *e = ename(errno);
			if (write(2, "exec failed: ", 13) < 0 || write(2, e, strlen(e)) < 0 ||
			    write(2, "\n", 1) < 0)
				_exit(127);
			_exit(127);
		}
		status = wait_status(pid);
		if (fd >= 0)
			close(fd);
		if (dfd >= 0)
			close(dfd);
	}
#undef IS
	printf("status=%d\n", status);
	char buf[4096];
	if (slurp(out, buf, sizeof(buf)) < 0)
		printf("%s: %s\n", out, ename(errno));
	else
		printf("%s", buf);
	return 0;
}

/* ---- inherited directory fd --------------------------------------------------------- */

static int dirfd_use(int fd, const char *name)
{
	struct stat st;
	if (fstat(fd, &st))
		return die("fstat inherited fd");
	printf("isdir=%d\n", S_ISDIR(st.st_mode) ? 1 : 0);
	int f = openat(fd, name, O_RDONLY);
	if (f < 0)
		return die("openat name");
	char buf[256];
	ssize_t k = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (k < 0)
		return die("read");
	buf[k] = 0;
	printf("read=%s", buf);
	f = openat(fd, "made", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (f < 0)
		return die("openat made");
	if (write(f, "made\n", 5) != 5 || close(f))
		return die("write made");
	int d = dup(fd);
	DIR *dir = d >= 0 ? fdopendir(d) : NULL;
	if (!dir)
		return die("fdopendir");
	struct dirent *de;
	int n = 0;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	printf("entries=%d\n", n);
	return 0;
}

/* ---- stdout past the quota -------------------------------------------------------- */

static int fill(void)
{
	char line[1001];
	memset(line, 'z', 999);
	line[999] = '\n';
	line[1000] = 0;
	long ok = 0;
	int err = 0;
	for (int i = 0; i < 100; i++) {
		errno = 0;
		if (printf("%s", line) < 0 || fflush(stdout) == EOF) {
			err = errno;
			break;
		}
		ok += 1000;
	}
	fprintf(stderr, "ok=%ld err=%s\n", ok, ename(err));
	return 0;
}

static int quota_child(const char *how, const char *out)
{
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return die(out);
	int status = -1;
	char *head[] = {"head", "-c", "100000", "/dev/zero", NULL};
	if (!strcmp(how, "fork_dup2") || !strcmp(how, "vfork_dup2")) {
		pid_t pid = !strcmp(how, "fork_dup2") ? fork() : vfork();
		if (pid < 0)
			return die("fork");
		if (pid == 0) {
			dup2(fd, 1);
			execv("/usr/bin/head", head);
			_exit(127);
		}
		status = wait_status(pid);
	} else if (!strcmp(how, "spawn_adddup2")) {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fd, 1);
		pid_t pid;
		int rc = posix_spawn(&pid, "/usr/bin/head", &fa, NULL, head, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (rc) {
			printf("spawn: %s\n", ename(rc));
			return 1;
		}
		status = wait_status(pid);
	} else if (!strcmp(how, "system")) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "head -c 100000 /dev/zero >&%d", fd);
		int st = system(cmd);
		status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	} else {
		fprintf(stderr, "quota_child: unknown %s\n", how);
		return 2;
	}
	close(fd);
	static char buf[200000];
	int in = open(out, O_RDONLY);
	if (in < 0)
		return die(out);
	ssize_t r, stored = 0;
	while ((r = read(in, buf, sizeof(buf))) > 0)
		stored += r;
	close(in);
	struct stat st;
	if (stat(out, &st))
		return die(out);
	printf("status=%d\n", status);
	if (stored <= 65536)
		printf("stored at most the quota\n");
	else
		printf("stored %zd bytes, more than the quota\n", stored);
	if (st.st_size == stored)
		printf("stat agrees\n");
	else
		printf("stat says %lld, the file holds %zd\n", (long long)st.st_size, stored);
	return 0;
}

static int vfork_chdir(const char *dir)
{
	char before[PATH_MAX], after[PATH_MAX];
	if (!getcwd(before, sizeof(before)))
		return die("getcwd");
	fflush(stdout);
	pid_t pid = vfork();
	if (pid < 0)
		return die("vfork");
	if (pid == 0) {
		if (chdir(dir))
			_exit(126);
		execl("/bin/pwd", "pwd", (char *)NULL);
		_exit(127);
	}
	int status = wait_status(pid);
	if (!getcwd(after, sizeof(after)))
		return die("getcwd after");
	printf("status=%d\n", status);
	if (!strcmp(before, after))
		printf("parent cwd unchanged\n");
	else
		printf("parent cwd moved from %s to %s\n", before, after);
	return 0;
}

static int spawn_fill(const char *out)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	int r = posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (r) {
		printf("addopen: %s\n", ename(r));
		return 1;
	}
	char *a[] = {self, "fill", NULL};
	pid_t pid;
	r = posix_spawn(&pid, self, &fa, NULL, a, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		printf("spawn: %s\n", ename(r));
		return 1;
	}
	int status = wait_status(pid);
	struct stat st;
	if (stat(out, &st))
		return die(out);
	printf("status=%d size=%lld\n", status, (long long)st.st_size);
	return 0;
}

int main(int argc, char **argv)
{
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k > 0)
		self[k] = 0;
	if (argc == 5 && !strcmp(argv[1], "child"))
		return do_child(argv[2], argv[3], argv[4]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "via"))
		return via(argv[2], argc == 4 ? argv[3] : self);
	if (argc == 3 && !strcmp(argv[1], "noexec_execv")) {
		char *a[] = {argv[2], NULL};
		execv(argv[2], a);
		printf("execv: %s\n", ename(errno));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "noexec_spawn")) {
		char *a[] = {argv[2], NULL};
		pid_t pid;
		int rc = posix_spawn(&pid, argv[2], NULL, NULL, a, environ);
		if (rc == 0)
			printf("posix_spawn: started, status=%d\n", wait_status(pid));
		else
			printf("posix_spawn: %s\n", ename(rc));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "dirfd_open")) {
		int fd = open(argv[2], O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return die(argv[2]);
		char fds[16];
		snprintf(fds, sizeof(fds), "%d", fd);
		fflush(stdout);
		execl(self, self, "dirfd_use", fds, argv[3], (char *)NULL);
		return die("execl");
	}
	if (argc == 4 && !strcmp(argv[1], "dirfd_use"))
		return dirfd_use(atoi(argv[2]), argv[3]);
	if (argc == 4 && !strcmp(argv[1], "quota_child"))
		return quota_child(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "vfork_chdir"))
		return vfork_chdir(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "spawn_fill"))
		return spawn_fill(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "fill"))
		return fill();
	fprintf(stderr, "usage: exec_launch child|via|noexec_execv|noexec_spawn|dirfd_open|fill ...\n");
	return 2;
}
