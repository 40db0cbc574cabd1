/* fail_demo — a program with the error handling MEMSHIM_FAIL is for: it
 * writes a data file and a log into DIR, and when a write fails it says
 * which file and why, removes what it wrote, and exits with status 1
 * instead of leaving half a result behind. Plain libc: nothing in it knows
 * about memshim. Run it with failures injected:
 *
 *	LD_PRELOAD=build/libmemshim.so MEMSHIM_FAIL='write:*.log:2:EIO' \
 *	    build/examples/fail_demo /mem/out
 *	LD_PRELOAD=build/libmemshim.so MEMSHIM_FAIL='write:*.bin:>64K:ENOSPC' \
 *	    build/examples/fail_demo /mem/out
 *
 * (tests/test_fail.c runs both, and the run without failures.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_SIZE 200000
#define CHUNK 16384

static char data_path[4096], log_path[4096];

/* Says what failed, takes back what was written, and gives the status. */
static int fail(const char *path, int err)
{
	fprintf(stderr, "fail_demo: %s: %s\n", path, strerror(err));
	unlink(data_path);
	unlink(log_path);
	return 1;
}

/* The whole buffer, however many writes it takes (a write may be short). */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int write_data(void)
{
	static char chunk[CHUNK];
	int fd = open(data_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	for (size_t done = 0; done < DATA_SIZE; done += CHUNK) {
		size_t n = DATA_SIZE - done < CHUNK ? DATA_SIZE - done : CHUNK;
		memset(chunk, 'a' + (int)(done / CHUNK % 26), n);
		if (write_all(fd, chunk, n)) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
	}
	/* close reports what fsync would on a real disk: check both */
	if (fsync(fd)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static int write_log(void)
{
	FILE *f = fopen(log_path, "w");
	if (!f)
		return -1;
	const char *lines[] = {"started", "data written", "done"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		/* flushed line by line, so an error belongs to its line */
		if (fprintf(f, "%s\n", lines[i]) < 0 || fflush(f)) {
			int e = errno;
			fclose(f);
			errno = e;
			return -1;
		}
	}
	return fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fail_demo DIR\n");
		return 2;
	}
	snprintf(data_path, sizeof(data_path), "%s/data.bin", argv[1]);
	snprintf(log_path, sizeof(log_path), "%s/run.log", argv[1]);
	if (mkdir(argv[1], 0755) && errno != EEXIST)
		return fail(argv[1], errno);
	if (write_data())
		return fail(data_path, errno);
	if (write_log())
		return fail(log_path, errno);
	printf("fail_demo: wrote %s (%d bytes) and %s\n", data_path, DATA_SIZE, log_path);
	return 0;
}
