/* MEMSHIM_LOWER: the store over a real tree (core/lower.c).
 *
 * The differential: tests/helpers/lowerops makes a lower tree, then runs one
 * sequence of calls (reads, copy-ups, deletions, new names, renames) on a
 * tmpfs copy of it without the preload and in a store lying over the tree
 * itself; the outputs must be the same line for line, and the lower tree
 * must be byte-identical afterwards (contents, modes, sizes, times). The
 * randomized differential does the same with tests/helpers/lowerfuzz: a
 * random lower tree and random calls for each of a range of seeds. The
 * other tests: the quota charges a copy-up and refuses it whole, a program
 * of the lower tree runs, a prefix that is its own lower directory, and the
 * configuration's errors. */
#include "e2e/e2e.h"

/* Every file's content hash, mode, size and mtime, every link's target. */
static void fingerprint(const char *dir, char *out, size_t n)
{
	char cmd[PATH_MAX + 256];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && find . -printf '%%p %%y %%m %%s %%T@ %%l\\n' | sort && "
		 "find . -type f -exec md5sum {} + | sort",
		 dir);
	cr_assert_eq(t_popen(cmd, out, n), 0, "fingerprint of %s failed", dir);
}

/* tests/helpers/<name> of the build */
static const char *helper_of(const char *name)
{
	static char h[PATH_MAX];
	snprintf(h, sizeof(h), "%s/tests/helpers/%s", t_build(), name);
	cr_assert_eq(access(h, X_OK), 0, "%s: not built (make check builds it)", h);
	return h;
}

static const char *helper(void) { return helper_of("lowerops"); }

/* A lower tree in a new directory of tmpl, made by a shell script run in
 * it. */
static char *make_lower_by(char *tmpl, const char *script)
{
	char cmd[PATH_MAX * 2];
	char *dir = mkdtemp(tmpl);
	cr_assert_not_null(dir);
	snprintf(cmd, sizeof(cmd), "cd %s && %s", dir, script);
	cr_assert_eq(system(cmd), 0, "%s failed", script);
	return dir;
}

/* lowerops' tree */
static char *make_lower(char *tmpl)
{
	char script[PATH_MAX + 16];
	snprintf(script, sizeof(script), "%s make \"$PWD\"", helper());
	return make_lower_by(tmpl, script);
}

Test(lower, differential_with_tmpfs_and_lower_untouched)
{
	static char want[1 << 18], got[1 << 18], before[1 << 16], after[1 << 16];
	char ltmpl[] = "/tmp/memshim-lower-XXXXXX", ctmpl[] = "/dev/shm/memshim-lowercopy-XXXXXX";
	char cmd[PATH_MAX * 3], env[PATH_MAX + 64];
	char *lower = make_lower(ltmpl);
	fingerprint(lower, before, sizeof(before));

	/* tmpfs: a copy of the lower tree, no preload */
	char *copy = mkdtemp(ctmpl);
	cr_assert_not_null(copy);
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s && env -u LD_PRELOAD %s run %s 2>&1", lower, copy,
		 helper(), copy);
	cr_assert_eq(t_popen(cmd, want, sizeof(want)), 0, "lowerops on tmpfs failed:\n%s", want);
	e2e_rm_tree(copy);
	e2e_strip_dir(want, copy);

	/* the store over the lower tree; stderr names each EXDEV */
	snprintf(env, sizeof(env), "MEMSHIM_LOWER=%s", lower);
	snprintf(cmd, sizeof(cmd),
		 "%s run /mem 2>/tmp/memshim-lowerops.$$; echo exdev-list; sort /tmp/memshim-lowerops.$$; "
		 "rm -f /tmp/memshim-lowerops.$$",
		 helper());
	int st = e2e_sh(env, cmd, got, sizeof(got));
	cr_assert_eq(st, 0, "lowerops under the preload: %d\n%s", st, got);
	char *ex = strstr(got, "exdev-list\n");
	cr_assert_not_null(ex, "no end:\n%s", got);
	cr_assert_str_eq(ex, "exdev-list\nexdev build\nexdev keep\n",
			 "only the two lower directories are refused (EXDEV), not the store's own");
	*ex = 0;
	e2e_strip_dir(got, "/mem");

	static char report[1 << 16];
	int line;
	int ndiff = e2e_compare(want, got, &line, report, sizeof(report));
	cr_assert_eq(ndiff, 0, "%d of %d lines differ:\n%s", ndiff, line, report);
	cr_assert_gt(line, 80, "the sequence ran whole (%d lines)", line);

	fingerprint(lower, after, sizeof(after));
	cr_assert_str_eq(after, before, "the lower tree changed");
	e2e_rm_tree(lower);
}

/* How the calls run as nobody: a root store whose program switches
 * (README: a root store's processes may switch to any uid). */
#define AS_NOBODY "setpriv --reuid=65534 --regid=65534 --clear-groups "

/* One seed of lowerfuzz (see its top for what it leaves out on purpose):
 * the tree made, the calls run on a tmpfs copy and in the store over it,
 * the lines compared, the tree unchanged; with `nobody`, the tree made and
 * the calls made by uid 65534, so that permissions and the clearing of
 * set-id bits count. Returns the lines compared. */
static int fuzz_one(unsigned seed, unsigned ops, int nobody)
{
	static char want[1 << 20], got[1 << 20], before[1 << 16], after[1 << 16], report[1 << 14];
	char ltmpl[] = "/tmp/memshim-lowerfuzz-XXXXXX", ctmpl[] = "/dev/shm/memshim-lowerfuzzcopy-XXXXXX";
	char cmd[PATH_MAX * 3], env[PATH_MAX + 64];
	const char *h = helper_of("lowerfuzz");
	char *lower = mkdtemp(ltmpl), *copy = mkdtemp(ctmpl);
	const char *as = nobody ? AS_NOBODY : "", *who = nobody ? " as nobody" : "";
	cr_assert(lower && copy);
	cr_assert(!nobody || (chown(lower, 65534, 65534) == 0 && chown(copy, 65534, 65534) == 0));
	snprintf(cmd, sizeof(cmd), "%s%s make %s %u", as, h, lower, seed);
	cr_assert_eq(system(cmd), 0, "seed %u%s: lowerfuzz make failed", seed, who);
	fingerprint(lower, before, sizeof(before));

	snprintf(cmd, sizeof(cmd), "%scp -a %s/. %s && env -u LD_PRELOAD %s%s run %s %u %u 2>&1", as,
		 lower, copy, as, h, copy, seed, ops);
	cr_assert_eq(t_popen(cmd, want, sizeof(want)), 0, "seed %u%s: lowerfuzz on tmpfs failed:\n%s",
		     seed, who, want);
	e2e_rm_tree(copy);
	e2e_strip_dir(want, copy);

	snprintf(env, sizeof(env), "MEMSHIM_LOWER=%s", lower);
	snprintf(cmd, sizeof(cmd), "%s%s run /mem %u %u 2>&1", as, h, seed, ops);
	int st = e2e_sh(env, cmd, got, sizeof(got));
	cr_assert_eq(st, 0, "seed %u%s: lowerfuzz under the preload: %d\n%s", seed, who, st, got);
	e2e_strip_dir(got, "/mem");

	int lines, ndiff = e2e_compare(want, got, &lines, report, sizeof(report));
	cr_assert_eq(ndiff, 0,
		     "seed %u%s, %u calls: %d of %d lines differ (again: lowerfuzz make DIR %u, "
		     "then run on a copy and with MEMSHIM_LOWER=DIR run /mem %u %u):\n%s",
		     seed, who, ops, ndiff, lines, seed, seed, ops, report);
	cr_assert_gt(lines, (int)ops, "seed %u%s: the calls ran whole (%d lines)", seed, who, lines);
	fingerprint(lower, after, sizeof(after));
	cr_assert_str_eq(after, before, "seed %u%s: the lower tree changed", seed, who);
	e2e_rm_tree(lower);
	return lines;
}

/* 40 seeds of 500 calls, and the first 10 of them again as nobody when
 * the test runs as root: some 3 s here. MEMSHIM_LOWERFUZZ="FIRST COUNT
 * CALLS" runs other seeds, more of them or longer, to look for new
 * differences (seeds 1 to 599 of 1000 calls, and 1 to 150 as nobody,
 * showed none left). */
Test(lower, randomized_differential_with_tmpfs, .timeout = 600)
{
	unsigned first = 1, count = 40, ops = 500;
	const char *e = getenv("MEMSHIM_LOWERFUZZ");
	if (e)
		cr_assert_eq(sscanf(e, "%u %u %u", &first, &count, &ops), 3,
			     "MEMSHIM_LOWERFUZZ=\"%s\": want \"FIRST COUNT CALLS\", e.g. \"100 50 1000\"", e);
	long lines = 0;
	unsigned users = geteuid() == 0 && system("setpriv --version > /dev/null 2>&1") == 0 ? count / 4 : 0;
	for (unsigned seed = first; seed < first + count; seed++)
		lines += fuzz_one(seed, ops, 0);
	for (unsigned seed = first; seed < first + users; seed++)
		lines += fuzz_one(seed, ops, 1);
	cr_log_info("lowerfuzz: %u seeds x %u calls, %u of them again as nobody, %ld lines compared",
		    count, ops, users, lines);
}

/* A copy-up is charged before anything is copied and refused whole: the
 * program sees ENOSPC, the file stays the lower one, readable. */
Test(lower, copy_up_is_charged_and_refused_whole)
{
	static char out[8192];
	char ltmpl[] = "/tmp/memshim-lower-XXXXXX", env[2 * PATH_MAX + 128];
	char *lower = make_lower_by(ltmpl, "head -c 3000000 /dev/urandom > big && echo small > small");
	snprintf(env, sizeof(env), "L=%s MEMSHIM_LOWER=%s MEMSHIM_QUOTA=1M", lower, lower);
	int st = e2e_sh(env,
			"cmp /mem/big $L/big && echo read-ok; "
			"{ echo x >> /mem/big; } 2>/dev/null || echo append-refused; "
			"cmp /mem/big $L/big && echo still-lower; "
			"echo more >> /mem/small && cat /mem/small; "
			"echo used=$(df -B1 --output=used /mem | tail -1)",
			out, sizeof(out));
	(void)st;
	char want[256];
	cr_assert_not_null(strstr(out, "read-ok\nappend-refused\nstill-lower\nsmall\nmore\n"),
			   "reads fall through, a copy-up past the quota is refused:\n%s", out);
	/* the small file's copy: a page, its node and memfd's cost, well
	 * under the 3 MB a charged read would take */
	const char *u = strstr(out, "used=");
	long used = u ? atol(u + 5) : 0;
	cr_assert(used > 4096 && used < 200000, "used after one small copy-up: %ld\n%s", used, out);
	snprintf(want, sizeof(want), "%s/small", lower);
	FILE *f = fopen(want, "r");
	cr_assert_not_null(f);
	char line[64] = "";
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	cr_assert_str_eq(line, "small\n", "the lower file was written");
	e2e_rm_tree(lower);
}

/* A copy-up takes a new memfd from the pool, which may be a small removed
 * file's not yet emptied (core/data.c, ms_pool_give): the copy is the
 * lower file alone, holes and all, and charged as such. Files of 16 KiB
 * made and removed until the pool holds such memfds among the others,
 * then 70 sparse lower files copied up by an append (6 bytes, a hole to
 * 1 MiB, 5 bytes more): no byte of the removed files shows in a hole
 * (NULs only), and each holds two pages, as on tmpfs. */
Test(lower, a_copy_up_into_a_removed_files_memfd_is_the_lower_file)
{
	static char out[8192];
	char ltmpl[] = "/tmp/memshim-lower-XXXXXX", env[2 * PATH_MAX + 64];
	char *lower = make_lower_by(
		ltmpl, "for i in $(seq 10 79); do echo small > s$i && truncate -s 1M s$i; done");
	snprintf(env, sizeof(env), "L=%s MEMSHIM_LOWER=%s", lower, lower);
	int st = e2e_sh(env,
			"i=0; while [ $i -lt 100 ]; do printf '%16384s' x > /mem/churn; rm /mem/churn; "
			"i=$((i+1)); done; for i in $(seq 10 79); do echo more >> /mem/s$i; done; "
			"wc -c < /mem/s10; cat /mem/s[0-9]* | tr -d '[:cntrl:]' | wc -c; "
			"du -kc /mem/s[0-9]* | tail -n 1; wc -c < $L/s10",
			out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	cr_assert_str_eq(out, "1048581\n630\n560\ttotal\n1048576\n");
	e2e_rm_tree(lower);
}

/* The prefix is its own lower directory: a checkout seen at its own path,
 * programs of it run, the real files never change. */
Test(lower, prefix_over_its_own_directory)
{
	static char out[8192], before[1 << 14], after[1 << 14];
	char ltmpl[] = "/tmp/memshim-lower-XXXXXX", env[2 * PATH_MAX + 64];
	char *lower = make_lower(ltmpl);
	fingerprint(lower, before, sizeof(before));
	snprintf(env, sizeof(env), "L=%s MEMSHIM_PREFIX=%s MEMSHIM_LOWER=%s", lower, lower, lower);
	int st = e2e_sh(env,
			"cd $L && ./script.sh && sh script.sh && echo changed > README && cat README && "
			"rm -r src && ls && mkdir src && ls src && sed -i s/lower/upper/ script.sh && ./script.sh",
			out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	cr_assert_str_eq(out,
			 "lower script\nlower script\nchanged\n"
			 "README\nbuild\ndangling\ndoc\nkeep\nmain-link\nscript.sh\nsparse\n"
			 "upper script\n");
	fingerprint(lower, after, sizeof(after));
	cr_assert_str_eq(after, before, "the lower tree changed");
	e2e_rm_tree(lower);
}

static void bad_env(const char *env, const char *needle)
{
	static char out[4096];
	int st = e2e_sh(env, "echo ran", out, sizeof(out));
	cr_assert_neq(st, 0, "%s: ran anyway:\n%s", env, out);
	cr_assert_null(strstr(out, "ran\n"), "%s: main ran:\n%s", env, out);
	cr_assert_not_null(strstr(out, needle), "%s: message:\n%s", env, out);
	cr_assert_not_null(strstr(out, "MEMSHIM_LOWER="), "%s: names the variable:\n%s", env, out);
}

Test(lower, malformed_configuration_stops_before_main)
{
	bad_env("MEMSHIM_LOWER=relative/dir", "not an absolute path");
	bad_env("MEMSHIM_LOWER=/nonexistent/memshim-lower", "is not a directory");
	bad_env("MEMSHIM_LOWER=/etc/passwd", "is not a directory");
	bad_env("MEMSHIM_LOWER=/tmp:/tmp", "more directories than MEMSHIM_PREFIX has paths");
	bad_env("MEMSHIM_LOWER=/mem/x", "inside the store's prefix");
	bad_env("MEMSHIM_LOWER=/tmp/../etc", "'.' or '..'");
}

/* memshim-run --lower: the report names every change, MEMSHIM_SAVE writes
 * the changes alone (deletions in .memshim-deleted), the tree stays. */
Test(lower, report_and_save_list_the_changes)
{
	static char out[16384], before[1 << 14], after[1 << 14];
	char ltmpl[] = "/tmp/memshim-lower-XXXXXX", stmpl[] = "/tmp/memshim-lsave-XXXXXX";
	char cmd[4 * PATH_MAX], build[PATH_MAX];
	cr_assert_not_null(realpath(t_build(), build));
	char *lower = make_lower(ltmpl);
	char *save = mkdtemp(stmpl);
	cr_assert_not_null(save);
	fingerprint(lower, before, sizeof(before));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && ASAN_OPTIONS=detect_leaks=0 %s/memshim-run --lower . --report %s/r.json --save %s/out -- sh -c '"
		 "echo changed > README; mkdir -p new/sub; echo n > new/sub/f; rm -r src; "
		 "rm dangling; ln -sf README main-link; echo z >> keep/deep/er/leaf; "
		 "cat doc/guide.txt script.sh > /dev/null' 2>&1 && "
		 "python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[\"changes\"]; "
		 "[print(k, c[k][\"count\"], *sorted(c[k][\"paths\"])) for k in (\"created\",\"modified\",\"deleted\")]' "
		 "%s/r.json && cd %s/out && find . | sort && sort .memshim-deleted && cat README keep/deep/er/leaf "
		 "&& readlink main-link",
		 lower, build, save, save, save, save);
	cr_assert_eq(t_popen(cmd, out, sizeof(out)), 0, "%s", out);
	char want[8192];
	snprintf(want, sizeof(want),
		 "created 3 %1$s/new/ %1$s/new/sub/ %1$s/new/sub/f\n"
		 "modified 3 %1$s/README %1$s/keep/deep/er/leaf %1$s/main-link\n"
		 "deleted 2 %1$s/dangling %1$s/src/\n"
		 ".\n./.memshim-deleted\n./README\n./keep\n./keep/deep\n./keep/deep/er\n"
		 "./keep/deep/er/leaf\n./main-link\n./new\n./new/sub\n./new/sub/f\n"
		 "dangling\nsrc/\nchanged\na leaf\nz\nREADME\n",
		 lower);
	const char *json = strstr(out, "created ");
	cr_assert_not_null(json, "%s", out);
	cr_assert_str_eq(json, want);
	cr_assert_not_null(strstr(out, "memshim:   over "), "the summary names the changes:\n%s",
			   out);
	cr_assert_not_null(strstr(out, "memshim:     - "), "%s", out);
	fingerprint(lower, after, sizeof(after));
	cr_assert_str_eq(after, before, "the lower tree changed");
	e2e_rm_tree(lower);
	e2e_rm_tree(save);
}

/* git over a repository it must not write: status, a commit, gc (which
 * repacks and deletes loose objects), fsck, a checkout of the commit
 * before — all in the store, the repository byte-identical after. */
Test(lower, git_over_a_repository_it_never_writes)
{
	static char out[16384], before[1 << 15], after[1 << 15];
	char rtmpl[] = "/tmp/memshim-lowergit-XXXXXX", cmd[4 * PATH_MAX], build[PATH_MAX];
	cr_assert_eq(system("git --version > /dev/null 2>&1"), 0,
		     "git is not installed (make deps / .ci/run install it)");
	cr_assert_not_null(realpath(t_build(), build));
	char *repo = mkdtemp(rtmpl);
	cr_assert_not_null(repo);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && git init -q && git config user.email t@example.org && "
		 "git config user.name t && mkdir -p src && echo one > a.txt && echo code > src/m.c && "
		 "git add . && git commit -qm first && echo two >> a.txt && git commit -qam second",
		 repo);
	cr_assert_eq(system(cmd), 0);
	fingerprint(repo, before, sizeof(before));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && env -u GIT_DIR ASAN_OPTIONS=detect_leaks=0 %s/memshim-run --lower . -- "
		 "sh -c '"
		 "git status --short; echo three >> a.txt; git status --short; "
		 "git commit -qam third && git log --format=%%s; git gc -q && git fsck --no-dangling "
		 "&& echo fsck-ok; git checkout -q HEAD~1 && cat a.txt; git status --short; "
		 "rm -r src && git status --short; git checkout -q . && ls src' 2>/dev/null",
		 repo, build);
	cr_assert_eq(t_popen(cmd, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, " M a.txt\nthird\nsecond\nfirst\nfsck-ok\none\ntwo\n"
			      " D src/m.c\nm.c\n");
	fingerprint(repo, after, sizeof(after));
	cr_assert_str_eq(after, before, "the repository changed");
	e2e_rm_tree(repo);
}

/* An fd on a lower file that reaches other programs (with the list of
 * store fds, or without one: a vfork child's program) changes the store's
 * file, never the real one: fchmod and utime copy it up. */
Test(lower, an_inherited_lower_fd_never_writes_the_real_file)
{
	static char out[4096];
	char ltmpl[] = "/tmp/memshim-lower-XXXXXX", env[3 * PATH_MAX + 64];
	char *lower = make_lower(ltmpl);
	struct stat before, after;
	char readme[PATH_MAX + 16];
	snprintf(readme, sizeof(readme), "%s/README", lower);
	cr_assert_eq(stat(readme, &before), 0);
	snprintf(env, sizeof(env), "L=%s MEMSHIM_PREFIX=%s MEMSHIM_LOWER=%s", lower, lower, lower);
	int st = e2e_sh(env,
			"cd $L && exec 3< README && $PY -c \"import os; os.fchmod(3, 0o600)\" && "
			"stat -c %a README && env $PY -c \"import os; os.utime(3, (1, 1)); "
			"os.fchmod(3, 0o640)\" && stat -c \"%a %X\" README && "
			"sh -c \"$PY -c \\\"import os; os.fchmod(3, 0o444)\\\"\" && stat -c %a README",
			out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "600\n640 1\n444\n");
	cr_assert_eq(stat(readme, &after), 0);
	cr_assert_eq(after.st_mode, before.st_mode, "the real file's mode changed");
	cr_assert_eq(after.st_mtime, before.st_mtime, "the real file's times changed");
	cr_assert_eq(after.st_ctime, before.st_ctime, "the real file's inode changed");
	e2e_rm_tree(lower);
}
