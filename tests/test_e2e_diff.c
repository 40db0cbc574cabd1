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

/* Runs `helper DIR section` (helper: a program and its first arguments)
 * on both sides and compares. */
static void differential_run(const char *helper, const char *section)
{

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

static void differential_of(const char *prog, const char *section)
{
	char helper[512];
	snprintf(helper, sizeof(helper), "%s/tests/helpers/%s", t_build(), prog);
	cr_assert_eq(access(helper, X_OK), 0, "%s: not built (make check builds it)", helper);
	differential_run(helper, section);
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

/* Extended attributes (tests/helpers/xattrops.c): every errno case, the l
 * and f variants, files, directories and symlinks, as root and as another
 * uid, and ".." above the store directory. */
Test(e2e_diff, xattr_names) { differential_of("xattrops", "names"); }
Test(e2e_diff, xattr_values) { differential_of("xattrops", "values"); }
Test(e2e_diff, xattr_list) { differential_of("xattrops", "list"); }
Test(e2e_diff, xattr_types) { differential_of("xattrops", "types"); }
Test(e2e_diff, xattr_life) { differential_of("xattrops", "life"); }
Test(e2e_diff, xattr_acl) { differential_of("xattrops", "acl"); }
Test(e2e_diff, xattr_uid) { differential_of("xattrops", "uid"); }
Test(e2e_diff, xattr_dotdot) { differential_of("xattrops", "dotdot"); }

/* The attr package's tools, cp and ls (tests/e2e/xattr_tools.sh). */
Test(e2e_diff, xattr_tools)
{
	if (access("/usr/bin/getfattr", X_OK) || access("/usr/bin/setfattr", X_OK))
		cr_skip_test("getfattr/setfattr not installed (Debian package attr)");
	char helper[PATH_MAX + 32];
	snprintf(helper, sizeof(helper), "sh %s/xattr_tools.sh", e2e_dir());
	differential_run(helper, "all");
}
