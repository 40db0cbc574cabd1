/* shim/real_fail.c — the failing stand-in of each entry of the table of
 * real functions, for fault injection (see real.h); generated code, apart
 * from real.c's look-up. */
#include <errno.h>
#include <sys/mman.h>

#include "shim.h"

/* Per-name properties, found by the preprocessor: MS_HAS(P_, name) is 1 when
 * P_name is defined as "~, 1", else 0. */
#define MS_SECOND(a, b, ...) b
#define MS_SECOND_(...) MS_SECOND(__VA_ARGS__)
#define MS_HAS(prop, name) MS_SECOND_(prop##name, 0, ~)

/* Functions that return an error number instead of setting errno. */
#define ERRNUM_posix_fallocate ~, 1
#define ERRNUM_posix_fallocate64 ~, 1
#define ERRNUM_readdir_r ~, 1
#define ERRNUM_readdir64_r ~, 1
#define ERRNUM_posix_spawn ~, 1
#define ERRNUM_posix_spawnp ~, 1
#define ERRNUM_posix_spawn_file_actions_addopen ~, 1
#define ERRNUM_posix_spawn_file_actions_destroy ~, 1
#define ERRNUM_posix_spawn_file_actions_adddup2 ~, 1

/* Stand-ins written by hand below: the call's failure has effects. */
#define BYHAND_close ~, 1
#define BYHAND_closedir ~, 1
#define BYHAND_mmap ~, 1 /* MAP_FAILED, not NULL */

#define MS_IF_0(...) __VA_ARGS__
#define MS_IF_1(...)
#define MS_CAT(a, b) MS_CAT_(a, b)
#define MS_CAT_(a, b) a##b
#define MS_UNLESS(cond) MS_CAT(MS_IF_, cond)

/* The failure value of a return type: nothing for void, NULL for a pointer,
 * -1 for a number. */
#define IS_VOID(ret) __builtin_types_compatible_p(ret, void)
#define IS_PTR(ret) (__builtin_classify_type(__builtin_choose_expr(IS_VOID(ret), 0, (ret)0)) == 5)
#define FAIL_VALUE(ret) ((ret)(IS_PTR(ret) ? 0L : -1L))

#define W(ret, name, params)                                                        \
	MS_UNLESS(MS_HAS(BYHAND_, name))(ret ms_fail_##name params {                \
		int e = ms_fault_errno;                                            \
		if (MS_HAS(ERRNUM_, name))                                         \
			return (ret)(long)e;                                       \
		errno = e;                                                         \
		return FAIL_VALUE(ret);                                            \
	})
#define R W
#include "real_all.def"
#undef W
#undef R

/* close(2) and closedir(3) release the fd (and the DIR) even when they
 * report an error: so do their faults. */
int ms_fail_close(int fd)
{
	int e = ms_fault_errno;
	REAL_RESOLVED(close)(fd);
	errno = e;
	return -1;
}

int ms_fail_closedir(DIR *d)
{
	int e = ms_fault_errno;
	REAL_RESOLVED(closedir)(d);
	errno = e;
	return -1;
}

void *ms_fail_mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
	(void)addr, (void)n, (void)prot, (void)flags, (void)fd, (void)off;
	errno = ms_fault_errno;
	return MAP_FAILED;
}
