/* The stress run without Criterion, for the TSan build (Criterion cannot
 * start under ThreadSanitizer). Exit status 0 when every check held. */
#include "stress.h"

int main(void)
{
	struct stress_result r;
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	char keeper[4096];
	snprintf(keeper, sizeof(keeper), "%s/memshim-keeper", b ? b : "build");
	if (stress_run(keeper, &r)) {
		fprintf(stderr, "stress: %s\n", r.failure);
		return 1;
	}
	int ok = r.failures == 0 && r.checks > 10 && r.refused > 0 && r.used_bytes_after == 0 &&
		 r.used_nodes_after == 0 && r.peak_bytes <= r.max_bytes;
	if (!ok)
		fprintf(stderr, "stress: FAILED: %s (bytes after %lu, nodes after %lu)\n", r.failure,
			r.used_bytes_after, r.used_nodes_after);
	printf("stress: %d passed, %d failed\n", ok, !ok);
	return ok ? 0 : 1;
}
