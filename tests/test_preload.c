/* libmemshim.so itself: it exports libc names only, checks the MEMSHIM_*
 * environment before main, and creates or joins the tree's store. */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"

static const char *lib;

static void init_lib(void) { lib = t_lib(); }

static int sh(const char *env, const char *script, char *out, size_t n)
{
	return t_sh(env, script, out, n);
}

/* Runs script under the preload: it must succeed and print want. */
static void sh_expect(const char *env, const char *script, const char *want)
{
	char out[4096];
	int st = sh(env, script, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, want);
}

struct bad {
	const char *env, *var;
};

static const struct bad bads[] = {
	{"MEMSHIM_QUOTA=12Q", "MEMSHIM_QUOTA"},
	{"MEMSHIM_QUOTA=", "MEMSHIM_QUOTA"},
	{"MEMSHIM_PREFIX=relative/path", "MEMSHIM_PREFIX"},
	{"MEMSHIM_MAX_NODES=-3", "MEMSHIM_MAX_NODES"},
	{"MEMSHIM_QUOTA_ERRNO=EIO", "MEMSHIM_QUOTA_ERRNO"},
	{"MEMSHIM_GUARD=sometimes", "MEMSHIM_GUARD"},
	{"MEMSHIM_GUARD_ACTION=panic", "MEMSHIM_GUARD_ACTION"},
	{"MEMSHIM_GUARD_INTERVAL=soon", "MEMSHIM_GUARD_INTERVAL"},
	{"MEMSHIM_LOG=loud", "MEMSHIM_LOG"},
	{"MEMSHIM_STORE=../x", "MEMSHIM_STORE"},
};

Test(preload, malformed_environment_stops_before_main, .init = init_lib)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		char out[4096];
		/* main would print "ran": it must never get there. */
		int st = sh(bads[i].env, "echo ran", out, sizeof(out));
		cr_assert_neq(st, 0, "%s: exit status 0", bads[i].env);
		cr_assert_null(strstr(out, "ran"), "%s: main ran: %s", bads[i].env, out);
		cr_assert(strncmp(out, "memshim: ", 9) == 0, "%s: %s", bads[i].env, out);
		cr_assert_not_null(strstr(out, bads[i].var), "%s: %s", bads[i].env, out);
		char *nl = strchr(out, '\n');
		cr_assert(nl && nl[1] == 0, "%s: not exactly one line: %s", bads[i].env, out);
	}
}

Test(preload, good_environment_runs_the_program, .init = init_lib)
{
	char out[4096];
	int st = sh("MEMSHIM_QUOTA=64M MEMSHIM_PREFIX=/mem:/tmp/x", "echo ran", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "ran\n");
}

Test(preload, children_join_the_store_of_the_tree, .init = init_lib)
{
	char out[4096];
	/* Every process of the tree names the same store; the keeper is not
	 * a child the shell could wait for. */
	int st = sh("", "a=$MEMSHIM_STORE_ID; b=$(sh -c \"echo \\$MEMSHIM_STORE_ID\"); "
			"[ -n \"$a\" ] && [ \"$a\" = \"$b\" ] && echo same", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "same\n");
}

Test(preload, the_keeper_leaves_with_the_tree, .init = init_lib)
{
	char out[4096];
	int st = sh("MEMSHIM_STORE=t-leave", "echo $$", out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	/* The store's socket disappears with its keeper. */
	char check[256];
	snprintf(check, sizeof(check), "grep -q '@memshim-%u-t-leave' /proc/net/unix",
		 (unsigned)geteuid());
	int gone = 0;
	for (int i = 0; i < 300 && !gone; i++) {
		gone = system(check) != 0;
		struct timespec ts = {0, 10000000};
		if (!gone)
			nanosleep(&ts, NULL);
	}
	cr_assert(gone, "the keeper of t-leave is still listening");
}

Test(preload, exports_libc_names_only, .init = init_lib)
{
	char cmd[8400];
	snprintf(cmd, sizeof(cmd),
		 "nm -D --defined-only %s | awk '{print $3}' | grep -v '^$' | sort -u > /tmp/ms-exp.%d; "
		 "nm -D --defined-only $(gcc -print-file-name=libc.so.6) | awk '{print $3}' "
		 "| sed 's/@.*//' | sort -u > /tmp/ms-libc.%d; "
		 "comm -23 /tmp/ms-exp.%d /tmp/ms-libc.%d",
		 lib, getpid(), getpid(), getpid(), getpid());
	FILE *p = popen(cmd, "r");
	char extra[4096];
	size_t k = fread(extra, 1, sizeof(extra) - 1, p);
	extra[k] = 0;
	cr_assert_eq(pclose(p), 0);
	cr_assert_str_empty(extra, "exported names that are not libc's: %s", extra);
}

/* A process that never touches the store (most of a test suite's) writes
 * two pages of the library's data at start, besides the loader's relro
 * page, and one that opens and closes a store file touches no other:
 * shim/startup.ld keeps what start-up and the first store call touch
 * together. Each page is a page fault in every such process; before, the
 * variables were spread over four pages and the loader's zeroing of the
 * last .data page, and the attach and first open touched four more. */
static const char *startpages(const char *args)
{
	static char out[4096];
	char script[4200];
	snprintf(script, sizeof(script), "echo x > /mem/f; exec %s/tests/helpers/startpages %s",
		 t_build(), args);
	int st = sh("", script, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	return out;
}

static void library_pages(const char *args)
{
	const char *out = startpages(args);
	int pages = -1;
	const char *p = strstr(out, "pages=");
	cr_assert(p && sscanf(p, "pages=%d", &pages) == 1, "%s", out);
	/* A sanitizer's build (its runtime preloaded first) instruments the
	 * library's data with its own: the count is the plain build's. */
	const char *san = getenv("MEMSHIM_TEST_PRELOAD_FIRST");
	if (!san || !*san)
		cr_expect_leq(pages, 2, "pages of libmemshim.so touched (%s):\n%s", args, out);
}

Test(preload, a_process_that_never_touches_the_store_writes_two_pages, .init = init_lib)
{
	library_pages("");
}

Test(preload, an_attach_and_a_first_open_touch_no_other_page, .init = init_lib)
{
	library_pages("/mem/f");
}

/* Thread-local variables of the library are zeroed by the loader in every
 * thread of every process: kept to a few words (a page of them was a page
 * fault each; the escape path has its own page, made when first used). */
Test(preload, the_librarys_thread_locals_are_a_few_words, .init = init_lib)
{
	const char *out = startpages("");
	long tls = -1;
	const char *p = strstr(out, "tls=");
	cr_assert(p && sscanf(p, "tls=%ld", &tls) == 1, "%s", out);
	cr_assert_gt(tls, 0, "no PT_TLS in %s:\n%s", lib, out);
	cr_expect_leq(tls, 256, "%ld bytes of thread-locals", tls);
}

/* A low soft fd limit: the store's own fds go to the top of what it allows
 * (not 1000, which it refuses), store directories open, and a listing of
 * /proc/self/fd shows what it shows without the shim (run the same way,
 * from this process, without the preload). */
Test(preload, low_fd_limit_and_the_shims_fds_out_of_sight, .init = init_lib)
{
	char out[4096], want[4096] = "x\nhi\n";
	FILE *p = popen("sh -c 'ulimit -n 29; ls /proc/self/fd' 2>&1", "r");
	cr_assert_not_null(p);
	size_t k = strlen(want);
	k += fread(want + k, 1, sizeof(want) - 1 - k, p);
	want[k] = 0;
	pclose(p);
	int st = sh("", "ulimit -n 29; mkdir /mem/d && touch /mem/d/x && ls /mem/d && "
			"echo hi > /mem/d/y && cat /mem/d/y && ls /proc/self/fd",
		    out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, want);
}

/* A process of the tree attaches to the store on its first store call, not
 * at start: one that never touches it holds only the keeper connection it
 * inherited (which keeps the store alive), and no arena; one that does
 * holds the arena too. Counted in /proc/<pid>/fd of a sleeping child,
 * by the memfd links. */
Test(preload, a_process_attaches_on_its_first_store_call, .init = init_lib)
{
	const char *script =
		"echo x > /mem/f; "
		"arena() { for f in /proc/$1/fd/*; do readlink $f; done | grep -c memshim-arena; }; "
		"sleep 8 & p=$!; "
		"python3 -c \"import time; time.sleep(8)\" & q=$!; "
		"sh -c \"exec 3</mem/f; sleep 8\" & r=$!; "
		/* and up to 6 s more for the last to start on a loaded machine
		 * (ASan with another job on both CPUs took more than 2 s) */
		"sleep 0.8; i=0; while [ $(arena $r) = 0 ] && [ $i -lt 60 ]; do sleep 0.1; i=$((i+1)); done; "
		"echo untouched $(arena $p) $(arena $q) touched $(arena $r); "
		"sh -c \"sleep 1; cat /mem/f\"; wait";
	/* and a process that attaches late still sees the tree's store */
	sh_expect("", script, "untouched 0 0 touched 1\nx\n");
}

/* A process that attaches late applies the umask it has then: inherited,
 * or set by itself before its first store call (the shim reads it at
 * start and follows umask()); so does the one that made the store. */
Test(preload, a_late_attach_applies_the_processs_umask, .init = init_lib)
{
	const char *script = "umask 027; touch /mem/self; sh -c \"touch /mem/inherited\"; "
			     "python3 -c \"import os, sys; os.umask(0o077); open(*sys.argv[1:])\" /mem/own w; "
			     "stat -c \"%a %n\" /mem/self /mem/inherited /mem/own";
	sh_expect("", script, "640 /mem/self\n640 /mem/inherited\n600 /mem/own\n");
}

/* The real functions are found without the loader's lock (shim/real.c),
 * and each is the very one dlsym(RTLD_NEXT) gives: checked name by name
 * at MEMSHIM_LOG=debug, in a shell and in Python (more libraries after
 * ours). */
Test(preload, real_functions_found_without_dlsym_are_dlsyms, .init = init_lib)
{
	const char *progs[] = {"true", "python3 -c pass"};
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		char out[8192], script[256];
		snprintf(script, sizeof(script), "exec %s", progs[i]);
		int st = sh("MEMSHIM_LOG=debug", script, out, sizeof(out));
		cr_assert_eq(st, 0, "%s", out);
		const char *l = strstr(out, "memshim: real functions:");
		cr_assert_not_null(l, "%s: no line on the real functions in:\n%s", progs[i], out);
		unsigned names, found, differ;
		const char *semi = strchr(l, ';');
		cr_assert(semi && sscanf(semi, "; %u names, %u found without dlsym, %u differ", &names,
					 &found, &differ) == 3, "%s", l);
		cr_expect_gt(names, 200, "%s", l);
		cr_expect_eq(found, names, "%s: some names left to dlsym: %s", progs[i], l);
		cr_expect_eq(differ, 0, "%s: %s", progs[i], l);
	}
}
