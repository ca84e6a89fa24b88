/* log: error and access log lines, to files (master) or a pipe (workers). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/log.h"

static const char *log_names[] = { "none", "error", "warning", "info", "debug" };

static struct {
	char		 ident[32];
	int		 level;
	int		 error_fd, access_fd, pipe_fd;
	uint64_t	 dropped;
} lg = { "sluice", SL_LOGL_WARNING, 2, 2, -1, 0 };

void
sl_log_ident(const char *ident)
{
	snprintf(lg.ident, sizeof(lg.ident), "%s", ident);
}

void
sl_log_level(int level)
{
	lg.level = level;
}

int
sl_log_enabled(int level)
{
	return level <= lg.level && level > SL_LOGL_NONE;
}

static void
close_log_fd(int fd, int keep1, int keep2)
{
	if (fd > 2 && fd != keep1 && fd != keep2)
		close(fd);
}

void
sl_log_files(int error_fd, int access_fd)
{
	int old_e = lg.error_fd, old_a = lg.access_fd;

	lg.error_fd = error_fd;
	lg.access_fd = access_fd;
	close_log_fd(old_e, error_fd, access_fd);
	if (old_a != old_e)
		close_log_fd(old_a, error_fd, access_fd);
}

void
sl_log_pipe(int fd)
{
	lg.pipe_fd = fd;
}

uint64_t
sl_log_dropped(void)
{
	return lg.dropped;
}

static size_t
stamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	return strftime(buf, cap, "%Y/%m/%d %H:%M:%S", &tm);
}

void
sl_log_write_record(const char *rec, size_t len)
{
	int fd;

	if (len < 2)
		return;
	fd = rec[0] == SL_LOG_REC_ACCESS ? lg.access_fd : lg.error_fd;
	if (fd >= 0 && write(fd, rec + 1, len - 1) < 0)
		lg.dropped++;
}

/* LINE is a record without its kind byte, which line[-1] has room for:
 * to the pipe, or written here as the master writes workers' records. */
static void
emit(char kind, char *line, size_t len)
{
	line[-1] = kind;
	if (lg.pipe_fd < 0) {
		sl_log_write_record(line - 1, len + 1);
		return;
	}
	/* One atomic write; a full pipe drops the line (counted). */
	if (write(lg.pipe_fd, line - 1, len + 1) != (ssize_t)len + 1)
		lg.dropped++;
}

/* Format "<stamp> <prefix><message>\n" into buf+1 (buf[0] is for the kind). */
static size_t
format_line(char *buf, size_t cap, const char *prefix, const char *fmt,
    va_list ap)
{
	char *p = buf + 1;
	size_t n, room = cap - 2;
	int r;

	n = stamp(p, room);
	r = snprintf(p + n, room - n, " %s", prefix);
	n += r > 0 ? (size_t)r : 0;
	if (n >= room)
		n = room - 1;
	r = vsnprintf(p + n, room - n, fmt, ap);
	if (r > 0) {
		size_t m = (size_t)r < room - n ? (size_t)r : room - n - 1;

		/* One record is one line: peers' bytes can hold newlines. */
		for (size_t i = n; i < n + m; i++)
			if ((unsigned char)p[i] < 0x20)
				p[i] = ' ';
		n += m;
	}
	p[n++] = '\n';
	return n;
}

void
sl_logv(int level, const char *fmt, va_list ap)
{
	char buf[SL_LOG_LINE + 2], prefix[64];
	int saved = errno;
	size_t n;

	if (!sl_log_enabled(level))
		return;
	snprintf(prefix, sizeof(prefix), "[%s] %s: ", log_names[level],
	    lg.ident);
	n = format_line(buf, sizeof(buf), prefix, fmt, ap);
	emit(SL_LOG_REC_ERROR, buf + 1, n);
	errno = saved;
}

void
sl_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_logv(level, fmt, ap);
	va_end(ap);
}

void
sl_log_access(const char *fmt, ...)
{
	char buf[SL_LOG_LINE + 2];
	va_list ap;
	size_t n;

	if (lg.access_fd < 0 && lg.pipe_fd < 0)
		return;
	va_start(ap, fmt);
	n = format_line(buf, sizeof(buf), "", fmt, ap);
	va_end(ap);
	emit(SL_LOG_REC_ACCESS, buf + 1, n);
}

void
sl_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_logv(SL_LOGL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
