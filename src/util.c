/* util.c: the clock, the OS random source, identifiers made from them, and
 * the hash of stored secrets. */
/* SHA256_Init & co.: see tg_sha256_hex. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/sha.h>

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

/* ---- UTF-8 ---- */

size_t
tg_utf8_clean(const char *src, size_t max, char *out, size_t outlen)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)src, *end = p + strlen(src);
	size_t n = 0;

	if (outlen == 0)
		return 0;
	if (max > outlen - 1)
		max = outlen - 1;
	while (p < end) {
		size_t len = tg_utf8_len(p, end);
		const char *from = (const char *)p;

		if (len == 0) { /* an invalid byte: one U+FFFD for it */
			from = replacement;
			len = 3;
			p++;
		} else
			p += len;
		if (n + len > max)
			break;
		memcpy(out + n, from, len);
		n += len;
	}
	out[n] = '\0';
	return n;
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

void
tg_sha256_hex(const char *s, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	/* Not SHA256(): in OpenSSL 3 that fetches the algorithm from its
	 * provider on every call, a third of a key check's time. */
	SHA256_Init(&c);
	SHA256_Update(&c, s, strlen(s));
	SHA256_Final(md, &c);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[64] = '\0';
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

/* Reads n ASCII digits at *p into *v and moves past them; -1 otherwise. */
static int
time_digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

/* RFC 3339 section 5.6, strictly: date-time = full-date "T" full-time;
 * every field its exact digits and range, the day within its month (29
 * February in leap years), seconds 60 only for a leap second (23:59:60
 * UTC), "T"/"Z" in either case, an optional fraction (dropped). */
int
tg_time_parse(const char *s, int64_t *out)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 1, leap, utc_min;
	const char *p = s;

	if (s == NULL || time_digits(&p, 4, &y) < 0 || *p++ != '-' || time_digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || time_digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't'))
		return -1;
	p++;
	if (time_digits(&p, 2, &h) < 0 || *p++ != ':' || time_digits(&p, 2, &mi) < 0 ||
	    *p++ != ':' || time_digits(&p, 2, &sec) < 0)
		return -1;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (time_digits(&p, 2, &oh) < 0 || *p++ != ':' || time_digits(&p, 2, &om) < 0 ||
		    oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	utc_min = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
	if (sec == 60 && utc_min != 1439)
		return -1;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec -
	    (int64_t)sign * (oh * 3600 + om * 60);
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
