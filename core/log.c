/* core/log.c — memshim's log lines.
 *
 * Owns ms_log() and ms_logc(): one line per call, "memshim: " first, '\n'
 * last, written to fd 2 with one raw write(2) so a line is not interleaved
 * with another process's and never goes through stdio (whose stderr may be
 * a store stream the shim swapped in, or locked by the interrupted code) or
 * through a wrapped write. Formatting is vsnprintf into a stack buffer: no
 * allocation for the formats core uses (integers and strings).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "sys.h"

/* Longer lines are cut and end with "..."; 512 fits every line core writes
 * with a path in it, and stays well under PIPE_BUF so the write is atomic on
 * a pipe. */
#define LOG_LINE 512
#define LOG_PREFIX "memshim: "

static void vlog(enum ms_log_level level, const char *fmt, va_list ap)
{
	char buf[LOG_LINE];
	const size_t pre = sizeof(LOG_PREFIX) - 1;
	/* room for the message: the prefix, the '\n' and the NUL are outside */
	const size_t room = sizeof(buf) - pre - 2;
	int saved = errno;
	size_t len, off = 0, i;
	int n;

	(void)level;
	memcpy(buf, LOG_PREFIX, pre);
	n = vsnprintf(buf + pre, room + 1, fmt, ap);
	if (n < 0)
		n = 0;
	len = (size_t)n;
	if (len > room) {
		len = room;
		memcpy(buf + pre + len - 3, "...", 3);
	}
	len += pre;
	/* one record per line, whatever the message held */
	while (len > pre && buf[len - 1] == '\n')
		len--;
	for (i = pre; i < len; i++) {
		if (buf[i] == '\n')
			buf[i] = ' ';
	}
	buf[len++] = '\n';

	while (off < len) {
		ssize_t r = sys_write(2, buf + off, len - off);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			break; /* nowhere to report that stderr is gone */
		off += (size_t)r;
	}
	errno = saved;
}

/* Logs when level <= the store's configured level (MS_LOG_WARN when s is
 * NULL). Never allocates, never fails, keeps errno. */
void ms_log(const struct ms_store *s, enum ms_log_level level, const char *fmt, ...)
{
	enum ms_log_level cfg = s ? s->cfg.log_level : MS_LOG_WARN;
	va_list ap;

	if (level > cfg)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/* The same before there is a store: the caller passes the configured level
 * (e.g. from a freshly loaded struct ms_config). */
void ms_logc(enum ms_log_level cfg_level, enum ms_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > cfg_level)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}
