/* ms_tool — a small program that uses core/ directly, for tests that need a
 * second, unrelated process of the tree (exec'd, not forked).
 *
 *   ms_tool new [path text]   create a store with its keeper (limits from
 *                             MEMSHIM_*), optionally write a file, print
 *                             "<name> <keeper pid>" and exit
 *   ms_tool cat NAME PATH     join store NAME, print the file
 *   ms_tool put NAME PATH TEXT  join store NAME, write the file
 *   ms_tool noproc-cat NAME PATH  like cat, never through /proc
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static char keeper[4096];

static int fail(const char *what, int r)
{
	fprintf(stderr, "ms_tool: %s: %s\n", what, strerror(-r));
	return 1;
}

static int put(ms_store *s, const char *path, const char *text)
{
	int fd;
	ms_ino ino;
	int r = ms_open(s, 0, path, O_CREAT | O_WRONLY | O_TRUNC, 0644, &fd, &ino);
	if (r)
		return fail("open", r);
	struct ms_wctx w;
	int64_t off;
	size_t n = strlen(text);
	r = ms_write_begin(s, ino, fd, 0, n, 0, &w, &off);
	if (r)
		return fail("write", r);
	ssize_t k = pwrite(fd, text, n, off);
	ms_write_end(s, &w, k < 0 ? -errno : k);
	ms_ino_put(s, ino); /* while the fd still holds the file */
	close(fd);
	return k == (ssize_t)n ? 0 : 1;
}

static int cat(ms_store *s, const char *path)
{
	int fd;
	ms_ino ino;
	char buf[4096];
	int r = ms_open(s, 0, path, O_RDONLY, 0, &fd, &ino);
	if (r)
		return fail("open", r);
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	ms_ino_put(s, ino); /* while the fd still holds the file */
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct ms_config cfg;
	char err[512];
	ms_store *s;
	int r = ms_config_load(&cfg, NULL, err, sizeof(err));
	if (r) {
		fprintf(stderr, "ms_tool: %s\n", err);
		return 2;
	}
	const char *b = getenv("MEMSHIM_TEST_BUILD");
	snprintf(keeper, sizeof(keeper), "%s/memshim-keeper", b ? b : "build");
	struct ms_open_opts o = {.cfg = &cfg, .keeper_path = keeper};
	if (argc >= 2 && strcmp(argv[1], "new") == 0) {
		r = ms_store_open(&o, &s);
		if (r)
			return fail("create", r);
		if (argc == 4 && put(s, argv[2], argv[3]))
			return 1;
		printf("%s %d\n", ms_store_name(s), (int)ms_store_keeper_pid(s));
		return 0;
	}
	if (argc < 4)
		return 2;
	o.no_proc = strcmp(argv[1], "noproc-cat") == 0;
	r = ms_store_attach(argv[2], &o, &s);
	if (r)
		return fail("attach", r);
	if (strcmp(argv[1], "put") == 0 && argc == 5)
		return put(s, argv[3], argv[4]);
	return cat(s, argv[3]);
}
