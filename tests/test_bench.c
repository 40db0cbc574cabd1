/* The benchmark (bench/bench.c, `make bench`) still runs: one tiny round
 * (--smoke) exits 0 and prints a row for every workload of issue 15. A
 * benchmark is run on purpose; this test asserts no time and no ratio. */
#include "common.h"

/* The rows, as the table names them. */
static const char *rows[] = {
	"stat",
	"readdir of 10,000 entries",
	"open+close of an existing file",
	"create + write 4 KiB + close + unlink",
	"fopen(\"w\") + fwrite 4 KiB + fclose",
	"pread 4 KiB at random offsets of 64 MiB",
	"pwrite 4 KiB at random offsets of 64 MiB",
	"1 MiB sequential read of 256 MiB",
	"1 MiB sequential write of 256 MiB",
	"posix_spawn + waitpid of /bin/true, shim loaded vs not",
	"posix_spawn + waitpid of a program that opens one file, store vs tmpfs",
	"open, stat, pread on real paths, shim loaded vs not",
	"files in one store, hard fd limit 20,000",
};

Test(bench, smoke_round_prints_every_row, .timeout = 300)
{
	static char out[65536];
	char cmd[8192];
	/* A sanitizer build's runtime must come first in the store side's
	 * preload. */
	const char *first = getenv("MEMSHIM_TEST_PRELOAD_FIRST");
	snprintf(cmd, sizeof(cmd),
		 "env -u MEMSHIM_STORE_ID -u LD_PRELOAD ASAN_OPTIONS=detect_leaks=0 "
		 "%s/bench/bench --smoke --preload '%s%s%s' 2>&1",
		 t_build(), first && *first ? first : "", first && *first ? " " : "", t_lib());
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	int st = pclose(p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x, output:\n%s", st, out);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char row[256];
		snprintf(row, sizeof(row), "\n| %s | ", rows[i]);
		cr_assert_not_null(strstr(out, row), "no row \"%s\" in:\n%s", rows[i], out);
	}
	/* The files row counts what it made until the store refused: the
	 * smoke run's target of 100 files is its node limit (and the
	 * directory's node), far under the fd limit. */
	cr_assert_not_null(strstr(out, "| 100, then ENOSPC at the node limit |"), "%s", out);
}
