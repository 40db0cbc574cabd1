/* End-to-end differential test: tests/helpers/diffops runs a fixed
 * sequence of libc file calls, one output line per call ("<op> <args> ->
 * <result> <errno>"), once under the preload in a store directory and once
 * without it in a fresh tmpfs directory (/dev/shm). With the directory
 * replaced by $D, the two outputs must be the same line for line. One Test
 * per section of diffops, so a difference names its family. */
#include <ftw.h>

#include "e2e/e2e.h"

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	return remove(p);
}

/* Replaces every occurrence of dir in s by "$D", in place. */
static void strip_dir(char *s, const char *dir)
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

static char *next_line(char **s)
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

static void differential_of(const char *prog, const char *section)
{
	char helper[512];
	snprintf(helper, sizeof(helper), "%s/tests/helpers/%s", t_build(), prog);
	cr_assert_eq(access(helper, X_OK), 0, "%s: not built (make check builds it)", helper);

	/* The real side: a fresh tmpfs directory, no preload. */
	char dir[] = "/dev/shm/memshim-diff-XXXXXX";
	char tdir[] = "/tmp/memshim-diff-XXXXXX";
	char *real = mkdtemp(dir);
	if (!real)
		real = mkdtemp(tdir);
	cr_assert_not_null(real, "mkdtemp: %s", strerror(errno));
	char cmd[1280];
	snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD %s %s %s 2>&1", helper, real, section);
	static char want[1 << 20], got[1 << 20];
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t k = fread(want, 1, sizeof(want) - 1, p);
	want[k] = 0;
	int st = pclose(p);
	nftw(real, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	cr_assert_eq(st, 0, "diffops on tmpfs failed: %s", want);
	strip_dir(want, real);

	/* The store side: the same calls in /mem/t, made 0700 like mkdtemp's. */
	snprintf(cmd, sizeof(cmd), "mkdir -m 700 /mem/t && %s /mem/t %s", helper, section);
	st = e2e_sh("", cmd, got, sizeof(got));
	strip_dir(got, "/mem/t");

	static char report[1 << 16];
	size_t r = 0;
	int ndiff = 0, line = 0;
	char *a = want, *b = got, *la, *lb;
	for (;;) {
		la = next_line(&a);
		lb = next_line(&b);
		if (!la && !lb)
			break;
		line++;
		if (la && lb && strcmp(la, lb) == 0)
			continue;
		ndiff++;
		if (r < sizeof(report) - 1024)
			r += (size_t)snprintf(report + r, sizeof(report) - r,
					      "line %d:\n  tmpfs: %s\n  store: %s\n", line,
					      la ? la : "(none)", lb ? lb : "(none)");
	}
	cr_assert_eq(st, 0, "diffops under the preload exited with %d; differences:\n%s", st, report);
	cr_assert_eq(ndiff, 0, "%s: %d of %d lines differ:\n%s", section, ndiff, line, report);
}

static void differential(const char *section) { differential_of("diffops", section); }

/* Every entry point that opens a file (tests/helpers/openops.c), on the
 * same paths with the same flags. */
Test(e2e_diff, open) { differential_of("openops", "all"); }

Test(e2e_diff, files) { differential("files"); }
Test(e2e_diff, stat) { differential("stat"); }
Test(e2e_diff, namespace) { differential("namespace"); }
Test(e2e_diff, rename) { differential("rename"); }
Test(e2e_diff, links) { differential("links"); }
Test(e2e_diff, at) { differential("at"); }
Test(e2e_diff, dirs) { differential("dirs"); }
Test(e2e_diff, cwd) { differential("cwd"); }
Test(e2e_diff, names) { differential("names"); }
Test(e2e_diff, fd) { differential("fd"); }

/* Permissions as the kernel enforces them (tests/helpers/permops.c): a
 * matrix of directory modes and owners, each call made by a child that
 * switched to the actor, in a store directory and in a tmpfs one. */
Test(e2e_diff, perm_root) { differential_of("permops", "root"); }
Test(e2e_diff, perm_nobody) { differential_of("permops", "nobody"); }
Test(e2e_diff, perm_user) { differential_of("permops", "user"); }
Test(e2e_diff, perm_euid) { differential_of("permops", "euid"); }
/* A process that drops privileges in the middle of its run. */
Test(e2e_diff, perm_drop) { differential_of("permops", "drop"); }
