/* End-to-end differential test: tests/helpers/diffops runs a fixed
 * sequence of libc file calls, one output line per call ("<op> <args> ->
 * <result> <errno>"), once under the preload in a store directory and once
 * without it in a fresh tmpfs directory (/dev/shm). With the directory
 * replaced by $D, the two outputs must be the same line for line. One Test
 * per section of diffops, so a difference names its family. */
#include "e2e/e2e.h"

/* Runs `helper DIR section` on a tmpfs directory without the preload and
 * in /mem/t under it; the outputs, with DIR replaced, must be the same.
 * The store side's command runs as `pre` + "mkdir ... && helper ...",
 * with `env` (extra environment, "" for none). */
static void differential_cmd(const char *helper, const char *section, const char *pre,
			     const char *env)
{
	/* The real side: a fresh tmpfs directory, no preload. */
	char dir[] = "/dev/shm/memshim-diff-XXXXXX";
	char tdir[] = "/tmp/memshim-diff-XXXXXX";
	char *real = mkdtemp(dir);
	if (!real)
		real = mkdtemp(tdir);
	cr_assert_not_null(real, "mkdtemp: %s", strerror(errno));
	char cmd[1280];
	snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD %s %s %s 2>&1", helper, real, section);
	static char want[1 << 20], got[1 << 20];
	int st = t_popen(cmd, want, sizeof(want));
	e2e_rm_tree(real);
	cr_assert_eq(st, 0, "diffops on tmpfs failed: %s", want);
	e2e_strip_dir(want, real);

	/* The store side: the same calls in /mem/t, made 0700 like mkdtemp's. */
	snprintf(cmd, sizeof(cmd), "%smkdir -m 700 /mem/t && %s /mem/t %s", pre, helper, section);
	st = e2e_sh(env, cmd, got, sizeof(got));
	e2e_strip_dir(got, "/mem/t");

	static char report[1 << 16];
	int line;
	int ndiff = e2e_compare(want, got, &line, report, sizeof(report));
	cr_assert_eq(st, 0, "diffops under the preload exited with %d; differences:\n%s", st, report);
	cr_assert_eq(ndiff, 0, "%s: %d of %d lines differ:\n%s", section, ndiff, line, report);
}

static void differential_in(const char *prog, const char *section, const char *pre,
			    const char *env)
{
	char helper[512];
	snprintf(helper, sizeof(helper), "%s/tests/helpers/%s", t_build(), prog);
	cr_assert_eq(access(helper, X_OK), 0, "%s: not built (make check builds it)", helper);
	differential_cmd(helper, section, pre, env);
}

static void differential_env(const char *env, const char *prog, const char *section)
{
	differential_in(prog, section, "", env);
}

static void differential_of(const char *prog, const char *section)
{
	differential_in(prog, section, "", "");
}

static void differential(const char *section) { differential_of("diffops", section); }

/* File-system calls made through glibc's syscall(), and numbers the shim
 * leaves alone (tests/helpers/sysops.c). */
Test(e2e_diff, syscall) { differential_of("sysops", "all"); }

/* Node.js, whose libuv reaches files through syscall() (statx) as well as
 * the named calls: tests/e2e/node_cases.js. */
Test(e2e_diff, node)
{
	char cmd[PATH_MAX + 32];
	cr_assert_eq(system("node --version > /dev/null 2>&1"), 0,
		     "node is not installed (make deps / .ci/run install nodejs)");
	snprintf(cmd, sizeof(cmd), "node %s/node_cases.js", e2e_dir());
	differential_cmd(cmd, "all", "", "");
}

/* Every entry point that opens a file (tests/helpers/openops.c), on the
 * same paths with the same flags. */
Test(e2e_diff, open) { differential_of("openops", "all"); }

/* The same file opened and closed again and again, which the store serves
 * from a kept description (tests/helpers/lendops.c): offsets, flags, fd
 * numbers, locks, fork, removal, mappings. */
Test(e2e_diff, lent_descriptions) { differential_of("lendops", "all"); }

/* Files made and removed again and again, whose memfds serve new files
 * (tests/helpers/reuseops.c): each new file empty; a removed file still
 * read whole, 300 files later, by a child of the fork system call, by a
 * process it was sent to over a socket, and through a mapping. */
Test(e2e_diff, memfd_reuse) { differential_of("reuseops", "all"); }

/* What programs do with fds beyond read and write (tests/helpers/fdops.c):
 * /proc/self/fd/N as a name, O_PATH fds, fcntl and vector errno cases. */
Test(e2e_diff, proc_fd) { differential_of("fdops", "proc"); }
Test(e2e_diff, o_path) { differential_of("fdops", "opath"); }
Test(e2e_diff, fd_errno) { differential_of("fdops", "errno"); }

/* dnotify: the store sends the signals the kernel would (core/notify.c). */
Test(e2e_diff, f_notify) { differential_of("fdops", "notify"); }

/* Bad pointers for paths, names and buffers: EFAULT as the kernel, and the
 * program lives on (tests/helpers/efaultops.c). */
Test(e2e_diff, efault) { differential_of("efaultops", "all"); }

Test(e2e_diff, files) { differential("files"); }
Test(e2e_diff, stat) { differential("stat"); }
Test(e2e_diff, namespace) { differential("namespace"); }
Test(e2e_diff, rename) { differential("rename"); }
Test(e2e_diff, links) { differential("links"); }
Test(e2e_diff, at) { differential("at"); }
Test(e2e_diff, dirs) { differential("dirs"); }
Test(e2e_diff, cwd) { differential("cwd"); }
Test(e2e_diff, names) { differential("names"); }
Test(e2e_diff, fd) { differential("fd"); }

/* FIFOs, device nodes and Unix sockets (tests/helpers/specialops.c). The
 * store side runs with its real cwd in an empty real directory, which must
 * stay empty (a relative bind under a store cwd once landed there), and
 * the store's private directory of real counterparts must be gone once the
 * tree has ended. */
static char special_cwd[64];

/* Runs after the test, failed or not. */
static void special_cleanup(void)
{
	char cmd[256];
	if (!special_cwd[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.note", special_cwd, special_cwd);
	if (system(cmd) != 0)
		cr_log_warn("%s failed", cmd);
}

static void special_differential(const char *section)
{
	snprintf(special_cwd, sizeof(special_cwd), "/tmp/memshim-special-cwd-XXXXXX");
	cr_assert_not_null(mkdtemp(special_cwd), "mkdtemp: %s", strerror(errno));
	const char *cwd = special_cwd;
	char note[PATH_MAX + 16], pre[3 * PATH_MAX];
	snprintf(note, sizeof(note), "%s.note", cwd);
	snprintf(pre, sizeof(pre), "cd %s && export SPECIALOPS_DIR_OUT=%s && ", cwd, note);
	differential_in("specialops", section, pre, "");

	char left[4096];
	snprintf(left, sizeof(left), "ls -A %s", cwd);
	FILE *p = popen(left, "r");
	size_t k = fread(left, 1, sizeof(left) - 1, p);
	left[k] = 0;
	pclose(p);
	cr_assert_str_empty(left, "left in the real cwd %s: %s", cwd, left);

	if (strcmp(section, "fifo") == 0) {
		FILE *f = fopen(note, "r");
		cr_assert_not_null(f, "the helper did not name the store's private directory");
		char dir[PATH_MAX] = "";
		cr_assert_not_null(fgets(dir, sizeof(dir), f));
		fclose(f);
		dir[strcspn(dir, "\n")] = 0;
		cr_assert(strncmp(dir, "/tmp/.memshim-", 14) == 0, "private directory %s", dir);
		/* the keeper removes it when it leaves, a grace period after the
		 * last process */
		struct stat st;
		int gone = 0;
		for (int i = 0; i < 100 && !gone; i++) {
			gone = stat(dir, &st) != 0 && errno == ENOENT;
			if (!gone)
				usleep(100000);
		}
		cr_assert(gone, "%s still there after the store ended", dir);
	}
}

Test(e2e_diff, fifos, .fini = special_cleanup) { special_differential("fifo"); }
Test(e2e_diff, sockets, .fini = special_cleanup) { special_differential("sock"); }
/* As root, then as processes that switched their effective uid (what
 * pjdfstest's mkfifo, mknod and open tests do). */
Test(e2e_diff, special_uid, .fini = special_cleanup) { special_differential("uid"); }

/* Extended attributes (tests/helpers/xattrops.c): every errno case, the l
 * and f variants, files, directories and symlinks, as root and as another
 * uid, and ".." above the store directory. */
Test(e2e_diff, xattr_names) { differential_of("xattrops", "names"); }
Test(e2e_diff, xattr_values) { differential_of("xattrops", "values"); }
Test(e2e_diff, xattr_list) { differential_of("xattrops", "list"); }
Test(e2e_diff, xattr_types) { differential_of("xattrops", "types"); }
Test(e2e_diff, xattr_life) { differential_of("xattrops", "life"); }
Test(e2e_diff, xattr_acl) { differential_of("xattrops", "acl"); }
Test(e2e_diff, xattr_uid) { differential_of("xattrops", "uid"); }
Test(e2e_diff, xattr_dotdot) { differential_of("xattrops", "dotdot"); }

/* The attr package's tools, cp and ls (tests/e2e/xattr_tools.sh). */
Test(e2e_diff, xattr_tools)
{
	cr_assert(access("/usr/bin/getfattr", X_OK) == 0 && access("/usr/bin/setfattr", X_OK) == 0,
		  "getfattr/setfattr not installed (make deps / .ci/run install attr)");
	char helper[PATH_MAX + 32];
	snprintf(helper, sizeof(helper), "sh %s/xattr_tools.sh", e2e_dir());
	differential_cmd(helper, "all", "", "");
}

/* Under a 64 MiB quota: a 3 GiB file with a few pages is charged those. */
Test(e2e_diff, sparse) { differential_env("MEMSHIM_QUOTA=64M", "diffops", "sparse"); }
/* pread, pwrite and read served from the store's mapping of the file:
 * holes stay holes (st_blocks), every other path sees the bytes, access
 * modes, O_APPEND, shrinking, punched holes and bad buffers answer as on
 * tmpfs (tests/helpers/diffops.c s_mapio) */
Test(e2e_diff, mapio) { differential("mapio"); }
/* Permissions as the kernel enforces them (tests/helpers/permops.c): a
 * matrix of directory modes and owners, each call made by a child that
 * switched to the actor, in a store directory and in a tmpfs one. */
Test(e2e_diff, perm_root) { differential_of("permops", "root"); }
Test(e2e_diff, perm_nobody) { differential_of("permops", "nobody"); }
Test(e2e_diff, perm_user) { differential_of("permops", "user"); }
Test(e2e_diff, perm_euid) { differential_of("permops", "euid"); }
/* A process that drops privileges in the middle of its run. */
Test(e2e_diff, perm_drop) { differential_of("permops", "drop"); }
