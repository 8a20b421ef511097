/* util.c: the clock, the OS random source, and identifiers made from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core.h"

/* ---- clock ---- */

int64_t
tg_now(void)
{
	if (cfg.now != 0)
		return cfg.now;
	return (int64_t)time(NULL) + cfg.clock_offset;
}

int64_t
tg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
digits(char *out, unsigned v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* By arithmetic (days to civil date, as in H. Hinnant's chrono notes):
 * glibc's gmtime_r takes its time-zone lock, which every thread took for
 * every time in every answer and log line. */
void
tg_time_format(int64_t t, char *out, size_t outlen)
{
	/* Years 0000 to 9999 only: the arithmetic below cannot overflow. */
	int64_t tt = t < -62167219200 || t > 253402300799 ? 0 : t;
	int64_t days = tt >= 0 ? tt / 86400 : (tt - 86399) / 86400, secs = tt - days * 86400;
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097, year;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	unsigned day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
	char buf[21];

	year = (int64_t)yoe + era * 400 + (month <= 2);
	if (tt != t || year < 0 || year > 9999 || outlen < sizeof(buf)) {
		if (outlen > 0)
			*out = '\0';
		return;
	}
	digits(buf, (unsigned)year, 4);
	buf[4] = '-';
	digits(buf + 5, month, 2);
	buf[7] = '-';
	digits(buf + 8, day, 2);
	buf[10] = 'T';
	digits(buf + 11, (unsigned)(secs / 3600), 2);
	buf[13] = ':';
	digits(buf + 14, (unsigned)(secs / 60 % 60), 2);
	buf[16] = ':';
	digits(buf + 17, (unsigned)(secs % 60), 2);
	buf[19] = 'Z';
	buf[20] = '\0';
	memcpy(out, buf, sizeof(buf));
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
tg_month(int64_t t, char *out, size_t outlen, int64_t *next_start)
{
	char when[32];
	int y, m;

	tg_time_format(t, when, sizeof(when));
	if (*when == '\0' || outlen < 8)
		return -1;
	memcpy(out, when, 7); /* YYYY-MM */
	out[7] = '\0';
	if (next_start != NULL) {
		y = atoi(when);
		m = atoi(when + 5);
		*next_start =
		    days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : (unsigned)m + 1, 1) * 86400;
	}
	return 0;
}

/* ---- text without printf ---- */

size_t
tg_append(char *out, size_t outlen, size_t n, const char *s, size_t max)
{
	for (; *s != '\0' && max-- > 0 && n + 1 < outlen; s++)
		out[n++] = *s;
	if (n < outlen)
		out[n] = '\0';
	return n;
}

size_t
tg_append_num(char *out, size_t outlen, size_t n, int64_t v)
{
	char digits[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t d = sizeof(digits) - 1;

	digits[d] = '\0';
	do
		digits[--d] = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		digits[--d] = '-';
	return tg_append(out, outlen, n, digits + d, sizeof(digits));
}

/* ---- randomness and ids ---- */

int
tg_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Random bytes for request ids from a per-thread pool refilled from the OS
 * a page at a time: one getrandom(2) per ~400 requests instead of one each.
 * Only ids use it; keys, salts and secrets call tg_random directly. */
static int
ulid_random(unsigned char *out, size_t len)
{
	static __thread unsigned char pool[4096];
	static __thread size_t used = sizeof(pool);

	if (len > sizeof(pool))
		return -1;
	if (used + len > sizeof(pool)) {
		if (tg_random(pool, sizeof(pool)) < 0)
			return -1;
		used = 0;
	}
	memcpy(out, pool + used, len);
	explicit_bzero(pool + used, len);
	used += len;
	return 0;
}

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int
tg_id_new(const char *prefix, char *out, size_t outlen)
{
	static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char raw[20];
	size_t plen = strlen(prefix);

	if (outlen < plen + 2 + sizeof(raw) || tg_random(raw, sizeof(raw)) < 0)
		return -1;
	memcpy(out, prefix, plen);
	out[plen] = '_';
	/* 20 characters of 36 symbols: about 103 bits. */
	for (size_t i = 0; i < sizeof(raw); i++)
		out[plen + 1 + i] = alphabet[raw[i] % 36];
	out[plen + 1 + sizeof(raw)] = '\0';
	return 0;
}

int
tg_ulid_new(char *out, size_t outlen)
{
	unsigned char rnd[10];
	uint64_t ms = (uint64_t)tg_now_ms();
	int i;

	if (outlen < 27)
		return -1;
	if (ulid_random(rnd, sizeof(rnd)) < 0)
		memset(rnd, 0, sizeof(rnd));
	/* 48 bits of milliseconds as 10 characters, then 80 random bits as 16. */
	for (i = 9; i >= 0; i--) {
		out[i] = crockford[ms & 31];
		ms >>= 5;
	}
	for (i = 0; i < 16; i++) {
		int bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)rnd[byte] << 8 | (byte + 1 < 10 ? rnd[byte + 1] : 0);

		out[10 + i] = crockford[(v >> (11 - shift)) & 31];
	}
	out[26] = '\0';
	return 0;
}

int
tg_time_parse(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *p;
	int off = 0, n = 0;

	if (s == NULL ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -1;
	p = s + n;
	if (*p == '.') /* fractions of a second are dropped */
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' && p[1] == '\0')
		off = 0;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int h, m;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2 || h > 23 || m > 59)
			return -1;
		off = (h * 60 + m) * 60 * (*p == '-' ? -1 : 1);
	} else
		return -1;
	if (tm.tm_year < 1970 || tm.tm_year > 9999 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}

size_t
tg_utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = *p, need, min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) <= need)
		return 0;
	for (unsigned i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}
