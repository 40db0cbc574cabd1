/* The chaos run without Criterion, for the TSan build (Criterion cannot
 * start under ThreadSanitizer) and for long runs by hand:
 *   MEMSHIM_CHAOS_KILLS=50000 build/tests/standalone/chaos_main
 * Prints the figures and "chaos: N passed, N failed"; exit status 0 when
 * every criterion of tests/chaos/chaos.h held. */
#include <stdio.h>
#include <stdlib.h>

#include "chaos/chaos.h"

int main(void)
{
	struct chaos_result r;
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	char keeper[4096], why[2048];
	snprintf(keeper, sizeof(keeper), "%s/memshim-keeper", b ? b : "build");
	if (chaos_run(keeper, &r)) {
		fprintf(stderr, "chaos: %s\n", r.failure);
		printf("chaos: 0 passed, 1 failed\n");
		return 1;
	}
	int ok = 1;
	for (int i = 0; i < CHAOS_CRITERIA; i++)
		if (!chaos_judge(&r, i, why, sizeof(why))) {
			fprintf(stderr, "chaos: FAILED: %s\n", why);
			ok = 0;
		}
	printf("chaos: %d passed, %d failed\n", ok, !ok);
	return ok ? 0 : 1;
}
