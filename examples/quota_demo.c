/* quota_demo — the store's main job in one run, on the built-in defaults
 * (or whatever MEMSHIM_* says): a program writes into /mem until the quota
 * refuses it, the refusal comes before anything is stored, another process
 * of the tree reads the file after the writer is gone, and the keeper goes
 * away with the tree.
 *
 * It drives core/ directly; once the shim wraps libc, the same happens to
 * any unmodified program under LD_PRELOAD=libmemshim.so.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

#define CHUNK (1 << 20)

static void mib(char *b, size_t n, uint64_t v)
{
	snprintf(b, n, "%.1f MiB", (double)v / (1 << 20));
}

int main(int argc, char **argv)
{
	struct ms_config cfg;
	char err[512], keeper[PATH_MAX], a[32], b[32];
	ms_store *s;
	if (ms_config_load(&cfg, NULL, err, sizeof(err))) {
		fprintf(stderr, "memshim: %s\n", err);
		return 2;
	}
	/* The keeper is built next to this program's directory. */
	snprintf(keeper, sizeof(keeper), "%s", argv[0]);
	char *slash = strrchr(keeper, '/');
	snprintf(slash ? slash + 1 : keeper, sizeof(keeper) - (size_t)(slash ? slash + 1 - keeper : 0),
		 "../memshim-keeper");
	struct ms_open_opts o = {.cfg = &cfg, .keeper_path = keeper};
	int r = ms_store_open(&o, &s);
	if (r) {
		fprintf(stderr, "memshim: cannot open the store: %s\n", strerror(-r));
		return 1;
	}
	struct ms_stats sts;
	ms_stats_get(s, &sts);
	mib(a, sizeof(a), sts.max_bytes);
	printf("store %s: quota %s, %llu nodes, prefix %s, keeper pid %d\n", ms_store_name(s), a,
	       (unsigned long long)sts.max_nodes, cfg.prefix[0], (int)ms_store_keeper_pid(s));

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/demo.bin", cfg.prefix[0]);
	int fd;
	ms_ino ino;
	r = ms_open(s, 0, path, O_CREAT | O_WRONLY | O_TRUNC, 0644, &fd, &ino);
	if (r) {
		fprintf(stderr, "open %s: %s\n", path, strerror(-r));
		return 1;
	}
	char *buf = malloc(CHUNK);
	memset(buf, 'm', CHUNK);
	uint64_t written = 0;
	for (;;) {
		struct ms_wctx w;
		int64_t off;
		r = ms_write_begin(s, ino, fd, 0, CHUNK, 1, &w, &off);
		if (r)
			break;
		ssize_t k = pwrite(fd, buf, CHUNK, off);
		ms_write_end(s, &w, k < 0 ? -errno : k);
		if (k < 0)
			break;
		written += (uint64_t)k;
	}
	struct stat st;
	fstat(fd, &st);
	mib(a, sizeof(a), written);
	mib(b, sizeof(b), (uint64_t)st.st_size);
	printf("wrote %s in 1 MiB writes; the next one failed: %s\n", a, strerror(-r));
	printf("file size after the refusal: %s (nothing of the refused write was stored)\n", b);
	ms_ino_put(s, ino); /* while the fd still holds the file */
	close(fd);

	pid_t p = fork();
	if (p == 0) {
		/* A second process joins by name, as an exec'd child would. */
		ms_store *c;
		if (ms_store_attach(ms_store_name(s), &o, &c))
			_exit(1);
		struct stat cs;
		_exit(ms_stat(c, 0, path, 0, &cs) == 0 && cs.st_size == st.st_size ? 0 : 1);
	}
	int status;
	waitpid(p, &status, 0);
	printf("another process of the tree sees %s: %s\n", path,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes, same size" : "NO");

	ms_stats_get(s, &sts);
	mib(a, sizeof(a), sts.peak_bytes);
	mib(b, sizeof(b), sts.largest_refused);
	printf("peak %s of %llu bytes quota, %llu nodes; %llu refused (largest %s)\n", a,
	       (unsigned long long)sts.max_bytes, (unsigned long long)sts.peak_nodes,
	       (unsigned long long)sts.refused, b);
	char msg[256];
	r = ms_check(s, msg, sizeof(msg));
	printf("consistency check: %s\n", r ? msg : "ledger == sum of charges <= quota");
	free(buf);
	return r ? 1 : 0;
}
