/* memshim-run — runs a command on a fresh private store and reports.
 *
 *   memshim-run [options] -- command [args...]
 *
 * Each option sets the MEMSHIM_* variable of the same meaning, and the
 * whole environment is then checked by the library's own parser
 * (ms_config_load), so a value means here exactly what it means under
 * LD_PRELOAD; a bad one stops the run before the command starts. The run
 * creates the store itself (as a tool, not a process of the tree), starts
 * the command with libmemshim.so put in front of LD_PRELOAD (after the
 * AddressSanitizer runtime when the program links it: ASan insists on
 * coming first) and MEMSHIM_STORE_ID naming the store, waits for the
 * command, lets go of the store, and waits for the keeper to end: the tree
 * has ended and the keeper has written the report by then.
 *
 * Exit status: the command's; 128+N when it died of signal N; 3 with
 * --fail-on-refusal when a write was refused; 125 when memshim-run itself
 * failed (a bad option, no store); 126 / 127 when the command could not be
 * run / found.
 */
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define EXIT_REFUSED 3
#define EXIT_RUN 125
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

/* Option -> variable. `path`: a relative path is made absolute here, since
 * the variable wants one (the keeper writes the report long after, from
 * elsewhere). */
static const struct opt {
	const char *name, *var, *arg;
	int path; /* 1: made absolute; 2: an existing directory, resolved (realpath) */
	const char *help;
} opts[] = {
	{"prefix", "MEMSHIM_PREFIX", "PATHS", 0, "paths of the store, ':'-separated (/mem)"},
	{"quota", "MEMSHIM_QUOTA", "SIZE", 0, "byte budget: 64M, 2G, 25% or 0 for none (256M)"},
	{"max-nodes", "MEMSHIM_MAX_NODES", "N", 0, "most files + directories + links"},
	{"errno", "MEMSHIM_QUOTA_ERRNO", "ERR", 0, "what a write over the quota fails with: ENOSPC or EDQUOT"},
	{"guard", "MEMSHIM_GUARD", "MODE", 0, "memory guard: none, init or per_write (init)"},
	{"guard-action", "MEMSHIM_GUARD_ACTION", "ACTION", 0, "warn or fail (warn)"},
	{"guard-interval", "MEMSHIM_GUARD_INTERVAL", "SECONDS", 0, "between probes in per_write (1.0)"},
	{"log", "MEMSHIM_LOG", "LEVEL", 0, "error, warn, info or debug (warn)"},
	{"store", "MEMSHIM_STORE", "NAME", 0, "a named store to create or join"},
	{"seed", "MEMSHIM_SEED", "DIR", 1, "copy this real directory into the store first"},
	{"save", "MEMSHIM_SAVE", "DIR", 1, "write the store out to this directory at the end"},
	{"report", "MEMSHIM_REPORT", "FILE|-", 1, "JSON report at the end (- = stderr)"},
	{"chart", "MEMSHIM_CHART", "FILE.svg", 1, "SVG chart of usage over time at the end"},
	{"fail", "MEMSHIM_FAIL", "RULES", 0, "make store calls fail on purpose: write:*.log:3:EIO;..."},
	{"lower", "MEMSHIM_LOWER", "DIR", 2, "lie over this real directory, never writing it; the prefix is DIR itself unless --prefix is given"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))
static int given[NOPTS]; /* set by its option (not inherited): named in errors */

/* The entry of option name. */
static int opt_index(const char *name)
{
	for (size_t k = 0; k < NOPTS; k++)
		if (!strcmp(opts[k].name, name))
			return (int)k;
	abort();
}

static void usage(FILE *f)
{
	fprintf(f, "usage: memshim-run [options] -- command [args...]\n\n"
		   "Runs command with every path under the prefix in a private in-memory store\n"
		   "with a hard quota, and exits with its status (128+N if it died of signal N).\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[48];
		snprintf(left, sizeof(left), "--%s %s", opts[i].name, opts[i].arg);
		fprintf(f, "  %-26s %s [%s]\n", left, opts[i].help, opts[i].var);
	}
	fprintf(f, "  %-26s exit %d when any write was refused\n", "--fail-on-refusal",
		EXIT_REFUSED);
	fprintf(f, "  %-26s this help\n  %-26s the version\n\n", "--help", "--version");
	fprintf(f, "Exit status: the command's; %d with --fail-on-refusal after a refusal;\n"
		   "%d when memshim-run failed; %d/%d when the command could not be run/found.\n",
		EXIT_REFUSED, EXIT_RUN, EXIT_NOEXEC, EXIT_NOTFOUND);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("memshim-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_RUN);
}

static int is_file(const char *p, int mode)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, mode) == 0;
}

/* libmemshim.so and memshim-keeper: next to this program (the build
 * tree), or in $PREFIX/lib/memshim/ for $PREFIX/bin/memshim-run. */
static void find_parts(char *lib, char *keeper, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		die("cannot find where memshim-run is (/proc/self/exe): %s", strerror(errno));
	self[len] = 0;
	*strrchr(self, '/') = 0;
	const char *where[] = {"%s/%s", "%s/../lib/memshim/%s"};
	for (int i = 0; i < 2; i++) {
		snprintf(lib, n, where[i], self, "libmemshim.so");
		snprintf(keeper, n, where[i], self, "memshim-keeper");
		if (is_file(lib, R_OK) && is_file(keeper, X_OK)) {
			char *l = realpath(lib, NULL), *k = realpath(keeper, NULL);
			snprintf(lib, n, "%s", l);
			snprintf(keeper, n, "%s", k);
			free(l);
			free(k);
			return;
		}
	}
	die("cannot find libmemshim.so and memshim-keeper in %s or %s/../lib/memshim", self, self);
}

/* The program execvp would run, or NULL. */
static char *which(const char *cmd)
{
	static char buf[PATH_MAX];
	if (strchr(cmd, '/'))
		return is_file(cmd, X_OK) ? (char *)cmd : NULL;
	const char *path = getenv("PATH");
	for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		const char *c = strchr(p, ':');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)l, l ? p : ".", cmd);
		if (is_file(buf, X_OK))
			return buf;
		p += l + (c != NULL);
	}
	return NULL;
}

/* Does the ELF program at path name libasan in its DT_NEEDED entries? */
static int links_asan(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || st.st_size < (off_t)sizeof(Elf64_Ehdr))
		goto out;
	unsigned char *m = malloc((size_t)st.st_size);
	if (!m || pread(fd, m, (size_t)st.st_size, 0) != st.st_size)
		goto done;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)m;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)st.st_size)
		goto done;
	Elf64_Shdr *sh = (Elf64_Shdr *)(m + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum && !found; i++) {
		if (sh[i].sh_type != SHT_DYNAMIC || sh[i].sh_link >= eh->e_shnum)
			continue;
		Elf64_Shdr *str = &sh[sh[i].sh_link];
		if (sh[i].sh_offset + sh[i].sh_size > (uint64_t)st.st_size ||
		    str->sh_offset + str->sh_size > (uint64_t)st.st_size)
			continue;
		Elf64_Dyn *d = (Elf64_Dyn *)(m + sh[i].sh_offset);
		for (size_t k = 0; k < sh[i].sh_size / sizeof(*d) && d[k].d_tag != DT_NULL; k++)
			if (d[k].d_tag == DT_NEEDED && d[k].d_un.d_val < str->sh_size &&
			    !strncmp((char *)m + str->sh_offset + d[k].d_un.d_val, "libasan.so", 10))
				found = 1;
	}
done:
	free(m);
out:
	if (fd >= 0)
		close(fd);
	return found;
}

/* libasan as this program has it loaded: memshim-run built with ASan goes
 * with a libmemshim.so built with it (make asan). */
static int asan_self(struct dl_phdr_info *info, size_t size, void *out)
{
	const char *base = strrchr(info->dlpi_name, '/');
	if (!base || strncmp(base + 1, "libasan.so", 10))
		return 0;
	snprintf(out, PATH_MAX, "%s", info->dlpi_name);
	return 1;
}

/* Where the loader finds libasan for path: what ldd prints, asked of the
 * loader itself (LD_TRACE_LOADED_OBJECTS runs no program code). */
static int asan_path(const char *path, char *out, size_t n)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
		unsetenv("LD_PRELOAD");
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	char line[PATH_MAX + 64];
	int r = -1;
	while (f && fgets(line, sizeof(line), f)) {
		char name[256], where[PATH_MAX];
		if (r && sscanf(line, " %255s => %4095s", name, where) == 2 &&
		    !strncmp(name, "libasan.so", 10) && where[0] == '/') {
			snprintf(out, n, "%s", where);
			r = 0;
		}
	}
	if (f)
		fclose(f);
	waitpid(pid, NULL, 0);
	return r;
}

/* LD_PRELOAD for the command: [libasan:]libmemshim.so[:what was there],
 * libasan and libmemshim.so once each. */
static void set_preload(const char *lib, const char *prog)
{
	char asan[PATH_MAX] = "";
	const char *old = getenv("LD_PRELOAD");
	size_t cap = strlen(lib) + (old ? strlen(old) : 0) + sizeof(asan) + 8;
	char *v = malloc(cap), *rest = strdup(old ? old : "");
	if (!v || !rest)
		die("out of memory");
	/* The ASan runtime must come first when the program links it, or
	 * when libmemshim.so itself was built with it. */
	if (links_asan(prog) && asan_path(prog, asan, sizeof(asan)))
		die("%s links AddressSanitizer, but the loader does not say where libasan is", prog);
	if (!asan[0] && links_asan(lib) && !dl_iterate_phdr(asan_self, asan))
		die("%s links AddressSanitizer, but libasan is not loaded here", lib);
	v[0] = 0;
	if (asan[0])
		snprintf(v, cap, "%s:", asan);
	strcat(v, lib);
	/* LD_PRELOAD may separate with spaces too */
	for (char *save, *t = strtok_r(rest, ": ", &save); t; t = strtok_r(NULL, ": ", &save)) {
		const char *base = strrchr(t, '/') ? strrchr(t, '/') + 1 : t;
		if (!strcmp(t, lib) || !strcmp(base, "libmemshim.so") ||
		    (asan[0] && !strncmp(base, "libasan.so", 10)))
			continue;
		strcat(v, ":");
		strcat(v, t);
	}
	setenv("LD_PRELOAD", v, 1);
	free(v);
	free(rest);
}

static pid_t child;
static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* Waits for the keeper (not our child) to exit: it writes the report
 * first. pidfd when the kernel has it, else a look every 20 ms. */
static void wait_keeper(pid_t pid, int pidfd)
{
	if (pidfd >= 0) {
		struct pollfd pf = {.fd = pidfd, .events = POLLIN};
		while (poll(&pf, 1, -1) < 0 && errno == EINTR)
			;
		close(pidfd);
		return;
	}
	while (kill(pid, 0) == 0 || errno == EPERM) {
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
}

static int parse_opts(int argc, char **argv, int *fail_on_refusal)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return i + 1;
		if (strncmp(a, "--", 2)) {
			/* a command without "--": fine when nothing could be misread */
			return i;
		}
		if (!strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--version")) {
			printf("memshim-run (memshim) %s, arena layout %d\n", MS_VERSION,
			       MS_LAYOUT_VERSION);
			exit(0);
		}
		if (!strcmp(a, "--fail-on-refusal")) {
			*fail_on_refusal = 1;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		const struct opt *o = NULL;
		for (size_t k = 0; k < NOPTS; k++)
			if (strlen(opts[k].name) == nl && !strncmp(opts[k].name, a + 2, nl))
				o = &opts[k];
		if (!o)
			die("unknown option %s (see memshim-run --help)", a);
		const char *val = eq ? eq + 1 : i + 1 < argc && strcmp(argv[i + 1], "--") ? argv[++i] : NULL;
		if (!val)
			die("--%s needs a value: %s", o->name, o->arg);
		char abs[PATH_MAX + 2];
		if (o->path == 2) {
			/* the real path, as getcwd() shows it to the programs */
			if (!realpath(val, abs))
				die("--%s %s: %s", o->name, val, strerror(errno));
			val = abs;
		} else if (o->path && val[0] && val[0] != '/' && strcmp(val, "-")) {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)))
				die("--%s %s: cannot read the current directory: %s", o->name, val,
				    strerror(errno));
			snprintf(abs, sizeof(abs), "%s/%s", cwd, val);
			val = abs;
		}
		setenv(o->var, val, 1);
		given[o - opts] = 1;
	}
	return i;
}

int main(int argc, char **argv)
{
	int fail_on_refusal = 0;
	int first = parse_opts(argc, argv, &fail_on_refusal);
	/* --lower alone: the store lies over the directory at its own path */
	if (given[opt_index("lower")] && !given[opt_index("prefix")])
		setenv("MEMSHIM_PREFIX", getenv("MEMSHIM_LOWER"), 1);
	if (first >= argc) {
		usage(stderr);
		return EXIT_RUN;
	}

	/* The library's own check of the whole environment, options and
	 * inherited variables alike. */
	struct ms_config cfg;
	char err[512];
	if (ms_config_load(&cfg, NULL, err, sizeof(err))) {
		size_t vl = strcspn(err, "=");
		for (size_t k = 0; k < NOPTS; k++)
			if (given[k] && strlen(opts[k].var) == vl && !strncmp(err, opts[k].var, vl))
				die("--%s: %s", opts[k].name, err);
		die("%s", err);
	}

	char lib[PATH_MAX], keeper[PATH_MAX];
	find_parts(lib, keeper, sizeof(lib));
	const char *prog = which(argv[first]);
	if (!prog) {
		fprintf(stderr, "memshim-run: %s: command not found\n", argv[first]);
		return EXIT_NOTFOUND;
	}

	/* A fresh store, even when run inside another memshim tree. */
	unsetenv("MEMSHIM_STORE_ID");
	unsetenv("MEMSHIM_PIN");
	unsetenv("MEMSHIM_FDS");
	struct ms_open_opts o = {.cfg = &cfg, .keeper_path = keeper, .observer = 1, .summary = 1};
	ms_store *s;
	int r = ms_store_open(&o, &s);
	if (r)
		die("cannot open the store: %s", strerror(-r));
	pid_t kpid = ms_store_keeper_pid(s);
	int pidfd = s->owner ? (int)syscall(SYS_pidfd_open, kpid, 0) : -1;
	setenv("MEMSHIM_STORE_ID", ms_store_name(s), 1);
	set_preload(lib, prog);

	struct sigaction sa = {.sa_handler = forward};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Ctrl-C reaches the command from the terminal; this waits for it. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	int status = 0;
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		execv(prog, argv + first);
		fprintf(stderr, "memshim-run: %s: %s\n", prog, strerror(errno));
		_exit(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);

	/* The tree may outlive the command (a daemon it left): the store,
	 * and so the report, ends with the last of them. */
	ms_store_unpin(s);
	if (s->owner)
		wait_keeper(kpid, pidfd);
	struct ms_stats st;
	ms_stats_get(s, &st);
	ms_store_close(s);
	uint64_t refused = st.refused + st.guard_refused;
	if (fail_on_refusal && refused) {
		fprintf(stderr,
			"memshim-run: %llu write%s refused: exit %d instead of %d (--fail-on-refusal)\n",
			(unsigned long long)refused, refused == 1 ? " was" : "s were", EXIT_REFUSED,
			code);
		return EXIT_REFUSED;
	}
	return code;
}
