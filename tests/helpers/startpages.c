/* startpages — which pages of libmemshim.so's data a process that never
 * touches the store has written (or read from .bss) by the time its main()
 * runs: each is a page fault in every process of a wrapped test suite.
 *
 *   startpages [PATH] starts itself again as "startpages stop [PATH]"
 *                     (which opens and closes PATH, a store file, when
 *                     given: its attach and first open; then stops), and
 *                     prints "pages=N" and, for each page, its offset in
 *                     the library: "page=0x55000"; and "tls=N", the bytes
 *                     of thread-local variables the loader makes for the
 *                     library in every thread (PT_TLS)
 *
 * Read from /proc/<child>/pagemap: a page of the library's writable
 * mappings (its private file mapping and the anonymous .bss after it) that
 * is present and no longer the file's was faulted in by a write, or by a
 * read of .bss (up to the end of the library's last segment: the kernel
 * may merge the loader's next anonymous mapping with it). The relro page, read-only by then, is not counted: every
 * library with relocations has one. */
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static long tls_size = -1; /* PT_TLS's memory size, once read */

/* One past the library's last byte in memory, from its program headers:
 * an offset from where it is loaded; 0 on failure. Sets tls_size. */
static uintptr_t lib_size(const char *path)
{
	int fd = open(path, O_RDONLY);
	Elf64_Ehdr eh;
	uintptr_t end = 0;
	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh)) {
		perror(path);
		return 0;
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    sizeof(ph))
			break;
		if (ph.p_type == PT_LOAD && ph.p_vaddr + ph.p_memsz > end)
			end = ph.p_vaddr + ph.p_memsz;
		if (ph.p_type == PT_TLS)
			tls_size = (long)ph.p_memsz;
	}
	close(fd);
	return end;
}

static int count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	int pm = open(path, O_RDONLY);
	if (!maps || pm < 0) {
		perror("maps/pagemap");
		return -1;
	}
	char line[512];
	uintptr_t base = 0, lib_end = 0, size = 0;
	int pages = 0, ours = 0;
	while (fgets(line, sizeof(line), maps)) {
		uintptr_t lo, hi;
		char perm[8], name[300] = "";
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %*s %*s %*s %299s", &lo, &hi, perm,
			   name) < 3)
			continue;
		int lib = strstr(name, "libmemshim") != NULL;
		if (lib && !base) {
			base = lo;
			size = lib_size(name);
			if (!size)
				return -1;
		}
		/* the library's writable mappings, and the anonymous one
		 * that starts where they end (its .bss) */
		int bss = !name[0] && lo == lib_end && lib_end;
		if (lib)
			lib_end = hi;
		if (!(lib && perm[1] == 'w') && !bss)
			continue;
		ours = 1;
		for (uintptr_t a = lo; a < hi && a - base < size; a += 4096) {
			uint64_t e;
			if (pread(pm, &e, sizeof(e), (off_t)(a / 4096 * 8)) != sizeof(e))
				return -1;
			int present = (int)(e >> 63 & 1), file = (int)(e >> 61 & 1);
			if (present && !file) {
				printf("page=0x%" PRIxPTR "\n", a - base);
				pages++;
			}
		}
	}
	fclose(maps);
	close(pm);
	if (!ours) {
		fprintf(stderr, "libmemshim.so is not loaded\n");
		return -1;
	}
	return pages;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "stop")) {
		if (argc > 2) {
			int fd = open(argv[2], O_RDONLY);
			if (fd < 0)
				return 1;
			close(fd);
		}
		raise(SIGSTOP);
		return 0;
	}
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "stop", argv[1], (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
		fprintf(stderr, "the child did not stop: %#x\n", st);
		return 1;
	}
	int n = count(pid);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (n < 0)
		return 1;
	printf("pages=%d\ntls=%ld\n", n, tls_size);
	return 0;
}
