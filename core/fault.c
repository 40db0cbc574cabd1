/* core/fault.c — the rule table of fault injection (see fault.h).
 *
 * A handful of rules, each a name, a call number, an errno and a counter;
 * armed rules are published by ms_fault_armed, which every call reads.
 * Allocates nothing and calls no wrapped libc name: it runs inside the
 * system call helpers and the shim's real-function calls.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"

struct rule {
	char name[MS_FAULT_NAME_MAX];
	unsigned nth; /* 0 = every call */
	int err;
	unsigned calls; /* counted since armed */
	unsigned fired;
};

static struct rule rules[MS_FAULT_MAX];
int ms_fault_armed;
__thread int ms_fault_errno;
static int (*known_fn)(const char *name);

/* The names of core/sys.h's helpers: keep in step with it. */
static const char *const core_names[] = {
	"openat",    "close",	   "read",	 "write",     "pread",	   "pwrite",
	"fstat",     "ftruncate",  "fcntl",	 "dup3",      "memfd_create", "readlinkat",
	"fallocate", "mkdirat",	   "symlinkat",	 "unlinkat",  "fstatat",   "fchmod",
	"fchmodat",  "utimensat",  "getdents64", "lseek",     "sendfile",  "socket",
	"connect",   "bind",	   "getsockopt", "setsockopt", "sendto",   "recvmsg",
	"mmap",	     "mknodat",	   "fchownat",	 "socketpair",
};

__thread int ms_fault_paused;

int ms_fault_hit(const char *name)
{
	if (ms_fault_paused)
		return 0;
	int n = __atomic_load_n(&ms_fault_armed, __ATOMIC_ACQUIRE), r = 0;
	for (int i = 0; i < n; i++) {
		struct rule *ru = &rules[i];
		if (strcmp(ru->name, name))
			continue;
		unsigned c = __atomic_add_fetch(&ru->calls, 1, __ATOMIC_RELAXED);
		if ((ru->nth == 0 || c == ru->nth) && !r) {
			__atomic_add_fetch(&ru->fired, 1, __ATOMIC_RELAXED);
			r = -ru->err;
		}
	}
	if (r)
		ms_fault_errno = -r;
	return r;
}

int ms_fault_arm(const char *name, unsigned nth, int err)
{
	int n = __atomic_load_n(&ms_fault_armed, __ATOMIC_RELAXED);
	size_t len = name ? strlen(name) : 0;
	if (!len || len >= MS_FAULT_NAME_MAX || err <= 0 || err > 4095)
		return -EINVAL;
	if (n == MS_FAULT_MAX)
		return -ENOSPC;
	struct rule *ru = &rules[n];
	memcpy(ru->name, name, len + 1);
	ru->nth = nth;
	ru->err = err;
	ru->calls = ru->fired = 0;
	__atomic_store_n(&ms_fault_armed, n + 1, __ATOMIC_RELEASE);
	return 0;
}

void ms_fault_clear(void)
{
	__atomic_store_n(&ms_fault_armed, 0, __ATOMIC_RELEASE);
}

unsigned ms_fault_fired(const char *name)
{
	int n = __atomic_load_n(&ms_fault_armed, __ATOMIC_ACQUIRE);
	unsigned k = 0;
	for (int i = 0; i < n; i++)
		if (!name || !strcmp(rules[i].name, name))
			k += __atomic_load_n(&rules[i].fired, __ATOMIC_RELAXED);
	return k;
}

void ms_fault_set_known(int (*known)(const char *name)) { known_fn = known; }

/* ---- the spec ------------------------------------------------------------ */

static int is_ident(const char *s, size_t len)
{
	if (!len || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

static int is_known(const char *name)
{
	if (!known_fn)
		return 1;
	for (size_t i = 0; i < sizeof(core_names) / sizeof(core_names[0]); i++)
		if (!strcmp(core_names[i], name))
			return 1;
	return known_fn(name);
}

/* errno by its name, any case: EIO, emfile. 0 when there is none. */
static int errno_by_name(const char *s, size_t len)
{
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);
		if (!n || strlen(n) != len)
			continue;
		size_t i = 0;
		while (i < len && (s[i] == n[i] || (s[i] >= 'a' && s[i] <= 'z' && s[i] - 32 == n[i])))
			i++;
		if (i == len)
			return e;
	}
	return 0;
}

/* A part of the spec quoted in a message: printable ASCII, cut at 40. */
static void shown(char *out, size_t n, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 4 < n && o < 40; i++)
		out[o++] = s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
	if (o >= 40 && len > 40)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = 0;
}

#define WHAT(...)                                                                  \
	do {                                                                       \
		if (what && n)                                                     \
			snprintf(what, n, __VA_ARGS__);                            \
		return -EINVAL;                                                    \
	} while (0)

int ms_fault_parse(const char *spec, int arm, char *what, size_t n)
{
	struct {
		char name[MS_FAULT_NAME_MAX];
		unsigned nth;
		int err;
	} got[MS_FAULT_MAX];
	int k = 0;
	char q[48];
	if (what && n)
		what[0] = 0;
	if (strlen(spec) >= MS_FAULT_SPEC_MAX)
		WHAT("longer than %d characters", MS_FAULT_SPEC_MAX - 1);
	for (const char *p = spec;;) {
		const char *end = strchr(p, ','), *c1, *c2;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		shown(q, sizeof(q), p, len);
		c1 = memchr(p, ':', len);
		c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p)) : NULL;
		if (!c2)
			WHAT("rule \"%s\" is not name:N:ERRNO", q);
		size_t nlen = (size_t)(c1 - p), dlen = (size_t)(c2 - c1 - 1),
		       elen = len - (size_t)(c2 + 1 - p);
		if (!is_ident(p, nlen) || nlen >= MS_FAULT_NAME_MAX)
			WHAT("rule \"%s\" does not start with a function name", q);
		if (k == MS_FAULT_MAX)
			WHAT("more than %d rules", MS_FAULT_MAX);
		memcpy(got[k].name, p, nlen);
		got[k].name[nlen] = 0;
		if (!is_known(got[k].name))
			WHAT("rule \"%s\": memshim makes no call named %s", q, got[k].name);
		uint64_t v = 0;
		for (size_t i = 0; i < dlen; i++) {
			char d = c1[1 + i];
			if (d < '0' || d > '9' || v > UINT32_MAX / 10)
				dlen = 0;
			else
				v = v * 10 + (uint64_t)(d - '0');
		}
		if (!dlen || v > UINT32_MAX)
			WHAT("rule \"%s\": N is not a call number (1 for the first call, 0 for every call)",
			     q);
		got[k].nth = (unsigned)v;
		got[k].err = errno_by_name(c2 + 1, elen);
		if (!got[k].err)
			WHAT("rule \"%s\" does not end with an errno name such as EIO", q);
		k++;
		if (!end)
			break;
		p = end + 1;
	}
	for (int i = 0; arm && i < k; i++)
		if (ms_fault_arm(got[i].name, got[i].nth, got[i].err))
			WHAT("more than %d rules armed", MS_FAULT_MAX);
	return k;
}
