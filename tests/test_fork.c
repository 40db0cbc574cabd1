/* The shim's fork handlers, with threads: a child forked while other
 * threads hold the shim's process-local locks can take each of them.
 *
 * Not run in the ASan build: GCC 12's ASan does not take its allocator's
 * lock around fork, so a child forked while another thread is inside
 * malloc waits forever on it (seen: the child blocked in
 * SizeClassAllocator64::GetFromAllocator), whatever the shim does. */
#include "common.h"

static int sh(const char *env, const char *script, char *out, size_t n)
{
	return t_sh(env, script, out, n);
}

/* The one set of fork handlers: children forked while other threads hold
 * every process-local lock of the shim (cwd, streams, spawn file actions)
 * can take each of them (tests/helpers/forkstress.c). */
Test(fork, fork_while_threads_hold_the_shims_locks)
{
	char out[4096], cmd[1024];
	snprintf(cmd, sizeof(cmd), "mkdir /mem/fs && %s/tests/helpers/forkstress /mem/fs 300",
		 t_build());
	int st = sh("", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_str_eq(out, "ok 300\n");
}
