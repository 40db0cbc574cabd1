/* tests/chaos/worker.c — the chaos run's worker processes: each attaches
 * to the store by name and runs its threads of random store operations for
 * ever, publishing in shared memory the operation each thread is inside
 * (tests/chaos/chaos.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

#define CH_HELD 6 /* fds and directory references a thread keeps open */

const char *const ch_opname[CH_NOPS] = {
	"none",    "write",  "bigwrite", "ftruncate", "fallocate", "open-trunc", "truncate",
	"unlink",  "mkdir",  "rmdir",    "rename",    "exchange",  "rename-storm", "link",
	"symlink", "orphan", "tmpfile",  "readdir",   "stat",      "xattr",      "hold",
	"close",   "attach",
};

static char ch_data[1 << 20]; /* what every write writes (read only once filled) */

unsigned ch_rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) & 0xffffff;
}

int64_t ch_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct ch_held {
	int fd;     /* -1: a directory reference */
	ms_ino ino;
};

struct ch_thr {
	ms_store *s;
	struct ch_slot *sl;
	int t;
	unsigned seed;
	struct ch_held held[CH_HELD];
	int nheld;
};

static void ch_begin(struct ch_thr *th, int op)
{
	atomic_store(&th->sl->since[th->t], ch_mono_ns());
	atomic_store(&th->sl->op[th->t], op);
}
static void ch_end(struct ch_thr *th) { atomic_store(&th->sl->op[th->t], CH_NONE); }

/* Errors a random mix of operations legitimately meets. Anything else
 * (EIO, EUCLEAN, EBADF, EMFILE, ENOMEM, EPROTO...) says the store broke. */
static int ch_expected(int e)
{
	switch (e) {
	case ENOENT: case EEXIST: case ENOTDIR: case EISDIR: case ENOTEMPTY: case ENOSPC:
	case EINVAL: case ELOOP: case EBUSY: case EMLINK: case ENAMETOOLONG: case EFBIG:
	case EPERM: case EXDEV: case MS_EESCAPE: case ENODATA: case ERANGE:
		return 1;
	}
	return 0;
}

/* Counts a store call that broke the store; the first is described. */
static void ch_unexpected(const char *what, const char *path, long r)
{
	atomic_fetch_add(&ch_sh->unexpected, 1);
	int z = 0;
	if (atomic_compare_exchange_strong(&ch_sh->unexpected_set, &z, 1))
		snprintf(ch_sh->unexpected_msg, sizeof(ch_sh->unexpected_msg),
			 "worker pid %d: %s(%s) returned %ld (%s)", (int)getpid(), what,
			 path ? path : "", r, strerror((int)-r));
}

static int ch_rc(struct ch_thr *th, const char *what, const char *path, long r)
{
	if (r >= 0)
		return (int)r;
	if (r == -ENOSPC)
		atomic_fetch_add(&ch_sh->refused, 1);
	if (!ch_expected((int)-r))
		ch_unexpected(what, path, r);
	return (int)r;
}

/* A path under /mem: up to two directory levels of d0..d2, then a leaf of
 * the kind asked ('f' file, 'd' directory, 'l' symlink, 0 any). */
static void ch_path(struct ch_thr *th, char *p, size_t n, int kind)
{
	unsigned depth = ch_rnd(&th->seed) % 3;
	size_t k = (size_t)snprintf(p, n, "/mem");
	for (unsigned i = 0; i < depth; i++)
		k += (size_t)snprintf(p + k, n - k, "/d%u", ch_rnd(&th->seed) % 3);
	if (!kind) {
		unsigned x = ch_rnd(&th->seed) % 20;
		kind = x < 12 ? 'f' : x < 17 ? 'd' : 'l';
	}
	unsigned m = kind == 'f' ? 8 : 3;
	snprintf(p + k, n - k, "/%c%u", kind, ch_rnd(&th->seed) % m);
}

/* The reference goes back while the fd still holds the file (store.h). */
static void ch_drop(struct ch_thr *th, int fd, ms_ino ino)
{
	ms_ino_put(th->s, ino);
	if (fd >= 0)
		close(fd);
}

static void ch_hold(struct ch_thr *th, int fd, ms_ino ino)
{
	if (th->nheld == CH_HELD) {
		int i = (int)(ch_rnd(&th->seed) % CH_HELD);
		ch_drop(th, th->held[i].fd, th->held[i].ino);
		th->held[i] = th->held[--th->nheld];
	}
	th->held[th->nheld].fd = fd;
	th->held[th->nheld].ino = ino;
	th->nheld++;
}

/* One quota-checked write through fd (O_APPEND: append). */
static int ch_write(struct ch_thr *th, ms_ino ino, int fd, int64_t off, size_t len)
{
	struct ms_wctx w;
	int64_t at;
	int fl = fcntl(fd, F_GETFL);
	int append = fl >= 0 && (fl & O_APPEND);
	int r = ch_rc(th, "ms_write_begin", NULL,
		      ms_write_begin(th->s, ino, fd, off, len, append, &w, &at));
	if (r)
		return r;
	ssize_t k = append ? write(fd, ch_data, len) : pwrite(fd, ch_data, len, at);
	ms_write_end(th->s, &w, k < 0 ? -errno : k);
	if (k < 0)
		return ch_rc(th, "pwrite", NULL, -errno);
	return 0;
}

/* An open file to work on: a held one (owned = 0) or a fresh open. */
static int ch_file(struct ch_thr *th, int oflags, int *fd, ms_ino *ino, int *owned, char *path,
		   size_t n)
{
	path[0] = 0;
	if (th->nheld && ch_rnd(&th->seed) % 3 == 0) {
		struct ch_held *h = &th->held[ch_rnd(&th->seed) % (unsigned)th->nheld];
		if (h->fd >= 0) {
			*fd = h->fd;
			*ino = h->ino;
			*owned = 0;
			return 0;
		}
	}
	ch_path(th, path, n, ch_rnd(&th->seed) % 8 ? 'f' : 0);
	*owned = 1;
	int r = ms_open(th->s, 0, path, oflags, 0644, fd, ino);
	if (r == 0 && *fd < 0) { /* a directory */
		ms_ino_put(th->s, *ino);
		return -EISDIR;
	}
	return ch_rc(th, "ms_open", path, r);
}

static void ch_symlink_target(struct ch_thr *th, char *t, size_t n)
{
	static const char *const short_targets[] = {"f1",   "../f2", "/mem/d0/f3", "d1",
						    "l0",   "/mem/l1", "../d2/f0", "."};
	unsigned x = ch_rnd(&th->seed) % 10;
	if (x < 8) {
		snprintf(t, n, "%s", short_targets[x]);
		return;
	}
	/* A long target: several symlink blocks. */
	size_t reps = 100 + ch_rnd(&th->seed) % 500, k = 0;
	for (size_t i = 0; i < reps && k + 3 < n - 8; i++) {
		t[k++] = '.';
		t[k++] = '/';
	}
	snprintf(t + k, n - k, "f%u", ch_rnd(&th->seed) % 8);
}

static void ch_op(struct ch_thr *th)
{
	ms_store *s = th->s;
	char p1[128], p2[128];
	int fd, owned, r;
	ms_ino ino;
	unsigned x = ch_rnd(&th->seed) % 100;

	if (x < 22) { /* writes */
		int fl = O_CREAT | O_RDWR;
		unsigned y = ch_rnd(&th->seed) % 16;
		if (y < 2)
			fl |= O_TRUNC;
		else if (y < 6)
			fl |= O_APPEND;
		else if (y == 6)
			fl |= O_EXCL;
		ch_begin(th, CH_WRITE);
		if (ch_file(th, fl, &fd, &ino, &owned, p1, sizeof(p1)) == 0) {
			unsigned nw = 1 + ch_rnd(&th->seed) % 3;
			for (unsigned i = 0; i < nw; i++)
				ch_write(th, ino, fd, (int64_t)(ch_rnd(&th->seed) % (256 << 10)),
					 ch_rnd(&th->seed) % (64 << 10));
			if (owned)
				ch_drop(th, fd, ino);
		}
	} else if (x < 26) { /* a long write: kills land inside it */
		ch_begin(th, CH_BIGWRITE);
		ch_path(th, p1, sizeof(p1), 'f');
		if (ch_rc(th, "ms_open", p1, ms_open(s, 0, p1, O_CREAT | O_RDWR, 0644, &fd, &ino)) == 0) {
			if (fd >= 0)
				ch_write(th, ino, fd, (int64_t)(ch_rnd(&th->seed) % (64 << 10)),
					 (256 << 10) + ch_rnd(&th->seed) % (544 << 10));
			ch_drop(th, fd, ino);
		}
	} else if (x < 32) {
		ch_begin(th, CH_FTRUNC);
		if (ch_file(th, O_RDWR, &fd, &ino, &owned, p1, sizeof(p1)) == 0) {
			ch_rc(th, "ms_ftruncate", p1,
			      ms_ftruncate(s, ino, fd, (off_t)(ch_rnd(&th->seed) % (400 << 10))));
			if (owned)
				ch_drop(th, fd, ino);
		}
	} else if (x < 36) {
		static const int modes[] = {0, FALLOC_FL_KEEP_SIZE,
					    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
		ch_begin(th, CH_FALLOC);
		if (ch_file(th, O_RDWR, &fd, &ino, &owned, p1, sizeof(p1)) == 0) {
			ch_rc(th, "ms_fallocate", p1,
			      ms_fallocate(s, ino, fd, modes[ch_rnd(&th->seed) % 3],
					   (off_t)(ch_rnd(&th->seed) % (256 << 10)),
					   (off_t)(1 + ch_rnd(&th->seed) % (128 << 10))));
			if (owned)
				ch_drop(th, fd, ino);
		}
	} else if (x < 40) {
		ch_begin(th, CH_OTRUNC);
		ch_path(th, p1, sizeof(p1), 'f');
		r = ms_open(s, 0, p1, O_CREAT | O_WRONLY | O_TRUNC, 0644, &fd, &ino);
		if (ch_rc(th, "ms_open", p1, r) == 0)
			ch_drop(th, fd, ino);
	} else if (x < 42) {
		ch_begin(th, CH_TRUNCPATH);
		ch_path(th, p1, sizeof(p1), 'f');
		ch_rc(th, "ms_truncate", p1,
		      ms_truncate(s, 0, p1, (off_t)(ch_rnd(&th->seed) % (200 << 10))));
	} else if (x < 50) {
		ch_begin(th, CH_UNLINK);
		ch_path(th, p1, sizeof(p1), ch_rnd(&th->seed) % 4 ? 'f' : 'l');
		ch_rc(th, "ms_unlink", p1, ms_unlink(s, 0, p1));
	} else if (x < 55) {
		ch_begin(th, CH_MKDIR);
		ch_path(th, p1, sizeof(p1), 'd');
		ch_rc(th, "ms_mkdir", p1, ms_mkdir(s, 0, p1, 0755));
	} else if (x < 59) {
		ch_begin(th, CH_RMDIR);
		ch_path(th, p1, sizeof(p1), 'd');
		ch_rc(th, "ms_rmdir", p1, ms_rmdir(s, 0, p1));
	} else if (x < 66) {
		unsigned y = ch_rnd(&th->seed) % 10;
		unsigned fl = y < 7 ? 0 : y < 8 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
		ch_begin(th, fl == RENAME_EXCHANGE ? CH_EXCHANGE : CH_RENAME);
		int kind = ch_rnd(&th->seed) % 3 ? 'f' : 'd';
		ch_path(th, p1, sizeof(p1), kind);
		ch_path(th, p2, sizeof(p2), ch_rnd(&th->seed) % 4 ? kind : 0);
		ch_rc(th, "ms_rename", p1, ms_rename(s, 0, p1, 0, p2, fl));
	} else if (x < 68) { /* a storm of renames: a long run of ns_lock holds */
		ch_begin(th, CH_STORM);
		for (int i = 0; i < 40; i++) {
			unsigned fl = ch_rnd(&th->seed) % 4 == 0 ? RENAME_EXCHANGE : 0;
			ch_path(th, p1, sizeof(p1), 0);
			ch_path(th, p2, sizeof(p2), 0);
			ch_rc(th, "ms_rename", p1, ms_rename(s, 0, p1, 0, p2, fl));
		}
	} else if (x < 72) {
		ch_begin(th, CH_LINK);
		ch_path(th, p1, sizeof(p1), ch_rnd(&th->seed) % 4 ? 'f' : 'l');
		ch_path(th, p2, sizeof(p2), 'f');
		ch_rc(th, "ms_link", p1,
		      ms_link(s, 0, p1, 0, p2, ch_rnd(&th->seed) % 2 ? MS_NOFOLLOW : 0));
	} else if (x < 76) {
		char t[1400];
		ch_begin(th, CH_SYMLINK);
		ch_symlink_target(th, t, sizeof(t));
		ch_path(th, p1, sizeof(p1), 'l');
		ch_rc(th, "ms_symlink", p1, ms_symlink(s, t, 0, p1));
	} else if (x < 81) { /* open, unlink, keep writing: an orphan */
		ch_begin(th, CH_ORPHAN);
		ch_path(th, p1, sizeof(p1), 'f');
		r = ms_open(s, 0, p1, O_CREAT | O_RDWR | (ch_rnd(&th->seed) % 2 ? O_APPEND : 0), 0644,
			    &fd, &ino);
		if (ch_rc(th, "ms_open", p1, r) == 0) {
			ch_rc(th, "ms_unlink", p1, ms_unlink(s, 0, p1));
			for (int i = 0; i < 3; i++)
				ch_write(th, ino, fd, (int64_t)(ch_rnd(&th->seed) % (128 << 10)),
					 ch_rnd(&th->seed) % (48 << 10));
			ch_rc(th, "ms_ftruncate", p1,
			      ms_ftruncate(s, ino, fd, (off_t)(ch_rnd(&th->seed) % (64 << 10))));
			if (ch_rnd(&th->seed) % 2)
				ch_hold(th, fd, ino); /* dies with it, sometimes */
			else
				ch_drop(th, fd, ino);
		}
	} else if (x < 83) {
		ch_begin(th, CH_TMPFILE);
		ch_path(th, p1, sizeof(p1), 'd');
		if (ch_rnd(&th->seed) % 2)
			snprintf(p1, sizeof(p1), "/mem");
		r = ms_open(s, 0, p1, O_TMPFILE | O_RDWR, 0600, &fd, &ino);
		if (ch_rc(th, "ms_open(O_TMPFILE)", p1, r) == 0) {
			ch_write(th, ino, fd, 0, ch_rnd(&th->seed) % (96 << 10));
			if (ch_rnd(&th->seed) % 2)
				ch_hold(th, fd, ino);
			else
				ch_drop(th, fd, ino);
		}
	} else if (x < 86) {
		ch_begin(th, CH_READDIR);
		ch_path(th, p1, sizeof(p1), 'd');
		if (ch_rnd(&th->seed) % 3 == 0)
			snprintf(p1, sizeof(p1), "/mem");
		if (ch_rc(th, "ms_lookup_dir", p1, ms_lookup_dir(s, 0, p1, &ino)) == 0) {
			struct ms_dirent e;
			uint64_t c = 0;
			for (int i = 0; i < 64; i++) {
				r = ms_readdir(s, ino, c, &e);
				if (r <= 0) {
					ch_rc(th, "ms_readdir", p1, r);
					break;
				}
				c = e.cookie;
			}
			if (ch_rnd(&th->seed) % 4 == 0) /* a directory fd or cwd kept */
				ch_hold(th, -1, ino);
			else
				ms_ino_put(s, ino);
		}
	} else if (x < 88) { /* attributes: records made and freed, kills inside */
		static const char *const names[] = {"user.a", "user.b", "trusted.c", "user.long"};
		char list[256];
		ch_begin(th, CH_XATTR);
		ch_path(th, p1, sizeof(p1), 0);
		const char *n = names[ch_rnd(&th->seed) % 4];
		int fl = ch_rnd(&th->seed) % 2 ? MS_NOFOLLOW : 0;
		unsigned y = ch_rnd(&th->seed) % 10;
		if (y < 5) {
			size_t len = y == 0 ? 60000 : ch_rnd(&th->seed) % 3000;
			ch_rc(th, "ms_setxattr", p1, ms_setxattr(s, 0, p1, fl, n, ch_data, len, 0));
		} else if (y < 7) {
			ch_rc(th, "ms_removexattr", p1, ms_removexattr(s, 0, p1, fl, n));
		} else if (y < 9) {
			ch_rc(th, "ms_getxattr", p1, ms_getxattr(s, 0, p1, fl, n, NULL, 0));
		} else {
			ch_rc(th, "ms_listxattr", p1, ms_listxattr(s, 0, p1, fl, list, sizeof(list)));
		}
	} else if (x < 90) {
		struct stat st;
		char buf[2048];
		ch_begin(th, CH_STAT);
		ch_path(th, p1, sizeof(p1), 0);
		ch_rc(th, "ms_stat", p1, ms_stat(s, 0, p1, ch_rnd(&th->seed) % 2 ? MS_NOFOLLOW : 0, &st));
		ch_path(th, p2, sizeof(p2), 'l');
		ch_rc(th, "ms_readlink", p2, ms_readlink(s, 0, p2, buf, sizeof(buf)));
	} else if (x < 95) {
		ch_begin(th, CH_HOLD);
		ch_path(th, p1, sizeof(p1), 'f');
		r = ms_open(s, 0, p1, O_CREAT | O_RDWR | (ch_rnd(&th->seed) % 3 ? 0 : O_APPEND), 0644,
			    &fd, &ino);
		if (ch_rc(th, "ms_open", p1, r) == 0)
			ch_hold(th, fd, ino);
	} else {
		ch_begin(th, CH_CLOSE);
		if (th->nheld) {
			int i = (int)(ch_rnd(&th->seed) % (unsigned)th->nheld);
			ch_drop(th, th->held[i].fd, th->held[i].ino);
			th->held[i] = th->held[--th->nheld];
		}
	}
	ch_end(th);
	atomic_fetch_add(&th->sl->ops, 1);
	atomic_fetch_add(&ch_sh->ops, 1);
}

static void *ch_thread(void *arg)
{
	struct ch_thr *th = arg;
	atomic_store(&th->sl->tid[th->t], (int)gettid());
	for (;;)
		ch_op(th);
	return NULL;
}

/* Fills what every write writes; the parent calls it once, before the
 * first fork. */
void ch_worker_prepare(void)
{
	for (size_t i = 0; i < sizeof(ch_data); i++)
		ch_data[i] = (char)('a' + i % 26);
}

/* The body of a worker process: attach by name, run T threads forever. */
void ch_worker(int k, int nthreads, unsigned seed, const char *name,
	       const struct ms_open_opts *o)
{
	struct ch_slot *sl = &ch_sh->slot[k];
	static struct ch_thr th[CH_MAXT];
	ms_store *s = NULL;
	atomic_store(&sl->tid[0], (int)getpid());
	int64_t t0 = ch_mono_ns();
	atomic_store(&sl->since[0], t0);
	atomic_store(&sl->op[0], CH_ATTACH);
	int r = ms_store_attach(name, o, &s);
	atomic_store(&sl->op[0], CH_NONE);
	atomic_store(&sl->attach_ns, ch_mono_ns() - t0);
	if (r) { /* any failure is unexpected: the store exists */
		ch_unexpected("ms_store_attach", name, r);
		_exit(3);
	}
	for (int t = 0; t < nthreads; t++) {
		th[t].s = s;
		th[t].sl = sl;
		th[t].t = t;
		th[t].seed = seed * 2654435761u + (unsigned)t * 40503u + 1;
		th[t].nheld = 0;
	}
	for (int t = 1; t < nthreads; t++) {
		pthread_t id;
		pthread_create(&id, NULL, ch_thread, &th[t]);
	}
	ch_thread(&th[0]);
	_exit(0);
}
