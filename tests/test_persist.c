/* tests/test_persist.c — MEMSHIM_SEED and MEMSHIM_SAVE (core/persist.c,
 * keeper/save.c).
 *
 * The two variables' parsing; a real tree copied into a new store (read back
 * under the preload, charged to the quota, refused whole before main when it
 * does not fit); the store written out to a real directory when its tree
 * ends (contents, modes, times, symlinks, nested directories), a round trip
 * through one directory, and nothing written out without MEMSHIM_SAVE.
 *
 * Trees are made and checked by this (unpreloaded) process in fresh
 * directories under /tmp; programs run under the preload with t_sh.
 */
#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "arena.h"
#include "common.h"

/* ---- helpers ------------------------------------------------------------------ */

static char tmp[256];

static void mk_tmp(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/ms-persist.XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void)
{
	char cmd[1024];
	if (!tmp[0])
		return;
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s 2>/dev/null; rm -rf %s", tmp, tmp);
	cr_assert_eq(system(cmd), 0);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

static void put_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

/* Contents of path (up to n - 1 bytes, NUL-terminated); -1 when unreadable. */
static ssize_t get_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t k = read(fd, buf, n - 1);
	close(fd);
	if (k >= 0)
		buf[k] = 0;
	return k;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A pattern that differs from byte to byte and from offset to offset. */
static char *pattern(size_t n)
{
	char *p = malloc(n);
	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 131 + (i >> 12)) & 0xff);
	return p;
}

#define MiB (1u << 20)
#define BIG_MTIME 1000000000 /* 2001-09-09 */

/* The seed tree used by several tests, under tmp/seed:
 *   top.txt "top\n" 0644, empty 0600, big 1 MiB pattern 0640 (mtime fixed),
 *   a/ 0750, a/b/ 0755, a/b/deep.txt "deep\n" 0444, a/link -> b/deep.txt,
 *   a/dangling -> /nonexistent/x */
static void make_seed(const char *root)
{
	char p[512];
	cr_assert_eq(mkdir(root, 0755), 0);
	snprintf(p, sizeof(p), "%s/top.txt", root);
	put_file(p, "top\n", 4, 0644);
	snprintf(p, sizeof(p), "%s/empty", root);
	put_file(p, "", 0, 0600);
	char *big = pattern(MiB);
	snprintf(p, sizeof(p), "%s/big", root);
	put_file(p, big, MiB, 0640);
	free(big);
	struct timespec t[2] = {{BIG_MTIME, 0}, {BIG_MTIME, 0}};
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	snprintf(p, sizeof(p), "%s/a", root);
	cr_assert_eq(mkdir(p, 0750), 0);
	cr_assert_eq(chmod(p, 0750), 0);
	snprintf(p, sizeof(p), "%s/a/b", root);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/b/deep.txt", root);
	put_file(p, "deep\n", 5, 0444);
	snprintf(p, sizeof(p), "%s/a/link", root);
	cr_assert_eq(symlink("b/deep.txt", p), 0);
	snprintf(p, sizeof(p), "%s/a/dangling", root);
	cr_assert_eq(symlink("/nonexistent/x", p), 0);
}

/* What the seed tree costs: 4 files, 2 directories and 2 symlinks of one
 * block each are 8 nodes, the files' memfds 4 more fixed costs; the files'
 * data in whole pages. */
#define SEED_COST (8 * MS_NODE_COST + 4 * MS_FILE_COST + 4096 + 0 + MiB + 4096 + 2 * MS_BLOCK)

/* "key: value" from memshim-stat's output. */
static unsigned long long stat_field(const char *out, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "\n%s: ", key);
	const char *p = strstr(out, k);
	cr_assert_not_null(p, "no %s in:\n%s", key, out);
	return strtoull(p + strlen(k), NULL, 10);
}

/* ---- configuration ----------------------------------------------------------------- */

static const char *fake[4][2];

static const char *fake_get(const char *name)
{
	for (int i = 0; i < 4 && fake[i][0]; i++)
		if (!strcmp(fake[i][0], name))
			return fake[i][1];
	return NULL;
}

static int load1(struct ms_config *c, const char *var, const char *val, char *err, size_t n)
{
	memset(fake, 0, sizeof(fake));
	fake[0][0] = var;
	fake[0][1] = val;
	return ms_config_load(c, fake_get, err, n);
}

Test(persist_config, both_are_off_by_default)
{
	static struct ms_config c;
	char err[512];
	memset(fake, 0, sizeof(fake));
	cr_assert_eq(ms_config_load(&c, fake_get, err, sizeof(err)), 0);
	cr_assert_str_empty(c.seed);
	cr_assert_str_empty(c.save);
}

Test(persist_config, paths_are_cleaned_lexically)
{
	static struct ms_config c;
	char err[512];
	cr_assert_eq(load1(&c, "MEMSHIM_SEED", "//srv//fixtures/", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.seed, "/srv/fixtures");
	cr_assert_eq(load1(&c, "MEMSHIM_SAVE", "/tmp/out///x", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.save, "/tmp/out/x");
	/* names with dots are fine, only '.' and '..' components are not */
	cr_assert_eq(load1(&c, "MEMSHIM_SAVE", "/tmp/.out..x", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.save, "/tmp/.out..x");
}

Test(persist_config, a_relative_path_is_one_line_naming_the_variable)
{
	static struct ms_config c;
	char err[512];
	cr_assert_eq(load1(&c, "MEMSHIM_SEED", "rel", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "MEMSHIM_SEED=\"rel\": not an absolute path; use e.g. /srv/fixtures");
	cr_assert_eq(load1(&c, "MEMSHIM_SAVE", "out/x", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "MEMSHIM_SAVE=\"out/x\": not an absolute path; use e.g. /tmp/store-out");
}

Test(persist_config, malformed_paths_are_refused)
{
	static struct ms_config c;
	char err[512];
	static const char *badv[] = {"", "/", "///", "/srv/../x", "/srv/./x", "/mem", "/mem/in"};
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		for (int v = 0; v < 2; v++) {
			const char *var = v ? "MEMSHIM_SAVE" : "MEMSHIM_SEED";
			cr_assert_eq(load1(&c, var, badv[i], err, sizeof(err)), -EINVAL,
				     "%s=\"%s\" accepted", var, badv[i]);
			cr_assert(!strncmp(err, var, strlen(var)) && strstr(err, "; use e.g. /") &&
				  !strchr(err, '\n'), "message: %s", err);
		}
	}
	/* a sibling of the prefix is a real directory */
	cr_assert_eq(load1(&c, "MEMSHIM_SAVE", "/memx", err, sizeof(err)), 0, "%s", err);
}

Test(persist_config, a_path_of_path_max_is_refused)
{
	static struct ms_config c;
	static char longp[PATH_MAX + 16];
	char err[512];
	for (size_t i = 0; i < PATH_MAX + 8; i += 8)
		memcpy(longp + i, "/aaaaaaa", 8);
	longp[PATH_MAX + 8] = 0;
	cr_assert_eq(load1(&c, "MEMSHIM_SEED", longp, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "longer than"), "%s", err);
}

/* ---- seeding, in this process (a local store) --------------------------------------- */

Test(seed_local, the_charge_is_what_the_tree_costs_and_the_store_is_consistent,
     .init = mk_tmp, .fini = rm_tmp)
{
	char seed[512];
	snprintf(seed, sizeof(seed), "%s/seed", tmp);
	make_seed(seed);
	struct ms_config c = t_config(64 * MiB, 0);
	strcpy(c.seed, seed);
	ms_store *s = t_local(&c);
	struct ms_stats st;
	ms_stats_get(s, &st);
	cr_assert_eq(st.used_bytes, SEED_COST, "used %llu, expected %llu",
		     (unsigned long long)st.used_bytes, (unsigned long long)SEED_COST);
	cr_assert_eq(st.used_nodes, 8);
	cr_assert_eq(st.files, 4);
	cr_assert_eq(st.dirs, 2);
	cr_assert_eq(st.symlinks, 2);
	t_assert_consistent(s);
	ms_store_close(s);
}

Test(seed_local, a_tree_one_byte_over_the_quota_is_refused_whole, .init = mk_tmp, .fini = rm_tmp)
{
	char seed[512];
	snprintf(seed, sizeof(seed), "%s/seed", tmp);
	make_seed(seed);
	struct ms_config c = t_config(SEED_COST - 1, 0);
	strcpy(c.seed, seed);
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = &c};
	cr_assert_eq(ms_store_open(&o, &s), -ENOSPC);
	/* exactly the cost fits */
	c.max_bytes = SEED_COST;
	ms_store *s2 = t_local(&c);
	struct ms_stats st;
	ms_stats_get(s2, &st);
	cr_assert_eq(st.used_bytes, SEED_COST);
	ms_store_close(s2);
}

Test(seed_local, the_node_limit_refuses_a_tree_of_too_many_entries, .init = mk_tmp,
     .fini = rm_tmp)
{
	char seed[512];
	snprintf(seed, sizeof(seed), "%s/seed", tmp);
	make_seed(seed);
	struct ms_config c = t_config(64 * MiB, 7);
	strcpy(c.seed, seed);
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = &c};
	cr_assert_eq(ms_store_open(&o, &s), -ENOSPC);
}

Test(seed_local, a_file_where_a_directory_is_expected_fails_with_enotdir, .init = mk_tmp,
     .fini = rm_tmp)
{
	char f[512];
	snprintf(f, sizeof(f), "%s/plain", tmp);
	put_file(f, "x", 1, 0644);
	struct ms_config c = t_config(MiB, 0);
	strcpy(c.seed, f);
	ms_store *s = NULL;
	struct ms_open_opts o = {.cfg = &c};
	cr_assert_eq(ms_store_open(&o, &s), -ENOTDIR);
}

/* ---- seeding under the preload -------------------------------------------------------- */

Test(seed, the_tree_reads_back_under_the_prefix, .init = mk_tmp, .fini = rm_tmp, .timeout = 30)
{
	char seed[512], env[1024], out[8192], cmp_ok[600];
	snprintf(seed, sizeof(seed), "%s/seed", tmp);
	make_seed(seed);
	snprintf(env, sizeof(env), "MEMSHIM_SEED=%s", seed);
	snprintf(cmp_ok, sizeof(cmp_ok), "%s/big", seed);
	char script[2048];
	snprintf(script, sizeof(script),
		 "cat /mem/top.txt /mem/a/b/deep.txt /mem/a/link; "
		 "echo size=$(wc -c < /mem/empty); "
		 "cmp /mem/big %s && echo big=same; "
		 "echo link=$(readlink /mem/a/link) dangling=$(readlink /mem/a/dangling); "
		 "stat -c \"%%n %%a %%F\" /mem/a /mem/a/b /mem/big /mem/a/b/deep.txt /mem/empty; "
		 "stat -c \"mtime=%%Y\" /mem/big",
		 cmp_ok);
	int st = t_sh(env, script, out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	cr_assert(strstr(out, "top\ndeep\ndeep\n"), "%s", out);
	cr_assert(strstr(out, "size=0\n"), "%s", out);
	cr_assert(strstr(out, "big=same\n"), "%s", out);
	cr_assert(strstr(out, "link=b/deep.txt dangling=/nonexistent/x\n"), "%s", out);
	cr_assert(strstr(out, "/mem/a 750 directory\n"), "%s", out);
	cr_assert(strstr(out, "/mem/a/b 755 directory\n"), "%s", out);
	cr_assert(strstr(out, "/mem/big 640 regular file\n"), "%s", out);
	cr_assert(strstr(out, "/mem/a/b/deep.txt 444 regular file\n"), "%s", out);
	cr_assert(strstr(out, "/mem/empty 600 regular empty file\n"), "%s", out);
	cr_assert(strstr(out, "mtime=1000000000\n"), "%s", out);
}

Test(seed, seeded_bytes_are_charged_to_the_quota, .init = mk_tmp, .fini = rm_tmp, .timeout = 30)
{
	char seed[512], env[1024], out[8192], script[1024];
	snprintf(seed, sizeof(seed), "%s/seed", tmp);
	make_seed(seed);
	snprintf(env, sizeof(env), "MEMSHIM_SEED=%s MEMSHIM_QUOTA=8M", seed);
	snprintf(script, sizeof(script), "%s/memshim-stat", t_build());
	int st = t_sh(env, script, out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	cr_assert_eq(stat_field(out, "used_bytes"), SEED_COST, "%s", out);
	cr_assert_eq(stat_field(out, "used_nodes"), 8, "%s", out);
	cr_assert(strstr(out, "consistent: yes"), "%s", out);
}

Test(seed, a_seed_bigger_than_the_quota_stops_the_program_before_main, .init = mk_tmp,
     .fini = rm_tmp, .timeout = 30)
{
	char seed[512], env[1024], out[8192], script[1024], marker[512];
	snprintf(seed, sizeof(seed), "%s/seed", tmp);
	make_seed(seed);
	snprintf(marker, sizeof(marker), "%s/ran", tmp);
	snprintf(env, sizeof(env), "MEMSHIM_SEED=%s MEMSHIM_QUOTA=512K MEMSHIM_LOG=warn", seed);
	snprintf(script, sizeof(script), "echo PROGRAM-RAN; touch %s", marker);
	int st = t_sh(env, script, out, sizeof(out));
	cr_assert_neq(st, 0, "%s", out);
	cr_assert_null(strstr(out, "PROGRAM-RAN"), "%s", out);
	cr_assert_neq(access(marker, F_OK), 0, "the program ran");
	/* one line names the variable, the directory and the figures */
	char want[1024];
	snprintf(want, sizeof(want),
		 "memshim: MEMSHIM_SEED=%s: the tree needs %llu bytes of the quota (8 nodes) but "
		 "MEMSHIM_QUOTA allows 524288 bytes",
		 seed, (unsigned long long)SEED_COST);
	cr_assert(strstr(out, want), "want: %s\ngot:\n%s", want, out);
	cr_assert(strstr(out, "cannot open the store"), "%s", out);
}

Test(seed, a_missing_seed_directory_fails_clearly, .init = mk_tmp, .fini = rm_tmp, .timeout = 30)
{
	char env[1024], out[8192];
	snprintf(env, sizeof(env), "MEMSHIM_SEED=%s/none MEMSHIM_LOG=warn", tmp);
	int st = t_sh(env, "echo PROGRAM-RAN", out, sizeof(out));
	cr_assert_neq(st, 0, "%s", out);
	cr_assert_null(strstr(out, "PROGRAM-RAN"), "%s", out);
	char want[600];
	snprintf(want, sizeof(want),
		 "memshim: MEMSHIM_SEED=%s/none: cannot open the directory: no such file or directory\n",
		 tmp);
	cr_assert(strstr(out, want), "want: %s\ngot:\n%s", want, out);
}

/* ---- saving ------------------------------------------------------------------------ */

/* Polls check() for up to 5 s (the keeper saves after a 1 s grace); returns
 * the last result (0 = all good, else a description in msg). */
static int poll_check(int (*check)(const char *dir, char *msg, size_t n), const char *dir,
		      char *msg, size_t n)
{
	int r = 1;
	for (int i = 0; i < 100; i++) {
		r = check(dir, msg, n);
		if (r == 0)
			return 0;
		sleep_ms(50);
	}
	return r;
}

#define WANT(cond, ...)                                                                    \
	do {                                                                               \
		if (!(cond)) {                                                             \
			snprintf(msg, n, __VA_ARGS__);                                     \
			return 1;                                                          \
		}                                                                          \
	} while (0)

static int mode_of(const char *dir, const char *rel, int nofollow, struct stat *st)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return nofollow ? lstat(p, st) : stat(p, st);
}

/* What the SAVE script below leaves: d/e/f.txt "one\n" 0600 mtime 2002-02-02,
 * d/ 0750, d/e/ 0700, d/l -> e/f.txt, top "x" 0644, mid/empty 0, 1 MiB pattern. */
static int check_saved(const char *dir, char *msg, size_t n)
{
	char buf[64], p[600];
	struct stat st;
	snprintf(p, sizeof(p), "%s/d/e/f.txt", dir);
	WANT(get_file(p, buf, sizeof(buf)) == 4 && !strcmp(buf, "one\n"), "d/e/f.txt");
	WANT(mode_of(dir, "d/e/f.txt", 1, &st) == 0 && (st.st_mode & 07777) == 0600 &&
		     st.st_mtime == 1012608000,
	     "d/e/f.txt mode %o mtime %ld", st.st_mode & 07777, (long)st.st_mtime);
	WANT(mode_of(dir, "d", 1, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
	     "d mode %o", st.st_mode & 07777);
	WANT(mode_of(dir, "d/e", 1, &st) == 0 && S_ISDIR(st.st_mode) &&
		     (st.st_mode & 07777) == 0700,
	     "d/e mode %o", st.st_mode & 07777);
	snprintf(p, sizeof(p), "%s/d/l", dir);
	ssize_t k = readlink(p, buf, sizeof(buf) - 1);
	WANT(k == 7 && !memcmp(buf, "e/f.txt", 7), "d/l is not a symlink to e/f.txt");
	snprintf(p, sizeof(p), "%s/top", dir);
	WANT(get_file(p, buf, sizeof(buf)) == 1 && buf[0] == 'x', "top");
	WANT(mode_of(dir, "mid/empty", 1, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0,
	     "mid/empty");
	WANT(mode_of(dir, "mid/big", 1, &st) == 0 && st.st_size == MiB, "mid/big size");
	char *want = pattern(MiB), *got = malloc(MiB + 1);
	snprintf(p, sizeof(p), "%s/mid/big", dir);
	int same = get_file(p, got, MiB + 1) == MiB && !memcmp(want, got, MiB);
	free(want);
	free(got);
	WANT(same, "mid/big contents");
	return 0;
}

/* Writes the tree of check_saved under the preload; the 1 MiB pattern comes
 * from a real file. */
static void write_tree(const char *env_extra, const char *save)
{
	char env[2048], out[8192], script[4096], src[600];
	snprintf(src, sizeof(src), "%s/pattern", tmp);
	char *big = pattern(MiB);
	put_file(src, big, MiB, 0644);
	free(big);
	snprintf(env, sizeof(env), "MEMSHIM_SAVE=%s %s", save, env_extra);
	snprintf(script, sizeof(script),
		 "set -e; mkdir -p /mem/d/e /mem/mid; echo one > /mem/d/e/f.txt; "
		 "chmod 600 /mem/d/e/f.txt; touch -d 2002-02-02T00:00:00Z /mem/d/e/f.txt; "
		 "ln -s e/f.txt /mem/d/l; printf x > /mem/top; chmod 644 /mem/top; "
		 ": > /mem/mid/empty; cp %s /mem/mid/big; chmod 750 /mem/d; chmod 700 /mem/d/e; "
		 "echo done",
		 src);
	int st = t_sh(env, script, out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	cr_assert(strstr(out, "done"), "%s", out);
}

Test(save, the_tree_is_written_out_when_it_ends, .init = mk_tmp, .fini = rm_tmp, .timeout = 30)
{
	char save[512], msg[256];
	/* a directory that does not exist yet, two levels down */
	snprintf(save, sizeof(save), "%s/out/saved", tmp);
	write_tree("", save);
	int r = poll_check(check_saved, save, msg, sizeof(msg));
	cr_assert_eq(r, 0, "save incomplete after 5 s: %s", msg);
}

Test(save, files_of_the_same_names_are_overwritten_and_others_kept, .init = mk_tmp,
     .fini = rm_tmp, .timeout = 30)
{
	char save[512], p[600], msg[256], buf[64];
	snprintf(save, sizeof(save), "%s/out", tmp);
	sh("mkdir -p %s/d/e && echo old-old-old > %s/top && chmod 444 %s/top && "
	   "echo keep > %s/other && ln -s nowhere %s/d/e/f.txt",
	   save, save, save, save, save);
	write_tree("", save);
	int r = poll_check(check_saved, save, msg, sizeof(msg));
	cr_assert_eq(r, 0, "save incomplete after 5 s: %s", msg);
	snprintf(p, sizeof(p), "%s/other", save);
	cr_assert_eq(get_file(p, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "keep\n");
}

Test(save, a_save_directory_that_cannot_be_made_stops_the_program_before_main, .init = mk_tmp,
     .fini = rm_tmp, .timeout = 30)
{
	char env[1024], out[8192], f[512];
	snprintf(f, sizeof(f), "%s/plain", tmp);
	put_file(f, "x", 1, 0644);
	snprintf(env, sizeof(env), "MEMSHIM_SAVE=%s/sub MEMSHIM_LOG=warn", f);
	int st = t_sh(env, "echo PROGRAM-RAN", out, sizeof(out));
	cr_assert_neq(st, 0, "%s", out);
	cr_assert_null(strstr(out, "PROGRAM-RAN"), "%s", out);
	char want[1400];
	snprintf(want, sizeof(want),
		 "memshim: MEMSHIM_SAVE=%s/sub: %s/sub: cannot make the directory: not a directory\n",
		 f, f);
	cr_assert(strstr(out, want), "want: %s\ngot:\n%s", want, out);
}

/* Seeded, changed, saved back to the same directory. */
static int check_round_trip(const char *dir, char *msg, size_t n)
{
	char buf[64], p[600];
	struct stat st;
	snprintf(p, sizeof(p), "%s/new.txt", dir);
	WANT(get_file(p, buf, sizeof(buf)) == 6 && !strcmp(buf, "added\n"), "new.txt");
	snprintf(p, sizeof(p), "%s/a/b/deep.txt", dir);
	WANT(get_file(p, buf, sizeof(buf)) == 8 && !strcmp(buf, "changed\n"), "deep.txt");
	WANT(mode_of(dir, "a/b/deep.txt", 1, &st) == 0 && (st.st_mode & 07777) == 0444,
	     "deep.txt mode %o", st.st_mode & 07777);
	WANT(mode_of(dir, "a/made", 1, &st) == 0 && S_ISDIR(st.st_mode), "a/made");
	WANT(mode_of(dir, "big", 1, &st) == 0 && st.st_size == MiB && st.st_mtime == BIG_MTIME,
	     "big size %lld mtime %ld", (long long)st.st_size, (long)st.st_mtime);
	snprintf(p, sizeof(p), "%s/a/link", dir);
	ssize_t k = readlink(p, buf, sizeof(buf) - 1);
	WANT(k == 10 && !memcmp(buf, "b/deep.txt", 10), "a/link");
	return 0;
}

Test(save, seed_and_save_of_one_directory_round_trip, .init = mk_tmp, .fini = rm_tmp,
     .timeout = 30)
{
	char dir[512], env[2048], out[8192], msg[256];
	snprintf(dir, sizeof(dir), "%s/seed", tmp);
	make_seed(dir);
	snprintf(env, sizeof(env), "MEMSHIM_SEED=%s MEMSHIM_SAVE=%s", dir, dir);
	/* deep.txt is 0444 in the store too: the shell overwrites it as root
	 * would not be asked; chmod around it to stay user-agnostic */
	int st = t_sh(env,
		      "set -e; echo added > /mem/new.txt; chmod 644 /mem/a/b/deep.txt; "
		      "echo changed > /mem/a/b/deep.txt; chmod 444 /mem/a/b/deep.txt; "
		      "mkdir /mem/a/made; echo done",
		      out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	int r = poll_check(check_round_trip, dir, msg, sizeof(msg));
	cr_assert_eq(r, 0, "round trip incomplete after 5 s: %s", msg);
}

/* Polls until the store's socket is gone from /proc/net/unix: the keeper
 * has exited. (Asking the keeper, as memshim-stat would, restarts its grace
 * period every time.) */
static void wait_store_gone(const char *name)
{
	char sock[256], line[512];
	snprintf(sock, sizeof(sock), "@memshim-%u-%s", (unsigned)geteuid(), name);
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen("/proc/net/unix", "r");
		cr_assert_not_null(f);
		int found = 0;
		while (fgets(line, sizeof(line), f)) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			size_t ll = strlen(line), sl = strlen(sock);
			if (ll >= sl && !strcmp(line + ll - sl, sock) && line[ll - sl - 1] == ' ')
				found = 1;
		}
		fclose(f);
		if (!found)
			return;
		sleep_ms(50);
	}
	cr_assert_fail("the store %s is still alive after 5 s", name);
}

Test(save, without_save_nothing_leaves_the_store, .init = mk_tmp, .fini = rm_tmp, .timeout = 30)
{
	char dir[512], env[2048], out[8192], before[8192], after[8192], cmd[1024];
	snprintf(dir, sizeof(dir), "%s/seed", tmp);
	make_seed(dir);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && find . -printf \"%%p %%y %%m %%s %%T@ %%l\\n\" | sort && "
		 "find . -type f -exec md5sum {} + | sort",
		 dir);
	FILE *p = popen(cmd, "r");
	size_t k = fread(before, 1, sizeof(before) - 1, p);
	before[k] = 0;
	pclose(p);
	snprintf(env, sizeof(env), "MEMSHIM_SEED=%s", dir);
	int st = t_sh(env,
		      "set -e; echo added > /mem/new.txt; echo changed > /mem/top.txt; "
		      "rm /mem/big; mkdir /mem/a/made; echo name=$MEMSHIM_STORE_ID",
		      out, sizeof(out));
	cr_assert_eq(st, 0, "status %d:\n%s", st, out);
	char *nm = strstr(out, "name=");
	cr_assert_not_null(nm, "%s", out);
	char name[128];
	cr_assert_eq(sscanf(nm, "name=%127s", name), 1);
	wait_store_gone(name);
	sleep_ms(200); /* the keeper's last moments, had it anything to do */
	p = popen(cmd, "r");
	k = fread(after, 1, sizeof(after) - 1, p);
	after[k] = 0;
	pclose(p);
	cr_assert_str_eq(after, before, "the seed directory changed");
	cr_assert_neq(access("/mem/new.txt", F_OK), 0, "a store file reached the real /mem");
}
