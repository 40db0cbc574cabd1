/* shim/exec.c — starting programs: every exec and spawn carries the shim,
 * the store and the process's store fds into the new program.
 *
 * The new program's environment gets back LD_PRELOAD and the MEMSHIM_*
 * variables when a caller dropped them, and MEMSHIM_FDS lists the store
 * fds it inherits ("<kind><own><fd>:<ino>:<kernel ino>", comma-separated:
 * kind F file or D directory, own T when the references travel with the
 * fds (exec of this process) or G when the new program takes its own (a
 * vfork or spawn child, whose parent keeps its references)). The new
 * program checks each against what the kernel says the fd is before it
 * believes it.
 *
 * A program stored in the store runs from its memfd (execveat with
 * AT_EMPTY_PATH), a "#!" script too (its fd stays open for the
 * interpreter, which reads /dev/fd/N).
 *
 * Everything on the exec path may run in a vfork child: stack buffers
 * only, no allocation, no process-local lock, and the parent's tables are
 * left alone.
 */
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

/* What setenv updates; in some programs (bash) `__environ` names a copy the
 * program keeps for itself. */
extern char **__environ;

static char libpath[PATH_MAX];
static const char *saved[24]; /* "MEMSHIM_X=..." seen at start */
static int nsaved;
static uint64_t placeholder_kino;

#define ENV_EXTRA 32
#define ENV_BYTES 16384

struct envbuf {
	char str[ENV_BYTES];
	size_t used;
};

static char *env_add(struct envbuf *b, const char *a, const char *c)
{
	size_t la = strlen(a), lc = c ? strlen(c) : 0;
	if (b->used + la + lc + 1 > sizeof(b->str))
		return NULL;
	char *p = b->str + b->used;
	memcpy(p, a, la);
	if (c)
		memcpy(p + la, c, lc);
	p[la + lc] = 0;
	b->used += la + lc + 1;
	return p;
}

static int name_eq(const char *var, const char *name_eq_sign)
{
	size_t n = strlen(name_eq_sign);
	return strncmp(var, name_eq_sign, n) == 0;
}

/* Does an LD_PRELOAD value already hold this library? */
static int preload_has_us(const char *val)
{
	size_t n = strlen(libpath);
	for (const char *p = val; (p = strstr(p, libpath)); p++)
		if ((p == val || p[-1] == ':' || p[-1] == ' ') && (p[n] == 0 || p[n] == ':' || p[n] == ' '))
			return 1;
	return 0;
}

/* Appends one MEMSHIM_FDS entry for fd (if it is a store fd that survives
 * exec). */
static void fds_entry(char *out, size_t n, size_t *used, int fd, struct ms_fd *e, char own)
{
	uint64_t kino;
	if (e->kind == MS_FD_FILE) {
		if (ms_ino_kino(ms_shim.store, e->ino, &kino))
			return;
	} else {
		kino = placeholder_kino;
	}
	int k = snprintf(out + *used, n - *used, "%s%c%c%d:%u:%llu", *used ? "," : "",
			 e->kind == MS_FD_FILE ? 'F' : 'D', own, fd, (unsigned)e->ino,
			 (unsigned long long)kino);
	if (k > 0 && (size_t)k < n - *used)
		*used += (size_t)k;
}

/* Extra inherited fds a spawn's file actions will create (dup2 targets). */
struct spawn_extra {
	int target;
	struct ms_fd e;
};

/* Builds the environment for a new program into vec (room for the
 * caller's entries plus ENV_EXTRA). own: 'T' or 'G' (see the top). */
static char **fix_env(char *const envp[], char **vec, struct envbuf *b, char own,
		      const struct spawn_extra *extra, int nextra)
{
	int n = 0, have_preload = 0;
	for (char *const *e = envp; e && *e; e++) {
		if (name_eq(*e, "MEMSHIM_FDS=") || name_eq(*e, "MEMSHIM_STORE_ID=") ||
		    name_eq(*e, "MEMSHIM_CWD="))
			continue;
		if (name_eq(*e, "LD_PRELOAD=")) {
			have_preload = 1;
			if (!preload_has_us(*e + 11)) {
				/* "LD_PRELOAD=theirs:ours": theirs keep their order. */
				char *v = env_add(b, *e, (*e)[11] ? ":" : "");
				if (v) {
					b->used--; /* continue the same string */
					if (env_add(b, libpath, NULL)) {
						vec[n++] = v;
						continue;
					}
				}
			}
		}
		vec[n++] = *e;
	}
	if (!have_preload) {
		char *v = env_add(b, "LD_PRELOAD=", libpath);
		if (v)
			vec[n++] = v;
	}
	for (int i = 0; i < nsaved; i++) {
		size_t len = strcspn(saved[i], "=") + 1;
		int found = 0;
		for (char *const *e = envp; e && *e; e++)
			if (strncmp(*e, saved[i], len) == 0)
				found = 1;
		if (!found || name_eq(saved[i], "MEMSHIM_STORE_ID="))
			vec[n++] = (char *)saved[i];
	}
	/* The virtual cwd, as it is now. */
	char cwd[PATH_MAX + 16];
	if (ms_cwd_env(cwd, sizeof(cwd)) > 0) {
		char *v = env_add(b, cwd, NULL);
		if (v)
			vec[n++] = v;
	}
	/* The store fds that survive the exec. */
	char fds[4096];
	size_t used = 0;
	int h = ms_fd_high();
	for (int fd = 0; fd < h; fd++) {
		struct ms_fd *e = ms_fd_get(fd);
		if (!e)
			continue;
		int fl = REAL(fcntl)(fd, F_GETFD);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		fds_entry(fds, sizeof(fds), &used, fd, e, own);
	}
	for (int i = 0; i < nextra; i++)
		fds_entry(fds, sizeof(fds), &used, extra[i].target, (struct ms_fd *)&extra[i].e, 'G');
	if (used) {
		char *v = env_add(b, "MEMSHIM_FDS=", fds);
		if (v)
			vec[n++] = v;
	}
	vec[n] = NULL;
	return vec;
}

static int env_count(char *const envp[])
{
	int n = 0;
	for (char *const *e = envp; e && *e; e++)
		n++;
	return n;
}

/* ---- references across exec --------------------------------------------------------- */

/* Before this process's own exec: the references of fds that close with
 * the exec go back now (the others travel, marked T). */
static void refs_before_exec(int put)
{
	int h = ms_fd_high();
	for (int fd = 0; fd < h; fd++) {
		struct ms_fd *e = ms_fd_get(fd);
		if (!e)
			continue;
		int fl = REAL(fcntl)(fd, F_GETFD);
		if (fl >= 0 && (fl & FD_CLOEXEC)) {
			if (put)
				ms_ino_put(ms_shim.store, e->ino);
			else
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
	char *vec[env_count(envp) + ENV_EXTRA];
	struct envbuf b;
	b.used = 0;
	char **env = fix_env(envp, vec, &b, vf ? 'G' : 'T', NULL, 0);
	if (!vf)
		refs_before_exec(1);
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

/* A "#!" script in the store: runs its interpreter with the script's own
 * path, as the kernel does for a real file (so $0 is that path and the
 * interpreter reads the script through the shim). Returns -1/errno when
 * it is not one; does not return when it execs. */
static int exec_script(int fd, const char *path, char *const argv[], char *const envp[], int depth)
{
	char line[256];
	ssize_t n = REAL(pread64)(fd, line, sizeof(line) - 1, 0);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[n] = 0;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	char *interp = line + 2;
	while (*interp == ' ' || *interp == '\t')
		interp++;
	char *end = interp;
	while (*end && *end != ' ' && *end != '\t')
		end++;
	char *arg = NULL;
	if (*end) {
		*end++ = 0;
		while (*end == ' ' || *end == '\t')
			end++;
		/* One optional argument, the rest of the line, as Linux. */
		char *t = end + strlen(end);
		while (t > end && (t[-1] == ' ' || t[-1] == '\t'))
			*--t = 0;
		if (*end)
			arg = end;
	}
	if (!*interp) {
		errno = ENOEXEC;
		return -1;
	}
	if (depth >= 4) {
		errno = ELOOP;
		return -1;
	}
	int argc = 0;
	while (argv[argc])
		argc++;
	char *nargv[argc + 3];
	int k = 0;
	nargv[k++] = interp;
	if (arg)
		nargv[k++] = arg;
	nargv[k++] = (char *)path;
	for (int i = 1; i <= argc; i++)
		nargv[k++] = argv[i];
	return do_execve_depth(interp, nargv, envp, depth + 1);
}

/* execve with the environment fixed; a store path runs from its memfd. */
static int do_execve_depth(const char *path, char *const argv[], char *const envp[], int depth)
{
	if (!ms_shim.store)
		return REAL(execve)(path, argv, envp);
	struct ms_route r;
	int fd = -1;
	if (ms_route(path, &r)) {
		ms_ino ino;
		struct stat st;
		int rc = ms_stat(ms_shim.store, r.dir, r.path, 0, &st);
		if (rc == -MS_EESCAPE)
			return do_execve_depth(ms_escape_path(), argv, envp, depth);
		if (rc == 0 && S_ISDIR(st.st_mode))
			rc = -EACCES;
		if (rc == 0 && !(st.st_mode & 0111))
			rc = -EACCES;
		if (rc)
			return ms_ret(rc);
		rc = ms_open(ms_shim.store, r.dir, r.path, O_RDONLY | O_CLOEXEC, 0, &fd, &ino);
		if (rc)
			return ms_ret(rc);
		ms_ino_put(ms_shim.store, ino); /* the file keeps its link */
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
static int exec_search(const char *file, char *const argv[], char *const envp[])
{
	if (!file[0]) {
		errno = ENOENT;
		return -1;
	}
	if (strchr(file, '/'))
		return do_execve(file, argv, envp);
	const char *path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	int eacces = 0;
	size_t flen = strlen(file);
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		char cand[PATH_MAX];
		if (dlen + 1 + flen + 1 <= sizeof(cand)) {
			if (dlen == 0) {
				memcpy(cand, file, flen + 1); /* an empty entry is "." */
			} else {
				memcpy(cand, p, dlen);
				cand[dlen] = '/';
				memcpy(cand + dlen + 1, file, flen + 1);
			}
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
				int argc = 0;
				while (argv[argc])
					argc++;
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
		if (!end)
			break;
		p = end;
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
	if (!ms_shim.store)
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
	if (!ms_shim.store)
		return REAL(execveat)(dirfd, path, argv, envp, flags);
	struct exec_call c = {.kind = X_EXECVEAT, .fd = dirfd, .path = path, .argv = argv,
			      .flags = flags};
	return exec_fixed(&c, envp);
}

/* ---- posix_spawn -------------------------------------------------------------------------- */

/* Store files opened ahead for spawn file actions: the child dup2s them
 * into place; they are closed when the actions are destroyed. */
#define MAX_OPENS 64
static struct {
	const posix_spawn_file_actions_t *fa;
	int tmpfd, target;
	struct ms_fd e;
} opens[MAX_OPENS];
static pthread_mutex_t opens_lock = PTHREAD_MUTEX_INITIALIZER;

MS_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int target,
					       const char *path, int oflag, mode_t mode)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(posix_spawn_file_actions_addopen)(fa, target, path, oflag, mode);
	/* The child opens with glibc's internal calls, which never reach the
	 * shim: open it here, now, and let the child dup2 it into place. */
	int fd;
	ms_ino ino;
	int rc = ms_open(ms_shim.store, r.dir, r.path, oflag | O_CLOEXEC, mode, &fd, &ino);
	if (rc)
		return -rc;
	if (fd < 0) {
		ms_ino_put(ms_shim.store, ino);
		return EISDIR;
	}
	int high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 900);
	REAL(close)(fd);
	if (high < 0) {
		ms_ino_put(ms_shim.store, ino);
		return errno;
	}
	pthread_mutex_lock(&opens_lock);
	int slot = -1;
	for (int i = 0; i < MAX_OPENS && slot < 0; i++)
		if (!opens[i].fa)
			slot = i;
	if (slot >= 0) {
		opens[slot].fa = fa;
		opens[slot].tmpfd = high;
		opens[slot].target = target;
		opens[slot].e.kind = MS_FD_FILE;
		opens[slot].e.ino = ino;
		opens[slot].e.oflags = oflag;
	}
	pthread_mutex_unlock(&opens_lock);
	if (slot < 0) {
		REAL(close)(high);
		ms_ino_put(ms_shim.store, ino);
		return ENOMEM;
	}
	return REAL(posix_spawn_file_actions_adddup2)(fa, high, target);
}

MS_EXPORT int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa)
{
	pthread_mutex_lock(&opens_lock);
	for (int i = 0; i < MAX_OPENS; i++) {
		if (opens[i].fa != fa)
			continue;
		REAL(close)(opens[i].tmpfd);
		ms_ino_put(ms_shim.store, opens[i].e.ino);
		opens[i].fa = NULL;
	}
	pthread_mutex_unlock(&opens_lock);
	return REAL(posix_spawn_file_actions_destroy)(fa);
}

/* The first executable `file` in PATH when some PATH entry is a store
 * directory (else 1: leave the search to glibc). */
static int path_search(const char *file, char *out, size_t n)
{
	const char *path = getenv("PATH");
	if (!path)
		return 1;
	int any = 0;
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");
		char dir[PATH_MAX];
		if (len && len < sizeof(dir)) {
			struct ms_route r;
			memcpy(dir, p, len);
			dir[len] = 0;
			if (ms_route(dir, &r))
				any = 1;
		}
		p += len + (p[len] == ':');
	}
	if (!any)
		return 1;
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");
		if (len + 1 + strlen(file) + 1 <= n) {
			if (len) {
				memcpy(out, p, len);
				out[len] = '/';
				strcpy(out + len + 1, file);
			} else {
				strcpy(out, file);
			}
			struct ms_route r;
			struct stat st;
			if (ms_route(out, &r)) {
				if (ms_stat(ms_shim.store, r.dir, r.path, 0, &st) == 0 &&
				    S_ISREG(st.st_mode) && (st.st_mode & 0111))
					return 0;
			} else if (REAL(access)(out, X_OK) == 0) {
				return 0;
			}
		}
		p += len + (p[len] == ':');
	}
	return 1;
}

static int spawn_common(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[],
			int search)
{
	if (!ms_shim.store)
		return search ? REAL(posix_spawnp)(pid, path, fa, attr, argv, envp)
			      : REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
	struct spawn_extra extra[MAX_OPENS];
	int nextra = 0;
	pthread_mutex_lock(&opens_lock);
	for (int i = 0; i < MAX_OPENS && fa; i++)
		if (opens[i].fa == fa) {
			extra[nextra].target = opens[i].target;
			extra[nextra].e = opens[i].e;
			nextra++;
		}
	pthread_mutex_unlock(&opens_lock);
	char *vec[env_count(envp) + ENV_EXTRA];
	struct envbuf *b = malloc(sizeof(*b));
	if (!b)
		return ENOMEM;
	b->used = 0;
	char **env = fix_env(envp, vec, b, 'G', extra, nextra);
	/* posix_spawnp through a PATH that names store directories: the
	 * search is ours, in PATH order, real directories included. */
	char found[PATH_MAX];
	if (search && !strchr(path, '/') && path_search(path, found, sizeof(found)) == 0) {
		path = found;
		search = 0;
	}
	/* A program in the store runs from the parent's fd of it: the child
	 * opens /proc/<parent>/fd/N while the parent waits for its exec. */
	struct ms_route r;
	char proc[64];
	int fd = -1, rc;
	if (!search && ms_route(path, &r)) {
		ms_ino ino;
		struct stat st;
		rc = ms_stat(ms_shim.store, r.dir, r.path, 0, &st);
		if (rc == 0 && (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)))
			rc = -EACCES;
		if (rc == 0)
			rc = ms_open(ms_shim.store, r.dir, r.path, O_RDONLY | O_CLOEXEC, 0, &fd, &ino);
		if (rc) {
			free(b);
			return rc == -MS_EESCAPE ? ENOENT : -rc;
		}
		ms_ino_put(ms_shim.store, ino);
		snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", (int)getpid(), fd);
		path = proc;
	}
	rc = search ? REAL(posix_spawnp)(pid, path, fa, attr, argv, env)
		    : REAL(posix_spawn)(pid, path, fa, attr, argv, env);
	if (fd >= 0)
		REAL(close)(fd);
	free(b);
	return rc;
}

MS_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn_common(pid, path, fa, attr, argv, envp, 0);
}

MS_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn_common(pid, file, fa, attr, argv, envp, 1);
}

/* ---- the new program's side ---------------------------------------------------------------- */

/* Is fd listed in MEMSHIM_FDS as handed over with its reference ('T')? */
static int listed_own(const char *list, int fd)
{
	char key[24];
	int n = snprintf(key, sizeof(key), "FT%d:", fd);
	for (const char *p = list; p && (p = strstr(p, key)); p += n)
		if (p == list || p[-1] == ',')
			return 1;
	return 0;
}

/* Store files among the fds this program started with: whatever opened
 * them (an exec of ours, a vfork child's dup2, glibc's system() which
 * never passes through us), the kernel says which memfd each is. */
static void discover_files(const char *list, dev_t memfd_dev)
{
	int d = REAL(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fds[256], n = 0;
	if (d >= 0) {
		char buf[4096];
		long got;
		while ((got = syscall(SYS_getdents64, d, buf, sizeof(buf))) > 0) {
			for (long off = 0; off < got;) {
				struct dirent64 *e = (struct dirent64 *)(buf + off);
				off += e->d_reclen;
				if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && n < 256)
					fds[n++] = atoi(e->d_name);
			}
		}
		REAL(close)(d);
	} else {
		for (int fd = 0; fd < 256; fd++)
			fds[n++] = fd; /* no /proc: the low numbers at least */
	}
	for (int i = 0; i < n; i++) {
		int fd = fds[i];
		struct stat st;
		if (fd == d || ms_fd_private(fd) || ms_fd_get(fd) || REAL(fstat)(fd, &st) ||
		    st.st_dev != memfd_dev || !S_ISREG(st.st_mode))
			continue;
		ms_ino ino = ms_ino_by_kino(ms_shim.store, st.st_ino);
		if (!ino)
			continue;
		int fl = REAL(fcntl)(fd, F_GETFL);
		if (!listed_own(list, fd))
			ms_ino_get(ms_shim.store, ino);
		ms_fd_set(fd, MS_FD_FILE, ino, fl < 0 ? O_RDWR : fl);
	}
}

/* Directory fds listed in MEMSHIM_FDS, each checked against the memfd the
 * kernel says it is (the parent's placeholder). */
static void inherit_dirs(const char *p)
{
	while (p && *p) {
		char kind = p[0], own = p[1];
		int fd;
		unsigned ino;
		unsigned long long kino;
		int used = 0;
		if (sscanf(p + 2, "%d:%u:%llu%n", &fd, &ino, &kino, &used) != 3)
			return;
		p += 2 + used;
		if (*p == ',')
			p++;
		struct stat st, ds;
		if (kind != 'D' || ms_fd_get(fd) || REAL(fstat)(fd, &st) ||
		    (uint64_t)st.st_ino != kino)
			continue;
		if (ms_stat_ino(ms_shim.store, ino, &ds) || !S_ISDIR(ds.st_mode))
			continue;
		if (own != 'T')
			ms_ino_get(ms_shim.store, ino);
		ms_fd_set(fd, MS_FD_DIR, ino, O_RDONLY | O_DIRECTORY);
	}
}

void ms_exec_init(void)
{
	Dl_info di;
	if (dladdr((void *)ms_exec_init, &di) && di.dli_fname)
		snprintf(libpath, sizeof(libpath), "%s", di.dli_fname);
	struct stat st;
	if (ms_shim.placeholder >= 0 && REAL(fstat)(ms_shim.placeholder, &st) == 0)
		placeholder_kino = st.st_ino;
	const char *fds = getenv("MEMSHIM_FDS");
	if (ms_shim.store && ms_shim.placeholder >= 0) {
		struct stat ph;
		if (REAL(fstat)(ms_shim.placeholder, &ph) == 0)
			discover_files(fds, ph.st_dev); /* every memfd shares one device */
		inherit_dirs(fds);
	}
	if (fds)
		unsetenv("MEMSHIM_FDS");
	/* By name, through getenv: in some programs (bash) the `environ` this
	 * library sees is a copy the program keeps, which our own setenv of
	 * MEMSHIM_STORE_ID at start-up does not reach. */
	static const char *const names[] = {
		"MEMSHIM_PREFIX", "MEMSHIM_QUOTA", "MEMSHIM_MAX_NODES", "MEMSHIM_QUOTA_ERRNO",
		"MEMSHIM_GUARD", "MEMSHIM_GUARD_ACTION", "MEMSHIM_GUARD_INTERVAL", "MEMSHIM_LOG",
		"MEMSHIM_STORE", "MEMSHIM_STORE_ID", "MEMSHIM_REPORT", "MEMSHIM_SEED", "MEMSHIM_SAVE",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = getenv(names[i]);
		if (!v)
			continue;
		size_t len = strlen(names[i]) + 1 + strlen(v) + 1;
		char *kv = malloc(len);
		if (!kv)
			continue;
		snprintf(kv, len, "%s=%s", names[i], v);
		saved[nsaved++] = kv;
	}
}
