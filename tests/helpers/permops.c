/* permops — permissions as the kernel enforces them, for the differential
 * test (tests/test_e2e_diff.c, Test(e2e_perm, ...)): run as root under the
 * preload on a store directory and without it on a tmpfs directory, the
 * outputs must be the same.
 *
 *   permops DIR ACTOR       DIR: an existing, empty directory
 *
 * ACTOR is who makes the calls, in a forked child that switches to it:
 *   root     stays root (every capability), then again as "rootcaps": root
 *            without CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
 *            CAP_FOWNER, CAP_FSETID in its effective set (capset)
 *   nobody   uid and gid 65534, supplementary groups 100 and 300
 *            (setgroups, setresgid, setresuid: a full drop)
 *   user     uid 1000, gid 1000, no supplementary group
 *   euid     effective uid and gid 65534 with group 100, real and saved
 *            ids still root (setegid, seteuid: what pjdfstest does), so
 *            access() and faccessat(AT_EACCESS) answer differently
 *   drop     section of its own: a process that drops privileges in the
 *            middle of its run (setresuid) and keeps working
 *
 * For every directory of a matrix of modes (0000, 0700, 0755, 0777, 1777,
 * 2775, 0770) and owners (root, nobody, user with group 100), root builds a
 * fresh directory of files with assorted owners and modes, and a child
 * switched to ACTOR makes one call: open with each access mode, O_TRUNC,
 * O_CREAT and O_NOATIME, mkdir, rmdir, unlink, rename, link, symlink,
 * chmod, chown, utimensat, truncate, write, fallocate, exec; and, in one child, the calls
 * that change nothing (stat, access, faccessat, opendir, chdir). After every
 * call one line gives its result and errno, and (read by root) the owner,
 * group and mode of every name it may have touched. Nothing that
 * legitimately differs is printed: no fd numbers, inode numbers, or
 * times other than those the call set. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* glibc's, declared by libcap's header only */
int capget(void *hdr, void *data);
int capset(void *hdr, void *data);

static const char *D;        /* the top directory */
static char C[PATH_MAX];     /* the directory of the case being run */
static const char *actor;

static const char *en(int e) { return strerrorname_np(e) ? strerrorname_np(e) : "?"; }

/* C/name in one of a few rotating buffers ("" = C itself). */
static const char *P(const char *name)
{
	static char buf[8][PATH_MAX + 300];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, sizeof(buf[0]), name[0] ? "%s/%s" : "%s", C, name);
	return b;
}

static void die(const char *what)
{
	fprintf(stderr, "permops: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* ---- who makes the calls ------------------------------------------------------ */

static void become(const char *who)
{
	if (!strcmp(who, "root"))
		return;
	if (!strcmp(who, "nobody") || !strcmp(who, "drop")) {
		gid_t g[2] = {100, 300};
		if (setgroups(2, g) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			die("drop to nobody");
	} else if (!strcmp(who, "user")) {
		if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			die("drop to user");
	} else if (!strcmp(who, "rootcaps")) {
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2];
		if (capget(&h, d))
			die("capget");
		d[0].effective &= ~((1u << CAP_CHOWN) | (1u << CAP_DAC_OVERRIDE) |
				    (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER) | (1u << CAP_FSETID));
		if (capset(&h, d))
			die("capset");
	} else if (!strcmp(who, "euid")) {
		gid_t g[1] = {100};
		if (setgroups(1, g) || setegid(65534) || seteuid(65534))
			die("seteuid");
	} else {
		fprintf(stderr, "permops: no actor %s\n", who);
		exit(2);
	}
}

/* ---- the directory of one case --------------------------------------------------- */

static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		chmod(path, 0700);
		DIR *d = opendir(path);
		if (!d)
			die(path);
		struct dirent *e;
		char sub[PATH_MAX + 300];
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		closedir(d);
		if (rmdir(path))
			die(path);
	} else if (unlink(path)) {
		die(path);
	}
}

static void mkfile(const char *name, uid_t u, gid_t g, mode_t m)
{
	int fd = open(P(name), O_WRONLY | O_CREAT | O_EXCL, 0600);
	const char *body = name[0] == 'x' ? "#!/bin/sh\nexit 7\n" : "data";
	if (fd < 0 || write(fd, body, strlen(body)) != (ssize_t)strlen(body))
		die(name);
	close(fd);
	if (lchown(P(name), u, g) || chmod(P(name), m))
		die(name);
}

static void mkdirx(const char *name, uid_t u, gid_t g, mode_t m)
{
	if (mkdir(P(name), 0700) || lchown(P(name), u, g) || chmod(P(name), m))
		die(name);
}

/* The files of every case: "fo" of the directory's owner, "fn" of nobody,
 * "fu" of user, "fr" of root (0600), "fs" set-user-ID and "fg"
 * set-group-ID (both 0777 root:100), "fm" set-group-ID without group
 * execute (02666 user:100), a directory "sub" with an entry, an empty
 * directory "esub" of nobody, a symlink "sl". */
static void build(mode_t mode, uid_t u, gid_t g)
{
	rm_tree(C);
	if (mkdir(C, 0700))
		die(C);
	mkfile("fo", u, g, 0644);
	mkfile("fn", 65534, 65534, 0644);
	mkfile("fu", 1000, 1000, 0666);
	mkfile("fr", 0, 0, 0600);
	mkfile("fs", 0, 100, 04777);
	mkfile("fg", 0, 100, 02777);
	mkfile("fm", 1000, 100, 02666);
	mkfile("x", 0, 0, 0755);
	mkfile("xn", 0, 0, 0644);
	mkfile("xs", 0, 0, 0711);
	mkdirx("sub", u, g, 0777);
	mkfile("sub/in", u, g, 0644);
	mkdirx("esub", 65534, 65534, 0777);
	if (symlink("fo", P("sl")) || lchown(P("sl"), u, g))
		die("sl");
	if (chown(C, u, g) || chmod(C, mode))
		die("case directory");
}

/* "name:type/mode/uid/gid" for each name, as root sees it afterwards. */
static void state(char *out, size_t n, const char *names)
{
	char list[256];
	size_t k = strlen(out);
	snprintf(list, sizeof(list), "%s", names);
	for (char *save, *name = strtok_r(list, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
		struct stat st;
		if (lstat(P(!strcmp(name, ".") ? "" : name), &st) < 0) {
			k += (size_t)snprintf(out + k, n - k, " %s:%s", name, en(errno));
			continue;
		}
		const char *t = S_ISREG(st.st_mode) ? "f" : S_ISDIR(st.st_mode) ? "d"
			      : S_ISLNK(st.st_mode) ? "l" : "?";
		k += (size_t)snprintf(out + k, n - k, " %s:%s%04o/%u/%u", name, t,
				      (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
				      (unsigned)st.st_gid);
		if (S_ISREG(st.st_mode))
			k += (size_t)snprintf(out + k, n - k, "/%lld", (long long)st.st_size);
		if (k >= n)
			return;
	}
}

/* ---- one call in a child ------------------------------------------------------------ */

static char res[2048]; /* what the child's call returned, sent back through a pipe */

static void r_rc(long rc)
{
	if (rc < 0)
		snprintf(res, sizeof(res), "-1 %s", en(errno));
	else
		snprintf(res, sizeof(res), "%ld", rc);
}

/* open: "fd" or the failure; the fd is closed */
static void r_fd(int fd)
{
	if (fd < 0) {
		r_rc(-1);
		return;
	}
	snprintf(res, sizeof(res), "fd");
	close(fd);
}

/* Runs fn as the actor in a child; prints "<case> <what> -> <result> |
 * <state of names>". */
static void call(const char *cs, const char *what, const char *names, void (*fn)(const void *),
		 const void *arg)
{
	int pfd[2];
	if (pipe(pfd))
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(pfd[0]);
		become(actor);
		res[0] = 0;
		fn(arg);
		if (write(pfd[1], res, strlen(res)) < 0)
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	char got[2048];
	ssize_t n = read(pfd[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	char line[4096];
	snprintf(line, sizeof(line), "%s %s %s -> %s |", cs, actor, what,
		 WIFEXITED(st) && WEXITSTATUS(st) == 0 ? got : "(child died)");
	state(line, sizeof(line), names);
	printf("%s\n", line);
}

/* ---- the calls ------------------------------------------------------------------------ */

struct a_open {
	const char *name;
	int flags;
};
static void f_open(const void *v)
{
	const struct a_open *a = v;
	r_fd(open(P(a->name), a->flags, 02775));
}

struct a_path {
	const char *name, *name2;
	long x, y;
};
static void f_mkdir(const void *v) { r_rc(mkdir(P(((const struct a_path *)v)->name), 0777)); }
static void f_rmdir(const void *v) { r_rc(rmdir(P(((const struct a_path *)v)->name))); }
static void f_unlink(const void *v) { r_rc(unlink(P(((const struct a_path *)v)->name))); }
static void f_rename(const void *v)
{
	const struct a_path *a = v;
	r_rc(rename(P(a->name), P(a->name2)));
}
static void f_link(const void *v)
{
	const struct a_path *a = v;
	r_rc(link(P(a->name), P(a->name2)));
}
static void f_symlink(const void *v)
{
	const struct a_path *a = v;
	r_rc(symlink("target", P(a->name)));
}
static void f_chmod(const void *v)
{
	const struct a_path *a = v;
	r_rc(chmod(P(a->name), (mode_t)a->x));
}
static void f_chown(const void *v)
{
	const struct a_path *a = v;
	r_rc(chown(P(a->name), (uid_t)a->x, (gid_t)a->y));
}
static void f_lchown(const void *v)
{
	const struct a_path *a = v;
	r_rc(lchown(P(a->name), (uid_t)a->x, (gid_t)a->y));
}
static void f_truncate(const void *v)
{
	const struct a_path *a = v;
	r_rc(truncate(P(a->name), a->x));
}

/* utimensat: x selects the times; the result says what mtime became */
static void f_utimens(const void *v)
{
	const struct a_path *a = v;
	struct timespec t[2];
	const struct timespec *tp = t;
	switch (a->x) {
	case 0:
		tp = NULL;
		break;
	case 1:
		t[0].tv_nsec = t[1].tv_nsec = UTIME_NOW;
		break;
	case 2:
		t[0].tv_sec = t[1].tv_sec = 1000000000;
		t[0].tv_nsec = t[1].tv_nsec = 0;
		break;
	default:
		t[0].tv_nsec = UTIME_OMIT;
		t[1].tv_nsec = UTIME_NOW;
		break;
	}
	int rc = utimensat(AT_FDCWD, P(a->name), tp, 0);
	r_rc(rc);
	struct stat st;
	if (rc == 0 && stat(P(a->name), &st) == 0)
		snprintf(res + strlen(res), sizeof(res) - strlen(res), " mtime=%s",
			 st.st_mtime == 1000000000 ? "set" : "now");
}

/* open for writing and write one byte (a writer clears set-id bits) */
static void f_write(const void *v)
{
	const struct a_path *a = v;
	int fd = open(P(a->name), O_WRONLY);
	if (fd < 0) {
		r_rc(-1);
		return;
	}
	r_rc(write(fd, "x", 1));
	close(fd);
}

static void f_ftruncate(const void *v)
{
	const struct a_path *a = v;
	int fd = open(P(a->name), O_WRONLY);
	if (fd < 0) {
		r_rc(-1);
		return;
	}
	r_rc(ftruncate(fd, 2));
	close(fd);
}

/* fallocate changes the file as a write does: set-id bits go (lowerfuzz
 * found the store kept them) */
static void f_fallocate(const void *v)
{
	const struct a_path *a = v;
	int fd = open(P(a->name), O_WRONLY);
	if (fd < 0) {
		r_rc(-1);
		return;
	}
	r_rc(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096));
	close(fd);
}

/* exec: the exit status of the program, or why it did not run */
static void f_exec(const void *v)
{
	const struct a_path *a = v;
	int pfd[2];
	if (pipe(pfd))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 2);
		execl(P(a->name), a->name, (char *)NULL);
		int e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	int e = 0, st = 0;
	ssize_t n = read(pfd[0], &e, sizeof(e));
	close(pfd[0]);
	waitpid(pid, &st, 0);
	if (n == sizeof(e))
		snprintf(res, sizeof(res), "-1 %s", en(e));
	else
		snprintf(res, sizeof(res), "status=%d", WEXITSTATUS(st));
}

/* The calls that change nothing, in one child: the walk (stat), access
 * with the real ids and with the effective ones, opendir, chdir. */
static void f_probe(const void *v)
{
	static const char *names[] = {"", "fo", "fn", "fu", "fr", "fs", "sub", "sub/in", "sl", "xn", "missing"};
	size_t k = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *n = names[i][0] ? names[i] : ".";
		struct stat st;
		k += (size_t)snprintf(res + k, sizeof(res) - k, "%s[", n);
		k += (size_t)snprintf(res + k, sizeof(res) - k, "st=%s", stat(P(names[i]), &st) ? en(errno) : "0");
		for (int m = 0; m < 4; m++) {
			static const int modes[] = {F_OK, R_OK, W_OK, X_OK};
			int a = access(P(names[i]), modes[m]);
			int e = a ? errno : 0;
			int b = faccessat(AT_FDCWD, P(names[i]), modes[m], AT_EACCESS);
			k += (size_t)snprintf(res + k, sizeof(res) - k, " %c%s/%s", "FRWX"[m],
					      a ? en(e) : "0", b ? en(errno) : "0");
		}
		k += (size_t)snprintf(res + k, sizeof(res) - k, "] ");
		if (k >= sizeof(res))
			return;
	}
	DIR *d = opendir(P(""));
	k += (size_t)snprintf(res + k, sizeof(res) - k, "opendir=%s", d ? "0" : en(errno));
	if (d)
		closedir(d);
	snprintf(res + k, sizeof(res) - k, " chdir=%s", chdir(P("sub")) ? en(errno) : "0");
}

/* ---- the matrix -------------------------------------------------------------------------- */

#define OPEN(n, fl, names) {#fl " " n, names, f_open, &(const struct a_open){n, fl}}
#define PATHOP(what, names, fn, ...) {what, names, fn, &(const struct a_path){__VA_ARGS__}}
#define N1(n) .name = n
#define N2(n, m) .name = n, .name2 = m
#define NX(n, x_) .name = n, .x = x_
#define NXY(n, x_, y_) .name = n, .x = x_, .y = y_

static const struct op {
	const char *what, *names;
	void (*fn)(const void *);
	const void *arg;
} ops[] = {
	{"probe", "", f_probe, NULL},
	OPEN("fo", O_RDONLY, "fo"),
	OPEN("fo", O_WRONLY, "fo"),
	OPEN("fo", O_RDWR, "fo"),
	OPEN("fo", O_WRONLY | O_TRUNC, "fo"),
	OPEN("fo", O_RDONLY | O_TRUNC, "fo"),
	OPEN("fo", O_WRONLY | O_CREAT, "fo"),
	OPEN("fo", O_RDONLY | O_NOATIME, "fo"),
	OPEN("fu", O_RDWR, "fu"),
	OPEN("fu", O_RDWR | O_CREAT, "fu"),
	OPEN("fn", O_WRONLY | O_CREAT | O_EXCL, "fn"),
	OPEN("fs", O_WRONLY | O_TRUNC, "fs"),
	OPEN("new", O_WRONLY | O_CREAT, "new"),
	OPEN("new", O_WRONLY | O_CREAT | O_EXCL, "new"),
	OPEN("sub/new", O_WRONLY | O_CREAT, "sub/new"),
	OPEN("sl", O_RDONLY, "sl"),
	OPEN("sub", O_RDONLY | O_DIRECTORY, "sub"),
	OPEN("", O_RDONLY | O_DIRECTORY, "."),
	PATHOP("mkdir new", "new", f_mkdir, N1("new")),
	PATHOP("mkdir sub", "sub", f_mkdir, N1("sub")),
	PATHOP("mkdir sub/new", "sub/new", f_mkdir, N1("sub/new")),
	PATHOP("rmdir esub", "esub", f_rmdir, N1("esub")),
	PATHOP("rmdir sub", "sub", f_rmdir, N1("sub")),
	PATHOP("rmdir fo", "fo", f_rmdir, N1("fo")),
	PATHOP("unlink fo", "fo", f_unlink, N1("fo")),
	PATHOP("unlink fn", "fn", f_unlink, N1("fn")),
	PATHOP("unlink fu", "fu", f_unlink, N1("fu")),
	PATHOP("unlink fr", "fr", f_unlink, N1("fr")),
	PATHOP("unlink sub", "sub", f_unlink, N1("sub")),
	PATHOP("unlink sl", "sl", f_unlink, N1("sl")),
	PATHOP("unlink sub/in", "sub/in", f_unlink, N1("sub/in")),
	PATHOP("rename fn new", "fn new", f_rename, N2("fn", "new")),
	PATHOP("rename fu fn", "fu fn", f_rename, N2("fu", "fn")),
	PATHOP("rename fo fr", "fo fr", f_rename, N2("fo", "fr")),
	PATHOP("rename esub new", "esub new", f_rename, N2("esub", "new")),
	PATHOP("rename esub sub/x", "esub sub/x", f_rename, N2("esub", "sub/x")),
	PATHOP("rename sub/in fn", "sub/in fn", f_rename, N2("sub/in", "fn")),
	PATHOP("rename fo sub", "fo sub", f_rename, N2("fo", "sub")),
	PATHOP("rename esub fo", "esub fo", f_rename, N2("esub", "fo")),
	PATHOP("link fo new", "fo new", f_link, N2("fo", "new")),
	PATHOP("link fr new", "fr new", f_link, N2("fr", "new")),
	PATHOP("link fu new", "fu new", f_link, N2("fu", "new")),
	PATHOP("link fn sub/new", "fn sub/new", f_link, N2("fn", "sub/new")),
	PATHOP("symlink new", "new", f_symlink, N1("new")),
	PATHOP("chmod fo 0640", "fo", f_chmod, NX("fo", 0640)),
	PATHOP("chmod fo 02755", "fo", f_chmod, NX("fo", 02755)),
	PATHOP("chmod fn 02755", "fn", f_chmod, NX("fn", 02755)),
	PATHOP("chmod fm 02666", "fm", f_chmod, NX("fm", 02666)),
	PATHOP("chmod . 0755", ".", f_chmod, NX("", 0755)),
	PATHOP("chmod fu 01666", "fu", f_chmod, NX("fu", 01666)),
	PATHOP("chown fo 65534 -1", "fo", f_chown, NXY("fo", 65534, -1)),
	PATHOP("chown fn 65534 -1", "fn", f_chown, NXY("fn", 65534, -1)),
	PATHOP("chown fn -1 100", "fn", f_chown, NXY("fn", -1, 100)),
	PATHOP("chown fn -1 300", "fn", f_chown, NXY("fn", -1, 300)),
	PATHOP("chown fn -1 1000", "fn", f_chown, NXY("fn", -1, 1000)),
	PATHOP("chown fn -1 -1", "fn", f_chown, NXY("fn", -1, -1)),
	PATHOP("chown fu -1 -1", "fu", f_chown, NXY("fu", -1, -1)),
	PATHOP("chown fs -1 -1", "fs", f_chown, NXY("fs", -1, -1)),
	PATHOP("chown fs 0 0", "fs", f_chown, NXY("fs", 0, 0)),
	PATHOP("chown fg 0 100", "fg", f_chown, NXY("fg", 0, 100)),
	PATHOP("chown fm 1000 100", "fm", f_chown, NXY("fm", 1000, 100)),
	PATHOP("chown fm -1 1000", "fm", f_chown, NXY("fm", -1, 1000)),
	PATHOP("chown . 1000 100", ".", f_chown, NXY("", 1000, 100)),
	PATHOP("lchown sl 65534 65534", "sl", f_lchown, NXY("sl", 65534, 65534)),
	PATHOP("utimens fo NULL", "fo", f_utimens, NX("fo", 0)),
	PATHOP("utimens fu NULL", "fu", f_utimens, NX("fu", 0)),
	PATHOP("utimens fu NOW,NOW", "fu", f_utimens, NX("fu", 1)),
	PATHOP("utimens fu set", "fu", f_utimens, NX("fu", 2)),
	PATHOP("utimens fu OMIT,NOW", "fu", f_utimens, NX("fu", 3)),
	PATHOP("utimens fn set", "fn", f_utimens, NX("fn", 2)),
	PATHOP("utimens fr NULL", "fr", f_utimens, NX("fr", 0)),
	PATHOP("truncate fo 1", "fo", f_truncate, NX("fo", 1)),
	PATHOP("truncate fu 1", "fu", f_truncate, NX("fu", 1)),
	PATHOP("truncate fs 1", "fs", f_truncate, NX("fs", 1)),
	PATHOP("truncate sub 1", "sub", f_truncate, NX("sub", 1)),
	PATHOP("write fs", "fs", f_write, N1("fs")),
	PATHOP("write fg", "fg", f_write, N1("fg")),
	PATHOP("write fm", "fm", f_write, N1("fm")),
	PATHOP("ftruncate fs", "fs", f_ftruncate, N1("fs")),
	PATHOP("ftruncate fg", "fg", f_ftruncate, N1("fg")),
	PATHOP("fallocate fs", "fs", f_fallocate, N1("fs")),
	PATHOP("fallocate fg", "fg", f_fallocate, N1("fg")),
	PATHOP("exec x", "x", f_exec, N1("x")),
	PATHOP("exec xn", "xn", f_exec, N1("xn")),
	PATHOP("exec xs", "xs", f_exec, N1("xs")),
	PATHOP("exec sub", "sub", f_exec, N1("sub")),
};

static const mode_t dir_modes[] = {0000, 0700, 0755, 0777, 01777, 02775, 0770};
static const struct {
	uid_t u;
	gid_t g;
} dir_owners[] = {{0, 0}, {65534, 65534}, {1000, 100}};

static void matrix(void)
{
	for (size_t m = 0; m < sizeof(dir_modes) / sizeof(dir_modes[0]); m++)
		for (size_t o = 0; o < sizeof(dir_owners) / sizeof(dir_owners[0]); o++) {
			char cs[64];
			snprintf(cs, sizeof(cs), "d%04o:%u:%u", (unsigned)dir_modes[m],
				 (unsigned)dir_owners[o].u, (unsigned)dir_owners[o].g);
			for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
				/* A program exec'd with real and effective uids
				 * apart runs in secure-execution mode, where
				 * ld.so ignores LD_PRELOAD: it cannot see a
				 * store (README, limits). */
				if (ops[i].fn == f_exec && !strcmp(actor, "euid"))
					continue;
				build(dir_modes[m], dir_owners[o].u, dir_owners[o].g);
				call(cs, ops[i].what, ops[i].names, ops[i].fn, ops[i].arg);
			}
		}
	rm_tree(C);
}

/* ---- a process that drops privileges in the middle of its run ----------------------------- */

static void say(const char *what, long rc)
{
	if (rc < 0)
		printf("drop %s -> -1 %s\n", what, en(errno));
	else
		printf("drop %s -> %ld\n", what, rc);
	fflush(stdout);
}

static void dropping(void)
{
	rm_tree(C);
	if (mkdir(C, 0777) || chmod(C, 0777))
		die(C);
	/* a vfork child that changes its ids and execs a program */
	char cmd[PATH_MAX * 2 + 64];
	snprintf(cmd, sizeof(cmd), "id -u; echo v > %s", P("vforked"));
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		if (setresuid(65534, 65534, 65534) == 0)
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int vst = 0;
	waitpid(pid, &vst, 0);
	say("vfork, setresuid, exec sh", WEXITSTATUS(vst));
	pid = fork();
	if (pid == 0) {
		/* as root: a file, an fd kept open across the drop, a private dir */
		int keep = open(P("mine"), O_RDWR | O_CREAT, 0600);
		say("open mine as root", keep < 0 ? -1 : 0);
		say("write as root", write(keep, "root", 4));
		say("mkdir private 0700", mkdir(P("private"), 0700));
		int pub = open(P("pub"), O_RDWR | O_CREAT, 0666);
		say("chmod pub 0666", fchmod(pub, 0666));
		close(pub);
		become("drop");
		say("getuid", getuid());
		say("write kept fd", write(keep, "+", 1));
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", keep);
		int re = open(proc, O_RDONLY);
		say("reopen kept fd by /proc", re < 0 ? -1 : 0);
		if (re >= 0)
			close(re);
		say("open mine", open(P("mine"), O_RDONLY));
		int fd = open(P("pub"), O_RDWR);
		say("open pub rw", fd < 0 ? -1 : 0);
		say("write pub", write(fd, "nobody", 6));
		say("pread pub", pread(fd, proc, 6, 0));
		close(fd);
		fd = open(P("made"), O_RDWR | O_CREAT | O_EXCL, 0640);
		say("create made", fd < 0 ? -1 : 0);
		say("write made", write(fd, "abc", 3));
		close(fd);
		say("mkdir private/x", mkdir(P("private/x"), 0777));
		say("mkdir dir", mkdir(P("dir"), 0755));
		fd = open(P("dir/inner"), O_WRONLY | O_CREAT, 0644);
		say("create dir/inner", fd < 0 ? -1 : 0);
		close(fd);
		say("rename made dir/made", rename(P("made"), P("dir/made")));
		say("unlink mine", unlink(P("mine")));
		say("chmod dir 0700", chmod(P("dir"), 0700));
		fflush(stdout);
		pid_t g = fork();
		if (g == 0) {
			/* a child of the dropped process works too */
			int k = open(P("dir/child"), O_WRONLY | O_CREAT, 0600);
			say("child create dir/child", k < 0 ? -1 : 0);
			say("child write", write(k, "c", 1));
			close(k);
			_exit(0);
		}
		waitpid(g, NULL, 0);
		/* programs it starts see the store too: system() (glibc's own
		 * spawn) and an exec of a shell */
		snprintf(cmd, sizeof(cmd), "echo sys > %s && cat %s; echo", P("dir/sys"), P("pub"));
		say("system", system(cmd));
		fflush(stdout);
		g = fork();
		if (g == 0) {
			snprintf(cmd, sizeof(cmd), "id -u; echo sh > %s; ls %s", P("dir/sh"), P("dir"));
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		int st = 0;
		waitpid(g, &st, 0);
		say("exec sh", WEXITSTATUS(st));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	char line[2048] = "drop state:";
	state(line, sizeof(line),
	      "vforked mine pub made dir dir/made dir/inner dir/child dir/sys dir/sh private private/x");
	printf("%s\n", line);
	rm_tree(C);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: permops DIR ACTOR\n");
		return 2;
	}
	D = argv[1];
	actor = argv[2];
	umask(022);
	/* the other users must get through DIR (mkdtemp made it 0700) */
	if (chmod(D, 0755))
		die(D);
	snprintf(C, sizeof(C), "%s/case", D);
	if (!strcmp(actor, "drop")) {
		dropping();
	} else if (!strcmp(actor, "root")) {
		matrix();
		actor = "rootcaps";
		matrix();
	} else {
		matrix();
	}
	return 0;
}
