/* tests/helpers/check.h — CHECK for the helper programs that test
 * themselves: a failed condition prints "FAIL function:line: message" on
 * stdout and is counted in check_fails; the program goes on, so one run
 * shows every failure, and exits non-zero when any (its main's business). */
#ifndef MEMSHIM_TESTS_HELPERS_CHECK_H
#define MEMSHIM_TESTS_HELPERS_CHECK_H

#include <stdio.h>

static int check_fails;

#define CHECK(cond, ...)                                                           \
	do {                                                                       \
		if (!(cond)) {                                                     \
			printf("FAIL %s:%d: ", __func__, __LINE__);                \
			printf(__VA_ARGS__);                                       \
			printf("\n");                                              \
			check_fails++;                                             \
		}                                                                  \
	} while (0)

#endif
