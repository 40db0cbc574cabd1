/* Holders: a store holds more files than the keeper's hard fd limit. Past
 * half its limit the keeper starts holder processes (keeper/holder.c) that
 * hold the rest of the memfds; files in them read, write, re-open and go
 * away like the keeper's, holders are as invisible as the keeper and leave
 * with the store, and a killed holder costs the bytes of its files only.
 *
 * Each test runs in a child whose hard fd limit is lowered before the
 * store starts (the keeper inherits it), and reports the step that failed
 * as its exit status. */
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "keeper.h"
#include "common.h"

#define LIMIT 128   /* hard fd limit of the store's processes */
#define NFILES 1000 /* several times LIMIT */

static void limit_fds(void)
{
	struct rlimit rl = {LIMIT, LIMIT};
	if (setrlimit(RLIMIT_NOFILE, &rl))
		_exit(90);
}

static void path_of(char *p, size_t n, int i) { snprintf(p, n, "/mem/d/f%04d", i); }

/* File i holds "file <i>" and then i % 50 bytes of 'a' + i % 26. */
static size_t content(char *buf, int i)
{
	size_t n = (size_t)sprintf(buf, "file %d", i);
	for (int k = 0; k < i % 50; k++)
		buf[n++] = (char)('a' + i % 26);
	return n;
}

static int put(ms_store *s, int i)
{
	char p[64], buf[128];
	size_t n = content(buf, i);
	path_of(p, sizeof(p), i);
	int fd;
	ms_ino ino;
	if (ms_open(s, 0, p, O_CREAT | O_WRONLY | O_EXCL, 0644, &fd, &ino))
		return -1;
	struct ms_wctx w;
	int64_t off;
	int r = ms_write_begin(s, ino, fd, 0, n, 0, &w, &off);
	if (r == 0) {
		ssize_t k = pwrite(fd, buf, n, off);
		ms_write_end(s, &w, k);
		r = k == (ssize_t)n ? 0 : -1;
	}
	ms_ino_put(s, ino);
	close(fd);
	return r;
}

/* 0: file i reads back whole; -EIO (or another -errno) from the open. */
static int check(ms_store *s, int i)
{
	char p[64], want[128], got[160];
	size_t n = content(want, i);
	path_of(p, sizeof(p), i);
	int fd;
	ms_ino ino;
	int r = ms_open(s, 0, p, O_RDONLY, 0, &fd, &ino);
	if (r)
		return r;
	ssize_t k = pread(fd, got, sizeof(got), 0);
	ms_ino_put(s, ino);
	close(fd);
	return k == (ssize_t)n && memcmp(got, want, n) == 0 ? 0 : -EBADMSG;
}

static int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static ms_store *store(void)
{
	static struct ms_config c;
	c = t_config(64 << 20, 4 * NFILES);
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
	if (ms_store_open(&o, &s))
		_exit(91);
	if (ms_mkdir(s, 0, "/mem/d", 0755))
		_exit(92);
	return s;
}

static void ms_sleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int gone_within(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 10 && kill(pid, 0) == 0; i++)
		ms_sleep(10);
	return kill(pid, 0) != 0;
}

static void expect_child(pid_t p, const char *what)
{
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: failed at step %d (status %#x)", what,
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1, st);
}

Test(holders, a_store_holds_several_times_its_fd_limit_and_reads_it_all_back)
{
	pid_t p = fork();
	if (p == 0) {
		limit_fds();
		ms_store *s = store();
		for (int i = 0; i < NFILES; i++)
			if (put(s, i))
				_exit(1);
		struct ms_hdr *h = s->hdr;
		uint32_t nh = h->nholders, held = 0;
		if (nh < 2)
			_exit(2); /* no holder was needed: the test proves nothing */
		/* Every process within its limit, together more than the limit. */
		for (uint32_t k = 0; k < nh; k++) {
			if (!h->holders[k].pid || count_fds(h->holders[k].pid) > LIMIT)
				_exit(3);
			held += h->holders[k].nfds;
		}
		if (held < NFILES)
			_exit(4);
		/* memshim-stat's figures */
		struct ms_stats sts;
		ms_stats_get(s, &sts);
		if (sts.holders != nh - 1 || sts.memfds_keeper + sts.memfds_holders != held ||
		    sts.memfds_holders == 0)
			_exit(40);
		for (int i = 0; i < NFILES; i++)
			if (check(s, i))
				_exit(5);
		/* Holders are invisible like the keeper: not ours, no terminal
		 * session of ours, /dev/null for stdio. */
		if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
			_exit(6);
		pid_t hp = h->holders[1].pid;
		if (getsid(hp) == getsid(0) || getpgid(hp) == getpgid(0))
			_exit(7);
		char l[64], lk[64];
		snprintf(l, sizeof(l), "/proc/%d/fd/0", (int)hp);
		ssize_t n = readlink(l, lk, sizeof(lk) - 1);
		if (n <= 0 || (lk[n] = 0, strcmp(lk, "/dev/null")))
			_exit(8);
		/* Freed files' memfds are closed wherever they are held. */
		for (int i = 0; i < NFILES; i += 2) {
			char pp[64];
			path_of(pp, sizeof(pp), i);
			if (ms_unlink(s, 0, pp))
				_exit(9);
		}
		int ok = 0;
		for (int t = 0; t < 1000 && !ok; t++) {
			held = 0;
			for (uint32_t k = 0; k < h->nholders; k++)
				held += h->holders[k].pid ? (uint32_t)count_fds(h->holders[k].pid) : 0;
			ok = held < NFILES / 2 + 64 * 2 + 64;
			if (!ok)
				ms_sleep(10);
		}
		if (!ok)
			_exit(10);
		/* And made again by new files, which read back too. */
		for (int i = 0; i < NFILES; i += 2)
			if (put(s, i))
				_exit(11);
		for (int i = 0; i < NFILES; i++)
			if (check(s, i))
				_exit(12);
		char msg[256];
		if (ms_check(s, msg, sizeof(msg)))
			_exit(13);
		if (ms_keeper_audit(s) != 0)
			_exit(14); /* no memfd left unnamed anywhere */
		ms_store_close(s);
		_exit(0);
	}
	expect_child(p, "many files");
}

Test(holders, holders_leave_with_the_store)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t p = fork();
	if (p == 0) {
		limit_fds();
		ms_store *s = store();
		for (int i = 0; i < NFILES / 2; i++)
			if (put(s, i))
				_exit(1);
		pid_t pids[MS_HOLDERS];
		uint32_t n = s->hdr->nholders;
		for (uint32_t k = 0; k < n; k++)
			pids[k] = s->hdr->holders[k].pid;
		if (write(fds[1], &n, sizeof(n)) != sizeof(n) ||
		    write(fds[1], pids, n * sizeof(pid_t)) != (ssize_t)(n * sizeof(pid_t)))
			_exit(2);
		_exit(0); /* the tree ends: the store with it */
	}
	close(fds[1]);
	uint32_t n = 0;
	pid_t pids[MS_HOLDERS];
	cr_assert_eq(read(fds[0], &n, sizeof(n)), sizeof(n));
	cr_assert_gt(n, 1, "no holder was started");
	cr_assert_eq(read(fds[0], pids, n * sizeof(pid_t)), (ssize_t)(n * sizeof(pid_t)));
	expect_child(p, "store with holders");
	for (uint32_t k = 0; k < n; k++)
		cr_assert(gone_within(pids[k], 5000), "%s %d outlived the store",
			  k ? "holder" : "keeper", (int)pids[k]);
}

/* A killed holder takes the bytes of its files with it, and nothing else:
 * their opens fail with EIO, their names stay (stat, unlink), every other
 * file reads back, new files are made in a new holder, and the store stays
 * consistent. A killed keeper loses every file. */
/* The keeper fills the pool of ready memfds whole, and again only once it
 * is below half, even while a creator on another CPU takes from it: a
 * request to a holder brings 33 memfds or more, but where a holder runs
 * out of room (once a holder) or the keeper's own share ends (once). */
Test(holders, the_pool_is_refilled_from_holders_in_batches)
{
	pid_t p = fork();
	if (p == 0) {
		limit_fds();
		ms_store *s = store();
		for (int i = 0; i < NFILES * 3; i++)
			if (put(s, i))
				_exit(1);
		struct ms_stats st;
		ms_stats_get(s, &st);
		uint64_t most = (uint64_t)NFILES * 3 / 33 + __atomic_load_n(&s->hdr->nholders, __ATOMIC_RELAXED) + 2;
		if (st.holders < 2 || st.holder_makes == 0)
			_exit(2);
		if (st.holder_makes > most) {
			fprintf(stderr, "%llu requests for %d files, at most %llu\n",
				(unsigned long long)st.holder_makes, NFILES * 3,
				(unsigned long long)most);
			_exit(3);
		}
		ms_store_close(s);
		_exit(0);
	}
	expect_child(p, "batched refills");
}

Test(holders, a_killed_holder_loses_its_files_bytes_only)
{
	pid_t p = fork();
	if (p == 0) {
		limit_fds();
		ms_store *s = store();
		for (int i = 0; i < NFILES; i++)
			if (put(s, i))
				_exit(1);
		struct ms_hdr *h = s->hdr;
		if (h->nholders < 3)
			_exit(2);
		pid_t victim = h->holders[1].pid;
		int in1[NFILES];
		for (int i = 0; i < NFILES; i++) {
			ms_ino ino;
			char pp[64];
			path_of(pp, sizeof(pp), i);
			if (ms_lookup(s, 0, pp, 0, &ino))
				_exit(3);
			in1[i] = ms_kfd_holder(ms_inode_at(s, ino)->kfd) == 1;
		}
		kill(victim, SIGKILL);
		int r = 0;
		int first = -1;
		for (int i = 0; i < NFILES && first < 0; i++)
			if (in1[i])
				first = i;
		if (first < 0)
			_exit(4);
		for (int t = 0; t < 500; t++) {
			r = check(s, first);
			if (r == -EIO)
				break;
			ms_sleep(10);
		}
		if (r != -EIO)
			_exit(5);
		/* The keeper forgets the holder (under ns_lock) soon after. */
		for (int t = 0; t < 500 && h->holders[1].pid == victim; t++)
			ms_sleep(10);
		if (h->holders[1].pid == victim)
			_exit(55);
		for (int i = 0; i < NFILES; i++) {
			r = check(s, i);
			if (in1[i] ? r != -EIO : r != 0)
				_exit(6);
		}
		struct stat st;
		char pp[64];
		path_of(pp, sizeof(pp), first);
		if (ms_stat(s, 0, pp, 0, &st) || st.st_size == 0)
			_exit(7);
		if (ms_unlink(s, 0, pp))
			_exit(8);
		/* New files: in the keeper or a holder, never the dead one. */
		for (int i = 0; i < 1000 && !(h->holders[1].pid && h->holders[1].pid != victim); i++) {
			char q[64];
			snprintf(q, sizeof(q), "/mem/d/g%d", i);
			int fd;
			ms_ino ino;
			if (ms_open(s, 0, q, O_CREAT | O_RDWR, 0644, &fd, &ino) || write(fd, "new", 3) != 3)
				_exit(9);
			ms_ino_put(s, ino);
			close(fd);
		}
		/* The dead holder's slot is taken again once every other holder
		 * is full: its old files must not reach the new one's memfds. */
		if (h->holders[1].pid == 0 || h->holders[1].pid == victim)
			_exit(10);
		for (int i = 0; i < NFILES; i++) {
			if (i == first)
				continue; /* unlinked above */
			r = check(s, i);
			if (in1[i] ? r != -EIO : r != 0)
				_exit(11);
		}
		char msg[256];
		if (ms_check(s, msg, sizeof(msg)))
			_exit(12);
		ms_store_close(s);
		_exit(0);
	}
	expect_child(p, "killed holder");
}

/* A process that dropped privileges may not open /proc/<holder>/fd any
 * more than the keeper's: the keeper opens the holder's memfd for it and
 * hands it over the socket. */
Test(holders, a_process_that_dropped_privileges_gets_holders_fds_from_the_keeper)
{
	pid_t p = fork();
	if (p == 0) {
		limit_fds();
		ms_store *s = store();
		for (int i = 0; i < NFILES / 2; i++)
			if (put(s, i))
				_exit(1);
		if (s->hdr->nholders < 2)
			_exit(2);
		pid_t c = fork();
		if (c == 0) {
			if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
				_exit(3);
			ms_store_cred_refresh(s);
			for (int i = 0; i < NFILES / 2; i++)
				if (check(s, i))
					_exit(4);
			_exit(0);
		}
		int st;
		waitpid(c, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 5);
	}
	expect_child(p, "dropped privileges");
}

/* MEMSHIM_SAVE reads every file's bytes where they are held: the keeper's
 * own fds, and its holders' through /proc. */
Test(holders, the_save_reads_the_files_holders_hold)
{
	char dir[] = "/tmp/memshim-holders-save-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char save[sizeof(dir) + 8];
	snprintf(save, sizeof(save), "%s/out", dir);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t p = fork();
	if (p == 0) {
		limit_fds();
		static struct ms_config c;
		c = t_config(64 << 20, 4 * NFILES);
		snprintf(c.save, sizeof(c.save), "%s", save);
		ms_store *s = NULL;
		struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
		if (ms_store_open(&o, &s) || ms_mkdir(s, 0, "/mem/d", 0755))
			_exit(1);
		for (int i = 0; i < NFILES / 2; i++)
			if (put(s, i))
				_exit(2);
		if (s->hdr->nholders < 2)
			_exit(3);
		pid_t k = ms_store_keeper_pid(s);
		if (write(fds[1], &k, sizeof(k)) != sizeof(k))
			_exit(4);
		_exit(0); /* the tree ends: the keeper saves, then leaves */
	}
	close(fds[1]);
	pid_t k = 0;
	cr_assert_eq(read(fds[0], &k, sizeof(k)), sizeof(k));
	expect_child(p, "save with holders");
	cr_assert(gone_within(k, 15000), "the keeper did not finish its save");
	for (int i = 0; i < NFILES / 2; i++) {
		char path[sizeof(save) + 32], want[128], got[160];
		size_t n = content(want, i);
		snprintf(path, sizeof(path), "%s/d/f%04d", save, i);
		int fd = open(path, O_RDONLY);
		cr_assert_geq(fd, 0, "%s was not saved", path);
		ssize_t k2 = read(fd, got, sizeof(got));
		close(fd);
		cr_assert(k2 == (ssize_t)n && memcmp(got, want, n) == 0, "%s: wrong bytes", path);
		unlink(path);
	}
	char d[sizeof(save) + 8];
	snprintf(d, sizeof(d), "%s/d", save);
	rmdir(d);
	rmdir(save);
	rmdir(dir);
}

/* A killed keeper takes its holders with it (PR_SET_PDEATHSIG, and end of
 * file on their sockets): no memfd outlives the store. */
Test(holders, holders_leave_with_a_killed_keeper)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t p = fork();
	if (p == 0) {
		limit_fds();
		ms_store *s = store();
		for (int i = 0; i < NFILES / 2; i++)
			if (put(s, i))
				_exit(1);
		uint32_t n = s->hdr->nholders;
		pid_t pids[MS_HOLDERS];
		for (uint32_t k = 0; k < n; k++)
			pids[k] = s->hdr->holders[k].pid;
		if (write(fds[1], &n, sizeof(n)) != sizeof(n) ||
		    write(fds[1], pids, n * sizeof(pid_t)) != (ssize_t)(n * sizeof(pid_t)))
			_exit(2);
		pause(); /* the store stays attached: only the kill ends it */
		_exit(0);
	}
	close(fds[1]);
	uint32_t n = 0;
	pid_t pids[MS_HOLDERS];
	cr_assert_eq(read(fds[0], &n, sizeof(n)), sizeof(n));
	cr_assert_gt(n, 1, "no holder was started");
	cr_assert_eq(read(fds[0], pids, n * sizeof(pid_t)), (ssize_t)(n * sizeof(pid_t)));
	int killed = kill(pids[0], SIGKILL), left = 0;
	pid_t first_left = 0;
	for (uint32_t k = 1; k < n; k++)
		if (!gone_within(pids[k], 5000)) {
			left++;
			first_left = first_left ? first_left : pids[k];
			kill(pids[k], SIGKILL); /* not left behind by a failing run */
		}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	cr_assert_eq(killed, 0);
	cr_assert_eq(left, 0, "%d holders (the first %d) outlived their killed keeper", left,
		     (int)first_left);
}
