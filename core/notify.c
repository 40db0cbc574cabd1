/* core/notify.c — dnotify (fcntl F_NOTIFY) on store directories.
 *
 * The kernel never sees a store directory change, so the store keeps the
 * registrations itself and signals as dnotify does: a process asks, for
 * one directory fd, to be told of creations, deletions, renames,
 * attribute changes and writes of the directory's entries (and of the
 * directory itself); each such change in any process of the tree sends it
 * the fd's signal (F_SETSIG; SIGIO by default) with si_fd = that fd. As in
 * the kernel (dnotify's convert_arg), a rename away counts as a deletion
 * and a rename in as a creation; DN_RENAME is a rename inside one
 * directory.
 * Without DN_MULTISHOT a registration is used once; mask 0 or closing the
 * fd removes it. What differs from the kernel's:
 *   - the signal is queued with si_code SI_QUEUE (a process may not send
 *     another a kernel code), si_fd in its place, si_band unset;
 *   - DN_ACCESS never fires: reads of store files go to the kernel's
 *     memfd without the shim;
 *   - a registration belongs to (pid, fd), not to the open file
 *     description: closing a dup of the fd keeps it.
 * A full table (MS_WATCHES registrations in the whole store) answers
 * ENOSPC, as the kernel does when it cannot allocate a mark.
 *
 * The table is [ns]. Events are sent under ns_lock, after the change (the
 * receiver's handler may look at the directory as soon as it runs); a
 * registration whose process is gone (ESRCH) is dropped then. Each event
 * costs one load when nothing is registered (h->nwatches).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "arena.h"

static int32_t my_pid(void) { return (int32_t)MS_SYSCALL(SYS_getpid); }

static void drop(struct ms_hdr *h, int k)
{
	h->watches[k].pid = 0;
	h->nwatches--;
}

int ms_notify_set(ms_store *s, ms_ino dir, int fd, uint32_t mask, int sig)
{
	struct ms_hdr *h = s->hdr;
	int32_t pid = my_pid();
	int r = 0, slot = -1;
	ms_ns_lock(s);
	for (int k = 0; k < MS_WATCHES; k++) {
		if (h->watches[k].pid == pid && h->watches[k].fd == fd) {
			drop(h, k); /* replaced, as a second F_NOTIFY on the fd */
			slot = k;
		} else if (slot < 0 && h->watches[k].pid == 0) {
			slot = k;
		}
	}
	if (mask & ~(uint32_t)DN_MULTISHOT) {
		if (slot < 0) {
			r = -ENOSPC;
		} else {
			h->watches[slot].fd = fd;
			h->watches[slot].dir = (uint32_t)dir;
			h->watches[slot].mask = mask;
			h->watches[slot].sig = sig ? sig : SIGIO;
			h->watches[slot].pid = pid;
			h->nwatches++;
		}
	}
	ms_ns_unlock(s);
	return r;
}

void ms_notify_close(ms_store *s, int fd)
{
	struct ms_hdr *h = s->hdr;
	if (!__atomic_load_n(&h->nwatches, __ATOMIC_RELAXED))
		return;
	int32_t pid = my_pid();
	ms_ns_lock(s);
	for (int k = 0; k < MS_WATCHES; k++)
		if (h->watches[k].pid == pid && h->watches[k].fd == fd)
			drop(h, k);
	ms_ns_unlock(s);
}

void ms_notify_event(struct ms_store *s, uint32_t dir, uint32_t ev)
{
	struct ms_hdr *h = s->hdr;
	if (!__atomic_load_n(&h->nwatches, __ATOMIC_RELAXED))
		return;
	for (int k = 0; k < MS_WATCHES; k++) {
		if (!h->watches[k].pid || h->watches[k].dir != dir || !(h->watches[k].mask & ev))
			continue;
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		si.si_signo = h->watches[k].sig;
		si.si_code = SI_QUEUE;
		si.si_fd = h->watches[k].fd;
		long r = MS_SYSCALL(SYS_rt_sigqueueinfo, h->watches[k].pid, h->watches[k].sig, &si);
		if (r == -ESRCH || !(h->watches[k].mask & DN_MULTISHOT))
			drop(h, k);
	}
}

void ms_notify_node(struct ms_store *s, uint32_t i, uint32_t ev)
{
	struct ms_hdr *h = s->hdr;
	if (!__atomic_load_n(&h->nwatches, __ATOMIC_RELAXED))
		return;
	struct ms_inode *in = ms_inode_at(s, i);
	if (S_ISDIR(in->mode)) {
		ms_notify_event(s, i, ev);
		if (in->dent)
			ms_notify_event(s, in->parent, ev);
		return;
	}
	/* O(names), paid only while some directory is watched */
	for (uint32_t d = 1; d < h->dent_bump; d++) {
		struct ms_dent *e = ms_dent_at(s, d);
		if (e->parent && e->ino == i)
			ms_notify_event(s, e->parent, ev);
	}
}

void ms_notify_write(ms_store *s, ms_ino ino)
{
	if (!__atomic_load_n(&s->hdr->nwatches, __ATOMIC_RELAXED))
		return;
	ms_ns_lock(s);
	ms_notify_node(s, (uint32_t)ino, DN_MODIFY);
	ms_ns_unlock(s);
}
