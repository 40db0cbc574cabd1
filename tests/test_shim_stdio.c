/* Streams and glibc's composite calls on store paths (shim/stdio.c,
 * shim/composite.c): each test runs a scenario of tests/helpers/stdio_prog
 * under the preload, in a fresh store, and checks what it printed. */
#include "common.h"

#define Q64 "MEMSHIM_QUOTA=64K"

static char out[65536];

/* Runs `stdio_prog <args>` (and whatever shell text follows) under the
 * preload with extra environment env; returns the exit status. */
static int prog(const char *env, const char *args)
{
	char script[8192];
	snprintf(script, sizeof(script), "%s/tests/helpers/stdio_prog %s", t_build(), args);
	return t_sh(env, script, out, sizeof(out));
}

static void assert_ok(int st)
{
	cr_assert_eq(st, 0, "exit %d:\n%s", st, out);
	cr_assert_null(strstr(out, "FAIL"), "%s", out);
}

/* ---- fopen ---------------------------------------------------------------------- */

Test(stdio, fopen_w_then_r_reads_back_and_w_truncates)
{
	assert_ok(prog("", "mode_w_r"));
}

Test(stdio, fopen_a_and_a_plus_append_at_the_end)
{
	assert_ok(prog("", "mode_a"));
}

Test(stdio, fopen_r_plus_and_w_plus_read_and_write)
{
	assert_ok(prog("", "mode_rplus_wplus"));
}

Test(stdio, fopen_x_e_errors_and_umask_as_glibc)
{
	assert_ok(prog("", "mode_x_e_missing"));
}

Test(stdio, fileno_answers_the_real_store_fd)
{
	assert_ok(prog("", "fileno"));
}

Test(stdio, fdopen_on_a_store_fd_writes_through_it)
{
	assert_ok(prog("", "fdopen"));
}

Test(stdio, a_real_file_reads_the_same_under_the_preload)
{
	char want[4096] = "";
	FILE *f = fopen("/etc/hostname", "r");
	cr_assert_not_null(f);
	size_t n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = 0;
	fclose(f);
	assert_ok(prog("", "cat /etc/hostname"));
	cr_assert_str_eq(out, want);
}

/* ---- the quota through stdio ------------------------------------------------------- */

Test(stdio, fflush_past_the_quota_fails_with_enospc_and_keeps_whole_records)
{
	assert_ok(prog(Q64, "fill; stat -c size=%s /mem/fill"));
	cr_assert_not_null(strstr(out, "refused=ENOSPC"), "%s", out);
	/* 64 KiB less one node (1 KiB) holds 15 pages: 61 records. */
	cr_assert_not_null(strstr(out, "records=61 size=61000\n"), "%s", out);
	cr_assert_not_null(strstr(out, "size=61000\n"), "%s", out);
}

Test(stdio, quota_errno_edquot_is_what_stdio_reports)
{
	assert_ok(prog(Q64 " MEMSHIM_QUOTA_ERRNO=EDQUOT", "fill"));
	cr_assert_not_null(strstr(out, "refused=EDQUOT"), "%s", out);
}

Test(stdio, fclose_reports_a_refused_final_flush_and_stores_nothing_of_it)
{
	assert_ok(prog(Q64, "fclose_fail"));
	cr_assert_not_null(strstr(out, "fclose=-1 errno=ENOSPC\nsize=60000\n"), "%s", out);
}

Test(stdio, dprintf_writes_a_store_fd_and_is_refused_whole)
{
	assert_ok(prog(Q64, "dprintf"));
	cr_assert_not_null(strstr(out, "big=-1 errno=ENOSPC"), "%s", out);
}

/* ---- standard streams --------------------------------------------------------------- */

Test(stdio, stdout_dup2ed_onto_a_store_file_is_quota_checked)
{
	assert_ok(prog(Q64, "redirect 30 && wc -c < /mem/out"));
	cr_assert_not_null(strstr(out, "printed=30 err=- fileno=1\n30000\n"), "%s", out);
	assert_ok(prog(Q64, "redirect 100"));
	cr_assert_not_null(strstr(out, "err=ENOSPC fileno=1"), "%s", out);
}

Test(stdio, printf_of_a_program_redirected_by_sh_is_quota_checked)
{
	assert_ok(prog(Q64, "print 20 > /mem/out && wc -c < /mem/out"));
	cr_assert_str_eq(out, "err=-\n20000\n");
	assert_ok(prog(Q64, "print 100 > /mem/out; wc -c < /mem/out"));
	long size = -1;
	cr_assert_eq(sscanf(out, "err=ENOSPC\n%ld\n", &size), 1, "%s", out);
	cr_assert(size > 0 && size < 65536, "%s", out);
}

Test(stdio, stderr_redirected_by_sh_reaches_the_store_file)
{
	assert_ok(prog("", "stderr_print 2>/mem/err && cat /mem/err"));
	cr_assert_str_eq(out, "err line 1\nerr line 2\n");
}

Test(stdio, stderr_on_a_store_file_stays_unbuffered_and_switches_back)
{
	assert_ok(prog("", "stderr_redirect"));
	cr_assert_str_eq(out, "back on the real stderr\n");
}

Test(stdio, freopen_of_stdout_onto_a_store_file)
{
	assert_ok(prog("", "freopen"));
}

/* ---- composite calls ----------------------------------------------------------------- */

Test(stdio, mkstemp_creates_a_private_store_file)
{
	assert_ok(prog("", "mkstemp"));
}

Test(stdio, mkdtemp_and_mktemp_in_the_store)
{
	assert_ok(prog("", "mkdtemp"));
}

Test(stdio, realpath_resolves_dot_dot_after_the_directory)
{
	assert_ok(prog("", "realpath_dotdot"));
}

Test(stdio, realpath_follows_store_symlinks_and_leaves_the_store)
{
	assert_ok(prog("", "realpath_symlink"));
}

Test(stdio, realpath_errors_are_the_kernels)
{
	assert_ok(prog("", "realpath_errors"));
}

Test(stdio, glob_lists_store_matches_sorted_and_marked)
{
	assert_ok(prog("", "glob"));
	cr_assert_str_eq(out, "/mem/g/a.txt\n/mem/g/b.txt\n/mem/g/d.txt/\n");
}

Test(stdio, nftw_walks_a_store_tree_depth_first)
{
	assert_ok(prog("", "nftw"));
	cr_assert_not_null(strstr(out, "F=3 DP=3 SL=1 D=0 order=1\n"), "%s", out);
	/* the root is reported last, at level 0, with its base name */
	cr_assert_not_null(strstr(out, "5 0 w /mem/w\nF="), "%s", out);
	cr_assert_not_null(strstr(out, "0 3 f3 /mem/w/d1/d2/f3\n"), "%s", out);
}

Test(stdio, ftw_follows_symlinks_and_reports_files_and_dirs)
{
	assert_ok(prog("", "ftw"));
	/* f1, f2 and the symlink to f1; w and d1 */
	cr_assert_str_eq(out, "F=3 D=2\n");
}

Test(stdio, tmpfile_is_a_store_file_when_tmp_is_a_prefix)
{
	/* Only the preloaded child sees /tmp as the store. The program runs
	 * from a copy outside /tmp: a build tree under /tmp is hidden then. */
	char copy[128], cmd[8400];
	snprintf(copy, sizeof(copy), "/dev/shm/ms-stdio-prog-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "cp %s/tests/helpers/stdio_prog %s", t_build(), copy);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s tmpfile", copy);
	int st = t_sh(Q64 " MEMSHIM_PREFIX=/tmp", cmd, out, sizeof(out));
	unlink(copy);
	assert_ok(st);
	cr_assert_str_eq(out, "refused=ENOSPC\n");
}
