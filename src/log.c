/* log.c: log lines on stderr, one event a line, with time and request id. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tollgate.h"

void
log_msg(const char *rid, const char *fmt, ...)
{
	char line[2048], when[32];
	struct timespec ts;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	tg_time_format(ts.tv_sec, when, sizeof(when));
	when[strcspn(when, "Z")] = '\0';
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s ", when, ts.tv_nsec / 1000000,
	    rid != NULL && *rid != '\0' ? rid : "-");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write(2) per line, so lines from threads never interleave, and
	 * no stdio lock: with fprintf every thread queued on stderr's lock
	 * while one was in the system call (futex wake-ups on each request). */
	n = (int)strnlen(line, sizeof(line) - 1);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return; /* nowhere left to say so */
}
