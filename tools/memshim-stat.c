/* memshim-stat — what a store holds, for people and for tests.
 *
 *   memshim-stat [--json] [NAME]
 *
 * Joins the store NAME (default: MEMSHIM_STORE_ID, then MEMSHIM_STORE: the
 * store of the process tree it runs in) as an observer (not counted as a
 * process of the tree) and prints its ledger, its biggest files and the
 * programs attached so far, one "key: value" per line; with --json, the
 * report's JSON (doc/report.md) with "final": false. Exit status 1 when no
 * such store is alive, 2 on bad usage, 3 when the consistency check fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define TOP 10

struct top {
	char path[TOP][512];
	uint64_t size[TOP];
	int n;
};

static int keep_biggest(void *arg, const char *path, uint64_t size)
{
	struct top *t = arg;
	int i = t->n < TOP ? t->n++ : TOP - 1;
	if (i == TOP - 1 && t->n == TOP && size <= t->size[TOP - 1])
		return 0;
	while (i > 0 && t->size[i - 1] < size) {
		t->size[i] = t->size[i - 1];
		memcpy(t->path[i], t->path[i - 1], sizeof(t->path[i]));
		i--;
	}
	t->size[i] = size;
	snprintf(t->path[i], sizeof(t->path[i]), "%s", path);
	return 0;
}

int main(int argc, char **argv)
{
	int json = 0, a = 1;
	if (a < argc && !strcmp(argv[a], "--json")) {
		json = 1;
		a++;
	}
	const char *name = a < argc ? argv[a] : getenv("MEMSHIM_STORE_ID");
	if (!name || !*name)
		name = getenv("MEMSHIM_STORE");
	if (!name || !*name || argc > a + 1 || (name[0] == '-' && a < argc)) {
		fprintf(stderr, "usage: memshim-stat [--json] [NAME]  (or run it inside a memshim tree)\n");
		return 2;
	}
	struct ms_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.log_level = MS_LOG_ERROR;
	struct ms_open_opts o = {.cfg = &cfg, .keeper_path = "/nonexistent", .observer = 1};
	ms_store *s;
	int r = ms_store_attach(name, &o, &s);
	if (r) {
		fprintf(stderr, "memshim-stat: store %s: %s\n", name,
			r == -ENOENT ? "no such store (its tree has ended)" : strerror(-r));
		return 1;
	}
	char msg[512];
	if (json) {
		ms_report_json(stdout, s, NULL, 0);
		r = ms_check(s, msg, sizeof(msg));
		if (r)
			fprintf(stderr, "memshim-stat: inconsistent: %s\n", msg);
		ms_store_close(s);
		return r ? 3 : 0;
	}
	struct ms_stats st;
	ms_stats_get(s, &st);
	printf("store: %s\n", name);
	printf("max_bytes: %llu\nused_bytes: %llu\npeak_bytes: %llu\n",
	       (unsigned long long)st.max_bytes, (unsigned long long)st.used_bytes,
	       (unsigned long long)st.peak_bytes);
	printf("max_nodes: %llu\nused_nodes: %llu\npeak_nodes: %llu\n",
	       (unsigned long long)st.max_nodes, (unsigned long long)st.used_nodes,
	       (unsigned long long)st.peak_nodes);
	printf("refused: %llu\nlargest_refused: %llu\nguard_refused: %llu\n",
	       (unsigned long long)st.refused, (unsigned long long)st.largest_refused,
	       (unsigned long long)st.guard_refused);
	printf("uncounted_bytes: %llu\n", (unsigned long long)st.uncounted_bytes);
	printf("orphans: %llu\n", (unsigned long long)st.orphans);
	printf("files: %llu\ndirs: %llu\nsymlinks: %llu\n", (unsigned long long)st.files,
	       (unsigned long long)st.dirs, (unsigned long long)st.symlinks);
	printf("processes: %llu\n", (unsigned long long)st.attached);
	printf("memfds: %llu held by the keeper, %llu by %llu holder processes\n",
	       (unsigned long long)st.memfds_keeper, (unsigned long long)st.memfds_holders,
	       (unsigned long long)st.holders);
	printf("holder_requests: %llu\n", (unsigned long long)st.holder_makes);
	struct top t = {.n = 0};
	ms_stats_files(s, 0, keep_biggest, &t);
	for (int i = 0; i < t.n; i++)
		printf("file: %llu %s\n", (unsigned long long)t.size[i], t.path[i]);
	struct ms_prog_stats progs[64];
	int np = ms_stats_progs(s, progs, 64);
	for (int i = 0; i < np && i < 64; i++)
		printf("program: %s processes=%llu written=%llu held=%llu peak_held=%llu\n",
		       progs[i].name, (unsigned long long)progs[i].processes,
		       (unsigned long long)progs[i].written, (unsigned long long)progs[i].held,
		       (unsigned long long)progs[i].peak_held);
	r = ms_check(s, msg, sizeof(msg));
	printf("consistent: %s\n", r ? msg : "yes");
	ms_store_close(s);
	return r ? 3 : 0;
}
