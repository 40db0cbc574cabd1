/* MEMSHIM_FAIL: the program's calls on store files failed on purpose.
 * First the rules themselves (core/fault.c: globs, counts, sizes, short
 * writes, the seeded draw, records, the syntax), then programs under the
 * preload (tests/helpers/failprobe, examples/fail_demo): each rule kind on
 * a store file, repeatable by seed, logged, refused when malformed, and
 * never touching a real path. */
#include "common.h"
#include "fault.h"

/* ---- the rules ------------------------------------------------------------------- */

static void arm_spec(const char *spec)
{
	char what[200];
	int k = ms_fail_parse(spec, ms_parse_size, 1, what, sizeof(what));
	cr_assert_gt(k, 0, "%s: %s", spec, what);
}

static void fini(void) { ms_fault_clear(); }

/* What a call on `path` does under the armed rules: 0, -errno, or the
 * length a short write keeps (as a positive number). */
static long call(enum ms_fail_call c, const char *path, uint64_t end, size_t len)
{
	int rule = 0;
	int r = ms_fail_check(c, ms_fail_match(path), end, &len, &rule);
	return r == MS_FAIL_SHORT ? (long)len : r;
}

Test(rules, a_glob_without_a_slash_matches_the_name_one_with_the_whole_path, .fini = fini)
{
	arm_spec("open:*.log:1:EIO;open:/mem/d/*:1:EIO;open:[ab]?.txt:1:EIO;open:a\\*b:1:EIO");
	cr_assert_eq(ms_fail_match("/mem/x.log"), 1u << 0);
	cr_assert_eq(ms_fail_match("/mem/sub/x.log"), 1u << 0);
	cr_assert_eq(ms_fail_match("/mem/x.log.1"), 0);
	cr_assert_eq(ms_fail_match("/mem/d/x/y.txt"), 1u << 1, "'*' crosses '/'");
	cr_assert_eq(ms_fail_match("/mem/dd/x"), 0);
	cr_assert_eq(ms_fail_match("/mem/b1.txt"), 1u << 2);
	cr_assert_eq(ms_fail_match("/mem/c1.txt"), 0);
	cr_assert_eq(ms_fail_match("/mem/a*b"), 1u << 3);
	cr_assert_eq(ms_fail_match("/mem/axb"), 0);
	cr_assert_eq(ms_fail_match("/mem/d/a.log"), (1u << 0) | (1u << 1));
}

Test(rules, n_is_one_call_and_n_plus_every_call_from_it, .fini = fini)
{
	arm_spec("write:*:3:EIO;fsync:*:2+:EROFS");
	long want_w[] = {0, 0, -EIO, 0, 0}, want_s[] = {0, -EROFS, -EROFS, -EROFS};
	for (int i = 0; i < 5; i++)
		cr_assert_eq(call(MS_FAIL_WRITE, "/mem/f", 0, 10), want_w[i], "write %d", i + 1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(call(MS_FAIL_FSYNC, "/mem/f", 0, 0), want_s[i], "fsync %d", i + 1);
	cr_assert_eq(call(MS_FAIL_OPEN, "/mem/f", 0, 0), 0, "no rule for open");
}

Test(rules, a_size_rule_fires_for_writes_that_would_end_past_it, .fini = fini)
{
	arm_spec("write:*.db:>10K:ENOSPC");
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/a.db", 10240, 4096), 0, "ends at the size");
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/a.db", 10241, 4096), -ENOSPC);
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/a.db", 5, 5), 0);
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/a.txt", 1 << 20, 5), 0);
}

Test(rules, a_short_rule_halves_writes_of_two_bytes_or_more, .fini = fini)
{
	arm_spec("write:*:2:short");
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/s", 0, 1), 0, "not counted");
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/s", 0, 100), 0);
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/s", 0, 100), 50);
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/s", 0, 100), 0);
}

/* 200 draws of a probability rule as a string of '.' and 'X'. */
static void draws(const char *spec, char *out)
{
	arm_spec(spec);
	for (int i = 0; i < 200; i++)
		out[i] = call(MS_FAIL_WRITE, "/mem/p", 0, 10) ? 'X' : '.';
	out[200] = 0;
	ms_fault_clear();
}

Test(rules, the_same_seed_gives_the_same_failures_another_seed_others, .fini = fini)
{
	char a[201], b[201], c[201], d[201], all[201];
	draws("seed=42;write:*:25%:EIO", a);
	draws("seed=42;write:*:25%:EIO", b);
	draws("seed=43;write:*:25%:EIO", c);
	draws("write:*:25%:EIO;seed=42", d);
	draws("write:*:100%:EIO", all);
	cr_assert_str_eq(a, b);
	cr_assert_str_eq(a, d, "the seed's place in the spec does not matter");
	cr_assert_str_neq(a, c);
	int n = 0;
	for (int i = 0; i < 200; i++)
		n += a[i] == 'X';
	cr_assert(n > 25 && n < 75, "%d of 200 failed at 25%%: %s", n, a);
	cr_assert_eq(strspn(all, "X"), 200);
}

Test(rules, memshim_test_fault_does_not_count_memshim_fail_rules, .fini = fini)
{
	cr_assert_eq(ms_fault_arm("fstat", 1, EIO), 0);
	cr_assert(!ms_fail_any(), "a test rule alone makes no store call look its path up");
	ms_fault_clear();
	arm_spec("write:*:1+:EIO");
	cr_assert(ms_fail_any());
	cr_assert_eq(ms_fault_hit("write"), 0);
	cr_assert_eq(ms_fault_fired(NULL), 0);
	cr_assert_eq(ms_fault_arm("write", 1, EBADF), 0);
	cr_assert_eq(ms_fault_hit("write"), -EBADF, "one table, two kinds of rules");
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/f", 0, 10), -EIO);
}

Test(rules, each_rule_keeps_its_text_for_the_log_line, .fini = fini)
{
	arm_spec("fsync:*:1:EIO;write:*.log:3:EIO");
	cr_assert_str_eq(ms_fail_rule_text(1), "fsync:*:1:EIO");
	cr_assert_str_eq(ms_fail_rule_text(2), "write:*.log:3:EIO");
	cr_assert_str_eq(ms_fail_rule_text(3), "", "no third rule");
}

static void bad_spec(const char *spec, const char *want)
{
	char what[200];
	cr_assert_eq(ms_fail_parse(spec, ms_parse_size, 1, what, sizeof(what)), -EINVAL,
		     "%s accepted", spec);
	cr_assert_str_eq(what, want, "%s", spec);
	cr_assert_eq(ms_fault_armed, 0, "%s armed something", spec);
}

Test(rules, a_malformed_spec_is_refused_whole_naming_the_rule)
{
	bad_spec("write:*.log:3", "rule \"write:*.log:3\" is not call:glob:when:action");
	bad_spec("write:*.log:3:EIO;", "rule \"\" is not call:glob:when:action");
	bad_spec("read:*:1:EIO", "rule \"read:*:1:EIO\": the call is one of open, write, fsync, rename");
	bad_spec("write::1:EIO",
		 "rule \"write::1:EIO\": the glob is empty or longer than 127 characters");
	bad_spec("write:[ab:1:EIO", "rule \"write:[ab:1:EIO\": the glob has a '[' without ']', or a "
				    "'/' but does not start with one");
	bad_spec("write:mem/*:1:EIO", "rule \"write:mem/*:1:EIO\": the glob has a '[' without ']', or "
				      "a '/' but does not start with one");
	const char *when = "when is N (the N-th call, from 1), N+ (the N-th and every later one), "
			   ">SIZE or P%";
	char want[300];
	const char *whens[] = {"write:*:0:EIO", "write:*:x:EIO", "write:*::EIO", "write:*:+:EIO",
			       "write:*:1234567890:EIO"};
	for (size_t i = 0; i < sizeof(whens) / sizeof(whens[0]); i++) {
		snprintf(want, sizeof(want), "rule \"%s\": %s", whens[i], when);
		bad_spec(whens[i], want);
	}
	bad_spec("write:*:>0:ENOSPC",
		 "rule \"write:*:>0:ENOSPC\": \">SIZE\" needs a size above 0 such as >64K or >1M");
	bad_spec("write:*:>1Q:ENOSPC",
		 "rule \"write:*:>1Q:ENOSPC\": \">SIZE\" needs a size above 0 such as >64K or >1M");
	bad_spec("open:*:>1M:ENOSPC", "rule \"open:*:>1M:ENOSPC\": \">SIZE\" is for write rules only");
	const char *pct = "a probability is more than 0% and at most 100%, such as 10% or 0.5%";
	const char *pcts[] = {"write:*:0%:EIO", "write:*:101%:EIO", "write:*:1.1234567%:EIO",
			      "write:*:%:EIO", "write:*:x%:EIO"};
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		snprintf(want, sizeof(want), "rule \"%s\": %s", pcts[i], pct);
		bad_spec(pcts[i], want);
	}
	bad_spec("write:*:1:EBOGUS",
		 "rule \"write:*:1:EBOGUS\" does not end with an errno name such as EIO, or short");
	bad_spec("fsync:*:1:short", "rule \"fsync:*:1:short\": \"short\" is for write rules only");
	bad_spec("seed=x;write:*:1:EIO", "\"seed=x\": the seed is a whole number of at most 18 digits");
	bad_spec("seed=1;seed=2;write:*:1:EIO", "\"seed=2\": a second seed");
	bad_spec("seed=1", "a seed without a rule");
	bad_spec("write:*:1:EIO;write:*:2:EIO;write:*:3:EIO;write:*:4:EIO;write:*:5:EIO;"
		 "write:*:6:EIO;write:*:7:EIO;write:*:8:EIO;write:*:9:EIO",
		 "more than 8 rules");
}

Test(rules, accepted_forms, .fini = fini)
{
	char what[200];
	cr_assert_eq(ms_fail_parse("write:/mem/a:b/*.log:2+:eio;rename:*:0.5%:EXDEV;seed=9;"
				   "open:[!.]*:1:EACCES;write:*:>1MiB:short",
				   ms_parse_size, 1, what, sizeof(what)),
		     4, "%s", what);
	/* a mask holds the rules of every call whose glob matches */
	cr_assert_eq(ms_fail_match("/mem/a:b/c/x.log"), (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3),
		     "the glob may hold ':'");
	cr_assert_eq(ms_fail_match("/mem/.x"), (1u << 1) | (1u << 3), "[!.] is no '.'");
	cr_assert_eq(call(MS_FAIL_WRITE, "/mem/z", (1 << 20) + 1, 10), 5);
}

static const char *fake_env_value;
static const char *fake_get(const char *name)
{
	return strcmp(name, "MEMSHIM_FAIL") ? NULL : fake_env_value;
}

Test(rules, memshim_fail_is_checked_with_the_other_variables)
{
	struct ms_config c;
	char err[512];
	fake_env_value = "write:*.log:3:EIO";
	cr_assert_eq(ms_config_load(&c, fake_get, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.fail, "write:*.log:3:EIO");
	cr_assert_eq(ms_fault_armed, 0, "checking arms nothing");
	fake_env_value = "write:*.log:3:EIOO";
	cr_assert_eq(ms_config_load(&c, fake_get, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "MEMSHIM_FAIL=\"write:*.log:3:EIOO\": rule \"write:*.log:3:EIOO\" does "
			      "not end with an errno name such as EIO, or short; use e.g. "
			      "write:*.log:3:EIO;write:*.db:>1M:ENOSPC");
}

/* ---- programs under the preload ------------------------------------------------------ */

static char out[16384];

/* failprobe args under the preload with MEMSHIM_FAIL=spec (none when NULL)
 * and MEMSHIM_LOG=log, in a fresh store; `pre` runs first in the same
 * shell. Returns its output; it must exit 0. */
static const char *probe_log(const char *spec, const char *log, const char *pre, const char *args)
{
	char env[1024], cmd[4096];
	snprintf(env, sizeof(env), "MEMSHIM_GUARD=none MEMSHIM_LOG=%s %s%s%s", log,
		 spec ? "MEMSHIM_FAIL=\"" : "", spec ? spec : "", spec ? "\"" : "");
	snprintf(cmd, sizeof(cmd), "%s exec %s/tests/helpers/failprobe %s", pre ? pre : "",
		 t_build(), args);
	int st = t_sh(env, cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "failprobe %s with %s: status %d: %s", args, spec, st, out);
	return out;
}

static const char *probe(const char *spec, const char *args)
{
	return probe_log(spec, "error", NULL, args);
}

Test(preload, eio_on_the_third_write_to_log_files_and_not_to_others)
{
	const char *ops = "write /mem/a.log 10 write /mem/b.txt 10 write /mem/a.log 10 "
			  "write /mem/b.txt 10 write /mem/a.log 10 write /mem/a.log 10 "
			  "size /mem/a.log size /mem/b.txt";
	cr_assert_str_eq(probe("write:*.log:3:EIO", ops), "write /mem/a.log = 10\n"
							   "write /mem/b.txt = 10\n"
							   "write /mem/a.log = 10\n"
							   "write /mem/b.txt = 10\n"
							   "write /mem/a.log = -1 EIO\n"
							   "write /mem/a.log = 10\n"
							   "size /mem/a.log = 30\n"
							   "size /mem/b.txt = 20\n");
	/* through stdio: the stream's flush meets the write's error */
	cr_assert_str_eq(probe("write:*.log:2:EIO", "fwrite /mem/s.log 5 fwrite /mem/s.log 5 "
						    "fwrite /mem/s.log 5 size /mem/s.log"),
			 "fwrite /mem/s.log = 5\n"
			 "fwrite /mem/s.log = -1 EIO\n"
			 "fwrite /mem/s.log = 5\n"
			 "size /mem/s.log = 10\n");
}

Test(preload, enospc_for_writes_that_would_take_a_file_past_a_size)
{
	cr_assert_str_eq(probe("write:*.db:>10K:ENOSPC",
			       "write /mem/x.db 4096 write /mem/x.db 4096 write /mem/x.db 4096 "
			       "write /mem/x.db 2048 write /mem/x.db 1 size /mem/x.db "
			       "write /mem/y.txt 20000"),
			 "write /mem/x.db = 4096\n"
			 "write /mem/x.db = 4096\n"
			 "write /mem/x.db = -1 ENOSPC\n"
			 "write /mem/x.db = 2048\n"
			 "write /mem/x.db = -1 ENOSPC\n"
			 "size /mem/x.db = 10240\n"
			 "write /mem/y.txt = 20000\n");
}

Test(preload, a_short_write_returns_fewer_bytes_and_writes_only_those)
{
	cr_assert_str_eq(probe("write:*:2:short", "write /mem/s 100 write /mem/s 100 "
						  "write /mem/s 100 size /mem/s"),
			 "write /mem/s = 100\n"
			 "write /mem/s = 50\n"
			 "write /mem/s = 100\n"
			 "size /mem/s = 250\n");
	cr_assert_str_eq(probe("write:*:1+:short", "writev /mem/v 101 size /mem/v"),
			 "writev /mem/v = 50\n"
			 "size /mem/v = 50\n");
}

/* pwrites over bytes the file holds are copies into the store's mapping
 * once the fd has seen a few: the rules still count and fail them. */
Test(preload, mapped_pwrites_fail_and_are_shortened_as_the_others)
{
	cr_assert_str_eq(probe("write:*.db:12:EIO;write:*.db:14:short", "pwrites /mem/p.db 14"),
			 "write /mem/p.db = 8192\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = -1 EIO\n"
			 "pwrite /mem/p.db = 4096\n"
			 "pwrite /mem/p.db = 2048\n"
			 "pwrite /mem/p.db = 4096\n"
			 "mapped /mem/p.db = 1\n");
}

Test(preload, fsync_and_fdatasync_fail)
{
	cr_assert_str_eq(probe("fsync:*.dat:1:EIO", "fsync /mem/a.dat fsync /mem/b.txt"),
			 "fsync /mem/a.dat = -1 EIO\n"
			 "fdatasync /mem/a.dat = 0\n"
			 "fsync /mem/b.txt = 0\n"
			 "fdatasync /mem/b.txt = 0\n");
	cr_assert_str_eq(probe("fsync:*:1+:EROFS", "fsync /mem/a.dat"),
			 "fsync /mem/a.dat = -1 EROFS\n"
			 "fdatasync /mem/a.dat = -1 EROFS\n");
}

Test(preload, open_fails_with_eacces_or_emfile_and_creates_nothing)
{
	cr_assert_str_eq(probe_log("open:*.cfg:1+:EACCES;open:/mem/many/*:3:EMFILE", "error",
				   "mkdir /mem/many &&",
				   "open /mem/x.cfg size /mem/x.cfg open /mem/y.txt open /mem/many/1 "
				   "open /mem/many/2 open /mem/many/3 open /mem/many/4 size /mem/many/3"),
			 "open /mem/x.cfg = -1 EACCES\n"
			 "size /mem/x.cfg = -1 ENOENT\n"
			 "open /mem/y.txt = 0\n"
			 "open /mem/many/1 = 0\n"
			 "open /mem/many/2 = 0\n"
			 "open /mem/many/3 = -1 EMFILE\n"
			 "open /mem/many/4 = 0\n"
			 "size /mem/many/3 = -1 ENOENT\n");
}

Test(preload, a_failed_rename_leaves_both_names_as_they_were_with_the_data_written)
{
	cr_assert_str_eq(probe_log("rename:*.json:1:EIO", "error", "printf old > /mem/state.json &&",
				   "write /mem/state.tmp 5 fsync /mem/state.tmp "
				   "rename /mem/state.tmp /mem/state.json "
				   "cat /mem/state.tmp cat /mem/state.json "
				   "rename /mem/state.tmp /mem/state.json "
				   "cat /mem/state.json size /mem/state.tmp"),
			 "write /mem/state.tmp = 5\n"
			 "fsync /mem/state.tmp = 0\n"
			 "fdatasync /mem/state.tmp = 0\n"
			 "rename /mem/state.tmp = -1 EIO\n"
			 "cat /mem/state.tmp = xxxxx\n"
			 "cat /mem/state.json = old\n"
			 "rename /mem/state.tmp = 0\n"
			 "cat /mem/state.json = xxxxx\n"
			 "size /mem/state.tmp = -1 ENOENT\n");
}

/* 40 one-byte writes under a 30% rule with the given seed. */
static void seeded(const char *seed, char *res, size_t n)
{
	char spec[64], ops[1024] = "";
	snprintf(spec, sizeof(spec), "seed=%s;write:*:30%%:EIO", seed);
	for (int i = 0; i < 40; i++)
		strcat(ops, "write /mem/p 1 ");
	snprintf(res, n, "%s", probe(spec, ops));
}

Test(preload, the_same_seed_fails_the_same_writes_another_seed_others)
{
	static char a[4096], b[4096], c[4096];
	seeded("7", a, sizeof(a));
	seeded("7", b, sizeof(b));
	seeded("8", c, sizeof(c));
	cr_assert_str_eq(a, b);
	cr_assert_str_neq(a, c);
	cr_assert_not_null(strstr(a, "= -1 EIO\n"), "%s", a);
	cr_assert_not_null(strstr(a, "= 1\n"), "%s", a);
}

Test(preload, counts_are_each_process_s_own)
{
	char env[256];
	snprintf(env, sizeof(env), "MEMSHIM_GUARD=none MEMSHIM_LOG=error MEMSHIM_FAIL=\"%s\"",
		 "write:*:3:EIO");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "P=%s/tests/helpers/failprobe; $P write /mem/a 1 write /mem/a 1 write /mem/a 1; "
		 "$P write /mem/a 1 write /mem/a 1 write /mem/a 1 size /mem/a",
		 t_build());
	cr_assert_eq(t_sh(env, cmd, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "write /mem/a = 1\nwrite /mem/a = 1\nwrite /mem/a = -1 EIO\n"
			      "write /mem/a = 1\nwrite /mem/a = 1\nwrite /mem/a = -1 EIO\n"
			      "size /mem/a = 4\n");
}

Test(preload, each_failure_is_logged_with_its_rule_call_path_and_program)
{
	const char *o = probe_log("fsync:*:1:EIO;write:*.log:1:EIO;write:/mem/s:1:short", "warn",
				  NULL, "write /mem/a.log 3 write /mem/s 100");
	char want[256];
	snprintf(want, sizeof(want), "memshim: MEMSHIM_FAIL rule 2 (write:*.log:1:EIO): write of "
				     "/mem/a.log fails with EIO (pid ");
	cr_assert_not_null(strstr(o, want), "%s", o);
	cr_assert_not_null(strstr(o, "memshim: MEMSHIM_FAIL rule 3 (write:/mem/s:1:short): write of "
				     "/mem/s is cut to 50 of 100 bytes (pid "),
			   "%s", o);
	cr_assert_not_null(strstr(o, ", failprobe)\n"), "%s", o);
	/* not at MEMSHIM_LOG=error */
	o = probe("write:*.log:1:EIO", "write /mem/a.log 3");
	cr_assert_str_eq(o, "write /mem/a.log = -1 EIO\n");
}

Test(preload, a_malformed_rule_stops_the_program_before_main_with_one_line)
{
	char o[1024];
	int st = t_sh("MEMSHIM_FAIL=\"write:*.log:x:EIO\"", "echo main ran", o, sizeof(o));
	cr_assert_eq(st, 2, "status %d: %s", st, o);
	cr_assert_str_eq(o, "memshim: MEMSHIM_FAIL=\"write:*.log:x:EIO\": rule \"write:*.log:x:EIO\": "
			    "when is N (the N-th call, from 1), N+ (the N-th and every later one), "
			    ">SIZE or P%; use e.g. write:*.log:3:EIO;write:*.db:>1M:ENOSPC\n");
	st = t_sh("MEMSHIM_FAIL=\"write:*:1:EIO;fsync:*:1:short\"", "echo main ran", o, sizeof(o));
	cr_assert_eq(st, 2, "status %d: %s", st, o);
	cr_assert_str_eq(o, "memshim: MEMSHIM_FAIL=\"write:*:1:EIO;fsync:*:1:short\": rule "
			    "\"fsync:*:1:short\": \"short\" is for write rules only; use e.g. "
			    "write:*.log:3:EIO;write:*.db:>1M:ENOSPC\n");
}

Test(preload, real_paths_are_never_affected)
{
	char dir[] = "/tmp/memshim-fail-XXXXXX", ops[1024], want[1024];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(ops, sizeof(ops),
		 "open %s/a write %s/a 10 fsync %s/a rename %s/a %s/b size %s/b", dir, dir, dir,
		 dir, dir, dir);
	snprintf(want, sizeof(want),
		 "open %s/a = 0\nwrite %s/a = 10\nfsync %s/a = 0\nfdatasync %s/a = 0\n"
		 "rename %s/a = 0\nsize %s/b = 10\n",
		 dir, dir, dir, dir, dir, dir);
	const char *o = probe("open:*:1+:EACCES;write:*:1+:EIO;fsync:*:1+:EIO;rename:*:1+:EIO;"
			      "write:/tmp/*:1+:ENOSPC",
			      ops);
	char b[64];
	snprintf(b, sizeof(b), "%s/b", dir);
	unlink(b);
	rmdir(dir);
	cr_assert_str_eq(o, want);
}

Test(preload, without_memshim_fail_nothing_fails)
{
	cr_assert_str_eq(probe(NULL, "open /mem/a.cfg write /mem/a.log 10 fsync /mem/a.log "
				     "rename /mem/a.log /mem/b.json size /mem/b.json"),
			 "open /mem/a.cfg = 0\n"
			 "write /mem/a.log = 10\n"
			 "fsync /mem/a.log = 0\n"
			 "fdatasync /mem/a.log = 0\n"
			 "rename /mem/a.log = 0\n"
			 "size /mem/b.json = 10\n");
}

/* ---- the example ------------------------------------------------------------------------ */

static int example(const char *spec, char *o, size_t n)
{
	char env[512], cmd[512];
	snprintf(env, sizeof(env), "MEMSHIM_GUARD=none MEMSHIM_LOG=error %s%s%s",
		 spec ? "MEMSHIM_FAIL=\"" : "", spec ? spec : "", spec ? "\"" : "");
	snprintf(cmd, sizeof(cmd), "%s/examples/fail_demo /mem/out; echo status=$?; ls /mem/out",
		 t_build());
	return t_sh(env, cmd, o, n);
}

Test(example, fail_demo_reports_an_injected_eio_or_enospc_and_exits_cleanly)
{
	char o[4096];
	cr_assert_eq(example(NULL, o, sizeof(o)), 0, "%s", o);
	cr_assert_str_eq(o, "fail_demo: wrote /mem/out/data.bin (200000 bytes) and "
			    "/mem/out/run.log\nstatus=0\ndata.bin\nrun.log\n");
	cr_assert_eq(example("write:*.log:2:EIO", o, sizeof(o)), 0, "%s", o);
	cr_assert_str_eq(o, "fail_demo: /mem/out/run.log: Input/output error\nstatus=1\n");
	cr_assert_eq(example("write:*.bin:>64K:ENOSPC", o, sizeof(o)), 0, "%s", o);
	cr_assert_str_eq(o, "fail_demo: /mem/out/data.bin: No space left on device\nstatus=1\n");
}
