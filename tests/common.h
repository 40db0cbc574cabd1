/* tests/common.h — helpers shared by the Criterion tests of core/. */
#ifndef MEMSHIM_TESTS_COMMON_H
#define MEMSHIM_TESTS_COMMON_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "store.h"

/* Where make put the build (keeper, helpers). */
static inline const char *t_build(void)
{
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	return b ? b : "build";
}

static inline const char *t_keeper(void)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/memshim-keeper", t_build());
	return path;
}

/* A store local to this process (no keeper). */
static inline ms_store *t_local(const struct ms_config *c)
{
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = c};
	int r = ms_store_open(&o, &s);
	cr_assert_eq(r, 0, "ms_store_open: %s", strerror(-r));
	return s;
}

/* A store with its keeper. */
static inline ms_store *t_kept(const struct ms_config *c)
{
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = c, .keeper_path = t_keeper()};
	int r = ms_store_open(&o, &s);
	cr_assert_eq(r, 0, "ms_store_open with keeper: %s", strerror(-r));
	return s;
}

/* Creates path with len bytes of 'x' through the write path of core. */
static inline int t_write_file(ms_store *s, const char *path, size_t len)
{
	int fd;
	ms_ino ino;
	int r = ms_open(s, 0, path, O_CREAT | O_WRONLY | O_TRUNC, 0644, &fd, &ino);
	if (r)
		return r;
	static char buf[65536];
	memset(buf, 'x', sizeof(buf));
	size_t done = 0;
	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		struct ms_wctx w;
		int64_t off;
		r = ms_write_begin(s, ino, fd, (int64_t)done, n, 0, &w, &off);
		if (r)
			break;
		ssize_t k = pwrite(fd, buf, n, off);
		ms_write_end(s, &w, k < 0 ? -errno : k);
		if (k < 0) {
			r = -errno;
			break;
		}
		done += (size_t)k;
	}
	ms_ino_put(s, ino); /* while the fd still holds the file */
	close(fd);
	return r;
}

static inline void t_assert_consistent(ms_store *s)
{
	char msg[512];
	int r = ms_check(s, msg, sizeof(msg));
	cr_assert_eq(r, 0, "store inconsistent: %s", msg);
}

/* The preload library of this build. */
static inline const char *t_lib(void)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/libmemshim.so", t_build());
	return path;
}

/* Runs cmd through popen: what it prints (at most n - 1 bytes) in out, NUL
 * ended. Returns its exit status, 128+N when signal N killed it. */
static inline int t_popen(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "popen: %s", cmd);
	size_t k = fread(out, 1, n - 1, p);
	out[k] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs `sh -c script` with the preload (a fresh store: no inherited
 * MEMSHIM_STORE_ID) and extra environment `env` ("VAR=x VAR2=y" or "").
 * Returns the exit status (128+signal when killed) and what it printed on
 * stdout and stderr together in out. script must not contain single quotes. */
/* t_sh after `pre`, shell words run without the preload first (a ulimit
 * the store's first process, and so its keeper, starts with). */
static inline int t_sh_after(const char *pre, const char *env, const char *script, char *out,
			     size_t n)
{
	char cmd[16384];
	/* A sanitizer build's runtime must be loaded before the library. */
	const char *first = getenv("MEMSHIM_TEST_PRELOAD_FIRST");
	snprintf(cmd, sizeof(cmd),
		 "%s env -u MEMSHIM_STORE_ID ASAN_OPTIONS=detect_leaks=0 %s LD_PRELOAD='%s%s%s' "
		 "sh -c '%s' 2>&1",
		 pre, env, first && *first ? first : "", first && *first ? " " : "", t_lib(), script);
	return t_popen(cmd, out, n);
}

static inline int t_sh(const char *env, const char *script, char *out, size_t n)
{
	return t_sh_after("", env, script, out, n);
}

#endif
