/* tests/test_xattr.c — extended attributes in core (core/xattr.c) on a
 * local store: what each costs in the ledger and when it is given back, a
 * set that does not fit (quota, pool) refused whole, the pool and the
 * ledger rebuilt after a death mid-set, and what the store does not keep
 * (ACLs beyond the mode bits). The errno of every call is compared with
 * tmpfs in test_e2e_diff.c (tests/helpers/xattrops.c). */
#include <sys/stat.h>
#include <sys/xattr.h>

#include "arena.h"
#include "common.h"
#include "keeper.h"

static ms_store *S;

static void setup(void)
{
	struct ms_config c = t_config(0, 0);
	S = t_local(&c);
}

static void teardown(void)
{
	if (S) {
		t_assert_consistent(S);
		ms_store_close(S);
	}
}

TestSuite(xattr, .init = setup, .fini = teardown);

static int mkf(ms_store *s, const char *path)
{
	int fd;
	ms_ino ino;
	int r = ms_open(s, 0, path, O_CREAT | O_WRONLY, 0644, &fd, &ino);
	if (r == 0) {
		close(fd);
		ms_ino_put(s, ino);
	}
	return r;
}

static uint64_t used(ms_store *s)
{
	struct ms_stats st;
	ms_stats_get(s, &st);
	return st.used_bytes;
}

static uint64_t cost(size_t namelen, size_t vlen)
{
	return (uint64_t)ms_xrec_blocks(namelen, vlen) * MS_BLOCK;
}

static char big[MS_XATTR_SIZE_MAX];

Test(xattr, set_get_list_remove)
{
	char v[64], l[256];
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.a", "one", 3, 0), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.b", "", 0, 0), 0);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "user.a", v, sizeof(v)), 3);
	cr_assert_eq(memcmp(v, "one", 3), 0);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "user.b", v, sizeof(v)), 0);
	cr_assert_eq(ms_listxattr(S, 0, "/mem/f", 0, l, sizeof(l)), 14);
	cr_assert_eq(memcmp(l, "user.a\0user.b\0", 14), 0);
	cr_assert_eq(ms_removexattr(S, 0, "/mem/f", 0, "user.a"), 0);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "user.a", v, sizeof(v)), -ENODATA);
	cr_assert_eq(ms_removexattr(S, 0, "/mem/f", 0, "user.a"), -ENODATA);
	/* the prefix directory is the store's too */
	cr_assert_eq(ms_setxattr(S, 0, "/mem", 0, "user.p", "p", 1, 0), 0);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/.", 0, "user.p", v, sizeof(v)), 1);
	/* above it: the kernel's */
	cr_assert_eq(ms_getxattr(S, 0, "/mem/..", MS_NOFOLLOW, "user.p", v, sizeof(v)), -MS_EESCAPE);
	cr_assert_str_eq(ms_escape_path(), "/");
	cr_assert_eq(ms_listxattr(S, 0, "/mem/../tmp", 0, l, sizeof(l)), -MS_EESCAPE);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/..", 0, "user.p", "p", 1, 0), -MS_EESCAPE);
	cr_assert_eq(ms_removexattr(S, 0, "/mem/..", 0, "user.p"), -MS_EESCAPE);
}

Test(xattr, lists_in_the_order_first_set)
{
	char l[256];
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	const char *names[] = {"user.b", "user.a", "user.c", "user.aa"};
	for (int i = 0; i < 4; i++)
		cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, names[i], "x", 1, 0), 0);
	/* a new value keeps the place */
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.a", big, 1000, 0), 0);
	ssize_t n = ms_listxattr(S, 0, "/mem/f", 0, l, sizeof(l));
	cr_assert_eq(n, 7 + 7 + 7 + 8);
	cr_assert_eq(memcmp(l, "user.b\0user.a\0user.c\0user.aa\0", (size_t)n), 0);
}

Test(xattr, each_attribute_is_charged_its_blocks)
{
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	uint64_t base = used(S);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.a", "1", 1, 0), 0);
	cr_assert_eq(used(S), base + cost(6, 1));
	cr_assert_eq(cost(6, 1), MS_BLOCK);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.big", big, sizeof(big), 0), 0);
	cr_assert_eq(used(S), base + cost(6, 1) + cost(8, sizeof(big)));
	cr_assert_eq(cost(8, sizeof(big)), 261 * MS_BLOCK);
	/* replaced: the new size's charge */
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.big", big, 300, 0), 0);
	cr_assert_eq(used(S), base + cost(6, 1) + cost(8, 300));
	/* removed: given back */
	cr_assert_eq(ms_removexattr(S, 0, "/mem/f", 0, "user.big"), 0);
	cr_assert_eq(ms_removexattr(S, 0, "/mem/f", 0, "user.a"), 0);
	cr_assert_eq(used(S), base);
	cr_assert_eq(S->hdr->xblocks_used, 0);
}

Test(xattr, given_back_when_the_node_goes)
{
	uint64_t empty = used(S);
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	cr_assert_eq(ms_symlink(S, "f", 0, "/mem/l"), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.a", big, 5000, 0), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/d", 0, "user.a", big, 5000, 0), 0);
	/* on a symlink only trusted.* and security.*, for root */
	cr_assert_eq(ms_setxattr(S, 0, "/mem/l", MS_NOFOLLOW, "trusted.a", big, 5000, 0),
		     geteuid() == 0 ? 0 : -EPERM);
	/* a hard link shares them; its name going gives nothing back */
	cr_assert_eq(ms_link(S, 0, "/mem/f", 0, "/mem/h", 0), 0);
	uint64_t with = used(S);
	cr_assert_eq(ms_unlink(S, 0, "/mem/h"), 0);
	cr_assert_eq(used(S), with - MS_NODE_COST);
	/* an unlinked file still open keeps them until its last reference */
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_RDONLY, 0, &fd, &ino), 0);
	cr_assert_eq(ms_unlink(S, 0, "/mem/f"), 0);
	char v[16];
	cr_assert_eq(ms_getxattr(S, ino, "", MS_EMPTY, "user.a", NULL, 0), 5000);
	cr_assert_eq(ms_setxattr(S, ino, "", MS_EMPTY, "user.b", "b", 1, 0), 0);
	cr_assert_eq(ms_getxattr(S, ino, "", MS_EMPTY, "user.b", v, sizeof(v)), 1);
	ms_ino_put(S, ino);
	close(fd);
	cr_assert_eq(ms_rmdir(S, 0, "/mem/d"), 0);
	cr_assert_eq(ms_unlink(S, 0, "/mem/l"), 0);
	cr_assert_eq(used(S), empty);
	cr_assert_eq(S->hdr->xblocks_used, 0);
	/* and a new node in a reused slot starts with none */
	cr_assert_eq(mkf(S, "/mem/n"), 0);
	cr_assert_eq(ms_listxattr(S, 0, "/mem/n", 0, NULL, 0), 0);
}

Test(xattr, a_set_that_does_not_fit_is_refused_whole)
{
	ms_store_close(S);
	struct ms_config c = t_config(64 << 10, 16);
	S = t_local(&c);
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.small", big, 1000, 0), 0);
	uint64_t before = used(S);
	struct ms_stats st;
	ms_stats_get(S, &st);
	uint64_t refused = st.refused;
	/* 64 KiB of value: more than the quota has left */
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.big", big, sizeof(big), 0), -ENOSPC);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "user.big", NULL, 0), -ENODATA);
	cr_assert_eq(used(S), before);
	ms_stats_get(S, &st);
	cr_assert_eq(st.refused, refused + 1);
	/* a replacement that does not fit keeps the old value */
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.small", big, sizeof(big), 0), -ENOSPC);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "user.small", NULL, 0), 1000);
	cr_assert_eq(used(S), before);
	cr_assert_leq(used(S), 64 << 10);
	/* what fits still does */
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.mid", big, 20000, 0), 0);
	t_assert_consistent(S);

	/* the configured quota errno */
	ms_store_close(S);
	c.quota_errno = EDQUOT;
	S = t_local(&c);
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.big", big, sizeof(big), 0), -EDQUOT);
}

Test(xattr, a_full_pool_is_enospc)
{
	/* No quota: the pool's ceiling is the limit. */
	cr_assert_eq(S->hdr->nxblocks, MS_XBLOCKS_CEILING);
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	int r = 0, k;
	char name[32];
	for (k = 0; k < 2000 && r == 0; k++) {
		snprintf(name, sizeof(name), "user.%d", k);
		r = ms_setxattr(S, 0, "/mem/f", 0, name, big, sizeof(big), 0);
	}
	cr_assert_eq(r, -ENOSPC);
	uint32_t per = ms_xrec_blocks(strlen("user.100"), sizeof(big));
	cr_assert_geq(S->hdr->xblocks_used + per, MS_XBLOCKS_CEILING - per, "filled to the brim");
	uint64_t before = used(S);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, name, NULL, 0), -ENODATA);
	/* a small one still fits in what is left, then the pool is full */
	uint32_t left = MS_XBLOCKS_CEILING - S->hdr->xblocks_used;
	for (uint32_t i = 0; i < left; i++) {
		snprintf(name, sizeof(name), "user.s%u", i);
		cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, name, "", 0, 0), 0);
	}
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.one-more", "", 0, 0), -ENOSPC);
	cr_assert_eq(used(S), before + (uint64_t)left * MS_BLOCK);
	/* removing makes room again */
	cr_assert_eq(ms_removexattr(S, 0, "/mem/f", 0, "user.7"), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.again", big, sizeof(big) - 300, 0), 0);
	t_assert_consistent(S);
	/* and everything goes with the file */
	cr_assert_eq(ms_unlink(S, 0, "/mem/f"), 0);
	cr_assert_eq(S->hdr->xblocks_used, 0);
}

Test(xattr, a_set_cut_short_by_a_death_is_undone_by_the_repair)
{
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.kept", "k", 1, 0), 0);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.second", big, 3000, 0), 0);
	uint64_t good = used(S);
	ms_ino ino;
	cr_assert_eq(ms_lookup(S, 0, "/mem/f", 0, &ino), 0);
	struct ms_inode *in = ms_inode_at(S, ino);
	/* As a process killed mid-set leaves it: blocks taken and charged
	 * but not linked, and a record whose chain is short. */
	ms_ns_lock(S);
	cr_assert_eq(ms_reserve_bytes(S, 5 * MS_BLOCK), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_neq(ms_xblock_alloc(S), 0);
	uint32_t second = ms_xrec_at(S, in->xattr)->next;
	ms_xrec_at(S, second)->nblocks += 1;
	char msg[256];
	ms_ns_unlock(S);
	cr_assert_eq(ms_check(S, msg, sizeof(msg)), -EUCLEAN);
	ms_ns_lock(S);
	ms_repair(S);
	ms_ns_unlock(S);
	t_assert_consistent(S);
	/* the damaged record is gone, the one before it kept */
	char v[8];
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "user.kept", v, sizeof(v)), 1);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "user.second", v, sizeof(v)), -ENODATA);
	cr_assert_eq(used(S), good - cost(11, 3000));
	cr_assert_eq(S->hdr->xblocks_used, 1);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "user.second", big, 3000, 0), 0);
	cr_assert_eq(used(S), good);
}

/* What the store does not keep (README, limits): ACLs beyond the mode. */
Test(xattr, acls_the_mode_cannot_say_are_not_supported)
{
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	cr_assert_eq(ms_mkdir(S, 0, "/mem/d", 0755), 0);
	struct {
		uint32_t v;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} e[5];
	} acl = {2,
		 {{0x01, 6, ~0u}, {0x02, 4, 1000}, {0x04, 4, ~0u}, {0x10, 4, ~0u}, {0x20, 0, ~0u}}};
	struct stat st;
	/* a named user: tmpfs stores it, the store cannot enforce it */
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "system.posix_acl_access", &acl, sizeof(acl), 0),
		     -EOPNOTSUPP);
	cr_assert_eq(ms_stat(S, 0, "/mem/f", 0, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644);
	/* a default ACL on a directory: tmpfs keeps it for new files */
	struct {
		uint32_t v;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} e[3];
	} min = {2, {{0x01, 7, ~0u}, {0x04, 5, ~0u}, {0x20, 5, ~0u}}};
	cr_assert_eq(ms_setxattr(S, 0, "/mem/d", 0, "system.posix_acl_default", &min, sizeof(min), 0),
		     -EOPNOTSUPP);
	/* the mode-equivalent access ACL is a chmod, and stored nowhere */
	min.e[0].perm = 6;
	min.e[1].perm = 0;
	min.e[2].perm = 0;
	cr_assert_eq(ms_setxattr(S, 0, "/mem/d", 0, "system.posix_acl_access", &min, sizeof(min), 0), 0);
	cr_assert_eq(ms_stat(S, 0, "/mem/d", 0, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(ms_listxattr(S, 0, "/mem/d", 0, NULL, 0), 0);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/d", 0, "system.posix_acl_access", NULL, 0), -ENODATA);
}

Test(xattr, file_capabilities_read_back_as_the_kernel_gives_them)
{
	cr_assert_eq(mkf(S, "/mem/f"), 0);
	uint32_t v3[6] = {0x03000001, 1u << 10, 0, 0, 0, 0}; /* rootid 0, effective */
	uint32_t got[6] = {0};
	int r = ms_setxattr(S, 0, "/mem/f", 0, "security.capability", v3, sizeof(v3), 0);
	if (geteuid() != 0) {
		cr_assert_eq(r, -EPERM);
		return;
	}
	cr_assert_eq(r, 0);
	/* root id 0: version 2, as cap_inode_getsecurity gives it back */
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "security.capability", got, sizeof(got)), 20);
	cr_assert_eq(got[0], 0x02000001);
	cr_assert_eq(got[1], 1u << 10);
	v3[5] = 1000;
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "security.capability", v3, sizeof(v3), 0), 0);
	cr_assert_eq(ms_getxattr(S, 0, "/mem/f", 0, "security.capability", got, sizeof(got)), 24);
	cr_assert_eq(got[5], 1000);
	cr_assert_eq(ms_setxattr(S, 0, "/mem/f", 0, "security.capability", v3, 23, 0), -EINVAL);
}

/* An unlinked file whose holder died without giving its reference back is
 * freed by the keeper's reclaim round (keeper/rounds.c): with its
 * attributes. */
Test(xattr, an_orphan_the_keeper_reclaims_gives_its_attributes_back)
{
	ms_store_close(S);
	struct ms_config c = t_config(8 << 20, 100);
	S = t_kept(&c);
	uint64_t base = used(S);
	int fd;
	ms_ino ino;
	cr_assert_eq(ms_open(S, 0, "/mem/f", O_CREAT | O_RDWR, 0644, &fd, &ino), 0);
	cr_assert_eq(ms_setxattr(S, ino, "", MS_EMPTY, "user.a", big, 5000, 0), 0);
	cr_assert_eq(ms_unlink(S, 0, "/mem/f"), 0);
	close(fd); /* the reference stays out, as a killed process leaves it */
	for (int i = 0; i < 100 && used(S) != base; i++) {
		ms_keeper_reclaim(S);
		usleep(20000);
	}
	cr_assert_eq(used(S), base);
	cr_assert_eq(S->hdr->xblocks_used, 0);
}
