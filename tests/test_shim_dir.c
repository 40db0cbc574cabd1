/* Directories and the current directory under the preload: opendir/readdir
 * and friends, scandir, getdents64, directory fds, chdir/fchdir/getcwd, and
 * real programs (ls, find, sh) listing and entering the store. Each scenario
 * is one process tree with a fresh store, run by t_sh; C behaviour is
 * checked by tests/helpers/dirprobe.c, which prints FAIL lines. */
#include "common.h"

static char probe[512];
static char shm[256]; /* a real tmpfs directory of this test process */

static void setup(void)
{
	snprintf(probe, sizeof(probe), "%s/tests/helpers/dirprobe", t_build());
	snprintf(shm, sizeof(shm), "/dev/shm/ms-dir-test-%d", (int)getpid());
}

static void teardown(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", shm);
	cr_assert_eq(system(cmd), 0);
}

/* A small tree under root: files, a subdirectory, a symlink. */
#define TREE(root)                                                                 \
	"mkdir -p " root "/d/sub && echo hi > " root "/d/file && touch " root           \
	"/d/b && ln -s file " root "/d/lnk && mkdir " root "/d/sub/deeper && touch " root \
	"/d/sub/x; "

/* Runs script with the preload; returns its status and fills out. */
static int run(const char *script, char *out, size_t n)
{
	return t_sh("", script, out, n);
}

/* Runs `dirprobe args` in a tree made by TREE(/mem) and asserts it passed. */
static void probe_ok(const char *args, char *out, size_t n)
{
	char script[16384];
	snprintf(script, sizeof(script), TREE("/mem") "%s %s", probe, args);
	int st = run(script, out, n);
	cr_assert_eq(st, 0, "dirprobe %s: status %d:\n%s", args, st, out);
	cr_assert_null(strstr(out, "FAIL"), "dirprobe %s:\n%s", args, out);
}

TestSuite(shim_dir, .init = setup, .fini = teardown, .timeout = 60);

Test(shim_dir, readdir_gives_dot_dotdot_then_insertion_order)
{
	char out[8192];
	probe_ok("list /mem/d", out, sizeof(out));
	cr_assert_str_eq(out, ". dir ino-ok\n"
			      ".. dir ino-ok\n"
			      "sub dir ino-ok\n"
			      "file reg ino-ok\n"
			      "b reg ino-ok\n"
			      "lnk lnk ino-ok\n");
}

Test(shim_dir, readdir_of_the_prefix_root)
{
	char out[8192];
	probe_ok("list /mem", out, sizeof(out));
	/* ".." of the store's root is the root itself, as on a mount root. */
	cr_assert_str_eq(out, ". dir ino-ok\n.. dir ino-root\nd dir ino-ok\n");
}

Test(shim_dir, telldir_seekdir_rewinddir_round_trip)
{
	char out[8192];
	probe_ok("seek /mem/d", out, sizeof(out));
	cr_assert_str_eq(out, "6 entries\n");
}

Test(shim_dir, scandir_with_filter_and_alphasort)
{
	char out[8192];
	probe_ok("scan /mem/d", out, sizeof(out));
	/* scandir: alphasort; scandirat (from the parent's dirfd): reversed. */
	cr_assert_str_eq(out, "b\nfile\nlnk\nsub\nat sub\nat lnk\nat file\nat b\n");
}

Test(shim_dir, scandir_of_a_missing_directory_fails_with_enoent)
{
	char out[8192];
	char script[16384];
	snprintf(script, sizeof(script), "%s sorted /mem/none", probe);
	int st = run(script, out, sizeof(out));
	cr_assert_eq(st, 1, "%s", out);
	cr_assert_str_eq(out, "scandir: No such file or directory\n");
}

Test(shim_dir, getdents64_on_dirfd_of_opendir)
{
	char out[8192];
	probe_ok("getdents /mem/d", out, sizeof(out));
	cr_assert_str_eq(out, ". dir\n.. dir\nsub dir\nfile reg\nb reg\nlnk lnk\n6 records\n");
}

Test(shim_dir, readdir_r_and_readdir64_r_agree_with_readdir)
{
	char out[8192];
	probe_ok("readdir_r /mem/d", out, sizeof(out));
	cr_assert_str_eq(out, "6 entries\n");
}

Test(shim_dir, fdopendir_uses_the_fd_and_closedir_closes_it)
{
	char out[8192];
	probe_ok("fdopen /mem/d", out, sizeof(out));
	cr_assert_str_eq(out, "6 entries\n");
}

Test(shim_dir, dirfd_works_with_at_calls_fstat_and_fsync)
{
	char out[8192];
	probe_ok("at /mem/d file", out, sizeof(out));
	cr_assert_str_eq(out, "content hi\n");
}

Test(shim_dir, errors_as_the_kernel_gives_them)
{
	char out[8192];
	probe_ok("errors /mem/d", out, sizeof(out));
	cr_assert_str_eq(out, "errors ok\n");
}

Test(shim_dir, readdir_of_a_large_directory_sees_every_entry_once)
{
	char out[8192], script[16384];
	snprintf(script, sizeof(script),
		 "mkdir /mem/big && cd /mem/big && i=0; while [ $i -lt 600 ]; do "
		 ": > f$i; i=$((i+1)); done; %s list /mem/big | sort | uniq -d | wc -l; "
		 "%s list /mem/big | wc -l; %s getdents /mem/big | tail -n 1",
		 probe, probe, probe);
	int st = run(script, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "0\n602\n602 records\n");
}

/* One stream read by 4 threads at once with readdir_r: each of 2,000
 * entries goes to exactly one of them (dirprobe threads, 20 rounds); a
 * single-threaded process skips the stream's lock, a threaded one must
 * not. */
Test(shim_dir, threads_sharing_a_stream_each_get_distinct_entries)
{
	char out[8192], script[16384];
	snprintf(script, sizeof(script),
		 "mkdir /mem/big && cd /mem/big && i=0; while [ $i -lt 2000 ]; do "
		 ": > f$i; i=$((i+1)); done; %s threads /mem/big 2000",
		 probe);
	int st = run(script, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "threads: every entry once\n");
}

Test(shim_dir, getcwd_contract_in_a_store_directory)
{
	char out[8192];
	probe_ok("cwd /mem/d/sub", out, sizeof(out));
	cr_assert_str_eq(out, "getcwd /mem/d/sub\n");
}

Test(shim_dir, fchdir_between_a_real_and_a_store_directory)
{
	char out[8192], args[1024];
	snprintf(args, sizeof(args), "fchdir %s /mem/d", shm);
	char script[16384];
	snprintf(script, sizeof(script),
		 TREE("/mem") "mkdir -p %s && touch %s/in-real /mem/d/in-mem && %s %s", shm, shm,
		 probe, args);
	int st = run(script, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "fchdir ok\n");
}

Test(shim_dir, removed_current_directory)
{
	char out[8192];
	probe_ok("removed /mem/gone", out, sizeof(out));
	cr_assert_str_eq(out, "removed ok\n");
}

Test(shim_dir, ls_la_lists_a_store_directory)
{
	char out[8192];
	int st = run(TREE("/mem") "ls -la /mem/d | awk \"NR > 1 {print substr(\\$1, 1, 1), \\$9}\"",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "d .\nd ..\n- b\n- file\nl lnk\nd sub\n");
}

Test(shim_dir, ls_i_matches_stat_inode_numbers)
{
	char out[8192];
	int st = run(TREE("/mem") "cd /tmp && for f in b file lnk sub; do "
			"a=$(ls -id /mem/d/$f | cut -d\" \" -f1); "
			"b=$(ls -i /mem/d | grep \" $f\\$\" | cut -d\" \" -f1); "
			"c=$(stat -c %i /mem/d/$f); "
			"[ \"$a\" = \"$c\" ] && [ \"$b\" = \"$c\" ] && echo $f same; done",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "b same\nfile same\nlnk same\nsub same\n");
}

Test(shim_dir, find_type_f_walks_the_store)
{
	char out[8192];
	int st = run(TREE("/mem") "find /mem -type f | sort; find /mem -type d | sort", out,
		     sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "/mem/d/b\n/mem/d/file\n/mem/d/sub/x\n"
			      "/mem\n/mem/d\n/mem/d/sub\n/mem/d/sub/deeper\n");
}

Test(shim_dir, shell_glob_expands_store_names)
{
	char out[8192];
	int st = run(TREE("/mem") "echo /mem/d/*; cd /mem/d && echo *", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "/mem/d/b /mem/d/file /mem/d/lnk /mem/d/sub\nb file lnk sub\n");
}

Test(shim_dir, cd_into_the_store_then_pwd_and_relative_paths)
{
	char out[8192];
	int st = run(TREE("/mem") "cd /mem/d && pwd && cat file && mkdir new && echo x > new/y "
			"&& cd new && pwd && cat y && cd .. && echo *",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "/mem/d\nhi\n/mem/d/new\nx\nb file lnk new sub\n");
}

Test(shim_dir, a_child_program_inherits_the_store_cwd)
{
	char out[8192];
	/* sh exports PWD; ls and /bin/pwd start in the store directory. */
	int st = run(TREE("/mem") "cd /mem/d && ls && /bin/pwd && cd sub && ls", out,
		     sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "b\nfile\nlnk\nsub\n/mem/d\ndeeper\nx\n");
}

Test(shim_dir, chdir_then_exec_inherits_the_store_cwd)
{
	char out[8192], args[1024];
	snprintf(args, sizeof(args), "exec /mem/d/sub /bin/sh -c \"/bin/pwd; ls\"");
	probe_ok(args, out, sizeof(out));
	cr_assert_str_eq(out, "/mem/d/sub\ndeeper\nx\n");
}

Test(shim_dir, cd_out_of_the_store_goes_back_to_real_paths)
{
	char out[8192], script[16384];
	snprintf(script, sizeof(script),
		 TREE("/mem") "mkdir -p %s/r && touch %s/r/real-file && cd /mem/d && cd %s/r && "
			      "ls && /bin/pwd && cd /mem/d/sub && cd %s && ls",
		 shm, shm, shm, shm);
	int st = run(script, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	char want[1024];
	snprintf(want, sizeof(want), "real-file\n%s/r\nr\n", shm);
	cr_assert_str_eq(out, want);
}

Test(shim_dir, cd_dotdot_from_the_prefix_leaves_the_store)
{
	char out[8192];
	int st = run("mkdir -p /mem/d && cd /mem/d && cd ../.. && pwd && /bin/pwd", out,
		     sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "/\n/\n");
}

Test(shim_dir, cd_into_a_missing_or_file_path_fails)
{
	char out[8192];
	int st = run(TREE("/mem") "cd /mem/d; cd /mem/nope 2>/dev/null || echo enoent; "
			"cd /mem/d/file 2>/dev/null || echo enotdir; /bin/pwd",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "enoent\nenotdir\n/mem/d\n");
}

/* The same tree, made by the same commands, lists the same on the store and
 * on tmpfs: names, types and order (sorted), "." and ".." included. */
Test(shim_dir, listing_matches_a_tmpfs_directory)
{
	char script[16384], mem[8192], real[8192];
	const char *make = "mkdir -p %s/x/a/b && touch %s/x/f1 %s/x/Z %s/x/a/f2 && "
			   "ln -s f1 %s/x/l1 && ln -s /nowhere %s/x/dangling && "
			   "mkdir %s/x/e && rm %s/x/Z && touch %s/x/z && %s sorted %s/x && "
			   "%s sorted %s/x/a";
	snprintf(script, sizeof(script), make, "/mem", "/mem", "/mem", "/mem", "/mem", "/mem",
		 "/mem", "/mem", "/mem", probe, "/mem", probe, "/mem");
	int st = run(script, mem, sizeof(mem));
	cr_assert_eq(st, 0, "store: %s", mem);
	snprintf(script, sizeof(script), make, shm, shm, shm, shm, shm, shm, shm, shm, shm,
		 probe, shm, probe, shm);
	st = run(script, real, sizeof(real));
	cr_assert_eq(st, 0, "tmpfs: %s", real);
	cr_assert_str_eq(mem, real);
	cr_assert_not_null(strstr(mem, "dangling lnk ino-ok\n"), "%s", mem);
}

/* A real directory's readdir is untouched: the same names, inode numbers,
 * types and offsets with and without the preload. */
Test(shim_dir, real_directory_listing_is_untouched)
{
	char with[65536], without[65536], cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s raw /etc", probe);
	int st = run(cmd, with, sizeof(with));
	cr_assert_eq(st, 0, "%s", with);
	snprintf(cmd, sizeof(cmd), "%s raw /etc 2>&1", probe);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t k = fread(without, 1, sizeof(without) - 1, p);
	without[k] = 0;
	cr_assert_eq(pclose(p), 0);
	cr_assert_str_eq(with, without);
	cr_assert_not_null(strstr(with, "passwd "));
}

Test(shim_dir, ls_of_a_real_directory_is_untouched)
{
	char with[65536], without[65536];
	int st = run("ls -la --time-style=+ /etc", with, sizeof(with));
	cr_assert_eq(st, 0, "%s", with);
	FILE *p = popen("ls -la --time-style=+ /etc 2>&1", "r");
	cr_assert_not_null(p);
	size_t k = fread(without, 1, sizeof(without) - 1, p);
	without[k] = 0;
	cr_assert_eq(pclose(p), 0);
	cr_assert_str_eq(with, without);
}
