/* shim/cwd.c — the current directory: chdir and fchdir into and out of the
 * store, and getcwd, get_current_dir_name, getwd and their _chk forms.
 *
 * In a store directory the kernel's cwd stays where it was and
 * ms_shim.cwd holds the directory's inode (with a reference); route.c sends
 * relative paths there. Leaving for a real directory clears it and
 * refreshes the cached real cwd.
 *
 * Children learn the virtual cwd from MEMSHIM_CWD, which the exec wrappers
 * put in every new program's environment (ms_cwd_env), or else from PWD,
 * the variable shells already export for their logical cwd:
 * ms_cwd_inherit() (constructor) takes either when it names a store
 * directory. chdir into the store also sets PWD in environ, for programs
 * that exec with it; leaving sets it back to the real cwd when it pointed
 * into the store. Shells keep their own PWD.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

extern void __chk_fail(void) __attribute__((noreturn));

/* A fork child holds its own reference on the inherited cwd (called from
 * init.c's fork-child handler). */
void ms_cwd_fork_child(void)
{
	ms_ino c = __atomic_load_n(&ms_shim.cwd, __ATOMIC_ACQUIRE);
	if (c && ms_shim.store)
		ms_ino_get(ms_shim.store, c);
}


/* The path of the virtual cwd into buf (n bytes). Returns its length or
 * -errno: ENOENT (removed), ENAMETOOLONG. */
static int cwd_path(ms_ino c, char *buf, size_t n)
{
	int rc = ms_dir_path(ms_shim.store, c, buf, n);
	if (rc == -ERANGE)
		rc = -ENAMETOOLONG;
	return rc < 0 ? rc : (int)strlen(buf);
}

/* 1 when PWD in environ names a place under a prefix. */
static int pwd_is_ours(void)
{
	const char *p = getenv("PWD");
	struct ms_route r;
	return p && p[0] == '/' && ms_route(p, &r);
}

/* Makes ino the virtual cwd; the caller passes its reference. */
static void cwd_enter(ms_ino ino, int set_pwd)
{
	if (ms_in_vfork_child()) {
		/* The parent's memory: its cwd, environment and references
		 * stay as they are; the program this child execs learns the
		 * directory from MEMSHIM_CWD. */
		ms_vfork_cwd_set(ino);
		ms_ino_put(ms_shim.store, ino);
		return;
	}
	ms_ino old = __atomic_exchange_n(&ms_shim.cwd, ino, __ATOMIC_ACQ_REL);
	if (old)
		ms_ino_put(ms_shim.store, old);
	if (!set_pwd)
		return;
	char path[PATH_MAX];
	if (cwd_path(ino, path, sizeof(path)) > 0)
		setenv("PWD", path, 1);
}

/* A real chdir/fchdir succeeded: the cwd is the kernel's again. */
static void cwd_left(void)
{
	if (ms_shim.store && ms_in_vfork_child()) {
		ms_vfork_cwd_set(0);
		return;
	}
	int saved = errno;
	ms_ino old = 0;
	if (ms_shim.store)
		old = __atomic_exchange_n(&ms_shim.cwd, 0, __ATOMIC_ACQ_REL);
	ms_real_cwd_changed();
	if (old) {
		ms_ino_put(ms_shim.store, old);
		if (pwd_is_ours()) {
			char c[PATH_MAX];
			ms_real_cwd_get(c, sizeof(c));
			setenv("PWD", c, 1);
		}
	}
	errno = saved;
}

void ms_cwd_inherit(void)
{
	/* MEMSHIM_CWD, written by the exec wrappers, is authoritative ("" =
	 * the kernel's cwd); PWD is the fallback for an exec they did not see. */
	const char *p = ms_carry_start_env("MEMSHIM_CWD");
	if (!p)
		p = getenv("PWD");
	struct ms_route r;
	ms_ino ino;
	if (p && p[0] == '/' && ms_route(p, &r) &&
	    ms_lookup_dir(ms_shim.store, r.dir, r.path, &ino) == 0)
		cwd_enter(ino, 0);
}

int ms_cwd_env(char *buf, size_t n)
{
	static const char name[] = "MEMSHIM_CWD=";
	size_t k = sizeof(name) - 1;
	if (n < k + 1)
		return -ENAMETOOLONG;
	memcpy(buf, name, k);
	buf[k] = 0;
	ms_ino c = ms_shim.store ? __atomic_load_n(&ms_shim.cwd, __ATOMIC_ACQUIRE) : 0;
	ms_vfork_cwd(&c); /* a vfork child that changed directory */
	if (!c)
		return (int)k;
	int len = cwd_path(c, buf + k, n - k);
	if (len < 0) {
		buf[k] = 0; /* a removed cwd: the child starts in the kernel's */
		return (int)k;
	}
	return (int)k + len;
}

/* ---- chdir, fchdir ----------------------------------------------------------- */

static int real_chdir(const char *path)
{
	int rc = REAL(chdir)(path);
	if (rc == 0)
		cwd_left();
	return rc;
}

MS_EXPORT int chdir(const char *path)
{
	struct ms_route r;
	if (!ms_route(path, &r))
		return real_chdir(path);
	ms_ino ino = r.dir;
	int rc;
	if (r.empty || (r.dir && ms_dir_is_dot(r.path))) {
		/* /proc/self/fd/N of a store fd, or "." of a directory that
		 * may have been removed: that inode itself. */
		struct stat st;
		rc = ms_stat_ino(ms_shim.store, ino, &st);
		if (rc == 0 && !S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
		if (rc == 0)
			rc = ms_may(ms_shim.store, ino, X_OK); /* "." is searched */
		if (rc == 0)
			ms_ino_get(ms_shim.store, ino);
	} else {
		rc = ms_lookup_dir(ms_shim.store, r.dir, r.path, &ino);
		/* the new cwd must be searchable */
		if (rc == 0 && (rc = ms_may(ms_shim.store, ino, X_OK)))
			ms_ino_put(ms_shim.store, ino);
	}
	int at;
	const char *esc;
	if (ms_leave(rc, &at, &esc))
		return real_chdir(esc);
	if (rc < 0)
		return ms_ret(rc);
	cwd_enter(ino, 1);
	return 0;
}

MS_EXPORT int fchdir(int fd)
{
	struct ms_fd *e = ms_fd_get(fd);
	if (!e) {
		int rc = REAL(fchdir)(fd);
		if (rc == 0)
			cwd_left();
		return rc;
	}
	if (e->kind != MS_FD_DIR)
		return ms_ret(-ENOTDIR);
	int rc = ms_may(ms_shim.store, e->ino, X_OK);
	if (rc)
		return ms_ret(rc);
	ms_ino_get(ms_shim.store, e->ino);
	cwd_enter(e->ino, 1);
	return 0;
}

/* ---- getcwd and friends --------------------------------------------------------- */

/* The virtual cwd, or 0 when the call is the kernel's. */
static ms_ino virtual_cwd(void)
{
	if (!ms_shim.store)
		return 0;
	return __atomic_load_n(&ms_shim.cwd, __ATOMIC_ACQUIRE);
}

/* getcwd's contract over the virtual cwd c. */
static char *cwd_get(ms_ino c, char *buf, size_t size)
{
	char path[PATH_MAX];
	if (buf && size == 0) {
		errno = EINVAL;
		return NULL;
	}
	int len = cwd_path(c, path, sizeof(path));
	if (len < 0) {
		errno = -len;
		return NULL;
	}
	size_t need = (size_t)len + 1;
	if (!buf) {
		size_t n = size ? size : need;
		if (n < need) {
			errno = ERANGE;
			return NULL;
		}
		buf = malloc(n);
		if (!buf) {
			errno = ENOMEM;
			return NULL;
		}
	} else if (size < need) {
		errno = ERANGE;
		return NULL;
	}
	memcpy(buf, path, need);
	return buf;
}

MS_EXPORT char *getcwd(char *buf, size_t size)
{
	ms_ino c = virtual_cwd();
	if (!c)
		return REAL(getcwd)(buf, size);
	return cwd_get(c, buf, size);
}

MS_EXPORT char *__getcwd_chk(char *buf, size_t size, size_t buflen)
{
	ms_ino c = virtual_cwd();
	if (!c)
		return REAL(__getcwd_chk)(buf, size, buflen);
	if (size > buflen)
		__chk_fail();
	return cwd_get(c, buf, size);
}

MS_EXPORT char *get_current_dir_name(void)
{
	ms_ino c = virtual_cwd();
	if (!c)
		return REAL(get_current_dir_name)();
	/* As glibc: PWD when it names the current directory (it may hold a
	 * symlink the user went through), else the physical path. */
	const char *p = getenv("PWD");
	struct ms_route r;
	ms_ino at;
	if (p && p[0] == '/' && ms_route(p, &r) && !r.empty &&
	    ms_lookup(ms_shim.store, r.dir, r.path, 0, &at) == 0 && at == c) {
		char *d = strdup(p);
		if (!d)
			errno = ENOMEM;
		return d;
	}
	return cwd_get(c, NULL, 0);
}

/* getwd: buf holds PATH_MAX bytes; on failure it receives the message. */
static char *wd_get(ms_ino c, char *buf)
{
	int len = cwd_path(c, buf, PATH_MAX);
	if (len < 0) {
		const char *m = strerror_r(-len, buf, PATH_MAX);
		if (m != buf)
			snprintf(buf, PATH_MAX, "%s", m);
		errno = -len;
		return NULL;
	}
	return buf;
}

MS_EXPORT char *getwd(char *buf)
{
	ms_ino c = virtual_cwd();
	if (!c)
		return REAL(getwd)(buf);
	return wd_get(c, buf);
}

MS_EXPORT char *__getwd_chk(char *buf, size_t buflen)
{
	ms_ino c = virtual_cwd();
	if (!c)
		return REAL(__getwd_chk)(buf, buflen);
	if (buflen < PATH_MAX)
		__chk_fail();
	return wd_get(c, buf);
}
