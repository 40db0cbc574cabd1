/* The shim's fd, write, stat and namespace wrappers, driven through a small
 * program (tests/helpers/shimprobe.c) run under the preload. */
#include "common.h"

/* Runs shimprobe with args under the preload and a 64 KiB quota. */
static const char *probe(const char *env, const char *args)
{
	static char out[8192];
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s/tests/helpers/shimprobe %s", t_build(), args);
	int st = t_sh(env, cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "shimprobe %s: status %d: %s", args, st, out);
	return out;
}

static const char *q64(const char *args) { return probe("MEMSHIM_QUOTA=64K", args); }

#define HAS(out, s) cr_assert_not_null(strstr(out, s), "expected \"%s\" in:\n%s", s, out)

Test(shim_fd, a_write_past_the_quota_fails_whole_and_moves_nothing)
{
	const char *o = q64("write 100000");
	HAS(o, "write=-1 errno=ENOSPC");
	HAS(o, "size=10 off=10");
}

Test(shim_fd, a_write_that_fits_is_stored)
{
	const char *o = q64("write 50000");
	HAS(o, "write=50000 errno=0");
	HAS(o, "size=50010 off=50010");
}

Test(shim_fd, the_quota_errno_can_be_edquot)
{
	const char *o = probe("MEMSHIM_QUOTA=64K MEMSHIM_QUOTA_ERRNO=EDQUOT", "write 100000");
	HAS(o, "write=-1 errno=EDQUOT");
}

Test(shim_fd, a_gap_write_is_charged_its_page_only)
{
	/* tmpfs charges the one page written, not the hole before it */
	const char *o = q64("pwrite 70000");
	HAS(o, "pwrite=1 errno=0");
	HAS(o, "size=70001");
	o = q64("pwrite 2147483648");
	HAS(o, "pwrite=1 errno=0");
	HAS(o, "size=2147483649");
}

Test(shim_fd, writev_is_refused_whole)
{
	const char *o = q64("writev 100000");
	HAS(o, "writev=-1 errno=ENOSPC");
	HAS(o, "size=0");
}

Test(shim_fd, o_append_writes_at_the_end)
{
	HAS(q64("append"), "content=abcabcabcZ");
}

Test(shim_fd, growth_by_fallocate_is_charged_and_by_ftruncate_is_a_hole)
{
	const char *o = q64("ftruncate 999999999999999");
	HAS(o, "ftruncate=0 errno=0");
	HAS(o, "size=999999999999999");
	o = q64("fallocate 40000");
	HAS(o, "fallocate=0 errno=0");
	HAS(o, "posix_fallocate=ENOSPC"); /* an error number, not -1/errno */
	HAS(o, "size=40000");
}

Test(shim_fd, kernel_copies_into_the_store_are_charged)
{
	const char *o = q64("copy 100000");
	/* copy_file_range between filesystems is EXDEV from the kernel; cp
	 * then copies by read/write. Either way nothing is stored. */
	cr_assert(strstr(o, "copy_file_range=-1 errno=ENOSPC") ||
			  strstr(o, "copy_file_range=-1 errno=EXDEV"),
		  "%s", o);
	HAS(o, "sendfile=-1 errno=ENOSPC");
	cr_assert_null(strstr(o, "size=100000"), "%s", o);
	HAS(q64("copy 30000"), "sendfile=30000 errno=0");
}

Test(shim_fd, a_forked_child_shares_the_offset)
{
	HAS(q64("fork"), "content=parent child again");
}

Test(shim_fd, every_duplicate_is_quota_checked)
{
	const char *o = q64("dup 25000");
	HAS(o, "dup=25000 errno=0");
	HAS(o, "fdupfd=25000 errno=0");
	HAS(o, "dup2=-1 errno=ENOSPC");
	HAS(o, "size=50000");
}

Test(shim_fd, closing_every_fd_leaves_the_store_working)
{
	const char *o = q64("closeall");
	HAS(o, "write=2 errno=0");
	HAS(o, "write2=2 errno=0");
	HAS(o, "stat=0 errno=0");
}

Test(shim_fd, shared_mappings_reach_the_file)
{
	HAS(q64("mmap"), "content=mapped");
}

Test(shim_fd, stat_of_path_and_fd_agree_on_store_metadata)
{
	const char *o = q64("stat");
	HAS(o, "same_dev=1 same_ino=1 link_ino=1 nlink=2 size=5000 blocks=16 blksize=4096");
	HAS(o, "same_mtime=1 mode=100644");
	HAS(o, "dev_differs_from_real=1");
	HAS(o, "statx_ino_same=1 statx_size=5000");
}

Test(shim_fd, statvfs_reports_the_quota_and_node_limit)
{
	const char *o = probe("MEMSHIM_QUOTA=64K MEMSHIM_MAX_NODES=100", "statvfs");
	HAS(o, "bytes=65536 files=100");
	HAS(o, "ffree_drop=1");
}

Test(shim_fd, crossing_the_prefix_is_exdev)
{
	const char *o = q64("exdev");
	HAS(o, "rename_out=-1 errno=EXDEV");
	HAS(o, "link_out=-1 errno=EXDEV");
	HAS(o, "rename_in=-1 errno=EXDEV");
}

/* Their errno case by case is test_e2e_diff.c's (tests/helpers/xattrops.c). */
Test(shim_fd, xattrs_are_kept_and_one_over_the_quota_is_refused_whole)
{
	const char *o = q64("xattr");
	HAS(o, "getxattr=-1 errno=ENODATA");
	HAS(o, "setxattr=0 errno=0");
	HAS(o, "listxattr=7 errno=0");
	HAS(o, "missing=-1 errno=ENOENT");
	HAS(o, "setxattr_big=-1 errno=ENOSPC");
	HAS(o, "getxattr_big=-1 errno=ENODATA");
	HAS(o, "listxattr_after=7 errno=0");
	HAS(o, "setxattr_fits=0 errno=0");
	HAS(o, "getxattr_fits=30000 errno=0");
}

Test(shim_fd, mknod_makes_regular_files_and_fifos)
{
	const char *o = q64("mknod");
	HAS(o, "fifo=0 errno=0");
	HAS(o, "reg=0 errno=0");
	HAS(o, "reg_mode=100600");
	HAS(o, "again=-1 errno=EEXIST");
}

Test(shim_fd, access_checks_mode_bits)
{
	const char *o = q64("access");
	HAS(o, "f_ok=0 errno=0");
	HAS(o, "x_ok=-1 errno=EACCES");
	HAS(o, "x_ok_755=0 errno=0");
	HAS(o, "missing=-1 errno=ENOENT");
}

Test(shim_fd, proc_self_fd_names_the_store_file)
{
	const char *o = q64("procfd");
	HAS(o, "chmod=0 errno=0");
	HAS(o, "mode=600");
	HAS(o, "reopen_write=2 errno=0");
	HAS(o, "size=2");
}

Test(shim_fd, paths_outside_the_prefix_are_untouched)
{
	const char *o = q64("untouched");
	HAS(o, "open_missing=-1 errno=ENOENT");
	HAS(o, "stat_real=0 errno=0");
	HAS(o, "memx=-1 errno=ENOENT");
	HAS(o, "mem_prefix_sibling=-1 errno=ENOENT");
}

Test(shim_fd, relative_paths_enter_the_store_lexically)
{
	const char *o = q64("relative");
	cr_assert_null(strstr(o, "open_rel=-1"), "%s", o);
	HAS(o, "stat_abs=0 errno=0");
	HAS(o, "stat_dotdot=0 errno=0");
}

Test(shim_fd, wrong_access_modes_fail_like_the_kernel)
{
	const char *o = q64("rdonly");
	HAS(o, "write_rdonly=-1 errno=EBADF");
	HAS(o, "read_dirfd=-1 errno=EISDIR");
}

/* Internal code never calls a wrapped name: core/ objects bind none of the
 * exported names, and shim/ objects reach them only through REAL(). */
Test(shim_fd, internal_code_never_calls_a_wrapped_name)
{
	char cmd[4096], out[8192];
	snprintf(cmd, sizeof(cmd),
		 "B=%s; nm -D --defined-only $B/libmemshim.so | awk '{print $3}' | sort -u > /tmp/ms-w.$$; "
		 "for o in $B/core/*.o $B/shim/*.o; do "
		 "  case $o in */composite.o|*/syscall.o) continue;; esac; "
		 "  nm --undefined-only $o | awk '{print $2}' | sed 's/@.*//' | sort -u | comm -12 - /tmp/ms-w.$$ "
		 "  | sed \"s|^|$o: |\"; done; rm -f /tmp/ms-w.$$",
		 t_build());
	FILE *p = popen(cmd, "r");
	size_t k = fread(out, 1, sizeof(out) - 1, p);
	out[k] = 0;
	pclose(p);
	cr_assert_str_empty(out, "wrapped names called directly:\n%s", out);
}

Test(shim_fd, pathconf_and_lchmod_answer_for_store_paths)
{
	const char *o = q64("misc");
	HAS(o, "pathconf_name_max=255 errno=0");
	HAS(o, "pathconf_missing=-1 errno=ENOENT");
	HAS(o, "fpathconf=4096 errno=0");
	HAS(o, "lchmod_symlink=-1 errno=EOPNOTSUPP");
	HAS(o, "lchmod_file=0 errno=0");
	HAS(o, "mode=600");
}

Test(shim_fd, a_child_of_fork_without_handlers_holds_its_own_references)
{
	/* The unlinked file stays charged (1 KiB node + 8 KiB) while the
	 * parent still has it open, though the child closed its copy. */
	const char *o = q64("fork-refs");
	HAS(o, "used_blocks=3");
	HAS(o, "write_after=1 errno=0");
}

/* A vfork child shares its parent's memory, not its fd table: a store file
 * it opens (and dup2s) is its own, and the fd numbers it used are the
 * parent's real files afterwards, as the kernel has them. */
Test(shim_fd, a_vfork_childs_store_fds_are_not_its_parents)
{
	/* made by vfork, or by clone with CLONE_VM (which runs no handlers:
	 * the shim asks getpid from then on) */
	static const char *const ops[] = {"vfork-open", "clone-open"};
	for (int i = 0; i < 2; i++) {
		const char *o = q64(ops[i]);
		HAS(o, "real_is_chr=1 real40_is_chr=1");
		HAS(o, "read_real=0 errno=0");
	}
}

/* A file written with no hole settles its size and charge without asking
 * the kernel when shmem has 4 KiB pages only (core/data.c, counted), and
 * what the store says is what the kernel holds; a hole asks. */
Test(shim_fd, writes_without_holes_are_counted_not_asked)
{
	const char *o = q64("counted-writes");
	/* O_TRUNC leaves no page whatever the kernel's pages: never asked;
	 * the write after it is asked only without small pages */
	if (strstr(o, "small_pages=1")) {
		HAS(o, "fstat_in_writes=0 ");
		HAS(o, "fstat_in_trunc_write=0\n");
	} else {
		HAS(o, "fstat_in_writes=51 ");
		HAS(o, "fstat_in_trunc_write=1\n");
	}
	HAS(o, "asked_after_hole=1");
	HAS(o, "agree=1");
	HAS(o, "agree_after_trunc=1");
}

/* Random writes, appends, pwrites past holes, truncates and O_TRUNC
 * opens: after each, the size and charge the store keeps (what stat by
 * name reports) are the kernel's. Counting a write that left a hole as
 * if it had not fails at once (seed 1: its 10th call). */
Test(shim_fd, the_store_size_and_charge_stay_the_kernels_under_random_writes)
{
	for (int seed = 1; seed <= 3; seed++) {
		char args[40];
		snprintf(args, sizeof(args), "size-agree 5000 %d", seed);
		const char *o = probe("MEMSHIM_QUOTA=64M", args);
		HAS(o, "size_agree=1");
	}
}

/* A system call costs as much as a whole tmpfs open on some machines:
 * the store's open, create, write, close and unlink make no getpid (nor
 * geteuid or getegid: a new file's owner comes from the credentials
 * perm.c keeps), and a vforking parent makes one, its first look after
 * the child is gone. */
/* Past half the keeper's fd limit, files are held by holder processes
 * (keeper/holder.c); a process keeps the /proc directory of the holder it
 * re-opens from twice in a row. The limit is set before the store starts:
 * the keeper takes it from the first process. */
Test(shim_fd, reopens_in_a_holder_go_through_its_kept_directory)
{
	const char *o = probe("MEMSHIM_QUOTA=64M prlimit --nofile=128:128 env", "holder-reopen");
	/* the directory was kept while the file was made (a create re-opens
	 * its new memfd, checked then): 50 re-opens, no fstat */
	HAS(o, "fstat_for_50_reopens=0\n");
	HAS(o, "ftruncate_for_o_trunc_in_holder=0\n");
	HAS(o, "contents_right=1\n");
	HAS(o, "visible_fds_same=1\n");
	HAS(o, "after_close_range=1\n");
}

Test(shim_fd, o_trunc_of_a_file_open_for_writing_makes_no_ftruncate)
{
	const char *o = q64("trunc-count");
	HAS(o, "ftruncate_for_writable_o_trunc=0\n");
	HAS(o, "ftruncate_for_read_only_o_trunc=1\n");
	HAS(o, "sizes_right=1\n");
}

Test(shim_fd, the_first_write_of_a_fresh_description_makes_no_lseek)
{
	const char *o = q64("lseek-count");
	HAS(o, "lseeks_for_fresh_writes=0\n");
	HAS(o, "lseeks_after=1\n");
	HAS(o, "contents_right=1\n");
}

Test(shim_fd, store_calls_make_no_getpid)
{
	const char *o = q64("getpid-count");
	HAS(o, "getpid_in_store_calls=0\n");
	HAS(o, "geteuid_getegid_in_store_calls=0\n");
	/* 100 small files made and removed, 2 ms apart, wake the keeper a
	 * few times (core/keeper.h, MS_CLOSEQ_BATCH and its pool), not once
	 * a file */
	HAS(o, "keeper_woken_at_most_12=1");
	HAS(o, "getpid_after_vfork=1\n");
}

/* A path that leaves the store ("/mem/../etc") continues from a page of
 * the thread's own, made at its first escape, not from a PATH_MAX
 * thread-local the loader would zero in every thread of every process:
 * 4 threads escaping at once each reach their own directory (a shared
 * page: about 500 of their 2,000 stats reached another's), and 1,000
 * threads that escaped and ended leave no page each behind, beyond what
 * as many threads that did not escape leave (without the key's
 * destructor: 4,000 kB more). */
Test(shim_fd, each_thread_leaves_the_store_by_its_own_path)
{
	const char *o = probe("MEMSHIM_QUOTA=64M", "escape-threads 1000");
	long wrong = -1, grown = -1, plain = -1;
	const char *p = strstr(o, "wrong=");
	cr_assert(p && sscanf(p, "wrong=%ld anon_grown_kb=%ld plain_grown_kb=%ld", &wrong, &grown,
			      &plain) == 3,
		  "%s", o);
	cr_expect_eq(wrong, 0, "%s", o);
	cr_expect_lt(grown - plain, 1024, "%s", o);
}

/* A file opened and closed again and again is served from a kept open
 * file description (shim/lend.c): lent from its second close on, never
 * after flock, F_SETFL, ioctl, mmap or F_SETOWN, gone before a POSIX lock,
 * and a removed file's pages go whoever removes it and whatever was kept
 * (a 1 MiB quota takes a second 600 KiB file; no fd keeps the first's
 * pages), also when the last holder of the removed file was killed (the
 * keeper passes kept descriptions over); a new file in a removed kept
 * file's inode slot is kept in its turn; 4 threads opening two files
 * 3,000 times each, through dups and streams, always start at offset 0
 * (tests/helpers/lendops.c). */
Test(shim_fd, kept_descriptions_are_lent_only_as_a_fresh_open)
{
	char cmd[1024];
	static char out[8192];
	snprintf(cmd, sizeof(cmd), "mkdir -m 700 /mem/t && %s/tests/helpers/lendops /mem/t store",
		 t_build());
	int st = t_sh("MEMSHIM_QUOTA=1M", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "lendops store: status %d:\n%s", st, out);
	HAS(out, "ok");
}

/* Memfds of removed files serve new files, emptied first (core/data.c: by
 * the keeper, or a small file's by the new file's first open): of 300
 * files made and removed five ways (open O_CREAT, mknod then a read-only
 * open, O_TMPFILE, a read-only open O_CREAT, one then made a sparse 1 MiB),
 * each is empty to the store and to the kernel before its first write, and 150 memfds at
 * most serve them all; the memfd of a removed file a fork child had too
 * never serves a new one; also when a holder process holds them
 * (tests/helpers/reuseops.c). */
Test(shim_fd, memfds_of_removed_files_serve_new_ones_empty)
{
	char cmd[1024];
	static char out[8192];
	snprintf(cmd, sizeof(cmd), "mkdir -m 700 /mem/t && %s/tests/helpers/reuseops /mem/t store",
		 t_build());
	int st = t_sh("MEMSHIM_QUOTA=1M", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "reuseops store: status %d:\n%s", st, out);
	HAS(out, "ok");
	/* The same with the memfds a holder process holds (the keeper's
	 * share, 80 of a 160 fd limit, taken by 200 files that stay): the
	 * holder empties them. (Not pgrep: under ASan's preload alone it
	 * hangs in textdomain, procps 3.3.17.) */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -m 700 /mem/t && %s/tests/helpers/reuseops /mem/t store 200 "
		 "&& cat /proc/[0-9]*/comm 2>/dev/null | grep -qx memshim-holder && echo holder-ran",
		 t_build());
	st = t_sh_after("ulimit -n 160 &&", "MEMSHIM_QUOTA=1M", cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "reuseops store 200 (fd limit 160): status %d:\n%s", st, out);
	HAS(out, "ok");
	HAS(out, "holder-ran");
}
