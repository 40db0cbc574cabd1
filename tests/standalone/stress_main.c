/* The stress run without Criterion, for the TSan build (Criterion cannot
 * start under ThreadSanitizer). Exit status 0 when every criterion of
 * tests/stress/stress.h held. */
#include <stdio.h>
#include <stdlib.h>

#include "stress/stress.h"

int main(void)
{
	struct stress_result r;
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	char keeper[4096], why[1024];
	snprintf(keeper, sizeof(keeper), "%s/memshim-keeper", b ? b : "build");
	if (stress_run(keeper, &r)) {
		fprintf(stderr, "stress: %s\n", r.failure);
		return 1;
	}
	int ok = 1;
	for (int i = 0; i < STRESS_CRITERIA; i++)
		if (!stress_judge(&r, i, why, sizeof(why))) {
			fprintf(stderr, "stress: FAILED: %s\n", why);
			ok = 0;
		}
	printf("stress: %d passed, %d failed\n", ok, !ok);
	return ok ? 0 : 1;
}
