/* End-to-end: starting programs carries the store along (issue 4, items 1,
 * 2 and 6). Each Test is one process tree under the preload, started in a
 * fresh real scratch directory (so that a lost virtual cwd cannot write
 * into the source tree), running one case of tests/e2e/exec_cases.sh or
 * tests/e2e/exec_cases.py, or tests/helpers/exec_launch directly. The
 * children always read or write store files that the parent then checks,
 * so a child that lost the shim (or the store) fails: /mem does not exist
 * on the real filesystem. */
#include <stdlib.h>

#include "e2e/e2e.h"

/* The helper programs, as absolute paths (the tree runs in a scratch
 * directory). */
static const char *helper(const char *name)
{
	static char paths[2][PATH_MAX];
	char rel[PATH_MAX];
	int i = strcmp(name, "exec_launch") == 0 ? 0 : 1;
	snprintf(rel, sizeof(rel), "%s/tests/helpers/%s", t_build(), name);
	if (!realpath(rel, paths[i]))
		snprintf(paths[i], sizeof(paths[i]), "%s", rel);
	return paths[i];
}

/* Runs cmd as one process tree in a scratch directory; returns its status
 * and output. */
static int run(const char *env, const char *cmd, char *out, size_t n)
{
	char full_env[3 * PATH_MAX + 256], script[2048];
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	char build[PATH_MAX];
	if (!realpath(b ? b : "build", build))
		snprintf(build, sizeof(build), "%s", b ? b : "build");
	snprintf(full_env, sizeof(full_env), "MEMSHIM_TEST_BUILD=%s XL=%s XC=%s %s", build,
		 helper("exec_launch"), helper("exec_check"), env);
	snprintf(script, sizeof(script),
		 "d=$(mktemp -d) && cd \"$d\" || exit 99; %s; s=$?; cd /; rm -rf \"$d\"; exit $s", cmd);
	return e2e_sh(full_env, script, out, n);
}

static void expect(const char *env, const char *cmd, const char *want)
{
	static char out[65536];
	/* This process is not under the preload: a real /mem appearing means
	 * some program of the tree went around the store. */
	int had_real = access("/mem", F_OK) == 0;
	int st = run(env, cmd, out, sizeof(out));
	if (!had_real && access("/mem", F_OK) == 0) {
		if (system("rm -rf /mem")) {
		}
		cr_assert_fail("%s\na real /mem was created: the store was bypassed; output:\n%s", cmd,
			       out);
	}
	cr_assert_eq(st, 0, "%s\nexit status %d, output:\n%s", cmd, st, out);
	cr_assert_str_eq(out, want, "%s\noutput:\n%s\nwanted:\n%s", cmd, out, want);
}

static void sh_case(const char *name, const char *arg, const char *env, const char *want)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "sh $E2E/exec_cases.sh %s %s", name, arg);
	expect(env, cmd, want);
}

static void py_case(const char *name, const char *env, const char *want)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "$PY $E2E/exec_cases.py %s", name);
	expect(env, cmd, want);
}

/* ---- every way to start a program (exec_launch via METHOD) -------------------------- */

/* The child reads /mem/in and writes /mem/out.METHOD; the parent prints the
 * child's status and what it wrote. */
#define VIA(method)                                                                \
	Test(e2e_exec_launch, method)                                              \
	{                                                                          \
		expect("", "$XL via " #method,                                     \
		       "status=0\n" #method ":payload for " #method "\n");         \
	}

VIA(execve)
VIA(execv)
VIA(execvp)
VIA(execvpe)
VIA(execl)
VIA(execle)
VIA(execlp)
VIA(fexecve)
VIA(execveat)
VIA(execveat_dirfd)
VIA(posix_spawn)
VIA(posix_spawnp)
VIA(system)
VIA(popen_r)
VIA(popen_w)
VIA(vfork)

/* posix_spawn(p) of cat with file actions that open /mem/in as fd 0 and
 * /mem/out.X as fd 1: the child's output lands in the store. */
Test(e2e_exec_launch, posix_spawn_addopen)
{
	expect("", "$XL via spawn_addopen", "status=0\npayload for spawn_addopen\n");
}

Test(e2e_exec_launch, posix_spawnp_addopen)
{
	expect("", "$XL via spawnp_addopen", "status=0\npayload for spawnp_addopen\n");
}

/* ---- callers that drop LD_PRELOAD and MEMSHIM_* ------------------------------------- */

#define VIA_ENV(method)                                                            \
	Test(e2e_exec_env, method)                                                 \
	{                                                                          \
		expect("", "$XL via " #method,                                     \
		       "status=0\n" #method ":payload for " #method "\n");         \
	}

VIA_ENV(execve_tinyenv)
VIA_ENV(execle_tinyenv)
VIA_ENV(execvpe_tinyenv)
VIA_ENV(spawn_tinyenv)
VIA_ENV(execv_clearenv)

Test(e2e_exec_env, env_i)
{
	sh_case("env_i", "", "", "status=0\nenv-i:data\ndata\nenv-i:data\nmore\n");
}

Test(e2e_exec_env, env_i_path_search)
{
	sh_case("env_i_path_search", "", "", "data\ndata\n");
}

Test(e2e_exec_env, python_env_empty)
{
	py_case("env_empty", "",
		"0 b'data\\n' b'' 'child\\n'\n0 'tiny-env:data\\n'\n0 'data\\n'\n");
}

/* ---- Python's subprocess and os.posix_spawn ------------------------------------------ */

Test(e2e_exec_python, close_fds_true)
{
	py_case("close_fds_true", "", "0 'data\\nsecond\\n'\n0 'helper:data\\n'\n'still mine\\n'\n");
}

Test(e2e_exec_python, close_fds_false_inherited_store_fd)
{
	py_case("close_fds_false", "", "0 'parent\\nchild\\ndata\\nparent again\\n'\n");
}

/* stdout=open('/mem/x', 'w'): the child's fd 1 is the store file (dup2'd
 * in a vfork child); its size is what stat says. */
Test(e2e_exec_python, stdout_store_file)
{
	py_case("stdout_file", "",
		"0 'data\\n' 5\n0 'data\\nappended\\nexternal\\n' 23\n0 b'DATA\\n'\n");
}

/* The same child writing past a 64K quota: refused with ENOSPC, the file
 * holds at most the quota and stat agrees with what it holds. */
Test(e2e_exec_python, stdout_store_file_quota)
{
	py_case("stdout_file_quota", "MEMSHIM_QUOTA=64K", "1 True\nsize True True read True\n");
}

Test(e2e_exec_python, os_posix_spawn_file_actions)
{
	py_case("posix_spawn", "", "0 'data\\n'\n0 'data\\n'\n0 'DATA\\n'\n");
}

Test(e2e_exec_python, program_in_store)
{
	py_case("store_program", "",
		"0 'by-path:data\\n'\n0 'path-search:data\\n'\nPermissionError EACCES\n");
}

/* subprocess's cwd= chdirs in the vfork child: the child starts there, the
 * parent stays where it was. */
Test(e2e_exec_python, cwd_argument)
{
	py_case("cwd_arg", "",
		"0 '/mem/x\\ncontent\\n' 'made\\n'\nTrue\n0 '/mem/x\\n'\n0 '/mem/x/y\\n' /mem/x\n");
}

/* os.system and os.popen after os.chdir into the store. */
Test(e2e_exec_python, system_popen_after_chdir)
{
	py_case("system_popen_cwd", "",
		"/mem/x\ncontent\n0\n'/mem/x\\ncontent\\n' None\nNone 'content\\nwritten\\n'\n");
}

/* Python starts children from a vfork child: the list of store fds goes
 * with the exec unless the child moved a store fd itself. */
Test(e2e_exec_python, vfork_child_lists_its_store_fds)
{
	py_case("vfork_fds_list", "", "0 ['MEMSHIM_FDS=FG5']\n0 [] True\n");
}

Test(e2e_exec_python, forty_children_append)
{
	py_case("many_children", "", "{0} 200 200 True\n");
}

/* ---- programs stored in the store ----------------------------------------------------- */

Test(e2e_exec_store, coreutils_binaries)
{
	sh_case("store_binary", "", "", "true=0\nfalse=1\nfrom the store\n");
}

Test(e2e_exec_store, helper_by_path)
{
	sh_case("store_helper_by_path", "", "", "status=0\nby-path:data\n");
}

Test(e2e_exec_store, helper_through_shell_path)
{
	sh_case("store_helper_through_path", "", "", "status=0\nsh-path-search:data\n/mem/bin/xl\n");
}

Test(e2e_exec_store, helper_through_execvp_path)
{
	sh_case("store_helper_env_path", "", "", "status=0\nenv-path-search:data\n");
}

/* A store program started by each method (PATH=/mem/bin:... for the
 * searching ones). */
#define STORE_VIA(method)                                                          \
	Test(e2e_exec_store, via_##method)                                         \
	{                                                                          \
		sh_case("store_via", #method, "",                                  \
			"status=0\n" #method ":payload for " #method "\n");        \
	}

STORE_VIA(execv)
STORE_VIA(execvp)
STORE_VIA(execlp)
STORE_VIA(posix_spawn)
STORE_VIA(posix_spawnp)
STORE_VIA(fexecve)
STORE_VIA(execveat)
STORE_VIA(execveat_dirfd)
STORE_VIA(vfork)
STORE_VIA(system)

Test(e2e_exec_store, shebang_script)
{
	sh_case("store_script", "", "",
		"script ran with 2 args: one two\ndata\nstatus=7\n"
		"script ran with 1 args: three\ndata\nstatus=7\n");
}

/* "$0" of a stored script is the path it was run by, as on a real
 * filesystem (not /dev/fd/N). */
Test(e2e_exec_store, shebang_script_dollar0)
{
	sh_case("store_script_dollar0", "", "", "/mem/bin/s\n./s\n");
}

Test(e2e_exec_store, shebang_python_script)
{
	sh_case("store_script_python", "", "", "py ['a', 'b'] data\nstatus=0\n");
}

/* No x permission: "Permission denied" from the shell (126), EACCES from
 * execv and posix_spawn; a directory is refused too. */
Test(e2e_exec_store, no_x_permission_is_eacces)
{
	sh_case("noexec_shell", "", "",
		"status=126\n1\nexecv: EACCES\nposix_spawn: EACCES\nexecv: EACCES\n");
}

/* ---- state across exec ------------------------------------------------------------------- */

Test(e2e_exec_state, store_fd1)
{
	sh_case("fd1", "", "", "status=0\nhello\n6\nhello\nmore\n11\n");
}

Test(e2e_exec_state, store_fd0)
{
	sh_case("fd0", "", "", "3\nl1\nl2\nl3\nl1\n");
}

Test(e2e_exec_state, store_fd2)
{
	sh_case("fd2", "", "", "status=2\n1\npy-err\n");
}

Test(e2e_exec_state, store_fd3)
{
	sh_case("fd3", "", "", "a\nx\ny\nz\nw\n");
}

Test(e2e_exec_state, shared_offset_in_order)
{
	sh_case("shared_offset", "", "", "a\nb\nc\n1 2 3 4 5 6 \n12\n");
}

Test(e2e_exec_state, directory_fd_inherited)
{
	sh_case("dirfd", "", "", "isdir=1\nread=inside\nentries=2\nstatus=0\nmade\nmade\nname\n");
}

/* Passed on by a shell that inherited it: the list names the fd's own
 * memfd, not the shell's placeholder (fd 3 was a plain memfd there). */
Test(e2e_exec_state, directory_fd_inherited_through_two_execs)
{
	sh_case("dirfd_twice", "", "", "isdir=1\nread=inside\nentries=2\nstatus=0\nmade\nmade\nname\n");
}

Test(e2e_exec_state, cwd_shell_pwd)
{
	sh_case("cwd_sh_pwd", "", "", "/mem/x\n/mem/x\n/mem/x\n");
}

Test(e2e_exec_state, cwd_bin_pwd)
{
	sh_case("cwd_bin_pwd", "", "", "/mem/x\n/mem/x\n/mem/x\n");
}

Test(e2e_exec_state, cwd_relative_paths)
{
	sh_case("cwd_relative", "", "", "content\ncontent\ncontent\ncontent\nmade\ndeeper\nf\ng\ny\n");
}

Test(e2e_exec_state, cwd_python_getcwd)
{
	sh_case("cwd_python", "", "", "/mem/x\ncontent\n['f', 'y']\n/mem/x/y\n");
}

/* A chdir into the store in a vfork child moves the child only. */
Test(e2e_exec_state, cwd_vfork_child_chdir)
{
	expect("", "mkdir /mem/x && $XL vfork_chdir /mem/x", "/mem/x\nstatus=0\nparent cwd unchanged\n");
}

/* An exec'd program whose stdout is a store file, 64K quota. */
Test(e2e_exec_state, quota_head_stdout)
{
	sh_case("quota_head", "", "MEMSHIM_QUOTA=64K",
		"status=1\n1\nat most the quota\nmost of the quota used\n");
}

Test(e2e_exec_state, quota_printf_from_first_write)
{
	sh_case("quota_printf", "", "MEMSHIM_QUOTA=64K",
		"err=ENOSPC\naccepted bytes all stored\nat most the quota\nmost of the quota used\n");
}

Test(e2e_exec_state, quota_spawn_addopen_stdout)
{
	sh_case("quota_spawn_addopen", "", "MEMSHIM_QUOTA=64K",
		"err=ENOSPC\nstatus=0\nat most the quota\nmost of the quota used\n");
}

/* head's stdout is a store fd the parent opened and moved to 1 in the
 * child by HOW. */
#define QUOTA_CHILD(how)                                                           \
	Test(e2e_exec_state, quota_stdout_by_##how)                                \
	{                                                                          \
		expect("MEMSHIM_QUOTA=64K", "$XL quota_child " #how " /mem/c",     \
		       "head: error writing 'standard output': No space left on "  \
		       "device\nstatus=1\nstored at most the quota\nstat agrees\n"); \
	}

QUOTA_CHILD(fork_dup2)
QUOTA_CHILD(vfork_dup2)
QUOTA_CHILD(spawn_adddup2)
QUOTA_CHILD(system)

/* ---- real tools (item 6) ------------------------------------------------------------------ */

/* 8 targets, 10 lines each appended to /mem/log by sh and /bin/echo. */
Test(e2e_exec_tools, make_j2_appends_to_one_log)
{
	sh_case("make_j2", "", "",
		"status=0\n80\n80\n0\n5360\nMakefile\nsrc\nt1\nt2\nt3\nt4\nt5\nt6\nt7\nt8\nsrc\n");
}

Test(e2e_exec_tools, make_sees_timestamps)
{
	sh_case("make_up_to_date", "", "", "make: Nothing to be done for 'all'.\n7\n");
}

Test(e2e_exec_tools, gcc_into_store_and_run)
{
	sh_case("gcc", "", "", "gcc=0\nhello world\nstatus=0\nexecutable\n177ELF\n");
}

Test(e2e_exec_tools, gcc_objects_in_store_cwd)
{
	sh_case("gcc_cwd_objects", "", "", "gcc=0\nlib.c\nlib.o\nmain.c\nmain.o\nprog\n42\n");
}

Test(e2e_exec_tools, find_exec_plus)
{
	sh_case("find_exec_plus", "", "",
		"four\none\nthree\ntwo\n 4 /mem/t/a\n 4 /mem/t/b\n 5 /mem/t/sub/deeper/d\n"
		" 6 /mem/t/sub/c\n19 total\n");
}

Test(e2e_exec_tools, find_exec_semicolon)
{
	sh_case("find_exec_semicolon", "", "", "four\none\nthree\ntwo\none\ntwo\n");
}

Test(e2e_exec_tools, find_execdir)
{
	sh_case("find_execdir", "", "", "/mem/t/sub\nfour\n");
}

Test(e2e_exec_tools, xargs_p4)
{
	sh_case("xargs_p4", "", "",
		"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 \n"
		"11 22 33 44 55 66 77 88 99 1010 1111 1212 1313 1414 1515 1616 1717 1818 1919 "
		"2020 2121 2222 2323 2424 \n48\n");
}

Test(e2e_exec_tools, background_writes_after_parent_exit)
{
	sh_case("background_late", "", "", "sh exited\nlate\n");
}

/* The shell that started the tree exits first; the background process,
 * alone, still reads, writes and starts programs. (The test reads the
 * output until the last writer of the pipe has gone.) */
Test(e2e_exec_tools, background_outlives_the_tree)
{
	sh_case("background_outlives_tree", "", "", "parent done\nearly\nlate\nearly\nlate\n");
}

/* dd killed (SIGKILL) in the middle of 100 MB with a 120M quota: the store
 * is consistent, ls and rm work, the same write fits again at once, and
 * after rm df is back near zero (within a second). */
Test(e2e_exec_tools, killed_writer_leaves_store_consistent)
{
	sh_case("killed_writer", "", "MEMSHIM_QUOTA=120M",
		"dd=137\n1\nkilled mid-write\nconsistent files=1 used_nodes=1\nremoved\n"
		"rewrite=0\n104857600\nused near zero\nconsistent files=0 used_nodes=0\n");
}

/* A program run from the store sees its own store path in /proc/self/exe,
 * as the kernel shows a program run from tmpfs its path (the kernel's link
 * names the memfd): readlink and realpath of it, its bytes through it, and
 * a Criterion test program run from the store, which reads its tests from
 * that file (it found none before; BXFI_MAP would make it a worker of the
 * Criterion running this test). */
Test(e2e_exec_proc, proc_self_exe_of_a_store_program)
{
	static char out[8192];
	char cmd[2 * PATH_MAX + 512], build[PATH_MAX];
	cr_assert_not_null(realpath(t_build(), build));
	snprintf(cmd, sizeof(cmd), "%s%s%s",
		 "mkdir -p /mem/bin && cp /bin/readlink /mem/bin/rl && /mem/bin/rl /proc/self/exe && "
		 "/mem/bin/rl -f /proc/self/exe && cd /mem/bin && ./rl /proc/self/exe && "
		 "cp /bin/cat /mem/bin/cat && /mem/bin/cat /proc/self/exe | cmp - /mem/bin/cat && "
		 "echo same-bytes && cp /usr/bin/realpath /mem/bin/rp && /mem/bin/rp /proc/self/exe && "
		 "{ /mem/bin/rl /proc/$$/exe | grep -c ^/mem || :; } && cp ", build,
		 "/tests/test_config /mem/bin/t && env -u BXFI_MAP /mem/bin/t 2>&1 | tail -1 | "
		 "grep -v \"Tested: 0 \" | grep -c \"Failing: 0 | Crashing: 0\"");
	int st = run("", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "/mem/bin/rl\n/mem/bin/rl\n/mem/bin/rl\n"
			      "same-bytes\n/mem/bin/rp\n"
			      "0\n1\n");
}
