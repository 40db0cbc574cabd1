/* The chaos run without Criterion, for the TSan build (Criterion cannot
 * start under ThreadSanitizer) and for long runs by hand:
 *   MEMSHIM_CHAOS_KILLS=50000 build/tests/standalone/chaos_main
 * Prints the figures and "chaos: N passed, N failed"; exit status 0 when
 * every check held. */
#include <stdio.h>
#include <stdlib.h>

#include "chaos/chaos.h"

int main(void)
{
	struct chaos_result r;
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	char keeper[4096];
	snprintf(keeper, sizeof(keeper), "%s/memshim-keeper", b ? b : "build");
	if (chaos_run(keeper, &r)) {
		fprintf(stderr, "chaos: %s\n", r.failure);
		printf("chaos: 0 passed, 1 failed\n");
		return 1;
	}
	long want = chaos_kills() < CH_MIN_KILLS ? chaos_kills() : CH_MIN_KILLS;
	int ok = r.failures == 0 && (long)r.kills >= want && r.kills_in_op > 0 && r.refused > 0 &&
		 r.ops > r.kills;
	if (!ok)
		fprintf(stderr,
			"chaos: FAILED: %lu failures, first: %s; first ms_check message: %s; after "
			"removing everything: used %llu bytes, %llu nodes; keeper fds %d (%d file "
			"memfds, pool %d); %lu kills (%lu inside an operation), %lu refused\n",
			r.failures, r.failures ? r.failure : "(none)",
			r.first_check[0] ? r.first_check : "(none)",
			(unsigned long long)r.after_drain.used_bytes,
			(unsigned long long)r.after_drain.used_nodes, r.keeper_fds, r.keeper_memfds,
			r.pool, r.kills, r.kills_in_op, r.refused);
	printf("chaos: %d passed, %d failed\n", ok, !ok);
	return ok ? 0 : 1;
}
