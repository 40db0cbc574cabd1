/* Ledger: a byte is charged before it is stored, a growth that does not fit
 * is refused whole, and every way of freeing gives bytes back. */
#include <sys/stat.h>

#include "common.h"

#define PAGE MS_PAGE
#define NODE MS_NODE_COST
/* a regular file: its node and its memfd's kernel objects */
#define FNODE ms_node_cost(S_IFREG)

static struct ms_stats stats(ms_store *s)
{
	struct ms_stats st;
	ms_stats_get(s, &st);
	return st;
}

/* Writes len bytes at off through the quota path; returns 0 or -errno. */
static int wr(ms_store *s, ms_ino ino, int fd, int64_t off, size_t len, int append)
{
	static char buf[1 << 16];
	struct ms_wctx w;
	int64_t at;
	int r = ms_write_begin(s, ino, fd, off, len, append, &w, &at);
	if (r)
		return r;
	ssize_t k = pwrite(fd, buf, len, at);
	ms_write_end(s, &w, k < 0 ? -errno : k);
	return k < 0 ? -errno : 0;
}

static int mk(ms_store *s, const char *path, int *fd, ms_ino *ino)
{
	return ms_open(s, 0, path, O_CREAT | O_RDWR, 0644, fd, ino);
}

static off_t ksize(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_size;
}

Test(ledger, exact_fit_accepts_exactly_the_quota)
{
	struct ms_config c = t_config(FNODE + 2 * PAGE, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(wr(s, ino, fd, 0, 2 * PAGE, 0), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE + 2 * PAGE);
	cr_assert_eq(stats(s).used_bytes, stats(s).max_bytes);
	t_assert_consistent(s);
}

Test(ledger, one_byte_over_is_refused_whole)
{
	struct ms_config c = t_config(FNODE + 2 * PAGE, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(wr(s, ino, fd, 0, 100, 0), 0);
	cr_assert_eq(wr(s, ino, fd, 100, 2 * PAGE, 0), -ENOSPC);
	cr_assert_eq(ksize(fd), 100, "a refused write must store nothing");
	cr_assert_eq(stats(s).used_bytes, FNODE + PAGE);
	cr_assert_eq(stats(s).refused, 1);
	cr_assert_eq(stats(s).largest_refused, 2 * PAGE);
	t_assert_consistent(s);
}

Test(ledger, quota_errno_edquot)
{
	struct ms_config c = t_config(FNODE + PAGE, 0);
	c.quota_errno = EDQUOT;
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(wr(s, ino, fd, 0, PAGE + 1, 0), -EDQUOT);
}

Test(ledger, unlink_of_last_link_gives_bytes_back)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/a", 10000), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE + 3 * PAGE);
	cr_assert_eq(ms_link(s, 0, "/mem/a", 0, "/mem/b", MS_NOFOLLOW), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE + NODE + 3 * PAGE, "a hard link costs a node");
	cr_assert_eq(ms_unlink(s, 0, "/mem/a"), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE + 3 * PAGE, "data stays while a link remains");
	cr_assert_eq(ms_unlink(s, 0, "/mem/b"), 0);
	cr_assert_eq(stats(s).used_bytes, 0);
	cr_assert_eq(stats(s).used_nodes, 0);
	t_assert_consistent(s);
}

Test(ledger, unlinked_open_file_keeps_its_charge_until_closed)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(wr(s, ino, fd, 0, 3 * PAGE, 0), 0);
	cr_assert_eq(ms_unlink(s, 0, "/mem/f"), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE + 3 * PAGE, "tmpfs frees at last close too");
	cr_assert_eq(wr(s, ino, fd, 3 * PAGE, PAGE, 0), 0, "an orphan can still grow");
	cr_assert_eq(stats(s).used_bytes, FNODE + 4 * PAGE);
	t_assert_consistent(s);
	ms_ino_put(s, ino); /* while the fd still holds the file */
	close(fd);
	cr_assert_eq(stats(s).used_bytes, 0);
	t_assert_consistent(s);
}

Test(ledger, shrinking_ftruncate_gives_back)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(wr(s, ino, fd, 0, 5 * PAGE, 0), 0);
	cr_assert_eq(ms_ftruncate(s, ino, fd, PAGE + 1), 0);
	cr_assert_eq(ksize(fd), PAGE + 1);
	cr_assert_eq(stats(s).used_bytes, FNODE + 2 * PAGE);
	t_assert_consistent(s);
}

Test(ledger, o_trunc_gives_back)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/f", 5 * PAGE), 0);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_WRONLY | O_TRUNC, 0, &fd, &ino), 0);
	cr_assert_eq(ksize(fd), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE);
	t_assert_consistent(s);
}

Test(ledger, path_truncate_gives_back_and_grows_a_hole)
{
	struct ms_config c = t_config(FNODE + 4 * PAGE, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/f", 2 * PAGE), 0);
	cr_assert_eq(ms_truncate(s, 0, "/mem/f", 0), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE);
	/* Growth is a hole, charged nothing, as tmpfs: even past the quota. */
	cr_assert_eq(ms_truncate(s, 0, "/mem/f", 4 * PAGE + 1), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE);
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/f", 0, &st), 0);
	cr_assert_eq(st.st_size, 4 * PAGE + 1);
	cr_assert_eq(st.st_blocks, 0);
	t_assert_consistent(s);
}

Test(ledger, growth_by_ftruncate_is_a_hole)
{
	struct ms_config c = t_config(FNODE + 8 * PAGE, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(ms_ftruncate(s, ino, fd, 8 * PAGE), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE);
	cr_assert_eq(ms_ftruncate(s, ino, fd, 8 * PAGE + 1), 0);
	cr_assert_eq(ksize(fd), 8 * PAGE + 1);
	cr_assert_eq(stats(s).used_bytes, FNODE);
	t_assert_consistent(s);
}

Test(ledger, growth_by_fallocate_is_charged_in_full)
{
	struct ms_config c = t_config(FNODE + 8 * PAGE, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(ms_fallocate(s, ino, fd, 0, 0, 6 * PAGE), 0);
	cr_assert_eq(ksize(fd), 6 * PAGE);
	cr_assert_eq(stats(s).used_bytes, FNODE + 6 * PAGE);
	cr_assert_eq(ms_fallocate(s, ino, fd, 0, 6 * PAGE, 3 * PAGE), -ENOSPC);
	cr_assert_eq(ksize(fd), 6 * PAGE);
	t_assert_consistent(s);
}

Test(ledger, gap_write_is_charged_its_page_only)
{
	struct ms_config c = t_config(1 << 30, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/f", &fd, &ino), 0);
	cr_assert_eq(wr(s, ino, fd, 1 << 20, 1, 0), 0);
	cr_assert_eq(ksize(fd), (1 << 20) + 1);
	cr_assert_eq(stats(s).used_bytes, FNODE + PAGE);
	t_assert_consistent(s);
}

Test(ledger, append_writes_at_the_end_and_are_charged)
{
	struct ms_config c = t_config(FNODE + 2 * PAGE, 0);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_CREAT | O_WRONLY | O_APPEND, 0644, &fd, &ino), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(wr(s, ino, fd, 0, 1024, 1), 0);
	cr_assert_eq(ksize(fd), 8192);
	cr_assert_eq(wr(s, ino, fd, 0, 1, 1), -ENOSPC);
	cr_assert_eq(ksize(fd), 8192);
}

Test(ledger, node_limit_refuses_with_enospc)
{
	struct ms_config c = t_config(1 << 20, 3);
	ms_store *s = t_local(&c);
	int fd;
	ms_ino ino;
	cr_assert_eq(mk(s, "/mem/a", &fd, &ino), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_symlink(s, "a", 0, "/mem/l"), 0);
	cr_assert_eq(mk(s, "/mem/b", &fd, &ino), -ENOSPC);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/e", 0755), -ENOSPC);
	cr_assert_eq(ms_link(s, 0, "/mem/a", 0, "/mem/c", MS_NOFOLLOW), -ENOSPC);
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/b", 0, &st), -ENOENT, "a refused create leaves no name");
	cr_assert_eq(stats(s).used_nodes, 3);
	cr_assert_eq(ms_unlink(s, 0, "/mem/l"), 0);
	cr_assert_eq(mk(s, "/mem/b", &fd, &ino), 0, "a freed node can be used again");
	t_assert_consistent(s);
}

Test(ledger, quota_refuses_node_cost)
{
	struct ms_config c = t_config(2 * NODE, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/a", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/b", 0755), 0);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/c", 0755), -ENOSPC);
}

Test(ledger, peak_and_refusals_are_recorded)
{
	struct ms_config c = t_config(FNODE + 4 * PAGE, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/a", 4 * PAGE), 0);
	cr_assert_eq(ms_unlink(s, 0, "/mem/a"), 0);
	cr_assert_eq(t_write_file(s, "/mem/b", 5 * PAGE), -ENOSPC);
	cr_assert_eq(t_write_file(s, "/mem/c", 50 * PAGE), -ENOSPC);
	struct ms_stats st = stats(s);
	cr_assert_eq(st.peak_bytes, FNODE + 4 * PAGE);
	cr_assert_eq(st.peak_nodes, 2, "b and c exist after a was removed");
	cr_assert_eq(st.refused, 2);
	cr_assert_geq(st.largest_refused, PAGE, "largest refused: %llu",
		      (unsigned long long)st.largest_refused);
}

Test(ledger, unlimited_quota_when_zero)
{
	struct ms_config c = t_config(0, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(t_write_file(s, "/mem/a", 4 << 20), 0);
	cr_assert_eq(stats(s).used_bytes, FNODE + (4 << 20));
	cr_assert_eq(stats(s).max_bytes, 0);
}

Test(ledger, symlink_target_is_charged_in_blocks)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	char target[1000];
	memset(target, 'a', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	cr_assert_eq(ms_symlink(s, target, 0, "/mem/l"), 0);
	uint64_t blocks = (999 + (MS_BLOCK - 4) - 1) / (MS_BLOCK - 4);
	cr_assert_eq(stats(s).used_bytes, NODE + blocks * MS_BLOCK);
	cr_assert_eq(ms_unlink(s, 0, "/mem/l"), 0);
	cr_assert_eq(stats(s).used_bytes, 0);
}

Test(ledger, stats_list_files_with_sizes)
{
	struct ms_config c = t_config(1 << 20, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_mkdir(s, 0, "/mem/d", 0755), 0);
	cr_assert_eq(t_write_file(s, "/mem/d/big", 3000), 0);
	cr_assert_eq(t_write_file(s, "/mem/small", 10), 0);
	struct seen {
		int n;
		uint64_t big, small;
	} seen = {0};
	int fn(void *arg, const char *path, uint64_t size)
	{
		struct seen *p = arg;
		p->n++;
		if (strcmp(path, "/mem/d/big") == 0)
			p->big = size;
		if (strcmp(path, "/mem/small") == 0)
			p->small = size;
		return 0;
	}
	cr_assert_eq(ms_stats_files(s, 0, fn, &seen), 0);
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.big, 3000);
	cr_assert_eq(seen.small, 10);
	struct ms_stats st = stats(s);
	cr_assert_eq(st.files, 2);
	cr_assert_eq(st.dirs, 1, "the prefix directory is not counted: %llu",
		     (unsigned long long)st.dirs);
}
