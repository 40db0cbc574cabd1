/* core/persist.c — MEMSHIM_SEED, and the creator's half of MEMSHIM_SAVE: a
 * real directory tree copied into a new store, and the save directory
 * checked and recorded in the arena. The keeper writes the store out there
 * when its tree ends (keeper/save.c, with the helpers shared below).
 *
 * Seeding runs in the process creating the store (a preload constructor,
 * before main), once the keeper holds the arena: files are made through the
 * same charged paths a program's writes take (ms_mkdir, ms_open and
 * ms_write_begin/end, ms_symlink), so the ledger stays the sum of the
 * charges. A first pass measures the tree and refuses it whole, with the
 * figures, when it cannot fit; nothing is copied then.
 *
 * Raw system calls only (sys.h): the seed runs inside a preloaded process,
 * where a libc open or mkdir would re-enter the shim. The walk is recursive,
 * at most MS_PERSIST_DEPTH levels, with small frames.
 *
 * Not kept: owners (files belong to the user running the tree), hard links
 * (each name gets its own copy), special files (fifos, sockets, devices:
 * skipped with a warning), extended attributes.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "sys.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

#define DENTS_BUF 2048
#define COPY_BUF 65536 /* bytes per read where sendfile is refused */
#define LINK_DATA (MS_BLOCK - 4) /* symlink target bytes per block, as ns.c */

struct dent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Writes all n bytes of buf at offset off, through EINTR and short writes.
 * Returns n, or -errno (-EIO for a write that stored nothing). */
static ssize_t pwrite_all(int fd, const char *buf, size_t n, uint64_t off)
{
	size_t put = 0;
	while (put < n) {
		ssize_t m = sys_pwrite(fd, buf + put, n - put, (off_t)(off + put));
		if (m == -EINTR)
			continue;
		if (m <= 0)
			return m < 0 ? m : -EIO;
		put += (size_t)m;
	}
	return (ssize_t)n;
}

const char *ms_err_text(int e)
{
	switch (e) {
	case ENOENT: return "no such file or directory";
	case EACCES: return "permission denied";
	case EPERM: return "operation not permitted";
	case ENOTDIR: return "not a directory";
	case EISDIR: return "is a directory";
	case EEXIST: return "exists";
	case ELOOP: return "too many levels of symbolic links";
	case ENAMETOOLONG: return "path too long";
	case ENOSPC: return "no space left (quota or node limit)";
	case EDQUOT: return "quota exceeded";
	case EMFILE: return "too many open files";
	case EROFS: return "read-only file system";
	case EIO: return "input/output error";
	}
	const char *n = strerrorname_np(e);
	return n ? n : "unknown error";
}

int ms_path_push(char *path, size_t *len, const char *name)
{
	size_t n = strlen(name);
	if (*len + 1 + n >= PATH_MAX)
		return -ENAMETOOLONG;
	path[*len] = '/';
	memcpy(path + *len + 1, name, n + 1);
	*len += 1 + n;
	return 0;
}

int ms_copy_bytes(int out, int in, uint64_t size, uint64_t *done)
{
	int plain = 0;
	char buf[COPY_BUF];
	*done = 0;
	while (*done < size) {
		size_t want = size - *done > (1u << 30) ? (1u << 30) : size - *done;
		ssize_t k;
		if (!plain) {
			off_t off = (off_t)*done;
			k = sys_sendfile(out, in, &off, want);
			if (k == -EINVAL || k == -ENOSYS) {
				plain = 1;
				continue;
			}
		} else {
			k = sys_pread(in, buf, want < sizeof(buf) ? want : sizeof(buf), (off_t)*done);
			if (k > 0)
				k = pwrite_all(out, buf, (size_t)k, *done);
		}
		if (k == -EINTR)
			continue;
		if (k < 0)
			return (int)k;
		if (k == 0)
			break;
		*done += (uint64_t)k;
	}
	return 0;
}

int ms_mkdir_p(const struct ms_store *s, const char *top, char *path, size_t len)
{
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != 0)
			continue;
		char c = path[i];
		path[i] = 0;
		int r = sys_mkdirat(AT_FDCWD, path, 0777);
		path[i] = c;
		if (r && r != -EEXIST) {
			ms_log(s, MS_LOG_ERROR, "MEMSHIM_SAVE=%s: %s: %s: %s", top, path,
			       "cannot make the directory", ms_err_text(-r));
			return r;
		}
	}
	return 0;
}

/* ---- seeding ------------------------------------------------------------------ */

struct seed {
	struct ms_store *s;
	const char *top;  /* the seed directory, for messages */
	int dry;          /* 1: measure only */
	uint64_t bytes;   /* measured charge */
	uint64_t nodes;   /* measured nodes */
	size_t pre;       /* length of the prefix in path */
	size_t len;       /* length of path */
	char path[PATH_MAX]; /* store path: prefix + the path below top */
};

/* One error line naming the variable, the real path and what went wrong. */
static int seed_fail(struct seed *sd, const char *what, int r)
{
	ms_log(sd->s, MS_LOG_ERROR, "MEMSHIM_SEED=%s: %s%s: %s: %s", sd->top, sd->top,
	       sd->path + sd->pre, what, ms_err_text(-r));
	return r;
}

static int seed_dir(struct seed *sd, int fd, int depth);

/* Copies the bytes of src into the new store file at sd->path, charged as
 * one write of st_size bytes. */
__attribute__((noinline)) static int seed_copy(struct seed *sd, int src, const struct stat *st)
{
	struct ms_store *s = sd->s;
	int fd, r;
	ms_ino ino;
	r = ms_open(s, 0, sd->path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
		    st->st_mode & 07777, &fd, &ino);
	if (r)
		return seed_fail(sd, "cannot create it in the store", r);
	uint64_t size = (uint64_t)st->st_size, done = 0;
	if (size) {
		struct ms_wctx w;
		int64_t off;
		r = ms_write_begin(s, ino, fd, 0, size, 0, &w, &off);
		if (r) {
			seed_fail(sd, "does not fit in the quota", r);
		} else {
			r = ms_copy_bytes(fd, src, size, &done);
			if (r)
				seed_fail(sd, "cannot copy it", r);
			/* Records the size reached (less than measured when it
			 * shrank since) and gives back what it did not use. */
			ms_write_end(s, &w, r && !done ? r : (int64_t)done);
		}
	}
	sys_close(fd);
	ms_ino_put(s, ino);
	return r;
}

/* The symlink dfd/name, measured or copied with its times. */
__attribute__((noinline)) static int seed_link(struct seed *sd, int dfd, const char *name,
					       const struct timespec t[2])
{
	char target[PATH_MAX];
	ssize_t n = sys_readlinkat(dfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return seed_fail(sd, "cannot read the symlink", (int)n);
	target[n] = 0;
	if (sd->dry) {
		uint64_t nb = ((uint64_t)n + LINK_DATA - 1) / LINK_DATA;
		sd->bytes += MS_NODE_COST + nb * MS_BLOCK;
		sd->nodes++;
		return 0;
	}
	int r = ms_symlink(sd->s, target, 0, sd->path);
	if (r == 0)
		r = ms_utimens(sd->s, 0, sd->path, MS_NOFOLLOW, t);
	if (r)
		seed_fail(sd, "cannot make the symlink in the store", r);
	return r;
}

static int seed_entry(struct seed *sd, int dfd, const char *name, int depth)
{
	struct ms_store *s = sd->s;
	size_t old = sd->len;
	struct stat st;
	int r = ms_path_push(sd->path, &sd->len, name);
	if (r) {
		sd->path[old] = 0;
		ms_log(s, MS_LOG_ERROR, "MEMSHIM_SEED=%s: %s%s/%s: the store path would be longer than %d bytes",
		       sd->top, sd->top, sd->path + sd->pre, name, PATH_MAX - 1);
		return r;
	}
	r = sys_fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (r) {
		seed_fail(sd, "cannot stat it", r);
		goto out;
	}
	struct timespec t[2] = {st.st_atim, st.st_mtim};
	if (S_ISDIR(st.st_mode)) {
		if (depth >= MS_PERSIST_DEPTH) {
			r = -ENAMETOOLONG;
			ms_log(s, MS_LOG_ERROR, "MEMSHIM_SEED=%s: %s%s: deeper than %d levels",
			       sd->top, sd->top, sd->path + sd->pre, MS_PERSIST_DEPTH);
			goto out;
		}
		if (sd->dry) {
			sd->bytes += MS_NODE_COST;
			sd->nodes++;
		} else {
			r = ms_mkdir(s, 0, sd->path, 0700);
			if (r) {
				seed_fail(sd, "cannot make it in the store", r);
				goto out;
			}
		}
		int sub = sys_openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (sub < 0) {
			r = seed_fail(sd, "cannot open the directory", sub);
			goto out;
		}
		r = seed_dir(sd, sub, depth + 1);
		sys_close(sub);
		if (r == 0 && !sd->dry) {
			/* last: its entries changed its times, and a mode
			 * without write permission would not matter anyway */
			r = ms_chmod(s, 0, sd->path, MS_NOFOLLOW, st.st_mode & 07777);
			if (r == 0)
				r = ms_utimens(s, 0, sd->path, MS_NOFOLLOW, t);
			if (r)
				seed_fail(sd, "cannot set its mode and times", r);
		}
	} else if (S_ISREG(st.st_mode)) {
		if (sd->dry) {
			sd->bytes += ms_node_cost(S_IFREG) + ms_page_up((uint64_t)st.st_size);
			sd->nodes++;
			goto out;
		}
		int src = sys_openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (src < 0) {
			r = seed_fail(sd, "cannot open it", src);
			goto out;
		}
		r = seed_copy(sd, src, &st);
		sys_close(src);
		if (r == 0) {
			r = ms_utimens(s, 0, sd->path, MS_NOFOLLOW, t);
			if (r)
				seed_fail(sd, "cannot set its times", r);
		}
	} else if (S_ISLNK(st.st_mode)) {
		r = seed_link(sd, dfd, name, t);
	} else if (sd->dry) {
		/* once, in the measuring pass */
		ms_log(s, MS_LOG_WARN, "MEMSHIM_SEED=%s: %s%s: skipped (not a file, directory or symlink)",
		       sd->top, sd->top, sd->path + sd->pre);
	}
out:
	sd->len = old;
	sd->path[old] = 0;
	return r;
}

static int seed_dir(struct seed *sd, int fd, int depth)
{
	char buf[DENTS_BUF] __attribute__((aligned(8)));
	for (;;) {
		ssize_t n = sys_getdents64(fd, buf, sizeof(buf));
		if (n == -EINTR)
			continue;
		if (n < 0)
			return seed_fail(sd, "cannot read the directory", (int)n);
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			struct dent64 *d = (struct dent64 *)(buf + off);
			off += d->d_reclen;
			if (ms_is_dot(d->d_name))
				continue;
			int r = seed_entry(sd, fd, d->d_name, depth);
			if (r)
				return r;
		}
	}
}

/* Does what was measured fit in what the ledger has left? Logs the figures
 * when not. */
static int seed_fits(struct seed *sd)
{
	struct ms_ledger *l = &sd->s->hdr->ledger;
	uint64_t ub = LD(&l->used_bytes), un = LD(&l->used_nodes);
	int bytes_ok = !l->max_bytes || (ub <= l->max_bytes && sd->bytes <= l->max_bytes - ub);
	int nodes_ok = !l->max_nodes || (un <= l->max_nodes && sd->nodes <= l->max_nodes - un);
	if (bytes_ok && nodes_ok)
		return 0;
	if (!bytes_ok)
		ms_log(sd->s, MS_LOG_ERROR,
		       "MEMSHIM_SEED=%s: the tree needs %llu bytes of the quota (%llu nodes) but "
		       "MEMSHIM_QUOTA allows %llu bytes; raise the quota or seed less",
		       sd->top, (unsigned long long)sd->bytes, (unsigned long long)sd->nodes,
		       (unsigned long long)l->max_bytes);
	else
		ms_log(sd->s, MS_LOG_ERROR,
		       "MEMSHIM_SEED=%s: the tree has %llu files, directories and symlinks "
		       "(%llu bytes) but the node limit is %llu; raise MEMSHIM_MAX_NODES or seed less",
		       sd->top, (unsigned long long)sd->nodes, (unsigned long long)sd->bytes,
		       (unsigned long long)l->max_nodes);
	__atomic_add_fetch(&l->refused, 1, __ATOMIC_RELAXED);
	return -ENOSPC;
}

int ms_seed(struct ms_store *s, const char *dir)
{
	/* sd is big (a path): static would not be thread-safe, and two
	 * stores may be created at once by tests; the stack it is. */
	struct seed sd;
	memset(&sd, 0, sizeof(sd));
	sd.s = s;
	sd.top = dir;
	sd.pre = strlen(s->cfg.prefix[0]);
	if (sd.pre >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(sd.path, s->cfg.prefix[0], sd.pre + 1);
	sd.len = sd.pre;

	int fd = sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0) {
		ms_log(s, MS_LOG_ERROR, "MEMSHIM_SEED=%s: cannot open the directory: %s", dir,
		       ms_err_text(-fd));
		return fd;
	}
	sd.dry = 1;
	int r = seed_dir(&sd, fd, 0);
	if (r == 0)
		r = seed_fits(&sd);
	if (r == 0) {
		off_t o = sys_lseek(fd, 0, SEEK_SET);
		if (o < 0)
			r = (int)o;
	}
	if (r == 0) {
		/* Modes exactly as on disk: no umask while copying. */
		mode_t mask = s->umask;
		s->umask = 0;
		sd.dry = 0;
		r = seed_dir(&sd, fd, 0);
		s->umask = mask;
		if (r == 0)
			ms_log(s, MS_LOG_INFO, "MEMSHIM_SEED=%s: %llu bytes in %llu nodes copied to %s",
			       dir, (unsigned long long)sd.bytes, (unsigned long long)sd.nodes,
			       s->cfg.prefix[0]);
	}
	sys_close(fd);
	return r;
}

/* ---- at creation ---------------------------------------------------------------- */

/* Called once by the creator of a store, its keeper running: records
 * MEMSHIM_SAVE in the arena, checks the save directory can be made (so a
 * mistake shows now, on the program's stderr, not in the keeper's silence)
 * and copies MEMSHIM_SEED in. On failure nothing will be saved. */
int ms_persist_init(struct ms_store *s)
{
	struct ms_hdr *h = s->hdr;
	int r = 0;
	if (s->cfg.save[0]) {
		char path[PATH_MAX];
		size_t len = strlen(s->cfg.save);
		memcpy(path, s->cfg.save, len + 1);
		r = ms_mkdir_p(s, s->cfg.save, path, len);
		if (r)
			return r;
		r = (int)MS_SYSCALL(SYS_faccessat, AT_FDCWD, s->cfg.save, W_OK | X_OK);
		if (r) {
			ms_log(s, MS_LOG_ERROR, "MEMSHIM_SAVE=%s: %s: %s: %s", s->cfg.save, path,
			       "cannot write there", ms_err_text(-r));
			return r;
		}
		ms_lookup(s, 0, s->cfg.prefix[0], 0, &h->save_root);
		memcpy(h->save_dir, s->cfg.save, len + 1);
	}
	if (s->cfg.seed[0])
		r = ms_seed(s, s->cfg.seed);
	if (r)
		h->save_dir[0] = 0;
	return r;
}
