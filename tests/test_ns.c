/* tests/test_ns.c — unit tests of the namespace (core/ns.c) on a local store:
 * each call and its errno, link counts and inode numbers, readdir, rename,
 * symlinks and loops, escapes out of the store, trailing slashes, name
 * lengths, and what creating and linking costs in the ledger. The errno of
 * the common cases is checked against tmpfs in test_ns_diff.c; here are the
 * store's own properties. */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common.h"

static ms_store *S;

static void setup(void)
{
	struct ms_config c = t_config(0, 0);
	S = t_local(&c);
}

static void teardown(void)
{
	t_assert_consistent(S);
	ms_store_close(S);
}

TestSuite(ns, .init = setup, .fini = teardown);

/* Creates a file (and puts the reference back). */
static int mkf(const char *path)
{
	int fd;
	ms_ino ino;
	int r = ms_open(S, 0, path, O_CREAT | O_WRONLY, 0644, &fd, &ino);
	if (r == 0) {
		close(fd);
		ms_ino_put(S, ino);
	}
	return r;
}

static struct stat st_of(const char *path, int flags)
{
	struct stat st;
	int r = ms_stat(S, 0, path, flags, &st);
	cr_assert_eq(r, 0, "stat %s: %d", path, r);
	return st;
}

static struct ms_stats stats(void)
{
	struct ms_stats st;
	ms_stats_get(S, &st);
	return st;
}

/* ---- the skeleton and escapes --------------------------------------------- */

Test(ns, prefix_is_a_directory_of_the_store)
{
	struct stat st = st_of("/mem", 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_nlink, 2);
	cr_assert_eq(st.st_blksize, 4096);
	cr_assert_eq(st.st_size, 40);
	cr_assert_neq(st.st_ino, 0);
}

Test(ns, ending_on_the_root_escapes)
{
	struct stat st;
	cr_assert_eq(ms_stat(S, 0, "/", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/");
	cr_assert_eq(ms_stat(S, 0, "/mem/..", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/");
}

Test(ns, dotdot_above_the_prefix_escapes_with_the_rest)
{
	struct stat st;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/a/../../etc/passwd", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/etc/passwd");
	cr_assert_eq(ms_stat(S, 0, "/mem/a/../../etc/", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/etc/");
}

Test(ns, coming_back_through_the_skeleton_stays_inside)
{
	struct stat st;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/../mem/a", 0, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
}

Test(ns, absolute_symlink_out_of_the_store_escapes)
{
	struct stat st;
	cr_assert_eq(ms_symlink(S, "/etc/passwd", 0, "/mem/l"), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/l", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/etc/passwd");
	/* not followed: the link itself is the store's */
	cr_assert_eq(ms_stat(S, 0, "/mem/l", MS_NOFOLLOW, &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
}

Test(ns, relative_symlink_out_of_the_store_escapes)
{
	struct stat st;
	cr_assert_eq(ms_symlink(S, "../etc", 0, "/mem/up"), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/up/hosts", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/etc/hosts");
}

Test(ns, creating_above_the_prefix_escapes)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/../newdir", 0755), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/newdir");
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(S, 0, "/mem/../x", O_CREAT | O_WRONLY, 0644, &fd, &ino), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/x");
}

Test(ns, dots_as_last_component_are_answered_without_escaping)
{
	cr_assert_eq(ms_rmdir(S, 0, "/mem/.."), -ENOTEMPTY);
	cr_assert_eq(ms_unlink(S, 0, "/mem/.."), -EISDIR);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/..", 0755), -EEXIST);
}

Test(ns, deep_prefix_has_a_skeleton_above_it)
{
	struct ms_config c = t_config(0, 0);
	strcpy(c.prefix[0], "/tmp/build");
	strcpy(c.prefix[1], "/tmp/other");
	c.nprefix = 2;
	ms_store *s = t_local(&c);
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/tmp/build", 0, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(ms_stat(s, 0, "/tmp/other", 0, &st), 0);
	cr_assert_eq(ms_stat(s, 0, "/tmp", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/tmp");
	cr_assert_eq(ms_stat(s, 0, "/tmp/build/../x/y", 0, &st), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/tmp/x/y");
	cr_assert_eq(ms_stat(s, 0, "/tmp/build/../other", 0, &st), 0);
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(ns, prefix_directory_is_like_a_mount_point)
{
	cr_assert_eq(ms_rmdir(S, 0, "/mem"), -EBUSY);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem", 0, "/mem/../mem2", 0), -MS_EESCAPE);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/../mem", 0), -EBUSY);
	cr_assert_eq(ms_unlink(S, 0, "/mem"), -EISDIR);
	cr_assert_eq(ms_mkdir(S, 0, "/mem", 0755), -EEXIST);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/", 0755), -EEXIST);
}

/* ---- inode numbers and link counts -------------------------------------------- */

Test(ns, st_ino_is_unique_and_stable_across_rename)
{
	cr_assert_eq(mkf("/mem/a"), 0);
	cr_assert_eq(mkf("/mem/b"), 0);
	struct stat a = st_of("/mem/a", 0), b = st_of("/mem/b", 0);
	cr_assert_neq(a.st_ino, b.st_ino);
	cr_assert_eq(a.st_dev, b.st_dev);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/d/a2", 0), 0);
	cr_assert_eq(st_of("/mem/d/a2", 0).st_ino, a.st_ino);
}

Test(ns, st_ino_is_never_reused)
{
	cr_assert_eq(mkf("/mem/a"), 0);
	ino_t first = st_of("/mem/a", 0).st_ino;
	cr_assert_eq(ms_unlink(S, 0, "/mem/a"), 0);
	cr_assert_eq(mkf("/mem/a"), 0);
	cr_assert_neq(st_of("/mem/a", 0).st_ino, first);
}

Test(ns, directory_nlink_counts_subdirectories)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a/b", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a/c", 0755), 0);
	cr_assert_eq(mkf("/mem/a/f"), 0);
	cr_assert_eq(st_of("/mem/a", 0).st_nlink, 4);
	cr_assert_eq(st_of("/mem", 0).st_nlink, 3);
	cr_assert_eq(ms_rmdir(S, 0, "/mem/a/b"), 0);
	cr_assert_eq(st_of("/mem/a", 0).st_nlink, 3);
	cr_assert_eq(ms_rename(S, 0, "/mem/a/c", 0, "/mem/c", 0), 0);
	cr_assert_eq(st_of("/mem/a", 0).st_nlink, 2);
	cr_assert_eq(st_of("/mem", 0).st_nlink, 4);
}

Test(ns, directory_size_is_twenty_bytes_an_entry)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(st_of("/mem/a", 0).st_size, 40);
	cr_assert_eq(mkf("/mem/a/x"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a/y", 0755), 0);
	cr_assert_eq(st_of("/mem/a", 0).st_size, 80);
}

Test(ns, hard_links_count_and_cost_a_node_each)
{
	cr_assert_eq(mkf("/mem/f"), 0);
	uint64_t nodes = stats().used_nodes, bytes = stats().used_bytes;
	cr_assert_eq(ms_link(S, 0, "/mem/f", 0, "/mem/g", MS_NOFOLLOW), 0);
	cr_assert_eq(st_of("/mem/f", 0).st_nlink, 2);
	cr_assert_eq(st_of("/mem/g", 0).st_ino, st_of("/mem/f", 0).st_ino);
	cr_assert_eq(stats().used_nodes, nodes + 1);
	cr_assert_eq(stats().used_bytes, bytes + MS_NODE_COST);
	cr_assert_eq(ms_unlink(S, 0, "/mem/f"), 0);
	cr_assert_eq(st_of("/mem/g", 0).st_nlink, 1);
	cr_assert_eq(stats().used_nodes, nodes);
	cr_assert_eq(stats().used_bytes, bytes);
}

Test(ns, link_errors)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_link(S, 0, "/mem/d", 0, "/mem/d2", MS_NOFOLLOW), -EPERM);
	cr_assert_eq(ms_link(S, 0, "/mem/f", 0, "/mem/d", MS_NOFOLLOW), -EEXIST);
	cr_assert_eq(ms_link(S, 0, "/mem/nope", 0, "/mem/x", MS_NOFOLLOW), -ENOENT);
	cr_assert_eq(ms_link(S, 0, "/mem/f", 0, "/mem/x/", MS_NOFOLLOW), -ENOENT);
	cr_assert_eq(ms_link(S, 0, "/mem/f", 0, "/mem/nope/x", MS_NOFOLLOW), -ENOENT);
}

Test(ns, link_follows_a_symlink_only_when_asked)
{
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/l"), 0);
	cr_assert_eq(ms_link(S, 0, "/mem/l", 0, "/mem/hf", 0), 0);
	cr_assert(S_ISREG(st_of("/mem/hf", MS_NOFOLLOW).st_mode));
	cr_assert_eq(st_of("/mem/f", 0).st_nlink, 2);
}

/* A hard link to a symlink (linkat without AT_SYMLINK_FOLLOW) is allowed by
 * the kernel and costs a node like any other link. */
Test(ns, hard_link_to_a_symlink)
{
	cr_assert_eq(ms_symlink(S, "target", 0, "/mem/l"), 0);
	uint64_t nodes = stats().used_nodes;
	cr_assert_eq(ms_link(S, 0, "/mem/l", 0, "/mem/l2", MS_NOFOLLOW), 0);
	struct stat st = st_of("/mem/l2", MS_NOFOLLOW);
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert_eq(st.st_nlink, 2);
	cr_assert_eq(stats().used_nodes, nodes + 1);
	cr_assert_eq(ms_unlink(S, 0, "/mem/l"), 0);
	cr_assert_eq(stats().used_nodes, nodes);
	char buf[16];
	cr_assert_eq(ms_readlink(S, 0, "/mem/l2", buf, sizeof(buf)), 6);
}

/* The ledger's own recount (ms_check, and the repair after a process died
 * holding the lock) must count the extra link of a symlink as it was
 * charged. */
Test(ns, ledger_recount_agrees_with_a_linked_symlink)
{
	cr_assert_eq(ms_symlink(S, "target", 0, "/mem/l"), 0);
	cr_assert_eq(ms_link(S, 0, "/mem/l", 0, "/mem/l2", MS_NOFOLLOW), 0);
	t_assert_consistent(S);
}

/* ---- the ledger on create ------------------------------------------------------------ */

Test(ns, node_limit_refuses_create_with_enospc)
{
	struct ms_config c = t_config(0, 3);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/b", 0755), 0);
	cr_assert_eq(ms_symlink(s, "x", 0, "/mem/c"), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0755), -ENOSPC);
	cr_assert_eq(ms_symlink(s, "x", 0, "/mem/d"), -ENOSPC);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/d", O_CREAT | O_WRONLY, 0644, &fd, &ino), -ENOSPC);
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/d", 0, &st), -ENOENT);
	/* an existing name still fails with EEXIST, not ENOSPC */
	cr_assert_eq(ms_mkdir(s, 0, "/mem/a", 0755), -EEXIST);
	cr_assert_eq(ms_rmdir(s, 0, "/mem/a"), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0755), 0);
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(ns, node_limit_refuses_link_with_enospc)
{
	struct ms_config c = t_config(0, 2);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_CREAT | O_WRONLY, 0644, &fd, &ino), 0);
	close(fd);
	ms_ino_put(s, ino);
	cr_assert_eq(ms_link(s, 0, "/mem/f", 0, "/mem/g", MS_NOFOLLOW), 0);
	cr_assert_eq(ms_link(s, 0, "/mem/f", 0, "/mem/h", MS_NOFOLLOW), -ENOSPC);
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/h", 0, &st), -ENOENT);
	cr_assert_eq(ms_stat(s, 0, "/mem/f", 0, &st), 0);
	cr_assert_eq(st.st_nlink, 2);
	t_assert_consistent(s);
	cr_assert_eq(ms_unlink(s, 0, "/mem/g"), 0);
	cr_assert_eq(ms_link(s, 0, "/mem/f", 0, "/mem/h", MS_NOFOLLOW), 0);
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(ns, symlink_target_is_charged_in_blocks)
{
	char target[600];
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	uint64_t bytes = stats().used_bytes;
	cr_assert_eq(ms_symlink(S, "x", 0, "/mem/short"), 0);
	cr_assert_eq(stats().used_bytes, bytes + MS_NODE_COST + MS_BLOCK);
	/* 599 bytes need three blocks of MS_BLOCK - 4 */
	cr_assert_eq(ms_symlink(S, target, 0, "/mem/long"), 0);
	cr_assert_eq(stats().used_bytes, bytes + 2 * MS_NODE_COST + 4 * MS_BLOCK);
	char buf[700];
	cr_assert_eq(ms_readlink(S, 0, "/mem/long", buf, sizeof(buf)), 599);
	cr_assert_eq(memcmp(buf, target, 599), 0);
	cr_assert_eq(st_of("/mem/long", MS_NOFOLLOW).st_size, 599);
	cr_assert_eq(ms_unlink(S, 0, "/mem/long"), 0);
	cr_assert_eq(ms_unlink(S, 0, "/mem/short"), 0);
	cr_assert_eq(stats().used_bytes, bytes);
}

Test(ns, symlink_over_quota_fails_whole)
{
	struct ms_config c = t_config(MS_NODE_COST + MS_BLOCK, 0);
	c.quota_errno = EDQUOT;
	ms_store *s = t_local(&c);
	char target[300];
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	cr_assert_eq(ms_symlink(s, target, 0, "/mem/l"), -EDQUOT);
	struct ms_stats st;
	ms_stats_get(s, &st);
	cr_assert_eq(st.used_bytes, 0);
	cr_assert_eq(st.used_nodes, 0);
	cr_assert_eq(ms_symlink(s, "short", 0, "/mem/l"), 0);
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(ns, symlink_target_limits)
{
	static char big[PATH_MAX + 1];
	memset(big, 'a', PATH_MAX);
	cr_assert_eq(ms_symlink(S, "", 0, "/mem/l"), -ENOENT);
	cr_assert_eq(ms_symlink(S, big, 0, "/mem/l"), -ENAMETOOLONG);
	big[PATH_MAX - 1] = 0;
	cr_assert_eq(ms_symlink(S, big, 0, "/mem/l"), 0);
	cr_assert_eq(st_of("/mem/l", MS_NOFOLLOW).st_size, PATH_MAX - 1);
}

/* ---- open ------------------------------------------------------------------------- */

Test(ns, open_creates_a_file_with_a_real_fd)
{
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_CREAT | O_RDWR, 0640, &fd, &ino), 0);
	cr_assert_geq(fd, 0);
	struct stat st = st_of("/mem/f", 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(st.st_uid, geteuid());
	cr_assert_eq(st.st_gid, getegid());
	struct stat by_ino;
	cr_assert_eq(ms_stat_ino(S, ino, &by_ino), 0);
	cr_assert_eq(by_ino.st_ino, st.st_ino);
	close(fd);
	ms_ino_put(S, ino);
}

Test(ns, open_a_directory_gives_no_fd)
{
	int fd = 7;
	ms_ino ino;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_open(S, 0, "/mem/d", O_RDONLY | O_DIRECTORY, 0, &fd, &ino), 0);
	cr_assert_eq(fd, -1);
	ms_ino_put(S, ino);
	cr_assert_eq(ms_open(S, 0, "/mem/d", O_WRONLY, 0, &fd, &ino), -EISDIR);
}

Test(ns, open_flag_errors)
{
	int fd;
	ms_ino ino;
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_CREAT | O_EXCL | O_RDWR, 0644, &fd, &ino), -EEXIST);
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_RDONLY | O_DIRECTORY, 0, &fd, &ino), -ENOTDIR);
	cr_assert_eq(ms_open(S, 0, "/mem/f/", O_RDONLY, 0, &fd, &ino), -ENOTDIR);
	cr_assert_eq(ms_open(S, 0, "/mem/new/", O_CREAT | O_RDWR, 0644, &fd, &ino), -EISDIR);
	cr_assert_eq(ms_open(S, 0, "/mem/new", O_CREAT | O_DIRECTORY, 0644, &fd, &ino), -EINVAL);
	cr_assert_eq(ms_open(S, 0, "/mem/none", O_RDONLY, 0, &fd, &ino), -ENOENT);
	cr_assert_eq(ms_open(S, 0, "", O_RDONLY, 0, &fd, &ino), -ENOENT);
}

Test(ns, open_nofollow_on_a_symlink_is_eloop)
{
	int fd;
	ms_ino ino;
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/l"), 0);
	cr_assert_eq(ms_open(S, 0, "/mem/l", O_RDONLY | O_NOFOLLOW, 0, &fd, &ino), -ELOOP);
	cr_assert_eq(ms_open(S, 0, "/mem/l", O_RDONLY, 0, &fd, &ino), 0);
	close(fd);
	ms_ino_put(S, ino);
}

Test(ns, open_creat_on_a_dangling_symlink_creates_its_target)
{
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_symlink(S, "d/target", 0, "/mem/l"), 0);
	cr_assert_eq(ms_open(S, 0, "/mem/l", O_CREAT | O_EXCL | O_WRONLY, 0644, &fd, &ino), -EEXIST);
	cr_assert_eq(ms_open(S, 0, "/mem/l", O_CREAT | O_WRONLY, 0644, &fd, &ino), 0);
	close(fd);
	ms_ino_put(S, ino);
	cr_assert(S_ISREG(st_of("/mem/d/target", MS_NOFOLLOW).st_mode));
}

Test(ns, open_trunc_gives_bytes_back)
{
	cr_assert_eq(t_write_file(S, "/mem/f", 3 * MS_PAGE), 0);
	uint64_t bytes = stats().used_bytes;
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_WRONLY | O_TRUNC, 0, &fd, &ino), 0);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 0);
	cr_assert_eq(st_of("/mem/f", 0).st_size, 0);
	cr_assert_eq(st_of("/mem/f", 0).st_blocks, 0);
	cr_assert_eq(stats().used_bytes, bytes - 3 * MS_PAGE);
	close(fd);
	ms_ino_put(S, ino);
}

Test(ns, st_blocks_follow_the_charge)
{
	cr_assert_eq(t_write_file(S, "/mem/f", 5000), 0);
	struct stat st = st_of("/mem/f", 0);
	cr_assert_eq(st.st_size, 5000);
	cr_assert_eq(st.st_blocks, 2 * MS_PAGE / 512);
}

Test(ns, unlinked_open_file_lives_until_the_last_put)
{
	int fd;
	ms_ino ino;
	uint64_t nodes = stats().used_nodes;
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_CREAT | O_RDWR, 0644, &fd, &ino), 0);
	cr_assert_eq(ms_unlink(S, 0, "/mem/f"), 0);
	struct stat st;
	cr_assert_eq(ms_stat(S, 0, "/mem/f", 0, &st), -ENOENT);
	cr_assert_eq(ms_stat_ino(S, ino, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(stats().used_nodes, nodes + 1);
	t_assert_consistent(S);
	close(fd);
	ms_ino_put(S, ino);
	cr_assert_eq(stats().used_nodes, nodes);
}

Test(ns, o_tmpfile_makes_an_unnamed_file)
{
	int fd;
	ms_ino ino;
	uint64_t nodes = stats().used_nodes;
	cr_assert_eq(ms_open(S, 0, "/mem", O_TMPFILE | O_RDWR, 0600, &fd, &ino), 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(st_of("/mem", 0).st_size, 40);
	struct stat st;
	cr_assert_eq(ms_stat_ino(S, ino, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(stats().used_nodes, nodes + 1);
	close(fd);
	ms_ino_put(S, ino);
	cr_assert_eq(stats().used_nodes, nodes);
	cr_assert_eq(ms_open(S, 0, "/mem", O_TMPFILE | O_RDONLY, 0600, &fd, &ino), -EINVAL);
}

/* ---- trailing slashes, dots, lengths, loops ---------------------------------------------- */

Test(ns, trailing_slashes)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d/", 0755), 0);
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_symlink(S, "d", 0, "/mem/ld"), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/lf"), 0);
	struct stat st;
	cr_assert_eq(ms_stat(S, 0, "/mem/f/", 0, &st), -ENOTDIR);
	/* a trailing slash follows a symlink even with MS_NOFOLLOW */
	cr_assert_eq(ms_stat(S, 0, "/mem/ld/", MS_NOFOLLOW, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(ms_stat(S, 0, "/mem/lf/", MS_NOFOLLOW, &st), -ENOTDIR);
	cr_assert_eq(ms_unlink(S, 0, "/mem/d/"), -EISDIR);
	cr_assert_eq(ms_unlink(S, 0, "/mem/f/"), -ENOTDIR);
	cr_assert_eq(ms_unlink(S, 0, "/mem/ld/"), -ENOTDIR);
	cr_assert_eq(ms_rmdir(S, 0, "/mem/ld/"), -ENOTDIR);
	cr_assert_eq(ms_symlink(S, "x", 0, "/mem/new/"), -ENOENT);
	cr_assert_eq(ms_rmdir(S, 0, "/mem/d//"), 0);
}

Test(ns, dots_and_double_slashes)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem//a/./b", 0755), 0);
	struct stat a = st_of("/mem/a", 0);
	cr_assert_eq(st_of("/mem/a/b/..", 0).st_ino, a.st_ino);
	cr_assert_eq(st_of("///mem/./a/b/../.", 0).st_ino, a.st_ino);
	cr_assert_eq(ms_rmdir(S, 0, "/mem/a/."), -EINVAL);
	cr_assert_eq(ms_rmdir(S, 0, "/mem/a/b/.."), -ENOTEMPTY);
	cr_assert_eq(ms_unlink(S, 0, "/mem/a/."), -EISDIR);
	cr_assert_eq(ms_rename(S, 0, "/mem/a/.", 0, "/mem/x", 0), -EBUSY);
}

Test(ns, name_and_path_lengths)
{
	char name[300], path[PATH_MAX + 16];
	struct stat st;
	memset(name, 'n', 255);
	name[255] = 0;
	snprintf(path, sizeof(path), "/mem/%s", name);
	cr_assert_eq(ms_mkdir(S, 0, path, 0755), 0);
	strcat(path, "n");
	cr_assert_eq(ms_mkdir(S, 0, path, 0755), -ENAMETOOLONG);
	cr_assert_eq(ms_stat(S, 0, path, 0, &st), -ENAMETOOLONG);
	/* 4095 bytes is a path; 4096 is too long */
	memset(path, '/', PATH_MAX);
	memcpy(path + PATH_MAX - 5, "/mem", 4);
	path[PATH_MAX - 1] = 0;
	cr_assert_eq(strlen(path), PATH_MAX - 1);
	cr_assert_eq(ms_stat(S, 0, path, 0, &st), 0);
	memset(path, '/', PATH_MAX);
	memcpy(path + PATH_MAX - 4, "/mem", 4);
	path[PATH_MAX] = 0;
	cr_assert_eq(ms_stat(S, 0, path, 0, &st), -ENAMETOOLONG);
}

Test(ns, symlink_loops_give_eloop)
{
	struct stat st;
	cr_assert_eq(ms_symlink(S, "b", 0, "/mem/a"), 0);
	cr_assert_eq(ms_symlink(S, "a", 0, "/mem/b"), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/a", 0, &st), -ELOOP);
	cr_assert_eq(ms_stat(S, 0, "/mem/a/x", 0, &st), -ELOOP);
	cr_assert_eq(ms_stat(S, 0, "/mem/a", MS_NOFOLLOW, &st), 0);
	cr_assert_eq(ms_symlink(S, "self", 0, "/mem/self"), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/self/", MS_NOFOLLOW, &st), -ELOOP);
}

Test(ns, forty_symlinks_are_followed_not_forty_one)
{
	char name[32], target[32];
	struct stat st;
	cr_assert_eq(mkf("/mem/l0"), 0);
	for (int i = 1; i <= 41; i++) {
		snprintf(name, sizeof(name), "/mem/l%d", i);
		snprintf(target, sizeof(target), "l%d", i - 1);
		cr_assert_eq(ms_symlink(S, target, 0, name), 0);
	}
	cr_assert_eq(ms_stat(S, 0, "/mem/l40", 0, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(ms_stat(S, 0, "/mem/l41", 0, &st), -ELOOP);
}

/* ---- relative paths, lookups, paths of directories ---------------------------------------- */

Test(ns, paths_relative_to_a_directory_inode)
{
	ms_ino d;
	struct stat st;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);
	cr_assert_eq(ms_mkdir(S, d, "sub", 0755), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/d/sub", 0, &st), 0);
	cr_assert_eq(ms_stat(S, d, "..", 0, &st), 0);
	cr_assert_eq(st.st_ino, st_of("/mem", 0).st_ino);
	cr_assert_eq(ms_stat(S, d, "", MS_EMPTY, &st), 0);
	cr_assert_eq(st.st_ino, st_of("/mem/d", 0).st_ino);
	cr_assert_eq(ms_stat(S, d, "", 0, &st), -ENOENT);
	ms_ino_put(S, d);
}

Test(ns, lookup_dir_follows_and_refuses_files)
{
	ms_ino d;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_symlink(S, "d", 0, "/mem/ld"), 0);
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/ld", &d), 0);
	ms_ino_put(S, d);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/f", &d), -ENOTDIR);
	ms_ino any;
	cr_assert_eq(ms_lookup(S, 0, "/mem/ld", MS_NOFOLLOW, &any), 0);
	cr_assert_neq(any, 0);
}

Test(ns, dir_path_rebuilds_the_real_path)
{
	ms_ino d;
	char buf[64];
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a/bb", 0755), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/a/bb", &d), 0);
	cr_assert_eq(ms_dir_path(S, d, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/mem/a/bb");
	cr_assert_eq(ms_dir_path(S, d, buf, 10), 0);
	cr_assert_eq(ms_dir_path(S, d, buf, 9), -ERANGE);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/c", 0), 0);
	cr_assert_eq(ms_dir_path(S, d, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/mem/c/bb");
	cr_assert_eq(ms_rmdir(S, 0, "/mem/c/bb"), 0);
	cr_assert_eq(ms_dir_path(S, d, buf, sizeof(buf)), -ENOENT);
	ms_ino_put(S, d);
}

Test(ns, removed_directory_refuses_new_entries)
{
	ms_ino d;
	int fd;
	ms_ino ino;
	struct stat st;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);
	cr_assert_eq(ms_rmdir(S, 0, "/mem/d"), 0);
	cr_assert_eq(ms_open(S, d, "x", O_CREAT | O_RDWR, 0644, &fd, &ino), -ENOENT);
	cr_assert_eq(ms_mkdir(S, d, "y", 0755), -ENOENT);
	cr_assert_eq(ms_stat(S, d, ".", 0, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	struct ms_dirent e;
	cr_assert_eq(ms_readdir(S, d, 0, &e), -ENOENT);
	ms_ino_put(S, d);
}

/* ---- readdir --------------------------------------------------------------------------- */

/* Reads a whole directory into names (joined by ' '), checking cookies. */
static int read_all(ms_ino d, char *names, size_t n)
{
	struct ms_dirent e;
	uint64_t cookie = 0;
	int count = 0, r;
	names[0] = 0;
	while ((r = ms_readdir(S, d, cookie, &e)) == 1) {
		cr_assert_gt(e.cookie, cookie, "cookies increase");
		cookie = e.cookie;
		if (names[0])
			strncat(names, " ", n - strlen(names) - 1);
		strncat(names, e.name, n - strlen(names) - 1);
		count++;
	}
	cr_assert_eq(r, 0);
	return count;
}

Test(ns, readdir_gives_dots_then_insertion_order)
{
	ms_ino d;
	char names[256];
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(mkf("/mem/d/zz"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d/aa", 0755), 0);
	cr_assert_eq(ms_symlink(S, "zz", 0, "/mem/d/mm"), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);
	cr_assert_eq(read_all(d, names, sizeof(names)), 5);
	cr_assert_str_eq(names, ". .. zz aa mm");
	ms_ino_put(S, d);
}

Test(ns, readdir_cookies_types_and_inode_numbers)
{
	ms_ino d;
	struct ms_dirent e;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(mkf("/mem/d/f"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d/s", 0755), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/d/l"), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);

	cr_assert_eq(ms_readdir(S, d, 0, &e), 1);
	cr_assert_str_eq(e.name, ".");
	cr_assert_eq(e.cookie, 1);
	cr_assert_eq(e.type, DT_DIR);
	cr_assert_eq(e.ino, st_of("/mem/d", 0).st_ino);
	cr_assert_eq(ms_readdir(S, d, 1, &e), 1);
	cr_assert_str_eq(e.name, "..");
	cr_assert_eq(e.cookie, 2);
	cr_assert_eq(e.ino, st_of("/mem", 0).st_ino);

	const char *want[] = { "f", "s", "l" };
	unsigned char types[] = { DT_REG, DT_DIR, DT_LNK };
	uint64_t cookie = 2;
	for (int i = 0; i < 3; i++) {
		char path[64];
		cr_assert_eq(ms_readdir(S, d, cookie, &e), 1);
		cr_assert_str_eq(e.name, want[i]);
		cr_assert_eq(e.type, types[i]);
		snprintf(path, sizeof(path), "/mem/d/%s", want[i]);
		cr_assert_eq(e.ino, st_of(path, MS_NOFOLLOW).st_ino);
		cookie = e.cookie;
	}
	cr_assert_eq(ms_readdir(S, d, cookie, &e), 0);
	ms_ino_put(S, d);
}

/* An entry keeps its inode's type (arena.h, ms_dent.type): every kind of
 * node, a hard link, and an exchange, which swaps what two entries name
 * (and their types) while they stay in place. ms_check compares each
 * entry's type with its inode's. */
Test(ns, readdir_types_follow_links_and_exchanges)
{
	ms_ino d;
	struct ms_dirent e;
	char msg[256];
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(mkf("/mem/d/f"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d/s", 0755), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/d/l"), 0);
	cr_assert_eq(ms_mknod(S, 0, "/mem/d/p", S_IFIFO | 0644, 0, -1), 0);
	cr_assert_eq(ms_mknod(S, 0, "/mem/d/c", S_IFCHR | 0644, makedev(1, 3), -1), 0);
	cr_assert_eq(ms_mknod(S, 0, "/mem/d/b", S_IFBLK | 0644, makedev(7, 0), -1), 0);
	cr_assert_eq(ms_link(S, 0, "/mem/d/l", 0, "/mem/d/h", MS_NOFOLLOW), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/d/f", 0, "/mem/d/s", RENAME_EXCHANGE), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/d/p", 0, "/mem/d/l", RENAME_EXCHANGE), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);
	const char *want[] = {"f", "s", "l", "p", "c", "b", "h"};
	unsigned char types[] = {DT_DIR, DT_REG, DT_FIFO, DT_LNK, DT_CHR, DT_BLK, DT_LNK};
	uint64_t cookie = 2;
	for (int i = 0; i < 7; i++) {
		char path[64];
		cr_assert_eq(ms_readdir(S, d, cookie, &e), 1);
		cr_assert_str_eq(e.name, want[i]);
		cr_assert_eq(e.namelen, strlen(want[i]));
		cr_assert_eq(e.type, types[i], "%s: type %u, not %u", e.name, e.type, types[i]);
		snprintf(path, sizeof(path), "/mem/d/%s", want[i]);
		cr_assert_eq(e.ino, st_of(path, MS_NOFOLLOW).st_ino);
		cookie = e.cookie;
	}
	cr_assert_eq(ms_readdir(S, d, cookie, &e), 0);
	cr_assert_eq(ms_check(S, msg, sizeof(msg)), 0, "%s", msg);
	ms_ino_put(S, d);
}

Test(ns, readdir_resumes_from_any_cookie)
{
	ms_ino d;
	struct ms_dirent e, third;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(mkf("/mem/d/a"), 0);
	cr_assert_eq(mkf("/mem/d/b"), 0);
	cr_assert_eq(mkf("/mem/d/c"), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);
	cr_assert_eq(ms_readdir(S, d, 2, &e), 1); /* a */
	cr_assert_eq(ms_readdir(S, d, e.cookie, &e), 1); /* b */
	uint64_t after_b = e.cookie;
	cr_assert_eq(ms_readdir(S, d, after_b, &third), 1);
	cr_assert_str_eq(third.name, "c");
	/* seek back (not the last answer): found by walking */
	cr_assert_eq(ms_readdir(S, d, 2, &e), 1);
	cr_assert_str_eq(e.name, "a");
	cr_assert_eq(ms_readdir(S, d, after_b, &e), 1);
	cr_assert_str_eq(e.name, "c");
	ms_ino_put(S, d);
}

Test(ns, readdir_skips_nothing_when_the_current_entry_goes)
{
	ms_ino d;
	struct ms_dirent e;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(mkf("/mem/d/a"), 0);
	cr_assert_eq(mkf("/mem/d/b"), 0);
	cr_assert_eq(mkf("/mem/d/c"), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);
	cr_assert_eq(ms_readdir(S, d, 2, &e), 1);
	cr_assert_str_eq(e.name, "a");
	cr_assert_eq(ms_unlink(S, 0, "/mem/d/a"), 0);
	cr_assert_eq(ms_readdir(S, d, e.cookie, &e), 1);
	cr_assert_str_eq(e.name, "b");
	cr_assert_eq(ms_unlink(S, 0, "/mem/d/c"), 0);
	cr_assert_eq(mkf("/mem/d/new"), 0);
	cr_assert_eq(ms_readdir(S, d, e.cookie, &e), 1);
	cr_assert_str_eq(e.name, "new");
	ms_ino_put(S, d);
}

Test(ns, readdir_entry_renamed_back_comes_last)
{
	ms_ino d;
	char names[256];
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(mkf("/mem/d/a"), 0);
	cr_assert_eq(mkf("/mem/d/b"), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/d/a", 0, "/mem/a", 0), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/d/a", 0), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d", &d), 0);
	read_all(d, names, sizeof(names));
	cr_assert_str_eq(names, ". .. b a");
	ms_ino_put(S, d);
}

Test(ns, readdir_two_directories_in_turns)
{
	ms_ino d1, d2;
	struct ms_dirent e1, e2;
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d1", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d2", 0755), 0);
	for (int i = 0; i < 4; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/mem/d1/x%d", i);
		cr_assert_eq(mkf(p), 0);
		snprintf(p, sizeof(p), "/mem/d2/y%d", i);
		cr_assert_eq(mkf(p), 0);
	}
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d1", &d1), 0);
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/d2", &d2), 0);
	uint64_t c1 = 2, c2 = 2;
	for (int i = 0; i < 4; i++) {
		char w[16];
		cr_assert_eq(ms_readdir(S, d1, c1, &e1), 1);
		cr_assert_eq(ms_readdir(S, d2, c2, &e2), 1);
		snprintf(w, sizeof(w), "x%d", i);
		cr_assert_str_eq(e1.name, w);
		snprintf(w, sizeof(w), "y%d", i);
		cr_assert_str_eq(e2.name, w);
		c1 = e1.cookie;
		c2 = e2.cookie;
	}
	cr_assert_eq(ms_readdir(S, d1, c1, &e1), 0);
	cr_assert_eq(ms_readdir(S, d2, c2, &e2), 0);
	ms_ino_put(S, d1);
	ms_ino_put(S, d2);
}

Test(ns, readdir_of_a_file_is_enotdir)
{
	ms_ino f;
	struct ms_dirent e;
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_lookup(S, 0, "/mem/f", 0, &f), 0);
	cr_assert_eq(ms_readdir(S, f, 0, &e), -ENOTDIR);
}

/* ---- rename ----------------------------------------------------------------------------- */

Test(ns, rename_replaces_atomically)
{
	cr_assert_eq(mkf("/mem/a"), 0);
	cr_assert_eq(mkf("/mem/b"), 0);
	ino_t a = st_of("/mem/a", 0).st_ino;
	uint64_t nodes = stats().used_nodes;
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/b", 0), 0);
	cr_assert_eq(st_of("/mem/b", 0).st_ino, a);
	struct stat st;
	cr_assert_eq(ms_stat(S, 0, "/mem/a", 0, &st), -ENOENT);
	cr_assert_eq(stats().used_nodes, nodes - 1);
}

Test(ns, rename_over_an_open_file_keeps_it_until_closed)
{
	int fd;
	ms_ino ino;
	cr_assert_eq(mkf("/mem/a"), 0);
	cr_assert_eq(ms_open(S, 0, "/mem/b", O_CREAT | O_RDWR, 0644, &fd, &ino), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/b", 0), 0);
	struct stat st;
	cr_assert_eq(ms_stat_ino(S, ino, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	t_assert_consistent(S);
	close(fd);
	ms_ino_put(S, ino);
}

Test(ns, rename_directory_rules)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/a/b", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/e", 0755), 0);
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/a/b/c", 0), -EINVAL);
	cr_assert_eq(ms_rename(S, 0, "/mem/a/b", 0, "/mem/a", 0), -ENOTEMPTY);
	cr_assert_eq(ms_rename(S, 0, "/mem/e", 0, "/mem/a", 0), -ENOTEMPTY);
	cr_assert_eq(ms_rename(S, 0, "/mem/e", 0, "/mem/f", 0), -ENOTDIR);
	cr_assert_eq(ms_rename(S, 0, "/mem/f", 0, "/mem/e", 0), -EISDIR);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/e", 0), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/e/b", 0, &(struct stat){ 0 }), 0);
	cr_assert_eq(st_of("/mem/e/b/..", 0).st_ino, st_of("/mem/e", 0).st_ino);
}

Test(ns, rename_of_hard_links_to_each_other_is_a_no_op)
{
	cr_assert_eq(mkf("/mem/a"), 0);
	cr_assert_eq(ms_link(S, 0, "/mem/a", 0, "/mem/b", MS_NOFOLLOW), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/b", 0), 0);
	cr_assert_eq(st_of("/mem/a", 0).st_nlink, 2);
	cr_assert_eq(st_of("/mem/b", 0).st_nlink, 2);
}

Test(ns, rename_noreplace)
{
	cr_assert_eq(mkf("/mem/a"), 0);
	cr_assert_eq(mkf("/mem/b"), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/b", RENAME_NOREPLACE), -EEXIST);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/c", RENAME_NOREPLACE), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/c", 0, "/mem/d", RENAME_NOREPLACE | RENAME_EXCHANGE),
		     -EINVAL);
}

Test(ns, rename_exchange_swaps_a_directory_and_a_file)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/p", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/p/dir", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/p/dir/sub", 0755), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/q", 0755), 0);
	cr_assert_eq(mkf("/mem/q/file"), 0);
	ino_t dir = st_of("/mem/p/dir", 0).st_ino, file = st_of("/mem/q/file", 0).st_ino;
	cr_assert_eq(ms_rename(S, 0, "/mem/p/dir", 0, "/mem/q/file", RENAME_EXCHANGE), 0);
	cr_assert_eq(st_of("/mem/q/file", 0).st_ino, dir);
	cr_assert_eq(st_of("/mem/p/dir", 0).st_ino, file);
	cr_assert_eq(st_of("/mem/p", 0).st_nlink, 2);
	cr_assert_eq(st_of("/mem/q", 0).st_nlink, 3);
	/* the moved directory's ".." is its new parent */
	cr_assert_eq(st_of("/mem/q/file/sub/../..", 0).st_ino, st_of("/mem/q", 0).st_ino);
	cr_assert_eq(ms_rename(S, 0, "/mem/p/dir", 0, "/mem/q/none", RENAME_EXCHANGE), -ENOENT);
	char buf[64];
	ms_ino d;
	cr_assert_eq(ms_lookup_dir(S, 0, "/mem/q/file/sub", &d), 0);
	cr_assert_eq(ms_dir_path(S, d, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/mem/q/file/sub");
	ms_ino_put(S, d);
}

Test(ns, rename_flags_are_checked)
{
	cr_assert_eq(mkf("/mem/a"), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/a", 0, "/mem/b", 1u << 7), -EINVAL);
}

/* ---- attributes ---------------------------------------------------------------------------- */

Test(ns, chmod_keeps_the_type_and_refuses_symlinks_nofollow)
{
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/l"), 0);
	cr_assert_eq(ms_chmod(S, 0, "/mem/f", 0, 04751), 0);
	struct stat st = st_of("/mem/f", 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 04751);
	cr_assert_eq(ms_chmod(S, 0, "/mem/l", MS_NOFOLLOW, 0600), -EOPNOTSUPP);
	cr_assert_eq(ms_chmod(S, 0, "/mem/l", 0, 0600), 0);
	cr_assert_eq(st_of("/mem/f", 0).st_mode & 07777, 0600);
}

Test(ns, chown_sets_ids_and_clears_setuid)
{
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_chmod(S, 0, "/mem/f", 0, 06755), 0);
	cr_assert_eq(ms_chown(S, 0, "/mem/f", 0, 1234, (gid_t)-1), 0);
	struct stat st = st_of("/mem/f", 0);
	cr_assert_eq(st.st_uid, 1234);
	cr_assert_eq(st.st_gid, getegid());
	cr_assert_eq(st.st_mode & 07777, 0755);
	cr_assert_eq(ms_chown(S, 0, "/mem/f", 0, (uid_t)-1, 99), 0);
	cr_assert_eq(st_of("/mem/f", 0).st_uid, 1234);
	cr_assert_eq(st_of("/mem/f", 0).st_gid, 99);
}

Test(ns, setgid_directory_passes_its_group_on)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/g", 0755), 0);
	cr_assert_eq(ms_chown(S, 0, "/mem/g", 0, (uid_t)-1, 4321), 0);
	cr_assert_eq(ms_chmod(S, 0, "/mem/g", 0, 02775), 0);
	cr_assert_eq(mkf("/mem/g/f"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/g/sub", 0755), 0);
	cr_assert_eq(st_of("/mem/g/f", 0).st_gid, 4321);
	cr_assert_eq(st_of("/mem/g/f", 0).st_mode & S_ISGID, 0);
	cr_assert_eq(st_of("/mem/g/sub", 0).st_gid, 4321);
	cr_assert_eq(st_of("/mem/g/sub", 0).st_mode & S_ISGID, S_ISGID);
}

Test(ns, utimens_sets_omits_and_validates)
{
	cr_assert_eq(mkf("/mem/f"), 0);
	struct timespec t[2] = { { 1000, 5 }, { 2000, 7 } };
	cr_assert_eq(ms_utimens(S, 0, "/mem/f", 0, t), 0);
	struct stat st = st_of("/mem/f", 0);
	cr_assert_eq(st.st_atim.tv_sec, 1000);
	cr_assert_eq(st.st_atim.tv_nsec, 5);
	cr_assert_eq(st.st_mtim.tv_sec, 2000);
	cr_assert_eq(st.st_mtim.tv_nsec, 7);
	cr_assert_gt(st.st_ctim.tv_sec, 2000);
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 3000, 0 } };
	cr_assert_eq(ms_utimens(S, 0, "/mem/f", 0, omit), 0);
	st = st_of("/mem/f", 0);
	cr_assert_eq(st.st_atim.tv_sec, 1000);
	cr_assert_eq(st.st_mtim.tv_sec, 3000);
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, UTIME_OMIT } };
	cr_assert_eq(ms_utimens(S, 0, "/mem/f", 0, bad), -EINVAL);
	cr_assert_eq(ms_utimens(S, 0, "/mem/none", 0, bad), -ENOENT);
	struct timespec both[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	cr_assert_eq(ms_utimens(S, 0, "/mem/none", 0, both), 0);
	cr_assert_eq(ms_utimens(S, 0, "/mem/f", 0, NULL), 0);
	cr_assert_gt(st_of("/mem/f", 0).st_mtim.tv_sec, 3000);
}

Test(ns, creating_and_removing_touch_the_parent)
{
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	struct timespec old[2] = { { 1, 0 }, { 1, 0 } };
	cr_assert_eq(ms_utimens(S, 0, "/mem/d", 0, old), 0);
	cr_assert_eq(mkf("/mem/d/f"), 0);
	cr_assert_gt(st_of("/mem/d", 0).st_mtim.tv_sec, 1);
	cr_assert_eq(ms_utimens(S, 0, "/mem/d", 0, old), 0);
	cr_assert_eq(ms_unlink(S, 0, "/mem/d/f"), 0);
	cr_assert_gt(st_of("/mem/d", 0).st_mtim.tv_sec, 1);
}

Test(ns, truncate_by_path)
{
	cr_assert_eq(mkf("/mem/f"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/l"), 0);
	cr_assert_eq(ms_truncate(S, 0, "/mem/l", 10000), 0);
	cr_assert_eq(st_of("/mem/f", 0).st_size, 10000);
	cr_assert_eq(ms_truncate(S, 0, "/mem/d", 0), -EISDIR);
	cr_assert_eq(ms_truncate(S, 0, "/mem/f", -1), -EINVAL);
	cr_assert_eq(ms_truncate(S, 0, "/mem/f", 0), 0);
	cr_assert_eq(st_of("/mem/f", 0).st_blocks, 0);
}

Test(ns, readlink_copies_at_most_n_bytes)
{
	char buf[8];
	cr_assert_eq(ms_symlink(S, "abcdefghij", 0, "/mem/l"), 0);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(ms_readlink(S, 0, "/mem/l", buf, 4), 4);
	cr_assert_eq(memcmp(buf, "abcd", 4), 0);
	cr_assert_eq(buf[4], 0);
	cr_assert_eq(ms_readlink(S, 0, "/mem/l", buf, 0), -EINVAL);
	cr_assert_eq(ms_readlink(S, 0, "/mem", buf, sizeof(buf)), -EINVAL);
}
