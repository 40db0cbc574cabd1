/* sparseprobe — sparse-file scenarios run under the preload by
 * tests/test_sparse.c. Each prints "key=value" lines the test checks. Uses
 * libc only.
 *
 *   sparseprobe refuse      a dense write past the quota in a sparse file
 *   sparseprobe map         pages stored through a mapping of a hole
 *   sparseprobe settle      one write through the shim into that file
 *   sparseprobe procs N     N processes writing one file, sparse and dense
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char big[1 << 20];

static void res(const char *what, long r)
{
	printf("%s=%ld errno=%s\n", what, r, r < 0 ? strerrorname_np(errno) : "0");
}

/* size, offset, and blocks by fd and by path */
static void show(const char *path, int fd)
{
	struct stat f, p;
	fstat(fd, &f);
	stat(path, &p);
	printf("size=%lld off=%lld fblocks=%lld pblocks=%lld psize=%lld\n", (long long)f.st_size,
	       (long long)lseek(fd, 0, SEEK_CUR), (long long)f.st_blocks, (long long)p.st_blocks,
	       (long long)p.st_size);
}

static int mk(const char *p)
{
	int fd = open(p, O_CREAT | O_RDWR, 0644);
	if (fd < 0) {
		perror(p);
		exit(3);
	}
	return fd;
}

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) & 0xffffff;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *op = argv[1];
	memset(big, 'z', sizeof(big));
	if (!strcmp(op, "refuse")) {
		int fd = mk("/mem/s");
		res("pwrite_2g", pwrite(fd, "x", 1, 1LL << 31));
		lseek(fd, 100, SEEK_SET);
		res("write_dense", write(fd, big, 100000));
		show("/mem/s", fd);
		res("write_fits", write(fd, big, 3 * 4096));
		show("/mem/s", fd);
	} else if (!strcmp(op, "map")) {
		int fd = mk("/mem/m");
		res("ftruncate", ftruncate(fd, 1 << 20));
		char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return 4;
		for (int i = 0; i < 3; i++)
			m[(100 + i) * 4096] = 'm';
		munmap(m, 1 << 20);
		show("/mem/m", fd);
	} else if (!strcmp(op, "settle")) {
		int fd = mk("/mem/m");
		res("pwrite", pwrite(fd, "w", 1, 0));
		show("/mem/m", fd);
	} else if (!strcmp(op, "procs")) {
		int n = argc > 2 ? atoi(argv[2]) : 4;
		int fd = mk("/mem/shared");
		/* writes past 1 MiB that succeeded, all children together */
		long *far = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (far == MAP_FAILED)
			return 4;
		for (int p = 0; p < n; p++) {
			if (fork() == 0) {
				unsigned seed = 77u + (unsigned)p;
				int refused = 0;
				for (int i = 0; i < 300; i++) {
					unsigned k = rnd(&seed) % 4;
					off_t at = k == 0 ? (off_t)(rnd(&seed) % 200000)
							  : (off_t)(rnd(&seed) % 4096) << 18;
					size_t len = k == 0 ? 1 + rnd(&seed) % 60000 : 1 + rnd(&seed) % 5000;
					ssize_t r = pwrite(fd, big, len, at);
					if (r < 0 && errno != ENOSPC)
						_exit(5);
					refused += r < 0;
					if (r > 0 && at > (1 << 20))
						__atomic_add_fetch(far, 1, __ATOMIC_RELAXED);
					if (k == 3 && rnd(&seed) % 8 == 0)
						ftruncate(fd, (off_t)(rnd(&seed) % 4096) << 18);
				}
				_exit(refused ? 1 : 0);
			}
		}
		int refused = 0, bad = 0;
		for (int p = 0; p < n; p++) {
			int st;
			wait(&st);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
				refused++;
			else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				bad++;
		}
		printf("procs=%d bad=%d far_written=%d\n", n, bad, *far > 0);
		struct stat f, p;
		fstat(fd, &f);
		stat("/mem/shared", &p);
		printf("path_as_kernel=%d\n", f.st_size == p.st_size && f.st_blocks == p.st_blocks);
		printf("used_file_bytes=%lld\n", (long long)f.st_blocks * 512);
	} else {
		return 2;
	}
	return 0;
}
