/* End-to-end: bash and dash redirections into store files. Each scenario
 * is a function of tests/e2e/shell_cases.sh, run by both shells under the
 * preload as one process tree. bash's echo/printf builtins write through
 * the stdout FILE* (glibc-internal writes), dash's through the write
 * symbol; external commands inherit the redirected fd across exec. */
#include "e2e/e2e.h"

static void run_case(const char *shell, const char *name, const char *env, const char *want)
{
	char script[512];
	snprintf(script, sizeof(script), "%s $E2E/shell_cases.sh %s", shell, name);
	E2E_EXPECT(env, script, want);
}

/* One Test per shell and case. */
#define CASE(name, env, want)                                                      \
	Test(e2e_bash, name) { run_case("bash", #name, env, want); }               \
	Test(e2e_dash, name) { run_case("dash", #name, env, want); }

CASE(truncate, "", "two\n")
CASE(append, "", "one\ntwo\nthree\n")
CASE(stderr_to_stdout, "", "out\nerr\nls-error\n")
CASE(stderr_only, "", "out\nfile: err\n")
CASE(exec_fd3, "", "a\nb1\nc\na\nb1\nc\nd\n")
CASE(exec_stdout, "", "outside\ninside\n42\n")
CASE(builtins, "", "e\nx-5\na\nb\nc\n")
CASE(stdout_restored, "", "b\nd\na\nc\n")
CASE(group_order, "", "a\nb\nc\nd\ne\n")
CASE(input_redirect, "", "<x>\n<y>\n<z>\n3\nfirst=x\nxy\n")
CASE(heredoc, "", "line1\nexpanded\n$v\n18\n")
CASE(heredoc_tmpdir_in_store, "", "100001\n0\n")
CASE(noclobber, "", "refused\nc\n")
CASE(subshell_and_pipe, "", "SUB\nSHELL\npiped\n")
CASE(cd_relative, "", "rel\n/mem/d/e\nrel\ne\nf\n")

/* The quota on builtin output: the refused write stores nothing, and the
 * store is usable afterwards. */
Test(e2e_bash, quota_printf)
{
	run_case("bash", "quota_printf", "MEMSHIM_QUOTA=64K",
		 "status=1\nwrite error: No space left on device\nat most the quota\nwhole blocks\nsmall\n");
}

Test(e2e_dash, quota_printf)
{
	run_case("dash", "quota_printf", "MEMSHIM_QUOTA=64K", "status=1\nI/O error\nat most the quota\nwhole blocks\nsmall\n");
}

/* 1000 lines of 101 bytes: the ones that fit are stored whole, the rest
 * are refused, and the file never exceeds the quota. */
Test(e2e_bash, quota_echo_loop)
{
	run_case("bash", "quota_echo_loop", "MEMSHIM_QUOTA=64K",
		 "write error: No space left on device\nat most the quota\nwhole lines\n");
}

Test(e2e_dash, quota_echo_loop)
{
	run_case("dash", "quota_echo_loop", "MEMSHIM_QUOTA=64K", "I/O error\nat most the quota\nwhole lines\n");
}

CASE(exec_read_write, "", "abXYef\n")
CASE(loop_append, "", "1\n2\n3\n012\n4 lines\n")
CASE(scripts_in_store, "", "ran sourced\nran by-sh\nran by-path\n")
