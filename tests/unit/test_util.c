/* test_util.c: times written by arithmetic match the C library's gmtime;
 * times are read by RFC 3339's grammar and nothing looser. */
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

static void
test_time_parse(void)
{
	static const struct {
		const char *in;
		int64_t want;
	} good[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2027-01-01T00:00:00Z", 1798761600 },
		{ "2027-01-01t00:00:00z", 1798761600 },
		{ "2027-01-01T00:00:00.123456Z", 1798761600 },
		{ "2027-01-01T01:30:00+01:30", 1798761600 },
		{ "2026-12-31T22:00:00-02:00", 1798761600 },
		{ "2028-02-29T12:00:00Z", 1835438400 }, /* a leap year */
		{ "2000-02-29T00:00:00Z", 951782400 }, /* divisible by 400 */
		{ "2026-12-31T23:59:60Z", 1798761600 }, /* a leap second */
		{ "2027-01-01T00:59:60+01:00", 1798761600 },
		{ "9999-12-31T23:59:59Z", 253402300799 },
		{ "2027-04-30T23:59:59Z", 1809129599 },
	};
	static const char *const bad[] = { "2027-02-31T10:00:00Z", "2027-01-01T-1:-1:-1Z",
		"2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2027-04-31T00:00:00Z",
		"2027-13-01T00:00:00Z", "2027-00-01T00:00:00Z", "2027-01-00T00:00:00Z",
		"2027-01-32T00:00:00Z", "2027-01-01T24:00:00Z", "2027-01-01T23:60:00Z",
		"2027-01-01T23:59:61Z", "2027-01-01T12:00:60Z", "2027-01-01T00:00:00",
		"2027-01-01 00:00:00Z", "2027-01-01T00:00:00+0100", "2027-01-01T00:00:00+24:00",
		"2027-01-01T00:00:00+01:60", "2027-01-01T00:00:00.Z", "2027-01-01T00:00:00Zx",
		"2027-1-01T00:00:00Z", "27-01-01T00:00:00Z", "+2027-01-01T00:00:00Z",
		"2027-01-01T0:00:00Z", "2027-01-01T 1:00:00Z", "2027-01-01T+1:00:00Z", "2027-01-01",
		"", "2027-01-01T00:00:00ZZ", "2027/01/01T00:00:00Z", "2027-01-01T00:00:00+01:00 ",
		"\xef\xbc\x92\x30\x32\x37-01-01T00:00:00Z" /* a fullwidth 2 */ };
	int64_t t;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = -1;
		if (tg_time_parse(good[i].in, &t) != 0 || t != good[i].want)
			printf("#   %s: %lld\n", good[i].in, (long long)t);
		CHECK(tg_time_parse(good[i].in, &t) == 0 && t == good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tg_time_parse(bad[i], &t) == 0)
			printf("#   accepted: %s\n", bad[i]);
		CHECK(tg_time_parse(bad[i], &t) < 0);
	}
	CHECK(tg_time_parse(NULL, &t) < 0);
}

/* Whether s is valid UTF-8 (the shortest forms, no surrogates). */
static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);

	while (p < end) {
		size_t n = tg_utf8_len(p, end);

		if (n == 0)
			return 0;
		p += n;
	}
	return 1;
}

static void
test_utf8_clean(void)
{
	char out[128], e64[129] = "";
	size_t n;

	CHECK(tg_utf8_clean("Mozilla/5.0", 100, out, sizeof(out)) == 11 &&
	    strcmp(out, "Mozilla/5.0") == 0);
	/* A User-Agent "Mozilla \xff\xfe": each bad byte replaced. */
	n = tg_utf8_clean("Mozilla \xff\xfe", 100, out, sizeof(out));
	CHECK(n == 14 && strcmp(out, "Mozilla \xef\xbf\xbd\xef\xbf\xbd") == 0);
	/* Overlong forms, surrogates, past U+10FFFF, a cut sequence: replaced. */
	static const char *const bad[] = { "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe2\x82", "a\xc3", "\x80", "\xfe\xff" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tg_utf8_clean(bad[i], 100, out, sizeof(out));
		CHECK(valid_utf8(out) && strstr(out, "\xef\xbf\xbd") != NULL);
	}
	/* Valid characters of every length stay as they are. */
	CHECK(tg_utf8_clean("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 100, out,
	          sizeof(out)) == 13);
	/* Cut at a character boundary: 100 bytes of "é"s is 50 of them; 101
	 * bytes is 50 too, never half of the 51st. */
	for (int i = 0; i < 64; i++)
		strcat(e64, "\xc3\xa9");
	CHECK(tg_utf8_clean(e64, 100, out, sizeof(out)) == 100 && valid_utf8(out));
	CHECK(tg_utf8_clean(e64, 101, out, sizeof(out)) == 100 && valid_utf8(out));
	CHECK(tg_utf8_clean(e64, 1000, out, 10) == 8 && valid_utf8(out));
	CHECK(tg_utf8_clean("\xff\xff", 4, out, sizeof(out)) == 3 && valid_utf8(out));
	CHECK(tg_utf8_clean("abc", 0, out, sizeof(out)) == 0 && *out == '\0');
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
	TEST(test_time_parse);
	TEST(test_utf8_clean);
	return unit_done();
}
