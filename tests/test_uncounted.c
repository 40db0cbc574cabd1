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

/* A pass copies its files out RECONCILE_CHUNK (512) at a time, each chunk
 * under a brief hold of ns_lock (keeper/rounds.c): raw writes to files on
 * either side of the chunks' edges, among 1,500, are all found. Each
 * write of 5,000 bytes is two pages the ledger never charged. */
Test(uncounted, raw_writes_are_found_across_the_chunks_of_a_pass)
{
	char out[8192], cmd[4096];
	const char *b = t_build();
	snprintf(cmd, sizeof(cmd),
		 "i=0; while [ $i -lt 1500 ]; do i=$((i+1)); : > /mem/f$i; done; "
		 "for i in 1 512 513 1024 1025 1500; do %s/tests/helpers/rawwrite /mem/f$i 5000; done; "
		 "i=0; while [ $i -lt 300 ] && ! %s/memshim-stat | grep -q \"uncounted_bytes: 49152\"; "
		 "do i=$((i+1)); sleep 0.1; done; %s/memshim-stat",
		 b, b, b);
	int st = t_sh("MEMSHIM_QUOTA=64M", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(strstr(out, "uncounted_bytes: 49152"), "%s", out);
}
