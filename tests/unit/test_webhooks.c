/* test_webhooks.c: where a webhook may send (ssrf.c, with a stubbed
 * resolver: nothing here looks a name up or connects anywhere) and how its
 * signing secret is sealed (webhooks.c, with seal.c). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ssrf.c"
#include "api.h"
#include "unit.h"

/* The stub resolver: a few names with fixed answers, no network. */
static int stub_calls;

static int
stub_resolve(const char *host, struct sockaddr_storage *out, size_t max, size_t *n)
{
	static const struct {
		const char *host, *addrs[3];
	} zone[] = {
		{ "public.example", { "93.184.216.34", NULL } },
		{ "internal.example", { "10.0.0.1", NULL } },
		{ "mixed.example", { "192.168.1.10", "2606:2800:220:1::1", NULL } },
		{ "mapped.example", { "::ffff:127.0.0.1", NULL } },
		{ "v6local.example", { "fd12:3456::1", "fe80::1", NULL } },
		{ "metadata.example", { "169.254.169.254", NULL } },
		{ "cgnat.example", { "100.64.0.1", NULL } },
		{ "localhost", { "127.0.0.1", "::1", NULL } },
	};

	stub_calls++;
	*n = 0;
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcmp(zone[i].host, host) != 0)
			continue;
		for (size_t k = 0; zone[i].addrs[k] != NULL && *n < max; k++) {
			struct sockaddr_in *v4 = (struct sockaddr_in *)&out[*n];
			struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out[*n];

			memset(&out[*n], 0, sizeof(out[0]));
			if (inet_pton(AF_INET, zone[i].addrs[k], &v4->sin_addr) == 1)
				v4->sin_family = AF_INET;
			else if (inet_pton(AF_INET6, zone[i].addrs[k], &v6->sin6_addr) == 1)
				v6->sin6_family = AF_INET6;
			(*n)++;
		}
		return 0;
	}
	return EAI_NONAME;
}

static int
resolves(const char *url, const char *allow, struct ssrf_target *t, char *err, size_t errlen)
{
	return ssrf_target_resolve(url, allow, stub_resolve, t, err, errlen);
}

static int
blocked(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	return ssrf_addr_blocked((struct sockaddr *)&ss);
}

static void
test_ranges(void)
{
	static const char *const refused[] = { "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1",
		"172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1", "100.127.255.255",
		"0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
		"::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
		"::127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1", "fc00::1", "fd12:3456::1",
		"fe80::1", "febf::1", "fec0::1", "ff02::1", "2001:db8::1" };
	static const char *const allowed[] = { "93.184.216.34", "8.8.8.8", "172.32.0.1",
		"100.128.0.1", "192.169.0.1", "2606:2800:220:1::1", "::ffff:93.184.216.34",
		"2a00:1450:4001::1" };

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (!blocked(refused[i]))
			printf("#   %s is not refused\n", refused[i]);
		CHECK(blocked(refused[i]));
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (blocked(allowed[i]))
			printf("#   %s is refused\n", allowed[i]);
		CHECK(!blocked(allowed[i]));
	}
}

static void
test_url_form(void)
{
	char err[160];

	CHECK(ssrf_url_check("https://public.example/hooks", "", err, sizeof(err)) == 0);
	CHECK(ssrf_url_check("https://public.example:8443/h?x=1", "", err, sizeof(err)) == 0);
	/* http:// to a public host: refused unless the host is allowed. */
	CHECK(ssrf_url_check("http://public.example/hooks", "", err, sizeof(err)) < 0);
	CHECK(strstr(err, "https://") != NULL);
	CHECK(ssrf_url_check("http://public.example/hooks", "127.0.0.1", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("http://127.0.0.1:9/hooks", "127.0.0.1", err, sizeof(err)) == 0);
	CHECK(ssrf_url_check(
	          "http://127.0.0.1:9/", " other.example , 127.0.0.1", err, sizeof(err)) == 0);
	/* Literal private addresses are refused without any look-up. */
	CHECK(ssrf_url_check("https://127.0.0.1/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://10.0.0.1/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://[::1]/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://[::ffff:127.0.0.1]/", "127.0.0.1", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("http://[::ffff:127.0.0.1]:9/", "127.0.0.1", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://[fe80::1%25eth0]/", "", err, sizeof(err)) < 0);
	/* Other spellings of 127.0.0.1 are the address libcurl would connect to. */
	CHECK(ssrf_url_check("https://2130706433/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://0x7f.1/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://0177.0.0.1/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://127.1/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://[::ffff:7f00:1]/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("https://user:pw@public.example/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("ftp://public.example/", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("file:///etc/passwd", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("gopher://127.0.0.1/", "127.0.0.1", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("public.example/hooks", "", err, sizeof(err)) < 0);
	CHECK(ssrf_url_check("", "", err, sizeof(err)) < 0);
	/* A name is not looked up here: that happens at every attempt. */
	stub_calls = 0;
	CHECK(ssrf_url_check("https://internal.example/", "", err, sizeof(err)) == 0);
	CHECK(stub_calls == 0);
}

static void
test_resolve(void)
{
	struct ssrf_target t;
	char err[160];

	CHECK(resolves("https://public.example/hooks", "", &t, err, sizeof(err)) == 0);
	CHECK(strcmp(t.addr, "93.184.216.34") == 0 && t.port == 443);
	CHECK(strcmp(t.host, "public.example") == 0);
	CHECK(((struct sockaddr_in *)&t.sa)->sin_port == htons(443));
	/* A name resolving to 10.0.0.1 is refused, and the address stays out of
	 * the sentence (it would map the private network). */
	CHECK(resolves("https://internal.example/", "", &t, err, sizeof(err)) < 0);
	CHECK(strstr(err, "refused") != NULL && strstr(err, "10.0.0.1") == NULL);
	CHECK(resolves("http://public.example/", "", &t, err, sizeof(err)) < 0);
	CHECK(resolves("https://mapped.example/", "", &t, err, sizeof(err)) < 0);
	CHECK(resolves("https://v6local.example/", "", &t, err, sizeof(err)) < 0);
	CHECK(resolves("https://metadata.example/", "", &t, err, sizeof(err)) < 0);
	CHECK(resolves("https://cgnat.example/", "", &t, err, sizeof(err)) < 0);
	CHECK(resolves("https://localhost:8443/", "", &t, err, sizeof(err)) < 0);
	CHECK(resolves("https://nowhere.example/", "", &t, err, sizeof(err)) < 0);
	CHECK(strstr(err, "cannot resolve") != NULL);
	/* Of a private and a public address, the public one is the one pinned. */
	CHECK(resolves("https://mixed.example:8443/", "", &t, err, sizeof(err)) == 0);
	CHECK(strcmp(t.addr, "2606:2800:220:1::1") == 0 && t.sa.ss_family == AF_INET6);
	CHECK(((struct sockaddr_in6 *)&t.sa)->sin6_port == htons(8443));
	/* An allowed host may be anywhere, over http:// too. */
	CHECK(resolves("http://localhost:9/x", "localhost", &t, err, sizeof(err)) == 0);
	CHECK(strcmp(t.addr, "127.0.0.1") == 0 && t.port == 9);
	CHECK(resolves("http://127.0.0.1:9/x", "127.0.0.1", &t, err, sizeof(err)) == 0);
	CHECK(strcmp(t.addr, "127.0.0.1") == 0);
	CHECK(resolves("https://[::ffff:127.0.0.1]:9/", "127.0.0.1", &t, err, sizeof(err)) < 0);
	CHECK(resolves("https://127.0.0.1:9/", "", &t, err, sizeof(err)) < 0);
}

static void
test_seal(void)
{
	char sealed[512], out[128], tampered[512];

	snprintf(cfg.jwt_secret, sizeof(cfg.jwt_secret), "%s", "unit-secret-0123456789abcdef0123");
	cfg.jwt_secret_len = strlen(cfg.jwt_secret);
	CHECK(webhook_secret_seal("whk_a", "whsec_0123abcd", sealed, sizeof(sealed)) == 0);
	CHECK(strstr(sealed, "whsec") == NULL);
	CHECK(webhook_secret_open("whk_a", sealed, out, sizeof(out)) == 0);
	CHECK(strcmp(out, "whsec_0123abcd") == 0);
	/* Another webhook's row, a changed byte, another server secret: refused. */
	CHECK(webhook_secret_open("whk_b", sealed, out, sizeof(out)) < 0 && *out == '\0');
	snprintf(tampered, sizeof(tampered), "%s", sealed);
	tampered[30] = tampered[30] == 'a' ? 'b' : 'a';
	CHECK(webhook_secret_open("whk_a", tampered, out, sizeof(out)) < 0);
	CHECK(webhook_secret_open("whk_a", "zz", out, sizeof(out)) < 0);
	snprintf(cfg.jwt_secret, sizeof(cfg.jwt_secret), "%s", "another-secret-0123456789abcdef0");
	cfg.jwt_secret_len = strlen(cfg.jwt_secret);
	CHECK(webhook_secret_open("whk_a", sealed, out, sizeof(out)) < 0);
}

int
main(void)
{
	TEST(test_ranges);
	TEST(test_url_form);
	TEST(test_resolve);
	TEST(test_seal);
	return unit_done();
}
