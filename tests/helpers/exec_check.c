/* tests/helpers/exec_check.c — joins the tree's store (MEMSHIM_STORE_ID)
 * through core and checks every invariant of its arena, for
 * tests/test_e2e_exec.c after a crash. Prints
 * "consistent files=N used_nodes=N" and exits 0, or the inconsistency and
 * exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int main(void)
{
	struct ms_config cfg;
	char msg[512];
	int r = ms_config_load(&cfg, NULL, msg, sizeof(msg));
	if (r) {
		fprintf(stderr, "exec_check: %s\n", msg);
		return 2;
	}
	const char *id = getenv("MEMSHIM_STORE_ID");
	if (!id) {
		fprintf(stderr, "exec_check: no MEMSHIM_STORE_ID\n");
		return 2;
	}
	char keeper[4096];
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	snprintf(keeper, sizeof(keeper), "%s/memshim-keeper", b ? b : "build");
	struct ms_open_opts o = {.cfg = &cfg, .keeper_path = keeper};
	ms_store *s;
	r = ms_store_attach(id, &o, &s);
	if (r) {
		fprintf(stderr, "exec_check: attach %s: %s\n", id, strerror(-r));
		return 2;
	}
	r = ms_check(s, msg, sizeof(msg));
	if (r) {
		printf("inconsistent: %s\n", msg);
		return 1;
	}
	struct ms_stats st;
	ms_stats_get(s, &st);
	printf("consistent files=%llu used_nodes=%llu\n", (unsigned long long)st.files,
	       (unsigned long long)st.used_nodes);
	ms_store_close(s);
	return 0;
}
