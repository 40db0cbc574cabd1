/* The examples of examples/, each run as a user would run it (its
 * script, with MEMSHIM_LIB naming this build's library), with what it
 * prints checked: the quota stopping a runaway writer, `make check` of a
 * C project, CTest, pytest with the plugin, SQLite, numpy.memmap, and the
 * CI job. */
#include "e2e/e2e.h"

/* The top of the source tree (tests/e2e/../..). */
static const char *src(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		char b[PATH_MAX];
		snprintf(b, sizeof(b), "%s", e2e_dir());
		snprintf(dir, sizeof(dir), "%s", dirname(dirname(b)));
	}
	return dir;
}

static const char *build(void)
{
	static char dir[PATH_MAX];
	if (!dir[0] && !realpath(t_build(), dir))
		cr_assert_fail("no build directory %s", t_build());
	return dir;
}

/* Runs `sh -c cmd` from the top of the source tree, without the preload
 * (the examples set it up themselves), with MEMSHIM_LIB, B (the build)
 * and PY (Debian's python3, which has python3-pytest) in the
 * environment. Returns the exit status; out gets stdout and stderr. */
static int run(const char *cmd, char *out, size_t n)
{
	static char full[16384];
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	int k = snprintf(full, sizeof(full),
			 "cd '%s' && env -u MEMSHIM_STORE_ID -u LD_PRELOAD -u MAKEFLAGS -u MAKELEVEL "
			 "MEMSHIM_LIB='%s/libmemshim.so' B='%s' PY=%s sh -c '%s' 2>&1",
			 src(), build(), build(), py, cmd);
	cr_assert(k > 0 && (size_t)k < sizeof(full));
	return t_popen(full, out, n);
}

#define HAS(out, s) cr_assert_not_null(strstr((out), (s)), "no \"%s\" in:\n%s", (s), (out))

static char out[1 << 16];

/* The quota refuses the write that does not fit, whole, where tmpfs
 * would take every byte the machine has: quota_demo on core's calls... */
Test(examples, quota_demo)
{
	int st = run("MEMSHIM_QUOTA=8M $B/examples/quota_demo", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	HAS(out, "quota 8.0 MiB");
	HAS(out, "wrote 7.0 MiB in 1 MiB writes; the next one failed: No space left on device\n");
	HAS(out, "file size after the refusal: 7.0 MiB (nothing of the refused write was stored)\n");
	HAS(out, "another process of the tree sees /mem/demo.bin: yes, same size\n");
	HAS(out, "1 refused (largest 1.0 MiB)\n");
	HAS(out, "consistency check: ledger == sum of charges <= quota\n");
}

/* ... and `make demo` on real programs, on the built-in defaults, through
 * memshim-run: its summary names the refused write, and the chart is
 * written. */
Test(examples, demo_sh)
{
	int st = run("rm -f $B/memshim-demo.svg && make -s demo B=$B", out, sizeof(out));
	HAS(out, "memshim: !!! 1 WRITE REFUSED (largest 1.0 MiB asked; quota 256.0 MiB) !!!\n");
	HAS(out, "memshim:   refused: dd (pid ");
	char svg[PATH_MAX + 32];
	snprintf(svg, sizeof(svg), "%s/memshim-demo.svg", build());
	cr_assert_eq(access(svg, R_OK), 0, "no chart %s", svg);
	cr_assert_eq(st, 0, "%s", out);
	HAS(out, "hello from demo.sh (read by python)\n");
	HAS(out, "dd exited with status 1:\n   dd: error writing '/mem/demo/big': No space left on device\n");
	HAS(out, "\nmax_bytes: 268435456\n");
	HAS(out, "\nrefused: 1\nlargest_refused: 1048576\n");
	HAS(out, "\nconsistent: yes\n");
	HAS(out, "== after rm -r: 0 used\n");
}

/* make check of examples/cproject, built and tested in the store: it
 * passes with room, and with too little room a test reports ENOSPC and
 * the suite fails as a suite does. */
Test(examples, make_check_of_a_c_project)
{
	static char before[4096];
	cr_assert_eq(run("find examples/cproject | LC_ALL=C sort", before, sizeof(before)), 0);
	int st = run("sh examples/make-check.sh", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	const char *want_first =
		"== make check with a 64 MiB quota\n"
		"PASS: test_roundtrip\nPASS: test_bigfile\n2 passed, 0 failed\n"
		"librle.a\nrle.o\ntest_bigfile\ntest_bigfile.log\ntest_roundtrip\ntest_roundtrip.log\n";
	cr_assert(strncmp(out, want_first, strlen(want_first)) == 0, "%s", out);
	HAS(out, "refused: 0\nstatus 0\n== make check with a 4 MiB quota\n"
		 "PASS: test_roundtrip\nFAIL: test_bigfile\n/mem/tmp/bigfile.");
	HAS(out, ": write failed after ");
	HAS(out, " bytes: No space left on device\n1 passed, 1 failed\n");
	cr_assert_null(strstr(strstr(out, "with a 4 MiB quota"), "refused: 0\n"), "%s", out);
	HAS(out, "status 2\n");
	/* Nothing of it was written to the source tree. */
	cr_assert_eq(run("find examples/cproject | LC_ALL=C sort", out, sizeof(out)), 0);
	cr_assert_str_eq(out, before);
}

/* CTest: every test preloads the library through its ENVIRONMENT and
 * sees a 16 MiB store of its own; the runaway writer is refused. */
Test(examples, ctest)
{
	int st = run("sh examples/ctest.sh", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	HAS(out, "Test #1: fits_in_the_store ................   Passed");
	HAS(out, "Test #2: runaway_writer_refused ...........   Passed");
	HAS(out, "100% tests passed, 0 tests failed out of 2\n");
}

/* The plugin re-executes the session under the preload: the suite's own
 * assertions check tmp_path, TMPDIR, statvfs and ENOSPC; the summary shows
 * the store's ledger with the refused write. */
Test(examples, pytest_plugin_reexecutes_the_session)
{
	int st = run("MEMSHIM_QUOTA=16M PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=python "
		     "$PY -m pytest -p pytest_memshim -p no:cacheprovider examples/pytest",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	HAS(out, "examples/pytest/test_store.py ....");
	HAS(out, " memshim store ");
	HAS(out, "\nmax_bytes: 16777216\n");
	HAS(out, "\nrefused: 1\nlargest_refused: 1048576\n");
	HAS(out, "\nconsistent: yes\n");
	HAS(out, "memshim: 1 write(s) refused by the quota (largest 1048576 bytes)\n");
	HAS(out, " 4 passed in ");
}

/* The same from Debian's pytest-3 script: the session is started again
 * as the script, not as python3 -m pytest. */
Test(examples, pytest_plugin_from_the_pytest_script)
{
	int st = run("MEMSHIM_QUOTA=16M PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=python "
		     "pytest-3 -p pytest_memshim -p no:cacheprovider examples/pytest",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	HAS(out, "\nlibrary: ");
	HAS(out, "\nmax_bytes: 16777216\n");
	HAS(out, " 4 passed in ");
}

/* No library, or a library that did not load in the new session: one
 * clear line and pytest's usage error (4), never a loop of re-executions. */
Test(examples, pytest_plugin_without_a_library)
{
	int st = run("MEMSHIM_LIB=/nonexistent/libmemshim.so PYTHONDONTWRITEBYTECODE=1 "
		     "PYTHONPATH=python $PY -m pytest -p pytest_memshim -p no:cacheprovider "
		     "examples/pytest", out, sizeof(out));
	cr_assert_eq(st, 4, "%s", out);
	cr_assert_str_eq(out, "ERROR: pytest_memshim: libmemshim.so not found (looked at "
			      "/nonexistent/libmemshim.so); set MEMSHIM_LIB to its path\n\n");
	st = run("MEMSHIM_PYTEST_REEXEC=1 PYTHONDONTWRITEBYTECODE=1 LD_PRELOAD= "
		 "PYTHONPATH=python $PY -m pytest -p pytest_memshim -p no:cacheprovider "
		 "examples/pytest", out, sizeof(out));
	cr_assert_eq(st, 4, "%s", out);
	HAS(out, "ERROR: pytest_memshim: the session was started again with LD_PRELOAD= "
		 "but the library is not loaded\n");
}

/* Already under the preload (memshim-run, or LD_PRELOAD by hand): the
 * session stays where it is, in the tree's store. */
Test(examples, pytest_plugin_under_the_preload_already)
{
	int st = run("LD_PRELOAD=$MEMSHIM_LIB MEMSHIM_QUOTA=16M PYTHONDONTWRITEBYTECODE=1 "
		     "PYTHONPATH=python sh -c \"echo outer store: \\$(\\$B/memshim-stat | head -n 1); "
		     "\\$PY -m pytest -p pytest_memshim -p no:cacheprovider examples/pytest\"",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	char *outer = strstr(out, "outer store: store: ");
	cr_assert_not_null(outer, "%s", out);
	char line[128];
	cr_assert_eq(sscanf(outer + 13, "%127[^\n]", line), 1);
	strcat(line, "\n");
	HAS(strstr(out, " memshim store "), line);
	HAS(out, " 4 passed in ");
}

/* SQLite in the store from two programs; a transaction bigger than the
 * store fails with SQLite's "disk is full" and is rolled back. */
Test(examples, sqlite)
{
	int st = run("sh examples/sqlite.sh", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "python: rows 1001\npython: database or disk is full\n"
			      "1001|501501\nok\napp.db\n");
}

/* numpy.memmap in modes w+ (four worker processes filling one mapping),
 * r+, r and c; an array bigger than the store refused whole. */
Test(examples, numpy_memmap)
{
	int st = run("sh examples/numpy_memmap.sh", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "w+: workers wrote, parent sees sum 34359607296 expected 34359607296\n"
			      "r+: file size 2097152 first value -1.0\n"
			      "r: write refused: assignment destination is read-only\n"
			      "c: array has 42.0 file still has 2.0\n"
			      "16 MiB array: ENOSPC file size 0\n");
}

/* The CI job: a suite that swallows a refused write still fails the
 * build (memshim-run --fail-on-refusal). */
Test(examples, ci_job_fails_on_refusal)
{
	char runner[PATH_MAX + 32];
	snprintf(runner, sizeof(runner), "%s/memshim-run", build());
	cr_assert_eq(access(runner, X_OK), 0, "%s: not built (make builds it)", runner);
	const char *job = "cd \"$(mktemp -d)\" && MEMSHIM_RUN=$B/memshim-run QUOTA=4M "
			  "sh $OLDPWD/examples/ci-job.sh sh -c ";
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s\"head -c 1048576 /dev/zero > /mem/a\"; "
		 "echo \"status $? report $(test -s memshim-report.json && echo kept)\"", job);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	HAS(out, "status 0 report kept\n");
	snprintf(cmd, sizeof(cmd), "%s\"head -c 8388608 /dev/zero > /mem/a || true\"; "
		 "echo \"status $? report $(test -s memshim-report.json && echo kept)\"", job);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	HAS(out, "status 3 report kept\n");
}

/* A project's test run in place over its own checkout (memshim-run
 * --lower): examples/cproject's `make check` builds into build/ and passes,
 * the summary lists what it made, and every file of the checkout hashes the
 * same afterwards (the script checks, and so does this test). */
Test(examples, checkout_untouched_make_check)
{
	static char before[4096], after[4096];
	cr_assert_eq(run("find examples/cproject | LC_ALL=C sort", before, sizeof(before)), 0);
	int st = run("MEMSHIM_RUN=$B/memshim-run sh examples/checkout-untouched.sh", out,
		     sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	HAS(out, "== make check over ");
	HAS(out, "PASS: test_roundtrip\nPASS: test_bigfile\n2 passed, 0 failed\n");
	HAS(out, "examples/cproject: 7 created, 0 modified, 0 deleted;");
	HAS(out, "examples/cproject/build/test_bigfile.log\n");
	HAS(out, "== checkout untouched: the same 6 files, fingerprint ");
	cr_assert_eq(run("find examples/cproject | LC_ALL=C sort", after, sizeof(after)), 0);
	cr_assert_str_eq(after, before);
}

/* A real project: memshim's own sources, copied out, built with its own
 * Makefile in place over the copy (gcc, as, ar, ld, make's dependency
 * checks) and two of its Criterion suites run from the build the store
 * holds; the copy is byte-identical afterwards. */
Test(examples, checkout_untouched_memshim_builds_itself, .timeout = 600)
{
	int st = run("T=$(mktemp -d /tmp/memshim-selfbuild-XXXXXX) && "
		     "tar -cf - Makefile core shim keeper tools tests bench | tar -C $T -xf - && "
		     "env -u BXFI_MAP MEMSHIM_RUN=$B/memshim-run sh examples/checkout-untouched.sh $T "
		     "sh -c \"make -j2 B=build all build/tests/test_config build/tests/test_ns >/dev/null && "
		     "build/tests/test_config && build/tests/test_ns\"; s=$?; rm -rf $T; exit $s",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	HAS(out, "== checkout untouched: the same ");
	HAS(out, " 0 modified, 0 deleted;");
	const char *t = strstr(out, "[====] Synthesis: Tested: ");
	cr_assert_not_null(t, "%s", out);
	cr_assert_null(strstr(out, "Tested: 0 "), "a suite found no tests:\n%s", out);
	cr_assert_null(strstr(out, "Failing: 1"), "%s", out);
	HAS(t + 1, "[====] Synthesis: Tested: ");
}
