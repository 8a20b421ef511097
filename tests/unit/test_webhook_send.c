/* test_webhook_send.c: the sender's pieces that need no network: the
 * signature (a vector made with `openssl dgst -hmac`), the backoff's bounds,
 * and the socket opener that refuses any address but the one checked. */
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "../../src/webhook_send.c"
#include "unit.h"

static void
test_signature(void)
{
	char sig[160];

	/* printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test */
	CHECK(signature("whsec_test", "{\"a\":1}", 1700000000, sig, sizeof(sig)) == 0);
	CHECK(strcmp(sig,
	          "Tollgate-Signature: t=1700000000,v1="
	          "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789") == 0);
}

static void
test_backoff(void)
{
	cfg.webhook_backoff_base = 30;
	for (int i = 0; i < 200; i++) {
		int64_t d1 = backoff(1), d3 = backoff(3), d40 = backoff(40);

		CHECK(d1 >= 15 && d1 <= 30);
		CHECK(d3 >= 60 && d3 <= 120);
		CHECK(d40 >= BACKOFF_MAX / 2 && d40 <= BACKOFF_MAX);
	}
	cfg.webhook_backoff_base = 1;
	CHECK(backoff(1) == 1);
	CHECK(backoff(2) >= 1 && backoff(2) <= 2);
}

static void
endpoint(struct sockaddr_storage *ss, const char *addr, int port)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
	}
}

/* What open_checked answers when libcurl asks for addr:port (a socket is
 * made, never connected, and closed). */
static int
opens(const struct ssrf_target *t, const char *addr, int port)
{
	/* libcurl's struct curl_sockaddr ends in a struct sockaddr that the
	 * address overruns for IPv6: libcurl allocates room for any address. */
	union {
		struct curl_sockaddr a;
		char room[sizeof(struct curl_sockaddr) + sizeof(struct sockaddr_storage)];
	} u;
	struct curl_sockaddr *a = &u.a;
	struct sockaddr_storage ss;
	curl_socket_t s;

	endpoint(&ss, addr, port);
	memset(&u, 0, sizeof(u));
	a->family = ss.ss_family;
	a->socktype = SOCK_STREAM;
	a->protocol = 0;
	a->addrlen =
	    ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	memcpy((char *)a + offsetof(struct curl_sockaddr, addr), &ss, a->addrlen);
	s = open_checked((void *)t, CURLSOCKTYPE_IPCXN, a);
	if (s == CURL_SOCKET_BAD)
		return 0;
	close(s);
	return 1;
}

static void
test_open_checked(void)
{
	struct ssrf_target t;

	memset(&t, 0, sizeof(t));
	endpoint(&t.sa, "93.184.216.34", 443);
	t.salen = sizeof(struct sockaddr_in);
	CHECK(opens(&t, "93.184.216.34", 443));
	/* Another address (a second, rebound look-up) or port: refused. */
	CHECK(!opens(&t, "10.0.0.1", 443));
	CHECK(!opens(&t, "127.0.0.1", 443));
	CHECK(!opens(&t, "93.184.216.34", 80));
	CHECK(!opens(&t, "::ffff:93.184.216.34", 443));
	endpoint(&t.sa, "2606:2800:220:1::1", 8443);
	t.salen = sizeof(struct sockaddr_in6);
	CHECK(opens(&t, "2606:2800:220:1::1", 8443));
	CHECK(!opens(&t, "::1", 8443));
	CHECK(!opens(&t, "93.184.216.34", 8443));
}

int
main(void)
{
	TEST(test_signature);
	TEST(test_backoff);
	TEST(test_open_checked);
	return unit_done();
}
