/* make install and make uninstall, into a DESTDIR: the files of the
 * agreed layout and nothing else, an installed library that works (its
 * keeper found next to it), the installed pytest plugin finding the
 * installed library, man pages groff reads without a warning, and
 * nothing left after uninstall. */
#include <dirent.h>

#include "e2e/e2e.h"

static char src[PATH_MAX], build[PATH_MAX], dest[PATH_MAX];
static char out[1 << 16];

static void setup(void)
{
	char b[PATH_MAX];
	snprintf(b, sizeof(b), "%s", e2e_dir());
	snprintf(src, sizeof(src), "%s", dirname(dirname(b)));
	cr_assert_not_null(realpath(t_build(), build), "no build directory %s", t_build());
	snprintf(dest, sizeof(dest), "/tmp/memshim-install.XXXXXX");
	cr_assert_not_null(mkdtemp(dest));
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dest);
	cr_assert_eq(system(cmd), 0);
}

/* sh -c cmd from the source tree, without the preload, with D (the
 * DESTDIR), B (the build) and PY in the environment and no make of ours
 * above it. */
static int run(const char *cmd)
{
	static char full[16384];
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	snprintf(full, sizeof(full),
		 "cd '%s' && env -u MEMSHIM_STORE_ID -u LD_PRELOAD -u MAKEFLAGS -u MAKELEVEL "
		 "-u MEMSHIM_LIB D='%s' B='%s' PY=%s sh -c '%s' 2>&1",
		 src, dest, build, py, cmd);
	return t_popen(full, out, sizeof(out));
}

#define HAS(s) cr_assert_not_null(strstr(out, (s)), "no \"%s\" in:\n%s", (s), out)

/* The list make install must produce under /usr/local: fixed files, and
 * for each program of tools/ but the keeper, itself in bin and its page
 * in man1. Sorted as sort(1) in the C locale sorts. */
static void wanted(char *w, size_t n)
{
	const char *fixed[] = {
		"./usr/local/lib/memshim/libmemshim.so",
		"./usr/local/lib/memshim/memshim-keeper",
		"./usr/local/lib/python3/dist-packages/pytest_memshim.py",
		"./usr/local/share/doc/memshim/ARCHITECTURE.md",
		"./usr/local/share/doc/memshim/README.md",
		"./usr/local/share/doc/memshim/config.md",
		"./usr/local/share/man/man7/memshim.7",
	};
	char list[64][PATH_MAX];
	int k = 0;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		snprintf(list[k++], PATH_MAX, "%s", fixed[i]);
	char tools[PATH_MAX + 8];
	snprintf(tools, sizeof(tools), "%s/tools", src);
	DIR *d = opendir(tools);
	cr_assert_not_null(d);
	struct dirent *e;
	while ((e = readdir(d)) && k < 62) {
		size_t len = strlen(e->d_name);
		if (len < 3 || strcmp(e->d_name + len - 2, ".c") || !strcmp(e->d_name, "memshim-keeper.c"))
			continue;
		snprintf(list[k++], PATH_MAX, "./usr/local/bin/%.*s", (int)len - 2, e->d_name);
		snprintf(list[k++], PATH_MAX, "./usr/local/share/man/man1/%.*s.1", (int)len - 2, e->d_name);
	}
	closedir(d);
	qsort(list, (size_t)k, sizeof(list[0]), (int (*)(const void *, const void *))strcmp);
	w[0] = 0;
	for (int i = 0; i < k; i++) {
		strncat(w, list[i], n - strlen(w) - 2);
		strcat(w, "\n");
	}
}

Test(install, install_run_and_uninstall, .init = setup, .fini = teardown)
{
	/* The default prefix. */
	cr_assert_eq(run("make -s install B=$B DESTDIR=$D"), 0, "%s", out);
	char want[16384];
	wanted(want, sizeof(want));
	cr_assert_eq(run("cd $D && find . ! -type d | LC_ALL=C sort"), 0, "%s", out);
	cr_assert_str_eq(out, want);
	cr_assert_eq(run("cd $D && find . -type f -perm -u+x | LC_ALL=C sort | "
			 "grep -v -e ^./usr/local/bin/ -e ^./usr/local/lib/memshim/memshim-keeper$"),
		     1, "executable files that are not programs:\n%s", out);

	/* The installed library, on its own: a store write, and the keeper
	 * that runs is the one next to it. */
	cr_assert_eq(run("L=$D/usr/local/lib/memshim; K=$L/memshim-keeper; export K; "
			 "LD_PRELOAD=$L/libmemshim.so MEMSHIM_QUOTA=1M sh -c \""
			 "echo written > /mem/f && cat /mem/f; "
			 "for p in /proc/[0-9]*; do [ \\\"\\$(readlink \\$p/exe)\\\" = \\\"\\$K\\\" ] "
			 "&& echo keeper next to the library; done; "
			 "head -c 2097152 /dev/zero > /mem/big || echo refused; "
			 "$D/usr/local/bin/memshim-stat | grep -e ^max_bytes -e ^refused:\""),
		     0, "%s", out);
	cr_assert_str_eq(out, "written\nkeeper next to the library\n"
			      "head: error writing 'standard output': No space left on device\nrefused\n"
			      "max_bytes: 1048576\nrefused: 1\n");

	/* The installed plugin finds the installed library and memshim-stat
	 * by where it is. */
	cr_assert_eq(run("PYTHONDONTWRITEBYTECODE=1 MEMSHIM_QUOTA=16M "
			 "PYTHONPATH=$D/usr/local/lib/python3/dist-packages "
			 "$PY -m pytest -p pytest_memshim -p no:cacheprovider examples/pytest"),
		     0, "%s", out);
	char lib[PATH_MAX + 64];
	snprintf(lib, sizeof(lib), "\nlibrary: %s/usr/local/lib/memshim/libmemshim.so\n", dest);
	HAS(lib);
	HAS("\nmax_bytes: 16777216\n");
	HAS(" 4 passed in ");

	/* Man pages as man reads them: no warning. */
	cr_assert_eq(run("for m in $D/usr/local/share/man/man*/*; do "
			 "groff -man -Tutf8 -ww -z $m || echo $m; done"),
		     0, "%s", out);
	cr_assert_str_empty(out);

	/* Uninstall takes everything, the byte code python made of the
	 * plugin included, and the directories that are memshim's. */
	cr_assert_eq(run("env -u PYTHONDONTWRITEBYTECODE PYTHONPATH=$D/usr/local/lib/python3/dist-packages $PY -c "
			 "\"import pytest_memshim\" && ls $D/usr/local/lib/python3/dist-packages/__pycache__"),
		     0, "%s", out);
	cr_assert_eq(run("make -s uninstall DESTDIR=$D"), 0, "%s", out);
	cr_assert_eq(run("cd $D && find . ! -type d -o -name \"*memshim*\" -o -name __pycache__"),
		     0, "%s", out);
	cr_assert_str_empty(out, "left after uninstall:\n%s", out);
}
