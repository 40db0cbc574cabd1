/* shim/real.h — the one table of real libc functions.
 *
 * Generated from the family lists shim/real_*.def, each line one of
 *	W(ret, name, (params))  a libc name the shim wraps and exports
 *	R(ret, name, (params))  a libc name the shim only calls
 * Every entry is resolved once, to what dlsym(RTLD_NEXT) gives: on its
 * first use, by real.c's own look-up in the loaded objects' hash tables
 * (no lock, no allocation: safe in a signal handler and in the child of a
 * raw clone, about 0.1 us a name), dlsym only for what that leaves (an
 * IFUNC); and all of them before the process forks or vforks, so a child
 * never needs dlsym. A process that calls a few wrapped names looks a few
 * up, and nothing at start. The version script of libmemshim.so is
 * generated from the W lines, so exports and wrappers can never drift
 * apart.
 *
 * Fault injection (core/fault.h) goes through the same table: when an armed
 * rule fires for a name, REAL(name) gives that entry's failing stand-in,
 * ms_fail_<name>, of the entry's own type, generated from the same lines
 * (real.c). It returns -1 (NULL for a pointer) with the rule's errno, or
 * the errno itself for the functions that return one (posix_spawn...).
 */
#ifndef MEMSHIM_SHIM_REAL_H
#define MEMSHIM_SHIM_REAL_H

#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <utime.h>
#include <linux/stat.h>
#include <ftw.h>
#include <fts.h>
#include <spawn.h>
#include <sys/time.h>
#include <sys/xattr.h>

#include "fault.h"

struct ms_real {
#define W(ret, name, params) ret(*name) params;
#define R(ret, name, params) ret(*name) params;
#include "real_all.def"
#undef W
#undef R
};

extern struct ms_real ms_real;

/* Resolves every entry still NULL. Safe to call from any thread, any time
 * dlsym is. */
void ms_real_resolve(void);
/* Resolves one entry: *slot = what dlsym(RTLD_NEXT, name) gives, found
 * without the loader's lock where it can be (real.c). */
void ms_real_resolve_one(void **slot, const char *name);
/* For the test of the look-up (at MEMSHIM_LOG=debug, init.c): every
 * entry looked up both ways; the names that differ, and counts, into out.
 * Returns how many differ. */
int ms_real_check(char *out, size_t n);
/* This library's entry in the loader's list of objects (the one whose
 * dynamic section is ours), found once without a lock; NULL when it is not
 * in the list (loaded in another namespace). */
struct link_map;
const struct link_map *ms_self_map(void);

/* The failing stand-ins, one per entry. */
#define W(ret, name, params) ret ms_fail_##name params;
#define R W
#include "real_all.def"
#undef W
#undef R

/* Whether name is an entry of the table (for the fault rules' names). */
int ms_real_known(const char *name);

#define REAL_RESOLVED(name)                                                        \
	(__builtin_expect(ms_real.name != NULL, 1)                                 \
		 ? ms_real.name                                                    \
		 : (ms_real_resolve_one((void **)&ms_real.name, #name), ms_real.name))

#define REAL(name) (ms_fault_on() && ms_fault_hit(#name) ? ms_fail_##name : REAL_RESOLVED(name))

#endif
