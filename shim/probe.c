/* shim/probe.c — reading and writing the caller's memory without dying of
 * a bad pointer.
 *
 * The kernel answers EFAULT for a path or buffer it cannot read or write;
 * the shim, which reads every path to route it, would die of SIGSEGV
 * instead. No system call may be added to a hot path to check a pointer,
 * so: pointers that can never be mapped (below mmap_min_addr's default of
 * 64 KiB, or beyond the user half of the address space) are told at once,
 * and any other access is made under a probe — a builtin setjmp (a few
 * instructions, no system call) that this file's SIGSEGV/SIGBUS handler
 * jumps back to when the fault happened inside one. A fault outside a probe goes to
 * the handler the process had before, or kills it as without the shim.
 *
 * A probe must never span a call into core: a jump out of it would leave
 * a store lock held. Core writes into the shim's own buffers; the shim
 * copies out under a probe (ms_copy_out).
 *
 * Limit: a program that installs its own SIGSEGV handler after start-up
 * replaces this one; a bad pointer then faults in the shim as before.
 */
#include <signal.h>
#include <string.h>

#include "shim.h"

__thread struct ms_probe *ms_probe_cur __attribute__((tls_model("initial-exec")));

MS_STARTUP static struct sigaction prev_segv, prev_bus;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	struct ms_probe *p = ms_probe_cur;
	if (p) {
		ms_probe_cur = p->prev;
		__builtin_longjmp(p->env, 1);
	}
	struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, si, ctx);
		return;
	}
	if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
		return;
	}
	/* Default: the faulting instruction runs again and the process dies
	 * of it, as it would without the shim. */
	signal(sig, SIG_DFL);
}

void ms_probe_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &prev_segv);
	sigaction(SIGBUS, &sa, &prev_bus);
}

/* memcpy where `user` (dst or src) is the caller's memory. */
static int copy_user(void *dst, const void *src, size_t n, const void *user)
{
	struct ms_probe p;
	if (!ms_ptr_possible(user))
		return -EFAULT;
	ms_probe_push(&p);
	if (MS_PROBE_SET(&p))
		return -EFAULT;
	memcpy(dst, src, n);
	ms_probe_end(&p);
	return 0;
}

int ms_copy_out(void *dst, const void *src, size_t n) { return copy_user(dst, src, n, dst); }

int ms_copy_in(void *dst, const void *src, size_t n) { return copy_user(dst, src, n, src); }

int ms_copy_str(char *dst, const char *src, size_t n)
{
	struct ms_probe p;
	if (!ms_ptr_possible(src))
		return -EFAULT;
	ms_probe_push(&p);
	if (MS_PROBE_SET(&p))
		return -EFAULT;
	size_t len = strnlen(src, n);
	if (len < n)
		memcpy(dst, src, len + 1);
	ms_probe_end(&p);
	return len < n ? (int)len : -ENAMETOOLONG;
}

