/* tests/stress/stress.c — the stress run: worker threads in several
 * processes, a checker thread, the final accounting (tests/stress/stress.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "store.h"
#include "stress.h"

#define NPROC 3
#define NTHREAD 3
#define NAMES 24
#define MAPS 2 /* files only written through mappings */
#define MAP_SIZE (256 << 10)

static int iters(void)
{
	const char *e = getenv("MEMSHIM_STRESS_ITERS");
	return e ? atoi(e) : 20000;
}

struct shared {
	atomic_ulong ops, refused, checks, failures, far;
	char failure[512];
};

static struct shared *sh;
static ms_store *store;

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) & 0xffffff;
}

static void one_op(ms_store *s, unsigned *seed)
{
	static __thread char buf[65536];
	char path[64], path2[64];
	snprintf(path, sizeof(path), "/mem/s%u", rnd(seed) % NAMES);
	snprintf(path2, sizeof(path2), "/mem/s%u", rnd(seed) % NAMES);
	unsigned op = rnd(seed) % 15;
	int fd, r = 0;
	ms_ino ino;
	struct ms_wctx w;
	int64_t off;
	switch (op) {
	case 0: case 1: case 2: case 3: { /* write somewhere, maybe append */
		int append = op == 3;
		r = ms_open(s, 0, path, O_CREAT | O_RDWR | (append ? O_APPEND : 0), 0644, &fd, &ino);
		if (r)
			break;
		size_t len = rnd(seed) % sizeof(buf);
		r = ms_write_begin(s, ino, fd, (int64_t)(rnd(seed) % 100000), len, append, &w, &off);
		if (r == 0) {
			ssize_t k = append ? write(fd, buf, len) : pwrite(fd, buf, len, off);
			ms_write_end(s, &w, k < 0 ? -errno : k);
		}
		ms_ino_put(s, ino); /* while the fd still holds the file */
		close(fd);
		break;
	}
	case 4: /* truncate, through an fd */
		r = ms_open(s, 0, path, O_RDWR, 0, &fd, &ino);
		if (r)
			break;
		r = ms_ftruncate(s, ino, fd, (off_t)(rnd(seed) % 150000));
		ms_ino_put(s, ino); /* while the fd still holds the file */
		close(fd);
		break;
	case 5:
		r = ms_open(s, 0, path, O_CREAT | O_WRONLY | O_TRUNC, 0644, &fd, &ino);
		if (r == 0) {
			ms_ino_put(s, ino); /* while the fd still holds the file */
			close(fd);
		}
		break;
	case 6:
	case 7:
		r = ms_unlink(s, 0, path);
		break;
	case 8:
		r = ms_rename(s, 0, path, 0, path2, 0);
		break;
	case 9: /* hold an fd across an unlink: an orphan */
		r = ms_open(s, 0, path, O_RDWR, 0, &fd, &ino);
		if (r)
			break;
		ms_unlink(s, 0, path);
		if (ms_write_begin(s, ino, fd, 0, 5000, 1, &w, &off) == 0) {
			ssize_t k = write(fd, buf, 5000);
			ms_write_end(s, &w, k < 0 ? -errno : k);
		}
		ms_ino_put(s, ino); /* while the fd still holds the file */
		close(fd);
		break;
	case 10: /* sparse: a short write far past the quota's size, or a
		  * dense one that fills holes */
		r = ms_open(s, 0, path, O_CREAT | O_RDWR, 0644, &fd, &ino);
		if (r)
			break;
		{
			int far = rnd(seed) % 2;
			int64_t at = far ? (int64_t)(rnd(seed) % 4096) << 18 : (int64_t)(rnd(seed) % 200000);
			size_t len = far ? 1 + rnd(seed) % 8192 : rnd(seed) % sizeof(buf);
			r = ms_write_begin(s, ino, fd, at, len, 0, &w, &off);
			if (r == 0) {
				ssize_t k = pwrite(fd, buf, len, off);
				ms_write_end(s, &w, k < 0 ? -errno : k);
				if (k > 0 && far && at > (1 << 20))
					atomic_fetch_add(&sh->far, 1);
			}
		}
		ms_ino_put(s, ino);
		close(fd);
		break;
	case 11: /* a hole up to 1 TiB, or a shrink */
		r = ms_open(s, 0, path, O_RDWR, 0, &fd, &ino);
		if (r)
			break;
		r = ms_ftruncate(s, ino, fd, (off_t)(rnd(seed) % 4096) << (rnd(seed) % 2 ? 28 : 6));
		ms_ino_put(s, ino);
		close(fd);
		break;
	case 12: { /* allocate, keep the size, or punch a hole */
		static const int modes[] = {0, FALLOC_FL_KEEP_SIZE,
					    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
		r = ms_open(s, 0, path, O_RDWR, 0, &fd, &ino);
		if (r)
			break;
		r = ms_fallocate(s, ino, fd, modes[rnd(seed) % 3], (off_t)(rnd(seed) % 300000),
				 (off_t)(1 + rnd(seed) % 200000));
		ms_ino_put(s, ino);
		close(fd);
		break;
	}
	case 13: { /* pages stored through a shared mapping, behind the ledger's
		    * back, settled by the next call on the file. Only this case
		    * touches the map files and it never shrinks them, so no
		    * mapping faults past their end. */
		char mp[32];
		snprintf(mp, sizeof(mp), "/mem/map%u", rnd(seed) % MAPS);
		r = ms_open(s, 0, mp, O_CREAT | O_RDWR, 0644, &fd, &ino);
		if (r)
			break;
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_size < MAP_SIZE)
			r = ms_ftruncate(s, ino, fd, MAP_SIZE);
		if (r == 0) {
			off_t at = (off_t)(rnd(seed) % (MAP_SIZE / 4096 - 16)) * 4096;
			char *m = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, at);
			if (m != MAP_FAILED) {
				for (int i = 0; i < 16; i += 1 + (int)(rnd(seed) % 4))
					m[i * 4096] = 'm';
				munmap(m, 16 * 4096);
			}
			at = (off_t)(rnd(seed) % MAP_SIZE);
			switch (rnd(seed) % 3) {
			case 0:
				r = ms_write_begin(s, ino, fd, at, 1, 0, &w, &off);
				if (r == 0) {
					ssize_t k = pwrite(fd, "w", 1, off);
					ms_write_end(s, &w, k < 0 ? -errno : k);
				}
				break;
			case 1:
				r = ms_fallocate(s, ino, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at,
						 65536);
				break;
			}
		}
		ms_ino_put(s, ino);
		close(fd);
		break;
	}
	case 14: { /* a copy through this process's mapping (core/mapio.c), as
		    * the shim's pread and pwrite make them, while others grow,
		    * shrink and punch the same files: no copy may fault (the
		    * data lock) or fill a hole (the ledger would not add up) */
		r = ms_open(s, 0, path, O_RDWR, 0, &fd, &ino);
		if (r)
			break;
		struct ms_mio io;
		uint64_t at = rnd(seed) % 150000;
		size_t len = 1 + rnd(seed) % 16384;
		int wr = rnd(seed) % 2;
		if (ms_mio_begin(s, ino, fd, O_RDWR, at, len, wr, 1, &io) == MS_MIO_OK) {
			if (wr)
				memcpy(io.at, buf, io.len);
			else
				memcpy(buf, io.at, io.len);
			ms_mio_end(s, &io, io.len);
		}
		if (rnd(seed) % 4 == 0)
			ms_mio_forget(s, ino); /* as the shim's last close does */
		ms_ino_put(s, ino);
		close(fd);
		break;
	}
	}
	atomic_fetch_add(&sh->ops, 1);
	if (r == -ENOSPC)
		atomic_fetch_add(&sh->refused, 1);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < iters(); i++)
		one_op(store, &seed);
	return NULL;
}

static void *checker(void *arg)
{
	atomic_int *done = arg;
	char msg[512];
	while (!atomic_load(done)) {
		if (ms_check(store, msg, sizeof(msg))) {
			if (atomic_fetch_add(&sh->failures, 1) == 0)
				snprintf(sh->failure, sizeof(sh->failure), "%s", msg);
		}
		atomic_fetch_add(&sh->checks, 1);
	}
	return NULL;
}

int stress_run(const char *keeper, struct stress_result *res)
{
	memset(res, 0, sizeof(*res));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	/* A tight quota so refusals happen all the time. */
	struct ms_config c = t_config(1 << 20, 64);
	struct ms_open_opts o = {.cfg = &c, .keeper_path = keeper};
	if (ms_store_open(&o, &store)) {
		snprintf(res->failure, sizeof(res->failure), "cannot create the store");
		return -1;
	}
	pid_t kids[NPROC];
	for (int p = 0; p < NPROC; p++) {
		kids[p] = fork();
		if (kids[p] == 0) {
			if (ms_store_attach(ms_store_name(store), &o, &store))
				_exit(2);
			pthread_t t[NTHREAD];
			for (int i = 0; i < NTHREAD; i++)
				pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(p * 100 + i + 1));
			for (int i = 0; i < NTHREAD; i++)
				pthread_join(t[i], NULL);
			_exit(0);
		}
	}
	atomic_int done = 0;
	pthread_t chk, own[NTHREAD];
	pthread_create(&chk, NULL, checker, (void *)&done);
	for (int i = 0; i < NTHREAD; i++)
		pthread_create(&own[i], NULL, worker, (void *)(uintptr_t)(1000 + i));
	for (int i = 0; i < NTHREAD; i++)
		pthread_join(own[i], NULL);
	for (int p = 0; p < NPROC; p++) {
		int st;
		waitpid(kids[p], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			atomic_fetch_add(&sh->failures, 1);
			snprintf(sh->failure, sizeof(sh->failure), "worker process %d: status %d", p, st);
		}
	}
	atomic_store(&done, 1);
	pthread_join(chk, NULL);
	char msg[512];
	if (ms_check(store, msg, sizeof(msg))) {
		atomic_fetch_add(&sh->failures, 1);
		snprintf(sh->failure, sizeof(sh->failure), "final check: %.400s", msg);
	}
	/* Everything removed: every byte and node must come back. */
	for (int i = 0; i < NAMES; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/mem/s%d", i);
		ms_unlink(store, 0, path);
	}
	for (int i = 0; i < MAPS; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/mem/map%d", i);
		ms_unlink(store, 0, path);
	}
	struct ms_stats st;
	ms_stats_get(store, &st);
	res->ops = atomic_load(&sh->ops);
	res->refused = atomic_load(&sh->refused);
	res->far = atomic_load(&sh->far);
	res->checks = atomic_load(&sh->checks);
	res->failures = atomic_load(&sh->failures);
	res->used_bytes_after = st.used_bytes;
	res->used_nodes_after = st.used_nodes;
	res->peak_bytes = st.peak_bytes;
	res->max_bytes = st.max_bytes;
	memcpy(res->failure, sh->failure, sizeof(res->failure));
	fprintf(stderr,
		"stress: %lu operations by %d processes x %d threads, %lu refused, "
		"%lu sparse writes past 1 MiB, %lu invariant checks, %lu failed\n",
		res->ops, NPROC + 1, NTHREAD, res->refused, res->far, res->checks, res->failures);
	ms_store_close(store);
	return 0;
}

int stress_judge(const struct stress_result *r, int i, char *why, size_t n)
{
	int held = 1;
	why[0] = 0;
	switch (i) {
	case 0:
		if (!(held = r->failures == 0))
			snprintf(why, n, "invariant broken: %s", r->failure);
		break;
	case 1:
		if (!(held = r->checks > 10))
			snprintf(why, n, "only %lu checks", r->checks);
		break;
	case 2:
		if (!(held = r->refused > 0))
			snprintf(why, n, "the quota was never reached");
		break;
	case 3:
		if (!(held = r->used_bytes_after == 0))
			snprintf(why, n, "%lu bytes used after removing everything",
				 r->used_bytes_after);
		break;
	case 4:
		if (!(held = r->used_nodes_after == 0))
			snprintf(why, n, "%lu nodes used after removing everything",
				 r->used_nodes_after);
		break;
	case 5:
		if (!(held = r->peak_bytes <= r->max_bytes))
			snprintf(why, n, "peak %lu bytes beyond the quota of %lu", r->peak_bytes,
				 r->max_bytes);
		break;
	case 6:
		if (!(held = r->far > 0))
			snprintf(why, n, "no write past 1 MiB succeeded under the 1 MiB quota");
		break;
	}
	return held;
}
