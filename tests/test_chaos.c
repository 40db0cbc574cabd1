/* Chaos: worker processes doing random store operations are killed with
 * SIGKILL at random moments, thousands of times, and the store must stay
 * consistent for everyone else: robust locks recovered, no leaked charge,
 * no half-made entry, every memfd accounted for (tests/chaos/). */
#include "common.h"
#include "chaos/chaos.h"

Test(chaos, store_survives_thousands_of_sigkills, .timeout = 600)
{
	struct chaos_result r;
	cr_assert_eq(chaos_run(t_keeper(), &r), 0, "%s", r.failure);
	cr_expect_eq(r.failures, 0,
		     "%lu failures; first: %s\nfirst ms_check message: %s\nafter removing "
		     "everything: used %llu bytes, %llu nodes; keeper fds %d (%d file memfds, pool %d)",
		     r.failures, r.failure, r.first_check[0] ? r.first_check : "(none)",
		     (unsigned long long)r.after_drain.used_bytes,
		     (unsigned long long)r.after_drain.used_nodes, r.keeper_fds, r.keeper_memfds,
		     r.pool);
	long want = chaos_kills() < CH_MIN_KILLS ? chaos_kills() : CH_MIN_KILLS;
	cr_expect_geq((long)r.kills, want, "only %lu kills", r.kills);
	cr_expect_gt(r.kills_in_op, 0, "no kill landed inside a store operation");
	cr_expect_gt(r.refused, 0, "the quota was never reached");
	cr_expect_gt(r.ops, r.kills, "workers did almost nothing between kills");
}
