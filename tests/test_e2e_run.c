/* End to end: memshim-run, the end-of-run report and memshim-stat --json:
 * real commands under build/memshim-run (or plain LD_PRELOAD), the JSON
 * read back with python3's json, the chart with its xml.etree. Named
 * test_e2e_*: the ASan build leaves it out with the other suites of
 * third-party programs (dd among them, whose aligned_alloc ASan aborts). */
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"

static char tmp[256];

static void mk_tmp(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/memshim-run-test-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(run, .init = mk_tmp, .fini = rm_tmp);

/* Runs `cmd` through sh (no preload here: memshim-run sets it up; a fresh
 * tree: no inherited store) with stdout and stderr in out; returns the exit
 * status, 128+N for a signal. cmd may use $RUN, $STAT, $LIB and $T (the
 * test's directory). */
static int run(const char *cmd, char *out, size_t n)
{
	char full[16384];
	snprintf(full, sizeof(full),
		 "env -u MEMSHIM_STORE_ID -u LD_PRELOAD ASAN_OPTIONS=detect_leaks=0 "
		 "RUN=%s/memshim-run STAT=%s/memshim-stat LIB=%s T=%s sh -c '%s' 2>&1",
		 t_build(), t_build(), t_lib(), tmp, cmd);
	return t_popen(full, out, n);
}

static char *tpath(const char *name);

/* python3 running script (from a file: no quoting) with argv[1] = path;
 * its output in out. */
static int py(const char *script, const char *path, char *out, size_t n)
{
	char cmd[1024];
	FILE *f = fopen(tpath("check.py"), "w");
	cr_assert_not_null(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 $T/check.py %s", path);
	return run(cmd, out, n);
}

static char *tpath(const char *name)
{
	static char p[4][512];
	static int k;
	char *r = p[k++ % 4];
	snprintf(r, 512, "%s/%s", tmp, name);
	return r;
}

Test(run, exit_status_is_the_commands)
{
	char out[4096];
	cr_assert_eq(run("$RUN -- sh -c \"exit 7\"", out, sizeof(out)), 7, "%s", out);
	cr_assert_eq(run("$RUN -- true", out, sizeof(out)), 0, "%s", out);
	/* without "--" too, when the command does not start with a dash */
	cr_assert_eq(run("$RUN --quota 1M false", out, sizeof(out)), 1, "%s", out);
}

Test(run, a_signal_is_128_plus_its_number)
{
	char out[4096];
	cr_assert_eq(run("$RUN -- sh -c \"kill -TERM \\$\\$\"", out, sizeof(out)), 128 + SIGTERM,
		     "%s", out);
	cr_assert_eq(run("$RUN -- sh -c \"kill -KILL \\$\\$\"", out, sizeof(out)), 128 + SIGKILL,
		     "%s", out);
}

/* A bad option or value: one line naming it, exit 125, and the command
 * never ran (its marker file is not there). */
static void refused_before(const char *opts, const char *want)
{
	char cmd[1024], out[4096];
	snprintf(cmd, sizeof(cmd), "%s -- touch $T/ran", opts);
	cr_assert_eq(run(cmd, out, sizeof(out)), 125, "%s: %s", opts, out);
	cr_assert(strstr(out, want), "%s: want '%s' in: %s", opts, want, out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
	cr_assert_neq(access(tpath("ran"), F_OK), 0, "%s: the command ran", opts);
}

Test(run, bad_options_stop_the_run_before_the_command)
{
	refused_before("$RUN --quota 12Q",
		       "memshim-run: --quota: MEMSHIM_QUOTA=\"12Q\": not a size; use e.g. 64M");
	refused_before("$RUN --quota=1.5G", "--quota: MEMSHIM_QUOTA=\"1.5G\"");
	refused_before("$RUN --guard sometimes", "--guard: MEMSHIM_GUARD=\"sometimes\": not a guard mode");
	refused_before("$RUN --errno EIO", "--errno: MEMSHIM_QUOTA_ERRNO=\"EIO\"");
	refused_before("$RUN --prefix mem", "--prefix: MEMSHIM_PREFIX=\"mem\"");
	refused_before("$RUN --store .x", "--store: MEMSHIM_STORE=\".x\"");
	refused_before("$RUN --max-nodes 10K", "--max-nodes: MEMSHIM_MAX_NODES=\"10K\"");
	refused_before("$RUN --guard-interval 0", "--guard-interval: MEMSHIM_GUARD_INTERVAL=\"0\"");
	refused_before("$RUN --log loud", "--log: MEMSHIM_LOG=\"loud\"");
	refused_before("$RUN --save /mem/out", "--save: MEMSHIM_SAVE=\"/mem/out\": inside the store");
	refused_before("$RUN --bogus 1", "memshim-run: unknown option --bogus");
	refused_before("$RUN --quota", "memshim-run: --quota needs a value");
	/* an inherited variable is checked the same way */
	refused_before("MEMSHIM_GUARD_ACTION=maybe $RUN",
		       "memshim-run: MEMSHIM_GUARD_ACTION=\"maybe\": not a guard action");
}

Test(run, help_and_version)
{
	char out[8192];
	cr_assert_eq(run("$RUN --help", out, sizeof(out)), 0);
	static const char *const names[] = {"--prefix", "--quota", "--max-nodes", "--errno",
					    "--guard", "--guard-action", "--guard-interval",
					    "--store", "--seed", "--save", "--log", "--report",
					    "--chart", "--fail-on-refusal", "--version"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert(strstr(out, names[i]), "%s missing from --help: %s", names[i], out);
	cr_assert_eq(run("$RUN --version", out, sizeof(out)), 0);
	cr_assert(!strncmp(out, "memshim-run (memshim) ", 22), "%s", out);
	cr_assert_eq(run("$RUN", out, sizeof(out)), 125, "no command: %s", out);
	cr_assert(strstr(out, "usage: memshim-run"), "%s", out);
}

Test(run, the_library_goes_in_front_of_an_existing_preload)
{
	char out[8192], want[8192];
	/* libm is in every process already: preloading it changes nothing */
	int st = run("LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 $RUN -- sh -c "
		     "\"echo \\$LD_PRELOAD; echo kept > /mem/f; cat /mem/f; test -e $T/mem || echo not-on-disk\" 2>$T/err",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	char lib[PATH_MAX];
	cr_assert_not_null(realpath(t_lib(), lib));
	snprintf(want, sizeof(want), "%s:/lib/x86_64-linux-gnu/libm.so.6\nkept\nnot-on-disk\n", lib);
	cr_assert_str_eq(out, want);
	/* and alone when there was none */
	cr_assert_eq(run("$RUN -- sh -c \"echo \\$LD_PRELOAD\" 2>/dev/null", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s\n", lib);
	cr_assert_str_eq(out, want);
}

Test(run, fail_on_refusal)
{
	char out[8192];
	const char *fill = "$RUN --quota 1M %s -- sh -c \"dd if=/dev/zero of=/mem/x bs=64K count=32 "
			   "2>/dev/null; exit %d\"";
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fill, "--fail-on-refusal", 0);
	cr_assert_eq(run(cmd, out, sizeof(out)), 3, "%s", out);
	cr_assert(strstr(out, "WRITE REFUSED"), "the summary says so: %s", out);
	cr_assert(strstr(out, "memshim-run: 1 write was refused: exit 3 instead of 0 (--fail-on-refusal)"),
		  "%s", out);
	/* the option is what makes the difference */
	snprintf(cmd, sizeof(cmd), fill, "", 0);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	/* no refusal: the command's status, whatever it is */
	cr_assert_eq(run("$RUN --fail-on-refusal -- sh -c \"echo a > /mem/a; exit 5\"", out,
			 sizeof(out)),
		     5, "%s", out);
	cr_assert(strstr(out, "no write refused"), "%s", out);
}

/* dd's second 1 MiB block does not fit in 2 MiB (the file's node costs 1
 * KiB): the report names it, dd, dd's pid and the size asked. */
Test(run, the_report_names_the_refused_write)
{
	char out[16384];
	int st = run("$RUN --quota 2M --report $T/r.json -- sh -c "
		     "\"echo pid=\\$\\$ > $T/pid; exec dd if=/dev/zero of=/mem/big bs=1M count=4 2>/dev/null\"",
		     out, sizeof(out));
	cr_assert_eq(st, 1, "dd fails: %s", out);
	cr_assert(strstr(out, "memshim: !!! 1 WRITE REFUSED (largest 1.0 MiB asked; quota 2.0 MiB) !!!"),
		  "%s", out);
	cr_assert(strstr(out, "refused: dd (pid "), "%s", out);
	char pidline[64] = "";
	FILE *f = fopen(tpath("pid"), "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(pidline, sizeof(pidline), f));
	fclose(f);
	st = py("import json,sys; d=json.load(open(sys.argv[1])); r=d[\"refusals\"]; f=r[\"first\"][0]; "
		"p=[x for x in d[\"programs\"] if x[\"name\"]==\"dd\"][0]; "
		"print(d[\"schema\"], d[\"final\"], d[\"limits\"][\"bytes\"], r[\"count\"], r[\"largest\"]); "
		"print(f[\"path\"], f[\"program\"], \"pid=%d\" % f[\"pid\"], f[\"size\"], f[\"kind\"]); "
		"print(p[\"processes\"], p[\"bytes_written\"], p[\"peak_bytes_held\"], p[\"bytes_held_at_end\"]); "
		"print(d[\"peak\"][\"bytes\"], d[\"peak\"][\"nodes\"], d[\"end\"][\"files\"], d[\"processes\"] >= 2); "
		"print([x[\"path\"] for x in d[\"biggest_files\"][\"at_end\"]], d[\"uncounted_bytes\"], "
		"d[\"guard\"][\"mode\"], d[\"duration_s\"] > 0)",
		tpath("r.json"), out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	char want[1024];
	snprintf(want, sizeof(want),
		 "memshim-report/1 True 2097152 1 1048576\n"
		 "/mem/big dd %s 1048576 quota\n"
		 "1 1048576 1048576 1048576\n"
		 "%llu 1 1 True\n"
		 "[\'/mem/big\'] 0 init True\n",
		 pidline[0] ? strtok(pidline, "\n") : "?",
		 (unsigned long long)(1048576 + ms_node_cost(S_IFREG))); /* the peak: data and file */
	cr_assert_str_eq(out, want);
}

/* pwrites over a file's bytes that the store copies into its mapping
 * count in the program's bytes written as the kernel's writes do. */
Test(run, mapped_pwrites_count_in_the_programs_bytes_written)
{
	char out[16384], cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "$RUN --report $T/p.json -- %s/tests/helpers/failprobe pwrites /mem/p.db 30",
		 t_build());
	int st = run(cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert(strstr(out, "mapped /mem/p.db = 1\n"), "%s", out);
	st = py("import json,sys; d=json.load(open(sys.argv[1])); "
		"p=[x for x in d[\"programs\"] if x[\"name\"]==\"failprobe\"][0]; "
		"print(p[\"bytes_written\"], p[\"bytes_held_at_end\"])",
		tpath("p.json"), out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "131072 8192\n"); /* 8 KiB, then 30 x 4 KiB */
}

/* The biggest files are those of the peak, not only of the end. */
Test(run, the_report_keeps_the_files_of_the_peak)
{
	char out[16384];
	int st = run("$RUN --quota 8M --report $T/r.json -- sh -c "
		     "\"head -c 3000000 /dev/zero > /mem/peak; sleep 0.5; rm /mem/peak; echo x > /mem/small\"",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	st = py("import json,sys; d=json.load(open(sys.argv[1])); b=d[\"biggest_files\"]; "
		"print(b[\"at_peak\"][0], [x[\"path\"] for x in b[\"at_end\"]], b[\"at_peak_bytes\"] >= 3000000, "
		"d[\"refusals\"][\"count\"], d[\"end\"][\"files\"])",
		tpath("r.json"), out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "{\'path\': \'/mem/peak\', \'size\': 3000000} [\'/mem/small\'] True 0 1\n");
}

/* Under plain LD_PRELOAD: the whole process group killed with SIGKILL
 * (a background process too); the keeper outlives it and writes the
 * report once the tree has gone. */
Test(run, the_report_is_written_when_the_tree_is_killed)
{
	char out[16384];
	int st = run("MEMSHIM_REPORT=$T/r.json MEMSHIM_QUOTA=4M LD_PRELOAD=$LIB setsid sh -c "
		     "\"sleep 30 & head -c 200000 /dev/zero > /mem/a; kill -KILL 0\"",
		     out, sizeof(out));
	cr_assert_eq(st, 128 + SIGKILL, "%s", out);
	struct stat sb;
	for (int i = 0; i < 100 && stat(tpath("r.json"), &sb); i++) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	/* written whole: the keeper has exited by the time the file parses */
	for (int i = 0; i < 50; i++) {
		st = py("import json,sys; d=json.load(open(sys.argv[1])); "
			"print(d[\"final\"], d[\"peak\"][\"bytes\"] >= 200000, d[\"end\"][\"files\"], "
			"{\"dash\", \"head\"} <= set(x[\"name\"] for x in d[\"programs\"]))",
			tpath("r.json"), out, sizeof(out));
		if (st == 0)
			break;
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(st, 0, "%s", out);
	/* (sleep may be killed before it attaches) */
	cr_assert_str_eq(out, "True True 1 True\n");
}

Test(run, report_to_stderr)
{
	char out[16384];
	int st = run("$RUN --quota 4M --report - -- sh -c \"echo a > /mem/a\" 2>$T/err", out,
		     sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	/* the summary lines, then the JSON document */
	st = run("grep -v \"^memshim: \" $T/err | python3 -c \"import json,sys; d=json.load(sys.stdin); "
		 "print(d[\\\"schema\\\"], d[\\\"end\\\"][\\\"files\\\"])\"",
		 out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "memshim-report/1 1\n");
}

/* The chart parses as XML, is an SVG with the quota line (horizontal, at
 * the quota), the usage polyline and a refusal mark. */
Test(run, the_chart_is_svg_with_the_quota_line)
{
	char out[16384];
	int st = run("$RUN --quota 1M --chart $T/c.svg -- sh -c "
		     "\"dd if=/dev/zero of=/mem/x bs=64K count=32 2>/dev/null; sleep 0.3\"",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	st = py("import sys, xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); "
		"n=\"{http://www.w3.org/2000/svg}\"; "
		"q=[e for e in r.iter(n+\"line\") if e.get(\"id\")==\"quota\"][0]; "
		"u=[e for e in r.iter(n+\"polyline\") if e.get(\"id\")==\"usage\"][0]; "
		"pts=[tuple(map(float,p.split(\",\"))) for p in u.get(\"points\").split()]; "
		"marks=[e for e in r.iter() if e.get(\"class\")==\"refusal\"]; "
		"top=min(y for x,y in pts); "
		"print(r.tag==n+\"svg\", q.get(\"y1\")==q.get(\"y2\"), len(pts)>=2, len(marks)>=1, "
		"abs(top-float(q.get(\"y1\")))<25, \"quota 1.0 MiB\" in E.tostring(r).decode())",
		tpath("c.svg"), out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "True True True True True True\n");
}

Test(run, memshim_stat_json_parses)
{
	char out[16384];
	int st = run("$RUN --quota 4M -- sh -c \"echo hello > /mem/a; mkdir /mem/d; "
		     "$STAT --json > $T/s.json; $STAT > $T/s.txt\"",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	st = py("import json,sys; d=json.load(open(sys.argv[1])); "
		"print(d[\"schema\"], d[\"final\"], d[\"end\"][\"files\"], d[\"end\"][\"dirs\"], "
		"d[\"limits\"][\"bytes\"], [x[\"path\"] for x in d[\"biggest_files\"][\"at_end\"]], "
		"\"dash\" in [x[\"name\"] for x in d[\"programs\"]], d[\"samples\"])",
		tpath("s.json"), out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "memshim-report/1 False 1 1 4194304 [\'/mem/a\'] True None\n");
	st = run("grep -c \"^program: dash \" $T/s.txt; grep \"^file: \" $T/s.txt", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "1\nfile: 6 /mem/a\n");
	cr_assert_eq(run("$STAT --json no-such-store-here", out, sizeof(out)), 1, "%s", out);
}

/* A program built with AddressSanitizer: its runtime must be first in
 * LD_PRELOAD, and memshim-run puts it there without being told. */
Test(run, asan_programs_get_their_runtime_first)
{
	char out[16384];
	FILE *f = fopen(tpath("a.c"), "w");
	cr_assert_not_null(f);
	fputs("#include <stdio.h>\n#include <stdlib.h>\nint main(void){\n"
	      "char line[64]; FILE *f = fopen(\"/mem/asan\", \"w\"); if (!f) return 2;\n"
	      "fputs(\"from asan\\n\", f); fclose(f);\n"
	      "f = fopen(\"/mem/asan\", \"r\"); if (!f || !fgets(line, sizeof(line), f)) return 3;\n"
	      "printf(\"%s%s\\n\", line, getenv(\"LD_PRELOAD\")); return 0; }\n",
	      f);
	fclose(f);
	cr_assert_eq(run("cc -fsanitize=address -o $T/a $T/a.c", out, sizeof(out)), 0, "%s", out);
	int st = run("$RUN -- $T/a", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert(!strncmp(out, "from asan\n/", 11), "%s", out);
	cr_assert(strstr(out, "libasan.so"), "%s", out);
	cr_assert(strstr(out, "libasan.so") < strstr(out, "libmemshim.so"), "%s", out);
}

/* The installed layout: $PREFIX/bin/memshim-run finds
 * $PREFIX/lib/memshim/libmemshim.so and memshim-keeper. */
Test(run, finds_the_installed_layout)
{
	char out[8192];
	int st = run("mkdir -p $T/p/bin $T/p/lib/memshim && cp $RUN $T/p/bin/ && "
		     "cp $LIB $(dirname $LIB)/memshim-keeper $T/p/lib/memshim/ && "
		     "$T/p/bin/memshim-run -- sh -c \"echo \\$LD_PRELOAD; echo x > /mem/x; cat /mem/x\" 2>/dev/null",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	char want[PATH_MAX * 2];
	snprintf(want, sizeof(want), "%s/p/lib/memshim/libmemshim.so\nx\n", tmp);
	cr_assert_str_eq(out, want);
	/* and says so when the parts are not there */
	st = run("rm $T/p/lib/memshim/memshim-keeper; $T/p/bin/memshim-run -- true", out, sizeof(out));
	cr_assert_eq(st, 125, "%s", out);
	cr_assert(strstr(out, "memshim-run: cannot find libmemshim.so and memshim-keeper"), "%s", out);
}

/* MEMSHIM_FAIL (--fail): every failure injected on purpose is in the
 * report, by kind (rule, call, path, program, errno) with how many, and in
 * the summary; kinds past the 64 kept are counted as unlisted. */
Test(run, the_report_lists_injected_failures)
{
	char out[16384];
	int st = run("$RUN --fail \"write:*.log:2+:EIO;open:*.db:1:EACCES\" --report $T/r.json -- "
		     "sh -c \"for i in 1 2 3; do echo \\$i >> /mem/a.log; done; : > /mem/x.db; "
		     "cat /mem/a.log\"",
		     out, sizeof(out));
	cr_assert_eq(st, 2, "the last redirection fails: %s", out);
	cr_assert(strstr(out, "memshim:   3 failures injected on purpose (MEMSHIM_FAIL)\n"), "%s", out);
	cr_assert(strstr(out, "memshim:   injected: rule 1, write of /mem/a.log: EIO x2 (dash, pid "),
		  "%s", out);
	cr_assert(strstr(out, "memshim:   injected: rule 2, open of /mem/x.db: EACCES (dash, pid "),
		  "%s", out);
	st = py("import json,sys; d=json.load(open(sys.argv[1]))[\"injected\"]; "
		"print(d[\"count\"], d[\"unlisted\"]); "
		"[print(x[\"rule\"], x[\"call\"], x[\"path\"], x[\"program\"], x[\"errno\"], "
		"x[\"count\"], x[\"pid\"] > 0, x[\"at_s\"] >= 0) for x in d[\"kinds\"]]",
		tpath("r.json"), out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "3 0\n"
			      "1 write /mem/a.log dash EIO 2 True True\n"
			      "2 open /mem/x.db dash EACCES 1 True True\n");
}

/* One kind failed by many processes is one line with their count; 70
 * kinds keep the first 64 and count the rest as unlisted. */
Test(run, injected_failures_of_many_processes_and_kinds)
{
	char out[16384];
	int st = run("$RUN --fail \"open:*.db:1+:EACCES;write:*.log:1+:EIO\" --report $T/r.json -- "
		     "sh -c \"for i in \\$(seq 70); do true > /mem/f\\$i.db; done 2>/dev/null; "
		     "for i in \\$(seq 5); do echo x | tee -a /mem/a.log 2>/dev/null; done; true\"",
		     out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert(strstr(out, "memshim:   75 failures injected on purpose (MEMSHIM_FAIL)\n"), "%s", out);
	cr_assert(strstr(out, "memshim:   injected: rule 1, open of /mem/f1.db: EACCES (dash, pid "),
		  "%s", out);
	cr_assert(strstr(out, "memshim:   injected: 59 more kinds (the JSON report lists them)\n"),
		  "%s", out);
	st = py("import json,sys; d=json.load(open(sys.argv[1]))[\"injected\"]; k=d[\"kinds\"]; "
		"print(d[\"count\"], len(k), d[\"unlisted\"], sum(x[\"count\"] for x in k)); "
		"print(k[0][\"path\"], k[63][\"path\"])",
		tpath("r.json"), out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	/* 64 kinds: the first 64 opens; the five tee processes' writes, one
	 * kind, came 71st */
	cr_assert_str_eq(out, "75 64 11 64\n/mem/f1.db /mem/f64.db\n");
}
