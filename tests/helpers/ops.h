/* tests/helpers/ops.h — what the differential helper programs share (see
 * tests/test_e2e_diff.c): D, the directory under test; P(name), its path
 * in one of a few rotating buffers; en(errno), the errno's name. */
#ifndef MEMSHIM_TESTS_HELPERS_OPS_H
#define MEMSHIM_TESTS_HELPERS_OPS_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

static inline int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of directory path, "." and ".." too when dots, sorted by
 * name, strdup'ed into names (at most max; the caller frees them); -1
 * with errno when the directory cannot be opened. */
static inline int sorted_names(const char *path, int dots, char **names, int max)
{
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) && n < max)
		if (dots || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), names_cmp);
	return n;
}

#endif
