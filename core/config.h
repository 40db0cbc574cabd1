/* core/config.h — the MEMSHIM_* environment, parsed once and checked whole.
 *
 * Part of core's boundary (shim/ may include it). Parsing never guesses: a
 * malformed value yields -EINVAL and one line in `err` naming the variable,
 * the bad value and an example of a good one. No allocation, no wrapped libc
 * names: this runs in a preload constructor before main.
 */
#ifndef MEMSHIM_CORE_CONFIG_H
#define MEMSHIM_CORE_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define MS_MAX_PREFIXES 8
#define MS_PREFIX_MAX 1024 /* bytes of one prefix, NUL included */
#define MS_STORE_NAME_MAX 64

enum ms_guard_mode { MS_GUARD_NONE, MS_GUARD_INIT, MS_GUARD_PER_WRITE };
enum ms_guard_action { MS_GUARD_WARN, MS_GUARD_FAIL };
enum ms_log_level { MS_LOG_ERROR, MS_LOG_WARN, MS_LOG_INFO, MS_LOG_DEBUG };

/* "memshim: ..." on stderr through a raw write when level <= cfg_level
 * (log.c). No allocation. */
void ms_logc(enum ms_log_level cfg_level, enum ms_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct ms_config {
	/* The scalars first, with the store's name and the first prefix after
	 * them: what a process writes and reads at start is on one page (each
	 * page a new process writes is a page fault; store.c copies only the
	 * pages that are not all zeros). */
	int nprefix;
	/* MEMSHIM_QUOTA resolved to bytes (a percentage is taken of the memory
	 * the guard probe reports); 0 = unlimited. */
	uint64_t max_bytes;
	/* MEMSHIM_MAX_NODES, or derived: max_bytes / MS_BYTES_PER_DEFAULT_NODE;
	 * 0 = unlimited. */
	uint64_t max_nodes;
	int quota_errno;                   /* ENOSPC or EDQUOT */
	enum ms_guard_mode guard;          /* default MS_GUARD_INIT */
	enum ms_guard_action guard_action; /* default MS_GUARD_WARN */
	uint64_t guard_interval_ns;        /* default 1 s */
	enum ms_log_level log_level;       /* default MS_LOG_WARN */
	char store_name[MS_STORE_NAME_MAX]; /* MEMSHIM_STORE, "" = private */
	/* MEMSHIM_PREFIX: absolute, lexically clean (no trailing '/', no '//',
	 * no '.' or '..' components), not "/" itself, none inside another. */
	char prefix[MS_MAX_PREFIXES][MS_PREFIX_MAX];
	/* MEMSHIM_SEED / MEMSHIM_SAVE: absolute, lexically clean like a prefix,
	 * neither "/" nor inside a prefix; "" = off. Whether the directory
	 * exists is checked when the store is created (seed) or saved. */
	char seed[PATH_MAX];
	char save[PATH_MAX];
	/* MEMSHIM_LOWER: lower[k] is the real directory under prefix k, ""
	 * for none; clean like a prefix, an existing directory, either the
	 * prefix's own path or outside every prefix. */
	char lower[MS_MAX_PREFIXES][MS_PREFIX_MAX];
	/* MEMSHIM_REPORT: "-" (the creator's stderr) or an absolute path the
	 * keeper writes the JSON report to when the tree ends; MEMSHIM_CHART:
	 * an absolute path for the SVG chart. Both checked like MEMSHIM_SAVE;
	 * "" = off. */
	char report[PATH_MAX];
	char chart[PATH_MAX];
	/* MEMSHIM_TEST_FAULT: fault rules (fault.h) a preloaded process arms
	 * at the end of its start-up; checked here, "" = none. */
	char fault[256];
	/* MEMSHIM_FAIL: the program's failures (fault.h), checked here and
	 * armed at the end of start-up like MEMSHIM_TEST_FAULT; "" = none. */
	char fail[1024];
};

/* A default store gets one node per this many bytes of quota. */
#define MS_BYTES_PER_DEFAULT_NODE 4096
#define MS_DEFAULT_QUOTA (256ULL << 20)

/* memshim's version, for the tools' --version. */
#define MS_VERSION "0.1.0"

/* Reads one variable. Returns the value or NULL when unset; a test may swap it
 * to feed a fake environment. */
typedef const char *(*ms_getenv_fn)(const char *name);

/* Fills *c from the environment seen through `get` (NULL = the process's
 * environ, read without getenv's locale or allocation).
 * Returns 0, or -EINVAL with a one-line message in err (no trailing newline)
 * such as: MEMSHIM_QUOTA="12Q": not a size; use e.g. 64M, 2G, 512K or 25% */
int ms_config_load(struct ms_config *c, ms_getenv_fn get, char *err, size_t errlen);

/* Parses a size ("4096", "512K", "64M", "2G", "1T"; binary units, optional
 * trailing 'B' or "iB") into *out. Returns 0 or -EINVAL. */
int ms_parse_size(const char *s, uint64_t *out);
/* Decimal digits only, the whole string: 0 with *out, or -EINVAL, -ERANGE.
 * Neither locale nor libc's strtol: at start-up each page of libc a
 * process touches first is a page fault. */
int ms_parse_u64(const char *s, uint64_t *out);

#endif
