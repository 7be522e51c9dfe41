/*-------------------------------------------------------------------------
 *
 * log.c
 *		The receiver's log on stderr: one line per request, and lines for
 *		start-up, shutdown and database trouble.
 *
 * Every line starts with the UTC time (ISO 8601, milliseconds) and goes out
 * in a single write(2), so lines of concurrent requests never interleave.
 * Nothing a client sent reaches the log except the method and the path,
 * and those through log_token(), which percent-encodes whatever is not
 * printable ASCII: a client cannot forge a line or hide one.  The body (it
 * carries the per-call token) is never logged, nor are the server's error
 * messages, which may quote it; the SQLSTATE says what happened.
 *
 *-------------------------------------------------------------------------
 */
#include "receiver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

/* Seconds on the monotonic clock, for deadlines and durations. */
double
now_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Writes "2026-01-15T14:32:00.123Z " into dst (at least 32 bytes). */
static size_t
FormatNow(char *dst, size_t dstlen)
{
	struct timespec ts;
	struct tm	tm;
	size_t		n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(dst, dstlen, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t) snprintf(dst + n, dstlen - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	return n;
}

/* Writes a whole line to stderr, retrying short writes. */
static void
WriteLine(const char *line, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = write(STDERR_FILENO, line, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		line += w;
		len -= (size_t) w;
	}
}

/* Ends buf (of size LOG_LINE_MAX, n bytes used) with a newline and writes it. */
static void
FinishLine(char *buf, size_t n)
{
	if (n > LOG_LINE_MAX - 2)
		n = LOG_LINE_MAX - 2;
	buf[n++] = '\n';
	WriteLine(buf, n);
}

/*
 * A line of the receiver's own: "TIME liveid-receiver: message".  Text that
 * came from elsewhere (libpq's messages) must have passed log_text().
 */
void
log_line(const char *fmt,...)
{
	char		buf[LOG_LINE_MAX];
	size_t		n = FormatNow(buf, sizeof(buf));
	va_list		ap;
	int			w;

	n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s: ", RECEIVER_NAME);
	va_start(ap, fmt);
	w = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	n = w < 0 ? n : n + (size_t) w;
	FinishLine(buf, n >= sizeof(buf) ? sizeof(buf) - 1 : n);
}

/*
 * Copies src as one log token: printable ASCII other than space and '%'
 * as it is, every other byte as %XX; cut at dstlen with "..." at the end.
 */
void
log_token(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		n = 0;

	if (dstlen < 8)
	{
		if (dstlen > 0)
			dst[0] = '\0';
		return;
	}
	for (; *src; src++)
	{
		unsigned char c = (unsigned char) *src;
		bool		plain = c > 0x20 && c < 0x7f && c != '%';

		if (n + (plain ? 1 : 3) > dstlen - 4)
		{
			memcpy(dst + n, "...", 3);
			n += 3;
			break;
		}
		if (plain)
			dst[n++] = (char) c;
		else
		{
			dst[n++] = '%';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		}
	}
	dst[n] = '\0';
}

/*
 * Copies src (a library's message, maybe several lines) as one line of
 * text: control characters and line breaks become spaces, runs of them one
 * space, trailing ones dropped; cut at dstlen.
 */
void
log_text(char *dst, size_t dstlen, const char *src)
{
	size_t		n = 0;
	bool		space = false;

	if (dstlen == 0)
		return;
	for (; *src && n + 1 < dstlen; src++)
	{
		unsigned char c = (unsigned char) *src;

		if (c < 0x20 || c == 0x7f || c == ' ')
		{
			space = n > 0;
			continue;
		}
		if (space && n + 2 < dstlen)
			dst[n++] = ' ';
		space = false;
		dst[n++] = (char) c;
	}
	dst[n] = '\0';
}

/*
 * The line of one request:
 *   TIME ADDR METHOD PATH STATUS BYTESB DURATIONms DETAIL
 * STATUS is "-" when none was sent (the client went away, or was dropped);
 * DETAIL is event=N, sqlstate=XXXXX or reason=word.  method and path are
 * raw: they are passed through log_token() here.
 */
void
log_request(const char *addr, const char *method, const char *path,
			int status, size_t bytes, double ms, const char *detail)
{
	char		buf[LOG_LINE_MAX];
	char		m[40];
	char		p[300];
	char		st[12];
	size_t		n = FormatNow(buf, sizeof(buf));

	log_token(m, sizeof(m), method ? method : "-");
	log_token(p, sizeof(p), path ? path : "-");
	if (status > 0)
		snprintf(st, sizeof(st), "%d", status);
	else
		strcpy(st, "-");
	n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s %s %s %s %zuB %.1fms %s",
						   addr, m, p, st, bytes, ms, detail);
	FinishLine(buf, n >= sizeof(buf) ? sizeof(buf) - 1 : n);
}
