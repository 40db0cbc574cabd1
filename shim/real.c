/* shim/real.c — resolving the table of real functions (see real.h). */
#include <dlfcn.h>

#include "shim.h"

struct ms_real ms_real;

void ms_real_resolve(void)
{
	/* dlsym may allocate; the shim wraps no allocator, so this cannot
	 * come back here. Racing threads store the same values. */
#define W(ret, name, params)                                                        \
	if (!ms_real.name)                                                         \
		ms_real.name = (ret(*) params)dlsym(RTLD_NEXT, #name);
#define R W
#include "real_fd.def"
#include "real_path.def"
#include "real_dir.def"
#include "real_stdio.def"
#include "real_exec.def"
#include "real_cred.def"
#undef W
#undef R
}
