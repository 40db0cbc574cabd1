/* Chaos: worker processes doing random store operations are killed with
 * SIGKILL at random moments, thousands of times, and the store must stay
 * consistent for everyone else: robust locks recovered, no leaked charge,
 * no half-made entry, every memfd accounted for. The run and its pass
 * criteria: tests/chaos/chaos.h. */
#include "common.h"
#include "chaos/chaos.h"

Test(chaos, store_survives_thousands_of_sigkills, .timeout = 600)
{
	struct chaos_result r;
	char why[2048];
	cr_assert_eq(chaos_run(t_keeper(), &r), 0, "%s", r.failure);
	for (int i = 0; i < CHAOS_CRITERIA; i++) {
		int held = chaos_judge(&r, i, why, sizeof(why));
		cr_expect(held, "%s", why);
	}
}
