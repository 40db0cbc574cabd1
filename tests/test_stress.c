/* Stress: threads in several processes hammer create/write/truncate/unlink
 * on one store while a checker verifies, again and again, that the ledger
 * equals the sum of charges and stays within the quota (tests/stress.h). */
#include "common.h"
#include "stress.h"

Test(stress, ledger_invariant_holds_under_threads_and_processes, .timeout = 300)
{
	struct stress_result r;
	cr_assert_eq(stress_run(t_keeper(), &r), 0, "%s", r.failure);
	cr_assert_eq(r.failures, 0, "invariant broken: %s", r.failure);
	cr_assert_gt(r.checks, 10);
	cr_assert_gt(r.refused, 0, "the quota was never reached");
	cr_assert_eq(r.used_bytes_after, 0);
	cr_assert_eq(r.used_nodes_after, 0);
	cr_assert_leq(r.peak_bytes, r.max_bytes);
}
