/* tests/e2e/e2e.h — helpers of the end-to-end tests (tests/test_e2e_*.c):
 * where the scripts of tests/e2e are, and running one scenario as one
 * process tree under the preload. */
#ifndef MEMSHIM_TESTS_E2E_H
#define MEMSHIM_TESTS_E2E_H

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
