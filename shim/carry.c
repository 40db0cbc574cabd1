/* shim/carry.c — what a new program inherits from this one: the
 * environment that carries the shim and the store along, and MEMSHIM_FDS,
 * the list of store fds it starts with. The writer (before any exec or
 * spawn) and the reader (in the new program's constructor) are both here,
 * so the encoding is written once.
 *
 * The new program's environment gets back LD_PRELOAD and the MEMSHIM_*
 * variables when a caller dropped them, and MEMSHIM_FDS lists the store
 * fds it inherits ("<kind><own><fd>:<ino>:<kernel ino>", comma-separated:
 * kind F file or D directory, own T when the references travel with the
 * fds (exec of this process) or G when the new program takes its own (a
 * vfork or spawn child, whose parent keeps its references)). The new
 * program checks each against what the kernel says the fd is before it
 * believes it.
 *
 * The writer may run in a vfork child: stack buffers only, no allocation,
 * no process-local lock, and the parent's tables are left alone.
 */
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "sys.h"


MS_STARTUP static const char *libpath = "";
MS_STARTUP static const char *saved[24]; /* "MEMSHIM_X=..." seen at start */
MS_STARTUP static int nsaved;
/* Where the strings kept at start live (saved[], libpath, MEMSHIM_FDS):
 * copies, since a program may write over its own environment strings
 * (setproctitle). One buffer, so that start-up writes one page of it
 * (each page a new process writes is a page fault: README); what does
 * not fit falls back to malloc. */
MS_STARTUP static char saved_buf[1024];
MS_STARTUP static size_t saved_used;

static char *env_add(struct envbuf *b, const char *a, const char *c)
{
	size_t la = strlen(a), lc = c ? strlen(c) : 0;
	if (b->used + la + lc + 1 > sizeof(b->str))
		return NULL;
	char *p = b->str + b->used;
	memcpy(p, a, la);
	if (c)
		memcpy(p + la, c, lc);
	p[la + lc] = 0;
	b->used += la + lc + 1;
	return p;
}

static int name_eq(const char *var, const char *name_eq_sign)
{
	size_t n = strlen(name_eq_sign);
	return strncmp(var, name_eq_sign, n) == 0;
}

/* Does an LD_PRELOAD value already hold this library? */
static int preload_has_us(const char *val)
{
	size_t n = strlen(libpath);
	for (const char *p = val; (p = strstr(p, libpath)); p++)
		if ((p == val || p[-1] == ':' || p[-1] == ' ') && (p[n] == 0 || p[n] == ':' || p[n] == ' '))
			return 1;
	return 0;
}

/* Appends one MEMSHIM_FDS entry for fd (if it is a store fd that survives
 * exec). */
static void fds_entry(char *out, size_t n, size_t *used, int fd, struct ms_fd *e, char own)
{
	uint64_t kino;
	char kind = e->kind == MS_FD_FILE ? 'F' : 'D';
	struct stat st;
	if (e->kind == MS_FD_FILE && (e->how & MS_FD_LOWER)) {
		/* a real file below the store: known by its own inode */
		if (REAL(fstat)(fd, &st))
			return;
		kind = 'L';
		kino = (uint64_t)st.st_ino;
	} else if (e->kind == MS_FD_FILE) {
		if (ms_ino_kino(ms_shim.store, e->ino, &kino))
			return;
	} else {
		/* a directory fd: the memfd it is a dup of, this process's
		 * placeholder or, inherited, its parent's */
		if (REAL(fstat)(fd, &st))
			return;
		kino = (uint64_t)st.st_ino;
	}
	int k = snprintf(out + *used, n - *used, "%s%c%c%d:%u:%llu", *used ? "," : "", kind, own,
			 fd, (unsigned)e->ino, (unsigned long long)kino);
	if (k > 0 && (size_t)k < n - *used)
		*used += (size_t)k;
}

char **ms_carry_env(char *const envp[], char **vec, struct envbuf *b, char own,
		      const struct ms_carry_extra *extra, int nextra)
{
	int n = 0, have_preload = 0;
	for (char *const *e = envp; e && *e; e++) {
		if (name_eq(*e, "MEMSHIM_FDS=") || name_eq(*e, "MEMSHIM_STORE_ID=") ||
		    name_eq(*e, "MEMSHIM_CWD=") || name_eq(*e, "MEMSHIM_PIN="))
			continue;
		if (name_eq(*e, "LD_PRELOAD=")) {
			have_preload = 1;
			if (!preload_has_us(*e + 11)) {
				/* "LD_PRELOAD=theirs:ours": theirs keep their order. */
				char *v = env_add(b, *e, (*e)[11] ? ":" : "");
				if (v) {
					b->used--; /* continue the same string */
					if (env_add(b, libpath, NULL)) {
						vec[n++] = v;
						continue;
					}
				}
			}
		}
		vec[n++] = *e;
	}
	if (!have_preload) {
		char *v = env_add(b, "LD_PRELOAD=", libpath);
		if (v)
			vec[n++] = v;
	}
	for (int i = 0; i < nsaved; i++) {
		size_t len = strcspn(saved[i], "=") + 1;
		int found = 0;
		for (char *const *e = envp; e && *e; e++)
			if (strncmp(*e, saved[i], len) == 0)
				found = 1;
		if (name_eq(saved[i], "MEMSHIM_STORE_ID="))
			continue; /* below */
		if (!found)
			vec[n++] = (char *)saved[i];
	}
	/* The store: this process's when it attached (it may have made it
	 * after start-up), else the one it was started in. */
	const char *id = ms_shim.ready ? ms_store_name(ms_shim.store) : NULL;
	for (int i = 0; i < nsaved && !id; i++)
		if (name_eq(saved[i], "MEMSHIM_STORE_ID="))
			id = saved[i] + strlen("MEMSHIM_STORE_ID=");
	if (id) {
		char *v = env_add(b, "MEMSHIM_STORE_ID=", id);
		if (v)
			vec[n++] = v;
	}
	/* The keeper connection every program of the tree inherits: through
	 * it a program that never touched the store keeps the store alive and
	 * attaches when it first needs it (init.c); decided now, for a vfork
	 * child (its fd table is its own). */
	int pin = ms_shim.ready ? ms_store_pin_for_exec(ms_shim.store) : ms_shim.pin;
	if (pin >= 0) {
		char pv[32];
		snprintf(pv, sizeof(pv), "MEMSHIM_PIN=%d", pin);
		char *v = env_add(b, pv, NULL);
		if (v)
			vec[n++] = v;
	}
	/* The virtual cwd, as it is now. */
	char cwd[PATH_MAX + 16];
	if (ms_cwd_env(cwd, sizeof(cwd)) > 0) {
		char *v = env_add(b, cwd, NULL);
		if (v)
			vec[n++] = v;
	}
	/* The store fds that survive the exec. */
	char fds[4096];
	size_t used = 0;
	struct ms_fd *e;
	for (int fd = -1; (fd = ms_fd_next(fd, 0, &e)) >= 0;) {
		fds_entry(fds, sizeof(fds), &used, fd, e, own);
		/* the new program shares the description (from a vfork
		 * child, this marks the parent's table: the same memory) */
		__atomic_or_fetch(&e->how, MS_FD_SHARED, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < nextra; i++)
		fds_entry(fds, sizeof(fds), &used, extra[i].target, (struct ms_fd *)&extra[i].e, 'G');
	/* Written even empty: a child that finds it set knows which store
	 * fds it has without looking at each of its fds. Not from a vfork
	 * child that made or moved a store fd (a store file made stdout),
	 * which the table does not show: its program looks at each fd. */
	fds[used] = 0;
	char *fv = ms_in_vfork_child() && ms_vfork_touched() ? NULL : env_add(b, "MEMSHIM_FDS=", fds);
	if (fv)
		vec[n++] = fv;
	vec[n] = NULL;
	return vec;
}

int ms_env_count(char *const envp[])
{
	int n = 0;
	for (char *const *e = envp; e && *e; e++)
		n++;
	return n;
}

/* ---- the reader: the new program's side ---------------------------------------------------------------- */

/* Is fd listed in MEMSHIM_FDS as handed over with its reference ('T')? */
static int listed_own(const char *list, int fd)
{
	char key[24];
	int n = snprintf(key, sizeof(key), "FT%d:", fd);
	for (const char *p = list; p && (p = strstr(p, key)); p += n)
		if (p == list || p[-1] == ',')
			return 1;
	return 0;
}

/* The inode MEMSHIM_FDS lists for file fd ("F?<fd>:<ino>:..."), or 0. */
static ms_ino listed_ino(const char *list, int fd)
{
	char key[24];
	int n = snprintf(key, sizeof(key), "%d:", fd);
	for (const char *p = list; p && (p = strchr(p, 'F')); p++) {
		if ((p != list && p[-1] != ',') || !p[1] || strncmp(p + 2, key, (size_t)n))
			continue;
		return (ms_ino)strtoul(p + 2 + n, NULL, 10);
	}
	return 0;
}

/* The fds this process has, from /proc/self/fd (at most max); -1 without
 * /proc. One getdents64 pass, no system call per fd. */
static int own_fds(int *fds, int max)
{
	int d = REAL(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -1;
	char buf[4096];
	long got;
	int n = 0;
	while ((got = ms_raw_syscall(SYS_getdents64, d, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			off += e->d_reclen;
			int fd = atoi(e->d_name);
			if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd != d && n < max)
				fds[n++] = fd;
		}
	}
	REAL(close)(d);
	return n;
}

/* Whether fd, not one of the shim's own, is a regular memfd on dev (every
 * memfd shares one device): *st filled. */
static int memfd_on(int fd, dev_t dev, struct stat *st)
{
	return !ms_fd_private(fd) && REAL(fstat)(fd, st) == 0 && st->st_dev == dev &&
	       S_ISREG(st->st_mode);
}

/* Store files among the fds this program started with: whatever opened
 * them (an exec of ours, a vfork child's dup2, glibc's system() which
 * never passes through us), the kernel says which memfd each is. */
static void discover_files(const char *list, dev_t memfd_dev)
{
	int fds[256];
	int n = own_fds(fds, 256);
	if (n < 0)
		for (n = 0; n < 256; n++)
			fds[n] = n; /* no /proc: the low numbers at least */
	for (int i = 0; i < n; i++) {
		int fd = fds[i];
		struct stat st;
		if (ms_fd_get(fd) || !memfd_on(fd, memfd_dev, &st))
			continue;
		/* The inode the parent listed, when the kernel agrees it is
		 * that file's memfd: one look whatever the number of files.
		 * Else (not listed: glibc's system(), a vfork child's dup2) a
		 * search of every inode. */
		ms_ino ino = listed_ino(list, fd);
		uint64_t kino;
		if (!ino || ms_ino_kino(ms_shim.store, ino, &kino) || kino != (uint64_t)st.st_ino)
			ino = ms_ino_by_kino(ms_shim.store, st.st_ino);
		if (!ino)
			continue;
		int fl = REAL(fcntl)(fd, F_GETFL);
		if (!listed_own(list, fd))
			ms_ino_get(ms_shim.store, ino);
		ms_fd_set(fd, MS_FD_FILE, ino, fl < 0 ? O_RDWR : fl);
		struct ms_fd *e = ms_fd_get(fd);
		if (e)
			e->how |= MS_FD_SHARED; /* the parent's description */
	}
}

/* fd, a kernel fd on the real file below lower-backed node ino, becomes a
 * store fd of it (the caller took its reference). */
static struct ms_fd *lower_fd_set(int fd, ms_ino ino)
{
	int fl = REAL(fcntl)(fd, F_GETFL);
	ms_fd_set(fd, MS_FD_FILE, ino, fl < 0 ? O_RDONLY : fl);
	struct ms_fd *e = ms_fd_get(fd);
	if (e)
		e->how |= MS_FD_LOWER;
	return e;
}

/* Directory fds listed in MEMSHIM_FDS, each checked against the memfd the
 * kernel says it is (the parent's placeholder), and fds on real files below
 * the store (MEMSHIM_LOWER), checked against the file the node is: their
 * attribute changes must copy the file up here too, never reach it. */
static void inherit_listed(const char *p)
{
	while (p && *p) {
		char kind = p[0], own = p[1];
		int fd;
		unsigned ino;
		unsigned long long kino;
		int used = 0;
		if (sscanf(p + 2, "%d:%u:%llu%n", &fd, &ino, &kino, &used) != 3)
			return;
		p += 2 + used;
		if (*p == ',')
			p++;
		struct stat st, ds;
		if ((kind != 'D' && kind != 'L') || ms_fd_get(fd) || REAL(fstat)(fd, &st) ||
		    (uint64_t)st.st_ino != kino)
			continue;
		if (ms_stat_ino(ms_shim.store, ino, &ds))
			continue;
		if (kind == 'D' ? !S_ISDIR(ds.st_mode)
				: !S_ISREG(ds.st_mode) || ds.st_ino != st.st_ino || ds.st_dev != st.st_dev)
			continue;
		if (own != 'T')
			ms_ino_get(ms_shim.store, ino);
		if (kind == 'L') {
			lower_fd_set(fd, ino);
			continue;
		}
		int fl = REAL(fcntl)(fd, F_GETFL);
		/* an O_PATH directory fd stays one (its kernel fd says so) */
		ms_fd_set(fd, MS_FD_DIR, ino, fl >= 0 && (fl & O_PATH) ? O_PATH : O_RDONLY | O_DIRECTORY);
	}
}

struct ms_fd *ms_fd_adopt_lower(int fd)
{
	const struct ms_config *c = &ms_shim.cfg;
	char proc[40], link[PATH_MAX], path[2 * PATH_MAX];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = REAL(readlink)(proc, link, sizeof(link) - 1);
	if (n <= 0)
		return NULL;
	link[n] = 0;
	for (int k = 0; k < c->nprefix; k++) {
		size_t ll = strlen(c->lower[k]);
		if (!ll || strncmp(link, c->lower[k], ll) || (link[ll] && link[ll] != '/'))
			continue;
		/* the fd is the real file at that path, and the store has a
		 * node there (a lower file, or its copy) */
		struct stat st, real;
		if (REAL(fstat)(fd, &st) || !S_ISREG(st.st_mode) || REAL(lstat)(link, &real) ||
		    real.st_dev != st.st_dev || real.st_ino != st.st_ino)
			return NULL;
		snprintf(path, sizeof(path), "%s%s", c->prefix[k], link + ll);
		ms_ino ino;
		if (!ms_attach() || ms_lookup(ms_shim.store, 0, path, MS_NOFOLLOW, &ino))
			return NULL;
		ms_ino_get(ms_shim.store, ino);
		return lower_fd_set(fd, ino);
	}
	return NULL;
}

/* MEMSHIM_FDS as this program found it (NULL: not set, the parent did not
 * say), read once by the constructor; the writer's list fits in 4 KiB. */
MS_STARTUP static char *inherited;
MS_STARTUP static int inherited_set;

/* The kernel's device of every memfd, from MEMSHIM_MEMFD_DEV (set by the
 * process that opened the store); 0 when unknown. */
static dev_t memfd_dev_env(void)
{
	const char *v = ms_carry_start_env("MEMSHIM_MEMFD_DEV");
	uint64_t dev;
	return v && ms_parse_u64(v, &dev) == 0 ? (dev_t)dev : 0;
}

/* Whether an fd this program started with is a memfd, when the parent did
 * not list them (glibc's system() and popen() spawn without our wrappers):
 * one fstat per fd. No device known: assume one is. */
static int memfd_among_fds(void)
{
	dev_t dev = memfd_dev_env();
	int fds[256];
	int n = dev ? own_fds(fds, 256) : -1;
	if (n < 0)
		return 1;
	struct stat st;
	for (int i = 0; i < n; i++)
		if (memfd_on(fds[i], dev, &st))
			return 1;
	return 0;
}

static char *keep_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	if (n > sizeof(saved_buf) - saved_used)
		return strdup(s);
	char *p = memcpy(saved_buf + saved_used, s, n);
	saved_used += n;
	return p;
}

/* This library's path as the loader opened it (what dladdr would say),
 * from its entry in the loader's list: no lock, no allocation. */
static void find_libpath(void)
{
	const struct link_map *self = ms_self_map();
	const char *name = self ? self->l_name : NULL;
	Dl_info di;
	if ((!name || !*name) && dladdr((void *)find_libpath, &di))
		name = di.dli_fname;
	const char *kept = name && strnlen(name, PATH_MAX) < PATH_MAX ? keep_copy(name) : NULL;
	if (kept)
		libpath = kept;
}

const char *ms_carry_libpath(void) { return libpath; }

/* The variables carried to new programs when a caller drops them: MEMSHIM_FDS,
 * MEMSHIM_CWD and MEMSHIM_PIN are this process's own, written afresh. */
static int carried_name(const char *var)
{
	static const char *const carried[] = {
		"PREFIX=", "QUOTA=", "MAX_NODES=", "QUOTA_ERRNO=", "GUARD=", "GUARD_ACTION=",
		"GUARD_INTERVAL=", "LOG=", "STORE=", "STORE_ID=", "REPORT=", "CHART=", "SEED=",
		"SAVE=", "MEMFD_DEV=", "FAIL=", "LOWER=",
	};
	for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++)
		if (name_eq(var + 8, carried[i]))
			return 1;
	return 0;
}

/* The MEMSHIM_* entries the program started with, for the constructor
 * (pointers into the environment's own strings); past 64 of them, nstart
 * is -1 and environ itself is asked (without MEMSHIM_CWD, taken out). */
MS_STARTUP static const char *start_env[64];
MS_STARTUP static int nstart;

const char *ms_carry_start_env(const char *name)
{
	if (nstart < 0)
		return getenv(name);
	size_t n = strlen(name);
	for (int i = 0; i < nstart; i++)
		if (!strncmp(start_env[i], name, n) && start_env[i][n] == '=')
			return start_env[i] + n + 1;
	return NULL;
}

/* One pass over the environment the program started with: MEMSHIM_FDS
 * and MEMSHIM_CWD taken out of it (read once: left there they would
 * outlive what they describe and mislead a child that glibc's system()
 * or popen() starts, which the exec wrappers never see), the carried
 * variables copied. */
void ms_carry_init(void)
{
	find_libpath();
	char **out = environ;
	for (char **e = environ; e && *e; e++) {
		if (!name_eq(*e, "MEMSHIM_")) {
			*out++ = *e;
			continue;
		}
		if (nstart == (int)(sizeof(start_env) / sizeof(start_env[0])))
			nstart = -1;
		else if (nstart >= 0)
			start_env[nstart++] = *e;
		if (name_eq(*e, "MEMSHIM_CWD="))
			continue;
		if (name_eq(*e, "MEMSHIM_FDS=")) {
			const char *v = *e + 12;
			inherited_set = 1;
			if (*v)
				inherited = keep_copy(v);
			continue;
		}
		*out++ = *e;
		if (carried_name(*e) && nsaved < (int)(sizeof(saved) / sizeof(saved[0]))) {
			const char *kv = keep_copy(*e);
			if (kv)
				saved[nsaved++] = kv;
		}
	}
	if (out)
		*out = NULL;
}

int ms_carry_inherited(void)
{
	/* Listed by the parent, or found among our fds when it could not
	 * list them. */
	return inherited || (!inherited_set && memfd_among_fds());
}

void ms_carry_attach(void)
{
	/* Only when the constructor saw store fds: a process that attaches
	 * later started without any. */
	if (!inherited && inherited_set)
		return;
	discover_files(inherited, (dev_t)ms_store_memfd_dev(ms_shim.store));
	inherit_listed(inherited);
	uintptr_t at = (uintptr_t)inherited, buf = (uintptr_t)saved_buf;
	if (at - buf >= sizeof(saved_buf))
		free(inherited); /* it did not fit */
	inherited = NULL;
}

