/* Bytes that reach a store file behind the shim's back (a raw write(2), a
 * static binary) are found by the keeper, reported as uncounted, and their
 * file is sealed against growth once the quota is exceeded. */
#include "common.h"

Test(uncounted, raw_writes_are_found_reported_and_sealed)
{
	char out[8192], cmd[4096];
	const char *b = t_build();
	snprintf(cmd, sizeof(cmd),
		 "%s/tests/helpers/rawwrite /mem/raw 100000; sleep 1.5; %s/memshim-stat; "
		 "%s/tests/helpers/rawwrite /mem/raw 10; stat -c size=%%s /mem/raw",
		 b, b, b);
	int st = t_sh("MEMSHIM_QUOTA=64K", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	/* The raw write itself gets through: the shim never saw it. */
	cr_assert_not_null(strstr(out, "raw_write=100000 errno=0"), "%s", out);
	/* The keeper found it: 100000 bytes are 25 pages the ledger never charged. */
	cr_assert_not_null(strstr(out, "uncounted_bytes: 102400"), "%s", out);
	char node[64];
	snprintf(node, sizeof(node), "used_bytes: %llu\n", (unsigned long long)ms_node_cost(S_IFREG));
	cr_assert_not_null(strstr(out, node), "the ledger holds only the file's fixed cost: %s", out);
	/* Past the quota: the file may not grow any more, whoever writes. */
	cr_assert_not_null(strstr(out, "raw_write=-1 errno=EPERM"), "%s", out);
	cr_assert_not_null(strstr(out, "size=100000"), "stat shows the real size: %s", out);
}

Test(uncounted, raw_writes_within_the_quota_are_only_reported)
{
	char out[8192], cmd[4096];
	const char *b = t_build();
	snprintf(cmd, sizeof(cmd),
		 "%s/tests/helpers/rawwrite /mem/raw 5000; sleep 1.5; %s/memshim-stat; "
		 "%s/tests/helpers/rawwrite /mem/raw 10",
		 b, b, b);
	int st = t_sh("MEMSHIM_QUOTA=1M", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(strstr(out, "uncounted_bytes: 8192"), "%s", out);
	cr_assert_not_null(strstr(out, "raw_write=10 errno=0"), "not sealed below the quota: %s", out);
}
