/* test_util.c: times written by arithmetic match the C library's gmtime. */
#include <string.h>
#include <time.h>

#include "../../src/util.c"
#include "unit.h"

static int
same_as_gmtime(int64_t t)
{
	char mine[32], libc[32];
	time_t tt = (time_t)t;
	struct tm tm;

	tg_time_format(t, mine, sizeof(mine));
	gmtime_r(&tt, &tm);
	strftime(libc, sizeof(libc), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (strcmp(mine, libc) != 0)
		printf("#   %lld: %s, gmtime %s\n", (long long)t, mine, libc);
	return strcmp(mine, libc) == 0;
}

static void
test_time_format(void)
{
	static const int64_t edges[] = { 0, 1, -1, 86399, 86400, 951782400 /* 2000-02-29 */,
		951868799, 4107542400 /* 2100-03-01 */, 4102444799, 1700000000,
		253402300799 /* 9999-12-31T23:59:59 */ };
	char out[32];
	int bad = 0;

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		CHECK(same_as_gmtime(edges[i]));
	/* Every day from 1900 to 2200 at a moving time of day. */
	for (int64_t t = -2208988800; t < 7258118400 && bad < 5; t += 86400 + 3607)
		bad += !same_as_gmtime(t);
	CHECK(bad == 0);
	/* Year 0 in four digits, as RFC 3339 has it (glibc's %Y says "0"). */
	tg_time_format(-62167219200, out, sizeof(out));
	CHECK(strcmp(out, "0000-01-01T00:00:00Z") == 0);
	/* Outside four-digit years: empty, never a wrong date. */
	tg_time_format(253402300800, out, sizeof(out));
	CHECK(*out == '\0');
	tg_time_format(INT64_MIN, out, sizeof(out));
	CHECK(*out == '\0');
	tg_time_format(INT64_MAX, out, sizeof(out));
	CHECK(*out == '\0');
	tg_time_format(1700000000, out, 10);
	CHECK(*out == '\0');
}

static void
test_month(void)
{
	char out[16];
	int64_t next = 0;
	int bad = 0;

	CHECK(tg_month(1700000000, out, sizeof(out), &next) == 0 && strcmp(out, "2023-11") == 0);
	CHECK(next == 1701388800); /* 2023-12-01T00:00:00Z */
	CHECK(tg_month(1703980800, out, sizeof(out), &next) == 0 && strcmp(out, "2023-12") == 0);
	CHECK(next == 1704067200); /* 2024-01-01 */
	CHECK(tg_month(951782400, out, sizeof(out), &next) == 0 && strcmp(out, "2000-02") == 0);
	CHECK(next == 951868800); /* 2000-03-01, after a leap day */
	/* Against timegm, every month start from 1900 to 2200. */
	for (int y = 1900; y < 2200 && bad < 5; y++)
		for (int m = 0; m < 12; m++) {
			struct tm tm = { .tm_year = y - 1900, .tm_mon = m, .tm_mday = 1 };
			int64_t start = (int64_t)timegm(&tm), want;

			tm.tm_mon++;
			want = (int64_t)timegm(&tm);
			if (tg_month(start + 86400 * 3 + 5, out, sizeof(out), &next) != 0 ||
			    next != want)
				bad++;
		}
	CHECK(bad == 0);
	CHECK(tg_month(INT64_MAX, out, sizeof(out), &next) == -1);
}

/* The one UTF-8 decoder: RFC 3629, no overlongs, no surrogates. */
static size_t
u8(const char *s)
{
	return tg_utf8_len((const unsigned char *)s, (const unsigned char *)s + strlen(s));
}

static void
test_utf8(void)
{
	CHECK(u8("a") == 1);
	CHECK(u8("\xc3\xa9") == 2); /* é */
	CHECK(u8("\xe2\x82\xac") == 3); /* € */
	CHECK(u8("\xf0\x9f\x98\x80") == 4); /* U+1F600 */
	CHECK(u8("\xf4\x8f\xbf\xbf") == 4); /* U+10FFFF */
	CHECK(u8("\xc0\x80") == 0); /* overlong NUL */
	CHECK(u8("\xe0\x80\xaf") == 0); /* overlong '/' */
	CHECK(u8("\xed\xa0\x80") == 0); /* a surrogate */
	CHECK(u8("\xf4\x90\x80\x80") == 0); /* past U+10FFFF */
	CHECK(u8("\xe2\x82") == 0); /* cut short */
	CHECK(u8("\x80") == 0 && u8("\xff") == 0);
	CHECK(u8("\xc3(") == 0);
}

int
main(void)
{
	TEST(test_utf8);
	TEST(test_time_format);
	TEST(test_month);
	return unit_done();
}
