/* core/perm.c — who the caller is, and what the kernel would let them do.
 *
 * The rules are the kernel's, written where it writes them: fs/namei.c
 * (generic_permission, may_lookup, may_create, may_delete and sticky
 * directories, may_open, the protected_* sysctls), fs/attr.c
 * (setattr_prepare, the set-id bits dropped by chown, truncate and write)
 * and fs/inode.c (inode_init_owner, mode_strip_sgid). ns.c calls each at
 * the point the kernel calls it, so a refusal comes with the kernel's errno
 * in the kernel's order.
 *
 * Credentials. The kernel checks the calling thread's fsuid, fsgid,
 * supplementary groups and effective capabilities. Reading them costs six
 * system calls, so the handle keeps a copy, read when it is made and again
 * by ms_store_cred_refresh, which the shim calls after every libc call that
 * may change them (shim/cred.c). A copy is published whole: a refresh
 * writes the next slot of a small ring, then moves cred_gen; a check reads
 * the slot cred_gen names, which stays whole unless MS_CRED_RING refreshes
 * run during that one call.
 *
 * Only the capabilities the checks ask about are kept (CAP_CHOWN,
 * CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID), and
 * every capability check is the plain capable(): no user namespaces.
 */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"

#define CAP(c) (1u << (c))
#define FS_CAPS                                                                \
	(CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_DAC_READ_SEARCH) |   \
	 CAP(CAP_FOWNER) | CAP(CAP_FSETID) | CAP(CAP_MKNOD))

/* ---- the credentials ------------------------------------------------------------ */

static void read_groups(struct ms_cred *c)
{
	gid_t g[MS_CRED_GROUPS];
	long n = MS_SYSCALL(SYS_getgroups, MS_CRED_GROUPS, g);
	if (n == -EINVAL) /* more than we keep: count them, keep the first */
		n = MS_SYSCALL(SYS_getgroups, 0, NULL);
	if (n < 0)
		n = 0;
	c->ngroups = (uint32_t)n;
	if (n > MS_CRED_GROUPS) {
		gid_t *all = ms_scratch((size_t)n * sizeof(gid_t));
		long k = all ? MS_SYSCALL(SYS_getgroups, n, all) : -ENOMEM;
		if (k < MS_CRED_GROUPS) {
			c->ngroups = 0;
			k = 0;
		}
		for (long i = 0; i < k && i < MS_CRED_GROUPS; i++)
			c->groups[i] = all[i];
		if (all)
			munmap(all, (size_t)n * sizeof(gid_t));
		return;
	}
	for (long i = 0; i < n; i++)
		c->groups[i] = g[i];
}

void ms_store_cred_refresh(ms_store *s)
{
	struct ms_creds c;
	uid_t ruid = 0, euid = 0, suid = 0;
	gid_t rgid = 0, egid = 0, sgid = 0;
	struct __user_cap_header_struct hd = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct cd[2];
	memset(&c, 0, sizeof(c));
	memset(cd, 0, sizeof(cd));
	MS_SYSCALL(SYS_getresuid, &ruid, &euid, &suid);
	MS_SYSCALL(SYS_getresgid, &rgid, &egid, &sgid);
	/* An invalid id changes nothing and returns the current one. */
	c.fs.uid = (uint32_t)ms_raw_syscall(SYS_setfsuid, (uid_t)-1);
	c.fs.gid = (uint32_t)ms_raw_syscall(SYS_setfsgid, (gid_t)-1);
	MS_SYSCALL(SYS_capget, &hd, cd);
	c.fs.caps = cd[0].effective & FS_CAPS;
	read_groups(&c.fs);
	/* access(2) checks as the real ids: a real root gets its permitted
	 * set, anyone else no capability (access_override_creds). */
	c.real = c.fs;
	c.real.uid = (uint32_t)ruid;
	c.real.gid = (uint32_t)rgid;
	c.real.caps = ruid == 0 ? cd[0].permitted & FS_CAPS : 0;

	while (__atomic_exchange_n(&s->cred_busy, 1, __ATOMIC_ACQUIRE))
		MS_SYSCALL(SYS_sched_yield);
	uint32_t g = __atomic_load_n(&s->cred_gen, __ATOMIC_RELAXED) + 1;
	s->creds[g % MS_CRED_RING] = c;
	__atomic_store_n(&s->cred_gen, g, __ATOMIC_RELEASE);
	__atomic_store_n(&s->cred_busy, 0, __ATOMIC_RELEASE);
}

void ms_cred_all(struct ms_store *s)
{
	struct ms_cred c = {.uid = 0, .gid = 0, .caps = FS_CAPS};
	for (int i = 0; i < MS_CRED_RING; i++)
		s->creds[i].fs = s->creds[i].real = c;
}

/* in_group_p: fsgid or a supplementary group. Beyond the groups kept, the
 * kernel's list is read (a process with more than MS_CRED_GROUPS). */
static int in_group(const struct ms_cred *c, uint32_t gid)
{
	if (gid == c->gid)
		return 1;
	uint32_t n = c->ngroups < MS_CRED_GROUPS ? c->ngroups : MS_CRED_GROUPS;
	for (uint32_t i = 0; i < n; i++)
		if (c->groups[i] == gid)
			return 1;
	if (c->ngroups <= MS_CRED_GROUPS)
		return 0;
	size_t sz = (size_t)c->ngroups * sizeof(gid_t);
	gid_t *all = ms_scratch(sz);
	long k = all ? MS_SYSCALL(SYS_getgroups, c->ngroups, all) : 0;
	int found = 0;
	for (long i = 0; i < k && !found; i++)
		found = all[i] == gid;
	if (all)
		munmap(all, sz);
	return found;
}

static int capable(const struct ms_cred *c, int cap) { return (c->caps & CAP(cap)) != 0; }

/* ---- the protected_* sysctls, read once per process when first needed ----------- */

enum { PROT_SYMLINKS, PROT_HARDLINKS, PROT_REGULAR, PROT_FIFOS };
static int prot_value[4] = {-1, -1, -1, -1};

static int protected(int which)
{
	static const char *const names[4] = {
		"/proc/sys/fs/protected_symlinks", "/proc/sys/fs/protected_hardlinks",
		"/proc/sys/fs/protected_regular", "/proc/sys/fs/protected_fifos"};
	int v = __atomic_load_n(&prot_value[which], __ATOMIC_RELAXED);
	if (v >= 0)
		return v;
	v = 0; /* the kernel's default when /proc cannot say */
	int fd = sys_openat(AT_FDCWD, names[which], O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0) {
		char b[8] = "";
		if (sys_read(fd, b, sizeof(b) - 1) > 0 && b[0] >= '0' && b[0] <= '9')
			v = b[0] - '0';
		sys_close(fd);
	}
	__atomic_store_n(&prot_value[which], v, __ATOMIC_RELAXED);
	return v;
}

/* ---- fs/namei.c ------------------------------------------------------------------- */

int ms_perm(const struct ms_cred *c, const struct ms_inode *in, int mask)
{
	uint32_t mode = in->mode;
	mask &= 7;
	/* acl_permission_check: the owner's bits, else the group's for a
	 * member, else the others' */
	if (c->uid == in->uid) {
		if (!(mask & ~(mode >> 6)))
			return 0;
	} else {
		uint32_t m = mode;
		if ((mask & (m ^ (m >> 3))) && in_group(c, in->gid))
			m >>= 3;
		if (!(mask & ~m))
			return 0;
	}
	/* the capabilities that override: directories are always searchable
	 * and readable with CAP_DAC_READ_SEARCH, writable with
	 * CAP_DAC_OVERRIDE; files readable with either, writable with
	 * CAP_DAC_OVERRIDE, executable with it when any x bit is set */
	if (S_ISDIR(mode)) {
		if (!(mask & MS_MAY_WRITE) && capable(c, CAP_DAC_READ_SEARCH))
			return 0;
		return capable(c, CAP_DAC_OVERRIDE) ? 0 : -EACCES;
	}
	if (mask == MS_MAY_READ && capable(c, CAP_DAC_READ_SEARCH))
		return 0;
	if ((!(mask & MS_MAY_EXEC) || (mode & 0111)) && capable(c, CAP_DAC_OVERRIDE))
		return 0;
	return -EACCES;
}

int ms_perm_owner(const struct ms_cred *c, const struct ms_inode *in)
{
	return c->uid == in->uid || capable(c, CAP_FOWNER);
}

int ms_perm_create(const struct ms_cred *c, const struct ms_inode *dir)
{
	return ms_perm(c, dir, MS_MAY_WRITE | MS_MAY_EXEC);
}

/* check_sticky: in a sticky directory only the file's owner, the
 * directory's owner or CAP_FOWNER may remove or rename an entry. */
static int sticky_denies(const struct ms_cred *c, const struct ms_inode *dir,
			 const struct ms_inode *in)
{
	if (!(dir->mode & S_ISVTX))
		return 0;
	if (in->uid == c->uid || dir->uid == c->uid)
		return 0;
	return !capable(c, CAP_FOWNER);
}

int ms_perm_delete(const struct ms_cred *c, const struct ms_inode *dir,
		   const struct ms_inode *victim, int isdir)
{
	int r = ms_perm(c, dir, MS_MAY_WRITE | MS_MAY_EXEC);
	if (r)
		return r;
	if (sticky_denies(c, dir, victim))
		return -EPERM;
	if (isdir && !S_ISDIR(victim->mode))
		return -ENOTDIR;
	if (!isdir && S_ISDIR(victim->mode))
		return -EISDIR;
	return 0;
}

int ms_perm_open(const struct ms_cred *c, const struct ms_inode *in, int oflags, int created)
{
	static const unsigned char acc_of[4] = {MS_MAY_READ, MS_MAY_WRITE,
						MS_MAY_READ | MS_MAY_WRITE,
						MS_MAY_READ | MS_MAY_WRITE};
	int acc;
	if (oflags & O_PATH)
		return 0; /* the kernel opens a path without may_open */
	if (created) {
		acc = 0; /* the creator gets the access it asked for */
	} else if (oflags & MS_O_EXEC) {
		acc = MS_MAY_EXEC;
	} else {
		acc = acc_of[oflags & O_ACCMODE];
		if (oflags & O_TRUNC)
			acc |= MS_MAY_WRITE;
	}
	if (S_ISDIR(in->mode)) {
		if (acc & MS_MAY_WRITE)
			return -EISDIR;
		if (acc & MS_MAY_EXEC)
			return -EACCES;
	}
	int r = ms_perm(c, in, acc);
	if (r)
		return r;
	if ((oflags & O_NOATIME) && !ms_perm_owner(c, in))
		return -EPERM;
	return 0;
}

int ms_perm_create_in_sticky(const struct ms_cred *c, const struct ms_inode *dir,
			     const struct ms_inode *in)
{
	if (!(dir->mode & S_ISVTX))
		return 0;
	if (S_ISREG(in->mode) && !protected(PROT_REGULAR))
		return 0;
	if (S_ISFIFO(in->mode) && !protected(PROT_FIFOS))
		return 0;
	if (in->uid == dir->uid || in->uid == c->uid)
		return 0;
	if (dir->mode & 0002)
		return -EACCES;
	if ((dir->mode & 0020) &&
	    ((S_ISFIFO(in->mode) && protected(PROT_FIFOS) >= 2) ||
	     (S_ISREG(in->mode) && protected(PROT_REGULAR) >= 2)))
		return -EACCES;
	return 0;
}

int ms_perm_follow(const struct ms_cred *c, const struct ms_inode *dir,
		   const struct ms_inode *link)
{
	if (!protected(PROT_SYMLINKS))
		return 0;
	if (link->uid == c->uid)
		return 0;
	if ((dir->mode & (S_ISVTX | S_IWOTH)) != (S_ISVTX | S_IWOTH))
		return 0;
	if (dir->uid == link->uid)
		return 0;
	return -EACCES;
}

int ms_perm_link(const struct ms_cred *c, const struct ms_inode *in)
{
	if (!protected(PROT_HARDLINKS))
		return 0;
	/* safe_hardlink_source: a plain file, not set-id, readable and
	 * writable by the caller; or the caller owns it */
	uint32_t m = in->mode;
	int safe = S_ISREG(m) && !(m & S_ISUID) && (m & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP) &&
		   ms_perm(c, in, MS_MAY_READ | MS_MAY_WRITE) == 0;
	return safe || ms_perm_owner(c, in) ? 0 : -EPERM;
}

/* ---- fs/inode.c ------------------------------------------------------------------- */

/* in_group_or_capable: may the caller leave S_ISGID on a node of group gid? */
static int sgid_ok(const struct ms_cred *c, uint32_t gid)
{
	return in_group(c, gid) || capable(c, CAP_FSETID);
}

mode_t ms_perm_create_mode(const struct ms_cred *c, const struct ms_inode *dir, mode_t mode)
{
	if ((mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP))
		return mode;
	if (S_ISDIR(mode) || !(dir->mode & S_ISGID))
		return mode;
	return sgid_ok(c, dir->gid) ? mode : mode & ~(mode_t)S_ISGID;
}

void ms_perm_init_owner(const struct ms_cred *c, const struct ms_inode *dir, struct ms_inode *in)
{
	in->uid = c->uid;
	if (dir->mode & S_ISGID) {
		/* BSD group semantics of a setgid directory, as Linux does */
		in->gid = dir->gid;
		if (S_ISDIR(in->mode))
			in->mode |= S_ISGID;
	} else {
		in->gid = c->gid;
	}
}

/* ---- fs/attr.c -------------------------------------------------------------------- */

int ms_perm_chmod(const struct ms_cred *c, const struct ms_inode *in, mode_t *mode)
{
	if (!ms_perm_owner(c, in))
		return -EPERM;
	if (!sgid_ok(c, in->gid))
		*mode &= ~(mode_t)S_ISGID;
	return 0;
}

/* setattr_should_drop_sgid: S_ISGID with group execute always goes; without
 * it, when the caller could not have set it. */
static int drop_sgid(const struct ms_cred *c, const struct ms_inode *in)
{
	if (!(in->mode & S_ISGID))
		return 0;
	if (in->mode & S_IXGRP)
		return 1;
	return !sgid_ok(c, in->gid);
}

int ms_perm_chown(const struct ms_cred *c, const struct ms_inode *in, uid_t uid, gid_t gid,
		  uint32_t *mode)
{
	uint32_t m = in->mode, newgid = gid != (gid_t)-1 ? (uint32_t)gid : in->gid;
	int mode_change = 0;
	/* chown_common: a non-directory loses set-user-ID, and set-group-ID
	 * when drop_sgid says; notify_change turns that into a mode change */
	if (!S_ISDIR(m)) {
		if (m & S_ISUID) {
			m &= ~(uint32_t)S_ISUID;
			mode_change = 1;
		}
		if (drop_sgid(c, in)) {
			m &= ~(uint32_t)S_ISGID;
			mode_change = 1;
		}
	}
	/* setattr_prepare: chown_ok, chgrp_ok, then the mode change's rule */
	if (uid != (uid_t)-1 && !((c->uid == in->uid && uid == in->uid) || capable(c, CAP_CHOWN)))
		return -EPERM;
	if (gid != (gid_t)-1 &&
	    !((c->uid == in->uid && (gid == in->gid || in_group(c, gid))) || capable(c, CAP_CHOWN)))
		return -EPERM;
	if (mode_change) {
		if (!ms_perm_owner(c, in))
			return -EPERM;
		if (!sgid_ok(c, newgid))
			m &= ~(uint32_t)S_ISGID;
	}
	*mode = m;
	return 0;
}

int ms_perm_utimes(const struct ms_cred *c, const struct ms_inode *in, int touch)
{
	if (ms_perm_owner(c, in))
		return 0;
	if (touch)
		return ms_perm(c, in, MS_MAY_WRITE);
	return -EPERM;
}

int ms_perm_kill_priv(const struct ms_cred *c, struct ms_inode *in)
{
	uint32_t m = in->mode, kill = 0;
	if (!S_ISREG(m) || capable(c, CAP_FSETID))
		return 0;
	if (m & S_ISUID)
		kill |= S_ISUID;
	if (drop_sgid(c, in))
		kill |= S_ISGID;
	if (!kill)
		return 0;
	in->mode = m & ~kill;
	return 1;
}

static struct ms_inode *live(struct ms_store *s, ms_ino ino)
{
	if (ino == 0 || ino > s->hdr->nslots)
		return NULL;
	struct ms_inode *in = ms_inode_at(s, ino);
	return in->ino_no ? in : NULL;
}

void ms_kill_priv(ms_store *s, ms_ino ino)
{
	struct ms_inode *in = live(s, ino);
	/* the usual case, without the lock: a file with no set-id bit */
	if (!in || !(__atomic_load_n(&in->mode, __ATOMIC_RELAXED) & (S_ISUID | S_ISGID)))
		return;
	ms_ns_lock(s);
	if (live(s, ino) && ms_perm_kill_priv(ms_cred_fs(s), in))
		__atomic_store_n(&in->ctime_ns, ms_now_ns(), __ATOMIC_RELAXED);
	ms_ns_unlock(s);
}
