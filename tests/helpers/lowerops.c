/* tests/helpers/lowerops.c — MEMSHIM_LOWER's differential (tests/test_lower.c).
 *
 * `lowerops make DIR` writes the lower tree into DIR. `lowerops run DIR`
 * runs a fixed sequence of calls on a tree made that way, one line per call
 * ("<op> <args> -> <result> <errno>"), then prints the whole tree (names,
 * types, modes, sizes, link counts of files, contents, link targets).
 * tests/test_lower.c runs it on a tmpfs copy of the lower tree and in a
 * store lying over the lower tree itself: the lines must be the same.
 *
 * The one deliberate difference: a lower directory is not renamed in the
 * store (EXDEV, as overlayfs without redirect_dir); `mvdir` then does what mv
 * does — copies the tree and removes the old one — and prints the same line
 * either way ("moved"), with "exdev" counted on stderr for the test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* test paths are short; a cut one would show as a difference */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "ops.h"

static void res(const char *what, long r)
{
	if (r < 0)
		printf("%s -> -1 %s\n", what, en(errno));
	else
		printf("%s -> %ld\n", what, r);
}

static void put(const char *name, const char *text, int flags)
{
	int fd = open(P(name), O_WRONLY | O_CREAT | flags, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror(name);
		exit(2);
	}
	close(fd);
}

static void make(void)
{
	const char *dirs[] = { "src", "src/lib", "src/empty", "doc", "build", "keep", "keep/deep",
			       "keep/deep/er" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir(P(dirs[i]), 0755)) {
			perror(dirs[i]);
			exit(2);
		}
	put("README", "the lower tree\n", 0);
	put("src/main.c", "int main(void) { return 0; }\n", 0);
	put("src/lib/util.c", "int util(void) { return 1; }\n", 0);
	put("src/lib/util.h", "int util(void);\n", 0);
	put("doc/guide.txt", "read me first\n", 0);
	put("keep/deep/er/leaf", "a leaf\n", 0);
	put("script.sh", "#!/bin/sh\necho lower script\n", 0);
	chmod(P("script.sh"), 0755);
	chmod(P("doc/guide.txt"), 0600);
	if (symlink("src/main.c", P("main-link")) || symlink("nowhere", P("dangling"))) {
		perror("symlink");
		exit(2);
	}
	/* a sparse file: the copy-up keeps its hole */
	int fd = open(P("sparse"), O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || pwrite(fd, "end", 3, 1 << 20) != 3) {
		perror("sparse");
		exit(2);
	}
	close(fd);
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	utimes(P("README"), tv);
}

static time_t started; /* when this process began */

static void cat(const char *name)
{
	char buf[256];
	int fd = open(P(name), O_RDONLY);
	if (fd < 0) {
		printf("cat %s -> -1 %s\n", name, en(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = '|';
	printf("cat %s -> %zd \"%s\"\n", name, n, buf);
}

static void st(const char *name)
{
	struct stat s;
	if (lstat(P(name), &s)) {
		printf("lstat %s -> -1 %s\n", name, en(errno));
		return;
	}
	/* st_ino and st_dev are the store's or the real file's; st_blocks of
	 * a directory differ by filesystem */
	printf("lstat %s -> mode %o size %lld nlink %lu", name, s.st_mode,
	       S_ISDIR(s.st_mode) ? 0LL : (long long)s.st_size, (unsigned long)s.st_nlink);
	if (S_ISREG(s.st_mode))
		printf(" blocks %lld", (long long)s.st_blocks);
	/* the time make() set, or one set since this run began: the two
	 * sides run seconds apart */
	if (!strcmp(name, "README"))
		printf(" mtime %s", s.st_mtime == 1000000000 ? "as made"
				    : s.st_mtime >= started ? "set by this run"
							    : "older than this run");
	printf("\n");
}

static void ls(const char *name)
{
	char *names[256];
	int n = sorted_names(P(name), 1, names, 256);
	if (n < 0) {
		printf("ls %s -> -1 %s\n", name, en(errno));
		return;
	}
	printf("ls %s ->", name);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

/* The whole tree, depth first in name order. */
static void tree(const char *rel)
{
	char *names[256];
	int n = sorted_names(rel[0] ? P(rel) : D, 0, names, 256);
	if (n < 0) {
		printf("tree %s -> -1 %s\n", rel, en(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char sub[PATH_MAX + NAME_MAX + 2];
		snprintf(sub, sizeof(sub), "%.*s%s%s", PATH_MAX / 2, rel, rel[0] ? "/" : "", names[i]);
		struct stat s;
		if (lstat(P(sub), &s)) {
			printf("tree %s -> -1 %s\n", sub, en(errno));
			continue;
		}
		if (S_ISDIR(s.st_mode)) {
			printf("tree %s/ %o nlink %lu\n", sub, s.st_mode, (unsigned long)s.st_nlink);
			tree(sub);
		} else if (S_ISLNK(s.st_mode)) {
			char t[PATH_MAX];
			ssize_t k = readlink(P(sub), t, sizeof(t) - 1);
			t[k > 0 ? k : 0] = 0;
			printf("tree %s -> %s\n", sub, t);
		} else {
			printf("tree %s %o %lld nlink %lu: ", sub, s.st_mode, (long long)s.st_size,
			       (unsigned long)s.st_nlink);
			cat(sub);
		}
		free(names[i]);
	}
}

/* mv of a directory: rename, or on EXDEV a copy and a removal as mv does. */
static int copy_tree(const char *from, const char *to)
{
	struct stat s;
	if (lstat(P(from), &s))
		return -1;
	if (S_ISDIR(s.st_mode)) {
		if (mkdir(P(to), s.st_mode & 07777))
			return -1;
		DIR *d = opendir(P(from));
		struct dirent *e;
		char names[64][NAME_MAX + 1];
		int n = 0;
		while (d && (e = readdir(d)) && n < 64)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
		if (d)
			closedir(d);
		for (int i = 0; i < n; i++) {
			char a[PATH_MAX + NAME_MAX + 2], b[PATH_MAX + NAME_MAX + 2];
			snprintf(a, sizeof(a), "%.*s/%s", PATH_MAX / 2, from, names[i]);
			snprintf(b, sizeof(b), "%.*s/%s", PATH_MAX / 2, to, names[i]);
			if (copy_tree(a, b))
				return -1;
		}
		return rmdir(P(from));
	}
	if (S_ISLNK(s.st_mode)) {
		char t[PATH_MAX];
		ssize_t k = readlink(P(from), t, sizeof(t) - 1);
		t[k > 0 ? k : 0] = 0;
		return symlink(t, P(to)) || unlink(P(from));
	}
	return rename(P(from), P(to));
}

static void mvdir(const char *from, const char *to)
{
	int r = rename(P(from), P(to));
	if (r && errno == EXDEV) {
		fprintf(stderr, "exdev %s\n", from);
		r = copy_tree(from, to);
	}
	printf("mvdir %s %s -> %s\n", from, to, r ? en(errno) : "moved");
}

static void run(void)
{
	char buf[64];
	int fd;

	/* reading: the lower tree as it is */
	ls("");
	ls("src");
	ls("src/lib");
	st("README");
	st("src");
	st("src/lib/util.c");
	st("main-link");
	st("sparse");
	cat("README");
	cat("main-link");
	cat("src/lib/../main.c");
	cat("dangling");
	res("access script.sh X_OK", access(P("script.sh"), X_OK));
	res("access doc/guide.txt R_OK", access(P("doc/guide.txt"), R_OK));
	res("open missing", open(P("src/missing"), O_RDONLY));
	res("open README/x", open(P("README/x"), O_RDONLY));
	res("open O_CREAT|O_EXCL README", open(P("README"), O_WRONLY | O_CREAT | O_EXCL, 0644));
	res("mkdir src", mkdir(P("src"), 0755));
	res("rmdir src", rmdir(P("src")));
	res("rmdir src/empty/", rmdir(P("src/empty/")));
	ls("src");

	/* writing: copy-up */
	fd = open(P("README"), O_WRONLY | O_APPEND);
	res("append README", write(fd, "more\n", 5));
	close(fd);
	cat("README");
	st("README");
	fd = open(P("src/main.c"), O_RDWR);
	res("pwrite main.c", pwrite(fd, "INT", 3, 0));
	res("pread main.c", pread(fd, buf, 8, 0));
	close(fd);
	cat("main-link");
	res("truncate util.h 4", truncate(P("src/lib/util.h"), 4));
	cat("src/lib/util.h");
	fd = open(P("doc/guide.txt"), O_WRONLY | O_TRUNC);
	res("O_TRUNC guide.txt", fd >= 0 ? 0 : -1);
	close(fd);
	st("doc/guide.txt");
	res("chmod script.sh 700", chmod(P("script.sh"), 0700));
	st("script.sh");
	cat("script.sh");
	res("chmod src 700", chmod(P("src"), 0700));
	st("src");
	fd = open(P("sparse"), O_WRONLY);
	res("write sparse", write(fd, "start", 5));
	close(fd);
	st("sparse");
	fd = open(P("sparse"), O_RDONLY);
	res("pread sparse end", pread(fd, buf, 8, 1 << 20));
	printf("  \"%.3s\"\n", buf);
	close(fd);

	/* names: deletions stay deleted, new names merge in */
	res("unlink src/lib/util.c", unlink(P("src/lib/util.c")));
	ls("src/lib");
	cat("src/lib/util.c");
	put("src/lib/util.c", "recreated\n", O_EXCL);
	cat("src/lib/util.c");
	res("unlink dangling", unlink(P("dangling")));
	res("symlink dangling", symlink("README", P("dangling")));
	cat("dangling");
	put("src/new.c", "new\n", O_EXCL);
	res("mkdir src/gen", mkdir(P("src/gen"), 0755));
	ls("src");
	st("src");
	res("link README hard", link(P("README"), P("hard")));
	st("README");
	res("link doc/guide.txt guide2", link(P("doc/guide.txt"), P("guide2")));
	st("guide2");
	res("rename src/lib/util.h util.h", rename(P("src/lib/util.h"), P("util.h")));
	res("rename main-link src/lib/ml", rename(P("main-link"), P("src/lib/ml")));
	res("rename doc/guide.txt over README", rename(P("doc/guide.txt"), P("README")));
	ls("doc");
	res("rmdir doc", rmdir(P("doc")));
	res("rmdir keep", rmdir(P("keep")));
	res("unlink keep/deep/er/leaf", unlink(P("keep/deep/er/leaf")));
	res("rmdir keep/deep/er", rmdir(P("keep/deep/er")));
	res("mkdir keep/deep/er", mkdir(P("keep/deep/er"), 0755));
	ls("keep/deep/er");
	mvdir("build", "out");
	mvdir("keep", "kept");
	mvdir("src/gen", "gen"); /* made in the store: a plain rename */
	res("rename out build (a copy now)", rename(P("out"), P("build")));
	ls("");

	printf("-- tree\n");
	tree("");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: lowerops make|run DIR\n");
		return 2;
	}
	D = argv[2];
	started = time(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "make"))
		make();
	else
		run();
	return 0;
}
