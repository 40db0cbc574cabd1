/* Sparse files: a file is charged the pages the kernel holds for it (its
 * st_blocks), as tmpfs counts them, not its size; every call that may
 * allocate still reserves first, so none takes the store past its quota. */
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common.h"

#define PAGE MS_PAGE
/* a regular file's fixed cost: its node and its memfd's kernel objects */
#define NODE ms_node_cost(S_IFREG)
#define GiB (1LL << 30)
#define MiB (1LL << 20)

static uint64_t used(ms_store *s)
{
	struct ms_stats st;
	ms_stats_get(s, &st);
	return st.used_bytes;
}

static uint64_t refused(ms_store *s)
{
	struct ms_stats st;
	ms_stats_get(s, &st);
	return st.refused;
}

/* Writes len bytes of 'd' at off through the quota path; 0 or -errno. */
static int wr(ms_store *s, ms_ino ino, int fd, int64_t off, size_t len)
{
	static char buf[1 << 20];
	memset(buf, 'd', sizeof(buf));
	struct ms_wctx w;
	int64_t at;
	int r = ms_write_begin(s, ino, fd, off, len, 0, &w, &at);
	if (r)
		return r;
	ssize_t k = pwrite(fd, buf, len, at);
	ms_write_end(s, &w, k < 0 ? -errno : k);
	return k < 0 ? -errno : 0;
}

static ms_store *store(uint64_t quota, int *fd, ms_ino *ino)
{
	struct ms_config c = t_config(quota, 0);
	ms_store *s = t_local(&c);
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_CREAT | O_RDWR, 0644, fd, ino), 0);
	return s;
}

static struct stat kstat(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return st;
}

static struct stat pstat(ms_store *s)
{
	struct stat st;
	cr_assert_eq(ms_stat(s, 0, "/mem/f", 0, &st), 0);
	return st;
}

/* The path's stat says what the kernel says of the memfd. */
static void assert_stat_as_kernel(ms_store *s, int fd)
{
	struct stat k = kstat(fd), p = pstat(s);
	cr_assert_eq(p.st_size, k.st_size, "size: path %lld, kernel %lld", (long long)p.st_size,
		     (long long)k.st_size);
	cr_assert_eq(p.st_blocks, k.st_blocks, "blocks: path %lld, kernel %lld",
		     (long long)p.st_blocks, (long long)k.st_blocks);
}

Test(sparse, one_byte_at_2gib_under_a_64mib_quota_costs_one_page)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(64 * MiB, &fd, &ino);
	uint64_t before = used(s);
	cr_assert_eq(wr(s, ino, fd, 2 * GiB, 1), 0);
	struct stat p = pstat(s);
	cr_assert_eq(p.st_size, 2 * GiB + 1);
	cr_assert_eq(p.st_blocks, 8);
	cr_assert_eq(used(s) - before, PAGE);
	assert_stat_as_kernel(s, fd);
	t_assert_consistent(s);
}

Test(sparse, ftruncate_to_999999999999999_charges_nothing)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(64 * MiB, &fd, &ino);
	uint64_t before = used(s);
	cr_assert_eq(ms_ftruncate(s, ino, fd, 999999999999999LL), 0);
	cr_assert_eq(used(s), before);
	cr_assert_eq(pstat(s).st_size, 999999999999999LL);
	cr_assert_eq(pstat(s).st_blocks, 0);
	/* and a byte near its end costs one page */
	cr_assert_eq(wr(s, ino, fd, 999999999999990LL, 1), 0);
	cr_assert_eq(used(s) - before, PAGE);
	assert_stat_as_kernel(s, fd);
	t_assert_consistent(s);
}

Test(sparse, a_3gib_file_with_one_byte_fits_a_2gib_quota)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(2 * GiB, &fd, &ino);
	cr_assert_eq(wr(s, ino, fd, 3 * GiB - 1, 1), 0);
	cr_assert_eq(pstat(s).st_size, 3 * GiB);
	cr_assert_eq(used(s), NODE + PAGE);
	assert_stat_as_kernel(s, fd);
	t_assert_consistent(s);
}

Test(sparse, filling_holes_is_charged_overwriting_is_not)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(64 * MiB, &fd, &ino);
	cr_assert_eq(ms_ftruncate(s, ino, fd, 16 * PAGE), 0);
	cr_assert_eq(used(s), NODE);
	cr_assert_eq(wr(s, ino, fd, 3 * PAGE, 2 * PAGE), 0); /* pages 3, 4 */
	cr_assert_eq(used(s), NODE + 2 * PAGE);
	cr_assert_eq(wr(s, ino, fd, 3 * PAGE + 10, PAGE), 0); /* overwrite 3, 4 */
	cr_assert_eq(used(s), NODE + 2 * PAGE, "an overwrite allocates nothing");
	cr_assert_eq(wr(s, ino, fd, 4 * PAGE + 100, 2 * PAGE), 0); /* 4 held, 5 and 6 new */
	cr_assert_eq(used(s), NODE + 4 * PAGE);
	cr_assert_eq(wr(s, ino, fd, 10 * PAGE - 1, 2), 0); /* across pages 9 and 10 */
	cr_assert_eq(used(s), NODE + 6 * PAGE);
	cr_assert_eq(pstat(s).st_size, 16 * PAGE);
	assert_stat_as_kernel(s, fd);
	t_assert_consistent(s);
}

Test(sparse, a_dense_write_that_does_not_fit_is_refused_whole)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(NODE + 4 * PAGE, &fd, &ino);
	cr_assert_eq(wr(s, ino, fd, GiB, 1), 0);
	cr_assert_eq(used(s), NODE + PAGE);
	/* 4 new pages where 3 are left */
	cr_assert_eq(wr(s, ino, fd, 0, 4 * PAGE), -ENOSPC);
	cr_assert_eq(kstat(fd).st_size, GiB + 1, "a refused write stores nothing");
	cr_assert_eq(kstat(fd).st_blocks, 8);
	cr_assert_eq(used(s), NODE + PAGE);
	cr_assert_eq(refused(s), 1);
	/* 3 fit exactly */
	cr_assert_eq(wr(s, ino, fd, 0, 3 * PAGE), 0);
	cr_assert_eq(used(s), NODE + 4 * PAGE);
	assert_stat_as_kernel(s, fd);
	t_assert_consistent(s);
}

Test(sparse, a_full_store_still_takes_overwrites_and_refuses_holes)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(NODE + 2 * PAGE, &fd, &ino);
	cr_assert_eq(wr(s, ino, fd, 0, 10), 0);
	cr_assert_eq(wr(s, ino, fd, GiB, 10), 0);
	cr_assert_eq(used(s), NODE + 2 * PAGE, "full");
	/* Reserving two pages would not fit; the kernel holds both. */
	cr_assert_eq(wr(s, ino, fd, GiB + 5, PAGE - 5), 0);
	cr_assert_eq(wr(s, ino, fd, 5, PAGE - 5), 0);
	cr_assert_eq(wr(s, ino, fd, GiB - 1, 2), -ENOSPC, "page GiB-1 is a hole");
	cr_assert_eq(refused(s), 1, "the overwrites were not refusals");
	cr_assert_eq(used(s), NODE + 2 * PAGE);
	cr_assert_eq(kstat(fd).st_size, GiB + PAGE);
	assert_stat_as_kernel(s, fd);
	t_assert_consistent(s);
}

Test(sparse, fallocate_is_charged_what_it_allocates_and_punching_gives_back)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(NODE + 16 * PAGE, &fd, &ino);
	/* past the end, size kept */
	cr_assert_eq(ms_fallocate(s, ino, fd, FALLOC_FL_KEEP_SIZE, GiB, 8 * PAGE), 0);
	cr_assert_eq(used(s), NODE + 8 * PAGE);
	cr_assert_eq(pstat(s).st_size, 0);
	/* over what it holds: nothing new */
	cr_assert_eq(ms_fallocate(s, ino, fd, 0, GiB, 8 * PAGE), 0);
	cr_assert_eq(used(s), NODE + 8 * PAGE);
	cr_assert_eq(pstat(s).st_size, GiB + 8 * PAGE);
	/* more than is left, whole: refused, nothing allocated */
	cr_assert_eq(ms_fallocate(s, ino, fd, 0, 0, 9 * PAGE), -ENOSPC);
	cr_assert_eq(kstat(fd).st_blocks, 8 * 8);
	/* a write into allocated pages costs nothing */
	cr_assert_eq(wr(s, ino, fd, GiB + PAGE, 3 * PAGE), 0);
	cr_assert_eq(used(s), NODE + 8 * PAGE);
	/* punching a hole gives its pages back */
	cr_assert_eq(ms_fallocate(s, ino, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  GiB + 2 * PAGE, 5 * PAGE),
		     0);
	cr_assert_eq(used(s), NODE + 3 * PAGE);
	cr_assert_eq(pstat(s).st_size, GiB + 8 * PAGE);
	assert_stat_as_kernel(s, fd);
	/* a huge allocation is refused before the kernel is asked */
	cr_assert_eq(ms_fallocate(s, ino, fd, 0, 0, 1LL << 40), -ENOSPC);
	cr_assert_eq(used(s), NODE + 3 * PAGE);
	t_assert_consistent(s);
}

Test(sparse, shrinking_o_trunc_and_unlink_give_back)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(64 * MiB, &fd, &ino);
	cr_assert_eq(wr(s, ino, fd, 0, 2 * PAGE), 0);
	cr_assert_eq(wr(s, ino, fd, GiB, 3 * PAGE), 0);
	cr_assert_eq(used(s), NODE + 5 * PAGE);
	cr_assert_eq(ms_ftruncate(s, ino, fd, GiB + 1), 0); /* keeps page GiB */
	cr_assert_eq(used(s), NODE + 3 * PAGE);
	assert_stat_as_kernel(s, fd);
	int fd2;
	ms_ino ino2;
	cr_assert_eq(ms_open(s, 0, "/mem/f", O_WRONLY | O_TRUNC, 0, &fd2, &ino2), 0);
	cr_assert_eq(used(s), NODE);
	cr_assert_eq(wr(s, ino, fd, 5 * GiB, 1), 0);
	cr_assert_eq(used(s), NODE + PAGE);
	ms_ino_put(s, ino2);
	close(fd2);
	ms_ino_put(s, ino);
	close(fd);
	cr_assert_eq(ms_unlink(s, 0, "/mem/f"), 0);
	cr_assert_eq(used(s), 0);
	t_assert_consistent(s);
}

/* Pages stored through a shared mapping are the kernel's, behind the shim's
 * back: uncharged until a call through the shim settles the file, which then
 * charges them as far as the quota allows and never past it. */
Test(sparse, pages_stored_through_a_mapping_are_charged_at_the_next_settle)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(NODE + 3 * PAGE, &fd, &ino);
	cr_assert_eq(ms_ftruncate(s, ino, fd, 64 * PAGE), 0);
	char *m = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(m, MAP_FAILED);
	for (int i = 0; i < 5; i++)
		m[(10 + i) * PAGE] = 'm';
	cr_assert_eq(used(s), NODE, "nothing went through the shim");
	cr_assert_eq(kstat(fd).st_blocks, 5 * 8);
	/* An overwrite of a mapped page: nothing new to reserve; the settle
	 * charges what the kernel holds, up to the quota. */
	cr_assert_eq(wr(s, ino, fd, 10 * PAGE, 1), 0);
	cr_assert_eq(used(s), NODE + 3 * PAGE, "charged to the quota, not past it");
	t_assert_consistent(s);
	cr_assert_eq(wr(s, ino, fd, 0, 1), -ENOSPC, "full: a hole is refused");
	/* Unmapped and partly punched, the file settles to what is left. */
	munmap(m, 64 * PAGE);
	cr_assert_eq(ms_fallocate(s, ino, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  10 * PAGE, 3 * PAGE),
		     0);
	cr_assert_eq(used(s), NODE + 2 * PAGE);
	assert_stat_as_kernel(s, fd);
	t_assert_consistent(s);
}

/* ---- through the preload ------------------------------------------------------ */

static const char *probe(const char *env, const char *script)
{
	static char out[16384];
	char cmd[4096];
	const char *b = t_build();
	/* $P is the probe, $S memshim-stat */
	snprintf(cmd, sizeof(cmd), "P=%s/tests/helpers/sparseprobe; S=%s/memshim-stat; %s", b, b,
		 script);
	int st = t_sh(env, cmd, out, sizeof(out));
	cr_assert_eq(st, 0, "status %d: %s", st, out);
	return out;
}

#define HAS(out, s) cr_assert_not_null(strstr(out, s), "expected \"%s\" in:\n%s", s, out)

Test(sparse, a_refused_dense_write_leaves_size_and_offset)
{
	const char *o = probe("MEMSHIM_QUOTA=64K", "$P refuse");
	HAS(o, "pwrite_2g=1 errno=0");
	HAS(o, "write_dense=-1 errno=ENOSPC");
	HAS(o, "size=2147483649 off=100 fblocks=8 pblocks=8 psize=2147483649\n");
	HAS(o, "write_fits=12288 errno=0");
	HAS(o, "size=2147483649 off=12388 fblocks=40 pblocks=40 psize=2147483649\n");
}

/* Pages stored through a mapping are the kernel's: the keeper finds them
 * uncounted, and the next write through the shim charges them. */
Test(sparse, mapped_pages_are_found_then_charged_by_the_next_write, .timeout = 30)
{
	const char *o = probe("MEMSHIM_QUOTA=1M",
			      "$P map; sleep 1.5; $S | grep -E \"^(used|uncounted)_bytes\"; "
			      "$P settle; sleep 1.5; $S | grep -E \"^(used|uncounted)_bytes\"");
	HAS(o, "ftruncate=0 errno=0");
	/* fstat sees the kernel; the path's stat, the charge */
	HAS(o, "size=1048576 off=0 fblocks=24 pblocks=0 psize=1048576\n");
	char want[64];
	snprintf(want, sizeof(want), "used_bytes: %llu\nuncounted_bytes: 12288\n", (unsigned long long)NODE);
	HAS(o, want);
	HAS(o, "pwrite=1 errno=0");
	HAS(o, "size=1048576 off=0 fblocks=32 pblocks=32 psize=1048576\n");
	snprintf(want, sizeof(want), "used_bytes: %llu\nuncounted_bytes: 0\n",
		 (unsigned long long)(NODE + 4 * PAGE));
	HAS(o, want);
}

/* Several processes write one file at once, sparse and dense, and shrink
 * it now and then: the ledger is the file's pages plus its node, checked by
 * memshim-stat's consistency check (exit 3 when broken). */
Test(sparse, processes_writing_one_sparse_file_keep_the_ledger, .timeout = 60)
{
	const char *o = probe("MEMSHIM_QUOTA=512K", "$P procs 4 && $S");
	HAS(o, "procs=4 bad=0 far_written=1");
	HAS(o, "path_as_kernel=1");
	const char *f = strstr(o, "used_file_bytes="), *u = strstr(o, "used_bytes: "),
		   *pk = strstr(o, "peak_bytes: "), *rf = strstr(o, "\nrefused: ");
	cr_assert(f && u && pk && rf, "%s", o);
	long long file = atoll(f + 16), used_bytes = atoll(u + 12);
	cr_assert_eq(used_bytes, NODE + file, "%s", o);
	cr_assert_leq(atoll(pk + 12), 512 << 10, "%s", o);
	cr_assert_gt(atoll(rf + 10), 0, "the quota was reached: %s", o);
}

/* ---- pread, pwrite and read served from the store's mapping (core/mapio.c) ---- */

/* Other processes shrink, grow and punch a file while three processes
 * (one of them with two threads) read and write it through their mappings:
 * no process dies of SIGBUS, holes the reads cross are not filled (the
 * charge is what the kernel holds), and the ledger adds up. */
Test(sparse, a_shrink_racing_mapped_reads_and_writes_faults_nobody, .timeout = 60)
{
	const char *o = probe("MEMSHIM_QUOTA=8M", "$P shrink 2 && $S");
	HAS(o, "bad=0 mapped=1");
	HAS(o, "path_as_kernel=1");
	HAS(o, "uncounted_bytes: 0\n");
	const char *f = strstr(o, "used_file_bytes="), *u = strstr(o, "used_bytes: ");
	cr_assert(f && u, "%s", o);
	cr_assert_eq(atoll(u + 12), NODE + atoll(f + 16), "%s", o);
}

/* Writes that would allocate (a hole, past the end) stay the charged
 * path's even in a mapped file: refused whole in a full store, nothing
 * changed; an overwrite of held pages is a copy and succeeds. */
Test(sparse, a_full_store_refuses_a_mapped_files_holes_whole, .timeout = 30)
{
	const char *o = probe("MEMSHIM_QUOTA=256K", "$P mquota && $S");
	HAS(o, "mapped=1");
	HAS(o, "fill=-1 errno=ENOSPC");
	HAS(o, "pwrite_hole=-1 errno=ENOSPC");
	HAS(o, "pwrite_hole_span=-1 errno=ENOSPC");
	HAS(o, "pwrite_past_end=-1 errno=ENOSPC");
	/* before and after the refusals, and after reading the hole */
	const char *want = "size=12288 off=0 fblocks=16 pblocks=16 psize=12288\n";
	const char *a = strstr(o, want), *b = a ? strstr(a + 1, want) : NULL,
		   *c = b ? strstr(b + 1, want) : NULL;
	cr_assert(a && b && c, "size or blocks changed:\n%s", o);
	HAS(o, "hole_zero=1");
	HAS(o, "pwrite_over=4096 errno=0");
	HAS(o, "over=O");
	HAS(o, "uncounted_bytes: 0\n");
}

/* The mapping goes with the process's last fd of the file (not before),
 * so an unlinked file's pages go back with its charge. */
Test(sparse, a_mapping_goes_with_the_last_fd, .timeout = 30)
{
	const char *o = probe("MEMSHIM_QUOTA=4M", "$P release && $S");
	HAS(o, "mapped_open=1");
	HAS(o, "mapped_after_one_close=1");
	HAS(o, "mapped_after_last_close=0");
	char want[64];
	snprintf(want, sizeof(want), "used_bytes: 0\n");
	HAS(o, want);
}

/* A file filled page by page after a truncate (as a database or
 * numpy.memmap fills one): each write is a hole's, which the kernel
 * serves; the mapped-I/O path asks the kernel only about the page written,
 * not the 4096 after it (a mincore over 16 MiB for every 4 KiB written,
 * 100 times a tmpfs pwrite). Read back, the pages are learnt in a few
 * looks and every read is served from the mapping. */
Test(sparse, a_file_filled_after_a_truncate_is_looked_at_a_page_at_a_time)
{
	int fd;
	ms_ino ino;
	ms_store *s = store(64 << 20, &fd, &ino);
	enum { PAGES = 4096 };
	cr_assert_eq(ms_ftruncate(s, ino, fd, (off_t)PAGES * 4096), 0);
	struct ms_mio io;
	uint64_t before = ms_mio_looked;
	for (int p = 0; p < PAGES; p++) {
		int r = ms_mio_begin(s, ino, fd, O_RDWR, (uint64_t)p * 4096, 4096, 1, 1, &io);
		cr_assert_eq(r, MS_MIO_NO, "page %d is a hole: the kernel writes it", p);
		cr_assert_eq(wr(s, ino, fd, (int64_t)p * 4096, 4096), 0);
	}
	uint64_t filling = ms_mio_looked - before;
	cr_assert_leq(filling, PAGES, "%llu pages asked about to fill %d",
		      (unsigned long long)filling, PAGES);
	before = ms_mio_looked;
	for (int p = 0; p < PAGES; p++) {
		int r = ms_mio_begin(s, ino, fd, O_RDWR, (uint64_t)p * 4096, 4096, 0, 1, &io);
		cr_assert_eq(r, MS_MIO_OK, "page %d is there: served from the mapping", p);
		ms_mio_end(s, &io, 4096);
	}
	cr_assert_leq(ms_mio_looked - before, PAGES, "%llu pages asked about to read %d back",
		      (unsigned long long)(ms_mio_looked - before), PAGES);
	t_assert_consistent(s);
}
