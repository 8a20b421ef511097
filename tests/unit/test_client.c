/* test_client.c: the client's address behind trusted proxies, the proxy
 * list's check, and the bucket an address counts in. */
#include <stdlib.h>
#include <string.h>

#include "../../src/client.c"
#include "unit.h"

static int
client(const char *remote, const char *xff, const char *want)
{
	char out[64];

	client_ip(remote, xff, out, sizeof(out));
	if (strcmp(out, want) != 0) {
		printf("#   client(%s, %s) = %s, want %s\n", remote, xff ? xff : "NULL", out, want);
		return 0;
	}
	return 1;
}

static void
test_client_ip(void)
{
	char out[64];

	/* No proxies configured: X-Forwarded-For is never believed. */
	cfg.trusted_proxies[0] = '\0';
	CHECK(client("203.0.113.5", "1.2.3.4", "203.0.113.5"));
	CHECK(client("203.0.113.5", NULL, "203.0.113.5"));
	CHECK(client("255.255.255.0", NULL, "255.255.255.0"));
	CHECK(client("0.0.0.1", NULL, "0.0.0.1"));
	snprintf(cfg.trusted_proxies, sizeof(cfg.trusted_proxies), "10.0.0.0/8, 192.168.1.1");
	/* From a proxy that is not trusted: ignored too. */
	CHECK(client("203.0.113.5", "1.2.3.4", "203.0.113.5"));
	CHECK(client("10.0.0.1", "1.2.3.4", "1.2.3.4"));
	CHECK(client("10.0.0.1", NULL, "10.0.0.1"));
	CHECK(client("10.0.0.1", "", "10.0.0.1"));
	/* A client's own X-Forwarded-For is to the left of what proxies add. */
	CHECK(client("10.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"));
	CHECK(client("10.0.0.1", "10.9.9.9, 1.2.3.4", "1.2.3.4"));
	CHECK(client("10.0.0.1", "6.6.6.6, 1.2.3.4, 192.168.1.1, 10.1.1.1", "1.2.3.4"));
	CHECK(client("10.0.0.1", "10.2.2.2, 192.168.1.1", "10.2.2.2"));
	CHECK(client("10.0.0.1", " , ,1.2.3.4 ,", "1.2.3.4"));
	CHECK(client("10.0.0.1", "1.2.3.4:5678", "1.2.3.4"));
	/* Garbage stops the walk at the last hop known. */
	CHECK(client("10.0.0.1", "1.2.3.4, garbage", "10.0.0.1"));
	CHECK(client("10.0.0.1", "1.2.3.4, garbage, 10.3.3.3", "10.3.3.3"));
	CHECK(client("10.0.0.1", "garbage, 1.2.3.4", "1.2.3.4"));
	CHECK(client("10.0.0.1", "1.2.3.4:99999999", "10.0.0.1"));
	CHECK(client("10.0.0.1", "1.2.3.4:", "10.0.0.1"));
	CHECK(client("10.0.0.1", "01.2.3.4", "10.0.0.1"));
	CHECK(client("10.0.0.1", "1.2.3.4/8", "10.0.0.1"));
	CHECK(client("10.0.0.1", "fe80::1%eth0", "10.0.0.1"));
	CHECK(client("10.0.0.1", "[1.2.3.4]", "10.0.0.1"));
	CHECK(client("10.0.0.1", "\"1.2.3.4\"", "10.0.0.1"));
	/* IPv6, brackets and ports, IPv4-mapped addresses. */
	snprintf(cfg.trusted_proxies, sizeof(cfg.trusted_proxies), "::1 2001:db8::/32,10.0.0.0/8");
	CHECK(client("::1", "2001:db9::1", "2001:db9::1"));
	CHECK(client("::1", "[2001:DB9:0:0::1]:443", "2001:db9::1"));
	CHECK(client("::1", "2001:db9::7, 2001:db8::5", "2001:db9::7"));
	CHECK(client("::1", "2001:db8::5", "2001:db8::5"));
	CHECK(client("::2", "2001:db9::1", "::2"));
	CHECK(client("::ffff:10.0.0.1", "1.2.3.4", "1.2.3.4"));
	CHECK(client("::ffff:203.0.113.9", "1.2.3.4", "203.0.113.9"));
	CHECK(client("10.0.0.1", "::ffff:1.2.3.4", "1.2.3.4"));
	/* Everything trusted: the left-most entry is the best known. */
	snprintf(cfg.trusted_proxies, sizeof(cfg.trusted_proxies), "0.0.0.0/0");
	CHECK(client("10.0.0.1", "1.2.3.4, 5.6.7.8", "1.2.3.4"));
	/* A REMOTE_ADDR that is no address is kept, printable, and reported. */
	CHECK(client_ip("unix:", "1.2.3.4", out, sizeof(out)) == -1);
	CHECK(strcmp(out, "unix:") == 0);
	CHECK(client_ip("", NULL, out, sizeof(out)) == -1 && strcmp(out, "unknown") == 0);
	CHECK(client_ip(NULL, NULL, out, sizeof(out)) == -1);
	CHECK(client_ip("a b\r\n", NULL, out, sizeof(out)) == -1);
	CHECK(strcmp(out, "ab") == 0);
	CHECK(client_ip("1.2.3.4", NULL, out, sizeof(out)) == 0);
	cfg.trusted_proxies[0] = '\0';
}

static void
test_trusted_proxies_checked(void)
{
	static const char *const good[] = { "", "10.0.0.0/8", " 127.0.0.1 , ::1 ", "::/0",
		"2001:db8::/32, 192.168.0.0/16 10.0.0.1" };
	static const char *const bad[] = { "10.0.0.0/33", "1.2.3.4/", "::/129", "localhost",
		"10.0.0.0/8, nope", "1.2.3.4/-1", "1.2.3.4/08x" };
	char err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(client_proxies_check(good[i], err, sizeof(err)) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(client_proxies_check(bad[i], err, sizeof(err)) == -1);
	CHECK(client_proxies_check("10.0.0.0/8, nope", err, sizeof(err)) == -1);
	CHECK(strstr(err, "TOLLGATE_TRUSTED_PROXIES") && strstr(err, "\"nope\""));
}

static void
test_client_bucket(void)
{
	char out[80];

	client_bucket("2001:db8:1:2:3:4:5:6", out, sizeof(out));
	CHECK(strcmp(out, "2001:db8:1:2::/64") == 0);
	client_bucket("192.0.2.1", out, sizeof(out));
	CHECK(strcmp(out, "192.0.2.1") == 0);
	client_bucket("::ffff:192.0.2.1", out, sizeof(out));
	CHECK(strcmp(out, "192.0.2.1") == 0);
	client_bucket("unix:", out, sizeof(out));
	CHECK(strcmp(out, "unix:") == 0);
}

int
main(void)
{
	TEST(test_client_ip);
	TEST(test_trusted_proxies_checked);
	TEST(test_client_bucket);
	return unit_done();
}
