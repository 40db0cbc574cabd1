/* keeper/save.c — MEMSHIM_SAVE: the store written out to a real directory
 * when its tree ends.
 *
 * Runs in the keeper after its last process has gone: it reads the
 * namespace through the usual calls (no other process holds ns_lock then)
 * and file bytes from the memfds (its own fds, or its holders' through
 * /proc: inode->kfd), and writes
 * through raw system calls (sys.h), like the seed it mirrors
 * (core/persist.c, which also records the save directory at creation).
 * The walk is recursive, at most MS_PERSIST_DEPTH levels, with small
 * frames. Not kept: owners, hard links (each name gets its own copy),
 * extended attributes.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "server.h"

struct save {
	struct ms_store *s;
	const char *top;  /* the save directory */
	int err;          /* first error */
	size_t len;
	char path[PATH_MAX]; /* real path, for messages */
};

static void save_fail(struct save *sv, const char *what, int r)
{
	ms_log(sv->s, MS_LOG_ERROR, "MEMSHIM_SAVE=%s: %s: %s: %s", sv->top, sv->path, what,
	       ms_err_text(-r));
	if (!sv->err)
		sv->err = r;
}

static void save_dir(struct save *sv, int rfd, ms_ino dino, int depth);

/* Writes file ino's bytes into rfd/name, made or truncated. */
__attribute__((noinline)) static int save_file(struct save *sv, int rfd, const char *name, ms_ino ino, const struct stat *st)
{
	int out = sys_openat(rfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out == -ELOOP || out == -EACCES || out == -ETXTBSY) {
		/* a symlink, or a read-only file, in the way: replace it */
		if (sys_unlinkat(rfd, name, 0) == 0)
			out = sys_openat(rfd, name,
					 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (out < 0) {
		save_fail(sv, "cannot write the file", out);
		return out;
	}
	/* The keeper's own fd, or a holder's through /proc. */
	int32_t h = ms_inode_at(sv->s, ino)->kfd;
	int kfd = h >= 0 && ms_kfd_holder(h) ? ms_kfd_open(sv->s, h, O_RDONLY) : h, r = 0;
	struct stat kst;
	if (kfd < 0 || sys_fstat(kfd, &kst)) {
		r = -EIO;
		save_fail(sv, "the store's copy is gone", r);
		goto out;
	}
	/* the memfd's real size: bytes written past the ledger are there too */
	uint64_t size = (uint64_t)kst.st_size, done = 0;
	r = ms_copy_bytes(out, kfd, size, &done);
	if (r) {
		save_fail(sv, "cannot copy the bytes", r);
		goto out;
	}
	struct timespec t[2] = {st->st_atim, st->st_mtim};
	r = sys_fchmod(out, st->st_mode & 07777);
	if (r == 0)
		r = sys_utimensat(out, NULL, t, 0);
	if (r)
		save_fail(sv, "cannot set its mode and times", r);
out:
	if (kfd >= 0 && kfd != h)
		sys_close(kfd);
	sys_close(out);
	return r;
}

/* The store's symlink dino/name made as rfd/name, replacing what is there. */
__attribute__((noinline)) static void save_link(struct save *sv, int rfd, ms_ino dino,
						const char *name, const struct timespec t[2])
{
	char target[PATH_MAX];
	ssize_t n = ms_readlink(sv->s, dino, name, target, sizeof(target) - 1);
	if (n < 0) {
		save_fail(sv, "cannot read the symlink", (int)n);
		return;
	}
	target[n] = 0;
	int r = sys_symlinkat(target, rfd, name);
	if (r == -EEXIST && sys_unlinkat(rfd, name, 0) == 0)
		r = sys_symlinkat(target, rfd, name);
	if (r == 0)
		r = sys_utimensat(rfd, name, t, AT_SYMLINK_NOFOLLOW);
	if (r)
		save_fail(sv, "cannot make the symlink", r);
}

static void save_entry(struct save *sv, int rfd, ms_ino dino, const char *name, int depth)
{
	struct ms_store *s = sv->s;
	size_t old = sv->len;
	struct stat st;
	ms_ino ino;
	int r = ms_path_push(sv->path, &sv->len, name);
	if (r) {
		save_fail(sv, "a name below it is too long", r);
		goto out;
	}
	r = ms_lookup(s, dino, name, MS_NOFOLLOW, &ino);
	if (r == 0)
		r = ms_stat_ino(s, ino, &st);
	if (r) {
		save_fail(sv, "gone from the store while saving", r);
		goto out;
	}
	struct timespec t[2] = {st.st_atim, st.st_mtim};
	if (S_ISDIR(st.st_mode)) {
		if (depth >= MS_PERSIST_DEPTH) {
			save_fail(sv, "too deep", -ENAMETOOLONG);
			goto out;
		}
		r = sys_mkdirat(rfd, name, 0700);
		if (r && r != -EEXIST) {
			save_fail(sv, "cannot make the directory", r);
			goto out;
		}
		int sub = sys_openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (sub < 0) {
			/* ENOTDIR, ELOOP: something else by that name */
			save_fail(sv, "cannot open the directory (something else there?)", sub);
			goto out;
		}
		/* writable while it fills; its own mode and times come last */
		sys_fchmod(sub, 0700);
		save_dir(sv, sub, ino, depth + 1);
		r = sys_fchmod(sub, st.st_mode & 07777);
		if (r == 0)
			r = sys_utimensat(sub, NULL, t, 0);
		if (r)
			save_fail(sv, "cannot set its mode and times", r);
		sys_close(sub);
	} else if (S_ISREG(st.st_mode)) {
		save_file(sv, rfd, name, ino, &st);
	} else if (S_ISLNK(st.st_mode)) {
		save_link(sv, rfd, dino, name, t);
	}
out:
	sv->len = old;
	sv->path[old] = 0;
}

static void save_dir(struct save *sv, int rfd, ms_ino dino, int depth)
{
	struct ms_dirent e;
	uint64_t cookie = 0;
	for (;;) {
		int r = ms_readdir(sv->s, dino, cookie, &e);
		if (r < 0)
			save_fail(sv, "cannot list the store's directory", r);
		if (r <= 0)
			return;
		cookie = e.cookie;
		if (!ms_is_dot(e.name))
			save_entry(sv, rfd, dino, e.name, depth);
	}
}

/* MEMSHIM_LOWER: the changes under the saved prefix, each at its path
 * below the save directory; the deleted names in .memshim-deleted. */
static void save_changes(struct save *sv, int fd)
{
	struct ms_store *s = sv->s;
	struct ms_changes c;
	char top[PATH_MAX];
	size_t base = sv->len;
	int r = ms_changes_get(s, &c), del = -1;
	if (r)
		save_fail(sv, "cannot list the changes", r);
	if (ms_dir_path(s, s->hdr->save_root, top, sizeof(top)))
		goto out;
	size_t tl = strlen(top);
	for (size_t i = 0; i < c.n; i++) {
		const char *p = c.v[i].path;
		if (strncmp(p, top, tl) || p[tl] != '/')
			continue; /* another prefix's */
		const char *rel = p + tl + 1;
		const char *slash = strrchr(rel, '/'), *name = slash ? slash + 1 : rel;
		sv->len = base;
		sv->path[base] = 0;
		if (c.v[i].kind == MS_CHANGE_DELETED) {
			if (del < 0)
				del = sys_openat(fd, ".memshim-deleted",
						 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			char line[PATH_MAX + 2];
			int n = snprintf(line, sizeof(line), "%s%s\n", rel,
					 S_ISDIR(c.v[i].mode) ? "/" : "");
			if (del < 0 || sys_write(del, line, (size_t)n) != n)
				save_fail(sv, "cannot write .memshim-deleted", del < 0 ? del : -EIO);
			continue;
		}
		/* the directory the name goes in, made as needed */
		if (ms_path_push(sv->path, &sv->len, rel)) {
			save_fail(sv, "a name is too long", -ENAMETOOLONG);
			continue;
		}
		size_t plen = sv->len - strlen(name) - 1;
		sv->path[plen] = 0;
		r = ms_mkdir_p(s, sv->top, sv->path, plen);
		sv->path[plen] = '/';
		if (r) {
			save_fail(sv, "cannot make its directory", r);
			continue;
		}
		sv->path[plen] = 0;
		int pfd = sys_openat(AT_FDCWD, sv->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		sv->path[plen] = '/';
		if (pfd < 0) {
			save_fail(sv, "cannot open its directory", pfd);
			continue;
		}
		struct stat st;
		r = ms_stat_ino(s, c.v[i].ino, &st);
		if (r) {
			save_fail(sv, "gone from the store while saving", r);
		} else if (S_ISDIR(st.st_mode)) {
			r = sys_mkdirat(pfd, name, st.st_mode & 07777);
			if (r && r != -EEXIST)
				save_fail(sv, "cannot make the directory", r);
		} else if (S_ISREG(st.st_mode)) {
			save_file(sv, pfd, name, c.v[i].ino, &st);
		} else if (S_ISLNK(st.st_mode)) {
			struct timespec t[2] = {st.st_atim, st.st_mtim};
			save_link(sv, pfd, c.v[i].dir, name, t);
		}
		sys_close(pfd);
	}
out:
	sv->len = base;
	sv->path[base] = 0;
	if (del >= 0)
		sys_close(del);
	ms_changes_free(&c);
}

/* Does prefix directory ino lie over a real tree? */
static int has_lower(struct ms_store *s, uint32_t ino)
{
	for (int k = 0; k < MS_LOWERS; k++)
		if (s->hdr->lower[k].ino && s->hdr->lower[k].ino == ino)
			return 1;
	return 0;
}

int ms_save(struct ms_store *s, const char *dir)
{
	struct save sv;
	memset(&sv, 0, sizeof(sv));
	sv.s = s;
	sv.top = dir;
	sv.len = strnlen(dir, PATH_MAX);
	if (dir[0] != '/' || sv.len >= PATH_MAX)
		return -EINVAL;
	memcpy(sv.path, dir, sv.len + 1);
	int r = ms_mkdir_p(s, dir, sv.path, sv.len);
	if (r)
		return r;
	int fd = sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0) {
		save_fail(&sv, "cannot open the directory", fd);
		return fd;
	}
	if (has_lower(s, s->hdr->save_root))
		save_changes(&sv, fd);
	else
		save_dir(&sv, fd, s->hdr->save_root, 0);
	sys_close(fd);
	if (!sv.err)
		ms_log(s, MS_LOG_INFO, "MEMSHIM_SAVE=%s: the store is saved", dir);
	return sv.err;
}
