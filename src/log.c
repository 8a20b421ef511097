/* log.c: log lines on stderr, one event a line, with time and request id. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

void
log_text(const char *rid, const char *text)
{
	char line[2048];
	struct timespec ts;
	size_t n, len;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	tg_time_format(ts.tv_sec, line, sizeof(line));
	n = strcspn(line, "Z"); /* then .mmmZ */
	ms = ts.tv_nsec / 1000000;
	line[n++] = '.';
	line[n++] = (char)('0' + ms / 100);
	line[n++] = (char)('0' + ms / 10 % 10);
	line[n++] = (char)('0' + ms % 10);
	line[n++] = 'Z';
	line[n++] = ' ';
	rid = rid != NULL && *rid != '\0' ? rid : "-";
	len = strnlen(rid, 64);
	memcpy(line + n, rid, len);
	n += len;
	line[n++] = ' ';
	len = strnlen(text, sizeof(line) - n - 1);
	memcpy(line + n, text, len);
	n += len;
	/* One write(2) per line, so lines from threads never interleave, and
	 * no stdio lock: with fprintf every thread queued on stderr's lock
	 * while one was in the system call (futex wake-ups on each request). */
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return; /* nowhere left to say so */
}

void
log_msg(const char *rid, const char *fmt, ...)
{
	char text[1900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_text(rid, text);
}
