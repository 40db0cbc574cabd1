/* Chaos: worker processes doing random store operations are killed with
 * SIGKILL at random moments, thousands of times, and the store must stay
 * consistent for everyone else: robust locks recovered, no leaked charge,
 * no half-made entry, every memfd accounted for. The run and its pass
 * criteria: tests/chaos/chaos.h. */
#include <sys/resource.h>

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

/* The same under a hard fd limit of 100, set before the store starts: the
 * keeper holds 50 memfds and holder processes the rest (the run keeps up
 * to 200 nodes and a pool of 64), so workers killed while they take,
 * name, re-open or give back a holder's memfd must leave every one of
 * them accounted for too. */
Test(chaos, store_survives_sigkills_with_memfds_in_holders, .timeout = 600)
{
	struct chaos_result r;
	char why[2048];
	struct rlimit rl = {100, 100};
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	setenv("MEMSHIM_CHAOS_KILLS", "2000", 0);
	cr_assert_eq(chaos_run(t_keeper(), &r), 0, "%s", r.failure);
	for (int i = 0; i < CHAOS_CRITERIA; i++) {
		int held = chaos_judge(&r, i, why, sizeof(why));
		cr_expect(held, "%s", why);
	}
}
