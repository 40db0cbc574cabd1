/* tests/chaos/checks.c — the chaos run's consistency checks: ms_check
 * while workers run, and with every worker dead the walk of the tree, the
 * accounting of the keeper's memfds, the removal of everything
 * (tests/chaos/chaos.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h" /* inode slots, the pool and the close queue */
#include "keeper.h" /* ms_keeper_audit */
#include "chaos.h"

struct ch_node {
	uint64_t ino;
	unsigned names;
	nlink_t nlink;
	mode_t type;
};

struct ch_walk {
	struct ch_node node[1024];
	int n;
	unsigned long files, dirs, symlinks, nodes;
	char err[600];
};

static void ch_walk_err(struct ch_walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ch_walk_err(struct ch_walk *w, const char *fmt, ...)
{
	if (w->err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
}

static unsigned char ch_dtype(mode_t m)
{
	return S_ISDIR(m) ? DT_DIR : S_ISLNK(m) ? DT_LNK : S_ISREG(m) ? DT_REG : DT_UNKNOWN;
}

static void ch_walk_dir(ms_store *s, const char *path, struct ch_walk *w, int depth)
{
	struct stat dst, st;
	struct ms_dirent e;
	ms_ino d;
	char child[4096];
	int r = ms_stat(s, 0, path, MS_NOFOLLOW, &dst);
	if (r) {
		ch_walk_err(w, "stat %s: %d (%s)", path, r, strerror(-r));
		return;
	}
	r = ms_lookup_dir(s, 0, path, &d);
	if (r) {
		ch_walk_err(w, "ms_lookup_dir %s: %d (%s)", path, r, strerror(-r));
		return;
	}
	uint64_t c = 0;
	unsigned long subdirs = 0, entries = 0;
	for (;;) {
		r = ms_readdir(s, d, c, &e);
		if (r < 0)
			ch_walk_err(w, "ms_readdir %s: %d (%s)", path, r, strerror(-r));
		if (r <= 0)
			break;
		if (e.cookie <= c) {
			ch_walk_err(w, "ms_readdir %s: cookie went from %llu to %llu", path,
				    (unsigned long long)c, (unsigned long long)e.cookie);
			break;
		}
		c = e.cookie;
		if (++entries > 4000) {
			ch_walk_err(w, "ms_readdir %s: more than 4000 entries (a loop?)", path);
			break;
		}
		if (!strcmp(e.name, "."))  {
			if (e.ino != dst.st_ino)
				ch_walk_err(w, "%s: '.' has d_ino %llu, stat says %llu", path,
					    (unsigned long long)e.ino, (unsigned long long)dst.st_ino);
			continue;
		}
		if (!strcmp(e.name, ".."))
			continue;
		snprintf(child, sizeof(child), "%.3800s/%.255s", path, e.name);
		r = ms_stat(s, 0, child, MS_NOFOLLOW, &st);
		if (r) {
			ch_walk_err(w, "entry %s does not resolve: %d (%s)", child, r, strerror(-r));
			continue;
		}
		if (st.st_ino != e.ino)
			ch_walk_err(w, "entry %s: d_ino %llu but st_ino %llu", child,
				    (unsigned long long)e.ino, (unsigned long long)st.st_ino);
		if (ch_dtype(st.st_mode) != e.type)
			ch_walk_err(w, "entry %s: d_type %u but mode 0%o", child, e.type,
				    (unsigned)st.st_mode);
		int i;
		for (i = 0; i < w->n && w->node[i].ino != st.st_ino; i++)
			;
		if (i == w->n) {
			if (w->n == (int)(sizeof(w->node) / sizeof(w->node[0]))) {
				ch_walk_err(w, "more than %d nodes reachable", w->n);
				continue;
			}
			w->node[i] = (struct ch_node){st.st_ino, 0, st.st_nlink, st.st_mode & S_IFMT};
			w->n++;
			if (S_ISDIR(st.st_mode)) {
				w->dirs++;
				w->nodes++;
			} else {
				if (S_ISREG(st.st_mode))
					w->files++;
				else
					w->symlinks++;
				w->nodes += st.st_nlink ? st.st_nlink : 1;
			}
		} else if (S_ISDIR(st.st_mode)) {
			ch_walk_err(w, "directory %s (ino %llu) has two names", child,
				    (unsigned long long)st.st_ino);
		}
		w->node[i].names++;
		if (S_ISDIR(st.st_mode)) {
			subdirs++;
			/* A cycle shows as a directory with two names (above);
			 * rename storms legitimately nest directories deep, so
			 * the depth cap only keeps the walk's recursion bounded. */
			if (depth < 400)
				ch_walk_dir(s, child, w, depth + 1);
			else
				ch_walk_err(w, "%s: deeper than 400 levels", child);
		}
	}
	ms_ino_put(s, d);
	if (dst.st_nlink != 2 + subdirs)
		ch_walk_err(w, "directory %s: st_nlink %lu but %lu subdirectories", path,
			    (unsigned long)dst.st_nlink, subdirs);
}

static void ch_walk(ms_store *s, struct ch_walk *w)
{
	memset(w, 0, sizeof(*w));
	ch_walk_dir(s, "/mem", w, 0);
	for (int i = 0; i < w->n; i++)
		if (w->node[i].type != S_IFDIR && w->node[i].names != w->node[i].nlink)
			ch_walk_err(w, "ino %llu (mode 0%o): st_nlink %lu but %u names in the tree",
				    (unsigned long long)w->node[i].ino, (unsigned)w->node[i].type,
				    (unsigned long)w->node[i].nlink, w->node[i].names);
}

/* The keeper's fds: all of them, and its file memfds ("/memfd:memshim"). */
static int ch_keeper_fds(pid_t kp, int *memfds)
{
	char dir[64], p[400], l[256];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)kp);
	DIR *d = opendir(dir);
	*memfds = 0;
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		ssize_t k = readlink(p, l, sizeof(l) - 1);
		if (k < 0)
			continue;
		l[k] = 0;
		if (!strncmp(l, "/memfd:memshim (deleted)", 24) || !strcmp(l, "/memfd:memshim"))
			(*memfds)++;
	}
	closedir(d);
	return n;
}

/* Every memfd accounted for, exactly: each live regular file's kfd and each
 * pool entry is a distinct open memfd of the keeper (or of a holder: the
 * kfd names which, arena.h MS_KFD_SHIFT) with the kernel inode number
 * recorded for it, and every file memfd the keeper and its holders hold is
 * one of those or waits in the close queue. Every worker is dead; the keeper may
 * be closing queued fds and topping its pool up meanwhile, so the caller
 * polls. Returns 0, or 1 with the first discrepancy (and a count) in err. */
struct ch_kfd {
	int32_t kfd;
	uint32_t who; /* inode slot, or 0 for the pool, ~0u for the close queue */
	uint64_t kino;
};

static int ch_kfd_cmp(const void *a, const void *b)
{
	const struct ch_kfd *x = a, *y = b;
	return x->kfd < y->kfd ? -1 : x->kfd > y->kfd;
}

static void ch_who(char *b, size_t n, const struct ch_kfd *k)
{
	if (k->who == 0)
		snprintf(b, n, "a pool entry");
	else if (k->who == ~0u)
		snprintf(b, n, "the close queue");
	else if (k->who == ~1u)
		snprintf(b, n, "the reuse ring");
	else
		snprintf(b, n, "inode slot %u", k->who);
}

static int ch_memfd_audit(struct ch_run *run, char *err, size_t errn)
{
	struct ms_store *s = run->s;
	struct ms_hdr *h = s->hdr;
	pid_t kp = ms_store_keeper_pid(s);
	size_t cap = (size_t)h->nslots * 2 + MS_POOL_SLOTS + MS_REUSE_SLOTS + 16, n = 0;
	struct ch_kfd *v = malloc(cap * sizeof(*v));
	unsigned bad = 0;
	char first[400] = "", a[64], b[64], path[64], l[256];
	int32_t *q = (int32_t *)(s->base + h->off_closeq);
#define CH_BAD(...)                                                    \
	do {                                                           \
		if (!bad++)                                            \
			snprintf(first, sizeof(first), __VA_ARGS__);   \
	} while (0)

	ch_guard("memfd audit");
	ms_ns_lock(s);
	for (uint32_t i = 1; i < h->inode_bump && n < cap; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no || !S_ISREG(in->mode))
			continue;
		if (in->kfd < 0) {
			CH_BAD("inode slot %u (st_ino %llu) is a regular file without a memfd "
			       "(kfd %d)", i, (unsigned long long)in->ino_no, in->kfd);
			continue;
		}
		v[n++] = (struct ch_kfd){in->kfd, i, in->memfd_ino};
	}
	ms_keeper_lock(s);
	for (uint32_t p = h->pool_head; p != h->pool_tail && n < cap; p++)
		v[n++] = (struct ch_kfd){h->pool[p % MS_POOL_SLOTS].kfd, 0,
					 h->pool[p % MS_POOL_SLOTS].kino};
	for (uint32_t p = h->closeq_head; p != h->closeq_tail && n < cap; p++)
		v[n++] = (struct ch_kfd){q[p % (h->nslots + 1)], ~0u, 0};
	for (uint32_t p = h->reuse_head; p != h->reuse_tail && n < cap; p++)
		v[n++] = (struct ch_kfd){h->reuse[p % MS_REUSE_SLOTS].kfd, ~1u,
					 h->reuse[p % MS_REUSE_SLOTS].kino};
	ms_keeper_unlock(s);
	ms_ns_unlock(s);
	alarm(0);

	qsort(v, n, sizeof(*v), ch_kfd_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && v[i].kfd == v[i - 1].kfd) {
			ch_who(a, sizeof(a), &v[i - 1]);
			ch_who(b, sizeof(b), &v[i]);
			CH_BAD("keeper fd %d is both %s and %s", v[i].kfd, a, b);
			continue;
		}
		if (v[i].who == ~0u || v[i].who == ~1u)
			continue; /* may be closed any moment */
		struct stat st;
		ch_who(a, sizeof(a), &v[i]);
		uint32_t ho = ms_kfd_holder(v[i].kfd);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", ho ? (int)h->holders[ho].pid : (int)kp,
			 ms_kfd_fd(v[i].kfd));
		ssize_t k = readlink(path, l, sizeof(l) - 1);
		l[k < 0 ? 0 : k] = 0;
		if (k < 0 || stat(path, &st))
			CH_BAD("%s names keeper fd %d, which is not open", a, v[i].kfd);
		else if (strncmp(l, "/memfd:memshim (deleted)", 24))
			CH_BAD("%s names keeper fd %d, which is '%s', not a file memfd", a, v[i].kfd, l);
		else if (st.st_ino != v[i].kino)
			CH_BAD("%s names keeper fd %d, whose memfd has st_ino %llu, not %llu", a,
			       v[i].kfd, (unsigned long long)st.st_ino,
			       (unsigned long long)v[i].kino);
	}
	/* The other way round: a file memfd nobody lists is leaked. */
	unsigned leaked = 0;
	int leaked_first = -1;
	for (uint32_t ho = 0; ho < h->nholders; ho++) {
		char dir[64];
		int hp = ho ? h->holders[ho].pid : (int)kp;
		if (!hp)
			continue;
		snprintf(dir, sizeof(dir), "/proc/%d/fd", hp);
		DIR *d = opendir(dir);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char fp[340];
			snprintf(fp, sizeof(fp), "%s/%s", dir, e->d_name);
			ssize_t k = readlink(fp, l, sizeof(l) - 1);
			if (k < 0)
				continue;
			l[k] = 0;
			if (strncmp(l, "/memfd:memshim (deleted)", 24))
				continue;
			struct ch_kfd key = {ms_kfd_make(ho, atoi(e->d_name)), 0, 0};
			if (!bsearch(&key, v, n, sizeof(*v), ch_kfd_cmp)) {
				if (!leaked++)
					leaked_first = key.kfd;
			}
		}
		closedir(d);
	}
	if (leaked)
		CH_BAD("%u file memfds of the keeper or its holders are in no inode, pool "
		       "entry, close queue or reuse ring (leaked; the first is handle %#x)", leaked,
		       (unsigned)leaked_first);
#undef CH_BAD
	free(v);
	if (bad)
		snprintf(err, errn, "%s%s", first,
			 bad > 1 ? " (and more discrepancies)" : "");
	return bad != 0;
}

void ch_stats_str(char *b, size_t n, const struct ms_stats *st)
{
	snprintf(b, n,
		 "used %llu/%llu bytes, %llu/%llu nodes (peak %llu bytes), %llu files, %llu dirs, "
		 "%llu symlinks, %llu refused",
		 (unsigned long long)st->used_bytes, (unsigned long long)st->max_bytes,
		 (unsigned long long)st->used_nodes, (unsigned long long)st->max_nodes,
		 (unsigned long long)st->peak_bytes, (unsigned long long)st->files,
		 (unsigned long long)st->dirs, (unsigned long long)st->symlinks,
		 (unsigned long long)st->refused);
}

static int ch_pool(ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	return (int)(__atomic_load_n(&h->pool_tail, __ATOMIC_RELAXED) -
		     __atomic_load_n(&h->pool_head, __ATOMIC_RELAXED));
}

/* ms_check, counted as a live check (workers running) or an all-stopped one. */
void ch_check_ms(struct ch_run *run, const char *when, int live)
{
	char msg[512];
	ch_guard(live ? "live ms_check" : "ms_check");
	int r = ms_check(run->s, msg, sizeof(msg));
	alarm(0);
	if (live)
		run->res->live_checks++;
	else
		run->res->checks++;
	if (r) {
		if (!run->res->first_check[0])
			snprintf(run->res->first_check, sizeof(run->res->first_check), "%s", msg);
		ch_fail(run, "%s: ms_check: %s", when, msg);
	}
}

/* Where inode i is named, for the report of what the drain left: the
 * first entry naming it, its directory, and whether that directory's
 * sibling list (what readdir walks) holds it. ns_lock held. */
static size_t ch_named(struct ms_store *s, uint32_t i, char *b, size_t n)
{
	struct ms_hdr *h = s->hdr;
	for (uint32_t d = 1; d < h->dent_bump; d++) {
		struct ms_dent *e = ms_dent_at(s, d);
		if (!e->parent || e->ino != i)
			continue;
		struct ms_inode *p = ms_inode_at(s, e->parent);
		int listed = 0;
		for (uint32_t x = p->first, k = 0; x && k <= h->nslots && !listed; x = ms_dent_at(s, x)->next, k++)
			listed = x == d;
		return (size_t)snprintf(b, n, " named '%.32s' (entry %u, cookie %llu) in dir slot %u%s, %s",
					e->name, d, (unsigned long long)e->seq + 2, e->parent,
					e->parent == h->root ? " (the root)" :
					(p->flags & MS_I_PREFIX) ? " (the prefix)" :
					(p->flags & MS_I_SKEL) ? " (a skeleton dir)" : "",
					listed ? "listed" : "not in its sibling list");
	}
	return (size_t)snprintf(b, n, " named nowhere");
}

/* Every worker is dead and reaped, so nobody is between taking a memfd
 * from the pool and naming it in an inode, or between un-naming one and
 * queueing it for closing. A worker killed in such a window leaves a
 * memfd that nothing names; the keeper's audit
 * closes those, on its own once a second when it gets ns_lock. Waiting for
 * that round was a race (under load a second of polling did not always
 * see one, and this process's own checks holding ns_lock made it skip its
 * turn), so the keeper is asked for the round and answers when it is
 * done: closing what the close queue holds, then the audit.
 *
 * What the audits asked for close is bounded, so a memfd leaked without a
 * kill is still a failure: every window in which a memfd is named nowhere
 * lies inside ns_lock, which one process holds at a time, so each kill
 * leaves at most one. Counted over the whole run (looser than per
 * checkpoint, and independent of the order the keeper serves requests in).
 * Returns 0, or -1 after ch_fail. */
static int ch_keeper_audit(struct ch_run *run, const char *when)
{
	int r = -EAGAIN;
	ch_guard("keeper audit");
	/* -EAGAIN: no reply within the request's 5 s (a loaded machine);
	 * -EBUSY: ns_lock taken, which with every worker dead it is not. */
	for (int i = 0; i < 6 && (r == -EAGAIN || r == -EBUSY); i++)
		r = ms_keeper_audit(run->s);
	alarm(0);
	if (r < 0) {
		ch_fail(run, "%s: the keeper's memfd audit: %d (%s)", when, r, strerror(-r));
		return -1;
	}
	run->res->audit_closed += (unsigned long)r;
	if (run->res->audit_closed > run->res->kills) {
		ch_fail(run,
			"%s: the keeper's audit closed %lu memfds nothing named in this run (%d "
			"now) but only %lu workers were killed: memfds leak without a kill",
			when, run->res->audit_closed, r, run->res->kills);
		return -1;
	}
	return 0;
}

/* Every worker is dead and reaped. */
void ch_checkpoint(struct ch_run *run, int final)
{
	char when[96], sb[300];
	struct ms_stats st;
	struct ch_walk *w = malloc(sizeof(*w));
	snprintf(when, sizeof(when), "%s after %lu kills", final ? "final check" : "checkpoint",
		 run->res->kills);
	pid_t kp = ms_store_keeper_pid(run->s);
	if (kill(kp, 0)) {
		ch_fail(run, "%s: the keeper (pid %d) is gone", when, (int)kp);
		free(w);
		return;
	}
	ch_check_ms(run, when, 0);

	ch_guard("tree walk");
	ch_walk(run->s, w);
	alarm(0);
	if (w->err[0])
		ch_fail(run, "%s: tree: %s", when, w->err);

	/* Every memfd of the keeper is in its pool or backs a file the store
	 * holds once it has closed what the close queue holds and what the
	 * killed workers left (ch_keeper_audit). Polled still: the keeper's
	 * own round may free an orphan meanwhile and close its memfd later. */
	int memfds = 0, fds = 0;
	for (int i = 0; i < 100; i++) {
		if (ch_keeper_audit(run, when))
			break;
		ch_guard("stats");
		ms_stats_get(run->s, &st);
		alarm(0);
		fds = ch_keeper_fds(kp, &memfds);
		if (fds >= 0 && (uint64_t)memfds <= MS_POOL_SLOTS + st.files)
			break;
		ch_usleep(10000);
	}
	if (fds < 0)
		ch_fail(run, "%s: cannot list /proc/%d/fd: %s", when, (int)kp, strerror(-fds));
	else if ((uint64_t)memfds > MS_POOL_SLOTS + st.files) {
		ch_stats_str(sb, sizeof(sb), &st);
		ch_fail(run,
			"%s: the keeper (pid %d) holds %d file memfds (%d fds) but the pool lists %d "
			"(of %d) and the store has %llu files: %lld memfds unaccounted for; %s",
			when, (int)kp, memfds, fds, ch_pool(run->s), MS_POOL_SLOTS,
			(unsigned long long)st.files,
			(long long)memfds - ch_pool(run->s) - (long long)st.files, sb);
	}

	char err[600];
	int bad = 0;
	/* Polled: the keeper closes queued fds and fills its pool meanwhile
	 * (briefly once a discrepancy was reported: it will not go away). */
	for (int i = 0; i < (run->audit_failed ? 3 : final ? 30 : 10); i++) {
		bad = ch_memfd_audit(run, err, sizeof(err));
		if (!bad || ch_keeper_audit(run, when))
			break;
		ch_usleep(100000);
	}
	if (bad) {
		run->audit_failed = 1;
		ch_fail(run, "%s: memfds: %s", when, err);
	}

	if (final) {
		/* With every process dead, nothing is open: every inode must be
		 * reachable (orphans of killed processes reclaimed). */
		for (int i = 0; i < 30; i++) {
			ch_guard("stats");
			ms_stats_get(run->s, &st);
			alarm(0);
			if (st.files == w->files && st.dirs == w->dirs && st.symlinks == w->symlinks &&
			    st.used_nodes == w->nodes)
				break;
			ch_usleep(100000);
			ch_guard("tree walk");
			ch_walk(run->s, w);
			alarm(0);
		}
		if (st.files != w->files || st.dirs != w->dirs || st.symlinks != w->symlinks ||
		    st.used_nodes != w->nodes) {
			ch_stats_str(sb, sizeof(sb), &st);
			/* Name the first few the walk did not reach. */
			char unreached[500] = "";
			size_t k = 0;
			struct ms_hdr *h = run->s->hdr;
			ms_ns_lock(run->s);
			for (uint32_t i = 1; i < h->inode_bump && k < sizeof(unreached) - 200; i++) {
				struct ms_inode *in = ms_inode_at(run->s, i);
				if (!in->ino_no || (in->flags & (MS_I_SKEL | MS_I_PREFIX)) || i == h->root)
					continue;
				int j = 0;
				while (j < w->n && w->node[j].ino != in->ino_no)
					j++;
				if (j < w->n)
					continue;
				k += (size_t)snprintf(unreached + k, sizeof(unreached) - k,
						      "%sslot %u (%s, nlink %u, opens %u, %s),",
						      k ? "; " : "", i,
						      S_ISDIR(in->mode) ? "dir" : S_ISREG(in->mode) ? "file" : "symlink",
						      in->nlink, in->opens,
						      (in->flags & MS_I_ORPHAN) ? "orphan" : "not an orphan");
				if (k < sizeof(unreached))
					k += ch_named(run->s, i, unreached + k, sizeof(unreached) - k);
			}
			ms_ns_unlock(run->s);
			ch_fail(run,
				"%s: with every worker dead, the tree reaches %lu files, %lu dirs, "
				"%lu symlinks, %lu nodes but the store holds %llu files, %llu dirs, "
				"%llu symlinks, %llu nodes (orphans of killed processes not reclaimed "
				"after 3 s); not reached: %s; %s",
				when, w->files, w->dirs, w->symlinks, w->nodes,
				(unsigned long long)st.files, (unsigned long long)st.dirs,
				(unsigned long long)st.symlinks, (unsigned long long)st.used_nodes,
				unreached, sb);
		}
	}
	free(w);
}

/* Removes everything under path, depth first. */
static void ch_drain_dir(struct ch_run *run, const char *path, int depth)
{
	char names[256][256];
	unsigned char types[256];
	for (int pass = 0; pass < 20; pass++) {
		ms_ino d;
		struct ms_dirent e;
		int n = 0, r = ms_lookup_dir(run->s, 0, path, &d);
		if (r) {
			ch_fail(run, "drain: ms_lookup_dir %s: %d (%s)", path, r, strerror(-r));
			return;
		}
		uint64_t c = 0;
		while (n < 256 && (r = ms_readdir(run->s, d, c, &e)) == 1) {
			c = e.cookie;
			if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
				continue;
			snprintf(names[n], sizeof(names[n]), "%s", e.name);
			types[n++] = e.type;
		}
		ms_ino_put(run->s, d);
		if (r < 0)
			ch_fail(run, "drain: ms_readdir %s: %d (%s)", path, r, strerror(-r));
		if (n == 0)
			return;
		for (int i = 0; i < n; i++) {
			char child[4096];
			snprintf(child, sizeof(child), "%.3800s/%.255s", path, names[i]);
			if (types[i] == DT_DIR) {
				if (depth < 400)
					ch_drain_dir(run, child, depth + 1);
				r = ms_rmdir(run->s, 0, child);
				if (r)
					ch_fail(run, "drain: ms_rmdir %s: %d (%s)", child, r, strerror(-r));
			} else {
				r = ms_unlink(run->s, 0, child);
				if (r)
					ch_fail(run, "drain: ms_unlink %s: %d (%s)", child, r, strerror(-r));
			}
		}
	}
	ch_fail(run, "drain: %s still has entries after 20 passes", path);
}

void ch_drain(struct ch_run *run)
{
	char sb[300];
	struct ms_stats st;
	ch_guard("drain");
	ch_drain_dir(run, "/mem", 0);
	/* and the attributes a set through a symlink to "." left on /mem */
	char names[4096];
	ssize_t n = ms_listxattr(run->s, 0, "/mem", 0, names, sizeof(names));
	for (ssize_t k = 0; k < n; k += (ssize_t)strlen(names + k) + 1) {
		int r = ms_removexattr(run->s, 0, "/mem", 0, names + k);
		if (r)
			ch_fail(run, "drain: ms_removexattr /mem %s: %d (%s)", names + k, r, strerror(-r));
	}
	if (n < 0)
		ch_fail(run, "drain: ms_listxattr /mem: %zd (%s)", n, strerror((int)-n));
	alarm(0);
	/* Nothing is open anywhere: every byte and node must come back. */
	for (int i = 0; i < 30; i++) {
		ch_guard("stats");
		ms_stats_get(run->s, &st);
		alarm(0);
		if (st.used_bytes == 0 && st.used_nodes == 0)
			break;
		ch_usleep(100000);
	}
	run->res->after_drain = st;
	if (st.used_bytes || st.used_nodes) {
		/* Name what is left: slot, type, references, flags. */
		char left[800] = "";
		size_t k = 0;
		int shown = 0;
		struct ms_hdr *h = run->s->hdr;
		ms_ns_lock(run->s);
		for (uint32_t i = 1; i < h->inode_bump && k < sizeof(left) - 200; i++) {
			struct ms_inode *in = ms_inode_at(run->s, i);
			if (!in->ino_no || (in->flags & (MS_I_SKEL | MS_I_PREFIX)) || i == h->root)
				continue;
			if (shown++ >= 4)
				continue;
			k += (size_t)snprintf(left + k, sizeof(left) - k,
					      "%sslot %u: %s, nlink %u, opens %u, %s,", k ? "; " : "",
					      i, S_ISDIR(in->mode) ? "dir" : S_ISREG(in->mode) ? "file" : "symlink",
					      in->nlink, in->opens,
					      (in->flags & MS_I_ORPHAN) ? "orphan" : "not on the orphan list");
			if (k < sizeof(left))
				k += ch_named(run->s, i, left + k, sizeof(left) - k);
		}
		ms_ns_unlock(run->s);
		ch_stats_str(sb, sizeof(sb), &st);
		ch_fail(run,
			"after removing everything with every worker dead: %s (3 s given to "
			"the keeper to reclaim orphans); left: %s",
			sb, left);
	}
	ch_check_ms(run, "after removing everything", 0);
	pid_t kp = ms_store_keeper_pid(run->s);
	int fds = 0, memfds = 0;
	for (int i = 0; i < 30; i++) {
		if (ch_keeper_audit(run, "after removing everything"))
			break;
		fds = ch_keeper_fds(kp, &memfds);
		if (fds >= 0 && memfds <= MS_POOL_SLOTS && fds <= MS_POOL_SLOTS + CH_FD_SLACK)
			break;
		ch_usleep(100000);
	}
	char err[600];
	int bad = 0;
	for (int i = 0; i < 30; i++) {
		bad = ch_memfd_audit(run, err, sizeof(err));
		if (!bad || ch_keeper_audit(run, "after removing everything"))
			break;
		ch_usleep(100000);
	}
	if (bad)
		ch_fail(run, "after removing everything: memfds: %s", err);
	run->res->keeper_fds = fds;
	run->res->keeper_memfds = memfds;
	run->res->pool = ch_pool(run->s);
	if (fds < 0)
		ch_fail(run, "after removing everything: cannot list /proc/%d/fd: %s", (int)kp,
			strerror(-fds));
	else if (memfds > MS_POOL_SLOTS || fds > MS_POOL_SLOTS + CH_FD_SLACK)
		ch_fail(run,
			"after removing everything: the keeper (pid %d) holds %d fds, %d of them "
			"file memfds; its pool lists %d (of %d) and no file exists: %d memfds "
			"unaccounted for (limit: %d memfds, %d fds)",
			(int)kp, fds, memfds, ch_pool(run->s), MS_POOL_SLOTS, memfds - ch_pool(run->s),
			MS_POOL_SLOTS, MS_POOL_SLOTS + CH_FD_SLACK);
}


/* The parent closes the store, the last process attached: the keeper must
 * go after its grace period, taking the store with it. */
void ch_close(struct ch_run *run)
{
	pid_t kp = ms_store_keeper_pid(run->s);
	ms_store_close(run->s);
	int gone = 0;
	for (int i = 0; i < 50 && !gone; i++) {
		gone = kill(kp, 0) != 0;
		if (!gone)
			ch_usleep(100000);
	}
	if (!gone) {
		int memfds = 0, fds = ch_keeper_fds(kp, &memfds);
		ch_fail(run,
			"the keeper (pid %d) is still running 5 s after the last process detached "
			"(it holds %d fds, %d of them file memfds); killed",
			(int)kp, fds, memfds);
		kill(kp, SIGKILL);
	}
}

int chaos_judge(const struct chaos_result *r, int i, char *why, size_t n)
{
	long want = r->target < CH_MIN_KILLS ? r->target : CH_MIN_KILLS;
	int held = 1;
	why[0] = 0;
	switch (i) {
	case 0:
		if ((held = r->failures == 0))
			break;
		snprintf(why, n,
			 "%lu failures, first: %s; first ms_check message: %s; after removing "
			 "everything: used %llu bytes, %llu nodes; keeper fds %d (%d file memfds, "
			 "pool %d)",
			 r->failures, r->failure, r->first_check[0] ? r->first_check : "(none)",
			 (unsigned long long)r->after_drain.used_bytes,
			 (unsigned long long)r->after_drain.used_nodes, r->keeper_fds,
			 r->keeper_memfds, r->pool);
		break;
	case 1:
		if (!(held = (long)r->kills >= want))
			snprintf(why, n, "only %lu kills (%ld wanted)", r->kills, want);
		break;
	case 2:
		if (!(held = r->kills_in_op > 0))
			snprintf(why, n, "no kill landed inside a store operation");
		break;
	case 3:
		if (!(held = r->refused > 0))
			snprintf(why, n, "the quota was never reached");
		break;
	case 4:
		if (!(held = r->ops > r->kills))
			snprintf(why, n, "workers did almost nothing between kills (%lu operations, "
				 "%lu kills)", r->ops, r->kills);
		break;
	}
	return held;
}
