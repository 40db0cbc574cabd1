/* xattrops — extended attribute calls, for the differential test
 * (tests/test_e2e_diff.c, Test(e2e_diff, xattr_*)): run under the preload on
 * a store directory and without it on a tmpfs directory, the outputs must be
 * the same.
 *
 *   xattrops DIR SECTION     DIR: an existing, empty directory
 *
 * SECTION: names (namespaces, name lengths, flags), values (sizes, ERANGE,
 * E2BIG, CREATE/REPLACE), list (listxattr sizes), types (files, directories,
 * symlinks, missing paths, the l and f variants, /proc/self/fd), life
 * (ctime, hard links, rename, unlinked open files, reused slots), acl
 * (system.posix_acl_*), uid (the same as another uid, in a child that
 * dropped root; skipped when not root), dotdot (".." of DIR's parents).
 *
 * Each call prints one line: <call> <target> <name> [args] -> <result>
 * <errno or -> [value]. Lists are printed sorted (tmpfs lists in the order
 * of its hash table). No fd numbers, inode numbers or times are printed. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "helpers/ops.h"

/* A name as printed: itself, or its length when long or empty. */
static const char *nm(const char *n)
{
	static char b[4][64];
	static int k;
	char *o = b[k++ % 4];
	if (!n)
		return "(null)";
	size_t l = strlen(n);
	if (l == 0 || l > 40)
		snprintf(o, 64, "<%zu:%.8s>", l, n);
	else
		snprintf(o, 64, "%s", n);
	return o;
}

static void value(const char *v, ssize_t k)
{
	if (k > 64) {
		uint32_t h = 2166136261u;
		for (ssize_t i = 0; i < k; i++)
			h = (h ^ (uint8_t)v[i]) * 16777619u;
		printf(" <%zd bytes %08x>", k, h);
		return;
	}
	printf(" \"");
	for (ssize_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c >= 32 && c < 127 && c != '"' && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\"");
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NUL-separated list, sorted. */
static void names(const char *l, ssize_t k)
{
	const char *v[1024];
	int n = 0;
	for (ssize_t i = 0; i < k && n < 1024; i += (ssize_t)strlen(l + i) + 1)
		v[n++] = l + i;
	qsort(v, (size_t)n, sizeof(v[0]), cmpstr);
	printf(" [");
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", nm(v[i]));
	printf("]");
}

static void end(ssize_t r, int e)
{
	if (r < 0)
		printf(" -> -1 %s", en(e));
	else
		printf(" -> %zd -", r);
}

/* Variants: 'p' path, 'l' no-follow path, 'f' fd. */
static char vbuf[70000], lbuf[70000];

static void xget(char v, const char *t, int fd, const char *name, size_t n)
{
	ssize_t r = v == 'p' ? getxattr(P(t), name, n ? vbuf : NULL, n)
		  : v == 'l' ? lgetxattr(P(t), name, n ? vbuf : NULL, n)
			     : fgetxattr(fd, name, n ? vbuf : NULL, n);
	int e = errno;
	printf("%cget %s %s %zu", v == 'p' ? ' ' : v, t, nm(name), n);
	end(r, e);
	if (r > 0 && n)
		value(vbuf, r);
	printf("\n");
	fflush(stdout);
}

static void xset(char v, const char *t, int fd, const char *name, const char *val, size_t n,
		 int flags)
{
	int r = v == 'p' ? setxattr(P(t), name, val, n, flags)
	      : v == 'l' ? lsetxattr(P(t), name, val, n, flags)
			 : fsetxattr(fd, name, val, n, flags);
	int e = errno;
	printf("%cset %s %s %zu fl=%d", v == 'p' ? ' ' : v, t, nm(name), n, flags);
	end(r, e);
	printf("\n");
	fflush(stdout);
}

static void xlist(char v, const char *t, int fd, size_t n)
{
	ssize_t r = v == 'p' ? listxattr(P(t), n ? lbuf : NULL, n)
		  : v == 'l' ? llistxattr(P(t), n ? lbuf : NULL, n)
			     : flistxattr(fd, n ? lbuf : NULL, n);
	int e = errno;
	printf("%clist %s %zu", v == 'p' ? ' ' : v, t, n);
	end(r, e);
	if (r > 0 && n)
		names(lbuf, r);
	printf("\n");
	fflush(stdout);
}

static void xrm(char v, const char *t, int fd, const char *name)
{
	int r = v == 'p' ? removexattr(P(t), name)
	      : v == 'l' ? lremovexattr(P(t), name)
			 : fremovexattr(fd, name);
	int e = errno;
	printf("%crm %s %s", v == 'p' ? ' ' : v, t, nm(name));
	end(r, e);
	printf("\n");
	fflush(stdout);
}

/* The list with a buffer large enough: what a reader sees. */
static void ls(const char *t) { xlist('l', t, -1, sizeof(lbuf)); }

static void note(const char *what, int r)
{
	int e = errno;
	printf("%s", what);
	end(r, e);
	printf("\n");
	fflush(stdout);
}

static void mkfile(const char *name, const char *content, mode_t mode)
{
	int fd = open(P(name), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0 || write(fd, content, strlen(content)) < 0)
		perror(P(name)), exit(2);
	close(fd);
	chmod(P(name), mode);
}

static void mode_of(const char *t)
{
	struct stat st;
	int r = lstat(P(t), &st);
	int e = errno;
	if (r)
		printf("mode %s -> -1 %s\n", t, en(e));
	else
		printf("mode %s -> %04o\n", t, (unsigned)(st.st_mode & 07777));
	fflush(stdout);
}

static char longname[300], name255[300], name256[300];

static void make_names(void)
{
	memset(longname, 'u', 256);
	longname[256] = 0;
	strcpy(name255, "user.");
	memset(name255 + 5, 'a', 250);
	name255[255] = 0;
	strcpy(name256, "user.");
	memset(name256 + 5, 'b', 251);
	name256[256] = 0;
}

/* ---- sections ---------------------------------------------------------------- */

static void s_names(void)
{
	mkfile("f", "data", 0644);
	const char *ns[] = {"user.a",     "user.",       "trusted.",  "security.", "system.",
			    "system.foo", "foo.a",       "user",      "",          longname,
			    name255,      name256,       "trusted.t", "security.s", "USER.a",
			    "user.a.b",   "user.with space", "user./", "security.capability"};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		xset('p', "f", -1, ns[i], "1", 1, 0);
		xget('p', "f", -1, ns[i], 64);
		ls("f");
		xrm('p', "f", -1, ns[i]);
		xget('p', "f", -1, ns[i], 64);
	}
	/* flags, on a present and a missing name */
	for (int fl = 0; fl <= 4; fl++) {
		xset('p', "f", -1, "user.present", "p", 1, 0);
		xset('p', "f", -1, "user.present", "new", 3, fl);
		xget('p', "f", -1, "user.present", 64);
		xset('p', "f", -1, "user.missing", "m", 1, fl);
		xget('p', "f", -1, "user.missing", 64);
		xrm('p', "f", -1, "user.missing");
	}
	xset('p', "f", -1, "user.a", "1", 1, -1);
	xset('p', "f", -1, "user.a", "1", 1, 8);
	/* checks made before the path is looked at */
	xset('p', "nope", -1, "user.a", "1", 1, 4);
	xset('p', "nope", -1, "", "1", 1, 0);
	xset('p', "nope", -1, longname, "1", 1, 0);
	xset('p', "nope", -1, "user.a", vbuf, 65537, 0);
	xset('p', "nope", -1, "", vbuf, 65537, 4);
	xset('p', "nope", -1, "", vbuf, 65537, 0);
	xget('p', "nope", -1, "", 10);
	xrm('p', "nope", -1, longname);
	xset('p', "nope", -1, "foo.a", "1", 1, 0);
	xget('p', "nope", -1, "foo.a", 10);
	ls("f");
}

static void s_values(void)
{
	mkfile("f", "data", 0644);
	xset('p', "f", -1, "user.empty", NULL, 0, 0);
	xget('p', "f", -1, "user.empty", 0);
	xget('p', "f", -1, "user.empty", 10);
	xset('p', "f", -1, "user.empty2", "x", 0, 0);
	xget('p', "f", -1, "user.empty2", 10);
	xset('p', "f", -1, "user.v", "hello", 5, 0);
	xget('p', "f", -1, "user.v", 0);
	xget('p', "f", -1, "user.v", 4);
	xget('p', "f", -1, "user.v", 5);
	xget('p', "f", -1, "user.v", 1000);
	xget('p', "f", -1, "user.v", 100000);
	xset('p', "f", -1, "user.v", "hi", 2, 0);
	xget('p', "f", -1, "user.v", 100);
	xset('p', "f", -1, "user.v", "bin\0ary\n\xff", 10, XATTR_REPLACE);
	xget('p', "f", -1, "user.v", 100);
	xset('p', "f", -1, "user.v", "no", 2, XATTR_CREATE);
	xget('p', "f", -1, "user.v", 100);
	xset('p', "f", -1, "user.none", "no", 2, XATTR_REPLACE);
	xget('p', "f", -1, "user.none", 100);
	for (size_t i = 0; i < sizeof(vbuf); i++)
		vbuf[i] = (char)(i * 7 + 3);
	xset('p', "f", -1, "user.big", vbuf, 65536, 0);
	xget('p', "f", -1, "user.big", 0);
	xget('p', "f", -1, "user.big", 65535);
	xget('p', "f", -1, "user.big", 65536);
	xget('p', "f", -1, "user.big", 70000);
	xset('p', "f", -1, "user.big2", vbuf, 65537, 0);
	xget('p', "f", -1, "user.big2", 0);
	/* values that cross block boundaries, grown and shrunk in place */
	size_t sizes[] = {1, 200, 243, 244, 252, 253, 500, 4000, 65536, 3, 0, 9999};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizeof(vbuf); j++)
			vbuf[j] = (char)(j * 13 + i);
		xset('p', "f", -1, name255, vbuf, sizes[i], 0);
		xget('p', "f", -1, name255, sizeof(vbuf));
	}
	xrm('p', "f", -1, "user.v");
	xrm('p', "f", -1, "user.v");
	xget('p', "f", -1, "user.v", 100);
	ls("f");
	/* many attributes on one file */
	for (int i = 0; i < 150; i++) {
		char n[32], v[64] = "";
		snprintf(n, sizeof(n), "user.many%03d", i);
		snprintf(v, sizeof(v), "value-%d", i * i);
		setxattr(P("f"), n, v, strlen(v) * (size_t)(i % 5), 0);
	}
	xlist('p', "f", -1, 0);
	xget('p', "f", -1, "user.many077", 100);
	for (int i = 0; i < 150; i += 2) {
		char n[32];
		snprintf(n, sizeof(n), "user.many%03d", i);
		removexattr(P("f"), n);
	}
	xlist('p', "f", -1, 0);
	xget('p', "f", -1, "user.many077", 100);
	xget('p', "f", -1, "user.many078", 100);
}

static void s_list(void)
{
	mkfile("f", "data", 0644);
	xlist('p', "f", -1, 0);
	xlist('p', "f", -1, 10);
	xset('p', "f", -1, "user.a", "1", 1, 0);
	xset('p', "f", -1, "user.bb", "22", 2, 0);
	xset('p', "f", -1, "trusted.c", "3", 1, 0);
	xset('p', "f", -1, "security.d", "4", 1, 0);
	xset('p', "f", -1, name255, "5", 1, 0);
	xlist('p', "f", -1, 0);
	ssize_t need = listxattr(P("f"), NULL, 0);
	xlist('p', "f", -1, (size_t)need - 1);
	xlist('p', "f", -1, (size_t)need);
	xlist('p', "f", -1, 1);
	xlist('p', "f", -1, 7);
	xlist('p', "f", -1, 100000);
	xrm('p', "f", -1, "user.bb");
	xlist('p', "f", -1, 0);
	xlist('p', "f", -1, 1000);
	/* a list longer than XATTR_LIST_MAX */
	mkfile("g", "", 0644);
	char n[300];
	for (int i = 0; i < 300; i++) {
		snprintf(n, sizeof(n), "user.%03d", i);
		memset(n + 8, 'a', 247);
		n[255] = 0;
		setxattr(P("g"), n, "", 0, 0);
	}
	xlist('p', "g", -1, 0);
	xlist('p', "g", -1, 65536);
	xlist('p', "g", -1, 70000);
}

static void s_types(void)
{
	mkfile("f", "data", 0644);
	mkdir(P("d"), 0755);
	symlink("f", P("l"));
	symlink("d", P("ld"));
	symlink("nowhere", P("dangle"));
	const char *ts[] = {"f", "d", "l", "ld", "dangle", "nope", "f/", "f/x", "nodir/x", "d/",
			    "l/", "ld/", "d/.", "d/..", "."};
	const char *ns[] = {"user.u", "trusted.t", "security.s", "user.", "foo.x"};
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
			xset('p', ts[i], -1, ns[k], "p", 1, 0);
			xset('l', ts[i], -1, ns[k], "l", 1, 0);
			xget('p', ts[i], -1, ns[k], 10);
			xget('l', ts[i], -1, ns[k], 10);
		}
		xlist('p', ts[i], -1, 1000);
		xlist('l', ts[i], -1, 1000);
		xlist('l', ts[i], -1, 0);
		for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
			xrm('l', ts[i], -1, ns[k]);
			xrm('p', ts[i], -1, ns[k]);
		}
		xlist('l', ts[i], -1, 1000);
	}
	/* the f variants: files, directories, O_PATH */
	struct {
		const char *t;
		int flags;
	} fds[] = {{"f", O_RDONLY}, {"f", O_WRONLY}, {"f", O_RDWR | O_APPEND},
		   {"d", O_RDONLY | O_DIRECTORY}, {"f", O_PATH}, {"d", O_PATH | O_DIRECTORY}};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		int fd = open(P(fds[i].t), fds[i].flags);
		char t[64];
		snprintf(t, sizeof(t), "%s/%#o", fds[i].t, fds[i].flags);
		if (fd < 0) {
			note(t, -1);
			continue;
		}
		xset('f', t, fd, "user.fd", "v", 1, 0);
		xset('f', t, fd, "user.fd", "w", 1, XATTR_CREATE);
		xget('f', t, fd, "user.fd", 10);
		xget('f', t, fd, "user.fd", 0);
		xget('f', t, fd, "user.fd", 0);
		xlist('f', t, fd, 100);
		xlist('f', t, fd, 0);
		xrm('f', t, fd, "user.fd");
		xrm('f', t, fd, "user.fd");
		xget('f', t, fd, "", 10);
		xset('f', t, fd, "trusted.fd", "t", 1, 0);
		ls(fds[i].t);
		xrm('f', t, fd, "trusted.fd");
		/* the same fd as a path: /proc/self/fd/N */
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		int r = setxattr(proc, "user.proc", "pp", 2, 0);
		note("set /proc/self/fd/N user.proc", r);
		ssize_t k = getxattr(proc, "user.proc", vbuf, 10);
		note("get /proc/self/fd/N user.proc", (int)k);
		k = lgetxattr(proc, "user.proc", vbuf, 10);
		note("lget /proc/self/fd/N user.proc", (int)k);
		r = removexattr(proc, "user.proc");
		note("rm /proc/self/fd/N user.proc", r);
		close(fd);
	}
	xget('f', "badfd", 99999, "user.a", 10);
	xset('f', "badfd", 99999, "user.a", "1", 1, 0);
	xlist('f', "badfd", 99999, 10);
	xrm('f', "badfd", 99999, "user.a");
	/* relative to a cwd in DIR */
	if (chdir(D) == 0) {
		int r = setxattr("f", "user.rel", "r", 1, 0);
		note("set rel f user.rel", r);
		r = (int)getxattr("./f", "user.rel", vbuf, 10);
		note("get rel ./f user.rel", r);
		r = (int)lgetxattr("l", "user.rel", vbuf, 10);
		note("lget rel l user.rel", r);
		r = (int)getxattr("d/../f", "user.rel", vbuf, 10);
		note("get rel d/../f user.rel", r);
		r = removexattr("f", "user.rel");
		note("rm rel f user.rel", r);
		r = chdir("/");
	}
	ls("f");
	ls("d");
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* Which of ctime and mtime the call changed. */
static void times_around(const char *what, const char *t, void (*fn)(void))
{
	struct stat a, b;
	lstat(P(t), &a);
	sleep_ms(15);
	fn();
	lstat(P(t), &b);
	printf("  %s: ctime %s mtime %s\n", what,
	       a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec ? "same"
											  : "changed",
	       a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec ? "same"
											  : "changed");
	fflush(stdout);
}

static void t_set(void) { xset('p', "f", -1, "user.t", "1", 1, 0); }
static void t_get(void) { xget('p', "f", -1, "user.t", 10); }
static void t_list(void) { xlist('p', "f", -1, 100); }
static void t_failset(void) { xset('p', "f", -1, "user.t", "1", 1, XATTR_CREATE); }
static void t_rm(void) { xrm('p', "f", -1, "user.t"); }
static void t_failrm(void) { xrm('p', "f", -1, "user.t"); }
static void t_dirset(void) { xset('p', "d", -1, "user.t", "1", 1, 0); }

static void s_life(void)
{
	mkfile("f", "data", 0644);
	mkdir(P("d"), 0755);
	times_around("set", "f", t_set);
	times_around("get", "f", t_get);
	times_around("list", "f", t_list);
	times_around("failed set", "f", t_failset);
	times_around("remove", "f", t_rm);
	times_around("failed remove", "f", t_failrm);
	times_around("set on a directory", "d", t_dirset);
	/* hard links share them; rename keeps them */
	xset('p', "f", -1, "user.shared", "s", 1, 0);
	note("link f h", link(P("f"), P("h")));
	xget('p', "h", -1, "user.shared", 10);
	xset('p', "h", -1, "user.via_h", "h", 1, 0);
	ls("f");
	note("rename f g", rename(P("f"), P("g")));
	ls("g");
	note("unlink h", unlink(P("h")));
	ls("g");
	note("rename d e", rename(P("d"), P("e")));
	ls("e");
	/* an unlinked file that is still open keeps them */
	int fd = open(P("g"), O_RDONLY);
	note("unlink g", unlink(P("g")));
	xget('f', "unlinked", fd, "user.shared", 10);
	xset('f', "unlinked", fd, "user.late", "late", 4, 0);
	xlist('f', "unlinked", fd, 1000);
	close(fd);
	/* a new file (maybe in a reused slot) has none */
	for (int i = 0; i < 3; i++) {
		mkfile("n", "", 0644);
		xlist('p', "n", -1, 1000);
		xset('p', "n", -1, "user.x", vbuf, 3000, 0);
		note("unlink n", unlink(P("n")));
		note("mkdir n", mkdir(P("n"), 0755));
		xlist('p', "n", -1, 1000);
		xset('p', "n", -1, "user.x", vbuf, 300, 0);
		note("rmdir n", rmdir(P("n")));
		note("symlink n", symlink("f", P("n")));
		xlist('l', "n", -1, 1000);
		xset('l', "n", -1, "trusted.x", vbuf, 300, 0);
		note("unlink n", unlink(P("n")));
	}
	/* a file replaced by rename loses its own */
	mkfile("a", "a", 0644);
	mkfile("b", "b", 0644);
	xset('p', "a", -1, "user.from", "a", 1, 0);
	xset('p', "b", -1, "user.from", "b", 1, 0);
	note("rename a b", rename(P("a"), P("b")));
	xget('p', "b", -1, "user.from", 10);
	/* O_TRUNC and writes leave them */
	fd = open(P("b"), O_WRONLY | O_TRUNC);
	note("write b", (int)write(fd, "xyz", 3));
	close(fd);
	xget('p', "b", -1, "user.from", 10);
	/* chmod and chown leave them */
	note("chmod b", chmod(P("b"), 0600));
	xget('p', "b", -1, "user.from", 10);
}

/* An ACL in its xattr form: version 2, then (tag, perm, id) entries. */
static size_t acl(char *out, const int *e, int n)
{
	uint32_t v = 2;
	memcpy(out, &v, 4);
	for (int i = 0; i < n; i++) {
		uint16_t tag = (uint16_t)e[3 * i], perm = (uint16_t)e[3 * i + 1];
		uint32_t id = (uint32_t)e[3 * i + 2];
		memcpy(out + 4 + 8 * i, &tag, 2);
		memcpy(out + 6 + 8 * i, &perm, 2);
		memcpy(out + 8 + 8 * i, &id, 4);
	}
	return 4 + 8 * (size_t)n;
}

#define UO 1
#define US 2
#define GO 4
#define GR 8
#define MA 0x10
#define OT 0x20
#define NOID 0xffffffff

static void acl_cases(char v, const char *t)
{
	const char *A = "system.posix_acl_access", *DF = "system.posix_acl_default";
	char b[256];
	size_t n;
	xget(v, t, -1, A, 100);
	xget(v, t, -1, DF, 100);
	xget(v, t, -1, A, 0);
	xrm(v, t, -1, A);
	xrm(v, t, -1, DF);
	xset(v, t, -1, A, "1", 1, 0);
	xset(v, t, -1, A, "\x01\0\0\0", 4, 0);
	xset(v, t, -1, A, "\x02\0\0\0\x01\0", 6, 0);
	xset(v, t, -1, A, NULL, 0, 0);
	mode_of(t);
	/* mode-equivalent: a chmod */
	int eq[] = {UO, 6, NOID, GO, 4, NOID, OT, 0, NOID};
	n = acl(b, eq, 3);
	xset(v, t, -1, A, b, n, 0);
	mode_of(t);
	xget(v, t, -1, A, 100);
	ls(t);
	int eq2[] = {UO, 7, NOID, GO, 5, NOID, OT, 5, NOID};
	n = acl(b, eq2, 3);
	xset(v, t, -1, A, b, n, XATTR_CREATE);
	mode_of(t);
	/* an empty ACL (the header alone) removes */
	xset(v, t, -1, A, b, 4, 0);
	xset(v, t, -1, DF, b, 4, 0);
	mode_of(t);
	/* invalid ones */
	int bad1[] = {GO, 4, NOID, UO, 6, NOID, OT, 0, NOID};
	int bad2[] = {UO, 6, NOID, GO, 4, NOID};
	int bad3[] = {UO, 8, NOID, GO, 4, NOID, OT, 0, NOID};
	int bad4[] = {UO, 6, NOID, US, 4, 1000, GO, 4, NOID, OT, 0, NOID};
	int bad5[] = {UO, 6, NOID, GO, 4, NOID, OT, 0, NOID, 0x40, 0, 0};
	xset(v, t, -1, A, b, (size_t)acl(b, bad1, 3), 0);
	xset(v, t, -1, A, b, (size_t)acl(b, bad2, 2), 0);
	xset(v, t, -1, A, b, (size_t)acl(b, bad3, 3), 0);
	xset(v, t, -1, A, b, (size_t)acl(b, bad4, 4), 0);
	xset(v, t, -1, A, b, (size_t)acl(b, bad5, 4), 0);
	xset(v, t, -1, A, b, (size_t)acl(b, eq, 3) - 1, 0);
	/* a default ACL on a non-directory (on a directory tmpfs keeps it;
	 * the store does not: test_xattr.c) */
	struct stat st;
	if (lstat(P(t), &st) == 0 && !S_ISDIR(st.st_mode)) {
		xset(v, t, -1, DF, b, (size_t)acl(b, eq, 3), 0);
		mode_of(t);
	}
	xset(v, t, -1, "system.posix_acl_other", b, (size_t)acl(b, eq, 3), 0);
	ls(t);
}

static void s_acl(void)
{
	mkfile("f", "data", 0644);
	mkdir(P("d"), 0755);
	symlink("f", P("l"));
	acl_cases('p', "f");
	acl_cases('p', "d");
	acl_cases('l', "l");
	/* the set-group-ID bit stays for root (CAP_FSETID) */
	chmod(P("f"), 02755);
	int eq[] = {UO, 6, NOID, GO, 4, NOID, OT, 4, NOID};
	char b[64];
	xset('p', "f", -1, "system.posix_acl_access", b, acl(b, eq, 3), 0);
	mode_of("f");
}

static void as_user(void)
{
	char b[64];
	int eq[] = {UO, 6, NOID, GO, 0, NOID, OT, 0, NOID};
	size_t an = acl(b, eq, 3);
	const char *mine[] = {"mine", "mine_ro", "mine_0", "root_f", "root_rw", "grp", "grp_ro",
			      "sticky", "sticky_mine", "opendir", "lmine", "sgid"};
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		const char *t = mine[i];
		char v = strcmp(t, "lmine") ? 'p' : 'l';
		xset(v, t, -1, "user.a", "1", 1, 0);
		xget(v, t, -1, "user.a", 10);
		xget(v, t, -1, "user.r", 10);
		xset(v, t, -1, "user.", "1", 1, 0);
		xset(v, t, -1, "trusted.t", "1", 1, 0);
		xget(v, t, -1, "trusted.t", 10);
		xrm(v, t, -1, "trusted.t");
		xset(v, t, -1, "security.s", "1", 1, 0);
		xget(v, t, -1, "security.s", 10);
		xrm(v, t, -1, "security.s");
		xset(v, t, -1, "security.capability", "1", 1, 0);
		xset(v, t, -1, "foo.a", "1", 1, 0);
		xget(v, t, -1, "foo.a", 10);
		xset(v, t, -1, "system.posix_acl_access", b, an, 0);
		xrm(v, t, -1, "system.posix_acl_access");
		mode_of(t);
		xlist(v, t, -1, 1000);
		xlist(v, t, -1, 0);
		xrm(v, t, -1, "user.r");
		xrm(v, t, -1, "user.a");
		xrm(v, t, -1, "user.a");
	}
}

static void s_uid(void)
{
	if (geteuid() != 0) {
		printf("not root: skipped\n");
		return;
	}
	chmod(D, 0755);
	const uid_t U = 1000;
	const gid_t G = 1000;
	struct {
		const char *t;
		mode_t mode;
		uid_t uid;
		gid_t gid;
	} fs[] = {{"mine", 0644, U, G},    {"mine_ro", 0444, U, G}, {"mine_0", 0, U, G},
		  {"root_f", 0644, 0, 0},  {"root_rw", 0666, 0, 0}, {"grp", 0060, 0, G},
		  {"grp_ro", 0040, 0, G},  {"sgid", 02775, U, 0}};
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		mkfile(fs[i].t, "x", 0644);
		setxattr(P(fs[i].t), "user.r", "root's", 6, 0);
		setxattr(P(fs[i].t), "trusted.t", "t", 1, 0);
		setxattr(P(fs[i].t), "security.s", "s", 1, 0);
		if (chown(P(fs[i].t), fs[i].uid, fs[i].gid) || chmod(P(fs[i].t), fs[i].mode))
			perror("chown"), exit(2);
	}
	mkdir(P("sticky"), 01777);
	chmod(P("sticky"), 01777);
	mkdir(P("sticky_mine"), 01777);
	chmod(P("sticky_mine"), 01777);
	if (chown(P("sticky_mine"), U, G))
		exit(2);
	mkdir(P("opendir"), 0777);
	chmod(P("opendir"), 0777);
	symlink("mine", P("lmine"));
	if (lchown(P("lmine"), U, G))
		exit(2);
	setxattr(P("sticky"), "user.r", "root's", 6, 0);
	int ro = open(P("mine_ro"), O_RDONLY);
	int rootf = open(P("root_f"), O_RDONLY);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(G, G, G) || setresuid(U, U, U))
			perror("setresuid"), _exit(2);
		as_user();
		/* inherited fds: the caller's rights count, not the opener's */
		xset('f', "mine_ro(fd)", ro, "user.fd", "1", 1, 0);
		xget('f', "mine_ro(fd)", ro, "user.r", 10);
		xset('f', "root_f(fd)", rootf, "user.fd", "1", 1, 0);
		xget('f', "root_f(fd)", rootf, "trusted.t", 10);
		xlist('f', "root_f(fd)", rootf, 100);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/* root sees what the user did */
	ls("mine");
	ls("sgid");
	mode_of("sgid");
	ls("opendir");
	ls("sticky_mine");
}

static void s_dotdot(void)
{
	/* D's parent and grandparent: whatever they are, the store's answers
	 * for them must be the kernel's kind of answer. */
	char up[PATH_MAX], up2[PATH_MAX];
	snprintf(up, sizeof(up), "%s/..", D);
	snprintf(up2, sizeof(up2), "%s/../..", D);
	const char *ps[] = {up, up2};
	const char *label[] = {"D/..", "D/../.."};
	for (int i = 0; i < 2; i++) {
		ssize_t r = lgetxattr(ps[i], "user.memshim-none", vbuf, 10);
		note(label[i], (int)r);
		r = getxattr(ps[i], "user.memshim-none", vbuf, 10);
		note(label[i], (int)r);
		r = llistxattr(ps[i], NULL, 0);
		note(label[i], r < 0 ? -1 : 0);
		r = listxattr(ps[i], lbuf, sizeof(lbuf));
		note(label[i], r < 0 ? -1 : 0);
		/* D/.. is /dev/shm (sticky) on one side, the store's prefix on
		 * the other: only the real grandparent is asked to remove */
		if (i == 1)
			note(label[i], lremovexattr(ps[i], "user.memshim-none"));
	}
	if (chdir(D) == 0) {
		note("lget ..", (int)lgetxattr("..", "user.memshim-none", vbuf, 10));
		note("lget ../..", (int)lgetxattr("../..", "user.memshim-none", vbuf, 10));
		note("llist ../..", llistxattr("../..", lbuf, sizeof(lbuf)) < 0 ? -1 : 0);
		note("lget .", (int)lgetxattr(".", "user.memshim-none", vbuf, 10));
	}
}

static const struct {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{"names", s_names}, {"values", s_values}, {"list", s_list}, {"types", s_types},
	{"life", s_life},   {"acl", s_acl},       {"uid", s_uid},   {"dotdot", s_dotdot},
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: xattrops DIR SECTION\n");
		return 2;
	}
	D = argv[1];
	umask(022);
	make_names();
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (!strcmp(argv[2], sections[i].name)) {
			sections[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "xattrops: no section %s\n", argv[2]);
	return 2;
}
