/* core/ns.c — the store's namespace: path resolution, directories, names,
 * hard links, symlinks, attributes, readdir and the real-path escape.
 *
 * The tree mirrors the real one from "/": hdr->root is the real root, the
 * directories above a prefix are MS_I_SKEL (not part of the store; looking
 * up anything else in them, or ending on one, escapes to the kernel with
 * -MS_EESCAPE and ms_escape_path()), and each prefix is an MS_I_PREFIX
 * directory that behaves like a mount point (never removed or renamed).
 *
 * Resolution is physical and follows the kernel's namei step by step, so the
 * errno of every failure is the one tmpfs gives (tests/test_ns_diff.c holds
 * the two side by side): the unconsumed rest of a path lives right-aligned in
 * a buffer, and a symlink met on the way is resolved by writing its target in
 * front of that rest. Every call takes ns_lock once for the whole operation.
 *
 * Permissions are the kernel's (core/perm.c holds the rules): search on
 * every directory walked, and each operation's own checks at the point the
 * kernel makes them, against the caller's credentials as cached in the
 * handle (w->cr; access(2) walks with the real ids).
 *
 * Known departures from the kernel, all in corners:
 * - ".." from a removed directory (a cwd that was rmdir'ed) gives ENOENT; the
 *   kernel still reaches the old parent.
 * - a path whose symlink targets, spliced together, exceed 8 KiB gives
 *   ENAMETOOLONG; the kernel keeps a stack of link bodies instead.
 * - an escape path continues lexically ("/etc/../mem/x" stays outside).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "sys.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#define NS_MAXSYMLINKS 40  /* the kernel's MAXSYMLINKS */
#define NS_BOGO_DIRENT 20  /* tmpfs: directory size per entry */
#define NS_WALK_BUF (2 * PATH_MAX)

enum last_type { LAST_NORM, LAST_DOT, LAST_DOTDOT, LAST_ROOT };

/* One path being resolved. The rest still to walk is the NUL-terminated
 * string at p, which always ends at buf[NS_WALK_BUF - 1]; what lies before
 * p has been consumed and is free for a symlink target to be written into. */
struct walk {
	struct ms_store *s;
	uint32_t dir;     /* directory holding the last component */
	uint32_t ino;     /* what the last component names; 0 = nothing */
	uint32_t dent;    /* its entry (LAST_NORM found) */
	const char *last; /* last component, in buf, not NUL-terminated */
	size_t len;
	int type;         /* enum last_type */
	int slash;        /* last component followed by '/' */
	int links;        /* symlinks followed so far */
	const struct ms_cred *cr; /* who walks */
	char *p;
	char buf[NS_WALK_BUF];
};

/* The real path to continue with after -MS_EESCAPE: a page of the
 * thread's own, mapped at its first escape and unmapped when it exits. Not
 * a PATH_MAX __thread array: the loader zeroes every thread's copy of
 * those, a page fault in each thread of every process the shim is loaded
 * in, for a path few of them ever take. */
static __thread char *escape_buf;

/* The key whose destructor gives a thread's page back. Made by the first
 * escape of the process (0 none yet, 1 being made, 2 made, 3 failed);
 * whoever finds it being made (another thread, or a signal handler on the
 * one making it) goes on without a destructor rather than wait: that
 * thread's page then lasts as long as the process. */
static pthread_key_t escape_key;
static int escape_key_state;

static void escape_page_free(void *p)
{
	escape_buf = NULL; /* a later destructor's escape maps a new one */
	munmap(p, PATH_MAX);
}

static char *escape_page(void)
{
	if (escape_buf)
		return escape_buf;
	void *p;
	if (sys_mmap(&p, PATH_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
		return NULL;
	int st = 0;
	if (__atomic_compare_exchange_n(&escape_key_state, &st, 1, 0, __ATOMIC_ACQUIRE,
					__ATOMIC_ACQUIRE))
		__atomic_store_n(&escape_key_state,
				 pthread_key_create(&escape_key, escape_page_free) ? 3 : 2,
				 __ATOMIC_RELEASE);
	if (__atomic_load_n(&escape_key_state, __ATOMIC_ACQUIRE) == 2)
		pthread_setspecific(escape_key, p);
	escape_buf = p;
	return escape_buf;
}
/* Whether this thread's last ms_open made the file (F_CREATED_QUERY). */
static __thread int open_created;
/* Whether its fd is a kernel fd on a real file below (MEMSHIM_LOWER). */
static __thread int open_lower;

/* Sequential readdir: the entry returned last by this thread, so that the
 * next call starts from it instead of walking the directory again. */
static __thread struct {
	const struct ms_hdr *hdr;
	uint32_t dent;
} rd_hint;

static inline struct ms_inode *IN(struct ms_store *s, uint32_t i)
{
	return ms_inode_at(s, i);
}

static inline int is_dir(struct ms_store *s, uint32_t i)
{
	return S_ISDIR(IN(s, i)->mode);
}

/* A live inode slot given by a caller, or NULL. */
static struct ms_inode *live(struct ms_store *s, uint32_t i)
{
	if (i == 0 || i > s->hdr->nslots)
		return NULL;
	struct ms_inode *in = IN(s, i);
	return in->ino_no ? in : NULL;
}

/* A directory given by a caller that is still one and still named:
 * 0 with *out (may be NULL), -ENOENT (freed or removed, as getdents64 on a
 * removed directory), -ENOTDIR. */
static int live_dir(struct ms_store *s, uint32_t i, struct ms_inode **out)
{
	struct ms_inode *in = live(s, i);
	if (!in)
		return -ENOENT;
	if (!S_ISDIR(in->mode))
		return -ENOTDIR;
	if (in->nlink == 0)
		return -ENOENT;
	if (out)
		*out = in;
	return 0;
}

static void touch_c(struct ms_inode *in)
{
	ST(&in->ctime_ns, ms_now_ns());
}

static void touch_mc(struct ms_inode *in)
{
	int64_t now = ms_now_ns();
	ST(&in->mtime_ns, now);
	ST(&in->ctime_ns, now);
}

static void bump_ops(struct ms_store *s)
{
	__atomic_add_fetch(&s->hdr->ops, 1, __ATOMIC_RELAXED);
}

static int dot_type(const char *name, size_t len)
{
	if (len == 1 && name[0] == '.')
		return LAST_DOT;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return LAST_DOTDOT;
	return LAST_NORM;
}

/* ---- real paths ------------------------------------------------------------ */

/* Writes the absolute real path of directory `dir` into out (n bytes with the
 * NUL), built backwards from the entries that name each ancestor. Returns
 * its length, -ERANGE when it does not fit, -ENOENT for a removed directory. */
static int dir_path(struct ms_store *s, uint32_t dir, char *out, size_t n)
{
	uint32_t top;
	if (n < 2)
		return -ERANGE;
	int r = ms_path_up(s, dir, 0, out, n, &top);
	if (r < 0)
		return r;
	size_t pos = (size_t)r;
	if (pos == n - 1)
		out[--pos] = '/';
	size_t len = n - 1 - pos;
	memmove(out, out + pos, len + 1);
	return (int)len;
}

/* A refusal this thread just made while creating w->last in w->dir is
 * given that path for the report (ns_lock held: the directory stays put). */
static void name_refusal(struct walk *w)
{
	struct ms_refusal *r = ms_refusal_pending();
	char dir[sizeof(r->path)];
	if (!r || dir_path(w->s, w->dir, dir, sizeof(dir)) < 0)
		return;
	/* a path too long for the record is cut: the report says so by its end */
	if (snprintf(r->path, sizeof(r->path), "%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "",
		     (int)w->len, w->last) >= (int)sizeof(r->path))
		memcpy(r->path + sizeof(r->path) - 4, "...", 4);
}

/* Leaves the store: the path to continue with is the real path of `dir`
 * followed by `rest` (the component that could not be resolved here and
 * everything after it). Returns -MS_EESCAPE, or -ENAMETOOLONG. */
static int escape(struct walk *w, uint32_t dir, const char *rest)
{
	char *buf = escape_page();
	if (!buf)
		return -ENOMEM;
	int n = dir_path(w->s, dir, buf, PATH_MAX);
	if (n < 0)
		return n == -ERANGE ? -ENAMETOOLONG : n;
	size_t rl = strlen(rest);
	if (rl) {
		size_t sep = n > 1; /* "/" already ends in a slash */
		if ((size_t)n + sep + rl >= PATH_MAX)
			return -ENAMETOOLONG;
		if (sep)
			buf[n++] = '/';
		memcpy(buf + n, rest, rl + 1);
	}
	return -MS_EESCAPE;
}

const char *ms_escape_path(void)
{
	return escape_buf;
}

int ms_open_created(void)
{
	return open_created;
}

int ms_open_lower(void)
{
	return open_lower;
}

/* ---- resolution -------------------------------------------------------------- */

static void link_read(struct ms_store *s, struct ms_inode *in, char *dst, size_t len)
{
	uint32_t b = in->link;
	while (len && b) {
		struct ms_block *bl = ms_block_at(s, b);
		size_t k = len < MS_LINK_DATA ? len : MS_LINK_DATA;
		memcpy(dst, bl->data, k);
		dst += k;
		len -= k;
		b = bl->next;
	}
}

/* Splices the target of symlink `in` in front of `pos` (the rest of the path
 * after the link's name, "" or starting with '/'). */
static int push_link(struct walk *w, struct ms_inode *in, char *pos)
{
	if (++w->links > NS_MAXSYMLINKS)
		return -ELOOP;
	size_t tl = LD(&in->size);
	if ((size_t)(pos - w->buf) < tl)
		return -ENAMETOOLONG;
	w->p = pos - tl;
	link_read(w->s, in, w->p, tl);
	return 0;
}

static int walk_init(struct walk *w, struct ms_store *s, uint32_t dir, const char *path)
{
	size_t len = strnlen(path, PATH_MAX);
	w->s = s;
	w->cr = ms_cred_fs(s);
	w->dir = dir;
	w->ino = w->dent = 0;
	w->links = 0;
	if (len == 0)
		return -ENOENT;
	/* A directory handle the caller holds without a reference (a thread's
	 * route racing another's chdir) may have been freed meanwhile. */
	if (dir && !live(s, dir))
		return -ENOENT;
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	w->buf[NS_WALK_BUF - 1] = 0;
	w->p = w->buf + NS_WALK_BUF - 1 - len;
	memcpy(w->p, path, len);
	return 0;
}

/* Looks up name in directory cur: *dent is its entry or 0. A name that is
 * not the store's in a skeleton directory escapes. */
static int lookup_name(struct walk *w, uint32_t cur, const char *name, size_t len,
		       uint32_t *dent)
{
	struct ms_store *s = w->s;
	struct ms_inode *d = IN(s, cur);
	uint32_t e = len <= MS_NAME_MAX ? ms_dent_find(s, cur, name, len) : 0;
	if (!e) {
		if (d->flags & MS_I_SKEL)
			return escape(w, cur, name);
		/* As the kernel: a dead directory refuses before the name is
		 * looked at, and the filesystem refuses a long name. */
		if (d->nlink == 0)
			return -ENOENT;
		if (len > MS_NAME_MAX)
			return -ENAMETOOLONG;
		if (__builtin_expect((d->flags & (MS_I_LOWER | MS_I_FILLED)) == MS_I_LOWER, 0)) {
			int r = ms_lower_find(s, cur, name, len, &e);
			if (r)
				return r;
		}
	}
	*dent = e;
	return 0;
}

/* Resolves every component of w->p but the last, starting at w->dir (or the
 * root for an absolute path) and following the symlinks met on the way.
 * Leaves the last component in w->last/len/type/slash and its directory in
 * w->dir. Errors: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, -MS_EESCAPE. */
static int walk_parent(struct walk *w)
{
	struct ms_store *s = w->s;
	uint32_t root = s->hdr->root;
	uint32_t cur = w->dir;
	struct ms_inode *cd; /* IN(s, cur) */
	char *p = w->p;
	int r;

restart:
	if (*p == '/') {
		cur = root;
		cd = IN(s, cur);
		while (*p == '/')
			p++;
	} else {
		cd = live(s, cur);
		if (!cd)
			return -ENOENT;
		if (!S_ISDIR(cd->mode))
			return -ENOTDIR;
	}
	if (!*p) {
		/* "/" itself, or a symlink to it */
		w->dir = cur;
		w->type = LAST_ROOT;
		w->last = p;
		w->len = 0;
		w->slash = 0;
		w->p = p;
		return 0;
	}
	for (;;) {
		/* may_lookup: search permission on the directory each
		 * component is looked up in, the last one's too */
		r = ms_perm_search(w->cr, cd);
		if (r)
			return r;
		char *name = p;
		size_t len = 0;
		while (p[len] && p[len] != '/')
			len++;
		char *after = p + len, *q = after;
		while (*q == '/')
			q++;
		int type = dot_type(name, len);
		if (!*q) {
			w->dir = cur;
			w->last = name;
			w->len = len;
			w->type = type;
			w->slash = q != after;
			w->p = name;
			return 0;
		}
		if (type == LAST_DOT) {
			p = q;
			continue;
		}
		if (type == LAST_DOTDOT) {
			if (cur != root) {
				if (cd->nlink == 0)
					return -ENOENT;
				cur = cd->parent;
				cd = IN(s, cur);
			}
			p = q;
			continue;
		}
		uint32_t e;
		r = lookup_name(w, cur, name, len, &e);
		if (r)
			return r;
		if (!e)
			return -ENOENT;
		uint32_t c = ms_dent_at(s, e)->ino;
		struct ms_inode *ci = IN(s, c);
		if (S_ISLNK(ci->mode)) {
			r = push_link(w, ci, after);
			if (r)
				return r;
			p = w->p;
			goto restart; /* relative targets resolve from cur */
		}
		if (!S_ISDIR(ci->mode))
			return -ENOTDIR;
		cur = c;
		cd = ci;
		p = q;
	}
}

/* Looks up the last component without following it: w->ino (0 = absent, then
 * w->dir and w->last say where it would be created) and w->dent. Ending on a
 * skeleton directory escapes. */
static int lookup_last(struct walk *w)
{
	struct ms_store *s = w->s;
	uint32_t root = s->hdr->root;
	struct ms_inode *d = IN(s, w->dir);
	int r;
	w->dent = 0;
	switch (w->type) {
	case LAST_ROOT:
		w->ino = root;
		break;
	case LAST_DOT:
		w->ino = w->dir;
		break;
	case LAST_DOTDOT:
		if (w->dir == root) {
			w->ino = root;
		} else {
			if (d->nlink == 0)
				return -ENOENT;
			w->ino = d->parent;
		}
		break;
	default:
		r = lookup_name(w, w->dir, w->last, w->len, &w->dent);
		if (r)
			return r;
		w->ino = w->dent ? ms_dent_at(s, w->dent)->ino : 0;
	}
	if (w->ino && (IN(s, w->ino)->flags & MS_I_SKEL))
		return escape(w, w->ino, "");
	return 0;
}

/* lookup_last, following a final symlink when `follow` or a trailing slash
 * asks for it. */
static int resolve_last(struct walk *w, int follow)
{
	for (;;) {
		int r = lookup_last(w);
		if (r || !w->ino)
			return r;
		struct ms_inode *in = IN(w->s, w->ino);
		if (!S_ISLNK(in->mode) || !(follow || w->slash))
			return 0;
		r = ms_perm_follow(w->cr, IN(w->s, w->dir), in);
		if (r == 0)
			r = push_link(w, in, (char *)w->last + w->len);
		if (r == 0)
			r = walk_parent(w);
		if (r)
			return r;
	}
}

/* resolve(): walk as access(2) does, with the real ids. */
#define NS_REAL_IDS 0x100

/* Resolves path to an existing inode (w->ino). MS_EMPTY with "" names dir. */
static int resolve(struct walk *w, struct ms_store *s, uint32_t dir, const char *path, int flags)
{
	int r;
	if ((flags & MS_EMPTY) && path[0] == 0) {
		w->s = s;
		w->cr = flags & NS_REAL_IDS ? ms_cred_real(s) : ms_cred_fs(s);
		w->ino = dir;
		w->dent = 0;
		w->slash = 0;
		w->type = LAST_DOT;
		return live(s, dir) ? 0 : -ENOENT;
	}
	r = walk_init(w, s, dir, path);
	if (flags & NS_REAL_IDS)
		w->cr = ms_cred_real(s);
	if (r == 0)
		r = walk_parent(w);
	if (r == 0)
		r = resolve_last(w, !(flags & MS_NOFOLLOW));
	if (r)
		return r;
	if (!w->ino)
		return -ENOENT;
	if (w->slash && !is_dir(s, w->ino))
		return -ENOTDIR;
	return 0;
}

/* Walks to the parent of the last component (create, remove, rename). */
static int walk_path(struct walk *w, struct ms_store *s, uint32_t dir, const char *path)
{
	int r = walk_init(w, s, dir, path);
	return r ? r : walk_parent(w);
}

/* ---- entries ------------------------------------------------------------------- */

/* Names inode `ino` by entry slot e as `name` in directory dir: sets the
 * entry, links it (a fresh, higher cookie) and keeps the directory counts. */
static void attach(struct ms_store *s, uint32_t e, uint32_t dir, const char *name, size_t len,
		   uint32_t ino)
{
	ms_dent_attach(s, e, dir, name, len, ino);
	touch_mc(IN(s, dir));
}

/* Takes entry e out of its directory; the slot is kept (freed or reused by
 * the caller). */
static void detach(struct ms_store *s, uint32_t e)
{
	struct ms_dent *d = ms_dent_at(s, e);
	struct ms_inode *p = IN(s, d->parent), *c = IN(s, d->ino);
	ms_dent_unlink(s, e);
	if (S_ISDIR(c->mode))
		p->nlink--;
	if (c->dent == e)
		c->dent = 0; /* the name it kept (arena.h) */
	touch_mc(p);
}

/* Inode i lost one name. A directory is gone; a file's extra link gives its
 * node back; the last link hands the inode to ms_inode_unlinked. */
static void drop_name(struct ms_store *s, uint32_t i)
{
	struct ms_inode *in = IN(s, i);
	if (S_ISDIR(in->mode)) {
		in->nlink = 0;
		in->dent = 0;
		ms_inode_unlinked(s, i);
		return;
	}
	touch_c(in);
	if (--in->nlink == 0) {
		ms_inode_unlinked(s, i);
		return;
	}
	ms_release_node(s, MS_NODE_COST); /* an extra link */
}

/* Creates an inode of `mode` named w->last in w->dir (checked absent); sets
 * w->ino and w->dent. The node is charged by ms_inode_new; a failure after
 * it gives it back. */
static int create_node(struct walk *w, mode_t mode, uint32_t *out)
{
	struct ms_store *s = w->s;
	struct ms_inode *d = IN(s, w->dir);
	uint32_t i, e;
	int r = ms_perm_create(w->cr, d);
	if (r)
		return r;
	r = ms_inode_new(s, ms_perm_create_mode(w->cr, d, mode), &i);
	if (r) {
		name_refusal(w);
		return r;
	}
	e = ms_dent_alloc(s);
	if (!e) {
		ms_inode_unlinked(s, i);
		return -ENOSPC;
	}
	ms_perm_init_owner(w->cr, d, IN(s, i));
	attach(s, e, w->dir, w->last, w->len, i);
	w->ino = i;
	w->dent = e;
	*out = i;
	return 0;
}

/* Undoes create_node for an inode that was never handed out. */
static void uncreate(struct ms_store *s, uint32_t dent, uint32_t i)
{
	detach(s, dent);
	ms_dent_free(s, dent);
	drop_name(s, i);
}

/* ---- ms_ns_init ------------------------------------------------------------------- */

static uint32_t skel_dir(struct ms_store *s, uint32_t parent)
{
	uint32_t i = ms_inode_alloc(s);
	if (!i)
		return 0;
	struct ms_inode *in = IN(s, i);
	int64_t now = ms_now_ns();
	in->mode = S_IFDIR | 0755;
	in->uid = (uint32_t)geteuid();
	in->gid = (uint32_t)getegid();
	in->nlink = 2;
	in->atime_ns = in->mtime_ns = in->ctime_ns = in->btime_ns = now;
	in->flags = MS_I_SKEL;
	in->parent = parent ? parent : i;
	return i;
}

int ms_ns_init(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	uint32_t root = skel_dir(s, 0);
	if (!root)
		return -ENOMEM;
	h->root = root;
	for (int k = 0; k < s->cfg.nprefix; k++) {
		const char *p = s->cfg.prefix[k];
		uint32_t cur = root;
		if (p[0] != '/')
			return -EINVAL;
		while (*p) {
			while (*p == '/')
				p++;
			if (!*p)
				break;
			size_t len = strcspn(p, "/");
			if (len > MS_NAME_MAX)
				return -ENAMETOOLONG;
			uint32_t e = ms_dent_find(s, cur, p, len), c;
			if (e) {
				c = ms_dent_at(s, e)->ino;
				if (!is_dir(s, c))
					return -EINVAL;
			} else {
				c = skel_dir(s, cur);
				e = ms_dent_alloc(s);
				if (!c || !e)
					return -ENOMEM;
				attach(s, e, cur, p, len, c);
			}
			cur = c;
			p += len;
		}
		if (cur == root)
			return -EINVAL;
		IN(s, cur)->flags = (IN(s, cur)->flags & ~MS_I_SKEL) | MS_I_PREFIX;
		int r = ms_lower_init(s, cur, k);
		if (r)
			return r;
	}
	return 0;
}

/* ---- attributes ------------------------------------------------------------------- */

static struct timespec ts_of(int64_t ns)
{
	struct timespec t = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	if (t.tv_nsec < 0) {
		t.tv_sec--;
		t.tv_nsec += 1000000000;
	}
	return t;
}

static void fill_stat(struct ms_store *s, uint32_t i, struct stat *st)
{
	struct ms_inode *in = IN(s, i);
	/* A lower file is the real one until copied up (its ino, dev and
	 * blocks, as overlayfs shows a lower file of another filesystem); a
	 * lower directory's link count and size need all its entries. */
	if (__builtin_expect(in->flags & MS_I_LOWER, 0)) {
		if (ms_lower_backed(in) && S_ISREG(in->mode) && ms_lower_stat(s, i, st) == 0)
			return;
		if (S_ISDIR(in->mode))
			(void)ms_lower_fill(s, i); /* else: what is known so far */
	}
	memset(st, 0, sizeof(*st));
	st->st_dev = s->hdr->dev;
	st->st_ino = in->ino_no;
	st->st_mode = in->mode;
	st->st_nlink = in->nlink;
	st->st_uid = in->uid;
	st->st_gid = in->gid;
	st->st_blksize = 4096;
	if (S_ISCHR(in->mode) || S_ISBLK(in->mode))
		st->st_rdev = (dev_t)in->memfd_ino;
	if (S_ISDIR(in->mode)) {
		/* what tmpfs reports: a bogus 20 bytes per entry with . and .. */
		st->st_size = (off_t)(in->nentries + 2) * NS_BOGO_DIRENT;
	} else if (S_ISLNK(in->mode)) {
		st->st_size = (off_t)LD(&in->size);
		st->st_blocks = (blkcnt_t)in->nblocks * MS_BLOCK / 512;
	} else {
		st->st_size = (off_t)LD(&in->size);
		st->st_blocks = (blkcnt_t)(LD(&in->charged) / 512);
	}
	st->st_atim = ts_of(LD(&in->atime_ns));
	st->st_mtim = ts_of(LD(&in->mtime_ns));
	st->st_ctim = ts_of(LD(&in->ctime_ns));
}

int ms_stat(ms_store *s, ms_ino dir, const char *path, int flags, struct stat *st)
{
	struct walk w;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, flags);
	if (r == 0)
		fill_stat(s, w.ino, st);
	ms_ns_unlock(s);
	return r;
}

int ms_stat_ino(ms_store *s, ms_ino ino, struct stat *st)
{
	int r = 0;
	ms_ns_lock(s);
	if (!live(s, ino))
		r = -ENOENT;
	else
		fill_stat(s, ino, st);
	ms_ns_unlock(s);
	return r;
}

/* MS_NOFOLLOW on a symlink: EOPNOTSUPP, as fchmodat(AT_SYMLINK_NOFOLLOW). */
int ms_chmod(ms_store *s, ms_ino dir, const char *path, int flags, mode_t mode)
{
	struct walk w;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, flags);
	if (r)
		goto out;
	struct ms_inode *in = IN(s, w.ino);
	if (S_ISLNK(in->mode)) {
		r = -EOPNOTSUPP;
		goto out;
	}
	mode &= 07777;
	r = ms_perm_chmod(w.cr, in, &mode);
	if (r == 0)
		r = ms_lower_copy_up(s, w.ino);
	if (r)
		goto out;
	in->mode = (in->mode & S_IFMT) | mode;
	if (ms_is_special(in->mode) && !ms_lower_backed(in))
		ms_special_sync(s, in);
	touch_c(in);
	bump_ops(s);
	ms_notify_node(s, w.ino, DN_ATTRIB);
out:
	ms_ns_unlock(s);
	return r;
}

/* (uid_t)-1 / (gid_t)-1 leave that id. As the kernel, any chown of a
 * non-directory clears set-user-ID, and set-group-ID when group-executable
 * (or when the caller could not set it); EPERM as setattr_prepare says. */
int ms_chown(ms_store *s, ms_ino dir, const char *path, int flags, uid_t uid, gid_t gid)
{
	struct walk w;
	uint32_t mode;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, flags);
	if (r)
		goto out;
	struct ms_inode *in = IN(s, w.ino);
	r = ms_perm_chown(w.cr, in, uid, gid, &mode);
	if (r == 0)
		r = ms_lower_copy_up(s, w.ino);
	if (r)
		goto out;
	if (uid != (uid_t)-1)
		in->uid = uid;
	if (gid != (gid_t)-1)
		in->gid = gid;
	in->mode = mode;
	if (ms_is_special(in->mode) && !ms_lower_backed(in))
		ms_special_sync(s, in);
	touch_c(in);
	bump_ops(s);
	ms_notify_node(s, w.ino, DN_ATTRIB);
out:
	ms_ns_unlock(s);
	return r;
}

static int ts_valid(long ns)
{
	return ns == UTIME_NOW || ns == UTIME_OMIT || (ns >= 0 && ns < 1000000000);
}

static void set_time(int64_t *field, const struct timespec *t, int64_t now)
{
	if (t->tv_nsec == UTIME_OMIT)
		return;
	ST(field, t->tv_nsec == UTIME_NOW ? now : (int64_t)t->tv_sec * 1000000000 + t->tv_nsec);
}

/* Both UTIME_OMIT: 0 without looking at the path, as utimensat. An invalid
 * tv_nsec: EINVAL after the lookup. */
int ms_utimens(ms_store *s, ms_ino dir, const char *path, int flags, const struct timespec t[2])
{
	static const struct timespec now2[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct walk w;
	if (t && t[0].tv_nsec == UTIME_OMIT && t[1].tv_nsec == UTIME_OMIT)
		return 0;
	if (!t)
		t = now2;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, flags);
	if (r)
		goto out;
	if (!ts_valid(t[0].tv_nsec) || !ts_valid(t[1].tv_nsec)) {
		r = -EINVAL;
		goto out;
	}
	struct ms_inode *in = IN(s, w.ino);
	/* both now: the owner or a writer; any explicit time: the owner */
	r = ms_perm_utimes(w.cr, in, t[0].tv_nsec == UTIME_NOW && t[1].tv_nsec == UTIME_NOW);
	if (r == 0)
		r = ms_lower_copy_up(s, w.ino);
	if (r)
		goto out;
	int64_t now = ms_now_ns();
	set_time(&in->atime_ns, &t[0], now);
	set_time(&in->mtime_ns, &t[1], now);
	ST(&in->ctime_ns, now);
	bump_ops(s);
	/* both times: an attribute change; one of them: access or modify */
	ms_notify_node(s, w.ino, t[1].tv_nsec == UTIME_OMIT ? DN_ACCESS : t[0].tv_nsec == UTIME_OMIT ? DN_MODIFY : DN_ATTRIB);
out:
	ms_ns_unlock(s);
	return r;
}

/* Errors: EINVAL (len < 0, not a regular file), EISDIR, the lookup's, and
 * ms_data_truncate's (quota errno, EFBIG). */
int ms_truncate(ms_store *s, ms_ino dir, const char *path, off_t len)
{
	struct walk w;
	if (len < 0)
		return -EINVAL;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, 0);
	if (r)
		goto out;
	struct ms_inode *in = IN(s, w.ino);
	if (S_ISDIR(in->mode)) {
		r = -EISDIR;
		goto out;
	}
	if (!S_ISREG(in->mode)) {
		r = -EINVAL;
		goto out;
	}
	r = ms_perm(w.cr, in, MS_MAY_WRITE);
	if (r == 0)
		r = ms_lower_copy_up(s, w.ino);
	if (r)
		goto out;
	r = ms_data_truncate(s, in, (uint64_t)len, 1);
	if (r == 0) {
		ms_perm_kill_priv(w.cr, in);
		bump_ops(s);
		ms_notify_node(s, w.ino, DN_MODIFY);
	}
out:
	ms_ns_unlock(s);
	return r;
}

/* Copies at most n bytes of the target; EINVAL for n == 0 or a non-link. */
ssize_t ms_readlink(ms_store *s, ms_ino dir, const char *path, char *buf, size_t n)
{
	struct walk w;
	ssize_t r;
	if (n == 0)
		return -EINVAL;
	ms_ns_lock(s);
	/* "" names dir itself (readlinkat of an O_PATH fd on a symlink);
	 * anything else there is ENOENT, not EINVAL (do_readlinkat) */
	r = resolve(&w, s, dir, path, MS_NOFOLLOW | MS_EMPTY);
	if (r)
		goto out;
	struct ms_inode *in = IN(s, w.ino);
	if (!S_ISLNK(in->mode)) {
		r = path[0] ? -EINVAL : -ENOENT;
		goto out;
	}
	size_t len = LD(&in->size);
	if (len > n)
		len = n;
	link_read(s, in, buf, len);
	r = (ssize_t)len;
out:
	ms_ns_unlock(s);
	return r;
}

/* ---- lookups ------------------------------------------------------------------------ */

/* No reference is taken. */
int ms_lookup(ms_store *s, ms_ino dir, const char *path, int flags, ms_ino *out)
{
	struct walk w;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, flags);
	if (r == 0)
		*out = w.ino;
	ms_ns_unlock(s);
	return r;
}

int ms_resolve_locked(struct ms_store *s, uint32_t dir, const char *path, int flags,
		      uint32_t *out)
{
	struct walk w;
	int r = resolve(&w, s, dir, path, flags);
	if (r == 0)
		*out = w.ino;
	return r;
}

/* Follows a final symlink; ENOTDIR for a non-directory; takes a reference. */
int ms_lookup_dir(ms_store *s, ms_ino dir, const char *path, ms_ino *out)
{
	struct walk w;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, 0);
	if (r)
		goto out;
	if (!is_dir(s, w.ino)) {
		r = -ENOTDIR;
		goto out;
	}
	ms_ref_take(s, w.ino);
	*out = w.ino;
out:
	ms_ns_unlock(s);
	return r;
}

/* access(2): the walk and the check with the real ids unless MS_EACCESS. */
int ms_access(ms_store *s, ms_ino dir, const char *path, int flags, int mode)
{
	struct walk w;
	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path,
			(flags & (MS_NOFOLLOW | MS_EMPTY)) | (flags & MS_EACCESS ? 0 : NS_REAL_IDS));
	if (r == 0)
		r = ms_perm(w.cr, IN(s, w.ino), mode);
	ms_ns_unlock(s);
	return r;
}

int ms_may(ms_store *s, ms_ino ino, int mask)
{
	ms_ns_lock(s);
	struct ms_inode *in = live(s, ino);
	int r = in ? ms_perm(ms_cred_fs(s), in, mask) : -ENOENT;
	ms_ns_unlock(s);
	return r;
}

/* Returns 0 with the path in buf; ERANGE when n is too small, ENOENT for a
 * removed directory, ENOTDIR for a non-directory. */
int ms_dir_path(ms_store *s, ms_ino dir, char *buf, size_t n)
{
	ms_ns_lock(s);
	int r = live_dir(s, dir, NULL);
	if (r == 0)
		r = dir_path(s, dir, buf, n);
	ms_ns_unlock(s);
	return r < 0 ? r : 0;
}

/* ---- open ---------------------------------------------------------------------------- */

/* O_TMPFILE: an unnamed regular file in directory path, an orphan from the
 * start; without O_EXCL, linkat may give it a name (MS_I_LINKABLE). */
static int open_tmpfile(ms_store *s, ms_ino dir, const char *path, int oflags, mode_t mode,
			int *fd, ms_ino *ino)
{
	struct walk w;
	uint32_t i;
	int acc = oflags & O_ACCMODE;
	if (acc != O_WRONLY && acc != O_RDWR)
		return -EINVAL;
	ms_ns_lock(s);
	int r = resolve(&w, s, dir, path, 0);
	if (r)
		goto out;
	struct ms_inode *d = IN(s, w.ino);
	if (!S_ISDIR(d->mode)) {
		r = -ENOTDIR;
		goto out;
	}
	r = ms_perm_create(w.cr, d); /* vfs_tmpfile */
	if (r)
		goto out;
	if (d->nlink == 0) {
		r = -ENOENT;
		goto out;
	}
	r = ms_inode_new(s, ms_perm_create_mode(w.cr, d, S_IFREG | (mode & 07777)), &i);
	if (r)
		goto out;
	struct ms_inode *in = IN(s, i);
	in->nlink = 0;
	if (!(oflags & O_EXCL))
		in->flags |= MS_I_LINKABLE;
	ms_perm_init_owner(w.cr, d, in);
	r = ms_data_open(s, in, oflags & ~O_TRUNC); /* new: nothing to cut */
	if (r < 0) {
		ms_inode_unlinked(s, i);
		goto out;
	}
	*fd = r;
	r = 0;
	ms_ref_take(s, i);
	ms_inode_unlinked(s, i); /* opens > 0: becomes an orphan */
	*ino = i;
out:
	ms_ns_unlock(s);
	return r;
}

/* The checks and the open that follow the lookup of open(2), for node i
 * found in directory dir (0: reached through /proc/self/fd), or just created
 * there under dent `made`, which a failure takes back: EISDIR (O_CREAT on a
 * directory), EACCES (O_CREAT of another's file in a sticky directory),
 * ENOTDIR (O_DIRECTORY), ELOOP (a symlink), EISDIR (writing on a directory,
 * O_TRUNC of one), EACCES / EPERM (may_open), then the file's fd and
 * O_TRUNC. Called with the namespace lock held. */
static int open_node(struct ms_store *s, const struct ms_cred *cr, uint32_t dir, uint32_t i,
		     int oflags, int created, uint32_t made, int *fd, ms_ino *ino)
{
	struct ms_inode *in = IN(s, i);
	int acc = oflags & O_ACCMODE, creat = oflags & O_CREAT;
	int r;
	if (creat && S_ISDIR(in->mode))
		return -EISDIR;
	if (creat && !created && dir) {
		r = ms_perm_create_in_sticky(cr, IN(s, dir), in);
		if (r)
			return r;
	}
	if ((oflags & O_DIRECTORY) && !S_ISDIR(in->mode))
		return -ENOTDIR;
	if (S_ISLNK(in->mode) && !(oflags & O_PATH))
		return -ELOOP; /* O_PATH|O_NOFOLLOW: an fd on the link itself */
	if (S_ISDIR(in->mode) && !(oflags & O_PATH) && (acc != O_RDONLY || (oflags & O_TRUNC)))
		return -EISDIR;
	r = ms_perm_open(cr, in, oflags, created);
	if (r)
		return r;
	if (ms_lower_backed(in)) {
		/* reads go to the real file; the first write copies it up */
		if (!S_ISREG(in->mode) || (oflags & O_PATH) ||
		    (acc == O_RDONLY && !(oflags & O_TRUNC))) {
			r = ms_lower_open(s, i, oflags);
			if (r < 0)
				return r;
			*fd = r;
			open_lower = 1;
			ms_ref_take(s, i);
			*ino = i;
			return 0;
		}
		r = ms_lower_copy_up(s, i);
		if (r)
			return r;
	}
	if (ms_is_special(in->mode))
		return ms_special_open(s, in); /* the shim opens the counterpart */
	if (S_ISDIR(in->mode) || S_ISLNK(in->mode)) {
		*fd = -1;
	} else {
		/* O_TRUNC of a file that was there: by the open itself when
		 * the caller's fd can write (a failed open truncates
		 * nothing, as the kernel's), else after it through a new one */
		int trunc = (oflags & O_TRUNC) && !created;
		int (*lend)(ms_ino, uint64_t, int) = ms_lend_hook;
		r = -1;
		if (lend && !trunc && !created && !(in->flags & MS_I_MAPPED))
			r = lend(i, in->ino_no, oflags);
		if (r < 0)
			r = trunc && acc != O_RDONLY ? ms_data_open_trunc(s, in, oflags)
						     : ms_data_open(s, in, oflags & ~O_TRUNC);
		if (r < 0) {
			if (created)
				uncreate(s, made, i);
			return r;
		}
		*fd = r;
		if (trunc) {
			r = acc != O_RDONLY ? 0 : ms_data_truncate(s, in, 0, 0);
			if (r) {
				sys_close(*fd);
				return r;
			}
			ms_perm_kill_priv(cr, in);
			ms_notify_node(s, i, DN_MODIFY);
		}
	}
	ms_ref_take(s, i);
	*ino = i;
	if (created)
		bump_ops(s);
	return 0;
}

/* Errors, in the kernel's order: EINVAL (O_CREAT|O_DIRECTORY), the walk's
 * (EACCES: a directory not searchable), EISDIR (O_CREAT with a trailing
 * slash or on a directory, a directory opened for writing or O_TRUNC),
 * EEXIST (O_EXCL), ENOENT, EACCES (creating in a directory not writable),
 * ENOTDIR (O_DIRECTORY), ELOOP (O_NOFOLLOW on a symlink), EACCES / EPERM
 * (the file's permission), node/quota errors on create, ms_data_open's
 * (EMFILE...). */
int ms_open(ms_store *s, ms_ino dir, const char *path, int oflags, mode_t mode, int *fd,
	    ms_ino *ino)
{
	struct walk w;
	uint32_t i = 0;
	int created = 0, r;
	open_created = open_lower = 0;
	oflags = ms_open_flags(oflags);
	int creat = oflags & O_CREAT, excl = creat && (oflags & O_EXCL);
	/* O_EXCL never follows a final symlink (EEXIST even when dangling) */
	int follow = !(oflags & O_NOFOLLOW) && !excl;

	if ((oflags & O_TMPFILE) == O_TMPFILE)
		return open_tmpfile(s, dir, path, oflags, mode, fd, ino);
	if (creat && (oflags & O_DIRECTORY))
		return -EINVAL;
	ms_ns_lock(s);
	r = walk_path(&w, s, dir, path);
	if (r)
		goto out;
	if (!creat) {
		r = resolve_last(&w, follow);
		if (r)
			goto out;
		if (!w.ino) {
			r = -ENOENT;
			goto out;
		}
		if (w.slash && !is_dir(s, w.ino)) {
			r = -ENOTDIR;
			goto out;
		}
		i = w.ino;
	} else {
		/* The kernel's create loop: each final symlink followed sends
		 * its target through the same checks. */
		for (;;) {
			if (w.type != LAST_NORM) {
				/* always a directory */
				r = excl ? -EEXIST : -EISDIR;
				goto out;
			}
			if (w.slash) {
				r = -EISDIR;
				goto out;
			}
			r = lookup_last(&w);
			if (r)
				goto out;
			if (!w.ino) {
				r = create_node(&w, S_IFREG | (mode & 07777), &i);
				if (r)
					goto out;
				created = 1;
				break;
			}
			if (excl) {
				r = -EEXIST;
				goto out;
			}
			struct ms_inode *in = IN(s, w.ino);
			if (!S_ISLNK(in->mode) || !follow) {
				i = w.ino;
				break;
			}
			r = ms_perm_follow(w.cr, IN(s, w.dir), in);
			if (r == 0)
				r = push_link(&w, in, (char *)w.last + w.len);
			if (r == 0)
				r = walk_parent(&w);
			if (r)
				goto out;
		}
	}

	r = open_node(s, w.cr, w.dir, i, oflags, created, w.dent, fd, ino);
	open_created = created && r == 0;
	if (open_created)
		ms_notify_event(s, w.dir, DN_CREATE);
out:
	ms_ns_unlock(s);
	return r;
}

/* open(2) of /proc/self/fd/N where N is a store fd: the magic link names
 * the node itself, which the open then checks as any other (O_EXCL:
 * EEXIST; O_NOFOLLOW: ELOOP, the link being a symlink). */
int ms_reopen(ms_store *s, ms_ino ino, int oflags, int *fd)
{
	ms_ino out;
	oflags = ms_open_flags(oflags);
	if ((oflags & O_TMPFILE) == O_TMPFILE)
		return -EISDIR;
	if ((oflags & O_CREAT) && (oflags & O_DIRECTORY))
		return -EINVAL;
	if ((oflags & O_CREAT) && (oflags & O_EXCL))
		return -EEXIST;
	if (oflags & O_NOFOLLOW)
		return -ELOOP;
	open_lower = 0;
	ms_ns_lock(s);
	int r = live(s, (uint32_t)ino)
			? open_node(s, ms_cred_fs(s), 0, (uint32_t)ino, oflags, 0, 0, fd, &out)
			: -ENOENT;
	ms_ns_unlock(s);
	return r;
}

/* ---- create and remove --------------------------------------------------------------- */

/* The checks of the kernel's filename_create: the last component must be a
 * plain name (EEXIST), absent (EEXIST), and without a trailing slash unless
 * the caller makes a directory (ENOENT). */
static int may_create(struct walk *w, int is_mkdir)
{
	/* ".", ".." and "/" always name a directory: EEXIST, with no need to
	 * look at it (nor to escape when it is a skeleton directory). */
	if (w->type != LAST_NORM)
		return -EEXIST;
	int r = lookup_last(w);
	if (r)
		return r;
	if (w->ino)
		return -EEXIST;
	if (w->slash && !is_mkdir)
		return -ENOENT;
	return 0;
}

int ms_mkdir(ms_store *s, ms_ino dir, const char *path, mode_t mode)
{
	struct walk w;
	uint32_t i;
	ms_ns_lock(s);
	int r = walk_path(&w, s, dir, path);
	if (r == 0)
		r = may_create(&w, 1);
	if (r == 0)
		r = create_node(&w, S_IFDIR | (mode & 01777), &i);
	if (r == 0) {
		bump_ops(s);
		ms_notify_event(s, w.dir, DN_CREATE);
	}
	ms_ns_unlock(s);
	return r;
}

/* A special node and its counterpart (core/special.c): the counterpart is
 * made last, so the kernel's refusal (EPERM for a device without
 * CAP_MKNOD, EINVAL for a socket already bound) comes after the lookup's
 * errors and takes the node back, as mknod(2) and bind(2) do. */
int ms_mknod(ms_store *s, ms_ino dir, const char *path, mode_t mode, dev_t rdev, int sockfd)
{
	struct walk w;
	uint32_t i;
	if (!ms_is_special(mode & S_IFMT) || (sockfd >= 0 && !S_ISSOCK(mode)))
		return -EINVAL;
	ms_ns_lock(s);
	int r = walk_path(&w, s, dir, path);
	if (r == 0)
		r = may_create(&w, 0);
	if (r == 0)
		r = create_node(&w, (mode & S_IFMT) | (mode & 07777), &i);
	if (r)
		goto out;
	struct ms_inode *in = IN(s, i);
	if (S_ISCHR(mode) || S_ISBLK(mode))
		in->memfd_ino = (uint64_t)rdev;
	r = ms_special_make(s, in, sockfd);
	if (r) {
		uncreate(s, w.dent, i);
		goto out;
	}
	bump_ops(s);
	ms_notify_event(s, w.dir, DN_CREATE);
out:
	ms_ns_unlock(s);
	return r;
}

/* Errors: ENOENT for an empty target, ENAMETOOLONG for a target of PATH_MAX
 * or more, then those of the name. The target is charged in MS_BLOCK blocks
 * besides the node. */
int ms_symlink(ms_store *s, const char *target, ms_ino dir, const char *path)
{
	struct walk w;
	uint32_t i, e;
	size_t tl = strnlen(target, PATH_MAX);
	if (tl == 0)
		return -ENOENT;
	if (tl >= PATH_MAX)
		return -ENAMETOOLONG;
	ms_ns_lock(s);
	int r = walk_path(&w, s, dir, path);
	if (r == 0)
		r = may_create(&w, 0);
	if (r == 0)
		r = ms_perm_create(w.cr, IN(s, w.dir));
	if (r)
		goto out;
	r = ms_inode_new(s, S_IFLNK | 0777, &i);
	if (r) {
		name_refusal(&w);
		goto out;
	}
	struct ms_inode *in = IN(s, i);
	r = ms_symlink_store(s, in, target, tl);
	if (r) {
		name_refusal(&w);
		ms_inode_unlinked(s, i);
		goto out;
	}
	e = ms_dent_alloc(s);
	if (!e) {
		ms_inode_unlinked(s, i);
		r = -ENOSPC;
		goto out;
	}
	ms_perm_init_owner(w.cr, IN(s, w.dir), in);
	attach(s, e, w.dir, w.last, w.len, i);
	bump_ops(s);
	ms_notify_event(s, w.dir, DN_CREATE);
out:
	ms_ns_unlock(s);
	return r;
}

/* Errors: after the new name's EEXIST/ENOENT, EPERM (protected_hardlinks),
 * EACCES (the new directory), EPERM for a directory, ENOENT for an orphan,
 * ENOSPC/quota errno for the extra node. */
int ms_link(ms_store *s, ms_ino odir, const char *opath, ms_ino ndir, const char *npath,
	    int flags)
{
	struct walk ow, nw;
	uint32_t e;
	ms_ns_lock(s);
	int r = resolve(&ow, s, odir, opath, flags);
	if (r)
		goto out;
	r = walk_path(&nw, s, ndir, npath);
	if (r == 0)
		r = may_create(&nw, 0);
	if (r)
		goto out;
	struct ms_inode *in = IN(s, ow.ino);
	r = ms_perm_link(nw.cr, in);
	if (r == 0)
		r = ms_perm_create(nw.cr, IN(s, nw.dir));
	if (r)
		goto out;
	if (S_ISDIR(in->mode)) {
		r = -EPERM;
		goto out;
	}
	if (in->nlink == 0 && !(in->flags & MS_I_LINKABLE)) {
		r = -ENOENT; /* unlinked, or O_TMPFILE|O_EXCL */
		goto out;
	}
	/* a lower file gets a second name only as a store file; a lower
	 * FIFO, socket or device, never (it is not copied up) */
	r = ms_lower_copy_up(s, ow.ino);
	if (r == 0 && ms_lower_backed(in))
		r = -EXDEV;
	if (r)
		goto out;
	r = ms_reserve_node(s, MS_NODE_COST); /* a link: an entry, no memfd */
	if (r) {
		name_refusal(&nw);
		goto out;
	}
	e = ms_dent_alloc(s);
	if (!e) {
		ms_release_node(s, MS_NODE_COST);
		r = -ENOSPC;
		goto out;
	}
	attach(s, e, nw.dir, nw.last, nw.len, ow.ino);
	if (in->nlink++ == 0)
		ms_inode_relinked(s, ow.ino);
	touch_c(in);
	bump_ops(s);
	ms_notify_event(s, nw.dir, DN_CREATE);
out:
	ms_ns_unlock(s);
	return r;
}

int ms_unlink(ms_store *s, ms_ino dir, const char *path)
{
	struct walk w;
	ms_ns_lock(s);
	int r = walk_path(&w, s, dir, path);
	if (r)
		goto out;
	if (w.type != LAST_NORM) {
		r = -EISDIR;
		goto out;
	}
	r = lookup_last(&w);
	if (r)
		goto out;
	if (!w.ino) {
		r = -ENOENT;
		goto out;
	}
	if (w.slash) {
		/* even a symlink to a directory is ENOTDIR */
		r = is_dir(s, w.ino) ? -EISDIR : -ENOTDIR;
		goto out;
	}
	r = ms_perm_delete(w.cr, IN(s, w.dir), IN(s, w.ino), 0); /* EACCES, EPERM, EISDIR */
	if (r == 0)
		r = ms_lower_fill(s, w.dir); /* so that the name stays gone */
	if (r)
		goto out;
	detach(s, w.dent);
	ms_dent_free(s, w.dent);
	drop_name(s, w.ino);
	bump_ops(s);
	ms_notify_event(s, w.dir, DN_DELETE);
out:
	ms_ns_unlock(s);
	return r;
}

/* Errors: EINVAL ("."), ENOTEMPTY (".."), EBUSY ("/"), ENOENT, EACCES,
 * EPERM (sticky), ENOTDIR (also a symlink to a directory), EBUSY (a
 * prefix), ENOTEMPTY. */
int ms_rmdir(ms_store *s, ms_ino dir, const char *path)
{
	struct walk w;
	ms_ns_lock(s);
	int r = walk_path(&w, s, dir, path);
	if (r)
		goto out;
	switch (w.type) {
	case LAST_DOT:
		r = -EINVAL;
		goto out;
	case LAST_DOTDOT:
		r = -ENOTEMPTY;
		goto out;
	case LAST_ROOT:
		r = -EBUSY;
		goto out;
	}
	r = lookup_last(&w);
	if (r)
		goto out;
	if (!w.ino) {
		r = -ENOENT;
		goto out;
	}
	struct ms_inode *in = IN(s, w.ino);
	r = ms_perm_delete(w.cr, IN(s, w.dir), in, 1);
	if (r)
		goto out;
	if (in->flags & MS_I_PREFIX) {
		r = -EBUSY;
		goto out;
	}
	r = ms_lower_fill(s, w.ino); /* empty below too */
	if (r == 0)
		r = ms_lower_fill(s, w.dir);
	if (r)
		goto out;
	if (in->nentries) {
		r = -ENOTEMPTY;
		goto out;
	}
	detach(s, w.dent);
	ms_dent_free(s, w.dent);
	drop_name(s, w.ino);
	bump_ops(s);
	ms_notify_event(s, w.dir, DN_DELETE);
out:
	ms_ns_unlock(s);
	return r;
}

/* ---- rename ---------------------------------------------------------------------------- */

/* 1 when directory a is b or an ancestor of b. */
static int is_ancestor(struct ms_store *s, uint32_t a, uint32_t b)
{
	uint32_t root = s->hdr->root;
	for (uint32_t n = 0; n <= s->hdr->nslots; n++) {
		if (b == a)
			return 1;
		if (b == root || !b)
			return 0;
		b = IN(s, b)->parent;
	}
	return 0;
}

/* The checks of the kernel's do_renameat2 and vfs_rename, in their order:
 * EINVAL (flags), walk errors (old, then new), EBUSY ("." / ".."; EEXIST
 * with NOREPLACE for the new name), ENOENT (old missing), EEXIST
 * (NOREPLACE), ENOENT/ENOTDIR (EXCHANGE), ENOTDIR (trailing slash on a
 * non-directory), EINVAL (old is an ancestor of new), ENOTEMPTY / EINVAL (new
 * is an ancestor of old), 0 (both names one inode), EACCES / EPERM (old
 * name), EACCES / EPERM / ENOTDIR / EISDIR (new name), EACCES (a directory
 * moved to another parent), ENOTEMPTY. A prefix directory as either name:
 * EBUSY, right after the lookups. */
int ms_rename(ms_store *s, ms_ino odir, const char *opath, ms_ino ndir, const char *npath,
	      unsigned flags)
{
	struct walk ow, nw;
	int r, exch = !!(flags & RENAME_EXCHANGE);
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && exch)
		return -EINVAL;
	ms_ns_lock(s);
	r = walk_path(&ow, s, odir, opath);
	if (r == 0)
		r = walk_path(&nw, s, ndir, npath);
	if (r)
		goto out;
	if (ow.type != LAST_NORM) {
		r = -EBUSY;
		goto out;
	}
	if (nw.type != LAST_NORM) {
		r = (flags & RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
		goto out;
	}
	r = lookup_last(&ow);
	if (r)
		goto out;
	if (!ow.ino) {
		r = -ENOENT;
		goto out;
	}
	r = lookup_last(&nw);
	if (r)
		goto out;
	uint32_t oi = ow.ino, ni = nw.ino, od = ow.dir, nd = nw.dir;
	int odir_is = is_dir(s, oi), ndir_is = ni && is_dir(s, ni);
	/* A prefix is a mount point of its own for the kernel, where any rename
	 * naming it fails (EBUSY, or EXDEV from inside); say EBUSY first. */
	if ((IN(s, oi)->flags & MS_I_PREFIX) || (ni && (IN(s, ni)->flags & MS_I_PREFIX))) {
		r = -EBUSY;
		goto out;
	}
	if ((flags & RENAME_NOREPLACE) && ni) {
		r = -EEXIST;
		goto out;
	}
	if (exch) {
		if (!ni) {
			r = -ENOENT;
			goto out;
		}
		if (!ndir_is && nw.slash) {
			r = -ENOTDIR;
			goto out;
		}
	}
	if (!odir_is && (ow.slash || (!exch && nw.slash))) {
		r = -ENOTDIR;
		goto out;
	}
	if (odir_is && is_ancestor(s, oi, nd)) {
		r = -EINVAL;
		goto out;
	}
	if (ndir_is && is_ancestor(s, ni, od)) {
		r = exch ? -EINVAL : -ENOTEMPTY;
		goto out;
	}
	if (oi == ni) {
		r = 0; /* two names of one inode: nothing to do */
		goto out;
	}
	/* vfs_rename: the old name may go; the new one may be made, or the
	 * entry it names may go (ENOTDIR / EISDIR when the types differ); a
	 * directory that changes parent must be writable (its ".." changes) */
	const struct ms_cred *cr = ow.cr;
	r = ms_perm_delete(cr, IN(s, od), IN(s, oi), odir_is);
	if (r == 0)
		r = ni ? ms_perm_delete(cr, IN(s, nd), IN(s, ni), exch ? ndir_is : odir_is)
		       : ms_perm_create(cr, IN(s, nd));
	if (r == 0 && od != nd && odir_is)
		r = ms_perm(cr, IN(s, oi), MS_MAY_WRITE);
	if (r == 0 && od != nd && exch && ndir_is)
		r = ms_perm(cr, IN(s, ni), MS_MAY_WRITE);
	if (r)
		goto out;
	/* MEMSHIM_LOWER: a lower directory stays where the real one is, as
	 * overlayfs without redirect_dir (EXDEV: mv copies instead); a lower
	 * file moves as a store file; the names that go stay gone */
	if ((odir_is && (IN(s, oi)->flags & MS_I_LOWER)) ||
	    (exch && ndir_is && (IN(s, ni)->flags & MS_I_LOWER)))
		r = -EXDEV;
	if (r == 0 && ndir_is && !exch)
		r = ms_lower_fill(s, ni);
	if (r == 0 && !exch)
		r = ms_lower_fill(s, od);
	if (r == 0)
		r = ms_lower_copy_up(s, oi);
	if (r == 0 && exch)
		r = ms_lower_copy_up(s, ni);
	if (r == 0 && (ms_lower_backed(IN(s, oi)) || (exch && ms_lower_backed(IN(s, ni)))))
		r = -EXDEV;
	if (r)
		goto out;
	/* a lower symlink moved is the run's own */
	IN(s, oi)->flags &= S_ISLNK(IN(s, oi)->mode) ? ~(uint32_t)MS_I_LOWER : ~0u;
	if (exch)
		IN(s, ni)->flags &= S_ISLNK(IN(s, ni)->mode) ? ~(uint32_t)MS_I_LOWER : ~0u;
	if (ndir_is && !exch && IN(s, ni)->nentries) {
		r = -ENOTEMPTY;
		goto out;
	}

	/* What the repair needs to finish this rename if this process dies
	 * before the last change below: the entries' changes are several
	 * stores (a name rewritten in place, two inodes swapped), and a kill
	 * between them lost the file or left it under two names (test_arena
	 * killed_at_every_instruction_of_an_operation). */
	struct ms_hdr *h = s->hdr;
	h->rename_intent.exch = (uint32_t)exch;
	h->rename_intent.odent = ow.dent;
	h->rename_intent.ndent = ni ? nw.dent : 0;
	h->rename_intent.oi = oi;
	h->rename_intent.ni = ni;
	h->rename_intent.nd = nd;
	h->rename_intent.len = (uint32_t)nw.len;
	memcpy(h->rename_intent.name, nw.last, nw.len);
	h->rename_intent.name[nw.len] = 0;
	__atomic_store_n(&h->rename_intent.active, 1, __ATOMIC_RELEASE);
	if (exch) {
		/* The entries stay where they are; only what they name swaps. */
		ms_dent_name(s, ow.dent, ni);
		ms_dent_name(s, nw.dent, oi);
		if (odir_is) {
			IN(s, oi)->parent = nd;
			IN(s, oi)->dent = nw.dent;
		}
		if (ndir_is) {
			IN(s, ni)->parent = od;
			IN(s, ni)->dent = ow.dent;
		}
		if (od != nd && odir_is != ndir_is) {
			/* one subdirectory moved from one parent to the other */
			IN(s, odir_is ? od : nd)->nlink--;
			IN(s, odir_is ? nd : od)->nlink++;
		}
		touch_mc(IN(s, od));
		touch_mc(IN(s, nd));
		touch_c(IN(s, ni));
	} else {
		if (ni) {
			detach(s, nw.dent);
			ms_dent_free(s, nw.dent);
			drop_name(s, ni);
		}
		/* The old entry's slot moves to the new name with a fresh
		 * cookie, so it needs no allocation and cannot fail; a kill
		 * half-way is finished by the repair (rename_intent). */
		detach(s, ow.dent);
		attach(s, ow.dent, nd, nw.last, nw.len, oi);
	}
	__atomic_store_n(&h->rename_intent.active, 0, __ATOMIC_RELEASE);
	touch_c(IN(s, oi));
	bump_ops(s);
	/* fsnotify_move's events as dnotify maps them: a rename inside one
	 * directory (DN_RENAME), then moved-from (DN_DELETE) and moved-to
	 * (DN_CREATE) */
	if (od == nd)
		ms_notify_event(s, od, DN_RENAME);
	ms_notify_event(s, od, DN_DELETE);
	ms_notify_event(s, nd, DN_CREATE);
out:
	ms_ns_unlock(s);
	return r;
}

/* ---- readdir ---------------------------------------------------------------------------- */

/* Cookies: 1 after ".", 2 after "..", seq + 2 after an entry. Entries are
 * kept in cookie order (ms_dent_attach appends with ++next_seq), so the entry
 * after cookie c is the first with seq + 2 > c. This thread's last answer is
 * tried first: if it is still linked in dir with that cookie, the next one is
 * its successor (O(1) for a sequential read); otherwise the directory is
 * walked from its first entry, O(position) — only after a seek or when
 * reading two directories in turns. */
/* One entry after cookie, under ns_lock: 1, 0 at the end, or -errno. */
static int readdir_locked(ms_store *s, uint32_t dir, struct ms_inode *in, uint64_t cookie,
			  struct ms_dirent *e)
{
	if (cookie < 2) {
		uint32_t t = cookie == 0 || dir == s->hdr->root ? dir : in->parent;
		e->ino = IN(s, t)->ino_no;
		e->cookie = cookie + 1;
		e->type = DT_DIR;
		e->namelen = (uint16_t)(cookie + 1);
		strcpy(e->name, cookie == 0 ? "." : "..");
		return 1;
	}
	uint32_t d = 0, h = rd_hint.dent;
	if (rd_hint.hdr == s->hdr && h && h <= s->hdr->nslots &&
	    ms_dent_at(s, h)->parent == dir && ms_dent_at(s, h)->seq + 2 == cookie) {
		d = ms_dent_at(s, h)->next;
	} else {
		d = in->first;
		while (d && ms_dent_at(s, d)->seq + 2 <= cookie)
			d = ms_dent_at(s, d)->next;
	}
	if (!d)
		return 0;
	struct ms_dent *de = ms_dent_at(s, d);
	e->ino = IN(s, de->ino)->ino_no;
	e->cookie = de->seq + 2;
	e->type = de->type;
	e->namelen = de->namelen;
	memcpy(e->name, de->name, (size_t)de->namelen + 1);
	rd_hint.hdr = s->hdr;
	rd_hint.dent = d;
	return 1;
}

int ms_readdir_n(ms_store *s, ms_ino dir, uint64_t cookie, struct ms_dirent *e, int n)
{
	struct ms_inode *in;
	ms_ns_lock(s);
	int r = live_dir(s, dir, &in);
	if (r == 0)
		r = ms_lower_fill(s, (uint32_t)dir); /* both layers, once */
	/* one lock for the batch: the per-entry lock was most of a readdir */
	while (r >= 0 && r < n) {
		int k = readdir_locked(s, (uint32_t)dir, in, r ? e[r - 1].cookie : cookie, &e[r]);
		if (k <= 0)
			break;
		r++;
	}
	ms_ns_unlock(s);
	return r;
}

int ms_readdir(ms_store *s, ms_ino dir, uint64_t cookie, struct ms_dirent *e)
{
	return ms_readdir_n(s, dir, cookie, e, 1);
}
