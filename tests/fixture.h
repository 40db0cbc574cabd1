/* tests/fixture.h — the store configuration tests start from, without
 * Criterion, so the standalone programs (stress, chaos) share it. */
#ifndef MEMSHIM_TESTS_FIXTURE_H
#define MEMSHIM_TESTS_FIXTURE_H

#include <errno.h>
#include <string.h>

#include "config.h"

/* A configuration with prefix /mem and the given limits, guard off. */
static inline struct ms_config t_config(uint64_t max_bytes, uint64_t max_nodes)
{
	struct ms_config c;
	memset(&c, 0, sizeof(c));
	strcpy(c.prefix[0], "/mem");
	c.nprefix = 1;
	c.max_bytes = max_bytes;
	c.max_nodes = max_nodes;
	c.quota_errno = ENOSPC;
	c.guard = MS_GUARD_NONE;
	c.guard_action = MS_GUARD_WARN;
	c.guard_interval_ns = 1000000000ULL;
	c.log_level = MS_LOG_ERROR;
	return c;
}

#endif
