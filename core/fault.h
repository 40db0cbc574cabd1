/* core/fault.h — fault injection: the N-th call of a named function fails
 * with a chosen errno, so tests can drive the error paths (as SQLite's
 * os_unix.c does with aSyscall[]).
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

#define MS_FAULT_MAX 8       /* rules at once */
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

/* Counts a call of `name` against every rule for it; returns -errno when
 * one fires (and sets ms_fault_errno), else 0. */
int ms_fault_hit(const char *name);

/* 0, or -errno when a rule for `name` fires: the check every call makes. */
#define MS_FAULT(name) (ms_fault_on() ? ms_fault_hit(name) : 0)

/* Arms a rule: the nth call of `name` from now fails with err; nth 0 fails
 * every call. Returns 0, -EINVAL (empty or too long a name, err not in
 * 1..4095), -ENOSPC (MS_FAULT_MAX rules armed already). */
int ms_fault_arm(const char *name, unsigned nth, int err);

/* Disarms every rule. */
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

#endif
