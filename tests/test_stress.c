/* Stress: threads in several processes hammer create/write/truncate/unlink
 * on one store while a checker verifies, again and again, that the ledger
 * equals the sum of charges and stays within the quota. The run and its
 * pass criteria: tests/stress/stress.h. */
#include "common.h"
#include "stress/stress.h"

Test(stress, ledger_invariant_holds_under_threads_and_processes, .timeout = 300)
{
	struct stress_result r;
	char why[1024];
	cr_assert_eq(stress_run(t_keeper(), &r), 0, "%s", r.failure);
	for (int i = 0; i < STRESS_CRITERIA; i++) {
		int held = stress_judge(&r, i, why, sizeof(why));
		cr_assert(held, "%s", why);
	}
}
