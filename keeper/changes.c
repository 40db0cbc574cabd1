/* keeper/changes.c — what a run changed in the real trees it lay over
 * (MEMSHIM_LOWER), for the report and for MEMSHIM_SAVE:
 * - created: a name of the store that the lower tree does not have;
 * - modified: a file, symlink or other node the store has its own copy of
 *   where the lower tree has one (copied up, replaced, or a directory put
 *   where a file was);
 * - deleted: a lower name that a store directory no longer has. Only a
 *   directory whose lower entries were all brought in (MS_I_FILLED), or one
 *   of the store's own over a lower directory, can have lost one (lower.c).
 * A directory of the store's own over a lower directory is listed through
 * its contents, as overlayfs's opaque directory is.
 *
 * The arena is read under ns_lock without bringing lower entries in; the
 * real tree is only looked at (lstat, getdents). The list is the caller's
 * to free (ms_changes_free): callers act on it after the lock is let go.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct walk {
	struct ms_store *s;
	struct ms_changes *out;
	int err;
	size_t sl, ll;         /* lengths of sp and lp */
	char sp[PATH_MAX];     /* store path */
	char lp[PATH_MAX];     /* real path below */
};

static void add(struct walk *w, int kind, uint32_t ino, uint32_t dir, uint32_t mode)
{
	struct ms_changes *c = w->out;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct ms_change *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			w->err = -ENOMEM;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	char *p = strndup(w->sp, w->sl);
	if (!p) {
		w->err = -ENOMEM;
		return;
	}
	c->v[c->n++] = (struct ms_change){ .kind = kind, .ino = ino, .dir = dir, .mode = mode, .path = p };
	c->count[kind == MS_CHANGE_CREATED ? 0 : kind == MS_CHANGE_MODIFIED ? 1 : 2]++;
}

/* Appends "/name" to both paths; 0, or -ENAMETOOLONG with nothing changed. */
static int push(struct walk *w, const char *name, size_t len)
{
	if (w->sl + 1 + len >= sizeof(w->sp) || w->ll + 1 + len >= sizeof(w->lp))
		return -ENAMETOOLONG;
	w->sp[w->sl++] = '/';
	memcpy(w->sp + w->sl, name, len);
	w->sl += len;
	w->sp[w->sl] = 0;
	w->lp[w->ll++] = '/';
	memcpy(w->lp + w->ll, name, len);
	w->ll += len;
	w->lp[w->ll] = 0;
	return 0;
}

static void pop(struct walk *w, size_t sl, size_t ll)
{
	w->sl = sl;
	w->sp[sl] = 0;
	w->ll = ll;
	w->lp[ll] = 0;
}

/* The lower names of directory dir (whose real path is w->lp) that it lost. */
static void deleted(struct walk *w, uint32_t dir)
{
	char buf[4096];
	int fd = sys_openat(AT_FDCWD, w->lp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t got = sys_getdents64(fd, buf, sizeof(buf));
		if (got <= 0)
			break;
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			off += de->d_reclen;
			size_t len = strlen(de->d_name);
			if (ms_is_dot(de->d_name) || len > MS_NAME_MAX ||
			    ms_dent_find(w->s, dir, de->d_name, len))
				continue;
			size_t sl = w->sl, ll = w->ll;
			if (push(w, de->d_name, len) == 0) {
				add(w, MS_CHANGE_DELETED, 0, dir, de->d_type == DT_DIR ? S_IFDIR : 0);
				pop(w, sl, ll);
			}
		}
	}
	sys_close(fd);
}

static void walk_dir(struct walk *w, uint32_t dir, int depth)
{
	struct ms_store *s = w->s;
	struct ms_inode *d = ms_inode_at(s, dir);
	struct stat lst;
	int lower_dir = sys_fstatat(AT_FDCWD, w->lp, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
			S_ISDIR(lst.st_mode);
	for (uint32_t e = d->first; e && !w->err; e = ms_dent_at(s, e)->next) {
		struct ms_dent *de = ms_dent_at(s, e);
		struct ms_inode *c = ms_inode_at(s, de->ino);
		size_t sl = w->sl, ll = w->ll;
		if (push(w, de->name, de->namelen)) {
			w->err = -ENAMETOOLONG;
			break;
		}
		int below = lower_dir && sys_fstatat(AT_FDCWD, w->lp, &lst, AT_SYMLINK_NOFOLLOW) == 0;
		if (S_ISDIR(c->mode)) {
			if (!(c->flags & MS_I_LOWER) && !(below && S_ISDIR(lst.st_mode)))
				add(w, below ? MS_CHANGE_MODIFIED : MS_CHANGE_CREATED, de->ino, dir, c->mode);
			if (depth < MS_PERSIST_DEPTH)
				walk_dir(w, de->ino, depth + 1);
		} else if (!(c->flags & MS_I_LOWER)) {
			add(w, below ? MS_CHANGE_MODIFIED : MS_CHANGE_CREATED, de->ino, dir, c->mode);
		}
		pop(w, sl, ll);
	}
	if (lower_dir && !w->err && (!(d->flags & MS_I_LOWER) || (d->flags & MS_I_FILLED)))
		deleted(w, dir);
}

int ms_changes_get(struct ms_store *s, struct ms_changes *out)
{
	struct ms_hdr *h = s->hdr;
	memset(out, 0, sizeof(*out));
	for (int k = 0; k < MS_LOWERS; k++) {
		uint32_t top = h->lower[k].ino;
		if (!top)
			continue;
		struct walk *w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->s = s;
		w->out = out;
		int n = ms_dir_path(s, top, w->sp, sizeof(w->sp));
		out->lower[out->nlower].prefix = strdup(w->sp);
		out->lower[out->nlower++].dir = h->lower[k].dir;
		w->sl = strlen(w->sp);
		w->ll = strnlen(h->lower[k].dir, MS_LOWER_DIR_MAX);
		memcpy(w->lp, h->lower[k].dir, w->ll + 1);
		if (n == 0) {
			ms_ns_lock(s);
			walk_dir(w, top, 0);
			ms_ns_unlock(s);
		}
		int err = n ? n : w->err;
		free(w);
		if (err)
			return err;
	}
	return 0;
}

void ms_changes_free(struct ms_changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	for (int k = 0; k < c->nlower; k++)
		free(c->lower[k].prefix);
	free(c->v);
	memset(c, 0, sizeof(*c));
}
