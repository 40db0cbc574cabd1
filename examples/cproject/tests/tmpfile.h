/* A file of the test's own in $TMPDIR (default /tmp), made with mkstemp
 * as most test suites make theirs. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int tmp_file(char *path, size_t n, const char *name)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, n, "%s/%s.XXXXXX", dir && *dir ? dir : "/tmp", name);
	return mkstemp(path);
}
