/* shim/real.h — the one table of real libc functions.
 *
 * Generated from the family lists shim/real_*.def, each line one of
 *	W(ret, name, (params))  a libc name the shim wraps and exports
 *	R(ret, name, (params))  a libc name the shim only calls
 * Every entry is resolved with dlsym(RTLD_NEXT) once, in the constructor,
 * and on first use by a caller that arrives before it. The version script
 * of libmemshim.so is generated from the W lines, so exports and wrappers
 * can never drift apart.
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

struct ms_real {
#define W(ret, name, params) ret(*name) params;
#define R(ret, name, params) ret(*name) params;
#include "real_fd.def"
#include "real_path.def"
#include "real_dir.def"
#include "real_stdio.def"
#include "real_exec.def"
#include "real_cred.def"
#undef W
#undef R
};

extern struct ms_real ms_real;

/* Resolves every entry still NULL. Safe to call from any thread, any time. */
void ms_real_resolve(void);

#define REAL(name)                                                                 \
	(__builtin_expect(ms_real.name != NULL, 1) ? ms_real.name                  \
						   : (ms_real_resolve(), ms_real.name))

#endif
