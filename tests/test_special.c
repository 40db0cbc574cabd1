/* tests/test_special.c — special files in core (core/special.c and
 * ms_mknod in core/ns.c) on a local store: each FIFO, socket or device
 * node has a real counterpart named by its st_ino in the store's private
 * directory, made with the node, following its mode, shared by its hard
 * links and removed with its last name; the directory goes with the
 * store. What programs see through the shim is compared with tmpfs in
 * test_e2e_diff.c (fifos, sockets). */
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "common.h"

static ms_store *S;

static void setup(void)
{
	struct ms_config c = t_config(0, 0);
	S = t_local(&c);
}

static void teardown(void)
{
	if (!S)
		return;
	t_assert_consistent(S);
	ms_store_close(S);
}

TestSuite(special, .init = setup, .fini = teardown);

/* The counterpart of the node at path, and its real stat (-errno when it
 * is not there). */
static int real_of(const char *path, char *cp, struct stat *rst)
{
	struct stat st;
	int r = ms_stat(S, 0, path, MS_NOFOLLOW, &st);
	cr_assert_eq(r, 0, "stat %s: %d", path, r);
	cr_assert_gt(ms_special_name(S, st.st_ino, cp, MS_SPECIAL_PATH_MAX), 0);
	return lstat(cp, rst) ? -errno : 0;
}

static uint64_t nodes(void)
{
	struct ms_stats st;
	ms_stats_get(S, &st);
	return st.used_nodes;
}

Test(special, names_fit_in_sun_path)
{
	char dir[MS_SPECIAL_PATH_MAX], cp[MS_SPECIAL_PATH_MAX];
	int n = ms_special_dir(S, dir, sizeof(dir));
	cr_assert_gt(n, 0);
	cr_assert(strncmp(dir, "/tmp/.memshim-", 14) == 0, "%s", dir);
	n = ms_special_name(S, UINT64_MAX, cp, sizeof(cp));
	cr_assert_gt(n, 0, "the longest counterpart name fits MS_SPECIAL_PATH_MAX");
	cr_assert_lt((size_t)n, sizeof(((struct sockaddr_un *)0)->sun_path));
}

Test(special, a_store_without_special_nodes_makes_no_directory)
{
	char dir[MS_SPECIAL_PATH_MAX];
	struct stat st;
	ms_special_dir(S, dir, sizeof(dir));
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_neq(lstat(dir, &st), 0, "%s exists", dir);
}

Test(special, fifo_has_a_counterpart_that_follows_it)
{
	char cp[MS_SPECIAL_PATH_MAX], dir[MS_SPECIAL_PATH_MAX];
	struct stat rst, st;
	uint64_t before = nodes();
	cr_assert_eq(ms_mknod(S, 0, "/mem/f", S_IFIFO | 0640, 0, -1), 0);
	cr_assert_eq(nodes(), before + 1, "one node charged");
	cr_assert_eq(real_of("/mem/f", cp, &rst), 0, "no counterpart %s", cp);
	cr_assert(S_ISFIFO(rst.st_mode));
	cr_assert_eq(rst.st_mode & 07777, 0640);
	ms_special_dir(S, dir, sizeof(dir));
	cr_assert_eq(lstat(dir, &st), 0);
	/* a root store's processes may switch uid: anyone may search and
	 * create there, nobody may list or remove another's (special.c) */
	mode_t want = geteuid() == 0 ? 01733 : 0700;
	cr_assert_eq(st.st_mode & 07777, want, "private directory mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_uid, geteuid());

	cr_assert_eq(ms_chmod(S, 0, "/mem/f", 0, 0604), 0);
	lstat(cp, &rst);
	cr_assert_eq(rst.st_mode & 07777, 0604, "chmod reaches the counterpart");

	int fd = -1;
	ms_ino ino;
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_RDONLY | O_NONBLOCK, 0, &fd, &ino), -MS_ESPECIAL);
	cr_assert_str_eq(ms_special_path(), cp);
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_RDONLY | O_DIRECTORY, 0, &fd, &ino), -ENOTDIR);
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_CREAT | O_EXCL | O_WRONLY, 0644, &fd, &ino), -EEXIST);

	struct ms_dirent e;
	uint64_t cookie = 2;
	ms_ino mem;
	cr_assert_eq(ms_lookup(S, 0, "/mem", 0, &mem), 0);
	cr_assert_eq(ms_readdir(S, mem, cookie, &e), 1);
	cr_assert_str_eq(e.name, "f");
	cr_assert_eq(e.type, DT_FIFO);

	char path[PATH_MAX];
	cr_assert_eq(ms_stat(S, 0, "/mem/f", 0, &st), 0);
	cr_assert_eq(ms_ino_path(S, st.st_ino, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/mem/f");

	/* hard links share it; the last name takes it away */
	cr_assert_eq(ms_link(S, 0, "/mem/f", 0, "/mem/g", MS_NOFOLLOW), 0);
	cr_assert_eq(ms_rename(S, 0, "/mem/f", 0, "/mem/h", 0), 0);
	cr_assert_eq(real_of("/mem/g", cp, &rst), 0);
	cr_assert_eq(ms_unlink(S, 0, "/mem/h"), 0);
	cr_assert_eq(lstat(cp, &rst), 0, "one name left: counterpart kept");
	cr_assert_eq(ms_unlink(S, 0, "/mem/g"), 0);
	cr_assert_neq(lstat(cp, &rst), 0, "last name gone: counterpart %s kept", cp);
	cr_assert_eq(ms_ino_path(S, st.st_ino, path, sizeof(path)), -ENOENT);
	cr_assert_eq(nodes(), before);
}

Test(special, errors_leave_nothing_behind)
{
	uint64_t before = nodes();
	cr_assert_eq(ms_mknod(S, 0, "/mem/x", S_IFREG | 0644, 0, -1), -EINVAL);
	cr_assert_eq(ms_mknod(S, 0, "/mem/x", S_IFDIR | 0755, 0, -1), -EINVAL);
	cr_assert_eq(ms_mknod(S, 0, "/mem/nodir/x", S_IFIFO | 0644, 0, -1), -ENOENT);
	cr_assert_eq(ms_mknod(S, 0, "/mem/f", S_IFIFO | 0644, 0, -1), 0);
	cr_assert_eq(ms_mknod(S, 0, "/mem/f", S_IFIFO | 0644, 0, -1), -EEXIST);
	cr_assert_eq(ms_mknod(S, 0, "/mem/f/x", S_IFIFO | 0644, 0, -1), -ENOTDIR);
	int r = ms_mknod(S, 0, "/mem/c", S_IFCHR | 0644, makedev(1, 3), -1);
	if (geteuid() == 0) {
		cr_assert_eq(r, 0);
		struct stat st;
		cr_assert_eq(ms_stat(S, 0, "/mem/c", 0, &st), 0);
		cr_assert(S_ISCHR(st.st_mode));
		cr_assert_eq(st.st_rdev, makedev(1, 3));
		cr_assert_eq(ms_unlink(S, 0, "/mem/c"), 0);
	} else {
		cr_assert_eq(r, -EPERM, "a device needs CAP_MKNOD: %d", r);
		struct stat st;
		cr_assert_eq(ms_stat(S, 0, "/mem/c", 0, &st), -ENOENT);
	}
	cr_assert_eq(ms_unlink(S, 0, "/mem/f"), 0);
	cr_assert_eq(nodes(), before);
}

Test(special, a_socket_is_made_by_binding)
{
	char cp[MS_SPECIAL_PATH_MAX];
	struct stat rst;
	int a = socket(AF_UNIX, SOCK_STREAM, 0), b = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(ms_mknod(S, 0, "/mem/s", S_IFSOCK | 0777, 0, a), 0);
	cr_assert_eq(real_of("/mem/s", cp, &rst), 0);
	cr_assert(S_ISSOCK(rst.st_mode));
	struct sockaddr_un sa;
	socklen_t l = sizeof(sa);
	cr_assert_eq(getsockname(a, (struct sockaddr *)&sa, &l), 0);
	cr_assert_str_eq(sa.sun_path, cp, "bound to the counterpart");
	cr_assert_eq(ms_mknod(S, 0, "/mem/s", S_IFSOCK | 0777, 0, b), -EEXIST);
	/* a socket bound already: the kernel's EINVAL, and no node */
	uint64_t before = nodes();
	cr_assert_eq(ms_mknod(S, 0, "/mem/t", S_IFSOCK | 0777, 0, a), -EINVAL);
	cr_assert_eq(nodes(), before);
	cr_assert_eq(ms_mknod(S, 0, "/mem/t", S_IFIFO | 0777, 0, a), -EINVAL, "sockfd with a FIFO");
	cr_assert_eq(listen(a, 1), 0);
	struct sockaddr_un to = {.sun_family = AF_UNIX};
	strcpy(to.sun_path, cp);
	cr_assert_eq(connect(b, (struct sockaddr *)&to, sizeof(to)), 0);
	close(a);
	close(b);
	cr_assert_eq(ms_unlink(S, 0, "/mem/s"), 0);
	cr_assert_neq(lstat(cp, &rst), 0);
}

Test(special, a_stale_counterpart_is_replaced)
{
	char cp[MS_SPECIAL_PATH_MAX];
	struct stat st, rst;
	cr_assert_eq(ms_mknod(S, 0, "/mem/a", S_IFIFO | 0644, 0, -1), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/a", 0, &st), 0);
	/* st_ino numbers are handed out in order: the next node's name, left
	 * there by an earlier store of the same name */
	ms_special_name(S, st.st_ino + 1, cp, sizeof(cp));
	int fd = open(cp, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(ms_mknod(S, 0, "/mem/b", S_IFIFO | 0644, 0, -1), 0);
	cr_assert_eq(real_of("/mem/b", cp, &rst), 0);
	cr_assert(S_ISFIFO(rst.st_mode), "stale file not replaced");
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/b", 0, &st), 0);
	ms_special_name(S, st.st_ino + 1, cp, sizeof(cp));
	fd = open(cp, O_CREAT | O_WRONLY, 0600);
	close(fd);
	cr_assert_eq(ms_mknod(S, 0, "/mem/c", S_IFSOCK | 0755, 0, s), 0, "bind over a stale file");
	close(s);
}

Test(special, the_directory_goes_with_the_store)
{
	char dir[MS_SPECIAL_PATH_MAX];
	struct stat st;
	cr_assert_eq(ms_mknod(S, 0, "/mem/f", S_IFIFO | 0644, 0, -1), 0);
	cr_assert_eq(ms_mknod(S, 0, "/mem/g", S_IFSOCK | 0644, 0, -1), 0);
	ms_special_dir(S, dir, sizeof(dir));
	cr_assert_eq(lstat(dir, &st), 0);
	t_assert_consistent(S);
	ms_store_close(S);
	S = NULL;
	cr_assert_neq(lstat(dir, &st), 0, "%s left behind", dir);
}

/* A directory of another user (or a symlink) by the private directory's
 * name is never used. */
Test(special, a_directory_not_the_stores_is_refused)
{
	char dir[MS_SPECIAL_PATH_MAX];
	ms_special_dir(S, dir, sizeof(dir));
	cr_assert_eq(symlink("/tmp", dir), 0);
	int r = ms_mknod(S, 0, "/mem/f", S_IFIFO | 0644, 0, -1);
	unlink(dir);
	cr_assert_eq(r, -EACCES, "%d", r);
	struct stat st;
	cr_assert_eq(ms_stat(S, 0, "/mem/f", 0, &st), -ENOENT);
}
