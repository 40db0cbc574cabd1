/* Fault injection (core/fault.h) and the error paths it reaches: joining a
 * store (memfd_create, mmap of the arena, the keeper's socket, /proc
 * missing), open, write, rename and close. Each failure must give the
 * caller a clean errno, leave no fd or mapping behind, and leave the store
 * consistent with its ledger unchanged. The last tests run a program under
 * the preload with MEMSHIM_TEST_FAULT. */
#include <dirent.h>
#include <time.h>

#include "arena.h"
#include "common.h"
#include "fault.h"
#include "sys.h"

/* ---- what must not change ------------------------------------------------------ */

static int nfds(void)
{
	int n = -1; /* the directory's own fd */
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2; /* "." and ".." */
}

/* Mappings of an arena in this process. */
static int arenas_mapped(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memshim-arena") != NULL;
	fclose(f);
	return n;
}

struct snap {
	uint64_t bytes, nodes, files, orphans;
};

static struct snap snap(ms_store *s)
{
	struct ms_stats st;
	ms_stats_get(s, &st);
	return (struct snap){st.used_bytes, st.used_nodes, st.files, st.orphans};
}

#define SAME_LEDGER(a, b)                                                          \
	do {                                                                       \
		cr_assert_eq((a).bytes, (b).bytes, "used bytes %llu, were %llu",   \
			     (unsigned long long)(b).bytes, (unsigned long long)(a).bytes); \
		cr_assert_eq((a).nodes, (b).nodes, "used nodes %llu, were %llu",   \
			     (unsigned long long)(b).nodes, (unsigned long long)(a).nodes); \
		cr_assert_eq((a).files, (b).files);                                \
		cr_assert_eq((a).orphans, (b).orphans);                            \
	} while (0)

static void arm(const char *name, unsigned nth, int err)
{
	cr_assert_eq(ms_fault_arm(name, nth, err), 0);
}

static void fini(void) { ms_fault_clear(); }

static char name_buf[64];
/* A store name of this test process's own. */
static const char *fresh_name(void)
{
	static int k;
	snprintf(name_buf, sizeof(name_buf), "fault-%d-%d", (int)getpid(), k++);
	return name_buf;
}

/* Whether a keeper still listens under the store name (/proc/net/unix). */
static int keeper_listens(const char *name)
{
	char want[128], line[512];
	int found = 0;
	snprintf(want, sizeof(want), "@memshim-%u-%s\n", (unsigned)geteuid(), name);
	FILE *f = fopen("/proc/net/unix", "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line), w = strlen(want);
		found |= n >= w && !strcmp(line + n - w, want);
	}
	fclose(f);
	return found;
}

static int keeper_gone_within(const char *name, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (!keeper_listens(name))
			return 1;
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	return !keeper_listens(name);
}

/* The keeper has closed every memfd queued for closing. */
static int closeq_drained_within(ms_store *s, int ms)
{
	struct ms_hdr *h = s->hdr;
	for (int i = 0; i < ms / 10; i++) {
		if (__atomic_load_n(&h->closeq_head, __ATOMIC_ACQUIRE) ==
		    __atomic_load_n(&h->closeq_tail, __ATOMIC_ACQUIRE))
			return 1;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static const char *content(ms_store *s, const char *path)
{
	static char buf[256];
	int fd;
	ms_ino ino;
	int r = ms_open(s, 0, path, O_RDONLY, 0, &fd, &ino);
	cr_assert_eq(r, 0, "open %s: %s", path, strerror(-r));
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	ms_ino_put(s, ino);
	close(fd);
	return buf;
}

/* ---- the rules ----------------------------------------------------------------- */

Test(rules, the_nth_call_fails_once_and_errno_is_left_alone, .fini = fini)
{
	struct stat st;
	arm("fstat", 2, EIO);
	errno = 0;
	cr_assert_eq(sys_fstat(0, &st), 0);
	cr_assert_eq(sys_fstat(0, &st), -EIO);
	cr_assert_eq(sys_fstat(0, &st), 0);
	cr_assert_eq(errno, 0);
	cr_assert_eq(ms_fault_fired("fstat"), 1);
	cr_assert_eq(ms_fault_fired("openat"), 0);
}

Test(rules, n_0_fails_every_call_until_cleared, .fini = fini)
{
	struct stat st;
	arm("fstat", 0, ENOMEM);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(sys_fstat(0, &st), -ENOMEM);
	ms_fault_clear();
	cr_assert_eq(sys_fstat(0, &st), 0);
	cr_assert_eq(ms_fault_fired(NULL), 0);
}

Test(rules, a_name_counts_only_its_own_calls, .fini = fini)
{
	struct stat st;
	arm("fstatat", 1, EACCES);
	cr_assert_eq(sys_fstat(0, &st), 0);
	cr_assert_eq(sys_fstatat(AT_FDCWD, "/", &st, 0), -EACCES);
}

Test(rules, a_failing_close_still_releases_the_fd_as_close_2_does, .fini = fini)
{
	int fd = open("/dev/null", O_RDONLY);
	cr_assert_geq(fd, 0);
	arm("close", 1, EIO);
	cr_assert_eq(sys_close(fd), -EIO);
	cr_assert_eq(fcntl(fd, F_GETFD), -1);
	cr_assert_eq(errno, EBADF);
}

Test(rules, a_failing_mmap_maps_nothing, .fini = fini)
{
	void *p = NULL;
	arm("mmap", 1, ENOMEM);
	cr_assert_eq(sys_mmap(&p, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -ENOMEM);
	cr_assert_null(p);
	cr_assert_eq(sys_mmap(&p, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 0);
	munmap(p, 4096);
}

Test(rules, arm_refuses_what_it_cannot_do, .fini = fini)
{
	cr_assert_eq(ms_fault_arm("", 1, EIO), -EINVAL);
	cr_assert_eq(ms_fault_arm("write", 1, 0), -EINVAL);
	cr_assert_eq(ms_fault_arm("a_name_far_too_long_for_the_table_", 1, EIO), -EINVAL);
	for (int i = 0; i < MS_FAULT_MAX; i++)
		arm("write", 100, EIO);
	cr_assert_eq(ms_fault_arm("write", 1, EIO), -ENOSPC);
}

/* A death point kills its process, with SIGKILL, at its nth call. */
Test(rules, a_death_point_kills_at_its_nth_call, .fini = fini)
{
	pid_t p = fork();
	if (p == 0) {
		ms_fault_arm("die_here", 3, EINTR);
		for (int i = 1; i <= 5; i++) {
			MS_DIE_AT("die_here");
			if (i == 3)
				_exit(10); /* passed the third call alive */
		}
		_exit(11);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
	MS_DIE_AT("die_here"); /* not armed here: nothing happens */
}

static int only_open(const char *name) { return !strcmp(name, "open"); }

Test(rules, a_spec_arms_its_rules, .fini = fini)
{
	char what[200];
	struct stat st;
	ms_fault_set_known(only_open);
	cr_assert_eq(ms_fault_parse("open:1:EACCES,fstat:0:eio", 1, what, sizeof(what)), 2);
	cr_assert_eq(sys_fstat(0, &st), -EIO);
	cr_assert_eq(ms_fault_fired("open"), 0);
	ms_fault_set_known(NULL);
}

static void bad_spec(const char *spec, const char *want)
{
	char what[200];
	ms_fault_set_known(only_open);
	cr_assert_eq(ms_fault_parse(spec, 1, what, sizeof(what)), -EINVAL, "%s accepted", spec);
	cr_assert_str_eq(what, want);
	cr_assert_eq(ms_fault_armed, 0, "%s armed something", spec);
	ms_fault_set_known(NULL);
}

Test(rules, a_bad_spec_is_refused_whole_with_what_is_wrong)
{
	bad_spec("open", "rule \"open\" is not name:N:ERRNO");
	bad_spec("open:1:EIO,", "rule \"\" is not name:N:ERRNO");
	bad_spec("1open:1:EIO", "rule \"1open:1:EIO\" does not start with a function name");
	bad_spec("openn:1:EIO", "rule \"openn:1:EIO\": memshim makes no call named openn");
	bad_spec("open:-1:EIO",
		 "rule \"open:-1:EIO\": N is not a call number (1 for the first call, 0 for every call)");
	bad_spec("open::EIO",
		 "rule \"open::EIO\": N is not a call number (1 for the first call, 0 for every call)");
	bad_spec("open:99999999999:EIO", "rule \"open:99999999999:EIO\": N is not a call number (1 "
					 "for the first call, 0 for every call)");
	bad_spec("open:1:EBOGUS", "rule \"open:1:EBOGUS\" does not end with an errno name such as EIO");
	bad_spec("open:1:5", "rule \"open:1:5\" does not end with an errno name such as EIO");
	bad_spec("open:1:EIO,open:2:EIO,open:3:EIO,open:4:EIO,open:5:EIO,open:6:EIO,open:7:EIO,"
		 "open:8:EIO,open:9:EIO",
		 "more than 8 rules");
}

static const char *fake_env_value;
static const char *fake_get(const char *name)
{
	return strcmp(name, "MEMSHIM_TEST_FAULT") ? NULL : fake_env_value;
}

Test(rules, memshim_test_fault_is_checked_with_the_other_variables)
{
	struct ms_config c;
	char err[512];
	fake_env_value = "write:2:EIO";
	cr_assert_eq(ms_config_load(&c, fake_get, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.fault, "write:2:EIO");
	cr_assert_eq(ms_fault_armed, 0, "checking arms nothing");
	fake_env_value = "write:2";
	cr_assert_eq(ms_config_load(&c, fake_get, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "MEMSHIM_TEST_FAULT=\"write:2\": rule \"write:2\" is not name:N:ERRNO; "
			      "use e.g. memfd_create:1:EMFILE,openat:3:ENOENT");
	fake_env_value = "";
	cr_assert_eq(ms_config_load(&c, fake_get, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "empty value"), "%s", err);
}

/* ---- creating and joining a store ---------------------------------------------- */

Test(attach, memfd_create_failing_fails_the_store_and_leaves_nothing, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	int fds = nfds();
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = &c};
	arm("memfd_create", 1, EMFILE);
	cr_assert_eq(ms_store_open(&o, &s), -EMFILE);
	cr_assert_null(s);
	cr_assert_eq(nfds(), fds);
	cr_assert_eq(arenas_mapped(), 0);

	/* with a keeper: the name it bound is given back at once */
	snprintf(c.store_name, sizeof(c.store_name), "%s", fresh_name());
	o.keeper_path = t_keeper();
	ms_fault_clear();
	arm("memfd_create", 1, EMFILE);
	cr_assert_eq(ms_store_open(&o, &s), -EMFILE);
	cr_assert_eq(ms_fault_fired("memfd_create"), 1);
	cr_assert_eq(nfds(), fds);
	cr_assert_eq(arenas_mapped(), 0);
	cr_assert_not(keeper_listens(c.store_name));
	ms_fault_clear();
	cr_assert_eq(ms_store_open(&o, &s), 0, "a later try works");
	ms_store_close(s);
}

Test(attach, the_arena_mmap_failing_on_create_leaves_nothing, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	int fds = nfds();
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = &c};
	arm("mmap", 2, ENOMEM); /* 1: the handle, 2: the arena */
	cr_assert_eq(ms_store_open(&o, &s), -ENOMEM);
	cr_assert_eq(ms_fault_fired("mmap"), 1);
	cr_assert_eq(nfds(), fds);
	cr_assert_eq(arenas_mapped(), 0);
}

Test(attach, the_arena_mmap_failing_on_join_leaves_nothing, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	snprintf(c.store_name, sizeof(c.store_name), "%s", fresh_name());
	ms_store *s = t_kept(&c), *j = NULL;
	int fds = nfds(), maps = arenas_mapped();
	struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
	arm("mmap", 2, ENOMEM);
	cr_assert_eq(ms_store_attach(c.store_name, &o, &j), -ENOMEM);
	cr_assert_eq(ms_fault_fired("mmap"), 1);
	cr_assert_eq(nfds(), fds);
	cr_assert_eq(arenas_mapped(), maps);
	arm("mmap", 1, ENOMEM); /* the handle itself */
	cr_assert_eq(ms_store_attach(c.store_name, &o, &j), -ENOMEM);
	cr_assert_eq(nfds(), fds);
	ms_fault_clear();
	cr_assert_eq(ms_store_attach(c.store_name, &o, &j), 0);
	ms_store_close(j);
	cr_assert_eq(nfds(), fds);
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(attach, the_keeper_socket_failing_on_join_gives_its_errno, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	snprintf(c.store_name, sizeof(c.store_name), "%s", fresh_name());
	ms_store *s = t_kept(&c), *j = NULL;
	int fds = nfds();
	struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
	static const struct {
		const char *call;
		int err, want;
	} cases[] = {
		{"socket", EMFILE, -EMFILE},
		{"connect", EACCES, -EACCES},
		{"connect", ECONNREFUSED, -ENOENT}, /* nobody listens: no such store */
		{"getsockopt", ENOBUFS, -ENOBUFS},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms_fault_clear();
		arm(cases[i].call, 1, cases[i].err);
		cr_assert_eq(ms_store_attach(c.store_name, &o, &j), cases[i].want, "%s %s",
			     cases[i].call, strerrorname_np(cases[i].err));
		cr_assert_eq(nfds(), fds, "%s failing leaked an fd", cases[i].call);
	}
	ms_fault_clear();
	cr_assert_eq(ms_store_attach(c.store_name, &o, &j), 0);
	ms_store_close(j);
	ms_store_close(s);
}

Test(attach, connecting_to_a_keeper_just_started_failing_leaves_no_keeper, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	snprintf(c.store_name, sizeof(c.store_name), "%s", fresh_name());
	int fds = nfds();
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
	/* connect 1: the try to join (no store yet); 2: to the new keeper */
	arm("connect", 2, EACCES);
	cr_assert_eq(ms_store_open(&o, &s), -EACCES);
	cr_assert_eq(ms_fault_fired("connect"), 1);
	cr_assert_eq(nfds(), fds);
	cr_assert_eq(arenas_mapped(), 0);
	/* the keeper started for it sees nobody and leaves */
	cr_assert(keeper_gone_within(c.store_name, 3000), "keeper left behind");
}

Test(attach, without_proc_a_process_joins_and_opens_files_over_the_socket, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	snprintf(c.store_name, sizeof(c.store_name), "%s", fresh_name());
	ms_store *s = t_kept(&c), *j = NULL;
	cr_assert_eq(t_write_file(s, "/mem/a", 5), 0);
	int fds = nfds();
	struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
	arm("openat", 0, ENOENT); /* no /proc at all */
	cr_assert_eq(ms_store_attach(c.store_name, &o, &j), 0);
	cr_assert_geq(ms_fault_fired("openat"), 1);
	cr_assert_eq(j->procdir, -1);
	cr_assert_str_eq(content(j, "/mem/a"), "xxxxx");
	cr_assert_eq(t_write_file(j, "/mem/b", 7), 0);
	cr_assert_eq(nfds(), fds + 2, "the arena and the keeper connection");
	ms_store_close(j);
	cr_assert_eq(nfds(), fds);
	ms_fault_clear();
	cr_assert_str_eq(content(s, "/mem/b"), "xxxxxxx");
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(attach, the_arena_refused_through_proc_comes_over_the_socket, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	snprintf(c.store_name, sizeof(c.store_name), "%s", fresh_name());
	ms_store *s = t_kept(&c), *j = NULL;
	int fds = nfds();
	struct ms_open_opts o = {.cfg = &c, .keeper_path = t_keeper()};
	arm("openat", 2, EACCES); /* 1: /proc/<keeper>/fd, 2: the arena in it */
	cr_assert_eq(ms_store_attach(c.store_name, &o, &j), 0);
	cr_assert_eq(ms_fault_fired("openat"), 1);
	cr_assert_geq(j->procdir, 0);
	cr_assert_eq(t_write_file(j, "/mem/c", 3), 0);
	ms_store_close(j);
	cr_assert_eq(nfds(), fds);
	t_assert_consistent(s);
	ms_store_close(s);
}

/* ---- open ------------------------------------------------------------------------ */

/* O_CREAT of path fails with want while `call` fails with err; the name
 * is not left behind and the ledger and fds are as they were. */
static void create_fails(ms_store *s, const char *path, const char *call, unsigned nth, int err,
			 int want)
{
	int fds = nfds(), fd = -1;
	ms_ino ino;
	struct stat st;
	struct snap before = snap(s);
	arm(call, nth, err);
	int r = ms_open(s, 0, path, O_CREAT | O_RDWR, 0644, &fd, &ino);
	cr_assert_eq(ms_fault_fired(call), 1, "%s did not fail", call);
	ms_fault_clear();
	cr_assert_eq(r, want, "%s failing: open gave %d (%s)", call, r, strerror(-r));
	cr_assert_eq(fd, -1);
	cr_assert_eq(ms_stat(s, 0, path, 0, &st), -ENOENT, "a half-created name is left");
	SAME_LEDGER(before, snap(s));
	t_assert_consistent(s);
	cr_assert(closeq_drained_within(s, 2000));
	cr_assert_eq(nfds(), fds, "an fd was left open");
	r = ms_open(s, 0, path, O_CREAT | O_RDWR, 0644, &fd, &ino);
	cr_assert_eq(r, 0, "a later open works");
	ms_ino_put(s, ino);
	close(fd);
}

Test(open, create_failing_at_memfd_create, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/old", 100), 0);
	create_fails(s, "/mem/new", "memfd_create", 1, EMFILE, -EMFILE);
	ms_store_close(s);
}

Test(open, create_failing_when_the_memfd_is_reopened, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	create_fails(s, "/mem/new", "openat", 1, ENFILE, -ENFILE);
	ms_store_close(s);
}

Test(open, create_failing_when_the_memfd_cannot_be_looked_at, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	create_fails(s, "/mem/new", "fstat", 1, EIO, -EIO);
	ms_store_close(s);
}

Test(open, create_failing_at_the_keeper_s_memfd, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	cr_assert_eq(t_write_file(s, "/mem/old", 100), 0);
	/* through /proc/<keeper>/fd */
	create_fails(s, "/mem/new", "openat", 1, EMFILE, -EMFILE);
	/* /proc gone, then the keeper out of reach (a request's reply pair) */
	cr_assert_eq(ms_fault_arm("openat", 1, ENOENT), 0);
	create_fails(s, "/mem/new2", "socketpair", 1, EMFILE, -EMFILE);
	ms_store_close(s);
}

Test(open, o_trunc_failing_keeps_the_bytes, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/f", 10000), 0);
	int fds = nfds(), fd = -1;
	ms_ino ino;
	struct stat st;
	struct snap before = snap(s);
	/* open for writing: the re-open itself truncates (core/memfd.c) */
	arm("openat", 1, EIO);
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_WRONLY | O_TRUNC, 0, &fd, &ino), -EIO);
	cr_assert_eq(ms_fault_fired("openat"), 1);
	cr_assert_eq(ms_stat(s, 0, "/mem/f", 0, &st), 0);
	cr_assert_eq(st.st_size, 10000);
	SAME_LEDGER(before, snap(s));
	cr_assert_eq(nfds(), fds);
	/* open for reading: a second fd truncates, and fails */
	arm("ftruncate", 1, EIO);
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_RDONLY | O_TRUNC, 0, &fd, &ino), -EIO);
	cr_assert_eq(ms_fault_fired("ftruncate"), 1);
	cr_assert_eq(ms_stat(s, 0, "/mem/f", 0, &st), 0);
	cr_assert_eq(st.st_size, 10000);
	SAME_LEDGER(before, snap(s));
	cr_assert_eq(nfds(), fds);
	t_assert_consistent(s);
	ms_store_close(s);
}

/* ---- write ----------------------------------------------------------------------- */

Test(write, a_write_failing_after_the_reservation_gives_it_back, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/w", O_CREAT | O_RDWR, 0644, &fd, &ino), 0);
	cr_assert_eq(t_write_file(s, "/mem/other", 3000), 0);
	struct snap before = snap(s);
	static char buf[10000];
	struct ms_wctx w;
	int64_t off;
	cr_assert_eq(ms_write_begin(s, ino, fd, 0, sizeof(buf), 0, &w, &off), 0);
	cr_assert_eq(snap(s).bytes, before.bytes + 3 * MS_PAGE, "reserved first");
	arm("pwrite", 1, EIO);
	ssize_t k = sys_pwrite(fd, buf, sizeof(buf), off);
	cr_assert_eq(k, -EIO);
	ms_write_end(s, &w, k);
	SAME_LEDGER(before, snap(s));
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/w", 0, &st), 0);
	cr_assert_eq(st.st_size, 0);
	t_assert_consistent(s);

	/* a file that had bytes keeps its charge for them */
	ms_fault_clear();
	cr_assert_eq(ms_write_begin(s, ino, fd, 0, 5000, 0, &w, &off), 0);
	ms_write_end(s, &w, sys_pwrite(fd, buf, 5000, off));
	before = snap(s);
	cr_assert_eq(ms_write_begin(s, ino, fd, 5000, sizeof(buf), 0, &w, &off), 0);
	arm("pwrite", 1, ENOSPC);
	ms_write_end(s, &w, sys_pwrite(fd, buf, sizeof(buf), off));
	SAME_LEDGER(before, snap(s));
	t_assert_consistent(s);
	ms_ino_put(s, ino);
	close(fd);
	ms_store_close(s);
}

Test(write, growth_by_ftruncate_or_fallocate_failing_is_not_charged, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/g", O_CREAT | O_RDWR, 0644, &fd, &ino), 0);
	struct snap before = snap(s);
	arm("ftruncate", 1, EIO);
	cr_assert_eq(ms_ftruncate(s, ino, fd, 100000), -EIO);
	SAME_LEDGER(before, snap(s));
	arm("fallocate", 1, ENOSPC);
	cr_assert_eq(ms_fallocate(s, ino, fd, 0, 0, 100000), -ENOSPC);
	SAME_LEDGER(before, snap(s));
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/g", 0, &st), 0);
	cr_assert_eq(st.st_size, 0);
	t_assert_consistent(s);
	ms_ino_put(s, ino);
	close(fd);
	ms_store_close(s);
}

/* ---- rename and close -------------------------------------------------------------- */

Test(rename, replacing_a_file_whose_memfd_fails_to_close, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/a", 5), 0);
	struct snap one = snap(s);
	cr_assert_eq(t_write_file(s, "/mem/b", 8192), 0);
	int fds = nfds();
	arm("close", 1, EIO);
	cr_assert_eq(ms_rename(s, 0, "/mem/a", 0, "/mem/b", 0), 0);
	cr_assert_eq(ms_fault_fired("close"), 1);
	cr_assert_eq(nfds(), fds - 1, "the replaced file's memfd is released");
	SAME_LEDGER(one, snap(s));
	cr_assert_str_eq(content(s, "/mem/b"), "xxxxx");
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(rename, replacing_a_file_while_the_keeper_cannot_be_poked, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	cr_assert_eq(t_write_file(s, "/mem/a", 5), 0);
	struct snap one = snap(s);
	cr_assert_eq(t_write_file(s, "/mem/b", 8192), 0);
	arm("sendto", 0, EAGAIN);
	cr_assert_eq(ms_rename(s, 0, "/mem/a", 0, "/mem/b", 0), 0);
	SAME_LEDGER(one, snap(s));
	/* the keeper's own rounds close the replaced memfd */
	cr_assert(closeq_drained_within(s, 2000));
	cr_assert_str_eq(content(s, "/mem/b"), "xxxxx");
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(close, the_last_close_of_an_unlinked_file_frees_it_even_if_close_fails, .fini = fini)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	struct snap empty = snap(s);
	int fds = nfds(), fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/u", O_CREAT | O_RDWR, 0644, &fd, &ino), 0);
	struct ms_wctx w;
	int64_t off;
	cr_assert_eq(ms_write_begin(s, ino, fd, 0, 6000, 0, &w, &off), 0);
	ms_write_end(s, &w, pwrite(fd, "x", 1, 5999));
	cr_assert_eq(ms_unlink(s, 0, "/mem/u"), 0);
	cr_assert_eq(snap(s).orphans, 1);
	arm("close", 0, EIO);
	ms_ino_put(s, ino); /* frees it: its memfd's close fails */
	cr_assert_eq(sys_close(fd), -EIO);
	cr_assert_eq(ms_fault_fired("close"), 2);
	SAME_LEDGER(empty, snap(s));
	cr_assert_eq(nfds(), fds);
	t_assert_consistent(s);
	ms_store_close(s);
}

/* ---- a program under the preload -------------------------------------------------- */

static char probe_out[8192];

/* Runs faultprobe args under the preload, joined to store s, with
 * MEMSHIM_TEST_FAULT=spec; returns its output; it must exit normally. */
static const char *probe(ms_store *s, const char *spec, const char *args)
{
	char env[512], cmd[1024];
	snprintf(env, sizeof(env), "MEMSHIM_STORE=%s MEMSHIM_GUARD=none MEMSHIM_TEST_FAULT=%s",
		 ms_store_name(s), spec);
	snprintf(cmd, sizeof(cmd), "exec %s/tests/helpers/faultprobe %s", t_build(), args);
	int st = t_sh(env, cmd, probe_out, sizeof(probe_out));
	cr_assert_eq(st, 0, "faultprobe %s with %s: status %d: %s", args, spec, st, probe_out);
	return probe_out;
}

#define HAS(out, s) cr_assert_not_null(strstr(out, s), "expected \"%s\" in:\n%s", s, out)

static ms_store *held(struct ms_config *c)
{
	*c = t_config(1 << 20, 0);
	snprintf(c->store_name, sizeof(c->store_name), "%s", fresh_name());
	return t_kept(c);
}

Test(preload, an_open_whose_memfd_cannot_be_reopened_fails_cleanly)
{
	struct ms_config c;
	ms_store *s = held(&c);
	struct snap before = snap(s);
	struct stat st;
	const char *o = probe(s, "openat:1:EMFILE", "create /mem/p");
	HAS(o, "open=-1 errno=EMFILE");
	HAS(o, "fds_left=0");
	cr_assert_eq(ms_stat(s, 0, "/mem/p", 0, &st), -ENOENT);
	SAME_LEDGER(before, snap(s));
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(preload, without_proc_files_come_over_the_keeper_socket)
{
	struct ms_config c;
	ms_store *s = held(&c);
	const char *o = probe(s, "openat:0:ENOENT", "roundtrip /mem/r");
	HAS(o, "read=hello");
	HAS(o, "fds_left=0");
	cr_assert_str_eq(content(s, "/mem/r"), "hello");
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(preload, a_failing_write_takes_nothing_from_the_quota)
{
	struct ms_config c;
	ms_store *s = held(&c);
	struct snap before = snap(s);
	const char *o = probe(s, "write:1:EIO", "write /mem/w 20000");
	HAS(o, "write=-1 errno=EIO");
	HAS(o, "size=0");
	HAS(o, "fds_left=0");
	struct snap after = snap(s);
	cr_assert_eq(after.nodes, before.nodes + 1);
	cr_assert_eq(after.bytes, before.bytes + ms_node_cost(S_IFREG), "only the node is charged");
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(preload, a_failing_close_still_closes_and_frees_the_unlinked_file)
{
	struct ms_config c;
	ms_store *s = held(&c);
	struct snap before = snap(s);
	const char *o = probe(s, "close:1:EIO", "close /mem/x");
	HAS(o, "close=-1 errno=EIO");
	HAS(o, "after=-1 errno=EBADF");
	HAS(o, "fds_left=0");
	SAME_LEDGER(before, snap(s));
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(preload, a_failing_rename_gives_its_errno_and_moves_nothing)
{
	struct ms_config c;
	ms_store *s = held(&c);
	char dir[] = "/tmp/memshim-fault-XXXXXX", a[64], b[64], args[160];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	close(open(a, O_CREAT | O_WRONLY, 0644));
	snprintf(args, sizeof(args), "rename %s %s", a, b);
	const char *o = probe(s, "rename:1:EIO", args);
	int has_a = access(a, F_OK) == 0, has_b = access(b, F_OK) == 0;
	unlink(a);
	unlink(b);
	rmdir(dir);
	HAS(o, "rename=-1 errno=EIO");
	cr_assert(has_a && !has_b, "the file moved");
	/* in the store: the replaced file goes even when the keeper cannot
	 * be poked */
	cr_assert_eq(t_write_file(s, "/mem/a", 5), 0);
	struct snap one = snap(s);
	cr_assert_eq(t_write_file(s, "/mem/b", 9000), 0);
	o = probe(s, "sendto:0:EAGAIN", "rename /mem/a /mem/b");
	HAS(o, "rename=0 errno=0");
	SAME_LEDGER(one, snap(s));
	cr_assert_str_eq(content(s, "/mem/b"), "xxxxx");
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(preload, a_malformed_spec_stops_the_program_before_main)
{
	char out[1024];
	int st = t_sh("MEMSHIM_TEST_FAULT=openat:x:EIO", "exec true", out, sizeof(out));
	cr_assert_eq(st, 2, "status %d: %s", st, out);
	cr_assert_str_eq(out, "memshim: MEMSHIM_TEST_FAULT=\"openat:x:EIO\": rule \"openat:x:EIO\": N "
			      "is not a call number (1 for the first call, 0 for every call); use e.g. "
			      "memfd_create:1:EMFILE,openat:3:ENOENT\n");
}

/* The store's usage is back to `want` once the keeper has freed what
 * processes that exited holding files left (it looks every second). */
static int usage_back_within(ms_store *s, struct snap want, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		struct snap now = snap(s);
		if (now.bytes == want.bytes && now.nodes == want.nodes && now.orphans == want.orphans)
			return 1;
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

Test(preload, a_shell_session_meeting_failures_leaves_the_store_consistent)
{
	static const char *specs[] = {
		"openat:1:EMFILE", "openat:0:ENOENT", "openat:0:ENOENT,socket:0:EMFILE",
		"write:1:EIO",	   "write:0:ENOSPC",  "close:0:EIO",
		"ftruncate:0:EIO", "fstat:2:EIO",     "rename:0:EIO,renameat:0:EIO,renameat2:0:EIO",
		"sendto:0:EAGAIN",
	};
	struct ms_config c;
	ms_store *s = held(&c);
	struct snap empty = snap(s);
	char env[512], out[8192];
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		snprintf(env, sizeof(env), "MEMSHIM_STORE=%s MEMSHIM_GUARD=none MEMSHIM_TEST_FAULT=%s",
			 ms_store_name(s), specs[i]);
		int st = t_sh(env,
			      "echo hi > /mem/a; cat /mem/a; mkdir /mem/d; mv /mem/a /mem/d/b; "
			      "cp /mem/d/b /mem/c; dd if=/dev/zero of=/mem/z bs=4k count=4 2>/dev/null; "
			      "truncate -s 50000 /mem/z; rm -r /mem/d; ls /mem; true",
			      out, sizeof(out));
		cr_assert_lt(st, 128, "%s: killed by signal %d: %s", specs[i], st - 128, out);
		cr_assert_null(strstr(out, "memshim:"), "%s: %s", specs[i], out);
		t_assert_consistent(s);
		snprintf(env, sizeof(env), "MEMSHIM_STORE=%s MEMSHIM_GUARD=none", ms_store_name(s));
		cr_assert_eq(t_sh(env, "rm -rf /mem/a /mem/c /mem/d /mem/z", out, sizeof(out)), 0, "%s",
			     out);
		cr_assert(usage_back_within(s, empty, 3000), "%s: the store did not empty", specs[i]);
		t_assert_consistent(s);
	}
	ms_store_close(s);
}
