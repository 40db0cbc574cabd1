/* tests/chaos/parent.c — the chaos run itself: the store and its keeper,
 * the killer loop, reaping and replacing workers, classifying each kill,
 * the watchdog, and the figures (tests/chaos/chaos.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h" /* lock owners and inode slots, to classify kills */
#include "chaos.h"
#include "fixture.h"


#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CH_SANITIZED 1
#else
#define CH_SANITIZED 0
#endif

#define CH_MAXPRINT 25       /* failure lines printed as they happen */

struct ch_shared *ch_sh;

static double ch_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ch_usleep(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long ch_env(const char *name, long def)
{
	const char *e = getenv(name);
	return e && *e ? strtol(e, NULL, 0) : def;
}

static const char *volatile ch_phase = "start";
static ms_store *ch_alarm_store;

void ch_fail(struct ch_run *run, const char *fmt, ...)
{
	char m[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (run->res->failures++ == 0)
		snprintf(run->res->failure, sizeof(run->res->failure), "%s", m);
	if (run->printed++ < CH_MAXPRINT)
		fprintf(stderr, "chaos: FAIL: %s\n", m);
}

/* The thread holding m (glibc's layout), 0 for none. A taker that got
 * EOWNERDEAD holds it with __owner PTHREAD_MUTEX_INCONSISTENT until it calls
 * pthread_mutex_consistent: its tid is then in the futex word. */
static int ch_lock_owner(pthread_mutex_t *m)
{
	int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
	if (owner == 0x7fffffff)
		owner = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) & 0x3fffffff;
	return owner;
}

static int ch_lock_inconsistent(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == 0x7fffffff;
}

static int ch_nw_alarm; /* workers to kill when the watchdog fires */

/* Who a thread id is: a worker thread and the operation it is inside, the
 * keeper, or another process. */
static void ch_whois(char *b, size_t n, int tid)
{
	pid_t kp = ch_alarm_store ? ms_store_keeper_pid(ch_alarm_store) : 0;
	if (tid == 0) {
		snprintf(b, n, "nobody");
		return;
	}
	if (tid == kp) {
		snprintf(b, n, "the keeper (pid %d)", (int)kp);
		return;
	}
	for (int k = 0; ch_sh && k < ch_nw_alarm; k++)
		for (int t = 0; t < CH_MAXT; t++)
			if (atomic_load(&ch_sh->slot[k].tid[t]) == tid) {
				snprintf(b, n, "worker pid %d thread %d, inside '%s'",
					 atomic_load(&ch_sh->slot[k].pid), t,
					 ch_opname[atomic_load(&ch_sh->slot[k].op[t]) % CH_NOPS]);
				return;
			}
	snprintf(b, n, "tid %d (%s)", tid, kill(tid, 0) == 0 ? "alive" : "dead");
}

/* What thread tid is blocked in, from /proc (system call number, its
 * arguments: for a futex wait the first is the lock's address in that
 * process) and where that process has the arena mapped, so a futex
 * address there names the lock. */
static void ch_blocked_in(int tid)
{
	char path[64], buf[512], m[700];
	snprintf(path, sizeof(path), "/proc/%d/syscall", tid);
	int fd = open(path, O_RDONLY), n = 0;
	ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[k > 0 ? k : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	n = snprintf(m, sizeof(m), "chaos:   thread %d is in system call: %s\n", tid, buf);
	if (write(2, m, (size_t)n) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", tid);
	fd = open(path, O_RDONLY);
	char map[16384];
	k = fd >= 0 ? read(fd, map, sizeof(map) - 1) : -1;
	if (fd >= 0)
		close(fd);
	map[k > 0 ? k : 0] = 0;
	for (char *l = map; l && *l;) {
		char *e = strchr(l, '\n');
		if (e)
			*e = 0;
		if (strstr(l, "memshim-arena")) {
			n = snprintf(m, sizeof(m), "chaos:   its arena: %.200s\n", l);
			if (write(2, m, (size_t)n) < 0)
				return;
		}
		l = e ? e + 1 : NULL;
	}
}

static void ch_watchdog(int sig)
{
	char m[1024], w[160];
	int n;
	(void)sig;
	ms_store *s = ch_alarm_store;
	int ns_owner = s ? ch_lock_owner(&s->hdr->ns_lock) : 0;
	ch_whois(w, sizeof(w), ns_owner);
	n = snprintf(m, sizeof(m),
		     "chaos: FAIL: the parent hung for 60 s in %s; ns_lock held by %s\n", ch_phase,
		     w);
	if (write(2, m, (size_t)n) < 0)
		_exit(99);
	if (ns_owner)
		ch_blocked_in(ns_owner);
	if (s) {
		struct ms_hdr *h = s->hdr;
		ch_whois(w, sizeof(w), ch_lock_owner(&h->ledger_lock));
		n = snprintf(m, sizeof(m), "chaos:   ledger_lock held by %s\n", w);
		if (write(2, m, (size_t)n) < 0)
			_exit(99);
		ch_whois(w, sizeof(w), ch_lock_owner(&h->keeper_lock));
		n = snprintf(m, sizeof(m), "chaos:   keeper_lock held by %s\n", w);
		if (write(2, m, (size_t)n) < 0)
			_exit(99);
		uint32_t bump = h->inode_bump < h->nslots + 1 ? h->inode_bump : h->nslots + 1;
		for (uint32_t i = 1; i < bump; i++) {
			pthread_mutex_t *dl = &ms_inode_at(s, i)->data_lock;
			int o = ch_lock_owner(dl);
			if (!o)
				continue;
			ch_whois(w, sizeof(w), o);
			unsigned word = __atomic_load_n((unsigned *)&dl->__data.__lock, __ATOMIC_RELAXED);
			n = snprintf(m, sizeof(m),
				     "chaos:   data lock of inode slot %u (offset %#lx) held by %s%s; "
				     "futex word %#x (tid %u%s%s)\n",
				     i, (unsigned long)((char *)dl - (char *)h), w,
				     ch_lock_inconsistent(dl) ? " (took it with EOWNERDEAD and never "
								"made it consistent or unlocked it)" : "",
				     word, word & 0x3fffffff, word & 0x40000000 ? ", owner died" : "",
				     word & 0x80000000 ? ", waiters" : "");
			if (write(2, m, (size_t)n) < 0)
				_exit(99);
		}
	}
	for (int k = 0; ch_sh && k < ch_nw_alarm; k++) {
		pid_t p = atomic_load(&ch_sh->slot[k].pid);
		if (p > 0)
			kill(p, SIGKILL);
	}
	_exit(99);
}

void ch_guard(const char *phase)
{
	ch_phase = phase;
	alarm(60);
}

static void ch_start(struct ch_run *run, int k)
{
	struct ch_slot *sl = &ch_sh->slot[k];
	for (int t = 0; t < CH_MAXT; t++) {
		atomic_store(&sl->tid[t], 0);
		atomic_store(&sl->op[t], CH_NONE);
	}
	atomic_store(&sl->attach_ns, 0);
	unsigned seed = ++run->wseed ^ run->res->seed;
	pid_t parent = getpid();
	pid_t p = fork();
	if (p == 0) {
		alarm(0);
		signal(SIGALRM, SIG_DFL);
		/* A worker never outlives the run (a parent killed by a
		 * timeout would leave it looping, or wedged, for ever). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		ch_worker(k, run->nt, seed, ms_store_name(run->s), &run->o);
		_exit(0);
	}
	if (p < 0) {
		ch_fail(run, "fork: %s", strerror(errno));
		run->pid[k] = 0;
		return;
	}
	atomic_store(&sl->pid, p);
	run->pid[k] = p;
	run->res->started++;
}

static void ch_status(char *b, size_t n, int st)
{
	if (WIFEXITED(st))
		snprintf(b, n, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(b, n, "died of signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(b, n, "status 0x%x", st);
}

static void ch_self_death(struct ch_run *run, int k, int st)
{
	char b[128];
	struct ch_slot *sl = &ch_sh->slot[k];
	int op = CH_NONE;
	for (int t = 0; t < run->nt; t++)
		if (atomic_load(&sl->op[t]))
			op = atomic_load(&sl->op[t]);
	ch_status(b, sizeof(b), st);
	run->res->self_deaths++;
	ch_fail(run, "worker pid %d %s on its own, inside '%s'%s%s", (int)run->pid[k], b,
		ch_opname[op], ch_sh->unexpected_set ? "; first unexpected error: " : "",
		ch_sh->unexpected_set ? ch_sh->unexpected_msg : "");
	run->pid[k] = 0;
	atomic_store(&sl->pid, 0);
}

/* Workers that died without being killed. */
static void ch_reap_unexpected(struct ch_run *run)
{
	for (int k = 0; k < run->nw; k++) {
		int st;
		if (run->pid[k] > 0 && waitpid(run->pid[k], &st, WNOHANG) == run->pid[k]) {
			ch_self_death(run, k, st);
			ch_start(run, k);
		}
	}
}

/* Which store locks thread ids `tids` hold: bit 0 ns, 1 ledger, 2 keeper,
 * 3 a data lock. The victim is stopped, so what it holds cannot change. */
static unsigned ch_locks_held(struct ch_run *run, const int *tids, int n)
{
	struct ms_store *s = run->s;
	struct ms_hdr *h = s->hdr;
	unsigned mask = 0;
	uint32_t bump = __atomic_load_n(&h->inode_bump, __ATOMIC_RELAXED);
	if (bump > h->nslots + 1)
		bump = h->nslots + 1;
	for (int i = 0; i < n; i++) {
		if (!tids[i])
			continue;
		if (ch_lock_owner(&h->ns_lock) == tids[i])
			mask |= 1;
		if (ch_lock_owner(&h->ledger_lock) == tids[i])
			mask |= 2;
		if (ch_lock_owner(&h->keeper_lock) == tids[i])
			mask |= 4;
		for (uint32_t j = 1; j < bump; j++)
			if (ch_lock_owner(&ms_inode_at(s, j)->data_lock) == tids[i])
				mask |= 8;
	}
	return mask;
}

/* Kills worker k (stopping it first to inspect its locks when asked),
 * reaps it and classifies the kill. */
static void ch_kill(struct ch_run *run, int k, int inspect)
{
	struct chaos_result *res = run->res;
	struct ch_slot *sl = &ch_sh->slot[k];
	pid_t p = run->pid[k];
	int st;
	if (p <= 0)
		return;
	if (inspect && kill(p, SIGSTOP) == 0) {
		if (waitpid(p, &st, WUNTRACED) != p) {
			ch_fail(run, "waitpid(%d, WUNTRACED): %s", (int)p, strerror(errno));
		} else if (!WIFSTOPPED(st)) {
			ch_self_death(run, k, st);
			return;
		} else {
			int tids[CH_MAXT];
			for (int t = 0; t < CH_MAXT; t++)
				tids[t] = atomic_load(&sl->tid[t]);
			unsigned m = ch_locks_held(run, tids, run->nt);
			res->inspected++;
			if (m)
				res->locked++;
			res->locked_ns += m & 1;
			res->locked_ledger += (m >> 1) & 1;
			res->locked_keeper += (m >> 2) & 1;
			res->locked_data += (m >> 3) & 1;
		}
	}
	kill(p, SIGKILL);
	if (waitpid(p, &st, 0) != p) {
		ch_fail(run, "waitpid(%d): %s", (int)p, strerror(errno));
		run->pid[k] = 0;
		return;
	}
	run->pid[k] = 0;
	atomic_store(&sl->pid, 0);
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
		/* It was gone before the kill arrived. */
		run->pid[k] = p;
		ch_self_death(run, k, st);
		return;
	}
	res->kills++;
	int64_t an = atomic_load(&sl->attach_ns);
	if (an > 0) {
		res->attaches++;
		res->attach_ns_sum += (uint64_t)an;
		if ((uint64_t)an > res->attach_ns_max)
			res->attach_ns_max = (uint64_t)an;
	}
	int in = 0;
	int64_t now = ch_mono_ns();
	for (int t = 0; t < run->nt; t++) {
		int op = atomic_load(&sl->op[t]);
		if (op > CH_NONE && op < CH_NOPS) {
			res->kills_by_op[op]++;
			in = 1;
			double secs = (double)(now - atomic_load(&sl->since[t])) / 1e9;
			if (secs > CH_STUCK_S) {
				res->stuck++;
				ch_fail(run,
					"worker pid %d thread %d had been inside '%s' for %.1f s when "
					"killed (a store lock never released?)",
					(int)p, t, ch_opname[op], secs);
			}
		}
	}
	res->kills_in_op += in;
}

static void ch_stop_all(struct ch_run *run)
{
	for (int k = 0; k < run->nw; k++)
		ch_kill(run, k, 0);
}

/* ---- checks (every worker dead) ----------------------------------------------------- */
static void ch_print(const struct chaos_result *r)
{
	char sb[300];
	fprintf(stderr,
		"chaos: seed %u, %d workers x %d threads, %.1f s: %lu kills (%lu inside a store "
		"operation, %lu right after fork), %lu worker processes started, %lu operations "
		"(%lu refused by the quota, %lu unexpected errors), %lu checks (%lu all-stopped, "
		"%lu live), %lu failures\n",
		r->seed, r->workers, r->threads, r->seconds, r->kills, r->kills_in_op,
		r->kills_after_fork, r->started, r->ops, r->refused, r->unexpected,
		r->checks + r->live_checks, r->checks, r->live_checks, r->failures);
	fprintf(stderr,
		"chaos: %lu kills inspected (stopped first): %lu with a store lock held "
		"(ns_lock %lu, ledger_lock %lu, keeper_lock %lu, a data lock %lu)\n",
		r->inspected, r->locked, r->locked_ns, r->locked_ledger, r->locked_keeper,
		r->locked_data);
	fprintf(stderr, "chaos: memfds left by killed workers, closed by the keeper's audits "
		"at the checks: %lu\n", r->audit_closed);
	fprintf(stderr, "chaos: ms_store_attach: %lu completed, mean %.0f us, max %.0f us\n",
		r->attaches, r->attaches ? (double)r->attach_ns_sum / (double)r->attaches / 1e3 : 0.0,
		(double)r->attach_ns_max / 1e3);
	fprintf(stderr, "chaos: kills inside:");
	for (int i = 1; i < CH_NOPS; i++)
		if (r->kills_by_op[i])
			fprintf(stderr, " %s %lu", ch_opname[i], r->kills_by_op[i]);
	fprintf(stderr, "\n");
	ch_stats_str(sb, sizeof(sb), &r->before_drain);
	fprintf(stderr, "chaos: at the end: %s\n", sb);
	ch_stats_str(sb, sizeof(sb), &r->after_drain);
	fprintf(stderr, "chaos: after removing everything: %s; keeper fds %d (%d file memfds, "
		"pool %d of %d)\n", sb, r->keeper_fds, r->keeper_memfds, r->pool, MS_POOL_SLOTS);
	if (r->first_check[0])
		fprintf(stderr, "chaos: first ms_check failure: %s\n", r->first_check);
	if (r->failures)
		fprintf(stderr, "chaos: first failure: %s\n", r->failure);
}

/* The kills a run performs: MEMSHIM_CHAOS_KILLS, else sized for CI time. */
static long chaos_kills(void)
{
	return ch_env("MEMSHIM_CHAOS_KILLS", CH_SANITIZED ? 1000 : 6000);
}

int chaos_run(const char *keeper, struct chaos_result *res)
{
	struct ch_run run;
	memset(res, 0, sizeof(*res));
	memset(&run, 0, sizeof(run));
	run.res = res;
	long target = chaos_kills();
	res->target = target;
	run.nw = (int)ch_env("MEMSHIM_CHAOS_WORKERS", 4);
	run.nt = (int)ch_env("MEMSHIM_CHAOS_THREADS", 2);
	if (run.nw < 1 || run.nw > CH_MAXW || run.nt < 1 || run.nt > CH_MAXT) {
		snprintf(res->failure, sizeof(res->failure), "workers 1..%d, threads 1..%d", CH_MAXW,
			 CH_MAXT);
		return -1;
	}
	res->workers = run.nw;
	res->threads = run.nt;
	res->seed = (unsigned)ch_env("MEMSHIM_CHAOS_SEED", (long)(time(NULL) ^ getpid()));
	run.seed = res->seed;
	ch_worker_prepare();

	ch_sh = mmap(NULL, sizeof(*ch_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	if (ch_sh == MAP_FAILED) {
		snprintf(res->failure, sizeof(res->failure), "mmap: %s", strerror(errno));
		return -1;
	}
	memset(ch_sh, 0, sizeof(*ch_sh));
	static struct ms_config c;
	c = t_config(CH_QUOTA, CH_NODES);
	run.o.cfg = &c;
	run.o.keeper_path = keeper;
	int r = ms_store_open(&run.o, &run.s);
	if (r) {
		snprintf(res->failure, sizeof(res->failure), "cannot create the store: %s",
			 strerror(-r));
		munmap(ch_sh, sizeof(*ch_sh));
		return -1;
	}
	ch_alarm_store = run.s;
	ch_nw_alarm = run.nw;
	signal(SIGALRM, ch_watchdog);
	fprintf(stderr, "chaos: seed %u (MEMSHIM_CHAOS_SEED), %ld kills (MEMSHIM_CHAOS_KILLS), "
		"%d workers x %d threads, quota %u bytes, %u nodes, keeper pid %d\n",
		res->seed, target, run.nw, run.nt, CH_QUOTA, CH_NODES,
		(int)ms_store_keeper_pid(run.s));

	double t0 = ch_now(), last_progress = t0;
	unsigned long last_ops = 0;
	for (int k = 0; k < run.nw; k++)
		ch_start(&run, k);
	while ((long)res->kills < target) {
		ch_usleep((long)(ch_rnd(&run.seed) % 2001));
		ch_reap_unexpected(&run);
		int k = (int)(ch_rnd(&run.seed) % (unsigned)run.nw);
		ch_kill(&run, k, ch_rnd(&run.seed) % 4 == 0);
		ch_start(&run, k);
		if (ch_rnd(&run.seed) % 10 == 0) { /* right after fork */
			unsigned long before = res->kills;
			ch_kill(&run, k, 0);
			res->kills_after_fork += res->kills - before;
			ch_start(&run, k);
		}
		if (res->kills % CH_LIVE_EVERY == 0 && res->kills % CH_CHECK_EVERY) {
			char when[64];
			snprintf(when, sizeof(when), "live check after %lu kills", res->kills);
			ch_check_ms(&run, when, 1);
		}
		if (res->kills % CH_CHECK_EVERY == 0 && (long)res->kills < target) {
			ch_stop_all(&run);
			ch_checkpoint(&run, 0);
			for (int j = 0; j < run.nw; j++)
				ch_start(&run, j);
		}
		unsigned long ops = atomic_load(&ch_sh->ops);
		double now = ch_now();
		if (ops != last_ops) {
			last_ops = ops;
			last_progress = now;
		} else if (now - last_progress > 10) {
			int owner = ch_lock_owner(&run.s->hdr->ns_lock);
			ch_fail(&run,
				"no store operation completed for 10 s after %lu kills: the store is "
				"wedged (ns_lock owner tid %d, %s)",
				res->kills, owner, owner && kill(owner, 0) == 0 ? "alive" : "not alive");
			break;
		}
		if (res->failures > 200)
			break;
	}
	ch_stop_all(&run);
	res->ops = atomic_load(&ch_sh->ops);
	res->refused = atomic_load(&ch_sh->refused);
	res->unexpected = atomic_load(&ch_sh->unexpected);
	if (res->unexpected)
		ch_fail(&run, "%lu store calls returned an errno no caller could expect; first: %s",
			res->unexpected, ch_sh->unexpected_msg);
	ch_checkpoint(&run, 1);
	ch_guard("stats");
	ms_stats_get(run.s, &res->before_drain);
	alarm(0);
	ch_drain(&run);
	res->seconds = ch_now() - t0;
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	ch_alarm_store = NULL;
	ch_close(&run);
	ch_print(res);
	munmap(ch_sh, sizeof(*ch_sh));
	ch_sh = NULL;
	return 0;
}
