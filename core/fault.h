/* core/fault.h — fault injection: the N-th call of a named function fails
 * with a chosen errno, so tests can drive the error paths (as SQLite's
 * os_unix.c does with aSyscall[]); and MEMSHIM_FAIL's rules, which make the
 * program's own calls on store paths fail (see "The program's failures"
 * below). One rule table and one switch, ms_fault_armed, serve both.
 *
 * One mechanism for both ways memshim reaches the kernel: core's system
 * call helpers (core/sys.h) and the shim's table of real libc functions
 * (shim/real.h, REAL(name)) ask ms_fault_hit(name) before the call when a
 * rule is armed; a rule that fires makes the call fail without being made
 * (-errno from a sys_* helper, -1 and errno, or NULL and errno, from a real
 * function), except close, which releases the fd and then reports the error
 * as close(2) does. Nothing armed costs one predictable branch per call.
 *
 * Rules are named by function: a sys_* helper by its system call's name
 * without "sys_" ("openat", "memfd_create", "connect", "mmap"), a real
 * function by its name in the real_*.def lists ("open", "write", "rename").
 * A name both use ("write", "fstat", "close") counts the calls of both.
 *
 * Part of core's boundary (shim/ includes it). Unit tests arm rules with
 * ms_fault_arm; a preloaded process arms MEMSHIM_TEST_FAULT's rules at the
 * end of its start-up (doc/config.md). Arming and clearing are for one
 * thread while no other thread depends on the rules; hits are thread-safe.
 */
#ifndef MEMSHIM_CORE_FAULT_H
#define MEMSHIM_CORE_FAULT_H

#include <stddef.h>
#include <stdint.h>

#define MS_FAULT_MAX 16      /* rules at once: 8 of each variable */
#define MS_FAULT_SPEC_RULES 8 /* rules in one spec */
#define MS_FAULT_NAME_MAX 32 /* bytes of a name, NUL included */
#define MS_FAULT_SPEC_MAX 256 /* bytes of a spec, NUL included */

/* How many rules are armed; read (relaxed) before every call. */
extern int ms_fault_armed;
/* The errno of the last rule that fired in this thread (the shim's failing
 * stand-ins read it). */
extern __thread int ms_fault_errno;
/* Non-zero while this thread's calls are the shim's own start-up work done
 * late (attaching to the store on a first store call): rules count the
 * program's calls only, as when that work ran before main. */
extern __thread int ms_fault_paused;

static inline int ms_fault_on(void)
{
	return __builtin_expect(__atomic_load_n(&ms_fault_armed, __ATOMIC_RELAXED) != 0, 0);
}

/* Counts a call of `name` against every test rule for it (MEMSHIM_FAIL's
 * rules are not memshim's calls: ms_fail_check counts those); returns
 * -errno when one fires (and sets ms_fault_errno), else 0. */
int ms_fault_hit(const char *name);

/* 0, or -errno when a rule for `name` fires: the check every call makes. */
#define MS_FAULT(name) (ms_fault_on() ? ms_fault_hit(name) : 0)

/* Arms a rule: the nth call of `name` from now fails with err; nth 0 fails
 * every call. Returns 0, -EINVAL (empty or too long a name, err not in
 * 1..4095), -ENOSPC (MS_FAULT_MAX rules armed already). */
int ms_fault_arm(const char *name, unsigned nth, int err);

/* Disarms every rule, MEMSHIM_FAIL's too. */
void ms_fault_clear(void);

/* How many times rules for `name` (NULL: any) fired since they were armed. */
unsigned ms_fault_fired(const char *name);

/* Parses a spec, "name:N:ERRNO[,name:N:ERRNO...]" (N a whole number, 0 for
 * every call; ERRNO a name such as EIO or EMFILE, any case), e.g.
 * "memfd_create:1:EMFILE,openat:3:ENOENT", and with arm non-zero arms its
 * rules. Returns the number of rules, or -EINVAL with what is wrong in
 * `what` (one line, without the variable or the example). */
int ms_fault_parse(const char *spec, int arm, char *what, size_t n);
#define MS_FAULT_EXAMPLE "memfd_create:1:EMFILE,openat:3:ENOENT"

/* Names ms_fault_parse accepts besides core's own (sys.h): the shim sets
 * its real-function table's. Unset, any C identifier is accepted. */
void ms_fault_set_known(int (*known)(const char *name));

/* Death points: places inside a store operation, between two writes of the
 * arena that a process killed there would leave apart, where a test makes
 * the process die as a SIGKILL at that instruction would (chaos finds such
 * windows by chance; a test needs one on purpose). MS_DIE_AT(name) counts
 * a call of `name` like any rule's name and, when a rule armed for it
 * fires, kills the process with SIGKILL (the rule's errno is not used).
 * Named "die_" + what has been written when it fires. */
void ms_fault_die(const char *name);
#define MS_DIE_AT(name)                                                            \
	do {                                                                       \
		if (ms_fault_on())                                                 \
			ms_fault_die(name);                                        \
	} while (0)

/* ---- The program's failures: MEMSHIM_FAIL ------------------------------------
 *
 * A rule "call:glob:when:action" (doc/config.md) makes the program's calls
 * on store files fail on purpose. The shim asks, for a store call, which
 * rules' globs match the file (ms_fail_match, once per path or per fd),
 * then whether one fires (ms_fail_check), and records what it injected in
 * the store for the report (ms_injected_note, core/store.h). Counts are the process's own: each exec'd program starts
 * from zero, a forked child goes on from its parent's counts (a copy).
 */

#define MS_FAIL_SPEC_MAX 1024 /* bytes of MEMSHIM_FAIL, NUL included */
#define MS_FAIL_GLOB_MAX 128  /* bytes of a glob, NUL included */
#define MS_FAIL_EXAMPLE "write:*.log:3:EIO;write:*.db:>1M:ENOSPC"
#define MS_FAIL_SHORT 1       /* ms_fail_check: write only part of it */

/* The calls a rule can name; a mask of rules fits an unsigned. */
enum ms_fail_call { MS_FAIL_OPEN, MS_FAIL_WRITE, MS_FAIL_FSYNC, MS_FAIL_RENAME };
_Static_assert(MS_FAULT_MAX < 32, "a mask of rules is an unsigned");

/* Whether MEMSHIM_FAIL rules are armed (ms_fault_on() is also true for
 * MEMSHIM_TEST_FAULT's alone): callers look no path up without them. */
int ms_fail_any(void);

/* The mask of armed MEMSHIM_FAIL rules, of any call, whose glob matches
 * the absolute store path `path` (a glob without '/' is matched against
 * its last component). 0 when none: calls on it never fail on purpose. */
unsigned ms_fail_match(const char *path);

/* Counts a call against each rule of `mask` (from ms_fail_match) that is
 * for `call`, and returns what the first that fires does: 0 (none fires),
 * -errno (fail the call, nothing done) or MS_FAIL_SHORT (a write: write
 * only *len / 2 bytes; rules "short" count only writes of 2 bytes or more).
 * `end` is where a write would end (offset + length; only rules ">SIZE"
 * look at it: they fire when end > SIZE, without counting). *rule is set to
 * the rule that fired (1 = MEMSHIM_FAIL's first). Thread-safe. */
int ms_fail_check(enum ms_fail_call call, unsigned mask, uint64_t end, size_t *len, int *rule);

/* Whether an armed rule for `call` has a ">SIZE" condition (the caller
 * then finds the end of an appending write). */
int ms_fail_wants_end(enum ms_fail_call call, unsigned mask);

/* The text of MEMSHIM_FAIL's rule number `rule` (1 = the first), for a
 * log line; "" when there is none. What was injected is recorded for the
 * report in the store (ms_injected_note, core/store.h). */
const char *ms_fail_rule_text(int rule);

/* The name of a call, as rules write it ("write"). */
const char *ms_fail_call_name(enum ms_fail_call call);

/* Parses MEMSHIM_FAIL: rules "call:glob:when:action" and at most one
 * "seed=N", separated by ';' (doc/config.md), and with arm non-zero arms
 * them. Returns the number of rules, or -EINVAL with what is wrong in
 * `what` (one line naming the rule, without the variable or an example). */
int ms_fail_parse(const char *spec, int (*parse_size)(const char *s, uint64_t *out), int arm,
		  char *what, size_t n);
/* (parse_size is config.c's ms_parse_size, passed in because fault.c is
 * below config.c in core's order: sizes have one grammar.) */

#endif
