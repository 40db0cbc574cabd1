/* core/config.c — the MEMSHIM_* environment: read once, checked whole.
 *
 * Owns ms_config_load() and ms_parse_size(). This runs in the preload
 * constructor, before main and possibly before the shim has resolved the real
 * libc functions, so it allocates nothing, uses no stdio that allocates
 * (snprintf into the caller's buffer only), never calls getenv (it walks
 * environ itself) and never calls strtod/strtoul (locale-dependent; and a
 * user's LC_NUMERIC must not change what "0.25" means).
 *
 * A malformed value is never guessed at: the first one found yields -EINVAL
 * and one line naming the variable, the bad value (quoted, escaped so it
 * stays on one line) and an example of a good value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "fault.h"

extern char **environ;

/* Slot indices are uint32_t and the arena adds uncharged slots for the
 * skeleton plus the reserved slot 0, so a node limit must leave room for
 * them. */
#define NODES_MAX ((uint64_t)UINT32_MAX - MS_EXTRA_SLOTS - 1)

#define INTERVAL_MAX_S 86400ULL
#define NS_PER_S 1000000000ULL

/* Room for the quoted bad value in a message; longer values are cut with
 * "..." so the line stays readable. */
#define SHOWN_MAX 160

#define EX_PREFIX "/mem or /mem:/scratch"
#define EX_QUOTA "64M, 2G, 512K or 25%"
#define EX_NODES "10000, or 0 for no limit"
#define EX_ERRNO "ENOSPC or EDQUOT"
#define EX_GUARD "none, init or per_write"
#define EX_ACTION "warn or fail"
#define EX_INTERVAL "1.0, 0.25 or 5"
#define EX_LOG "error, warn, info or debug"
#define EX_STORE "build-42 or my.store_1"
#define EX_SEED "/srv/fixtures"
#define EX_SAVE "/tmp/store-out"
#define EX_FAULT MS_FAULT_EXAMPLE
#define EX_REPORT "/tmp/memshim-report.json or - (stderr)"
#define EX_CHART "/tmp/memshim-usage.svg"
#define EX_FAIL MS_FAIL_EXAMPLE
#define EX_LOWER "/home/me/project, or /src/a::/src/c for the first and third prefix"

/* ---- small helpers: ASCII only, whatever the locale ---------------------- */

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int eq_nocase(const char *a, const char *b)
{
	while (*a && lower(*a) == lower(*b)) {
		a++;
		b++;
	}
	return lower(*a) == lower(*b);
}

/* getenv without getenv: the first "NAME=" entry of environ, as getenv. */
/* The MEMSHIM_* entries of environ, gathered in one pass (every process of
 * the tree reads them at start-up, and a whole scan per variable was most
 * of that): env_get looks among these. */
#define ENV_MAX 64
struct env_list {
	const char *e[ENV_MAX];
	int n;
};

static void env_gather(struct env_list *l)
{
	l->n = 0;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "MEMSHIM_", 8))
			continue;
		if (l->n == ENV_MAX) {
			l->n = -1; /* more than that: look through environ itself */
			return;
		}
		l->e[l->n++] = *e;
	}
}

static const char *env_get(const struct env_list *l, const char *name)
{
	size_t n = strlen(name);
	if (l->n < 0) {
		for (char **e = environ; e && *e; e++)
			if (!strncmp(*e, name, n) && (*e)[n] == '=')
				return *e + n + 1;
		return NULL;
	}
	for (int i = 0; i < l->n; i++)
		if (!strncmp(l->e[i], name, n) && l->e[i][n] == '=')
			return l->e[i] + n + 1;
	return NULL;
}

/* Copies s (at most len bytes, or up to its NUL) into out so that it stays on
 * one line and cannot be mistaken for the closing quote: '"' and '\' are
 * backslashed, any byte outside printable ASCII becomes \xNN, and a long
 * value is cut with "...". */
static void escape(char *out, size_t n, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < len && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		char tmp[4];
		size_t k = 0, j;

		if (ch == '"' || ch == '\\') {
			tmp[k++] = '\\';
			tmp[k++] = (char)ch;
		} else if (ch < 0x20 || ch > 0x7e) {
			tmp[k++] = '\\';
			tmp[k++] = 'x';
			tmp[k++] = hex[ch >> 4];
			tmp[k++] = hex[ch & 15];
		} else {
			tmp[k++] = (char)ch;
		}
		/* keep room for "..." and the NUL */
		if (o + k + 4 > n || o + k > SHOWN_MAX) {
			if (o + 4 <= n) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		for (j = 0; j < k; j++)
			out[o++] = tmp[j];
	}
	if (n)
		out[o < n ? o : n - 1] = '\0';
}

/* Writes the one-line message and returns -EINVAL:
 *   VAR="value": <what>; use e.g. <example> */
__attribute__((format(printf, 6, 7))) static int bad(char *err, size_t errlen, const char *var,
						      const char *val, const char *example,
						      const char *fmt, ...)
{
	char shown[SHOWN_MAX + 8];
	char what[256];
	va_list ap;

	if (!err || !errlen)
		return -EINVAL;
	escape(shown, sizeof(shown), val, strlen(val));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s=\"%s\": %s; use e.g. %s", var, shown, what, example);
	return -EINVAL;
}

/* ---- numbers ------------------------------------------------------------ */

/* Decimal digits to the end of s, or up to `stop` (a pointer into s) when not
 * NULL. Returns 0, -EINVAL (no digits, or something else), -ERANGE. */
static int parse_u64(const char *s, const char *stop, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!stop)
		stop = s + strlen(s);
	if (p == stop)
		return -EINVAL;
	for (; p < stop; p++) {
		unsigned d;

		if (!is_digit(*p))
			return -EINVAL;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* The parser behind ms_parse_size, telling overflow (-ERANGE) apart from a
 * malformed size (-EINVAL) for the message. */
static int size_parse(const char *s, uint64_t *out)
{
	const char *p = s, *digits_end;
	unsigned shift = 0;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	while (is_digit(*p))
		p++;
	digits_end = p;
	switch (lower(*p)) {
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	}
	if (shift) {
		p++;
		/* "64M", "64MB", "64MiB" (any case) all mean 64 << 20 */
		if (lower(p[0]) == 'i' && lower(p[1]) == 'b')
			p += 2;
		else if (lower(p[0]) == 'b')
			p++;
	} else if (lower(*p) == 'b') {
		p++; /* "4096B" */
	}
	if (*p)
		return -EINVAL;
	r = parse_u64(s, digits_end, &v);
	if (r)
		return r;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int ms_parse_u64(const char *s, uint64_t *out) { return parse_u64(s, NULL, out); }

int ms_parse_size(const char *s, uint64_t *out)
{
	uint64_t v;

	if (size_parse(s, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* avail * pct / 100 without overflowing for any avail. */
static uint64_t percent_of(uint64_t avail, uint64_t pct)
{
	return avail / 100 * pct + avail % 100 * pct / 100;
}

/* "D+" or "D+.D+" seconds into ns, 0 < t <= one day. Digits past the ninth
 * decimal are below a nanosecond and dropped. Returns 0, -EINVAL (syntax),
 * -ERANGE (0 or more than a day). */
static int parse_interval(const char *s, uint64_t *ns)
{
	const char *p = s;
	uint64_t ip = 0, frac = 0, scale = NS_PER_S;
	int ndig = 0, over = 0;

	for (; is_digit(*p); p++, ndig++) {
		/* cap, to keep parsing the syntax without overflowing */
		if (ip <= INTERVAL_MAX_S)
			ip = ip * 10 + (uint64_t)(*p - '0');
		else
			over = 1;
	}
	if (!ndig)
		return -EINVAL;
	if (*p == '.') {
		p++;
		ndig = 0;
		for (; is_digit(*p); p++, ndig++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
		if (!ndig)
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (over || ip > INTERVAL_MAX_S || (ip == INTERVAL_MAX_S && frac))
		return -ERANGE;
	*ns = ip * NS_PER_S + frac;
	return *ns ? 0 : -ERANGE;
}

/* ---- one function per variable ------------------------------------------ */

/* Appends one ':'-separated entry of MEMSHIM_PREFIX, lexically normalised,
 * to c->prefix, checking it against those before it. */
static int add_prefix(struct ms_config *c, const char *var, const char *val, const char *seg,
		      size_t len, char *err, size_t errlen)
{
	char shown[SHOWN_MAX + 8];
	char out[MS_PREFIX_MAX];
	size_t o = 0, i = 0;
	int k;

	escape(shown, sizeof(shown), seg, len);
	if (!len)
		return bad(err, errlen, var, val, EX_PREFIX, "an empty path in the list");
	if (seg[0] != '/')
		return bad(err, errlen, var, val, EX_PREFIX, "\"%s\" is not an absolute path",
			   shown);
	while (i < len) {
		size_t start, clen;

		while (i < len && seg[i] == '/')
			i++; /* "//" is "/" */
		start = i;
		while (i < len && seg[i] != '/')
			i++;
		clen = i - start;
		if (!clen)
			break; /* a trailing '/' */
		if ((clen == 1 && seg[start] == '.') ||
		    (clen == 2 && seg[start] == '.' && seg[start + 1] == '.'))
			return bad(err, errlen, var, val, EX_PREFIX,
				   "\"%s\" has a '.' or '..' component", shown);
		if (clen > MS_NAME_MAX)
			return bad(err, errlen, var, val, EX_PREFIX,
				   "\"%s\" has a component longer than %d bytes", shown,
				   MS_NAME_MAX);
		if (o + 1 + clen >= sizeof(out))
			return bad(err, errlen, var, val, EX_PREFIX,
				   "\"%s\" is longer than %d bytes", shown, MS_PREFIX_MAX - 1);
		out[o++] = '/';
		memcpy(out + o, seg + start, clen);
		o += clen;
	}
	out[o] = '\0';
	if (!o)
		return bad(err, errlen, var, val, EX_PREFIX,
			   "\"/\" would take in the whole file system");
	for (k = 0; k < c->nprefix; k++) {
		const char *p = c->prefix[k];
		size_t plen = strlen(p);
		char oshown[SHOWN_MAX + 8];

		escape(oshown, sizeof(oshown), p, plen);
		if (plen == o && !memcmp(p, out, o))
			return bad(err, errlen, var, val, EX_PREFIX, "\"%s\" is listed twice",
				   oshown);
		if (plen < o && !memcmp(p, out, plen) && out[plen] == '/')
			return bad(err, errlen, var, val, EX_PREFIX, "\"%s\" is inside \"%s\"",
				   shown, oshown);
		if (o < plen && !memcmp(p, out, o) && p[o] == '/')
			return bad(err, errlen, var, val, EX_PREFIX, "\"%s\" is inside \"%s\"",
				   oshown, shown);
	}
	if (c->nprefix == MS_MAX_PREFIXES)
		return bad(err, errlen, var, val, EX_PREFIX, "more than %d paths",
			   MS_MAX_PREFIXES);
	memcpy(c->prefix[c->nprefix++], out, o + 1);
	return 0;
}

static int load_prefix(struct ms_config *c, const char *var, const char *val, char *err,
		       size_t errlen)
{
	const char *seg = val;
	int r;

	c->nprefix = 0;
	for (;;) {
		const char *colon = strchr(seg, ':');
		size_t len = colon ? (size_t)(colon - seg) : strlen(seg);

		r = add_prefix(c, var, val, seg, len, err, errlen);
		if (r)
			return r;
		if (!colon)
			return 0;
		seg = colon + 1;
	}
}

static int load_quota(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	size_t len = strlen(val);
	uint64_t v;
	int r;

	if (len && val[len - 1] == '%') {
		const char *source = "";
		uint64_t avail = 0;

		r = parse_u64(val, val + len - 1, &v);
		if (r == -EINVAL)
			return bad(err, errlen, var, val, EX_QUOTA,
				   "not a percentage (a whole number from 1 to 100)");
		if (r || v < 1 || v > 100)
			return bad(err, errlen, var, val, EX_QUOTA,
				   "a percentage must be from 1 to 100");
		r = ms_guard_probe(&avail, &source);
		if (r < 0) {
			const char *name = strerrorname_np(-r);

			return bad(err, errlen, var, val, "64M, 2G or 512K",
				   "cannot measure the memory available (%s)",
				   name ? name : "unknown error");
		}
		c->max_bytes = percent_of(avail, v);
		/* 0 would read as "unlimited": the opposite of what was asked */
		if (!c->max_bytes)
			return bad(err, errlen, var, val, "64M, 2G or 512K",
				   "%llu%% of the %llu bytes available (%s) is less than a byte",
				   (unsigned long long)v, (unsigned long long)avail, source);
		return 0;
	}
	r = size_parse(val, &v);
	if (r == -ERANGE)
		return bad(err, errlen, var, val, EX_QUOTA, "too large (at most 16E bytes)");
	if (r)
		return bad(err, errlen, var, val, EX_QUOTA, "not a size");
	c->max_bytes = v;
	return 0;
}

static int load_nodes(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	uint64_t v = 0;
	int r = parse_u64(val, NULL, &v);

	if (r == -EINVAL)
		return bad(err, errlen, var, val, EX_NODES, "not a whole number");
	if (r || v > NODES_MAX)
		return bad(err, errlen, var, val, EX_NODES, "too large (at most %llu)",
			   (unsigned long long)NODES_MAX);
	c->max_nodes = v;
	return 0;
}

static int load_errno(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	if (eq_nocase(val, "ENOSPC"))
		c->quota_errno = ENOSPC;
	else if (eq_nocase(val, "EDQUOT"))
		c->quota_errno = EDQUOT;
	else
		return bad(err, errlen, var, val, EX_ERRNO, "not an errno the quota may use");
	return 0;
}

static int load_guard(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	if (eq_nocase(val, "none"))
		c->guard = MS_GUARD_NONE;
	else if (eq_nocase(val, "init"))
		c->guard = MS_GUARD_INIT;
	else if (eq_nocase(val, "per_write"))
		c->guard = MS_GUARD_PER_WRITE;
	else
		return bad(err, errlen, var, val, EX_GUARD, "not a guard mode");
	return 0;
}

static int load_action(struct ms_config *c, const char *var, const char *val, char *err,
		       size_t errlen)
{
	if (eq_nocase(val, "warn"))
		c->guard_action = MS_GUARD_WARN;
	else if (eq_nocase(val, "fail"))
		c->guard_action = MS_GUARD_FAIL;
	else
		return bad(err, errlen, var, val, EX_ACTION, "not a guard action");
	return 0;
}

static int load_interval(struct ms_config *c, const char *var, const char *val, char *err,
			 size_t errlen)
{
	int r = parse_interval(val, &c->guard_interval_ns);

	if (r == -ERANGE)
		return bad(err, errlen, var, val, EX_INTERVAL,
			   "seconds must be more than 0 and at most 86400");
	if (r)
		return bad(err, errlen, var, val, EX_INTERVAL,
			   "not a number of seconds (digits, optionally a '.' and more digits)");
	return 0;
}

static int load_log(struct ms_config *c, const char *var, const char *val, char *err,
		    size_t errlen)
{
	if (eq_nocase(val, "error"))
		c->log_level = MS_LOG_ERROR;
	else if (eq_nocase(val, "warn"))
		c->log_level = MS_LOG_WARN;
	else if (eq_nocase(val, "info"))
		c->log_level = MS_LOG_INFO;
	else if (eq_nocase(val, "debug"))
		c->log_level = MS_LOG_DEBUG;
	else
		return bad(err, errlen, var, val, EX_LOG, "not a log level");
	return 0;
}

static int load_store(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	size_t len = strlen(val), i;

	/* The name becomes part of the store's kernel names (memfd, socket):
	 * a small, path-free alphabet keeps them unambiguous. */
	if (len >= MS_STORE_NAME_MAX)
		return bad(err, errlen, var, val, EX_STORE, "longer than %d characters",
			   MS_STORE_NAME_MAX - 1);
	if (val[0] == '.')
		return bad(err, errlen, var, val, EX_STORE, "a store name may not start with '.'");
	for (i = 0; i < len; i++) {
		char ch = val[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
		      ch == '.' || ch == '_' || ch == '-'))
			return bad(err, errlen, var, val, EX_STORE,
				   "only letters, digits, '.', '_' and '-' are allowed");
	}
	memcpy(c->store_name, val, len + 1);
	return 0;
}

/* Cleans up one absolute path lexically as a prefix is ("//" is "/", a
 * trailing '/' dropped; '.' and '..' refused) into out (PATH_MAX bytes).
 * Returns its length, or -EINVAL with the message in err. */
static int clean_dir(char *out, const char *var, const char *val, const char *seg, size_t len,
		     const char *example, char *err, size_t errlen)
{
	size_t o = 0, i = 0;

	if (!len || seg[0] != '/')
		return bad(err, errlen, var, val, example, "not an absolute path");
	while (i < len) {
		size_t start, clen;

		while (i < len && seg[i] == '/')
			i++;
		start = i;
		while (i < len && seg[i] != '/')
			i++;
		clen = i - start;
		if (!clen)
			break;
		if ((clen == 1 && seg[start] == '.') ||
		    (clen == 2 && seg[start] == '.' && seg[start + 1] == '.'))
			return bad(err, errlen, var, val, example, "a '.' or '..' component");
		if (clen > MS_NAME_MAX)
			return bad(err, errlen, var, val, example,
				   "a component longer than %d bytes", MS_NAME_MAX);
		if (o + 1 + clen >= PATH_MAX)
			return bad(err, errlen, var, val, example, "longer than %d bytes",
				   PATH_MAX - 1);
		out[o++] = '/';
		memcpy(out + o, seg + start, clen);
		o += clen;
	}
	out[o] = '\0';
	if (!o)
		return bad(err, errlen, var, val, example,
			   "\"/\" would take in the whole file system");
	return (int)o;
}

/* The prefix that path (clean, o bytes) lies inside of or equals, or -1. */
static int inside_prefix(const struct ms_config *c, const char *out, size_t o)
{
	for (int k = 0; k < c->nprefix; k++) {
		const char *p = c->prefix[k];
		size_t plen = strlen(p);

		if (o >= plen && !memcmp(p, out, plen) && (out[plen] == '/' || !out[plen]))
			return k;
	}
	return -1;
}

/* MEMSHIM_SEED and MEMSHIM_SAVE: one absolute path, clean_dir'ed, not "/"
 * and not inside (or equal to) a prefix: the store's own paths are not real
 * directories to copy from or to. */
static int load_dir(char *dst, const char *var, const char *val, const char *example,
		    const struct ms_config *c, char *err, size_t errlen)
{
	char out[PATH_MAX];
	int o = clean_dir(out, var, val, val, strlen(val), example, err, errlen);
	int k;

	if (o < 0)
		return o;
	k = inside_prefix(c, out, (size_t)o);
	if (k >= 0) {
		char pshown[SHOWN_MAX + 8];

		escape(pshown, sizeof(pshown), c->prefix[k], strlen(c->prefix[k]));
		return bad(err, errlen, var, val, example,
			   "inside the store's prefix \"%s\"; name a real directory", pshown);
	}
	memcpy(dst, out, (size_t)o + 1);
	return 0;
}

/* MEMSHIM_LOWER: one real directory per prefix, ':'-separated in the order
 * of MEMSHIM_PREFIX (an empty entry: that prefix has none). Each is an
 * existing directory, clean_dir'ed, and may be its own prefix's path (the
 * store then lies over the tree at its own place: the store reads the real
 * tree with raw system calls, never through its own routing), but not
 * inside a prefix otherwise. */
static int load_lower(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	const char *seg = val;

	for (int k = 0;; k++) {
		const char *colon = strchr(seg, ':');
		size_t len = colon ? (size_t)(colon - seg) : strlen(seg);

		if (k >= c->nprefix)
			return bad(err, errlen, var, val, EX_LOWER,
				   "more directories than MEMSHIM_PREFIX has paths (%d)",
				   c->nprefix);
		if (len) {
			char out[PATH_MAX];
			struct stat st;
			int o = clean_dir(out, var, val, seg, len, EX_LOWER, err, errlen);
			int in;

			if (o < 0)
				return o;
			if ((size_t)o >= MS_PREFIX_MAX)
				return bad(err, errlen, var, val, EX_LOWER, "longer than %d bytes",
					   MS_PREFIX_MAX - 1);
			in = inside_prefix(c, out, (size_t)o);
			if (in >= 0 && !(in == k && !strcmp(out, c->prefix[k])))
				return bad(err, errlen, var, val, EX_LOWER,
					   "\"%s\" is inside the store's prefix \"%s\"", out,
					   c->prefix[in]);
			if (sys_fstatat(AT_FDCWD, out, &st, 0) || !S_ISDIR(st.st_mode))
				return bad(err, errlen, var, val, EX_LOWER,
					   "\"%s\" is not a directory", out);
			memcpy(c->lower[k], out, (size_t)o + 1);
		}
		if (!colon)
			return 0;
		seg = colon + 1;
	}
}

static int load_seed(struct ms_config *c, const char *var, const char *val, char *err,
		     size_t errlen)
{
	return load_dir(c->seed, var, val, EX_SEED, c, err, errlen);
}

static int load_save(struct ms_config *c, const char *var, const char *val, char *err,
		     size_t errlen)
{
	return load_dir(c->save, var, val, EX_SAVE, c, err, errlen);
}

/* MEMSHIM_REPORT: "-" for stderr, else a file path checked as a
 * directory's is (the keeper opens it long after start-up, from wherever
 * its creator was: only an absolute path means one thing then). */
static int load_report(struct ms_config *c, const char *var, const char *val, char *err,
		       size_t errlen)
{
	if (!strcmp(val, "-")) {
		memcpy(c->report, "-", 2);
		return 0;
	}
	return load_dir(c->report, var, val, EX_REPORT, c, err, errlen);
}

static int load_chart(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	return load_dir(c->chart, var, val, EX_CHART, c, err, errlen);
}

/* MEMSHIM_TEST_FAULT: checked whole here, armed by the shim after start-up. */
static int load_fault(struct ms_config *c, const char *var, const char *val, char *err,
		      size_t errlen)
{
	char what[200];

	_Static_assert(sizeof(c->fault) == MS_FAULT_SPEC_MAX, "room for a spec");
	if (ms_fault_parse(val, 0, what, sizeof(what)) < 0)
		return bad(err, errlen, var, val, EX_FAULT, "%s", what);
	memcpy(c->fault, val, strlen(val) + 1);
	return 0;
}

/* MEMSHIM_FAIL: checked whole here, armed by the shim after start-up. */
static int load_fail(struct ms_config *c, const char *var, const char *val, char *err,
		     size_t errlen)
{
	char what[200];

	_Static_assert(sizeof(c->fail) == MS_FAIL_SPEC_MAX, "room for a spec");
	if (ms_fail_parse(val, ms_parse_size, 0, what, sizeof(what)) < 0)
		return bad(err, errlen, var, val, EX_FAIL, "%s", what);
	memcpy(c->fail, val, strlen(val) + 1);
	return 0;
}

/* ---- the whole environment ---------------------------------------------- */

typedef int (*load_fn)(struct ms_config *c, const char *var, const char *val, char *err,
		       size_t errlen);

static const struct {
	const char *var;
	load_fn load;
	const char *example;
} vars[] = {
	{ "MEMSHIM_PREFIX", load_prefix, EX_PREFIX },
	{ "MEMSHIM_QUOTA", load_quota, EX_QUOTA },
	{ "MEMSHIM_MAX_NODES", load_nodes, EX_NODES },
	{ "MEMSHIM_QUOTA_ERRNO", load_errno, EX_ERRNO },
	{ "MEMSHIM_GUARD", load_guard, EX_GUARD },
	{ "MEMSHIM_GUARD_ACTION", load_action, EX_ACTION },
	{ "MEMSHIM_GUARD_INTERVAL", load_interval, EX_INTERVAL },
	{ "MEMSHIM_LOG", load_log, EX_LOG },
	{ "MEMSHIM_STORE", load_store, EX_STORE },
	/* after MEMSHIM_PREFIX: they are checked against the prefixes */
	{ "MEMSHIM_SEED", load_seed, EX_SEED },
	{ "MEMSHIM_SAVE", load_save, EX_SAVE },
	{ "MEMSHIM_LOWER", load_lower, EX_LOWER },
	{ "MEMSHIM_REPORT", load_report, EX_REPORT },
	{ "MEMSHIM_CHART", load_chart, EX_CHART },
	{ "MEMSHIM_TEST_FAULT", load_fault, EX_FAULT },
	{ "MEMSHIM_FAIL", load_fail, EX_FAIL },
};

/* Every field empty or zero, field by field (a string is empty when its
 * first byte is), and written only where set: the preload's configuration
 * is a static struct, zero until loaded, and each page of it written is a
 * page copied at every process start (a memset of its 40 KiB was a third
 * of a preloaded program's start-up; clearing every field, 7 pages). */
#define CLEAR(x)          \
	do {              \
		if (x)    \
			x = 0; \
	} while (0)

static void config_clear(struct ms_config *c)
{
	_Static_assert(sizeof(struct ms_config) ==
			       2 * MS_MAX_PREFIXES * MS_PREFIX_MAX + 4 * PATH_MAX + MS_STORE_NAME_MAX +
				       256 + 1024 + 56,
		       "a field was added to struct ms_config: clear it here");
	for (int k = 0; k < MS_MAX_PREFIXES; k++) {
		CLEAR(c->prefix[k][0]);
		CLEAR(c->lower[k][0]);
	}
	CLEAR(c->nprefix);
	CLEAR(c->max_bytes);
	CLEAR(c->max_nodes);
	CLEAR(c->guard_interval_ns);
	CLEAR(c->quota_errno);
	CLEAR(c->guard);
	CLEAR(c->guard_action);
	CLEAR(c->log_level);
	CLEAR(c->store_name[0]);
	CLEAR(c->seed[0]);
	CLEAR(c->save[0]);
	CLEAR(c->report[0]);
	CLEAR(c->chart[0]);
	CLEAR(c->fault[0]);
	CLEAR(c->fail[0]);
}
#undef CLEAR

/* Fills *c from the environment seen through get (NULL = environ).
 * Returns 0, or -EINVAL with one line in err (no newline) for the first
 * malformed variable, in the order of vars[]; *c is then only partly filled
 * and must not be used. A percentage quota calls the guard's current probe
 * (ms_guard_set_probe) once. Allocates nothing; thread-safe as long as the
 * environment does not change under it. */
int ms_config_load(struct ms_config *c, ms_getenv_fn get, char *err, size_t errlen)
{
	int nodes_set = 0;
	size_t i;
	int r;

	if (err && errlen)
		err[0] = '\0';
	config_clear(c);
	struct env_list env = {.n = 0};
	if (!get)
		env_gather(&env);
	memcpy(c->prefix[0], "/mem", sizeof("/mem"));
	c->nprefix = 1;
	c->max_bytes = MS_DEFAULT_QUOTA;
	c->quota_errno = ENOSPC;
	c->guard = MS_GUARD_INIT;
	c->guard_action = MS_GUARD_WARN;
	c->guard_interval_ns = NS_PER_S;
	c->log_level = MS_LOG_WARN;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *val = get ? get(vars[i].var) : env_get(&env, vars[i].var);

		if (!val)
			continue;
		if (!*val)
			return bad(err, errlen, vars[i].var, val, vars[i].example,
				   "empty value (unset the variable for the default)");
		r = vars[i].load(c, vars[i].var, val, err, errlen);
		if (r)
			return r;
		if (vars[i].load == load_nodes)
			nodes_set = 1;
	}

	if (!nodes_set && c->max_bytes) {
		uint64_t n = c->max_bytes / MS_BYTES_PER_DEFAULT_NODE;

		/* a tiny quota still gets room for a handful of files */
		if (n < 16)
			n = 16;
		if (n > NODES_MAX)
			n = NODES_MAX;
		c->max_nodes = n;
	}
	return 0;
}
