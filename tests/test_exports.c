/* What libmemshim.so holds: what a wrapped process needs, and none of the
 * keeper's server (its loop, the save, the reclaim and audit rounds), which
 * is linked into memshim-keeper only. Checked on the library's dynamic
 * symbols (nm -D) and on its full symbol table (nm: the library is built
 * with -g and not stripped, so hidden functions show as t/T). */
#include "common.h"

/* The server's functions named by the issue that moved them out (each must
 * be in the keeper program, so the list stays true), a few of its file-local
 * helpers (which the optimiser may inline away, so only their absence from
 * the library is checked), and below, every global function of the keeper's
 * own archive. */
static const char *const server_fns[] = {
	"ms_keeper_main", "ms_save", "ms_reclaim_orphans", "ms_reclaim_dirrefs",
	"ms_reconcile_sizes", "ms_audit_memfds",
};
static const char *const server_statics[] = {
	"new_memfd", "held_fd", "held_maps", "held_pid", "audit_fd", "save_file", "save_link",
	"save_entry",
};

/* Runs cmd, returns its stdout (static buffer) and exit status in *st. */
static const char *run(const char *cmd, int *st)
{
	static char out[65536];
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t k = fread(out, 1, sizeof(out) - 1, p);
	out[k] = 0;
	*st = pclose(p);
	return out;
}

/* The function names (t/T, optimiser suffixes such as .isra.0 cut) that
 * `tool` lists for file, one per line, between newlines. */
static const char *fn_names(const char *tool, const char *file)
{
	char cmd[8192];
	int st;
	snprintf(cmd, sizeof(cmd),
		 "%s %s | awk '$2 == \"t\" || $2 == \"T\" {sub(/[.@].*/, \"\", $3); print $3}' "
		 "| sort -u | sed '1s/^/\\n/;$s/$/\\n/'",
		 tool, file);
	const char *out = run(cmd, &st);
	cr_assert_eq(st, 0, "%s %s failed", tool, file);
	return out;
}

static int has(const char *names, const char *fn)
{
	char key[300];
	snprintf(key, sizeof(key), "\n%s\n", fn);
	return strstr(names, key) != NULL;
}

Test(exports, library_holds_none_of_the_keeper_server)
{
	char lib[4096], keeper[4096], archive[4096];
	snprintf(lib, sizeof(lib), "%s/libmemshim.so", t_build());
	snprintf(keeper, sizeof(keeper), "%s/memshim-keeper", t_build());
	snprintf(archive, sizeof(archive), "%s/libmemshim-keeper.a", t_build());
	static char dyn[65536], all[65536], kept[65536];
	strcpy(dyn, fn_names("nm -D --defined-only", lib));
	strcpy(all, fn_names("nm", lib));
	strcpy(kept, fn_names("nm", keeper));

	/* The symbol table is really there: functions the library must hold. */
	cr_assert(has(all, "ms_store_open") && has(all, "ms_keeper_spawn") &&
		  has(all, "ms_repair"),
		  "nm shows no core functions in %s: stripped?", lib);
	cr_assert(has(dyn, "open"), "nm -D shows no exported open in %s", lib);

	char found[4096] = "";
	for (size_t i = 0; i < sizeof(server_fns) / sizeof(server_fns[0]); i++) {
		const char *fn = server_fns[i];
		/* The list stays true: each name is the keeper's. */
		cr_assert(has(kept, fn), "%s is not in %s any more: update the list", fn, keeper);
		if (has(all, fn) || has(dyn, fn))
			snprintf(found + strlen(found), sizeof(found) - strlen(found), " %s", fn);
	}
	for (size_t i = 0; i < sizeof(server_statics) / sizeof(server_statics[0]); i++)
		if (has(all, server_statics[i]))
			snprintf(found + strlen(found), sizeof(found) - strlen(found), " %s",
				 server_statics[i]);
	cr_assert_str_empty(found, "server functions in %s:%s", lib, found);

	/* Every global function of the server's archive. */
	int st;
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "test -f %s", archive);
	run(cmd, &st);
	cr_assert_eq(st, 0, "no %s: the server is not built apart", archive);
	snprintf(cmd, sizeof(cmd),
		 "nm --defined-only %s | awk '$2 == \"T\" {print $3}' | sort -u", archive);
	const char *globals = run(cmd, &st);
	cr_assert_eq(st, 0);
	cr_assert_neq(globals[0], 0, "nm finds no functions in %s", archive);
	char line[256];
	for (const char *p = globals; sscanf(p, "%255s", line) == 1; p = strchr(p, '\n') + 1) {
		if (has(all, line) || has(dyn, line))
			snprintf(found + strlen(found), sizeof(found) - strlen(found), " %s", line);
		if (!strchr(p, '\n'))
			break;
	}
	cr_assert_str_empty(found, "functions of %s in %s:%s", archive, lib, found);
}

/* The top of the source tree: next to the build directory, else from
 * __FILE__ (the compiler runs from the top of the tree). */
static const char *src_dir(void)
{
	static char dir[4200];
	char b[4000];
	snprintf(b, sizeof(b), "%s", t_build());
	char *slash = strrchr(b, '/');
	if (b[0] == '/' && slash) {
		*slash = 0;
		snprintf(dir, sizeof(dir), "%s/core/store.h", b);
		if (access(dir, R_OK) == 0) {
			snprintf(dir, sizeof(dir), "%s", b);
			return dir;
		}
	}
	snprintf(b, sizeof(b), "%s", __FILE__);
	slash = strrchr(b, '/');
	if (slash)
		*slash = 0;
	snprintf(dir, sizeof(dir), "%s/..", slash ? b : ".");
	return dir;
}

/* core/store.h lists the files of core/ bottom-up; each object may use
 * functions of the files before it only. */
Test(exports, core_files_call_only_the_files_below_them)
{
	char path[8192], order[64][32];
	int n = 0;
	snprintf(path, sizeof(path), "%s/core/store.h", src_dir());
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	char line[512];
	while (fgets(line, sizeof(line), f) && n < 64) {
		char name[32], ext;
		if (sscanf(line, " *   %31[a-z_].%c ", name, &ext) == 2 && ext == 'c')
			snprintf(order[n++], sizeof(order[0]), "%s", name);
	}
	fclose(f);
	cr_assert_gt(n, 5, "no list of core/'s files in %s", path);

	/* Every .c file of core/ is in the list. */
	char cmd[8192];
	int st;
	snprintf(cmd, sizeof(cmd), "cd %s/core && ls *.c | sed 's/\\.c$//'", src_dir());
	static char files[8192];
	snprintf(files, sizeof(files), "%s", run(cmd, &st));
	cr_assert_eq(st, 0);
	char missing[1024] = "";
	for (char *p = strtok(files, "\n"); p; p = strtok(NULL, "\n")) {
		int k = 0;
		while (k < n && strcmp(order[k], p))
			k++;
		if (k == n)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %s.c", p);
	}
	cr_assert_str_empty(missing, "not in core/store.h's list of files:%s", missing);

	/* caller callee symbol, for each function one core object uses from
	 * another. */
	snprintf(cmd, sizeof(cmd),
		 "for o in %s/core/*.o; do f=$(basename $o .o); "
		 "nm --defined-only $o | awk -v f=$f '$2 == \"T\" {print \"D\", f, $3}'; "
		 "nm -u $o | awk -v f=$f '{print \"U\", f, $2}'; done "
		 "| awk '$1 == \"D\" {def[$3] = $2; next} {u[NR] = $2 \" \" $3} "
		 "END {for (i in u) {split(u[i], a, \" \"); "
		 "if ((a[2] in def) && def[a[2]] != a[1]) print a[1], def[a[2]], a[2]}}' | sort -u",
		 t_build());
	const char *calls = run(cmd, &st);
	cr_assert_eq(st, 0);
	cr_assert_neq(calls[0], 0, "no calls between core objects found in %s/core", t_build());
	char bad[4096] = "";
	char caller[64], callee[64], sym[128];
	for (const char *p = calls; sscanf(p, "%63s %63s %127s", caller, callee, sym) == 3;) {
		int a = -1, b = -1;
		for (int k = 0; k < n; k++) {
			if (!strcmp(order[k], caller))
				a = k;
			if (!strcmp(order[k], callee))
				b = k;
		}
		if (a < 0 || b < 0 || b > a)
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), "\n  %s.c -> %s.c (%s)",
				 caller, callee, sym);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	cr_assert_str_empty(bad, "calls against the order of core/store.h:%s", bad);
}
