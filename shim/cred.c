/* shim/cred.c — the calls that change who the process is. Each goes to
 * libc, then the store's copy of the process's credentials is read again
 * from the kernel (core/perm.c, ms_store_cred_refresh), so the next store
 * call is checked as the kernel would check it: a process that drops
 * privileges keeps working on the store with the answers tmpfs gives.
 *
 * Not seen: credentials changed by a raw system call (syscall(SYS_setuid,
 * ...), which also changes the calling thread only, where glibc changes
 * every thread), by prctl/securebits, or by libcap through its own system
 * calls. Such a process is checked as it was before, until its next call
 * through one of these wrappers. A vfork child, which shares its parent's
 * memory until it execs, leaves the copy alone: its new program reads its
 * own when it starts.
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include "shim.h"

void ms_cred_changed(void)
{
	if (!ms_shim.store || ms_in_vfork_child())
		return;
	ms_store_cred_refresh(ms_shim.store);
	ms_cred_pin_update();
}

void ms_cred_pin_update(void)
{
	/* A program exec'd from here connects to the keeper with its own
	 * uid; when that is not the owner's it would be refused, so it
	 * inherits our connection instead (core/keeper.h says who is heard).
	 * MEMSHIM_PIN is in the environment itself, not only added by our
	 * exec wrappers, for system() and popen(), which spawn without them. */
	int pin = ms_store_pin_for_exec(ms_shim.store);
	int old = __atomic_exchange_n(&ms_shim.pin, pin, __ATOMIC_RELAXED);
	if (pin == old)
		return;
	if (pin >= 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", pin);
		setenv("MEMSHIM_PIN", v, 1);
	} else {
		unsetenv("MEMSHIM_PIN");
	}
}

static void refresh(void) { ms_cred_changed(); }

#define CRED(name, params, args)                                                   \
	MS_EXPORT int name params                                                  \
	{                                                                          \
		int rc_ = REAL(name) args;                                         \
		int e_ = errno;                                                    \
		refresh();                                                         \
		errno = e_;                                                        \
		return rc_;                                                        \
	}

CRED(setuid, (uid_t u), (u))
CRED(seteuid, (uid_t u), (u))
CRED(setreuid, (uid_t r, uid_t e), (r, e))
CRED(setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
CRED(setfsuid, (uid_t u), (u))
CRED(setgid, (gid_t g), (g))
CRED(setegid, (gid_t g), (g))
CRED(setregid, (gid_t r, gid_t e), (r, e))
CRED(setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
CRED(setfsgid, (gid_t g), (g))
CRED(setgroups, (size_t n, const gid_t *list), (n, list))
/* glibc's initgroups sets the groups through an internal call */
CRED(initgroups, (const char *user, gid_t g), (user, g))
/* libcap's cap_set_proc comes here (glibc's capset) */
CRED(capset, (void *hdr, void *data), (hdr, data))
