/* core/fault.c — the rule table of fault injection (see fault.h).
 *
 * A handful of rules, each a name, a call number, an errno and a counter;
 * armed rules are published by ms_fault_armed, which every call reads.
 * MEMSHIM_FAIL's rules are rows of the same table with a glob and a
 * condition more, and the records of what they injected live here too.
 * Allocates nothing and calls no wrapped libc name: it runs inside the
 * system call helpers and the shim's real-function calls.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"
#include "sys.h"

struct rule {
	char name[MS_FAULT_NAME_MAX];
	unsigned nth; /* 0 = every call */
	int err;      /* MEMSHIM_FAIL's "short": 0 */
	unsigned calls; /* counted since armed */
	unsigned fired;
	/* MEMSHIM_FAIL's rules only (program != 0) */
	int program;
	int index;           /* 1 = MEMSHIM_FAIL's first rule */
	enum ms_fail_call call;
	int from;            /* "N+": the nth call and every one after */
	uint64_t size;       /* ">SIZE"; 0 = no such condition */
	uint32_t chance;     /* "P%" in units of 10^-8 (10^8 = always); 0 = none */
	char glob[MS_FAIL_GLOB_MAX];
	char text[MS_FAIL_GLOB_MAX + 64]; /* the rule as written */
};

#define CHANCE_ONE 100000000u /* 100% */

/* Used only with MEMSHIM_FAULT; placed after the other zeroed data (.lbss)
 * so that it does not stand between the variables start-up writes. */
static struct rule rules[MS_FAULT_MAX] __attribute__((section(".lbss")));
static uint64_t fail_seed; /* MEMSHIM_FAIL's seed=; 0 without one */
static int fail_armed;     /* how many of the armed rules are MEMSHIM_FAIL's */
MS_STARTUP int ms_fault_armed; /* read by every system call of ours */
__thread int ms_fault_errno;
MS_STARTUP static int (*known_fn)(const char *name);

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
		if (ru->program || strcmp(ru->name, name))
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

void ms_fault_die(const char *name)
{
	if (ms_fault_hit(name))
		MS_SYSCALL(SYS_kill, MS_SYSCALL(SYS_getpid), SIGKILL);
}

/* Publishes a rule: written whole before ms_fault_armed counts it. */
static int arm(const struct rule *r)
{
	int n = __atomic_load_n(&ms_fault_armed, __ATOMIC_RELAXED);
	if (n == MS_FAULT_MAX)
		return -ENOSPC;
	rules[n] = *r;
	rules[n].calls = rules[n].fired = 0;
	fail_armed += r->program;
	__atomic_store_n(&ms_fault_armed, n + 1, __ATOMIC_RELEASE);
	return 0;
}

int ms_fault_arm(const char *name, unsigned nth, int err)
{
	struct rule r = {.nth = nth, .err = err};
	size_t len = name ? strlen(name) : 0;
	if (!len || len >= MS_FAULT_NAME_MAX || err <= 0 || err > 4095)
		return -EINVAL;
	memcpy(r.name, name, len + 1);
	return arm(&r);
}

void ms_fault_clear(void)
{
	__atomic_store_n(&ms_fault_armed, 0, __ATOMIC_RELEASE);
	fail_armed = 0;
}

unsigned ms_fault_fired(const char *name)
{
	int n = __atomic_load_n(&ms_fault_armed, __ATOMIC_ACQUIRE);
	unsigned k = 0;
	for (int i = 0; i < n; i++)
		if (!rules[i].program && (!name || !strcmp(rules[i].name, name)))
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
	} got[MS_FAULT_SPEC_RULES];
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
		if (k == MS_FAULT_SPEC_RULES)
			WHAT("more than %d rules", MS_FAULT_SPEC_RULES);
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

/* ---- MEMSHIM_FAIL: the program's calls on store paths --------------------------- */

static const char *const call_names[] = {"open", "write", "fsync", "rename"};

const char *ms_fail_call_name(enum ms_fail_call call) { return call_names[call]; }

int ms_fail_any(void) { return fail_armed != 0; }

/* One element of a glob at p against c: a literal (or "\\x"), '?', or a
 * class "[...]" ("[!...]" or "[^...]" negated, ranges a-z, a ']' first is
 * literal). Returns the element's end, and *ok whether c matches. The
 * parser has checked that every class is closed. */
static const char *glob_one(const char *p, char c, int *ok)
{
	if (*p == '?') {
		*ok = 1;
		return p + 1;
	}
	if (*p == '\\' && p[1]) {
		*ok = p[1] == c;
		return p + 2;
	}
	if (*p != '[') {
		*ok = *p == c;
		return p + 1;
	}
	int neg = p[1] == '!' || p[1] == '^', in = 0;
	const char *q = p + 1 + neg;
	do {
		char lo = *q, hi = lo;
		if (q[1] == '-' && q[2] && q[2] != ']') {
			hi = q[2];
			q += 2;
		}
		in |= c >= lo && c <= hi;
		q++;
	} while (*q != ']');
	*ok = in != neg;
	return q + 1;
}

/* fnmatch(3) without flags ('*' crosses '/'), over bytes: no locale, no
 * allocation. '*' backtracks to the last star only, which is enough for
 * a pattern without nested structure. */
static int glob_match(const char *p, const char *s)
{
	const char *star = NULL, *from = NULL;
	while (*s) {
		int ok = 0;
		if (*p == '*') {
			star = ++p;
			from = s;
			continue;
		}
		if (*p) {
			const char *next = glob_one(p, *s, &ok);
			if (ok) {
				p = next;
				s++;
				continue;
			}
		}
		if (!star)
			return 0;
		p = star;
		s = ++from;
	}
	while (*p == '*')
		p++;
	return !*p;
}

unsigned ms_fail_match(const char *path)
{
	int n = __atomic_load_n(&ms_fault_armed, __ATOMIC_ACQUIRE);
	const char *base = strrchr(path, '/');
	unsigned mask = 0;
	base = base ? base + 1 : path;
	for (int i = 0; i < n; i++) {
		const struct rule *ru = &rules[i];
		if (ru->program && glob_match(ru->glob, strchr(ru->glob, '/') ? path : base))
			mask |= 1u << i;
	}
	return mask;
}

int ms_fail_wants_end(enum ms_fail_call call, unsigned mask)
{
	for (int i = 0; mask >> i; i++)
		if ((mask >> i & 1) && rules[i].call == call && rules[i].size)
			return 1;
	return 0;
}

/* splitmix64's finaliser: the k-th draw of a rule is a function of the
 * seed, the rule and k alone, so a process that makes the same calls
 * meets the same failures. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

int ms_fail_check(enum ms_fail_call call, unsigned mask, uint64_t end, size_t *len, int *rule)
{
	int r = 0;
	for (int i = 0; mask >> i; i++) {
		struct rule *ru = &rules[i];
		int hit;
		if (!(mask >> i & 1) || ru->call != call)
			continue;
		if (ru->size)
			hit = end > ru->size;
		else {
			if (!ru->err && *len < 2)
				continue; /* a write of one byte cannot be short */
			unsigned c = __atomic_add_fetch(&ru->calls, 1, __ATOMIC_RELAXED);
			if (ru->chance)
				hit = mix(mix(fail_seed ^ (uint64_t)ru->index << 56) ^ c) % CHANCE_ONE <
				      ru->chance;
			else
				hit = c == ru->nth || (ru->from && c > ru->nth);
		}
		if (!hit || r)
			continue;
		__atomic_add_fetch(&ru->fired, 1, __ATOMIC_RELAXED);
		*rule = ru->index;
		if (ru->err)
			r = -ru->err;
		else {
			r = MS_FAIL_SHORT;
			*len /= 2;
		}
	}
	return r;
}

/* ---- the rules' texts ------------------------------------------------------------ */

const char *ms_fail_rule_text(int rule)
{
	int n = __atomic_load_n(&ms_fault_armed, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (rules[i].program && rules[i].index == rule)
			return rules[i].text;
	return "";
}

/* ---- MEMSHIM_FAIL's syntax -------------------------------------------------------- */

/* A decimal number of at most `maxdig` digits in s[0..len): -1 if not. */
static int64_t decimal(const char *s, size_t len, size_t maxdig)
{
	int64_t v = 0;
	if (!len || len > maxdig)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "P%": P in (0, 100] with at most 6 decimals, in units of 10^-8. */
static int64_t percent(const char *s, size_t len)
{
	const char *dot = memchr(s, '.', len);
	size_t il = dot ? (size_t)(dot - s) : len, fl = dot ? len - il - 1 : 0;
	int64_t whole = decimal(s, il, 3), frac = 0;
	if (whole < 0 || (dot && (frac = decimal(dot + 1, fl, 6)) < 0))
		return -1;
	for (size_t i = fl; i < 6; i++)
		frac *= 10;
	int64_t v = whole * 1000000 + frac;
	return v > 0 && v <= CHANCE_ONE ? v : -1;
}

static int glob_ok(const char *g)
{
	for (const char *p = g; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '[') {
			const char *q = p + 1;
			q += *q == '!' || *q == '^';
			q += *q == ']'; /* a ']' first is a member */
			while (*q && *q != ']')
				q++;
			if (!*q)
				return 0;
			p = q;
		}
	}
	return 1;
}

int ms_fail_parse(const char *spec, int (*parse_size)(const char *s, uint64_t *out), int arm_them,
		  char *what, size_t n)
{
	struct rule got[MS_FAULT_SPEC_RULES];
	int k = 0, seeded = 0;
	uint64_t seed = 0;
	char q[48];
	if (what && n)
		what[0] = 0;
	if (strlen(spec) >= MS_FAIL_SPEC_MAX)
		WHAT("longer than %d characters", MS_FAIL_SPEC_MAX - 1);
	for (const char *p = spec;; p = strchr(p, ';') + 1) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		shown(q, sizeof(q), p, len);
		if (len > 5 && !memcmp(p, "seed=", 5)) {
			int64_t v = decimal(p + 5, len - 5, 18);
			if (v < 0)
				WHAT("\"%s\": the seed is a whole number of at most 18 digits", q);
			if (seeded++)
				WHAT("\"%s\": a second seed", q);
			seed = (uint64_t)v;
			if (!end)
				break;
			continue;
		}
		/* call:glob:when:action, the glob in the middle (it may hold ':') */
		const char *c1 = memchr(p, ':', len), *c3 = NULL, *c2 = NULL;
		for (const char *x = p + len - 1; x >= p && !c2; x--) {
			if (*x != ':')
				continue;
			if (c3)
				c2 = x;
			else
				c3 = x;
		}
		if (!c1 || !c2 || c2 <= c1)
			WHAT("rule \"%s\" is not call:glob:when:action", q);
		if (k == MS_FAULT_SPEC_RULES)
			WHAT("more than %d rules", MS_FAULT_SPEC_RULES);
		struct rule *r = &got[k];
		memset(r, 0, sizeof(*r));
		r->program = 1;
		r->index = k + 1;
		size_t cl = (size_t)(c1 - p), gl = (size_t)(c2 - c1 - 1), wl = (size_t)(c3 - c2 - 1),
		       al = len - (size_t)(c3 + 1 - p);
		const char *w = c2 + 1, *a = c3 + 1;
		int call = -1;
		for (int i = 0; i < 4; i++)
			if (strlen(call_names[i]) == cl && !memcmp(p, call_names[i], cl))
				call = i;
		if (call < 0)
			WHAT("rule \"%s\": the call is one of open, write, fsync, rename", q);
		r->call = (enum ms_fail_call)call;
		memcpy(r->name, call_names[call], cl + 1);
		if (!gl || gl >= MS_FAIL_GLOB_MAX)
			WHAT("rule \"%s\": the glob is empty or longer than %d characters", q,
			     MS_FAIL_GLOB_MAX - 1);
		memcpy(r->glob, c1 + 1, gl);
		r->glob[gl] = 0;
		if (!glob_ok(r->glob) || (strchr(r->glob, '/') && r->glob[0] != '/'))
			WHAT("rule \"%s\": the glob has a '[' without ']', or a '/' but does not "
			     "start with one",
			     q);
		int64_t v;
		if (wl > 1 && w[0] == '>') {
			char sz[24];
			if (wl - 1 >= sizeof(sz))
				wl = 1;
			memcpy(sz, w + 1, wl - 1);
			sz[wl - 1] = 0;
			if (wl == 1 || parse_size(sz, &r->size) || !r->size)
				WHAT("rule \"%s\": \">SIZE\" needs a size above 0 such as >64K or >1M", q);
			if (r->call != MS_FAIL_WRITE)
				WHAT("rule \"%s\": \">SIZE\" is for write rules only", q);
		} else if (wl && w[wl - 1] == '%') {
			if ((v = percent(w, wl - 1)) < 0)
				WHAT("rule \"%s\": a probability is more than 0%% and at most 100%%, "
				     "such as 10%% or 0.5%%",
				     q);
			r->chance = (uint32_t)v;
		} else {
			r->from = wl > 1 && w[wl - 1] == '+';
			if ((v = decimal(w, wl - (size_t)r->from, 9)) < 1)
				WHAT("rule \"%s\": when is N (the N-th call, from 1), N+ (the N-th and "
				     "every later one), >SIZE or P%%",
				     q);
			r->nth = (unsigned)v;
		}
		if (al == 5 && !memcmp(a, "short", 5)) {
			if (r->call != MS_FAIL_WRITE)
				WHAT("rule \"%s\": \"short\" is for write rules only", q);
		} else if (!(r->err = errno_by_name(a, al)))
			WHAT("rule \"%s\" does not end with an errno name such as EIO, or short", q);
		memcpy(r->text, p, len < sizeof(r->text) ? len : sizeof(r->text) - 1);
		k++;
		if (!end)
			break;
	}
	if (!k)
		WHAT("a seed without a rule");
	if (!arm_them)
		return k;
	fail_seed = seed;
	for (int i = 0; i < k; i++)
		if (arm(&got[i]))
			WHAT("more than %d rules armed", MS_FAULT_MAX);
	return k;
}
