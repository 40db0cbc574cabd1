/* The arena: its layout, sharing between processes, and robust locks that
 * survive a holder killed with SIGKILL. */
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "arena.h"
#include "common.h"

/* The layout's compile-time checks are in core/arena.h, next to the
 * structures; this test records the same sizes at run time too. */

Test(arena, layout_is_the_recorded_one)
{
	/* Recorded sizes for layout version 13 on x86-64 (2: extended
	 * attributes, in->xattr and the attribute pool; 3: the dnotify
	 * registrations; 4: and the report's refusal records, programs,
	 * in->prog and injected failures; 5: the MEMSHIM_LOWER directories;
	 * 6: in->map_gen, in what was padding: a process of an older version
	 * would not move it; 7: the holders of memfds, a kfd naming holder and
	 * fd, the audit request, inode and entry slots in pairs; 8: injected
	 * failures kept by kind, with a count, 64 kinds; the memfd index,
	 * in->knext sharing a symlink's in->link; the rename intent; 9: an entry's
	 * type, in what was padding; 10: the count of holder requests, in what
	 * was padding; 11: the kept descriptions, after the holders; 12: the
	 * ring of memfds to reuse, after them; 13: a pool entry's `stale`,
	 * in what was padding: a process of an older version would take a
	 * removed file's memfd for an empty one). */
	cr_assert_eq(MS_LAYOUT_VERSION, 13);
	cr_assert_eq(offsetof(struct ms_memfd_ref, stale), 4);
	cr_assert_eq(sizeof(struct ms_memfd_ref), 16);
	cr_assert_eq(sizeof(struct ms_inode), 184, "inode %zu", sizeof(struct ms_inode));
	cr_assert_eq(sizeof(struct ms_dent), 296, "dent %zu", sizeof(struct ms_dent));
	cr_assert_eq(sizeof(struct ms_ledger), 88, "ledger %zu", sizeof(struct ms_ledger));
	cr_assert_eq(sizeof(struct ms_hdr), 72272 + 16 * 1024 + 8 + 16 * 64, "hdr %zu",
		     sizeof(struct ms_hdr));
	cr_assert_eq(offsetof(struct ms_hdr, reuse), 72272 + 16 * 1024 + 8);
	cr_assert_eq(MS_REUSE_SLOTS, 64);
	cr_assert_eq(offsetof(struct ms_hdr, holders), 55888);
	cr_assert_eq(offsetof(struct ms_hdr, kept), 72272);
	cr_assert_eq(MS_KEPT, 1024);
	/* Inode and entry slots in pairs, the entry after its inode. */
	cr_assert_eq(MS_NODE_STRIDE, 480);
	cr_assert_eq(MS_HOLDERS, 2048);
	/* A handle names holder and fd; a keeper fd is its own handle. */
	cr_assert_eq(ms_kfd_make(0, 17), 17);
	cr_assert_eq(ms_kfd_holder(ms_kfd_make(2047, (1 << 20) - 1)), 2047);
	cr_assert_eq(ms_kfd_fd(ms_kfd_make(2047, (1 << 20) - 1)), (1 << 20) - 1);
	cr_assert_gt(ms_kfd_make(2047, (1 << 20) - 1), 0, "a handle is never negative");
	cr_assert_eq(sizeof(struct ms_xrec), 12, "xrec %zu", sizeof(struct ms_xrec));
	cr_assert_eq(offsetof(struct ms_hdr, ns_lock) % 8, 0);
}

Test(arena, header_records_magic_version_limits)
{
	struct ms_config c = t_config(8 << 20, 100);
	ms_store *s = t_local(&c);
	struct ms_hdr *h = s->hdr;
	cr_assert_eq(h->magic, MS_MAGIC);
	cr_assert_eq(h->version, MS_LAYOUT_VERSION);
	cr_assert_eq(h->ledger.max_bytes, 8 << 20);
	cr_assert_eq(h->ledger.max_nodes, 100);
	cr_assert_eq(h->nslots, 100 + MS_EXTRA_SLOTS);
	uint32_t a, b, x, n;
	cr_assert_eq(h->arena_size, ms_arena_size(8 << 20, 100, &a, &b, &x, &n));
	cr_assert_eq(h->arena_size % MS_PAGE, 0);
	cr_assert_eq(h->off_dents, h->off_inodes + sizeof(struct ms_inode));
	cr_assert_eq((char *)ms_dent_at(s, 7) - (char *)ms_inode_at(s, 7), (long)sizeof(struct ms_inode));
	cr_assert_eq(ms_inode_slot(s, ms_inode_at(s, 42)), 42);
	/* the attribute pool: as many blocks as the quota pays for */
	cr_assert_eq(h->nxblocks, (8 << 20) / MS_BLOCK);
}

Test(arena, size_is_fixed_by_the_limits)
{
	uint32_t a, b, x, n;
	uint64_t small = ms_arena_size(1 << 20, 1000, &a, &b, &x, &n);
	uint64_t big = ms_arena_size(1 << 20, 100000, &a, &b, &x, &n);
	cr_assert_lt(small, big);
	/* About a kilobyte of arena a node, matching MS_NODE_COST. */
	cr_assert_leq((big - small) / 99000, MS_NODE_COST + 64, "arena per node: %llu",
		      (unsigned long long)((big - small) / 99000));
	/* The attribute pool: a block per MS_BLOCK bytes of quota, so it runs
	 * out only after the quota; at most MS_XBLOCKS_CEILING blocks, also
	 * the pool of a store without a quota. */
	ms_arena_size(1 << 20, 1000, &a, &b, &x, &n);
	cr_assert_eq(x, (1 << 20) / MS_BLOCK);
	uint64_t q1 = ms_arena_size(1 << 20, 1000, &a, &b, &x, &n);
	uint64_t q2 = ms_arena_size(2 << 20, 1000, &a, &b, &x, &n);
	cr_assert_leq(q2 - q1, (1 << 20) + MS_PAGE, "arena per byte of quota");
	ms_arena_size(1ULL << 40, 1000, &a, &b, &x, &n);
	cr_assert_eq(x, MS_XBLOCKS_CEILING);
	ms_arena_size(0, 1000, &a, &b, &x, &n);
	cr_assert_eq(x, MS_XBLOCKS_CEILING);
}

Test(arena, slots_run_out_with_enospc_not_a_crash)
{
	struct ms_config c = t_config(0, 4); /* unlimited bytes, 4 nodes */
	ms_store *s = t_local(&c);
	int made = 0;
	for (int i = 0; i < 1000; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/mem/d%d", i);
		int r = ms_mkdir(s, 0, p, 0755);
		if (r) {
			cr_assert_eq(r, -ENOSPC);
			break;
		}
		made++;
	}
	cr_assert_eq(made, 4);
}

Test(arena, a_second_process_sees_and_updates_the_same_store)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	pid_t p = fork();
	if (p == 0) {
		ms_store *o;
		struct ms_open_opts op = {.cfg = &c, .keeper_path = t_keeper()};
		if (ms_store_attach(ms_store_name(s), &op, &o))
			_exit(2);
		/* A mapping of its own, not the inherited one. */
		if (o->base == s->base)
			_exit(3);
		_exit(ms_mkdir(o, 0, "/mem/from-child", 0700) ? 4 : 0);
	}
	int st;
	waitpid(p, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	struct stat sb;
	cr_assert_eq(ms_stat(s, 0, "/mem/from-child", 0, &sb), 0);
	cr_assert(S_ISDIR(sb.st_mode));
	cr_assert_eq(s->hdr->ledger.used_nodes, 1);
}

/* A child takes a lock and is killed with SIGKILL while holding it. */
static void die_holding(ms_store *s, void (*take)(ms_store *))
{
	int p2[2];
	cr_assert_eq(pipe(p2), 0);
	pid_t p = fork();
	if (p == 0) {
		take(s);
		char c = 1;
		if (write(p2[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	cr_assert_eq(read(p2[0], &c, 1), 1);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	close(p2[0]);
	close(p2[1]);
}

static void take_ns(ms_store *s) { ms_ns_lock(s); }

Test(arena, eownerdead_on_the_namespace_lock_is_recovered)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/a", 0755), 0);
	die_holding(s, take_ns);
	/* The next operation takes over the lock and goes on. */
	cr_assert_eq(ms_mkdir(s, 0, "/mem/b", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/c", 0755), 0);
	t_assert_consistent(s);
}

static void half_ledger_change(ms_store *s)
{
	/* Journal written, counters changed, commit never reached. */
	ms_ledger_lock(s);
	s->hdr->journal.used_bytes = s->hdr->ledger.used_bytes;
	s->hdr->journal.used_nodes = s->hdr->ledger.used_nodes;
	s->hdr->journal.ino = 0;
	s->hdr->journal.active = 1;
	s->hdr->ledger.used_bytes += 12345;
	s->hdr->ledger.used_nodes += 7;
}

Test(arena, a_ledger_change_cut_by_death_is_rolled_back)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/a", 100), 0);
	uint64_t before = s->hdr->ledger.used_bytes;
	die_holding(s, half_ledger_change);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/b", 0755), 0);
	cr_assert_eq(s->hdr->ledger.used_bytes, before + MS_NODE_COST);
	cr_assert_eq(s->hdr->ledger.used_nodes, 2);
	t_assert_consistent(s);
}

static ms_ino victim;
static void take_data(ms_store *s) { ms_data_lock(s, ms_inode_at(s, victim), -1); }

Test(arena, eownerdead_on_a_file_lock_is_recovered)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	int fd;
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_CREAT | O_RDWR, 0644, &fd, &victim), 0);
	cr_assert_eq(write(fd, "abc", 3), 3); /* behind the ledger's back */
	die_holding(s, take_data);
	struct ms_wctx w;
	int64_t off;
	cr_assert_eq(ms_write_begin(s, victim, fd, 0, 10, 1, &w, &off), 0);
	cr_assert_eq(off, 3, "the size is re-read from the kernel after the death");
	ms_write_end(s, &w, 0);
	t_assert_consistent(s);
}

Test(arena, a_killed_namespace_holder_in_a_kept_store)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_kept(&c);
	die_holding(s, take_ns);
	cr_assert_eq(t_write_file(s, "/mem/after", 10), 0);
	t_assert_consistent(s);
}

/* The slots follow the node limit however high it is: a limit above the
 * ceiling of an unlimited store is not lowered in silence (issue 15). */
Test(arena, slots_follow_a_node_limit_above_the_ceiling)
{
	uint32_t a, b, x, n;
	ms_arena_size(1ULL << 32, 2000000, &a, &b, &x, &n);
	cr_assert_eq(a, 2000000 + MS_EXTRA_SLOTS);
	cr_assert_geq(n, a, "a bucket per slot at least");
	ms_arena_size(0, 0, &a, &b, &x, &n);
	cr_assert_eq(a, MS_NODES_CEILING + MS_EXTRA_SLOTS, "no limit: the ceiling");
	/* The largest limit the configuration accepts still gives sizes
	 * (creating such an arena then fails, loudly). */
	uint64_t big = ms_arena_size(0, 4294967230ULL, &a, &b, &x, &n);
	cr_assert_eq(a, 4294967294U);
	cr_assert_gt(big, (uint64_t)a * 400);
	struct ms_config c = t_config(8ULL << 30, 2000000);
	ms_store *s = t_local(&c);
	cr_assert_eq(s->hdr->nslots, 2000000 + MS_EXTRA_SLOTS);
	ms_store_close(s);
}

/* A store mutex held by a thread that died without the kernel marking it
 * (one that registered no robust list with the kernel) is taken back by
 * the next locker within about a second, through the usual dead-holder
 * repair. The owner here is a process that has exited, written into each
 * lock's word. */
Test(arena, a_lock_whose_dead_owner_went_unmarked_is_taken_back, .timeout = 60)
{
	struct ms_config c = t_config(8 << 20, 100);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/f", 100), 0);
	ms_ino ino;
	cr_assert_eq(ms_lookup(s, 0, "/mem/f", 0, &ino), 0);
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	cr_assert_eq(waitpid(dead, NULL, 0), dead);
	pthread_mutex_t *locks[] = { &s->hdr->ns_lock, &s->hdr->ledger_lock, &s->hdr->keeper_lock,
				     &ms_inode_at(s, ino)->data_lock };
	for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++)
		__atomic_store_n((unsigned *)&locks[i]->__data.__lock, (unsigned)dead,
				 __ATOMIC_RELEASE);
	time_t t0 = time(NULL);
	ms_ns_lock(s);
	ms_ns_unlock(s);
	ms_ledger_lock(s);
	ms_ledger_unlock(s);
	ms_keeper_lock(s);
	ms_keeper_unlock(s);
	ms_data_lock(s, ms_inode_at(s, ino), -1);
	ms_data_unlock(s, ms_inode_at(s, ino));
	cr_assert_leq(time(NULL) - t0, 20, "took %ld s", (long)(time(NULL) - t0));
	t_assert_consistent(s);
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/f", 0, &st), 0);
	cr_assert_eq(st.st_size, 100);
}

/* A child that dies at death point `point` inside an operation: MS_DIE_AT
 * kills it there with SIGKILL, as the chaos run's killer may. */
static void die_at(ms_store *s, const char *point, void (*op)(ms_store *))
{
	pid_t p = fork();
	if (p == 0) {
		ms_fault_arm(point, 1, EINTR);
		op(s);
		_exit(0); /* the point was not reached */
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the child did not die at %s", point);
}

static void create_f(ms_store *s)
{
	int fd;
	ms_ino ino;
	if (ms_open(s, 0, "/mem/f", O_CREAT | O_RDWR, 0644, &fd, &ino) == 0)
		close(fd);
}

/* The data lock of inode i taken in a child within 10 s (0), or not. */
static int data_lock_comes_back(ms_store *s, ms_ino i)
{
	pid_t p = fork();
	if (p == 0) {
		alarm(10);
		ms_data_lock(s, ms_inode_at(s, i), -1);
		ms_data_unlock(s, ms_inode_at(s, i));
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* A process killed while it takes a never-used inode slot: the slot goes
 * back to the free list in the repair, and the file that reuses it has a
 * data lock like any other's, robust and shared, which a holder killed
 * with it held does not wedge. (The chaos run's watchdog: a writer killed
 * holding the data lock of a slot whose mutex had never been made, a
 * process-private mutex with no owner the kernel or ms_robust_lock could
 * see die.) */
Test(arena, a_slot_taken_by_a_process_killed_there_gets_a_robust_data_lock, .fini = ms_fault_clear)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	uint32_t bump = s->hdr->inode_bump;
	die_at(s, "die_inode_fresh", create_f);
	int fd;
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_CREAT | O_RDWR, 0644, &fd, &victim), 0);
	cr_assert_eq(victim, bump, "the file reuses the slot the killed process took");
	die_holding(s, take_data);
	cr_assert_eq(data_lock_comes_back(s, victim), 0,
		     "the data lock of a holder killed with it is never taken back");
	ms_ino_put(s, victim);
	close(fd);
	t_assert_consistent(s);
}

static void symlink_l(ms_store *s) { ms_symlink(s, "target", 0, "/mem/l"); }

/* A process killed while it writes a new entry, its length written and its
 * name not yet: the repair after it frees the entry and the symlink it was
 * to name, and the name can be made again. (The chaos run's final check: a
 * symlink whose only entry had a name of NUL bytes and cookie 2, the
 * first entry of /mem, which the walk could not follow.) */
Test(arena, an_entry_cut_short_by_a_kill_is_undone_by_the_repair, .fini = ms_fault_clear)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0755), 0);
	die_at(s, "die_dent_len", symlink_l);
	t_assert_consistent(s); /* takes ns_lock: the repair */
	ms_ino dir;
	cr_assert_eq(ms_lookup_dir(s, 0, "/mem", &dir), 0);
	struct ms_dirent e;
	uint64_t cookie = 0;
	int n = 0;
	while (ms_readdir(s, dir, cookie, &e) == 1) {
		cookie = e.cookie;
		if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
			continue;
		cr_assert_str_eq(e.name, "d", "an entry '%s' (cookie %llu) is left", e.name,
				 (unsigned long long)e.cookie);
		n++;
	}
	ms_ino_put(s, dir);
	cr_assert_eq(n, 1);
	struct ms_stats st;
	ms_stats_get(s, &st);
	cr_assert_eq(st.symlinks, 0, "the symlink is still held");
	cr_assert_eq(st.used_nodes, 1);
	cr_assert_eq(ms_symlink(s, "target", 0, "/mem/l"), 0);
	t_assert_consistent(s);
}

/* Killed once the new entry is whole (its parent written), before it is
 * linked: the repair keeps it, and readdir lists it with a cookie of its
 * own after the entries before it. */
Test(arena, an_entry_whole_when_its_maker_is_killed_is_kept_and_listed, .fini = ms_fault_clear)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0755), 0);
	die_at(s, "die_dent_parent", symlink_l);
	t_assert_consistent(s);
	ms_ino dir;
	cr_assert_eq(ms_lookup_dir(s, 0, "/mem", &dir), 0);
	struct ms_dirent e;
	uint64_t cookie = 0;
	char seen[64] = "";
	while (ms_readdir(s, dir, cookie, &e) == 1) {
		cr_assert_gt(e.cookie, cookie);
		cookie = e.cookie;
		strncat(seen, e.name, sizeof(seen) - strlen(seen) - 2);
		strcat(seen, " ");
	}
	ms_ino_put(s, dir);
	cr_assert_str_eq(seen, ". .. d l ");
	char t[16];
	cr_assert_eq(ms_readlink(s, 0, "/mem/l", t, sizeof(t)), 6);
	struct ms_stats st;
	ms_stats_get(s, &st);
	cr_assert_eq(st.symlinks, 1);
}

/* ---- a process killed at every instruction of an operation ----------------- */
#ifdef __x86_64__
/* The child counts its own instructions: the trap flag (EFLAGS bit 8)
 * raises SIGTRAP after each one, and the handler (run with the flag clear,
 * set again by sigreturn) kills the process at the chosen count. No
 * ptrace: nothing to be allowed. */
static volatile long steps_left;

static void count_step(int sig, siginfo_t *si, void *uc)
{
	if (--steps_left == 0)
		syscall(SYS_kill, syscall(SYS_getpid), SIGKILL);
}

/* Runs op in a child killed after its k-th instruction; 1 when it was
 * killed, 0 when op finished first. */
static int killed_at(ms_store *s, void (*op)(ms_store *), long k)
{
	pid_t p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		struct sigaction sa = {.sa_sigaction = count_step, .sa_flags = SA_SIGINFO};
		sigaction(SIGTRAP, &sa, NULL);
		steps_left = k;
		__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
		op(s);
		__asm__ volatile("pushfq; andq $~0x100, (%%rsp); popfq" ::: "memory", "cc");
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child: status %#x", st);
	return 1;
}

static void op_mkdir(ms_store *s) { ms_mkdir(s, 0, "/mem/d/new", 0755); }
static void op_symlink(ms_store *s) { ms_symlink(s, "/mem/d/f", 0, "/mem/d/ln"); }
static void op_create(ms_store *s)
{
	int fd;
	ms_ino ino;
	if (ms_open(s, 0, "/mem/d/g", O_CREAT | O_EXCL | O_WRONLY, 0644, &fd, &ino) == 0)
		ms_ino_put(s, ino);
}
static void op_rename(ms_store *s) { ms_rename(s, 0, "/mem/d/f", 0, "/mem/e/f2", 0); }
static void op_replace(ms_store *s) { ms_rename(s, 0, "/mem/d/f", 0, "/mem/e/t", 0); }
static void op_exchange(ms_store *s) { ms_rename(s, 0, "/mem/d/f", 0, "/mem/e/t", RENAME_EXCHANGE); }
/* a file and a directory: the two entries' types swap too */
static void op_exchange_dir(ms_store *s)
{
	ms_rename(s, 0, "/mem/d/f", 0, "/mem/d/sub", RENAME_EXCHANGE);
}
static void op_rename_dir(ms_store *s) { ms_rename(s, 0, "/mem/d/sub", 0, "/mem/e/sub2", 0); }
static void op_unlink(ms_store *s) { ms_unlink(s, 0, "/mem/d/f"); }
static void op_write(ms_store *s)
{
	static char buf[20000];
	int fd;
	ms_ino ino;
	struct ms_wctx w;
	int64_t at;
	if (ms_open(s, 0, "/mem/d/f", O_RDWR, 0, &fd, &ino))
		return;
	if (ms_write_begin(s, ino, fd, 5, sizeof(buf), 0, &w, &at) == 0) {
		ssize_t k = pwrite(fd, buf, sizeof(buf), at);
		ms_write_end(s, &w, k < 0 ? -errno : k);
	}
	close(fd);
	ms_ino_put(s, ino);
}
static void op_grow(ms_store *s) { ms_truncate(s, 0, "/mem/d/f", 300000); }
static void op_shrink(ms_store *s) { ms_truncate(s, 0, "/mem/e/t", 3); }
static void op_setxattr(ms_store *s) { ms_setxattr(s, 0, "/mem/d/f", 0, "user.k", "value", 5, 0); }
static void op_link(ms_store *s) { ms_link(s, 0, "/mem/d/f", 0, "/mem/e/l", MS_NOFOLLOW); }
static void op_rmdir(ms_store *s) { ms_rmdir(s, 0, "/mem/e/empty"); }

/* d/f (10 bytes), e/t (20 bytes), d/sub with a file in it, e/empty. */
static ms_store *step_store(const struct ms_config *c)
{
	ms_store *s = t_local(c);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/e", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d/sub", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/e/empty", 0755), 0);
	cr_assert_eq(t_write_file(s, "/mem/d/f", 10), 0);
	cr_assert_eq(t_write_file(s, "/mem/e/t", 20), 0);
	cr_assert_eq(t_write_file(s, "/mem/d/sub/x", 5), 0);
	return s;
}

/* What a program would see of the names the operations touch: each
 * one's type, size and link count, or that it is not there; and d/f's
 * attribute user.k. */
static void step_state(ms_store *s, char *out, size_t n)
{
	static const char *const names[] = {"d", "d/f", "d/new", "d/ln", "d/g", "d/sub",
					    "d/sub/x", "e", "e/t", "e/f2", "e/sub2", "e/sub2/x",
					    "e/l", "e/empty"};
	size_t at = 0;
	out[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[32];
		struct stat st;
		snprintf(p, sizeof(p), "/mem/%s", names[i]);
		if (ms_stat(s, 0, p, MS_NOFOLLOW, &st))
			at += (size_t)snprintf(out + at, n - at, "%s:- ", names[i]);
		else
			at += (size_t)snprintf(out + at, n - at, "%s:%o/%lld/%lu ", names[i],
					       st.st_mode & S_IFMT, S_ISDIR(st.st_mode) ? 0LL
							       : (long long)st.st_size,
					       (unsigned long)st.st_nlink);
	}
	char v[16];
	ssize_t k = ms_getxattr(s, 0, "/mem/d/f", MS_NOFOLLOW, "user.k", v, sizeof(v));
	snprintf(out + at, n - at, "d/f user.k=%.*s", k > 0 ? (int)k : 1, k >= 0 ? v : "-");
}

/* Each operation that makes, removes or renames a node, or writes,
 * truncates or sets an attribute, killed after
 * instruction k, for every 16th k until it finishes (which 16th:
 * MEMSHIM_STEP_PHASE, 0 to 15, by default drawn and printed; every 64th
 * under ASan), so runs together cover every instruction, each time in a
 * fresh store: the next process to take the lock repairs what it left;
 * the store passes every check (among them: every counted inode slot's
 * mutex is a robust shared one); what a program sees is what it saw
 * before the operation or what it sees after it, never something between
 * (a name cut short, one file under two names); and it still works (a
 * file is made and removed). Found: an inode slot counted before its
 * mutex was made, left as zeros on the free list by a kill in between;
 * renames and exchanges cut short (now finished by the repair). */
#ifdef __SANITIZE_ADDRESS__
#define STEP_STRIDE 64 /* instrumented operations are about three times longer */
#else
#define STEP_STRIDE 16
#endif
Test(arena, killed_at_every_instruction_of_an_operation, .timeout = 600)
{
	static const struct {
		const char *name;
		void (*op)(ms_store *);
	} ops[] = {{"mkdir", op_mkdir},	      {"symlink", op_symlink}, {"create", op_create},
		   {"rename", op_rename},     {"replace", op_replace}, {"exchange", op_exchange},
		   {"exchange-dir", op_exchange_dir}, {"rename-dir", op_rename_dir},
		   {"unlink", op_unlink}, {"link", op_link},
		   {"rmdir", op_rmdir}, {"write", op_write}, {"grow", op_grow},
		   {"shrink", op_shrink}, {"setxattr", op_setxattr}};
	const char *e = getenv("MEMSHIM_STEP_PHASE");
	long phase = e ? atol(e) % STEP_STRIDE : (long)(time(NULL) % STEP_STRIDE);
	cr_log_info("MEMSHIM_STEP_PHASE=%ld", phase);
	struct ms_config c = t_config(1 << 20, 64);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		char before[1024], after[1024], got[1024], msg[512];
		ms_store *s = step_store(&c);
		step_state(s, before, sizeof(before));
		ops[i].op(s);
		step_state(s, after, sizeof(after));
		ms_store_close(s);
		cr_assert_str_neq(before, after, "%s changed nothing", ops[i].name);
		long k;
		for (k = 1 + phase;; k += STEP_STRIDE) {
			s = step_store(&c);
			int killed = killed_at(s, ops[i].op, k);
			int r = ms_check(s, msg, sizeof(msg));
			cr_assert_eq(r, 0, "%s killed after instruction %ld (MEMSHIM_STEP_PHASE=%ld): %s",
				     ops[i].name, k, phase, msg);
			step_state(s, got, sizeof(got));
			cr_assert(!strcmp(got, before) || !strcmp(got, after),
				  "%s killed after instruction %ld (MEMSHIM_STEP_PHASE=%ld):\n"
				  "before: %s\nafter:  %s\ngot:    %s",
				  ops[i].name, k, phase, before, after, got);
			cr_assert_eq(t_write_file(s, "/mem/e/after", 100), 0, "%s, %ld", ops[i].name, k);
			cr_assert_eq(ms_unlink(s, 0, "/mem/e/after"), 0);
			cr_assert_eq(ms_check(s, msg, sizeof(msg)), 0, "%s, %ld: %s", ops[i].name, k, msg);
			ms_store_close(s);
			if (!killed)
				break;
		}
		cr_assert_gt(k, 100, "%s: only %ld instructions?", ops[i].name, k);
		cr_log_info("%s: killed after each of %ld instructions", ops[i].name, k / STEP_STRIDE);
	}
}
#endif

/* The memfd index finds each file by its memfd's kernel inode number (what
 * fstat of an fd a process inherited without a list reports), forgets
 * files as they go, and comes back whole from a repair: 300 files, a third
 * removed, then a namespace holder killed. */
Test(arena, the_memfd_index_finds_every_file_by_its_memfd)
{
	struct ms_config c = t_config(8 << 20, 400);
	ms_store *s = t_local(&c);
	enum { N = 300 };
	uint64_t kino[N];
	ms_ino ino[N];
	char p[32];
	for (int i = 0; i < N; i++) {
		snprintf(p, sizeof(p), "/mem/f%d", i);
		cr_assert_eq(t_write_file(s, p, 10), 0);
		cr_assert_eq(ms_lookup(s, 0, p, 0, &ino[i]), 0);
		cr_assert_eq(ms_ino_kino(s, ino[i], &kino[i]), 0);
	}
	for (int i = 0; i < N; i += 3) {
		snprintf(p, sizeof(p), "/mem/f%d", i);
		cr_assert_eq(ms_unlink(s, 0, p), 0);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++)
			cr_assert_eq(ms_ino_by_kino(s, kino[i]), i % 3 ? ino[i] : 0, "file %d, round %d",
				     i, round);
		t_assert_consistent(s); /* the index holds the files, nothing else */
		die_holding(s, take_ns); /* the next taker repairs, rebuilding it */
	}
	/* the old look-up walked every inode slot: this one walks a chain */
	ms_ns_lock(s);
	uint32_t longest = 0;
	for (uint32_t b = 0; b < s->hdr->nkbuckets; b++) {
		uint32_t len = 0;
		for (uint32_t i = ms_kbuckets(s)[b]; i; i = ms_inode_at(s, i)->knext)
			len++;
		longest = len > longest ? len : longest;
	}
	ms_ns_unlock(s);
	cr_assert_leq(longest, 8, "a chain of %u", longest);
}

/* A file's store path (readlink of /proc/self/fd/N) is found from the name
 * its inode keeps, not by walking every entry, and stays right through
 * links, unlinks, renames and exchanges, which may leave the kept name
 * stale (then the walk answers). */
Test(arena, a_files_path_is_found_from_the_name_it_keeps)
{
	struct ms_config c = t_config(1 << 20, 64);
	ms_store *s = t_local(&c);
	char p[256];
	ms_ino f, x;
	cr_assert_eq(ms_mkdir(s, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/b", 0755), 0);
	cr_assert_eq(t_write_file(s, "/mem/a/f", 1), 0);
	cr_assert_eq(ms_lookup(s, 0, "/mem/a/f", 0, &f), 0);
	uint32_t kept = ms_inode_at(s, f)->dent;
	cr_assert(kept && ms_dent_at(s, kept)->ino == f, "the file keeps its name's entry");
	cr_assert_eq(ms_node_path(s, f, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/mem/a/f");
	cr_assert_eq(ms_link(s, 0, "/mem/a/f", 0, "/mem/b/g", MS_NOFOLLOW), 0);
	cr_assert_eq(ms_unlink(s, 0, "/mem/a/f"), 0);
	cr_assert_eq(ms_node_path(s, f, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/mem/b/g");
	cr_assert_eq(ms_rename(s, 0, "/mem/b/g", 0, "/mem/a/h", 0), 0);
	cr_assert_eq(ms_node_path(s, f, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/mem/a/h");
	cr_assert_eq(t_write_file(s, "/mem/b/x", 2), 0);
	cr_assert_eq(ms_lookup(s, 0, "/mem/b/x", 0, &x), 0);
	cr_assert_eq(ms_rename(s, 0, "/mem/a/h", 0, "/mem/b/x", RENAME_EXCHANGE), 0);
	cr_assert_eq(ms_node_path(s, f, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/mem/b/x");
	cr_assert_eq(ms_node_path(s, x, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/mem/a/h");
	die_holding(s, take_ns); /* the repair keeps a name for each */
	cr_assert_eq(ms_node_path(s, f, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/mem/b/x");
	kept = ms_inode_at(s, x)->dent;
	cr_assert(kept && ms_dent_at(s, kept)->ino == x);
	t_assert_consistent(s);
}
