/* core/guard.c — the physical-memory guard.
 *
 * Owns the memory probe (ms_probe_memory: cgroup v2, then cgroup v1, always
 * bounded by /proc/meminfo's MemAvailable), the swappable probe pointer that
 * tests use to simulate a small container, and the two checks that compare
 * the quota or a write with the memory actually there: ms_guard_init at store
 * creation and ms_guard_write before a growth in per_write mode.
 *
 * Why a guard at all: the ledger keeps the store under its quota, but a quota
 * larger than the memory the process may use lets the OOM killer end the run
 * before the quota ever refuses a write. The guard says so (warn) or refuses
 * (fail) while the program can still see a catchable error.
 *
 * Everything here reads files through core/sys.h's raw calls: it runs in the
 * preload constructor and on write paths, where a wrapped open/read would
 * re-enter the shim.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "store.h"
#include "sys.h"

/* A cgroup v1 limit this large is the kernel's "no limit"
 * (9223372036854771712 = LONG_MAX rounded to a page); v2 says "max". */
#define CG_NO_LIMIT (1ULL << 62)

/* guard_avail's value when the last probe failed: nothing is known, so
 * nothing is refused. */
#define AVAIL_UNKNOWN UINT64_MAX

#define CG_PATH_MAX 1024

/* NULL = the real probe. Written by tests while other threads may probe. */
static ms_probe_fn probe_fn;

/* Process-local: when this process last logged a per_write warning. The
 * shared header has no field for it and one line per interval per process
 * is as quiet as a user needs. */
static uint64_t warn_last_ns;

/* ---- reading small kernel files ----------------------------------------- */

/* Reads up to n-1 bytes of path into buf and NUL-terminates it. Returns the
 * length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
	size_t len = 0;
	int fd;

	fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	while (len < n - 1) {
		ssize_t r = sys_read(fd, buf + len, n - 1 - len);

		if (r == -EINTR)
			continue;
		if (r < 0) {
			sys_close(fd);
			return r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	sys_close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* A decimal number, then optional spaces and one newline. */
static int parse_num(const char *p, uint64_t *out)
{
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	while (*p == ' ' || *p == '\n')
		p++;
	if (*p)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A cgroup limit or usage file: a number, or "max" (v2) as UINT64_MAX. */
static int read_cg_value(const char *path, uint64_t *out)
{
	char buf[64];
	ssize_t r = read_small(path, buf, sizeof(buf));

	if (r < 0)
		return (int)r;
	if (!strcmp(buf, "max\n") || !strcmp(buf, "max")) {
		*out = UINT64_MAX;
		return 0;
	}
	return parse_num(buf, out);
}

/* ---- cgroups ------------------------------------------------------------ */

/* Finds this process's cgroup path in the text of /proc/self/cgroup:
 * v2 = the "0::/path" line, v1 = the line whose controller list holds
 * "memory". Copies it into path ("" for the root "/"). Returns 0 or -ENOENT. */
static int cg_find(const char *text, int v2, char *path, size_t n)
{
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		const char *c1 = memchr(line, ':', (size_t)(end - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;

		if (c2) {
			const char *ctl = c1 + 1, *p = c2 + 1;
			int match = 0;

			if (v2) {
				match = c1 - line == 1 && line[0] == '0' && ctl == c2;
			} else {
				/* "4:memory:/x" or "3:cpu,memory:/x" */
				const char *q = ctl;

				while (q < c2 && !match) {
					const char *comma = memchr(q, ',', (size_t)(c2 - q));
					const char *qe = comma ? comma : c2;

					match = qe - q == 6 && !memcmp(q, "memory", 6);
					q = qe + 1;
				}
			}
			if (match && *p == '/') {
				size_t len = (size_t)(end - p);

				if (len >= n)
					return -ENAMETOOLONG;
				memcpy(path, p, len);
				path[len] = '\0';
				if (!strcmp(path, "/"))
					path[0] = '\0';
				return 0;
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return -ENOENT;
}

/* Walks from cgroup `path` up to the root of the hierarchy mounted at
 * root+mnt, taking the tightest limit-usage of every level that has a limit
 * (a parent's limit binds its children too). `path` is cut in place.
 * Returns 0 with *avail, or -ENOENT when no level has a limit. */
static int cg_walk(const char *root, const char *mnt, char *path, const char *limit_file,
		   const char *usage_file, uint64_t *avail)
{
	uint64_t best = UINT64_MAX;
	int found = 0;

	for (;;) {
		char file[CG_PATH_MAX + 128];
		uint64_t limit, usage = 0;
		char *slash;

		snprintf(file, sizeof(file), "%s%s%s/%s", root, mnt, path, limit_file);
		if (!read_cg_value(file, &limit) && limit < CG_NO_LIMIT) {
			uint64_t a;

			snprintf(file, sizeof(file), "%s%s%s/%s", root, mnt, path, usage_file);
			if (read_cg_value(file, &usage))
				usage = 0;
			a = limit > usage ? limit - usage : 0;
			if (a < best)
				best = a;
			found = 1;
		}
		if (!path[0])
			break;
		slash = strrchr(path, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	if (!found)
		return -ENOENT;
	*avail = best;
	return 0;
}

/* MemAvailable from meminfo, in bytes. */
static int meminfo_avail(const char *root, uint64_t *avail)
{
	char path[CG_PATH_MAX + 32];
	char buf[4096];
	const char *p, *q;
	uint64_t kb = 0;
	ssize_t r;

	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return (int)r;
	p = strstr(buf, "MemAvailable:");
	if (!p)
		return -ENOENT;
	p += sizeof("MemAvailable:") - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (q = p; *q >= '0' && *q <= '9'; q++) {
		if (kb > (UINT64_MAX / 1024 - 9) / 10)
			return -ERANGE;
		kb = kb * 10 + (uint64_t)(*q - '0');
	}
	*avail = kb * 1024;
	return 0;
}

/* Returns 0 with the bytes available and the static name of where the
 * binding figure came from, or -ENOENT when neither a cgroup limit nor
 * MemAvailable could be read (e.g. no /proc and no cgroup fs). Paths are
 * root+"/proc/self/cgroup", root+"/sys/fs/cgroup/..." (v2 mounted there,
 * v1's memory controller at /sys/fs/cgroup/memory), root+"/proc/meminfo". */
int ms_probe_memory_at(const char *root, uint64_t *avail, const char **source)
{
	char file[CG_PATH_MAX + 32];
	char text[4096];
	char path[CG_PATH_MAX];
	const char *cg_src = NULL;
	uint64_t cg = 0, mem = 0;
	int have_mem;
	ssize_t r;

	snprintf(file, sizeof(file), "%s/proc/self/cgroup", root);
	r = read_small(file, text, sizeof(text));
	if (r < 0)
		text[0] = '\0';
	/* A v2 host or container: the "0::" line. Without /proc, a container's
	 * own cgroup is still the root of its /sys/fs/cgroup. */
	if (r < 0 || !cg_find(text, 1, path, sizeof(path))) {
		if (r < 0)
			path[0] = '\0';
		if (!cg_walk(root, "/sys/fs/cgroup", path, "memory.max", "memory.current", &cg))
			cg_src = "cgroup2";
	}
	/* v1, or a hybrid host where the memory controller stayed on v1 */
	if (!cg_src && r >= 0 && !cg_find(text, 0, path, sizeof(path)) &&
	    !cg_walk(root, "/sys/fs/cgroup/memory", path, "memory.limit_in_bytes",
		     "memory.usage_in_bytes", &cg))
		cg_src = "cgroup1";

	have_mem = !meminfo_avail(root, &mem);
	if (cg_src && (!have_mem || cg <= mem)) {
		*avail = cg;
		*source = cg_src;
		return 0;
	}
	if (have_mem) {
		*avail = mem;
		*source = "meminfo";
		return 0;
	}
	return -ENOENT;
}

int ms_probe_memory(uint64_t *avail, const char **source)
{
	return ms_probe_memory_at("", avail, source);
}

/* Swaps the probe; NULL restores ms_probe_memory. Safe while other threads
 * probe: they see the old or the new one. */
void ms_guard_set_probe(ms_probe_fn fn)
{
	__atomic_store_n(&probe_fn, fn, __ATOMIC_RELEASE);
}

/* Calls the probe in use. Returns what it returns. */
int ms_guard_probe(uint64_t *avail, const char **source)
{
	ms_probe_fn fn = __atomic_load_n(&probe_fn, __ATOMIC_ACQUIRE);

	*source = "";
	return fn ? fn(avail, source) : ms_probe_memory(avail, source);
}

/* ---- checks ------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* "256 MiB", "1.5 GiB", "4000 B": for people reading a log line. */
static const char *fmt_bytes(char *buf, size_t n, uint64_t v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned i = 0;

	while (i < 4 && v >= (1ULL << (10 * (i + 1))))
		i++;
	if (!i) {
		snprintf(buf, n, "%llu B", (unsigned long long)v);
	} else {
		uint64_t whole = v >> (10 * i);
		uint64_t tenth = ((v & ((1ULL << (10 * i)) - 1)) * 10) >> (10 * i);

		if (tenth)
			snprintf(buf, n, "%llu.%llu %s", (unsigned long long)whole,
				 (unsigned long long)tenth, unit[i]);
		else
			snprintf(buf, n, "%llu %s", (unsigned long long)whole, unit[i]);
	}
	return buf;
}

/* Compares the quota with the memory available, once, at store creation
 * (modes init and per_write), and seeds guard_avail/guard_last_ns for
 * per_write. Must run before any ms_guard_write on the store and before other
 * threads or processes use it.
 * Returns 0 (fits; or it does not and the action is warn: a warning is
 * logged), or -ENOSPC when the action is fail and the quota is unlimited or
 * larger than the memory available (an error line is logged). When the probe
 * itself fails nothing is known: a warning is logged and 0 returned whatever
 * the action, because refusing every run in a sandbox without /proc would
 * make the guard the problem. */
int ms_guard_init(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	uint64_t quota = h->ledger.max_bytes, avail = 0;
	const char *source = "";
	char qs[48], as[48];
	int r;

	if (h->guard_mode == MS_GUARD_NONE)
		return 0;
	r = ms_guard_probe(&avail, &source);
	__atomic_store_n(&h->guard_avail, r < 0 ? AVAIL_UNKNOWN : avail, __ATOMIC_RELAXED);
	__atomic_store_n(&h->guard_last_ns, mono_ns(), __ATOMIC_RELEASE);
	if (r < 0) {
		ms_log(s, MS_LOG_WARN,
		       "cannot measure the memory available (%s); the memory guard is off",
		       strerrorname_np(-r) ? strerrorname_np(-r) : "unknown error");
		return 0;
	}
	if (quota && quota <= avail) {
		ms_log(s, MS_LOG_DEBUG, "quota %s fits in the %s of memory available (%s)",
		       fmt_bytes(qs, sizeof(qs), quota), fmt_bytes(as, sizeof(as), avail),
		       source);
		return 0;
	}
	if (!quota)
		snprintf(qs, sizeof(qs), "unlimited");
	else
		fmt_bytes(qs, sizeof(qs), quota);
	fmt_bytes(as, sizeof(as), avail);
	if (h->guard_action == MS_GUARD_FAIL) {
		ms_log(s, MS_LOG_ERROR,
		       "quota %s but only %s of memory available (%s); "
		       "not creating the store (MEMSHIM_GUARD_ACTION=fail)",
		       qs, as, source);
		return -ENOSPC;
	}
	ms_log(s, MS_LOG_WARN,
	       "quota %s but only %s of memory available (%s); "
	       "the OOM killer may end the program before the quota refuses a write",
	       qs, as, source);
	return 0;
}

/* One caller per interval logs, per process. */
static int may_log(uint64_t now, uint64_t interval)
{
	uint64_t last = __atomic_load_n(&warn_last_ns, __ATOMIC_RELAXED);

	if (last && (now <= last || now - last < interval))
		return 0;
	return __atomic_compare_exchange_n(&warn_last_ns, &last, now, 0, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/* Before a growth of n bytes, in mode per_write (any other mode: returns 0 at
 * once). Probes at most once per guard_interval_ns across every process of
 * the store: the thread that wins a compare-and-swap on guard_last_ns
 * probes, the others use guard_avail as it stands. Between probes,
 * guard_avail is lowered by every growth let through, so a burst of writes
 * inside one interval cannot pass the same memory twice; bytes given back
 * (unlink, truncate) are not added back until the next probe, so the
 * estimate only errs on the side of refusing early. A failed probe leaves
 * nothing known (guard_avail = UINT64_MAX) and refuses nothing.
 * Returns 0, or -ledger.quota_errno when the action is fail and n is more
 * than the memory available (ledger.guard_refused is counted). With action
 * warn it logs, at most once per interval per process, and returns 0.
 * Lock-free; callable from any thread of any process of the store. */
int ms_guard_write(struct ms_store *s, uint64_t n)
{
	struct ms_hdr *h = s->hdr;
	uint64_t interval, now, last, avail;
	char ns[48], as[48];

	if (h->guard_mode != MS_GUARD_PER_WRITE)
		return 0;
	interval = h->guard_interval_ns;
	now = mono_ns();
	last = __atomic_load_n(&h->guard_last_ns, __ATOMIC_ACQUIRE);
	/* last may be newer than our now (another thread probed meanwhile):
	 * that is "not due", never a wrapped-around "long ago" */
	if ((!last || (now > last && now - last >= interval)) &&
	    __atomic_compare_exchange_n(&h->guard_last_ns, &last, now, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		const char *source;
		uint64_t fresh = 0;

		if (ms_guard_probe(&fresh, &source) < 0)
			fresh = AVAIL_UNKNOWN;
		__atomic_store_n(&h->guard_avail, fresh, __ATOMIC_RELEASE);
	}

	avail = __atomic_load_n(&h->guard_avail, __ATOMIC_ACQUIRE);
	for (;;) {
		if (avail == AVAIL_UNKNOWN)
			return 0;
		if (n > avail)
			break;
		if (__atomic_compare_exchange_n(&h->guard_avail, &avail, avail - n, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 0;
	}

	if (h->guard_action == MS_GUARD_FAIL) {
		int e = h->ledger.quota_errno ? h->ledger.quota_errno : ENOSPC;

		__atomic_add_fetch(&h->ledger.guard_refused, 1, __ATOMIC_RELAXED);
		if (may_log(now, interval))
			ms_log(s, MS_LOG_INFO,
			       "refused a write of %s: only %s of memory available",
			       fmt_bytes(ns, sizeof(ns), n), fmt_bytes(as, sizeof(as), avail));
		return -e;
	}
	if (may_log(now, interval))
		ms_log(s, MS_LOG_WARN,
		       "a write of %s is more than the %s of memory available; "
		       "the OOM killer may end the program",
		       fmt_bytes(ns, sizeof(ns), n), fmt_bytes(as, sizeof(as), avail));
	return 0;
}
