/* tests/helpers/ops.h — what the differential helper programs share (see
 * tests/test_e2e_diff.c): D, the directory under test; P(name), its path
 * in one of a few rotating buffers; en(errno), the errno's name. */
#ifndef MEMSHIM_TESTS_HELPERS_OPS_H
#define MEMSHIM_TESTS_HELPERS_OPS_H

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *D;

static const char *P(const char *name)
{
	static char buf[8][PATH_MAX];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, sizeof(buf[0]), "%s/%s", D, name);
	return b;
}

static const char *en(int e) { return strerrorname_np(e) ? strerrorname_np(e) : "?"; }

#endif
