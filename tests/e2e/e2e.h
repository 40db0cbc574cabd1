/* tests/e2e/e2e.h — helpers of the end-to-end tests (tests/test_e2e_*.c):
 * where the scripts of tests/e2e are, and running one scenario as one
 * process tree under the preload. */
#ifndef MEMSHIM_TESTS_E2E_H
#define MEMSHIM_TESTS_E2E_H

#include <ftw.h>
#include <libgen.h>
#include <limits.h>

#include "common.h"

/* The absolute path of tests/e2e in the source tree: next to the build
 * directory make names in MEMSHIM_TEST_BUILD, else from __FILE__ (the
 * compiler is run from the top of the tree). */
static inline const char *e2e_dir(void)
{
	static char dir[PATH_MAX];
	if (dir[0])
		return dir;
	char b[PATH_MAX];
	const char *build = getenv("MEMSHIM_TEST_BUILD");
	if (build && build[0] == '/') {
		snprintf(b, sizeof(b), "%s", build);
		snprintf(dir, sizeof(dir), "%s/tests/e2e", dirname(b));
		if (access(dir, R_OK) == 0)
			return dir;
	}
	snprintf(b, sizeof(b), "%s", __FILE__);
	if (!realpath(dirname(b), dir))
		snprintf(dir, sizeof(dir), "tests/e2e");
	return dir;
}

/* Runs script under the preload with E2E=<tests/e2e> and PY=<python3> in
 * the environment plus env; asserts nothing. */
static inline int e2e_sh(const char *env, const char *script, char *out, size_t n)
{
	char full[PATH_MAX + 512];
	/* Debian's own python3 starts faster than a pyenv shim (a bash
	 * script) and is the one the survey checked. */
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	int k = snprintf(full, sizeof(full), "E2E=%s PY=%s %s", e2e_dir(), py, env ? env : "");
	cr_assert(k > 0 && (size_t)k < sizeof(full), "environment too long");
	return t_sh(full, script, out, n);
}

static inline int e2e_rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	return remove(p);
}

/* rm -rf of a real directory a test made. */
static inline void e2e_rm_tree(const char *dir)
{
	nftw(dir, e2e_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Replaces every occurrence of dir in s by "$D", in place: the outputs of
 * a differential test name their directories alike. */
static inline void e2e_strip_dir(char *s, const char *dir)
{
	size_t n = strlen(dir);
	char *r = s, *w = s;
	while (*r) {
		if (strncmp(r, dir, n) == 0) {
			memcpy(w, "$D", 2);
			w += 2;
			r += n;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
}

/* The next line of *s, cut off in place; NULL at the end. */
static inline char *e2e_next_line(char **s)
{
	if (!**s)
		return NULL;
	char *l = *s, *nl = strchr(l, '\n');
	if (nl) {
		*nl = 0;
		*s = nl + 1;
	} else {
		*s = l + strlen(l);
	}
	return l;
}

/* Compares a differential test's two outputs line by line (cutting both
 * into lines in place): returns how many lines differ and *lines how many
 * there were; report (n bytes) gets the first differences, each as
 * "line N:\n  tmpfs: ...\n  store: ...". */
static inline int e2e_compare(char *want, char *got, int *lines, char *report, size_t n)
{
	size_t r = 0;
	int ndiff = 0, line = 0;
	char *a = want, *b = got, *la, *lb;
	report[0] = 0;
	for (;;) {
		la = e2e_next_line(&a);
		lb = e2e_next_line(&b);
		if (!la && !lb)
			break;
		line++;
		if (la && lb && strcmp(la, lb) == 0)
			continue;
		ndiff++;
		if (r < n - 1024)
			r += (size_t)snprintf(report + r, n - r, "line %d:\n  tmpfs: %s\n  store: %s\n",
					      line, la ? la : "(none)", lb ? lb : "(none)");
	}
	*lines = line;
	return ndiff;
}

/* Asserts status 0 and the exact output of a scenario. */
#define E2E_EXPECT(env, script, want)                                              \
	do {                                                                       \
		static char out_[65536];                                           \
		int st_ = e2e_sh((env), (script), out_, sizeof(out_));             \
		cr_assert_eq(st_, 0, "exit status %d, output:\n%s", st_, out_);     \
		cr_assert_str_eq(out_, (want), "output:\n%s\nwanted:\n%s", out_,   \
				 (want));                                          \
	} while (0)

#endif
