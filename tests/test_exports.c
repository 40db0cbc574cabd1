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
