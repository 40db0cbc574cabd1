/* shim/exec.c — the exec family: every exec carries the shim, the store
 * and the process's store fds into the new program (carry.c writes what
 * it inherits), and a program stored in the store runs from its memfd
 * (execveat with AT_EMPTY_PATH); a "#!" script in the store runs its
 * interpreter on the script's path. Also the helpers spawn.c shares: the
 * program's fd, the "#!" line, and the one PATH search.
 *
 * Everything on the exec path may run in a vfork child: stack buffers
 * only, no allocation, no process-local lock, and the parent's tables are
 * left alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

/* What setenv updates; in some programs (bash) `__environ` names a copy the
 * program keeps for itself. */
extern char **__environ;

/* ---- references across exec --------------------------------------------------------- */

/* Before this process's own exec: the references of fds that close with
 * the exec go back now (the others travel, marked T), and so do their
 * dnotify registrations, as the kernel's close at exec drops them (the
 * new program, same pid, must not get a signal it never asked for; a
 * failed exec does not get them back). */
static void refs_before_exec(int put)
{
	struct ms_fd *e;
	for (int fd = -1; (fd = ms_fd_next(fd, 1, &e)) >= 0;) {
		if (put) {
			if (e->kind == MS_FD_DIR)
				ms_notify_close(ms_shim.store, fd);
			ms_ino_put(ms_shim.store, e->ino);
		} else {
			ms_ino_get(ms_shim.store, e->ino);
		}
	}
}

/* ---- exec ------------------------------------------------------------------------------ */

static int do_execve_depth(const char *path, char *const argv[], char *const envp[], int depth);

/* The exec system call a wrapper ends in. */
struct exec_call {
	enum { X_EXECVE, X_EXECVEAT, X_FEXECVE } kind;
	int fd;
	const char *path;
	char *const *argv;
	int flags;
};

/* Runs c with the new program's environment fixed and this process's
 * references handed over; back with -1/errno only when the exec failed. */
static int exec_fixed(const struct exec_call *c, char *const envp[])
{
	int vf = ms_in_vfork_child();
	char *vec[ms_env_count(envp) + ENV_EXTRA];
	struct envbuf b;
	b.used = 0;
	char **env = ms_carry_env(envp, vec, &b, vf ? 'G' : 'T', NULL, 0);
	if (!vf) {
		refs_before_exec(1);
		ms_lend_drop_all(); /* close-on-exec: their counts go back first */
	}
	switch (c->kind) {
	case X_EXECVE:
		REAL(execve)(c->path, c->argv, env);
		break;
	case X_EXECVEAT:
		REAL(execveat)(c->fd, c->path, c->argv, env, c->flags);
		break;
	case X_FEXECVE:
		REAL(fexecve)(c->fd, c->argv, env);
		break;
	}
	int e = errno;
	if (!vf)
		refs_before_exec(0);
	errno = e;
	return -1;
}

/* The "#!" line of the program open at fd, parsed into line (n bytes) as
 * Linux does: the interpreter and one optional argument, the rest of the
 * line. Returns 1 for a script, 0 for anything else, -ENOEXEC for a "#!"
 * without an interpreter. */
int ms_script_line(int fd, char *line, size_t n, char **interp, char **arg)
{
	ssize_t k = REAL(pread64)(fd, line, n - 1, 0);
	if (k < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[k] = 0;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	char *p = line + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	char *end = p;
	while (*end && *end != ' ' && *end != '\t')
		end++;
	*arg = NULL;
	if (*end) {
		*end++ = 0;
		while (*end == ' ' || *end == '\t')
			end++;
		char *t = end + strlen(end);
		while (t > end && (t[-1] == ' ' || t[-1] == '\t'))
			*--t = 0;
		if (*end)
			*arg = end;
	}
	*interp = p;
	return *p ? 1 : -ENOEXEC;
}

/* The interpreter's argv for script `path`: interp [arg] path argv[1..]
 * (nargv has room for argc + 3). */
void ms_script_argv(char **nargv, char *interp, char *arg, const char *path,
			char *const argv[])
{
	int k = 0;
	nargv[k++] = interp;
	if (arg)
		nargv[k++] = arg;
	nargv[k++] = (char *)path;
	for (int i = 1; argv[0] && argv[i - 1] && argv[i]; i++)
		nargv[k++] = argv[i];
	nargv[k] = NULL;
}

int ms_argv_count(char *const argv[])
{
	int n = 0;
	while (argv && argv[n])
		n++;
	return n;
}

/* A "#!" script in the store: runs its interpreter with the script's own
 * path, as the kernel does for a real file (so $0 is that path and the
 * interpreter reads the script through the shim). Returns 0 when it is
 * not one, -1/errno on failure; does not return when it execs. */
static int exec_script(int fd, const char *path, char *const argv[], char *const envp[], int depth)
{
	char line[256], *interp, *arg;
	int k = ms_script_line(fd, line, sizeof(line), &interp, &arg);
	if (k <= 0)
		return k ? ms_ret(k) : 0;
	if (depth >= 4)
		return ms_ret(-ELOOP);
	char *nargv[ms_argv_count(argv) + 3];
	ms_script_argv(nargv, interp, arg, path, argv);
	return do_execve_depth(interp, nargv, envp, depth + 1);
}

/* execve with the environment fixed; a store path runs from its memfd. */
/* The program `*path` names: 0 with *fd = -1 when it is not the store's
 * (*path may then have become the real path a store symlink leads to), 0
 * with *fd an fd on it (MS_OPEN_EXEC) when it is, or -errno (EACCES for a
 * directory or a file no one may execute). */
int ms_program_fd(const char **path, int *fd)
{
	struct ms_route r;
	struct stat st;
	int at = AT_FDCWD;
	*fd = -1;
	if (!ms_route(*path, &r))
		return 0;
	int rc = ms_stat(ms_shim.store, r.dir, r.path, 0, &st);
	if (ms_leave(rc, &at, path))
		return 0;
	if (rc)
		return rc;
	/* execute permission, as the kernel's exec checks it (a directory:
	 * EACCES) */
	rc = ms_open_route(&r, O_RDONLY | O_CLOEXEC | MS_O_EXEC, 0, MS_OPEN_EXEC);
	if (rc < 0)
		return rc;
	*fd = rc;
	return 0;
}

static int do_execve_depth(const char *path, char *const argv[], char *const envp[], int depth)
{
	if (!ms_shim.on)
		return REAL(execve)(path, argv, envp);
	int fd;
	int rc = ms_program_fd(&path, &fd);
	if (rc)
		return ms_ret(rc);
	if (fd >= 0) {
		int sr = exec_script(fd, path, argv, envp, depth);
		if (sr < 0) {
			int e = errno;
			REAL(close)(fd);
			errno = e;
			return -1;
		}
	}
	if (fd < 0) {
		struct exec_call c = {.kind = X_EXECVE, .path = path, .argv = argv};
		return exec_fixed(&c, envp);
	}
	struct exec_call c = {.kind = X_EXECVEAT, .fd = fd, .path = "", .argv = argv,
			      .flags = AT_EMPTY_PATH};
	exec_fixed(&c, envp);
	int e = errno;
	REAL(close)(fd);
	errno = e;
	return -1;
}

static int do_execve(const char *path, char *const argv[], char *const envp[])
{
	return do_execve_depth(path, argv, envp, 0);
}

MS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return do_execve(path, argv, envp);
}

MS_EXPORT int execv(const char *path, char *const argv[])
{
	return do_execve(path, argv, __environ);
}

/* The PATH search of execvp, done here so store directories in PATH work
 * and every candidate gets the fixed environment. Errors as glibc's. */
static const char path_end[] = ""; /* the cursor after the last entry */

int ms_path_next(const char **cur, const char *file, char *out, size_t n)
{
	size_t flen = strlen(file);
	if (!*cur) {
		*cur = getenv("PATH");
		if (!*cur)
			*cur = "/bin:/usr/bin";
	}
	while (*cur != path_end) {
		const char *p = *cur, *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		*cur = end ? end + 1 : path_end;
		if (dlen + 1 + flen + 1 > n)
			continue; /* too long to be a path */
		if (dlen == 0) {
			memcpy(out, file, flen + 1); /* an empty entry is "." */
		} else {
			memcpy(out, p, dlen);
			out[dlen] = '/';
			memcpy(out + dlen + 1, file, flen + 1);
		}
		return 1;
	}
	return 0;
}

/* execvp: each candidate in turn, as glibc does (EACCES remembered, a file
 * without magic run by /bin/sh). */
static int exec_search(const char *file, char *const argv[], char *const envp[])
{
	if (!file[0]) {
		errno = ENOENT;
		return -1;
	}
	if (strchr(file, '/'))
		return do_execve(file, argv, envp);
	int eacces = 0;
	const char *cur = NULL;
	char cand[PATH_MAX];
	while (ms_path_next(&cur, file, cand, sizeof(cand))) {
		do_execve(cand, argv, envp);
		switch (errno) {
		case EACCES:
			eacces = 1;
			break;
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ENODEV:
		case ETIMEDOUT:
			break;
		case ENOEXEC: {
			/* No magic and no "#!": a shell script, as glibc does. */
			int argc = ms_argv_count(argv);
			char *sh[argc + 2];
			sh[0] = (char *)"/bin/sh";
			sh[1] = cand;
			for (int i = 1; i <= argc; i++)
				sh[i + 1] = argv[i];
			do_execve("/bin/sh", sh, envp);
			return -1;
		}
		default:
			return -1;
		}
	}
	errno = eacces ? EACCES : ENOENT;
	return -1;
}

MS_EXPORT int execvp(const char *file, char *const argv[])
{
	return exec_search(file, argv, __environ);
}

MS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return exec_search(file, argv, envp);
}

/* The list forms collect their arguments on the stack. */
#define COLLECT_ARGS(arg, last, argv)                                                \
	va_list ap;                                                                  \
	int argc_ = 1;                                                               \
	va_start(ap, arg);                                                           \
	while (va_arg(ap, const char *))                                             \
		argc_++;                                                             \
	va_end(ap);                                                                  \
	char *argv[argc_ + 1];                                                       \
	argv[0] = (char *)arg;                                                       \
	va_start(ap, arg);                                                           \
	for (int i_ = 1; i_ <= argc_; i_++)                                          \
		argv[i_] = va_arg(ap, char *);                                       \
	last;                                                                        \
	va_end(ap)

MS_EXPORT int execl(const char *path, const char *arg, ...)
{
	COLLECT_ARGS(arg, (void)0, argv);
	return do_execve(path, argv, __environ);
}

MS_EXPORT int execlp(const char *file, const char *arg, ...)
{
	COLLECT_ARGS(arg, (void)0, argv);
	return exec_search(file, argv, __environ);
}

MS_EXPORT int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	COLLECT_ARGS(arg, envp = va_arg(ap, char *const *), argv);
	return do_execve(path, argv, envp);
}

MS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!ms_shim.on)
		return REAL(fexecve)(fd, argv, envp);
	struct exec_call c = {.kind = X_FEXECVE, .fd = fd, .argv = argv};
	return exec_fixed(&c, envp);
}

MS_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	struct ms_route r;
	if (ms_route_at(dirfd, path, &r) && !(flags & AT_EMPTY_PATH && !path[0])) {
		/* A store path: run it like execve would. */
		if (r.dir == 0)
			return do_execve(r.path, argv, envp);
		char full[PATH_MAX];
		int rc = ms_dir_path(ms_shim.store, r.dir, full, sizeof(full));
		if (rc < 0)
			return ms_ret(rc);
		size_t l = strlen(full);
		snprintf(full + l, sizeof(full) - l, "/%s", path);
		return do_execve(full, argv, envp);
	}
	if (!ms_shim.on)
		return REAL(execveat)(dirfd, path, argv, envp, flags);
	struct exec_call c = {.kind = X_EXECVEAT, .fd = dirfd, .path = path, .argv = argv,
			      .flags = flags};
	return exec_fixed(&c, envp);
}

