/* core/special.c — the real counterparts of the store's special files.
 *
 * A FIFO, Unix socket or device node has no bytes for the store to keep,
 * only behaviour the kernel alone can give: an open that blocks for the
 * other end, a socket to bind and connect, a device. So the store keeps
 * its name, links and metadata like any node's (one node charged), and
 * gives it a real counterpart of the same type in a private real
 * directory of the store:
 *
 *	/tmp/.memshim-<uid>-<12 hex digits of the store name's hash>/<st_ino>
 *
 * (owned by the store's user; at most 59 bytes, so a counterpart's path
 * always fits in sun_path). A node's st_ino is never reused within a
 * store, so the name is stable through renames and shared by hard links.
 * The directory's mode: 0700 for a user's store. A root store's processes
 * may switch to any uid (servers, test suites, su) and must then make and
 * open counterparts as the kernel would let them in the store: 01733 —
 * anyone may search and create, nobody but the owner may list, and the
 * sticky bit keeps a counterpart from being removed or replaced by anyone
 * but its owner (and root). The counterpart's own mode and owner (the
 * node's) are then the kernel's check; what the directory no longer
 * checks is the search permission of the node's store directories, for a
 * process that names the counterpart itself. Who does what:
 *   - the directory is made on the first special node (a store that never
 *     makes one creates nothing) — by the keeper, which runs as the store's
 *     user whatever uid the asking process has switched to — and removed
 *     with whatever is left in it when the store ends: by the keeper on its
 *     way out (keeper/main.c), by the owner of a local store when it closes;
 *   - a counterpart is made with the node (mknod, or the bind of the
 *     program's socket), follows the node's mode and owner (the kernel
 *     checks them when it opens or connects), and is removed with the
 *     node's last name;
 *   - opening a special node opens its counterpart (the shim, after core
 *     answers -MS_ESPECIAL), so the fd is the kernel's, not a store file.
 * A counterpart left by an earlier store of the same name (its keeper was
 * killed) is stale by construction — the node was just made — and is
 * replaced.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "arena.h"
#include "keeper.h"

/* Thread-local: the counterpart to open after -MS_ESPECIAL. */
static __thread char special_buf[MS_SPECIAL_PATH_MAX];

const char *ms_special_path(void)
{
	return special_buf;
}

/* FNV-1a, 64 bits: store names are short and chosen by users. */
static uint64_t name_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int ms_special_dir(const ms_store *s, char *buf, size_t n)
{
	int k = snprintf(buf, n, "/tmp/.memshim-%u-%012llx", s->hdr->uid,
			 (unsigned long long)(name_hash(s->hdr->name) & 0xffffffffffffULL));
	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : k;
}

int ms_special_name(const ms_store *s, uint64_t ino_no, char *buf, size_t n)
{
	int k = ms_special_dir(s, buf, n);
	if (k < 0)
		return k;
	int m = snprintf(buf + k, n - (size_t)k, "/%llu", (unsigned long long)ino_no);
	return m < 0 || (size_t)m >= n - (size_t)k ? -ENAMETOOLONG : k + m;
}

static mode_t dir_mode(const ms_store *s)
{
	return s->hdr->uid == 0 ? 01733 : 0700;
}

/* The private directory is used only when it is a directory of the
 * store's user with the store's mode: a name planted in /tmp before the
 * store made it is never followed. */
static int dir_check(const ms_store *s, const char *dir)
{
	struct stat st;
	int r = sys_fstatat(AT_FDCWD, dir, &st, AT_SYMLINK_NOFOLLOW);
	if (r)
		return r;
	if (!S_ISDIR(st.st_mode) || st.st_uid != s->hdr->uid ||
	    (st.st_mode & 07777) != dir_mode(s)) {
		ms_log(s, MS_LOG_ERROR, "%s: not a directory of uid %u with mode %04o: "
		       "special files cannot be made", dir, s->hdr->uid, (unsigned)dir_mode(s));
		return -EACCES;
	}
	return 0;
}

int ms_special_prepare(ms_store *s)
{
	char dir[MS_SPECIAL_PATH_MAX];
	int r = ms_special_dir(s, dir, sizeof(dir));
	if (r < 0)
		return r;
	r = sys_mkdirat(AT_FDCWD, dir, 0700);
	if (r == 0)
		sys_fchmodat(AT_FDCWD, dir, dir_mode(s)); /* past the umask */
	else if (r != -EEXIST)
		return r;
	return dir_check(s, dir);
}

/* The directory, made when missing: by the keeper when there is one (the
 * caller may run under another uid), else by the caller, the store's
 * only process. */
static int make_dir(struct ms_store *s, const char *dir)
{
	int r = dir_check(s, dir);
	if (r != -ENOENT)
		return r;
	return s->sock >= 0 && !s->local ? ms_keeper_special_dir(s) : ms_special_prepare(s);
}

static int bind_to(int sockfd, const char *path)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len + 1);
	return sys_bind(sockfd, &sa, (unsigned)(offsetof(struct sockaddr_un, sun_path) + len + 1));
}

int ms_special_make(struct ms_store *s, struct ms_inode *in, int sockfd)
{
	char path[MS_SPECIAL_PATH_MAX], dir[MS_SPECIAL_PATH_MAX];
	int r = ms_special_name(s, in->ino_no, path, sizeof(path));
	if (r < 0)
		return r;
	/* Checked every time (one system call, for a rare call). */
	ms_special_dir(s, dir, sizeof(dir));
	r = make_dir(s, dir);
	if (r)
		return r;
	int replaced = 0;
	for (;;) {
		if (sockfd >= 0)
			r = bind_to(sockfd, path);
		else
			r = sys_mknodat(AT_FDCWD, path, (in->mode & S_IFMT) | 0600,
					(S_ISCHR(in->mode) || S_ISBLK(in->mode)) ? in->memfd_ino : 0);
		if ((r == -EEXIST || r == -EADDRINUSE) && !replaced) {
			replaced = 1;
			sys_unlinkat(AT_FDCWD, path, 0);
			continue;
		}
		break;
	}
	if (r == 0)
		ms_special_sync(s, in);
	return r;
}

void ms_special_sync(struct ms_store *s, struct ms_inode *in)
{
	char path[MS_SPECIAL_PATH_MAX];
	struct stat st;
	if (ms_special_name(s, in->ino_no, path, sizeof(path)) < 0)
		return;
	if (sys_fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW))
		return;
	/* Owner first: a chown may clear set-id bits that the mode sets. */
	if (st.st_uid != in->uid || st.st_gid != in->gid)
		sys_fchownat(AT_FDCWD, path, in->uid, in->gid, AT_SYMLINK_NOFOLLOW);
	if ((st.st_mode & 07777) != (in->mode & 07777))
		sys_fchmodat(AT_FDCWD, path, in->mode & 07777);
}

void ms_special_drop(struct ms_store *s, struct ms_inode *in)
{
	char path[MS_SPECIAL_PATH_MAX];
	if (ms_special_name(s, in->ino_no, path, sizeof(path)) >= 0)
		sys_unlinkat(AT_FDCWD, path, 0);
}

int ms_special_open(struct ms_store *s, struct ms_inode *in)
{
	int r = ms_special_name(s, in->ino_no, special_buf, sizeof(special_buf));
	return r < 0 ? r : -MS_ESPECIAL;
}

void ms_special_cleanup(ms_store *s)
{
	char dir[MS_SPECIAL_PATH_MAX];
	char buf[4096] __attribute__((aligned(8)));
	struct stat st;
	if (ms_special_dir(s, dir, sizeof(dir)) < 0)
		return;
	int fd = sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return; /* never made: nothing to do */
	if (sys_fstat(fd, &st) || st.st_uid != s->hdr->uid) {
		sys_close(fd);
		return;
	}
	/* Entries removed while the directory is read may move others past
	 * the reader's position: read again until it is empty. */
	for (int pass = 0; pass < 4; pass++) {
		int seen = 0;
		sys_lseek(fd, 0, SEEK_SET);
		for (;;) {
			ssize_t n = sys_getdents64(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			for (ssize_t off = 0; off < n;) {
				/* struct linux_dirent64: ino, off, reclen, type, name */
				unsigned short reclen;
				memcpy(&reclen, buf + off + 16, sizeof(reclen));
				const char *name = buf + off + 19;
				if (!ms_is_dot(name)) {
					sys_unlinkat(fd, name, 0);
					seen = 1;
				}
				off += reclen;
			}
		}
		if (!seen)
			break;
	}
	sys_close(fd);
	sys_unlinkat(AT_FDCWD, dir, AT_REMOVEDIR);
}
