/* ssrf.c: where a webhook may send. A URL is parsed by libcurl's own parser
 * (so what is checked is what libcurl connects to), must be https:// (or
 * http:// to a host of TOLLGATE_WEBHOOK_ALLOW_HOSTS), and its host's address
 * must be public unless the host is allowed; the sender then connects to
 * exactly that address (webhook_send.c), so a second look-up cannot swap it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "ssrf.h"

int
ssrf_resolve_system(const char *host, struct sockaddr_storage *out, size_t max, size_t *n)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	*n = 0;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0)
		return rc;
	for (struct addrinfo *a = res; a != NULL && *n < max; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    a->ai_addrlen > sizeof(out[0]))
			continue;
		memset(&out[*n], 0, sizeof(out[0]));
		memcpy(&out[(*n)++], a->ai_addr, a->ai_addrlen);
	}
	freeaddrinfo(res);
	return 0;
}

/* Whether host is one of allow's comma-separated names (case aside). */
static int
host_allowed(const char *host, const char *allow)
{
	size_t hlen = strlen(host);

	while (allow != NULL && *allow != '\0') {
		const char *end = strchr(allow, ',');
		size_t len = end != NULL ? (size_t)(end - allow) : strlen(allow);
		const char *s = allow;

		while (len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
			s++;
			len -= 2;
		}
		if (len > 0 && len == hlen && strncasecmp(s, host, len) == 0)
			return 1;
		allow = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

static int
v4_blocked(uint32_t a)
{
	static const struct {
		uint32_t net, mask;
	} blocked[] = {
		{ 0x00000000u, 0xff000000u }, /* 0.0.0.0/8 "this network" */
		{ 0x0a000000u, 0xff000000u }, /* 10.0.0.0/8 private */
		{ 0x64400000u, 0xffc00000u }, /* 100.64.0.0/10 CGNAT */
		{ 0x7f000000u, 0xff000000u }, /* 127.0.0.0/8 loopback */
		{ 0xa9fe0000u, 0xffff0000u }, /* 169.254.0.0/16 link-local */
		{ 0xac100000u, 0xfff00000u }, /* 172.16.0.0/12 private */
		{ 0xc0000000u, 0xffffff00u }, /* 192.0.0.0/24 protocol assignments */
		{ 0xc0000200u, 0xffffff00u }, /* 192.0.2.0/24 documentation */
		{ 0xc0a80000u, 0xffff0000u }, /* 192.168.0.0/16 private */
		{ 0xc6120000u, 0xfffe0000u }, /* 198.18.0.0/15 benchmarking */
		{ 0xc6336400u, 0xffffff00u }, /* 198.51.100.0/24 documentation */
		{ 0xcb007100u, 0xffffff00u }, /* 203.0.113.0/24 documentation */
		{ 0xe0000000u, 0xf0000000u }, /* 224.0.0.0/4 multicast */
		{ 0xf0000000u, 0xf0000000u }, /* 240.0.0.0/4 reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		if ((a & blocked[i].mask) == blocked[i].net)
			return 1;
	return 0;
}

static uint32_t
v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
v6_blocked(const unsigned char *a)
{
	static const unsigned char zero[12] = { 0 };
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

	/* ::/96 (unspecified, loopback, IPv4-compatible), ::ffff:0:0/96
	 * (IPv4-mapped) and 64:ff9b::/96 (NAT64) carry an IPv4 address: its
	 * ranges decide (:: and ::1 fall in 0.0.0.0/8). */
	if (memcmp(a, zero, 12) == 0 || memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_blocked(v4_at(a + 12));
	if (a[0] == 0x20 && a[1] == 0x02) /* 2002::/16 6to4: the IPv4 address after it */
		return v4_blocked(v4_at(a + 2));
	if ((a[0] & 0xfe) == 0xfc) /* fc00::/7 unique-local */
		return 1;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
		return 1;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) /* fec0::/10 site-local (deprecated) */
		return 1;
	if (a[0] == 0xff) /* ff00::/8 multicast */
		return 1;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) /* 2001:db8::/32 */
		return 1;
	if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0) /* 100::/64 discard */
		return 1;
	return 0;
}

/* The family of the address at sa, copied out rather than read through a
 * cast: callers fill a sockaddr_storage as one type and pass it as another,
 * reads the optimiser may move before the writes (strict aliasing). */
static sa_family_t
family_of(const void *sa)
{
	sa_family_t family;

	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof(family));
	return family;
}

int
ssrf_addr_blocked(const struct sockaddr *sa)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	sa_family_t family = family_of(sa);

	if (family == AF_INET) {
		memcpy(&v4, sa, sizeof(v4));
		return v4_blocked(ntohl(v4.sin_addr.s_addr));
	}
	if (family == AF_INET6) {
		memcpy(&v6, sa, sizeof(v6));
		return v6_blocked(v6.sin6_addr.s6_addr);
	}
	return 1; /* not an internet address at all */
}

/* Parses url into t (url, host, port) and checks its scheme and form; with
 * the host's allowed flag in *allowed. 0, or -1 with err. */
static int
url_parse(const char *url, const char *allow, struct ssrf_target *t, int *allowed, char *err,
    size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL, *norm = NULL;
	int rc = -1;
	size_t len;

	memset(t, 0, sizeof(*t));
	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strlen(url) > WEBHOOK_URL_MAX ||
	    curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || *host == '\0') {
		snprintf(err, errlen, "must be an absolute URL like https://example.com/hooks");
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	if (user != NULL || pass != NULL) {
		snprintf(err, errlen, "must not carry a user name or password");
		goto out;
	}
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		snprintf(t->host, sizeof(t->host), "%.*s", (int)(len - 2), host + 1);
	else
		snprintf(t->host, sizeof(t->host), "%s", host);
	/* An IPv6 zone ("fe80::1%eth0") names an interface: never. */
	if (strchr(t->host, '%') != NULL) {
		snprintf(err, errlen, "must not name a network interface");
		goto out;
	}
	*allowed = host_allowed(t->host, allow);
	if (strcasecmp(scheme, "https") != 0 && !(strcasecmp(scheme, "http") == 0 && *allowed)) {
		snprintf(err, errlen, "must be an https:// URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    (t->port = atoi(port)) <= 0 || t->port > 65535) {
		snprintf(err, errlen, "must have a port from 1 to 65535");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &norm, 0) != CURLUE_OK ||
	    strlen(norm) >= sizeof(t->url)) {
		snprintf(err, errlen, "must be an absolute URL like https://example.com/hooks");
		goto out;
	}
	snprintf(t->url, sizeof(t->url), "%s", norm);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(pass);
	curl_free(norm);
	curl_url_cleanup(u);
	return rc;
}

/* Fills t->sa from a numeric host; 1 if it is one, else 0. */
static int
literal_addr(struct ssrf_target *t)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&t->sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->sa;

	memset(&t->sa, 0, sizeof(t->sa));
	if (inet_pton(AF_INET, t->host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)t->port);
		t->salen = sizeof(*v4);
	} else if (inet_pton(AF_INET6, t->host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)t->port);
		t->salen = sizeof(*v6);
	} else
		return 0;
	snprintf(t->addr, sizeof(t->addr), "%.63s", t->host);
	return 1;
}

int
ssrf_url_check(const char *url, const char *allow, char *err, size_t errlen)
{
	struct ssrf_target t;
	int allowed;

	if (url_parse(url, allow, &t, &allowed, err, errlen) < 0)
		return -1;
	if (!allowed && literal_addr(&t) && ssrf_addr_blocked((struct sockaddr *)&t.sa)) {
		snprintf(err, errlen, "must not name a private, loopback or reserved address");
		return SSRF_PRIVATE;
	}
	return 0;
}

int
ssrf_target_resolve(const char *url, const char *allow, ssrf_resolve_fn *resolve,
    struct ssrf_target *t, char *err, size_t errlen)
{
	struct sockaddr_storage addrs[SSRF_ADDRS_MAX];
	char first[64] = "";
	size_t n = 0;
	int allowed, rc;

	if (url_parse(url, allow, t, &allowed, err, errlen) < 0)
		return -1;
	if (literal_addr(t)) {
		if (!allowed && ssrf_addr_blocked((struct sockaddr *)&t->sa)) {
			snprintf(err, errlen,
			    "refused: %s is a private, loopback or reserved address", t->addr);
			return -1;
		}
		return 0;
	}
	if ((rc = resolve(t->host, addrs, SSRF_ADDRS_MAX, &n)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", t->host, gai_strerror(rc));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct sockaddr *sa = (struct sockaddr *)&addrs[i];
		sa_family_t family = family_of(sa);
		char text[64];

		if (family != AF_INET && family != AF_INET6)
			continue;
		inet_ntop(family,
		    family == AF_INET ? (void *)&((struct sockaddr_in *)sa)->sin_addr
		                      : (void *)&((struct sockaddr_in6 *)sa)->sin6_addr,
		    text, sizeof(text));
		if (!allowed && ssrf_addr_blocked(sa)) {
			if (*first == '\0')
				snprintf(first, sizeof(first), "%s", text);
			continue;
		}
		t->sa = addrs[i];
		if (family == AF_INET) {
			((struct sockaddr_in *)&t->sa)->sin_port = htons((uint16_t)t->port);
			t->salen = sizeof(struct sockaddr_in);
		} else {
			((struct sockaddr_in6 *)&t->sa)->sin6_port = htons((uint16_t)t->port);
			t->salen = sizeof(struct sockaddr_in6);
		}
		snprintf(t->addr, sizeof(t->addr), "%s", text);
		return 0;
	}
	/* The address itself stays out: it would map the private network. */
	if (*first != '\0')
		snprintf(err, errlen,
		    "refused: %s resolves to a private, loopback or reserved address", t->host);
	else
		snprintf(err, errlen, "cannot resolve %s to an internet address", t->host);
	return -1;
}
