/* sparseprobe — sparse-file scenarios run under the preload by
 * tests/test_sparse.c. Each prints "key=value" lines the test checks. Uses
 * libc only.
 *
 *   sparseprobe refuse      a dense write past the quota in a sparse file
 *   sparseprobe map         pages stored through a mapping of a hole
 *   sparseprobe settle      one write through the shim into that file
 *   sparseprobe procs N     N processes writing one file, sparse and dense
 *   sparseprobe shrink S    S seconds of pread, pwrite and read (served from
 *                           the store's mapping) while other processes shrink,
 *                           grow and punch the file
 *   sparseprobe mquota      writes into holes of a mapped file in a full store
 *   sparseprobe release     a mapped file closed and unlinked
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
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

/* 1 when this process maps a store file's memfd (the store's mapped
 * reads and writes), not counting the arena. */
static int mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, "/memfd:memshim (deleted)") != NULL;
	if (f)
		fclose(f);
	return n > 0;
}

#define SHRINK_SIZE (2 << 20)

static volatile int stop;
static long *mapped_seen; /* shared: a worker saw its mapping */

/* Reads and writes of the file until `stop`: pread and pwrite at random
 * page-aligned and unaligned offsets, read() along the offset. Results
 * past a concurrent shrink are short or 0, as the kernel says; what must
 * never happen is a signal. */
static void *io_loop(void *arg)
{
	unsigned seed = (unsigned)(long)arg;
	char buf[3 * 4096];
	int fd = open("/mem/race", O_RDWR);
	if (fd < 0)
		_exit(6);
	while (!stop) {
		unsigned k = rnd(&seed) % 8;
		off_t at = (off_t)(rnd(&seed) % (SHRINK_SIZE / 4096)) * 4096 + (k == 7 ? 100 : 0);
		size_t len = k < 6 ? 4096 : sizeof(buf);
		ssize_t r;
		if (k < 3)
			r = pread(fd, buf, len, at);
		else if (k < 5)
			r = pwrite(fd, big, len, at);
		else {
			lseek(fd, at, SEEK_SET);
			r = read(fd, buf, len);
		}
		if (r < 0 && errno != ENOSPC)
			_exit(5);
		if (mapped())
			__atomic_store_n(mapped_seen, 1, __ATOMIC_RELAXED);
	}
	close(fd);
	return NULL;
}

static void on_alarm(int sig) { stop = 1; }

static void shrink_race(int seconds)
{
	int fd = mk("/mem/race");
	for (long d = 0; d < SHRINK_SIZE; d += sizeof(big))
		pwrite(fd, big, sizeof(big), d);
	mapped_seen = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			   -1, 0);
	if (mapped_seen == MAP_FAILED)
		exit(4);
	signal(SIGALRM, on_alarm);
	pid_t kids[4];
	for (int p = 0; p < 4; p++) {
		kids[p] = fork();
		if (kids[p])
			continue;
		alarm((unsigned)seconds);
		if (p == 0) {
			/* the shrinker: cut, grow back (holes, then data), punch */
			unsigned seed = 991;
			while (!stop) {
				off_t cut = (off_t)(rnd(&seed) % (SHRINK_SIZE / 4096)) * 4096;
				ftruncate(fd, cut);
				ftruncate(fd, SHRINK_SIZE);
				for (int i = 0; i < 64; i++)
					pwrite(fd, big, 4096, (off_t)(rnd(&seed) % (SHRINK_SIZE / 4096)) * 4096);
				fallocate(fd, 3 /* PUNCH_HOLE | KEEP_SIZE */,
					  (off_t)(rnd(&seed) % (SHRINK_SIZE / 4096)) * 4096, 8192);
			}
			_exit(0);
		}
		/* readers and writers; the last has a second thread */
		pthread_t t;
		if (p == 3 && pthread_create(&t, NULL, io_loop, (void *)7L))
			_exit(7);
		io_loop((void *)(long)p);
		if (p == 3)
			pthread_join(t, NULL);
		_exit(0);
	}
	int bad = 0;
	for (int p = 0; p < 4; p++) {
		int st;
		waitpid(kids[p], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("worker %d: status %#x\n", p, st);
			bad++;
		}
	}
	printf("bad=%d mapped=%ld\n", bad, *mapped_seen);
	struct stat f, ps;
	fstat(fd, &f);
	stat("/mem/race", &ps);
	printf("path_as_kernel=%d\n", f.st_size == ps.st_size && f.st_blocks == ps.st_blocks);
	printf("used_file_bytes=%lld\n", (long long)f.st_blocks * 512);
}

/* A file with holes, mapped by reads, in a store another file filled:
 * writes into its holes and past its end are refused whole and change
 * nothing; overwrites of its pages still succeed. */
static void mapped_quota(void)
{
	int fd = mk("/mem/q");
	char buf[8192];
	res("pwrite_page0", pwrite(fd, big, 4096, 0));
	res("pwrite_page2", pwrite(fd, big, 4096, 2 * 4096));
	for (int i = 0; i < 16; i++)
		pread(fd, buf, 4096, 0);
	printf("mapped=%d\n", mapped());
	int fill = mk("/mem/fill");
	ssize_t r;
	while ((r = write(fill, big, 4096)) > 0)
		;
	res("fill", r);
	show("/mem/q", fd);
	res("pwrite_hole", pwrite(fd, "H", 1, 4096 + 10));
	res("pwrite_hole_span", pwrite(fd, big, 8192, 0));
	res("pwrite_past_end", pwrite(fd, big, 8192, 2 * 4096));
	show("/mem/q", fd);
	res("pread_hole", pread(fd, buf, 4096, 4096));
	printf("hole_zero=%d\n", buf[0] == 0 && buf[4095] == 0);
	show("/mem/q", fd);
	memset(buf, 'O', 4096);
	res("pwrite_over", pwrite(fd, buf, 4096, 2 * 4096));
	res("pread_over", pread(fd, buf + 4096, 1, 2 * 4096 + 7));
	printf("over=%c\n", buf[4096]);
	show("/mem/q", fd);
}

/* A mapped file's mapping goes with its last fd, and its bytes with its
 * name: memshim-stat then shows only the other file. */
static void release(void)
{
	char buf[4096];
	int fd = mk("/mem/r");
	for (int i = 0; i < 256; i++)
		pwrite(fd, big, 4096, (off_t)i * 4096);
	int dup_fd = dup(fd);
	for (int i = 0; i < 16; i++)
		pread(fd, buf, 4096, (off_t)i * 4096);
	printf("mapped_open=%d\n", mapped());
	close(fd);
	printf("mapped_after_one_close=%d\n", mapped());
	unlink("/mem/r");
	close(dup_fd);
	printf("mapped_after_last_close=%d\n", mapped());
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
	} else if (!strcmp(op, "shrink")) {
		shrink_race(argc > 2 ? atoi(argv[2]) : 2);
	} else if (!strcmp(op, "mquota")) {
		mapped_quota();
	} else if (!strcmp(op, "release")) {
		release();
	} else {
		return 2;
	}
	return 0;
}
