/* The keeper: files outlive their writers, any process of the tree can open
 * them, and the keeper is invisible to the program and gone with the tree. */
#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "arena.h"
#include "common.h"
#include "keeper.h" /* MS_STALE_MAX, MS_STALE_FILE */

static char tool[4096];

static void init_tool(void)
{
	snprintf(tool, sizeof(tool), "%s/tests/helpers/ms_tool", t_build());
}

/* Runs argv with stdout to a pipe; returns its output (static buffer) and
 * exit status. */
static const char *run(char *const argv[], int *status)
{
	static char out[8192];
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t k;
	while ((k = read(p[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = 0;
	close(p[0]);
	waitpid(pid, status, 0);
	return out;
}

static int alive(pid_t pid) { return kill(pid, 0) == 0; }

static int gone_within(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (!alive(pid))
			return 1;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return !alive(pid);
}

Test(keeper, file_outlives_its_writer_and_is_read_by_an_exec_d_process, .init = init_tool)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	pid_t w = fork();
	if (w == 0) {
		/* The writer joins by name, like an exec'd program would. */
		ms_store *ws;
		struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
		if (ms_store_attach(ms_store_name(s), &o, &ws))
			_exit(3);
		_exit(t_write_file(ws, "/mem/hello", 5) ? 4 : 0);
	}
	int st;
	waitpid(w, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer failed: %d", st);
	char *argv[] = {tool, "cat", (char *)ms_store_name(s), "/mem/hello", NULL};
	const char *out = run(argv, &st);
	cr_assert_eq(st, 0);
	cr_assert_str_eq(out, "xxxxx");
	ms_store_close(s);
}

Test(keeper, a_file_written_by_an_exec_d_process_is_seen_by_the_creator, .init = init_tool)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	char *argv[] = {tool, "put", (char *)ms_store_name(s), "/mem/from-child", "hi there", NULL};
	int st;
	run(argv, &st);
	cr_assert_eq(st, 0);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/from-child", O_RDONLY, 0, &fd, &ino), 0);
	char buf[32] = {0};
	cr_assert_eq(read(fd, buf, sizeof(buf)), 8);
	cr_assert_str_eq(buf, "hi there");
	t_assert_consistent(s);
}

Test(keeper, without_proc_the_keeper_hands_fds_over_its_socket, .init = init_tool)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	cr_assert_eq(t_write_file(s, "/mem/f", 3), 0);
	char *argv[] = {tool, "noproc-cat", (char *)ms_store_name(s), "/mem/f", NULL};
	int st;
	const char *out = run(argv, &st);
	cr_assert_eq(st, 0);
	cr_assert_str_eq(out, "xxx");
}

Test(keeper, keeper_is_gone_after_the_tree_ends, .init = init_tool)
{
	char *argv[] = {tool, "new", "/mem/x", "data", NULL};
	int st;
	const char *out = run(argv, &st);
	cr_assert_eq(st, 0, "ms_tool new failed");
	char name[128];
	int kpid = 0;
	cr_assert_eq(sscanf(out, "%127s %d", name, &kpid), 2, "output: %s", out);
	cr_assert_gt(kpid, 0);
	/* The creator has exited; nothing else is attached. */
	cr_assert(gone_within(kpid, 5000), "keeper %d still alive 5 s after the tree ended", kpid);
	char *cat[] = {tool, "cat", name, "/mem/x", NULL};
	run(cat, &st);
	cr_assert_neq(st, 0, "the store must be gone with its keeper");
}

Test(keeper, keeper_stays_while_a_process_is_attached, .init = init_tool)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	pid_t k = ms_store_keeper_pid(s);
	struct timespec ts = {1, 500000000}; /* longer than the grace period */
	nanosleep(&ts, NULL);
	cr_assert(alive(k));
	ms_store_close(s);
	cr_assert(gone_within(k, 5000), "keeper outlived its last process");
}

Test(keeper, keeper_is_invisible_to_the_program)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	pid_t k = ms_store_keeper_pid(s);
	/* Not our child: wait() must find no child to reap. */
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
	cr_assert_neq(getpgid(k), getpgid(0), "keeper shares our process group");
	cr_assert_eq(getsid(k), k, "keeper is not in a session of its own");
	char path[64], link[256];
	/* Its standard streams are /dev/null. */
	for (int fd = 0; fd < 3; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)k, fd);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		cr_assert_gt(n, 0);
		link[n] = 0;
		cr_assert_str_eq(link, "/dev/null");
	}
	/* Our own private fds sit out of the program's range. */
	int fds[8];
	int n = ms_store_private_fds(s, fds, 8);
	cr_assert_geq(n, 2);
	for (int i = 0; i < n; i++)
		cr_assert_geq(fds[i], 100, "private fd %d in the program's range", fds[i]);
}

Test(keeper, a_named_store_is_joined_not_created_twice)
{
	struct ms_config c = t_config(1 << 20, 0);
	snprintf(c.store_name, sizeof(c.store_name), "t-named-%d", (int)getpid());
	ms_store *a = t_kept(&c), *b = t_kept(&c);
	cr_assert_eq(ms_store_keeper_pid(a), ms_store_keeper_pid(b));
	cr_assert_eq(t_write_file(a, "/mem/shared", 7), 0);
	struct stat st;
	cr_assert_eq(ms_stat(b, 0, "/mem/shared", 0, &st), 0);
	cr_assert_eq(st.st_size, 7);
}

Test(keeper, another_users_process_cannot_join)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	pid_t p = fork();
	if (p == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(5);
		ms_store *o;
		struct ms_open_opts op = {.cfg = &c, .keeper_path = t_keeper()};
		int r = ms_store_attach(ms_store_name(s), &op, &o);
		_exit(r == 0 ? 1 : 0);
	}
	int st;
	waitpid(p, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another user joined the store (%d)", st);
}

/* A process of the tree that dropped privileges may not re-open the
 * keeper's memfds through /proc/<keeper>/fd (the kernel's ptrace access
 * check): the keeper hands them over the connection it already has, and
 * the store's own permission checks decide. */
Test(keeper, a_process_that_dropped_privileges_gets_fds_from_the_keeper)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	cr_assert_eq(t_write_file(s, "/mem/shared", 3), 0);
	cr_assert_eq(ms_chmod(s, 0, "/mem/shared", 0, 0666), 0);
	cr_assert_eq(t_write_file(s, "/mem/private", 3), 0);
	cr_assert_eq(ms_chmod(s, 0, "/mem/private", 0, 0600), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0777), 0);
	cr_assert_eq(ms_chmod(s, 0, "/mem/d", 0, 0777), 0);
	pid_t p = fork();
	if (p == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(5);
		ms_store_cred_refresh(s);
		int fd;
		ms_ino ino;
		char b[4] = "";
		if (ms_open(s, 0, "/mem/shared", O_RDWR, 0, &fd, &ino) || pread(fd, b, 3, 0) != 3 ||
		    strcmp(b, "xxx"))
			_exit(6);
		if (ms_open(s, 0, "/mem/private", O_RDONLY, 0, &fd, &ino) != -EACCES)
			_exit(7);
		if (ms_open(s, 0, "/mem/d/mine", O_RDWR | O_CREAT, 0600, &fd, &ino) || write(fd, "n", 1) != 1)
			_exit(8);
		struct stat st;
		if (ms_stat(s, 0, "/mem/d/mine", 0, &st) || st.st_uid != 65534 || st.st_gid != 65534)
			_exit(9);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dropped process failed at step %d",
		  WEXITSTATUS(st));
	ms_store_close(s);
}

/* Every program of the tree inherits the keeper connection (MEMSHIM_PIN):
 * the owner's passes it on as well, and one exec'd by a process that is
 * not the store's owner any more joins through it; a process cannot join
 * through an fd that is not the keeper's. */
Test(keeper, a_non_owner_joins_only_through_an_inherited_connection)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	int own = ms_store_pin_for_exec(s);
	cr_assert(own >= 0 && !(fcntl(own, F_GETFD) & FD_CLOEXEC),
		  "the owner passes its connection on, inheritable");
	pid_t p = fork();
	if (p == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(5);
		int pin = ms_store_pin_for_exec(s);
		if (pin < 0 || (fcntl(pin, F_GETFD) & FD_CLOEXEC))
			_exit(6);
		ms_store *o;
		int fds[2];
		if (pipe(fds))
			_exit(7);
		struct ms_open_opts op = {.cfg = &c, .keeper_path = t_keeper(), .pin = fds[0]};
		if (ms_store_attach(ms_store_name(s), &op, &o) == 0)
			_exit(8); /* a pipe is no keeper */
		op.pin = pin;
		if (ms_store_attach(ms_store_name(s), &op, &o))
			_exit(9);
		struct stat st;
		if (ms_stat(o, 0, "/mem", 0, &st) || !S_ISDIR(st.st_mode))
			_exit(10);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "failed at step %d", WEXITSTATUS(st));
	ms_store_close(s);
}

Test(keeper, many_files_survive_creators_and_the_pool_refills)
{
	struct ms_config c = t_config(64 << 20, 0);
	ms_store *s = t_kept(&c);
	/* More files than the pool holds: later creates wait on the keeper. */
	for (int i = 0; i < 300; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/mem/f%d", i);
		cr_assert_eq(t_write_file(s, p, (size_t)i), 0, "create %d", i);
	}
	for (int i = 0; i < 300; i += 37) {
		char p[64];
		snprintf(p, sizeof(p), "/mem/f%d", i);
		struct stat st;
		cr_assert_eq(ms_stat(s, 0, p, 0, &st), 0);
		cr_assert_eq(st.st_size, i);
	}
	for (int i = 0; i < 300; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/mem/f%d", i);
		cr_assert_eq(ms_unlink(s, 0, p), 0);
	}
	t_assert_consistent(s);
	/* The keeper closes the memfds of freed files: its fd count drops. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)ms_store_keeper_pid(s));
	int nfd = 0;
	for (int tries = 0; tries < 100; tries++) {
		DIR *d = opendir(path);
		cr_assert_not_null(d);
		nfd = 0;
		while (readdir(d))
			nfd++;
		closedir(d);
		if (nfd < 150)
			break;
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	cr_assert_lt(nfd, 150, "keeper still holds %d fds", nfd);
}

/* What the pool's memfds hold as the kernel sees them: bytes of pages in
 * all, the largest, and whether each stale entry's count is the kernel's. */
struct pool_look {
	uint64_t bytes, most;
	int stale, honest;
};

static struct pool_look look_at_pool(ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	struct pool_look l = {.honest = 1};
	ms_keeper_lock(s); /* the keeper moves nothing meanwhile */
	for (uint32_t p = h->pool_head; p != h->pool_tail; p++) {
		struct ms_memfd_ref m = h->pool[p % MS_POOL_SLOTS];
		char path[64];
		struct stat st;
		cr_assert_eq(ms_kfd_holder(m.kfd), 0u, "a 64 MiB store needs no holder");
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)ms_store_keeper_pid(s),
			 ms_kfd_fd(m.kfd));
		cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
		cr_assert_eq((uint64_t)st.st_ino, m.kino);
		uint64_t b = (uint64_t)st.st_blocks * 512;
		l.bytes += b;
		l.most = b > l.most ? b : l.most;
		l.stale += m.stale != 0;
		if (m.stale ? m.stale - 1 != b : b || st.st_size)
			l.honest = 0;
	}
	ms_keeper_unlock(s);
	return l;
}

/* A small removed file's memfd goes back to the pool as it is, for the
 * next create's open to empty (core/keeper.c, ms_pool_give), but what the
 * pool holds so stays bounded: files of 12 KiB made and removed 200
 * times leave at most MS_STALE_MAX bytes of pages in the pool, each
 * entry's count is what the kernel holds (an empty one holds nothing),
 * and files over MS_STALE_FILE never stay there unemptied; with no file
 * made, the keeper's round empties them (keeper/main.c, stale_out). New
 * files made from it all are empty to the kernel. */
Test(keeper, removed_files_memfds_wait_in_the_pool_within_a_bound)
{
	struct ms_config c = t_config(64 << 20, 0);
	ms_store *s = t_kept(&c);
	struct pool_look l = {0};
	/* again when the keeper's round emptied them right before the look */
	for (int t = 0; t < 5 && !l.stale; t++) {
		for (int i = 0; i < 200; i++) {
			cr_assert_eq(t_write_file(s, "/mem/small", 12 << 10), 0, "create %d", i);
			cr_assert_eq(ms_unlink(s, 0, "/mem/small"), 0);
		}
		l = look_at_pool(s);
	}
	cr_assert(l.stale > 0, "no removed file's memfd came back to the pool as it was");
	cr_assert_leq(l.bytes, MS_STALE_MAX, "the pool holds %llu bytes of removed files",
		      (unsigned long long)l.bytes);
	cr_assert(l.honest, "a pool entry's count is not what its memfd holds");
	/* With no file made, the keeper's next round (once a second)
	 * empties them: 10 s for a machine loaded by others. */
	for (int t = 0; t < 200 && (l.stale || l.bytes); t++) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
		l = look_at_pool(s);
	}
	cr_assert(!l.stale && !l.bytes, "10 s on, the pool holds %llu bytes of removed files",
		  (unsigned long long)l.bytes);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(t_write_file(s, "/mem/big", 32 << 10), 0, "create %d", i);
		cr_assert_eq(ms_unlink(s, 0, "/mem/big"), 0);
	}
	l = look_at_pool(s);
	cr_assert_leq(l.most, MS_STALE_FILE, "a pool memfd holds %llu bytes",
		      (unsigned long long)l.most);
	cr_assert(l.honest, "a pool entry's count is not what its memfd holds");
	for (int i = 0; i < 60; i++) { /* removed small files' memfds again */
		cr_assert_eq(t_write_file(s, "/mem/small", 12 << 10), 0, "create %d", i);
		cr_assert_eq(ms_unlink(s, 0, "/mem/small"), 0);
	}
	for (int i = 0; i < 100; i++) {
		char p[64];
		int fd;
		ms_ino ino;
		struct stat st;
		snprintf(p, sizeof(p), "/mem/new%d", i);
		cr_assert_eq(ms_open(s, 0, p, O_CREAT | O_EXCL | O_RDONLY, 0644, &fd, &ino), 0);
		cr_assert_eq(fstat(fd, &st), 0);
		cr_assert(st.st_size == 0 && st.st_blocks == 0, "new file %d: %lld bytes, %lld blocks",
			  i, (long long)st.st_size, (long long)st.st_blocks);
		close(fd);
		ms_ino_put(s, ino);
	}
	t_assert_consistent(s);
	ms_store_close(s);
}

/* A removed file's pages go at its removal, even when a process keeps an
 * open file description of it to lend (core/data.c, ms_inode_free_now)
 * and its memfd is to serve a new file: the keeper (stopped here) empties
 * it only later, a small one in the pool not at all. What is kept then
 * sees an empty file, as on tmpfs nothing keeps the pages of a removed
 * file nobody has open. Under a loaded CI machine, without this, lendops
 * found "fd 1004 keeps 600 KiB". */
Test(keeper, a_removed_files_kept_description_keeps_none_of_its_pages)
{
	struct ms_config c = t_config(64 << 20, 0);
	ms_store *s = t_kept(&c);
	pid_t k = ms_store_keeper_pid(s);
	static const size_t sizes[] = {600 << 10, 8 << 10};
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(t_write_file(s, "/mem/f", sizes[i]), 0);
		int fd;
		ms_ino ino;
		uint64_t ino_no, kino;
		cr_assert_eq(ms_open(s, 0, "/mem/f", O_RDONLY, 0, &fd, &ino), 0);
		cr_assert_eq(ms_ino_put_lend(s, ino, 0, &ino_no, &kino), 1, "not kept");
		cr_assert_eq(kill(k, SIGSTOP), 0);
		cr_assert_eq(ms_unlink(s, 0, "/mem/f"), 0);
		struct stat st;
		cr_assert_eq(fstat(fd, &st), 0);
		kill(k, SIGCONT);
		cr_assert_eq(st.st_blocks, 0, "%zu bytes: the kept description holds %lld KiB",
			     sizes[i], (long long)st.st_blocks / 2);
		close(fd);
	}
	t_assert_consistent(s);
	ms_store_close(s);
}

/* A keeper slow to answer is waited for, not taken for a dead one: with
 * the keeper stopped for 7 s, creates past what the pool holds wait and
 * then succeed (a 5 s limit made them fail with EAGAIN on a loaded
 * machine: the chaos run's "ms_open returned -11"). */
Test(keeper, a_create_waits_for_a_keeper_slow_to_answer, .timeout = 60)
{
	struct ms_config c = t_config(64 << 20, 0);
	ms_store *s = t_kept(&c);
	pid_t k = ms_store_keeper_pid(s);
	cr_assert_eq(kill(k, SIGSTOP), 0);
	pid_t waker = fork();
	if (waker == 0) {
		sleep(7);
		kill(k, SIGCONT);
		_exit(0);
	}
	time_t t0 = time(NULL);
	for (int i = 0; i < 2 * MS_POOL_SLOTS; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/mem/f%d", i);
		int r = t_write_file(s, p, 10);
		cr_assert_eq(r, 0, "create %d after %ld s: %s", i, (long)(time(NULL) - t0),
			     strerror(-r));
	}
	cr_assert_geq(time(NULL) - t0, 6, "the creates did wait for the keeper");
	waitpid(waker, NULL, 0);
	t_assert_consistent(s);
}

Test(keeper, keeper_never_outlives_a_killed_tree)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t c = fork();
	if (c == 0) {
		struct ms_config cfg = t_config(1 << 20, 0);
		ms_store *s;
		struct ms_open_opts o = {.cfg = &cfg, .keeper_path = t_keeper()};
		if (ms_store_open(&o, &s))
			_exit(1);
		t_write_file(s, "/mem/f", 100);
		pid_t k = ms_store_keeper_pid(s);
		if (write(p[1], &k, sizeof(k)) != sizeof(k))
			_exit(1);
		pause();
		_exit(0);
	}
	pid_t k = 0;
	cr_assert_eq(read(p[0], &k, sizeof(k)), sizeof(k));
	cr_assert(alive(k));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	cr_assert(gone_within(k, 5000), "keeper %d outlived its killed tree", (int)k);
}

Test(keeper, creating_a_store_leaves_the_programs_fds_alone)
{
	/* Every fd below 100 is as it was: nothing inherited, nothing taken. */
	char before[4096], after[4096];
	FILE *f = popen("ls /proc/self/fd", "r"); /* a child: just to warm up popen */
	pclose(f);
	int n0 = 0, n1 = 0;
	for (int fd = 0; fd < 100; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			before[n0++] = (char)fd;
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	cr_assert_eq(t_write_file(s, "/mem/f", 10), 0);
	for (int fd = 0; fd < 100; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			after[n1++] = (char)fd;
	cr_assert_eq(n0, n1, "fds below 100: %d before, %d after", n0, n1);
	cr_assert_eq(memcmp(before, after, (size_t)n0), 0);
}
