/* shim/fail.c — MEMSHIM_FAIL: where the program's calls on store files
 * meet the rules (core/fault.c holds them, counts and draws), and the
 * record and log line of each failure injected.
 *
 * The callers (open.c, fd.c, path.c, dir.c) ask only when ms_fault_on():
 * without rules nothing here runs. A rule's glob is matched against the
 * path as the program named it, made absolute and cleaned lexically (open,
 * rename), or against the name of the fd's file when the fd first writes
 * or syncs (kept in the fd's entry: a name costs a walk of the names).
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

/* The absolute store path of `path` relative to store directory `dir`
 * (0: path is absolute), cleaned lexically; "" when there is none. */
static void abs_path(ms_ino dir, const char *path, char *out)
{
	char joined[PATH_MAX];
	const char *p = path;
	if (dir) {
		if (ms_node_path(ms_shim.store, dir, joined, sizeof(joined))) {
			out[0] = 0;
			return;
		}
		size_t l = strlen(joined), pl = strlen(path);
		if (!pl) {
			memcpy(out, joined, l + 1);
			return;
		}
		if (l + 1 + pl >= sizeof(joined)) {
			out[0] = 0;
			return;
		}
		joined[l] = '/';
		memcpy(joined + l + 1, path, pl + 1);
		p = joined;
	}
	if (ms_normalise(p, out, PATH_MAX, 0) < 0)
		out[0] = 0;
}

static void report(int rule, enum ms_fail_call call, int rc, const char *path, size_t asked,
		   size_t cut)
{
	int err = rc < 0 ? -rc : 0;
	const char *text = ms_fail_rule_text(rule);
	ms_injected_note(ms_shim.store, rule, (int)call, err, path); /* for the report */
	const char *name = ms_fail_call_name(call);
	if (err)
		ms_logc(ms_shim.cfg.log_level, MS_LOG_WARN,
			"MEMSHIM_FAIL rule %d (%s): %s of %s fails with %s (pid %d, %s)", rule, text,
			name, path, strerrorname_np(err), (int)ms_shim_getpid(),
			program_invocation_short_name);
	else
		ms_logc(ms_shim.cfg.log_level, MS_LOG_WARN,
			"MEMSHIM_FAIL rule %d (%s): write of %s is cut to %zu of %zu bytes (pid %d, %s)",
			rule, text, path, cut, asked, (int)ms_shim_getpid(),
			program_invocation_short_name);
}

int ms_fail_path(enum ms_fail_call call, ms_ino dir, const char *path, ms_ino dir2,
		 const char *path2)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (!ms_fail_any())
		return 0;
	abs_path(dir, path, a);
	unsigned mask = ms_fail_match(a);
	if (path2) {
		abs_path(dir2, path2, b);
		mask |= ms_fail_match(b);
	}
	if (!mask)
		return 0;
	size_t len = 0;
	int rule = 0, rc = ms_fail_check(call, mask, 0, &len, &rule);
	if (!rc)
		return 0;
	if (!path2) {
		report(rule, call, rc, a, 0, 0);
		return rc;
	}
	char both[2 * PATH_MAX + 8]; /* both names in the record */
	snprintf(both, sizeof(both), "%s -> %s", a, b);
	report(rule, call, rc, both, 0, 0);
	return rc;
}

int ms_fail_fd(enum ms_fail_call call, int fd, struct ms_fd *e, int64_t at, size_t *len)
{
	char path[PATH_MAX];
	if (!ms_fail_any())
		return 0;
	uint32_t mask = __atomic_load_n(&e->fail, __ATOMIC_RELAXED);
	if (!(mask & MS_FD_FAIL_KNOWN)) {
		if (ms_node_path(ms_shim.store, e->ino, path, sizeof(path)))
			path[0] = 0; /* no name left: only a glob "*" matches */
		mask = ms_fail_match(path) | MS_FD_FAIL_KNOWN;
		__atomic_store_n(&e->fail, mask, __ATOMIC_RELAXED);
	}
	mask &= ~MS_FD_FAIL_KNOWN;
	if (!mask)
		return 0;
	uint64_t end = 0;
	if (call == MS_FAIL_WRITE && ms_fail_wants_end(call, mask)) {
		int saved = errno;
		if (at < 0 && (e->oflags & O_APPEND)) {
			struct stat st;
			at = REAL(fstat)(fd, &st) == 0 ? st.st_size : 0;
		} else if (at < 0)
			at = REAL(lseek64)(fd, 0, SEEK_CUR);
		errno = saved;
		end = (uint64_t)(at < 0 ? 0 : at) + *len;
	}
	size_t asked = *len;
	int rule = 0, rc = ms_fail_check(call, mask, end, len, &rule);
	if (!rc)
		return 0;
	if (ms_node_path(ms_shim.store, e->ino, path, sizeof(path)))
		path[0] = 0;
	report(rule, call, rc, path, asked, *len);
	return rc < 0 ? rc : 0;
}
