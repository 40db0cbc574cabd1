/* tests/stress/stress.h — the stress run, run by the Criterion test
 * (tests/test_stress.c) and the standalone program the TSan build runs
 * (tests/standalone/stress_main.c), and the one statement of what makes it
 * pass.
 *
 * The run. Threads in several processes (3 forked processes and the
 * parent, 3 threads each) hammer create/write/truncate/unlink/rename,
 * open-unlink-keep-writing orphans, and sparse files (short writes up to
 * 1 GiB in, holes up to 1 TiB, fallocate and punched holes, pages stored
 * through shared mappings of 2 more files) on 24 names of one store with a tight
 * quota (1 MiB, 64 nodes), MEMSHIM_STRESS_ITERS operations per thread
 * (20000), while a checker thread runs ms_check again and again: the
 * ledger equals the sum of charges and stays within the quota, and the
 * namespace is whole.
 *
 * Pass criteria (stress_judge), criterion:
 *  0. no failure: ms_check never failed, neither while the threads ran nor
 *     once they were done, and every forked process attached and exited
 *     with status 0;
 *  1. more than 10 checks ran;
 *  2. the quota refused at least one operation;
 *  3. with the 26 names removed, used_bytes is back to 0,
 *  4. and used_nodes too;
 *  5. the peak of used_bytes never exceeded the quota;
 *  6. some writes past 1 MiB succeeded (a sparse file is charged its
 *     pages, not its size).
 * The run does not start (stress_run returns -1) when the shared memory
 * cannot be mapped or the store cannot be created.
 */
#ifndef MEMSHIM_TESTS_STRESS_STRESS_H
#define MEMSHIM_TESTS_STRESS_STRESS_H

#include <stddef.h>

struct stress_result {
	unsigned long ops, refused, checks, failures, far;
	unsigned long used_bytes_after, used_nodes_after, peak_bytes, max_bytes;
	char failure[512]; /* what failed */
};

/* Runs the stress on a fresh store with its keeper. Returns 0 with *res
 * filled, or -1 when the set-up itself failed (reason in res->failure). */
int stress_run(const char *keeper, struct stress_result *res);

/* Criterion i (0 .. STRESS_CRITERIA - 1) of a finished run: 1 when it
 * holds, else 0 with what was seen in why. */
#define STRESS_CRITERIA 7
int stress_judge(const struct stress_result *r, int i, char *why, size_t n);

#endif
