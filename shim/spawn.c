/* shim/spawn.c — posix_spawn and posix_spawnp, and the file actions that
 * open store files: the new program inherits the shim, the store and its
 * store fds as after an exec (carry.c); a store program runs from the
 * parent's fd of it, a store script through its interpreter.
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

/* ---- posix_spawn -------------------------------------------------------------------------- */

/* Store files opened ahead for spawn file actions: the child dup2s them
 * into place; they stay open, in the fd table, until the actions are
 * destroyed. */
#define MAX_OPENS 64
static struct {
	const posix_spawn_file_actions_t *fa; /* [opens_lock] */
	int tmpfd, target;                    /* [opens_lock] */
} opens[MAX_OPENS];
static pthread_mutex_t opens_lock = PTHREAD_MUTEX_INITIALIZER;

void ms_spawn_fork(int phase)
{
	if (phase == MS_FORK_PREPARE)
		pthread_mutex_lock(&opens_lock);
	else if (phase == MS_FORK_PARENT)
		pthread_mutex_unlock(&opens_lock);
	else
		pthread_mutex_init(&opens_lock, NULL);
}

static void opens_close(int fd)
{
	if (ms_fd_get(fd))
		ms_fd_drop(fd);
	REAL(close)(fd);
}

MS_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int target,
					       const char *path, int oflag, mode_t mode)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return REAL(posix_spawn_file_actions_addopen)(fa, target, path, oflag, mode);
	/* The child opens with glibc's internal calls, which never reach the
	 * shim: open it here, now, and let the child dup2 it into place. */
	int fd = ms_open_route(&r, oflag | O_CLOEXEC, mode, MS_OPEN_KEEP);
	if (fd < 0)
		return -fd;
	struct ms_fd *e = ms_fd_get(fd);
	if (e)
		ms_fd_spoil(e); /* the child's from now on: never lent again */
	if (e && e->kind == MS_FD_DIR) {
		opens_close(fd); /* the child could not use an emulated one */
		return EISDIR;
	}
	/* Out of the way of the fds the actions name. */
	int high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 900);
	int err = errno;
	if (high >= 0 && e)
		ms_fd_copy(fd, high);
	opens_close(fd);
	if (high < 0)
		return err;
	pthread_mutex_lock(&opens_lock);
	int slot = -1;
	for (int i = 0; i < MAX_OPENS && slot < 0; i++)
		if (!opens[i].fa)
			slot = i;
	if (slot >= 0) {
		opens[slot].fa = fa;
		opens[slot].tmpfd = high;
		opens[slot].target = target;
	}
	pthread_mutex_unlock(&opens_lock);
	if (slot < 0) {
		opens_close(high);
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
		opens_close(opens[i].tmpfd);
		opens[i].fa = NULL;
	}
	pthread_mutex_unlock(&opens_lock);
	return REAL(posix_spawn_file_actions_destroy)(fa);
}

/* posix_spawnp: when some candidate along PATH is in the store, the
 * search is ours: 0 with the first executable candidate in out, or the
 * error glibc gives (EACCES when some candidate exists but cannot run,
 * else ENOENT). Returns -1 when no candidate is in the store: the search
 * is then glibc's own. */
static int spawn_search(const char *file, char *out, size_t n)
{
	const char *cur = NULL;
	char first[PATH_MAX];
	int any = 0, eacces = 0;
	first[0] = 0;
	while (ms_path_next(&cur, file, out, n)) {
		struct ms_route r;
		const char *p = out;
		int fd, rc = 0;
		struct stat st;
		if (ms_route(out, &r)) {
			any = 1;
			rc = ms_program_fd(&p, &fd);
			if (rc == 0 && fd >= 0) {
				REAL(close)(fd);
				p = NULL; /* a store program that can run */
			}
		}
		if (rc == 0 && p) {
			/* a real file (or where a store symlink leads) */
			if (REAL(stat)(p, &st))
				rc = -errno;
			else if (!S_ISREG(st.st_mode) || REAL(access)(p, X_OK))
				rc = -EACCES;
		}
		if (rc == 0 && !first[0])
			snprintf(first, sizeof(first), "%s", out);
		if (rc == -EACCES)
			eacces = 1;
	}
	if (!any)
		return -1;
	if (first[0]) {
		snprintf(out, n, "%s", first);
		return 0;
	}
	return eacces ? EACCES : ENOENT;
}

static int spawn_common(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[],
			int search, int depth)
{
	if (!ms_shim.on)
		return search ? REAL(posix_spawnp)(pid, path, fa, attr, argv, envp)
			      : REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
	/* file actions may dup any fd into the child, close-on-exec or not:
	 * no description of this process is to be lent again (lend.c) */
	if (fa)
		ms_fd_mark_shared();
	/* posix_spawnp through a PATH that names store directories: the
	 * search is ours, in PATH order, real directories included. */
	char found[PATH_MAX];
	if (search && *path && !strchr(path, '/')) {
		int rc = spawn_search(path, found, sizeof(found));
		if (rc > 0)
			return rc;
		if (rc == 0) {
			path = found;
			search = 0;
		}
	}
	/* A program in the store runs from the parent's fd of it: the child
	 * opens /proc/<parent>/fd/N while the parent waits for its exec. A
	 * script runs its interpreter on the script's path instead, as exec
	 * does: the interpreter opens its argument after the exec, when the
	 * parent may already have closed its fd. */
	char proc[64];
	int fd = -1, rc;
	if (!search) {
		rc = ms_program_fd(&path, &fd);
		if (rc)
			return -rc;
	}
	if (fd >= 0) {
		char line[256], *interp, *arg;
		int k = ms_script_line(fd, line, sizeof(line), &interp, &arg);
		if (k != 0) {
			REAL(close)(fd);
			if (k < 0 || depth >= 4)
				return k < 0 ? -k : ELOOP;
			char *nargv[ms_argv_count(argv) + 3];
			ms_script_argv(nargv, interp, arg, path, argv);
			return spawn_common(pid, interp, fa, attr, nargv, envp, 0, depth + 1);
		}
		snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", (int)getpid(), fd);
		path = proc;
	}
	struct ms_carry_extra extra[MAX_OPENS];
	int nextra = 0;
	pthread_mutex_lock(&opens_lock);
	for (int i = 0; i < MAX_OPENS && fa; i++) {
		struct ms_fd *e = opens[i].fa == fa ? ms_fd_get(opens[i].tmpfd) : NULL;
		if (e) {
			extra[nextra].target = opens[i].target;
			extra[nextra].e = *e;
			nextra++;
		}
	}
	pthread_mutex_unlock(&opens_lock);
	char *vec[ms_env_count(envp) + ENV_EXTRA];
	struct envbuf *b = malloc(sizeof(*b));
	if (!b) {
		if (fd >= 0)
			REAL(close)(fd);
		return ENOMEM;
	}
	b->used = 0;
	char **env = ms_carry_env(envp, vec, b, 'G', extra, nextra);
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
	return spawn_common(pid, path, fa, attr, argv, envp, 0, 0);
}

MS_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn_common(pid, file, fa, attr, argv, envp, 1, 0);
}

