/* tests/test_guard.c — the memory guard and the log (core/guard.c, core/log.c).
 *
 * The guard is tested on a store made by hand (a zeroed struct ms_hdr and a
 * struct ms_store pointing at it), so it depends on nothing of arena.c. A
 * fake probe simulates a small container and counts its calls; the real
 * probe is run once on this machine and once per fake /proc + /sys/fs/cgroup
 * tree (cgroup v2, v1, hybrid) built in a temporary directory. Log lines are
 * captured by pointing fd 2 at a memfd.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "store.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define SEC 1000000000ULL

/* ---- a store by hand ---------------------------------------------------------- */

static struct ms_hdr *hdr;
static struct ms_store st;

static void make_store(int mode, int action, uint64_t quota, uint64_t interval_ns)
{
	hdr = aligned_alloc(64, (sizeof(*hdr) + 63) & ~(size_t)63);
	cr_assert_not_null(hdr);
	memset(hdr, 0, sizeof(*hdr));
	hdr->guard_mode = mode;
	hdr->guard_action = action;
	hdr->guard_interval_ns = interval_ns;
	hdr->ledger.max_bytes = quota;
	hdr->ledger.quota_errno = ENOSPC;
	memset(&st, 0, sizeof(st));
	st.hdr = hdr;
	st.base = (uint8_t *)hdr;
	st.sock = -1;
	st.procdir = -1;
	st.local = 1;
	st.cfg.log_level = MS_LOG_WARN;
}

/* ---- a fake probe ---------------------------------------------------------------- */

static uint64_t fake_avail;
static int fake_ret;
static int fake_calls; /* atomic: threads probe */

static int fake_probe(uint64_t *avail, const char **source)
{
	__atomic_add_fetch(&fake_calls, 1, __ATOMIC_RELAXED);
	*avail = __atomic_load_n(&fake_avail, __ATOMIC_RELAXED);
	*source = "cgroup2";
	return fake_ret;
}

static void container(uint64_t avail)
{
	fake_avail = avail;
	fake_ret = 0;
	fake_calls = 0;
	ms_guard_set_probe(fake_probe);
}

/* ---- capturing fd 2 ----------------------------------------------------------------- */

static int cap_fd = -1, saved_fd2 = -1;
static char cap_buf[8192];

static void cap_start(void)
{
	fflush(stderr);
	cap_fd = memfd_create("stderr", 0);
	cr_assert(cap_fd >= 0);
	saved_fd2 = dup(2);
	cr_assert(saved_fd2 >= 0);
	cr_assert_eq(dup2(cap_fd, 2), 2);
}

static const char *cap_end(void)
{
	ssize_t n;

	dup2(saved_fd2, 2);
	close(saved_fd2);
	n = pread(cap_fd, cap_buf, sizeof(cap_buf) - 1, 0);
	cap_buf[n > 0 ? n : 0] = '\0';
	close(cap_fd);
	return cap_buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / SEC), (long)(ns % SEC) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- ms_guard_init ------------------------------------------------------------------ */

Test(guard_init, warns_in_a_small_container)
{
	static const char EXPECT[] =
		"memshim: quota 256 MiB but only 64 MiB of memory available (cgroup2); ";
	const char *out;

	make_store(MS_GUARD_INIT, MS_GUARD_WARN, 256 * MiB, SEC);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), 0);
	out = cap_end();
	cr_assert_eq(fake_calls, 1);
	cr_assert(!strncmp(out, EXPECT, strlen(EXPECT)), "%s", out);
	cr_assert_eq(count_lines(out), 1, "%s", out);
}

Test(guard_init, fails_in_a_small_container)
{
	const char *out;

	make_store(MS_GUARD_INIT, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), -ENOSPC);
	out = cap_end();
	cr_assert(strstr(out, "quota 256 MiB but only 64 MiB"), "%s", out);
	cr_assert(strstr(out, "not creating the store"), "%s", out);
	cr_assert_eq(count_lines(out), 1, "%s", out);
}

Test(guard_init, error_line_shown_even_at_level_error)
{
	const char *out;

	make_store(MS_GUARD_INIT, MS_GUARD_FAIL, 256 * MiB, SEC);
	st.cfg.log_level = MS_LOG_ERROR;
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), -ENOSPC);
	out = cap_end();
	cr_assert(strstr(out, "not creating the store"), "%s", out);
}

Test(guard_init, warning_silenced_at_level_error)
{
	make_store(MS_GUARD_INIT, MS_GUARD_WARN, 256 * MiB, SEC);
	st.cfg.log_level = MS_LOG_ERROR;
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), 0);
	cr_assert_str_empty(cap_end());
}

Test(guard_init, quota_that_fits_is_quiet)
{
	make_store(MS_GUARD_INIT, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(4 * GiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), 0);
	cr_assert_str_empty(cap_end());
	cr_assert_eq(fake_calls, 1);
}

Test(guard_init, quota_equal_to_available_fits)
{
	make_store(MS_GUARD_INIT, MS_GUARD_FAIL, 64 * MiB, SEC);
	container(64 * MiB);
	cr_assert_eq(ms_guard_init(&st), 0);
}

Test(guard_init, unlimited_quota_warns)
{
	const char *out;

	make_store(MS_GUARD_INIT, MS_GUARD_WARN, 0, SEC);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), 0);
	out = cap_end();
	cr_assert(strstr(out, "quota unlimited but only 64 MiB"), "%s", out);
}

Test(guard_init, unlimited_quota_fails)
{
	make_store(MS_GUARD_INIT, MS_GUARD_FAIL, 0, SEC);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), -ENOSPC);
	cap_end();
}

Test(guard_init, none_does_not_probe)
{
	make_store(MS_GUARD_NONE, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), 0);
	cr_assert_str_empty(cap_end());
	cr_assert_eq(fake_calls, 0);
}

Test(guard_init, per_write_mode_checks_at_init_too)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), -ENOSPC);
	cap_end();
}

Test(guard_init, failed_probe_warns_and_lets_through)
{
	const char *out;

	make_store(MS_GUARD_INIT, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(64 * MiB);
	fake_ret = -ENOENT;
	cap_start();
	cr_assert_eq(ms_guard_init(&st), 0);
	out = cap_end();
	cr_assert(strstr(out, "cannot measure the memory available (ENOENT)"), "%s", out);
}

Test(guard_init, seeds_the_per_write_cache)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 16 * MiB, 3600 * SEC);
	container(64 * MiB);
	cr_assert_eq(ms_guard_init(&st), 0);
	cr_assert_eq(hdr->guard_avail, 64 * MiB);
	cr_assert_neq(hdr->guard_last_ns, 0);
	/* within the interval: no second probe */
	cr_assert_eq(ms_guard_write(&st, MiB), 0);
	cr_assert_eq(fake_calls, 1);
}

Test(guard_init, odd_sizes_are_shown_with_a_decimal)
{
	const char *out;

	make_store(MS_GUARD_INIT, MS_GUARD_WARN, 3 * GiB / 2, SEC);
	container(GiB);
	cap_start();
	cr_assert_eq(ms_guard_init(&st), 0);
	out = cap_end();
	cr_assert(strstr(out, "quota 1.5 GiB but only 1 GiB"), "%s", out);
}

/* ---- ms_guard_write ------------------------------------------------------------------ */

Test(guard_write, refuses_growth_bigger_than_available)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(64 * MiB);
	cr_assert_eq(ms_guard_write(&st, 128 * MiB), -ENOSPC);
	cr_assert_eq(hdr->ledger.guard_refused, 1);
	cr_assert_eq(ms_guard_write(&st, 65 * MiB), -ENOSPC);
	cr_assert_eq(hdr->ledger.guard_refused, 2);
}

Test(guard_write, lets_growth_that_fits_through)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(64 * MiB);
	cr_assert_eq(ms_guard_write(&st, 64 * MiB), 0);
	cr_assert_eq(hdr->ledger.guard_refused, 0);
}

Test(guard_write, refusal_uses_the_quota_errno)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, SEC);
	hdr->ledger.quota_errno = EDQUOT;
	container(64 * MiB);
	cr_assert_eq(ms_guard_write(&st, 128 * MiB), -EDQUOT);
}

Test(guard_write, warn_lets_through_and_logs_once_per_interval)
{
	const char *out;

	make_store(MS_GUARD_PER_WRITE, MS_GUARD_WARN, 256 * MiB, 3600 * SEC);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_write(&st, 128 * MiB), 0);
	cr_assert_eq(ms_guard_write(&st, 100 * MiB), 0);
	cr_assert_eq(ms_guard_write(&st, 200 * MiB), 0);
	out = cap_end();
	cr_assert_eq(hdr->ledger.guard_refused, 0);
	cr_assert_eq(count_lines(out), 1, "%s", out);
	cr_assert(strstr(out, "memshim: a write of 128 MiB is more than the 64 MiB"), "%s", out);
}

Test(guard_write, warn_logs_again_after_the_interval)
{
	const char *out;

	make_store(MS_GUARD_PER_WRITE, MS_GUARD_WARN, 256 * MiB, 200000000);
	container(64 * MiB);
	cap_start();
	cr_assert_eq(ms_guard_write(&st, 128 * MiB), 0);
	sleep_ns(250000000);
	cr_assert_eq(ms_guard_write(&st, 128 * MiB), 0);
	out = cap_end();
	cr_assert_eq(count_lines(out), 2, "%s", out);
}

Test(guard_write, probes_at_most_once_per_interval)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, 3600 * SEC);
	container(64 * GiB);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(ms_guard_write(&st, 4096), 0);
	cr_assert_eq(fake_calls, 1);
}

Test(guard_write, probes_again_after_the_interval)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, 200000000);
	container(64 * GiB);
	cr_assert_eq(ms_guard_write(&st, 4096), 0);
	cr_assert_eq(ms_guard_write(&st, 4096), 0);
	cr_assert_eq(fake_calls, 1);
	sleep_ns(250000000);
	cr_assert_eq(ms_guard_write(&st, 4096), 0);
	cr_assert_eq(fake_calls, 2);
}

Test(guard_write, probe_rate_is_bounded_over_time)
{
	uint64_t interval = 10000000; /* 10 ms */
	struct timespec t0, t;
	uint64_t elapsed;

	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, interval);
	container(64 * GiB);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		cr_assert_eq(ms_guard_write(&st, 1), 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
		elapsed = (uint64_t)(t.tv_sec - t0.tv_sec) * SEC + (uint64_t)t.tv_nsec -
			  (uint64_t)t0.tv_nsec;
	} while (elapsed < 100000000);
	/* 100 ms of writes at a 10 ms interval: at most one probe per interval
	 * started, plus the first */
	cr_assert(fake_calls >= 2 && (uint64_t)fake_calls <= elapsed / interval + 1,
		  "%d probes in %llu ns", fake_calls, (unsigned long long)elapsed);
}

Test(guard_write, growth_between_probes_is_subtracted)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, 3600 * SEC);
	container(10 * MiB);
	cr_assert_eq(ms_guard_write(&st, 6 * MiB), 0);
	cr_assert_eq(hdr->guard_avail, 4 * MiB);
	cr_assert_eq(ms_guard_write(&st, 6 * MiB), -ENOSPC);
	cr_assert_eq(hdr->ledger.guard_refused, 1);
	cr_assert_eq(ms_guard_write(&st, 4 * MiB), 0);
	cr_assert_eq(fake_calls, 1);
}

Test(guard_write, a_fresh_probe_replaces_the_estimate)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, 200000000);
	container(10 * MiB);
	cr_assert_eq(ms_guard_write(&st, 8 * MiB), 0);
	cr_assert_eq(ms_guard_write(&st, 8 * MiB), -ENOSPC);
	sleep_ns(250000000); /* memory was freed meanwhile: the probe says 10 MiB */
	cr_assert_eq(ms_guard_write(&st, 8 * MiB), 0);
	cr_assert_eq(fake_calls, 2);
}

Test(guard_write, failed_probe_refuses_nothing)
{
	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, 3600 * SEC);
	container(MiB);
	fake_ret = -ENOENT;
	cr_assert_eq(ms_guard_write(&st, 64 * GiB), 0);
	cr_assert_eq(hdr->ledger.guard_refused, 0);
}

Test(guard_write, init_mode_does_nothing_per_write)
{
	make_store(MS_GUARD_INIT, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(MiB);
	cr_assert_eq(ms_guard_write(&st, 64 * GiB), 0);
	cr_assert_eq(fake_calls, 0);
}

Test(guard_write, none_mode_does_nothing)
{
	make_store(MS_GUARD_NONE, MS_GUARD_FAIL, 256 * MiB, SEC);
	container(MiB);
	cr_assert_eq(ms_guard_write(&st, 64 * GiB), 0);
	cr_assert_eq(fake_calls, 0);
}

#define NTHREADS 8
#define NWRITES 20000

static void *writer(void *arg)
{
	long refused = 0;

	(void)arg;
	for (int i = 0; i < NWRITES; i++)
		refused += ms_guard_write(&st, 4096) != 0;
	return (void *)refused;
}

Test(guard_write, threads_probe_once_and_never_pass_the_same_memory_twice)
{
	pthread_t t[NTHREADS];
	long refused = 0;
	/* room for exactly half of the writes */
	uint64_t avail = (uint64_t)NTHREADS * NWRITES / 2 * 4096;

	make_store(MS_GUARD_PER_WRITE, MS_GUARD_FAIL, 256 * MiB, 3600 * SEC);
	container(avail);
	cr_assert_eq(ms_guard_init(&st), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, writer, NULL);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;

		pthread_join(t[i], &r);
		refused += (long)r;
	}
	cr_assert_eq(fake_calls, 1);
	cr_assert_eq(refused, NTHREADS * NWRITES / 2);
	cr_assert_eq(hdr->ledger.guard_refused, (uint64_t)refused);
	cr_assert_eq(hdr->guard_avail, 0);
}

/* ---- the probe in use ----------------------------------------------------------------- */

Test(probe, set_probe_null_restores_the_real_one)
{
	uint64_t avail = 0;
	const char *src = NULL;

	container(12345);
	cr_assert_eq(ms_guard_probe(&avail, &src), 0);
	cr_assert_eq(avail, 12345);
	ms_guard_set_probe(NULL);
	cr_assert_eq(ms_guard_probe(&avail, &src), 0);
	cr_assert_neq(avail, 12345);
	cr_assert(!strcmp(src, "cgroup2") || !strcmp(src, "cgroup1") || !strcmp(src, "meminfo"),
		  "%s", src);
	cr_assert_eq(fake_calls, 1);
}

static uint64_t meminfo_kb(const char *key)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)))
			sscanf(line + strlen(key), " %llu", &kb);
	}
	fclose(f);
	return kb;
}

Test(probe, real_probe_is_sane_on_this_machine)
{
	uint64_t avail = 0;
	const char *src = NULL;

	cr_assert_eq(ms_probe_memory(&avail, &src), 0);
	cr_assert_gt(avail, 0);
	cr_assert(!strcmp(src, "cgroup2") || !strcmp(src, "cgroup1") || !strcmp(src, "meminfo"),
		  "%s", src);
	/* the figure is bounded by MemAvailable, so by MemTotal */
	cr_assert_leq(avail, meminfo_kb("MemTotal:") * 1024);
}

/* ---- the real probe on fake trees ------------------------------------------------------- */

static char root[64];

static void put_file(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	/* make parents, like mkdir -p */
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(content, f);
	fclose(f);
}

static void tree(void)
{
	strcpy(root, "/tmp/memshim-probe-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void tree_rm(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

static const char *MEMINFO_8G = "MemTotal:       16000000 kB\n"
				"MemFree:         1000000 kB\n"
				"MemAvailable:    8388608 kB\n"
				"Buffers:            1000 kB\n";

static void probe_tree(uint64_t *avail, const char **src)
{
	int r = ms_probe_memory_at(root, avail, src);

	tree_rm();
	cr_assert_eq(r, 0);
}

Test(probe_tree, cgroup2_limit)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "0::/a/b\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/a/b/memory.max", "max\n");
	put_file("/sys/fs/cgroup/a/b/memory.current", "1000\n");
	put_file("/sys/fs/cgroup/a/memory.max", "104857600\n");
	put_file("/sys/fs/cgroup/a/memory.current", "31457280\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 70 * MiB);
	cr_assert_str_eq(src, "cgroup2");
}

Test(probe_tree, cgroup2_tightest_level_wins)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "0::/a/b\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/a/b/memory.max", "52428800\n");  /* 50 MiB */
	put_file("/sys/fs/cgroup/a/b/memory.current", "10485760\n"); /* 10 MiB */
	put_file("/sys/fs/cgroup/a/memory.max", "104857600\n");   /* 100 MiB */
	put_file("/sys/fs/cgroup/a/memory.current", "31457280\n"); /* 30 MiB */
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 40 * MiB);
	cr_assert_str_eq(src, "cgroup2");
}

Test(probe_tree, cgroup2_parent_tighter_than_child)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "0::/a/b\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/a/b/memory.max", "524288000\n");
	put_file("/sys/fs/cgroup/a/b/memory.current", "0\n");
	put_file("/sys/fs/cgroup/memory.max", "20971520\n"); /* the namespace root */
	put_file("/sys/fs/cgroup/memory.current", "0\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 20 * MiB);
}

Test(probe_tree, cgroup2_usage_over_limit_is_zero)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "0::/x\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/x/memory.max", "1048576\n");
	put_file("/sys/fs/cgroup/x/memory.current", "2097152\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 0);
	cr_assert_str_eq(src, "cgroup2");
}

Test(probe_tree, cgroup2_without_limits_is_meminfo)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "0::/user.slice\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/user.slice/memory.max", "max\n");
	put_file("/sys/fs/cgroup/user.slice/memory.current", "123\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 8 * GiB);
	cr_assert_str_eq(src, "meminfo");
}

Test(probe_tree, meminfo_binds_when_smaller)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "0::/\n");
	put_file("/proc/meminfo", "MemTotal: 1 kB\nMemAvailable:     102400 kB\n");
	put_file("/sys/fs/cgroup/memory.max", "1073741824\n");
	put_file("/sys/fs/cgroup/memory.current", "0\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 100 * MiB);
	cr_assert_str_eq(src, "meminfo");
}

Test(probe_tree, cgroup1_memory_controller)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "9:name=systemd:/\n"
				      "4:memory:/docker/abc\n"
				      "1:cpu:/\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
		 "268435456\n"); /* 256 MiB */
	put_file("/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "67108864\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 192 * MiB);
	cr_assert_str_eq(src, "cgroup1");
}

Test(probe_tree, cgroup1_huge_limit_means_none)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "4:memory:/x\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "9223372036854771712\n");
	put_file("/sys/fs/cgroup/memory/x/memory.usage_in_bytes", "8994816\n");
	put_file("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	put_file("/sys/fs/cgroup/memory/memory.usage_in_bytes", "81772544\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 8 * GiB);
	cr_assert_str_eq(src, "meminfo");
}

Test(probe_tree, huge_limit_without_meminfo_is_no_figure)
{
	uint64_t avail = 7;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "4:memory:/x\n0::/x\n");
	put_file("/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "9223372036854771712\n");
	put_file("/sys/fs/cgroup/memory/x/memory.usage_in_bytes", "8994816\n");
	put_file("/sys/fs/cgroup/x/memory.max", "max\n");
	put_file("/sys/fs/cgroup/x/memory.current", "8994816\n");
	cr_assert_eq(ms_probe_memory_at(root, &avail, &src), -ENOENT);
	tree_rm();
	cr_assert_eq(avail, 7);
}

Test(probe_tree, cgroup1_limit_on_a_parent)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "4:memory:/x/y\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/memory/x/y/memory.limit_in_bytes", "9223372036854771712\n");
	put_file("/sys/fs/cgroup/memory/x/y/memory.usage_in_bytes", "1\n");
	put_file("/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "209715200\n");
	put_file("/sys/fs/cgroup/memory/x/memory.usage_in_bytes", "52428800\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 150 * MiB);
	cr_assert_str_eq(src, "cgroup1");
}

Test(probe_tree, cgroup1_shared_controller_line)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "3:cpu,memory,cpuacct:/x\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "1048576\n");
	put_file("/sys/fs/cgroup/memory/x/memory.usage_in_bytes", "0\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, MiB);
	cr_assert_str_eq(src, "cgroup1");
}

Test(probe_tree, cgroup1_memory_must_be_a_whole_controller_name)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "3:memoryx:/x\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "1048576\n");
	put_file("/sys/fs/cgroup/memory/x/memory.usage_in_bytes", "0\n");
	probe_tree(&avail, &src);
	cr_assert_str_eq(src, "meminfo");
}

Test(probe_tree, hybrid_host_uses_cgroup1_memory)
{
	uint64_t avail;
	const char *src;

	/* as on this machine: v2 mounted elsewhere, memory on v1 */
	tree();
	put_file("/proc/self/cgroup", "4:memory:/job\n0::/\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/unified/cgroup.procs", "");
	put_file("/sys/fs/cgroup/memory/job/memory.limit_in_bytes", "33554432\n");
	put_file("/sys/fs/cgroup/memory/job/memory.usage_in_bytes", "0\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 32 * MiB);
	cr_assert_str_eq(src, "cgroup1");
}

Test(probe_tree, no_proc_reads_the_namespace_root)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/sys/fs/cgroup/memory.max", "10485760\n");
	put_file("/sys/fs/cgroup/memory.current", "0\n");
	probe_tree(&avail, &src);
	cr_assert_eq(avail, 10 * MiB);
	cr_assert_str_eq(src, "cgroup2");
}

Test(probe_tree, nothing_readable)
{
	uint64_t avail = 7;
	const char *src = NULL;

	tree();
	cr_assert_eq(ms_probe_memory_at(root, &avail, &src), -ENOENT);
	tree_rm();
	cr_assert_eq(avail, 7);
}

Test(probe_tree, meminfo_without_memavailable)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/meminfo", "MemTotal: 100 kB\nMemFree: 50 kB\n");
	cr_assert_eq(ms_probe_memory_at(root, &avail, &src), -ENOENT);
	tree_rm();
}

Test(probe_tree, garbage_limit_is_ignored)
{
	uint64_t avail;
	const char *src;

	tree();
	put_file("/proc/self/cgroup", "0::/x\n");
	put_file("/proc/meminfo", MEMINFO_8G);
	put_file("/sys/fs/cgroup/x/memory.max", "lots\n");
	put_file("/sys/fs/cgroup/x/memory.current", "0\n");
	probe_tree(&avail, &src);
	cr_assert_str_eq(src, "meminfo");
}

/* ---- ms_log / ms_logc --------------------------------------------------------------------- */

Test(log, prefix_and_newline)
{
	make_store(MS_GUARD_NONE, MS_GUARD_WARN, 0, SEC);
	cap_start();
	ms_log(&st, MS_LOG_WARN, "hello %d %s", 42, "world");
	cr_assert_str_eq(cap_end(), "memshim: hello 42 world\n");
}

Test(log, level_filter)
{
	make_store(MS_GUARD_NONE, MS_GUARD_WARN, 0, SEC);
	cap_start();
	ms_log(&st, MS_LOG_INFO, "not shown");
	ms_log(&st, MS_LOG_DEBUG, "not shown");
	ms_log(&st, MS_LOG_ERROR, "shown");
	cr_assert_str_eq(cap_end(), "memshim: shown\n");
}

Test(log, debug_level_shows_everything)
{
	make_store(MS_GUARD_NONE, MS_GUARD_WARN, 0, SEC);
	st.cfg.log_level = MS_LOG_DEBUG;
	cap_start();
	ms_log(&st, MS_LOG_DEBUG, "a");
	ms_log(&st, MS_LOG_INFO, "b");
	cr_assert_str_eq(cap_end(), "memshim: a\nmemshim: b\n");
}

Test(log, null_store_is_level_warn)
{
	cap_start();
	ms_log(NULL, MS_LOG_INFO, "not shown");
	ms_log(NULL, MS_LOG_WARN, "shown");
	cr_assert_str_eq(cap_end(), "memshim: shown\n");
}

Test(log, logc_uses_the_given_level)
{
	cap_start();
	ms_logc(MS_LOG_ERROR, MS_LOG_WARN, "not shown");
	ms_logc(MS_LOG_INFO, MS_LOG_INFO, "shown %s", "too");
	cr_assert_str_eq(cap_end(), "memshim: shown too\n");
}

Test(log, long_line_is_cut)
{
	static char big[4000];
	const char *out;
	size_t len;

	memset(big, 'x', sizeof(big) - 1);
	cap_start();
	ms_logc(MS_LOG_WARN, MS_LOG_WARN, "%s", big);
	out = cap_end();
	len = strlen(out);
	cr_assert_eq(len, 511, "%zu", len);
	cr_assert(!strncmp(out, "memshim: xxx", 12));
	cr_assert_str_eq(out + len - 4, "...\n");
}

Test(log, one_line_whatever_the_message)
{
	cap_start();
	ms_logc(MS_LOG_WARN, MS_LOG_WARN, "a\nb\n");
	cr_assert_str_eq(cap_end(), "memshim: a b\n");
}

Test(log, keeps_errno)
{
	cap_start();
	errno = EXDEV;
	ms_logc(MS_LOG_WARN, MS_LOG_WARN, "x");
	cr_assert_eq(errno, EXDEV);
	cap_end();
}

Test(log, closed_stderr_is_harmless)
{
	int saved = dup(2);

	close(2);
	errno = EBADF + 1;
	ms_logc(MS_LOG_WARN, MS_LOG_WARN, "nowhere");
	cr_assert_eq(errno, EBADF + 1);
	dup2(saved, 2);
	close(saved);
}
