/* core/xattr.c — extended attributes of store nodes, with the kernel's
 * checks in the kernel's order (fs/xattr.c, fs/posix_acl.c, the capability
 * LSM and tmpfs's handlers), so every errno is the one a tmpfs directory
 * gives (tests/helpers/xattrops.c holds the two side by side).
 *
 * Storage: each attribute is one record, a chain of blocks of the arena's
 * attribute pool (struct ms_xrec in arena.h: a header, the name, the value);
 * an inode's records hang from in->xattr in the order they were first set.
 * A record is charged its blocks (nblocks * MS_BLOCK bytes) to the byte
 * ledger before it is written: one that does not fit is refused whole with
 * the quota errno and nothing changes; a replaced or removed record, and
 * every record of an inode that is freed (data.c), gives its bytes back.
 * The pool is sized at creation from the quota (arena.c), so it runs out
 * only at its ceiling, with ENOSPC; blocks are all one size, so a set never
 * fails late from fragmentation. Everything here is under ns_lock.
 *
 * Namespaces, as tmpfs: user.* (regular files and directories only), trusted.*
 * (CAP_SYS_ADMIN; hidden from others' lists), security.* (anyone reads;
 * setting and removing need CAP_SYS_ADMIN, security.capability CAP_SETFCAP
 * and a valid header). POSIX ACLs (system.posix_acl_access/default) are not
 * stored: an access ACL equivalent to the mode bits is applied as the kernel
 * applies it (a chmod), removing an ACL succeeds, any other ACL is refused
 * with EOPNOTSUPP (README, limits). Anything else: EOPNOTSUPP.
 *
 * Permissions are the kernel's for attributes (xattr_permission and
 * generic_permission): the caller's fsuid, fsgid, groups and capabilities,
 * read with raw system calls only when a check needs them.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "arena.h"
#include "sys.h"

#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#define XATTR_CREATE_ 0x1
#define XATTR_REPLACE_ 0x2
#define MAY_READ_ 4
#define MAY_WRITE_ 2

enum xns { XNS_USER, XNS_TRUSTED, XNS_SECURITY, XNS_SYSTEM, XNS_OTHER };
enum { ACL_NONE, ACL_ACCESS, ACL_DEFAULT };

struct xname {
	const char *name;
	size_t len;
	int ns;       /* enum xns */
	int empty;    /* a known prefix with nothing after it */
	int acl;      /* ACL_* */
	int caps;     /* security.capability */
};

static const struct {
	const char *prefix;
	size_t len;
	int ns;
} prefixes[] = {
	{"user.", 5, XNS_USER},
	{"trusted.", 8, XNS_TRUSTED},
	{"security.", 9, XNS_SECURITY},
	{"system.", 7, XNS_SYSTEM},
};

/* import_xattr_name: -EFAULT for NULL, -ERANGE for an empty name or one
 * over 255 bytes. */
static int name_ok(const char *name)
{
	if (!name)
		return -EFAULT;
	size_t n = strnlen(name, MS_NAME_MAX + 1);
	return n == 0 || n > MS_NAME_MAX ? -ERANGE : 0;
}

int ms_xattr_check(int op, const char *name, size_t size, int xflags)
{
	if (op == 'l')
		return 0;
	if (op == 's' && (xflags & ~(XATTR_CREATE_ | XATTR_REPLACE_)))
		return -EINVAL;
	int r = name_ok(name);
	if (r == 0 && op == 's' && size > MS_XATTR_SIZE_MAX)
		r = -E2BIG;
	return r;
}

static int parse_name(const char *name, struct xname *x)
{
	int r = name_ok(name);
	if (r)
		return r;
	memset(x, 0, sizeof(*x));
	x->name = name;
	x->len = strlen(name);
	x->ns = XNS_OTHER;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i].prefix, prefixes[i].len) == 0) {
			x->ns = prefixes[i].ns;
			x->empty = name[prefixes[i].len] == 0;
			break;
		}
	if (!strcmp(name, "system.posix_acl_access"))
		x->acl = ACL_ACCESS;
	else if (!strcmp(name, "system.posix_acl_default"))
		x->acl = ACL_DEFAULT;
	x->caps = !strcmp(name, "security.capability");
	return 0;
}

/* ---- the caller's credentials ---------------------------------------------------- */

struct cred {
	int loaded;
	uint32_t fsuid, fsgid;
	uint64_t caps; /* effective */
};

static void cred_load(struct cred *c)
{
	if (c->loaded)
		return;
	/* setfs[ug]id(-1) changes nothing and returns the current id */
	c->fsuid = (uint32_t)MS_SYSCALL(SYS_setfsuid, -1);
	c->fsgid = (uint32_t)MS_SYSCALL(SYS_setfsgid, -1);
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	c->caps = 0;
	if (MS_SYSCALL(SYS_capget, &h, d) == 0)
		c->caps = d[0].effective | (uint64_t)d[1].effective << 32;
	c->loaded = 1;
}

static int capable(struct cred *c, int cap)
{
	cred_load(c);
	return (c->caps >> cap) & 1;
}

static int in_group(struct cred *c, uint32_t gid)
{
	cred_load(c);
	if (c->fsgid == gid)
		return 1;
	gid_t g[256];
	long n = MS_SYSCALL(SYS_getgroups, 0, NULL);
	if (n <= 0)
		return 0;
	gid_t *v = g;
	size_t bytes = (size_t)n * sizeof(gid_t);
	if (n > 256 && !(v = ms_scratch(bytes)))
		return 0;
	n = MS_SYSCALL(SYS_getgroups, n, v);
	int hit = 0;
	for (long i = 0; i < n && !hit; i++)
		hit = v[i] == gid;
	if (v != g)
		munmap(v, bytes);
	return hit;
}

static int owner_or_capable(struct cred *c, struct ms_inode *in)
{
	cred_load(c);
	return c->fsuid == in->uid || capable(c, CAP_FOWNER);
}

/* generic_permission for MAY_READ / MAY_WRITE (no ACLs are stored). */
static int permission(struct cred *c, struct ms_inode *in, int mask)
{
	cred_load(c);
	uint32_t m = in->mode;
	if (c->fsuid == in->uid)
		m >>= 6;
	else if (in_group(c, in->gid))
		m >>= 3;
	if ((mask & ~m & 7) == 0)
		return 0;
	if (capable(c, CAP_DAC_OVERRIDE))
		return 0;
	if (mask == MAY_READ_ && capable(c, CAP_DAC_READ_SEARCH))
		return 0;
	return -EACCES;
}

/* xattr_permission: the namespace's rules, then the mode bits. */
static int xattr_permission(struct cred *c, struct ms_inode *in, const struct xname *x, int mask)
{
	int w = mask & MAY_WRITE_;
	switch (x->ns) {
	case XNS_SECURITY:
	case XNS_SYSTEM:
		return 0;
	case XNS_TRUSTED:
		return capable(c, CAP_SYS_ADMIN) ? 0 : w ? -EPERM : -ENODATA;
	case XNS_USER:
		if (!S_ISREG(in->mode) && !S_ISDIR(in->mode))
			return w ? -EPERM : -ENODATA;
		if (S_ISDIR(in->mode) && (in->mode & S_ISVTX) && w && !owner_or_capable(c, in))
			return -EPERM;
		break;
	}
	return permission(c, in, mask);
}

/* The capability LSM on set and remove: security.* needs CAP_SYS_ADMIN,
 * security.capability CAP_SETFCAP. */
static int security_check(struct cred *c, const struct xname *x)
{
	if (x->ns != XNS_SECURITY)
		return 0;
	return capable(c, x->caps ? CAP_SETFCAP : CAP_SYS_ADMIN) ? 0 : -EPERM;
}

/* The handler tmpfs would find: none for system.* (but ACLs) and unknown
 * prefixes, EINVAL for a prefix alone. */
static int handler(const struct xname *x)
{
	if (x->ns == XNS_SYSTEM || x->ns == XNS_OTHER)
		return -EOPNOTSUPP;
	return x->empty ? -EINVAL : 0;
}

/* ---- records -------------------------------------------------------------------- */

/* Copies n bytes at offset off of record r (counted from the header's
 * start) out to dst, or in from src. */
static void rec_io(struct ms_store *s, uint32_t r, size_t off, char *dst, const char *src, size_t n)
{
	uint32_t b = r;
	while (b && off >= MS_XREC_DATA) {
		b = ms_xblock_at(s, b)->next;
		off -= MS_XREC_DATA;
	}
	while (b && n) {
		size_t k = MS_XREC_DATA - off < n ? MS_XREC_DATA - off : n;
		char *data = ms_xblock_at(s, b)->data + off;
		if (dst) {
			memcpy(dst, data, k);
			dst += k;
		} else {
			memcpy(data, src, k);
			src += k;
		}
		n -= k;
		off = 0;
		b = ms_xblock_at(s, b)->next;
	}
}

/* The record of inode in named x, with the link that points to it; 0 when
 * none (then *link is the list's last link). */
static uint32_t rec_find(struct ms_store *s, struct ms_inode *in, const struct xname *x,
			 uint32_t **link)
{
	char name[MS_NAME_MAX + 1];
	uint32_t *l = &in->xattr;
	while (*l) {
		struct ms_xrec *h = ms_xrec_at(s, *l);
		if (h->namelen == x->len) {
			rec_io(s, *l, sizeof(*h), name, NULL, h->namelen);
			if (memcmp(name, x->name, x->len) == 0)
				break;
		}
		l = &h->next;
	}
	*link = l;
	return *l;
}

/* Frees record r, unlinked already, and gives back its charge. */
static void rec_free(struct ms_store *s, uint32_t r)
{
	uint32_t nb = ms_xrec_at(s, r)->nblocks, b = r;
	for (uint32_t k = 0; b && k < nb; k++) {
		uint32_t next = ms_xblock_at(s, b)->next;
		ms_xblock_free(s, b);
		b = next;
	}
	ms_release_bytes(s, (uint64_t)nb * MS_BLOCK);
}

/* Sets attribute x of inode in to (v, n) under XATTR_CREATE/REPLACE. The
 * new record is charged and written whole before it takes the old one's
 * place, so a refusal changes nothing and a death leaves the old value. */
static int rec_set(struct ms_store *s, struct ms_inode *in, const struct xname *x, const void *v,
		   size_t n, int flags)
{
	uint32_t *link;
	uint32_t old = rec_find(s, in, x, &link);
	if (old && (flags & XATTR_CREATE_))
		return -EEXIST;
	if (!old && (flags & XATTR_REPLACE_))
		return -ENODATA;
	/* The quota first (its errno), then the pool, which is as large as
	 * the quota pays for, so only its ceiling can refuse here. */
	uint32_t nb = ms_xrec_blocks(x->len, n);
	int r = ms_reserve_bytes(s, (uint64_t)nb * MS_BLOCK);
	if (r)
		return r;
	if (!ms_xblocks_free(s, nb)) {
		ms_release_bytes(s, (uint64_t)nb * MS_BLOCK);
		__atomic_add_fetch(&s->hdr->ledger.refused, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	uint32_t first = 0, prev = 0;
	for (uint32_t k = 0; k < nb; k++) {
		uint32_t b = ms_xblock_alloc(s); /* cannot fail: counted above */
		if (prev)
			ms_xblock_at(s, prev)->next = b;
		else
			first = b;
		prev = b;
	}
	struct ms_xrec h = {.next = old ? ms_xrec_at(s, old)->next : 0,
			    .vlen = (uint32_t)n,
			    .namelen = (uint16_t)x->len,
			    .nblocks = (uint16_t)nb};
	rec_io(s, first, 0, NULL, (const char *)&h, sizeof(h));
	rec_io(s, first, sizeof(h), NULL, x->name, x->len);
	if (n)
		rec_io(s, first, sizeof(h) + x->len, NULL, v, n);
	*link = first; /* in place of the old record, or at the end */
	if (old)
		rec_free(s, old);
	return 0;
}

/* ---- POSIX ACLs ------------------------------------------------------------------ */

#define ACL_USER_OBJ 0x01
#define ACL_USER 0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_GROUP 0x08
#define ACL_MASK 0x10
#define ACL_OTHER 0x20

/* posix_acl_from_xattr's checks: -EINVAL, -EOPNOTSUPP (another version);
 * *count entries (0: no ACL). */
static int acl_parse(const uint8_t *v, size_t n, size_t *count)
{
	uint32_t ver;
	*count = 0;
	if (!v || n == 0)
		return 0;
	if (n < 4)
		return -EINVAL;
	memcpy(&ver, v, 4);
	if (ver != 2)
		return -EOPNOTSUPP;
	if ((n - 4) % 8)
		return -EINVAL;
	*count = (n - 4) / 8;
	for (size_t i = 0; i < *count; i++) {
		uint16_t tag;
		uint32_t id;
		memcpy(&tag, v + 4 + 8 * i, 2);
		memcpy(&id, v + 8 + 8 * i, 4);
		switch (tag) {
		case ACL_USER_OBJ:
		case ACL_GROUP_OBJ:
		case ACL_MASK:
		case ACL_OTHER:
			break;
		case ACL_USER:
		case ACL_GROUP:
			if (id == (uint32_t)-1)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* posix_acl_valid, then posix_acl_equiv_mode: 0 with the mode bits for an
 * ACL the mode says all of, 1 for one it does not, -EINVAL. */
static int acl_mode(const uint8_t *v, size_t count, uint32_t *mode)
{
	enum { S_UO, S_U, S_G, S_O, S_END } state = S_UO;
	int needs_mask = 0, not_equiv = 0;
	uint32_t m = 0;
	for (size_t i = 0; i < count; i++) {
		uint16_t tag, perm;
		memcpy(&tag, v + 4 + 8 * i, 2);
		memcpy(&perm, v + 6 + 8 * i, 2);
		if (perm & ~7u)
			return -EINVAL;
		switch (tag) {
		case ACL_USER_OBJ:
			if (state != S_UO)
				return -EINVAL;
			state = S_U;
			m |= (uint32_t)perm << 6;
			break;
		case ACL_USER:
			if (state != S_U)
				return -EINVAL;
			needs_mask = not_equiv = 1;
			break;
		case ACL_GROUP_OBJ:
			if (state != S_U)
				return -EINVAL;
			state = S_G;
			m |= (uint32_t)perm << 3;
			break;
		case ACL_GROUP:
			if (state != S_G)
				return -EINVAL;
			needs_mask = not_equiv = 1;
			break;
		case ACL_MASK:
			if (state != S_G)
				return -EINVAL;
			state = S_O;
			m = (m & ~(uint32_t)S_IRWXG) | (uint32_t)perm << 3;
			not_equiv = 1;
			break;
		case ACL_OTHER:
			if (state == S_O || (state == S_G && !needs_mask)) {
				state = S_END;
				m |= perm;
				break;
			}
			return -EINVAL;
		default:
			return -EINVAL;
		}
	}
	if (state != S_END)
		return -EINVAL;
	*mode = m;
	return not_equiv;
}

/* vfs_set_acl / vfs_remove_acl (v NULL): set_posix_acl's checks, then
 * simple_set_acl. */
static int acl_set(struct ms_store *s, struct cred *c, struct ms_inode *in, int type,
		   const uint8_t *v, size_t count)
{
	if (S_ISLNK(in->mode))
		return -EOPNOTSUPP; /* tmpfs symlinks have no set_acl */
	if (type == ACL_DEFAULT && !S_ISDIR(in->mode))
		return count ? -EACCES : 0;
	if (!owner_or_capable(c, in))
		return -EPERM;
	uint32_t bits = in->mode & 0777;
	if (count) {
		int eq = acl_mode(v, count, &bits);
		if (eq < 0)
			return eq;
		/* An ACL the mode bits cannot say would have to be stored and
		 * enforced: not supported. */
		if (eq || type == ACL_DEFAULT)
			return -EOPNOTSUPP;
	}
	if (type == ACL_ACCESS) {
		uint32_t mode = (in->mode & ~(uint32_t)0777) | bits;
		if (!in_group(c, in->gid) && !capable(c, CAP_FSETID))
			mode &= ~(uint32_t)S_ISGID;
		in->mode = mode;
	}
	ST(&in->ctime_ns, ms_now_ns());
	return 0;
}

/* ---- security.capability ------------------------------------------------------------ */

#define CAP_REV_MASK 0xFF000000u
#define CAP_REV2 0x02000000u
#define CAP_REV3 0x03000000u
#define CAP_EFFECTIVE 0x000001u

/* cap_convert_nscap for a caller of the initial namespace: the header
 * checked (EINVAL), CAP_SETFCAP (EPERM); a version 3 value for root id 0
 * is kept as version 2, as the kernel gives it back. *n may shrink; out
 * holds a rewritten value. */
static int caps_convert(struct cred *c, const void **v, size_t *n, uint8_t out[24])
{
	uint32_t magic;
	if (*n < 4)
		return -EINVAL;
	memcpy(&magic, *v, 4);
	uint32_t rev = magic & CAP_REV_MASK;
	if (!((*n == 20 && rev == CAP_REV2) || (*n == 24 && rev == CAP_REV3)))
		return -EINVAL;
	if (!capable(c, CAP_SETFCAP))
		return -EPERM;
	if (rev == CAP_REV2)
		return 0;
	uint32_t root;
	memcpy(&root, (const uint8_t *)*v + 20, 4);
	if (root == (uint32_t)-1)
		return -EINVAL;
	memcpy(out, *v, 24);
	magic = (root ? CAP_REV3 : CAP_REV2) | (magic & CAP_EFFECTIVE);
	memcpy(out, &magic, 4);
	*v = out;
	*n = root ? 24 : 20;
	return 0;
}

/* ---- the calls ---------------------------------------------------------------------- */

static struct ms_inode *node(struct ms_store *s, ms_ino dir, const char *path, int flags, int *r,
			     uint32_t *slot)
{
	uint32_t i;
	*r = ms_resolve_locked(s, dir, path, flags, &i);
	if (slot)
		*slot = i;
	return *r ? NULL : ms_inode_at(s, i);
}

ssize_t ms_getxattr(ms_store *s, ms_ino dir, const char *path, int flags, const char *name,
		    void *value, size_t size)
{
	struct xname x;
	struct cred c = {0};
	ssize_t r;
	int rr = parse_name(name, &x);
	if (rr)
		return rr;
	if (size > MS_XATTR_SIZE_MAX)
		size = MS_XATTR_SIZE_MAX;
	ms_ns_lock(s);
	struct ms_inode *in = node(s, dir, path, flags, &rr, NULL);
	if (!in) {
		r = rr;
		goto out;
	}
	if (x.acl) {
		/* vfs_get_acl: no permission check; none is ever stored */
		r = S_ISLNK(in->mode) ? -EOPNOTSUPP : -ENODATA;
		goto out;
	}
	r = xattr_permission(&c, in, &x, MAY_READ_);
	if (r == 0)
		r = handler(&x);
	if (r)
		goto out;
	uint32_t *link;
	uint32_t rec = rec_find(s, in, &x, &link);
	if (!rec) {
		r = -ENODATA;
		goto out;
	}
	struct ms_xrec *h = ms_xrec_at(s, rec);
	r = h->vlen;
	if (size && h->vlen > size) {
		r = -ERANGE;
	} else if (size) {
		if (!value)
			r = -EFAULT;
		else
			rec_io(s, rec, sizeof(*h) + h->namelen, value, NULL, h->vlen);
	}
out:
	ms_ns_unlock(s);
	return r;
}

int ms_setxattr(ms_store *s, ms_ino dir, const char *path, int flags, const char *name,
		const void *value, size_t size, int xflags)
{
	struct xname x;
	struct cred c = {0};
	uint8_t capbuf[24];
	uint32_t slot;
	int r;
	/* setxattr_copy's order: flags, name, size */
	r = ms_xattr_check('s', name, size, xflags);
	if (r == 0)
		r = parse_name(name, &x);
	if (r)
		return r;
	if (size && !value)
		return -EFAULT;
	ms_ns_lock(s);
	struct ms_inode *in = node(s, dir, path, flags, &r, &slot);
	if (!in)
		goto out;
	if (x.acl) {
		size_t count;
		r = acl_parse(value, size, &count);
		if (r == 0)
			r = acl_set(s, &c, in, x.acl, value, count);
		goto out;
	}
	if (x.caps && size) {
		r = caps_convert(&c, &value, &size, capbuf);
		if (r)
			goto out;
	}
	r = xattr_permission(&c, in, &x, MAY_WRITE_);
	if (r == 0 && !x.caps)
		r = security_check(&c, &x);
	if (r == 0)
		r = handler(&x);
	if (r == 0)
		r = ms_lower_copy_up(s, slot); /* MEMSHIM_LOWER: a change copies up */
	if (r == 0)
		r = rec_set(s, in, &x, value, size, xflags);
	if (r == 0) {
		ST(&in->ctime_ns, ms_now_ns());
		__atomic_add_fetch(&s->hdr->ops, 1, __ATOMIC_RELAXED);
		ms_notify_node(s, ms_inode_slot(s, in), DN_ATTRIB);
	}
out:
	ms_ns_unlock(s);
	return r;
}

ssize_t ms_listxattr(ms_store *s, ms_ino dir, const char *path, int flags, char *list,
		     size_t size)
{
	struct cred c = {0};
	ssize_t r;
	int rr;
	if (size > MS_XATTR_SIZE_MAX)
		size = MS_XATTR_SIZE_MAX; /* XATTR_LIST_MAX */
	ms_ns_lock(s);
	struct ms_inode *in = node(s, dir, path, flags, &rr, NULL);
	if (!in) {
		r = rr;
		goto out;
	}
	/* simple_xattr_list: trusted.* only for CAP_SYS_ADMIN. The size
	 * first; the user's buffer is written only when the list fits. */
	int trusted = -1;
	char name[MS_NAME_MAX + 1];
	for (int pass = 0; pass < 2; pass++) {
		size_t need = 0;
		for (uint32_t rec = in->xattr; rec; rec = ms_xrec_at(s, rec)->next) {
			struct ms_xrec *h = ms_xrec_at(s, rec);
			rec_io(s, rec, sizeof(*h), name, NULL, h->namelen);
			if (h->namelen >= 8 && memcmp(name, "trusted.", 8) == 0) {
				if (trusted < 0)
					trusted = capable(&c, CAP_SYS_ADMIN);
				if (!trusted)
					continue;
			}
			if (pass) {
				memcpy(list + need, name, h->namelen);
				list[need + h->namelen] = 0;
			}
			need += (size_t)h->namelen + 1;
		}
		r = (ssize_t)need;
		if (size == 0 || need == 0 || pass)
			break;
		if (need > size) {
			r = size >= MS_XATTR_SIZE_MAX ? -E2BIG : -ERANGE;
			break;
		}
		if (!list) {
			r = -EFAULT;
			break;
		}
	}
out:
	ms_ns_unlock(s);
	return r;
}

int ms_removexattr(ms_store *s, ms_ino dir, const char *path, int flags, const char *name)
{
	uint32_t slot;
	struct xname x;
	struct cred c = {0};
	int r = parse_name(name, &x);
	if (r)
		return r;
	ms_ns_lock(s);
	struct ms_inode *in = node(s, dir, path, flags, &r, &slot);
	if (!in)
		goto out;
	if (x.acl) {
		r = acl_set(s, &c, in, x.acl, NULL, 0);
		goto out;
	}
	r = xattr_permission(&c, in, &x, MAY_WRITE_);
	if (r == 0)
		r = security_check(&c, &x);
	if (r == 0)
		r = handler(&x);
	if (r)
		goto out;
	uint32_t *link;
	uint32_t rec = rec_find(s, in, &x, &link);
	if (!rec) {
		r = -ENODATA;
		goto out;
	}
	*link = ms_xrec_at(s, rec)->next;
	rec_free(s, rec);
	ST(&in->ctime_ns, ms_now_ns());
	__atomic_add_fetch(&s->hdr->ops, 1, __ATOMIC_RELAXED);
	ms_notify_node(s, ms_inode_slot(s, in), DN_ATTRIB);
out:
	ms_ns_unlock(s);
	return r;
}

/* ---- the consistency check -------------------------------------------------------------- */

int ms_xattr_verify(struct ms_store *s, char *msg, size_t n)
{
	struct ms_hdr *h = s->hdr;
	uint64_t blocks = 0;
	for (uint32_t i = 1; i < h->inode_bump; i++) {
		struct ms_inode *in = ms_inode_at(s, i);
		if (!in->ino_no)
			continue;
		uint32_t k = 0;
		for (uint32_t r = in->xattr; r; r = ms_xrec_at(s, r)->next) {
			struct ms_xrec *x = r < h->xblock_bump ? ms_xrec_at(s, r) : NULL;
			if (!x || ++k > h->nxblocks || x->namelen == 0 || x->namelen > MS_NAME_MAX ||
			    x->vlen > MS_XATTR_SIZE_MAX ||
			    x->nblocks != ms_xrec_blocks(x->namelen, x->vlen)) {
				snprintf(msg, n, "inode %u: attribute record %u is not one", i, r);
				return -EUCLEAN;
			}
			uint32_t b = r, c = 0;
			while (b && c < x->nblocks) {
				b = ms_xblock_at(s, b)->next;
				c++;
			}
			if (c != x->nblocks) {
				snprintf(msg, n, "inode %u: attribute record %u has %u of %u blocks", i, r,
					 c, x->nblocks);
				return -EUCLEAN;
			}
			blocks += x->nblocks;
		}
	}
	if (blocks != h->xblocks_used) {
		snprintf(msg, n, "attribute blocks: %llu in records, %u taken",
			 (unsigned long long)blocks, h->xblocks_used);
		return -EUCLEAN;
	}
	return 0;
}
